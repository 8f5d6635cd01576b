/*
 * test_filter.c - the privacy filter: key-log consistency (PRIV-P5-1),
 * order, BackSpace, bursts and their ends, titles, levels, caps; denied
 * windows (PRIV-P4-1), secure-input runs (PRIV-P4-2), sensitive
 * applications and identities (PRIV-P5-2).
 */
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/policy.h"
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
mk_opts(const struct privacy_filter_opts *o)
{
	struct privacy_filter *pf;

	NOUT = 0;
	SEQ = 1;
	NOW = 1000 * MS;
	pf = privacy_filter_create(o, collect, NULL);
	T_ASSERT(pf != NULL);
	return pf;
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
	/* Bounded hold: what no match can reach may be out already. */
	assert_no_digit_keys();
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
focus_app(struct privacy_filter *pf, const char *app, const char *title)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	ev.type = UT_EV_FOCUS;
	ev.u.focus.window = 0x400000u + (unsigned char)app[0]; /* one per app */
	ev.u.focus.pid = 4242;
	ev.u.focus.x = 10;
	ev.u.focus.w = 640;
	ev.u.focus.h = 480;
	snprintf(ev.u.focus.app, sizeof(ev.u.focus.app), "%s", app);
	snprintf(ev.u.focus.instance, sizeof(ev.u.focus.instance), "%s", app);
	snprintf(ev.u.focus.title, sizeof(ev.u.focus.title), "%s", title);
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
}

static void
focus(struct privacy_filter *pf, const char *title)
{
	focus_app(pf, "Thunderbird", title);
}

