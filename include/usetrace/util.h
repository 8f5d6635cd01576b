/*
 * util.h - small helpers every part uses: allocation that aborts on OOM
 * (small, program-sized allocations only; attacker-sized ones check a cap
 * first), clocks, UTF-8-safe string copies and strict number parsing.
 */
#ifndef USETRACE_UTIL_H
#define USETRACE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xreallocarray(void *p, size_t nmemb, size_t size) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t ut_now_mono_ns(void);
int64_t ut_now_wall_ns(void);

/*
 * Copies at most n bytes of src into dst (size dstsz, NUL-terminated),
 * cutting at a UTF-8 character boundary.  Returns the bytes copied.
 */
size_t ut_strlcpy_utf8(char *dst, const char *src, size_t n, size_t dstsz);

/* Strict decimal parse: whole string, no sign, no overflow. */
int ut_parse_u64(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/* Parses "90s", "10m", "1h", "250ms" or a plain number of seconds. */
int ut_parse_duration_ms(const char *s, uint64_t *out_ms)
	__attribute__((warn_unused_result));

#define UT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define UT_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
