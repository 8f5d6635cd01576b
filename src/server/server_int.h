/*
 * server_int.h - the parts of `usetrace serve` shared inside src/server/:
 * the server state, one request's context, the route table's types and
 * the helpers every handler uses.  Private to src/server/.
 *
 * Flow of a request (routes.c): transport (src/http) -> srv_dispatch:
 * match the path against the route table, authenticate the bearer token,
 * check role x purpose against the table, call the handler, append the
 * audit entry (durable), and only then let the response go.  A handler
 * never sees a request its table row does not allow, and a response never
 * leaves without its audit entry (P8).
 */
#ifndef USETRACE_SERVER_INT_H
#define USETRACE_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "usetrace/audit.h"
#include "usetrace/blob.h"
#include "usetrace/event.h"
#include "usetrace/http.h"
#include "usetrace/keystore.h"
#include "usetrace/meta.h"

#define SRV_PATH_MAX 1024

struct srv_config {
	char listen[128];
	char tls_cert[SRV_PATH_MAX];      /* "" : generated in DATA/tls/ */
	char tls_key[SRV_PATH_MAX];
	char meta_url[SRV_PATH_MAX];      /* "" : sqlite:DATA/meta.db */
	char blob_url[SRV_PATH_MAX];      /* "" : dir:DATA/blobs */
	unsigned retention_days;          /* for policies the server does not know */
	unsigned threads;
	unsigned rate_per_s, rate_burst;
	unsigned token_days;              /* people's tokens */
	unsigned device_token_days;
	char alert_command[SRV_PATH_MAX]; /* "": none; run with the alert JSON */
	/* Issue 15: long polls and the organisation pause. */
	unsigned max_connections;         /* MHD connection limit (4096) */
	unsigned max_connections_per_ip;  /* from one address (64) */
	unsigned longpoll_max;            /* parked long polls at most (4000) */
	unsigned org_pause_max_s;         /* default and longest pause (3600) */
	/* Issue 13: the web page's sessions (session.c). */
	unsigned session_idle_s;          /* idle timeout (900) */
};

/*
 * orgctl.c: the control state every device long-polls (state_version, the
 * organisation pause, the current policy), cached here under mu and kept
 * in the metadata store.
 */
struct srv_ctl {
	bool open;                        /* mu initialised */
	pthread_mutex_t mu;
	uint64_t version;                 /* persisted (setting "state_version") */
	struct meta_org_pause pause;      /* the latest pause; id 0: none */
	int64_t policy_version;           /* 0: none published */
	uint8_t policy_sha[32];
	/*
	 * Acks waiting for the flusher (one transaction per flush, so a pause
	 * acked by thousands of devices costs a few commits, not thousands);
	 * under ack_mu.  Each ack's audit entry is durable before its answer.
	 */
	pthread_mutex_t ack_mu;
	pthread_cond_t ack_cv;
	pthread_cond_t ack_idle_cv;	/* ack_flushing fell to 0 */
	struct meta_ack *acks;
	size_t nacks, acks_cap;
	unsigned ack_flushing;		/* batches being written */
	bool ack_stop, flusher_started;
	pthread_t flusher;
};

struct srv_sessions;

struct server {
	char data_dir[SRV_PATH_MAX];
	struct srv_config cfg;
	struct meta *meta;
	struct blobstore *blobs;
	struct keystore *ks;
	struct audit *audit;
	struct http_server *http;
	uint8_t receipt_pk[32];
	uint8_t audit_pk[32];
	char pin[HTTP_PIN_MAX];
	/* Policies the server knows: hash -> retention (the built-in one now). */
	uint8_t default_policy_hash[32];
	uint32_t default_retention_days;
	uint8_t default_export_max_sensitivity;
	uint32_t default_export_expire_days;
	pthread_mutex_t shred_lock;       /* one erasure at a time */
	/* Retention job. */
	pthread_t retention_thread;
	bool retention_started;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
	unsigned rotate;                  /* SRV_ROTATE_* at this start */
	struct srv_ctl ctl;
	struct srv_sessions *sessions;    /* session.c: the page's sign-ins */
};

enum srv_purpose {
	SRV_P_NONE = 0,
	SRV_P_SELF_ACCESS,
	SRV_P_ERASURE,
	SRV_P_REVIEW,
	SRV_P_TRAINING,
	SRV_P_ADMINISTRATION,
	SRV_P_AUDIT,
	SRV_P_INGEST,
	SRV_P_COUNT
};
const char *srv_purpose_name(enum srv_purpose p);

