/*
 * api_review.c - review assignments (issue "nobody reads what they have no
 * business reading"): admins list segment metadata and assign segments to
 * reviewers; a reviewer sees only their assignments, in the reviewer's view,
 * and approves or rejects each with a reason; the subject can withdraw a
 * segment from review at any time.
 *
 * The reviewer's view: the stored records as the device filtered them, as
 * actions (`show --json`, times relative to the segment's start), with
 * window titles and application names scanned again with the detectors
 * (each span replaced by "[TYPE]"); no subject name, pseudonym, device id
 * or wall-clock time.  The reviewer's handle is the assignment's random
 * id, and "pseudonym" is derived from it alone, so two assignments of one
 * person's segments cannot be linked through the view.
 *
 * Every assignment, read and decision is an audit entry whose subject is
 * the segment's, so `usetrace my audit` shows the person who assigned and
 * who read their data, and the exposure report counts reviewer reads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/detect.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

#define REASON_MAX 90u
#define ADMIN_SEGMENTS_MAX 100000u

/* ---- admins: segment metadata and assignments ---- */

struct seglist {
	struct server *s;
	json_t *arr;
	size_t n;
	bool truncated;
	uint8_t last_subject[16];
	int32_t last_day;
	bool have_last;
};

static int
seg_one(const struct meta_segment *m, void *arg)
{
	struct seglist *sl = arg;
	char id[33], subj[33], day[16];

	if (sl->n == ADMIN_SEGMENTS_MAX) {
		sl->truncated = true;
		return 1;
	}
	srv_hex(m->segment_id, 16, id, sizeof(id));
	srv_hex(m->subject_id, 16, subj, sizeof(subj));
	srv_day_text(m->day, day);
	json_array_append_new(sl->arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}",
	    "id", id, "subject", subj, "day", day, "size", (json_int_t)m->size,
	    "duration_ms", (json_int_t)((m->end_ns - m->start_ns) / 1000000),
	    "sensitivity", (int)m->sensitivity_max));
	sl->n++;
	return 0;
}

static int
subject_day(const uint8_t subject[16], int32_t day, void *arg)
{
	struct seglist *sl = arg;

	/* Days come per subject; list each (subject, day) once. */
	if (sl->have_last && memcmp(sl->last_subject, subject, 16) == 0 &&
	    sl->last_day == day)
		return 0;
	memcpy(sl->last_subject, subject, 16);
	sl->last_day = day;
	sl->have_last = true;
	return meta_segment_list(sl->s->meta, subject, day, seg_one, sl);
}

/* GET /v1/admin/segments: metadata only (ids, pseudonym, day, size). */
void
api_admin_segments(struct srv_req *q)
{
	struct seglist sl;
	int r;

	memset(&sl, 0, sizeof(sl));
	sl.s = q->srv;
	sl.arr = json_array();
	if ((r = meta_subject_days(q->srv->meta, subject_day, &sl)) < 0) {
		json_decref(sl.arr);
		srv_reply_error(q, 500, "internal", "cannot list the segments");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o, s:b}", "segments", sl.arr,
	    "truncated", sl.truncated));
}

