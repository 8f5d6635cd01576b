#!/bin/sh
# kill_after_response - an audit entry is durable before its response
# leaves (DESIGN P8, issue 11): for each kind of audited request (add a
# principal, a claim and a refused second claim, the principal list, an
# enrollment code and an enrollment, the device's consent, an upload, a
# person's list, read and audit, a denied request, an erasure, a revoke)
# the server is killed (SIGKILL) the moment the client returns, restarted,
# and the audit log, read straight from its SQLite file, holds that
# request's entry; `audit verify` passes after every kill.  And a crash at
# the first write or fsync of a read's entry leaves the client without an
# answer.
. "$(dirname "$0")/crash_lib.sh"

DATA="$T/data"
ALICE="$T/alice"
srv_up "$DATA" 0
ADMIN_TOKEN=$(cat "$DATA/admin.token")
PORT=$SRV_PORT
K=0

# step ACTION PRINCIPAL OUTCOME WANT_RC command...: runs the request (it
# must exit WANT_RC), kills the server at once, checks that the log
# verifies and holds one more ACTION entry of PRINCIPAL with OUTCOME ("-":
# any) than before the request, and restarts the server.
step() {
	_act=$1; _who=$2; _out=$3; _rc=$4; shift 4
	_before=$(audit_count "$DATA" "$_act" "$_who" "$_out")
	expect "$_rc" "" "$@"
	kill -KILL "$SRV_PID"
	srv_reap
	[ "$SRV_RC" -eq 137 ] || fail "$_act: the server ended with $SRV_RC before the kill"
	K=$((K + 1))
	audit_ok "$DATA"
	_after=$(audit_count "$DATA" "$_act" "$_who" "$_out")
	[ "$_after" -eq $((_before + 1)) ] ||
		fail "$_act ($_who, $_out): $_before entries before, $_after after the response and a SIGKILL"
	srv_up "$DATA" "$PORT"
	echo "$_act ($_who, $_out): the entry survived a SIGKILL after the response"
}

mkdir -p "$ALICE" && chmod 700 "$ALICE"
step principal_add admin ok 0 as_admin "$USETRACE" admin principal add alice --role subject
CLAIM=$(sed -n 's/^claim //p' "$T/out")
step claim alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" login "$SRV_URL" \
	--claim "$CLAIM" --pin "$SRV_PIN"
step claim - code_used 1 env USETRACE_HOME="$T/mallory" "$USETRACE" login "$SRV_URL" \
	--claim "$CLAIM" --pin "$SRV_PIN"
step principal_list admin ok 0 as_admin "$USETRACE" admin principal list
step enroll_code alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my enroll-code
CODE=$(sed -n 's/^code //p' "$T/out")
step enroll - ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" enroll "$SRV_URL" \
	--code "$CODE" --pin "$SRV_PIN"
expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" consent --yes
mkdir -p "$T/empty"
step consent - ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" upload "$T/empty"
step device_list alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my devices
step segment_list alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my list
step read_my_audit alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my audit
step denied alice denied 1 env USETRACE_HOME="$ALICE" "$USETRACE" admin principal list

if [ -n "${UT_SYNTH:-}" ]; then
	mkdir -p "$T/rec"
	"$UT_SYNTH" --home "$ALICE" --out "$T/rec" --segments 1 >/dev/null ||
		fail "ut-synth"
	step upload "device:1" - 0 env USETRACE_HOME="$ALICE" "$USETRACE" upload "$T/rec"
	ID=$(listed_ids "$ALICE")
	[ -n "$ID" ] || fail "the upload stored nothing"
	step read_actions alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my show "$ID" --json
	step read_records alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my show "$ID" --raw
	DAY=$(env USETRACE_HOME="$ALICE" "$USETRACE" my list --json | python3 -c '
import json, sys, datetime
s = json.load(sys.stdin)["segments"][0]
print(datetime.datetime.fromtimestamp(s["start_ns"] // 10**9, datetime.timezone.utc).strftime("%Y-%m-%d"))')
	step erase alice ok 0 env USETRACE_HOME="$ALICE" "$USETRACE" my erase --day "$DAY" --yes
	[ -z "$(listed_ids "$ALICE")" ] || fail "the erased day's segment is listed"
else
	echo "kill_after_response: UT_SYNTH not set: no upload, read or erasure steps"
fi

# The other side: a crash at the first write, or the first fsync, of a
# request's entry (for these reads, the first the server makes after it
# starts serving) kills the server before the answer leaves, so the client
# never gets data whose read is not on record.  A server that answered
# before its entry was durable would be caught here, where a kill after
# the answer comes too late to tell.
for f in write:1:crash fsync:1:crash; do
	for req in "my list" "my audit" "admin principal list"; do
		srv_stop
		srv_up "$DATA" "$PORT" "$f"
		rc=0
		case $req in
		admin*) as_admin "$USETRACE" $req >"$T/out" 2>"$T/err" || rc=$? ;;
		*) env USETRACE_HOME="$ALICE" "$USETRACE" $req >"$T/out" 2>"$T/err" || rc=$? ;;
		esac
		srv_reap
		[ "$SRV_RC" -eq 137 ] || fail "$f: '$req' did not crash the server ($SRV_RC)"
		[ "$rc" -ne 0 ] && [ ! -s "$T/out" ] ||
			{ cat "$T/out" >&2; fail "$f: '$req' was answered although its entry's $f"; }
		audit_ok "$DATA"
		srv_up "$DATA" "$PORT"
		echo "$f: '$req' got no answer"
	done
done

step principal_revoke admin ok 0 as_admin "$USETRACE" admin principal revoke alice
srv_stop
audit_ok "$DATA"
echo "kill_after_response: ok ($K kills)"
