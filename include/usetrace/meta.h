/*
 * meta.h - the server's metadata store: principals, token and code hashes,
 * devices, consents, segments, tombstones, the audit log rows and a few
 * settings.  It holds no recorded content: ids, pseudonyms, times, sizes,
 * hashes and states only; anything derived from content arrives here
 * already encrypted under a day key (struct meta_segment.summary).
 *
 * One interface, several implementations chosen by URL at meta_open():
 *   "sqlite:PATH"   embedded default (SQLite, WAL, synchronous=FULL)
 *   "postgres:..."  scale-out (not built yet: UT_EINVAL "unsupported")
 * Nothing above this header knows which one it talks to; the storage tests
 * (tests/store/) run against the interface.
 *
 * Every function is thread-safe.  Functions return 0 (or a count) on
 * success and a negative UT_E* / -errno code on failure; out-parameters are
 * set only on success.  UT_ENOTFOUND: no such row; -EEXIST: a unique key is
 * taken; a row referring to an absent principal or device: UT_ENOTFOUND.
 * A write returns only when it is durable (committed).  Strings in
 * structs are NUL-terminated and truncated at their field size by callers.
 */
#ifndef USETRACE_META_H
#define USETRACE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_NAME_MAX 64u
#define META_ID_LEN 16u      /* segment ids, subject pseudonyms, consent ids */
#define META_HASH_LEN 32u
#define META_AUDIT_STR_MAX 96u   /* = META_AUDIT_STR, for structs above it */

enum ut_role {
	UT_ROLE_NONE = 0,
	UT_ROLE_SUBJECT,
	UT_ROLE_REVIEWER,
	UT_ROLE_TRAINER,
	UT_ROLE_ADMIN,
	UT_ROLE_AUDITOR,
};
const char *ut_role_name(enum ut_role r);
/* Parses "subject", "reviewer", ...; UT_ROLE_NONE when unknown. */
enum ut_role ut_role_parse(const char *s);

struct meta;

/*
 * Opens (create: creating when missing) the store at url.  *out is freed
 * with meta_close().  UT_EINVAL for an unknown scheme, UT_ENOTFOUND when
 * missing and !create, UT_ECORRUPT when it is not a usetrace store or its
 * schema version is unknown.
 */
int meta_open(const char *url, bool create, struct meta **out)
	__attribute__((warn_unused_result));
/* Read-only open for offline tools (audit verify).  Same errors. */
int meta_open_readonly(const char *url, struct meta **out)
	__attribute__((warn_unused_result));
void meta_close(struct meta *m);

/* ---- principals ---- */

struct meta_principal {
	int64_t id;
	char name[META_NAME_MAX];
	enum ut_role role;
	uint8_t subject_id[META_ID_LEN]; /* pseudonymous id; subjects only, else zero */
	int64_t created_ns;
	int64_t revoked_ns;              /* 0: active */
};

/*
 * Adds p (id ignored); *id (may be NULL) receives the new id.  -EEXIST for
 * a taken name, UT_EINVAL for an empty or over-long one.
 */
int meta_principal_add(struct meta *m, const struct meta_principal *p, int64_t *id);
int meta_principal_get(struct meta *m, int64_t id, struct meta_principal *out);
int meta_principal_by_name(struct meta *m, const char *name, struct meta_principal *out);
int meta_principal_by_subject(struct meta *m, const uint8_t subject[META_ID_LEN],
    struct meta_principal *out);
/*
 * Calls fn for every principal in id order; fn's non-zero return stops and
 * is returned.  (Every list walk here calls fn without the store locked,
 * so fn may call other meta functions; rows are fetched a page at a time.)
 */
int meta_principal_list(struct meta *m,
    int (*fn)(const struct meta_principal *p, void *arg), void *arg);
/*
 * Revokes a principal now: sets revoked_ns and revokes its tokens, unused
 * codes (they expire now) and devices, and its devices' tokens, in the
 * same transaction.  Revoking again keeps the first time; UT_ENOTFOUND for
 * no such principal.
 */
int meta_principal_revoke(struct meta *m, int64_t id, int64_t now_ns);

/* ---- tokens (hashes only) ---- */

struct meta_token {
	uint8_t hash[META_HASH_LEN];
	int64_t principal_id;
	int64_t device_id;      /* 0: a person's token; else a device token */
	int64_t expires_ns;
	int64_t revoked_ns;
};