/* One assignment of segment m to reviewer r; its own audit entry. */
static int
assign_one(struct srv_req *q, const struct meta_segment *m,
    const struct meta_principal *rev, char idhex[33])
{
	struct meta_assignment a;
	char seg[33];
	int r;

	memset(&a, 0, sizeof(a));
	randombytes_buf(a.id, sizeof(a.id));
	memcpy(a.segment_id, m->segment_id, 16);
	memcpy(a.subject_id, m->subject_id, 16);
	a.reviewer_id = rev->id;
	a.assigned_by = q->who.id;
	a.assigned_ns = q->now_ns;
	if ((r = meta_assignment_add(q->srv->meta, &a)) < 0)
		return r;
	srv_hex(a.id, 16, idhex, 33);
	srv_hex(m->segment_id, 16, seg, sizeof(seg));
	srv_hex(m->subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%s", seg);
	snprintf(q->a_detail, sizeof(q->a_detail), "to reviewer %.60s",
	    rev->name);
	return 0;
}

struct share {
	struct srv_req *q;
	const struct meta_principal *rev;
	double share;
	json_t *made;
	int err;
};

static int
share_one(const struct meta_segment *m, void *arg)
{
	struct share *sh = arg;
	char idhex[33];
	int r;

	/* A uniform draw per segment: about `share` of each subject's. */
	if ((double)randombytes_uniform(1000000) >= sh->share * 1000000.0)
		return 0;
	r = assign_one(sh->q, m, sh->rev, idhex);
	if (r == -EEXIST)
		return 0;
	if (r < 0) {
		sh->err = r;
		return 1;
	}
	json_array_append_new(sh->made, json_string(idhex));
	/* Each person sees their own segment's assignment in `my audit`. */
	if ((r = srv_audit_now(sh->q, "assign", "ok", NULL)) < 0) {
		sh->err = r;
		return 1;
	}
	return 0;
}

static int
share_day(const uint8_t subject[16], int32_t day, void *arg)
{
	struct share *sh = arg;

	(void)subject;
	return meta_segment_list(sh->q->srv->meta, subject, day, share_one, sh);
}

/*
 * POST /v1/admin/assignments {"reviewer": NAME, "segment": HEX} or
 * {"reviewer": NAME, "share": 0..1} (a share of every subject's segments).
 */
void
api_admin_assign(struct srv_req *q)
{
	json_t *body = srv_body_json(q), *share_j;
	const char *revname, *seghex;
	struct meta_principal rev;
	struct meta_segment m;
	struct share sh;
	uint8_t seg[16];
	char idhex[33];
	int r;

	if (body == NULL)
		return;
	revname = json_string_value(json_object_get(body, "reviewer"));
	seghex = json_string_value(json_object_get(body, "segment"));
	share_j = json_object_get(body, "share");
	if (revname == NULL || (seghex == NULL) == (share_j == NULL) ||
	    (share_j != NULL && (!json_is_number(share_j) ||
	    json_number_value(share_j) <= 0 || json_number_value(share_j) > 1)) ||
	    json_object_size(body) != 2) {
		srv_reply_error(q, 400, "bad_request", "\"reviewer\" and either "
		    "\"segment\" (hex id) or \"share\" (0 < share <= 1)");
		goto out;
	}
	r = meta_principal_by_name(q->srv->meta, revname, &rev);
	if (r < 0 || rev.role != UT_ROLE_REVIEWER || rev.revoked_ns != 0) {
		srv_reply_error(q, 404, "not_found", "no such reviewer");
		goto out;
	}
	if (share_j != NULL) {
		memset(&sh, 0, sizeof(sh));
		sh.q = q;
		sh.rev = &rev;
		sh.share = json_number_value(share_j);
		sh.made = json_array();
		r = meta_subject_days(q->srv->meta, share_day, &sh);
		if (r < 0 || sh.err < 0) {
			json_decref(sh.made);
			srv_reply_error(q, 500, "internal", "cannot assign");
			goto out;
		}
		q->a_subject[0] = '\0';
		snprintf(q->a_object, sizeof(q->a_object), "share:%.3f",
		    sh.share);
		snprintf(q->a_detail, sizeof(q->a_detail), "%zu to reviewer %.60s",
		    json_array_size(sh.made), rev.name);
		srv_reply_json(q, 201, json_pack("{s:o}", "assignments", sh.made));
		goto out;
	}
	if (srv_unhex(seghex, seg, 16) < 0 ||
	    meta_segment_get(q->srv->meta, seg, &m) < 0) {
		srv_reply_error(q, 404, "not_found", "no such segment");
		goto out;
	}
	r = assign_one(q, &m, &rev, idhex);
	if (r == -EEXIST) {
		srv_reply_error(q, 409, "conflict",
		    "that segment is already assigned to that reviewer");
		goto out;
	}
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "cannot assign");
		goto out;
	}
	srv_reply_json(q, 201, json_pack("{s:[s]}", "assignments", idhex));
out:
	json_decref(body);
}

/* ---- reviewers ---- */

/* The caller's assignment named in the path, or 404 (and < 0). */
static int
own_assignment(struct srv_req *q, struct meta_assignment *a)
{
	uint8_t id[16];

	snprintf(q->a_object, sizeof(q->a_object), "assignment:%.80s", q->param[0]);
	if (srv_unhex(q->param[0], id, 16) < 0 ||
	    meta_assignment_get(q->srv->meta, id, a) < 0 ||
	    a->reviewer_id != q->who.id || a->state == META_REVIEW_WITHDRAWN) {
		srv_deny_not_found(q);
		return UT_ENOTFOUND;
	}
	srv_hex(a->subject_id, 16, q->a_subject, sizeof(q->a_subject));
	return 0;
}

/* The pseudonym a reviewer sees: derived from the assignment id alone. */
static void
pseudonym(const uint8_t id[16], char out[24])
{
	uint8_t h[8];

	crypto_generichash(h, sizeof(h), id, 16, (const uint8_t *)"ut-review-pseud", 15);
	memcpy(out, "p-", 2);
	srv_hex(h, sizeof(h), out + 2, 22);
}

struct queue {
	struct server *s;
	json_t *arr;
};

