#!/bin/sh
# upload_backlog.sh [BUILDDIR] - the device-side cost of draining an upload
# backlog while recording (issue 15; not pass/fail, not in CI).
#
# Scene: Xvfb, mousepad, a `usetrace serve` on loopback, one enrolled
# device recording keys, text, apps and titles.  Each repetition runs two
# conditions on a fresh recording directory:
#   quiet    nothing waits: `usetrace record` while TEXT is typed
#            (xdotool, KEY_DELAY_MS apart);
#   backlog  SEGMENTS synthetic closed segments of SEG_BYTES each
#            (tests/tools/ut-synth, with key frames: like a day recorded
#            offline) wait in the directory when the recorder starts; it
#            uploads them in the background while the same TEXT is typed.
# Per condition: the agent's CPU (utime+stime, all threads, and its main
# thread, where capture and the spool writer run) from the start of typing
# to its end, per typed key; its peak RSS; for backlog, the time from the
# recorder's start until nothing waits, the MB/s that makes and the agent's
# CPU over that time (quiet: until its own closed segments are sent); and the
# capture check: the text typed, read back from the server (`usetrace my
# show --json` of the recorder's own segments) must be exactly TEXT.
# Prints each run and the medians; results: docs/BENCHMARKS.md,
# "Upload backlog on the device (issue 15)".
#
# Settings (environment): REPS (3), SEGMENTS (100), SEG_BYTES (262144),
# CHARS (400: the length of TEXT), KEY_DELAY_MS (25).
set -eu
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
USETRACE=$BUILD/src/cli/usetrace
SYNTH=$BUILD/tests/tools/ut-synth
. bench/lib.sh
. tests/e2e/server_lib.sh
REPS=${REPS:-3}
SEGMENTS=${SEGMENTS:-100}
SEG_BYTES=${SEG_BYTES:-262144}
CHARS=${CHARS:-400}
KEY_DELAY_MS=${KEY_DELAY_MS:-25}
echo "segments $SEGMENTS x $SEG_BYTES bytes, $CHARS chars typed ${KEY_DELAY_MS} ms apart, reps $REPS"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

start_x 1280x800x24
OUT="$E2E_TMP/typed.txt"
: >"$OUT"
start_mousepad "$OUT"
wait_editor_ready "$MP" "#"
start_server "$E2E_TMP/srv"
HOME_A="$XDG_CONFIG_HOME/usetrace"
add_person alice "$HOME_A" >/dev/null
enroll_here "$HOME_A"
printf 'version: 1\ncollect: [keys, text, apps, titles]\n' >"$E2E_TMP/p.yaml"
"$USETRACE" consent --yes --policy "$E2E_TMP/p.yaml" >/dev/null || fail "consent"
TEXT=$(python3 -c '
import random, sys
random.seed(15)
w = "the of and to in is you that it he was for on are as with his they at be this have from".split()
t = ""
while len(t) < int(sys.argv[1]):
    t += random.choice(w) + " "
print(t[: int(sys.argv[1])].rstrip() + ".")' "$CHARS")

status_json() { "$USETRACE" status --json 2>/dev/null | head -1 || true; }
waiting() {
	status_json | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["upload"]["segments"])
except Exception: print(-1)'
}
main_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; }
# The text of the recorder's own segments on the server: those begun at
# or after $1 ns (wall clock), the synthetic ones left out (their
# simulated time may run past now).
server_text_since() { # NS
	USETRACE_HOME=$HOME_A "$USETRACE" my list --json >"$E2E_TMP/list.json"
	touch "$E2E_TMP/synth_ids"
	python3 - "$E2E_TMP/list.json" "$1" "$E2E_TMP/synth_ids" <<'PY' >"$E2E_TMP/ids"
import json, sys
segs = json.load(open(sys.argv[1]))["segments"]
synth = set(open(sys.argv[3]).read().split())
print("\n".join(s["id"] for s in sorted(segs, key=lambda s: s["start_ns"])
                if s["start_ns"] >= int(sys.argv[2]) and s["id"] not in synth))
PY
	: >"$E2E_TMP/actions.jsonl"
	while read -r id; do
		USETRACE_HOME=$HOME_A "$USETRACE" my show "$id" --json >>"$E2E_TMP/actions.jsonl"
	done <"$E2E_TMP/ids"
	python3 - "$E2E_TMP/actions.jsonl" <<'PY'
import json, sys
t = ""
for l in open(sys.argv[1]):
    if l.strip():
        a = json.loads(l)
        if a.get("action") == "type":
            t += a.get("text", "")
        elif a.get("action") == "key" and a.get("key") == "space":
            t += " "
sys.stdout.write(t)
PY
}

