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
 * before hashing (blackout_rects()), so they never appear in stored frames.
 * So are the windows on the capture_masks board (a secret was typed into
 * them, PRIV-P4-3) - only the box around the secrets' text where AT-SPI
 * can say where it is (mask_set): each grab notes the board's generation it honoured and
 * the active window with its top-level rectangle, and every FRAME record
 * of the grab carries them, so the privacy filter can black out frames it
 * holds or that were grabbed before a window joined the board.
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
 *  (3) FRAME records in the output queue own their data (xmalloc'd).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/XRes.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <webp/encode.h>
#include <xxhash.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "capture_int.h"

#define TILE 64
#define FRAME_MIN_GRAB_MS 50
#define FRAME_KEY_EVERY 300
#define FRAME_REQ_MAX 256
#define FRAME_OUT_MAX 4096

enum { PREV = 0, LATEST = 1, SPARE = 2, NBUF = 3 };

struct grab {
	XImage *img;
	XShmSegmentInfo shm;
	uint64_t *hash;      /* per tile */
	uint32_t done;       /* server time the grab completed */
	uint64_t id;         /* grab number, 0: empty */
	uint32_t masks_gen;  /* capture_masks generation honoured */
	uint32_t fwin;       /* active window at the grab, 0: unknown */
	int fx, fy, fw, fh;  /* its top-level rectangle */
};

struct frames {
	pthread_t th;
	int started;
	char *dpyname;
	uint32_t fps, quality;
	int lossless;
	volatile int *key_req;   /* owner's request for a key frame */
	struct policy *policy;   /* own copy: denied windows */
	struct capture_masks *masks; /* shared: windows with typed secrets */
	struct mask_set *ms;         /* frame thread: the board at a grab */

	pthread_mutex_t mu;
	uint32_t req[FRAME_REQ_MAX];
	size_t nreq;
	int stop;
	int wake_fd, ready_fd;
	struct ut_event *out;
	size_t nout, capout;
	int failed;          /* thread could not run: UT_E* */

	/* Frame thread only. */
	Display *d;
	Window root, probe;
	Atom probe_atom, a_net_name, a_utf8, a_pid, a_active;
	uint64_t masks_checked_ms; /* last look for vanished masked windows */
	int have_xres;
	struct ccache *cache;    /* CLIENT_CACHE entries */
	unsigned cache_next;
	Damage damage;
	int damage_ev;
	int w, h, tx, ty;
	struct grab *bufs[NBUF]; /* pointers: XImage keeps &shm inside */
	uint64_t *stored_hash;
	uint64_t stored_grab;     /* grab id of the last stored frame */
	uint64_t grabs, next_id, stored, since_key, skipped;
	uint64_t last_store_ms, last_grab_ms;
	uint64_t grab_ns, encode_ns, attempts, skipped_total;
	uint64_t blackout_ns;     /* finding and blacking windows (in grab_ns) */
	int dirty;
	volatile int lost;
};

static uint64_t
now_ms(void)
{
	return ut_now_mono_ns() / 1000000ull;
}

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
	f->lost = 1;
}

static int
grab_alloc(struct frames *f, struct grab *g)
{
	Visual *vis = DefaultVisual(f->d, DefaultScreen(f->d));
	int depth = DefaultDepth(f->d, DefaultScreen(f->d));

	memset(g, 0, sizeof(*g));
	g->img = XShmCreateImage(f->d, vis, (unsigned)depth, ZPixmap, NULL,
	    &g->shm, (unsigned)f->w, (unsigned)f->h);
	if (g->img == NULL || g->img->bits_per_pixel != 32)
		return UT_ENOEXT;
	g->shm.shmid = shmget(IPC_PRIVATE, (size_t)g->img->bytes_per_line *
	    (size_t)g->img->height, IPC_CREAT | 0600);
	if (g->shm.shmid < 0)
		return -errno;
	g->shm.shmaddr = g->img->data = shmat(g->shm.shmid, NULL, 0);
	shmctl(g->shm.shmid, IPC_RMID, NULL); /* freed when detached */
	if (g->shm.shmaddr == (char *)-1) {
		g->img->data = NULL;
		return -errno;
	}
	g->shm.readOnly = False;
	if (!XShmAttach(f->d, &g->shm))
		return UT_ENOEXT;
	g->hash = xcalloc((size_t)f->tx * (size_t)f->ty, sizeof(uint64_t));
	return 0;
}

static void
grab_free(struct frames *f, struct grab *g)
{
	if (g->img != NULL) {
		if (g->img->data != NULL) {
			if (!f->lost)
				XShmDetach(f->d, &g->shm);
			shmdt(g->shm.shmaddr);
			g->img->data = NULL;
		}
		XDestroyImage(g->img);
	}
	free(g->hash);
	memset(g, 0, sizeof(*g));
}

