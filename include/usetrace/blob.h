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
/*
 * Reading parts of a blob without holding it whole (issue 13: a replay
 * frame is read from the records that hold it).  blob_range_open() opens
 * the blob and first streams all of it through BLAKE2b-256 in a fixed
 * 64 KiB buffer: UT_ECORRUPT when it no longer hashes to its name (as
 * blob_get()), UT_ENOTFOUND when absent.  Later reads come from that same
 * open file, so a blob renamed over meanwhile is not what is read.  Memory
 * is the buffer, whatever the blob's size.
 */
struct blob_range;
int blob_range_open(struct blobstore *b, const uint8_t hash[32],
    struct blob_range **out) __attribute__((warn_unused_result));
uint64_t blob_range_size(const struct blob_range *r);
/* Reads n bytes at off; UT_ECORRUPT when they pass the end. */
int blob_range_read(struct blob_range *r, uint64_t off, uint8_t *buf, size_t n)
	__attribute__((warn_unused_result));
void blob_range_close(struct blob_range *r);
/*
 * A small side file kept with a blob (the server keeps a segment's sealed
 * frame index there): written atomically like a blob, replaced by the next
 * put, removed with the blob by blob_delete().  Its bytes are the
 * caller's to authenticate (the index is sealed).  UT_ENOTFOUND when the
 * blob or the side file is absent.
 */
int blob_aux_put(struct blobstore *b, const uint8_t hash[32], const uint8_t *p,
    size_t n) __attribute__((warn_unused_result));
int blob_aux_get(struct blobstore *b, const uint8_t hash[32], size_t cap,
    uint8_t **out, size_t *n) __attribute__((warn_unused_result));
/* Removes the blob; UT_ENOTFOUND when absent. */
int blob_delete(struct blobstore *b, const uint8_t hash[32]);
bool blob_exists(struct blobstore *b, const uint8_t hash[32]);

#endif
