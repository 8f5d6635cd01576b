/*
 * bench_shred.c - the key store's shred at scale (issue 11; results in
 * docs/BENCHMARKS.md, "Server: reads, audit appends, shred").  Not
 * pass/fail.
 *
 * usage: bench_shred [--subjects N] [--days D] [--runs R] [--setup DIR] [DIR]
 *
 * Builds a key store of N subjects (default 10000), each with D day keys
 * (default 90) and one device's D daily ingest keys, through keystore.h in
 * a temporary folder under --setup (default /dev/shm: 2 x N x D durable
 * key writes would take the better part of an hour of fsyncs on a disk).
 * That is setup, timed apart.  The store is then copied to a temporary
 * folder under DIR (default /tmp, which should be the disk the server's
 * data lives on), every file fsync'd, reopened there, and R (default 5)
 * erasures of a whole person and R erasures of one day of one person are
 * timed, each of another victim, each checked (the person is gone; the
 * person has one day fewer).  A shred's fsyncs are inside its time.
 * Prints each time, the medians, and the generation file's size.  Both
 * temporary folders are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

static double
ms_of(uint64_t ns)
{
	return (double)ns / 1e6;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_shred [--subjects N] [--days D] [--runs R] "
	    "[--setup DIR] [DIR]\n");
	exit(2);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p) < 0 ? -errno : 0;
}

static void
rm_tree(const char *dir)
{
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_shred: could not remove %s\n", dir);
}

/* Copies the regular files and folders under src to dst (made 0700), each
 * file fsync'd, each folder fsync'd after its entries. */
static int
copy_tree(const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX], buf[1 << 16];
	struct dirent *e;
	struct stat st;
	DIR *dp;
	ssize_t n;
	int in, out, r = 0, dfd;

	if (mkdir(dst, 0700) < 0 && errno != EEXIST)
		return -errno;
	if ((dp = opendir(src)) == NULL)
		return -errno;
	while (r == 0 && (e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, e->d_name);
		snprintf(d, sizeof(d), "%s/%s", dst, e->d_name);
		if (lstat(s, &st) < 0) {
			r = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			r = copy_tree(s, d);
		} else if (S_ISREG(st.st_mode)) {
			if ((in = open(s, O_RDONLY | O_CLOEXEC)) < 0)
				r = -errno;
			else if ((out = open(d, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    st.st_mode & 0777)) < 0) {
				r = -errno;
				close(in);
			} else {
				while ((n = read(in, buf, sizeof(buf))) > 0)
					if (write(out, buf, (size_t)n) != n) {
						r = -EIO;
						break;
					}
				if (n < 0 || fsync(out) < 0)
					r = -errno;
				close(in);
				close(out);
			}
		}
	}
	closedir(dp);
	if (r == 0 && (dfd = open(dst, O_RDONLY | O_DIRECTORY)) >= 0) {
		if (fsync(dfd) < 0)
			r = -errno;
		close(dfd);
	}
	return r;
}

static double
median_ms(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? ms_of(v[n / 2]) : (ms_of(v[n / 2 - 1]) + ms_of(v[n / 2])) / 2;
}

