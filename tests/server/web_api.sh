#!/bin/sh
# web_api - the routes the web page uses beyond the CLI's (issue 13,
# docs/WEB.md, docs/API.md), against a real server with curl:
#  - GET /v1/my/days: one entry per day with exactly the person's
#    segments, the actions and frames of their summaries, applications
#    with active time, redactions by type; nobody else's segments;
#  - POST /v1/my/pause | resume, GET /v1/my/pause: the person's devices'
#    control poll carries my_pause (a parked poll is woken), the
#    organisation's pause state is untouched, another person's device does
#    not see it; an ack shows as acknowledged; a pause may be cut short;
#  - GET /v1/my/consent: the policy in force and the person's consents;
#  - GET /v1/admin/devices, /v1/admin/policies/{v}/diff,
#    /v1/admin/assignments: no recorded content, the diff of a changed
#    retention, 404 for no such version;
#  - GET /v1/audit/verify: ok, then a row edited in the database is named;
#  - each route refuses the other roles and is in the audit log; the page's
#    cookie works on them as Bearer does (CSRF on the pause).
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"
command -v curl >/dev/null || fail "curl is required"

# api TOKEN PURPOSE METHOD PATH [BODY]: status printed, body in $T/body.
api() {
	rm -f "$T/body"
	if [ -n "${5:-}" ]; then
		curl -sk -m 70 --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
			-X "$3" -H "Authorization: Bearer $1" -H "Usetrace-Purpose: $2" \
			-H "Content-Type: application/json" -d "$5" "$SRV_URL$4"
	else
		curl -sk -m 70 --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
			-X "$3" -H "Authorization: Bearer $1" -H "Usetrace-Purpose: $2" "$SRV_URL$4"
	fi
}
# jq_ FILE EXPR: a Python expression over the JSON document d.
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
tok() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
login_as rita reviewer "$T/rita"
login_as carol auditor "$T/carol"
ALICE=$(tok "$T/alice/login.json" token)
BOB=$(tok "$T/bob/login.json" token)
CAROL=$(tok "$T/carol/login.json" token)
RITA=$(tok "$T/rita/login.json" token)
ADEV=$(tok "$T/adev/device.json" device_token)
BDEV=$(tok "$T/bdev/device.json" device_token)
MARK="QZV-web-api-phrase-3318"
# Two days the server hands ingest keys for: yesterday and today (UTC).
DAY1=$(date -u -d yesterday +%Y-%m-%d)
DAY2=$(date -u +%Y-%m-%d)
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 2 --seed 1 \
	--marker "$MARK" --start ${DAY1}T10:00:00Z
expect_out "^uploaded 2" as "$T/adev" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec2" --segments 1 --seed 4 \
	--start ${DAY2}T00:01:00Z
expect_out "^uploaded 1" as "$T/adev" upload "$T/arec2"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 2 \
	--start ${DAY1}T11:00:00Z
expect_out "^uploaded 1" as "$T/bdev" upload "$T/brec"
B1=$(listed_ids "$T/bob")

# --- GET /v1/my/days against `my list --json`.
[ "$(api "$ALICE" self-access GET /v1/my/days)" = 200 ] || { cat "$T/body" >&2; fail "my/days"; }
cp "$T/body" "$T/days.json"
expect 0 "" as "$T/alice" my list --json
python3 - "$T/days.json" "$T/out" "$B1" "$MARK" "$DAY2" "$DAY1" <<'PY' || fail "my/days does not match my list"
import json, sys
days = json.load(open(sys.argv[1]))["days"]
segs = json.load(open(sys.argv[2]))["segments"]
raw = open(sys.argv[1]).read()
assert sys.argv[3] not in raw, "bob's segment in alice's days"
assert sys.argv[4] not in raw, "recorded text in the days"
assert [d["day"] for d in days] == sys.argv[5:7], [d["day"] for d in days]
for d in days:
    mine = [s for s in segs if s["day"] == d["day"]]
    assert sorted(d["segments"]) == sorted(s["id"] for s in mine), d
    assert d["actions"] == sum(s["summary"]["actions"] for s in mine), d
    assert d["frames"] == sum(s["summary"]["frames"] for s in mine), d
    assert d["active_s"] > 0 and d["apps"], d
    assert all(a["active_s"] >= 0 and a["app"] for a in d["apps"]), d
    assert abs(sum(a["active_s"] for a in d["apps"]) - d["active_s"]) <= len(d["apps"]), d
    assert sum(d["redactions"].values()) == sum(s["summary"]["redactions"] for s in mine), d
    assert isinstance(d["blacked_frames"], int)
    for s in mine:
        assert s["summary"]["active_ms"] > 0
        assert len(s["summary"]["app_active_ms"]) == len(s["summary"]["apps"])
