/*
 * fsio.h - the one I/O seam for durable files (as SQLite's VFS).
 *
 * Every open/write/fsync/rename/truncate of the spool goes through here so
 * tests can inject failures: EIO, ENOSPC, short writes, or a crash (SIGKILL)
 * at the Nth call of an operation.  Faults are armed with fsio_fault_arm()
 * from unit tests, or from the environment variable UT_FSIO_FAULT, read by
 * fsio_fault_from_env(), for end-to-end tests of real processes (test
 * builds only: a release build, -Dtest_hooks=false, ignores it; testhooks.h):
 *
 *     UT_FSIO_FAULT=OP:N:KIND     OP   = write | fsync | open | rename |
 *                                        unlink | mkdir | read | stat |
 *                                        readdir
 *                                 N    = 1-based call number of that OP
 *                                 KIND = EIO | ENOSPC | short | crash
 *
 * `usetrace serve` also reads UT_FSIO_FAULT_SERVING=OP:N:KIND, the same
 * fault armed only once the server accepts connections, and with either
 * variable set prints the counts (fsio_calls()) on stderr when it exits:
 * a test seam for the server's crash and fault tests (src/cli/cmd_serve.c).
 *
 * The metadata store's SQLite database and WAL are written through the same
 * counters (src/store/vfs.c calls fsio_fault_hit()), so these faults reach
 * it too: its writes and truncates count as "write", its syncs as "fsync".
 *
 * All functions return 0 (or a byte count / fd) on success and -errno on
 * failure.  Writes retry on EINTR and on short writes until done or failed.
 *
 * The read side (op read: fsio_read_file, fsio_read_head; stat: fsio_stat,
 * fsio_fstat, fsio_access; readdir: fsio_opendir, fsio_readdir) is counted
 * apart from the durable-write ops that sweeps over [0, FSIO_OP_COUNT)
 * visit.  On the read side a "short" fault acts as EIO (a short read of
 * a regular file is its end, which a fault must not fake: recovery would
 * cut the real file to what it read).
 */
#ifndef USETRACE_FSIO_H
#define USETRACE_FSIO_H

#include <dirent.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

enum fsio_op { FSIO_OPEN = 0, FSIO_WRITE, FSIO_FSYNC, FSIO_RENAME, FSIO_UNLINK,
	FSIO_MKDIR, FSIO_OP_COUNT,
	/* The read side, after the write ops' count (see above). */
	FSIO_READ = FSIO_OP_COUNT, FSIO_STAT, FSIO_READDIR, FSIO_OP_ALL };
enum fsio_fault { FSIO_FAULT_NONE = 0, FSIO_FAULT_EIO, FSIO_FAULT_ENOSPC,
	FSIO_FAULT_SHORT, FSIO_FAULT_CRASH };

int fsio_open(const char *path, int flags, mode_t mode);
int fsio_write_all(int fd, const void *p, size_t n);
int fsio_fsync(int fd);
/* fsync the directory holding a file, so a create or rename is durable. */
int fsio_fsync_dir(const char *dir);
int fsio_rename(const char *from, const char *to);
int fsio_unlink(const char *path);
/* mkdir; an existing directory is -EEXIST, as mkdir(2). */
int fsio_mkdir(const char *path, mode_t mode);
int fsio_ftruncate(int fd, off_t len);
/* Closes fd if >= 0; errors from close are returned. */
int fsio_close(int fd);
/* Reads the whole file into a malloc'd buffer (caller frees), at most cap bytes. */
int fsio_read_file(const char *path, size_t cap, unsigned char **out, size_t *outlen);
/* Reads up to n bytes from the start of path; the count read, or -errno. */
ssize_t fsio_read_head(const char *path, void *buf, size_t n);
int fsio_stat(const char *path, struct stat *st);
int fsio_fstat(int fd, struct stat *st);
int fsio_access(const char *path, int mode);
/* opendir; NULL with errno set on failure. */
DIR *fsio_opendir(const char *path);
/* The next entry: 1 and *de, 0 at the end, -errno on failure. */
int fsio_readdir(DIR *d, struct dirent **de);

void fsio_fault_arm(enum fsio_op op, unsigned nth, enum fsio_fault kind);
void fsio_fault_clear(void);
/* Parses UT_FSIO_FAULT; returns UT_EINVAL for a malformed value. */
int fsio_fault_from_env(void);
/* Number of calls made of op since the last clear (for sweeping tests). */
unsigned fsio_calls(enum fsio_op op);

/*
 * Counts one call of op, exactly as the fsio functions above do (they use
 * the same path), for I/O that cannot go through them, such as SQLite's
 * VFS (src/store/vfs.c).  Returns 0, or -EIO / -ENOSPC when the armed fault
 * fires on this call (a "short" fault is reported as -ENOSPC: the caller
 * wrote nothing); a "crash" fault raises SIGKILL here.  Thread-safe: the
 * count is atomic, so the fault fires on exactly one call.
 */
int fsio_fault_hit(enum fsio_op op);

#endif
