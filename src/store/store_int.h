/*
 * store_int.h - inside src/store: the implementation tables behind meta.h
 * and blob.h, and what the SQLite implementation's files share.
 *
 * meta.c and blob.c pick an implementation by URL scheme and call it only
 * through struct meta_ops / struct blob_ops; every implementation's object
 * starts with struct meta / struct blobstore, whose first member is the
 * table.  Never included from outside src/store.
 */
#ifndef USETRACE_STORE_INT_H
#define USETRACE_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "usetrace/blob.h"
#include "usetrace/meta.h"

/* ---- the metadata implementation table (one entry per meta.h function) ---- */

struct meta_ops {
	void (*close)(struct meta *m);
	int (*principal_add)(struct meta *, const struct meta_principal *, int64_t *);
	int (*principal_get)(struct meta *, int64_t, struct meta_principal *);
	int (*principal_by_name)(struct meta *, const char *, struct meta_principal *);
	int (*principal_by_subject)(struct meta *, const uint8_t *, struct meta_principal *);
	int (*principal_list)(struct meta *,
	    int (*)(const struct meta_principal *, void *), void *);
	int (*principal_revoke)(struct meta *, int64_t, int64_t);
	int (*token_add)(struct meta *, const struct meta_token *);
	int (*token_lookup)(struct meta *, const uint8_t *, int64_t, struct meta_token *);
	int (*token_revoke)(struct meta *, const uint8_t *, int64_t);
	int (*code_add)(struct meta *, const struct meta_code *);
	int (*code_take)(struct meta *, enum meta_code_kind, const uint8_t *,
	    const uint8_t *, const char *, int64_t, struct meta_code *);
	int (*device_add)(struct meta *, const struct meta_device *, int64_t *);
	int (*device_get)(struct meta *, int64_t, struct meta_device *);
	int (*device_by_pk)(struct meta *, const uint8_t *, struct meta_device *);
	int (*device_list)(struct meta *, int64_t,
	    int (*)(const struct meta_device *, void *), void *);
	int (*device_revoke)(struct meta *, int64_t, int64_t);
	int (*consent_add)(struct meta *, const struct meta_consent *);
	int (*consent_get)(struct meta *, int64_t, const uint8_t *, struct meta_consent *);
	int (*consent_withdraw)(struct meta *, int64_t, const uint8_t *, int64_t);
	int (*consent_withdraw_subject)(struct meta *, const uint8_t *, int64_t);
	int (*segment_put)(struct meta *, const struct meta_segment *);
	int (*segment_get)(struct meta *, const uint8_t *, struct meta_segment *);
	int (*segment_list)(struct meta *, const uint8_t *, int32_t,
	    int (*)(const struct meta_segment *, void *), void *);
	int (*segment_delete)(struct meta *, const uint8_t *);
	int (*subject_days)(struct meta *,
	    int (*)(const uint8_t *, int32_t, void *), void *);
	int (*tombstone_add)(struct meta *, const uint8_t *, int32_t, int64_t);
	bool (*tombstoned)(struct meta *, const uint8_t *, int32_t);
	int (*tombstone_list)(struct meta *,
	    int (*)(const uint8_t *, int32_t, int64_t, void *), void *);
	int (*audit_append)(struct meta *, const struct meta_audit_row *, size_t);
	int (*audit_last)(struct meta *, struct meta_audit_row *);
	int (*audit_scan)(struct meta *, uint64_t, uint64_t,
	    int (*)(const struct meta_audit_row *, void *), void *);
	int (*audit_query)(struct meta *, const struct meta_audit_query *,
	    int (*)(const struct meta_audit_row *, void *), void *);
	int (*audit_ckpt_add)(struct meta *, const struct meta_audit_ckpt *);
	int (*audit_ckpt_list)(struct meta *,
	    int (*)(const struct meta_audit_ckpt *, void *), void *);
	int (*assignment_add)(struct meta *, const struct meta_assignment *);
	int (*assignment_get)(struct meta *, const uint8_t *, struct meta_assignment *);
	int (*assignment_list)(struct meta *, int64_t,
	    int (*)(const struct meta_assignment *, void *), void *);
	int (*assignment_decide)(struct meta *, const uint8_t *, int, int64_t,
	    const char *);
	int (*assignment_withdraw_segment)(struct meta *, const uint8_t *, int64_t);
	int (*setting_set)(struct meta *, const char *, const void *, size_t);
	int (*setting_get)(struct meta *, const char *, void *, size_t *);
	int (*org_pause_start)(struct meta *, int64_t, int64_t, const char *,
	    struct meta_org_pause *);
	int (*org_pause_end)(struct meta *, int64_t, const char *);
	int (*org_pause_last)(struct meta *, struct meta_org_pause *);
	int (*org_pause_covering)(struct meta *, int64_t, int64_t, int64_t,
	    struct meta_org_pause *);
	int (*policy_add)(struct meta *, const struct meta_policy *, int64_t *);
	int (*policy_get)(struct meta *, int64_t, struct meta_policy *);
	int (*policy_list)(struct meta *,
	    int (*)(const struct meta_policy *, void *), void *);
	int (*ack_put)(struct meta *, const struct meta_ack *, size_t);
	int (*ack_count)(struct meta *, uint64_t, uint64_t *, uint64_t *);
	int (*control_subject)(struct meta *, const uint8_t *, int64_t *, int64_t *);
	int (*ack_get)(struct meta *, int64_t, struct meta_ack *);
	int (*consent_list)(struct meta *, const uint8_t *,
	    int (*)(const struct meta_consent *, void *), void *);
};

