#!/bin/sh
# web_session - the web page's serving and sessions (issue 13, docs/WEB.md)
# with curl against a real server: the page and its files with the
# security headers (which every API answer carries too); a session from a
# token and from a claim code; the cookie standing in for Bearer on a
# subject's route, with the same answers (another person's segment: the
# same 404); CSRF: a cookie-authenticated change without the right
# X-CSRF-Token, or marked Sec-Fetch-Site: cross-site, is refused with 403
# and nothing is done; sign-out makes the cookie useless; a restart signs
# everyone out; the idle timeout (8 s here) ends a session.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"
command -v curl >/dev/null || fail "curl is required"

CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

# C ARGS... URL: curl; headers in $T/hdr, body in $T/body; prints the status.
C() {
	rm -f "$T/body" "$T/hdr"
	curl -sk --pinnedpubkey "$SRV_PIN" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@"
}
# hdr NAME: the value of response header NAME (last one), CR stripped.
hdr() {
	tr -d '\r' <"$T/hdr" | sed -n "s/^$1: //Ip" | tail -1
}
# secure_headers WHAT: the contract's headers are on the last response.
secure_headers() {
	[ "$(hdr Content-Security-Policy)" = "$CSP" ] || { cat "$T/hdr" >&2; fail "$1: CSP"; }
	[ "$(hdr X-Content-Type-Options)" = nosniff ] || fail "$1: nosniff"
	[ "$(hdr Referrer-Policy)" = no-referrer ] || fail "$1: Referrer-Policy"
	[ "$(hdr X-Frame-Options)" = DENY ] || fail "$1: X-Frame-Options"
	[ "$(hdr Cache-Control)" = no-store ] || fail "$1: Cache-Control"
}
jget() { # KEY: a top-level string or number of $T/body
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/body" "$1"
}
JSON='Content-Type: application/json'
# start_session JSON: POST /v1/session; sets SID and CSRF.
start_session() {
	[ "$(C -X POST -H "$JSON" -d "$1" "$SRV_URL/v1/session")" = 200 ] ||
		{ cat "$T/body" >&2; fail "session from $1"; }
	SID=$(hdr Set-Cookie | sed -n 's/^ut_session=\([^;]*\);.*/\1/p')
	CSRF=$(jget csrf)
	[ -n "$SID" ] && [ -n "$CSRF" ] || fail "no cookie or csrf"
}

start_server "$T/data"
person_with_device alice "$T/alice" "$T/adev"
person_with_device bob "$T/bob" "$T/bdev"
ALICE_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/alice/login.json")
BOB_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/bob/login.json")
expect 0 "" "$UT_SYNTH" --home "$T/adev" --out "$T/arec" --segments 1 --seed 1
expect_out "^uploaded 1" as "$T/adev" upload "$T/arec"
expect 0 "" "$UT_SYNTH" --home "$T/bdev" --out "$T/brec" --segments 1 --seed 2
expect_out "^uploaded 1" as "$T/bdev" upload "$T/brec"
A1=$(listed_ids "$T/alice")
B1=$(listed_ids "$T/bob")

# --- The page and its files, with the headers; the API's answers too.
[ "$(C "$SRV_URL/")" = 200 ] || fail "GET / answered $(cat "$T/hdr")"
secure_headers "GET /"
[ "$(hdr Content-Type)" = "text/html; charset=utf-8" ] || fail "/ content type"
cmp -s "$T/body" "$SRCDIR/web/index.html" || fail "GET / is not web/index.html"
ETAG=$(hdr ETag)
case $ETAG in \"*\") ;; *) fail "no strong ETag on / ($ETAG)" ;; esac
[ "$(C -H "If-None-Match: $ETAG" "$SRV_URL/")" = 304 ] || fail "If-None-Match: no 304"
[ ! -s "$T/body" ] || fail "a 304 with a body"
[ "$(C "$SRV_URL/web/app.js")" = 200 ] || fail "GET /web/app.js"
secure_headers "GET /web/app.js"
[ "$(hdr Content-Type)" = "text/javascript; charset=utf-8" ] || fail "app.js content type"
cmp -s "$T/body" "$SRCDIR/web/app.js" || fail "/web/app.js is not web/app.js"
[ "$(C "$SRV_URL/web/app.css")" = 200 ] || fail "GET /web/app.css"
[ "$(hdr Content-Type)" = "text/css; charset=utf-8" ] || fail "app.css content type"
for p in /web/nothing.js /web/ /web /index.html /web/../meson.build /web/.. /web/app.js/x; do
	[ "$(C --path-as-is "$SRV_URL$p")" = 404 ] || fail "GET $p: not 404"
	secure_headers "GET $p"
done
[ "$(C -X POST "$SRV_URL/")" = 404 ] || fail "POST /: not 404"
[ "$(C "$SRV_URL/v1/health")" = 200 ] || fail "health"
secure_headers "GET /v1/health"
[ "$(C -H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments")" = 401 ] || fail "no auth"
secure_headers "a 401"

