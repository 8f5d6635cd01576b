/*
 * canary.c - canaries (issue "nobody reads what they have no business
 * reading"): synthetic people with generated recordings that auditors, not
 * admins, create, indistinguishable to everyone else from real ones, and
 * the alerts that a read of one outside its allowed flow raises.
 *
 * POST /v1/audit/canaries {"name": NAME, "flow": "none"|"review",
 * "segments": N} makes: a subject principal NAME with its subject key (as
 * an admin's `principal add` would, but with no claim code: nobody ever
 * holds its token), an enrolled device with a fresh key, a consent to the
 * built-in policy, and N segments written by the real spool writer
 * (synth.h) sealed to that device's ingest keys and stored through the
 * ingest handler itself (same receipts, same rows, same blobs).  Every
 * segment types a marker string unique to the canary, which the answer
 * returns to the auditor alone, so a leaked export can be recognised.
 * What marks the subject as a canary is a setting ("canary:<subject>")
 * that only this file reads; no endpoint but the auditor's shows it.
 *
 * srv_canary_check() is called by every handler that returns a segment's
 * content to someone other than its subject (review, training).  Flow
 * "review" lets a canary be reviewed and exported like real data; flow
 * "none" allows nothing.  A read outside the flow is an alert (alert.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/synth.h"
#include "usetrace/util.h"
#include "server_int.h"

#define CANARY_SEGMENTS_MAX 20u
#define CANARY_KEY "canary:"

/* ---- the canary mark ---- */

static int
canary_get(struct server *s, const uint8_t subject[16], json_t **out)
{
	char key[META_NAME_MAX], val[512];
	size_t n = sizeof(val) - 1;
	int r;

	memcpy(key, CANARY_KEY, sizeof(CANARY_KEY) - 1);
	srv_hex(subject, 16, key + sizeof(CANARY_KEY) - 1,
	    sizeof(key) - sizeof(CANARY_KEY) + 1);
	if ((r = meta_setting_get(s->meta, key, val, &n)) < 0)
		return r;
	val[n] = '\0';
	*out = json_loads(val, 0, NULL);
	return *out != NULL ? 0 : UT_ECORRUPT;
}

