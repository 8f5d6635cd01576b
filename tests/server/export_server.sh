#!/bin/sh
# export_server - a trainer's export through the server, in every format:
# approved segments only, read back by the independent reader
# (tests/e2e/export_check.py) with exactly the actions `usetrace training
# steps` gives, with the stored frames; no name, device, subject or
# segment id in any exported byte; two exports share no contributor id.
# After a person erases everything, `export revoke-check` names exactly
# their episodes, --prune removes them and the manifest still checks, and
# their frames are gone from the server.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"
CHECK="$SRCDIR/tests/e2e/export_check.py"

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
login_as rita reviewer "$T/rita"
login_as tina trainer "$T/tina"
login_as tom trainer "$T/tom"
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 2 --seed 1 \
	--bytes 131072 --marker ALICEPLANT
expect_out "^uploaded 2" as "$T/adev" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 2 --seed 2 \
	--bytes 131072
expect_out "^uploaded 2" as "$T/bdev" upload "$T/brec"
ASUBJ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subject_id"])' "$T/adev/device.json")
IDS=$(listed_ids "$T/alice"; listed_ids "$T/bob")
UNAPPROVED=$(listed_ids "$T/bob" | tail -1)

# Nothing approved: an empty export, not an error.
expect 0 "" as "$T/tina" export --export ds0 --out "$T/x0" --format jsonl --quiet
[ ! -s "$T/x0/steps.jsonl" ] || fail "steps before any approval"

for s in $IDS; do
	[ "$s" = "$UNAPPROVED" ] && continue
	expect_out "^assigned " as_admin "$USETRACE" admin assign "$s" rita
	expect_out approved as "$T/rita" review approve "$(sed -n 's/^assigned //p' "$T/out")"
done

expect 0 "" as "$T/tina" training steps --export ds1
python3 -c 'import json,sys
for l in open(sys.argv[1]):
    for a in json.loads(l)["actions"]: print(json.dumps(a))' "$T/out" >"$T/actions.jsonl"
[ -s "$T/actions.jsonl" ] || fail "no actions to export"
for f in jsonl webdataset pyautogui osworld anthropic; do
	expect 0 "" as "$T/tina" export --export ds1 --out "$T/x-$f" --format "$f" --quiet
	python3 "$CHECK" "$f" "$T/x-$f" "$T/actions.jsonl" alice bob "$ASUBJ" \
	    $IDS >"$T/check.out" || { cat "$T/check.out" >&2; fail "export_check $f"; }
	tail -1 "$T/check.out"
done
[ -d "$T/x-jsonl/frames" ] && [ "$(ls "$T/x-jsonl/frames" | wc -l)" -gt 0 ] ||
	fail "the export holds no frames"
# Frames transcoded from the server's PNG to WebP.
expect 0 "" as "$T/tina" export --export ds1 --out "$T/x-webp" --format jsonl --image webp --quiet
python3 "$CHECK" jsonl "$T/x-webp" "$T/actions.jsonl" >"$T/check.out" ||
	{ cat "$T/check.out" >&2; fail "export_check webp"; }
ls "$T/x-webp/frames" | grep -q '\.webp$' || fail "no WebP frames"
expect 2 "" as "$T/tina" export --export ds1 --out "$T/x-q" --format jsonl --quality 50
expect 0 "" as "$T/tina" export --export ds2 --out "$T/x2" --format jsonl --quiet
python3 "$CHECK" jsonl "$T/x2" - >"$T/c2.out" || { cat "$T/c2.out" >&2; fail "export_check ds2"; }
python3 "$CHECK" jsonl "$T/x-jsonl" - >"$T/c1.out" || fail "export_check ds1"
for c in $(sed -n 's/^contributors //p' "$T/c1.out" | tr ',' ' '); do
	grep -q "$c" "$T/c2.out" && fail "two exports share contributor id $c"
done
[ "$(sed -n 's/^contributors //p' "$T/c1.out" | tr ',' '\n' | wc -l)" = 2 ] ||
	fail "not two contributors in ds1"
# Only trainers export; a subject gets the API's denial.
expect 1 "" as "$T/alice" export --export ds1 --out "$T/xa" --format jsonl
expect 2 "" as "$T/tina" export --export 'bad name' --out "$T/xb" --format jsonl
expect 2 "" as "$T/tina" export --export ds1 --out "$T/xb" --format csv

# Alice's episodes: those whose contributor typed her marker.
python3 - "$T/x-jsonl/steps.jsonl" >"$T/alice.eps" <<'PY'
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1])]
who = {s["provenance"]["contributor"] for s in steps
       if "ALICEPLANT" in (s["usetrace"].get("text") or "")}
