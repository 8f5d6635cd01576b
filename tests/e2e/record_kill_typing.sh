#!/bin/sh
# record_kill_typing - SIGKILL during continuous typing loses a bounded part
# of it (the privacy filter's bounded hold, privacy.h), not the whole
# burst: 12 s of typing without a pause (about 300 characters), then a
# SIGKILL while typing goes on; the spool must hold all but at most 100 of
# the characters typed (at 30 ms a key about 3 s: the 1 s hold, the last
# word, the spool's group commit, and capture's lag on a loaded machine).
# Holding whole bursts loses all of them.  Not a timing assertion: the
# bound is on records, generous; bench/kill_typing_bench.sh measures the
# loss window.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
xterm -title ut-kill >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
W=$(wait_window ut-kill)
start_record "$E2E_TMP/rec"
xdo windowactivate --sync "$W"
out=$(python3 "$SRCDIR/tests/e2e/kill_typing.py" "$USETRACE" "$REC_PID" \
    "$E2E_TMP/rec" 12) || fail "typing driver"
wait "$REC_PID" 2>/dev/null || true
echo "record_kill_typing: $out"
set -- $out
[ "$1" = typed ] && [ "$2" -ge 200 ] || fail "typed too little: $out"
[ "$4" -gt 0 ] || fail "nothing of the typing reached the spool: $out"
[ "$6" -le 100 ] || fail "lost $6 of $2 characters typed"
echo "record_kill_typing ok"
