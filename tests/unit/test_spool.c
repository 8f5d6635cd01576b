/*
 * test_spool.c - encrypted segment writing and reading (format v1),
 * rollover, rotation, recovery, the disk budget, torn tails at every byte
 * offset, garbled frames, I/O faults at every write, fsync, rename and open
 * (each ending in a clear error and a recoverable spool), and the key files.
 * Crash, power-loss, tampering and stolen-laptop tests: test_spool_crash.c
 * and test_spool_tamper.c.
 */
#include "spool_t.h"

static unsigned
check_dir(const char *d, int want_state, unsigned *nsegs);

struct check_acc {
	unsigned n, bad;
	int want;
};

static int
check_cb(const struct spool_seg_info *si, void *arg)
{
	struct check_acc *a = arg;

	a->n++;
	if (a->want != 0 && (int)si->state != a->want &&
	    si->state != SPOOL_SEG_CORRUPT)
		a->bad++;
	return 0;
}

/* spool_check(d): returns corrupt count; every segment in want_state. */
static unsigned
check_dir(const char *d, int want_state, unsigned *nsegs)
{
	struct check_acc a = { 0, 0, want_state };
	unsigned bad = 99;

	T_ASSERT_EQ(spool_check(d, NULL, check_cb, &a, &bad), 0);
	T_ASSERT_EQ(a.bad, 0);
	if (nsegs != NULL)
		*nsegs = a.n;
	return bad;
}

static void
test_spool_roundtrip_and_rollover(void)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k;
	uint64_t i;
	char *d = mkdir_tmp();
	unsigned nsegs;

	tkeys_init(&k);
	topts(&o, d, &k);
	o.segment_max_bytes = 2048;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 1; i <= 20000; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
		if (i % 500 == 0) {
			T_ASSERT_EQ(spool_commit(sp), 0);
			T_ASSERT_EQ(spool_acked_seq(sp), i);
		}
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(read_prefix(d, k.rk), 20000);
	T_ASSERT_EQ(count_files(d, ".open"), 0);
	T_ASSERT(count_files(d, ".uts") > 3);
	T_ASSERT_EQ(check_dir(d, SPOOL_SEG_CLOSED, &nsegs), 0);
	T_ASSERT_EQ(nsegs, (unsigned)count_files(d, ".uts"));
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_open_rejects_bad_dir_and_missing_keys(void)
{
	struct spool_opts o;
	struct spool *sp = NULL;
	struct tkeys k;
	struct spool_reader *rd = NULL;
	struct spool_read_opts ro;

	tkeys_init(&k);
	topts(&o, "/dev/null/sub", &k);
	T_ASSERT(spool_open(&o, &sp) < 0);
	T_ASSERT(sp == NULL);
	o.dir = "";
	T_ASSERT_EQ(spool_open(&o, &sp), UT_EINVAL);
	topts(&o, "/tmp", &k);
	o.device = NULL;
	T_ASSERT_EQ(spool_open(&o, &sp), UT_EINVAL);
	topts(&o, "/tmp", &k);
	o.recipient_pk = NULL;
	T_ASSERT_EQ(spool_open(&o, &sp), UT_EINVAL);
	T_ASSERT_EQ(spool_close(NULL), 0);
	memset(&ro, 0, sizeof(ro));
	T_ASSERT_EQ(spool_reader_open("/tmp", &ro, &rd), UT_EINVAL);
	T_ASSERT(rd == NULL);
	spool_reader_close(NULL);
	tkeys_finish(&k);
}

/*
 * Writes k committed batches of 50 records and leaves the segment open as
 * a crash would (the trailer write fails); sizes[b] is the file size after
 * commit b.
 */
