/*
 * test_keyscan.c - ut-keyscan itself (tests/tools/ut_keyscan.c) on a
 * fixture whose every sealed item and its offset is known: a key store
 * with one subject, one device and two days; a metadata database with one
 * segment row per day; and one file holding, among random bytes, a fake
 * segment header per day (its segment id and a sealed key to that day's
 * ingest key), each day's sealed segment key and sealed summary from the
 * rows, and a stray copy of day 2's sealed key.  The scan must report
 * exactly those windows, and after day 1 is erased exactly day 2's: a scan
 * that finds nothing would pass the erasure test of tests/server for the
 * wrong reason.  The tool's path is in UT_KEYSCAN (set by meson).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/keystore.h"
#include "usetrace/meta.h"
#include "t.h"

#define FLEN 6000u
#define DAY1 20000
#define DAY2 20001

static const char *tool;
static char base[] = "/tmp/ut-keyscan-test.XXXXXX";

struct fix {
	char ks[200], master[200], db[200], file[200];
	uint8_t subj[16], dev[32], seg[2][16];
};

static void
put_header(uint8_t *f, size_t off, const uint8_t segid[16],
    const uint8_t sealed[80])
{
	memcpy(f + off, "USETRACE", 8);
	memcpy(f + off + 64, segid, 16);
	memcpy(f + off + 176, sealed, 80);
}

static void
build(struct fix *x)
{
	struct keystore_opts o = { 0 };
	struct keystore *ks = NULL;
	struct meta *m = NULL;
	struct meta_principal p = { 0 };
	struct meta_device d = { 0 };
	struct meta_segment *s = calloc(1, sizeof(*s));
	uint8_t *f = malloc(FLEN), pk[32], segkey[32], sealed[2][80];
	static const char summary[] = "{\"apps\":[\"editor\"],\"titles\":[\"t\"]}";
	char url[220];
	int64_t pid, did;
	FILE *fp;
	int i;

	T_ASSERT(s != NULL && f != NULL);
	tool = getenv("UT_KEYSCAN");
	T_ASSERT(tool != NULL);
	T_ASSERT(mkdtemp(base) != NULL);
	snprintf(x->ks, sizeof(x->ks), "%s/ks", base);
	snprintf(x->master, sizeof(x->master), "%s/master.key", base);
	snprintf(x->db, sizeof(x->db), "%s/meta.db", base);
	snprintf(x->file, sizeof(x->file), "%s/file.bin", base);
	randombytes_buf(x->subj, 16);
	randombytes_buf(x->dev, 32);
	randombytes_buf(f, FLEN);
	o.dir = x->ks;
	o.master_path = x->master;
	o.create = true;
	T_ASSERT_EQ(keystore_open(&o, &ks), 0);
	T_ASSERT_EQ(keystore_subject_add(ks, x->subj), 0);
	snprintf(url, sizeof(url), "sqlite:%s", x->db);
	T_ASSERT_EQ(meta_open(url, true, &m), 0);
	snprintf(p.name, sizeof(p.name), "alice");
	p.role = UT_ROLE_SUBJECT;
	memcpy(p.subject_id, x->subj, 16);
	T_ASSERT_EQ(meta_principal_add(m, &p, &pid), 0);
	memcpy(d.pk, x->dev, 32);
	d.principal_id = pid;
	memcpy(d.subject_id, x->subj, 16);
	T_ASSERT_EQ(meta_device_add(m, &d, &did), 0);
	for (i = 0; i < 2; i++) {
		int32_t day = i == 0 ? DAY1 : DAY2;

		randombytes_buf(x->seg[i], 16);
		randombytes_buf(segkey, 32);
		T_ASSERT_EQ(keystore_ingest_pk(ks, x->subj, x->dev, day, pk), 0);
		T_ASSERT_EQ(crypto_box_seal(sealed[i], segkey, 32, pk), 0);
		memset(s, 0, sizeof(*s));
		memcpy(s->segment_id, x->seg[i], 16);
		memcpy(s->subject_id, x->subj, 16);
		s->device_id = did;
		s->day = day;
		T_ASSERT_EQ(keystore_day_seal(ks, x->subj, day, x->seg[i], 16,
		    segkey, 32, s->wrapped_key), 0);
		s->wrapped_len = 32 + KEYSTORE_SEAL_OVERHEAD;
		T_ASSERT_EQ(keystore_day_seal(ks, x->subj, day, x->seg[i], 16,
		    (const uint8_t *)summary, strlen(summary), s->summary), 0);
		s->summary_len = strlen(summary) + KEYSTORE_SEAL_OVERHEAD;
		s->receipt_len = 1;
		T_ASSERT_EQ(meta_segment_put(m, s), 0);
		/* Day i: header at 1000/2000, key at 123/223, summary 3000/3500. */
		put_header(f, 1000 + 1000 * (size_t)i, x->seg[i], sealed[i]);
		memcpy(f + 123 + 100 * i, s->wrapped_key, s->wrapped_len);
		memcpy(f + 3000 + 500 * i, s->summary, s->summary_len);
	}
	memcpy(f + 4500, sealed[1], 80);     /* a stray copy of day 2's */
	memcpy(f + 5500, sealed[0], 32);     /* day 1's ephemeral key alone */
	fp = fopen(x->file, "wb");
	T_ASSERT(fp != NULL && fwrite(f, 1, FLEN, fp) == FLEN && fclose(fp) == 0);
	meta_close(m);
	keystore_close(ks);
	free(s);
	free(f);
}

