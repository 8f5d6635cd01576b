/*
 * bench_spool.c - sustained spool throughput on one core (encode, zstd -1,
 * secretstream, BLAKE2b chain, signed checkpoints) and the cost of a group
 * commit, against zstd -1 and secretstream alone on the same batches.
 *
 * usage: bench_spool [DIR] [RECORDS]
 *   DIR      where to write (default /dev/shm, else /tmp); a fresh
 *            subdirectory is made and removed
 *   RECORDS  records per run (default 4000000)
 *
 * Throughput counts the encoded (uncompressed) record bytes, the size the
 * compressor sees.  Results: docs/BENCHMARKS.md, section "Spool".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/event.h"
#include "usetrace/keys.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"

/* A plausible event log: mostly motion, keys in bursts, some clicks/focus. */
static void
gen(struct ut_event *ev, uint64_t i, uint32_t *rng)
{
	uint32_t r;

	*rng = *rng * 1103515245u + 12345u;
	r = *rng >> 8;
	memset(ev, 0, sizeof(*ev));
	ev->seq = i + 1;
	ev->mono_ns = 1000000000ull + i * 7000000ull + r % 3000000;
	ev->wall_ns = 1700000000000000000ll + (int64_t)ev->mono_ns;
	ev->xtime = (uint32_t)(ev->mono_ns / 1000000);
	ev->sensitivity = UT_SENS_CONTENT;
	switch (r % 20) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		ev->type = UT_EV_KEY;
		ev->u.key.keysym = 0x61 + r % 26;
		ev->u.key.keycode = (uint8_t)(24 + r % 30);
		ev->u.key.down = (uint8_t)(i & 1);
		ev->u.key.text[0] = (char)('a' + r % 26);
		break;
	case 6:
		ev->type = UT_EV_BUTTON;
		ev->u.button.button = 1;
		ev->u.button.down = (uint8_t)(i & 1);
		ev->u.button.x = (int32_t)(r % 1920);
		ev->u.button.y = (int32_t)(r % 1080);
		break;
	case 7:
		if (r % 50 == 0) {
			ev->type = UT_EV_FOCUS;
			ev->u.focus.window = 0x400000 + r % 16;
			strcpy(ev->u.focus.app, "Mousepad");
			strcpy(ev->u.focus.instance, "mousepad");
			snprintf(ev->u.focus.title, sizeof(ev->u.focus.title),
			    "notes-%u.txt - Mousepad", r % 16);
			break;
		}
		/* fall through */
	default:
		ev->type = UT_EV_MOTION;
		ev->u.motion.x = (int32_t)(500 + (int)(i % 800) + (int)(r % 7));
		ev->u.motion.y = (int32_t)(300 + (int)(i % 500) + (int)(r % 5));
		break;
	}
}

/*
 * Records come from a pre-generated ring with seq and times patched, so the
 * generator's cost (memset of a 1 KiB record) stays out of the timing.
 */
#define RING 8192
static struct ut_event *ring;

static void
ring_init(void)
{
	uint32_t rng = 1;
	uint64_t i;

	ring = calloc(RING, sizeof(*ring));
	if (ring == NULL)
		abort();
	for (i = 0; i < RING; i++)
		gen(&ring[i], i, &rng);
}

static const struct ut_event *
next_ev(uint64_t i)
{
	struct ut_event *ev = &ring[i % RING];
	uint64_t lap = i / RING * RING * 7000000ull;

	ev->seq = i + 1;
	ev->mono_ns = 1000000000ull + (i % RING) * 7000000ull + lap;
	ev->wall_ns = 1700000000000000000ll + (int64_t)ev->mono_ns;
	ev->xtime = (uint32_t)(ev->mono_ns / 1000000);
	return ev;
}

static double
now_s(void)
{
	return (double)ut_now_mono_ns() / 1e9;
}

static void
rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* Encoded size of all records in batches of `per` (what zstd sees). */
static size_t
encoded_bytes(uint64_t n, unsigned per, struct buf *all, size_t *nbatches,
    size_t *batch_off)
{
	struct event_codec c;
	uint64_t i;

	*nbatches = 0;
	for (i = 0; i < n; i++) {
		if (i % per == 0) {
			event_codec_init(&c);
			batch_off[(*nbatches)++] = all->len;
		}
		if (event_encode(&c, next_ev(i), all) < 0)
			abort();
	}
	batch_off[*nbatches] = all->len;
	return all->len;
}