/* -EEXIST for a stored hash; UT_ENOTFOUND when the principal (or device) is absent. */
int meta_token_add(struct meta *m, const struct meta_token *t);
/*
 * Finds an active token by hash: UT_ENOTFOUND when absent, expired
 * (expires_ns <= now_ns), revoked, or its principal or device revoked.
 */
int meta_token_lookup(struct meta *m, const uint8_t hash[META_HASH_LEN],
    int64_t now_ns, struct meta_token *out) __attribute__((warn_unused_result));
/* 0 also when revoked already (the first time is kept); UT_ENOTFOUND when absent. */
int meta_token_revoke(struct meta *m, const uint8_t hash[META_HASH_LEN], int64_t now_ns);

/* ---- single-use codes: claim codes and device enrollment codes ---- */

enum meta_code_kind { META_CODE_CLAIM = 1, META_CODE_ENROLL = 2 };
#define META_CODE_ID_LEN 8u
#define META_CODE_MAX_ATTEMPTS 5u

struct meta_code {
	enum meta_code_kind kind;
	uint8_t id[META_CODE_ID_LEN];       /* public part, the lookup key */
	uint8_t hash[META_HASH_LEN];        /* hash of the secret part */
	int64_t principal_id;               /* whom it is for */
	int64_t created_by;                 /* principal who minted it */
	int64_t created_ns, expires_ns;
	int64_t used_ns;                    /* 0: unused */
	char used_source[META_NAME_MAX];    /* address that used it */
	unsigned attempts;                  /* failed tries */
};

/* -EEXIST for a taken (kind, id); UT_EINVAL for an unknown kind. */
int meta_code_add(struct meta *m, const struct meta_code *c);
/*
 * Takes a code in one transaction: finds it by kind and id, and, when it is
 * unused, unexpired, under META_CODE_MAX_ATTEMPTS failed tries and its hash
 * equals hash (constant time), marks it used by source and copies it into
 * *out.  Otherwise: UT_ENOTFOUND (no such id, or expired), UT_ESTATE (used
 * already: *out is filled, so the caller can say when and from where),
 * UT_EDENIED (wrong secret: the attempt is counted; or too many attempts).
 */
int meta_code_take(struct meta *m, enum meta_code_kind kind,
    const uint8_t id[META_CODE_ID_LEN], const uint8_t hash[META_HASH_LEN],
    const char *source, int64_t now_ns, struct meta_code *out)
	__attribute__((warn_unused_result));

/* ---- devices ---- */

struct meta_device {
	int64_t id;
	uint8_t pk[32];                     /* Ed25519 device key */
	int64_t principal_id;
	uint8_t subject_id[META_ID_LEN];
	int64_t enrolled_ns, revoked_ns;
};

/* -EEXIST when the key is enrolled already. */
int meta_device_add(struct meta *m, const struct meta_device *d, int64_t *id);
int meta_device_get(struct meta *m, int64_t id, struct meta_device *out);
int meta_device_by_pk(struct meta *m, const uint8_t pk[32], struct meta_device *out);
/* Devices of principal_id (0: of everyone) in id order. */
int meta_device_list(struct meta *m, int64_t principal_id,
    int (*fn)(const struct meta_device *d, void *arg), void *arg);
/* Revokes the device and its tokens; UT_ENOTFOUND for no such device. */
int meta_device_revoke(struct meta *m, int64_t id, int64_t now_ns);

/* ---- consents ---- */

struct meta_consent {
	uint8_t consent_id[META_ID_LEN];
	int64_t device_id;
	uint8_t subject_id[META_ID_LEN];
	uint8_t policy_hash[META_HASH_LEN];
	int64_t given_ns;
	int64_t withdrawn_ns;               /* 0: in force */
};

/* Records a consent; the same (device, consent id) again is a no-op. */
int meta_consent_add(struct meta *m, const struct meta_consent *c);
int meta_consent_get(struct meta *m, int64_t device_id,
    const uint8_t consent_id[META_ID_LEN], struct meta_consent *out);
/*
 * Withdraws one consent (of that device) at when_ns, if not yet withdrawn
 * (then 0, the first time kept); UT_ENOTFOUND for no such consent.
 */
int meta_consent_withdraw(struct meta *m, int64_t device_id,
    const uint8_t consent_id[META_ID_LEN], int64_t when_ns);
