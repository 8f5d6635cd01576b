/*
 * detect_pii.c - international personal data: national phone layouts,
 * phone numbers and SSNs introduced by a keyword, and national identity
 * numbers whose check digits make them safe to detect (NATIONAL_ID).
 *
 * Phones.  International numbers (+CC / 00CC), North American and trunk-0
 * numbers are in detect_rules.c.  Here: the printed layouts of national
 * numbers of the most populous countries that have no trunk 0 or are
 * distinctive enough on their own (India 5-5, Brazil/Argentina (AA)
 * NNNN-NNNN, Mexico 2-4-4, Spain 3-2-2-2, China 1xx xxxx xxxx, Russia 8 9xx,
 * Italy 3xx), and any number of 7-15 digits right after a phone keyword
 * (phone, tel, mobile, WhatsApp, ... in several languages).  The layout
 * table was written from the national numbering plans (ITU-T E.164
 * national annexes, as summarised in libphonenumber's metadata).
 *
 * National ids (check digit in brackets): Brazil CPF (mod 11), India
 * Aadhaar (Verhoeff), China resident id (ISO 7064 mod 11-2, birth date),
 * Spain DNI/NIE (mod 23 letter), Italy codice fiscale (check letter),
 * France NIR (mod 97 key), South Korea RRN (weighted mod 11), Germany
 * Steuer-ID (ISO 7064 mod 11,10; keyword required), UK National Insurance
 * number (no check digit: the prefix letters are restricted and the format
 * is distinctive).
 */
#include <string.h>

#include "usetrace/util.h"
#include "detect_int.h"

#define NB "(?<![A-Za-z0-9_+.\\-/])(?<![0-9] )"
#define NA "(?![A-Za-z0-9_]|[.\\-/ ][0-9])"
/*
 * Each layout's Vectorscan anchor is its own shape without the boundary
 * lookarounds (a shared "NN-NN" anchor fired on every date and made a
 * dozen PCRE2 calls per hit).
 */

static size_t
digits(const char *t, size_t s, size_t e, char *out, size_t outsz)
{
	size_t i, k = 0;

	for (i = s; i < e; i++) {
		if (!dt_digit(t[i]))
			continue;
		if (k == outsz)
			return outsz + 1;
		out[k++] = t[i];
	}
	return k;
}

static bool
v_phone(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[24];
	size_t n = digits(t, *s, *e, d, sizeof(d));

	(void)len;
	return n >= 9 && n <= 13 && detect__distinct(d, n) >= 4;
}

/* After a phone keyword: 7-15 digits, not a date or a time. */
static bool
v_phone_kw(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[24];
	size_t n;

	while (*e > *s && (t[*e - 1] == ' ' || t[*e - 1] == '-' || t[*e - 1] == '.' ||
	    t[*e - 1] == '('))
		(*e)--;
	if (*e < len && t[*e] == ')' && memchr(t + *s, '(', *e - *s) != NULL)
		(*e)++;
	n = digits(t, *s, *e, d, sizeof(d));
	/* 2024-03-14: a date */
	if (*e - *s == 10 && (t[*s + 4] == '-' || t[*s + 4] == '.' || t[*s + 4] == '/') &&
	    t[*s + 7] == t[*s + 4])
		return false;
	return n >= 7 && n <= 15 && detect__distinct(d, n) >= 4;
}

static bool
v_ssn_kw(const char *t, size_t len, size_t *s, size_t *e)
{
	return detect__v_ssn(t, len, s, e);
}

/* ---------------------------------------------------------------- ids */

static bool
v_cpf(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[12];
	unsigned sum, r, i, k;

	(void)len;
	if (digits(t, *s, *e, d, sizeof(d)) != 11 || detect__distinct(d, 11) < 2)
		return false;
	for (k = 9; k <= 10; k++) {
		sum = 0;
		for (i = 0; i < k; i++)
			sum += (unsigned)(d[i] - '0') * (k + 1 - i);
		r = sum * 10 % 11 % 10;
		if (r != (unsigned)(d[k] - '0'))
			return false;
	}
	return true;
}

