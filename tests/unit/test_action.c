/*
 * test_action.c - the raw-record -> action reduction.
 */
#include <xkbcommon/xkbcommon-keysyms.h>

#include "usetrace/action.h"
#include "t.h"

#define MAXA 64

struct got {
	struct ut_action a[MAXA];
	char focus_app[MAXA][UT_EV_APP_MAX];
	char target_role[MAXA][UT_EV_ROLE_MAX];  /* "" when none */
	uint64_t target_seq[MAXA];
	uint64_t seqcount[MAXA];
	uint64_t covered[4096];
	size_t n;
};

static struct got G;
static struct action_reducer *AR;
static uint64_t SEQ, T_MS;

static int
cb(const struct ut_action *a, void *arg)
{
	size_t i;
	uint64_t s;

	(void)arg;
	T_ASSERT(G.n < MAXA);
	G.a[G.n] = *a;
	G.a[G.n].path = NULL;
	G.a[G.n].seqs = NULL;
	G.a[G.n].focus = NULL;
	G.a[G.n].target = NULL;
	if (a->target != NULL) {
		snprintf(G.target_role[G.n], sizeof(G.target_role[0]), "%s",
		    a->target->u.target.role);
		G.target_seq[G.n] = a->target->u.target.action_seq;
	}
	snprintf(G.focus_app[G.n], sizeof(G.focus_app[0]), "%s",
	    a->focus ? a->focus->u.focus.app : "");
	for (i = 0; i < a->nseqs; i++)
		for (s = a->seqs[i].first; s <= a->seqs[i].last; s++) {
			G.covered[s]++;
			G.seqcount[G.n]++;
		}
	G.n++;
	return 0;
}

static void
start(void)
{
	struct ut_event ev;

	memset(&G, 0, sizeof(G));
	SEQ = 0;
	T_MS = 1000;
	AR = action_reducer_create(NULL, cb, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_SESSION;
	ev.seq = ++SEQ;
	ev.mono_ns = T_MS * 1000000ull;
	ev.xtime = (uint32_t)T_MS;
	T_ASSERT_EQ(action_reducer_push(AR, &ev), 0);
}

static void
finish(void)
{
	T_ASSERT_EQ(action_reducer_finish(AR), 0);
	action_reducer_destroy(AR);
	AR = NULL;
}

static void
push(struct ut_event *ev, unsigned dt_ms)
{
	T_MS += dt_ms;
	ev->seq = ++SEQ;
	ev->mono_ns = T_MS * 1000000ull;
	if (ev->xtime == 0)
		ev->xtime = (uint32_t)T_MS;
	ev->sensitivity = 2;
	T_ASSERT_EQ(action_reducer_push(AR, ev), 0);
}

static void
key(unsigned dt, int down, uint32_t sym, const char *name, const char *text,
    uint16_t state, uint8_t kc)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_KEY;
	ev.u.key.down = (uint8_t)down;
	ev.u.key.keysym = sym;
	ev.u.key.keycode = kc;
	ev.u.key.state = state;
	snprintf(ev.u.key.name, sizeof(ev.u.key.name), "%s", name);
	snprintf(ev.u.key.text, sizeof(ev.u.key.text), "%s", down ? text : "");
	push(&ev, dt);
}

static void
tap(unsigned dt, uint32_t sym, const char *name, const char *text, uint8_t kc)
{
	key(dt, 1, sym, name, text, 0, kc);
	key(10, 0, sym, name, text, 0, kc);
}

static void
button(unsigned dt, int b, int down, int x, int y)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_BUTTON;
	ev.u.button.button = (uint8_t)b;
	ev.u.button.down = (uint8_t)down;
	ev.u.button.x = x;
	ev.u.button.y = y;
	push(&ev, dt);
}

static void
motion(unsigned dt, int x, int y)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_MOTION;
	ev.u.motion.x = x;
	ev.u.motion.y = y;
	push(&ev, dt);
}

static void
focus(unsigned dt, const char *app, uint32_t xtime)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FOCUS;
	ev.xtime = xtime;
	snprintf(ev.u.focus.app, sizeof(ev.u.focus.app), "%s", app);
	push(&ev, dt);
}

static void
assert_all_covered_once(void)
{
	uint64_t s;

	for (s = 1; s <= SEQ; s++) {
		if (s == 1)
			continue; /* session */
		if (G.covered[s] == 0)
			continue; /* focus records belong to no action */
		T_ASSERT_EQ(G.covered[s], 1);
	}
}

