/*
 * fsync_write.c - the disk ceiling of bench/server_ingest.sh: copies each
 * FILE into OUTDIR (same base name) as one durable write, the way a server
 * that keeps every upload would at the very least: read the file, create the
 * copy, write it whole, fsync it, close it, fsync OUTDIR.  Several of these
 * run side by side, one per uploader, so the figure is the disk's own
 * fsync'd write rate at the benchmark's concurrency.
 *
 * usage: fsync_write OUTDIR FILE...
 *   OUTDIR  an existing directory; a copy that already exists is an error
 *   FILE    files of at most 64 MiB each (segments are 4 MiB)
 *
 * Prints "BYTES FILES" (what it wrote) on success; exit 1 with a message on
 * the first error.  Results: docs/BENCHMARKS.md, section "Server: ingest".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (64u << 20)

static int
read_whole(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (;;) {
		if (got == cap) {
			close(fd);
			return -EFBIG;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

static int
write_durable(int dirfd, const char *name, const unsigned char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && fsync(dirfd) < 0)
		r = -errno;
	return r;
}

int
main(int argc, char **argv)
{
	unsigned char *buf;
	const char *name;
	uint64_t total = 0;
	size_t len = 0;
	int dirfd, i, r;

	if (argc < 3) {
		fprintf(stderr, "usage: fsync_write OUTDIR FILE...\n");
		return 2;
	}
	if ((dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "fsync_write: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if ((buf = malloc(FILE_MAX)) == NULL) {
		fprintf(stderr, "fsync_write: out of memory\n");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		name = strrchr(argv[i], '/');
		name = name != NULL ? name + 1 : argv[i];
		if ((r = read_whole(argv[i], buf, FILE_MAX, &len)) < 0 ||
		    (r = write_durable(dirfd, name, buf, len)) < 0) {
			fprintf(stderr, "fsync_write: %s: %s\n", argv[i], strerror(-r));
			free(buf);
			close(dirfd);
			return 1;
		}
		total += len;
	}
	printf("%" PRIu64 " %d\n", total, argc - 2);
	free(buf);
	close(dirfd);
	return 0;
}
