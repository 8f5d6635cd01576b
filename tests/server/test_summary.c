/*
 * test_summary.c - the segment summary computed at ingest (src/server/
 * summary.c) for the web page's day view (issue 13): active time in all
 * and per application (input gaps of at most 30 s, the focused
 * application's, a denied one as "denied"), redactions by type (summed by
 * their counts), blacked-out frames (grabbed under a denied focus, or
 * REDACTED records of what "frame"), each frame counted once.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "usetrace/event.h"
#include "server_int.h"
#include "t.h"

#define S 1000000000ULL

static void
push(struct srv_summary_acc *a, uint8_t type, uint64_t t, void (*fill)(struct ut_event *))
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.mono_ns = 1000 * S + t;
	ev.sensitivity = 1;
	if (fill != NULL)
		fill(&ev);
	srv_summary_push(a, &ev);
}

static void f_term(struct ut_event *e) { strcpy(e->u.focus.app, "Term"); strcpy(e->u.focus.title, "t"); }
static void f_editor(struct ut_event *e) { strcpy(e->u.focus.app, "Editor"); }
static void f_denied(struct ut_event *e) { e->u.focus.denied = 1; }
static void k_a(struct ut_event *e) { e->u.key.down = 1; e->u.key.keysym = 'a'; strcpy(e->u.key.text, "a"); }
static void fr_1(struct ut_event *e) { e->u.frame.frame_id = 1; e->u.frame.nparts = 2; }
static void fr_2(struct ut_event *e) { e->u.frame.frame_id = 2; e->u.frame.nparts = 1; }
static void r_pw(struct ut_event *e) { strcpy(e->u.redacted.what, "keys"); strcpy(e->u.redacted.why, "password-field"); e->u.redacted.count = 3; }
static void r_cc(struct ut_event *e) { strcpy(e->u.redacted.what, "text"); strcpy(e->u.redacted.why, "CREDIT_CARD"); }
static void r_fr(struct ut_event *e) { strcpy(e->u.redacted.what, "frame"); strcpy(e->u.redacted.why, "secret-window"); e->u.redacted.count = 2; }

static void
test_summary_web_fields(void)
{
	struct srv_summary_acc *a = srv_summary_create();
	json_t *j, *apps, *ms, *types;
	unsigned sens = 0;
	char *text;

	push(a, UT_EV_SESSION, 0, NULL);
	push(a, UT_EV_FOCUS, 0, f_term);
	push(a, UT_EV_KEY, 0, k_a);
	push(a, UT_EV_KEY, 1 * S, k_a);
	push(a, UT_EV_BUTTON, 2 * S, NULL);          /* Term: 2 s */
	push(a, UT_EV_REDACTED, 2 * S, r_pw);
	push(a, UT_EV_FOCUS, 3 * S, f_denied);
	push(a, UT_EV_MOTION, 4 * S, NULL);          /* denied: 2 s */
	push(a, UT_EV_FRAME, 5 * S, fr_1);           /* blacked (denied focus) */
	push(a, UT_EV_FRAME, 5 * S, fr_1);           /* its second part */
	push(a, UT_EV_REDACTED, 5 * S, r_cc);
	push(a, UT_EV_FOCUS, 6 * S, f_editor);
	push(a, UT_EV_FRAME, 6 * S, fr_2);           /* not blacked */
	push(a, UT_EV_REDACTED, 6 * S, r_fr);        /* 2 more blacked */
	push(a, UT_EV_SCROLL, 100 * S, NULL);        /* 94 s idle: not active */
	push(a, UT_EV_KEY, 100 * S + S / 2, k_a);    /* Editor: 0.5 s */
	text = srv_summary_finish(a, &sens);
	srv_summary_destroy(a);
	T_ASSERT(text != NULL);
	j = json_loads(text, 0, NULL);
	T_ASSERT(j != NULL);
	T_ASSERT_EQ(json_integer_value(json_object_get(j, "active_ms")), 4500);
	apps = json_object_get(j, "apps");
	ms = json_object_get(j, "app_active_ms");
	T_ASSERT_EQ(json_array_size(apps), 3);
	T_ASSERT_EQ(json_array_size(ms), 3);
	T_ASSERT_STREQ(json_string_value(json_array_get(apps, 0)), "Term");
	T_ASSERT_EQ(json_integer_value(json_array_get(ms, 0)), 2000);
	T_ASSERT_STREQ(json_string_value(json_array_get(apps, 1)), "denied");
	T_ASSERT_EQ(json_integer_value(json_array_get(ms, 1)), 2000);
	T_ASSERT_STREQ(json_string_value(json_array_get(apps, 2)), "Editor");
	T_ASSERT_EQ(json_integer_value(json_array_get(ms, 2)), 500);
	types = json_object_get(j, "redaction_types");
	T_ASSERT_EQ(json_object_size(types), 3);
	T_ASSERT_EQ(json_integer_value(json_object_get(types, "password-field")), 3);
	T_ASSERT_EQ(json_integer_value(json_object_get(types, "CREDIT_CARD")), 1);
	T_ASSERT_EQ(json_integer_value(json_object_get(types, "secret-window")), 2);
	T_ASSERT_EQ(json_integer_value(json_object_get(j, "redactions")), 3);
	T_ASSERT_EQ(json_integer_value(json_object_get(j, "frames")), 2);
	T_ASSERT_EQ(json_integer_value(json_object_get(j, "blacked_frames")), 3);
	json_decref(j);
	free(text);
}

T_LIST(T_CASE(test_summary_web_fields))
