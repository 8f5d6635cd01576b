/*
 * api_device.c - what devices say to the server besides uploads:
 * enrollment (an enrollment code only the subject can mint, and the
 * device's signature over code, pin and its public key), consents and
 * withdrawals signed by the device key, and the control reply (server
 * time, ingest keys for the coming days, an audit checkpoint to keep as a
 * witness).
 *
 * A device token is good for the `ingest` purpose only (the route table
 * says so): a stolen laptop can upload, never download.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "server_int.h"

#define NS_PER_DAY (86400LL * 1000000000LL)
#define INGEST_DAYS_BEFORE 1
#define INGEST_DAYS_AHEAD 7
#define ENROLL_CTX "UT-ENROLL1"
#define CONSENT_CTX "UT-CONSENT1"

json_t *
srv_ingest_keys_json(struct server *s, const struct meta_device *d, int64_t now_ns)
{
	json_t *arr = json_array();
	int32_t today = keystore_day_of(now_ns), day;
	uint8_t pk[32];
	char b64[64], dtext[16];

	for (day = today - INGEST_DAYS_BEFORE; day <= today + INGEST_DAYS_AHEAD; day++) {
		if (meta_tombstoned(s->meta, d->subject_id, day))
			continue;
		if (keystore_ingest_pk(s->ks, d->subject_id, d->pk, day, pk) < 0) {
			json_decref(arr);
			return NULL;
		}
		srv_b64(pk, 32, b64, sizeof(b64));
		srv_day_text(day, dtext);
		json_array_append_new(arr, json_pack("{s:s, s:s}", "day", dtext,
		    "pk", b64));
	}
	return arr;
}

bool
srv_erased_all(struct server *s, const uint8_t subject[16])
{
	return meta_tombstoned(s->meta, subject, META_DAY_ALL);
}

json_t *
srv_checkpoint_json(struct server *s)
{
	struct meta_audit_ckpt c;
	char head[65], sig[96];

	if (audit_checkpoint(s->audit, &c) < 0)
		return json_null();
	srv_hex(c.head, 32, head, sizeof(head));
	srv_b64(c.sig, 64, sig, sizeof(sig));
	return json_pack("{s:I, s:I, s:s, s:s}", "seq", (json_int_t)c.seq,
	    "time_ns", (json_int_t)c.time_ns, "head", head, "sig", sig);
}

/* The device's signature over "UT-ENROLL1" || code || 0 || pin || 0 || pk. */
static bool
enroll_sig_ok(const char *code, const char *pin, const uint8_t pk[32],
    const uint8_t sig[64])
{
	size_t xl = strlen(ENROLL_CTX), cl = strlen(code), pl = strlen(pin);
	size_t n = xl + cl + 1 + pl + 1 + 32;
	uint8_t *m = xmalloc(n);
	bool ok;

	memcpy(m, ENROLL_CTX, xl);
	memcpy(m + xl, code, cl);
	m[xl + cl] = 0;
	memcpy(m + xl + cl + 1, pin, pl);
	m[xl + cl + 1 + pl] = 0;
	memcpy(m + n - 32, pk, 32);
	ok = crypto_sign_verify_detached(sig, m, n, pk) == 0;
	sodium_memzero(m, n);
	free(m);
	return ok;
}

/*
 * Is one of the pins the device verified us with (current;next) ours?
 * Pins are public; the comparison is constant-time anyway.
 */
static bool
pin_is_ours(struct server *s, const char *pin)
{
	size_t ours = strlen(s->pin);
	const char *p = pin;

	for (;;) {
		size_t n = strcspn(p, ";");

		if (n == ours && sodium_memcmp(p, s->pin, n) == 0)
			return true;
		if (p[n] == '\0')
			return false;
		p += n + 1;
	}
}

