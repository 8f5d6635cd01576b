#!/bin/sh
# cli_usage - the server commands of the CLI (login, admin, my, enroll,
# upload): every command and subcommand prints its usage with --help and
# exits 0; bad options and arguments exit 2 with a message; with no server
# configured, each exits 1 naming what is missing.  No server is started.
. "$(dirname "$0")/cli_lib.sh"

SEG=0123456789abcdef0123456789abcdef
PIN=sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

# --help of every command and subcommand.
for c in login enroll upload my admin "admin principal" "my enroll-code" \
    "my list" "my show" "my frames" "my erase" "my audit" "my devices" \
    "my device-revoke" "admin principal add" "admin principal list" \
    "admin principal revoke"; do
	# shellcheck disable=SC2086
	expect_out "^usage: usetrace " "$USETRACE" $c --help
done
"$USETRACE" --help | grep -q '^  upload ' || fail "upload is not in the command list"
"$USETRACE" --help | grep -q '^  my ' || fail "my is not in the command list"

# Usage errors exit 2.
expect 2 "unknown option" "$USETRACE" login https://127.0.0.1:1 --claim x --bogus
expect 2 "claim CODE is required" "$USETRACE" login https://127.0.0.1:1 --pin "$PIN"
expect 2 "needs a value" "$USETRACE" login --claim
expect 2 "code CODE is required" "$USETRACE" enroll https://127.0.0.1:1 --pin "$PIN"
expect 2 "unexpected argument" "$USETRACE" enroll a b --code x
expect 2 "missing argument" "$USETRACE" upload
expect 2 "unknown option" "$USETRACE" upload --server x "$T"
expect 2 "which" "$USETRACE" my
expect 2 "unknown subcommand" "$USETRACE" my frobnicate
expect 2 "unknown option" "$USETRACE" my list --raw
expect 2 "unknown option" "$USETRACE" my enroll-code --json
expect 2 "missing argument" "$USETRACE" my show
expect 2 "segment id is 32 hex" "$USETRACE" my show ../../etc
expect 2 "not both" "$USETRACE" my show "$SEG" --json --raw
expect 2 "out D is required" "$USETRACE" my frames "$SEG"
expect 2 "day YYYY-MM-DD or --all" "$USETRACE" my erase
expect 2 "day YYYY-MM-DD or --all" "$USETRACE" my erase --all --day 2024-01-02
expect 2 "day YYYY-MM-DD or --all" "$USETRACE" my erase --day yesterday
expect 2 "device id is a number" "$USETRACE" my device-revoke 1/revoke
expect 2 "which" "$USETRACE" admin
expect 2 "unknown subcommand" "$USETRACE" admin people
expect 2 "" "$USETRACE" admin principal
expect 2 "unknown subcommand" "$USETRACE" admin principal delete alice
expect 2 "role subject" "$USETRACE" admin principal add alice
expect 2 "role subject" "$USETRACE" admin principal add alice --role root
expect 2 "a name is 1-63" "$USETRACE" admin principal add 'al ice' --role subject
expect 2 "a name is 1-63" "$USETRACE" admin principal revoke ../x

# Nothing configured: exit 1, naming what is missing.
for c in "my enroll-code" "my list" "my show $SEG" "my frames $SEG --out $T/f" \
    "my erase --all --yes" "my audit" "my devices" "my device-revoke 1" \
    "admin principal add bob --role subject" "admin principal list" \
    "admin principal revoke bob"; do
	# shellcheck disable=SC2086
	expect 1 "no server: give --server URL" "$USETRACE" $c
	# shellcheck disable=SC2086
	expect 1 "no pin for the server's key" "$USETRACE" $c --server https://127.0.0.1:1
	# shellcheck disable=SC2086
	expect 1 "no token: give --token" "$USETRACE" $c --server https://127.0.0.1:1 --pin "$PIN"
done
expect 1 "no server" "$USETRACE" login --claim 0123456789abcdef.x --pin "$PIN"
expect 1 "no pin" "$USETRACE" login https://127.0.0.1:1 --claim 0123456789abcdef.x
expect 1 "no pin" "$USETRACE" enroll https://127.0.0.1:1 --code 0123456789abcdef.x
expect 1 "bad server" "$USETRACE" my list --server http://127.0.0.1:1 --pin "$PIN" --token t
expect 1 "bad pin" "$USETRACE" my list --server https://127.0.0.1:1 --pin nopin --token t
mkdir "$T/rec"
expect 1 "not enrolled" "$USETRACE" upload "$T/rec"
expect 1 "cannot read" "$USETRACE" upload "$T/missing"
# The environment counts as configuration; a closed port is a transport error.
expect 1 "cannot reach" env USETRACE_SERVER=https://127.0.0.1:1 \
	USETRACE_PIN="$PIN" USETRACE_TOKEN=ut1_x "$USETRACE" my list
# A not-enrolled device records to the person's own key as before; an
# enrolled one with no ingest key for today says so.
cat >"$USETRACE_HOME/device.json" <<JSON
{"url": "https://127.0.0.1:1", "pin": "$PIN", "device_token": "utd1_x",
 "device_id": 1, "subject_id": "$SEG", "ingest_keys": [{"day": "2000-01-01",
 "pk": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}],
 "receipt_pk": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
 "audit_pk": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
JSON
expect 1 "no ingest key for today" "$USETRACE" record --out "$T/rec2"
# Even with nothing to send, upload asks the server for the coming days'
# ingest keys (and what the person did there): an unreachable server fails.
expect 1 "cannot reach" "$USETRACE" upload "$T/rec"
grep -q "^uploaded 0, kept 0" "$T/out" || fail "upload summary: $(cat "$T/out")"
# A transport failure keeps every segment, and *.uts.open is never touched.
head -c 400 /dev/zero >"$T/rec/seg-00000001.uts"
head -c 400 /dev/zero >"$T/rec/seg-00000002.uts.open"
expect 1 "cannot reach" "$USETRACE" upload "$T/rec"
grep -q "^uploaded 0, kept 1" "$T/out" || fail "upload summary: $(cat "$T/out")"
[ -f "$T/rec/seg-00000001.uts" ] && [ -f "$T/rec/seg-00000002.uts.open" ] ||
	fail "upload removed a segment it did not deliver"
echo "cli_usage: ok"
