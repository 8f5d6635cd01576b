/*
 * http_int.h - internals of src/http shared between its files; never
 * included from another part (tests/http may, to test them directly).
 */
#ifndef USETRACE_HTTP_INT_H
#define USETRACE_HTTP_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "usetrace/http.h"

/* Sources tracked by the rate limiter before the oldest is evicted. */
#define HTTP_RL_SOURCES 4096u

/*
 * Token buckets per source address (IPv4 address, or IPv6 /64 prefix, since
 * one host usually holds a whole /64).  Thread-safe.
 */
struct http_rl;

/*
 * Creates a limiter refilling rate_per_s tokens a second up to burst, for
 * at most cap sources (the least recently seen is evicted for a new one).
 * All three must be > 0; *out owns the limiter (http_rl_destroy).
 */
int http_rl_create(unsigned rate_per_s, unsigned burst, unsigned cap,
    struct http_rl **out) __attribute__((warn_unused_result));
void http_rl_destroy(struct http_rl *rl);

/*
 * Takes one token for the source at now_ns (a monotonic clock).  Returns 0
 * when the request may go on, or the seconds to wait (>= 1, for
 * Retry-After) when the bucket is empty.  A NULL or unknown address shares
 * one bucket.
 */
unsigned http_rl_take(struct http_rl *rl, const struct sockaddr *sa,
    uint64_t now_ns) __attribute__((warn_unused_result));

/* Number of sources tracked (tests). */
unsigned http_rl_count(struct http_rl *rl);

/*
 * Reads a whole PEM file of at most cap bytes into sodium_malloc'd memory,
 * NUL-terminated; *out is freed with sodium_free (which wipes).  Errors:
 * -errno, UT_ETOOBIG.
 */
int http__read_pem(const char *path, size_t cap, char **out, size_t *outlen)
	__attribute__((warn_unused_result));

#endif