static bool
v_aadhaar(const char *t, size_t len, size_t *s, size_t *e)
{
	static const unsigned char dm[10][10] = {
		{0,1,2,3,4,5,6,7,8,9}, {1,2,3,4,0,6,7,8,9,5}, {2,3,4,0,1,7,8,9,5,6},
		{3,4,0,1,2,8,9,5,6,7}, {4,0,1,2,3,9,5,6,7,8}, {5,9,8,7,6,0,4,3,2,1},
		{6,5,9,8,7,1,0,4,3,2}, {7,6,5,9,8,2,1,0,4,3}, {8,7,6,5,9,3,2,1,0,4},
		{9,8,7,6,5,4,3,2,1,0} };
	static const unsigned char pm[8][10] = {
		{0,1,2,3,4,5,6,7,8,9}, {1,5,7,6,2,8,3,0,9,4}, {5,8,0,3,7,9,6,1,4,2},
		{8,9,1,6,0,4,3,5,2,7}, {9,4,5,3,1,2,6,8,7,0}, {4,2,8,6,5,7,3,9,0,1},
		{2,7,9,3,8,0,6,4,1,5}, {7,0,4,6,9,1,3,2,5,8} };
	char d[13];
	unsigned c = 0;
	size_t i;

	(void)len;
	if (digits(t, *s, *e, d, sizeof(d)) != 12 || detect__distinct(d, 12) < 4)
		return false;
	for (i = 0; i < 12; i++)
		c = dm[c][pm[i % 8][d[11 - i] - '0']];
	return c == 0;
}

static bool
v_china_id(const char *t, size_t len, size_t *s, size_t *e)
{
	static const unsigned w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	static const char chk[] = "10X98765432";
	unsigned sum = 0;
	size_t i;

	(void)len;
	if (*e - *s != 18)
		return false;
	for (i = 0; i < 17; i++)
		sum += (unsigned)(t[*s + i] - '0') * w[i];
	return (t[*e - 1] == 'x' ? 'X' : t[*e - 1]) == chk[sum % 11];
}

static bool
v_dni(const char *t, size_t len, size_t *s, size_t *e)
{
	static const char L[] = "TRWAGMYFPDXBNJZSQVHLCKE";
	unsigned v = 0;
	size_t i = *s;

	(void)len;
	if (t[i] == 'X' || t[i] == 'Y' || t[i] == 'Z')
		v = (unsigned)(t[i++] == 'X' ? 0 : t[i - 1] == 'Y' ? 1 : 2);
	for (; i < *e; i++)
		if (dt_digit(t[i]))
			v = v * 10 + (unsigned)(t[i] - '0');
	return L[v % 23] == t[*e - 1];
}

static bool
v_codice_fiscale(const char *t, size_t len, size_t *s, size_t *e)
{
	static const unsigned odd[36] = { 1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
		12, 14, 16, 10, 22, 25, 24, 23 };
	unsigned sum = 0, v;
	size_t i;
	char c;

	(void)len;
	if (*e - *s != 16)
		return false;
	for (i = 0; i < 15; i++) {
		c = t[*s + i];
		v = dt_digit(c) ? (unsigned)(c - '0') : (unsigned)(c - 'A');
		if (i % 2 == 0)
			sum += odd[dt_digit(c) ? v : v + 10];
		else
			sum += v;
	}
	return t[*e - 1] == (char)('A' + sum % 26);
}

