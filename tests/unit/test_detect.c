/*
 * test_detect.c - the detectors: every type on a known value with its exact
 * span, the validators, what is not a secret, span ordering and overlap,
 * windowing (a value at any offset of a long text), hostile bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "usetrace/detect.h"
#include "usetrace/err.h"
#include "usetrace/util.h"
#include "../../src/privacy/detect_int.h"
#include "t.h"

static struct detect_set *SET;
static struct detect *D;

static void
setup(void)
{
	if (SET == NULL) {
		T_ASSERT_EQ(detect_set_create(&SET), 0);
		T_ASSERT_EQ(detect_create(SET, &D), 0);
	}
}

/* Scans text; returns the number of spans; *sp points at them. */
static int
scan(const char *text, const struct detect_span **sp)
{
	setup();
	return detect_scan(D, text, strlen(text), 0, sp);
}

/* Expects exactly one span: the first occurrence of value, of type t. */
static void
expect_one(const char *text, const char *value, enum detect_type t)
{
	const struct detect_span *sp;
	const char *p = strstr(text, value);
	int n = scan(text, &sp);

	T_ASSERT(p != NULL);
	if (n != 1)
		T_FAIL("%s: %d spans, want 1", detect_type_name(t), n);
	T_ASSERT_STREQ(detect_type_name(sp[0].type), detect_type_name(t));
	T_ASSERT_EQ(sp[0].start, p - text);
	T_ASSERT_EQ(sp[0].end, p - text + (long)strlen(value));
}

static void
expect_none(const char *text)
{
	const struct detect_span *sp;
	int n = scan(text, &sp);

	if (n != 0)
		T_FAIL("case %.12s...: %d spans (first %s), want 0", text, n,
		    detect_type_name(sp[0].type));
}

