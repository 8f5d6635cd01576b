/*
 * test_keystore_crash.c - a shred survives a crash or an I/O error at
 * every step (invariants (1)-(3) in src/keystore/keystore.c).
 *
 * The crash sweep runs the erasure in a child process that dies by
 * SIGKILL at the Nth call of each fsio operation, for every N until the
 * erasure completes without reaching the fault.  After each crash the
 * store must open, and either (a) the erasure did not happen and
 * everything reads, or (b) it did: the erased data is unreadable, with
 * any key reachable from the master key file, and everything else reads.
 * The error sweep injects EIO at each call in-process instead: the call
 * fails cleanly and the store still opens in state (a) or (b).
 */
#include <signal.h>
#include <sys/wait.h>

#include "ks_test.h"

static const uint8_t S[16] = { 1, 2, 3 };
static const uint8_t T[16] = { 4, 5, 6 };
static const uint8_t DEV[32] = { 7 };

#define D1 19000
#define D2 19001
#define MSG "content of a day"
#define MLEN (sizeof(MSG) - 1)
#define CTLEN (MLEN + KEYSTORE_SEAL_OVERHEAD)

enum what { ERASE_DAY, ERASE_SUBJECT, SEAL_NEW_DAY, ADD_SUBJECT };

/* The ciphertexts of the template store. */
static uint8_t c_s1[CTLEN], c_s2[CTLEN], c_t1[CTLEN], sealed[80];

static int
open_ct(struct keystore *ks, const uint8_t *subj, int32_t day,
    const uint8_t ct[CTLEN])
{
	uint8_t pt[MLEN];
	int r = keystore_day_open(ks, subj, day, NULL, 0, ct, CTLEN, pt);

	if (r == 0 && memcmp(pt, MSG, MLEN) != 0)
		return UT_ECORRUPT;
	return r;
}

static void
make_template(struct kst *k)
{
	struct keystore *ks;
	uint8_t pk[32], seg[32] = { 42 };

	kst_init(k);
	ks = kst_open(k, true);
	T_ASSERT_EQ(keystore_subject_add(ks, S), 0);
	T_ASSERT_EQ(keystore_subject_add(ks, T), 0);
	T_ASSERT_EQ(keystore_day_seal(ks, S, D1, NULL, 0, (const uint8_t *)MSG, MLEN, c_s1), 0);
	T_ASSERT_EQ(keystore_day_seal(ks, S, D2, NULL, 0, (const uint8_t *)MSG, MLEN, c_s2), 0);
	T_ASSERT_EQ(keystore_day_seal(ks, T, D1, NULL, 0, (const uint8_t *)MSG, MLEN, c_t1), 0);
	T_ASSERT_EQ(keystore_ingest_pk(ks, S, DEV, D1, pk), 0);
	T_ASSERT_EQ(crypto_box_seal(sealed, seg, 32, pk), 0);
	keystore_close(ks);
}

static int
run(struct keystore *ks, enum what w)
{
	uint8_t ct[CTLEN], u[16] = { 9, 9 };

	switch (w) {
	case ERASE_DAY:
		return keystore_erase_day(ks, S, D1);
	case ERASE_SUBJECT:
		return keystore_erase_subject(ks, S);
	case SEAL_NEW_DAY:
		return keystore_day_seal(ks, T, D2, NULL, 0, (const uint8_t *)MSG,
		    MLEN, ct);
	case ADD_SUBJECT:
		return keystore_subject_add(ks, u);
	}
	return UT_EINVAL;
}

/* No key reachable from the store's master key file opens S's day 1. */
static void
check_unreachable(const struct kst *k)
{
	struct kst_files f;
	struct kst_keys keys;

	memset(&f, 0, sizeof(f));
	kst_files_add_store(&f, k->dir);
	kst_closure(k->master, &f, &keys);
	T_ASSERT(!kst_any_opens(&keys, S, D1, c_s1, CTLEN));
	T_ASSERT(!kst_any_unseals(&keys, sealed));
	free(keys.k);
	kst_files_free(&f);
}

/* Opens the store after a crash or failure; checks state (a) or (b). */
static void
check_after(const struct kst *k, enum what w, bool *happened)
{
	struct keystore *ks = kst_open(k, false);
	uint8_t u[16] = { 9, 9 };
	int r = open_ct(ks, S, D1, c_s1);

	T_ASSERT_EQ(open_ct(ks, T, D1, c_t1), 0);
	if (w == ERASE_DAY || w == ERASE_SUBJECT) {
		T_ASSERT(r == 0 || r == UT_ENOTFOUND);
		*happened = r == UT_ENOTFOUND;
		T_ASSERT_EQ(keystore_generation(ks), *happened ? 2 : 1);
		T_ASSERT_EQ(open_ct(ks, S, D2, c_s2),
		    *happened && w == ERASE_SUBJECT ? UT_ENOTFOUND : 0);
	} else {
		T_ASSERT_EQ(r, 0);
		T_ASSERT_EQ(open_ct(ks, S, D2, c_s2), 0);
		*happened = w == ADD_SUBJECT ? keystore_subject_exists(ks, u) : true;
	}
	/* Only the files in force remain. */
	T_ASSERT_EQ(kst_count_files(k->dir), 1);
	if (*happened && (w == ERASE_DAY || w == ERASE_SUBJECT)) {
		keystore_close(ks);
		check_unreachable(k);
		return;
	}
	if (w == ERASE_DAY || w == ERASE_SUBJECT) {
		/* The caller re-runs the erasure from its audit intent. */
		T_ASSERT_EQ(run(ks, w), 0);
		T_ASSERT_EQ(open_ct(ks, S, D1, c_s1), UT_ENOTFOUND);
		keystore_close(ks);
		check_unreachable(k);
		return;
	}
	keystore_close(ks);
}

