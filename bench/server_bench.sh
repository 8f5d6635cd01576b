#!/bin/sh
# server_bench.sh [audit] [shred] [reads] - the server benchmarks of issue 11
# (not pass/fail; results in docs/BENCHMARKS.md, "Server: reads, audit
# appends, shred").  With no argument all three run, in that order.
#   audit  a real `usetrace serve` on loopback, one subject; 32 threads of
#          bench_server loop the audited GET /v1/my/segments for $SECS s,
#          connecting as the CLI does (client), fresh connections without
#          the CLI's CA loading (fresh), kept connections (keep); see
#          bench/bench_server.c.  The audit rows written meanwhile are
#          counted in meta.db (read-only) and must equal the requests.  Then
#          the audit log alone: 32 threads of audit_append() in-process.
#   shred  a key store of 10,000 subjects x 90 days (built on tmpfs, copied
#          to the disk under /tmp), 5 erasures of a person and 5 of one day.
#   reads  the subject's device uploads one $SEG_BYTES segment made by
#          ut-synth (tests/tools); $READS reads of its actions by one
#          thread in each --conn mode, then by 4 threads on kept connections.
# The server runs with rate_per_s/rate_burst raised (config), because every
# load generator shares one source address; everything else is default.
# Run from the source tree after building (BUILD=build-dir, default build):
#   bench/server_bench.sh
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
USETRACE=${USETRACE:-$PWD/$BUILD/src/cli/usetrace}
BENCH=${BENCH:-$PWD/$BUILD/bench/bench_server}
SHRED=${SHRED:-$PWD/$BUILD/bench/bench_shred}
SYNTH=${SYNTH:-$PWD/$BUILD/tests/tools/ut-synth}
SECS=${SECS:-10}
READS=${READS:-500}
SEG_BYTES=${SEG_BYTES:-4194304}
. bench/lib.sh
. tests/e2e/server_lib.sh
python3 - "$BUILD/meson-info/intro-buildoptions.json" <<'PY'
import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
print("build:", o["buildtype"], "b_sanitize=%s" % o["b_sanitize"])
PY

HOME_S="$E2E_TMP/person"
server_up() {
	[ -n "${SRV_PID:-}" ] && return 0
	printf '{"rate_per_s": 1000000, "rate_burst": 1000000}\n' >"$E2E_TMP/serve.json"
	start_server "$E2E_TMP/data" --config "$E2E_TMP/serve.json"
	TOKEN=$(add_person bench "$HOME_S")
	[ -n "$TOKEN" ] || fail "no token"
}

as_person() {
	USETRACE_SERVER=$SRV_URL USETRACE_PIN=$SRV_PIN USETRACE_TOKEN=$TOKEN \
		USETRACE_HOME=$HOME_S "$@"
}

# Runs bench_server as the person, then prints the server's CPU time per
# request it was sent (from /proc/PID/stat, 1/$HZ s ticks): on a shared
# machine a latency also measures the neighbours, the CPU much less.
bench_as_person() {
	c0=$(cpu_ticks "$SRV_PID")
	rc=0
	as_person "$BENCH" "$@" >"$E2E_TMP/bench.out" || rc=$?
	c1=$(cpu_ticks "$SRV_PID")
	cat "$E2E_TMP/bench.out"
	[ "$rc" -eq 0 ] || echo "bench_server $1 exited $rc (see the lines above)"
	made=$(sed -n 's/^made: \([0-9]*\) requests$/\1/p' "$E2E_TMP/bench.out")
	[ -n "$made" ] || return 0
	awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$made" 'BEGIN {
		printf "server CPU: %.2f ms per request\n", (b - a) * 1000 / hz / n }'
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

run_audit() {
	server_up
	echo "== audit: 32 clients, GET /v1/my/segments (a subject with no segments)"
	for conn in client fresh keep; do
		bench_as_person audit -c 32 -s "$SECS" --conn $conn \
			--meta "$E2E_TMP/data/meta.db"
	done
	echo "== audit log alone: 32 threads of audit_append() on /tmp (the disk)"
	"$BENCH" audit-direct -c 32 -s "$SECS" /tmp
	"$USETRACE" audit verify --data "$E2E_TMP/data" >/dev/null 2>&1 ||
		echo "note: audit verify while the server runs did not pass"
}

run_shred() {
	echo "== shred: 10,000 subjects x 90 days, key store on /tmp (the disk)"
	"$SHRED" --subjects 10000 --days 90 --runs 5 /tmp
}

run_reads() {
	server_up
	[ -x "$SYNTH" ] || fail "$SYNTH is not built (tests/tools/ut-synth)"
	echo "== reads: GET /v1/my/segments/ID/actions of one $SEG_BYTES-byte segment"
	# The person's device: its own key home, enrolled, consenting.
	dev="$E2E_TMP/device"
	mkdir -p "$dev" && chmod 700 "$dev"
	code=$(as_person "$USETRACE" my enroll-code | sed -n 's/^code //p')
	USETRACE_HOME=$dev "$USETRACE" enroll "$SRV_URL" --code "$code" \
		--pin "$SRV_PIN" >/dev/null || fail "enroll"
	USETRACE_HOME=$dev "$USETRACE" consent --yes >/dev/null || fail "consent"
	"$SYNTH" --home "$dev" --out "$E2E_TMP/segs" --segments 1 \
		--bytes "$SEG_BYTES" >"$E2E_TMP/synth.out" || fail "ut-synth"
	cat "$E2E_TMP/synth.out"
	seg=$(awk '$1 == "segment" {print $2}' "$E2E_TMP/synth.out")
	USETRACE_HOME=$dev "$USETRACE" upload "$E2E_TMP/segs" || fail "upload"
	[ -n "$seg" ] && my_segments "$HOME_S" | grep -qx "$seg" ||
		fail "segment $seg is not on the server"
	for conn in client fresh keep; do
		bench_as_person reads -n "$READS" --conn $conn "$seg"
	done
	bench_as_person reads -n $((READS / 4)) -c 4 --conn keep "$seg"
}

for w in ${*:-audit shred reads}; do
	case $w in
	audit) run_audit ;;
	shred) run_shred ;;
	reads) run_reads ;;
	*) fail "unknown benchmark '$w' (audit, shred, reads)" ;;
	esac
done
[ -z "${SRV_PID:-}" ] || stop_server
