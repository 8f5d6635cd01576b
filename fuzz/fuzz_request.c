/*
 * fuzz_request.c - the server's request handling without a network:
 * srv_dispatch() (route match, authentication, role x purpose, the
 * handlers and their JSON body parsing, the audit append) on synthetic
 * requests, against one server state built at the first call in a
 * temporary directory (srv_test_open(), src/server/server_test.h).
 *
 * Input bytes:
 *   [0]  method: GET, POST, PUT, DELETE (low 2 bits)
 *   [1]  caller, low 3 bits: no Authorization / "Bearer" + garbage / a
 *        well-formed token the server never issued / the admin's token /
 *        a subject's token / that subject's device token / an expired
 *        token of the subject / another scheme ("Basic ...");
 *        bits 3-6, the Usetrace-Purpose header: 0 none, 1-7 one of the
 *        fixed list, 8 garbage, 9-15 the purpose of the first route whose
 *        method and path match (so that handlers are reached often)
 *   then the path up to the first '\n' (a '?' starts the query; cut at a
 *   NUL, as the transport hands C strings), then the body.  As the
 *   transport does, a body over the route's cap (srv_body_cap) and a URI
 *   over 8 KiB never reach the dispatcher.
 *
 * The identities are made through the API itself at the first call (the
 * admin adds a subject, who claims her token, mints an enrollment code and
 * enrolls a device key), and made again under new names after any input
 * that revoked or erased something successfully.  Every RESET_EVERY inputs
 * the whole state is thrown away and made again: people, audit rows and
 * key files pile up otherwise, and every erasure rewrites the key
 * generation of all subjects, so the fuzzer slowed down tenfold.
 *
 * Header lookups: routes.c asks http_request_header(), which reads the
 * libmicrohttpd connection.  This target links with
 * -Wl,--wrap=http_request_header: requests it built (conn == &fake_conn)
 * are answered from its own header table, any other from the real one.
 *
 * Properties checked (abort on violation): the status is 100..499 (no
 * input gets a 5xx: the state is healthy, so a 5xx is a bug); an
 * application/json body parses as JSON; a 4xx body is exactly
 * {"error": string, "message": string}; no response carries any token
 * the caller could present.  Leaks and undefined behaviour are ASan's.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/http.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "../src/server/server_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__real_http_request_header(const struct http_request *rq,
    const char *name);
const char *__wrap_http_request_header(const struct http_request *rq,
    const char *name);

#define URI_MAX 8192u
#define RESET_EVERY 1000u
#define ENROLL_CTX "UT-ENROLL1"

static const char *const methods[4] = { "GET", "POST", "PUT", "DELETE" };
static const char *const purposes[8] = { NULL, "self-access", "erasure",
	"review", "training", "administration", "audit", "ingest" };

enum { C_NONE, C_GARBAGE, C_UNKNOWN, C_ADMIN, C_SUBJECT, C_DEVICE,
	C_EXPIRED, C_SCHEME, C_COUNT };

static struct {
	char dir[256];
	struct server *srv;
	unsigned generation;
	unsigned long inputs;
	bool atexit_set;
	char tok[C_COUNT][SRV_TOKEN_TEXT_MAX + 16];
	char unknown_dev[SRV_TOKEN_TEXT_MAX];
} F;

/* The headers of the request being dispatched (conn == &fake_conn). */
static int fake_conn;
static const char *h_auth, *h_purpose;

const char *
__wrap_http_request_header(const struct http_request *rq, const char *name)
{
	if (rq == NULL || rq->conn != &fake_conn)
		return __real_http_request_header(rq, name);
	if (name != NULL && strcasecmp(name, "Authorization") == 0)
		return h_auth;
	if (name != NULL && strcasecmp(name, "Usetrace-Purpose") == 0)
		return h_purpose;
	return NULL;
}

