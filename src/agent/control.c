/*
 * control.c - the agent's control socket (see control.h).
 *
 * Invariants:
 *  (1) The socket lives in a directory owned by us with mode 0700; we
 *      never use a directory that is not (someone else could have planted
 *      it): another user's directory is named in a warning and we fall
 *      back to run/ in the key home (keys_home()); our own directory with
 *      a loose mode is refused, naming it.
 *  (2) Every accepted connection's peer uid is checked with SO_PEERCRED
 *      before a byte of it is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

/*
 * Whether dir (which exists) may hold our socket: 0, or UT_EDENIED with
 * why filled in (the directory, its owner and mode: the user must be able
 * to tell what to remove).
 */
static int
dir_check(const char *dir, const struct stat *st, char *why, size_t whysz)
{
	if (!S_ISDIR(st->st_mode)) {
		snprintf(why, whysz, "%s is not a directory", dir);
		return UT_EDENIED;
	}
	if (st->st_uid != getuid()) {
		snprintf(why, whysz, "%s belongs to uid %u, not to you (uid %u)",
		    dir, (unsigned)st->st_uid, (unsigned)getuid());
		return UT_EDENIED;
	}
	if ((st->st_mode & 077) != 0) {
		snprintf(why, whysz, "%s has mode %04o (others may enter; "
		    "want 0700)", dir, (unsigned)(st->st_mode & 07777));
		return UT_EDENIED;
	}
	return 0;
}

/*
 * The usual runtime directory: $XDG_RUNTIME_DIR/usetrace, else
 * $TMPDIR/usetrace-UID (TMPDIR absolute), else /tmp/usetrace-UID.
 */
static void
primary_dir(char *dir, size_t dirsz)
{
	const char *rt = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");

	if (rt != NULL && *rt == '/' && strlen(rt) < 200)
		snprintf(dir, dirsz, "%s/usetrace", rt);
	else if (tmp != NULL && *tmp == '/' && strlen(tmp) < 200)
		snprintf(dir, dirsz, "%s/usetrace-%u", tmp, (unsigned)getuid());
	else
		snprintf(dir, dirsz, "/tmp/usetrace-%u", (unsigned)getuid());
}

int
control_socket_path(char *out, size_t outsz, int create)
{
	char dir[PATH_MAX], why[PATH_MAX + 96];
	struct stat st;
	int r;

	primary_dir(dir, sizeof(dir));
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) == 0) {
		if (dir_check(dir, &st, why, sizeof(why)) < 0) {
			/*
			 * (1) Someone else's directory (another local user can
			 * pre-create /tmp/usetrace-UID): never use it; fall back
			 * to run/ in the key home, which only we can create.
			 * Our own directory with a loose mode is refused, not
			 * silently tightened.
			 */
			if (S_ISDIR(st.st_mode) && st.st_uid == getuid()) {
				log_error("runtime directory: %s", why);
				return UT_EDENIED;
			}
			if ((r = keys_home(dir, sizeof(dir) - 4, create)) < 0)
				return r;
			strcat(dir, "/run");
			log_warn("runtime directory: %s; using %s instead "
			    "(remove it, or set XDG_RUNTIME_DIR)", why, dir);
			if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
				return -errno;
			if (lstat(dir, &st) == 0) {
				if (dir_check(dir, &st, why, sizeof(why)) < 0) {
					log_error("runtime directory: %s", why);
					return UT_EDENIED;
				}
			} else if (create)
				return -errno;
		}
	} else if (create)
		return -errno;
	if ((size_t)snprintf(out, outsz, "%s/agent.sock", dir) >= outsz ||
	    strlen(out) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return UT_ETOOBIG;
	return 0;
}

static int
sun_for(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return UT_ETOOBIG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int
control_listen(const char *path, int *out_fd)
{
	struct sockaddr_un sa;
	char reply[64];
	int fd, r;

	if ((r = sun_for(path, &sa)) < 0)
		return r;
	if (control_request(path, "ping", reply, sizeof(reply), 500) >= 0)
		return -EADDRINUSE;
	unlink(path); /* stale socket of a dead agent */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*out_fd = fd;
	return 0;
}

/* Reads one line (up to '\n' or EOF) within timeout_ms. */
static int
read_line(int fd, char *buf, size_t bufsz, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t n = 0;
	ssize_t k;

	while (n < bufsz - 1) {
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		k = read(fd, buf + n, bufsz - 1 - n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		n += (size_t)k;
		if (memchr(buf, '\n', n) != NULL)
			break;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return (int)n;
}

int
control_accept(int lfd, char *req, size_t reqsz)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int fd, r;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
	    cr.uid != getuid()) {
		close(fd); /* (2): another user gets nothing */
		return UT_EDENIED;
	}
	if ((r = read_line(fd, req, reqsz, 1000)) < 0) {
		close(fd);
		return r;
	}
	return fd;
}

void
control_reply(int cfd, const char *reply)
{
	size_t n = strlen(reply);

	if (write(cfd, reply, n) == (ssize_t)n)
		(void)!write(cfd, "\n", 1);
	close(cfd);
}

int
control_request(const char *path, const char *req, char *reply, size_t replysz,
    int timeout_ms)
{
	struct sockaddr_un sa;
	int fd, r;

	if ((r = sun_for(path, &sa)) < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    write(fd, "\n", 1) != 1) {
		r = -errno;
		close(fd);
		return r;
	}
	r = read_line(fd, reply, replysz, timeout_ms);
	close(fd);
	if (r == 0)
		return UT_EDENIED; /* closed without an answer */
	return r < 0 ? r : 0;
}
