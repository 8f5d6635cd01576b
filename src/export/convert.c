/*
 * convert.c - one usetrace action in the action languages of other
 * training code: pyautogui calls (AgentNet / OpenCUA), OSWorld's
 * computer_13 dicts and Anthropic's computer_20250124 tool inputs.
 *
 * Pure functions, no state.  Each either expresses the action without loss
 * or says it cannot (UT_EINVAL and an empty string); the writer counts the
 * latter in the datacard.  What each target cannot express:
 *   pyautogui   keys with no pyautogui name (hyper, unknown keysyms);
 *               drags with a button other than left/middle/right
 *   osworld     the same keys; drags other than with the left button
 *               (computer_13's DRAG_TO holds the left button)
 *   anthropic   drags other than with the left button; clicks other than
 *               left/middle/right; hyper chords
 * A drag's intermediate path is kept by none of them (only its ends); the
 * usetrace form keeps it, and that is not counted as a loss of the action.
 *
 * Scroll signs: usetrace counts +dy down and +dx right; pyautogui and
 * OSWorld count positive vertical scrolls up, positive horizontal right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/export.h"

/* An output under construction; fails once on overflow, then stays failed. */
struct out {
	char *p;
	size_t sz, len;
	int err;
};

static void
out_init(struct out *o, char *p, size_t sz)
{
	o->p = p;
	o->sz = sz;
	o->len = 0;
	o->err = sz == 0 ? UT_ETOOBIG : 0;
	if (sz > 0)
		p[0] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->sz - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->sz - o->len) {
		o->err = UT_ETOOBIG;
		o->p[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
}

/*
 * A string as a quoted literal of the target language: JSON ("..." with
 * \uXXXX for other control bytes) or Python ('...' with \xXX).  Valid
 * UTF-8 passes through; the quote, backslash, \n, \t and \r are escaped.
 */
static void
out_quoted(struct out *o, const char *s, char quote)
{
	out_printf(o, "%c", quote);
	for (; *s != '\0' && o->err == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == (unsigned char)quote || c == '\\')
			out_printf(o, "\\%c", c);
		else if (c == '\n')
			out_printf(o, "\\n");
		else if (c == '\t')
			out_printf(o, "\\t");
		else if (c == '\r')
			out_printf(o, "\\r");
		else if (c < 0x20 || c == 0x7f)
			out_printf(o, quote == '"' ? "\\u%04x" : "\\x%02x", c);
		else
			out_printf(o, "%c", c);
	}
	out_printf(o, "%c", quote);
}

static void
out_json_str(struct out *o, const char *s)
{
	out_quoted(o, s, '"');
}

static void
out_py_str(struct out *o, const char *s)
{
	out_quoted(o, s, '\'');
}

static int
out_done(struct out *o, int r)
{
	if (r == 0 && o->err != 0)
		r = o->err;
	if (r != 0 && o->sz > 0)
		o->p[0] = '\0';
	return r;
}

