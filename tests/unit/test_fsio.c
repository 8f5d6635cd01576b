/*
 * test_fsio.c - the I/O seam (fsio.h): the spool's unlink and mkdir go
 * through it and count like the other operations, so fault and crash
 * sweeps reach them; UT_FSIO_FAULT names them.  This build is a test build
 * (test_hooks, testhooks.h): the variable is read here; a release build
 * (-Dtest_hooks=false) makes ut_test_env() NULL and ignores it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/testhooks.h"
#include "t.h"

static char base[] = "/tmp/ut-fsio-XXXXXX";

static void
test_fsio_unlink_mkdir_counted_and_faulted(void)
{
	char d[64], f[80];
	int fd;

	T_ASSERT(mkdtemp(base) != NULL);
	snprintf(d, sizeof(d), "%s/d", base);
	snprintf(f, sizeof(f), "%s/f", base);
	fsio_fault_clear();
	T_ASSERT_EQ(fsio_mkdir(d, 0700), 0);
	T_ASSERT_EQ(fsio_mkdir(d, 0700), -EEXIST);
	T_ASSERT_EQ(fsio_calls(FSIO_MKDIR), 2);
	T_ASSERT((fd = fsio_open(f, O_WRONLY | O_CREAT, 0600)) >= 0);
	T_ASSERT_EQ(fsio_close(fd), 0);
	fsio_fault_arm(FSIO_UNLINK, 1, FSIO_FAULT_EIO);
	T_ASSERT_EQ(fsio_unlink(f), -EIO);
	T_ASSERT_EQ(access(f, F_OK), 0); /* the fault did nothing */
	T_ASSERT_EQ(fsio_unlink(f), 0);
	T_ASSERT_EQ(fsio_calls(FSIO_UNLINK), 2);
	fsio_fault_arm(FSIO_MKDIR, 1, FSIO_FAULT_ENOSPC);
	T_ASSERT_EQ(fsio_mkdir(f, 0700), -ENOSPC);
	fsio_fault_clear();
	T_ASSERT_EQ(rmdir(d), 0);
	T_ASSERT_EQ(rmdir(base), 0);
}

static void
test_fsio_env_names_every_op(void)
{
	static const char *ok[] = { "open:1:EIO", "write:2:ENOSPC",
		"fsync:3:short", "rename:4:EIO", "unlink:1:EIO", "mkdir:1:EIO" };
	size_t i;

	T_ASSERT(UT_TEST_HOOKS); /* the suite runs on a test build */
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		setenv("UT_FSIO_FAULT", ok[i], 1);
		T_ASSERT_EQ(fsio_fault_from_env(), 0);
	}
	setenv("UT_FSIO_FAULT", "mkdir:1:EIO", 1);
	T_ASSERT_EQ(fsio_fault_from_env(), 0);
	T_ASSERT_EQ(fsio_mkdir("/nonexistent-ut/x", 0700), -EIO); /* armed */
	setenv("UT_FSIO_FAULT", "chmod:1:EIO", 1);
	T_ASSERT_EQ(fsio_fault_from_env(), UT_EINVAL);
	unsetenv("UT_FSIO_FAULT");
	fsio_fault_clear();
}

const char *fsio_release_env(const char *name); /* fsio_release.c */

/* A release build's view of the same environment: nothing. */
static void
test_fsio_release_build_ignores_env(void)
{
	setenv("UT_FSIO_FAULT", "write:1:crash", 1);
	setenv("USETRACE_TEST_ATSPI_DELAY_MS", "5", 1);
	T_ASSERT(ut_test_env("UT_FSIO_FAULT") != NULL);
	T_ASSERT(fsio_release_env("UT_FSIO_FAULT") == NULL);
	T_ASSERT(fsio_release_env("USETRACE_TEST_ATSPI_DELAY_MS") == NULL);
	unsetenv("UT_FSIO_FAULT");
	unsetenv("USETRACE_TEST_ATSPI_DELAY_MS");
}

T_LIST(T_CASE(test_fsio_unlink_mkdir_counted_and_faulted),
    T_CASE(test_fsio_env_names_every_op),
    T_CASE(test_fsio_release_build_ignores_env))