/* Crash at call n of op; returns true when the child finished first. */
static bool
crash_once(const struct kst *tpl, enum what w, enum fsio_op op, unsigned n,
    unsigned *crashes)
{
	struct kst k;
	struct keystore *ks;
	bool happened = false, done;
	pid_t pid;
	int st;

	kst_copy(tpl, &k);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		struct keystore_opts o = { k.dir, k.master, false };

		if (keystore_open(&o, &ks) != 0)
			_exit(3);
		fsio_fault_arm(op, n, FSIO_FAULT_CRASH);
		if (run(ks, w) != 0)
			_exit(4);
		_exit(0);
	}
	T_ASSERT(waitpid(pid, &st, 0) == pid);
	done = WIFEXITED(st);
	if (done)
		T_ASSERT_EQ(WEXITSTATUS(st), 0);
	else
		T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	if (!done)
		(*crashes)++;
	check_after(&k, w, &happened);
	if (done)
		T_ASSERT(happened);
	kst_rm(&k);
	return done;
}

static void
crash_sweep(enum what w)
{
	struct kst tpl;
	unsigned op, n, crashes = 0;

	make_template(&tpl);
	for (op = 0; op < FSIO_OP_COUNT; op++)
		for (n = 1; n < 100 && !crash_once(&tpl, w, (enum fsio_op)op, n,
		    &crashes); n++)
			;
	/* A shred has at least 3 opens, 3 writes, 5 fsyncs, 2 renames. */
	T_ASSERT(crashes >= (w == ERASE_DAY ? 13u : 10u));
	kst_rm(&tpl);
}

static void
error_sweep(enum what w, enum fsio_fault kind)
{
	struct kst tpl, k;
	struct keystore *ks;
	unsigned op, n, fails = 0;
	bool happened, reached;
	int r;

	make_template(&tpl);
	for (op = 0; op < FSIO_OP_COUNT; op++) {
		for (n = 1; n < 100; n++) {
			kst_copy(&tpl, &k);
			ks = kst_open(&k, false);
			fsio_fault_arm((enum fsio_op)op, n, kind);
			r = run(ks, w);
			reached = fsio_calls((enum fsio_op)op) >= n;
			fsio_fault_clear();
			if (reached && r < 0) {
				fails++;
				/* The handle still reads what was not erased. */
				T_ASSERT_EQ(open_ct(ks, T, D1, c_t1), 0);
				/* A shred that switched but could not make it
				 * durable leaves the handle read-only. */
				if ((w == ERASE_DAY || w == ERASE_SUBJECT) &&
				    open_ct(ks, S, D1, c_s1) == UT_ENOTFOUND)
					T_ASSERT_EQ(keystore_subject_add(ks, DEV),
					    UT_ESTATE);
			} else {
				T_ASSERT_EQ(r, 0);
			}
			keystore_close(ks);
			check_after(&k, w, &happened);
			/* Success despite a fault: only the cleanup after a
			 * durable switch ignores errors. */
			if (r == 0)
				T_ASSERT(happened);
			kst_rm(&k);
			if (!reached)
				break;
		}
	}
	T_ASSERT(fails >= 4);
	kst_rm(&tpl);
}

static void
test_keystore_crash_erase_day(void)
{
	crash_sweep(ERASE_DAY);
}

static void
test_keystore_crash_erase_subject(void)
{
	crash_sweep(ERASE_SUBJECT);
}

static void
test_keystore_crash_new_day_and_subject(void)
{
	struct kst tpl;
	unsigned op, n, crashes = 0;
	enum what w;

	make_template(&tpl);
	for (w = SEAL_NEW_DAY; w <= ADD_SUBJECT; w++)
		for (op = 0; op < FSIO_OP_COUNT; op++)
			for (n = 1; n < 100 && !crash_once(&tpl, w,
			    (enum fsio_op)op, n, &crashes); n++)
				;
	T_ASSERT(crashes >= 8);
	kst_rm(&tpl);
}

static void
test_keystore_eio_erase_day(void)
{
	error_sweep(ERASE_DAY, FSIO_FAULT_EIO);
	error_sweep(ERASE_DAY, FSIO_FAULT_SHORT);
}

static void
test_keystore_eio_erase_subject(void)
{
	error_sweep(ERASE_SUBJECT, FSIO_FAULT_EIO);
}

static void
test_keystore_eio_new_day_and_subject(void)
{
	error_sweep(SEAL_NEW_DAY, FSIO_FAULT_EIO);
	error_sweep(ADD_SUBJECT, FSIO_FAULT_ENOSPC);
}

T_LIST(T_CASE(test_keystore_crash_erase_day),
    T_CASE(test_keystore_crash_erase_subject),
    T_CASE(test_keystore_crash_new_day_and_subject),
    T_CASE(test_keystore_eio_erase_day),
    T_CASE(test_keystore_eio_erase_subject),
    T_CASE(test_keystore_eio_new_day_and_subject))
