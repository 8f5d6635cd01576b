/*
 * ingest.c - PUT /v1/device/segments/{id}: a device's closed segment in,
 * a signed receipt out (DESIGN "Ingest and receipts", P10).
 *
 * Order of work, each step a reason to refuse:
 *   verify the image (header signature by this device, chain, trailer,
 *   nothing after it) -> the id in the path is the segment's -> a stored
 *   segment with this id: same bytes, same receipt; other bytes: rejected
 *   and alerted -> the segment it follows (v2 link), if stored here, is
 *   this device's and its trailer is the one the link names; else rejected
 *   and alerted -> the segment's subject is this device's -> its day is not
 *   erased, not past retention, and it does not start in the future ->
 *   its consent is on record for this device, not withdrawn before the
 *   segment began, for the same policy -> the sealed key opens with this
 *   device's ingest key of that day -> every covered frame decrypts and
 *   every record's time is in the segment's day (grace either side) ->
 *   store the blob in stored form (sealed key replaced by its hash), the
 *   segment key and the content summary sealed under the day key, the row
 *   and the receipt -> audit -> answer.
 *
 * Invariants:
 *  (1) The 80-byte sealed key exists only in the request's memory: the
 *      image is turned into stored form before anything is written, and the
 *      image is wiped before it is freed (the transport's body buffer by
 *      the transport after the call, a copy made here by us).  No staging
 *      file, log line or kept conflicting upload holds it.
 *  (2) A receipt with outcome `stored` is sent only after the blob, the key
 *      store's day key, the metadata row and the audit entry are durable.
 *      A cut upload never reaches the handler (the transport reads the
 *      whole body first), so nothing half-stored is ever visible; a blob
 *      written before a crash and without its row is unreachable and is
 *      written again, identically, by the retry.
 *  (3) `discarded` and `rejected` are final: the device deletes the segment.
 *      A transient server failure answers 5xx, never a final receipt.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "server_int.h"

#define NS_PER_S 1000000000LL
#define NS_PER_DAY (86400LL * NS_PER_S)
#define FUTURE_SLACK_NS (5LL * 60 * NS_PER_S)
/* How far past midnight a segment may end: the agent's rotation latency. */
#define MIDNIGHT_GRACE_NS (60LL * NS_PER_S)
#define RECEIPT_CTX "UT-RCPT1"
#define RECEIPT_MSG_LEN (8 + 32 + 16 + 32 + 1 + 8)
/* meta_segment.receipt: u8 outcome, i64 time, sig[64] */
#define RECEIPT_STORE_LEN (1 + 8 + 64)

enum outcome { OUT_STORED = 1, OUT_DUPLICATE, OUT_DISCARDED, OUT_REJECTED };

static const char *const outcome_names[] = { "", "stored", "duplicate",
	"discarded", "rejected" };

struct upload {
	struct srv_req *q;
	uint8_t *img;            /* the body: the transport's or our copy */
	size_t len;
	bool own_img;            /* img is our copy: wiped and freed here */
	struct spool_upload_info info;
	uint8_t upload_hash[32];
	uint8_t *key;            /* sodium_malloc'd segment key */
	int32_t day;
};

static void
receipt_msg(const uint8_t dev[32], const uint8_t segid[16], const uint8_t h[32],
    enum outcome o, int64_t t, uint8_t m[RECEIPT_MSG_LEN])
{
	memcpy(m, RECEIPT_CTX, 8);
	memcpy(m + 8, dev, 32);
	memcpy(m + 40, segid, 16);
	memcpy(m + 56, h, 32);
	m[88] = (uint8_t)o;
	put_u64le(m + 89, (uint64_t)t);
}