/* Blacks out a rectangle of the grab (clipped to the screen). */
static void
black_rect(struct frames *f, struct grab *g, int x, int y, int w, int h)
{
	int r;

	if (x < 0) {
		w += x;
		x = 0;
	}
	if (y < 0) {
		h += y;
		y = 0;
	}
	if (x + w > f->w)
		w = f->w - x;
	if (y + h > f->h)
		h = f->h - y;
	if (w <= 0 || h <= 0)
		return;
	for (r = y; r < y + h; r++)
		memset(g->img->data + (size_t)r * (size_t)g->img->bytes_per_line +
		    (size_t)x * 4, 0, (size_t)w * 4);
}

struct winfo {
	char cls[128], inst[128], title[512];
	unsigned long pid;
	Window client, transient_for;
};

struct ccache {
	Window top;
	uint64_t ms;
	int has;
	struct winfo wi;
};

static unsigned long
card_prop(struct frames *f, Window w, Atom prop, Atom type)
{
	Atom at;
	int fmt;
	unsigned long n, after, v = 0;
	unsigned char *d = NULL;

	if (XGetWindowProperty(f->d, w, prop, 0, 1, False, type, &at, &fmt, &n,
	    &after, &d) == Success && d != NULL) {
		if (fmt == 32 && n == 1)
			v = ((unsigned long *)(void *)d)[0];
		XFree(d);
	}
	return v;
}

/* WM_CLASS, title, pid of w or its first descendant with WM_CLASS. */
static int
client_info(struct frames *f, Window w, struct winfo *wi, int depth)
{
	XClassHint ch = { NULL, NULL };
	Window rr, pp, *kids = NULL;
	unsigned n, i;
	char *name = NULL;
	Atom at;
	int fmt, found = 0;
	unsigned long nn, after;
	unsigned char *d = NULL;

	if (XGetClassHint(f->d, w, &ch)) {
		snprintf(wi->cls, sizeof(wi->cls), "%s", ch.res_class ? ch.res_class : "");
		snprintf(wi->inst, sizeof(wi->inst), "%s", ch.res_name ? ch.res_name : "");
		XFree(ch.res_class);
		XFree(ch.res_name);
		wi->client = w;
		if (XGetWindowProperty(f->d, w, f->a_net_name, 0, 256, False,
		    f->a_utf8, &at, &fmt, &nn, &after, &d) == Success && d != NULL) {
			snprintf(wi->title, sizeof(wi->title), "%s", (char *)d);
			XFree(d);
		} else if (XFetchName(f->d, w, &name) && name != NULL) {
			snprintf(wi->title, sizeof(wi->title), "%s", name);
			XFree(name);
		}
		wi->pid = card_prop(f, w, f->a_pid, XA_CARDINAL);
		wi->transient_for = card_prop(f, w, XA_WM_TRANSIENT_FOR, XA_WINDOW);
		return 1;
	}
	if (depth >= 2 || !XQueryTree(f->d, w, &rr, &pp, &kids, &n))
		return 0;
	for (i = 0; i < n && !found; i++)
		found = client_info(f, kids[i], wi, depth + 1);
	if (kids != NULL)
		XFree(kids);
	return found;
}

#define BLACKOUT_MAX 256
#define CLIENT_CACHE 256
#define CLIENT_CACHE_MS 2000

/*
 * Attributes and geometry of every top-level window, pipelined through
 * xcb: one round trip's latency instead of two per window.
 */
static void
top_attributes(struct frames *f, const Window *kids, unsigned n,
    XWindowAttributes *wa)
{
	xcb_connection_t *xc = XGetXCBConnection(f->d);
	xcb_get_window_attributes_cookie_t *ca = xcalloc(n, sizeof(*ca));
	xcb_get_geometry_cookie_t *cg = xcalloc(n, sizeof(*cg));
	xcb_get_window_attributes_reply_t *ra;
	xcb_get_geometry_reply_t *rg;
	unsigned i;

	for (i = 0; i < n; i++) {
		ca[i] = xcb_get_window_attributes(xc, (xcb_window_t)kids[i]);
		cg[i] = xcb_get_geometry(xc, (xcb_window_t)kids[i]);
	}
	for (i = 0; i < n; i++) {
		ra = xcb_get_window_attributes_reply(xc, ca[i], NULL);
		rg = xcb_get_geometry_reply(xc, cg[i], NULL);
		if (ra != NULL && rg != NULL) {
			wa[i].map_state = ra->map_state;
			wa[i].class = ra->_class;
			wa[i].x = rg->x;
			wa[i].y = rg->y;
			wa[i].width = rg->width;
			wa[i].height = rg->height;
			wa[i].border_width = rg->border_width;
		}
		free(ra);
		free(rg);
	}
	free(ca);
	free(cg);
}

