/*
 * detect_gates.c - the gate pass: one linear walk over the text that finds
 * the few places where a gated rule can match, so that Vectorscan runs
 * those rules on short windows (with the digit rules, detect.c) instead of
 * over every byte.  The gated rules (detect__gated()) are the ones whose
 * Vectorscan pattern has no literal to anchor on and so cost the most per
 * byte of ordinary text (docs/BENCHMARKS.md "Detectors"):
 *
 *   IBAN            [A-Z]{2}[0-9]{2} ?[A-Z0-9]{4} ?[A-Z0-9]{4}
 *   UK NINO         [A-Z][A-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]
 *   codice fiscale  [A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST]
 *   IPv6            [0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:
 *   URL user:pass@  ://[^\s/@:]*:[^\s/@]*@
 *
 * Invariant (G1): every match of a gated rule's Vectorscan pattern lies
 * inside one reported window (before merging), so the Vectorscan hits of
 * the gated rules on the windows are exactly their hits on the whole text
 * and the output does not change.  It holds because
 *   (a) an IBAN, NINO or codice fiscale match starts at two upper-case
 *       letters followed by a digit, a space and a digit, or four more
 *       upper-case letters, and is at most UPPER_SPAN bytes long: the
 *       window is [start, start + UPPER_SPAN);
 *   (b) an IPv6 match ends at a ':' that follows another ':' with at most
 *       four hex digits between them, and starts at most four bytes before
 *       that first ':': the window is [first - 4, second + 1);
 *   (c) a user:pass@ match starts at "://", and is the only one from
 *       there: the window runs to its '@'.  The walk stops only at bytes
 *       that are certainly in \s ('\t', '\n', '\r', ' '), so it never stops
 *       before the pattern would.
 * A new gated rule must come with its clause here and its examples in
 * tests/unit/test_detect.c.
 *
 * Windows are reported in no particular order and may overlap: the caller
 * sorts and merges them.
 */
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "detect_int.h"

#define UPPER_SPAN 14	/* the longest of the three upper-case patterns */
#define HEX_MAX 4

/* The patterns G1 covers, exactly as the rule tables spell them. */
static const char *const gated[] = {
	"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4} ?[A-Z0-9]{4}",			/* IBAN */
	"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]", /* NINO */
	"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST]",			/* codice fiscale */
	"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:",				/* IPv6 */
	"://[^\\s/@:]*:[^\\s/@]*@",					/* user:pass@ */
};

bool
detect__gated(const struct detect_rule *ru)
{
	size_t i;

	for (i = 0; ru->hs != NULL && i < sizeof(gated) / sizeof(gated[0]); i++)
		if (strcmp(ru->hs, gated[i]) == 0)
			return true;
	return false;
}

static inline bool
hex(char c)
{
	return dt_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes certainly in \s: a walk that stops only there stops no earlier. */
static inline bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Two upper-case letters at i (i + 1 < len): clause (a). */
static int
at_upper(const char *t, size_t len, size_t i,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx)
{
	size_t k;

	if (i + 3 < len && (dt_digit(t[i + 2]) ||
	    (t[i + 2] == ' ' && dt_digit(t[i + 3]))))
		return win(ctx, i, len - i > UPPER_SPAN ? i + UPPER_SPAN : len);
	for (k = i + 2; k < i + 6 && k < len && dt_upper(t[k]); k++)
		;
	if (k == i + 6)
		return win(ctx, i, len - i > UPPER_SPAN ? i + UPPER_SPAN : len);
	return 0;
}

/* A ':' at i: clauses (b) and (c). */
static int
at_colon(const char *t, size_t len, size_t i,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx)
{
	size_t k;
	int r;

	for (k = i + 1; k < len && k <= i + HEX_MAX && hex(t[k]); k++)
		;
	if (k < len && t[k] == ':' && (r = win(ctx, i > HEX_MAX ? i - HEX_MAX : 0,
	    k + 1)) < 0)
		return r;
	if (len - i < 3 || t[i + 1] != '/' || t[i + 2] != '/')
		return 0;
	for (k = i + 3; k < len && t[k] != ':' && t[k] != '/' && t[k] != '@' &&
	    !blank(t[k]); k++)
		;
	if (k == len || t[k] != ':')
		return 0;
	for (k++; k < len && t[k] != '/' && t[k] != '@' && !blank(t[k]); k++)
		;
	if (k == len || t[k] != '@')
		return 0;
	return win(ctx, i, k + 1);
}

static int
at(const char *t, size_t len, size_t i,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx)
{
	if (t[i] == ':')
		return at_colon(t, len, i, win, ctx);
	if (i + 1 < len && dt_upper(t[i]) && dt_upper(t[i + 1]))
		return at_upper(t, len, i, win, ctx);
	return 0;
}

int
detect__gate_windows(const char *t, size_t len,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx)
{
	size_t i = 0;
	int r;

#ifdef __SSE2__
	/*
	 * 16 positions at a time: a position is looked at if its byte is ':'
	 * or it and the next byte are upper-case (the second load is the
	 * first shifted by one, so every position has its next byte).
	 */
	const __m128i a1 = _mm_set1_epi8('A' - 1), z1 = _mm_set1_epi8('Z' + 1);
	const __m128i colon = _mm_set1_epi8(':');

	while (i + 17 <= len) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(t + i + 1));
		/* signed compares: bytes >= 0x80 are negative, never 'A'..'Z' */
		__m128i ux = _mm_and_si128(_mm_cmpgt_epi8(x, a1), _mm_cmplt_epi8(x, z1));
		__m128i uy = _mm_and_si128(_mm_cmpgt_epi8(y, a1), _mm_cmplt_epi8(y, z1));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_and_si128(ux, uy), _mm_cmpeq_epi8(x, colon)));

		while (m != 0) {
			if ((r = at(t, len, i + (size_t)__builtin_ctz(m), win, ctx)) < 0)
				return r;
			m &= m - 1;
		}
		i += 16;
	}
#endif
	for (; i < len; i++)
		if ((r = at(t, len, i, win, ctx)) < 0)
			return r;
	return 0;
}
