#!/bin/sh
# typed_secrets - PRIV-P4-3 and PRIV-P5-1 end to end: a card number, an
# AWS access key and an e-mail address typed into a real editor
# (mousepad) are in no record of the recording (every record read back
# and decrypted), and no stored frame shows them: every frame is
# reassembled and read with OCR (tesseract), and none of the secrets is
# readable in any of them.  A control phrase typed first, in the same
# editor and font, must be readable in some frame: the OCR really reads
# this screen, so its silence on the secrets means something.
#
# Without an argument the editor is not reachable through AT-SPI and the
# whole window is blacked.  With `atspi` the test runs in its own D-Bus
# session with the accessibility bus (failing, never skipping, without it)
# and only the secrets' text extents may be black: words typed after them
# must then be readable in a later frame.
MODE=${1:-window}
if [ "$MODE" = atspi ] && [ -z "${UT_E2E_DBUS:-}" ]; then
	command -v dbus-run-session >/dev/null || { echo "FAIL: dbus-run-session missing" >&2; exit 1; }
	UT_E2E_DBUS=1 exec dbus-run-session -- "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

command -v tesseract >/dev/null || fail "tesseract is not installed (scripts/deps.sh)"
start_x 1280x800x24
[ "$MODE" = atspi ] && start_a11y
cat >"$E2E_TMP/p.yaml" <<'Y'
version: 1
collect: [keys, text, pointer, apps, titles, frames]
frames:
  fps: 2
Y
"$USETRACE" consent --yes --policy "$E2E_TMP/p.yaml" >/dev/null
start_mousepad "$E2E_TMP/notes.txt"
xdotool windowmove --sync "$MP" 40 60 windowsize --sync "$MP" 900 500
wait_editor_ready "$MP" "#"
xdotool key --clearmodifiers ctrl+a BackSpace
sleep 0.3

CARD="4539 1488 0343 6467"
AWS="AKIAZ7QH3K5N2P4RWX6Y"
MAIL="jane.doe@example.com"

start_record "$E2E_TMP/rec" --policy "$E2E_TMP/p.yaml"
xdo windowactivate --sync "$MP"
xdo type --delay 30 "Quarterly planning meeting notes"
xdo key Return
sleep 2.5 # the burst ends; frames show the control phrase
xdo type --delay 30 "card $CARD"
xdo key Return
xdo type --delay 30 "aws $AWS"
xdo key Return
xdo type --delay 30 "mail $MAIL"
xdo key Return
sleep 2.5 # the burst ends and is scanned
xdo type --delay 30 "Afterwards plain words"
sleep 1
# The window moves and grows: the blackout follows it (capture looks the
# window up at every grab).
xdotool windowmove --sync "$MP" 100 90 windowsize --sync "$MP" 920 520
sleep 1.5
stop_record

# 1. Every record, decrypted: no secret, whole or in part.
"$USETRACE" show "$E2E_TMP/rec" --raw >"$E2E_TMP/raw.jsonl" || fail "show --raw"
python3 - "$E2E_TMP/raw.jsonl" "$CARD" "$AWS" "$MAIL" <<'PY' || fail "a secret is in a record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
blob = open(sys.argv[1]).read()
typed = "".join(r.get("text", "") for r in recs if r.get("type") == "key")
card, aws, mail = sys.argv[2].replace(" ", ""), sys.argv[3], sys.argv[4]
bad = []
for s in (sys.argv[2], card, aws, mail, aws[:8], mail.split("@")[0]):
    if s in blob or s in typed:
        bad.append(s[:4] + "...")
digits = "".join(c for c in typed if c.isdigit())
if any(card[i:i + 6] in digits for i in range(len(card) - 5)):
    bad.append("card digits in the key log")
red = {r.get("why") for r in recs if r.get("type") == "redacted"}
for why in ("CREDIT_CARD", "AWS_ACCESS_KEY", "EMAIL"):
    if why not in red:
        bad.append("no REDACTED record for " + why)
if "Quarterly" not in typed:
    bad.append("the control phrase is missing from the key log")
if bad:
    print("FAIL:", bad); sys.exit(1)
print("records: no secret in %d records" % len(recs))
PY

# 2. Every stored frame, read with OCR.
"$USETRACE" frames "$E2E_TMP/rec" --out "$E2E_TMP/fr" >"$E2E_TMP/list" || fail "frames"
n=$(wc -l <"$E2E_TMP/list")
[ "$n" -ge 4 ] || fail "too few frames: $n"
: >"$E2E_TMP/ocr.txt"
# A frame byte-identical to one already read says nothing new: OCR each
# distinct frame once (most of a typing session's frames repeat while the
# screen waits).  One OCR thread: OpenMP's spinning threads only slow
# tesseract down on a shared two-core machine.
: >"$E2E_TMP/seen"
export OMP_THREAD_LIMIT=1
while read -r f; do
	h=$(sha256sum <"$f" | cut -c1-64)
	grep -qx "$h" "$E2E_TMP/seen" && continue
	echo "$h" >>"$E2E_TMP/seen"
	# The editor's part of the screen, enlarged: tesseract reads small
	# screen fonts far better at 3x.
	convert "$f" -crop 1020x600+20+40 +repage -resize 300% "$f.ocr.png" ||
	    fail "convert $f"
	printf '=== %s\n' "$f" >>"$E2E_TMP/ocr.txt"
	tesseract "$f.ocr.png" - --psm 6 2>/dev/null >>"$E2E_TMP/ocr.txt" ||
	    fail "tesseract failed on $f"
done <"$E2E_TMP/list"
if [ "$MODE" = atspi ]; then
	grep -q "watching password fields (AT-SPI)" "$REC_LOG" || fail "the agent does not use AT-SPI"
fi
python3 - "$E2E_TMP/ocr.txt" "$CARD" "$AWS" "$MAIL" "$MODE" <<'PY' || fail "a secret is readable in a frame"
import re, sys
text = open(sys.argv[1]).read()
mode = sys.argv[5]
frames = re.split(r"^=== .*$", text, flags=re.M)[1:]
card, aws, mail = sys.argv[2].replace(" ", ""), sys.argv[3], sys.argv[4]
def norm(s):
    return re.sub(r"\s+", "", s).lower()
control = 0
bad = []
for i, t in enumerate(frames):
    n = norm(t)
    d = re.sub(r"\D", "", t)
    if "quarterly" in n or "planning" in n:
        control += 1
    if any(card[k:k + 6] in d for k in range(len(card) - 5)):
        bad.append("frame %d: card digits" % i)
    if any(aws[k:k + 6].lower() in n for k in range(len(aws) - 5)):
        bad.append("frame %d: AWS key" % i)
    if "jane" in n or "doe@" in n or "example.com" in n:
        bad.append("frame %d: e-mail" % i)
if control == 0:
    print("FAIL: OCR did not read the control phrase in any frame"); sys.exit(1)
# Typed after the secrets, on the next line: readable only when just the
# secrets' extents are black (AT-SPI), never with the whole window black.
after = sum("afterwards" in norm(t) for t in frames)
if mode == "atspi" and after == 0:
    print("FAIL: with AT-SPI the text after the secrets should stay readable"); sys.exit(1)
if mode != "atspi" and after > 0:
    print("FAIL: the window should be black after the secrets"); sys.exit(1)
if bad:
    print("FAIL:", bad); sys.exit(1)
print("ocr (%s): %d distinct frames, control phrase read in %d, text after the secrets in %d, no secret readable" % (mode, len(frames), control, after))
PY
echo ok
