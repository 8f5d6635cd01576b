/*
 * keystore_int.h - private to src/keystore (and its white-box tests): the
 * in-memory key records and the codec of the key-store files (ksfile.c).
 */
#ifndef USETRACE_KEYSTORE_INT_H
#define USETRACE_KEYSTORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KS_KEY_LEN 32u
#define KS_NONCE_LEN 24u
#define KS_TAG_LEN 16u
#define KS_MAGIC_LEN 8u
#define KS_MASTER_MAGIC "UTMASTR1"
#define KS_GEN_MAGIC "UTKSGEN1"
#define KS_SUBJ_MAGIC "UTKSSUB1"
#define KS_MASTER_FILE_LEN (KS_MAGIC_LEN + 8u + KS_KEY_LEN)

/* Ceilings that bound every file read and every table. */
#define KS_SUBJECTS_MAX (1u << 22)
#define KS_DAYS_MAX (1u << 16)
#define KS_INGEST_MAX (1u << 18)

/* One row of the subject table (in the generation file). */
struct ks_subj {
	uint8_t id[16];
	uint32_t version;
	uint8_t key[KS_KEY_LEN];
};

struct ks_day {
	int32_t day;
	uint8_t key[KS_KEY_LEN];
};

struct ks_ingest {
	uint8_t dev[32];
	int32_t day;
	uint8_t sk[KS_KEY_LEN];
	uint8_t pk[KS_KEY_LEN];   /* derived, not stored */
};

/* What the generation file holds; every pointer sodium_malloc'd. */
struct ks_gen {
	uint64_t gen;
	uint8_t *server;          /* receipt sk (64) || audit sk (64) */
	struct ks_subj *subj;     /* sorted by id */
	size_t nsubj, capsubj;
};

/* What a subject file holds (the cache of a subject). */
struct ks_subfile {
	struct ks_day *days;      /* sodium_malloc'd, sorted by day */
	size_t ndays, capdays;
	struct ks_ingest *ing;    /* sodium_malloc'd, unsorted */
	size_t ning, caping;
};

/* Loaded subject files kept at most; past it the cache is emptied. */
#define KS_CACHE_MAX 4096u

struct keystore {
	pthread_mutex_t mu;
	char *dir, *subdir, *master_path;
	uint8_t *master;            /* sodium_malloc'd, the key in force */
	struct ks_gen g;            /* generation in force */
	struct ks_subfile **cache;  /* parallel to g.subj; NULL = not loaded */
	size_t capcache, ncached;
	bool readonly;              /* a shred's switch was not made durable */
	int lockfd;                 /* the store folder, flock'ed; or -1 */
};

/* keystore.c: helpers shared by the parts of the module. */
bool ks__find(const struct keystore *ks, const uint8_t id[16], size_t *idx);
int ks__gen_path(const struct keystore *ks, uint64_t gen, char *buf,
    size_t sz) __attribute__((warn_unused_result));
int ks__subj_path(const struct keystore *ks, const uint8_t id[16],
    uint32_t version, char *buf, size_t sz) __attribute__((warn_unused_result));
/* The loaded subject file of table row idx (loads it into the cache). */
int ks__load(struct keystore *ks, size_t idx, struct ks_subfile **sf)
	__attribute__((warn_unused_result));
/* Keeps the cache array parallel to the table: a row inserted / removed. */
void ks__cache_insert(struct keystore *ks, size_t idx);
void ks__cache_remove(struct keystore *ks, size_t idx);

/* ksfile.c: table helpers. */
void ks__gen_free(struct ks_gen *g);
void ks__gen_reserve(struct ks_gen *g, size_t n);
/* A deep copy of g's table and server keys into *dst (which is reset). */
void ks__gen_copy(struct ks_gen *dst, const struct ks_gen *g);
struct ks_subfile *ks__subfile_new(void);
void ks__subfile_free(struct ks_subfile *sf);
void ks__subfile_reserve(struct ks_subfile *sf, size_t ndays, size_t ning);

/* ksfile.c: files.  Paths are built by the caller. */
/*
 * Atomic replace: temp file, fdatasync, rename, fsync dir.  *renamed (may
 * be NULL) tells, on error, whether the new file may already be in place.
 */
int ks__write_atomic(const char *path, const void *p, size_t n, bool *renamed)
	__attribute__((warn_unused_result));
int ks__master_read(const char *path, uint64_t *gen, uint8_t key[KS_KEY_LEN])
	__attribute__((warn_unused_result));
/* Writes the master file to path (not atomically: the caller renames). */
int ks__master_write_tmp(const char *tmp, uint64_t gen,
    const uint8_t key[KS_KEY_LEN]) __attribute__((warn_unused_result));
int ks__gen_write(const char *path, const struct ks_gen *g,
    const uint8_t master[KS_KEY_LEN], bool *renamed)
	__attribute__((warn_unused_result));
/* UT_ECRYPTO when master does not open it; g is filled on success. */
int ks__gen_read(const char *path, uint64_t gen,
    const uint8_t master[KS_KEY_LEN], struct ks_gen *g)
	__attribute__((warn_unused_result));
int ks__subfile_write(const char *path, const struct ks_subj *s,
    const struct ks_subfile *sf, bool *renamed)
	__attribute__((warn_unused_result));
int ks__subfile_read(const char *path, const struct ks_subj *s,
    struct ks_subfile **out) __attribute__((warn_unused_result));

/*
 * For tests: tries key on any key-store file image (generation or subject
 * file); on success *pt (sodium_malloc'd, sodium_free) holds the plaintext.
 */
int ks__file_try_open(const uint8_t *file, size_t len,
    const uint8_t key[KS_KEY_LEN], uint8_t **pt, size_t *ptlen)
	__attribute__((warn_unused_result));
/* For tests and keystore.c: the day-key AEAD with an explicit key. */
int ks__day_open_key(const uint8_t key[KS_KEY_LEN], const uint8_t subject[16],
    int32_t day, const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t n,
    uint8_t *pt) __attribute__((warn_unused_result));
void ks__day_seal_key(const uint8_t key[KS_KEY_LEN], const uint8_t subject[16],
    int32_t day, const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t n,
    uint8_t *ct);

#endif