/* X keysym names (as actions carry them) -> pyautogui key names. */
static const struct {
	const char *x, *py;
} keymap[] = {
	{ "Return", "enter" }, { "KP_Enter", "enter" }, { "BackSpace", "backspace" },
	{ "Escape", "esc" }, { "Tab", "tab" }, { "ISO_Left_Tab", "tab" },
	{ "Delete", "delete" }, { "KP_Delete", "delete" }, { "Insert", "insert" },
	{ "Home", "home" }, { "End", "end" }, { "Prior", "pageup" },
	{ "Next", "pagedown" }, { "Left", "left" }, { "Right", "right" },
	{ "Up", "up" }, { "Down", "down" }, { "space", "space" },
	{ "Caps_Lock", "capslock" }, { "Num_Lock", "numlock" },
	{ "Scroll_Lock", "scrolllock" }, { "Pause", "pause" },
	{ "Print", "printscreen" }, { "Menu", "apps" },
	{ "Control_L", "ctrlleft" }, { "Control_R", "ctrlright" },
	{ "Shift_L", "shiftleft" }, { "Shift_R", "shiftright" },
	{ "Alt_L", "altleft" }, { "Alt_R", "altright" },
	{ "Super_L", "winleft" }, { "Super_R", "winright" },
	{ "ISO_Level3_Shift", "altright" },
	{ "ctrl", "ctrl" }, { "alt", "alt" }, { "shift", "shift" },
	{ "super", "win" }, { "altgr", "altright" },
	{ "XF86AudioMute", "volumemute" }, { "XF86AudioLowerVolume", "volumedown" },
	{ "XF86AudioRaiseVolume", "volumeup" }, { "XF86AudioPlay", "playpause" },
	{ "XF86AudioNext", "nexttrack" }, { "XF86AudioPrev", "prevtrack" },
	{ "minus", "-" }, { "plus", "+" }, { "equal", "=" }, { "comma", "," },
	{ "period", "." }, { "slash", "/" }, { "backslash", "\\" },
	{ "semicolon", ";" }, { "apostrophe", "'" }, { "grave", "`" },
	{ "bracketleft", "[" }, { "bracketright", "]" },
};

/*
 * The pyautogui name of one key of a chord: the table, F1..F24, or a
 * single ASCII letter or digit.  NULL when pyautogui has no name for it.
 */
static const char *
py_key(const char *x, char *tmp, size_t tmpsz)
{
	size_t i, n = strlen(x);

	for (i = 0; i < sizeof(keymap) / sizeof(keymap[0]); i++)
		if (strcmp(x, keymap[i].x) == 0)
			return keymap[i].py;
	if (n >= 2 && n <= 3 && x[0] == 'F' && x[1] >= '1' && x[1] <= '9' &&
	    (n == 2 || (x[2] >= '0' && x[2] <= '9'))) {
		snprintf(tmp, tmpsz, "f%s", x + 1);
		return tmp;
	}
	if (n == 1 && ((x[0] >= 'a' && x[0] <= 'z') || (x[0] >= '0' && x[0] <= '9'))) {
		snprintf(tmp, tmpsz, "%c", x[0]);
		return tmp;
	}
	if (n == 1 && x[0] >= 'A' && x[0] <= 'Z') {
		snprintf(tmp, tmpsz, "%c", x[0] - 'A' + 'a');
		return tmp;
	}
	return NULL;
}

/*
 * Splits a chord "ctrl+shift+t" into at most 8 names (in place in buf).
 * A lone "+" key ("ctrl+plus") is named, never a bare '+'.  Returns the
 * count, or -1 when it has too many parts or an empty one.
 */
static int
chord_split(const char *keys, char *buf, size_t bufsz, const char *part[8])
{
	char *s, *save = NULL, *t;
	int n = 0;

	if (strlen(keys) + 1 > bufsz || keys[0] == '\0')
		return -1;
	memcpy(buf, keys, strlen(keys) + 1);
	for (s = buf; (t = strtok_r(s, "+", &save)) != NULL; s = NULL) {
		if (n == 8)
			return -1;
		part[n++] = t;
	}
	return n;
}

static double
norm(int32_t v, uint32_t size)
{
	if (size <= 1)
		return 0.0;
	if (v < 0)
		v = 0;
	if ((uint32_t)v > size - 1)
		v = (int32_t)size - 1;
	return (double)v / (double)(size - 1);
}

static const char *
py_button(uint8_t b)
{
	return b == 1 ? "left" : b == 2 ? "middle" : b == 3 ? "right" : NULL;
}

