#!/bin/sh
# server_ingest_ab.sh OLD_SRC NEW_SRC - bench/server_ingest.sh of two source
# trees (each built in its own build/), alternated ROUNDS times (default 3,
# REPS=1 each: OLD, NEW, OLD, NEW, ...), so that both see the same shared
# machine in turns.  Every run measures its own ceilings.  Prints each run's
# passes and, per tree, the medians of ingest MB/s, server CPU s/GB, nginx
# MB/s, ingest / nginx and the load average.  Other settings (UPLOADERS,
# SEGS, SEG_BYTES, BENCH_DIR, PASSES) are passed through to server_ingest.sh.
# Not pass/fail beyond what server_ingest.sh checks.
set -eu
[ $# -eq 2 ] || { echo "usage: server_ingest_ab.sh OLD_SRC NEW_SRC" >&2; exit 2; }
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
ROUNDS=${ROUNDS:-3}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ut-ab.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
i=1
while [ "$i" -le "$ROUNDS" ]; do
	for t in old new; do
		[ "$t" = old ] && src=$OLD || src=$NEW
		echo "== round $i: $t ($src, $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'))"
		REPS=1 "$src/bench/server_ingest.sh" "$src/build" >"$OUT/$t.$i.out" 2>&1 ||
			{ cat "$OUT/$t.$i.out" >&2; echo "server_ingest_ab: the $t run failed" >&2; exit 1; }
		grep '^  [a-z]* *rep' "$OUT/$t.$i.out"
		# KIND MB/s BYTES server-CPU load, one line per pass
		sed -n 's/^  \([a-z]*\) *rep [0-9]*: *\([0-9.]*\) MB\/s *(\([0-9]*\) bytes.*server \([0-9.]*\) s CPU; load \([0-9.]*\)).*/'"$t"' \1 \2 \3 \4 \5/p' \
			"$OUT/$t.$i.out" >>"$OUT/all"
	done
	i=$((i + 1))
done
awk '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
		t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 " " $2; n[k]++; mb[k, n[k]] = $3; sc[k, n[k]] = $5 / ($4 / 1e9); ld[k, n[k]] = $6 }
END {
	printf "\n%-4s %-6s %-26s %8s %16s %14s\n", "tree", "pass", "MB/s per round", "median", "server CPU s/GB", "load (median)"
	split("old new", ts, " "); split("disk nginx ingest", ps, " ")
	for (x = 1; x <= 2; x++) for (y = 1; y <= 3; y++) {
		k = ts[x] " " ps[y]
		if (!n[k]) continue
		line = ""
		for (i = 1; i <= n[k]; i++) { line = line sprintf("%.1f ", mb[k, i]); m[i] = mb[k, i]; s[i] = sc[k, i]; l[i] = ld[k, i] }
		med[k] = median(m, n[k])
		printf "%-4s %-6s %-26s %8.1f %16.2f %14.2f\n", ts[x], ps[y], line, med[k], median(s, n[k]), median(l, n[k])
	}
	for (x = 1; x <= 2; x++)
		if (med[ts[x] " nginx"] > 0)
			printf "%s: ingest / nginx = %.2f\n", ts[x], med[ts[x] " ingest"] / med[ts[x] " nginx"]
}' "$OUT/all"
