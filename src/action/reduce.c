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
#include "reduce_int.h"

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

uint32_t
red__drag_px(const struct action_reducer *ar)
{
	return ar->o.drag_px ? ar->o.drag_px : ar->o.double_click_px;
}

void
red__pact_free(struct pact *p)
{
	if (p == NULL)
		return;
	free(p->path);
	free(p->seqs);
	memset(&p->a, 0, sizeof(p->a)); /* typed text */
	memset(&p->target, 0, sizeof(p->target)); /* its name */
	free(p);
}

struct pact *
red__find(struct action_reducer *ar, uint64_t id)
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

void
red__add_seq(struct pact *p, uint64_t seq)
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

void
red__add_point(struct pact *p, int32_t x, int32_t y, uint64_t mono)
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

/*
 * A TARGET record goes to the pending action that holds its press (it
 * comes within AT-SPI's budget, well before the action is delivered); the
 * first one an action gets is kept.  A press already delivered or not
 * recorded: dropped.
 */
static void
attach_target(struct action_reducer *ar, const struct ut_event *ev)
{
	uint64_t s = ev->u.target.action_seq;
	struct pact *p;
	size_t i, k;

	for (i = ar->qn; i-- > 0;) {
		p = ar->q[i];
		for (k = 0; k < p->nseqs; k++) {
			if (s < p->seqs[k].first || s > p->seqs[k].last)
				continue;
			if (p->target.type != UT_EV_TARGET)
				p->target = *ev;
			return;
		}
	}
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
	p->a.target = p->target.type == UT_EV_TARGET ? &p->target : NULL;
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
		red__pact_free(p);
		if (r != 0)
			break;
	}
	return r;
}

void
red__close_id(struct action_reducer *ar, uint64_t *idp)
{
	struct pact *p = red__find(ar, *idp);

	if (p != NULL)
		p->open = 0;
	*idp = 0;
}

struct pact *
red__pact_new(struct action_reducer *ar, enum ut_action_kind kind,
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
		red__close_id(ar, &ar->move_id);
	return p;
}

void
red__touch(struct pact *p, const struct ut_event *ev)
{
	if (ev->mono_ns > p->mono_last)
		p->mono_last = ev->mono_ns;
	red__add_seq(p, ev->seq);
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
			red__key_press(ar, ev);
		else
			red__key_release(ar, ev);
		break;
	case UT_EV_BUTTON:
		if (ev->u.button.button >= 4 && ev->u.button.button <= 7)
			red__wheel(ar, ev);
		else if (ev->u.button.down)
			red__button_press(ar, ev);
		else
			red__button_release(ar, ev);
		break;
	case UT_EV_MOTION:
		red__motion(ar, ev);
		break;
	case UT_EV_FOCUS:
		/* Another window ends a type run; a new title alone does not. */
		if (ar->focus_n == 0 || ar->focus_ring[(ar->focus_head +
		    FOCUS_RING - 1) % FOCUS_RING].u.focus.window != ev->u.focus.window)
			red__close_id(ar, &ar->type_id);
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
	case UT_EV_TARGET:
		attach_target(ar, ev);
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
		red__pact_free(ar->q[i]);
	memset(ar->focus_ring, 0, FOCUS_RING * sizeof(struct ut_event));
	free(ar->focus_ring);
	memset(ar, 0, sizeof(*ar));
	free(ar);
}