/*
 * client_info() through a small cache keyed by top-level window: class,
 * pid and transient-for are kept for CLIENT_CACHE_MS; the title is read
 * again every time when the policy denies titles (a title can turn a
 * window denied at any moment).
 */
static int
client_cached(struct frames *f, Window top, struct winfo *wi)
{
	struct ccache *e = NULL;
	uint64_t now = now_ms();
	char *name = NULL;
	unsigned i;
	Atom at;
	int fmt;
	unsigned long nn, after;
	unsigned char *d = NULL;

	for (i = 0; i < CLIENT_CACHE; i++)
		if (f->cache[i].top == top && now - f->cache[i].ms < CLIENT_CACHE_MS) {
			e = &f->cache[i];
			break;
		}
	if (e == NULL) {
		e = &f->cache[f->cache_next++ % CLIENT_CACHE];
		memset(e, 0, sizeof(*e));
		e->top = top;
		e->ms = now;
		e->has = client_info(f, top, &e->wi, 0);
		*wi = e->wi;
		return e->has;
	}
	*wi = e->wi;
	if (e->has && f->policy != NULL && f->policy->deny_titles.n > 0) {
		wi->title[0] = '\0';
		if (XGetWindowProperty(f->d, wi->client, f->a_net_name, 0, 256, False,
		    f->a_utf8, &at, &fmt, &nn, &after, &d) == Success && d != NULL) {
			snprintf(wi->title, sizeof(wi->title), "%s", (char *)d);
			XFree(d);
		} else if (XFetchName(f->d, wi->client, &name) && name != NULL) {
			snprintf(wi->title, sizeof(wi->title), "%s", name);
			XFree(name);
		}
	}
	return e->has;
}

/*
 * PRIV-P4: the indicator, denied applications and windows with denied
 * titles - with their window-manager frame, and the popups, menus and
 * dialogs they own (same pid, or transient for them) - are black in the
 * grab before it is hashed or encoded.  A denied window's whole rectangle
 * is blacked even where another window covers it: black too much, never
 * too little.
 */
struct rect {
	int x, y, w, h;
};

/*
 * Finds the rectangles to black out now; returns how many (at most max).
 * Called before and after each grab, and both sets are blacked, so a
 * window mapped or unmapped around the grab is covered either way.
 */
/*
 * What a grab blacks out besides denied windows (capture_masks).  Where
 * the application shows its text through AT-SPI, only the box around a
 * window's secrets is black - every box found for that window in the last
 * HIST_MS, so a text that moved (typing, scrolling) while the screen still
 * shows it where it was stays covered; otherwise the whole window is.
 */
#define HIST_MAX 256
#define HIST_MS 1000
#define HIST_MARGIN 4

struct mask_hist {
	uint32_t win;
	struct rect r;
	uint64_t ms;
};

struct mask_set {
	struct capture_mask e[BLACKOUT_MAX];
	size_t n;
	uint32_t gen;
	int overflow;
	int seen[BLACKOUT_MAX];   /* viewable in the last blackout_rects() */
	Window active;            /* _NET_ACTIVE_WINDOW, None if unknown */
	struct rect active_rect;  /* its top-level, w 0 if not found */
	struct mask_hist hist[HIST_MAX]; /* ring: text boxes found */
	unsigned hist_next;
	int phase;                /* 0: before the grab, 1: after */
	struct cap_rect pre[BLACKOUT_MAX]; /* box found before the grab */
	int pre_ok[BLACKOUT_MAX];
};

static int hist_add(struct mask_set *ms, uint32_t win, const struct cap_rect *b);

/* Does the window's title (read now) hold one of m's secrets? */
static int
title_shows(struct frames *f, Window client, const struct capture_mask *m)
{
	Atom at;
	int fmt, hit = 0;
	unsigned long nn, after;
	unsigned char *d = NULL;
	size_t i, len;

	if (XGetWindowProperty(f->d, client, f->a_net_name, 0, 256, False,
	    f->a_utf8, &at, &fmt, &nn, &after, &d) != Success || d == NULL) {
		if (XFetchName(f->d, client, (char **)&d) == 0 || d == NULL)
			return 0;
	}
	len = strlen((char *)d);
	for (i = 0; i < m->ntexts && !hit; i++)
		hit = memmem(d, len, m->text[i], m->len[i]) != NULL;
	sodium_memzero(d, len);
	XFree(d);
	return hit;
}

