/*
 * secure.c - secure input: keys typed into a password field or under a
 * keyboard grab of a secure prompt never leave capture (PRIV-P4-2).
 *
 * Every key record passes cap__secure_key() just before it is emitted.  If
 * the key goes to secure input, the KEY record is not emitted: a press
 * becomes a content-free REDACTED record (what "keys", why
 * "keyboard-grab", "secure-prompt" or "password-field", count 1, level 4),
 * and its release, whenever it comes, nothing.  The privacy filter merges
 * consecutive REDACTED records into one per run.  Deciding here, rather
 * than flagging records for the filter, means secure keys never exist in
 * any record at all.
 *
 * Three sources, any one of which makes a key secure:
 *
 *  (a) Keyboard grabs.  A connection of our own (so its event masks never
 *      clash with focus.c's) selects FocusChangeMask on the root and every
 *      top-level window, and SubstructureNotifyMask on the root to follow
 *      new top-levels.  FocusIn with mode NotifyGrab names the window that
 *      took a grab; if it is a secure prompt (WM_CLASS in prompt_classes[]:
 *      pinentry, gcr-prompter, polkit agents, ssh-askpass, screen lockers)
 *      or a full-screen override-redirect window (a locker), or the grab
 *      window is the root while such a window is mapped, input is secure
 *      until NotifyUngrab, a FocusIn with mode NotifyNormal (focus changes
 *      during a grab are reported as NotifyWhileGrabbed, so a Normal one
 *      proves the grab is over) or the grab window goes away.  RECORD
 *      still sees keys during a grab; they are dropped here.
 *  (b) A secure prompt is the focused window (it may have grabbed the
 *      keyboard while already focused, which produces no focus event).
 *  (c) AT-SPI: the focused accessible has the role password text and
 *      belongs to the process of the focused window.  A thread of its own
 *      runs libatspi's GLib main loop, listens to
 *      object:state-changed:focused and publishes the role, the process id
 *      and a generation counter (struct at_state).  After the focused
 *      window changed (or after Tab, which moves focus inside a window)
 *      the next key waits until AT-SPI reported a focus change or 200 ms
 *      passed, so the first keys typed into a new password field are not
 *      decided on stale state.  When the focused window's process is
 *      known, the first key after a focus change - a click too - does not
 *      rely on focus events (they come late, or never for a field focused
 *      before its bridge registered or we listened): it asks the AT-SPI
 *      thread for the role of that process's focused accessible (struct
 *      at_rq: the application by pid among the desktop's children, its
 *      focused accessible by Collection, else by a walk).  The answer
 *      decides; an application without a bridge answers "none" and the
 *      key goes on as before; no answer within SECURE_QUERY_NS makes the
 *      key, and every key after it until the answer comes, secure input
 *      (fail closed).  USETRACE_TEST_ATSPI_DELAY_MS (tests only) delays
 *      every focus event and question on the AT-SPI thread.
 *
 * Ordering: keys come on the RECORD connection, focus events on ours.
 * The X server queues a client's events in the order it generates them and
 * flushes every client's output before it waits again, so once a key's
 * RECORD data has reached us, every event generated before the key (a
 * FocusIn of a grab, a PropertyNotify of a focus change) is already in our
 * sockets: a non-blocking read (XEventsQueued QueuedAfterReading), no round
 * trip, brings it in, and we handle it before deciding on the key.  Events
 * generated after the key may be handled too; for a grab that only errs on
 * the safe side.  For the same reason the FOCUS records of window changes
 * the server made before the key (PropertyNotify time <= key time) are
 * emitted before it (focus_before_key), so the privacy filter judges each
 * key by the window that really had the focus.
 *
 * When there is no D-Bus session bus or no accessibility bus, (c) is off
 * and this is logged once; (a) and (b) work regardless.  Nothing here logs
 * or records key content, window titles or accessible names.
 *
 * The AT-SPI thread also answers the frame thread (PRIV-P4-3,
 * cap__atspi_text_box): where, on screen, the text of a window's process
 * shows the secrets typed into it.  The question is run on the AT-SPI
 * thread's main loop (libatspi is not thread-safe); the frame thread waits
 * at most 100 ms and otherwise blacks the whole window.  Document text read
 * for it is wiped; nothing of it is logged or kept.
 *
 * Invariants:
 *  (1) While secure, no KEY record is emitted (presses become REDACTED).
 *  (2) The release of a press that was not emitted is never emitted.
 *  (3) The AT-SPI thread only writes at_state; capture only reads it.
 *      at_recent[] and at_last are the AT-SPI thread's alone.
 *  (4) A text request is freed by exactly one side: the frame thread once
 *      it saw done, the AT-SPI thread when the frame thread abandoned it
 *      (both under req_mu).  A role question (struct at_rq) likewise:
 *      capture once it saw done, the AT-SPI thread when capture abandoned
 *      it (both under rq_mu).
 *  (5) While a role question is unanswered (s->rq), every key is secure.
 */
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <X11/Xutil.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "capture_int.h"

#if defined(__has_include)
#if __has_include(<atspi/atspi.h>)
#define HAVE_ATSPI 1
#endif
#endif

#ifdef HAVE_ATSPI
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <atspi/atspi.h>
#pragma GCC diagnostic pop
#endif

#define SECURE_HOLD_NS (200ull * 1000000ull)
#define SECURE_QUERY_NS (200ull * 1000000ull)	/* a key waits for its answer */
#define KS_TAB 0xff09u
#define KS_ISO_LEFT_TAB 0xfe20u

