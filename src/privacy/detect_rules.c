/*
 * detect_rules.c - what each detector looks for, and how a candidate is
 * validated.  The engine that runs these rules is detect.c.
 *
 * Patterns are byte-oriented (no UTF mode): they match ASCII structure and
 * treat other bytes as "not a token character", so invalid UTF-8 is safe.
 * Boundaries are lookarounds, which Vectorscan drops in prefilter mode and
 * PCRE2 then enforces.
 *
 * Validators reject what has the shape of a secret but is not one
 * (docs/DETECTORS.md "What is not a secret"): placeholders, publishable
 * keys, loopback and netmask addresses, numbers failing their checksum.
 * Well-known example values (the AWS documentation key, test card numbers)
 * are NOT exempt: they teach a model the shape of a secret.
 */
#include <arpa/inet.h>
#include <math.h>
#include <string.h>

#include "usetrace/util.h"
#include "detect_int.h"

#define ALNUM "A-Za-z0-9"

/* ------------------------------------------------------------------ */
/* Helpers. */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static char
lower(char c)
{
	return is_upper(c) ? (char)(c - 'A' + 'a') : c;
}

/* s[0, m) equals the lower-case lit[0, m), ignoring case. */
static bool
at_nocase(const char *s, const char *lit, size_t m)
{
	size_t i;

	for (i = 0; i < m; i++)
		if (lower(s[i]) != lit[i])
			return false;
	return true;
}

static bool
has_nocase(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit), i;

	for (i = 0; i + m <= n; i++)
		if (lower(s[i]) == lit[0] && at_nocase(s + i, lit, m))
			return true;
	return false;
}

bool
detect__luhn(const char *d, size_t n)
{
	unsigned sum = 0, v;
	size_t i;
	bool dbl = false;

	for (i = n; i-- > 0;) {
		v = (unsigned)(d[i] - '0');
		if (dbl) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
		dbl = !dbl;
	}
	return n > 0 && sum % 10 == 0;
}

uint32_t
detect__crc32(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= b[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* Shannon entropy in bits per byte. */
double
detect__entropy(const char *s, size_t n)
{
	/* c * log2(c) for small counts (generated; 0 for c < 2). */
	static const double clogc[65] = {
	0, 0, 2, 4.7548875021634682,
	8, 11.60964047443681, 15.509775004326936, 19.651484454403228,
	24, 28.529325012980809, 33.219280948873624, 38.053747805010268,
	43.019550008653873, 48.105716335834195, 53.302968908806456, 58.603358934127783,
	64, 69.486868301255768, 75.058650025961612, 80.710622755428119,
	86.438561897747249, 92.23866587835397, 98.107495610020536, 104.0419249893113,
	110.03910001730775, 116.09640474436812, 122.21143267166839, 128.38196255841365,
	134.6059378176129, 140.88144885869957, 147.20671786825557, 153.58008562199313,
	160, 166.46500593882897, 172.97373660251154, 179.52490559307381,
	186.11730005192322, 192.74977452827116, 199.42124551085624, 206.13068653562769,
	212.8771237954945, 219.65963218934144, 226.47733175670794, 233.3293844521902,
	240.21499122004107, 247.13338933483536, 254.0838499786226, 261.06567602884894,
	268.07820003461552, 275.12078236164518, 282.1928094887362, 289.29369244054624,
	296.42286534333675, 303.57978409184955, 310.76392511682729, 317.97478424385628,
	325.21187563522579, 332.47473080739024, 339.76289771739914, 347.07593991234864,
	354.41343573651113, 361.7749775913361, 369.16017124398627, 376.56863518049477,
	384,
	};
	unsigned cnt[256] = { 0 }, c;
	double sum = 0;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		cnt[(unsigned char)s[i]]++;
	/*
	 * H = log2(n) - sum(c * log2(c)) / n over the distinct bytes, each once
	 * (in order of first use, not all 256): one log2 per call, not one per
	 * distinct byte.
	 */
	for (i = 0; i < n; i++) {
		c = cnt[(unsigned char)s[i]];
		if (c == 0)
			continue;
		cnt[(unsigned char)s[i]] = 0;
		sum += c < UT_ARRAY_LEN(clogc) ? clogc[c] : c * log2((double)c);
	}
	return log2((double)n) - sum / (double)n;
}

size_t
detect__distinct(const char *s, size_t n)
{
	bool seen[256] = { false };
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (!seen[(unsigned char)s[i]]) {
			seen[(unsigned char)s[i]] = true;
			k++;
		}
	}
	return k;
}

/* Switches between lower case, upper case and digits: random strings switch often. */
size_t
detect__class_switches(const char *s, size_t n)
{
	int prev = -1, cur;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		cur = is_lower(s[i]) ? 0 : is_upper(s[i]) ? 1 : is_digit(s[i]) ? 2 : -1;
		if (cur < 0)
			continue;
		if (prev >= 0 && cur != prev)
			k++;
		prev = cur;
	}
	return k;
}