static void
write_batches(const char *d, const struct tkeys *tk, int k, off_t *sizes,
    char *path, size_t pathsz)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct stat st;
	uint64_t seq = 0;
	int b, i;

	topts(&o, d, tk);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	snprintf(path, pathsz, "%s/seg-00000001.uts.open", d);
	for (b = 0; b < k; b++) {
		for (i = 0; i < 50; i++) {
			mk(&ev, ++seq);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
		T_ASSERT_EQ(stat(path, &st), 0);
		sizes[b] = st.st_size;
	}
	fsio_fault_arm(FSIO_WRITE, 1, FSIO_FAULT_EIO);
	T_ASSERT(spool_close(sp) < 0);
	fsio_fault_clear();
}

static void
test_spool_torn_tail_every_offset(void)
{
	char *d = mkdir_tmp(), path[512];
	off_t sizes[4], off;
	unsigned char *orig;
	size_t olen;
	struct tkeys k;
	int b;
	uint64_t n, expect;

	tkeys_init(&k);
	write_batches(d, &k, 4, sizes, path, sizeof(path));
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &orig, &olen), 0);
	T_ASSERT_EQ((off_t)olen, sizes[3]);
	for (off = 0; off <= (off_t)olen; off++) {
		write_file(path, orig, (size_t)off);
		expect = 0;
		for (b = 0; b < 4; b++)
			if (off >= sizes[b])
				expect = 50 * (uint64_t)(b + 1);
		n = read_prefix(d, k.rk);
		T_ASSERT_EQ(n, expect);
	}
	free(orig);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_garbled_frame_is_never_returned(void)
{
	char *d = mkdir_tmp(), path[512];
	off_t sizes[3], pos;
	unsigned char *orig;
	size_t olen;
	struct tkeys k;

	tkeys_init(&k);
	write_batches(d, &k, 3, sizes, path, sizeof(path));
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &orig, &olen), 0);
	/* Flip one bit in every byte position of the second commit. */
	for (pos = sizes[0]; pos < sizes[1]; pos++) {
		orig[pos] ^= 0x10;
		write_file(path, orig, olen);
		T_ASSERT_EQ(read_prefix(d, k.rk), 50);
		orig[pos] ^= 0x10;
	}
	free(orig);
	tkeys_finish(&k);
	rm_rf(d);
}

/* A session of 6 commits of 40 records under one armed fault. */
static void
faulty_session(const struct tkeys *k, enum fsio_op op, unsigned nth,
    enum fsio_fault kind, int *failed)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	uint64_t seq = 0, acked = 0;
	char *d = mkdir_tmp();
	int b, i, r = 0;

	topts(&o, d, k);
	o.segment_max_bytes = 1500;
	fsio_fault_arm(op, nth, kind);
	*failed = 0;
	if ((r = spool_open(&o, &sp)) < 0) {
		*failed = 1;
		goto recover;
	}
	for (b = 0; b < 6 && r == 0; b++) {
		for (i = 0; i < 40 && r == 0; i++) {
			mk(&ev, ++seq);
			r = spool_append(sp, &ev);
		}
		if (r == 0)
			r = spool_commit(sp);
	}
	acked = spool_acked_seq(sp);
	if (r < 0) {
		*failed = 1;
		/* A clear error, and sticky: a later commit reports it again. */
		T_ASSERT(r == -EIO || r == -ENOSPC);
		T_ASSERT_EQ(spool_commit(sp), r);
	}
	r = spool_close(sp);
	if (*failed)
		T_ASSERT(r < 0);
	if (r < 0)
		*failed = 1;
recover:
	fsio_fault_clear();
	/* Everything acknowledged is readable, in order, nothing corrupt. */
	T_ASSERT(read_prefix(d, k->rk) >= acked);
	/* And the spool recovers: no open segment left, all verified. */
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(count_files(d, ".open"), 0);
	T_ASSERT(read_prefix(d, k->rk) >= acked);
	if (count_files(d, ".uts") > 0)
		T_ASSERT_EQ(check_dir(d, 0, NULL), 0);
	rm_rf(d);
}

