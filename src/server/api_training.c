/*
 * api_training.c - what trainers read (purpose `training`): the approved
 * segments' actions, pseudonymised per export.  GET
 * /v1/training/steps?export=NAME answers NDJSON, one line per episode:
 *     {"episode": E, "subject": P, "sensitivity": S, "actions": [...]}
 * E and P are keyed BLAKE2b hashes of the segment and subject ids under
 * the export's own random salt (kept in the metadata store as a setting,
 * made at the export's first read), so the same person has one id within
 * an export and unrelated ids in two exports.  Only segments with an
 * APPROVED assignment (none withdrawn since: a withdrawal withdraws all),
 * still stored, and at or below the export sensitivity of the policy they
 * were recorded under are included; the actions are the reviewer's view
 * (titles re-scanned, no wall-clock time).  Never raw records, names or
 * anything unapproved.  Each episode read is an audit entry with its
 * subject, so exposure reports and `usetrace my audit` show it.
 * (The export formats trainers load are a later part: docs/API.md.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/detect.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/testhooks.h"
#include "usetrace/util.h"
#include "server_int.h"

#define EXPORT_NAME_MAX 48u
#define EPISODES_MAX 100000u

static const uint8_t zero_id[16];   /* an empty slot of the seen set */

/* Unknown policies export nothing above this (0 none .. 4 secret). */
#define UNKNOWN_POLICY_MAX_SENS 1u

bool
srv_export_name_ok(const char *s)
{
	size_t i, n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > EXPORT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
		    s[i] == '-'))
			return false;
	return true;
}

/* The export's salt, made (and stored) on its first read. */
int
srv_export_salt(struct server *s, const char *name, uint8_t salt[32])
{
	char key[META_NAME_MAX];
	size_t n = 32;
	int r;

	snprintf(key, sizeof(key), "export-salt:%s", name);
	r = meta_setting_get(s->meta, key, salt, &n);
	if (r == 0 && n == 32)
		return 0;
	if (r != UT_ENOTFOUND)
		return r < 0 ? r : UT_ECORRUPT;
	randombytes_buf(salt, 32);
	return meta_setting_set(s->meta, key, salt, 32);
}

#define DAY_S 86400ll

/* The clock expiry is judged by: the request's, shifted in test builds. */
static int64_t
expiry_clock_s(const struct srv_req *q)
{
	const char *e = ut_test_env("USETRACE_TEST_EXPORT_SKEW_DAYS");
	int64_t now = q->now_ns / 1000000000ll;
	uint64_t d;

	if (e != NULL && ut_parse_u64(e, &d) == 0 && d <= 36500)
		now += (int64_t)d * DAY_S;
	return now;
}

int
srv_export_expiry(struct srv_req *q, const char *name, char day[11])
{
	char key[META_NAME_MAX];
	uint8_t v[8];
	size_t n = sizeof(v), i;
	int64_t made = 0, until;
	uint64_t u = 0;
	time_t t;
	struct tm tm;
	int r;

	day[0] = '\0';
	snprintf(key, sizeof(key), "export-made:%s", name);
	r = meta_setting_get(q->srv->meta, key, v, &n);
	if (r == UT_ENOTFOUND) { /* made now (or before expiry was kept) */
		u = (uint64_t)expiry_clock_s(q);
		for (i = 0; i < 8; i++)
			v[i] = (uint8_t)(u >> (8 * i));
		if ((r = meta_setting_set(q->srv->meta, key, v, sizeof(v))) < 0)
			return r;
	} else if (r < 0 || n != sizeof(v)) {
		return r < 0 ? r : UT_ECORRUPT;
	}
	for (i = 0, u = 0; i < 8; i++)
		u |= (uint64_t)v[i] << (8 * i);
	made = (int64_t)u;
	until = made + (int64_t)q->srv->default_export_expire_days * DAY_S;
	until -= until % DAY_S;          /* 00:00 UTC of that day */
	t = (time_t)until;
	if (gmtime_r(&t, &tm) == NULL || strftime(day, 11, "%Y-%m-%d", &tm) != 10)
		return UT_EINVAL;
	return expiry_clock_s(q) >= until ? 1 : 0;
}

