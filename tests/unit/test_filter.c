/*
 * test_filter.c - the privacy filter: key-log consistency (PRIV-P5-1),
 * order, BackSpace, bursts and their ends, titles, levels, caps.
 */
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/privacy.h"
#include "t.h"

#define MAXOUT 8192
#define MS 1000000ull

static struct ut_event OUT[MAXOUT];
static size_t NOUT;
static uint64_t SEQ, NOW;

static int
collect(void *arg, const struct ut_event *ev)
{
	(void)arg;
	T_ASSERT(NOUT < MAXOUT);
	OUT[NOUT++] = *ev;
	return 0;
}

static struct privacy_filter *
mk(uint32_t max_records)
{
	struct privacy_filter_opts o = { .max_records = max_records };
	struct privacy_filter *pf;

	NOUT = 0;
	SEQ = 1;
	NOW = 1000 * MS;
	pf = privacy_filter_create(&o, collect, NULL);
	T_ASSERT(pf != NULL);
	return pf;
}

static void
key(struct privacy_filter *pf, uint32_t sym, const char *text, int down)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	NOW += 30 * MS;
	ev.type = UT_EV_KEY;
	ev.sensitivity = UT_SENS_CONTENT;
	ev.u.key.keysym = sym;
	ev.u.key.keycode = (uint8_t)(sym & 0x7f) + 8;
	ev.u.key.down = (uint8_t)down;
	if (sym < 0x80)
		ev.u.key.name[0] = (char)sym;
	else
		snprintf(ev.u.key.name, sizeof(ev.u.key.name), "BackSpace");
	if (down && text != NULL)
		snprintf(ev.u.key.text, sizeof(ev.u.key.text), "%s", text);
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
}

static void
type_str(struct privacy_filter *pf, const char *s)
{
	char c[2] = { 0, 0 };

	for (; *s; s++) {
		c[0] = *s;
		key(pf, (unsigned char)*s, c, 1);
		key(pf, (unsigned char)*s, NULL, 0);
	}
}

static void
backspace(struct privacy_filter *pf)
{
	key(pf, 0xff08, "\b", 1);
	key(pf, 0xff08, NULL, 0);
}

static void
motion(struct privacy_filter *pf)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	ev.type = UT_EV_MOTION;
	ev.u.motion.x = 10;
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
}

static bool
has_digit(const char *s)
{
	for (; *s; s++)
		if (*s >= '0' && *s <= '9')
			return true;
	return false;
}

/* Emitted seqs strictly increase (stored order is seq order). */
static void
assert_ordered(void)
{
	size_t i;

	for (i = 1; i < NOUT; i++)
		T_ASSERT(OUT[i - 1].seq < OUT[i].seq);
}

static const struct ut_event *
find_redacted(const char *why)
{
	size_t i;

	for (i = 0; i < NOUT; i++)
		if (OUT[i].type == UT_EV_REDACTED && strcmp(OUT[i].u.redacted.why, why) == 0)
			return &OUT[i];
	return NULL;
}

/* No KEY record of a digit survives: not in text, name or keysym. */
static void
assert_no_digit_keys(void)
{
	size_t i;

	for (i = 0; i < NOUT; i++) {
		if (OUT[i].type != UT_EV_KEY)
			continue;
		T_ASSERT(!has_digit(OUT[i].u.key.text));
		T_ASSERT(!has_digit(OUT[i].u.key.name));
		T_ASSERT(!(OUT[i].u.key.keysym >= '0' && OUT[i].u.key.keysym <= '9'));
	}
}

static void
test_filter_card_leaves_no_key(void)
{
	struct privacy_filter *pf = mk(0);
	const struct ut_event *r;
	size_t i, keys = 0;

	type_str(pf, "card 4111 1111 1111 1111 ok");
	T_ASSERT_EQ(NOUT, 0); /* held while the burst is open */
	T_ASSERT_EQ(privacy_filter_tick(pf, NOW + 2000 * MS), 0);
	assert_no_digit_keys();
	assert_ordered();
	r = find_redacted("CREDIT_CARD");
	T_ASSERT(r != NULL);
	T_ASSERT_STREQ(r->u.redacted.what, "keys");
	T_ASSERT_EQ(r->u.redacted.count, 19);
	T_ASSERT_EQ(r->sensitivity, UT_SENS_SECRET);
	T_ASSERT_EQ(r->seq, 11); /* the press of the first '4' */
	for (i = 0; i < NOUT; i++) {
		if (OUT[i].type == UT_EV_KEY) {
			keys++;
			T_ASSERT_EQ(OUT[i].sensitivity, UT_SENS_CONTENT);
		}
	}
	T_ASSERT_EQ(keys, 2 * 8); /* "card " and " ok" */
	T_ASSERT_EQ(NOUT, keys + 1);
	privacy_filter_destroy(pf);
}

static void
test_filter_backspace(void)
{
	struct privacy_filter *pf = mk(0);

	/* A typo fixed with BackSpace: the typed text holds a valid card. */
	type_str(pf, "4111 1111 1111 1112");
	backspace(pf);
	type_str(pf, "1 ");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT(find_redacted("CREDIT_CARD") != NULL);
	assert_no_digit_keys();
	assert_ordered();
	privacy_filter_destroy(pf);

	/* Typed and then deleted: still caught (raw key sequence). */
	pf = mk(0);
	type_str(pf, "4111 1111 1111 1111");
	for (int i = 0; i < 19; i++)
		backspace(pf);
	type_str(pf, "hi");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT(find_redacted("CREDIT_CARD") != NULL);
	assert_no_digit_keys();
	assert_ordered();
	privacy_filter_destroy(pf);
}

