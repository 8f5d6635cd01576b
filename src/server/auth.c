/*
 * auth.c - the textual forms of the server's secrets and ids: tokens
 * ("ut1_" / "utd1_" + base64url of 32 random bytes, stored only as their
 * BLAKE2b-256 hash), single-use codes ("ID.SECRET": 16 hex digits of public
 * id and 22 base64url characters of 128-bit secret, stored as the id and
 * the hash of the secret), hex, base64 and UTC day numbers.
 *
 * Secrets pass through here only in the caller's buffers; intermediate
 * copies are wiped.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/util.h"
#include "server_int.h"

#define TOKEN_PREFIX "ut1_"
#define DEVICE_TOKEN_PREFIX "utd1_"
#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define CODE_SECRET_BYTES 16

static void
hash_secret(const char *ctx, const uint8_t *p, size_t n, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)ctx, strlen(ctx));
	crypto_generichash_update(&st, p, n);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

void
srv_token_new(bool device, char text[SRV_TOKEN_TEXT_MAX], uint8_t hash[32])
{
	uint8_t raw[SRV_TOKEN_BYTES];
	const char *pfx = device ? DEVICE_TOKEN_PREFIX : TOKEN_PREFIX;
	size_t pl = strlen(pfx);

	randombytes_buf(raw, sizeof(raw));
	memcpy(text, pfx, pl);
	sodium_bin2base64(text + pl, SRV_TOKEN_TEXT_MAX - pl, raw, sizeof(raw), B64URL);
	hash_secret("UT-TOKEN1", raw, sizeof(raw), hash);
	sodium_memzero(raw, sizeof(raw));
}

int
srv_token_hash(const char *text, bool *device, uint8_t hash[32])
{
	uint8_t raw[SRV_TOKEN_BYTES];
	size_t n = 0, pl;
	const char *end = NULL;
	bool dev;

	if (strncmp(text, DEVICE_TOKEN_PREFIX, strlen(DEVICE_TOKEN_PREFIX)) == 0) {
		dev = true;
		pl = strlen(DEVICE_TOKEN_PREFIX);
	} else if (strncmp(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0) {
		dev = false;
		pl = strlen(TOKEN_PREFIX);
	} else
		return UT_EPARSE;
	if (strlen(text + pl) != sodium_base64_ENCODED_LEN(SRV_TOKEN_BYTES, B64URL) - 1 ||
	    sodium_base642bin(raw, sizeof(raw), text + pl, strlen(text + pl), NULL,
	    &n, &end, B64URL) != 0 || n != sizeof(raw) || *end != '\0') {
		sodium_memzero(raw, sizeof(raw));
		return UT_EPARSE;
	}
	hash_secret("UT-TOKEN1", raw, sizeof(raw), hash);
	sodium_memzero(raw, sizeof(raw));
	*device = dev;
	return 0;
}

void
srv_code_new(char text[SRV_CODE_TEXT_MAX], uint8_t id[META_CODE_ID_LEN],
    uint8_t hash[32])
{
	uint8_t secret[CODE_SECRET_BYTES];
	size_t hl;

	randombytes_buf(id, META_CODE_ID_LEN);
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(text, SRV_CODE_TEXT_MAX, id, META_CODE_ID_LEN);
	hl = strlen(text);
	text[hl] = '.';
	sodium_bin2base64(text + hl + 1, SRV_CODE_TEXT_MAX - hl - 1, secret,
	    sizeof(secret), B64URL);
	hash_secret("UT-CODE1", secret, sizeof(secret), hash);
	sodium_memzero(secret, sizeof(secret));
}

int
srv_code_parse(const char *text, uint8_t id[META_CODE_ID_LEN], uint8_t hash[32])
{
	uint8_t secret[CODE_SECRET_BYTES];
	const char *dot = strchr(text, '.'), *end = NULL;
	size_t n = 0;

	if (dot == NULL || (size_t)(dot - text) != 2 * META_CODE_ID_LEN ||
	    sodium_hex2bin(id, META_CODE_ID_LEN, text, 2 * META_CODE_ID_LEN,
	    NULL, &n, NULL) != 0 || n != META_CODE_ID_LEN)
		return UT_EPARSE;
	if (strlen(dot + 1) != sodium_base64_ENCODED_LEN(CODE_SECRET_BYTES, B64URL) - 1 ||
	    sodium_base642bin(secret, sizeof(secret), dot + 1, strlen(dot + 1),
	    NULL, &n, &end, B64URL) != 0 || n != sizeof(secret) || *end != '\0') {
		sodium_memzero(secret, sizeof(secret));
		return UT_EPARSE;
	}
	hash_secret("UT-CODE1", secret, sizeof(secret), hash);
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

void
srv_hex(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	if (outsz < 2 * n + 1) {
		out[0] = '\0';
		return;
	}
	sodium_bin2hex(out, outsz, p, n);
}

int
srv_unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (s == NULL || strlen(s) != 2 * n ||
	    sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end) != 0 || got != n ||
	    *end != '\0')
		return UT_EPARSE;
	return 0;
}

void
srv_b64(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	if (outsz < sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL)) {
		out[0] = '\0';
		return;
	}
	sodium_bin2base64(out, outsz, p, n, sodium_base64_VARIANT_ORIGINAL);
}

int
srv_unb64(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (s == NULL || sodium_base642bin(out, n, s, strlen(s), NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != n || *end != '\0')
		return UT_EPARSE;
	return 0;
}

void
srv_day_text(int32_t day, char out[16])
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

int
srv_day_parse(const char *s, int32_t *day)
{
	struct tm tm;
	const char *end;
	time_t t;
	char back[16];

	if (s == NULL || strlen(s) != 10)
		return UT_EPARSE;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return UT_EPARSE;
	t = timegm(&tm);
	if (t == (time_t)-1 || t % 86400 != 0)
		return UT_EPARSE;
	/* Reject dates strptime normalised (2026-02-31). */
	srv_day_text((int32_t)(t / 86400), back);
	if (strcmp(back, s) != 0)
		return UT_EPARSE;
	*day = (int32_t)(t / 86400);
	return 0;
}