int
main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] :
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 4000000, i;
	struct ut_device_key *dk;
	struct ut_recipient_key *rk;
	char dir[512];
	struct spool_opts o;
	struct spool *sp;
	struct buf all;
	size_t *boff, nb, in_bytes, b, clen, zsum = 0;
	uint8_t *zbuf, *cbuf, key[32], hdr[24];
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned long long ctlen;
	double t0, tick, t_enc, t_spool, t_zstd, t_ss, t_commit;
	unsigned commits;
	int pass;

	if (sodium_init() < 0 || n == 0)
		return 1;
	dk = sodium_malloc(sizeof(*dk));
	rk = sodium_malloc(sizeof(*rk));
	if (dk == NULL || rk == NULL)
		return 1;
	crypto_sign_keypair(dk->pk, dk->sk);
	crypto_box_keypair(rk->pk, rk->sk);

	ring_init();
	/* Baselines on batches of 20,000 records (about 256 KiB, as the spool). */
	buf_init(&all, (size_t)1 << 31);
	boff = calloc(n / 20000 + 2, sizeof(*boff));
	in_bytes = encoded_bytes(n, 20000, &all, &nb, boff); /* warm-up */
	buf_reset(&all);
	t0 = now_s();
	in_bytes = encoded_bytes(n, 20000, &all, &nb, boff);
	t_enc = now_s() - t0;
	zbuf = malloc(ZSTD_compressBound(in_bytes));
	cbuf = malloc(ZSTD_compressBound(in_bytes) + 64);
	t0 = now_s();
	for (pass = 0; pass < 3; pass++)
		for (b = 0, zsum = 0; b < nb; b++) {
			clen = ZSTD_compress(zbuf, ZSTD_compressBound(in_bytes),
			    all.data + boff[b], boff[b + 1] - boff[b], 1);
			zsum += clen;
		}
	t_zstd = (now_s() - t0) / 3;
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
	t0 = now_s();
	for (pass = 0; pass < 3; pass++)
		for (b = 0; b < nb; b++)
			crypto_secretstream_xchacha20poly1305_push(&st, cbuf, &ctlen,
			    all.data + boff[b], boff[b + 1] - boff[b], NULL, 0, 0);
	t_ss = (now_s() - t0) / 3;

	/*
	 * The spool: a group commit every 200 ms, as the recorder's tick; in
	 * between, frames are sealed every 256 KiB of records.
	 */
	snprintf(dir, sizeof(dir), "%s/ut-bench-spool-%d", base, (int)getpid());
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.device = dk;
	o.recipient_pk = rk->pk;
	if (spool_open(&o, &sp) < 0)
		return 1;
	t0 = now_s();
	tick = t0 + 0.2;
	for (i = 0; i < n; i++) {
		if (spool_append(sp, next_ev(i)) < 0)
			return 1;
		if (i % 1024 == 1023 && now_s() >= tick) {
			if (spool_commit(sp) < 0)
				return 1;
			tick += 0.2;
		}
	}
	if (spool_close(sp) < 0)
		return 1;
	t_spool = now_s() - t0;
	rm_rf(dir);

	/* Group commit cost: 2000 commits of 10 records each. */
	if (spool_open(&o, &sp) < 0)
		return 1;
	commits = 2000;
	t0 = now_s();
	for (i = 0; i < commits * 10ull; i++) {
		if (spool_append(sp, next_ev(i)) < 0)
			return 1;
		if (i % 10 == 9 && spool_commit(sp) < 0)
			return 1;
	}
	t_commit = (now_s() - t0) / commits;
	if (spool_close(sp) < 0)
		return 1;
	rm_rf(dir);

	printf("records: %llu, encoded %.1f MB (%.1f B/record), zstd -1 ratio %.1fx\n",
	    (unsigned long long)n, in_bytes / 1e6, (double)in_bytes / (double)n,
	    (double)in_bytes / (double)zsum);
	printf("zstd -1 alone:        %8.1f MB/s\n", in_bytes / 1e6 / t_zstd);
	printf("secretstream alone:   %8.1f MB/s\n", in_bytes / 1e6 / t_ss);
	printf("spool (all layers):   %8.1f MB/s  %10.0f records/s  (dir %s)\n",
	    in_bytes / 1e6 / t_spool, (double)n / t_spool, base);
	printf("record encoding alone:%8.1f MB/s  %10.0f records/s\n",
	    in_bytes / 1e6 / t_enc, (double)n / t_enc);
	printf("spool minus encoding: %8.1f MB/s\n",
	    in_bytes / 1e6 / (t_spool - t_enc));
	printf("spool vs slower baseline: %.2fx slower (%.2fx without encoding)\n",
	    t_spool / (t_zstd > t_ss ? t_zstd : t_ss),
	    (t_spool - t_enc) / (t_zstd > t_ss ? t_zstd : t_ss));
	printf("group commit (10 records, fdatasync + signature): %.3f ms\n",
	    t_commit * 1e3);
	buf_finish(&all);
	free(boff);
	free(zbuf);
	free(cbuf);
	free(ring);
	sodium_free(dk);
	sodium_free(rk);
	return 0;
}
