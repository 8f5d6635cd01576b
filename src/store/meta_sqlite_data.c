/*
 * meta_sqlite_data.c - the SQLite metadata store's consents, segments,
 * tombstones and settings (the invariants are in meta_sqlite.c).
 *
 * List walks page by a key (start time and id for segments, subject and
 * day for days and tombstones), MSQ_PAGE rows per locked step, and call fn
 * unlocked.  meta_tombstoned() fails closed: a store error answers true.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "store_int.h"

static const uint8_t empty[1];  /* bound with length 0: the smallest blob */

/* ---- consents ---- */

#define CONSENT_COLS "consent_id, device_id, subject_id, policy_hash, given_ns," \
	" withdrawn_ns"

int
msq__consent_add(struct meta *m, const struct meta_consent *c)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CONSENT_ADD, "INSERT OR IGNORE INTO consent("
	    CONSENT_COLS ") VALUES(?, ?, ?, ?, ?, ?)", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, c->consent_id, META_ID_LEN);
		sqlite3_bind_int64(s, 2, c->device_id);
		msq__bind_blob(s, 3, c->subject_id, META_ID_LEN);
		msq__bind_blob(s, 4, c->policy_hash, META_HASH_LEN);
		sqlite3_bind_int64(s, 5, c->given_ns);
		sqlite3_bind_int64(s, 6, c->withdrawn_ns);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Reads consent (device, id) into *out (may be NULL); lock held. */
static int
consent_get(struct msq *q, int64_t device_id, const uint8_t *id,
    struct meta_consent *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = msq__stmt(q, S_CONSENT_GET, "SELECT " CONSENT_COLS " FROM consent"
	    " WHERE device_id = ? AND consent_id = ?", &r);
	if (s == NULL)
		return r;
	sqlite3_bind_int64(s, 1, device_id);
	msq__bind_blob(s, 2, id, META_ID_LEN);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (out != NULL) {
			memset(out, 0, sizeof(*out));
			msq__col_blob(s, 0, out->consent_id, META_ID_LEN);
			out->device_id = sqlite3_column_int64(s, 1);
			msq__col_blob(s, 2, out->subject_id, META_ID_LEN);
			msq__col_blob(s, 3, out->policy_hash, META_HASH_LEN);
			out->given_ns = sqlite3_column_int64(s, 4);
			out->withdrawn_ns = sqlite3_column_int64(s, 5);
		}
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
	return r;
}

int
msq__consent_get(struct meta *m, int64_t device_id, const uint8_t *id,
    struct meta_consent *out)
{
	struct msq *q = msq__rd(m);
	int r;

	pthread_mutex_lock(&q->lock);
	r = consent_get(q, device_id, id, out);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* A person has a handful of devices and consents: read them all at once. */
#define CONSENT_LIST_MAX 4096

int
msq__consent_list(struct meta *m, const uint8_t *subject,
    int (*fn)(const struct meta_consent *, void *), void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_consent *v = NULL, *c;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CONSENT_LIST, "SELECT " CONSENT_COLS " FROM consent"
	    " WHERE subject_id = ? ORDER BY given_ns, device_id LIMIT ?", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, subject, META_ID_LEN);
		sqlite3_bind_int(s, 2, CONSENT_LIST_MAX);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			c = &v[n++];
			memset(c, 0, sizeof(*c));
			msq__col_blob(s, 0, c->consent_id, META_ID_LEN);
			c->device_id = sqlite3_column_int64(s, 1);
			msq__col_blob(s, 2, c->subject_id, META_ID_LEN);
			msq__col_blob(s, 3, c->policy_hash, META_HASH_LEN);
			c->given_ns = sqlite3_column_int64(s, 4);
			c->withdrawn_ns = sqlite3_column_int64(s, 5);
		}
		r = msq__err(rc);
		msq__done(s);
	}
	pthread_mutex_unlock(&q->lock);
	for (i = 0; r == 0 && i < n; i++)
		r = fn(&v[i], arg);
	free(v);
	return r;
}

