#!/bin/sh
# frames - screen frames: lossless frames equal independent screenshots
# (ImageMagick `import`) of the same moments, including the moment right
# before a click that changes the screen (the window manager's title bars
# and borders, black in frames, are blacked in the screenshots where the
# WM says they are: frames must be black exactly there); lossy frames within a PSNR
# bound; an idle screen stores almost nothing; two RandR monitors are both
# covered; frames stored before the display is killed stay readable.
. "$(dirname "$0")/lib.sh"

W=2560
H=800
start_x ${W}x${H}x24
# Two monitors side by side on one Xvfb screen.
xrandr --setmonitor left 1280/338x800/211+0+0 none
xrandr --setmonitor right 1280/338x800/211+1280+0 none

cat >"$E2E_TMP/lossless.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles, frames]
frames:
  lossless: true
Y
sed 's/lossless: true/lossless: false/; s/version: 1/version: 2/' \
    "$E2E_TMP/lossless.yaml" >"$E2E_TMP/lossy.yaml"
"$USETRACE" consent --yes --policy "$E2E_TMP/lossless.yaml" >/dev/null

xterm -title ut-left -geometry 70x20+40+60 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
xterm -title ut-right -geometry 70x20+1400+300 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
L=$(wait_window ut-left)
R=$(wait_window ut-right)

