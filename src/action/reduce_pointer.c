/*
 * reduce_pointer.c - button, wheel and motion records -> actions
 * (reduce_int.h): clicks that become double and triple clicks within the
 * multi-click interval and distance, drags past the drag distance, wheel
 * notches gathered into scrolls, and pointer moves.
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

static uint32_t
dist(int32_t x0, int32_t y0, int32_t x1, int32_t y1)
{
	int64_t dx = (int64_t)x1 - x0, dy = (int64_t)y1 - y0;
	int64_t m = dx < 0 ? -dx : dx, k = dy < 0 ? -dy : dy;

	return (uint32_t)(m > k ? m : k); /* Chebyshev, as GTK's threshold */
}

void
red__wheel(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p = red__find(ar, ar->scroll_id);
	int dx = 0, dy = 0;

	switch (ev->u.button.button) {
	case 4: dy = -1; break;
	case 5: dy = 1; break;
	case 6: dx = -1; break;
	default: dx = 1; break;
	}
	if (!ev->u.button.down) {
		if (p != NULL)
			red__touch(p, ev);
		else {
			/* Release of a notch whose scroll was delivered. */
			p = red__pact_new(ar, UT_ACT_SCROLL, ev);
			red__touch(p, ev);
			p->open = 0;
		}
		return;
	}
	if (p == NULL || !p->open ||
	    ev->mono_ns - p->mono_last > ar->o.scroll_gap_ms * 1000000ull ||
	    (dy != 0 && (p->a.dx != 0 || (p->a.dy > 0) != (dy > 0))) ||
	    (dx != 0 && (p->a.dy != 0 || (p->a.dx > 0) != (dx > 0)))) {
		red__close_id(ar, &ar->scroll_id);
		red__close_id(ar, &ar->type_id);
		p = red__pact_new(ar, UT_ACT_SCROLL, ev);
		p->a.has_pos = 1;
		p->a.x = ev->u.button.x;
		p->a.y = ev->u.button.y;
		ar->scroll_id = p->id;
	}
	p->a.dx += dx;
	p->a.dy += dy;
	red__touch(p, ev);
}

void
red__button_press(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p;

	red__close_id(ar, &ar->type_id);
	red__close_id(ar, &ar->scroll_id);
	if (ar->press_id != 0) {
		/* A second button while one is held: ends the first gesture. */
		red__close_id(ar, &ar->press_id);
	}
	p = red__pact_new(ar, UT_ACT_CLICK, ev);
	p->a.has_pos = 1;
	p->a.x = p->a.end_x = ev->u.button.x;
	p->a.y = p->a.end_y = ev->u.button.y;
	p->a.button = ev->u.button.button;
	p->last_press_mono = ev->mono_ns;
	red__use_mods(ar, p, ~0);
	red__touch(p, ev);
	red__add_point(p, ev->u.button.x, ev->u.button.y, ev->mono_ns);
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
	red__pact_free(p);
}

void
red__button_release(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p = red__find(ar, ar->press_id), *prev;
	size_t i;

	if (p == NULL || ev->u.button.button != ar->press_button) {
		/* Release without its press: its own closed click. */
		p = red__pact_new(ar, UT_ACT_CLICK, ev);
		p->a.has_pos = 1;
		p->a.x = p->a.end_x = ev->u.button.x;
		p->a.y = p->a.end_y = ev->u.button.y;
		p->a.button = ev->u.button.button;
		red__touch(p, ev);
		p->open = 0;
		return;
	}
	red__touch(p, ev);
	ar->press_id = 0;
	p->a.end_x = ev->u.button.x;
	p->a.end_y = ev->u.button.y;
	if (dist(ar->press_x, ar->press_y, ev->u.button.x, ev->u.button.y) >
	    ar->press_maxdist)
		ar->press_maxdist = dist(ar->press_x, ar->press_y,
		    ev->u.button.x, ev->u.button.y);
	if (ar->press_maxdist > red__drag_px(ar)) {
		p->a.kind = UT_ACT_DRAG;
		red__add_point(p, ev->u.button.x, ev->u.button.y, ev->mono_ns);
		p->open = 0;
		return;
	}
	free(p->path);
	p->path = NULL;
	p->npath = 0;
	prev = red__find(ar, ar->last_click_id);
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
				red__add_seq(prev, s);
		}
		if (p->mono_last > prev->mono_last)
			prev->mono_last = p->mono_last;
		remove_pact(ar, p);
		return;
	}
	red__close_id(ar, &ar->last_click_id);
	ar->last_click_id = p->id;
}

void
red__motion(struct action_reducer *ar, const struct ut_event *ev)
{
	struct pact *p = red__find(ar, ar->press_id);
	uint32_t d;

	ar->px = ev->u.motion.x;
	ar->py = ev->u.motion.y;
	if (p != NULL) {
		red__touch(p, ev);
		d = dist(ar->press_x, ar->press_y, ev->u.motion.x, ev->u.motion.y);
		if (d > ar->press_maxdist)
			ar->press_maxdist = d;
		red__add_point(p, ev->u.motion.x, ev->u.motion.y, ev->mono_ns);
		return;
	}
	p = red__find(ar, ar->move_id);
	if (p == NULL || !p->open) {
		p = red__pact_new(ar, UT_ACT_MOVE, ev);
		p->a.has_pos = 1;
		p->a.x = ev->u.motion.x;
		p->a.y = ev->u.motion.y;
		ar->move_id = p->id;
	}
	/* Moving away ends a pending multi-click. */
	{
		struct pact *c = red__find(ar, ar->last_click_id);

		if (c != NULL && dist(c->a.x, c->a.y, ev->u.motion.x,
		    ev->u.motion.y) > ar->o.double_click_px)
			red__close_id(ar, &ar->last_click_id);
	}
	p->a.end_x = ev->u.motion.x;
	p->a.end_y = ev->u.motion.y;
	red__add_point(p, ev->u.motion.x, ev->u.motion.y, ev->mono_ns);
	red__touch(p, ev);
}