struct meta {
	const struct meta_ops *ops;
};

/* "sqlite:PATH" with the scheme stripped. */
int meta_sqlite__open(const char *path, bool create, bool readonly, struct meta **out);

/* ---- the blob implementation table ---- */

struct blob_ops {
	void (*close)(struct blobstore *b);
	int (*put)(struct blobstore *, const uint8_t *, size_t, uint8_t *);
	int (*get)(struct blobstore *, const uint8_t *, size_t, uint8_t **, size_t *);
	int (*tail)(struct blobstore *, const uint8_t *, size_t, uint8_t *, uint64_t *);
	int (*del)(struct blobstore *, const uint8_t *);
	bool (*exists)(struct blobstore *, const uint8_t *);
	int (*ropen)(struct blobstore *, const uint8_t *, struct blob_range **);
	int (*aux_put)(struct blobstore *, const uint8_t *, const uint8_t *, size_t);
	int (*aux_get)(struct blobstore *, const uint8_t *, size_t, uint8_t **, size_t *);
};

/* An open blob for part reads (blob_range_open); fd owned. */
struct blob_range {
	int fd;
	uint64_t size;
};

struct blobstore {
	const struct blob_ops *ops;
};

/* "dir:PATH" with the scheme stripped. */
int blob_dir__open(const char *path, bool create, struct blobstore **out);

/* ---- SQLite: the VFS shim (vfs.c) ---- */

#define STORE_VFS_NAME "ut-fsio"
/*
 * Registers the "ut-fsio" VFS (once per process, thread-safe): the default
 * unix VFS, with every write, truncate and sync of a main database or WAL
 * file first counted by fsio_fault_hit(), so armed fsio faults reach SQLite.
 * Returns 0 or UT_EINVAL when SQLite has no default VFS.
 */
int store__vfs_register(void);

/* ---- SQLite: what meta_sqlite*.c share ---- */

/*
 * Cached statements, one slot per distinct SQL text (prepared on first use
 * with SQLITE_PREPARE_PERSISTENT, finalized at close).
 */
