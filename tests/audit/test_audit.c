/*
 * test_audit.c - the audit log (src/audit) over the real metadata store
 * ("sqlite:DIR/meta.db"): group commit under 16 threads, tampering done in
 * the SQLite file directly and caught by audit_verify(), the sticky FAILED
 * state, aggregation of unauthenticated failures, checkpoint cadence and
 * the checkpoint file.
 *
 * The binary is linked with -Wl,--wrap=meta_audit_append so that the test
 * counts the store transactions the committer makes.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "usetrace/audit.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "t.h"

/* ---- counting the store's audit transactions ---- */

static atomic_uint n_commits;

int __real_meta_audit_append(struct meta *m, const struct meta_audit_row *rows,
    size_t n);
int __wrap_meta_audit_append(struct meta *m, const struct meta_audit_row *rows,
    size_t n);

int
__wrap_meta_audit_append(struct meta *m, const struct meta_audit_row *rows, size_t n)
{
	atomic_fetch_add(&n_commits, 1);
	return __real_meta_audit_append(m, rows, n);
}

/* ---- fixture: a data directory, a store, an audit key ---- */

struct fx {
	char dir[64], url[96], db[96], ckpt[96];
	uint8_t pk[32], sk[64];
	struct meta *m;
	struct audit *a;
	atomic_int sign_fail_after;   /* < 0: never */
};

static int
test_sign(void *arg, const uint8_t *m, size_t n, uint8_t sig[64])
{
	struct fx *f = arg;

	if (atomic_load(&f->sign_fail_after) == 0)
		return UT_ECRYPTO;
	if (atomic_load(&f->sign_fail_after) > 0)
		atomic_fetch_sub(&f->sign_fail_after, 1);
	crypto_sign_detached(sig, NULL, m, n, f->sk);
	return 0;
}

static void
fx_open_audit(struct fx *f, unsigned interval_ms)
{
	struct audit_opts o = {
		.meta = f->m, .sign = test_sign, .sign_arg = f,
		.audit_pk = f->pk, .ckpt_path = f->ckpt,
		.ckpt_interval_ms = interval_ms,
	};

	T_ASSERT_EQ(audit_open(&o, &f->a), 0);
}

static void
fx_init(struct fx *f, unsigned interval_ms)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ut-audit-XXXXXX");
	T_ASSERT(mkdtemp(f->dir) != NULL);
	snprintf(f->url, sizeof(f->url), "sqlite:%s/meta.db", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/meta.db", f->dir);
	snprintf(f->ckpt, sizeof(f->ckpt), "%s/audit.ckpt", f->dir);
	crypto_sign_keypair(f->pk, f->sk);
	atomic_store(&f->sign_fail_after, -1);
	T_ASSERT_EQ(meta_open(f->url, true, &f->m), 0);
	fx_open_audit(f, interval_ms);
}

static void
fx_close_audit(struct fx *f)
{
	audit_close(f->a);
	f->a = NULL;
}

static void
fx_finish(struct fx *f)
{
	char cmd[128];

	fx_close_audit(f);
	meta_close(f->m);
	f->m = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", f->dir);
}

static int
append_one(struct audit *a, unsigned i, uint64_t *seq)
{
	char obj[32];
	struct audit_event e = {
		.principal = "alice", .role = "reviewer", .purpose = "review",
		.action = "segment_read", .subject = "00112233445566778899aabbccddeeff",
		.object = obj, .outcome = "ok", .source = "192.0.2.7",
	};

	snprintf(obj, sizeof(obj), "seg-%u", i);
	return audit_append(a, &e, seq);
}

static int
verify(struct fx *f, struct audit_verify_report *rep)
{
	int r = audit_verify(f->m, f->pk, f->ckpt, rep);

	if (r != 0)
		fprintf(stderr, "  verify: %s (bad_seq %llu)\n", rep->reason,
		    (unsigned long long)rep->bad_seq);
	return r;
}

/* ---- group commit ---- */

#define THREADS 16
#define PER_THREAD 200

