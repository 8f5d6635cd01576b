/*
 * api_export.c - what a trainer needs beyond the steps (api_training.c) to
 * build and keep an export: the frame seen before each step, and which
 * episodes of an export have since been erased or withdrawn.
 *
 * Lineage (export -> segments) is the audit log itself: every episode a
 * trainer reads for export NAME is an audit entry `training_read` with the
 * segment as object and "export:NAME" as detail, written before the data
 * was returned.  So the lineage is as durable and tamper-evident as the
 * log, needs no table of its own, and is never shown to the trainer: the
 * trainer only ever sees episode ids, keyed hashes of the segment ids
 * under the export's own salt.
 *
 *   GET /v1/training/frames?export=NAME&episode=E&frame=F
 *       one stored frame of an episode the caller exported, as PNG
 *       (still approved, still stored, under the threshold: else 404;
 *       410 once the export has expired)
 *   GET /v1/training/revoked?export=NAME
 *       {"export", "episodes": N, "revoked": [E, ...], "expires": DAY,
 *       "expired": B}: the caller's episodes of NAME whose segment was
 *       erased, withdrawn from review, or recorded under a consent
 *       withdrawn since, and the export's expiry (answered after it too)
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

#define LINEAGE_MAX 1000000u

struct lineage_item {
	uint8_t segment[16];
	uint8_t subject[16];
	char episode[33];
};

struct lineage {
	const char *detail;        /* "export:NAME" */
	struct lineage_item *v;
	size_t n, alloc;
	int err;
};

static int
hex16(const char *s, uint8_t out[16])
{
	size_t n;

	if (strlen(s) != 32 || sodium_hex2bin(out, 16, s, 32, NULL, &n, NULL) != 0 ||
	    n != 16)
		return UT_EPARSE;
	return 0;
}

static int
lineage_row(const struct meta_audit_row *r, void *arg)
{
	struct lineage *l = arg;
	struct lineage_item *it;
	size_t i;
	uint8_t seg[16], sub[16];

	if (strcmp(r->action, "training_read") != 0 || strcmp(r->outcome, "ok") != 0 ||
	    strcmp(r->detail, l->detail) != 0 || strncmp(r->object, "segment:", 8) != 0 ||
	    hex16(r->object + 8, seg) != 0 || hex16(r->subject, sub) != 0)
		return 0;
	for (i = 0; i < l->n; i++) /* episodes read twice are one */
		if (memcmp(l->v[i].segment, seg, 16) == 0)
			return 0;
	if (l->n == LINEAGE_MAX) {
		l->err = UT_ETOOBIG;
		return 1;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 64;
		l->v = xreallocarray(l->v, l->alloc, sizeof(*l->v));
	}
	it = &l->v[l->n++];
	memcpy(it->segment, seg, 16);
	memcpy(it->subject, sub, 16);
	return 0;
}

/*
 * The caller's lineage of export name, with each episode id; 0 or a
 * negative code.  The caller frees l->v.
 */
static int
lineage_load(struct srv_req *q, const char *name, struct lineage *l)
{
	struct meta_audit_query aq;
	char detail[64];
	uint8_t salt[32];
	size_t i;
	int r;

	memset(l, 0, sizeof(*l));
	snprintf(detail, sizeof(detail), "export:%s", name);
	l->detail = detail;
	memset(&aq, 0, sizeof(aq));
	aq.principal = q->a_principal;
	r = meta_audit_query(q->srv->meta, &aq, lineage_row, l);
	l->detail = NULL;
	if (r < 0 || l->err < 0)
		return r < 0 ? r : l->err;
	if (l->n == 0)
		return 0;
	if ((r = srv_export_salt(q->srv, name, salt)) < 0)
		return r;
	for (i = 0; i < l->n; i++)
		srv_export_pseud(salt, "episode", l->v[i].segment, l->v[i].episode);
	sodium_memzero(salt, sizeof(salt));
	return 0;
}

/* Segments with an approved assignment now (a withdrawal withdraws all). */
struct approved {
	const struct lineage *l;
	bool *ok;
};

static int
approved_one(const struct meta_assignment *a, void *arg)
{
	struct approved *ap = arg;
	size_t i;

	if (a->state != META_REVIEW_APPROVED)
		return 0;
	for (i = 0; i < ap->l->n; i++)
		if (memcmp(ap->l->v[i].segment, a->segment_id, 16) == 0)
			ap->ok[i] = true;
	return 0;
}

/*
 * Fills ok[i]: lineage item i may still be exported (approved, stored,
 * under the threshold, its consent in force).  0 or a negative code.
 */