/* WM_CLASS (class or instance, case-insensitive) of secure prompts. */
static const char *const prompt_classes[] = {
	"pinentry*", "gcr-prompter*", "gnome-keyring-prompt*", "*polkit*",
	"*askpass*", "*screensaver*", "*screenlocker*", "*light-locker*",
	"i3lock*", "xsecurelock*", "slock", "xlock*", "xtrlock", "physlock",
};

/* Published by the AT-SPI thread (invariant 3). */
struct at_state {
	atomic_int live;		/* listening for focus events */
	atomic_int password;		/* focused accessible is a password field */
	atomic_uint pid;		/* its process, 0 unknown */
	atomic_ullong gen;		/* focus events seen */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* broadcast on every gen change */
};

static struct at_state at = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

/* A role question from capture to the AT-SPI thread (invariant 4). */
enum { AT_RQ_NOBRIDGE, AT_RQ_OTHER, AT_RQ_PASSWORD };
struct at_rq {
	unsigned pid;
	int result;		/* AT_RQ_* once done */
	int done, abandoned;
};
static pthread_mutex_t rq_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rq_cv = PTHREAD_COND_INITIALIZER;
static int at_test_delay_ms;	/* USETRACE_TEST_ATSPI_DELAY_MS */

struct cap_secure {
	Display *dpy;		/* our own connection */
	bool lost;		/* its IO failed: do not touch it again */
	Window root;
	int screen_w, screen_h;

	/* (a) keyboard grab */
	bool grab;
	Window grab_win;

	/* (b) focused secure prompt, cached per focus window */
	Window focus_win;
	bool focus_prompt;

	/* (c) AT-SPI hold after a focus change */
	Window at_win;		/* focused window last seen */
	uint64_t at_since;	/* when the hold started, 0: none */
	unsigned long long at_gen0;
	struct at_rq *rq;	/* the role question not yet answered */
	uint64_t rq_asked, rq_timeouts;

	uint8_t dropped[256];	/* keycode -> its press was not emitted */
	uint64_t replaced;
	/* What the AT-SPI hold cost (logged at the end; bench/). */
	uint64_t held_keys, held_ns, held_max_ns;
};

static void
on_sec_io_exit(Display *d, void *arg)
{
	struct cap_secure *s = arg;

	(void)d;
	s->lost = true;
}

