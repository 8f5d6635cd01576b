/*
 * frames.c - change-driven screen frames, off the input path.
 *
 * A dedicated thread with its own X connection grabs the root window with
 * XShm when XDamage reports a change (at most every FRAME_MIN_GRAB_MS),
 * confirms the change with 64x64 tile hashes (XXH3), and keeps the two
 * newest completed grabs in memory, each with the X server time at which
 * it completed.  A grab is *stored* (encoded and handed to the main thread
 * as FRAME records) when:
 *   - an input event that can start an action (key or button press) asks
 *     for the newest grab completed strictly before its server time; that
 *     grab is always stored (never skipped), or
 *   - the screen keeps changing: at most `fps` grabs per second.
 * Only tiles that differ from the previously stored frame are encoded, as
 * WebP regions (lossy by default, lossless by policy); the first stored
 * frame of a run, and one every FRAME_KEY_EVERY stored frames, is a key
 * frame covering the whole screen.
 *
 * The indicator window (WM_CLASS usetrace-indicator), windows of denied
 * applications and titles, and their popups are blacked out of every grab
 * before hashing (frames__blackout_rects()), so they never appear in stored frames.
 * So are the windows on the capture_masks board (a secret was typed into
 * them, PRIV-P4-3) - only the box around the secrets' text where AT-SPI
 * can say where it is (mask_set): each grab notes the board's generation it honoured and
 * the active window with its top-level rectangle, and every FRAME record
 * of the grab carries them, so the privacy filter can black out frames it
 * holds or that were grabbed before a window joined the board.
 *
 * The work is split by seam: this file runs the thread, its requests and
 * output queue; frames_grab.c grabs and hashes; frames_blackout.c finds
 * what to black out (and keeps the window cache); frames_encode.c turns a
 * grab into FRAME records.  Their shared state is frames_int.h.
 *
 * Threads: the main (capture) thread calls frames_request() and
 * frames_drain(); everything else runs in the frame thread.  f->mu guards
 * the request list, the output queue and the stop flag; eventfds wake each
 * side.  The frame thread never calls into the sink.
 *
 * Invariants:
 *  (1) stored_hash holds the tile hashes of the last stored frame; a delta
 *      frame encodes exactly the tiles whose hash differs from it.
 *  (2) bufs[LATEST] completed after bufs[PREV] (by server time).
 *  (3) FRAME records in the output queue own their frame data (event.h);
 *      frames_drain() hands it on with the record.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/XRes.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "frames_int.h"

/* Wrap-aware a < b for 32-bit server times. */
static int
xtime_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void
on_frames_io_exit(Display *d, void *arg)
{
	struct frames *f = arg;

	(void)d;
	atomic_store(&f->lost, 1);
}

static void
queue_out(struct frames *f, const struct ut_event *ev)
{
	uint64_t one = 1;

	pthread_mutex_lock(&f->mu);
	if (f->nout == FRAME_OUT_MAX) {
		pthread_mutex_unlock(&f->mu);
		event_dispose(ev);
		f->skipped++;
		return;
	}
	if (f->nout == f->capout) {
		f->capout = f->capout ? f->capout * 2 : 16;
		f->out = xreallocarray(f->out, f->capout, sizeof(*f->out));
	}
	f->out[f->nout++] = *ev;
	pthread_mutex_unlock(&f->mu);
	(void)!write(f->ready_fd, &one, sizeof(one));
}

/*
 * Stores grab g (frames_encode.c) and queues its FRAME records for the
 * capture thread; a stored frame restarts the count of skipped grabs.
 */
static void
store(struct frames *f, struct grab *g)
{
	struct ut_event *evs = NULL;
	size_t n = frames__store(f, g, &evs), i;

	for (i = 0; i < n; i++)
		queue_out(f, &evs[i]);
	if (n > 0)
		f->skipped = 0;
	free(evs);
}

/* The newest grab completed strictly before server time t, or NULL. */
static struct grab *
before(struct frames *f, uint32_t t)
{
	if (f->bufs[LATEST]->id != 0 && xtime_lt(f->bufs[LATEST]->done, t))
		return f->bufs[LATEST];
	if (f->bufs[PREV]->id != 0 && xtime_lt(f->bufs[PREV]->done, t))
		return f->bufs[PREV];
	return NULL;
}

