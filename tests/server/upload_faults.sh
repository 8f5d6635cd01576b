#!/bin/sh
# upload_faults - `usetrace upload` against a real `usetrace serve` when
# things go wrong (issue 11, P10), with segments from ut-synth and the
# network broken by ut-faultproxy:
#  - connections reset inside the request body, inside the response, and
#    at seeded random offsets anywhere: upload fails cleanly (exit 1, a
#    message, the segment kept), a retry succeeds, and at every step the
#    server lists only complete segments (size, actions), each at most once,
#    and every segment is either still on the device or on the server;
#  - the same bytes again (a copy): the same receipt, nothing twice;
#  - other bytes under a new id (a flipped ciphertext byte; a checkpoint's
#    signature replaced by another genuine one of the device): rejected,
#    nothing stored, the genuine segment is stored afterwards;
#  - signed by another device's key with this device's token, and with this
#    device's key claimed in a header it did not sign: rejected;
#  - a device never enrolled, and a revoked device: refused, nothing stored;
#  - a consent id the server never saw, a policy not consented to, and a
#    segment begun after a withdrawal posted at the server: rejected; one
#    begun before it: stored;
#  - other bytes under a stored id (a spool restored from an older copy and
#    recovered to fewer frames): rejected, an alert, the first copy kept.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"
: "${UT_FAULTPROXY:?UT_FAULTPROXY must point at ut-faultproxy}"
SEED=${UPLOAD_FAULTS_SEED:-1103}

start_server "$T/data"
ALICE="$T/alice"
DEV="$T/dev"
person_with_device alice "$ALICE" "$DEV"
DIRECT=$SRV_URL

# Every segment made for alice that must end up stored: "ID BYTES" in
# $T/known, the expected actions in $T/exp/ID.json.  mk makes one that must
# not (no --expect, not known).
: >"$T/known"
mk() { # DIR SEED [more ut-synth options]
	d=$1 s=$2
	shift 2
	expect 0 "" "$UT_SYNTH" --home "$DEV" --out "$d" --seed "$s" --bytes 8192 "$@"
}
synth() { # DIR SEGMENTS SEED [more ut-synth options]
	d=$1 n=$2 s=$3
	shift 3
	expect 0 "" "$UT_SYNTH" --home "$DEV" --out "$d" --segments "$n" --seed "$s" \
		--bytes 131072 --expect "$T/exp" "$@"
	awk '{print $2, $6}' "$T/out" >>"$T/known"
	cp "$T/out" "$T/synth.last"
}

# The device's server: through the proxy or direct (device.json's url is
# what upload uses).
set_url() {
	sed -i "s|\"url\": \"[^\"]*\"|\"url\": \"$1\"|" "$DEV/device.json"
	grep -q "\"url\": \"$1\"" "$DEV/device.json" || fail "cannot set the url"
}
seg_id() { od -An -tx1 -j64 -N16 "$1" | tr -d ' \n'; }

PROXY_PID=""
start_proxy() { # ut-faultproxy options
	# A fresh file: the background shell truncates it only when it gets
	# to run, so the last proxy's line (or an empty file) could be read.
	rm -f "$T/proxy.out"
	"$UT_FAULTPROXY" --listen 127.0.0.1:0 --to "${SRV_URL#https://}" "$@" \
		>"$T/proxy.out.$$" 2>"$T/proxy.err" &
	PROXY_PID=$!
	T_PIDS="$PROXY_PID $T_PIDS"
	i=0
	until grep -q '^listen 127\.0\.0\.1:[0-9][0-9]*$' "$T/proxy.out.$$" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && { cat "$T/proxy.err" >&2; fail "the proxy did not start"; }
		sleep 0.05
	done
	mv "$T/proxy.out.$$" "$T/proxy.out"
	set_url "https://$(sed -n 's/^listen //p' "$T/proxy.out")"
}
stop_proxy() {
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	set_url "$DIRECT"
}

