/*
 * reader.c - iterate the records of every segment of a spool directory.
 *
 * Segments are read in number order.  Each segment is first verified
 * without the key (spool__scan: header signature, device, segment number,
 * checkpoints against the frame chain, trailer); only the frames covered by
 * the last valid checkpoint or trailer are then decrypted (secretstream,
 * header hash as additional data), decompressed and decoded.  Bytes after
 * that point are the torn, unacknowledged tail of a crash, or tampering, and
 * are never returned.
 *
 * Invariants:
 *  (1) rd->batch holds the decompressed batch being iterated, and
 *      rd->batch_left counts its records not yet returned.
 *  (2) rd->frame_no <= rd->sc.covered: no uncovered frame is decrypted.
 *  (3) The segment key lives only in sodium_malloc'd memory, just long
 *      enough to initialise the stream state, which is itself guarded and
 *      wiped when the segment is dropped.
 *
 * States:  NO_SEGMENT -> SEGMENT [load_segment] -> NO_SEGMENT [drop_segment]
 *          after the last segment: END (spool_reader_next returns 0)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

struct spool_reader {
	char *dir;
	struct segname *segs;
	size_t nsegs, cur;      /* cur: next segment to load */
	const struct ut_recipient_key *key;
	uint8_t dev[32];
	bool have_dev;

	unsigned char *file;    /* current segment bytes */
	size_t file_len, off;
	struct seg_scan sc;
	uint64_t frame_no;
	bool seg_loaded;
	int seg_err;            /* returned once the verified prefix is read */
	crypto_secretstream_xchacha20poly1305_state *st; /* sodium_malloc'd */

	uint8_t *pt;            /* decrypted, still compressed */
	size_t pt_cap;
	uint8_t *batch;
	size_t batch_len, batch_cap;
	struct bufrd brd;
	uint64_t batch_left;
	struct event_codec codec;
	ZSTD_DCtx *zd;

	struct spool_read_stats stats;
};

int
spool_reader_open(const char *dir, const struct spool_read_opts *o,
    struct spool_reader **out)
{
	struct spool_reader *rd;
	int n;

	if (o == NULL || o->key == NULL)
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	rd = xcalloc(1, sizeof(*rd));
	rd->dir = xstrdup(dir);
	rd->key = o->key;
	if ((rd->st = sodium_malloc(sizeof(*rd->st))) == NULL ||
	    (rd->zd = ZSTD_createDCtx()) == NULL) {
		spool_reader_close(rd);
		return -ENOMEM;
	}
	if ((n = spool__list_segments(dir, &rd->segs)) < 0) {
		spool_reader_close(rd);
		return n;
	}
	rd->nsegs = (size_t)n;
	if (rd->nsegs == 0) {
		spool_reader_close(rd);
		return UT_ENOTFOUND;
	}
	if (o->device_pk != NULL) {
		memcpy(rd->dev, o->device_pk, 32);
		rd->have_dev = true;
	}
	*out = rd;
	return 0;
}

static void
drop_segment(struct spool_reader *rd)
{
	if (rd->file != NULL) {
		sodium_memzero(rd->file, rd->file_len);
		free(rd->file);
	}
	if (rd->batch != NULL)
		sodium_memzero(rd->batch, rd->batch_cap);
	if (rd->pt != NULL)
		sodium_memzero(rd->pt, rd->pt_cap);
	if (rd->st != NULL)
		sodium_memzero(rd->st, sizeof(*rd->st));
	rd->file = NULL;
	rd->file_len = rd->off = rd->batch_len = 0;
	rd->batch_left = 0;
	rd->frame_no = 0;
	rd->seg_loaded = false;
	rd->seg_err = 0;
}

