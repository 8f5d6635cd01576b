#!/bin/sh
# upload_background - an enrolled `usetrace record` uploads its closed
# segments by itself (issue 15, P10), with real typing into mousepad on
# Xvfb and a real `usetrace serve` on loopback.
#
# faults (default): the device reaches the server only through
#   ut-faultproxy (seeded connection resets at random byte offsets in both
#   directions, a stall in every connection, slow reads); the server is
#   killed (SIGKILL) mid-upload, restarted failing every audited request
#   with 503 (an fsync fault through the serve test seam), killed again and
#   restarted clean; the recorder itself is stopped and started again
#   (restart resumes).  At the end every segment is on the server exactly
#   once (`my list --json`), the typed text read back with `my show --json`
#   is exactly what was typed, each character once, and nothing is left on
#   the device.
# offline: the server is down for the whole recording: the spool fills to
#   its budget (never past it), status says "spool full, not recording",
#   typing meanwhile is not recorded; the server returns, the backlog
#   drains, the recorder records again by itself, and everything typed
#   while it recorded is on the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
MODE=${1:-faults}
: "${UT_FAULTPROXY:?UT_FAULTPROXY must point at ut-faultproxy}"
SEED=${UPLOAD_BG_SEED:-1509}
# Test-only: retries after 200 ms doubling to 1.5 s (not 1 s to 5 min).
export UT_UPLOAD_BACKOFF_MS=200,1500

start_x 1280x800x24
OUT="$E2E_TMP/typed.txt"
: >"$OUT"
start_mousepad "$OUT"
wait_editor_ready "$MP" "#"

start_server "$E2E_TMP/srv"
PORT=${SRV_URL##*:}
DIRECT=$SRV_URL
HOME_A="$XDG_CONFIG_HOME/usetrace"
add_person alice "$HOME_A" >/dev/null
enroll_here "$HOME_A"
# Keys and text only: small segments, many of them.
printf 'version: 1\ncollect: [keys, text, apps, titles]\n' >"$E2E_TMP/p.yaml"
"$USETRACE" consent --yes --policy "$E2E_TMP/p.yaml" >/dev/null || fail "consent"

set_url() { # the server device.json names (the proxy or the server)
	sed -i "s|\"url\": \"[^\"]*\"|\"url\": \"$1\"|" "$HOME_A/device.json"
	grep -q "\"url\": \"$1\"" "$HOME_A/device.json" || fail "cannot set the url"
}
kill_server() {
	kill -9 "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
}
# The same data, port and pin again; extra environment as arguments.
# Each start writes a file of its own: with one name reused, the shell
# truncates it in the child after `&`, so the wait below could see the
# previous start's pin line and then read the emptied file (it failed
# once so: "another pin after a restart" with an empty pin).
restart_server() { # [VAR=VALUE ...]
	out="$E2E_TMP/serve2.$(date +%s%N).out"
	env "$@" "$USETRACE" serve --data "$E2E_TMP/srv" --listen "127.0.0.1:$PORT" \
		>"$out" 2>>"$E2E_TMP/serve.err" &
	SRV_PID=$!
	E2E_PIDS="$SRV_PID $E2E_PIDS"
	i=0
	until grep -q '^pin ' "$out" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 300 ] && { cat "$E2E_TMP/serve.err" >&2; fail "server did not restart"; }
		sleep 0.1
	done
	[ "$(sed -n 's/^pin //p' "$out")" = "$SRV_PIN" ] || {
		echo "was $SRV_PIN" >&2; cat "$out" "$E2E_TMP/serve.err" >&2
		fail "another pin after a restart"; }
}
status_json() { "$USETRACE" status --json 2>/dev/null | head -1 || true; }
# Whether status --json matches a Python expression over `s` (the status
# object).
status_is() { # EXPR
	python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if ('"$1"') else 1)' \
		"$(status_json)" 2>/dev/null
}
status_fail() { # WHAT
	status_json; cat "$REC_LOG" >&2; ls -l "$E2E_TMP/rec" >&2; fail "$1"
}
# Waits (bounded only against hanging, like lib.sh's wait_status) until
# the status matches EXPR.
wait_json() { # EXPR WHAT
	i=0
	until status_is "$1"; do
		i=$((i + 1)); [ $i -gt "${WAIT_STATUS_MAX:-300}" ] && status_fail "$2"
		sleep 0.2
	done
}
# Types words until the status matches EXPR (a segment closes only once
# enough was typed to fill it).
type_until() { # EXPR WHAT
	i=0
	until status_is "$1"; do
		i=$((i + 1)); [ $i -gt 80 ] && status_fail "$2"
		type_word
	done
}
WORD=0
TYPED=""
type_word() { # types the next word into mousepad; remembers it in TYPED
	WORD=$((WORD + 1))
	w="w${WORD}x$(printf '%s' "$WORD" | tr 0-9 a-j) "
	xdo windowactivate --sync "$MP"
	xdo type --delay 12 "$w"
	TYPED="$TYPED$w"
	sleep 0.25  # a group commit or two per word: segments fill

}
# The segment ids (hex, as `my list` shows them) of the closed segments
# in the spool, sorted.
seg_ids() {
	python3 - "$E2E_TMP/rec" <<'PY'
import os, sys
d = sys.argv[1]
ids = []
for n in os.listdir(d):
    if n.startswith("seg-") and n.endswith(".uts"):
        with open(os.path.join(d, n), "rb") as f:
            ids.append(f.read(80)[64:80].hex())
print("\n".join(sorted(ids)))
PY
}
nlocal() { ls "$E2E_TMP/rec" 2>/dev/null | grep -c '^seg-' || true; }