/*
 * Placeholders are not secrets: "xxxx", "****", "${VAR}", "$VAR", "<YOUR_KEY>",
 * "{{ secret }}", "%VAR%", "your_api_key_here", "changeme", "...".
 */
bool
detect__is_placeholder(const char *s, size_t n)
{
#define PW(w) { w, sizeof(w) - 1 }
	static const struct {
		const char *w;
		size_t n;
	} words[] = { PW("true"), PW("false"), PW("null"), PW("none"),
		PW("nil"), PW("undefined"), PW("changeme"), PW("redacted"),
		PW("required"), PW("optional"), PW("string"), PW("secret"),
		PW("password"), PW("example"), PW("placeholder"), PW("hidden"),
		PW("empty"), PW("unset"), PW("default") };
#undef PW
	size_t i, same = 0, masked = 0;

	if (n == 0)
		return true;
	if (s[0] == '$' || s[0] == '<' || s[0] == '{' || s[0] == '%' ||
	    s[0] == '[' || (s[0] == '(' && s[n - 1] == ')'))
		return true;
	for (i = 0; i < UT_ARRAY_LEN(words); i++)
		if (words[i].n == n && at_nocase(s, words[i].w, n))
			return true;
	for (i = 0; i < n; i++) {
		if (lower(s[i]) == 'x' || s[i] == '*' || s[i] == '.' || s[i] == '#' ||
		    s[i] == '0' || s[i] == '-' || s[i] == '_')
			masked++;
		if (i > 0 && s[i] == s[i - 1])
			same++;
	}
	/* Mostly x's, stars or dots, or one character repeated. */
	if (masked * 10 >= n * 8 || same + 1 >= n * 8 / 10 + 1)
		return true;
	/* your, here, xxxx, placeholder, dummy, insert, replace: one pass. */
	for (i = 0; i < n; i++) {
		const char *w;
		size_t wn;

		switch (lower(s[i])) {
		case 'y': w = "your"; wn = 4; break;
		case 'h': w = "here"; wn = 4; break;
		case 'x': w = "xxxx"; wn = 4; break;
		case 'p': w = "placeholder"; wn = 11; break;
		case 'd': w = "dummy"; wn = 5; break;
		case 'i': w = "insert"; wn = 6; break;
		case 'r': w = "replace"; wn = 7; break;
		default: continue;
		}
		if (wn <= n - i && at_nocase(s + i, w, wn))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Validators. */

static bool
v_email(const char *t, size_t len, size_t *s, size_t *e)
{
	/* git@host:org/repo is a remote, not a person. */
	size_t i;

	(void)len;
	if (*e - *s > 4 && memcmp(t + *s, "git@", 4) == 0)
		return false;
	/* ssh user@host, scp, rsync: a login, not an address. */
	for (i = *s; i > 0 && t[i - 1] != '\n' && *s - i < 200; i--) {
		if (i >= 4 && (memcmp(t + i - 4, "ssh ", 4) == 0 ||
		    memcmp(t + i - 4, "scp ", 4) == 0 ||
		    memcmp(t + i - 4, "ftp ", 4) == 0))
			return false;
		if (i >= 6 && memcmp(t + i - 6, "rsync ", 6) == 0)
			return false;
	}
	/* scheme://user:password@host: credentials, not an address. */
	for (i = *s; i > 0 && i + 64 > *s; i--) {
		if (t[i - 1] == ' ' || t[i - 1] == '\n' || t[i - 1] == '"' ||
		    t[i - 1] == '\'')
			break;
		if (i >= 3 && memcmp(t + i - 3, "://", 3) == 0)
			return false;
	}
	return true;
}

static size_t
digits_of(const char *t, size_t s, size_t e, char *out, size_t outsz)
{
	size_t i, k = 0;

	for (i = s; i < e && k < outsz; i++)
		if (is_digit(t[i]))
			out[k++] = t[i];
	return k;
}

static bool
v_phone_intl(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[40];
	size_t n = digits_of(t, *s, *e, d, sizeof(d));

	(void)len;
	if (t[*s] == '0') /* "00" international prefix */
		n = n >= 2 ? n - 2 : 0;
	return n >= 8 && n <= 15 && detect__distinct(d, n) >= 3;
}

static bool
v_phone_nat(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[40];
	size_t n = digits_of(t, *s, *e, d, sizeof(d));

	(void)len;
	return n >= 9 && n <= 12 && detect__distinct(d, n) >= 3;
}

struct card_brand {
	const char *prefix_lo, *prefix_hi;
	unsigned lens; /* bit i set: length i allowed */
};

static bool
card_brand_ok(const char *d, size_t n)
{
	static const struct card_brand b[] = {
		{ "4", "4", 1u << 13 | 1u << 16 | 1u << 19 },		/* Visa */
		{ "51", "55", 1u << 16 },				/* Mastercard */
		{ "2221", "2720", 1u << 16 },				/* Mastercard */
		{ "34", "34", 1u << 15 }, { "37", "37", 1u << 15 },	/* Amex */
		{ "6011", "6011", 1u << 16 | 1u << 19 },		/* Discover */
		{ "644", "649", 1u << 16 | 1u << 19 },
		{ "65", "65", 1u << 16 | 1u << 19 },
		{ "3528", "3589", 1u << 16 | 1u << 19 },		/* JCB */
		{ "300", "305", 1u << 14 }, { "36", "36", 1u << 14 },	/* Diners */
		{ "38", "39", 1u << 14 | 1u << 16 },
		{ "62", "62", 1u << 16 | 1u << 17 | 1u << 18 | 1u << 19 }, /* UnionPay */
		{ "50", "50", 0xfffu << 12 }, { "56", "58", 0xfffu << 12 }, /* Maestro */
		{ "6304", "6304", 0xfffu << 12 }, { "67", "67", 0xfffu << 12 },
	};
	size_t i, pl;

	for (i = 0; i < UT_ARRAY_LEN(b); i++) {
		pl = strlen(b[i].prefix_lo);
		if (n < pl || !(b[i].lens & (1u << n)))
			continue;
		if (memcmp(d, b[i].prefix_lo, pl) >= 0 &&
		    memcmp(d, b[i].prefix_hi, pl) <= 0)
			return true;
	}
	return false;
}

/* Group lengths of a separated card number must follow a printed layout. */
static bool
card_groups_ok(const size_t *g, size_t ng)
{
	static const size_t lay[][6] = {
		{ 4, 4, 4, 4, 0 }, { 4, 4, 4, 4, 3, 0 }, { 4, 6, 5, 0 },
		{ 4, 6, 4, 0 }, { 4, 4, 4, 1, 0 }, { 4, 4, 4, 4, 2, 0 },
	};
	size_t i, k;

	if (ng == 1)
		return true;
	for (i = 0; i < UT_ARRAY_LEN(lay); i++) {
		for (k = 0; k < ng && lay[i][k] == g[k]; k++)
			;
		if (k == ng && lay[i][k] == 0)
			return true;
	}
	return false;
}

/*
 * A card number: digits with one kind of separator in a printed layout,
 * a known brand prefix and length, and a valid Luhn check digit.  The
 * regex is greedy, so trailing groups ("4111 1111 1111 1111 12/26") are
 * dropped until a valid number remains.
 */
static bool
v_card(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[32];
	size_t g[24], ng, n, i, end = *e;
	char sep;

	(void)len;
	while (end > *s) {
		n = 0;
		ng = 0;
		sep = 0;
		g[0] = 0;
		for (i = *s; i < end; i++) {
			if (is_digit(t[i])) {
				if (n >= sizeof(d) || ng >= UT_ARRAY_LEN(g))
					return false;
				d[n++] = t[i];
				g[ng]++;
				continue;
			}
			if (sep != 0 && t[i] != sep)
				break;
			sep = t[i];
			if (++ng >= UT_ARRAY_LEN(g))
				return false;
			g[ng] = 0;
		}
		if (i == end) {
			ng++;
			if (n >= 13 && n <= 19 && card_groups_ok(g, ng) &&
			    card_brand_ok(d, n) && detect__luhn(d, n)) {
				*e = end;
				return true;
			}
		}
		/* Drop the last group (and its separator). */
		while (end > *s && is_digit(t[end - 1]))
			end--;
		while (end > *s && !is_digit(t[end - 1]))
			end--;
	}
	return false;
}

bool
detect__v_ssn(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[12];
	size_t n = digits_of(t, *s, *e, d, sizeof(d));

	(void)len;
	if (n != 9)
		return false;
	if (memcmp(d, "000", 3) == 0 || memcmp(d, "666", 3) == 0 || d[0] == '9')
		return false;
	if (memcmp(d + 3, "00", 2) == 0 || memcmp(d + 5, "0000", 4) == 0)
		return false;
	return true;
}

/* IBAN lengths by country (SWIFT IBAN registry, release 2024/2025: 89 countries). */
static int
iban_len(const char *cc)
{
	static const struct {
		char cc[3];
		int len;
	} tab[] = {
		{ "AD", 24 }, { "AE", 23 }, { "AL", 28 }, { "AT", 20 }, { "AZ", 28 },
		{ "BA", 20 }, { "BE", 16 }, { "BG", 22 }, { "BH", 22 }, { "BI", 27 },
		{ "BR", 29 }, { "BY", 28 }, { "CH", 21 }, { "CR", 22 }, { "CY", 28 },
		{ "CZ", 24 }, { "DE", 22 }, { "DJ", 27 }, { "DK", 18 }, { "DO", 28 },
		{ "EE", 20 }, { "EG", 29 }, { "ES", 24 }, { "FI", 18 }, { "FK", 18 },
		{ "FO", 18 }, { "FR", 27 }, { "GB", 22 }, { "GE", 22 }, { "GI", 23 },
		{ "GL", 18 }, { "GR", 27 }, { "GT", 28 }, { "HN", 28 }, { "HR", 21 },
		{ "HU", 28 }, { "IE", 22 }, { "IL", 23 }, { "IQ", 23 }, { "IS", 26 },
		{ "IT", 27 }, { "JO", 30 }, { "KW", 30 }, { "KZ", 20 }, { "LB", 28 },
		{ "LC", 32 }, { "LI", 21 }, { "LT", 20 }, { "LU", 20 }, { "LV", 21 },
		{ "LY", 25 }, { "MC", 27 }, { "MD", 24 }, { "ME", 22 }, { "MK", 19 },
		{ "MN", 20 }, { "MR", 27 }, { "MT", 31 }, { "MU", 30 }, { "NI", 28 },
		{ "NL", 18 }, { "NO", 15 }, { "OM", 23 }, { "PK", 24 }, { "PL", 28 },
		{ "PS", 29 }, { "PT", 25 }, { "QA", 29 }, { "RO", 24 }, { "RS", 22 },
		{ "RU", 33 }, { "SA", 24 }, { "SC", 31 }, { "SD", 18 }, { "SE", 24 },
		{ "SI", 19 }, { "SK", 24 }, { "SM", 27 }, { "SO", 23 }, { "ST", 25 },
		{ "SV", 28 }, { "TL", 23 }, { "TN", 24 }, { "TR", 26 }, { "UA", 29 },
		{ "VA", 22 }, { "VG", 24 }, { "XK", 20 }, { "YE", 30 },
	};
	size_t i;

	for (i = 0; i < UT_ARRAY_LEN(tab); i++)
		if (tab[i].cc[0] == cc[0] && tab[i].cc[1] == cc[1])
			return tab[i].len;
	return -1;
}

/* s[0..n) without spaces: known country, its length, mod-97 == 1. */
bool
detect__iban_ok(const char *s, size_t n)
{
	unsigned rem = 0;
	size_t i;
	char c;

	if (n < 15 || n > 34 || iban_len(s) != (int)n)
		return false;
	for (i = 0; i < n; i++) {
		c = s[(i + 4) % n];
		if (is_digit(c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else if (is_upper(c))
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

static bool
v_iban(const char *t, size_t len, size_t *s, size_t *e)
{
	char b[40];
	size_t n, i, end = *e;

	(void)len;
	/* Try the longest form first, then drop trailing groups. */
	while (end > *s + 15) {
		n = 0;
		for (i = *s; i < end && n < sizeof(b); i++)
			if (t[i] != ' ')
				b[n++] = t[i];
		if (i == end && detect__iban_ok(b, n)) {
			*e = end;
			return true;
		}
		while (end > *s && t[end - 1] != ' ')
			end--;
		while (end > *s && t[end - 1] == ' ')
			end--;
	}
	return false;
}

static bool
v_ipv4(const char *t, size_t len, size_t *s, size_t *e)
{
	unsigned o[4] = { 0 }, k = 0;
	uint32_t a;
	size_t i;

	(void)len;
	for (i = *s; i < *e; i++) {
		if (t[i] == '.')
			k++;
		else if (k < 4)
			o[k] = o[k] * 10 + (unsigned)(t[i] - '0');
	}
	if (k != 3)
		return false;
	if (o[0] == 0 || o[0] == 127 || o[0] == 255) /* this-host, loopback, netmask */
		return false;
	if (o[2] == 0 && o[3] == 0) /* a network, not a host */
		return false;
	a = (uint32_t)o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3];
	if (((~a + 1) & ~a) == 0) /* contiguous ones: a netmask */
		return false;
	return true;
}

static bool
v_ipv6(const char *t, size_t len, size_t *s, size_t *e)
{
	struct in6_addr a;
	char b[48];
	size_t n;

	(void)len;
	/* A single trailing colon is punctuation ("fe80::1: up"). */
	if (*e - *s >= 2 && t[*e - 1] == ':' && t[*e - 2] != ':')
		(*e)--;
	n = *e - *s;
	if (n < 3 || n >= sizeof(b))
		return false;
	memcpy(b, t + *s, n);
	b[n] = '\0';
	if (inet_pton(AF_INET6, b, &a) != 1)
		return false;
	if (IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a))
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&a) && (a.s6_addr[12] == 127 || a.s6_addr[12] == 0))
		return false;
	return true;
}

static bool
v_random(const char *t, size_t s, size_t e, double min_h)
{
	return !detect__is_placeholder(t + s, e - s) &&
	    detect__entropy(t + s, e - s) >= min_h;
}

bool
detect__v_token(const char *t, size_t len, size_t *s, size_t *e)
{
	(void)len;
	return v_random(t, *s, *e, 3.0);
}

static bool
v_aws_id(const char *t, size_t len, size_t *s, size_t *e)
{
	(void)len;
	return v_random(t, *s + 4, *e, 2.5);
}

static bool
v_aws_secret(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t i, hex = 0, up = 0, lo = 0, dg = 0;

	(void)len;
	for (i = *s; i < *e; i++) {
		if (is_digit(t[i]) || (t[i] >= 'a' && t[i] <= 'f'))
			hex++;
		up += is_upper(t[i]);
		lo += is_lower(t[i]);
		dg += is_digit(t[i]);
	}
	if (hex == *e - *s) /* a SHA-1, not a key */
		return false;
	return up > 0 && lo > 0 && dg > 0 && v_random(t, *s, *e, 3.5);
}

static int
b62(char c)
{
	if (is_digit(c))
		return c - '0';
	if (is_upper(c))
		return c - 'A' + 10;
	if (is_lower(c))
		return c - 'a' + 36;
	return -1;
}

/*
 * GitHub tokens since 2021: prefix "gh?_", 30 random base62 characters,
 * then the CRC32 of those 30 characters in 6 base62 digits.  A valid
 * checksum is accepted whatever it looks like; a failing one only if the
 * body still looks random (an edited or older token is still a secret).
 */
static bool
v_github(const char *t, size_t len, size_t *s, size_t *e)
{
	uint64_t v = 0;
	size_t i;

	(void)len;
	if (*e - *s == 40 && t[*s + 3] == '_') {
		for (i = *e - 6; i < *e; i++)
			v = v * 62 + (uint64_t)b62(t[i]);
		if (v == detect__crc32(t + *s + 4, 30))
			return true;
		return v_random(t, *s + 4, *e, 3.5);
	}
	return v_random(t, *s + 11, *e, 3.5);
}

static int
b64url(char c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* The header of a JWT decodes to a JSON object naming "alg" or "typ". */
static bool
v_jwt(const char *t, size_t len, size_t *s, size_t *e)
{
	char out[96];
	size_t i, n = 0;
	uint32_t acc = 0;
	int bits = 0, v;

	(void)len;
	for (i = *s; i < *e && t[i] != '.' && n < sizeof(out); i++) {
		if ((v = b64url(t[i])) < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	return n >= 8 && out[0] == '{' &&
	    (has_nocase(out, n, "\"alg\"") || has_nocase(out, n, "\"typ\""));
}

/*
 * A value next to a secret keyword: long enough, not a placeholder, and
 * random-looking (entropy, and switches between letter cases and digits
 * that identifiers and words do not have).  A trailing full stop is
 * sentence punctuation.
 */
bool
detect__v_generic(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t n;

	(void)len;
	while (*e > *s && (t[*e - 1] == '.' || t[*e - 1] == ','))
		(*e)--;
	n = *e - *s;
	if (n < 16 || detect__is_placeholder(t + *s, n))
		return false;
	/* Publishable keys are meant to be public. */
	if (memcmp(t + *s, "pk_live_", 8) == 0 || memcmp(t + *s, "pk_test_", 8) == 0)
		return false;
	return detect__entropy(t + *s, n) >= 3.3 && detect__class_switches(t + *s, n) >= 4;
}

/* ------------------------------------------------------------------ */
/* The rules. */

#define LB "(?<![" ALNUM "_])"
#define LA "(?![" ALNUM "_])"
#define B64 "A-Za-z0-9_\\-"

const struct detect_rule detect__rules[] = {
	{ DETECT_EMAIL,
	    "(?<![" ALNUM "._%+_\\-])[" ALNUM "][" ALNUM "._%+_\\-]{0,63}@"
	    "(?:[" ALNUM "](?:[" ALNUM "\\-]{0,61}[" ALNUM "])?\\.){1,8}"
	    "[A-Za-z]{2,24}(?![" ALNUM "\\-])",
	    "[" ALNUM "._%+_\\-]@[" ALNUM "]", 66, 600, v_email },
	{ DETECT_IBAN,
	    LB "[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?" LA,
	    "[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4} ?[A-Z0-9]{4}", 16, 32, v_iban },
	{ DETECT_IP_ADDRESS,
	    "(?<![" ALNUM "_:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}(?:(?<=:)(?:[0-9]{1,3}\\.){3}[0-9]{1,3})?"
	    "(?![" ALNUM "_]|[.][0-9])",
	    "[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:", 40, 56, v_ipv6 },
	{ DETECT_AWS_ACCESS_KEY,
	    "(?<![" ALNUM "])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)"
	    "[A-Z0-9]{16}(?![" ALNUM "])",
	    "(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}",
	    20, 1, v_aws_id },
	/* A 40-character key after an AWS secret keyword ... */
	{ DETECT_AWS_SECRET_KEY,
	    "(?i:aws.{0,24}?secret|secret.?access.?key|secret.?key)[^\\n]{0,40}?"
	    "(?<![A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
	    "(?i:aws.{0,24}secret|secret.?access.?key|secret.?key)", 40, 90,
	    v_aws_secret },
	/* ... or shortly after an access key id. */
	{ DETECT_AWS_SECRET_KEY,
	    "(?:AKIA|ASIA)[A-Z0-9]{16}[^\\n]{1,80}?(?<![A-Za-z0-9/+])"
	    "([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
	    "(?:AKIA|ASIA)[A-Z0-9]{16}", 20, 130, v_aws_secret },
	{ DETECT_GITHUB_TOKEN,
	    LB "gh[pousr]_[" ALNUM "]{36}" LA, "gh[pousr]_[" ALNUM "]{36}", 40, 1,
	    v_github },
	{ DETECT_GITHUB_TOKEN,
	    LB "github_pat_[" ALNUM "]{22}_[" ALNUM "]{59}" LA,
	    "github_pat_[" ALNUM "]{22}_[" ALNUM "]{59}", 93, 1, v_github },
	{ DETECT_SLACK_TOKEN,
	    "(?<![" B64 "])xox[baprseo]-(?:[" ALNUM "]{2,32}-){1,4}[" ALNUM "]{8,48}(?![" B64 "])",
	    "xox[baprseo]-[" ALNUM "]{2}", 8, 260, detect__v_token },
	{ DETECT_SLACK_TOKEN,
	    "(?<![" B64 "])xapp-[0-9]-[A-Z0-9]{6,16}-[0-9]{6,16}-[a-f0-9]{32,64}(?![" B64 "])",
	    "xapp-[0-9]-", 8, 120, detect__v_token },
	{ DETECT_SLACK_TOKEN,
	    "https://hooks\\.slack\\.com/(?:services|workflows)/T[A-Z0-9]{6,12}/"
	    "B[A-Z0-9]{6,12}/[" ALNUM "]{20,32}" LA,
	    "hooks\\.slack\\.com/", 27, 120, detect__v_token },
	{ DETECT_STRIPE_KEY,
	    LB "(?:sk|rk)_(?:live|test)_[" ALNUM "]{16,128}" LA,
	    "(?:sk|rk)_(?:live|test)_[" ALNUM "]{16}", 26, 120, detect__v_token },
	{ DETECT_STRIPE_KEY,
	    LB "whsec_[" ALNUM "]{32,64}" LA, "whsec_[" ALNUM "]{32}", 38, 40, detect__v_token },
	{ DETECT_API_KEY,
	    "(?<![" B64 "])AIza[" B64 "]{35}(?![" B64 "])", "AIza[" B64 "]{35}", 40, 1,
	    detect__v_token },
	{ DETECT_API_KEY,
	    "(?<![" B64 "])GOCSPX-[" B64 "]{28}(?![" B64 "])", "GOCSPX-[" B64 "]{28}",
	    36, 1, detect__v_token },
	{ DETECT_JWT,
	    "(?<![" B64 "])eyJ[" B64 "]{8,}\\.eyJ[" B64 "]{8,}\\.[" B64 "]{16,}(?![" B64 "])",
	    "eyJ[" B64 "]{8}[" B64 "]*\\.eyJ", 8192, 8192, v_jwt },
	{ DETECT_PRIVATE_KEY,
	    "-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----"
	    "(?:[\\s\\S]*?-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----"
	    "|[A-Za-z0-9+/=\\s:,\\-]*)",
	    "-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY", 64, 65536, NULL },
	/*
	 * Generic: a secret keyword, an assignment, a random-looking value.
	 * The span is the value only.
	 */
	{ DETECT_GENERIC_SECRET,
	    "(?i)(?:api[_.\\-]?key|apikey|secret|token|access[_.\\-]?key|auth[_.\\-]?key|"
	    "credentials?|key|authorization|session(?:[_.\\-]?id)?|sessid|csrftoken|"
	    "client[_.\\-]?secret|signature)(?:[_.\\-]?[a-z0-9]{1,20})?[\"']?"
	    "(?:[ \\t]{0,4}(?::=|=>|=|:)[ \\t]{0,4}|[ \\t]{1,4}(?:is[ \\t]{1,4})?)[\"'`]?"
	    "([A-Za-z0-9_\\-+/=.~]{16,256})(?![A-Za-z0-9_\\-+/=.~])",
	    "(?i)(?:key|secret|token|credential|authorization|session|sessid|csrftoken|signature)", 24, 300, detect__v_generic },
	{ DETECT_GENERIC_SECRET,
	    "(?i)(?<![A-Za-z])bearer[ \\t]{1,4}([A-Za-z0-9_\\-+/=.~]{16,512})"
	    "(?![A-Za-z0-9_\\-+/=.~])",
	    "(?i)bearer[ \\t]", 8, 520, detect__v_generic },
};

const size_t detect__nrules = UT_ARRAY_LEN(detect__rules);

/*
 * Rules whose every match is a run of digits (with separators): Vectorscan
 * runs them only on the windows the digit pass (detect_digits.c) finds, not
 * over the whole text.
 */
const struct detect_rule detect__digit_rules[] = {
	/* +CC or 00CC, then groups: +44 20 7946 0958, +1-415-555-2671. */
	{ DETECT_PHONE,
	    "(?<![" ALNUM "_+])(?<![0-9][ .\\-])(?:\\+|00)[1-9][0-9]{0,3}"
	    "(?:[ .\\-]?(?:\\([0-9]{1,4}\\)|[0-9]{1,5})){1,6}"
	    "(?![" ALNUM "_]|[.\\-][0-9])",
	    NULL, 48, 48, v_phone_intl },
	/* North American: (415) 555-2671, 415-555-2671, 415.555.2671. */
	{ DETECT_PHONE,
	    "(?<![" ALNUM "_+.\\-/])(?<![0-9] )(?:\\([2-9][0-9]{2}\\)[ .\\-]?|"
	    "[2-9][0-9]{2}[ .\\-])[2-9][0-9]{2}[ .\\-][0-9]{4}"
	    "(?![" ALNUM "_]|[.\\-/ ][0-9])",
	    NULL, 24, 24, v_phone_nat },
	/* National with trunk 0: 020 7946 0958, 030 12345678, 01 23 45 67 89. */
	{ DETECT_PHONE,
	    "(?<![" ALNUM "_+.\\-/])(?<![0-9] )(?:0[1-9][0-9]{1,3}[ \\-/]?[0-9]{3,4}"
	    "[ \\-]?[0-9]{3,4}|0[1-9](?:[ .][0-9]{2}){4})"
	    "(?![" ALNUM "_]|[.\\-/ ][0-9])",
	    NULL, 24, 24, v_phone_nat },
	{ DETECT_CREDIT_CARD,
	    "(?<![" ALNUM "_.\\-])[0-9](?:[ \\-]?[0-9]){12,22}(?![" ALNUM "_]|[.\\-][0-9])",
	    "[0-9](?:[ \\-]?[0-9]){12}", 48, 48, v_card },
	{ DETECT_SSN,
	    "(?<![" ALNUM "_.\\-/])(?<![0-9] )[0-9]{3}(?:-[0-9]{2}-| [0-9]{2} )[0-9]{4}"
	    "(?![" ALNUM "_]|[.\\-/ ][0-9])",
	    "[0-9]{3}[\\- ][0-9]{2}[\\- ][0-9]{4}", 11, 11, detect__v_ssn },
	{ DETECT_IP_ADDRESS,
	    "(?<![" ALNUM "_.:])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}"
	    "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?![" ALNUM "_]|\\.[0-9])",
	    "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]", 16, 3, v_ipv4 },
};

const size_t detect__ndigit_rules = UT_ARRAY_LEN(detect__digit_rules);

int
detect__priority(enum detect_type t)
{
	switch (t) {
	case DETECT_PRIVATE_KEY:
		return 100;
	case DETECT_JWT:
		return 90;
	case DETECT_AWS_ACCESS_KEY:
	case DETECT_GITHUB_TOKEN:
	case DETECT_SLACK_TOKEN:
	case DETECT_STRIPE_KEY:
	case DETECT_API_KEY:
		return 85;
	case DETECT_AWS_SECRET_KEY:
		return 80;
	case DETECT_CREDIT_CARD:
	case DETECT_IBAN:
		return 70;
	case DETECT_SSN:
	case DETECT_NATIONAL_ID:
		return 65;
	case DETECT_EMAIL:
		return 60;
	case DETECT_PHONE:
	case DETECT_IP_ADDRESS:
		return 50;
	case DETECT_PASSWORD:
		return 40;
	case DETECT_GENERIC_SECRET:
	case DETECT_TYPE_COUNT:
		break;
	}
	return 30;
}
