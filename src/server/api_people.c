/*
 * api_people.c - principals, their tokens and codes: an admin adds a
 * principal and gets a single-use claim code; the person turns the code
 * into their own token (which no admin ever sees); a subject mints
 * enrollment codes for their devices and revokes lost ones.
 *
 * A claim code used twice means someone else used it first: the second
 * claim fails and says when and from where it was used, and both claims
 * are in the audit log with their source address.
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
#define CLAIM_TTL_NS (7 * NS_PER_DAY)
#define ENROLL_TTL_NS (3600LL * 1000000000LL)

bool
srv_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= META_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
		    c == '-'))
			return false;
	}
	return !(s[0] == '.' || s[0] == '-');
}

#define REISSUE_KEY "reissue:"
#define REISSUE_DELAY_NS (24 * 3600LL * 1000000000LL)

static void
reissue_key(const uint8_t id[META_CODE_ID_LEN], char key[META_NAME_MAX])
{
	memcpy(key, REISSUE_KEY, sizeof(REISSUE_KEY) - 1);
	srv_hex(id, META_CODE_ID_LEN, key + sizeof(REISSUE_KEY) - 1,
	    META_NAME_MAX - sizeof(REISSUE_KEY) + 1);
}

/*
 * A re-issued claim code (an admin made a new one for a person who already
 * had a token) waits: it works REISSUE_DELAY_NS after it was made, or once
 * the person confirms it with their current token.  The mark is a setting
 * "reissue:<code id>" = {"principal", "made_ns", "confirmed"}.
 */
static bool
reissue_waiting(struct srv_req *q, const uint8_t id[META_CODE_ID_LEN])
{
	char key[META_NAME_MAX], val[256];
	size_t n = sizeof(val) - 1;
	json_t *j;
	bool wait;

	reissue_key(id, key);
	if (meta_setting_get(q->srv->meta, key, val, &n) < 0)
		return false;
	val[n] = '\0';
	if ((j = json_loads(val, 0, NULL)) == NULL)
		return true;   /* fail closed */
	wait = !json_is_true(json_object_get(j, "confirmed")) &&
	    q->now_ns < json_integer_value(json_object_get(j, "made_ns")) +
	    REISSUE_DELAY_NS;
	json_decref(j);
	return wait;
}

/*
 * Takes a claim code and makes the person's own token (POST /v1/login, and
 * POST /v1/session from a claim).  0 with token, *t and *p filled, or a
 * negative code after replying (400, 403, 404, 409, 500) with the audit
 * fields set.  The caller wipes token.
 */