int
msq__consent_withdraw(struct meta *m, int64_t device_id, const uint8_t *id,
    int64_t when_ns)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0, changes = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CONSENT_WITHDRAW, "UPDATE consent SET withdrawn_ns = ?3"
	    " WHERE device_id = ?1 AND consent_id = ?2 AND withdrawn_ns = 0", &r);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, device_id);
	msq__bind_blob(s, 2, id, META_ID_LEN);
	sqlite3_bind_int64(s, 3, when_ns);
	r = msq__exec(q, s, &changes);
	if (r == 0 && changes == 0)     /* withdrawn already (0), or absent */
		r = consent_get(q, device_id, id, NULL);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__consent_withdraw_subject(struct meta *m, const uint8_t *subject, int64_t when_ns)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CONSENT_WITHDRAW_SUBJECT, "UPDATE consent SET"
	    " withdrawn_ns = ?2 WHERE subject_id = ?1 AND withdrawn_ns = 0", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, subject, META_ID_LEN);
		sqlite3_bind_int64(s, 2, when_ns);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- segments ---- */

#define SEGMENT_COLS "segment_id, subject_id, device_id, day, start_ns, end_ns," \
	" size, frames, upload_hash, blob_hash, policy_hash, consent_id," \
	" sensitivity_max, wrapped_key, summary, received_ns, receipt"

/* Copies blob column i into dst (cap bytes); *len its length, cut to cap. */
static void
col_var(sqlite3_stmt *s, int i, uint8_t *dst, size_t cap, size_t *len)
{
	size_t n = (size_t)sqlite3_column_bytes(s, i);

	msq__col_blob(s, i, dst, cap);
	*len = UT_MIN(n, cap);
}

static void
segment_row(sqlite3_stmt *s, struct meta_segment *g)
{
	memset(g, 0, sizeof(*g));
	msq__col_blob(s, 0, g->segment_id, META_ID_LEN);
	msq__col_blob(s, 1, g->subject_id, META_ID_LEN);
	g->device_id = sqlite3_column_int64(s, 2);
	g->day = sqlite3_column_int(s, 3);
	g->start_ns = sqlite3_column_int64(s, 4);
	g->end_ns = sqlite3_column_int64(s, 5);
	g->size = (uint64_t)sqlite3_column_int64(s, 6);
	g->frames = (uint64_t)sqlite3_column_int64(s, 7);
	msq__col_blob(s, 8, g->upload_hash, META_HASH_LEN);
	msq__col_blob(s, 9, g->blob_hash, META_HASH_LEN);
	msq__col_blob(s, 10, g->policy_hash, META_HASH_LEN);
	msq__col_blob(s, 11, g->consent_id, META_ID_LEN);
	g->sensitivity_max = (unsigned)sqlite3_column_int(s, 12);
	col_var(s, 13, g->wrapped_key, META_WRAPPED_MAX, &g->wrapped_len);
	col_var(s, 14, g->summary, META_SUMMARY_MAX, &g->summary_len);
	g->received_ns = sqlite3_column_int64(s, 15);
	col_var(s, 16, g->receipt, sizeof(g->receipt), &g->receipt_len);
}

