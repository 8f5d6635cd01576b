#!/bin/sh
# The demo: installs what is needed, builds, starts a virtual X display
# (Xvfb) with a window manager and real applications (xterm, mousepad),
# drives a short scripted session with xdotool while `usetrace record`
# records it, and prints `usetrace show` of what was recorded.
# The recording is kept in ./demo-recording (override with DEMO_OUT); the
# demo's keys, consent and passphrase in ./demo-home, so that
#   USETRACE_HOME=demo-home USETRACE_PASSPHRASE_FILE=demo-home/passphrase \
#       build/src/cli/usetrace show demo-recording
# reads it again afterwards.  (A real passphrase never sits in a file.)
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
SRCDIR=$PWD
USETRACE=$PWD/build/src/cli/usetrace
DEMO_OUT=${DEMO_OUT:-$PWD/demo-recording}
USETRACE_HOME=${USETRACE_HOME:-$PWD/demo-home}
mkdir -p "$USETRACE_HOME" && chmod 700 "$USETRACE_HOME"
[ -f "$USETRACE_HOME/passphrase" ] || printf 'demo passphrase\n' >"$USETRACE_HOME/passphrase"
export SRCDIR USETRACE USETRACE_HOME
. "$SRCDIR/tests/e2e/lib.sh"
export USETRACE_PASSPHRASE_FILE="$USETRACE_HOME/passphrase"

echo "== the notice, generated from the policy, and the person's consent"
"$USETRACE" consent --yes

echo "== starting a virtual display with openbox, xterm and mousepad"
start_x 1280x800x24
xterm -title "demo terminal" -geometry 90x20+10+10 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
mousepad "$E2E_TMP/notes.txt" >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
XT=$(wait_window "demo terminal")
MP=$(wait_window Mousepad)
xdotool windowmove --sync "$MP" 560 200 windowsize --sync "$MP" 680 480
wait_editor_ready "$MP" "#"
xdotool key BackSpace

rm -rf "$DEMO_OUT"
echo "== recording into $DEMO_OUT"
start_record "$DEMO_OUT"
xdo windowactivate --sync "$MP"
sleep 0.3
xdo type --delay 40 "Meeting notes: ship the recorder on Friday."
xdo key Return
xdo type --delay 40 "Ask Anna about the review."
sleep 0.4
echo "== usetrace pause 3s: nothing typed now is recorded"
"$USETRACE" pause 3s
"$USETRACE" status | head -1
xdo type --delay 40 " (typed while paused)"
sleep 3.2
"$USETRACE" status | head -1
xdo windowactivate --sync "$MP"
xdo mousemove 700 290 click --repeat 2 --delay 80 1
sleep 0.6
xdo mousemove 590 290 mousedown 1
xdo mousemove 800 300
xdo mousemove 900 320 mouseup 1
sleep 0.4
xdo key ctrl+c
xdo click 5 click 5
sleep 0.6
xdo windowactivate --sync "$XT"
sleep 0.3
xdo type --delay 40 "ls -l"
xdo key Return
sleep 0.4
xdo key ctrl+l
sleep 0.6
stop_record
echo
echo "== usetrace show $DEMO_OUT"
"$USETRACE" show "$DEMO_OUT"
