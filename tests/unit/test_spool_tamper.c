/*
 * test_spool_tamper.c - tampering and theft (P6, P10).
 *
 *  - Flipped bits at every byte, swapped, duplicated or dropped frames,
 *    truncation at every offset, a segment renamed or copied into another
 *    device's spool, forged checkpoints and trailers: spool_check() reports
 *    the segment corrupt and the reader refuses it; no record that was not
 *    written is ever returned.
 *  - Stolen laptop, in both modes (own passphrase-wrapped recipient key;
 *    --recipient whose secret is elsewhere): with the spool and every file
 *    the device holds, no frame decrypts: every 32-byte window of every
 *    file, and the device key converted to X25519, fail to open any sealed
 *    segment key or to decrypt any frame; a wrong passphrase unlocks
 *    nothing; no plaintext appears in any file.
 *
 * `test_spool_tamper --write-corpus DIR` writes the fuzz corpus of
 * fuzz/fuzz_segment_read.c (fixed keys; see there) instead of testing.
 */
#include "spool_t.h"

#define MARKER "SECRET-MARKER-7a1f"

struct recoff {
	size_t off, len;
	int type;
};

/* Splits a segment image into records (test-side format knowledge). */
static size_t
records(const unsigned char *p, size_t len, struct recoff *v, size_t max)
{
	size_t off = get_u32le(p + 12), n = 0, l;

	while (off < len && n < max) {
		switch (p[off]) {
		case 1:
			l = 5 + get_u32le(p + off + 1);
			break;
		case 2:
			l = 105;
			break;
		case 3:
			l = 117;
			break;
		default:
			return n;
		}
		v[n].off = off;
		v[n].len = l;
		v[n].type = p[off];
		n++;
		off += l;
	}
	return n;
}

