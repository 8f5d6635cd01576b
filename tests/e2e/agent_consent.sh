#!/bin/sh
# agent_consent - P1 and P2 on the recorded data: no consent, consent for
# an older policy, consent withdrawn mid-recording, a category the policy
# does not declare, a malformed policy, the indicator, and a control socket
# that refuses another user.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
xterm -title ut-term -geometry 80x20+0+0 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
XT=$(wait_window ut-term)
xdotool windowactivate --sync "$XT"

typed_text() { # dir -> all text typed in key records
	"$USETRACE" show "$1" --raw 2>/dev/null | python3 -c '
import json, sys
print("".join(json.loads(l).get("text", "") for l in sys.stdin
      if json.loads(l)["type"] == "key" and json.loads(l)["down"]))' || true
}

# 1. No consent: the agent runs, says why, records nothing.
"$USETRACE" consent --withdraw >/dev/null
start_record "$E2E_TMP/none" --no-wait
wait_agent
"$USETRACE" status >"$E2E_TMP/st" && fail "status says recording without consent"
grep -q "not recording: .*consent" "$E2E_TMP/st" || { cat "$E2E_TMP/st"; fail "status does not say why"; }
xdotool search --class usetrace-indicator >/dev/null || fail "no visible indicator"
xdo type --delay 10 "secret before consent"
sleep 0.5
# 2. Consent while the agent runs: it starts recording.
"$USETRACE" consent --yes >"$E2E_TMP/consent.out"
grep -q "WHAT IS COLLECTED" "$E2E_TMP/consent.out" || fail "consent did not show the notice"
grep -q "is recording" "$E2E_TMP/consent.out" || { cat "$E2E_TMP/consent.out"; fail "agent not told"; }
"$USETRACE" status | grep -q "^recording" || fail "status after consent"
xdo type --delay 10 "after consent"
sleep 0.5
# 3. Withdrawn mid-recording: nothing from then on.
"$USETRACE" consent --withdraw | grep -q "withdrawn" || fail "withdraw"
xdo type --delay 10 "after withdrawal"
sleep 0.5
"$USETRACE" status | grep -q "withdrawn" || fail "status after withdrawal"
stop_record
t=$(typed_text "$E2E_TMP/none")
[ "$t" = "after consent" ] || fail "recorded text '$t' (want exactly 'after consent')"

# 4. Consent for an older policy.
cat >"$E2E_TMP/p1.yaml" <<'Y'
version: 1
collect: [keys, text, apps, titles]
Y
sed 's/^version: 1/version: 2/' "$E2E_TMP/p1.yaml" >"$E2E_TMP/p2.yaml"
"$USETRACE" consent --yes --policy "$E2E_TMP/p1.yaml" >/dev/null
start_record "$E2E_TMP/old" --no-wait --policy "$E2E_TMP/p2.yaml"
wait_agent
"$USETRACE" status | grep -q "policy is now version 2" || fail "stale consent not reported"
xdo type --delay 10 "under the new policy"
sleep 0.3
stop_record
[ -z "$(typed_text "$E2E_TMP/old")" ] || fail "recorded under a policy without consent"

# 5. A category the policy does not declare is never written (no pointer).
"$USETRACE" consent --yes --policy "$E2E_TMP/p1.yaml" >/dev/null
start_record "$E2E_TMP/nopointer" --policy "$E2E_TMP/p1.yaml"
xdo mousemove 300 300 click 1
xdo type --delay 10 "keys only"
sleep 0.5
stop_record
"$USETRACE" show "$E2E_TMP/nopointer" --raw >"$E2E_TMP/np.jsonl"
grep -q '"type":"key"' "$E2E_TMP/np.jsonl" || fail "keys not recorded"
if grep -q -e '"type":"button"' -e '"type":"motion"' "$E2E_TMP/np.jsonl"; then
	fail "pointer records written without the category"
fi

# 6. A malformed policy: a clear error naming line and field; no agent.
printf 'version: 1\ncollect: [keys, mouse]\n' >"$E2E_TMP/bad.yaml"
rc=0
"$USETRACE" record --out "$E2E_TMP/bad" --policy "$E2E_TMP/bad.yaml" 2>"$E2E_TMP/bad.err" || rc=$?
[ "$rc" -ne 0 ] || fail "malformed policy accepted"
grep -q "line 2: collect: unknown category 'mouse'" "$E2E_TMP/bad.err" || { cat "$E2E_TMP/bad.err"; fail "policy error unclear"; }
[ ! -e "$E2E_TMP/bad" ] || fail "agent started with a malformed policy"

# 7. The control socket refuses another user.
"$USETRACE" consent --yes >/dev/null
start_record "$E2E_TMP/sock"
SOCK="$XDG_RUNTIME_DIR/usetrace/agent.sock"
[ -S "$SOCK" ] || fail "no control socket"
[ "$(stat -c %a "$XDG_RUNTIME_DIR/usetrace")" = 700 ] || fail "socket dir not 0700"
if [ "$(id -u)" -eq 0 ]; then
	# Open the directory so only SO_PEERCRED stands in the way.
	chmod 0711 "$XDG_RUNTIME_DIR" "$XDG_RUNTIME_DIR/usetrace" "$E2E_TMP"
	chmod 0666 "$SOCK"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1]); s.settimeout(3)
try:
    s.sendall(b"status\n")
    d = s.recv(100)
except (ConnectionResetError, BrokenPipeError):
    d = b""
print("refused" if d == b"" else repr(d))' "$SOCK" 2>&1) || true
	chmod 0700 "$XDG_RUNTIME_DIR/usetrace" "$E2E_TMP"
	[ "$out" = "refused" ] || fail "another user got an answer: $out"
	grep -q "refused a control connection from another user" "$REC_LOG" || fail "refusal not logged"
fi
"$USETRACE" status | grep -q "^recording" || fail "own user refused"
stop_record
echo "agent_consent ok"
