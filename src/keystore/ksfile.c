/*
 * ksfile.c - the codec of the key-store files, and the secret tables they
 * decode into (the layout is documented in keystore.c).
 *
 * Every plaintext that holds a key is built and parsed in sodium_malloc'd
 * memory and wiped when freed; only ciphertext and the master file's
 * image pass through ordinary memory, and the latter is wiped at once.
 * A file is parsed only after its AEAD tag verified, but its counts are
 * still checked against its length and the KS_*_MAX ceilings.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "keystore_int.h"

#define GEN_HDR (KS_MAGIC_LEN + 8u)
#define SUBJ_HDR (KS_MAGIC_LEN + 16u + 4u)
#define SUBJ_ROW (16u + KS_KEY_LEN + 4u)
#define DAY_ROW (4u + KS_KEY_LEN)
#define ING_ROW (32u + 4u + KS_KEY_LEN)
#define SERVER_LEN (2u * crypto_sign_SECRETKEYBYTES)
#define FILE_MAX ((size_t)GEN_HDR + KS_NONCE_LEN + KS_TAG_LEN + SERVER_LEN + \
	4u + (size_t)KS_SUBJECTS_MAX * SUBJ_ROW)

/* Guarded allocation of secrets; aborts on OOM like xmalloc. */
static void *
smalloc(size_t n)
{
	void *p = sodium_malloc(n == 0 ? 1 : n);

	if (p == NULL)
		ut_fatal("sodium_malloc(%zu) failed", n);
	return p;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void
ks__gen_free(struct ks_gen *g)
{
	if (g == NULL)
		return;
	sodium_free(g->server);
	sodium_free(g->subj);
	memset(g, 0, sizeof(*g));
}

void
ks__gen_reserve(struct ks_gen *g, size_t n)
{
	struct ks_subj *p;
	size_t cap;

	if (n <= g->capsubj)
		return;
	cap = UT_MAX(n, UT_MAX(g->capsubj * 2, (size_t)16));
	p = smalloc(cap * sizeof(*p));
	if (g->nsubj > 0)
		memcpy(p, g->subj, g->nsubj * sizeof(*p));
	sodium_free(g->subj);   /* wipes the old block */
	g->subj = p;
	g->capsubj = cap;
}

void
ks__gen_copy(struct ks_gen *dst, const struct ks_gen *g)
{
	memset(dst, 0, sizeof(*dst));
	dst->gen = g->gen;
	dst->server = smalloc(SERVER_LEN);
	memcpy(dst->server, g->server, SERVER_LEN);
	ks__gen_reserve(dst, g->nsubj);
	if (g->nsubj > 0)
		memcpy(dst->subj, g->subj, g->nsubj * sizeof(*g->subj));
	dst->nsubj = g->nsubj;
}

struct ks_subfile *
ks__subfile_new(void)
{
	return xcalloc(1, sizeof(struct ks_subfile));
}

void
ks__subfile_free(struct ks_subfile *sf)
{
	if (sf == NULL)
		return;
	sodium_free(sf->days);
	sodium_free(sf->ing);
	free(sf);
}

void
ks__subfile_reserve(struct ks_subfile *sf, size_t ndays, size_t ning)
{
	struct ks_day *d;
	struct ks_ingest *g;
	size_t cap;

	if (ndays > sf->capdays || sf->days == NULL) {
		cap = UT_MAX(ndays, UT_MAX(sf->capdays * 2, (size_t)8));
		d = smalloc(cap * sizeof(*d));
		if (sf->ndays > 0)
			memcpy(d, sf->days, sf->ndays * sizeof(*d));
		sodium_free(sf->days);
		sf->days = d;
		sf->capdays = cap;
	}
	if (ning > sf->caping || sf->ing == NULL) {
		cap = UT_MAX(ning, UT_MAX(sf->caping * 2, (size_t)8));
		g = smalloc(cap * sizeof(*g));
		if (sf->ning > 0)
			memcpy(g, sf->ing, sf->ning * sizeof(*g));
		sodium_free(sf->ing);
		sf->ing = g;
		sf->caping = cap;
	}
}

/* The directory part of path, for fsio_fsync_dir(). */
static int
dir_of(const char *path, char *dir, size_t dirsz)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(dir, dirsz, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dirsz)
		return UT_ETOOBIG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/* Writes n bytes to a new file path (0600) and fdatasyncs it. */
static int
write_new(const char *path, const void *p, size_t n)
{
	int fd, r;

	(void)unlink(path);
	if ((fd = fsio_open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return fd;
	if ((r = fsio_write_all(fd, p, n)) < 0 || (r = fsio_fsync(fd)) < 0) {
		(void)fsio_close(fd);
		(void)unlink(path);
		return r;
	}
	if ((r = fsio_close(fd)) < 0)
		(void)unlink(path);
	return r;
}

int
ks__write_atomic(const char *path, const void *p, size_t n, bool *renamed)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int r;

	if (renamed != NULL)
		*renamed = false;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (r = dir_of(path, dir, sizeof(dir))) < 0)
		return UT_ETOOBIG;
	if ((r = write_new(tmp, p, n)) < 0)
		return r;
	if ((r = fsio_rename(tmp, path)) < 0) {
		(void)unlink(tmp);
		return r;
	}
	if (renamed != NULL)
		*renamed = true;
	return fsio_fsync_dir(dir);
}

int
ks__master_read(const char *path, uint64_t *gen, uint8_t key[KS_KEY_LEN])
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	if ((r = fsio_read_file(path, 4096, &raw, &len)) < 0)
		return r == -ENOENT ? UT_ENOTFOUND : r;
	if (len != KS_MASTER_FILE_LEN ||
	    memcmp(raw, KS_MASTER_MAGIC, KS_MAGIC_LEN) != 0 ||
	    get_u64(raw + KS_MAGIC_LEN) == 0) {
		r = UT_ECORRUPT;
		goto out;
	}
	*gen = get_u64(raw + KS_MAGIC_LEN);
	memcpy(key, raw + KS_MAGIC_LEN + 8, KS_KEY_LEN);
	r = 0;
out:
	sodium_memzero(raw, len);
	free(raw);
	return r;
}