# The typed text on the server, from `my show --json` of every listed
# segment (each listed once), into $E2E_TMP/server.txt.
server_text() {
	USETRACE_HOME=$HOME_A "$USETRACE" my list --json >"$E2E_TMP/list.json" || fail "my list"
	: >"$E2E_TMP/actions.jsonl"
	python3 - "$E2E_TMP/list.json" >"$E2E_TMP/ids" <<'PY' || fail "a segment is listed twice"
import json, sys
segs = sorted(json.load(open(sys.argv[1]))["segments"], key=lambda s: s["start_ns"])
ids = [s["id"] for s in segs]
assert len(ids) == len(set(ids)), ids
print("\n".join(ids))
PY
	while read -r id; do
		USETRACE_HOME=$HOME_A "$USETRACE" my show "$id" --json >>"$E2E_TMP/actions.jsonl" ||
			fail "my show $id"
	done <"$E2E_TMP/ids"
	python3 - "$E2E_TMP/actions.jsonl" >"$E2E_TMP/server.txt" <<'PY'
import json, sys
text = ""
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    a = json.loads(l)
    if a.get("action") == "type":
        text += a.get("text", "")
    elif a.get("action") == "key" and a.get("key") == "space":
        text += " "
sys.stdout.write(text)
PY
}

if [ "$MODE" = faults ]; then
	# Connections 1..60 get seeded faults (a reset at a random offset
	# below 6000 bytes, or none); later ones pass, so the upload ends.
	LIST=$(awk -v s="$SEED" 'BEGIN { srand(s); for (i = 0; i < 60; i++)
		printf "%s%s", i ? "," : "", rand() < 0.5 ? "pass" : int(rand() * 6000) }')
	"$UT_FAULTPROXY" --listen 127.0.0.1:0 --to "127.0.0.1:$PORT" --direction both \
		--reset-after "$LIST" --stall-ms 300@1500 --slow-read 400000 \
		>"$E2E_TMP/proxy.out" 2>"$E2E_TMP/proxy.err" &
	E2E_PIDS="$! $E2E_PIDS"
	i=0
	until grep -q '^listen ' "$E2E_TMP/proxy.out" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "the proxy did not start"
		sleep 0.05
	done
	set_url "https://$(sed -n 's/^listen //p' "$E2E_TMP/proxy.out")"

	start_record "$E2E_TMP/rec" --policy "$E2E_TMP/p.yaml" --segment-bytes 4096
	# Uploads under way (through the proxy's faults): kill the server now.
	type_until 's["upload"]["uploaded"] + s["upload"]["failures"] >= 1' "no upload attempt"
	kill_server
	# Unreachable: closed segments wait, status says how many and why.
	type_until 's["upload"]["failures"] >= 1 and s["upload"]["last_error"] and s["upload"]["segments"] >= 2' \
		"no waiting segments and error while the server is down"
	"$USETRACE" status >"$E2E_TMP/status.txt" || true
	grep -q "^upload: [1-9][0-9]* segments\{0,1\} ([0-9]* bytes) waiting" "$E2E_TMP/status.txt" &&
		grep -q "^last upload error: " "$E2E_TMP/status.txt" ||
		{ cat "$E2E_TMP/status.txt"; fail "status does not show what waits and the error"; }
	# These stay on the device (no receipt) until the server has them.
	seg_ids >"$E2E_TMP/down_ids"
	[ -s "$E2E_TMP/down_ids" ] || fail "no closed segment while the server is down"
	# Back, but refusing every audited request with 503 (an fsync fault
	# once it serves; the refusals stay until a restart).
	restart_server UT_FSIO_FAULT_SERVING=fsync:1:EIO
	for n in $(seq 8); do type_word; done
	# The uploader met the refusals (and kept the segments).
	i=0
	until grep -q "503\|audit_unavailable\|HTTP 5" "$REC_LOG"; do
		i=$((i + 1)); [ $i -gt "${WAIT_STATUS_MAX:-300}" ] && status_fail "no 503 seen by the uploader"
		sleep 0.2
	done
	# The recorder stops and starts again: the closed segments wait and
	# are sent by the new one (restart resumes).
	stop_record
	[ "$(nlocal)" -gt 0 ] || fail "nothing waited at the recorder's restart"
	kill_server
	restart_server
	start_record "$E2E_TMP/rec" --policy "$E2E_TMP/p.yaml" --segment-bytes 4096
	for n in $(seq 8); do type_word; done
	# A pause closes the segment; everything drains.
	"$USETRACE" pause >/dev/null || fail "pause"
	wait_json 's["upload"]["segments"] == 0' "the backlog did not drain"
	stop_record
	[ "$(nlocal)" = 0 ] || { ls -l "$E2E_TMP/rec"; fail "segments left on the device"; }
	grep -q " reset " "$E2E_TMP/proxy.err" || fail "the proxy reset nothing"
	server_text
	[ "$(cat "$E2E_TMP/server.txt")" = "$TYPED" ] ||
		fail "on the server: '$(cat "$E2E_TMP/server.txt")', typed: '$TYPED'"
	# The segments that waited while the server was down are there (once:
	# server_text checked that no id is listed twice).
	missing=$(sort "$E2E_TMP/ids" | comm -13 - "$E2E_TMP/down_ids")
	[ -z "$missing" ] || fail "segments of the device not on the server: $missing"
	stop_server
	"$USETRACE" audit verify --data "$E2E_TMP/srv" >/dev/null || fail "audit verify"
	echo "upload_background faults: ok ($(grep -c . "$E2E_TMP/ids") segments)"
	exit 0
