/*
 * meta_sqlite.c - the embedded metadata store (meta.h) on SQLite: opening,
 * the schema, the statement cache and the implementation table.  The rows
 * live in meta_sqlite_auth.c (principals, tokens, codes, devices),
 * meta_sqlite_data.c (consents, segments, tombstones, settings),
 * meta_sqlite_review.c (review assignments), meta_sqlite_ctl.c
 * (organisation pauses, policies, acks) and meta_sqlite_audit.c (audit
 * rows and checkpoints).
 *
 * Invariants:
 *  (1) Two connections per writable store, each used only with its own
 *      lock held: the writer (every function that writes) and the reader
 *      (functions that only read, msq__rd()), so lookups never wait for a
 *      commit's fsync.  Every meta.h function takes the lock of the
 *      connection it uses, so all are thread-safe.  List walks fetch
 *      MSQ_PAGE rows at a time under the lock and call fn unlocked, so fn
 *      may call back into the store (keyset paging: rows added meanwhile
 *      after the walk's position are seen, rows before it are not).
 *  (2) The database is opened through the "ut-fsio" VFS (vfs.c), in WAL
 *      mode with synchronous=FULL: a write returns 0 only after its commit
 *      is fsync'd; a failed commit is rolled back and returns an error.
 *  (3) PRAGMA application_id is UT_META_APP_ID and user_version is
 *      UT_META_SCHEMA; schemas 1 and 2 are migrated (one named
 *      transaction, migrate_to_3); any other pair is refused with UT_ECORRUPT, never
 *      migrated blindly.  The schema is created in one transaction.
 *  (4) Multi-statement changes (revocations, code takes, audit batches) run
 *      in one BEGIN IMMEDIATE transaction; on any error it is rolled back.
 *  (5) Audit rows cannot be updated or deleted through SQL (triggers).
 *  (6) Code hashes are compared with sodium_memcmp; token hashes are looked
 *      up by index (they are hashes of 32 random bytes, so the lookup's
 *      timing reveals nothing usable about a token).
 *
 * States: CLOSED -> OPEN [meta_sqlite__open] -> CLOSED [close].  There is
 * no sticky failed state: SQLite rolls a failed transaction back and the
 * next call starts afresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "store_int.h"

#define UT_META_APP_ID 0x55544d44       /* "UTMD" */
#define UT_META_SCHEMA 3
#define BUSY_TIMEOUT_MS 5000

/* Schema 2 added review assignments (migrate_to_3() adds them to a 1). */
#define ASSIGNMENT_SQL \
    "CREATE TABLE assignment(n INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE," \
    " segment_id BLOB NOT NULL, subject_id BLOB NOT NULL," \
    " reviewer_id INTEGER NOT NULL REFERENCES principal(id)," \
    " assigned_by INTEGER NOT NULL, assigned_ns INTEGER NOT NULL," \
    " decided_ns INTEGER NOT NULL, state INTEGER NOT NULL, reason TEXT NOT NULL," \
    " UNIQUE(segment_id, reviewer_id));" \
    "CREATE INDEX assignment_reviewer ON assignment(reviewer_id, n);"

/*
 * Schema 3 added organisation control (issue 15): pauses, published
 * policies (every version kept) and each device's latest ack;
 * migrate_to_3() adds them to a 2.
 */
#define CONTROL_SQL \
    "CREATE TABLE org_pause(id INTEGER PRIMARY KEY, since_ns INTEGER NOT NULL," \
    " until_ns INTEGER NOT NULL, ended_ns INTEGER NOT NULL," \
    " started_by TEXT NOT NULL, ended_by TEXT NOT NULL);" \
    "CREATE INDEX org_pause_since ON org_pause(since_ns);" \
    "CREATE TABLE policy_version(version INTEGER PRIMARY KEY," \
    " sha256 BLOB NOT NULL, yaml BLOB NOT NULL, published_ns INTEGER NOT NULL," \
    " published_by TEXT NOT NULL);" \
    "CREATE TABLE device_ack(device_id INTEGER PRIMARY KEY REFERENCES device(id)," \
    " state_version INTEGER NOT NULL, paused INTEGER NOT NULL," \
    " recording INTEGER NOT NULL, policy_version INTEGER NOT NULL," \
    " acked_ns INTEGER NOT NULL);"

