/*
 * keyuse.c - adding subjects, and using the keys under them: day-key
 * sealing and the daily ingest keys of devices (see keystore.c for the
 * layout and invariants).
 *
 * A key created here (subject, day or ingest key) is durable before it is
 * used: its file is rewritten atomically under the same subject key and
 * version first, and on failure the in-memory tables are put back as they
 * were and the new key wiped, so no ciphertext is ever made under a key
 * that a crash could lose.  When the failure came after the rename (the
 * directory fsync), the file on disk may be either version: the new key is
 * kept in memory, the call still fails, and the store turns read-only
 * until reopened, so memory never names a file that disk may not hold.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "keystore_int.h"

/* Rewrites row idx's subject file from its (loaded) cache. */
static int
rewrite_subject(struct keystore *ks, size_t idx, bool *renamed)
{
	char path[PATH_MAX];
	int r;

	*renamed = false;
	if ((r = ks__subj_path(ks, ks->g.subj[idx].id, ks->g.subj[idx].version,
	    path, sizeof(path))) < 0)
		return r;
	return ks__subfile_write(path, &ks->g.subj[idx], ks->cache[idx], renamed);
}

/* A write failed after its rename: see the file overview. */
static int
went_readonly(struct keystore *ks, int r)
{
	ks->readonly = true;
	log_error("keystore: a key file was replaced but not made durable "
	    "(%s); read-only until reopened", ut_strerror(r));
	return r;
}

