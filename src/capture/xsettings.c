/*
 * xsettings.c - parser for the XSETTINGS property (freedesktop XSETTINGS
 * specification 0.5).  The bytes come from another client, so every length
 * is checked against the remaining input before use.
 */
#include <string.h>

#include "usetrace/capture.h"
#include "usetrace/err.h"

struct rd {
	const uint8_t *p;
	size_t n, off;
	int msb;
};

static int
get8(struct rd *r, uint8_t *v)
{
	if (r->n - r->off < 1)
		return UT_ECORRUPT;
	*v = r->p[r->off++];
	return 0;
}

static int
get16(struct rd *r, uint16_t *v)
{
	const uint8_t *q;

	if (r->n - r->off < 2)
		return UT_ECORRUPT;
	q = r->p + r->off;
	*v = r->msb ? (uint16_t)((q[0] << 8) | q[1]) : (uint16_t)((q[1] << 8) | q[0]);
	r->off += 2;
	return 0;
}

static int
get32(struct rd *r, uint32_t *v)
{
	const uint8_t *q;

	if (r->n - r->off < 4)
		return UT_ECORRUPT;
	q = r->p + r->off;
	if (r->msb)
		*v = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) |
		    ((uint32_t)q[2] << 8) | q[3];
	else
		*v = ((uint32_t)q[3] << 24) | ((uint32_t)q[2] << 16) |
		    ((uint32_t)q[1] << 8) | q[0];
	r->off += 4;
	return 0;
}

static int
skip(struct rd *r, size_t k)
{
	if (r->n - r->off < k)
		return UT_ECORRUPT;
	r->off += k;
	return 0;
}

static size_t
pad4(size_t k)
{
	return (k + 3) & ~(size_t)3;
}

int
xsettings_get_int(const uint8_t *p, size_t n, const char *name, int32_t *out)
{
	struct rd r = { p, n, 0, 0 };
	uint8_t order, type, pad;
	uint16_t nlen;
	uint32_t serial, count, i, v, slen;
	const uint8_t *nm;
	int found = 0;
	int32_t val = 0;

	if (get8(&r, &order) < 0 || (order != 0 && order != 1))
		return UT_ECORRUPT;
	r.msb = order == 1;
	if (skip(&r, 3) < 0 || get32(&r, &serial) < 0 || get32(&r, &count) < 0)
		return UT_ECORRUPT;
	for (i = 0; i < count; i++) {
		if (get8(&r, &type) < 0 || get8(&r, &pad) < 0 ||
		    get16(&r, &nlen) < 0)
			return UT_ECORRUPT;
		if (r.n - r.off < pad4(nlen))
			return UT_ECORRUPT;
		nm = r.p + r.off;
		r.off += pad4(nlen);
		if (get32(&r, &serial) < 0)
			return UT_ECORRUPT;
		switch (type) {
		case 0:
			if (get32(&r, &v) < 0)
				return UT_ECORRUPT;
			if (strlen(name) == nlen && memcmp(nm, name, nlen) == 0) {
				found = 1;
				val = (int32_t)v;
			}
			break;
		case 1:
			if (get32(&r, &slen) < 0 || skip(&r, pad4(slen)) < 0 ||
			    slen > n)
				return UT_ECORRUPT;
			break;
		case 2:
			if (skip(&r, 8) < 0)
				return UT_ECORRUPT;
			break;
		default:
			return UT_ECORRUPT;
		}
	}
	if (!found)
		return UT_ENOTFOUND;
	*out = val;
	return 0;
}
