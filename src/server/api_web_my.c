/*
 * api_web_my.c - what a person's web page asks besides the CLI's routes
 * (issue 13, docs/WEB.md): the timeline by day, the person's own pause of
 * their agents, and the policy with their consents.  Subjects only (the
 * route table), each call audited by the dispatcher.
 *
 * The person's pause (their devices only): kept in the setting
 * "my_pause:<subject hex>" = {"since_ns","until_ns","by","ended_ns",
 * "version"}; starting or ending it bumps the control state (orgctl.c), so
 * every parked long poll wakes, and the control reply of a device of that
 * person carries "my_pause" {"paused","since_ns","until_ns"}, which the
 * agent applies like the organisation's pause (src/agent/sync.c).  Other
 * people's devices see "paused": false.  A pause ends at until_ns by
 * itself (the agent holds the end, as for the organisation's pause).
 *
 * The days come from the content summaries computed at ingest
 * (summary.c), opened with the day keys: nothing is re-read from the
 * recordings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "server_int.h"

#define NS_PER_S 1000000000LL
#define MY_PAUSE_MAX_S (7u * 86400u)

/* ---- the days ---- */

/* The summary of m as JSON (NULL when none or unreadable). */
static json_t *
summary_open(struct server *s, const struct meta_segment *m)
{
	uint8_t *pt;
	json_t *j = NULL;
	size_t n;

	if (m->summary_len <= KEYSTORE_SEAL_OVERHEAD)
		return NULL;
	n = m->summary_len - KEYSTORE_SEAL_OVERHEAD;
	pt = xmalloc(n + 1);
	if (keystore_day_open(s->ks, m->subject_id, m->day, m->segment_id, 16,
	    m->summary, m->summary_len, pt) == 0)
		j = json_loadb((const char *)pt, n, 0, NULL);
	sodium_memzero(pt, n + 1);
	free(pt);
	return j;
}

static void
add_int(json_t *o, const char *k, json_int_t v)
{
	json_object_set_new(o, k, json_integer(json_integer_value(
	    json_object_get(o, k)) + v));
}

struct days_ctx {
	struct server *s;
	json_t *days;                     /* "YYYY-MM-DD" -> accumulator */
};

static int
day_one(const struct meta_segment *m, void *arg)
{
	struct days_ctx *dc = arg;
	json_t *days = dc->days;
	json_t *d, *sum, *apps, *ms, *types, *v, *ap;
	char day[16], id[33];
	const char *k;
	size_t i;

	srv_day_text(m->day, day);
	srv_hex(m->segment_id, 16, id, sizeof(id));
	if ((d = json_object_get(days, day)) == NULL) {
		d = json_pack("{s:s, s:[], s:I, s:I, s:{}, s:{}, s:I, s:I}", "day", day,
		    "segments", "active_ms", (json_int_t)0, "actions", (json_int_t)0,
		    "app_ms", "redactions", "blacked_frames", (json_int_t)0, "frames",
		    (json_int_t)0);
		if (d == NULL || json_object_set_new(days, day, d) < 0)
			return -ENOMEM;
	}
	json_array_append_new(json_object_get(d, "segments"), json_string(id));
	if ((sum = summary_open(dc->s, m)) == NULL)
		return 0;
	add_int(d, "active_ms", json_integer_value(json_object_get(sum, "active_ms")));
	add_int(d, "actions", json_integer_value(json_object_get(sum, "actions")));
	add_int(d, "frames", json_integer_value(json_object_get(sum, "frames")));
	add_int(d, "blacked_frames", json_integer_value(json_object_get(sum,
	    "blacked_frames")));
	apps = json_object_get(sum, "apps");
	ms = json_object_get(sum, "app_active_ms");
	ap = json_object_get(d, "app_ms");
	json_array_foreach(apps, i, v) {
		if (json_string_value(v) == NULL)
			continue;
		add_int(ap, json_string_value(v), json_integer_value(json_array_get(ms, i)));
	}
	types = json_object_get(sum, "redaction_types");
	json_object_foreach(types, k, v)
		add_int(json_object_get(d, "redactions"), k, json_integer_value(v));
	/* Summaries from before issue 13: the count without types. */
	if (json_object_get(sum, "redaction_types") == NULL &&
	    json_integer_value(json_object_get(sum, "redactions")) > 0)
		add_int(json_object_get(d, "redactions"), "unknown",
		    json_integer_value(json_object_get(sum, "redactions")));
	json_decref(sum);
	return 0;
}

static int
by_active(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "active_s"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "active_s"));

	if (x != y)
		return x < y ? 1 : -1;
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "app")),
	    json_string_value(json_object_get(*(json_t *const *)b, "app")));
}

