/*
 * uploader.c - the recorder's background uploader (upload.h): one thread
 * that sends the spool directory's closed segments, oldest first, and
 * retries transient failures after an exponential backoff with jitter.
 *
 * Invariants:
 *  (1) The mutex guards the queue, the status and the flags only; it is
 *      never held across a network request, a session call or file I/O,
 *      so upload_agent_notify() and upload_agent_status() (called from the
 *      recorder's loop) never wait for the network.
 *  (2) The queue is rebuilt from the directory (closed segments only,
 *      *.uts.open never) on start, on every notify and every rescan_ms:
 *      a restart resumes, and a segment deleted by someone else (`usetrace
 *      upload` by hand) simply leaves the queue.
 *  (3) A segment leaves the directory only through upload_segment() (a
 *      verified final receipt) or after the server said the person erased
 *      everything; never because of a failure or a full spool.
 *  (4) After any failure the next upload is preceded by the session call
 *      (keys, clock, consent) and waits upload_backoff_ms(failures).
 *  (5) Stop sets o.cancel (if any) before joining: the request in flight
 *      ends (-ECANCELED) within about a second, its segment stays (3), and
 *      a request cut by the stop is not counted as a failure.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/upload.h"
#include "usetrace/util.h"

struct upload_agent {
	struct upload_agent_opts o;
	char dir[4096];
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu: */
	bool stop, rescan;
	struct upload_queue q;
	struct upload_status st;
	uint64_t retry_at_mono;  /* no upload before this (after a failure) */
};

static uint64_t
mono_ms(void)
{
	return ut_now_mono_ns() / 1000000u;
}

/* Closed segments of dir with their sizes; no lock held (I/O). */
static int
scan(struct upload_agent *ua, unsigned **segs, uint64_t **bytes, size_t *n)
{
	char path[4200];
	struct stat sb;
	size_t i;
	int r;

	*bytes = NULL;
	if ((r = upload_list_segments(ua->dir, UPLOAD_QUEUE_MAX, segs, n)) < 0)
		return r;
	*bytes = xreallocarray(NULL, *n ? *n : 1, sizeof(**bytes));
	for (i = 0; i < *n; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08u.uts", ua->dir, (*segs)[i]);
		(*bytes)[i] = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	}
	return 0;
}

/* Rebuilds the queue from the directory (2).  Called and returns with mu held. */
static void
rescan_locked(struct upload_agent *ua)
{
	unsigned *segs = NULL;
	uint64_t *bytes = NULL;
	size_t n = 0;
	int r;

	ua->rescan = false;
	pthread_mutex_unlock(&ua->mu);
	r = scan(ua, &segs, &bytes, &n);
	pthread_mutex_lock(&ua->mu);
	if (r == 0)
		r = upload_queue_replace(&ua->q, segs, bytes, n);
	if (r < 0)
		log_warn("upload: cannot list %s: %s", ua->dir, ut_strerror(r));
	ua->st.waiting = ua->q.n;
	ua->st.waiting_bytes = ua->q.total_bytes;
	free(segs);
	free(bytes);
}

/* Waits on cv until mono ms `until` (0: rescan_ms), a notify or stop. */
static void
wait_locked(struct upload_agent *ua, uint64_t until)
{
	struct timespec ts;
	uint64_t now = mono_ms();

	if (until == 0 || until > now + ua->o.rescan_ms)
		until = now + ua->o.rescan_ms;
	if (until <= now || ua->stop || ua->rescan)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)((until - now) / 1000);
	ts.tv_nsec += (long)((until - now) % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&ua->cv, &ua->mu, &ts);
}

/* A failure (mu held): counted, said, and the next try pushed back (4). */
static void
failed_locked(struct upload_agent *ua, const char *what, const char *why)
{
	uint64_t d;

	ua->st.failures++;
	d = upload_backoff_ms(ua->st.failures, ua->o.backoff_base_ms,
	    ua->o.backoff_cap_ms, randombytes_random());
	ua->retry_at_mono = mono_ms() + d;
	ua->st.last_error_ns = ut_now_wall_ns();
	ua->st.next_try_ns = ua->st.last_error_ns + (int64_t)d * 1000000;
	snprintf(ua->st.last_error, sizeof(ua->st.last_error), "%s%s%s",
	    what, what[0] ? ": " : "", why);
	log_warn("upload: %s; next try in %.1f s", ua->st.last_error,
	    (double)d / 1000.0);
}

