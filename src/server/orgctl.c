/*
 * orgctl.c - the control state every device long-polls (issue 15):
 * state_version, the organisation-wide pause and the current policy.
 * The rows live in the metadata store (meta.h "organisation control");
 * struct srv_ctl caches what every control request reads.
 *
 * Invariants:
 *  (1) state_version is one server-wide counter, persisted (setting
 *      "state_version") before the new value is visible, so it never goes
 *      back across restarts; every change a device must act on bumps it:
 *      a pause, a resume, a pause's expiry, a policy publish, a subject's
 *      withdrawal or erasure of everything, a device or principal
 *      revocation.  A device only compares it for equality.
 *  (2) Every bump wakes every parked long poll (http_server_wake, O(parked))
 *      after the new version is in the cache, so a woken poll sees it.
 *  (3) A pause past its until_ns is ended lazily by whoever reads the state
 *      first (srv_ctl_get), which bumps; parked polls are parked no longer
 *      than the pause's until_ns (api_control.c), so the expiry reaches
 *      them without any other timer.
 *  (4) mu guards the cache; the store is never called with mu held except
 *      for the version's own write (one at a time, in order).
 *  (5) Acks are queued (ack_mu) and written by the flusher thread every
 *      SRV_ACK_FLUSH_MS in one transaction, or at once when the queue is
 *      full, counted (srv_ctl_ack_flush) or the server stops; an ack lost
 *      in a crash before its flush is still in the audit log.
 *  (6) ack_flushing counts batches taken off the queue but not yet written;
 *      srv_ctl_ack_flush() returns only when it is 0, so an ack queued
 *      before the call is in the store when the call returns, even when the
 *      flusher had just taken it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

#define VERSION_KEY "state_version"
#define ACKS_MAX 65536u

/* Writes the queue; ack_mu held on entry and exit (dropped meanwhile). */
static int
flush_locked(struct server *s)
{
	struct srv_ctl *c = &s->ctl;
	struct meta_ack *batch;
	size_t n;
	int r;

	if (c->nacks == 0)
		return 0;
	batch = c->acks;
	n = c->nacks;
	c->acks = xcalloc(c->acks_cap, sizeof(*c->acks));
	c->nacks = 0;
	c->ack_flushing++;
	pthread_mutex_unlock(&c->ack_mu);
	r = meta_ack_put(s->meta, batch, n);
	if (r < 0)
		log_error("serve: cannot store %zu device acks: %s", n, ut_strerror(r));
	free(batch);
	pthread_mutex_lock(&c->ack_mu);
	if (--c->ack_flushing == 0)
		pthread_cond_broadcast(&c->ack_idle_cv);
	return r;
}

static void *
flusher_main(void *arg)
{
	struct server *s = arg;
	struct srv_ctl *c = &s->ctl;
	struct timespec ts;

	pthread_mutex_lock(&c->ack_mu);
	while (!c->ack_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += SRV_ACK_FLUSH_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&c->ack_cv, &c->ack_mu, &ts);
		(void)flush_locked(s);
	}
	(void)flush_locked(s);
	pthread_mutex_unlock(&c->ack_mu);
	return NULL;
}

void
srv_ctl_ack(struct server *s, const struct meta_ack *a)
{
	struct srv_ctl *c = &s->ctl;

	pthread_mutex_lock(&c->ack_mu);
	if (c->nacks == c->acks_cap)
		(void)flush_locked(s);
	c->acks[c->nacks++] = *a;
	pthread_mutex_unlock(&c->ack_mu);
}

int
srv_ctl_ack_flush(struct server *s)
{
	int r;

	pthread_mutex_lock(&s->ctl.ack_mu);
	r = flush_locked(s);
	while (s->ctl.ack_flushing > 0) /* (6): a batch the flusher holds */
		pthread_cond_wait(&s->ctl.ack_idle_cv, &s->ctl.ack_mu);
	pthread_mutex_unlock(&s->ctl.ack_mu);
	return r;
}

int
srv_ctl_open(struct server *s)
{
	struct srv_ctl *c = &s->ctl;
	struct meta_policy p;
	uint8_t v[8];
	size_t n = sizeof(v);
	int r;

	pthread_condattr_t ca;

	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->ack_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->ack_cv, &ca);
	pthread_cond_init(&c->ack_idle_cv, NULL);
	pthread_condattr_destroy(&ca);
	c->acks_cap = ACKS_MAX;
	c->acks = xcalloc(c->acks_cap, sizeof(*c->acks));
	c->open = true;
	if (pthread_create(&c->flusher, NULL, flusher_main, s) == 0)
		c->flusher_started = true;
	r = meta_setting_get(s->meta, VERSION_KEY, v, &n);
	if (r == 0 && n == 8)
		c->version = get_u64le(v);
	else if (r == UT_ENOTFOUND)
		c->version = 1;
	else
		return r < 0 ? r : UT_ECORRUPT;
	r = meta_org_pause_last(s->meta, &c->pause);
	if (r == UT_ENOTFOUND)
		memset(&c->pause, 0, sizeof(c->pause));
	else if (r < 0)
		return r;
	r = meta_policy_get(s->meta, 0, &p);
	if (r == 0) {
		c->policy_version = p.version;
		memcpy(c->policy_sha, p.sha256, 32);
		meta_policy_clear(&p);
	} else if (r != UT_ENOTFOUND)
		return r;
	return 0;
}

