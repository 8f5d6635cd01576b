#!/bin/sh
# pause_bench.sh [CYCLES] - latency of `usetrace pause` while input flows:
# from the request to its acknowledgement (the command returning), and from
# the request to the last record captured before the pause.  Not pass/fail.
set -eu
cd "$(dirname "$0")/.."
CYCLES=${1:-40}
. bench/lib.sh

start_x 1280x800x24
start_record "$E2E_TMP/rec"
# Continuous pointer motion (every 2 ms) while we pause and resume.
"$INJECT" latency 1000000 >/dev/null &
INJ=$!
E2E_PIDS="$INJ $E2E_PIDS"
sleep 0.5
python3 - "$USETRACE" "$CYCLES" "$E2E_TMP/times" <<'PY'
import subprocess, sys, time
usetrace, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    for i in range(n):
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        subprocess.run([usetrace, "pause", "10s"], check=True, stdout=subprocess.DEVNULL)
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        subprocess.run([usetrace, "resume"], check=True, stdout=subprocess.DEVNULL)
        f.write("%d %d\n" % (t0, t1))
        time.sleep(0.3)
PY
kill "$INJ"
stop_record
"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
python3 - "$E2E_TMP/times" "$E2E_TMP/raw.jsonl" <<'PY'
import json, sys
times = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
raw = [json.loads(l) for l in open(sys.argv[2])]
pauses = [i for i, r in enumerate(raw) if r["type"] == "pause"]
ack, last = [], []
for (t0, t1), pi in zip(times, pauses):
    ack.append((t1 - t0) / 1e6)
    before = [r for r in raw[:pi] if r["type"] in ("motion", "key", "button")]
    last.append((before[-1]["mono_ns"] - t0) / 1e6 if before else 0)
def q(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
print("pause: %d cycles" % len(ack))
print("request -> acknowledged: p50 %.1f ms, p99 %.1f ms" % (q(ack, .5), q(ack, .99)))
print("request -> last captured event: p50 %.1f ms, p99 %.1f ms (negative: before the request)" % (q(last, .5), q(last, .99)))
PY