int
msq__segment_put(struct meta *m, const struct meta_segment *g)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	if (g->wrapped_len > META_WRAPPED_MAX || g->summary_len > META_SUMMARY_MAX ||
	    g->receipt_len > sizeof(g->receipt))
		return UT_ETOOBIG;
	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_SEGMENT_PUT, "INSERT INTO segment(" SEGMENT_COLS ")"
	    " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &r);
	if (s == NULL)
		goto out;
	msq__bind_blob(s, 1, g->segment_id, META_ID_LEN);
	msq__bind_blob(s, 2, g->subject_id, META_ID_LEN);
	sqlite3_bind_int64(s, 3, g->device_id);
	sqlite3_bind_int(s, 4, g->day);
	sqlite3_bind_int64(s, 5, g->start_ns);
	sqlite3_bind_int64(s, 6, g->end_ns);
	sqlite3_bind_int64(s, 7, (int64_t)g->size);
	sqlite3_bind_int64(s, 8, (int64_t)g->frames);
	msq__bind_blob(s, 9, g->upload_hash, META_HASH_LEN);
	msq__bind_blob(s, 10, g->blob_hash, META_HASH_LEN);
	msq__bind_blob(s, 11, g->policy_hash, META_HASH_LEN);
	msq__bind_blob(s, 12, g->consent_id, META_ID_LEN);
	sqlite3_bind_int(s, 13, (int)g->sensitivity_max);
	msq__bind_blob(s, 14, g->wrapped_len ? g->wrapped_key : empty, g->wrapped_len);
	msq__bind_blob(s, 15, g->summary_len ? g->summary : empty, g->summary_len);
	sqlite3_bind_int64(s, 16, g->received_ns);
	msq__bind_blob(s, 17, g->receipt_len ? g->receipt : empty, g->receipt_len);
	r = msq__exec(q, s, NULL);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__segment_get(struct meta *m, const uint8_t *id, struct meta_segment *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_SEGMENT_GET, "SELECT " SEGMENT_COLS " FROM segment"
	    " WHERE segment_id = ?", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, id, META_ID_LEN);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			segment_row(s, out);
			r = 0;
		} else {
			r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
		}
		msq__done(s);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__segment_list(struct meta *m, const uint8_t *subject, int32_t day,
    int (*fn)(const struct meta_segment *, void *), void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_segment *page = xcalloc(MSQ_PAGE, sizeof(*page));
	uint8_t after_id[META_ID_LEN];
	int64_t after_ns = INT64_MIN;
	bool first = true;
	sqlite3_stmt *s;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		if (day == META_DAY_ALL)
			s = msq__stmt(q, S_SEGMENT_PAGE_ALL, "SELECT " SEGMENT_COLS
			    " FROM segment WHERE subject_id = ?1 AND (start_ns,"
			    " segment_id) > (?3, ?4) ORDER BY start_ns, segment_id"
			    " LIMIT ?5", &r);
		else
			s = msq__stmt(q, S_SEGMENT_PAGE_DAY, "SELECT " SEGMENT_COLS
			    " FROM segment WHERE subject_id = ?1 AND day = ?2 AND"
			    " (start_ns, segment_id) > (?3, ?4) ORDER BY start_ns,"
			    " segment_id LIMIT ?5", &r);
		if (s != NULL) {
			msq__bind_blob(s, 1, subject, META_ID_LEN);
			if (day != META_DAY_ALL)
				sqlite3_bind_int(s, 2, day);
			sqlite3_bind_int64(s, 3, after_ns);
			if (first)
				msq__bind_blob(s, 4, empty, 0);
			else
				msq__bind_blob(s, 4, after_id, META_ID_LEN);
			sqlite3_bind_int(s, 5, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW)
				segment_row(s, &page[n++]);
			r = msq__err(rc);
			msq__done(s);
		}
		pthread_mutex_unlock(&q->lock);
		if (r < 0)
			goto out;
		for (i = 0; i < n; i++)
			if ((r = fn(&page[i], arg)) != 0)
				goto out;
		if (n < MSQ_PAGE)
			break;
		first = false;
		after_ns = page[n - 1].start_ns;
		memcpy(after_id, page[n - 1].segment_id, META_ID_LEN);
	}
	r = 0;
out:
	free(page);
	return r;
}

int
msq__segment_delete(struct meta *m, const uint8_t *id)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0, changes = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_SEGMENT_DELETE, "DELETE FROM segment WHERE segment_id = ?", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, id, META_ID_LEN);
		r = msq__exec(q, s, &changes);
		if (r == 0 && changes == 0)
			r = UT_ENOTFOUND;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* One (subject, day[, when]) key of a paged walk. */
struct day_key {
	uint8_t subject[META_ID_LEN];
	int32_t day;
	int64_t when;
};

/*
 * Walks (subject, day) keys of statement id (sql: ?1, ?2 the key after
 * which to start, ?3 the page size; columns subject, day[, when]).
 */
static int
day_walk(struct msq *q, enum msq_stmt id, const char *sql,
    int (*fn)(const struct day_key *k, void *ctx), void *ctx)
{
	struct day_key *page = xcalloc(MSQ_PAGE, sizeof(*page));
	struct day_key after = { .day = INT32_MIN };
	bool first = true;
	sqlite3_stmt *s;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		s = msq__stmt(q, id, sql, &r);
		if (s != NULL) {
			msq__bind_blob(s, 1, first ? empty : after.subject,
			    first ? 0 : META_ID_LEN);
			sqlite3_bind_int(s, 2, after.day);
			sqlite3_bind_int(s, 3, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				msq__col_blob(s, 0, page[n].subject, META_ID_LEN);
				page[n].day = sqlite3_column_int(s, 1);
				page[n].when = sqlite3_column_count(s) > 2 ?
				    sqlite3_column_int64(s, 2) : 0;
				n++;
			}
			r = msq__err(rc);
			msq__done(s);
		}
		pthread_mutex_unlock(&q->lock);
		if (r < 0)
			goto out;
		for (i = 0; i < n; i++)
			if ((r = fn(&page[i], ctx)) != 0)
				goto out;
		if (n < MSQ_PAGE)
			break;
		first = false;
		after = page[n - 1];
	}
	r = 0;
