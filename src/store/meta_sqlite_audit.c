/*
 * meta_sqlite_audit.c - the SQLite metadata store's audit rows and signed
 * checkpoints (the invariants are in meta_sqlite.c).  src/audit computes
 * the hashes; this keeps the rows.
 *
 * Invariants:
 *  (A1) Sequence numbers are 1, 2, ... without gaps: a batch is appended
 *       only when its first seq is the last stored + 1 and its seqs are
 *       consecutive (else UT_ESTATE, nothing written), in one transaction.
 *  (A2) meta_audit_append() returns 0 only once the batch's commit is
 *       fsync'd (WAL, synchronous=FULL).  When the commit fails (an fsync
 *       error, say) the batch is rolled back and not visible to this or any
 *       later connection after a clean close; see test_meta's
 *       test_meta_audit_fsync_fault for what a crash right then may keep.
 *  (A3) Rows are never updated or deleted (schema triggers).
 */
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "store_int.h"

#define AUDIT_COLS "seq, time_ns, principal, role, purpose, action, subject," \
	" object, outcome, source, detail, prev, hash"

static void
audit_row(sqlite3_stmt *s, struct meta_audit_row *a)
{
	memset(a, 0, sizeof(*a));
	a->seq = (uint64_t)sqlite3_column_int64(s, 0);
	a->time_ns = sqlite3_column_int64(s, 1);
	msq__col_text(s, 2, a->principal, sizeof(a->principal));
	msq__col_text(s, 3, a->role, sizeof(a->role));
	msq__col_text(s, 4, a->purpose, sizeof(a->purpose));
	msq__col_text(s, 5, a->action, sizeof(a->action));
	msq__col_text(s, 6, a->subject, sizeof(a->subject));
	msq__col_text(s, 7, a->object, sizeof(a->object));
	msq__col_text(s, 8, a->outcome, sizeof(a->outcome));
	msq__col_text(s, 9, a->source, sizeof(a->source));
	msq__col_text(s, 10, a->detail, sizeof(a->detail));
	msq__col_blob(s, 11, a->prev, META_HASH_LEN);
	msq__col_blob(s, 12, a->hash, META_HASH_LEN);
}

/* Binds a fixed-size string field, up to its first NUL. */
#define BIND_FIELD(s, i, f) \
	sqlite3_bind_text((s), (i), (f), (int)strnlen((f), sizeof(f)), SQLITE_STATIC)

/* The last row into *out; UT_ENOTFOUND when empty.  Lock held. */
static int
audit_last(struct msq *q, struct meta_audit_row *out)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = msq__stmt(q, S_AUDIT_LAST, "SELECT " AUDIT_COLS " FROM audit"
	    " ORDER BY seq DESC LIMIT 1", &r);
	if (s == NULL)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		audit_row(s, out);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
	return r;
}

static int
audit_insert(struct msq *q, const struct meta_audit_row *a)
{
	sqlite3_stmt *s;
	int r = 0;

	s = msq__stmt(q, S_AUDIT_ADD, "INSERT INTO audit(" AUDIT_COLS ") VALUES("
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &r);
	if (s == NULL)
		return r;
	sqlite3_bind_int64(s, 1, (int64_t)a->seq);
	sqlite3_bind_int64(s, 2, a->time_ns);
	BIND_FIELD(s, 3, a->principal);
	BIND_FIELD(s, 4, a->role);
	BIND_FIELD(s, 5, a->purpose);
	BIND_FIELD(s, 6, a->action);
	BIND_FIELD(s, 7, a->subject);
	BIND_FIELD(s, 8, a->object);
	BIND_FIELD(s, 9, a->outcome);
	BIND_FIELD(s, 10, a->source);
	BIND_FIELD(s, 11, a->detail);
	msq__bind_blob(s, 12, a->prev, META_HASH_LEN);
	msq__bind_blob(s, 13, a->hash, META_HASH_LEN);
	return msq__exec(q, s, NULL);
}

