/*
 * routes.c - the one table of what may be asked of the server, and the
 * dispatcher that enforces it (DESIGN "Principals, tokens, purposes").
 *
 * A row is (method, path pattern, who, purpose, audit action, handler).
 * A request reaches a handler only through a row whose method and pattern
 * match, whose `who` includes the caller's role (or device, or public) and
 * whose purpose equals the request's Usetrace-Purpose.  Anything else is
 * denied and audited.  Ownership (is this segment the caller's?) is checked
 * by the handler through srv_segment_load(), which answers "not found" for
 * another person's object exactly as for one that does not exist.
 *
 * Invariants:
 *  (1) Default deny: no row, no handler.  There is no other way to reach one.
 *  (2) Every authenticated request, allowed or denied, is one audit entry,
 *      appended durably before any byte of the response leaves; if that
 *      append fails the response is replaced by 503 and its body wiped.
 *      A handler that sets q->audit_held (the device's control poll and
 *      ack, answered by the thousand at once) has its entry queued and its
 *      answer held by the transport (http_response.hold_ticket, no thread
 *      waiting) until the audit's group commit makes it durable; the
 *      held answer leaves only after audit_wait() of its seq returned 0.
 *  (3) Unauthenticated failures are aggregated per source and minute
 *      (audit_note_auth_failure), so they cannot fill the disk.
 *  (4) Error bodies carry codes and fixed sentences: no content, no token,
 *      never whose an object is.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/server.h"
#include "usetrace/util.h"
#include "server_int.h"

#define KIB 1024u
#define SEGMENT_UPLOAD_MAX (64u << 20)

#define SUBJ SRV_R(UT_ROLE_SUBJECT)
#define ADMIN SRV_R(UT_ROLE_ADMIN)
#define AUDITOR SRV_R(UT_ROLE_AUDITOR)
#define REVIEWER SRV_R(UT_ROLE_REVIEWER)
#define TRAINER SRV_R(UT_ROLE_TRAINER)

static const struct srv_route routes[] = {
	{ "GET", "/v1/openapi.json", SRV_R_PUBLIC, SRV_P_NONE, NULL,
	    api_openapi, 0, "the OpenAPI 3.1 document", NULL },
	{ "GET", "/v1/health", SRV_R_PUBLIC, SRV_P_NONE, NULL,
	    api_health, 0, "liveness and server time", NULL },
	{ "POST", "/v1/login", SRV_R_PUBLIC, SRV_P_NONE, "claim",
	    api_login, 4 * KIB, "turn a claim code into the person's own token", NULL },
	{ "POST", "/v1/enroll", SRV_R_PUBLIC, SRV_P_NONE, "enroll",
	    api_enroll, 8 * KIB, "register a device with an enrollment code", NULL },
	/* Issue 13: the web page (web.c: files, not audited) and its sessions. */
	{ "GET", "/", SRV_R_PUBLIC, SRV_P_NONE, NULL, api_web_index, 0,
	    "the web page (web/index.html)", NULL },
	{ "GET", "/web/{name}", SRV_R_PUBLIC, SRV_P_NONE, NULL, api_web_asset, 0,
	    "one of the web page's files", NULL },
	{ "POST", "/v1/session", SRV_R_PUBLIC, SRV_P_NONE, "session_start",
	    api_session_start, 4 * KIB, "sign the page in with a token or a claim "
	    "code: a session cookie and its CSRF token", NULL },
	{ "GET", "/v1/session", SRV_R_PUBLIC, SRV_P_NONE, NULL, api_session_get, 0,
	    "the page's session: who, role, CSRF token", NULL },
	{ "DELETE", "/v1/session", SRV_R_PUBLIC, SRV_P_NONE, "session_end",
	    api_session_end, 0, "sign the page out (X-CSRF-Token)", NULL },

	{ "POST", "/v1/admin/principals", ADMIN, SRV_P_ADMINISTRATION,
	    "principal_add", api_admin_principal_add, 4 * KIB,
	    "add a principal; returns a single-use claim code", NULL },
	{ "GET", "/v1/admin/principals", ADMIN, SRV_P_ADMINISTRATION,
	    "principal_list", api_admin_principal_list, 0,
	    "list principals (no tokens, no pseudonyms)", NULL },
	{ "POST", "/v1/admin/principals/{name}/revoke", ADMIN,
	    SRV_P_ADMINISTRATION, "principal_revoke",
	    api_admin_principal_revoke, 4 * KIB,
	    "revoke a principal, its tokens, codes and devices", NULL },

	{ "POST", "/v1/admin/principals/{name}/reissue-claim", ADMIN,
	    SRV_P_ADMINISTRATION, "claim_reissue", api_admin_claim_reissue,
	    4 * KIB, "a new claim code for an existing principal (works in 24 h "
	    "or once the person confirms; the person sees it)", NULL },
	{ "GET", "/v1/admin/segments", ADMIN, SRV_P_ADMINISTRATION,
	    "segment_list_admin", api_admin_segments, 0,
	    "segment metadata (ids, pseudonyms, days, sizes; no content)", NULL },
	{ "POST", "/v1/admin/assignments", ADMIN, SRV_P_ADMINISTRATION, "assign",
	    api_admin_assign, 4 * KIB, "assign a segment, or a share of every "
	    "subject's segments, to a reviewer", NULL },
	{ "POST", "/v1/admin/pause", ADMIN, SRV_P_ADMINISTRATION, "org_pause",
	    api_admin_pause, 4 * KIB, "pause recording organisation-wide "
	    "(duration_s; resumes by itself at until)", NULL },
	{ "POST", "/v1/admin/resume", ADMIN, SRV_P_ADMINISTRATION, "org_resume",
	    api_admin_resume, 4 * KIB, "end the organisation pause", NULL },
	{ "GET", "/v1/admin/pause", ADMIN, SRV_P_ADMINISTRATION,
	    "org_pause_status", api_admin_pause_status, 0, "the pause in force "
	    "and how many devices acknowledged the current state", NULL },
	{ "POST", "/v1/admin/policies", ADMIN, SRV_P_ADMINISTRATION,
	    "policy_publish", api_admin_policy_publish, 1024 * KIB, "publish a "
	    "policy (strictly parsed; stored as the next version)", NULL },
	{ "GET", "/v1/admin/policies", ADMIN, SRV_P_ADMINISTRATION, "policy_list",
	    api_admin_policy_list, 0, "every published policy version", NULL },
	{ "GET", "/v1/admin/policies/{version}", ADMIN, SRV_P_ADMINISTRATION,
	    "policy_read", api_admin_policy_get, 0, "one published policy with "
	    "its YAML", NULL },

	{ "GET", "/v1/review/queue", REVIEWER, SRV_P_REVIEW, "review_queue",
	    api_review_queue, 0, "my pending assignments", NULL },
	{ "GET", "/v1/review/{id}", REVIEWER, SRV_P_REVIEW, "review_read",
	    api_review_read, 0, "an assigned segment in the reviewer's view", NULL },
	{ "GET", "/v1/review/{id}/frames", REVIEWER, SRV_P_REVIEW, "review_read",
	    api_review_frames, 0, "an assigned segment's stored frame ids", NULL },
	{ "GET", "/v1/review/{id}/frames/{frame}", REVIEWER, SRV_P_REVIEW,
	    "review_read", api_review_frame, 0, "one stored frame of an assigned "
	    "segment as PNG (denied content black, as the device stored it)", NULL },
	{ "POST", "/v1/review/{id}/approve", REVIEWER, SRV_P_REVIEW,
	    "review_decide", api_review_approve, 4 * KIB,
	    "approve an assigned segment for training", NULL },
	{ "POST", "/v1/review/{id}/reject", REVIEWER, SRV_P_REVIEW,
	    "review_decide", api_review_reject, 4 * KIB,
	    "reject an assigned segment, with a reason", NULL },

	{ "GET", "/v1/training/steps", TRAINER, SRV_P_TRAINING, "training_export",
	    api_training_steps, 0, "approved segments' actions, pseudonymised "
	    "per export (NDJSON, one episode a line)", "export" },
	{ "GET", "/v1/training/frames", TRAINER, SRV_P_TRAINING, "training_read",
	    api_training_frame, 0, "one stored frame of an episode the caller "
	    "exported, as PNG (404 once erased, withdrawn or unapproved)",
	    "export,episode,frame" },
	{ "GET", "/v1/training/revoked", TRAINER, SRV_P_TRAINING,
	    "training_revoke_check", api_training_revoked, 0, "the caller's "
	    "episodes of an export whose person has since erased or withdrawn",
	    "export" },

	{ "POST", "/v1/my/enroll-codes", SUBJ, SRV_P_SELF_ACCESS,
	    "enroll_code", api_my_enroll_code, 4 * KIB,
	    "mint a one-time enrollment code for one of my devices", NULL },
	{ "GET", "/v1/my/devices", SUBJ, SRV_P_SELF_ACCESS, "device_list",
	    api_my_devices, 0, "my devices", NULL },
	{ "POST", "/v1/my/devices/{id}/revoke", SUBJ, SRV_P_SELF_ACCESS,
	    "device_revoke", api_my_device_revoke, 4 * KIB,
	    "revoke one of my devices", NULL },
	{ "GET", "/v1/my/segments", SUBJ, SRV_P_SELF_ACCESS, "segment_list",
	    api_my_segments, 0, "my segments with their decrypted summaries", NULL },
	{ "GET", "/v1/my/segments/{id}/actions", SUBJ, SRV_P_SELF_ACCESS,
	    "read_actions", api_my_actions, 0,
	    "the actions of one of my segments (as show --json)", NULL },
	{ "GET", "/v1/my/segments/{id}/records", SUBJ, SRV_P_SELF_ACCESS,
	    "read_records", api_my_records, 0,
	    "the raw records of one of my segments (as show --raw)", NULL },
	{ "GET", "/v1/my/segments/{id}/frames", SUBJ, SRV_P_SELF_ACCESS,
	    "list_frames", api_my_frames, 0,
	    "the stored screen frames of one of my segments", NULL },
	{ "GET", "/v1/my/segments/{id}/frames/{frame}", SUBJ,
	    SRV_P_SELF_ACCESS, "read_frame", api_my_frame, 0,
	    "one stored screen frame as PNG", NULL },
	{ "POST", "/v1/my/segments/{id}/withdraw-review", SUBJ, SRV_P_SELF_ACCESS,
	    "review_withdraw", api_my_withdraw_review, 4 * KIB,
	    "withdraw one of my segments from review and training", NULL },
	{ "POST", "/v1/my/erase", SUBJ, SRV_P_ERASURE, "erase", api_my_erase,
	    4 * KIB, "erase a day or everything (keys destroyed first)", NULL },
	{ "POST", "/v1/my/claims/{id}/confirm", SUBJ, SRV_P_SELF_ACCESS,
	    "claim_confirm", api_my_claim_confirm, 4 * KIB,
	    "let a claim code an admin re-issued for me work now", NULL },
	{ "GET", "/v1/my/audit", SUBJ, SRV_P_SELF_ACCESS, "read_my_audit",
	    api_my_audit, 0, "who read or changed my data", NULL },
	/* Issue 13: the web page's (api_web_my.c, api_web_admin.c). */
	{ "GET", "/v1/my/days", SUBJ, SRV_P_SELF_ACCESS, "read_my_days",
	    api_my_days, 0, "my recordings by day: segments, active time, "
	    "applications, redactions by type, blacked-out frames", NULL },
	{ "POST", "/v1/my/pause", SUBJ, SRV_P_SELF_ACCESS, "my_pause",
	    api_my_pause, 4 * KIB, "pause every one of my agents (optional "
	    "duration_s)", NULL },
	{ "POST", "/v1/my/resume", SUBJ, SRV_P_SELF_ACCESS, "my_resume",
	    api_my_resume, 4 * KIB, "resume my agents", NULL },
	{ "GET", "/v1/my/pause", SUBJ, SRV_P_SELF_ACCESS, "my_pause_status",
	    api_my_pause_status, 0, "my pause and which of my devices "
	    "acknowledged it", NULL },
	{ "GET", "/v1/my/consent", SUBJ, SRV_P_SELF_ACCESS, "read_my_consent",
	    api_my_consent, 0, "the current policy's notice and my consents", NULL },
	{ "GET", "/v1/admin/devices", ADMIN, SRV_P_ADMINISTRATION, "device_list_admin",
	    api_admin_devices, 0, "every device: owner, enrolled, revoked, last "
	    "acknowledged control state (no content)", NULL },
	{ "GET", "/v1/admin/policies/{version}/diff", ADMIN, SRV_P_ADMINISTRATION,
	    "policy_diff", api_admin_policy_diff, 0, "what a policy version "
	    "changed from the one before", NULL },
	{ "GET", "/v1/admin/assignments", ADMIN, SRV_P_ADMINISTRATION,
	    "assignment_list", api_admin_assignments, 0, "review assignments: "
	    "segment, reviewer, state, times", NULL },
	{ "GET", "/v1/audit/verify", AUDITOR, SRV_P_AUDIT, "audit_verify",
	    api_audit_verify, 0, "the audit log's verification now (entries, ok, "
	    "first bad entry)", NULL },

	{ "GET", "/v1/audit/exposure", AUDITOR, SRV_P_AUDIT, "exposure_report",
	    api_audit_exposure, 0, "whose data a principal read, or who read a "
	    "subject's data (from the audit log)", "principal,subject,since,until" },
	{ "POST", "/v1/audit/canaries", AUDITOR, SRV_P_AUDIT, "canary_add",
	    api_audit_canary_add, 4 * KIB, "make a canary: a synthetic person "
	    "with generated recordings and a marker", NULL },
	{ "GET", "/v1/audit/entries", AUDITOR, SRV_P_AUDIT, "read_audit_log",
	    api_audit_entries, 0, "the audit log's entries with their links and "
	    "hashes, a page at a time", "since_seq,limit" },
	{ "GET", "/v1/audit/alerts", AUDITOR, SRV_P_AUDIT, "read_alerts",
	    api_audit_alerts, 0, "the alerts in the audit log", "since_seq" },

	{ "POST", "/v1/device/consents", SRV_R_DEVICE, SRV_P_INGEST,
	    "consent", api_device_consent, 4 * KIB,
	    "record a consent or withdrawal signed by the device key", NULL },
	{ "GET", "/v1/device/control", SRV_R_DEVICE, SRV_P_INGEST, "control",
	    api_device_control, 0, "server time, ingest keys, audit checkpoint, "
	    "the control state (long poll: since, wait 0-60 s)", "since,wait" },
	{ "POST", "/v1/device/ack", SRV_R_DEVICE, SRV_P_INGEST, "control_ack",
	    api_device_ack, 4 * KIB, "the device applied a control state", NULL },
	{ "GET", "/v1/device/policy", SRV_R_DEVICE, SRV_P_INGEST, "policy_fetch",
	    api_device_policy, 0, "the current published policy, or one version",
	    "version" },
	{ "PUT", "/v1/device/segments/{id}", SRV_R_DEVICE, SRV_P_INGEST,
	    "upload", api_device_upload, SEGMENT_UPLOAD_MAX,
	    "upload a closed segment; answers a signed receipt", NULL },
};

