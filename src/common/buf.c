/*
 * buf.c - bounded, wiped-on-free byte buffers and a checked reader.
 *
 * Invariants:
 *  (1) b->len <= b->cap and b->len <= b->alloc at every return.
 *  (2) A failed append leaves data and len unchanged.
 *  (3) Memory released or reset is zeroed first (sodium_memzero).
 */
#include <string.h>

#include <sodium.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/util.h"

void
buf_init(struct buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

void
buf_finish(struct buf *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->alloc);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
	if (b->data != NULL)
		sodium_memzero(b->data, b->len);
	b->len = 0;
}

static int
reserve(struct buf *b, size_t n)
{
	size_t want, nalloc;
	uint8_t *nd;

	if (n > b->cap || b->len > b->cap - n)
		return UT_ETOOBIG;
	want = b->len + n;
	if (want <= b->alloc)
		return 0;
	nalloc = b->alloc ? b->alloc : 256;
	while (nalloc < want)
		nalloc = nalloc > SIZE_MAX / 2 ? want : nalloc * 2;
	if (nalloc > b->cap)
		nalloc = b->cap;
	/* Grow by copy so the old block can be wiped. */
	nd = xmalloc(nalloc);
	if (b->data != NULL) {
		memcpy(nd, b->data, b->len);
		sodium_memzero(b->data, b->alloc);
		free(b->data);
	}
	b->data = nd;
	b->alloc = nalloc;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if ((r = reserve(b, n)) < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

void
put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

uint32_t
get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	    ((uint32_t)p[3] << 24);
}

void
put_u64le(uint8_t *p, uint64_t v)
{
	put_u32le(p, (uint32_t)v);
	put_u32le(p + 4, (uint32_t)(v >> 32));
}

uint64_t
get_u64le(const uint8_t *p)
{
	return (uint64_t)get_u32le(p) | ((uint64_t)get_u32le(p + 4) << 32);
}

int
buf_put_u32le(struct buf *b, uint32_t v)
{
	uint8_t t[4];

	put_u32le(t, v);
	return buf_append(b, t, 4);
}

int
buf_put_u64le(struct buf *b, uint64_t v)
{
	uint8_t t[8];

	put_u64le(t, v);
	return buf_append(b, t, 8);
}

int
buf_put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			t[n] |= 0x80;
		n++;
	} while (v != 0);
	return buf_append(b, t, n);
}

int
buf_put_svarint(struct buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	return buf_put_varint(b, z);
}

int
buf_put_bytes(struct buf *b, const void *p, size_t n)
{
	size_t save = b->len;
	int r;

	if ((r = buf_put_varint(b, n)) < 0)
		return r;
	if ((r = buf_append(b, p, n)) < 0) {
		b->len = save;
		return r;
	}
	return 0;
}

int
buf_put_str(struct buf *b, const char *s)
{
	return buf_put_bytes(b, s, strlen(s));
}

void
bufrd_init(struct bufrd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

size_t
bufrd_left(const struct bufrd *r)
{
	return r->len - r->off;
}

int
bufrd_get(struct bufrd *r, void *out, size_t n)
{
	if (n > bufrd_left(r))
		return UT_ECORRUPT;
	if (n != 0)
		memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

int
bufrd_get_u8(struct bufrd *r, uint8_t *v)
{
	return bufrd_get(r, v, 1);
}

int
bufrd_get_u32le(struct bufrd *r, uint32_t *v)
{
	uint8_t t[4];
	int rc;

	if ((rc = bufrd_get(r, t, 4)) < 0)
		return rc;
	*v = get_u32le(t);
	return 0;
}

int
bufrd_get_u64le(struct bufrd *r, uint64_t *v)
{
	uint8_t t[8];
	int rc;

	if ((rc = bufrd_get(r, t, 8)) < 0)
		return rc;
	*v = get_u64le(t);
	return 0;
}

int
bufrd_get_varint(struct bufrd *r, uint64_t *v)
{
	uint64_t out = 0;
	unsigned shift = 0;
	uint8_t c;

	for (;;) {
		if (r->off >= r->len || shift > 63)
			return UT_ECORRUPT;
		c = r->p[r->off++];
		if (shift == 63 && (c & 0x7e) != 0)
			return UT_ECORRUPT;
		out |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			break;
		shift += 7;
	}
	*v = out;
	return 0;
}

int
bufrd_get_svarint(struct bufrd *r, int64_t *v)
{
	uint64_t z;
	int rc;

	if ((rc = bufrd_get_varint(r, &z)) < 0)
		return rc;
	*v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	return 0;
}

int
bufrd_get_str(struct bufrd *r, char *dst, size_t dstsz)
{
	uint64_t n;
	int rc;

	if ((rc = bufrd_get_varint(r, &n)) < 0)
		return rc;
	if (dstsz == 0 || n > dstsz - 1 || n > bufrd_left(r))
		return UT_ECORRUPT;
	if (memchr(r->p + r->off, 0, n) != NULL)
		return UT_ECORRUPT;
	memcpy(dst, r->p + r->off, n);
	dst[n] = '\0';
	r->off += n;
	return 0;
}
