/*
 * ut_keyscan.c - ut-keyscan: tries every key a stopped server's key store
 * still holds on the bytes of files (a data directory, a backup of it, a
 * laptop's copies of its segments), to show that what was erased opens
 * with nothing that is left (promise P9) and, as a positive control, that
 * what was not erased still does.
 *
 *   ut-keyscan --keys DATA/keys --master DATA.master-key [--meta DB]...
 *              [--ingest-all] PATH...
 *
 * PATHs are files or folders (walked recursively, symbolic links not
 * followed).  Three scans, each over every file:
 *
 *  day keys, every window: for every byte offset, every day key and every
 *    segment the --meta databases list (their rows, read through meta.h
 *    read-only), the window of the row's sealed-key length and the window
 *    of its sealed-summary length are tried as keystore_day_seal() output
 *    (XChaCha20-Poly1305, nonce first, additional data subject || day ||
 *    segment id) under that key with the key's own subject and day.  Segment
 *    ids found in segment headers in the PATHs are tried too, at the
 *    sealed-key length.
 *    Only the tag is computed per candidate (see tag_matches()); a match
 *    is confirmed by the key store's own open before it is reported.
 *  ingest keys, where a sealed key can be: crypto_box_seal_open costs one
 *    X25519 per (window, key), about 0.1 ms here, so trying every window
 *    of megabytes is out of reach.  By default the 80-byte window at
 *    header offset 176 of every segment header found anywhere in a file
 *    (the magic "USETRACE" at any offset: segment files, stored blobs, a
 *    segment embedded in another file) is tried against every ingest key;
 *    --ingest-all tries every window of every file instead (for small
 *    inputs).
 *  copies of sealed keys, every window: the sealed keys found in segment
 *    headers that are not in stored form are searched byte-exactly (all
 *    80 bytes, and their 32-byte ephemeral public key alone) in every file;
 *    any place other than their own header is reported.  Since anything an
 *    ingest key opens was sealed by a device to that key, and the devices'
 *    sealed keys are those in their segments, this finds every copy the
 *    window-by-window ingest scan would.
 *
 * Output (stdout): one line "FILE OFFSET KIND SUBJECT DAY" per window
 * that opens (KIND: ingest, day-key, day-summary; SUBJECT 32 hex digits;
 * DAY YYYY-MM-DD of the key), one line "copy FILE OFFSET FROM-FILE" per
 * copy found, then "opened N", "copies N" and a line of counts.  Exit 0
 * when the scan ran (whatever it found), 1 on usage errors, 2 on failure.
 * The server must be stopped: the key store is locked by one process.
 * Keys are copied into sodium_malloc'd memory and wiped before exit; no key
 * or plaintext is ever printed.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/keystore.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "../../src/keystore/keystore_int.h"

#define HDR_LEN 344u
#define HDR_SEALED_OFF 176u
#define HDR_SEGID_OFF 64u
#define FILE_MAX (512u << 20)
#define ROWS_MAX 100000u
#define FILES_MAX 100000u

struct key {
	enum keystore_key_kind kind;
	uint8_t subject[16];
	int32_t day;
	uint8_t *sk;             /* sodium_malloc'd: day key or X25519 sk */
	uint8_t pk[32];
};

/*
 * A candidate for the day-key scan: a segment id and the window lengths to
 * try with it (its sealed key's, 72, and its sealed summary's in each row
 * that names it).
 */
#define CAND_LENS 8u
struct cand {
	uint8_t segid[16];
	size_t len[CAND_LENS];
	size_t nlen;
};

struct sealed {
	uint8_t v[KEYSTORE_SEALED_KEY_LEN];
	const char *file;
	size_t off;
};

struct scan {
	struct key *keys;
	size_t nkeys, capkeys;
	struct cand *cands;
	size_t ncands, capcands;
	char **files;
	size_t nfiles, capfiles;
	struct sealed *seals;
	size_t nseals, capseals;
	bool ingest_all;
	uint64_t opened, copies, windows, day_tries, ingest_tries;
};

