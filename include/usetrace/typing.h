/*
 * typing.h - the one rule for "is this key press typing?", and the X
 * modifier masks and keysyms that rule and its readers name.
 *
 * A key press types when it is a press, no hotkey modifier (Control, Mod1
 * = Alt, Mod4 = Super) is in its core state, and it produces text: a line
 * break (Return, KP_Enter, or text "\r" / "\n"), a tab (Tab, or text
 * "\t"), or a printable character (first byte >= 0x20 and not DEL).
 *
 * Every reader of that question uses ut_key_typed(): the privacy filter
 * (what goes into the burst it scans), the action reducer (what becomes a
 * "type" action's text) and capture (whether a key continues a typing run
 * and so shares its frame).  Two rules that disagree would let typed text
 * fall outside the burst the filter scans.
 */
#ifndef USETRACE_TYPING_H
#define USETRACE_TYPING_H

#include <stdbool.h>
#include <stdint.h>

struct ut_event;

/* X core modifier masks (the state field of a key event). */
#define UT_MOD_SHIFT 0x01u
#define UT_MOD_LOCK 0x02u
#define UT_MOD_CONTROL 0x04u
#define UT_MOD_MOD1 0x08u	/* Alt */
#define UT_MOD_MOD4 0x40u	/* Super */
#define UT_MOD_HOTKEY (UT_MOD_CONTROL | UT_MOD_MOD1 | UT_MOD_MOD4)

/* Keysyms the rule and its readers name (X11 keysymdef.h values). */
#define UT_KS_BACKSPACE 0xff08u
#define UT_KS_TAB 0xff09u
#define UT_KS_RETURN 0xff0du
#define UT_KS_KP_ENTER 0xff8du
#define UT_KS_ISO_LEFT_TAB 0xfe20u
#define UT_KS_SHIFT_L 0xffe1u
#define UT_KS_CONTROL_L 0xffe3u

/*
 * The text a key event types: "\n" for a line break, "\t" for a tab, the
 * event's own text for a printable character; NULL when the event is not
 * typing (a release, a hotkey chord, a key without printable text).  The
 * returned pointer is a static string or points into ev.
 */
const char *ut_key_typed(const struct ut_event *ev);

/* ut_key_typed(ev) != NULL. */
bool ut_key_is_typing(const struct ut_event *ev);

#endif
