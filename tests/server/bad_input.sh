#!/bin/sh
# bad_input - a real `usetrace serve` on loopback against bad input and
# slow clients.  For every route of `usetrace serve --print-routes`:
# malformed JSON bodies (truncated, wrong types, extra keys, deep nesting,
# huge strings, invalid UTF-8, NUL bytes), bodies over the route's cap,
# no / garbage / unknown / expired / revoked tokens, a device token on a
# person's route and a person's token on a device route, a missing or
# wrong purpose, path tricks, unknown routes and methods, a flood (429).
# Every answer must be a 4xx with a JSON {"error", "message"} body that
# echoes neither the token nor the body, and the server must serve a
# normal request after each batch.  Meanwhile slow clients (200 sockets
# sending a request line a byte at a time, idle TCP and idle TLS
# connections, more connections from one address than its limit) must not
# keep a normal request from completing, and idle ones are dropped after
# the connection timeout (30 s, src/http).  Afterwards: the denials are in
# the audit log (unauthenticated failures as one auth_failure row per
# source and minute), no audit row holds a token or a body, `audit
# verify` passes, and the server exits 0 on SIGTERM.
#
# The requests are made with python3's ssl module, trusting only the
# server's own certificate (DATA/tls/cert.pem) with the host name checked:
# nothing else is accepted.  curl checks first that this certificate is
# the one the printed pin names.
. "$(dirname "$0")/cli_lib.sh"

command -v python3 >/dev/null || fail "python3 is required"
command -v curl >/dev/null || fail "curl is required"
U=$USETRACE

# stop_server: SIGTERM, and it must exit 0 (drained, clean).
stop_server() {
	kill -TERM "$SRV_PID"
	rc=0
	wait "$SRV_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/serve.err" >&2; fail "serve exited $rc on SIGTERM"; }
}

# restart_server: start_server for a data directory already made (no
# admin-token-file line then).
restart_server() {
	# Removed first: the shell truncates it only in the child, after `&`,
	# so a reused file could show the last start's lines to the wait.
	rm -f "$T/serve.out"
	"$U" serve --data "$1" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
	SRV_PID=$!
	T_PIDS="$SRV_PID $T_PIDS"
	i=0
	until grep -q '^pin ' "$T/serve.out" 2>/dev/null && grep -q '^url ' "$T/serve.out"; do
		i=$((i + 1)); [ $i -gt 300 ] && { cat "$T/serve.err" >&2; fail "server did not restart"; }
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$T/serve.err" >&2; fail "server exited"; }
		sleep 0.1
	done
	SRV_URL=$(sed -n 's/^url //p' "$T/serve.out")
	SRV_PIN=$(sed -n 's/^pin //p' "$T/serve.out")
}

start_server "$T/data"
"$U" serve --print-routes >"$T/routes.md" || fail "--print-routes"

# People: alice (subject, with a device), bob (revoked), carol (her token
# made to expire below), dave (an admin-side name that does not exist).
login_as() {        # NAME ROLE HOME -> prints the token
	as_admin "$U" admin principal add "$1" --role "$2" >"$T/claim" 2>&1 ||
		{ cat "$T/claim" >&2; fail "principal add $1"; }
	mkdir -p "$3" && chmod 700 "$3"
	env USETRACE_HOME="$3" "$U" login "$SRV_URL" --claim "$(sed -n 's/^claim //p' "$T/claim")" \
		--pin "$SRV_PIN" 2>"$T/err" | sed -n 's/^token //p'
}
ALICE_TOKEN=$(login_as alice subject "$T/alice")
BOB_TOKEN=$(login_as bob subject "$T/bob")
CAROL_TOKEN=$(login_as carol subject "$T/carol")
[ -n "$ALICE_TOKEN" ] && [ -n "$BOB_TOKEN" ] && [ -n "$CAROL_TOKEN" ] || fail "logins"
expect_out "^code " env USETRACE_HOME="$T/alice" "$U" my enroll-code
mkdir -p "$T/dev" && chmod 700 "$T/dev"
expect_out "^enrolled device" env USETRACE_HOME="$T/dev" "$U" enroll "$SRV_URL" \
	--code "$(sed -n 's/^code //p' "$T/out")" --pin "$SRV_PIN"