static const struct {
	const char *text, *value;
	enum detect_type t;
} POS[] = {
	{ "mail me at jane.roe+news@mail.example.org today", "jane.roe+news@mail.example.org", DETECT_EMAIL },
	{ "call +44 20 7946 0958 now", "+44 20 7946 0958", DETECT_PHONE },
	{ "call (415) 555-2671.", "(415) 555-2671", DETECT_PHONE },
	{ "Tel. 030 12345678", "030 12345678", DETECT_PHONE },
	{ "card 4111 1111 1111 1111 exp 12/26", "4111 1111 1111 1111", DETECT_CREDIT_CARD },
	{ "amex 3782 822463 10005", "3782 822463 10005", DETECT_CREDIT_CARD },
	{ "ssn: 078-05-1120", "078-05-1120", DETECT_SSN },
	{ "IBAN GB82 WEST 1234 5698 7654 32, thanks", "GB82 WEST 1234 5698 7654 32", DETECT_IBAN },
	{ "iban=DE89370400440532013000", "DE89370400440532013000", DETECT_IBAN },
	{ "ssh root@203.0.113.77", "203.0.113.77", DETECT_IP_ADDRESS },
	{ "from 2001:db8:85a3::8a2e:370:7334: ok", "2001:db8:85a3::8a2e:370:7334", DETECT_IP_ADDRESS },
	{ "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", DETECT_AWS_ACCESS_KEY },
	{ "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", DETECT_AWS_SECRET_KEY },
	{ "GH_TOKEN=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", "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", DETECT_GITHUB_TOKEN },
	{ "token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", DETECT_SLACK_TOKEN },
	{ "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", DETECT_STRIPE_KEY },
	{ "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", DETECT_JWT },
	{ "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\nbye", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", DETECT_PRIVATE_KEY },
	{ "maps AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe x", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", DETECT_API_KEY },
	{ "api_key = \"9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c\"", "9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c", DETECT_GENERIC_SECRET },
	{ "[sudo] password for alice: hunter2x", "hunter2x", DETECT_PASSWORD },
	{ "Passwort: Geheim!123", "Geheim!123", DETECT_PASSWORD },
	/* issue 14: context passwords, vendor tokens, standalone, international */
	{ "the wifi pw is Sunflower#2291 btw", "Sunflower#2291", DETECT_PASSWORD },
	{ "wifi password\nLm7#pQ2zX", "Lm7#pQ2zX", DETECT_PASSWORD },
	{ "my pin is 4471", "4471", DETECT_PASSWORD },
	{ "$ mysql -u root -pR00tpass! -h db", "R00tpass!", DETECT_PASSWORD },
	{ "psql postgresql://app:Hk8#mQ2vLp@db.internal:5432/x", "Hk8#mQ2vLp", DETECT_PASSWORD },
	{ "curl -u admin:s3cr3tP4ss https://x", "s3cr3tP4ss", DETECT_PASSWORD },
	{ "HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", DETECT_API_KEY },
	{ "key 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 ok", "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", DETECT_API_KEY },
	{ "npm_Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6 x", "npm_Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6", DETECT_API_KEY },
	{ "here mK8x2LqP9vZ4rT7wN1bY6cH3jF0dS5gA ok", "mK8x2LqP9vZ4rT7wN1bY6cH3jF0dS5gA", DETECT_GENERIC_SECRET },
	{ "mera number 98765 43210", "98765 43210", DETECT_PHONE },
	{ "Telefone: (21) 99876-5432", "(21) 99876-5432", DETECT_PHONE },
	{ "ssn# 536221412", "536221412", DETECT_SSN },
	{ "CPF 111.444.777-35", "111.444.777-35", DETECT_NATIONAL_ID },
	{ "Aadhaar 2341 2341 2346", "2341 2341 2346", DETECT_NATIONAL_ID },
	{ "ID 11010519491231002X", "11010519491231002X", DETECT_NATIONAL_ID },
	{ "codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S", DETECT_NATIONAL_ID },
	/* digit rules, found through the digit pass's windows (D1) */
	{ "llama al 55 1234 5678 hoy", "55 1234 5678", DETECT_PHONE },
	{ "on 612 34 56 78", "612 34 56 78", DETECT_PHONE },
	{ "at 138 0013 8000", "138 0013 8000", DETECT_PHONE },
	{ "zvoni 8 (916) 123-45-67", "8 (916) 123-45-67", DETECT_PHONE },
	{ "chiamami 333 123 4567", "333 123 4567", DETECT_PHONE },
	{ "denwa 090-1234-5678", "090-1234-5678", DETECT_PHONE },
	{ "ring 0044 20 7946 0958 now", "0044 20 7946 0958", DETECT_PHONE },
	{ "ref 536.22.1412 ok", "536.22.1412", DETECT_SSN },
	{ "NIE X-1234567-L", "X-1234567-L", DETECT_NATIONAL_ID },
	{ "DNI 12345678Z", "12345678Z", DETECT_NATIONAL_ID },
	{ "NIR 1 85 05 2A 123 456 33", "1 85 05 2A 123 456 33", DETECT_NATIONAL_ID },
	{ "RRN 850513-1234560", "850513-1234560", DETECT_NATIONAL_ID },
	{ "server 10.0.0.12 down", "10.0.0.12", DETECT_IP_ADDRESS },
	/* gated rules, found through the gate pass's windows (G1) */
	{ "IBAN NL91 ABNA 0417 1643 00", "NL91 ABNA 0417 1643 00", DETECT_IBAN },
	{ "NI number AB 12 34 56 C ok", "AB 12 34 56 C", DETECT_NATIONAL_ID },
	{ "NINO: JG103726A", "JG103726A", DETECT_NATIONAL_ID },
	{ "ping fe80::1ff:fe23:4567:890a now", "fe80::1ff:fe23:4567:890a", DETECT_IP_ADDRESS },
	{ "host 2001:db8:85a3::8a2e:370:7334 up", "2001:db8:85a3::8a2e:370:7334", DETECT_IP_ADDRESS },
	{ "redis://:Xk9pL2mQ7z@cache:6379/0", "Xk9pL2mQ7z", DETECT_PASSWORD },
};

static void
test_detect_each_type(void)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_LEN(POS); i++)
		expect_one(POS[i].text, POS[i].value, POS[i].t);
}

/* R1: a value is found at any offset of a long text, not only near the start. */
static void
test_detect_value_anywhere(void)
{
	static char buf[20000];
	const struct detect_span *sp;
	size_t i, pad, vl;
	const size_t pads[] = { 0, 1, 4093, 9000 };
	size_t k;
	int n;

	setup();
	for (i = 0; i < UT_ARRAY_LEN(POS); i++) {
		for (k = 0; k < UT_ARRAY_LEN(pads); k++) {
			pad = pads[k];
			memset(buf, 'a', pad);
			if (pad > 0)
				buf[pad - 1] = ' ';
			vl = strlen(POS[i].text);
			memcpy(buf + pad, POS[i].text, vl);
			memset(buf + pad + vl, ' ', 9000);
			n = detect_scan(D, buf, pad + vl + 9000, 0, &sp);
			if (n != 1)
				T_FAIL("%s at pad %zu: %d spans",
				    detect_type_name(POS[i].t), pad, n);
			T_ASSERT_EQ(sp[0].type, POS[i].t);
			T_ASSERT_EQ(sp[0].start, pad + (size_t)(strstr(POS[i].text,
			    POS[i].value) - POS[i].text));
		}
	}
}