static size_t
count_type(uint8_t type)
{
	size_t i, n = 0;

	for (i = 0; i < NOUT; i++)
		n += OUT[i].type == type;
	return n;
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
	focus_app(pf, "XTerm", "Terminal");
	T_ASSERT_EQ(NOUT, 3 + 4 + 1);
	T_ASSERT_EQ(OUT[7].type, UT_EV_FOCUS);
	assert_ordered();
	privacy_filter_destroy(pf);

	/* A new title of the same window does not split a card number. */
	pf = mk(0);
	focus(pf, "Untitled 1 - Mousepad");
	type_str(pf, "card 4111 1111 1");
	focus(pf, "*Untitled 1 - Mousepad");
	T_ASSERT_EQ(NOUT, 1);
	type_str(pf, "111 1111 ok");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	assert_no_digit_keys();
	assert_ordered();
	T_ASSERT_EQ(find_redacted("CREDIT_CARD")->u.redacted.count, 19);
	T_ASSERT_EQ(count_type(UT_EV_FOCUS), 2);
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

static struct policy *
mk_policy(void)
{
	static const char y[] = "version: 1\ncollect: [keys, text, apps, titles]\n"
	    "applications:\n  deny: [keepassxc, \"pinentry*\"]\n"
	    "  sensitive: [thunderbird]\n"
	    "titles:\n  deny: [\"*Online Banking*\"]\n";
	struct policy *p = NULL;
	char err[256];

	if (policy_parse(y, strlen(y), &p, err, sizeof(err)) != 0)
		T_FAIL("policy: %s", err);
	return p;
}

static void
test_filter_denied_app(void)
{
	struct policy *p = mk_policy();
	struct privacy_filter_opts o = { .policy = p };
	struct privacy_filter *pf = mk_opts(&o);
	const struct ut_event *r;
	size_t i;

	focus_app(pf, "KeePassXC", "Passwords.kdbx - KeePassXC");
	T_ASSERT_EQ(NOUT, 1);
	T_ASSERT_EQ(OUT[0].type, UT_EV_FOCUS);
	T_ASSERT_EQ(OUT[0].u.focus.denied, 1);
	T_ASSERT_STREQ(OUT[0].u.focus.app, "");
	T_ASSERT_STREQ(OUT[0].u.focus.instance, "");
	T_ASSERT_STREQ(OUT[0].u.focus.title, "");
	T_ASSERT_EQ(OUT[0].u.focus.pid, 0);
	T_ASSERT_EQ(OUT[0].u.focus.window, 0x400000 + 'K');
	T_ASSERT_EQ(OUT[0].u.focus.w, 640);
	/* A title change in the same denied window writes nothing. */
	focus_app(pf, "KeePassXC", "Other.kdbx - KeePassXC");
	T_ASSERT_EQ(NOUT, 1);
	type_str(pf, "hunter2");
	key(pf, 0xffe3, NULL, 1); /* Control_L held ... */
	motion(pf);               /* ... a motion ends the run */
	key(pf, 'v', "v", 1);     /* still held across the focus change */
	focus_app(pf, "XTerm", "xterm");
	key(pf, 'v', NULL, 0);    /* its release is dropped too */
	key(pf, 0xffe3, NULL, 0);
	type_str(pf, "ok");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	assert_ordered();
	r = find_redacted("denied-app");
	T_ASSERT(r != NULL);
	T_ASSERT_STREQ(r->u.redacted.what, "keys");
	T_ASSERT_EQ(r->u.redacted.count, 8); /* 7 letters and Control */
	T_ASSERT_EQ(r->sensitivity, UT_SENS_SECRET);
	T_ASSERT_EQ(count_type(UT_EV_REDACTED), 2);
	for (i = 0; i < NOUT; i++) {
		if (OUT[i].type != UT_EV_KEY)
			continue;
		T_ASSERT(strchr("ok", OUT[i].u.key.name[0]) != NULL);
	}
	T_ASSERT_EQ(count_type(UT_EV_KEY), 4);
	T_ASSERT_EQ(count_type(UT_EV_MOTION), 1);
	privacy_filter_destroy(pf);

	/* A denied title (the application itself is allowed). */
	pf = mk_opts(&o);
	focus_app(pf, "Firefox", "Online Banking - Mozilla Firefox");
	type_str(pf, "1234");
	T_ASSERT_EQ(privacy_filter_tick(pf, NOW + 2000 * MS), 0);
	T_ASSERT_EQ(OUT[0].u.focus.denied, 1);
	T_ASSERT_STREQ(OUT[0].u.focus.title, "");
	T_ASSERT_EQ(count_type(UT_EV_KEY), 0);
	T_ASSERT_EQ(find_redacted("denied-app")->u.redacted.count, 4);
	T_ASSERT_EQ(NOUT, 2);
	privacy_filter_destroy(pf);
	policy_destroy(p);
}

/* Keys that capture replaced (secure input) are merged into runs. */
static void
secure_key(struct privacy_filter *pf, const char *why)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	NOW += 30 * MS;
	ev.type = UT_EV_REDACTED;
	ev.sensitivity = UT_SENS_SECRET;
	snprintf(ev.u.redacted.what, sizeof(ev.u.redacted.what), "keys");
	snprintf(ev.u.redacted.why, sizeof(ev.u.redacted.why), "%s", why);
	ev.u.redacted.count = 1;
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
}

static void
test_filter_secure_runs(void)
{
	struct privacy_filter *pf = mk(0);
	int i;

	type_str(pf, "user");
	for (i = 0; i < 6; i++)
		secure_key(pf, "password-field");
	T_ASSERT_EQ(NOUT, 8); /* the burst before it was released */
	for (i = 0; i < 3; i++)
		secure_key(pf, "keyboard-grab");
	T_ASSERT_EQ(NOUT, 9);
	T_ASSERT_EQ(OUT[8].u.redacted.count, 6);
	T_ASSERT_STREQ(OUT[8].u.redacted.why, "password-field");
	T_ASSERT_EQ(OUT[8].seq, 9);
	T_ASSERT_EQ(OUT[8].sensitivity, UT_SENS_SECRET);
	/* A tick after the gap emits the open run. */
	T_ASSERT_EQ(privacy_filter_tick(pf, NOW + 2000 * MS), 0);
	T_ASSERT_EQ(NOUT, 10);
	T_ASSERT_EQ(OUT[9].u.redacted.count, 3);
	T_ASSERT_STREQ(OUT[9].u.redacted.why, "keyboard-grab");
	assert_ordered();
	privacy_filter_destroy(pf);
}

