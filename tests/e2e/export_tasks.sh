#!/bin/sh
# export_tasks - task marks make episodes, and an exported episode replays
# faithfully.  A scripted session in mousepad between `usetrace task begin`
# and `usetrace task end --success` (the instruction holds an e-mail
# address, which the recorder redacts) is exported; the independent reader
# (export_check.py) finds exactly the recorded actions; the episode carries
# the redacted instruction and the outcome; `usetrace replay` of it onto a
# fresh mousepad produces the same saved file as the original session.
# Through the server: a second task (ended --fail) recorded on an enrolled
# device, uploaded, reviewed, approved and exported by a trainer is one
# episode with the instruction and the outcome, and the unmarked typing
# after it is another.
# OCR (tesseract): the person's name (login and full name, what the
# recorder knows as theirs) is drawn large in a denied window (xterm, by
# policy) during the first session; it is in no exported frame's OCR text,
# while a control word drawn the same way in an allowed window is (so the
# check cannot pass for want of OCR).  The login is also planted in the
# allowed window's title ("notes of LOGIN"): the recorded title is
# redacted ("[USER]"), and the window manager's title bar, which shows
# the title unredacted, is black in frames (capture blacks decorations),
# so OCR does not read it there either.  TITLE_PLANT overrides the
# planted title text.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"

start_x 1280x800x24
CHECK="$SRCDIR/tests/e2e/export_check.py"
A="$E2E_TMP/a.txt"
B="$E2E_TMP/b.txt"
: >"$A"
: >"$B"

editor() { # file -> $MP, placed and sized the same every time
	start_mousepad "$1"
	xdotool windowmove --sync "$MP" 300 100 windowsize --sync "$MP" 640 480
	sleep 0.5
	wait_editor_ready "$MP" "#"
	set -- $(xwininfo -id "$MP" | awk '/Absolute upper-left X/ {x=$NF} /Absolute upper-left Y/ {y=$NF} END {print x, y}')
	MPX=$1; MPY=$2
}

cat >"$E2E_TMP/p.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles, frames]
applications:
  deny: [xterm]
Y
"$USETRACE" consent --yes --policy "$E2E_TMP/p.yaml" >/dev/null || fail "consent"
NAME=$(id -un)
FULL=$(getent passwd "$NAME" | cut -d: -f5 | cut -d, -f1)
big_xterm() { # title class text geometry
	xterm -class "$2" -name "$2" -geometry "$4" -fa Monospace -fs 28 -title "$1" \
		-e sh -c "echo '$3'; sleep 600" >/dev/null 2>&1 &
	E2E_PIDS="$! $E2E_PIDS"
	wait_window "$1" >/dev/null
}
big_xterm ut-denied XTerm "$NAME $FULL" 24x2+960+420
big_xterm "ut-allowed ${TITLE_PLANT:-notes of $NAME}" UtShow PELICAN 12x2+960+120
editor "$A"
start_record "$E2E_TMP/rec" --policy "$E2E_TMP/p.yaml"
"$USETRACE" task begin "Write the notes for alice@example.com" >/dev/null ||
	fail "task begin"
xdo windowactivate --sync "$MP"
sleep 0.3
xdo mousemove $((MPX + 200)) $((MPY + 200)) click 1
sleep 0.5
xdo key ctrl+End
xdo type --delay 20 "Meeting notes"
xdo key Return
xdo type --delay 20 "first item: ok"
xdo key Return
xdo key BackSpace
xdo type --delay 20 "done."
sleep 0.3
xdo key ctrl+s
sleep 1
"$USETRACE" task end --success >/dev/null || fail "task end"
sleep 0.3
stop_record
"$USETRACE" task begin "x" >/dev/null 2>&1 && fail "task begin without a recorder"

"$USETRACE" show "$E2E_TMP/rec" --json >"$E2E_TMP/actions.jsonl"
"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
grep -q 'alice@example.com' "$E2E_TMP/raw.jsonl" && fail "the instruction's e-mail address was recorded"
"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/x" --format jsonl ||
	fail "export"
python3 "$CHECK" jsonl "$E2E_TMP/x" "$E2E_TMP/actions.jsonl" alice@example.com ||
	fail "export_check"
python3 - "$E2E_TMP/x/steps.jsonl" <<'PY' || fail "task episode"
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1])]
eps = {}
for s in steps:
    eps.setdefault(s["episode"], []).append(s)
tasks = [e for e, ss in eps.items() if ss[0]["task"] is not None]
assert len(tasks) == 1, "one marked task, got %r" % tasks
ss = eps[tasks[0]]
assert ss[0]["task"] == "Write the notes for [EMAIL]", ss[0]["task"]
typed = "".join(s["usetrace"].get("text", "") for s in ss if s["usetrace"]["type"] == "type")
assert "Meeting notes" in typed and "done." in typed, typed
assert ss[-1]["usetrace"].get("keys") == "ctrl+s", ss[-1]["usetrace"]
print("task episode %d: %d steps" % (tasks[0], len(ss)))
PY

