/*
 * typing.c - the one rule for "is this key press typing?" (see typing.h).
 */
#include "usetrace/event.h"
#include "usetrace/typing.h"

const char *
ut_key_typed(const struct ut_event *ev)
{
	const char *t;
	unsigned char c;

	if (ev == NULL || ev->type != UT_EV_KEY || !ev->u.key.down ||
	    (ev->u.key.state & UT_MOD_HOTKEY))
		return NULL;
	t = ev->u.key.text;
	c = (unsigned char)t[0];
	if (ev->u.key.keysym == UT_KS_RETURN ||
	    ev->u.key.keysym == UT_KS_KP_ENTER ||
	    ((c == '\r' || c == '\n') && t[1] == '\0'))
		return "\n";
	if (ev->u.key.keysym == UT_KS_TAB || (c == '\t' && t[1] == '\0'))
		return "\t";
	if (c < 0x20 || c == 0x7f)
		return NULL;
	return t;
}

bool
ut_key_is_typing(const struct ut_event *ev)
{
	return ut_key_typed(ev) != NULL;
}
