# server_lib.sh - a real `usetrace serve` on loopback for end-to-end tests,
# and the steps that bring a person and their device to it.  Sourced after
# lib.sh.  Everything goes through the real CLI over HTTPS with the pin.

# Starts a server on a free loopback port with data in $1; sets SRV_URL,
# SRV_PIN, SRV_PID and (first start) ADMIN_TOKEN.
start_server() {
	SRV_DATA=$1
	shift
	SRV_OUT="$E2E_TMP/serve.$(date +%s%N).out"
	"$USETRACE" serve --data "$SRV_DATA" --listen 127.0.0.1:0 "$@" \
		>"$SRV_OUT" 2>>"$E2E_TMP/serve.err" &
	SRV_PID=$!
	E2E_PIDS="$SRV_PID $E2E_PIDS"
	i=0
	until grep -q '^pin ' "$SRV_OUT" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 300 ] && { cat "$E2E_TMP/serve.err" >&2; fail "server did not start"; }
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$E2E_TMP/serve.err" >&2; fail "server exited"; }
		sleep 0.1
	done
	SRV_URL=$(sed -n 's/^url //p' "$SRV_OUT")
	SRV_PIN=$(sed -n 's/^pin //p' "$SRV_OUT")
	tf=$(sed -n 's/^admin-token-file //p' "$SRV_OUT")
	if [ -n "$tf" ]; then ADMIN_TOKEN=$(cat "$tf"); fi
	export SRV_URL SRV_PIN
}

stop_server() {
	kill -TERM "$SRV_PID"
	rc=0
	wait "$SRV_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$E2E_TMP/serve.err" >&2; fail "server exited with $rc"; }
}

# Runs the CLI as the bootstrap admin.
as_admin() {
	USETRACE_SERVER=$SRV_URL USETRACE_PIN=$SRV_PIN USETRACE_TOKEN=$ADMIN_TOKEN \
		"$USETRACE" "$@"
}

# Adds subject $1 and logs them in with key home $2 (their login.json).
add_person() { # name home [role]
	claim=$(as_admin admin principal add "$1" --role "${3:-subject}" | sed -n 's/^claim //p')
	[ -n "$claim" ] || fail "no claim code for $1"
	mkdir -p "$2"
	USETRACE_HOME=$2 "$USETRACE" login "$SRV_URL" --claim "$claim" --pin "$SRV_PIN" \
		>"$E2E_TMP/login.$1.out" || fail "login of $1"
	sed -n 's/^token //p' "$E2E_TMP/login.$1.out"
}

# Enrolls the device whose key home is $1, for the person logged in there.
enroll_here() { # home
	code=$(USETRACE_HOME=$1 "$USETRACE" my enroll-code | sed -n 's/^code //p')
	[ -n "$code" ] || fail "no enrollment code"
	USETRACE_HOME=$1 "$USETRACE" enroll "$SRV_URL" --code "$code" --pin "$SRV_PIN" \
		|| fail "enroll"
}

# Prints the ids of the person's segments (home $1), one per line.
my_segments() { # home
	USETRACE_HOME=$1 "$USETRACE" my list --json >"$E2E_TMP/mylist.json" || fail "my list"
	python3 - "$E2E_TMP/mylist.json" <<'PY'
import json, sys
t = open(sys.argv[1]).read().strip()
try:
    doc = json.loads(t)
    segs = doc["segments"] if isinstance(doc, dict) else doc
except ValueError:
    segs = [json.loads(l) for l in t.splitlines() if l.strip()]
for s in sorted(segs, key=lambda s: s["start_ns"]):
    print(s["id"])
PY
}

# The scene of the agent/server tests: Xvfb, mousepad on $OUT (ready for
# input, $MP), a server, and alice (key home $HOME_A) enrolled on this
# device with her consent given (`usetrace consent` output in
# $E2E_TMP/consent.out).
enrolled_editor() {
	start_x 1280x800x24
	OUT="$E2E_TMP/typed.txt"
	: >"$OUT"
	start_mousepad "$OUT"
	wait_editor_ready "$MP" "#"
	start_server "$E2E_TMP/srv"
	HOME_A="$XDG_CONFIG_HOME/usetrace"
	add_person alice "$HOME_A" >/dev/null
	enroll_here "$HOME_A"
	"$USETRACE" consent --yes >"$E2E_TMP/consent.out" || fail "consent"
}
