/*
 * segment.c - one closed segment to the server and its receipt (upload.h),
 * for `usetrace upload` and the recorder's background uploader alike.
 *
 * Invariants:
 *  (1) Only closed segments (DIR/seg-NNNNNNNN.uts) are read; *.uts.open
 *      files are never touched: a live recorder may hold them.
 *  (2) A segment file is unlinked (and the directory fsync'd) only after a
 *      receipt whose signature verifies under receipt_pk and which names
 *      this device's key, this segment id and the BLAKE2b-256 of the bytes
 *      sent, with a known outcome; and after its audit checkpoint, if any,
 *      verified under audit_pk and was appended to witness.jsonl
 *      (fsync'd).  Anything else keeps the file.
 *  (3) Error texts name what failed (status, error code, transport) and
 *      never the token or recorded content.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/upload.h"
#include "usetrace/util.h"

#define SEG_FILE_MAX (64u << 20)
#define SEG_ID_OFF 64u
#define SEG_HDR_LEN 344u
#define RESP_MAX (1u << 20)

static const char *const outcome_names[] = { NULL, "stored", "duplicate",
	"discarded", "rejected" };

const char *
upload_outcome_name(int oc)
{
	return oc >= UPLOAD_STORED && oc <= UPLOAD_REJECTED ?
	    outcome_names[oc] : "?";
}

int
upload_seg_index(const char *name, unsigned *idx)
{
	unsigned v = 0;
	int i;

	if (strncmp(name, "seg-", 4) != 0 || strlen(name) != 16 ||
	    strcmp(name + 12, ".uts") != 0)
		return 0;
	for (i = 4; i < 12; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(name[i] - '0');
	}
	*idx = v;
	return 1;
}

static int
cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int
upload_list_segments(const char *dir, size_t max, unsigned **out, size_t *n)
{
	DIR *dp;
	struct dirent *de;
	unsigned *v = NULL, idx;
	size_t cnt = 0, cap = 0;

	if ((dp = opendir(dir)) == NULL)
		return -errno;
	while ((de = readdir(dp)) != NULL) {
		if (!upload_seg_index(de->d_name, &idx))
			continue;
		if (cnt == max)
			break;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[cnt++] = idx;
	}
	closedir(dp);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), cmp_u);
	*out = v;
	*n = cnt;
	return 0;
}

static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int
jint(const json_t *o, const char *key, int64_t *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x))
		return -1;
	*v = (int64_t)json_integer_value(x);
	return 0;
}

static int
hex_exact(const char *hex, uint8_t *bin, size_t n)
{
	size_t got = 0;

	if (hex == NULL || strlen(hex) != 2 * n ||
	    sodium_hex2bin(bin, n, hex, 2 * n, NULL, &got, NULL) != 0 || got != n)
		return -1;
	return 0;
}

static int
b64_exact(const char *s, uint8_t *bin, size_t n)
{
	size_t got = 0;

	if (s == NULL || sodium_base642bin(bin, n, s, strlen(s), NULL, &got,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got != n)
		return -1;
	return 0;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * A CKPT: the audit key's signature over "UT-AUDCP1" || u64le seq ||
 * i64le time_ns || head(32).
 */
static __attribute__((warn_unused_result)) int
checkpoint_verify(const json_t *ck, const uint8_t audit_pk[32])
{
	uint8_t m[9 + 8 + 8 + 32], sig[crypto_sign_BYTES];
	int64_t seq, t;

	if (!json_is_object(ck) || jint(ck, "seq", &seq) < 0 || seq < 0 ||
	    jint(ck, "time_ns", &t) < 0 ||
	    hex_exact(jstr(ck, "head"), m + 25, 32) < 0 ||
	    b64_exact(jstr(ck, "sig"), sig, sizeof(sig)) < 0)
		return UT_EPARSE;
	memcpy(m, "UT-AUDCP1", 9);
	put_le64(m + 9, (uint64_t)seq);
	put_le64(m + 17, (uint64_t)t);
	if (crypto_sign_verify_detached(sig, m, sizeof(m), audit_pk) != 0)
		return UT_ECRYPTO;
	return 0;
}

