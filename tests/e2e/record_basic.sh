#!/bin/sh
# record_basic - a scripted session with real applications (xterm and the
# GTK editor mousepad) under Xvfb + openbox: typing, clicks, a double click,
# a drag-select, scrolling, hotkeys and focus switches.  Asserts that every
# injected input is recorded exactly once with the right keys/text,
# coordinates and window, and that the derived actions are the expected
# list, in order.
#
# With the argument "server", the same session is recorded by an enrolled
# device, uploaded to a real `usetrace serve` on loopback, and read back
# with `usetrace my show` (the same checks on the server's answers); then
# a second person and the admin try to read it and get nothing.
. "$(dirname "$0")/lib.sh"
MODE=${1:-local}

start_x 1280x800x24
xterm -title ut-xterm -geometry 80x20+0+0 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
mousepad "$E2E_TMP/notes.txt" >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
XT=$(wait_window ut-xterm)
MP=$(wait_window Mousepad)
xdotool windowmove --sync "$MP" 600 60 windowsize --sync "$MP" 640 500
sleep 0.5

abs() { # window -> "X Y" absolute origin of its client area
	xwininfo -id "$1" | awk '/Absolute upper-left X/ {x=$NF} /Absolute upper-left Y/ {y=$NF} END {print x, y}'
}
set -- $(abs "$MP"); MPX=$1; MPY=$2
set -- $(abs "$XT"); XTX=$1; XTY=$2

wait_editor_ready "$MP" "#"
if [ "$MODE" = server ]; then
	. "$(dirname "$0")/server_lib.sh"
	start_server "$E2E_TMP/srv"
	HOME_A="$XDG_CONFIG_HOME/usetrace"
	add_person alice "$HOME_A" >/dev/null
	enroll_here "$HOME_A"
	# This mode checks `usetrace upload` by hand (replays, forgeries);
	# background upload has its own tests (upload_background.sh).
	start_record "$E2E_TMP/rec" --no-upload
else
	start_record "$E2E_TMP/rec"
fi

xdo windowactivate --sync "$MP"
sleep 0.3
xdo type --delay 15 "Hello world"
xdo key Return
xdo type --delay 15 "second line"
sleep 0.3
# Double click on a word of the text.
DCX=$((MPX + 40)); DCY=$((MPY + 90))
xdo mousemove "$DCX" "$DCY"
xdo click --repeat 2 --delay 60 1
sleep 0.6
# Drag-select.
D1X=$((MPX + 15)); D1Y=$((MPY + 90)); D2X=$((MPX + 300)); D2Y=$((MPY + 130))
xdo mousemove "$D1X" "$D1Y" mousedown 1
xdo mousemove $((D1X + 100)) $((D1Y + 20))
xdo mousemove "$D2X" "$D2Y" mouseup 1
sleep 0.6
# Scroll down three notches.
xdo click 5
xdo click 5
xdo click 5
sleep 0.7
xdo key ctrl+End
xdo key ctrl+shift+Home
sleep 0.3
# Switch to the terminal and type there.
xdo windowactivate --sync "$XT"
sleep 0.3
xdo type --delay 15 "echo hi"
xdo key Return
sleep 0.3
CLX=$((XTX + 50)); CLY=$((XTY + 40))
xdo mousemove "$CLX" "$CLY" click 3
sleep 0.6
stop_record