static struct scan S;

static int
on_key(const struct keystore_key_view *v, void *arg)
{
	struct key *k;

	(void)arg;
	if (S.nkeys == S.capkeys) {
		S.capkeys = S.capkeys ? 2 * S.capkeys : 64;
		S.keys = xreallocarray(S.keys, S.capkeys, sizeof(*S.keys));
	}
	k = &S.keys[S.nkeys];
	memset(k, 0, sizeof(*k));
	if ((k->sk = sodium_malloc(32)) == NULL)
		return -ENOMEM;
	S.nkeys++;
	k->kind = v->kind;
	memcpy(k->subject, v->subject, 16);
	k->day = v->day;
	memcpy(k->sk, v->key, 32);
	if (v->pk != NULL)
		memcpy(k->pk, v->pk, 32);
	return 0;
}

/* Adds segid with the window lengths l0 and l1 (0: none), merging ids. */
static void
add_cand(const uint8_t segid[16], size_t l0, size_t l1)
{
	const size_t ls[2] = { l0, l1 };
	struct cand *c = NULL;
	size_t i, j;

	for (i = 0; i < S.ncands && c == NULL; i++)
		if (memcmp(S.cands[i].segid, segid, 16) == 0)
			c = &S.cands[i];
	if (c == NULL) {
		if (S.ncands >= ROWS_MAX)
			return;
		if (S.ncands == S.capcands) {
			S.capcands = S.capcands ? 2 * S.capcands : 64;
			S.cands = xreallocarray(S.cands, S.capcands, sizeof(*S.cands));
		}
		c = &S.cands[S.ncands++];
		memset(c, 0, sizeof(*c));
		memcpy(c->segid, segid, 16);
	}
	for (j = 0; j < 2; j++) {
		if (ls[j] < KEYSTORE_SEAL_OVERHEAD)
			continue;
		for (i = 0; i < c->nlen && c->len[i] != ls[j]; i++)
			;
		if (i == c->nlen && c->nlen < CAND_LENS)
			c->len[c->nlen++] = ls[j];
	}
}

static int
on_row(const struct meta_segment *m, void *arg)
{
	(void)arg;
	add_cand(m->segment_id, m->wrapped_len, m->summary_len);
	return 0;
}

static int
on_subject_day(const uint8_t subject[16], int32_t day, void *arg)
{
	uint8_t (**subs)[16] = arg;
	size_t *n = (size_t *)(subs + 1);
	size_t i;

	(void)day;
	for (i = 0; i < *n; i++)
		if (memcmp((*subs)[i], subject, 16) == 0)
			return 0;
	*subs = xreallocarray(*subs, *n + 1, 16);
	memcpy((*subs)[*n], subject, 16);
	(*n)++;
	return 0;
}

/* Every segment row of the database at path (read-only). */
static int
load_meta(const char *path)
{
	struct {
		uint8_t (*subs)[16];
		size_t n;
	} sl = { NULL, 0 };
	struct meta *m = NULL;
	char url[4200];
	size_t i;
	int r;

	snprintf(url, sizeof(url), "sqlite:%s", path);
	if ((r = meta_open_readonly(url, &m)) < 0) {
		fprintf(stderr, "ut-keyscan: %s: %s\n", path, ut_strerror(r));
		return r;
	}
	r = meta_subject_days(m, on_subject_day, &sl);
	for (i = 0; r >= 0 && i < sl.n; i++)
		r = meta_segment_list(m, sl.subs[i], META_DAY_ALL, on_row, NULL);
	if (r < 0)
		fprintf(stderr, "ut-keyscan: %s: listing segments: %s\n", path,
		    ut_strerror(r));
	free(sl.subs);
	meta_close(m);
	return r < 0 ? r : 0;
}