int
srv_claim_take(struct srv_req *q, const char *code,
    char token[SRV_TOKEN_TEXT_MAX], struct meta_token *t, struct meta_principal *p)
{
	struct meta_code c;
	uint8_t id[META_CODE_ID_LEN], hash[32];
	char when[32];
	int r;

	if (code == NULL || srv_code_parse(code, id, hash) < 0) {
		srv_reply_error(q, 400, "bad_request", "\"claim\" must be a claim code");
		return UT_EPARSE;
	}
	srv_hex(id, sizeof(id), q->a_object, sizeof(q->a_object));
	if (reissue_waiting(q, id)) {
		q->a_outcome = "denied";
		srv_reply_error(q, 403, "not_yet", "this claim code was re-issued by an "
		    "administrator for a person who already has a token: it works 24 "
		    "hours after it was made, or as soon as the person confirms it "
		    "('usetrace my confirm-claim')");
		return UT_EDENIED;
	}
	r = meta_code_take(q->srv->meta, META_CODE_CLAIM, id, hash,
	    q->rq->client_ip, q->now_ns, &c);
	if (r == UT_ESTATE) {
		time_t secs = (time_t)(c.used_ns / 1000000000LL);
		struct tm tm;
		char msg[256];

		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(msg, sizeof(msg), "this claim code was already used at %s "
		    "from %.47s; nobody but you should have it: tell your "
		    "administrator (this attempt is in the audit log)", when,
		    c.used_source);
		q->a_outcome = "code_used";
		srv_reply_error(q, 409, "code_used", msg);
		return r;
	}
	if (r == UT_EDENIED) {
		q->a_outcome = "denied";
		srv_reply_error(q, 403, "forbidden", "wrong claim code");
		return r;
	}
	if (r < 0) {
		q->a_outcome = "denied";
		srv_reply_error(q, 404, "not_found", "no such claim code, or it expired");
		return r;
	}
	if ((r = meta_principal_get(q->srv->meta, c.principal_id, p)) < 0 ||
	    p->revoked_ns != 0) {
		q->a_outcome = "denied";
		srv_reply_error(q, 404, "not_found", "no such claim code, or it expired");
		return r < 0 ? r : UT_EDENIED;
	}
	snprintf(q->a_principal, sizeof(q->a_principal), "%s", p->name);
	if (p->role == UT_ROLE_SUBJECT)
		srv_hex(p->subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(t, 0, sizeof(*t));
	srv_token_new(false, token, t->hash);
	t->principal_id = p->id;
	t->expires_ns = q->now_ns + (int64_t)q->srv->cfg.token_days * NS_PER_DAY;
	if ((r = meta_token_add(q->srv->meta, t)) < 0) {
		sodium_memzero(token, SRV_TOKEN_TEXT_MAX);
		srv_reply_error(q, 500, "internal", "cannot store the token");
		return r;
	}
	return 0;
}

void
api_login(struct srv_req *q)
{
	json_t *body = srv_body_json(q), *out;
	struct meta_principal p;
	struct meta_token t;
	char token[SRV_TOKEN_TEXT_MAX];

	memset(token, 0, sizeof(token));
	if (body == NULL)
		return;
	if (srv_claim_take(q, json_string_value(json_object_get(body, "claim")),
	    token, &t, &p) < 0)
		goto out;
	out = json_pack("{s:s, s:s, s:s, s:I}", "token", token, "name", p.name,
	    "role", ut_role_name(p.role), "expires_ns", (json_int_t)t.expires_ns);
	srv_no_store(q);
	srv_reply_json(q, 200, out);
out:
	sodium_memzero(token, sizeof(token));
	sodium_memzero(&t, sizeof(t));
	json_decref(body);
}

/* POST /v1/admin/principals/{name}/reissue-claim: a new claim code. */
void
api_admin_claim_reissue(struct srv_req *q)
{
	struct meta_principal p;
	struct meta_code c;
	char code[SRV_CODE_TEXT_MAX], key[META_NAME_MAX], val[160], idhex[40];
	int r;

	snprintf(q->a_object, sizeof(q->a_object), "principal:%.80s", q->param[0]);
	r = meta_principal_by_name(q->srv->meta, q->param[0], &p);
	if (r < 0 || p.revoked_ns != 0) {
		srv_reply_error(q, 404, "not_found", "no such principal");
		return;
	}
	if (p.role == UT_ROLE_SUBJECT)
		srv_hex(p.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(&c, 0, sizeof(c));
	c.kind = META_CODE_CLAIM;
	srv_code_new(code, c.id, c.hash);
	c.principal_id = p.id;
	c.created_by = q->who.id;
	c.created_ns = q->now_ns;
	c.expires_ns = q->now_ns + CLAIM_TTL_NS;
	reissue_key(c.id, key);
	snprintf(val, sizeof(val), "{\"principal\":%lld,\"made_ns\":%lld,"
	    "\"confirmed\":false}", (long long)p.id, (long long)q->now_ns);
	/* The mark first: a code without it would work at once. */
	if ((r = meta_setting_set(q->srv->meta, key, val, strlen(val))) < 0 ||
	    (r = meta_code_add(q->srv->meta, &c)) < 0) {
		srv_reply_error(q, 500, "internal", "cannot store the claim code");
		goto out;
	}
	srv_hex(c.id, sizeof(c.id), idhex, sizeof(idhex));
	snprintf(q->a_detail, sizeof(q->a_detail), "claim %s: works in 24 h or "
	    "once confirmed", idhex);
	srv_no_store(q);
	srv_reply_json(q, 201, json_pack("{s:s, s:s, s:I}", "claim", code,
	    "claim_id", idhex, "works_from_ns", (json_int_t)(q->now_ns +
	    REISSUE_DELAY_NS)));
out:
	sodium_memzero(code, sizeof(code));
}

/* POST /v1/my/claims/{id}/confirm: the person lets a re-issued code work now. */
void
api_my_claim_confirm(struct srv_req *q)
{
	uint8_t id[META_CODE_ID_LEN];
	char key[META_NAME_MAX], val[256];
	size_t n = sizeof(val) - 1;
	json_t *j = NULL;
	char *text = NULL;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "claim:%.80s", q->param[0]);
	if (srv_unhex(q->param[0], id, sizeof(id)) < 0)
		goto deny;
	reissue_key(id, key);
	if (meta_setting_get(q->srv->meta, key, val, &n) < 0)
		goto deny;
	val[n] = '\0';
	if ((j = json_loads(val, 0, NULL)) == NULL ||
	    json_integer_value(json_object_get(j, "principal")) != q->who.id)
		goto deny;
	json_object_set_new(j, "confirmed", json_true());
	if ((text = json_dumps(j, JSON_COMPACT)) == NULL ||
	    meta_setting_set(q->srv->meta, key, text, strlen(text)) < 0) {
		srv_reply_error(q, 500, "internal", "cannot confirm");
		goto out;
	}
	srv_reply_json(q, 200, json_pack("{s:b}", "confirmed", 1));
	goto out;
deny:
	srv_deny_not_found(q);
out:
	free(text);
	json_decref(j);
}

void
api_admin_principal_add(struct srv_req *q)
{
	json_t *body = srv_body_json(q);
	struct meta_principal p;
	struct meta_code c;
	char code[SRV_CODE_TEXT_MAX];
	const char *name, *role;
	int64_t id;
	int r;

	if (body == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	role = json_string_value(json_object_get(body, "role"));
	memset(&p, 0, sizeof(p));
	if (name == NULL || !srv_name_ok(name)) {
		srv_reply_error(q, 400, "bad_request",
		    "\"name\": 1-63 characters of A-Z a-z 0-9 . _ @ -");
		goto out;
	}
	if (role == NULL || (p.role = ut_role_parse(role)) == UT_ROLE_NONE) {
		srv_reply_error(q, 400, "bad_request", "\"role\": subject, reviewer, "
		    "trainer, admin or auditor");
		goto out;
	}
	snprintf(q->a_object, sizeof(q->a_object), "principal:%s", name);
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.created_ns = q->now_ns;
	if (p.role == UT_ROLE_SUBJECT) {
		randombytes_buf(p.subject_id, sizeof(p.subject_id));
		if ((r = keystore_subject_add(q->srv->ks, p.subject_id)) < 0) {
			srv_reply_error(q, 500, "internal", "cannot create the subject key");
			goto out;
		}
		srv_hex(p.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	}
	r = meta_principal_add(q->srv->meta, &p, &id);
	if (r == -EEXIST) {
		srv_reply_error(q, 409, "conflict", "a principal with that name exists");
		goto out;
	}
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "cannot store the principal");
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.kind = META_CODE_CLAIM;
	srv_code_new(code, c.id, c.hash);
	c.principal_id = id;
	c.created_by = q->who.id;
	c.created_ns = q->now_ns;
	c.expires_ns = q->now_ns + CLAIM_TTL_NS;
	if ((r = meta_code_add(q->srv->meta, &c)) < 0) {
		srv_reply_error(q, 500, "internal", "cannot store the claim code");
		goto out;
	}
	snprintf(q->a_detail, sizeof(q->a_detail), "role %s, claim code %.16s",
	    ut_role_name(p.role), code);
	srv_no_store(q);
	srv_reply_json(q, 201, json_pack("{s:s, s:s, s:s, s:I}", "name", p.name,
	    "role", ut_role_name(p.role), "claim", code, "claim_expires_ns",
	    (json_int_t)c.expires_ns));
out:
	sodium_memzero(code, sizeof(code));
	json_decref(body);
}

static int
list_one(const struct meta_principal *p, void *arg)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:I}", "name",
	    p->name, "role", ut_role_name(p->role), "created_ns",
	    (json_int_t)p->created_ns, "revoked_ns", (json_int_t)p->revoked_ns));
	return 0;
}

