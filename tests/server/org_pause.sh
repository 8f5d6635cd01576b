#!/bin/sh
# org_pause - the organisation-wide pause, published policies and the
# control long poll (issue 15), against a real server:
#  - a long poll of the current state with a short wait answers that same
#    state; one parked with wait=60 is woken by `admin pause` and answers
#    the new state (its client gives up after 30 s, so a pause that did not
#    wake it fails the test); the pause's expiry wakes the next one and
#    resumes; `admin resume` ends a pause, and a second one says so;
#  - acks are stored and counted; an ack ahead of the server is refused;
#  - policies: bad YAML refused with its line, versions kept and listed,
#    each shown byte for byte, fetched by the device with its sha256;
#  - ingest discards (reason org_pause) a segment begun in a pause and one
#    begun 10 s before it that runs 55 s into it, and stores one that ends
#    16 s into it (ut-synth's seed 1 segment spans 65.7 s);
#  - a device revoked while its poll is parked is answered "revoked";
#  - every admin and device call is in the audit log.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
DTOK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' \
	"$T/adev/device.json")

# dev GET|POST PATH [BODY]: a device call; body in $T/body, status printed.
dev() {
	if [ "$1" = POST ]; then
		curl -sk -m 30 --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
			-H "Authorization: Bearer $DTOK" -H "Usetrace-Purpose: ingest" \
			-H "Content-Type: application/json" -d "$3" "$SRV_URL$2"
	else
		curl -sk -m 30 --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
			-H "Authorization: Bearer $DTOK" -H "Usetrace-Purpose: ingest" "$SRV_URL$2"
	fi
}
# jq_ FILE EXPR: a Python expression over the JSON document d.
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# Ingest: segments begun in a pause (or running far into one) are discarded.
# First of the test's pauses: a segment is discarded for any pause it runs
# 30 s into, and the 50 s before a later pause could hold an earlier one.
expect_out "^paused until " as_admin "$USETRACE" admin pause 10m
expect 0 "" as_admin "$USETRACE" admin pause-status --json
SINCE=$(jq_ "$T/out" 'd["since_ns"]')
for c in in:1 before10:-10 before50:-50; do
	name=${c%%:*}
	mkdir -p "$T/rec-$name" && chmod 700 "$T/rec-$name"
	expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/rec-$name" --segments 1 --seed 1 \
		--start-ns $((SINCE + ${c#*:} * 1000000000))
done
expect_out "discarded" env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/rec-in"
grep -q "org_pause" "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "no org_pause reason"; }
expect_out "discarded" env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/rec-before10"
expect_out "^seg-[0-9]+\.uts stored$" env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/rec-before50"
listed_ids "$T/alice" >"$T/paused.ids"
[ "$(wc -l <"$T/paused.ids")" = 1 ] || {
	cat "$T/out" >&2; fail "stored segments: $(wc -l <"$T/paused.ids"), not the 1 begun 50 s before the pause"; }
expect_out "^resumed$" as_admin "$USETRACE" admin resume

[ "$(dev GET /v1/device/control)" = 200 ] || fail "control"
V=$(jq_ "$T/body" 'd["state_version"]')
[ "$(jq_ "$T/body" 'd["org_pause"]["paused"], d["policy"], d["device"]["revoked"]')" = \
	"False None False" ] || { cat "$T/body" >&2; fail "the first state"; }
[ "$(dev GET "/v1/device/control?since=$V&wait=1")" = 200 ] || fail "short poll"
[ "$(jq_ "$T/body" 'd["state_version"]')" = "$V" ] || fail "an unchanged wait changed the version"
[ "$(dev GET "/v1/device/control?since=$V&wait=61")" = 400 ] || fail "wait over 60 accepted"
[ "$(dev GET "/v1/device/control?since=$V&other=1")" = 400 ] || fail "unknown parameter accepted"

# A parked poll is woken by the pause.
dev GET "/v1/device/control?since=$V&wait=60" >"$T/poll.status" &
POLL=$!
sleep 1
expect_out "^paused until .* \(pause 2\)$" as_admin "$USETRACE" admin pause 4s
wait "$POLL" || fail "the parked poll failed"
[ "$(cat "$T/poll.status")" = 200 ] || fail "the parked poll: $(cat "$T/poll.status")"
[ "$(jq_ "$T/body" 'd["state_version"] == '"$V"' + 1, d["org_pause"]["paused"], d["org_pause"]["id"]')" = \
	"True True 2" ] || { cat "$T/body" >&2; fail "the woken poll's state"; }
V=$((V + 1))
# The pause's expiry wakes the next poll and resumes.
[ "$(dev GET "/v1/device/control?since=$V&wait=60")" = 200 ] || fail "poll to expiry"
[ "$(jq_ "$T/body" 'd["state_version"] == '"$V"' + 1, d["org_pause"]["paused"]')" = \
	"True False" ] || { cat "$T/body" >&2; fail "the expiry was not seen"; }
