#!/bin/sh
# cli_local - the device-side CLI without a server or an X display (issue
# 17): every usage error exits 2 naming the problem; `status --json` is
# JSON with no agent; -V/--version and `help COMMAND`; the man page
# matches the help text and the bash completion answers; passphrase files
# (empty, CRLF, one that does not open the existing key); `record --out`
# makes parents and `list` shows the recording; `frames --out` writes 0600
# files into a 0700 directory, made only once the input is read; `keys
# passwd` (old fails, new works, recordings still read, a crash at the
# rename keeps the old one).  Recordings come from ut-synth, sealed to the
# person's own recipient key.
. "$(dirname "$0")/cli_lib.sh"
: "${UT_SYNTH:?UT_SYNTH must point at ut-synth}"
unset DISPLAY XDG_RUNTIME_DIR
export TMPDIR="$T"

SEG=0123456789abcdef0123456789abcdef
Z=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
printf 'one\r\n' >"$T/p1crlf"
printf 'one\n' >"$T/p1"
printf 'two\n' >"$T/p2"
: >"$T/empty"

# Usage errors: exit 2 and a message naming the problem.
expect 2 "indicator: unknown option '--bogus'" "$USETRACE" indicator --bogus
expect 2 "indicator: option '--display' needs a value" "$USETRACE" indicator --display
expect 2 "indicator: unexpected argument" "$USETRACE" indicator :0 x
expect 2 "show: --json and --raw: give one" "$USETRACE" show "$T" --json --raw
expect 2 "show: option '--passphrase-file' needs a value" "$USETRACE" show "$T" --passphrase-file
expect 2 "record: --recipient: 'xyz' is not a public key" "$USETRACE" record --out "$T/r" --recipient xyz
expect 2 "record: --recipient and --passphrase-file" "$USETRACE" record --out "$T/r" --recipient "$Z" --passphrase-file "$T/p1"
expect 2 "record: option '--out' needs a value" "$USETRACE" record --out
expect 2 "spool check: option '--device' needs a value" "$USETRACE" spool check "$T" --device
expect 2 "scan: unknown option '--bogus'" "$USETRACE" scan --bogus
expect 2 "status: unknown option '--bogus'" "$USETRACE" status --bogus
expect 2 "frames: option '--out' needs a value" "$USETRACE" frames "$T" --out
expect 2 "keys: unknown subcommand 'frob'" "$USETRACE" keys frob
expect 2 "keys passwd: unknown option '--old'" "$USETRACE" keys passwd --old x
expect 2 "list: unknown option '--all'" "$USETRACE" list --all
expect 2 "help: unknown command 'frob'" "$USETRACE" help frob
[ ! -e "$T/r" ] || fail "a usage error created the recording directory"

# status --json is JSON also when no agent runs (exit 1: not recording).
expect 1 "" "$USETRACE" status --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["state"]=="not-recording" and j["agent"] is False, j' \
	"$T/out" || fail "status --json without an agent: $(cat "$T/out")"
expect 1 "" "$USETRACE" resume
grep -q "no usetrace agent" "$T/out" || fail "resume without an agent: $(cat "$T/out")"

# Version and help.
expect_out "^usetrace [0-9]" "$USETRACE" -V
expect_out "^usetrace [0-9]" "$USETRACE" --version
"$USETRACE" --help | grep -q -- "-V, --version" || fail "--version is not in the help"
for c in $("$USETRACE" --help | awk '/^commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }'); do
	"$USETRACE" help "$c" >"$T/h1" || fail "help $c failed"
	"$USETRACE" "$c" --help >"$T/h2" || fail "$c --help failed"
	cmp -s "$T/h1" "$T/h2" || fail "help $c differs from $c --help"
	grep -q "usage: usetrace" "$T/h1" || fail "help $c prints no usage"
done

# The man page is the help text: regenerate and compare.
sh "$SRCDIR/scripts/manpage.sh" "$USETRACE" >"$T/usetrace.1"
cmp -s "$T/usetrace.1" "$SRCDIR/docs/usetrace.1" ||
	{ diff "$SRCDIR/docs/usetrace.1" "$T/usetrace.1" | head -20 >&2;
	  fail "docs/usetrace.1 is stale: ninja -C build manpage"; }
grep -q '^\.SS keys$' "$T/usetrace.1" || fail "man page lacks the keys command"

