/*
 * test_meta.c - the metadata store (meta.h), written once against the
 * interface: every case gets its store from store_url(), so a second
 * implementation (postgres:) runs the same cases with its own URL.  Only
 * the cases named *_sqlite_* look beneath the interface.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "t.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/meta.h"

static char url_buf[512];
static char dir_buf[256];

/* Temporary directories made by store_url(), removed at exit. */
static char made_dirs[256][256];
static unsigned n_made;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
rm_made_dirs(void)
{
	unsigned i;

	for (i = 0; i < n_made; i++)
		nftw(made_dirs[i], rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
remember_dir(const char *d)
{
	if (n_made == 0)
		atexit(rm_made_dirs);
	if (n_made < sizeof(made_dirs) / sizeof(made_dirs[0]))
		snprintf(made_dirs[n_made++], sizeof(made_dirs[0]), "%s", d);
}

/* A fresh, empty store's URL (the one place that names an implementation). */
static const char *
store_url(void)
{
	snprintf(dir_buf, sizeof(dir_buf), "/tmp/ut-meta-XXXXXX");
	if (mkdtemp(dir_buf) == NULL)
		abort();
	remember_dir(dir_buf);
	snprintf(url_buf, sizeof(url_buf), "sqlite:%s/meta.db", dir_buf);
	return url_buf;
}

static struct meta *
fresh(void)
{
	struct meta *m = NULL;

	T_ASSERT_EQ(meta_open(store_url(), true, &m), 0);
	return m;
}

static struct meta *
reopen(struct meta *m)
{
	struct meta *n = NULL;

	meta_close(m);
	T_ASSERT_EQ(meta_open(url_buf, false, &n), 0);
	return n;
}

static void
fill(uint8_t *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

static int64_t
add_principal(struct meta *m, const char *name, enum ut_role role, uint8_t subj)
{
	struct meta_principal p;
	int64_t id = 0;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.role = role;
	if (role == UT_ROLE_SUBJECT)
		fill(p.subject_id, META_ID_LEN, subj);
	p.created_ns = 1000;
	T_ASSERT_EQ(meta_principal_add(m, &p, &id), 0);
	T_ASSERT(id > 0);
	return id;
}

static int64_t
add_device(struct meta *m, int64_t principal, uint8_t pkbyte, uint8_t subj)
{
	struct meta_device d;
	int64_t id = 0;

	memset(&d, 0, sizeof(d));
	fill(d.pk, sizeof(d.pk), pkbyte);
	d.principal_id = principal;
	fill(d.subject_id, META_ID_LEN, subj);
	d.enrolled_ns = 2000;
	T_ASSERT_EQ(meta_device_add(m, &d, &id), 0);
	return id;
}

static void
add_token(struct meta *m, uint8_t hb, int64_t principal, int64_t device, int64_t exp)
{
	struct meta_token t;

	memset(&t, 0, sizeof(t));
	fill(t.hash, META_HASH_LEN, hb);
	t.principal_id = principal;
	t.device_id = device;
	t.expires_ns = exp;
	T_ASSERT_EQ(meta_token_add(m, &t), 0);
}

static int
lookup(struct meta *m, uint8_t hb, int64_t now, struct meta_token *out)
{
	uint8_t h[META_HASH_LEN];
	struct meta_token t;
	int r;

	fill(h, sizeof(h), hb);
	r = meta_token_lookup(m, h, now, out ? out : &t);
	return r;
}

static void
test_meta_roles(void)
{
	T_ASSERT_STREQ(ut_role_name(UT_ROLE_AUDITOR), "auditor");
	T_ASSERT_EQ(ut_role_parse("reviewer"), UT_ROLE_REVIEWER);
	T_ASSERT_EQ(ut_role_parse("subject"), UT_ROLE_SUBJECT);
	T_ASSERT_EQ(ut_role_parse("root"), UT_ROLE_NONE);
	T_ASSERT_EQ(ut_role_parse(NULL), UT_ROLE_NONE);
	T_ASSERT_STREQ(ut_role_name((enum ut_role)99), "none");
}

static void
test_meta_open_errors(void)
{
	struct meta *m = NULL;
	char path[600];
	FILE *f;

	T_ASSERT_EQ(meta_open("nosuch:/x", true, &m), UT_EINVAL);
	T_ASSERT_EQ(meta_open("postgres://localhost/ut", true, &m), UT_EINVAL);
	store_url();
	T_ASSERT_EQ(meta_open(url_buf, false, &m), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_open_readonly(url_buf, &m), UT_ENOTFOUND);
	T_ASSERT(m == NULL);
	/* Not a database at all. */
	snprintf(path, sizeof(path), "%s/meta.db", dir_buf);
	f = fopen(path, "w");
	T_ASSERT(f != NULL);
	fputs("this is not an sqlite database, it is just some text ......"
	    "..........................................................", f);
	fclose(f);
	T_ASSERT_EQ(meta_open(url_buf, true, &m), UT_ECORRUPT);
	T_ASSERT(m == NULL);
}

/* Beneath the interface: another application's database, a future schema. */
static void
test_meta_sqlite_foreign_schema(void)
{
	struct meta *m = NULL;
	sqlite3 *db;
	char path[600];

	store_url();
	snprintf(path, sizeof(path), "%s/meta.db", dir_buf);
	T_ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	T_ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE x(a)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	T_ASSERT_EQ(meta_open(url_buf, true, &m), UT_ECORRUPT);

	m = fresh();
	meta_close(m);
	snprintf(path, sizeof(path), "%s/meta.db", dir_buf);
	T_ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	T_ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	m = NULL;
	T_ASSERT_EQ(meta_open(url_buf, false, &m), UT_ECORRUPT);
	T_ASSERT_EQ(meta_open_readonly(url_buf, &m), UT_ECORRUPT);
	T_ASSERT(m == NULL);
}

struct acount {
	int n;
	struct meta_assignment last;
};

static int
count_assignment(const struct meta_assignment *a, void *arg)
{
	struct acount *c = arg;

	c->n++;
	c->last = *a;
	return 0;
}

/* Review assignments, and the migration of a schema-1 store that lacks them. */
static void
test_meta_assignments(void)
{
	struct meta *m = fresh();
	struct meta_assignment a, b, got;
	struct acount c;
	int64_t rev, rev2, admin;
	sqlite3 *db;
	char path[600];
	int i;

	rev = add_principal(m, "rita", UT_ROLE_REVIEWER, 0);
	rev2 = add_principal(m, "ron", UT_ROLE_REVIEWER, 0);
	admin = add_principal(m, "adm", UT_ROLE_ADMIN, 0);
	memset(&a, 0, sizeof(a));
	fill(a.id, META_ID_LEN, 0xa1);
	fill(a.segment_id, META_ID_LEN, 0x51);
	fill(a.subject_id, META_ID_LEN, 0x77);
	a.reviewer_id = rev;
	a.assigned_by = admin;
	a.assigned_ns = 5000;
	T_ASSERT_EQ(meta_assignment_add(m, &a), 0);
	T_ASSERT_EQ(meta_assignment_add(m, &a), -EEXIST);   /* same id */
	b = a;
	fill(b.id, META_ID_LEN, 0xa2);
	T_ASSERT_EQ(meta_assignment_add(m, &b), -EEXIST);   /* same segment, reviewer */
	b.reviewer_id = rev2;
	T_ASSERT_EQ(meta_assignment_add(m, &b), 0);
	b.reviewer_id = 9999;
	fill(b.id, META_ID_LEN, 0xa3);
	fill(b.segment_id, META_ID_LEN, 0x52);
	T_ASSERT(meta_assignment_add(m, &b) < 0);          /* no such principal */
	T_ASSERT_EQ(meta_assignment_get(m, a.id, &got), 0);
	T_ASSERT_EQ(got.state, META_REVIEW_PENDING);
	T_ASSERT_EQ(got.reviewer_id, rev);
	T_ASSERT_EQ(got.assigned_ns, 5000);
	T_ASSERT(memcmp(got.segment_id, a.segment_id, META_ID_LEN) == 0);
	T_ASSERT(memcmp(got.subject_id, a.subject_id, META_ID_LEN) == 0);
	fill(b.id, META_ID_LEN, 0xee);
	T_ASSERT_EQ(meta_assignment_get(m, b.id, &got), UT_ENOTFOUND);
	/* Lists: by reviewer, and everyone's (across pages). */
	memset(&c, 0, sizeof(c));
	T_ASSERT_EQ(meta_assignment_list(m, rev, count_assignment, &c), 0);
	T_ASSERT_EQ(c.n, 1);
	T_ASSERT(memcmp(c.last.id, a.id, META_ID_LEN) == 0);
	for (i = 0; i < 150; i++) {
		b = a;
		b.id[0] = (uint8_t)i;
		b.id[1] = 0x33;
		b.segment_id[0] = (uint8_t)i;
		b.segment_id[1] = 0x33;
		T_ASSERT_EQ(meta_assignment_add(m, &b), 0);
	}
	memset(&c, 0, sizeof(c));
	T_ASSERT_EQ(meta_assignment_list(m, 0, count_assignment, &c), 0);
	T_ASSERT_EQ(c.n, 152);
	T_ASSERT_EQ(c.last.id[0], 149);
	memset(&c, 0, sizeof(c));
	T_ASSERT_EQ(meta_assignment_list(m, rev2, count_assignment, &c), 0);
	T_ASSERT_EQ(c.n, 1);
	/* Decisions: only from pending; withdrawal from pending or approved. */
	T_ASSERT_EQ(meta_assignment_decide(m, a.id, META_REVIEW_WITHDRAWN, 6000, ""),
	    UT_EINVAL);
	T_ASSERT_EQ(meta_assignment_decide(m, a.id, META_REVIEW_REJECTED, 6000,
	    "blurry"), 0);
	T_ASSERT_EQ(meta_assignment_decide(m, a.id, META_REVIEW_APPROVED, 6001, NULL),
	    UT_ESTATE);
	T_ASSERT_EQ(meta_assignment_get(m, a.id, &got), 0);
	T_ASSERT_EQ(got.state, META_REVIEW_REJECTED);
	T_ASSERT_STREQ(got.reason, "blurry");
	T_ASSERT_EQ(got.decided_ns, 6000);
	fill(b.id, META_ID_LEN, 0xee);
	T_ASSERT_EQ(meta_assignment_decide(m, b.id, META_REVIEW_APPROVED, 1, NULL),
	    UT_ENOTFOUND);
	fill(b.id, META_ID_LEN, 0xa2);
	T_ASSERT_EQ(meta_assignment_decide(m, b.id, META_REVIEW_APPROVED, 6002, NULL), 0);
	/* The subject withdraws segment 0x51: ron's approved one changes, rita's
	 * rejected one stays rejected. */
	T_ASSERT_EQ(meta_assignment_withdraw_segment(m, a.segment_id, 7000), 1);
	T_ASSERT_EQ(meta_assignment_get(m, b.id, &got), 0);
	T_ASSERT_EQ(got.state, META_REVIEW_WITHDRAWN);
	T_ASSERT_EQ(meta_assignment_get(m, a.id, &got), 0);
	T_ASSERT_EQ(got.state, META_REVIEW_REJECTED);
	T_ASSERT_EQ(meta_assignment_withdraw_segment(m, a.segment_id, 7001), 0);
	T_ASSERT_STREQ(meta_review_state_name(META_REVIEW_APPROVED), "approved");
	m = reopen(m);
	T_ASSERT_EQ(meta_assignment_get(m, b.id, &got), 0);
	T_ASSERT_EQ(got.state, META_REVIEW_WITHDRAWN);
	meta_close(m);

	/* A schema-1 store (no assignment table) is migrated when opened for
	 * writing; a read-only open takes it as it is. */
	snprintf(path, sizeof(path), "%s/meta.db", dir_buf);
	T_ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	T_ASSERT_EQ(sqlite3_exec(db, "DROP TABLE assignment; DROP TABLE org_pause;"
	    " DROP TABLE policy_version; DROP TABLE device_ack; PRAGMA user_version=1",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	m = NULL;
	T_ASSERT_EQ(meta_open_readonly(url_buf, &m), 0);
	meta_close(m);
	m = NULL;
	T_ASSERT_EQ(meta_open(url_buf, false, &m), 0);
	T_ASSERT_EQ(meta_assignment_get(m, a.id, &got), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_assignment_add(m, &a), 0);
	meta_close(m);
}

static int
count_principal(const struct meta_principal *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

struct reenter { struct meta *m; int n; };

/* Calls back into the store from inside a walk (no deadlock). */
static int
reenter_principal(const struct meta_principal *p, void *arg)
{
	struct reenter *r = arg;
	struct meta_principal q;

	if (meta_principal_get(r->m, p->id, &q) != 0 || q.id != p->id)
		return -1;
	r->n++;
	return r->n == 70 ? 7 : 0;
}

static void
test_meta_principals(void)
{
	struct meta *m = fresh();
	struct meta_principal p, q;
	struct reenter re = { m, 0 };
	uint8_t subj[META_ID_LEN];
	char name[32];
	int64_t a, b, id;
	int n = 0, i;

	a = add_principal(m, "alice", UT_ROLE_SUBJECT, 0xa1);
	b = add_principal(m, "bob", UT_ROLE_ADMIN, 0);
	T_ASSERT(a != b);
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "alice");
	p.role = UT_ROLE_REVIEWER;
	T_ASSERT_EQ(meta_principal_add(m, &p, &id), -EEXIST);
	p.name[0] = '\0';
	T_ASSERT_EQ(meta_principal_add(m, &p, &id), UT_EINVAL);

	T_ASSERT_EQ(meta_principal_get(m, a, &q), 0);
	T_ASSERT_STREQ(q.name, "alice");
	T_ASSERT_EQ(q.role, UT_ROLE_SUBJECT);
	T_ASSERT_EQ(q.created_ns, 1000);
	T_ASSERT_EQ(q.revoked_ns, 0);
	T_ASSERT_EQ(meta_principal_by_name(m, "bob", &q), 0);
	T_ASSERT_EQ(q.id, b);
	T_ASSERT_EQ(meta_principal_by_name(m, "carol", &q), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_principal_get(m, 999, &q), UT_ENOTFOUND);
	fill(subj, sizeof(subj), 0xa1);
	T_ASSERT_EQ(meta_principal_by_subject(m, subj, &q), 0);
	T_ASSERT_EQ(q.id, a);
	T_ASSERT(memcmp(q.subject_id, subj, META_ID_LEN) == 0);
	fill(subj, sizeof(subj), 0xa2);
	T_ASSERT_EQ(meta_principal_by_subject(m, subj, &q), UT_ENOTFOUND);

	/* More than a page, to walk several pages. */
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "p%03d", i);
		add_principal(m, name, UT_ROLE_TRAINER, 0);
	}
	T_ASSERT_EQ(meta_principal_list(m, count_principal, &n), 0);
	T_ASSERT_EQ(n, 152);
	T_ASSERT_EQ(meta_principal_list(m, reenter_principal, &re), 7);
	T_ASSERT_EQ(re.n, 70);

	T_ASSERT_EQ(meta_principal_revoke(m, b, 5000), 0);
	T_ASSERT_EQ(meta_principal_revoke(m, b, 6000), 0);
	T_ASSERT_EQ(meta_principal_get(m, b, &q), 0);
	T_ASSERT_EQ(q.revoked_ns, 5000);
	T_ASSERT_EQ(meta_principal_revoke(m, 4242, 5000), UT_ENOTFOUND);
	meta_close(m);
}

static void
test_meta_tokens(void)
{
	struct meta *m = fresh();
	struct meta_token t;
	uint8_t h[META_HASH_LEN];
	int64_t a, b, dev;

	a = add_principal(m, "alice", UT_ROLE_SUBJECT, 1);
	b = add_principal(m, "bob", UT_ROLE_REVIEWER, 0);
	dev = add_device(m, a, 0x11, 1);
	add_token(m, 0x01, a, 0, 10000);
	add_token(m, 0x02, a, dev, 10000);
	add_token(m, 0x03, b, 0, 10000);
	add_token(m, 0x04, b, 0, 10000);
	memset(&t, 0, sizeof(t));
	fill(t.hash, META_HASH_LEN, 0x01);
	t.principal_id = b;
	T_ASSERT_EQ(meta_token_add(m, &t), -EEXIST);
	fill(t.hash, META_HASH_LEN, 0x09);
	t.principal_id = 777;
	T_ASSERT_EQ(meta_token_add(m, &t), UT_ENOTFOUND);     /* no such principal */

	T_ASSERT_EQ(lookup(m, 0x01, 5000, &t), 0);
	T_ASSERT_EQ(t.principal_id, a);
	T_ASSERT_EQ(t.device_id, 0);
	T_ASSERT_EQ(t.expires_ns, 10000);
	T_ASSERT_EQ(lookup(m, 0x02, 5000, &t), 0);
	T_ASSERT_EQ(t.device_id, dev);
	T_ASSERT_EQ(lookup(m, 0x05, 5000, &t), UT_ENOTFOUND);
	/* Expiry: expires_ns <= now is expired. */
	T_ASSERT_EQ(lookup(m, 0x01, 9999, NULL), 0);
	T_ASSERT_EQ(lookup(m, 0x01, 10000, NULL), UT_ENOTFOUND);

	/* Revoking one token. */
	fill(h, sizeof(h), 0x03);
	T_ASSERT_EQ(meta_token_revoke(m, h, 6000), 0);
	T_ASSERT_EQ(meta_token_revoke(m, h, 7000), 0);
	T_ASSERT_EQ(lookup(m, 0x03, 5000, NULL), UT_ENOTFOUND);
	T_ASSERT_EQ(lookup(m, 0x04, 5000, NULL), 0);
	fill(h, sizeof(h), 0x66);
	T_ASSERT_EQ(meta_token_revoke(m, h, 6000), UT_ENOTFOUND);

	/* Revoking a principal revokes its tokens and its devices' tokens. */
	T_ASSERT_EQ(meta_principal_revoke(m, a, 6000), 0);
	T_ASSERT_EQ(lookup(m, 0x01, 5000, NULL), UT_ENOTFOUND);
	T_ASSERT_EQ(lookup(m, 0x02, 5000, NULL), UT_ENOTFOUND);
	T_ASSERT_EQ(lookup(m, 0x04, 5000, NULL), 0);
	m = reopen(m);
	T_ASSERT_EQ(lookup(m, 0x02, 5000, NULL), UT_ENOTFOUND);
	T_ASSERT_EQ(lookup(m, 0x04, 5000, NULL), 0);
	meta_close(m);
}

static void
test_meta_devices(void)
{
	struct meta *m = fresh();
	struct meta_device d;
	uint8_t pk[32];
	int64_t a, b, d1, d2, d3, id;
	int n = 0;

	a = add_principal(m, "alice", UT_ROLE_SUBJECT, 1);
	b = add_principal(m, "bob", UT_ROLE_SUBJECT, 2);
	d1 = add_device(m, a, 0x11, 1);
	d2 = add_device(m, a, 0x12, 1);
	d3 = add_device(m, b, 0x13, 2);
	memset(&d, 0, sizeof(d));
	fill(d.pk, sizeof(d.pk), 0x11);
	d.principal_id = b;
	T_ASSERT_EQ(meta_device_add(m, &d, &id), -EEXIST);
	T_ASSERT_EQ(meta_device_get(m, d2, &d), 0);
	T_ASSERT_EQ(d.principal_id, a);
	T_ASSERT_EQ(d.pk[0], 0x12);
	T_ASSERT_EQ(d.enrolled_ns, 2000);
	T_ASSERT_EQ(d.subject_id[3], 1);
	fill(pk, sizeof(pk), 0x13);
	T_ASSERT_EQ(meta_device_by_pk(m, pk, &d), 0);
	T_ASSERT_EQ(d.id, d3);
	fill(pk, sizeof(pk), 0x14);
	T_ASSERT_EQ(meta_device_by_pk(m, pk, &d), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_device_get(m, 999, &d), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_device_list(m, a, (int (*)(const struct meta_device *,
	    void *))count_principal, &n), 0);
	T_ASSERT_EQ(n, 2);

	add_token(m, 0x21, a, d1, 10000);
	add_token(m, 0x22, a, d2, 10000);
	add_token(m, 0x23, a, 0, 10000);
	T_ASSERT_EQ(meta_device_revoke(m, d1, 3000), 0);
	T_ASSERT_EQ(meta_device_get(m, d1, &d), 0);
	T_ASSERT_EQ(d.revoked_ns, 3000);
	T_ASSERT_EQ(lookup(m, 0x21, 100, NULL), UT_ENOTFOUND);
	T_ASSERT_EQ(lookup(m, 0x22, 100, NULL), 0);
	T_ASSERT_EQ(lookup(m, 0x23, 100, NULL), 0);
	T_ASSERT_EQ(meta_device_revoke(m, 999, 3000), UT_ENOTFOUND);
	meta_close(m);
}

static void
make_code(struct meta_code *c, enum meta_code_kind kind, uint8_t idb, uint8_t sec,
    int64_t principal, int64_t expires)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	fill(c->id, META_CODE_ID_LEN, idb);
	fill(c->hash, META_HASH_LEN, sec);
	c->principal_id = principal;
	c->created_by = principal;
	c->created_ns = 100;
	c->expires_ns = expires;
}

static void
test_meta_codes(void)
{
	struct meta *m = fresh();
	struct meta_code c, out;
	uint8_t id[META_CODE_ID_LEN], good[META_HASH_LEN], bad[META_HASH_LEN];
	int64_t a;
	unsigned i;

	a = add_principal(m, "alice", UT_ROLE_SUBJECT, 1);
	fill(good, sizeof(good), 0x5a);
	fill(bad, sizeof(bad), 0x5b);
	make_code(&c, META_CODE_CLAIM, 1, 0x5a, a, 10000);
	T_ASSERT_EQ(meta_code_add(m, &c), 0);
	T_ASSERT_EQ(meta_code_add(m, &c), -EEXIST);
	c.kind = META_CODE_ENROLL;                  /* same id, other kind */
	T_ASSERT_EQ(meta_code_add(m, &c), 0);
	c.kind = (enum meta_code_kind)9;
	T_ASSERT_EQ(meta_code_add(m, &c), UT_EINVAL);

	/* Right secret once; then UT_ESTATE with when and where. */
	fill(id, sizeof(id), 1);
	memset(&out, 0, sizeof(out));
	T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, good, "10.0.0.1", 500, &out), 0);
	T_ASSERT_EQ(out.used_ns, 500);
	T_ASSERT_STREQ(out.used_source, "10.0.0.1");
	T_ASSERT_EQ(out.principal_id, a);
	memset(&out, 0, sizeof(out));
	T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, good, "10.0.0.2", 600, &out),
	    UT_ESTATE);
	T_ASSERT_EQ(out.used_ns, 500);
	T_ASSERT_STREQ(out.used_source, "10.0.0.1");

	/* Wrong secret: counted; after the maximum even the right one fails. */
	for (i = 0; i < META_CODE_MAX_ATTEMPTS; i++)
		T_ASSERT_EQ(meta_code_take(m, META_CODE_ENROLL, id, bad, "x", 500, &out),
		    UT_EDENIED);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_ENROLL, id, good, "x", 500, &out),
	    UT_EDENIED);
	m = reopen(m);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_ENROLL, id, good, "x", 500, &out),
	    UT_EDENIED);

	/* Fewer wrong tries than the maximum still allow the right one. */
	make_code(&c, META_CODE_CLAIM, 2, 0x5a, a, 10000);
	T_ASSERT_EQ(meta_code_add(m, &c), 0);
	fill(id, sizeof(id), 2);
	for (i = 0; i + 1 < META_CODE_MAX_ATTEMPTS; i++)
		T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, bad, "x", 500, &out),
		    UT_EDENIED);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, good, "y", 500, &out), 0);
	T_ASSERT_EQ(out.attempts, META_CODE_MAX_ATTEMPTS - 1);

	/* Expired, absent. */
	make_code(&c, META_CODE_CLAIM, 3, 0x5a, a, 1000);
	T_ASSERT_EQ(meta_code_add(m, &c), 0);
	fill(id, sizeof(id), 3);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, good, "x", 1000, &out),
	    UT_ENOTFOUND);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_ENROLL, id, good, "x", 10, &out),
	    UT_ENOTFOUND);
	fill(id, sizeof(id), 4);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, good, "x", 10, &out),
	    UT_ENOTFOUND);

	/* Revoking the principal voids its unused codes. */
	make_code(&c, META_CODE_CLAIM, 5, 0x5a, a, 10000);
	T_ASSERT_EQ(meta_code_add(m, &c), 0);
	T_ASSERT_EQ(meta_principal_revoke(m, a, 700), 0);
	fill(id, sizeof(id), 5);
	T_ASSERT_EQ(meta_code_take(m, META_CODE_CLAIM, id, good, "x", 800, &out),
	    UT_ENOTFOUND);
	meta_close(m);
}