int
srv_canary_check(struct srv_req *q, const uint8_t subject[16], const char *flow)
{
	json_t *c = NULL;
	const char *allowed;
	char detail[96];
	int r;

	r = canary_get(q->srv, subject, &c);
	if (r == UT_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	allowed = json_string_value(json_object_get(c, "flow"));
	if (allowed == NULL || strcmp(allowed, flow) != 0) {
		snprintf(detail, sizeof(detail), "a canary (flow %s) read for %s",
		    allowed != NULL ? allowed : "?", flow);
		r = srv_alert(q, "canary_read", detail);
	}
	json_decref(c);
	return r < 0 ? r : 0;
}

/* ---- making one ---- */

struct make {
	struct server *s;
	uint8_t subject[16];
	uint8_t dev_pk[32];
	int err;
};

static int
recipient(int64_t start_ns, uint8_t pk[32], void *arg)
{
	struct make *mk = arg;

	return keystore_ingest_pk(mk->s->ks, mk->subject, mk->dev_pk,
	    keystore_day_of(start_ns), pk);
}

/* Stores one closed segment file through the ingest handler itself. */
static int
ingest_file(struct srv_req *q, const struct meta_device *dev, const char *path,
    json_t *ids)
{
	struct http_request rq;
	struct http_response rs;
	struct srv_req u;
	unsigned char *img = NULL;
	const char *outcome;
	char id[33];
	size_t len = 0;
	int r;

	if ((r = fsio_read_file(path, 64u << 20, &img, &len)) < 0)
		return r;
	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.path = "";
	rq.query = "";
	rq.client_ip = "local";
	rq.body = img;
	rq.body_len = len;
	memset(&rs, 0, sizeof(rs));
	rs.status = 200;
	buf_init(&rs.body, 1u << 20);
	memset(&u, 0, sizeof(u));
	u.srv = q->srv;
	u.rq = &rq;
	u.rs = &rs;
	u.now_ns = q->now_ns;
	u.is_device = true;
	u.dev = *dev;
	u.purpose = SRV_P_INGEST;
	snprintf(u.a_principal, sizeof(u.a_principal), "device:%lld",
	    (long long)dev->id);
	/* The path's id is the segment's (header offset 64, FORMAT.md). */
	srv_hex(img + 64, 16, u.param[0], sizeof(u.param[0]));
	api_device_upload(&u);
	outcome = u.a_outcome != NULL ? u.a_outcome : rs.status < 300 ? "ok" : "error";
	r = rs.status == 200 && strstr((const char *)rs.body.data, "\"stored\"") != NULL ?
	    0 : UT_ESTATE;
	if (srv_audit_now(&u, "upload", outcome, NULL) < 0 && r == 0)
		r = UT_ESTATE;
	if (r == 0) {
		memcpy(id, u.param[0], 33);
		json_array_append_new(ids, json_string(id));
	}
	buf_finish(&rs.body);
	sodium_memzero(img, len);
	free(img);
	return r;
}

static int
write_segments(struct srv_req *q, struct make *mk, const struct ut_device_key *dk,
    const struct meta_consent *c, unsigned n, const char *marker, json_t *ids,
    const struct meta_device *dev)
{
	char dir[SRV_PATH_MAX + 32], path[SRV_PATH_MAX + 64];
	struct synth_opts so;
	unsigned i;
	int r;

	snprintf(dir, sizeof(dir), "%s/tmp-canary-XXXXXX", q->srv->data_dir);
	if (mkdtemp(dir) == NULL)
		return -errno;
	memset(&so, 0, sizeof(so));
	so.dir = dir;
	so.device = dk;
	so.recipient = recipient;
	so.arg = mk;
	memcpy(so.subject_id, mk->subject, 16);
	memcpy(so.policy_hash, c->policy_hash, 32);
	memcpy(so.consent_id, c->consent_id, 16);
	so.segments = n;
	so.segment_bytes = 96u << 10;
	so.seed = randombytes_random();
	so.marker = marker;
	so.start_wall_ns = q->now_ns - 3600LL * 1000000000LL;
	if (keystore_day_of(so.start_wall_ns) != keystore_day_of(q->now_ns))
		so.start_wall_ns = (int64_t)keystore_day_of(q->now_ns) * 86400LL *
		    1000000000LL + 1000000000LL;
	r = synth_write(&so);
	for (i = 1; r == 0 && i <= n + 1; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08u.uts", dir, i);
		if (access(path, F_OK) == 0)
			r = ingest_file(q, dev, path, ids);
	}
	for (i = 1; i <= n + 1; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08u.uts", dir, i);
		(void)unlink(path);
	}
	if (rmdir(dir) < 0 && r == 0)
		r = -errno;
	return r;
}

/* POST /v1/audit/canaries {"name", "flow", "segments"} */
void
api_audit_canary_add(struct srv_req *q)
{
	json_t *body = srv_body_json(q), *ids = NULL, *mark = NULL;
	const char *name, *flow;
	struct meta_principal p;
	struct meta_device d;
	struct meta_consent c;
	struct ut_device_key *dk = NULL;
	struct make mk;
	json_int_t nseg;
	char key[META_NAME_MAX], marker[48], *text = NULL;
	uint8_t rnd[8];
	int64_t pid, did;
	int r;

	if (body == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	flow = json_string_value(json_object_get(body, "flow"));
	nseg = json_integer_value(json_object_get(body, "segments"));
	if (name == NULL || !srv_name_ok(name) || flow == NULL ||
	    (strcmp(flow, "none") != 0 && strcmp(flow, "review") != 0) ||
	    nseg < 1 || nseg > CANARY_SEGMENTS_MAX || json_object_size(body) != 3) {
		srv_reply_error(q, 400, "bad_request", "\"name\" (as for a principal), "
		    "\"flow\" (none or review) and \"segments\" (1-20)");
		goto out;
	}
	snprintf(q->a_object, sizeof(q->a_object), "principal:%s", name);
	memset(&mk, 0, sizeof(mk));
	mk.s = q->srv;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.role = UT_ROLE_SUBJECT;
	p.created_ns = q->now_ns;
	randombytes_buf(p.subject_id, 16);
	memcpy(mk.subject, p.subject_id, 16);
	if ((r = keystore_subject_add(q->srv->ks, p.subject_id)) < 0)
		goto fail;
	r = meta_principal_add(q->srv->meta, &p, &pid);
	if (r == -EEXIST) {
		srv_reply_error(q, 409, "conflict", "a principal with that name exists");
		goto out;
	}
	if (r < 0)
		goto fail;
	if ((dk = sodium_malloc(sizeof(*dk))) == NULL)
		ut_fatal("out of memory");
	crypto_sign_keypair(dk->pk, dk->sk);
	memcpy(mk.dev_pk, dk->pk, 32);
	memset(&d, 0, sizeof(d));
	memcpy(d.pk, dk->pk, 32);
	d.principal_id = pid;
	memcpy(d.subject_id, p.subject_id, 16);
	d.enrolled_ns = q->now_ns;
	if ((r = meta_device_add(q->srv->meta, &d, &did)) < 0)
		goto fail;
	d.id = did;
	memset(&c, 0, sizeof(c));
	randombytes_buf(c.consent_id, 16);
	c.device_id = did;
	memcpy(c.subject_id, p.subject_id, 16);
	memcpy(c.policy_hash, q->srv->default_policy_hash, 32);
	c.given_ns = q->now_ns - 7200LL * 1000000000LL;
	if ((r = meta_consent_add(q->srv->meta, &c)) < 0)
		goto fail;
	/* The marker: unique, and looks like something a person would type. */
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(marker, sizeof(marker), "ref ");
	srv_hex(rnd, sizeof(rnd), marker + 4, sizeof(marker) - 4);
	mark = json_pack("{s:s, s:s, s:s, s:I}", "name", name, "flow", flow,
	    "marker", marker, "created_ns", (json_int_t)q->now_ns);
	memcpy(key, CANARY_KEY, sizeof(CANARY_KEY) - 1);
	srv_hex(p.subject_id, 16, key + sizeof(CANARY_KEY) - 1,
	    sizeof(key) - sizeof(CANARY_KEY) + 1);
	if (mark == NULL || (text = json_dumps(mark, JSON_COMPACT)) == NULL ||
	    (r = meta_setting_set(q->srv->meta, key, text, strlen(text))) < 0)
		goto fail;
	ids = json_array();
	if ((r = write_segments(q, &mk, dk, &c, (unsigned)nseg, marker, ids, &d)) < 0)
		goto fail;
	snprintf(q->a_detail, sizeof(q->a_detail), "flow %s, %zu segments", flow,
	    json_array_size(ids));
	srv_no_store(q);
	srv_reply_json(q, 201, json_pack("{s:s, s:s, s:s, s:O}", "name", name,
	    "flow", flow, "marker", marker, "segments", ids));
	goto out;
fail:
	log_error("serve: making canary %s: %s", name, ut_strerror(r));
	srv_reply_error(q, 500, "internal", "the canary could not be made");
out:
	free(text);
	json_decref(mark);
	json_decref(ids);
	sodium_free(dk);
	json_decref(body);
}
