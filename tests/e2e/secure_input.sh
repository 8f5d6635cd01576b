#!/bin/sh
# secure_input - P4 and P5 on real windows (docs/SECURE-INPUT.md):
#  1. a real GTK password field (zenity --password) found through AT-SPI;
#  2. a real keyboard grab (pinentry-gtk-2);
#  3. a denied application (an xterm whose WM_CLASS the policy denies);
#  4. the login and host name, typed and in a terminal title;
#  5. a card number, an AWS key and an email typed into mousepad.
# Every byte of the decrypted recording is then searched: none of the typed
# secrets, passwords, denied text or identities may be in any record.
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

LOGIN=$(id -un)
HOST=$(hostname)
ZPW="Zpw-Sesame-4417"
PIN="Pin-Marmalade-9931"
DENIED="denied-Quokka-5150"
CARD="4111 1111 1111 1111"
AWS="AKIA2E0A8F3B244C9986"
MAIL="jane.roe@example.com"

# The policy: nothing denied but the test's own xterm class, so the secure
# input paths (not the default deny list, which names pinentry) are tested.
cat >"$E2E_TMP/policy.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles]
applications:
  deny: [utdenied]
Y
"$USETRACE" consent --yes --policy "$E2E_TMP/policy.yaml" >/dev/null
start_record "$E2E_TMP/rec" --policy "$E2E_TMP/policy.yaml"
i=0
until grep -q "secure input: watching password fields" "$REC_LOG"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { cat "$REC_LOG" >&2; fail "the agent does not watch password fields (AT-SPI not live)"; }
	sleep 0.1
done

# 1. A password field (AT-SPI role password text).
zenity --password --title ut-zenity >"$E2E_TMP/zenity.out" 2>"$E2E_TMP/zenity.err" &
ZEN=$!
E2E_PIDS="$ZEN $E2E_PIDS"
ZW=$(wait_window ut-zenity)
xdotool windowactivate --sync "$ZW"
sleep 0.5
xdo type --delay 30 "$ZPW"
xdo key Return
wait "$ZEN" || true
grep -q "$ZPW" "$E2E_TMP/zenity.out" || { cat "$E2E_TMP/zenity.err" >&2; fail "zenity did not get the password (test broken)"; }

# 2. A keyboard grab: pinentry-gtk-2 (package pinentry-gtk2) grabs the keyboard while it asks.
printf 'SETTITLE ut-pinentry\nGETPIN\nBYE\n' | pinentry-gtk-2 --display "$DISPLAY" >"$E2E_TMP/pin.out" 2>&1 &
PINP=$!
E2E_PIDS="$PINP $E2E_PIDS"
PW=$(wait_window ut-pinentry)
sleep 0.5
xdo type --delay 30 "$PIN"
xdo key Return
wait "$PINP" || true
grep -q "^D $PIN" "$E2E_TMP/pin.out" || { cat "$E2E_TMP/pin.out" >&2; fail "pinentry did not get the PIN (test broken)"; }

# 3. A denied application.
xterm -class UtDenied -title ut-denied -geometry 80x10+0+0 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
DW=$(wait_window ut-denied)
xdotool windowactivate --sync "$DW"
sleep 0.3
xdo type --delay 20 "echo $DENIED"
xdo key Return
sleep 0.3

# 4. Identities: a terminal title as a shell sets it, and typed.
xterm -title "$LOGIN@$HOST:~" -geometry 80x10+0+300 >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
IW=$(wait_window "$LOGIN@$HOST")
xdotool windowactivate --sync "$IW"
sleep 0.3
xdo type --delay 20 "echo $LOGIN at $HOST in $HOME/x"
xdo key Return
sleep 1.2

# 5. Secrets typed into an editor.
mousepad >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
MW=$(wait_window "Mousepad")
wait_editor_ready "$MW" "x"
xdo type --delay 40 " card $CARD key $AWS mail $MAIL done"
sleep 1.5
stop_record

"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl" 2>"$E2E_TMP/show.err" || { cat "$E2E_TMP/show.err" >&2; fail "show"; }
[ -s "$E2E_TMP/raw.jsonl" ] || fail "empty recording"

python3 - "$E2E_TMP/raw.jsonl" "$ZPW" "$PIN" "$DENIED" "$CARD" "$AWS" "$MAIL" "$LOGIN" "$HOST" "$HOME" <<'PY' || fail "see above"
import json, re, sys
path, zpw, pin, denied, card, aws, mail, login, host, home = sys.argv[1:]
raw = open(path, "rb").read()
recs = [json.loads(l) for l in raw.decode().splitlines() if l.strip()]
bad = []
def need(cond, msg):
    if not cond:
        bad.append(msg)

# Every byte: no secret as a string in any record.
# (Short digit strings would match timestamps: the card is checked whole
# here and digit by digit in the typed text below.)
for s in (zpw, pin, denied, card, card.replace(" ", ""), aws, mail, "Sesame",
          "Marmalade", "Quokka", "AKIA", "jane.roe"):
    need(s.encode() not in raw, "recording holds %r" % s)
# Typed text reassembled from the key records, per focused window.
typed = "".join(r.get("text", "") for r in recs if r["type"] == "key" and r.get("down"))
low = typed.lower()
for s in (zpw, pin, denied, card.replace(" ", ""), aws, mail, "Sesame",
          "Marmalade", "Quokka", "1111", aws[4:10], aws[10:16], "example.com"):
    s = s.lower()
    need(s not in low and s not in low.replace(" ", ""), "typed text holds %r" % s)
need("done" in typed, "text typed around the secrets is missing (test broken?)")
# Identities: in no title and no typed word.
word = lambda w, s: re.search(r"(?<![A-Za-z0-9_])" + re.escape(w) + r"(?![A-Za-z0-9_])", s, re.I)
titles = [r.get("title", "") for r in recs if r["type"] == "focus"]
for w in (login, host, home):
    for t in titles:
        need(not word(w, t), "title holds an identity: %r" % t)
    need(not word(w, typed), "typed text holds identity %r" % w)
need(any("[USER]@[HOST]:~" in t for t in titles), "no '[USER]@[HOST]:~' title: %r" % titles)
# Denied: a focus record saying only "denied", no title, and a redaction.
den = [r for r in recs if r["type"] == "focus" and r.get("denied")]
need(den, "no denied focus record")
for r in den:
    need(not r.get("title") and not r.get("app"), "denied focus with content: %r" % r)
need(not any("ut-denied" in t for t in titles), "denied title recorded")
reds = [r for r in recs if r["type"] == "redacted"]
whys = {}
for r in reds:
    whys[r["why"]] = whys.get(r["why"], 0) + r["count"]
need(whys.get("denied-app", 0) >= len("echo ") + len(denied), "denied keys not counted: %r" % whys)
need(whys.get("password-field", 0) >= len(zpw), "password field keys not redacted as such: %r" % whys)
need(whys.get("keyboard-grab", 0) + whys.get("secure-prompt", 0) >= len(pin),
     "pinentry keys not redacted as secure input: %r" % whys)
for t in ("CREDIT_CARD", "AWS_ACCESS_KEY", "EMAIL", "USER", "HOST"):
    need(t in whys, "no %s redaction: %r" % (t, whys))
for r in reds:
    need(r["sensitivity"] >= 3, "redacted record below level 3: %r" % r)
    if r["why"] in ("password-field", "keyboard-grab", "secure-prompt", "denied-app"):
        need(r["sensitivity"] == 4, "secure/denied redaction not level 4: %r" % r)
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "secure_input ok"