/* Withdraws every consent of the subject not yet withdrawn. */
int meta_consent_withdraw_subject(struct meta *m,
    const uint8_t subject[META_ID_LEN], int64_t when_ns);

/* ---- segments ---- */

#define META_SUMMARY_MAX 4096u
#define META_WRAPPED_MAX 128u

struct meta_segment {
	uint8_t segment_id[META_ID_LEN];
	uint8_t subject_id[META_ID_LEN];
	int64_t device_id;
	int32_t day;                        /* UTC day number of start_ns */
	int64_t start_ns, end_ns;           /* signed start and end, wall clock */
	uint64_t size;                      /* bytes as uploaded */
	uint64_t frames;                    /* sealed frames (not screen frames) */
	uint8_t upload_hash[META_HASH_LEN]; /* BLAKE2b-256 of the uploaded bytes */
	uint8_t blob_hash[META_HASH_LEN];   /* content address of the stored form */
	uint8_t policy_hash[META_HASH_LEN];
	uint8_t consent_id[META_ID_LEN];
	unsigned sensitivity_max;           /* 1..4 */
	/* The segment key sealed under the day key (keystore_day_seal). */
	uint8_t wrapped_key[META_WRAPPED_MAX];
	size_t wrapped_len;
	/* Content summary (apps, titles, counts) sealed under the day key. */
	uint8_t summary[META_SUMMARY_MAX];
	size_t summary_len;
	int64_t received_ns;
	uint8_t receipt[256];               /* the signed receipt sent, as sent */
	size_t receipt_len;
};

/* -EEXIST when the segment id is stored already (the caller compares hashes). */
int meta_segment_put(struct meta *m, const struct meta_segment *s);
int meta_segment_get(struct meta *m, const uint8_t id[META_ID_LEN],
    struct meta_segment *out);
/* Segments of subject, by start time; day = INT32_MIN: every day. */
int meta_segment_list(struct meta *m, const uint8_t subject[META_ID_LEN],
    int32_t day, int (*fn)(const struct meta_segment *s, void *arg), void *arg);
/* UT_ENOTFOUND when absent. */
int meta_segment_delete(struct meta *m, const uint8_t id[META_ID_LEN]);
/* Subjects that have segments (for retention), and their days. */
int meta_subject_days(struct meta *m,
    int (*fn)(const uint8_t subject[META_ID_LEN], int32_t day, void *arg), void *arg);

/* ---- review assignments: a reviewer sees assigned segments only ---- */

enum meta_review_state {
	META_REVIEW_PENDING = 1,
	META_REVIEW_APPROVED,
	META_REVIEW_REJECTED,
	META_REVIEW_WITHDRAWN,              /* by the subject, at any time */
};
const char *meta_review_state_name(int state);

struct meta_assignment {
	uint8_t id[META_ID_LEN];            /* random: the reviewer's only handle */
	uint8_t segment_id[META_ID_LEN];
	uint8_t subject_id[META_ID_LEN];
	int64_t reviewer_id;                /* principal */
	int64_t assigned_by;                /* principal (an admin) */
	int64_t assigned_ns, decided_ns;    /* decided: 0 while pending */
	int state;                          /* enum meta_review_state */
	char reason[META_AUDIT_STR_MAX];    /* a rejection's reason, else "" */
};
/* -EEXIST when that segment is already assigned to that reviewer. */
int meta_assignment_add(struct meta *m, const struct meta_assignment *a);
int meta_assignment_get(struct meta *m, const uint8_t id[META_ID_LEN],
    struct meta_assignment *out);
/*
 * Assignments of reviewer (0: every reviewer's) in the order they were
 * made; fn's non-zero return stops the walk and is returned.  Rows of a
 * segment erased since stay (the segment is gone; callers skip them).
 */
int meta_assignment_list(struct meta *m, int64_t reviewer_id,
    int (*fn)(const struct meta_assignment *a, void *arg), void *arg);
/*
 * Decides a PENDING assignment: state APPROVED or REJECTED (with reason),
 * at when_ns.  UT_ENOTFOUND, UT_ESTATE when it is not pending, UT_EINVAL
 * for another state.
 */
int meta_assignment_decide(struct meta *m, const uint8_t id[META_ID_LEN],
    int state, int64_t when_ns, const char *reason);
