/*
 * api_web_admin.c - what the admin's and the auditor's web pages ask
 * besides the CLI's routes (issue 13, docs/WEB.md): devices with their
 * last acknowledged control state, a policy version's diff against the
 * one before, the review assignments, and the audit log's verification.
 * No recorded content: ids, names, times, states.  Roles are the route
 * table's; every call is audited by the dispatcher.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/audit.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "server_int.h"

static json_t *
ns_or_null(int64_t v)
{
	return v != 0 ? json_integer((json_int_t)v) : json_null();
}

/* A principal's name by id (cached in names: id text -> name). */
static const char *
name_of(struct server *s, json_t *names, int64_t id)
{
	struct meta_principal p;
	char key[24];
	json_t *v;

	snprintf(key, sizeof(key), "%lld", (long long)id);
	if ((v = json_object_get(names, key)) == NULL) {
		v = json_string(meta_principal_get(s->meta, id, &p) == 0 ? p.name : "?");
		json_object_set_new(names, key, v);
	}
	return json_string_value(v);
}

struct list_ctx {
	struct server *s;
	json_t *arr, *names;
};

static int
device_one(const struct meta_device *d, void *arg)
{
	struct list_ctx *lc = arg;
	struct meta_ack a;
	json_t *o, *ack = json_null();

	if (meta_ack_get(lc->s->meta, d->id, &a) == 0)
		ack = json_pack("{s:I, s:b, s:b, s:o, s:I}", "state_version",
		    (json_int_t)a.state_version, "paused", a.paused, "recording",
		    a.recording, "policy_version", ns_or_null(a.policy_version),
		    "acked_ns", (json_int_t)a.acked_ns);
	o = json_pack("{s:I, s:s, s:I, s:o, s:b, s:o, s:o}", "id", (json_int_t)d->id,
	    "owner", name_of(lc->s, lc->names, d->principal_id), "enrolled_ns",
	    (json_int_t)d->enrolled_ns, "revoked_ns", ns_or_null(d->revoked_ns),
	    "revoked", d->revoked_ns != 0, "last_seen_ns", json_is_object(ack) ?
	    json_integer((json_int_t)a.acked_ns) : json_null(), "ack", ack);
	json_array_append_new(lc->arr, o);
	return 0;
}

/* GET /v1/admin/devices */
void
api_admin_devices(struct srv_req *q)
{
	struct list_ctx lc = { q->srv, json_array(), json_object() };

	if (srv_ctl_ack_flush(q->srv) < 0 ||
	    meta_device_list(q->srv->meta, 0, device_one, &lc) < 0) {
		json_decref(lc.arr);
		json_decref(lc.names);
		srv_reply_error(q, 500, "internal", "cannot list the devices");
		return;
	}
	json_decref(lc.names);
	snprintf(q->a_detail, sizeof(q->a_detail), "%zu devices",
	    json_array_size(lc.arr));
	srv_reply_json(q, 200, json_pack("{s:o}", "devices", lc.arr));
}

/* Policy version v parsed (0: the built-in one); NULL when absent or bad. */
static struct policy *
policy_version(struct server *s, int64_t v, int *err)
{
	struct meta_policy mp;
	struct policy *p = NULL;
	char msg[128];

	*err = 0;
	if (v == 0) {
		if (policy_load(NULL, &p, msg, sizeof(msg)) < 0)
			*err = UT_EPARSE;
		return p;
	}
	if ((*err = meta_policy_get(s->meta, v, &mp)) < 0)
		return NULL;
	if ((*err = policy_parse(mp.yaml, mp.yaml_len, &p, msg, sizeof(msg))) < 0)
		p = NULL;
	meta_policy_clear(&mp);
	return p;
}