static int
queue_one(const struct meta_assignment *a, void *arg)
{
	struct queue *qu = arg;
	struct meta_segment m;
	char id[33], ps[24];

	if (a->state != META_REVIEW_PENDING ||
	    meta_segment_get(qu->s->meta, a->segment_id, &m) < 0)
		return 0;   /* decided, withdrawn, or the segment was erased */
	srv_hex(a->id, 16, id, sizeof(id));
	pseudonym(a->id, ps);
	json_array_append_new(qu->arr, json_pack("{s:s, s:s, s:I, s:i}", "id", id,
	    "pseudonym", ps, "duration_ms",
	    (json_int_t)((m.end_ns - m.start_ns) / 1000000), "sensitivity",
	    (int)m.sensitivity_max));
	return 0;
}

/* GET /v1/review/queue: the caller's pending assignments. */
void
api_review_queue(struct srv_req *q)
{
	struct queue qu = { q->srv, json_array() };

	if (meta_assignment_list(q->srv->meta, q->who.id, queue_one, &qu) < 0) {
		json_decref(qu.arr);
		srv_reply_error(q, 500, "internal", "cannot list the assignments");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o}", "assignments", qu.arr));
}

static struct detect_set *review_set;
static pthread_once_t review_once = PTHREAD_ONCE_INIT;

static void
review_set_init(void)
{
	if (detect_set_create(&review_set) < 0)
		review_set = NULL;
}

/* Replaces every detector span of s (NUL-terminated, size n) by "[TYPE]". */
static void
rescan(struct detect *d, char *s, size_t n)
{
	const struct detect_span *sp;
	char *out;
	size_t len = strlen(s), k = 0, at = 0;
	int ns, i;

	if (len == 0 || (ns = detect_scan(d, s, len, 0, &sp)) <= 0)
		return;
	out = xmalloc(n);
	for (i = 0; i < ns; i++) {
		k += (size_t)snprintf(out + k, n - k, "%.*s[%s]",
		    (int)(sp[i].start - at), s + at, detect_type_name(sp[i].type));
		if (k >= n)
			k = n - 1;
		at = sp[i].end;
	}
	snprintf(out + k, n - k, "%s", s + at);
	sodium_memzero(s, n);
	memcpy(s, out, n);
	sodium_memzero(out, n);
	free(out);
}

struct detect *
srv_review_detect(void)
{
	struct detect *d = NULL;

	pthread_once(&review_once, review_set_init);
	if (review_set == NULL || detect_create(review_set, &d) < 0)
		return NULL;
	return d;
}

void
srv_review_rewrite(struct ut_event *ev, void *arg)
{
	struct detect *d = arg;

	ev->wall_ns = 0;
	if (ev->type == UT_EV_FOCUS) {
		rescan(d, ev->u.focus.title, sizeof(ev->u.focus.title));
		rescan(d, ev->u.focus.app, sizeof(ev->u.focus.app));
		rescan(d, ev->u.focus.instance, sizeof(ev->u.focus.instance));
	} else if (ev->type == UT_EV_MARK) { /* a task's instruction */
		rescan(d, ev->u.mark.text, sizeof(ev->u.mark.text));
	}
}

/* GET /v1/review/{id}: the reviewer's view of the assigned segment. */
void
api_review_read(struct srv_req *q)
{
	struct meta_assignment a;
	struct srv_segment g;
	struct srv_render out;
	struct detect *d = NULL;
	char seg[33], ps[24];
	int r;

	if (own_assignment(q, &a) < 0)
		return;
	srv_hex(a.segment_id, 16, seg, sizeof(seg));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%s", seg);
	if ((d = srv_review_detect()) == NULL) {
		srv_reply_error(q, 500, "internal", "the detectors are unavailable");
		return;
	}
	if (srv_canary_check(q, a.subject_id, "review") < 0) {
		detect_destroy(d);
		srv_reply_error(q, 503, "audit_unavailable", "the audit log cannot "
		    "be written");
		return;
	}
	r = srv_segment_load(q->srv, a.subject_id, seg, &g);
	if (r == UT_ENOTFOUND || r == UT_ECRYPTO) {
		detect_destroy(d);
		srv_deny_not_found(q);   /* erased meanwhile */
		return;
	}
	if (r < 0) {
		detect_destroy(d);
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
		return;
	}
	r = srv_render(&g, false, srv_review_rewrite, d, &out);
	pseudonym(a.id, ps);
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
	} else if (buf_append(&q->rs->body, out.text, out.len) < 0) {
		srv_reply_error(q, 500, "internal", "response too large");
	} else {
		q->rs->status = 200;
		snprintf(q->rs->content_type, sizeof(q->rs->content_type),
		    "application/x-ndjson");
		(void)http_response_header(q->rs, "Usetrace-Pseudonym", ps);
		srv_no_store(q);
	}
	srv_render_free(&out);
	srv_segment_free(&g);
	detect_destroy(d);
}

