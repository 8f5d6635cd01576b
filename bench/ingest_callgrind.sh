#!/bin/sh
# ingest_callgrind.sh [BUILDDIR] - the server's own instructions per ingested
# byte (not pass/fail): `usetrace serve` under callgrind, one enrolled device
# uploads SEGS synthetic segments of SEG_BYTES with `usetrace upload`; the
# counts are zeroed just before the upload and dumped just after, so start-up
# and enrollment are not counted.  Instruction counts do not depend on the
# machine's load, unlike CPU time: this is the measure to compare two builds
# on a shared machine (the kernel's part - page cache, page faults - is not
# in it).  Prints "ingest: N bytes, I instructions, I/B per byte" and the
# top functions (callgrind_annotate) into OUT (default /tmp/ingest-cg.txt),
# the profile itself into OUT.callgrind.
# Settings (environment): SEGS (4), SEG_BYTES (4194304), OUT.
# Needs: valgrind (callgrind_control, callgrind_annotate), a build.
set -eu
cd "$(dirname "$0")/.."
SRCDIR=$PWD
BUILD=$(cd "${1:-build}" && pwd)
USETRACE=$BUILD/src/cli/usetrace
SYNTH=$BUILD/tests/tools/ut-synth
SEGS=${SEGS:-4}
SEG_BYTES=${SEG_BYTES:-4194304}
OUT=${OUT:-/tmp/ingest-cg.txt}
export SRCDIR USETRACE
for c in valgrind callgrind_control callgrind_annotate; do
	command -v "$c" >/dev/null || { echo "ingest_callgrind: needs $c" >&2; exit 1; }
done
# A clean environment, $T, expect/expect_out, as_admin.
. "$SRCDIR/tests/server/cli_lib.sh"

valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" \
	"$USETRACE" serve --data "$T/srv" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
SRV_PID=$!
T_PIDS="$SRV_PID $T_PIDS"
i=0
until grep -q '^admin-token-file ' "$T/serve.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 3000 ] && { cat "$T/serve.err" >&2; fail "server did not start"; }
	kill -0 "$SRV_PID" 2>/dev/null || { cat "$T/serve.err" >&2; fail "server exited"; }
	sleep 0.2
done
SRV_URL=$(sed -n 's/^url //p' "$T/serve.out")
SRV_PIN=$(sed -n 's/^pin //p' "$T/serve.out")
ADMIN_TOKEN=$(cat "$(sed -n 's/^admin-token-file //p' "$T/serve.out")")

h=$T/home
mkdir -p "$h" && chmod 700 "$h"
expect_out "^claim " as_admin "$USETRACE" admin principal add p1 --role subject
claim=$(sed -n 's/^claim //p' "$T/out")
expect 0 "" env USETRACE_HOME="$h" "$USETRACE" login "$SRV_URL" --claim "$claim" --pin "$SRV_PIN"
expect_out "^code " env USETRACE_HOME="$h" "$USETRACE" my enroll-code
code=$(sed -n 's/^code //p' "$T/out")
expect 0 "" env USETRACE_HOME="$h" "$USETRACE" enroll "$SRV_URL" --code "$code" --pin "$SRV_PIN"
expect 0 "" env USETRACE_HOME="$h" "$USETRACE" consent --yes
# Today, early enough that none starts in the future (about 20 min each).
start_s=$(( $(date +%s) - SEGS * 1200 - 300 ))
day0=$(( $(date +%s) / 86400 * 86400 + 60 ))
[ "$start_s" -ge "$day0" ] || start_s=$day0
expect 0 "" env USETRACE_HOME="$h" "$SYNTH" --home "$h" --out "$T/up" \
	--segments "$SEGS" --bytes "$SEG_BYTES" --seed 7 --start-ns "${start_s}000000000"
n=$(find "$T/up" -maxdepth 1 -name 'seg-*.uts' | wc -l)
bytes=$(find "$T/up" -maxdepth 1 -name 'seg-*.uts' -printf '%s\n' | awk '{s += $1} END {print s + 0}')

callgrind_control -z "$SRV_PID" >/dev/null
env USETRACE_HOME="$h" "$USETRACE" upload "$T/up" >"$T/up.out" 2>&1 || true
grep -q "uploaded $n, kept 0" "$T/up.out" || { cat "$T/up.out" >&2; fail "the upload did not store all $n"; }
callgrind_control -d "$SRV_PID" >/dev/null
dump=$(ls "$T"/cg.out.* | head -1)
ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dump" | head -1)
cp "$dump" "$OUT.callgrind"
# Self cost (the thread entry points carry everything and are left out),
# then the inclusive cost of each stage of ingest.
{
	callgrind_annotate --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' |
		grep -v -e ':clone ' -e ':start_thread ' | head -45
	echo
	echo "stages (inclusive; the upload hash is every crypto_generichash but the blob store's):"
	callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null | awk -v total="$ir" '
	function num(s) { gsub(",", "", s); return s + 0 }
	/^ *[0-9,]+ \(/ {
		n = split($0, f, ":"); fn = f[n]; sub(/ .*/, "", fn)
		if (!(fn in c)) c[fn] = num($1)
	}
	END {
		split("spool_upload_verify crypto_sign_ed25519_verify_detached spool__chain_step " \
		    "dir_put spool_mem_reader_next crypto_secretstream_xchacha20poly1305_pull " \
		    "ZSTD_decompressDCtx event_decode srv_summary_push action_reducer_push " \
		    "gnutls_record_recv gnutls_handshake buf_append sodium_memzero", k, " ")
		c["upload_hash"] = c["crypto_generichash"] - c["dir_put"]
		k[0] = "upload_hash"
		for (i = 0; i in k; i++)
			if (k[i] in c)
				printf "  %-44s %13.1f M %5.1f %%\n", k[i], c[k[i]] / 1e6, 100 * c[k[i]] / total
	}'
} >"$OUT"
kill -TERM "$SRV_PID" 2>/dev/null || true
wait "$SRV_PID" 2>/dev/null || true
echo "ingest: $n segments, $bytes bytes, $ir instructions, $(echo "$ir $bytes" | awk '{printf "%.2f", $1 / $2}') per byte"
echo "top functions: $OUT"
