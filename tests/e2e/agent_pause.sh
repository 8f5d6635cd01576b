#!/bin/sh
# agent_pause - P3 on the recorded data: a 2 s pause in the middle of
# typing keeps nothing typed during the pause, recording resumes by
# itself, pause/resume records carry no content, and a pause longer than
# the policy allows is refused with a clear message.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
OUT="$E2E_TMP/typed.txt"
: >"$OUT"
start_mousepad "$OUT"
wait_editor_ready "$MP" "#"
start_record "$E2E_TMP/rec"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
"$USETRACE" pause 2s >"$E2E_TMP/pause.out" || fail "pause failed"
grep -q "paused until" "$E2E_TMP/pause.out" || fail "no pause acknowledgement"
"$USETRACE" status | grep -q "^paused until" || fail "status while paused"
# A local pause is nobody else's: not "by you" (the web page's), not the org's.
"$USETRACE" status --json | grep -q '"paused_by":"local"' || fail "status --json: paused_by of a local pause"
xdo type --delay 15 "during "
xdo mousemove 700 300 click 1
sleep 2.5
"$USETRACE" status | grep -q "^recording" || fail "did not resume by itself"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after"
sleep 0.5
rc=0
"$USETRACE" pause 2h 2>"$E2E_TMP/long.err" || rc=$?
[ "$rc" -eq 1 ] || fail "a 2 h pause was not refused"
grep -q "at most 30 minutes" "$E2E_TMP/long.err" || { cat "$E2E_TMP/long.err"; fail "unclear refusal"; }
"$USETRACE" pause 1s >/dev/null
"$USETRACE" resume | grep -q resumed || fail "resume"
# Nothing paused: resume says so (it printed "resumed" before).
rc=0
"$USETRACE" resume >"$E2E_TMP/resume.out" 2>"$E2E_TMP/resume.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "not paused (recording)" "$E2E_TMP/resume.err" &&
	! grep -q resumed "$E2E_TMP/resume.out" ||
	{ cat "$E2E_TMP/resume.out" "$E2E_TMP/resume.err"; fail "resume while recording"; }
stop_record

"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
python3 - "$E2E_TMP/raw.jsonl" <<'PY'
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1])]
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)
text = "".join(r["text"] for r in raw if r["type"] == "key" and r["down"])
check(text == "before after", "recorded text %r" % text)
p = [r for r in raw if r["type"] == "pause"]
q = [r for r in raw if r["type"] == "resume"]
check(len(p) == 2 and len(q) == 2, "pause/resume records %d/%d" % (len(p), len(q)))
check(all(r["sensitivity"] == 1 for r in p + q), "pause records carry no content")
t0, t1 = p[0]["wall_ns"], q[0]["wall_ns"]
inside = [r for r in raw if t0 < r["wall_ns"] < t1]
check(not inside, "records inside the pause: %r" % inside[:3])
check(not [r for r in raw if r["type"] == "button" and t0 < r["wall_ns"] < t1 + 2e8],
      "click during pause recorded")
seqs = [r["seq"] for r in raw]
check(seqs == sorted(set(seqs)), "sequence numbers unique across the pause")
print("agent_pause ok")
PY
