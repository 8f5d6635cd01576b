/*
 * test_control.c - where the agent's control socket lives when its usual
 * runtime directory ($TMPDIR/usetrace-UID, XDG_RUNTIME_DIR unset) was
 * pre-created by another local user: the agent and its clients agree on
 * a fallback in the key home, and the squatted directory is never used.
 * Making a directory owned by another uid needs root: as another user the
 * squat cases are skipped (said so on stderr), the rest still runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "usetrace/control.h"
#include "usetrace/err.h"
#include "t.h"

static char base[] = "/tmp/ut-control-XXXXXX";

static void
setup(void)
{
	static int made;
	char p[512];

	if (!made)
		T_ASSERT(mkdtemp(base) != NULL);
	made = 1;
	snprintf(p, sizeof(p), "%s/tmp", base);
	(void)mkdir(p, 0755);
	setenv("TMPDIR", p, 1);
	snprintf(p, sizeof(p), "%s/home", base);
	setenv("USETRACE_HOME", p, 1);
	unsetenv("XDG_RUNTIME_DIR");
}

static int
connects(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r == 0;
}

static void
test_control_usual_dir(void)
{
	char agent[256], client[256], want[512];
	int fd;

	setup();
	snprintf(want, sizeof(want), "%s/tmp/usetrace-%u/agent.sock", base,
	    (unsigned)getuid());
	T_ASSERT_EQ(control_socket_path(agent, sizeof(agent), 1), 0);
	T_ASSERT_STREQ(agent, want);
	T_ASSERT_EQ(control_listen(agent, &fd), 0);
	T_ASSERT_EQ(control_socket_path(client, sizeof(client), 0), 0);
	T_ASSERT_STREQ(client, agent);
	T_ASSERT(connects(client));
	close(fd);
	unlink(agent);
}

static void
test_control_squatted_dir_falls_back(void)
{
	char squat[512], agent[256], client[256], want[512], cmd[600];
	struct stat st;
	int fd;

	setup();
	if (getuid() != 0) {
		fprintf(stderr, "  (not root: cannot make another uid's "
		    "directory; squat case skipped)\n");
		return;
	}
	snprintf(squat, sizeof(squat), "%s/tmp/usetrace-0", base);
	(void)rmdir(squat);
	T_ASSERT_EQ(mkdir(squat, 0777), 0);
	T_ASSERT_EQ(chmod(squat, 0777), 0);
	T_ASSERT_EQ(chown(squat, 65534, 65534), 0);
	snprintf(want, sizeof(want), "%s/home/run/agent.sock", base);
	T_ASSERT_EQ(control_socket_path(agent, sizeof(agent), 1), 0);
	T_ASSERT_STREQ(agent, want);
	T_ASSERT_EQ(stat(want, &st) < 0 ? errno : 0, ENOENT);
	snprintf(cmd, sizeof(cmd), "%s/home/run", base);
	T_ASSERT_EQ(stat(cmd, &st), 0);
	T_ASSERT_EQ(st.st_mode & 07777, 0700);
	T_ASSERT_EQ(control_listen(agent, &fd), 0);
	T_ASSERT_EQ(control_socket_path(client, sizeof(client), 0), 0);
	T_ASSERT_STREQ(client, agent);
	T_ASSERT(connects(client));
	/* Nothing was put into the squatted directory. */
	snprintf(cmd, sizeof(cmd), "%s/agent.sock", squat);
	T_ASSERT(lstat(cmd, &st) < 0);
	close(fd);
	unlink(agent);
	/* The fallback taken over too: refused, not used. */
	snprintf(cmd, sizeof(cmd), "%s/home/run", base);
	T_ASSERT_EQ(chown(cmd, 65534, 65534), 0);
	T_ASSERT_EQ(control_socket_path(agent, sizeof(agent), 1), UT_EDENIED);
	/* A plain file in place of the directory: fallback too. */
	T_ASSERT_EQ(chown(cmd, 0, 0), 0);
	T_ASSERT_EQ(rmdir(squat), 0);
	T_ASSERT_EQ(close(open(squat, O_CREAT | O_WRONLY, 0644)), 0);
	T_ASSERT_EQ(control_socket_path(agent, sizeof(agent), 1), 0);
	T_ASSERT_STREQ(agent, want);
	T_ASSERT_EQ(unlink(squat), 0);
}

static void
test_control_own_loose_dir_refused(void)
{
	char dir[512], p[256];

	setup();
	snprintf(dir, sizeof(dir), "%s/tmp/usetrace-%u", base, (unsigned)getuid());
	(void)mkdir(dir, 0700);
	T_ASSERT_EQ(chmod(dir, 0755), 0);
	T_ASSERT_EQ(control_socket_path(p, sizeof(p), 1), UT_EDENIED);
	T_ASSERT_EQ(control_socket_path(p, sizeof(p), 0), UT_EDENIED);
	T_ASSERT_EQ(chmod(dir, 0700), 0);
	T_ASSERT_EQ(control_socket_path(p, sizeof(p), 0), 0);
}

static void
test_control_cleanup(void)
{
	char cmd[600];

	setup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	T_ASSERT_EQ(system(cmd), 0);
}

T_LIST(T_CASE(test_control_usual_dir),
    T_CASE(test_control_squatted_dir_falls_back),
    T_CASE(test_control_own_loose_dir_refused),
    T_CASE(test_control_cleanup))
