#!/bin/sh
# record_signals - `usetrace record` ends the same way on SIGTERM, SIGHUP
# (its terminal closed) and SIGINT: exit 0, an END record last, no segment
# left open, the control socket removed.  And Ctrl-C at the passphrase
# prompt (under `script`, a real terminal) leaves the terminal echoing.
. "$(dirname "$0")/lib.sh"

start_x 1280x800x24
xterm -title ut-sig >/dev/null 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
W=$(wait_window ut-sig)
SOCK="$XDG_RUNTIME_DIR/usetrace/agent.sock"

for sig in TERM HUP INT; do
	D="$E2E_TMP/rec-$sig"
	start_record "$D"
	xdo windowactivate --sync "$W"
	xdo type --delay 20 "signal $sig"
	[ -S "$SOCK" ] || fail "$sig: no control socket while recording"
	kill -"$sig" "$REC_PID"
	rc=0
	wait "$REC_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$REC_LOG" >&2; fail "SIG$sig: exit $rc"; }
	[ ! -e "$SOCK" ] || fail "SIG$sig: control socket left behind"
	ls "$D" | grep -q '\.open' && { ls -l "$D" >&2; fail "SIG$sig: a segment left open"; }
	"$USETRACE" show "$D" --raw >"$E2E_TMP/$sig.jsonl" || fail "SIG$sig: unreadable"
	tail -1 "$E2E_TMP/$sig.jsonl" | grep -q '"type":"end"' ||
	    { tail -3 "$E2E_TMP/$sig.jsonl" >&2; fail "SIG$sig: no END record last"; }
	"$USETRACE" show "$D" --json | grep -q "\"text\":\"signal $sig\"" ||
	    fail "SIG$sig: typed text lost"
done

# Ctrl-C at the passphrase prompt: a fresh key home (the prompt asks for a
# new passphrase), a terminal from `script`; after the interrupt, stty in
# the same terminal must show echo on.
unset USETRACE_PASSPHRASE_FILE
export XDG_CONFIG_HOME="$E2E_TMP/config-tty"
"$USETRACE" consent --yes >/dev/null 2>&1 || true
cat >"$E2E_TMP/prompt_ctrl_c.py" <<'PY'
import os, pty, sys, time, select

usetrace, out = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    # In the child's terminal: record (prompts), then report the echo flag.
    os.execvp("sh", ["sh", "-c",
        # (the shell survives the Ctrl-C: a handler, not an ignore, so
        # record gets the default action)
        'trap : INT; "$0" record --out "$1"; stty -a | tr " " "\\n" | grep -x -e echo -e -echo',
        usetrace, out])
buf = b""
def read_until(pat, t):
    global buf
    end = time.time() + t
    while pat not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return pat in buf
if not read_until(b"assphrase", 60):
    print("FAIL: no passphrase prompt:", buf.decode(errors="replace")); sys.exit(1)
time.sleep(0.5)
os.write(fd, b"secr")
time.sleep(0.2)
os.write(fd, b"\x03")   # Ctrl-C, through the terminal's line discipline
read_until(b"echo\r\n", 30)
os.waitpid(pid, 0)
text = buf.decode(errors="replace")
if "secr" in text:
    print("FAIL: the passphrase was echoed:", text); sys.exit(1)
lines = [l.strip() for l in text.splitlines()]
if "-echo" in lines:
    print("FAIL: echo left off after Ctrl-C at the prompt"); sys.exit(1)
if "echo" not in lines:
    print("FAIL: no stty answer:", text); sys.exit(1)
print("tty ok")
PY
python3 "$E2E_TMP/prompt_ctrl_c.py" "$USETRACE" "$E2E_TMP/rec-tty" || fail "passphrase prompt"
echo "record_signals ok"