/* Who may call a route: role bits, devices, or anyone. */
#define SRV_R(role) (1u << (role))
#define SRV_R_DEVICE (1u << 8)
#define SRV_R_PUBLIC (1u << 9)

struct srv_req;
typedef void (*srv_handler_fn)(struct srv_req *q);

struct srv_route {
	const char *method;
	const char *pattern;        /* "/v1/my/segments/{id}/actions" */
	unsigned who;               /* SRV_R_* bits */
	enum srv_purpose purpose;   /* the one purpose this row allows */
	const char *action;         /* audit action name */
	srv_handler_fn fn;
	size_t body_cap;            /* 0: 64 KiB */
	const char *summary;
	/*
	 * The query parameters it takes, comma-separated ("principal,since");
	 * NULL: none.  Any other parameter, or one given twice, is refused
	 * (400) before the handler runs.
	 */
	const char *query;
};

#define SRV_PARAMS 2
#define SRV_QUERY_MAX 8       /* query parameters a request may carry */
#define SRV_PARAM_MAX 96

struct srv_req {
	struct server *srv;
	const struct http_request *rq;
	struct http_response *rs;
	const struct srv_route *route;
	int64_t now_ns;
	bool is_device;
	struct meta_principal who;        /* the caller (devices: their owner) */
	struct meta_device dev;           /* device tokens only */
	uint8_t token_hash[32];
	enum srv_purpose purpose;
	char param[SRV_PARAMS][SRV_PARAM_MAX];
	/* The audit entry, filled in by the handler as it learns. */
	char a_principal[64];
	char a_subject[40];
	char a_object[96];
	char a_detail[96];
	const char *a_outcome;            /* NULL: from the status */
	/*
	 * Public, non-audited routes; and a long poll that parks or answers
	 * an unchanged state (api_control.c), audited only when it answers a
	 * change.
	 */
	bool no_audit;
	/* Authenticated by the page's session cookie (session.c), not Bearer. */
	bool via_session;
	/* The entry is queued and the answer held until durable (routes.c (2)). */
	bool audit_held;
};

/* routes.c */
void srv_dispatch(struct server *s, const struct http_request *rq,
    struct http_response *rs);
/* The request's audit entry, durable before the response (routes.c (2)). */
void srv_finish_audited(struct srv_req *q, const char *action);
/* The same, held without a thread when q->audit_held (routes.c (2)). */
void srv_finish_audited_maybe_held(struct srv_req *q, const char *action);
/* audit_set_notify's callback: releases the held answers now durable. */
void srv_audit_release(void *arg, uint64_t durable_upto);
size_t srv_body_cap(struct server *s, const char *method, const char *path);
const struct srv_route *srv_routes(size_t *n);

/* Response helpers (routes.c).  srv_reply_json takes ownership of obj. */
void srv_reply_json(struct srv_req *q, unsigned status, json_t *obj);
void srv_reply_error(struct srv_req *q, unsigned status, const char *code,
    const char *message);
/* The 404 an object the caller may not know gets: audited as a denial. */
void srv_deny_not_found(struct srv_req *q);
/* Parses the body as a JSON object; replies 400 and returns NULL if not. */
json_t *srv_body_json(struct srv_req *q);
/* A pause request's body ({} or {"duration_s": N}, 1..max; api_control.c):
 * sets *dur when N is given; on a bad body answers 400 and returns -1. */
int srv_pause_duration(struct srv_req *q, uint64_t max, uint64_t *dur);
/* Marks a response as carrying recorded content (Cache-Control: no-store). */
void srv_no_store(struct srv_req *q);
/* Appends an audit entry now (e.g. an erasure's intent); 0 or error. */
int srv_audit_now(struct srv_req *q, const char *action, const char *outcome,
    const char *detail) __attribute__((warn_unused_result));

/* auth.c: tokens and codes. */
#define SRV_TOKEN_BYTES 32
#define SRV_TOKEN_TEXT_MAX 64
#define SRV_CODE_TEXT_MAX 48
/* Makes a token "ut1_..." (device: "utd1_...") and its hash. */
void srv_token_new(bool device, char text[SRV_TOKEN_TEXT_MAX], uint8_t hash[32]);
/* Hashes a presented token; UT_EPARSE when it is not one of ours. */
int srv_token_hash(const char *text, bool *device, uint8_t hash[32])
	__attribute__((warn_unused_result));
