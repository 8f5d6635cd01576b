/*
 * api_control.c - what keeps devices and the server in step (issue 15):
 * the long-polled control reply (GET /v1/device/control?since=V&wait=S),
 * the device's acknowledgement, the published policies, and the admin's
 * organisation-wide pause.  The state itself is orgctl.c's.
 *
 * A long poll: authenticated and routed like any request (routes.c); if
 * `since` equals the current state_version and `wait` > 0, the handler
 * parks it (src/http suspends the connection: no thread is held) until a
 * bump wakes it (orgctl.c invariant 2), its wait ends, or the pause in
 * force expires; srv_dispatch() hands the woken request to
 * srv_control_resume(), which re-reads the device (a device revoked
 * meanwhile is told so) and answers or parks again.  An answer of a
 * change and an ack each wait for their audit entry without holding a
 * thread (q->audit_held, routes.c invariant 2): a pause's thousand woken
 * answers go into a few group commits, not one commit per request thread.
 *
 * Invariants:
 *  (1) A control answer whose state_version differs from `since` (or with
 *      no `since`) is audited ("control"); an answer of the same state (a
 *      wait that ran out) is not, so idle long polls do not fill the log.
 *      Acks ("control_ack"), policy fetches ("policy_fetch") and every
 *      admin call are audited.
 *  (2) A parked poll's context holds no secret: ids, names, the device's
 *      public key, since and its deadline.
 *  (3) A policy is stored only if the device's strict parser
 *      (policy_parse) accepts it; its sha256 is of the exact bytes stored.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "server_int.h"

#define NS_PER_S 1000000000LL
#define WAIT_MAX_S 60u

/* A parked long poll (invariant 2). */
struct poll_ctx {
	struct meta_principal who;
	struct meta_device dev;
	enum srv_purpose purpose;
	char a_principal[64];
	uint64_t since;
	uint64_t deadline_mono;
};

static void
poll_ctx_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, sizeof(struct poll_ctx));
	free(p);
}

static json_t *
int_or_null(int64_t v)
{
	return v != 0 ? json_integer((json_int_t)v) : json_null();
}

/* The whole control reply for state st. */
static void
reply_state(struct srv_req *q, const struct srv_ctl_state *st, bool revoked)
{
	json_t *o = srv_control_base_json(q), *pol;
	int64_t withdrawn = 0, erased = 0;
	char sha[65];

	if (o == NULL) {
		srv_reply_error(q, 500, "internal", "cannot issue the device's keys");
		return;
	}
	if (meta_control_subject(q->srv->meta, q->dev.subject_id, &withdrawn,
	    &erased) < 0) {
		json_decref(o);
		srv_reply_error(q, 500, "internal", "cannot read the consent state");
		return;
	}
	if (st->policy_version != 0) {
		srv_hex(st->policy_sha, 32, sha, sizeof(sha));
		pol = json_pack("{s:I, s:s}", "version", (json_int_t)st->policy_version,
		    "sha256", sha);
	} else
		pol = json_null();
	json_object_set_new(o, "state_version", json_integer((json_int_t)st->version));
	json_object_set_new(o, "org_pause", json_pack("{s:b, s:o, s:o, s:o}",
	    "paused", st->paused, "since_ns", int_or_null(st->pause.since_ns),
	    "until_ns", int_or_null(st->pause.until_ns), "id",
	    int_or_null(st->pause.id)));
	json_object_set_new(o, "policy", pol);
	{
		/* Issue 13: this person's own pause (api_web_my.c). */
		struct srv_my_pause mp;

		srv_my_pause_get(q->srv, q->dev.subject_id, q->now_ns, &mp);
		json_object_set_new(o, "my_pause", json_pack("{s:b, s:o, s:o}",
		    "paused", mp.paused, "since_ns", int_or_null(mp.paused ?
		    mp.since_ns : 0), "until_ns", int_or_null(mp.paused ?
		    mp.until_ns : 0)));
	}
	json_object_set_new(o, "consent", json_pack("{s:o, s:o}", "withdrawn_ns",
	    int_or_null(withdrawn), "erased_all_ns", int_or_null(erased)));
	json_object_set_new(o, "device", json_pack("{s:b}", "revoked", revoked));
	snprintf(q->a_detail, sizeof(q->a_detail), "state %llu%s%s",
	    (unsigned long long)st->version, st->paused ? " paused" : "",
	    revoked ? " revoked" : "");
	srv_reply_json(q, 200, o);
}

/* Monotonic time at which a poll of state st parks no longer. */
static uint64_t
park_until(const struct srv_req *q, const struct srv_ctl_state *st,
    uint64_t deadline)
{
	uint64_t now = ut_now_mono_ns(), at;

	if (st->paused && st->pause.until_ns > q->now_ns) {
		at = now + (uint64_t)(st->pause.until_ns - q->now_ns);
		if (at < deadline)
			return at;
	}
	return deadline;
}