bool
srv_export_refuse_expired(struct srv_req *q, const char *name, char day[11])
{
	char msg[160];
	int r = srv_export_expiry(q, name, day);

	if (r == 0)
		return false;
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "the export's expiry cannot be read");
		return true;
	}
	snprintf(msg, sizeof(msg), "export %s expired on %s (the policy's "
	    "export.expire): delete it; a new export has a new name", name, day);
	srv_reply_error(q, 410, "export_expired", msg);
	snprintf(q->a_detail, sizeof(q->a_detail), "expired %s", day);
	return true;
}

void
srv_export_pseud(const uint8_t salt[32], const char *what, const uint8_t id[16],
    char out[33])
{
	uint8_t h[16], m[32];
	size_t n = strlen(what);

	memset(m, 0, sizeof(m));
	memcpy(m, what, n < 16 ? n : 16);
	memcpy(m + 16, id, 16);
	crypto_generichash(h, sizeof(h), m, sizeof(m), salt, 32);
	srv_hex(h, sizeof(h), out, 33);
}

struct steps {
	struct srv_req *q;
	const char *name;       /* the export */
	uint8_t salt[32];
	struct detect *d;
	char expires[11];       /* the export's expiry day */
	uint8_t (*seen)[16];    /* set of segment ids (seen_before) */
	size_t nseen, cap;      /* cap: a power of two, or 0 */
	int err;
};

/*
 * True when id was seen before in this export (a segment approved by two
 * reviewers is one episode); else remembers it.  An open-addressing set
 * (ids are random, so their first bytes are the hash), kept at most half
 * full: one probe on average however many segments are approved.
 */
static bool
seen_before(struct steps *st, const uint8_t id[16])
{
	size_t i, mask;
	uint64_t h;

	if (2 * (st->nseen + 1) > st->cap) {
		uint8_t (*old)[16] = st->seen;
		size_t oldcap = st->cap, k;

		st->cap = st->cap ? st->cap * 2 : 256;
		st->seen = xcalloc(st->cap, sizeof(*st->seen));
		st->nseen = 0;
		for (k = 0; k < oldcap; k++)
			if (memcmp(old[k], zero_id, 16) != 0)
				(void)seen_before(st, old[k]);
		free(old);
	}
	mask = st->cap - 1;
	memcpy(&h, id, sizeof(h));
	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		if (memcmp(st->seen[i], zero_id, 16) == 0)
			break;
		if (memcmp(st->seen[i], id, 16) == 0)
			return true;
	}
	memcpy(st->seen[i], id, 16);
	st->nseen++;
	return false;
}

static unsigned
max_sensitivity(struct server *s, const uint8_t policy_hash[32])
{
	if (sodium_memcmp(policy_hash, s->default_policy_hash, 32) == 0)
		return s->default_export_max_sensitivity;
	return UNKNOWN_POLICY_MAX_SENS;
}

bool
srv_export_sensitivity_ok(struct server *s, const struct meta_segment *m)
{
	return m->sensitivity_max <= max_sensitivity(s, m->policy_hash);
}