/* One closed segment of `commits` commits of 30 records (+ a title). */
static void
make_segment(const char *d, const struct tkeys *k, int commits,
    uint64_t first)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	uint64_t seq = first;
	int b, i;

	topts(&o, d, k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (b = 0; b < commits; b++) {
		for (i = 0; i < 30; i++) {
			mk(&ev, seq++);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
	}
	T_ASSERT_EQ(spool_rotate(sp), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
}

/* Writes img as dir/name; returns (corrupt count, records read, errors). */
static void
probe(const char *d, const char *name, const unsigned char *img, size_t n,
    const struct tkeys *k, unsigned *bad, uint64_t *nrec, int *nerr)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", d, name);
	write_file(path, img, n);
	*bad = 99;
	T_ASSERT_EQ(spool_check(d, NULL, NULL, NULL, bad), 0);
	*nrec = read_run(d, k->rk, 1, nerr);
}

static void
expect_refused(const char *d, const unsigned char *img, size_t n,
    const struct tkeys *k)
{
	unsigned bad;
	uint64_t nrec;
	int nerr;

	probe(d, "seg-00000001.uts", img, n, k, &bad, &nrec, &nerr);
	T_ASSERT_EQ(bad, 1);
	T_ASSERT_EQ(nerr, 1);
	/* Records covered by valid checkpoints may precede the refusal. */
	T_ASSERT(nrec <= 90);
}

static void
test_spool_tamper_detected(void)
{
	struct tkeys k, evil;
	char *d = mkdir_tmp(), path[512];
	unsigned char *orig, *img;
	size_t olen, pos, n, nr, m;
	struct recoff rec[16];
	uint8_t msg[128], head[32];
	unsigned bad;
	uint64_t nrec;
	int nerr, bit;

	tkeys_init(&k);
	tkeys_init(&evil);
	make_segment(d, &k, 3, 1);
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", d);
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &orig, &olen), 0);
	img = xmalloc(olen * 2 + 4096);
	probe(d, "seg-00000001.uts", orig, olen, &k, &bad, &nrec, &nerr);
	T_ASSERT(bad == 0 && nerr == 0 && nrec == 90);
	nr = records(orig, olen, rec, 16);
	T_ASSERT_EQ(nr, 7); /* frame ckpt frame ckpt frame ckpt trailer */
	T_ASSERT(rec[0].type == 1 && rec[1].type == 2 && rec[6].type == 3);

	/* Flipped bits at every byte. */
	for (pos = 0; pos < olen; pos++) {
		bit = 1 << (pos % 8);
		memcpy(img, orig, olen);
		img[pos] ^= (unsigned char)bit;
		expect_refused(d, img, olen, &k);
	}
	/* Truncated at every offset. */
	for (pos = 0; pos < olen; pos++)
		expect_refused(d, orig, pos, &k);
	/* Frames 1 and 2 swapped (checkpoints kept in place). */
	n = 0;
	memcpy(img, orig, rec[0].off);
	n = rec[0].off;
	memcpy(img + n, orig + rec[2].off, rec[2].len);
	n += rec[2].len;
	memcpy(img + n, orig + rec[1].off, rec[1].len);
	n += rec[1].len;
	memcpy(img + n, orig + rec[0].off, rec[0].len);
	n += rec[0].len;
	memcpy(img + n, orig + rec[3].off, olen - rec[3].off);
	n += olen - rec[3].off;
	T_ASSERT_EQ(n, olen);
	expect_refused(d, img, n, &k);
	/* Frame 2 duplicated. */
	m = rec[3].off;
	memcpy(img, orig, m);
	memcpy(img + m, orig + rec[2].off, rec[2].len);
	memcpy(img + m + rec[2].len, orig + m, olen - m);
	expect_refused(d, img, olen + rec[2].len, &k);
	/* Frame 2 dropped, with and without its checkpoint. */
	memcpy(img, orig, rec[2].off);
	memcpy(img + rec[2].off, orig + rec[3].off, olen - rec[3].off);
	expect_refused(d, img, olen - rec[2].len, &k);
	memcpy(img, orig, rec[2].off);
	memcpy(img + rec[2].off, orig + rec[4].off, olen - rec[4].off);
	expect_refused(d, img, olen - rec[2].len - rec[3].len, &k);
	/* A checkpoint with a changed count, and one forged by another key. */
	memcpy(img, orig, olen);
	put_u64le(img + rec[3].off + 1, 1);
	expect_refused(d, img, olen, &k);
	memcpy(img, orig, olen);
	memcpy(head, img + rec[3].off + 9, 32);
	head[0] ^= 1;
	memcpy(img + rec[3].off + 9, head, 32);
	memcpy(msg, "UT-CKPT1", 8);
	/* hh is not known to the test; sign anything: it cannot verify. */
	crypto_sign_detached(img + rec[3].off + 41, NULL, msg, 80, evil.dev->sk);
	expect_refused(d, img, olen, &k);
	/* An extra frame and checkpoint appended after the trailer. */
	memcpy(img, orig, olen);
	memcpy(img + olen, orig + rec[0].off, rec[0].len + rec[1].len);
	expect_refused(d, img, olen + rec[0].len + rec[1].len, &k);
	/* The whole segment re-signed by another device: not this spool's. */
	memcpy(img, orig, olen);
	memcpy(img + 16, evil.dev->pk, 32);
	expect_refused(d, img, olen, &k);

	/* Renamed to another number: refused. */
	write_file(path, orig, olen);
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", d);
	unlink(path);
	probe(d, "seg-00000002.uts", orig, olen, &k, &bad, &nrec, &nerr);
	T_ASSERT(bad == 1 && nerr == 1 && nrec == 0);
	snprintf(path, sizeof(path), "%s/seg-00000002.uts", d);
	unlink(path);

	free(img);
	free(orig);
	tkeys_finish(&k);
	tkeys_finish(&evil);
	rm_rf(d);
}

static void
test_spool_segment_copied_to_another_device(void)
{
	struct tkeys a, b;
	char *da = mkdir_tmp(), *db = mkdir_tmp(), path[512];
	unsigned char *seg;
	size_t len;
	unsigned bad;
	uint64_t nrec;
	int nerr;

	tkeys_init(&a);
	tkeys_init(&b);
	/* b reads with a's recipient key: only the device differs. */
	memcpy(b.rk->pk, a.rk->pk, 32);
	memcpy(b.rk->sk, a.rk->sk, 32);
	make_segment(da, &a, 2, 1);
	make_segment(db, &b, 2, 1);
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", da);
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &seg, &len), 0);
	probe(db, "seg-00000002.uts", seg, len, &b, &bad, &nrec, &nerr);
	T_ASSERT_EQ(bad, 1);
	T_ASSERT_EQ(nerr, 1);
	T_ASSERT_EQ(nrec, 60); /* b's own segment only */
	free(seg);
	tkeys_finish(&a);
	tkeys_finish(&b);
	rm_rf(da);
	rm_rf(db);
}