# --- A session from a token.
start_session "{\"token\":\"$ALICE_TOKEN\"}"
secure_headers "POST /v1/session"
SC=$(hdr Set-Cookie)
[ "$SC" = "ut_session=$SID; Path=/; HttpOnly; Secure; SameSite=Strict" ] ||
	fail "Set-Cookie: $SC"
[ "$(jget principal) $(jget role) $(jget idle_timeout_s)" = "alice subject 900" ] ||
	{ cat "$T/body" >&2; fail "session JSON"; }
! grep -q "$ALICE_TOKEN" "$T/body" "$T/hdr" || fail "the token came back"
! grep -q "$SID" "$T/data/meta.db" "$T/serve.out" "$T/serve.err" ||
	fail "the session id was stored or logged"
CK="Cookie: ut_session=$SID"
ALICE_CSRF=$CSRF
[ "$(C -H "$CK" "$SRV_URL/v1/session")" = 200 ] || fail "GET /v1/session"
[ "$(jget csrf)" = "$CSRF" ] || fail "GET /v1/session: another csrf"
[ "$(jget principal)" = alice ] || fail "GET /v1/session: principal"
# The cookie on a subject's route: the same answer as Bearer.
[ "$(C -H "$CK" -H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments")" = 200 ] ||
	{ cat "$T/body" >&2; fail "my/segments with the cookie"; }
grep -q "$A1" "$T/body" || fail "my/segments with the cookie: no segment"
! grep -q "$B1" "$T/body" || fail "my/segments with the cookie: bob's segment"
secure_headers "my/segments with the cookie"
[ "$(C -H "$CK" -H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments/$A1/actions")" = 200 ] ||
	fail "my own segment with the cookie"
# Another person's segment: the same 404 as the API with Bearer.
[ "$(C -H "$CK" -H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments/$B1/actions")" = 404 ] ||
	fail "bob's segment with alice's cookie: not 404"
cp "$T/body" "$T/cookie404"
[ "$(C -H "Authorization: Bearer $ALICE_TOKEN" -H "Usetrace-Purpose: self-access" \
	"$SRV_URL/v1/my/segments/$B1/actions")" = 404 ] || fail "bob's segment with alice's token"
cmp -s "$T/body" "$T/cookie404" || fail "the cookie's 404 differs from Bearer's"
[ "$(C -H "$CK" -H "Usetrace-Purpose: self-access" \
	"$SRV_URL/v1/my/segments/00000000000000000000000000000000/actions")" = 404 ] || fail "no such segment"
cmp -s "$T/body" "$T/cookie404" || fail "another person's segment is told from a missing one"
# Roles are the table's: alice's cookie is no admin.
[ "$(C -H "$CK" -H "Usetrace-Purpose: administration" "$SRV_URL/v1/admin/principals")" = 403 ] ||
	fail "a subject's cookie on an admin route"

# --- CSRF: refused, and nothing done.
ERASE='{"all":true}'
[ "$(C -X POST -H "$CK" -H "$JSON" -H "Usetrace-Purpose: erasure" -d "$ERASE" \
	"$SRV_URL/v1/my/erase")" = 403 ] || fail "erase without a CSRF token"
[ "$(jget error)" = csrf ] || fail "no csrf error"
[ "$(C -X POST -H "$CK" -H "$JSON" -H "Usetrace-Purpose: erasure" -H "X-CSRF-Token: x$CSRF" \
	-d "$ERASE" "$SRV_URL/v1/my/erase")" = 403 ] || fail "erase with a wrong CSRF token"
[ "$(C -X POST -H "$CK" -H "$JSON" -H "Usetrace-Purpose: erasure" -H "X-CSRF-Token: $BOB_TOKEN" \
	-d "$ERASE" "$SRV_URL/v1/my/erase")" = 403 ] || fail "erase with a token as CSRF"
[ "$(C -X POST -H "$CK" -H "$JSON" -H "Usetrace-Purpose: erasure" -H "X-CSRF-Token: $CSRF" \
	-H "Sec-Fetch-Site: cross-site" -d "$ERASE" "$SRV_URL/v1/my/erase")" = 403 ] ||
	fail "a cross-site erase"
[ "$(jget error)" = csrf ] || fail "cross-site: no csrf error"
[ "$(listed_ids "$T/alice")" = "$A1" ] || fail "a refused erase erased"
# Bearer needs no CSRF token; the cookie with it may change things.
[ "$(C -X POST -H "$CK" -H "$JSON" -H "Usetrace-Purpose: self-access" -H "X-CSRF-Token: $CSRF" \
	-H "Sec-Fetch-Site: same-origin" -d '{}' "$SRV_URL/v1/my/enroll-codes")" = 201 ] ||
	{ cat "$T/body" >&2; fail "a change with the CSRF token"; }
grep -q '"code"' "$T/body" || fail "no enrollment code"
[ "$(C -X POST -H "$CK" -H "$JSON" -H "Usetrace-Purpose: self-access" \
	-d '{}' "$SRV_URL/v1/my/enroll-codes")" = 403 ] || fail "enroll-codes without CSRF"

