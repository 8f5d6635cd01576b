/*
 * fsio.c - durable-file I/O seam with fault injection (see fsio.h).
 *
 * Invariant: at most one fault is armed; it fires once, on exactly the Nth
 * call of its operation counted since fsio_fault_clear() / arming.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/testhooks.h"
#include "usetrace/util.h"

static atomic_uint calls[FSIO_OP_ALL];
static enum fsio_op fault_op;
static unsigned fault_nth;
static enum fsio_fault fault_kind;

static void
reset_calls(void)
{
	unsigned i;

	for (i = 0; i < FSIO_OP_ALL; i++)
		atomic_store(&calls[i], 0u);
}

void
fsio_fault_arm(enum fsio_op op, unsigned nth, enum fsio_fault kind)
{
	reset_calls();
	fault_op = op;
	fault_nth = nth;
	fault_kind = kind;
}

void
fsio_fault_clear(void)
{
	reset_calls();
	fault_kind = FSIO_FAULT_NONE;
}

unsigned
fsio_calls(enum fsio_op op)
{
	return atomic_load(&calls[op]);
}

int
fsio_fault_from_env(void)
{
	static const char *ops[] = { "open", "write", "fsync", "rename",
		"unlink", "mkdir", "read", "stat", "readdir" };
	_Static_assert(sizeof(ops) / sizeof(ops[0]) == FSIO_OP_ALL, "op names");
	const char *v = ut_test_env("UT_FSIO_FAULT"); /* test builds only */
	char tmp[64], *op, *nth, *kind, *save = NULL;
	uint64_t n;
	unsigned i;
	enum fsio_fault k;

	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) >= sizeof(tmp))
		return UT_EINVAL;
	memcpy(tmp, v, strlen(v) + 1);
	op = strtok_r(tmp, ":", &save);
	nth = strtok_r(NULL, ":", &save);
	kind = strtok_r(NULL, ":", &save);
	if (op == NULL || nth == NULL || kind == NULL ||
	    ut_parse_u64(nth, &n) < 0 || n == 0 || n > UINT_MAX)
		return UT_EINVAL;
	if (strcmp(kind, "EIO") == 0)
		k = FSIO_FAULT_EIO;
	else if (strcmp(kind, "ENOSPC") == 0)
		k = FSIO_FAULT_ENOSPC;
	else if (strcmp(kind, "short") == 0)
		k = FSIO_FAULT_SHORT;
	else if (strcmp(kind, "crash") == 0)
		k = FSIO_FAULT_CRASH;
	else
		return UT_EINVAL;
	for (i = 0; i < UT_ARRAY_LEN(ops); i++) {
		if (strcmp(op, ops[i]) == 0) {
			fsio_fault_arm((enum fsio_op)i, (unsigned)n, k);
			return 0;
		}
	}
	return UT_EINVAL;
}

/*
 * Returns the fault to apply to this call, if any.  The one counting path:
 * every fsio function and fsio_fault_hit() come through here.
 */
static enum fsio_fault
check(enum fsio_op op)
{
	unsigned n = atomic_fetch_add(&calls[op], 1u) + 1u;

	if (fault_kind == FSIO_FAULT_NONE || op != fault_op || n != fault_nth)
		return FSIO_FAULT_NONE;
	if (fault_kind == FSIO_FAULT_CRASH)
		raise(SIGKILL);
	return fault_kind;
}

static int
fault_errno(enum fsio_fault f)
{
	return f == FSIO_FAULT_ENOSPC ? -ENOSPC : -EIO;
}

int
fsio_fault_hit(enum fsio_op op)
{
	enum fsio_fault f = check(op);

	return f == FSIO_FAULT_NONE ? 0 : fault_errno(f);
}

int
fsio_open(const char *path, int flags, mode_t mode)
{
	enum fsio_fault f = check(FSIO_OPEN);
	int fd;

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	do
		fd = open(path, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

int
fsio_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	enum fsio_fault f = check(FSIO_WRITE);
	ssize_t w;

	if (f == FSIO_FAULT_SHORT) {
		/* Write part of it, then report the device full. */
		if (n > 1 && write(fd, c, n / 2) < 0)
			return -errno;
		return -ENOSPC;
	}
	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fsio_fsync(int fd)
{
	enum fsio_fault f = check(FSIO_FSYNC);

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	if (fdatasync(fd) < 0)
		return -errno;
	return 0;
}

int
fsio_fsync_dir(const char *dir)
{
	int fd, r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fsio_fsync(fd);
	close(fd);
	return r;
}

int
fsio_rename(const char *from, const char *to)
{
	enum fsio_fault f = check(FSIO_RENAME);

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	return rename(from, to) < 0 ? -errno : 0;
}

int
fsio_unlink(const char *path)
{
	enum fsio_fault f = check(FSIO_UNLINK);

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	return unlink(path) < 0 ? -errno : 0;
}

int
fsio_mkdir(const char *path, mode_t mode)
{
	enum fsio_fault f = check(FSIO_MKDIR);

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	return mkdir(path, mode) < 0 ? -errno : 0;
}

int
fsio_ftruncate(int fd, off_t len)
{
	return ftruncate(fd, len) < 0 ? -errno : 0;
}

int
fsio_close(int fd)
{
	if (fd < 0)
		return 0;
	return close(fd) < 0 ? -errno : 0;
}

int
fsio_read_file(const char *path, size_t cap, unsigned char **out, size_t *outlen)
{
	struct stat st;
	unsigned char *p = NULL;
	size_t off = 0;
	ssize_t n;
	int fd, r;
	enum fsio_fault f = check(FSIO_READ);

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > cap) {
		r = UT_ETOOBIG;
		goto out;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, p + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*out = p;
	*outlen = off;
	p = NULL;
	r = 0;
out:
	free(p);
	close(fd);
	return r;
}

ssize_t
fsio_read_head(const char *path, void *buf, size_t n)
{
	enum fsio_fault f = check(FSIO_READ);
	ssize_t got;
	int fd, e;

	if (f != FSIO_FAULT_NONE)
		return fault_errno(f);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		got = pread(fd, buf, n, 0);
	while (got < 0 && errno == EINTR);
	e = errno;
	close(fd);
	return got < 0 ? -e : got;
}

int
fsio_stat(const char *path, struct stat *st)
{
	if (check(FSIO_STAT) != FSIO_FAULT_NONE)
		return -EIO;
	return stat(path, st) < 0 ? -errno : 0;
}

int
fsio_fstat(int fd, struct stat *st)
{
	if (check(FSIO_STAT) != FSIO_FAULT_NONE)
		return -EIO;
	return fstat(fd, st) < 0 ? -errno : 0;
}

int
fsio_access(const char *path, int mode)
{
	if (check(FSIO_STAT) != FSIO_FAULT_NONE)
		return -EIO;
	return access(path, mode) < 0 ? -errno : 0;
}

DIR *
fsio_opendir(const char *path)
{
	if (check(FSIO_READDIR) != FSIO_FAULT_NONE) {
		errno = EIO;
		return NULL;
	}
	return opendir(path);
}

int
fsio_readdir(DIR *d, struct dirent **de)
{
	if (check(FSIO_READDIR) != FSIO_FAULT_NONE)
		return -EIO;
	errno = 0;
	*de = readdir(d);
	if (*de == NULL)
		return errno != 0 ? -errno : 0;
	return 1;
}
