/*
 * test_keystore.c - the key tree: sealing under day keys, ingest keys,
 * erasure by shredding, and the backup test (P9): a copy of the key store
 * taken before an erasure opens nothing erased with any key reachable
 * after it.  Crash and I/O-error sweeps are in test_keystore_crash.c.
 */
#include <pthread.h>

#include "ks_test.h"

static const uint8_t S[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t T[16] = { 0xee, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t DEV[32] = { 7 };

#define D1 19000
#define D2 19001
#define MSG "the window title was secret"
#define MLEN (sizeof(MSG) - 1)
#define CTLEN (MLEN + KEYSTORE_SEAL_OVERHEAD)

static void
seal(struct keystore *ks, const uint8_t *subj, int32_t day, uint8_t ct[CTLEN])
{
	T_ASSERT_EQ(keystore_day_seal(ks, subj, day, NULL, 0,
	    (const uint8_t *)MSG, MLEN, ct), 0);
}

/* 0 when ct opens to MSG, else the error. */
static int
open_ct(struct keystore *ks, const uint8_t *subj, int32_t day,
    const uint8_t ct[CTLEN])
{
	uint8_t pt[MLEN];
	int r = keystore_day_open(ks, subj, day, NULL, 0, ct, CTLEN, pt);

	if (r == 0 && memcmp(pt, MSG, MLEN) != 0)
		return UT_ECORRUPT;
	return r;
}

static void
test_keystore_create_and_reopen(void)
{
	struct kst k;
	struct keystore_opts o;
	struct keystore *ks = NULL;
	uint8_t pk1[32], pk2[32], apk[32], sig[64];
	struct stat st;

	kst_init(&k);
	o = (struct keystore_opts){ k.dir, k.master, false };
	T_ASSERT_EQ(keystore_open(&o, &ks), UT_ENOTFOUND);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_generation(ks), 1);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk1), 0);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_AUDIT_KEY, apk), 0);
	T_ASSERT(memcmp(pk1, apk, 32) != 0);
	T_ASSERT_EQ(keystore_sign(ks, KS_RECEIPT_KEY, (const uint8_t *)"m", 1, sig), 0);
	T_ASSERT_EQ(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, pk1), 0);
	T_ASSERT_EQ(keystore_server_pk(ks, (enum keystore_server_key)7, pk2), UT_EINVAL);
	keystore_close(ks);
	T_ASSERT(stat(k.master, &st) == 0 && (st.st_mode & 0777) == 0600);
	T_ASSERT(stat(k.dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	ks = kst_open(&k, false);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk2), 0);
	T_ASSERT(memcmp(pk1, pk2, 32) == 0);
	{
		/* One handle at a time. */
		struct keystore *ks2 = NULL;

		o = (struct keystore_opts){ k.dir, k.master, true };
		T_ASSERT_EQ(keystore_open(&o, &ks2), UT_ESTATE);
		T_ASSERT(ks2 == NULL);
	}
	keystore_close(ks);
	/* create on an existing store opens it. */
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk2), 0);
	T_ASSERT(memcmp(pk1, pk2, 32) == 0);
	keystore_close(ks);
	keystore_close(NULL);
	kst_rm(&k);
}

