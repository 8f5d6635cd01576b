/*
 * blob.c - the blob store's front: picks an implementation by the URL
 * scheme at open and forwards every blob.h call through its struct
 * blob_ops (store_int.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usetrace/blob.h"
#include "usetrace/err.h"
#include "store_int.h"

int
blob_open(const char *url, bool create, struct blobstore **out)
{
	if (url == NULL || out == NULL)
		return UT_EINVAL;
	if (strncmp(url, "dir:", 4) == 0) {
		if (url[4] == '\0')
			return UT_EINVAL;
		return blob_dir__open(url + 4, create, out);
	}
	/*
	 * "s3:..." is the scale-out implementation: a blob_s3.c with its own
	 * struct blob_ops goes here and runs tests/store/test_blob.c with its
	 * URL.  Not built yet.
	 */
	return UT_EINVAL;
}

void
blob_close(struct blobstore *b)
{
	if (b != NULL)
		b->ops->close(b);
}

int
blob_put(struct blobstore *b, const uint8_t *p, size_t n, uint8_t hash[32])
{
	return b->ops->put(b, p, n, hash);
}

int
blob_get(struct blobstore *b, const uint8_t hash[32], size_t cap, uint8_t **out,
    size_t *n)
{
	return b->ops->get(b, hash, cap, out, n);
}

int
blob_get_tail(struct blobstore *b, const uint8_t hash[32], size_t n,
    uint8_t *tail, uint64_t *size)
{
	return b->ops->tail(b, hash, n, tail, size);
}

int
blob_delete(struct blobstore *b, const uint8_t hash[32])
{
	return b->ops->del(b, hash);
}

bool
blob_exists(struct blobstore *b, const uint8_t hash[32])
{
	return b->ops->exists(b, hash);
}

int
blob_range_open(struct blobstore *b, const uint8_t hash[32],
    struct blob_range **out)
{
	return b->ops->ropen(b, hash, out);
}

uint64_t
blob_range_size(const struct blob_range *r)
{
	return r->size;
}

int
blob_range_read(struct blob_range *r, uint64_t off, uint8_t *buf, size_t n)
{
	size_t got = 0;
	ssize_t k;

	if (off > r->size || n > r->size - off)
		return UT_ECORRUPT;
	while (got < n) {
		k = pread(r->fd, buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : UT_ECORRUPT;
		got += (size_t)k;
	}
	return 0;
}

void
blob_range_close(struct blob_range *r)
{
	if (r == NULL)
		return;
	close(r->fd);
	free(r);
}

int
blob_aux_put(struct blobstore *b, const uint8_t hash[32], const uint8_t *p,
    size_t n)
{
	return b->ops->aux_put(b, hash, p, n);
}

int
blob_aux_get(struct blobstore *b, const uint8_t hash[32], size_t cap,
    uint8_t **out, size_t *n)
{
	return b->ops->aux_get(b, hash, cap, out, n);
}
