/*
 * lock.c - one writer per spool directory (spool.c invariant 7): an
 * exclusive, non-blocking flock on the empty file DIR/.lock, held from
 * before recovery until spool_close(), which removes the file while still
 * holding it.  docs/FORMAT.md section 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "spool_int.h"

/*
 * The pid holding the flock on the file fd refers to, from /proc/locks
 * ("N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ..."); 0 when not found.
 * The lock file stays empty: on a full disk it must not take the page
 * the next segment needs.
 */
static long
lock_holder(int fd)
{
	char line[256], type[16];
	unsigned maj, mn;
	unsigned long ino;
	long pid, found = 0;
	struct stat st;
	FILE *f;

	if (fstat(fd, &st) < 0 || (f = fopen("/proc/locks", "re")) == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", type, &pid,
		    &maj, &mn, &ino) == 5 && strcmp(type, "FLOCK") == 0 &&
		    ino == (unsigned long)st.st_ino && maj == major(st.st_dev) &&
		    mn == minor(st.st_dev))
			found = pid;
	}
	fclose(f);
	return found;
}

/*
 * One writer per directory (invariant 7): an exclusive, non-blocking flock
 * on the empty file DIR/.lock.  The file is removed on close (under the
 * lock), so a writer that locked a file since unlinked tries again with
 * the new one.  -EBUSY (logged with the holder's pid) when another writer
 * holds it.
 */
int
spool__lock_take(const char *dir, int *out)
{
	char path[PATH_MAX], pid[32];
	struct stat a, b;
	long holder;
	int fd, tries, e;

	snprintf(path, sizeof(path), "%s/.lock", dir);
	for (tries = 0; tries < 16; tries++) {
		fd = fsio_open(path, O_RDONLY | O_CREAT | O_NOFOLLOW, 0600);
		if (fd < 0)
			return fd;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			e = errno;
			if (e == EWOULDBLOCK) {
				holder = lock_holder(fd);
				if (holder > 0)
					snprintf(pid, sizeof(pid), "%ld", holder);
				else
					snprintf(pid, sizeof(pid), "unknown");
				log_error("spool: %s is in use by another recorder "
				    "(pid %s); one recorder per directory", dir,
				    pid);
				e = EBUSY;
			}
			close(fd);
			return -e;
		}
		if (fsio_fstat(fd, &a) == 0 && fsio_stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			*out = fd;
			return 0;
		}
		close(fd); /* unlinked by its closing holder: again */
	}
	return -EBUSY;
}

void
spool__lock_drop(const char *dir, int fd)
{
	char path[PATH_MAX];

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/.lock", dir);
	(void)fsio_unlink(path); /* still held: no writer can take this file now */
	close(fd);
}
