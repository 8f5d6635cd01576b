/*
 * blob_dir.c - the embedded blob store (blob.h): one directory, each blob
 * a file named by the hex of its BLAKE2b-256, PATH/ab/cdef... (2 + 62 hex
 * digits), temporary files in PATH/tmp/.
 *
 * Invariants:
 *  (1) A blob file, once visible under its name, holds exactly the bytes
 *      that hash to that name, fsync'd: a put writes PATH/tmp/<hex>.<rand>,
 *      fsyncs it, renames it into place and fsyncs the directory, all
 *      through fsio.h (so tests inject faults and crashes at each step).
 *      A crash before the rename leaves only a temporary file, which
 *      blob_open() removes; after it, the blob is whole.
 *  (2) Directories are 0700 and files 0600.
 *  (3) blob_get() hands out bytes only after re-hashing them
 *      (UT_ECORRUPT otherwise), so a damaged file never passes as a blob;
 *      blob_get_tail() alone does not, and says so (its caller checks);
 *      blob_range_open() re-hashes the whole file before any part read.
 *  (5) A blob's side file (blob_aux_put) is FILE.aux next to it, written
 *      like a blob (temporary file, fsync, rename) and removed with it.
 *  (4) No state is kept between calls beyond the path: every call is
 *      thread-safe, and concurrent puts of one blob both succeed (rename
 *      is atomic and both write the same bytes).  One process owns the
 *      directory: blob_open() deletes every temporary file it finds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "store_int.h"

#define HASH_LEN 32u
#define HEX_LEN (2u * HASH_LEN)
#define RANGE_BUF (64u << 10)

struct blob_dir {
	struct blobstore base;
	char *root;
};

static const struct blob_ops dir_ops;

/* root/ab (sub) and root/ab/cdef... (file) for hash. */
static int
blob_paths(const struct blob_dir *d, const uint8_t *hash, char *sub, char *file)
{
	char hex[HEX_LEN + 1];
	int n;

	sodium_bin2hex(hex, sizeof(hex), hash, HASH_LEN);
	n = snprintf(sub, PATH_MAX, "%s/%.2s", d->root, hex);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	n = snprintf(file, PATH_MAX, "%s/%s", sub, hex + 2);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Creates dir (0700) if missing; *made tells whether it did. */
static int
ensure_dir(const char *dir, bool *made)
{
	struct stat st;

	*made = false;
	if (mkdir(dir, 0700) == 0) {
		*made = true;
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Removes every file in root/tmp (leftovers of cut puts). */
static int
clean_tmp(const char *tmp)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dp;
	int r = 0, n;

	dp = opendir(tmp);
	if (dp == NULL)
		return -errno;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			log_warn("blob: cannot remove %s: %s", path, ut_strerror(r));
		}
	}
	closedir(dp);
	return r;
}

int
blob_dir__open(const char *path, bool create, struct blobstore **out)
{
	struct blob_dir *d = NULL;
	char tmp[PATH_MAX];
	struct stat st;
	bool made;
	int r, n;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	n = snprintf(tmp, sizeof(tmp), "%s/tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp) - HEX_LEN - 32)
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (!create)
			return UT_ENOTFOUND;
	} else if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	if ((r = ensure_dir(path, &made)) < 0 ||
	    (r = ensure_dir(tmp, &made)) < 0 ||
	    (r = clean_tmp(tmp)) < 0)
		return r;
	/*
	 * Always: a subdirectory made just before a crash is durable from
	 * here on, as later puts into it do not sync the root again.
	 */
	if ((r = fsio_fsync_dir(path)) < 0)
		return r;
	d = xcalloc(1, sizeof(*d));
	d->base.ops = &dir_ops;
	d->root = xstrdup(path);
	*out = &d->base;
	return 0;
}

static void
dir_close(struct blobstore *b)
{
	struct blob_dir *d = (struct blob_dir *)b;

	if (d == NULL)
		return;
	free(d->root);
	free(d);
}