/* GET /v1/admin/policies/{version}/diff: the change from the version before. */
void
api_admin_policy_diff(struct srv_req *q)
{
	struct policy *a = NULL, *b = NULL;
	json_t *lines = json_array();
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	uint64_t v;
	FILE *f;
	int r;

	if (ut_parse_u64(q->param[0], &v) < 0 || v == 0 || v > INT64_MAX) {
		json_decref(lines);
		srv_reply_error(q, 404, "not_found", "no such policy version");
		return;
	}
	snprintf(q->a_object, sizeof(q->a_object), "policy:%llu", (unsigned long long)v);
	if ((b = policy_version(q->srv, (int64_t)v, &r)) == NULL) {
		json_decref(lines);
		if (r == UT_ENOTFOUND)
			srv_reply_error(q, 404, "not_found", "no such policy version");
		else
			srv_reply_error(q, 500, "internal", "cannot read the policy");
		return;
	}
	/* Version 1 is compared with the built-in policy it replaced. */
	if ((a = policy_version(q->srv, (int64_t)v - 1, &r)) == NULL ||
	    (f = open_memstream(&text, &len)) == NULL) {
		policy_destroy(a);
		policy_destroy(b);
		json_decref(lines);
		srv_reply_error(q, 500, "internal", "cannot read the previous policy");
		return;
	}
	(void)policy_diff_text(a, b, f);
	fclose(f);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		json_array_append_new(lines, json_string(line));
	free(text);
	policy_destroy(a);
	policy_destroy(b);
	srv_reply_json(q, 200, json_pack("{s:I, s:o, s:o}", "version", (json_int_t)v,
	    "previous", v > 1 ? json_integer((json_int_t)(v - 1)) : json_string("built-in"),
	    "changes", lines));
}

static int
assignment_one(const struct meta_assignment *a, void *arg)
{
	struct list_ctx *lc = arg;
	char id[33], seg[33];

	srv_hex(a->id, 16, id, sizeof(id));
	srv_hex(a->segment_id, 16, seg, sizeof(seg));
	json_array_append_new(lc->arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}",
	    "id", id, "segment", seg, "reviewer", name_of(lc->s, lc->names,
	    a->reviewer_id), "state", meta_review_state_name(a->state),
	    "assigned_ns", (json_int_t)a->assigned_ns, "decided_ns",
	    ns_or_null(a->decided_ns)));
	return 0;
}

/* GET /v1/admin/assignments */
void
api_admin_assignments(struct srv_req *q)
{
	struct list_ctx lc = { q->srv, json_array(), json_object() };

	if (meta_assignment_list(q->srv->meta, 0, assignment_one, &lc) < 0) {
		json_decref(lc.arr);
		json_decref(lc.names);
		srv_reply_error(q, 500, "internal", "cannot list the assignments");
		return;
	}
	json_decref(lc.names);
	srv_reply_json(q, 200, json_pack("{s:o}", "assignments", lc.arr));
}

/* GET /v1/audit/verify: the whole log checked now, as `usetrace audit verify`. */
void
api_audit_verify(struct srv_req *q)
{
	uint8_t pks[1 + KEYS_HISTORY_MAX][32];
	char ckpt[SRV_PATH_MAX + 16];
	struct audit_verify_report rep;
	size_t nold = 0;
	int r;

	memset(&rep, 0, sizeof(rep));
	memcpy(pks[0], q->srv->audit_pk, 32);
	snprintf(ckpt, sizeof(ckpt), "%s/audit.ckpt", q->srv->data_dir);
	if ((r = srv_audit_old_pks(q->srv, pks + 1, KEYS_HISTORY_MAX, &nold)) < 0) {
		srv_reply_error(q, 500, "internal", "cannot read the earlier audit keys");
		return;
	}
	r = audit_verify_keys(q->srv->meta, (const uint8_t (*)[32])pks, 1 + nold,
	    ckpt, &rep);
	if (r < 0 && r != UT_ECORRUPT) {
		log_error("serve: audit verify: %s", rep.reason[0] ? rep.reason :
		    ut_strerror(r));
		srv_reply_error(q, 500, "internal", "the audit log cannot be read");
		return;
	}
	snprintf(q->a_detail, sizeof(q->a_detail), "%s, %llu entries",
	    r == 0 ? "ok" : "BAD", (unsigned long long)rep.rows);
	srv_reply_json(q, 200, json_pack("{s:b, s:I, s:I, s:I, s:o, s:o}", "ok", r == 0,
	    "entries", (json_int_t)rep.rows, "checkpoints", (json_int_t)rep.checkpoints,
	    "file_checkpoints", (json_int_t)rep.file_checkpoints, "first_bad",
	    r == 0 ? json_null() : json_integer((json_int_t)rep.bad_seq), "reason",
	    r == 0 ? json_null() : json_string(rep.reason)));
}
