#!/bin/sh
# target_bench.sh [N] - target elements (issue 12; not pass/fail), with
# the policy's "targets" category on and off in the same run, under
# dbus-run-session with the accessibility bus, mousepad nearly full screen:
#   1. latency from a press to its target element: the target record's
#      mono_ns minus its press's (both the recorder's clock), p50/p99;
#      presses that got none;
#   2. the input path: XTEST injection -> record timestamp of pointer
#      moves (bench_inject clicks N: N moves 2 ms apart, a click after
#      every 25th), p50/p99, targets on vs off;
#   3. recorder CPU over that run.
# Run from the source tree after building: bench/target_bench.sh 3000
if [ -z "${UT_E2E_DBUS:-}" ]; then
	UT_E2E_DBUS=1 exec dbus-run-session -- "$0" "$@"
fi
set -eu
cd "$(dirname "$0")/.."
N=${1:-3000}
ROUNDS=${ROUNDS:-2}
. bench/lib.sh

start_a11y
start_office
xdotool windowactivate --sync "$MP"
for c in on off; do
	cats="keys, text, pointer, apps, titles"
	[ $c = on ] && cats="$cats, targets"
	printf 'version: 1\ncollect: [%s]\n' "$cats" >"$E2E_TMP/$c.yaml"
done

run() { # on|off round
	"$USETRACE" consent --yes --policy "$E2E_TMP/$1.yaml" >/dev/null
	start_record "$E2E_TMP/rec-$1-$2" --policy "$E2E_TMP/$1.yaml"
	sleep 1
	c0=$(cpu_ticks "$REC_PID")
	t0=$(date +%s.%N)
	"$INJECT" clicks "$N" >"$E2E_TMP/inj-$1-$2.txt"
	sleep 0.5
	c1=$(cpu_ticks "$REC_PID")
	t1=$(date +%s.%N)
	stop_record
	"$USETRACE" show "$E2E_TMP/rec-$1-$2" --raw >"$E2E_TMP/raw-$1-$2.jsonl"
	python3 - "$E2E_TMP" "$1" "$2" "$((c1 - c0))" "$HZ" "$t0" "$t1" <<'PY'
import json, sys
d, c, rnd, ticks, hz, t0, t1 = sys.argv[1:]
inj = {}
for l in open("%s/inj-%s-%s.txt" % (d, c, rnd)):
    x, y, t = l.split()
    inj.setdefault((int(x), int(y)), []).append(int(t))
recs = [json.loads(l) for l in open("%s/raw-%s-%s.jsonl" % (d, c, rnd))]
lat, presses, tg = [], {}, []
for r in recs:
    if r["type"] == "motion" and (r["x"], r["y"]) in inj and inj[(r["x"], r["y"])]:
        lat.append((r["mono_ns"] - inj[(r["x"], r["y"])].pop(0)) / 1e6)
    if r["type"] == "button" and r["down"]:
        presses[r["seq"]] = r["mono_ns"]
    if r["type"] == "target" and r["action_seq"] in presses:
        tg.append((r["mono_ns"] - presses[r["action_seq"]]) / 1e6)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
print("targets %-3s round %s: input path %d moves p50 %.3f ms p99 %.3f ms max %.3f ms; "
      "recorder cpu %.1f%% of one core" % (c, rnd, len(lat), q(lat, .5), q(lat, .99),
      max(lat), int(ticks) / int(hz) / (float(t1) - float(t0)) * 100))
if c == "on":
    print("targets on  round %s: %d presses, %d targets (%d none); press -> target p50 %.2f ms p99 %.2f ms max %.2f ms"
          % (rnd, len(presses), len(tg), len(presses) - len(tg), q(tg, .5), q(tg, .99), max(tg) if tg else 0))
PY
}
r=1
while [ $r -le "$ROUNDS" ]; do
	run off $r
	run on $r
	r=$((r + 1))
done
grep -h "targets:" "$E2E_TMP"/*.log 2>/dev/null || true
