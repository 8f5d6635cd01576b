/*
 * test_policy.c - policy parsing (strict, errors name line and field), the
 * matching rules, and the notice generated from the policy.
 */
#include "usetrace/consent.h"
#include "usetrace/err.h"
#include "usetrace/policy.h"
#include "t.h"

static struct policy *
parse_ok(const char *y)
{
	struct policy *p = NULL;
	char err[256] = "";

	if (policy_parse(y, strlen(y), &p, err, sizeof(err)) != 0)
		T_FAIL("parse failed: %s", err);
	return p;
}

static void
parse_err(const char *y, const char *want)
{
	struct policy *p = NULL;
	char err[256] = "";

	T_ASSERT(policy_parse(y, strlen(y), &p, err, sizeof(err)) < 0);
	T_ASSERT(p == NULL);
	if (strstr(err, want) == NULL)
		T_FAIL("error '%s' does not contain '%s'", err, want);
}

static void
test_policy_default_parses(void)
{
	struct policy *p = NULL;
	char err[256];

	T_ASSERT_EQ(policy_load(NULL, &p, err, sizeof(err)), 0);
	/* Every category but targets, which is off unless listed. */
	T_ASSERT_EQ(p->categories, UT_CAT_ALL & ~UT_CAT_TARGETS);
	T_ASSERT_EQ(p->pause_max_ms, 30 * 60 * 1000);
	T_ASSERT_EQ(p->frame_fps, 1);
	T_ASSERT(p->deny_apps.n > 5);
	T_ASSERT(policy_app_denied(p, "KeePassXC", "keepassxc"));
	T_ASSERT(policy_app_denied(p, "Pinentry-gtk-2", "pinentry-gtk-2"));
	T_ASSERT(!policy_app_denied(p, "Mousepad", "mousepad"));
	T_ASSERT(policy_app_sensitive(p, "Thunderbird", "Mail"));
	T_ASSERT(policy_title_denied(p, "ACME Online Banking - Firefox"));
	T_ASSERT(!policy_title_denied(p, "notes.txt - Mousepad"));
	T_ASSERT_EQ(strlen(p->hash_hex), 64);
	policy_destroy(p);
	policy_destroy(NULL);
}

static void
test_policy_errors_name_line_and_field(void)
{
	parse_err("version: 1\ncollect: [keys, mouse]\n",
	    "line 2: collect: unknown category 'mouse'");
	parse_err("version: 1\ncollect: [keys]\ncolour: red\n",
	    "line 3: colour: unknown field");
	parse_err("version: 1\ncollect: [keys]\nframes:\n  fps: 100\n",
	    "line 4: frames.fps: 100 is out of range");
	parse_err("version: 1\ncollect: [keys]\npause:\n  max: forever\n",
	    "line 4: pause.max: expected a duration");
	parse_err("version: 1\ncollect: [keys]\nversion: 2\n", "line 3: version: given twice");
	parse_err("version: 1\ncollect: [keys\n", "syntax");
	parse_err("collect: [keys]\n", "version: missing");
	parse_err("version: 1\n", "collect: missing");
	/* Errors in and about flow lists name their own line, not line 1. */
	parse_err("version: 1\ncollect: []\n", "line 2: collect: empty");
	parse_err("version: 1\ncollect: [keys,\n  text,\n  mouse]\n",
	    "line 4: collect: unknown category 'mouse'");
	parse_err("{version: 1,\n collect: [keys],\n colour: 3}\n",
	    "line 3: colour: unknown field");
	parse_err("version: 1\ncollect: [text]\n", "'text' needs 'keys'");
	parse_err("version: 1\ncollect: [apps, targets]\n", "'targets' needs 'pointer' or 'keys'");
	parse_err("version: x\ncollect: [keys]\n", "line 1: version: expected a whole number");
	parse_err("version: 1\ncollect: [keys]\nspool:\n  budget: 5 parsecs\n", "spool.budget");
	parse_err("version: 1\ncollect: [keys]\nretention: 10y\n", "line 3: retention");
	parse_err("version: 1\ncollect: [keys]\nexport:\n  expire: 0d\n",
	    "line 4: export.expire: expected 1d .. 3650d");
	parse_err("version: 1\ncollect: [keys]\napplications:\n  deny: firefox\n",
	    "line 4: applications.deny: expected a list");
	parse_err("", "empty");
	parse_err("- a\n- b\n", "expected a mapping");
	parse_err("version: 1\ncollect: [keys]\n---\nversion: 2\n",
	    "line 3: policy: a second document");
}