/* Loads and verifies the next segment; 0 (possibly empty) or an error. */
static int
load_segment(struct spool_reader *rd)
{
	char path[4096];
	const struct segname *s = &rd->segs[rd->cur++];
	uint8_t *key = NULL;
	int r;

	rd->stats.segments++;
	if (s->open)
		rd->stats.open_segments++;
	snprintf(path, sizeof(path), "%s/%s", rd->dir, s->name);
	if ((r = fsio_read_file(path, SPOOL_FILE_CAP, &rd->file, &rd->file_len)) < 0)
		goto bad;
	r = spool__scan(rd->file, rd->file_len, rd->have_dev ? rd->dev : NULL,
	    &rd->sc);
	if (r < 0) {
		/* An open segment torn inside its header holds nothing. */
		if (s->open && rd->file_len < SPOOL_HDR_LEN && r == UT_ECORRUPT) {
			drop_segment(rd);
			return 0;
		}
		goto bad;
	}
	if (!rd->have_dev) {
		memcpy(rd->dev, rd->sc.device, 32);
		rd->have_dev = true;
	}
	if (rd->sc.segno != s->index) {
		r = UT_ECORRUPT; /* renamed, swapped or copied segment */
		goto bad;
	}
	if (!s->open && (!rd->sc.has_trailer || rd->sc.tail_err != 0))
		rd->seg_err = rd->sc.tail_err ? rd->sc.tail_err : UT_ECORRUPT;
	if (s->open && (rd->sc.tail_err != 0 || rd->sc.covered_end != rd->file_len))
		rd->stats.torn_tails++;
	if (rd->sc.has_trailer && (rd->sc.trailer_flags & SPOOL_TRAILER_RECOVERED))
		rd->stats.recovered_segments++;
	if (sodium_memcmp(rd->sc.recipient, rd->key->pk, 32) != 0) {
		r = UT_EDENIED; /* sealed to another recipient */
		goto bad;
	}
	if ((key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL) {
		r = -ENOMEM;
		goto bad;
	}
	if (crypto_box_seal_open(key, rd->file + SH_SEALED, SPOOL_SEALED_LEN,
	    rd->key->pk, rd->key->sk) != 0) {
		r = UT_EDENIED;
		goto bad;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(rd->st,
	    rd->file + SH_SSHDR, key) != 0) {
		r = UT_ECRYPTO;
		goto bad;
	}
	sodium_free(key);
	rd->off = SPOOL_HDR_LEN;
	rd->frame_no = 0;
	rd->seg_loaded = true;
	return 0;
bad:
	if (key != NULL)
		sodium_free(key);
	rd->stats.bad_segments++;
	drop_segment(rd);
	return r;
}

static void
grow(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	if (*p != NULL) {
		sodium_memzero(*p, *cap);
		free(*p);
	}
	*cap = need;
	*p = xmalloc(need);
}

/* Decrypts the next covered frame; 1 ok, 0 end of segment, <0 error. */
static int
next_frame(struct spool_reader *rd)
{
	unsigned long long raw, ptlen;
	uint32_t clen;
	uint64_t n;
	size_t dlen;
	unsigned char tag;
	const uint8_t *p;

	if (rd->frame_no >= rd->sc.covered)
		return 0;
	/* The structure up to covered_end was verified by spool__scan. */
	while (rd->off < rd->sc.covered_end && rd->file[rd->off] != SPOOL_REC_FRAME)
		rd->off += rd->file[rd->off] == SPOOL_REC_CKPT ? SPOOL_CKPT_LEN :
		    SPOOL_TRAILER_LEN;
	if (rd->off + SPOOL_FRAME_HDR > rd->sc.covered_end)
		return UT_ECORRUPT;
	p = rd->file + rd->off;
	clen = get_u32le(p + 1);
	grow(&rd->pt, &rd->pt_cap, clen);
	if (crypto_secretstream_xchacha20poly1305_pull(rd->st, rd->pt, &ptlen,
	    &tag, p + SPOOL_FRAME_HDR, clen, rd->sc.hh, SPOOL_HASH_LEN) != 0 ||
	    tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return UT_ECRYPTO;
	raw = ZSTD_getFrameContentSize(rd->pt, (size_t)ptlen);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN ||
	    raw == 0 || raw > SPOOL_BATCH_MAX)
		return UT_ECORRUPT;
	grow(&rd->batch, &rd->batch_cap, (size_t)raw);
	dlen = ZSTD_decompressDCtx(rd->zd, rd->batch, (size_t)raw, rd->pt,
	    (size_t)ptlen);
	sodium_memzero(rd->pt, (size_t)ptlen);
	if (ZSTD_isError(dlen) || dlen != raw)
		return UT_ECORRUPT;
	rd->batch_len = dlen;
	bufrd_init(&rd->brd, rd->batch, dlen);
	if (bufrd_get_varint(&rd->brd, &n) < 0 || n == 0)
		return UT_ECORRUPT;
	rd->batch_left = n;
	event_codec_init(&rd->codec);
	rd->off += SPOOL_FRAME_HDR + clen;
	rd->frame_no++;
	return 1;
}

int
spool_reader_next(struct spool_reader *rd, struct ut_event *ev)
{
	int r;

	for (;;) {
		if (rd->batch_left > 0) {
			if (event_decode(&rd->codec, &rd->brd, ev) == 0) {
				rd->batch_left--;
				rd->stats.records++;
				return 1;
			}
			/* Authentic but undecodable: a writer bug; never guess. */
			rd->stats.bad_segments++;
			drop_segment(rd);
			return UT_ECORRUPT;
		}
		if (rd->seg_loaded) {
			r = next_frame(rd);
			if (r == 1)
				continue;
			if (r < 0) {
				rd->stats.bad_segments++;
				drop_segment(rd);
				return r;
			}
			r = rd->seg_err;
			if (r < 0)
				rd->stats.bad_segments++;
			drop_segment(rd);
			if (r < 0)
				return r;
		}
		if (rd->cur >= rd->nsegs)
			return 0;
		if ((r = load_segment(rd)) < 0)
			return r;
	}
}

void
spool_reader_stats(const struct spool_reader *rd, struct spool_read_stats *st)
{
	*st = rd->stats;
}

int
spool_reader_rewind(struct spool_reader *rd)
{
	drop_segment(rd);
	rd->cur = 0;
	memset(&rd->stats, 0, sizeof(rd->stats));
	return 0;
}

void
spool_reader_close(struct spool_reader *rd)
{
	if (rd == NULL)
		return;
	drop_segment(rd);
	if (rd->st != NULL)
		sodium_free(rd->st);
	ZSTD_freeDCtx(rd->zd);
	free(rd->pt);
	free(rd->batch);
	free(rd->segs);
	free(rd->dir);
	free(rd);
}
