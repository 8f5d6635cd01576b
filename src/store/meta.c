/*
 * meta.c - the metadata store's front: picks an implementation by the URL
 * scheme at open and forwards every meta.h call through its struct
 * meta_ops (store_int.h).  Also the role names, shared by every part.
 *
 * Invariant: nothing here knows an implementation's storage; a second
 * implementation adds one branch to meta_open_url() and nothing else.
 */
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/meta.h"
#include "store_int.h"

static const char *const role_names[] = {
	[UT_ROLE_NONE] = "none",
	[UT_ROLE_SUBJECT] = "subject",
	[UT_ROLE_REVIEWER] = "reviewer",
	[UT_ROLE_TRAINER] = "trainer",
	[UT_ROLE_ADMIN] = "admin",
	[UT_ROLE_AUDITOR] = "auditor",
};

const char *
ut_role_name(enum ut_role r)
{
	if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0]))
		return "none";
	return role_names[r];
}

enum ut_role
ut_role_parse(const char *s)
{
	unsigned i;

	if (s == NULL)
		return UT_ROLE_NONE;
	for (i = UT_ROLE_SUBJECT; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(s, role_names[i]) == 0)
			return (enum ut_role)i;
	return UT_ROLE_NONE;
}

static int
meta_open_url(const char *url, bool create, bool readonly, struct meta **out)
{
	if (url == NULL || out == NULL)
		return UT_EINVAL;
	if (strncmp(url, "sqlite:", 7) == 0) {
		if (url[7] == '\0')
			return UT_EINVAL;
		return meta_sqlite__open(url + 7, create, readonly, out);
	}
	/*
	 * "postgres:..." is the scale-out implementation: a meta_pg.c with its
	 * own struct meta_ops goes here, opened the same way, and runs the
	 * same tests (tests/store/test_meta.c, with its URL).  Not built yet.
	 */
	return UT_EINVAL;
}

int
meta_open(const char *url, bool create, struct meta **out)
{
	return meta_open_url(url, create, false, out);
}

int
meta_open_readonly(const char *url, struct meta **out)
{
	return meta_open_url(url, false, true, out);
}

void
meta_close(struct meta *m)
{
	if (m != NULL)
		m->ops->close(m);
}

int
meta_principal_add(struct meta *m, const struct meta_principal *p, int64_t *id)
{
	return m->ops->principal_add(m, p, id);
}

int
meta_principal_get(struct meta *m, int64_t id, struct meta_principal *out)
{
	return m->ops->principal_get(m, id, out);
}

int
meta_principal_by_name(struct meta *m, const char *name, struct meta_principal *out)
{
	return m->ops->principal_by_name(m, name, out);
}

int
meta_principal_by_subject(struct meta *m, const uint8_t subject[META_ID_LEN],
    struct meta_principal *out)
{
	return m->ops->principal_by_subject(m, subject, out);
}

int
meta_principal_list(struct meta *m,
    int (*fn)(const struct meta_principal *p, void *arg), void *arg)
{
	return m->ops->principal_list(m, fn, arg);
}

int
meta_principal_revoke(struct meta *m, int64_t id, int64_t now_ns)
{
	return m->ops->principal_revoke(m, id, now_ns);
}

int
meta_token_add(struct meta *m, const struct meta_token *t)
{
	return m->ops->token_add(m, t);
}

int
meta_token_lookup(struct meta *m, const uint8_t hash[META_HASH_LEN],
    int64_t now_ns, struct meta_token *out)
{
	return m->ops->token_lookup(m, hash, now_ns, out);
}

int
meta_token_revoke(struct meta *m, const uint8_t hash[META_HASH_LEN], int64_t now_ns)
{
	return m->ops->token_revoke(m, hash, now_ns);
}

int
meta_code_add(struct meta *m, const struct meta_code *c)
{
	return m->ops->code_add(m, c);
}

int
meta_code_take(struct meta *m, enum meta_code_kind kind,
    const uint8_t id[META_CODE_ID_LEN], const uint8_t hash[META_HASH_LEN],
    const char *source, int64_t now_ns, struct meta_code *out)
{
	return m->ops->code_take(m, kind, id, hash, source, now_ns, out);
}

