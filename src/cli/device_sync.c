/*
 * device_sync.c - what an enrolled device does with its server before it
 * uploads, shared by `usetrace upload` and the recorder's background
 * uploader (cli_int.h, struct cli_device): load device.json and the device
 * key; fetch the control reply (the coming days' ingest keys into
 * device.json, the server's receipt and audit keys, the clock check); post
 * the current consent, signed by the device key, and obey the answer (a
 * consent withdrawn at the server is withdrawn here, and a running
 * recorder is told).  Messages are logged with the prefix "upload:".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/consent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/upload.h"
#include "usetrace/util.h"
#include "cli_int.h"

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
	char path[256], req[48];
	json_t *j = NULL;

	snprintf(req, sizeof(req), "clock %lld", (long long)off_s);
	if (control_socket_path(path, sizeof(path), 0) == 0 &&
	    control_ask(path, req, 5000, &j) == 0 &&
	    control_reply_bool(j, "recording") == 0)
		log_info("upload: the running recorder is not recording");
	json_decref(j);
}

/*
 * The server's view of the consent just posted: withdrawn there (by the
 * person, from `usetrace my` or the web page, or by an erasure of
 * everything) means withdrawn here.  0 or -1.
 */
static int
consent_answer(struct cli_device *u, const struct consent *cs, const json_t *ans)
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
server_keys(struct cli_device *u, const json_t *ans)
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
int
cli_device_sync_control(struct cli_device *u)
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

/* POST /v1/device/consents for consent.json (if there is one). */
int
cli_device_post_consent(struct cli_device *u)
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

int
cli_device_open(struct cli_device *u)
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

void
cli_device_close(struct cli_device *u)
{
	if (u == NULL)
		return;
	keys_device_free(u->dk);
	device_cfg_free(u->d);
	client_cfg_finish(&u->c);
	u->dk = NULL;
	u->d = NULL;
}

void
cli_device_upload_dev(struct cli_device *u, struct upload_dev *ud)
{
	memset(ud, 0, sizeof(*ud));
	ud->c = &u->c;
	ud->device_pk = u->dk->pk;
	ud->receipt_pk = u->d->receipt_pk;
	ud->audit_pk = u->d->audit_pk;
	ud->home = u->home;
}