print("days ok")
PY
[ "$(api "$BOB" self-access GET /v1/my/days)" = 200 ] || fail "bob's days"
[ "$(jq_ "$T/body" '[x["segments"] for x in d["days"]] == [["'"$B1"'"]]')" = True ] ||
	{ cat "$T/body" >&2; fail "bob's days are not his one segment"; }

# --- The person's pause.
dev() { # TOKEN PATH: a device's GET; status printed, body in ${OUT:-$T/body}
	rm -f "${OUT:-$T/body}"
	curl -sk -m 70 --pinnedpubkey "$SRV_PIN" -o "${OUT:-$T/body}" -w '%{http_code}' \
		-H "Authorization: Bearer $1" -H "Usetrace-Purpose: ingest" "$SRV_URL$2"
}
[ "$(dev "$ADEV" /v1/device/control)" = 200 ] || fail "control"
V=$(jq_ "$T/body" 'd["state_version"]')
[ "$(jq_ "$T/body" 'd["my_pause"]["paused"], d["org_pause"]["paused"]')" = "False False" ] ||
	{ cat "$T/body" >&2; fail "the first state"; }
[ "$(api "$ALICE" self-access GET /v1/my/pause)" = 200 ] || fail "my/pause status"
[ "$(jq_ "$T/body" 'd["paused"], len(d["devices"])')" = "False 1" ] || { cat "$T/body" >&2; fail "status before"; }
# A parked poll of alice's device is woken by her pause.
OUT="$T/poll.json" dev "$ADEV" "/v1/device/control?since=$V&wait=60" >"$T/poll.status" &
POLL=$!
sleep 1
[ "$(api "$ALICE" self-access POST /v1/my/pause '{"duration_s": 600}')" = 200 ] ||
	{ cat "$T/body" >&2; fail "my/pause"; }
[ "$(jq_ "$T/body" 'd["paused"]')" = True ] || fail "pause answer"
wait "$POLL" || fail "the parked poll failed"
[ "$(cat "$T/poll.status")" = 200 ] || fail "the parked poll: $(cat "$T/poll.status")"
[ "$(jq_ "$T/poll.json" 'd["state_version"] > '"$V"', d["my_pause"]["paused"], d["org_pause"]["paused"], d["my_pause"]["until_ns"] > d["my_pause"]["since_ns"]')" = \
	"True True False True" ] || { cat "$T/poll.json" >&2; fail "alice's device after her pause"; }
V2=$(jq_ "$T/poll.json" 'd["state_version"]')
# Another person's device does not see it; the organisation is not paused.
[ "$(dev "$BDEV" /v1/device/control)" = 200 ] || fail "bob's control"
[ "$(jq_ "$T/body" 'd["my_pause"]["paused"], d["org_pause"]["paused"]')" = "False False" ] ||
	{ cat "$T/body" >&2; fail "bob's device sees alice's pause"; }
expect_out "^paused no$" as_admin "$USETRACE" admin pause-status
[ "$(api "$BOB" self-access GET /v1/my/pause)" = 200 ] || fail "bob's status"
[ "$(jq_ "$T/body" 'd["paused"]')" = False ] || fail "bob is paused"
# The ack shows which devices applied it.
[ "$(api "$ALICE" self-access GET /v1/my/pause)" = 200 ] || fail "my/pause status"
[ "$(jq_ "$T/body" 'd["paused"], d["devices"][0]["acknowledged"]')" = "True False" ] ||
	{ cat "$T/body" >&2; fail "status before the ack"; }
curl -sk --pinnedpubkey "$SRV_PIN" -o /dev/null -H "Authorization: Bearer $ADEV" \
	-H "Usetrace-Purpose: ingest" -H "Content-Type: application/json" \
	-d "{\"state_version\": $V2, \"paused\": true, \"recording\": false}" "$SRV_URL/v1/device/ack"
[ "$(api "$ALICE" self-access GET /v1/my/pause)" = 200 ] || fail "my/pause status"
[ "$(jq_ "$T/body" 'd["devices"][0]["acknowledged"], d["devices"][0]["paused"]')" = "True True" ] ||
	{ cat "$T/body" >&2; fail "the ack is not shown"; }