const struct srv_route *
srv_routes(size_t *n)
{
	*n = UT_ARRAY_LEN(routes);
	return routes;
}

static const char *const purpose_names[SRV_P_COUNT] = {
	[SRV_P_NONE] = "-",
	[SRV_P_SELF_ACCESS] = "self-access",
	[SRV_P_ERASURE] = "erasure",
	[SRV_P_REVIEW] = "review",
	[SRV_P_TRAINING] = "training",
	[SRV_P_ADMINISTRATION] = "administration",
	[SRV_P_AUDIT] = "audit",
	[SRV_P_INGEST] = "ingest",
};

const char *
srv_purpose_name(enum srv_purpose p)
{
	return p < SRV_P_COUNT ? purpose_names[p] : "-";
}

static enum srv_purpose
purpose_parse(const char *s)
{
	unsigned i;

	if (s == NULL)
		return SRV_P_NONE;
	for (i = 1; i < SRV_P_COUNT; i++)
		if (strcmp(s, purpose_names[i]) == 0)
			return (enum srv_purpose)i;
	return SRV_P_NONE;
}

/* A path parameter: 1-95 characters of [A-Za-z0-9._@-]. */
static bool
param_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= SRV_PARAM_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
		    c == '-'))
			return false;
	}
	/* "." and ".." are never ids. */
	return !(s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.')));
}

