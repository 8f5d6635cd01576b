#!/bin/sh
# record_tamper - what `spool check` and `show` say about a real recording
# that was damaged, with the exit code to match (issue 17):
#   a crash's torn tail          -> a warning, exit 0, every intact record
#   a flipped byte in the first
#   frame of an open segment     -> "corrupt", exit 1 (not a torn tail)
#   bytes after a trailer        -> one report "bytes after its trailer", exit 1
#   a closed segment cut short   -> one report "cut short", exit 1
#   a segment deleted            -> "the segment before it is missing", exit 1
#   another device's segment     -> "segment signed by another device: KEY"
#                                   from show (own segments still shown)
#                                   and from record
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
REC="$E2E_TMP/rec"
session() { # clicks at x = $1..; each session is one closed segment
	start_record "$REC"
	for x in "$@"; do xdo mousemove "$x" 300 click 1; done
	sleep 0.5
	stop_record
}
session 101 102
session 201 202
session 301 302
"$USETRACE" spool check "$REC" >"$E2E_TMP/check" || { cat "$E2E_TMP/check" >&2; fail "spool check of an intact recording"; }
grep -q "link=" "$E2E_TMP/check" && fail "an intact recording has a broken link"

presses() { # raw JSON file -> button-1 press x coordinates, space separated
	python3 -c 'import json,sys
print(" ".join(str(r["x"]) for r in map(json.loads, open(sys.argv[1]))
    if r["type"] == "button" and r.get("down") and r.get("button") == 1))' "$1"
}
show_case() { # want-status pattern dir: runs show --raw, checks status and stderr
	rc=0
	"$USETRACE" show --raw "$3" >"$E2E_TMP/raw" 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" -eq "$1" ] || { cat "$E2E_TMP/err" >&2; fail "show $3 exited $rc, want $1"; }
	[ -z "$2" ] || grep -q "$2" "$E2E_TMP/err" || { cat "$E2E_TMP/err" >&2; fail "show $3: no '$2'"; }
	grep -q "skipping" "$E2E_TMP/err" && { cat "$E2E_TMP/err" >&2; fail "show $3: the old vague message"; }
	return 0
}
check_case() { # want-status pattern dir
	rc=0
	"$USETRACE" spool check "$3" >"$E2E_TMP/check" 2>&1 || rc=$?
	[ "$rc" -eq "$1" ] || { cat "$E2E_TMP/check" >&2; fail "spool check $3 exited $rc, want $1"; }
	[ -z "$2" ] || grep -q "$2" "$E2E_TMP/check" || { cat "$E2E_TMP/check" >&2; fail "spool check $3: no '$2'"; }
	return 0
}
copy() { rm -rf "$E2E_TMP/c"; cp -a "$REC" "$E2E_TMP/c"; }
S1=seg-00000001.uts

# Bytes after a trailer: one report, records before it shown, exit 1.
copy; printf 'junk' >>"$E2E_TMP/c/$S1"
check_case 1 'error="bytes after its trailer"' "$E2E_TMP/c"
show_case 1 "seg-00000001.uts: bytes after its trailer" "$E2E_TMP/c"
[ "$(grep -c 'show: .*seg-' "$E2E_TMP/err")" = 1 ] || { cat "$E2E_TMP/err" >&2; fail "not one report"; }
[ "$(presses "$E2E_TMP/raw")" = "101 102 201 202 301 302" ] || fail "records around the bad segment: $(presses "$E2E_TMP/raw")"

# A closed segment cut short.
copy; python3 -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"wb").write(d[:-50])' "$E2E_TMP/c/$S1"
check_case 1 'cut short' "$E2E_TMP/c"
show_case 1 "seg-00000001.uts: closed segment cut short" "$E2E_TMP/c"

# A deleted segment (not the newest).
copy; rm "$E2E_TMP/c/seg-00000002.uts"
check_case 1 'seg-00000003.uts .*link="the segment before it is missing"' "$E2E_TMP/c"
show_case 1 "seg-00000003.uts: broken chain of segments: the segment before it is missing" "$E2E_TMP/c"
[ "$(presses "$E2E_TMP/raw")" = "101 102 301 302" ] || fail "after a deleted segment: $(presses "$E2E_TMP/raw")"

# An open segment of a recorder killed while recording.
OPEN="$E2E_TMP/open"
start_record "$OPEN"
for x in 401 402 403; do xdo mousemove "$x" 300 click 1; sleep 0.3; done
sleep 0.6
kill -9 "$REC_PID"; wait "$REC_PID" 2>/dev/null || true
O=$(ls "$OPEN" | grep '\.uts\.open$' | head -1)
[ -n "$O" ] || fail "no open segment after SIGKILL"
# ... with a torn tail (half a commit more): a warning, exit 0.
rm -rf "$E2E_TMP/t"; cp -a "$OPEN" "$E2E_TMP/t"
python3 -c 'import sys; p=sys.argv[1]; d=open(p,"ab"); d.write(bytes([1,200,0,0,0]) + b"x"*40)' "$E2E_TMP/t/$O"
check_case 0 'torn_tail=' "$E2E_TMP/t"
show_case 0 "not closed cleanly" "$E2E_TMP/t"
[ "$(presses "$E2E_TMP/raw")" = "401 402 403" ] || fail "torn tail: $(presses "$E2E_TMP/raw")"
# ... with a flipped byte inside its first frame: corrupt, exit 1.
rm -rf "$E2E_TMP/f"; cp -a "$OPEN" "$E2E_TMP/f"
python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read())
hl = int.from_bytes(d[12:16], "little"); d[hl + 5 + 9] ^= 0x20
open(p,"wb").write(d)' "$E2E_TMP/f/$O"
check_case 1 'corrupt .*error="corrupt after its verified part"' "$E2E_TMP/f"
show_case 1 "$O: corrupt after its verified part" "$E2E_TMP/f"

# Another device's segment in front of this device's own.
OTHER="$E2E_TMP/other"
XDG_CONFIG_HOME="$E2E_TMP/config2" "$USETRACE" consent --yes >/dev/null 2>&1 || true
REC_SAVE=$REC
REC="$OTHER"
XDG_CONFIG_HOME="$E2E_TMP/config2" session 501
REC=$REC_SAVE
copy; cp "$OTHER/$S1" "$E2E_TMP/c/$S1"
show_case 1 "seg-00000001.uts: segment signed by another device: " "$E2E_TMP/c"
[ "$(presses "$E2E_TMP/raw")" = "201 202 301 302" ] || fail "own segments after a foreign one: $(presses "$E2E_TMP/raw")"
grep -q "permission denied" "$E2E_TMP/err" && fail "show says permission denied"
check_case 1 'segment signed by another device: ' "$E2E_TMP/c"
# record into a spool whose newest segment is another device's.
cp "$OTHER/$S1" "$E2E_TMP/c/seg-00000004.uts"
rc=0
timeout 60 "$USETRACE" record --out "$E2E_TMP/c" >/dev/null 2>"$E2E_TMP/err" || rc=$?
[ "$rc" -ne 0 ] || fail "record into another device's spool exited 0"
grep -q "segment signed by another device: " "$E2E_TMP/err" || { cat "$E2E_TMP/err" >&2; fail "record: no message naming another device"; }
echo "ok: every damage reported as what it is"