DEVICE_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' \
	"$T/dev/device.json")
expect_out "^revoked bob" as_admin "$U" admin principal revoke bob

# carol's token expires honestly: stop the server, set its expiry in the
# past in the metadata store, start again.
stop_server
python3 - "$T/data/meta.db" <<'EOF' || fail "expiring carol's token"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("UPDATE token SET expires_ns = 1000 WHERE device_id IS NULL AND principal_id ="
               " (SELECT id FROM principal WHERE name = 'carol')").rowcount
db.commit()
sys.exit(0 if n == 1 else 1)
EOF
restart_server "$T/data"
HOSTPORT=${SRV_URL#https://}
CERT="$T/data/tls/cert.pem"

# The pin printed is the key of DATA/tls/cert.pem.  curl enforces
# --pinnedpubkey even with -k (-k only skips the CA check; the pin is
# still verified and a mismatch aborts before any byte is sent), as the
# wrong pin below shows; --cacert with the server's own certificate
# verifies the chain and name as well.
curl -sS --max-time 20 --cacert "$CERT" --pinnedpubkey "$SRV_PIN" "$SRV_URL/v1/health" \
	>"$T/health" || fail "curl with the pin and the certificate"
grep -q '"ok":true' "$T/health" || fail "health"
rc=0
curl -sS -k --max-time 20 --pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
	"$SRV_URL/v1/health" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 90 ] || fail "curl -k with a wrong pin: exit $rc, want 90 (pin mismatch)"

N401_FILE="$T/n401"
export HOSTPORT CERT N401_FILE SRV_PID
export ADMIN_TOKEN ALICE_TOKEN BOB_TOKEN CAROL_TOKEN DEVICE_TOKEN

# ---- slow clients, in the background while the bad input runs ----
python3 - >"$T/slow.out" 2>&1 <<'EOF' &
import os, socket, ssl, sys, time
host, port = os.environ["HOSTPORT"].rsplit(":", 1); port = int(port)
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
def tcp(src):
    return socket.create_connection((host, port), timeout=20, source_address=(src, 0))
def tls(src):
    return ctx.wrap_socket(tcp(src), server_hostname=host)