/* Writes p[0..n) to a new temporary file and fsyncs it; path in tmp. */
static int
write_tmp(const struct blob_dir *d, const uint8_t *hash, const uint8_t *p,
    size_t n, char *tmp)
{
	char hex[HEX_LEN + 1], rnd[17];
	uint8_t rb[8];
	int fd, r, c;

	sodium_bin2hex(hex, sizeof(hex), hash, HASH_LEN);
	randombytes_buf(rb, sizeof(rb));
	sodium_bin2hex(rnd, sizeof(rnd), rb, sizeof(rb));
	c = snprintf(tmp, PATH_MAX, "%s/tmp/%s.%s", d->root, hex, rnd);
	if (c < 0 || c >= PATH_MAX)
		return -ENAMETOOLONG;
	fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return fd;
	r = n > 0 ? fsio_write_all(fd, p, n) : 0;
	if (r == 0)
		r = fsio_fsync(fd);
	c = fsio_close(fd);
	if (r == 0)
		r = c;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int
dir_put(struct blobstore *b, const uint8_t *p, size_t n, uint8_t *hash)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX], tmp[PATH_MAX];
	uint8_t h[HASH_LEN];
	struct stat st;
	bool made;
	int r;

	crypto_generichash(h, sizeof(h), p, n, NULL, 0);
	if ((r = blob_paths(d, h, sub, file)) < 0)
		return r;
	if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == n) {
		/* Stored already; make sure its name is durable too. */
		r = fsio_fsync_dir(sub);
		goto out;
	}
	if ((r = write_tmp(d, h, p, n, tmp)) < 0)
		return r;
	if ((r = ensure_dir(sub, &made)) < 0)
		goto fail;
	if (made && (r = fsio_fsync_dir(d->root)) < 0) {
		/* Not durable: remove it, so the next put makes and syncs it again. */
		rmdir(sub);
		goto fail;
	}
	if ((r = fsio_rename(tmp, file)) < 0)
		goto fail;
	r = fsio_fsync_dir(sub);
out:
	if (r == 0)
		memcpy(hash, h, HASH_LEN);
	return r;
fail:
	unlink(tmp);
	return r;
}

static int
dir_get(struct blobstore *b, const uint8_t *hash, size_t cap, uint8_t **out,
    size_t *n)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX];
	unsigned char *p = NULL;
	uint8_t h[HASH_LEN];
	size_t len = 0;
	int r;

	if ((r = blob_paths(d, hash, sub, file)) < 0)
		return r;
	r = fsio_read_file(file, cap, &p, &len);
	if (r == -ENOENT)
		return UT_ENOTFOUND;
	if (r < 0)
		return r;
	crypto_generichash(h, sizeof(h), p, len, NULL, 0);
	if (sodium_memcmp(h, hash, HASH_LEN) != 0) {
		log_error("blob: %s does not match its name", file);
		sodium_memzero(p, len);
		free(p);
		return UT_ECORRUPT;
	}
	*out = p;
	*n = len;
	return 0;
}

static int
dir_tail(struct blobstore *b, const uint8_t *hash, size_t n, uint8_t *tail,
    uint64_t *size)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX];
	struct stat st;
	size_t off = 0;
	ssize_t k;
	int fd, r = 0;

	if ((r = blob_paths(d, hash, sub, file)) < 0)
		return r;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? UT_ENOTFOUND : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < n) {
		r = UT_ECORRUPT;
		goto out;
	}
	while (off < n) {
		k = pread(fd, tail + off, n - off, st.st_size - (off_t)(n - off));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : UT_ECORRUPT;
			goto out;
		}
		off += (size_t)k;
	}
	*size = (uint64_t)st.st_size;
out:
	close(fd);
	return r;
}

