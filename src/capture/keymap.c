/*
 * keymap.c - keycode -> keysym and text, as the X server saw the key.
 *
 * The xkbcommon keymap and state are loaded from the server (core keyboard
 * device) at start, on an XKB NewKeyboardNotify, and when the RECORD stream
 * shows an XKB request that replaces the map (GetKbdByName, SetMap, as
 * setxkbmap sends) or changes the locked state (LatchLockState).  Because
 * the reload follows the request in stream order, keys after it decode with
 * the new map.
 *
 * Core ChangeKeyboardMapping requests (xdotool binds a spare keycode to a
 * keysym, types it and unbinds it) are applied from the request bytes
 * themselves into an override table, so each key decodes with the mapping
 * in force when the server processed it, not whatever is current when we
 * get around to asking.
 *
 * Modifiers and group come from each event's core state field (the
 * server's state before the event, as applications see it).  Dead keys go
 * through xkb_compose.
 *
 * This file only translates: what happens to a key record afterwards (its
 * frame, the category gate, secure input, emitting) is capture.c's
 * key_dispatch().
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "capture_int.h"

static void
layout_names(struct cap *c)
{
	xkb_layout_index_t i, n = xkb_keymap_num_layouts(c->km);
	const char *name;

	c->layout[0] = '\0';
	for (i = 0; i < n; i++) {
		name = xkb_keymap_layout_get_name(c->km, i);
		if (i > 0)
			strncat(c->layout, ",", sizeof(c->layout) - strlen(c->layout) - 1);
		strncat(c->layout, name ? name : "?",
		    sizeof(c->layout) - strlen(c->layout) - 1);
	}
}

int
cap__keymap_load(struct cap *c)
{
	struct xkb_keymap *km;
	struct xkb_state *ks;
	const char *loc;

	if (c->kctx == NULL) {
		c->kctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
		if (c->kctx == NULL)
			return UT_ENOEXT;
		loc = getenv("LC_ALL");
		if (loc == NULL || !*loc)
			loc = getenv("LC_CTYPE");
		if (loc == NULL || !*loc)
			loc = getenv("LANG");
		if (loc == NULL || !*loc || strcmp(loc, "C") == 0 ||
		    strcmp(loc, "POSIX") == 0 || strncmp(loc, "C.", 2) == 0)
			loc = "en_US.UTF-8";
		c->ctab = xkb_compose_table_new_from_locale(c->kctx, loc,
		    XKB_COMPOSE_COMPILE_NO_FLAGS);
		if (c->ctab != NULL)
			c->cst = xkb_compose_state_new(c->ctab,
			    XKB_COMPOSE_STATE_NO_FLAGS);
		c->kbd_id = xkb_x11_get_core_keyboard_device_id(c->xc);
		if (c->kbd_id < 0)
			return UT_ENOEXT;
	}
	km = xkb_x11_keymap_new_from_device(c->kctx, c->xc, c->kbd_id,
	    XKB_KEYMAP_COMPILE_NO_FLAGS);
	if (km == NULL)
		return UT_ENOEXT;
	ks = xkb_x11_state_new_from_device(km, c->xc, c->kbd_id);
	if (ks == NULL) {
		xkb_keymap_unref(km);
		return UT_ENOEXT;
	}
	xkb_state_unref(c->ks);
	xkb_keymap_unref(c->km);
	c->km = km;
	c->ks = ks;
	c->st.keymap_loads++;
	layout_names(c);
	return 0;
}

void
cap__keymap_free(struct cap *c)
{
	xkb_compose_state_unref(c->cst);
	xkb_compose_table_unref(c->ctab);
	xkb_state_unref(c->ks);
	xkb_keymap_unref(c->km);
	xkb_context_unref(c->kctx);
	c->cst = NULL;
	c->ctab = NULL;
	c->ks = NULL;
	c->km = NULL;
	c->kctx = NULL;
}

static uint32_t
rd32(const uint8_t *p, bool swapped)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

void
cap__keymap_core_change(struct cap *c, const uint8_t *req, size_t len,
    bool swapped)
{
	unsigned count, first, per, i, j;

	/* ChangeKeyboardMapping: opcode, count, length(2), first, per, pad(2). */
	if (len < 8)
		return;
	count = req[1];
	first = req[4];
	per = req[5];
	if (per == 0 || (size_t)count * per * 4 > len - 8)
		return;
	for (i = 0; i < count && first + i < 256; i++) {
		struct key_override *o = &c->ovr[first + i];

		o->set = true;
		o->n = (uint8_t)UT_MIN(per, 8u);
		for (j = 0; j < o->n; j++)
			o->syms[j] = rd32(req + 8 + 4 * ((size_t)i * per + j), swapped);
	}
}

