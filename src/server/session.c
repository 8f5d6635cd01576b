/*
 * session.c - the web page's sign-ins: server-side sessions behind a
 * cookie that holds only the session id (docs/WEB.md).
 *
 * POST /v1/session turns a token (or a claim code, exactly as POST
 * /v1/login does) into a session; the cookie ut_session=ID (HttpOnly,
 * Secure, SameSite=Strict) then stands in for "Authorization: Bearer" on
 * every route, with the same role checks, answers and audit entries
 * (routes.c authenticate()).  A request authenticated by the cookie that
 * may change anything (any method but GET) must carry X-CSRF-Token equal
 * to the session's CSRF token and must not say Sec-Fetch-Site: cross-site.
 *
 * Invariants (all under mu):
 *  (1) The store holds per session: the BLAKE2b hash of its id (never the
 *      id), the hash of the token it stands for (a token made from a claim
 *      is never kept as text, nor shown to the page), the CSRF token, the
 *      principal's id and two monotonic times.  All in sodium_malloc'd
 *      memory, wiped when a session ends and when the store closes.
 *  (2) A session lives while it is used at least every session_idle_s and
 *      at most SRV_SESSION_LIFETIME_S from its start; a dead one is wiped
 *      when next met.  The store lives in memory: a restart signs everyone
 *      out.
 *  (3) At most SRV_SESSION_MAX sessions, SRV_SESSION_PER_PRINCIPAL per
 *      principal (a new one ends that principal's least recently used);
 *      when the store is full of live sessions a new one is refused (503).
 *  (4) Lookups compare hashes with sodium_memcmp (constant time), as is the
 *      CSRF token.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

#define NS_PER_S 1000000000ULL
#define SID_BYTES 32
#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SID_TEXT (sodium_base64_ENCODED_LEN(SID_BYTES, B64URL))  /* with NUL */
#define CSRF_TEXT SID_TEXT
#define COOKIE_NAME "ut_session"

struct sess {
	bool used;
	uint8_t id_hash[32];
	uint8_t token_hash[32];
	char csrf[CSRF_TEXT];
	int64_t principal_id;
	uint64_t start_ns, last_ns;       /* monotonic */
};

struct srv_sessions {
	pthread_mutex_t mu;
	struct sess *v;                   /* SRV_SESSION_MAX, sodium_allocarray */
	uint64_t idle_ns;
};

int
srv_sessions_open(struct server *s)
{
	struct srv_sessions *ss = xcalloc(1, sizeof(*ss));

	ss->v = sodium_allocarray(SRV_SESSION_MAX, sizeof(struct sess));
	if (ss->v == NULL) {
		free(ss);
		return -ENOMEM;
	}
	memset(ss->v, 0, SRV_SESSION_MAX * sizeof(struct sess));
	pthread_mutex_init(&ss->mu, NULL);
	ss->idle_ns = (uint64_t)s->cfg.session_idle_s * NS_PER_S;
	s->sessions = ss;
	return 0;
}

void
srv_sessions_close(struct server *s)
{
	struct srv_sessions *ss = s->sessions;

	if (ss == NULL)
		return;
	sodium_free(ss->v);               /* wipes (1) */
	pthread_mutex_destroy(&ss->mu);
	free(ss);
	s->sessions = NULL;
}

static void
id_hash(const char *sid, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"UT-SESSION1", 11);
	crypto_generichash_update(&st, (const uint8_t *)sid, strlen(sid));
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

static void
wipe(struct sess *e)
{
	sodium_memzero(e, sizeof(*e));
}

static bool
alive(const struct srv_sessions *ss, const struct sess *e, uint64_t now)
{
	return e->used && now - e->last_ns < ss->idle_ns &&
	    now - e->start_ns < (uint64_t)SRV_SESSION_LIFETIME_S * NS_PER_S;
}

/* The live session with this id, or NULL (a dead one met is wiped).  mu held. */
static struct sess *
find(struct srv_sessions *ss, const char *sid, uint64_t now)
{
	uint8_t h[32];
	struct sess *hit = NULL;
	size_t i;

	id_hash(sid, h);
	for (i = 0; i < SRV_SESSION_MAX; i++) {
		struct sess *e = &ss->v[i];

		if (!e->used)
			continue;
		if (sodium_memcmp(e->id_hash, h, 32) == 0)
			hit = e;
	}
	sodium_memzero(h, sizeof(h));
	if (hit != NULL && !alive(ss, hit, now)) {
		wipe(hit);
		hit = NULL;
	}
	return hit;
}

