/*
 * meta_sqlite_review.c - the SQLite metadata store's review assignments
 * (meta.h "review assignments").  A row names a segment, its subject and a
 * reviewer; its random id is the only handle a reviewer is given.  State
 * moves PENDING -> APPROVED | REJECTED (the reviewer) and PENDING |
 * APPROVED -> WITHDRAWN (the subject); nothing moves back.
 *
 * As in every meta_sqlite file: the connection is used with q->lock held
 * and list walks page MSQ_PAGE rows at a time (meta_sqlite.c invariant 1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "store_int.h"

#define ASSIGN_COLS "n, id, segment_id, subject_id, reviewer_id, assigned_by," \
	" assigned_ns, decided_ns, state, reason"

static int64_t
assign_row(sqlite3_stmt *s, struct meta_assignment *a)
{
	memset(a, 0, sizeof(*a));
	msq__col_blob(s, 1, a->id, META_ID_LEN);
	msq__col_blob(s, 2, a->segment_id, META_ID_LEN);
	msq__col_blob(s, 3, a->subject_id, META_ID_LEN);
	a->reviewer_id = sqlite3_column_int64(s, 4);
	a->assigned_by = sqlite3_column_int64(s, 5);
	a->assigned_ns = sqlite3_column_int64(s, 6);
	a->decided_ns = sqlite3_column_int64(s, 7);
	a->state = sqlite3_column_int(s, 8);
	msq__col_text(s, 9, a->reason, sizeof(a->reason));
	return sqlite3_column_int64(s, 0);
}

int
msq__assignment_add(struct meta *m, const struct meta_assignment *a)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_ASSIGN_ADD, "INSERT INTO assignment(id, segment_id,"
	    " subject_id, reviewer_id, assigned_by, assigned_ns, decided_ns, state,"
	    " reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, '')", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, a->id, META_ID_LEN);
		msq__bind_blob(s, 2, a->segment_id, META_ID_LEN);
		msq__bind_blob(s, 3, a->subject_id, META_ID_LEN);
		sqlite3_bind_int64(s, 4, a->reviewer_id);
		sqlite3_bind_int64(s, 5, a->assigned_by);
		sqlite3_bind_int64(s, 6, a->assigned_ns);
		sqlite3_bind_int(s, 7, META_REVIEW_PENDING);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__assignment_get(struct meta *m, const uint8_t *id, struct meta_assignment *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_ASSIGN_GET, "SELECT " ASSIGN_COLS " FROM assignment"
	    " WHERE id = ?", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, id, META_ID_LEN);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			(void)assign_row(s, out);
		r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? UT_ENOTFOUND :
		    msq__err(rc);
		msq__done(s);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__assignment_list(struct meta *m, int64_t reviewer_id,
    int (*fn)(const struct meta_assignment *, void *), void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_assignment *page = xcalloc(MSQ_PAGE, sizeof(*page));
	int64_t after = 0, last = 0;
	sqlite3_stmt *s;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		if (reviewer_id != 0)
			s = msq__stmt(q, S_ASSIGN_PAGE, "SELECT " ASSIGN_COLS " FROM"
			    " assignment WHERE reviewer_id = ?1 AND n > ?2 ORDER BY n"
			    " LIMIT ?3", &r);
		else
			s = msq__stmt(q, S_ASSIGN_PAGE_ALL, "SELECT " ASSIGN_COLS
			    " FROM assignment WHERE n > ?2 ORDER BY n LIMIT ?3", &r);
		if (s != NULL) {
			if (reviewer_id != 0)
				sqlite3_bind_int64(s, 1, reviewer_id);
			sqlite3_bind_int64(s, 2, after);
			sqlite3_bind_int(s, 3, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW)
				last = assign_row(s, &page[n++]);
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
		after = last;
	}
	r = 0;
out:
	free(page);
	return r;
}

int
msq__assignment_decide(struct meta *m, const uint8_t *id, int state,
    int64_t when_ns, const char *reason)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0, changes = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_ASSIGN_DECIDE, "UPDATE assignment SET state = ?2,"
	    " decided_ns = ?3, reason = ?4 WHERE id = ?1 AND state = ?5", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, id, META_ID_LEN);
		sqlite3_bind_int(s, 2, state);
		sqlite3_bind_int64(s, 3, when_ns);
		msq__bind_text(s, 4, reason);
		sqlite3_bind_int(s, 5, META_REVIEW_PENDING);
		r = msq__exec(q, s, &changes);
	}
	pthread_mutex_unlock(&q->lock);
	if (r == 0 && changes == 0) {
		struct meta_assignment a;

		r = msq__assignment_get(m, id, &a);
		return r < 0 ? r : UT_ESTATE;
	}
	return r;
}

int
msq__assignment_withdraw_segment(struct meta *m, const uint8_t *segment,
    int64_t when_ns)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0, changes = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_ASSIGN_WITHDRAW, "UPDATE assignment SET state = ?2,"
	    " decided_ns = ?3 WHERE segment_id = ?1 AND state IN (?4, ?5)", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, segment, META_ID_LEN);
		sqlite3_bind_int(s, 2, META_REVIEW_WITHDRAWN);
		sqlite3_bind_int64(s, 3, when_ns);
		sqlite3_bind_int(s, 4, META_REVIEW_PENDING);
		sqlite3_bind_int(s, 5, META_REVIEW_APPROVED);
		r = msq__exec(q, s, &changes);
	}
	pthread_mutex_unlock(&q->lock);
	return r < 0 ? r : changes;
}
