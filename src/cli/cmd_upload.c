/*
 * cmd_upload.c - `usetrace upload DIR`: sends the closed segments of a
 * recording to the server this device enrolled with, and deletes each one
 * only after a valid signed receipt for exactly the bytes sent (P10).
 *
 * Invariants:
 *  (1) Only closed segments (DIR/seg-NNNNNNNN.uts) are read; *.uts.open
 *      files are never touched and spool recovery never runs here: a live
 *      recorder may hold them.
 *  (2) A segment file is unlinked (and the directory fsync'd) only after a
 *      receipt whose signature verifies under device.json's receipt_pk and
 *      which names this device's key, this segment id and the BLAKE2b-256
 *      of the bytes sent, with a known outcome; and after its audit
 *      checkpoint, if any, verified under audit_pk and was appended to
 *      witness.jsonl (fsync'd).  Anything else keeps the file.
 *  (3) The first failure (no answer, an error status, an invalid receipt)
 *      stops the run: nothing later is sent, the exit status is 1.
 *  (4) Before any segment, the control reply refreshes device.json's
 *      ingest keys (the coming days') and checks the clock, and the current
 *      consent (consent.json) is posted, signed by the device key, so the
 *      server can check the segments' consent id; if that fails nothing is
 *      uploaded.
 *  (5) What the server says back is obeyed here: a consent withdrawn at
 *      the server is withdrawn on this device (a running recorder stops),
 *      and after the person erased everything at the server the closed
 *      segments are deleted unsent (the server would discard them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/consent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

#define SEG_FILE_MAX (64u << 20)
#define SEG_ID_OFF 64u
#define SEG_HDR_LEN 344u
#define SEGS_MAX 100000u

enum { OUT_STORED = 1, OUT_DUPLICATE, OUT_DISCARDED, OUT_REJECTED };

static const char *const outcome_names[] = { NULL, "stored", "duplicate",
	"discarded", "rejected" };

static const char upload_usage[] =
    "usage: usetrace upload DIR\n\n"
    "Uploads the closed segments of the recording in DIR now, oldest first,\n"
    "to the server this device enrolled with ('usetrace enroll'), after\n"
    "sending your current consent.  Each segment is deleted here only\n"
    "after the server's signed receipt for exactly the bytes sent has been\n"
    "verified; the audit checkpoint in each receipt is kept as a witness in\n"
    "$USETRACE_HOME/witness.jsonl.  The segment being recorded (*.uts.open)\n"
    "is left alone.  Prints one line per segment (stored, duplicate,\n"
    "discarded: REASON or rejected: REASON) and 'uploaded N, kept M'.\n"
    "Exits 1 if any segment could not be sent or its receipt was invalid\n"
    "(it is kept for the next try).\n\n"
    "Before uploading it fetches the server's ingest keys for the coming\n"
    "days into device.json and checks this device's clock.  A consent\n"
    "you withdrew at the server is withdrawn here too (a running recorder\n"
    "stops); after you erased everything at the server, the segments\n"
    "here are deleted without being sent.\n\n"
    "options:\n"
    "  -h, --help\n";

struct up {
	const char *dir;
	char home[4096];
	struct client_cfg c;
	struct device_cfg *d;
	struct ut_device_key *dk;
	unsigned uploaded, kept;
	bool erased_all;        /* the server erased everything: purge */
};

static int
seg_index(const char *name, unsigned *idx)
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

