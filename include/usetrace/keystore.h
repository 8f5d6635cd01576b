/*
 * keystore.h - the server's key tree (promise P9): master key -> one subject
 * key per person -> one day key per (person, UTC day), and each enrolled
 * device's daily X25519 ingest keys under the subject key; the server's own
 * Ed25519 receipt and audit keys under the master key.
 *
 * Erasure is cryptographic.  Erasing a person destroys their subject key;
 * erasing days re-keys the person's surviving day and ingest keys under a
 * fresh subject key.  Either way every subject key is then re-wrapped under
 * a fresh master key (one generation file, switched atomically by renaming
 * the master key file) and the old master key is destroyed.  A backup of
 * the key-store directory taken before an erasure therefore decrypts
 * nothing erased once the erasure has returned, and a shred costs one
 * generation file write: O(people), not O(person-days).
 *
 * The on-disk layout is described at the top of src/keystore/keystore.c.
 *
 * All functions that can fail return 0 or a negative UT_E* / -errno code;
 * out-parameters are set only on success.  Secrets are kept in
 * sodium_malloc'd memory, wiped when dropped and never logged.
 *
 * Thread safety: every function may be called from any thread; one mutex
 * inside struct keystore serialises them.  Shreds hold it for their whole
 * duration (a few fsyncs).
 */
#ifndef USETRACE_KEYSTORE_H
#define USETRACE_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYSTORE_SUBJECT_LEN 16u
#define KEYSTORE_DEVICE_LEN 32u
/* keystore_day_seal(): a 24-byte random nonce, then the 16-byte tag. */
#define KEYSTORE_SEAL_OVERHEAD 40u
/* Largest caller additional data for keystore_day_seal()/_open(). */
#define KEYSTORE_AD_MAX 1024u
/* crypto_box_seal of a 32-byte segment key. */
#define KEYSTORE_SEALED_KEY_LEN 80u

struct keystore;

struct keystore_opts {
	const char *dir;         /* key-store directory (inside the data dir) */
	const char *master_path; /* master key file, OUTSIDE the data dir */
	bool create;             /* make a new store when there is none */
};

/*
 * Opens the key store.  With o->create and no master key file, makes dir
 * (0700, and its subjects/ folder), the receipt and audit keys and the
 * master key (0600; the master file's folder is created 0700 when missing).
 * Recovers an interrupted shred: the master key file names the generation
 * in force; every other generation file, every temporary file and every
 * subject file that generation does not reference is deleted.
 *
 * The store folder is locked (flock) until keystore_close(): one process
 * (one handle) at a time.
 *
 * Errors: UT_ENOTFOUND when there is no master key file and !o->create;
 * UT_ESTATE when another handle holds the store;
 * UT_ESTATE when the master key file is missing but dir holds a key store
 * (refusing to overwrite it; restore the master key file); UT_ECORRUPT
 * for a damaged master file, or a missing or malformed generation or
 * subject file; UT_ECRYPTO when the master key does not open the
 * generation file it names (wrong master key file, or the generation
 * file was replaced or tampered with); -errno on I/O failure.
 * *out is freed with keystore_close().
 */
int keystore_open(const struct keystore_opts *o, struct keystore **out)
	__attribute__((warn_unused_result));

/* Wipes and frees every key held in memory.  NULL is a no-op. */
void keystore_close(struct keystore *ks);

enum keystore_server_key { KS_RECEIPT_KEY, KS_AUDIT_KEY };

/* The Ed25519 public key of a server key.  UT_EINVAL for an unknown k. */
int keystore_server_pk(struct keystore *ks, enum keystore_server_key k,
    uint8_t pk[32]);

/* Ed25519 detached signature of m (n bytes) with a server key. */
int keystore_sign(struct keystore *ks, enum keystore_server_key k,
    const uint8_t *m, size_t n, uint8_t sig[64]);

/*
 * Replaces a server key (receipt or audit) with a fresh Ed25519 pair:
 * rewrites the generation file in force under the same master key
 * (atomically, durable on 0).  old_pk / new_pk receive the public halves,
 * so the caller can keep the old one for checking old signatures.  On
 * error the old key stays in force (or, when the rename happened but could
 * not be made durable, the store goes read-only: UT_ESTATE afterwards).
 * UT_EINVAL for an unknown k, UT_ESTATE when read-only, -errno.
 */
int keystore_server_key_rotate(struct keystore *ks, enum keystore_server_key k,
    uint8_t old_pk[32], uint8_t new_pk[32]) __attribute__((warn_unused_result));

/*
 * Adds a subject (person) with a fresh subject key; idempotent (0 when it
 * exists).  Durable when it returns 0 (writes the subject's file and
 * rewrites the generation file under the same master key).  On error the
 * store is unchanged.  UT_ESTATE after a failed shred (see below).
 */
int keystore_subject_add(struct keystore *ks, const uint8_t subject[16])
	__attribute__((warn_unused_result));

bool keystore_subject_exists(struct keystore *ks, const uint8_t subject[16]);