static void
test_meta_consents(void)
{
	struct meta *m = fresh();
	struct meta_consent c, out;
	uint8_t subj[META_ID_LEN], cid[META_ID_LEN];

	memset(&c, 0, sizeof(c));
	fill(c.consent_id, META_ID_LEN, 0xc1);
	c.device_id = 7;
	fill(c.subject_id, META_ID_LEN, 0x51);
	fill(c.policy_hash, META_HASH_LEN, 0x77);
	c.given_ns = 100;
	T_ASSERT_EQ(meta_consent_add(m, &c), 0);
	c.given_ns = 200;
	T_ASSERT_EQ(meta_consent_add(m, &c), 0);            /* no-op */
	fill(c.consent_id, META_ID_LEN, 0xc2);
	T_ASSERT_EQ(meta_consent_add(m, &c), 0);
	c.device_id = 8;
	T_ASSERT_EQ(meta_consent_add(m, &c), 0);

	fill(cid, sizeof(cid), 0xc1);
	T_ASSERT_EQ(meta_consent_get(m, 7, cid, &out), 0);
	T_ASSERT_EQ(out.given_ns, 100);
	T_ASSERT_EQ(out.withdrawn_ns, 0);
	T_ASSERT_EQ(out.policy_hash[5], 0x77);
	T_ASSERT_EQ(meta_consent_get(m, 8, cid, &out), UT_ENOTFOUND);

	T_ASSERT_EQ(meta_consent_withdraw(m, 7, cid, 300), 0);
	T_ASSERT_EQ(meta_consent_withdraw(m, 7, cid, 400), 0);
	T_ASSERT_EQ(meta_consent_get(m, 7, cid, &out), 0);
	T_ASSERT_EQ(out.withdrawn_ns, 300);
	T_ASSERT_EQ(meta_consent_withdraw(m, 8, cid, 300), UT_ENOTFOUND);

	fill(subj, sizeof(subj), 0x51);
	T_ASSERT_EQ(meta_consent_withdraw_subject(m, subj, 500), 0);
	fill(cid, sizeof(cid), 0xc2);
	T_ASSERT_EQ(meta_consent_get(m, 7, cid, &out), 0);
	T_ASSERT_EQ(out.withdrawn_ns, 500);
	T_ASSERT_EQ(meta_consent_get(m, 8, cid, &out), 0);
	T_ASSERT_EQ(out.withdrawn_ns, 500);
	fill(cid, sizeof(cid), 0xc1);
	T_ASSERT_EQ(meta_consent_get(m, 7, cid, &out), 0);
	T_ASSERT_EQ(out.withdrawn_ns, 300);
	meta_close(m);
}