void
api_enroll(struct srv_req *q)
{
	json_t *body = srv_body_json(q), *keys;
	struct meta_code c;
	struct meta_principal p;
	struct meta_device d;
	struct meta_token t;
	uint8_t id[META_CODE_ID_LEN], hash[32], pk[32], sig[64];
	char token[SRV_TOKEN_TEXT_MAX], rpk[64], apk[64], subj[33];
	const char *code, *pin;
	int64_t devid;
	int r;

	memset(token, 0, sizeof(token));
	if (body == NULL)
		return;
	code = json_string_value(json_object_get(body, "code"));
	pin = json_string_value(json_object_get(body, "pin"));
	if (code == NULL || pin == NULL || srv_code_parse(code, id, hash) < 0 ||
	    srv_unb64(json_string_value(json_object_get(body, "device_pk")), pk, 32) < 0 ||
	    srv_unb64(json_string_value(json_object_get(body, "sig")), sig, 64) < 0) {
		srv_reply_error(q, 400, "bad_request", "\"code\", \"pin\", \"device_pk\" "
		    "(base64) and \"sig\" (base64) are required");
		goto out;
	}
	srv_hex(id, sizeof(id), q->a_object, sizeof(q->a_object));
	if (!enroll_sig_ok(code, pin, pk, sig)) {
		q->a_outcome = "denied";
		srv_reply_error(q, 403, "forbidden", "the device signature does not verify");
		goto out;
	}
	if (!pin_is_ours(q->srv, pin)) {
		q->a_outcome = "denied";
		srv_reply_error(q, 403, "forbidden",
		    "the device verified another server key than this server's");
		goto out;
	}
	r = meta_code_take(q->srv->meta, META_CODE_ENROLL, id, hash,
	    q->rq->client_ip, q->now_ns, &c);
	if (r < 0) {
		q->a_outcome = "denied";
		if (r == UT_ESTATE)
			srv_reply_error(q, 409, "code_used", "this enrollment code was "
			    "already used; mint a new one with 'usetrace my enroll-code'");
		else if (r == UT_EDENIED)
			srv_reply_error(q, 403, "forbidden", "wrong enrollment code");
		else
			srv_reply_error(q, 404, "not_found",
			    "no such enrollment code, or it expired");
		goto out;
	}
	if (meta_principal_get(q->srv->meta, c.principal_id, &p) < 0 ||
	    p.revoked_ns != 0 || p.role != UT_ROLE_SUBJECT) {
		q->a_outcome = "denied";
		srv_reply_error(q, 404, "not_found", "no such enrollment code, or it expired");
		goto out;
	}
	snprintf(q->a_principal, sizeof(q->a_principal), "%s", p.name);
	srv_hex(p.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(&d, 0, sizeof(d));
	memcpy(d.pk, pk, 32);
	d.principal_id = p.id;
	memcpy(d.subject_id, p.subject_id, 16);
	d.enrolled_ns = q->now_ns;
	r = meta_device_add(q->srv->meta, &d, &devid);
	if (r == -EEXIST) {
		srv_reply_error(q, 409, "conflict", "this device key is enrolled already");
		goto out;
	}
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "cannot store the device");
		goto out;
	}
	d.id = devid;
	snprintf(q->a_detail, sizeof(q->a_detail), "device %lld", (long long)devid);
	memset(&t, 0, sizeof(t));
	srv_token_new(true, token, t.hash);
	t.principal_id = p.id;
	t.device_id = devid;
	t.expires_ns = q->now_ns + (int64_t)q->srv->cfg.device_token_days * NS_PER_DAY;
	if (meta_token_add(q->srv->meta, &t) < 0 ||
	    (keys = srv_ingest_keys_json(q->srv, &d, q->now_ns)) == NULL) {
		srv_reply_error(q, 500, "internal", "cannot issue the device's keys");
		goto out;
	}
	srv_b64(q->srv->receipt_pk, 32, rpk, sizeof(rpk));
	srv_b64(q->srv->audit_pk, 32, apk, sizeof(apk));
	srv_hex(p.subject_id, 16, subj, sizeof(subj));
	srv_no_store(q);
	srv_reply_json(q, 201, json_pack("{s:s, s:I, s:s, s:o, s:s, s:s, s:I}",
	    "device_token", token, "device_id", (json_int_t)devid, "subject_id",
	    subj, "ingest_keys", keys, "receipt_pk", rpk, "audit_pk", apk,
	    "server_time_ns", (json_int_t)q->now_ns));
out:
	sodium_memzero(token, sizeof(token));
	json_decref(body);
}

