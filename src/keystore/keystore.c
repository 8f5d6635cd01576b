/*
 * keystore.c - the server's key tree (P9): opening, crash recovery, the
 * subject table and its cache.  Key use is in keyuse.c, erasure in
 * shred.c, the file codec in ksfile.c.
 *
 * On disk (all integers little-endian, every file 0600, folders 0700):
 *
 *   master key file (caller's path, OUTSIDE the data directory):
 *       "UTMASTR1" | u64 generation N | 32-byte master key
 *   <dir>/gen-<N>.ks, the generation file of master key N:
 *       "UTKSGEN1" | u64 N | nonce 24 | XChaCha20-Poly1305-IETF under the
 *       master key, AD = the first 16 bytes, of:
 *       receipt Ed25519 sk 64 | audit Ed25519 sk 64 | u32 count |
 *       count x (subject id 16 | subject key 32 | u32 file version),
 *       ids strictly ascending
 *   <dir>/subjects/<32 hex id>-<version>.ks, one per subject:
 *       "UTKSSUB1" | id 16 | u32 version | nonce 24 | AEAD under the
 *       subject key, AD = id || version, of:
 *       u32 n | n x (i32 day | day key 32), days ascending |
 *       u32 m | m x (device public key 32 | i32 day | X25519 sk 32)
 *   *.tmp: files being written; never in force.
 *
 * Invariants (tests/keystore/ checks each one):
 *  (1) The master key file names the one generation in force; a store is
 *      whole when gen-<N>.ks opens under it and every subject file it
 *      references exists.  Every write that is not a shred rewrites a
 *      file atomically (temp, fdatasync, rename, fsync dir) under the
 *      same key, so the store is whole after a crash at any point.
 *  (2) A shred writes everything new under fresh keys (the subject file
 *      version+1 under a new subject key, gen-<N+1>.ks under a new master
 *      key, the new master file to a temp name), all durable, before its
 *      one switch: the rename of the temp master file over the master key
 *      file.  Before the switch the old state is whole and nothing
 *      erased is lost; after it the new state is whole, and no key the
 *      new master key reaches opens anything erased.
 *  (3) keystore_open() deletes every generation file but the one in force,
 *      every temporary file, and every subject file the generation in
 *      force does not reference: the leftovers of a shred that crashed on
 *      either side of its switch.
 *  (4) Keys are in memory only in sodium_malloc'd blocks, wiped when
 *      freed; a shred drops erased keys from the cache as it switches.
 *  (5) One process at a time: keystore_open() takes an exclusive flock on
 *      the store folder (recovery would otherwise delete the files of
 *      another process's shred in progress).
 *  (6) Old files are unlinked, not overwritten: on journaling and
 *      copy-on-write file systems and SSDs an overwrite does not reliably
 *      reach the old blocks.  Their contents stay safe because the key that
 *      opens them (the old master key, the old subject key) is gone.
 *
 * States:  OPEN -> OPEN [every call];  OPEN -> READONLY [a shred whose
 * switch happened but could not be fsync'd: writes give UT_ESTATE until
 * the store is reopened];  any -> freed [keystore_close].
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "keystore_int.h"

bool
ks__find(const struct keystore *ks, const uint8_t id[16], size_t *idx)
{
	size_t lo = 0, hi = ks->g.nsubj, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(ks->g.subj[mid].id, id, 16);
		if (c == 0) {
			*idx = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx = lo;
	return false;
}

int
ks__gen_path(const struct keystore *ks, uint64_t gen, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "%s/gen-%llu.ks", ks->dir,
	    (unsigned long long)gen);

	return n < 0 || (size_t)n >= sz ? UT_ETOOBIG : 0;
}

int
ks__subj_path(const struct keystore *ks, const uint8_t id[16],
    uint32_t version, char *buf, size_t sz)
{
	char hex[33];
	int n;

	sodium_bin2hex(hex, sizeof(hex), id, 16);
	n = snprintf(buf, sz, "%s/%s-%u.ks", ks->subdir, hex, version);
	return n < 0 || (size_t)n >= sz ? UT_ETOOBIG : 0;
}

static void
cache_clear(struct keystore *ks)
{
	size_t i;

	for (i = 0; i < ks->g.nsubj && ks->cache != NULL; i++) {
		ks__subfile_free(ks->cache[i]);
		ks->cache[i] = NULL;
	}
	ks->ncached = 0;
}

/* Makes the cache array as long as the table's capacity. */
static void
cache_fit(struct keystore *ks)
{
	size_t i;

	if (ks->capcache >= ks->g.capsubj && ks->cache != NULL)
		return;
	ks->cache = xreallocarray(ks->cache, UT_MAX(ks->g.capsubj, (size_t)1),
	    sizeof(*ks->cache));
	for (i = ks->capcache; i < UT_MAX(ks->g.capsubj, (size_t)1); i++)
		ks->cache[i] = NULL;
	ks->capcache = UT_MAX(ks->g.capsubj, (size_t)1);
}