fi

# --- offline: the server is down for the whole recording. ---
kill_server
BUDGET=24000
start_record "$E2E_TMP/rec" --policy "$E2E_TMP/p.yaml" --segment-bytes 4096 \
	--spool-budget "$BUDGET"
i=0
until status_json | grep -q '"spool_full":true'; do
	i=$((i + 1)); [ $i -gt 400 ] && { status_json; fail "the spool never filled"; }
	type_word
done
"$USETRACE" status >"$E2E_TMP/status.txt" || true
grep -q "^spool full, not recording" "$E2E_TMP/status.txt" ||
	{ cat "$E2E_TMP/status.txt"; fail "status does not say the spool is full"; }
grep -q "^last upload error: " "$E2E_TMP/status.txt" ||
	{ cat "$E2E_TMP/status.txt"; fail "status does not show the upload error"; }
USED=$(cat "$E2E_TMP/rec"/seg-* | wc -c)
[ "$USED" -le "$BUDGET" ] || fail "the spool holds $USED bytes, over its budget $BUDGET"
FULL_AT=$TYPED
# What the spool holds now is kept (nothing old is dropped) and all of it
# reaches the server.
seg_ids >"$E2E_TMP/full_ids"
[ "$(nlocal)" -gt 1 ] || fail "the budget was met with one segment"
# Typed while full: not recorded.
xdo windowactivate --sync "$MP"
xdo type --delay 12 "lost "
sleep 0.5
status_json | grep -q '"spool_full":true' || fail "recording resumed with the server down"
# The server returns: the backlog drains and recording resumes by itself.
restart_server
wait_json 's["state"] == "recording" and not s["spool_full"]' "recording did not resume"
for n in 1 2 3; do type_word; done
"$USETRACE" pause >/dev/null || fail "pause"
wait_json 's["upload"]["segments"] == 0' "the backlog did not drain"
stop_record
[ "$(nlocal)" = 0 ] || { ls -l "$E2E_TMP/rec"; fail "segments left on the device"; }
server_text
missing=$(sort "$E2E_TMP/ids" | comm -13 - "$E2E_TMP/full_ids")
[ -z "$missing" ] || fail "segments of the full spool not on the server: $missing"
python3 - "$E2E_TMP/server.txt" "$FULL_AT" "$TYPED" <<'PY' || fail "text on the server"
import sys
got, full_at, typed = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
after = typed[len(full_at):]
assert "lost" not in got, "typed while full was recorded: %r" % got
assert got.endswith(after), "typed after the drain missing: %r" % got
before = got[: len(got) - len(after)]
# Everything recorded before the budget is there, in order: a prefix of
# what was typed then.  Its end is what was typed just before the agent
# met the budget (still in the action and commit pipeline, so never
# written): not recorded, and not dropped from the spool either.
assert full_at.startswith(before), "not a prefix of the typed text: %r" % before
assert len(before) >= len(full_at) // 2, "most of it is missing: %r" % before
PY
stop_server
echo "upload_background offline: ok"
