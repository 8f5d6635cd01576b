/*
 * export_int.h - internals shared by the export part's files.
 */
#ifndef USETRACE_EXPORT_INT_H
#define USETRACE_EXPORT_INT_H

#include <stdint.h>
#include <stdio.h>

/* A ustar archive being written (tar.c). */
struct tar {
	FILE *f;
	uint64_t size; /* bytes written so far */
};

/* Creates path (0600, must not exist).  0 or -errno. */
int tar_open(struct tar *t, const char *path);
/* Appends one regular file member.  0, UT_EINVAL (name > 99 bytes), -errno. */
int tar_add(struct tar *t, const char *name, const void *data, size_t len);
/* Writes the end-of-archive blocks, syncs and closes.  0 or -errno. */
int tar_close(struct tar *t);

/* Shards close before they would pass this size. */
#define EXPORT_SHARD_MAX (1024ull * 1024 * 1024)

#endif
