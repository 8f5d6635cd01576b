#!/bin/sh
# export_bench.sh [SECONDS] - export speed and bytes per step (not pass/fail).
# Records two office sessions at 1920x1080 (default 60 s each of seeded
# typing, scrolling and clicking in mousepad, bench_inject): one under the
# default policy (frames stored lossy, WebP q80) and one under a policy with
# `frames: lossless: true`.  Exports the first in every format with PNG
# frames and in jsonl with WebP frames at several qualities and lossless,
# and the second in jsonl with lossless WebP; three runs each: median
# seconds, steps/s, MB/s written, frame bytes per step, and for WebP the
# PSNR of each frame against the stored frame (the lossless PNG export;
# ImageMagick `compare -metric PSNR`, median and minimum over frames).
# With BASE_USETRACE=PATH (a build of the base commit) the WebP rows run
# with it too, in the same run.  The baseline: TESS-AgentNet's ~89 KB per
# WebP step (goal: at most 60 KB at the same resolution and visual quality).
# Run from the source tree after building: bench/export_bench.sh 60
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-60}
BASE=${BASE_USETRACE:-}
. bench/lib.sh

start_office
xdotool windowactivate --sync "$MP"
start_record "$E2E_TMP/rec"
"$INJECT" office "$SECS"
stop_record
printf 'version: 1\ncollect: [keys, text, pointer, apps, titles, frames]\nframes:\n  lossless: true\n' \
	>"$E2E_TMP/ll.yaml"
"$USETRACE" consent --yes --policy "$E2E_TMP/ll.yaml" >/dev/null
start_record "$E2E_TMP/recll" --policy "$E2E_TMP/ll.yaml"
"$INJECT" office "$SECS"
stop_record
for r in rec recll; do
	"$USETRACE" show "$E2E_TMP/$r" --json | wc -l | sed "s/^/actions ($r): /"
done

one() { # binary label recording args... (the export is left in $E2E_TMP/x)
	bin=$1; label=$2; rec=$3; shift 3
	times=""
	for i in 1 2 3; do
		rm -rf "$E2E_TMP/x"
		t0=$(date +%s%N)
		"$bin" export --local "$E2E_TMP/$rec" --out "$E2E_TMP/x" --quiet "$@"
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
print("%-34s %6.2f s  %6.1f steps/s  %6.2f MB/s  %6.1f KB frame/step  %6.1f KB/step all  (runs %s ms)" % (
    label, med, steps / med, b / med / 1e6, fb / fr / 1024, b / max(steps, 1) / 1024,
    " ".join(sys.argv[4:])))
PY
}

psnr() { # reference export dir: PSNR of $E2E_TMP/x's WebP frames against it
	for p in "$E2E_TMP"/x/frames/*.webp; do
		k=$(basename "$p" .webp)
		compare -metric PSNR "$1/frames/$k.png" "$p" null: 2>&1 || true
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
f = lambda x: "exact" if x == float("inf") else "%.1f dB" % x
print("    PSNR vs the stored frame: median %s, min %s over %d frames" % (f(v[len(v)//2]), f(v[0]), len(v)) if v else "    PSNR: none")'
}

for f in jsonl webdataset pyautogui osworld anthropic; do
	one "$USETRACE" "$f png" rec --format "$f"
done
for r in rec recll; do
	rm -rf "$E2E_TMP/png-$r"
	"$USETRACE" export --local "$E2E_TMP/$r" --out "$E2E_TMP/png-$r" --format jsonl --quiet
done
for q in 30 50 75 lossless; do
	for b in "$USETRACE" $BASE; do
		tag=branch; [ "$b" = "$USETRACE" ] || tag=base
		one "$b" "jsonl webp $q ($tag)" rec --format jsonl --image webp --quality "$q"
		psnr "$E2E_TMP/png-rec"
	done
done
for b in "$USETRACE" $BASE; do
	tag=branch; [ "$b" = "$USETRACE" ] || tag=base
	one "$b" "lossless-stored: webp lossless ($tag)" recll --format jsonl --image webp --quality lossless
	psnr "$E2E_TMP/png-recll"
done
echo "baseline: TESS-AgentNet ~89 KB per WebP step (goal <= 60 KB at the same resolution and quality)"