int
msq__audit_append(struct meta *m, const struct meta_audit_row *rows, size_t n)
{
	struct msq *q = (struct msq *)m;
	struct meta_audit_row last;
	uint64_t next;
	size_t i;
	int r;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	r = audit_last(q, &last);
	if (r == UT_ENOTFOUND) {
		last.seq = 0;
		r = 0;
	}
	next = last.seq + 1;
	for (i = 0; r == 0 && i < n; i++) {
		if (rows[i].seq != next + i)
			r = UT_ESTATE;  /* (A1) */
		else
			r = audit_insert(q, &rows[i]);
	}
	r = msq__end(q, r);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__audit_last(struct meta *m, struct meta_audit_row *out)
{
	struct msq *q = (struct msq *)m;
	int r;

	pthread_mutex_lock(&q->lock);
	r = audit_last(q, out);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Filters of a paged audit walk; the page key is the last seq delivered. */
struct audit_walk {
	const struct meta_audit_query *q;   /* NULL: a scan */
	uint64_t to_seq;                    /* scans: 0 = to the end */
	uint64_t after;
	size_t delivered;
};

/* Prepares and binds the next page's statement; lock held. */
static sqlite3_stmt *
walk_stmt(struct msq *q, const struct audit_walk *w, int *r)
{
	const struct meta_audit_query *aq = w->q;
	sqlite3_stmt *s;

	if (aq == NULL)
		s = msq__stmt(q, S_AUDIT_PAGE, "SELECT " AUDIT_COLS " FROM audit"
		    " WHERE seq > ?5 AND (?7 = 0 OR seq <= ?7) ORDER BY seq"
		    " LIMIT ?6", r);
	else if (aq->principal != NULL)
		s = msq__stmt(q, S_AUDIT_Q_PRINCIPAL, "SELECT " AUDIT_COLS
		    " FROM audit WHERE principal = ?1 AND (?2 IS NULL OR"
		    " subject = ?2) AND (?3 = 0 OR time_ns >= ?3) AND (?4 = 0 OR"
		    " time_ns <= ?4) AND seq > ?5 ORDER BY seq LIMIT ?6", r);
	else if (aq->subject != NULL)
		s = msq__stmt(q, S_AUDIT_Q_SUBJECT, "SELECT " AUDIT_COLS
		    " FROM audit WHERE subject = ?2 AND ?1 IS NULL AND (?3 = 0"
		    " OR time_ns >= ?3) AND (?4 = 0 OR time_ns <= ?4) AND"
		    " seq > ?5 ORDER BY seq LIMIT ?6", r);
	else
		s = msq__stmt(q, S_AUDIT_Q_ALL, "SELECT " AUDIT_COLS " FROM audit"
		    " WHERE ?1 IS NULL AND ?2 IS NULL AND (?3 = 0 OR time_ns >= ?3)"
		    " AND (?4 = 0 OR time_ns <= ?4) AND seq > ?5 ORDER BY seq"
		    " LIMIT ?6", r);
	if (s == NULL)
		return NULL;
	if (aq != NULL) {
		if (aq->principal != NULL)
			msq__bind_text(s, 1, aq->principal);
		if (aq->subject != NULL)
			msq__bind_text(s, 2, aq->subject);
		sqlite3_bind_int64(s, 3, aq->since_ns);
		sqlite3_bind_int64(s, 4, aq->until_ns);
	} else {
		sqlite3_bind_int64(s, 7, (int64_t)w->to_seq);
	}
	sqlite3_bind_int64(s, 5, (int64_t)w->after);
	sqlite3_bind_int(s, 6, (int)MSQ_PAGE);
	return s;
}

static int
audit_walk(struct msq *q, struct audit_walk *w,
    int (*fn)(const struct meta_audit_row *, void *), void *arg)
{
	struct meta_audit_row *page = xcalloc(MSQ_PAGE, sizeof(*page));
	size_t limit = w->q != NULL ? w->q->limit : 0;
	sqlite3_stmt *s;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		s = walk_stmt(q, w, &r);
		if (s != NULL) {
			while ((rc = sqlite3_step(s)) == SQLITE_ROW)
				audit_row(s, &page[n++]);
			r = msq__err(rc);
			msq__done(s);
		}
		pthread_mutex_unlock(&q->lock);
		if (r < 0)
			goto out;
		for (i = 0; i < n; i++) {
			if (limit != 0 && w->delivered == limit)
				goto done;
			w->delivered++;
			if ((r = fn(&page[i], arg)) != 0)
				goto out;
		}
		if (n < MSQ_PAGE)
			break;
		w->after = page[n - 1].seq;
	}
done:
	r = 0;
out:
	free(page);
	return r;
}

int
msq__audit_scan(struct meta *m, uint64_t from_seq, uint64_t to_seq,
    int (*fn)(const struct meta_audit_row *, void *), void *arg)
{
	struct audit_walk w = { .to_seq = to_seq,
		.after = from_seq > 0 ? from_seq - 1 : 0 };

	if (to_seq != 0 && to_seq < from_seq)
		return 0;
	return audit_walk(msq__rd(m), &w, fn, arg);
}

int
msq__audit_query(struct meta *m, const struct meta_audit_query *aq,
    int (*fn)(const struct meta_audit_row *, void *), void *arg)
{
	struct audit_walk w = { .q = aq };

	return audit_walk(msq__rd(m), &w, fn, arg);
}

int
msq__audit_ckpt_add(struct meta *m, const struct meta_audit_ckpt *c)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CKPT_ADD, "INSERT INTO audit_ckpt(seq, time_ns, head,"
	    " sig) VALUES(?, ?, ?, ?)", &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, (int64_t)c->seq);
		sqlite3_bind_int64(s, 2, c->time_ns);
		msq__bind_blob(s, 3, c->head, META_HASH_LEN);
		msq__bind_blob(s, 4, c->sig, sizeof(c->sig));
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__audit_ckpt_list(struct meta *m,
    int (*fn)(const struct meta_audit_ckpt *, void *), void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_audit_ckpt *page = xcalloc(MSQ_PAGE, sizeof(*page));
	uint64_t after = 0;
	sqlite3_stmt *s;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		s = msq__stmt(q, S_CKPT_PAGE, "SELECT seq, time_ns, head, sig"
		    " FROM audit_ckpt WHERE seq > ? ORDER BY seq LIMIT ?", &r);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, (int64_t)after);
			sqlite3_bind_int(s, 2, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				page[n].seq = (uint64_t)sqlite3_column_int64(s, 0);
				page[n].time_ns = sqlite3_column_int64(s, 1);
				msq__col_blob(s, 2, page[n].head, META_HASH_LEN);
				msq__col_blob(s, 3, page[n].sig, sizeof(page[n].sig));
				n++;
			}
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
		after = page[n - 1].seq;
	}
	r = 0;
out:
	free(page);
	return r;
}