int
ks__master_write_tmp(const char *tmp, uint64_t gen, const uint8_t key[KS_KEY_LEN])
{
	uint8_t *img = smalloc(KS_MASTER_FILE_LEN);
	int r;

	memcpy(img, KS_MASTER_MAGIC, KS_MAGIC_LEN);
	put_u64(img + KS_MAGIC_LEN, gen);
	memcpy(img + KS_MAGIC_LEN + 8, key, KS_KEY_LEN);
	r = write_new(tmp, img, KS_MASTER_FILE_LEN);
	sodium_free(img);
	return r;
}

/*
 * Seals pt under key into a new file image: hdr (hlen bytes, copied in
 * front), nonce, ciphertext; ad is a slice of hdr.  *out is malloc'd.
 */
static void
seal_image(const uint8_t *hdr, size_t hlen, size_t adoff, size_t adlen,
    const uint8_t *pt, size_t ptlen, const uint8_t key[KS_KEY_LEN],
    uint8_t **out, size_t *outlen)
{
	size_t n = hlen + KS_NONCE_LEN + ptlen + KS_TAG_LEN;
	uint8_t *img = xmalloc(n);

	memcpy(img, hdr, hlen);
	randombytes_buf(img + hlen, KS_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(img + hlen + KS_NONCE_LEN,
	    NULL, pt, ptlen, img + adoff, adlen, NULL, img + hlen, key);
	*out = img;
	*outlen = n;
}

/* Opens an image sealed by seal_image(); *pt sodium_malloc'd. */
static int
open_image(const uint8_t *img, size_t n, size_t hlen, size_t adoff,
    size_t adlen, const uint8_t key[KS_KEY_LEN], uint8_t **pt, size_t *ptlen)
{
	size_t clen;
	uint8_t *p;

	if (n < hlen + KS_NONCE_LEN + KS_TAG_LEN)
		return UT_ECORRUPT;
	clen = n - hlen - KS_NONCE_LEN;
	p = smalloc(clen - KS_TAG_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL,
	    img + hlen + KS_NONCE_LEN, clen, img + adoff, adlen, img + hlen,
	    key) != 0) {
		sodium_free(p);
		return UT_ECRYPTO;
	}
	*pt = p;
	*ptlen = clen - KS_TAG_LEN;
	return 0;
}

int
ks__file_try_open(const uint8_t *file, size_t len, const uint8_t key[KS_KEY_LEN],
    uint8_t **pt, size_t *ptlen)
{
	if (len >= GEN_HDR && memcmp(file, KS_GEN_MAGIC, KS_MAGIC_LEN) == 0)
		return open_image(file, len, GEN_HDR, 0, GEN_HDR, key, pt, ptlen);
	if (len >= SUBJ_HDR && memcmp(file, KS_SUBJ_MAGIC, KS_MAGIC_LEN) == 0)
		return open_image(file, len, SUBJ_HDR, KS_MAGIC_LEN, 20, key,
		    pt, ptlen);
	return UT_ECORRUPT;
}