out:
	free(page);
	return r;
}

struct days_ctx {
	int (*fn)(const uint8_t *subject, int32_t day, void *arg);
	int (*tfn)(const uint8_t *subject, int32_t day, int64_t when, void *arg);
	void *arg;
};

static int
days_cb(const struct day_key *k, void *ctx)
{
	struct days_ctx *c = ctx;

	return c->fn ? c->fn(k->subject, k->day, c->arg) :
	    c->tfn(k->subject, k->day, k->when, c->arg);
}

int
msq__subject_days(struct meta *m, int (*fn)(const uint8_t *, int32_t, void *), void *arg)
{
	struct days_ctx c = { .fn = fn, .arg = arg };

	return day_walk(msq__rd(m), S_SUBJECT_DAYS_PAGE, "SELECT DISTINCT"
	    " subject_id, day FROM segment WHERE (subject_id, day) > (?1, ?2)"
	    " ORDER BY subject_id, day LIMIT ?3", days_cb, &c);
}

/* ---- tombstones ---- */

int
msq__tombstone_add(struct meta *m, const uint8_t *subject, int32_t day, int64_t now_ns)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_TOMB_ADD, "INSERT OR IGNORE INTO tombstone(subject_id,"
	    " day, when_ns) VALUES(?, ?, ?)", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, subject, META_ID_LEN);
		sqlite3_bind_int(s, 2, day);
		sqlite3_bind_int64(s, 3, now_ns);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

bool
msq__tombstoned(struct meta *m, const uint8_t *subject, int32_t day)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	bool yes = true;        /* fails closed */
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_TOMB_CHECK, "SELECT 1 FROM tombstone WHERE"
	    " subject_id = ?1 AND day IN (?2, ?3)", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, subject, META_ID_LEN);
		sqlite3_bind_int(s, 2, day);
		sqlite3_bind_int(s, 3, META_DAY_ALL);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			yes = rc == SQLITE_ROW;
		else
			r = msq__err(rc);
		msq__done(s);
	}
	pthread_mutex_unlock(&q->lock);
	if (r < 0)
		log_error("meta: tombstone check failed (%s): answering erased",
		    ut_strerror(r));
	return yes;
}

int
msq__tombstone_list(struct meta *m,
    int (*fn)(const uint8_t *, int32_t, int64_t, void *), void *arg)
{
	struct days_ctx c = { .tfn = fn, .arg = arg };

	return day_walk(msq__rd(m), S_TOMB_PAGE, "SELECT subject_id, day,"
	    " when_ns FROM tombstone WHERE (subject_id, day) > (?1, ?2)"
	    " ORDER BY subject_id, day LIMIT ?3", days_cb, &c);
}

/* ---- settings ---- */

int
msq__setting_set(struct meta *m, const char *key, const void *val, size_t n)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	if (key == NULL || key[0] == '\0' || strlen(key) >= META_NAME_MAX)
		return UT_EINVAL;
	if (n > META_SETTING_MAX)
		return UT_ETOOBIG;
	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_SETTING_SET, "INSERT OR REPLACE INTO setting(key, val)"
	    " VALUES(?, ?)", &r);
	if (s != NULL) {
		msq__bind_text(s, 1, key);
		msq__bind_blob(s, 2, n ? val : empty, n);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__setting_get(struct meta *m, const char *key, void *val, size_t *len)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	size_t n;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_SETTING_GET, "SELECT val FROM setting WHERE key = ?", &r);
	if (s == NULL)
		goto out;
	msq__bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		n = (size_t)sqlite3_column_bytes(s, 0);
		if (n > *len) {
			r = UT_ETOOBIG;
		} else {
			if (n > 0)
				memcpy(val, sqlite3_column_blob(s, 0), n);
			r = 0;
		}
		*len = n;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}