static bool
class_is_prompt(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return false;
	for (i = 0; i < sizeof(prompt_classes) / sizeof(prompt_classes[0]); i++)
		if (fnmatch(prompt_classes[i], s, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

/* w or one of its descendants (a WM frame's client) is a secure prompt. */
static bool
window_is_prompt(struct cap_secure *s, Window w, int depth)
{
	XClassHint ch = { NULL, NULL };
	Window rootw, parent, *kids = NULL;
	unsigned int nk, i;
	bool yes = false;

	if (w == None || w == PointerRoot)
		return false;
	if (XGetClassHint(s->dpy, w, &ch)) {
		yes = class_is_prompt(ch.res_class) || class_is_prompt(ch.res_name);
		XFree(ch.res_class);
		XFree(ch.res_name);
		return yes;
	}
	if (depth <= 0 || !XQueryTree(s->dpy, w, &rootw, &parent, &kids, &nk))
		return false;
	for (i = 0; i < nk && !yes; i++)
		yes = window_is_prompt(s, kids[i], depth - 1);
	if (kids != NULL)
		XFree(kids);
	return yes;
}

/* A mapped override-redirect window covering the whole screen (a locker). */
static bool
window_is_locker(struct cap_secure *s, Window w)
{
	XWindowAttributes wa;

	if (!XGetWindowAttributes(s->dpy, w, &wa))
		return false;
	return wa.override_redirect && wa.map_state == IsViewable &&
	    wa.x <= 0 && wa.y <= 0 && wa.x + wa.width >= s->screen_w &&
	    wa.y + wa.height >= s->screen_h;
}

static bool
any_locker(struct cap_secure *s)
{
	Window rootw, parent, *kids = NULL;
	unsigned int nk, i;
	bool yes = false;

	if (!XQueryTree(s->dpy, s->root, &rootw, &parent, &kids, &nk))
		return false;
	for (i = nk; i-- > 0 && !yes;) /* top of the stack first */
		yes = window_is_locker(s, kids[i]);
	if (kids != NULL)
		XFree(kids);
	return yes;
}

static void
grab_began(struct cap_secure *s, Window w)
{
	bool secure;

	if (w == s->root)
		secure = any_locker(s);
	else
		secure = window_is_prompt(s, w, 3) || window_is_locker(s, w);
	s->grab = secure;
	s->grab_win = secure ? w : None;
}

/* (c): the next key waits for an AT-SPI focus event (or the hold time). */
static void
at_hold(struct cap_secure *s)
{
	if (!atomic_load(&at.live))
		return;
	s->at_since = ut_now_mono_ns();
	s->at_gen0 = atomic_load(&at.gen);
}

static void
handle_event(struct cap_secure *s, XEvent *e)
{
	switch (e->type) {
	case CreateNotify:
		if (e->xcreatewindow.parent == s->root)
			XSelectInput(s->dpy, e->xcreatewindow.window, FocusChangeMask);
		break;
	case DestroyNotify:
		/* An unviewable grab window releases the grab. */
		if (e->xdestroywindow.window == s->grab_win)
			s->grab = false;
		break;
	case UnmapNotify:
		if (e->xunmap.window == s->grab_win)
			s->grab = false;
		break;
	case FocusIn:
		if (e->xfocus.mode == NotifyGrab)
			grab_began(s, e->xfocus.window);
		else if (e->xfocus.mode == NotifyUngrab ||
		    e->xfocus.mode == NotifyNormal)
			s->grab = false;
		/* (c): the focus moved; hold keys until AT-SPI has spoken. */
		if (e->xfocus.mode == NotifyNormal ||
		    e->xfocus.mode == NotifyWhileGrabbed)
			at_hold(s);
		break;
	case FocusOut:
		if (e->xfocus.mode == NotifyUngrab)
			s->grab = false;
		break;
	default:
		break;
	}
}

/* Brings the grab state up to the key being decided (see "Ordering"). */
static void
sync_state(struct cap_secure *s)
{
	XEvent e;

	while (!s->lost && XEventsQueued(s->dpy, QueuedAfterReading) > 0) {
		XNextEvent(s->dpy, &e);
		handle_event(s, &e);
	}
}

/* (b): is the focused window (or the top-level holding it) a prompt? */
static bool
focus_is_prompt(struct cap_secure *s, Window f)
{
	Window w = f, rootw, parent, *kids = NULL;
	unsigned int nk;

	if (f == s->focus_win)
		return s->focus_prompt;
	s->focus_win = f;
	s->focus_prompt = false;
	if (f == None || f == PointerRoot)
		return false;
	/* Walk up to the root's child; the prompt class is on a client. */
	for (;;) {
		if (window_is_prompt(s, w, 0)) {
			s->focus_prompt = true;
			break;
		}
		if (!XQueryTree(s->dpy, w, &rootw, &parent, &kids, &nk))
			break;
		if (kids != NULL)
			XFree(kids);
		if (parent == rootw || parent == None) {
			s->focus_prompt = window_is_prompt(s, w, 3);
			break;
		}
		w = parent;
	}
	return s->focus_prompt;
}

#ifdef HAVE_ATSPI
static AtspiAccessible *at_last; /* AT-SPI thread only */

static void
at_publish(int password, unsigned pid)
{
	pthread_mutex_lock(&at.mu);
	atomic_store(&at.password, password);
	atomic_store(&at.pid, pid);
	atomic_fetch_add(&at.gen, 1);
	pthread_cond_broadcast(&at.cv);
	pthread_mutex_unlock(&at.mu);
}

/*
 * PRIV-P4-3: where typed secrets are on screen.  The accessibles that had
 * the focus lately, newest last, with their process (AT-SPI thread only):
 * a secret is looked for in those of the window's process.
 */
#define AT_RECENT 16
#define AT_TEXT_MAX (1 << 20)	/* characters: more, and the window goes black */
#define AT_TEXT_WAIT_MS 100

static struct {
	AtspiAccessible *acc;
	unsigned pid;
} at_recent[AT_RECENT];

static void
at_remember(AtspiAccessible *acc, unsigned pid)
{
	int i;

	for (i = 0; i < AT_RECENT; i++)
		if (at_recent[i].acc == acc)
			break;
	if (i == AT_RECENT) {
		i = 0; /* the oldest leaves */
		if (at_recent[0].acc != NULL)
			g_object_unref(at_recent[0].acc);
		at_recent[0].acc = NULL;
	} else {
		g_object_unref(at_recent[i].acc);
	}
	memmove(&at_recent[i], &at_recent[i + 1],
	    (size_t)(AT_RECENT - 1 - i) * sizeof(at_recent[0]));
	at_recent[AT_RECENT - 1].acc = g_object_ref(acc);
	at_recent[AT_RECENT - 1].pid = pid;
}

/* A question from the frame thread, answered in the AT-SPI thread. */
struct at_req {
	unsigned pid;
	int wx, wy, ww, wh;	/* the X top-level's rectangle */
	struct capture_mask m;	/* a copy: secrets, wiped with the request */
	struct cap_rect box;
	int result, done, abandoned;
};

static pthread_mutex_t req_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t req_cv = PTHREAD_COND_INITIALIZER;
static int req_pending;		/* a request not yet answered (req_mu) */
static atomic_int at_loop;	/* the AT-SPI main loop runs */
#define AT_OCCURRENCES_MAX 16
#define AT_DISCOVER_RETRY_MS 2000

static struct {
	unsigned pid;
	uint64_t ms;
} at_nodisc[8];			/* AT-SPI thread: discoveries that failed */

/*
 * Does acc's window (its nearest frame, window or dialog ancestor) lie
 * where X has the top-level, at the same scale?  Catches toolkits that
 * report window-relative or logical (HiDPI) coordinates as screen ones.
 */
static int
at_same_place(AtspiAccessible *acc, const struct at_req *q)
{
	AtspiAccessible *a = g_object_ref(acc), *p;
	AtspiComponent *c;
	AtspiRect *r = NULL;
	GError *err = NULL;
	AtspiRole role;
	int depth, ok = 0;

	for (depth = 0; depth < 64 && a != NULL; depth++) {
		role = atspi_accessible_get_role(a, &err);
		if (err != NULL)
			break;
		if (role == ATSPI_ROLE_FRAME || role == ATSPI_ROLE_WINDOW ||
		    role == ATSPI_ROLE_DIALOG)
			break;
		p = atspi_accessible_get_parent(a, &err);
		g_object_unref(a);
		a = p;
		if (err != NULL)
			break;
	}
	if (a != NULL && err == NULL &&
	    (c = atspi_accessible_get_component_iface(a)) != NULL) {
		r = atspi_component_get_extents(c, ATSPI_COORD_TYPE_SCREEN, &err);
		g_object_unref(c);
	}
	if (r != NULL && err == NULL)
		/* Inside the top-level (decorations aside), at least half of it. */
		ok = r->x >= q->wx - 8 && r->y >= q->wy - 8 &&
		    r->x + r->width <= q->wx + q->ww + 8 &&
		    r->y + r->height <= q->wy + q->wh + 8 &&
		    (int64_t)r->width * r->height * 2 >= (int64_t)q->ww * q->wh;
	g_free(r);
	g_clear_error(&err);
	if (a != NULL)
		g_object_unref(a);
	return ok;
}

/* Characters (not bytes) before byte offset off of UTF-8 s. */
static gint
char_offset(const char *s, size_t off)
{
	gint n = 0;
	size_t i;

	for (i = 0; i < off; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/*
 * Every place acc's text shows one of q's secrets, as one bounding box in
 * q->box.  1: found them all; -1: cannot tell (no text, too long, a secret
 * not found, extents unknown).  The text read is wiped.
 */
static int
at_text_box(AtspiAccessible *acc, struct at_req *q)
{
	AtspiText *t = atspi_accessible_get_text_iface(acc);
	GError *err = NULL;
	AtspiRect *r;
	gchar *all = NULL;
	gint count, cs, ce;
	size_t i, alen = 0;
	unsigned nocc = 0;
	int x0 = INT32_MAX, y0 = INT32_MAX, x1 = INT32_MIN, y1 = INT32_MIN, ok = 1;
	const char *p;

	if (t == NULL)
		return -1;
	if (!at_same_place(acc, q)) {
		g_object_unref(t);
		return -1;
	}
	count = atspi_text_get_character_count(t, &err);
	if (err != NULL || count <= 0 || count > AT_TEXT_MAX)
		ok = 0;
	if (ok) {
		all = atspi_text_get_text(t, 0, count, &err);
		if (err != NULL || all == NULL)
			ok = 0;
		else
			alen = strlen(all);
	}
	for (i = 0; ok && i < q->m.ntexts; i++) {
		int found = 0;

		for (p = all; ok && (p = memmem(p, alen - (size_t)(p - all),
		    q->m.text[i], q->m.len[i])) != NULL; p++) {
			gchar *again;

			if (++nocc > AT_OCCURRENCES_MAX) {
				ok = 0;
				break;
			}
			cs = char_offset(all, (size_t)(p - all));
			ce = cs + char_offset(p, q->m.len[i]);
			r = atspi_text_get_range_extents(t, cs, ce,
			    ATSPI_COORD_TYPE_SCREEN, &err);
			/* The text may have changed since it was read. */
			again = err == NULL ? atspi_text_get_text(t, cs, ce, &err) : NULL;
			if (err != NULL || r == NULL || r->width <= 0 ||
			    r->height <= 0 || again == NULL ||
			    strlen(again) != q->m.len[i] ||
			    memcmp(again, q->m.text[i], q->m.len[i]) != 0) {
				ok = 0;
			} else {
				x0 = UT_MIN(x0, r->x);
				y0 = UT_MIN(y0, r->y);
				x1 = UT_MAX(x1, r->x + r->width);
				y1 = UT_MAX(y1, r->y + r->height);
				found = 1;
			}
			if (again != NULL) {
				sodium_memzero(again, strlen(again));
				g_free(again);
			}
			g_free(r);
		}
		if (!found)
			ok = 0; /* edited, or not this text: fail closed */
	}
	if (err != NULL)
		g_clear_error(&err);
	if (all != NULL) {
		sodium_memzero(all, alen);
		g_free(all);
	}
	g_object_unref(t);
	if (!ok)
		return -1;
	q->box.x = x0;
	q->box.y = y0;
	q->box.w = x1 - x0;
	q->box.h = y1 - y0;
	return 1;
}

#define AT_WALK_MAX 4000

/*
 * The application of process pid has had no focus event since we
 * listen (it was focused before recording began): find its focused
 * accessible by walking its tree (at most AT_WALK_MAX nodes) and remember
 * it.  AT-SPI thread.
 */
static int
at_discover(unsigned pid)
{
	AtspiAccessible *desk = atspi_get_desktop(0), *app = NULL, *a, *ch;
	AtspiAccessible **queue;
	AtspiStateSet *st;
	GError *err = NULL;
	gint n, i, j;
	size_t head = 0, tail = 0;

	int found = 0;

	if (desk == NULL)
		return 0;
	n = atspi_accessible_get_child_count(desk, &err);
	for (i = 0; err == NULL && i < n && app == NULL; i++) {
		a = atspi_accessible_get_child_at_index(desk, i, &err);
		if (a == NULL)
			continue;
		if (atspi_accessible_get_process_id(a, &err) == pid && err == NULL)
			app = a;
		else
			g_object_unref(a);
		g_clear_error(&err);
	}
	g_clear_error(&err);
	g_object_unref(desk);
	if (app == NULL)
		return 0;
	queue = xcalloc(AT_WALK_MAX, sizeof(*queue));
	queue[tail++] = app;
	while (head < tail) {
		a = queue[head++];
		st = atspi_accessible_get_state_set(a);
		if (st != NULL && atspi_state_set_contains(st, ATSPI_STATE_FOCUSED)) {
			at_remember(a, pid);
			g_object_unref(st);
			found = 1;
			break;
		}
		if (st != NULL)
			g_object_unref(st);
		n = atspi_accessible_get_child_count(a, &err);
		for (j = 0; err == NULL && j < n && tail < AT_WALK_MAX; j++) {
			ch = atspi_accessible_get_child_at_index(a, j, &err);
			if (ch != NULL)
				queue[tail++] = ch;
		}
		g_clear_error(&err);
	}
	for (head = 0; head < tail; head++)
		g_object_unref(queue[head]);
	free(queue);
	return found;
}

static gboolean
at_text_job(gpointer data)
{
	struct at_req *q = data;
	int i;

	q->result = -1;
	for (i = 0; i < AT_RECENT && !(at_recent[i].acc != NULL &&
	    at_recent[i].pid == q->pid); i++)
		;
	if (i == AT_RECENT) {
		uint64_t now = ut_now_mono_ns() / 1000000u;
		int k, slot = 0;

		/* A failed walk is not repeated for a while (it is costly). */
		for (k = 0; k < 8; k++) {
			if (at_nodisc[k].pid == q->pid &&
			    now - at_nodisc[k].ms < AT_DISCOVER_RETRY_MS)
				break;
			if (at_nodisc[k].ms < at_nodisc[slot].ms)
				slot = k;
		}
		if (k == 8 && !at_discover(q->pid)) {
			at_nodisc[slot].pid = q->pid;
			at_nodisc[slot].ms = now;
		}
	}
	for (i = AT_RECENT - 1; i >= 0 && q->result < 0; i--)
		if (at_recent[i].acc != NULL && at_recent[i].pid == q->pid)
			q->result = at_text_box(at_recent[i].acc, q);
	pthread_mutex_lock(&req_mu);
	req_pending = 0;
	if (q->abandoned) {
		pthread_mutex_unlock(&req_mu);
		sodium_memzero(q, sizeof(*q));
		free(q);
		return G_SOURCE_REMOVE;
	}
	q->done = 1;
	pthread_cond_broadcast(&req_cv);
	pthread_mutex_unlock(&req_mu);
	return G_SOURCE_REMOVE;
}

/* The desktop's application of process pid (a reference), or NULL. */
static AtspiAccessible *
at_app_of(unsigned pid)
{
	AtspiAccessible *desk = atspi_get_desktop(0), *a, *app = NULL;
	GError *err = NULL;
	gint n, i;

	if (desk == NULL)
		return NULL;
	n = atspi_accessible_get_child_count(desk, &err);
	for (i = 0; err == NULL && i < n && app == NULL; i++) {
		a = atspi_accessible_get_child_at_index(desk, i, &err);
		if (a == NULL)
			continue;
		if (atspi_accessible_get_process_id(a, &err) == pid && err == NULL)
			app = a;
		else
			g_object_unref(a);
		g_clear_error(&err);
	}
	g_clear_error(&err);
	g_object_unref(desk);
	return app;
}

/*
 * The focused accessible of app (a reference), or NULL: one Collection
 * question (the application searches its own tree), else a walk.
 */
static AtspiAccessible *
at_focused_in(AtspiAccessible *app, unsigned pid)
{
	AtspiCollection *coll = atspi_accessible_get_collection_iface(app);
	AtspiAccessible *a = NULL;
	AtspiStateSet *ss;
	AtspiMatchRule *rule;
	GArray *m;
	GError *err = NULL;
	guint i;
	int k;

	if (coll != NULL) {
		ss = atspi_state_set_new(NULL);
		atspi_state_set_add(ss, ATSPI_STATE_FOCUSED);
		rule = atspi_match_rule_new(ss, ATSPI_Collection_MATCH_ALL, NULL,
		    ATSPI_Collection_MATCH_NONE, NULL, ATSPI_Collection_MATCH_NONE,
		    NULL, ATSPI_Collection_MATCH_NONE, FALSE);
		m = atspi_collection_get_matches(coll, rule,
		    ATSPI_Collection_SORT_ORDER_CANONICAL, 1, TRUE, &err);
		if (m != NULL) {
			if (err == NULL && m->len > 0)
				a = g_object_ref(g_array_index(m, AtspiAccessible *, 0));
			for (i = 0; i < m->len; i++)
				g_object_unref(g_array_index(m, AtspiAccessible *, i));
			g_array_free(m, TRUE);
		}
		g_clear_error(&err);
		g_object_unref(rule);
		g_object_unref(ss);
		g_object_unref(coll);
		if (a != NULL)
			return a;
	}
	if (!at_discover(pid))
		return NULL;
	for (k = AT_RECENT - 1; k >= 0; k--)
		if (at_recent[k].acc != NULL && at_recent[k].pid == pid)
			return g_object_ref(at_recent[k].acc);
	return NULL;
}

/*
 * Answers a role question (AT-SPI thread): the role of the focused
 * accessible of q->pid's application, published like a focus event so the
 * keys after it see it too.  Frees q if capture abandoned it (inv. 4).
 */
static gboolean
at_role_job(gpointer data)
{
	struct at_rq *q = data;
	AtspiAccessible *app, *acc = NULL;
	GError *err = NULL;
	AtspiRole role;
	int result = AT_RQ_NOBRIDGE;

	if (at_test_delay_ms > 0)
		g_usleep((gulong)at_test_delay_ms * 1000);
	if ((app = at_app_of(q->pid)) != NULL) {
		result = AT_RQ_OTHER;
		acc = at_focused_in(app, q->pid);
		g_object_unref(app);
	}
	if (acc != NULL) {
		role = atspi_accessible_get_role(acc, &err);
		if (err != NULL) {
			g_clear_error(&err);
			role = ATSPI_ROLE_INVALID;
		}
		if (role == ATSPI_ROLE_PASSWORD_TEXT)
			result = AT_RQ_PASSWORD;
		at_remember(acc, q->pid);
		if (at_last != NULL)
			g_object_unref(at_last);
		at_last = acc;
		at_publish(result == AT_RQ_PASSWORD, q->pid);
	}
	pthread_mutex_lock(&rq_mu);
	if (q->abandoned) {
		pthread_mutex_unlock(&rq_mu);
		free(q);
		return G_SOURCE_REMOVE;
	}
	q->result = result;
	q->done = 1;
	pthread_cond_broadcast(&rq_cv);
	pthread_mutex_unlock(&rq_mu);
	return G_SOURCE_REMOVE;
}

/* Posts a role question about pid to the AT-SPI thread (capture). */
static struct at_rq *
at_ask(unsigned pid)
{
	struct at_rq *q;
	GSource *src;

	if (!atomic_load(&at_loop))
		return NULL;
	q = xcalloc(1, sizeof(*q));
	q->pid = pid;
	src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, at_role_job, q, NULL);
	g_source_attach(src, NULL);
	g_source_unref(src);
	return q;
}

/* Runs once the AT-SPI main loop turns: requests may be queued. */
static gboolean
at_loop_started(gpointer data)
{
	(void)data;
	atomic_store(&at_loop, 1);
	return G_SOURCE_REMOVE;
}

int
cap__atspi_text_box(uint32_t pid, const struct capture_mask *m, int wx,
    int wy, int ww, int wh, struct cap_rect *box)
{
	struct at_req *q;
	struct timespec ts;
	GSource *src;
	int r;

	if (!atomic_load(&at.live) || !atomic_load(&at_loop) || pid == 0 ||
	    m->whole || m->ntexts == 0)
		return -1;
	pthread_mutex_lock(&req_mu);
	if (req_pending) {
		/* The last one is still unanswered: do not pile up. */
		pthread_mutex_unlock(&req_mu);
		return -1;
	}
	req_pending = 1;
	pthread_mutex_unlock(&req_mu);
	q = xcalloc(1, sizeof(*q));
	q->pid = pid;
	q->wx = wx;
	q->wy = wy;
	q->ww = ww;
	q->wh = wh;
	q->m = *m;
	/* Always on the AT-SPI thread's loop, never run here. */
	src = g_idle_source_new();
	g_source_set_callback(src, at_text_job, q, NULL);
	g_source_attach(src, NULL);
	g_source_unref(src);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += AT_TEXT_WAIT_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&req_mu);
	while (!q->done &&
	    pthread_cond_timedwait(&req_cv, &req_mu, &ts) == 0)
		;
	if (!q->done) {
		q->abandoned = 1; /* the AT-SPI thread frees it */
		pthread_mutex_unlock(&req_mu);
		return -1;
	}
	pthread_mutex_unlock(&req_mu);
	r = q->result;
	if (r > 0)
		*box = q->box;
	sodium_memzero(q, sizeof(*q));
	free(q);
	return r;
}

static void
on_focus_event(AtspiEvent *ev, void *arg)
{
	GError *err = NULL;
	AtspiRole role;
	unsigned pid;

	(void)arg;
	if (ev == NULL || ev->source == NULL)
		goto out;
	if (at_test_delay_ms > 0)
		g_usleep((gulong)at_test_delay_ms * 1000); /* a late bridge */
	if (ev->detail1 == 0) {
		/*
		 * Focus left our accessible.  Not a new generation: a hold
		 * waits for the accessible that gets the focus.
		 */
		if (ev->source == at_last)
			atomic_store(&at.password, 0);
		goto out;
	}
	role = atspi_accessible_get_role(ev->source, &err);
	if (err != NULL) {
		g_clear_error(&err);
		role = ATSPI_ROLE_INVALID;
	}
	pid = atspi_accessible_get_process_id(ev->source, &err);
	if (err != NULL) {
		g_clear_error(&err);
		pid = 0;
	}
	if (at_last != NULL)
		g_object_unref(at_last);
	at_last = g_object_ref(ev->source);
	at_remember(ev->source, pid);
	/* PRIV-P4-2: the role is all we read; never names or text. */
	at_publish(role == ATSPI_ROLE_PASSWORD_TEXT, pid);
out:
	if (ev != NULL)
		g_boxed_free(ATSPI_TYPE_EVENT, ev);
}

static void *
at_thread(void *arg)
{
	AtspiEventListener *l;
	GError *err = NULL;

	(void)arg;
	if (atspi_init() > 1) {
		log_warn("secure input: no accessibility bus; password fields are "
		    "not detected (keyboard grabs still are)");
		return NULL;
	}
	l = atspi_event_listener_new(on_focus_event, NULL, NULL);
	if (l == NULL || !atspi_event_listener_register(l,
	    "object:state-changed:focused", &err)) {
		log_warn("secure input: cannot listen to accessibility events; "
		    "password fields are not detected");
		g_clear_error(&err);
		return NULL;
	}
	atomic_store(&at.live, 1);
	{
		GSource *src = g_idle_source_new();

		g_source_set_callback(src, at_loop_started, NULL, NULL);
		g_source_attach(src, NULL);
		g_source_unref(src);
	}
	log_info("secure input: watching password fields (AT-SPI)");
	atspi_event_main(); /* for the life of the process */
	return NULL;
}

static bool
have_session_bus(void)
{
	const char *a = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char path[512];
	struct stat st;

	if (a != NULL && *a != '\0')
		return true;
	/* No autolaunch: it would leave a bus daemon behind. */
	if (rt == NULL || *rt == '\0')
		return false;
	snprintf(path, sizeof(path), "%s/bus", rt);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void
at_start_once(void)
{
	pthread_t t;
	pthread_attr_t a;

	if (getenv("USETRACE_TEST_ATSPI_DELAY_MS") != NULL)
		at_test_delay_ms = atoi(getenv("USETRACE_TEST_ATSPI_DELAY_MS"));
	if (getenv("USETRACE_NO_ATSPI") != NULL) {
		log_info("secure input: AT-SPI turned off (USETRACE_NO_ATSPI)");
		return;
	}
	if (!have_session_bus()) {
		log_warn("secure input: no D-Bus session bus; password fields are "
		    "not detected (keyboard grabs still are)");
		return;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, at_thread, NULL) != 0)
		log_warn("secure input: cannot start the AT-SPI thread");
	pthread_attr_destroy(&a);
}
#else
int
cap__atspi_text_box(uint32_t pid, const struct capture_mask *m, int wx,
    int wy, int ww, int wh, struct cap_rect *box)
{
	(void)pid;
	(void)m;
	(void)wx;
	(void)wy;
	(void)ww;
	(void)wh;
	(void)box;
	return -1;
}

static void
at_start_once(void)
{
	log_warn("secure input: built without libatspi; password fields are not "
	    "detected (keyboard grabs still are)");
}

static struct at_rq *
at_ask(unsigned pid)
{
	(void)pid;
	return NULL;
}
#endif

/*
 * Waits until q is answered or deadline (monotonic ns; 0: do not wait).
 * Returns its AT_RQ_* result, freeing q, or -1 (q still asked).
 */
static int
at_wait(struct at_rq *q, uint64_t deadline)
{
	struct timespec ts;
	uint64_t now;
	int r;

	pthread_mutex_lock(&rq_mu);
	while (!q->done && (now = ut_now_mono_ns()) < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)UT_MIN(deadline - now, 20000000ull);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&rq_cv, &rq_mu, &ts);
	}
	if (!q->done) {
		pthread_mutex_unlock(&rq_mu);
		return -1;
	}
	r = q->result;
	pthread_mutex_unlock(&rq_mu);
	free(q);
	return r;
}

/* Gives an unanswered question to the AT-SPI thread to free (inv. 4). */
static void
at_abandon(struct at_rq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&rq_mu);
	if (!q->done) {
		q->abandoned = 1;
		pthread_mutex_unlock(&rq_mu);
		return;
	}
	pthread_mutex_unlock(&rq_mu);
	free(q);
}

