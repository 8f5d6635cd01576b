/*
 * test_spool.c - segment writing and reading, rollover, torn tails at every
 * byte offset, garbled frames, and I/O faults at every write and fsync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "t.h"

static char tmpl[] = "/tmp/ut-spool-XXXXXX";

static char *
mkdir_tmp(void)
{
	static char d[64];

	strcpy(d, tmpl);
	T_ASSERT(mkdtemp(d) != NULL);
	return d;
}

static void
rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static void
mk(struct ut_event *ev, uint64_t seq)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = seq;
	ev->mono_ns = 5000000000ull + seq * 1000000ull;
	ev->wall_ns = 1700000000000000000ll + (int64_t)seq * 1000000;
	ev->xtime = (uint32_t)seq;
	ev->sensitivity = UT_SENS_CONTENT;
	if (seq % 3 == 0) {
		ev->type = UT_EV_KEY;
		ev->u.key.keycode = (uint8_t)(seq % 200 + 8);
		ev->u.key.down = seq & 1;
		ev->u.key.keysym = 0x61 + seq % 26;
		ev->u.key.text[0] = (char)('a' + seq % 26);
	} else {
		ev->type = UT_EV_MOTION;
		ev->u.motion.x = (int32_t)(seq % 1920);
		ev->u.motion.y = (int32_t)(seq % 1080);
	}
}

/* Reads dir; checks records are 1..n in order; returns n. */
static uint64_t
read_prefix(const char *dir)
{
	struct spool_reader *rd;
	struct ut_event ev, want;
	uint64_t n = 0;
	int r;

	r = spool_reader_open(dir, &rd);
	if (r == UT_ENOTFOUND)
		return 0;
	T_ASSERT_EQ(r, 0);
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0)
			continue;
		n++;
		mk(&want, n);
		T_ASSERT_EQ(ev.seq, n);
		T_ASSERT_EQ(ev.type, want.type);
		T_ASSERT(ev.mono_ns == want.mono_ns && ev.wall_ns == want.wall_ns);
	}
	spool_reader_close(rd);
	return n;
}

static void
test_spool_roundtrip_and_rollover(void)
{
	struct spool_opts o = { 0 };
	struct spool *sp;
	struct ut_event ev;
	uint64_t i;
	char *d = mkdir_tmp();
	DIR *dh;
	struct dirent *de;
	int segs = 0;

	o.dir = d;
	o.segment_max_bytes = 2048;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 1; i <= 20000; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
		if (i % 500 == 0) {
			T_ASSERT_EQ(spool_commit(sp), 0);
			T_ASSERT_EQ(spool_acked_seq(sp), i);
		}
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(read_prefix(d), 20000);
	dh = opendir(d);
	while ((de = readdir(dh)) != NULL) {
		T_ASSERT(strstr(de->d_name, ".open") == NULL);
		if (strncmp(de->d_name, "seg-", 4) == 0)
			segs++;
	}
	closedir(dh);
	T_ASSERT(segs > 3);
	rm_rf(d);
}

static void
test_spool_open_rejects_bad_dir(void)
{
	struct spool_opts o = { 0 };
	struct spool *sp = NULL;

	o.dir = "/dev/null/sub";
	T_ASSERT(spool_open(&o, &sp) < 0);
	T_ASSERT(sp == NULL);
	o.dir = "";
	T_ASSERT_EQ(spool_open(&o, &sp), UT_EINVAL);
	T_ASSERT_EQ(spool_close(NULL), 0);
}

/* Writes k committed batches of 50 records; returns the file sizes. */
static void
write_batches(const char *d, int k, off_t *sizes, char *path, size_t pathsz)
{
	struct spool_opts o = { 0 };
	struct spool *sp;
	struct ut_event ev;
	struct stat st;
	uint64_t seq = 0;
	int b, i;

	o.dir = d;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	snprintf(path, pathsz, "%s/seg-00000001.uts.open", d);
	for (b = 0; b < k; b++) {
		for (i = 0; i < 50; i++) {
			mk(&ev, ++seq);
			T_ASSERT_EQ(spool_append(sp, &ev), 0);
		}
		T_ASSERT_EQ(spool_commit(sp), 0);
		T_ASSERT_EQ(stat(path, &st), 0);
		sizes[b] = st.st_size;
	}
	/* Simulate a crash: no close, the file stays ".open". */
	fsio_fault_arm(FSIO_FSYNC, 1, FSIO_FAULT_EIO);
	(void)spool_close(sp);
	fsio_fault_clear();
}

static void
test_spool_torn_tail_every_offset(void)
{
	char *d = mkdir_tmp(), path[512];
	off_t sizes[4], off;
	unsigned char *orig;
	size_t olen;
	int fd, b;
	uint64_t n, expect;

	write_batches(d, 4, sizes, path, sizeof(path));
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &orig, &olen), 0);
	T_ASSERT_EQ((off_t)olen, sizes[3]);
	for (off = 0; off <= (off_t)olen; off++) {
		fd = open(path, O_WRONLY | O_TRUNC);
		T_ASSERT(fd >= 0);
		T_ASSERT_EQ(write(fd, orig, (size_t)off), off);
		close(fd);
		expect = 0;
		for (b = 0; b < 4; b++)
			if (off >= sizes[b])
				expect = 50 * (uint64_t)(b + 1);
		n = read_prefix(d);
		T_ASSERT_EQ(n, expect);
	}
	free(orig);
	rm_rf(d);
}