static void
test_keystore_seal_round_trip(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t ct[CTLEN], ct2[CTLEN], pt[MLEN];
	int32_t *days = NULL;
	size_t n = 0;

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_day_seal(ks, S, D1, NULL, 0, (const uint8_t *)MSG,
	    MLEN, ct), UT_ENOTFOUND);
	T_ASSERT(!keystore_subject_exists(ks, S));
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT(keystore_subject_exists(ks, S));
	T_ASSERT_EQ(keystore_day_seal(ks, S, D1, (const uint8_t *)"ad", 2,
	    (const uint8_t *)MSG, MLEN, ct), 0);
	T_ASSERT_EQ(keystore_day_open(ks, S, D1, (const uint8_t *)"ad", 2, ct,
	    CTLEN, pt), 0);
	T_ASSERT(memcmp(pt, MSG, MLEN) == 0);
	T_ASSERT_EQ(keystore_day_open(ks, S, D1, (const uint8_t *)"ax", 2, ct,
	    CTLEN, pt), UT_ECRYPTO);
	T_ASSERT_EQ(keystore_day_open(ks, S, D1, NULL, 0, ct, 10, pt), UT_EINVAL);
	seal(ks, S, D2, ct2);
	ct2[CTLEN - 1] ^= 1;
	T_ASSERT_EQ(open_ct(ks, S, D2, ct2), UT_ECRYPTO);
	ct2[CTLEN - 1] ^= 1;
	T_ASSERT_EQ(open_ct(ks, S, D2, ct2), 0);
	/* A ciphertext of one day does not open as another day's. */
	T_ASSERT_EQ(open_ct(ks, S, D1, ct2), UT_ECRYPTO);
	T_ASSERT_EQ(open_ct(ks, S, D2 + 5, ct2), UT_ENOTFOUND);
	T_ASSERT_EQ(open_ct(ks, T, D2, ct2), UT_ENOTFOUND);
	T_ASSERT_EQ(keystore_days(ks, S, &days, &n), 0);
	T_ASSERT_EQ(n, 2);
	T_ASSERT(days[0] == D1 && days[1] == D2);
	free(days);
	T_ASSERT_EQ(keystore_days(ks, T, &days, &n), UT_ENOTFOUND);
	keystore_close(ks);
	/* Day keys survive a reopen. */
	ks = kst_open(&k, false);
	T_ASSERT_EQ(open_ct(ks, S, D2, ct2), 0);
	keystore_close(ks);
	kst_rm(&k);
}

static void
test_keystore_erase_day(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t c1[CTLEN], c2[CTLEN], c3[CTLEN];
	int32_t *days = NULL;
	size_t n = 0;

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_subject_add(ks, T), 0);
	seal(ks, S, D1, c1);
	seal(ks, S, D2, c2);
	seal(ks, T, D1, c3);
	T_ASSERT_EQ(keystore_erase_day(ks, S, D1), 0);
	T_ASSERT_EQ(keystore_generation(ks), 2);
	T_ASSERT_EQ(open_ct(ks, S, D1, c1), UT_ENOTFOUND);
	T_ASSERT_EQ(open_ct(ks, S, D2, c2), 0);
	T_ASSERT_EQ(open_ct(ks, T, D1, c3), 0);
	/* Erasing it again, or a day never made, is a no-op. */
	T_ASSERT_EQ(keystore_erase_day(ks, S, D1), 0);
	T_ASSERT_EQ(keystore_erase_day(ks, S, 5), 0);
	T_ASSERT_EQ(keystore_generation(ks), 2);
	keystore_close(ks);
	/* One generation file and one file per subject remain. */
	T_ASSERT_EQ(kst_count_files(k.dir), 1);
	{
		char sub[PATH_MAX + 16];

		snprintf(sub, sizeof(sub), "%s/subjects", k.dir);
		T_ASSERT_EQ(kst_count_files(sub), 2);
	}
	ks = kst_open(&k, false);
	T_ASSERT_EQ(keystore_generation(ks), 2);
	T_ASSERT_EQ(open_ct(ks, S, D1, c1), UT_ENOTFOUND);
	T_ASSERT_EQ(open_ct(ks, S, D2, c2), 0);
	T_ASSERT_EQ(open_ct(ks, T, D1, c3), 0);
	T_ASSERT_EQ(keystore_days(ks, S, &days, &n), 0);
	T_ASSERT(n == 1 && days[0] == D2);
	free(days);
	/* Sealing the erased day again makes a new, unrelated key. */
	seal(ks, S, D1, c3);
	T_ASSERT_EQ(open_ct(ks, S, D1, c1), UT_ECRYPTO);
	keystore_close(ks);
	kst_rm(&k);
}