void
ks__cache_insert(struct keystore *ks, size_t idx)
{
	/* Called after the table grew by one row at idx. */
	cache_fit(ks);
	memmove(ks->cache + idx + 1, ks->cache + idx,
	    (ks->g.nsubj - 1 - idx) * sizeof(*ks->cache));
	ks->cache[idx] = NULL;
}

void
ks__cache_remove(struct keystore *ks, size_t idx)
{
	/* Called after the table lost row idx; nsubj is the new count. */
	if (ks->cache[idx] != NULL) {
		ks__subfile_free(ks->cache[idx]);
		ks->ncached--;
	}
	memmove(ks->cache + idx, ks->cache + idx + 1,
	    (ks->g.nsubj - idx) * sizeof(*ks->cache));
	ks->cache[ks->g.nsubj] = NULL;
}

int
ks__load(struct keystore *ks, size_t idx, struct ks_subfile **sf)
{
	char path[PATH_MAX];
	int r;

	if (ks->cache[idx] != NULL) {
		*sf = ks->cache[idx];
		return 0;
	}
	if (ks->ncached >= KS_CACHE_MAX)
		cache_clear(ks);
	if ((r = ks__subj_path(ks, ks->g.subj[idx].id, ks->g.subj[idx].version,
	    path, sizeof(path))) < 0)
		return r;
	if ((r = ks__subfile_read(path, &ks->g.subj[idx], &ks->cache[idx])) < 0) {
		log_error("keystore: subject file %s: %s", path, ut_strerror(r));
		return r;
	}
	ks->ncached++;
	*sf = ks->cache[idx];
	return 0;
}

/* True when name is "<prefix><digits><suffix>"; the number in *num. */
static bool
name_num(const char *name, const char *prefix, const char *suffix,
    uint64_t *num)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
	char digits[24];

	if (nl <= pl + sl || nl - pl - sl >= sizeof(digits) ||
	    strncmp(name, prefix, pl) != 0 || strcmp(name + nl - sl, suffix) != 0)
		return false;
	memcpy(digits, name + pl, nl - pl - sl);
	digits[nl - pl - sl] = '\0';
	return ut_parse_u64(digits, num) == 0;
}

static bool
is_tmp(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".tmp") == 0;
}

/* Removes dir/name; returns 1 when removed. */
static int
remove_in(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;
	log_info("keystore: removing leftover %s", path);
	return unlink(path) == 0 ? 1 : 0;
}

/* Subject folder: keeps the files of the table in force, removes others. */
static int
recover_subjects(struct keystore *ks, size_t *removed)
{
	DIR *d;
	struct dirent *e;
	uint8_t id[16];
	char hex[33];
	uint64_t ver;
	size_t kept = 0, idx, hl;

	if ((d = opendir(ks->subdir)) == NULL)
		return errno == ENOENT ? UT_ECORRUPT : -errno;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (!is_tmp(e->d_name) && strlen(e->d_name) > 33 &&
		    e->d_name[32] == '-') {
			memcpy(hex, e->d_name, 32);
			hex[32] = '\0';
			if (sodium_hex2bin(id, 16, hex, 32, NULL, &hl, NULL) == 0 &&
			    hl == 16 && name_num(e->d_name + 33, "", ".ks", &ver) &&
			    ks__find(ks, id, &idx) && ks->g.subj[idx].version == ver) {
				kept++;
				continue;
			}
		}
		*removed += (size_t)remove_in(ks->subdir, e->d_name);
	}
	closedir(d);
	if (kept != ks->g.nsubj) {
		log_error("keystore: %zu of %zu subject files are missing",
		    ks->g.nsubj - kept, ks->g.nsubj);
		return UT_ECORRUPT;
	}
	return 0;
}