static int
still_ok(struct srv_req *q, const struct lineage *l, bool *ok)
{
	struct approved ap = { l, ok };
	struct meta_segment m;
	struct meta_consent c;
	size_t i;
	int r;

	if ((r = meta_assignment_list(q->srv->meta, 0, approved_one, &ap)) < 0)
		return r;
	for (i = 0; i < l->n; i++) {
		if (!ok[i])
			continue;
		if (meta_segment_get(q->srv->meta, l->v[i].segment, &m) < 0 ||
		    !srv_export_sensitivity_ok(q->srv, &m)) {
			ok[i] = false;
			continue;
		}
		if (meta_consent_get(q->srv->meta, m.device_id, m.consent_id, &c) < 0 ||
		    c.withdrawn_ns != 0)
			ok[i] = false;
	}
	return 0;
}

static const char *
export_arg(struct srv_req *q)
{
	const char *name = http_request_arg(q->rq, "export");

	if (!srv_export_name_ok(name)) {
		srv_reply_error(q, 400, "bad_request", "export=NAME is required "
		    "(1-48 characters of A-Z a-z 0-9 . _ -)");
		return NULL;
	}
	snprintf(q->a_object, sizeof(q->a_object), "export:%s", name);
	return name;
}

/* GET /v1/training/frames?export=NAME&episode=E&frame=F */
void
api_training_frame(struct srv_req *q)
{
	const char *name, *ep = http_request_arg(q->rq, "episode");
	const char *fr = http_request_arg(q->rq, "frame");
	struct lineage l;
	struct srv_segment g;
	bool ok = false;
	char seg[33], day[11];
	uint64_t want;
	size_t i;
	int r;

	if ((name = export_arg(q)) == NULL)
		return;
	if (ep == NULL || strlen(ep) != 32 || fr == NULL ||
	    ut_parse_u64(fr, &want) < 0 || want > INT64_MAX) {
		srv_reply_error(q, 400, "bad_request", "episode=E (32 hex digits) "
		    "and frame=F (a frame id) are required");
		return;
	}
	if (srv_export_refuse_expired(q, name, day))
		return;
	if ((r = lineage_load(q, name, &l)) < 0) {
		srv_reply_error(q, 500, "internal", "the export cannot be read");
		goto out;
	}
	for (i = 0; i < l.n; i++)
		if (sodium_memcmp(l.v[i].episode, ep, 32) == 0)
			break;
	if (i == l.n) {
		srv_deny_not_found(q);
		goto out;
	}
	/* Only this item: reuse the whole-lineage check on a one-item view. */
	{
		struct lineage one = { NULL, &l.v[i], 1, 1, 0 };

		ok = true;
		if ((r = still_ok(q, &one, &ok)) < 0) {
			srv_reply_error(q, 500, "internal", "the export cannot be read");
			goto out;
		}
	}
	if (!ok) {
		srv_deny_not_found(q);
		goto out;
	}
	srv_hex(l.v[i].segment, 16, seg, sizeof(seg));
	srv_hex(l.v[i].subject, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%s", seg);
	snprintf(q->a_detail, sizeof(q->a_detail), "export:%s frame:%llu", name,
	    (unsigned long long)want);
	if (srv_canary_check(q, l.v[i].subject, "review") < 0) {
		srv_reply_error(q, 503, "audit_unavailable", "the audit log cannot "
		    "be written");
		goto out;
	}
	r = srv_segment_load(q->srv, l.v[i].subject, seg, &g);
	if (r == UT_ENOTFOUND || r == UT_ECRYPTO) {
		srv_deny_not_found(q);
		goto out;
	}
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
		goto out;
	}
	srv_reply_frame(q, &g, want);
	srv_segment_free(&g);
out:
	free(l.v);
}

/* GET /v1/training/revoked?export=NAME */
void
api_training_revoked(struct srv_req *q)
{
	const char *name;
	struct lineage l;
	json_t *rev = NULL;
	bool *ok = NULL;
	char day[11];
	size_t i;
	int r, expired;

	if ((name = export_arg(q)) == NULL)
		return;
	if ((expired = srv_export_expiry(q, name, day)) < 0) {
		srv_reply_error(q, 500, "internal", "the export's expiry cannot be read");
		return;
	}
	if ((r = lineage_load(q, name, &l)) < 0) {
		srv_reply_error(q, 500, "internal", "the export cannot be read");
		return;
	}
	ok = xcalloc(l.n + 1, sizeof(*ok));
	if ((r = still_ok(q, &l, ok)) < 0) {
		srv_reply_error(q, 500, "internal", "the export cannot be checked");
		goto out;
	}
	rev = json_array();
	for (i = 0; i < l.n; i++)
		if (!ok[i])
			json_array_append_new(rev, json_string(l.v[i].episode));
	snprintf(q->a_detail, sizeof(q->a_detail), "%zu of %zu episode(s) revoked",
	    json_array_size(rev), l.n);
	srv_reply_json(q, 200, json_pack("{s:s,s:I,s:o,s:s,s:b}", "export", name,
	    "episodes", (json_int_t)l.n, "revoked", rev, "expires", day,
	    "expired", expired));
	rev = NULL;
out:
	json_decref(rev);
	free(ok);
	free(l.v);
}
