#!/bin/sh
# record_layouts - the same typing under the `us` and `de` layouts (y/z,
# umlauts, AltGr characters, a dead key), with the layout switched by
# setxkbmap in the middle of one recording.  The decoded text must equal
# what the application itself received (mousepad saves it to a file).
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24

# One scripted session into $E2E_TMP/rec$1, the editor saving to typed$1.txt.
session() {
	setxkbmap us
	OUT="$E2E_TMP/typed$1.txt"
	REC="$E2E_TMP/rec$1"
	: >"$OUT"
	start_mousepad "$OUT"
	wait_editor_ready "$MP" "#"
	start_record "$REC"
	xdo windowactivate --sync "$MP"
	sleep 0.3

	xdo type --delay 20 "$TEXT"
	xdo key dead_acute e
	xdo key Return
	sleep 0.5
	setxkbmap de
	sleep 0.8
	xdo type --delay 20 "$TEXT"
	xdo key dead_acute e
	xdo key Return
	sleep 0.3
	xdo key z y
	xdo key Return
	sleep 0.5
	setxkbmap us
	sleep 0.5
	xdo key ctrl+s
	sleep 1
	stop_record
	setxkbmap us
	kill "$(xdotool getwindowpid "$MP")" 2>/dev/null || true
}

TEXT='yz Zy äöüß ÄÖ @€{}|~ 1+1'

# Under the us layout xdotool types ß, € and the umlauts by binding them to
# a spare keycode for one keystroke and unbinding it at once.  When the
# editor is slow (a loaded machine), it may look the keycode up after the
# unbinding and insert nothing: the ground truth itself is then short.
# check() exits 3 for exactly that case (only such characters of the us
# line missing from what the editor saved) and the session runs again;
# any other difference fails at once.
check() {
"$USETRACE" show "$REC" --raw >"$E2E_TMP/raw.jsonl"
"$USETRACE" show "$REC" --json >"$E2E_TMP/actions.jsonl"

python3 - "$E2E_TMP" "$TEXT" "$OUT" "$REC" <<'PY'
import json, sys
d, text, out = sys.argv[1], sys.argv[2], sys.argv[3]
raw = [json.loads(l) for l in open(d + "/raw.jsonl")]
acts = [json.loads(l) for l in open(d + "/actions.jsonl")]
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)
keys = [r for r in raw if r["type"] == "key" and r["down"] and not r["state"] & 4]
typed = "".join(r["text"] for r in keys).replace("\r", "\n")
line = text + "\u00e9\n"
saved = open(out, encoding="utf-8").read()
check(saved.startswith("#"), "probe")
saved = saved[1:]
def remap_race(saved, typed):
    # saved == typed with only non-ASCII characters of the first (us)
    # line missing: the editor lost xdotool's one-keystroke bindings.
    s_lines, t_lines = saved.split("\n"), typed.split("\n")
    if len(s_lines) != len(t_lines) or s_lines[1:] != t_lines[1:]:
        return False
    s0, t0, i = s_lines[0], t_lines[0], 0
    for c in t0:
        if i < len(s0) and s0[i] == c:
            i += 1
        elif c.isascii():
            return False
    return i == len(s0) and s0 != t0
if saved.rstrip("\n") != typed.rstrip("\n") and remap_race(saved.rstrip("\n"), typed.rstrip("\n")):
    print("editor lost remapped keys (xdotool race): %r vs %r" % (saved, typed))
    sys.exit(3)
# Ground truth is what the application received.
check(saved.rstrip("\n") == typed.rstrip("\n"),
      "application got %r, we decoded %r" % (saved, typed))
us, de, zy = typed.split("\n")[:3]
check(de + "\n" == line, "de line %r != %r" % (de, line))
check(zy == "zy", "z y under de: %r" % zy)
# xdotool binds a lone uppercase keysym to a spare keycode and presses it
# without Shift, so the server (and the application) see lower case.
check(us.lower() == line.rstrip("\n").lower(), "us line %r" % us)
want = typed
# The physical keys differ: under de, 'z' is the key us calls 'y'.
zs = [r["keycode"] for r in keys if r["text"] == "z"]
check(len(zs) == 3 and zs[0] != zs[1] and zs[1] == zs[2], "z keycodes per layout: %r" % zs)
ts = [a["text"] for a in acts if a["action"] == "type"]
check("".join(ts) == want, "type actions %r" % ts)
print("record_layouts ok: %r" % typed)
PY
}

# Up to four sessions: under ASan on two loaded cores the editor lost a
# remapped key in two sessions running (the recorder's filter and reducer
# agreed on every press both times).
n=1
session $n
rc=0; check || rc=$?
while [ $rc -eq 3 ] && [ $n -lt 4 ]; do
	n=$((n + 1))
	echo "record_layouts: the editor missed remapped keys; session $n" >&2
	session $n
	rc=0; check || rc=$?
done
[ $rc -eq 0 ] || fail "record_layouts: check failed ($rc)"