static void
make_segment(struct meta_segment *s, uint8_t subj, unsigned n, int32_t day,
    int64_t start)
{
	memset(s, 0, sizeof(*s));
	fill(s->segment_id, META_ID_LEN, 0);
	s->segment_id[0] = subj;
	s->segment_id[1] = (uint8_t)(n >> 8);
	s->segment_id[2] = (uint8_t)n;
	fill(s->subject_id, META_ID_LEN, subj);
	s->device_id = 3;
	s->day = day;
	s->start_ns = start;
	s->end_ns = start + 10;
	s->size = 1u << 20;
	s->frames = 12;
	fill(s->upload_hash, META_HASH_LEN, 0x01);
	fill(s->blob_hash, META_HASH_LEN, 0x02);
	fill(s->policy_hash, META_HASH_LEN, 0x03);
	fill(s->consent_id, META_ID_LEN, 0x04);
	s->sensitivity_max = 3;
	s->wrapped_len = 72;
	fill(s->wrapped_key, s->wrapped_len, 0x05);
	s->summary_len = 1000;
	fill(s->summary, s->summary_len, 0x06);
	s->received_ns = start + 20;
	s->receipt_len = 150;
	fill(s->receipt, s->receipt_len, 0x07);
}

struct seglist { int n; int64_t last_start; int ordered; };