enum msq_stmt {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_PRINCIPAL_ADD, S_PRINCIPAL_GET, S_PRINCIPAL_BY_NAME, S_PRINCIPAL_BY_SUBJECT,
	S_PRINCIPAL_PAGE, S_PRINCIPAL_REVOKE, S_PRINCIPAL_REVOKE_TOKENS,
	S_PRINCIPAL_REVOKE_DEVTOKENS, S_PRINCIPAL_REVOKE_DEVICES,
	S_PRINCIPAL_REVOKE_CODES,
	S_TOKEN_ADD, S_TOKEN_LOOKUP, S_TOKEN_REVOKE, S_TOKEN_EXISTS,
	S_CODE_ADD, S_CODE_GET, S_CODE_FAIL, S_CODE_USE,
	S_DEVICE_ADD, S_DEVICE_GET, S_DEVICE_BY_PK, S_DEVICE_PAGE,
	S_DEVICE_REVOKE, S_DEVICE_REVOKE_TOKENS, S_DEVICE_EXISTS,
	S_CONSENT_ADD, S_CONSENT_GET, S_CONSENT_WITHDRAW, S_CONSENT_EXISTS,
	S_CONSENT_WITHDRAW_SUBJECT,
	S_SEGMENT_PUT, S_SEGMENT_GET, S_SEGMENT_PAGE_DAY, S_SEGMENT_PAGE_ALL,
	S_SEGMENT_DELETE, S_SUBJECT_DAYS_PAGE,
	S_TOMB_ADD, S_TOMB_CHECK, S_TOMB_PAGE,
	S_AUDIT_ADD, S_AUDIT_LAST, S_AUDIT_PAGE, S_AUDIT_Q_PRINCIPAL,
	S_AUDIT_Q_SUBJECT, S_AUDIT_Q_ALL, S_CKPT_ADD, S_CKPT_PAGE,
	S_SETTING_SET, S_SETTING_GET,
	S_ASSIGN_ADD, S_ASSIGN_GET, S_ASSIGN_PAGE, S_ASSIGN_PAGE_ALL,
	S_ASSIGN_DECIDE, S_ASSIGN_WITHDRAW,
	S_PAUSE_CUR, S_PAUSE_EXTEND, S_PAUSE_ADD, S_PAUSE_END, S_PAUSE_EXPIRE,
	S_PAUSE_LAST, S_PAUSE_COVER, S_POLICY_LAST, S_POLICY_ADD, S_POLICY_GET,
	S_POLICY_PAGE, S_ACK_PUT, S_ACK_COUNT, S_ACK_DEVICES, S_CTL_WITHDRAWN,
	S_CTL_ERASED, S_ACK_GET, S_CONSENT_LIST,
	S_COUNT
};

/* The SQLite store; `base` first.  Every field below `lock` is guarded by it. */
struct msq {
	struct meta base;
	pthread_mutex_t lock;
	sqlite3 *db;
	bool readonly;
	sqlite3_stmt *stmt[S_COUNT];
	/*
	 * A second connection (with its own lock and statements) for the
	 * functions that only read, so that lookups never queue behind a
	 * commit's fsync on the writer's lock (WAL: readers see every commit
	 * made before their statement starts).  NULL for read-only stores.
	 */
	struct msq *reader;
};

/* The connection a read-only function uses: the reader when there is one. */
static inline struct msq *
msq__rd(struct meta *m)
{
	struct msq *q = (struct msq *)m;

	return q->reader != NULL ? q->reader : q;
}

/* Rows fetched per locked step of a list walk; fn runs unlocked in between. */
#define MSQ_PAGE 64u

/*
 * Returns the cached statement id (preparing sql on first use), reset and
 * with no bindings; NULL after an error, whose code is in *rc.  Lock held.
 */
sqlite3_stmt *msq__stmt(struct msq *q, enum msq_stmt id, const char *sql, int *rc);
/* Resets s after use (accepts NULL). */
void msq__done(sqlite3_stmt *s);
/* Maps an SQLite result code to 0 or a negative UT_E* / -errno. */
int msq__err(int rc);
/*
 * Runs a statement that returns no rows (SQLITE_DONE) and resets it; 0 or
 * a mapped error.  *changes (may be NULL) receives sqlite3_changes().
 */
int msq__exec(struct msq *q, sqlite3_stmt *s, int *changes);
/* BEGIN IMMEDIATE / COMMIT; msq__end() commits when r == 0 (returning the
 * commit's error) and rolls back otherwise (returning r). Lock held. */
int msq__begin(struct msq *q);
int msq__end(struct msq *q, int r);
/* Binds a blob of n bytes / a NUL-terminated string at index i. */
int msq__bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n);
int msq__bind_text(sqlite3_stmt *s, int i, const char *t);
/* Copies a blob column into dst (n bytes; zero-filled when shorter / NULL). */
void msq__col_blob(sqlite3_stmt *s, int i, void *dst, size_t n);
/* Copies a text column into dst (size n, NUL-terminated, cut to fit). */
void msq__col_text(sqlite3_stmt *s, int i, char *dst, size_t n);

/* Review assignments (meta_sqlite_review.c). */
int msq__assignment_add(struct meta *, const struct meta_assignment *);
int msq__assignment_get(struct meta *, const uint8_t *, struct meta_assignment *);
int msq__assignment_list(struct meta *, int64_t,
    int (*)(const struct meta_assignment *, void *), void *);
int msq__assignment_decide(struct meta *, const uint8_t *, int, int64_t, const char *);
int msq__assignment_withdraw_segment(struct meta *, const uint8_t *, int64_t);

