/*
 * keys.c - device and recipient key files (see keys.h, docs/KEYS.md).
 *
 * Invariants:
 *  (1) Secret keys and passphrases live only in sodium_malloc'd memory
 *      (guard pages, mlock'd) and are wiped on every path that frees them;
 *      buffers that held them on the way from disk are wiped too.
 *      sodium_free() accepts NULL, so cleanup paths call it unconditionally.
 *  (2) Secret key files are created 0600 in a 0700 directory, written to a
 *      temporary name, fsync'd, renamed and the directory fsync'd, so a
 *      crash leaves either no key file or a complete one.
 *  (3) The recipient secret is on disk only wrapped (pwhash + secretbox);
 *      nothing on the device unwraps it without the passphrase.
 *
 * recipient.key layout (little-endian):
 *   0  8  magic "UTRKEY01"
 *   8  8  opslimit      16 8 memlimit      24 4 algorithm
 *   28 16 salt          44 24 nonce
 *   68 80 secretbox(sk || pk)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/util.h"

#define DEVKEY_MAGIC "UTDKEY01"
#define DEVKEY_LEN (8u + UT_SIGN_SK_LEN)
#define RKEY_MAGIC "UTRKEY01"
#define RKEY_BOX_LEN (UT_BOX_SK_LEN + UT_BOX_PK_LEN + crypto_secretbox_MACBYTES)
#define RKEY_LEN (68u + RKEY_BOX_LEN)

static int
mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(path);
	int r;

	if (n == 0 || n >= sizeof(tmp))
		return UT_EINVAL;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if ((r = fsio_mkdir(tmp, 0700)) < 0 && r != -EEXIST)
			return r;
		tmp[i] = i == n ? '\0' : '/';
	}
	return 0;
}

int
keys_home(char *out, size_t outsz, bool create)
{
	const char *v;
	struct stat st;
	int n, r;

	if ((v = getenv("USETRACE_HOME")) != NULL && *v != '\0')
		n = snprintf(out, outsz, "%s", v);
	else if ((v = getenv("XDG_CONFIG_HOME")) != NULL && *v == '/')
		n = snprintf(out, outsz, "%s/usetrace", v);
	else if ((v = getenv("HOME")) != NULL && *v != '\0')
		n = snprintf(out, outsz, "%s/.config/usetrace", v);
	else
		return UT_ENOTFOUND;
	if (n < 0 || (size_t)n >= outsz)
		return UT_ETOOBIG;
	if (!create)
		return 0;
	if ((r = mkdir_p(out)) < 0)
		return r;
	if ((r = fsio_stat(out, &st)) < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 077) != 0 && chmod(out, 0700) < 0)
		return -errno;
	return 0;
}

static int
home_path(const char *home, const char *name, bool create, char *out,
    size_t outsz)
{
	char h[PATH_MAX];
	int n, r;

	if (home == NULL) {
		if ((r = keys_home(h, sizeof(h), create)) < 0)
			return r;
		home = h;
	} else if (create && (r = mkdir_p(home)) < 0)
		return r;
	n = snprintf(out, outsz, "%s/%s", home, name);
	if (n < 0 || (size_t)n >= outsz)
		return UT_ETOOBIG;
	return 0;
}

/* Writes p to path atomically (temp, fsync, rename, fsync dir). */
static int
write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	const char *slash;
	int fd = -1, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return UT_ETOOBIG;
	(void)fsio_unlink(tmp);
	if ((fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0)
		return fd;
	if ((r = fsio_write_all(fd, p, n)) < 0 || (r = fsio_fsync(fd)) < 0)
		goto out;
	r = fsio_close(fd);
	fd = -1;
	if (r < 0 || (r = fsio_rename(tmp, path)) < 0)
		goto out;
	slash = strrchr(path, '/');
	if (slash == NULL) {
		r = fsio_fsync_dir(".");
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		r = fsio_fsync_dir(slash == path ? "/" : dir);
	}
out:
	if (fd >= 0)
		(void)fsio_close(fd);
	if (r < 0)
		(void)fsio_unlink(tmp);
	return r;
}

