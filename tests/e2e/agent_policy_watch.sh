#!/bin/sh
# agent_policy_watch - issue 17: the recorder watches its policy file.
# Changed under a running recorder, it stops (nothing typed afterwards is
# recorded) and says why; consent to the changed policy makes it record
# again.  Removed, it stops too; put back as consented, it records again.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
OUT="$E2E_TMP/typed.txt"
: >"$OUT"
start_mousepad "$OUT"
wait_editor_ready "$MP" "#"
P="$E2E_TMP/policy.yaml"
cat >"$P" <<'Y'
version: 1
collect: [keys, text, apps, titles]
Y
cp "$P" "$E2E_TMP/p1.yaml"
"$USETRACE" consent --yes --policy "$P" >/dev/null || fail "consent to version 1"
start_record "$E2E_TMP/rec" --policy "$P"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3

# 1. Changed in place: stop, say why.
cat >"$P" <<'Y'
version: 2
collect: [keys, text, apps, titles, pointer]
Y
wait_status "^not recording: .*policy is now version 2" "a changed policy file did not stop the recorder"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "changed "
sleep 0.3
"$USETRACE" consent --yes --policy "$P" >"$E2E_TMP/consent.out" || fail "consent to version 2"
grep -q "is recording" "$E2E_TMP/consent.out" || { cat "$E2E_TMP/consent.out"; fail "consent to the changed policy did not resume"; }
grep -q "What changed since version 1" "$E2E_TMP/consent.out" &&
	grep -q "+ collected: pointer" "$E2E_TMP/consent.out" ||
	{ cat "$E2E_TMP/consent.out"; fail "consent does not show what changed"; }
wait_status "^recording" "not recording after consent"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "middle "
sleep 0.3

# 2. Removed: stop; restored as consented: record again.
mv "$P" "$E2E_TMP/p2.yaml"
wait_status "^not recording: .*policy can no longer be read" "a removed policy file did not stop the recorder"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "removed "
sleep 0.3
cp "$E2E_TMP/p2.yaml" "$P"
wait_status "^recording" "the policy consented to, put back, did not resume recording"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after"
sleep 0.5
stop_record

"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl"
python3 - "$E2E_TMP/raw.jsonl" <<'PY'
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1])]
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)
text = "".join(r["text"] for r in raw if r["type"] == "key" and r["down"])
check(text == "before middle after", "recorded text %r" % text)
ends = [r for r in raw if r["type"] == "end" and "policy" in r.get("text", "")]
check(len(ends) == 2, "two end records for the policy changes, got %d" % len(ends))
print("agent_policy_watch ok")
PY