static void
test_policy_hash_binds_content(void)
{
	struct policy *a = parse_ok("version: 1\ncollect: [keys]\n");
	struct policy *b = parse_ok("version: 1\ncollect: [keys, pointer]\n");

	T_ASSERT(memcmp(a->hash, b->hash, sizeof(a->hash)) != 0);
	T_ASSERT_EQ(b->categories, UT_CAT_KEYS | UT_CAT_POINTER);
	policy_destroy(a);
	policy_destroy(b);
}

/* export.expire: 90 days unless set, and the notice says erasure cannot reach exports. */
static void
test_policy_export_expiry(void)
{
	struct policy *a = parse_ok("version: 1\ncollect: [keys]\n");
	struct policy *b = parse_ok("version: 1\ncollect: [keys]\nexport:\n  expire: 7d\n");
	char text[16384];
	FILE *f;

	T_ASSERT_EQ(a->export_expire_days, 90u);
	T_ASSERT_EQ(b->export_expire_days, 7u);
	f = fmemopen(text, sizeof(text), "w");
	policy_notice_text(b, f);
	fclose(f);
	T_ASSERT(strstr(text, "your erasure cannot recall or reach them") != NULL);
	T_ASSERT(strstr(text, "expire after\n  7 days") != NULL);
	policy_destroy(a);
	policy_destroy(b);
}

/* Reads the categories back from the text notice. */
static uint32_t
notice_categories(const struct policy *p)
{
	char buf[16384], *line, *save = NULL;
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	uint32_t bits = 0, b;
	int in = 0;

	policy_notice_text(p, f);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "WHAT IS COLLECTED") == 0) {
			in = 1;
			continue;
		}
		if (line[0] != ' ')
			in = 0;
		if (!in || strncmp(line, "  [", 3) != 0)
			continue;
		for (b = 1; b < UT_CAT_ALL; b <<= 1) {
			const char *n = policy_category_name(b);
			size_t k = strlen(n);

			if (strncmp(line + 3, n, k) == 0 && line[3 + k] == ']')
				bits |= b;
		}
	}
	return bits;
}

static void
test_policy_notice_matches_policy(void)
{
	struct policy *p = NULL;
	char err[256], html[16384];
	FILE *f;

	T_ASSERT_EQ(policy_load(NULL, &p, err, sizeof(err)), 0);
	T_ASSERT_EQ(notice_categories(p), p->categories);
	f = fmemopen(html, sizeof(html), "w");
	policy_notice_html(p, f);
	fclose(f);
	T_ASSERT(strstr(html, "data-category=\"frames\"") != NULL);
	T_ASSERT(strstr(html, "<code>keepassxc</code>") != NULL);
	policy_destroy(p);

	p = parse_ok("version: 7\ncollect: [keys, text, pointer]\n"
	    "applications:\n  deny: [\"<script>\"]\n");
	T_ASSERT_EQ(notice_categories(p), UT_CAT_KEYS | UT_CAT_TEXT | UT_CAT_POINTER);
	f = fmemopen(html, sizeof(html), "w");
	policy_notice_html(p, f);
	fclose(f);
	T_ASSERT(strstr(html, "<script>") == NULL);
	T_ASSERT(strstr(html, "data-category=\"frames\"") == NULL);
	policy_destroy(p);
}

