#!/bin/sh
# cli_flow - the CLI against a real `usetrace serve` on loopback: the
# bootstrap admin adds subject alice and gets a claim code; alice logs in
# (her token saved in her home); she makes an enrollment code and enrolls
# a device with it (device.json, 0600); the device uploads an empty
# recording (its consent is sent, nothing else); her segment list is
# empty; her audit shows the claim and the enrollment; the admin lists and
# revokes her, after which her token is refused.  A used claim code says
# so (code_used), and a wrong pin is refused before any request is sent.
. "$(dirname "$0")/cli_lib.sh"

start_server "$T/data"
ALICE="$T/alice"
DEV="$T/device"
mkdir -p "$ALICE" "$DEV"
chmod 700 "$ALICE" "$DEV"
WRONG_PIN=sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

# The admin adds alice.
expect_out "^claim [0-9a-f]{16}\." as_admin "$USETRACE" admin principal add alice --role subject
CLAIM=$(sed -n 's/^claim //p' "$T/out")

# A wrong pin is refused before any request: the claim stays unused.
expect 1 "did not match the pin" \
	env USETRACE_HOME=$ALICE "$USETRACE" login "$SRV_URL" --claim "$CLAIM" --pin "$WRONG_PIN"
[ ! -e "$ALICE/login.json" ] || fail "a refused login saved something"

# alice claims her token; it is saved 0600.
expect_out "^token ut1_" \
	env USETRACE_HOME=$ALICE "$USETRACE" login "$SRV_URL" --claim "$CLAIM" --pin "$SRV_PIN"
[ "$(stat -c %a "$ALICE/login.json")" = 600 ] || fail "login.json is not 0600"
# The same code a second time.
expect 1 "code_used" \
	env USETRACE_HOME="$T/mallory" "$USETRACE" login "$SRV_URL" --claim "$CLAIM" --pin "$SRV_PIN"

# An enrollment code, and the device enrolled with it.
expect_out "^code [0-9a-f]{16}\." env USETRACE_HOME=$ALICE "$USETRACE" my enroll-code
CODE=$(sed -n 's/^code //p' "$T/out")
expect_out "^enrolled device [0-9]+ for subject [0-9a-f]{32}$" \
	env USETRACE_HOME=$DEV "$USETRACE" enroll "$SRV_URL" --code "$CODE" --pin "$SRV_PIN"
[ "$(stat -c %a "$DEV/device.json")" = 600 ] || fail "device.json is not 0600"
[ -f "$DEV/device.key" ] || fail "enroll did not create the device key"
# The code is single-use.
expect 1 "" \
	env USETRACE_HOME="$T/device2" "$USETRACE" enroll "$SRV_URL" --code "$CODE" --pin "$SRV_PIN"

# The device uploads an empty recording, after sending its consent.
USETRACE_HOME=$DEV "$USETRACE" consent --yes >/dev/null 2>&1 || fail "consent"
mkdir "$T/rec"
expect_out "^uploaded 0, kept 0$" env USETRACE_HOME=$DEV "$USETRACE" upload "$T/rec"

# alice's data: no segments; her audit shows the claim and the enrollment.
expect 0 "" env USETRACE_HOME=$ALICE "$USETRACE" my list
[ ! -s "$T/out" ] || { cat "$T/out" >&2; fail "my list is not empty"; }
expect_out '"segments": *\[\]' env USETRACE_HOME=$ALICE "$USETRACE" my list --json
expect_out "enroll" env USETRACE_HOME=$ALICE "$USETRACE" my audit
grep -Eiq "claim|login" "$T/out" || { cat "$T/out" >&2; fail "my audit: no claim"; }
expect_out "enrolled" env USETRACE_HOME=$ALICE "$USETRACE" my devices

# The admin's list names alice with her role, and no tokens.
expect_out "^alice +subject" as_admin "$USETRACE" admin principal list
! grep -q "ut1_" "$T/out" || fail "principal list shows a token"
expect_out '"name": *"alice"' as_admin "$USETRACE" admin principal list --json

# alice is not an admin; her token is refused for administration.
expect 1 "" env USETRACE_HOME=$ALICE "$USETRACE" admin principal list

# Revoked: alice's token stops working at once.
expect_out "^revoked alice" as_admin "$USETRACE" admin principal revoke alice
expect 1 "\(unauthorized\)" env USETRACE_HOME=$ALICE "$USETRACE" my list
expect 1 "\(unauthorized\)" env USETRACE_HOME=$ALICE "$USETRACE" my enroll-code
echo "cli_flow: ok"
