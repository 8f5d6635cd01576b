/*
 * capture.c - the capture loop: X connections, RECORD, signals, ticks.
 *
 * Two X connections: `data` carries only the RECORD context's data (as the
 * RECORD spec requires); `ctl` carries everything else (focus, keymap,
 * RandR, XSETTINGS) and is shared with xcb for xkbcommon-x11 and RandR.
 * One thread polls both connections and stop_fd.  Records are emitted in
 * the order they are processed; each carries the X server time it has, so
 * readers can order focus changes against input exactly.
 *
 * RECORD ranges: device events KeyPress..MotionNotify (what the server
 * processed: XTEST and warps included), the core ChangeKeyboardMapping
 * request and the XKB requests that replace the keymap or lock state, so
 * keymap changes are applied in stream order (capture/keymap.c).
 *
 * The files of the backend call one way: this file (the loop and the
 * dispatch of each RECORD item) calls keymap.c (translation), focus.c,
 * secure.c, frames.c and emit.c; none of them calls back up.  The AT-SPI
 * service (atspi.c) and emit.c are at the bottom.
 *
 * A lost display (IO error) is noticed through XSetIOErrorExitHandler,
 * which sets a flag instead of exiting; the loop then emits an END record
 * and returns UT_EX11 without touching the dead connection again.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/XKBlib.h>
#include <X11/Xproto.h>
#include <sodium.h>
#include <xcb/randr.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"
#include "capture_int.h"

#define XKB_REQ_LATCH_LOCK 5
#define XKB_REQ_SET_MAP 9
#define XKB_REQ_GET_KBD_BY_NAME 23

/* Set by Xlib's IO error handlers, which are process-wide: the frame
 * thread's display reaches them too. */
static atomic_int io_lost;

static int
on_x_error(Display *d, XErrorEvent *e)
{
	(void)d;
	(void)e;
	/* Windows vanish between requests; that is normal here. */
	return 0;
}

static int
on_io_error(Display *d)
{
	(void)d;
	atomic_store(&io_lost, 1);
	return 0;
}

static void
on_io_exit(Display *d, void *arg)
{
	(void)d;
	(void)arg;
	atomic_store(&io_lost, 1);
}

/*
 * The one route of a key (issue 16): keymap.c translates it; here, and
 * only here, the frame before it is requested, the category gate applied,
 * focus changes made before it emitted, secure input decided and the
 * record emitted.  Every call goes down (keymap, frames, focus, secure,
 * emit) and comes back here.
 */
static void
key_dispatch(struct cap *c, int down, uint8_t kc, uint32_t xtime,
    uint16_t state)
{
	struct ut_event ev, red;
	const char *why = NULL, *t;
	uint64_t now;
	int typing;

	cap__key_translate(c, down, kc, xtime, state, &ev);
	/*
	 * Ask for the frame seen before this press if it can start an
	 * action: not for a key that continues a typing run (typed text,
	 * not a line break or tab, within 2 s of the previous one), which
	 * shares the frame of the run's first key.
	 */
	if (down) {
		now = ut_now_mono_ns();
		t = ut_key_typed(&ev);
		typing = t != NULL && t[0] != '\n' && t[0] != '\t';
		if (!typing || now - c->last_type_ns > 2000000000ull)
			frames_request(c->frames, xtime);
		if (typing)
			c->last_type_ns = now;
	}
	c->st.keys++;
	/* PRIV-CAT: key records only with "keys", their text only with "text". */
	if (!(c->o->categories & UT_CAT_KEYS)) {
		sodium_memzero(&ev, sizeof(ev));
		return;
	}
	if (!(c->o->categories & UT_CAT_TEXT))
		memset(ev.u.key.text, 0, sizeof(ev.u.key.text));
	/* The window that had the focus when the server took the key. */
	if (cap__secure_watching(c))
		cap__focus_before_key(c, xtime);
	/* PRIV-P4-2: keys typed into secure input never leave capture. */
	switch (cap__secure_key(c, &ev, &why)) {
	case CAP_KEY_PASS:
		cap__emit(c, &ev);
		cap__target_key(c, &ev, true); /* target.c: seq now set */
		return;
	case CAP_KEY_REDACT:
		cap__target_key(c, &ev, false);
		/* seq and clocks are capture's to give, at emit. */
		event_redacted(&red, NULL, "keys", why, 1, UT_SENS_SECRET);
		red.xtime = ev.xtime;
		sodium_memzero(&ev, sizeof(ev));
		cap__emit(c, &red);
		return;
	case CAP_KEY_DROP:
	default:
		sodium_memzero(&ev, sizeof(ev));
		return;
	}
}

