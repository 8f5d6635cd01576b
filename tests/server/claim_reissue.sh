#!/bin/sh
# claim_reissue - an admin re-issuing a claim code for a person who already
# has a token (`usetrace admin principal reissue NAME`) is shown to that
# person in `usetrace my audit`, and the code does not work until the person
# confirms it (`usetrace my confirm-claim ID`) or 24 hours have passed; an
# early use is refused without using the code up; nobody else can confirm.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"

expect 1 "not_found" as_admin "$USETRACE" admin principal reissue nobody
expect_out "^claim [0-9a-f]{16}\." as_admin "$USETRACE" admin principal reissue alice
CODE=$(sed -n 's/^claim //p' "$T/out")
CID=$(sed -n 's/.*(claim id \([0-9a-f]*\))$/\1/p' "$T/out")
[ "${CODE%%.*}" = "$CID" ] || fail "the claim id is not the code's public part"

# alice sees it.
expect 0 "" as "$T/alice" my audit
grep -q "admin (admin)  administration  claim_reissue principal:alice" "$T/out" ||
	{ cat "$T/out" >&2; fail "my audit: no re-issue"; }
expect 0 "" as "$T/bob" my audit
grep -q claim_reissue "$T/out" && fail "bob sees alice's re-issue"

# Too early: refused, and the code still works later.
mkdir -p "$T/taker" && chmod 700 "$T/taker"
expect 1 "not_yet" as "$T/taker" login "$SRV_URL" --claim "$CODE" --pin "$SRV_PIN"
expect 1 "not_found" as "$T/bob" my confirm-claim "$CID"
expect 2 "16 hex digits" as "$T/alice" my confirm-claim xyz
expect_out "^confirmed claim $CID" as "$T/alice" my confirm-claim "$CID"
expect_out "^token ut1_" as "$T/taker" login "$SRV_URL" --claim "$CODE" --pin "$SRV_PIN"
expect 1 "code_used" as "$T/taker" login "$SRV_URL" --claim "$CODE" --pin "$SRV_PIN"

# Unconfirmed, it works once 24 hours have passed (the mark's time moved
# back in the stopped server's database).
expect_out "^claim " as_admin "$USETRACE" admin principal reissue alice
CODE2=$(sed -n 's/^claim //p' "$T/out")
CID2=${CODE2%%.*}
mkdir -p "$T/taker2" && chmod 700 "$T/taker2"
expect 1 "not_yet" as "$T/taker2" login "$SRV_URL" --claim "$CODE2" --pin "$SRV_PIN"
stop_server
python3 - "$T/data/meta.db" "reissue:$CID2" <<'PY'
import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
(val,) = db.execute("SELECT val FROM setting WHERE key = ?", (sys.argv[2],)).fetchone()
j = json.loads(bytes(val))
j["made_ns"] -= 25 * 3600 * 10**9
db.execute("UPDATE setting SET val = ? WHERE key = ?", (json.dumps(j).encode(), sys.argv[2]))
db.commit()
PY
start_again "$T/data"
expect_out "^token ut1_" as "$T/taker2" login "$SRV_URL" --claim "$CODE2" --pin "$SRV_PIN"
# A new principal's first claim is not a re-issue: it works at once.
expect_out "^claim " as_admin "$USETRACE" admin principal add carl --role subject
mkdir -p "$T/carl" && chmod 700 "$T/carl"
expect_out "^token " as "$T/carl" login "$SRV_URL" --claim "$(sed -n 's/^claim //p' "$T/out")" --pin "$SRV_PIN"
echo "claim_reissue: ok"
