/*
 * test_spool_link.c - the spool's answers to misuse (issue 17):
 *
 *  - One writer per directory: a second spool_open() of a directory a live
 *    writer holds is refused (-EBUSY) and changes nothing; the first
 *    writer's records stay intact and are read exactly once.
 *  - The v2 link: a deleted, reordered (swapped) or substituted segment is
 *    reported by spool_check() and by the reader, which still returns every
 *    verified record; v1 segments (the retired writer) stay readable, and
 *    a v2 segment written after them links to them.
 *  - Torn tail vs corruption: a crash's torn tail of an open segment is
 *    not an error; a flipped byte inside its first frame is (CORRUPT, and
 *    the reader reports it), and recovery leaves it for spool check; bytes
 *    after a trailer and a cut closed segment are one clear report each.
 *  - Foreign segments: a segment of another device in front of this
 *    device's own is reported as "signed by another device", and the own
 *    segments after it are read.
 */
#include <sys/file.h>

#include "spool_t.h"

/* What one read of a directory gave. */
struct got {
	uint64_t seqs[2048];
	size_t n;
	int errs;
	char msg[8][256];
	struct spool_read_stats st;
};

static void
read_all(const char *dir, const struct ut_recipient_key *rk,
    const uint8_t *own, struct got *g)
{
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct ut_event ev;
	int r;

	memset(g, 0, sizeof(*g));
	memset(&ro, 0, sizeof(ro));
	ro.key = rk;
	ro.own_device_pk = own;
	T_ASSERT_EQ(spool_reader_open(dir, &ro, &rd), 0);
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0) {
			if (g->errs < 8)
				snprintf(g->msg[g->errs], sizeof(g->msg[0]), "%s",
				    spool_reader_error(rd));
			g->errs++;
			continue;
		}
		T_ASSERT(same_as_mk(&ev));
		T_ASSERT(g->n < 2048);
		g->seqs[g->n++] = ev.seq;
	}
	spool_reader_stats(rd, &g->st);
	spool_reader_close(rd);
}

static bool
got_has(const struct got *g, const char *needle)
{
	int i;

	for (i = 0; i < g->errs && i < 8; i++)
		if (strstr(g->msg[i], needle) != NULL)
			return true;
	return false;
}

/* No seq twice, and seqs in [first, last] all there. */
static void
expect_run(const struct got *g, uint64_t first, uint64_t last)
{
	size_t i;

	T_ASSERT_EQ(g->n, last - first + 1);
	for (i = 0; i < g->n; i++)
		T_ASSERT_EQ(g->seqs[i], first + i);
}