static void
serve_requests(struct frames *f)
{
	uint32_t req[FRAME_REQ_MAX];
	struct grab *g;
	size_t n, i;

	pthread_mutex_lock(&f->mu);
	n = f->nreq;
	memcpy(req, f->req, n * sizeof(req[0]));
	f->nreq = 0;
	pthread_mutex_unlock(&f->mu);
	for (i = 0; i < n; i++) {
		g = before(f, req[i]);
		if (g != NULL && g->id != f->stored_grab)
			store(f, g);
	}
}

static int
setup(struct frames *f)
{
	int ev, er, i, maj, min;
	Bool pix;

	f->d = XOpenDisplay(f->dpyname);
	if (f->d == NULL)
		return UT_EX11;
	XSetIOErrorExitHandler(f->d, on_frames_io_exit, f);
	if (!XShmQueryVersion(f->d, &maj, &min, &pix) ||
	    !XDamageQueryExtension(f->d, &ev, &er))
		return UT_ENOEXT;
	f->damage_ev = ev;
	maj = 1;
	min = 1;
	XDamageQueryVersion(f->d, &maj, &min); /* the server wants it first */
	f->root = DefaultRootWindow(f->d);
	f->w = DisplayWidth(f->d, DefaultScreen(f->d));
	f->h = DisplayHeight(f->d, DefaultScreen(f->d));
	f->tx = (f->w + TILE - 1) / TILE;
	f->ty = (f->h + TILE - 1) / TILE;
	for (i = 0; i < NBUF; i++) {
		f->bufs[i] = xcalloc(1, sizeof(struct grab));
		if ((er = frames__grab_alloc(f, f->bufs[i])) < 0)
			return er;
	}
	f->stored_hash = xcalloc((size_t)f->tx * (size_t)f->ty, sizeof(uint64_t));
	f->probe = XCreateWindow(f->d, f->root, -10, -10, 1, 1, 0, 0, InputOnly,
	    CopyFromParent, 0, NULL);
	f->probe_atom = XInternAtom(f->d, "_USETRACE_FRAME_TIME", False);
	f->a_net_name = XInternAtom(f->d, "_NET_WM_NAME", False);
	f->a_utf8 = XInternAtom(f->d, "UTF8_STRING", False);
	f->a_pid = XInternAtom(f->d, "_NET_WM_PID", False);
	f->a_active = XInternAtom(f->d, "_NET_ACTIVE_WINDOW", False);
	f->ms = xcalloc(1, sizeof(*f->ms));
	{
		int xe, xr;

		f->have_xres = XResQueryExtension(f->d, &xe, &xr);
	}
	XSelectInput(f->d, f->probe, PropertyChangeMask);
	f->damage = XDamageCreate(f->d, f->root, XDamageReportNonEmpty);
	XSync(f->d, False);
	return 0;
}

static void *
frames_main(void *arg)
{
	struct frames *f = arg;
	struct pollfd p[2];
	XEvent e;
	uint64_t v, t;
	int timeout, stop, r;

	if ((r = setup(f)) < 0) {
		pthread_mutex_lock(&f->mu);
		f->failed = r;
		pthread_mutex_unlock(&f->mu);
		log_warn("frames: %s; no screen frames will be stored",
		    ut_strerror(r));
		return NULL;
	}
	f->dirty = 1;
	while (!atomic_load(&f->lost)) {
		while (!atomic_load(&f->lost) && XPending(f->d)) {
			XNextEvent(f->d, &e);
			if (e.type == f->damage_ev + XDamageNotify) {
				f->dirty = 1;
				XDamageSubtract(f->d, f->damage, None, None);
			}
		}
		if (atomic_load(&f->lost))
			break;
		t = frames__now_ms();
		if (f->dirty && t - f->last_grab_ms >= FRAME_MIN_GRAB_MS) {
			f->dirty = 0;
			frames__grab(f);
		}
		serve_requests(f);
		if (f->bufs[LATEST]->id != 0 && f->bufs[LATEST]->id != f->stored_grab &&
		    frames__now_ms() - f->last_store_ms >= 1000 / f->fps)
			store(f, f->bufs[LATEST]);
		else if (f->key_req != NULL && f->bufs[LATEST]->id != 0 &&
		    atomic_load(f->key_req))
			store(f, f->bufs[LATEST]); /* the owner wants a key frame */
		pthread_mutex_lock(&f->mu);
		stop = f->stop && f->nreq == 0;
		pthread_mutex_unlock(&f->mu);
		if (stop)
			break;
		timeout = f->dirty || (f->key_req != NULL && atomic_load(f->key_req)) ?
		    FRAME_MIN_GRAB_MS : 1000 / (int)f->fps;
		/* XSync (server_time) may have queued damage: no sleeping on it. */
		if (XEventsQueued(f->d, QueuedAlready) > 0)
			continue;
		p[0].fd = ConnectionNumber(f->d);
		p[1].fd = f->wake_fd;
		p[0].events = p[1].events = POLLIN;
		XFlush(f->d);
		if (poll(p, 2, timeout) > 0 && (p[1].revents & POLLIN))
			(void)!read(f->wake_fd, &v, sizeof(v));
		if (f->dirty == 0 && (p[1].revents & POLLIN)) {
			/* A request: take a fresh grab if something changed. */
			continue;
		}
	}
	return NULL;
}

