/*
 * tls.c - the server's TLS identity: an ECDSA P-256 key and a self-signed
 * certificate generated on first start, and the public-key pin clients
 * check (libcurl's CURLOPT_PINNEDPUBLICKEY form).
 *
 * The private key is only ever in gnutls memory (wiped with its structure)
 * and in sodium_malloc'd memory here; its file is written 0600 through a
 * temporary file, fsync and rename, so a crash leaves the old key or the
 * new one, never half of one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/http.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "http_int.h"

#define PEM_MAX (256u << 10)
#define CERT_DAYS (10 * 365 + 3)

int
http__read_pem(const char *path, size_t cap, char **out, size_t *outlen)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	char *p;
	int r;

	r = fsio_read_file(path, cap, &raw, &len);
	if (r < 0)
		return r;
	if (sodium_init() < 0) {
		r = UT_ECRYPTO;
		goto out;
	}
	p = sodium_malloc(len + 1);
	if (p == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(p, raw, len);
	p[len] = '\0';
	*out = p;
	*outlen = len;
	r = 0;
out:
	if (raw != NULL) {
		sodium_memzero(raw, len);
		free(raw);
	}
	return r;
}

/* Writes path atomically (tmp + fsync + rename + fsync of the directory). */
static int
write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	int fd = -1, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return UT_EINVAL;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	(void)unlink(tmp);
	fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return fd;
	r = fsio_write_all(fd, p, n);
	if (r == 0)
		r = fsio_fsync(fd);
	if (r == 0)
		r = fsio_close(fd);
	else
		(void)fsio_close(fd);
	fd = -1;
	if (r == 0)
		r = fsio_rename(tmp, path);
	if (r == 0)
		r = fsio_fsync_dir(dir);
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

/* Adds each name to the certificate's subjectAltName as an IP or DNS name. */
static int
add_names(gnutls_x509_crt_t crt, const char *const *names, size_t nnames)
{
	unsigned char ip[16];
	size_t i, iplen;
	int g;

	for (i = 0; i < nnames; i++) {
		const char *nm = names[i];

		if (nm == NULL || nm[0] == '\0' || strlen(nm) > 253)
			return UT_EINVAL;
		iplen = 0;
		if (inet_pton(AF_INET, nm, ip) == 1)
			iplen = 4;
		else if (inet_pton(AF_INET6, nm, ip) == 1)
			iplen = 16;
		if (iplen != 0)
			g = gnutls_x509_crt_set_subject_alt_name(crt,
			    GNUTLS_SAN_IPADDRESS, ip, (unsigned)iplen,
			    GNUTLS_FSAN_APPEND);
		else
			g = gnutls_x509_crt_set_subject_alt_name(crt,
			    GNUTLS_SAN_DNSNAME, nm, (unsigned)strlen(nm),
			    GNUTLS_FSAN_APPEND);
		if (g < 0)
			return UT_EINVAL;
	}
	return 0;
}

/* Fills crt as a ten-year self-signed server certificate for key. */
static int
make_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
    const char *const *names, size_t nnames)
{
	unsigned char serial[16], kid[64];
	size_t kidlen = sizeof(kid);
	time_t now = time(NULL);
	int r;

	randombytes_buf(serial, sizeof(serial));
	serial[0] &= 0x7f;      /* positive */
	serial[0] |= 0x01;      /* and without a leading zero byte */
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt,
	    now + (time_t)CERT_DAYS * 86400) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    "usetrace", 8) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER,
	    0) < 0)
		return UT_ECRYPTO;
	if (gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen) < 0)
		return UT_ECRYPTO;
	if ((r = add_names(crt, names, nnames)) < 0)
		return r;
	if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		return UT_ECRYPTO;
	return 0;
}

int
http_tls_generate(const char *key_path, const char *cert_path,
    const char *const *names, size_t nnames)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kpem = { NULL, 0 }, cpem = { NULL, 0 };
	int r;

	if (key_path == NULL || cert_path == NULL || nnames == 0 ||
	    names == NULL)
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if (gnutls_x509_privkey_init(&key) < 0) {
		key = NULL;
		r = UT_ECRYPTO;
		goto out;
	}
	if (gnutls_x509_crt_init(&crt) < 0) {
		crt = NULL;
		r = UT_ECRYPTO;
		goto out;
	}
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
		r = UT_ECRYPTO;
		goto out;
	}
	if ((r = make_cert(crt, key, names, nnames)) < 0)
		goto out;
	if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
	    GNUTLS_PKCS_PLAIN, &kpem) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem) < 0) {
		r = UT_ECRYPTO;
		goto out;
	}
	/* The key first: a certificate never names a key that is not on disk. */
	r = write_atomic(key_path, kpem.data, kpem.size, 0600);
	if (r == 0)
		r = write_atomic(cert_path, cpem.data, cpem.size, 0644);
	if (r < 0)
		log_error("http: writing the TLS key or certificate: %s",
		    ut_strerror(r));
out:
	if (kpem.data != NULL) {
		sodium_memzero(kpem.data, kpem.size);
		gnutls_free(kpem.data);
	}
	gnutls_free(cpem.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int
http_tls_pin(const char *cert_path, char *out, size_t outsz)
{
	static const char prefix[] = "sha256//";
	unsigned char *pem = NULL, hash[crypto_hash_sha256_BYTES];
	size_t pemlen = 0;
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in, der = { NULL, 0 };
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	int r;

	if (cert_path == NULL || out == NULL)
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	r = fsio_read_file(cert_path, PEM_MAX, &pem, &pemlen);
	if (r < 0)
		return r;
	in.data = pem;
	in.size = (unsigned)pemlen;
	if (gnutls_x509_crt_init(&crt) < 0) {
		crt = NULL;
		r = UT_ECRYPTO;
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		r = UT_ECRYPTO;
		goto out;
	}
	/* The first certificate of the file: the server's own. */
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0) {
		r = UT_ECRYPTO;
		goto out;
	}
	crypto_hash_sha256(hash, der.data, der.size);
	sodium_bin2base64(b64, sizeof(b64), hash, sizeof(hash),
	    sodium_base64_VARIANT_ORIGINAL);
	if (strlen(prefix) + strlen(b64) + 1 > outsz) {
		r = UT_ETOOBIG;
		goto out;
	}
	snprintf(out, outsz, "%s%s", prefix, b64);
	r = 0;
out:
	gnutls_free(der.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	free(pem);
	return r;
}
