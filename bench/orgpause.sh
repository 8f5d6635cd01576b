#!/bin/sh
# orgpause.sh [BUILDDIR...] - organisation-wide pause benchmark (issue 15; not
# pass/fail): AGENTS simulated agents (tests/tools/ut-pollers: one libcurl
# multi loop, each agent an enrolled device with its own TLS connection)
# long-poll GET /v1/device/control?since=V&wait=50 on a `usetrace serve` on
# loopback; then
#   idle   the server's RSS and CPU (utime+stime from /proc) over IDLE_S
#          seconds while all AGENTS are connected and parked;
#   pause  `usetrace admin pause`; each agent acks the paused state
#          (POST /v1/device/ack) as soon as its poll answers; the time from
#          the pause's since_ns (server clock) to each ack's answer (the
#          same clock: one machine), p50 / p99 / max.
# Each repetition is a fresh server and fresh devices.  Prints each run and
# the medians; results: docs/BENCHMARKS.md, "Organisation-wide pause".
# With several build directories (e.g. a base and a branch) each round runs
# every build in turn (A B A B ...), so that both meet the same load; the
# medians are per build.  The load average is printed per run.
#
# Settings (environment): REPS (3), AGENTS (1000), IDLE_S (20), THREADS
# (the server's request threads, its config key `threads`: 8), BENCH_DIR
# (/var/tmp: a real disk; acks and audit entries are fsync'd), PERF=FILE
# (perf record -g of the server from the pause to the last ack, first run),
# KEEP (set: the work directory, with each server's log, is kept),
# UT_POLLERS (the ut-pollers binary for every build, e.g. one build's, so
# that a base and a branch meet the same simulated agents).
# Needs: a build (`ninja -C BUILDDIR`), python3.  Raises ulimit -n (soft) for
# itself; the server raises its own RLIMIT_NOFILE to max_connections.
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- build
BUILDS=""
for b in "$@"; do BUILDS="$BUILDS $(cd "$b" && pwd)"; done
REPS=${REPS:-3}
AGENTS=${AGENTS:-1000}
IDLE_S=${IDLE_S:-20}
THREADS=${THREADS:-8}
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/ut-orgpause.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	if [ -n "${KEEP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HZ=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
echo "agents $AGENTS, server threads $THREADS, idle ${IDLE_S}s, reps $REPS, ulimit -n $(ulimit -n)"
echo "builds:$BUILDS"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

wait_for() { # FILE PATTERN PID
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || { cat "$1" "$1.err" >&2 2>/dev/null; echo "exited" >&2; exit 1; }
		i=$((i + 1)); [ $i -gt 6000 ] && { echo "timeout waiting for $2" >&2; exit 1; }
		sleep 0.1
	done
}

: >"$W/results"
r=1
while [ $r -le "$REPS" ]; do
for BUILD in $BUILDS; do
	USETRACE=$BUILD/src/cli/usetrace
	POLLERS=${UT_POLLERS:-$BUILD/tests/tools/ut-pollers}
	B=$(basename "$(dirname "$BUILD")")/$(basename "$BUILD")
	D=$W/run$r.$(echo "$B" | tr / _)
	rm -rf "$D"
	mkdir -p "$D/admin" "$D/alice" && chmod 700 "$D/admin" "$D/alice"
	cat >"$D/serve.json" <<JSON
{"max_connections": 4096, "max_connections_per_ip": 4096, "longpoll_max": 4000,
 "threads": $THREADS,
 "rate_per_s": 1000000, "rate_burst": 1000000}
JSON
	"$USETRACE" serve --data "$D/data" --listen 127.0.0.1:0 --config "$D/serve.json" \
		>"$D/serve.out" 2>"$D/serve.err" &
	SP=$!
	PIDS="$SP $PIDS"
	wait_for "$D/serve.out" '^admin-token-file ' "$SP"
	URL=$(sed -n 's/^url //p' "$D/serve.out")
	PIN=$(sed -n 's/^pin //p' "$D/serve.out")
	ADMIN=$(cat "$(sed -n 's/^admin-token-file //p' "$D/serve.out")")
	adm() { USETRACE_SERVER=$URL USETRACE_PIN=$PIN USETRACE_TOKEN=$ADMIN \
		USETRACE_HOME="$D/admin" "$USETRACE" "$@"; }
	CLAIM=$(adm admin principal add alice --role subject | sed -n 's/^claim //p')
	PTOK=$(USETRACE_HOME="$D/alice" "$USETRACE" login "$URL" --claim "$CLAIM" \
		--pin "$PIN" | sed -n 's/^token //p')
	"$POLLERS" --url "$URL" --pin "$PIN" --token "$PTOK" --agents "$AGENTS" \
		--wait 50 --timeout 600 >"$D/pollers.out" 2>"$D/pollers.out.err" &
	PP=$!
	PIDS="$PP $PIDS"
	wait_for "$D/pollers.out" "^ready $AGENTS$" "$PP"
	sleep 2
	c0=$(cpu_ticks "$SP")
	sleep "$IDLE_S"
	c1=$(cpu_ticks "$SP")
	rss=$(rss_kb "$SP")
	thr=$(awk '/^Threads/ {print $2}' "/proc/$SP/status")
	fds=$(ls "/proc/$SP/fd" | wc -l)
	if [ -n "${PERF:-}" ] && [ "$r" = 1 ]; then
		perf record -g -o "$PERF" -p "$SP" 2>/dev/null &
		PERFP=$!
		sleep 1
	fi
	cp0=$(cpu_ticks "$PP")
	adm admin pause 10m >/dev/null
	c2=$(cpu_ticks "$SP"); cp1=$(cpu_ticks "$PP")
	while kill -0 "$PP" 2>/dev/null && ! grep -q '^acked' "$D/pollers.out"; do
		c2=$(cpu_ticks "$SP"); cp1=$(cpu_ticks "$PP")
		sleep 0.05
	done
	wait "$PP" || { cat "$D/pollers.out" "$D/pollers.out.err" >&2; exit 1; }
	if [ -n "${PERFP:-}" ]; then kill -INT "$PERFP"; wait "$PERFP" || true; PERFP=; fi
	adm admin pause-status >"$D/status"
	kill -TERM "$SP"
	wait "$SP" || true
	load=$(cut -d' ' -f1 /proc/loadavg)
	python3 - "$D/pollers.out" "$c0" "$c1" "$HZ" "$IDLE_S" "$rss" "$thr" "$fds" \
		"$D/status" "$r" "$B" "$load" >>"$W/results" <<'PY'
import sys
out, c0, c1, hz, idle, rss, thr, fds, st, r, b, load = sys.argv[1:]
ack = [l for l in open(out) if l.startswith("ack_ms")][0].split()
acked = [l for l in open(out) if l.startswith("acked")][0].split()[1]
acks = [l for l in open(st) if l.startswith("acks")][0].split()[1]
rt = [l.split()[1] for l in open(out) if l.startswith("retries")] or ["-"]
cpu = (int(c1) - int(c0)) / int(hz) / int(idle) * 100
print("build %s run %s acked %s p50 %s p99 %s max %s ms idle_cpu %.2f%% rss %.1f MB threads %s fds %s status_acks %s load %s retries %s"
      % (b, r, acked, ack[2], ack[4], ack[6], cpu, int(rss) / 1024, thr, fds, acks, load, rt[0]))
PY
	tail -1 "$W/results"
	# Where the time goes: the pause stored and the polls woken (server
	# log), the woken answers reaching the agents, the acks answered.
	sed -n 's/.*\(organisation pause .* woken .*\)/  \1/p' "$D/serve.err"
	sed -n 's/^\(seen_ms\|ack_ms\)/  \1/p' "$D/pollers.out"
	echo "  CPU from the pause to the last ack: server $(( (c2 - c1) * 1000 / HZ )) ms, ut-pollers $(( (cp1 - cp0) * 1000 / HZ )) ms"
done
	r=$((r + 1))
done
python3 - "$W/results" <<'PY'
import sys, statistics as s
allrows = [l.split() for l in open(sys.argv[1])]
for b in dict.fromkeys(r[1] for r in allrows):
    rows = [r for r in allrows if r[1] == b]
    def col(name):
        i = rows[0].index(name) + 1
        return s.median(float(r[i].rstrip("%")) for r in rows)
    print("median %s (%d runs): ack p50 %.0f ms, p99 %.0f ms, max %.0f ms; idle: CPU %.2f%% of a core, RSS %.1f MB; load %.1f"
          % (b, len(rows), col("p50"), col("p99"), col("max"), col("idle_cpu"), col("rss"), col("load")))
PY