int
frames_start(const char *dpyname, uint32_t fps, int lossless, uint32_t quality,
    atomic_int *key_req, const struct policy *policy,
    struct capture_masks *masks, struct frames **out)
{
	struct frames *f = xcalloc(1, sizeof(*f));

	f->masks = masks;
	f->policy = policy ? policy_copy(policy) : NULL;
	f->cache = xcalloc(CLIENT_CACHE, sizeof(*f->cache));
	f->key_req = key_req;
	f->dpyname = dpyname ? xstrdup(dpyname) : NULL;
	f->fps = fps ? fps : 1;
	f->lossless = lossless;
	f->quality = quality ? quality : 80;
	pthread_mutex_init(&f->mu, NULL);
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->wake_fd < 0 || f->ready_fd < 0 ||
	    pthread_create(&f->th, NULL, frames_main, f) != 0) {
		frames_destroy(f);
		return UT_ENOEXT;
	}
	f->started = 1;
	*out = f;
	return 0;
}

void
frames_request(struct frames *f, uint32_t xtime)
{
	uint64_t one = 1;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	if (f->nreq < FRAME_REQ_MAX)
		f->req[f->nreq++] = xtime;
	pthread_mutex_unlock(&f->mu);
	(void)!write(f->wake_fd, &one, sizeof(one));
}

int
frames_ready_fd(const struct frames *f)
{
	return f ? f->ready_fd : -1;
}

void
frames_drain(struct frames *f, void (*emit)(void *, struct ut_event *), void *arg)
{
	struct ut_event *q;
	size_t n, i;
	uint64_t v;

	if (f == NULL)
		return;
	(void)!read(f->ready_fd, &v, sizeof(v));
	pthread_mutex_lock(&f->mu);
	q = f->out;
	n = f->nout;
	f->out = NULL;
	f->nout = f->capout = 0;
	pthread_mutex_unlock(&f->mu);
	for (i = 0; i < n; i++)
		emit(arg, &q[i]); /* takes ownership of data */
	free(q);
}

void
frames_stop(struct frames *f)
{
	uint64_t one = 1;

	if (f == NULL || !f->started)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_mutex_unlock(&f->mu);
	(void)!write(f->wake_fd, &one, sizeof(one));
	pthread_join(f->th, NULL);
	f->started = 0;
}

void
frames_destroy(struct frames *f)
{
	size_t i;

	if (f == NULL)
		return;
	frames_stop(f);
	for (i = 0; i < NBUF; i++) {
		if (f->bufs[i] != NULL && f->d != NULL)
			frames__grab_free(f, f->bufs[i]);
		free(f->bufs[i]);
	}
	if (f->d != NULL) {
		if (!atomic_load(&f->lost))
			XCloseDisplay(f->d);
	}
	for (i = 0; i < f->nout; i++)
		event_dispose(&f->out[i]);
	free(f->out);
	free(f->stored_hash);
	if (f->ms != NULL)
		sodium_memzero(f->ms, sizeof(*f->ms)); /* secrets */
	free(f->ms);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	if (f->ready_fd >= 0)
		close(f->ready_fd);
	pthread_mutex_destroy(&f->mu);
	free(f->dpyname);
	policy_destroy(f->policy);
	if (f->cache != NULL)
		sodium_memzero(f->cache, CLIENT_CACHE * sizeof(*f->cache));
	free(f->cache);
	free(f);
}

void
frames_stats(const struct frames *f, struct capture_stats *st)
{
	if (f == NULL)
		return;
	st->grabs += f->attempts;
	st->grab_ns += f->grab_ns;
	st->encode_ns += f->encode_ns;
	st->blackout_ns += f->blackout_ns;
	st->frames_skipped += f->skipped_total;
}