/* Makes a code "ID.SECRET"; fills id and the hash of the secret. */
void srv_code_new(char text[SRV_CODE_TEXT_MAX], uint8_t id[META_CODE_ID_LEN],
    uint8_t hash[32]);
int srv_code_parse(const char *text, uint8_t id[META_CODE_ID_LEN], uint8_t hash[32])
	__attribute__((warn_unused_result));
/* Hex and base64 helpers over libsodium. */
void srv_hex(const uint8_t *p, size_t n, char *out, size_t outsz);
int srv_unhex(const char *s, uint8_t *out, size_t n) __attribute__((warn_unused_result));
void srv_b64(const uint8_t *p, size_t n, char *out, size_t outsz);
int srv_unb64(const char *s, uint8_t *out, size_t n) __attribute__((warn_unused_result));
/* "YYYY-MM-DD" <-> UTC day number. */
void srv_day_text(int32_t day, char out[16]);
int srv_day_parse(const char *s, int32_t *day) __attribute__((warn_unused_result));

/* openapi.c: the document as text (malloc'd). */
char *srv_openapi_text(void);

/*
 * api_people.c: takes a claim code and makes the person's own token (as
 * POST /v1/login); 0, or a negative code after replying.  The caller wipes
 * token.
 */
int srv_claim_take(struct srv_req *q, const char *code,
    char token[SRV_TOKEN_TEXT_MAX], struct meta_token *t,
    struct meta_principal *p) __attribute__((warn_unused_result));

/*
 * session.c: the web page's server-side sessions (see its overview).
 * srv_session_auth(): when the request has no Authorization header but a
 * ut_session cookie, 1 with the session's token hash in q->token_hash (the
 * caller authenticates it like a Bearer token); 0 when there is no cookie;
 * a negative code when the cookie names no live session.
 * srv_session_csrf(): 0 when a cookie-authenticated request may change
 * anything (GET, or X-CSRF-Token right and not Sec-Fetch-Site: cross-site);
 * else UT_EDENIED after replying 403 {"error":"csrf"}.
 */
#define SRV_SESSION_MAX 4096u           /* sessions held at most */
#define SRV_SESSION_PER_PRINCIPAL 16u   /* the oldest is ended past this */
#define SRV_SESSION_LIFETIME_S (12u * 3600u)
int srv_sessions_open(struct server *s) __attribute__((warn_unused_result));
void srv_sessions_close(struct server *s);
int srv_session_auth(struct srv_req *q) __attribute__((warn_unused_result));
int srv_session_csrf(struct srv_req *q) __attribute__((warn_unused_result));
void api_session_start(struct srv_req *q);
void api_session_get(struct srv_req *q);
void api_session_end(struct srv_req *q);
/*
 * api_web_my.c / api_web_admin.c: the page's routes beyond the CLI's.
 * srv_my_pause_get(): a person's own pause of their devices (never fails:
 * none when the store cannot say).
 */
struct srv_my_pause {
	bool paused;                      /* in force now */
	int64_t since_ns, until_ns, ended_ns;
	uint64_t version;                 /* the state_version it was told at */
};
void srv_my_pause_get(struct server *s, const uint8_t subject[16],
    int64_t now_ns, struct srv_my_pause *out);
void api_my_days(struct srv_req *q);
void api_my_pause(struct srv_req *q);
void api_my_resume(struct srv_req *q);
void api_my_pause_status(struct srv_req *q);
void api_my_consent(struct srv_req *q);
void api_admin_devices(struct srv_req *q);
void api_admin_policy_diff(struct srv_req *q);
void api_admin_assignments(struct srv_req *q);
void api_audit_verify(struct srv_req *q);
/* web.c: the page's files built into the binary (web/, web_int.h). */
void api_web_index(struct srv_req *q);
void api_web_asset(struct srv_req *q);

