/*
 * api_audit.c - what auditors ask of the server (purpose `audit`): the
 * exposure report ("whose data did P read", "who read S's data") and the
 * alerts in the log.  Both answer from the audit log alone; an auditor
 * reads no recorded content through any endpoint (the route table).
 *
 * A "read" is an audit entry of an action that returns recorded content or
 * what was derived from it (READ_ACTIONS) with outcome ok: denied attempts
 * are not reads (the log keeps them; `usetrace my audit` shows them).
 * The report is served from the store's principal and subject indexes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

#define EXPOSURE_ROWS_MAX 100000u
#define ALERT_ROWS_MAX 10000u

/* Actions that return content: every route that reads a segment. */
static const char *const read_actions[] = {
	"segment_list", "read_actions", "read_records", "list_frames", "read_frame",
	"review_read", "training_read",
};

static bool
is_read(const struct meta_audit_row *r)
{
	size_t i;

	if (strcmp(r->outcome, "ok") != 0)
		return false;
	for (i = 0; i < UT_ARRAY_LEN(read_actions); i++)
		if (strcmp(r->action, read_actions[i]) == 0)
			return true;
	return false;
}

/*
 * "NS" (ns since the epoch) or "YYYY-MM-DDTHH:MM:SSZ"; NULL leaves *ns.
 * 0 or UT_EPARSE.
 */
static int
time_arg(const char *s, int64_t *ns)
{
	struct tm tm;
	uint64_t v;
	char *end;
	time_t t;

	if (s == NULL)
		return 0;
	if (ut_parse_u64(s, &v) == 0 && v <= INT64_MAX) {
		*ns = (int64_t)v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return UT_EPARSE;
	*ns = (int64_t)t * 1000000000LL;
	return 0;
}

struct expo {
	struct server *s;
	json_t *arr;
	size_t n;
	bool truncated;
	/* One-entry cache of pseudonym -> name. */
	char last_subj[40], last_name[META_NAME_MAX];
};

static const char *
subject_name(struct expo *x, const char *hex)
{
	struct meta_principal p;
	uint8_t id[16];

	if (hex[0] == '\0')
		return "";
	if (strcmp(hex, x->last_subj) == 0)
		return x->last_name;
	snprintf(x->last_subj, sizeof(x->last_subj), "%s", hex);
	x->last_name[0] = '\0';
	if (srv_unhex(hex, id, 16) == 0 &&
	    meta_principal_by_subject(x->s->meta, id, &p) == 0)
		snprintf(x->last_name, sizeof(x->last_name), "%s", p.name);
	return x->last_name;
}

static int
expo_one(const struct meta_audit_row *r, void *arg)
{
	struct expo *x = arg;
	const char *seg = "";

	if (!is_read(r))
		return 0;
	if (x->n == EXPOSURE_ROWS_MAX) {
		x->truncated = true;
		return 1;
	}
	if (strncmp(r->object, "segment:", 8) == 0)
		seg = r->object + 8;
	json_array_append_new(x->arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s}", "seq", (json_int_t)r->seq, "time_ns",
	    (json_int_t)r->time_ns, "principal", r->principal, "role", r->role,
	    "purpose", r->purpose, "action", r->action, "subject", r->subject,
	    "subject_name", subject_name(x, r->subject), "segment", seg));
	x->n++;
	return 0;
}

/* GET /v1/audit/exposure?principal=P|subject=S[&since=T][&until=T] */
void
api_audit_exposure(struct srv_req *q)
{
	const char *pr = http_request_arg(q->rq, "principal");
	const char *sj = http_request_arg(q->rq, "subject");
	struct meta_audit_query mq;
	struct meta_principal p;
	struct expo x;
	char hex[40];
	int r;

	memset(&mq, 0, sizeof(mq));
	memset(&x, 0, sizeof(x));
	if ((pr == NULL) == (sj == NULL) ||
	    time_arg(http_request_arg(q->rq, "since"), &mq.since_ns) < 0 ||
	    time_arg(http_request_arg(q->rq, "until"), &mq.until_ns) < 0) {
		srv_reply_error(q, 400, "bad_request", "give principal=NAME or "
		    "subject=NAME, and since / until as ns or YYYY-MM-DDTHH:MM:SSZ");
		return;
	}
	if (pr != NULL) {
		mq.principal = pr;
		snprintf(q->a_object, sizeof(q->a_object), "principal:%.80s", pr);
	} else {
		snprintf(q->a_object, sizeof(q->a_object), "subject:%.80s", sj);
		r = meta_principal_by_name(q->srv->meta, sj, &p);
		if (r == UT_ENOTFOUND || (r == 0 && p.role != UT_ROLE_SUBJECT)) {
			srv_reply_error(q, 404, "not_found", "no such subject");
			return;
		}
		if (r < 0)
			goto fail;
		srv_hex(p.subject_id, 16, hex, sizeof(hex));
		mq.subject = hex;
	}
	x.s = q->srv;
	x.arr = json_array();
	if ((r = meta_audit_query(q->srv->meta, &mq, expo_one, &x)) < 0) {
		json_decref(x.arr);
		goto fail;
	}
	srv_reply_json(q, 200, json_pack("{s:o, s:b}", "reads", x.arr,
	    "truncated", x.truncated));
	return;
fail:
	srv_reply_error(q, 500, "internal", "cannot read the audit log");
}