# N offsets in LO..HI-1 from the seeded generator, comma-separated.
offsets() { # N LO HI SALT
	awk -v n="$1" -v lo="$2" -v hi="$3" -v s="$((SEED + $4))" 'BEGIN {
		srand(s); for (i = 0; i < n; i++) printf "%s%d", i ? "," : "", lo + int(rand() * (hi - lo)) }'
}

up() { # STATUS PATTERN DIR: usetrace upload DIR from alice's device
	expect "$1" "$2" env USETRACE_HOME="$DEV" "$USETRACE" upload "$3"
	cp "$T/out" "$T/up.out"
}

# The invariants after any step: the server lists only alice's known
# segments, each once, complete (its size, its exact actions); every known
# segment is on the server or still in one of the folders $LOCAL (those
# waiting to be uploaded); the blob directory holds one blob per listed
# segment and nothing half-written.
LOCAL=""
check_state() {
	expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my list --json
	# shellcheck disable=SC2086
	python3 - "$T/out" "$T/known" "$T/data" $LOCAL >"$T/listed" <<'PY' ||
import json, os, sys
lst = json.load(open(sys.argv[1]))["segments"]
known = dict(l.split() for l in open(sys.argv[2]) if l.strip())
ids = [s["id"] for s in lst]
if len(ids) != len(set(ids)):
    sys.exit("a segment is listed twice: %s" % ids)
for s in lst:
    if s["id"] not in known:
        sys.exit("unknown segment %s on the server" % s["id"])
    if s["size"] != int(known[s["id"]]):
        sys.exit("%s: size %s, uploaded %s" % (s["id"], s["size"], known[s["id"]]))
local = set()
for d in sys.argv[4:]:
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if f.endswith(".uts"):
            local.add(open(os.path.join(d, f), "rb").read(80)[64:80].hex())
lost = set(known) - set(ids) - local
if lost:
    sys.exit("segments neither on the device nor on the server: %s" % sorted(lost))
blobs = os.path.join(sys.argv[3], "blobs")
# Blob files, not their frame index side files (FILE.aux, issue 13).
n = sum(1 for r, ds, fs in os.walk(blobs) if os.path.basename(r) != "tmp"
        for f in fs if not f.endswith(".aux"))
tmp = os.listdir(os.path.join(blobs, "tmp")) if os.path.isdir(os.path.join(blobs, "tmp")) else []
if n != len(ids) or tmp:
    sys.exit("%d blobs (%d in tmp) for %d segments" % (n, len(tmp), len(ids)))
print("\n".join(ids))
PY
		fail "state after the last step"
	# Actions do not change once stored: each segment is read once.
	while read -r id; do
		[ -n "$id" ] && ! grep -qx "$id" "$T/verified" || continue
		expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my show "$id" --json
		cmp -s "$T/out" "$T/exp/$id.json" || fail "my show $id: not its actions"
		echo "$id" >>"$T/verified"
	done <"$T/listed"
}
: >"$T/verified"
nlisted() { grep -c . "$T/listed" || true; }
nlocal() { ls "$1" | grep -c '\.uts$' || true; }

# --- Cuts inside the request body (client to server bytes). ---
synth "$T/rec" 3 21
LOCAL="$T/rec $T/rec1 $T/retry"
cp -r "$T/rec" "$T/rec.copy"
SZ=$(stat -c %s "$T/rec/seg-00000001.uts")
OFFS=$(offsets 4 3000 "$SZ" 1)
LIST=$(echo "$OFFS" | sed 's/\([0-9]*\)/pass,pass,\1/g')
start_proxy --direction up --reset-after "$LIST"
for off in $(echo "$OFFS" | tr , ' '); do
	up 1 "seg-00000001.uts: not uploaded; kept" "$T/rec"
	grep -q "^uploaded 0, kept 3$" "$T/up.out" || fail "cut at $off: $(cat "$T/up.out")"
	grep -q "reset up=$off " "$T/proxy.err" || { cat "$T/proxy.err" >&2; fail "no reset at $off"; }
	[ "$(nlocal "$T/rec")" = 3 ] || fail "a segment left the device after a cut at $off"
	check_state
	[ "$(nlisted)" = 0 ] || fail "a cut request stored something"
done
stop_proxy

