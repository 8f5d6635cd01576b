/*
 * erase.c - cryptographic erasure and retention (P9).
 *
 * An erasure first records a tombstone (durable), then destroys the keys
 * (keystore_erase_day / _subject: a new subject key and a new master
 * generation, switched atomically), and only then deletes the ciphertext
 * and the rows.  The tombstone makes ingest discard later uploads of that
 * day, and srv_erase_reapply() finishes, at every start, any erasure a
 * crash interrupted and any tombstone a restored backup predates: a
 * restore reapplies tombstones before serving.
 *
 * Invariants:
 *  (1) Keys are destroyed before the response says "erased".
 *  (2) One shred at a time (shred_lock); the key store itself is atomic.
 *  (3) After a tombstone (subject, day) exists, no key of that day is ever
 *      created again (ingest refuses the day before asking for keys).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

struct del_ctx {
	struct server *s;
	int32_t day;            /* META_DAY_ALL: every day */
	int32_t before;         /* retention: days < before; INT32_MIN: unused */
	uint8_t (*ids)[16];
	uint8_t (*blobs)[32];
	size_t n, cap;
};

static int
collect(const struct meta_segment *m, void *arg)
{
	struct del_ctx *d = arg;

	if (d->before != INT32_MIN && m->day >= d->before)
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->ids = xreallocarray(d->ids, d->cap, sizeof(*d->ids));
		d->blobs = xreallocarray(d->blobs, d->cap, sizeof(*d->blobs));
	}
	memcpy(d->ids[d->n], m->segment_id, 16);
	memcpy(d->blobs[d->n], m->blob_hash, 32);
	d->n++;
	return 0;
}

/* Deletes the ciphertext and rows of the collected segments. */
static int
delete_segments(struct server *s, const uint8_t subject[16], int32_t day,
    int32_t before, unsigned *nsegs)
{
	struct del_ctx d;
	size_t i;
	int r;

	memset(&d, 0, sizeof(d));
	d.s = s;
	d.day = day;
	d.before = before;
	r = meta_segment_list(s->meta, subject, day, collect, &d);
	for (i = 0; r == 0 && i < d.n; i++) {
		int br = blob_delete(s->blobs, d.blobs[i]);

		if (br < 0 && br != UT_ENOTFOUND)
			r = br;
		else
			r = meta_segment_delete(s->meta, d.ids[i]);
		if (r == UT_ENOTFOUND)
			r = 0;
	}
	if (nsegs != NULL)
		*nsegs = (unsigned)d.n;
	free(d.ids);
	free(d.blobs);
	return r;
}

int
srv_erase_day(struct server *s, const uint8_t subject[16], int32_t day,
    unsigned *nsegs)
{
	int r;

	pthread_mutex_lock(&s->shred_lock);
	if ((r = meta_tombstone_add(s->meta, subject, day, ut_now_wall_ns())) < 0)
		goto out;
	r = keystore_erase_day(s->ks, subject, day);
	if (r == UT_ENOTFOUND)
		r = 0;      /* no key of that day: nothing to destroy */
	if (r < 0)
		goto out;
	r = delete_segments(s, subject, day, INT32_MIN, nsegs);
out:
	pthread_mutex_unlock(&s->shred_lock);
	return r;
}

int
srv_erase_subject(struct server *s, const uint8_t subject[16], unsigned *nsegs)
{
	int r;

	pthread_mutex_lock(&s->shred_lock);
	if ((r = meta_tombstone_add(s->meta, subject, META_DAY_ALL,
	    ut_now_wall_ns())) < 0)
		goto out;
	r = keystore_erase_subject(s->ks, subject);
	if (r == UT_ENOTFOUND)
		r = 0;
	if (r < 0)
		goto out;
	r = delete_segments(s, subject, META_DAY_ALL, INT32_MIN, nsegs);
out:
	pthread_mutex_unlock(&s->shred_lock);
	return r;
}

uint32_t
srv_retention_days(struct server *s, const uint8_t policy_hash[32])
{
	if (sodium_memcmp(policy_hash, s->default_policy_hash, 32) == 0 &&
	    s->default_retention_days > 0)
		return s->default_retention_days;
	return s->cfg.retention_days;
}

struct ret_subject {
	uint8_t subject[16];
	int32_t oldest;
	uint8_t policy[32];
};

