#!/bin/sh
# record_settings - the double-click interval comes from XSETTINGS
# (Net/DoubleClickTime, served by xsettingsd) and is used by the action
# reduction; and the spool's disk budget: when it is reached capture
# pauses, `usetrace status` says "spool full", and everything acknowledged
# stays readable.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
cat >"$E2E_TMP/xsettingsd.conf" <<'C'
Net/DoubleClickTime 900
Net/DoubleClickDistance 10
C
xsettingsd -c "$E2E_TMP/xsettingsd.conf" >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
# xsettingsd owns the _XSETTINGS_S0 selection once it has started.
sleep 1.5
kill -0 "${E2E_PIDS%% *}" || fail "xsettingsd did not start"

start_record "$E2E_TMP/rec"
# Two clicks 600 ms apart and 8 px apart: one double click under these
# settings (the defaults, 400 ms / 4 px, would make two clicks).
xdo mousemove 400 400 click 1
sleep 0.6
xdo mousemove 408 400 click 1
sleep 1.2
stop_record
"$USETRACE" show "$E2E_TMP/rec" --raw | grep -q '"double_click_ms":900,"double_click_px":10' ||
	fail "XSETTINGS not recorded"
n=$("$USETRACE" show "$E2E_TMP/rec" --json | grep -c '"action":"double_click"' || true)
[ "$n" -eq 1 ] || { "$USETRACE" show "$E2E_TMP/rec"; fail "expected one double click, got $n"; }

# Disk budget: 20 KB.
start_record "$E2E_TMP/full" --spool-budget 20000
python3 -c '
import random
random.seed(3)
for i in range(20000):
    print("mousemove %d %d" % (random.randrange(1280), random.randrange(800)))
' >"$E2E_TMP/moves"
xdotool "$E2E_TMP/moves"
sleep 1
"$USETRACE" status >"$E2E_TMP/st" || true
grep -q "spool full, not recording" "$E2E_TMP/st" || { cat "$E2E_TMP/st" "$REC_LOG"; fail "status does not say spool full"; }
stop_record
"$USETRACE" show "$E2E_TMP/full" --raw >"$E2E_TMP/full.jsonl" || fail "full spool unreadable"
n=$(grep -c '"type":"motion"' "$E2E_TMP/full.jsonl" || true)
[ "$n" -gt 100 ] || fail "only $n motions kept before the budget"
bytes=$(cat "$E2E_TMP/full"/seg-* | wc -c)
[ "$bytes" -le 20000 ] || fail "spool grew to $bytes bytes past its 20000-byte budget"
"$USETRACE" spool check "$E2E_TMP/full" >/dev/null || fail "spool check after full"
echo "record_settings ok ($n motions kept, $bytes bytes)"