static bool
v_nir(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[16];
	unsigned long long v = 0;
	size_t i, k = 0;

	(void)len;
	for (i = *s; i < *e && k < sizeof(d); i++) {
		if (t[i] == ' ')
			continue;
		d[k++] = t[i];
	}
	if (k != 15)
		return false;
	/* Corsica: department 2A counts as 19, 2B as 18. */
	if (d[6] == 'A' || d[6] == 'B') {
		d[5] = '1';
		d[6] = d[6] == 'A' ? '9' : '8';
	}
	for (i = 0; i < 15; i++)
		if (!dt_digit(d[i]))
			return false;
	for (i = 0; i < 13; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return 97 - v % 97 == (unsigned)((d[13] - '0') * 10 + (d[14] - '0'));
}

static bool
v_rrn(const char *t, size_t len, size_t *s, size_t *e)
{
	static const unsigned w[12] = { 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5 };
	char d[14];
	unsigned sum = 0;
	size_t i;

	(void)len;
	if (digits(t, *s, *e, d, sizeof(d)) != 13)
		return false;
	for (i = 0; i < 12; i++)
		sum += (unsigned)(d[i] - '0') * w[i];
	return (11 - sum % 11) % 10 == (unsigned)(d[12] - '0');
}

static bool
v_steuer_id(const char *t, size_t len, size_t *s, size_t *e)
{
	char d[12];
	unsigned p = 10, sum;
	size_t i;

	(void)len;
	if (digits(t, *s, *e, d, sizeof(d)) != 11 || d[0] == '0')
		return false;
	for (i = 0; i < 10; i++) {
		sum = ((unsigned)(d[i] - '0') + p) % 10;
		if (sum == 0)
			sum = 10;
		p = sum * 2 % 11;
	}
	return (11 - p) % 10 == (unsigned)(d[10] - '0');
}

static bool
v_any(const char *t, size_t len, size_t *s, size_t *e)
{
	(void)t;
	(void)len;
	return *e > *s;
}

#define PHONE_KW                                                             \
	"(?:phone|tel|telephone|mobile|mob|cell|cel|handy|whatsapp|"    \
	"call me(?: on| at)?|text me(?: on| at)?|ring me(?: on| at)?|"          \
	"reach me(?: on| at)?|my number|phone number|mobile number|"           \
	"contact number|telefon[eo]?|t\xc3\xa9l\xc3\xa9phone|t\xc3\xa9l|"      \
	"m\xc3\xb3vil|movil|celular|nomor|n\xc3\xbamero|numero|ligue(?: pra mim)?|" \
	"\xd1\x82\xd0\xb5\xd0\xbb\xd0\xb5\xd1\x84\xd0\xbe\xd0\xbd|"           \
	"\xe9\x9b\xbb\xe8\xa9\xb1|\xe6\x90\xba\xe5\xb8\xaf|"                   \
	"\xe6\x89\x8b\xe6\x9c\xba|\xe7\x94\xb5\xe8\xaf\x9d|"                   \
	"\xec\x97\xb0\xeb\x9d\xbd\xec\xb2\x98|\xec\xa0\x84\xed\x99\x94)"

const struct detect_rule detect__pii_rules[] = {
	/* a number right after a phone keyword */
	{ DETECT_PHONE,
	    "(?i)(?<![A-Za-z])" PHONE_KW "[^\\n0-9+(]{0,16}?((?:\\+|00)?\\(?[0-9][0-9 .\\-()]{5,20}[0-9])"
	    "(?![0-9A-Za-z])",
	    "(?i)" PHONE_KW, 20, 60, v_phone_kw },
	/* SSN after a keyword: 123456789 */
	{ DETECT_SSN,
	    "(?i)(?<![A-Za-z])(?:ssn|ss#|ss no\\.?|social security(?: number| no\\.?| #)?|"
	    "social|soc\\.? ?sec\\.?)[^\\n0-9]{0,12}?([0-9]{3}[\\- .]?[0-9]{2}[\\- .]?[0-9]{4})(?![0-9])",
	    "(?i)(?:ssn|ss#|ss no|social|soc\\.? ?sec)", 30, 30, v_ssn_kw },
	/* Brazil CPF after its keyword */
	{ DETECT_NATIONAL_ID, "(?i)(?<![A-Za-z])cpf[^\\n0-9]{0,6}([0-9]{11})(?![0-9])", "(?i)cpf",
	    3, 20, v_cpf },
	/* Italy codice fiscale */
	{ DETECT_NATIONAL_ID,
	    "(?<![A-Za-z0-9])[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
	    "[0-9LMNPQRSTUV]{3}[A-Z](?![A-Za-z0-9])",
	    "[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST]", 9, 8, v_codice_fiscale },
	/* Germany Steuer-ID, after its keyword */
	{ DETECT_NATIONAL_ID,
	    "(?i)(?<![A-Za-z])(?:steuer-?id|steuer-?identifikationsnummer|identifikationsnummer|idnr|"
	    "steuerliche id(?:entifikationsnummer)?)[^\\n0-9]{0,12}?([0-9]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3})"
	    "(?![0-9])",
	    "(?i)(?:steuer|identifikationsnummer|idnr)", 40, 60, v_steuer_id },
	/* UK National Insurance number */
	{ DETECT_NATIONAL_ID,
	    "(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?"
	    "[0-9]{2} ?[0-9]{2} ?[A-D](?![A-Za-z0-9])",
	    "[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]", 13, 1, v_any },
};

const size_t detect__npii_rules = UT_ARRAY_LEN(detect__pii_rules);

/* Digit runs: only on the digit pass's windows (detect_digits.c). */
const struct detect_rule detect__pii_digit_rules[] = {
	/* India 98765 43210 */
	{ DETECT_PHONE, NB "[6-9][0-9]{4}[ \\-][0-9]{5}" NA, "[6-9][0-9]{4}[ \\-][0-9]{5}", 12, 1, v_phone },
	/* Brazil/Argentina (11) 98765-4321, (011) 4123-4567 */
	{ DETECT_PHONE, NB "\\(0?[1-9][0-9]\\)[ ]?(?:9[ .\\-]?)?[0-9]{4}[ .\\-][0-9]{4}" NA,
	    "[0-9]\\)[ ]?[0-9]", 6, 16, v_phone },
	/* Mexico 55 1234 5678 */
	{ DETECT_PHONE, NB "[1-9][0-9][ \\-][0-9]{4}[ \\-][0-9]{4}" NA, "[0-9][ \\-][0-9]{4}[ \\-][0-9]{4}", 13, 1, v_phone },
	/* Spain 612 34 56 78 */
	{ DETECT_PHONE, NB "[6-9][0-9]{2}(?: [0-9]{2}){3}" NA, "[0-9]{3} [0-9]{2} [0-9]{2} [0-9]{2}", 13, 1, v_phone },
	/* China 138 0013 8000 */
	{ DETECT_PHONE, NB "1[3-9][0-9][ \\-][0-9]{4}[ \\-][0-9]{4}" NA, "[0-9][ \\-][0-9]{4}[ \\-][0-9]{4}", 14, 1, v_phone },
	/* Russia 8 (916) 123-45-67 */
	{ DETECT_PHONE, NB "8[ \\-]?\\(?9[0-9]{2}\\)?[ \\-]?[0-9]{3}[ \\-][0-9]{2}[ \\-][0-9]{2}" NA,
	    "[0-9]{3}[ \\-][0-9]{2}[ \\-][0-9]{2}", 20, 1, v_phone },
	/* Italy mobile 333 123 4567 */
	{ DETECT_PHONE, NB "3[0-9]{2}[ .][0-9]{3}[ .][0-9]{3,4}" NA, "3[0-9]{2}[ .][0-9]{3}[ .][0-9]{3}", 13, 2, v_phone },
	/* trunk 0 with 2-5 groups: 090-1234-5678, 0812-3456-7890, 07700 900123 */
	{ DETECT_PHONE, NB "0[1-9][0-9]{0,4}(?:/[0-9]{4,8}|(?:[ \\-][0-9]{2,8}){1,4})" NA,
	    "0[1-9][0-9]{0,4}[ \\-/][0-9]{2}", 10, 34, v_phone },
	/* SSN 123.45.6789 */
	{ DETECT_SSN, NB "[0-9]{3}\\.[0-9]{2}\\.[0-9]{4}" NA, "[0-9]{3}\\.[0-9]{2}\\.[0-9]{4}", 11, 1, detect__v_ssn },
	/* Brazil CPF */
	{ DETECT_NATIONAL_ID, NB "[0-9]{3}\\.[0-9]{3}\\.[0-9]{3}-[0-9]{2}" NA, "[0-9]\\.[0-9]{3}\\.[0-9]{3}-[0-9]{2}", 14, 1, v_cpf },
	/* India Aadhaar */
	{ DETECT_NATIONAL_ID, NB "[2-9][0-9]{3}(?: [0-9]{4} |-[0-9]{4}-)[0-9]{4}" NA, "[0-9]{4}[ \\-][0-9]{4}[ \\-][0-9]{4}", 14, 1,
	    v_aadhaar },
	/* China resident identity card */
	{ DETECT_NATIONAL_ID,
	    "(?<![A-Za-z0-9])[1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
	    "[0-9]{3}[0-9Xx](?![A-Za-z0-9])", "[1-8][0-9]{5}(?:19|20)[0-9]{2}", 18, 8, v_china_id },
	/* Spain DNI / NIE */
	{ DETECT_NATIONAL_ID, "(?<![A-Za-z0-9])(?:[0-9]{8}|[XYZ]-?[0-9]{7})-?[A-HJ-NP-TV-Z](?![A-Za-z0-9])",
	    "(?:[0-9]{8}|[XYZ]-?[0-9]{7})-?[A-Z]", 12, 1, v_dni },
	/* France NIR (sécurité sociale) */
	{ DETECT_NATIONAL_ID,
	    NB "[12] ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:2[AB]|[0-9]{2}) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}" NA,
	    "[12] ?[0-9]{2} ?[0-9]{2} ?[0-9A-B]{2} ?[0-9]{3}", 17, 16, v_nir },
	/* South Korea resident registration number */
	{ DETECT_NATIONAL_ID, NB "[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-[1-4][0-9]{6}" NA,
	    "[0-9]{6}-[1-4][0-9]{6}", 14, 1, v_rrn },
};

const size_t detect__npii_digit_rules = UT_ARRAY_LEN(detect__pii_digit_rules);
