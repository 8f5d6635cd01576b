/*
 * reduce.c - raw records -> actions (see action.h).
 *
 * The reducer keeps a FIFO of pending actions ("pacts").  A pact is OPEN
 * while it may still grow (a click may become a double click, a type run may
 * get more text) and has `pending` key releases still expected.  The head
 * of the FIFO is delivered once it is closed and has no pending release,
 * or when it is forced out (FIFO full, held too long, or finish).
 *
 * Invariants:
 *  (1) Pacts are delivered in creation order, i.e. the order of the raw
 *      record that started them.
 *  (2) Every key, button and motion record pushed is attached to exactly
 *      one pact, unless the pact it belongs to was already forced out.
 *  (3) held[k].id names the pact that owns key k's press, or 0.
 *
 * Timing decisions (multi-click interval, type and scroll gaps) use the
 * records' monotonic timestamps; the focus of an action is looked up by X
 * server time when the action is delivered, because focus records come
 * from another X connection and may arrive slightly out of order.
 */
#include <stdlib.h>
#include <string.h>

#include <xkbcommon/xkbcommon.h>
#include <xkbcommon/xkbcommon-keysyms.h>

#include "usetrace/action.h"
#include "usetrace/jsonw.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"

#define QUEUE_MAX 512
#define FOCUS_RING 64
#define FRAME_RING 256
#define FRAME_WAIT_NS (1500ull * 1000000ull) /* frames arrive after input */
#define FORCE_AFTER_NS (5000ull * 1000000ull)
#define MS(ns) ((ns) / 1000000ull)

enum modbit { MB_CTRL = 1, MB_ALT = 2, MB_SHIFT = 4, MB_SUPER = 8,
	MB_ALTGR = 16, MB_HYPER = 32, MB_LOCK = 64 };

struct pact {
	struct ut_action a;
	uint64_t id;
	struct ut_point *path;
	size_t npath;
	struct ut_seq_range *seqs;
	size_t nseqs, seqcap;
	uint64_t mono_first, mono_last, last_press_mono;
	size_t textlen;
	int open;
	int pending;
};

struct held {
	uint64_t id;        /* owning pact, 0 if none */
	uint64_t press_seq;
	uint64_t press_mono;
	uint32_t press_xtime;
	int down;
	int modbits;        /* non-zero: a modifier key */
	int used;           /* modifier used by a chord / typing */
	char name[UT_EV_KEYNAME_MAX];
};

struct action_reducer {
	struct action_opts o;
	int opt_dc_ms, opt_dc_px;
	action_cb cb;
	void *arg;
	int stop;

	struct pact *q[QUEUE_MAX];
	size_t qn;
	uint64_t next_id;

	struct held held[256];
	/* Pointer */
	uint64_t press_id;      /* pact of the held button, 0 if none */
	uint8_t press_button;
	int32_t press_x, press_y;
	uint32_t press_maxdist;
	uint64_t last_click_id;
	int32_t px, py;
	uint64_t type_id, scroll_id, move_id;

	/* Time base */
	uint64_t now_mono;
	int have_session;
	uint64_t session_mono;
	int64_t session_wall, first_wall;

	struct ut_event *focus_ring;
	size_t focus_n, focus_head; /* ring of the last FOCUS_RING records */
	struct {
		uint64_t id;
		uint32_t done;
	} frames[FRAME_RING];          /* stored frames, newest last */
	size_t frame_n, frame_head;
};

static const char *kind_names[] = {
	"click", "double_click", "triple_click", "drag", "scroll", "type",
	"hotkey", "key", "move",
};

const char *
action_kind_name(enum ut_action_kind k)
{
	if ((unsigned)k >= UT_ARRAY_LEN(kind_names))
		return "unknown";
	return kind_names[k];
}