static void
test_action_click_double_triple(void)
{
	start();
	button(100, 1, 1, 100, 100);
	button(50, 1, 0, 100, 100);
	button(1000, 1, 1, 200, 200);
	button(50, 1, 0, 200, 200);
	button(100, 1, 1, 201, 200);
	button(50, 1, 0, 201, 200);
	button(1000, 3, 1, 300, 300);
	button(50, 3, 0, 300, 300);
	button(100, 3, 1, 300, 300);
	button(50, 3, 0, 300, 300);
	button(100, 3, 1, 300, 300);
	button(50, 3, 0, 300, 300);
	finish();
	T_ASSERT_EQ(G.n, 3);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_CLICK);
	T_ASSERT_EQ(G.a[0].x, 100);
	T_ASSERT_EQ(G.a[0].button, 1);
	T_ASSERT_EQ(G.a[0].t_ms, 100);
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_DOUBLE_CLICK);
	T_ASSERT_EQ(G.a[1].x, 200);
	T_ASSERT_EQ(G.seqcount[1], 4);
	T_ASSERT_EQ(G.a[2].kind, UT_ACT_TRIPLE_CLICK);
	T_ASSERT_EQ(G.a[2].button, 3);
	T_ASSERT_EQ(G.seqcount[2], 6);
	assert_all_covered_once();
}

static void
test_action_slow_or_far_clicks_stay_single(void)
{
	start();
	button(100, 1, 1, 100, 100);
	button(50, 1, 0, 100, 100);
	button(500, 1, 1, 100, 100); /* too late */
	button(50, 1, 0, 100, 100);
	button(100, 1, 1, 120, 100); /* too far */
	button(50, 1, 0, 120, 100);
	finish();
	T_ASSERT_EQ(G.n, 3);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_CLICK);
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_CLICK);
	T_ASSERT_EQ(G.a[2].kind, UT_ACT_CLICK);
}

static void
test_action_drag_with_path(void)
{
	start();
	motion(10, 100, 100);
	button(10, 1, 1, 100, 100);
	motion(20, 150, 150);
	motion(20, 260, 220);
	button(20, 1, 0, 260, 220);
	finish();
	T_ASSERT_EQ(G.n, 2);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_MOVE);
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_DRAG);
	T_ASSERT_EQ(G.a[1].x, 100);
	T_ASSERT_EQ(G.a[1].y, 100);
	T_ASSERT_EQ(G.a[1].end_x, 260);
	T_ASSERT_EQ(G.a[1].end_y, 220);
	T_ASSERT_EQ(G.a[1].npath, 4);
	T_ASSERT_EQ(G.seqcount[1], 4);
	assert_all_covered_once();
}

static void
test_action_scroll_bursts(void)
{
	int i;

	start();
	for (i = 0; i < 3; i++) {
		button(30, 5, 1, 50, 60);
		button(1, 5, 0, 50, 60);
	}
	for (i = 0; i < 2; i++) {
		button(i == 0 ? 1000 : 30, 4, 1, 50, 60);
		button(1, 4, 0, 50, 60);
	}
	button(30, 6, 1, 50, 60);
	button(1, 6, 0, 50, 60);
	finish();
	T_ASSERT_EQ(G.n, 3);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_SCROLL);
	T_ASSERT_EQ(G.a[0].dy, 3);
	T_ASSERT_EQ(G.a[1].dy, -2);
	T_ASSERT_EQ(G.a[2].dx, -1);
	T_ASSERT_EQ(G.a[2].dy, 0);
	assert_all_covered_once();
}

static void
test_action_typing_with_shift_and_return(void)
{
	start();
	key(100, 1, XKB_KEY_Shift_L, "Shift_L", "", 0, 50);
	key(10, 1, XKB_KEY_H, "H", "H", 1, 43);
	key(10, 0, XKB_KEY_H, "H", "", 1, 43);
	key(10, 0, XKB_KEY_Shift_L, "Shift_L", "", 1, 50);
	tap(10, XKB_KEY_i, "i", "i", 31);
	tap(10, XKB_KEY_Return, "Return", "\r", 36);
	tap(10, XKB_KEY_adiaeresis, "adiaeresis", "\xc3\xa4", 48);
	finish();
	T_ASSERT_EQ(G.n, 1);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_TYPE);
	T_ASSERT_STREQ(G.a[0].text, "Hi\n\xc3\xa4");
	T_ASSERT_EQ(G.seqcount[0], 10);
	assert_all_covered_once();
}