static void
emit_pointer(struct cap *c, const uint8_t *d)
{
	struct ut_event ev;
	uint8_t type = d[0] & 0x7f;
	uint32_t xtime;
	int16_t rx, ry;
	uint16_t state;

	memcpy(&xtime, d + 4, 4);
	memcpy(&rx, d + 20, 2);
	memcpy(&ry, d + 22, 2);
	memcpy(&state, d + 28, 2);
	if (type == ButtonPress)
		cap__secure_click(c); /* secure.c: a click may focus a field */
	/* PRIV-CAT: pointer records exist only when "pointer" is declared. */
	if (!(c->o->categories & UT_CAT_POINTER))
		return;
	memset(&ev, 0, sizeof(ev));
	ev.xtime = xtime;
	ev.sensitivity = UT_SENS_NONE;
	if (type == MotionNotify) {
		ev.type = UT_EV_MOTION;
		ev.u.motion.x = rx;
		ev.u.motion.y = ry;
		c->st.motions++;
	} else {
		ev.type = UT_EV_BUTTON;
		ev.u.button.button = d[1];
		ev.u.button.down = type == ButtonPress;
		ev.u.button.x = rx;
		ev.u.button.y = ry;
		ev.u.button.state = state;
		c->st.buttons++;
	}
	cap__emit(c, &ev);
	if (ev.type == UT_EV_BUTTON)
		cap__target_button(c, &ev); /* target.c: seq now set */
}

/* Frame records from the frame thread get recording-wide ids here. */
static void
emit_frame(void *arg, struct ut_event *ev)
{
	struct cap *c = arg;
	uint64_t local = ev->u.frame.frame_id, *ctr = c->o->frame_counter;
	static uint64_t own_counter;

	if (c->err) {
		event_dispose(ev);
		return;
	}
	if (ctr == NULL)
		ctr = &own_counter;
	if (local != c->frame_last_local) {
		c->frame_prev_global = c->frame_last_global;
		c->frame_last_local = local;
		c->frame_last_global = ++*ctr;
	}
	ev->u.frame.frame_id = c->frame_last_global;
	if (ev->u.frame.base_id != 0)
		ev->u.frame.base_id = c->frame_prev_global;
	c->st.frames += ev->u.frame.part == 0;
	cap__emit(c, ev); /* the sink owns data from here */
}

static void
record_cb(XPointer arg, XRecordInterceptData *d)
{
	struct cap *c = (struct cap *)arg;
	const uint8_t *p = d->data;
	size_t len = (size_t)d->data_len * 4;
	uint32_t xtime;
	uint16_t state;

	if (c->err || atomic_load(&io_lost))
		goto out;
	if (d->category == XRecordFromServer && len >= 32) {
		switch (p[0] & 0x7f) {
		case KeyPress:
		case KeyRelease:
			memcpy(&xtime, p + 4, 4);
			memcpy(&state, p + 28, 2);
			key_dispatch(c, (p[0] & 0x7f) == KeyPress, p[1], xtime,
			    state);
			break;
		case ButtonPress:
			/*
			 * A frame for every press that can start an action;
			 * wheel notches of one scroll burst share the first's.
			 */
			memcpy(&xtime, p + 4, 4);
			if (p[1] < 4 || p[1] > 7 ||
			    ut_now_mono_ns() - c->last_wheel_ns > 500000000ull)
				frames_request(c->frames, xtime);
			if (p[1] >= 4 && p[1] <= 7)
				c->last_wheel_ns = ut_now_mono_ns();
			emit_pointer(c, p);
			break;
		case ButtonRelease:
		case MotionNotify:
			emit_pointer(c, p);
			break;
		default:
			break;
		}
	} else if (d->category == XRecordFromClient && len >= 4) {
		if (p[0] == X_ChangeKeyboardMapping) {
			cap__keymap_core_change(c, p, len, d->client_swapped);
		} else if (p[0] == c->xkb_major &&
		    (p[1] == XKB_REQ_SET_MAP || p[1] == XKB_REQ_GET_KBD_BY_NAME ||
		    p[1] == XKB_REQ_LATCH_LOCK)) {
			/*
			 * The server runs this request before answering ours,
			 * so the reload sees its effect.
			 */
			if (p[1] != XKB_REQ_LATCH_LOCK)
				memset(c->ovr, 0, sizeof(c->ovr));
			if (cap__keymap_load(c) < 0)
				log_warn("could not reload the keymap");
		}
	}
out:
	XRecordFreeData(d);
}