/*
 * The subject withdraws segment from review: every pending or approved
 * assignment of it becomes WITHDRAWN.  Returns how many changed.
 */
int meta_assignment_withdraw_segment(struct meta *m,
    const uint8_t segment[META_ID_LEN], int64_t when_ns);

/* ---- tombstones: erased days (and whole subjects) ---- */

#define META_DAY_ALL INT32_MIN

/* Records that (subject, day) was erased; day META_DAY_ALL: everything. */
int meta_tombstone_add(struct meta *m, const uint8_t subject[META_ID_LEN],
    int32_t day, int64_t now_ns);
/*
 * True when (subject, day) or the whole subject is tombstoned.  Fails
 * closed: true also when the store cannot answer (the error is logged).
 */
bool meta_tombstoned(struct meta *m, const uint8_t subject[META_ID_LEN], int32_t day);
int meta_tombstone_list(struct meta *m,
    int (*fn)(const uint8_t subject[META_ID_LEN], int32_t day, int64_t when, void *arg),
    void *arg);

/* ---- audit rows (src/audit computes hashes; this stores them) ---- */

#define META_AUDIT_STR 96u
struct meta_audit_row {
	uint64_t seq;                       /* 1, 2, ... without gaps */
	int64_t time_ns;
	char principal[META_NAME_MAX];      /* name, "device:<id>", or "-" */
	char role[16];
	char purpose[24];
	char action[48];
	char subject[40];                   /* subject pseudonym hex, or "" */
	char object[META_AUDIT_STR];        /* e.g. segment id hex */
	char outcome[24];                   /* "ok", "denied", "error", ... */
	char source[48];                    /* client address */
	char detail[META_AUDIT_STR];        /* no content, ever */
	uint8_t prev[META_HASH_LEN];
	uint8_t hash[META_HASH_LEN];
};

/*
 * Appends rows (consecutive seqs after the last) in one durable transaction.
 * UT_ESTATE, nothing written, when rows[0].seq is not the last seq + 1 or
 * the seqs are not consecutive (another writer came first: re-read the
 * last row and retry).  On any error nothing is visible; see
 * tests/store/test_meta.c test_meta_audit_fsync_fault for what a crash
 * right after a failed commit may keep.  Rows are never updated or deleted.
 */
int meta_audit_append(struct meta *m, const struct meta_audit_row *rows, size_t n)
	__attribute__((warn_unused_result));
/* The last row; UT_ENOTFOUND when the log is empty. */
int meta_audit_last(struct meta *m, struct meta_audit_row *out);
/*
 * Rows with from_seq <= seq <= to_seq in seq order (to_seq 0: to the end),
 * in the physical order the store returns them by seq; fn's non-zero return
 * stops the walk and is returned.
 */
int meta_audit_scan(struct meta *m, uint64_t from_seq, uint64_t to_seq,
    int (*fn)(const struct meta_audit_row *r, void *arg), void *arg);

struct meta_audit_query {
	const char *principal;              /* NULL: any */
	const char *subject;                /* NULL: any */
	int64_t since_ns, until_ns;         /* since <= time_ns <= until; 0: open */
	size_t limit;                       /* 0: no limit */
};
/* Rows matching q, by seq (indexed by principal and by subject). */
int meta_audit_query(struct meta *m, const struct meta_audit_query *q,
    int (*fn)(const struct meta_audit_row *r, void *arg), void *arg);

struct meta_audit_ckpt {
	uint64_t seq;                       /* covers rows 1..seq */
	int64_t time_ns;
	uint8_t head[META_HASH_LEN];        /* hash of row seq */
	uint8_t sig[64];                    /* audit key, Ed25519 */
};
/* -EEXIST when a checkpoint of that seq is stored.  The list is by seq. */
int meta_audit_ckpt_add(struct meta *m, const struct meta_audit_ckpt *c);
int meta_audit_ckpt_list(struct meta *m,
    int (*fn)(const struct meta_audit_ckpt *c, void *arg), void *arg);

/* ---- settings (small named values: organisation pause, ...) ---- */

#define META_SETTING_MAX 4096u
/* Sets (replaces) key, shorter than META_NAME_MAX; UT_ETOOBIG past the max. */
int meta_setting_set(struct meta *m, const char *key, const void *val, size_t n);
/* UT_ENOTFOUND when unset; UT_ETOOBIG when *len is too small (then *len = size). */
int meta_setting_get(struct meta *m, const char *key, void *val, size_t *len);

