/*
 * test_common.c - buf, varints, jsonw, errors, parsing helpers.
 */
#include <stdio.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/jsonw.h"
#include "usetrace/util.h"
#include "t.h"

static void
test_buf_cap_is_enforced(void)
{
	struct buf b;
	uint8_t x[10] = { 0 };

	buf_init(&b, 16);
	T_ASSERT_EQ(buf_append(&b, x, 10), 0);
	T_ASSERT_EQ(buf_append(&b, x, 7), UT_ETOOBIG);
	T_ASSERT_EQ(b.len, 10); /* unchanged on failure */
	T_ASSERT_EQ(buf_append(&b, x, 6), 0);
	T_ASSERT_EQ(b.len, 16);
	buf_finish(&b);
	buf_finish(&b); /* idempotent */
}

static void
test_buf_varint_roundtrip(void)
{
	static const uint64_t u[] = { 0, 1, 127, 128, 300, 1ull << 32,
		UINT64_MAX };
	static const int64_t s[] = { 0, -1, 1, -64, 64, INT64_MIN, INT64_MAX };
	struct buf b;
	struct bufrd r;
	uint64_t uv;
	int64_t sv;
	size_t i;

	buf_init(&b, 1024);
	for (i = 0; i < UT_ARRAY_LEN(u); i++)
		T_ASSERT_EQ(buf_put_varint(&b, u[i]), 0);
	for (i = 0; i < UT_ARRAY_LEN(s); i++)
		T_ASSERT_EQ(buf_put_svarint(&b, s[i]), 0);
	bufrd_init(&r, b.data, b.len);
	for (i = 0; i < UT_ARRAY_LEN(u); i++) {
		T_ASSERT_EQ(bufrd_get_varint(&r, &uv), 0);
		T_ASSERT(uv == u[i]);
	}
	for (i = 0; i < UT_ARRAY_LEN(s); i++) {
		T_ASSERT_EQ(bufrd_get_svarint(&r, &sv), 0);
		T_ASSERT(sv == s[i]);
	}
	T_ASSERT_EQ(bufrd_left(&r), 0);
	T_ASSERT_EQ(bufrd_get_varint(&r, &uv), UT_ECORRUPT);
	buf_finish(&b);
}

static void
test_bufrd_rejects_overlong(void)
{
	uint8_t over[11];
	struct bufrd r;
	uint64_t v;
	char s[4];
	uint8_t str[] = { 5, 'a', 'b' };
	uint8_t nul[] = { 2, 'a', 0 };

	memset(over, 0xff, sizeof(over));
	bufrd_init(&r, over, sizeof(over));
	T_ASSERT_EQ(bufrd_get_varint(&r, &v), UT_ECORRUPT);
	bufrd_init(&r, str, sizeof(str));
	T_ASSERT_EQ(bufrd_get_str(&r, s, sizeof(s)), UT_ECORRUPT);
	bufrd_init(&r, nul, sizeof(nul));
	T_ASSERT_EQ(bufrd_get_str(&r, s, sizeof(s)), UT_ECORRUPT);
}

static void
test_jsonw_escapes_and_repairs_utf8(void)
{
	char out[256];
	FILE *f = fmemopen(out, sizeof(out), "w");

	T_ASSERT(f != NULL);
	jsonw_str(f, "a\"b\\c\n\x01\xc3\xa4\xff");
	fclose(f);
	T_ASSERT_STREQ(out, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa4\\ufffd\"");
}

static void
test_strerror_covers_both_ranges(void)
{
	T_ASSERT_STREQ(ut_strerror(UT_ECORRUPT), "data is corrupt");
	T_ASSERT(strlen(ut_strerror(-2)) > 0);
	T_ASSERT_STREQ(ut_strerror(-99999), "unknown error");
}

static void
test_parse_duration(void)
{
	uint64_t ms;

	T_ASSERT_EQ(ut_parse_duration_ms("90s", &ms), 0);
	T_ASSERT_EQ(ms, 90000);
	T_ASSERT_EQ(ut_parse_duration_ms("10m", &ms), 0);
	T_ASSERT_EQ(ms, 600000);
	T_ASSERT_EQ(ut_parse_duration_ms("1h", &ms), 0);
	T_ASSERT_EQ(ms, 3600000);
	T_ASSERT_EQ(ut_parse_duration_ms("5", &ms), 0);
	T_ASSERT_EQ(ms, 5000);
	T_ASSERT_EQ(ut_parse_duration_ms("5x", &ms), UT_EINVAL);
	T_ASSERT_EQ(ut_parse_duration_ms("", &ms), UT_EINVAL);
	T_ASSERT_EQ(ut_parse_duration_ms("-5s", &ms), UT_EINVAL);
	T_ASSERT_EQ(ut_parse_duration_ms("99999999999999999999h", &ms), UT_EINVAL);
}

static void
test_strlcpy_utf8_cuts_at_boundary(void)
{
	char d[4];

	/* "aä" + "b": ä is 2 bytes; a 4-byte buffer holds "aä". */
	T_ASSERT_EQ(ut_strlcpy_utf8(d, "a\xc3\xa4" "b", 4, sizeof(d)), 3);
	T_ASSERT_STREQ(d, "a\xc3\xa4");
	/* 3-byte buffer: must not split ä. */
	T_ASSERT_EQ(ut_strlcpy_utf8(d, "a\xc3\xa4", 3, 3), 1);
	T_ASSERT_STREQ(d, "a");
}

T_LIST(T_CASE(test_buf_cap_is_enforced), T_CASE(test_buf_varint_roundtrip),
    T_CASE(test_bufrd_rejects_overlong),
    T_CASE(test_jsonw_escapes_and_repairs_utf8),
    T_CASE(test_strerror_covers_both_ranges), T_CASE(test_parse_duration),
    T_CASE(test_strlcpy_utf8_cuts_at_boundary))