/* One request through the dispatcher into *rs (the caller frees rs->body). */
static unsigned
call(const char *method, const char *path, const char *query, const char *auth,
    const char *purpose, const uint8_t *body, size_t len, struct http_response *rs)
{
	struct http_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.query = query != NULL ? query : "";
	rq.client_ip = "192.0.2.7";
	rq.body = len > 0 ? body : NULL;
	rq.body_len = len;
	rq.conn = &fake_conn;
	h_auth = auth;
	h_purpose = purpose;
	memset(rs, 0, sizeof(*rs));
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "application/json");
	buf_init(&rs->body, HTTP_RESPONSE_MAX);
	srv_dispatch(F.srv, &rq, rs);
	h_auth = h_purpose = NULL;
	return rs->status;
}

/* A setup call that must answer `want` with a JSON object; returns its string key. */
static void
setup_call(const char *method, const char *path, const char *token,
    const char *purpose, const char *body, unsigned want, const char *key,
    char *out, size_t outsz)
{
	struct http_response rs;
	char auth[SRV_TOKEN_TEXT_MAX + 16];
	json_t *j;
	const char *v;

	snprintf(auth, sizeof(auth), "Bearer %s", token != NULL ? token : "");
	if (call(method, path, NULL, token != NULL ? auth : NULL, purpose,
	    (const uint8_t *)body, body != NULL ? strlen(body) : 0, &rs) != want) {
		fprintf(stderr, "fuzz_request setup: %s %s: %u %.*s\n", method, path,
		    rs.status, (int)rs.body.len, (const char *)rs.body.data);
		abort();
	}
	j = json_loadb((const char *)rs.body.data, rs.body.len, 0, NULL);
	v = json_string_value(json_object_get(j, key));
	if (v == NULL || strlen(v) >= outsz)
		abort();
	snprintf(out, outsz, "%s", v);
	json_decref(j);
	buf_finish(&rs.body);
}

/*
 * Makes the identities of generation F.generation: an admin (in the store
 * directly), a subject through the API, her device enrolled through the
 * API, an expired token of hers.
 */