/*
 * PRIV-P4-3: may window i, masked by entry j, be blacked at its secrets'
 * text box only?  Only when AT-SPI found every secret, the box lies in the
 * window, no secret is in its title, and (after the grab) the box is the
 * one found before it: any movement during the grab blacks the window.
 */
static int
box_only(struct frames *f, struct mask_set *ms, size_t j, Window client,
    unsigned long pid, const XWindowAttributes *wa)
{
	struct cap_rect b;
	struct rect w;
	int ok;

	w.x = wa->x;
	w.y = wa->y;
	w.w = wa->width + 2 * wa->border_width;
	w.h = wa->height + 2 * wa->border_width;
	if (ms->e[j].whole || ms->e[j].ntexts == 0 ||
	    cap__atspi_text_box((uint32_t)pid, &ms->e[j], w.x, w.y, w.w, w.h,
	    &b) <= 0)
		ok = 0;
	else
		ok = b.w > 0 && b.h > 0 && b.x >= w.x && b.y >= w.y &&
		    b.x + b.w <= w.x + w.w && b.y + b.h <= w.y + w.h &&
		    !title_shows(f, client, &ms->e[j]);
	if (ms->phase == 0) {
		ms->pre[j] = b;
		ms->pre_ok[j] = ok;
	} else if (ok) {
		ok = ms->pre_ok[j] && memcmp(&ms->pre[j], &b, sizeof(b)) == 0;
	}
	if (ok && hist_add(ms, ms->e[j].window, &b) < 0)
		ok = 0;
	return ok;
}

/*
 * Notes a text box of window win.  -1 when the ring would lose a box
 * younger than HIST_MS: the caller blacks the whole window instead.
 */
static int
hist_add(struct mask_set *ms, uint32_t win, const struct cap_rect *b)
{
	struct mask_hist *h = &ms->hist[ms->hist_next % HIST_MAX];
	uint64_t now = now_ms();

	if (h->win != 0 && now - h->ms < HIST_MS)
		return -1;
	h->win = win;
	h->r.x = b->x - HIST_MARGIN;
	h->r.y = b->y - HIST_MARGIN;
	h->r.w = b->w + 2 * HIST_MARGIN;
	h->r.h = b->h + 2 * HIST_MARGIN;
	h->ms = now;
	ms->hist_next++;
	return 0;
}

/*
 * Is a window on the board, not matched among the top-levels (no WM_CLASS
 * found for it, say), viewable anyway?  One pipelined round trip.
 */
static int
unseen_viewable(struct frames *f, const struct mask_set *ms)
{
	xcb_connection_t *xc = XGetXCBConnection(f->d);
	xcb_get_window_attributes_cookie_t ck[BLACKOUT_MAX];
	xcb_get_window_attributes_reply_t *ra;
	xcb_generic_error_t *e;
	size_t j;
	int any = 0;

	for (j = 0; j < ms->n; j++)
		if (!ms->seen[j] && ms->e[j].window != 0)
			ck[j] = xcb_get_window_attributes(xc, ms->e[j].window);
	for (j = 0; j < ms->n; j++) {
		if (ms->seen[j] || ms->e[j].window == 0)
			continue;
		e = NULL;
		ra = xcb_get_window_attributes_reply(xc, ck[j], &e);
		if (ra != NULL && ra->map_state == XCB_MAP_STATE_VIEWABLE)
			any = 1;
		free(ra);
		free(e);
	}
	return any;
}

static unsigned
blackout_rects(struct frames *f, struct rect *out, unsigned max,
    struct mask_set *ms)
{
	Window rr, pp, *kids = NULL;
	unsigned n, i, j, nd = 0;
	unsigned long dpid[BLACKOUT_MAX], dbase[BLACKOUT_MAX], mask = 0x1fffff;
	Window dwin[BLACKOUT_MAX];
	XResClient *cl = NULL;
	int ncl = 0;
	struct winfo *wi;
	XWindowAttributes *wa;
	int *deny, *mi;
	unsigned no = 0, h;
	uint64_t now = now_ms();
	int trunc = 0;

