#!/bin/sh
# frame_index - the replay's frames answered from the frame index (issue 13,
# src/server/frameidx.c, docs/WEB.md "Frames from the index"), against a
# real server:
#  - the frame list and every frame (PNG bytes), of key frames alone and
#    of key frames with chains of deltas (ut-synth --frames-per-burst),
#    equal what the routes answered before the index (the full walk, kept
#    behind the test hook USETRACE_TEST_FRAMES_FULLWALK=1), through
#    `usetrace my frames` and the raw list;
#  - a segment stored without an index (its side file removed, as for data
#    stored before the index existed) replays the same, and its index is
#    built and kept at that first read; a damaged index is rebuilt;
#  - a blob changed on disk is refused (500, nothing drawn), list aside;
#  - another person's segment and frames are denied like a missing one;
#  - the frame reads are in the person's audit trail.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"
command -v curl >/dev/null || fail "curl is required"

tok() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# get TOKEN PATH OUT: status printed, body in OUT.
get() {
	curl -sk -m 70 --pinnedpubkey "$SRV_PIN" -o "$3" -w '%{http_code}' \
		-H "Authorization: Bearer $1" -H "Usetrace-Purpose: self-access" "$SRV_URL$2"
}
blob_files() { find "$T/data/blobs" -type f ! -path "$T/data/blobs/tmp/*" ! -name '*.aux' | sort; }
flip() { python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[int(sys.argv[2]) % len(b)]^=0x10; open(p,"wb").write(b)' "$1" "$2"; }

export USETRACE_TEST_FRAMES_FULLWALK=1
start_server "$T/data"
unset USETRACE_TEST_FRAMES_FULLWALK
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
ALICE=$(tok "$T/alice/login.json" token)
BOB=$(tok "$T/bob/login.json" token)
START="$(date -u +%Y-%m-%d)T00:00:10Z"
# One segment per upload, so each blob file is known by its segment.
for i in 1 2; do
	blob_files >"$T/before"
	expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/rec$i" --segments 1 --bytes 200000 \
		--seed "$i" --start "$START" --frames-per-burst $((2 * i - 2))
	expect_out "^uploaded 1" as "$T/adev" upload "$T/rec$i"
	blob_files | grep -vxFf "$T/before" >"$T/new" || true
	[ "$(wc -l <"$T/new")" = 1 ] || { cat "$T/new" >&2; find "$T/data/blobs" >&2; fail "upload $i: not one new blob"; }
	eval "BLOB$i=\$(cat \"\$T/new\")"
	[ -f "$(cat "$T/new").aux" ] || fail "upload $i: no frame index kept at ingest"
done
SEGS=$(listed_ids "$T/alice")
[ "$(echo "$SEGS" | wc -l)" = 2 ] || fail "alice has not two segments"

# The reference: the routes as they were, walking the whole segment.
mkdir -p "$T/ref" "$T/idx"
for s in $SEGS; do
	[ "$(get "$ALICE" "/v1/my/segments/$s/frames" "$T/list.ref.$s")" = 200 ] || fail "reference list"
	expect_out "^wrote [1-9][0-9]* frames" as "$T/alice" my frames "$s" --out "$T/ref/$s"
done
FIRST=$(echo "$SEGS" | head -1)
F1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"][0])' "$T/list.ref.$FIRST")

# Segment 2 as stored before the index existed.
rm "$BLOB2.aux"
restart_server "$T/data"
for s in $SEGS; do
	[ "$(get "$ALICE" "/v1/my/segments/$s/frames" "$T/list.idx.$s")" = 200 ] || fail "indexed list"
	cmp "$T/list.ref.$s" "$T/list.idx.$s" || fail "the frame list of $s differs from the full walk's"
	expect_out "^wrote [1-9][0-9]* frames" as "$T/alice" my frames "$s" --out "$T/idx/$s"
done
diff -r "$T/ref" "$T/idx" >/dev/null || fail "frames differ from the full walk's"
[ -f "$BLOB2.aux" ] || fail "the index of an index-less segment was not kept at its first read"
n=$(find "$T/idx" -name '*.png' | wc -l)
[ "$n" -ge 4 ] || fail "too few frames to compare ($n)"

# A damaged index is rebuilt from the blob; the frames stay the same.
flip "$BLOB1.aux" 100
rm -rf "$T/idx" && mkdir "$T/idx"
for s in $SEGS; do
	expect_out "^wrote [1-9][0-9]* frames" as "$T/alice" my frames "$s" --out "$T/idx/$s"
done
diff -r "$T/ref" "$T/idx" >/dev/null || fail "frames differ after the index was rebuilt"
grep -q "frame index does not open" "$T/serve.1.err" || fail "the damaged index was not noticed"

# Another person: the same denial as a segment that does not exist.
[ "$(get "$BOB" "/v1/my/segments/$FIRST/frames" "$T/b1")" = 404 ] || fail "bob lists alice's frames"
[ "$(get "$BOB" "/v1/my/segments/$FIRST/frames/$F1" "$T/b2")" = 404 ] || fail "bob reads alice's frame"
[ "$(get "$BOB" "/v1/my/segments/0123456789abcdef0123456789abcdef/frames/$F1" "$T/b3")" = 404 ] ||
	fail "no 404 for a missing segment"
cmp "$T/b2" "$T/b3" || fail "another person's frame is denied otherwise than a missing one"
expect 1 "not_found" as "$T/bob" my frames "$FIRST" --out "$T/bobframes"

# The audit trail names the frame reads.
expect 0 "" as "$T/alice" my audit
grep -q "segment:$FIRST" "$T/out" || { cat "$T/out" >&2; fail "no audit entry of the frame reads"; }

# A blob changed on disk: every frame read is refused, nothing drawn.
for b in $BLOB1 $BLOB2; do
	size=$(stat -c %s "$b")
	flip "$b" $((size / 2))
done
for s in $SEGS; do
	f=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"][0])' "$T/list.ref.$s")
	[ "$(get "$ALICE" "/v1/my/segments/$s/frames/$f" "$T/bad")" = 500 ] ||
		fail "a frame of a changed blob was served"
	grep -q '"internal"' "$T/bad" || fail "no error body for a changed blob"
done
grep -q "does not match its name" "$T/serve.1.err" || fail "the changed blob was not named"
echo "ok"
