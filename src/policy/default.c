/*
 * default.c - access to the compiled-in default policy
 * (policy/default.yaml, embedded at build time by scripts/embed.py).
 */
#include "usetrace/policy.h"

extern const char ut_default_policy[];

const char *
policy_default_text(void)
{
	return ut_default_policy;
}
