#!/bin/sh
# server_ingest.sh [BUILDDIR] - the server's ingest benchmark (issue 11; not
# pass/fail) with its two ceilings, measured in the same run, interleaved:
#   ingest  UPLOADERS concurrent `usetrace upload DIR` processes, each an
#           enrolled device of its own person with SEGS segments of SEG_BYTES,
#           into `usetrace serve` on loopback HTTPS (durable before each
#           receipt); every segment's receipt and listing is checked after.
#   disk    the same files copied by UPLOADERS concurrent bench/fsync_write
#           (write, fsync the file, fsync the directory), on the same disk.
#   nginx   the same files PUT over HTTPS (TLS 1.3, ECDSA P-256) into
#           Debian's nginx (WebDAV module) by UPLOADERS concurrent curl
#           processes, each one connection for its files; nginx never fsyncs.
# MB/s = total bytes (MB = 10^6) / wall time from the first start to the last
# exit.  Each repetition makes fresh segments (ut-synth: synthetic events
# through the real spool writer) and runs the three passes in a rotated order.
# Prints each pass and a summary of medians; results: docs/BENCHMARKS.md,
# section "Server: ingest".
#
# Settings (environment): REPS (3), UPLOADERS (16), SEGS (8 per uploader),
# SEG_BYTES (4194304), BENCH_DIR (where the data goes: /var/tmp; it must be
# a real disk, not tmpfs), PERF=FILE (perf record -g of the server during the
# first ingest pass into FILE), PASSES (which of "disk nginx ingest" to run).
# Needs: a build (`ninja -C BUILDDIR`), nginx-light, openssl, curl, python3,
# /usr/bin/time (scripts/deps.sh).
set -eu
cd "$(dirname "$0")/.."
SRCDIR=$PWD
BUILD=$(cd "${1:-build}" && pwd)
USETRACE=$BUILD/src/cli/usetrace
FSW=$BUILD/bench/fsync_write
export SRCDIR USETRACE
REPS=${REPS:-3}
UPLOADERS=${UPLOADERS:-16}
SEGS=${SEGS:-8}
SEG_BYTES=${SEG_BYTES:-4194304}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
PASSES=${PASSES:-disk nginx ingest}
SYNTH=${SYNTH:-$BUILD/tests/tools/ut-synth}
for f in "$USETRACE" "$SYNTH" "$FSW"; do
	[ -x "$f" ] || { echo "server_ingest: no $f: build first" >&2; exit 1; }
done
for c in nginx openssl curl python3 /usr/bin/time; do
	command -v "$c" >/dev/null || { echo "server_ingest: needs $c (scripts/deps.sh)" >&2; exit 1; }
done