# Bad bodies; resume; a second resume says so.
[ "$(api "$ALICE" self-access POST /v1/my/pause '{"duration_s": 0}')" = 400 ] || fail "duration 0"
[ "$(api "$ALICE" self-access POST /v1/my/pause '{"until": 5}')" = 400 ] || fail "unknown key"
[ "$(api "$ALICE" self-access POST /v1/my/resume '{}')" = 200 ] || fail "resume"
[ "$(jq_ "$T/body" 'd["resumed"]')" = True ] || fail "resume answer"
[ "$(dev "$ADEV" /v1/device/control)" = 200 ] || fail "control after resume"
[ "$(jq_ "$T/body" 'd["my_pause"]["paused"]')" = False ] || fail "still paused after resume"
[ "$(api "$ALICE" self-access POST /v1/my/resume '{}')" = 200 ] || fail "second resume"
[ "$(jq_ "$T/body" 'd["resumed"]')" = False ] || fail "second resume answer"
# A short pause ends by itself.
[ "$(api "$ALICE" self-access POST /v1/my/pause '{"duration_s": 1}')" = 200 ] || fail "short pause"
sleep 2
[ "$(dev "$ADEV" /v1/device/control)" = 200 ] || fail "control after expiry"
[ "$(jq_ "$T/body" 'd["my_pause"]["paused"]')" = False ] || fail "a pause outlived its end"
# The organisation's pause is not the person's.
expect_out "^paused until " as_admin "$USETRACE" admin pause 10m
[ "$(dev "$ADEV" /v1/device/control)" = 200 ] || fail "control in an org pause"
[ "$(jq_ "$T/body" 'd["my_pause"]["paused"], d["org_pause"]["paused"]')" = "False True" ] ||
	fail "an org pause shown as a person's"
[ "$(api "$ALICE" self-access GET /v1/my/pause)" = 200 ] || fail "status in an org pause"
[ "$(jq_ "$T/body" 'd["paused"]')" = False ] || fail "the org pause shown as the person's"
expect_out "^resumed$" as_admin "$USETRACE" admin resume

# --- GET /v1/my/consent.
[ "$(api "$ALICE" self-access GET /v1/my/consent)" = 200 ] || { cat "$T/body" >&2; fail "my/consent"; }
[ "$(jq_ "$T/body" 'd["policy"]["built_in"], d["policy"]["version"], "frames" in d["policy"]["collect"], len(d["policy"]["notice"]) > 100')" = \
	"True None True True" ] || { cat "$T/body" >&2; fail "my/consent policy"; }
[ "$(jq_ "$T/body" '[(c["state"], c["policy_hash"] == d["policy"]["hash"]) for c in d["consents"]]')" = \
	"[('given', True)]" ] || { cat "$T/body" >&2; fail "my/consent consents"; }

# --- Admin: devices, policy diff, assignments.
[ "$(api "$ADMIN_TOKEN" administration GET /v1/admin/devices)" = 200 ] || fail "admin/devices"
[ "$(jq_ "$T/body" 'sorted(x["owner"] for x in d["devices"]), [x["revoked"] for x in d["devices"]]')" = \
	"['alice', 'bob'] [False, False]" ] || { cat "$T/body" >&2; fail "admin/devices list"; }
[ "$(jq_ "$T/body" '[x["ack"]["paused"] for x in d["devices"] if x["owner"] == "alice"]')" = "[True]" ] ||
	{ cat "$T/body" >&2; fail "admin/devices: the last ack"; }
! grep -q "$MARK" "$T/body" || fail "recorded text in admin/devices"
expect_out "^policy version 1$" as_admin "$USETRACE" admin policy publish "$SRCDIR/policy/default.yaml"
sed 's/^retention: 90d/retention: 30d/' "$SRCDIR/policy/default.yaml" >"$T/p2.yaml"
expect_out "^policy version 2$" as_admin "$USETRACE" admin policy publish "$T/p2.yaml"
[ "$(api "$ADMIN_TOKEN" administration GET /v1/admin/policies/2/diff)" = 200 ] || fail "diff 2"
[ "$(jq_ "$T/body" 'd["version"], d["previous"], [l for l in d["changes"] if "retention" in l]')" = \
	"2 1 ['  ~ retention: 90 days -> 30 days']" ] || { cat "$T/body" >&2; fail "diff 2 lines"; }
[ "$(api "$ADMIN_TOKEN" administration GET /v1/admin/policies/1/diff)" = 200 ] || fail "diff 1"
[ "$(jq_ "$T/body" 'd["previous"], d["changes"]')" = "built-in []" ] || { cat "$T/body" >&2; fail "diff 1 lines"; }
[ "$(api "$ADMIN_TOKEN" administration GET /v1/admin/policies/3/diff)" = 404 ] || fail "diff of no version"
[ "$(api "$ADMIN_TOKEN" administration GET /v1/admin/policies/x/diff)" = 404 ] || fail "diff of x"
[ "$(api "$ALICE" self-access GET /v1/my/consent)" = 200 ] || fail "my/consent after publish"
[ "$(jq_ "$T/body" 'd["policy"]["version"], d["policy"]["built_in"]')" = "2 False" ] ||
	{ cat "$T/body" >&2; fail "my/consent: the published policy"; }
