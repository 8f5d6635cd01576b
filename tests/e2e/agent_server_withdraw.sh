#!/bin/sh
# agent_server_withdraw - issue 15: the person erases everything at the
# server (`usetrace my erase --all`, which withdraws their consent); the
# running recorder learns it through its control long-poll, withdraws the
# consent on this device, stops at once (nothing typed afterwards is
# recorded) and purges its closed segments.  A device that records on
# regardless (its old consent.json put back) gets its later segments
# refused by the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"

agent_req() { # REQUEST: one line on the agent's control socket
	python3 - "$XDG_RUNTIME_DIR/usetrace/agent.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print(s.recv(4096).decode().strip())
PY
}

closed_segments() { # dir -> how many closed segments
	find "$1" -name 'seg-*.uts' | wc -l
}

enrolled_editor
grep -q "the server was told" "$E2E_TMP/consent.out" || { cat "$E2E_TMP/consent.out"; fail "consent not posted to the server"; }
# --no-upload: what is on the device stays there for the checks below.
start_record "$E2E_TMP/rec" --no-upload --segment-bytes 4096
wait_status "^recording" "not recording at start"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3
# Pause and resume once: the segment so far is closed (to be purged).
"$USETRACE" pause 1s >/dev/null || fail "pause"
"$USETRACE" resume >/dev/null || fail "resume"
wait_status "^recording" "not recording after the person's resume"
[ "$(closed_segments "$E2E_TMP/rec")" -ge 1 ] || fail "no closed segment to purge"
cp "$HOME_A/consent.json" "$E2E_TMP/old-consent.json"

"$USETRACE" my erase --all --yes >/dev/null || fail "my erase --all"
wait_status "^not recording: consent was withdrawn" "the withdrawal at the server did not stop the agent"
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["withdrawn"] else 1)' \
	"$HOME_A/consent.json" || fail "consent.json is not withdrawn"
i=0
until [ "$(closed_segments "$E2E_TMP/rec")" -eq 0 ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { ls -l "$E2E_TMP/rec"; fail "closed segments not purged after the erasure"; }
	sleep 0.1
done
xdo windowactivate --sync "$MP"
xdo type --delay 15 "during "
sleep 0.3

# A device that does not obey: its old consent put back, the agent told.
cp "$E2E_TMP/old-consent.json" "$HOME_A/consent.json"
agent_req consent | grep -q '"recording":true' || fail "the restored consent did not make the agent record"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "late"
sleep 0.5
stop_record
# Sealed to the server's key: the device cannot read it, only count it.
[ "$(closed_segments "$E2E_TMP/rec")" -ge 1 ] || fail "the disobeying device recorded nothing"
# Each closed segment PUT as this device (its token from device.json), as
# an upload would: the server's signed receipt refuses it.  (`usetrace
# upload` itself deletes them unsent after an erasure of everything.)
for f in "$E2E_TMP"/rec/seg-*.uts; do
	id=$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read()[64:80].hex())' "$f")
	tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' "$HOME_A/device.json")
	curl -sk --pinnedpubkey "$SRV_PIN" -X PUT -H "Authorization: Bearer $tok" \
		-H "Usetrace-Purpose: ingest" -H "Content-Type: application/octet-stream" \
		--data-binary @"$f" "$SRV_URL/v1/device/segments/$id" >"$E2E_TMP/put.json" ||
		fail "PUT of a segment"
	python3 - "$E2E_TMP/put.json" <<'PY' || { cat "$E2E_TMP/put.json"; fail "the server did not refuse a segment recorded after the withdrawal"; }
import json, sys
r = json.load(open(sys.argv[1]))["receipt"]
print("receipt:", r["outcome"], r.get("reason", ""))
sys.exit(0 if r["outcome"] in ("rejected", "discarded") else 1)
PY
done
[ -z "$(my_segments "$HOME_A")" ] || fail "the server holds segments after the erasure"
stop_server
echo "agent_server_withdraw ok"
