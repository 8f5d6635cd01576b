/*
 * frames_blackout.c - what must not show in a grab (PRIV-P4): the
 * indicator, windows of denied applications and titles
 * (policy_window_denied), their popups, menus and dialogs, and the windows
 * a secret was typed into (the capture_masks board, PRIV-P4-3: only the
 * box around the secrets' text where AT-SPI can say where it is).  Each
 * top-level's class, title and pid come through a small cache (window
 * cache below).  The frame thread calls this before and after each grab
 * and blacks both sets, before hashing and encoding.
 *
 * Window-manager decorations: the WM draws a window's title in its title
 * bar unredacted (the recorded title is redacted, the pixels would not
 * be), so for every top-level whose client the WM reparented into a frame,
 * the frame outside the client (title bar, borders) is black in every
 * grab - all decorations, whatever the title: simple, and nothing is lost
 * that the recorded (redacted) title does not carry.  Only the parts no
 * higher top-level covers are blacked (a title bar under another window is
 * not on screen; blacking there would cut into the window above).  The
 * client's inset in its frame is kept in the window cache and measured
 * again when the entry expires or the frame's size changes (maximize,
 * fullscreen, decorations toggled); the frame's own geometry comes with
 * every scan.  Without a WM (no reparenting) nothing is blacked for this.
 * Limits: a shaped or translucent (composited) window above a title bar
 * counts as covering its whole rectangle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xatom.h>
#include <X11/Xlib-xcb.h>
#include <X11/Xutil.h>
#include <X11/extensions/XRes.h>
#include <sodium.h>

#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "frames_int.h"

void
frames__black_rect(struct frames *f, struct grab *g, int x, int y, int w, int h)
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

/* The window cache: class, instance, title, pid of each top-level. */

unsigned long
frames__card_prop(struct frames *f, Window w, Atom prop, Atom type)
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
		wi->pid = frames__card_prop(f, w, f->a_pid, XA_CARDINAL);
		wi->transient_for = frames__card_prop(f, w, XA_WM_TRANSIENT_FOR, XA_WINDOW);
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
 * The client's inset in its WM frame top (whose geometry is wa): two
 * round trips, made only when the cache entry is new or the frame's size
 * changed.  A client not reparented (top itself): no decorations.  One
 * that cannot be measured: the whole frame counts as decoration.
 */
static void
deco_measure(struct frames *f, Window top, const XWindowAttributes *wa,
    struct winfo *wi)
{
	Window rr, child;
	int x, y, cx, cy, ow, oh;
	unsigned cw, ch, cb, cd;

	wi->deco = wi->client != None && wi->client != top;
	if (!wi->deco)
		return;
	ow = wa->width + 2 * wa->border_width;
	oh = wa->height + 2 * wa->border_width;
	wi->fw = wa->width;
	wi->fh = wa->height;
	wi->ml = wi->mr = wi->mb = 0;
	wi->mt = oh; /* unmeasured: all of it */
	if (!XTranslateCoordinates(f->d, wi->client, top, 0, 0, &x, &y,
	    &child) ||
	    !XGetGeometry(f->d, wi->client, &rr, &cx, &cy, &cw, &ch, &cb, &cd))
		return;
	x += wa->border_width;
	y += wa->border_width;
	if (x < 0 || y < 0 || x + (int)cw > ow || y + (int)ch > oh)
		return;
	wi->ml = x;
	wi->mt = y;
	wi->mr = ow - x - (int)cw;
	wi->mb = oh - y - (int)ch;
}

/*
 * client_info() through a small cache keyed by top-level window: class,
 * pid and transient-for are kept for CLIENT_CACHE_MS; the title is read
 * again every time when the policy denies titles (a title can turn a
 * window denied at any moment).  The decorations' inset (deco_measure)
 * is kept with them while the frame keeps its size.
 */
static int
client_cached(struct frames *f, Window top, const XWindowAttributes *wa,
    struct winfo *wi)
{
	struct ccache *e = NULL;
	uint64_t now = frames__now_ms();
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
		if (e->has)
			deco_measure(f, top, wa, &e->wi);
		*wi = e->wi;
		return e->has;
	}
	if (e->has && e->wi.deco &&
	    (e->wi.fw != wa->width || e->wi.fh != wa->height))
		deco_measure(f, top, wa, &e->wi);
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
	uint64_t now = frames__now_ms();

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

