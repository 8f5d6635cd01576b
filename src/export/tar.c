/*
 * tar.c - a minimal ustar writer for WebDataset shards.
 *
 * Members are regular files with mode 0644, uid and gid 0, mtime 0 and no
 * owner or group names, so a shard says nothing about who made it or when.
 * Names are at most 99 bytes (ours are short keys).  The caller hashes the
 * finished file for the manifest.
 *
 * Invariants: t->f is open between tar_open and tar_close; t->size is the
 * number of bytes written, always a multiple of 512 after each member.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "export_int.h"

int
tar_open(struct tar *t, const char *path)
{
	int fd;

	memset(t, 0, sizeof(*t));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	t->f = fdopen(fd, "wb");
	if (t->f == NULL) {
		int e = -errno;

		close(fd);
		return e;
	}
	return 0;
}

static void
octal(char *dst, size_t width, uint64_t v)
{
	/* width-1 digits and a NUL, as ustar wants. */
	snprintf(dst, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

int
tar_add(struct tar *t, const char *name, const void *data, size_t len)
{
	static const uint8_t zero[512];
	uint8_t h[512];
	unsigned sum = 0;
	size_t i, pad;

	if (strlen(name) > 99 || len > 077777777777ULL)
		return UT_EINVAL;
	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name));
	octal((char *)h + 100, 8, 0644);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, len);
	octal((char *)h + 136, 12, 0);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	pad = (512 - len % 512) % 512;
	if (fwrite(h, 1, sizeof(h), t->f) != sizeof(h) ||
	    (len > 0 && fwrite(data, 1, len, t->f) != len) ||
	    (pad > 0 && fwrite(zero, 1, pad, t->f) != pad))
		return errno != 0 ? -errno : -EIO;
	t->size += sizeof(h) + len + pad;
	return 0;
}

int
tar_close(struct tar *t)
{
	static const uint8_t zero[1024];
	int r = 0;

	if (t->f == NULL)
		return 0;
	if (fwrite(zero, 1, sizeof(zero), t->f) != sizeof(zero))
		r = -EIO;
	if (fflush(t->f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && fsync(fileno(t->f)) != 0)
		r = -errno;
	if (fclose(t->f) != 0 && r == 0)
		r = -errno;
	t->f = NULL;
	t->size += sizeof(zero);
	return r;
}
