#!/bin/sh
# review - reviewers see only what an admin assigned them, in the
# reviewer's view: `usetrace admin segments` (metadata), `admin assign`
# (one segment, or a share of everyone's), `review queue|show|approve|
# reject`, `my withdraw-review`.  The view carries no name, pseudonym,
# device id or wall-clock time and re-scans window titles; the person
# sees the assignment and the reads in `my audit`; another reviewer, a
# subject and an admin read nothing; withdrawal and erasure take segments
# out of every queue.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"


start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
login_as rita reviewer "$T/rita"
login_as ron reviewer "$T/ron"
EMAIL=zed.quill@example.org
MARK="QQmark71 $EMAIL"
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 2 --seed 1 --marker "$MARK"
expect_out "^uploaded 2" as "$T/adev" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 2
expect_out "^uploaded 1" as "$T/bdev" upload "$T/brec"
A1=$(listed_ids "$T/alice" | sed -n 1p)
A2=$(listed_ids "$T/alice" | sed -n 2p)
ASUBJ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subject_id"])' "$T/adev/device.json")

# The admin sees metadata, and assigns.
expect 0 "" as_admin "$USETRACE" admin segments
[ "$(grep -c . "$T/out")" = 3 ] || { cat "$T/out" >&2; fail "admin segments: not 3"; }
grep -q "^$A1  $ASUBJ " "$T/out" || fail "admin segments: no line for $A1"
grep -q "QQmark71\|$EMAIL\|Mousepad\|Firefox" "$T/out" && fail "admin segments shows content"
expect_out "^assigned [0-9a-f]{32}$" as_admin "$USETRACE" admin assign "$A1" rita
RID=$(sed -n 's/^assigned //p' "$T/out")
expect 1 "conflict" as_admin "$USETRACE" admin assign "$A1" rita
expect 1 "not_found" as_admin "$USETRACE" admin assign "$A1" bob
expect 1 "not_found" as_admin "$USETRACE" admin assign 0123456789abcdef0123456789abcdef rita
expect 2 "SEGMENT" as_admin "$USETRACE" admin assign "$A1"

# Queues: rita has one, ron none.
expect 0 "" as "$T/rita" review queue
grep -q "^$RID  p-[0-9a-f]\{16\} " "$T/out" || { cat "$T/out" >&2; fail "rita's queue"; }
[ "$(grep -c . "$T/out")" = 1 ] || fail "rita's queue is not 1"
expect 0 "" as "$T/ron" review queue
[ ! -s "$T/out" ] || fail "ron's queue is not empty"

# The reviewer's view.
expect 0 "" as "$T/rita" review show "$RID" --json
cp "$T/out" "$T/view"
expect 0 "" as "$T/alice" my show "$A1" --json
cp "$T/out" "$T/own"
[ "$(wc -l <"$T/view")" = "$(wc -l <"$T/own")" ] || fail "the view has other actions than the segment"
grep -q "QQmark71 \[EMAIL\]" "$T/view" || { head -3 "$T/view" >&2; fail "the title was not re-scanned"; }
python3 - "$T/view" "$EMAIL" "$ASUBJ" <<'PY' || fail "the reviewer's view holds what it must not"
import json, sys
view, email, subj = sys.argv[1], sys.argv[2], sys.argv[3]
for line in open(view):
    a = json.loads(line)
    for k in ("title", "app"):
        if email in str(a.get(k, "")):
            sys.exit("title or app still holds the address")
text = open(view).read()
for bad in (subj, "alice", "wall_ns", "device"):
    if bad in text:
        sys.exit("found " + bad)
PY
expect_out "\[EMAIL\]" as "$T/rita" review show "$RID"
# The frames, as the device stored them.
expect_out "^wrote [1-9][0-9]* frames" as "$T/rita" review frames "$RID" --out "$T/rframes"
[ "$(ls "$T/rframes" | grep -c '\.png$')" -ge 1 ] || fail "no reviewer frames written"
expect 0 "" as "$T/alice" my frames "$A1" --out "$T/aframes"
[ "$(ls "$T/rframes" | wc -l)" = "$(ls "$T/aframes" | wc -l)" ] || fail "the reviewer sees other frames than the person"
expect 1 "not_found" as "$T/ron" review frames "$RID" --out "$T/ronframes"
# Nobody else reads it.
expect 1 "not_found" as "$T/ron" review show "$RID"
expect 1 "forbidden" as "$T/bob" review show "$RID"
expect 1 "forbidden" as_admin "$USETRACE" review show "$RID"
expect 1 "not_found" as "$T/rita" review show 0123456789abcdef0123456789abcdef

# Decisions.
expect_out "approved" as "$T/rita" review approve "$RID"
expect 1 "conflict" as "$T/rita" review approve "$RID"
expect 2 "--reason" as "$T/rita" review reject "$RID"
expect 0 "" as "$T/rita" review queue
[ ! -s "$T/out" ] || fail "a decided assignment is still queued"

# The person sees the assignment and the read.
expect 0 "" as "$T/alice" my audit
grep -q "admin (admin)  administration  assign segment:$A1" "$T/out" ||
	{ cat "$T/out" >&2; fail "my audit: no assignment"; }
grep -q "rita (reviewer)  review  review_read segment:$A1" "$T/out" ||
	{ cat "$T/out" >&2; fail "my audit: no reviewer read"; }
expect 0 "" as "$T/bob" my audit
grep -q "rita\|assign" "$T/out" && fail "bob's audit shows alice's review"

# A share of everyone's segments: all three to ron.
expect 0 "" as_admin "$USETRACE" admin assign --share 1 ron
[ "$(grep -c '^assigned ' "$T/out")" = 3 ] || { cat "$T/out" >&2; fail "share 1: not 3"; }
expect 0 "" as "$T/ron" review queue --json
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["assignments"]))' "$T/out")" = 3 ] ||
	fail "ron's queue is not 3"

# alice withdraws A1: rita's approved and ron's pending assignment go.
expect_out "withdrawn from review: $A1 \(2 assignments\)" as "$T/alice" my withdraw-review "$A1"
expect 1 "not_found" as "$T/rita" review show "$RID"
expect 1 "not_found" as "$T/bob" my withdraw-review "$A1"
expect 0 "" as "$T/ron" review queue
[ "$(grep -c . "$T/out")" = 2 ] || { cat "$T/out" >&2; fail "ron's queue after the withdrawal"; }
R2=$(sed -n 1p "$T/out" | cut -d' ' -f1)
expect_out "rejected" as "$T/ron" review reject "$R2" --reason "blurry screen"
expect 0 "" as "$T/ron" review queue
[ "$(grep -c . "$T/out")" = 1 ] || fail "ron's queue after a rejection"

# alice erases her segments' day: they leave every queue.
expect_out "^assigned " as_admin "$USETRACE" admin assign "$A2" rita
R3=$(sed -n 's/^assigned //p' "$T/out")
expect_out "^$R3 " as "$T/rita" review queue
for d in $(as "$T/alice" my list --json | python3 -c 'import json,sys
print(" ".join(sorted({s["day"] for s in json.load(sys.stdin)["segments"]})))'); do
	expect_out "erased" as "$T/alice" my erase --day "$d" --yes
done
expect 0 "" as "$T/rita" review queue
[ ! -s "$T/out" ] || { cat "$T/out" >&2; fail "an erased segment is still queued"; }
expect 1 "not_found" as "$T/rita" review show "$R3"
echo "review: ok"
