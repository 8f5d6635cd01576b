#!/bin/sh
# record_targets - target elements (issue 12, category "targets"): with
# "targets" in the policy, a click on a GTK push button (zenity) and a
# click and typing in mousepad's text area each give a target record with
# the expected AT-SPI role naming the press; a name holding a planted
# email is redacted ("[EMAIL]", like a title); a window whose title the
# policy denies gives none; without "targets" in the policy there is no
# target record at all; an answer later than the budget is not kept.
#
# Runs inside its own D-Bus session with the accessibility bus started;
# fails (never skips) when that bus is not live.
if [ -z "${UT_E2E_DBUS:-}" ]; then
	command -v dbus-run-session >/dev/null || { echo "FAIL: dbus-run-session missing (scripts/deps.sh)" >&2; exit 1; }
	UT_E2E_DBUS=1 exec dbus-run-session -- "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
start_a11y

MAIL="jane.roe@example.com"
DENIED="Denied-Quokka-5150"

mkpolicy() { # file categories
	cat >"$1" <<Y
version: 1
collect: [$2]
titles:
  deny: ["*ut-denied*"]
Y
}
mkpolicy "$E2E_TMP/on.yaml" "keys, text, pointer, apps, titles, targets"
mkpolicy "$E2E_TMP/off.yaml" "keys, text, pointer, apps, titles"

# The window's client area on screen: X Y WIDTH HEIGHT (xwininfo's
# absolute corner; xdotool's geometry counts the frame twice under openbox).
geom() { # window
	eval "$(xwininfo -id "$1" | awk '/Absolute upper-left X/ {print "X=" $NF}
		/Absolute upper-left Y/ {print "Y=" $NF} /Width:/ {print "WIDTH=" $NF}
		/Height:/ {print "HEIGHT=" $NF}')"
}

# Clicks along the bottom of a zenity dialog, right to left, until it
# closes (its one button is there; where exactly is the theme's).
click_button() { # title
	w=$(wait_window "$1")
	xdotool windowactivate --sync "$w"
	sleep 0.5
	geom "$w"
	for dx in 30 50 70 90 110 140 170 200 240; do
		xdotool getwindowname "$w" >/dev/null 2>&1 || return 0
		# Held like a person's click: the dialog closes on release.
		xdo mousemove $((X + WIDTH - dx)) $((Y + HEIGHT - 25)) mousedown 1
		sleep 0.3
		xdo mouseup 1
		sleep 0.4
	done
	xdotool getwindowname "$w" >/dev/null 2>&1 && fail "could not click the button of '$1' (test broken)"
	return 0
}

session() { # policy dir
	"$USETRACE" consent --yes --policy "$1" >/dev/null
	start_record "$2" --policy "$1"
	i=0
	until grep -q "secure input: watching password fields" "$REC_LOG"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { cat "$REC_LOG" >&2; fail "AT-SPI is not live in the agent"; }
		sleep 0.1
	done
	# A push button whose label holds an email.
	zenity --info --title ut-targets --text "targets" --ok-label "Send $MAIL" \
		--width 400 >/dev/null 2>&1 &
	E2E_PIDS="$! $E2E_PIDS"
	click_button ut-targets
	# A denied window (by its title).
	zenity --info --title ut-denied --text "$DENIED" --ok-label "Ok $DENIED" \
		--width 400 >/dev/null 2>&1 &
	E2E_PIDS="$! $E2E_PIDS"
	click_button ut-denied
	# mousepad's text area: a click, then typing.
	mousepad >/dev/null 2>&1 &
	MPID=$!
	E2E_PIDS="$MPID $E2E_PIDS"
	MW=$(wait_window Mousepad)
	wait_editor_ready "$MW" "x"
	geom "$MW"
	xdo mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 1
	sleep 0.5
	xdo type --delay 40 "typed words"
	sleep 1
	stop_record
	kill "$MPID" 2>/dev/null || true
	"$USETRACE" show "$2" --raw >"$2.raw" 2>"$E2E_TMP/show.err" || { cat "$E2E_TMP/show.err" >&2; fail "show"; }
}

session "$E2E_TMP/on.yaml" "$E2E_TMP/on"
grep -q "targets: recording the elements acted on" "$REC_LOG" || { cat "$REC_LOG" >&2; fail "the agent does not record targets"; }
python3 - "$E2E_TMP/on.raw" "$MAIL" "$DENIED" <<'PY' || fail "see above"
import json, sys
path, mail, denied = sys.argv[1:]
raw = open(path, "rb").read()
recs = [json.loads(l) for l in raw.decode().splitlines() if l.strip()]
bad = []
def need(cond, msg):
    if not cond:
        bad.append(msg)