/*
 * (c): the focused accessible is a password field of the focused window's
 * process (any process when the pid is unknown: fail closed).  The first
 * key after a focus change asks the AT-SPI thread directly when the pid is
 * known (waiting at most SECURE_QUERY_NS; unanswered: secure, invariant
 * 5); else it waits until AT-SPI reported a newly focused accessible or
 * SECURE_HOLD_NS passed since the change.
 */
static bool
at_password(struct cap *c, struct cap_secure *s, const struct ut_event *key)
{
	uint32_t pid = c->last_focus.u.focus.pid;
	uint64_t now, deadline, t0;
	unsigned apid;
	struct timespec ts;

	if (!atomic_load(&at.live))
		return false;
	/* A focus change we saw no FocusIn for (window not selected yet). */
	if (c->active != s->at_win) {
		s->at_win = c->active;
		if (s->at_since == 0)
			at_hold(s);
	}
	if (s->rq != NULL) {
		/* Asked before and not answered in time: secure until it is. */
		if (at_wait(s->rq, 0) >= 0)
			s->rq = NULL;
	} else if (s->at_since != 0 && pid != 0 && (s->rq = at_ask(pid)) != NULL) {
		t0 = ut_now_mono_ns();
		s->rq_asked++;
		if (at_wait(s->rq, t0 + SECURE_QUERY_NS) >= 0)
			s->rq = NULL;
		else
			s->rq_timeouts++;
		s->at_since = 0;
		now = ut_now_mono_ns() - t0;
		s->held_keys++;
		s->held_ns += now;
		s->held_max_ns = UT_MAX(s->held_max_ns, now);
	} else if (s->at_since != 0) {
		t0 = ut_now_mono_ns();
		deadline = s->at_since + SECURE_HOLD_NS;
		pthread_mutex_lock(&at.mu);
		while (atomic_load(&at.gen) == s->at_gen0 &&
		    (now = ut_now_mono_ns()) < deadline) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)UT_MIN(deadline - now, 20000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&at.cv, &at.mu, &ts);
		}
		pthread_mutex_unlock(&at.mu);
		s->at_since = 0;
		/* The key waited this long before it could be decided. */
		now = ut_now_mono_ns() - t0;
		s->held_keys++;
		s->held_ns += now;
		s->held_max_ns = UT_MAX(s->held_max_ns, now);
	}
	/* Tab may move the focus inside the window: hold the next key. */
	if (key->u.key.down && (key->u.key.keysym == KS_TAB ||
	    key->u.key.keysym == KS_ISO_LEFT_TAB))
		at_hold(s);
	if (s->rq != NULL)
		return true; /* no answer in time: fail closed (invariant 5) */
	apid = atomic_load(&at.pid);
	return atomic_load(&at.password) && (pid == 0 || apid == 0 || apid == pid);
}

