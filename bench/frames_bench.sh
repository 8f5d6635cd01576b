#!/bin/sh
# frames_bench.sh [SECONDS] - screen frames at 1920x1080 (not pass/fail):
#   1. an office session (default 300 s): a seeded mix of typing, scrolling
#      and clicking in a real editor (mousepad with a long document) driven
#      by bench_inject; recorder and X server CPU, steady RSS, bytes per
#      hour of frames and events, per-frame grab and encode time
#   2. a static screen for 60 s: recorder CPU
# Run from the source tree after building: bench/frames_bench.sh 300
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-300}
. bench/lib.sh

start_office
xdotool windowactivate --sync "$MP"

run() { # name seconds inject-mode
	start_record "$E2E_TMP/$1"
	x0=$(cpu_ticks "$XVFB_PID")
	r0=$(cpu_ticks "$REC_PID")
	if [ "$3" = office ]; then
		"$INJECT" office "$2" &
		IP=$!
	else
		sleep "$2" &
		IP=$!
	fi
	: >"$E2E_TMP/rss"
	while kill -0 "$IP" 2>/dev/null; do
		rss_kb "$REC_PID" >>"$E2E_TMP/rss"
		sleep 5
	done
	r1=$(cpu_ticks "$REC_PID")
	x1=$(cpu_ticks "$XVFB_PID")
	stop_record
	bytes=$(cat "$E2E_TMP/$1"/seg-* | wc -c)
	python3 - "$1" "$2" "$r0" "$r1" "$x0" "$x1" "$HZ" "$bytes" "$E2E_TMP/rss" <<'PY'
import sys
name, secs, r0, r1, x0, x1, hz, b = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:9])
rss = [int(l) for l in open(sys.argv[9]) if l.strip()]
print("%s %d s: recorder %.2f%% of a core, X server %.2f%%, %.1f MB/h, rss median %.1f MB max %.1f MB (2nd half growth %+.1f MB)" % (
    name, secs, (r1 - r0) / hz / secs * 100, (x1 - x0) / hz / secs * 100,
    b * 3600 / secs / 1e6, sorted(rss)[len(rss) // 2] / 1024, max(rss) / 1024,
    (rss[-1] - rss[len(rss) // 2]) / 1024))
PY
	grep "frames:" "$REC_LOG" || true
}
run office "$SECS" office
run static 60 sleep