need(mail.encode() not in raw and b"jane.roe" not in raw, "recording holds the planted email")
need(denied.encode() not in raw and b"Quokka" not in raw, "recording holds the denied window's text")
byseq = {r["seq"]: r for r in recs}
focus = None
tg = []
for r in recs:
    if r["type"] == "focus":
        focus = r
    if r["type"] == "target":
        tg.append((r, focus))
        p = byseq.get(r["action_seq"])
        need(p is not None and p["type"] in ("button", "key") and p.get("down"),
             "target %d names no press (%r)" % (r["seq"], p))
        need(r["action_seq"] < r["seq"], "target before its press")
        need(r["w"] > 0 and r["h"] > 0, "target without a box: %r" % r)
        need(r["path"].endswith(r["role"]), "path %r does not end at role %r" % (r["path"], r["role"]))
for r, f in tg:
    need(f is not None and not f["denied"], "a target in a denied window: %r" % r)
buttons = [r for r, f in tg if r["role"] == "push button"]
need(any(r["name"] == "Send [EMAIL]" for r in buttons),
     "no push button target named 'Send [EMAIL]': %r" % [(r["role"], r["name"]) for r, f in tg])
need(any(r["sensitivity"] >= 3 for r in buttons if "[EMAIL]" in r["name"]), "redacted name without its level")
texts = [r for r, f in tg if r["role"] == "text" and f is not None and f["app"] == "Mousepad"]
kinds = {byseq[r["action_seq"]]["type"] for r in texts if r["action_seq"] in byseq}
need(kinds == {"button", "key"}, "mousepad's text area: targets for %r, want a click and a key" % kinds)
# The typing run's first key (after the click) has the target; no later key of it.
keyt = [r["action_seq"] for r in texts if byseq[r["action_seq"]]["type"] == "key"]
typed = [r for r in recs if r["type"] == "key" and r.get("down") and r.get("text") == "t"]
need(len(keyt) >= 1 and typed and keyt[-1] == typed[-1]["seq"],
     "the typing run's target is not on its first key")
if bad:
    print("\n".join(bad)); sys.exit(1)
print("targets: %d" % len(tg))
PY

# Every export format carries the targets: the independent reader
# (export_check.py) validates each step's target against the schema and
# the action's (show --json), and no exported byte holds the email.
"$USETRACE" show "$E2E_TMP/on" --json >"$E2E_TMP/on.actions" || fail "show --json"
grep -q '"target":{"role":"push button","name":"Send \[EMAIL\]"' "$E2E_TMP/on.actions" ||
	{ cat "$E2E_TMP/on.actions" >&2; fail "show --json has no push button target"; }
for f in jsonl webdataset pyautogui osworld anthropic; do
	"$USETRACE" export --local "$E2E_TMP/on" --out "$E2E_TMP/x-$f" --format "$f" \
		>/dev/null 2>"$E2E_TMP/export-$f.err" || { cat "$E2E_TMP/export-$f.err" >&2; fail "export $f"; }
	python3 "$SRCDIR/tests/e2e/export_check.py" "$f" "$E2E_TMP/x-$f" "$E2E_TMP/on.actions" \
		"$MAIL" jane.roe >"$E2E_TMP/check-$f.out" || { cat "$E2E_TMP/check-$f.out" >&2; fail "export_check $f"; }
done
python3 - "$E2E_TMP/x-jsonl/steps.jsonl" <<'PY' || fail "jsonl targets"
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1])]
t = [s["target"] for s in steps if s["target"]]
assert any(x["role"] == "push button" and x["name"] == "Send [EMAIL]" and
           x["path"][-1] == "push button" for x in t), t
assert any(x["role"] == "text" for s in steps for x in [s["target"]]
           if x and s["usetrace"]["type"] == "type"), "no target on the typing"
PY

# The same session without "targets" in the policy: no target record.
session "$E2E_TMP/off.yaml" "$E2E_TMP/off"
grep -q '"type":"target"' "$E2E_TMP/off.raw" && fail "a target record without 'targets' in the policy"
grep -q '"type":"button"' "$E2E_TMP/off.raw" || fail "no clicks recorded (test broken)"
grep -q "targets: recording" "$REC_LOG" && fail "the agent records targets without the category"
# AT-SPI answering later than the 200 ms budget (the test double of a
# slow application): the presses have no target, and capture went on.
export USETRACE_TEST_ATSPI_DELAY_MS=400
session "$E2E_TMP/on.yaml" "$E2E_TMP/late"
unset USETRACE_TEST_ATSPI_DELAY_MS
grep -q '"type":"target"' "$E2E_TMP/late.raw" && fail "a target answered after the budget"
grep -q '"type":"button"' "$E2E_TMP/late.raw" || fail "no clicks recorded (late)"
grep -q '"type":"key"' "$E2E_TMP/late.raw" ||
	{ grep -v frame "$E2E_TMP/late.raw" | tail -20 >&2; fail "typing not recorded (late)"; }
grep -Eq "targets: [1-9][0-9]* asked, 0 answered, [1-9][0-9]* without an answer in time" "$REC_LOG" ||
	{ cat "$REC_LOG" >&2; fail "the agent did not ask, or kept late answers"; }
echo "record_targets: ok"