struct worker {
	struct audit *a;
	unsigned id;
	uint64_t seqs[PER_THREAD];
	int err;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	unsigned i;

	for (i = 0; i < PER_THREAD; i++) {
		w->err = append_one(w->a, w->id * PER_THREAD + i, &w->seqs[i]);
		if (w->err != 0)
			break;
	}
	return NULL;
}

static int
count_row(const struct meta_audit_row *r, void *arg)
{
	(*(uint64_t *)arg)++;
	(void)r;
	return 0;
}

static void
test_audit_group_commit_16_threads(void)
{
	static struct worker w[THREADS];
	static uint8_t seen[THREADS * PER_THREAD + 1];
	pthread_t th[THREADS];
	struct audit_verify_report rep;
	struct fx f;
	uint64_t rows = 0;
	unsigned i, j, commits;

	fx_init(&f, 0);
	memset(seen, 0, sizeof(seen));
	atomic_store(&n_commits, 0);
	for (i = 0; i < THREADS; i++) {
		w[i].a = f.a;
		w[i].id = i;
		T_ASSERT_EQ(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	commits = atomic_load(&n_commits);
	for (i = 0; i < THREADS; i++) {
		T_ASSERT_EQ(w[i].err, 0);
		for (j = 0; j < PER_THREAD; j++) {
			T_ASSERT(w[i].seqs[j] >= 1 && w[i].seqs[j] <= THREADS * PER_THREAD);
			T_ASSERT(!seen[w[i].seqs[j]]);
			seen[w[i].seqs[j]] = 1;
			if (j > 0)
				T_ASSERT(w[i].seqs[j] > w[i].seqs[j - 1]);
		}
	}
	/* Durable on return: the rows are in the store before the close. */
	T_ASSERT_EQ(meta_audit_scan(f.m, 1, 0, count_row, &rows), 0);
	T_ASSERT_EQ(rows, THREADS * PER_THREAD);
	fprintf(stderr, "  %u rows in %u store transactions\n",
	    THREADS * PER_THREAD, commits);
	T_ASSERT(commits < THREADS * PER_THREAD);
	T_ASSERT(!audit_is_failed(f.a));
	T_ASSERT_EQ(verify(&f, &rep), 0);
	T_ASSERT_EQ(rep.rows, THREADS * PER_THREAD);
	fx_close_audit(&f);
	T_ASSERT_EQ(verify(&f, &rep), 0);
	T_ASSERT(rep.file_checkpoints >= 1);
	fx_finish(&f);
}

/* ---- tampering in the SQLite file ---- */

#define NROWS 50

/* The store's audit tables, found by name (the schema is the store's). */
struct tables {
	char rows[64], ckpts[64];
};

static void
find_tables(sqlite3 *db, struct tables *t)
{
	sqlite3_stmt *st;
	const char *name;

	memset(t, 0, sizeof(*t));
	T_ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE "
	    "type = 'table' AND name LIKE '%audit%'", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 0);
		if (strstr(name, "ckpt") != NULL || strstr(name, "checkpoint") != NULL)
			snprintf(t->ckpts, sizeof(t->ckpts), "%s", name);
		else
			snprintf(t->rows, sizeof(t->rows), "%s", name);
	}
	sqlite3_finalize(st);
	T_ASSERT(t->rows[0] != '\0' && t->ckpts[0] != '\0');
}

/* Whoever can write the file can drop the store's append-only triggers. */
static void
drop_triggers(sqlite3 *db)
{
	char names[16][64], q[1100];
	sqlite3_stmt *st;
	unsigned n = 0, i;

	T_ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE "
	    "type = 'trigger' AND tbl_name LIKE '%audit%'", -1, &st, NULL), SQLITE_OK);
	while (n < 16 && sqlite3_step(st) == SQLITE_ROW)
		snprintf(names[n++], sizeof(names[0]), "%s",
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (i = 0; i < n; i++) {
		snprintf(q, sizeof(q), "DROP TRIGGER \"%s\"", names[i]);
		T_ASSERT_EQ(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	}
}

static void __attribute__((format(printf, 2, 3)))
sql(sqlite3 *db, const char *fmt, ...)
{
	char q[512], *err = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "  sql: %s: %s\n", q, err ? err : "?");
		sqlite3_free(err);
		T_FAIL("sql failed");
	}
}