#define LOG_ROWS_MAX 10000u

struct logrows {
	json_t *arr;
	size_t n, limit;
	uint64_t next;
};

static int
log_one(const struct meta_audit_row *r, void *arg)
{
	struct logrows *lr = arg;
	char prev[65], hash[65];

	if (lr->n == lr->limit) {
		lr->next = r->seq;
		return 1;
	}
	srv_hex(r->prev, 32, prev, sizeof(prev));
	srv_hex(r->hash, 32, hash, sizeof(hash));
	json_array_append_new(lr->arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)r->seq,
	    "time_ns", (json_int_t)r->time_ns, "principal", r->principal, "role",
	    r->role, "purpose", r->purpose, "action", r->action, "subject",
	    r->subject, "object", r->object, "outcome", r->outcome, "source",
	    r->source, "detail", r->detail, "prev", prev, "hash", hash));
	lr->n++;
	return 0;
}

/*
 * GET /v1/audit/entries[?since_seq=N][&limit=M]: the log itself, with each
 * entry's link and hash, at most 10,000 a page; "next_seq" names the next
 * page (0: the end).
 */
void
api_audit_entries(struct srv_req *q)
{
	const char *s = http_request_arg(q->rq, "since_seq");
	const char *l = http_request_arg(q->rq, "limit");
	struct logrows lr;
	uint64_t from = 1, lim = LOG_ROWS_MAX;

	if ((s != NULL && (ut_parse_u64(s, &from) < 0 || from == 0)) ||
	    (l != NULL && (ut_parse_u64(l, &lim) < 0 || lim == 0 ||
	    lim > LOG_ROWS_MAX))) {
		srv_reply_error(q, 400, "bad_request", "since_seq >= 1, limit 1-10000");
		return;
	}
	memset(&lr, 0, sizeof(lr));
	lr.arr = json_array();
	lr.limit = (size_t)lim;
	if (meta_audit_scan(q->srv->meta, from, 0, log_one, &lr) < 0) {
		json_decref(lr.arr);
		srv_reply_error(q, 500, "internal", "cannot read the audit log");
		return;
	}
	snprintf(q->a_detail, sizeof(q->a_detail), "from %llu, %zu entries",
	    (unsigned long long)from, lr.n);
	srv_reply_json(q, 200, json_pack("{s:o, s:I}", "entries", lr.arr,
	    "next_seq", (json_int_t)lr.next));
}

struct alerts {
	json_t *arr;
	size_t n;
};

static int
alert_one(const struct meta_audit_row *r, void *arg)
{
	struct alerts *al = arg;

	if (strcmp(r->outcome, "alert") != 0)
		return 0;
	if (al->n == ALERT_ROWS_MAX)
		return 1;
	json_array_append_new(al->arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s}", "seq", (json_int_t)r->seq, "time_ns",
	    (json_int_t)r->time_ns, "principal", r->principal, "role", r->role,
	    "purpose", r->purpose, "action", r->action, "subject", r->subject,
	    "object", r->object, "detail", r->detail));
	al->n++;
	return 0;
}

/* GET /v1/audit/alerts[?since_seq=N]: entries whose outcome is "alert". */
void
api_audit_alerts(struct srv_req *q)
{
	const char *s = http_request_arg(q->rq, "since_seq");
	struct alerts al = { json_array(), 0 };
	uint64_t from = 1;

	if (s != NULL && (ut_parse_u64(s, &from) < 0 || from == 0)) {
		json_decref(al.arr);
		srv_reply_error(q, 400, "bad_request", "since_seq wants a number >= 1");
		return;
	}
	if (meta_audit_scan(q->srv->meta, from, 0, alert_one, &al) < 0) {
		json_decref(al.arr);
		srv_reply_error(q, 500, "internal", "cannot read the audit log");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o}", "alerts", al.arr));
}
