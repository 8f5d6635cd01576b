/*
 * meta_sqlite_auth.c - the SQLite metadata store's principals, tokens,
 * single-use codes and devices (the invariants are in meta_sqlite.c).
 *
 * Revocation cascades in one transaction: a principal takes its tokens,
 * its devices' tokens, its devices and its unused codes with it; a device
 * takes its tokens.  A revoked row keeps its first revocation time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "store_int.h"

/* ---- principals ---- */

#define PRINCIPAL_COLS "id, name, role, subject_id, created_ns, revoked_ns"

static void
principal_row(sqlite3_stmt *s, struct meta_principal *p)
{
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	msq__col_text(s, 1, p->name, sizeof(p->name));
	p->role = (enum ut_role)sqlite3_column_int(s, 2);
	msq__col_blob(s, 3, p->subject_id, META_ID_LEN);
	p->created_ns = sqlite3_column_int64(s, 4);
	p->revoked_ns = sqlite3_column_int64(s, 5);
}

int
msq__principal_add(struct meta *m, const struct meta_principal *p, int64_t *id)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	if (p->name[0] == '\0' || strnlen(p->name, META_NAME_MAX) == META_NAME_MAX)
		return UT_EINVAL;
	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_PRINCIPAL_ADD, "INSERT INTO principal(name, role,"
	    " subject_id, created_ns, revoked_ns) VALUES(?, ?, ?, ?, ?)", &r);
	if (s == NULL)
		goto out;
	msq__bind_text(s, 1, p->name);
	sqlite3_bind_int(s, 2, (int)p->role);
	msq__bind_blob(s, 3, p->subject_id, META_ID_LEN);
	sqlite3_bind_int64(s, 4, p->created_ns);
	sqlite3_bind_int64(s, 5, p->revoked_ns);
	r = msq__exec(q, s, NULL);
	if (r == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(q->db);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Runs a one-row query prepared and bound by the caller; lock held. */
static int
one_principal(sqlite3_stmt *s, struct meta_principal *out)
{
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_ROW) {
		principal_row(s, out);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
	return r;
}

int
msq__principal_get(struct meta *m, int64_t id, struct meta_principal *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_PRINCIPAL_GET, "SELECT " PRINCIPAL_COLS
	    " FROM principal WHERE id = ?", &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, id);
		r = one_principal(s, out);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__principal_by_name(struct meta *m, const char *name, struct meta_principal *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_PRINCIPAL_BY_NAME, "SELECT " PRINCIPAL_COLS
	    " FROM principal WHERE name = ?", &r);
	if (s != NULL) {
		msq__bind_text(s, 1, name);
		r = one_principal(s, out);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__principal_by_subject(struct meta *m, const uint8_t *subject,
    struct meta_principal *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_PRINCIPAL_BY_SUBJECT, "SELECT " PRINCIPAL_COLS
	    " FROM principal WHERE subject_id = ? AND role = ? ORDER BY id"
	    " LIMIT 1", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, subject, META_ID_LEN);
		sqlite3_bind_int(s, 2, UT_ROLE_SUBJECT);
		r = one_principal(s, out);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__principal_list(struct meta *m,
    int (*fn)(const struct meta_principal *, void *), void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_principal *page = xcalloc(MSQ_PAGE, sizeof(*page));
	sqlite3_stmt *s;
	int64_t after = 0;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		s = msq__stmt(q, S_PRINCIPAL_PAGE, "SELECT " PRINCIPAL_COLS
		    " FROM principal WHERE id > ? ORDER BY id LIMIT ?", &r);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, after);
			sqlite3_bind_int(s, 2, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW)
				principal_row(s, &page[n++]);
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
		after = page[n - 1].id;
	}
	r = 0;
out:
	free(page);
	return r;
}

/* Runs statement id (sql) with ?1 = a, ?2 = b in the open transaction. */
static int
exec2(struct msq *q, enum msq_stmt id, const char *sql, int64_t a, int64_t b,
    int *changes)
{
	sqlite3_stmt *s;
	int r = 0;

	s = msq__stmt(q, id, sql, &r);
	if (s == NULL)
		return r;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	return msq__exec(q, s, changes);
}