static int
record_setup(struct cap *c)
{
	XRecordRange *r[4] = { NULL, NULL, NULL, NULL };
	XRecordClientSpec clients = XRecordAllClients;
	int major, minor, i, n = 0, rv = 0;

	if (!XRecordQueryVersion(c->ctl, &major, &minor))
		return UT_ENOEXT;
	for (i = 0; i < 4; i++) {
		r[i] = XRecordAllocRange();
		if (r[i] == NULL) {
			rv = UT_ENOEXT;
			goto out;
		}
	}
	r[0]->device_events.first = KeyPress;
	r[0]->device_events.last = MotionNotify;
	r[0]->core_requests.first = X_ChangeKeyboardMapping;
	r[0]->core_requests.last = X_ChangeKeyboardMapping;
	n = 1;
	if (c->xkb_major > 0) {
		static const unsigned char minors[] = { XKB_REQ_LATCH_LOCK,
			XKB_REQ_SET_MAP, XKB_REQ_GET_KBD_BY_NAME };

		for (i = 0; i < 3; i++) {
			r[n]->ext_requests.ext_major.first = (unsigned char)c->xkb_major;
			r[n]->ext_requests.ext_major.last = (unsigned char)c->xkb_major;
			r[n]->ext_requests.ext_minor.first = minors[i];
			r[n]->ext_requests.ext_minor.last = minors[i];
			n++;
		}
	}
	c->rc = XRecordCreateContext(c->ctl, 0, &clients, 1, r, n);
	if (c->rc == 0) {
		rv = UT_ENOEXT;
		goto out;
	}
	XSync(c->ctl, False);
	if (!XRecordEnableContextAsync(c->data, c->rc, record_cb, (XPointer)c)) {
		rv = UT_ENOEXT;
		goto out;
	}
out:
	for (i = 0; i < 4; i++)
		XFree(r[i]);
	return rv;
}

static void
read_xsettings(struct cap *c, struct ut_event *ev)
{
	char name[32];
	Atom sel, prop, actual;
	Window owner;
	unsigned char *d = NULL;
	unsigned long n, after;
	int fmt;
	int32_t v;

	snprintf(name, sizeof(name), "_XSETTINGS_S%d", DefaultScreen(c->ctl));
	sel = XInternAtom(c->ctl, name, False);
	owner = XGetSelectionOwner(c->ctl, sel);
	if (owner == None)
		return;
	prop = XInternAtom(c->ctl, "_XSETTINGS_SETTINGS", False);
	if (XGetWindowProperty(c->ctl, owner, prop, 0, 65536, False, prop,
	    &actual, &fmt, &n, &after, &d) != Success || d == NULL)
		return;
	if (fmt == 8) {
		if (xsettings_get_int(d, n, "Net/DoubleClickTime", &v) == 0 &&
		    v > 0 && v < 10000)
			ev->u.session.double_click_ms = (uint32_t)v;
		if (xsettings_get_int(d, n, "Net/DoubleClickDistance", &v) == 0 &&
		    v > 0 && v < 1000)
			ev->u.session.double_click_px = (uint32_t)v;
	}
	XFree(d);
}

static void
emit_session(struct cap *c, const char *dpyname)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_SESSION;
	ev.sensitivity = UT_SENS_NONE;
	ut_strlcpy_utf8(ev.u.session.display, dpyname, strlen(dpyname),
	    sizeof(ev.u.session.display));
	ev.u.session.screen_w = (uint32_t)DisplayWidth(c->ctl, DefaultScreen(c->ctl));
	ev.u.session.screen_h = (uint32_t)DisplayHeight(c->ctl, DefaultScreen(c->ctl));
	read_xsettings(c, &ev);
	snprintf(ev.u.session.layout, sizeof(ev.u.session.layout), "%s", c->layout);
	cap__emit(c, &ev);
}

static void
emit_end(struct cap *c, const char *why)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_END;
	ev.sensitivity = UT_SENS_NONE;
	snprintf(ev.u.mark.text, sizeof(ev.u.mark.text), "%s", why);
	cap__emit(c, &ev);
}