static int
seg_cb(const struct meta_segment *s, void *arg)
{
	struct seglist *l = arg;

	if (l->n > 0 && s->start_ns < l->last_start)
		l->ordered = 0;
	l->last_start = s->start_ns;
	l->n++;
	return 0;
}

struct daylist { int n; int32_t days[8]; };

static int
day_cb(const uint8_t *subject, int32_t day, void *arg)
{
	struct daylist *l = arg;

	(void)subject;
	if (l->n < 8)
		l->days[l->n] = day;
	l->n++;
	return 0;
}

static void
test_meta_segments(void)
{
	struct meta *m = fresh();
	struct meta_segment s, out;
	struct seglist l;
	struct daylist dl;
	uint8_t subj[META_ID_LEN];
	unsigned i;

	/* 150 segments on day 20000, starts out of order; 3 on 20001. */
	for (i = 0; i < 150; i++) {
		make_segment(&s, 0xaa, i, 20000, (int64_t)((i * 37) % 150) * 1000);
		T_ASSERT_EQ(meta_segment_put(m, &s), 0);
	}
	for (i = 150; i < 153; i++) {
		make_segment(&s, 0xaa, i, 20001, 1000000 + i);
		T_ASSERT_EQ(meta_segment_put(m, &s), 0);
	}
	make_segment(&s, 0xbb, 1, 20005, 5);
	T_ASSERT_EQ(meta_segment_put(m, &s), 0);
	T_ASSERT_EQ(meta_segment_put(m, &s), -EEXIST);
	s.summary_len = META_SUMMARY_MAX + 1;
	T_ASSERT_EQ(meta_segment_put(m, &s), UT_ETOOBIG);

	make_segment(&s, 0xaa, 151, 20001, 1000000 + 151);
	T_ASSERT_EQ(meta_segment_get(m, s.segment_id, &out), 0);
	T_ASSERT(memcmp(&s, &out, sizeof(s)) == 0);
	s.segment_id[5] = 9;
	T_ASSERT_EQ(meta_segment_get(m, s.segment_id, &out), UT_ENOTFOUND);

	fill(subj, sizeof(subj), 0xaa);
	memset(&l, 0, sizeof(l));
	l.ordered = 1;
	T_ASSERT_EQ(meta_segment_list(m, subj, 20000, seg_cb, &l), 0);
	T_ASSERT_EQ(l.n, 150);
	T_ASSERT(l.ordered);
	memset(&l, 0, sizeof(l));
	l.ordered = 1;
	T_ASSERT_EQ(meta_segment_list(m, subj, 20001, seg_cb, &l), 0);
	T_ASSERT_EQ(l.n, 3);
	memset(&l, 0, sizeof(l));
	l.ordered = 1;
	T_ASSERT_EQ(meta_segment_list(m, subj, INT32_MIN, seg_cb, &l), 0);
	T_ASSERT_EQ(l.n, 153);
	T_ASSERT(l.ordered);
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_segment_list(m, subj, 19999, seg_cb, &l), 0);
	T_ASSERT_EQ(l.n, 0);

	memset(&dl, 0, sizeof(dl));
	T_ASSERT_EQ(meta_subject_days(m, day_cb, &dl), 0);
	T_ASSERT_EQ(dl.n, 3);
	T_ASSERT_EQ(dl.days[0], 20000);
	T_ASSERT_EQ(dl.days[1], 20001);
	T_ASSERT_EQ(dl.days[2], 20005);

	make_segment(&s, 0xaa, 150, 20001, 0);
	T_ASSERT_EQ(meta_segment_delete(m, s.segment_id), 0);
	T_ASSERT_EQ(meta_segment_delete(m, s.segment_id), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_segment_get(m, s.segment_id, &out), UT_ENOTFOUND);
	meta_close(m);
}