def request(src, path, token=None, purpose=None):
    s = tls(src)
    h = "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % path
    if token: h += "Authorization: Bearer %s\r\n" % token
    if purpose: h += "Usetrace-Purpose: %s\r\n" % purpose
    s.sendall((h + "\r\n").encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close()
    return int(data.split(b" ", 2)[1])
bad = []
t0 = time.monotonic()
# Idle: TCP connections that never start TLS, TLS connections that never
# send a request.
idle_tcp = [tcp("127.0.0.5") for _ in range(20)]
idle_tls = [tls("127.0.0.6") for _ in range(20)]
# Slowloris: 200 TLS connections from four addresses (under the per-source
# limit of 64 each), each sending a request line a byte at a time.
slow = []
for i in range(200):
    slow.append(tls("127.0.0.%d" % (10 + i % 4)))
line = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
# One address over its limit: at most 64 of 80 connections get through TLS.
over, ok = [], 0
for i in range(80):
    try:
        s = tls("127.0.0.20"); over.append(s); ok += 1
    except (OSError, ssl.SSLError):
        pass
if ok > 64:
    bad.append("80 connections from one address: %d got through TLS (limit 64)" % ok)
if ok == 0:
    bad.append("no connection at all from 127.0.0.20")
# While all that is held: normal requests complete (20 s socket timeout).
for k in range(6):
    for s in slow:
        try: s.send(line[k:k + 1])
        except OSError: pass
    try:
        st = request("127.0.0.7", "/v1/health")
        if st != 200: bad.append("health under load: %d" % st)
        st = request("127.0.0.7", "/v1/my/segments", os.environ["ALICE_TOKEN"], "self-access")
        if st != 200: bad.append("my/segments under load: %d" % st)
    except (OSError, ssl.SSLError) as e:
        bad.append("a normal request under load failed: %r" % e)
    time.sleep(1)
for s in over: s.close()
# The idle ones are dropped by the server after its 30 s timeout.
def dropped(s):
    s.settimeout(max(1.0, 75 - (time.monotonic() - t0)))
    try:
        # A TCP socket that never began TLS may get an alert, then EOF.
        while s.recv(4096) != b"":
            pass
        return True
    except (ConnectionResetError, ssl.SSLError, ssl.SSLEOFError):
        return True
    except socket.timeout:
        return False
    except OSError:
        return True
n_tcp = sum(dropped(s) for s in idle_tcp)
n_tls = sum(dropped(s) for s in idle_tls)
waited = time.monotonic() - t0
if n_tcp != len(idle_tcp): bad.append("idle TCP connections kept: %d of %d" % (len(idle_tcp) - n_tcp, len(idle_tcp)))
if n_tls != len(idle_tls): bad.append("idle TLS connections kept: %d of %d" % (len(idle_tls) - n_tls, len(idle_tls)))
for s in slow + idle_tcp + idle_tls:
    try: s.close()
    except OSError: pass
st = request("127.0.0.7", "/v1/health")
if st != 200: bad.append("health after the slow clients: %d" % st)
for b in bad: print("SLOW FAIL:", b)
print("slow clients: %s (idle dropped after %.0f s; %d of 80 connections from one"
      " address accepted)" % ("ok" if not bad else "FAILED", waited, ok))
sys.exit(1 if bad else 0)
EOF
SLOW_PID=$!
T_PIDS="$SLOW_PID $T_PIDS"

# ---- bad input, route by route ----
python3 - "$T/routes.md" >"$T/bad.out" 2>&1 <<'EOF' || { cat "$T/bad.out" >&2; fail "bad input"; }
import json, os, re, socket, ssl, sys, time, secrets
host, port = os.environ["HOSTPORT"].rsplit(":", 1); port = int(port)
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
TOK = {k: os.environ[k.upper() + "_TOKEN"] for k in ("admin", "alice", "bob", "carol", "device")}
SRV_PID = int(os.environ["SRV_PID"])
failures = []
count = {"requests": 0, "401": 0}

def raw(method, path, headers=(), body=b"", src="127.0.0.1", content_length=None, chunked=False):
    """One request on a new connection; returns (status, headers, body)."""
    for attempt in range(20):
        s = ctx.wrap_socket(socket.create_connection((host, port), timeout=20,
            source_address=(src, 0)), server_hostname=host)
        h = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, host)
        for k, v in headers:
            h += "%s: %s\r\n" % (k, v)
        if chunked:
            h += "Transfer-Encoding: chunked\r\n"
        elif content_length is not None:
            h += "Content-Length: %d\r\n" % content_length
        elif body or method in ("POST", "PUT"):
            h += "Content-Length: %d\r\n" % len(body)
        data = h.encode() + b"\r\n"
        if chunked:
            for i in range(0, len(body), 1000):
                c = body[i:i + 1000]
                data += b"%x\r\n" % len(c) + c + b"\r\n"
            data += b"0\r\n\r\n"
        elif content_length is None:
            data += body
        try:
            s.sendall(data)
        except OSError:
            pass    # the server may answer and close before reading it all
        resp = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                resp += b
        except (ConnectionResetError, ssl.SSLError):
            pass
        s.close()
        count["requests"] += 1
        head, _, rbody = resp.partition(b"\r\n\r\n")
        lines = head.decode("latin1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/1.1 "):
            return (0, {}, resp)
        status = int(lines[0].split(" ")[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if status == 429 and src == "127.0.0.1":
            time.sleep(int(hdrs.get("retry-after", "1")))
            continue        # the rate limit is tested on its own below
        if status == 401:
            count["401"] += 1
        return (status, hdrs, rbody)
    return (429, {}, b"")

def check(what, r, want=None, secrets_=()):
    status, hdrs, body = r
    ok = True
    if want is not None and status not in want:
        failures.append("%s: status %d, want %s: %r" % (what, status, sorted(want), body[:200])); ok = False
    if not 400 <= status <= 499:
        failures.append("%s: status %d is not a 4xx: %r" % (what, status, body[:200])); return
    if not hdrs.get("content-type", "").startswith("application/json"):
        failures.append("%s: content type %r" % (what, hdrs.get("content-type")))
    try:
        j = json.loads(body)
        if set(j) != {"error", "message"} or not all(isinstance(j[k], str) for k in j):
            failures.append("%s: error body %r" % (what, body[:200]))
    except ValueError:
        failures.append("%s: error body is not JSON: %r" % (what, body[:200]))
    for sec in secrets_:
        if sec and len(sec) >= 8 and sec.encode("utf-8", "surrogateescape") in body:
            failures.append("%s: the error body echoes %r" % (what, sec[:40]))

def alive(what):
    try:
        os.kill(SRV_PID, 0)
    except OSError:
        failures.append("after %s: the server is gone" % what)
        report()
    st = raw("GET", "/v1/health")[0]
    if st != 200:
        failures.append("after %s: health answers %d" % (what, st))
    st = raw("GET", "/v1/my/segments", [("Authorization", "Bearer " + TOK["alice"]),
        ("Usetrace-Purpose", "self-access")])[0]
    if st != 200:
        failures.append("after %s: alice's segment list answers %d" % (what, st))

def report():
    for f in failures:
        print("FAIL:", f)
    print("bad input: %d requests, %d failures" % (count["requests"], len(failures)))
    sys.exit(1 if failures else 0)

# The route table as the server prints it.
routes = []
for line in open(sys.argv[1]):
    m = re.match(r"\| (GET|POST|PUT|DELETE) \| `([^`]+)` \| ([^|]+) \| ([^|]+) \|", line)
    if m:
        routes.append((m.group(1), m.group(2), m.group(3).strip(), m.group(4).strip()))
if len(routes) < 15:
    failures.append("only %d routes parsed from --print-routes" % len(routes)); report()
KIB = 1024
CAPS = {("POST", "/v1/login"): 4 * KIB, ("POST", "/v1/enroll"): 8 * KIB,
        ("PUT", "/v1/device/segments/{id}"): 64 << 20,
        ("POST", "/v1/admin/policies"): 1024 * KIB}
def cap_of(method, pattern):
    if (method, pattern) in CAPS:
        return CAPS[(method, pattern)]
    return 4 * KIB if method == "POST" else 64 * KIB
# Routes that read no body (a malformed one changes nothing) and the upload,
# whose answer to bytes that are no segment is a signed "rejected" receipt.
BODYLESS = {("POST", "/v1/my/enroll-codes"), ("POST", "/v1/admin/resume"),
            ("POST", "/v1/my/resume")}
UPLOAD = ("PUT", "/v1/device/segments/{id}")
SEG = "00112233445566778899aabbccddeeff"
def concrete(pattern):
    return (pattern.replace("{id}", "999999" if "devices" in pattern else SEG)
            .replace("{name}", "nobody").replace("{frame}", "0")
            .replace("{version}", "1"))
def caller(who):
    if who == "anyone": return None
    if who == "device": return "device"
    if "admin" in who: return "admin"
    return "alice"

marker = "MARKER-" + secrets.token_hex(8)
bodies = [
    ("truncated", ('{"name": "%s", "claim": "%s' % (marker, marker)).encode()),
    ("wrong types", ('{"name": 5, "role": ["%s"], "claim": 7, "code": {}, "day": 20200101, '
                     '"all": "yes", "consent_id": 1, "sig": null}' % marker).encode()),
    ("extra keys", ('{"%s": 1, "unexpected": {"nested": true}}' % marker).encode()),
    ("deeply nested", b"[" * 1500 + b"]" * 1500),
    ("deeply nested object", b'{"a":' * 700 + b"1" + b"}" * 700),
    ("huge string", ('{"name": "%s%s"}' % (marker, "A" * 3000)).encode()),
    ("invalid UTF-8", b'{"name": "\xff\xfe\xc3\x28' + marker.encode() + b'", "role": "subject"}'),
    ("NUL bytes", b'{"name": "a\x00' + marker.encode() + b'", "role": "subject"}'),
    ("escaped NUL", ('{"name": "a\\u0000%s", "role": "subject", "claim": "a\\u0000b"}' % marker).encode()),
    ("not an object", ('["%s"]' % marker).encode()),
    ("null", b"null"),
    ("empty", b""),
    ("binary", bytes(range(256)) + marker.encode()),
]

for method, pattern, who, purpose in routes:
    path = concrete(pattern)
    name = "%s %s" % (method, pattern)
    c = caller(who)
    good = [] if c is None else [("Authorization", "Bearer " + TOK[c])]
    if purpose != "-":
        good.append(("Usetrace-Purpose", purpose))
    # Tokens: none, garbage, right shape but unknown, expired, revoked.
    if c is not None:
        unknown = "ut1_" + secrets.token_urlsafe(32)[:43]
        for what, hv in [("no token", None), ("garbage token", "Bearer garbage-" + marker),
                         ("not Bearer", "Basic " + marker), ("unknown token", "Bearer " + unknown),
                         ("unknown device token", "Bearer utd1_" + secrets.token_urlsafe(32)[:43]),
                         ("expired token", "Bearer " + TOK["carol"]),
                         ("revoked token", "Bearer " + TOK["bob"])]:
            hdrs = [("Usetrace-Purpose", purpose)] if purpose != "-" else []
            if hv is not None:
                hdrs.append(("Authorization", hv))
            check("%s, %s" % (name, what), raw(method, path, hdrs), {401},
                  [marker, unknown, TOK["carol"], TOK["bob"]])
        # Wrong purpose, wrong kind of token, no purpose.
        other = "alice" if c == "device" else "device"
        check("%s, %s token" % (name, other), raw(method, path,
              [("Authorization", "Bearer " + TOK[other]), ("Usetrace-Purpose", purpose)]),
              {403}, [TOK[other]])
        if c == "admin":
            check("%s, a subject's token" % name, raw(method, path,
                  [("Authorization", "Bearer " + TOK["alice"]), ("Usetrace-Purpose", purpose)]),
                  {403}, [TOK["alice"]])
        for p in (None, "training", "self-access, ingest", marker):
            if p == purpose:
                continue
            hdrs = [("Authorization", "Bearer " + TOK[c])]
            if p is not None:
                hdrs.append(("Usetrace-Purpose", p))
            check("%s, purpose %r" % (name, p), raw(method, path, hdrs), {403}, [TOK[c], marker])
    # Malformed bodies, with the right token and purpose.
    if method in ("POST", "PUT"):
        for what, body in bodies:
            r = raw(method, path, good, body)
            if (method, pattern) in BODYLESS and 200 <= r[0] < 300:
                continue
            if (method, pattern) == UPLOAD and r[0] == 200:
                try:
                    outcome = json.loads(r[2])["receipt"]["outcome"]
                except (ValueError, KeyError, TypeError):
                    outcome = None
                if outcome != "rejected":
                    failures.append("%s, %s: 200 with outcome %r" % (name, what, outcome))
                continue
            check("%s, %s body" % (name, what), r, None, [marker, TOK.get(c or "admin")])
    # Over the cap: announced (refused before any byte is read), chunked,
    # and a body exactly at the cap is not refused for its size.
    cap = cap_of(method, pattern)
    check("%s, Content-Length cap+1" % name, raw(method, path, good, content_length=cap + 1), {413})
    if cap <= 64 * KIB:
        body = (b'{"name": "' + marker.encode() + b"A" * cap)[:cap + 1]
        check("%s, body cap+1" % name, raw(method, path, good, body), {413}, [marker])
        check("%s, chunked body over the cap" % name,
              raw(method, path, good, body + b"B" * 2000, chunked=True), {413}, [marker])
        r = raw(method, path, good, body[:cap])
        if r[0] in (413, 0) or r[0] >= 500:
            failures.append("%s: a body of exactly the cap (%d) answers %d" % (name, cap, r[0]))
    alive(name)

# Path tricks, unknown routes, methods.
A = [("Authorization", "Bearer " + TOK["alice"]), ("Usetrace-Purpose", "self-access")]
ADM = [("Authorization", "Bearer " + TOK["admin"]), ("Usetrace-Purpose", "administration")]
tricks = [
    ("GET", "//v1/my/segments", A, {404}), ("GET", "/v1//my/segments", A, {404}),
    ("GET", "/v1/my/segments/", A, {404}), ("GET", "/v1/my/./segments", A, {404}),
    ("GET", "/v1/my/segments/%2e%2e/actions", A, {404}),
    ("GET", "/v1/my/segments/%2E%2E/%2E%2E/admin/principals", A, {404}),
    ("GET", "/v1/my/segments/../../admin/principals", A, {404}),
    ("GET", "/v1/my/segments/..%2f..%2fadmin%2fprincipals/actions", A, {404}),
    ("GET", "/v1/my/segments/" + SEG + "%00/actions", A, {404}),
    ("GET", "/v1/my/segments/" + "a" * 5000 + "/actions", A, {404}),
    ("GET", "/v1/my/segments/" + "a" * 95 + "/actions", A, {404}),
    ("POST", "/v1/admin/principals/" + "n" * 3000 + "/revoke", ADM, {404}),
    ("GET", "/v1/my/segments?" + "x=" + "y" * 9000, A, {414}),
    ("GET", "/" + "a" * 9000, [], {414}),
    ("GET", "/v1/nothing", A, {404}), ("GET", "/v2/health", A, {404}),
    # Outside /v1/ only the web page's files are (issue 13): no token asked.
    ("GET", "/nothing", [], {404}), ("GET", "/web/nothing.js", [], {404}),
    ("GET", "/web/../v1/health", [], {404}), ("POST", "/", [], {404}),
    ("GET", "/v1/admin/principals/admin", ADM, {404}),
    ("DELETE", "/v1/my/segments", A, {403}), ("PUT", "/v1/my/erase", A, {403}),
    ("DELETE", "/v1/health", [], {401}), ("POST", "/v1/health", [], {401}),
    ("PATCH", "/v1/health", [], {405}), ("OPTIONS", "/v1/my/segments", A, {405}),
    ("TRACE", "/v1/health", [], {405}), ("BREW", "/v1/health", [], {405}),
    ("GET", "/v1/my/segments", [("Authorization", "Bearer " + TOK["alice"] + " extra"),
                               ("Usetrace-Purpose", "self-access")], {401}),
    ("GET", "/v1/my/segments", [("Authorization", "bearer " + TOK["alice"]),
                               ("Usetrace-Purpose", "self-access")], {401}),
    ("GET", "/v1/my/segments", [("Authorization", "Bearer " + "A" * 6000),
                               ("Usetrace-Purpose", "self-access")], None),
]
for method, path, hdrs, want in tricks:
    r = raw(method, path, hdrs, content_length=None)
    check("%s %s" % (method, path[:60]), r, want, [TOK["alice"], TOK["admin"]])
alive("path tricks")

# Broken HTTP framing is answered by libmicrohttpd itself, before any of
# our code runs, with its own short HTML page (include/usetrace/http.h says
# so): a 4xx (505 for an unknown HTTP version) that closes the connection,
# echoes nothing, and the server goes on.
def send_bytes(data, src="127.0.0.1"):
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=20,
        source_address=(src, 0)), server_hostname=host)
    try:
        s.sendall(data)
    except OSError:
        pass
    resp = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            resp += b
    except (OSError, ssl.SSLError):
        pass
    s.close()
    count["requests"] += 1
    return resp
