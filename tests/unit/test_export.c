/*
 * test_export.c - the export conversions (convert.c) and the writer's
 * directory, manifest and tar shards (writer.c, tar.c).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "usetrace/err.h"
#include "usetrace/export.h"
#include "t.h"

static char OUT[16384];

static struct ut_action
act(enum ut_action_kind k)
{
	struct ut_action a;

	memset(&a, 0, sizeof(a));
	a.kind = k;
	a.frame = -1;
	return a;
}

static struct ut_action
at(enum ut_action_kind k, int x, int y, int button)
{
	struct ut_action a = act(k);

	a.has_pos = 1;
	a.x = x;
	a.y = y;
	a.button = (uint8_t)button;
	return a;
}

static void
test_pyautogui_clicks(void)
{
	struct ut_action a = at(UT_ACT_CLICK, 0, 799, 1);

	T_ASSERT_EQ(export_to_pyautogui(&a, 1280, 800, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.click(x=0.0000, y=1.0000)");
	a = at(UT_ACT_CLICK, 1279, 0, 3);
	T_ASSERT_EQ(export_to_pyautogui(&a, 1280, 800, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.rightClick(x=1.0000, y=0.0000)");
	a = at(UT_ACT_DOUBLE_CLICK, 639, 0, 1);
	T_ASSERT_EQ(export_to_pyautogui(&a, 1279, 800, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.doubleClick(x=0.5000, y=0.0000)");
	a = at(UT_ACT_TRIPLE_CLICK, 0, 0, 2);
	T_ASSERT_EQ(export_to_pyautogui(&a, 100, 100, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.tripleClick(x=0.0000, y=0.0000, button='middle')");
	/* Back / forward buttons have no pyautogui name. */
	a = at(UT_ACT_CLICK, 1, 1, 8);
	T_ASSERT_EQ(export_to_pyautogui(&a, 100, 100, OUT, sizeof(OUT)), UT_EINVAL);
	T_ASSERT_STREQ(OUT, "");
}

static void
test_pyautogui_keys_and_text(void)
{
	struct ut_action a = act(UT_ACT_TYPE);

	snprintf(a.text, sizeof(a.text), "it's a \\ test\n");
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.write('it\\'s a \\\\ test\\n')");
	a = act(UT_ACT_HOTKEY);
	snprintf(a.keys, sizeof(a.keys), "ctrl+shift+t");
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.hotkey('ctrl', 'shift', 't')");
	snprintf(a.keys, sizeof(a.keys), "super+Return");
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.hotkey('win', 'enter')");
	a = act(UT_ACT_KEY);
	snprintf(a.keys, sizeof(a.keys), "BackSpace");
	a.repeat = 4;
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.press('backspace', presses=5)");
	snprintf(a.keys, sizeof(a.keys), "F11");
	a.repeat = 0;
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.press('f11')");
	/* Not expressible: hyper and keysyms pyautogui does not name. */
	a = act(UT_ACT_HOTKEY);
	snprintf(a.keys, sizeof(a.keys), "hyper+a");
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), UT_EINVAL);
	snprintf(a.keys, sizeof(a.keys), "ctrl+XF86Launch5");
	T_ASSERT_EQ(export_to_pyautogui(&a, 10, 10, OUT, sizeof(OUT)), UT_EINVAL);
}

