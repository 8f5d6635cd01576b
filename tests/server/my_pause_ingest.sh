#!/bin/sh
# my_pause_ingest - ingest discards (by server time) a person's segments
# begun during their own pause (POST /v1/my/pause, issue 13), by the rule
# of the organisation's pause (tests/server/org_pause.sh): a segment begun
# in the pause and one begun 10 s before it that runs well into it are
# discarded with reason my_pause, one begun 50 s before it is stored;
# another person's segment of the same time is stored; after the resume,
# segments are stored again; each discard is audited naming the pause.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"
command -v curl >/dev/null || fail "curl is required"

tok() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# post TOKEN PATH BODY: status printed, body in $T/body.
post() {
	curl -sk -m 70 --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $1" -H "Usetrace-Purpose: self-access" \
		-H "Content-Type: application/json" -d "$3" "$SRV_URL$2"
}
# synth DEVHOME NAME START_NS: one seed-1 segment (65.7 s) in $T/rec-NAME.
synth() {
	mkdir -p "$T/rec-$2" && chmod 700 "$T/rec-$2"
	expect 0 "" "$UT_SYNTH" --home "$1" --out "$T/rec-$2" --segments 1 --seed 1 --start-ns "$3"
}

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
ALICE=$(tok "$T/alice/login.json" token)

[ "$(post "$ALICE" /v1/my/pause '{"duration_s": 600}')" = 200 ] || fail "my pause"
SINCE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["since_ns"])' "$T/body")
for c in in:1 before10:-10 before50:-50; do
	synth "$T/adev" "${c%%:*}" $((SINCE + ${c#*:} * 1000000000))
done
synth "$T/bdev" bob $((SINCE + 1000000000))
expect_out "discarded" as "$T/adev" upload "$T/rec-in"
grep -q "my_pause" "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "no my_pause reason"; }
expect_out "discarded" as "$T/adev" upload "$T/rec-before10"
expect_out "^uploaded 1" as "$T/adev" upload "$T/rec-before50"
expect_out "^uploaded 1" as "$T/bdev" upload "$T/rec-bob"
[ "$(listed_ids "$T/alice" | wc -l)" = 1 ] || fail "alice's stored segments: not only the one begun 50 s before"
[ "$(listed_ids "$T/bob" | wc -l)" = 1 ] || fail "alice's pause discarded bob's segment"

# After the resume, segments are stored again.
[ "$(post "$ALICE" /v1/my/resume '{}')" = 200 ] || fail "my resume"
sleep 1
synth "$T/adev" after $(($(date +%s%N) + 1000000000))
expect_out "^uploaded 1" as "$T/adev" upload "$T/rec-after"
[ "$(listed_ids "$T/alice" | wc -l)" = 2 ] || fail "a segment after the resume was not stored"

python3 - "$T/data/meta.db" "$SINCE" <<'PY' || fail "discards not audited"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT object FROM audit WHERE action = 'upload'"
                  " AND detail LIKE 'discarded: my_pause%'").fetchall()
if len(rows) != 2 or not all(r[0].endswith(" my_pause:" + sys.argv[2]) for r in rows):
    print("discarded uploads audited:", rows, file=sys.stderr)
    sys.exit(1)
PY
echo "my_pause_ingest: ok"