# --- Cuts inside the response (server to client bytes). ---
# One clean upload through the proxy measures a PUT's answer; the others
# are cut 30..400 bytes before its end: stored at the server, but the
# receipt never arrives, so the device keeps the segment, and the retry
# gets the same receipt.
start_proxy --direction down
cp "$T/rec/seg-00000001.uts" "$T/one.uts"
mkdir "$T/rec1" && mv "$T/rec/seg-00000001.uts" "$T/rec1/"
up 0 "" "$T/rec1"
DOWN=$(sed -n 's/^conn 3 pass up=[0-9]* down=\([0-9]*\)$/\1/p' "$T/proxy.err")
[ -n "$DOWN" ] || { cat "$T/proxy.err" >&2; fail "no clean PUT through the proxy"; }
stop_proxy
check_state
for k in $(offsets 2 30 400 2 | tr , ' '); do
	start_proxy --direction down --reset-after "pass,pass,$((DOWN - k))"
	f=$(ls "$T/rec" | grep '\.uts$' | head -n 1)
	up 1 "$f: not uploaded; kept" "$T/rec"
	grep -q " reset " "$T/proxy.err" || { cat "$T/proxy.err" >&2; fail "no reset"; }
	stop_proxy
	[ -f "$T/rec/$f" ] || fail "$f left the device without a receipt"
	check_state
	id=$(seg_id "$T/rec/$f")
	grep -qx "$id" "$T/listed" || fail "a cut in the response: $f was not stored"
	mkdir -p "$T/retry" && mv "$T/rec/$f" "$T/retry/"
	up 0 "" "$T/retry"
	grep -q "^$f stored$" "$T/up.out" || fail "retry of $f: $(cat "$T/up.out")"
	check_state
done
[ "$(nlocal "$T/rec")" = 0 ] && [ "$(nlisted)" = 3 ] || fail "not all 3 stored"

# --- Seeded random cuts anywhere (both directions, every connection). ---
synth "$T/rnd" 4 22
LOCAL="$T/rnd"
start_proxy --direction both --reset-random "$SEED" --random-max "$SZ"
i=0
while [ $i -lt 5 ] && [ "$(nlocal "$T/rnd")" -gt 0 ]; do
	i=$((i + 1))
	rc=0
	env USETRACE_HOME="$DEV" "$USETRACE" upload "$T/rnd" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	if [ $rc -ne 0 ]; then
		[ $rc -eq 1 ] && grep -Eq "not uploaded; kept|upload: (control|consent)" "$T/err" ||
			{ cat "$T/out" "$T/err" >&2; fail "random cut $i: not a clean failure"; }
	fi
	check_state
done
grep -q " reset " "$T/proxy.err" || fail "the random proxy reset nothing"
stop_proxy
up 0 "" "$T/rnd"
check_state
[ "$(nlocal "$T/rnd")" = 0 ] && [ "$(nlisted)" = 7 ] || fail "not all 7 stored"

# --- The same bytes again: the same receipt, nothing twice. ---
LOCAL=""
up 0 "" "$T/rec.copy"
[ "$(grep -Ec ' (stored|duplicate)$' "$T/up.out")" = 3 ] || fail "replay: $(cat "$T/up.out")"
check_state
[ "$(nlisted)" = 7 ] || fail "a replay was stored twice"
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' "$DEV/device.json")
put() { # FILE TOKEN: PUT it as the device would; the answer in $T/put.json
	id=$(seg_id "$1")
	curl -s -k --pinnedpubkey "$SRV_PIN" -X PUT -H "Authorization: Bearer $2" \
		-H "Usetrace-Purpose: ingest" -H "Content-Type: application/octet-stream" \
		--data-binary "@$1" -o "$T/put.json" -w '%{http_code}' \
		"$DIRECT/v1/device/segments/$id"
}
[ "$(put "$T/one.uts" "$TOKEN")" = 200 ] && cp "$T/put.json" "$T/put1.json" ||
	fail "PUT of a stored segment"