static void
test_pyautogui_drag_scroll(void)
{
	struct ut_action a = at(UT_ACT_DRAG, 0, 0, 1);

	a.end_x = 99;
	a.end_y = 99;
	a.duration_ms = 250;
	T_ASSERT_EQ(export_to_pyautogui(&a, 100, 100, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.moveTo(x=0.0000, y=0.0000)\n"
	    "pyautogui.dragTo(x=1.0000, y=1.0000, duration=0.250, button='left')");
	a = at(UT_ACT_SCROLL, 50, 50, 0);
	a.dy = 3;  /* down */
	a.dx = -2; /* left */
	T_ASSERT_EQ(export_to_pyautogui(&a, 101, 101, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "pyautogui.moveTo(x=0.5000, y=0.5000)\n"
	    "pyautogui.scroll(-3)\npyautogui.hscroll(-2)");
}

static void
test_osworld(void)
{
	struct ut_action a = at(UT_ACT_CLICK, 10, 20, 1);

	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"CLICK\",\"parameters\":{\"button\":"
	    "\"left\",\"x\":10,\"y\":20,\"num_clicks\":1}}]");
	a = at(UT_ACT_CLICK, 10, 20, 3);
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"RIGHT_CLICK\",\"parameters\":"
	    "{\"x\":10,\"y\":20}}]");
	a = at(UT_ACT_DRAG, 1, 2, 1);
	a.end_x = 3;
	a.end_y = 4;
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"MOVE_TO\",\"parameters\":{\"x\":1,"
	    "\"y\":2}},{\"action_type\":\"DRAG_TO\",\"parameters\":{\"x\":3,\"y\":4}}]");
	a.button = 3; /* DRAG_TO holds the left button only */
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), UT_EINVAL);
	a = at(UT_ACT_SCROLL, 5, 6, 0);
	a.dy = 2;
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"MOVE_TO\",\"parameters\":{\"x\":5,"
	    "\"y\":6}},{\"action_type\":\"SCROLL\",\"parameters\":{\"dx\":0,\"dy\":-2}}]");
	a = act(UT_ACT_TYPE);
	snprintf(a.text, sizeof(a.text), "a\"b\x01");
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"TYPING\",\"parameters\":{\"text\":"
	    "\"a\\\"b\\u0001\"}}]");
	a = act(UT_ACT_HOTKEY);
	snprintf(a.keys, sizeof(a.keys), "ctrl+alt+Delete");
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"HOTKEY\",\"parameters\":{\"keys\":"
	    "[\"ctrl\",\"alt\",\"delete\"]}}]");
	a = act(UT_ACT_KEY);
	snprintf(a.keys, sizeof(a.keys), "Escape");
	a.repeat = 1;
	T_ASSERT_EQ(export_to_osworld(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action_type\":\"PRESS\",\"parameters\":{\"key\":"
	    "\"esc\"}},{\"action_type\":\"PRESS\",\"parameters\":{\"key\":\"esc\"}}]");
}

