/*
 * focus.c - the focused window and the monitor layout.
 *
 * A FOCUS record is emitted when _NET_ACTIVE_WINDOW (EWMH) changes, and when
 * the active window's title (_NET_WM_NAME, else WM_NAME) changes; it
 * carries WM_CLASS, the title as UTF-8, _NET_WM_PID and the geometry in
 * root coordinates.  Without an EWMH window manager the X input focus is
 * polled on every tick instead.  Windows can vanish at any moment, so X
 * errors from these requests are expected and ignored (counted).
 *
 * Invariant: c->active is the window whose PropertyNotify we selected, or
 * None.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <xcb/randr.h>

#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "capture_int.h"

#define PROP_MAX_LONGS 4096 /* 16 KiB: more than any title we keep */

static int
get_prop(struct cap *c, Window w, Atom prop, Atom type, unsigned char **data,
    unsigned long *n, int *format)
{
	Atom actual;
	unsigned long after;

	*data = NULL;
	if (XGetWindowProperty(c->ctl, w, prop, 0, PROP_MAX_LONGS, False, type,
	    &actual, format, n, &after, data) != Success || *data == NULL) {
		if (*data != NULL)
			XFree(*data);
		*data = NULL;
		return -1;
	}
	if (actual == None) {
		XFree(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

static Window
active_window(struct cap *c)
{
	unsigned char *d;
	unsigned long n;
	int fmt;
	Window w = None;

	if (get_prop(c, c->root, c->a_active, XA_WINDOW, &d, &n, &fmt) == 0) {
		if (fmt == 32 && n >= 1)
			w = (Window)((unsigned long *)(void *)d)[0];
		XFree(d);
	}
	return w;
}

static void
read_title(struct cap *c, Window w, char *out, size_t outsz)
{
	unsigned char *d;
	unsigned long n;
	int fmt, cnt = 0;
	XTextProperty tp;
	char **list = NULL;

	out[0] = '\0';
	if (get_prop(c, w, c->a_net_wm_name, c->a_utf8, &d, &n, &fmt) == 0) {
		if (fmt == 8)
			ut_strlcpy_utf8(out, (const char *)d, n, outsz);
		XFree(d);
		return;
	}
	if (XGetWMName(c->ctl, w, &tp) && tp.value != NULL) {
		if (Xutf8TextPropertyToTextList(c->ctl, &tp, &list, &cnt) >= Success &&
		    cnt > 0 && list != NULL && list[0] != NULL)
			ut_strlcpy_utf8(out, list[0], strlen(list[0]), outsz);
		if (list != NULL)
			XFreeStringList(list);
		XFree(tp.value);
	}
}

/*
 * PRIV-P4-1 whatever is collected: the policy's deny lists match WM_CLASS
 * and titles even when "apps" or "titles" are not collected.  What the
 * record already holds (fill_focus read it) is used as is; what it may
 * not hold is read here for the decision only, never put in the record,
 * and wiped.  The record says denied = 1; the privacy filter trusts it.
 */
static void
deny_check(struct cap *c, Window w, struct ut_event *ev)
{
	const struct policy *p = c->o->policy;
	XClassHint ch = { NULL, NULL };
	char title[UT_EV_TITLE_MAX];
	const char *app = ev->u.focus.app, *inst = ev->u.focus.instance;
	const char *t = ev->u.focus.title;

	if (p == NULL)
		return;
	/*
	 * What the record does not carry (its category is not collected)
	 * is read here for the rule alone, and not kept.  No WM_CLASS: ""
	 * (denied when an allow list is set).
	 */
	if (!(c->o->categories & UT_CAT_APPS)) {
		app = inst = "";
		if ((p->deny_apps.n > 0 || p->allow_apps.n > 0) &&
		    !XGetClassHint(c->ctl, w, &ch))
			ch.res_class = ch.res_name = NULL;
		app = ch.res_class ? ch.res_class : "";
		inst = ch.res_name ? ch.res_name : "";
	}
	title[0] = '\0';
	if (!(c->o->categories & UT_CAT_TITLES)) {
		t = title;
		if (p->deny_titles.n > 0)
			read_title(c, w, title, sizeof(title));
	}
	ev->u.focus.denied = (uint8_t)policy_window_denied(p, app, inst, t);
	if (ch.res_class != NULL)
		XFree(ch.res_class);
	if (ch.res_name != NULL)
		XFree(ch.res_name);
	sodium_memzero(title, sizeof(title));
}

static void
fill_focus(struct cap *c, Window w, struct ut_event *ev)
{
	XClassHint ch = { NULL, NULL };
	XWindowAttributes wa;
	unsigned char *d;
	unsigned long n;
	int fmt, x, y;
	Window child;

	ev->u.focus.window = (uint32_t)w;
	if (w == None)
		return;
	/* PRIV-CAT: application names only with "apps", titles with "titles". */
	if ((c->o->categories & UT_CAT_APPS) && XGetClassHint(c->ctl, w, &ch)) {
		if (ch.res_class != NULL)
			ut_strlcpy_utf8(ev->u.focus.app, ch.res_class,
			    strlen(ch.res_class), sizeof(ev->u.focus.app));
		if (ch.res_name != NULL)
			ut_strlcpy_utf8(ev->u.focus.instance, ch.res_name,
			    strlen(ch.res_name), sizeof(ev->u.focus.instance));
		XFree(ch.res_class);
		XFree(ch.res_name);
	}
	if (c->o->categories & UT_CAT_TITLES)
		read_title(c, w, ev->u.focus.title, sizeof(ev->u.focus.title));
	deny_check(c, w, ev);
	if ((c->o->categories & UT_CAT_APPS) &&
	    get_prop(c, w, c->a_pid, XA_CARDINAL, &d, &n, &fmt) == 0) {
		if (fmt == 32 && n >= 1)
			ev->u.focus.pid = (uint32_t)((unsigned long *)(void *)d)[0];
		XFree(d);
	}
	if (XGetWindowAttributes(c->ctl, w, &wa) &&
	    XTranslateCoordinates(c->ctl, w, c->root, 0, 0, &x, &y, &child)) {
		ev->u.focus.x = x;
		ev->u.focus.y = y;
		ev->u.focus.w = (uint32_t)wa.width;
		ev->u.focus.h = (uint32_t)wa.height;
	}
}

/* Without EWMH: the top-level client holding the input focus. */
static Window
input_focus_toplevel(struct cap *c)
{
	Window w, rootw, parent, *kids = NULL;
	unsigned int nk;
	int rev;

	XGetInputFocus(c->ctl, &w, &rev);
	if (w == None || w == PointerRoot)
		return None;
	for (;;) {
		if (!XQueryTree(c->ctl, w, &rootw, &parent, &kids, &nk))
			return None;
		if (kids != NULL)
			XFree(kids);
		if (parent == rootw || parent == None)
			return w;
		w = parent;
	}
}

void
cap__focus_update(struct cap *c, uint32_t xtime)
{
	struct ut_event ev;
	Window w = c->ewmh ? active_window(c) : input_focus_toplevel(c);

	if (w != c->active) {
		if (c->active != None)
			XSelectInput(c->ctl, c->active, NoEventMask);
		if (w != None)
			XSelectInput(c->ctl, w, PropertyChangeMask);
		c->active = w;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FOCUS;
	ev.sensitivity = UT_SENS_CONTENT;
	ev.xtime = xtime;
	fill_focus(c, w, &ev);
	if (c->have_focus &&
	    ev.u.focus.window == c->last_focus.u.focus.window &&
	    ev.u.focus.denied == c->last_focus.u.focus.denied &&
	    strcmp(ev.u.focus.title, c->last_focus.u.focus.title) == 0 &&
	    strcmp(ev.u.focus.app, c->last_focus.u.focus.app) == 0)
		return;
	c->last_focus = ev;
	c->have_focus = true;
	c->st.focus++;
	cap__emit(c, &ev);
}

void
cap__focus_event(struct cap *c, XEvent *e)
{
	XPropertyEvent *pe;

	if (e->type != PropertyNotify)
		return;
	pe = &e->xproperty;
	if (pe->window == c->root && pe->atom == c->a_active)
		cap__focus_update(c, (uint32_t)pe->time);
	else if (pe->window == c->active && pe->window != None &&
	    (pe->atom == c->a_net_wm_name || pe->atom == XA_WM_NAME ||
	    pe->atom == XA_WM_CLASS))
		cap__focus_update(c, (uint32_t)pe->time);
}

int
cap__focus_init(struct cap *c)
{
	unsigned char *d;
	unsigned long n;
	int fmt;

	c->a_active = XInternAtom(c->ctl, "_NET_ACTIVE_WINDOW", False);
	c->a_net_wm_name = XInternAtom(c->ctl, "_NET_WM_NAME", False);
	c->a_utf8 = XInternAtom(c->ctl, "UTF8_STRING", False);
	c->a_pid = XInternAtom(c->ctl, "_NET_WM_PID", False);
	c->a_wm_check = XInternAtom(c->ctl, "_NET_SUPPORTING_WM_CHECK", False);
	c->ewmh = false;
	if (get_prop(c, c->root, c->a_wm_check, XA_WINDOW, &d, &n, &fmt) == 0) {
		c->ewmh = fmt == 32 && n >= 1;
		XFree(d);
	}
	if (!c->ewmh)
		log_warn("no EWMH window manager; following the X input focus");
	/*
	 * Input masks on the root window: we ignore these events, but the X
	 * server only flushes RECORD data when some client has output
	 * pending, so input that no application selects would otherwise sit
	 * in the server's RECORD buffer (tens of ms).  Unselected key and
	 * motion events propagate to the root, so every one now produces
	 * output somewhere and is flushed at once.
	 */
	XSelectInput(c->ctl, c->root, PropertyChangeMask | PointerMotionMask |
	    KeyPressMask | KeyReleaseMask);
	return 0;
}

void
cap__monitors(struct cap *c)
{
	xcb_randr_get_monitors_cookie_t ck;
	xcb_randr_get_monitors_reply_t *rep;
	xcb_randr_monitor_info_iterator_t it;
	xcb_get_atom_name_reply_t *an;
	struct ut_event ev;
	uint32_t i = 0;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_MONITORS;
	ev.sensitivity = UT_SENS_NONE;
	ck = xcb_randr_get_monitors(c->xc, (xcb_window_t)c->root, 1);
	rep = xcb_randr_get_monitors_reply(c->xc, ck, NULL);
	if (rep != NULL) {
		for (it = xcb_randr_get_monitors_monitors_iterator(rep);
		    it.rem > 0 && i < UT_EV_MONITORS_MAX;
		    xcb_randr_monitor_info_next(&it), i++) {
			struct ut_monitor *m = &ev.u.monitors.m[i];

			m->x = it.data->x;
			m->y = it.data->y;
			m->w = it.data->width;
			m->h = it.data->height;
			m->primary = it.data->primary != 0;
			an = xcb_get_atom_name_reply(c->xc,
			    xcb_get_atom_name(c->xc, it.data->name), NULL);
			if (an != NULL) {
				ut_strlcpy_utf8(m->name, xcb_get_atom_name_name(an),
				    (size_t)xcb_get_atom_name_name_length(an),
				    sizeof(m->name));
				free(an);
			}
		}
		free(rep);
	}
	if (i == 0) {
		/* No RandR monitors: the whole screen is one. */
		ev.u.monitors.m[0].w = (uint32_t)DisplayWidth(c->ctl, DefaultScreen(c->ctl));
		ev.u.monitors.m[0].h = (uint32_t)DisplayHeight(c->ctl, DefaultScreen(c->ctl));
		ev.u.monitors.m[0].primary = true;
		snprintf(ev.u.monitors.m[0].name, sizeof(ev.u.monitors.m[0].name), "screen");
		i = 1;
	}
	ev.u.monitors.n = i;
	cap__emit(c, &ev);
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
void
cap__focus_before_key(struct cap *c, uint32_t xtime)
{
	XEvent e;

	if (c->ctl == NULL || xtime == 0)
		return;
	while (!c->err && XCheckIfEvent(c->ctl, &e, property_before,
	    (XPointer)&xtime))
		cap__focus_event(c, &e);
}
