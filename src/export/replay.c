/*
 * replay.c - performing an exported episode's actions on an X display
 * through XTEST (`usetrace replay EXPORT --episode N`), so that anyone can
 * see that an export is faithful.
 *
 * Reads the usetrace form of each step (every format keeps it: "usetrace"
 * in steps.jsonl and in episodes.jsonl), waits the recorded time between
 * steps (scaled, and capped so a long idle gap does not stall the replay),
 * and performs: pointer moves along the recorded path, button presses,
 * wheel notches, keys and chords, and text.  A character the keyboard map
 * lacks is bound for one keystroke to a spare keycode, then unbound.
 *
 * Safety: a stop key (default Pause) is grabbed on the root window before
 * the first action; pressing it ends the replay at once, releasing every
 * button and key the replay holds.  --dry-run prints what would be done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ut_config.h"
#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/log.h"

#if UT_HAVE_X11
#include <X11/XKBlib.h>
#include <X11/Xlib.h>
#include <X11/keysym.h>
#include <X11/extensions/XTest.h>
#include <xkbcommon/xkbcommon.h>

#define STEPS_MAX 1000000u

struct replay {
	Display *dpy;
	KeyCode stop;
	KeyCode spare;             /* for characters the map lacks; 0: none */
	const struct replay_opts *o;
	int stopped;
};

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* True once the stop key was pressed (the grab delivers it to us). */
static int
stop_pressed(struct replay *r)
{
	XEvent ev;

	while (XPending(r->dpy) > 0) {
		XNextEvent(r->dpy, &ev);
		if (ev.type == KeyPress && ev.xkey.keycode == r->stop)
			r->stopped = 1;
	}
	return r->stopped;
}

/* Waits ms in small slices, watching the stop key. */
static int
wait_ms(struct replay *r, uint64_t ms)
{
	while (ms > 0 && !stop_pressed(r)) {
		uint64_t d = ms > 20 ? 20 : ms;

		sleep_ms(d);
		ms -= d;
	}
	return r->stopped;
}

static void
flush(struct replay *r)
{
	XSync(r->dpy, False);
	sleep_ms(8);
}

static KeyCode
spare_keycode(Display *dpy)
{
	int min, max, per, kc;
	KeySym *map;
	KeyCode found = 0;

	XDisplayKeycodes(dpy, &min, &max);
	map = XGetKeyboardMapping(dpy, (KeyCode)min, max - min + 1, &per);
	if (map == NULL)
		return 0;
	for (kc = max; kc >= min && found == 0; kc--) {
		int j, empty = 1;

		for (j = 0; j < per; j++)
			if (map[(kc - min) * per + j] != NoSymbol)
				empty = 0;
		if (empty)
			found = (KeyCode)kc;
	}
	XFree(map);
	return found;
}

/* Presses and releases keycode with Shift when shift is set. */
static void
tap(struct replay *r, KeyCode kc, int shift)
{
	KeyCode sh = XKeysymToKeycode(r->dpy, XK_Shift_L);

	if (shift)
		XTestFakeKeyEvent(r->dpy, sh, True, CurrentTime);
	XTestFakeKeyEvent(r->dpy, kc, True, CurrentTime);
	XTestFakeKeyEvent(r->dpy, kc, False, CurrentTime);
	if (shift)
		XTestFakeKeyEvent(r->dpy, sh, False, CurrentTime);
	flush(r);
}

/* Types one keysym: from the map (level 0 or 1) or through the spare keycode. */
static int
type_keysym(struct replay *r, KeySym ks)
{
	KeyCode kc = XKeysymToKeycode(r->dpy, ks);

	if (kc != 0 && XkbKeycodeToKeysym(r->dpy, kc, 0, 0) == ks) {
		tap(r, kc, 0);
		return 0;
	}
	if (kc != 0 && XkbKeycodeToKeysym(r->dpy, kc, 0, 1) == ks) {
		tap(r, kc, 1);
		return 0;
	}
	if (r->spare == 0)
		return UT_ENOTFOUND;
	XChangeKeyboardMapping(r->dpy, r->spare, 1, &ks, 1);
	XSync(r->dpy, False);
	sleep_ms(30); /* let clients see the new map before the key */
	tap(r, r->spare, 0);
	sleep_ms(30);
	ks = NoSymbol;
	XChangeKeyboardMapping(r->dpy, r->spare, 1, &ks, 1);
	XSync(r->dpy, False);
	return 0;
}

static int
type_text(struct replay *r, const char *s, uint32_t delay_ms)
{
	size_t i = 0, n = strlen(s);

	while (i < n && !r->stopped) {
		uint32_t cp;
		unsigned char c = (unsigned char)s[i];
		int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
		KeySym ks;

		if (i + (size_t)len > n)
			return UT_EPARSE;
		cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		for (int k = 1; k < len; k++)
			cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
		i += (size_t)len;
		ks = cp == '\n' ? XK_Return : cp == '\t' ? XK_Tab :
		    (KeySym)xkb_utf32_to_keysym(cp);
		if (ks == NoSymbol || type_keysym(r, ks) != 0)
			log_warn("replay: cannot type U+%04X; skipped", cp);
		(void)wait_ms(r, delay_ms);
	}
	return 0;
}