void
srv_ctl_close(struct server *s)
{
	struct srv_ctl *c = &s->ctl;

	if (!c->open)
		return;
	if (c->flusher_started) {
		pthread_mutex_lock(&c->ack_mu);
		c->ack_stop = true;
		pthread_cond_signal(&c->ack_cv);
		pthread_mutex_unlock(&c->ack_mu);
		pthread_join(c->flusher, NULL);
	} else if (srv_ctl_ack_flush(s) < 0)
		log_error("serve: device acks not stored at stop");
	free(c->acks);
	c->acks = NULL;
	pthread_cond_destroy(&c->ack_cv);
	pthread_cond_destroy(&c->ack_idle_cv);
	pthread_mutex_destroy(&c->ack_mu);
	pthread_mutex_destroy(&c->mu);
	c->open = false;
}

int
srv_ctl_bump(struct server *s, const char *why)
{
	struct srv_ctl *c = &s->ctl;
	uint8_t v[8];
	uint64_t now;
	int r;

	pthread_mutex_lock(&c->mu);
	put_u64le(v, c->version + 1);
	r = meta_setting_set(s->meta, VERSION_KEY, v, sizeof(v));
	if (r == 0)
		c->version++;
	now = c->version;
	pthread_mutex_unlock(&c->mu);
	if (r < 0) {
		log_error("serve: cannot store the control state version (%s): %s",
		    why, ut_strerror(r));
		return r;
	}
	log_debug("serve: control state %llu: %s", (unsigned long long)now, why);
	http_server_wake(s->http);
	return 0;
}

/* Reloads the latest pause into the cache. */
static void
reload_pause(struct server *s)
{
	struct meta_org_pause p;

	if (meta_org_pause_last(s->meta, &p) < 0)
		return;
	pthread_mutex_lock(&s->ctl.mu);
	s->ctl.pause = p;
	pthread_mutex_unlock(&s->ctl.mu);
}

static bool
pause_in_force(const struct meta_org_pause *p, int64_t now_ns)
{
	return p->id != 0 && p->ended_ns == 0 && now_ns < p->until_ns;
}

void
srv_ctl_get(struct server *s, int64_t now_ns, struct srv_ctl_state *out)
{
	struct srv_ctl *c = &s->ctl;
	bool expired;

	pthread_mutex_lock(&c->mu);
	expired = c->pause.id != 0 && c->pause.ended_ns == 0 &&
	    now_ns >= c->pause.until_ns;
	pthread_mutex_unlock(&c->mu);
	/* Invariant (3). */
	if (expired && meta_org_pause_end(s->meta, now_ns, "expiry") > 0) {
		reload_pause(s);
		(void)srv_ctl_bump(s, "organisation pause expired");
	} else if (expired)
		reload_pause(s);
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->mu);
	out->version = c->version;
	out->paused = pause_in_force(&c->pause, now_ns);
	if (out->paused)
		out->pause = c->pause;
	out->policy_version = c->policy_version;
	memcpy(out->policy_sha, c->policy_sha, 32);
	pthread_mutex_unlock(&c->mu);
}

int
srv_ctl_pause(struct server *s, int64_t now_ns, int64_t until_ns,
    const char *who, struct meta_org_pause *out)
{
	int r;

	if ((r = meta_org_pause_start(s->meta, now_ns, until_ns, who, out)) < 0)
		return r;
	reload_pause(s);
	return srv_ctl_bump(s, "organisation pause");
}

int
srv_ctl_resume(struct server *s, int64_t now_ns, const char *who)
{
	int r;

	if ((r = meta_org_pause_end(s->meta, now_ns, who)) < 0)
		return r;
	reload_pause(s);
	if (r == 0)
		return 0;
	if ((r = srv_ctl_bump(s, "organisation resume")) < 0)
		return r;
	return 1;
}

int
srv_ctl_policy(struct server *s, int64_t version, const uint8_t sha[32])
{
	pthread_mutex_lock(&s->ctl.mu);
	if (version > s->ctl.policy_version) {
		s->ctl.policy_version = version;
		memcpy(s->ctl.policy_sha, sha, 32);
	}
	pthread_mutex_unlock(&s->ctl.mu);
	return srv_ctl_bump(s, "policy published");
}

int
srv_ctl_paused_segment(struct server *s, int64_t start_ns, int64_t end_ns,
    int64_t *id)
{
	struct meta_org_pause p;
	int r;

	*id = 0;
	r = meta_org_pause_covering(s->meta, start_ns, end_ns, SRV_PAUSE_GRACE_NS, &p);
	if (r == UT_ENOTFOUND)
		return 0;
	if (r < 0) {
		log_error("serve: cannot read the organisation pauses: %s",
		    ut_strerror(r));
		return r;
	}
	*id = p.id;
	return 1;
}
