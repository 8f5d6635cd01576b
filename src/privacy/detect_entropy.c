/*
 * detect_entropy.c - standalone high-entropy strings: a pasted key or
 * token with no keyword and no known prefix (GENERIC_SECRET).
 *
 * One linear pass over the text finds runs of token characters
 * (A-Z a-z 0-9 + / _ -, then optional '=' padding) of 20..128 bytes.  A run
 * is reported only if it looks random in three independent ways that
 * ordinary identifiers, hashes and ids do not:
 *   - it mixes upper case, lower case and digits (git hashes, UUIDs, hex
 *     ids and SHOUTING_CONSTANTS have no mix; camelCase has no digits or
 *     few switches);
 *   - it switches between those classes on at least 40 % of neighbouring
 *     characters (random base62 switches on ~62 %, camelCase and
 *     words-with-numbers on far fewer);
 *   - its Shannon entropy is close to the maximum for its length.
 * Known encodings of ordinary data (base64 images, archives, SRI hashes)
 * are skipped by their prefix.  Measured on clean code and terminal text in
 * docs/DETECTORS.md.
 *
 * Speed: only runs of RUN_MIN or more bytes matter, so the walk looks at
 * the byte RUN_MIN - 1 ahead first and backwards from there: a non-token
 * byte in the next RUN_MIN bytes means no such run starts before it, and
 * ordinary words are skipped about 15 bytes per few lookups.
 */
#include <string.h>

#include "usetrace/util.h"
#include "detect_int.h"

#define RUN_MIN 20
#define RUN_MAX 128

static bool
tok_char(unsigned char c)
{
	static const unsigned char tab[256] = {
		['+'] = 1, ['/'] = 1, ['_'] = 1, ['-'] = 1,
		['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
		['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
		['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
		['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
		['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
		['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
		['Y'] = 1, ['Z'] = 1,
		['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
		['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
		['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
		['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
		['y'] = 1, ['z'] = 1,
	};

	return tab[c] != 0;
}

static bool
starts_with(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);

	return n >= m && memcmp(s, lit, m) == 0;
}

static bool
looks_random(const char *s, size_t n)
{
	/* Images, archives, PDFs, SRI hashes, publishable keys. */
	static const char *const skip[] = { "iVBORw0KG", "/9j/", "R0lGOD",
		"UklGR", "PHN2Zy", "UEsDB", "JVBERi0", "H4sI", "sha1-", "sha256-",
		"sha384-", "sha512-", "AAAA", "pk_live_", "pk_test_", "pk." };
	size_t i, up = 0, lo = 0, dg = 0;
	double h, need;

	for (i = 0; i < n; i++) {
		up += dt_upper(s[i]);
		lo += dt_lower(s[i]);
		dg += dt_digit(s[i]);
	}
	if (up == 0 || lo == 0 || dg == 0)
		return false;
	for (i = 0; i < UT_ARRAY_LEN(skip); i++)
		if (starts_with(s, n, skip[i]))
			return false;
	if (detect__class_switches(s, n) * 10 < (n - 1) * 4)
		return false;
	/* Near the maximum for n symbols: log2(n) - 0.7, at most 4.2 bits. */
	h = detect__entropy(s, n);
	need = n >= 32 ? 4.2 : n >= 24 ? 3.9 : 3.6;
	return h >= need && !detect__is_placeholder(s, n);
}

int
detect__standalone(const char *t, size_t len,
    int (*add)(void *ctx, size_t s, size_t e), void *ctx)
{
	size_t i = 0, s, e, p, k;
	int r;

	/* Invariant: i == 0, or t[i - 1] or t[i] is not a token byte. */
	while (i + RUN_MIN <= len) {
		for (k = i + RUN_MIN; k > i && tok_char((unsigned char)t[k - 1]); k--)
			;
		if (k > i) {
			i = k; /* t[k - 1] is not a token byte */
			continue;
		}
		/* t[i, i + RUN_MIN) are token bytes and t[i - 1] is not. */
		s = i;
		i += RUN_MIN;
		while (i < len && tok_char((unsigned char)t[i]))
			i++;
		e = i;
		p = e;
		while (p < len && t[p] == '=' && p - e < 2)
			p++;
		/* A name being assigned (NAME=value) or an e-mail local part. */
		if (p < len && (tok_char((unsigned char)t[p]) || t[p] == '=' ||
		    t[p] == '@'))
			continue;
		i = p;
		if (s > 0 && (t[s - 1] == '@' || t[s - 1] == '\\' || t[s - 1] == '%'))
			continue;
		/* data:...;base64, payloads and go.sum "h1:" hashes. */
		if ((s >= 7 && memcmp(t + s - 7, "base64,", 7) == 0) ||
		    (s >= 3 && memcmp(t + s - 3, "h1:", 3) == 0))
			continue;
		if (e - s < RUN_MIN || e - s > RUN_MAX)
			continue;
		while (s < e && (t[s] == '-' || t[s] == '_' || t[s] == '/'))
			s++;
		if (e - s >= RUN_MIN && looks_random(t + s, e - s) &&
		    (r = add(ctx, s, i)) < 0)
			return r;
	}
	return 0;
}