# The window manager's decorations of window $1 (its _NET_FRAME_EXTENTS
# around the client) as ImageMagick rectangles.
deco_draw() { # window
	set -- $(xwininfo -id "$1" | awk '/Absolute upper-left X/ {x=$NF}
		/Absolute upper-left Y/ {y=$NF} /Width:/ {w=$NF} /Height:/ {h=$NF}
		END {print x, y, w, h}') \
	    $(xprop -id "$1" _NET_FRAME_EXTENTS | sed 's/.*= //; s/,/ /g')
	[ $# -eq 8 ] || fail "no frame extents for the window"
	cx=$1 cy=$2 cw=$3 ch=$4 l=$5 r=$6 t=$7 b=$8
	[ "$t" -gt 0 ] || fail "openbox drew no title bar"
	fx=$((cx - l)) fy=$((cy - t)) fr=$((cx + cw + r - 1)) fb=$((cy + ch + b - 1))
	printf ' -draw "rectangle %d,%d %d,%d"' $fx $fy $fr $((cy - 1))
	[ "$b" -gt 0 ] && printf ' -draw "rectangle %d,%d %d,%d"' $fx $((cy + ch)) $fr $fb
	[ "$l" -gt 0 ] && printf ' -draw "rectangle %d,%d %d,%d"' $fx $cy $((cx - 1)) $((cy + ch - 1))
	[ "$r" -gt 0 ] && printf ' -draw "rectangle %d,%d %d,%d"' $((cx + cw)) $cy $fr $((cy + ch - 1))
	true
}
DECO="$(deco_draw "$L")$(deco_draw "$R")"
# The indicator and the decorations are left out of frames (black there);
# mask them in screenshots.
shot1() { # file
	import -window root "$1.raw.png"
	eval convert '"$1.raw.png"' -fill black -draw '"rectangle $((W - 194)),4 $((W - 5)),27"' \
		"$DECO" '"$1"'
}
# A screenshot of a settled screen: two in a row that are identical.
shot() { # file
	shot1 "$1"
	n=0
	while :; do
		sleep 0.3
		shot1 "$1.next.png"
		[ "$(compare -metric AE "$1" "$1.next.png" null: 2>&1 || true)" = 0 ] && return 0
		mv "$1.next.png" "$1"
		n=$((n + 1)); [ $n -gt 30 ] && fail "the screen never settled"
	done
}

start_record "$E2E_TMP/rec" --policy "$E2E_TMP/lossless.yaml"
xdo windowactivate --sync "$L"
xdo type --delay 10 "echo left side"
sleep 0.8
shot "$E2E_TMP/s1.png"
# A click that changes the screen: focus moves to the right terminal.
xdo mousemove 1600 400 click 1
sleep 0.8
xdo type --delay 10 "echo right side"
sleep 0.8
shot "$E2E_TMP/s2.png"
xdo mousemove 300 200 click 1
sleep 0.8
stop_record

"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
"$USETRACE" show "$E2E_TMP/rec" --json >"$E2E_TMP/act.jsonl"
grep '"type":"monitors"' "$E2E_TMP/raw.jsonl" | grep -q '"name":"left".*"name":"right"' ||
	fail "two monitors not recorded"
python3 - "$E2E_TMP/act.jsonl" >"$E2E_TMP/clicks" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    if a["action"] == "click":
        if a["frame"] is None:
            print("FAIL: click without a frame"); sys.exit(1)
        print(a["seq"][0][0], a["frame"])
PY
[ "$(wc -l <"$E2E_TMP/clicks")" -eq 2 ] || { cat "$E2E_TMP/clicks"; fail "expected two clicks with frames"; }
i=1
while read -r seq fid; do
	"$USETRACE" frames "$E2E_TMP/rec" --out "$E2E_TMP/f$i" --at "$seq" >/dev/null ||
		fail "frames --at $seq"
	png="$E2E_TMP/f$i/frame-$(printf %06d "$fid").png"
	[ -f "$png" ] || fail "no $png"
	identify -format '%w %h' "$png" | grep -q "^$W $H$" || fail "frame does not cover both monitors"
	ae=$(compare -metric AE "$png" "$E2E_TMP/s$i.png" null: 2>&1 || true)
	if [ "$ae" != 0 ]; then
		compare "$png" "$E2E_TMP/s$i.png" "/tmp/ut-frames-diff$i.png" 2>/dev/null || true
		fail "frame before click $i differs from the screenshot in $ae pixels"
	fi
	i=$((i + 1))
done <"$E2E_TMP/clicks"

# Lossy frames: close to the screenshot.
"$USETRACE" consent --yes --policy "$E2E_TMP/lossy.yaml" >/dev/null
start_record "$E2E_TMP/lossy" --policy "$E2E_TMP/lossy.yaml"
xdo windowactivate --sync "$L"
xdo type --delay 10 "ls"
sleep 0.8
shot "$E2E_TMP/s3.png"
xdo mousemove 1600 400 click 1
sleep 0.8
stop_record
"$USETRACE" show "$E2E_TMP/lossy" --json | python3 -c '
import json, sys
c = [json.loads(l) for l in sys.stdin if "\"click\"" in l]
print(c[-1]["seq"][0][0])' >"$E2E_TMP/lseq"
"$USETRACE" frames "$E2E_TMP/lossy" --out "$E2E_TMP/f3" --at "$(cat "$E2E_TMP/lseq")" >"$E2E_TMP/f3.list"
psnr=$(compare -metric PSNR "$(cat "$E2E_TMP/f3.list")" "$E2E_TMP/s3.png" null: 2>&1 || true)
python3 -c "import sys; v = float('inf') if '$psnr' == 'inf' else float('$psnr'.split()[0]); sys.exit(0 if v >= 30 else 1)" ||
	fail "lossy PSNR $psnr dB < 30"

# Every segment begins with a key frame: each segment alone reassembles.
start_record "$E2E_TMP/segs" --policy "$E2E_TMP/lossy.yaml" --segment-bytes 16384
xdo windowactivate --sync "$L"
for n in 1 2 3 4 5 6; do
	xdo type --delay 5 "ls -l /usr/bin /etc"
	xdo key Return
	sleep 0.7
	xdo mousemove $((200 + n * 300)) 400 click 1
	sleep 0.5
done
stop_record
nseg=0
for seg in "$E2E_TMP/segs"/seg-*; do
	d="$E2E_TMP/one-$(basename "$seg")"
	mkdir "$d" && cp "$seg" "$d/"
	grep -q . "$d/$(basename "$seg")" || continue
	"$USETRACE" show "$d" --raw 2>/dev/null | grep -q '"type":"frame"' || continue
	nseg=$((nseg + 1))
	"$USETRACE" frames "$d" --out "$d/png" >"$d/list" 2>"$d/err" || { cat "$d/err"; fail "segment $seg does not reassemble alone"; }
	grep -q "could not be used" "$d/err" && { cat "$d/err"; fail "segment $seg depends on another"; }
done
[ "$nseg" -ge 2 ] || fail "expected frames in several segments, got $nseg"

# An idle screen stores almost nothing after the first frame.
start_record "$E2E_TMP/idle" --policy "$E2E_TMP/lossy.yaml"
sleep "${UT_IDLE_SECONDS:-60}"
stop_record
"$USETRACE" show "$E2E_TMP/idle" --raw | python3 -c '
import json, sys
f = [json.loads(l) for l in sys.stdin if "\"type\":\"frame\"" in l]
ids = sorted(set(r["frame_id"] for r in f))
later = sum(r["bytes"] for r in f if r["frame_id"] != ids[0])
print("idle: %d frames, %d bytes after the first" % (len(ids), later))
sys.exit(0 if later <= 4096 else 1)' || fail "idle screen stored frames"

# Display killed: frames stored before stay readable.
start_record "$E2E_TMP/killed" --policy "$E2E_TMP/lossy.yaml"
xdo windowactivate --sync "$R"
xdo type --delay 10 "echo before the end"
sleep 1.5
kill -9 "$XVFB_PID"
wait "$REC_PID" || true
"$USETRACE" frames "$E2E_TMP/killed" --out "$E2E_TMP/fk" >"$E2E_TMP/fk.list" || fail "frames unreadable after the display died"
[ "$(wc -l <"$E2E_TMP/fk.list")" -ge 1 ] || fail "no frame kept"
echo "frames ok"