/* The person erased everything at the server: the waiting segments go. */
static void
purge(struct upload_agent *ua, const unsigned *segs, size_t n)
{
	char path[4200];
	size_t i, gone = 0;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08u.uts", ua->dir, segs[i]);
		if (unlink(path) == 0)
			gone++;
	}
	if (gone > 0) {
		(void)fsio_fsync_dir(ua->dir);
		log_info("upload: you erased everything at the server: %zu "
		    "segment%s deleted here without being sent", gone,
		    gone == 1 ? "" : "s");
		if (ua->o.on_deleted != NULL)
			ua->o.on_deleted(ua->o.on_deleted_arg);
	}
}

/* The session before an upload (4); mu not held.  0 or -1 (failed_locked'd). */
static int
session(struct upload_agent *ua)
{
	char err[256] = "";
	bool erased = false;
	unsigned *segs = NULL;
	size_t n = 0;
	int r;

	if (ua->o.session == NULL)
		return 0;
	r = ua->o.session(ua->o.session_arg, &erased, err, sizeof(err));
	if (r == 0 && erased) {
		pthread_mutex_lock(&ua->mu);
		n = ua->q.n;
		segs = xreallocarray(NULL, n ? n : 1, sizeof(*segs));
		memcpy(segs, ua->q.idx, n * sizeof(*segs));
		pthread_mutex_unlock(&ua->mu);
		purge(ua, segs, n);
		free(segs);
	}
	pthread_mutex_lock(&ua->mu);
	if (r < 0 && !ua->stop)
		failed_locked(ua, "", err[0] ? err : "the server cannot be reached");
	if (erased)
		ua->rescan = true;
	pthread_mutex_unlock(&ua->mu);
	return r < 0 ? -1 : 0;
}

/* One upload of segment idx; mu not held.  0, or -1 after a failure. */
static int
one(struct upload_agent *ua, unsigned idx)
{
	struct upload_result res;
	char name[32];
	int r;

	snprintf(name, sizeof(name), "seg-%08u.uts", idx);
	r = upload_segment(&ua->o.dev, ua->dir, idx, &res);
	if (r == 0) {
		if (res.outcome == UPLOAD_DISCARDED || res.outcome == UPLOAD_REJECTED)
			log_warn("upload: %s %s: %s", name,
			    upload_outcome_name(res.outcome), res.reason);
		else
			log_info("upload: %s %s", name,
			    upload_outcome_name(res.outcome));
		if (ua->o.on_deleted != NULL)
			ua->o.on_deleted(ua->o.on_deleted_arg);
	}
	pthread_mutex_lock(&ua->mu);
	if (r == 0 || r == UT_ENOTFOUND) {
		(void)upload_queue_remove(&ua->q, idx);
		ua->st.waiting = ua->q.n;
		ua->st.waiting_bytes = ua->q.total_bytes;
	}
	if (r == 0) {
		ua->st.uploaded++;
		ua->st.last_upload_ns = ut_now_wall_ns();
		ua->st.failures = 0;
		ua->st.next_try_ns = 0;
		ua->retry_at_mono = 0;
		if (res.outcome == UPLOAD_DISCARDED ||
		    res.outcome == UPLOAD_REJECTED) {
			ua->st.last_final_outcome = res.outcome;
			snprintf(ua->st.last_final_reason,
			    sizeof(ua->st.last_final_reason), "%s", res.reason);
			snprintf(ua->st.last_final_segment,
			    sizeof(ua->st.last_final_segment), "%s", name);
			ua->st.last_final_ns = ua->st.last_upload_ns;
		}
	} else if (r != UT_ENOTFOUND && !ua->stop) {
		failed_locked(ua, name, res.error);
	}
	pthread_mutex_unlock(&ua->mu);
	return r == 0 || r == UT_ENOTFOUND ? 0 : -1;
}

static void *
run(void *arg)
{
	struct upload_agent *ua = arg;
	bool need_session = true;
	uint64_t next_scan;
	unsigned idx;

	pthread_mutex_lock(&ua->mu);
	rescan_locked(ua);
	next_scan = mono_ms() + ua->o.rescan_ms;
	while (!ua->stop) {
		if (ua->rescan || mono_ms() >= next_scan) {
			rescan_locked(ua);
			next_scan = mono_ms() + ua->o.rescan_ms;
			continue;
		}
		if (ua->retry_at_mono > mono_ms()) {
			wait_locked(ua, ua->retry_at_mono < next_scan ?
			    ua->retry_at_mono : next_scan);
			continue;
		}
		if (!upload_queue_first(&ua->q, &idx)) {
			wait_locked(ua, next_scan);
			continue;
		}
		pthread_mutex_unlock(&ua->mu);
		if (need_session)
			need_session = session(ua) < 0;
		if (!need_session)
			need_session = one(ua, idx) < 0;
		pthread_mutex_lock(&ua->mu);
	}
	pthread_mutex_unlock(&ua->mu);
	return NULL;
}

