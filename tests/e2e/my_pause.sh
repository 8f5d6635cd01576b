#!/bin/sh
# my_pause - issue 13: a person pauses their own agents from the web page.
# With the page's session cookie (POST /v1/session with the person's token,
# then POST /v1/my/pause with X-CSRF-Token), a real recorder on the
# person's enrolled device stops capture through its control long poll and
# acknowledges (GET /v1/my/pause: acknowledged); status says "paused by
# you until" (also after a restart with the server unreachable) and a
# local resume does not lift it; the organisation is not
# paused (admin pause-status); keys typed meanwhile are nowhere; POST
# /v1/my/resume -> it records again.  Read back with `my show --raw`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"

enrolled_editor
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$HOME_A/login.json")
# page METHOD PATH [BODY]: the page's call with its cookie; status printed.
page() {
	rm -f "$E2E_TMP/body"
	curl -sk -m 30 --pinnedpubkey "$SRV_PIN" -o "$E2E_TMP/body" -w '%{http_code}' -X "$1" \
		-H "Cookie: ut_session=$SID" -H "X-CSRF-Token: $CSRF" -H "Usetrace-Purpose: self-access" \
		-H "Sec-Fetch-Site: same-origin" -H "Content-Type: application/json" \
		${3:+-d "$3"} "$SRV_URL$2"
}
curl -sk -m 30 --pinnedpubkey "$SRV_PIN" -D "$E2E_TMP/hdr" -o "$E2E_TMP/body" \
	-H "Content-Type: application/json" -d "{\"token\":\"$TOKEN\"}" "$SRV_URL/v1/session" ||
	fail "sign-in"
SID=$(tr -d '\r' <"$E2E_TMP/hdr" | sed -n 's/^[Ss]et-[Cc]ookie: ut_session=\([^;]*\);.*/\1/p')
CSRF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf"])' "$E2E_TMP/body")
[ -n "$SID" ] && [ -n "$CSRF" ] || fail "no session"

start_record "$E2E_TMP/rec"
wait_status "^recording" "not recording at start"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3

[ "$(page POST /v1/my/pause '{"duration_s": 600}')" = 200 ] || { cat "$E2E_TMP/body"; fail "my/pause"; }
wait_status "^paused" "the person's pause did not reach the agent"
# Whose pause: the person's own, not the organisation's (status, JSON).
grep -q "^paused by you until" "$E2E_TMP/st" || { cat "$E2E_TMP/st"; fail "status does not say paused by you"; }
"$USETRACE" status --json >"$E2E_TMP/st.json" || fail "status --json"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["paused_by"] == "you" and d["why"].startswith("paused by you until") else 1)' "$E2E_TMP/st.json" ||
	{ cat "$E2E_TMP/st.json"; fail "status --json does not name the person's own pause"; }
# A local resume does not lift it, and says where to.
"$USETRACE" resume >"$E2E_TMP/resume.out" 2>&1 && fail "a local resume ended the page's pause"
grep -q "paused by you on your web page" "$E2E_TMP/resume.out" || { cat "$E2E_TMP/resume.out"; fail "resume refusal"; }
i=0
until [ "$(page GET /v1/my/pause)" = 200 ] && python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["paused"] and d["devices"] and all(x["acknowledged"] and x["paused"] for x in d["devices"]) else 1)' "$E2E_TMP/body"; do
	i=$((i + 1)); [ $i -gt 300 ] && { cat "$E2E_TMP/body"; fail "the agent did not acknowledge the pause"; }
	sleep 0.1
done
as_admin admin pause-status >"$E2E_TMP/ps" || fail "pause-status"
grep -q "^paused no" "$E2E_TMP/ps" || { cat "$E2E_TMP/ps"; fail "the organisation is paused"; }
xdo windowactivate --sync "$MP"
xdo type --delay 15 "during "
sleep 0.5

[ "$(page POST /v1/my/resume '{}')" = 200 ] || { cat "$E2E_TMP/body"; fail "my/resume"; }
wait_status "^recording" "the agent did not record again after the resume"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after"
sleep 0.5
stop_record

"$USETRACE" upload "$E2E_TMP/rec" >"$E2E_TMP/upload.out" || { cat "$E2E_TMP/upload.out"; fail "upload"; }
: >"$E2E_TMP/raw.jsonl"
for s in $(my_segments "$HOME_A"); do
	"$USETRACE" my show "$s" --raw >>"$E2E_TMP/raw.jsonl" || fail "my show --raw"
done
python3 - "$E2E_TMP/raw.jsonl" <<'PY'
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)
raw.sort(key=lambda r: r["wall_ns"])
text = "".join(r["text"] for r in raw if r["type"] == "key" and r["down"])
check(text == "before after", "recorded text %r" % text)
p = [r for r in raw if r["type"] == "pause"]
check(p, "no pause record")
q = [r for r in raw if r["type"] == "resume" and r["wall_ns"] > p[0]["wall_ns"]]
check(q, "no resume record after the pause")
inside = [r for r in raw if p[0]["wall_ns"] < r["wall_ns"] < q[0]["wall_ns"]]
check(not inside, "records inside the pause: %r" % inside[:3])
PY

# A recorder started during the person's pause starts "paused by you",
# also when the server does not answer then (the last known state, kept
# in control.json).
[ "$(page POST /v1/my/pause '{"duration_s": 600}')" = 200 ] || { cat "$E2E_TMP/body"; fail "second my/pause"; }
start_record "$E2E_TMP/rec2" --no-wait
wait_status "^paused by you until" "a recorder started during the person's pause"
stop_record
kill -STOP "$SRV_PID"
start_record "$E2E_TMP/rec2" --no-wait --no-upload
wait_status "^paused by you until" "the last known pause is not the person's own with the server unreachable"
stop_record
kill -CONT "$SRV_PID"
stop_server
echo "my_pause ok"
