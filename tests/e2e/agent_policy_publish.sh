#!/bin/sh
# agent_policy_publish - issue 15: a policy published at the server
# mid-recording reaches the recorder through its control long-poll.  The
# agent saves it as the device's policy file, stops (status: the policy
# needs consent), and nothing is recorded under the old consent after it
# learned of the new version (the records end before its acknowledgement
# in the audit log); `usetrace consent` shows the new notice and what
# changed since the version accepted, and after it the agent records
# again.  Read back from the server with `my show`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"

enrolled_editor
start_record "$E2E_TMP/rec"
wait_status "^recording" "not recording at start"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3

cat >"$E2E_TMP/new.yaml" <<'Y'
version: 7
organisation: Example Org
collect: [keys, text, apps, titles]
retention: 30d
Y
as_admin admin policy publish "$E2E_TMP/new.yaml" >"$E2E_TMP/pub.out" || fail "admin policy publish"
grep -q "^policy version 1" "$E2E_TMP/pub.out" || { cat "$E2E_TMP/pub.out"; fail "publish output"; }
wait_status "^not recording: .*policy is now version 7" "the new policy did not stop the agent"
cmp -s "$E2E_TMP/new.yaml" "$HOME_A/policy.yaml" || fail "the server's policy was not saved as the device's policy file"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "during "
sleep 0.3

"$USETRACE" consent --yes >"$E2E_TMP/consent.out" || fail "consent to the new policy"
grep -q "Example Org" "$E2E_TMP/consent.out" || { cat "$E2E_TMP/consent.out"; fail "consent did not show the new notice"; }
grep -q "What changed since version 1" "$E2E_TMP/consent.out" &&
	grep -q "no longer collected: pointer" "$E2E_TMP/consent.out" &&
	grep -q "retention: 90 days -> 30 days" "$E2E_TMP/consent.out" ||
	{ cat "$E2E_TMP/consent.out"; fail "consent does not show what changed"; }
grep -q "is recording" "$E2E_TMP/consent.out" || { cat "$E2E_TMP/consent.out"; fail "agent not told"; }
wait_status "^recording" "the agent did not record again after consent"
"$USETRACE" status | grep -q "policy: version 7" || fail "status does not name the new policy"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after"
sleep 0.5
stop_record

"$USETRACE" upload "$E2E_TMP/rec" >"$E2E_TMP/upload.out" || { cat "$E2E_TMP/upload.out"; fail "upload"; }
USETRACE_HOME=$HOME_A "$USETRACE" my list --json >"$E2E_TMP/list.json" || fail "my list"
: >"$E2E_TMP/raw.jsonl"
for s in $(my_segments "$HOME_A"); do
	"$USETRACE" my show "$s" --raw | sed "s/^{/{\"segment\":\"$s\",/" >>"$E2E_TMP/raw.jsonl" || fail "my show --raw"
done
"$USETRACE" my audit --json >"$E2E_TMP/audit.json" || fail "my audit"
python3 - "$E2E_TMP/raw.jsonl" "$E2E_TMP/audit.json" "$E2E_TMP/list.json" <<'PY'
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def check(c, m):
    if not c:
        print("FAIL:", m); sys.exit(1)
raw.sort(key=lambda r: r["wall_ns"])
text = "".join(r["text"] for r in raw if r["type"] == "key" and r["down"])
check(text == "before after", "recorded text %r" % text)
ends = [r for r in raw if r["type"] == "end" and "policy" in r.get("text", "")]
check(len(ends) == 1, "one end record for the policy change, got %d" % len(ends))
old = ends[0]["segment"]
doc = json.load(open(sys.argv[2]))
entries = doc["entries"] if isinstance(doc, dict) else doc
fetch = [e for e in entries if e["action"] == "policy_fetch"]
check(fetch, "the device's policy fetch is not in the audit log")
acks = [e["time_ns"] for e in entries
        if e["action"] == "control_ack" and e["seq"] > fetch[0]["seq"]]
check(acks, "no acknowledgement of the new policy in the audit log")
t_ack = acks[0]
t_end = ends[0]["wall_ns"]
before = {r["segment"] for r in raw if r["wall_ns"] <= t_end}
late = [r for r in raw if r["segment"] in before and r["wall_ns"] > t_ack]
check(not late, "records under the old consent after the agent acknowledged "
      "the new policy: %r" % late[:3])
newer = [r for r in raw if r["segment"] not in before]
check(newer and all(r["wall_ns"] > t_ack for r in newer),
      "records of the new consent before the acknowledgement")
print("agent_policy_publish ok")
PY
stop_server
