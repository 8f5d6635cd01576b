#!/bin/sh
# synth_upload - segments made by ut-synth are what the agent writes: a
# subject's enrolled device writes 3 synthetic segments with a marker,
# `usetrace upload` sends them (stored, the local folder empty afterwards),
# `usetrace my list` names exactly the ids ut-synth printed, with their
# days, and `usetrace my show ID --json` prints exactly ut-synth's --expect
# file for each, with the marker typed and in a window title.  Segments that
# start at 23:59:30 yesterday cross 00:00 UTC: each lands on the day of its
# signed start time.  ut-synth's usage errors are clear.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

expect_out "^usage: ut-synth" "$UT_SYNTH" --help
expect 2 "--home HOME and --out DIR are required" "$UT_SYNTH" --out "$T/x"
expect 2 "--bytes wants" "$UT_SYNTH" --home "$T" --out "$T/x" --bytes 0
expect 2 "--start wants" "$UT_SYNTH" --home "$T" --out "$T/x" --start yesterday
expect 1 "not enrolled" "$UT_SYNTH" --home "$T/nobody" --out "$T/x"

start_server "$T/data"
ALICE="$T/alice"
DEV="$T/dev"
person_with_device alice "$ALICE" "$DEV"
expect 1 "no ingest key for 2020-01-01" \
	"$UT_SYNTH" --home "$DEV" --out "$T/x" --start 2020-01-01T00:00:00Z

MARK="zq-Marker-7731"
expect 0 "" "$UT_SYNTH" --home "$DEV" --out "$T/rec" --segments 3 --seed 11 \
	--marker "$MARK" --expect "$T/exp"
cp "$T/out" "$T/synth.out"
[ "$(grep -Ec '^segment [0-9a-f]{32} day [0-9]{4}-[0-9]{2}-[0-9]{2} bytes [0-9]+$' "$T/synth.out")" = 3 ] ||
	{ cat "$T/synth.out" >&2; fail "ut-synth did not print 3 segment lines"; }
[ "$(ls "$T/rec" | grep -c '\.uts$')" = 3 ] || fail "not 3 closed segments in the folder"
expect_out "^uploaded 3, kept 0$" env USETRACE_HOME="$DEV" "$USETRACE" upload "$T/rec"
[ "$(grep -c ' stored$' "$T/out")" = 3 ] || { cat "$T/out" >&2; fail "not 3 stored"; }
[ -z "$(ls -A "$T/rec")" ] || { ls -la "$T/rec" >&2; fail "the local folder is not empty"; }

# The server lists exactly these ids, each on the day ut-synth printed.
awk '{print $2}' "$T/synth.out" | sort >"$T/want.ids"
listed_ids "$ALICE" >"$T/got.ids"
cmp -s "$T/want.ids" "$T/got.ids" || { diff "$T/want.ids" "$T/got.ids" >&2; fail "my list ids"; }
expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my list
cp "$T/out" "$T/list.txt"
while read -r _ id _ day _ _; do
	grep -q "^$id  $day " "$T/list.txt" || { cat "$T/list.txt" >&2; fail "$id is not listed on $day"; }
	[ -s "$T/exp/$id.json" ] || fail "no expected actions for $id"
	expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my show "$id" --json
	cmp -s "$T/out" "$T/exp/$id.json" ||
		{ diff "$T/exp/$id.json" "$T/out" | head -20 >&2; fail "my show $id --json differs from --expect"; }
	grep -q "\"action\":\"type\".*\"text\":\"[^\"]*$MARK\"" "$T/out" || fail "$id: the marker was not typed"
	grep -q "\"title\":\"[^\"]*$MARK" "$T/out" || fail "$id: no window title with the marker"
done <"$T/synth.out"

# Across midnight: small segments (input records only) from 23:59:30
# yesterday; each is stored under the UTC day of its start.
Y=$(date -u -d yesterday +%Y-%m-%d)
TODAY=$(date -u +%Y-%m-%d)
expect 0 "" "$UT_SYNTH" --home "$DEV" --out "$T/mid" --segments 6 --bytes 4096 \
	--seed 5 --start "${Y}T23:59:30Z"
cp "$T/out" "$T/mid.out"
grep -q " day $Y " "$T/mid.out" && grep -q " day $TODAY " "$T/mid.out" ||
	{ cat "$T/mid.out" >&2; fail "the segments do not cross 00:00 UTC"; }
expect_out "^uploaded 6, kept 0$" env USETRACE_HOME="$DEV" "$USETRACE" upload "$T/mid"
expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my list
while read -r _ id _ day _ _; do
	grep -q "^$id  $day " "$T/out" || { cat "$T/out" >&2; fail "$id is not listed on $day"; }
done <"$T/mid.out"
# Rotated at 00:00 UTC as the agent does: no segment spans midnight.
expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my list --json
python3 - "$T/out" "$T/mid.out" "$(date -u -d "${TODAY}T00:00:00Z" +%s)" <<'PY' ||
import json, sys
segs = {s["id"]: s for s in json.load(open(sys.argv[1]))["segments"]}
midnight = int(sys.argv[3]) * 10**9
for line in open(sys.argv[2]):
    s = segs[line.split()[1]]
    if s["start_ns"] < midnight < s["end_ns"]:
        sys.exit("segment %s spans 00:00 UTC" % s["id"])
PY
	fail "a segment spans midnight"
echo "synth_upload: ok"
