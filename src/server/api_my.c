/*
 * api_my.c - a person's own data: their segments with the decrypted
 * summaries, the actions, raw records and frames of one segment, their
 * audit trail ("who read my data"), and erasure.
 *
 * Every segment is reached through srv_segment_load(), which checks that
 * it is the caller's and answers "not found" otherwise: another person's
 * segment and a segment that does not exist look the same.  Actions come
 * from the one library reduction (action.h), printed by the same function
 * as `usetrace show --json`, so the bytes are the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/action.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "server_int.h"

#define NDJSON "application/x-ndjson"

int
srv_segment_load_key(struct server *s, const uint8_t subject[16],
    const char *idhex, struct srv_segment *g)
{
	uint8_t id[16];
	int r;

	memset(g, 0, sizeof(*g));
	if (srv_unhex(idhex, id, 16) < 0)
		return UT_ENOTFOUND;
	if ((r = meta_segment_get(s->meta, id, &g->m)) < 0)
		return r;
	if (sodium_memcmp(g->m.subject_id, subject, 16) != 0) {
		r = UT_ENOTFOUND;
		goto fail;
	}
	if ((g->key = sodium_malloc(32)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if (g->m.wrapped_len != 32 + KEYSTORE_SEAL_OVERHEAD) {
		r = UT_ECORRUPT;
		goto fail;
	}
	if ((r = keystore_day_open(s->ks, g->m.subject_id, g->m.day, g->m.segment_id,
	    16, g->m.wrapped_key, g->m.wrapped_len, g->key)) < 0)
		goto fail;
	return 0;
fail:
	srv_segment_free(g);
	return r;
}

int
srv_segment_load(struct server *s, const uint8_t subject[16], const char *idhex,
    struct srv_segment *g)
{
	int r;

	if ((r = srv_segment_load_key(s, subject, idhex, g)) < 0)
		return r;
	if ((r = blob_get(s->blobs, g->m.blob_hash, 256u << 20, &g->blob,
	    &g->blob_len)) < 0)
		srv_segment_free(g);
	return r;
}

void
srv_segment_free(struct srv_segment *g)
{
	sodium_free(g->key);
	if (g->blob != NULL) {
		sodium_memzero(g->blob, g->blob_len);
		free(g->blob);
	}
	memset(g, 0, sizeof(*g));
}

/*
 * Loads the segment named in the path (its blob too when with_blob; the
 * frames routes read parts of it through the frame index), or answers 404
 * and returns < 0.
 */
static int
load_or_deny(struct srv_req *q, struct srv_segment *g, bool with_blob)
{
	int r;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%.80s", q->param[0]);
	r = with_blob ? srv_segment_load(q->srv, q->who.subject_id, q->param[0], g) :
	    srv_segment_load_key(q->srv, q->who.subject_id, q->param[0], g);
	if (r == UT_ENOTFOUND || r == UT_ECRYPTO) {
		srv_deny_not_found(q);
		return r;
	}
	if (r < 0) {
		log_error("serve: reading %s: %s", q->a_object, ut_strerror(r));
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
	}
	return r;
}

static json_t *
summary_json(struct server *s, const struct meta_segment *m)
{
	uint8_t *pt;
	json_t *j = NULL;
	size_t n;

	if (m->summary_len <= KEYSTORE_SEAL_OVERHEAD)
		return json_null();
	n = m->summary_len - KEYSTORE_SEAL_OVERHEAD;
	pt = xmalloc(n + 1);
	if (keystore_day_open(s->ks, m->subject_id, m->day, m->segment_id, 16,
	    m->summary, m->summary_len, pt) == 0)
		j = json_loadb((const char *)pt, n, 0, NULL);
	sodium_memzero(pt, n + 1);
	free(pt);
	return j != NULL ? j : json_null();
}

struct list_ctx {
	struct server *s;
	json_t *arr;
};

static int
segment_one(const struct meta_segment *m, void *arg)
{
	struct list_ctx *lc = arg;
	char id[33], day[16];

	srv_hex(m->segment_id, 16, id, sizeof(id));
	srv_day_text(m->day, day);
	json_array_append_new(lc->arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:o}",
	    "id", id, "day", day, "start_ns", (json_int_t)m->start_ns, "end_ns",
	    (json_int_t)m->end_ns, "size", (json_int_t)m->size, "sensitivity_max",
	    (int)m->sensitivity_max, "summary", summary_json(lc->s, m)));
	return 0;
}

void
api_my_segments(struct srv_req *q)
{
	struct list_ctx lc = { q->srv, json_array() };

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	if (meta_segment_list(q->srv->meta, q->who.subject_id, META_DAY_ALL,
	    segment_one, &lc) < 0) {
		json_decref(lc.arr);
		srv_reply_error(q, 500, "internal", "cannot list segments");
		return;
	}
	srv_no_store(q);
	srv_reply_json(q, 200, json_pack("{s:o}", "segments", lc.arr));
}


static int
on_action(const struct ut_action *a, void *arg)
{
	FILE *f = arg;

	action_print_json(f, a);
	fputc('\n', f);
	return 0;
}

int
srv_render(struct srv_segment *g, bool raw,
    void (*rewrite)(struct ut_event *ev, void *arg), void *arg,
    struct srv_render *out)
{
	struct spool_mem_reader *rd = NULL;
	struct action_reducer *ar = NULL;
	struct ut_event ev;
	uint64_t start_mono = 0;
	bool have_start = false;
	int r;

