#!/bin/sh
# crash_ingest - the server killed at every write of an upload (issue 11,
# DESIGN P10): `usetrace upload` of two segments (its consent, the control
# reply, both segments with their receipts, the audit entries and the
# checkpoint after them) is run against a server armed with
# UT_FSIO_FAULT_SERVING=OP:N:crash for every open, write, fsync and rename
# N the upload makes (counted once, from the fsio counts the server prints
# at exit).  After each crash:
#   - `audit verify` passes on the data directory;
#   - no 80-byte sealed segment key (taken from the device's segments
#     before the upload) is anywhere in the data directory or beside it
#     (the master key);
#   - restarted, the server lists every segment whose receipt the client
#     got (upload deleted it) and `my show ID --json` prints exactly the
#     actions ut-synth wrote;
#   - the upload retried succeeds, and then both segments read so, the log
#     verifies and no sealed key is on disk.
# The crash points are shared among parallel workers (crash_sweep), each
# with its own server, person, device and segments.
. "$(dirname "$0")/crash_lib.sh"

WORKERS=${CRASH_WORKERS:-3}

# setup: a server, alice and her device with two closed segments kept
# pristine in $T/segs (their sealed keys in $T/keys, their expected
# actions in $T/exp); the stopped server's data is the base of every
# crash.  Sets PORT.
setup() {
	srv_up "$T/base/data" 0
	ADMIN_TOKEN=$(cat "$T/base/data/admin.token")
	PORT=$SRV_PORT
	person_with_device alice "$T/alice" "$T/dev0"
	expect 0 "" "$UT_SYNTH" --home "$T/dev0" --out "$T/segs" --segments 2 \
		--bytes 4096 --seed 3 --expect "$T/exp"
	srv_stop
	sealed_keys "$T/segs" "$T/keys"
	# Which file holds which segment id (header bytes 64..80).
	for f in "$T"/segs/seg-*.uts; do
		echo "${f##*/} $(od -An -tx1 -j64 -N16 "$f" | tr -d ' \n')"
	done >"$T/files.map"
	awk '{print $2}' "$T/files.map" | sort >"$T/all.ids"
	[ "$(wc -l <"$T/all.ids")" -eq 2 ] || fail "ut-synth wrote no 2 segments"
	echo "PORT=$PORT" >"$T/setup.env"
}

# fresh: the base data, device home and segments, as before any upload.
fresh() {
	copy_data "$T/base/data" "$T/srv/data"
	rm -rf "$T/dev" "$T/rec"
	cp -a "$T/dev0" "$T/dev"
	cp -a "$T/segs" "$T/rec"
}

# reads_as_written IDFILE: each id in the file is on alice's list and
# reads exactly as ut-synth wrote it.
reads_as_written() {
	expect 0 "" env USETRACE_HOME="$T/alice" "$USETRACE" my list
	cp "$T/out" "$T/listed"
	while read -r id; do
		grep -q "^$id " "$T/listed" || fail "$WHAT: acknowledged segment $id is not listed"
		expect 0 "" env USETRACE_HOME="$T/alice" "$USETRACE" my show "$id" --json
		cmp -s "$T/out" "$T/exp/$id.json" ||
			fail "$WHAT: segment $id does not read as written"
	done <"$1"
}

# one_crash OP N: sets FIRED (1: the server died of the fault).
one_crash() {
	WHAT="$1:$2:crash"
	fresh
	srv_up "$T/srv/data" "$PORT" "$WHAT"
	up_rc=0
	env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec" >"$T/up.out" 2>"$T/up.err" ||
		up_rc=$?
	# The checkpoint after the upload's entries is written at the latest
	# when the server stops: a fault there is a crash point too.
	kill -TERM "$SRV_PID" 2>/dev/null || true
	srv_reap
	case $SRV_RC in
	0) FIRED=0 ;;
	137) FIRED=1 ;;
	*) cat "$SRV_ERR" >&2; fail "$WHAT: the server exited $SRV_RC" ;;
	esac
	[ $FIRED -eq 1 ] || [ $up_rc -eq 0 ] ||
		{ cat "$T/up.err" >&2; fail "$WHAT: the upload failed without a crash"; }
	# What the client was given a receipt for: the files upload deleted.
	while read -r f id; do
		[ -e "$T/rec/$f" ] || echo "$id"
	done <"$T/files.map" >"$T/acked.ids"
	audit_ok "$T/srv/data"
	no_sealed_key "$T/keys" "$T/srv"
	srv_up "$T/srv/data" "$PORT"
	reads_as_written "$T/acked.ids"
	expect 0 "" env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec"
	reads_as_written "$T/all.ids"
	[ "$(wc -l <"$T/listed")" -eq 2 ] || fail "$WHAT: not exactly 2 segments listed"
	srv_stop
	audit_ok "$T/srv/data"
	no_sealed_key "$T/keys" "$T/srv"
	echo "$WHAT: $( [ $FIRED -eq 1 ] && echo crashed || echo "did not fire" ), $(wc -l <"$T/acked.ids") acknowledged before; all read after a retry"
}

# The range: every call one upload and the server's stop after it make
# (measured in worker 0's directory, whose setup it then keeps).
TOP=$T
(
	T="$T/w0"; mkdir -p "$T"
	T_PIDS=""
	trap 'for p in $T_PIDS; do kill -9 "$p" 2>/dev/null || true; done' EXIT
	setup
	fresh
	srv_up "$T/srv/data" "$PORT" write:4294967295:EIO
	expect_out "^uploaded 2, kept 0$" env USETRACE_HOME="$T/dev" "$USETRACE" upload "$T/rec"
	srv_stop
	for op in open write fsync rename; do echo "$op $(srv_calls $op)"; done >"$TOP/range"
)
echo "one upload of 2 segments and the stop after it:" $(cat "$T/range")
for op in open write fsync rename; do
	[ "$(sed -n "s/^$op //p" "$T/range")" -ge 2 ] || fail "fewer than 2 ${op}s to crash at"
done

crash_sweep "$T/range" "$WORKERS"
# Every crash point fired except, at most, a few calls of the server's
# stop, which a run may not reach (a checkpoint written while the upload
# ran instead of at the stop).
total=$(awk '{s += $2} END {print s}' "$T/range")
echo "crash_ingest: ok ($total crash points, $NOFIRE did not fire)"
[ "$NOFIRE" -le 4 ] || fail "$NOFIRE crash points did not fire: the range is not the upload's"
