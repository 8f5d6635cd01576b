#!/bin/sh
# training - trainers read approved segments only, pseudonymised per
# export: `usetrace training steps --export NAME` gives one line per
# approved, not withdrawn segment; the same person has one id within an
# export and different ids in another; no name, subject pseudonym or
# segment id appears; rejected and unassigned segments never do; a
# withdrawal takes a segment out; only trainers may ask, and trainers reach
# nothing else; the auditor's exposure report counts the trainer's reads.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

# episodes FILE: "episode subject nactions" per line, sorted
episodes() {
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    print(e["episode"], e["subject"], len(e["actions"]))' "$1" | sort
}

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
login_as rita reviewer "$T/rita"
login_as tina trainer "$T/tina"
login_as carol auditor "$T/carol"
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 3 --seed 1
expect_out "^uploaded 3" as "$T/adev" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 2
expect_out "^uploaded 1" as "$T/bdev" upload "$T/brec"
A1=$(listed_ids "$T/alice" | sed -n 1p)
A2=$(listed_ids "$T/alice" | sed -n 2p)
A3=$(listed_ids "$T/alice" | sed -n 3p)
B1=$(listed_ids "$T/bob" | sed -n 1p)
ASUBJ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subject_id"])' "$T/adev/device.json")

# Nothing is approved yet: nothing to train on.
expect 0 "" as "$T/tina" training steps --export e1
[ ! -s "$T/out" ] || fail "episodes before any approval"

# rita approves A1, A2 and B1, rejects A3.
for s in "$A1" "$A2" "$A3" "$B1"; do
	expect_out "^assigned " as_admin "$USETRACE" admin assign "$s" rita
	eval "R_$s=\$(sed -n 's/^assigned //p' \"\$T/out\")"
done
for s in "$A1" "$A2" "$B1"; do
	eval "expect_out approved as \"\$T/rita\" review approve \"\$R_$s\""
done
eval "expect_out rejected as \"\$T/rita\" review reject \"\$R_$A3\" --reason blurry"
# A second reviewer approves A1 too: still one episode for it.
login_as ron reviewer "$T/ron"
expect_out "^assigned " as_admin "$USETRACE" admin assign "$A1" ron
expect_out approved as "$T/ron" review approve "$(sed -n 's/^assigned //p' "$T/out")"

expect 0 "" as "$T/tina" training steps --export e1
cp "$T/out" "$T/e1"
episodes "$T/e1" >"$T/e1.ep"
[ "$(wc -l <"$T/e1.ep")" = 3 ] || { cat "$T/e1.ep" >&2; fail "export e1: not 3 episodes"; }
[ "$(cut -d' ' -f2 "$T/e1.ep" | sort -u | wc -l)" = 2 ] || fail "e1: not 2 people"
for bad in alice bob "$ASUBJ" "$A1" "$A2" "$A3" "$B1" wall_ns; do
	grep -q "$bad" "$T/e1" && fail "export e1 holds $bad"
done
# The same export again: the same ids.
expect 0 "" as "$T/tina" training steps --export e1
episodes "$T/out" >"$T/e1b.ep"
cmp -s "$T/e1.ep" "$T/e1b.ep" || fail "an export's ids changed between reads"
# Another export: the same episodes under unrelated ids.
expect 0 "" as "$T/tina" training steps --export e2
episodes "$T/out" >"$T/e2.ep"
[ "$(wc -l <"$T/e2.ep")" = 3 ] || fail "export e2: not 3 episodes"
for id in $(cut -d' ' -f1,2 "$T/e1.ep" | tr ' ' '\n'); do
	grep -q "$id" "$T/e2.ep" && fail "an id of e1 appears in e2"
done
[ "$(cut -d' ' -f3 "$T/e1.ep" | sort | tr '\n' ' ')" = "$(cut -d' ' -f3 "$T/e2.ep" | sort | tr '\n' ' ')" ] ||
	fail "e1 and e2 do not hold the same episodes"

# alice withdraws A1: two episodes are left.
expect_out "withdrawn from review" as "$T/alice" my withdraw-review "$A1"
expect 0 "" as "$T/tina" training steps --export e1
[ "$(grep -c . "$T/out")" = 2 ] || fail "a withdrawn segment is still exported"

# Only trainers, and trainers reach nothing else.
expect 1 "forbidden" as "$T/alice" training steps --export e1
expect 1 "forbidden" as "$T/rita" training steps --export e1
expect 1 "forbidden" as_admin "$USETRACE" training steps --export e1
expect 1 "forbidden" as "$T/carol" training steps --export e1
expect 1 "forbidden" as "$T/tina" my list
expect 1 "forbidden" as "$T/tina" review queue
expect 1 "forbidden" as "$T/tina" admin segments
expect 2 "--export NAME" as "$T/tina" training steps --export 'a b'
# The auditor sees what the trainer read, by person.
expect 0 "" as "$T/carol" audit exposure --principal tina --json
python3 - "$T/out" "$A1" "$A2" "$B1" "$A3" <<'PY' || fail "exposure of the trainer's reads"
import json, sys
reads = json.load(open(sys.argv[1]))["reads"]
segs = {r["segment"] for r in reads if r["action"] == "training_read"}
names = {r["subject_name"] for r in reads}
a1, a2, b1, a3 = sys.argv[2:6]
assert segs == {a1, a2, b1}, segs
assert names == {"alice", "bob"}, names
PY
echo "training: ok"
