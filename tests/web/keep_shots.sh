#!/bin/sh
# keep_shots.sh SHOTDIR - copies the screenshots a passing web suite took
# (run.sh: UT_WEB_SHOTS, default BUILDDIR/web-shots) into docs/screenshots/,
# reduced to 256 colours so the repository stays small (ImageMagick).
set -eu
src=${1:?usage: keep_shots.sh SHOTDIR}
dst="$(cd "$(dirname "$0")/../.." && pwd)/docs/screenshots"
mkdir -p "$dst"
n=0
for f in "$src"/*.png; do
	[ -f "$f" ] || continue
	convert "$f" -strip -dither None -colors 256 "PNG8:$dst/$(basename "$f")"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no screenshots in $src" >&2; exit 1; }
echo "kept $n screenshots in docs/screenshots ($(du -sh "$dst" | cut -f1))"
