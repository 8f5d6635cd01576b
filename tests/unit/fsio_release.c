/*
 * fsio_release.c - testhooks.h as a release build (-Dtest_hooks=false)
 * compiles it: UT_TEST_HOOKS undefined, so ut_test_env() is NULL for
 * every name.  Linked into test_fsio, which checks it.
 */
#undef UT_TEST_HOOKS
#include "usetrace/testhooks.h"

const char *fsio_release_env(const char *name);

const char *
fsio_release_env(const char *name)
{
	return ut_test_env(name);
}
