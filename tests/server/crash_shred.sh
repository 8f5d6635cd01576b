#!/bin/sh
# crash_shred MODE - the server killed at every write of a shred (issue 11,
# DESIGN P9).  MODE day: alice erases a day (`my erase --day D1`: the
# intent in the audit log, the tombstone, a new subject key and master
# generation switched atomically, then the ciphertext and rows deleted);
# MODE all: bob erases everything (`my erase --all`: his subject key
# destroyed).  The erasure runs against a server armed with
# UT_FSIO_FAULT_SERVING=OP:N:crash for every open, write, fsync and rename
# N it and the server's stop after it make.  After each crash and a
# restart without the fault:
#   - `audit verify` passes;
#   - the erased segments either are gone or read exactly as before, and
#     if the erasure answered OK they are gone;
#   - the segments not erased read exactly as before;
#   - the erasure repeated answers OK and the erased segments no longer
#     list or read, the log verifies, and with the server stopped
#     ut-keyscan, given every key the store still holds, opens nothing of
#     the erased segments: not the sealed keys of their laptop copies, not
#     their key and summary rows as the database held them before the
#     erasure (the backup), not any file of the key store or blobs; the
#     kept segments' copies and rows still open (the control).
# The crash points are shared among parallel workers (crash_sweep).
. "$(dirname "$0")/crash_lib.sh"
: "${UT_KEYSCAN:?UT_KEYSCAN must point at ut-keyscan}"

MODE=${1:?usage: crash_shred.sh day|all}
case $MODE in day|all) ;; *) fail "crash_shred.sh day|all" ;; esac
WORKERS=${CRASH_WORKERS:-3}
D1=$(date -u -d yesterday +%Y-%m-%d)
D2=$(date -u +%Y-%m-%d)

# synth HOME OUT START SEED: one small segment; prints its id.
synth() {
	expect 0 "" "$UT_SYNTH" --home "$1" --out "$2" --segments 1 --bytes 4096 \
		--start "$3" --seed "$4" --expect "$T/exp"
	sed -n 's/^segment \([0-9a-f]*\) .*/\1/p' "$T/out"
}

subject_of() {
	sed -n 's/.*"subject_id": *"\([0-9a-f]*\)".*/\1/p' "$1/device.json"
}