static const char schema_sql[] =
    "CREATE TABLE principal(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " role INTEGER NOT NULL, subject_id BLOB NOT NULL, created_ns INTEGER NOT NULL,"
    " revoked_ns INTEGER NOT NULL);"
    "CREATE INDEX principal_subject ON principal(subject_id);"
    "CREATE TABLE device(id INTEGER PRIMARY KEY, pk BLOB NOT NULL UNIQUE,"
    " principal_id INTEGER NOT NULL REFERENCES principal(id),"
    " subject_id BLOB NOT NULL, enrolled_ns INTEGER NOT NULL,"
    " revoked_ns INTEGER NOT NULL);"
    "CREATE INDEX device_principal ON device(principal_id, id);"
    "CREATE TABLE token(hash BLOB PRIMARY KEY,"
    " principal_id INTEGER NOT NULL REFERENCES principal(id),"
    " device_id INTEGER REFERENCES device(id), expires_ns INTEGER NOT NULL,"
    " revoked_ns INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX token_principal ON token(principal_id);"
    "CREATE INDEX token_device ON token(device_id);"
    "CREATE TABLE code(kind INTEGER NOT NULL, id BLOB NOT NULL, hash BLOB NOT NULL,"
    " principal_id INTEGER NOT NULL REFERENCES principal(id),"
    " created_by INTEGER NOT NULL, created_ns INTEGER NOT NULL,"
    " expires_ns INTEGER NOT NULL, used_ns INTEGER NOT NULL,"
    " used_source TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " PRIMARY KEY(kind, id)) WITHOUT ROWID;"
    "CREATE INDEX code_principal ON code(principal_id);"
    "CREATE TABLE consent(device_id INTEGER NOT NULL, consent_id BLOB NOT NULL,"
    " subject_id BLOB NOT NULL, policy_hash BLOB NOT NULL,"
    " given_ns INTEGER NOT NULL, withdrawn_ns INTEGER NOT NULL,"
    " PRIMARY KEY(device_id, consent_id)) WITHOUT ROWID;"
    "CREATE INDEX consent_subject ON consent(subject_id);"
    "CREATE TABLE segment(segment_id BLOB NOT NULL UNIQUE, subject_id BLOB NOT NULL,"
    " device_id INTEGER NOT NULL, day INTEGER NOT NULL, start_ns INTEGER NOT NULL,"
    " end_ns INTEGER NOT NULL, size INTEGER NOT NULL, frames INTEGER NOT NULL,"
    " upload_hash BLOB NOT NULL, blob_hash BLOB NOT NULL, policy_hash BLOB NOT NULL,"
    " consent_id BLOB NOT NULL, sensitivity_max INTEGER NOT NULL,"
    " wrapped_key BLOB NOT NULL, summary BLOB NOT NULL, received_ns INTEGER NOT NULL,"
    " receipt BLOB NOT NULL);"
    "CREATE INDEX segment_subject_day ON segment(subject_id, day, start_ns, segment_id);"
    "CREATE INDEX segment_subject_start ON segment(subject_id, start_ns, segment_id);"
    "CREATE TABLE tombstone(subject_id BLOB NOT NULL, day INTEGER NOT NULL,"
    " when_ns INTEGER NOT NULL, PRIMARY KEY(subject_id, day)) WITHOUT ROWID;"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,"
    " principal TEXT NOT NULL, role TEXT NOT NULL, purpose TEXT NOT NULL,"
    " action TEXT NOT NULL, subject TEXT NOT NULL, object TEXT NOT NULL,"
    " outcome TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL,"
    " prev BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE INDEX audit_principal ON audit(principal, seq);"
    "CREATE INDEX audit_subject ON audit(subject, seq);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TABLE audit_ckpt(seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,"
    " head BLOB NOT NULL, sig BLOB NOT NULL);"
    "CREATE TABLE setting(key TEXT PRIMARY KEY, val BLOB NOT NULL) WITHOUT ROWID;"
    ASSIGNMENT_SQL;
/* Run after schema_sql, in its transaction (one string would pass C's 4095). */
static const char control_sql[] = CONTROL_SQL;

static const struct meta_ops msq_ops;

/* ---- helpers shared with meta_sqlite_data.c ---- */

int
msq__err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return UT_ENOTFOUND;
		if (rc == SQLITE_CONSTRAINT_TRIGGER)
			return UT_EDENIED;
		return UT_EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return UT_ECORRUPT;
	case SQLITE_TOOBIG:
		return UT_ETOOBIG;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
	case SQLITE_MISMATCH:
		return UT_EINVAL;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		return -EACCES;
	default:
		return -EIO;
	}
}

sqlite3_stmt *
msq__stmt(struct msq *q, enum msq_stmt id, const char *sql, int *rc)
{
	int e;

	if (q->stmt[id] == NULL) {
		e = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		    &q->stmt[id], NULL);
		if (e != SQLITE_OK) {
			log_error("meta: prepare %d: %s", (int)id, sqlite3_errmsg(q->db));
			*rc = msq__err(e);
			return NULL;
		}
	}
	return q->stmt[id];
}

void
msq__done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int
msq__exec(struct msq *q, sqlite3_stmt *s, int *changes)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE && changes != NULL)
		*changes = sqlite3_changes(q->db);
	msq__done(s);
	return rc == SQLITE_DONE ? 0 : msq__err(rc);
}

