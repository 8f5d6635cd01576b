# crash_lib.sh - shared steps of the server's crash and fault tests
# (tests/server/crash_*.sh, audit_faults.sh, kill_after_response.sh), on
# top of cli_lib.sh: servers restarted on the same port (a device and a
# login keep the URL they were given), faults through the serve test seam
# UT_FSIO_FAULT_SERVING (src/cli/cmd_serve.c), the fsio call counts it
# prints at exit, and the checks every crash point ends with: the audit
# log verifies, no sealed segment key is on the server's disk, every
# acknowledged segment still reads.  People and devices come from
# synth_lib.sh (person_with_device, listed_ids).
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

SRV_N=0

# srv_up DATA PORT [FAULT]: starts `usetrace serve --data DATA` on
# 127.0.0.1:PORT (0: a free port), with UT_FSIO_FAULT_SERVING=FAULT when
# given; waits until it serves.  Sets SRV_PID, SRV_URL, SRV_PIN, SRV_PORT,
# SRV_OUT, SRV_ERR (this start's stdout and stderr files).  A port still
# held a moment after a kill is retried a few times.
srv_up() {
	_data=$1; _port=$2; _fault=${3:-}
	_try=0
	mkdir -p "$(dirname "$_data")"
	while :; do
		SRV_N=$((SRV_N + 1))
		SRV_OUT="$T/srv.$SRV_N.out"; SRV_ERR="$T/srv.$SRV_N.err"
		: >"$SRV_OUT"
		if [ -n "$_fault" ]; then
			UT_FSIO_FAULT_SERVING=$_fault "$USETRACE" serve --data "$_data" \
				--listen "127.0.0.1:$_port" >"$SRV_OUT" 2>"$SRV_ERR" &
		else
			"$USETRACE" serve --data "$_data" --listen "127.0.0.1:$_port" \
				>"$SRV_OUT" 2>"$SRV_ERR" &
		fi
		SRV_PID=$!
		T_PIDS="$SRV_PID $T_PIDS"
		_i=0
		while ! grep -q '^pin ' "$SRV_OUT"; do
			if ! kill -0 "$SRV_PID" 2>/dev/null; then
				srv_reap
				break
			fi
			_i=$((_i + 1))
			[ $_i -gt 600 ] && { cat "$SRV_ERR" >&2; fail "server did not start"; }
			sleep 0.05
		done
		grep -q '^pin ' "$SRV_OUT" && break
		_try=$((_try + 1))
		if [ "$_port" = 0 ] || [ $_try -ge 20 ] ||
		    ! grep -q "cannot listen" "$SRV_ERR"; then
			cat "$SRV_ERR" >&2
			fail "server on $_data did not start"
		fi
		sleep 0.25
	done
	SRV_URL=$(sed -n 's/^url //p' "$SRV_OUT")
	SRV_PIN=$(sed -n 's/^pin //p' "$SRV_OUT")
	SRV_PORT=${SRV_URL##*:}
}

# srv_reap: waits for the server to end; SRV_RC is its status (137: SIGKILL).
srv_reap() {
	SRV_RC=0
	wait "$SRV_PID" || SRV_RC=$?
	T_PIDS=$(echo "$T_PIDS" | tr ' ' '\n' | grep -vx "$SRV_PID" | tr '\n' ' ') || true
}

# srv_stop: SIGTERM and wait; fails unless it exits 0.
srv_stop() {
	kill -TERM "$SRV_PID" 2>/dev/null || true
	srv_reap
	[ "$SRV_RC" -eq 0 ] || { cat "$SRV_ERR" >&2; fail "server exited $SRV_RC on SIGTERM"; }
}

# srv_calls OP: the number of OP calls the last stopped server counted
# (its "fsio-calls" line; the server must have run with a fault armed).
srv_calls() {
	sed -n "s/^fsio-calls .*$1=\\([0-9]*\\).*/\\1/p" "$SRV_ERR" | tail -n 1 | grep . ||
		{ cat "$SRV_ERR" >&2; fail "the server printed no fsio-calls line"; }
}

# audit_ok DATA: `usetrace audit verify` passes on DATA (server stopped).
audit_ok() {
	rc=0
	"$USETRACE" audit verify --data "$1" >"$T/verify.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] && grep -q '^audit ok' "$T/verify.out" ||
		{ cat "$T/verify.out" >&2; fail "audit verify of $1 failed"; }
}

# audit_count DATA ACTION [PRINCIPAL [OUTCOME]]: prints how many rows of the
# audit log (read-only, straight from the SQLite file) have that action
# (and principal, and outcome; "-" for either: any).
audit_count() {
	python3 - "$@" <<'PY'
import sqlite3, sys
data, action = sys.argv[1], sys.argv[2]
q, a = "SELECT count(*) FROM audit WHERE action = ?", [action]
for col, v in zip(("principal", "outcome"), sys.argv[3:5]):
    if v != "-":
        q += " AND %s = ?" % col; a.append(v)
db = sqlite3.connect("file:%s/meta.db?mode=ro" % data, uri=True)
print(db.execute(q, a).fetchone()[0])
PY
}

# sealed_keys SEGDIR OUT: writes the 80-byte sealed segment keys of the
# segments in SEGDIR (header bytes 176..256, docs/FORMAT.md section 2), one
# after the other, to OUT.
sealed_keys() {
	python3 - "$1" "$2" <<'PY'
import os, sys
d, out = sys.argv[1], sys.argv[2]
keys = b""
for n in sorted(os.listdir(d)):
    if n.startswith("seg-") and n.endswith(".uts"):
        with open(os.path.join(d, n), "rb") as f:
            h = f.read(256)
        assert h[:8] == b"USETRACE" and len(h) == 256, n
        keys += h[176:256]
assert keys, "no segments in " + d
open(out, "wb").write(keys)
PY
}

# no_sealed_key KEYS PATH...: no file under the PATHs holds any of the
# 80-byte sealed keys in KEYS.
no_sealed_key() {
	python3 - "$@" <<'PY' || fail "a sealed segment key is on the server's disk"
import os, sys
raw = open(sys.argv[1], "rb").read()
keys = [raw[i:i + 80] for i in range(0, len(raw), 80)]
bad = 0
def scan(p):
    global bad
    try:
        b = open(p, "rb").read()
    except OSError:
        return
    for i, k in enumerate(keys):
        if b.find(k) >= 0:
            print("sealed key %d found in %s" % (i, p), file=sys.stderr)
            bad += 1
for top in sys.argv[2:]:
    if os.path.isfile(top):
        scan(top)
    for root, dirs, files in os.walk(top):
        for f in files:
            scan(os.path.join(root, f))
sys.exit(1 if bad else 0)
PY
}

# copy_data FROM TO: copies a stopped server's data directory and its master
# key (FROM.master-key) to TO and TO.master-key.
copy_data() {
	rm -rf "$2" "$2.master-key"
	mkdir -p "$(dirname "$2")"
	cp -a "$1" "$2"
	cp -a "$1.master-key" "$2.master-key"
}

# crash_sweep RANGE WORKERS: puts a crash at every call of RANGE (a file of
# lines "OP COUNT": the calls one operation makes) in WORKERS parallel
# workers.  The test defines setup (run once per worker, in the worker's
# own $T, it makes the worker's server data, people and segments, and
# writes the variables one_crash needs, such as PORT, to $T/setup.env,
# which a worker whose setup ran before, in another process, sources
# instead) and one_crash OP N (one crash point and its checks; it sets FIRED
# to 1 when the server died of the fault, else 0).  Worker K takes the N
# with N % WORKERS == K.  Fails if any worker failed; sets NOFIRE to the
# number of crash points that did not fire, and prints every point's line.
crash_sweep() {
	_range=$1; _nw=$2; _top=$T
	rm -f "$_top"/nofire.* "$_top"/worker.*.log
	_pids=""
	_k=0
	while [ $_k -lt "$_nw" ]; do
		(
			T="$_top/w$_k"; T_PIDS=""
			mkdir -p "$T"
			trap 'for p in $T_PIDS; do kill -9 "$p" 2>/dev/null || true; done' EXIT
			if [ -e "$T/setup.env" ]; then . "$T/setup.env"; else setup; fi
			while read -r _op _max; do
				_n=1
				while [ "$_n" -le "$_max" ]; do
					if [ $((_n % _nw)) -eq $_k ]; then
						one_crash "$_op" "$_n"
						[ "$FIRED" -eq 1 ] || echo "$_op:$_n" >>"$_top/nofire.$_k"
					fi
					_n=$((_n + 1))
				done
			done <"$_range"
		) >"$_top/worker.$_k.log" 2>&1 &
		_pids="$_pids $!"
		_k=$((_k + 1))
	done
	_bad=0
	_k=0
	for _p in $_pids; do
		wait "$_p" || { _bad=1; echo "worker $_k failed:" >&2; tail -n 30 "$_top/worker.$_k.log" >&2; }
		_k=$((_k + 1))
	done
	cat "$_top"/worker.*.log | grep -E '^[a-z]+:[0-9]+:crash: ' | sort -t: -k1,1 -k2,2n
	[ $_bad -eq 0 ] || fail "a crash point failed its checks"
	NOFIRE=$(cat "$_top"/nofire.* 2>/dev/null | wc -l)
}