: >"$E2E_TMP/results"
run() { # REP COND
	REC="$E2E_TMP/rec.$1.$2"
	rm -rf "$REC"
	bytes=0
	if [ "$2" = backlog ]; then
		"$SYNTH" --home "$HOME_A" --out "$REC" --segments "$SEGMENTS" \
			--bytes "$SEG_BYTES" --seed "$1" >"$E2E_TMP/synth.out" || fail "ut-synth"
		awk '$1 == "segment" {print $2}' "$E2E_TMP/synth.out" >>"$E2E_TMP/synth_ids"
		bytes=$(cat "$REC"/seg-*.uts | wc -c)
	fi
	# Clear the editor so the typed text starts on an empty line.
	xdo windowactivate --sync "$MP"
	xdo key ctrl+a BackSpace
	sleep 1
	t_start=$(date +%s%N)
	start_record "$REC" --policy "$E2E_TMP/p.yaml"
	t0=$(date +%s%N)
	c0=$(cpu_ticks "$REC_PID"); m0=$(main_ticks "$REC_PID")
	xdotool windowactivate --sync "$MP"
	xdotool type --delay "$KEY_DELAY_MS" "$TEXT"
	c1=$(cpu_ticks "$REC_PID"); m1=$(main_ticks "$REC_PID")
	t1=$(date +%s%N)
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$REC_PID/status")
	# Nothing waits any more (the backlog drained).
	i=0
	until [ "$(waiting)" = 0 ]; do
		i=$((i + 1)); [ $i -gt 3000 ] && fail "the backlog did not drain"
		sleep 0.1
	done
	t2=$(date +%s%N)
	c2=$(cpu_ticks "$REC_PID")
	"$USETRACE" pause >/dev/null
	i=0
	until [ "$(waiting)" = 0 ] && ! ls "$REC" | grep -q '^seg-'; do
		i=$((i + 1)); [ $i -gt 600 ] && fail "the last segment did not upload"
		sleep 0.1
	done
	stop_record
	got=$(server_text_since "$t_start")
	ok=yes
	if [ "$got" != "$TEXT" ]; then
		ok=no
		python3 -c '
import sys
a, b = sys.argv[1], sys.argv[2]
i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
sys.stderr.write("text differs at %d of %d/%d: typed %r, recorded %r\n"
                 % (i, len(a), len(b), a[max(0, i - 20):i + 20], b[max(0, i - 20):i + 20]))' \
			"$TEXT" "$got"
	fi
	python3 - "$1" "$2" "$c0" "$c1" "$c2" "$m0" "$m1" "$HZ" "$t0" "$t1" "$t2" "$bytes" \
		"$rss" "$CHARS" "$ok" <<'PY' | tee -a "$E2E_TMP/results"
import sys
r, cond, c0, c1, c2, m0, m1, hz, t0, t1, t2, b, rss, chars, ok = sys.argv[1:]
hz, chars = int(hz), int(chars)
typ_s = (int(t1) - int(t0)) / 1e9
cpu = (int(c1) - int(c0)) / hz
main = (int(m1) - int(m0)) / hz
cpu_all = (int(c2) - int(c0)) / hz
drain = (int(t2) - int(t0)) / 1e9
mbs = int(b) / 1e6 / drain if int(b) else 0
print("run %s %s typing_s %.1f cpu_s %.2f cpu_pct %.1f main_cpu_s %.2f "
      "main_ms_per_key %.3f rss_peak_mb %.1f backlog_mb %.1f drain_s %.1f "
      "mb_per_s %.2f cpu_to_drained_s %.2f text_exact %s"
      % (r, cond, typ_s, cpu, 100 * cpu / typ_s, main, 1000 * main / chars,
         int(rss) / 1024, int(b) / 1e6, drain, mbs, cpu_all, ok))
PY
}

r=1
while [ "$r" -le "$REPS" ]; do
	run "$r" quiet
	run "$r" backlog
	r=$((r + 1))
done
stop_server
python3 - "$E2E_TMP/results" <<'PY'
import sys, statistics as s
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("run ")]
for cond in ("quiet", "backlog"):
    rs = [r for r in rows if r[2] == cond]
    def med(name):
        return s.median(float(r[r.index(name) + 1]) for r in rs)
    print("median %s (%d runs): agent CPU %.2f s (%.1f%% of a core) while typing, "
          "main thread %.3f ms/key, peak RSS %.1f MB, drained %.1f s after start "
          "(%.2f MB/s), agent CPU start..drained %.2f s, text exact in %d/%d"
          % (cond, len(rs), med("cpu_s"), med("cpu_pct"), med("main_ms_per_key"),
             med("rss_peak_mb"), med("drain_s"), med("mb_per_s"),
             med("cpu_to_drained_s"),
             sum(r[-1] == "yes" for r in rs), len(rs)))
PY