# A clean environment, $T, expect/expect_out, start_server, as_admin.
. "$SRCDIR/tests/server/cli_lib.sh"
W=$(mktemp -d "$BENCH_DIR/ut-ingest.XXXXXX")
NGX_PID="" NGX_WORKERS=""
bench_cleanup() {
	if [ -n "$NGX_PID" ]; then
		# nginx's fast shutdown stops its workers; then nothing is left.
		kill -TERM "$NGX_PID" 2>/dev/null || true
		i=0
		while kill -0 "$NGX_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		for p in $NGX_PID $NGX_WORKERS; do kill -9 "$p" 2>/dev/null || true; done
	fi
	t_cleanup
	rm -rf "$W"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
HZ=$(getconf CLK_TCK)
ticks() { # pids...: their user + system CPU ticks so far
	for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done |
		awk '{s += $1} END {print s + 0}'
}
now() { date +%s.%N; }
seq1() { i=1; while [ "$i" -le "$1" ]; do echo "$i"; i=$((i + 1)); done; }
nsegs() { find "$1" -maxdepth 1 -name 'seg-*.uts' | wc -l; } # closed segments in DIR

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
echo "machine: $(nproc) cores, $cpu, $mem"
echo "data: $W ($(stat -f -c %T "$W"), $(df -P "$W" | awk 'NR == 2 {print $1}'))"
[ "$(stat -f -c %T "$W")" != tmpfs ] ||
	echo "WARNING: $W is on tmpfs: fsync costs nothing there; set BENCH_DIR" >&2
echo "load: $UPLOADERS uploaders x $SEGS segments x $SEG_BYTES bytes, $REPS repetitions"
# Synthetic segments carry simulated time, about 15 minutes per 4 MiB: they
# start early enough (20 minutes a segment) that none starts in the future
# (the server discards those), but today (UTC): a segment crossing midnight
# is cut there, as the agent's are, which a benchmark does not want.
if [ -z "${START_NS:-}" ]; then
	now_s=$(date +%s)
	start_s=$((now_s - SEGS * (SEG_BYTES * 1200 / 4194304) - 300))
	if [ "$start_s" -lt $((now_s - now_s % 86400 + 60)) ]; then
		start_s=$((now_s - now_s % 86400 + 60))
		echo "WARNING: early in the UTC day: the last segments may start in the" \
			"future and be discarded (the check below then fails); lower SEGS" >&2
	fi
	START_NS=${start_s}000000000
fi

# --- The server under test and its people ------------------------------------
start_server "$W/srv"
for i in $(seq1 "$UPLOADERS"); do
	h=$W/home/$i
	mkdir -p "$h" && chmod 700 "$h"
	expect_out "^claim " as_admin "$USETRACE" admin principal add "p$i" --role subject
	claim=$(sed -n 's/^claim //p' "$T/out")
	expect 0 "" env USETRACE_HOME="$h" "$USETRACE" login "$SRV_URL" --claim "$claim" --pin "$SRV_PIN"
	expect_out "^code " env USETRACE_HOME="$h" "$USETRACE" my enroll-code
	code=$(sed -n 's/^code //p' "$T/out")
	expect 0 "" env USETRACE_HOME="$h" "$USETRACE" enroll "$SRV_URL" --code "$code" --pin "$SRV_PIN"
	expect 0 "" env USETRACE_HOME="$h" "$USETRACE" consent --yes
done

# --- nginx: own prefix, config and throwaway certificate ----------------------
N=$W/nginx
mkdir -p "$N/body" "$N/put"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=127.0.0.1 -days 2 -keyout "$N/key.pem" -out "$N/cert.pem" 2>/dev/null
NGX_PIN=sha256//$(openssl x509 -in "$N/cert.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
NGX_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|@DIR@|$N|g" -e "s|@PORT@|$NGX_PORT|g" -e "s|@USER@|$(id -un)|g" \
	-e "s|@GROUP@|$(id -gn)|g" bench/nginx/ingest.conf.in >"$N/nginx.conf"
nginx -p "$N" -c "$N/nginx.conf" -e "$N/error.log" 2>>"$N/error.log" &
NGX_PID=$!
i=0
until curl -sk --tlsv1.3 --pinnedpubkey "$NGX_PIN" -o /dev/null "https://127.0.0.1:$NGX_PORT/" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$N/error.log" >&2; fail "nginx did not start"; }
	kill -0 "$NGX_PID" 2>/dev/null || { cat "$N/error.log" >&2; fail "nginx exited"; }
	sleep 0.1
done
NGX_WORKERS=$(pgrep -P "$NGX_PID" | tr '\n' ' ')
echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'), pid $NGX_PID, workers $NGX_WORKERS"

# --- The passes ---------------------------------------------------------------
# Each writes one line to $W/results: KIND REP BYTES WALL_S CLIENT_CPU_S SERVER_CPU_S
# timed KIND REP SERVER_PIDS -- SCRIPT: runs sh -c SCRIPT under /usr/bin/time
# (the CPU of every uploader it waited for) between two clocks.
timed() {
	kind=$1 rep=$2 spids=$3
	shift 4
	sync
	s0=$(ticks $spids)
	t0=$(now)
	/usr/bin/time -f '%U %S' -o "$W/time.out" sh -c "$1"
	t1=$(now)
	s1=$(ticks $spids)
	# The machine's 1-minute load average after the pass: other work on it.
	load=$(cut -d' ' -f1 /proc/loadavg)
	echo "$kind $rep $BYTES $t0 $t1 $(cat "$W/time.out") $s0 $s1 $HZ $load" | awk '{
		wall = $5 - $4; cpu = $6 + $7; scpu = ($9 - $8) / $10
		printf "%s %d %d %.3f %.2f %.2f\n", $1, $2, $3, wall, cpu, scpu
		printf "  %-6s rep %d: %7.1f MB/s  (%d bytes in %.2f s; uploaders %.1f s CPU, server %.1f s CPU; load %s)\n",
		    $1, $2, $3 / wall / 1e6, $3, wall, cpu, scpu, $11 > "/dev/stderr" }' >>"$W/results"
}

