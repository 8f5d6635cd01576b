#!/bin/sh
# export_bench.sh [SECONDS] - export speed and bytes per step (not pass/fail).
# Records an office session at 1920x1080 (default 120 s of seeded typing,
# scrolling and clicking in mousepad, bench_inject), then exports it in
# every format with PNG frames and in jsonl with WebP frames at several
# qualities, three runs each: median seconds, steps/s, MB/s written, frame
# bytes per step, and for WebP the PSNR against the lossless frames
# (ImageMagick `compare`).  The baseline: TESS-AgentNet's ~89 KB per WebP
# step (goal: at most 60 KB at the same resolution and visual quality).
# Run from the source tree after building: bench/export_bench.sh 120
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-120}
. bench/lib.sh

start_office
xdotool windowactivate --sync "$MP"
start_record "$E2E_TMP/rec"
"$INJECT" office "$SECS"
stop_record
"$USETRACE" show "$E2E_TMP/rec" --json | wc -l | sed 's/^/actions: /'

one() { # label args... -> "seconds bytes steps frame_bytes"
	label=$1; shift
	times=""
	for i in 1 2 3; do
		rm -rf "$E2E_TMP/x"
		t0=$(date +%s%N)
		"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/x" --quiet "$@"
		t1=$(date +%s%N)
		times="$times $(( (t1 - t0) / 1000000 ))"
	done
	bytes=$(du -sb "$E2E_TMP/x" | cut -f1)
	python3 - "$label" "$bytes" "$E2E_TMP/x/DATACARD.json" $times <<'PY'
import json, sys
label, b, card = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
ms = sorted(int(x) for x in sys.argv[4:])
med = ms[len(ms) // 2] / 1000
steps, fb, fr = card["steps"], card["frame_bytes"], max(card["frames"], 1)
print("%-22s %6.2f s  %7.0f steps/s  %6.1f MB/s  %6.1f KB frame/step  %6.1f KB/step all  (runs %s ms)" % (
    label, med, steps / med, b / med / 1e6, fb / fr / 1024, b / max(steps, 1) / 1024,
    " ".join(sys.argv[4:])))
PY
}

for f in jsonl webdataset pyautogui osworld anthropic; do
	one "$f png" --format "$f"
done
cp -r "$E2E_TMP/x" "$E2E_TMP/png" 2>/dev/null || true
rm -rf "$E2E_TMP/png"
"$USETRACE" export --local "$E2E_TMP/rec" --out "$E2E_TMP/png" --format jsonl --quiet
for q in 50 75 90 lossless; do
	one "jsonl webp q$q" --format jsonl --image webp --quality "$q"
	# PSNR of each WebP frame against its PNG (median over frames).
	for p in "$E2E_TMP"/x/frames/*.webp; do
		k=$(basename "$p" .webp)
		compare -metric PSNR "$E2E_TMP/png/frames/$k.png" "$p" null: 2>&1 || true
		echo
	done | python3 -c '
import sys
v = []
for l in sys.stdin:
    l = l.strip().split()[0] if l.strip() else ""
    try: v.append(float(l))
    except ValueError:
        if l == "inf": v.append(float("inf"))
v.sort()
print("    PSNR vs lossless: median %.1f dB, min %.1f dB over %d frames" % (v[len(v)//2], v[0], len(v)) if v else "    PSNR: none")'
done
echo "baseline: TESS-AgentNet ~89 KB per WebP step (goal <= 60 KB at the same resolution and quality)"