/* "ctrl+shift+t" / "BackSpace": presses the chord and releases it. */
static int
chord(struct replay *r, const char *keys)
{
	char buf[128], *save = NULL, *t, *s;
	KeyCode held[8];
	int n = 0, i;

	if (strlen(keys) >= sizeof(buf))
		return UT_EINVAL;
	memcpy(buf, keys, strlen(keys) + 1);
	for (s = buf; (t = strtok_r(s, "+", &save)) != NULL && n < 8; s = NULL) {
		KeySym ks = strcmp(t, "ctrl") == 0 ? XK_Control_L :
		    strcmp(t, "alt") == 0 ? XK_Alt_L : strcmp(t, "shift") == 0 ?
		    XK_Shift_L : strcmp(t, "super") == 0 ? XK_Super_L :
		    strcmp(t, "hyper") == 0 ? XK_Hyper_L : strcmp(t, "altgr") == 0 ?
		    XK_ISO_Level3_Shift : XStringToKeysym(t);
		KeyCode kc = ks != NoSymbol ? XKeysymToKeycode(r->dpy, ks) : 0;

		if (kc == 0) {
			log_warn("replay: no key for '%s' in '%s'; chord skipped", t, keys);
			for (i = n - 1; i >= 0; i--)
				XTestFakeKeyEvent(r->dpy, held[i], False, CurrentTime);
			flush(r);
			return UT_ENOTFOUND;
		}
		XTestFakeKeyEvent(r->dpy, kc, True, CurrentTime);
		held[n++] = kc;
	}
	for (i = n - 1; i >= 0; i--)
		XTestFakeKeyEvent(r->dpy, held[i], False, CurrentTime);
	flush(r);
	return 0;
}

static void
move(struct replay *r, int x, int y)
{
	XTestFakeMotionEvent(r->dpy, -1, x, y, CurrentTime);
	flush(r);
}

static void
button(struct replay *r, int b, int down)
{
	XTestFakeButtonEvent(r->dpy, (unsigned)b, down ? True : False, CurrentTime);
	flush(r);
}

static int
ji(const json_t *o, const char *k)
{
	return (int)json_integer_value(json_object_get(o, k));
}

/* Performs one step's usetrace action. */
static int
perform(struct replay *r, const json_t *u)
{
	const char *type = json_string_value(json_object_get(u, "type"));
	const json_t *path;
	int b = ji(u, "button"), i, n;
	size_t k;
	json_t *pt;

	if (type == NULL)
		return UT_EPARSE;
	if (strcmp(type, "click") == 0 || strcmp(type, "double_click") == 0 ||
	    strcmp(type, "triple_click") == 0) {
		n = type[0] == 'c' ? 1 : type[0] == 'd' ? 2 : 3;
		move(r, ji(u, "x"), ji(u, "y"));
		for (i = 0; i < n; i++) {
			button(r, b, 1);
			button(r, b, 0);
			if (i + 1 < n)
				sleep_ms(60);
		}
	} else if (strcmp(type, "drag") == 0 || strcmp(type, "move") == 0) {
		int drag = type[0] == 'd';
		uint32_t last = 0;

		move(r, ji(u, "x"), ji(u, "y"));
		if (drag)
			button(r, b, 1);
		path = json_object_get(u, "path");
		json_array_foreach(path, k, pt) {
			uint32_t dt = (uint32_t)json_integer_value(json_array_get(pt, 2));

			if (dt > last && wait_ms(r, (dt - last) > 200 ? 200 : dt - last))
				break;
			last = dt;
			move(r, (int)json_integer_value(json_array_get(pt, 0)),
			    (int)json_integer_value(json_array_get(pt, 1)));
		}
		move(r, ji(u, "end_x"), ji(u, "end_y"));
		if (drag)
			button(r, b, 0);
	} else if (strcmp(type, "scroll") == 0) {
		int dx = ji(u, "dx"), dy = ji(u, "dy");

		move(r, ji(u, "x"), ji(u, "y"));
		for (i = 0; i < abs(dy); i++) {
			button(r, dy > 0 ? 5 : 4, 1);
			button(r, dy > 0 ? 5 : 4, 0);
		}
		for (i = 0; i < abs(dx); i++) {
			button(r, dx > 0 ? 7 : 6, 1);
			button(r, dx > 0 ? 7 : 6, 0);
		}
	} else if (strcmp(type, "type") == 0) {
		return type_text(r, json_string_value(json_object_get(u, "text")) ?
		    json_string_value(json_object_get(u, "text")) : "", r->o->key_delay_ms);
	} else if (strcmp(type, "key") == 0 || strcmp(type, "hotkey") == 0) {
		const char *keys = json_string_value(json_object_get(u, "keys"));

		for (i = 0; keys != NULL && i <= ji(u, "repeat") && !r->stopped; i++) {
			(void)chord(r, keys);
			(void)stop_pressed(r);
		}
	} else {
		return UT_EPARSE;
	}
	return 0;
}

