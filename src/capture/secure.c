/*
 * secure.c - secure input: keys typed into a password field or under a
 * keyboard grab of a secure prompt never leave capture (PRIV-P4-2).
 *
 * Every key record passes cap__secure_key() just before it is emitted
 * (capture.c:key_dispatch asks; this file only decides).  If the key goes
 * to secure input, the KEY record is not emitted: a press becomes a
 * content-free REDACTED record (what "keys", why "keyboard-grab",
 * "secure-prompt" or "password-field", count 1, level 4), and its
 * release, whenever it comes, nothing.  The privacy filter merges
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
 *      belongs to the process of the focused window.  The AT-SPI service
 *      (atspi.c, a thread of its own) publishes the focused accessible's
 *      role, process id and a generation counter.  After the focused
 *      window changed (or after Tab, which moves focus inside a window)
 *      the next key waits until AT-SPI reported a focus change or 200 ms
 *      passed, so the first keys typed into a new password field are not
 *      decided on stale state.  When the focused window's process is
 *      known, the first key after a focus change - a click too - does not
 *      rely on focus events (they come late, or never for a field focused
 *      before its bridge registered or we listened): it asks the AT-SPI
 *      service for the role of that process's focused accessible
 *      (cap__atspi_ask).  The answer
 *      decides; an application without a bridge answers "none" and the
 *      key goes on as before; no answer within SECURE_QUERY_NS makes the
 *      key, and every key after it until the answer comes, secure input
 *      (fail closed).
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
 * emitted before it is decided (focus.c:cap__focus_before_key, called by
 * the dispatcher), so the privacy filter judges each key by the window
 * that really had the focus.
 *
 * When there is no D-Bus session bus or no accessibility bus, (c) is off
 * and this is logged once; (a) and (b) work regardless.  Nothing here logs
 * or records key content, window titles or accessible names.
 * *
 * Invariants:
 *  (1) While secure, no KEY record is emitted (presses become REDACTED).
 *  (2) The release of a press that was not emitted is never emitted.
 *  (3) A role question asked (s->rq) is given back to the AT-SPI service
 *      exactly once: answered (cap__atspi_wait) or abandoned at the end.
 *  (4) While a role question is unanswered (s->rq), every key is secure.
 */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xutil.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"
#include "capture_int.h"

#define SECURE_HOLD_NS (200ull * 1000000ull)
#define SECURE_QUERY_NS (200ull * 1000000ull)	/* a key waits for its answer */

/* WM_CLASS (class or instance, case-insensitive) of secure prompts. */
static const char *const prompt_classes[] = {
	"pinentry*", "gcr-prompter*", "gnome-keyring-prompt*", "*polkit*",
	"*askpass*", "*screensaver*", "*screenlocker*", "*light-locker*",
	"i3lock*", "xsecurelock*", "slock", "xlock*", "xtrlock", "physlock",
};

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
	if (!cap__atspi_live())
		return;
	s->at_since = ut_now_mono_ns();
	s->at_gen0 = cap__atspi_gen();
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


/*
 * (c): the focused accessible is a password field of the focused window's
 * process (any process when the pid is unknown: fail closed).  The first
 * key after a focus change asks the AT-SPI thread directly when the pid is
 * known (waiting at most SECURE_QUERY_NS; unanswered: secure, invariant
 * 4); else it waits until AT-SPI reported a newly focused accessible or
 * SECURE_HOLD_NS passed since the change.
 */
static bool
at_password(struct cap *c, struct cap_secure *s, const struct ut_event *key)
{
	uint32_t pid = c->last_focus.u.focus.pid;
	uint64_t now, t0;

	if (!cap__atspi_live())
		return false;
	/* A focus change we saw no FocusIn for (window not selected yet). */
	if (c->active != s->at_win) {
		s->at_win = c->active;
		if (s->at_since == 0)
			at_hold(s);
	}
	if (s->rq != NULL) {
		/* Asked before and not answered in time: secure until it is. */
		if (cap__atspi_wait(s->rq, 0) >= 0)
			s->rq = NULL;
	} else if (s->at_since != 0 && pid != 0 && (s->rq = cap__atspi_ask(pid)) != NULL) {
		t0 = ut_now_mono_ns();
		s->rq_asked++;
		if (cap__atspi_wait(s->rq, t0 + SECURE_QUERY_NS) >= 0)
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
		cap__atspi_wait_gen(s->at_gen0, s->at_since + SECURE_HOLD_NS);
		s->at_since = 0;
		/* The key waited this long before it could be decided. */
		now = ut_now_mono_ns() - t0;
		s->held_keys++;
		s->held_ns += now;
		s->held_max_ns = UT_MAX(s->held_max_ns, now);
	}
	/* Tab may move the focus inside the window: hold the next key. */
	if (key->u.key.down && (key->u.key.keysym == UT_KS_TAB ||
	    key->u.key.keysym == UT_KS_ISO_LEFT_TAB))
		at_hold(s);
	if (s->rq != NULL)
		return true; /* no answer in time: fail closed (invariant 4) */
	return cap__atspi_password(pid);
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
	struct cap_secure *s = xcalloc(1, sizeof(*s));
	Window rootw, parent, *kids = NULL;
	XWindowAttributes wa;
	unsigned int nk, i;

	c->secure = s;
	cap__atspi_start();
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

bool
cap__secure_watching(const struct cap *c)
{
	return c->secure != NULL && !c->secure->lost;
}

enum cap_key_verdict
cap__secure_key(struct cap *c, const struct ut_event *ev, const char **why)
{
	struct cap_secure *s = c->secure;
	uint8_t kc = ev->u.key.keycode;

	*why = NULL;
	if (s == NULL)
		return CAP_KEY_PASS;
	/* (2): the release of a replaced press, whatever the state now. */
	if (!ev->u.key.down && s->dropped[kc]) {
		s->dropped[kc] = 0;
		return CAP_KEY_DROP;
	}
	if (s->dpy != NULL && !s->lost) {
		sync_state(s);
		if (s->grab)
			*why = "keyboard-grab";
		else if (focus_is_prompt(s, c->active))
			*why = "secure-prompt";
	} else {
		*why = "keyboard-grab"; /* display lost: fail closed */
	}
	if (*why == NULL && at_password(c, s, ev))
		*why = "password-field";
	if (*why == NULL) {
		if (ev->u.key.down)
			s->dropped[kc] = 0;
		return CAP_KEY_PASS;
	}
	/* (1) PRIV-P4-2: the key itself is never emitted. */
	if (!ev->u.key.down)
		return CAP_KEY_DROP;
	s->dropped[kc] = 1;
	s->replaced++;
	return CAP_KEY_REDACT;
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
	cap__atspi_abandon(s->rq);
	sodium_memzero(s, sizeof(*s));
	free(s);
	c->secure = NULL;
}