static int
on_path(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)f;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (S.nfiles >= FILES_MAX)
		return UT_ETOOBIG;
	if (S.nfiles == S.capfiles) {
		S.capfiles = S.capfiles ? 2 * S.capfiles : 256;
		S.files = xreallocarray(S.files, S.capfiles, sizeof(*S.files));
	}
	S.files[S.nfiles++] = xstrdup(path);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *p;
	size_t n;

	if (f == NULL)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > FILE_MAX) {
		fclose(f);
		return UT_ETOOBIG;
	}
	p = xmalloc((size_t)st.st_size + 1);
	n = fread(p, 1, (size_t)st.st_size, f);
	fclose(f);
	*out = p;
	*len = n;
	return 0;
}

static void
day_str(int32_t day, char buf[16])
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 16, "%Y-%m-%d", &tm);
}

static void
report(const char *file, size_t off, const char *kind, const struct key *k)
{
	char hex[33], day[16];

	sodium_bin2hex(hex, sizeof(hex), k->subject, 16);
	day_str(k->day, day);
	printf("%s %zu %s %s %s\n", file, off, kind, hex, day);
	S.opened++;
}

static bool
is_header(const uint8_t *p, size_t n, size_t o)
{
	return o + HDR_LEN <= n && memcmp(p + o, "USETRACE", 8) == 0;
}

/* True when a header's sealed-key field holds a sealed key, not a hash. */
static bool
header_sealed(const uint8_t *h)
{
	static const uint8_t zero[48];

	return memcmp(h + HDR_SEALED_OFF + 32, zero, 48) != 0;
}

/* First pass over the files: segment ids and sealed keys of headers. */
static int
collect_headers(void)
{
	uint8_t *p;
	size_t n, i, o;
	int r;

	for (i = 0; i < S.nfiles; i++) {
		if ((r = read_file(S.files[i], &p, &n)) < 0) {
			fprintf(stderr, "ut-keyscan: %s: %s\n", S.files[i],
			    ut_strerror(r));
			return r;
		}
		for (o = 0; o + HDR_LEN <= n; o++) {
			if (!is_header(p, n, o))
				continue;
			add_cand(p + o + HDR_SEGID_OFF, 32 + KEYSTORE_SEAL_OVERHEAD, 0);
			if (!header_sealed(p + o) || S.nseals >= ROWS_MAX)
				continue;
			if (S.nseals == S.capseals) {
				S.capseals = S.capseals ? 2 * S.capseals : 64;
				S.seals = xreallocarray(S.seals, S.capseals,
				    sizeof(*S.seals));
			}
			memcpy(S.seals[S.nseals].v, p + o + HDR_SEALED_OFF,
			    KEYSTORE_SEALED_KEY_LEN);
			S.seals[S.nseals].file = S.files[i];
			S.seals[S.nseals].off = o + HDR_SEALED_OFF;
			S.nseals++;
		}
		free(p);
	}
	return 0;
}

static void
try_ingest(const char *file, const uint8_t *w, size_t off, uint8_t *pt)
{
	size_t k;

	for (k = 0; k < S.nkeys; k++) {
		if (S.keys[k].kind != KS_KIND_INGEST)
			continue;
		S.ingest_tries++;
		if (crypto_box_seal_open(pt, w, KEYSTORE_SEALED_KEY_LEN,
		    S.keys[k].pk, S.keys[k].sk) == 0)
			report(file, off, "ingest", &S.keys[k]);
	}
}

/*
 * The day-key scan's inner step.  A window opens under a day key when it is
 * nonce (24) || ciphertext || tag (16) of XChaCha20-Poly1305-IETF with
 * additional data subject || day (u32 little-endian) || segment id.  The
 * subkey (HChaCha20 of the nonce's first 16 bytes) and the Poly1305 key
 * (the first ChaCha20 block) depend only on the window and the key, so they
 * are made once per (window, key) and only the tag is computed per
 * candidate and length; a tag that matches is confirmed with the key
 * store's own ks__day_open_key() before it is reported (a mistake here
 * shows as a missing line, which the tests' positive controls catch).
 * derived[] is sodium_malloc'd and wiped by the caller.
 */
