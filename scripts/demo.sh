#!/bin/sh
# The demo: installs what is needed, builds, starts a usetrace server on
# loopback, brings a person and this device to it (claim code, login,
# enrollment, consent), starts a virtual X display (Xvfb) with a window
# manager and real applications (xterm, mousepad), drives a short scripted
# session with xdotool while `usetrace record` records it (sealed to the
# server's ingest key: this device cannot read it back) and uploads it in
# the background (`usetrace upload` sends what is left), shows
# the person their own data from the server and who read it (`usetrace my
# audit`), signs the person in to the web page in headless Chromium and
# saves screenshots of their day and of a replay (printed as `screenshot
# PATH`, in demo/screenshots; skipped without Chromium or
# tests/web/node_modules), erases the day and shows it gone, and verifies
# the audit log.
# Everything is kept under ./demo (override with DEMO_DIR): the server's
# data in demo/server (its master key in demo/server.master-key, beside it,
# never inside), the person's keys and login in demo/home, the recording
# (emptied by the upload) in demo/recording.  Each run starts afresh.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
SRCDIR=$PWD
USETRACE=$PWD/build/src/cli/usetrace
DEMO_DIR=${DEMO_DIR:-$PWD/demo}
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR/home" && chmod 700 "$DEMO_DIR/home"
DEMO_OUT=$DEMO_DIR/recording
USETRACE_HOME=$DEMO_DIR/home
export SRCDIR USETRACE USETRACE_HOME
unset USETRACE_SERVER USETRACE_TOKEN USETRACE_PIN
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/e2e/server_lib.sh"

echo "== starting the server on loopback (data in $DEMO_DIR/server)"
start_server "$DEMO_DIR/server"
cat "$SRV_OUT"
echo "== the admin adds a person; only the person turns the claim code into a token"
add_person demo-person "$USETRACE_HOME" >/dev/null
cat "$E2E_TMP/login.demo-person.out" | sed 's/^token .*/token (saved in demo\/home\/login.json, not shown)/'
echo "== the person enrolls this device with a one-time code"
enroll_here "$USETRACE_HOME"

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
echo "== the recorder uploaded each closed segment in the background and deleted"
echo "   it here after its signed receipt; what is left is sealed to the server:"
echo "   this device checks it without reading it"
if ls "$DEMO_OUT"/seg-*.uts >/dev/null 2>&1; then
	"$USETRACE" spool check "$DEMO_OUT"
else
	echo "(nothing left: every segment is on the server)"
fi
echo
echo "== usetrace upload: sends whatever the recorder had not sent yet"
"$USETRACE" upload "$DEMO_OUT"
echo
echo "== usetrace my list: the person's own data, from the server"
"$USETRACE" my list
SEGS=$(my_segments "$USETRACE_HOME")
for SEG in $SEGS; do
	echo
	echo "== usetrace my show $SEG"
	"$USETRACE" my show "$SEG"
done
echo
echo "== usetrace my audit: who read this person's data, and what the admin did"
"$USETRACE" my audit
echo
echo "== the person's web page (headless Chromium): their day and a replay"
WEB=$SRCDIR/tests/web
if [ -x "${UT_CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$WEB/node_modules/@playwright/test" ]; then
	"$USETRACE" my list --json >"$E2E_TMP/list.json"
	TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
		"$USETRACE_HOME/login.json")
	(cd "$WEB" && node demo_page.mjs "$SRV_URL" "$TOKEN" "$E2E_TMP/list.json" \
		"$DEMO_DIR/screenshots") || echo "(the page could not be shown; see the message above)"
	unset TOKEN
else
	echo "(skipped: no Chromium or tests/web/node_modules; scripts/deps.sh installs both)"
fi
DAY=$(date -u +%Y-%m-%d)
echo
echo "== usetrace my erase --day $DAY: the day's keys are destroyed before the answer"
"$USETRACE" my erase --day "$DAY" --yes
echo "== usetrace my list afterwards"
"$USETRACE" my list >"$E2E_TMP/after.txt"
if [ -s "$E2E_TMP/after.txt" ]; then cat "$E2E_TMP/after.txt"; else echo "(no segments)"; fi
if "$USETRACE" my show "$SEG" >/dev/null 2>"$E2E_TMP/gone.err"; then
	fail "an erased segment still reads"
fi
echo "usetrace my show $SEG: $(cat "$E2E_TMP/gone.err")"
stop_server
echo
echo "== usetrace audit verify: the hash chain and signed checkpoints, offline"
"$USETRACE" audit verify --data "$DEMO_DIR/server"
