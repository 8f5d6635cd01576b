# lib.sh - shared setup for end-to-end tests: a private Xvfb display with a
# window manager, real applications, and cleanup of every process we start.
# Sourced by tests/e2e/*.sh.  Needs: Xvfb, openbox, xdotool, python3.
set -eu

: "${USETRACE:?USETRACE must point at the usetrace binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"
E2E_TMP=$(mktemp -d /tmp/ut-e2e.XXXXXX)
E2E_PIDS=""
export LC_ALL=C.UTF-8
export NO_AT_BRIDGE=1
# Applications keep no state between tests (mousepad's session restore).
export GSETTINGS_BACKEND=memory
export XDG_CONFIG_HOME="$E2E_TMP/config" XDG_DATA_HOME="$E2E_TMP/data"
export XDG_CACHE_HOME="$E2E_TMP/cache" XDG_STATE_HOME="$E2E_TMP/state"
export XDG_RUNTIME_DIR="$E2E_TMP/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# Recordings are encrypted (docs/KEYS.md): the first `record` creates the
# person's recipient key pair under $XDG_CONFIG_HOME/usetrace with this
# passphrase, and `show` unlocks it with the same file.
printf 'e2e passphrase\n' >"$E2E_TMP/passphrase"
export USETRACE_PASSPHRASE_FILE="$E2E_TMP/passphrase"
# The person's consent to the default policy; tests of consent itself
# withdraw or replace it.
"$USETRACE" consent --yes >/dev/null 2>&1 || true

e2e_cleanup() {
	for p in $E2E_PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $E2E_PIDS; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

bg() {
	"$@" &
	E2E_PIDS="$! $E2E_PIDS"
	LAST_PID=$!
}

# Starts Xvfb on a free display and openbox; exports DISPLAY.
start_x() {
	geom=${1:-1280x800x24}
	n=$(( 100 + $$ % 400 ))
	while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
	Xvfb ":$n" -screen 0 "$geom" -noreset -nolisten tcp >"$E2E_TMP/xvfb.log" 2>&1 &
	LAST_PID=$!
	E2E_PIDS="$LAST_PID $E2E_PIDS"
	XVFB_PID=$LAST_PID
	export DISPLAY=":$n"
	i=0
	until xdpyinfo >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "Xvfb did not start"
		sleep 0.1
	done
	openbox --sm-disable >"$E2E_TMP/openbox.log" 2>&1 &
	E2E_PIDS="$! $E2E_PIDS"
	i=0
	until xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id'; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "openbox did not start"
		sleep 0.1
	done
}

# Waits for a window whose name matches $1; prints its id.
wait_window() {
	i=0
	while :; do
		w=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -1 || true)
		[ -n "$w" ] && { echo "$w"; return 0; }
		i=$((i + 1)); [ $i -gt 150 ] && fail "window '$1' did not appear"
		sleep 0.1
	done
}

# Starts mousepad on the given file (killed at exit) and waits for its
# window; sets MP to the window id.
start_mousepad() {
	mousepad "$@" >/dev/null 2>&1 &
	E2E_PIDS="$! $E2E_PIDS"
	MP=$(wait_window Mousepad)
}

# Starts `usetrace record --out $1 [options]` and waits until it is
# recording; with --no-wait (first option) only until the agent answers.
start_record() {
	REC_DIR=$1
	shift
	nowait=0
	if [ "${1:-}" = "--no-wait" ]; then nowait=1; shift; fi
	REC_LOG="$E2E_TMP/record.$$.$(date +%s%N).log"
	"$USETRACE" record --out "$REC_DIR" "$@" 2>"$REC_LOG" &
	REC_PID=$!
	E2E_PIDS="$REC_PID $E2E_PIDS"
	if [ $nowait -eq 1 ]; then
		wait_agent
		return 0
	fi
	i=0
	until grep -q "recording display" "$REC_LOG" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 150 ] && { cat "$REC_LOG" >&2 || true; fail "recorder did not start"; }
		kill -0 "$REC_PID" 2>/dev/null || { cat "$REC_LOG" >&2; fail "recorder exited early"; }
		sleep 0.1
	done
}