static void
test_filter_sensitive_app(void)
{
	struct policy *p = mk_policy();
	struct privacy_filter_opts o = { .policy = p };
	struct privacy_filter *pf = mk_opts(&o);
	size_t i;

	focus_app(pf, "Thunderbird", "Inbox");
	type_str(pf, "hi");
	motion(pf);
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(OUT[0].sensitivity, UT_SENS_PERSONAL);
	for (i = 0; i < NOUT; i++) {
		if (OUT[i].type == UT_EV_KEY)
			T_ASSERT_EQ(OUT[i].sensitivity, UT_SENS_PERSONAL);
		if (OUT[i].type == UT_EV_MOTION)
			T_ASSERT_EQ(OUT[i].sensitivity, UT_SENS_NONE);
	}
	T_ASSERT_EQ(count_type(UT_EV_KEY), 4);
	/* Another application: back to the usual levels. */
	focus_app(pf, "Mousepad", "notes");
	type_str(pf, "x");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(OUT[NOUT - 1].sensitivity, UT_SENS_CONTENT);
	T_ASSERT_EQ(OUT[NOUT - 3].sensitivity, UT_SENS_NONE);
	privacy_filter_destroy(pf);
	policy_destroy(p);
}

static void
test_filter_identities(void)
{
	struct privacy_identity id;
	struct privacy_filter_opts o = { .identity = &id };
	struct privacy_filter *pf;
	char kept[64];
	size_t i, k;

	memset(&id, 0, sizeof(id));
	snprintf(id.user, sizeof(id.user), "alice");
	snprintf(id.name, sizeof(id.name), "Alice Liddell");
	snprintf(id.host, sizeof(id.host), "wonder.example.org");
	snprintf(id.home, sizeof(id.home), "/home/alice/");
	pf = mk_opts(&o);
	memset(&id, 0, sizeof(id)); /* copied by create */
	focus(pf, "alice@wonder:~/src");
	T_ASSERT_STREQ(OUT[0].u.focus.title, "[USER]@[HOST]:~/src");
	T_ASSERT_EQ(OUT[0].sensitivity, UT_SENS_PERSONAL);
	focus(pf, "vim /home/alice/notes.txt (ALICE) - wonder.example.org");
	T_ASSERT_STREQ(OUT[1].u.focus.title, "vim [HOME]/notes.txt ([USER]) - [HOST]");
	focus(pf, "Alice Liddell - malice and alices in /home/alicex");
	T_ASSERT_STREQ(OUT[2].u.focus.title,
	    "[NAME] - malice and alices in /home/alicex");
	focus(pf, "Mail to alice@example.com");
	T_ASSERT_STREQ(OUT[3].u.focus.title, "Mail to [EMAIL]"); /* detector wins */
	focus(pf, "Terminal");
	T_ASSERT_STREQ(OUT[4].u.focus.title, "Terminal");
	T_ASSERT_EQ(NOUT, 5);

	/* Typed: keys of an identity are redacted like a detector span. */
	type_str(pf, "cd /home/alice/src; ssh alice@wonder ok");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(find_redacted("HOME")->u.redacted.count, 11);
	T_ASSERT_EQ(find_redacted("HOME")->sensitivity, UT_SENS_PERSONAL);
	T_ASSERT_EQ(count_type(UT_EV_REDACTED), 3);
	T_ASSERT_EQ(find_redacted("USER")->u.redacted.count, 5);
	T_ASSERT_EQ(find_redacted("HOST")->u.redacted.count, 6);
	for (i = 0, k = 0; i < NOUT && k < sizeof(kept) - 1; i++)
		if (OUT[i].type == UT_EV_KEY && OUT[i].u.key.down)
			kept[k++] = OUT[i].u.key.text[0];
	kept[k] = '\0';
	T_ASSERT_STREQ(kept, "cd /src; ssh @ ok");
	assert_ordered();
	privacy_filter_destroy(pf);

	/* privacy_identity_default() finds the real user. */
	T_ASSERT(privacy_identity_default(&id) == 0);
	T_ASSERT(id.user[0] != '\0');
	T_ASSERT(id.home[0] == '/');
	T_ASSERT(id.host[0] != '\0');
}