void
api_admin_principal_list(struct srv_req *q)
{
	json_t *arr = json_array();

	if (meta_principal_list(q->srv->meta, list_one, arr) < 0) {
		json_decref(arr);
		srv_reply_error(q, 500, "internal", "cannot list principals");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o}", "principals", arr));
}

void
api_admin_principal_revoke(struct srv_req *q)
{
	struct meta_principal p;

	snprintf(q->a_object, sizeof(q->a_object), "principal:%.80s", q->param[0]);
	if (meta_principal_by_name(q->srv->meta, q->param[0], &p) < 0) {
		srv_reply_error(q, 404, "not_found", "no such principal");
		return;
	}
	if (p.id == q->who.id) {
		srv_reply_error(q, 409, "conflict", "an admin cannot revoke themselves");
		return;
	}
	if (p.role == UT_ROLE_SUBJECT)
		srv_hex(p.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	if (p.revoked_ns == 0 &&
	    meta_principal_revoke(q->srv->meta, p.id, q->now_ns) < 0) {
		srv_reply_error(q, 500, "internal", "cannot revoke");
		return;
	}
	if (p.revoked_ns == 0)
		(void)srv_ctl_bump(q->srv, "principal revoked");
	srv_reply_json(q, 200, json_pack("{s:s, s:I}", "name", p.name,
	    "revoked_ns", (json_int_t)(p.revoked_ns != 0 ? p.revoked_ns : q->now_ns)));
}

void
api_my_enroll_code(struct srv_req *q)
{
	struct meta_code c;
	char code[SRV_CODE_TEXT_MAX];

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(&c, 0, sizeof(c));
	c.kind = META_CODE_ENROLL;
	srv_code_new(code, c.id, c.hash);
	c.principal_id = q->who.id;
	c.created_by = q->who.id;
	c.created_ns = q->now_ns;
	c.expires_ns = q->now_ns + ENROLL_TTL_NS;
	srv_hex(c.id, sizeof(c.id), q->a_object, sizeof(q->a_object));
	if (meta_code_add(q->srv->meta, &c) < 0) {
		srv_reply_error(q, 500, "internal", "cannot store the code");
	} else {
		srv_no_store(q);
		srv_reply_json(q, 201, json_pack("{s:s, s:I}", "code", code,
		    "expires_ns", (json_int_t)c.expires_ns));
	}
	sodium_memzero(code, sizeof(code));
}

static int
device_one(const struct meta_device *d, void *arg)
{
	char pk[64];

	srv_b64(d->pk, 32, pk, sizeof(pk));
	json_array_append_new(arg, json_pack("{s:I, s:s, s:I, s:I}", "id",
	    (json_int_t)d->id, "pk", pk, "enrolled_ns", (json_int_t)d->enrolled_ns,
	    "revoked_ns", (json_int_t)d->revoked_ns));
	return 0;
}

void
api_my_devices(struct srv_req *q)
{
	json_t *arr = json_array();

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	if (meta_device_list(q->srv->meta, q->who.id, device_one, arr) < 0) {
		json_decref(arr);
		srv_reply_error(q, 500, "internal", "cannot list devices");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o}", "devices", arr));
}

void
api_my_device_revoke(struct srv_req *q)
{
	struct meta_device d;
	uint64_t id;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "device:%.80s", q->param[0]);
	if (ut_parse_u64(q->param[0], &id) < 0 || id > INT64_MAX ||
	    meta_device_get(q->srv->meta, (int64_t)id, &d) < 0 ||
	    d.principal_id != q->who.id) {
		srv_deny_not_found(q);
		return;
	}
	if (d.revoked_ns == 0 && meta_device_revoke(q->srv->meta, d.id, q->now_ns) < 0) {
		srv_reply_error(q, 500, "internal", "cannot revoke");
		return;
	}
	if (d.revoked_ns == 0)
		(void)srv_ctl_bump(q->srv, "device revoked");
	srv_reply_json(q, 200, json_pack("{s:I, s:I}", "id", (json_int_t)d.id,
	    "revoked_ns", (json_int_t)(d.revoked_ns ? d.revoked_ns : q->now_ns)));
}
