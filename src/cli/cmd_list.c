/*
 * cmd_list.c - `usetrace list`: the recordings on this device, each with
 * its time span, size and segments, read without decrypting anything
 * (spool_check: signed headers and trailers).  `usetrace record` notes
 * each recording directory in the key home's `recordings` file (one
 * absolute path a line, 0600); directories can also be named directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "cli_int.h"

#define LIST_FILE "recordings"
#define LIST_FILE_MAX (1u << 20)

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace list [DIR...]\n\n"
	    "Lists the recordings on this device: each directory `usetrace\n"
	    "record` wrote to (or each DIR given), with its time span (UTC),\n"
	    "size and segments (open ones are still being written, or were cut\n"
	    "by a crash).  Nothing is decrypted.  Recordings whose directory is\n"
	    "gone (uploaded and removed, or deleted) are left out unless named.\n"
	    "Exit status: 0, or 1 when a DIR given cannot be read.\n");
}

struct span {
	const char *dir;
	unsigned segs, open, corrupt;
	uint64_t bytes;
	int64_t from, to;
};

static int
on_seg(const struct spool_seg_info *si, void *arg)
{
	struct span *s = arg;
	char path[PATH_MAX];
	struct stat st;
	int64_t end = si->end_wall_ns;

	s->segs++;
	s->bytes += si->bytes;
	if (si->state == SPOOL_SEG_CORRUPT)
		s->corrupt++;
	if (si->state == SPOOL_SEG_OPEN)
		s->open++;
	if (si->start_wall_ns > 0 && (s->from == 0 || si->start_wall_ns < s->from))
		s->from = si->start_wall_ns;
	/* An open segment has no end yet: its last write is near enough. */
	if (end == 0 && snprintf(path, sizeof(path), "%s/%s", s->dir, si->name) <
	    (int)sizeof(path) && stat(path, &st) == 0)
		end = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (end > s->to)
		s->to = end;
	return 0;
}

static void
human(uint64_t b, char *out, size_t n)
{
	if (b < 1000)
		snprintf(out, n, "%" PRIu64 " B", b);
	else if (b < 1000000)
		snprintf(out, n, "%.1f kB", (double)b / 1e3);
	else if (b < 1000000000)
		snprintf(out, n, "%.1f MB", (double)b / 1e6);
	else
		snprintf(out, n, "%.1f GB", (double)b / 1e9);
}

/* One line for dir; -1 when it cannot be read (logged when named). */
static int
list_one(const char *dir, bool named)
{
	struct span s;
	char from[32], to[32], size[32];
	int r;

	memset(&s, 0, sizeof(s));
	s.dir = dir;
	r = spool_check(dir, NULL, on_seg, &s, NULL);
	if (r == UT_ENOTFOUND && s.segs == 0) {
		if (named)
			printf("%-40s no segments\n", dir);
		return 0;
	}
	if (r < 0) {
		if (named || r != -ENOENT)
			log_error("list: cannot read %s: %s", dir, ut_strerror(r));
		return named || r != -ENOENT ? -1 : 0;
	}
	cli_fmt_time(s.from, from, sizeof(from));
	cli_fmt_time(s.to, to, sizeof(to));
	human(s.bytes, size, sizeof(size));
	printf("%-40s %s .. %s  %9s  %u segment(s)", dir, from, to, size, s.segs);
	if (s.open)
		printf(", %u open", s.open);
	if (s.corrupt)
		printf(", %u corrupt", s.corrupt);
	printf("\n");
	return 0;
}

void
cli_recording_remember(const char *home, const char *dir)
{
	char abs[PATH_MAX], path[PATH_MAX + 16];
	unsigned char *d = NULL;
	size_t n = 0, k;
	const char *p, *nl;
	int fd, r;

	if (realpath(dir, abs) == NULL || strchr(abs, '\n') != NULL)
		return;
	snprintf(path, sizeof(path), "%s/" LIST_FILE, home);
	r = fsio_read_file(path, LIST_FILE_MAX, &d, &n);
	if (r < 0 && r != -ENOENT) {
		log_warn("record: cannot read %s: %s", path, ut_strerror(r));
		return;
	}
	k = strlen(abs);
	for (p = (const char *)d; p != NULL && p < (const char *)d + n; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)((const char *)d + n - p));
		if (nl == NULL)
			break;
		if ((size_t)(nl - p) == k && memcmp(p, abs, k) == 0) {
			free(d);
			return; /* known */
		}
	}
	free(d);
	if (n + k + 1 > LIST_FILE_MAX)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	abs[k] = '\n';
	if (fd < 0 || write(fd, abs, k + 1) != (ssize_t)(k + 1))
		log_warn("record: cannot note the recording in %s: %s", path,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
}

int
cmd_list(int argc, char **argv)
{
	char home[PATH_MAX], path[PATH_MAX + 16];
	unsigned char *d = NULL;
	size_t n = 0;
	char *p, *nl;
	int i, r, bad = 0, any = 0;

	if (cli_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			log_error("list: unknown option '%s'", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (list_one(argv[i], true) < 0)
				bad = 1;
		return bad;
	}
	if ((r = keys_home(home, sizeof(home), false)) < 0) {
		log_error("list: no key home: %s", ut_strerror(r));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/" LIST_FILE, home);
	r = fsio_read_file(path, LIST_FILE_MAX, &d, &n);
	if (r < 0 && r != -ENOENT) {
		log_error("list: cannot read %s: %s", path, ut_strerror(r));
		return 1;
	}
	for (p = (char *)d; p != NULL && p < (char *)d + n; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)((char *)d + n - p))) == NULL)
			break;
		*nl = '\0';
		if (*p == '/') {
			any = 1;
			(void)list_one(p, false);
		}
	}
	free(d);
	if (!any)
		printf("no recordings yet (`usetrace record --out DIR` makes one)\n");
	return 0;
}