/* Every key the thief could try against every segment of dir. */
static void
thief(const char *spool, const char *home)
{
	static const char *dirs[2];
	struct segname *unused = NULL;
	char path[1024];
	unsigned char *seg = NULL, *f = NULL;
	size_t slen, flen, w, hl;
	uint8_t key[32], out[64], hh[32], pt[4096];
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned long long ptlen;
	unsigned char tag;
	struct dirent *de;
	unsigned tries = 0, d;
	DIR *dh;

	(void)unused;
	dirs[0] = spool;
	dirs[1] = home;
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", spool);
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &seg, &slen), 0);
	hl = get_u32le(seg + 12); /* 392 (v2) */
	T_ASSERT(slen > hl + 5 + 17);
	/* The plaintext never appears in any file. */
	for (d = 0; d < 2; d++) {
		T_ASSERT((dh = opendir(dirs[d])) != NULL);
		while ((de = readdir(dh)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
			T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &f, &flen), 0);
			T_ASSERT(memmem(f, flen, MARKER, strlen(MARKER)) == NULL);
			/* Every 32-byte window as recipient secret or stream key. */
			for (w = 0; w + 32 <= flen; w++) {
				memcpy(key, f + w, 32);
				T_ASSERT(crypto_box_seal_open(out, seg + 176, 80,
				    seg + 144, key) != 0);
				if (crypto_secretstream_xchacha20poly1305_init_pull(&st,
				    seg + 256, key) == 0) {
					memset(hh, 0, sizeof(hh));
					T_ASSERT(crypto_secretstream_xchacha20poly1305_pull(
					    &st, pt, &ptlen, &tag, seg + hl + 5,
					    UT_MIN(get_u32le(seg + hl + 1), 4096),
					    NULL, 0) != 0);
				}
				tries++;
			}
			/* A 64-byte Ed25519 secret converted to X25519. */
			for (w = 0; w + 64 <= flen; w += 1) {
				if (crypto_sign_ed25519_sk_to_curve25519(key, f + w) == 0)
					T_ASSERT(crypto_box_seal_open(out, seg + 176,
					    80, seg + 144, key) != 0);
			}
			free(f);
		}
		closedir(dh);
	}
	T_ASSERT(tries > 100);
	free(seg);
}

static void
record_one(const char *spool, const char *home, const uint8_t *rpk)
{
	struct ut_device_key *dk = NULL;
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	int i;

	T_ASSERT_EQ(keys_device_load(home, true, &dk), 0);
	memset(&o, 0, sizeof(o));
	o.dir = spool;
	o.device = dk;
	o.recipient_pk = rpk;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 1; i <= 40; i++) {
		mk(&ev, (uint64_t)i);
		if (i == 20) {
			ev.type = UT_EV_FOCUS;
			strcpy(ev.u.focus.title, MARKER);
		}
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	keys_device_free(dk);
}

static int
count_records(const char *spool, const struct ut_recipient_key *rk)
{
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct ut_event ev;
	int r, n = 0;

	memset(&ro, 0, sizeof(ro));
	ro.key = rk;
	T_ASSERT_EQ(spool_reader_open(spool, &ro, &rd), 0);
	while ((r = spool_reader_next(rd, &ev)) == 1) {
		n++;
		if (ev.seq == 20)
			T_ASSERT_STREQ(ev.u.focus.title, MARKER);
	}
	T_ASSERT_EQ(r, 0);
	spool_reader_close(rd);
	return n;
}

