#!/bin/sh
# key_rotation - `usetrace serve --rotate-key receipt|audit`: the new keys
# are in force (receipt.pub, audit.pub), the old public keys are kept in
# the .pub.old history, `usetrace audit verify` still verifies the
# checkpoints the old audit key signed (and fails without the history),
# each rotation is an audit entry, and an enrolled device picks up the new
# keys at its next upload and verifies receipts signed with the new one.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

expect 2 "wants receipt or audit" "$USETRACE" serve --data "$T/x" --rotate-key tls
start_server "$T/data"
person_with_device alice "$T/alice" "$T/dev"
expect 0 "" "$UT_SYNTH" --home "$T/dev" --out "$T/rec" --segments 1 --seed 1
expect_out "^uploaded 1, kept 0$" env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec"
R0=$(cat "$T/data/receipt.pub")
A0=$(cat "$T/data/audit.pub")
[ ! -e "$T/data/audit.pub.old" ] || fail "a history before any rotation"

restart_server "$T/data" --rotate-key receipt --rotate-key audit
grep -q "the receipt key was rotated" "$T/serve.1.err" || fail "no rotation message"
R1=$(cat "$T/data/receipt.pub")
A1=$(cat "$T/data/audit.pub")
[ "$R1" != "$R0" ] && [ "$A1" != "$A0" ] || fail "the public keys did not change"
[ "$(cat "$T/data/receipt.pub.old")" = "$R0" ] || fail "receipt.pub.old does not hold the old key"
[ "$(cat "$T/data/audit.pub.old")" = "$A0" ] || fail "audit.pub.old does not hold the old key"

# The device still holds the old receipt key; its next upload fetches the
# new one first and verifies the new receipt with it.
grep -q "$R0" "$T/dev/device.json" || fail "device.json should still hold the old receipt key"
expect 0 "" "$UT_SYNTH" --home "$T/dev" --out "$T/rec" --segments 1 --seed 2
expect_out "^uploaded 1, kept 0$" env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec"
grep -q "receipt key was rotated" "$T/err" || { cat "$T/err" >&2; fail "upload did not say the key changed"; }
grep -q "$R1" "$T/dev/device.json" || fail "device.json did not get the new receipt key"
grep -q "$A1" "$T/dev/device.json" || fail "device.json did not get the new audit key"
[ "$(listed_ids "$T/alice" | wc -l)" = 2 ] || fail "not 2 segments after the rotation"

kill -TERM "$SRV_PID"
wait "$SRV_PID" || fail "the server did not exit cleanly"
# Both rotations are in the log.
n=$(python3 - "$T/data/meta.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(c.execute("SELECT count(*) FROM audit WHERE action = 'key_rotate'").fetchone()[0])
PY
)
[ "$n" = 2 ] || fail "$n key_rotate audit entries, want 2"
# Old checkpoints verify with the history, and not without it.
expect_out "^audit ok" "$USETRACE" audit verify --data "$T/data"
mv "$T/data/audit.pub.old" "$T/audit.pub.old"
expect 1 "" "$USETRACE" audit verify --data "$T/data"
grep -q "^audit BAD" "$T/out" || { cat "$T/out" "$T/err" >&2; fail "verify without the history should name a bad checkpoint"; }
mv "$T/audit.pub.old" "$T/data/audit.pub.old"
expect_out "^audit ok" "$USETRACE" audit verify --data "$T/data"
echo "key_rotation: ok"
