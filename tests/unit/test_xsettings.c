/*
 * test_xsettings.c - the XSETTINGS property parser.
 */
#include "usetrace/buf.h"
#include "usetrace/capture.h"
#include "usetrace/err.h"
#include "t.h"

/* Builds a little-endian XSETTINGS blob: one string, one int, one color. */
static size_t
build(uint8_t *p, int32_t dct)
{
	size_t o = 0;

	p[o++] = 0; p[o++] = 0; p[o++] = 0; p[o++] = 0;
	put_u32le(p + o, 7); o += 4;      /* serial */
	put_u32le(p + o, 3); o += 4;      /* count */
	/* string "Net/ThemeName" = "Adwaita" */
	p[o++] = 1; p[o++] = 0; p[o++] = 13; p[o++] = 0;
	memcpy(p + o, "Net/ThemeName\0\0\0", 16); o += 16;
	put_u32le(p + o, 0); o += 4;
	put_u32le(p + o, 7); o += 4;
	memcpy(p + o, "Adwaita\0", 8); o += 8;
	/* int "Net/DoubleClickTime" */
	p[o++] = 0; p[o++] = 0; p[o++] = 19; p[o++] = 0;
	memcpy(p + o, "Net/DoubleClickTime\0", 20); o += 20;
	put_u32le(p + o, 0); o += 4;
	put_u32le(p + o, (uint32_t)dct); o += 4;
	/* color "Gtk/Color" */
	p[o++] = 2; p[o++] = 0; p[o++] = 9; p[o++] = 0;
	memcpy(p + o, "Gtk/Color\0\0\0", 12); o += 12;
	put_u32le(p + o, 0); o += 4;
	memset(p + o, 0xff, 8); o += 8;
	return o;
}

static void
test_xsettings_finds_int(void)
{
	uint8_t p[256];
	size_t n = build(p, 250);
	int32_t v = 0;

	T_ASSERT_EQ(xsettings_get_int(p, n, "Net/DoubleClickTime", &v), 0);
	T_ASSERT_EQ(v, 250);
	T_ASSERT_EQ(xsettings_get_int(p, n, "Net/DoubleClickDistance", &v),
	    UT_ENOTFOUND);
}

static void
test_xsettings_rejects_every_truncation(void)
{
	uint8_t p[256];
	size_t n = build(p, 250), k;
	int32_t v;

	for (k = 0; k < n; k++)
		T_ASSERT(xsettings_get_int(p, k, "Net/DoubleClickTime", &v) < 0);
}

static void
test_xsettings_rejects_bad_type_and_order(void)
{
	uint8_t p[256];
	size_t n = build(p, 250);
	int32_t v;

	p[0] = 7;
	T_ASSERT_EQ(xsettings_get_int(p, n, "x", &v), UT_ECORRUPT);
	p[0] = 0;
	p[12] = 9; /* first setting's type */
	T_ASSERT_EQ(xsettings_get_int(p, n, "x", &v), UT_ECORRUPT);
}

T_LIST(T_CASE(test_xsettings_finds_int),
    T_CASE(test_xsettings_rejects_every_truncation),
    T_CASE(test_xsettings_rejects_bad_type_and_order))
