#!/bin/sh
# record_errors - bad input and failures: no display, an unreachable
# display, invalid options, an unwritable output directory, a full disk (a
# small tmpfs), and the display killed mid-recording.  Each gives a clear
# message and a non-zero exit, and everything recorded before the failure
# stays readable by `usetrace show`.
. "$(dirname "$0")/lib.sh"

expect_fail() { # expected-status pattern command...
	want=$1; pat=$2; shift 2
	rc=0
	"$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$E2E_TMP/err" >&2; fail "'$*' exited $rc, want $want"; }
	grep -q "$pat" "$E2E_TMP/err" || { cat "$E2E_TMP/err" >&2; fail "'$*': no message matching '$pat'"; }
}

# Usage errors exit 2 with a message.
expect_fail 2 "unknown option" "$USETRACE" record --out "$E2E_TMP/x" --bogus
expect_fail 2 "needs a value" "$USETRACE" record --out
expect_fail 2 "out DIR is required" "$USETRACE" record
expect_fail 2 "unknown command" "$USETRACE" frobnicate
expect_fail 2 "expected one recording" "$USETRACE" show
"$USETRACE" --help | grep -q "usage: usetrace" || fail "--help"
for c in record show scan; do
	"$USETRACE" "$c" --help | grep -q "usage: usetrace $c" || fail "$c --help"
done

# No display / unreachable display.
expect_fail 1 "no display" env -u DISPLAY "$USETRACE" record --out "$E2E_TMP/nodpy"
expect_fail 1 "cannot open display" "$USETRACE" record --out "$E2E_TMP/nodpy" --display :4999

# A recording that does not exist / is empty.
expect_fail 1 "cannot read" "$USETRACE" show "$E2E_TMP/missing"
mkdir "$E2E_TMP/empty"
expect_fail 1 "holds no recording" "$USETRACE" show "$E2E_TMP/empty"

# Unwritable output directory.
expect_fail 1 "cannot write to" "$USETRACE" record --out /proc/version/rec
if [ "$(id -u)" -ne 0 ]; then
	mkdir "$E2E_TMP/ro" && chmod 0500 "$E2E_TMP/ro"
	expect_fail 1 "Permission denied" "$USETRACE" record --out "$E2E_TMP/ro/rec"
fi

start_x 1280x800x24

# A full disk: a tmpfs with one free page.
MNT="$E2E_TMP/full"
mkdir "$MNT"
if mount -t tmpfs -o size=64k tmpfs "$MNT" 2>/dev/null; then
	MOUNTED=1
	head -c 61440 /dev/zero >"$MNT/filler"
	FAULT=""
else
	# No privilege to mount: the I/O seam reports ENOSPC the same way.
	MOUNTED=0
	FAULT="write:3:ENOSPC"
	echo "note: cannot mount a tmpfs here; injecting ENOSPC instead"
fi
UT_FSIO_FAULT=$FAULT "$USETRACE" record --out "$MNT/rec" 2>"$E2E_TMP/full.log" &
RP=$!
E2E_PIDS="$RP $E2E_PIDS"
i=0
until grep -q "recording display" "$E2E_TMP/full.log"; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "recorder did not start"; sleep 0.1
done
xdo mousemove 10 10 click 1
sleep 0.5
python3 -c '
import random
random.seed(7)
for i in range(6000):
    print("mousemove %d %d" % (random.randrange(1280), random.randrange(800)))
' >"$E2E_TMP/moves"
xdotool "$E2E_TMP/moves" || true
sleep 1
rc=0
if kill -0 "$RP" 2>/dev/null; then kill -INT "$RP"; fi
wait "$RP" || rc=$?
[ "$rc" -ne 0 ] || { cat "$E2E_TMP/full.log" >&2; fail "full disk: exit 0"; }
grep -q "No space left on device" "$E2E_TMP/full.log" || { cat "$E2E_TMP/full.log" >&2; fail "full disk: no clear message"; }
"$USETRACE" show "$MNT/rec" --raw >"$E2E_TMP/full.jsonl" 2>"$E2E_TMP/full.show" ||
	{ cat "$E2E_TMP/full.show" >&2; fail "full disk: recording unreadable"; }
grep -q '"type":"session"' "$E2E_TMP/full.jsonl" || fail "full disk: session record lost"
grep -q '"type":"button"' "$E2E_TMP/full.jsonl" || fail "full disk: acknowledged click lost"
[ "$MOUNTED" -eq 1 ] && umount "$MNT"

# The display killed mid-recording.
xterm -title ut-victim >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
W=$(wait_window ut-victim)
start_record "$E2E_TMP/killed"
xdo windowactivate --sync "$W"
xdo type --delay 10 "before the crash"
sleep 0.6  # past a group commit
kill -9 "$XVFB_PID"
rc=0
wait "$REC_PID" || rc=$?
[ "$rc" -ne 0 ] || fail "display killed: exit 0"
grep -q "lost the connection to display" "$REC_LOG" || { cat "$REC_LOG" >&2; fail "display killed: no message"; }
"$USETRACE" show "$E2E_TMP/killed" --json >"$E2E_TMP/killed.jsonl" || fail "killed: unreadable"
grep -q '"text":"before the crash"' "$E2E_TMP/killed.jsonl" || { cat "$E2E_TMP/killed.jsonl" >&2; fail "killed: typed text lost"; }
"$USETRACE" show "$E2E_TMP/killed" --raw | tail -1 | grep -q '"display lost"' || fail "killed: no END record"
echo "record_errors ok"