	for (j = 0; j < ms->n; j++)
		if (ms->e[j].window == 0)
			ms->overflow = 1;
	if (ms->overflow && max > 0) {
		/*
		 * More secret windows than we track, or a secret typed with
		 * no focused window known (window 0): all of the screen.
		 */
		out[no].x = out[no].y = 0;
		out[no].w = f->w;
		out[no].h = f->h;
		no++;
	}
	if (!XQueryTree(f->d, f->root, &rr, &pp, &kids, &n) || n == 0) {
		if (ms->n > 0 && no == 0 && max > 0) {
			/* Masked windows, and no way to find them. */
			out[0].x = out[0].y = 0;
			out[0].w = f->w;
			out[0].h = f->h;
			no = 1;
		}
		if (kids != NULL)
			XFree(kids);
		return no;
	}
	wi = xcalloc(n, sizeof(*wi));
	wa = xcalloc(n, sizeof(*wa));
	deny = xcalloc(n, sizeof(*deny));
	mi = xcalloc(n, sizeof(*mi));
	top_attributes(f, kids, n, wa);
	for (i = 0; i < n; i++) {
		if (wa[i].map_state != IsViewable || wa[i].class == InputOnly)
			continue;
		if (!client_cached(f, kids[i], &wi[i])) {
			wi[i].client = None;
			continue;
		}
		for (j = 0; j < ms->n; j++)
			if (wi[i].client == ms->e[j].window ||
			    kids[i] == ms->e[j].window) {
				/* PRIV-P4-3: a secret was typed into it. */
				deny[i] = 4;
				mi[i] = (int)j;
				ms->seen[j] = 1;
			}
		if (deny[i] == 4 && box_only(f, ms, (size_t)mi[i], wi[i].client,
		    wi[i].pid, &wa[i]))
			deny[i] = 5; /* only where its text shows them */
		if (ms->active != None && wi[i].client == ms->active) {
			ms->active_rect.x = wa[i].x;
			ms->active_rect.y = wa[i].y;
			ms->active_rect.w = wa[i].width + 2 * wa[i].border_width;
			ms->active_rect.h = wa[i].height + 2 * wa[i].border_width;
		}
		if ((deny[i] == 4 || deny[i] == 5) && nd < BLACKOUT_MAX) {
			/* Its popups (completions, menus) are blacked whole. */
			dpid[nd] = wi[i].pid;
			dbase[nd] = wi[i].client;
			dwin[nd++] = wi[i].client;
		}
		if (deny[i] == 4)
			continue;
		if (strcmp(wi[i].inst, "usetrace-indicator") == 0)
			deny[i] = 1;
		else if (policy_window_denied(f->policy, wi[i].cls, wi[i].inst,
		    wi[i].title))
			deny[i] = 2;
		if (deny[i] == 2 && nd < BLACKOUT_MAX) {
			dpid[nd] = wi[i].pid;
			dbase[nd] = wi[i].client;
			dwin[nd++] = wi[i].client;
		}
	}
	/* Which X client created each denied window (its resource base). */
	if (nd > 0 && f->have_xres && XResQueryClients(f->d, &ncl, &cl)) {
		for (j = 0; j < nd; j++) {
			int k;

			for (k = 0; k < ncl; k++)
				if ((dwin[j] & ~cl[k].resource_mask) == cl[k].resource_base) {
					mask = cl[k].resource_mask;
					break;
				}
			dbase[j] = dwin[j] & ~mask;
		}
		XFree(cl);
	} else {
		for (j = 0; j < nd; j++)
			dbase[j] = dwin[j] & ~mask;
	}
	/*
	 * Popups, menus and dialogs of denied applications: created by the
	 * same X client (menus often carry no WM_CLASS at all), same pid, or
	 * transient for a denied window.
	 */
	for (i = 0; i < n && nd > 0; i++) {
		if (deny[i] || wa[i].map_state != IsViewable)
			continue;
		for (j = 0; j < nd; j++)
			if ((kids[i] & ~mask) == dbase[j] ||
			    (wi[i].client != None && wi[i].pid != 0 && wi[i].pid == dpid[j]) ||
			    (wi[i].transient_for != None && wi[i].transient_for == dwin[j]))
				deny[i] = 3;
	}
	for (i = 0; i < n; i++)
		if (deny[i] && deny[i] != 5) {
			if (no == max) {
				trunc = 1;
				break;
			}
			out[no].x = wa[i].x;
			out[no].y = wa[i].y;
			out[no].w = wa[i].width + 2 * wa[i].border_width;
			out[no].h = wa[i].height + 2 * wa[i].border_width;
			no++;
		}
	for (i = 0; i < n && !trunc; i++) {
		if (deny[i] != 5)
			continue;
		for (h = 0; h < HIST_MAX; h++)
			if (ms->hist[h].win == ms->e[mi[i]].window &&
			    now - ms->hist[h].ms < HIST_MS) {
				if (no == max) {
					trunc = 1;
					break;
				}
				out[no++] = ms->hist[h].r;
			}
	}
	/* A masked window not matched above may still show (PRIV-P4-3). */
	if (!trunc && unseen_viewable(f, ms))
		trunc = 1;
	if (trunc) {
		/* Cannot black all it must: the whole screen. */
		out[0].x = out[0].y = 0;
		out[0].w = f->w;
		out[0].h = f->h;
		no = 1;
	}
	memset(wi, 0, n * sizeof(*wi)); /* titles */
	free(wi);
	free(wa);
	free(deny);
	free(mi);
	XFree(kids);
	return no;
}