/* Invariant (3): removes what a crashed shred or write left behind. */
static int
recover(struct keystore *ks)
{
	char tmp[PATH_MAX];
	DIR *d;
	struct dirent *e;
	uint64_t n;
	size_t removed = 0, rs = 0;
	int r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", ks->master_path) <
	    (int)sizeof(tmp))
		(void)unlink(tmp);
	if ((d = opendir(ks->dir)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (is_tmp(e->d_name) || (name_num(e->d_name, "gen-", ".ks", &n) &&
		    n != ks->g.gen))
			removed += (size_t)remove_in(ks->dir, e->d_name);
	}
	closedir(d);
	if ((r = recover_subjects(ks, &rs)) < 0)
		return r;
	if (removed > 0 && (r = fsio_fsync_dir(ks->dir)) < 0)
		return r;
	if (rs > 0 && (r = fsio_fsync_dir(ks->subdir)) < 0)
		return r;
	return 0;
}

static int
mkdir_0700(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Whether dir holds a store whose master key file is missing.  A lone
 * gen-1.ks with no subject file is a first start that crashed before its
 * master key file was in place: it holds no one's keys, so it is redone.
 */
static bool
orphan_store(const struct keystore *ks)
{
	DIR *d;
	struct dirent *e;
	uint64_t n;
	bool found = false;

	if ((d = opendir(ks->dir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (name_num(e->d_name, "gen-", ".ks", &n) && n != 1)
				found = true;
		closedir(d);
	}
	if ((d = opendir(ks->subdir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' && !is_tmp(e->d_name))
				found = true;
		closedir(d);
	}
	return found;
}

/* Makes a new store: generation 1, fresh server keys, a fresh master key. */
static int
create_store(struct keystore *ks)
{
	char path[PATH_MAX], tmp[PATH_MAX], mdir[PATH_MAX];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	char *slash;
	int r;

	snprintf(mdir, sizeof(mdir), "%s", ks->master_path);
	slash = strrchr(mdir, '/');
	if (slash == mdir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		snprintf(mdir, sizeof(mdir), ".");
	if ((r = mkdir_0700(ks->dir)) < 0 || (r = mkdir_0700(ks->subdir)) < 0 ||
	    (r = mkdir_0700(mdir)) < 0)
		return r;
	if (orphan_store(ks)) {
		log_error("keystore: %s holds a key store but its master key "
		    "file %s is missing; restore it", ks->dir, ks->master_path);
		return UT_ESTATE;
	}
	ks->g.gen = 1;
	ks->g.server = sodium_malloc(2 * crypto_sign_SECRETKEYBYTES);
	if (ks->g.server == NULL)
		ut_fatal("sodium_malloc failed");
	crypto_sign_keypair(pk, ks->g.server);
	crypto_sign_keypair(pk, ks->g.server + crypto_sign_SECRETKEYBYTES);
	ks__gen_reserve(&ks->g, 16);
	randombytes_buf(ks->master, KS_KEY_LEN);
	if ((r = ks__gen_path(ks, 1, path, sizeof(path))) < 0 ||
	    (r = ks__gen_write(path, &ks->g, ks->master, NULL)) < 0)
		return r;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", ks->master_path) >=
	    (int)sizeof(tmp))
		return UT_ETOOBIG;
	if ((r = ks__master_write_tmp(tmp, 1, ks->master)) < 0)
		return r;
	if ((r = fsio_rename(tmp, ks->master_path)) < 0) {
		(void)unlink(tmp);
		return r;
	}
	if ((r = fsio_fsync_dir(mdir)) < 0)
		return r;
	return recover(ks);
}

/* Invariant (5).  A folder not there yet holds nothing to protect. */
static int
lock_store(struct keystore *ks, bool create)
{
	int r;

	if (create && (r = mkdir_0700(ks->dir)) < 0)
		return r;
	ks->lockfd = open(ks->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ks->lockfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(ks->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return -errno;
		log_error("keystore: %s is in use by another process", ks->dir);
		return UT_ESTATE;
	}
	return 0;
}

static int
open_existing(struct keystore *ks, uint64_t gen)
{
	char path[PATH_MAX];
	int r;

	if ((r = ks__gen_path(ks, gen, path, sizeof(path))) < 0)
		return r;
	r = ks__gen_read(path, gen, ks->master, &ks->g);
	if (r == UT_ECRYPTO)
		log_error("keystore: the master key file %s does not open %s: "
		    "wrong master key file, or the generation file was "
		    "replaced or tampered with", ks->master_path, path);
	else if (r < 0)
		log_error("keystore: %s: %s", path, ut_strerror(r));
	if (r < 0)
		return r;
	return recover(ks);
}

int
keystore_open(const struct keystore_opts *o, struct keystore **out)
{
	struct keystore *ks;
	char sub[PATH_MAX];
	uint64_t gen = 0;
	int r;

	if (o == NULL || o->dir == NULL || o->master_path == NULL ||
	    o->dir[0] == '\0' || o->master_path[0] == '\0')
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if (snprintf(sub, sizeof(sub), "%s/subjects", o->dir) >= (int)sizeof(sub))
		return UT_ETOOBIG;
	ks = xcalloc(1, sizeof(*ks));
	ks->lockfd = -1;
	pthread_mutex_init(&ks->mu, NULL);
	ks->dir = xstrdup(o->dir);
	ks->subdir = xstrdup(sub);
	ks->master_path = xstrdup(o->master_path);
	if ((ks->master = sodium_malloc(KS_KEY_LEN)) == NULL)
		ut_fatal("sodium_malloc failed");
	if ((r = lock_store(ks, o->create)) < 0)
		goto out;
	r = ks__master_read(ks->master_path, &gen, ks->master);
	if (r == UT_ENOTFOUND && o->create)
		r = create_store(ks);
	else if (r == 0)
		r = open_existing(ks, gen);
	else if (r == UT_ECORRUPT)
		log_error("keystore: master key file %s is damaged",
		    ks->master_path);
	if (r < 0)
		goto out;
	cache_fit(ks);
	*out = ks;
	ks = NULL;
out:
	keystore_close(ks);
	return r;
}

void
keystore_close(struct keystore *ks)
{
	if (ks == NULL)
		return;
	cache_clear(ks);
	free(ks->cache);
	ks__gen_free(&ks->g);
	sodium_free(ks->master);
	free(ks->dir);
	free(ks->subdir);
	free(ks->master_path);
	if (ks->lockfd >= 0)
		close(ks->lockfd);
	pthread_mutex_destroy(&ks->mu);
	free(ks);
}

static const uint8_t *
server_sk(struct keystore *ks, enum keystore_server_key k)
{
	if (k == KS_RECEIPT_KEY)
		return ks->g.server;
	if (k == KS_AUDIT_KEY)
		return ks->g.server + crypto_sign_SECRETKEYBYTES;
	return NULL;
}

int
keystore_server_pk(struct keystore *ks, enum keystore_server_key k,
    uint8_t pk[32])
{
	const uint8_t *sk;
	int r = UT_EINVAL;

	pthread_mutex_lock(&ks->mu);
	if ((sk = server_sk(ks, k)) != NULL) {
		r = crypto_sign_ed25519_sk_to_pk(pk, sk) == 0 ? 0 : UT_ECRYPTO;
	}
	pthread_mutex_unlock(&ks->mu);
	return r;
}

int
keystore_sign(struct keystore *ks, enum keystore_server_key k,
    const uint8_t *m, size_t n, uint8_t sig[64])
{
	const uint8_t *sk;
	int r = UT_EINVAL;

	pthread_mutex_lock(&ks->mu);
	if ((sk = server_sk(ks, k)) != NULL) {
		crypto_sign_detached(sig, NULL, m, n, sk);
		r = 0;
	}
	pthread_mutex_unlock(&ks->mu);
	return r;
}

bool
keystore_subject_exists(struct keystore *ks, const uint8_t subject[16])
{
	size_t idx;
	bool found;

	pthread_mutex_lock(&ks->mu);
	found = ks__find(ks, subject, &idx);
	pthread_mutex_unlock(&ks->mu);
	return found;
}

int
keystore_days(struct keystore *ks, const uint8_t subject[16], int32_t **out,
    size_t *n)
{
	struct ks_subfile *sf;
	int32_t *days = NULL;
	size_t idx, i;
	int r;

	pthread_mutex_lock(&ks->mu);
	if (!ks__find(ks, subject, &idx)) {
		r = UT_ENOTFOUND;
		goto out;
	}
	if ((r = ks__load(ks, idx, &sf)) < 0)
		goto out;
	if (sf->ndays > 0)
		days = xreallocarray(NULL, sf->ndays, sizeof(*days));
	for (i = 0; i < sf->ndays; i++)
		days[i] = sf->days[i].day;
	*out = days;
	*n = sf->ndays;
out:
	pthread_mutex_unlock(&ks->mu);
	return r;
}

uint64_t
keystore_generation(struct keystore *ks)
{
	uint64_t g;

	pthread_mutex_lock(&ks->mu);
	g = ks->g.gen;
	pthread_mutex_unlock(&ks->mu);
	return g;
}

int32_t
keystore_day_of(int64_t wall_ns)
{
	const int64_t day_ns = 86400LL * 1000000000LL;
	int64_t d = wall_ns / day_ns;

	if (wall_ns % day_ns != 0 && wall_ns < 0)
		d--;
	return (int32_t)d;
}