A1=$(listed_ids "$T/alice" | sed -n 1p)
expect_out "^assigned " as_admin "$USETRACE" admin assign "$A1" rita
[ "$(api "$ADMIN_TOKEN" administration GET /v1/admin/assignments)" = 200 ] || fail "admin/assignments"
[ "$(jq_ "$T/body" '[(a["segment"], a["reviewer"], a["state"], a["decided_ns"]) for a in d["assignments"]]')" = \
	"[('$A1', 'rita', 'pending', None)]" ] || { cat "$T/body" >&2; fail "admin/assignments list"; }

# --- Roles: each route refuses the others (the full matrix: authz_matrix).
for r in "GET /v1/my/days" "POST /v1/my/pause" "POST /v1/my/resume" "GET /v1/my/pause" "GET /v1/my/consent"; do
	set -- $r
	[ "$(api "$ADMIN_TOKEN" self-access "$1" "$2" '{}')" = 403 ] || fail "admin on $r"
	[ "$(api "$RITA" self-access "$1" "$2" '{}')" = 403 ] || fail "reviewer on $r"
done
for r in /v1/admin/devices /v1/admin/policies/2/diff /v1/admin/assignments; do
	[ "$(api "$ALICE" administration GET "$r")" = 403 ] || fail "a subject on $r"
	[ "$(api "$CAROL" administration GET "$r")" = 403 ] || fail "an auditor on $r"
done
[ "$(api "$ADMIN_TOKEN" audit GET /v1/audit/verify)" = 403 ] || fail "admin on audit/verify"
[ "$(api "$ALICE" audit GET /v1/audit/verify)" = 403 ] || fail "subject on audit/verify"

# --- The page's cookie on these routes; CSRF on the pause.
rm -f "$T/hdr"
curl -sk --pinnedpubkey "$SRV_PIN" -D "$T/hdr" -o "$T/body" -H "Content-Type: application/json" \
	-d "{\"token\":\"$ALICE\"}" "$SRV_URL/v1/session" >/dev/null
SID=$(tr -d '\r' <"$T/hdr" | sed -n 's/^[Ss]et-[Cc]ookie: ut_session=\([^;]*\);.*/\1/p')
CSRF=$(jq_ "$T/body" 'd["csrf"]')
ck() { # METHOD PATH [extra curl args]: status printed, body in $T/body
	m=$1 p=$2
	shift 2
	rm -f "$T/body"
	curl -sk --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' -X "$m" \
		-H "Cookie: ut_session=$SID" -H "Usetrace-Purpose: self-access" "$@" "$SRV_URL$p"
}
[ "$(ck GET /v1/my/days)" = 200 ] || fail "my/days with the cookie"
cmp -s "$T/body" "$T/days.json" || fail "my/days differs with the cookie"
[ "$(ck POST /v1/my/pause -H "Content-Type: application/json" -d '{}')" = 403 ] ||
	fail "a pause without CSRF"
[ "$(api "$ALICE" self-access GET /v1/my/pause)" = 200 ] || fail "status"
[ "$(jq_ "$T/body" 'd["paused"]')" = False ] || fail "a refused pause paused"
[ "$(ck POST /v1/my/pause -H "Content-Type: application/json" -H "X-CSRF-Token: $CSRF" -d '{}')" = 200 ] ||
	fail "a pause with the cookie"
[ "$(ck POST /v1/my/resume -H "Content-Type: application/json" -H "X-CSRF-Token: $CSRF" -d '{}')" = 200 ] ||
	fail "a resume with the cookie"

# --- Audit: every call above is in the log; verify, then a tampered row.
[ "$(api "$CAROL" audit GET /v1/audit/verify)" = 200 ] || { cat "$T/body" >&2; fail "audit/verify"; }
[ "$(jq_ "$T/body" 'd["ok"], d["entries"] > 50, d["first_bad"]')" = "True True None" ] ||
	{ cat "$T/body" >&2; fail "audit/verify answer"; }
[ "$(api "$CAROL" audit GET '/v1/audit/entries?limit=1000')" = 200 ] || fail "entries"
for a in read_my_days my_pause my_resume my_pause_status read_my_consent device_list_admin \
    policy_diff assignment_list audit_verify; do
	[ "$(jq_ "$T/body" 'sum(1 for e in d["entries"] if e["action"] == "'"$a"'" and e["outcome"] == "ok")')" -gt 0 ] ||
		fail "no audit entry '$a'"
done
stop_server
python3 - "$T/data/meta.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TRIGGER audit_no_update")
db.execute("UPDATE audit SET detail = 'edited' WHERE seq = 7")
db.commit()
PY
start_again "$T/data"
[ "$(api "$CAROL" audit GET /v1/audit/verify)" = 200 ] || { cat "$T/body" >&2; fail "audit/verify after the edit"; }
[ "$(jq_ "$T/body" 'd["ok"], d["first_bad"]')" = "False 7" ] || { cat "$T/body" >&2; fail "the edited row was not named"; }
echo "web_api: ok"
