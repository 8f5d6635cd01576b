/*
 * test_blob.c - the blob store (blob.h), written once against the
 * interface: every case gets its store from store_url(), so a second
 * implementation (s3:) runs the same cases.  Only the cases named *_dir_*
 * look beneath the interface (file layout, modes, a damaged file).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "t.h"
#include "usetrace/blob.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"

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

static const char *
store_url(void)
{
	snprintf(dir_buf, sizeof(dir_buf), "/tmp/ut-blob-XXXXXX");
	if (mkdtemp(dir_buf) == NULL)
		abort();
	remember_dir(dir_buf);
	snprintf(url_buf, sizeof(url_buf), "dir:%s/blobs", dir_buf);
	return url_buf;
}

static struct blobstore *
fresh(void)
{
	struct blobstore *b = NULL;

	T_ASSERT_EQ(blob_open(store_url(), true, &b), 0);
	return b;
}

static void
payload(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31u + seed);
}

static void
test_blob_open_errors(void)
{
	struct blobstore *b = NULL;

	T_ASSERT_EQ(blob_open("nosuch:/x", true, &b), UT_EINVAL);
	T_ASSERT_EQ(blob_open("s3://bucket", true, &b), UT_EINVAL);
	store_url();
	T_ASSERT_EQ(blob_open(url_buf, false, &b), UT_ENOTFOUND);
	T_ASSERT(b == NULL);
	T_ASSERT_EQ(blob_open(url_buf, true, &b), 0);
	blob_close(b);
	b = NULL;
	T_ASSERT_EQ(blob_open(url_buf, false, &b), 0);
	blob_close(b);
	blob_close(NULL);
}

static void
test_blob_put_get_delete(void)
{
	struct blobstore *b = fresh();
	uint8_t data[5000], h[32], h2[32], want[32], *out = NULL;
	size_t n = 0;

	payload(data, sizeof(data), 1);
	crypto_generichash(want, sizeof(want), data, sizeof(data), NULL, 0);
	T_ASSERT_EQ(blob_put(b, data, sizeof(data), h), 0);
	T_ASSERT(memcmp(h, want, 32) == 0);
	T_ASSERT(blob_exists(b, h));
	T_ASSERT_EQ(blob_put(b, data, sizeof(data), h2), 0);   /* idempotent */
	T_ASSERT(memcmp(h, h2, 32) == 0);

	T_ASSERT_EQ(blob_get(b, h, sizeof(data), &out, &n), 0);
	T_ASSERT_EQ(n, sizeof(data));
	T_ASSERT(memcmp(out, data, n) == 0);
	free(out);
	out = NULL;
	T_ASSERT_EQ(blob_get(b, h, sizeof(data) - 1, &out, &n), UT_ETOOBIG);
	T_ASSERT(out == NULL);

	/* Its end alone: the last bytes and the size, nothing past it. */
	{
		uint8_t tail[117];
		uint64_t size = 0;

		T_ASSERT_EQ(blob_get_tail(b, h, sizeof(tail), tail, &size), 0);
		T_ASSERT_EQ(size, sizeof(data));
		T_ASSERT(memcmp(tail, data + sizeof(data) - sizeof(tail),
		    sizeof(tail)) == 0);
		out = malloc(sizeof(data));
		T_ASSERT(out != NULL);
		T_ASSERT_EQ(blob_get_tail(b, h, sizeof(data), out, &size), 0);
		T_ASSERT(memcmp(out, data, sizeof(data)) == 0);
		T_ASSERT_EQ(blob_get_tail(b, h, sizeof(data) + 1, out, &size),
		    UT_ECORRUPT);
		free(out);
		out = NULL;
	}

	/* The empty blob. */
	T_ASSERT_EQ(blob_put(b, data, 0, h2), 0);
	T_ASSERT_EQ(blob_get(b, h2, 10, &out, &n), 0);
	T_ASSERT_EQ(n, 0);
	free(out);
	out = NULL;

	T_ASSERT_EQ(blob_delete(b, h), 0);
	T_ASSERT(!blob_exists(b, h));
	T_ASSERT_EQ(blob_delete(b, h), UT_ENOTFOUND);
	T_ASSERT_EQ(blob_get(b, h, sizeof(data), &out, &n), UT_ENOTFOUND);
	T_ASSERT(out == NULL);
	{
		uint8_t tail[8];
		uint64_t size = 0;

		T_ASSERT_EQ(blob_get_tail(b, h, sizeof(tail), tail, &size),
		    UT_ENOTFOUND);
	}

	/* Persists across a reopen. */
	T_ASSERT_EQ(blob_put(b, data, 100, h), 0);
	blob_close(b);
	b = NULL;
	T_ASSERT_EQ(blob_open(url_buf, false, &b), 0);
	T_ASSERT_EQ(blob_get(b, h, 100, &out, &n), 0);
	T_ASSERT_EQ(n, 100);
	free(out);
	blob_close(b);
}

static void
blob_file(const uint8_t h[32], char *path, size_t n)
{
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), h, 32);
	snprintf(path, n, "%s/blobs/%.2s/%s", dir_buf, hex, hex + 2);
}