# OCR of every exported frame: the control word is read, the name is not.
command -v tesseract >/dev/null || fail "tesseract is required (scripts/deps.sh)"
for f in "$E2E_TMP"/x/frames/*.png; do
	tesseract "$f" - --psm 11 2>/dev/null | tr '\n' ' '
	echo
done >"$E2E_TMP/ocr.txt"
# Matched without spaces, case aside (sparse OCR splits words: "PELI CAN").
tr -d ' ' <"$E2E_TMP/ocr.txt" | tr 'A-Z' 'a-z' >"$E2E_TMP/ocr.flat"
grep -q pelican "$E2E_TMP/ocr.flat" || { cat "$E2E_TMP/ocr.txt"; fail "OCR did not read the control word"; }
for w in $(echo "$NAME $FULL" | tr 'A-Z' 'a-z'); do
	grep -q -- "$w" "$E2E_TMP/ocr.flat" && { cat "$E2E_TMP/ocr.txt"; fail "OCR reads '$w' in an exported frame"; }
done
echo "OCR: control word read in $(grep -c pelican "$E2E_TMP/ocr.flat") of $(wc -l <"$E2E_TMP/ocr.flat") frames; no name"
EP=$(python3 -c "
import json,sys
for l in open('$E2E_TMP/x/steps.jsonl'):
    s=json.loads(l)
    if s['task']: print(s['episode']); break")
grep -q '"outcome": "success"' "$E2E_TMP/x/DATACARD.json" 2>/dev/null ||
	python3 -c "import json;d=json.load(open('$E2E_TMP/x/DATACARD.json'));assert d['outcomes']['success']==1,d" ||
	fail "datacard outcome"

# Replay onto a fresh editor in the same place.
kill "$(xdotool getwindowpid "$MP")" 2>/dev/null || true
sleep 0.5
"$USETRACE" replay "$E2E_TMP/x" --episode "$EP" --dry-run >"$E2E_TMP/dry.txt" ||
	fail "replay --dry-run"
grep -q '"type":"type"' "$E2E_TMP/dry.txt" || fail "dry run lists no typing"
editor "$B"
"$USETRACE" replay "$E2E_TMP/x" --episode "$EP" --quiet || fail "replay"
sleep 1
cmp "$A" "$B" || { od -c "$A" | head; od -c "$B" | head; fail "the replayed file differs"; }
"$USETRACE" replay "$E2E_TMP/x" --episode 999 2>/dev/null && fail "replay of a missing episode"

# Task marks through the server (an enrolled device's recording is sealed
# to the server: this one is read back only as the trainer's export).
start_server "$E2E_TMP/srv"
export USETRACE_HOME="$E2E_TMP/devhome"
add_person alice "$USETRACE_HOME" >/dev/null
enroll_here "$USETRACE_HOME"
"$USETRACE" consent --yes >/dev/null || fail "consent"
add_person rita "$E2E_TMP/rita" reviewer >/dev/null
add_person tina "$E2E_TMP/tina" trainer >/dev/null
C="$E2E_TMP/c.txt"
: >"$C"
editor "$C"
start_record "$E2E_TMP/rec2" --no-upload
# (A placeholder in it would make the segment sensitivity 3, above the
# default policy's export threshold: nothing of it would be exported.)
"$USETRACE" task begin "Reply to the team" >/dev/null || fail "task begin (2)"
xdo windowactivate --sync "$MP"
sleep 0.3
xdo mousemove $((MPX + 200)) $((MPY + 200)) click 1
sleep 0.5
xdo type --delay 20 "Thanks"
xdo key ctrl+s
sleep 1
"$USETRACE" task end --fail >/dev/null || fail "task end (2)"
sleep 0.3
xdo type --delay 20 "unmarked"
sleep 0.5
stop_record
"$USETRACE" upload "$E2E_TMP/rec2" >"$E2E_TMP/upload.out" || fail "upload"
for s in $(my_segments "$USETRACE_HOME"); do
	as_admin admin assign "$s" rita >"$E2E_TMP/assign.out" || fail "assign"
	USETRACE_HOME="$E2E_TMP/rita" "$USETRACE" review approve \
		"$(sed -n 's/^assigned //p' "$E2E_TMP/assign.out")" >/dev/null || fail "approve"
done
USETRACE_HOME="$E2E_TMP/tina" "$USETRACE" export --export ds --out "$E2E_TMP/xs" \
	--format jsonl --quiet || fail "export through the server"
python3 "$CHECK" jsonl "$E2E_TMP/xs" - alice@example.com >/dev/null || fail "export_check (server)"
python3 - "$E2E_TMP/xs/steps.jsonl" "$E2E_TMP/xs/DATACARD.json" <<'PY' || fail "server task episode"
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1])]
eps = {}
for s in steps:
    eps.setdefault(s["episode"], []).append(s)
tasks = [ss for ss in eps.values() if ss[0]["task"] is not None]
assert len(tasks) == 1, "one marked task through the server, got %d" % len(tasks)
ss = tasks[0]
assert all(s["task"] == "Reply to the team" for s in ss), ss[0]["task"]
typed = lambda ss: "".join(s["usetrace"].get("text") or "" for s in ss if s["usetrace"]["type"] == "type")
assert typed(ss) == "Thanks", typed(ss)
assert ss[-1]["usetrace"].get("keys") == "ctrl+s", ss[-1]["usetrace"]
rest = [s for s in steps if s["task"] is None]
assert "unmarked" in typed(rest), typed(rest)
card = json.load(open(sys.argv[2]))
assert card["outcomes"]["failure"] == 1 and card["outcomes"]["success"] == 0, card["outcomes"]
print("server task episode: %d steps, outcome failure" % len(ss))
PY
echo "export_tasks ok: $(wc -c <"$B") bytes replayed identically"