[ "$(put "$T/one.uts" "$TOKEN")" = 200 ] || fail "PUT of a stored segment"
python3 - "$T/put1.json" "$T/put.json" <<'PY' || fail "a replay got another receipt"
import json, sys
a, b = (json.load(open(p))["receipt"] for p in sys.argv[1:])
keys = ("outcome", "upload_hash", "server_time_ns", "sig")
same = all(a[k] == b[k] for k in keys) and a["outcome"] in ("stored", "duplicate")
assert same or (b["outcome"] == "duplicate" and a["upload_hash"] == b["upload_hash"]), (a, b)
PY

# --- Rejections: nothing stored, the device deletes the segment. ---
rejected() { # DIR REASON
	up 0 "" "$1"
	grep -q "^seg-[0-9]*\.uts rejected: $2" "$T/up.out" ||
		{ cat "$T/up.out" >&2; fail "not rejected ($2)"; }
	[ "$(nlocal "$1")" = 0 ] || fail "a rejected segment was kept"
	check_state
	[ "$(nlisted)" = "$NSTORED" ] || fail "a rejected segment was stored"
}
NSTORED=7
# A flipped ciphertext byte under a new id; then the genuine one.
synth "$T/gen" 1 41
LOCAL="$T/gen"
mkdir "$T/flip" && cp "$T/gen"/*.uts "$T/flip/"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[400]^=1; open(p,"wb").write(b)' "$T/flip"/*.uts
rejected "$T/flip" "the segment does not verify"
# The same complete segment with its first checkpoint's signature replaced
# by its trailer's (a genuine signature of this device, over another
# message): the chain and the trailer still verify, since the chain covers
# the frames only; the checkpoint's own check refuses it (FORMAT.md 2.1).
mkdir "$T/cksig" && cp "$T/gen"/*.uts "$T/cksig/"
python3 - "$T/cksig"/*.uts <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
o = struct.unpack_from("<I", b, 12)[0]
while b[o] == 1:
    o += 5 + struct.unpack_from("<I", b, o + 1)[0]
assert b[o] == 2 and len(b) - o > 105 + 117, "no checkpoint before the trailer"
assert b[o + 41:o + 105] != b[-64:]
b[o + 41:o + 105] = b[-64:]
open(p, "wb").write(b)
PY
rejected "$T/cksig" "the segment does not verify"
up 0 "" "$T/gen"
NSTORED=8
check_state
[ "$(nlisted)" = 8 ] || fail "the genuine segment after a forged copy was not stored"

# Signed by bob's device key, uploaded with alice's device token.
person_with_device bob "$T/bob" "$T/bobdev"
mkdir -p "$T/forge" && chmod 700 "$T/forge"
cp "$DEV/device.json" "$DEV/consent.json" "$T/bobdev/device.key" "$T/bobdev/device.pub" "$T/forge/"
expect 0 "" "$UT_SYNTH" --home "$T/forge" --out "$T/f1" --seed 51 --bytes 8192
rejected "$T/f1" "signed by another device key"
# The same, with alice's device key written into the header bob signed.
expect 0 "" "$UT_SYNTH" --home "$T/forge" --out "$T/f2" --seed 52 --bytes 8192
python3 - "$T/f2"/*.uts "$DEV/device.pub" <<'PY'
import base64, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[16:48] = base64.b64decode(open(sys.argv[2]).read().strip())
open(p, "wb").write(b)
PY
rejected "$T/f2" "the segment does not verify"

# A device never enrolled: upload refuses before sending anything.
mkdir -p "$T/never" && chmod 700 "$T/never"
mk "$T/n1" 61
expect 1 "not enrolled" env USETRACE_HOME="$T/never" "$USETRACE" upload "$T/n1"
[ "$(nlocal "$T/n1")" = 1 ] || fail "an unenrolled upload deleted its segment"
check_state
[ "$(nlisted)" = 8 ] || fail "an unenrolled upload stored something"

# A revoked device: its token is refused, at the CLI and at the API.
add_device "$ALICE" "$T/dev2"
expect 0 "" "$UT_SYNTH" --home "$T/dev2" --out "$T/r1" --seed 71 --bytes 8192
TOKEN2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' "$T/dev2/device.json")
expect_out "^revoked device $DEVICE_ID" env USETRACE_HOME="$ALICE" "$USETRACE" my device-revoke "$DEVICE_ID"
expect 1 "unauthorized" env USETRACE_HOME="$T/dev2" "$USETRACE" upload "$T/r1"
[ "$(nlocal "$T/r1")" = 1 ] || fail "a revoked device's upload deleted its segment"
[ "$(put "$T/r1"/*.uts "$TOKEN2")" = 401 ] || { cat "$T/put.json" >&2; fail "a revoked token was not refused"; }
check_state
[ "$(nlisted)" = 8 ] || fail "a revoked device stored something"

# --- Consent. ---
# A consent id the server never saw (upload posts consent.json's own id).
mk "$T/c1" 81 --consent-id "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
rejected "$T/c1" "no consent on record"
# A policy other than the one consented to.
mk "$T/c2" 82 --policy-hash "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
rejected "$T/c2" "the segment's policy is not the one consented to"
# Withdrawn at the server: a segment begun before stays acceptable, one
# begun after is rejected, also when the withdrawal is posted again later.
synth "$T/w1" 1 91 --start-ns "$(( $(date +%s) - 1200 ))000000000"
LOCAL="$T/w1"
expect 0 "" env USETRACE_HOME="$DEV" "$USETRACE" consent --withdraw
mkdir "$T/empty"
up 0 "" "$T/empty"
mk "$T/w2" 92 --start-ns "$(( $(date +%s) + 2 ))000000000"
sleep 1
rejected "$T/w2" "consent was withdrawn before the segment began"
up 0 "" "$T/w1"
grep -q "^seg-00000001.uts stored$" "$T/up.out" || fail "a segment begun before the withdrawal: $(cat "$T/up.out")"
NSTORED=9
check_state
[ "$(nlisted)" = 9 ] || fail "the segment begun before the withdrawal is not listed"

# --- Other bytes under a stored id: a device restored from an older copy
# of its spool.  A crash leaves an open segment; a copy of it cut shorter
# recovers to fewer frames: the same id, both signed by the device.  The
# first is stored, the second rejected (and alerted); one copy stays. ---
rc=0
UT_FSIO_FAULT=fsync:8:crash "$UT_SYNTH" --home "$DEV" --out "$T/t1" --seed 93 \
	--bytes 60000 >/dev/null 2>&1 || rc=$?
[ $rc -eq 137 ] && [ -f "$T/t1/seg-00000001.uts.open" ] || fail "no crash mid-segment ($rc)"
cp -r "$T/t1" "$T/t2"
truncate -s -150 "$T/t2/seg-00000001.uts.open"
for twin in "$T/t1" "$T/t2"; do
	mk "$twin" 94   # recovers seg-00000001, then writes seg-00000002
	rm "$twin/seg-00000002.uts"
done
ID=$(seg_id "$T/t1/seg-00000001.uts")
SZ1=$(stat -c %s "$T/t1/seg-00000001.uts")
[ "$ID" = "$(seg_id "$T/t2/seg-00000001.uts")" ] &&
	[ "$SZ1" != "$(stat -c %s "$T/t2/seg-00000001.uts")" ] || fail "no twin segments"
up 0 "" "$T/t1"
grep -q "^seg-00000001.uts stored$" "$T/up.out" || fail "recovered segment: $(cat "$T/up.out")"
up 0 "" "$T/t2"
grep -q "^seg-00000001.uts rejected: another segment is stored under this id$" "$T/up.out" ||
	fail "other bytes under a stored id: $(cat "$T/up.out")"
grep -q "ALERT" "$T/serve.err" || fail "no alert for other bytes under a stored id"
expect 0 "" env USETRACE_HOME="$ALICE" "$USETRACE" my list --json
python3 - "$T/out" "$ID" "$SZ1" <<'PY' || fail "the stored copy changed"
import json, sys
segs = [s for s in json.load(open(sys.argv[1]))["segments"] if s["id"] == sys.argv[2]]
assert len(segs) == 1 and segs[0]["size"] == int(sys.argv[3]), segs
PY
echo "upload_faults: ok"