/* Why a top-level is blacked out of a grab. */
enum blackout_why {
	BO_NONE = 0,
	BO_INDICATOR,	/* our own indicator window */
	BO_DENIED,	/* denied application or title (policy_window_denied) */
	BO_OWNED,	/* a popup, menu or dialog of a denied or masked window */
	BO_MASKED,	/* a secret was typed into it: the whole window */
	BO_MASKED_TEXT,	/* ... only the boxes of its secrets' text */
};

/* One look at the top-levels (blackout_rects). */
struct bo_scan {
	Window *kids;
	unsigned n;
	struct winfo *wi;
	XWindowAttributes *wa;
	enum blackout_why *why;
	int *mi;		/* masked: its entry in the mask set */
	/* Denied and masked windows, whose popups go too. */
	unsigned nd;
	unsigned long dpid[BLACKOUT_MAX], dbase[BLACKOUT_MAX];
	Window dwin[BLACKOUT_MAX];
	unsigned long mask;	/* X resource-id mask of their clients */
};

static void
owner_add(struct bo_scan *sc, unsigned i)
{
	if (sc->nd == BLACKOUT_MAX)
		return;
	sc->dpid[sc->nd] = sc->wi[i].pid;
	sc->dbase[sc->nd] = sc->wi[i].client;
	sc->dwin[sc->nd++] = sc->wi[i].client;
}

/* Why top-level i is blacked out by itself (masked, indicator, denied). */
static void
classify(struct frames *f, struct bo_scan *sc, unsigned i, struct mask_set *ms)
{
	struct winfo *wi = &sc->wi[i];
	XWindowAttributes *wa = &sc->wa[i];
	unsigned j;

	if (wa->map_state != IsViewable || wa->class == InputOnly)
		return;
	if (!client_cached(f, sc->kids[i], wa, wi)) {
		wi->client = None;
		return;
	}
	for (j = 0; j < ms->n; j++)
		if (wi->client == ms->e[j].window ||
		    sc->kids[i] == ms->e[j].window) {
			/* PRIV-P4-3: a secret was typed into it. */
			sc->why[i] = BO_MASKED;
			sc->mi[i] = (int)j;
			ms->seen[j] = 1;
		}
	if (sc->why[i] == BO_MASKED && box_only(f, ms, (size_t)sc->mi[i],
	    wi->client, wi->pid, wa))
		sc->why[i] = BO_MASKED_TEXT;
	if (ms->active != None && wi->client == ms->active) {
		ms->active_rect.x = wa->x;
		ms->active_rect.y = wa->y;
		ms->active_rect.w = wa->width + 2 * wa->border_width;
		ms->active_rect.h = wa->height + 2 * wa->border_width;
	}
	/* Its popups (completions, menus) are blacked whole. */
	if (sc->why[i] == BO_MASKED || sc->why[i] == BO_MASKED_TEXT)
		owner_add(sc, i);
	if (sc->why[i] == BO_MASKED)
		return;
	if (strcmp(wi->inst, "usetrace-indicator") == 0)
		sc->why[i] = BO_INDICATOR;
	else if (policy_window_denied(f->policy, wi->cls, wi->inst, wi->title))
		sc->why[i] = BO_DENIED;
	if (sc->why[i] == BO_DENIED)
		owner_add(sc, i);
}

/*
 * Popups, menus and dialogs of denied and masked windows: created by the
 * same X client (menus often carry no WM_CLASS at all; the client by its
 * resource base, through XRes), same pid, or transient for such a window.
 */
static void
mark_owned(struct frames *f, struct bo_scan *sc)
{
	XResClient *cl = NULL;
	int ncl = 0, k;
	unsigned i, j;

	if (sc->nd == 0)
		return;
	if (f->have_xres && XResQueryClients(f->d, &ncl, &cl)) {
		for (j = 0; j < sc->nd; j++) {
			for (k = 0; k < ncl; k++)
				if ((sc->dwin[j] & ~cl[k].resource_mask) ==
				    cl[k].resource_base) {
					sc->mask = cl[k].resource_mask;
					break;
				}
			sc->dbase[j] = sc->dwin[j] & ~sc->mask;
		}
		XFree(cl);
	} else {
		for (j = 0; j < sc->nd; j++)
			sc->dbase[j] = sc->dwin[j] & ~sc->mask;
	}
	for (i = 0; i < sc->n; i++) {
		if (sc->why[i] != BO_NONE || sc->wa[i].map_state != IsViewable)
			continue;
		for (j = 0; j < sc->nd; j++)
			if ((sc->kids[i] & ~sc->mask) == sc->dbase[j] ||
			    (sc->wi[i].client != None && sc->wi[i].pid != 0 &&
			    sc->wi[i].pid == sc->dpid[j]) ||
			    (sc->wi[i].transient_for != None &&
			    sc->wi[i].transient_for == sc->dwin[j]))
				sc->why[i] = BO_OWNED;
	}
}