static void
hash_tiles(struct frames *f, struct grab *g)
{
	XXH3_state_t *st = XXH3_createState();
	int tx, ty, row, y1, x0, w;

	for (ty = 0; ty < f->ty; ty++) {
		y1 = UT_MIN((ty + 1) * TILE, f->h);
		for (tx = 0; tx < f->tx; tx++) {
			x0 = tx * TILE;
			w = UT_MIN(TILE, f->w - x0);
			XXH3_64bits_reset(st);
			for (row = ty * TILE; row < y1; row++)
				XXH3_64bits_update(st, g->img->data +
				    (size_t)row * (size_t)g->img->bytes_per_line +
				    (size_t)x0 * 4, (size_t)w * 4);
			g->hash[ty * f->tx + tx] = XXH3_64bits_digest(st);
		}
	}
	XXH3_freeState(st);
}

/* Server time now, after every earlier request (one round trip). */
static uint32_t
server_time(struct frames *f)
{
	XEvent e;

	XChangeProperty(f->d, f->probe, f->probe_atom, XA_INTEGER, 8,
	    PropModeReplace, (const unsigned char *)"", 0);
	XSync(f->d, False); /* the event precedes the reply: it is queued now */
	if (!XCheckWindowEvent(f->d, f->probe, PropertyChangeMask, &e))
		return 0;
	return (uint32_t)e.xproperty.time;
}

/*
 * Masked windows that were not viewable in this grab may have been
 * destroyed: about once a second, ask; a window that no longer exists
 * leaves the board (its pixels cannot show again).  An unmapped one stays.
 */
static void
forget_vanished(struct frames *f, const struct mask_set *ms)
{
	xcb_connection_t *xc = XGetXCBConnection(f->d);
	xcb_get_window_attributes_reply_t *ra;
	xcb_generic_error_t *e;
	size_t j;

	if (ms->n == 0 || now_ms() - f->masks_checked_ms < 1000)
		return;
	f->masks_checked_ms = now_ms();
	for (j = 0; j < ms->n; j++) {
		if (ms->seen[j] || ms->e[j].window == 0)
			continue;
		e = NULL;
		ra = xcb_get_window_attributes_reply(xc,
		    xcb_get_window_attributes(xc, ms->e[j].window), &e);
		if (ra == NULL && e != NULL && e->error_code == XCB_WINDOW)
			capture_masks_remove(f->masks, ms->e[j].window);
		free(ra);
		free(e);
	}
}

/* Grabs into SPARE; if the screen changed, it becomes LATEST. */
static void
grab(struct frames *f)
{
	struct grab *g = f->bufs[SPARE], *t;
	uint64_t t0 = ut_now_mono_ns(), t1;
	struct rect rs[2 * BLACKOUT_MAX + 2];
	struct mask_set *ms = f->ms;
	size_t prev_n;
	unsigned nr, i;

	/* The board as it is before the grab: the generation it honours. */
	prev_n = ms->n;
	ms->n = capture_masks_get(f->masks, ms->e, BLACKOUT_MAX, &ms->gen,
	    &ms->overflow);
	if (ms->n < prev_n) /* secrets of windows that left the board */
		sodium_memzero(&ms->e[ms->n], (prev_n - ms->n) * sizeof(ms->e[0]));
	memset(ms->seen, 0, sizeof(ms->seen));
	ms->active = (Window)card_prop(f, f->root, f->a_active, XA_WINDOW);
	ms->active_rect.w = 0;
	ms->phase = 0;
	nr = blackout_rects(f, rs, BLACKOUT_MAX + 1, ms);
	f->blackout_ns += ut_now_mono_ns() - t0;
	if (!XShmGetImage(f->d, f->root, g->img, 0, 0, AllPlanes))
		return;
	g->done = server_time(f);
	f->last_grab_ms = now_ms();
	t1 = ut_now_mono_ns();
	ms->phase = 1;
	nr += blackout_rects(f, rs + nr, BLACKOUT_MAX + 1, ms);
	g->masks_gen = ms->gen;
	g->fwin = ms->active_rect.w > 0 ? (uint32_t)ms->active : 0;
	g->fx = ms->active_rect.x;
	g->fy = ms->active_rect.y;
	g->fw = ms->active_rect.w;
	g->fh = ms->active_rect.h;
	forget_vanished(f, ms);
	for (i = 0; i < nr; i++)
		black_rect(f, g, rs[i].x, rs[i].y, rs[i].w, rs[i].h);
	f->blackout_ns += ut_now_mono_ns() - t1;
	hash_tiles(f, g);
	f->grab_ns += ut_now_mono_ns() - t0;
	f->attempts++;
	if (f->bufs[LATEST]->id != 0 &&
	    memcmp(g->hash, f->bufs[LATEST]->hash,
	    sizeof(uint64_t) * (size_t)f->tx * (size_t)f->ty) == 0)
		return; /* damage, but no pixel changed */
	g->id = ++f->grabs;
	if (f->bufs[PREV]->id != 0 && f->bufs[PREV]->id > f->stored_grab) {
		f->skipped++; /* replaced without being stored */
		f->skipped_total++;
	}
	t = f->bufs[PREV];
	f->bufs[PREV] = f->bufs[LATEST];
	f->bufs[LATEST] = g;
	f->bufs[SPARE] = t;
	t->id = 0;
}