int
upload_agent_start(const struct upload_agent_opts *o, struct upload_agent **out)
{
	struct upload_agent *ua;
	pthread_condattr_t ca;
	int r;

	if (o == NULL || o->dir == NULL || o->dev.c == NULL ||
	    o->dev.device_pk == NULL || o->dev.receipt_pk == NULL ||
	    o->dev.audit_pk == NULL || o->dev.home == NULL ||
	    strlen(o->dir) >= sizeof(ua->dir))
		return UT_EINVAL;
	ua = calloc(1, sizeof(*ua));
	if (ua == NULL)
		return -ENOMEM;
	ua->o = *o;
	if (ua->o.backoff_base_ms == 0)
		ua->o.backoff_base_ms = 1000;
	if (ua->o.backoff_cap_ms == 0)
		ua->o.backoff_cap_ms = 300000;
	if (ua->o.rescan_ms == 0)
		ua->o.rescan_ms = 5000;
	snprintf(ua->dir, sizeof(ua->dir), "%s", o->dir);
	upload_queue_init(&ua->q);
	pthread_mutex_init(&ua->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ua->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = pthread_create(&ua->th, NULL, run, ua)) != 0) {
		pthread_cond_destroy(&ua->cv);
		pthread_mutex_destroy(&ua->mu);
		free(ua);
		return -r;
	}
	ua->started = true;
	*out = ua;
	return 0;
}

void
upload_agent_notify(struct upload_agent *ua)
{
	if (ua == NULL)
		return;
	pthread_mutex_lock(&ua->mu);
	ua->rescan = true;
	pthread_cond_signal(&ua->cv);
	pthread_mutex_unlock(&ua->mu);
}

void
upload_agent_status(struct upload_agent *ua, struct upload_status *st)
{
	if (ua == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	pthread_mutex_lock(&ua->mu);
	*st = ua->st;
	pthread_mutex_unlock(&ua->mu);
}

void
upload_agent_stop(struct upload_agent *ua)
{
	if (ua == NULL)
		return;
	pthread_mutex_lock(&ua->mu);
	ua->stop = true;
	if (ua->o.cancel != NULL)
		atomic_store(ua->o.cancel, 1);
	pthread_cond_signal(&ua->cv);
	pthread_mutex_unlock(&ua->mu);
	if (ua->started)
		pthread_join(ua->th, NULL);
	upload_queue_finish(&ua->q);
	pthread_cond_destroy(&ua->cv);
	pthread_mutex_destroy(&ua->mu);
	free(ua);
}

/*
 * s as a JSON string for a terminal: control characters dropped (a
 * server's message must not move the cursor), escaping by jansson.
 */
static json_t *
text(const char *s)
{
	char out[600];
	size_t k = 0;

	for (; *s && k + 1 < sizeof(out); s++) {
		if ((unsigned char)*s >= 0x20)
			out[k++] = *s;
	}
	out[k] = '\0';
	return control_json_str(out);
}

json_t *
upload_status_json(const struct upload_status *st)
{
	json_t *final = NULL;

	if (st->last_final_outcome != 0)
		final = json_pack("{s:s, s:o, s:o, s:I}", "outcome",
		    upload_outcome_name(st->last_final_outcome), "reason",
		    text(st->last_final_reason), "segment",
		    text(st->last_final_segment), "at_ns",
		    (json_int_t)st->last_final_ns);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o}",
	    "segments", (json_int_t)st->waiting,
	    "bytes", (json_int_t)st->waiting_bytes,
	    "uploaded", (json_int_t)st->uploaded,
	    "last_upload_ns", (json_int_t)st->last_upload_ns,
	    "failures", (json_int_t)st->failures,
	    "last_error", st->last_error[0] ? text(st->last_error) : json_null(),
	    "last_error_ns", (json_int_t)st->last_error_ns,
	    "next_try_ns", (json_int_t)st->next_try_ns,
	    "last_final", final != NULL ? final : json_null());
}
