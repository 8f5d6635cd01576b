#!/bin/sh
# record_bench.sh [OFFICE_SECONDS] - recorder benchmarks (not pass/fail):
#   1. event-to-record latency: XTEST injection -> record timestamp, p50/p99
#   2. recorder CPU per event over a 100,000-event burst
#   3. an office-work session (default 600 s): steady RSS (sampled every
#      5 s) and bytes per hour of recorded events
# Run from the source tree after building: bench/record_bench.sh 600
set -eu
cd "$(dirname "$0")/.."
OFFICE=${1:-600}
. bench/lib.sh

start_x 1920x1080x24
xterm -geometry 100x30+0+0 -e cat >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
W=$(wait_window cat)
xdotool windowactivate --sync "$W"


# 1. Latency.
start_record "$E2E_TMP/lat"
"$INJECT" latency 3000 >"$E2E_TMP/injected.txt"
sleep 0.5
stop_record
"$USETRACE" show "$E2E_TMP/lat" --raw >"$E2E_TMP/lat.jsonl"
python3 - "$E2E_TMP" <<'PY'
import json, sys
d = sys.argv[1]
inj = {}
for l in open(d + "/injected.txt"):
    x, y, t = l.split()
    inj.setdefault((int(x), int(y)), []).append(int(t))
lat = []
for l in open(d + "/lat.jsonl"):
    r = json.loads(l)
    if r["type"] == "motion" and (r["x"], r["y"]) in inj and inj[(r["x"], r["y"])]:
        lat.append((r["mono_ns"] - inj[(r["x"], r["y"])].pop(0)) / 1e6)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("latency: %d events matched, p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (len(lat), q(.5), q(.99), lat[-1]))
PY

# 2. CPU per event.
start_record "$E2E_TMP/burst"
c0=$(cpu_ticks "$REC_PID")
"$INJECT" burst 100000
sleep 1
c1=$(cpu_ticks "$REC_PID")
stop_record
n=$(grep -o '[0-9]* records' "$REC_LOG" | head -1 | cut -d' ' -f1)
python3 -c "print('cpu per event: %.2f us (%d records, %.2f s CPU)' % (($c1-$c0)/$HZ*1e6/$n, $n, ($c1-$c0)/$HZ))"

# 3. Office session.
start_record "$E2E_TMP/office"
"$INJECT" office "$OFFICE" &
IP=$!
: >"$E2E_TMP/rss"
while kill -0 "$IP" 2>/dev/null; do
	rss_kb "$REC_PID" >>"$E2E_TMP/rss"
	sleep 5
done
c=$(cpu_ticks "$REC_PID")
stop_record
bytes=$(cat "$E2E_TMP/office"/seg-* | wc -c)
n=$(grep -o '[0-9]* records' "$REC_LOG" | head -1 | cut -d' ' -f1)
python3 - "$E2E_TMP/rss" "$bytes" "$n" "$OFFICE" "$c" "$HZ" <<'PY'
import sys
rss = [int(l) for l in open(sys.argv[1]) if l.strip()]
b, n, secs, ticks, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
half = rss[len(rss) // 2:]
print("office %d s: %d records, %d bytes -> %.2f MB/h, %.1f records/s" % (secs, n, b, b * 3600 / secs / 1e6, n / secs))
print("rss: first %.1f MB, median %.1f MB, max %.1f MB, last %.1f MB (growth over 2nd half: %+.1f MB)" % (
    rss[0] / 1024, sorted(rss)[len(rss) // 2] / 1024, max(rss) / 1024, rss[-1] / 1024, (half[-1] - half[0]) / 1024))
print("recorder cpu: %.3f%% of one core" % (ticks / hz / secs * 100))
PY
