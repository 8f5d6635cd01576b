/*
 * ckptfile.c - the append-only checkpoint file's format.
 *
 * One text line per checkpoint, appended with a single write and fsync'd:
 *
 *     UTAUDCK1 SEQ TIME_NS HEAD SIG\n
 *
 * SEQ and TIME_NS in decimal (TIME_NS may carry a '-'), HEAD the 64 hex
 * digits of the hash of row SEQ, SIG the 128 hex digits of the audit key's
 * Ed25519 signature over audit_ckpt_msg() (the same bytes a CKPT in a
 * receipt carries).  Lines appear in the order they were written, with
 * non-decreasing SEQ.  A crash can cut only the last line; the writer, on
 * opening a file whose last byte is not '\n', appends one, so a cut line
 * becomes a whole line that is a strict prefix of a valid record, which the
 * verifier skips ("torn").  Anything else that does not parse is corruption.
 *
 * The file is meant to be append-only for everyone but root
 * (`chattr +a`, the operator's business): the writer opens it O_APPEND and
 * never truncates or rewrites it.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "audit_int.h"

#define MAGIC "UTAUDCK1"

size_t
audit__ckpt_format(const struct meta_audit_ckpt *c, char line[CKPTFILE_LINE_MAX])
{
	char head[65], sig[129];
	int n;

	sodium_bin2hex(head, sizeof(head), c->head, sizeof(c->head));
	sodium_bin2hex(sig, sizeof(sig), c->sig, sizeof(c->sig));
	n = snprintf(line, CKPTFILE_LINE_MAX, MAGIC " %llu %lld %s %s\n",
	    (unsigned long long)c->seq, (long long)c->time_ns, head, sig);
	return (size_t)n;
}

/* A cursor over one line; `torn` is set when the line ends too early. */
struct cur {
	const char *p;
	size_t len, off;
	int torn;
};

/* Matches the literal s. */
static int
lit(struct cur *c, const char *s)
{
	for (; *s != '\0'; s++, c->off++) {
		if (c->off == c->len) {
			c->torn = 1;
			return -1;
		}
		if (c->p[c->off] != *s)
			return -1;
	}
	return 0;
}

/* Decimal with an optional '-', at most 20 digits, ended by ' '. */
static int
num(struct cur *c, bool sign, unsigned long long *mag, bool *neg)
{
	unsigned long long v = 0;
	size_t digits = 0;

	*neg = false;
	if (sign && c->off < c->len && c->p[c->off] == '-') {
		*neg = true;
		c->off++;
	}
	for (; c->off < c->len && c->p[c->off] >= '0' && c->p[c->off] <= '9';
	    c->off++) {
		unsigned d = (unsigned)(c->p[c->off] - '0');

		if (++digits > 20 || v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (c->off == c->len) {
		c->torn = 1;
		return -1;
	}
	if (digits == 0)
		return -1;
	*mag = v;
	return lit(c, " ");
}

/*
 * Exactly 2n lower-case hex digits (sodium_hex2bin) into out (n <= 64).  Torn when the line
 * ends inside them with nothing but hex digits before its end.
 */
static int
hex(struct cur *c, uint8_t *out, size_t n)
{
	size_t span = c->len - c->off, got = 0, reach;
	const char *end = NULL;
	int r;

	if (span > 2 * n)
		span = 2 * n;
	r = sodium_hex2bin(out, n, c->p + c->off, span, NULL, &got, &end);
	if (r == 0 && got == n) {
		/* The writer's lower case only: the line is read back as written. */
		char again[2 * 64 + 1];

		if (n > 64)
			return -1;
		sodium_bin2hex(again, sizeof(again), out, n);
		if (memcmp(again, c->p + c->off, 2 * n) != 0)
			return -1;
		c->off += 2 * n;
		return 0;
	}
	/* An odd digit count leaves end before the last (dangling) digit. */
	reach = (size_t)(end - c->p) + (r != 0 ? 1 : 0);
	if (reach == c->len)
		c->torn = 1;
	return -1;
}

int
audit__ckpt_parse(const char *line, size_t len, struct meta_audit_ckpt *out)
{
	struct cur c = { line, len, 0, 0 };
	struct meta_audit_ckpt ck;
	unsigned long long seq, t;
	bool neg;

	memset(&ck, 0, sizeof(ck));
	if (lit(&c, MAGIC " ") < 0 || num(&c, false, &seq, &neg) < 0 ||
	    num(&c, true, &t, &neg) < 0 || hex(&c, ck.head, sizeof(ck.head)) < 0 ||
	    lit(&c, " ") < 0 || hex(&c, ck.sig, sizeof(ck.sig)) < 0)
		return c.torn ? 1 : UT_ECORRUPT;
	if (c.off != len)
		return UT_ECORRUPT;
	if ((!neg && t > (unsigned long long)INT64_MAX) ||
	    (neg && t > (unsigned long long)INT64_MAX + 1))
		return UT_ECORRUPT;
	ck.seq = seq;
	ck.time_ns = neg ? (int64_t)(0 - t) : (int64_t)t;
	*out = ck;
	return 0;
}
