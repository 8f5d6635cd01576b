#!/bin/sh
# run.sh - the web page's browser tests (issue 13, suite 'web'): a real
# `usetrace serve` on loopback with the people the tests need, made with
# the CLI and ut-synth as the server tests make them, then Playwright
# driving Debian's headless Chromium (tests/web/*.spec.mjs).
#
# People: admin (the bootstrap admin), alice (subject; an enrolled device;
# synthetic segments on yesterday and today), bob (subject; one segment
# typing a planted phrase), rita (reviewer; two of alice's segments
# assigned), audrey (auditor), carol (subject; an unused claim code).
# Their tokens, codes, ids and the server URL are in $T/web.json, which
# the specs read (UT_WEB_ENV).
#
#   run.sh            set up, run every spec, exit with Playwright's status
#   run.sh --keep     set up and wait (Ctrl-C ends it): for the benchmark
#                     and for looking at the page by hand
#   run.sh -- ARGS    pass ARGS to `playwright test` (e.g. a spec's name)
#
# Screenshots go to $UT_WEB_SHOTS (default build dir's web-shots/);
# scripts/web_shots.sh copies them to docs/screenshots/.
. "$SRCDIR/tests/server/cli_lib.sh"
. "$SRCDIR/tests/server/synth_lib.sh"

WEBDIR="$SRCDIR/tests/web"
CHROMIUM=${UT_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM (scripts/deps.sh installs it)"; exit 77; }
[ -d "$WEBDIR/node_modules/@playwright/test" ] ||
	{ echo "SKIP: no Playwright in tests/web/node_modules (scripts/deps.sh runs npm ci)"; exit 77; }

KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--keep) KEEP=1; shift ;;
	--) shift; break ;;
	*) break ;;
	esac
done

start_server "$T/data"

# token_of: the token `usetrace login` printed into $T/out.
token_of() { sed -n 's/^token //p' "$T/out"; }

# alice: a subject with an enrolled, consenting device and recordings on
# two days (yesterday's segments are the ones the erase test destroys).
login_as alice subject "$T/alice"
ALICE_TOKEN=$(token_of)
add_device "$T/alice" "$T/alicedev"
Y=$(date -u -d yesterday +%Y-%m-%d)
TODAY=$(date -u +%Y-%m-%d)
expect 0 "" "$UT_SYNTH" --home "$T/alicedev" --out "$T/arec" --segments 3 --seed 11 \
	--marker "alice-Mark pw [PASSWORD] ok" --start "$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)"
expect 0 "" "$UT_SYNTH" --home "$T/alicedev" --out "$T/arec" --segments 2 --seed 12 \
	--start "${Y}T10:00:00Z"
expect_out "^uploaded 5, kept 0$" as "$T/alicedev" upload "$T/arec"

# bob: another subject, whose one segment types a phrase nobody else may see.
login_as bob subject "$T/bob"
BOB_TOKEN=$(token_of)
add_device "$T/bob" "$T/bobdev"
BOB_PHRASE="bobPlanted-Phrase-6620"
expect 0 "" "$UT_SYNTH" --home "$T/bobdev" --out "$T/brec" --segments 1 --seed 21 --marker "$BOB_PHRASE"
expect_out "^uploaded 1, kept 0$" as "$T/bobdev" upload "$T/brec"
BOB_SEG=$(listed_ids "$T/bob" | sed -n 1p)

# rita reviews two of alice's segments of today; audrey audits; carol has
# a claim code she has not used.
login_as rita reviewer "$T/rita"
RITA_TOKEN=$(token_of)
login_as audrey auditor "$T/audrey"
AUDREY_TOKEN=$(token_of)
expect_out "^claim " as_admin "$USETRACE" admin principal add carol --role subject
CAROL_CLAIM=$(sed -n 's/^claim //p' "$T/out")
expect 0 "" as "$T/alice" my list --json
python3 -c 'import json,sys
for s in sorted(json.load(open(sys.argv[1]))["segments"], key=lambda s: s["start_ns"]):
    if s["day"] == sys.argv[2]: print(s["id"])' "$T/out" "$TODAY" >"$T/today.ids"
RID1=""; RID2=""
for seg in $(sed -n 2,3p "$T/today.ids"); do
	expect_out "^assigned " as_admin "$USETRACE" admin assign "$seg" rita
	[ -z "$RID1" ] && RID1=$(sed -n 's/^assigned //p' "$T/out") || RID2=$(sed -n 's/^assigned //p' "$T/out")
done
[ -n "$RID1" ] && [ -n "$RID2" ] || fail "no two assignments for rita"

python3 - "$T/web.json" <<PY
import json, sys
dev = json.load(open("$T/alicedev/device.json"))
json.dump({
    "url": "$SRV_URL", "pin": "$SRV_PIN", "usetrace": "$USETRACE", "tmp": "$T", "srcdir": "$SRCDIR",
    "today": "$TODAY", "yesterday": "$Y",
    "admin": {"token": "$ADMIN_TOKEN", "home": "$T/adminhome"},
    "alice": {"token": "$ALICE_TOKEN", "home": "$T/alice", "device_home": "$T/alicedev",
              "device_token": dev["device_token"]},
    "bob": {"token": "$BOB_TOKEN", "home": "$T/bob", "segment": "$BOB_SEG", "phrase": "$BOB_PHRASE"},
    "rita": {"token": "$RITA_TOKEN", "home": "$T/rita", "assignments": ["$RID1", "$RID2"]},
    "audrey": {"token": "$AUDREY_TOKEN", "home": "$T/audrey"},
    "carol": {"claim": "$CAROL_CLAIM"},
}, open(sys.argv[1], "w"), indent=1)
PY
export UT_WEB_ENV="$T/web.json"
export UT_CHROMIUM="$CHROMIUM"
export UT_WEB_SHOTS="${UT_WEB_SHOTS:-$PWD/web-shots}"
mkdir -p "$UT_WEB_SHOTS"

if [ "$KEEP" = 1 ]; then
	echo "web env $UT_WEB_ENV"
	echo "url $SRV_URL"
	while kill -0 "$SRV_PID" 2>/dev/null; do sleep 1; done
	exit 0
fi

cd "$WEBDIR"
rc=0
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx --no-install playwright test "$@" || rc=$?
exit $rc
