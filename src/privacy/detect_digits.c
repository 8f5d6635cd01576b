/*
 * detect_digits.c - the digit pass: one linear walk over the text that
 * finds the few places where a digit rule (phones, cards, SSNs, IPv4,
 * national ids: detect__digit_rules and detect__pii_digit_rules) can match,
 * so that Vectorscan runs those ~20 literal-free patterns on short windows
 * instead of over every byte (docs/BENCHMARKS.md "Detector throughput").
 *
 * A cluster is a run of digit groups separated by gaps of at most GAP_MAX
 * characters from " .-/()AB" (the separators the digit rules allow between
 * two digits; 'A'/'B' for the Corsican departments of the French NIR).  A
 * cluster is reported, widened by PAD bytes on each side (a leading '+' or
 * '(', the letters of a Spanish NIE/DNI, the 'X' of a Chinese id), when it
 * holds at least DIGITS_MIN digits, or at least four digits and three dots
 * (an IPv4 address).
 *
 * Invariant (D1): every match of a digit rule that its validator can
 * accept lies inside one reported window.  It holds because each digit
 * rule (a) allows only gaps of at most GAP_MAX of those characters between
 * two digits, (b) reaches at most PAD bytes beyond its first and last
 * digit, and (c) is accepted only with >= DIGITS_MIN digits, except IPv4
 * (4-12 digits, three dots).  A new digit rule must keep (a)-(c) or go to
 * the ordinary tables; tests/unit/test_detect.c checks each rule's
 * examples.
 *
 * Windows are reported in increasing order and do not overlap.
 */
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "detect_int.h"

#define GAP_MAX 3
#define PAD 4
#define DIGITS_MIN 7

static bool
gap_char(char c)
{
	return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' ||
	    c == ')' || c == 'A' || c == 'B';
}

/* Bit 7 of each byte of x that is an ASCII digit, the others 0. */
static inline uint64_t
digits8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
	uint64_t y = x ^ (ones * '0');	/* a digit becomes 0..9 */

	/* (y | 0x80) - 10 has bit 7 clear iff y & 0x7f < 10; no borrows. */
	return ~((y | high) - ones * 10) & ~y & high;
}

int
detect__digit_windows(const char *t, size_t len,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx)
{
	size_t i = 0, s, last, g, nd, dots, k, ws = 0, we = 0;
	bool open = false;
	uint64_t x;
	int r;

	while (i < len) {
		/* Jump to the next digit, 16 or 8 bytes at a time. */
#ifdef __SSE2__
		while (i + 16 <= len) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
			    _mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
			    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1))));

			if (m != 0) {
				i += (size_t)__builtin_ctz(m);
				goto digit; /* t[i] is a digit */
			}
			i += 16;
		}
#endif
		while (i + 8 <= len) {
			memcpy(&x, t + i, 8);
			x = digits8(x);
			if (x != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				i += (size_t)__builtin_ctzll(x) / 8;
#endif
				break; /* else the byte loop below finds it */
			}
			i += 8;
		}
		while (i < len && !dt_digit(t[i]))
			i++;
		if (i == len)
			break;
#ifdef __SSE2__
digit:
#endif
		s = i;
		nd = dots = 0;
		for (;;) {
			while (i < len && dt_digit(t[i])) {
				nd++;
				i++;
			}
			last = i;
			for (g = i; g < len && g - i <= GAP_MAX && gap_char(t[g]); g++)
				;
			if (g == i || g == len || g - i > GAP_MAX || !dt_digit(t[g]))
				break;
			for (k = i; k < g; k++)
				dots += t[k] == '.';
			i = g;
		}
		i = last;
		if (nd < DIGITS_MIN && (nd < 4 || dots < 3))
			continue;
		s = s > PAD ? s - PAD : 0;
		last = len - last > PAD ? last + PAD : len;
		if (open && s <= we) {
			we = last;
			continue;
		}
		if (open && (r = win(ctx, ws, we)) < 0)
			return r;
		ws = s;
		we = last;
		open = true;
	}
	if (open && (r = win(ctx, ws, we)) < 0)
		return r;
	return 0;
}
