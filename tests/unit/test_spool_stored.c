/*
 * test_spool_stored.c - the server's view of a segment (docs/FORMAT.md
 * section 2.1): spool_upload_verify(), spool_to_stored_form() and the
 * memory reader.
 *
 *  - A closed segment verifies and its info matches what the writer put;
 *    its stored form verifies as stored and not as original (and the other
 *    way round); records read from either form with the segment key equal
 *    those spool_reader returns; a recovered segment says so.
 *  - An open segment is UT_ESTATE (and reads up to its last checkpoint);
 *    every single flipped byte of a small segment, in both forms, is
 *    refused, truncation at every offset and bytes after the trailer are
 *    refused, another device is UT_EDENIED, a wrong key returns no record.
 *  - The reader over an image verified once (spool_upload_reader_open)
 *    reads the same records, and refuses another segment's info and any
 *    header, frame or trailer byte changed after the verification.
 *  - A complete segment with a checkpoint's signature replaced (zeros, a
 *    flipped bit, another genuine signature of the device) is refused,
 *    although its chain and trailer still verify: the chain covers the
 *    frames only, so the checkpoints' signatures are checked on every
 *    upload (docs/FORMAT.md section 2.1, "Why every checkpoint").
 *
 * `test_spool_stored --write-corpus DIR` writes the fuzz corpus of
 * fuzz/fuzz_upload_verify.c (fixed keys; see there) instead of testing.
 */
#include "spool_t.h"

#define MAXREC 512

/* Header fields the writer is given, to compare with the upload info. */
static void
fill_fields(struct spool_opts *o)
{
	memset(o->subject_id, 0x5a, sizeof(o->subject_id));
	memset(o->policy_hash, 0xa5, sizeof(o->policy_hash));
	memset(o->consent_id, 0x3c, sizeof(o->consent_id));
}

/*
 * Writes `commits` commits of `per` records (one focus record each) to a
 * fresh spool in d; returns the bytes of seg-00000001.uts (malloc'd), or of
 * the .open file when `leave_open` (the writer is then closed afterwards).
 */
static unsigned char *
make_image(const char *d, const struct tkeys *k, int commits, int per,
    bool leave_open, size_t *len)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	unsigned char *img;
	char path[256];
	uint64_t seq = 1;
	int b, i;

	topts(&o, d, k);
	fill_fields(&o);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (b = 0; b < commits; b++) {
		for (i = 0; i < per; i++) {
			mk(&ev, seq++);
			if (i == 1) {
				ev.type = UT_EV_FOCUS;
				strcpy(ev.u.focus.app, "xterm");
				strcpy(ev.u.focus.title, "a title");
			}
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
	}
	if (leave_open) {
		snprintf(path, sizeof(path), "%s/seg-00000001.uts.open", d);
		T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &img, len), 0);
		T_ASSERT_EQ(spool_close(sp), 0);
		return img;
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", d);
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &img, len), 0);
	return img;
}

static void
segment_key(const unsigned char *img, const struct tkeys *k, uint8_t key[32])
{
	T_ASSERT_EQ(crypto_box_seal_open(key, img + 176, 80, k->rk->pk,
	    k->rk->sk), 0);
}

static unsigned char *
dup_image(const unsigned char *img, size_t len, size_t extra)
{
	unsigned char *p = xmalloc(len + extra + 1);

	memcpy(p, img, len);
	return p;
}

/* Reads every record of an image; returns how many, -1 on an error. */
static int
mem_read(const unsigned char *img, size_t len, bool stored,
    const uint8_t key[32], struct ut_event *out, int max)
{
	struct spool_mem_reader *rd;
	int n = 0, r;

	if (spool_mem_reader_open(img, len, stored, key, &rd) < 0)
		return -1;
	while ((r = spool_mem_reader_next(rd, &out[n < max ? n : max - 1])) == 1)
		n++;
	if (r < 0) {
		/* Sticky: no record after an error. */
		T_ASSERT_EQ(spool_mem_reader_next(rd, &out[0]), r);
		n = -1;
	}
	spool_mem_reader_close(rd);
	return n;
}

