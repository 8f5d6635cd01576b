#!/bin/sh
# org_pause_many - an organisation-wide pause reaches 200 simulated agents
# long-polling GET /v1/device/control (tests/tools/ut-pollers, one libcurl
# multi loop, devices enrolled for one person): every one of them sees the
# pause and acknowledges it, and `admin pause-status` then counts every
# device as having acked.  The polls wait 60 s and the pollers give up 45 s
# after they are ready: a pause that did not wake the parked polls fails
# (the bound is loose on purpose: it tells "woken" from "never woken", not
# fast from slow).  It also fails if the server refuses the connections
# (connection and descriptor limits) or a pause is never acked.
. "$(dirname "$0")/cli_lib.sh"
: "${UT_POLLERS:?UT_POLLERS must point at the ut-pollers tool}"
N=200

cat >"$T/serve.json" <<JSON
{"max_connections": 1024, "max_connections_per_ip": 1024,
 "rate_per_s": 100000, "rate_burst": 100000}
JSON
start_server "$T/data" --config "$T/serve.json"
expect_out "^claim " as_admin "$USETRACE" admin principal add alice --role subject
mkdir -p "$T/alice" && chmod 700 "$T/alice"
expect_out "^token " env USETRACE_HOME="$T/alice" "$USETRACE" login "$SRV_URL" \
	--claim "$(sed -n 's/^claim //p' "$T/out")" --pin "$SRV_PIN"
PTOK=$(sed -n 's/^token //p' "$T/out")

"$UT_POLLERS" --url "$SRV_URL" --pin "$SRV_PIN" --token "$PTOK" --agents $N \
	--wait 60 --timeout 240 --pause-timeout 45 >"$T/pollers.out" 2>"$T/pollers.err" &
PP=$!
T_PIDS="$PP $T_PIDS"
i=0
until grep -q "^ready $N$" "$T/pollers.out" 2>/dev/null; do
	kill -0 "$PP" 2>/dev/null || { cat "$T/pollers.err" >&2; fail "ut-pollers exited"; }
	i=$((i + 1)); [ $i -gt 3000 ] && fail "the pollers never became ready"
	sleep 0.1
done

# Before the pause: all devices acked the first state, nobody is paused.
expect_out "^paused no$" as_admin "$USETRACE" admin pause-status
grep -q "^acks $N/$N$" "$T/out" || { cat "$T/out" >&2; fail "not every device acked the first state"; }

expect_out "^paused until " as_admin "$USETRACE" admin pause 10m
wait "$PP" || { cat "$T/pollers.out" "$T/pollers.err" >&2; fail "not every agent acked the pause"; }
grep -q "^acked $N/$N$" "$T/pollers.out" || { cat "$T/pollers.out" >&2; fail "acked count"; }
cat "$T/pollers.out"

expect_out "^paused yes until " as_admin "$USETRACE" admin pause-status
grep -q "^acks $N/$N$" "$T/out" || { cat "$T/out" >&2; fail "pause-status does not count every ack"; }
# A state change nobody acked yet: acks drop to 0 of N.
expect_out "^resumed$" as_admin "$USETRACE" admin resume
expect_out "^paused no$" as_admin "$USETRACE" admin pause-status
grep -q "^acks 0/$N$" "$T/out" || { cat "$T/out" >&2; fail "acks of an older state were counted"; }
echo "org_pause_many: ok"
