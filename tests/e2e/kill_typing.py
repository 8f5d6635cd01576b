# kill_typing.py USETRACE REC_PID SPOOL SECONDS - shared by
# tests/e2e/record_kill_typing.sh and bench/kill_typing_bench.sh: types
# prose continuously (xdotool, 30 ms a key) into the focused window for
# SECONDS, SIGKILLs the recorder REC_PID while typing goes on, reads what
# reached SPOOL and prints one line:
#   typed N recorded M lost L window_ms W
# typed: characters xdotool had sent when the kill came; recorded: key
# presses in the spool; window_ms: from the last recorded key press to the
# kill (the loss window).
import json, os, signal, subprocess, sys, time

usetrace, pid, spool, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
words = ("the quick brown fox jumps over the lazy dog while we wait for the "
         "build to finish and then go on with the next part of the plan").split()
mono = lambda: time.clock_gettime_ns(time.CLOCK_MONOTONIC)
t0, typed, i = time.monotonic(), 0, 0
while time.monotonic() - t0 < secs:
    chunk = " ".join(words[(i + k) % len(words)] for k in range(3)) + " "
    i += 3
    subprocess.run(["xdotool", "type", "--delay", "30", chunk], check=True)
    typed += len(chunk)
# Typing goes on (a last chunk in the background) while the recorder dies.
bgp = subprocess.Popen(["xdotool", "type", "--delay", "30", "and so on and so forth "])
time.sleep(0.1)
t_kill = mono()
os.kill(pid, signal.SIGKILL)
bgp.wait()
raw = subprocess.run([usetrace, "show", spool, "--raw"], capture_output=True, text=True)
recs = [json.loads(l) for l in raw.stdout.splitlines() if l.startswith("{")]
keys = [r for r in recs if r["type"] == "key" and r.get("down")]
last = max((r["mono_ns"] for r in keys), default=None)
window = (t_kill - last) / 1e6 if last is not None else float("inf")
print("typed %d recorded %d lost %d window_ms %.0f" % (typed, len(keys),
      typed - len(keys), window))
