#!/bin/sh
# audit_faults - the audit log fails closed (DESIGN P8, issue 11): an I/O
# error injected at each write and each fsync the audit makes for one
# audited read (its row's append to the SQLite WAL, then the signed
# checkpoint in the database and in audit.ckpt) through the serve test seam
# UT_FSIO_FAULT_SERVING.  Whichever call fails, the read is refused (503
# with the JSON error audit_unavailable) or, when the fault hits the checkpoint after it, every
# later audited request is: reads, admin writes, a claim, an enrollment
# code, and the refusals stay although the fault fires once (an fsync is
# never retried).  A refused claim does not use up the claim code.  After
# a stop, `audit verify` passes and a restarted server serves again.
# Every call of the range is covered, measured with the fsio counts the
# server prints at exit.
. "$(dirname "$0")/crash_lib.sh"
command -v curl >/dev/null || fail "curl is required"

BASE="$T/base"
ALICE="$T/alice"

# The base data: alice (logged in, a device enrolled) and carol (a claim
# code not used yet).
srv_up "$BASE" 0
ADMIN_TOKEN=$(cat "$BASE/admin.token")
PORT=$SRV_PORT
person_with_device alice "$ALICE" "$T/dev"
expect_out "^claim " as_admin "$USETRACE" admin principal add carol --role subject
CAROL_CLAIM=$(sed -n 's/^claim //p' "$T/out")
srv_stop

ckpt_lines() { wc -l <"$1/audit.ckpt"; }

# read_and_settle DATA: alice's audited read, then wait until the audit
# either failed or wrote the checkpoint that follows the read (within a
# second by design; the bound here only keeps a broken server from hanging
# the test).  Sets READ_RC and SETTLED (failed | ckpt).
read_and_settle() {
	_c0=$(ckpt_lines "$1")
	READ_RC=0
	env USETRACE_HOME="$ALICE" "$USETRACE" my list >"$T/read.out" 2>"$T/read.err" ||
		READ_RC=$?
	_i=0
	SETTLED=""
	while [ -z "$SETTLED" ]; do
		if grep -q "audit: log FAILED" "$SRV_ERR"; then
			SETTLED=failed
		elif [ "$(ckpt_lines "$1")" -gt "$_c0" ]; then
			SETTLED=ckpt
		else
			_i=$((_i + 1))
			[ $_i -gt 200 ] && { cat "$SRV_ERR" >&2; fail "no checkpoint after a read"; }
			sleep 0.05
		fi
	done
}

# The range: the calls one audited read and its checkpoint make.
copy_data "$BASE" "$T/d"
srv_up "$T/d" "$PORT" write:4294967295:EIO
read_and_settle "$T/d"
[ "$READ_RC" -eq 0 ] && [ "$SETTLED" = ckpt ] || fail "the read without a fault failed"
srv_stop
NWRITE=$(srv_calls write)
NFSYNC=$(srv_calls fsync)
echo "one read and its checkpoint, with the server's stop: $NWRITE writes, $NFSYNC fsyncs"
[ "$NWRITE" -ge 2 ] && [ "$NFSYNC" -ge 2 ] || fail "too few calls to test"

# refused DESCRIPTION command...: exits 1 naming audit_unavailable.
refused() {
	_what=$1; shift
	rc=0
	"$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	[ "$rc" -eq 1 ] && grep -q "audit_unavailable" "$T/err" ||
		{ cat "$T/out" "$T/err" "$SRV_ERR" >&2; fail "$FAULT: $_what was not refused (exit $rc)"; }
}