static void
handle_ctl_event(struct cap *c, XEvent *e)
{
	if (c->xkb_event_base > 0 && e->type == c->xkb_event_base) {
		XkbEvent *xe = (XkbEvent *)e;

		if (xe->any.xkb_type == XkbNewKeyboardNotify) {
			memset(c->ovr, 0, sizeof(c->ovr));
			if (cap__keymap_load(c) < 0)
				log_warn("could not reload the keymap");
		}
		return;
	}
	if (c->randr_event_base > 0 &&
	    e->type == c->randr_event_base + XCB_RANDR_SCREEN_CHANGE_NOTIFY) {
		cap__monitors(c);
		return;
	}
	cap__focus_event(c, e);
}

static int
setup(struct cap *c, const char *dpyname)
{
	const xcb_query_extension_reply_t *ext;
	int op, ev, er, maj = XkbMajorVersion, min = XkbMinorVersion, r;

	c->ctl = XOpenDisplay(dpyname);
	if (c->ctl == NULL)
		return UT_EX11;
	c->data = XOpenDisplay(dpyname);
	if (c->data == NULL)
		return UT_EX11;
	XSetIOErrorExitHandler(c->ctl, on_io_exit, c);
	XSetIOErrorExitHandler(c->data, on_io_exit, c);
	c->xc = XGetXCBConnection(c->ctl);
	c->root = DefaultRootWindow(c->ctl);

	if (!XkbQueryExtension(c->ctl, &op, &ev, &er, &maj, &min))
		return UT_ENOEXT;
	c->xkb_major = op;
	c->xkb_event_base = ev;
	XkbSelectEvents(c->ctl, XkbUseCoreKbd, XkbNewKeyboardNotifyMask,
	    XkbNewKeyboardNotifyMask);
	if (!xkb_x11_setup_xkb_extension(c->xc, XKB_X11_MIN_MAJOR_XKB_VERSION,
	    XKB_X11_MIN_MINOR_XKB_VERSION, XKB_X11_SETUP_XKB_EXTENSION_NO_FLAGS,
	    NULL, NULL, NULL, NULL))
		return UT_ENOEXT;
	if ((r = cap__keymap_load(c)) < 0)
		return r;

	ext = xcb_get_extension_data(c->xc, &xcb_randr_id);
	if (ext != NULL && ext->present) {
		c->randr_event_base = ext->first_event;
		xcb_randr_select_input(c->xc, (xcb_window_t)c->root,
		    XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE);
	}
	if ((r = cap__focus_init(c)) < 0)
		return r;
	/* Secure input (secure.c): before RECORD, so no key precedes it. */
	if ((r = cap__secure_init(c, dpyname)) < 0)
		return r;
	cap__target_init(c); /* target.c: with "targets" only */
	return record_setup(c);
}

static void
teardown(struct cap *c)
{
	cap__secure_free(c, io_lost); /* secure input (secure.c) */
	cap__target_free(c);
	if (!io_lost) {
		if (c->ctl != NULL && c->rc != 0) {
			XRecordDisableContext(c->ctl, c->rc);
			XRecordFreeContext(c->ctl, c->rc);
			XSync(c->ctl, False);
		}
		if (c->data != NULL)
			XCloseDisplay(c->data);
		cap__keymap_free(c); /* before the xcb connection goes */
		if (c->ctl != NULL)
			XCloseDisplay(c->ctl);
	} else
		cap__keymap_free(c);
	c->ctl = c->data = NULL;
}

/*
 * The loop: RECORD data, control-connection events, secure input, frames
 * ready, ticks, the owner's fd and stop_fd, until a stop, a lost display
 * or a sink error (its code).
 */