/* The ut_session cookie's value into out (SID_TEXT); false when absent. */
static bool
cookie_sid(const struct http_request *rq, char out[SID_TEXT])
{
	const char *h = http_request_header(rq, "Cookie"), *p, *e;
	size_t n;

	if (h == NULL)
		return false;
	for (p = h; *p != '\0';) {
		while (*p == ' ' || *p == '\t')
			p++;
		e = strchr(p, ';');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > sizeof(COOKIE_NAME) && memcmp(p, COOKIE_NAME "=",
		    sizeof(COOKIE_NAME)) == 0) {
			n -= sizeof(COOKIE_NAME);
			if (n != SID_TEXT - 1)
				return false;
			memcpy(out, p + sizeof(COOKIE_NAME), n);
			out[n] = '\0';
			return true;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

/*
 * Looks the request's session up and marks it used; 0 with its token hash,
 * CSRF and principal id; UT_ENOTFOUND without a cookie; UT_EDENIED when the
 * cookie names no live session.
 */
static int
session_use(struct srv_req *q, uint8_t token_hash[32], char csrf[CSRF_TEXT],
    int64_t *principal_id)
{
	struct srv_sessions *ss = q->srv->sessions;
	char sid[SID_TEXT];
	struct sess *e;
	uint64_t now = ut_now_mono_ns();
	int r = UT_EDENIED;

	if (!cookie_sid(q->rq, sid))
		return http_request_header(q->rq, "Cookie") != NULL &&
		    strstr(http_request_header(q->rq, "Cookie"), COOKIE_NAME "=") !=
		    NULL ? UT_EDENIED : UT_ENOTFOUND;
	pthread_mutex_lock(&ss->mu);
	if ((e = find(ss, sid, now)) != NULL) {
		e->last_ns = now;
		memcpy(token_hash, e->token_hash, 32);
		memcpy(csrf, e->csrf, CSRF_TEXT);
		*principal_id = e->principal_id;
		r = 0;
	}
	pthread_mutex_unlock(&ss->mu);
	sodium_memzero(sid, sizeof(sid));
	return r;
}

int
srv_session_auth(struct srv_req *q)
{
	char csrf[CSRF_TEXT];
	int64_t pid;
	int r;

	if (http_request_header(q->rq, "Authorization") != NULL)
		return 0;
	r = session_use(q, q->token_hash, csrf, &pid);
	sodium_memzero(csrf, sizeof(csrf));
	if (r == UT_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	q->via_session = true;
	return 1;
}

/* X-CSRF-Token equals csrf (constant time) and the fetch is not cross-site. */
static bool
csrf_ok(const struct http_request *rq, const char *csrf)
{
	const char *site = http_request_header(rq, "Sec-Fetch-Site");
	const char *h = http_request_header(rq, "X-CSRF-Token");

	if (site != NULL && strcasecmp(site, "cross-site") == 0)
		return false;
	return h != NULL && strlen(h) == strlen(csrf) &&
	    sodium_memcmp(h, csrf, strlen(csrf)) == 0;
}

static void
refuse_csrf(struct srv_req *q)
{
	snprintf(q->a_detail, sizeof(q->a_detail), "%s %.60s: csrf",
	    q->rq->method, q->rq->path);
	q->a_outcome = "denied";
	srv_reply_error(q, 403, "csrf", "this change needs the page's X-CSRF-Token "
	    "and must not come from another site");
}

int
srv_session_csrf(struct srv_req *q)
{
	uint8_t th[32];
	char csrf[CSRF_TEXT];
	int64_t pid;
	bool ok;

	if (!q->via_session || strcmp(q->rq->method, "GET") == 0 ||
	    strcmp(q->rq->method, "HEAD") == 0)
		return 0;
	if (session_use(q, th, csrf, &pid) < 0)
		ok = false;
	else
		ok = csrf_ok(q->rq, csrf);
	sodium_memzero(th, sizeof(th));
	sodium_memzero(csrf, sizeof(csrf));
	if (ok)
		return 0;
	refuse_csrf(q);
	return UT_EDENIED;
}

/* A new session for the token; 0 with the cookie's id and the CSRF token. */
static int
session_new(struct server *s, const uint8_t token_hash[32], int64_t principal_id,
    char sid[SID_TEXT], char csrf[CSRF_TEXT])
{
	struct srv_sessions *ss = s->sessions;
	uint8_t raw[SID_BYTES];
	uint64_t now = ut_now_mono_ns();
	struct sess *slot = NULL, *lru = NULL;
	unsigned mine = 0;
	size_t i;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(sid, SID_TEXT, raw, sizeof(raw), B64URL);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(csrf, CSRF_TEXT, raw, sizeof(raw), B64URL);
	sodium_memzero(raw, sizeof(raw));
	pthread_mutex_lock(&ss->mu);
	for (i = 0; i < SRV_SESSION_MAX; i++) {
		struct sess *e = &ss->v[i];

		if (e->used && !alive(ss, e, now))
			wipe(e);                  /* (2) */
		if (!e->used) {
			if (slot == NULL)
				slot = e;
			continue;
		}
		if (e->principal_id == principal_id) {
			mine++;
			if (lru == NULL || e->last_ns < lru->last_ns)
				lru = e;
		}
	}
	if (mine >= SRV_SESSION_PER_PRINCIPAL && lru != NULL) {
		wipe(lru);                        /* (3) */
		if (slot == NULL)
			slot = lru;
	}
	if (slot != NULL) {
		slot->used = true;
		id_hash(sid, slot->id_hash);
		memcpy(slot->token_hash, token_hash, 32);
		memcpy(slot->csrf, csrf, CSRF_TEXT);
		slot->principal_id = principal_id;
		slot->start_ns = slot->last_ns = now;
	}
	pthread_mutex_unlock(&ss->mu);
	if (slot == NULL) {
		sodium_memzero(sid, SID_TEXT);
		sodium_memzero(csrf, CSRF_TEXT);
		return UT_EFULL;
	}
	return 0;
}

static void
reply_session(struct srv_req *q, const struct meta_principal *p, const char *csrf)
{
	srv_no_store(q);
	srv_reply_json(q, 200, json_pack("{s:s, s:s, s:s, s:I}", "principal", p->name,
	    "role", ut_role_name(p->role), "csrf", csrf, "idle_timeout_s",
	    (json_int_t)q->srv->cfg.session_idle_s));
}

static void
unauthorized(struct srv_req *q, const char *what)
{
	audit_note_auth_failure(q->srv->audit, q->rq->client_ip, what);
	q->no_audit = true;             /* (routes.c invariant 3) */
	srv_reply_error(q, 401, "unauthorized", "no such session, or it ended");
}

/* The person of a token hash, as routes.c authenticate() checks it. */
static int
token_person(struct srv_req *q, const uint8_t hash[32], struct meta_principal *p)
{
	struct meta_token t;
	int r;

	if ((r = meta_token_lookup(q->srv->meta, hash, q->now_ns, &t)) < 0)
		return r;
	if (t.device_id != 0)
		return UT_EDENIED;
	if ((r = meta_principal_get(q->srv->meta, t.principal_id, p)) < 0)
		return r;
	return p->revoked_ns != 0 ? UT_EDENIED : 0;
}

static bool
cross_site(const struct srv_req *q)
{
	const char *site = http_request_header(q->rq, "Sec-Fetch-Site");

	return site != NULL && strcasecmp(site, "cross-site") == 0;
}

/* POST /v1/session {"token"} or {"claim"}: a session and its cookie. */
void
api_session_start(struct srv_req *q)
{
	json_t *body;
	struct meta_principal p;
	struct meta_token t;
	const char *tok, *claim;
	char token[SRV_TOKEN_TEXT_MAX], sid[SID_TEXT], csrf[CSRF_TEXT];
	char cookie[SID_TEXT + 64];
	bool device = false;
	int r;

	memset(token, 0, sizeof(token));
	memset(&t, 0, sizeof(t));
	if (cross_site(q)) {
		refuse_csrf(q);
		return;
	}
	if ((body = srv_body_json(q)) == NULL)
		return;
	tok = json_string_value(json_object_get(body, "token"));
	claim = json_string_value(json_object_get(body, "claim"));
	if ((tok == NULL) == (claim == NULL)) {
		srv_reply_error(q, 400, "bad_request",
		    "give exactly one of \"token\" and \"claim\"");
		goto out;
	}
	if (tok != NULL) {
		if (srv_token_hash(tok, &device, t.hash) < 0 || device ||
		    token_person(q, t.hash, &p) < 0) {
			unauthorized(q, "bad token");
			goto out;
		}
		snprintf(q->a_principal, sizeof(q->a_principal), "%s", p.name);
		if (p.role == UT_ROLE_SUBJECT)
			srv_hex(p.subject_id, 16, q->a_subject, sizeof(q->a_subject));
		snprintf(q->a_detail, sizeof(q->a_detail), "from a token");
	} else {
		if (srv_claim_take(q, claim, token, &t, &p) < 0) {
			/* The claim's own answer (audited as /v1/login's), as 401. */
			if (q->rs->status < 500)
				q->rs->status = 401;
			goto out;
		}
		snprintf(q->a_detail, sizeof(q->a_detail), "from a claim code");
	}
	if ((r = session_new(q->srv, t.hash, p.id, sid, csrf)) < 0) {
		q->a_outcome = "refused";
		srv_reply_error(q, 503, "unavailable",
		    "too many sessions are open; try again later");
		goto out;
	}
	snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s; Path=/; HttpOnly; "
	    "Secure; SameSite=Strict", sid);
	if (http_response_header(q->rs, "Set-Cookie", cookie) < 0)
		srv_reply_error(q, 500, "internal", "cannot set the cookie");
	else
		reply_session(q, &p, csrf);
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(sid, sizeof(sid));
	sodium_memzero(csrf, sizeof(csrf));
out:
	sodium_memzero(token, sizeof(token));
	sodium_memzero(&t, sizeof(t));
	json_decref(body);
}

/* GET /v1/session: who the session is (and its CSRF token), or 401. */
void
api_session_get(struct srv_req *q)
{
	struct meta_principal p;
	uint8_t th[32];
	char csrf[CSRF_TEXT];
	int64_t pid;

	if (session_use(q, th, csrf, &pid) < 0 || token_person(q, th, &p) < 0 ||
	    p.id != pid)
		unauthorized(q, "bad session");
	else
		reply_session(q, &p, csrf);
	sodium_memzero(th, sizeof(th));
	sodium_memzero(csrf, sizeof(csrf));
}

/* DELETE /v1/session (X-CSRF-Token): ends the session, clears the cookie. */
void
api_session_end(struct srv_req *q)
{
	struct srv_sessions *ss = q->srv->sessions;
	struct meta_principal p;
	char sid[SID_TEXT];
	struct sess *e;
	bool ok = false, csrf = false;

	memset(&p, 0, sizeof(p));
	if (!cookie_sid(q->rq, sid)) {
		unauthorized(q, "bad session");
		return;
	}
	pthread_mutex_lock(&ss->mu);
	if ((e = find(ss, sid, ut_now_mono_ns())) != NULL) {
		ok = true;
		csrf = csrf_ok(q->rq, e->csrf);
		p.id = e->principal_id;
		if (csrf)
			wipe(e);                  /* (1) */
	}
	pthread_mutex_unlock(&ss->mu);
	sodium_memzero(sid, sizeof(sid));
	if (!ok) {
		unauthorized(q, "bad session");
		return;
	}
	if (meta_principal_get(q->srv->meta, p.id, &p) == 0) {
		snprintf(q->a_principal, sizeof(q->a_principal), "%s", p.name);
		if (p.role == UT_ROLE_SUBJECT)
			srv_hex(p.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	}
	if (!csrf) {
		refuse_csrf(q);
		return;
	}
	(void)http_response_header(q->rs, "Set-Cookie", COOKIE_NAME "=; Path=/; "
	    "Max-Age=0; HttpOnly; Secure; SameSite=Strict");
	srv_no_store(q);
	buf_reset(&q->rs->body);
	q->rs->status = 204;
	q->rs->content_type[0] = '\0';
}