#define DECO_PIECES 64

/* p minus s into out[n..DECO_PIECES); the new count, -1 if they do not fit. */
static int
rect_minus(const struct rect *p, const struct rect *s, struct rect *out, int n)
{
	struct rect r[4];
	int k = 0, i, y0, y1;

	if (s->x >= p->x + p->w || s->x + s->w <= p->x ||
	    s->y >= p->y + p->h || s->y + s->h <= p->y) {
		r[k++] = *p;
	} else {
		y0 = s->y > p->y ? s->y : p->y;
		y1 = s->y + s->h < p->y + p->h ? s->y + s->h : p->y + p->h;
		if (s->y > p->y)
			r[k++] = (struct rect){ p->x, p->y, p->w, s->y - p->y };
		if (s->y + s->h < p->y + p->h)
			r[k++] = (struct rect){ p->x, y1, p->w,
			    p->y + p->h - y1 };
		if (s->x > p->x)
			r[k++] = (struct rect){ p->x, y0, s->x - p->x, y1 - y0 };
		if (s->x + s->w < p->x + p->w)
			r[k++] = (struct rect){ s->x + s->w, y0,
			    p->x + p->w - s->x - s->w, y1 - y0 };
	}
	if (n + k > DECO_PIECES)
		return -1;
	for (i = 0; i < k; i++)
		out[n + i] = r[i];
	return n + k;
}

/*
 * The decorations of top-level i (its frame outside the client) that no
 * higher viewable top-level covers, into out[no..max).  Returns the new
 * count, or max + 1.  Clipping stops, keeping more than needed, if the
 * pieces outgrow DECO_PIECES.
 */
static unsigned
deco_rects(const struct bo_scan *sc, unsigned i, struct rect *out,
    unsigned no, unsigned max)
{
	const XWindowAttributes *wa = &sc->wa[i];
	const struct winfo *wi = &sc->wi[i];
	struct rect a[DECO_PIECES], b[DECO_PIECES], o, c, s;
	int n = 0, m, k;
	unsigned j;

	o = (struct rect){ wa->x, wa->y, wa->width + 2 * wa->border_width,
	    wa->height + 2 * wa->border_width };
	c = (struct rect){ o.x + wi->ml, o.y + wi->mt, o.w - wi->ml - wi->mr,
	    o.h - wi->mt - wi->mb };
	if (c.w < 0)
		c.w = 0;
	if (c.h < 0)
		c.h = 0;
	/* Top, bottom, left, right of the client. */
	a[n++] = (struct rect){ o.x, o.y, o.w, c.y - o.y };
	a[n++] = (struct rect){ o.x, c.y + c.h, o.w, o.y + o.h - c.y - c.h };
	a[n++] = (struct rect){ o.x, c.y, c.x - o.x, c.h };
	a[n++] = (struct rect){ c.x + c.w, c.y, o.x + o.w - c.x - c.w, c.h };
	for (k = m = 0; k < n; k++)
		if (a[k].w > 0 && a[k].h > 0)
			a[m++] = a[k];
	n = m;
	/* XQueryTree lists the top-levels bottom to top. */
	for (j = i + 1; j < sc->n && n > 0; j++) {
		if (sc->wa[j].map_state != IsViewable ||
		    sc->wa[j].class == InputOnly)
			continue;
		s = (struct rect){ sc->wa[j].x, sc->wa[j].y,
		    sc->wa[j].width + 2 * sc->wa[j].border_width,
		    sc->wa[j].height + 2 * sc->wa[j].border_width };
		for (k = m = 0; k < n && m >= 0; k++)
			m = rect_minus(&a[k], &s, b, m);
		if (m < 0)
			break; /* too many pieces: keep a */
		memcpy(a, b, (size_t)m * sizeof(a[0]));
		n = m;
	}
	for (k = 0; k < n; k++) {
		if (no == max)
			return max + 1;
		out[no++] = a[k];
	}
	return no;
}