static int
run_loop(struct cap *c, const char *dpyname)
{
	const struct capture_opts *o = c->o;
	const struct capture_sink *sink = c->sink;
	struct pollfd pfd[6];
	uint64_t tick_ns = (o->tick_ms ? o->tick_ms : 200) * 1000000ull;
	uint64_t next_tick, now;
	XEvent e;
	int r, timeout, nfds;

	next_tick = ut_now_mono_ns() + tick_ns;
	r = 0;
	for (;;) {
		if (!io_lost)
			XRecordProcessReplies(c->data);
		while (!io_lost && !c->err && XPending(c->ctl) > 0) {
			XNextEvent(c->ctl, &e);
			handle_ctl_event(c, &e);
		}
		if (!io_lost)
			cap__secure_poll(c); /* secure input (secure.c) */
		if (io_lost) {
			log_error("lost the connection to display %s", dpyname);
			frames_stop(c->frames);
			frames_drain(c->frames, emit_frame, c);
			emit_end(c, "display lost");
			r = c->err ? c->err : UT_EX11;
			break;
		}
		if (c->err) {
			r = c->err;
			break;
		}
		now = ut_now_mono_ns();
		if (now >= next_tick) {
			/* Without EWMH the input focus is polled, once a tick. */
			if (!c->ewmh)
				cap__focus_update(c, 0);
			if (sink->tick != NULL && (r = sink->tick(sink->arg)) != 0)
				break;
			next_tick = now + tick_ns;
			continue;
		}
		timeout = (int)((next_tick - now) / 1000000ull) + 1;
		pfd[0].fd = ConnectionNumber(c->data);
		pfd[1].fd = ConnectionNumber(c->ctl);
		pfd[0].events = pfd[1].events = POLLIN;
		pfd[2].fd = o->stop_fd;
		pfd[3].fd = o->extra_fd;
		pfd[4].fd = frames_ready_fd(c->frames);
		pfd[2].events = pfd[3].events = pfd[4].events = POLLIN;
		pfd[2].revents = pfd[3].revents = pfd[4].revents = 0;
		pfd[5].fd = cap__target_fd(c); /* target.c: answers ready */
		pfd[5].events = POLLIN;
		pfd[5].revents = 0;
		nfds = 6;
		XFlush(c->ctl);
		if (poll(pfd, (nfds_t)nfds, timeout) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (pfd[4].revents & POLLIN) {
			/*
			 * Input the server already sent goes first, so a frame
			 * showing the first key of a burst does not reach the
			 * privacy filter before that key opens the burst.
			 */
			if (!io_lost && (pfd[0].revents & POLLIN))
				XRecordProcessReplies(c->data);
			frames_drain(c->frames, emit_frame, c);
		}
		if (pfd[5].revents & POLLIN)
			cap__target_drain(c);
		if (o->extra_fd >= 0 && (pfd[3].revents & POLLIN) &&
		    sink->on_fd != NULL && (r = sink->on_fd(sink->arg)) != 0)
			break;
		if (o->stop_fd >= 0 && (pfd[2].revents & (POLLIN | POLLHUP))) {
			/* Take what the server already sent, then stop. */
			if (!io_lost)
				XRecordProcessReplies(c->data);
			/* Frames the last actions asked for, then the end. */
			frames_stop(c->frames);
			frames_drain(c->frames, emit_frame, c);
			emit_end(c, "stopped");
			r = c->err;
			break;
		}
	}
	return r;
}

int
capture_run(const struct capture_opts *o, const struct capture_sink *sink,
    struct capture_stats *st)
{
	struct cap *c = xcalloc(1, sizeof(*c));
	const char *dpyname = o->display ? o->display : getenv("DISPLAY");
	int r;

	XInitThreads(); /* the frame thread has a Display of its own */
	io_lost = 0;
	c->o = o;
	if ((o->categories & UT_CAT_ALL) == 0) {
		log_error("no data category to collect");
		r = UT_EINVAL;
		goto out;
	}
	c->sink = sink;
	if (dpyname == NULL || *dpyname == '\0') {
		log_error("no display: set DISPLAY or pass --display");
		r = UT_EX11;
		goto out;
	}
	XSetErrorHandler(on_x_error);
	XSetIOErrorHandler(on_io_error);
	if ((r = setup(c, dpyname)) < 0) {
		if (r == UT_EX11)
			log_error("cannot open display %s", dpyname);
		else
			log_error("display %s: %s (RECORD and XKB are required)",
			    dpyname, ut_strerror(r));
		goto out;
	}
	emit_session(c, dpyname);
	cap__monitors(c);
	cap__focus_update(c, 0);
	if ((o->categories & UT_CAT_FRAMES) &&
	    frames_start(dpyname, o->frame_fps, o->frame_lossless,
	    o->frame_quality, o->key_frame_request, o->policy, o->masks,
	    &c->frames) < 0)
		log_warn("cannot start screen frames");
	if (sink->ready != NULL)
		sink->ready(sink->arg, dpyname);

	r = run_loop(c, dpyname);
out:
	frames_stop(c->frames);
	frames_stats(c->frames, &c->st);
	frames_destroy(c->frames);
	c->frames = NULL;
	if (st != NULL)
		*st = c->st;
	teardown(c);
	free(c);
	return r;
}