/* Reads a small key file into locked memory; *out freed by sodium_free. */
static int
read_secret_file(const char *path, size_t want, uint8_t **out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	uint8_t *p;
	int r;

	if ((r = fsio_read_file(path, 4096, &raw, &len)) < 0)
		return r == -ENOENT ? UT_ENOTFOUND : r;
	if (len != want) {
		r = UT_ECORRUPT;
		goto out;
	}
	if ((p = sodium_malloc(want)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(p, raw, want);
	*out = p;
	r = 0;
out:
	sodium_memzero(raw, len);
	free(raw);
	return r;
}

void
keys_pubkey_format(const uint8_t pk[32], char *out, size_t outsz)
{
	if (outsz < sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)) {
		if (outsz > 0)
			out[0] = '\0';
		return;
	}
	sodium_bin2base64(out, outsz, pk, 32, sodium_base64_VARIANT_ORIGINAL);
}

int
keys_pubkey_parse(const char *text, uint8_t pk[32])
{
	uint8_t tmp[32];
	size_t n = 0, tl;
	const char *end = NULL;

	/* A JSON field that is missing or not a string arrives as NULL. */
	if (text == NULL)
		return UT_EPARSE;
	tl = strlen(text);
	if (tl == 64) {
		if (sodium_hex2bin(tmp, sizeof(tmp), text, tl, NULL, &n, &end) != 0 ||
		    n != 32 || *end != '\0')
			return UT_EPARSE;
	} else if (sodium_base642bin(tmp, sizeof(tmp), text, tl, NULL, &n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != 32 || *end != '\0') {
		return UT_EPARSE;
	}
	memcpy(pk, tmp, 32);
	return 0;
}

int
keys_pubfile_write(const char *path, const uint8_t pk[32])
{
	char line[UT_PUBKEY_TEXT_MAX + 1];
	size_t n;

	keys_pubkey_format(pk, line, sizeof(line) - 1);
	n = strlen(line);
	line[n++] = '\n';
	return write_atomic(path, line, n, 0644);
}

int
keys_pubfile_append(const char *path, const uint8_t pk[32])
{
	char line[UT_PUBKEY_TEXT_MAX + 1];
	size_t n;
	int fd, r, r2;

	keys_pubkey_format(pk, line, sizeof(line) - 1);
	n = strlen(line);
	line[n++] = '\n';
	fd = fsio_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0)
		return fd;
	if ((r = fsio_write_all(fd, line, n)) == 0)
		r = fsio_fsync(fd);
	r2 = fsio_close(fd);
	return r < 0 ? r : r2;
}

int
keys_pubfile_read_all(const char *path, uint8_t (*pks)[32], size_t max, size_t *n)
{
	unsigned char *raw = NULL;
	char *line, *save = NULL;
	size_t len = 0, k = 0;
	int r;

	*n = 0;
	r = fsio_read_file(path, (KEYS_HISTORY_MAX + 1) * (UT_PUBKEY_TEXT_MAX + 1),
	    &raw, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	raw = xreallocarray(raw, len + 1, 1);
	raw[len] = '\0';
	if (memchr(raw, '\0', len) != NULL) {
		r = UT_EPARSE;
		goto out;
	}
	for (line = strtok_r((char *)raw, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (k == max) {
			r = UT_ETOOBIG;
			goto out;
		}
		if ((r = keys_pubkey_parse(line, pks[k])) < 0)
			goto out;
		k++;
	}
	*n = k;
	r = 0;
out:
	free(raw);
	return r;
}

int
keys_pubfile_read(const char *path, uint8_t pk[32])
{
	unsigned char *raw = NULL;
	char line[UT_PUBKEY_TEXT_MAX];
	size_t len = 0;
	int r;

	if ((r = fsio_read_file(path, 256, &raw, &len)) < 0)
		return r == -ENOENT ? UT_ENOTFOUND : r;
	if (len > 0 && raw[len - 1] == '\n')
		len--;
	if (len == 0 || len >= sizeof(line) || memchr(raw, '\0', len) != NULL) {
		r = UT_EPARSE;
		goto out;
	}
	memcpy(line, raw, len);
	line[len] = '\0';
	r = keys_pubkey_parse(line, pk);
out:
	free(raw);
	return r;
}

int
keys_device_load(const char *home, bool create, struct ut_device_key **out)
{
	char path[PATH_MAX], pubpath[PATH_MAX];
	struct ut_device_key *k = NULL;
	uint8_t *raw = NULL, file[DEVKEY_LEN];
	int r;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((r = home_path(home, "device.key", create, path, sizeof(path))) < 0 ||
	    (r = home_path(home, "device.pub", false, pubpath, sizeof(pubpath))) < 0)
		return r;
	if ((k = sodium_malloc(sizeof(*k))) == NULL)
		return -ENOMEM;
	r = read_secret_file(path, DEVKEY_LEN, &raw);
	if (r == 0) {
		if (memcmp(raw, DEVKEY_MAGIC, 8) != 0) {
			r = UT_ECORRUPT;
			goto out;
		}
		memcpy(k->sk, raw + 8, UT_SIGN_SK_LEN);
		crypto_sign_ed25519_sk_to_pk(k->pk, k->sk);
		goto out;
	}
	if (r != UT_ENOTFOUND || !create)
		goto out;
	crypto_sign_keypair(k->pk, k->sk);
	memcpy(file, DEVKEY_MAGIC, 8);
	memcpy(file + 8, k->sk, UT_SIGN_SK_LEN);
	r = write_atomic(path, file, sizeof(file), 0600);
	sodium_memzero(file, sizeof(file));
	if (r < 0)
		goto out;
	r = keys_pubfile_write(pubpath, k->pk);
out:
	sodium_free(raw);
	if (r < 0) {
		sodium_free(k);
		return r;
	}
	*out = k;
	return 0;
}

void
keys_device_free(struct ut_device_key *k)
{
	sodium_free(k); /* wipes */
}

int
keys_recipient_pub(const char *home, uint8_t pk[UT_BOX_PK_LEN])
{
	char path[PATH_MAX];
	int r;

	if ((r = home_path(home, "recipient.pub", false, path, sizeof(path))) < 0)
		return r;
	return keys_pubfile_read(path, pk);
}

/* Derives the wrapping key (locked memory) from pass and the file's salt. */
static int
derive(const char *pass, size_t passlen, const uint8_t *salt,
    unsigned long long ops, size_t mem, int alg, uint8_t **key)
{
	uint8_t *k = sodium_malloc(crypto_secretbox_KEYBYTES);

	if (k == NULL)
		return -ENOMEM;
	if (crypto_pwhash(k, crypto_secretbox_KEYBYTES, pass, passlen, salt, ops,
	    mem, alg) != 0) {
		sodium_free(k);
		return -ENOMEM; /* pwhash fails only for lack of memory */
	}
	*key = k;
	return 0;
}

/*
 * recipient.key's contents for k's secret wrapped by pass: a fresh salt
 * and nonce, Argon2id at INTERACTIVE limits.
 */
static int
seal_secret(const struct ut_recipient_key *k, const char *pass,
    size_t passlen, uint8_t file[RKEY_LEN])
{
	unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	int alg = crypto_pwhash_ALG_ARGON2ID13, r;
	uint8_t *wk = NULL, *plain;

	if ((plain = sodium_malloc(UT_BOX_SK_LEN + UT_BOX_PK_LEN)) == NULL)
		return -ENOMEM;
	memset(file, 0, RKEY_LEN);
	memcpy(file, RKEY_MAGIC, 8);
	put_u64le(file + 8, ops);
	put_u64le(file + 16, mem);
	put_u32le(file + 24, (uint32_t)alg);
	randombytes_buf(file + 28, crypto_pwhash_SALTBYTES);
	randombytes_buf(file + 44, crypto_secretbox_NONCEBYTES);
	if ((r = derive(pass, passlen, file + 28, ops, mem, alg, &wk)) == 0) {
		memcpy(plain, k->sk, UT_BOX_SK_LEN);
		memcpy(plain + UT_BOX_SK_LEN, k->pk, UT_BOX_PK_LEN);
		crypto_secretbox_easy(file + 68, plain,
		    UT_BOX_SK_LEN + UT_BOX_PK_LEN, file + 44, wk);
	}
	sodium_free(wk);
	sodium_free(plain);
	return r;
}

int
keys_recipient_create(const char *home, const char *pass, size_t passlen,
    uint8_t pk[UT_BOX_PK_LEN])
{
	char path[PATH_MAX], pubpath[PATH_MAX];
	struct ut_recipient_key *k = NULL;
	uint8_t file[RKEY_LEN];
	int r;
	struct stat st;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if (pass == NULL || passlen == 0)
		return UT_EINVAL;
	if ((r = home_path(home, "recipient.key", true, path, sizeof(path))) < 0 ||
	    (r = home_path(home, "recipient.pub", false, pubpath, sizeof(pubpath))) < 0)
		return r;
	if (fsio_stat(path, &st) == 0 || fsio_stat(pubpath, &st) == 0)
		return -EEXIST;
	if ((k = sodium_malloc(sizeof(*k))) == NULL)
		return -ENOMEM;
	crypto_box_keypair(k->pk, k->sk);
	if ((r = seal_secret(k, pass, passlen, file)) < 0)
		goto out;
	/* The public half first: a crash leaves no orphaned secret. */
	if ((r = keys_pubfile_write(pubpath, k->pk)) < 0)
		goto out;
	if ((r = write_atomic(path, file, sizeof(file), 0600)) < 0) {
		(void)fsio_unlink(pubpath);
		goto out;
	}
	if (pk != NULL)
		memcpy(pk, k->pk, UT_BOX_PK_LEN);
out:
	sodium_free(k);
	return r;
}

int
keys_recipient_unlock(const char *home, const char *pass, size_t passlen,
    struct ut_recipient_key **out)
{
	char path[PATH_MAX];
	struct ut_recipient_key *k = NULL;
	uint8_t *file = NULL, *wk = NULL, *plain = NULL, pub[UT_BOX_PK_LEN];
	uint64_t ops, mem;
	uint32_t alg;
	int r;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((r = home_path(home, "recipient.key", false, path, sizeof(path))) < 0)
		return r;
	if ((r = read_secret_file(path, RKEY_LEN, &file)) < 0)
		return r;
	ops = get_u64le(file + 8);
	mem = get_u64le(file + 16);
	alg = get_u32le(file + 24);
	/* Refuse parameters a tampered file could use to exhaust the machine. */
	if (memcmp(file, RKEY_MAGIC, 8) != 0 ||
	    ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE ||
	    alg != crypto_pwhash_ALG_ARGON2ID13) {
		r = UT_ECORRUPT;
		goto out;
	}
	k = sodium_malloc(sizeof(*k));
	plain = sodium_malloc(UT_BOX_SK_LEN + UT_BOX_PK_LEN);
	if (k == NULL || plain == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = derive(pass, passlen, file + 28, ops, (size_t)mem, (int)alg,
	    &wk)) < 0)
		goto out;
	if (crypto_secretbox_open_easy(plain, file + 68, RKEY_BOX_LEN, file + 44,
	    wk) != 0) {
		r = UT_EDENIED;
		goto out;
	}
	memcpy(k->sk, plain, UT_BOX_SK_LEN);
	crypto_scalarmult_base(pub, k->sk);
	if (sodium_memcmp(pub, plain + UT_BOX_SK_LEN, UT_BOX_PK_LEN) != 0) {
		r = UT_ECORRUPT;
		goto out;
	}
	memcpy(k->pk, pub, UT_BOX_PK_LEN);
	*out = k;
	k = NULL;
	r = 0;
out:
	sodium_free(file);
	sodium_free(wk);
	sodium_free(plain);
	sodium_free(k);
	return r;
}

void
keys_recipient_free(struct ut_recipient_key *k)
{
	sodium_free(k);
}

static volatile sig_atomic_t tty_sig;

static void
tty_on_signal(int sig)
{
	tty_sig = sig;
}

/*
 * Reads one line from the terminal with echo off into p (cap bytes).  A
 * signal that ends the process (Ctrl-C, Ctrl-\, hangup, SIGTERM) while
 * echo is off first restores the terminal, then ends it as before.
 */
static int
tty_read(int fd, const char *prompt, char *p, size_t cap, size_t *len)
{
	static const int sigs[] = { SIGINT, SIGQUIT, SIGHUP, SIGTERM };
	struct sigaction sa, osa[4];
	struct termios old, noecho;
	size_t n = 0, i;
	char c;
	ssize_t got;
	int r = 0, sig;

	if (tcgetattr(fd, &old) < 0)
		return -errno;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	(void)!write(fd, prompt, strlen(prompt));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal; /* no SA_RESTART: read() returns */
	sigemptyset(&sa.sa_mask);
	tty_sig = 0;
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &osa[i]);
	if (tcsetattr(fd, TCSAFLUSH, &noecho) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		if (tty_sig != 0)
			break;
		got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			r = UT_ETOOBIG;
			continue; /* drain the line */
		}
		p[n++] = c;
	}
	c = 0;
	(void)tcsetattr(fd, TCSAFLUSH, &old);
out:
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &osa[i], NULL);
	p[n] = '\0';
	*len = n;
	if ((sig = tty_sig) != 0) {
		(void)!write(fd, "\n", 1);
		sodium_memzero(p, cap);
		/* As the signal would have: its handler, or the default. */
		raise(sig);
		return -EINTR;
	}
	return r;
}

