#!/bin/sh
# agent_clock - a recorder told that this device's clock is more than
# 2 minutes off the server's (what `usetrace upload` tells it, request
# "clock OFFSET" on the control socket) stops recording and says why in
# `usetrace status`; nothing typed meanwhile is recorded; told the clock is
# right again, it records again.  (The server's half, the offset `upload`
# computes from the control reply, is in tests/server; a test cannot move
# either clock.)
. "$(dirname "$0")/lib.sh"

clock() { # OFFSET_S: the request upload sends, over the control socket
	python3 - "$XDG_RUNTIME_DIR/usetrace/agent.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(("clock %s\n" % sys.argv[2]).encode())
print(s.recv(4096).decode().strip())
PY
}

start_x 1280x800x24
OUT="$E2E_TMP/typed.txt"
: >"$OUT"
start_mousepad "$OUT"
wait_editor_ready "$MP" "#"
start_record "$E2E_TMP/rec"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3
clock 30 | grep -q '"recording":true' || fail "30 s off should keep recording"
clock 300 | grep -q '"recording":false' || fail "300 s off did not stop recording"
"$USETRACE" status >"$E2E_TMP/status" || true
grep -q "^not recording" "$E2E_TMP/status" && grep -q "clock is 300 s ahead of the server's" "$E2E_TMP/status" ||
	{ cat "$E2E_TMP/status"; fail "status does not say why"; }
xdo windowactivate --sync "$MP"
xdo type --delay 15 "during "
sleep 0.3
clock -200 | grep -q '"recording":false' || fail "200 s behind should not record"
clock 0 | grep -q '"recording":true' || fail "a right clock did not resume recording"
"$USETRACE" status | grep -q "^recording" || fail "status after the clock is right"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after"
sleep 0.5
clock abc | grep -q '"ok":false' || fail "a malformed offset was accepted"
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
ends = [r for r in raw if r["type"] == "end" and "clock" in r.get("text", "")]
check(len(ends) == 1, "one end record naming the clock, got %d" % len(ends))
print("agent_clock ok")
PY