int
msq__begin(struct msq *q)
{
	sqlite3_stmt *s;
	int r = 0;

	s = msq__stmt(q, S_BEGIN, "BEGIN IMMEDIATE", &r);
	return s == NULL ? r : msq__exec(q, s, NULL);
}

int
msq__end(struct msq *q, int r)
{
	sqlite3_stmt *s;
	int e = 0;

	if (r == 0) {
		s = msq__stmt(q, S_COMMIT, "COMMIT", &e);
		if (s != NULL)
			e = msq__exec(q, s, NULL);
		if (e == 0)
			return 0;
		r = e;
	}
	/* SQLite may have rolled back already (I/O error, full disk). */
	if (!sqlite3_get_autocommit(q->db)) {
		s = msq__stmt(q, S_ROLLBACK, "ROLLBACK", &e);
		if (s != NULL && msq__exec(q, s, NULL) < 0)
			log_error("meta: rollback failed: %s", sqlite3_errmsg(q->db));
	}
	return r;
}

int
msq__bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	return msq__err(sqlite3_bind_blob(s, i, p, (int)n, SQLITE_STATIC));
}

int
msq__bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return msq__err(sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC));
}

void
msq__col_blob(sqlite3_stmt *s, int i, void *dst, size_t n)
{
	const void *p = sqlite3_column_blob(s, i);
	size_t len = (size_t)sqlite3_column_bytes(s, i);

	memset(dst, 0, n);
	if (p != NULL)
		memcpy(dst, p, UT_MIN(len, n));
}

void
msq__col_text(sqlite3_stmt *s, int i, char *dst, size_t n)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	dst[0] = '\0';
	if (t != NULL)
		ut_strlcpy_utf8(dst, t, n - 1, n);
}

/* ---- open and close ---- */

static int
pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	return msq__err(rc);
}

static int
create_schema(sqlite3 *db)
{
	char *err = NULL;
	char sql[128];
	int rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return msq__err(rc);
	rc = sqlite3_exec(db, schema_sql, NULL, NULL, &err);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, control_sql, NULL, NULL, &err);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id=%d;"
		    "PRAGMA user_version=%d", UT_META_APP_ID, UT_META_SCHEMA);
		rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		log_error("meta: creating the schema: %s", err ? err : sqlite3_errstr(rc));
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_free(err);
	return msq__err(rc);
}

/*
 * Schema 1 -> 3 (review assignments, then organisation control) or 2 -> 3,
 * in one transaction.
 */