/*
 * Verifies a receipt for exactly (own device, seg_id, hash) under
 * receipt_pk (and its checkpoint under audit_pk).  *outcome is set only on
 * success.  UT_EPARSE (malformed), UT_ECRYPTO (the signature does not
 * verify), UT_EDENIED (a valid receipt for something else), UT_ECORRUPT
 * (its audit checkpoint is malformed or does not verify).
 */
static __attribute__((warn_unused_result)) int
receipt_verify(const json_t *rc, const struct upload_dev *u,
    const uint8_t seg_id[16], const uint8_t hash[32], int *outcome)
{
	uint8_t m[8 + 32 + 16 + 32 + 1 + 8], sig[crypto_sign_BYTES];
	const char *o = jstr(rc, "outcome");
	const json_t *ck;
	int64_t t;
	int i, oc = 0;

	for (i = UPLOAD_STORED; o != NULL && i <= UPLOAD_REJECTED; i++)
		if (strcmp(o, outcome_names[i]) == 0)
			oc = i;
	memcpy(m, "UT-RCPT1", 8);
	if (!json_is_object(rc) || oc == 0 ||
	    b64_exact(jstr(rc, "device"), m + 8, 32) < 0 ||
	    hex_exact(jstr(rc, "segment_id"), m + 40, 16) < 0 ||
	    hex_exact(jstr(rc, "upload_hash"), m + 56, 32) < 0 ||
	    jint(rc, "server_time_ns", &t) < 0 ||
	    b64_exact(jstr(rc, "sig"), sig, sizeof(sig)) < 0)
		return UT_EPARSE;
	m[88] = (uint8_t)oc;
	put_le64(m + 89, (uint64_t)t);
	if (crypto_sign_verify_detached(sig, m, sizeof(m), u->receipt_pk) != 0)
		return UT_ECRYPTO;
	if (sodium_memcmp(m + 8, u->device_pk, 32) != 0 ||
	    sodium_memcmp(m + 40, seg_id, 16) != 0 ||
	    sodium_memcmp(m + 56, hash, 32) != 0)
		return UT_EDENIED;
	ck = json_object_get(rc, "audit_checkpoint");
	if (ck != NULL && !json_is_null(ck) &&
	    checkpoint_verify(ck, u->audit_pk) < 0)
		return UT_ECORRUPT;
	*outcome = oc;
	return 0;
}

