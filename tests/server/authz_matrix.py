#!/usr/bin/env python3
"""authz_matrix.py - the authorization matrix and the insider suite against a
running `usetrace serve` (driven by authz_matrix.sh, which sets the scene and
passes it in a JSON file).

The reference table below is written here, from the issue's rules, and not
read from the server: role x purpose x endpoint x owner.  Every endpoint of
the server's OpenAPI document must be in it (a route the test does not know
fails the test), every role x every purpose x every object kind is sent, and:
  - a request the reference denies never succeeds (no 2xx),
  - a request it allows is not refused for authorization (no 401/403/404),
  - every authenticated request, allowed or denied, is one audit entry of
    the caller, durable before its response (read from meta.db, read-only).
The same plan runs again (each route's own purpose and none) with the web
page's session cookie and CSRF token instead of Bearer (issue 13), with the
same expectations.  The insider suite then tries path, id, query and body tricks from every
role against another person's content, and checks that a phrase planted in
the victim's recording appears in no response body.
"""
import hashlib, http.client, json, os, sqlite3, ssl, subprocess, sys, base64

scene = json.load(open(sys.argv[1]))
HOST, PORT = scene["url"][len("https://"):].rsplit(":", 1)
PIN = scene["pin"]
PURPOSES = ["self-access", "erasure", "review", "training", "administration",
            "audit", "ingest", None, "everything"]

