/*
 * test_policy_diff.c - what `usetrace consent` shows as changed between the
 * accepted policy and a new one (policy_diff_text), and a withdrawal made
 * at the server applied to the device's consent (consent_server_withdrawn).
 */
#include <stdio.h>
#include <stdlib.h>

#include "usetrace/consent.h"
#include "usetrace/err.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
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

/* The diff of a -> b as a string (malloc'd) and its line count. */
static char *
diff(const struct policy *a, const struct policy *b, unsigned *n)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	T_ASSERT(f != NULL);
	*n = policy_diff_text(a, b, f);
	T_ASSERT_EQ(fclose(f), 0);
	return s;
}

static void
test_diff_names_categories_and_settings(void)
{
	struct policy *a = parse_ok("version: 1\ncollect: [keys, text, pointer]\n"
	    "retention: 90d\napplications:\n  deny: [keepassxc]\n");
	struct policy *b = parse_ok("version: 2\ncollect: [keys, text, apps]\n"
	    "retention: 30d\napplications:\n  deny: [keepassxc, signal]\n");
	unsigned n;
	char *s = diff(a, b, &n);

	T_ASSERT(strstr(s, "+ collected: apps") != NULL);
	T_ASSERT(strstr(s, "- no longer collected: pointer") != NULL);
	T_ASSERT(strstr(s, "~ retention: 90 days -> 30 days") != NULL);
	T_ASSERT(strstr(s, "+ never recorded in: signal") != NULL);
	T_ASSERT(strstr(s, "keepassxc") == NULL);
	T_ASSERT_EQ(n, 4u);
	free(s);
	/* The same settings: nothing to show, whatever the version says. */
	policy_destroy(b);
	b = parse_ok("version: 9\ncollect: [keys, text, pointer]\n"
	    "retention: 90d\napplications:\n  deny: [keepassxc]\n");
	s = diff(a, b, &n);
	T_ASSERT_EQ(n, 0u);
	T_ASSERT_STREQ(s, "");
	free(s);
	policy_destroy(a);
	policy_destroy(b);
}

static void
test_server_withdrawal_applies_to_older_consent(void)
{
	char home[] = "/tmp/ut-srvwd-XXXXXX", why[256], cmd[128];
	struct policy *p = parse_ok("version: 1\ncollect: [keys]\n");
	struct consent c;

	T_ASSERT(mkdtemp(home) != NULL);
	/* No consent: nothing to withdraw. */
	T_ASSERT_EQ(consent_server_withdrawn(home, ut_now_wall_ns()), 0);
	T_ASSERT_EQ(consent_give(home, p, &c), 0);
	/* Withdrawn at the server before this consent was given: it stands. */
	T_ASSERT_EQ(consent_server_withdrawn(home, c.given_wall_ns - 1), 0);
	T_ASSERT_EQ(consent_server_withdrawn(home, 0), 0);
	T_ASSERT_EQ(consent_check(home, p, NULL, why, sizeof(why)), 0);
	/* Withdrawn after: withdrawn here, once. */
	T_ASSERT_EQ(consent_server_withdrawn(home, c.given_wall_ns + 1), 1);
	T_ASSERT_EQ(consent_check(home, p, NULL, why, sizeof(why)), UT_EDENIED);
	T_ASSERT(strstr(why, "withdrawn") != NULL);
	T_ASSERT_EQ(consent_server_withdrawn(home, c.given_wall_ns + 1), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	T_ASSERT_EQ(system(cmd), 0);
	policy_destroy(p);
}

T_LIST(T_CASE(test_diff_names_categories_and_settings),
    T_CASE(test_server_withdrawal_applies_to_older_consent))
