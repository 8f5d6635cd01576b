/*
 * fuzz_segment_read.c - the spool reader and verifier (segment header and
 * signature, record types and lengths, checkpoints and the frame chain,
 * trailer, secretstream, zstd, record decoding) on an arbitrary segment
 * file, both as an open and as a closed segment, then recovery.
 *
 * The keys are fixed (seeded), so the corpus (fuzz/corpus/segment_read/,
 * written by `test_spool_tamper --write-corpus DIR`) holds valid segments
 * whose every layer, decryption included, the fuzzer can reach.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/keys.h"
#include "usetrace/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Seeds shared with tests/unit/test_spool_tamper.c (corpus writer). */
#define FUZZ_DEVICE_SEED 0x11
#define FUZZ_RECIPIENT_SEED 0x22

static void
read_all(const char *dir, const struct ut_recipient_key *rk)
{
	struct spool_read_opts ro;
	struct spool_reader *rd;
	struct ut_event ev;
	int r, guard = 0;

	memset(&ro, 0, sizeof(ro));
	ro.key = rk;
	if (spool_reader_open(dir, &ro, &rd) == 0) {
		while ((r = spool_reader_next(rd, &ev)) != 0 && guard++ < 1000000)
			;
		spool_reader_close(rd);
	}
	(void)!spool_check(dir, NULL, NULL, NULL, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	static struct ut_recipient_key *rk;
	static struct ut_device_key *dk;
	uint8_t seed[32];
	char path[128], closed[128];
	struct spool_opts o;
	struct spool *sp;
	int fd;

	if (dir[0] == '\0') {
		if (sodium_init() < 0)
			abort();
		snprintf(dir, sizeof(dir), "/tmp/ut-fuzz-seg-%d", (int)getpid());
		if (mkdir(dir, 0700) < 0 && access(dir, W_OK) < 0)
			abort();
		rk = sodium_malloc(sizeof(*rk));
		dk = sodium_malloc(sizeof(*dk));
		memset(seed, FUZZ_RECIPIENT_SEED, sizeof(seed));
		crypto_box_seed_keypair(rk->pk, rk->sk, seed);
		memset(seed, FUZZ_DEVICE_SEED, sizeof(seed));
		crypto_sign_seed_keypair(dk->pk, dk->sk, seed);
	}
	snprintf(path, sizeof(path), "%s/seg-00000001.uts.open", dir);
	snprintf(closed, sizeof(closed), "%s/seg-00000001.uts", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	read_all(dir, rk);
	if (rename(path, closed) == 0)
		read_all(dir, rk);
	unlink(closed);
	/* Recovery of the same bytes as an open segment. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.device = dk;
	o.recipient_pk = rk->pk;
	if (spool_open(&o, &sp) == 0) {
		(void)spool_close(sp);
		read_all(dir, rk);
	}
	unlink(path);
	unlink(closed);
	return 0;
}