/* Appends the receipt's checkpoint (if any) to witness.jsonl, fsync'd. */
static int
keep_witness(const struct upload_dev *u, const json_t *rc)
{
	const json_t *ck = json_object_get(rc, "audit_checkpoint");
	char path[4200], *line;
	int fd, r;

	if (ck == NULL || json_is_null(ck))
		return 0;
	snprintf(path, sizeof(path), "%s/witness.jsonl", u->home);
	if ((line = json_dumps(ck, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		ut_fatal("out of memory");
	fd = fsio_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if ((r = fsio_write_all(fd, line, strlen(line))) == 0 &&
	    (r = fsio_write_all(fd, "\n", 1)) == 0)
		r = fsio_fsync(fd);
	if (fsio_close(fd) < 0 && r == 0)
		r = -EIO;
out:
	free(line);
	return r;
}

/* Why a receipt was refused. */
static const char *
receipt_why(int r)
{
	switch (r) {
	case UT_ECRYPTO: return "its signature does not verify";
	case UT_EDENIED: return "it is for another device, segment or content";
	case UT_ECORRUPT: return "its audit checkpoint does not verify";
	default: return "it is malformed";
	}
}

/* Why a request got no 2xx answer, as `usetrace` commands say it. */
static void
request_why(const struct upload_dev *u, int r, const struct client_resp *rr,
    struct upload_result *res)
{
	char code[64], msg[200];

	if (r == UT_ECRYPTO) {
		snprintf(res->error, sizeof(res->error), "the server's key did "
		    "not match the pin (or TLS failed): refusing to talk to %s",
		    u->c->url);
	} else if (r == UT_ETOOBIG) {
		snprintf(res->error, sizeof(res->error), "the server's answer is "
		    "too large");
	} else if (r < 0) {
		snprintf(res->error, sizeof(res->error), "cannot reach %s: %s",
		    u->c->url, ut_strerror(r));
	} else {
		client_resp_error(rr, code, sizeof(code), msg, sizeof(msg));
		if (code[0] == '\0')
			snprintf(code, sizeof(code), "HTTP %ld", rr->status);
		snprintf(res->error, sizeof(res->error), "%s (%s)",
		    msg[0] ? msg : "request failed", code);
	}
}

/* A verified receipt: witness, then delete (2). */
static int
finish(const struct upload_dev *u, const char *dir, const char *path,
    const json_t *rc, int oc, struct upload_result *res)
{
	const char *reason = jstr(rc, "reason");
	int r;

	if ((r = keep_witness(u, rc)) < 0) {
		snprintf(res->error, sizeof(res->error), "cannot keep the audit "
		    "witness: %s", ut_strerror(r));
		return r;
	}
	if (unlink(path) < 0) {
		r = -errno;
		snprintf(res->error, sizeof(res->error), "uploaded, but cannot "
		    "delete it here: %s", strerror(errno));
		return r;
	}
	if ((r = fsio_fsync_dir(dir)) < 0) {
		snprintf(res->error, sizeof(res->error), "uploaded, but cannot "
		    "sync %s: %s", dir, ut_strerror(r));
		return r;
	}
	res->outcome = oc;
	if (reason != NULL)
		snprintf(res->reason, sizeof(res->reason), "%s", reason);
	return 0;
}

int
upload_segment(const struct upload_dev *u, const char *dir, unsigned idx,
    struct upload_result *res)
{
	char path[4200], idhex[33], rpath[64];
	uint8_t hash[32];
	unsigned char *buf = NULL;
	size_t len = 0;
	struct client_resp rr;
	json_t *ans = NULL;
	json_error_t je;
	int r, oc = 0;

	memset(res, 0, sizeof(*res));
	memset(&rr, 0, sizeof(rr));
	snprintf(path, sizeof(path), "%s/seg-%08u.uts", dir, idx);
	if ((r = fsio_read_file(path, SEG_FILE_MAX, &buf, &len)) < 0) {
		if (r == -ENOENT)
			r = UT_ENOTFOUND;
		snprintf(res->error, sizeof(res->error), "cannot read it: %s",
		    ut_strerror(r));
		goto out;
	}
	res->bytes = len;
	if (len < SEG_HDR_LEN) {
		r = UT_ECORRUPT;
		snprintf(res->error, sizeof(res->error), "too short to be a "
		    "segment");
		goto out;
	}
	sodium_bin2hex(idhex, sizeof(idhex), buf + SEG_ID_OFF, 16);
	crypto_generichash(hash, sizeof(hash), buf, len, NULL, 0);
	snprintf(rpath, sizeof(rpath), "/v1/device/segments/%s", idhex);
	r = client_request(u->c, "PUT", rpath, "ingest",
	    "application/octet-stream", buf, len, RESP_MAX, &rr);
	res->http_status = rr.status;
	if (r < 0 || rr.status < 200 || rr.status > 299) {
		request_why(u, r, &rr, res);
		if (r == 0)
			r = -EAGAIN;
		goto out;
	}
	ans = json_loadb((const char *)rr.body, rr.body ? rr.len : 0, 0, &je);
	r = ans != NULL ? receipt_verify(json_object_get(ans, "receipt"), u,
	    buf + SEG_ID_OFF, hash, &oc) : UT_EPARSE;
	if (r < 0) {
		snprintf(res->error, sizeof(res->error), "the server's receipt "
		    "is not valid (%s)", receipt_why(r));
		goto out;
	}
	r = finish(u, dir, path, json_object_get(ans, "receipt"), oc, res);
out:
	json_decref(ans);
	client_resp_free(&rr);
	free(buf);
	return r;
}
