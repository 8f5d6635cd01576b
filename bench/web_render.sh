#!/bin/sh
# web_render.sh [BUILDDIR] - the web page's render benchmark (issue 13; not
# pass/fail, not in CI): a real `usetrace serve` on loopback, one subject
# whose day holds SEGMENTS synthetic segments of about BYTES bytes each
# (ut-synth; roughly 1 frame per 8 actions), then headless Chromium
# (tests/web/bench_render.mjs) signs in and measures, REPS times each in a
# fresh browser context (no cache):
#   days    #/days until the day's card is shown
#   day     #/day/DAY until its segments table is shown
#   replay  #/segment/ID (the day's largest) until every action is listed
#           and the first stored frame is drawn on the canvas
# with the bytes transferred (the Resource Timing transferSize of every
# request, headers included) and the requests.  Prints each run and the
# medians; results: docs/BENCHMARKS.md, "Web page (issue 13)".
#
# Settings (environment): SEGMENTS (4: about 500 actions), BYTES (2000000), REPS (5).
# Needs: a build, chromium, tests/web/node_modules (scripts/deps.sh).
set -eu
cd "$(dirname "$0")/.."
SRCDIR=$PWD
BUILD=$(cd "${1:-build}" && pwd)
export USETRACE="$BUILD/src/cli/usetrace" UT_SYNTH="$BUILD/tests/tools/ut-synth" SRCDIR
SEGMENTS=${SEGMENTS:-4}
BYTES=${BYTES:-2000000}
REPS=${REPS:-5}
. "$SRCDIR/tests/server/cli_lib.sh"
. "$SRCDIR/tests/server/synth_lib.sh"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
start_server "$T/data"
login_as alice subject "$T/alice"
TOKEN=$(sed -n 's/^token //p' "$T/out")
add_device "$T/alice" "$T/dev"
START="$(date -u +%Y-%m-%d)T00:00:10Z"
expect 0 "" "$UT_SYNTH" --home "$T/dev" --out "$T/rec" --segments "$SEGMENTS" --bytes "$BYTES" \
	--seed 3 --start "$START"
expect_out "^uploaded $SEGMENTS, kept 0$" as "$T/dev" upload "$T/rec"
expect 0 "" as "$T/alice" my list --json
cp "$T/out" "$T/list.json"
# The API calls behind the views, timed alone (curl, bearer token): where the time goes.
BIG=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))["segments"]
print(max(s, key=lambda x: x["summary"]["actions"])["id"])' "$T/list.json")
expect 0 "" as "$T/alice" my show "$BIG" --json
F1=$(python3 -c 'import json,sys
print(next(a["frame"] for a in map(json.loads, open(sys.argv[1])) if a["frame"] is not None))' "$T/out")
for p in /v1/my/days /v1/my/segments "/v1/my/segments/$BIG/actions" "/v1/my/segments/$BIG/frames" \
    "/v1/my/segments/$BIG/frames/$F1"; do
	curl -sk -o /dev/null -w "api $p: %{time_total} s, %{size_download} bytes\n" \
		-H "Authorization: Bearer $TOKEN" -H "Usetrace-Purpose: self-access" "$SRV_URL$p"
done
cd "$SRCDIR/tests/web"
UT_CHROMIUM=${UT_CHROMIUM:-/usr/bin/chromium} node bench_render.mjs "$SRV_URL" "$TOKEN" "$T/list.json" "$REPS"