static bool
tag_matches(const uint8_t polykey[32], const uint8_t ad[36], const uint8_t *w,
    size_t len)
{
	static const uint8_t zero[16];
	crypto_onetimeauth_poly1305_state st;
	uint8_t lens[16], mac[16];
	size_t clen = len - KEYSTORE_SEAL_OVERHEAD;
	bool ok;

	crypto_onetimeauth_poly1305_init(&st, polykey);
	crypto_onetimeauth_poly1305_update(&st, ad, 36);
	crypto_onetimeauth_poly1305_update(&st, zero, (16 - 36 % 16) % 16);
	crypto_onetimeauth_poly1305_update(&st, w + 24, clen);
	crypto_onetimeauth_poly1305_update(&st, zero, (16 - clen % 16) % 16);
	put_u64le(lens, 36);
	put_u64le(lens + 8, clen);
	crypto_onetimeauth_poly1305_update(&st, lens, 16);
	crypto_onetimeauth_poly1305_final(&st, mac);
	ok = crypto_verify_16(mac, w + 24 + clen) == 0;
	sodium_memzero(&st, sizeof(st));
	return ok;
}

static void
scan_day(const char *file, const uint8_t *p, size_t n, uint8_t *pt,
    uint8_t *derived)
{
	uint8_t *subkey = derived, *polykey = derived + 32, npub[12] = { 0 };
	uint8_t ad[36];
	size_t o, k, c, j, l;

	for (o = 0; o < n; o++) {
		S.windows++;
		if (n - o < KEYSTORE_SEAL_OVERHEAD)
			continue;
		memcpy(npub + 4, p + o + 16, 8);
		for (k = 0; k < S.nkeys; k++) {
			if (S.keys[k].kind != KS_KIND_DAY)
				continue;
			crypto_core_hchacha20(subkey, p + o, S.keys[k].sk, NULL);
			crypto_stream_chacha20_ietf(polykey, 32, npub, subkey);
			memcpy(ad, S.keys[k].subject, 16);
			put_u32le(ad + 16, (uint32_t)S.keys[k].day);
			for (c = 0; c < S.ncands; c++) {
				memcpy(ad + 20, S.cands[c].segid, 16);
				for (j = 0; j < S.cands[c].nlen; j++) {
					l = S.cands[c].len[j];
					if (l > n - o)
						continue;
					S.day_tries++;
					if (!tag_matches(polykey, ad, p + o, l) ||
					    ks__day_open_key(S.keys[k].sk,
					    S.keys[k].subject, S.keys[k].day,
					    S.cands[c].segid, 16, p + o, l, pt) != 0)
						continue;
					report(file, o, l == 32 + KEYSTORE_SEAL_OVERHEAD ?
					    "day-key" : "day-summary", &S.keys[k]);
				}
			}
		}
	}
}

static void
scan_copies(const char *file, const uint8_t *p, size_t n)
{
	const uint8_t *q;
	size_t s, off, from;
	int part;

	for (s = 0; s < S.nseals; s++)
		for (part = 0; part < 2; part++) {
			size_t len = part == 0 ? KEYSTORE_SEALED_KEY_LEN : 32;

			for (from = 0; from + len <= n; from = off + 1) {
				q = memmem(p + from, n - from, S.seals[s].v, len);
				if (q == NULL)
					break;
				off = (size_t)(q - p);
				if (strcmp(file, S.seals[s].file) == 0 &&
				    off == S.seals[s].off)
					continue;
				/* A whole copy is also an ephemeral-key copy. */
				if (part == 1 && off + KEYSTORE_SEALED_KEY_LEN <= n &&
				    memcmp(q, S.seals[s].v, KEYSTORE_SEALED_KEY_LEN) == 0)
					continue;
				printf("copy %s %zu %s\n", file, off, S.seals[s].file);
				S.copies++;
			}
		}
}