/* Handlers. */
void api_openapi(struct srv_req *q);
void api_health(struct srv_req *q);
void api_login(struct srv_req *q);
void api_admin_principal_add(struct srv_req *q);
void api_admin_principal_list(struct srv_req *q);
void api_admin_principal_revoke(struct srv_req *q);
void api_my_enroll_code(struct srv_req *q);
void api_my_devices(struct srv_req *q);
void api_my_device_revoke(struct srv_req *q);
void api_my_segments(struct srv_req *q);
void api_my_actions(struct srv_req *q);
void api_my_records(struct srv_req *q);
void api_my_frames(struct srv_req *q);
void api_my_frame(struct srv_req *q);
void api_my_erase(struct srv_req *q);
void api_my_audit(struct srv_req *q);
void api_enroll(struct srv_req *q);
void api_device_consent(struct srv_req *q);
void api_audit_exposure(struct srv_req *q);
void api_admin_segments(struct srv_req *q);
void api_admin_assign(struct srv_req *q);
void api_review_queue(struct srv_req *q);
void api_review_read(struct srv_req *q);
void api_review_frames(struct srv_req *q);
void api_review_frame(struct srv_req *q);
void api_review_approve(struct srv_req *q);
void api_review_reject(struct srv_req *q);
void api_my_withdraw_review(struct srv_req *q);
void api_training_steps(struct srv_req *q);
/* api_export.c: an exported episode's frames; the export's revoked episodes. */
void api_training_frame(struct srv_req *q);
void api_training_revoked(struct srv_req *q);
/*
 * api_training.c, shared with api_export.c: export names (1-48 of
 * A-Z a-z 0-9 . _ -); the export's salt (made on first use); an id's
 * keyed hash under it ("episode", "subject", "consent"); whether a segment
 * is at or below the export threshold of the policy it was recorded under.
 */
bool srv_export_name_ok(const char *s);
int srv_export_salt(struct server *s, const char *name, uint8_t salt[32]);
void srv_export_pseud(const uint8_t salt[32], const char *what,
    const uint8_t id[16], char out[33]);
bool srv_export_sensitivity_ok(struct server *s, const struct meta_segment *m);
/*
 * Export expiry (api_training.c): the export's day of expiry (YYYY-MM-DD,
 * UTC) into day[11]; 1 when it has expired, 0 when not, or a negative code.
 * An export is made at its first read (recorded as a setting) and expires
 * at 00:00 UTC of the day made + export.expire days of the server's policy.
 */
int srv_export_expiry(struct srv_req *q, const char *name, char day[11]);
/* Answers 410 export_expired; true when it did (expiry unknown: 500). */
bool srv_export_refuse_expired(struct srv_req *q, const char *name, char day[11]);
void api_audit_canary_add(struct srv_req *q);
void api_admin_claim_reissue(struct srv_req *q);
void api_my_claim_confirm(struct srv_req *q);

/* api_people.c: 1-63 characters of A-Z a-z 0-9 . _ @ - */
bool srv_name_ok(const char *s);

/*
 * alert.c: srv_alert(): an audit entry with outcome "alert" (action,
 * detail: no content), a line on stderr and a run of the configured
 * alert_command.  canary.c: srv_canary_check(): before a segment of subject is
 * returned to anyone but its subject, for flow "review" (review and
 * training); an alert when the subject is a canary whose flow does not
 * allow it.  The read itself goes on (the reader must not learn it was a
 * canary).  0 or a negative code (the audit could not be written).
 */
int srv_alert(struct srv_req *q, const char *action, const char *detail)
	__attribute__((warn_unused_result));
/* The stderr line and the alert_command only (the caller audits). */
void srv_alert_notify(struct srv_req *q, const char *action, const char *detail);
int srv_canary_check(struct srv_req *q, const uint8_t subject[16],
    const char *flow) __attribute__((warn_unused_result));
void api_audit_alerts(struct srv_req *q);
void api_audit_entries(struct srv_req *q);
void api_device_control(struct srv_req *q);
void api_device_upload(struct srv_req *q);

/* orgctl.c: the control state (struct srv_ctl). */
struct srv_ctl_state {
	uint64_t version;
	bool paused;
	struct meta_org_pause pause;      /* the pause in force when paused */
	int64_t policy_version;           /* 0: none */
	uint8_t policy_sha[32];
};
int srv_ctl_open(struct server *s) __attribute__((warn_unused_result));
void srv_ctl_close(struct server *s);
/*
 * The state now; a pause past its until_ns is ended ("expiry") first, which
 * bumps the version.  Never fails: a store error leaves the cached state.
 */