struct ret_ctx {
	struct server *s;
	struct ret_subject *v;
	size_t n, cap;
};

static int
ret_day(const uint8_t subject[16], int32_t day, void *arg)
{
	struct ret_ctx *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (memcmp(c->v[i].subject, subject, 16) == 0) {
			if (day < c->v[i].oldest)
				c->v[i].oldest = day;
			return 0;
		}
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	memcpy(c->v[c->n].subject, subject, 16);
	c->v[c->n].oldest = day;
	c->n++;
	return 0;
}

static int
first_policy(const struct meta_segment *m, void *arg)
{
	memcpy(arg, m->policy_hash, 32);
	return 1;
}

/*
 * Retention: for each subject, every day older than the retention of the
 * policy its segments carry goes in one shred.  Returns the subjects
 * shredded, or an error.
 */
int
srv_retention_run(struct server *s, int64_t now_ns)
{
	struct ret_ctx c;
	int32_t today = keystore_day_of(now_ns), d, cutoff;
	size_t i;
	int r, done = 0;

	memset(&c, 0, sizeof(c));
	c.s = s;
	if ((r = meta_subject_days(s->meta, ret_day, &c)) < 0)
		goto out;
	for (i = 0; i < c.n; i++) {
		struct ret_subject *rs = &c.v[i];
		uint32_t keep;

		(void)meta_segment_list(s->meta, rs->subject, rs->oldest,
		    first_policy, rs->policy);
		keep = srv_retention_days(s, rs->policy);
		if (keep == 0)
			continue;
		cutoff = today - (int32_t)keep;
		if (rs->oldest >= cutoff)
			continue;
		pthread_mutex_lock(&s->shred_lock);
		for (d = rs->oldest; d < cutoff && r == 0; d++)
			r = meta_tombstone_add(s->meta, rs->subject, d, now_ns);
		if (r == 0)
			r = keystore_erase_days_before(s->ks, rs->subject, cutoff);
		if (r == UT_ENOTFOUND)
			r = 0;
		if (r == 0)
			r = delete_segments(s, rs->subject, META_DAY_ALL, cutoff, NULL);
		pthread_mutex_unlock(&s->shred_lock);
		if (r < 0)
			goto out;
		done++;
	}
	r = done;
out:
	free(c.v);
	return r;
}

struct tomb_ctx {
	struct server *s;
	int err;
	unsigned applied;
};

static bool
has_day(struct server *s, const uint8_t subject[16], int32_t day)
{
	int32_t *days = NULL;
	size_t n = 0, i;
	bool found = false;

	if (keystore_days(s->ks, subject, &days, &n) < 0)
		return false;
	for (i = 0; i < n && !found; i++)
		found = days[i] == day;
	free(days);
	return found;
}

static int
tomb_one(const uint8_t subject[16], int32_t day, int64_t when, void *arg)
{
	struct tomb_ctx *t = arg;
	int r = 0;

	(void)when;
	if (day == META_DAY_ALL) {
		if (keystore_subject_exists(t->s->ks, subject)) {
			r = keystore_erase_subject(t->s->ks, subject);
			t->applied++;
		}
		if (r == 0)
			r = delete_segments(t->s, subject, META_DAY_ALL, INT32_MIN, NULL);
	} else {
		if (has_day(t->s, subject, day)) {
			r = keystore_erase_day(t->s->ks, subject, day);
			t->applied++;
		}
		if (r == 0)
			r = delete_segments(t->s, subject, day, INT32_MIN, NULL);
	}
	if (r == UT_ENOTFOUND)
		r = 0;
	if (r < 0) {
		t->err = r;
		return 1;
	}
	return 0;
}

/*
 * At start, before serving: every tombstone's keys are destroyed and its
 * segments deleted (a crash mid-erasure, or a restored backup).
 */
int
srv_erase_reapply(struct server *s, unsigned *applied)
{
	struct tomb_ctx t = { s, 0, 0 };
	int r;

	pthread_mutex_lock(&s->shred_lock);
	r = meta_tombstone_list(s->meta, tomb_one, &t);
	pthread_mutex_unlock(&s->shred_lock);
	if (applied != NULL)
		*applied = t.applied;
	if (t.err < 0)
		return t.err;
	return r < 0 ? r : 0;
}
