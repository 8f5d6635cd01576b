/*
 * blob.h - the server's blob store: segment ciphertext in stored form
 * (docs/FORMAT.md 2.1), content-addressed by BLAKE2b-256 of the bytes.
 *
 * One interface, several implementations chosen by URL at blob_open():
 *   "dir:PATH"   embedded default: PATH/ab/cdef...  (hex of the hash)
 *   "s3:..."     scale-out (not built yet: UT_EINVAL "unsupported")
 *
 * A put is durable and atomic when it returns (temporary file, fsync,
 * rename, fsync of the directory): a cut or crashed put leaves no visible
 * blob, only a temporary file that blob_open() removes.  Thread-safe.
 * Errors: 0 or a negative UT_E* / -errno; out-parameters set on success.
 */
#ifndef USETRACE_BLOB_H
#define USETRACE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blobstore;

int blob_open(const char *url, bool create, struct blobstore **out)
	__attribute__((warn_unused_result));
void blob_close(struct blobstore *b);

/* Stores p[0..n) under its hash (written to hash); idempotent. */
int blob_put(struct blobstore *b, const uint8_t *p, size_t n, uint8_t hash[32])
	__attribute__((warn_unused_result));
/*
 * Reads the blob into a malloc'd buffer (caller frees, after wiping if it
 * holds content).  UT_ENOTFOUND when absent, UT_ETOOBIG past cap,
 * UT_ECORRUPT when the bytes no longer hash to their name.
 */
int blob_get(struct blobstore *b, const uint8_t hash[32], size_t cap,
    uint8_t **out, size_t *n) __attribute__((warn_unused_result));
/*
 * Reads the last n bytes of the blob into tail and its size into *size,
 * without reading or re-hashing the rest: for a caller that needs only the
 * end and checks what it reads itself (ingest compares a trailer's hash
 * and falls back to blob_get() when it differs).  UT_ENOTFOUND when absent,
 * UT_ECORRUPT when the blob is shorter than n.
 */
int blob_get_tail(struct blobstore *b, const uint8_t hash[32], size_t n,
    uint8_t *tail, uint64_t *size) __attribute__((warn_unused_result));
/* Removes the blob; UT_ENOTFOUND when absent. */
int blob_delete(struct blobstore *b, const uint8_t hash[32]);
bool blob_exists(struct blobstore *b, const uint8_t hash[32]);

#endif