static void
test_keystore_erase_subject(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t c1[CTLEN], c2[CTLEN], c3[CTLEN];

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_subject_add(ks, T), 0);
	seal(ks, S, D1, c1);
	seal(ks, S, D2, c2);
	seal(ks, T, D1, c3);
	T_ASSERT_EQ(keystore_erase_subject(ks, S), 0);
	T_ASSERT(!keystore_subject_exists(ks, S));
	T_ASSERT_EQ(open_ct(ks, S, D1, c1), UT_ENOTFOUND);
	T_ASSERT_EQ(open_ct(ks, S, D2, c2), UT_ENOTFOUND);
	T_ASSERT_EQ(open_ct(ks, T, D1, c3), 0);
	T_ASSERT_EQ(keystore_erase_subject(ks, S), 0);
	T_ASSERT_EQ(keystore_generation(ks), 2);
	T_ASSERT_EQ(keystore_day_seal(ks, S, D1, NULL, 0, (const uint8_t *)MSG,
	    MLEN, c1), UT_ENOTFOUND);
	keystore_close(ks);
	ks = kst_open(&k, false);
	T_ASSERT(!keystore_subject_exists(ks, S));
	T_ASSERT_EQ(open_ct(ks, T, D1, c3), 0);
	/* The person may come back: a new subject key, nothing old opens. */
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	seal(ks, S, D1, c3);
	T_ASSERT_EQ(open_ct(ks, S, D1, c1), UT_ECRYPTO);
	keystore_close(ks);
	kst_rm(&k);
}

static void
test_keystore_erase_days_before(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t c[5][CTLEN];
	int32_t *days = NULL;
	size_t n = 0;
	int i;

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	for (i = 0; i < 5; i++)
		seal(ks, S, D1 + i, c[i]);
	T_ASSERT_EQ(keystore_erase_days_before(ks, S, D1 + 3), 0);
	T_ASSERT_EQ(keystore_generation(ks), 2);   /* one shred */
	for (i = 0; i < 5; i++)
		T_ASSERT_EQ(open_ct(ks, S, D1 + i, c[i]), i < 3 ? UT_ENOTFOUND : 0);
	T_ASSERT_EQ(keystore_days(ks, S, &days, &n), 0);
	T_ASSERT(n == 2 && days[0] == D1 + 3 && days[1] == D1 + 4);
	free(days);
	T_ASSERT_EQ(keystore_erase_days_before(ks, S, D1), 0);
	T_ASSERT_EQ(keystore_generation(ks), 2);
	keystore_close(ks);
	kst_rm(&k);
}

static void
test_keystore_ingest_keys(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t pk1[32], pk1b[32], pk2[32], sealed[80], key[32], out[32];
	uint8_t dev2[32] = { 9 };

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D1, pk1), UT_ENOTFOUND);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D1, pk1), 0);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D2, pk2), 0);
	T_ASSERT(memcmp(pk1, pk2, 32) != 0);
	keystore_close(ks);
	ks = kst_open(&k, false);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D1, pk1b), 0);
	T_ASSERT(memcmp(pk1, pk1b, 32) == 0);
	randombytes_buf(key, 32);
	T_ASSERT_EQ(crypto_box_seal(sealed, key, 32, pk1), 0);
	T_ASSERT_EQ(keystore_ingest_unseal(ks, S, DEV, D1, pk1, sealed, out), 0);
	T_ASSERT(memcmp(out, key, 32) == 0);
	/* Another day's key, another device, another recipient: not found. */
	T_ASSERT_EQ(keystore_ingest_unseal(ks, S, DEV, D2, pk1, sealed, out),
	    UT_ENOTFOUND);
	T_ASSERT_EQ(keystore_ingest_unseal(ks, S, DEV, D2, pk2, sealed, out),
	    UT_ECRYPTO);
	T_ASSERT_EQ(keystore_ingest_unseal(ks, S, dev2, D1, pk1, sealed, out),
	    UT_ENOTFOUND);
	T_ASSERT_EQ(keystore_ingest_unseal(ks, T, DEV, D1, pk1, sealed, out),
	    UT_ENOTFOUND);
	sealed[79] ^= 1;
	T_ASSERT_EQ(keystore_ingest_unseal(ks, S, DEV, D1, pk1, sealed, out),
	    UT_ECRYPTO);
	sealed[79] ^= 1;
	/* Erasing the day erases that day's ingest key, not the next day's. */
	T_ASSERT_EQ(keystore_erase_day(ks, S, D1), 0);
	T_ASSERT_EQ(keystore_ingest_unseal(ks, S, DEV, D1, pk1, sealed, out),
	    UT_ENOTFOUND);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D2, pk1b), 0);
	T_ASSERT(memcmp(pk2, pk1b, 32) == 0);
	keystore_close(ks);
	kst_rm(&k);
}

/*
 * THE BACKUP TEST.  A copy of the store and of the master key file taken
 * before an erasure; then no key reachable from what exists after the
 * shred (the new master key file, the new store, AND the old backup of
 * the store) opens the erased day's ciphertext or ingest-sealed key.
 */