int
msq__principal_revoke(struct meta *m, int64_t id, int64_t now_ns)
{
	struct msq *q = (struct msq *)m;
	int r, changes = 0;

	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	/* Keeps the first revocation time when revoked twice. */
	r = exec2(q, S_PRINCIPAL_REVOKE, "UPDATE principal SET revoked_ns = ?2"
	    " WHERE id = ?1 AND revoked_ns = 0", id, now_ns, &changes);
	if (r == 0 && changes == 0) {
		struct meta_principal p;
		sqlite3_stmt *s = msq__stmt(q, S_PRINCIPAL_GET, "SELECT "
		    PRINCIPAL_COLS " FROM principal WHERE id = ?", &r);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, id);
			r = one_principal(s, &p);
		}
	}
	if (r == 0)
		r = exec2(q, S_PRINCIPAL_REVOKE_TOKENS, "UPDATE token SET"
		    " revoked_ns = ?2 WHERE principal_id = ?1 AND revoked_ns = 0",
		    id, now_ns, NULL);
	if (r == 0)
		r = exec2(q, S_PRINCIPAL_REVOKE_DEVTOKENS, "UPDATE token SET"
		    " revoked_ns = ?2 WHERE revoked_ns = 0 AND device_id IN"
		    " (SELECT id FROM device WHERE principal_id = ?1)",
		    id, now_ns, NULL);
	if (r == 0)
		r = exec2(q, S_PRINCIPAL_REVOKE_DEVICES, "UPDATE device SET"
		    " revoked_ns = ?2 WHERE principal_id = ?1 AND revoked_ns = 0",
		    id, now_ns, NULL);
	/* Unused codes for the principal expire now (then UT_ENOTFOUND). */
	if (r == 0)
		r = exec2(q, S_PRINCIPAL_REVOKE_CODES, "UPDATE code SET"
		    " expires_ns = min(expires_ns, ?2) WHERE principal_id = ?1"
		    " AND used_ns = 0", id, now_ns, NULL);
	r = msq__end(q, r);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- tokens ---- */

int
msq__token_add(struct meta *m, const struct meta_token *t)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_TOKEN_ADD, "INSERT INTO token(hash, principal_id,"
	    " device_id, expires_ns, revoked_ns) VALUES(?, ?, ?, ?, ?)", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, t->hash, META_HASH_LEN);
		sqlite3_bind_int64(s, 2, t->principal_id);
		if (t->device_id != 0)
			sqlite3_bind_int64(s, 3, t->device_id);
		sqlite3_bind_int64(s, 4, t->expires_ns);
		sqlite3_bind_int64(s, 5, t->revoked_ns);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__token_lookup(struct meta *m, const uint8_t *hash, int64_t now_ns,
    struct meta_token *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_TOKEN_LOOKUP, "SELECT t.principal_id,"
	    " ifnull(t.device_id, 0), t.expires_ns, t.revoked_ns FROM token t"
	    " JOIN principal p ON p.id = t.principal_id"
	    " LEFT JOIN device d ON d.id = t.device_id"
	    " WHERE t.hash = ? AND t.revoked_ns = 0 AND t.expires_ns > ?"
	    " AND p.revoked_ns = 0"
	    " AND (t.device_id IS NULL OR d.revoked_ns = 0)", &r);
	if (s == NULL)
		goto out;
	msq__bind_blob(s, 1, hash, META_HASH_LEN);
	sqlite3_bind_int64(s, 2, now_ns);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memcpy(out->hash, hash, META_HASH_LEN);
		out->principal_id = sqlite3_column_int64(s, 0);
		out->device_id = sqlite3_column_int64(s, 1);
		out->expires_ns = sqlite3_column_int64(s, 2);
		out->revoked_ns = sqlite3_column_int64(s, 3);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__token_revoke(struct meta *m, const uint8_t *hash, int64_t now_ns)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0, changes = 0, rc;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_TOKEN_REVOKE, "UPDATE token SET revoked_ns = ?"
	    " WHERE hash = ? AND revoked_ns = 0", &r);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, now_ns);
	msq__bind_blob(s, 2, hash, META_HASH_LEN);
	if ((r = msq__exec(q, s, &changes)) < 0 || changes > 0)
		goto out;
	/* Revoked already (0) or never there (UT_ENOTFOUND). */
	s = msq__stmt(q, S_TOKEN_EXISTS, "SELECT 1 FROM token WHERE hash = ?", &r);
	if (s == NULL)
		goto out;
	msq__bind_blob(s, 1, hash, META_HASH_LEN);
	rc = sqlite3_step(s);
	r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	msq__done(s);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- codes ---- */