# One fault: sets FIRED=1 when it fired during the read or its checkpoint
# (WHERE says which), FIRED=0 when it fell beyond them (the server's stop).
# (Not a return status: set -e does not apply inside a function called as
# a condition.)
one_fault() {
	FAULT=$1
	copy_data "$BASE" "$T/d"
	srv_up "$T/d" "$PORT" "$FAULT"
	read_and_settle "$T/d"
	if [ "$SETTLED" != failed ]; then
		[ "$READ_RC" -eq 0 ] || { cat "$T/read.err" >&2; fail "$FAULT: read failed without a fault"; }
		srv_stop
		audit_ok "$T/d"
		FIRED=0
		return 0
	fi
	if [ "$READ_RC" -eq 0 ]; then
		WHERE=checkpoint
	else
		grep -q "audit_unavailable" "$T/read.err" ||
			{ cat "$T/read.err" >&2; fail "$FAULT: the read failed, but not as audit_unavailable"; }
		[ ! -s "$T/read.out" ] || fail "$FAULT: a refused read printed data"
		WHERE=append
	fi
	# The fault fired once; everything audited stays refused.
	refused "a read" env USETRACE_HOME="$ALICE" "$USETRACE" my list
	refused "a read of the audit" env USETRACE_HOME="$ALICE" "$USETRACE" my audit
	refused "an enrollment code" env USETRACE_HOME="$ALICE" "$USETRACE" my enroll-code
	refused "an admin read" as_admin "$USETRACE" admin principal list
	refused "an admin write" as_admin "$USETRACE" admin principal add bob --role subject
	refused "a claim" env USETRACE_HOME="$T/carol" "$USETRACE" login "$SRV_URL" \
		--claim "$CAROL_CLAIM" --pin "$SRV_PIN"
	refused "a read, again" env USETRACE_HOME="$ALICE" "$USETRACE" my list
	# On the wire: 503 with a clean JSON error body.
	code=$(curl -sS --max-time 20 --cacert "$T/d/tls/cert.pem" --pinnedpubkey "$SRV_PIN" \
		-H "Authorization: Bearer $ADMIN_TOKEN" -H "Usetrace-Purpose: administration" \
		-o "$T/body" -w '%{http_code}' "$SRV_URL/v1/admin/principals") ||
		fail "$FAULT: curl"
	[ "$code" = 503 ] || fail "$FAULT: HTTP $code, want 503"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["error"] == "audit_unavailable" and d["message"], d' "$T/body" ||
		{ cat "$T/body" >&2; fail "$FAULT: not a clean JSON error body"; }
	# Stopped, the log verifies; restarted, the server serves again, and
	# carol's claim code was not used up by the refused claim.
	srv_stop
	audit_ok "$T/d"
	srv_up "$T/d" "$PORT"
	expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my list
	expect_out "^alice" as_admin "$USETRACE" admin principal list
	! grep -q "^bob" "$T/out" || fail "$FAULT: the refused admin write added bob"
	rm -rf "$T/carol"
	expect_out "^token " env USETRACE_HOME="$T/carol" "$USETRACE" login "$SRV_URL" \
		--claim "$CAROL_CLAIM" --pin "$SRV_PIN"
	srv_stop
	audit_ok "$T/d"
	echo "$FAULT: refused at the $WHERE, and after; verified and served again after a restart"
	FIRED=1
}

for op in write fsync; do
	eval "max=\$N$(echo $op | tr a-z A-Z)"
	n=1; fired=0; beyond=0; appends=0; ckpts=0
	while [ $n -le "$max" ]; do
		one_fault "$op:$n:EIO"
		if [ $FIRED -eq 1 ]; then
			[ $beyond -eq 0 ] || fail "$op:$n fired after $op:$((n - 1)) did not"
			fired=$((fired + 1))
			[ "$WHERE" = append ] && appends=$((appends + 1))
			[ "$WHERE" = checkpoint ] && ckpts=$((ckpts + 1))
		else
			beyond=$((beyond + 1))
			echo "$op:$n:EIO: beyond the read and its checkpoint (the server's stop)"
		fi
		n=$((n + 1))
	done
	[ $appends -ge 1 ] && [ $ckpts -ge 1 ] ||
		fail "$op: faults at the append ($appends) and the checkpoint ($ckpts) expected"
done
# The other kinds at the first write and fsync.
for f in write:1:ENOSPC write:1:short fsync:1:ENOSPC; do
	one_fault "$f"
	[ $FIRED -eq 1 ] || fail "$f did not fire"
done
echo "audit_faults: ok"
