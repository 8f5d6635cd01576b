/*
 * test_ckptfile.c - the checkpoint file's line format (src/audit/ckptfile.c):
 * a formatted line parses back; every strict prefix of it is "torn"; a
 * non-hex or upper-case digit, a missing or extra digit is corruption.
 */
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "audit_int.h"
#include "t.h"

static size_t
sample(struct meta_audit_ckpt *c, char line[CKPTFILE_LINE_MAX])
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->seq = 51;
	c->time_ns = -17000;
	for (i = 0; i < sizeof(c->head); i++)
		c->head[i] = (uint8_t)(i * 7 + 0xa0);
	for (i = 0; i < sizeof(c->sig); i++)
		c->sig[i] = (uint8_t)(255 - i * 3);
	return audit__ckpt_format(c, line) - 1; /* without its '\n' */
}

static void
test_ckptfile_round_trip(void)
{
	struct meta_audit_ckpt c, back;
	char line[CKPTFILE_LINE_MAX];
	size_t len = sample(&c, line);

	T_ASSERT_EQ(audit__ckpt_parse(line, len, &back), 0);
	T_ASSERT_EQ(back.seq, c.seq);
	T_ASSERT_EQ(back.time_ns, c.time_ns);
	T_ASSERT(memcmp(back.head, c.head, sizeof(c.head)) == 0);
	T_ASSERT(memcmp(back.sig, c.sig, sizeof(c.sig)) == 0);
}

static void
test_ckptfile_every_prefix_is_torn(void)
{
	struct meta_audit_ckpt c, back;
	char line[CKPTFILE_LINE_MAX];
	size_t len = sample(&c, line), k;

	for (k = 0; k < len; k++)
		T_ASSERT_EQ(audit__ckpt_parse(line, k, &back), 1);
}

static void
test_ckptfile_bad_digits_are_corrupt(void)
{
	struct meta_audit_ckpt c, back;
	char line[CKPTFILE_LINE_MAX], bad[CKPTFILE_LINE_MAX + 1];
	size_t len = sample(&c, line), head, sig, pos[4], i;

	head = (size_t)(strchr(strchr(strchr(line, ' ') + 1, ' ') + 1, ' ') -
	    line) + 1;
	sig = head + 65;
	pos[0] = head;
	pos[1] = head + 63;
	pos[2] = sig;
	pos[3] = sig + 127;
	for (i = 0; i < 4; i++) {
		/* A non-hex digit, where the line goes on and where it ends. */
		memcpy(bad, line, len);
		bad[pos[i]] = 'g';
		T_ASSERT_EQ(audit__ckpt_parse(bad, len, &back), UT_ECORRUPT);
		T_ASSERT_EQ(audit__ckpt_parse(bad, pos[i] + 1, &back), UT_ECORRUPT);
		/* Upper case: not what the writer writes. */
		memcpy(bad, line, len);
		bad[pos[i]] = 'A';
		T_ASSERT_EQ(audit__ckpt_parse(bad, len, &back), UT_ECORRUPT);
	}
	/* One digit too few in HEAD (then a space), one too many in SIG. */
	memcpy(bad, line, head + 63);
	memcpy(bad + head + 63, line + head + 64, len - head - 64);
	T_ASSERT_EQ(audit__ckpt_parse(bad, len - 1, &back), UT_ECORRUPT);
	memcpy(bad, line, len);
	bad[len] = '0';
	T_ASSERT_EQ(audit__ckpt_parse(bad, len + 1, &back), UT_ECORRUPT);
}

T_LIST(
    T_CASE(test_ckptfile_round_trip),
    T_CASE(test_ckptfile_every_prefix_is_torn),
    T_CASE(test_ckptfile_bad_digits_are_corrupt))