/* One day's accumulator into the contract's shape. */
static json_t *
day_out(json_t *d)
{
	json_t *apps = json_array(), *v, *o, **sorted;
	json_t *app_ms = json_object_get(d, "app_ms");
	const char *k;
	size_t n = json_object_size(app_ms), i = 0;

	sorted = xcalloc(n + 1, sizeof(*sorted));
	json_object_foreach(app_ms, k, v) {
		if (i == n)
			break;
		o = json_object();
		json_object_set_new(o, "app", json_string(k));
		json_object_set_new(o, "active_s", json_integer((json_integer_value(v) +
		    500) / 1000));
		sorted[i++] = o;
	}
	qsort(sorted, i, sizeof(*sorted), by_active);
	for (n = 0; n < i; n++)
		json_array_append_new(apps, sorted[n]);
	free(sorted);
	o = json_object();
	json_object_set(o, "day", json_object_get(d, "day"));
	json_object_set(o, "segments", json_object_get(d, "segments"));
	json_object_set_new(o, "active_s", json_integer((json_integer_value(
	    json_object_get(d, "active_ms")) + 500) / 1000));
	json_object_set(o, "actions", json_object_get(d, "actions"));
	json_object_set_new(o, "apps", apps);
	json_object_set(o, "redactions", json_object_get(d, "redactions"));
	json_object_set(o, "blacked_frames", json_object_get(d, "blacked_frames"));
	json_object_set(o, "frames", json_object_get(d, "frames"));
	return o;
}

static int
cmp_day_desc(const void *a, const void *b)
{
	return strcmp(*(const char *const *)b, *(const char *const *)a);
}

/* GET /v1/my/days: the timeline, newest day first. */
void
api_my_days(struct srv_req *q)
{
	struct days_ctx dc = { q->srv, json_object() };
	json_t *out = json_array(), *d;
	const char **keys;
	const char *k;
	size_t n, i = 0;
	int r;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	r = meta_segment_list(q->srv->meta, q->who.subject_id, META_DAY_ALL,
	    day_one, &dc);
	if (r < 0) {
		json_decref(dc.days);
		json_decref(out);
		srv_reply_error(q, 500, "internal", "cannot list segments");
		return;
	}
	n = json_object_size(dc.days);
	keys = xcalloc(n + 1, sizeof(*keys));
	json_object_foreach(dc.days, k, d)
		keys[i++] = k;
	qsort(keys, i, sizeof(*keys), cmp_day_desc);
	for (n = 0; n < i; n++)
		json_array_append_new(out, day_out(json_object_get(dc.days, keys[n])));
	free(keys);
	json_decref(dc.days);
	snprintf(q->a_detail, sizeof(q->a_detail), "%zu days", i);
	srv_no_store(q);
	srv_reply_json(q, 200, json_pack("{s:o}", "days", out));
}

/* ---- the person's pause ---- */

static void
pause_key(const uint8_t subject[16], char key[META_NAME_MAX])
{
	char hex[33];

	srv_hex(subject, 16, hex, sizeof(hex));
	snprintf(key, META_NAME_MAX, "my_pause:%s", hex);
}

/* The stored pause (NULL when none). */
static json_t *
pause_load(struct server *s, const uint8_t subject[16])
{
	char key[META_NAME_MAX], val[512];
	size_t n = sizeof(val) - 1;

	pause_key(subject, key);
	if (meta_setting_get(s->meta, key, val, &n) < 0)
		return NULL;
	val[n] = '\0';
	return json_loads(val, 0, NULL);
}

static int
pause_store(struct server *s, const uint8_t subject[16], json_t *p)
{
	char key[META_NAME_MAX], *text = json_dumps(p, JSON_COMPACT);
	int r;

	if (text == NULL)
		return -ENOMEM;
	pause_key(subject, key);
	r = meta_setting_set(s->meta, key, text, strlen(text));
	free(text);
	return r;
}

void
srv_my_pause_get(struct server *s, const uint8_t subject[16], int64_t now_ns,
    struct srv_my_pause *out)
{
	json_t *p = pause_load(s, subject);

	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return;
	out->since_ns = json_integer_value(json_object_get(p, "since_ns"));
	out->until_ns = json_integer_value(json_object_get(p, "until_ns"));
	out->ended_ns = json_integer_value(json_object_get(p, "ended_ns"));
	out->version = (uint64_t)json_integer_value(json_object_get(p, "version"));
	out->paused = out->ended_ns == 0 && out->until_ns > now_ns;
	json_decref(p);
}

/* Bumps the control state and notes its version in the pause. */
static int
pause_publish(struct srv_req *q, json_t *p, const char *why)
{
	struct srv_ctl_state st;
	int r;

	if ((r = pause_store(q->srv, q->who.subject_id, p)) < 0 ||
	    (r = srv_ctl_bump(q->srv, why)) < 0)
		return r;
	srv_ctl_get(q->srv, q->now_ns, &st);
	json_object_set_new(p, "version", json_integer((json_int_t)st.version));
	return pause_store(q->srv, q->who.subject_id, p);
}