static void
test_filter_holds_other_records_in_order(void)
{
	struct privacy_filter *pf = mk(0);
	size_t i, motions = 0;

	type_str(pf, "mail bob@");
	motion(pf);
	type_str(pf, "example.com now");
	T_ASSERT_EQ(NOUT, 0);
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	assert_ordered();
	T_ASSERT(find_redacted("EMAIL") != NULL);
	T_ASSERT_EQ(find_redacted("EMAIL")->sensitivity, UT_SENS_PERSONAL);
	for (i = 0; i < NOUT; i++) {
		if (OUT[i].type == UT_EV_MOTION) {
			motions++;
			T_ASSERT_EQ(OUT[i].sensitivity, UT_SENS_NONE);
		}
		if (OUT[i].type == UT_EV_KEY)
			T_ASSERT(strchr("@.", OUT[i].u.key.name[0]) == NULL ||
			    OUT[i].u.key.name[0] == '\0');
	}
	T_ASSERT_EQ(motions, 1);
	privacy_filter_destroy(pf);
}

static void
test_filter_burst_ends(void)
{
	struct privacy_filter *pf = mk(0);
	struct ut_event ev;

	type_str(pf, "hello");
	/* A gap longer than the burst gap releases on the next record. */
	NOW += 1500 * MS;
	motion(pf);
	T_ASSERT_EQ(NOUT, 11);
	type_str(pf, "x");
	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	ev.type = UT_EV_BUTTON;
	ev.u.button.down = 1;
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
	T_ASSERT_EQ(NOUT, 14);
	T_ASSERT_EQ(OUT[13].type, UT_EV_BUTTON);
	T_ASSERT_EQ(OUT[13].sensitivity, UT_SENS_NONE);
	assert_ordered();
	privacy_filter_destroy(pf);
}

static void
test_filter_late_release_dropped(void)
{
	struct privacy_filter *pf = mk(0);
	size_t i;

	type_str(pf, "4111 1111 1111 111");
	key(pf, '1', "1", 1); /* last digit still held down ... */
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	key(pf, '1', NULL, 0); /* ... released after the burst */
	for (i = 0; i < NOUT; i++)
		T_ASSERT(OUT[i].type != UT_EV_KEY);
	T_ASSERT(find_redacted("CREDIT_CARD") != NULL);
	privacy_filter_destroy(pf);
}

static void
test_filter_password_flag(void)
{
	struct privacy_filter *pf = mk(0);
	size_t i;

	T_ASSERT_EQ(privacy_filter_set_password(pf, true), 0);
	type_str(pf, "hunter2");
	T_ASSERT_EQ(privacy_filter_set_password(pf, false), 0);
	for (i = 0; i < NOUT; i++)
		T_ASSERT(OUT[i].type != UT_EV_KEY);
	T_ASSERT(find_redacted("PASSWORD") != NULL);
	T_ASSERT_EQ(find_redacted("PASSWORD")->u.redacted.count, 7);
	privacy_filter_destroy(pf);
}

static void
focus(struct privacy_filter *pf, const char *title)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	ev.type = UT_EV_FOCUS;
	snprintf(ev.u.focus.app, sizeof(ev.u.focus.app), "Thunderbird");
	snprintf(ev.u.focus.title, sizeof(ev.u.focus.title), "%s", title);
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
}

static void
test_filter_title_placeholders(void)
{
	struct privacy_filter *pf = mk(0);

	focus(pf, "Inbox - jane.roe@example.com - Thunderbird");
	T_ASSERT_EQ(NOUT, 1);
	T_ASSERT_STREQ(OUT[0].u.focus.title, "Inbox - [EMAIL] - Thunderbird");
	T_ASSERT_EQ(OUT[0].sensitivity, UT_SENS_PERSONAL);
	focus(pf, "export GH_TOKEN=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 - xterm");
	T_ASSERT_STREQ(OUT[1].u.focus.title, "export GH_TOKEN=[GITHUB_TOKEN] - xterm");
	T_ASSERT_EQ(OUT[1].sensitivity, UT_SENS_SECRET);
	focus(pf, "README.md - Visual Studio Code");
	T_ASSERT_STREQ(OUT[2].u.focus.title, "README.md - Visual Studio Code");
	T_ASSERT_EQ(OUT[2].sensitivity, UT_SENS_NONE);
	/* A focus change ends a burst first. */
	type_str(pf, "ab");
	focus(pf, "Terminal");
	T_ASSERT_EQ(NOUT, 3 + 4 + 1);
	T_ASSERT_EQ(OUT[7].type, UT_EV_FOCUS);
	assert_ordered();
	privacy_filter_destroy(pf);
}

static void
test_filter_cap_releases(void)
{
	struct privacy_filter *pf = mk(64);
	size_t i;

	for (i = 0; i < 40; i++)
		type_str(pf, "a");
	T_ASSERT(NOUT >= 64); /* released at the cap, without a tick */
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(NOUT, 80);
	assert_ordered();
	privacy_filter_destroy(pf);
	privacy_filter_destroy(NULL);
	T_ASSERT(privacy_filter_create(NULL, NULL, NULL) == NULL);
}

T_LIST(T_CASE(test_filter_card_leaves_no_key), T_CASE(test_filter_backspace),
    T_CASE(test_filter_holds_other_records_in_order), T_CASE(test_filter_burst_ends),
    T_CASE(test_filter_late_release_dropped), T_CASE(test_filter_password_flag),
    T_CASE(test_filter_title_placeholders), T_CASE(test_filter_cap_releases))
