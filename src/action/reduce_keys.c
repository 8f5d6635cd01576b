/*
 * reduce_keys.c - key records -> actions (reduce_int.h): a press that
 * types (ut_key_typed, the one rule the privacy filter uses too) joins
 * the open "type" action or starts one; any other press is a "key" or,
 * with Control / Alt / Super / Hyper held, a "hotkey" named by its chord.
 * Modifier presses belong to whatever they modify (use_mods), or are a
 * lone tap; a release closes what its press began.
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
void
red__use_mods(struct action_reducer *ar, struct pact *p, int mask)
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
			red__add_seq(p, h->press_seq);
		else if ((old = red__find(ar, h->id)) != NULL && old->pending > 0)
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

void
red__key_press(struct action_reducer *ar, const struct ut_event *ev)
{
	struct held *h = &ar->held[ev->u.key.keycode];
	struct pact *p;
	const char *text;
	int mods;
	size_t n;

	if (h->down && h->id != 0 && (p = red__find(ar, h->id)) != NULL) {
		/* Autorepeat: the press continues its action. */
		red__touch(p, ev);
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
		p = red__find(ar, ar->type_id);
		n = strlen(text);
		if (p == NULL || !p->open || p->textlen + n >= UT_ACTION_TEXT_MAX ||
		    ev->mono_ns - p->mono_last > ar->o.type_gap_ms * 1000000ull) {
			red__close_id(ar, &ar->type_id);
			red__close_id(ar, &ar->scroll_id);
			p = red__pact_new(ar, UT_ACT_TYPE, ev);
			ar->type_id = p->id;
		}
		memcpy(p->a.text + p->textlen, text, n + 1);
		p->textlen += n;
		red__use_mods(ar, p, MB_SHIFT | MB_ALTGR | MB_LOCK);
	} else {
		red__close_id(ar, &ar->type_id);
		red__close_id(ar, &ar->scroll_id);
		p = red__pact_new(ar, mods & ~MB_LOCK ? UT_ACT_HOTKEY : UT_ACT_KEY, ev);
		chord_name(p->a.keys, sizeof(p->a.keys), mods & ~MB_LOCK, ev);
		red__use_mods(ar, p, ~0);
		p->open = 0;
	}
	red__touch(p, ev);
	p->pending++;
	h->id = p->id;
}

void
red__key_release(struct action_reducer *ar, const struct ut_event *ev)
{
	struct held *h = &ar->held[ev->u.key.keycode];
	struct pact *p;

	if (!h->down) {
		/* Release without a press seen (recording started mid-press). */
		p = red__pact_new(ar, UT_ACT_KEY, ev);
		snprintf(p->a.keys, sizeof(p->a.keys), "%s", ev->u.key.name);
		red__touch(p, ev);
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
		red__close_id(ar, &ar->type_id);
		p = red__pact_new(ar, UT_ACT_KEY, &pe);
		snprintf(p->a.keys, sizeof(p->a.keys), "%s", h->name);
		red__add_seq(p, h->press_seq);
		red__touch(p, ev);
		p->open = 0;
		h->id = 0;
		return;
	}
	if ((p = red__find(ar, h->id)) != NULL) {
		red__touch(p, ev);
		if (p->pending > 0)
			p->pending--;
	}
	h->id = 0;
}