# setup: alice with segments on D1 and D2, bob with one on D1 (copies kept
# in $T/laptop/a1, a2, b1; their rows' wrapped key and summary as the
# database holds them in $T/rows); the stopped server's data is the base
# of every crash.  Sets PORT, A1, A2, B1, ALICE_SUBJ, BOB_SUBJ (and keeps
# them in $T/setup.env for crash_sweep).
setup() {
	srv_up "$T/base/data" 0
	ADMIN_TOKEN=$(cat "$T/base/data/admin.token")
	PORT=$SRV_PORT
	person_with_device alice "$T/alice" "$T/alice-dev"
	person_with_device bob "$T/bob" "$T/bob-dev"
	mkdir -p "$T/laptop"
	A1=$(synth "$T/alice-dev" "$T/laptop/a1" "${D1}T10:00:00Z" 1)
	A2=$(synth "$T/alice-dev" "$T/laptop/a2" "${D2}T00:00:01Z" 2)
	B1=$(synth "$T/bob-dev" "$T/laptop/b1" "${D1}T11:00:00Z" 3)
	[ -n "$A1" ] && [ -n "$A2" ] && [ -n "$B1" ] || fail "ut-synth printed no ids"
	for r in alice:a1 alice:a2 bob:b1; do
		rm -rf "$T/up" && cp -a "$T/laptop/${r#*:}" "$T/up"
		expect_out "^uploaded 1, kept 0$" \
			env USETRACE_HOME="$T/${r%%:*}-dev" "$USETRACE" upload "$T/up"
	done
	ALICE_SUBJ=$(subject_of "$T/alice-dev")
	BOB_SUBJ=$(subject_of "$T/bob-dev")
	[ ${#ALICE_SUBJ} -eq 32 ] && [ ${#BOB_SUBJ} -eq 32 ] || fail "no subject ids"
	srv_stop
	python3 - "$T/base/data/meta.db" "$T/rows" <<'PY' || fail "reading the rows"
import os, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
os.makedirs(sys.argv[2])
n = 0
for sid, k, s in db.execute("SELECT segment_id, wrapped_key, summary FROM segment"):
    open(os.path.join(sys.argv[2], sid.hex()), "wb").write(bytes(k) + bytes(s))
    n += 1
assert n == 3, n
PY
	printf 'A1=%s A2=%s B1=%s ALICE_SUBJ=%s BOB_SUBJ=%s PORT=%s\n' \
		"$A1" "$A2" "$B1" "$ALICE_SUBJ" "$BOB_SUBJ" "$PORT" >"$T/setup.env"
}

# reads HOME ID: the segment reads exactly as ut-synth wrote it.
reads() {
	expect 0 "" env USETRACE_HOME="$1" "$USETRACE" my show "$2" --json
	cmp -s "$T/out" "$T/exp/$2.json" || fail "$WHAT: segment $2 does not read as before"
}

# listed HOME ID: 0 when the person lists segment ID.
listed() {
	expect 0 "" env USETRACE_HOME="$1" "$USETRACE" my list
	grep -q "^$2 " "$T/out"
}

# erased HOME ID: the person's segment ID is neither listed nor readable.
erased() {
	! listed "$1" "$2" || fail "$WHAT: erased segment $2 is listed"
	rc=0
	env USETRACE_HOME="$1" "$USETRACE" my show "$2" --json >"$T/out" 2>"$T/err" || rc=$?
	[ $rc -ne 0 ] && [ ! -s "$T/out" ] || fail "$WHAT: erased segment $2 printed something"
}

# erase WHO ARGS...: the erasure as WHO, with the server up; exits 0.
erase() {
	_who=$1; shift
	expect_out "erased|destroyed|segments" env USETRACE_HOME="$T/$_who" "$USETRACE" \
		my erase "$@" --yes
}

# The erasure of MODE against the running server; sets ERASE_RC.
erase_op() {
	ERASE_RC=0
	if [ "$MODE" = day ]; then
		env USETRACE_HOME="$T/alice" "$USETRACE" my erase --day "$D1" --yes \
			>"$T/erase.out" 2>"$T/erase.err" || ERASE_RC=$?
	else
		env USETRACE_HOME="$T/bob" "$USETRACE" my erase --all --yes \
			>"$T/erase.out" 2>"$T/erase.err" || ERASE_RC=$?
	fi
}

# kept_opens DIR SUBJECT DAY ID: the laptop copy in $T/laptop/DIR opens
# under an ingest key of SUBJECT's DAY, and segment ID's rows under its day
# key (the control of keyscan_checks).
kept_opens() {
	grep -q "^$T/laptop/$1/.* ingest $2 $3\$" "$T/scan" &&
	grep -q "^$T/rows/$4 .* day-key $2 $3\$" "$T/scan" &&
	grep -q "^$T/rows/$4 .* day-summary $2 $3\$" "$T/scan" ||
		{ cat "$T/scan" >&2; fail "$WHAT: the kept segment $4 no longer opens"; }
}

# keyscan_checks: with the server stopped, nothing of the erased
# segments opens under any key the store holds; the kept ones do.
keyscan_checks() {
	"$UT_KEYSCAN" --keys "$T/srv/data/keys" --master "$T/srv/data.master-key" \
		--meta "$T/base/data/meta.db" "$T/laptop" "$T/rows" "$T/srv/data/keys" \
		"$T/srv/data/blobs" >"$T/scan" || fail "$WHAT: ut-keyscan failed"
	grep -q '^opened ' "$T/scan" || fail "$WHAT: ut-keyscan printed no count"
	if [ "$MODE" = day ]; then gone="$ALICE_SUBJ $D1"; else gone="$BOB_SUBJ $D1"; fi
	if grep -E " $gone\$" "$T/scan" >&2; then
		fail "$WHAT: windows of the erased segments still open"
	fi
	if [ "$MODE" = day ]; then
		kept_opens a2 "$ALICE_SUBJ" "$D2" "$A2"
		kept_opens b1 "$BOB_SUBJ" "$D1" "$B1"
	else
		kept_opens a1 "$ALICE_SUBJ" "$D1" "$A1"
		kept_opens a2 "$ALICE_SUBJ" "$D2" "$A2"
	fi
}

one_crash() {
	WHAT="$1:$2:crash"
	if [ "$MODE" = day ]; then
		GONE="alice:$A1"; KEPT="alice:$A2 bob:$B1"
	else
		GONE="bob:$B1"; KEPT="alice:$A1 alice:$A2"
	fi
	copy_data "$T/base/data" "$T/srv/data"
	srv_up "$T/srv/data" "$PORT" "$1:$2:crash"
	erase_op
	kill -TERM "$SRV_PID" 2>/dev/null || true
	srv_reap
	case $SRV_RC in
	0) FIRED=0 ;;
	137) FIRED=1 ;;
	*) cat "$SRV_ERR" >&2; fail "$WHAT: the server exited $SRV_RC" ;;
	esac
	[ $FIRED -eq 1 ] || [ $ERASE_RC -eq 0 ] ||
		{ cat "$T/erase.err" >&2; fail "$WHAT: the erasure failed without a crash"; }
	audit_ok "$T/srv/data"
	srv_up "$T/srv/data" "$PORT"
	who=${GONE%%:*}; id=${GONE#*:}
	if listed "$T/$who" "$id"; then
		[ $ERASE_RC -ne 0 ] || fail "$WHAT: the erasure answered OK but $id is listed"
		reads "$T/$who" "$id"
		state="as before"
	else
		erased "$T/$who" "$id"
		state=erased
	fi
	for k in $KEPT; do reads "$T/${k%%:*}" "${k#*:}"; done
	# The erasure again: it completes.
	if [ "$MODE" = day ]; then erase alice --day "$D1"; else erase bob --all; fi
	erased "$T/$who" "$id"
	srv_stop
	audit_ok "$T/srv/data"
	keyscan_checks
	echo "$WHAT: $( [ $FIRED -eq 1 ] && echo crashed || echo "did not fire" ), answered $ERASE_RC, $state after the restart; erased after a retry"
}

