/*
 * buf.h - bounded byte buffers and a bounds-checked reader.
 *
 * struct buf grows on demand up to a ceiling fixed at buf_init(); an append
 * that would pass the ceiling fails with UT_ETOOBIG and leaves the buffer
 * unchanged.  buf_finish() and buf_reset() wipe the contents, because
 * buffers carry recorded content.  Small-allocation failure aborts (xmalloc).
 *
 * struct bufrd reads a byte range without copying; every getter checks the
 * remaining length and returns UT_ECORRUPT instead of reading past the end.
 * Integers use LEB128 varints; signed ones are zigzag-encoded.
 */
#ifndef USETRACE_BUF_H
#define USETRACE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t alloc;
	size_t cap; /* ceiling for len */
};

void buf_init(struct buf *b, size_t cap);
/* Wipes and frees; accepts a zeroed or finished buf. */
void buf_finish(struct buf *b);
/* Wipes the contents and sets len to 0; keeps the allocation. */
void buf_reset(struct buf *b);

int buf_append(struct buf *b, const void *p, size_t n)
	__attribute__((warn_unused_result));
int buf_put_u8(struct buf *b, uint8_t v) __attribute__((warn_unused_result));
int buf_put_u32le(struct buf *b, uint32_t v) __attribute__((warn_unused_result));
int buf_put_u64le(struct buf *b, uint64_t v) __attribute__((warn_unused_result));
int buf_put_varint(struct buf *b, uint64_t v) __attribute__((warn_unused_result));
int buf_put_svarint(struct buf *b, int64_t v) __attribute__((warn_unused_result));
/* varint length followed by the bytes. */
int buf_put_bytes(struct buf *b, const void *p, size_t n)
	__attribute__((warn_unused_result));
int buf_put_str(struct buf *b, const char *s) __attribute__((warn_unused_result));

struct bufrd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void bufrd_init(struct bufrd *r, const void *p, size_t len);
size_t bufrd_left(const struct bufrd *r);
int bufrd_get(struct bufrd *r, void *out, size_t n) __attribute__((warn_unused_result));
int bufrd_get_u8(struct bufrd *r, uint8_t *v) __attribute__((warn_unused_result));
int bufrd_get_u32le(struct bufrd *r, uint32_t *v) __attribute__((warn_unused_result));
int bufrd_get_u64le(struct bufrd *r, uint64_t *v) __attribute__((warn_unused_result));
int bufrd_get_varint(struct bufrd *r, uint64_t *v) __attribute__((warn_unused_result));
int bufrd_get_svarint(struct bufrd *r, int64_t *v) __attribute__((warn_unused_result));
/*
 * Reads a length-prefixed string into dst (size dstsz, always
 * NUL-terminated).  A string longer than dstsz-1 or holding a NUL byte is
 * UT_ECORRUPT: writers never produce one.
 */
int bufrd_get_str(struct bufrd *r, char *dst, size_t dstsz)
	__attribute__((warn_unused_result));

void put_u32le(uint8_t *p, uint32_t v);
uint32_t get_u32le(const uint8_t *p);
void put_u64le(uint8_t *p, uint64_t v);
uint64_t get_u64le(const uint8_t *p);

#endif
