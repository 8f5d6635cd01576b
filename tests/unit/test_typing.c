/*
 * test_typing.c - the one "is this key press typing?" rule (typing.h):
 * each clause of the rule, and that it is the same answer the privacy
 * filter and the action reducer act on (test_keys_agree.c checks them
 * against each other over whole sessions).
 */
#include <string.h>

#include "usetrace/event.h"
#include "usetrace/typing.h"
#include "t.h"

static struct ut_event
key(uint32_t sym, const char *text, int down, uint16_t state)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_KEY;
	ev.u.key.keysym = sym;
	ev.u.key.down = (uint8_t)down;
	ev.u.key.state = state;
	if (text != NULL)
		snprintf(ev.u.key.text, sizeof(ev.u.key.text), "%s", text);
	return ev;
}

static void
test_typing_printable(void)
{
	struct ut_event ev = key('a', "a", 1, 0);

	T_ASSERT_STREQ(ut_key_typed(&ev), "a");
	T_ASSERT(ut_key_is_typing(&ev));
	ev = key('A', "A", 1, UT_MOD_SHIFT | UT_MOD_LOCK);
	T_ASSERT_STREQ(ut_key_typed(&ev), "A");
	ev = key(' ', " ", 1, 0);
	T_ASSERT_STREQ(ut_key_typed(&ev), " ");
	ev = key(0xe4, "\xc3\xa4", 1, 0x80); /* ä with Mod5 (AltGr) */
	T_ASSERT_STREQ(ut_key_typed(&ev), "\xc3\xa4");
}

static void
test_typing_not_release_or_chord(void)
{
	struct ut_event ev = key('a', "a", 0, 0);

	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key('a', "a", 1, UT_MOD_CONTROL);
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key('a', "a", 1, UT_MOD_MOD1);
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key('a', "a", 1, UT_MOD_MOD4 | UT_MOD_SHIFT);
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key(UT_KS_RETURN, "\r", 1, UT_MOD_CONTROL);
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key('a', "a", 1, 0);
	ev.type = UT_EV_BUTTON;
	T_ASSERT(ut_key_typed(&ev) == NULL);
	T_ASSERT(ut_key_typed(NULL) == NULL);
}

static void
test_typing_breaks(void)
{
	struct ut_event ev = key(UT_KS_RETURN, "\r", 1, 0);

	T_ASSERT_STREQ(ut_key_typed(&ev), "\n");
	/* By keysym even when the text was withheld (no "text" category). */
	ev = key(UT_KS_RETURN, NULL, 1, 0);
	T_ASSERT_STREQ(ut_key_typed(&ev), "\n");
	ev = key(UT_KS_KP_ENTER, "\r", 1, 0);
	T_ASSERT_STREQ(ut_key_typed(&ev), "\n");
	ev = key(0xff0a, "\n", 1, 0); /* Linefeed */
	T_ASSERT_STREQ(ut_key_typed(&ev), "\n");
	ev = key(UT_KS_TAB, "\t", 1, 0);
	T_ASSERT_STREQ(ut_key_typed(&ev), "\t");
	ev = key(UT_KS_TAB, NULL, 1, UT_MOD_SHIFT);
	T_ASSERT_STREQ(ut_key_typed(&ev), "\t");
	ev = key(0xff89, "\t", 1, 0); /* KP_Tab */
	T_ASSERT_STREQ(ut_key_typed(&ev), "\t");
}

static void
test_typing_control_chars_are_not(void)
{
	struct ut_event ev = key(UT_KS_BACKSPACE, "\b", 1, 0);

	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key(0xff1b, "\x1b", 1, 0); /* Escape */
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key(0xffff, "\x7f", 1, 0); /* Delete */
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key(0xffe1, NULL, 1, 0); /* Shift_L */
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key(0xff51, NULL, 1, 0); /* Left */
	T_ASSERT(ut_key_typed(&ev) == NULL);
	ev = key(UT_KS_ISO_LEFT_TAB, NULL, 1, UT_MOD_SHIFT);
	T_ASSERT(ut_key_typed(&ev) == NULL);
	/* "\r" followed by more text is not a lone line break. */
	ev = key('x', "\rx", 1, 0);
	T_ASSERT(ut_key_typed(&ev) == NULL);
}

T_LIST(T_CASE(test_typing_printable), T_CASE(test_typing_not_release_or_chord),
    T_CASE(test_typing_breaks), T_CASE(test_typing_control_chars_are_not))