int
keys_passphrase_get(const char *file, const char *prompt, bool confirm,
    char **out, size_t *outlen)
{
	unsigned char *raw = NULL;
	char *p = NULL, *p2 = NULL;
	size_t len = 0, len2 = 0, rawlen = 0;
	int r, fd = -1;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if (file == NULL || *file == '\0')
		file = getenv("USETRACE_PASSPHRASE_FILE");
	if ((p = sodium_malloc(UT_PASSPHRASE_MAX + 1)) == NULL)
		return -ENOMEM;
	if (file != NULL && *file != '\0') {
		if ((r = fsio_read_file(file, UT_PASSPHRASE_MAX, &raw, &rawlen)) < 0)
			goto out;
		len = rawlen;
		if (len > 0 && raw[len - 1] == '\n')
			len--;
		if (len > 0 && raw[len - 1] == '\r')
			len--; /* a file saved with CRLF line ends */
		memcpy(p, raw, len);
		p[len] = '\0';
	} else {
		fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || !isatty(fd)) {
			r = UT_ENOTFOUND;
			goto out;
		}
		if ((r = tty_read(fd, prompt, p, UT_PASSPHRASE_MAX, &len)) < 0)
			goto out;
		if (confirm) {
			if ((p2 = sodium_malloc(UT_PASSPHRASE_MAX + 1)) == NULL) {
				r = -ENOMEM;
				goto out;
			}
			if ((r = tty_read(fd, "again: ", p2, UT_PASSPHRASE_MAX,
			    &len2)) < 0)
				goto out;
			if (len2 != len || sodium_memcmp(p, p2, len) != 0) {
				r = UT_EINVAL;
				goto out;
			}
		}
	}
	if (len == 0 || memchr(p, '\0', len) != NULL) {
		r = UT_EINVAL;
		goto out;
	}
	*out = p;
	*outlen = len;
	p = NULL;
	r = 0;
out:
	if (raw != NULL) {
		sodium_memzero(raw, rawlen);
		free(raw);
	}
	if (fd >= 0)
		close(fd);
	sodium_free(p2); /* NULL is a no-op */
	sodium_free(p);
	return r;
}

void
keys_passphrase_free(char *p)
{
	sodium_free(p);
}

int
keys_recipient_rewrap(const char *home, const char *oldpass, size_t oldlen,
    const char *newpass, size_t newlen)
{
	char path[PATH_MAX];
	struct ut_recipient_key *k = NULL;
	uint8_t file[RKEY_LEN];
	int r;

	if (newpass == NULL || newlen == 0)
		return UT_EINVAL;
	if ((r = keys_recipient_unlock(home, oldpass, oldlen, &k)) < 0)
		return r;
	if ((r = home_path(home, "recipient.key", false, path, sizeof(path))) == 0 &&
	    (r = seal_secret(k, newpass, newlen, file)) == 0)
		r = write_atomic(path, file, sizeof(file), 0600); /* one rename */
	sodium_memzero(file, sizeof(file));
	keys_recipient_free(k);
	return r;
}