# Bash completion: commands, options from the help, subcommands.
if command -v bash >/dev/null; then
	got=$(bash -c '. "$1/contrib/bash-completion/usetrace"
		COMP_WORDS=("$2" rec); COMP_CWORD=1; _usetrace; echo "${COMPREPLY[*]}"
		COMP_WORDS=("$2" record --o); COMP_CWORD=2; _usetrace; echo "${COMPREPLY[*]}"
		COMP_WORDS=("$2" keys p); COMP_CWORD=2; _usetrace; echo "${COMPREPLY[*]}"' \
		sh "$SRCDIR" "$USETRACE")
	[ "$got" = "$(printf 'record\n--out\npasswd')" ] || fail "completion: $got"
fi

# Passphrase files.  Empty: named.  The key is made with a CRLF file and
# opened with the same passphrase ending in LF.  record --out makes the
# parents (0700); the policy that does not exist stops it after the keys.
expect 1 "passphrase file .*/empty is empty" "$USETRACE" record --out "$T/a/b/rec" --passphrase-file "$T/empty"
[ ! -e "$USETRACE_HOME/recipient.key" ] || fail "an empty passphrase made a key"
expect 1 "policy" "$USETRACE" record --out "$T/a/b/rec" --passphrase-file "$T/p1crlf" --policy "$T/none.yaml"
[ -f "$USETRACE_HOME/recipient.key" ] || fail "no recipient key made"
[ "$(stat -c %a "$T/a" "$T/a/b" "$T/a/b/rec" | tr '\n' ' ')" = "700 700 700 " ] ||
	fail "record --out parents: $(stat -c '%a %n' "$T/a" "$T/a/b" "$T/a/b/rec")"
# A passphrase file that does not open the existing key is not ignored.
expect 1 "passphrase in .*/p2 does not open your existing recipient key" \
	"$USETRACE" record --out "$T/a/b/rec" --passphrase-file "$T/p2" --policy "$T/none.yaml"

# Two segments sealed to the person's key (ut-synth reads device.json for
# the subject; it goes again afterwards, so the device is not enrolled).
cat >"$USETRACE_HOME/device.json" <<JSON
{"url": "https://127.0.0.1:1", "pin": "sha256//$Z", "device_token": "utd1_x",
 "device_id": 1, "subject_id": "$SEG", "ingest_keys": [{"day": "2000-01-01",
 "pk": "$Z"}], "receipt_pk": "$Z", "audit_pk": "$Z"}
JSON
"$UT_SYNTH" --home "$USETRACE_HOME" --out "$T/a/b/rec" --segments 2 --bytes 70000 \
	--recipient "$(cat "$USETRACE_HOME/recipient.pub")" --consent-id "$SEG" \
	--policy-hash "$SEG$SEG" >/dev/null || fail "ut-synth"
rm "$USETRACE_HOME/device.json"
expect_out "^$T/a/b/rec .*Z \.\. .*Z .* 2 segment\(s\)$" "$USETRACE" list
expect_out " 2 segment\(s\)$" "$USETRACE" list "$T/a/b/rec"
expect 1 "list: cannot read $T/nothere" "$USETRACE" list "$T/nothere"
expect_out "^-- [1-9][0-9]* actions from" "$USETRACE" show "$T/a/b/rec" --passphrase-file "$T/p1"
cp "$T/out" "$T/show.before"

# frames: nothing is made for an input that cannot be read; files 0600 in
# a 0700 directory whatever the umask, also over a looser existing one.
umask 000
expect 1 "cannot read" "$USETRACE" frames "$T/nothere" --out "$T/fr" --passphrase-file "$T/p1"
[ ! -e "$T/fr" ] || fail "frames made OUTDIR for an unreadable input"
expect 1 "wrong passphrase" "$USETRACE" frames "$T/a/b/rec" --out "$T/fr" --passphrase-file "$T/p2"
[ ! -e "$T/fr" ] || fail "frames made OUTDIR before the key was unlocked"
expect_out "frame-000001.png" "$USETRACE" frames "$T/a/b/rec" --out "$T/fr" --passphrase-file "$T/p1"
[ "$(stat -c %a "$T/fr")" = 700 ] || fail "OUTDIR mode $(stat -c %a "$T/fr")"
[ -z "$(find "$T/fr" -type f ! -perm 600)" ] || fail "frame modes: $(stat -c '%a %n' "$T/fr"/*)"
chmod 755 "$T/fr"
chmod 666 "$T/fr/frame-000001.png"
expect 0 "" "$USETRACE" frames "$T/a/b/rec" --out "$T/fr" --passphrase-file "$T/p1"
[ "$(stat -c %a "$T/fr" "$T/fr/frame-000001.png" | tr '\n' ' ')" = "700 600 " ] ||
	fail "frames over an existing OUTDIR: $(stat -c '%a %n' "$T/fr" "$T/fr/frame-000001.png")"
umask 077

# keys passwd.  A wrong current passphrase changes nothing; a crash at the
# rename of the new key file leaves the old passphrase working; then the
# change: the old fails, the new reads the same recording.
expect 1 "current passphrase is wrong" "$USETRACE" keys passwd --passphrase-file "$T/p2" --new-passphrase-file "$T/p1"
expect 1 "passphrase file .*/empty is empty" "$USETRACE" keys passwd --passphrase-file "$T/p1" --new-passphrase-file "$T/empty"
expect 137 "" env UT_FSIO_FAULT=rename:1:crash "$USETRACE" keys passwd --passphrase-file "$T/p1" --new-passphrase-file "$T/p2"
expect 0 "" "$USETRACE" show "$T/a/b/rec" --passphrase-file "$T/p1"
expect_out "^passphrase changed" "$USETRACE" keys passwd --passphrase-file "$T/p1" --new-passphrase-file "$T/p2"
expect 1 "wrong passphrase" "$USETRACE" show "$T/a/b/rec" --passphrase-file "$T/p1"
expect 0 "" "$USETRACE" show "$T/a/b/rec" --passphrase-file "$T/p2"
cmp -s "$T/out" "$T/show.before" || fail "the recording reads differently after keys passwd"
[ "$(stat -c %a "$USETRACE_HOME/recipient.key")" = 600 ] || fail "recipient.key mode"
expect_out "^recipient $(cat "$USETRACE_HOME/recipient.pub")$" "$USETRACE" keys show
echo "cli_local: ok"