static void
test_policy_allow_list_denies_others(void)
{
	struct policy *p = parse_ok("version: 1\ncollect: [keys]\n"
	    "applications:\n  allow: [Mousepad, XTerm]\n");

	T_ASSERT(!policy_app_denied(p, "Mousepad", "mousepad"));
	T_ASSERT(policy_app_denied(p, "Firefox", "Navigator"));
	policy_destroy(p);
}

/*
 * "Is this window denied?": one rule for capture's FOCUS records, the frame
 * blackout and the privacy filter (policy_window_denied).
 */
static void
test_policy_window_denied_one_rule(void)
{
	struct policy *p = parse_ok("version: 1\ncollect: [keys]\n"
	    "applications:\n  deny: [KeePassXC]\n"
	    "titles:\n  deny: ['*Private Browsing*']\n");
	struct policy *allow = parse_ok("version: 1\ncollect: [keys]\n"
	    "applications:\n  allow: [XTerm]\n");

	T_ASSERT(!policy_window_denied(NULL, "KeePassXC", "keepassxc", "x"));
	T_ASSERT(policy_window_denied(p, "KeePassXC", "keepassxc", ""));
	T_ASSERT(policy_window_denied(p, "", "keepassxc", NULL));  /* instance */
	T_ASSERT(policy_window_denied(p, "Firefox", "Navigator",
	    "news - Private Browsing - Firefox"));
	T_ASSERT(!policy_window_denied(p, "Firefox", "Navigator", "news - Firefox"));
	T_ASSERT(!policy_window_denied(p, "", "", ""));
	T_ASSERT(!policy_window_denied(p, NULL, NULL, NULL));
	/* An allow list denies the rest, an unknown class included. */
	T_ASSERT(!policy_window_denied(allow, "XTerm", "xterm", "bash"));
	T_ASSERT(policy_window_denied(allow, "Mousepad", "mousepad", "notes"));
	T_ASSERT(policy_window_denied(allow, "", "", ""));
	/* Agrees with its parts everywhere. */
	T_ASSERT_EQ(policy_window_denied(p, "Mousepad", "mousepad", "a"),
	    policy_app_denied(p, "Mousepad", "mousepad") ||
	    policy_title_denied(p, "a"));
	policy_destroy(p);
	policy_destroy(allow);
}

/*
 * targets is a category of its own: listed, it is parsed, shown in the
 * notice with its own line, and the policy's hash (so consent) changes;
 * the diff shown to the person names it.
 */
static void
test_policy_targets_category(void)
{
	struct policy *a = parse_ok("version: 1\ncollect: [keys, pointer]\n");
	struct policy *b = parse_ok("version: 1\ncollect: [keys, pointer, targets]\n");
	char buf[4096];
	FILE *f;

	T_ASSERT(!(a->categories & UT_CAT_TARGETS));
	T_ASSERT_EQ(b->categories, UT_CAT_KEYS | UT_CAT_POINTER | UT_CAT_TARGETS);
	T_ASSERT_STREQ(policy_category_name(UT_CAT_TARGETS), "targets");
	T_ASSERT(memcmp(a->hash, b->hash, sizeof(a->hash)) != 0);
	T_ASSERT_EQ(notice_categories(b), b->categories);
	f = fmemopen(buf, sizeof(buf), "w");
	policy_notice_text(b, f);
	fclose(f);
	T_ASSERT(strstr(buf, "[targets] Target elements: the role and name") != NULL);
	f = fmemopen(buf, sizeof(buf), "w");
	policy_notice_text(a, f);
	fclose(f);
	T_ASSERT(strstr(buf, "(not collected) Target elements") != NULL);
	f = fmemopen(buf, sizeof(buf), "w");
	T_ASSERT_EQ(policy_diff_text(a, b, f), 1);
	fclose(f);
	T_ASSERT(strstr(buf, "+ collected: targets") != NULL);
	policy_destroy(a);
	policy_destroy(b);
}