struct action_reducer *
action_reducer_create(const struct action_opts *opts, action_cb cb, void *arg)
{
	struct action_reducer *ar = xcalloc(1, sizeof(*ar));

	if (opts != NULL)
		ar->o = *opts;
	ar->opt_dc_ms = ar->o.double_click_ms != 0;
	ar->opt_dc_px = ar->o.double_click_px != 0;
	if (!ar->opt_dc_ms)
		ar->o.double_click_ms = 400;
	if (!ar->opt_dc_px)
		ar->o.double_click_px = 4;
	if (ar->o.type_gap_ms == 0)
		ar->o.type_gap_ms = 2000;
	if (ar->o.scroll_gap_ms == 0)
		ar->o.scroll_gap_ms = 500;
	ar->cb = cb;
	ar->arg = arg;
	ar->next_id = 1;
	ar->focus_ring = xcalloc(FOCUS_RING, sizeof(struct ut_event));
	return ar;
}

static uint32_t
drag_px(const struct action_reducer *ar)
{
	return ar->o.drag_px ? ar->o.drag_px : ar->o.double_click_px;
}

static void
pact_free(struct pact *p)
{
	if (p == NULL)
		return;
	free(p->path);
	free(p->seqs);
	memset(&p->a, 0, sizeof(p->a)); /* typed text */
	free(p);
}

static struct pact *
find(struct action_reducer *ar, uint64_t id)
{
	size_t i;

	if (id == 0)
		return NULL;
	for (i = ar->qn; i > 0; i--) {
		if (ar->q[i - 1]->id == id)
			return ar->q[i - 1];
	}
	return NULL;
}

