#!/bin/sh
# erase_backup - an erasure reaches backups (P9), through real `usetrace
# serve` processes and the real CLI.
#
# alice records on day D1 (yesterday, UTC) and D2 (today), bob on D1; each
# device's segments are copied before upload (the laptop backup).  With the
# server stopped, ut-keyscan tries the key store's keys on those copies and
# on the data directory: a positive control that the scan finds what it
# looks for.  DIR is copied to BACKUP, alice erases D1, and then, with the
# NEW master key:
#  - no window of DIR, BACKUP or the laptop copies opens under any key the
#    store still holds as a key of alice's D1; bob's and alice's D2 windows
#    still do;
#  - BACKUP's database and blobs with the current key store and master key
#    (docs/OPERATIONS.md) serve: alice's D1 segments are unreadable (their
#    day key is gone) and a second erasure removes them; D2 and bob's read
#    back exactly; `usetrace audit verify` passes on the restored data;
#  - no file of DIR or BACKUP holds the erased day's marker, application
#    names or window titles in plaintext;
#  - a segment of a day past retention gets a `discarded` receipt and is not
#    stored (the retention job's erasure of stored days cannot be reached
#    without faking the server's clock, so it is not tested here).
. "$(dirname "$0")/cli_lib.sh"
: "${UT_SYNTH:?UT_SYNTH must point at ut-synth}"
: "${UT_KEYSCAN:?UT_KEYSCAN must point at ut-keyscan}"
# The e2e server helpers (restartable start_server, stop_server, add_person,
# enroll_here, my_segments) write into $E2E_TMP and track $E2E_PIDS.
E2E_TMP=$T
E2E_PIDS=""
. "$SRCDIR/tests/e2e/server_lib.sh"
# serve DIR: the first start picks a port; later starts (of DIR or of a
# restored copy) listen on the same one, so saved logins and device.json
# still name the server.
serve() {
	start_server "$@" ${PORT:+--listen 127.0.0.1:$PORT}
	T_PIDS="$SRV_PID $T_PIDS"
	PORT=${SRV_URL##*:}
}

as_alice() { USETRACE_HOME="$T/alice" "$USETRACE" "$@"; }
as_bob() { USETRACE_HOME="$T/bob" "$USETRACE" "$@"; }

DIR=$T/data
BACKUP=$T/backup
LAPTOP=$T/laptop
D1=$(date -u -d yesterday +%Y-%m-%d)
D2=$(date -u +%Y-%m-%d)
M1=erasedmarker1q
M2=keptmarker2w
MB=bobmarker3e

# One ut-synth segment of the device whose key home is $1, into $2, from
# $3, with marker $4 and seed $5; expected actions in $T/expect.  Prints
# the segment id.
synth() { # home out start marker seed
	"$UT_SYNTH" --home "$1" --out "$2" --segments 1 --bytes 24000 --seed "$5" \
		--start "$3" --marker "$4" --expect "$T/expect" >"$T/synth.out" ||
		fail "ut-synth for $4"
	sed -n 's/^segment \([0-9a-f]*\) .*/\1/p' "$T/synth.out"
}

# keyscan OUT [--meta DB]... PATH...: ut-keyscan with DIR's key store and
# master key (the server stopped); its output in OUT.
keyscan() {
	out=$1; shift
	"$UT_KEYSCAN" --keys "$DIR/keys" --master "$DIR.master-key" "$@" >"$out" ||
		fail "ut-keyscan failed"
	grep -q '^opened ' "$out" || fail "ut-keyscan printed no count"
}

# count FILE KIND SUBJECT DAY [PREFIX]: windows of that kind that opened as
# that subject's day (in files under PREFIX).
count() {
	awk -v k="$2" -v s="$3" -v d="$4" -v p="${5:-/}" \
		'$3 == k && $4 == s && $5 == d && index($1, p) == 1' "$1" | wc -l
}
# no_sealed_keys_outside_laptop FILE: every ingest window that opened, and
# every copy of a sealed key, is in the laptop copies (none on the server).
no_sealed_keys_outside_laptop() {
	! awk '$3 == "ingest" || $1 == "copy"' "$1" | grep -v "^\(copy \)\?$LAPTOP/" >&2 ||
		fail "a sealed segment key on the server's disk"
	grep -q '^copies 0$' "$1" || { cat "$1" >&2; fail "a sealed key was copied"; }
}

serve "$DIR"
add_person alice "$T/alice" >/dev/null
add_person bob "$T/bob" >/dev/null
for who in alice bob; do
	mkdir -p "$T/$who-dev" && chmod 700 "$T/$who-dev"
	cp "$T/$who/login.json" "$T/$who-dev/"
	enroll_here "$T/$who-dev"
	USETRACE_HOME=$T/$who-dev "$USETRACE" consent --yes >/dev/null 2>&1 || fail "consent"
done
ALICE_SUBJ=$(sed -n 's/.*"subject_id": *"\([0-9a-f]*\)".*/\1/p' "$T/alice-dev/device.json")
BOB_SUBJ=$(sed -n 's/.*"subject_id": *"\([0-9a-f]*\)".*/\1/p' "$T/bob-dev/device.json")
[ ${#ALICE_SUBJ} -eq 32 ] && [ ${#BOB_SUBJ} -eq 32 ] || fail "no subject ids in device.json"

# Segments: alice D1 and D2, bob D1; the laptop copies kept before upload.
A1=$(synth "$T/alice-dev" "$T/arec" "${D1}T10:00:00Z" "$M1" 1)
A2=$(synth "$T/alice-dev" "$T/arec2" "${D2}T00:00:01Z" "$M2" 2)
B1=$(synth "$T/bob-dev" "$T/brec" "${D1}T11:00:00Z" "$MB" 3)
[ -n "$A1" ] && [ -n "$A2" ] && [ -n "$B1" ] || fail "ut-synth printed no segment ids"
mkdir -p "$LAPTOP"
cp -a "$T/arec" "$LAPTOP/alice-d1"
cp -a "$T/arec2" "$LAPTOP/alice-d2"
cp -a "$T/brec" "$LAPTOP/bob-d1"
for r in alice:arec alice:arec2 bob:brec; do
	expect_out "^uploaded 1, kept 0$" \
		env USETRACE_HOME="$T/${r%%:*}-dev" "$USETRACE" upload "$T/${r#*:}"
done
# Titles and application names of alice's D1, from her own view of it.
expect_out "$A1" as_alice my list --json
cp "$T/out" "$T/d1-list.json"
python3 - "$T/out" "$A1" >"$T/d1-strings" <<'PY' || fail "no summary of alice's D1"
import json, sys
doc = json.load(open(sys.argv[1]))
segs = doc["segments"] if isinstance(doc, dict) else doc
s = [s for s in segs if s["id"] == sys.argv[2]][0]["summary"]
words = [w for w in s["apps"] + s["titles"] if len(w) >= 4]
assert words, s
print("\n".join(words))
PY
grep -q "$M1" "$T/d1-strings" || fail "alice's D1 titles do not carry the marker"
stop_server

# Positive control: before any erasure the scan opens the sealed keys in
# the laptop copies and the sealed keys and summaries in DIR's database.
keyscan "$T/scan0" --meta "$DIR/meta.db" "$LAPTOP" "$DIR"
no_sealed_keys_outside_laptop "$T/scan0"
[ "$(count "$T/scan0" ingest "$ALICE_SUBJ" "$D1" "$LAPTOP/")" -eq 1 ] &&
[ "$(count "$T/scan0" ingest "$ALICE_SUBJ" "$D2" "$LAPTOP/")" -eq 1 ] &&
[ "$(count "$T/scan0" ingest "$BOB_SUBJ" "$D1" "$LAPTOP/")" -eq 1 ] ||
	{ cat "$T/scan0" >&2; fail "control: the laptop copies' sealed keys do not open"; }
for k in day-key day-summary; do
	[ "$(count "$T/scan0" $k "$ALICE_SUBJ" "$D1" "$DIR/meta.db")" -ge 1 ] &&
	[ "$(count "$T/scan0" $k "$BOB_SUBJ" "$D1" "$DIR/meta.db")" -ge 1 ] ||
		{ cat "$T/scan0" >&2; fail "control: DIR's sealed rows ($k) do not open"; }
done

# The backup (server stopped), then alice erases D1.
cp -a "$DIR" "$BACKUP"
cp "$DIR.master-key" "$T/old.master-key"
serve "$DIR"
expect 0 "" as_alice my erase --day "$D1" --yes
stop_server
cmp -s "$DIR.master-key" "$T/old.master-key" && fail "the erasure did not replace the master key"

# Every window of DIR, BACKUP and the laptop copies, with every key left.
keyscan "$T/scan1" --meta "$DIR/meta.db" --meta "$BACKUP/meta.db" "$LAPTOP" "$DIR" "$BACKUP"
if grep -E " $ALICE_SUBJ $D1\$" "$T/scan1" >&2; then
	fail "windows of alice's erased day still open"
fi
no_sealed_keys_outside_laptop "$T/scan1"
[ "$(count "$T/scan1" ingest "$ALICE_SUBJ" "$D2" "$LAPTOP/")" -eq 1 ] &&
[ "$(count "$T/scan1" ingest "$BOB_SUBJ" "$D1" "$LAPTOP/")" -eq 1 ] ||
	{ cat "$T/scan1" >&2; fail "the other days' laptop copies no longer open"; }
for k in day-key day-summary; do
	# In DIR's database and again in BACKUP's.
	for db in "$DIR/meta.db" "$BACKUP/meta.db"; do
		[ "$(count "$T/scan1" $k "$ALICE_SUBJ" "$D2" "$db")" -ge 1 ] &&
		[ "$(count "$T/scan1" $k "$BOB_SUBJ" "$D1" "$db")" -ge 1 ] ||
			{ cat "$T/scan1" >&2; fail "other rows ($k) no longer open in $db"; }
	done
done
# The old master key opens nothing with the current store: it is refused.
"$UT_KEYSCAN" --keys "$DIR/keys" --master "$T/old.master-key" "$DIR" >/dev/null 2>&1 &&
	fail "the old master key opens the current key store"
# Control: what the backup's own key store would open had the master key
# been backed up (never do that; docs/OPERATIONS.md): alice's D1, in all
# three places.  The checks above would see these lines.
"$UT_KEYSCAN" --keys "$BACKUP/keys" --master "$T/old.master-key" \
	--meta "$BACKUP/meta.db" "$LAPTOP" "$BACKUP" >"$T/scan-old" || fail "ut-keyscan on the backup"
[ "$(count "$T/scan-old" ingest "$ALICE_SUBJ" "$D1")" -eq 1 ] &&
[ "$(count "$T/scan-old" day-key "$ALICE_SUBJ" "$D1")" -ge 1 ] &&
[ "$(count "$T/scan-old" day-summary "$ALICE_SUBJ" "$D1")" -ge 1 ] ||
	{ cat "$T/scan-old" >&2; fail "control: the backup's keys do not open alice's D1"; }

# No plaintext of the erased day in any file of DIR or BACKUP (UTF-8 or
# UTF-16), nor, below, of the restored copies.  Control: the same search finds them in alice's own listing.
plaintext_in() { # PATH...: 0 when a word of $T/d1-strings or the marker is in a file
	python3 - "$T/d1-strings" "$M1" "$@" <<'PY'
import os, sys
words = {w for w in open(sys.argv[1]).read().split("\n") if w} | {sys.argv[2]}
pats = {p for w in words for p in (w.encode(), w.encode("utf-16-le"))}
found = 0
for top in sys.argv[3:]:
    for d, _, files in os.walk(top):
        for f in files:
            path = os.path.join(d, f)
            with open(path, "rb") as fh:
                b = fh.read()
            for p in pats:
                if p in b:
                    print("plaintext %r in %s" % (p, path), file=sys.stderr)
                    found += 1
sys.exit(0 if found else 1)
PY
}
mkdir "$T/ctl" && cp "$T/d1-list.json" "$T/ctl/"
plaintext_in "$T/ctl" 2>/dev/null || fail "control: the search finds nothing in alice's listing"
! plaintext_in "$DIR" "$BACKUP" || fail "plaintext of the erased day on disk"

# Restore: BACKUP's database and blobs with the current key store and the
# current master key (docs/OPERATIONS.md "Backup and restore").
R=$T/restored
cp -a "$BACKUP" "$R"
rm -rf "$R/keys"
cp -a "$DIR/keys" "$R/keys"
cp "$DIR.master-key" "$R.master-key"
serve "$R"
expect 0 "" "$USETRACE" audit verify --data "$R"
expect 0 "" as_alice my show "$A2" --json
cmp -s "$T/out" "$T/expect/$A2.json" || { diff "$T/expect/$A2.json" "$T/out" >&2; fail "alice's D2 reads otherwise"; }
expect 0 "" as_bob my show "$B1" --json
cmp -s "$T/out" "$T/expect/$B1.json" || { diff "$T/expect/$B1.json" "$T/out" >&2; fail "bob's D1 reads otherwise"; }
# alice's D1: its key is gone, so the backup's row reads nothing.
expect 1 "" as_alice my show "$A1" --json
[ ! -s "$T/out" ] || fail "the erased day's segment printed something"
as_alice my list --json >"$T/list" 2>"$T/err" || fail "my list on the restored server"
! grep -q "$M1" "$T/list" || fail "the erased day's summary is listed"
# Erasing D1 again removes its restored rows and blobs (the restore doc).
expect 0 "" as_alice my erase --day "$D1" --yes
as_alice my list --json >"$T/list" 2>"$T/err" || fail "my list"
! grep -q "$A1" "$T/list" || fail "alice's D1 is still listed after erasing it again"
grep -q "$A2" "$T/list" || fail "alice's D2 is gone"
stop_server
expect 0 "" "$USETRACE" audit verify --data "$R"
! plaintext_in "$R" || fail "plaintext of the erased day in the restored copy"

# A database snapshot taken in the middle of the erasure (its tombstone
# committed, its rows not yet deleted): BACKUP with DIR's tombstone row.
# The server reapplies the tombstone before it listens, so when it prints
# its address D1's rows and blobs are gone and the rest is there.
R2=$T/restored2
cp -a "$BACKUP" "$R2"
rm -rf "$R2/keys"
cp -a "$DIR/keys" "$R2/keys"
cp "$DIR.master-key" "$R2.master-key"
python3 - "$DIR/meta.db" "$R2/meta.db" <<'PY' || fail "copying the tombstone"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT * FROM tombstone").fetchall()
assert len(rows) == 1, rows
db = sqlite3.connect(sys.argv[2])
db.executemany("INSERT INTO tombstone VALUES (?, ?, ?)", rows)
db.commit()
db.close()
PY
# Blob files, not their frame index side files (FILE.aux, removed with them).
n_before=$(find "$R2/blobs" -type f ! -name "*.aux" | wc -l)
serve "$R2"
n_after=$(find "$R2/blobs" -type f ! -name "*.aux" | wc -l)
[ "$n_before" -eq 3 ] && [ "$n_after" -eq 2 ] ||
	fail "blobs of the restored erased day: $n_before before start, $n_after when serving"
as_alice my list --json >"$T/list" 2>"$T/err" || fail "my list"
! grep -q "$A1" "$T/list" || fail "the tombstoned day is listed"
grep -q "$A2" "$T/list" || fail "alice's D2 is gone"
stop_server
! plaintext_in "$R2" || fail "plaintext of the erased day in the restored copy"

# Retention: a segment of a day past retention is discarded, not stored.
# The device holds no ingest key for that day, so ut-synth cannot seal to
# one; it seals to today's (a device whose clock is wrong would do that).
serve "$DIR"
OLD=$(date -u -d '400 days ago' +%Y-%m-%d)
expect 1 "" "$UT_SYNTH" --home "$T/alice-dev" --out "$T/oldrec0" --segments 1 \
	--bytes 4000 --start "${OLD}T12:00:00Z"
RCPT=$(python3 -c 'import json, sys
print([k["pk"] for k in json.load(open(sys.argv[1]))["ingest_keys"] if k["day"] == sys.argv[2]][0])' \
	"$T/alice-dev/device.json" "$D2") || fail "no ingest key of today in device.json"
OLDSEG=$("$UT_SYNTH" --home "$T/alice-dev" --out "$T/oldrec" --segments 1 --bytes 4000 \
	--start "${OLD}T12:00:00Z" --recipient "$RCPT" | sed -n 's/^segment \([0-9a-f]*\) .*/\1/p')
[ -n "$OLDSEG" ] || fail "ut-synth made no segment of $OLD"
nblobs=$(find "$DIR/blobs" -type f | wc -l)
expect_out "discarded: that day is past retention" \
	env USETRACE_HOME="$T/alice-dev" "$USETRACE" upload "$T/oldrec"
grep -q "^uploaded 1, kept 0$" "$T/out" || { cat "$T/out" >&2; fail "a discarded segment was kept"; }
[ -z "$(ls "$T/oldrec"/*.uts 2>/dev/null)" ] || fail "the device kept a discarded segment"
[ "$(find "$DIR/blobs" -type f | wc -l)" -eq "$nblobs" ] || fail "a discarded segment was stored"
as_alice my list --json >"$T/list" 2>"$T/err" || fail "my list"
! grep -q "$OLDSEG" "$T/list" || fail "the discarded segment is listed"
stop_server
echo "erase_backup: ok"
