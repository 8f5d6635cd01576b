#!/bin/sh
# audit_exposure - the auditor's exposure report against a scripted set of
# reads: `usetrace audit exposure --principal P` lists exactly the reads P
# made (subject, segment, action), `--subject S` exactly the reads of S's
# data by anyone; denied attempts (another person's segment, an admin's
# token) are not reads; --since/--until bound the report.  Only an auditor
# may ask, and an auditor reads no content.  Query parameters a route does
# not take, or repeated ones, are refused.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
expect_out "^claim " as_admin "$USETRACE" admin principal add carol --role auditor
mkdir -p "$T/carol" && chmod 700 "$T/carol"
expect_out "^token " env USETRACE_HOME="$T/carol" "$USETRACE" login "$SRV_URL" \
	--claim "$(sed -n 's/^claim //p' "$T/out")" --pin "$SRV_PIN"
CAROL_TOKEN=$(sed -n 's/^token //p' "$T/out")
ALICE_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/alice/login.json")

expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 2 --seed 1
expect_out "^uploaded 2" env USETRACE_HOME="$T/adev" "$USETRACE" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 2
expect_out "^uploaded 1" env USETRACE_HOME="$T/bdev" "$USETRACE" upload "$T/brec"
A1=$(listed_ids "$T/alice" | sed -n 1p)
A2=$(listed_ids "$T/alice" | sed -n 2p)
B1=$(listed_ids "$T/bob" | sed -n 1p)
# T0 has whole seconds: wait into the next second so no listing above
# falls inside [T0, T1].
sleep 1.1
T0=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# The script: what each principal reads (the listed_ids calls above are
# reads too, before T0).  The script's own record is "principal action
# subject segment".
: >"$T/script"
read_as() { # home principal action subject segment command...
	h=$1 p=$2 act=$3 s=$4 seg=$5
	shift 5
	expect 0 "" env USETRACE_HOME="$h" "$USETRACE" "$@"
	echo "$p $act $s $seg" >>"$T/script"
}
read_as "$T/alice" alice read_actions alice "$A1" my show "$A1" --json
read_as "$T/alice" alice read_records alice "$A2" my show "$A2" --raw
read_as "$T/alice" alice segment_list alice - my list
read_as "$T/bob" bob read_actions bob "$B1" my show "$B1"
read_as "$T/bob" bob read_actions bob "$B1" my show "$B1" --json
# Denied attempts are not reads.
expect 1 "not_found" env USETRACE_HOME="$T/bob" "$USETRACE" my show "$A1"
expect 1 "forbidden" as_admin "$USETRACE" my show "$A1"
expect 1 "forbidden" env USETRACE_HOME="$T/carol" "$USETRACE" my list
expect 1 "forbidden" env USETRACE_HOME="$T/carol" "$USETRACE" my show "$A1"
sleep 1.1
T1=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# report ARGS...: the report as "principal action subject segment" lines, sorted.
report() {
	expect 0 "" env USETRACE_HOME="$T/carol" "$USETRACE" audit exposure "$@" --json
	python3 - "$T/out" <<'PY' | sort
import json, sys
for r in json.load(open(sys.argv[1]))["reads"]:
    print(r["principal"], r["action"], r["subject_name"], r["segment"] or "-")
PY
}
want() { sort "$T/script" | awk -v f="$1" -v v="$2" '(f == "p" && $1 == v) || (f == "s" && $3 == v)'; }

report --principal alice --since "$T0" --until "$T1" >"$T/got"
want p alice >"$T/want"
cmp -s "$T/got" "$T/want" || { diff "$T/want" "$T/got" >&2; fail "exposure --principal alice"; }
report --subject alice --since "$T0" --until "$T1" >"$T/got"
want s alice >"$T/want"
cmp -s "$T/got" "$T/want" || { diff "$T/want" "$T/got" >&2; fail "exposure --subject alice"; }
report --principal bob --since "$T0" --until "$T1" >"$T/got"
want p bob >"$T/want"
cmp -s "$T/got" "$T/want" || { diff "$T/want" "$T/got" >&2; fail "exposure --principal bob"; }
report --subject bob --since "$T0" >"$T/got"
want s bob >"$T/want"
cmp -s "$T/got" "$T/want" || { diff "$T/want" "$T/got" >&2; fail "exposure --subject bob"; }
[ -z "$(report --principal admin)" ] || fail "the admin read nothing, the report says otherwise"
[ -z "$(report --principal carol)" ] || fail "the auditor read nothing, the report says otherwise"
# Without bounds the reads before T0 (the listing) are there too.
[ "$(report --principal alice | grep -c segment_list)" -ge 2 ] || fail "unbounded report misses earlier reads"
expect 0 "" env USETRACE_HOME="$T/carol" "$USETRACE" audit exposure --principal alice --since "$T0"
grep -q "  alice (subject)  self-access  read_actions  alice  $A1$" "$T/out" ||
	{ cat "$T/out" >&2; fail "text report line"; }

# Who may ask, and how.
expect 1 "forbidden" env USETRACE_HOME="$T/alice" "$USETRACE" audit exposure --principal bob
expect 1 "forbidden" as_admin "$USETRACE" audit exposure --principal bob
expect 2 "give --principal NAME or --subject NAME" \
	env USETRACE_HOME="$T/carol" "$USETRACE" audit exposure
expect 1 "not_found" env USETRACE_HOME="$T/carol" "$USETRACE" audit exposure --subject carol
expect 1 "bad_request" env USETRACE_HOME="$T/carol" "$USETRACE" audit exposure \
	--principal alice --since yesterday
expect_out '"alerts"' env USETRACE_HOME="$T/carol" "$USETRACE" audit alerts --json

# Query parameters: only those a route takes, each once.
status() { # token purpose path
	curl -sk --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
		-H "Authorization: Bearer $1" -H "Usetrace-Purpose: $2" "$SRV_URL$3"
}
[ "$(status "$CAROL_TOKEN" audit '/v1/audit/exposure?principal=alice')" = 200 ] || fail "plain exposure"
[ "$(status "$CAROL_TOKEN" audit '/v1/audit/exposure?principal=alice&limit=5')" = 400 ] ||
	fail "a parameter the route does not take was accepted"
[ "$(status "$CAROL_TOKEN" audit '/v1/audit/exposure?principal=alice&principal=bob')" = 400 ] ||
	fail "a repeated parameter was accepted"
[ "$(status "$ALICE_TOKEN" self-access '/v1/my/segments?subject=bob')" = 400 ] ||
	fail "a query parameter on my/segments was accepted"
grep -q '"bad_request"' "$T/body" || fail "no JSON error body"
[ "$(status "$ALICE_TOKEN" self-access '/v1/my/segments')" = 200 ] || fail "my/segments"
# The log itself: the auditor reads it, its chain is checked client-side,
# and an entry edited in the database is named.
expect_out "^chain ok: [0-9]+ entries \(seq 1 to [0-9]+\)$" as "$T/carol" audit log
grep -q "  carol (auditor)  audit  exposure_report  -  principal:alice  ok$" "$T/out" ||
	{ tail -5 "$T/out" >&2; fail "audit log lines"; }
expect 1 "forbidden" as_admin "$USETRACE" audit log
stop_server
python3 - "$T/data/meta.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TRIGGER audit_no_update")
db.execute("UPDATE audit SET detail = 'edited' WHERE seq = 5")
db.commit()
PY
start_again "$T/data"
expect 1 "" as "$T/carol" audit log
grep -q "^audit BAD: entry 5 does not verify" "$T/out" || { tail -3 "$T/out" >&2; fail "the edited entry was not named"; }
echo "audit_exposure: ok"