/*
 * The caller's assignment's segment, loaded, after the canary check; or an
 * answer given and < 0.
 */
static int
load_assigned(struct srv_req *q, struct srv_segment *g)
{
	struct meta_assignment a;
	char seg[33];
	int r;

	if (own_assignment(q, &a) < 0)
		return UT_ENOTFOUND;
	srv_hex(a.segment_id, 16, seg, sizeof(seg));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%s", seg);
	if (srv_canary_check(q, a.subject_id, "review") < 0) {
		srv_reply_error(q, 503, "audit_unavailable", "the audit log cannot "
		    "be written");
		return UT_ESTATE;
	}
	/* The frames routes read parts of the blob through the frame index. */
	r = srv_segment_load_key(q->srv, a.subject_id, seg, g);
	if (r == UT_ENOTFOUND || r == UT_ECRYPTO)
		srv_deny_not_found(q);   /* erased meanwhile */
	else if (r < 0)
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
	return r;
}

/* GET /v1/review/{id}/frames: the assigned segment's frame ids. */
void
api_review_frames(struct srv_req *q)
{
	struct srv_segment g;

	if (load_assigned(q, &g) < 0)
		return;
	srv_reply_frame_list(q, &g);
	srv_segment_free(&g);
}

/*
 * GET /v1/review/{id}/frames/{frame}: one frame as PNG, as the device
 * stored it (denied windows and typed secrets already black).
 */
void
api_review_frame(struct srv_req *q)
{
	struct srv_segment g;
	uint64_t want;

	if (ut_parse_u64(q->param[1], &want) < 0 || want > INT64_MAX) {
		snprintf(q->a_object, sizeof(q->a_object), "assignment:%.80s",
		    q->param[0]);
		srv_deny_not_found(q);
		return;
	}
	if (load_assigned(q, &g) < 0)
		return;
	srv_reply_frame(q, &g, want);
	srv_segment_free(&g);
}

static void
decide(struct srv_req *q, int state)
{
	json_t *body = NULL;
	struct meta_assignment a;
	const char *reason = "";
	size_t i;
	int r;

	if (own_assignment(q, &a) < 0)
		return;
	if (state == META_REVIEW_REJECTED) {
		if ((body = srv_body_json(q)) == NULL)
			return;
		reason = json_string_value(json_object_get(body, "reason"));
		if (reason == NULL || reason[0] == '\0' || strlen(reason) > REASON_MAX) {
			srv_reply_error(q, 400, "bad_request", "\"reason\": 1-90 "
			    "characters");
			goto out;
		}
		for (i = 0; reason[i] != '\0'; i++) {
			if ((unsigned char)reason[i] < 0x20) {
				srv_reply_error(q, 400, "bad_request",
				    "\"reason\": no control characters");
				goto out;
			}
		}
	}
	r = meta_assignment_decide(q->srv->meta, a.id, state, q->now_ns, reason);
	if (r == UT_ESTATE) {
		srv_reply_error(q, 409, "conflict", "already decided");
		goto out;
	}
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "cannot record the decision");
		goto out;
	}
	snprintf(q->a_detail, sizeof(q->a_detail), "%s",
	    meta_review_state_name(state));
	srv_reply_json(q, 200, json_pack("{s:s}", "state",
	    meta_review_state_name(state)));
out:
	json_decref(body);
}

/* POST /v1/review/{id}/approve */
void
api_review_approve(struct srv_req *q)
{
	decide(q, META_REVIEW_APPROVED);
}

/* POST /v1/review/{id}/reject {"reason": TEXT} */
void
api_review_reject(struct srv_req *q)
{
	decide(q, META_REVIEW_REJECTED);
}

/* ---- subjects ---- */

/* POST /v1/my/segments/{id}/withdraw-review */
void
api_my_withdraw_review(struct srv_req *q)
{
	struct meta_segment m;
	uint8_t id[16];
	int r;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%.80s", q->param[0]);
	if (srv_unhex(q->param[0], id, 16) < 0 ||
	    meta_segment_get(q->srv->meta, id, &m) < 0 ||
	    sodium_memcmp(m.subject_id, q->who.subject_id, 16) != 0) {
		srv_deny_not_found(q);
		return;
	}
	if ((r = meta_assignment_withdraw_segment(q->srv->meta, id, q->now_ns)) < 0) {
		srv_reply_error(q, 500, "internal", "cannot withdraw");
		return;
	}
	snprintf(q->a_detail, sizeof(q->a_detail), "%d assignment(s)", r);
	srv_reply_json(q, 200, json_pack("{s:i}", "withdrawn", r));
}