static void
target(struct privacy_filter *pf, const char *role, const char *name)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = SEQ++;
	ev.mono_ns = NOW;
	ev.type = UT_EV_TARGET;
	ev.sensitivity = UT_SENS_NONE;
	ev.u.target.action_seq = ev.seq > 1 ? ev.seq - 1 : ev.seq;
	ev.u.target.w = 80;
	ev.u.target.h = 20;
	snprintf(ev.u.target.role, sizeof(ev.u.target.role), "%s", role);
	snprintf(ev.u.target.name, sizeof(ev.u.target.name), "%s", name);
	snprintf(ev.u.target.path, sizeof(ev.u.target.path), "frame/%s", role);
	T_ASSERT_EQ(privacy_filter_push(pf, &ev), 0);
}

/*
 * Target elements: the name is redacted like a title (same placeholders,
 * same levels); a denied window or secure input gives none.
 */
static void
test_filter_target_names(void)
{
	struct policy *p = mk_policy();
	struct privacy_filter_opts o = { .policy = p };
	struct privacy_filter *pf = mk_opts(&o);

	focus_app(pf, "Mousepad", "notes - Mousepad");
	target(pf, "page tab", "mail jane.roe@example.com now");
	target(pf, "push button", "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");
	target(pf, "menu item", "Save As");
	T_ASSERT_EQ(count_type(UT_EV_TARGET), 3);
	T_ASSERT_STREQ(OUT[1].u.target.name, "mail [EMAIL] now");
	T_ASSERT_EQ(OUT[1].sensitivity, UT_SENS_PERSONAL);
	T_ASSERT_STREQ(OUT[1].u.target.role, "page tab");
	T_ASSERT_STREQ(OUT[1].u.target.path, "frame/page tab");
	T_ASSERT_EQ(OUT[1].u.target.w, 80);
	T_ASSERT_STREQ(OUT[2].u.target.name, "[GITHUB_TOKEN]");
	T_ASSERT_EQ(OUT[2].sensitivity, UT_SENS_SECRET);
	T_ASSERT_STREQ(OUT[3].u.target.name, "Save As");
	T_ASSERT_EQ(OUT[3].sensitivity, UT_SENS_NONE);
	/* Typed into: held with the burst, emitted after its first key. */
	type_str(pf, "a");
	target(pf, "text", "");
	type_str(pf, "b");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	assert_ordered();
	T_ASSERT_EQ(count_type(UT_EV_TARGET), 4);
	/* A sensitive application: at least personal. */
	focus_app(pf, "Thunderbird", "Inbox - Thunderbird");
	target(pf, "push button", "Send");
	T_ASSERT_EQ(OUT[NOUT - 1].type, UT_EV_TARGET);
	T_ASSERT_EQ(OUT[NOUT - 1].sensitivity, UT_SENS_PERSONAL);
	/* Denied: nothing. */
	focus_app(pf, "KeePassXC", "Passwords.kdbx - KeePassXC");
	target(pf, "push button", "Unlock");
	T_ASSERT_EQ(count_type(UT_EV_TARGET), 5);
	/* Secure input: nothing. */
	focus_app(pf, "Mousepad", "notes - Mousepad");
	T_ASSERT_EQ(privacy_filter_set_password(pf, true), 0);
	target(pf, "text", "Password");
	T_ASSERT_EQ(count_type(UT_EV_TARGET), 5);
	T_ASSERT_EQ(privacy_filter_set_password(pf, false), 0);
	target(pf, "text", "Notes");
	T_ASSERT_EQ(count_type(UT_EV_TARGET), 6);
	privacy_filter_destroy(pf);
	policy_destroy(p);
}

T_LIST(T_CASE(test_filter_card_leaves_no_key), T_CASE(test_filter_backspace),
    T_CASE(test_filter_target_names),
    T_CASE(test_filter_holds_other_records_in_order), T_CASE(test_filter_burst_ends),
    T_CASE(test_filter_late_release_dropped), T_CASE(test_filter_password_flag),
    T_CASE(test_filter_title_placeholders), T_CASE(test_filter_cap_releases),
    T_CASE(test_filter_denied_app), T_CASE(test_filter_secure_runs),
    T_CASE(test_filter_sensitive_app), T_CASE(test_filter_identities))