/* POST /v1/my/pause {} or {"duration_s": N} */
void
api_my_pause(struct srv_req *q)
{
	json_t *p = NULL;
	uint64_t max = q->srv->cfg.org_pause_max_s > MY_PAUSE_MAX_S ?
	    q->srv->cfg.org_pause_max_s : MY_PAUSE_MAX_S;
	uint64_t dur = q->srv->cfg.org_pause_max_s;
	struct srv_my_pause cur;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	if (srv_pause_duration(q, max, &dur) < 0)
		return;
	srv_my_pause_get(q->srv, q->who.subject_id, q->now_ns, &cur);
	p = json_pack("{s:I, s:I, s:s, s:I, s:I}", "since_ns", (json_int_t)
	    (cur.paused ? cur.since_ns : q->now_ns), "until_ns", (json_int_t)
	    (q->now_ns + (int64_t)dur * NS_PER_S), "by", q->who.name, "ended_ns",
	    (json_int_t)0, "version", (json_int_t)0);
	if (p == NULL || pause_publish(q, p, "a person's pause") < 0) {
		srv_reply_error(q, 500, "internal", "cannot pause");
		goto out;
	}
	snprintf(q->a_object, sizeof(q->a_object), "my_pause");
	snprintf(q->a_detail, sizeof(q->a_detail), "%llu s", (unsigned long long)dur);
	srv_reply_json(q, 200, json_pack("{s:b, s:O, s:O}", "paused", 1, "since_ns",
	    json_object_get(p, "since_ns"), "until_ns", json_object_get(p, "until_ns")));
out:
	json_decref(p);
}

/* POST /v1/my/resume */
void
api_my_resume(struct srv_req *q)
{
	struct srv_my_pause cur;
	json_t *p;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	snprintf(q->a_object, sizeof(q->a_object), "my_pause");
	srv_my_pause_get(q->srv, q->who.subject_id, q->now_ns, &cur);
	if (!cur.paused) {
		snprintf(q->a_detail, sizeof(q->a_detail), "not paused");
		srv_reply_json(q, 200, json_pack("{s:b, s:b}", "ok", 1, "resumed", 0));
		return;
	}
	p = json_pack("{s:I, s:I, s:s, s:I, s:I}", "since_ns", (json_int_t)cur.since_ns,
	    "until_ns", (json_int_t)cur.until_ns, "by", q->who.name, "ended_ns",
	    (json_int_t)q->now_ns, "version", (json_int_t)0);
	if (p == NULL || pause_publish(q, p, "a person's resume") < 0) {
		json_decref(p);
		srv_reply_error(q, 500, "internal", "cannot resume");
		return;
	}
	json_decref(p);
	snprintf(q->a_detail, sizeof(q->a_detail), "resumed");
	srv_reply_json(q, 200, json_pack("{s:b, s:b}", "ok", 1, "resumed", 1));
}

struct pause_devs {
	struct server *s;
	json_t *arr;
	uint64_t version;
};

static int
pause_dev_one(const struct meta_device *d, void *arg)
{
	struct pause_devs *pd = arg;
	struct meta_ack a;
	json_t *o;

	if (d->revoked_ns != 0)
		return 0;
	o = json_pack("{s:I, s:b}", "id", (json_int_t)d->id, "acknowledged", 0);
	if (meta_ack_get(pd->s->meta, d->id, &a) == 0) {
		json_object_set_new(o, "acknowledged", json_boolean(pd->version != 0 &&
		    a.state_version >= pd->version));
		json_object_set_new(o, "state_version", json_integer((json_int_t)
		    a.state_version));
		json_object_set_new(o, "paused", json_boolean(a.paused));
		json_object_set_new(o, "recording", json_boolean(a.recording));
		json_object_set_new(o, "acked_ns", json_integer((json_int_t)a.acked_ns));
	}
	json_array_append_new(pd->arr, o);
	return 0;
}

/* GET /v1/my/pause: the state and which devices acknowledged it. */
void
api_my_pause_status(struct srv_req *q)
{
	struct srv_my_pause cur;
	struct pause_devs pd = { q->srv, json_array(), 0 };

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	srv_my_pause_get(q->srv, q->who.subject_id, q->now_ns, &cur);
	pd.version = cur.version;
	if (srv_ctl_ack_flush(q->srv) < 0 ||
	    meta_device_list(q->srv->meta, q->who.id, pause_dev_one, &pd) < 0) {
		json_decref(pd.arr);
		srv_reply_error(q, 500, "internal", "cannot list the devices");
		return;
	}
	srv_reply_json(q, 200, json_pack("{s:b, s:o, s:o, s:o, s:I, s:o}", "paused",
	    cur.paused, "since_ns", cur.since_ns ? json_integer(cur.since_ns) :
	    json_null(), "until_ns", cur.until_ns ? json_integer(cur.until_ns) :
	    json_null(), "ended_ns", cur.ended_ns ? json_integer(cur.ended_ns) :
	    json_null(), "state_version", (json_int_t)cur.version, "devices", pd.arr));
}

