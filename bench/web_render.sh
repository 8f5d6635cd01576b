#!/bin/sh
# web_render.sh [BUILDDIR...] - the web page's render benchmark (issue 13;
# not pass/fail, not in CI).  For each build in turn (default: build; give
# a base build and this one to compare them in the same run): a real
# `usetrace serve` on loopback, one subject whose day holds SEGMENTS
# synthetic segments of about BYTES bytes each (ut-synth, FRAMES frames in
# every burst of activity: key frames and deltas as the agent stores them;
# the defaults make about 500 actions and 300 frames), then headless
# Chromium (tests/web/bench_render.mjs) signs in and measures, REPS times
# each in a fresh browser context (no cache):
#   days    #/days until the day's card is shown
#   day     #/day/DAY until its segments table is shown
#   replay  #/segment/ID (the day's largest) until every action is listed
#           and the first stored frame is drawn on the canvas
# with the bytes transferred (the Resource Timing transferSize of every
# request, headers included) and the requests.  Before that, the API calls
# behind the views are timed alone with curl (REPS times, median), and the
# server's peak RSS while it answers one frame is read (a restarted server,
# one small request, VmHWM of /proc/PID/status reset through clear_refs,
# then the frame: the growth of the peak over the RSS before): the first
# frame and the last of the largest segment (the last needs the longest
# chain of deltas).  Prints the load average at the start and end.
# Results: docs/BENCHMARKS.md, "Web page (issue 13)".
#
# Settings (environment): SEGMENTS (5), BYTES (2000000), FRAMES (2), REPS (5),
# UT_SYNTH (default: the first build's tests/tools/ut-synth, which must know
# --frames-per-burst; the same synthetic day is made for every build).
# Needs: builds, chromium, tests/web/node_modules (scripts/deps.sh).
set -eu
cd "$(dirname "$0")/.."
SRCDIR=$PWD
[ $# -gt 0 ] || set -- build
FIRST=$(cd "$1" && pwd)
export USETRACE="$FIRST/src/cli/usetrace" SRCDIR
export UT_SYNTH="${UT_SYNTH:-$FIRST/tests/tools/ut-synth}"
SEGMENTS=${SEGMENTS:-5}
BYTES=${BYTES:-2000000}
FRAMES=${FRAMES:-2}
REPS=${REPS:-5}
. "$SRCDIR/tests/server/cli_lib.sh"
. "$SRCDIR/tests/server/synth_lib.sh"

# median N...: the middle value (the upper one of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int(NR/2)+1]}'; }
# kb FIELD: FIELD of the server's /proc status, in kB.
kb() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$SRV_PID/status"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
n=0
for b in "$@"; do
	n=$((n + 1))
	BUILD=$(cd "$b" && pwd)
	USETRACE="$BUILD/src/cli/usetrace"
	echo "== build $b ($(git -C "$BUILD/.." rev-parse --short HEAD 2>/dev/null || echo '?'))"
	start_server "$T/data$n"
	login_as alice subject "$T/alice$n"
	TOKEN=$(sed -n 's/^token //p' "$T/out")
	add_device "$T/alice$n" "$T/dev$n"
	START="$(date -u +%Y-%m-%d)T00:00:10Z"
	expect 0 "" "$UT_SYNTH" --home "$T/dev$n" --out "$T/rec$n" --segments "$SEGMENTS" \
		--bytes "$BYTES" --frames-per-burst "$FRAMES" --seed 3 --start "$START"
	expect_out "^uploaded $SEGMENTS, kept 0$" as "$T/dev$n" upload "$T/rec$n"
	expect 0 "" as "$T/alice$n" my list --json
	cp "$T/out" "$T/list$n.json"
	BIG=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))["segments"]
print(max(s, key=lambda x: x["summary"]["actions"])["id"])' "$T/list$n.json")
	expect 0 "" as "$T/alice$n" my show "$BIG" --json
	F1=$(python3 -c 'import json,sys
print(next(a["frame"] for a in map(json.loads, open(sys.argv[1])) if a["frame"] is not None))' "$T/out")
	curl -sk -o "$T/flist" -H "Authorization: Bearer $TOKEN" -H "Usetrace-Purpose: self-access" \
		"$SRV_URL/v1/my/segments/$BIG/frames"
	FL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"][-1])' "$T/flist")
	# The API calls behind the views, alone (curl, bearer token): where the time goes.
	for p in /v1/my/days /v1/my/segments "/v1/my/segments/$BIG/actions" \
	    "/v1/my/segments/$BIG/frames" "/v1/my/segments/$BIG/frames/$F1" \
	    "/v1/my/segments/$BIG/frames/$FL"; do
		ts=""
		i=0
		while [ $i -lt "$REPS" ]; do
			i=$((i + 1))
			ts="$ts $(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
				-H "Usetrace-Purpose: self-access" "$SRV_URL$p")"
		done
		sz=$(curl -sk -o /dev/null -w '%{size_download}' -H "Authorization: Bearer $TOKEN" \
			-H "Usetrace-Purpose: self-access" "$SRV_URL$p")
		# shellcheck disable=SC2086
		echo "api $p: median $(median $ts) s of$ts; $sz bytes"
	done
	# Peak memory while one frame is answered: a fresh server (its index
	# kept from ingest), one small request first, the peak reset, the read.
	for f in "$F1" "$FL"; do
		restart_server "$T/data$n"
		curl -sk -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Usetrace-Purpose: self-access" \
			"$SRV_URL/v1/my/days"
		echo 5 >"/proc/$SRV_PID/clear_refs"
		before=$(kb VmRSS)
		curl -sk -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Usetrace-Purpose: self-access" \
			"$SRV_URL/v1/my/segments/$BIG/frames/$f"
		peak=$(kb VmHWM)
		echo "rss frame $f: +$((peak - before)) kB at the peak of the read ($before kB before; segment" \
			"$(python3 -c 'import json,sys
print(next(s["size"] for s in json.load(open(sys.argv[1]))["segments"] if s["id"] == sys.argv[2]))' \
			"$T/list$n.json" "$BIG") bytes)"
	done
	(cd "$SRCDIR/tests/web" && UT_CHROMIUM=${UT_CHROMIUM:-/usr/bin/chromium} \
		node bench_render.mjs "$SRV_URL" "$TOKEN" "$T/list$n.json" "$REPS")
	stop_server
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
