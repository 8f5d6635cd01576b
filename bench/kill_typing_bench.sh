#!/bin/sh
# kill_typing_bench.sh [RUNS] [SECONDS] - the loss window after SIGKILL
# during continuous typing (issue 17): RUNS times (default 20), a fresh
# recording, SECONDS (default 6) of xdotool typing at 30 ms a key, a
# SIGKILL while typing goes on; per run the characters lost and the time
# from the last recorded key press to the kill.  Prints p50/p99/max.
# Not pass/fail (tests/e2e/record_kill_typing.sh asserts a bound).
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-20}
SECS=${2:-6}
. bench/lib.sh

start_x 1280x800x24
xterm -title ut-kill >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
W=$(wait_window ut-kill)
: >"$E2E_TMP/runs"
run=1
while [ $run -le "$RUNS" ]; do
	start_record "$E2E_TMP/rec$run"
	xdotool windowactivate --sync "$W"
	python3 "$SRCDIR/tests/e2e/kill_typing.py" "$USETRACE" "$REC_PID" \
	    "$E2E_TMP/rec$run" "$SECS" >>"$E2E_TMP/runs"
	wait "$REC_PID" 2>/dev/null || true
	rm -rf "$E2E_TMP/rec$run" "$XDG_RUNTIME_DIR/usetrace"
	run=$((run + 1))
done
python3 - "$E2E_TMP/runs" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
lost = sorted(int(r[5]) for r in rows)
win = sorted(float(r[7]) for r in rows)
typed = sum(int(r[1]) for r in rows) / len(rows)
def q(v, p):
    return v[min(len(v) - 1, int(p * len(v)))]
print("kill during typing: %d runs, %.0f characters typed per run" % (len(rows), typed))
print("characters lost: p50 %d, p99 %d, max %d" % (q(lost, .5), q(lost, .99), lost[-1]))
print("loss window (last recorded key -> SIGKILL): p50 %.0f ms, p99 %.0f ms, max %.0f ms"
      % (q(win, .5), q(win, .99), win[-1]))
PY
