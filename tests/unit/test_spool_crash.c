/*
 * test_spool_crash.c - crash safety of the spool (P10, spool.c invariants
 * 2 and 3).
 *
 *  - 1,000 SIGKILLs of a child process writing through the real spool code:
 *    half at a random time, half at a random write / fsync / rename (the
 *    I/O seam's "crash" fault), recovery included.  After each kill the
 *    parent recovers the spool and checks that every acknowledged record is
 *    present and intact, that each run's records are an unbroken prefix,
 *    that no segment is left open or corrupt, and that nothing crashed.
 *  - A simulated power loss: the bytes after the last durable checkpoint
 *    are cut, garbled or zeroed at every byte offset; recovery must keep
 *    exactly the acknowledged records.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "spool_t.h"

#define KILLS 1000
#define KILLS_PER_DIR 10
#define RUN_SHIFT 32

struct shared {
	volatile uint64_t acked; /* last acknowledged k of the current run */
	volatile int started;
};

/* The child: append and commit until killed (or a cap). */
static void
child(const char *d, const struct tkeys *k, uint64_t run, unsigned crash_mode,
    unsigned nth, struct shared *sh)
{
	static const enum fsio_op ops[] = { FSIO_WRITE, FSIO_FSYNC, FSIO_RENAME };
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	uint64_t kk = 0;
	unsigned b, i, n;

	if (crash_mode > 0)
		fsio_fault_arm(ops[crash_mode - 1], nth, FSIO_FAULT_CRASH);
	topts(&o, d, k);
	o.segment_max_bytes = 1200 + randombytes_uniform(3000);
	if (spool_open(&o, &sp) < 0)
		_exit(3);
	sh->started = 1;
	for (b = 0; b < 40; b++) {
		n = 1 + randombytes_uniform(60);
		for (i = 0; i < n; i++) {
			mk(&ev, (run << RUN_SHIFT) | ++kk);
			if (spool_append(sp, &ev) < 0)
				_exit(4);
		}
		if (spool_commit(sp) < 0)
			_exit(5);
		sh->acked = spool_acked_seq(sp) & 0xffffffffu;
		if (b % 13 == 12 && spool_rotate(sp) < 0)
			_exit(6);
	}
	/* Sometimes exit without closing: the segment stays open. */
	if (randombytes_uniform(2) == 0)
		_exit(0);
	_exit(spool_close(sp) == 0 ? 0 : 7);
}

/* Verifies dir: runs 1..nruns each an unbroken prefix >= acked[run]. */
static void
verify(const char *d, const struct tkeys *k, const uint64_t *acked,
    uint64_t first_run, uint64_t nruns)
{
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct ut_event ev;
	uint64_t run, cur_run = first_run, next = 1, got[KILLS_PER_DIR + 1];
	unsigned bad = 99;
	int r;

	memset(got, 0, sizeof(got));
	memset(&ro, 0, sizeof(ro));
	ro.key = k->rk;
	r = spool_reader_open(d, &ro, &rd);
	if (r == UT_ENOTFOUND)
		goto check;
	T_ASSERT_EQ(r, 0);
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		T_ASSERT_EQ(r, 1); /* nothing refused, nothing corrupt */
		T_ASSERT(same_as_mk(&ev));
		run = ev.seq >> RUN_SHIFT;
		T_ASSERT(run >= cur_run && run < first_run + nruns);
		if (run != cur_run) {
			cur_run = run;
			next = 1;
		}
		T_ASSERT_EQ(ev.seq & 0xffffffffu, next);
		got[run - first_run] = next;
		next++;
	}
	spool_reader_close(rd);
check:
	for (run = 0; run < nruns; run++)
		if (got[run] < acked[run])
			T_FAIL("run %llu: %llu acknowledged, %llu read",
			    (unsigned long long)(first_run + run),
			    (unsigned long long)acked[run],
			    (unsigned long long)got[run]);
	if (count_files(d, ".uts") + count_files(d, ".open") > 0) {
		T_ASSERT_EQ(spool_check(d, NULL, NULL, NULL, &bad), 0);
		T_ASSERT_EQ(bad, 0);
	}
}