static void
test_detect_not_secrets(void)
{
	expect_none("API_KEY=${API_KEY}");
	expect_none("password: <YOUR_PASSWORD>");
	expect_none("token = \"xxxxxxxxxxxxxxxx\"");
	expect_none("GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	expect_none("STRIPE_PUBLISHABLE_KEY=pk_live_4eC39HqLyjWDarjtT1zdp7dc");
	expect_none("listening on 127.0.0.1:8080, netmask 255.255.255.0, ::1");
	expect_none("route add -net 10.0.0.0 netmask 255.0.0.0");
	expect_none("order 4111 1111 1111 1112 shipped");
	expect_none("commit 3f786850e387550fdab836ed7e6dc881de23001b");
	expect_none("request 550e8400-e29b-41d4-a716-446655440000 at 2024-01-15T10:30:00Z");
	expect_none("Chrome/120.0.6099.109 Python 3.11.7 v1.2.3.4");
	expect_none("  \"integrity\": \"sha512-ZmFrZSBoYXNoIGZvciB0ZXN0aW5nIG9ubHkgZmFrZSBoYXNoIGZvciB0ZXN0aW5n\",");
	expect_none("ssn 666-12-3456 and 000-12-3456");
	expect_none("IBAN DE00 3704 0044 0532 0130 00");
	expect_none("The key to success is patience. Token expired.");
	expect_none("");
}

static void
test_detect_validators(void)
{
	T_ASSERT(detect__luhn("4111111111111111", 16));
	T_ASSERT(!detect__luhn("4111111111111112", 16));
	T_ASSERT(detect__iban_ok("DE89370400440532013000", 22));
	T_ASSERT(!detect__iban_ok("DE89370400440532013001", 22));
	T_ASSERT(!detect__iban_ok("DE8937040044053201300", 21));
	T_ASSERT_EQ(detect__crc32("123456789", 9), 0xcbf43926u);
	T_ASSERT(detect__entropy("aaaa", 4) < 0.01);
	T_ASSERT(detect__entropy("abcd", 4) > 1.99);
	T_ASSERT(detect__is_placeholder("${VAR}", 6));
	T_ASSERT(detect__is_placeholder("<YOUR_KEY>", 10));
	T_ASSERT(detect__is_placeholder("xxxxxxxx", 8));
	T_ASSERT(!detect__is_placeholder("hunter2x", 8));
}

static void
test_detect_spans_sorted_disjoint(void)
{
	const char *t = "a@example.com api_key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe "
	    "4111111111111111 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 b@example.org";
	const struct detect_span *sp;
	int n = scan(t, &sp), i;

	T_ASSERT_EQ(n, 5);
	T_ASSERT_EQ(sp[1].type, DETECT_API_KEY); /* beats GENERIC_SECRET */
	for (i = 1; i < n; i++)
		T_ASSERT(sp[i - 1].end <= sp[i].start);
}

/*
 * Regression: a Vectorscan pattern with a long bounded repeat missed the
 * second e-mail address at some buffer alignments.  Prefilter patterns are
 * now short anchors; check every alignment.
 */
static void
test_detect_alignment(void)
{
	const char *t = "a@example.com api_key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe "
	    "4111111111111111 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 b@example.org";
	const struct detect_span *sp;
	size_t n = strlen(t), a;
	char *b = malloc(n + 64);

	T_ASSERT(b != NULL);
	setup();
	for (a = 0; a < 32; a++) {
		memset(b, 0, n + 64);
		memcpy(b + a, t, n);
		if (detect_scan(D, b + a, n, 0, &sp) != 5) {
			free(b);
			T_FAIL("alignment %zu", a);
		}
	}
	free(b);
}

static void
test_detect_password_flag(void)
{
	const struct detect_span *sp;

	setup();
	T_ASSERT_EQ(detect_scan(D, "hello", 5, DETECT_F_PASSWORD, &sp), 1);
	T_ASSERT_EQ(sp[0].type, DETECT_PASSWORD);
	T_ASSERT_EQ(sp[0].start, 0);
	T_ASSERT_EQ(sp[0].end, 5);
	T_ASSERT_EQ(detect_scan(D, "", 0, DETECT_F_PASSWORD, &sp), 0);
}

static void
test_detect_hostile_input(void)
{
	static char buf[70000];
	const struct detect_span *sp;
	size_t i;

	setup();
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7919 % 251 + 1);
	T_ASSERT(detect_scan(D, buf, sizeof(buf), 0, &sp) >= 0);
	memset(buf, '4', sizeof(buf));
	T_ASSERT(detect_scan(D, buf, sizeof(buf), 0, &sp) >= 0);
	memcpy(buf, "-----BEGIN RSA PRIVATE KEY-----", 31);
	T_ASSERT(detect_scan(D, buf, sizeof(buf), 0, &sp) >= 0);
	T_ASSERT_EQ(detect_scan(D, NULL, 1, 0, &sp), UT_EINVAL);
	T_ASSERT_EQ(detect_scan(D, buf, (size_t)DETECT_TEXT_MAX + 1, 0, &sp),
	    UT_ETOOBIG);
}

