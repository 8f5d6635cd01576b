/*
 * audit.h - the server's tamper-evident audit log (promise P8).
 *
 * One append-only, hash-chained log kept in the metadata store
 * (meta_audit_append): every row carries the hash of the row before it, and
 * its own hash over every field (audit_row_hash).  Signed checkpoints (seq,
 * time, head hash; the audit key, Ed25519) are written at least once per
 * ckpt_interval_ms while rows are added, both to the store
 * (meta_audit_ckpt_add) and to an append-only checkpoint file, and are
 * handed out in receipts and control replies, where agents keep them as
 * witnesses.  audit_verify() checks all of it offline, without any secret.
 *
 * The checkpoint file is opened O_APPEND and only ever appended to; making
 * it append-only for everyone but root (`chattr +a audit.ckpt`) is the
 * operator's business and the only thing that keeps a non-root rewrite of
 * the database from also rewriting the file.  Its format is in
 * src/audit/ckptfile.c.
 *
 * Writers: audit_append() returns only when the entry is durable; many
 * threads' entries go into one store transaction (group commit) made by a
 * committer thread.  After any storage, signing or checkpoint-file error the
 * log is FAILED (sticky): every later audit_append() and audit_checkpoint()
 * returns UT_ESTATE at once, so the server refuses every audited request
 * until it is restarted (and `usetrace audit verify` passes).  A failed
 * fsync is never retried.
 *
 * States:  OPEN -> FAILED [store, sign or file error];  any -> freed [audit_close]
 */
#ifndef USETRACE_AUDIT_H
#define USETRACE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/meta.h"

struct audit;

struct audit_opts {
	struct meta *meta;                 /* borrowed; outlives the audit */
	/*
	 * Signs m (n bytes) with the audit key (Ed25519, detached); returns 0
	 * or a negative code.  Called from the committer thread and from
	 * audit_checkpoint(), never from two threads at once.
	 */
	int (*sign)(void *arg, const uint8_t *m, size_t n, uint8_t sig[64]);
	void *sign_arg;
	const uint8_t *audit_pk;           /* 32 bytes; every signature is checked */
	/*
	 * The audit keys in force before a rotation (docs/OPERATIONS.md):
	 * checkpoints already stored that they signed still verify.  Copied;
	 * may be NULL when n_old_pks is 0.  New checkpoints use audit_pk only.
	 */
	const uint8_t (*old_pks)[32];
	size_t n_old_pks;
	const char *ckpt_path;             /* the append-only checkpoint file */
	unsigned ckpt_interval_ms;         /* 0: 1000 */
};

/*
 * Opens the log: continues the chain from meta_audit_last() after checking
 * the tail row's hash (and its link to the row before), opens (creating,
 * 0640) the checkpoint file for appending, starts the committer thread and
 * the checkpoint timer, and writes a checkpoint at once when rows exist that
 * no checkpoint covers (e.g. after a crash).  The opts strings and key are
 * copied.  On success *out is freed with audit_close().  Errors: UT_EINVAL
 * (missing option), UT_ECORRUPT (the tail row does not verify), UT_ECRYPTO
 * (sign does not produce signatures that audit_pk verifies), a store error
 * or -errno (checkpoint file).
 */
int audit_open(const struct audit_opts *o, struct audit **out)
	__attribute__((warn_unused_result));

/*
 * Flushes aggregated failures and queued entries, writes a final checkpoint
 * (unless FAILED), stops the thread and frees everything.  NULL is a no-op.
 * No audit_* call may be running or made on a after this starts.
 */
void audit_close(struct audit *a);

/*
 * What a caller fills.  Strings may be NULL (stored as ""); each is cut at
 * its struct meta_audit_row field size (at a UTF-8 boundary).  They are
 * metadata only: never recorded content, never secrets.  principal NULL is
 * stored as "-".
 */
struct audit_event {
	const char *principal, *role, *purpose, *action, *subject, *object,
	    *outcome, *source, *detail;
};

/*
 * Appends one entry (e is copied) and returns only when it is durable:
 * entries of concurrent callers are committed together in one
 * meta_audit_append() transaction.  *seq (may be NULL) receives the entry's
 * sequence number on success.  Returns 0; UT_ESTATE when the log is FAILED
 * already; the storage error that made it FAILED for the entries of the
 * failing commit.  Blocks while too many entries are queued.
 */
int audit_append(struct audit *a, const struct audit_event *e, uint64_t *seq)
	__attribute__((warn_unused_result));

/*
 * The same in two halves, for a caller that must not hold its thread while
 * the group commit runs (a request whose answer waits for its entry,
 * suspended by the transport): audit_enqueue() queues e (copied) and sets
 * *seq without waiting for the commit (it blocks only while too many
 * entries are queued); audit_wait() blocks until seq is durable.  The
 * notify callback (audit_set_notify) says when to call audit_wait() so that
 * it returns at once.  audit_enqueue: 0, or UT_ESTATE when FAILED.
 * audit_wait: 0 once durable, or the error that made the log FAILED before
 * seq was.
 */