if [ "$MODE" = server ]; then
	NSEG=$(ls "$E2E_TMP/rec" | grep -c '^seg-.*\.uts$' || true)
	cp -r "$E2E_TMP/rec" "$E2E_TMP/replay"
	cp -r "$E2E_TMP/rec" "$E2E_TMP/forged"
	"$USETRACE" upload "$E2E_TMP/rec" || fail "upload"
	ls "$E2E_TMP/rec"/seg-*.uts >/dev/null 2>&1 && fail "uploaded segments are still on the device"
	# The same bytes again: the same receipt, nothing stored twice.
	"$USETRACE" upload "$E2E_TMP/replay" >"$E2E_TMP/replay.out" || fail "replayed upload"
	grep -q "stored" "$E2E_TMP/replay.out" || { cat "$E2E_TMP/replay.out"; fail "replay receipt"; }
	# Other bytes under the same id (one flipped byte in a frame): rejected, final.
	for f in "$E2E_TMP/forged"/seg-*.uts; do
		python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[400]^=1; open(p,'wb').write(b)" "$f"
	done
	"$USETRACE" upload "$E2E_TMP/forged" >"$E2E_TMP/forged.out" || fail "forged upload"
	grep -q "rejected" "$E2E_TMP/forged.out" || { cat "$E2E_TMP/forged.out"; fail "forged segment not rejected"; }
	: >"$E2E_TMP/raw.jsonl"; : >"$E2E_TMP/actions.jsonl"
	SEGS=$(my_segments "$HOME_A")
	[ -n "$SEGS" ] || fail "no segment on the server"
	[ "$(echo "$SEGS" | wc -l)" -eq "$NSEG" ] || fail "$NSEG segments recorded, the server has: $SEGS"
	for s in $SEGS; do
		"$USETRACE" my show "$s" --raw >>"$E2E_TMP/raw.jsonl" || fail "my show --raw"
		"$USETRACE" my show "$s" --json >>"$E2E_TMP/actions.jsonl" || fail "my show --json"
	done
	"$USETRACE" my show $(echo "$SEGS" | head -1)
	# Nobody else reads it: another subject, and the admin.
	BOB_TOKEN=$(add_person bob "$E2E_TMP/bob")
	for s in $SEGS; do
		for what in --json --raw; do
			USETRACE_HOME="$E2E_TMP/bob" "$USETRACE" my show "$s" $what \
				>"$E2E_TMP/bob.out" 2>&1 && fail "bob read alice's segment"
			grep -q "not_found" "$E2E_TMP/bob.out" || { cat "$E2E_TMP/bob.out"; fail "bob's denial is not 'not found'"; }
			as_admin my show "$s" $what >"$E2E_TMP/admin.out" 2>&1 && fail "the admin read content"
		done
		USETRACE_HOME="$E2E_TMP/bob" "$USETRACE" my frames "$s" --out "$E2E_TMP/bobframes" \
			>/dev/null 2>&1 && fail "bob read alice's frames"
		grep -q "Hello" "$E2E_TMP/bob.out" "$E2E_TMP/admin.out" && fail "content in a denial"
	done
	USETRACE_HOME="$E2E_TMP/bob" "$USETRACE" my list --json | grep -q '"id"' && fail "bob lists alice's segments"
	"$USETRACE" my audit >"$E2E_TMP/audit.txt" || fail "my audit"
	grep -q "read_actions" "$E2E_TMP/audit.txt" || { cat "$E2E_TMP/audit.txt"; fail "alice's reads are not in her audit"; }
	stop_server
	"$USETRACE" audit verify --data "$E2E_TMP/srv" || fail "audit verify"
else
	"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
	"$USETRACE" show "$E2E_TMP/rec" --json >"$E2E_TMP/actions.jsonl"
	"$USETRACE" show "$E2E_TMP/rec" >"$E2E_TMP/show.txt"
	cat "$E2E_TMP/show.txt"
fi

python3 - "$E2E_TMP" <<PY
import json, sys
d = sys.argv[1]
raw = [json.loads(l) for l in open(d + "/raw.jsonl")]
acts = [json.loads(l) for l in open(d + "/actions.jsonl")]
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)

seqs = [r["seq"] for r in raw]
check(seqs == sorted(set(seqs)), "sequence numbers unique and increasing")
check(raw[0]["type"] == "session" and raw[-1]["type"] == "end", "session ... end")

# Keys: every injected character exactly once, in order.
typed = "".join(r["text"] for r in raw if r["type"] == "key" and r["down"])
typed = typed.replace("\r", "\n")
check(typed == "Hello world\nsecond line" + "echo hi\n",
      "typed text exactly once: %r" % typed)
presses = [r["name"] for r in raw if r["type"] == "key" and r["down"]]
rels = [r["name"] for r in raw if r["type"] == "key" and not r["down"]]
check(len(presses) == len(rels), "every key press has its release")
check(presses.count("End") == 1 and presses.count("Home") == 1, "hotkey keys once")
check(presses.count("Control_L") == 2, "ctrl pressed twice: %r" % presses.count("Control_L"))

# Buttons at the exact injected coordinates.
bt = [(r["button"], r["down"], r["x"], r["y"]) for r in raw if r["type"] == "button"]
exp = [(1, True, $DCX, $DCY), (1, False, $DCX, $DCY)] * 2 + \
      [(1, True, $D1X, $D1Y), (1, False, $D2X, $D2Y)] + \
      [(5, True, $D2X, $D2Y), (5, False, $D2X, $D2Y)] * 3 + \
      [(3, True, $CLX, $CLY), (3, False, $CLX, $CLY)]
check(bt == exp, "buttons: %r != %r" % (bt, exp))