struct tomblist { int n; int all; };

static int
tomb_cb(const uint8_t *subject, int32_t day, int64_t when, void *arg)
{
	struct tomblist *l = arg;

	(void)subject;
	(void)when;
	if (day == META_DAY_ALL)
		l->all++;
	l->n++;
	return 0;
}

static void
test_meta_tombstones(void)
{
	struct meta *m = fresh();
	uint8_t a[META_ID_LEN], b[META_ID_LEN];
	struct tomblist l = { 0, 0 };

	fill(a, sizeof(a), 0xa);
	fill(b, sizeof(b), 0xb);
	T_ASSERT(!meta_tombstoned(m, a, 20000));
	T_ASSERT_EQ(meta_tombstone_add(m, a, 20000, 5), 0);
	T_ASSERT_EQ(meta_tombstone_add(m, a, 20000, 6), 0);
	T_ASSERT(meta_tombstoned(m, a, 20000));
	T_ASSERT(!meta_tombstoned(m, a, 20001));
	T_ASSERT(!meta_tombstoned(m, b, 20000));
	T_ASSERT_EQ(meta_tombstone_add(m, b, META_DAY_ALL, 7), 0);
	T_ASSERT(meta_tombstoned(m, b, 20000));
	T_ASSERT(meta_tombstoned(m, b, 1));
	T_ASSERT(meta_tombstoned(m, b, META_DAY_ALL));
	T_ASSERT(!meta_tombstoned(m, a, META_DAY_ALL));
	T_ASSERT_EQ(meta_tombstone_list(m, tomb_cb, &l), 0);
	T_ASSERT_EQ(l.n, 2);
	T_ASSERT_EQ(l.all, 1);
	meta_close(m);
}