/* The steps of episode n, in order (a new reference), from any format. */
static json_t *
load_episode(const char *dir, unsigned n, int *err)
{
	char path[4096];
	json_t *steps = json_array(), *line;
	json_error_t je;
	FILE *f;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int episodes = 0;

	snprintf(path, sizeof(path), "%s/steps.jsonl", dir);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(path, sizeof(path), "%s/episodes.jsonl", dir);
		episodes = 1;
		f = fopen(path, "r");
	}
	if (f == NULL) {
		*err = UT_ENOTFOUND;
		json_decref(steps);
		return NULL;
	}
	while ((len = getline(&buf, &cap, f)) > 0 && json_array_size(steps) < STEPS_MAX) {
		line = json_loads(buf, 0, &je);
		if (line == NULL) {
			*err = UT_EPARSE;
			break;
		}
		if (ji(line, "episode") == (int)n) {
			if (episodes) {
				json_t *lst = json_object_get(line, "traj");

				if (lst == NULL)
					lst = json_object_get(line, "steps");
				json_array_extend(steps, lst);
			} else {
				json_array_append(steps, line);
			}
		}
		json_decref(line);
	}
	free(buf);
	fclose(f);
	if (*err == 0 && json_array_size(steps) == 0)
		*err = UT_ENOTFOUND;
	if (*err != 0) {
		json_decref(steps);
		return NULL;
	}
	return steps;
}

int
export_replay(const struct replay_opts *o)
{
	struct replay r;
	json_t *steps, *st, *u;
	size_t i;
	uint64_t prev = 0, t;
	int err = 0;
	KeySym stop;

	memset(&r, 0, sizeof(r));
	r.o = o;
	if ((steps = load_episode(o->dir, o->episode, &err)) == NULL)
		return err;
	if (!o->dry_run) {
		int ev, er, maj, min;

		if ((r.dpy = XOpenDisplay(o->display)) == NULL) {
			err = UT_EX11;
			goto out;
		}
		if (!XTestQueryExtension(r.dpy, &ev, &er, &maj, &min)) {
			err = UT_ENOEXT;
			goto out;
		}
		stop = XStringToKeysym(o->stop_key != NULL ? o->stop_key : "Pause");
		r.stop = stop != NoSymbol ? XKeysymToKeycode(r.dpy, stop) : 0;
		if (r.stop == 0) {
			err = UT_EINVAL;
			goto out;
		}
		XGrabKey(r.dpy, r.stop, AnyModifier, DefaultRootWindow(r.dpy), True,
		    GrabModeAsync, GrabModeAsync);
		XSelectInput(r.dpy, DefaultRootWindow(r.dpy), KeyPressMask);
		r.spare = spare_keycode(r.dpy);
		XSync(r.dpy, False);
	}
	json_array_foreach(steps, i, st) {
		u = json_object_get(st, "usetrace");
		t = (uint64_t)json_integer_value(json_object_get(st, "t_ms"));
		if (!json_is_object(u)) {
			err = UT_EPARSE;
			break;
		}
		if (o->dry_run) {
			char *s = json_dumps(u, JSON_COMPACT);

			printf("step %zu t_ms=%llu %s\n", i + 1, (unsigned long long)t,
			    s != NULL ? s : "?");
			free(s);
			continue;
		}
		if (t > prev) {
			uint64_t gap = (uint64_t)((double)(t - prev) / o->speed);

			if (wait_ms(&r, gap > o->max_gap_ms ? o->max_gap_ms : gap))
				break;
		}
		prev = t;
		if (stop_pressed(&r))
			break;
		if ((err = perform(&r, u)) != 0)
			break;
		if (!o->quiet)
			fprintf(stderr, "replay: step %zu/%zu %s\n", i + 1,
			    json_array_size(steps),
			    json_string_value(json_object_get(u, "type")));
	}
	if (r.stopped) {
		log_warn("replay: stopped by the stop key");
		err = UT_ESTATE;
	}
out:
	if (r.dpy != NULL) {
		XUngrabKey(r.dpy, r.stop, AnyModifier, DefaultRootWindow(r.dpy));
		XSync(r.dpy, False);
		XCloseDisplay(r.dpy);
	}
	json_decref(steps);
	return err;
}

#else
int
export_replay(const struct replay_opts *o)
{
	(void)o;
	return UT_EX11;
}
#endif