static void
code_row(sqlite3_stmt *s, struct meta_code *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = (enum meta_code_kind)sqlite3_column_int(s, 0);
	msq__col_blob(s, 1, c->id, META_CODE_ID_LEN);
	msq__col_blob(s, 2, c->hash, META_HASH_LEN);
	c->principal_id = sqlite3_column_int64(s, 3);
	c->created_by = sqlite3_column_int64(s, 4);
	c->created_ns = sqlite3_column_int64(s, 5);
	c->expires_ns = sqlite3_column_int64(s, 6);
	c->used_ns = sqlite3_column_int64(s, 7);
	msq__col_text(s, 8, c->used_source, sizeof(c->used_source));
	c->attempts = (unsigned)sqlite3_column_int(s, 9);
}

int
msq__code_add(struct meta *m, const struct meta_code *c)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	if (c->kind != META_CODE_CLAIM && c->kind != META_CODE_ENROLL)
		return UT_EINVAL;
	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_CODE_ADD, "INSERT INTO code(kind, id, hash,"
	    " principal_id, created_by, created_ns, expires_ns, used_ns,"
	    " used_source, attempts) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &r);
	if (s != NULL) {
		sqlite3_bind_int(s, 1, (int)c->kind);
		msq__bind_blob(s, 2, c->id, META_CODE_ID_LEN);
		msq__bind_blob(s, 3, c->hash, META_HASH_LEN);
		sqlite3_bind_int64(s, 4, c->principal_id);
		sqlite3_bind_int64(s, 5, c->created_by);
		sqlite3_bind_int64(s, 6, c->created_ns);
		sqlite3_bind_int64(s, 7, c->expires_ns);
		sqlite3_bind_int64(s, 8, c->used_ns);
		sqlite3_bind_text(s, 9, c->used_source,
		    (int)strnlen(c->used_source, META_NAME_MAX - 1), SQLITE_STATIC);
		sqlite3_bind_int(s, 10, (int)c->attempts);
		r = msq__exec(q, s, NULL);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* Reads code (kind, id) into *c; lock held, in the take's transaction. */
static int
code_get(struct msq *q, enum meta_code_kind kind, const uint8_t *id,
    struct meta_code *c)
{
	sqlite3_stmt *s;
	int r = 0, rc;

	s = msq__stmt(q, S_CODE_GET, "SELECT kind, id, hash, principal_id,"
	    " created_by, created_ns, expires_ns, used_ns, used_source, attempts"
	    " FROM code WHERE kind = ? AND id = ?", &r);
	if (s == NULL)
		return r;
	sqlite3_bind_int(s, 1, (int)kind);
	msq__bind_blob(s, 2, id, META_CODE_ID_LEN);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		code_row(s, c);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
	return r;
}

/* Marks the code used (source, now) or counts a failed try; lock held. */
static int
code_update(struct msq *q, const struct meta_code *c, bool used)
{
	sqlite3_stmt *s;
	int r = 0;

	if (used)
		s = msq__stmt(q, S_CODE_USE, "UPDATE code SET used_ns = ?3,"
		    " used_source = ?4 WHERE kind = ?1 AND id = ?2", &r);
	else
		s = msq__stmt(q, S_CODE_FAIL, "UPDATE code SET attempts ="
		    " attempts + 1 WHERE kind = ?1 AND id = ?2", &r);
	if (s == NULL)
		return r;
	sqlite3_bind_int(s, 1, (int)c->kind);
	msq__bind_blob(s, 2, c->id, META_CODE_ID_LEN);
	if (used) {
		sqlite3_bind_int64(s, 3, c->used_ns);
		msq__bind_text(s, 4, c->used_source);
	}
	return msq__exec(q, s, NULL);
}

int
msq__code_take(struct meta *m, enum meta_code_kind kind, const uint8_t *id,
    const uint8_t *hash, const char *source, int64_t now_ns, struct meta_code *out)
{
	struct msq *q = (struct msq *)m;
	struct meta_code c;
	int r, verdict = 0;

	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	if ((r = code_get(q, kind, id, &c)) < 0)
		goto end;
	if (c.used_ns != 0) {
		*out = c;
		verdict = UT_ESTATE;
	} else if (c.expires_ns <= now_ns) {
		verdict = UT_ENOTFOUND;
	} else if (c.attempts >= META_CODE_MAX_ATTEMPTS) {
		verdict = UT_EDENIED;
	} else if (sodium_memcmp(c.hash, hash, META_HASH_LEN) != 0) {
		c.attempts++;
		r = code_update(q, &c, false);
		verdict = UT_EDENIED;
	} else {
		c.used_ns = now_ns;
		ut_strlcpy_utf8(c.used_source, source ? source : "",
		    sizeof(c.used_source) - 1, sizeof(c.used_source));
		r = code_update(q, &c, true);
	}
end:
	r = msq__end(q, r);
	if (r == 0 && verdict == 0)
		*out = c;
	if (r == 0)
		r = verdict;
out:
	pthread_mutex_unlock(&q->lock);
	sodium_memzero(&c, sizeof(c));
	return r;
}

/* ---- devices ---- */

#define DEVICE_COLS "id, pk, principal_id, subject_id, enrolled_ns, revoked_ns"

static void
device_row(sqlite3_stmt *s, struct meta_device *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(s, 0);
	msq__col_blob(s, 1, d->pk, sizeof(d->pk));
	d->principal_id = sqlite3_column_int64(s, 2);
	msq__col_blob(s, 3, d->subject_id, META_ID_LEN);
	d->enrolled_ns = sqlite3_column_int64(s, 4);
	d->revoked_ns = sqlite3_column_int64(s, 5);
}

int
msq__device_add(struct meta *m, const struct meta_device *d, int64_t *id)
{
	struct msq *q = (struct msq *)m;
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_DEVICE_ADD, "INSERT INTO device(pk, principal_id,"
	    " subject_id, enrolled_ns, revoked_ns) VALUES(?, ?, ?, ?, ?)", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, d->pk, sizeof(d->pk));
		sqlite3_bind_int64(s, 2, d->principal_id);
		msq__bind_blob(s, 3, d->subject_id, META_ID_LEN);
		sqlite3_bind_int64(s, 4, d->enrolled_ns);
		sqlite3_bind_int64(s, 5, d->revoked_ns);
		r = msq__exec(q, s, NULL);
		if (r == 0 && id != NULL)
			*id = sqlite3_last_insert_rowid(q->db);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int
one_device(sqlite3_stmt *s, struct meta_device *out)
{
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_ROW) {
		device_row(s, out);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? UT_ENOTFOUND : msq__err(rc);
	}
	msq__done(s);
	return r;
}