# --- Sign-in refusals.
[ "$(C -X POST -H "$JSON" -d '{"token":"ut1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' \
	"$SRV_URL/v1/session")" = 401 ] || fail "a made-up token"
[ "$(C -X POST -H "$JSON" -d '{"token":"nonsense"}' "$SRV_URL/v1/session")" = 401 ] ||
	fail "a malformed token"
DEV_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_token"])' "$T/adev/device.json")
[ "$(C -X POST -H "$JSON" -d "{\"token\":\"$DEV_TOKEN\"}" "$SRV_URL/v1/session")" = 401 ] ||
	fail "a device token made a session"
[ "$(C -X POST -H "$JSON" -H "Sec-Fetch-Site: cross-site" -d "{\"token\":\"$ALICE_TOKEN\"}" \
	"$SRV_URL/v1/session")" = 403 ] || fail "a cross-site sign-in"
[ -z "$(hdr Set-Cookie)" ] || fail "a cross-site sign-in set a cookie"
[ "$(C -H "Cookie: ut_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	-H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments")" = 401 ] || fail "a made-up cookie"

# --- A session from a claim: the person's own token, never shown.
expect_out "^claim " as_admin "$USETRACE" admin principal add carol --role auditor
CLAIM=$(sed -n 's/^claim //p' "$T/out")
start_session "{\"claim\":\"$CLAIM\"}"
[ "$(jget principal) $(jget role)" = "carol auditor" ] || fail "claim session JSON"
! grep -q 'ut1_' "$T/body" "$T/hdr" || fail "a token was shown"
CAROL_CK="Cookie: ut_session=$SID"
[ "$(C -X POST -H "$JSON" -d "{\"claim\":\"$CLAIM\"}" "$SRV_URL/v1/session")" = 401 ] ||
	fail "a used claim made a session"
[ "$(C -H "$CAROL_CK" -H "Usetrace-Purpose: audit" "$SRV_URL/v1/audit/entries?limit=1000")" = 200 ] ||
	{ cat "$T/body" >&2; fail "the auditor's cookie"; }
grep -q '"session_start"' "$T/body" || fail "session_start not audited"

# --- Sign-out.
[ "$(C -X DELETE -H "$CK" "$SRV_URL/v1/session")" = 403 ] || fail "sign-out without CSRF"
[ "$(C -H "$CK" "$SRV_URL/v1/session")" = 200 ] || fail "a refused sign-out signed out"
[ "$(C -X DELETE -H "$CK" -H "X-CSRF-Token: $ALICE_CSRF" "$SRV_URL/v1/session")" = 204 ] ||
	{ cat "$T/hdr" "$T/body" >&2; fail "sign-out"; }
hdr Set-Cookie | grep -q '^ut_session=; Path=/; Max-Age=0' || fail "the cookie was not cleared"
[ "$(C -H "$CK" "$SRV_URL/v1/session")" = 401 ] || fail "GET /v1/session after sign-out"
[ "$(C -H "$CK" -H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments")" = 401 ] ||
	fail "the old cookie still works"
[ "$(C -X DELETE -H "$CK" -H "X-CSRF-Token: $ALICE_CSRF" "$SRV_URL/v1/session")" = 401 ] ||
	fail "a second sign-out"
# Bearer still works: the session was the page's, not the token.
[ "$(C -H "Authorization: Bearer $ALICE_TOKEN" -H "Usetrace-Purpose: self-access" \
	"$SRV_URL/v1/my/segments")" = 200 ] || fail "sign-out revoked the token"
[ "$(C -H "$CAROL_CK" -H "Usetrace-Purpose: audit" "$SRV_URL/v1/audit/entries?limit=1000")" = 200 ] ||
	fail "the auditor after alice's sign-out"
grep -q '"session_end"' "$T/body" || fail "session_end not audited"

# --- A restart signs everyone out; the idle timeout ends a session.
# 8 s, not less: under ASan on a loaded machine a sign-in and the next
# call can be seconds apart.
echo '{"session_idle_s": 8}' >"$T/idle.json"
restart_server "$T/data" --config "$T/idle.json"
[ "$(C -H "$CAROL_CK" "$SRV_URL/v1/session")" = 401 ] || fail "a session outlived a restart"
start_session "{\"token\":\"$BOB_TOKEN\"}"
[ "$(jget idle_timeout_s)" = 8 ] || fail "session_idle_s not used"
[ "$(C -H "Cookie: ut_session=$SID" "$SRV_URL/v1/session")" = 200 ] || fail "a fresh session"
sleep 10
[ "$(C -H "Cookie: ut_session=$SID" -H "Usetrace-Purpose: self-access" "$SRV_URL/v1/my/segments")" = 401 ] ||
	fail "an idle session still works"
stop_server
expect_out "^audit ok" "$USETRACE" audit verify --data "$T/data"
echo "web_session: ok"