framing = [
    ("malformed Content-Length", b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n" + marker.encode()),
    ("negative Content-Length", b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
    ("huge Content-Length", b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
    ("garbage request line", b"\x00\x01GARBAGE " + marker.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("unknown HTTP version", b"GET /v1/health?" + marker.encode() + b" HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("headers over the pool", b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + marker.encode() + b"A" * 70000 + b"\r\n\r\n"),
    ("bad chunk size", b"POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + marker.encode() + b"\r\n0\r\n\r\n"),
]
for what, data in framing:
    resp = send_bytes(data)
    status = int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.") else 0
    # No answer at all (the connection cut) is acceptable for garbage; the
    # one 5xx is libmicrohttpd's 505 for an HTTP version it does not speak.
    if what == "unknown HTTP version" and status == 505:
        pass
    elif resp and not 400 <= status <= 499:
        failures.append("%s: status %d: %r" % (what, status, resp[:200]))
    if marker.encode() in resp:
        failures.append("%s: the answer echoes the request" % what)
alive("broken framing")

# A flood from one address (eight connections, 300 pipelined requests
# each; libmicrohttpd over TLS stalls a connection after a few hundred
# pipelined requests, so more connections rather than more requests):
# 429 with Retry-After and a JSON body, and other addresses still served.
import threading
floods = []
def flood():
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5,
        source_address=("127.0.0.30", 0)), server_hostname=host)
    resp = b""
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" * 300)
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            resp += b
    except (OSError, ssl.SSLError):
        pass
    s.close()
    floods.append(resp)
ths = [threading.Thread(target=flood) for _ in range(8)]
for t in ths: t.start()
for t in ths: t.join()
resp = b"".join(floods)
i = resp.find(b"HTTP/1.1 429 ")
if i < 0:
    failures.append("2400 requests from one address: no 429 (%d answers 200)" % resp.count(b"HTTP/1.1 200 "))
else:
    head, _, body = resp[i:].partition(b"\r\n\r\n")
    hl = head.decode("latin1").lower()
    if "retry-after:" not in hl or "application/json" not in hl or b'"rate_limited"' not in body:
        failures.append("429 without Retry-After or JSON body: %r" % resp[i:i + 300])
alive("a flood from 127.0.0.30")
print("unauthenticated failures from 127.0.0.1: %d" % count["401"])
open(os.environ["N401_FILE"], "w").write("%d\n" % count["401"])
report()
EOF
cat "$T/bad.out"
N401=$(cat "$T/n401")

rc=0
wait "$SLOW_PID" || rc=$?
cat "$T/slow.out"
[ "$rc" -eq 0 ] || fail "slow clients"

# Still serving, then a clean exit on SIGTERM (the audit log is flushed).
curl -sS --max-time 20 --cacert "$CERT" --pinnedpubkey "$SRV_PIN" "$SRV_URL/v1/health" \
	>/dev/null || fail "health after everything"
stop_server

# The audit log: unauthenticated failures aggregated per source and
# minute, the wrong-purpose and wrong-role denials one entry each with
# who asked, no token and no body anywhere in it, and the chain verifies.
python3 - "$T/data/meta.db" "$N401" <<'EOF' || fail "audit log"
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n401 = int(sys.argv[2])
bad = []
rows = db.execute("SELECT detail FROM audit WHERE action = 'auth_failure' AND source = '127.0.0.1'").fetchall()
counted = sum(int(d.split("count=")[1].split()[0]) for (d,) in rows)
if counted < n401:
    bad.append("auth_failure rows from 127.0.0.1 count %d failures, the test made %d" % (counted, n401))
if n401 < 50 or not 1 <= len(rows) <= n401 // 10:
    bad.append("%d auth_failure rows from 127.0.0.1 for %d failures: not aggregated per minute" % (len(rows), n401))
for who, role in (("alice", "subject"), ("device:", "device"), ("admin", "admin")):
    n = db.execute("SELECT count(*) FROM audit WHERE action = 'denied' AND outcome = 'denied'"
                   " AND principal LIKE ? AND role = ?", (who + "%", role)).fetchone()[0]
    if n < 3:
        bad.append("%d denial rows for %s" % (n, who))
toks = [os.environ[k] for k in ("ADMIN_TOKEN", "ALICE_TOKEN", "BOB_TOKEN", "CAROL_TOKEN", "DEVICE_TOKEN")]
for row in db.execute("SELECT * FROM audit"):
    text = " ".join(str(x) for x in row)
    for t in toks:
        if t in text or t[4:24] in text:
            bad.append("audit row %s holds a token" % row[0])
    if "MARKER-" in text:
        bad.append("audit row %s holds a request body" % row[0])
for b in bad[:20]:
    print("AUDIT FAIL:", b)
sys.exit(1 if bad else 0)
EOF
expect 0 "" "$U" audit verify --data "$T/data"
echo "bad_input: ok"
