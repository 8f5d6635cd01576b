/*
 * test_spool_readfaults.c - the spool's read-side calls go through the fsio
 * seam (read, stat, readdir), so a fault injected on any of them reaches
 * the spool; each is reported (a negative return, a bad segment counted),
 * never crashed on and never taken as fewer records or a shorter spool.
 */
#include "spool_t.h"

#define PER_SEG 30
#define SEGS 3

/* Three closed segments of PER_SEG records each, seq 1..90. */
static void
make_spool(const char *dir, const struct tkeys *k)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	uint64_t seq = 1;
	int s, i;

	topts(&o, dir, k);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (s = 0; s < SEGS; s++) {
		for (i = 0; i < PER_SEG; i++) {
			mk(&ev, seq++);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
		if (s + 1 < SEGS)
			T_ASSERT_EQ(spool_rotate(sp), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
}

/* Reads dir with op's nth call failing; 1 when the fault was reached. */
static int
read_with_fault(const char *dir, const struct tkeys *k, enum fsio_op op,
    unsigned nth)
{
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct spool_read_stats st;
	struct ut_event ev;
	uint64_t n = 0;
	int r, errs = 0, reached;

	memset(&ro, 0, sizeof(ro));
	ro.key = k->rk;
	fsio_fault_arm(op, nth, FSIO_FAULT_EIO);
	r = spool_reader_open(dir, &ro, &rd);
	if (r == 0) {
		while ((r = spool_reader_next(rd, &ev)) != 0) {
			if (r < 0) {
				/* Said in words, naming the segment. */
				T_ASSERT(strstr(spool_reader_error(rd), "seg-") != NULL);
				errs++;
				continue;
			}
			n++;
		}
		spool_reader_stats(rd, &st);
		spool_reader_close(rd);
		r = 0;
	}
	reached = fsio_calls(op) >= nth;
	fsio_fault_clear();
	if (!reached) {
		T_ASSERT_EQ(r, 0);
		T_ASSERT_EQ(errs, 0);
		T_ASSERT_EQ(n, (uint64_t)PER_SEG * SEGS);
		return 0;
	}
	/*
	 * Reported: the open failed, or a segment was refused (or its link
	 * unverifiable), never fewer records in silence.
	 */
	T_ASSERT(r < 0 || errs > 0);
	T_ASSERT(r < 0 || n == (uint64_t)PER_SEG * SEGS ||
	    st.bad_segments > 0);
	return 1;
}

static void
test_spool_read_faults_reported(void)
{
	static const enum fsio_op ops[] = { FSIO_READ, FSIO_STAT, FSIO_READDIR };
	struct tkeys k;
	char *dir = mkdir_tmp();
	unsigned i, nth, hits = 0;

	tkeys_init(&k);
	make_spool(dir, &k);
	for (i = 0; i < UT_ARRAY_LEN(ops); i++)
		for (nth = 1; nth < 64 && read_with_fault(dir, &k, ops[i], nth); nth++)
			hits++;
	/* Every segment file is read, and the directory listed. */
	T_ASSERT(hits >= SEGS + 1);
	rm_rf(dir);
	tkeys_finish(&k);
}

/*
 * Opening an existing spool for writing (owner check, recovery, budget
 * sums, the link to the newest segment) with a read-side fault: fails
 * with the error, or opens a spool that goes on exactly (the records
 * appended after it follow in order, the link intact).
 */
static void
test_spool_open_read_faults_reported(void)
{
	static const enum fsio_op ops[] = { FSIO_READ, FSIO_STAT, FSIO_READDIR };
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k;
	char *dir = mkdir_tmp(), copy[128], cmd[320];
	unsigned i, nth, fails = 0;
	bool reached;
	int r, errs;

	tkeys_init(&k);
	make_spool(dir, &k);
	for (i = 0; i < UT_ARRAY_LEN(ops); i++) {
		for (nth = 1; nth < 64; nth++) {
			snprintf(copy, sizeof(copy), "%s-copy", dir);
			snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, copy);
			T_ASSERT_EQ(system(cmd), 0);
			topts(&o, copy, &k);
			fsio_fault_arm(ops[i], nth, FSIO_FAULT_EIO);
			r = spool_open(&o, &sp);
			reached = fsio_calls(ops[i]) >= nth;
			fsio_fault_clear();
			if (r < 0) {
				T_ASSERT(reached);
				fails++;
			} else {
				mk(&ev, (uint64_t)PER_SEG * SEGS + 1);
				T_ASSERT_EQ(spool_append(sp, &ev), 0);
				T_ASSERT_EQ(spool_close(sp), 0);
				T_ASSERT_EQ(read_run(copy, k.rk, 1, &errs),
				    (uint64_t)PER_SEG * SEGS + 1);
				T_ASSERT_EQ(errs, 0); /* no broken link */
			}
			rm_rf(copy);
			if (!reached)
				break;
		}
	}
	/* The owner check's read, the listing and a stat at least fail it. */
	T_ASSERT(fails >= 3);
	rm_rf(dir);
	tkeys_finish(&k);
}

T_LIST(
    T_CASE(test_spool_read_faults_reported),
    T_CASE(test_spool_open_read_faults_reported))