static long long
gen_size(const char *keys, uint64_t gen)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/gen-%llu.ks", keys, (unsigned long long)gen);
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* Day keys and one device's ingest keys for days [day0, day0 + days). */
static int
shred_build(struct keystore *ks, const uint8_t *ids, size_t n, unsigned days,
    int32_t day0)
{
	uint8_t dev[32], pk[32], ct[1 + KEYSTORE_SEAL_OVERHEAD];
	const uint8_t one = 1;
	uint64_t t0 = ut_now_mono_ns();
	size_t i;
	unsigned d;
	int r;

	for (i = 0; i < n; i++)
		if ((r = keystore_subject_add(ks, ids + 16 * i)) < 0)
			return r;
	printf("setup: %zu subjects added in %.1f s\n", n,
	    (double)(ut_now_mono_ns() - t0) / 1e9);
	t0 = ut_now_mono_ns();
	for (i = 0; i < n; i++) {
		randombytes_buf(dev, sizeof(dev));
		for (d = 0; d < days; d++) {
			if ((r = keystore_day_seal(ks, ids + 16 * i, day0 + (int32_t)d,
			    NULL, 0, &one, 1, ct)) < 0 ||
			    (r = keystore_ingest_pk(ks, ids + 16 * i, dev,
			    day0 + (int32_t)d, pk)) < 0)
				return r;
		}
	}
	printf("setup: %u day keys and %u ingest keys each in %.1f s\n", days,
	    days, (double)(ut_now_mono_ns() - t0) / 1e9);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *setup = "/dev/shm", *base = "/tmp";
	char sdir[PATH_MAX - 64], ddir[PATH_MAX - 64], p[PATH_MAX], keys[PATH_MAX];
	struct keystore_opts o;
	struct keystore *ks = NULL;
	size_t n = 10000, runs = 5, i;
	unsigned days = 90;
	int32_t day0 = 20000, *dl = NULL;
	uint64_t *te = NULL, *td = NULL, t0;
	double me, md;
	uint8_t *ids = NULL;
	size_t ndl = 0;
	int r = 0, ret = 1;

	if (sodium_init() < 0)
		ut_fatal("sodium_init");
	ut_log_set_progname("bench_shred");
	ut_log_set_level(UT_LOG_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--subjects") == 0 && i + 1 < (size_t)argc)
			n = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < (size_t)argc)
			days = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < (size_t)argc)
			runs = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--setup") == 0 && i + 1 < (size_t)argc)
			setup = argv[++i];
		else if (argv[i][0] != '-')
			base = argv[i];
		else
			usage();
	}
	if (runs == 0 || n < 2 * runs || days < 2)
		usage();
	snprintf(sdir, sizeof(sdir), "%s/bench-ks.XXXXXX", setup);
	snprintf(ddir, sizeof(ddir), "%s/bench-ks.XXXXXX", base);
	if (mkdtemp(sdir) == NULL || mkdtemp(ddir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	ids = xcalloc(n, 16);
	randombytes_buf(ids, n * 16);
	te = xcalloc(runs, sizeof(*te));
	td = xcalloc(runs, sizeof(*td));

	memset(&o, 0, sizeof(o));
	snprintf(keys, sizeof(keys), "%s/keys", sdir);
	snprintf(p, sizeof(p), "%s/master-key", sdir);
	o.dir = keys;
	o.master_path = p;
	o.create = true;
	if ((r = keystore_open(&o, &ks)) < 0 ||
	    (r = shred_build(ks, ids, n, days, day0)) < 0)
		goto out;
	keystore_close(ks);
	ks = NULL;
	t0 = ut_now_mono_ns();
	if ((r = copy_tree(sdir, ddir)) < 0)
		goto out;
	sync();
	printf("setup: copied to %s (each file fsync'd) in %.1f s\n", base,
	    (double)(ut_now_mono_ns() - t0) / 1e9);
	rm_tree(sdir);
	sdir[0] = '\0';

	snprintf(keys, sizeof(keys), "%s/keys", ddir);
	snprintf(p, sizeof(p), "%s/master-key", ddir);
	o.create = false;
	t0 = ut_now_mono_ns();
	if ((r = keystore_open(&o, &ks)) < 0)
		goto out;
	printf("open: %zu subjects in %.1f ms; generation file %lld bytes\n", n,
	    ms_of(ut_now_mono_ns() - t0), gen_size(keys, keystore_generation(ks)));

	for (i = 0; i < runs; i++) {
		t0 = ut_now_mono_ns();
		if ((r = keystore_erase_subject(ks, ids + 16 * i)) < 0)
			goto out;
		te[i] = ut_now_mono_ns() - t0;
		if (keystore_subject_exists(ks, ids + 16 * i)) {
			fprintf(stderr, "bench_shred: erased subject still exists\n");
			goto out;
		}
		printf("erase person %zu: %.1f ms\n", i + 1, ms_of(te[i]));
	}
	for (i = 0; i < runs; i++) {
		const uint8_t *v = ids + 16 * (runs + i);

		t0 = ut_now_mono_ns();
		if ((r = keystore_erase_day(ks, v, day0 + (int32_t)days / 2)) < 0)
			goto out;
		td[i] = ut_now_mono_ns() - t0;
		if ((r = keystore_days(ks, v, &dl, &ndl)) < 0)
			goto out;
		free(dl);
		dl = NULL;
		if (ndl != days - 1) {
			fprintf(stderr, "bench_shred: %zu days left, want %u\n", ndl,
			    days - 1);
			goto out;
		}
		printf("erase one day of a person %zu: %.1f ms\n", i + 1, ms_of(td[i]));
	}
	me = median_ms(te, runs);      /* sorts */
	md = median_ms(td, runs);
	printf("shred: %zu subjects x %u days on %s: erase a person median %.1f ms "
	    "(min %.1f, max %.1f), erase a day median %.1f ms (min %.1f, max %.1f); "
	    "generation %llu, %lld bytes\n", n, days, base, me, ms_of(te[0]),
	    ms_of(te[runs - 1]), md, ms_of(td[0]), ms_of(td[runs - 1]),
	    (unsigned long long)keystore_generation(ks),
	    gen_size(keys, keystore_generation(ks)));
	ret = 0;
out:
	if (r < 0)
		fprintf(stderr, "bench_shred: shred: %s\n", ut_strerror(r));
	keystore_close(ks);
	if (sdir[0] != '\0')
		rm_tree(sdir);
	rm_tree(ddir);
	free(ids);
	free(te);
	free(td);
	return ret;
}
