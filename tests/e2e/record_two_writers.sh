#!/bin/sh
# record_two_writers - two recorders into one spool directory (issue 17):
# the second, with its own runtime directory (so its own agent and control
# socket), is refused with a message naming the first recorder's pid and
# changes nothing; the first keeps recording, closes its segments itself,
# and `show` prints every click exactly once.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
start_record "$E2E_TMP/rec"
FIRST=$REC_PID
FIRST_LOG=$REC_LOG
n=0
click_some() {
	for x in 100 200 300 400 500; do
		xdo mousemove "$x" 300 click 1
		n=$((n + 1))
	done
	sleep 0.5
}
click_some

mkdir -p "$E2E_TMP/run2" && chmod 700 "$E2E_TMP/run2"
rc=0
XDG_RUNTIME_DIR="$E2E_TMP/run2" timeout 60 "$USETRACE" record --out "$E2E_TMP/rec" \
	>"$E2E_TMP/second.out" 2>"$E2E_TMP/second.err" || rc=$?
[ "$rc" -ne 0 ] || { cat "$E2E_TMP/second.err" >&2; fail "the second recorder exited 0"; }
grep -q "in use by another recorder (pid [0-9][0-9]*)" "$E2E_TMP/second.err" ||
	{ cat "$E2E_TMP/second.err" >&2; fail "no message naming the other recorder's pid"; }
holder=$(sed -n 's/.*another recorder (pid \([0-9]*\)).*/\1/p' "$E2E_TMP/second.err" | head -1)
kill -0 "$holder" 2>/dev/null || fail "the pid named ($holder) is not a live process"
[ "$holder" = "$FIRST" ] || fail "the pid named ($holder) is not the first recorder's ($FIRST)"
# The first recorder's live segment was not "recovered" by the second.
ls "$E2E_TMP/rec" | grep -q '\.uts\.open$' || fail "the live segment was closed by the second recorder"
grep -q "recovered" "$E2E_TMP/second.err" && fail "the second recorder recovered a live segment"
kill -0 "$FIRST" 2>/dev/null || fail "the first recorder died"

click_some
stop_record
grep -qi "error" "$FIRST_LOG" && { cat "$FIRST_LOG" >&2; fail "the first recorder met an error"; }
"$USETRACE" spool check "$E2E_TMP/rec" >"$E2E_TMP/check" ||
	{ cat "$E2E_TMP/check" >&2; fail "spool check failed"; }
"$USETRACE" show --raw "$E2E_TMP/rec" >"$E2E_TMP/raw" 2>"$E2E_TMP/show.err" ||
	{ cat "$E2E_TMP/show.err" >&2; fail "show failed"; }
python3 - "$E2E_TMP/raw" "$n" <<'PY' || fail "show printed records twice or lost clicks"
import json, sys
seqs, presses = [], 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    seqs.append(r["seq"])
    if r["type"] == "button" and r.get("down") and r.get("button") == 1:
        presses += 1
assert len(seqs) == len(set(seqs)), "a record printed twice"
assert presses == int(sys.argv[2]), "presses %d, want %s" % (presses, sys.argv[2])
PY
echo "ok: the second recorder was refused; $n clicks recorded once each"