/* Runs the tool; its stdout in buf. */
static void
run(const struct fix *x, const char *extra, char *buf, size_t sz)
{
	char cmd[1200];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "'%s' --keys '%s' --master '%s' --meta '%s' %s '%s'",
	    tool, x->ks, x->master, x->db, extra, x->file);
	p = popen(cmd, "r");
	T_ASSERT(p != NULL);
	n = fread(buf, 1, sz - 1, p);
	buf[n] = '\0';
	T_ASSERT_EQ(pclose(p), 0);
}

static void
expect_line(const char *out, const struct fix *x, size_t off, const char *kind,
    const char *day, bool present)
{
	char line[600], hex[33];

	sodium_bin2hex(hex, sizeof(hex), x->subj, 16);
	snprintf(line, sizeof(line), "%s %zu %s %s %s\n", x->file, off, kind, hex,
	    day);
	if ((strstr(out, line) != NULL) != present)
		T_FAIL("%s '%s' in:\n%s", present ? "no" : "unexpected", line, out);
}

static void
test_finds_and_forgets(void)
{
	struct fix x;
	struct keystore_opts o = { 0 };
	struct keystore *ks = NULL;
	char out[8192], want[600];
	int pass;

	build(&x);
	for (pass = 0; pass < 2; pass++) {
		bool d1 = pass == 0;

		run(&x, "", out, sizeof(out));
		expect_line(out, &x, 1176, "ingest", "2024-10-04", d1);
		expect_line(out, &x, 123, "day-key", "2024-10-04", d1);
		expect_line(out, &x, 3000, "day-summary", "2024-10-04", d1);
		expect_line(out, &x, 2176, "ingest", "2024-10-05", true);
		expect_line(out, &x, 223, "day-key", "2024-10-05", true);
		expect_line(out, &x, 3500, "day-summary", "2024-10-05", true);
		if (strstr(out, d1 ? "opened 6\n" : "opened 3\n") == NULL)
			T_FAIL("wrong count in:\n%s", out);
		/* Copies are found by bytes, with or without the key. */
		snprintf(want, sizeof(want), "copy %s 4500 %s\n", x.file, x.file);
		T_ASSERT(strstr(out, want) != NULL);
		snprintf(want, sizeof(want), "copy %s 5500 %s\n", x.file, x.file);
		T_ASSERT(strstr(out, want) != NULL);
		T_ASSERT(strstr(out, "copies 2\n") != NULL);
		if (pass == 0) {
			/* Every window: the stray copy opens too. */
			run(&x, "--ingest-all", out, sizeof(out));
			expect_line(out, &x, 4500, "ingest", "2024-10-05", true);
			T_ASSERT(strstr(out, "opened 7\n") != NULL);
			o.dir = x.ks;
			o.master_path = x.master;
			T_ASSERT_EQ(keystore_open(&o, &ks), 0);
			T_ASSERT_EQ(keystore_erase_day(ks, x.subj, DAY1), 0);
			keystore_close(ks);
		}
	}
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		T_ASSERT_EQ(system(cmd), 0);
	}
}

static void
test_refuses_a_locked_store(void)
{
	struct fix x;
	struct keystore_opts o = { 0 };
	struct keystore *ks = NULL;
	char cmd[1200];

	strcpy(base, "/tmp/ut-keyscan-test.XXXXXX");
	build(&x);
	o.dir = x.ks;
	o.master_path = x.master;
	T_ASSERT_EQ(keystore_open(&o, &ks), 0);
	/* A running server holds the store: the tool says so and fails. */
	snprintf(cmd, sizeof(cmd), "'%s' --keys '%s' --master '%s' '%s' >/dev/null 2>&1",
	    tool, x.ks, x.master, x.file);
	T_ASSERT(WEXITSTATUS(system(cmd)) == 2);
	keystore_close(ks);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	T_ASSERT_EQ(system(cmd), 0);
}

T_LIST(T_CASE(test_finds_and_forgets), T_CASE(test_refuses_a_locked_store))