int
msq__device_get(struct meta *m, int64_t id, struct meta_device *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_DEVICE_GET, "SELECT " DEVICE_COLS
	    " FROM device WHERE id = ?", &r);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, id);
		r = one_device(s, out);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__device_by_pk(struct meta *m, const uint8_t *pk, struct meta_device *out)
{
	struct msq *q = msq__rd(m);
	sqlite3_stmt *s;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	s = msq__stmt(q, S_DEVICE_BY_PK, "SELECT " DEVICE_COLS
	    " FROM device WHERE pk = ?", &r);
	if (s != NULL) {
		msq__bind_blob(s, 1, pk, 32);
		r = one_device(s, out);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
msq__device_list(struct meta *m, int64_t principal_id,
    int (*fn)(const struct meta_device *, void *), void *arg)
{
	struct msq *q = msq__rd(m);
	struct meta_device *page = xcalloc(MSQ_PAGE, sizeof(*page));
	sqlite3_stmt *s;
	int64_t after = 0;
	size_t n, i;
	int r, rc;

	for (;;) {
		n = 0;
		r = 0;
		pthread_mutex_lock(&q->lock);
		s = msq__stmt(q, S_DEVICE_PAGE, "SELECT " DEVICE_COLS " FROM device"
		    " WHERE (?1 = 0 OR principal_id = ?1) AND id > ?2"
		    " ORDER BY id LIMIT ?3", &r);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, principal_id);
			sqlite3_bind_int64(s, 2, after);
			sqlite3_bind_int(s, 3, (int)MSQ_PAGE);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW)
				device_row(s, &page[n++]);
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
		after = page[n - 1].id;
	}
	r = 0;
out:
	free(page);
	return r;
}

int
msq__device_revoke(struct meta *m, int64_t id, int64_t now_ns)
{
	struct msq *q = (struct msq *)m;
	struct meta_device d;
	sqlite3_stmt *s;
	int r, changes = 0;

	pthread_mutex_lock(&q->lock);
	if ((r = msq__begin(q)) < 0)
		goto out;
	r = exec2(q, S_DEVICE_REVOKE, "UPDATE device SET revoked_ns = ?2"
	    " WHERE id = ?1 AND revoked_ns = 0", id, now_ns, &changes);
	if (r == 0 && changes == 0) {
		s = msq__stmt(q, S_DEVICE_GET, "SELECT " DEVICE_COLS
		    " FROM device WHERE id = ?", &r);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, id);
			r = one_device(s, &d);
		}
	}
	if (r == 0)
		r = exec2(q, S_DEVICE_REVOKE_TOKENS, "UPDATE token SET revoked_ns = ?2"
		    " WHERE device_id = ?1 AND revoked_ns = 0", id, now_ns, NULL);
	r = msq__end(q, r);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

