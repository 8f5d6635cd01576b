/*
 * spool_t.h - helpers shared by the spool tests (test_spool*.c): temporary
 * directories (tmpfs when available, so the many fsyncs stay fast), test
 * keys, deterministic records and a verifying reader.
 */
#ifndef USETRACE_SPOOL_T_H
#define USETRACE_SPOOL_T_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "t.h"

struct tkeys {
	struct ut_device_key *dev;
	struct ut_recipient_key *rk;
};

static inline char *
mkdir_tmp(void)
{
	static char d[8][64];
	static unsigned i;
	char *p = d[i++ % 8];

	if (access("/dev/shm", W_OK) == 0)
		strcpy(p, "/dev/shm/ut-spool-XXXXXX");
	else
		strcpy(p, "/tmp/ut-spool-XXXXXX");
	T_ASSERT(mkdtemp(p) != NULL);
	return p;
}

static inline void
rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* A device key and a recipient key pair (no passphrase: fast). */
static inline void
tkeys_init(struct tkeys *k)
{
	T_ASSERT(sodium_init() >= 0);
	k->dev = sodium_malloc(sizeof(*k->dev));
	k->rk = sodium_malloc(sizeof(*k->rk));
	T_ASSERT(k->dev != NULL && k->rk != NULL);
	crypto_sign_keypair(k->dev->pk, k->dev->sk);
	crypto_box_keypair(k->rk->pk, k->rk->sk);
}

static inline void
tkeys_finish(struct tkeys *k)
{
	keys_device_free(k->dev);
	keys_recipient_free(k->rk);
	k->dev = NULL;
	k->rk = NULL;
}

static inline void
topts(struct spool_opts *o, const char *dir, const struct tkeys *k)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->device = k->dev;
	o->recipient_pk = k->rk->pk;
}

static inline void
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

static inline bool
same_as_mk(const struct ut_event *ev)
{
	struct ut_event want;

	mk(&want, ev->seq);
	if (ev->type != want.type || ev->mono_ns != want.mono_ns ||
	    ev->wall_ns != want.wall_ns || ev->xtime != want.xtime)
		return false;
	if (ev->type == UT_EV_KEY)
		return ev->u.key.keycode == want.u.key.keycode &&
		    ev->u.key.keysym == want.u.key.keysym &&
		    strcmp(ev->u.key.text, want.u.key.text) == 0;
	return ev->u.motion.x == want.u.motion.x &&
	    ev->u.motion.y == want.u.motion.y;
}

/*
 * Reads dir with rk; checks the records are first, first+1, ... in order
 * and intact; returns how many.  *nerr (may be NULL) counts negative
 * returns (segments refused).
 */
static inline uint64_t
read_run(const char *dir, const struct ut_recipient_key *rk, uint64_t first,
    int *nerr)
{
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct ut_event ev;
	uint64_t n = 0;
	int r, errs = 0;

	memset(&ro, 0, sizeof(ro));
	ro.key = rk;
	r = spool_reader_open(dir, &ro, &rd);
	if (nerr != NULL)
		*nerr = 0;
	if (r == UT_ENOTFOUND)
		return 0;
	T_ASSERT_EQ(r, 0);
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0) {
			errs++;
			continue;
		}
		T_ASSERT_EQ(ev.seq, first + n);
		T_ASSERT(same_as_mk(&ev));
		n++;
	}
	spool_reader_close(rd);
	if (nerr != NULL)
		*nerr = errs;
	return n;
}

static inline uint64_t
read_prefix(const char *dir, const struct ut_recipient_key *rk)
{
	return read_run(dir, rk, 1, NULL);
}

static inline int
count_files(const char *dir, const char *suffix)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	size_t sl = strlen(suffix), nl;
	int n = 0;

	T_ASSERT(dh != NULL);
	while ((de = readdir(dh)) != NULL) {
		nl = strlen(de->d_name);
		if (strncmp(de->d_name, "seg-", 4) == 0 && nl >= sl &&
		    strcmp(de->d_name + nl - sl, suffix) == 0)
			n++;
	}
	closedir(dh);
	return n;
}

static inline void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	T_ASSERT(fd >= 0);
	T_ASSERT_EQ(write(fd, p, n), (ssize_t)n);
	close(fd);
}

#endif