pass_disk() { # rep
	for i in $(seq1 "$UPLOADERS"); do mkdir -p "$W/disk/$i"; done
	timed disk "$1" "" -- "
		for i in \$(seq 1 $UPLOADERS); do
			'$FSW' '$W/disk/'\$i '$W/gen/'\$i/seg-*.uts >/dev/null || touch '$W/disk/fail' &
		done
		wait"
	[ ! -e "$W/disk/fail" ] || fail "a disk writer failed"
	n=$(find "$W/disk" -type f -name 'seg-*.uts' | wc -l)
	[ "$n" -eq "$NSEG" ] || fail "disk pass wrote $n files, want $NSEG"
	rm -rf "$W/disk"
}

pass_nginx() { # rep
	for i in $(seq1 "$UPLOADERS"); do
		args=""
		for f in "$W/gen/$i"/seg-*.uts; do
			args="$args -T $f https://127.0.0.1:$NGX_PORT/$i/${f##*/}"
		done
		echo "$args" >"$W/curl.$i"
	done
	timed nginx "$1" "$NGX_WORKERS" -- "
		for i in \$(seq 1 $UPLOADERS); do
			curl -sS --fail --tlsv1.3 -k --pinnedpubkey '$NGX_PIN' -H Expect: \
			    -o /dev/null \$(cat '$W/curl.'\$i) || touch '$N/fail' &
		done
		wait"
	[ ! -e "$N/fail" ] || fail "a curl PUT failed"
	n=$(find "$N/put" -type f -name 'seg-*.uts' | wc -l)
	b=$(find "$N/put" -type f -name 'seg-*.uts' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	[ "$n" -eq "$NSEG" ] && [ "$b" -eq "$BYTES" ] ||
		fail "nginx stored $n files, $b bytes"
	rm -rf "$N/put" && mkdir "$N/put"
}

pass_ingest() { # rep
	rm -rf "$W/up"
	for i in $(seq1 "$UPLOADERS"); do
		mkdir -p "$W/up/$i"
		ln "$W/gen/$i"/seg-*.uts "$W/up/$i/"
	done
	if [ "$1" -eq 1 ] && [ -n "${PERF:-}" ]; then
		perf record -g -o "$PERF" -p "$SRV_PID" >/dev/null 2>"$W/perf.err" &
		PERF_PID=$!
		sleep 0.5
	fi
	timed ingest "$1" "$SRV_PID" -- "
		for i in \$(seq 1 $UPLOADERS); do
			USETRACE_HOME='$W/home/'\$i '$USETRACE' upload '$W/up/'\$i \
			    >'$W/up/log.'\$i 2>&1 || touch '$W/up/fail' &
		done
		wait"
	if [ -n "${PERF_PID:-}" ]; then
		kill -INT "$PERF_PID"; wait "$PERF_PID" || true; PERF_PID=""
	fi
	[ ! -e "$W/up/fail" ] || { cat "$W"/up/log.* >&2; fail "an upload failed"; }
	for i in $(seq1 "$UPLOADERS"); do
		k=$(nsegs "$W/gen/$i")
		grep -qx "uploaded $k, kept 0" "$W/up/log.$i" &&
		    [ "$(grep -c '^seg-[0-9]*\.uts stored$' "$W/up/log.$i")" -eq "$k" ] ||
			{ cat "$W/up/log.$i" >&2; fail "uploader $i: not every segment stored"; }
	done
}

for rep in $(seq1 "$REPS"); do
	rm -rf "$W/gen"
	for i in $(seq1 "$UPLOADERS"); do
		mkdir -p "$W/gen/$i"
		env USETRACE_HOME="$W/home/$i" "$SYNTH" --home "$W/home/$i" --out "$W/gen/$i" \
			--segments "$SEGS" --bytes "$SEG_BYTES" --seed $((rep * 1000 + i)) --start-ns "$START_NS" \
			>"$W/synth.$i" 2>&1 || { cat "$W/synth.$i" >&2; fail "ut-synth $i"; }
	done
	BYTES=$(find "$W/gen" -type f -name 'seg-*.uts' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	n=$(find "$W/gen" -type f -name 'seg-*.uts' | wc -l)
	# (A segment is cut at 00:00 UTC, as the agent's are: there may be more.)
	[ "$n" -ge $((UPLOADERS * SEGS)) ] || fail "ut-synth made $n segments"
	NSEG=$n
	for i in $(seq1 "$UPLOADERS"); do
		echo $(( $(cat "$W/count.$i" 2>/dev/null || echo 0) + $(nsegs "$W/gen/$i") )) >"$W/count.$i.new"
		mv "$W/count.$i.new" "$W/count.$i"
	done
	echo "rep $rep: $n segments, $BYTES bytes"
	# The order rotates, so no pass always runs first or last.
	set -- $PASSES
	k=0
	while [ $k -lt $(( (rep - 1) % $# )) ]; do x=$1; shift; set -- "$@" "$x"; k=$((k + 1)); done
	for p in "$@"; do "pass_$p" "$rep"; done
done

# --- Every segment has its receipt (above) and is listed for its person -------
case " $PASSES " in
*" ingest "*)
	for i in $(seq1 "$UPLOADERS"); do
		expect 0 "" env USETRACE_HOME="$W/home/$i" "$USETRACE" my list --json
		n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["segments"]))' "$T/out")
		[ "$n" -eq "$(cat "$W/count.$i")" ] || fail "person $i has $n segments listed, want $(cat "$W/count.$i")"
		TOTAL=$((${TOTAL:-0} + n))
	done
	echo "checked: $TOTAL segments stored, each with a verified receipt, and listed"
esac
kill -TERM "$SRV_PID"
wait "$SRV_PID" || fail "the server did not stop cleanly"
expect 0 "" "$USETRACE" audit verify --data "$W/srv"
echo "checked: audit verify ok"

# --- Summary ------------------------------------------------------------------
awk -v reps="$REPS" '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
		t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1; n[k]++; mb[k, n[k]] = $3 / $4 / 1e6; cc[k, n[k]] = $5 / ($3 / 1e9); sc[k, n[k]] = $6 / ($3 / 1e9) }
END {
	printf "\n%-8s %-28s %11s %18s %18s\n", "pass", "MB/s per repetition", "median MB/s", "uploaders CPU s/GB", "server CPU s/GB"
	split("disk nginx ingest", ks, " ")
	for (x = 1; x <= 3; x++) {
		k = ks[x]; line = ""
		if (!n[k]) continue
		for (i = 1; i <= n[k]; i++) { line = line sprintf("%.1f ", mb[k, i]); m[i] = mb[k, i]; c[i] = cc[k, i]; s[i] = sc[k, i] }
		med[k] = median(m, n[k])
		printf "%-8s %-28s %11.1f %18.2f %18.2f\n", k, line, med[k], median(c, n[k]), median(s, n[k])
	}
	if (!n["disk"] || !n["nginx"] || !n["ingest"]) exit
	low = med["disk"] < med["nginx"] ? med["disk"] : med["nginx"]
	printf "\ningest / lower ceiling (%s): %.2f\n", (med["disk"] < med["nginx"] ? "disk" : "nginx"), med["ingest"] / low
	printf "goal >= 100 MB/s: %s; goal >= 0.5x the lower ceiling: %s\n",
	    (med["ingest"] >= 100 ? "met" : "MISSED"), (med["ingest"] >= 0.5 * low ? "met" : "MISSED")
}' "$W/results"