void srv_ctl_get(struct server *s, int64_t now_ns, struct srv_ctl_state *out);
/*
 * Bumps state_version (durably) and wakes every parked long poll: after an
 * organisation pause or resume, a policy publish, a subject's withdrawal or
 * erasure of everything, a device or principal revocation.  why is logged.
 */
int srv_ctl_bump(struct server *s, const char *why);
/* Pauses until until_ns (or changes the pause in force); bumps. */
int srv_ctl_pause(struct server *s, int64_t now_ns, int64_t until_ns,
    const char *who, struct meta_org_pause *out) __attribute__((warn_unused_result));
/* Ends the pause in force; 1 if one was, 0 if none; bumps when 1. */
int srv_ctl_resume(struct server *s, int64_t now_ns, const char *who)
	__attribute__((warn_unused_result));
/*
 * Queues a device's ack for the store (written within SRV_ACK_FLUSH_MS, in
 * one transaction with the others queued); srv_ctl_ack_flush() writes the
 * queue now (before counting).  0 or a store error.
 */
#define SRV_ACK_FLUSH_MS 200
void srv_ctl_ack(struct server *s, const struct meta_ack *a);
int srv_ctl_ack_flush(struct server *s) __attribute__((warn_unused_result));
/* A policy version was stored: cache it and bump. */
int srv_ctl_policy(struct server *s, int64_t version, const uint8_t sha[32])
	__attribute__((warn_unused_result));
/*
 * Ingest: 1 (and *id) when a segment [start_ns, end_ns] (signed wall
 * times) began during an organisation pause, or began before one and ends
 * more than SRV_PAUSE_GRACE_NS into it; 0 when not; a negative code when
 * the store cannot answer (the upload gets a 5xx and is retried).
 */
#define SRV_PAUSE_GRACE_NS (30LL * 1000000000LL)
int srv_ctl_paused_segment(struct server *s, int64_t start_ns, int64_t end_ns,
    int64_t *id) __attribute__((warn_unused_result));
/*
 * ingest_pause.c: true when a segment [start_ns, end_ns] falls under a
 * pause from since_ns to stop_ns by the rule above (the one
 * meta_org_pause_covering() applies in SQL).  srv_my_paused_segment(): 1
 * (with *why "my_pause" and q's audit object naming the pause) when the
 * segment falls under the subject's own pause, else 0.
 */
bool srv_pause_covers(int64_t start_ns, int64_t end_ns, int64_t since_ns,
    int64_t stop_ns, int64_t grace_ns);
int srv_my_paused_segment(struct srv_req *q, const uint8_t subject[16],
    int64_t start_ns, int64_t end_ns, const char **why);

/* api_control.c: long polls, acks, policies, the admin's pause. */
void srv_control_resume(struct server *s, const struct http_request *rq,
    struct http_response *rs);
void api_device_ack(struct srv_req *q);
void api_device_policy(struct srv_req *q);
void api_admin_pause(struct srv_req *q);
void api_admin_resume(struct srv_req *q);
void api_admin_pause_status(struct srv_req *q);
void api_admin_policy_publish(struct srv_req *q);
void api_admin_policy_list(struct srv_req *q);
void api_admin_policy_get(struct srv_req *q);
/* api_device.c: the control reply's fields before issue 15's. */
json_t *srv_control_base_json(struct srv_req *q);

/* api_device.c: what a device is handed (ingest keys, checkpoint). */
json_t *srv_ingest_keys_json(struct server *s, const struct meta_device *d,
    int64_t now_ns);
json_t *srv_checkpoint_json(struct server *s);
/* True when the person erased everything (the device purges its spool). */
bool srv_erased_all(struct server *s, const uint8_t subject[16]);
/* A device whose clock is further off than this stops recording. */
#define SRV_MAX_SKEW_NS (120LL * 1000000000LL)

/* keyrot.c: rotating the receipt and audit keys at start. */
#define SRV_ROTATE_RECEIPT 1u
#define SRV_ROTATE_AUDIT 2u
/* Adds the bit of key name ("receipt", "audit") to *bits; UT_EINVAL. */
int srv_rotate_parse(const char *name, unsigned *bits);
/* Before the audit log opens: history append, then the key store switch. */
int srv_keys_rotate(struct server *s, unsigned bits)
	__attribute__((warn_unused_result));
/* Once it is open: one audit entry per rotated key. */
int srv_keys_rotate_audit(struct server *s, unsigned bits)
	__attribute__((warn_unused_result));