# ---- the reference: (method, path) -> (role, purpose, owner rule) ----
SUBJ, REV, TRAIN, ADMIN, AUD, DEV = "subject", "reviewer", "trainer", "admin", "auditor", "device"
REF = {
    ("POST", "/v1/admin/principals"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/principals"): (ADMIN, "administration", None),
    ("POST", "/v1/admin/principals/{name}/revoke"): (ADMIN, "administration", None),
    ("POST", "/v1/admin/principals/{name}/reissue-claim"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/segments"): (ADMIN, "administration", None),
    ("POST", "/v1/my/claims/{id}/confirm"): (SUBJ, "self-access", "claim"),
    ("POST", "/v1/admin/assignments"): (ADMIN, "administration", None),
    ("GET", "/v1/review/queue"): (REV, "review", None),
    ("GET", "/v1/review/{id}"): (REV, "review", "assignment"),
    ("GET", "/v1/review/{id}/frames"): (REV, "review", "assignment"),
    ("GET", "/v1/review/{id}/frames/{frame}"): (REV, "review", "assignment"),
    ("POST", "/v1/review/{id}/approve"): (REV, "review", "assignment"),
    ("POST", "/v1/review/{id}/reject"): (REV, "review", "assignment"),
    ("GET", "/v1/training/steps"): (TRAIN, "training", None),
    ("GET", "/v1/training/frames"): (TRAIN, "training", "episode"),
    ("GET", "/v1/training/revoked"): (TRAIN, "training", None),
    ("POST", "/v1/my/enroll-codes"): (SUBJ, "self-access", None),
    ("GET", "/v1/my/devices"): (SUBJ, "self-access", None),
    ("POST", "/v1/my/devices/{id}/revoke"): (SUBJ, "self-access", "device"),
    ("GET", "/v1/my/segments"): (SUBJ, "self-access", None),
    ("GET", "/v1/my/segments/{id}/actions"): (SUBJ, "self-access", "segment"),
    ("GET", "/v1/my/segments/{id}/records"): (SUBJ, "self-access", "segment"),
    ("GET", "/v1/my/segments/{id}/frames"): (SUBJ, "self-access", "segment"),
    ("GET", "/v1/my/segments/{id}/frames/{frame}"): (SUBJ, "self-access", "segment"),
    ("POST", "/v1/my/segments/{id}/withdraw-review"): (SUBJ, "self-access", "segment"),
    ("POST", "/v1/my/erase"): (SUBJ, "erasure", None),
    ("GET", "/v1/my/audit"): (SUBJ, "self-access", None),
    ("GET", "/v1/audit/exposure"): (AUD, "audit", None),
    ("GET", "/v1/audit/alerts"): (AUD, "audit", None),
    ("GET", "/v1/audit/entries"): (AUD, "audit", None),
    ("POST", "/v1/audit/canaries"): (AUD, "audit", None),
    ("POST", "/v1/device/consents"): (DEV, "ingest", None),
    ("GET", "/v1/device/control"): (DEV, "ingest", None),
    ("PUT", "/v1/device/segments/{id}"): (DEV, "ingest", None),
    # Issue 15: only admins pause and publish; only devices ack and fetch.
    ("POST", "/v1/device/ack"): (DEV, "ingest", None),
    ("GET", "/v1/device/policy"): (DEV, "ingest", None),
    ("POST", "/v1/admin/pause"): (ADMIN, "administration", None),
    ("POST", "/v1/admin/resume"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/pause"): (ADMIN, "administration", None),
    ("POST", "/v1/admin/policies"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/policies"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/policies/{version}"): (ADMIN, "administration", None),
    # Issue 13: the web page's routes.
    ("GET", "/v1/my/days"): (SUBJ, "self-access", None),
    ("POST", "/v1/my/pause"): (SUBJ, "self-access", None),
    ("POST", "/v1/my/resume"): (SUBJ, "self-access", None),
    ("GET", "/v1/my/pause"): (SUBJ, "self-access", None),
    ("GET", "/v1/my/consent"): (SUBJ, "self-access", None),
    ("GET", "/v1/admin/devices"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/policies/{version}/diff"): (ADMIN, "administration", None),
    ("GET", "/v1/admin/assignments"): (ADMIN, "administration", None),
    ("GET", "/v1/audit/verify"): (AUD, "audit", None),
}
PUBLIC = {("GET", "/v1/openapi.json"), ("GET", "/v1/health"), ("POST", "/v1/login"),
          ("POST", "/v1/enroll"),
          # Issue 13: the page's files and its sessions (tests/server/web_session.sh).
          ("GET", "/"), ("GET", "/web/{name}"), ("POST", "/v1/session"),
          ("GET", "/v1/session"), ("DELETE", "/v1/session")}
QUERY = {"/v1/training/steps": "?export=matrix", "/v1/audit/exposure": "?principal=alice",
         "/v1/training/frames": "?export=matrix&episode=" + "0" * 32 + "&frame=1",
         "/v1/training/revoked": "?export=matrix"}
# Requests that change state when allowed run last, in this order.
LATE = ["/v1/review/{id}/approve", "/v1/review/{id}/reject",
        "/v1/my/segments/{id}/withdraw-review", "/v1/my/devices/{id}/revoke",
        "/v1/admin/principals/{name}/revoke"]

callers = scene["callers"]      # name -> {"role", "token", "audit_name"}
objs = scene["objects"]

def spki_pin(der):
    pub = subprocess.run(["openssl", "x509", "-inform", "der", "-pubkey", "-noout"],
                         input=der, capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"],
                          input=pub, capture_output=True, check=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode()

class Conn:
    """HTTPS with the server's key pinned (checked on every new connection)."""
    def __init__(self):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE   # the pin below is the check
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.good_der = None
        self.c = None
    def open(self):
        self.c = http.client.HTTPSConnection(HOST, int(PORT), context=self.ctx, timeout=30)
        self.c.connect()
        der = self.c.sock.getpeercert(binary_form=True)
        if der != self.good_der:
            if spki_pin(der) != PIN:
                sys.exit("FAIL: the server's key does not match the pin")
            self.good_der = der
    def req(self, method, path, token=None, purpose=None, body=None, session=None):
        for attempt in range(3):
            try:
                if self.c is None:
                    self.open()
                h = {}
                if session is not None:
                    # The web page's session (issue 13): cookie and CSRF token.
                    h["Cookie"] = "ut_session=" + session[0]
                    h["X-CSRF-Token"] = session[1]
                elif token is not None:
                    h["Authorization"] = "Bearer " + token
                if purpose is not None:
                    h["Usetrace-Purpose"] = purpose
                if body is not None:
                    h["Content-Type"] = "application/json"
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.c.close(); self.c = None
                return r.status, data
            except (http.client.HTTPException, OSError):
                if self.c is not None:
                    self.c.close()
                self.c = None
        sys.exit("FAIL: no answer for %s %s" % (method, path))

db = sqlite3.connect("file:%s?mode=ro" % scene["meta_db"], uri=True)
def last_seq():
    return db.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0]
def new_rows(after):
    return db.execute("SELECT principal, action, outcome FROM audit WHERE seq > ?",
                      (after,)).fetchall()

def route_action(method, path):
    for p in spec["paths"].get(path, {}).items():
        if p[0] == method.lower():
            return p[1].get("x-usetrace-audit")
    return None

conn = Conn()
st, body = conn.req("GET", "/v1/openapi.json")
assert st == 200, st
spec = json.loads(body)
routes = []
for path, ops in spec["paths"].items():
    for m in ops:
        key = (m.upper(), path)
        if key in PUBLIC:
            continue
        if key not in REF:
            sys.exit("FAIL: the server has %s %s, which the reference table "
                     "does not know" % key)
        routes.append(key)
missing = set(REF) - set(routes)
if missing:
    sys.exit("FAIL: routes in the reference, not in the server: %s" % sorted(missing))

# Who owns what (the test's own record of the scene).
owner = {objs["alice_segment"]: "alice", objs["alice_unassigned"]: "alice",
         objs["bob_segment"]: "bob", objs["alice_spare_device"]: "alice",
         objs["bob_device"]: "bob", objs["rita_assignment"]: "rita",
         objs["ron_assignment"]: "ron", objs["alice_claim"]: "alice"}
# A frame id of each segment, asked of its owner before the matrix runs.
frame_of = {}
frame_of[objs["canary_segment"]] = 1   # nobody may list its frames
for seg, who in ((objs["alice_segment"], "alice"), (objs["alice_unassigned"], "alice"),
                 (objs["bob_segment"], "bob")):
    st, body = conn.req("GET", "/v1/my/segments/%s/frames" % seg, callers[who]["token"],
                        "self-access")
    ids = json.loads(body).get("frames", []) if st == 200 else []
    if not ids:
        sys.exit("FAIL: no frames listed for %s (%d %s)" % (seg, st, body[:200]))
    frame_of[seg] = ids[0] if not isinstance(ids[0], dict) else ids[0].get("id")

def variants(key, caller):
    """(object kind, concrete path, whether the owner rule holds)."""
    method, path = key
    rule = REF[key][2]
    q = QUERY.get(path, "")
    if "{name}" in path:
        # Allowed only for admins, against a throwaway principal; denials
        # are aimed at a real person.
        return [("name", path.replace("{name}", objs["throwaway"] if
                 callers[caller]["role"] == ADMIN else "bob") + q, True)]
    if "{version}" in path:
        # The policy authz_matrix.sh published.
        return [("version", path.replace("{version}", "1") + q, True)]
    if rule == "episode":
        # An episode of an export the caller never read: nobody's to take
        # (the allowed case, a trainer's own episode, is export_server.sh).
        return [("unread-episode", path + q, False)]
    if "{id}" not in path:
        return [("none", path + q, True)]
    if rule is None:
        # An id the caller names, not an object it must own (an upload).
        return [("new", path.replace("{id}", "0" * 32) + q, True)]
    out = []
    if rule == "segment":
        kinds = {"alice-assigned": objs["alice_segment"], "bob": objs["bob_segment"],
                 "alice-unassigned": objs["alice_unassigned"],
                 "canary": objs["canary_segment"], "missing": "0" * 32}
        for k, v in kinds.items():
            ok = owner.get(v) == caller
            out.append((k, path.replace("{id}", v).replace(
                "{frame}", str(frame_of.get(v, 1))) + q, ok))
    elif rule == "assignment":
        kinds = {"rita's": objs["rita_assignment"], "ron's": objs["ron_assignment"],
                 "missing": "0" * 32}
        seg_of = {objs["rita_assignment"]: objs["alice_segment"],
                  objs["ron_assignment"]: objs["bob_segment"]}
        for k, v in kinds.items():
            fr = str(frame_of.get(seg_of.get(v), 1))
            out.append((k, path.replace("{id}", v).replace("{frame}", fr) + q,
                        owner.get(v) == caller))
    elif rule == "claim":
        kinds = {"alice's": objs["alice_claim"], "missing": "0" * 16}
        for k, v in kinds.items():
            out.append((k, path.replace("{id}", v) + q, owner.get(v) == caller))
    elif rule == "device":
        kinds = {"alice": objs["alice_spare_device"], "bob": objs["bob_device"],
                 "missing": "999999"}
        for k, v in kinds.items():
            out.append((k, path.replace("{id}", v) + q, owner.get(v) == caller))
    return out

def body_for(method):
    return b"{}" if method in ("POST", "PUT") else None

fails = []
counts = {"allowed": 0, "denied": 0}
plan = []
for key in routes:
    for caller in callers:
        for purpose in PURPOSES:
            for kind, path, owner_ok in variants(key, caller):
                role, want_purpose, _ = REF[key]
                allowed = callers[caller]["role"] == role and purpose == want_purpose and owner_ok
                late = key[1] in LATE and allowed
                plan.append((late, LATE.index(key[1]) if late else -1, key, caller,
                             purpose, kind, path, allowed))
plan.sort(key=lambda p: (p[0], p[1]))

# The same plan with the web page's session cookie instead of Bearer (issue
# 13): the same role and owner checks and audit entries.  Each person
# signs in once; devices cannot.  Only the route's own purpose and none (the
# purpose check is the same code for both), and no LATE (state-changing)
# request (they run last, in the Bearer pass below, which this pass
# precedes so that the objects they change are still as the plan expects).
sessions = {}
for caller in callers:
    if callers[caller]["role"] == DEV:
        continue
    # Sign in as the page does; the cookie comes back in Set-Cookie.
    if conn.c is None:
        conn.open()
    conn.c.request("POST", "/v1/session", body=json.dumps(
        {"token": callers[caller]["token"]}).encode(),
        headers={"Content-Type": "application/json"})
    r = conn.c.getresponse()
    data = r.read()
    cookie = r.getheader("Set-Cookie", "")
    if r.status != 200 or not cookie.startswith("ut_session="):
        sys.exit("FAIL: no session for %s: %d %s" % (caller, r.status, data[:200]))
    sessions[caller] = (cookie[len("ut_session="):].split(";")[0], json.loads(data)["csrf"])
for late, _, key, caller, purpose, kind, path, allowed in plan:
    if late or caller not in sessions or purpose not in (REF[key][1], None):
        continue
    method = key[0]
    before = last_seq()
    st, data = conn.req(method, path, None, purpose, body_for(method), sessions[caller])
    mine = [r for r in new_rows(before) if r[0] == callers[caller]["audit_name"]]
    what = "COOKIE %s as %s (%s) purpose %s object %s" % (method + " " + path, caller,
                                                          callers[caller]["role"], purpose, kind)
    if allowed:
        counts["allowed"] += 1
        if st in (401, 403, 404) or st >= 500:
            fails.append("allowed but refused %d: %s" % (st, what))
        if not any(r[1] == route_action(method, key[1]) for r in mine):
            fails.append("allowed, no audit entry: %s" % what)
    else:
        counts["denied"] += 1
        if 200 <= st < 300:
            fails.append("UNAUTHORISED SUCCESS %d: %s" % (st, what))
        elif st not in (400, 403, 404, 405):
            fails.append("denied with %d: %s" % (st, what))
        if not any(r[2] in ("denied", "refused") for r in mine):
            fails.append("denied, not audited as such: %s" % what)

for late, _, key, caller, purpose, kind, path, allowed in plan:
    method = key[0]
    before = last_seq()
    st, data = conn.req(method, path, callers[caller]["token"], purpose, body_for(method))
    rows = new_rows(before)
    who = callers[caller]["audit_name"]
    mine = [r for r in rows if r[0] == who]
    what = "%s as %s (%s) purpose %s object %s" % (method + " " + path, caller,
                                                   callers[caller]["role"], purpose, kind)
    if allowed:
        counts["allowed"] += 1
        if st in (401, 403, 404) or st >= 500:
            fails.append("allowed but refused %d: %s" % (st, what))
        if not any(r[1] == route_action(method, key[1]) for r in mine):
            fails.append("allowed, no audit entry %s: %s (rows %s)" %
                         (route_action(method, key[1]), what, rows))
    else:
        counts["denied"] += 1
        if 200 <= st < 300:
            fails.append("UNAUTHORISED SUCCESS %d: %s" % (st, what))
        elif st not in (400, 403, 404, 405):
            fails.append("denied with %d: %s" % (st, what))
        if not any(r[2] in ("denied", "refused") for r in mine):
            fails.append("denied, not audited as such: %s (rows %s)" % (what, rows))
    try:
        err = json.loads(data) if not (200 <= st < 300) else None
        if err is not None and "error" not in err:
            fails.append("error body without a code: %s" % what)
    except ValueError:
        fails.append("error body is not JSON (%d): %s" % (st, what))

# No token, a garbage token, a revoked token: 401 everywhere.
for key in routes:
    path = key[1].replace("{id}", objs["alice_segment"]).replace("{name}", "bob").replace(
        "{frame}", "0") + QUERY.get(key[1], "")
    for tok in (None, "ut1_" + "A" * 43, scene["revoked_token"]):
        st, _ = conn.req(key[0], path, tok, REF[key][1], body_for(key[0]))
        if st != 401:
            fails.append("token %s: %d for %s %s" % ("none" if tok is None else tok[:8],
                                                     st, key[0], path))

# ---- the insider suite: everyone but alice against alice's unassigned segment ----
MARK = scene["marker"].encode()
victim = objs["alice_unassigned"]
tricks = [
    "/v1/my/segments/%s/actions", "/v1/my/segments/%s/records", "/v1/my/segments/%s/frames",
    "/v1/my/segments/%s/frames/0", "//v1/my/segments/%s/actions",
    "/v1//my/segments/%s/actions", "/v1/my/segments//%s/actions",
    "/v1/my/segments/%s/actions/", "/v1/my/segments/%s/./actions",
    "/v1/my/segments/%s/../%s/actions", "/v1/my/segments/%%2e%%2e/%s/actions",
    "/v1/my/segments/%s%%2factions", "/V1/MY/SEGMENTS/%s/ACTIONS",
    "/v1/my/segments/%s/actions?subject=alice", "/v1/my/segments/%s/actions?id=x&id=y",
    "/v1/my/segments/*/actions", "/v1/my/segments/%s*/actions",
    "/v1/my/segments?day=all&limit=1000000", "/v1/review/%s", "/v1/review/*",
    "/v1/training/steps?export=x&subject=alice", "/v1/training/steps?export=*",
    "/v1/audit/exposure?subject=alice&segment=%s", "/v1/admin/segments?subject=alice",
    "/v1/my/segments/" + victim.upper() + "/actions",
    "/v1/my/segments/" + victim + "0" * 200 + "/actions",
    "/v1/my/segments/" + victim[:-1] + "/actions",
    "/v1/my/segments/%s/actions%%00",
]
found = []
for caller in callers:
    if caller == "alice":
        continue
    for t in tricks:
        n = t.count("%s")
        path = t % ((victim,) * n) if n else t
        for purpose in PURPOSES:
            st, data = conn.req("GET", path, callers[caller]["token"], purpose)
            if MARK in data:
                found.append("%s %s purpose %s -> %d" % (caller, path, purpose, st))
            if 200 <= st < 300 and path.startswith("/v1/my/segments/"):
                fails.append("insider success %d: %s %s %s" % (st, caller, path, purpose))
        for method in ("POST", "PUT", "DELETE"):
            st, data = conn.req(method, path, callers[caller]["token"], "self-access",
                                b'{"segment":"%s","subject":"alice","extra":1}' % victim.encode())
            if MARK in data:
                found.append("%s %s %s -> %d" % (caller, method, path, st))
# The control: alice herself does read the phrase.
st, data = conn.req("GET", "/v1/my/segments/%s/actions" % victim,
                    callers["alice"]["token"], "self-access")
if st != 200 or MARK not in data:
    fails.append("control: alice cannot read her own phrase (%d)" % st)
if found:
    fails.append("the victim's phrase leaked: %s" % found[:5])

print("matrix: %d allowed and %d denied requests, %d insider tricks x %d callers" %
      (counts["allowed"], counts["denied"], len(tricks), len(callers) - 1))
if fails:
    for f in fails[:40]:
        print("FAIL:", f, file=sys.stderr)
    print("FAIL: %d problems" % len(fails), file=sys.stderr)
    sys.exit(1)
print("authz_matrix: ok")