/* nseg closed segments of 30 records each, seqs from first. */
static void
write_segments(const char *d, const struct tkeys *k, int nseg, uint64_t first,
    unsigned version)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	uint64_t seq = first;
	int s, i;

	topts(&o, d, k);
	o.format_version = version;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (s = 0; s < nseg; s++) {
		for (i = 0; i < 30; i++) {
			mk(&ev, seq++);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
		T_ASSERT_EQ(spool_rotate(sp), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
}

struct chk {
	struct spool_seg_info si[16];
	int n;
};

static int
on_seg(const struct spool_seg_info *si, void *arg)
{
	struct chk *c = arg;

	if (c->n < 16)
		c->si[c->n++] = *si;
	return 0;
}

static unsigned
check(const char *d, struct chk *c)
{
	unsigned bad = 99;

	memset(c, 0, sizeof(*c));
	T_ASSERT_EQ(spool_check(d, NULL, on_seg, c, &bad), 0);
	return bad;
}

static void
path_of(char *out, size_t n, const char *d, unsigned idx, bool open)
{
	snprintf(out, n, "%s/seg-%08u.uts%s", d, idx, open ? ".open" : "");
}

static void
test_spool_one_writer_per_dir(void)
{
	struct tkeys k;
	struct spool_opts o;
	struct spool *a, *b = NULL;
	struct ut_event ev;
	struct got g;
	char lock[512], buf[64];
	uint64_t seq;
	int fd;

	tkeys_init(&k);
	char *d = mkdir_tmp();
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &a), 0);
	for (seq = 1; seq <= 40; seq++) {
		mk(&ev, seq);
		T_ASSERT_EQ(spool_append(a, &ev), 0);
	}
	T_ASSERT_EQ(spool_commit(a), 0);
	/* The live writer's segment is open; a second writer must not touch it. */
	T_ASSERT_EQ(count_files(d, ".open"), 1);
	T_ASSERT_EQ(spool_open(&o, &b), -EBUSY);
	T_ASSERT(b == NULL);
	T_ASSERT_EQ(count_files(d, ".open"), 1);
	T_ASSERT_EQ(count_files(d, ".uts"), 0);
	/* The lock file is held, and empty (a full disk has no page for it). */
	snprintf(lock, sizeof(lock), "%s/.lock", d);
	T_ASSERT((fd = open(lock, O_RDONLY)) >= 0);
	T_ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), -1);
	T_ASSERT_EQ(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	for (; seq <= 80; seq++) {
		mk(&ev, seq);
		T_ASSERT_EQ(spool_append(a, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(a), 0);
	/* Released on close: the next writer opens and appends after it. */
	T_ASSERT_EQ(spool_open(&o, &b), 0);
	for (; seq <= 100; seq++) {
		mk(&ev, seq);
		T_ASSERT_EQ(spool_append(b, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(b), 0);
	T_ASSERT(access(lock, F_OK) != 0); /* removed by the closing writer */
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 0);
	expect_run(&g, 1, 100); /* nothing twice, nothing lost */
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_link_intact_and_v1_read(void)
{
	struct tkeys k;
	struct chk c;
	struct got g;
	int i;

	tkeys_init(&k);
	char *d = mkdir_tmp();
	/* Two v1 segments (the retired writer), then three v2 ones. */
	write_segments(d, &k, 2, 1, 1);
	write_segments(d, &k, 3, 61, 0);
	T_ASSERT_EQ(check(d, &c), 0);
	T_ASSERT_EQ(c.n, 5);
	for (i = 0; i < 5; i++) {
		T_ASSERT_EQ(c.si[i].version, i < 2 ? 1 : 2);
		T_ASSERT_EQ(c.si[i].state, SPOOL_SEG_CLOSED);
		T_ASSERT_EQ(c.si[i].link, SPOOL_LINK_OK);
	}
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 0);
	T_ASSERT_EQ(g.st.broken_links, 0);
	expect_run(&g, 1, 150);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_link_deleted_segment(void)
{
	struct tkeys k;
	struct chk c;
	struct got g;
	char p[512];

	tkeys_init(&k);
	char *d = mkdir_tmp();
	write_segments(d, &k, 4, 1, 0);
	path_of(p, sizeof(p), d, 3, false);
	T_ASSERT_EQ(unlink(p), 0);
	T_ASSERT_EQ(check(d, &c), 1);
	T_ASSERT_EQ(c.n, 3);
	T_ASSERT_EQ(c.si[2].link, SPOOL_LINK_MISSING);
	T_ASSERT_EQ(c.si[2].state, SPOOL_SEG_CLOSED);
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 1);
	T_ASSERT_EQ(g.st.broken_links, 1);
	T_ASSERT(got_has(&g, "seg-00000004.uts: broken chain of segments: the "
	    "segment before it is missing"));
	/* Every verified record is still returned: 1-60 and 91-120. */
	T_ASSERT_EQ(g.n, 90);
	T_ASSERT_EQ(g.seqs[59], 60);
	T_ASSERT_EQ(g.seqs[60], 91);
	/* The first segments gone (uploaded) are no problem. */
	path_of(p, sizeof(p), d, 1, false);
	T_ASSERT_EQ(unlink(p), 0);
	path_of(p, sizeof(p), d, 2, false);
	T_ASSERT_EQ(unlink(p), 0);
	T_ASSERT_EQ(check(d, &c), 0);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_link_reordered_segments(void)
{
	struct tkeys k;
	struct chk c;
	struct got g;
	char p2[512], p3[512], tmp[512];

	tkeys_init(&k);
	char *d = mkdir_tmp();
	write_segments(d, &k, 3, 1, 0);
	path_of(p2, sizeof(p2), d, 2, false);
	path_of(p3, sizeof(p3), d, 3, false);
	snprintf(tmp, sizeof(tmp), "%s/x", d);
	T_ASSERT_EQ(rename(p2, tmp), 0);
	T_ASSERT_EQ(rename(p3, p2), 0);
	T_ASSERT_EQ(rename(tmp, p3), 0);
	T_ASSERT(check(d, &c) >= 2);
	T_ASSERT_EQ(c.si[1].state, SPOOL_SEG_CORRUPT);
	T_ASSERT_EQ(c.si[2].state, SPOOL_SEG_CORRUPT);
	read_all(d, k.rk, NULL, &g);
	T_ASSERT(g.errs >= 2);
	T_ASSERT(got_has(&g, "renamed or swapped"));
	expect_run(&g, 1, 30); /* nothing out of order is returned */
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_link_substituted_segment(void)
{
	struct tkeys k;
	struct chk c;
	struct got g;
	unsigned char *img;
	size_t len;
	char p[512], q[512];

	tkeys_init(&k);
	char *d = mkdir_tmp(), *e = mkdir_tmp();
	write_segments(d, &k, 3, 1, 0);
	/* The same device, another recording: a valid seg-2 of other content. */
	write_segments(e, &k, 3, 1, 0);
	path_of(q, sizeof(q), e, 2, false);
	T_ASSERT_EQ(fsio_read_file(q, 1 << 24, &img, &len), 0);
	path_of(p, sizeof(p), d, 2, false);
	write_file(p, img, len);
	free(img);
	T_ASSERT_EQ(check(d, &c), 2);
	T_ASSERT_EQ(c.si[1].state, SPOOL_SEG_CLOSED); /* valid on its own */
	T_ASSERT_EQ(c.si[1].link, SPOOL_LINK_SUBSTITUTED);
	T_ASSERT_EQ(c.si[2].link, SPOOL_LINK_SUBSTITUTED);
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.st.broken_links, 2);
	T_ASSERT(got_has(&g, "seg-00000002.uts: broken chain of segments: the "
	    "segment before it was substituted"));
	T_ASSERT_EQ(g.n, 90);
	tkeys_finish(&k);
	rm_rf(d);
	rm_rf(e);
}

/* A spool whose seg-1 is left open by a failed close (like a crash). */
static size_t
open_segment(const char *d, const struct tkeys *k, unsigned char **img)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	char p[512];
	size_t len;
	uint64_t seq = 1;
	int b, i;

	topts(&o, d, k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (b = 0; b < 3; b++) {
		for (i = 0; i < 30; i++) {
			mk(&ev, seq++);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
	}
	fsio_fault_arm(FSIO_WRITE, 1, FSIO_FAULT_EIO); /* no trailer */
	T_ASSERT(spool_close(sp) < 0);
	fsio_fault_clear();
	path_of(p, sizeof(p), d, 1, true);
	T_ASSERT_EQ(fsio_read_file(p, 1 << 24, img, &len), 0);
	return len;
}

static void
test_spool_torn_tail_vs_corruption(void)
{
	struct tkeys k;
	struct spool_opts o;
	struct spool *sp;
	struct chk c;
	struct got g;
	unsigned char *img, *x;
	size_t len, hl;
	char p[512];

	tkeys_init(&k);
	char *d = mkdir_tmp();
	len = open_segment(d, &k, &img);
	hl = get_u32le(img + 12);
	T_ASSERT_EQ(hl, 392);
	x = xmalloc(len + 200);
	path_of(p, sizeof(p), d, 1, true);

	/* A crash's torn tail: the last commit cut short.  Not an error. */
	write_file(p, img, len - 40);
	T_ASSERT_EQ(check(d, &c), 0);
	T_ASSERT_EQ(c.si[0].state, SPOOL_SEG_OPEN);
	T_ASSERT(c.si[0].torn_tail);
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 0);
	T_ASSERT_EQ(g.st.torn_tails, 1);
	expect_run(&g, 1, 60);
	/* ... or garbled to the end (a power cut): still torn. */
	memcpy(x, img, len);
	memset(x + len - 60, 0xa7, 60);
	write_file(p, x, len);
	T_ASSERT_EQ(check(d, &c), 0);
	T_ASSERT(c.si[0].torn_tail);

	/* A flipped byte inside the first frame: corruption. */
	memcpy(x, img, len);
	x[hl + 5 + 7] ^= 0x10;
	write_file(p, x, len);
	T_ASSERT_EQ(check(d, &c), 1);
	T_ASSERT_EQ(c.si[0].state, SPOOL_SEG_CORRUPT);
	T_ASSERT(strstr(c.si[0].why, "corrupt") != NULL);
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 1);
	T_ASSERT_EQ(g.n, 0);
	T_ASSERT_EQ(g.st.torn_tails, 0);
	T_ASSERT(got_has(&g, "seg-00000001.uts.open: corrupt after its "
	    "verified part"));
	/* Recovery keeps the evidence: the file stays, unchanged. */
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
	free(img);
	T_ASSERT_EQ(fsio_read_file(p, 1 << 24, &img, &len), 0);
	T_ASSERT(memcmp(img, x, len) == 0);
	T_ASSERT_EQ(check(d, &c), 1);
	free(img);
	free(x);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_closed_cut_or_appended(void)
{
	struct tkeys k;
	struct chk c;
	struct got g;
	unsigned char *img, *x;
	size_t len;
	char p[512];

	tkeys_init(&k);
	char *d = mkdir_tmp();
	write_segments(d, &k, 1, 1, 0);
	path_of(p, sizeof(p), d, 1, false);
	T_ASSERT_EQ(fsio_read_file(p, 1 << 24, &img, &len), 0);
	x = xmalloc(len + 16);
	memcpy(x, img, len);
	memcpy(x + len, "garbage-garbage", 16);
	write_file(p, x, len + 16);
	T_ASSERT_EQ(check(d, &c), 1);
	T_ASSERT_STREQ(c.si[0].why, "bytes after its trailer");
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 1); /* one report, after the verified records */
	T_ASSERT(got_has(&g, "bytes after its trailer"));
	expect_run(&g, 1, 30);
	/* Cut inside the trailer. */
	write_file(p, img, len - 50);
	T_ASSERT_EQ(check(d, &c), 1);
	T_ASSERT_STREQ(c.si[0].why, "closed segment cut short (no trailer)");
	read_all(d, k.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 1);
	T_ASSERT(got_has(&g, "cut short"));
	expect_run(&g, 1, 30);
	free(img);
	free(x);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_foreign_first_segment(void)
{
	struct tkeys a, b;
	struct chk c;
	struct got g;
	unsigned char *img;
	size_t len;
	char p[512], q[512], key[UT_PUBKEY_TEXT_MAX], want[256];

	tkeys_init(&a);
	tkeys_init(&b);
	/* b seals to a's recipient key: only the device differs. */
	memcpy(b.rk->pk, a.rk->pk, 32);
	memcpy(b.rk->sk, a.rk->sk, 32);
	char *da = mkdir_tmp(), *db = mkdir_tmp();
	write_segments(da, &a, 3, 1, 0);
	write_segments(db, &b, 1, 500, 0);
	/* a's seg-1 replaced by b's: a foreign FIRST segment. */
	path_of(q, sizeof(q), db, 1, false);
	T_ASSERT_EQ(fsio_read_file(q, 1 << 24, &img, &len), 0);
	path_of(p, sizeof(p), da, 1, false);
	write_file(p, img, len);
	free(img);
	keys_pubkey_format(b.dev->pk, key, sizeof(key));
	snprintf(want, sizeof(want), "segment signed by another device: %s", key);
	/* Reading with this device's own key: the own segments are read. */
	read_all(da, a.rk, a.dev->pk, &g);
	T_ASSERT_EQ(g.errs, 1);
	T_ASSERT(got_has(&g, want));
	expect_run(&g, 31, 90);
	T_ASSERT_EQ(check(da, &c), 1);
	T_ASSERT_EQ(c.si[0].state, SPOOL_SEG_CORRUPT);
	T_ASSERT_STREQ(c.si[0].why, want);
	T_ASSERT_EQ(c.si[1].state, SPOOL_SEG_CLOSED);
	T_ASSERT_EQ(c.si[1].link, SPOOL_LINK_OK);
	/* Without a hint the device of most segments is trusted. */
	read_all(da, a.rk, NULL, &g);
	T_ASSERT_EQ(g.errs, 1);
	T_ASSERT(got_has(&g, want));
	expect_run(&g, 31, 90);
	tkeys_finish(&a);
	tkeys_finish(&b);
	rm_rf(da);
	rm_rf(db);
}

static const struct t_case cases[] = {
	T_CASE(test_spool_one_writer_per_dir),
	T_CASE(test_spool_link_intact_and_v1_read),
	T_CASE(test_spool_link_deleted_segment),
	T_CASE(test_spool_link_reordered_segments),
	T_CASE(test_spool_link_substituted_segment),
	T_CASE(test_spool_torn_tail_vs_corruption),
	T_CASE(test_spool_closed_cut_or_appended),
	T_CASE(test_spool_foreign_first_segment),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