/*
 * Matches path against pattern segment by segment; fills params.  The path
 * must be exactly as the pattern: no empty segments, no trailing slash.
 */
static bool
match(const char *pattern, const char *path, char params[SRV_PARAMS][SRV_PARAM_MAX])
{
	const char *p = pattern, *s = path;
	unsigned np = 0;

	while (*p != '\0') {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			size_t n = strcspn(s, "/");

			if (pe == NULL || np >= SRV_PARAMS || !param_ok(s, n))
				return false;
			memcpy(params[np], s, n);
			params[np][n] = '\0';
			np++;
			p = pe + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

/* True when the n bytes at name are one of list's comma-separated names. */
static bool
name_in(const char *list, const char *name, size_t n)
{
	const char *p = list, *c;
	size_t k;

	while (*p != '\0') {
		c = strchr(p, ',');
		k = c != NULL ? (size_t)(c - p) : strlen(p);
		if (k == n && memcmp(p, name, n) == 0)
			return true;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return false;
}

/*
 * True when every parameter of the raw query is one the route takes, none
 * twice and none empty.  Names are compared as received, not decoded: a
 * name the table does not spell exactly is refused.
 */
static bool
query_ok(const struct srv_route *rt, const char *query)
{
	char seen[SRV_QUERY_MAX][32];
	const char *p = query, *end, *eq;
	size_t nseen = 0, i, n;

	if (query == NULL || *query == '\0')
		return true;
	if (rt->query == NULL)
		return false;
	while (*p != '\0') {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		n = (size_t)((eq != NULL ? eq : end) - p);
		if (n == 0 || n >= sizeof(seen[0]) || !name_in(rt->query, p, n) ||
		    nseen == SRV_QUERY_MAX)
			return false;
		for (i = 0; i < nseen; i++)
			if (strlen(seen[i]) == n && memcmp(seen[i], p, n) == 0)
				return false;
		memcpy(seen[nseen], p, n);
		seen[nseen++][n] = '\0';
		p = *end != '\0' ? end + 1 : end;
	}
	return true;
}

static void
refuse_query(struct srv_req *q)
{
	snprintf(q->a_detail, sizeof(q->a_detail), "unknown or repeated query parameter");
	srv_reply_error(q, 400, "bad_request",
	    "a query parameter this endpoint does not take, or one given twice");
}

size_t
srv_body_cap(struct server *s, const char *method, const char *path)
{
	char params[SRV_PARAMS][SRV_PARAM_MAX];
	size_t i;

	(void)s;
	for (i = 0; i < UT_ARRAY_LEN(routes); i++) {
		if (strcmp(routes[i].method, method) == 0 &&
		    match(routes[i].pattern, path, params))
			return routes[i].body_cap != 0 ? routes[i].body_cap : 64 * KIB;
	}
	/* Unknown routes are answered without reading a body. */
	return 0;
}

void
srv_reply_error(struct srv_req *q, unsigned status, const char *code,
    const char *message)
{
	buf_reset(&q->rs->body);
	http_response_error(q->rs, status, code, message);
}

void
srv_reply_json(struct srv_req *q, unsigned status, json_t *obj)
{
	char *text;

	if (obj == NULL) {
		srv_reply_error(q, 500, "internal", "out of memory");
		return;
	}
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	buf_reset(&q->rs->body);
	if (text == NULL || buf_append(&q->rs->body, text, strlen(text)) < 0 ||
	    buf_append(&q->rs->body, "\n", 1) < 0) {
		srv_reply_error(q, 500, "internal", "response too large");
	} else {
		q->rs->status = status;
		snprintf(q->rs->content_type, sizeof(q->rs->content_type),
		    "application/json");
	}
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
}

void
srv_deny_not_found(struct srv_req *q)
{
	q->a_outcome = "denied";
	srv_reply_error(q, 404, "not_found", "no such object");
}

void
srv_no_store(struct srv_req *q)
{
	(void)http_response_header(q->rs, "Cache-Control", "no-store");
}

json_t *
srv_body_json(struct srv_req *q)
{
	json_error_t je;
	json_t *j;

	if (q->rq->body == NULL || q->rq->body_len == 0) {
		srv_reply_error(q, 400, "bad_request", "a JSON object body is required");
		return NULL;
	}
	j = json_loadb((const char *)q->rq->body, q->rq->body_len,
	    JSON_REJECT_DUPLICATES, &je);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		srv_reply_error(q, 400, "bad_request", "the body is not a JSON object");
		return NULL;
	}
	return j;
}

static void
fill_event(struct srv_req *q, const char *action, const char *outcome,
    const char *detail, struct audit_event *e)
{
	memset(e, 0, sizeof(*e));
	e->principal = q->a_principal[0] != '\0' ? q->a_principal : "-";
	e->role = q->is_device ? "device" :
	    q->who.id != 0 ? ut_role_name(q->who.role) : "-";
	e->purpose = srv_purpose_name(q->purpose);
	e->action = action;
	e->subject = q->a_subject;
	e->object = q->a_object;
	e->outcome = outcome;
	e->source = q->rq->client_ip;
	e->detail = detail != NULL ? detail : q->a_detail;
}

int
srv_audit_now(struct srv_req *q, const char *action, const char *outcome,
    const char *detail)
{
	struct audit_event e;

	fill_event(q, action, outcome, detail, &e);
	return audit_append(q->srv->audit, &e, NULL);
}

/*
 * Authenticates the bearer token.  0 with q->who (and q->dev) filled, or a
 * negative code after replying 401.
 */
static int
authenticate(struct srv_req *q)
{
	const char *h = http_request_header(q->rq, "Authorization");
	struct meta_token t;
	bool device = false;
	int r;

	/* The page's session cookie stands in for the bearer token (session.c). */
	if ((r = srv_session_auth(q)) < 0) {
		q->via_session = true;
		goto fail;
	}
	if (r == 0 && (h == NULL || strncmp(h, "Bearer ", 7) != 0 ||
	    srv_token_hash(h + 7, &device, q->token_hash) < 0)) {
		r = UT_EDENIED;
		goto fail;
	}
	r = meta_token_lookup(q->srv->meta, q->token_hash, q->now_ns, &t);
	if (r < 0)
		goto fail;
	if ((t.device_id != 0) != device) {
		r = UT_EDENIED;
		goto fail;
	}
	if ((r = meta_principal_get(q->srv->meta, t.principal_id, &q->who)) < 0)
		goto fail;
	if (q->who.revoked_ns != 0) {
		r = UT_EDENIED;
		goto fail;
	}
	if (device) {
		if ((r = meta_device_get(q->srv->meta, t.device_id, &q->dev)) < 0)
			goto fail;
		if (q->dev.revoked_ns != 0) {
			r = UT_EDENIED;
			goto fail;
		}
		q->is_device = true;
		snprintf(q->a_principal, sizeof(q->a_principal), "device:%lld",
		    (long long)q->dev.id);
	} else
		snprintf(q->a_principal, sizeof(q->a_principal), "%s", q->who.name);
	return 0;
fail:
	audit_note_auth_failure(q->srv->audit, q->rq->client_ip,
	    q->via_session ? "bad session" : h == NULL ? "no token" : "bad token");
	memset(&q->who, 0, sizeof(q->who));
	q->via_session = false;
	srv_reply_error(q, 401, "unauthorized",
	    "a valid, unexpired, unrevoked token is required");
	return r < 0 ? r : UT_EDENIED;
}

static const char *
outcome_of(const struct srv_req *q)
{
	if (q->a_outcome != NULL)
		return q->a_outcome;
	if (q->rs->status < 400)
		return "ok";
	if (q->rs->status == 403 || q->rs->status == 404)
		return "denied";
	if (q->rs->status < 500)
		return "refused";
	return "error";
}

/*
 * The answer when an audited route's entry cannot be made durable: the
 * prepared answer and its headers dropped, a 503 with no recorded content.
 */
static void
refuse_unaudited(struct http_response *rs, int r)
{
	log_error("serve: audit append failed (%s): refusing the response",
	    ut_strerror(r));
	rs->nheaders = 0;
	buf_reset(&rs->body);
	http_response_error(rs, 503, "audit_unavailable",
	    "the audit log cannot be written; nothing audited is served");
}

/* Invariant (2): the entry is durable before the response may leave. */
void
srv_finish_audited(struct srv_req *q, const char *action)
{
	struct audit_event e;
	int r;

	fill_event(q, action, outcome_of(q), NULL, &e);
	r = audit_append(q->srv->audit, &e, NULL);
	if (r < 0)
		refuse_unaudited(q->rs, r);
}

/* A held answer's context: the seq of its audit entry. */
struct audit_hold {
	uint64_t seq;
};

/*
 * Invariant (2) without holding the thread: queues the entry and holds the
 * answer until the commit that makes it durable (srv_audit_release).
 */
static void
finish_audited_held(struct srv_req *q, const char *action)
{
	struct audit_event e;
	struct audit_hold *h;
	uint64_t seq;
	int r;

	fill_event(q, action, outcome_of(q), NULL, &e);
	r = audit_enqueue(q->srv->audit, &e, &seq);
	if (r < 0) {
		refuse_unaudited(q->rs, r);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->seq = seq;
	q->rs->park = h;
	q->rs->park_free = free;
	q->rs->park_until_ns = 0;
	q->rs->hold_ticket = seq;
}

void
srv_finish_audited_maybe_held(struct srv_req *q, const char *action)
{
	if (q->audit_held && q->rq->can_hold)
		finish_audited_held(q, action);
	else
		srv_finish_audited(q, action);
}

/* A held answer released: it leaves only if its entry is durable. */
static void
held_resume(struct server *s, const struct http_request *rq,
    struct http_response *rs)
{
	const struct audit_hold *h = rq->resume;
	int r;

	r = audit_wait(s->audit, h->seq);
	if (r < 0)
		refuse_unaudited(rs, r);
}

void
srv_audit_release(void *arg, uint64_t durable_upto)
{
	struct server *s = arg;

	http_server_release(s->http, durable_upto);
}

void
srv_dispatch(struct server *s, const struct http_request *rq,
    struct http_response *rs)
{
	struct srv_req q;
	const struct srv_route *rt, *path_hit = NULL, *hit = NULL;
	char params[SRV_PARAMS][SRV_PARAM_MAX];
	size_t i;
	unsigned who_bit;

	if (rq->held) {
		held_resume(s, rq, rs);
		return;
	}
	/* A parked long poll woke: authenticated and routed at its start. */
	if (rq->resume != NULL) {
		srv_control_resume(s, rq, rs);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.srv = s;
	q.rq = rq;
	q.rs = rs;
	q.now_ns = ut_now_wall_ns();

	/* Public routes first: no token is looked at. */
	for (i = 0; i < UT_ARRAY_LEN(routes); i++) {
		rt = &routes[i];
		if (!match(rt->pattern, rq->path, params))
			continue;
		path_hit = rt;
		if ((rt->who & SRV_R_PUBLIC) && strcmp(rt->method, rq->method) == 0) {
			/* An audited public route (a claim, an enrollment) must not
			 * use up its code when its entry cannot be written. */
			if (rt->action != NULL && audit_is_failed(s->audit)) {
				srv_reply_error(&q, 503, "audit_unavailable",
				    "the audit log cannot be written; nothing audited is served");
				return;
			}
			q.route = rt;
			memcpy(q.param, params, sizeof(q.param));
			if (query_ok(rt, rq->query))
				rt->fn(&q);
			else
				refuse_query(&q);
			if (rt->action != NULL && !q.no_audit)
				srv_finish_audited(&q, rt->action);
			return;
		}
	}
	/* Outside the API only the page's files are (web.c): 404, no token. */
	if (strncmp(rq->path, "/v1/", 4) != 0) {
		srv_reply_error(&q, 404, "not_found", "no such file");
		return;
	}
	if (audit_is_failed(s->audit)) {
		srv_reply_error(&q, 503, "audit_unavailable",
		    "the audit log cannot be written; nothing audited is served");
		return;
	}
	if (authenticate(&q) < 0)
		return;
	/* Cookie-authenticated changes need the page's CSRF token. */
	if (srv_session_csrf(&q) < 0) {
		srv_finish_audited(&q, "denied");
		return;
	}
	q.purpose = purpose_parse(http_request_header(rq, "Usetrace-Purpose"));
	who_bit = q.is_device ? SRV_R_DEVICE : SRV_R(q.who.role);
	for (i = 0; i < UT_ARRAY_LEN(routes); i++) {
		rt = &routes[i];
		if (strcmp(rt->method, rq->method) != 0 ||
		    !match(rt->pattern, rq->path, params))
			continue;
		if ((rt->who & who_bit) && rt->purpose == q.purpose) {
			hit = rt;
			break;
		}
	}
	if (hit == NULL) {
		/* Invariant (1).  Say why without saying anything of objects. */
		snprintf(q.a_object, sizeof(q.a_object), "%.90s", rq->path);
		snprintf(q.a_detail, sizeof(q.a_detail), "%s %s", rq->method,
		    path_hit == NULL ? "no such route" : "not allowed");
		if (path_hit == NULL)
			srv_reply_error(&q, 404, "not_found", "no such endpoint");
		else if (q.purpose == SRV_P_NONE)
			srv_reply_error(&q, 403, "forbidden",
			    "a Usetrace-Purpose header from the fixed list is required");
		else
			srv_reply_error(&q, 403, "forbidden",
			    "this role may not do this for this purpose");
		q.a_outcome = "denied";
		srv_finish_audited(&q, "denied");
		return;
	}
	q.route = hit;
	memcpy(q.param, params, sizeof(q.param));
	if (query_ok(hit, rq->query))
		hit->fn(&q);
	else
		refuse_query(&q);
	/* A long poll parked, or answering the state it had (api_control.c). */
	if (!q.no_audit)
		srv_finish_audited_maybe_held(&q, hit->action);
}

void
server_print_routes(FILE *f)
{
	size_t i;
	unsigned r;

	fputs("| method | path | who | purpose | audit action | what |\n"
	    "|---|---|---|---|---|---|\n", f);
	for (i = 0; i < UT_ARRAY_LEN(routes); i++) {
		const struct srv_route *rt = &routes[i];
		int first = 1;

		fprintf(f, "| %s | `%s` | ", rt->method, rt->pattern);
		if (rt->who & SRV_R_PUBLIC)
			fputs("anyone", f);
		if (rt->who & SRV_R_DEVICE)
			fputs("device", f);
		for (r = UT_ROLE_SUBJECT; r <= UT_ROLE_AUDITOR; r++) {
			if (rt->who & SRV_R(r)) {
				fprintf(f, "%s%s", first ? "" : ", ",
				    ut_role_name((enum ut_role)r));
				first = 0;
			}
		}
		fprintf(f, " | %s | %s | %s%s%s%s |\n", srv_purpose_name(rt->purpose),
		    rt->action != NULL ? rt->action : "-", rt->summary,
		    rt->query != NULL ? " (query: `" : "",
		    rt->query != NULL ? rt->query : "",
		    rt->query != NULL ? "`)" : "");
	}
}