int
export_to_pyautogui(const struct ut_action *a, uint32_t w, uint32_t h,
    char *outp, size_t outsz)
{
	struct out o;
	const char *part[8], *k, *btn;
	char buf[UT_ACTION_KEYS_MAX], tmp[8][8];
	double x = norm(a->x, w), y = norm(a->y, h);
	double ex = norm(a->end_x, w), ey = norm(a->end_y, h);
	int n, i, r = 0;

	out_init(&o, outp, outsz);
	switch (a->kind) {
	case UT_ACT_CLICK:
	case UT_ACT_DOUBLE_CLICK:
	case UT_ACT_TRIPLE_CLICK:
		if (!a->has_pos || (btn = py_button(a->button)) == NULL)
			return out_done(&o, UT_EINVAL);
		if (a->kind == UT_ACT_CLICK && a->button == 3)
			out_printf(&o, "pyautogui.rightClick(x=%.4f, y=%.4f)", x, y);
		else if (a->kind == UT_ACT_CLICK && a->button == 1)
			out_printf(&o, "pyautogui.click(x=%.4f, y=%.4f)", x, y);
		else if (a->kind == UT_ACT_CLICK)
			out_printf(&o, "pyautogui.click(x=%.4f, y=%.4f, button='%s')", x, y, btn);
		else if (a->button == 1)
			out_printf(&o, "pyautogui.%s(x=%.4f, y=%.4f)",
			    a->kind == UT_ACT_DOUBLE_CLICK ? "doubleClick" : "tripleClick", x, y);
		else
			out_printf(&o, "pyautogui.%s(x=%.4f, y=%.4f, button='%s')",
			    a->kind == UT_ACT_DOUBLE_CLICK ? "doubleClick" : "tripleClick",
			    x, y, btn);
		break;
	case UT_ACT_DRAG:
		if (!a->has_pos || (btn = py_button(a->button)) == NULL)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "pyautogui.moveTo(x=%.4f, y=%.4f)\n"
		    "pyautogui.dragTo(x=%.4f, y=%.4f, duration=%.3f, button='%s')",
		    x, y, ex, ey, (double)a->duration_ms / 1000.0, btn);
		break;
	case UT_ACT_MOVE:
		if (!a->has_pos)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "pyautogui.moveTo(x=%.4f, y=%.4f)", ex, ey);
		break;
	case UT_ACT_SCROLL:
		if (a->has_pos)
			out_printf(&o, "pyautogui.moveTo(x=%.4f, y=%.4f)\n", x, y);
		if (a->dy != 0)
			out_printf(&o, "pyautogui.scroll(%d)", (int)-a->dy);
		if (a->dy != 0 && a->dx != 0)
			out_printf(&o, "\n");
		if (a->dx != 0)
			out_printf(&o, "pyautogui.hscroll(%d)", (int)a->dx);
		if (a->dx == 0 && a->dy == 0)
			return out_done(&o, UT_EINVAL);
		break;
	case UT_ACT_TYPE:
		out_printf(&o, "pyautogui.write(");
		out_py_str(&o, a->text);
		out_printf(&o, ")");
		break;
	case UT_ACT_KEY:
	case UT_ACT_HOTKEY:
		if ((n = chord_split(a->keys, buf, sizeof(buf), part)) <= 0)
			return out_done(&o, UT_EINVAL);
		for (i = 0; i < n; i++)
			if (py_key(part[i], tmp[i], sizeof(tmp[i])) == NULL)
				return out_done(&o, UT_EINVAL);
		out_printf(&o, n == 1 ? "pyautogui.press(" : "pyautogui.hotkey(");
		for (i = 0; i < n; i++) {
			k = py_key(part[i], tmp[i], sizeof(tmp[i]));
			if (i > 0)
				out_printf(&o, ", ");
			out_py_str(&o, k);
		}
		out_printf(&o, ")");
		/* Autorepeat: the key was held; pyautogui presses repeat. */
		if (n == 1 && a->repeat > 0) {
			o.len = 0;
			out_printf(&o, "pyautogui.press(");
			out_py_str(&o, py_key(part[0], tmp[0], sizeof(tmp[0])));
			out_printf(&o, ", presses=%u)", a->repeat + 1);
		}
		break;
	default:
		r = UT_EINVAL;
	}
	return out_done(&o, r);
}