/* The audit keys before rotations (DATA/audit.pub.old); *n = 0 if none. */
int srv_audit_old_pks(const struct server *s, uint8_t (*pks)[32], size_t max,
    size_t *n) __attribute__((warn_unused_result));

/*
 * api_review.c: the reviewer's view of a record (titles and application
 * names scanned again, no wall-clock time); arg is a struct detect *.
 * srv_review_detect() makes that instance (NULL when the detectors cannot
 * be built); free it with detect_destroy().
 */
struct detect;
void srv_review_rewrite(struct ut_event *ev, void *arg);
struct detect *srv_review_detect(void);

/* erase.c: cryptographic erasure (P9). */
int srv_erase_day(struct server *s, const uint8_t subject[16], int32_t day,
    unsigned *nsegs) __attribute__((warn_unused_result));
int srv_erase_subject(struct server *s, const uint8_t subject[16], unsigned *nsegs)
	__attribute__((warn_unused_result));
/* Retention: erases every expired day of every subject; returns days erased. */
int srv_retention_run(struct server *s, int64_t now_ns);
uint32_t srv_retention_days(struct server *s, const uint8_t policy_hash[32]);
/* At start: destroys the keys and segments of every tombstone (a crash
 * mid-erasure, a restored backup); *applied counts shreds done. */
int srv_erase_reapply(struct server *s, unsigned *applied)
	__attribute__((warn_unused_result));

/* segread.c: opening one stored segment for its owner. */
struct srv_segment {
	struct meta_segment m;
	uint8_t *blob;                    /* stored form, wiped and freed */
	size_t blob_len;
	uint8_t *key;                     /* sodium_malloc'd 32 bytes */
};
/*
 * Loads segment id if it belongs to subject: UT_ENOTFOUND otherwise (the
 * caller answers 404 either way), UT_ENOTFOUND too when its day key is
 * gone.  Free with srv_segment_free().
 */
int srv_segment_load(struct server *s, const uint8_t subject[16], const char *idhex,
    struct srv_segment *out) __attribute__((warn_unused_result));
void srv_segment_free(struct srv_segment *g);
/* srv_segment_load() without the blob (g->blob NULL): the frames routes. */
int srv_segment_load_key(struct server *s, const uint8_t subject[16],
    const char *idhex, struct srv_segment *out) __attribute__((warn_unused_result));

/*
 * A loaded segment as NDJSON text: its actions (as `show --json`) or, raw,
 * its records (as `show --raw`).  rewrite (may be NULL) sees every record
 * first and may change it (the reviewer's view re-scans titles).  out->text
 * holds recorded content: free it with srv_render_free(), which wipes it.
 * 0 or a negative code.
 */
struct srv_render {
	FILE *f;
	char *text;
	size_t len;
};
int srv_render(struct srv_segment *g, bool raw,
    void (*rewrite)(struct ut_event *ev, void *arg), void *arg,
    struct srv_render *out) __attribute__((warn_unused_result));
void srv_render_free(struct srv_render *rd);
/*
 * Answers a loaded segment's frame ids ({"frames": [...]}), or one frame as
 * PNG (404 when it has no such frame).  The caller frees g.
 */
void srv_reply_frame_list(struct srv_req *q, struct srv_segment *g);
void srv_reply_frame(struct srv_req *q, struct srv_segment *g, uint64_t want);
/*
 * frameidx.c: the frame index of a stored segment, kept sealed next to its
 * blob; the two functions above answer from it (g loaded without its blob).
 * srv_fidx_ingest() builds and keeps it from the stored-form image just
 * stored (a failure is logged: the first frames read builds it).
 */
struct spool_upload_info;
void srv_fidx_ingest(struct server *s, const struct spool_upload_info *info,
    int32_t day, const uint8_t *img, size_t len, const uint8_t key[32]);

/* summary.c: the content summary of a segment, sealed under the day key. */
struct srv_summary_acc;
struct srv_summary_acc *srv_summary_create(void);
void srv_summary_push(struct srv_summary_acc *a, const struct ut_event *ev);
/* JSON text of the summary (malloc'd, NUL-terminated, fits META_SUMMARY_MAX
 * minus the seal overhead); *sens_max the highest sensitivity seen. */
char *srv_summary_finish(struct srv_summary_acc *a, unsigned *sens_max);
void srv_summary_destroy(struct srv_summary_acc *a);

#endif
