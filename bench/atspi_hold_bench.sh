#!/bin/sh
# atspi_hold_bench.sh [N] - the latency the AT-SPI hold adds to key
# records (PRIV-P4-2; not pass/fail).  After the focused window changes,
# capture holds the next key until AT-SPI has reported the newly focused
# accessible (at most 200 ms), so a key typed into a fresh password field
# is never decided on stale state.  Two mousepad windows take the focus in
# turn N times (default 40); a key is typed at once after each change.
# The agent logs how many keys waited and for how long.
# Run from the source tree after building: bench/atspi_hold_bench.sh 40
if [ -z "${UT_E2E_DBUS:-}" ]; then
	UT_E2E_DBUS=1 exec dbus-run-session -- "$0" "$@"
fi
set -eu
cd "$(dirname "$0")/.."
N=${1:-40}
. bench/lib.sh

start_x 1280x800x24
start_a11y
mousepad --disable-server "$E2E_TMP/a.txt" >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
A=$(wait_window a.txt)
mousepad --disable-server "$E2E_TMP/b.txt" >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
B=$(wait_window b.txt)
xdotool windowmove --sync "$A" 0 0 windowmove --sync "$B" 640 0
start_record "$E2E_TMP/rec"
i=0
while [ $i -lt "$N" ]; do
	xdotool windowactivate --sync "$A" key x
	sleep 0.3
	xdotool windowactivate --sync "$B" key y
	sleep 0.3
	i=$((i + 2))
done
stop_record
grep "secure input" "$REC_LOG" || echo "no key waited (AT-SPI off?)"