int audit_enqueue(struct audit *a, const struct audit_event *e, uint64_t *seq)
	__attribute__((warn_unused_result));
int audit_wait(struct audit *a, uint64_t seq) __attribute__((warn_unused_result));

/*
 * Sets (fn NULL: clears) the function the committer calls after every
 * group commit with the newest durable seq (audit_wait() of any seq up to
 * it returns at once), and with UINT64_MAX once the log is FAILED; this
 * call also calls fn once with the state now (so nothing made durable
 * before fn was set goes untold).  Called from the
 * committer thread (or whichever thread saw a checkpoint fail), never two
 * at once, with no audit lock but the notifier's own held: fn must not
 * call audit_*.  Once this returns, the old fn is not running and is never
 * called again, so clearing it before freeing fn's arg is safe.
 */
void audit_set_notify(struct audit *a, void (*fn)(void *arg, uint64_t durable_upto),
    void *arg);

/* True once the log is FAILED (sticky until the process restarts). */
bool audit_is_failed(const struct audit *a);

/*
 * Notes an unauthenticated failure from source (e.g. a bad token), without
 * waiting.  Failures are counted per source in windows of one minute that
 * start at a source's first failure; the committer writes one row per
 * source and window (action "auth_failure", outcome "denied", detail
 * "count=N what=WHAT" with WHAT from the window's first failure) when the
 * window ends, or at audit_close().  At most AUDIT_AUTH_SOURCES sources are
 * tracked per window; the rest are counted under source "*".  Strings are
 * copied; NULL is stored as "".  A no-op on a FAILED log.
 */
#define AUDIT_AUTH_SOURCES 1024u
void audit_note_auth_failure(struct audit *a, const char *source, const char *what);

/*
 * The newest signed checkpoint into *out; first writes a new one (store
 * and checkpoint file, durable) when rows were made durable since the last.
 * Errors: UT_ENOTFOUND (the log is empty), UT_ESTATE (FAILED), or the error
 * that made the log FAILED while writing the checkpoint.
 */
int audit_checkpoint(struct audit *a, struct meta_audit_ckpt *out)
	__attribute__((warn_unused_result));

/*
 * Offline verification.  Walks every row from seq 1: seq continuity, each
 * prev link and recomputed hash; checks every checkpoint in the store and
 * in the checkpoint file at ckpt_path (NULL: none): its signature under
 * audit_pk, that the log reaches its seq and that the row at its seq has its
 * head.  A missing checkpoint file is a problem only when the log has rows;
 * a torn last line (a crash while appending) is skipped.  r is filled in
 * either case (counts of what verified).  On the first problem r->bad_seq
 * names the first bad row (or the checkpoint's seq for a checkpoint whose
 * signature fails), r->reason says why ("row 17: hash mismatch", "row 40
 * missing: checkpoint at 52 in the checkpoint file", "checkpoint file entry
 * 3: bad signature") and UT_ECORRUPT is returned.  0 when everything
 * verifies; a store error or -errno when it could not be read (reason set).
 * Needs no secret.
 */
struct audit_verify_report {
	uint64_t rows, checkpoints, file_checkpoints, bad_seq;
	char reason[256];
};
int audit_verify(struct meta *m, const uint8_t audit_pk[32], const char *ckpt_path,
    struct audit_verify_report *r) __attribute__((warn_unused_result));
/*
 * The same when the audit key was rotated: a checkpoint verifies when its
 * signature verifies under any of the npk keys (the current one and every
 * earlier one, DATA/audit.pub and DATA/audit.pub.old).
 */
int audit_verify_keys(struct meta *m, const uint8_t (*pks)[32], size_t npk,
    const char *ckpt_path, struct audit_verify_report *r)
    __attribute__((warn_unused_result));

/*
 * Canonical hash of a row: BLAKE2b-256 of "UT-AUDIT1" || prev(32) ||
 * u64le seq || i64le time_ns || for each of principal, role, purpose,
 * action, subject, object, outcome, source, detail: u32le length || bytes
 * (the string up to its NUL or field end).  r->hash is not read.
 */
void audit_row_hash(const struct meta_audit_row *r, uint8_t out[32]);

/*
 * The message a checkpoint signs: "UT-AUDCP1" || u64le seq || i64le time_ns
 * || head(32), AUDIT_CKPT_MSG_LEN bytes into msg.  audit_ckpt_check()
 * returns true when c->sig verifies under pk.
 */
#define AUDIT_CKPT_MSG_LEN 57u
void audit_ckpt_msg(const struct meta_audit_ckpt *c, uint8_t msg[AUDIT_CKPT_MSG_LEN]);
bool audit_ckpt_check(const struct meta_audit_ckpt *c, const uint8_t pk[32])
	__attribute__((warn_unused_result));
/* True when c->sig verifies under one of the npk keys. */
bool audit_ckpt_check_keys(const struct meta_audit_ckpt *c,
    const uint8_t (*pks)[32], size_t npk) __attribute__((warn_unused_result));

#endif