/*
 * The rectangles of sc into out[no..max): whole windows, the decorations
 * of the others, then the text boxes of BO_MASKED_TEXT windows seen in the
 * last HIST_MS.  Returns the new count, or max + 1 when they do not all
 * fit.
 */
static unsigned
rects_of(const struct bo_scan *sc, const struct mask_set *ms,
    struct rect *out, unsigned no, unsigned max)
{
	uint64_t now = frames__now_ms();
	unsigned i, h;

	for (i = 0; i < sc->n; i++) {
		if (sc->why[i] == BO_NONE || sc->why[i] == BO_MASKED_TEXT) {
			if (sc->wi[i].client != None && sc->wi[i].deco &&
			    sc->wa[i].map_state == IsViewable)
				no = deco_rects(sc, i, out, no, max);
			if (no > max)
				return no;
			continue;
		}
		if (no == max)
			return max + 1;
		out[no].x = sc->wa[i].x;
		out[no].y = sc->wa[i].y;
		out[no].w = sc->wa[i].width + 2 * sc->wa[i].border_width;
		out[no].h = sc->wa[i].height + 2 * sc->wa[i].border_width;
		no++;
	}
	for (i = 0; i < sc->n; i++) {
		if (sc->why[i] != BO_MASKED_TEXT)
			continue;
		for (h = 0; h < HIST_MAX; h++)
			if (ms->hist[h].win == ms->e[sc->mi[i]].window &&
			    now - ms->hist[h].ms < HIST_MS) {
				if (no == max)
					return max + 1;
				out[no++] = ms->hist[h].r;
			}
	}
	return no;
}

static unsigned
whole_screen(struct frames *f, struct rect *out)
{
	out[0].x = out[0].y = 0;
	out[0].w = f->w;
	out[0].h = f->h;
	return 1;
}

unsigned
frames__blackout_rects(struct frames *f, struct rect *out, unsigned max,
    struct mask_set *ms)
{
	struct bo_scan *sc;
	Window rr, pp;
	unsigned i, j, no = 0;

	for (j = 0; j < ms->n; j++)
		if (ms->e[j].window == 0)
			ms->overflow = 1;
	/*
	 * More secret windows than we track, or a secret typed with no
	 * focused window known (window 0): all of the screen.
	 */
	if (ms->overflow && max > 0)
		no = whole_screen(f, out);
	sc = xcalloc(1, sizeof(*sc));
	sc->mask = 0x1fffff;
	if (!XQueryTree(f->d, f->root, &rr, &pp, &sc->kids, &sc->n) ||
	    sc->n == 0) {
		/* Masked windows, and no way to find them. */
		if (ms->n > 0 && no == 0 && max > 0)
			no = whole_screen(f, out);
		if (sc->kids != NULL)
			XFree(sc->kids);
		free(sc);
		return no;
	}
	sc->wi = xcalloc(sc->n, sizeof(*sc->wi));
	sc->wa = xcalloc(sc->n, sizeof(*sc->wa));
	sc->why = xcalloc(sc->n, sizeof(*sc->why));
	sc->mi = xcalloc(sc->n, sizeof(*sc->mi));
	top_attributes(f, sc->kids, sc->n, sc->wa);
	for (i = 0; i < sc->n; i++)
		classify(f, sc, i, ms);
	mark_owned(f, sc);
	no = rects_of(sc, ms, out, no, max);
	/* A masked window not matched above may still show (PRIV-P4-3). */
	if (no > max || unseen_viewable(f, ms))
		no = whole_screen(f, out); /* cannot black all it must */
	memset(sc->wi, 0, sc->n * sizeof(*sc->wi)); /* titles */
	free(sc->wi);
	free(sc->wa);
	free(sc->why);
	free(sc->mi);
	XFree(sc->kids);
	free(sc);
	return no;
}

/*
 * Masked windows that were not viewable in this grab may have been
 * destroyed: about once a second, ask; a window that no longer exists
 * leaves the board (its pixels cannot show again).  An unmapped one stays.
 */
void
frames__forget_vanished(struct frames *f, const struct mask_set *ms)
{
	xcb_connection_t *xc = XGetXCBConnection(f->d);
	xcb_get_window_attributes_reply_t *ra;
	xcb_generic_error_t *e;
	size_t j;

	if (ms->n == 0 || frames__now_ms() - f->masks_checked_ms < 1000)
		return;
	f->masks_checked_ms = frames__now_ms();
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
