/*
 * queue.c - the background uploader's pure parts (upload.h): the queue of
 * waiting segments and the retry schedule.  No I/O, no clock, no locks:
 * the caller (uploader.c) holds its mutex around the queue and draws the
 * jitter.
 *
 * Invariants of a queue:
 *  (1) idx[0..n) is strictly ascending (sorted, no duplicates), so the
 *      oldest segment is idx[0] and a segment is queued at most once.
 *  (2) total_bytes is the sum of bytes[0..n).
 *  (3) n <= UPLOAD_QUEUE_MAX; a failed add leaves the queue unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/upload.h"
#include "usetrace/util.h"

uint64_t
upload_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t cap_ms,
    uint32_t rnd)
{
	uint64_t d, half;
	unsigned i;

	if (cap_ms == 0)
		cap_ms = 1;
	if (base_ms == 0)
		base_ms = 1;
	d = base_ms < cap_ms ? base_ms : cap_ms;
	for (i = 1; i < failures && d < cap_ms; i++)
		d = d > cap_ms / 2 ? cap_ms : d * 2;
	/* Jitter into [d/2, d]: retries of many devices spread out. */
	half = d / 2;
	d = half + (uint64_t)rnd % (d - half + 1);
	return d == 0 ? 1 : d;
}

void
upload_queue_init(struct upload_queue *q)
{
	memset(q, 0, sizeof(*q));
}

void
upload_queue_finish(struct upload_queue *q)
{
	if (q == NULL)
		return;
	free(q->idx);
	free(q->bytes);
	memset(q, 0, sizeof(*q));
}

/* Index of the first element >= idx. */
static size_t
lower_bound(const struct upload_queue *q, unsigned idx)
{
	size_t lo = 0, hi = q->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (q->idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
upload_queue_add(struct upload_queue *q, unsigned idx, uint64_t bytes)
{
	size_t at = lower_bound(q, idx);

	if (at < q->n && q->idx[at] == idx)
		return 0;
	if (q->n == UPLOAD_QUEUE_MAX)
		return UT_ETOOBIG;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;

		q->idx = xreallocarray(q->idx, cap, sizeof(*q->idx));
		q->bytes = xreallocarray(q->bytes, cap, sizeof(*q->bytes));
		q->cap = cap;
	}
	memmove(q->idx + at + 1, q->idx + at, (q->n - at) * sizeof(*q->idx));
	memmove(q->bytes + at + 1, q->bytes + at,
	    (q->n - at) * sizeof(*q->bytes));
	q->idx[at] = idx;
	q->bytes[at] = bytes;
	q->n++;
	q->total_bytes += bytes;
	return 0;
}

bool
upload_queue_remove(struct upload_queue *q, unsigned idx)
{
	size_t at = lower_bound(q, idx);

	if (at == q->n || q->idx[at] != idx)
		return false;
	q->total_bytes -= q->bytes[at];
	memmove(q->idx + at, q->idx + at + 1, (q->n - at - 1) * sizeof(*q->idx));
	memmove(q->bytes + at, q->bytes + at + 1,
	    (q->n - at - 1) * sizeof(*q->bytes));
	q->n--;
	return true;
}

bool
upload_queue_first(const struct upload_queue *q, unsigned *idx)
{
	if (q->n == 0)
		return false;
	*idx = q->idx[0];
	return true;
}

int
upload_queue_replace(struct upload_queue *q, const unsigned *segs,
    const uint64_t *bytes, size_t n)
{
	struct upload_queue nq;
	size_t i;
	int r;

	if (n > UPLOAD_QUEUE_MAX)
		return UT_ETOOBIG;
	upload_queue_init(&nq);
	for (i = 0; i < n; i++) {
		if ((r = upload_queue_add(&nq, segs[i], bytes[i])) < 0) {
			upload_queue_finish(&nq);
			return r;
		}
	}
	upload_queue_finish(q);
	*q = nq;
	return 0;
}