/* A button press may move the focus (a click into a field): hold the next key. */
void
cap__secure_click(struct cap *c)
{
	if (c->secure != NULL)
		at_hold(c->secure);
}

int
cap__secure_init(struct cap *c, const char *dpyname)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct cap_secure *s = xcalloc(1, sizeof(*s));
	Window rootw, parent, *kids = NULL;
	XWindowAttributes wa;
	unsigned int nk, i;

	c->secure = s;
	pthread_once(&once, at_start_once);
	s->dpy = XOpenDisplay(dpyname);
	if (s->dpy == NULL) {
		c->secure = NULL;
		free(s);
		return UT_EX11;
	}
	XSetIOErrorExitHandler(s->dpy, on_sec_io_exit, s);
	s->root = DefaultRootWindow(s->dpy);
	s->screen_w = DisplayWidth(s->dpy, DefaultScreen(s->dpy));
	s->screen_h = DisplayHeight(s->dpy, DefaultScreen(s->dpy));
	/* Select first, then list: no top-level is missed in between. */
	XSelectInput(s->dpy, s->root, SubstructureNotifyMask | FocusChangeMask);
	if (XQueryTree(s->dpy, s->root, &rootw, &parent, &kids, &nk)) {
		for (i = 0; i < nk; i++)
			XSelectInput(s->dpy, kids[i], FocusChangeMask);
		if (kids != NULL)
			XFree(kids);
	}
	XSync(s->dpy, False);
	/* A grab already in force (a locker up before we started). */
	if (XGetWindowAttributes(s->dpy, s->root, &wa) && any_locker(s)) {
		s->grab = true;
		s->grab_win = s->root;
	}
	return 0;
}