/* OSWorld's key names are pyautogui's. */
int
export_to_osworld(const struct ut_action *a, char *outp, size_t outsz)
{
	struct out o;
	const char *part[8], *btn;
	char buf[UT_ACTION_KEYS_MAX], tmp[8][8];
	int n, i, r = 0;

	out_init(&o, outp, outsz);
	switch (a->kind) {
	case UT_ACT_CLICK:
	case UT_ACT_DOUBLE_CLICK:
	case UT_ACT_TRIPLE_CLICK:
		if (!a->has_pos || (btn = py_button(a->button)) == NULL)
			return out_done(&o, UT_EINVAL);
		if (a->kind == UT_ACT_CLICK && a->button == 3)
			out_printf(&o, "[{\"action_type\":\"RIGHT_CLICK\",\"parameters\":"
			    "{\"x\":%d,\"y\":%d}}]", a->x, a->y);
		else if (a->kind == UT_ACT_DOUBLE_CLICK && a->button == 1)
			out_printf(&o, "[{\"action_type\":\"DOUBLE_CLICK\",\"parameters\":"
			    "{\"x\":%d,\"y\":%d}}]", a->x, a->y);
		else
			out_printf(&o, "[{\"action_type\":\"CLICK\",\"parameters\":"
			    "{\"button\":\"%s\",\"x\":%d,\"y\":%d,\"num_clicks\":%d}}]",
			    btn, a->x, a->y,
			    a->kind == UT_ACT_CLICK ? 1 : a->kind == UT_ACT_DOUBLE_CLICK ? 2 : 3);
		break;
	case UT_ACT_DRAG:
		if (!a->has_pos || a->button != 1)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[{\"action_type\":\"MOVE_TO\",\"parameters\":"
		    "{\"x\":%d,\"y\":%d}},{\"action_type\":\"DRAG_TO\",\"parameters\":"
		    "{\"x\":%d,\"y\":%d}}]", a->x, a->y, a->end_x, a->end_y);
		break;
	case UT_ACT_MOVE:
		if (!a->has_pos)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[{\"action_type\":\"MOVE_TO\",\"parameters\":"
		    "{\"x\":%d,\"y\":%d}}]", a->end_x, a->end_y);
		break;
	case UT_ACT_SCROLL:
		if (a->dx == 0 && a->dy == 0)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[");
		if (a->has_pos)
			out_printf(&o, "{\"action_type\":\"MOVE_TO\",\"parameters\":"
			    "{\"x\":%d,\"y\":%d}},", a->x, a->y);
		out_printf(&o, "{\"action_type\":\"SCROLL\",\"parameters\":"
		    "{\"dx\":%d,\"dy\":%d}}]", (int)a->dx, (int)-a->dy);
		break;
	case UT_ACT_TYPE:
		out_printf(&o, "[{\"action_type\":\"TYPING\",\"parameters\":{\"text\":");
		out_json_str(&o, a->text);
		out_printf(&o, "}}]");
		break;
	case UT_ACT_KEY:
	case UT_ACT_HOTKEY:
		if ((n = chord_split(a->keys, buf, sizeof(buf), part)) <= 0)
			return out_done(&o, UT_EINVAL);
		for (i = 0; i < n; i++)
			if (py_key(part[i], tmp[i], sizeof(tmp[i])) == NULL)
				return out_done(&o, UT_EINVAL);
		if (n == 1 && a->repeat > 63)
			return out_done(&o, UT_EINVAL);
		if (n == 1) {
			out_printf(&o, "[");
			for (i = 0; i <= (int)a->repeat && i < 64; i++) {
				out_printf(&o, "%s{\"action_type\":\"PRESS\",\"parameters\":"
				    "{\"key\":", i > 0 ? "," : "");
				out_json_str(&o, py_key(part[0], tmp[0], sizeof(tmp[0])));
				out_printf(&o, "}}");
			}
			out_printf(&o, "]");
			break;
		}
		out_printf(&o, "[{\"action_type\":\"HOTKEY\",\"parameters\":{\"keys\":[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				out_printf(&o, ",");
			out_json_str(&o, py_key(part[i], tmp[i], sizeof(tmp[i])));
		}
		out_printf(&o, "]}}]");
		break;
	default:
		r = UT_EINVAL;
	}
	return out_done(&o, r);
}

/* Anthropic's key names are xdotool's, i.e. the X keysym names we keep. */
int
export_to_anthropic(const struct ut_action *a, char *outp, size_t outsz)
{
	static const char *const click[3][4] = {
		{ NULL, "left_click", "middle_click", "right_click" },
		{ NULL, "double_click", NULL, NULL },
		{ NULL, "triple_click", NULL, NULL },
	};
	struct out o;
	const char *name;
	int r = 0, row;

	out_init(&o, outp, outsz);
	switch (a->kind) {
	case UT_ACT_CLICK:
	case UT_ACT_DOUBLE_CLICK:
	case UT_ACT_TRIPLE_CLICK:
		row = a->kind == UT_ACT_CLICK ? 0 : a->kind == UT_ACT_DOUBLE_CLICK ? 1 : 2;
		if (!a->has_pos || a->button < 1 || a->button > 3 ||
		    (name = click[row][a->button]) == NULL)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[{\"action\":\"%s\",\"coordinate\":[%d,%d]}]",
		    name, a->x, a->y);
		break;
	case UT_ACT_DRAG:
		if (!a->has_pos || a->button != 1)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[{\"action\":\"left_click_drag\",\"start_coordinate\":"
		    "[%d,%d],\"coordinate\":[%d,%d]}]", a->x, a->y, a->end_x, a->end_y);
		break;
	case UT_ACT_MOVE:
		if (!a->has_pos)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[{\"action\":\"mouse_move\",\"coordinate\":[%d,%d]}]",
		    a->end_x, a->end_y);
		break;
	case UT_ACT_SCROLL:
		if ((a->dx == 0 && a->dy == 0) || !a->has_pos)
			return out_done(&o, UT_EINVAL);
		out_printf(&o, "[");
		if (a->dy != 0)
			out_printf(&o, "{\"action\":\"scroll\",\"coordinate\":[%d,%d],"
			    "\"scroll_direction\":\"%s\",\"scroll_amount\":%d}",
			    a->x, a->y, a->dy > 0 ? "down" : "up",
			    (int)(a->dy > 0 ? a->dy : -a->dy));
		if (a->dy != 0 && a->dx != 0)
			out_printf(&o, ",");
		if (a->dx != 0)
			out_printf(&o, "{\"action\":\"scroll\",\"coordinate\":[%d,%d],"
			    "\"scroll_direction\":\"%s\",\"scroll_amount\":%d}",
			    a->x, a->y, a->dx > 0 ? "right" : "left",
			    (int)(a->dx > 0 ? a->dx : -a->dx));
		out_printf(&o, "]");
		break;
	case UT_ACT_TYPE:
		out_printf(&o, "[{\"action\":\"type\",\"text\":");
		out_json_str(&o, a->text);
		out_printf(&o, "}]");
		break;
	case UT_ACT_KEY:
	case UT_ACT_HOTKEY:
		if (a->keys[0] == '\0' || strstr(a->keys, "hyper+") != NULL ||
		    a->repeat > 63)
			return out_done(&o, UT_EINVAL);
		/* A held key's autorepeats are presses of their own. */
		out_printf(&o, "[");
		for (row = 0; row <= (int)a->repeat && row < 64; row++) {
			out_printf(&o, "%s{\"action\":\"key\",\"text\":",
			    row > 0 ? "," : "");
			out_json_str(&o, a->keys);
			out_printf(&o, "}");
		}
		out_printf(&o, "]");
		break;
	default:
		r = UT_EINVAL;
	}
	return out_done(&o, r);
}
