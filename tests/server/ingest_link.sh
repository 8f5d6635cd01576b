#!/bin/sh
# ingest_link - the server checks the v2 link between segments on ingest
# (docs/FORMAT.md 2.2): a segment whose predecessor is stored with another
# trailer than the one its signed header names is rejected, with an
# alert; a linked segment whose predecessor is not stored yet is accepted
# (uploads may come in any order).
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

start_server "$T/data"
person_with_device alice "$T/alice" "$T/dev"

# Two linked segments; the second is uploaded first, alone: accepted.
expect 0 "" "$UT_SYNTH" --home "$T/dev" --out "$T/rec" --segments 2 --seed 3
expect 0 "" "$USETRACE" spool check "$T/rec"
mkdir "$T/later" && chmod 700 "$T/later"
cp "$T/rec/seg-00000001.uts" "$T/keep-seg1"
mv "$T/rec/seg-00000002.uts" "$T/later/"
mkdir "$T/rec2" && chmod 700 "$T/rec2"
# The same first segment, its trailer cut off (as if a crash had left it
# open): the next writer recovers it with another trailer and links to that.
python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d[:-117])' \
	"$T/keep-seg1" "$T/rec2/seg-00000001.uts.open"
expect 0 "" "$UT_SYNTH" --home "$T/dev" --out "$T/rec2" --segments 1 --seed 4
[ -f "$T/rec2/seg-00000002.uts" ] || { ls -l "$T/rec2" >&2; fail "no second segment in rec2"; }

expect_out "^uploaded 1, kept 0$" env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/later"
grep -q ' stored$' "$T/out" || { cat "$T/out" >&2; fail "a segment whose predecessor is not stored yet was refused"; }
# The original first segment: stored, and the link of the one before holds.
expect_out "^uploaded 1, kept 0$" env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec"

# rec2's segment 2 names segment 1 with the recovered trailer: rejected.
rm -f "$T/rec2/seg-00000001.uts"
rc=0
env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec2" >"$T/out" 2>"$T/err" || rc=$?
grep -q 'rejected' "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "a segment with a broken link was not rejected"; }
grep -q 'its link does not match the stored segment it follows' "$T/out" "$T/err" ||
	{ cat "$T/out" "$T/err" >&2; fail "no reason naming the link"; }
login_as carol auditor "$T/carol"
expect_out '"alerts"' as "$T/carol" audit alerts --json
grep -q "rejected: its link does not match" "$T/out" ||
	{ cat "$T/out" >&2; fail "no alert for the broken link"; }
echo "ok: linked ingest"
