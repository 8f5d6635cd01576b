/*
 * testhooks.h - test seams read from the environment exist only in test
 * builds.  The meson option test_hooks (default true: the build the test
 * suite runs on) defines UT_TEST_HOOKS=1; a release build sets
 * -Dtest_hooks=false, and then ut_test_env() is NULL for every name, so
 * UT_FSIO_FAULT, UT_FSIO_FAULT_SERVING, UT_UPLOAD_BACKOFF_MS and the
 * USETRACE_TEST_* variables are ignored.
 */
#ifndef USETRACE_TESTHOOKS_H
#define USETRACE_TESTHOOKS_H

#include <stdlib.h>

#ifndef UT_TEST_HOOKS
#define UT_TEST_HOOKS 0
#endif

/* getenv(name) in a test build; NULL in a release build. */
static inline const char *
ut_test_env(const char *name)
{
#if UT_TEST_HOOKS
	return getenv(name);
#else
	(void)name;
	return NULL;
#endif
}

#endif