/* The rest of the implementation table (meta_sqlite_auth.c). */
int msq__principal_add(struct meta *, const struct meta_principal *, int64_t *);
int msq__principal_get(struct meta *, int64_t, struct meta_principal *);
int msq__principal_by_name(struct meta *, const char *, struct meta_principal *);
int msq__principal_by_subject(struct meta *, const uint8_t *, struct meta_principal *);
int msq__principal_list(struct meta *,
    int (*)(const struct meta_principal *, void *), void *);
int msq__principal_revoke(struct meta *, int64_t, int64_t);
int msq__token_add(struct meta *, const struct meta_token *);
int msq__token_lookup(struct meta *, const uint8_t *, int64_t, struct meta_token *);
int msq__token_revoke(struct meta *, const uint8_t *, int64_t);
int msq__code_add(struct meta *, const struct meta_code *);
int msq__code_take(struct meta *, enum meta_code_kind, const uint8_t *,
    const uint8_t *, const char *, int64_t, struct meta_code *);
int msq__device_add(struct meta *, const struct meta_device *, int64_t *);
int msq__device_get(struct meta *, int64_t, struct meta_device *);
int msq__device_by_pk(struct meta *, const uint8_t *, struct meta_device *);
int msq__device_list(struct meta *, int64_t,
    int (*)(const struct meta_device *, void *), void *);
int msq__device_revoke(struct meta *, int64_t, int64_t);
/* (meta_sqlite_data.c and meta_sqlite_audit.c) */
int msq__consent_add(struct meta *, const struct meta_consent *);
int msq__consent_get(struct meta *, int64_t, const uint8_t *, struct meta_consent *);
int msq__consent_withdraw(struct meta *, int64_t, const uint8_t *, int64_t);
int msq__consent_withdraw_subject(struct meta *, const uint8_t *, int64_t);
int msq__segment_put(struct meta *, const struct meta_segment *);
int msq__segment_get(struct meta *, const uint8_t *, struct meta_segment *);
int msq__segment_list(struct meta *, const uint8_t *, int32_t,
    int (*)(const struct meta_segment *, void *), void *);
int msq__segment_delete(struct meta *, const uint8_t *);
int msq__subject_days(struct meta *, int (*)(const uint8_t *, int32_t, void *), void *);
int msq__tombstone_add(struct meta *, const uint8_t *, int32_t, int64_t);
bool msq__tombstoned(struct meta *, const uint8_t *, int32_t);
int msq__tombstone_list(struct meta *,
    int (*)(const uint8_t *, int32_t, int64_t, void *), void *);
int msq__audit_append(struct meta *, const struct meta_audit_row *, size_t);
int msq__audit_last(struct meta *, struct meta_audit_row *);
int msq__audit_scan(struct meta *, uint64_t, uint64_t,
    int (*)(const struct meta_audit_row *, void *), void *);
int msq__audit_query(struct meta *, const struct meta_audit_query *,
    int (*)(const struct meta_audit_row *, void *), void *);
int msq__audit_ckpt_add(struct meta *, const struct meta_audit_ckpt *);
int msq__audit_ckpt_list(struct meta *,
    int (*)(const struct meta_audit_ckpt *, void *), void *);
int msq__setting_set(struct meta *, const char *, const void *, size_t);
int msq__setting_get(struct meta *, const char *, void *, size_t *);
/* Organisation control (meta_sqlite_ctl.c). */
int msq__org_pause_start(struct meta *, int64_t, int64_t, const char *,
    struct meta_org_pause *);
int msq__org_pause_end(struct meta *, int64_t, const char *);
int msq__org_pause_last(struct meta *, struct meta_org_pause *);
int msq__org_pause_covering(struct meta *, int64_t, int64_t, int64_t,
    struct meta_org_pause *);
int msq__policy_add(struct meta *, const struct meta_policy *, int64_t *);
int msq__policy_get(struct meta *, int64_t, struct meta_policy *);
int msq__policy_list(struct meta *, int (*)(const struct meta_policy *, void *),
    void *);
int msq__ack_put(struct meta *, const struct meta_ack *, size_t);
int msq__ack_count(struct meta *, uint64_t, uint64_t *, uint64_t *);
int msq__control_subject(struct meta *, const uint8_t *, int64_t *, int64_t *);
int msq__ack_get(struct meta *, int64_t, struct meta_ack *);
int msq__consent_list(struct meta *, const uint8_t *,
    int (*)(const struct meta_consent *, void *), void *);

#endif
