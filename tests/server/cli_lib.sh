# cli_lib.sh - shared setup for the CLI's server tests (tests/server/cli_*.sh):
# a private temporary directory, a clean environment (no saved login, no
# USETRACE_* settings leaking in), `expect` helpers, and a real
# `usetrace serve` on loopback.  No X server is needed.
set -eu

: "${USETRACE:?USETRACE must point at the usetrace binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"
T=$(mktemp -d /tmp/ut-cli.XXXXXX)
T_PIDS=""
export LC_ALL=C.UTF-8
unset USETRACE_SERVER USETRACE_TOKEN USETRACE_PIN USETRACE_PASSPHRASE_FILE
export USETRACE_HOME="$T/home"
export XDG_CONFIG_HOME="$T/config"
mkdir -p "$USETRACE_HOME" && chmod 700 "$USETRACE_HOME"

t_cleanup() {
	for p in $T_PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $T_PIDS; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap t_cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect STATUS PATTERN command...: the command exits STATUS and its stderr
# matches PATTERN (grep -E; "" matches anything).  Output in $T/out, $T/err.
expect() {
	want=$1; pat=$2; shift 2
	rc=0
	"$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $rc, want $want"; }
	[ -z "$pat" ] || grep -Eq -- "$pat" "$T/err" ||
		{ cat "$T/err" >&2; fail "'$*': no message matching '$pat'"; }
}

# expect_out PATTERN command...: exits 0 and stdout matches PATTERN.
expect_out() {
	pat=$1; shift
	expect 0 "" "$@"
	grep -Eq -- "$pat" "$T/out" || { cat "$T/out" >&2; fail "'$*': no output matching '$pat'"; }
}

# Starts `usetrace serve` with data in $1 on a free loopback port; sets
# SRV_URL, SRV_PIN, SRV_PID and ADMIN_TOKEN (the bootstrap admin's token,
# from admin-token-file).
start_server() { # DIR [serve options...]
	sdir=$1
	shift
	# Removed first: the shell truncates it only in the child, after `&`,
	# so a reused file could show the last start's lines to the wait.
	rm -f "$T/serve.out"
	"$USETRACE" serve --data "$sdir" --listen 127.0.0.1:0 "$@" >"$T/serve.out" 2>"$T/serve.err" &
	SRV_PID=$!
	T_PIDS="$SRV_PID $T_PIDS"
	i=0
	until grep -q '^admin-token-file ' "$T/serve.out" 2>/dev/null &&
	    grep -q '^pin ' "$T/serve.out" && grep -q '^url ' "$T/serve.out"; do
		i=$((i + 1)); [ $i -gt 300 ] && { cat "$T/serve.err" >&2; fail "server did not start"; }
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$T/serve.err" >&2; fail "server exited"; }
		sleep 0.1
	done
	SRV_URL=$(sed -n 's/^url //p' "$T/serve.out")
	SRV_PIN=$(sed -n 's/^pin //p' "$T/serve.out")
	ADMIN_TOKEN=$(cat "$(sed -n 's/^admin-token-file //p' "$T/serve.out")")
	[ -n "$SRV_URL" ] && [ -n "$SRV_PIN" ] && [ -n "$ADMIN_TOKEN" ] ||
		fail "serve printed no url, pin or admin token"
}

# Runs the CLI as the bootstrap admin (settings from the environment).
as_admin() {
	USETRACE_SERVER=$SRV_URL USETRACE_PIN=$SRV_PIN USETRACE_TOKEN=$ADMIN_TOKEN \
		USETRACE_HOME="$T/adminhome" "$@"
}

# stop_server: SIGTERM, and a clean exit is required.
stop_server() {
	kill -TERM "$SRV_PID"
	wait "$SRV_PID" || fail "the server did not exit cleanly"
}

# start_again DIR [serve options...]: serve DIR again on the address it had
# (device.json files name it); output in a fresh $T/serve.N.out / .err.
start_again() {
	rdir=$1
	shift
	SRV_RESTARTS=$((${SRV_RESTARTS:-0} + 1))
	rout="$T/serve.$SRV_RESTARTS.out"
	"$USETRACE" serve --data "$rdir" --listen "${SRV_URL#https://}" "$@" \
		>"$rout" 2>"$T/serve.$SRV_RESTARTS.err" &
	SRV_PID=$!
	T_PIDS="$SRV_PID $T_PIDS"
	i=0
	until grep -q '^pin ' "$rout" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 300 ] && { cat "$T/serve.$SRV_RESTARTS.err" >&2; fail "no restart"; }
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$T/serve.$SRV_RESTARTS.err" >&2; fail "the restart exited"; }
		sleep 0.1
	done
	SRV_URL=$(sed -n 's/^url //p' "$rout")
}

# restart_server DIR [serve options...]: stop_server, then start_again.
restart_server() {
	stop_server
	start_again "$@"
}