/* One episode line: {"episode", "subject", "sensitivity", "actions": [...]} */
static int
episode(struct steps *st, const struct meta_assignment *a,
    const struct meta_segment *m)
{
	struct srv_req *q = st->q;
	struct srv_segment g;
	struct srv_render out;
	char seg[33], ep[33], sub[33], con[33], pol[65], head[352], detail[64];
	struct http_response *rs = q->rs;
	const char *p, *end, *nl;
	int r;

	srv_hex(a->segment_id, 16, seg, sizeof(seg));
	srv_hex(a->subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%s", seg);
	r = srv_canary_check(q, a->subject_id, "review");
	q->a_subject[0] = '\0';
	if (r < 0)
		return r;
	if ((r = srv_segment_load(q->srv, a->subject_id, seg, &g)) < 0)
		return r == UT_ENOTFOUND || r == UT_ECRYPTO ? 0 : r; /* erased */
	r = srv_render(&g, false, srv_review_rewrite, st->d, &out);
	srv_segment_free(&g);
	if (r < 0)
		return r;
	srv_export_pseud(st->salt, "episode", a->segment_id, ep);
	srv_export_pseud(st->salt, "subject", a->subject_id, sub);
	srv_export_pseud(st->salt, "consent", m->consent_id, con);
	srv_hex(m->policy_hash, 32, pol, sizeof(pol));
	/* The actions are NDJSON lines: join them into one array. */
	snprintf(head, sizeof(head), "{\"episode\":\"%s\",\"subject\":\"%s\","
	    "\"consent\":\"%s\",\"policy\":\"%s\",\"sensitivity\":%u,"
	    "\"expires\":\"%s\",\"actions\":[", ep, sub, con, pol,
	    (unsigned)m->sensitivity_max, st->expires);
	r = buf_append(&rs->body, head, strlen(head));
	for (p = out.text, end = out.text + out.len; r == 0 && p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p && (r = buf_append(&rs->body, p, (size_t)(nl - p))) == 0 &&
		    nl + 1 < end)
			r = buf_append(&rs->body, ",", 1);
	}
	if (r == 0)
		r = buf_append(&rs->body, "]}\n", 3);
	srv_render_free(&out);
	if (r < 0)
		return UT_ETOOBIG;
	/* One entry per episode, with its subject (exposure, my audit). */
	srv_hex(a->subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%s", seg);
	/* The detail makes the audit log the export's lineage (api_export.c). */
	snprintf(detail, sizeof(detail), "export:%s", st->name);
	r = srv_audit_now(q, "training_read", "ok", detail);
	q->a_subject[0] = '\0';
	return r;
}

static int
step_one(const struct meta_assignment *a, void *arg)
{
	struct steps *st = arg;
	struct meta_segment m;
	int r;

	if (a->state != META_REVIEW_APPROVED || seen_before(st, a->segment_id))
		return 0;
	if (meta_segment_get(st->q->srv->meta, a->segment_id, &m) < 0)
		return 0;   /* erased */
	if (!srv_export_sensitivity_ok(st->q->srv, &m))
		return 0;
	if (st->nseen > EPISODES_MAX)
		return 1;
	if ((r = episode(st, a, &m)) < 0) {
		st->err = r;
		return 1;
	}
	return 0;
}

/* GET /v1/training/steps?export=NAME */
void
api_training_steps(struct srv_req *q)
{
	const char *name = http_request_arg(q->rq, "export");
	struct steps st;
	int r;

	memset(&st, 0, sizeof(st));
	st.q = q;
	st.name = name;
	if (!srv_export_name_ok(name)) {
		srv_reply_error(q, 400, "bad_request", "export=NAME is required "
		    "(1-48 characters of A-Z a-z 0-9 . _ -)");
		return;
	}
	snprintf(q->a_object, sizeof(q->a_object), "export:%s", name);
	if (srv_export_refuse_expired(q, name, st.expires))
		return;
	if ((r = srv_export_salt(q->srv, name, st.salt)) < 0 ||
	    (st.d = srv_review_detect()) == NULL) {
		srv_reply_error(q, 500, "internal", "cannot start the export");
		goto out;
	}
	buf_reset(&q->rs->body);
	r = meta_assignment_list(q->srv->meta, 0, step_one, &st);
	if (r < 0 || st.err < 0) {
		log_error("serve: training export %s: %s", name,
		    ut_strerror(r < 0 ? r : st.err));
		srv_reply_error(q, 500, "internal", "the export could not be read");
		goto out;
	}
	snprintf(q->a_object, sizeof(q->a_object), "export:%s", name);
	snprintf(q->a_detail, sizeof(q->a_detail), "%zu approved segment(s) seen",
	    st.nseen);
	q->rs->status = 200;
	snprintf(q->rs->content_type, sizeof(q->rs->content_type),
	    "application/x-ndjson");
	srv_no_store(q);
out:
	detect_destroy(st.d);
	sodium_memzero(st.salt, sizeof(st.salt));
	free(st.seen);
}
