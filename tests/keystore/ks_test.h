/*
 * ks_test.h - helpers shared by the key-store tests: scratch folders, file
 * copies, and the key closure: every 32-byte string reachable from a seed
 * (the master key file) by opening key-store files with keys already
 * reached, used to show that nothing reachable opens erased data.
 */
#ifndef KS_TEST_H
#define KS_TEST_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keystore.h"
#include "usetrace/util.h"
#include "../../src/keystore/keystore_int.h"
#include "t.h"

/* A scratch folder: <base>/ks is the store, <base>/master.key its key. */
struct kst {
	char base[PATH_MAX / 2];
	char dir[PATH_MAX];
	char master[PATH_MAX];
};

static inline void
kst_paths(struct kst *k)
{
	snprintf(k->dir, sizeof(k->dir), "%s/ks", k->base);
	snprintf(k->master, sizeof(k->master), "%s/secret/master.key", k->base);
}

static inline void
kst_init(struct kst *k)
{
	const char *t = getenv("TMPDIR");

	snprintf(k->base, sizeof(k->base), "%s/utks.XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(k->base) == NULL)
		T_FAIL("mkdtemp: %s", strerror(errno));
	kst_paths(k);
}

static inline void
kst_rm(struct kst *k)
{
	char cmd[PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", k->base);
	T_ASSERT(system(cmd) == 0);
}

/* Copies src's scratch folder (store and master) to a new scratch folder. */
static inline void
kst_copy(const struct kst *src, struct kst *dst)
{
	char cmd[2 * PATH_MAX];

	kst_init(dst);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s'", src->base, dst->base);
	T_ASSERT(system(cmd) == 0);
}

static inline struct keystore *
kst_open(const struct kst *k, bool create)
{
	struct keystore_opts o = { k->dir, k->master, create };
	struct keystore *ks = NULL;
	int r = keystore_open(&o, &ks);

	if (r != 0)
		T_FAIL("keystore_open: %s", ut_strerror(r));
	return ks;
}

static inline size_t
kst_count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && e->d_type == DT_REG)
			n++;
	closedir(d);
	return n;
}

/* A growable list of files' contents. */
struct kst_files {
	uint8_t *data[256];
	size_t len[256];
	bool opened[256];
	size_t n;
};

static inline void
kst_files_add_dir(struct kst_files *f, const char *dir)
{
	char path[PATH_MAX + 300];
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned char *p;
	size_t len;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || e->d_type != DT_REG || f->n >= 256)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (fsio_read_file(path, 1u << 26, &p, &len) == 0) {
			f->data[f->n] = p;
			f->len[f->n] = len;
			f->opened[f->n++] = false;
		}
	}
	closedir(d);
}

/* Adds a store folder (itself and subjects/). */
static inline void
kst_files_add_store(struct kst_files *f, const char *dir)
{
	char sub[PATH_MAX + 16];

	kst_files_add_dir(f, dir);
	snprintf(sub, sizeof(sub), "%s/subjects", dir);
	kst_files_add_dir(f, sub);
}

static inline void
kst_files_free(struct kst_files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->data[i]);
	f->n = 0;
}

struct kst_keys {
	uint8_t (*k)[32];
	size_t n, cap;
};

static inline void
kst_keys_add_windows(struct kst_keys *ks, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 32 <= len; i++) {
		if (ks->n == ks->cap) {
			ks->cap = ks->cap ? ks->cap * 2 : 256;
			ks->k = xreallocarray(ks->k, ks->cap, 32);
		}
		memcpy(ks->k[ks->n++], p + i, 32);
	}
}

/*
 * The closure: seeds with every 32-byte window of the seed file, then
 * opens every file it can with any key reached so far, adding every
 * window of each plaintext, until nothing more opens.
 */
static inline void
kst_closure(const char *seed_path, struct kst_files *f, struct kst_keys *out)
{
	unsigned char *seed;
	uint8_t *pt;
	size_t slen, ptlen, i, j;
	bool more = true;

	memset(out, 0, sizeof(*out));
	T_ASSERT(fsio_read_file(seed_path, 4096, &seed, &slen) == 0);
	kst_keys_add_windows(out, seed, slen);
	free(seed);
	while (more) {
		more = false;
		for (i = 0; i < f->n; i++) {
			if (f->opened[i])
				continue;
			for (j = 0; j < out->n; j++) {
				if (ks__file_try_open(f->data[i], f->len[i], out->k[j],
				    &pt, &ptlen) != 0)
					continue;
				f->opened[i] = true;
				more = true;
				kst_keys_add_windows(out, pt, ptlen);
				sodium_free(pt);
				break;
			}
		}
	}
}

/* Whether any key in ks opens ct as the (subject, day) seal. */
static inline bool
kst_any_opens(const struct kst_keys *ks, const uint8_t subject[16], int32_t day,
    const uint8_t *ct, size_t n)
{
	uint8_t pt[256];
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (ks__day_open_key(ks->k[i], subject, day, NULL, 0, ct, n, pt) == 0)
			return true;
	return false;
}

/* Whether any key in ks, as an X25519 secret, opens a sealed box. */
static inline bool
kst_any_unseals(const struct kst_keys *ks, const uint8_t sealed[80])
{
	uint8_t pk[32], out[32];
	size_t i;

	for (i = 0; i < ks->n; i++) {
		crypto_scalarmult_base(pk, ks->k[i]);
		if (crypto_box_seal_open(out, sealed, 80, pk, ks->k[i]) == 0)
			return true;
	}
	return false;
}

#endif