/* ---- organisation control: pauses, published policies, device acks ---- */

/*
 * An organisation-wide pause: [since_ns, end) where end is ended_ns when it
 * was ended early (or expired: ended_ns = until_ns), else until_ns.  Every
 * pause is kept.  ended_by: the admin's name, or "expiry".
 */
struct meta_org_pause {
	int64_t id;
	int64_t since_ns, until_ns;
	int64_t ended_ns;                   /* 0: not ended (may have expired) */
	char started_by[META_NAME_MAX];
	char ended_by[META_NAME_MAX];
};
/*
 * Starts a pause [now_ns, until_ns) by who; a pause in force (not ended,
 * until_ns > now_ns) is changed instead (its until_ns becomes until_ns,
 * its id kept).  *out receives the row.  UT_EINVAL when until_ns <= now_ns.
 */
int meta_org_pause_start(struct meta *m, int64_t now_ns, int64_t until_ns,
    const char *who, struct meta_org_pause *out);
/*
 * Ends the pause in force at now_ns by who (ended_by), and marks every
 * unended pause whose until_ns <= now_ns as ended at its until_ns by
 * "expiry".  Returns how many rows changed (0: none in force).
 */
int meta_org_pause_end(struct meta *m, int64_t now_ns, const char *who);
/* The latest pause (by id), whatever its state; UT_ENOTFOUND when none. */
int meta_org_pause_last(struct meta *m, struct meta_org_pause *out);
/*
 * The first pause (by id) covering a segment [start_ns, end_ns]: one whose
 * interval holds start_ns, or that began before end_ns - grace_ns while
 * the segment was already running (start_ns < since_ns).  UT_ENOTFOUND
 * when none.  The interval's end is ended_ns, else until_ns.
 */
int meta_org_pause_covering(struct meta *m, int64_t start_ns, int64_t end_ns,
    int64_t grace_ns, struct meta_org_pause *out);

#define META_POLICY_MAX (256u << 10)
struct meta_policy {
	int64_t version;                    /* 1, 2, ... */
	uint8_t sha256[META_HASH_LEN];      /* SHA-256 of yaml's exact bytes */
	int64_t published_ns;
	char published_by[META_NAME_MAX];
	char *yaml;                         /* malloc'd, NUL-terminated; NULL in lists */
	size_t yaml_len;
};
/* Stores p as version (last + 1), returned in *version; UT_ETOOBIG past the max. */
int meta_policy_add(struct meta *m, const struct meta_policy *p, int64_t *version);
/*
 * Version version (0: the latest) with its yaml (free it with
 * meta_policy_clear); UT_ENOTFOUND when none.
 */
int meta_policy_get(struct meta *m, int64_t version, struct meta_policy *out);
void meta_policy_clear(struct meta_policy *p);
/* Every version, oldest first, without yaml. */
int meta_policy_list(struct meta *m,
    int (*fn)(const struct meta_policy *p, void *arg), void *arg);

/* A device's latest acknowledgement of the control state. */
struct meta_ack {
	int64_t device_id;
	uint64_t state_version;
	bool paused, recording;
	int64_t policy_version;             /* 0: none */
	int64_t acked_ns;
};
/*
 * Records n acks in one transaction; an ack of an older state_version than
 * the one stored for its device is kept out.
 */
int meta_ack_put(struct meta *m, const struct meta_ack *a, size_t n);
/*
 * What a device is told of its subject: when the subject's latest consent
 * (by given_ns, any device) was withdrawn (0: in force, or none), and when
 * everything was erased (0: never).
 */
int meta_control_subject(struct meta *m, const uint8_t subject[META_ID_LEN],
    int64_t *withdrawn_ns, int64_t *erased_all_ns);
/* A device's latest ack; UT_ENOTFOUND when it never acked (issue 13). */
int meta_ack_get(struct meta *m, int64_t device_id, struct meta_ack *out);
/* Every consent of the subject (any device), by given_ns (issue 13). */
int meta_consent_list(struct meta *m, const uint8_t subject[META_ID_LEN],
    int (*fn)(const struct meta_consent *c, void *arg), void *arg);
/* Active (unrevoked) devices, and how many of them acked >= state_version. */
int meta_ack_count(struct meta *m, uint64_t state_version, uint64_t *acks,
    uint64_t *devices);

#endif
