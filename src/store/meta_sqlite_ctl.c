/*
 * meta_sqlite_ctl.c - the SQLite metadata store's organisation control
 * (meta.h "organisation control"): organisation-wide pauses, published
 * policies and each device's latest acknowledgement of the control state.
 *
 * Invariants:
 *  (1) Pauses are never deleted: a pause ends (ended_ns, ended_by) once,
 *      early by an admin or at its until_ns by "expiry"; at most one pause
 *      is in force (not ended, until_ns > now) because starting while one
 *      is in force changes that one.
 *  (2) Policy versions are 1, 2, ... without gaps (the next is the last +
 *      1, in the same transaction) and never change once stored.
 *  (3) A device's ack row only moves forward in state_version.
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

#define PAUSE_COLS "id, since_ns, until_ns, ended_ns, started_by, ended_by"

static void
pause_row(sqlite3_stmt *s, struct meta_org_pause *p)
{
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	p->since_ns = sqlite3_column_int64(s, 1);
	p->until_ns = sqlite3_column_int64(s, 2);
	p->ended_ns = sqlite3_column_int64(s, 3);
	msq__col_text(s, 4, p->started_by, sizeof(p->started_by));
	msq__col_text(s, 5, p->ended_by, sizeof(p->ended_by));
}

/* One row of a single-row query into *out; UT_ENOTFOUND when none. */
static int
pause_one(sqlite3_stmt *s, struct meta_org_pause *out)
{
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_ROW) {
		pause_row(s, out);
		r = 0;
	} else
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	msq__done(s);
	return r;
}

/* Marks unended pauses past their until_ns as expired.  Lock held. */
static int
expire_locked(struct msq *q, int64_t now_ns, int *changes)
{
	sqlite3_stmt *s;
	int r = 0;

	s = msq__stmt(q, S_PAUSE_EXPIRE, "UPDATE org_pause SET ended_ns = until_ns,"
	    " ended_by = 'expiry' WHERE ended_ns = 0 AND until_ns <= ?", &r);
	if (s == NULL)
		return r;
	sqlite3_bind_int64(s, 1, now_ns);
	return msq__exec(q, s, changes);
}

int
msq__org_pause_start(struct meta *m, int64_t now_ns, int64_t until_ns,
    const char *who, struct meta_org_pause *out)
{
	struct msq *q = (struct msq *)m;
	struct meta_org_pause cur;
	sqlite3_stmt *s;
	int r;

	if (until_ns <= now_ns || who == NULL)
		return UT_EINVAL;
	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	if ((r = expire_locked(q, now_ns, NULL)) < 0)
		goto end;
	s = msq__stmt(q, S_PAUSE_CUR, "SELECT " PAUSE_COLS " FROM org_pause"
	    " WHERE ended_ns = 0 ORDER BY id DESC LIMIT 1", &r);
	if (s == NULL)
		goto end;
	r = pause_one(s, &cur);
	if (r == 0) {
		s = msq__stmt(q, S_PAUSE_EXTEND, "UPDATE org_pause SET until_ns = ?"
		    " WHERE id = ?", &r);
		if (s == NULL)
			goto end;
		sqlite3_bind_int64(s, 1, until_ns);
		sqlite3_bind_int64(s, 2, cur.id);
		if ((r = msq__exec(q, s, NULL)) < 0)
			goto end;
		cur.until_ns = until_ns;
	} else if (r == UT_ENOTFOUND) {
		s = msq__stmt(q, S_PAUSE_ADD, "INSERT INTO org_pause(since_ns,"
		    " until_ns, ended_ns, started_by, ended_by) VALUES (?, ?, 0, ?, '')",
		    &r);
		if (s == NULL)
			goto end;
		sqlite3_bind_int64(s, 1, now_ns);
		sqlite3_bind_int64(s, 2, until_ns);
		msq__bind_text(s, 3, who);
		if ((r = msq__exec(q, s, NULL)) < 0)
			goto end;
		memset(&cur, 0, sizeof(cur));
		cur.id = sqlite3_last_insert_rowid(q->db);
		cur.since_ns = now_ns;
		cur.until_ns = until_ns;
		ut_strlcpy_utf8(cur.started_by, who, sizeof(cur.started_by) - 1,
		    sizeof(cur.started_by));
	}
end:
	r = msq__end(q, r);
	if (r == 0 && out != NULL)
		*out = cur;
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__org_pause_end(struct meta *m, int64_t now_ns, const char *who)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r, ch = 0, ch2 = 0;

	if (who == NULL)
		return UT_EINVAL;
	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	if ((r = expire_locked(q, now_ns, &ch)) < 0)
		goto end;
	s = msq__stmt(q, S_PAUSE_END, "UPDATE org_pause SET ended_ns = ?1,"
	    " ended_by = ?2 WHERE ended_ns = 0 AND until_ns > ?1", &r);
	if (s == NULL)
		goto end;
	sqlite3_bind_int64(s, 1, now_ns);
	msq__bind_text(s, 2, who);
	r = msq__exec(q, s, &ch2);
end:
	r = msq__end(q, r);
out:
	pthread_mutex_unlock(&q->lock);
	return r < 0 ? r : ch + ch2;
}