static void
test_keystore_backup_opens_nothing_erased(void)
{
	struct kst k, bk;
	struct keystore *ks;
	struct keystore_opts o;
	struct kst_files f;
	struct kst_keys keys;
	uint8_t c1[CTLEN], c2[CTLEN], c3[CTLEN], ipk[32], seg[32], sealed[80];
	char gen1[PATH_MAX + 16], gen2[PATH_MAX + 16];
	unsigned char *img;
	uint8_t *pt, newmaster[32];
	size_t len, ptlen;
	uint64_t g;

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_subject_add(ks, T), 0);
	seal(ks, S, D1, c1);
	seal(ks, S, D2, c2);
	seal(ks, T, D1, c3);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D1, ipk), 0);
	randombytes_buf(seg, 32);
	T_ASSERT_EQ(crypto_box_seal(sealed, seg, 32, ipk), 0);
	keystore_close(ks);
	kst_copy(&k, &bk);   /* the backup, master key file included */

	/* The test has teeth: the backup WITH the old master opens day 1. */
	memset(&f, 0, sizeof(f));
	kst_files_add_store(&f, bk.dir);
	kst_closure(bk.master, &f, &keys);
	T_ASSERT(kst_any_opens(&keys, S, D1, c1, CTLEN));
	T_ASSERT(kst_any_unseals(&keys, sealed));
	free(keys.k);
	kst_files_free(&f);

	ks = kst_open(&k, false);
	T_ASSERT_EQ(keystore_erase_day(ks, S, D1), 0);
	keystore_close(ks);

	/* Everything that exists after the shred, plus the backup's store. */
	memset(&f, 0, sizeof(f));
	kst_files_add_store(&f, k.dir);
	kst_files_add_store(&f, bk.dir);
	kst_closure(k.master, &f, &keys);
	T_ASSERT(!kst_any_opens(&keys, S, D1, c1, CTLEN));
	T_ASSERT(!kst_any_unseals(&keys, sealed));
	/* ... while it does reach what survives. */
	T_ASSERT(kst_any_opens(&keys, S, D2, c2, CTLEN));
	T_ASSERT(kst_any_opens(&keys, T, D1, c3, CTLEN));
	free(keys.k);
	kst_files_free(&f);

	/* The backup store with the NEW master key is refused. */
	o = (struct keystore_opts){ bk.dir, k.master, false };
	ks = NULL;
	T_ASSERT(keystore_open(&o, &ks) < 0);
	T_ASSERT(ks == NULL);
	/* ... even with its old generation file renamed to the new number. */
	snprintf(gen1, sizeof(gen1), "%s/gen-1.ks", bk.dir);
	snprintf(gen2, sizeof(gen2), "%s/gen-2.ks", bk.dir);
	T_ASSERT(rename(gen1, gen2) == 0);
	T_ASSERT(keystore_open(&o, &ks) < 0);
	/* ... and the new master key does not open the old generation file. */
	T_ASSERT_EQ(ks__master_read(k.master, &g, newmaster), 0);
	T_ASSERT_EQ(g, 2);
	T_ASSERT_EQ(fsio_read_file(gen2, 1u << 20, &img, &len), 0);
	T_ASSERT_EQ(ks__file_try_open(img, len, newmaster, &pt, &ptlen), UT_ECRYPTO);
	free(img);
	/* The refused opens deleted nothing from the backup. */
	T_ASSERT_EQ(kst_count_files(bk.dir), 1);
	kst_rm(&bk);
	kst_rm(&k);
}