static void
make_row(struct meta_audit_row *r, uint64_t seq, const char *principal,
    const char *subject)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->time_ns = (int64_t)seq * 100;
	snprintf(r->principal, sizeof(r->principal), "%s", principal);
	snprintf(r->role, sizeof(r->role), "reviewer");
	snprintf(r->purpose, sizeof(r->purpose), "review");
	snprintf(r->action, sizeof(r->action), "segment.read");
	snprintf(r->subject, sizeof(r->subject), "%s", subject);
	snprintf(r->object, sizeof(r->object), "obj-%llu", (unsigned long long)seq);
	snprintf(r->outcome, sizeof(r->outcome), "ok");
	snprintf(r->source, sizeof(r->source), "10.0.0.9");
	fill(r->prev, META_HASH_LEN, (uint8_t)(seq - 1));
	fill(r->hash, META_HASH_LEN, (uint8_t)seq);
}

struct rowlist { int n; uint64_t first, last; int gap; };

static int
row_cb(const struct meta_audit_row *r, void *arg)
{
	struct rowlist *l = arg;

	if (l->n == 0)
		l->first = r->seq;
	else if (r->seq <= l->last)
		l->gap = 1;
	l->last = r->seq;
	l->n++;
	return 0;
}

static int
ckpt_cb(const struct meta_audit_ckpt *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

static void
test_meta_audit(void)
{
	struct meta *m = fresh();
	struct meta_audit_row rows[200], last;
	struct meta_audit_query q;
	struct meta_audit_ckpt c;
	struct rowlist l;
	unsigned i;
	int n = 0;

	T_ASSERT_EQ(meta_audit_last(m, &last), UT_ENOTFOUND);
	for (i = 0; i < 200; i++)
		make_row(&rows[i], i + 1, i % 2 ? "alice" : "bob",
		    i % 3 ? "" : "aabbcc");
	T_ASSERT_EQ(meta_audit_append(m, rows, 0), 0);
	T_ASSERT_EQ(meta_audit_append(m, rows, 1), 0);
	T_ASSERT_EQ(meta_audit_append(m, rows, 1), UT_ESTATE);  /* seq 1 again */
	T_ASSERT_EQ(meta_audit_append(m, rows + 2, 5), UT_ESTATE); /* gap */
	T_ASSERT_EQ(meta_audit_append(m, rows + 1, 199), 0);
	T_ASSERT_EQ(meta_audit_last(m, &last), 0);
	T_ASSERT(memcmp(&last, &rows[199], sizeof(last)) == 0);

	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_scan(m, 1, 0, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 200);
	T_ASSERT(!l.gap);
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_scan(m, 50, 120, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 71);
	T_ASSERT_EQ(l.first, 50);
	T_ASSERT_EQ(l.last, 120);
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_scan(m, 0, 0, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 200);

	memset(&q, 0, sizeof(q));
	q.principal = "alice";
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_query(m, &q, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 100);
	T_ASSERT(!l.gap);
	q.subject = "aabbcc";       /* odd i with i % 3 == 0: i = 3, 9, ... */
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_query(m, &q, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 33);
	q.principal = NULL;
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_query(m, &q, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 67);
	q.subject = NULL;
	q.since_ns = 1000;          /* seq 10 .. 20 */
	q.until_ns = 2000;
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_query(m, &q, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 11);
	T_ASSERT_EQ(l.first, 10);
	q.since_ns = q.until_ns = 0;
	q.limit = 70;
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_query(m, &q, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 70);
	T_ASSERT_EQ(l.last, 70);
	q.principal = "nobody";
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_query(m, &q, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, 0);

	memset(&c, 0, sizeof(c));
	c.seq = 100;
	c.time_ns = 10000;
	fill(c.head, META_HASH_LEN, 100);
	fill(c.sig, sizeof(c.sig), 0x99);
	T_ASSERT_EQ(meta_audit_ckpt_add(m, &c), 0);
	T_ASSERT_EQ(meta_audit_ckpt_add(m, &c), -EEXIST);
	c.seq = 200;
	T_ASSERT_EQ(meta_audit_ckpt_add(m, &c), 0);
	m = reopen(m);
	T_ASSERT_EQ(meta_audit_ckpt_list(m, ckpt_cb, &n), 0);
	T_ASSERT_EQ(n, 2);
	T_ASSERT_EQ(meta_audit_last(m, &last), 0);
	T_ASSERT_EQ(last.seq, 200);
	meta_close(m);
}

static void
test_meta_settings(void)
{
	struct meta *m = fresh();
	uint8_t big[META_SETTING_MAX + 1], val[16];
	size_t len;

	len = sizeof(val);
	T_ASSERT_EQ(meta_setting_get(m, "pause", val, &len), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_setting_set(m, "pause", "on", 2), 0);
	T_ASSERT_EQ(meta_setting_set(m, "pause", "until-5", 7), 0);
	len = sizeof(val);
	T_ASSERT_EQ(meta_setting_get(m, "pause", val, &len), 0);
	T_ASSERT_EQ(len, 7);
	T_ASSERT(memcmp(val, "until-5", 7) == 0);
	len = 3;
	T_ASSERT_EQ(meta_setting_get(m, "pause", val, &len), UT_ETOOBIG);
	T_ASSERT_EQ(len, 7);
	memset(big, 1, sizeof(big));
	T_ASSERT_EQ(meta_setting_set(m, "big", big, sizeof(big)), UT_ETOOBIG);
	T_ASSERT_EQ(meta_setting_set(m, "empty", NULL, 0), 0);
	len = sizeof(val);
	T_ASSERT_EQ(meta_setting_get(m, "empty", val, &len), 0);
	T_ASSERT_EQ(len, 0);
	meta_close(m);
}

#define THREADS 8
#define PER_THREAD 40

struct worker { struct meta *m; int idx; int errors; int64_t principal; };

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct meta_audit_row row, last;
	struct meta_token t;
	int i, r;

	for (i = 0; i < PER_THREAD; i++) {
		/* Optimistic append: UT_ESTATE when another thread got the seq. */
		for (;;) {
			r = meta_audit_last(w->m, &last);
			if (r == UT_ENOTFOUND)
				last.seq = 0;
			else if (r < 0)
				break;
			make_row(&row, last.seq + 1, "worker", "");
			r = meta_audit_append(w->m, &row, 1);
			if (r != UT_ESTATE)
				break;
		}
		if (r != 0)
			w->errors++;
		memset(&t, 0, sizeof(t));
		t.hash[0] = (uint8_t)w->idx;
		t.hash[1] = (uint8_t)i;
		t.principal_id = w->principal;
		t.expires_ns = 100000;
		if (meta_token_add(w->m, &t) != 0 ||
		    meta_token_lookup(w->m, t.hash, 5, &t) != 0)
			w->errors++;
	}
	return NULL;
}