void
api_device_consent(struct srv_req *q)
{
	json_t *body = srv_body_json(q);
	struct meta_consent c;
	uint8_t sig[64], msg[11 + 16 + 32 + 8 + 1];
	json_t *w;
	json_int_t given;
	bool withdrawn;
	size_t off = 0;
	int r;

	if (body == NULL)
		return;
	srv_hex(q->dev.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(&c, 0, sizeof(c));
	w = json_object_get(body, "withdrawn");
	given = json_integer_value(json_object_get(body, "given_ns"));
	if (srv_unhex(json_string_value(json_object_get(body, "consent_id")),
	    c.consent_id, 16) < 0 ||
	    srv_unhex(json_string_value(json_object_get(body, "policy_hash")),
	    c.policy_hash, 32) < 0 ||
	    !json_is_integer(json_object_get(body, "given_ns")) || given <= 0 ||
	    !json_is_boolean(w) ||
	    srv_unb64(json_string_value(json_object_get(body, "sig")), sig, 64) < 0) {
		srv_reply_error(q, 400, "bad_request", "\"consent_id\" (hex), "
		    "\"policy_hash\" (hex), \"given_ns\", \"withdrawn\" and \"sig\" "
		    "are required");
		goto out;
	}
	withdrawn = json_is_true(w);
	srv_hex(c.consent_id, 16, q->a_object, sizeof(q->a_object));
	memcpy(msg, CONSENT_CTX, 11);
	off = 11;
	memcpy(msg + off, c.consent_id, 16);
	off += 16;
	memcpy(msg + off, c.policy_hash, 32);
	off += 32;
	put_u64le(msg + off, (uint64_t)given);
	off += 8;
	msg[off++] = withdrawn ? 1 : 0;
	if (crypto_sign_verify_detached(sig, msg, off, q->dev.pk) != 0) {
		q->a_outcome = "denied";
		srv_reply_error(q, 403, "forbidden", "the device signature does not verify");
		goto out;
	}
	c.device_id = q->dev.id;
	memcpy(c.subject_id, q->dev.subject_id, 16);
	c.given_ns = given;
	if ((r = meta_consent_add(q->srv->meta, &c)) < 0)
		goto fail;
	if (withdrawn) {
		/* A withdrawal withdraws every consent of the person. */
		snprintf(q->a_detail, sizeof(q->a_detail), "withdrawn");
		if ((r = meta_consent_withdraw_subject(q->srv->meta,
		    q->dev.subject_id, q->now_ns)) < 0)
			goto fail;
		/* Every device of the person learns it by its long poll. */
		(void)srv_ctl_bump(q->srv, "consent withdrawn");
	} else
		snprintf(q->a_detail, sizeof(q->a_detail), "given");
	/*
	 * The reply says what the server holds for this consent: a withdrawal
	 * made at the server (`usetrace my`, the web page, an erasure of
	 * everything) reaches the device this way, and "erased_all" tells it
	 * to purge its spool.
	 */
	if ((r = meta_consent_get(q->srv->meta, q->dev.id, c.consent_id, &c)) < 0)
		goto fail;
	srv_reply_json(q, 200, json_pack("{s:b, s:I, s:I, s:b}", "ok", 1,
	    "server_time_ns", (json_int_t)q->now_ns, "withdrawn_ns",
	    (json_int_t)c.withdrawn_ns, "erased_all", srv_erased_all(q->srv,
	    q->dev.subject_id)));
	goto out;
fail:
	srv_reply_error(q, 500, "internal", "cannot record the consent");
out:
	json_decref(body);
}

/*
 * The control reply's first fields (server time, skew, ingest keys, keys,
 * checkpoint, erased_all); api_control.c adds the state and long-polls.
 */
json_t *
srv_control_base_json(struct srv_req *q)
{
	json_t *keys;
	char rpk[64], apk[64];

	if ((keys = srv_ingest_keys_json(q->srv, &q->dev, q->now_ns)) == NULL)
		return NULL;
	srv_b64(q->srv->receipt_pk, 32, rpk, sizeof(rpk));
	srv_b64(q->srv->audit_pk, 32, apk, sizeof(apk));
	return json_pack("{s:I, s:I, s:o, s:s, s:s, s:o, s:b}",
	    "server_time_ns", (json_int_t)q->now_ns, "max_clock_skew_ns",
	    (json_int_t)SRV_MAX_SKEW_NS, "ingest_keys", keys, "receipt_pk", rpk,
	    "audit_pk", apk, "audit_checkpoint", srv_checkpoint_json(q->srv),
	    "erased_all",
	    srv_erased_all(q->srv, q->dev.subject_id));
}