int
meta_device_add(struct meta *m, const struct meta_device *d, int64_t *id)
{
	return m->ops->device_add(m, d, id);
}

int
meta_device_get(struct meta *m, int64_t id, struct meta_device *out)
{
	return m->ops->device_get(m, id, out);
}

int
meta_device_by_pk(struct meta *m, const uint8_t pk[32], struct meta_device *out)
{
	return m->ops->device_by_pk(m, pk, out);
}

int
meta_device_list(struct meta *m, int64_t principal_id,
    int (*fn)(const struct meta_device *d, void *arg), void *arg)
{
	return m->ops->device_list(m, principal_id, fn, arg);
}

int
meta_device_revoke(struct meta *m, int64_t id, int64_t now_ns)
{
	return m->ops->device_revoke(m, id, now_ns);
}

int
meta_consent_add(struct meta *m, const struct meta_consent *c)
{
	return m->ops->consent_add(m, c);
}

int
meta_consent_get(struct meta *m, int64_t device_id,
    const uint8_t consent_id[META_ID_LEN], struct meta_consent *out)
{
	return m->ops->consent_get(m, device_id, consent_id, out);
}

int
meta_consent_withdraw(struct meta *m, int64_t device_id,
    const uint8_t consent_id[META_ID_LEN], int64_t when_ns)
{
	return m->ops->consent_withdraw(m, device_id, consent_id, when_ns);
}

int
meta_consent_withdraw_subject(struct meta *m, const uint8_t subject[META_ID_LEN],
    int64_t when_ns)
{
	return m->ops->consent_withdraw_subject(m, subject, when_ns);
}

int
meta_segment_put(struct meta *m, const struct meta_segment *s)
{
	return m->ops->segment_put(m, s);
}

int
meta_segment_get(struct meta *m, const uint8_t id[META_ID_LEN],
    struct meta_segment *out)
{
	return m->ops->segment_get(m, id, out);
}

int
meta_segment_list(struct meta *m, const uint8_t subject[META_ID_LEN],
    int32_t day, int (*fn)(const struct meta_segment *s, void *arg), void *arg)
{
	return m->ops->segment_list(m, subject, day, fn, arg);
}

const char *
meta_review_state_name(int state)
{
	switch (state) {
	case META_REVIEW_PENDING: return "pending";
	case META_REVIEW_APPROVED: return "approved";
	case META_REVIEW_REJECTED: return "rejected";
	case META_REVIEW_WITHDRAWN: return "withdrawn";
	default: return "?";
	}
}

int
meta_assignment_add(struct meta *m, const struct meta_assignment *a)
{
	return m->ops->assignment_add(m, a);
}

int
meta_assignment_get(struct meta *m, const uint8_t id[META_ID_LEN],
    struct meta_assignment *out)
{
	return m->ops->assignment_get(m, id, out);
}

int
meta_assignment_list(struct meta *m, int64_t reviewer_id,
    int (*fn)(const struct meta_assignment *a, void *arg), void *arg)
{
	return m->ops->assignment_list(m, reviewer_id, fn, arg);
}

int
meta_assignment_decide(struct meta *m, const uint8_t id[META_ID_LEN],
    int state, int64_t when_ns, const char *reason)
{
	if (state != META_REVIEW_APPROVED && state != META_REVIEW_REJECTED)
		return UT_EINVAL;
	return m->ops->assignment_decide(m, id, state, when_ns,
	    reason != NULL ? reason : "");
}

int
meta_assignment_withdraw_segment(struct meta *m,
    const uint8_t segment[META_ID_LEN], int64_t when_ns)
{
	return m->ops->assignment_withdraw_segment(m, segment, when_ns);
}

int
meta_segment_delete(struct meta *m, const uint8_t id[META_ID_LEN])
{
	return m->ops->segment_delete(m, id);
}

int
meta_subject_days(struct meta *m,
    int (*fn)(const uint8_t subject[META_ID_LEN], int32_t day, void *arg), void *arg)
{
	return m->ops->subject_days(m, fn, arg);
}

int
meta_tombstone_add(struct meta *m, const uint8_t subject[META_ID_LEN],
    int32_t day, int64_t now_ns)
{
	return m->ops->tombstone_add(m, subject, day, now_ns);
}