static void
test_spool_crash_sigkill_1000_times(void)
{
	struct shared *sh;
	struct tkeys k;
	struct spool_opts o;
	struct spool *sp;
	uint64_t acked[KILLS_PER_DIR];
	char *d = NULL;
	unsigned i, mode, by_time = 0, by_fault = 0, clean = 0;
	pid_t pid;
	int status;

	tkeys_init(&k);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(sh != MAP_FAILED);
	for (i = 0; i < KILLS; i++) {
		if (i % KILLS_PER_DIR == 0) {
			if (d != NULL)
				rm_rf(d);
			d = mkdir_tmp();
		}
		sh->acked = 0;
		sh->started = 0;
		mode = i % 2 ? 1 + randombytes_uniform(3) : 0;
		fflush(NULL);
		pid = fork();
		T_ASSERT(pid >= 0);
		if (pid == 0)
			child(d, &k, i % KILLS_PER_DIR + 1, mode,
			    1 + randombytes_uniform(mode == 1 ? 12 : 6), sh);
		if (mode == 0) {
			struct timespec ts = { 0, (long)randombytes_uniform(3000000) };

			nanosleep(&ts, NULL);
			kill(pid, SIGKILL);
		}
		T_ASSERT_EQ(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status)) {
			T_ASSERT_EQ(WTERMSIG(status), SIGKILL);
			if (mode == 0)
				by_time++;
			else
				by_fault++;
		} else {
			/* Finished before the kill / fault: must be clean. */
			T_ASSERT_EQ(WEXITSTATUS(status), 0);
			clean++;
		}
		acked[i % KILLS_PER_DIR] = sh->acked;
		/* Recovery in the parent, then everything acknowledged. */
		topts(&o, d, &k);
		T_ASSERT_EQ(spool_open(&o, &sp), 0);
		T_ASSERT_EQ(spool_close(sp), 0);
		T_ASSERT_EQ(count_files(d, ".open"), 0);
		verify(d, &k, acked, 1, i % KILLS_PER_DIR + 1);
	}
	rm_rf(d);
	munmap(sh, sizeof(*sh));
	fprintf(stderr, "  %u killed at a random time, %u at a random I/O call, "
	    "%u finished first\n", by_time, by_fault, clean);
	T_ASSERT(by_time + by_fault >= KILLS * 8 / 10);
	tkeys_finish(&k);
}

/*
 * Power loss: commit K of 4 is durable; the bytes of commit 5 (frame and
 * checkpoint) are the unsynced tail.  At every byte offset of that tail the
 * file is cut, garbled with random bytes, or zero-filled; recovery must
 * keep exactly the 4*40 acknowledged records and close the segment.
 */
static void
test_spool_power_loss_every_offset(void)
{
	struct spool_opts o;
	struct spool *sp;
	struct ut_event ev;
	struct tkeys k;
	char *d = mkdir_tmp(), open_path[512], closed_path[512];
	unsigned char *full, *img;
	size_t flen, off, durable = 0;
	struct stat st;
	uint64_t seq = 0;
	unsigned bad;
	uint64_t n;
	int b, i, variant;

	tkeys_init(&k);
	topts(&o, d, &k);
	snprintf(open_path, sizeof(open_path), "%s/seg-00000001.uts.open", d);
	snprintf(closed_path, sizeof(closed_path), "%s/seg-00000001.uts", d);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (b = 0; b < 5; b++) {
		for (i = 0; i < 40; i++) {
			mk(&ev, ++seq);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
		if (b == 3) {
			T_ASSERT_EQ(stat(open_path, &st), 0);
			durable = (size_t)st.st_size;
		}
	}
	fsio_fault_arm(FSIO_WRITE, 1, FSIO_FAULT_EIO); /* die before the trailer */
	T_ASSERT(spool_close(sp) < 0);
	fsio_fault_clear();
	T_ASSERT_EQ(fsio_read_file(open_path, 1 << 24, &full, &flen), 0);
	T_ASSERT(flen > durable);
	img = xmalloc(flen);
	for (variant = 0; variant < 3; variant++) {
		for (off = durable; off < flen; off++) {
			memcpy(img, full, flen);
			if (variant == 1) {
				randombytes_buf(img + off, flen - off);
				/* Garbled means changed: random bytes can repeat the
				 * original (1 in 256 for the last byte). */
				if (img[off] == full[off])
					img[off] ^= 0xff;
			}
			else if (variant == 2)
				memset(img + off, 0, flen - off);
			(void)unlink(closed_path);
			write_file(open_path, img, variant == 0 ? off : flen);
			T_ASSERT_EQ(spool_open(&o, &sp), 0);
			T_ASSERT_EQ(spool_close(sp), 0);
			T_ASSERT_EQ(count_files(d, ".open"), 0);
			/*
			 * Everything acknowledged (160) is kept, and nothing of
			 * the unsynced commit once any byte of it was lost:
			 * the checkpoint's count, head and signature cover
			 * every byte of it.  A zero fill can leave the tail as
			 * it was (its last byte was 0): then the commit is
			 * whole and kept (200).
			 */
			n = read_prefix(d, k.rk);
			if (variant == 0 || memcmp(img + off, full + off, flen - off) != 0)
				T_ASSERT_EQ(n, 160);
			else
				T_ASSERT_EQ(n, 200);
			bad = 99;
			T_ASSERT_EQ(spool_check(d, NULL, NULL, NULL, &bad), 0);
			T_ASSERT_EQ(bad, 0);
		}
	}
	free(img);
	free(full);
	tkeys_finish(&k);
	rm_rf(d);
}

T_LIST(T_CASE(test_spool_crash_sigkill_1000_times),
    T_CASE(test_spool_power_loss_every_offset))
