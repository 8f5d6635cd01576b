#!/bin/sh
# device_sync - what the server tells a device through `usetrace upload`
# reaches it: the coming days' ingest keys are written into device.json
# (a device.json stripped of them gets them back); a person erasing
# everything at the server withdraws the device's consent (consent.json
# says withdrawn, `usetrace status`-independent) and its closed segments
# are deleted unsent, while another person's device is untouched.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

keys_in() { # device home -> number of ingest keys in device.json
	python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["ingest_keys"]))' "$1/device.json"
}

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"

# Keys: strip device.json to no ingest keys; an upload of nothing fetches them.
python3 - "$T/adev/device.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["ingest_keys"] = []
json.dump(d, open(p, "w"))
PY
[ "$(keys_in "$T/adev")" = 0 ] || fail "device.json still has keys"
mkdir -p "$T/arec" && chmod 700 "$T/arec"
expect_out "^uploaded 0, kept 0$" env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/arec"
[ "$(keys_in "$T/adev")" -ge 8 ] || fail "upload did not fetch the coming days' keys"
[ "$(stat -c %a "$T/adev/device.json")" = 600 ] || fail "device.json is not 0600"
python3 - "$T/adev/device.json" <<'PY' || fail "today's key is missing"
import json, sys, datetime
d = json.load(open(sys.argv[1]))
today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
sys.exit(0 if any(k["day"] == today for k in d["ingest_keys"]) else 1)
PY

# One segment each is uploaded; two more of alice's wait on her device.
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 1 --seed 1
expect_out "^uploaded 1, kept 0$" env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 2
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 2 --seed 3
[ "$(ls "$T/arec" | grep -c '\.uts$')" = 2 ] || fail "alice's device should hold 2 segments"

# Alice erases everything at the server.
expect_out "erased" env USETRACE_HOME="$T/alice" "$USETRACE" my erase --all --yes
[ -z "$(listed_ids "$T/alice")" ] || fail "alice still has segments listed"

# Her device learns it at its next contact: consent withdrawn, spool purged.
expect_out "deleted here without being sent" \
	env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/arec"
grep -q "consent withdrawn at the server" "$T/out" || { cat "$T/out" >&2; fail "no withdrawal message"; }
grep -q "^uploaded 0, kept 0$" "$T/out" || { cat "$T/out" >&2; fail "upload summary"; }
[ "$(ls "$T/arec" | grep -c '\.uts$')" = 0 ] || fail "alice's segments were not purged"
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("withdrawn") else 1)' \
	"$T/adev/consent.json" || { cat "$T/adev/consent.json" >&2; fail "consent.json is not withdrawn"; }

# Bob's device is untouched and uploads as before.
expect_out "^uploaded 1, kept 0$" env USETRACE_HOME="$T/bdev" "$USETRACE" upload "$T/brec"
grep -q "withdrawn\|deleted here" "$T/out" && fail "bob's device was told alice's news"
[ "$(listed_ids "$T/bob" | wc -l)" = 1 ] || fail "bob's segment is not listed"
echo "device_sync: ok"