static void
test_action_hotkey_and_key(void)
{
	start();
	tap(100, XKB_KEY_a, "a", "a", 38);
	key(100, 1, XKB_KEY_Control_L, "Control_L", "", 0, 37);
	key(10, 1, XKB_KEY_Shift_L, "Shift_L", "", 4, 50);
	key(10, 1, XKB_KEY_T, "T", "\x14", 5, 28);
	key(10, 0, XKB_KEY_T, "T", "", 5, 28);
	key(10, 0, XKB_KEY_Shift_L, "Shift_L", "", 5, 50);
	key(10, 0, XKB_KEY_Control_L, "Control_L", "", 4, 37);
	tap(100, XKB_KEY_BackSpace, "BackSpace", "\b", 22);
	tap(100, XKB_KEY_b, "b", "b", 56);
	key(100, 1, XKB_KEY_Super_L, "Super_L", "", 0, 133);
	key(10, 0, XKB_KEY_Super_L, "Super_L", "", 64, 133);
	finish();
	T_ASSERT_EQ(G.n, 5);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_TYPE);
	T_ASSERT_STREQ(G.a[0].text, "a");
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_HOTKEY);
	T_ASSERT_STREQ(G.a[1].keys, "ctrl+shift+t");
	T_ASSERT_EQ(G.seqcount[1], 6);
	T_ASSERT_EQ(G.a[2].kind, UT_ACT_KEY);
	T_ASSERT_STREQ(G.a[2].keys, "BackSpace");
	T_ASSERT_EQ(G.a[3].kind, UT_ACT_TYPE);
	T_ASSERT_STREQ(G.a[3].text, "b");
	T_ASSERT_EQ(G.a[4].kind, UT_ACT_KEY);
	T_ASSERT_STREQ(G.a[4].keys, "Super_L");
	assert_all_covered_once();
}

static void
test_action_autorepeat_folds(void)
{
	start();
	key(100, 1, XKB_KEY_BackSpace, "BackSpace", "\b", 0, 22);
	key(500, 1, XKB_KEY_BackSpace, "BackSpace", "\b", 0, 22);
	key(30, 1, XKB_KEY_BackSpace, "BackSpace", "\b", 0, 22);
	key(30, 0, XKB_KEY_BackSpace, "BackSpace", "", 0, 22);
	finish();
	T_ASSERT_EQ(G.n, 1);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_KEY);
	T_ASSERT_EQ(G.a[0].repeat, 2);
	T_ASSERT_EQ(G.seqcount[0], 4);
}

static void
test_action_focus_by_server_time(void)
{
	start();
	focus(10, "First", 1005);
	/* Typed at xtime 1030 ... */
	key(20, 1, XKB_KEY_a, "a", "a", 0, 38);
	key(0, 0, XKB_KEY_a, "a", "", 0, 38);
	/* ... after a focus change at xtime 1020 that arrived late. */
	focus(5, "Second", 1020);
	tap(3000, XKB_KEY_b, "b", "b", 56);
	finish();
	T_ASSERT_EQ(G.n, 2);
	T_ASSERT_STREQ(G.focus_app[0], "Second");
	T_ASSERT_STREQ(G.focus_app[1], "Second");
}

static void
test_action_type_run_splits_on_click_and_gap(void)
{
	start();
	tap(100, XKB_KEY_a, "a", "a", 38);
	button(100, 1, 1, 10, 10);
	button(10, 1, 0, 10, 10);
	tap(100, XKB_KEY_b, "b", "b", 56);
	tap(3000, XKB_KEY_c, "c", "c", 54);
	finish();
	T_ASSERT_EQ(G.n, 4);
	T_ASSERT_STREQ(G.a[0].text, "a");
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_CLICK);
	T_ASSERT_STREQ(G.a[2].text, "b");
	T_ASSERT_STREQ(G.a[3].text, "c");
}