static void
test_spool_garbled_frame_is_never_returned(void)
{
	char *d = mkdir_tmp(), path[512];
	off_t sizes[3], pos;
	unsigned char *orig;
	size_t olen;
	int fd;

	write_batches(d, 3, sizes, path, sizeof(path));
	T_ASSERT_EQ(fsio_read_file(path, 1 << 24, &orig, &olen), 0);
	/* Flip one bit in every byte position of the second frame. */
	for (pos = sizes[0]; pos < sizes[1]; pos++) {
		orig[pos] ^= 0x10;
		fd = open(path, O_WRONLY | O_TRUNC);
		T_ASSERT_EQ(write(fd, orig, olen), (ssize_t)olen);
		close(fd);
		T_ASSERT_EQ(read_prefix(d), 50);
		orig[pos] ^= 0x10;
	}
	free(orig);
	rm_rf(d);
}

/* A session of 6 commits of 40 records under one armed fault. */
static void
faulty_session(enum fsio_op op, unsigned nth, enum fsio_fault kind,
    uint64_t *acked, int *failed)
{
	struct spool_opts o = { 0 };
	struct spool *sp;
	struct ut_event ev;
	uint64_t seq = 0;
	char *d = mkdir_tmp();
	int b, i, r = 0;

	o.dir = d;
	o.segment_max_bytes = 1500;
	fsio_fault_arm(op, nth, kind);
	*failed = 0;
	if (spool_open(&o, &sp) < 0)
		T_FAIL("open");
	for (b = 0; b < 6 && r == 0; b++) {
		for (i = 0; i < 40 && r == 0; i++) {
			mk(&ev, ++seq);
			r = spool_append(sp, &ev);
		}
		if (r == 0)
			r = spool_commit(sp);
	}
	*acked = spool_acked_seq(sp);
	if (r < 0) {
		*failed = 1;
		/* Sticky: a later commit reports the same failure. */
		T_ASSERT_EQ(spool_commit(sp), r);
	}
	r = spool_close(sp);
	if (*failed)
		T_ASSERT(r < 0);
	if (r < 0)
		*failed = 1;
	fsio_fault_clear();
	/* Everything acknowledged is there, in order, nothing corrupt. */
	T_ASSERT(read_prefix(d) >= *acked);
	rm_rf(d);
}

static void
test_spool_faults_at_every_write_and_fsync(void)
{
	static const enum fsio_fault kinds[] = { FSIO_FAULT_EIO,
		FSIO_FAULT_ENOSPC, FSIO_FAULT_SHORT };
	static const enum fsio_op ops[] = { FSIO_WRITE, FSIO_FSYNC,
		FSIO_RENAME, FSIO_OPEN };
	uint64_t acked;
	unsigned nth, k, o, fired;
	int failed;

	for (o = 0; o < UT_ARRAY_LEN(ops); o++)
		for (k = 0; k < UT_ARRAY_LEN(kinds); k++) {
			fired = 0;
			for (nth = 1; nth < 60; nth++) {
				faulty_session(ops[o], nth, kinds[k], &acked, &failed);
				fired += (unsigned)failed;
				if (!failed)
					break; /* past the last call of op */
			}
			if (fired == 0)
				T_FAIL("op %u kind %u never fired", o, k);
		}
}

static void
test_spool_reader_empty_dir(void)
{
	struct spool_reader *rd;
	char *d = mkdir_tmp();

	T_ASSERT_EQ(spool_reader_open(d, &rd), UT_ENOTFOUND);
	T_ASSERT(spool_reader_open("/nonexistent/x", &rd) < 0);
	rm_rf(d);
}

static void
test_spool_appends_after_existing_segments(void)
{
	struct spool_opts o = { 0 };
	struct spool *sp;
	struct ut_event ev;
	char *d = mkdir_tmp();
	uint64_t i;

	o.dir = d;
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 1; i <= 10; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(spool_open(&o, &sp), 0);
	for (i = 11; i <= 20; i++) {
		mk(&ev, i);
		T_ASSERT_EQ(spool_append(sp, &ev), 0);
	}
	T_ASSERT_EQ(spool_close(sp), 0);
	T_ASSERT_EQ(read_prefix(d), 20);
	rm_rf(d);
}

T_LIST(T_CASE(test_spool_roundtrip_and_rollover),
    T_CASE(test_spool_open_rejects_bad_dir),
    T_CASE(test_spool_torn_tail_every_offset),
    T_CASE(test_spool_garbled_frame_is_never_returned),
    T_CASE(test_spool_faults_at_every_write_and_fsync),
    T_CASE(test_spool_reader_empty_dir),
    T_CASE(test_spool_appends_after_existing_segments))