static void
test_consent_bound_to_policy_hash(void)
{
	char home[] = "/tmp/ut-consent-XXXXXX", why[256], cmd[128];
	struct policy *a = parse_ok("version: 1\ncollect: [keys]\n");
	struct policy *b = parse_ok("version: 2\ncollect: [keys, frames]\n");
	struct consent c, c2;

	T_ASSERT(mkdtemp(home) != NULL);
	T_ASSERT_EQ(consent_check(home, a, NULL, why, sizeof(why)), UT_EDENIED);
	T_ASSERT(strstr(why, "no consent") != NULL);
	T_ASSERT_EQ(consent_give(home, a, &c), 0);
	T_ASSERT_EQ(consent_check(home, a, &c2, why, sizeof(why)), 0);
	T_ASSERT_STREQ(c.id, c2.id);
	/* A changed policy needs new consent. */
	T_ASSERT_EQ(consent_check(home, b, NULL, why, sizeof(why)), UT_EDENIED);
	T_ASSERT(strstr(why, "policy is now version 2") != NULL);
	T_ASSERT_EQ(consent_give(home, b, NULL), 0);
	T_ASSERT_EQ(consent_check(home, b, NULL, why, sizeof(why)), 0);
	T_ASSERT_EQ(consent_withdraw(home), 0);
	T_ASSERT_EQ(consent_check(home, b, NULL, why, sizeof(why)), UT_EDENIED);
	T_ASSERT(strstr(why, "withdrawn") != NULL);
	snprintf(cmd, sizeof(cmd), "echo garbage > %s/consent.json", home);
	T_ASSERT_EQ(system(cmd), 0);
	T_ASSERT_EQ(consent_load(home, &c), UT_ECORRUPT);
	T_ASSERT_EQ(consent_check(home, b, NULL, why, sizeof(why)), UT_EDENIED);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	T_ASSERT_EQ(system(cmd), 0);
	policy_destroy(a);
	policy_destroy(b);
}

/*
 * Nesting is capped (the loader is quadratic in depth: 100,000 levels took
 * a minute).  A cap check that came after loading would not return here
 * before the suite's timeout; the first level past the cap is named.
 */
static void
test_policy_nesting_capped(void)
{
	static const size_t depths[] = { 33, 100000, 500000 };
	size_t i, k, d, n;
	char *y;
	struct policy *p = NULL;

	for (k = 0; k < sizeof(depths) / sizeof(depths[0]); k++) {
		d = depths[k];
		n = 0;
		y = malloc(64 + 2 * d);
		T_ASSERT(y != NULL);
		n += (size_t)sprintf(y, "version: 1\ncollect: [keys]\nx: ");
		for (i = 0; i < d; i++)
			y[n++] = '[';
		for (i = 0; i < d; i++)
			y[n++] = ']';
		y[n++] = '\n';
		y[n] = '\0';
		parse_err(y, "line 3: policy: nested deeper than 32 levels");
		free(y);
	}
	/* Block style too, and 32 levels are still parsed (then refused as
	 * an unknown field: the depth is not what stops them). */
	parse_err("version: 1\ncollect: [keys]\nx:\n - - - - - - - - - - - - - - - - "
	    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - 1\n",
	    "line 4: policy: nested deeper than 32 levels");
	y = malloc(200);
	T_ASSERT(y != NULL);
	n = (size_t)sprintf(y, "version: 1\ncollect: [keys]\nx: ");
	for (i = 0; i < 31; i++)
		y[n++] = '[';
	for (i = 0; i < 31; i++)
		y[n++] = ']';
	y[n] = '\0';
	parse_err(y, "line 3: x: unknown field");
	free(y);
	T_ASSERT(p == NULL);
}

T_LIST(T_CASE(test_consent_bound_to_policy_hash),
    T_CASE(test_policy_targets_category),
    T_CASE(test_policy_nesting_capped),
    T_CASE(test_policy_default_parses),
    T_CASE(test_policy_errors_name_line_and_field),
    T_CASE(test_policy_hash_binds_content),
    T_CASE(test_policy_notice_matches_policy),
    T_CASE(test_policy_export_expiry),
    T_CASE(test_policy_allow_list_denies_others),
    T_CASE(test_policy_window_denied_one_rule))