static void
test_keystore_refuses_wrong_master(void)
{
	struct kst a, b;
	struct keystore *ks = NULL;
	struct keystore_opts o;
	FILE *fp;

	kst_init(&a);
	kst_init(&b);
	keystore_close(kst_open(&a, true));
	keystore_close(kst_open(&b, true));
	/* b's master key on a's store: a clear UT_ECRYPTO. */
	o = (struct keystore_opts){ a.dir, b.master, false };
	T_ASSERT_EQ(keystore_open(&o, &ks), UT_ECRYPTO);
	/* A damaged master key file. */
	fp = fopen(b.master, "w");
	T_ASSERT(fp != NULL);
	fputs("UTMASTR1short", fp);
	fclose(fp);
	o = (struct keystore_opts){ b.dir, b.master, true };
	T_ASSERT_EQ(keystore_open(&o, &ks), UT_ECORRUPT);
	/* A store whose master key file is gone is never overwritten. */
	T_ASSERT(unlink(b.master) == 0);
	ks = kst_open(&a, false);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_erase_subject(ks, S), 0);
	keystore_close(ks);
	T_ASSERT(unlink(a.master) == 0);
	o = (struct keystore_opts){ a.dir, a.master, true };
	T_ASSERT_EQ(keystore_open(&o, &ks), UT_ESTATE);
	o.create = false;
	T_ASSERT_EQ(keystore_open(&o, &ks), UT_ENOTFOUND);
	T_ASSERT_EQ(kst_count_files(a.dir), 1);
	kst_rm(&a);
	kst_rm(&b);
}

/* 2,000 people x 3 days; erasing one is one generation file write. */
static void
test_keystore_many_subjects(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t id[16] = { 0 }, ct[CTLEN], keep[CTLEN], gone[CTLEN];
	unsigned i, d;

	kst_init(&k);
	ks = kst_open(&k, true);
	for (i = 0; i < 2000; i++) {
		id[0] = (uint8_t)i;
		id[1] = (uint8_t)(i >> 8);
		T_ASSERT_EQ(keystore_subject_add(ks, id), 0);
		for (d = 0; d < 3; d++) {
			seal(ks, id, D1 + (int32_t)d, ct);
			if (i == 1234 && d == 1)
				memcpy(gone, ct, CTLEN);
			if (i == 1235 && d == 1)
				memcpy(keep, ct, CTLEN);
		}
	}
	id[0] = (uint8_t)1234;
	id[1] = (uint8_t)(1234 >> 8);
	fsio_fault_clear();
	T_ASSERT_EQ(keystore_erase_subject(ks, id), 0);
	/* One generation file write and the master switch: no O(days) work. */
	T_ASSERT_EQ(fsio_calls(FSIO_RENAME), 2);
	T_ASSERT_EQ(fsio_calls(FSIO_WRITE), 2);
	T_ASSERT_EQ(open_ct(ks, id, D1 + 1, gone), UT_ENOTFOUND);
	keystore_close(ks);
	ks = kst_open(&k, false);
	T_ASSERT_EQ(open_ct(ks, id, D1 + 1, gone), UT_ENOTFOUND);
	id[0] = (uint8_t)1235;
	T_ASSERT_EQ(open_ct(ks, id, D1 + 1, keep), 0);
	keystore_close(ks);
	kst_rm(&k);
}

struct worker {
	struct keystore *ks;
	uint8_t id[16];
	int fails;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t ct[CTLEN];
	int i;

	for (i = 0; i < 20; i++) {
		if (keystore_day_seal(w->ks, w->id, D1 + i % 4, NULL, 0,
		    (const uint8_t *)MSG, MLEN, ct) != 0 ||
		    open_ct(w->ks, w->id, D1 + i % 4, ct) != 0)
			w->fails++;
	}
	return NULL;
}

/* Sealing from many threads while another person's days are erased. */
static void
test_keystore_threads(void)
{
	struct kst k;
	struct keystore *ks;
	struct worker w[4];
	pthread_t th[4];
	uint8_t ct[CTLEN];
	int i;

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].ks = ks;
		w[i].id[0] = (uint8_t)(i + 100);
		T_ASSERT_EQ(keystore_subject_add(ks, w[i].id), 0);
		T_ASSERT(pthread_create(&th[i], NULL, worker_run, &w[i]) == 0);
	}
	for (i = 0; i < 6; i++) {
		seal(ks, S, D1 + i, ct);
		T_ASSERT_EQ(keystore_erase_day(ks, S, D1 + i), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		T_ASSERT_EQ(w[i].fails, 0);
	}
	T_ASSERT_EQ(keystore_generation(ks), 7);
	keystore_close(ks);
	kst_rm(&k);
}

static void
test_keystore_day_of(void)
{
	const int64_t day = 86400LL * 1000000000LL;

	T_ASSERT_EQ(keystore_day_of(0), 0);
	T_ASSERT_EQ(keystore_day_of(day - 1), 0);
	T_ASSERT_EQ(keystore_day_of(day), 1);
	T_ASSERT_EQ(keystore_day_of(-1), -1);
	T_ASSERT_EQ(keystore_day_of(-day), -1);
	T_ASSERT_EQ(keystore_day_of(-day - 1), -2);
	/* 2024-03-01T12:00:00Z */
	T_ASSERT_EQ(keystore_day_of(1709294400LL * 1000000000LL), 19783);
}