int
keystore_server_key_rotate(struct keystore *ks, enum keystore_server_key k,
    uint8_t old_pk[32], uint8_t new_pk[32])
{
	char gpath[PATH_MAX];
	uint8_t *sk, *old = NULL, pk[32];
	bool renamed = false;
	int r;

	pthread_mutex_lock(&ks->mu);
	if (k != KS_RECEIPT_KEY && k != KS_AUDIT_KEY) {
		r = UT_EINVAL;
		goto out;
	}
	if (ks->readonly) {
		r = UT_ESTATE;
		goto out;
	}
	if ((r = ks__gen_path(ks, ks->g.gen, gpath, sizeof(gpath))) < 0)
		goto out;
	sk = ks->g.server + (k == KS_AUDIT_KEY ? crypto_sign_SECRETKEYBYTES : 0);
	if ((old = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL)
		ut_fatal("out of memory");
	memcpy(old, sk, crypto_sign_SECRETKEYBYTES);
	crypto_sign_keypair(pk, sk);
	r = ks__gen_write(gpath, &ks->g, ks->master, &renamed);
	if (r < 0 && renamed) {
		r = went_readonly(ks, r);  /* the disk may hold the new key */
	} else if (r < 0) {
		memcpy(sk, old, crypto_sign_SECRETKEYBYTES); /* still the old */
	} else {
		crypto_sign_ed25519_sk_to_pk(old_pk, old);
		memcpy(new_pk, pk, 32);
	}
out:
	sodium_free(old);             /* wipes */
	pthread_mutex_unlock(&ks->mu);
	return r;
}

int
keystore_subject_add(struct keystore *ks, const uint8_t subject[16])
{
	char spath[PATH_MAX], gpath[PATH_MAX];
	struct ks_subfile *empty = NULL;
	struct ks_subj *s;
	bool renamed = false;
	size_t idx;
	int r;

	pthread_mutex_lock(&ks->mu);
	if (ks__find(ks, subject, &idx)) {
		r = 0;
		goto out;
	}
	if (ks->readonly) {
		r = UT_ESTATE;
		goto out;
	}
	if (ks->g.nsubj >= KS_SUBJECTS_MAX) {
		r = UT_ETOOBIG;
		goto out;
	}
	if ((r = ks__subj_path(ks, subject, 1, spath, sizeof(spath))) < 0 ||
	    (r = ks__gen_path(ks, ks->g.gen, gpath, sizeof(gpath))) < 0)
		goto out;
	ks__gen_reserve(&ks->g, ks->g.nsubj + 1);
	memmove(ks->g.subj + idx + 1, ks->g.subj + idx,
	    (ks->g.nsubj - idx) * sizeof(*ks->g.subj));
	ks->g.nsubj++;
	ks__cache_insert(ks, idx);
	s = &ks->g.subj[idx];
	memcpy(s->id, subject, 16);
	s->version = 1;
	randombytes_buf(s->key, KS_KEY_LEN);
	empty = ks__subfile_new();
	if ((r = ks__subfile_write(spath, s, empty, NULL)) < 0)
		(void)unlink(spath);    /* no table names it */
	else if ((r = ks__gen_write(gpath, &ks->g, ks->master, &renamed)) < 0 &&
	    renamed)
		r = went_readonly(ks, r); /* keep the subject: disk may name it */
	else if (r < 0)
		(void)unlink(spath);
	if (r < 0 && !renamed) {
		/* Back out: the table in force never named this subject. */
		ks->g.nsubj--;
		ks__cache_remove(ks, idx);
		memmove(ks->g.subj + idx, ks->g.subj + idx + 1,
		    (ks->g.nsubj - idx) * sizeof(*ks->g.subj));
		sodium_memzero(&ks->g.subj[ks->g.nsubj], sizeof(*ks->g.subj));
		log_error("keystore: adding a subject: %s", ut_strerror(r));
	}
out:
	ks__subfile_free(empty);
	pthread_mutex_unlock(&ks->mu);
	return r;
}

/* Binary search of a day in sf; *pos is the insertion point if absent. */
static bool
find_day(const struct ks_subfile *sf, int32_t day, size_t *pos)
{
	size_t lo = 0, hi = sf->ndays, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sf->days[mid].day == day) {
			*pos = mid;
			return true;
		}
		if (sf->days[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/*
 * The day key of (row idx, day); creates it durably when create is set.
 * *key points into the cache, valid while the mutex is held.
 */
static int
day_key(struct keystore *ks, size_t idx, int32_t day, bool create,
    const uint8_t **key)
{
	struct ks_subfile *sf;
	bool renamed;
	size_t pos;
	int r;

	if ((r = ks__load(ks, idx, &sf)) < 0)
		return r;
	if (find_day(sf, day, &pos)) {
		*key = sf->days[pos].key;
		return 0;
	}
	if (!create)
		return UT_ENOTFOUND;
	if (ks->readonly)
		return UT_ESTATE;
	if (sf->ndays >= KS_DAYS_MAX)
		return UT_ETOOBIG;
	ks__subfile_reserve(sf, sf->ndays + 1, sf->ning);
	memmove(sf->days + pos + 1, sf->days + pos,
	    (sf->ndays - pos) * sizeof(*sf->days));
	sf->ndays++;
	sf->days[pos].day = day;
	randombytes_buf(sf->days[pos].key, KS_KEY_LEN);
	if ((r = rewrite_subject(ks, idx, &renamed)) < 0 && renamed)
		return went_readonly(ks, r);
	if (r < 0) {
		sf->ndays--;
		memmove(sf->days + pos, sf->days + pos + 1,
		    (sf->ndays - pos) * sizeof(*sf->days));
		sodium_memzero(&sf->days[sf->ndays], sizeof(*sf->days));
		log_error("keystore: storing a day key: %s", ut_strerror(r));
		return r;
	}
	*key = sf->days[pos].key;
	return 0;
}

int
keystore_day_seal(struct keystore *ks, const uint8_t subject[16], int32_t day,
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t n, uint8_t *ct)
{
	const uint8_t *key;
	size_t idx;
	int r;

	if (adlen > KEYSTORE_AD_MAX)
		return UT_ETOOBIG;
	pthread_mutex_lock(&ks->mu);
	if (!ks__find(ks, subject, &idx))
		r = UT_ENOTFOUND;
	else if ((r = day_key(ks, idx, day, true, &key)) == 0)
		ks__day_seal_key(key, subject, day, ad, adlen, pt, n, ct);
	pthread_mutex_unlock(&ks->mu);
	return r;
}

int
keystore_day_open(struct keystore *ks, const uint8_t subject[16], int32_t day,
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t n, uint8_t *pt)
{
	const uint8_t *key;
	size_t idx;
	int r;

	if (adlen > KEYSTORE_AD_MAX)
		return UT_ETOOBIG;
	if (n < KEYSTORE_SEAL_OVERHEAD)
		return UT_EINVAL;
	pthread_mutex_lock(&ks->mu);
	if (!ks__find(ks, subject, &idx))
		r = UT_ENOTFOUND;
	else if ((r = day_key(ks, idx, day, false, &key)) == 0)
		r = ks__day_open_key(key, subject, day, ad, adlen, ct, n, pt);
	pthread_mutex_unlock(&ks->mu);
	return r;
}

static struct ks_ingest *
find_ingest(const struct ks_subfile *sf, const uint8_t device[32], int32_t day)
{
	size_t i;

	for (i = 0; i < sf->ning; i++)
		if (sf->ing[i].day == day && memcmp(sf->ing[i].dev, device, 32) == 0)
			return &sf->ing[i];
	return NULL;
}

int
keystore_ingest_pk(struct keystore *ks, const uint8_t subject[16],
    const uint8_t device[32], int32_t day, uint8_t pk[32])
{
	struct ks_subfile *sf;
	struct ks_ingest *g;
	bool renamed;
	size_t idx;
	int r;

	pthread_mutex_lock(&ks->mu);
	if (!ks__find(ks, subject, &idx)) {
		r = UT_ENOTFOUND;
		goto out;
	}
	if ((r = ks__load(ks, idx, &sf)) < 0)
		goto out;
	if ((g = find_ingest(sf, device, day)) != NULL) {
		memcpy(pk, g->pk, 32);
		goto out;
	}
	if (ks->readonly || sf->ning >= KS_INGEST_MAX) {
		r = ks->readonly ? UT_ESTATE : UT_ETOOBIG;
		goto out;
	}
	ks__subfile_reserve(sf, sf->ndays, sf->ning + 1);
	g = &sf->ing[sf->ning++];
	memcpy(g->dev, device, 32);
	g->day = day;
	crypto_box_keypair(g->pk, g->sk);
	if ((r = rewrite_subject(ks, idx, &renamed)) < 0 && renamed) {
		r = went_readonly(ks, r);
		goto out;
	}
	if (r < 0) {
		sf->ning--;
		sodium_memzero(g, sizeof(*g));
		log_error("keystore: storing an ingest key: %s", ut_strerror(r));
		goto out;
	}
	memcpy(pk, g->pk, 32);
out:
	pthread_mutex_unlock(&ks->mu);
	return r;
}

int
keystore_ingest_unseal(struct keystore *ks, const uint8_t subject[16],
    const uint8_t device[32], int32_t day, const uint8_t recipient[32],
    const uint8_t sealed[80], uint8_t seg_key[32])
{
	struct ks_subfile *sf;
	struct ks_ingest *g;
	size_t idx;
	int r;

	pthread_mutex_lock(&ks->mu);
	if (!ks__find(ks, subject, &idx)) {
		r = UT_ENOTFOUND;
		goto out;
	}
	if ((r = ks__load(ks, idx, &sf)) < 0)
		goto out;
	g = find_ingest(sf, device, day);
	if (g == NULL || sodium_memcmp(g->pk, recipient, 32) != 0) {
		r = UT_ENOTFOUND;
		goto out;
	}
	if (crypto_box_seal_open(seg_key, sealed, KEYSTORE_SEALED_KEY_LEN, g->pk,
	    g->sk) != 0) {
		sodium_memzero(seg_key, 32);
		r = UT_ECRYPTO;
	}
out:
	pthread_mutex_unlock(&ks->mu);
	return r;
}

/*
 * For tests and tools (see keystore.h): every day and ingest key, walked
 * under the mutex.  Loading a subject file may empty the cache, so each
 * subject's file is used only until the next one is loaded.
 */
int
keystore_foreach_key(struct keystore *ks,
    int (*fn)(const struct keystore_key_view *k, void *arg), void *arg)
{
	struct keystore_key_view v;
	struct ks_subfile *sf;
	size_t idx, i;
	int r = 0;

	pthread_mutex_lock(&ks->mu);
	for (idx = 0; idx < ks->g.nsubj && r == 0; idx++) {
		if ((r = ks__load(ks, idx, &sf)) < 0)
			break;
		for (i = 0; i < sf->ndays && r == 0; i++) {
			v = (struct keystore_key_view){ .kind = KS_KIND_DAY,
			    .subject = ks->g.subj[idx].id, .day = sf->days[i].day,
			    .key = sf->days[i].key };
			r = fn(&v, arg);
		}
		for (i = 0; i < sf->ning && r == 0; i++) {
			v = (struct keystore_key_view){ .kind = KS_KIND_INGEST,
			    .subject = ks->g.subj[idx].id, .day = sf->ing[i].day,
			    .device = sf->ing[i].dev, .key = sf->ing[i].sk,
			    .pk = sf->ing[i].pk };
			r = fn(&v, arg);
		}
	}
	pthread_mutex_unlock(&ks->mu);
	return r;
}