static void
add_seq(struct pact *p, uint64_t seq)
{
	if (p->nseqs > 0 && p->seqs[p->nseqs - 1].last + 1 == seq) {
		p->seqs[p->nseqs - 1].last = seq;
		return;
	}
	if (p->nseqs == UT_ACTION_RANGES_MAX)
		return;
	if (p->nseqs == p->seqcap) {
		p->seqcap = p->seqcap ? p->seqcap * 2 : 4;
		p->seqs = xreallocarray(p->seqs, p->seqcap, sizeof(*p->seqs));
	}
	p->seqs[p->nseqs].first = p->seqs[p->nseqs].last = seq;
	p->nseqs++;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct ut_seq_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static void
normalise_seqs(struct pact *p)
{
	size_t i, o = 0;

	if (p->nseqs < 2)
		return;
	qsort(p->seqs, p->nseqs, sizeof(*p->seqs), cmp_range);
	for (i = 1; i < p->nseqs; i++) {
		if (p->seqs[i].first <= p->seqs[o].last + 1) {
			if (p->seqs[i].last > p->seqs[o].last)
				p->seqs[o].last = p->seqs[i].last;
		} else
			p->seqs[++o] = p->seqs[i];
	}
	p->nseqs = o + 1;
}

static void
add_point(struct pact *p, int32_t x, int32_t y, uint64_t mono)
{
	size_t i, o;

	if (p->npath == UT_ACTION_PATH_MAX) {
		/* Keep the first point and every other one after it. */
		for (i = 1, o = 1; i < p->npath; i += 2)
			p->path[o++] = p->path[i];
		p->npath = o;
	}
	if (p->path == NULL)
		p->path = xcalloc(UT_ACTION_PATH_MAX, sizeof(*p->path));
	p->path[p->npath].x = x;
	p->path[p->npath].y = y;
	p->path[p->npath].dt_ms = (uint32_t)MS(mono - p->mono_first);
	p->npath++;
}

/* Wrap-aware "a is not after b" for 32-bit X server times. */
static int
xtime_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static const struct ut_event *
focus_at(const struct action_reducer *ar, uint32_t xtime, uint64_t seq)
{
	const struct ut_event *best = NULL, *f;
	size_t i;

	for (i = 0; i < ar->focus_n; i++) {
		f = &ar->focus_ring[(ar->focus_head + FOCUS_RING - 1 - i) % FOCUS_RING];
		if (xtime != 0 && f->xtime != 0) {
			if (xtime_le(f->xtime, xtime))
				return f;
		} else if (f->seq < seq)
			return f;
		best = f;
	}
	/* Nothing earlier: an action before the first focus record. */
	return ar->focus_n == FOCUS_RING ? best : NULL;
}

/*
 * The frame the person saw before an action: the newest stored frame
 * whose grab completed strictly before the action's first X server time.
 */
static int64_t
frame_at(const struct action_reducer *ar, uint32_t xtime)
{
	int64_t best = -1;
	uint32_t best_done = 0;
	size_t i, k;

	if (xtime == 0)
		return -1;
	for (i = 0; i < ar->frame_n; i++) {
		k = (ar->frame_head + FRAME_RING - 1 - i) % FRAME_RING;
		if (xtime_le(xtime, ar->frames[k].done))
			continue; /* completed at or after the action */
		if (best < 0 || (int32_t)(ar->frames[k].done - best_done) > 0) {
			best = (int64_t)ar->frames[k].id;
			best_done = ar->frames[k].done;
		}
	}
	return best;
}

static int
deliver(struct action_reducer *ar, struct pact *p)
{
	size_t i;
	int r;

	normalise_seqs(p);
	p->a.path = p->path;
	p->a.npath = p->npath;
	p->a.seqs = p->seqs;
	p->a.nseqs = p->nseqs;
	p->a.duration_ms = MS(p->mono_last - p->mono_first);
	p->a.focus = focus_at(ar, p->a.xtime, p->nseqs ? p->seqs[0].first : 0);
	p->a.frame = frame_at(ar, p->a.xtime);
	for (i = 0; i < 256; i++) {
		if (ar->held[i].id == p->id)
			ar->held[i].id = 0;
	}
	if (ar->stop)
		return ar->stop;
	r = ar->cb(&p->a, ar->arg);
	if (r != 0)
		ar->stop = r;
	return r;
}

/* Delivers closed pacts from the head; force delivers everything. */
static int
drain(struct action_reducer *ar, int force)
{
	struct pact *p;
	int r = 0;

	while (ar->qn > 0) {
		p = ar->q[0];
		if (!force && ar->qn < QUEUE_MAX &&
		    (p->open || ar->now_mono - p->mono_first < FRAME_WAIT_NS ||
		    (p->pending > 0 && ar->now_mono - p->mono_last < FORCE_AFTER_NS)))
			break;
		r = deliver(ar, p);
		memmove(ar->q, ar->q + 1, (ar->qn - 1) * sizeof(ar->q[0]));
		ar->qn--;
		if (p->id == ar->type_id)
			ar->type_id = 0;
		if (p->id == ar->scroll_id)
			ar->scroll_id = 0;
		if (p->id == ar->move_id)
			ar->move_id = 0;
		if (p->id == ar->last_click_id)
			ar->last_click_id = 0;
		if (p->id == ar->press_id)
			ar->press_id = 0;
		pact_free(p);
		if (r != 0)
			break;
	}
	return r;
}

static void
close_id(struct action_reducer *ar, uint64_t *idp)
{
	struct pact *p = find(ar, *idp);

	if (p != NULL)
		p->open = 0;
	*idp = 0;
}

static struct pact *
pact_new(struct action_reducer *ar, enum ut_action_kind kind,
    const struct ut_event *ev)
{
	struct pact *p;

	if (ar->qn == QUEUE_MAX)
		(void)drain(ar, 1);
	p = xcalloc(1, sizeof(*p));
	p->id = ar->next_id++;
	p->a.kind = kind;
	p->a.frame = -1;
	p->a.xtime = ev->xtime;
	p->mono_first = p->mono_last = ev->mono_ns;
	if (ar->have_session)
		p->a.t_ms = (uint64_t)((ar->session_wall - ar->first_wall) / 1000000) +
		    MS(ev->mono_ns - ar->session_mono);
	p->open = 1;
	ar->q[ar->qn++] = p;
	/* A new non-move action ends the pointer move before it. */
	if (kind != UT_ACT_MOVE)
		close_id(ar, &ar->move_id);
	return p;
}

static void
touch(struct pact *p, const struct ut_event *ev)
{
	if (ev->mono_ns > p->mono_last)
		p->mono_last = ev->mono_ns;
	add_seq(p, ev->seq);
}

static int
modbits_of(uint32_t sym)
{
	switch (sym) {
	case XKB_KEY_Control_L: case XKB_KEY_Control_R:
		return MB_CTRL;
	case XKB_KEY_Alt_L: case XKB_KEY_Alt_R:
	case XKB_KEY_Meta_L: case XKB_KEY_Meta_R:
		return MB_ALT;
	case XKB_KEY_Shift_L: case XKB_KEY_Shift_R:
		return MB_SHIFT;
	case XKB_KEY_Super_L: case XKB_KEY_Super_R:
		return MB_SUPER;
	case XKB_KEY_Hyper_L: case XKB_KEY_Hyper_R:
		return MB_HYPER;
	case XKB_KEY_ISO_Level3_Shift: case XKB_KEY_ISO_Level5_Shift:
	case XKB_KEY_Mode_switch:
		return MB_ALTGR;
	case XKB_KEY_Caps_Lock: case XKB_KEY_Num_Lock: case XKB_KEY_Shift_Lock:
	case XKB_KEY_ISO_Next_Group: case XKB_KEY_ISO_Prev_Group:
	case XKB_KEY_ISO_First_Group: case XKB_KEY_ISO_Last_Group:
		return MB_LOCK;
	default:
		return 0;
	}
}

static int
held_mods(const struct action_reducer *ar)
{
	int i, m = 0;

	for (i = 0; i < 256; i++) {
		if (ar->held[i].down)
			m |= ar->held[i].modbits;
	}
	return m;
}

/* Marks held modifiers in mask as used by p, attaching their presses. */
static void
use_mods(struct action_reducer *ar, struct pact *p, int mask)
{
	struct pact *old;
	struct held *h;
	int i;

	for (i = 0; i < 256; i++) {
		h = &ar->held[i];
		if (!h->down || !(h->modbits & mask))
			continue;
		if (h->used && h->id == p->id)
			continue;
		if (!h->used)
			add_seq(p, h->press_seq);
		else if ((old = find(ar, h->id)) != NULL && old->pending > 0)
			old->pending--; /* the release now belongs to p */
		h->used = 1;
		h->id = p->id;
		p->pending++;
	}
}

static void
chord_name(char *out, size_t outsz, int mods, const struct ut_event *ev)
{
	char name[64];
	uint32_t sym = xkb_keysym_to_lower(ev->u.key.keysym);

	out[0] = '\0';
	if (mods & MB_CTRL)
		strncat(out, "ctrl+", outsz - strlen(out) - 1);
	if (mods & MB_ALT)
		strncat(out, "alt+", outsz - strlen(out) - 1);
	if (mods & MB_SHIFT)
		strncat(out, "shift+", outsz - strlen(out) - 1);
	if (mods & MB_SUPER)
		strncat(out, "super+", outsz - strlen(out) - 1);
	if (mods & MB_HYPER)
		strncat(out, "hyper+", outsz - strlen(out) - 1);
	if (mods & MB_ALTGR)
		strncat(out, "altgr+", outsz - strlen(out) - 1);
	if (xkb_keysym_get_name(sym, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "keycode%u", ev->u.key.keycode);
	strncat(out, name, outsz - strlen(out) - 1);
}

static void
key_press(struct action_reducer *ar, const struct ut_event *ev)
{
	struct held *h = &ar->held[ev->u.key.keycode];
	struct pact *p;
	const char *text;
	int mods;
	size_t n;

	if (h->down && h->id != 0 && (p = find(ar, h->id)) != NULL) {
		/* Autorepeat: the press continues its action. */
		touch(p, ev);
		p->a.repeat++;
		if (p->a.kind == UT_ACT_TYPE && (text = ut_key_typed(ev)) != NULL &&
		    p->textlen + strlen(text) < UT_ACTION_TEXT_MAX) {
			memcpy(p->a.text + p->textlen, text, strlen(text) + 1);
			p->textlen += strlen(text);
		}
		return;
	}
	memset(h, 0, sizeof(*h));
	h->down = 1;
	h->press_seq = ev->seq;
	h->press_mono = ev->mono_ns;
	h->press_xtime = ev->xtime;
	h->modbits = modbits_of(ev->u.key.keysym);
	snprintf(h->name, sizeof(h->name), "%s", ev->u.key.name);
	if (h->modbits != 0)
		return; /* owned by whatever it modifies, or a lone tap */

	mods = held_mods(ar);
	if (ev->u.key.state & UT_MOD_CONTROL)
		mods |= MB_CTRL;
	if (ev->u.key.state & UT_MOD_MOD1)
		mods |= MB_ALT;
	if (ev->u.key.state & UT_MOD_MOD4)
		mods |= MB_SUPER;
	if (ev->u.key.state & UT_MOD_SHIFT)
		mods |= MB_SHIFT;
	/*
	 * Typing or not is the one rule of typing.h, which the privacy filter
	 * uses for the bursts it scans: a held modifier key outside the event's
	 * core state does not make a chord of typed text here alone.
	 */
	text = ut_key_typed(ev);

	if (text != NULL) {
		p = find(ar, ar->type_id);
		n = strlen(text);
		if (p == NULL || !p->open || p->textlen + n >= UT_ACTION_TEXT_MAX ||
		    ev->mono_ns - p->mono_last > ar->o.type_gap_ms * 1000000ull) {
			close_id(ar, &ar->type_id);
			close_id(ar, &ar->scroll_id);
			p = pact_new(ar, UT_ACT_TYPE, ev);
			ar->type_id = p->id;
		}
		memcpy(p->a.text + p->textlen, text, n + 1);
		p->textlen += n;
		use_mods(ar, p, MB_SHIFT | MB_ALTGR | MB_LOCK);
	} else {
		close_id(ar, &ar->type_id);
		close_id(ar, &ar->scroll_id);
		p = pact_new(ar, mods & ~MB_LOCK ? UT_ACT_HOTKEY : UT_ACT_KEY, ev);
		chord_name(p->a.keys, sizeof(p->a.keys), mods & ~MB_LOCK, ev);
		use_mods(ar, p, ~0);
		p->open = 0;
	}
	touch(p, ev);
	p->pending++;
	h->id = p->id;
}

static void
key_release(struct action_reducer *ar, const struct ut_event *ev)
{
	struct held *h = &ar->held[ev->u.key.keycode];
	struct pact *p;

	if (!h->down) {
		/* Release without a press seen (recording started mid-press). */
		p = pact_new(ar, UT_ACT_KEY, ev);
		snprintf(p->a.keys, sizeof(p->a.keys), "%s", ev->u.key.name);
		touch(p, ev);
		p->open = 0;
		return;
	}
	h->down = 0;
	if (h->modbits != 0 && !h->used) {
		/* A lone modifier tap. */
		struct ut_event pe = *ev;

		pe.seq = h->press_seq;
		pe.mono_ns = h->press_mono;
		pe.xtime = h->press_xtime;
		close_id(ar, &ar->type_id);
		p = pact_new(ar, UT_ACT_KEY, &pe);
		snprintf(p->a.keys, sizeof(p->a.keys), "%s", h->name);
		add_seq(p, h->press_seq);
		touch(p, ev);
		p->open = 0;
		h->id = 0;
		return;
	}
	if ((p = find(ar, h->id)) != NULL) {
		touch(p, ev);
		if (p->pending > 0)
			p->pending--;
	}
	h->id = 0;
}

static uint32_t
dist(int32_t x0, int32_t y0, int32_t x1, int32_t y1)
{
	int64_t dx = (int64_t)x1 - x0, dy = (int64_t)y1 - y0;
	int64_t m = dx < 0 ? -dx : dx, k = dy < 0 ? -dy : dy;

	return (uint32_t)(m > k ? m : k); /* Chebyshev, as GTK's threshold */
}

static void
wheel(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p = find(ar, ar->scroll_id);
	int dx = 0, dy = 0;

	switch (ev->u.button.button) {
	case 4: dy = -1; break;
	case 5: dy = 1; break;
	case 6: dx = -1; break;
	default: dx = 1; break;
	}
	if (!ev->u.button.down) {
		if (p != NULL)
			touch(p, ev);
		else {
			/* Release of a notch whose scroll was delivered. */
			p = pact_new(ar, UT_ACT_SCROLL, ev);
			touch(p, ev);
			p->open = 0;
		}
		return;
	}
	if (p == NULL || !p->open ||
	    ev->mono_ns - p->mono_last > ar->o.scroll_gap_ms * 1000000ull ||
	    (dy != 0 && (p->a.dx != 0 || (p->a.dy > 0) != (dy > 0))) ||
	    (dx != 0 && (p->a.dy != 0 || (p->a.dx > 0) != (dx > 0)))) {
		close_id(ar, &ar->scroll_id);
		close_id(ar, &ar->type_id);
		p = pact_new(ar, UT_ACT_SCROLL, ev);
		p->a.has_pos = 1;
		p->a.x = ev->u.button.x;
		p->a.y = ev->u.button.y;
		ar->scroll_id = p->id;
	}
	p->a.dx += dx;
	p->a.dy += dy;
	touch(p, ev);
}

static void
button_press(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p;

	close_id(ar, &ar->type_id);
	close_id(ar, &ar->scroll_id);
	if (ar->press_id != 0) {
		/* A second button while one is held: ends the first gesture. */
		close_id(ar, &ar->press_id);
	}
	p = pact_new(ar, UT_ACT_CLICK, ev);
	p->a.has_pos = 1;
	p->a.x = p->a.end_x = ev->u.button.x;
	p->a.y = p->a.end_y = ev->u.button.y;
	p->a.button = ev->u.button.button;
	p->last_press_mono = ev->mono_ns;
	use_mods(ar, p, ~0);
	touch(p, ev);
	add_point(p, ev->u.button.x, ev->u.button.y, ev->mono_ns);
	ar->press_id = p->id;
	ar->press_button = ev->u.button.button;
	ar->press_x = ev->u.button.x;
	ar->press_y = ev->u.button.y;
	ar->press_maxdist = 0;
}

/* Newest pact before p that is not a pointer move, or NULL. */
static struct pact *
prev_non_move(struct action_reducer *ar, struct pact *p)
{
	size_t i;

	for (i = ar->qn; i > 0; i--) {
		if (ar->q[i - 1] == p)
			break;
	}
	while (i > 1) {
		i--;
		if (ar->q[i - 1]->a.kind != UT_ACT_MOVE)
			return ar->q[i - 1];
	}
	return NULL;
}

static void
remove_pact(struct action_reducer *ar, struct pact *p)
{
	size_t i;

	for (i = 0; i < ar->qn; i++) {
		if (ar->q[i] == p) {
			memmove(ar->q + i, ar->q + i + 1,
			    (ar->qn - i - 1) * sizeof(ar->q[0]));
			ar->qn--;
			break;
		}
	}
	pact_free(p);
}

static void
button_release(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p = find(ar, ar->press_id), *prev;
	size_t i;

	if (p == NULL || ev->u.button.button != ar->press_button) {
		/* Release without its press: its own closed click. */
		p = pact_new(ar, UT_ACT_CLICK, ev);
		p->a.has_pos = 1;
		p->a.x = p->a.end_x = ev->u.button.x;
		p->a.y = p->a.end_y = ev->u.button.y;
		p->a.button = ev->u.button.button;
		touch(p, ev);
		p->open = 0;
		return;
	}
	touch(p, ev);
	ar->press_id = 0;
	p->a.end_x = ev->u.button.x;
	p->a.end_y = ev->u.button.y;
	if (dist(ar->press_x, ar->press_y, ev->u.button.x, ev->u.button.y) >
	    ar->press_maxdist)
		ar->press_maxdist = dist(ar->press_x, ar->press_y,
		    ev->u.button.x, ev->u.button.y);
	if (ar->press_maxdist > drag_px(ar)) {
		p->a.kind = UT_ACT_DRAG;
		add_point(p, ev->u.button.x, ev->u.button.y, ev->mono_ns);
		p->open = 0;
		return;
	}
	free(p->path);
	p->path = NULL;
	p->npath = 0;
	prev = find(ar, ar->last_click_id);
	if (prev != NULL && prev == prev_non_move(ar, p) && prev->open &&
	    prev->a.button == p->a.button && prev->a.kind != UT_ACT_TRIPLE_CLICK &&
	    p->mono_first - prev->last_press_mono <=
	    ar->o.double_click_ms * 1000000ull &&
	    dist(prev->a.x, prev->a.y, p->a.x, p->a.y) <= ar->o.double_click_px) {
		/* Merge into the previous click, with any jitter between. */
		prev->a.kind++;
		prev->last_press_mono = p->mono_first;
		for (i = 0; i < p->nseqs; i++) {
			uint64_t s;

			for (s = p->seqs[i].first; s <= p->seqs[i].last; s++)
				add_seq(prev, s);
		}
		if (p->mono_last > prev->mono_last)
			prev->mono_last = p->mono_last;
		remove_pact(ar, p);
		return;
	}
	close_id(ar, &ar->last_click_id);
	ar->last_click_id = p->id;
}

static void
motion(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p = find(ar, ar->press_id);
	uint32_t d;

	ar->px = ev->u.motion.x;
	ar->py = ev->u.motion.y;
	if (p != NULL) {
		touch(p, ev);
		d = dist(ar->press_x, ar->press_y, ev->u.motion.x, ev->u.motion.y);
		if (d > ar->press_maxdist)
			ar->press_maxdist = d;
		add_point(p, ev->u.motion.x, ev->u.motion.y, ev->mono_ns);
		return;
	}
	p = find(ar, ar->move_id);
	if (p == NULL || !p->open) {
		p = pact_new(ar, UT_ACT_MOVE, ev);
		p->a.has_pos = 1;
		p->a.x = ev->u.motion.x;
		p->a.y = ev->u.motion.y;
		ar->move_id = p->id;
	}
	/* Moving away ends a pending multi-click. */
	{
		struct pact *c = find(ar, ar->last_click_id);

		if (c != NULL && dist(c->a.x, c->a.y, ev->u.motion.x,
		    ev->u.motion.y) > ar->o.double_click_px)
			close_id(ar, &ar->last_click_id);
	}
	p->a.end_x = ev->u.motion.x;
	p->a.end_y = ev->u.motion.y;
	add_point(p, ev->u.motion.x, ev->u.motion.y, ev->mono_ns);
	touch(p, ev);
}

/* Closes actions whose time has run out at ar->now_mono. */
static void
expire(struct action_reducer *ar)
{
	struct pact *p;
	size_t i;

	for (i = 0; i < ar->qn; i++) {
		p = ar->q[i];
		if (!p->open)
			continue;
		switch (p->a.kind) {
		case UT_ACT_CLICK:
		case UT_ACT_DOUBLE_CLICK:
		case UT_ACT_TRIPLE_CLICK:
			if (p->id != ar->press_id && ar->now_mono - p->last_press_mono >
			    ar->o.double_click_ms * 1000000ull)
				p->open = 0;
			break;
		case UT_ACT_TYPE:
			if (ar->now_mono - p->mono_last > ar->o.type_gap_ms * 1000000ull)
				p->open = 0;
			break;
		case UT_ACT_SCROLL:
			if (ar->now_mono - p->mono_last > ar->o.scroll_gap_ms * 1000000ull)
				p->open = 0;
			break;
		default:
			break;
		}
	}
}

static void
close_all(struct action_reducer *ar)
{
	size_t i;

	for (i = 0; i < ar->qn; i++)
		ar->q[i]->open = 0;
	ar->type_id = ar->scroll_id = ar->move_id = ar->last_click_id = 0;
	ar->press_id = 0;
}

int
action_reducer_push(struct action_reducer *ar, const struct ut_event *ev)
{
	if (ar->stop)
		return ar->stop;
	if (ev->mono_ns > ar->now_mono)
		ar->now_mono = ev->mono_ns;
	expire(ar);

	switch (ev->type) {
	case UT_EV_SESSION:
		close_all(ar);
		(void)drain(ar, 1);
		memset(ar->held, 0, sizeof(ar->held));
		if (!ar->have_session)
			ar->first_wall = ev->wall_ns;
		ar->have_session = 1;
		ar->session_mono = ev->mono_ns;
		ar->session_wall = ev->wall_ns;
		ar->now_mono = ev->mono_ns;
		if (!ar->opt_dc_ms && ev->u.session.double_click_ms != 0)
			ar->o.double_click_ms = ev->u.session.double_click_ms;
		if (!ar->opt_dc_px && ev->u.session.double_click_px != 0)
			ar->o.double_click_px = ev->u.session.double_click_px;
		break;
	case UT_EV_KEY:
		if (ev->u.key.down)
			key_press(ar, ev);
		else
			key_release(ar, ev);
		break;
	case UT_EV_BUTTON:
		if (ev->u.button.button >= 4 && ev->u.button.button <= 7)
			wheel(ar, ev);
		else if (ev->u.button.down)
			button_press(ar, ev);
		else
			button_release(ar, ev);
		break;
	case UT_EV_MOTION:
		motion(ar, ev);
		break;
	case UT_EV_FOCUS:
		/* Another window ends a type run; a new title alone does not. */
		if (ar->focus_n == 0 || ar->focus_ring[(ar->focus_head +
		    FOCUS_RING - 1) % FOCUS_RING].u.focus.window != ev->u.focus.window)
			close_id(ar, &ar->type_id);
		ar->focus_ring[ar->focus_head] = *ev;
		ar->focus_head = (ar->focus_head + 1) % FOCUS_RING;
		if (ar->focus_n < FOCUS_RING)
			ar->focus_n++;
		break;
	case UT_EV_FRAME:
		if (ev->u.frame.part + 1 == ev->u.frame.nparts) {
			ar->frames[ar->frame_head].id = ev->u.frame.frame_id;
			ar->frames[ar->frame_head].done = ev->u.frame.xtime_done;
			ar->frame_head = (ar->frame_head + 1) % FRAME_RING;
			if (ar->frame_n < FRAME_RING)
				ar->frame_n++;
		}
		break;
	case UT_EV_PAUSE:
	case UT_EV_END:
		close_all(ar);
		memset(ar->held, 0, sizeof(ar->held));
		break;
	default:
		break;
	}
	return drain(ar, 0);
}

int
action_reducer_finish(struct action_reducer *ar)
{
	if (ar->stop)
		return ar->stop;
	close_all(ar);
	return drain(ar, 1);
}

void
action_reducer_destroy(struct action_reducer *ar)
{
	size_t i;

	if (ar == NULL)
		return;
	for (i = 0; i < ar->qn; i++)
		pact_free(ar->q[i]);
	memset(ar->focus_ring, 0, FOCUS_RING * sizeof(struct ut_event));
	free(ar->focus_ring);
	memset(ar, 0, sizeof(*ar));
	free(ar);
}
