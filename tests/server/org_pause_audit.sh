#!/bin/sh
# org_pause_audit - a woken control poll's answer waits for its audit entry
# without holding a request thread (routes.c invariant 2, issue 15), and
# still never leaves before that entry is durable: an I/O error is put at
# each fsync the server makes from serving to its stop (the serve test seam
# UT_FSIO_FAULT_SERVING) while one device's poll is parked and the admin
# pauses the organisation.  Whichever fsync fails, the poll gets either the
# paused state with its "control" entry in the log, or 503
# audit_unavailable with no state in the body; never the pause without its
# entry.  Each server stops cleanly (held answers handed back at the
# drain) and its log verifies.  The sweep must see both outcomes.
. "$(dirname "$0")/crash_lib.sh"
command -v curl >/dev/null || fail "curl is required"

BASE="$T/base"
srv_up "$BASE" 0
ADMIN_TOKEN=$(cat "$BASE/admin.token")
PORT=$SRV_PORT
person_with_device alice "$T/alice" "$T/adev"
DTOK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' \
	"$T/adev/device.json")
DEV="device:$DEVICE_ID"

# dev PATH: a device GET; body in $T/body, the status printed.
dev() {
	curl -sk -m 30 --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
		-H "Authorization: Bearer $DTOK" -H "Usetrace-Purpose: ingest" "$SRV_URL$1"
}
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

[ "$(dev /v1/device/control)" = 200 ] || fail "control"
V=$(jq_ "$T/body" 'd["state_version"]')
srv_stop
BASE_ROWS=$(audit_count "$BASE" control "$DEV" ok)

# one_pause FAULT: a fresh copy of the base served with FAULT armed, the
# device's poll parked, `admin pause`, the poll's answer, the stop.  Sets
# POLL (the poll's HTTP status; its body in $T/poll.body) and ROWS (the
# device's "control" entries beyond the base's).
one_pause() {
	copy_data "$BASE" "$T/d"
	srv_up "$T/d" "$PORT" "$1"
	(dev "/v1/device/control?since=$V&wait=8" >"$T/poll.status"; cp "$T/body" "$T/poll.body") &
	_p=$!
	sleep 1
	as_admin "$USETRACE" admin pause 60s >"$T/pause.out" 2>&1 || true
	wait "$_p" || fail "$1: the poll's client failed"
	POLL=$(cat "$T/poll.status")
	srv_stop
	audit_ok "$T/d"
	ROWS=$(( $(audit_count "$T/d" control "$DEV" ok) - BASE_ROWS ))
}

# The range: every fsync from serving to the stop.
one_pause fsync:4294967295:EIO
[ "$POLL" = 200 ] && [ "$(jq_ "$T/poll.body" 'd["org_pause"]["paused"]')" = True ] &&
	[ "$ROWS" -ge 1 ] || { cat "$T/poll.body" "$SRV_ERR" >&2; fail "no fault: the poll was not answered the pause"; }
NFSYNC=$(srv_calls fsync)
echo "a parked poll, a pause and the stop: $NFSYNC fsyncs"
[ "$NFSYNC" -ge 2 ] || fail "too few fsyncs to test"

PAUSED=0 REFUSED=0 NOPAUSE=0
n=1
while [ $n -le "$NFSYNC" ]; do
	one_pause "fsync:$n:EIO"
	if [ "$POLL" = 503 ]; then
		[ "$(jq_ "$T/poll.body" 'd["error"]')" = audit_unavailable ] &&
			! grep -q org_pause "$T/poll.body" ||
			{ cat "$T/poll.body" >&2; fail "fsync $n: a refused poll's body"; }
		REFUSED=$((REFUSED + 1)); w=refused
	elif [ "$POLL" = 200 ] && [ "$(jq_ "$T/poll.body" 'd["state_version"]')" != "$V" ]; then
		# The promise: a changed state left only with its entry durable.
		[ "$(jq_ "$T/poll.body" 'd["org_pause"]["paused"]')" = True ] ||
			{ cat "$T/poll.body" >&2; fail "fsync $n: a new state that is not the pause"; }
		[ "$ROWS" -ge 1 ] || { cat "$SRV_ERR" >&2; fail "fsync $n: the poll got the pause, its audit entry is not in the log"; }
		PAUSED=$((PAUSED + 1)); w=paused
	elif [ "$POLL" = 200 ]; then
		# No new state version reached the poll (the pause's own store
		# writes failed, so its wait ran out): an unchanged state is not
		# audited (api_control.c invariant 1), and the admin was told.
		grep -q "cannot pause\|audit_unavailable\|error" "$T/pause.out" ||
			{ cat "$T/pause.out" >&2; fail "fsync $n: the pause did not reach the poll, and said nothing"; }
		NOPAUSE=$((NOPAUSE + 1)); w="no new state"
	else
		cat "$T/poll.body" "$SRV_ERR" >&2
		fail "fsync $n: the poll got HTTP $POLL"
	fi
	echo "fsync $n: $w"
	n=$((n + 1))
done
echo "paused $PAUSED, refused $REFUSED, no pause $NOPAUSE"
[ "$PAUSED" -ge 1 ] && [ "$REFUSED" -ge 1 ] || fail "the sweep did not see both outcomes"
echo "ok"