int
msq__org_pause_last(struct meta *m, struct meta_org_pause *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_PAUSE_LAST, "SELECT " PAUSE_COLS " FROM org_pause"
	    " ORDER BY id DESC LIMIT 1", &r);
	if (s != NULL)
		r = pause_one(s, out);
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__org_pause_covering(struct meta *m, int64_t start_ns, int64_t end_ns,
    int64_t grace_ns, struct meta_org_pause *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_PAUSE_COVER, "SELECT " PAUSE_COLS " FROM org_pause"
	    " WHERE since_ns <= ?2 AND"
	    " ((?1 >= since_ns AND ?1 < (CASE ended_ns WHEN 0 THEN until_ns"
	    " ELSE ended_ns END)) OR"
	    " (?1 < since_ns AND ?2 - ?3 > since_ns))"
	    " ORDER BY id LIMIT 1", &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, start_ns);
		sqlite3_bind_int64(s, 2, end_ns > start_ns ? end_ns : start_ns);
		sqlite3_bind_int64(s, 3, grace_ns);
		r = pause_one(s, out);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- policies ---- */

int
msq__policy_add(struct meta *m, const struct meta_policy *p, int64_t *version)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int64_t v = 0;
	int r, rc;

	if (p == NULL || p->yaml == NULL || p->published_by[0] == '\0')
		return UT_EINVAL;
	if (p->yaml_len > META_POLICY_MAX)
		return UT_ETOOBIG;
	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	s = msq__stmt(q, S_POLICY_LAST, "SELECT coalesce(max(version), 0)"
	    " FROM policy_version", &r);
	if (s == NULL)
		goto end;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0) + 1;
	else
		r = msq__err(rc);
	msq__done(s);
	if (r < 0)
		goto end;
	s = msq__stmt(q, S_POLICY_ADD, "INSERT INTO policy_version(version, sha256,"
	    " yaml, published_ns, published_by) VALUES (?, ?, ?, ?, ?)", &r);
	if (s == NULL)
		goto end;
	sqlite3_bind_int64(s, 1, v);
	msq__bind_blob(s, 2, p->sha256, META_HASH_LEN);
	msq__bind_blob(s, 3, p->yaml, p->yaml_len);
	sqlite3_bind_int64(s, 4, p->published_ns);
	msq__bind_text(s, 5, p->published_by);
	r = msq__exec(q, s, NULL);
end:
	r = msq__end(q, r);
	if (r == 0 && version != NULL)
		*version = v;
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

static void
policy_row(sqlite3_stmt *s, struct meta_policy *p, bool with_yaml)
{
	const void *y;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->version = sqlite3_column_int64(s, 0);
	msq__col_blob(s, 1, p->sha256, META_HASH_LEN);
	p->published_ns = sqlite3_column_int64(s, 2);
	msq__col_text(s, 3, p->published_by, sizeof(p->published_by));
	if (!with_yaml)
		return;
	y = sqlite3_column_blob(s, 4);
	n = (size_t)sqlite3_column_bytes(s, 4);
	p->yaml = xmalloc(n + 1);
	if (n > 0)
		memcpy(p->yaml, y, n);
	p->yaml[n] = '\0';
	p->yaml_len = n;
}

int
msq__policy_get(struct meta *m, int64_t version, struct meta_policy *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_POLICY_GET, "SELECT version, sha256, published_ns,"
	    " published_by, yaml FROM policy_version WHERE ?1 = 0 OR version = ?1"
	    " ORDER BY version DESC LIMIT 1", &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, version);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			policy_row(s, out, true);
		r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? UT_ENOTFOUND :
		    msq__err(rc);
		msq__done(s);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__policy_list(struct meta *m, int (*fn)(const struct meta_policy *, void *),
    void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_policy page[MSQ_PAGE];
	sqlite3_stmt *s;
	int64_t after = 0;
	size_t n, i;
	int r = 0, rc;

	for (;;) {
		n = 0;
		pthread_mutex_lock(&q->lock);
		s = msq__stmt(q, S_POLICY_PAGE, "SELECT version, sha256,"
		    " published_ns, published_by FROM policy_version"
		    " WHERE version > ? ORDER BY version LIMIT ?", &r);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, after);
			sqlite3_bind_int(s, 2, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < MSQ_PAGE)
				policy_row(s, &page[n++], false);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE)
				r = msq__err(rc);
			msq__done(s);
		}
		pthread_mutex_unlock(&q->lock);
		if (r < 0)
			return r;
		for (i = 0; i < n; i++)
			if ((r = fn(&page[i], arg)) != 0)
				return r;
		if (n < MSQ_PAGE)
			return 0;
		after = page[n - 1].version;
	}
}