static void
test_anthropic(void)
{
	struct ut_action a = at(UT_ACT_DOUBLE_CLICK, 7, 8, 1);

	T_ASSERT_EQ(export_to_anthropic(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action\":\"double_click\",\"coordinate\":[7,8]}]");
	a = at(UT_ACT_CLICK, 7, 8, 2);
	T_ASSERT_EQ(export_to_anthropic(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action\":\"middle_click\",\"coordinate\":[7,8]}]");
	a = at(UT_ACT_DOUBLE_CLICK, 7, 8, 3); /* no right double click */
	T_ASSERT_EQ(export_to_anthropic(&a, OUT, sizeof(OUT)), UT_EINVAL);
	a = at(UT_ACT_DRAG, 1, 2, 1);
	a.end_x = 30;
	a.end_y = 40;
	T_ASSERT_EQ(export_to_anthropic(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action\":\"left_click_drag\",\"start_coordinate\":"
	    "[1,2],\"coordinate\":[30,40]}]");
	a = at(UT_ACT_SCROLL, 5, 6, 0);
	a.dy = -4;
	T_ASSERT_EQ(export_to_anthropic(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action\":\"scroll\",\"coordinate\":[5,6],"
	    "\"scroll_direction\":\"up\",\"scroll_amount\":4}]");
	a = act(UT_ACT_HOTKEY);
	snprintf(a.keys, sizeof(a.keys), "ctrl+s");
	T_ASSERT_EQ(export_to_anthropic(&a, OUT, sizeof(OUT)), 0);
	T_ASSERT_STREQ(OUT, "[{\"action\":\"key\",\"text\":\"ctrl+s\"}]");
}

static void
test_small_output_is_an_error(void)
{
	struct ut_action a = act(UT_ACT_TYPE);
	char small[8];

	snprintf(a.text, sizeof(a.text), "a long text that does not fit");
	T_ASSERT_EQ(export_to_pyautogui(&a, 1, 1, small, sizeof(small)), UT_ETOOBIG);
	T_ASSERT_STREQ(small, "");
	T_ASSERT_EQ(export_to_anthropic(&a, small, sizeof(small)), UT_ETOOBIG);
}

static char *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = malloc(1 << 20);

	T_ASSERT(f != NULL && p != NULL);
	*n = fread(p, 1, (1 << 20) - 1, f);
	p[*n] = '\0';
	fclose(f);
	return p;
}

static void
test_writer_webdataset(void)
{
	char dir[] = "/tmp/ut-export-XXXXXX", path[256], *m;
	struct export_writer *w;
	struct export_episode e = { .outcome = 1, .contributor = "c0ffee" };
	struct ut_action a = at(UT_ACT_CLICK, 3, 4, 1);
	struct export_step s = { .a = &a, .app = "Mousepad", .title = "x [EMAIL] y",
	    .sensitivity = 3, .screen_w = 10, .screen_h = 10,
	    .img = (const uint8_t *)"not-a-png", .img_len = 9 };
	size_t n;
	struct stat st;

	T_ASSERT(mkdtemp(dir) != NULL);
	T_ASSERT_EQ(export_writer_open(dir, EXPORT_WEBDATASET, "x1", &w), 0);
	T_ASSERT_EQ(export_writer_step(w, &s), UT_ESTATE); /* no episode yet */
	T_ASSERT_EQ(export_writer_episode(w, &e), 0);
	T_ASSERT_EQ(export_writer_step(w, &s), 0);
	T_ASSERT_EQ(export_writer_step(w, &s), 0);
	T_ASSERT_EQ(export_writer_close(w), 0);
	snprintf(path, sizeof(path), "%s/shard-000000.tar", dir);
	T_ASSERT_EQ(stat(path, &st), 0);
	/* 4 members of one 512-byte block each + header blocks + 2 end blocks. */
	T_ASSERT_EQ(st.st_size, 4 * 1024 + 1024);
	m = slurp(path, &n);
	T_ASSERT(memcmp(m, "e000001_s000001.png", 19) == 0);
	T_ASSERT(memcmp(m + 257, "ustar", 5) == 0);
	T_ASSERT(memcmp(m + 136, "00000000000", 11) == 0); /* mtime 0 */
	free(m);
	snprintf(path, sizeof(path), "%s/MANIFEST.sha256", dir);
	m = slurp(path, &n);
	T_ASSERT(strstr(m, "  shard-000000.tar\n") != NULL);
	T_ASSERT(strstr(m, "  DATACARD.json\n") != NULL);
	T_ASSERT(strstr(m, "  DATACARD.md\n") != NULL);
	free(m);
	snprintf(path, sizeof(path), "%s/DATACARD.json", dir);
	m = slurp(path, &n);
	T_ASSERT(strstr(m, "\"EMAIL\": 2") != NULL);
	T_ASSERT(strstr(m, "\"steps\": 2") != NULL);
	free(m);
	/* A second writer into the same, non-empty directory is refused. */
	T_ASSERT_EQ(export_writer_open(dir, EXPORT_JSONL, "x2", &w), UT_ESTATE);
	T_ASSERT_EQ(export_format_parse("osworld", &(enum export_format){ 0 }), 0);
	T_ASSERT_EQ(export_format_parse("csv", &(enum export_format){ 0 }), UT_EINVAL);
}

static struct ut_event
mk_target(void)
{
	struct ut_event t;

	memset(&t, 0, sizeof(t));
	t.type = UT_EV_TARGET;
	t.u.target.x = 2;
	t.u.target.y = 3;
	t.u.target.w = 5;
	t.u.target.h = 4;
	strcpy(t.u.target.role, "push button");
	strcpy(t.u.target.name, "Send [EMAIL]");
	strcpy(t.u.target.path, "dialog/filler/push button");
	return t;
}

/* The step's target as the schema says: an object, or null without one. */
static void
check_target(const json_t *tg, int want)
{
	const json_t *bb, *bn, *p;

	if (!want) {
		T_ASSERT(json_is_null(tg));
		return;
	}
	T_ASSERT(json_is_object(tg));
	T_ASSERT_EQ(json_object_size(tg), 5);
	T_ASSERT_STREQ(json_string_value(json_object_get(tg, "role")), "push button");
	T_ASSERT_STREQ(json_string_value(json_object_get(tg, "name")), "Send [EMAIL]");
	bb = json_object_get(tg, "bbox");
	T_ASSERT_EQ(json_array_size(bb), 4);
	T_ASSERT_EQ(json_integer_value(json_array_get(bb, 0)), 2);
	T_ASSERT_EQ(json_integer_value(json_array_get(bb, 3)), 4);
	bn = json_object_get(tg, "bbox_norm");
	T_ASSERT_EQ(json_array_size(bn), 4);
	T_ASSERT(json_real_value(json_array_get(bn, 2)) == 0.5); /* 5 of 10 */
	p = json_object_get(tg, "path");
	T_ASSERT_EQ(json_array_size(p), 3);
	T_ASSERT_STREQ(json_string_value(json_array_get(p, 0)), "dialog");
	T_ASSERT_STREQ(json_string_value(json_array_get(p, 2)), "push button");
}

/*
 * Target elements in every step: jsonl lines and pyautogui's step
 * objects carry "target" (with one and without); the JSON form of an
 * action (show --json, the server) reads back into the same record.
 */
static void
test_writer_target(void)
{
	char dir[] = "/tmp/ut-export-XXXXXX", dir2[64], path[256], *m, *line,
	    *save = NULL;
	struct export_writer *w;
	struct export_episode e = { .outcome = 1 };
	struct ut_event t = mk_target(), back;
	struct ut_action a = at(UT_ACT_CLICK, 3, 4, 1), b = at(UT_ACT_CLICK, 5, 5, 1);
	struct export_step s1 = { .a = &a, .sensitivity = 3, .screen_w = 10, .screen_h = 10 };
	struct export_step s2 = { .a = &b, .sensitivity = 1, .screen_w = 10, .screen_h = 10 };
	json_t *j, *st;
	size_t n, k = 0;
	FILE *f;

	a.target = &t;
	T_ASSERT(mkdtemp(dir) != NULL);
	T_ASSERT_EQ(export_writer_open(dir, EXPORT_JSONL, "x1", &w), 0);
	T_ASSERT_EQ(export_writer_episode(w, &e), 0);
	T_ASSERT_EQ(export_writer_step(w, &s1), 0);
	T_ASSERT_EQ(export_writer_step(w, &s2), 0);
	T_ASSERT_EQ(export_writer_close(w), 0);
	snprintf(path, sizeof(path), "%s/steps.jsonl", dir);
	m = slurp(path, &n);
	for (line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		j = json_loads(line, 0, NULL);
		T_ASSERT(j != NULL);
		check_target(json_object_get(j, "target"), k == 0);
		json_decref(j);
		k++;
	}
	T_ASSERT_EQ(k, 2);
	free(m);

	snprintf(dir2, sizeof(dir2), "%s/p", dir);
	T_ASSERT_EQ(export_writer_open(dir2, EXPORT_PYAUTOGUI, "x1", &w), 0);
	T_ASSERT_EQ(export_writer_episode(w, &e), 0);
	T_ASSERT_EQ(export_writer_step(w, &s1), 0);
	T_ASSERT_EQ(export_writer_step(w, &s2), 0);
	T_ASSERT_EQ(export_writer_close(w), 0);
	snprintf(path, sizeof(path), "%s/episodes.jsonl", dir2);
	m = slurp(path, &n);
	j = json_loads(m, 0, NULL);
	T_ASSERT(j != NULL);
	T_ASSERT_EQ(json_array_size(json_object_get(j, "traj")), 2);
	st = json_array_get(json_object_get(j, "traj"), 0);
	T_ASSERT(json_is_string(json_object_get(st, "code")));
	check_target(json_object_get(st, "target"), 1);
	check_target(json_object_get(json_array_get(json_object_get(j, "traj"), 1),
	    "target"), 0);
	json_decref(j);
	free(m);

	/* The action's JSON form and back (server exports). */
	m = NULL;
	f = open_memstream(&m, &n);
	action_print_json(f, &a);
	fclose(f);
	j = json_loads(m, 0, NULL);
	T_ASSERT(j != NULL);
	T_ASSERT_EQ(export_target_from_json(j, &back), 1);
	T_ASSERT_STREQ(back.u.target.role, "push button");
	T_ASSERT_STREQ(back.u.target.name, "Send [EMAIL]");
	T_ASSERT_STREQ(back.u.target.path, "dialog/filler/push button");
	T_ASSERT_EQ(back.u.target.w, 5);
	T_ASSERT_EQ(back.u.target.y, 3);
	json_decref(j);
	free(m);
	m = NULL;
	f = open_memstream(&m, &n);
	action_print_json(f, &b);
	fclose(f);
	T_ASSERT(strstr(m, "target") == NULL);
	j = json_loads(m, 0, NULL);
	T_ASSERT_EQ(export_target_from_json(j, &back), 0);
	json_decref(j);
	free(m);
	j = json_loads("{\"target\":{\"role\":\"x\"}}", 0, NULL);
	T_ASSERT_EQ(export_target_from_json(j, &back), UT_EPARSE);
	json_decref(j);
}

T_LIST(T_CASE(test_pyautogui_clicks), T_CASE(test_writer_target), T_CASE(test_pyautogui_keys_and_text),
    T_CASE(test_pyautogui_drag_scroll), T_CASE(test_osworld),
    T_CASE(test_anthropic), T_CASE(test_small_output_is_an_error),
    T_CASE(test_writer_webdataset))
