/*
 * upload.h - sending closed segments to the server (P10), shared by
 * `usetrace upload DIR` (by hand) and the recorder's background uploader.
 *
 * One segment (upload_segment): read DIR/seg-NNNNNNNN.uts, PUT it, verify
 * the server's signed receipt for exactly those bytes, keep the receipt's
 * audit checkpoint as a witness, and only then delete the file.  A final
 * receipt (stored, duplicate, discarded, rejected) deletes it; anything
 * else keeps it for a later try.  Uploads are idempotent by segment id and
 * content hash at the server, so a retry after a lost receipt is answered
 * with the same receipt and nothing is in the dataset twice.
 *
 * The background uploader (upload_agent_*): one thread with a queue of the
 * directory's closed segments, oldest first; transient failures are
 * retried after an exponential backoff with jitter (upload_backoff_ms).
 * Feeding it (upload_agent_notify) never blocks on the network: it takes
 * a mutex that the thread holds only for queue bookkeeping, never across a
 * request.
 */
#ifndef USETRACE_UPLOAD_H
#define USETRACE_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/client.h"

/* Receipt outcomes, as the server names them (docs/API.md). */
enum upload_outcome {
	UPLOAD_STORED = 1,
	UPLOAD_DUPLICATE,
	UPLOAD_DISCARDED,      /* final: not stored (e.g. reason org_pause) */
	UPLOAD_REJECTED,       /* final: not stored (the reason says why) */
};

/* "stored", "duplicate", "discarded", "rejected"; "?" otherwise. */
const char *upload_outcome_name(int outcome);

/* Who uploads, to where, and whose keys sign the answers.  All borrowed. */
struct upload_dev {
	const struct client_cfg *c;   /* url, pin, device token */
	const uint8_t *device_pk;     /* Ed25519, 32 bytes: receipts name it */
	const uint8_t *receipt_pk;    /* Ed25519, 32 bytes: signs receipts */
	const uint8_t *audit_pk;      /* Ed25519, 32 bytes: audit checkpoints */
	const char *home;             /* witness.jsonl goes here */
};

struct upload_result {
	int outcome;           /* enum upload_outcome, on success */
	char reason[160];      /* the receipt's reason (discarded, rejected) */
	uint64_t bytes;        /* the segment's size */
	long http_status;      /* 0: no answer */
	char error[400];       /* on failure: why (no secrets, no content) */
};

/* Segment file names: seg-NNNNNNNN.uts (closed) -> 1 and *idx, else 0. */
int upload_seg_index(const char *name, unsigned *idx);

/*
 * The numbers of dir's closed segments, ascending (at most max); *out is
 * malloc'd (NULL when none).  0 or -errno.
 */
int upload_list_segments(const char *dir, size_t max, unsigned **out,
    size_t *n) __attribute__((warn_unused_result));

/*
 * Uploads dir/seg-<idx>.uts as described above; *res is always filled.
 * Returns 0 when a verified final receipt was acted on (the file is gone),
 * UT_ENOTFOUND when the file was already gone (another uploader took it),
 * or a negative code with res->error: -errno (cannot read, cannot delete),
 * UT_ECORRUPT (not a segment), a client_request() error (no answer),
 * -EAGAIN (an error status: res->http_status), UT_ECRYPTO / UT_EDENIED /
 * UT_EPARSE (the receipt does not verify or is not for these bytes), or
 * the witness write's error.  On any error the file is kept.
 */
int upload_segment(const struct upload_dev *u, const char *dir, unsigned idx,
    struct upload_result *res) __attribute__((warn_unused_result));

/*
 * The retry delay after `failures` consecutive failures (1, 2, ...):
 * base_ms * 2^(failures-1) capped at cap_ms, then jittered down into
 * [d/2, d] by rnd (any 32-bit value; the caller draws it at random).
 * Never 0, never above cap_ms (cap_ms >= 1).
 */
uint64_t upload_backoff_ms(unsigned failures, uint64_t base_ms,
    uint64_t cap_ms, uint32_t rnd);

/*
 * The queue of segments waiting (queue.c): segment numbers with their
 * sizes, kept sorted and without duplicates; at most UPLOAD_QUEUE_MAX.
 */