/* ---- acks ---- */

int
msq__ack_put(struct meta *m, const struct meta_ack *acks, size_t n)
{
	struct msq *q = (struct msq *)m;
	const struct meta_ack *a;
	sqlite3_stmt *s;
	size_t i;
	int r;

	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	for (i = 0; i < n && r == 0; i++) {
		a = &acks[i];
		s = msq__stmt(q, S_ACK_PUT, "INSERT INTO device_ack(device_id,"
		    " state_version, paused, recording, policy_version, acked_ns)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(device_id) DO UPDATE"
		    " SET state_version = ?2, paused = ?3, recording = ?4,"
		    " policy_version = ?5, acked_ns = ?6 WHERE state_version <= ?2", &r);
		if (s == NULL)
			break;
		sqlite3_bind_int64(s, 1, a->device_id);
		sqlite3_bind_int64(s, 2, (int64_t)a->state_version);
		sqlite3_bind_int(s, 3, a->paused ? 1 : 0);
		sqlite3_bind_int(s, 4, a->recording ? 1 : 0);
		sqlite3_bind_int64(s, 5, a->policy_version);
		sqlite3_bind_int64(s, 6, a->acked_ns);
		r = msq__exec(q, s, NULL);
		/* A device revoked and gone meanwhile: its ack is dropped. */
		if (r == UT_ENOTFOUND)
			r = 0;
	}
	r = msq__end(q, r);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int
count_one(sqlite3_stmt *s, uint64_t *out)
{
	int rc = sqlite3_step(s), r = 0;

	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	else
		r = msq__err(rc);
	msq__done(s);
	return r;
}

int
msq__ack_count(struct meta *m, uint64_t state_version, uint64_t *acks,
    uint64_t *devices)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_ACK_COUNT, "SELECT count(*) FROM device_ack a JOIN device d"
	    " ON d.id = a.device_id WHERE d.revoked_ns = 0 AND a.state_version >= ?",
	    &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, (int64_t)state_version);
		r = count_one(s, acks);
	}
	if (r == 0) {
		s = msq__stmt(q, S_ACK_DEVICES, "SELECT count(*) FROM device"
		    " WHERE revoked_ns = 0", &r);
		if (s != NULL)
			r = count_one(s, devices);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* The first column of a one-row query as int64 (0 when no row). */
static int
int_or_zero(sqlite3_stmt *s, int64_t *out)
{
	int rc = sqlite3_step(s), r = 0;

	*out = 0;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		r = msq__err(rc);
	msq__done(s);
	return r;
}

int
msq__control_subject(struct meta *m, const uint8_t *subject, int64_t *withdrawn_ns,
    int64_t *erased_all_ns)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int64_t w = 0, e = 0;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CTL_WITHDRAWN, "SELECT withdrawn_ns FROM consent"
	    " WHERE subject_id = ? ORDER BY given_ns DESC LIMIT 1", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, subject, META_ID_LEN);
		r = int_or_zero(s, &w);
	}
	if (r == 0) {
		s = msq__stmt(q, S_CTL_ERASED, "SELECT when_ns FROM tombstone"
		    " WHERE subject_id = ? AND day = ?", &r);
		if (s != NULL) {
			msq__bind_blob(s, 1, subject, META_ID_LEN);
			sqlite3_bind_int64(s, 2, META_DAY_ALL);
			r = int_or_zero(s, &e);
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (r == 0) {
		*withdrawn_ns = w;
		*erased_all_ns = e;
	}
	return r;
}

int
msq__ack_get(struct meta *m, int64_t device_id, struct meta_ack *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_ACK_GET, "SELECT state_version, paused, recording,"
	    " policy_version, acked_ns FROM device_ack WHERE device_id = ?", &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, device_id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			memset(out, 0, sizeof(*out));
			out->device_id = device_id;
			out->state_version = (uint64_t)sqlite3_column_int64(s, 0);
			out->paused = sqlite3_column_int(s, 1) != 0;
			out->recording = sqlite3_column_int(s, 2) != 0;
			out->policy_version = sqlite3_column_int64(s, 3);
			out->acked_ns = sqlite3_column_int64(s, 4);
		} else
			r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
		msq__done(s);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}