enum tamper { T_EDIT, T_DELETE, T_INSERT, T_SWAP, T_TRUNCATE, T_RECHAIN };

/* Recomputes prev and hash of rows from..NROWS after an edit (as root could). */
struct rechain {
	sqlite3 *db;
	const char *table;
	uint8_t prev[32];
	bool started;
};

static int
rechain_row(const struct meta_audit_row *r, void *arg)
{
	struct rechain *rc = arg;
	struct meta_audit_row c = *r;
	sqlite3_stmt *st;
	char q[256];

	if (rc->started)
		memcpy(c.prev, rc->prev, 32);
	rc->started = true;
	audit_row_hash(&c, c.hash);
	memcpy(rc->prev, c.hash, 32);
	snprintf(q, sizeof(q), "UPDATE %s SET prev = ?1, hash = ?2 WHERE seq = ?3",
	    rc->table);
	if (sqlite3_prepare_v2(rc->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_blob(st, 1, c.prev, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, c.hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)c.seq);
	sqlite3_step(st);
	sqlite3_finalize(st);
	return 0;
}

static void
tamper(struct fx *f, enum tamper kind, bool drop_ckpts)
{
	struct tables t;
	sqlite3 *db;

	T_ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	find_tables(db, &t);
	drop_triggers(db);
	switch (kind) {
	case T_EDIT:
		sql(db, "UPDATE %s SET principal = 'mallory' WHERE seq = 17", t.rows);
		break;
	case T_DELETE:
		sql(db, "DELETE FROM %s WHERE seq = 17", t.rows);
		break;
	case T_INSERT:
		/* Make room at 17 and put a forged copy of row 17 there. */
		sql(db, "UPDATE %s SET seq = -seq - 1 WHERE seq >= 17", t.rows);
		sql(db, "UPDATE %s SET seq = -seq WHERE seq < 0", t.rows);
		sql(db, "CREATE TEMP TABLE x AS SELECT * FROM %s WHERE seq = 18",
		    t.rows);
		sql(db, "UPDATE x SET seq = 17, action = 'nothing_to_see'");
		sql(db, "INSERT INTO %s SELECT * FROM x", t.rows);
		break;
	case T_SWAP:
		sql(db, "UPDATE %s SET seq = -1 WHERE seq = 17", t.rows);
		sql(db, "UPDATE %s SET seq = 17 WHERE seq = 30", t.rows);
		sql(db, "UPDATE %s SET seq = 30 WHERE seq = -1", t.rows);
		break;
	case T_TRUNCATE:
		sql(db, "DELETE FROM %s WHERE seq > 45", t.rows);
		break;
	case T_RECHAIN: {
		struct rechain rc = { db, t.rows, { 0 }, false };
		struct meta *m;

		sql(db, "UPDATE %s SET principal = 'mallory' WHERE seq = 17", t.rows);
		T_ASSERT_EQ(meta_open_readonly(f->url, &m), 0);
		T_ASSERT_EQ(meta_audit_scan(m, 17, 0, rechain_row, &rc), 0);
		meta_close(m);
		break;
	}
	}
	if (drop_ckpts)
		sql(db, "DELETE FROM %s", t.ckpts);
	sqlite3_close(db);
}

static void
make_log(struct fx *f)
{
	struct meta_audit_ckpt c;
	unsigned i;

	fx_init(f, 60000);
	for (i = 1; i <= NROWS; i++) {
		T_ASSERT_EQ(append_one(f->a, i, NULL), 0);
		if (i == 20 || i == 40) {
			T_ASSERT_EQ(audit_checkpoint(f->a, &c), 0);
			T_ASSERT_EQ(c.seq, i);
		}
	}
	fx_close_audit(f);      /* final checkpoint at NROWS */
}

static void
check_tamper(enum tamper kind, bool drop, uint64_t want_bad)
{
	struct audit_verify_report rep;
	struct fx f;

	make_log(&f);
	T_ASSERT_EQ(verify(&f, &rep), 0);
	T_ASSERT_EQ(rep.rows, NROWS);
	/* The store's connection must not keep stale pages: reopen it. */
	meta_close(f.m);
	f.m = NULL;
	tamper(&f, kind, drop);
	T_ASSERT_EQ(meta_open_readonly(f.url, &f.m), 0);
	T_ASSERT_EQ(audit_verify(f.m, f.pk, f.ckpt, &rep), UT_ECORRUPT);
	fprintf(stderr, "  tamper %d%s: bad_seq %llu: %s\n", (int)kind,
	    drop ? " (no DB checkpoints)" : "", (unsigned long long)rep.bad_seq,
	    rep.reason);
	T_ASSERT_EQ(rep.bad_seq, want_bad);
	fx_finish(&f);
}

static void
test_audit_tamper_edit(void)
{
	check_tamper(T_EDIT, false, 17);
	check_tamper(T_EDIT, true, 17);
}

static void
test_audit_tamper_delete(void)
{
	check_tamper(T_DELETE, false, 17);
	check_tamper(T_DELETE, true, 17);
}

static void
test_audit_tamper_insert(void)
{
	check_tamper(T_INSERT, false, 17);
	check_tamper(T_INSERT, true, 17);
}

static void
test_audit_tamper_reorder(void)
{
	check_tamper(T_SWAP, false, 17);
	check_tamper(T_SWAP, true, 17);
}

static void
test_audit_tamper_truncate(void)
{
	check_tamper(T_TRUNCATE, false, 46);
	check_tamper(T_TRUNCATE, true, 46);     /* through the checkpoint file */
}

static void
test_audit_tamper_rechained_caught_by_checkpoint(void)
{
	/* Hashes recomputed after the edit: only a signed checkpoint shows it. */
	check_tamper(T_RECHAIN, false, 20);
	check_tamper(T_RECHAIN, true, 20);
}

/* ---- the checkpoint file ---- */

static void
test_audit_ckpt_file_torn_and_forged(void)
{
	struct audit_verify_report rep;
	struct fx f;
	FILE *fp;
	int fd;

	make_log(&f);
	/* A crash cut the last line: the next open ends it, verify skips it. */
	fd = open(f.ckpt, O_WRONLY | O_APPEND);
	T_ASSERT(fd >= 0);
	T_ASSERT_EQ(write(fd, "UTAUDCK1 51 17000", 17), 17);
	close(fd);
	fx_open_audit(&f, 60000);
	T_ASSERT_EQ(append_one(f.a, 99, NULL), 0);
	fx_close_audit(&f);
	T_ASSERT_EQ(verify(&f, &rep), 0);
	T_ASSERT_EQ(rep.rows, NROWS + 1);

	/* A forged entry (not signed by the audit key) is caught. */
	fp = fopen(f.ckpt, "a");
	T_ASSERT(fp != NULL);
	fputs("UTAUDCK1 52 1 ", fp);
	for (int i = 0; i < 32; i++)
		fputs("11", fp);
	fputc(' ', fp);
	for (int i = 0; i < 64; i++)
		fputs("22", fp);
	fputc('\n', fp);
	fclose(fp);
	T_ASSERT_EQ(audit_verify(f.m, f.pk, f.ckpt, &rep), UT_ECORRUPT);
	fprintf(stderr, "  %s\n", rep.reason);
	T_ASSERT(strstr(rep.reason, "bad signature") != NULL);
	T_ASSERT_EQ(rep.bad_seq, 52);
	fx_finish(&f);
}

/* Collects the stored checkpoints' times (at most 64). */
struct ck_times {
	int64_t t[64];
	size_t n;
};

static int
ck_time_one(const struct meta_audit_ckpt *c, void *arg)
{
	struct ck_times *ct = arg;

	if (ct->n < UT_ARRAY_LEN(ct->t))
		ct->t[ct->n++] = c->time_ns;
	return 0;
}

/*
 * Invariant (5) without a stopwatch: while rows keep coming, checkpoints
 * keep coming (three new ones in the file; 60 s is a liveness bound, not a
 * speed test), and the committer writes one at most once an interval (the
 * stored checkpoints' own times, which a slow machine cannot bring closer).
 */
static void
test_audit_checkpoints_every_second(void)
{
	struct meta_audit_ckpt c, last = { 0 };
	struct audit_verify_report rep;
	struct ck_times ct = { .n = 0 };
	struct stat st;
	off_t sizes[3] = { 0, 0, 0 }, seen = 0;
	uint64_t t0 = ut_now_mono_ns();
	unsigned i = 0, k = 0;
	size_t j;
	struct fx f;

	fx_init(&f, 0);
	while (k < 3) {
		T_ASSERT(ut_now_mono_ns() - t0 < 60000000000ull);
		T_ASSERT_EQ(append_one(f.a, i++, NULL), 0);
		if (stat(f.ckpt, &st) == 0 && st.st_size > seen)
			seen = sizes[k++] = st.st_size;
		usleep(2000);
	}
	fprintf(stderr, "  checkpoint file: %lld, %lld, %lld bytes after %.2f s\n",
	    (long long)sizes[0], (long long)sizes[1], (long long)sizes[2],
	    (double)(ut_now_mono_ns() - t0) / 1e9);
	T_ASSERT_EQ(meta_audit_ckpt_list(f.m, ck_time_one, &ct), 0);
	T_ASSERT(ct.n >= 3);
	for (j = 1; j < ct.n; j++)
		T_ASSERT(ct.t[j] - ct.t[j - 1] >= 1000000000 - 5000000);
	/* Once rows stop, the next checkpoint covers them all. */
	T_ASSERT_EQ(audit_checkpoint(f.a, &c), 0);
	T_ASSERT(audit_ckpt_check(&c, f.pk));
	T_ASSERT_EQ(c.seq, i);
	T_ASSERT_EQ(audit_checkpoint(f.a, &last), 0);
	T_ASSERT_EQ(last.seq, c.seq);   /* nothing new: the same one */
	T_ASSERT_EQ(last.time_ns, c.time_ns);
	T_ASSERT_EQ(verify(&f, &rep), 0);
	fprintf(stderr, "  %llu rows, %llu + %llu checkpoints\n",
	    (unsigned long long)rep.rows, (unsigned long long)rep.checkpoints,
	    (unsigned long long)rep.file_checkpoints);
	T_ASSERT(rep.checkpoints >= 3 && rep.file_checkpoints >= 3);
	fx_finish(&f);
}

/* ---- failures ---- */

static void
test_audit_sign_failure_is_sticky(void)
{
	struct meta_audit_ckpt c;
	struct fx f;
	uint64_t seq;

	fx_init(&f, 60000);
	T_ASSERT_EQ(append_one(f.a, 1, &seq), 0);
	T_ASSERT_EQ(seq, 1);
	atomic_store(&f.sign_fail_after, 0);
	T_ASSERT_EQ(audit_checkpoint(f.a, &c), UT_ECRYPTO);
	T_ASSERT(audit_is_failed(f.a));
	atomic_store(&f.sign_fail_after, -1);
	T_ASSERT_EQ(append_one(f.a, 2, NULL), UT_ESTATE);
	T_ASSERT_EQ(audit_checkpoint(f.a, &c), UT_ESTATE);
	fx_close_audit(&f);
	/* A restart continues the chain. */
	fx_open_audit(&f, 60000);
	T_ASSERT_EQ(append_one(f.a, 3, &seq), 0);
	T_ASSERT_EQ(seq, 2);
	fx_finish(&f);
}

static void
test_audit_fsync_failure_is_sticky(void)
{
	struct fx f;
	unsigned calls;
	int r;

	fx_init(&f, 600000);
	T_ASSERT_EQ(append_one(f.a, 1, NULL), 0);
	fsio_fault_arm(FSIO_FSYNC, 1, FSIO_FAULT_EIO);
	r = append_one(f.a, 2, NULL);
	calls = fsio_calls(FSIO_FSYNC);
	fsio_fault_clear();
	if (r == 0 && calls == 0) {
		fprintf(stderr, "  SKIP: the store does not route SQLite I/O through "
		    "fsio yet\n");
		fx_finish(&f);
		return;
	}
	T_ASSERT(r < 0);
	T_ASSERT(audit_is_failed(f.a));
	T_ASSERT_EQ(append_one(f.a, 3, NULL), UT_ESTATE);
	T_ASSERT_EQ(append_one(f.a, 4, NULL), UT_ESTATE);
	fx_finish(&f);
}

/* What the notify callback saw; it checks the store holds what it is told. */
struct notified {
	struct meta *m;
	atomic_uint calls;
	atomic_uint_fast64_t upto;      /* the last value told */
	atomic_uint ahead;              /* told more than the store held */
};

static void
on_durable(void *arg, uint64_t upto)
{
	struct notified *n = arg;
	struct meta_audit_row last;

	atomic_fetch_add(&n->calls, 1);
	atomic_store(&n->upto, upto);
	if (upto == UINT64_MAX || upto == 0)
		return;
	if (meta_audit_last(n->m, &last) < 0 || last.seq < upto)
		atomic_fetch_add(&n->ahead, 1);
}

static void
test_audit_enqueue_wait_notify(void)
{
	struct audit_event e = { .principal = "device:1", .role = "device",
	    .action = "control", .outcome = "ok", .source = "192.0.2.7" };
	struct notified n;
	uint64_t s1 = 0, s2 = 0, s3 = 0;
	unsigned calls;
	struct fx f;
	int r;

	fx_init(&f, 600000);
	memset(&n, 0, sizeof(n));
	n.m = f.m;
	T_ASSERT_EQ(append_one(f.a, 1, NULL), 0);
	/* Told at once what is durable already. */
	audit_set_notify(f.a, on_durable, &n);
	T_ASSERT_EQ(atomic_load(&n.calls), 1);
	T_ASSERT_EQ(atomic_load(&n.upto), 1);
	T_ASSERT_EQ(audit_enqueue(f.a, &e, &s1), 0);
	T_ASSERT_EQ(audit_enqueue(f.a, &e, &s2), 0);
	T_ASSERT_EQ(s1, 2);
	T_ASSERT_EQ(s2, 3);
	T_ASSERT_EQ(audit_wait(f.a, s2), 0);
	T_ASSERT_EQ(audit_wait(f.a, s1), 0);
	/* The committer tells after the commit (it may still be on its way). */
	for (r = 0; r < 1000 && atomic_load(&n.upto) < s2; r++)
		usleep(10000);
	T_ASSERT(atomic_load(&n.upto) >= s2);
	T_ASSERT_EQ(atomic_load(&n.ahead), 0);

	/* The commit holding an enqueued entry fails: told UINT64_MAX, the
	 * wait gets the error, later entries UT_ESTATE. */
	fsio_fault_arm(FSIO_FSYNC, 1, FSIO_FAULT_EIO);
	T_ASSERT_EQ(audit_enqueue(f.a, &e, &s3), 0);
	r = audit_wait(f.a, s3);
	calls = fsio_calls(FSIO_FSYNC);
	fsio_fault_clear();
	if (r == 0 && calls == 0) {
		fprintf(stderr, "  SKIP: the store does not route SQLite I/O through "
		    "fsio yet\n");
		audit_set_notify(f.a, NULL, NULL);
		fx_finish(&f);
		return;
	}
	T_ASSERT(r < 0);
	T_ASSERT(r != UT_ESTATE);       /* the storage error itself */
	for (r = 0; r < 1000 && atomic_load(&n.upto) != UINT64_MAX; r++)
		usleep(10000);
	T_ASSERT(atomic_load(&n.upto) == UINT64_MAX);
	T_ASSERT_EQ(audit_enqueue(f.a, &e, &s3), UT_ESTATE);
	T_ASSERT_EQ(audit_wait(f.a, s2), 0);    /* durable before it failed */
	T_ASSERT_EQ(atomic_load(&n.ahead), 0);
	/* Cleared: never called again. */
	audit_set_notify(f.a, NULL, NULL);
	calls = atomic_load(&n.calls);
	fx_close_audit(&f);
	T_ASSERT_EQ(atomic_load(&n.calls), calls);
	fx_finish(&f);
}

static void
test_audit_write_failure_is_sticky(void)
{
	struct fx f;
	unsigned calls;
	int r;

	fx_init(&f, 600000);
	T_ASSERT_EQ(append_one(f.a, 1, NULL), 0);
	fsio_fault_arm(FSIO_WRITE, 1, FSIO_FAULT_EIO);
	r = append_one(f.a, 2, NULL);
	calls = fsio_calls(FSIO_WRITE);
	fsio_fault_clear();
	if (r == 0 && calls == 0) {
		fprintf(stderr, "  SKIP: the store does not route SQLite I/O through "
		    "fsio yet\n");
		fx_finish(&f);
		return;
	}
	T_ASSERT(r < 0);
	T_ASSERT_EQ(append_one(f.a, 3, NULL), UT_ESTATE);
	fx_finish(&f);
}

static void
test_audit_open_refuses_broken_tail(void)
{
	struct audit_opts o;
	struct audit *a = NULL;
	struct tables t;
	sqlite3 *db;
	struct fx f;

	make_log(&f);
	meta_close(f.m);
	T_ASSERT_EQ(sqlite3_open(f.db, &db), SQLITE_OK);
	find_tables(db, &t);
	drop_triggers(db);
	sql(db, "UPDATE %s SET outcome = 'denied' WHERE seq = 50", t.rows);
	sqlite3_close(db);
	T_ASSERT_EQ(meta_open(f.url, false, &f.m), 0);
	memset(&o, 0, sizeof(o));
	o.meta = f.m;
	o.sign = test_sign;
	o.sign_arg = &f;
	o.audit_pk = f.pk;
	o.ckpt_path = f.ckpt;
	T_ASSERT_EQ(audit_open(&o, &a), UT_ECORRUPT);
	T_ASSERT(a == NULL);
	fx_finish(&f);
}

static void
test_audit_open_refuses_wrong_key(void)
{
	struct audit_opts o;
	struct audit *a = NULL;
	uint8_t other[32], sk[64];
	struct fx f;

	fx_init(&f, 0);
	crypto_sign_keypair(other, sk);
	memset(&o, 0, sizeof(o));
	o.meta = f.m;
	o.sign = test_sign;
	o.sign_arg = &f;
	o.audit_pk = other;
	o.ckpt_path = f.ckpt;
	T_ASSERT_EQ(audit_open(&o, &a), UT_ECRYPTO);
	fx_finish(&f);
}

/* ---- unauthenticated failures ---- */

struct auth_rows {
	unsigned n;
	char detail[META_AUDIT_STR], source[48];
};

static int
auth_row(const struct meta_audit_row *r, void *arg)
{
	struct auth_rows *ar = arg;

	if (strcmp(r->action, "auth_failure") == 0) {
		ar->n++;
		memcpy(ar->detail, r->detail, sizeof(ar->detail));
		memcpy(ar->source, r->source, sizeof(ar->source));
	}
	return 0;
}

static void
test_audit_auth_failures_aggregated(void)
{
	struct audit_verify_report rep;
	struct auth_rows ar = { 0 };
	struct fx f;
	unsigned i;

	fx_init(&f, 0);
	for (i = 0; i < 10000; i++)
		audit_note_auth_failure(f.a, "198.51.100.9", "bad token");
	fx_close_audit(&f);
	T_ASSERT_EQ(meta_audit_scan(f.m, 1, 0, auth_row, &ar), 0);
	T_ASSERT_EQ(ar.n, 1);
	T_ASSERT_STREQ(ar.source, "198.51.100.9");
	T_ASSERT(strncmp(ar.detail, "count=10000 ", 12) == 0);
	T_ASSERT(strstr(ar.detail, "what=bad token") != NULL);
	T_ASSERT_EQ(verify(&f, &rep), 0);
	T_ASSERT_EQ(rep.rows, 1);
	fx_finish(&f);
}

static void
test_audit_auth_failures_many_sources_bounded(void)
{
	struct auth_rows ar = { 0 };
	char src[32];
	struct fx f;
	unsigned i;

	fx_init(&f, 0);
	for (i = 0; i < 3 * AUDIT_AUTH_SOURCES; i++) {
		snprintf(src, sizeof(src), "10.%u.%u.1", i >> 8, i & 255);
		audit_note_auth_failure(f.a, src, "bad token");
	}
	fx_close_audit(&f);
	T_ASSERT_EQ(meta_audit_scan(f.m, 1, 0, auth_row, &ar), 0);
	T_ASSERT_EQ(ar.n, AUDIT_AUTH_SOURCES + 1);  /* the rest under "*" */
	fx_finish(&f);
}

/* ---- the canonical forms ---- */

static void
test_audit_row_hash_covers_every_field(void)
{
	struct meta_audit_row r, s;
	uint8_t h0[32], h1[32];
	char *fields[9];
	unsigned i;

	memset(&r, 0, sizeof(r));
	r.seq = 7;
	r.time_ns = 123;
	audit_row_hash(&r, h0);
	fields[0] = s.principal; fields[1] = s.role; fields[2] = s.purpose;
	fields[3] = s.action; fields[4] = s.subject; fields[5] = s.object;
	fields[6] = s.outcome; fields[7] = s.source; fields[8] = s.detail;
	for (i = 0; i < 9; i++) {
		s = r;
		fields[i][0] = 'x';
		audit_row_hash(&s, h1);
		T_ASSERT(memcmp(h0, h1, 32) != 0);
	}
	/* "ab" + "" differs from "a" + "b": fields are length-prefixed. */
	s = r;
	memcpy(s.principal, "ab", 3);
	audit_row_hash(&s, h0);
	s = r;
	memcpy(s.principal, "a", 2);
	memcpy(s.role, "b", 2);
	audit_row_hash(&s, h1);
	T_ASSERT(memcmp(h0, h1, 32) != 0);
	s = r;
	s.seq = 8;
	audit_row_hash(&s, h1);
	T_ASSERT(memcmp(h0, h1, 32) != 0);
	s = r;
	s.prev[31] = 1;
	audit_row_hash(&s, h1);
	T_ASSERT(memcmp(h0, h1, 32) != 0);
}

T_LIST(
    T_CASE(test_audit_row_hash_covers_every_field),
    T_CASE(test_audit_group_commit_16_threads),
    T_CASE(test_audit_tamper_edit),
    T_CASE(test_audit_tamper_delete),
    T_CASE(test_audit_tamper_insert),
    T_CASE(test_audit_tamper_reorder),
    T_CASE(test_audit_tamper_truncate),
    T_CASE(test_audit_tamper_rechained_caught_by_checkpoint),
    T_CASE(test_audit_ckpt_file_torn_and_forged),
    T_CASE(test_audit_checkpoints_every_second),
    T_CASE(test_audit_sign_failure_is_sticky),
    T_CASE(test_audit_fsync_failure_is_sticky),
    T_CASE(test_audit_enqueue_wait_notify),
    T_CASE(test_audit_write_failure_is_sticky),
    T_CASE(test_audit_open_refuses_broken_tail),
    T_CASE(test_audit_open_refuses_wrong_key),
    T_CASE(test_audit_auth_failures_aggregated),
    T_CASE(test_audit_auth_failures_many_sources_bounded))