/* Called in a hunk of the capture loop: keeps our queue short. */
void
cap__secure_poll(struct cap *c)
{
	struct cap_secure *s = c->secure;
	XEvent e;

	if (s == NULL || s->dpy == NULL || s->lost)
		return;
	while (!s->lost && XPending(s->dpy) > 0) {
		XNextEvent(s->dpy, &e);
		handle_event(s, &e);
	}
}

static Bool
property_before(Display *d, XEvent *e, XPointer arg)
{
	uint32_t xtime = *(const uint32_t *)(const void *)arg;

	(void)d;
	return e->type == PropertyNotify &&
	    (int32_t)((uint32_t)e->xproperty.time - xtime) <= 0;
}

/*
 * Focus changes the server made before it processed this key are emitted
 * before the key: the filter decides denied windows by the FOCUS record in
 * force when a key arrives (PRIV-P4-1), and RECORD data (keys) and the
 * control connection's events (focus) otherwise reach us in either order.
 * A round trip on the control connection brings every PropertyNotify sent
 * before the key into its queue; those not later than the key are handled
 * now, in order, the others stay for the capture loop.
 */
static void
focus_before_key(struct cap *c, uint32_t xtime)
{
	XEvent e;

	if (c->ctl == NULL || xtime == 0)
		return;
	while (!c->err && XCheckIfEvent(c->ctl, &e, property_before,
	    (XPointer)&xtime))
		cap__focus_event(c, &e);
}