/* Signs and sends a receipt; stores its compact form in rec (may be NULL). */
static int
send_receipt(struct upload *u, const uint8_t segid[16], enum outcome o,
    const char *reason, int64_t t, const uint8_t *given_sig, uint8_t *rec)
{
	struct srv_req *q = u->q;
	uint8_t m[RECEIPT_MSG_LEN], sig[64];
	char dev[64], sid[33], h[65], sigb[96];
	int r;

	if (given_sig != NULL)
		memcpy(sig, given_sig, 64);
	else {
		receipt_msg(q->dev.pk, segid, u->upload_hash, o, t, m);
		if ((r = keystore_sign(q->srv->ks, KS_RECEIPT_KEY, m, sizeof(m), sig)) < 0)
			return r;
	}
	if (rec != NULL) {
		rec[0] = (uint8_t)o;
		put_u64le(rec + 1, (uint64_t)t);
		memcpy(rec + 9, sig, 64);
	}
	srv_b64(q->dev.pk, 32, dev, sizeof(dev));
	srv_hex(segid, 16, sid, sizeof(sid));
	srv_hex(u->upload_hash, 32, h, sizeof(h));
	srv_b64(sig, 64, sigb, sizeof(sigb));
	snprintf(q->a_detail, sizeof(q->a_detail), "%s%s%.80s", outcome_names[o],
	    reason[0] ? ": " : "", reason);
	q->a_outcome = outcome_names[o];
	srv_reply_json(q, 200, json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o}}",
	    "receipt", "device", dev, "segment_id", sid, "upload_hash", h,
	    "outcome", outcome_names[o], "reason", reason, "server_time_ns",
	    (json_int_t)t, "sig", sigb, "audit_checkpoint",
	    srv_checkpoint_json(q->srv)));
	return 0;
}

static void
final(struct upload *u, enum outcome o, const char *reason)
{
	if (send_receipt(u, u->info.segment_id, o, reason, u->q->now_ns, NULL, NULL) < 0)
		srv_reply_error(u->q, 500, "internal", "cannot sign the receipt");
}

/* A stored segment with the same id: the same receipt, or an alert. */
static void
already_stored(struct upload *u, const struct meta_segment *m)
{
	if (sodium_memcmp(m->upload_hash, u->upload_hash, 32) == 0 &&
	    m->receipt_len == RECEIPT_STORE_LEN) {
		(void)send_receipt(u, m->segment_id, (enum outcome)m->receipt[0], "",
		    (int64_t)get_u64le(m->receipt + 1), m->receipt + 9, NULL);
		return;
	}
	final(u, OUT_REJECTED, "another segment is stored under this id");
	/* The request's own audit entry is the alert (outcome "alert"). */
	u->q->a_outcome = "alert";
	srv_alert_notify(u->q, "upload", "other bytes under a stored segment id");
}

/*
 * The v2 link (docs/FORMAT.md 2.2): when the predecessor the segment names
 * is stored here, it must be this device's and its trailer must hash to
 * what the segment's signed header says.  A predecessor not stored (not
 * uploaded yet: uploads may come in any order; or erased) is no reason to
 * refuse.  0 linked or unknown, 1 broken (*why set), <0 a server error.
 */