static void
test_spool_stolen_laptop_own_key(void)
{
	char *t = mkdir_tmp(), home[512], spool[512];
	struct ut_recipient_key *rk = NULL;
	uint8_t rpk[32];

	snprintf(home, sizeof(home), "%s/home", t);
	snprintf(spool, sizeof(spool), "%s/spool", t);
	T_ASSERT_EQ(keys_recipient_create(home, "correct horse", 13, rpk), 0);
	record_one(spool, home, rpk);
	thief(spool, home);
	T_ASSERT_EQ(keys_recipient_unlock(home, "correct horsf", 13, &rk),
	    UT_EDENIED);
	/* With the passphrase, the person reads it. */
	T_ASSERT_EQ(keys_recipient_unlock(home, "correct horse", 13, &rk), 0);
	T_ASSERT_EQ(count_records(spool, rk), 40);
	keys_recipient_free(rk);
	rm_rf(t);
}

static void
test_spool_stolen_laptop_recipient_elsewhere(void)
{
	char *t = mkdir_tmp(), home[512], spool[512];
	struct tkeys server;

	tkeys_init(&server); /* the server's key pair: not on the device */
	snprintf(home, sizeof(home), "%s/home", t);
	snprintf(spool, sizeof(spool), "%s/spool", t);
	record_one(spool, home, server.rk->pk);
	thief(spool, home);
	T_ASSERT_EQ(count_records(spool, server.rk), 40);
	tkeys_finish(&server);
	rm_rf(t);
}

/* The fuzz corpus: valid and damaged segments under the fixed keys. */
static int
write_corpus(const char *out)
{
	struct tkeys k;
	uint8_t seed[32];
	char *d = mkdir_tmp(), path[1024];
	unsigned char *seg, *img;
	size_t len, i;
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	int n = 0, b, j;

	tkeys_init(&k);
	memset(seed, 0x22, sizeof(seed));
	crypto_box_seed_keypair(k.rk->pk, k.rk->sk, seed);
	memset(seed, 0x11, sizeof(seed));
	crypto_sign_seed_keypair(k.dev->pk, k.dev->sk, seed);
	topts(&o, d, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (b = 0; b < 3; b++) {
		for (j = 0; j < 25; j++) {
			mk(&ev, (uint64_t)(b * 25 + j + 1));
			if (j == 3) {
				ev.type = UT_EV_FOCUS;
				strcpy(ev.u.focus.app, "xterm");
				strcpy(ev.u.focus.title, "a title");
			}
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", d);
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &seg, &len), 0);
	img = xmalloc(len + 1);
#define EMIT(name, p, n_)                                                 \
	do {                                                              \
		snprintf(path, sizeof(path), "%s/%s", out, name);         \
		write_file(path, p, n_);                                  \
		n++;                                                      \
	} while (0)
	EMIT("valid.uts", seg, len);
	EMIT("no-trailer.uts", seg, len - 117);
	EMIT("header-only.uts", seg, get_u32le(seg + 12));
	EMIT("empty.uts", seg, 0);
	for (i = 0; i < 8; i++) {
		char name[64];
		size_t cut = 1 + (len - 1) * i / 8;

		snprintf(name, sizeof(name), "cut%zu.uts", i);
		EMIT(name, seg, cut);
		memcpy(img, seg, len);
		img[cut] ^= 0x40;
		snprintf(name, sizeof(name), "flip%zu.uts", i);
		EMIT(name, img, len);
	}
	memcpy(img, seg, len);
	put_u32le(img + 345, 0xfffffff0u);
	EMIT("hugelen.uts", img, len);
	memcpy(img, seg, len);
	img[8] = 0;
	EMIT("version0.uts", img, len);
	randombytes_buf(img, len);
	EMIT("garbage.uts", img, len);
#undef EMIT
	free(img);
	free(seg);
	tkeys_finish(&k);
	rm_rf(d);
	printf("wrote %d corpus files to %s\n", n, out);
	return 0;
}

static const struct t_case cases[] = {
	T_CASE(test_spool_tamper_detected),
	T_CASE(test_spool_segment_copied_to_another_device),
	T_CASE(test_spool_stolen_laptop_own_key),
	T_CASE(test_spool_stolen_laptop_recipient_elsewhere),
};

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	return t_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