V=$((V + 1))
expect_out "^paused no$" as_admin "$USETRACE" admin pause-status
expect 0 "" as_admin "$USETRACE" admin pause-status --json
[ "$(jq_ "$T/out" 'd["last"]["ended_by"], d["last"]["ended_ns"] == d["last"]["until_ns"]')" = \
	"expiry True" ] || { cat "$T/out" >&2; fail "expiry not recorded"; }

# Acks.
expect_out "^acks 0/1$" as_admin "$USETRACE" admin pause-status
[ "$(dev POST /v1/device/ack "{\"state_version\": $((V + 5)), \"paused\": false, \"recording\": true}")" = 400 ] ||
	fail "an ack ahead of the server was taken"
[ "$(dev POST /v1/device/ack "{\"state_version\": $V, \"paused\": false, \"policy_version\": null, \"recording\": true}")" = 200 ] ||
	{ cat "$T/body" >&2; fail "ack"; }
expect_out "^acks 1/1$" as_admin "$USETRACE" admin pause-status

# Pause and resume by hand; usage errors.
expect_out "^paused until " as_admin "$USETRACE" admin pause 10m
expect_out "^paused yes until " as_admin "$USETRACE" admin pause-status
expect_out "^resumed$" as_admin "$USETRACE" admin resume
expect_out "^not paused$" as_admin "$USETRACE" admin resume
expect 2 "DURATION" as_admin "$USETRACE" admin pause soon
expect 1 "duration_s" as_admin "$USETRACE" admin pause 2h
expect 1 "forbidden" env USETRACE_HOME="$T/alice" "$USETRACE" admin pause

# Policies.
printf 'version: 1\norganisation: Example\nbogus: 3\n' >"$T/bad.yaml"
expect 1 "line 3" as_admin "$USETRACE" admin policy publish "$T/bad.yaml"
[ "$(dev GET /v1/device/policy)" = 404 ] || fail "a policy before any was published"
expect_out "^policy version 1$" as_admin "$USETRACE" admin policy publish "$SRCDIR/policy/default.yaml"
sed 's/^retention: .*/retention: 30d/' "$SRCDIR/policy/default.yaml" >"$T/p2.yaml"
cmp -s "$T/p2.yaml" "$SRCDIR/policy/default.yaml" && fail "p2.yaml is the default policy"
expect_out "^policy version 2$" as_admin "$USETRACE" admin policy publish "$T/p2.yaml"
expect 0 "" as_admin "$USETRACE" admin policy list
[ "$(grep -c '^version [12] ' "$T/out")" = 2 ] || { cat "$T/out" >&2; fail "policy list"; }
expect 0 "" as_admin "$USETRACE" admin policy show 1
cmp -s "$T/out" "$SRCDIR/policy/default.yaml" || fail "policy 1 is not the file published"
expect 1 "no such policy" as_admin "$USETRACE" admin policy show 3
[ "$(dev GET /v1/device/policy)" = 200 ] || fail "device policy"
[ "$(jq_ "$T/body" 'd["version"]')" = 2 ] || fail "the device's current policy"
[ "$(dev GET '/v1/device/policy?version=1')" = 200 ] || fail "device policy 1"
[ "$(jq_ "$T/body" 'd["sha256"]')" = "$(sha256sum <"$SRCDIR/policy/default.yaml" | cut -d' ' -f1)" ] ||
	fail "the policy's sha256 is not of its bytes"
[ "$(dev GET /v1/device/control)" = 200 ] || fail "control"
[ "$(jq_ "$T/body" 'd["policy"]["version"]')" = 2 ] || fail "control names policy 2"


# A device revoked while its poll is parked is told so when it wakes.
[ "$(dev GET /v1/device/control)" = 200 ] || fail "control"
V=$(jq_ "$T/body" 'd["state_version"]')
dev GET "/v1/device/control?since=$V&wait=60" >"$T/poll.status" &
POLL=$!
sleep 1
expect_out "^revoked device $DEVICE_ID$" env USETRACE_HOME="$T/alice" "$USETRACE" \
	my device-revoke "$DEVICE_ID"
wait "$POLL" || fail "the parked poll failed"
[ "$(cat "$T/poll.status")" = 200 ] || fail "the parked poll: $(cat "$T/poll.status")"
[ "$(jq_ "$T/body" 'd["device"]["revoked"]')" = True ] ||
	{ cat "$T/body" >&2; fail "the revoked device was not told"; }
[ "$(dev GET /v1/device/control)" = 401 ] || fail "a revoked device's token still works"

stop_server
python3 - "$T/data/meta.db" <<'PY' || fail "audit entries missing"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
acts = {r[0] for r in db.execute("SELECT action FROM audit")}
need = {"control", "control_ack", "policy_fetch", "org_pause", "org_resume",
        "org_pause_status", "policy_publish", "policy_list", "policy_read"}
missing = need - acts
if missing:
    print("missing audit actions:", sorted(missing), file=sys.stderr)
    sys.exit(1)
n = db.execute("SELECT count(*) FROM audit WHERE action = 'upload' AND detail LIKE 'discarded: org_pause%'").fetchone()[0]
if n != 2:
    print("discarded uploads audited:", n, file=sys.stderr)
    sys.exit(1)
PY
echo "org_pause: ok"