/* Parses since (optional) and wait (0..60); 400 and false when bad. */
static bool
poll_args(struct srv_req *q, bool *have_since, uint64_t *since, unsigned *wait)
{
	const char *a = http_request_arg(q->rq, "since");
	uint64_t w = 0;

	*have_since = a != NULL;
	*since = 0;
	if (a != NULL && ut_parse_u64(a, since) < 0) {
		srv_reply_error(q, 400, "bad_request", "\"since\" is a state_version");
		return false;
	}
	a = http_request_arg(q->rq, "wait");
	if (a != NULL && (ut_parse_u64(a, &w) < 0 || w > WAIT_MAX_S)) {
		srv_reply_error(q, 400, "bad_request", "\"wait\" is 0 to 60 seconds");
		return false;
	}
	*wait = (unsigned)w;
	return true;
}

void
api_device_control(struct srv_req *q)
{
	struct srv_ctl_state st;
	struct poll_ctx *c;
	uint64_t since;
	unsigned wait;
	bool have_since;

	srv_hex(q->dev.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	if (!poll_args(q, &have_since, &since, &wait))
		return;
	srv_ctl_get(q->srv, q->now_ns, &st);
	if (have_since && since == st.version) {
		/* Invariant (1): the same state is not audited. */
		q->no_audit = true;
		if (wait > 0 && q->rq->can_park) {
			c = xcalloc(1, sizeof(*c));
			c->who = q->who;
			c->dev = q->dev;
			c->purpose = q->purpose;
			snprintf(c->a_principal, sizeof(c->a_principal), "%s",
			    q->a_principal);
			c->since = since;
			c->deadline_mono = ut_now_mono_ns() + (uint64_t)wait * NS_PER_S;
			q->rs->park = c;
			q->rs->park_free = poll_ctx_free;
			q->rs->park_until_ns = park_until(q, &st, c->deadline_mono);
			return;
		}
	}
	q->audit_held = true;
	reply_state(q, &st, false);
}

void
srv_control_resume(struct server *s, const struct http_request *rq,
    struct http_response *rs)
{
	struct poll_ctx *c = rq->resume;
	struct srv_ctl_state st;
	struct meta_device d;
	struct srv_req q;
	bool revoked;

	memset(&q, 0, sizeof(q));
	q.srv = s;
	q.rq = rq;
	q.rs = rs;
	q.now_ns = ut_now_wall_ns();
	q.is_device = true;
	q.who = c->who;
	q.dev = c->dev;
	q.purpose = c->purpose;
	snprintf(q.a_principal, sizeof(q.a_principal), "%s", c->a_principal);
	srv_hex(q.dev.subject_id, 16, q.a_subject, sizeof(q.a_subject));
	/* The token was checked at the start; a revocation since is told now. */
	revoked = meta_device_get(s->meta, c->dev.id, &d) < 0 || d.revoked_ns != 0;
	srv_ctl_get(s, q.now_ns, &st);
	if (!revoked && st.version == c->since && rq->can_park &&
	    ut_now_mono_ns() < c->deadline_mono) {
		rs->park = c;
		rs->park_free = poll_ctx_free;
		rs->park_until_ns = park_until(&q, &st, c->deadline_mono);
		return;
	}
	reply_state(&q, &st, revoked);
	q.audit_held = true;
	if (revoked || st.version != c->since)
		srv_finish_audited_maybe_held(&q, "control");
}

void
api_device_ack(struct srv_req *q)
{
	json_t *body = srv_body_json(q), *v, *p, *pv, *rec;
	struct srv_ctl_state st;
	struct meta_ack a;

	if (body == NULL)
		return;
	srv_hex(q->dev.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	q->audit_held = true;
	v = json_object_get(body, "state_version");
	p = json_object_get(body, "paused");
	pv = json_object_get(body, "policy_version");
	rec = json_object_get(body, "recording");
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || !json_is_boolean(p) ||
	    !json_is_boolean(rec) || (pv != NULL && !json_is_null(pv) &&
	    (!json_is_integer(pv) || json_integer_value(pv) <= 0))) {
		srv_reply_error(q, 400, "bad_request", "\"state_version\" (a positive "
		    "integer), \"paused\" and \"recording\" (booleans) and "
		    "\"policy_version\" (an integer or null) are required");
		goto out;
	}
	srv_ctl_get(q->srv, q->now_ns, &st);
	if ((uint64_t)json_integer_value(v) > st.version) {
		srv_reply_error(q, 400, "bad_request",
		    "\"state_version\" is ahead of the server's");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.device_id = q->dev.id;
	a.state_version = (uint64_t)json_integer_value(v);
	a.paused = json_is_true(p);
	a.recording = json_is_true(rec);
	a.policy_version = json_is_integer(pv) ? (int64_t)json_integer_value(pv) : 0;
	a.acked_ns = q->now_ns;
	snprintf(q->a_object, sizeof(q->a_object), "device:%lld", (long long)a.device_id);
	snprintf(q->a_detail, sizeof(q->a_detail), "state %llu paused %s "
	    "recording %s policy %lld", (unsigned long long)a.state_version,
	    a.paused ? "yes" : "no", a.recording ? "yes" : "no",
	    (long long)a.policy_version);
	srv_ctl_ack(q->srv, &a);
	srv_reply_json(q, 200, json_pack("{s:b}", "ok", 1));
out:
	json_decref(body);
}

static json_t *
policy_json(const struct meta_policy *p, bool with_yaml)
{
	char sha[65];
	json_t *o;

	srv_hex(p->sha256, 32, sha, sizeof(sha));
	o = json_pack("{s:I, s:s, s:I}", "version", (json_int_t)p->version,
	    "sha256", sha, "published_ns", (json_int_t)p->published_ns);
	if (o != NULL && with_yaml)
		json_object_set_new(o, "yaml", json_stringn(p->yaml, p->yaml_len));
	return o;
}

/* One version (0: the latest) with its YAML, or 404. */
static void
reply_policy(struct srv_req *q, int64_t version)
{
	struct meta_policy p;
	int r;

	r = meta_policy_get(q->srv->meta, version, &p);
	if (r == UT_ENOTFOUND) {
		srv_reply_error(q, 404, "not_found", version == 0 ?
		    "no policy has been published" : "no such policy version");
		return;
	}
	if (r < 0) {
		srv_reply_error(q, 500, "internal", "cannot read the policy");
		return;
	}
	snprintf(q->a_object, sizeof(q->a_object), "policy:%lld", (long long)p.version);
	srv_reply_json(q, 200, policy_json(&p, true));
	meta_policy_clear(&p);
}

void
api_device_policy(struct srv_req *q)
{
	const char *a = http_request_arg(q->rq, "version");
	uint64_t v = 0;

	srv_hex(q->dev.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	if (a != NULL && (ut_parse_u64(a, &v) < 0 || v == 0 || v > INT64_MAX)) {
		srv_reply_error(q, 400, "bad_request", "\"version\" is a policy version");
		return;
	}
	reply_policy(q, (int64_t)v);
}

void
api_admin_policy_get(struct srv_req *q)
{
	uint64_t v;

	if (ut_parse_u64(q->param[0], &v) < 0 || v == 0 || v > INT64_MAX) {
		srv_reply_error(q, 404, "not_found", "no such policy version");
		return;
	}
	reply_policy(q, (int64_t)v);
}

static int
list_cb(const struct meta_policy *p, void *arg)
{
	json_array_append_new(arg, policy_json(p, false));
	return 0;
}

void
api_admin_policy_list(struct srv_req *q)
{
	json_t *arr = json_array();

	if (meta_policy_list(q->srv->meta, list_cb, arr) < 0) {
		json_decref(arr);
		srv_reply_error(q, 500, "internal", "cannot list the policies");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:o}", "policies", arr));
}

void
api_admin_policy_publish(struct srv_req *q)
{
	json_t *body = srv_body_json(q);
	struct meta_policy mp;
	struct policy *pol = NULL;
	const char *yaml;
	char err[256], msg[320], sha[65];
	size_t len;
	int64_t version;

	if (body == NULL)
		return;
	yaml = json_string_value(json_object_get(body, "yaml"));
	len = json_string_length(json_object_get(body, "yaml"));
	if (yaml == NULL || len == 0 || len > META_POLICY_MAX) {
		srv_reply_error(q, 400, "bad_request", "\"yaml\" (the policy file's "
		    "text, at most 256 KiB) is required");
		goto out;
	}
	/* Invariant (3): the device's own strict parser. */
	err[0] = '\0';
	if (policy_parse(yaml, len, &pol, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "the policy does not parse: %s", err);
		snprintf(q->a_detail, sizeof(q->a_detail), "refused: %.80s", err);
		srv_reply_error(q, 400, "bad_policy", msg);
		goto out;
	}
	memset(&mp, 0, sizeof(mp));
	crypto_hash_sha256(mp.sha256, (const unsigned char *)yaml, len);
	mp.published_ns = q->now_ns;
	snprintf(mp.published_by, sizeof(mp.published_by), "%s", q->who.name);
	mp.yaml = (char *)yaml;
	mp.yaml_len = len;
	if (meta_policy_add(q->srv->meta, &mp, &version) < 0) {
		srv_reply_error(q, 500, "internal", "cannot store the policy");
		goto out;
	}
	srv_hex(mp.sha256, 32, sha, sizeof(sha));
	snprintf(q->a_object, sizeof(q->a_object), "policy:%lld", (long long)version);
	snprintf(q->a_detail, sizeof(q->a_detail), "sha256 %.16s", sha);
	if (srv_ctl_policy(q->srv, version, mp.sha256) < 0)
		log_error("serve: policy %lld stored; devices learn it at the next "
		    "state change", (long long)version);
	srv_reply_json(q, 201, json_pack("{s:I, s:s}", "version",
	    (json_int_t)version, "sha256", sha));
out:
	policy_destroy(pol);
	json_decref(body);
}

/*
 * The body of a pause request, {} or {"duration_s": N} with N from 1 to max
 * and nothing else (the organisation's and a person's alike).  Sets *dur to
 * N when given (else leaves it); on a bad or missing body answers 400 and
 * returns -1.
 */
int
srv_pause_duration(struct srv_req *q, uint64_t max, uint64_t *dur)
{
	json_t *body, *d;
	char msg[96];
	int r = -1;

	if ((body = srv_body_json(q)) == NULL)
		return -1;
	d = json_object_get(body, "duration_s");
	if (json_object_size(body) != (d != NULL ? 1u : 0u) ||
	    (d != NULL && (!json_is_integer(d) || json_integer_value(d) < 1 ||
	    (uint64_t)json_integer_value(d) > max))) {
		snprintf(msg, sizeof(msg), "the body is {} or {\"duration_s\": N}, "
		    "N from 1 to %llu seconds", (unsigned long long)max);
		srv_reply_error(q, 400, "bad_request", msg);
		goto out;
	}
	if (d != NULL)
		*dur = (uint64_t)json_integer_value(d);
	r = 0;
out:
	json_decref(body);
	return r;
}

void
api_admin_pause(struct srv_req *q)
{
	struct meta_org_pause p;
	uint64_t max = q->srv->cfg.org_pause_max_s, dur = max;

	if (srv_pause_duration(q, max, &dur) < 0)
		return;
	if (srv_ctl_pause(q->srv, q->now_ns, q->now_ns + (int64_t)dur * NS_PER_S,
	    q->who.name, &p) < 0) {
		srv_reply_error(q, 500, "internal", "cannot pause");
		return;
	}
	/* Stored (pause row, state version) and every parked poll woken. */
	log_info("serve: organisation pause %lld in force, parked polls woken "
	    "%.1f ms after its request", (long long)p.id,
	    (double)(ut_now_wall_ns() - q->now_ns) / 1e6);
	snprintf(q->a_object, sizeof(q->a_object), "pause:%lld", (long long)p.id);
	snprintf(q->a_detail, sizeof(q->a_detail), "%llu s", (unsigned long long)dur);
	srv_reply_json(q, 200, json_pack("{s:I, s:I, s:I}", "id", (json_int_t)p.id,
	    "since_ns", (json_int_t)p.since_ns, "until_ns", (json_int_t)p.until_ns));
}

void
api_admin_resume(struct srv_req *q)
{
	int r = srv_ctl_resume(q->srv, q->now_ns, q->who.name);

	if (r < 0) {
		srv_reply_error(q, 500, "internal", "cannot resume");
		return;
	}
	snprintf(q->a_detail, sizeof(q->a_detail), "%s", r > 0 ? "resumed" :
	    "not paused");
	srv_reply_json(q, 200, json_pack("{s:b, s:b}", "ok", 1, "resumed", r > 0));
}

void
api_admin_pause_status(struct srv_req *q)
{
	struct srv_ctl_state st;
	struct meta_org_pause last;
	uint64_t acks = 0, devices = 0;
	json_t *l;

	srv_ctl_get(q->srv, q->now_ns, &st);
	if (srv_ctl_ack_flush(q->srv) < 0 ||
	    meta_ack_count(q->srv->meta, st.version, &acks, &devices) < 0) {
		srv_reply_error(q, 500, "internal", "cannot count the acks");
		return;
	}
	if (meta_org_pause_last(q->srv->meta, &last) == 0)
		l = json_pack("{s:I, s:I, s:I, s:o, s:s, s:s}", "id",
		    (json_int_t)last.id, "since_ns", (json_int_t)last.since_ns,
		    "until_ns", (json_int_t)last.until_ns, "ended_ns",
		    int_or_null(last.ended_ns), "started_by", last.started_by,
		    "ended_by", last.ended_by);
	else
		l = json_null();
	srv_reply_json(q, 200, json_pack("{s:b, s:o, s:o, s:o, s:I, s:I, s:I, s:o}",
	    "paused", st.paused, "id", int_or_null(st.pause.id), "since_ns",
	    int_or_null(st.pause.since_ns), "until_ns", int_or_null(st.pause.until_ns),
	    "state_version", (json_int_t)st.version, "acks", (json_int_t)acks,
	    "devices", (json_int_t)devices, "last", l));
}