#define UPLOAD_QUEUE_MAX 100000u
struct upload_queue {
	unsigned *idx;
	uint64_t *bytes;
	size_t n, cap;
	uint64_t total_bytes;
};
void upload_queue_init(struct upload_queue *q);
void upload_queue_finish(struct upload_queue *q);
/* Adds idx (no-op when present).  0, or UT_ETOOBIG when full. */
int upload_queue_add(struct upload_queue *q, unsigned idx, uint64_t bytes);
/* Removes idx; true when it was there. */
bool upload_queue_remove(struct upload_queue *q, unsigned idx);
/* The oldest (lowest) segment number; false when empty. */
bool upload_queue_first(const struct upload_queue *q, unsigned *idx);
/*
 * Makes q exactly the set in segs (n numbers, any order) with their sizes:
 * what a fresh scan of the directory found.
 */
int upload_queue_replace(struct upload_queue *q, const unsigned *segs,
    const uint64_t *bytes, size_t n);

/* What the background uploader reports for `usetrace status`. */
struct upload_status {
	size_t waiting;               /* closed segments not yet uploaded */
	uint64_t waiting_bytes;
	uint64_t uploaded;            /* segments acted on since start */
	int64_t last_upload_ns;       /* wall clock of the last receipt; 0 */
	int64_t last_error_ns;        /* 0: no error since the last success */
	char last_error[448];
	unsigned failures;            /* consecutive */
	int64_t next_try_ns;          /* wall clock of the next try after an error */
	int last_final_outcome;       /* UPLOAD_DISCARDED / _REJECTED; 0 none */
	char last_final_reason[160];
	char last_final_segment[32];
	int64_t last_final_ns;
};

struct upload_agent;
struct json_t; /* jansson's json_t */

struct upload_agent_opts {
	const char *dir;              /* the spool directory */
	struct upload_dev dev;        /* borrowed until upload_agent_destroy */
	uint64_t backoff_base_ms;     /* 0: 1000 */
	uint64_t backoff_cap_ms;      /* 0: 300000 (5 minutes) */
	uint64_t rescan_ms;           /* periodic rescan of dir; 0: 5000 */
	/*
	 * Called in the uploader thread before the first upload and before
	 * the first upload after a failure (e.g. fetch the server's keys and
	 * post the consent).  0 to go on; < 0 counts as a failure (backoff),
	 * with why in err (errsz bytes).  *erased_all set: the person erased
	 * everything at the server, so the waiting segments are deleted
	 * unsent.  May be NULL.
	 */
	int (*session)(void *arg, bool *erased_all, char *err, size_t errsz);
	void *session_arg;
	/* Called (uploader thread) after a segment's file is deleted. */
	void (*on_deleted)(void *arg);
	void *on_deleted_arg;
	/*
	 * NULL, or the flag dev.c->cancel points to (client.h):
	 * upload_agent_stop() sets it, so a request in flight (a stalled
	 * server, a slow network) ends within about a second instead of at
	 * its timeout.  A segment whose upload was cut keeps its file (no
	 * receipt) and goes with the next start.
	 */
	atomic_int *cancel;
};

/*
 * Starts the uploader thread; it queues the closed segments already in
 * dir at once (a restart resumes).  0, or -errno (thread), UT_EINVAL.
 */
int upload_agent_start(const struct upload_agent_opts *o,
    struct upload_agent **out) __attribute__((warn_unused_result));
/*
 * A segment closed (or may have): rescan dir soon.  Never blocks on the
 * network; safe from any thread.  NULL is a no-op.
 */
void upload_agent_notify(struct upload_agent *ua);
/* A consistent copy of the status; NULL ua gives an all-zero one. */
void upload_agent_status(struct upload_agent *ua, struct upload_status *st);
/*
 * Stops the thread and frees ua.  A request in flight ends within about a
 * second when o.cancel is set (else by its timeout or when its connection
 * fails).  NULL is a no-op.
 */
void upload_agent_stop(struct upload_agent *ua);

/*
 * st as the "upload" object of `usetrace status` (jansson; a new
 * reference, NULL when out of memory).  Control characters in the
 * messages are dropped.
 */
struct json_t *upload_status_json(const struct upload_status *st);

#endif