struct region {
	int x, y, w, h;
};

/* Changed tiles as rectangles: runs per tile row, merged down columns. */
static size_t
regions(struct frames *f, const struct grab *g, int key, struct region **out)
{
	struct region *r = NULL;
	size_t n = 0, cap = 0, i, open_from = 0, row_start;
	int tx, ty, x0;

	if (key) {
		r = xcalloc(1, sizeof(*r));
		r->w = f->w;
		r->h = f->h;
		*out = r;
		return 1;
	}
	for (ty = 0; ty < f->ty; ty++) {
		row_start = n;
		for (tx = 0; tx < f->tx; tx++) {
			if (g->hash[ty * f->tx + tx] == f->stored_hash[ty * f->tx + tx])
				continue;
			x0 = tx;
			while (tx + 1 < f->tx &&
			    g->hash[ty * f->tx + tx + 1] != f->stored_hash[ty * f->tx + tx + 1])
				tx++;
			/* Extend a rectangle of the row above with the same span. */
			for (i = open_from; i < row_start; i++) {
				if (r[i].x == x0 * TILE &&
				    r[i].w == UT_MIN((tx + 1) * TILE, f->w) - x0 * TILE &&
				    r[i].y + r[i].h == ty * TILE)
					break;
			}
			if (i < row_start) {
				r[i].h = UT_MIN((ty + 1) * TILE, f->h) - r[i].y;
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				r = xreallocarray(r, cap, sizeof(*r));
			}
			r[n].x = x0 * TILE;
			r[n].y = ty * TILE;
			r[n].w = UT_MIN((tx + 1) * TILE, f->w) - r[n].x;
			r[n].h = UT_MIN((ty + 1) * TILE, f->h) - r[n].y;
			n++;
		}
		/* Rectangles that did not grow this row are closed. */
		for (i = open_from; i < row_start; i++)
			if (r[i].y + r[i].h < (ty + 1) * TILE && r[i].y + r[i].h < f->h)
				open_from = i + 1;
	}
	*out = r;
	return n;
}

static int
encode(struct frames *f, const struct grab *g, const struct region *rg,
    struct ut_frame_data **out)
{
	WebPConfig cfg;
	WebPPicture pic;
	WebPMemoryWriter wr;
	const uint8_t *src = (const uint8_t *)g->img->data +
	    (size_t)rg->y * (size_t)g->img->bytes_per_line + (size_t)rg->x * 4;
	int ok;