int
ks__gen_write(const char *path, const struct ks_gen *g,
    const uint8_t master[KS_KEY_LEN], bool *renamed)
{
	uint8_t hdr[GEN_HDR], *pt, *img = NULL, *row;
	size_t ptlen = SERVER_LEN + 4 + g->nsubj * SUBJ_ROW, imglen = 0, i;
	int r;

	memcpy(hdr, KS_GEN_MAGIC, KS_MAGIC_LEN);
	put_u64(hdr + KS_MAGIC_LEN, g->gen);
	pt = smalloc(ptlen);
	memcpy(pt, g->server, SERVER_LEN);
	put_u32(pt + SERVER_LEN, (uint32_t)g->nsubj);
	for (i = 0, row = pt + SERVER_LEN + 4; i < g->nsubj; i++, row += SUBJ_ROW) {
		memcpy(row, g->subj[i].id, 16);
		memcpy(row + 16, g->subj[i].key, KS_KEY_LEN);
		put_u32(row + 16 + KS_KEY_LEN, g->subj[i].version);
	}
	seal_image(hdr, GEN_HDR, 0, GEN_HDR, pt, ptlen, master, &img, &imglen);
	sodium_free(pt);
	r = ks__write_atomic(path, img, imglen, renamed);
	free(img);
	return r;
}

int
ks__gen_read(const char *path, uint64_t gen, const uint8_t master[KS_KEY_LEN],
    struct ks_gen *g)
{
	unsigned char *img = NULL;
	uint8_t *pt = NULL;
	const uint8_t *row;
	size_t len = 0, ptlen = 0, n, i;
	struct ks_gen t;
	int r;

	memset(&t, 0, sizeof(t));
	if ((r = fsio_read_file(path, FILE_MAX, &img, &len)) < 0)
		return r == -ENOENT ? UT_ECORRUPT : r;
	if (len < GEN_HDR || memcmp(img, KS_GEN_MAGIC, KS_MAGIC_LEN) != 0 ||
	    get_u64(img + KS_MAGIC_LEN) != gen) {
		r = UT_ECORRUPT;
		goto out;
	}
	if ((r = open_image(img, len, GEN_HDR, 0, GEN_HDR, master, &pt, &ptlen)) < 0)
		goto out;
	r = UT_ECORRUPT;
	if (ptlen < SERVER_LEN + 4)
		goto out;
	n = get_u32(pt + SERVER_LEN);
	if (n > KS_SUBJECTS_MAX || ptlen != SERVER_LEN + 4 + n * SUBJ_ROW)
		goto out;
	t.gen = gen;
	t.server = smalloc(SERVER_LEN);
	memcpy(t.server, pt, SERVER_LEN);
	ks__gen_reserve(&t, n);
	for (i = 0, row = pt + SERVER_LEN + 4; i < n; i++, row += SUBJ_ROW) {
		memcpy(t.subj[i].id, row, 16);
		memcpy(t.subj[i].key, row + 16, KS_KEY_LEN);
		t.subj[i].version = get_u32(row + 16 + KS_KEY_LEN);
		/* Strictly ascending ids: the table is a sorted set. */
		if (i > 0 && memcmp(t.subj[i - 1].id, t.subj[i].id, 16) >= 0)
			goto out;
		t.nsubj = i + 1;
	}
	t.nsubj = n;
	*g = t;
	memset(&t, 0, sizeof(t));
	r = 0;
out:
	ks__gen_free(&t);
	sodium_free(pt);
	free(img);
	return r;
}

static void
subj_hdr(uint8_t hdr[SUBJ_HDR], const struct ks_subj *s)
{
	memcpy(hdr, KS_SUBJ_MAGIC, KS_MAGIC_LEN);
	memcpy(hdr + KS_MAGIC_LEN, s->id, 16);
	put_u32(hdr + KS_MAGIC_LEN + 16, s->version);
}

int
ks__subfile_write(const char *path, const struct ks_subj *s,
    const struct ks_subfile *sf, bool *renamed)
{
	uint8_t hdr[SUBJ_HDR], *pt, *p, *img = NULL;
	size_t ptlen = 8 + sf->ndays * DAY_ROW + sf->ning * ING_ROW, imglen = 0, i;
	int r;

	subj_hdr(hdr, s);
	p = pt = smalloc(ptlen);
	put_u32(p, (uint32_t)sf->ndays);
	p += 4;
	for (i = 0; i < sf->ndays; i++, p += DAY_ROW) {
		put_u32(p, (uint32_t)sf->days[i].day);
		memcpy(p + 4, sf->days[i].key, KS_KEY_LEN);
	}
	put_u32(p, (uint32_t)sf->ning);
	p += 4;
	for (i = 0; i < sf->ning; i++, p += ING_ROW) {
		memcpy(p, sf->ing[i].dev, 32);
		put_u32(p + 32, (uint32_t)sf->ing[i].day);
		memcpy(p + 36, sf->ing[i].sk, KS_KEY_LEN);
	}
	seal_image(hdr, SUBJ_HDR, KS_MAGIC_LEN, 20, pt, ptlen, s->key, &img,
	    &imglen);
	sodium_free(pt);
	r = ks__write_atomic(path, img, imglen, renamed);
	free(img);
	return r;
}

