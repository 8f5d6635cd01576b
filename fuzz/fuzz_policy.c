/*
 * fuzz_policy.c - the policy parser (src/policy/policy.c) on arbitrary
 * bytes: policy_parse either refuses with an error that names a line or
 * returns a policy whose copy, matching rules and generated notices
 * (text and HTML) run without fault.  Deep nesting must be refused by
 * the depth cap, not take quadratic time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

static void
fini(void)
{
	if (sink != NULL)
		fclose(sink);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL, *c;
	char err[256] = "";
	int r;

	if (sink == NULL) {
		sink = fopen("/dev/null", "w");
		if (sink == NULL)
			abort();
		atexit(fini);
	}
	r = policy_parse((const char *)data, size, &p, err, sizeof(err));
	if (r < 0) {
		if (p != NULL || err[0] == '\0')
			abort(); /* a refusal says why and returns nothing */
		return 0;
	}
	if (p == NULL || p->version == 0 || p->categories == 0)
		abort();
	c = policy_copy(p);
	(void)policy_app_denied(c, "Firefox", "firefox");
	(void)policy_app_sensitive(c, "Thunderbird", "Mail");
	(void)policy_title_denied(c, "ACME Online Banking - Firefox");
	policy_notice_text(c, sink);
	policy_notice_html(c, sink);
	policy_destroy(c);
	policy_destroy(p);
	return 0;
}