static void
test_action_moves_collapse(void)
{
	int i;

	start();
	for (i = 0; i < 100; i++)
		motion(5, i, i * 2);
	button(10, 1, 1, 99, 198);
	button(10, 1, 0, 99, 198);
	finish();
	T_ASSERT_EQ(G.n, 2);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_MOVE);
	T_ASSERT_EQ(G.a[0].x, 0);
	T_ASSERT_EQ(G.a[0].end_x, 99);
	T_ASSERT_EQ(G.a[0].end_y, 198);
	T_ASSERT_EQ(G.seqcount[0], 100);
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_CLICK);
	assert_all_covered_once();
}

static void
frame(unsigned dt, uint64_t id, uint32_t done, uint16_t nparts)
{
	struct ut_event ev;
	uint16_t i;

	for (i = 0; i < nparts; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_FRAME;
		ev.u.frame.frame_id = id;
		ev.u.frame.xtime_done = done;
		ev.u.frame.part = i;
		ev.u.frame.nparts = nparts;
		push(&ev, i == 0 ? dt : 0);
	}
}

static void
test_action_frame_before_action(void)
{
	start();
	frame(10, 1, 1005, 1);
	/* Click at xtime 1110; frame 2 completed at 1100 (before), and frame
	 * 3 completed at 1110 - the same millisecond, so not before. */
	frame(90, 2, 1100, 3);
	button(10, 1, 1, 5, 5);
	button(10, 1, 0, 5, 5);
	frame(5, 3, 1110, 1);
	tap(100, XKB_KEY_a, "a", "a", 38); /* xtime 1235 */
	finish();
	T_ASSERT_EQ(G.n, 2);
	T_ASSERT_EQ(G.a[0].frame, 2);
	T_ASSERT_EQ(G.a[1].frame, 3);
}

static void
target(unsigned dt, uint64_t action_seq, const char *role)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_TARGET;
	ev.u.target.action_seq = action_seq;
	ev.u.target.w = ev.u.target.h = 10;
	snprintf(ev.u.target.role, sizeof(ev.u.target.role), "%s", role);
	push(&ev, dt);
}

/*
 * A target record goes to the action holding its press, even when it
 * comes after later records (a double click's second press, the typing
 * run's next keys); the first one an action gets is kept; one naming no
 * pending press is dropped; target records belong to no action's seq.
 */
static void
test_action_targets_attach(void)
{
	uint64_t press, key1;

	start();
	button(100, 1, 1, 50, 50);
	press = SEQ;
	button(50, 1, 0, 50, 50);
	target(5, press, "push button");
	button(100, 1, 1, 51, 50); /* a double click */
	target(5, SEQ, "label");  /* its second press: not kept */
	button(50, 1, 0, 51, 50);
	tap(500, 'a', "a", "a", 38);
	key1 = SEQ - 1;
	tap(100, 'b', "b", "b", 56);
	target(5, key1, "text");   /* after the run's second key */
	tap(100, 'c', "c", "c", 54);
	target(5, 9999, "menu item"); /* no such press */
	button(500, 1, 1, 200, 200);
	button(50, 1, 0, 200, 200);
	finish();
	T_ASSERT_EQ(G.n, 3);
	T_ASSERT_EQ(G.a[0].kind, UT_ACT_DOUBLE_CLICK);
	T_ASSERT_STREQ(G.target_role[0], "push button");
	T_ASSERT_EQ(G.target_seq[0], press);
	T_ASSERT_EQ(G.a[1].kind, UT_ACT_TYPE);
	T_ASSERT_STREQ(G.a[1].text, "abc");
	T_ASSERT_STREQ(G.target_role[1], "text");
	T_ASSERT_EQ(G.target_seq[1], key1);
	T_ASSERT_EQ(G.a[2].kind, UT_ACT_CLICK);
	T_ASSERT_STREQ(G.target_role[2], "");
}

T_LIST(T_CASE(test_action_frame_before_action), T_CASE(test_action_targets_attach),
    T_CASE(test_action_click_double_triple),
    T_CASE(test_action_slow_or_far_clicks_stay_single),
    T_CASE(test_action_drag_with_path), T_CASE(test_action_scroll_bursts),
    T_CASE(test_action_typing_with_shift_and_return),
    T_CASE(test_action_hotkey_and_key), T_CASE(test_action_autorepeat_folds),
    T_CASE(test_action_focus_by_server_time),
    T_CASE(test_action_type_run_splits_on_click_and_gap),
    T_CASE(test_action_moves_collapse))