/*
 * A server key rotation: a new pair in force (signing, and after reopening),
 * the old public half handed back, the other key and the subjects' keys
 * untouched; an I/O error at any write, fsync or rename keeps the old key
 * in force, on disk and in memory.
 */
static void
test_keystore_server_key_rotate(void)
{
	struct kst k;
	struct keystore *ks;
	uint8_t pk0[32], apk0[32], oldpk[32], newpk[32], pk[32], sig[64];
	uint8_t ct[CTLEN];
	unsigned op, n, fails = 0;
	int r;

	kst_init(&k);
	ks = kst_open(&k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	seal(ks, S, D1, ct);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk0), 0);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_AUDIT_KEY, apk0), 0);
	T_ASSERT_EQ(keystore_server_key_rotate(ks, (enum keystore_server_key)9,
	    oldpk, newpk), UT_EINVAL);
	/* Faults: the old key stays, in memory and on disk. */
	for (op = 0; op < FSIO_OP_COUNT; op++) {
		for (n = 1; n < 20; n++) {
			fsio_fault_arm((enum fsio_op)op, n, FSIO_FAULT_EIO);
			r = keystore_server_key_rotate(ks, KS_RECEIPT_KEY, oldpk, newpk);
			fsio_fault_clear();
			if (r == 0) {
				/* The fault was not reached: a rotation. */
				T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk), 0);
				T_ASSERT(memcmp(pk, newpk, 32) == 0);
				T_ASSERT(memcmp(oldpk, pk0, 32) == 0);
				memcpy(pk0, pk, 32);
				break;
			}
			fails++;
			/*
			 * Before the rename: the old key, in memory and on
			 * disk.  After it (its fsync failed): the new one in
			 * both, and the handle is read-only until reopened.
			 */
			T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk), 0);
			if (memcmp(pk, pk0, 32) != 0) {
				T_ASSERT_EQ(keystore_server_key_rotate(ks,
				    KS_RECEIPT_KEY, oldpk, newpk), UT_ESTATE);
				memcpy(pk0, pk, 32);
			}
			keystore_close(ks);
			ks = kst_open(&k, false);
			T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk), 0);
			T_ASSERT(memcmp(pk, pk0, 32) == 0);
		}
	}
	T_ASSERT(fails >= 3);
	/* A clean rotation of each key. */
	T_ASSERT_EQ(keystore_server_key_rotate(ks, KS_AUDIT_KEY, oldpk, newpk), 0);
	T_ASSERT(memcmp(oldpk, apk0, 32) == 0 && memcmp(newpk, apk0, 32) != 0);
	T_ASSERT_EQ(keystore_sign(ks, KS_AUDIT_KEY, (const uint8_t *)"m", 1, sig), 0);
	T_ASSERT_EQ(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, newpk), 0);
	T_ASSERT(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, apk0) != 0);
	keystore_close(ks);
	ks = kst_open(&k, false);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_AUDIT_KEY, pk), 0);
	T_ASSERT(memcmp(pk, newpk, 32) == 0);
	T_ASSERT_EQ(keystore_server_pk(ks, KS_RECEIPT_KEY, pk), 0);
	T_ASSERT(memcmp(pk, pk0, 32) == 0);
	T_ASSERT_EQ(open_ct(ks, S, D1, ct), 0);
	keystore_close(ks);
	kst_rm(&k);
}

T_LIST(T_CASE(test_keystore_create_and_reopen),
    T_CASE(test_keystore_server_key_rotate),
    T_CASE(test_keystore_seal_round_trip),
    T_CASE(test_keystore_erase_day),
    T_CASE(test_keystore_erase_subject),
    T_CASE(test_keystore_erase_days_before),
    T_CASE(test_keystore_ingest_keys),
    T_CASE(test_keystore_backup_opens_nothing_erased),
    T_CASE(test_keystore_refuses_wrong_master),
    T_CASE(test_keystore_many_subjects),
    T_CASE(test_keystore_threads),
    T_CASE(test_keystore_day_of))