# The range: every call the erasure and the server's stop after it make
# (measured in worker 0's directory, whose setup it then keeps).
TOP=$T
(
	T="$T/w0"; mkdir -p "$T"
	T_PIDS=""
	trap 'for p in $T_PIDS; do kill -9 "$p" 2>/dev/null || true; done' EXIT
	setup
	copy_data "$T/base/data" "$T/srv/data"
	srv_up "$T/srv/data" "$PORT" write:4294967295:EIO
	erase_op
	[ $ERASE_RC -eq 0 ] || { cat "$T/erase.err" >&2; fail "the erasure failed"; }
	srv_stop
	for op in open write fsync rename; do echo "$op $(srv_calls $op)"; done >"$TOP/range"
)
echo "the erasure ($MODE) and the stop after it:" $(cat "$T/range")
for op in write fsync rename; do
	[ "$(sed -n "s/^$op //p" "$T/range")" -ge 1 ] || fail "no $op to crash at"
done
crash_sweep "$T/range" "$WORKERS"
total=$(awk '{s += $2} END {print s}' "$T/range")
echo "crash_shred $MODE: ok ($total crash points, $NOFIRE did not fire)"
[ "$NOFIRE" -le 4 ] || fail "$NOFIRE crash points did not fire: the range is not the erasure's"