static bool
refused(int r)
{
	return r == UT_ECORRUPT || r == UT_EDENIED || r == UT_EVERSION ||
	    r == UT_ESTATE;
}

static void
test_spool_stored_info_and_forms(void)
{
	struct tkeys k;
	struct spool_upload_info in, is;
	char *d = mkdir_tmp();
	unsigned char *img, *st;
	uint8_t h[32], m[208 + 24 + 48], hh[32], zero[80];
	size_t len;

	tkeys_init(&k);
	img = make_image(d, &k, 3, 10, false, &len);
	memset(zero, 0, sizeof(zero));
	T_ASSERT_EQ(spool_upload_verify(img, len, false, NULL, &in), 0);
	T_ASSERT_EQ(spool_upload_verify(img, len, false, k.dev->pk, &in), 0);
	T_ASSERT(memcmp(in.device_pk, k.dev->pk, 32) == 0);
	T_ASSERT(memcmp(in.recipient_pk, k.rk->pk, 32) == 0);
	memset(h, 0x5a, 16);
	T_ASSERT(memcmp(in.subject_id, h, 16) == 0);
	memset(h, 0xa5, 32);
	T_ASSERT(memcmp(in.policy_hash, h, 32) == 0);
	memset(h, 0x3c, 16);
	T_ASSERT(memcmp(in.consent_id, h, 16) == 0);
	T_ASSERT(memcmp(in.segment_id, img + 64, 16) == 0);
	T_ASSERT_EQ(in.segment_no, 1);
	T_ASSERT_EQ(in.start_wall_ns, (int64_t)get_u64le(img + 88));
	T_ASSERT(in.start_wall_ns > 0 && in.end_wall_ns >= in.start_wall_ns);
	T_ASSERT_EQ(in.frames, 3);
	T_ASSERT(!in.recovered);
	T_ASSERT(memcmp(in.sealed_key, img + 176, 80) == 0);
	crypto_generichash(h, 32, img + 176, 80, NULL, 0);
	T_ASSERT(memcmp(in.sealed_key_hash, h, 32) == 0);
	memcpy(m, img, 176);
	memcpy(m + 176, h, 32);
	/* v2: the link (16 + 32) sits between the stream header and the sig. */
	memcpy(m + 208, img + 256, 24 + 48);
	crypto_generichash(hh, 32, m, sizeof(m), NULL, 0);
	T_ASSERT(memcmp(in.header_hash, hh, 32) == 0);
	T_ASSERT(memcmp(in.chain_head, img + len - 117 + 21, 32) == 0);

	/* Stored form: same length, hash || zeros, every other byte kept. */
	st = dup_image(img, len, 0);
	spool_to_stored_form(st, len);
	T_ASSERT(memcmp(st, img, 176) == 0);
	T_ASSERT(memcmp(st + 176, h, 32) == 0);
	T_ASSERT(memcmp(st + 208, zero, 48) == 0);
	T_ASSERT(memcmp(st + 256, img + 256, len - 256) == 0);
	T_ASSERT_EQ(spool_upload_verify(st, len, true, k.dev->pk, &is), 0);
	T_ASSERT(memcmp(is.sealed_key, zero, 80) == 0);
	memcpy(is.sealed_key, in.sealed_key, 80);
	T_ASSERT(memcmp(&is, &in, sizeof(is)) == 0);
	/* Each form only as itself. */
	T_ASSERT_EQ(spool_upload_verify(st, len, false, NULL, &is), UT_ECORRUPT);
	T_ASSERT_EQ(spool_upload_verify(img, len, true, NULL, &is), UT_ECORRUPT);
	free(st);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_stored_reads_same_records(void)
{
	static struct ut_event a[MAXREC], b[MAXREC], c[MAXREC];
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct tkeys k;
	char *d = mkdir_tmp();
	unsigned char *img, *st;
	uint8_t key[32];
	size_t len;
	int n = 0, r, i;

	tkeys_init(&k);
	img = make_image(d, &k, 4, 40, false, &len);
	memset(&ro, 0, sizeof(ro));
	ro.key = k.rk;
	T_ASSERT_EQ(spool_reader_open(d, &ro, &rd), 0);
	while ((r = spool_reader_next(rd, &a[n])) == 1)
		T_ASSERT(++n < MAXREC);
	T_ASSERT_EQ(r, 0);
	spool_reader_close(rd);
	T_ASSERT_EQ(n, 160);

	segment_key(img, &k, key);
	st = dup_image(img, len, 0);
	spool_to_stored_form(st, len);
	T_ASSERT_EQ(mem_read(img, len, false, key, b, MAXREC), n);
	T_ASSERT_EQ(mem_read(st, len, true, key, c, MAXREC), n);
	for (i = 0; i < n; i++) {
		T_ASSERT(memcmp(&a[i], &b[i], sizeof(a[i])) == 0);
		T_ASSERT(memcmp(&a[i], &c[i], sizeof(a[i])) == 0);
	}
	T_ASSERT_EQ(c[1].type, UT_EV_FOCUS);
	T_ASSERT_STREQ(c[1].u.focus.title, "a title");
	/* The wrong form is refused by the reader too. */
	T_ASSERT_EQ(mem_read(st, len, false, key, c, MAXREC), -1);
	T_ASSERT_EQ(mem_read(img, len, true, key, c, MAXREC), -1);
	sodium_memzero(key, sizeof(key));
	free(st);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_stored_open_and_recovered(void)
{
	static struct ut_event ev[MAXREC];
	struct spool_upload_info in;
	struct spool_opts o;
	struct spool *sp;
	struct tkeys k;
	char *d = mkdir_tmp(), *d2 = mkdir_tmp(), path[256];
	unsigned char *img, *rec;
	uint8_t key[32];
	size_t len, rlen;
	int i;

	tkeys_init(&k);
	img = make_image(d, &k, 2, 5, true, &len);
	T_ASSERT_EQ(spool_upload_verify(img, len, false, NULL, &in), UT_ESTATE);
	/* The memory reader reads an open segment up to its last checkpoint. */
	segment_key(img, &k, key);
	T_ASSERT_EQ(mem_read(img, len, false, key, ev, MAXREC), 10);
	for (i = 0; i < 10; i++)
		T_ASSERT_EQ(ev[i].seq, (uint64_t)i + 1);
	/* With a torn frame after that checkpoint, still 10 records. */
	rec = dup_image(img, len, 64);
	memset(rec + len, 0x77, 64);
	rec[len] = 1;
	put_u32le(rec + len + 1, 40);
	T_ASSERT_EQ(spool_upload_verify(rec, len + 30, false, NULL, &in),
	    UT_ECORRUPT);
	T_ASSERT_EQ(mem_read(rec, len + 30, false, key, ev, MAXREC), 10);
	free(rec);

	/* Recovery closes it with the "recovered" flag. */
	snprintf(path, sizeof(path), "%s/seg-00000001.uts.open", d2);
	write_file(path, img, len);
	topts(&o, d2, &k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	T_ASSERT_EQ(spool_close(sp), 0);
	snprintf(path, sizeof(path), "%s/seg-00000001.uts", d2);
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &rec, &rlen), 0);
	T_ASSERT_EQ(spool_upload_verify(rec, rlen, false, k.dev->pk, &in), 0);
	T_ASSERT(in.recovered);
	T_ASSERT_EQ(in.frames, 2);
	spool_to_stored_form(rec, rlen);
	T_ASSERT_EQ(spool_upload_verify(rec, rlen, true, k.dev->pk, &in), 0);
	T_ASSERT(in.recovered);
	T_ASSERT_EQ(mem_read(rec, rlen, true, key, ev, MAXREC), 10);
	sodium_memzero(key, sizeof(key));
	free(rec);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
	rm_rf(d2);
}

/* Every flipped byte, both forms: refused; no record that was not written. */
static void
test_spool_stored_every_flip_refused(void)
{
	static struct ut_event ev[MAXREC];
	struct spool_upload_info in;
	struct tkeys k;
	char *d = mkdir_tmp();
	unsigned char *img, *p;
	uint8_t key[32];
	size_t len, i;
	int form, r, n, j;

	tkeys_init(&k);
	img = make_image(d, &k, 2, 3, false, &len);
	segment_key(img, &k, key);
	p = dup_image(img, len, 0);
	for (form = 0; form < 2; form++) {
		memcpy(p, img, len);
		if (form == 1)
			spool_to_stored_form(p, len);
		T_ASSERT_EQ(spool_upload_verify(p, len, form, NULL, &in), 0);
		for (i = 0; i < len; i++) {
			p[i] ^= (uint8_t)(1u << (i % 8));
			memset(&in, 0xee, sizeof(in));
			r = spool_upload_verify(p, len, form, NULL, &in);
			if (!refused(r))
				T_FAIL("form %d flip at %zu: %d", form, i, r);
			T_ASSERT_EQ(in.frames, 0xeeeeeeeeeeeeeeeeull);
			if (i == 8 || i == 9)
				T_ASSERT_EQ(r, UT_EVERSION);
			else if (i >= 176 && i < 256)
				T_ASSERT_EQ(r, UT_ECORRUPT); /* hash or padding */
			n = mem_read(p, len, form, key, ev, MAXREC);
			T_ASSERT(n <= 6);
			for (j = 0; j < n; j++) {
				T_ASSERT_EQ(ev[j].seq, (uint64_t)j + 1);
				if (ev[j].type != UT_EV_FOCUS)
					T_ASSERT(same_as_mk(&ev[j]));
			}
			p[i] ^= (uint8_t)(1u << (i % 8));
		}
	}
	sodium_memzero(key, sizeof(key));
	free(p);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_stored_truncated_appended_refused(void)
{
	static const uint8_t tails[] = { 0, 1, 2, 3, 0xff };
	struct spool_upload_info in;
	struct tkeys k;
	char *d = mkdir_tmp();
	unsigned char *img, *p;
	size_t len, i;
	int form, r;

	tkeys_init(&k);
	img = make_image(d, &k, 2, 3, false, &len);
	p = dup_image(img, len, 200);
	for (form = 0; form < 2; form++) {
		memcpy(p, img, len);
		if (form == 1)
			spool_to_stored_form(p, len);
		for (i = 0; i < len; i++) {
			r = spool_upload_verify(p, i, form, NULL, &in);
			if (!refused(r))
				T_FAIL("form %d cut at %zu: %d", form, i, r);
		}
		for (i = 0; i < sizeof(tails); i++) {
			p[len] = tails[i];
			T_ASSERT_EQ(spool_upload_verify(p, len + 1, form, NULL,
			    &in), UT_ECORRUPT);
		}
		/* A second copy of the trailer, of a checkpoint. */
		memcpy(p + len, p + len - 117, 117);
		T_ASSERT_EQ(spool_upload_verify(p, len + 117, form, NULL, &in),
		    UT_ECORRUPT);
		memcpy(p + len, p + len - 117 - 105, 105);
		T_ASSERT_EQ(spool_upload_verify(p, len + 105, form, NULL, &in),
		    UT_ECORRUPT);
		T_ASSERT_EQ(spool_upload_verify(p, len, form, NULL, &in), 0);
	}
	free(p);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
}

static void
test_spool_stored_other_device_and_wrong_key(void)
{
	static struct ut_event ev[MAXREC];
	struct spool_upload_info in;
	struct spool_mem_reader *rd;
	struct tkeys k, other;
	char *d = mkdir_tmp();
	unsigned char *img, *st;
	uint8_t key[32];
	size_t len;
	int r;

	tkeys_init(&k);
	tkeys_init(&other);
	img = make_image(d, &k, 2, 5, false, &len);
	st = dup_image(img, len, 0);
	spool_to_stored_form(st, len);
	T_ASSERT_EQ(spool_upload_verify(img, len, false, other.dev->pk, &in),
	    UT_EDENIED);
	T_ASSERT_EQ(spool_upload_verify(st, len, true, other.dev->pk, &in),
	    UT_EDENIED);
	T_ASSERT_EQ(spool_upload_verify(st, len, true, k.dev->pk, &in), 0);

	/* A wrong key (random, or another segment's) returns no record. */
	randombytes_buf(key, sizeof(key));
	T_ASSERT_EQ(mem_read(img, len, false, key, ev, MAXREC), -1);
	T_ASSERT_EQ(mem_read(st, len, true, key, ev, MAXREC), -1);
	r = spool_mem_reader_open(st, len, true, key, &rd);
	if (r == 0) {
		T_ASSERT_EQ(spool_mem_reader_next(rd, &ev[0]), UT_ECRYPTO);
		T_ASSERT_EQ(spool_mem_reader_next(rd, &ev[0]), UT_ECRYPTO);
		spool_mem_reader_close(rd);
	} else {
		T_ASSERT(r == UT_ECRYPTO || r == UT_EDENIED);
	}
	spool_mem_reader_close(NULL);
	sodium_memzero(key, sizeof(key));
	free(st);
	free(img);
	tkeys_finish(&other);
	tkeys_finish(&k);
	rm_rf(d);
}

/* Reads every record through spool_upload_reader_open(); as mem_read(). */
static int
verified_read(const unsigned char *img, size_t len, bool stored,
    const struct spool_upload_info *in, const uint8_t key[32],
    struct ut_event *out, int max, int *err)
{
	struct spool_mem_reader *rd;
	int n = 0, r;

	if ((r = spool_upload_reader_open(img, len, stored, in, key, &rd)) < 0) {
		*err = r;
		return -1;
	}
	while ((r = spool_mem_reader_next(rd, &out[n < max ? n : max - 1])) == 1)
		n++;
	*err = r;
	if (r < 0) {
		T_ASSERT_EQ(spool_mem_reader_next(rd, &out[0]), r);
		n = -1;
	}
	spool_mem_reader_close(rd);
	return n;
}

/* True when off lies in a checkpoint record of a closed image. */
static bool
in_checkpoint(const unsigned char *p, size_t len, size_t off)
{
	size_t o = get_u32le(p + 12), rl;

	while (o < len) {
		if (p[o] == 1)
			rl = 5 + get_u32le(p + o + 1);
		else if (p[o] == 2)
			rl = 1 + 8 + 32 + 64;
		else
			return false;
		if (off >= o && off < o + rl)
			return p[o] == 2;
		o += rl;
	}
	return false;
}

/*
 * The server's reader over an image verified once: the same records as
 * the verifying reader, in both forms; an info of another segment, and a
 * header, frame or trailer changed after the verification, give no
 * complete read (only a checkpoint between frames or the header's
 * signature, which the reader skips and the verification checked, may
 * change unnoticed).
 */
static void
test_spool_stored_verified_once_reader(void)
{
	static struct ut_event a[MAXREC], b[MAXREC];
	struct spool_upload_info in, is, io;
	struct tkeys k;
	char *d = mkdir_tmp(), *d2 = mkdir_tmp();
	unsigned char *img, *st, *other, *p;
	uint8_t key[32], wrong[32];
	size_t len, olen, i;
	int n, err, skipped = 0;

	tkeys_init(&k);
	img = make_image(d, &k, 4, 10, false, &len);
	other = make_image(d2, &k, 4, 10, false, &olen);
	segment_key(img, &k, key);
	st = dup_image(img, len, 0);
	spool_to_stored_form(st, len);
	T_ASSERT_EQ(spool_upload_verify(img, len, false, k.dev->pk, &in), 0);
	T_ASSERT_EQ(spool_upload_verify(st, len, true, k.dev->pk, &is), 0);
	T_ASSERT_EQ(spool_upload_verify(other, olen, false, k.dev->pk, &io), 0);
	n = mem_read(img, len, false, key, a, MAXREC);
	T_ASSERT_EQ(n, 40);
	T_ASSERT_EQ(verified_read(img, len, false, &in, key, b, MAXREC, &err), n);
	for (i = 0; i < (size_t)n; i++)
		T_ASSERT(memcmp(&a[i], &b[i], sizeof(a[i])) == 0);
	T_ASSERT_EQ(verified_read(st, len, true, &is, key, b, MAXREC, &err), n);
	for (i = 0; i < (size_t)n; i++)
		T_ASSERT(memcmp(&a[i], &b[i], sizeof(a[i])) == 0);
	/* The wrong form, another segment's info, a wrong key. */
	T_ASSERT_EQ(verified_read(st, len, false, &in, key, b, MAXREC, &err), -1);
	T_ASSERT_EQ(err, UT_ECORRUPT);
	T_ASSERT_EQ(verified_read(img, len, false, &io, key, b, MAXREC, &err), -1);
	T_ASSERT_EQ(err, UT_ECORRUPT);
	randombytes_buf(wrong, sizeof(wrong));
	T_ASSERT_EQ(verified_read(img, len, false, &in, wrong, b, MAXREC, &err), -1);
	T_ASSERT(err == UT_ECRYPTO);
	/* A cut image (its trailer gone) is not the verified one. */
	T_ASSERT_EQ(verified_read(img, len - 117, false, &in, key, b, MAXREC,
	    &err), -1);
	/* Every byte changed after the verification. */
	p = dup_image(img, len, 0);
	for (i = 0; i < len; i++) {
		memcpy(p, img, len);
		p[i] ^= 0x40;
		n = verified_read(p, len, false, &in, key, b, MAXREC, &err);
		if (n >= 0) {
			/*
			 * Only a checkpoint or the header's signature, which
			 * the reader skips; the records are the same.
			 */
			T_ASSERT(in_checkpoint(img, len, i) ||
			    (i >= get_u32le(img + 12) - 64 && i < get_u32le(img + 12)));
			T_ASSERT_EQ(n, 40);
			skipped++;
		}
	}
	T_ASSERT(skipped > 0);
	sodium_memzero(key, sizeof(key));
	free(p);
	free(st);
	free(other);
	free(img);
	tkeys_finish(&k);
	rm_rf(d2);
	rm_rf(d);
}

/*
 * The chain is over the frames only: head_i = BLAKE2b-256(head_(i-1) ||
 * u32 n || ciphertext_i) from head_0 = BLAKE2b-256("UT-CHAIN" || HH).
 * Returns the head after every frame of the image (records from hl on).
 */
static void
frames_chain(const unsigned char *p, size_t len, const uint8_t hh[32],
    uint8_t head[32])
{
	crypto_generichash_state st;
	size_t o = get_u32le(p + 12);
	uint32_t n;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"UT-CHAIN", 8);
	crypto_generichash_update(&st, hh, 32);
	crypto_generichash_final(&st, head, 32);
	while (o < len && p[o] != 3) {
		if (p[o] == 1) {
			n = get_u32le(p + o + 1);
			crypto_generichash_init(&st, NULL, 0, 32);
			crypto_generichash_update(&st, head, 32);
			crypto_generichash_update(&st, p + o + 1, 4);
			crypto_generichash_update(&st, p + o + 5, n);
			crypto_generichash_final(&st, head, 32);
			o += 5 + n;
		} else {
			T_ASSERT_EQ(p[o], 2);
			o += 1 + 8 + 32 + 64;
		}
	}
}

/* True when the trailer (the last 117 bytes) is signed by dev over what it states. */
static bool
trailer_signed(const unsigned char *p, size_t len, const uint8_t hh[32],
    const uint8_t dev[32])
{
	const unsigned char *t = p + len - 117;
	uint8_t msg[8 + 32 + 4 + 8 + 8 + 32];

	memcpy(msg, "UT-TRLR1", 8);
	memcpy(msg + 8, hh, 32);
	memcpy(msg + 40, t + 1, 4 + 8 + 8 + 32);
	return t[0] == 3 && crypto_sign_verify_detached(t + 53, msg,
	    sizeof(msg), dev) == 0;
}

/*
 * A checkpoint's signature in a complete (closed) segment: the trailer's
 * signature covers HH, the frame count and the chain head, and the chain
 * covers only the frames (docs/FORMAT.md section 2), so nothing but the
 * checkpoint's own signature check covers its 64 signature bytes.  Each
 * replacement below leaves the chain and the trailer valid (asserted), and
 * spool_upload_verify() must still refuse it in both forms: zeros, one bit
 * flipped, and a genuine signature of the same device key taken from
 * another checkpoint or from the trailer.  This is why the server verifies
 * every checkpoint of an upload even though the trailer is valid.
 */
static void
test_spool_stored_checkpoint_sig_refused(void)
{
	static struct ut_event ev[MAXREC];
	struct spool_upload_info in;
	struct tkeys k;
	char *d = mkdir_tmp();
	unsigned char *img, *p;
	uint8_t key[32], head[32], hh[32];
	size_t len, o, ck[16], nck = 0, c;
	int form, kind, n, all;

	tkeys_init(&k);
	img = make_image(d, &k, 4, 3, false, &len);
	segment_key(img, &k, key);
	T_ASSERT_EQ(spool_upload_verify(img, len, false, k.dev->pk, &in), 0);
	memcpy(hh, in.header_hash, sizeof(hh));
	all = mem_read(img, len, false, key, ev, MAXREC);
	T_ASSERT_EQ(all, 12);
	for (o = get_u32le(img + 12); o < len && img[o] != 3;) {
		if (img[o] == 2) {
			T_ASSERT(nck < 16);
			ck[nck++] = o;
			o += 105;
		} else {
			o += 5 + get_u32le(img + o + 1);
		}
	}
	T_ASSERT_EQ(o, len - 117);
	T_ASSERT(nck >= 2);
	p = dup_image(img, len, 0);
	for (form = 0; form < 2; form++) {
		for (c = 0; c < nck; c++) {
			for (kind = 0; kind < 4; kind++) {
				unsigned char *sig;

				memcpy(p, img, len);
				if (form == 1)
					spool_to_stored_form(p, len);
				sig = p + ck[c] + 1 + 8 + 32;
				if (kind == 0)
					memset(sig, 0, 64);
				else if (kind == 1)
					sig[63] ^= 0x01;
				else if (kind == 2)
					memcpy(sig, img + ck[(c + 1) % nck] + 41, 64);
				else
					memcpy(sig, img + len - 64, 64);
				/* Nothing else covers these bytes. */
				frames_chain(p, len, hh, head);
				T_ASSERT(memcmp(head, p + len - 117 + 21, 32) == 0);
				T_ASSERT(trailer_signed(p, len, hh, k.dev->pk));
				T_ASSERT_EQ(spool_upload_verify(p, len, form,
				    k.dev->pk, &in), UT_ECORRUPT);
				/* The reading verifier stops before it. */
				n = mem_read(p, len, form, key, ev, MAXREC);
				T_ASSERT(n < all);
			}
		}
	}
	sodium_memzero(key, sizeof(key));
	free(p);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
}

/* The fuzz corpus of fuzz/fuzz_upload_verify.c, under its fixed keys. */
static int
write_corpus(const char *out)
{
	struct tkeys k;
	uint8_t seed[32];
	char *d = mkdir_tmp(), path[1024];
	unsigned char *img, *st;
	size_t len;

	tkeys_init(&k);
	memset(seed, 0x22, sizeof(seed));
	crypto_box_seed_keypair(k.rk->pk, k.rk->sk, seed);
	memset(seed, 0x11, sizeof(seed));
	crypto_sign_seed_keypair(k.dev->pk, k.dev->sk, seed);
	img = make_image(d, &k, 2, 4, false, &len);
	st = dup_image(img, len, 0);
	spool_to_stored_form(st, len);
#define EMIT(name, p, n_)                                                 \
	do {                                                              \
		snprintf(path, sizeof(path), "%s/%s", out, name);         \
		write_file(path, p, n_);                                  \
	} while (0)
	EMIT("valid.uts", img, len);
	EMIT("stored.uts", st, len);
	EMIT("no-trailer.uts", img, len - 117);
	EMIT("stored-cut.uts", st, len - 60);
	EMIT("header-only.uts", st, get_u32le(st + 12));
#undef EMIT
	free(st);
	free(img);
	tkeys_finish(&k);
	rm_rf(d);
	printf("wrote 5 corpus files to %s\n", out);
	return 0;
}

static const struct t_case cases[] = {
	T_CASE(test_spool_stored_info_and_forms),
	T_CASE(test_spool_stored_reads_same_records),
	T_CASE(test_spool_stored_open_and_recovered),
	T_CASE(test_spool_stored_every_flip_refused),
	T_CASE(test_spool_stored_truncated_appended_refused),
	T_CASE(test_spool_stored_other_device_and_wrong_key),
	T_CASE(test_spool_stored_verified_once_reader),
	T_CASE(test_spool_stored_checkpoint_sig_refused),
};

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	return t_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