static void
test_spool_faults_at_every_write_and_fsync(void)
{
	static const enum fsio_fault kinds[] = { FSIO_FAULT_EIO,
		FSIO_FAULT_ENOSPC, FSIO_FAULT_SHORT };
	static const enum fsio_op ops[] = { FSIO_WRITE, FSIO_FSYNC,
		FSIO_RENAME, FSIO_OPEN };
	unsigned nth, kd, o, fired;
	struct tkeys k;
	int failed;

	tkeys_init(&k);
	for (o = 0; o < UT_ARRAY_LEN(ops); o++)
		for (kd = 0; kd < UT_ARRAY_LEN(kinds); kd++) {
			fired = 0;
			for (nth = 1; nth < 80; nth++) {
				faulty_session(&k, ops[o], nth, kinds[kd], &failed);
				fired += (unsigned)failed;
				if (!failed)
					break; /* past the last call of op */
			}
			if (fired == 0)
				T_FAIL("op %u kind %u never fired", o, kd);
		}
	tkeys_finish(&k);
}

static void
test_spool_reader_empty_dir(void)
{
	struct spool_reader *rd;
	struct spool_read_opts ro;
	struct tkeys k;
	char *d = mkdir_tmp();

	tkeys_init(&k);
	memset(&ro, 0, sizeof(ro));
	ro.key = k.rk;
	T_ASSERT_EQ(spool_reader_open(d, &ro, &rd), UT_ENOTFOUND);
	T_ASSERT(spool_reader_open("/nonexistent/x", &ro, &rd) < 0);
	T_ASSERT_EQ(spool_check(d, NULL, NULL, NULL, NULL), UT_ENOTFOUND);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_appends_after_existing_segments_and_rotates(void)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k;
	char *d = mkdir_tmp();
	uint64_t i;

	tkeys_init(&k);
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 1; i <= 10; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_rotate(sp), 0);
	T_ASSERT_EQ(spool_acked_seq(sp), 10);
	T_ASSERT_EQ(spool_rotate(sp), 0); /* nothing open: no-op */
	T_ASSERT_EQ(count_files(d, ".uts"), 1);
	for (i = 11; i <= 15; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(count_files(d, ".uts"), 2);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 16; i <= 20; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(count_files(d, ".uts"), 3);
	T_ASSERT_EQ(read_prefix(d, k.rk), 20);
	T_ASSERT_EQ(check_dir(d, SPOOL_SEG_CLOSED, NULL), 0);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_recovery_closes_open_segments(void)
{
	char *d = mkdir_tmp(), path[512];
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	off_t sizes[3];
	struct tkeys k;
	unsigned n;

	tkeys_init(&k);
	write_batches(d, &k, 3, sizes, path, sizeof(path));
	T_ASSERT_EQ(count_files(d, ".open"), 1);
	T_ASSERT_EQ(check_dir(d, SPOOL_SEG_OPEN, &n), 0);
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	T_ASSERT_EQ(count_files(d, ".open"), 0);
	T_ASSERT_EQ(check_dir(d, SPOOL_SEG_RECOVERED, &n), 0);
	T_ASSERT_EQ(n, 1);
	mk(&ev, 151);
	T_ASSERT_EQ(spool_append(sp, &ev), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(read_prefix(d, k.rk), 151);
	/* A second recovery finds nothing to do. */
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(read_prefix(d, k.rk), 151);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_budget_pauses_never_drops_acked(void)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k;
	char *d = mkdir_tmp(), path[512];
	struct stat st;
	uint64_t seq = 0, total = 0;
	int r = 0, i;

	tkeys_init(&k);
	topts(&o, d, &k);
	o.budget_bytes = 20000;
	o.segment_max_bytes = 4000;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	while (r == 0 && seq < 1000000) {
		for (i = 0; i < 20 && r == 0; i++) {
			mk(&ev, seq + 1);
			r = spool_append(sp, &ev);
			if (r == 0)
				seq++;
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
	}
	T_ASSERT_EQ(r, UT_EFULL);
	T_ASSERT(spool_is_full(sp));
	T_ASSERT_EQ(spool_append(sp, &ev), UT_EFULL);
	T_ASSERT_EQ(spool_commit(sp), 0); /* full is not a failure */
	T_ASSERT_EQ(spool_acked_seq(sp), seq);
	T_ASSERT_EQ(spool_close(sp), 0);
	for (i = 1; i < 100; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08d.uts", d, i);
		if (stat(path, &st) == 0)
			total += (uint64_t)st.st_size;
	}
	T_ASSERT(total <= 20000);
	T_ASSERT(total > 10000);
	/* Reopening at the budget: still full, nothing overwritten. */
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	T_ASSERT_EQ(spool_append(sp, &ev), UT_EFULL);
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(read_prefix(d, k.rk), seq);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_reader_refuses_other_keys_and_devices(void)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k, other;
	struct spool_read_opts ro;
	struct spool_reader *rd;
	char *d = mkdir_tmp();
	int nerr, r;

	tkeys_init(&k);
	tkeys_init(&other);
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	mk(&ev, 1);
	T_ASSERT_EQ(spool_append(sp, &ev), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
	/* Another recipient key reads nothing. */
	T_ASSERT_EQ(read_run(d, other.rk, 1, &nerr), 0);
	T_ASSERT_EQ(nerr, 1);
	memset(&ro, 0, sizeof(ro));
	ro.key = other.rk;
	T_ASSERT_EQ(spool_reader_open(d, &ro, &rd), 0);
	T_ASSERT_EQ(spool_reader_next(rd, &ev), UT_EDENIED);
	T_ASSERT_EQ(spool_reader_next(rd, &ev), 0);
	spool_reader_close(rd);
	/* A reader told to expect another device refuses the segment. */
	ro.key = k.rk;
	ro.device_pk = other.dev->pk;
	T_ASSERT_EQ(spool_reader_open(d, &ro, &rd), 0);
	r = spool_reader_next(rd, &ev);
	T_ASSERT_EQ(r, UT_EDENIED);
	spool_reader_close(rd);
	/* Another device may not write into this device's spool. */
	topts(&o, d, &other);
	T_ASSERT_EQ(spool_open(&o, &sp), UT_EDENIED);
	tkeys_finish(&k);
	tkeys_finish(&other);
	rm_rf(d);
}

static void
test_spool_keys_files_and_passphrase(void)
{
	char *h = mkdir_tmp(), path[1024], home[512];
	struct ut_device_key *dk = NULL, *dk2 = NULL;
	struct ut_recipient_key *rk = NULL;
	uint8_t pk[32], pk2[32];
	char text[UT_PUBKEY_TEXT_MAX], hex[65], *pass = NULL;
	size_t plen = 0;
	struct stat st;

	snprintf(home, sizeof(home), "%s/home/usetrace", h);
	T_ASSERT_EQ(keys_device_load(home, false, &dk), UT_ENOTFOUND);
	T_ASSERT_EQ(keys_device_load(home, true, &dk), 0);
	T_ASSERT_EQ(keys_device_load(home, false, &dk2), 0);
	T_ASSERT(memcmp(dk->pk, dk2->pk, 32) == 0);
	snprintf(path, sizeof(path), "%s/device.key", home);
	T_ASSERT_EQ(stat(path, &st), 0);
	T_ASSERT_EQ(st.st_mode & 0777, 0600);
	T_ASSERT_EQ(stat(home, &st), 0);
	T_ASSERT_EQ(st.st_mode & 0777, 0700);
	T_ASSERT_EQ(keys_recipient_pub(home, pk), UT_ENOTFOUND);
	T_ASSERT_EQ(keys_recipient_create(home, "pw", 2, pk), 0);
	T_ASSERT_EQ(keys_recipient_create(home, "pw", 2, pk), -EEXIST);
	snprintf(path, sizeof(path), "%s/recipient.key", home);
	T_ASSERT_EQ(stat(path, &st), 0);
	T_ASSERT_EQ(st.st_mode & 0777, 0600);
	T_ASSERT_EQ(keys_recipient_pub(home, pk2), 0);
	T_ASSERT(memcmp(pk, pk2, 32) == 0);
	T_ASSERT_EQ(keys_recipient_unlock(home, "wrong", 5, &rk), UT_EDENIED);
	T_ASSERT(rk == NULL);
	/* The passphrase file: one trailing newline is stripped. */
	snprintf(path, sizeof(path), "%s/pass", h);
	write_file(path, "pw\n", 3);
	T_ASSERT_EQ(keys_passphrase_get(path, "", false, &pass, &plen), 0);
	T_ASSERT_EQ(plen, 2);
	T_ASSERT_EQ(keys_recipient_unlock(home, pass, plen, &rk), 0);
	T_ASSERT(memcmp(rk->pk, pk, 32) == 0);
	keys_passphrase_free(pass);
	write_file(path, "\n", 1);
	T_ASSERT_EQ(keys_passphrase_get(path, "", false, &pass, &plen), UT_EINVAL);
	/* Public keys: base64 and hex in, base64 out. */
	keys_pubkey_format(pk, text, sizeof(text));
	T_ASSERT_EQ(strlen(text), 44);
	T_ASSERT_EQ(keys_pubkey_parse(text, pk2), 0);
	T_ASSERT(memcmp(pk, pk2, 32) == 0);
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	memset(pk2, 0, 32);
	T_ASSERT_EQ(keys_pubkey_parse(hex, pk2), 0);
	T_ASSERT(memcmp(pk, pk2, 32) == 0);
	T_ASSERT_EQ(keys_pubkey_parse("not a key", pk2), UT_EPARSE);
	T_ASSERT_EQ(keys_pubkey_parse("", pk2), UT_EPARSE);
	/* A damaged wrapped key is refused, not misread. */
	snprintf(path, sizeof(path), "%s/recipient.key", home);
	write_file(path, "short", 5);
	keys_recipient_free(rk);
	rk = NULL;
	T_ASSERT_EQ(keys_recipient_unlock(home, "pw", 2, &rk), UT_ECORRUPT);
	keys_device_free(dk);
	keys_device_free(dk2);
	keys_device_free(NULL);
	keys_recipient_free(NULL);
	rm_rf(h);
}

/*
 * spool_set_recipient: the open segment keeps its recipient, the next one
 * (after the rotation the agent makes at 00:00 UTC) is sealed to the new
 * one, and each opens with its own key only.
 */
static void
test_spool_set_recipient_takes_effect_at_the_next_segment(void)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k, k2;
	uint64_t i;
	char *d = mkdir_tmp();
	int errs;

	tkeys_init(&k);
	tkeys_init(&k2);
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 1; i <= 100; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_commit(sp), 0);
	spool_set_recipient(sp, k2.rk->pk);
	for (i = 101; i <= 150; i++) {   /* still the open segment's */
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_rotate(sp), 0);
	for (i = 151; i <= 300; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(count_files(d, ".uts"), 2);
	T_ASSERT_EQ(read_run(d, k.rk, 1, &errs), 150);
	T_ASSERT_EQ(errs, 1);
	T_ASSERT_EQ(read_run(d, k2.rk, 151, &errs), 150);
	T_ASSERT_EQ(errs, 1);
	tkeys_finish(&k);
	tkeys_finish(&k2);
	rm_rf(d);
}

T_LIST(T_CASE(test_spool_roundtrip_and_rollover),
    T_CASE(test_spool_set_recipient_takes_effect_at_the_next_segment),
    T_CASE(test_spool_open_rejects_bad_dir_and_missing_keys),
    T_CASE(test_spool_torn_tail_every_offset),
    T_CASE(test_spool_garbled_frame_is_never_returned),
    T_CASE(test_spool_faults_at_every_write_and_fsync),
    T_CASE(test_spool_reader_empty_dir),
    T_CASE(test_spool_appends_after_existing_segments_and_rotates),
    T_CASE(test_spool_recovery_closes_open_segments),
    T_CASE(test_spool_budget_pauses_never_drops_acked),
    T_CASE(test_spool_reader_refuses_other_keys_and_devices),
    T_CASE(test_spool_keys_files_and_passphrase))