static int
check_link(struct upload *u, const char **why)
{
	static const uint8_t zero[16];
	struct srv_req *q = u->q;
	struct meta_segment *m = NULL;
	uint8_t *img = NULL, th[32], tail[117]; /* a trailer record */
	uint64_t size = 0;
	size_t n = 0;
	int r;

	if (u->info.version < 2 ||
	    sodium_memcmp(u->info.prev_segment_id, zero, 16) == 0)
		return 0;
	m = xcalloc(1, sizeof(*m));
	r = meta_segment_get(q->srv->meta, u->info.prev_segment_id, m);
	if (r == UT_ENOTFOUND) {
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	if (m->device_id != q->dev.id) {
		*why = "the segment it follows is another device's";
		r = 1;
		goto out;
	}
	/*
	 * Its trailer alone first: a link that matches needs nothing else.
	 * Anything else is judged on the whole blob, re-hashed, as before
	 * (a damaged blob is a server error, never a refusal).
	 */
	r = blob_get_tail(q->srv->blobs, m->blob_hash, sizeof(tail), tail, &size);
	if (r == 0 && size == m->size) {
		crypto_generichash(th, sizeof(th), tail, sizeof(tail), NULL, 0);
		if (sodium_memcmp(th, u->info.prev_trailer_hash, 32) == 0)
			goto out;
	}
	r = blob_get(q->srv->blobs, m->blob_hash, (size_t)m->size + 1, &img, &n);
	if (r == UT_ENOTFOUND) {
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	r = 0;
	if (n < 117) { /* a trailer record: docs/FORMAT.md section 2 */
		*why = "the segment it follows has no trailer here";
		r = 1;
		goto out;
	}
	crypto_generichash(th, sizeof(th), img + n - 117, 117, NULL, 0);
	if (sodium_memcmp(th, u->info.prev_trailer_hash, 32) != 0) {
		*why = "its link does not match the stored segment it follows "
		    "(a substituted segment)";
		r = 1;
	}
out:
	free(img);
	free(m);
	return r;
}

/*
 * Every rule about the segment's subject, day, pause and consent: -1 with
 * *why and *o for a final refusal; another negative code, *why NULL, when
 * the store cannot answer.
 */
static int
check_rules(struct upload *u, const char **why, enum outcome *o)
{
	struct srv_req *q = u->q;
	struct meta_consent c;
	uint32_t keep;
	int64_t pause_id;
	int r;

	*o = OUT_REJECTED;
	if (sodium_memcmp(u->info.subject_id, q->dev.subject_id, 16) != 0) {
		*why = "the segment's subject is not this device's subject";
		return -1;
	}
	*o = OUT_DISCARDED;
	if (u->info.start_wall_ns > q->now_ns + FUTURE_SLACK_NS) {
		*why = "the segment starts more than 5 minutes ahead of the server";
		return -1;
	}
	/*
	 * Organisation pause (issue 15), by server time: a segment whose signed
	 * start falls in a pause, or that began before one and whose signed end
	 * is more than 30 s into it (an agent offline when the pause came
	 * recorded through it), is discarded.  The device's clock is within
	 * 2 minutes of the server's or its agent does not record.
	 */
	r = srv_ctl_paused_segment(q->srv, u->info.start_wall_ns,
	    u->info.end_wall_ns, &pause_id);
	if (r < 0) {
		*why = NULL;            /* not a refusal: a 5xx, retried */
		return r;
	}
	if (r > 0) {
		snprintf(q->a_object, sizeof(q->a_object), "segment:%.60s pause:%lld",
		    q->param[0], (long long)pause_id);
		*why = "org_pause";
		return -1;
	}
	/* The person's own pause, by the same rule (ingest_pause.c). */
	if (srv_my_paused_segment(q, u->info.subject_id, u->info.start_wall_ns,
	    u->info.end_wall_ns, why) > 0)
		return -1;
	if (meta_tombstoned(q->srv->meta, u->info.subject_id, u->day)) {
		*why = "that day was erased";
		return -1;
	}
	keep = srv_retention_days(q->srv, u->info.policy_hash);
	if (keep > 0 && (int64_t)u->day < (int64_t)keystore_day_of(q->now_ns) -
	    (int64_t)keep) {
		*why = "that day is past retention";
		return -1;
	}
	*o = OUT_REJECTED;
	if (meta_consent_get(q->srv->meta, q->dev.id, u->info.consent_id, &c) < 0) {
		*why = "no consent on record for this segment's consent id";
		return -1;
	}
	if (c.withdrawn_ns != 0 && c.withdrawn_ns <= u->info.start_wall_ns) {
		*why = "consent was withdrawn before the segment began";
		return -1;
	}
	if (sodium_memcmp(c.policy_hash, u->info.policy_hash, 32) != 0) {
		*why = "the segment's policy is not the one consented to";
		return -1;
	}
	return 0;
}

/*
 * Decrypts every covered frame; builds the summary.  0, -ERANGE when a
 * record's wall time is outside the segment's day (plus grace either
 * side), or another error.  A segment belongs to the UTC day of its start
 * and the agent rotates at 00:00 UTC; records of another day would sit
 * under this day's key, where an erasure of their own day cannot reach
 * them.  The grace covers the agent's rotation latency and what its
 * privacy filter still held at midnight.
 */
static int
read_all(struct upload *u, char **summary, unsigned *sens)
{
	struct spool_mem_reader *rd = NULL;
	struct srv_summary_acc *acc = srv_summary_create();
	struct ut_event ev;
	int64_t lo = (int64_t)u->day * NS_PER_DAY - MIDNIGHT_GRACE_NS;
	int64_t hi = ((int64_t)u->day + 1) * NS_PER_DAY + MIDNIGHT_GRACE_NS;
	bool outside = false;
	int r;

	*summary = NULL;
	/* Verified once, by spool_upload_verify() in api_device_upload(). */
	r = spool_upload_reader_open(u->img, u->len, false, &u->info, u->key, &rd);
	if (r < 0)
		goto out;
	while ((r = spool_mem_reader_next(rd, &ev)) > 0) {
		if (ev.wall_ns != 0 && (ev.wall_ns < lo || ev.wall_ns >= hi))
			outside = true;
		srv_summary_push(acc, &ev);
	}
	if (r == 0 && outside)
		r = -ERANGE;
	if (r == 0)
		*summary = srv_summary_finish(acc, sens);
out:
	sodium_memzero(&ev, sizeof(ev));
	spool_mem_reader_close(rd);
	srv_summary_destroy(acc);
	return r;
}

/* Seals key and summary under the day key and writes blob and row. */
static int
store(struct upload *u, const char *summary, unsigned sens)
{
	struct srv_req *q = u->q;
	struct meta_segment *m = xcalloc(1, sizeof(*m));
	size_t sl = strlen(summary);
	int r;

	memcpy(m->segment_id, u->info.segment_id, 16);
	memcpy(m->subject_id, u->info.subject_id, 16);
	m->device_id = q->dev.id;
	m->day = u->day;
	m->start_ns = u->info.start_wall_ns;
	m->end_ns = u->info.end_wall_ns;
	m->size = u->len;
	m->frames = u->info.frames;
	memcpy(m->upload_hash, u->upload_hash, 32);
	memcpy(m->policy_hash, u->info.policy_hash, 32);
	memcpy(m->consent_id, u->info.consent_id, 16);
	m->sensitivity_max = sens;
	m->received_ns = q->now_ns;
	if (32 + KEYSTORE_SEAL_OVERHEAD > META_WRAPPED_MAX ||
	    sl + KEYSTORE_SEAL_OVERHEAD > META_SUMMARY_MAX) {
		r = UT_ETOOBIG;
		goto out;
	}
	if ((r = keystore_day_seal(q->srv->ks, m->subject_id, u->day,
	    m->segment_id, 16, u->key, 32, m->wrapped_key)) < 0)
		goto out;
	m->wrapped_len = 32 + KEYSTORE_SEAL_OVERHEAD;
	if ((r = keystore_day_seal(q->srv->ks, m->subject_id, u->day,
	    m->segment_id, 16, (const uint8_t *)summary, sl, m->summary)) < 0)
		goto out;
	m->summary_len = sl + KEYSTORE_SEAL_OVERHEAD;
	/* Invariant (1): the sealed key leaves the image before any write. */
	spool_to_stored_form(u->img, u->len);
	if ((r = blob_put(q->srv->blobs, u->img, u->len, m->blob_hash)) < 0)
		goto out;
	m->receipt_len = RECEIPT_STORE_LEN;
	{
		uint8_t mm[RECEIPT_MSG_LEN];

		receipt_msg(q->dev.pk, m->segment_id, u->upload_hash, OUT_STORED,
		    q->now_ns, mm);
		if ((r = keystore_sign(q->srv->ks, KS_RECEIPT_KEY, mm, sizeof(mm),
		    m->receipt + 9)) < 0)
			goto out;
		m->receipt[0] = OUT_STORED;
		put_u64le(m->receipt + 1, (uint64_t)q->now_ns);
	}
	r = meta_segment_put(q->srv->meta, m);
	if (r == -EEXIST) {
		struct meta_segment *old = xcalloc(1, sizeof(*old));

		/* A concurrent upload of the same id won the race. */
		if ((r = meta_segment_get(q->srv->meta, m->segment_id, old)) == 0)
			already_stored(u, old);
		free(old);
		r = r < 0 ? r : 1;
		goto out;
	}
	if (r < 0)
		goto out;
	(void)send_receipt(u, m->segment_id, OUT_STORED, "", q->now_ns,
	    m->receipt + 9, NULL);
out:
	sodium_memzero(m, sizeof(*m));
	free(m);
	return r;
}

void
api_device_upload(struct srv_req *q)
{
	struct upload u;
	struct meta_segment *old = NULL;
	enum outcome o;
	const char *why = NULL;
	char *summary = NULL;
	unsigned sens = 1;
	uint8_t pathid[16];
	int r;

	memset(&u, 0, sizeof(u));
	u.q = q;
	srv_hex(q->dev.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "segment:%.80s", q->param[0]);
	if (srv_unhex(q->param[0], pathid, 16) < 0) {
		srv_reply_error(q, 400, "bad_request", "the segment id is 32 hex digits");
		return;
	}
	if (q->rq->body == NULL || q->rq->body_len == 0) {
		srv_reply_error(q, 400, "bad_request", "the body is the segment file");
		return;
	}
	u.len = q->rq->body_len;
	if (q->rq->body_rw != NULL) {
		/* The transport's buffer: it wipes it after this call. */
		u.img = q->rq->body_rw;
	} else {
		u.img = xmalloc(u.len);
		memcpy(u.img, q->rq->body, u.len);
		u.own_img = true;
	}
	crypto_generichash(u.upload_hash, 32, u.img, u.len, NULL, 0);

	r = spool_upload_verify(u.img, u.len, false, q->dev.pk, &u.info);
	if (r == UT_ESTATE) {
		srv_reply_error(q, 400, "bad_request",
		    "only closed segments are accepted (this one has no trailer)");
		goto out;
	}
	if (r < 0) {
		memcpy(u.info.segment_id, pathid, 16);
		final(&u, OUT_REJECTED, r == UT_EDENIED ?
		    "signed by another device key than this device's" :
		    "the segment does not verify (signature, chain or trailer)");
		goto out;
	}
	if (sodium_memcmp(u.info.segment_id, pathid, 16) != 0) {
		srv_reply_error(q, 400, "bad_request",
		    "the path's segment id is not the segment's");
		goto out;
	}
	old = xcalloc(1, sizeof(*old));
	if (meta_segment_get(q->srv->meta, u.info.segment_id, old) == 0) {
		already_stored(&u, old);
		goto out;
	}
	if ((r = check_link(&u, &why)) < 0)
		goto fail;
	if (r > 0) {
		final(&u, OUT_REJECTED, why);
		u.q->a_outcome = "alert";
		srv_alert_notify(u.q, "upload", "a segment's link to the one "
		    "before it does not match");
		goto out;
	}
	u.day = keystore_day_of(u.info.start_wall_ns);
	if ((r = check_rules(&u, &why, &o)) < 0) {
		if (why == NULL)
			goto fail;
		final(&u, o, why);
		goto out;
	}
	if ((u.key = sodium_malloc(32)) == NULL) {
		srv_reply_error(q, 503, "internal", "out of locked memory");
		goto out;
	}
	r = keystore_ingest_unseal(q->srv->ks, u.info.subject_id, q->dev.pk, u.day,
	    u.info.recipient_pk, u.info.sealed_key, u.key);
	if (r == UT_ENOTFOUND || r == UT_ECRYPTO) {
		final(&u, OUT_REJECTED, "the segment is not sealed to this device's "
		    "ingest key for its day");
		goto out;
	}
	if (r < 0)
		goto fail;
	if ((r = read_all(&u, &summary, &sens)) < 0) {
		final(&u, OUT_REJECTED, r == -ERANGE ? "the segment holds records "
		    "of another UTC day (agents rotate at 00:00 UTC)" :
		    "the segment's frames do not decrypt");
		goto out;
	}
	if ((r = store(&u, summary, sens)) < 0)
		goto fail;
	if (r == 0)     /* issue 13: the replay's frame index (frameidx.c) */
		srv_fidx_ingest(q->srv, &u.info, u.day, u.img, u.len, u.key);
	goto out;
fail:
	log_error("serve: upload of %s failed: %s", q->a_object, ut_strerror(r));
	srv_reply_error(q, 500, "internal", "the segment could not be stored; retry");
out:
	if (summary != NULL) {
		sodium_memzero(summary, strlen(summary));
		free(summary);
	}
	free(old);
	sodium_free(u.key);
	sodium_memzero(u.info.sealed_key, sizeof(u.info.sealed_key));
	if (u.own_img) {
		sodium_memzero(u.img, u.len);
		free(u.img);
	}
}