static int
migrate_to_3(sqlite3 *db, int64_t from)
{
	char *err = NULL;
	int rc;

	rc = sqlite3_exec(db, from == 1 ?
	    "BEGIN IMMEDIATE;" ASSIGNMENT_SQL CONTROL_SQL "PRAGMA user_version=3; COMMIT" :
	    "BEGIN IMMEDIATE;" CONTROL_SQL "PRAGMA user_version=3; COMMIT",
	    NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		log_error("meta: migrating a schema %lld store to 3: %s",
		    (long long)from, err ? err : sqlite3_errstr(rc));
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_free(err);
	return msq__err(rc);
}

/* Checks (3), creating the schema in an empty, writable database. */
static int
check_schema(sqlite3 *db, bool create, bool readonly)
{
	int64_t app = 0, ver = 0, tables = 0;
	int r;

	if ((r = pragma_int(db, "PRAGMA application_id", &app)) < 0 ||
	    (r = pragma_int(db, "PRAGMA user_version", &ver)) < 0 ||
	    (r = pragma_int(db, "SELECT count(*) FROM sqlite_master", &tables)) < 0)
		return r;
	if (app == 0 && ver == 0 && tables == 0) {
		if (!create || readonly)
			return UT_ECORRUPT;
		if ((r = create_schema(db)) < 0)
			return r;
		app = UT_META_APP_ID;
		ver = UT_META_SCHEMA;
	}
	/* The known migrations; read-only opens (audit verify) need none. */
	if (app == UT_META_APP_ID && (ver == 1 || ver == 2) && !readonly) {
		if ((r = migrate_to_3(db, ver)) < 0)
			return r;
		ver = UT_META_SCHEMA;
	}
	if (app == UT_META_APP_ID && (ver == 1 || ver == 2) && readonly)
		ver = UT_META_SCHEMA;
	if (app != UT_META_APP_ID || ver != UT_META_SCHEMA) {
		log_error("meta: not a usetrace store of schema %d (application "
		    "id %lld, version %lld)", UT_META_SCHEMA, (long long)app,
		    (long long)ver);
		return UT_ECORRUPT;
	}
	return 0;
}

static int
configure(sqlite3 *db, bool readonly)
{
	static const char rw_sql[] = "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
	    "PRAGMA secure_delete=ON";
	int rc;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (readonly)
		return 0;
	rc = sqlite3_exec(db, rw_sql, NULL, NULL, NULL);
	return msq__err(rc);
}

static void
msq_close(struct meta *m)
{
	struct msq *q = (struct msq *)m;
	unsigned i;

	if (q == NULL)
		return;
	msq_close(q->reader != NULL ? &q->reader->base : NULL);
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(q->stmt[i]);
	if (q->db != NULL && sqlite3_close(q->db) != SQLITE_OK)
		log_error("meta: close: %s", sqlite3_errmsg(q->db));
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* The reader connection of invariant (1'): opened after the schema is there. */
static int
open_reader(const char *path, struct msq *q)
{
	struct msq *rd = xcalloc(1, sizeof(*rd));
	int r;

	rd->base.ops = &msq_ops;
	rd->readonly = true;
	pthread_mutex_init(&rd->lock, NULL);
	q->reader = rd;
	r = sqlite3_open_v2(path, &rd->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    STORE_VFS_NAME);
	if (r != SQLITE_OK)
		return msq__err(r);
	return configure(rd->db, true);
}

int
meta_sqlite__open(const char *path, bool create, bool readonly, struct meta **out)
{
	struct msq *q = NULL;
	struct stat st;
	int fd, r, flags;

	if ((r = store__vfs_register()) < 0)
		return r;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (!create || readonly)
			return UT_ENOTFOUND;
		/* Create it 0600 first: SQLite gives its WAL the same mode. */
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
		if (fd >= 0)
			close(fd);
	}
	q = xcalloc(1, sizeof(*q));
	q->base.ops = &msq_ops;
	q->readonly = readonly;
	pthread_mutex_init(&q->lock, NULL);
	flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	    SQLITE_OPEN_NOMUTEX;
	r = sqlite3_open_v2(path, &q->db, flags, STORE_VFS_NAME);
	if (r != SQLITE_OK) {
		r = msq__err(r);
		goto out;
	}
	if ((r = configure(q->db, readonly)) < 0 ||
	    (r = check_schema(q->db, create, readonly)) < 0)
		goto out;
	if (!readonly && (r = open_reader(path, q)) < 0)
		goto out;
	*out = &q->base;
	q = NULL;
	r = 0;
out:
	msq_close(q ? &q->base : NULL);
	return r;
}

static const struct meta_ops msq_ops = {
	.close = msq_close,
	.principal_add = msq__principal_add,
	.principal_get = msq__principal_get,
	.principal_by_name = msq__principal_by_name,
	.principal_by_subject = msq__principal_by_subject,
	.principal_list = msq__principal_list,
	.principal_revoke = msq__principal_revoke,
	.token_add = msq__token_add,
	.token_lookup = msq__token_lookup,
	.token_revoke = msq__token_revoke,
	.code_add = msq__code_add,
	.code_take = msq__code_take,
	.device_add = msq__device_add,
	.device_get = msq__device_get,
	.device_by_pk = msq__device_by_pk,
	.device_list = msq__device_list,
	.device_revoke = msq__device_revoke,
	.consent_add = msq__consent_add,
	.consent_get = msq__consent_get,
	.consent_withdraw = msq__consent_withdraw,
	.consent_withdraw_subject = msq__consent_withdraw_subject,
	.segment_put = msq__segment_put,
	.segment_get = msq__segment_get,
	.segment_list = msq__segment_list,
	.segment_delete = msq__segment_delete,
	.subject_days = msq__subject_days,
	.tombstone_add = msq__tombstone_add,
	.tombstoned = msq__tombstoned,
	.tombstone_list = msq__tombstone_list,
	.audit_append = msq__audit_append,
	.audit_last = msq__audit_last,
	.audit_scan = msq__audit_scan,
	.audit_query = msq__audit_query,
	.audit_ckpt_add = msq__audit_ckpt_add,
	.audit_ckpt_list = msq__audit_ckpt_list,
	.assignment_add = msq__assignment_add,
	.assignment_get = msq__assignment_get,
	.assignment_list = msq__assignment_list,
	.assignment_decide = msq__assignment_decide,
	.assignment_withdraw_segment = msq__assignment_withdraw_segment,
	.setting_set = msq__setting_set,
	.setting_get = msq__setting_get,
	.org_pause_start = msq__org_pause_start,
	.org_pause_end = msq__org_pause_end,
	.org_pause_last = msq__org_pause_last,
	.org_pause_covering = msq__org_pause_covering,
	.policy_add = msq__policy_add,
	.policy_get = msq__policy_get,
	.policy_list = msq__policy_list,
	.ack_put = msq__ack_put,
	.ack_count = msq__ack_count,
	.control_subject = msq__control_subject,
	.ack_get = msq__ack_get,
	.consent_list = msq__consent_list,
};