/*
 * Seals pt (n bytes) under the (subject, day) key, creating and durably
 * storing that day key when missing (the caller checks erasure tombstones
 * first: sealing an erased day creates a new, unrelated day key).
 * XChaCha20-Poly1305-IETF, random nonce prepended, additional data
 * subject || day (i32 little-endian) || ad.  ct receives
 * n + KEYSTORE_SEAL_OVERHEAD bytes (ct and pt must not overlap).
 * Errors: UT_ENOTFOUND for an unknown subject, UT_ETOOBIG when adlen >
 * KEYSTORE_AD_MAX, UT_ESTATE after a failed shred (only when the day key
 * must be created), -errno when the day key cannot be stored.
 */
int keystore_day_seal(struct keystore *ks, const uint8_t subject[16],
    int32_t day, const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t n,
    uint8_t *ct) __attribute__((warn_unused_result));

/*
 * Opens what keystore_day_seal() sealed (ct is n bytes; pt receives
 * n - KEYSTORE_SEAL_OVERHEAD).  UT_ENOTFOUND when the subject or the day
 * key does not exist (never created, or erased); UT_ECRYPTO when the
 * ciphertext or ad does not verify (pt is then wiped); UT_EINVAL when n is
 * shorter than the overhead.
 */
int keystore_day_open(struct keystore *ks, const uint8_t subject[16],
    int32_t day, const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t n,
    uint8_t *pt) __attribute__((warn_unused_result));

/*
 * The X25519 public key of the ingest key of (subject, device, day),
 * creating and durably storing that key when missing.  Errors as for
 * keystore_day_seal().
 */
int keystore_ingest_pk(struct keystore *ks, const uint8_t subject[16],
    const uint8_t device[32], int32_t day, uint8_t pk[32])
	__attribute__((warn_unused_result));

/*
 * Opens a crypto_box_seal'ed segment key (80 bytes) with the ingest key of
 * (subject, device, day) whose public key equals recipient.  Never creates
 * a key.  UT_ENOTFOUND when there is no such key (unknown subject or
 * device, wrong day, erased, or recipient is not that key's public key);
 * UT_ECRYPTO when it does not open (seg_key is then wiped).  seg_key is the
 * caller's (sodium_malloc'd) 32-byte buffer.
 */
int keystore_ingest_unseal(struct keystore *ks, const uint8_t subject[16],
    const uint8_t device[32], int32_t day, const uint8_t recipient[32],
    const uint8_t sealed[80], uint8_t seg_key[32])
	__attribute__((warn_unused_result));

/*
 * Shreds.  Each returns 0 only after the switch to the new generation is
 * durable: from then on no key reachable from the master key file opens
 * what was erased, and the old master key is gone from memory and disk.
 * Erasing something absent (unknown subject, no such day key) is a no-op
 * that returns 0, so a caller may re-run an erasure from its audit intent.
 *
 * On an error before the switch the store is unchanged (on disk and in
 * memory).  On an error after the switch (the directory fsync that makes
 * it durable failed) the in-memory store has already dropped the erased
 * keys, the store turns read-only (later writes: UT_ESTATE) and the next
 * keystore_open() finds either generation whole; the caller re-runs the
 * erasure after reopening.
 *
 * erase_day erases one day's day key and that day's ingest keys;
 * erase_days_before every day < before_day, in ONE shred; erase_subject
 * the subject key, with every day and ingest key under it.
 */
int keystore_erase_day(struct keystore *ks, const uint8_t subject[16],
    int32_t day) __attribute__((warn_unused_result));
int keystore_erase_days_before(struct keystore *ks, const uint8_t subject[16],
    int32_t before_day) __attribute__((warn_unused_result));
int keystore_erase_subject(struct keystore *ks, const uint8_t subject[16])
	__attribute__((warn_unused_result));

/*
 * The days that have a day key for subject, ascending, in *out (malloc'd,
 * caller frees with free(); NULL when *n is 0).  UT_ENOTFOUND for an
 * unknown subject.
 */
int keystore_days(struct keystore *ks, const uint8_t subject[16],
    int32_t **out, size_t *n) __attribute__((warn_unused_result));

/*
 * For tests and offline tools only (tests/tools/ut_keyscan.c tries every
 * key the store holds on every window of a backup): calls fn once for every
 * day key and every ingest key under every subject, subjects in id order.
 * The key pointers are valid only during the call; fn must copy what it
 * keeps (into sodium_malloc'd memory), must not call keystore functions
 * (the store's mutex is held) and returns non-zero to stop the walk (that
 * value is returned).  The server never calls this.
 */
enum keystore_key_kind { KS_KIND_DAY, KS_KIND_INGEST };
struct keystore_key_view {
	enum keystore_key_kind kind;
	const uint8_t *subject;   /* 16 bytes */
	int32_t day;
	const uint8_t *device;    /* ingest: device public key (32); else NULL */
	const uint8_t *key;       /* day key, or the ingest X25519 secret key */
	const uint8_t *pk;        /* ingest: its X25519 public key; else NULL */
};
int keystore_foreach_key(struct keystore *ks,
    int (*fn)(const struct keystore_key_view *k, void *arg), void *arg)
	__attribute__((warn_unused_result));

/* The generation in force (1 for a new store, +1 per shred). */
uint64_t keystore_generation(struct keystore *ks);

/* UTC day number (days since 1970-01-01) of a wall time, floor division. */
int32_t keystore_day_of(int64_t wall_ns);

#endif
