/*
 * bench_exposure.c - the auditor's exposure report over a large audit log
 * (issue 18: 10 million entries, goal <= 2 s).  Builds a metadata store
 * with N audit rows (default 10,000,000) through meta_audit_append in
 * batches: 1,000 principals (subjects, reviewers, trainers, devices) and
 * 10,000 subjects, most rows denials and listings, about 1 in 50 a read of
 * content.  Then times, on the store's indexes, what GET /v1/audit/exposure
 * asks: every row of one principal, and every row about one subject
 * (meta_audit_query), counting the reads among them as the server does.
 * The hashes in the rows are not a chain (the report does not verify it;
 * `audit verify` does): the rows are otherwise what the server writes.
 *
 * usage: bench_exposure [ROWS] [DIR]   (DIR: an existing directory on the
 * disk to measure; default a temp dir under /tmp, removed afterwards)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "usetrace/meta.h"
#include "usetrace/util.h"

#define BATCH 20000u
#define PRINCIPALS 1000u
#define SUBJECTS 10000u
#define REPS 5

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct count {
	uint64_t rows, reads;
};

static int
count_row(const struct meta_audit_row *r, void *arg)
{
	struct count *c = arg;

	c->rows++;
	if (strcmp(r->outcome, "ok") == 0 && (strcmp(r->action, "read_actions") == 0 ||
	    strcmp(r->action, "review_read") == 0 || strcmp(r->action, "training_read") == 0))
		c->reads++;
	return 0;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
fill(struct meta_audit_row *r, uint64_t seq, uint64_t x)
{
	static const char *const actions[] = { "segment_list", "read_actions",
		"denied", "upload", "control", "review_read", "read_my_audit" };
	unsigned p = (unsigned)(x % PRINCIPALS), s = (unsigned)((x / 7) % SUBJECTS);
	unsigned a = (unsigned)((x / 13) % 50);

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->time_ns = 1790000000000000000LL + (int64_t)seq * 1000000;
	snprintf(r->principal, sizeof(r->principal), "user%04u", p);
	snprintf(r->role, sizeof(r->role), "%s", p % 10 == 0 ? "reviewer" : "subject");
	snprintf(r->purpose, sizeof(r->purpose), "self-access");
	snprintf(r->action, sizeof(r->action), "%s", a == 0 ? "read_actions" :
	    actions[2 + a % 5]);
	snprintf(r->subject, sizeof(r->subject), "%032x", s);
	snprintf(r->object, sizeof(r->object), "segment:%032" PRIx64, x);
	snprintf(r->outcome, sizeof(r->outcome), "%s", a % 3 == 1 ? "denied" : "ok");
	snprintf(r->source, sizeof(r->source), "10.0.%u.%u", p / 250, p % 250);
	r->hash[0] = (uint8_t)seq;
}

int
main(int argc, char **argv)
{
	uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull, seq;
	char dir[512], url[600], cmd[700];
	struct meta_audit_row *batch = xcalloc(BATCH, sizeof(*batch));
	struct meta_audit_query q;
	struct meta *m = NULL;
	double t0, tp[REPS], ts[REPS];
	struct count cp, cs;
	size_t n;
	int i, r;

	if (argc > 2)
		snprintf(dir, sizeof(dir), "%s/bench-exposure-XXXXXX", argv[2]);
	else
		snprintf(dir, sizeof(dir), "/tmp/bench-exposure-XXXXXX");
	if (mkdtemp(dir) == NULL || rows == 0) {
		perror("bench_exposure");
		return 1;
	}
	snprintf(url, sizeof(url), "sqlite:%s/meta.db", dir);
	if ((r = meta_open(url, true, &m)) < 0) {
		fprintf(stderr, "meta_open: %d\n", r);
		return 1;
	}
	t0 = now_s();
	for (seq = 1; seq <= rows; seq += n) {
		n = rows - seq + 1 < BATCH ? (size_t)(rows - seq + 1) : BATCH;
		for (size_t k = 0; k < n; k++)
			fill(&batch[k], seq + k, (seq + k) * 2654435761u);
		if ((r = meta_audit_append(m, batch, n)) < 0) {
			fprintf(stderr, "append at %" PRIu64 ": %d\n", seq, r);
			return 1;
		}
	}
	printf("built %" PRIu64 " audit rows in %.1f s\n", rows, now_s() - t0);
	for (i = 0; i < REPS; i++) {
		memset(&q, 0, sizeof(q));
		memset(&cp, 0, sizeof(cp));
		q.principal = i % 2 ? "user0420" : "user0007";
		t0 = now_s();
		if (meta_audit_query(m, &q, count_row, &cp) < 0)
			return 1;
		tp[i] = now_s() - t0;
		memset(&q, 0, sizeof(q));
		memset(&cs, 0, sizeof(cs));
		q.subject = i % 2 ? "00000000000000000000000000000333" :
		    "00000000000000000000000000001234";
		t0 = now_s();
		if (meta_audit_query(m, &q, count_row, &cs) < 0)
			return 1;
		ts[i] = now_s() - t0;
	}
	qsort(tp, REPS, sizeof(double), cmp_d);
	qsort(ts, REPS, sizeof(double), cmp_d);
	printf("exposure --principal: %" PRIu64 " rows (%" PRIu64 " reads) of %"
	    PRIu64 ": median %.3f s, max %.3f s\n", cp.rows, cp.reads, rows,
	    tp[REPS / 2], tp[REPS - 1]);
	printf("exposure --subject:   %" PRIu64 " rows (%" PRIu64 " reads) of %"
	    PRIu64 ": median %.3f s, max %.3f s\n", cs.rows, cs.reads, rows,
	    ts[REPS / 2], ts[REPS - 1]);
	meta_close(m);
	free(batch);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}
