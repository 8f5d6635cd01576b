#!/bin/sh
# blackout_bench.sh [SECONDS] - what blacking windows out of frames costs
# in the frame thread (PRIV-P4; not pass/fail), at 1920x1080: the same
# seeded office session in mousepad (default 120 s) twice,
#   1. plain: nothing denied, no secret;
#   2. blacked: a denied xterm on screen, and a card number typed into
#      mousepad first, so mousepad is on the typed-secrets board too;
# each with the recorder's CPU and the agent's own figures (grab + hashes
# per grab, the blackout part of it, encoding per stored frame).  The
# privacy filter's re-encoding of frames held with a burst is measured by
# build/bench/bench_pixels.
# With `atspi` as second argument the session runs with the accessibility
# bus, so the typed card number is found through AT-SPI and only its text
# box is black (one query of mousepad's text before and after each grab).
# Run from the source tree after building: bench/blackout_bench.sh 120 [atspi]
set -eu
if [ "${2:-}" = atspi ] && [ -z "${UT_E2E_DBUS:-}" ]; then
	UT_E2E_DBUS=1 exec dbus-run-session -- "$0" "$@"
fi
cd "$(dirname "$0")/.."
SECS=${1:-120}
. bench/lib.sh

[ "${2:-}" = atspi ] && start_a11y
start_office
xterm -title ut-bench-denied -geometry 60x15+1100+600 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
wait_window ut-bench-denied >/dev/null
cat >"$E2E_TMP/plain.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles, frames]
Y
cat >"$E2E_TMP/deny.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles, frames]
applications:
  deny: [xterm]
Y

run() { # name policy
	"$USETRACE" consent --yes --policy "$E2E_TMP/$2.yaml" >/dev/null
	start_record "$E2E_TMP/$1" --policy "$E2E_TMP/$2.yaml"
	xdotool windowactivate --sync "$MP"
	if [ "$1" = blacked ]; then
		xdotool type --delay 30 "card 4539 1488 0343 6467 "
		sleep 1.5 # the burst ends: mousepad joins the board
	fi
	r0=$(cpu_ticks "$REC_PID")
	"$INJECT" office "$SECS"
	r1=$(cpu_ticks "$REC_PID")
	stop_record
	python3 -c 'import sys; n, s, a, b, hz = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:6]); print("%s %d s: recorder %.2f%% of a core" % (n, s, (b - a) / hz / s * 100))' \
	    "$1" "$SECS" "$r0" "$r1" "$HZ"
	grep "frames:" "$REC_LOG" || true
}
run plain plain
run blacked deny