/* The numbers of DIR's closed segments, ascending; *out is malloc'd. */
static int
list_segments(const char *dir, unsigned **out, size_t *n)
{
	DIR *dp;
	struct dirent *de;
	unsigned *v = NULL, idx;
	size_t cnt = 0, cap = 0;

	if ((dp = opendir(dir)) == NULL)
		return -errno;
	while ((de = readdir(dp)) != NULL) {
		if (!seg_index(de->d_name, &idx))
			continue;
		if (cnt == SEGS_MAX)
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

/* Tells a running recorder to re-read consent; silent when none runs. */
static void
tell_recorder(void)
{
	char path[256], reply[CONTROL_LINE_MAX];

	if (control_socket_path(path, sizeof(path), 0) == 0 &&
	    control_request(path, "consent", reply, sizeof(reply), 5000) == 0)
		log_info("upload: the running recorder was told");
}

/*
 * Tells a running recorder how far this device's clock is from the
 * server's (it stops recording beyond 2 minutes, and records again once
 * it is back within); silent when none runs.
 */
static void
tell_recorder_clock(int64_t off_s)
{
	char path[256], req[48], reply[CONTROL_LINE_MAX];

	snprintf(req, sizeof(req), "clock %lld", (long long)off_s);
	if (control_socket_path(path, sizeof(path), 0) == 0 &&
	    control_request(path, req, reply, sizeof(reply), 5000) == 0 &&
	    strstr(reply, "\"recording\":false") != NULL)
		log_info("upload: the running recorder is not recording");
}

/*
 * The server's view of the consent just posted: withdrawn there (by the
 * person, from `usetrace my` or the web page, or by an erasure of
 * everything) means withdrawn here.  0 or -1.
 */
static int
consent_answer(struct up *u, const struct consent *cs, const json_t *ans)
{
	int64_t withdrawn = 0;
	char when[40];
	int r;

	if (json_is_true(json_object_get(ans, "erased_all")))
		u->erased_all = true;
	if (cli_jint(ans, "withdrawn_ns", &withdrawn) < 0 || withdrawn == 0 ||
	    cs->withdrawn)
		return 0;
	if ((r = consent_withdraw(u->home)) < 0) {
		log_error("upload: your consent was withdrawn at the server, but "
		    "cannot be withdrawn here: %s", ut_strerror(r));
		return -1;
	}
	tell_recorder();
	cli_fmt_time(withdrawn, when, sizeof(when));
	printf("consent withdrawn at the server (%s): this device records "
	    "nothing more until you consent again ('usetrace consent')\n", when);
	return 0;
}

/*
 * The server's receipt and audit public keys, which change when the
 * operator rotates them (docs/OPERATIONS.md): the control reply comes over
 * the pinned connection, as the enrollment answer did.  0 or -1.
 */
static int
server_keys(struct up *u, const json_t *ans)
{
	uint8_t rpk[32], apk[32];

	if (keys_pubkey_parse(cli_jstr(ans, "receipt_pk"), rpk) < 0 ||
	    keys_pubkey_parse(cli_jstr(ans, "audit_pk"), apk) < 0)
		return -1;
	if (sodium_memcmp(rpk, u->d->receipt_pk, 32) != 0)
		log_info("upload: the server's receipt key was rotated");
	if (sodium_memcmp(apk, u->d->audit_pk, 32) != 0)
		log_info("upload: the server's audit key was rotated");
	memcpy(u->d->receipt_pk, rpk, 32);
	memcpy(u->d->audit_pk, apk, 32);
	return 0;
}

/*
 * GET /v1/device/control: the coming days' ingest keys and the server's
 * public keys into device.json, and the clock check.  0 or -1.
 */
static int
sync_control(struct up *u)
{
	json_t *ans = NULL;
	int64_t st = 0, skew = 0, off;
	int r;

	r = cli_call_json("upload: control", &u->c, "GET", "/v1/device/control",
	    "ingest", NULL, &ans);
	if (r < 0)
		return -1;
	r = -1;
	if (cli_jint(ans, "server_time_ns", &st) < 0 ||
	    device_cfg_set_keys(u->d, json_object_get(ans, "ingest_keys")) < 0 ||
	    server_keys(u, ans) < 0) {
		log_error("upload: the server's control reply is malformed");
		goto out;
	}
	if (device_cfg_save(u->home, u->d) < 0) {
		log_error("upload: cannot save the new ingest keys in %s/device.json",
		    u->home);
		goto out;
	}
	u->erased_all = json_is_true(json_object_get(ans, "erased_all"));
	(void)cli_jint(ans, "max_clock_skew_ns", &skew);
	off = ut_now_wall_ns() - st;
	if (skew > 0 && (off > skew || off < -skew))
		log_warn("upload: this device's clock is %lld s %s the server's: "
		    "recordings get the wrong times and days; a running recorder "
		    "stops until the clock is fixed",
		    (long long)((off < 0 ? -off : off) / 1000000000LL),
		    off < 0 ? "behind" : "ahead of");
	tell_recorder_clock(off / 1000000000LL);
	r = 0;
out:
	json_decref(ans);
	return r;
}

/* After the person erased everything at the server: delete unsent. */
static int
purge(struct up *u, const unsigned *segs, size_t n)
{
	char path[4200];
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08u.uts", u->dir, segs[i]);
		if (unlink(path) < 0 && errno != ENOENT) {
			log_error("upload: cannot delete %s: %s", path, strerror(errno));
			return -1;
		}
	}
	if (n > 0 && (r = fsio_fsync_dir(u->dir)) < 0) {
		log_error("upload: %s: %s", u->dir, ut_strerror(r));
		return -1;
	}
	printf("you erased everything at the server: %zu segment%s deleted here "
	    "without being sent\n", n, n == 1 ? "" : "s");
	return 0;
}

/* POST /v1/device/consents for consent.json (if there is one). */
static int
post_consent(struct up *u)
{
	struct consent cs;
	uint8_t m[11 + 16 + 32 + 8 + 1], sig[crypto_sign_BYTES];
	char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	json_t *req, *ans = NULL;
	uint64_t t;
	int i, r;

	r = consent_load(u->home, &cs);
	if (r == UT_ENOTFOUND) {
		log_warn("upload: no consent on this device to send");
		return 0;
	}
	if (r < 0) {
		log_error("upload: cannot read consent.json: %s", ut_strerror(r));
		return -1;
	}
	memcpy(m, "UT-CONSENT1", 11);
	if (cli_hex_parse(cs.id, m + 11, 16) < 0 ||
	    cli_hex_parse(cs.policy_hash, m + 27, 32) < 0) {
		log_error("upload: consent.json is damaged");
		return -1;
	}
	t = (uint64_t)cs.given_wall_ns;
	for (i = 0; i < 8; i++)
		m[59 + i] = (uint8_t)(t >> (8 * i));
	m[67] = cs.withdrawn ? 1 : 0;
	crypto_sign_detached(sig, NULL, m, sizeof(m), u->dk->sk);
	sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	req = json_pack("{s:s, s:s, s:I, s:b, s:s}", "consent_id", cs.id,
	    "policy_hash", cs.policy_hash, "given_ns", (json_int_t)cs.given_wall_ns,
	    "withdrawn", cs.withdrawn ? 1 : 0, "sig", sig64);
	if (req == NULL)
		ut_fatal("out of memory");
	r = cli_call_json("upload: consent", &u->c, "POST", "/v1/device/consents",
	    "ingest", req, &ans);
	json_decref(req);
	if (r == 0)
		r = consent_answer(u, &cs, ans);
	json_decref(ans);
	return r;
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

	if (!json_is_object(ck) || cli_jint(ck, "seq", &seq) < 0 || seq < 0 ||
	    cli_jint(ck, "time_ns", &t) < 0 ||
	    cli_hex_parse(cli_jstr(ck, "head"), m + 25, 32) < 0 ||
	    b64_exact(cli_jstr(ck, "sig"), sig, sizeof(sig)) < 0)
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
receipt_verify(const json_t *rc, const struct up *u, const uint8_t seg_id[16],
    const uint8_t hash[32], int *outcome)
{
	uint8_t m[8 + 32 + 16 + 32 + 1 + 8], sig[crypto_sign_BYTES];
	const char *o = cli_jstr(rc, "outcome");
	const json_t *ck;
	int64_t t;
	int i, oc = 0;

	for (i = OUT_STORED; o != NULL && i <= OUT_REJECTED; i++)
		if (strcmp(o, outcome_names[i]) == 0)
			oc = i;
	memcpy(m, "UT-RCPT1", 8);
	if (!json_is_object(rc) || oc == 0 ||
	    b64_exact(cli_jstr(rc, "device"), m + 8, 32) < 0 ||
	    cli_hex_parse(cli_jstr(rc, "segment_id"), m + 40, 16) < 0 ||
	    cli_hex_parse(cli_jstr(rc, "upload_hash"), m + 56, 32) < 0 ||
	    cli_jint(rc, "server_time_ns", &t) < 0 ||
	    b64_exact(cli_jstr(rc, "sig"), sig, sizeof(sig)) < 0)
		return UT_EPARSE;
	m[88] = (uint8_t)oc;
	put_le64(m + 89, (uint64_t)t);
	if (crypto_sign_verify_detached(sig, m, sizeof(m), u->d->receipt_pk) != 0)
		return UT_ECRYPTO;
	if (sodium_memcmp(m + 8, u->dk->pk, 32) != 0 ||
	    sodium_memcmp(m + 40, seg_id, 16) != 0 ||
	    sodium_memcmp(m + 56, hash, 32) != 0)
		return UT_EDENIED;
	ck = json_object_get(rc, "audit_checkpoint");
	if (ck != NULL && !json_is_null(ck) &&
	    checkpoint_verify(ck, u->d->audit_pk) < 0)
		return UT_ECORRUPT;
	*outcome = oc;
	return 0;
}

/* Appends the receipt's checkpoint (if any) to witness.jsonl, fsync'd. */
static int
keep_witness(const struct up *u, const json_t *rc)
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

/* Why a receipt was refused, for the person. */
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

/* Acts on a verified receipt: witness, delete, print. */
static int
finish_segment(struct up *u, const char *name, const char *path,
    const json_t *rc, int oc)
{
	const char *reason = cli_jstr(rc, "reason");
	int r;

	if ((r = keep_witness(u, rc)) < 0) {
		log_error("upload: %s: cannot keep the audit witness: %s; kept",
		    name, ut_strerror(r));
		return -1;
	}
	if (unlink(path) < 0 || (r = fsio_fsync_dir(u->dir)) < 0) {
		log_error("upload: %s: uploaded, but cannot delete it here: %s",
		    name, strerror(errno));
		return -1;
	}
	if ((oc == OUT_DISCARDED || oc == OUT_REJECTED) && reason != NULL &&
	    reason[0] != '\0')
		printf("%s %s: %s\n", name, outcome_names[oc], reason);
	else
		printf("%s %s\n", name, outcome_names[oc]);
	fflush(stdout);
	return 0;
}

/* One segment: read, PUT, verify the receipt, then finish_segment. */
static int
upload_one(struct up *u, unsigned idx)
{
	char name[32], path[4200], idhex[33], rpath[64], what[64];
	uint8_t hash[32];
	unsigned char *buf = NULL;
	size_t len = 0;
	struct client_resp rr;
	json_t *ans = NULL;
	json_error_t je;
	int r, oc = 0, ret = -1;

	memset(&rr, 0, sizeof(rr));
	snprintf(name, sizeof(name), "seg-%08u.uts", idx);
	snprintf(path, sizeof(path), "%s/%s", u->dir, name);
	if ((r = fsio_read_file(path, SEG_FILE_MAX, &buf, &len)) < 0) {
		log_error("upload: %s: cannot read it: %s", name, ut_strerror(r));
		goto out;
	}
	if (len < SEG_HDR_LEN) {
		log_error("upload: %s: too short to be a segment; kept", name);
		goto out;
	}
	sodium_bin2hex(idhex, sizeof(idhex), buf + SEG_ID_OFF, 16);
	crypto_generichash(hash, sizeof(hash), buf, len, NULL, 0);
	snprintf(rpath, sizeof(rpath), "/v1/device/segments/%s", idhex);
	r = client_request(&u->c, "PUT", rpath, "ingest",
	    "application/octet-stream", buf, len, 1u << 20, &rr);
	if (r < 0 || rr.status < 200 || rr.status > 299) {
		snprintf(what, sizeof(what), "upload: %s", name);
		cli_report(what, &u->c, r, &rr);
		log_error("upload: %s: not uploaded; kept", name);
		goto out;
	}
	ans = json_loadb((const char *)rr.body, rr.body ? rr.len : 0, 0, &je);
	r = ans != NULL ? receipt_verify(json_object_get(ans, "receipt"), u,
	    buf + SEG_ID_OFF, hash, &oc) : UT_EPARSE;
	if (r < 0) {
		log_error("upload: %s: the server's receipt is not valid (%s); "
		    "kept", name, receipt_why(r));
		goto out;
	}
	ret = finish_segment(u, name, path, json_object_get(ans, "receipt"), oc);
out:
	json_decref(ans);
	client_resp_free(&rr);
	free(buf);
	return ret;
}

static int
upload_setup(struct up *u)
{
	const char *what = NULL;
	int r;

	if ((r = keys_home(u->home, sizeof(u->home), false)) < 0) {
		log_error("upload: no key home: %s", ut_strerror(r));
		return -1;
	}
	r = device_cfg_load(u->home, &u->d);
	if (r == UT_ENOTFOUND) {
		log_error("upload: this device is not enrolled (no %s/device.json):"
		    " run 'usetrace enroll URL --code CODE --pin PIN'", u->home);
		return -1;
	}
	if (r < 0) {
		log_error("upload: cannot read %s/device.json: %s", u->home,
		    ut_strerror(r));
		return -1;
	}
	if ((r = keys_device_load(NULL, false, &u->dk)) < 0) {
		log_error("upload: cannot load the device key: %s", ut_strerror(r));
		return -1;
	}
	r = client_cfg_resolve(&u->c, u->d->url, u->d->token, u->d->pin, true,
	    &what);
	if (r < 0) {
		log_error("upload: device.json: bad %s: %s", what ? what : "entry",
		    ut_strerror(r));
		return -1;
	}
	return 0;
}

int
cmd_upload(int argc, char **argv)
{
	struct cli_args a;
	struct up u;
	unsigned *segs = NULL;
	size_t i, n = 0;
	int r, status = 1;

	r = cli_args_parse("upload", argc, argv, 0, 1, 1, upload_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	memset(&u, 0, sizeof(u));
	u.dir = a.pos[0];
	if (sodium_init() < 0)
		ut_fatal("libsodium failed to initialise");
	if ((r = list_segments(u.dir, &segs, &n)) < 0) {
		log_error("upload: cannot read %s: %s", u.dir, ut_strerror(r));
		return 1;
	}
	if (upload_setup(&u) < 0 || sync_control(&u) < 0 ||
	    post_consent(&u) < 0) {
		u.kept = (unsigned)n;
		goto out;
	}
	if (u.erased_all) {
		status = purge(&u, segs, n) < 0;
		u.kept = status ? (unsigned)n : 0;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (upload_one(&u, segs[i]) < 0)
			break;
		u.uploaded++;
	}
	u.kept = (unsigned)(n - u.uploaded);
	status = i == n ? 0 : 1;
out:
	printf("uploaded %u, kept %u\n", u.uploaded, u.kept);
	free(segs);
	keys_device_free(u.dk);
	device_cfg_free(u.d);
	client_cfg_finish(&u.c);
	return status;
}