static int
scan_file(const char *file, uint8_t *pt, uint8_t *derived)
{
	uint8_t *p;
	size_t n, o;
	int r;

	if ((r = read_file(file, &p, &n)) < 0) {
		fprintf(stderr, "ut-keyscan: %s: %s\n", file, ut_strerror(r));
		return r;
	}
	scan_day(file, p, n, pt, derived);
	for (o = 0; o + KEYSTORE_SEALED_KEY_LEN <= n; o++) {
		if (S.ingest_all)
			try_ingest(file, p + o, o, pt);
		else if (is_header(p, n, o))
			try_ingest(file, p + o + HDR_SEALED_OFF, o + HDR_SEALED_OFF, pt);
	}
	scan_copies(file, p, n);
	sodium_memzero(p, n);
	free(p);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ut-keyscan --keys DIR --master FILE "
	    "[--meta DB]... [--ingest-all] PATH...\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "master", required_argument, NULL, 'm' },
		{ "meta", required_argument, NULL, 'd' },
		{ "ingest-all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct keystore_opts o = { 0 };
	struct keystore *ks = NULL;
	const char *metas[64];
	size_t nmetas = 0, i, nday;
	uint8_t *pt = NULL, *derived = NULL;
	int c, r, rc = 2;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k': o.dir = optarg; break;
		case 'm': o.master_path = optarg; break;
		case 'd':
			if (nmetas == sizeof(metas) / sizeof(*metas))
				usage();
			metas[nmetas++] = optarg;
			break;
		case 'a': S.ingest_all = true; break;
		default: usage();
		}
	}
	if (o.dir == NULL || o.master_path == NULL || optind >= argc)
		usage();
	if (sodium_init() < 0)
		return 2;
	if ((r = keystore_open(&o, &ks)) < 0) {
		fprintf(stderr, "ut-keyscan: key store %s: %s\n", o.dir,
		    ut_strerror(r));
		return 2;
	}
	r = keystore_foreach_key(ks, on_key, NULL);
	keystore_close(ks);
	if (r < 0) {
		fprintf(stderr, "ut-keyscan: reading keys: %s\n", ut_strerror(r));
		goto out;
	}
	for (i = 0; i < nmetas; i++)
		if (load_meta(metas[i]) < 0)
			goto out;
	for (c = optind; c < argc; c++)
		if ((r = nftw(argv[c], on_path, 16, FTW_PHYS)) != 0) {
			fprintf(stderr, "ut-keyscan: %s: %s\n", argv[c],
			    r < 0 ? ut_strerror(r == -1 ? -errno : r) : "walk failed");
			goto out;
		}
	qsort(S.files, S.nfiles, sizeof(*S.files), cmp_str);
	if (collect_headers() < 0)
		goto out;
	if ((pt = sodium_malloc(META_SUMMARY_MAX + 64)) == NULL ||
	    (derived = sodium_malloc(64)) == NULL)
		goto out;
	for (i = 0; i < S.nfiles; i++)
		if (scan_file(S.files[i], pt, derived) < 0)
			goto out;
	printf("opened %llu\ncopies %llu\n", (unsigned long long)S.opened,
	    (unsigned long long)S.copies);
	for (i = nday = 0; i < S.nkeys; i++)
		nday += S.keys[i].kind == KS_KIND_DAY;
	printf("files %zu windows %llu day-keys %zu ingest-keys %zu candidates %zu "
	    "sealed %zu day-tries %llu ingest-tries %llu\n", S.nfiles,
	    (unsigned long long)S.windows, nday, S.nkeys - nday, S.ncands,
	    S.nseals, (unsigned long long)S.day_tries,
	    (unsigned long long)S.ingest_tries);
	rc = fflush(stdout) == 0 ? 0 : 2;
out:
	sodium_free(pt);
	sodium_free(derived);
	for (i = 0; i < S.nkeys; i++)
		sodium_free(S.keys[i].sk);
	free(S.keys);
	free(S.cands);
	free(S.seals);
	for (i = 0; i < S.nfiles; i++)
		free(S.files[i]);
	free(S.files);
	return rc;
}