static int
count_entries(const char *dir)
{
	struct dirent *e;
	DIR *dp = opendir(dir);
	int n = 0;

	if (dp == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static void
test_blob_dir_layout_and_corruption(void)
{
	struct blobstore *b = fresh();
	uint8_t data[300], h[32], *out = NULL;
	char path[700];
	struct stat st;
	size_t n;
	int fd;

	payload(data, sizeof(data), 2);
	T_ASSERT_EQ(blob_put(b, data, sizeof(data), h), 0);
	blob_file(h, path, sizeof(path));
	T_ASSERT_EQ(stat(path, &st), 0);
	T_ASSERT_EQ(st.st_mode & 0777, 0600);
	*strrchr(path, '/') = '\0';
	T_ASSERT_EQ(stat(path, &st), 0);
	T_ASSERT_EQ(st.st_mode & 0777, 0700);
	T_ASSERT_EQ((int)strlen(strrchr(path, '/') + 1), 2);

	/* Flip one byte: the blob no longer hashes to its name. */
	blob_file(h, path, sizeof(path));
	fd = open(path, O_WRONLY);
	T_ASSERT(fd >= 0);
	T_ASSERT_EQ(pwrite(fd, "X", 1, 17), 1);
	close(fd);
	T_ASSERT_EQ(blob_get(b, h, sizeof(data), &out, &n), UT_ECORRUPT);
	T_ASSERT(out == NULL);
	/* Truncated: a put of the same bytes repairs it. */
	T_ASSERT_EQ(truncate(path, 10), 0);
	T_ASSERT_EQ(blob_get(b, h, sizeof(data), &out, &n), UT_ECORRUPT);
	T_ASSERT_EQ(blob_put(b, data, sizeof(data), h), 0);
	T_ASSERT_EQ(blob_get(b, h, sizeof(data), &out, &n), 0);
	free(out);

	/* blob_open() removes leftover temporary files. */
	blob_close(b);
	snprintf(path, sizeof(path), "%s/blobs/tmp/leftover.123", dir_buf);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	T_ASSERT(fd >= 0);
	close(fd);
	b = NULL;
	T_ASSERT_EQ(blob_open(url_buf, false, &b), 0);
	snprintf(path, sizeof(path), "%s/blobs/tmp", dir_buf);
	T_ASSERT_EQ(count_entries(path), 0);
	blob_close(b);
}

/* Each I/O error during a put is reported and leaves no visible blob. */
static void
test_blob_io_faults(void)
{
	static const enum fsio_op ops[] = { FSIO_OPEN, FSIO_WRITE, FSIO_FSYNC,
		FSIO_RENAME };
	struct blobstore *b = fresh();
	uint8_t data[1000], h[32], want[32];
	char tmp[600];
	unsigned o, nth, calls[4];
	int r;

	payload(data, sizeof(data), 3);
	fsio_fault_clear();
	T_ASSERT_EQ(blob_put(b, data, 10, h), 0);
	for (o = 0; o < 4; o++)
		calls[o] = fsio_calls(ops[o]);
	T_ASSERT(calls[2] >= 2);
	crypto_generichash(want, sizeof(want), data, sizeof(data), NULL, 0);
	snprintf(tmp, sizeof(tmp), "%s/blobs/tmp", dir_buf);
	for (o = 0; o < 4; o++) {
		for (nth = 1; nth <= calls[o]; nth++) {
			fsio_fault_arm(ops[o], nth, FSIO_FAULT_EIO);
			r = blob_put(b, data, sizeof(data), h);
			fsio_fault_clear();
			T_ASSERT(r < 0);
			/* Only the last fsync (of the directory) follows the rename. */
			if (!(ops[o] == FSIO_FSYNC && nth == calls[o]))
				T_ASSERT(!blob_exists(b, want));
			T_ASSERT_EQ(count_entries(tmp), 0);
			if (blob_exists(b, want))
				T_ASSERT_EQ(blob_delete(b, want), 0);
		}
	}
	fsio_fault_arm(FSIO_WRITE, 1, FSIO_FAULT_SHORT);
	T_ASSERT(blob_put(b, data, sizeof(data), h) < 0);
	fsio_fault_clear();
	T_ASSERT(!blob_exists(b, want));
	blob_close(b);
}

/*
 * A crash (SIGKILL) at each I/O call of a put, in a child: afterwards the
 * blob is either absent or whole (only a crash after the rename can leave
 * it, and then its bytes were fsync'd), and reopening removes any
 * temporary file.
 */
static void
test_blob_crash_during_put(void)
{
	static const enum fsio_op ops[] = { FSIO_OPEN, FSIO_WRITE, FSIO_FSYNC,
		FSIO_RENAME };
	struct blobstore *b = fresh();
	uint8_t data[4096], h[32], want[32], *out;
	char tmp[600];
	unsigned o, nth, calls[4];
	size_t n;
	pid_t pid;
	int st, crashes = 0;

	payload(data, sizeof(data), 4);
	fsio_fault_clear();
	T_ASSERT_EQ(blob_put(b, data, 20, h), 0);
	for (o = 0; o < 4; o++)
		calls[o] = fsio_calls(ops[o]);
	crypto_generichash(want, sizeof(want), data, sizeof(data), NULL, 0);
	snprintf(tmp, sizeof(tmp), "%s/blobs/tmp", dir_buf);
	for (o = 0; o < 4; o++) {
		for (nth = 1; nth <= calls[o]; nth++) {
			fflush(NULL);
			pid = fork();
			T_ASSERT(pid >= 0);
			if (pid == 0) {
				fsio_fault_arm(ops[o], nth, FSIO_FAULT_CRASH);
				_exit(blob_put(b, data, sizeof(data), h) == 0 ? 0 : 1);
			}
			T_ASSERT_EQ(waitpid(pid, &st, 0), pid);
			blob_close(b);
			b = NULL;
			T_ASSERT_EQ(blob_open(url_buf, false, &b), 0);
			T_ASSERT_EQ(count_entries(tmp), 0);
			/* A put that ran to its end (0) must have stored it whole. */
			T_ASSERT((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) ||
			    (WIFEXITED(st) && WEXITSTATUS(st) == 0));
			crashes += WIFSIGNALED(st);
			if (WIFSIGNALED(st) && (ops[o] != FSIO_FSYNC || nth != calls[o])) {
				T_ASSERT(!blob_exists(b, want));
				continue;
			}
			out = NULL;
			T_ASSERT_EQ(blob_get(b, want, sizeof(data), &out, &n), 0);
			T_ASSERT_EQ(n, sizeof(data));
			free(out);
			T_ASSERT_EQ(blob_delete(b, want), 0);
		}
	}
	/*
	 * A crash after making the 2-hex subdirectory leaves it, so a later
	 * put needs one fsync fewer and may run to its end: at most one miss.
	 */
	T_ASSERT(crashes + 1 >= (int)(calls[0] + calls[1] + calls[2] + calls[3]));
	blob_close(b);
}

/*
 * Part reads (blob_range_*) hash the whole blob first and then read parts;
 * a side file (blob_aux_*) goes with its blob.  The changed byte is far
 * from the part read, so only the whole-blob hash can refuse it.
 */
static void
test_blob_dir_range_and_aux(void)
{
	struct blobstore *b = fresh();
	static uint8_t data[300000];
	uint8_t h[32], part[100], *out = NULL;
	struct blob_range *r = NULL;
	char path[512], hex[65];
	size_t n = 0;
	FILE *f;

	payload(data, sizeof(data), 7);
	T_ASSERT_EQ(blob_put(b, data, sizeof(data), h), 0);
	T_ASSERT_EQ(blob_range_open(b, h, &r), 0);
	T_ASSERT_EQ(blob_range_size(r), sizeof(data));
	T_ASSERT_EQ(blob_range_read(r, 1000, part, sizeof(part)), 0);
	T_ASSERT(memcmp(part, data + 1000, sizeof(part)) == 0);
	T_ASSERT_EQ(blob_range_read(r, sizeof(data) - 10, part, sizeof(part)), UT_ECORRUPT);
	blob_range_close(r);
	blob_range_close(NULL);
	/* The side file. */
	T_ASSERT_EQ(blob_aux_get(b, h, 1024, &out, &n), UT_ENOTFOUND);
	T_ASSERT_EQ(blob_aux_put(b, h, (const uint8_t *)"index-1", 7), 0);
	T_ASSERT_EQ(blob_aux_put(b, h, (const uint8_t *)"index-22", 8), 0);
	T_ASSERT_EQ(blob_aux_get(b, h, 1024, &out, &n), 0);
	T_ASSERT(n == 8 && memcmp(out, "index-22", 8) == 0);
	free(out);
	/* A byte changed on disk, far from the part: refused at open. */
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", dir_buf, hex, hex + 2);
	T_ASSERT((f = fopen(path, "r+b")) != NULL);
	T_ASSERT_EQ(fseek(f, 250000, SEEK_SET), 0);
	T_ASSERT_EQ(fputc(data[250000] ^ 1, f), data[250000] ^ 1);
	T_ASSERT_EQ(fclose(f), 0);
	r = NULL;
	T_ASSERT_EQ(blob_range_open(b, h, &r), UT_ECORRUPT);
	T_ASSERT(r == NULL);
	/* Deleting the blob deletes its side file. */
	T_ASSERT_EQ(blob_delete(b, h), 0);
	T_ASSERT_EQ(blob_range_open(b, h, &r), UT_ENOTFOUND);
	strncat(path, ".aux", sizeof(path) - strlen(path) - 1);
	T_ASSERT(access(path, F_OK) < 0 && errno == ENOENT);
	T_ASSERT_EQ(blob_aux_put(b, h, (const uint8_t *)"x", 1), UT_ENOTFOUND);
	blob_close(b);
}

T_LIST(T_CASE(test_blob_open_errors), T_CASE(test_blob_put_get_delete),
    T_CASE(test_blob_dir_layout_and_corruption), T_CASE(test_blob_io_faults),
    T_CASE(test_blob_crash_during_put), T_CASE(test_blob_dir_range_and_aux))