/* Parses a subject file's plaintext into sf (reserved to fit). */
static int
parse_subfile(const uint8_t *pt, size_t ptlen, struct ks_subfile *sf)
{
	size_t nd, ni, i;
	const uint8_t *p = pt;

	if (ptlen < 8 || (nd = get_u32(p)) > KS_DAYS_MAX ||
	    ptlen < 8 + nd * DAY_ROW)
		return UT_ECORRUPT;
	ni = get_u32(p + 4 + nd * DAY_ROW);
	if (ni > KS_INGEST_MAX || ptlen != 8 + nd * DAY_ROW + ni * ING_ROW)
		return UT_ECORRUPT;
	ks__subfile_reserve(sf, nd, ni);
	for (i = 0, p += 4; i < nd; i++, p += DAY_ROW) {
		sf->days[i].day = (int32_t)get_u32(p);
		memcpy(sf->days[i].key, p + 4, KS_KEY_LEN);
		if (i > 0 && sf->days[i - 1].day >= sf->days[i].day)
			return UT_ECORRUPT;
	}
	for (i = 0, p += 4; i < ni; i++, p += ING_ROW) {
		memcpy(sf->ing[i].dev, p, 32);
		sf->ing[i].day = (int32_t)get_u32(p + 32);
		memcpy(sf->ing[i].sk, p + 36, KS_KEY_LEN);
		crypto_scalarmult_base(sf->ing[i].pk, sf->ing[i].sk);
	}
	sf->ndays = nd;
	sf->ning = ni;
	return 0;
}

int
ks__subfile_read(const char *path, const struct ks_subj *s,
    struct ks_subfile **out)
{
	unsigned char *img = NULL;
	uint8_t hdr[SUBJ_HDR], *pt = NULL;
	size_t len = 0, ptlen = 0;
	struct ks_subfile *sf = NULL;
	int r;

	if ((r = fsio_read_file(path, 8u + (size_t)KS_DAYS_MAX * DAY_ROW +
	    (size_t)KS_INGEST_MAX * ING_ROW + SUBJ_HDR + KS_NONCE_LEN +
	    KS_TAG_LEN, &img, &len)) < 0)
		return r == -ENOENT ? UT_ECORRUPT : r;
	subj_hdr(hdr, s);
	if (len < SUBJ_HDR || memcmp(img, hdr, SUBJ_HDR) != 0) {
		r = UT_ECORRUPT;
		goto out;
	}
	if ((r = open_image(img, len, SUBJ_HDR, KS_MAGIC_LEN, 20, s->key, &pt,
	    &ptlen)) < 0)
		goto out;
	sf = ks__subfile_new();
	if ((r = parse_subfile(pt, ptlen, sf)) < 0)
		goto out;
	*out = sf;
	sf = NULL;
out:
	ks__subfile_free(sf);
	sodium_free(pt);
	free(img);
	return r;
}

/* The AEAD additional data of a day seal: subject || day || ad. */
static size_t
day_ad(uint8_t *buf, const uint8_t subject[16], int32_t day, const uint8_t *ad,
    size_t adlen)
{
	memcpy(buf, subject, 16);
	put_u32(buf + 16, (uint32_t)day);
	if (adlen > 0)
		memcpy(buf + 20, ad, adlen);
	return 20 + adlen;
}

void
ks__day_seal_key(const uint8_t key[KS_KEY_LEN], const uint8_t subject[16],
    int32_t day, const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t n,
    uint8_t *ct)
{
	uint8_t adb[20 + KEYSTORE_AD_MAX];
	size_t al;

	UT_ASSERT(adlen <= KEYSTORE_AD_MAX);
	al = day_ad(adb, subject, day, ad, adlen);
	randombytes_buf(ct, KS_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct + KS_NONCE_LEN, NULL, pt, n,
	    adb, al, NULL, ct, key);
}

int
ks__day_open_key(const uint8_t key[KS_KEY_LEN], const uint8_t subject[16],
    int32_t day, const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t n,
    uint8_t *pt)
{
	uint8_t adb[20 + KEYSTORE_AD_MAX];
	size_t al;

	if (adlen > KEYSTORE_AD_MAX)
		return UT_ETOOBIG;
	if (n < KEYSTORE_SEAL_OVERHEAD)
		return UT_EINVAL;
	al = day_ad(adb, subject, day, ad, adlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL,
	    ct + KS_NONCE_LEN, n - KS_NONCE_LEN, adb, al, ct, key) != 0) {
		sodium_memzero(pt, n - KEYSTORE_SEAL_OVERHEAD);
		return UT_ECRYPTO;
	}
	return 0;
}