/*
 * The keysym of a remapped key, by the rules the server uses to turn a core
 * mapping into an XKB one (XKB protocol, "Core to XKB keymap"): a lone
 * cased keysym becomes the pair {lower, upper}; a {lower, upper} pair is
 * ALPHABETIC (Shift or Lock pick level 2); other pairs are TWO_LEVEL
 * (Shift picks level 2); one keysym is ONE_LEVEL.
 */
static uint32_t
override_sym(struct cap *c, const struct key_override *o)
{
	int shift = xkb_state_mod_name_is_active(c->ks, XKB_MOD_NAME_SHIFT,
	    XKB_STATE_MODS_EFFECTIVE) > 0;
	int caps = xkb_state_mod_name_is_active(c->ks, XKB_MOD_NAME_CAPS,
	    XKB_STATE_MODS_EFFECTIVE) > 0;
	uint32_t s0 = o->syms[0], s1 = o->n >= 2 ? o->syms[1] : 0;
	int alpha;

	if (s1 == 0 && xkb_keysym_to_lower(s0) != xkb_keysym_to_upper(s0)) {
		s1 = xkb_keysym_to_upper(s0);
		s0 = xkb_keysym_to_lower(s0);
	}
	if (s1 == 0)
		return s0;
	alpha = s0 == xkb_keysym_to_lower(s0) && s1 == xkb_keysym_to_upper(s0) &&
	    s0 != s1;
	if (alpha ? (shift ^ caps) : shift)
		return s1;
	return s0;
}

/*
 * Sets the xkb state to the event's core state field: the modifiers and
 * group the server had when it processed the key, which is what every
 * application sees with the event.  (Tracking presses ourselves can drift
 * when a keymap reload snapshots the server's state mid-typing.)
 */
static void
state_from_core(struct cap *c, uint16_t state)
{
	static const char *names[8] = { XKB_MOD_NAME_SHIFT, XKB_MOD_NAME_CAPS,
		XKB_MOD_NAME_CTRL, "Mod1", "Mod2", "Mod3", "Mod4", "Mod5" };
	xkb_mod_mask_t mods = 0;
	xkb_mod_index_t idx;
	unsigned i;

	for (i = 0; i < 8; i++) {
		if (!(state & (1u << i)))
			continue;
		idx = xkb_keymap_mod_get_index(c->km, names[i]);
		if (idx != XKB_MOD_INVALID && idx < 32)
			mods |= 1u << idx;
	}
	xkb_state_update_mask(c->ks, mods, 0, 0, 0, 0,
	    (xkb_layout_index_t)((state >> 13) & 3));
}

void
cap__key_translate(struct cap *c, int down, uint8_t kc, uint32_t xtime,
    uint16_t state, struct ut_event *ev)
{
	const struct key_override *o = &c->ovr[kc];
	enum xkb_compose_status cs = XKB_COMPOSE_NOTHING;
	uint32_t sym;
	int n;

	memset(ev, 0, sizeof(*ev));
	ev->type = UT_EV_KEY;
	ev->sensitivity = UT_SENS_CONTENT;
	ev->xtime = xtime;
	ev->u.key.keycode = kc;
	ev->u.key.down = (uint8_t)down;
	ev->u.key.state = state;
	ev->u.key.repeat = down && c->down[kc];
	c->down[kc] = (uint8_t)down;
	state_from_core(c, state);
	ev->u.key.group = (uint8_t)xkb_state_serialize_layout(c->ks,
	    XKB_STATE_LAYOUT_EFFECTIVE);

	if (o->set)
		sym = override_sym(c, o);
	else
		sym = xkb_state_key_get_one_sym(c->ks, kc);
	ev->u.key.keysym = sym;
	if (xkb_keysym_get_name(sym, ev->u.key.name, sizeof(ev->u.key.name)) < 0)
		ev->u.key.name[0] = '\0';
	if (!down)
		return;
	if (c->cst != NULL && sym != XKB_KEY_NoSymbol) {
		xkb_compose_state_feed(c->cst, sym);
		cs = xkb_compose_state_get_status(c->cst);
	}
	switch (cs) {
	case XKB_COMPOSE_COMPOSING:
		break; /* dead key: no text yet */
	case XKB_COMPOSE_COMPOSED:
		xkb_compose_state_get_utf8(c->cst, ev->u.key.text,
		    sizeof(ev->u.key.text));
		xkb_compose_state_reset(c->cst);
		break;
	case XKB_COMPOSE_CANCELLED:
		xkb_compose_state_reset(c->cst);
		break;
	case XKB_COMPOSE_NOTHING:
	default:
		if (o->set)
			n = xkb_keysym_to_utf8(sym, ev->u.key.text,
			    sizeof(ev->u.key.text));
		else
			n = xkb_state_key_get_utf8(c->ks, kc, ev->u.key.text,
			    sizeof(ev->u.key.text));
		if (n < 0 || (size_t)n >= sizeof(ev->u.key.text))
			ev->u.key.text[0] = '\0';
		break;
	}
}
