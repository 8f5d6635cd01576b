#!/bin/sh
# agent_org_pause - issue 15: an organisation-wide pause reaches a real
# recorder on an enrolled device through its control long-poll.  `usetrace
# admin pause` -> the agent stops capture (status: "paused by organisation
# until T"; the person cannot resume it) and acknowledges (pause-status
# acks 1/1); keys typed meanwhile are nowhere; `admin resume` -> it records
# again.  A recorder started during a pause starts paused, also when the
# server does not answer then (the last known state).  A device
# revoked at the server stops recording.  Read back from
# the server with `my show`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"

# Up to ~90 s: after the server was frozen earlier in this test the control
# thread may be in its reconnect backoff (up to 60 s) when a state changes.
WAIT_STATUS_MAX=900

enrolled_editor
start_record "$E2E_TMP/rec"
wait_status "^recording" "not recording at start"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3

as_admin admin pause 10m >"$E2E_TMP/pause.out" || fail "admin pause"
wait_status "^paused by organisation until" "the organisation's pause did not reach the agent"
# Whose pause, in the status reply the indicator reads too.
"$USETRACE" status --json >"$E2E_TMP/st.json" || fail "status --json"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["paused_by"] == "organisation" and d["why"].startswith("paused by organisation until") else 1)' "$E2E_TMP/st.json" ||
	{ cat "$E2E_TMP/st.json"; fail "status --json does not name the organisation's pause"; }
i=0
until as_admin admin pause-status >"$E2E_TMP/ps" && grep -q "^acks 1/1" "$E2E_TMP/ps"; do
	i=$((i + 1)); [ $i -gt 300 ] && { cat "$E2E_TMP/ps"; fail "the agent did not acknowledge the pause"; }
	sleep 0.1
done
grep -q "^paused yes" "$E2E_TMP/ps" || { cat "$E2E_TMP/ps"; fail "pause-status"; }
# The person's own resume does not end the organisation's pause.
"$USETRACE" resume >"$E2E_TMP/resume.out" 2>&1 && fail "the person's resume ended the organisation's pause"
grep -q "paused by your organisation" "$E2E_TMP/resume.out" || { cat "$E2E_TMP/resume.out"; fail "resume refusal"; }
"$USETRACE" status | grep -q "^paused by organisation" || fail "still paused after the person's resume"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "during "
xdo mousemove 700 300 click 1
sleep 0.5

as_admin admin resume >/dev/null || fail "admin resume"
wait_status "^recording" "the agent did not record again after the resume"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after "
sleep 0.5
stop_record

# A recorder started while the organisation pauses starts paused.
as_admin admin pause 10m >/dev/null || fail "second admin pause"
start_record "$E2E_TMP/rec" --no-wait
wait_status "^paused by organisation until" "a recorder started during a pause did not start paused"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "while-starting "
sleep 0.3
stop_record
# The server not answering at start (stopped, so the connection hangs):
# the last known state applies, and status says so.
kill -STOP "$SRV_PID"
start_record "$E2E_TMP/rec" --no-wait --no-upload
wait_status "^paused by organisation until" "the last known pause did not apply with the server unreachable"
grep -q "^server control: the server did not answer at start" "$E2E_TMP/st" ||
	{ cat "$E2E_TMP/st"; fail "status does not say the last known control state applies"; }
stop_record
kill -CONT "$SRV_PID"
start_record "$E2E_TMP/rec" --no-wait
wait_status "^paused by organisation until" "the third recorder did not start paused"
grep -q "^server control:" "$E2E_TMP/st" && { cat "$E2E_TMP/st"; fail "a stale note about the server"; }
as_admin admin resume >/dev/null || fail "second admin resume"
wait_status "^recording" "the second recorder did not record after the resume"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "end"
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
check(text == "before after end", "recorded text %r" % text)
p = [r for r in raw if r["type"] == "pause"]
check(p and all(r["sensitivity"] == 1 for r in p), "pause records carry no content")
t0 = p[0]["wall_ns"]
q = [r for r in raw if r["type"] == "resume" and r["wall_ns"] > t0]
check(q, "no resume record after the pause")
inside = [r for r in raw if t0 < r["wall_ns"] < q[0]["wall_ns"]]
check(not inside, "records inside the pause: %r" % inside[:3])
PY
# The device revoked at the server: the running recorder stops, saying so.
start_record "$E2E_TMP/rec"
"$USETRACE" my device-revoke 1 >/dev/null || fail "my device-revoke"
wait_status "^not recording: this device was revoked" "a revoked device's recorder did not stop"
stop_record

stop_server
echo "agent_org_pause ok"