static void
test_detect_type_names(void)
{
	int t;

	for (t = 0; t < DETECT_TYPE_COUNT; t++)
		T_ASSERT_EQ(detect_type_from_name(detect_type_name((enum detect_type)t)), t);
	T_ASSERT_STREQ(detect_type_name(DETECT_CREDIT_CARD), "CREDIT_CARD");
	T_ASSERT_STREQ(detect_type_name(DETECT_TYPE_COUNT), "UNKNOWN");
	T_ASSERT_EQ(detect_type_from_name("NOPE"), -1);
	T_ASSERT(!detect_type_is_secret(DETECT_EMAIL));
	T_ASSERT(detect_type_is_secret(DETECT_CREDIT_CARD));
}

static int
note_window(void *ctx, size_t s, size_t e)
{
	size_t *w = ctx;

	w[0]++;
	w[1] = s;
	w[2] = e;
	return 0;
}

/* The digit pass: windows only where a digit rule can match (D1). */
static void
test_detect_digit_windows(void)
{
	static const char *const none[] = {
		"meeting at 10:30, version 3.11.7, 1,234 units in 2024 (42) x86_64",
		"room 4B, call me on 555 12", "build 2024 at 03:14 ok", "",
	};
	const char *t;
	size_t w[3], i;

	for (i = 0; i < UT_ARRAY_LEN(none); i++) {
		memset(w, 0, sizeof(w));
		T_ASSERT_EQ(detect__digit_windows(none[i], strlen(none[i]),
		    note_window, w), 0);
		if (w[0] != 0)
			T_FAIL("%s: %zu windows, want none", none[i], w[0]);
	}
	/* Widened by the padding, clipped to the text. */
	t = "ip 10.0.0.1";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__digit_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT_EQ(w[0], 1);
	T_ASSERT(w[1] == 0 && w[2] == strlen(t));
	t = "NIE X-1234567-L, and much more text after it";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__digit_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT_EQ(w[0], 1);
	T_ASSERT(w[1] <= 4 && w[2] >= 15 && w[2] < strlen(t));
	/* Two numbers apart: two windows; the last one is reported. */
	t = "call 0044 20 7946 0958 or else 030 12345678 ok";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__digit_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT_EQ(w[0], 2);
	T_ASSERT(w[1] <= 31 && w[2] >= 43);
}

/* The gate pass: windows only where a gated rule can match (G1). */
static void
test_detect_gate_windows(void)
{
	static const char *const none[] = {
		"meeting at 10:30, NULL; Q3 2024 http://localhost:8080/api ok",
		"ERROR: x, FOO_BAR, USA, https://a:b/c@d, a:b c:d", "",
	};
	const char *t;
	size_t w[3], i;

	for (i = 0; i < UT_ARRAY_LEN(none); i++) {
		memset(w, 0, sizeof(w));
		T_ASSERT_EQ(detect__gate_windows(none[i], strlen(none[i]),
		    note_window, w), 0);
		if (w[0] != 0)
			T_FAIL("%s: %zu windows, want none", none[i], w[0]);
	}
	/* (a): the 14 bytes from the two letters, clipped to the text. */
	t = "pay to the account DE89 3704 0044 0532 0130 00 please";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__gate_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT_EQ(w[0], 1);
	T_ASSERT(w[1] == 19 && w[2] == 33);
	t = "cf RSSMRA85T";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__gate_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT(w[0] >= 1 && w[2] == strlen(t));
	/* (b): four bytes before the first ':' to the second. */
	t = "addr fe80::1 up";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__gate_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT_EQ(w[0], 1);
	T_ASSERT(w[1] == 5 && w[2] == 11);
	/* (c): from "://" to the '@'. */
	t = "x postgres://u:p w@h ftp://user:pa:ss@host/ ok";
	memset(w, 0, sizeof(w));
	T_ASSERT_EQ(detect__gate_windows(t, strlen(t), note_window, w), 0);
	T_ASSERT_EQ(w[0], 1);
	T_ASSERT(w[1] == 24 && w[2] == 38);
}

static void
test_detect_teardown(void)
{
	detect_destroy(D);
	detect_set_destroy(SET);
	D = NULL;
	SET = NULL;
	detect_destroy(NULL);
	detect_set_destroy(NULL);
}

T_LIST(T_CASE(test_detect_each_type), T_CASE(test_detect_value_anywhere),
    T_CASE(test_detect_not_secrets), T_CASE(test_detect_validators),
    T_CASE(test_detect_spans_sorted_disjoint), T_CASE(test_detect_alignment),
    T_CASE(test_detect_password_flag),
    T_CASE(test_detect_hostile_input), T_CASE(test_detect_type_names),
    T_CASE(test_detect_digit_windows), T_CASE(test_detect_gate_windows),
    T_CASE(test_detect_teardown))