	if (!WebPConfigInit(&cfg) || !WebPPictureInit(&pic))
		return UT_ENOEXT;
	if (f->lossless) {
		cfg.lossless = 1;
		cfg.method = 0;
		cfg.quality = 10;
	} else {
		cfg.quality = (float)f->quality;
		cfg.method = 2;
	}
	pic.use_argb = f->lossless;
	pic.width = rg->w;
	pic.height = rg->h;
	if (!WebPPictureImportBGRX(&pic, src, g->img->bytes_per_line))
		return UT_ENOEXT;
	WebPMemoryWriterInit(&wr);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &wr;
	ok = WebPEncode(&cfg, &pic);
	WebPPictureFree(&pic);
	if (!ok || wr.size > UT_FRAME_DATA_MAX) {
		if (wr.mem != NULL)
			sodium_memzero(wr.mem, wr.size);
		WebPMemoryWriterClear(&wr);
		return UT_ETOOBIG;
	}
	*out = ut_frame_data_new(wr.size);
	memcpy((*out)->bytes, wr.mem, wr.size);
	sodium_memzero(wr.mem, wr.size); /* recorded pixels */
	WebPMemoryWriterClear(&wr);
	return 0;
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

/* Encodes grab g as the next stored frame. */
static void
store(struct frames *f, struct grab *g)
{
	struct region *rg = NULL;
	struct ut_event ev;
	struct ut_frame_data *data;
	size_t n, i;
	int key = f->stored == 0 || f->since_key >= FRAME_KEY_EVERY ||
	    (f->key_req != NULL && __atomic_load_n(f->key_req, __ATOMIC_ACQUIRE));
	uint64_t t0 = ut_now_mono_ns();
	uint64_t id = ++f->next_id, base = key ? 0 : f->next_id - 1;

	n = regions(f, g, key, &rg);
	if (n == 0 || n > UINT16_MAX) { /* (n is 1 for a key frame) */
		free(rg);
		f->next_id--;
		f->stored_grab = g->id;
		return; /* identical to the stored frame */
	}
	for (i = 0; i < n; i++) {
		if (encode(f, g, &rg[i], &data) < 0) {
			log_warn("frames: a region could not be encoded");
			data = NULL;
		}
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_FRAME;
		ev.sensitivity = UT_SENS_CONTENT;
		ev.xtime = g->done;
		ev.u.frame.frame_id = id;
		ev.u.frame.base_id = base;
		ev.u.frame.w = (uint32_t)f->w;
		ev.u.frame.h = (uint32_t)f->h;
		ev.u.frame.xtime_done = g->done;
		ev.u.frame.rx = rg[i].x;
		ev.u.frame.ry = rg[i].y;
		ev.u.frame.rw = (uint32_t)rg[i].w;
		ev.u.frame.rh = (uint32_t)rg[i].h;
		ev.u.frame.part = (uint16_t)i;
		ev.u.frame.nparts = (uint16_t)n;
		ev.u.frame.format = f->lossless ? UT_FRAME_WEBP_LOSSLESS :
		    UT_FRAME_WEBP_LOSSY;
		ev.u.frame.skipped = (uint32_t)UT_MIN(f->skipped, UINT32_MAX);
		event_frame_attach(&ev, data);
		ev.u.frame.masks_gen = g->masks_gen;
		ev.u.frame.fwin = g->fwin;
		ev.u.frame.fx = g->fx;
		ev.u.frame.fy = g->fy;
		ev.u.frame.fw = (uint32_t)UT_MAX(g->fw, 0);
		ev.u.frame.fh = (uint32_t)UT_MAX(g->fh, 0);
		queue_out(f, &ev);
	}
	free(rg);
	f->encode_ns += ut_now_mono_ns() - t0;
	f->skipped = 0;
	memcpy(f->stored_hash, g->hash, sizeof(uint64_t) * (size_t)f->tx * (size_t)f->ty);
	f->stored_grab = g->id;
	f->stored++;
	f->since_key = key ? 1 : f->since_key + 1;
	if (key && f->key_req != NULL)
		__atomic_store_n(f->key_req, 0, __ATOMIC_RELEASE);
	f->last_store_ms = now_ms();
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
		if ((er = grab_alloc(f, f->bufs[i])) < 0)
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
	while (!f->lost) {
		while (!f->lost && XPending(f->d)) {
			XNextEvent(f->d, &e);
			if (e.type == f->damage_ev + XDamageNotify) {
				f->dirty = 1;
				XDamageSubtract(f->d, f->damage, None, None);
			}
		}
		if (f->lost)
			break;
		t = now_ms();
		if (f->dirty && t - f->last_grab_ms >= FRAME_MIN_GRAB_MS) {
			f->dirty = 0;
			grab(f);
		}
		serve_requests(f);
		if (f->bufs[LATEST]->id != 0 && f->bufs[LATEST]->id != f->stored_grab &&
		    now_ms() - f->last_store_ms >= 1000 / f->fps)
			store(f, f->bufs[LATEST]);
		else if (f->key_req != NULL && f->bufs[LATEST]->id != 0 &&
		    __atomic_load_n(f->key_req, __ATOMIC_ACQUIRE))
			store(f, f->bufs[LATEST]); /* the owner wants a key frame */
		pthread_mutex_lock(&f->mu);
		stop = f->stop && f->nreq == 0;
		pthread_mutex_unlock(&f->mu);
		if (stop)
			break;
		timeout = f->dirty || (f->key_req != NULL && *f->key_req) ?
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
    volatile int *key_req, const struct policy *policy,
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
			grab_free(f, f->bufs[i]);
		free(f->bufs[i]);
	}
	if (f->d != NULL) {
		if (!f->lost)
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