static void
make_identities(void)
{
	struct meta_principal p, subj;
	struct meta_token t;
	uint8_t pk[32], sk[64], sig[64], *m;
	char name[64], body[1024], code[SRV_CODE_TEXT_MAX + 8], pkb[64], sigb[96];
	int64_t id, now = ut_now_wall_ns();
	size_t n, cl;

	F.generation++;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "fz-admin-%u", F.generation);
	p.role = UT_ROLE_ADMIN;
	p.created_ns = now;
	memset(&t, 0, sizeof(t));
	if (meta_principal_add(F.srv->meta, &p, &id) < 0)
		abort();
	srv_token_new(false, F.tok[C_ADMIN], t.hash);
	t.principal_id = id;
	t.expires_ns = now + 86400LL * 1000000000LL;
	if (meta_token_add(F.srv->meta, &t) < 0)
		abort();

	snprintf(name, sizeof(name), "fz-subject-%u", F.generation);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"role\":\"subject\"}", name);
	setup_call("POST", "/v1/admin/principals", F.tok[C_ADMIN], "administration",
	    body, 201, "claim", code, sizeof(code));
	snprintf(body, sizeof(body), "{\"claim\":\"%s\"}", code);
	setup_call("POST", "/v1/login", NULL, NULL, body, 200, "token",
	    F.tok[C_SUBJECT], sizeof(F.tok[C_SUBJECT]));
	setup_call("POST", "/v1/my/enroll-codes", F.tok[C_SUBJECT], "self-access",
	    NULL, 201, "code", code, sizeof(code));

	crypto_sign_keypair(pk, sk);
	cl = strlen(code);
	n = strlen(ENROLL_CTX) + cl + 1 + strlen(F.srv->pin) + 1 + 32;
	m = xmalloc(n);
	memcpy(m, ENROLL_CTX, strlen(ENROLL_CTX));
	memcpy(m + strlen(ENROLL_CTX), code, cl + 1);
	memcpy(m + strlen(ENROLL_CTX) + cl + 1, F.srv->pin, strlen(F.srv->pin) + 1);
	memcpy(m + n - 32, pk, 32);
	crypto_sign_detached(sig, NULL, m, n, sk);
	free(m);
	srv_b64(pk, 32, pkb, sizeof(pkb));
	srv_b64(sig, 64, sigb, sizeof(sigb));
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"pin\":\"%s\","
	    "\"device_pk\":\"%s\",\"sig\":\"%s\"}", code, F.srv->pin, pkb, sigb);
	setup_call("POST", "/v1/enroll", NULL, NULL, body, 201, "device_token",
	    F.tok[C_DEVICE], sizeof(F.tok[C_DEVICE]));
	sodium_memzero(sk, sizeof(sk));

	/* An expired token of the subject's. */
	if (meta_principal_by_name(F.srv->meta, name, &subj) < 0)
		abort();
	memset(&t, 0, sizeof(t));
	srv_token_new(false, F.tok[C_EXPIRED], t.hash);
	t.principal_id = subj.id;
	t.expires_ns = now - 1000000000LL;
	if (meta_token_add(F.srv->meta, &t) < 0)
		abort();
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
teardown(void)
{
	srv_test_close(F.srv);
	F.srv = NULL;
	(void)nftw(F.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init(void)
{
	char data[300];
	uint8_t h[32];
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	/* Logs of 4xx answers are expected by the thousand. */
	ut_log_set_level(UT_LOG_ERROR);
	snprintf(F.dir, sizeof(F.dir), "%s/ut-fuzz-request.XXXXXX", tmp);
	if (mkdtemp(F.dir) == NULL)
		abort();
	snprintf(data, sizeof(data), "%s/data", F.dir);
	if (srv_test_open(data, NULL, &F.srv) < 0)
		abort();
	if (!F.atexit_set)
		atexit(teardown);
	F.atexit_set = true;
	F.generation = 0;
	snprintf(F.tok[C_GARBAGE], sizeof(F.tok[C_GARBAGE]), "Bearer ut1_%s",
	    "not-a-token-at-all");
	srv_token_new(false, F.tok[C_UNKNOWN], h);
	srv_token_new(true, F.unknown_dev, h);
	snprintf(F.tok[C_SCHEME], sizeof(F.tok[C_SCHEME]), "Basic %s",
	    "YWRtaW46YWRtaW4=");
	make_identities();
}

/* The purpose of the first route whose method and path match, or NULL. */
static const char *
route_purpose(const char *method, const char *path)
{
	const struct srv_route *rt;
	size_t i, n;

	rt = srv_routes(&n);
	for (i = 0; i < n; i++) {
		const char *p = rt[i].pattern, *s = path;

		if (strcmp(rt[i].method, method) != 0)
			continue;
		/* A rough match: literal segments equal, {x} any segment. */
		while (*p != '\0' && *s != '\0') {
			if (*p == '{') {
				p = strchr(p, '}') + 1;
				s += strcspn(s, "/");
			} else if (*p++ != *s++)
				break;
		}
		if (*p == '\0' && *s == '\0')
			return rt[i].purpose != SRV_P_NONE ?
			    srv_purpose_name(rt[i].purpose) : NULL;
	}
	return NULL;
}

/* Does p hold needle?  (Not memmem: libFuzzer would learn the tokens.) */
static bool
holds(const uint8_t *p, size_t n, const char *needle)
{
	size_t i, k = strlen(needle);

	for (i = 0; k > 0 && i + k <= n; i++) {
		size_t j = 0;

		while (j < k && p[i + j] == (uint8_t)needle[j])
			j++;
		if (j == k)
			return true;
	}
	return false;
}

/*
 * Does the response hold a token a caller could present, that the input
 * did not carry in its path or body (an echo of those is not a leak)?
 */
static bool
leaks_token(const struct http_response *rs, const uint8_t *in, size_t inlen)
{
	size_t i;

	for (i = C_GARBAGE; i < C_COUNT; i++) {
		const char *t = F.tok[i];

		if (i == C_SCHEME)
			continue;
		if (i == C_GARBAGE)
			t += strlen("Bearer ");
		if (holds(rs->body.data, rs->body.len, t) && !holds(in, inlen, t))
			return true;
	}
	return false;
}

static void
check_response(const struct http_response *rs, const uint8_t *in, size_t inlen)
{
	json_t *j = NULL;

	if (rs->status < 100 || rs->status >= 500) {
		fprintf(stderr, "fuzz_request: status %u: %.*s\n", rs->status,
		    (int)rs->body.len, (const char *)rs->body.data);
		abort();
	}
	if (strncmp(rs->content_type, "application/json", 16) == 0) {
		j = json_loadb((const char *)rs->body.data, rs->body.len, 0, NULL);
		if (j == NULL) {
			fprintf(stderr, "fuzz_request: a JSON response that is not JSON\n");
			abort();
		}
	}
	if (rs->status >= 400) {
		if (j == NULL || json_object_size(j) != 2 ||
		    !json_is_string(json_object_get(j, "error")) ||
		    !json_is_string(json_object_get(j, "message"))) {
			fprintf(stderr, "fuzz_request: %u without a JSON error body\n",
			    rs->status);
			abort();
		}
	}
	json_decref(j);
	if (leaks_token(rs, in, inlen)) {
		fprintf(stderr, "fuzz_request: a response carries a token\n");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response rs;
	const char *method, *purpose, *auth = NULL, *nl;
	char *path, *query, authbuf[SRV_TOKEN_TEXT_MAX + 16];
	const uint8_t *body;
	size_t plen, blen;
	unsigned caller, pbits;

	if (F.srv != NULL && ++F.inputs % RESET_EVERY == 0)
		teardown();
	if (F.srv == NULL)
		init();
	if (size < 2)
		return 0;
	method = methods[data[0] & 3];
	caller = data[1] & 7;
	pbits = (data[1] >> 3) & 15;
	data += 2;
	size -= 2;
	nl = memchr(data, '\n', size);
	plen = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	body = nl != NULL ? (const uint8_t *)nl + 1 : NULL;
	blen = nl != NULL ? size - plen - 1 : 0;
	if (plen > URI_MAX)
		return 0;       /* the transport answers 414 */
	path = xmalloc(plen + 1);
	memcpy(path, data, plen);
	path[plen] = '\0';
	query = strchr(path, '?');
	if (query != NULL)
		*query++ = '\0';
	if (blen > srv_body_cap(F.srv, method, path)) {
		free(path);
		return 0;       /* the transport answers 413 */
	}
	switch (caller) {
	case C_NONE:
		break;
	case C_GARBAGE:
	case C_SCHEME:
		auth = F.tok[caller];
		break;
	default:
		snprintf(authbuf, sizeof(authbuf), "Bearer %s",
		    caller == C_UNKNOWN && (pbits & 1) ? F.unknown_dev : F.tok[caller]);
		auth = authbuf;
	}
	if (pbits == 0)
		purpose = NULL;
	else if (pbits < 8)
		purpose = purposes[pbits];
	else if (pbits == 8)
		purpose = "self-access, ingest";
	else
		purpose = route_purpose(method, path);
	call(method, path, query, auth, purpose, body, blen, &rs);
	check_response(&rs, data, size);
	/* Something of ours revoked or erased: fresh identities. */
	if (rs.status < 300 && strcmp(method, "POST") == 0 &&
	    (strstr(path, "revoke") != NULL || strstr(path, "erase") != NULL))
		make_identities();
	buf_finish(&rs.body);
	sodium_memzero(authbuf, sizeof(authbuf));
	free(path);
	return 0;
}