static void
test_meta_concurrency(void)
{
	struct meta *m = fresh();
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct rowlist l;
	int64_t a;
	int i;

	a = add_principal(m, "alice", UT_ROLE_SUBJECT, 1);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ m, i, 0, a };
		T_ASSERT_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		T_ASSERT_EQ(w[i].errors, 0);
	}
	memset(&l, 0, sizeof(l));
	T_ASSERT_EQ(meta_audit_scan(m, 1, 0, row_cb, &l), 0);
	T_ASSERT_EQ(l.n, THREADS * PER_THREAD);
	T_ASSERT_EQ(l.first, 1);
	T_ASSERT_EQ(l.last, THREADS * PER_THREAD);
	T_ASSERT(!l.gap);
	meta_close(m);
}

static void
test_meta_reopen_readonly(void)
{
	struct meta *m = fresh(), *ro = NULL;
	struct meta_principal p;
	struct meta_audit_row row;
	int64_t a;

	a = add_principal(m, "alice", UT_ROLE_SUBJECT, 1);
	add_token(m, 0x31, a, 0, 10000);
	make_row(&row, 1, "alice", "");
	T_ASSERT_EQ(meta_audit_append(m, &row, 1), 0);
	m = reopen(m);
	T_ASSERT_EQ(meta_principal_by_name(m, "alice", &p), 0);
	T_ASSERT_EQ(p.id, a);
	T_ASSERT_EQ(lookup(m, 0x31, 1, NULL), 0);
	meta_close(m);

	T_ASSERT_EQ(meta_open_readonly(url_buf, &ro), 0);
	T_ASSERT_EQ(meta_principal_by_name(ro, "alice", &p), 0);
	T_ASSERT_EQ(meta_audit_last(ro, &row), 0);
	T_ASSERT_EQ(row.seq, 1);
	T_ASSERT(meta_principal_add(ro, &p, &a) < 0);
	meta_close(ro);
	meta_close(NULL);
}

/*
 * An fsync failure during the commit of meta_audit_append() is reported,
 * and the rows are not visible then, nor after a reopen (SQLite rolls the
 * transaction back; the WAL frames it wrote are past the last valid
 * commit the WAL index knows and are discarded at the clean close).  What
 * this does not promise: had the process crashed instead of closing, WAL
 * recovery may keep frames that reached the disk with a valid commit
 * record although the call failed; audit over-reports then, it never
 * loses a row whose append returned 0.
 */
static void
test_meta_audit_fsync_fault(void)
{
	struct meta *m = fresh();
	struct meta_audit_row row, last;
	int r;

	make_row(&row, 1, "alice", "");
	T_ASSERT_EQ(meta_audit_append(m, &row, 1), 0);
	make_row(&row, 2, "alice", "");
	fsio_fault_arm(FSIO_FSYNC, 1, FSIO_FAULT_EIO);
	r = meta_audit_append(m, &row, 1);
	fsio_fault_clear();
	T_ASSERT(r < 0);
	T_ASSERT_EQ(meta_audit_last(m, &last), 0);
	T_ASSERT_EQ(last.seq, 1);
	m = reopen(m);
	T_ASSERT_EQ(meta_audit_last(m, &last), 0);
	T_ASSERT_EQ(last.seq, 1);
	/* The store works on: the same row appends now. */
	T_ASSERT_EQ(meta_audit_append(m, &row, 1), 0);

	/* A write failure, too. */
	make_row(&row, 3, "alice", "");
	fsio_fault_arm(FSIO_WRITE, 1, FSIO_FAULT_ENOSPC);
	r = meta_audit_append(m, &row, 1);
	fsio_fault_clear();
	T_ASSERT(r < 0);
	T_ASSERT_EQ(meta_audit_last(m, &last), 0);
	T_ASSERT_EQ(last.seq, 2);
	m = reopen(m);
	T_ASSERT_EQ(meta_audit_last(m, &last), 0);
	T_ASSERT_EQ(last.seq, 2);
	meta_close(m);
}

/*
 * Crash (SIGKILL) at each write and fsync of an audit append in a child:
 * after reopening, the log is rows 1..k without a gap, and k is 1 or 3:
 * the batch of rows 2 and 3 is all or nothing, and row 1, acknowledged
 * before the fork, is always there.
 */
static void
test_meta_audit_crash(void)
{
	static const enum fsio_op ops[] = { FSIO_WRITE, FSIO_FSYNC };
	struct meta *m;
	struct meta_audit_row rows[3], last;
	struct rowlist l;
	unsigned o, nth, calls[2];
	pid_t pid;
	int st;

	/* Count the calls of a clean append. */
	m = fresh();
	make_row(&rows[0], 1, "a", "");
	make_row(&rows[1], 2, "a", "");
	make_row(&rows[2], 3, "a", "");
	T_ASSERT_EQ(meta_audit_append(m, rows, 1), 0);
	fsio_fault_clear();
	T_ASSERT_EQ(meta_audit_append(m, rows + 1, 2), 0);
	calls[0] = fsio_calls(FSIO_WRITE);
	calls[1] = fsio_calls(FSIO_FSYNC);
	meta_close(m);
	T_ASSERT(calls[0] > 0 && calls[1] > 0);

	for (o = 0; o < 2; o++) {
		for (nth = 1; nth <= calls[o]; nth++) {
			m = fresh();
			T_ASSERT_EQ(meta_audit_append(m, rows, 1), 0);
			fflush(NULL);
			pid = fork();
			T_ASSERT(pid >= 0);
			if (pid == 0) {
				fsio_fault_arm(ops[o], nth, FSIO_FAULT_CRASH);
				_exit(meta_audit_append(m, rows + 1, 2) == 0 ? 0 : 1);
			}
			T_ASSERT_EQ(waitpid(pid, &st, 0), pid);
			T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
			m = reopen(m);
			T_ASSERT_EQ(meta_audit_last(m, &last), 0);
			T_ASSERT(last.seq == 1 || last.seq == 3);
			memset(&l, 0, sizeof(l));
			T_ASSERT_EQ(meta_audit_scan(m, 1, 0, row_cb, &l), 0);
			T_ASSERT_EQ((uint64_t)l.n, last.seq);
			T_ASSERT(!l.gap);
			meta_close(m);
		}
	}
}

static int
count_policy(const struct meta_policy *p, void *arg)
{
	int *n = arg;

	T_ASSERT_EQ(p->version, (int64_t)(*n + 1));
	T_ASSERT(p->yaml == NULL);
	(*n)++;
	return 0;
}

