/*
 * keys.h - the keys a device holds: its Ed25519 signing key pair, and the
 * person's own recipient key pair whose secret half is wrapped by their
 * passphrase (docs/KEYS.md lists every key, its holder and rotation).
 *
 * Key files live in the key home: $USETRACE_HOME if set, else
 * $XDG_CONFIG_HOME/usetrace, else ~/.config/usetrace (created 0700):
 *
 *     device.key      Ed25519 secret key (0600)
 *     device.pub      Ed25519 public key, base64 (0644)
 *     recipient.key   X25519 secret key wrapped by crypto_pwhash +
 *                     crypto_secretbox (0600)
 *     recipient.pub   X25519 public key, base64 (0644)
 *
 * Secret keys live in sodium_malloc'd (guarded, locked) memory and are wiped
 * when freed; they are never logged.  Public keys are printed and parsed as
 * standard base64 (44 characters); 64 hex digits are accepted as well.
 *
 * All functions return 0 or a negative UT_E* / -errno code; out-parameters
 * are set only on success.
 */
#ifndef USETRACE_KEYS_H
#define USETRACE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UT_SIGN_PK_LEN 32u
#define UT_SIGN_SK_LEN 64u
#define UT_BOX_PK_LEN 32u
#define UT_BOX_SK_LEN 32u
#define UT_PUBKEY_TEXT_MAX 96u  /* base64 text of a public key, with NUL */
#define UT_PASSPHRASE_MAX 1024u

/* The device's signing key pair (sodium_malloc'd). */
struct ut_device_key {
	uint8_t pk[UT_SIGN_PK_LEN];
	uint8_t sk[UT_SIGN_SK_LEN];
};

/* An unlocked recipient key pair (sodium_malloc'd). */
struct ut_recipient_key {
	uint8_t pk[UT_BOX_PK_LEN];
	uint8_t sk[UT_BOX_SK_LEN];
};

/*
 * Writes the key home directory into out (size outsz); creates it (0700)
 * with its parents when create is true.  UT_ENOTFOUND when no location can
 * be derived (no $HOME), UT_ETOOBIG when the path does not fit.
 */
int keys_home(char *out, size_t outsz, bool create)
	__attribute__((warn_unused_result));

/*
 * Loads the device key pair from home (NULL: keys_home()); when it does not
 * exist and create is true, generates one and writes device.key (0600) and
 * device.pub atomically (temp file, fsync, rename, fsync dir).  *out is
 * freed with keys_device_free().  UT_ENOTFOUND when missing and !create,
 * UT_ECORRUPT for a damaged key file.
 */
int keys_device_load(const char *home, bool create, struct ut_device_key **out)
	__attribute__((warn_unused_result));
void keys_device_free(struct ut_device_key *k);

/* Reads home's recipient.pub.  UT_ENOTFOUND when there is none yet. */
int keys_recipient_pub(const char *home, uint8_t pk[UT_BOX_PK_LEN])
	__attribute__((warn_unused_result));

/*
 * Creates the person's recipient key pair in home, its secret wrapped by
 * pass (passlen bytes): crypto_pwhash (Argon2id, INTERACTIVE limits) derives
 * the wrapping key, crypto_secretbox seals the secret.  -EEXIST when a key
 * pair exists already.  pk receives the public key (may be NULL).
 */
int keys_recipient_create(const char *home, const char *pass, size_t passlen,
    uint8_t pk[UT_BOX_PK_LEN]) __attribute__((warn_unused_result));

/*
 * Unwraps home's recipient secret key with pass.  UT_EDENIED for a wrong
 * passphrase (or a tampered key file), UT_ENOTFOUND when there is no key.
 * Free *out with keys_recipient_free().
 */
int keys_recipient_unlock(const char *home, const char *pass, size_t passlen,
    struct ut_recipient_key **out) __attribute__((warn_unused_result));
void keys_recipient_free(struct ut_recipient_key *k);
/*
 * Changes the passphrase of home's recipient key: unlocks it with oldpass
 * (UT_EDENIED when wrong), wraps the same secret under newpass with a new
 * salt, and replaces recipient.key atomically (temp file, fsync, rename,
 * fsync dir): a crash leaves the old file or the new one, never neither.
 * The key pair, and so every recording sealed to it, stays the same.
 */
int keys_recipient_rewrap(const char *home, const char *oldpass,
    size_t oldlen, const char *newpass, size_t newlen)
	__attribute__((warn_unused_result));

/*
 * Reads a passphrase: from the file `file` when not NULL, else from the file
 * named by $USETRACE_PASSPHRASE_FILE, else from the terminal (/dev/tty,
 * echo off; asked twice when confirm).  One trailing newline of a file is
 * stripped (a CRLF as well).  *out is sodium_malloc'd and NUL-terminated; free it with
 * keys_passphrase_free().  UT_ENOTFOUND when there is no file and no
 * terminal, UT_EINVAL for an empty passphrase or a mismatched confirmation.
 */
int keys_passphrase_get(const char *file, const char *prompt, bool confirm,
    char **out, size_t *outlen) __attribute__((warn_unused_result));
void keys_passphrase_free(char *p);

/* Parses base64 (standard, 44 chars) or 64 hex digits; UT_EPARSE otherwise
 * (also for NULL). */
int keys_pubkey_parse(const char *text, uint8_t pk[32])
	__attribute__((warn_unused_result));
/* Formats pk as base64 into out (at least UT_PUBKEY_TEXT_MAX bytes). */
void keys_pubkey_format(const uint8_t pk[32], char *out, size_t outsz);

/* Writes a public key file (base64 line), atomically; mode 0644. */
int keys_pubfile_write(const char *path, const uint8_t pk[32])
	__attribute__((warn_unused_result));
/* Reads a public key file.  UT_ENOTFOUND if missing, UT_EPARSE if bad. */
int keys_pubfile_read(const char *path, uint8_t pk[32])
	__attribute__((warn_unused_result));

/*
 * A key history: one public key (base64) per line, the keys a server used
 * before a rotation.  keys_pubfile_append() adds pk as a line (created
 * 0644, fsync'd).  keys_pubfile_read_all() reads at most max keys into pks
 * and sets *n: 0 and *n = 0 when the file is missing, UT_EPARSE for a bad
 * line, UT_ETOOBIG past max keys.
 */
#define KEYS_HISTORY_MAX 64u
int keys_pubfile_append(const char *path, const uint8_t pk[32])
	__attribute__((warn_unused_result));
int keys_pubfile_read_all(const char *path, uint8_t (*pks)[32], size_t max,
    size_t *n) __attribute__((warn_unused_result));

#endif
