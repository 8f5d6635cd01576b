/*
 * util.c - allocation, clocks, string and number helpers (see util.h).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		ut_fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		ut_fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *np;

	if (size != 0 && nmemb > SIZE_MAX / size)
		ut_fatal("allocation size overflow");
	np = realloc(p, (nmemb != 0 && size != 0) ? nmemb * size : 1);
	if (np == NULL)
		ut_fatal("out of memory reallocating %zu x %zu bytes", nmemb, size);
	return np;
}

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xmalloc(n);

	memcpy(d, s, n);
	return d;
}

uint64_t
ut_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t
ut_now_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + (int64_t)ts.tv_nsec;
}

size_t
ut_strlcpy_utf8(char *dst, const char *src, size_t n, size_t dstsz)
{
	size_t len;

	if (dstsz == 0)
		return 0;
	len = strnlen(src, n);
	if (len > dstsz - 1) {
		len = dstsz - 1;
		/* Back up over continuation bytes to a character start. */
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return len;
}

int
ut_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return UT_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return UT_EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return UT_EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int
ut_parse_duration_ms(const char *s, uint64_t *out_ms)
{
	char num[32];
	size_t i = 0;
	uint64_t v, mult;
	const char *unit;

	if (s == NULL)
		return UT_EINVAL;
	while (s[i] >= '0' && s[i] <= '9' && i < sizeof(num) - 1) {
		num[i] = s[i];
		i++;
	}
	num[i] = '\0';
	unit = s + i;
	if (ut_parse_u64(num, &v) < 0)
		return UT_EINVAL;
	if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "m") == 0 || strcmp(unit, "min") == 0)
		mult = 60000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600000;
	else
		return UT_EINVAL;
	if (v > UINT64_MAX / mult)
		return UT_EINVAL;
	*out_ms = v * mult;
	return 0;
}
