#!/bin/sh
# denied_pixels - P4 in pixels: a denied application (xterm, by policy)
# partly covering an allowed one (mousepad), with one of its menus open, is
# black in every stored frame - its window, its window-manager title bar
# and its menu - while the allowed window's uncovered part is not.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
cat >"$E2E_TMP/p.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles, frames]
applications:
  deny: [xterm]
frames:
  fps: 4
  lossless: true
Y
"$USETRACE" consent --yes --policy "$E2E_TMP/p.yaml" >/dev/null
start_mousepad "$E2E_TMP/notes.txt"
xdotool windowmove --sync "$MP" 50 80 windowsize --sync "$MP" 800 500
wait_editor_ready "$MP" "#"
xterm -title ut-denied -geometry 60x15+500+300 -bg white -fg black >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
XT=$(wait_window ut-denied)
sleep 0.5

abs() { # window -> "X Y W H" of its client area
	xwininfo -id "$1" | awk '/Absolute upper-left X/ {x=$NF} /Absolute upper-left Y/ {y=$NF}
	    /^ *Width/ {w=$NF} /^ *Height/ {h=$NF} END {print x, y, w, h}'
}

start_record "$E2E_TMP/rec" --policy "$E2E_TMP/p.yaml"
xdo windowactivate --sync "$MP"
xdo type --delay 20 "allowed text"
xdo windowactivate --sync "$XT"
xdo type --delay 20 "echo denied"
sleep 0.5
set -- $(abs "$XT")
XX=$1; XY=$2; XW=$3; XH=$4
import -window root "$E2E_TMP/s0.png"
# Open xterm's main menu (Ctrl + left button, held) and keep it open.
xdotool mousemove $((XX + 40)) $((XY + 40)) keydown ctrl mousedown 1
sleep 1.5
# The menu is an override-redirect window of xterm's own X client, with no
# WM_CLASS: find it by the client's resource base (the high bits of its ids).
MENU=$(xwininfo -root -children | python3 -c '
import re, sys
base = int(sys.argv[1], 0) & ~0x1fffff
for l in sys.stdin:
    m = re.match(r"\s+(0x[0-9a-f]+) .*\s(\d+)x(\d+)\+-?\d+\+-?\d+\s", l)
    if m and int(m.group(1), 16) & ~0x1fffff == base and int(m.group(2)) > 50 and int(m.group(3)) > 50:
        print(m.group(1)); break' "$XT")
[ -n "$MENU" ] || fail "xterm's menu did not open"
xwininfo -id "$MENU" | grep -q "IsViewable" || fail "menu not viewable"
MG=$(abs "$MENU")
import -window root "$E2E_TMP/s1.png"
sleep 1
xdotool mouseup 1 keyup ctrl
sleep 0.5
set -- $(abs "$MP")
MX=$1; MY=$2
stop_record

"$USETRACE" frames "$E2E_TMP/rec" --out "$E2E_TMP/fr" >"$E2E_TMP/list" || fail "frames"
[ "$(wc -l <"$E2E_TMP/list")" -ge 3 ] || fail "too few frames: $(wc -l <"$E2E_TMP/list")"
python3 - "$E2E_TMP/list" "$XX $XY $XW $XH" "$MG" "$MX $MY" "$E2E_TMP" <<'PY'
import subprocess, sys
files = open(sys.argv[1]).read().split()
xx, xy, xw, xh = map(int, sys.argv[2].split())
mx, my, mw, mh = map(int, sys.argv[3].split())
ax, ay = map(int, sys.argv[4].split())
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)
menu_seen = 0
for f in files:
    raw = subprocess.run(["convert", f, "rgb:-"], capture_output=True, check=True).stdout
    def px(x, y):
        o = (y * 1280 + x) * 3
        return raw[o:o + 3]
    def black(x0, y0, w, h):
        return all(px(x, y) == b"\0\0\0" for y in range(y0, y0 + h, 3) for x in range(x0, x0 + w, 3))
    # The denied window and its title bar (16 px above the client).
    check(black(xx, max(0, xy - 16), xw, xh + 16), "%s: denied window not black" % f)
    # The allowed window's uncovered top-left part is not black.
    check(not black(ax + 5, ay + 5, 200, 100), "%s: allowed window blacked out" % f)
# No frame shows the menu: where the menu changed the screen (s1 vs s0),
# a frame must not have the menu's pixels.
rgb = lambda f: subprocess.run(["convert", f, "rgb:-"], capture_output=True, check=True).stdout
s0, s1 = rgb(sys.argv[5] + "/s0.png"), rgb(sys.argv[5] + "/s1.png")
at = lambda raw, x, y: raw[(y * 1280 + x) * 3:(y * 1280 + x) * 3 + 3]
mp = [(x, y) for y in range(my, my + mh) for x in range(mx, mx + mw)
      if at(s1, x, y) != at(s0, x, y) and at(s1, x, y) != b"\0\0\0"]
check(len(mp) > 500, "the menu changed only %d pixels?" % len(mp))
for f in files:
    raw = rgb(f)
    shown = sum(at(raw, x, y) == at(s1, x, y) for x, y in mp)
    check(shown < len(mp) // 20, "%s shows the denied menu (%d of %d pixels)" % (f, shown, len(mp)))
print("denied_pixels ok: %d frames" % len(files))
PY
"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
grep -q "denied" "$E2E_TMP/raw.jsonl" || fail "no denied focus record"
grep -q "ut-denied" "$E2E_TMP/raw.jsonl" && fail "denied title recorded"
t=$(python3 -c '
import json, sys
print("".join(json.loads(l).get("text", "") for l in open(sys.argv[1]) if "\"key\"" in l))' "$E2E_TMP/raw.jsonl")
case "$t" in *denied*) fail "denied keystrokes recorded: $t" ;; esac
case "$t" in *"allowed text"*) ;; *) fail "allowed keystrokes missing: $t" ;; esac

# The deny lists hold even when app names and titles are not collected:
# capture reads WM_CLASS and the title for the decision only.
cat >"$E2E_TMP/p2.yaml" <<'Y'
version: 1
collect: [keys, text, pointer]
applications:
  deny: [xterm]
Y
"$USETRACE" consent --yes --policy "$E2E_TMP/p2.yaml" >/dev/null
start_record "$E2E_TMP/rec2" --policy "$E2E_TMP/p2.yaml"
xdo windowactivate --sync "$MP"
xdo type --delay 20 "kept words"
xdo windowactivate --sync "$XT"
xdo type --delay 20 "echo hidden"
xdo windowactivate --sync "$MP"
xdo type --delay 20 " again"
sleep 0.5
stop_record
"$USETRACE" show "$E2E_TMP/rec2" --raw >"$E2E_TMP/raw2.jsonl"
t=$(python3 -c '
import json, sys
print("".join(json.loads(l).get("text", "") for l in open(sys.argv[1]) if "\"key\"" in l))' "$E2E_TMP/raw2.jsonl")
case "$t" in *hidden*) fail "denied keystrokes recorded without apps collected: $t" ;; esac
case "$t" in *"kept words again"*) ;; *) fail "allowed keystrokes missing: $t" ;; esac
grep -q '"denied":true' "$E2E_TMP/raw2.jsonl" || fail "no denied focus record (no apps collected)"
grep -qi 'xterm' "$E2E_TMP/raw2.jsonl" && fail "an app name was recorded without apps collected"
echo ok