# Actions, in order (pointer moves aside).
a = [x for x in acts if x["action"] != "move"]
want = [
    ("type", "Mousepad", {"text": "Hello world\nsecond line"}),
    ("double_click", "Mousepad", {"x": $DCX, "y": $DCY, "button": 1}),
    ("drag", "Mousepad", {"x": $D1X, "y": $D1Y, "end_x": $D2X, "end_y": $D2Y}),
    ("scroll", "Mousepad", {"dy": 3, "dx": 0}),
    ("hotkey", "Mousepad", {"keys": "ctrl+End"}),
    ("hotkey", "Mousepad", {"keys": "ctrl+shift+Home"}),
    ("type", "XTerm", {"text": "echo hi\n"}),
    ("click", "XTerm", {"x": $CLX, "y": $CLY, "button": 3}),
]
check(len(a) == len(want), "action count %d != %d: %r" % (len(a), len(want), [x["action"] for x in a]))
for got, (kind, app, fields) in zip(a, want):
    check(got["action"] == kind, "action %r != %r" % (got["action"], kind))
    check(got["app"] == app, "%s: app %r != %r" % (kind, got["app"], app))
    for k, v in fields.items():
        check(got[k] == v, "%s.%s: %r != %r" % (kind, k, got[k], v))
    check(got["title"], "%s has a window title" % kind)
    check(got["seq"], "%s keeps its raw sequence numbers" % kind)
    check(isinstance(got["frame"], int), "%s references the frame seen before it" % kind)
# Every raw input record belongs to exactly one action.
cover = {}
for x in acts:
    for f, l in x["seq"]:
        for s in range(f, l + 1):
            cover[s] = cover.get(s, 0) + 1
inputs = [r["seq"] for r in raw if r["type"] in ("key", "button", "motion")]
check(all(cover.get(s) == 1 for s in inputs), "each input record in exactly one action")
check(all(x["t_ms"] >= 0 for x in acts), "t_ms")
print("record_basic: %d raw records, %d actions ok" % (len(raw), len(acts)))
PY

# The same recording exported in every format and read back by an
# independent reader (tests/e2e/export_check.py); the frames in the export
# are the stored frames (`usetrace frames`), byte for byte; nothing names
# the day; two exports share no contributor id.
if [ "$MODE" = local ]; then
	CHECK="$SRCDIR/tests/e2e/export_check.py"
	TODAY=$(date -u +%Y-%m-%d)
	"$USETRACE" frames "$E2E_TMP/rec" --out "$E2E_TMP/frames" >/dev/null ||
		fail "frames"
	for f in jsonl webdataset pyautogui osworld anthropic; do
		"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/x-$f" \
		    --format "$f" --idle-split 600 ||
			fail "export --format $f"
		python3 "$CHECK" "$f" "$E2E_TMP/x-$f" "$E2E_TMP/actions.jsonl" \
		    "$TODAY" >"$E2E_TMP/check-$f.out" ||
			{ cat "$E2E_TMP/check-$f.out"; fail "export_check $f"; }
		tail -1 "$E2E_TMP/check-$f.out"
	done
	"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/x-jsonl" \
	    --format jsonl 2>/dev/null && fail "export into a non-empty directory"
	"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/x-webp" \
	    --format webdataset --image webp --quality 75 --quiet || fail "webp export"
	python3 "$CHECK" webdataset "$E2E_TMP/x-webp" "$E2E_TMP/actions.jsonl" \
	    >"$E2E_TMP/check-webp.out" || { cat "$E2E_TMP/check-webp.out"; fail "export_check webp"; }
	grep -q '"webp_quality": 75' "$E2E_TMP/x-webp/DATACARD.json" || fail "datacard image format"
	"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/x2" \
	    --format jsonl --quiet || fail "second export"
	python3 "$CHECK" jsonl "$E2E_TMP/x2" "$E2E_TMP/actions.jsonl" \
	    >"$E2E_TMP/check-2.out" || { cat "$E2E_TMP/check-2.out"; fail "export_check 2"; }
	[ "$(head -1 "$E2E_TMP/check-2.out")" != "$(head -1 "$E2E_TMP/check-jsonl.out")" ] ||
		fail "two exports share a contributor id"
	python3 - "$E2E_TMP" <<'PY' || fail "exported frames differ from the stored ones"
import json, sys, os
d = sys.argv[1]
acts = [json.loads(l) for l in open(d + "/actions.jsonl")]
steps = [json.loads(l) for l in open(d + "/x-jsonl/steps.jsonl")]
n = 0
for a, s in zip(acts, steps):
    if s["image"] is None:
        continue
    want = open("%s/frames/frame-%06d.png" % (d, a["frame"]), "rb").read()
    got = open(d + "/x-jsonl/" + s["image"], "rb").read()
    assert want == got, "step %s: frame %d differs" % (s["key"], a["frame"])
    n += 1
assert n > 0, "no step has a frame"
print("export frames equal the stored frames: %d" % n)
PY
fi