# Waits until the agent answers on its control socket.
wait_agent() {
	i=0
	while :; do
		out=$("$USETRACE" status 2>&1 || true)
		case "$out" in
		"" | *"no usetrace agent is running"* | *"cannot reach the agent"*) ;;
		*) return 0 ;;
		esac
		i=$((i + 1)); [ $i -gt 100 ] && fail "agent does not answer"
		kill -0 "$REC_PID" 2>/dev/null || { cat "$REC_LOG" >&2; fail "recorder exited early"; }
		sleep 0.1
	done
}

stop_record() {
	kill -INT "$REC_PID"
	rc=0
	wait "$REC_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$REC_LOG" >&2; fail "recorder exited with $rc"; }
	check_keys_agree "$REC_DIR"
}

# The privacy filter and the action reducer agree, on every key press of
# the recording, whether it is typing (issue 16; tests/tools/ut_keyagree.c).
# Exit 1 is a disagreement; a recording it cannot read is only reported.
check_keys_agree() { # dir
	[ -n "${UT_KEYAGREE:-}" ] && [ -d "$1" ] || return 0
	ka=0
	"$UT_KEYAGREE" "$1" >"$E2E_TMP/keyagree.out" 2>&1 || ka=$?
	[ "$ka" -eq 1 ] && { cat "$E2E_TMP/keyagree.out" >&2; fail "the filter and the reducer disagree on typing"; }
	[ "$ka" -eq 0 ] || echo "check_keys_agree: cannot read $1 (exit $ka):" >&2
	cat "$E2E_TMP/keyagree.out" >&2
}

# Polls `usetrace status` until its output matches $1; fails with $2 after
# WAIT_STATUS_MAX tries (default 300, about 30 s): a bound on waiting for a
# state that should come, not a timing assertion.
wait_status() { # regex what
	i=0
	until "$USETRACE" status >"$E2E_TMP/st" 2>&1; grep -q "$1" "$E2E_TMP/st"; do
		i=$((i + 1)); [ $i -gt "${WAIT_STATUS_MAX:-300}" ] && { cat "$E2E_TMP/st"; fail "$2"; }
		sleep 0.1
	done
}

# xdotool with a settle delay so the server has processed everything.
xdo() {
	xdotool "$@"
	sleep 0.05
}

# Makes sure an editor window really takes keyboard input before a test
# relies on it: types a probe character and waits for the title's
# "modified" star.  Prints nothing; the probe stays in the document.
wait_editor_ready() { # window probe
	xdotool windowactivate --sync "$1"
	i=0
	xdotool type "$2"
	until xdotool getwindowname "$1" | grep -q '^\*'; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "editor never took input"
		sleep 0.05
	done
}

# Turns the accessibility bus on in this D-Bus session (the test runs under
# dbus-run-session) and lets applications started afterwards use it (this
# file turns it off by default).  No bus, no test: fail, never skip.
start_a11y() {
	unset NO_AT_BRIDGE
	export GTK_A11Y=atspi
	ADDR=$(dbus-send --session --print-reply=literal --dest=org.a11y.Bus \
		/org/a11y/bus org.a11y.Bus.GetAddress 2>&1) || fail "no accessibility bus: $ADDR"
	case "$ADDR" in *unix:*) ;; *) fail "accessibility bus address '$ADDR'" ;; esac
	dbus-send --session --print-reply --dest=org.a11y.Bus /org/a11y/bus \
		org.freedesktop.DBus.Properties.Set string:org.a11y.Status \
		string:IsEnabled variant:boolean:true >/dev/null 2>&1 || fail "cannot enable accessibility"
}