/* ---- the policy and the person's consents ---- */

/* The category names of bits, as a JSON array. */
static json_t *
categories_json(uint32_t bits)
{
	json_t *a = json_array();
	uint32_t b;

	for (b = 1; b & UT_CAT_ALL; b <<= 1)
		if ((bits & b) && policy_category_name(b) != NULL)
			json_array_append_new(a, json_string(policy_category_name(b)));
	return a;
}

/* Published versions' BLAKE2b hashes (consents name policies by it). */
struct pol_map {
	struct server *s;
	json_t *by_hash;                  /* hash hex -> version */
};

static int
pol_map_one(const struct meta_policy *mp, void *arg)
{
	struct pol_map *pm = arg;
	struct meta_policy full;
	struct policy *p = NULL;
	char err[128];

	if (meta_policy_get(pm->s->meta, mp->version, &full) < 0)
		return 0;
	if (policy_parse(full.yaml, full.yaml_len, &p, err, sizeof(err)) == 0)
		json_object_set_new(pm->by_hash, p->hash_hex,
		    json_integer((json_int_t)mp->version));
	policy_destroy(p);
	meta_policy_clear(&full);
	return 0;
}

static int
consent_one(const struct meta_consent *c, void *arg)
{
	json_t **ctx = arg;              /* { array, by_hash } */
	char id[33], hash[65];
	json_t *v;

	srv_hex(c->consent_id, 16, id, sizeof(id));
	srv_hex(c->policy_hash, 32, hash, sizeof(hash));
	v = json_object_get(ctx[1], hash);
	json_array_append_new(ctx[0], json_pack("{s:I, s:s, s:O, s:s, s:I, s:o, s:s}",
	    "device", (json_int_t)c->device_id, "consent_id", id, "policy_version",
	    v != NULL ? v : json_null(), "policy_hash", hash, "given_ns",
	    (json_int_t)c->given_ns, "withdrawn_ns", c->withdrawn_ns ?
	    json_integer(c->withdrawn_ns) : json_null(), "state",
	    c->withdrawn_ns ? "withdrawn" : "given"));
	return 0;
}

/* GET /v1/my/consent */
void
api_my_consent(struct srv_req *q)
{
	struct meta_policy mp;
	struct policy *p = NULL;
	struct pol_map pm = { q->srv, json_object() };
	json_t *pol, *ctx[2];
	char err[128], *notice = NULL;
	size_t nlen = 0;
	FILE *f;
	int r;

	srv_hex(q->who.subject_id, 16, q->a_subject, sizeof(q->a_subject));
	memset(&mp, 0, sizeof(mp));
	r = meta_policy_get(q->srv->meta, 0, &mp);
	if (r == 0)
		r = policy_parse(mp.yaml, mp.yaml_len, &p, err, sizeof(err));
	else if (r == UT_ENOTFOUND)
		r = policy_load(NULL, &p, err, sizeof(err));
	if (r < 0 || (f = open_memstream(&notice, &nlen)) == NULL) {
		meta_policy_clear(&mp);
		policy_destroy(p);
		json_decref(pm.by_hash);
		srv_reply_error(q, 500, "internal", "cannot read the policy");
		return;
	}
	policy_notice_text(p, f);
	fclose(f);
	json_object_set_new(pm.by_hash, p->hash_hex, mp.version != 0 ?
	    json_integer((json_int_t)mp.version) : json_null());
	pol = json_pack("{s:o, s:b, s:s, s:s, s:o}", "version", mp.version != 0 ?
	    json_integer((json_int_t)mp.version) : json_null(), "built_in",
	    mp.version == 0, "hash", p->hash_hex, "notice", notice != NULL ? notice : "",
	    "collect", categories_json(p->categories));
	free(notice);
	policy_destroy(p);
	meta_policy_clear(&mp);
	(void)meta_policy_list(q->srv->meta, pol_map_one, &pm);
	ctx[0] = json_array();
	ctx[1] = pm.by_hash;
	if (meta_consent_list(q->srv->meta, q->who.subject_id, consent_one, ctx) < 0) {
		json_decref(pol);
		json_decref(ctx[0]);
		json_decref(pm.by_hash);
		srv_reply_error(q, 500, "internal", "cannot list the consents");
		return;
	}
	json_decref(pm.by_hash);
	srv_reply_json(q, 200, json_pack("{s:o, s:o}", "policy", pol, "consents",
	    ctx[0]));
}