assert len(who) == 1, who
print("\n".join(str(e) for e in sorted({s["episode"] for s in steps
      if s["provenance"]["contributor"] in who})))
PY
[ -s "$T/alice.eps" ] || fail "alice has no episodes"

expect_out "^0 of [0-9]* episodes revoked" as "$T/tina" export revoke-check "$T/x-jsonl"
# tom did not read ds1: he learns nothing about it.
expect_out "^0 of [0-9]* episodes revoked" as "$T/tom" export revoke-check "$T/x-jsonl"

DAY=$(date -u +%Y-%m-%d)
expect_out "erased" as "$T/alice" my erase --all --yes
for f in jsonl webdataset osworld; do
	expect 0 "" as "$T/tina" export revoke-check "$T/x-$f"
	sed -n 's/^revoked episode //p' "$T/out" | sort -n >"$T/got.eps"
	cmp -s "$T/got.eps" "$T/alice.eps" ||
		{ cat "$T/out" "$T/alice.eps" >&2; fail "revoke-check $f names other episodes"; }
	expect_out "^pruned " as "$T/tina" export revoke-check "$T/x-$f" --prune
	python3 "$CHECK" "$f" "$T/x-$f" - ALICEPLANT >"$T/check.out" ||
		{ cat "$T/check.out" >&2; fail "export_check after prune ($f)"; }
	expect_out "^0 of [0-9]* episodes revoked" as "$T/tina" export revoke-check "$T/x-$f"
done
# A new export no longer holds alice.
expect 0 "" as "$T/tina" export --export ds1 --out "$T/x3" --format jsonl --quiet
grep -q ALICEPLANT "$T/x3/steps.jsonl" && fail "an erased person exported again"
# Expiry: each export records its day of expiry (the policy's
# export.expire, 90 days by default); from that day revoke-check reports
# it (exit 1, --prune changes nothing) and the server serves none of it.
EXP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["expires"])' "$T/x2/DATACARD.json")
[ "$EXP" = "$(date -u -d '+90 days' +%Y-%m-%d)" ] || [ "$EXP" = "$(date -u -d '+89 days' +%Y-%m-%d)" ] ||
	fail "the datacard's expiry is '$EXP', not in 90 days"
grep -q "^## Expiry" "$T/x2/DATACARD.md" || fail "no expiry in DATACARD.md"
expect 0 "" as "$T/tina" training steps --export ds2
python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    for a in e["actions"]:
        if a.get("frame") is not None:
            print("/v1/training/frames?export=ds2&episode=%s&frame=%d" % (e["episode"], a["frame"])); sys.exit()' \
	"$T/out" >"$T/frame.url"
[ -s "$T/frame.url" ] || fail "ds2 has no frame"
TINA_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/tina/login.json")
frame_status() {
	curl -sk --pinnedpubkey "$SRV_PIN" -o "$T/body" -w '%{http_code}' \
		-H "Authorization: Bearer $TINA_TOKEN" -H "Usetrace-Purpose: training" \
		"$SRV_URL$(cat "$T/frame.url")"
}
[ "$(frame_status)" = 200 ] || fail "a frame of ds2 before its expiry"
export USETRACE_TEST_EXPORT_SKEW_DAYS=88   # the client's clock, test builds only
expect_out "^0 of [0-9]* episodes revoked" as "$T/tina" export revoke-check "$T/x2"
export USETRACE_TEST_EXPORT_SKEW_DAYS=91
expect 1 "expired on $EXP" as "$T/tina" export revoke-check "$T/x2"
grep -q "^expired $EXP" "$T/out" || fail "revoke-check did not print the expiry"
expect 1 "changed nothing" as "$T/tina" export revoke-check "$T/x2" --prune
(cd "$T/x2" && sha256sum -c --quiet MANIFEST.sha256) || fail "an expired export was changed"
restart_server "$T/data"   # the server's clock 91 days on, too
unset USETRACE_TEST_EXPORT_SKEW_DAYS
[ "$(frame_status)" = 410 ] || fail "a frame of an expired export was served"
grep -q '"export_expired"' "$T/body" || fail "no export_expired error"
expect 1 "expired" as "$T/tina" export --export ds2 --out "$T/x5" --format jsonl --quiet
expect 1 "expired" as "$T/tina" training steps --export ds2
expect 0 "" as "$T/tina" export --export ds9 --out "$T/x9" --format jsonl --quiet
echo "export_server ok"