/* The side file of blob file: FILE.aux. */
static int
aux_path(const char *file, char *aux)
{
	int n = snprintf(aux, PATH_MAX, "%s.aux", file);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int
dir_ropen(struct blobstore *b, const uint8_t *hash, struct blob_range **out)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX];
	crypto_generichash_state hs;
	uint8_t *buf = NULL, h[HASH_LEN];
	struct blob_range *rg;
	struct stat st;
	uint64_t off = 0;
	ssize_t k;
	int fd, r;

	if ((r = blob_paths(d, hash, sub, file)) < 0)
		return r;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? UT_ENOTFOUND : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = UT_ECORRUPT;
		goto fail;
	}
	/* Invariant (3) for parts: the whole file is hashed first. */
	buf = xmalloc(RANGE_BUF);
	crypto_generichash_init(&hs, NULL, 0, HASH_LEN);
	while (off < (uint64_t)st.st_size) {
		k = pread(fd, buf, RANGE_BUF, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : UT_ECORRUPT;
			goto fail;
		}
		crypto_generichash_update(&hs, buf, (unsigned long long)k);
		off += (uint64_t)k;
	}
	crypto_generichash_final(&hs, h, sizeof(h));
	if (sodium_memcmp(h, hash, HASH_LEN) != 0) {
		log_error("blob: %s does not match its name", file);
		r = UT_ECORRUPT;
		goto fail;
	}
	sodium_memzero(buf, RANGE_BUF);
	free(buf);
	rg = xcalloc(1, sizeof(*rg));
	rg->fd = fd;
	rg->size = off;
	*out = rg;
	return 0;
fail:
	if (buf != NULL) {
		sodium_memzero(buf, RANGE_BUF);
		free(buf);
	}
	close(fd);
	return r;
}

static int
dir_aux_put(struct blobstore *b, const uint8_t *hash, const uint8_t *p, size_t n)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX], aux[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int r;

	if ((r = blob_paths(d, hash, sub, file)) < 0 ||
	    (r = aux_path(file, aux)) < 0)
		return r;
	if (stat(file, &st) < 0)
		return errno == ENOENT ? UT_ENOTFOUND : -errno;
	if ((r = write_tmp(d, hash, p, n, tmp)) < 0)
		return r;
	if ((r = fsio_rename(tmp, aux)) < 0) {
		unlink(tmp);
		return r;
	}
	return fsio_fsync_dir(sub);
}

static int
dir_aux_get(struct blobstore *b, const uint8_t *hash, size_t cap, uint8_t **out,
    size_t *n)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX], aux[PATH_MAX];
	int r;

	if ((r = blob_paths(d, hash, sub, file)) < 0 ||
	    (r = aux_path(file, aux)) < 0)
		return r;
	r = fsio_read_file(aux, cap, out, n);
	return r == -ENOENT ? UT_ENOTFOUND : r;
}

static int
dir_delete(struct blobstore *b, const uint8_t *hash)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX], aux[PATH_MAX];
	int r;

	if ((r = blob_paths(d, hash, sub, file)) < 0)
		return r;
	if (unlink(file) < 0)
		return errno == ENOENT ? UT_ENOTFOUND : -errno;
	if (aux_path(file, aux) == 0)
		(void)unlink(aux);
	return fsio_fsync_dir(sub);
}

static bool
dir_exists(struct blobstore *b, const uint8_t *hash)
{
	struct blob_dir *d = (struct blob_dir *)b;
	char sub[PATH_MAX], file[PATH_MAX];
	struct stat st;

	if (blob_paths(d, hash, sub, file) < 0)
		return false;
	return stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

static const struct blob_ops dir_ops = {
	.close = dir_close,
	.put = dir_put,
	.get = dir_get,
	.tail = dir_tail,
	.del = dir_delete,
	.exists = dir_exists,
	.ropen = dir_ropen,
	.aux_put = dir_aux_put,
	.aux_get = dir_aux_get,
};
