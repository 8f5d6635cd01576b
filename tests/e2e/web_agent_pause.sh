#!/bin/sh
# web_agent_pause - issue 13, the page end to end: the person presses Pause
# on the web page (headless Chromium, tests/web/pause_page.mjs) and the real
# recorder under Xvfb reports paused (`usetrace status`), the page then
# shows the device as having applied it, keys typed meanwhile are not
# recorded, and Resume on the page makes it record again.  (my_pause.sh does
# the same with curl and the session cookie; this one goes through the
# page's own buttons.)  Skipped without Chromium or tests/web/node_modules.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"

WEB="$SRCDIR/tests/web"
[ -x "${UT_CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$WEB/node_modules/@playwright/test" ] ||
	{ echo "SKIP: no Chromium or Playwright (scripts/deps.sh)"; exit 77; }
page() { (cd "$WEB" && node pause_page.mjs "$SRV_URL" "$TOKEN" "$1") || fail "the page: $1"; }

enrolled_editor
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$HOME_A/login.json")
start_record "$E2E_TMP/rec"
wait_status "^recording" "not recording at start"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "before "
sleep 0.3

page pause
wait_status "^paused" "the pause pressed on the page did not reach the agent"
page acked
xdo windowactivate --sync "$MP"
xdo type --delay 15 "during "
sleep 0.5

page resume
wait_status "^recording" "the agent did not record again after Resume on the page"
xdo windowactivate --sync "$MP"
xdo type --delay 15 "after"
sleep 0.5
stop_record

"$USETRACE" upload "$E2E_TMP/rec" >"$E2E_TMP/upload.out" || { cat "$E2E_TMP/upload.out"; fail "upload"; }
: >"$E2E_TMP/raw.jsonl"
for s in $(my_segments "$HOME_A"); do
	"$USETRACE" my show "$s" --raw >>"$E2E_TMP/raw.jsonl" || fail "my show --raw"
done
python3 - "$E2E_TMP/raw.jsonl" <<'PY' || fail "recorded text"
import json, sys
raw = sorted((json.loads(l) for l in open(sys.argv[1]) if l.strip()), key=lambda r: r["wall_ns"])
text = "".join(r["text"] for r in raw if r["type"] == "key" and r["down"])
if text != "before after":
    sys.exit("recorded text %r" % text)
PY
stop_server
echo "web_agent_pause ok"