	memset(out, 0, sizeof(*out));
	if ((out->f = open_memstream(&out->text, &out->len)) == NULL)
		return -errno;
	if ((r = spool_mem_reader_open(g->blob, g->blob_len, true, g->key, &rd)) < 0)
		goto out;
	if (!raw)
		ar = action_reducer_create(NULL, on_action, out->f);
	while ((r = spool_mem_reader_next(rd, &ev)) > 0) {
		if (rewrite != NULL)
			rewrite(&ev, arg);
		if (!have_start && ev.type == UT_EV_SESSION) {
			start_mono = ev.mono_ns;
			have_start = true;
		}
		if (raw)
			event_print_json(out->f, &ev, start_mono);
		else if ((r = action_reducer_push(ar, &ev)) != 0)
			break;
	}
	if (r == 0 && ar != NULL)
		r = action_reducer_finish(ar);
out:
	sodium_memzero(&ev, sizeof(ev));
	action_reducer_destroy(ar);
	spool_mem_reader_close(rd);
	if (fclose(out->f) != 0 && r == 0)
		r = -EIO;
	out->f = NULL;
	return r;
}

void
srv_render_free(struct srv_render *rd)
{
	if (rd->text != NULL) {
		sodium_memzero(rd->text, rd->len);
		free(rd->text);
	}
	memset(rd, 0, sizeof(*rd));
}

static void
reply_render(struct srv_req *q, bool raw)
{
	struct srv_segment g;
	struct srv_render out;
	int r;

	if (load_or_deny(q, &g, true) < 0)
		return;
	r = srv_render(&g, raw, NULL, NULL, &out);
	if (r < 0) {
		log_error("serve: rendering %s: %s", q->a_object, ut_strerror(r));
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
	} else if (buf_append(&q->rs->body, out.text, out.len) < 0) {
		srv_reply_error(q, 500, "internal", "response too large");
	} else {
		q->rs->status = 200;
		snprintf(q->rs->content_type, sizeof(q->rs->content_type), NDJSON);
		srv_no_store(q);
	}
	srv_render_free(&out);
	srv_segment_free(&g);
}

void
api_my_actions(struct srv_req *q)
{
	reply_render(q, false);
}

void
api_my_records(struct srv_req *q)
{
	reply_render(q, true);
}

void
api_my_frames(struct srv_req *q)
{
	struct srv_segment g;

	if (load_or_deny(q, &g, false) < 0)
		return;
	srv_reply_frame_list(q, &g);
	srv_segment_free(&g);
}

void
api_my_frame(struct srv_req *q)
{
	struct srv_segment g;
	uint64_t want;

	if (ut_parse_u64(q->param[1], &want) < 0 || want > INT64_MAX) {
		srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
		srv_deny_not_found(q);
		return;
	}
	if (load_or_deny(q, &g, false) < 0)
		return;
	srv_reply_frame(q, &g, want);
	srv_segment_free(&g);
}

struct audit_ctx {
	json_t *arr;
};

static int
audit_one(const struct meta_audit_row *r, void *arg)
{
	struct audit_ctx *ac = arg;

	json_array_append_new(ac->arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "seq", (json_int_t)r->seq, "time_ns", (json_int_t)r->time_ns,
	    "principal", r->principal, "role", r->role, "purpose", r->purpose,
	    "action", r->action, "object", r->object, "outcome", r->outcome));
	return 0;
}

void
api_my_audit(struct srv_req *q)
{
	struct meta_audit_query mq;
	struct audit_ctx ac = { json_array() };

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(&mq, 0, sizeof(mq));
	mq.subject = q->a_subject;
	if (meta_audit_query(q->srv->meta, &mq, audit_one, &ac) < 0) {
		json_decref(ac.arr);
		srv_reply_error(q, 500, "internal", "cannot read the audit log");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o}", "entries", ac.arr));
}

void
api_my_erase(struct srv_req *q)
{
	json_t *body = srv_body_json(q);
	const char *dtext;
	unsigned n = 0;
	int32_t day = 0;
	bool all;
	int r;

	if (body == NULL)
		return;
	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	all = json_is_true(json_object_get(body, "all"));
	dtext = json_string_value(json_object_get(body, "day"));
	if (all == (dtext != NULL) || (!all && srv_day_parse(dtext, &day) < 0)) {
		srv_reply_error(q, 400, "bad_request",
		    "give either {\"day\": \"YYYY-MM-DD\"} or {\"all\": true}");
		goto out;
	}
	snprintf(q->a_object, sizeof(q->a_object), "day:%s", all ? "all" : dtext);
	/* The intent is durable before any key is destroyed. */
	if ((r = srv_audit_now(q, "erase_intent", "pending", NULL)) < 0) {
		srv_reply_error(q, 503, "audit_unavailable",
		    "the audit log cannot be written; nothing was erased");
		goto out;
	}
	r = all ? srv_erase_subject(q->srv, q->who.subject_id, &n) :
	    srv_erase_day(q->srv, q->who.subject_id, day, &n);
	if (r < 0) {
		log_error("serve: erasure failed: %s", ut_strerror(r));
		srv_reply_error(q, 500, "internal", "the erasure did not complete; "
		    "it is retried at the next start");
		goto out;
	}
	if (all)
		(void)meta_consent_withdraw_subject(q->srv->meta, q->who.subject_id,
		    q->now_ns);
	/* The person's devices learn it by their long polls (purge, stop). */
	if (all)
		(void)srv_ctl_bump(q->srv, "erased everything");
	snprintf(q->a_detail, sizeof(q->a_detail), "%u segments", n);
	srv_reply_json(q, 200, json_pack("{s:s, s:i, s:I}", "erased",
	    all ? "all" : dtext, "segments", (int)n, "generation",
	    (json_int_t)keystore_generation(q->srv->ks)));
out:
	json_decref(body);
}