bool
meta_tombstoned(struct meta *m, const uint8_t subject[META_ID_LEN], int32_t day)
{
	return m->ops->tombstoned(m, subject, day);
}

int
meta_tombstone_list(struct meta *m,
    int (*fn)(const uint8_t subject[META_ID_LEN], int32_t day, int64_t when, void *arg),
    void *arg)
{
	return m->ops->tombstone_list(m, fn, arg);
}

int
meta_audit_append(struct meta *m, const struct meta_audit_row *rows, size_t n)
{
	return m->ops->audit_append(m, rows, n);
}

int
meta_audit_last(struct meta *m, struct meta_audit_row *out)
{
	return m->ops->audit_last(m, out);
}

int
meta_audit_scan(struct meta *m, uint64_t from_seq, uint64_t to_seq,
    int (*fn)(const struct meta_audit_row *r, void *arg), void *arg)
{
	return m->ops->audit_scan(m, from_seq, to_seq, fn, arg);
}

int
meta_audit_query(struct meta *m, const struct meta_audit_query *q,
    int (*fn)(const struct meta_audit_row *r, void *arg), void *arg)
{
	return m->ops->audit_query(m, q, fn, arg);
}

int
meta_audit_ckpt_add(struct meta *m, const struct meta_audit_ckpt *c)
{
	return m->ops->audit_ckpt_add(m, c);
}

int
meta_audit_ckpt_list(struct meta *m,
    int (*fn)(const struct meta_audit_ckpt *c, void *arg), void *arg)
{
	return m->ops->audit_ckpt_list(m, fn, arg);
}

int
meta_setting_set(struct meta *m, const char *key, const void *val, size_t n)
{
	return m->ops->setting_set(m, key, val, n);
}

int
meta_setting_get(struct meta *m, const char *key, void *val, size_t *len)
{
	return m->ops->setting_get(m, key, val, len);
}

int
meta_org_pause_start(struct meta *m, int64_t now_ns, int64_t until_ns,
    const char *who, struct meta_org_pause *out)
{
	return m->ops->org_pause_start(m, now_ns, until_ns, who, out);
}

int
meta_org_pause_end(struct meta *m, int64_t now_ns, const char *who)
{
	return m->ops->org_pause_end(m, now_ns, who);
}

int
meta_org_pause_last(struct meta *m, struct meta_org_pause *out)
{
	return m->ops->org_pause_last(m, out);
}

int
meta_org_pause_covering(struct meta *m, int64_t start_ns, int64_t end_ns,
    int64_t grace_ns, struct meta_org_pause *out)
{
	return m->ops->org_pause_covering(m, start_ns, end_ns, grace_ns, out);
}

int
meta_policy_add(struct meta *m, const struct meta_policy *p, int64_t *version)
{
	return m->ops->policy_add(m, p, version);
}

int
meta_policy_get(struct meta *m, int64_t version, struct meta_policy *out)
{
	return m->ops->policy_get(m, version, out);
}

void
meta_policy_clear(struct meta_policy *p)
{
	if (p == NULL)
		return;
	free(p->yaml);
	p->yaml = NULL;
	p->yaml_len = 0;
}

int
meta_policy_list(struct meta *m,
    int (*fn)(const struct meta_policy *p, void *arg), void *arg)
{
	return m->ops->policy_list(m, fn, arg);
}

int
meta_ack_put(struct meta *m, const struct meta_ack *a, size_t n)
{
	return m->ops->ack_put(m, a, n);
}

int
meta_ack_count(struct meta *m, uint64_t state_version, uint64_t *acks,
    uint64_t *devices)
{
	return m->ops->ack_count(m, state_version, acks, devices);
}

int
meta_ack_get(struct meta *m, int64_t device_id, struct meta_ack *out)
{
	return m->ops->ack_get(m, device_id, out);
}

int
meta_consent_list(struct meta *m, const uint8_t subject[META_ID_LEN],
    int (*fn)(const struct meta_consent *c, void *arg), void *arg)
{
	return m->ops->consent_list(m, subject, fn, arg);
}

int
meta_control_subject(struct meta *m, const uint8_t subject[META_ID_LEN],
    int64_t *withdrawn_ns, int64_t *erased_all_ns)
{
	return m->ops->control_subject(m, subject, withdrawn_ns, erased_all_ns);
}
