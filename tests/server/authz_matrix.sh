#!/bin/sh
# authz_matrix - sets the scene for authz_matrix.py (the authorization
# matrix from a reference table of the test's own, and the insider suite):
# a subject alice with two devices and two segments (one holding a planted
# phrase, assigned to nobody), bob with a device and a segment, reviewers
# rita (assigned alice's other segment) and ron (assigned bob's), a
# trainer, an auditor, the admin, a principal to revoke and a revoked one.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"


# Thousands of requests from one address: lift the per-source rate limit.
echo '{"rate_per_s": 100000, "rate_burst": 100000}' >"$T/config.json"
start_server "$T/data" --config "$T/config.json"
person_with_device alice "$T/alice" "$T/adev"
add_device "$T/alice" "$T/adev2"
SPARE=$DEVICE_ID
person_with_device bob "$T/bob" "$T/bdev"
login_as rita reviewer "$T/rita"
login_as ron reviewer "$T/ron"
login_as tina trainer "$T/tina"
login_as carol auditor "$T/carol"
login_as mallory subject "$T/mallory"
expect_out "^claim " as_admin "$USETRACE" admin principal add zz-throwaway --role subject
# A published policy, so that reading version 1 and the current one is allowed.
expect_out "^policy version 1$" as_admin "$USETRACE" admin policy publish \
	"$SRCDIR/policy/default.yaml"
expect_out "^revoked" as_admin "$USETRACE" admin principal revoke mallory
MARK="ZQX-victim-phrase-4471"
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 1 --seed 1
expect_out "^uploaded 1" as "$T/adev" upload "$T/arec"
A1=$(listed_ids "$T/alice")
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 1 --seed 2 --marker "$MARK"
expect_out "^uploaded 1" as "$T/adev" upload "$T/arec"
A2=$(listed_ids "$T/alice" | grep -v "^$A1$")
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 3
expect_out "^uploaded 1" as "$T/bdev" upload "$T/brec"
B1=$(listed_ids "$T/bob")
# A canary (flow none): its segment is an object nobody may read.
expect_out "^canary " as "$T/carol" audit canary add dee.q --segments 1
expect 0 "" as_admin "$USETRACE" admin segments
CAN=$(cut -d' ' -f1 "$T/out" | grep -v "^$A1$\|^$A2$\|^$B1$")
[ -n "$CAN" ] || fail "no canary segment"
expect_out "^claim " as_admin "$USETRACE" admin principal reissue alice
CLAIM=$(sed -n 's/^claim \([0-9a-f]*\)\..*/\1/p' "$T/out")
expect_out "^assigned " as_admin "$USETRACE" admin assign "$A1" rita
RA=$(sed -n 's/^assigned //p' "$T/out")
expect_out "^assigned " as_admin "$USETRACE" admin assign "$B1" ron
RX=$(sed -n 's/^assigned //p' "$T/out")

python3 - "$T" "$SRV_URL" "$SRV_PIN" "$ADMIN_TOKEN" "$A1" "$A2" "$B1" "$RA" "$RX" \
	"$SPARE" "$MARK" "$CLAIM" "$CAN" >"$T/scene.json" <<'PY'
import json, sys
t, url, pin, admin, a1, a2, b1, ra, rx, spare, mark, claim, can = sys.argv[1:]
tok = lambda h: json.load(open("%s/%s/login.json" % (t, h)))["token"]
dev = json.load(open("%s/adev/device.json" % t))
bdev = json.load(open("%s/bdev/device.json" % t))
callers = {n: {"role": r, "token": tok(n), "audit_name": n} for n, r in
           [("alice", "subject"), ("bob", "subject"), ("rita", "reviewer"),
            ("ron", "reviewer"), ("tina", "trainer"), ("carol", "auditor")]}
callers["admin"] = {"role": "admin", "token": admin, "audit_name": "admin"}
callers["alice-laptop"] = {"role": "device", "token": dev["device_token"],
                           "audit_name": "device:%d" % dev["device_id"]}
json.dump({"url": url, "pin": pin, "meta_db": t + "/data/meta.db", "marker": mark,
           "revoked_token": tok("mallory"), "callers": callers,
           "objects": {"alice_segment": a1, "alice_unassigned": a2, "bob_segment": b1,
                       "rita_assignment": ra, "ron_assignment": rx,
                       "alice_spare_device": spare,
                       "bob_device": str(bdev["device_id"]),
                       "alice_claim": claim, "canary_segment": can,
                       "throwaway": "zz-throwaway"}}, sys.stdout)
PY
python3 "$SRCDIR/tests/server/authz_matrix.py" "$T/scene.json" || fail "the matrix"
# The server is still whole: alice reads her segment, the log verifies.
expect 0 "" as "$T/alice" my show "$A1" --json
kill -TERM "$SRV_PID"
wait "$SRV_PID" || fail "the server did not exit cleanly"
expect_out "^audit ok" "$USETRACE" audit verify --data "$T/data"
echo "authz_matrix (scene): ok"