/* Organisation control (issue 15): pauses, policy versions, acks; schema 2 -> 3. */
static void
test_meta_control(void)
{
	struct meta *m = fresh();
	struct meta_org_pause p, q;
	struct meta_policy pol, got;
	struct meta_device d;
	struct meta_ack a[2];
	uint64_t acks, devs;
	int64_t v, dev, w, e;
	sqlite3 *db;
	char path[600];
	int n = 0;

	T_ASSERT_EQ(meta_org_pause_last(m, &p), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_org_pause_start(m, 100, 100, "adm", &p), UT_EINVAL);
	T_ASSERT_EQ(meta_org_pause_start(m, 1000, 5000, "adm", &p), 0);
	T_ASSERT_EQ(p.since_ns, 1000);
	/* Pausing while paused moves until, same id. */
	T_ASSERT_EQ(meta_org_pause_start(m, 2000, 9000, "adm", &q), 0);
	T_ASSERT_EQ(q.id, p.id);
	T_ASSERT_EQ(q.until_ns, 9000);
	T_ASSERT_EQ(q.since_ns, 1000);
	/* Covering: start inside; start before and end > grace into it. */
	T_ASSERT_EQ(meta_org_pause_covering(m, 1500, 1600, 30, &q), 0);
	T_ASSERT_EQ(meta_org_pause_covering(m, 900, 1020, 30, &q), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_org_pause_covering(m, 900, 1040, 30, &q), 0);
	T_ASSERT_EQ(meta_org_pause_covering(m, 9000, 9500, 30, &q), UT_ENOTFOUND);
	/* Ended early: the interval ends then. */
	T_ASSERT_EQ(meta_org_pause_end(m, 3000, "adm"), 1);
	T_ASSERT_EQ(meta_org_pause_end(m, 3001, "adm"), 0);
	T_ASSERT_EQ(meta_org_pause_covering(m, 3500, 3600, 30, &q), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_org_pause_last(m, &q), 0);
	T_ASSERT_EQ(q.ended_ns, 3000);
	T_ASSERT_STREQ(q.ended_by, "adm");
	/* Expiry: ended at until by "expiry". */
	T_ASSERT_EQ(meta_org_pause_start(m, 10000, 11000, "adm", &p), 0);
	T_ASSERT(p.id != q.id);
	T_ASSERT_EQ(meta_org_pause_end(m, 12000, "adm"), 1);
	T_ASSERT_EQ(meta_org_pause_last(m, &q), 0);
	T_ASSERT_EQ(q.ended_ns, 11000);
	T_ASSERT_STREQ(q.ended_by, "expiry");

	memset(&pol, 0, sizeof(pol));
	T_ASSERT_EQ(meta_policy_get(m, 0, &got), UT_ENOTFOUND);
	pol.yaml = (char *)"version: 1\n";
	pol.yaml_len = strlen(pol.yaml);
	fill(pol.sha256, 32, 0x11);
	pol.published_ns = 42;
	snprintf(pol.published_by, sizeof(pol.published_by), "adm");
	T_ASSERT_EQ(meta_policy_add(m, &pol, &v), 0);
	T_ASSERT_EQ(v, 1);
	pol.yaml = (char *)"version: 2\n";
	T_ASSERT_EQ(meta_policy_add(m, &pol, &v), 0);
	T_ASSERT_EQ(v, 2);
	T_ASSERT_EQ(meta_policy_get(m, 0, &got), 0);
	T_ASSERT_EQ(got.version, 2);
	T_ASSERT_STREQ(got.yaml, "version: 2\n");
	meta_policy_clear(&got);
	T_ASSERT_EQ(meta_policy_get(m, 1, &got), 0);
	T_ASSERT_STREQ(got.yaml, "version: 1\n");
	meta_policy_clear(&got);
	T_ASSERT_EQ(meta_policy_get(m, 3, &got), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_policy_list(m, count_policy, &n), 0);
	T_ASSERT_EQ(n, 2);

	memset(&d, 0, sizeof(d));
	d.principal_id = add_principal(m, "alice", UT_ROLE_SUBJECT, 0x33);
	fill(d.pk, 32, 0x44);
	fill(d.subject_id, META_ID_LEN, 0x33);
	T_ASSERT_EQ(meta_device_add(m, &d, &dev), 0);
	memset(a, 0, sizeof(a));
	a[0].device_id = dev;
	a[0].state_version = 7;
	a[0].paused = true;
	a[1] = a[0];
	a[1].state_version = 5;      /* older: kept out */
	T_ASSERT_EQ(meta_ack_put(m, a, 2), 0);
	T_ASSERT_EQ(meta_ack_count(m, 7, &acks, &devs), 0);
	T_ASSERT_EQ(acks, 1u);
	T_ASSERT_EQ(devs, 1u);
	T_ASSERT_EQ(meta_ack_count(m, 8, &acks, &devs), 0);
	T_ASSERT_EQ(acks, 0u);
	T_ASSERT_EQ(meta_device_revoke(m, dev, 50), 0);
	T_ASSERT_EQ(meta_ack_count(m, 7, &acks, &devs), 0);
	T_ASSERT_EQ(acks, 0u);
	T_ASSERT_EQ(devs, 0u);
	T_ASSERT_EQ(meta_control_subject(m, d.subject_id, &w, &e), 0);
	T_ASSERT_EQ(w, 0);
	T_ASSERT_EQ(e, 0);
	T_ASSERT_EQ(meta_tombstone_add(m, d.subject_id, META_DAY_ALL, 77), 0);
	T_ASSERT_EQ(meta_control_subject(m, d.subject_id, &w, &e), 0);
	T_ASSERT_EQ(e, 77);
	meta_close(m);

	/* A schema-2 store gains the tables, keeping its rows. */
	snprintf(path, sizeof(path), "%s/meta.db", dir_buf);
	T_ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	T_ASSERT_EQ(sqlite3_exec(db, "DROP TABLE org_pause; DROP TABLE policy_version;"
	    " DROP TABLE device_ack; PRAGMA user_version=2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	m = NULL;
	T_ASSERT_EQ(meta_open(url_buf, false, &m), 0);
	T_ASSERT_EQ(meta_org_pause_last(m, &q), UT_ENOTFOUND);
	T_ASSERT_EQ(meta_device_get(m, dev, &d), 0);
	meta_close(m);
}

T_LIST(T_CASE(test_meta_roles), T_CASE(test_meta_open_errors),
    T_CASE(test_meta_sqlite_foreign_schema), T_CASE(test_meta_principals),
    T_CASE(test_meta_tokens), T_CASE(test_meta_devices), T_CASE(test_meta_codes),
    T_CASE(test_meta_consents), T_CASE(test_meta_segments),
    T_CASE(test_meta_assignments), T_CASE(test_meta_control),
    T_CASE(test_meta_tombstones), T_CASE(test_meta_audit),
    T_CASE(test_meta_settings), T_CASE(test_meta_concurrency),
    T_CASE(test_meta_reopen_readonly), T_CASE(test_meta_audit_fsync_fault),
    T_CASE(test_meta_audit_crash))