bool
cap__secure_key(struct cap *c, struct ut_event *ev)
{
	struct cap_secure *s = c->secure;
	struct ut_event red;
	const char *why = NULL;
	uint8_t kc = ev->u.key.keycode;

	if (s == NULL)
		return false;
	if (!s->lost)
		focus_before_key(c, ev->xtime);
	/* (2): the release of a replaced press, whatever the state now. */
	if (!ev->u.key.down && s->dropped[kc]) {
		s->dropped[kc] = 0;
		sodium_memzero(ev, sizeof(*ev));
		return true;
	}
	if (s->dpy != NULL && !s->lost) {
		sync_state(s);
		if (s->grab)
			why = "keyboard-grab";
		else if (focus_is_prompt(s, c->active))
			why = "secure-prompt";
	} else {
		why = "keyboard-grab"; /* display lost: fail closed */
	}
	if (why == NULL && at_password(c, s, ev))
		why = "password-field";
	if (why == NULL) {
		if (ev->u.key.down)
			s->dropped[kc] = 0;
		return false;
	}
	/* (1) PRIV-P4-2: the key itself is never emitted. */
	if (ev->u.key.down) {
		s->dropped[kc] = 1;
		/* seq and clocks are capture's to give, at emit. */
		event_redacted(&red, NULL, "keys", why, 1, UT_SENS_SECRET);
		red.xtime = ev->xtime;
		s->replaced++;
		sodium_memzero(ev, sizeof(*ev));
		cap__emit(c, &red);
		return true;
	}
	sodium_memzero(ev, sizeof(*ev));
	return true;
}

void
cap__secure_free(struct cap *c, bool lost)
{
	struct cap_secure *s = c->secure;

	if (s == NULL)
		return;
	if (s->dpy != NULL && !s->lost && !lost)
		XCloseDisplay(s->dpy);
	if (s->replaced > 0)
		log_info("secure input: %llu key presses not recorded",
		    (unsigned long long)s->replaced);
	if (s->held_keys > 0)
		log_info("secure input: %llu keys waited for AT-SPI after a focus "
		    "change: %.2f ms on average, %.2f ms at most",
		    (unsigned long long)s->held_keys,
		    (double)s->held_ns / 1e6 / (double)s->held_keys,
		    (double)s->held_max_ns / 1e6);
	if (s->rq_asked > 0)
		log_info("secure input: %llu focused-role questions, %llu not "
		    "answered in time", (unsigned long long)s->rq_asked,
		    (unsigned long long)s->rq_timeouts);
	at_abandon(s->rq);
	sodium_memzero(s, sizeof(*s));
	free(s);
	c->secure = NULL;
}
