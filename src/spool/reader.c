/*
 * reader.c - iterate the records of every segment of a spool directory, and
 * the frame decoder (struct seg_dec) it shares with the memory reader of
 * stored.c.
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
 *  (1) d->batch holds the decompressed batch being iterated, and
 *      d->batch_left counts its records not yet returned.
 *  (2) d->frame_no <= d->covered: no uncovered frame is decrypted.
 *  (3) The segment key lives only in sodium_malloc'd memory, just long
 *      enough to initialise the stream state, which is itself guarded and
 *      wiped when the segment is dropped.
 *
 * States:  NO_SEGMENT -> SEGMENT [load_segment] -> NO_SEGMENT [drop_segment]
 *          after the last segment: END (spool_reader_next returns 0)
 */
#include <errno.h>
#include <stdarg.h>
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

int
spool__dec_init(struct seg_dec *d)
{
	memset(d, 0, sizeof(*d));
	if ((d->st = sodium_malloc(sizeof(*d->st))) == NULL ||
	    (d->zd = ZSTD_createDCtx()) == NULL) {
		spool__dec_finish(d);
		return -ENOMEM;
	}
	return 0;
}

int
spool__dec_start(struct seg_dec *d, const uint8_t *img,
    const struct seg_scan *sc, const uint8_t *key)
{
	spool__dec_stop(d);
	if (crypto_secretstream_xchacha20poly1305_init_pull(d->st,
	    img + SH_SSHDR, key) != 0)
		return UT_ECRYPTO;
	d->img = img;
	d->off = sc->hdr_len;
	d->covered_end = sc->covered_end;
	d->covered = sc->covered;
	memcpy(d->hh, sc->hh, SPOOL_HASH_LEN);
	return 0;
}

int
spool__dec_start_rec(struct seg_dec *d, const uint8_t hh[SPOOL_HASH_LEN],
    const uint8_t *sshdr, const uint8_t *key, const uint8_t nonce[12],
    const uint8_t *rec, size_t n)
{
	spool__dec_stop(d);
	if (n < SPOOL_FRAME_HDR || rec[0] != SPOOL_REC_FRAME ||
	    get_u32le(rec + SF_LEN) != n - SPOOL_FRAME_HDR)
		return UT_ECORRUPT;
	if (crypto_secretstream_xchacha20poly1305_init_pull(d->st, sshdr,
	    key) != 0)
		return UT_ECRYPTO;
	/* The state before record i is (k, nonce_i): k is fixed (no rekey). */
	memcpy(d->st->nonce, nonce, sizeof(d->st->nonce));
	d->img = rec;
	d->off = 0;
	d->covered_end = n;
	d->covered = 1;
	memcpy(d->hh, hh, SPOOL_HASH_LEN);
	return 0;
}

void
spool__dec_stop(struct seg_dec *d)
{
	if (d->batch != NULL)
		sodium_memzero(d->batch, d->batch_cap);
	if (d->pt != NULL)
		sodium_memzero(d->pt, d->pt_cap);
	if (d->st != NULL)
		sodium_memzero(d->st, sizeof(*d->st));
	d->img = NULL;
	d->off = d->covered_end = 0;
	d->covered = d->frame_no = d->batch_left = 0;
}

void
spool__dec_finish(struct seg_dec *d)
{
	spool__dec_stop(d);
	if (d->st != NULL)
		sodium_free(d->st);
	ZSTD_freeDCtx(d->zd);
	free(d->pt);
	free(d->batch);
	memset(d, 0, sizeof(*d));
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
next_frame(struct seg_dec *d)
{
	unsigned long long raw, ptlen;
	uint32_t clen;
	uint64_t n;
	size_t dlen;
	unsigned char tag;
	const uint8_t *p;

	if (d->img == NULL || d->frame_no >= d->covered)
		return 0;
	/* The structure up to covered_end was verified by spool__scan. */
	while (d->off < d->covered_end && d->img[d->off] != SPOOL_REC_FRAME)
		d->off += d->img[d->off] == SPOOL_REC_CKPT ? SPOOL_CKPT_LEN :
		    SPOOL_TRAILER_LEN;
	if (d->off + SPOOL_FRAME_HDR > d->covered_end)
		return UT_ECORRUPT;
	p = d->img + d->off;
	clen = get_u32le(p + SF_LEN);
	/* A scan taken from spool_upload_info is checked here, not walked. */
	if (clen > d->covered_end - d->off - SPOOL_FRAME_HDR)
		return UT_ECORRUPT;
	grow(&d->pt, &d->pt_cap, clen);
	d->rec_off = d->off;
	d->rec_len = clen;
	memcpy(d->rec_nonce, d->st->nonce, sizeof(d->rec_nonce));
	if (crypto_secretstream_xchacha20poly1305_pull(d->st, d->pt, &ptlen,
	    &tag, p + SPOOL_FRAME_HDR, clen, d->hh, SPOOL_HASH_LEN) != 0 ||
	    tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return UT_ECRYPTO;
	raw = ZSTD_getFrameContentSize(d->pt, (size_t)ptlen);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN ||
	    raw == 0 || raw > SPOOL_BATCH_MAX)
		return UT_ECORRUPT;
	grow(&d->batch, &d->batch_cap, (size_t)raw);
	dlen = ZSTD_decompressDCtx(d->zd, d->batch, (size_t)raw, d->pt,
	    (size_t)ptlen);
	sodium_memzero(d->pt, (size_t)ptlen);
	if (ZSTD_isError(dlen) || dlen != raw)
		return UT_ECORRUPT;
	bufrd_init(&d->brd, d->batch, dlen);
	if (bufrd_get_varint(&d->brd, &n) < 0 || n == 0)
		return UT_ECORRUPT;
	d->batch_left = n;
	event_codec_init(&d->codec);
	d->off += SPOOL_FRAME_HDR + clen;
	d->frame_no++;
	return 1;
}

int
spool__dec_next(struct seg_dec *d, struct ut_event *ev)
{
	int r;

	for (;;) {
		if (d->batch_left > 0) {
			/* Authentic but undecodable: a writer bug; never guess. */
			if (event_decode(&d->codec, &d->brd, ev) != 0)
				return UT_ECORRUPT;
			d->batch_left--;
			return 1;
		}
		if ((r = next_frame(d)) != 1)
			return r;
	}
}

struct spool_reader {
	char *dir;
	struct segname *segs;
	struct seg_link *links;  /* one per segment: headers, then trailers */
	size_t nsegs, cur;      /* cur: next segment to load */
	const struct ut_recipient_key *key;
	uint8_t dev[32];
	bool have_dev;
	ssize_t last_closed;    /* index of the last valid closed segment, -1 */

	unsigned char *file;    /* current segment bytes */
	size_t file_len;
	struct seg_scan sc;
	bool seg_loaded;
	int seg_err;            /* returned once the verified prefix is read */
	char seg_why[96];       /* what seg_err is, in words */
	struct seg_dec dec;
	char err[256];          /* spool_reader_error() */

	struct spool_read_stats stats;
};

static bool
has_device(const struct seg_link *all, size_t n, const uint8_t *dev)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (all[i].ok && memcmp(all[i].device, dev, 32) == 0)
			return true;
	return false;
}

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
	rd->last_closed = -1;
	if ((n = spool__dec_init(&rd->dec)) < 0) {
		spool_reader_close(rd);
		return n;
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
	if ((n = spool__read_headers(dir, rd->segs, rd->nsegs, &rd->links)) < 0) {
		spool_reader_close(rd);
		return n;
	}
	if (o->device_pk != NULL) {
		memcpy(rd->dev, o->device_pk, 32);
		rd->have_dev = true;
	} else if (o->own_device_pk != NULL &&
	    has_device(rd->links, rd->nsegs, o->own_device_pk)) {
		memcpy(rd->dev, o->own_device_pk, 32);
		rd->have_dev = true;
	} else {
		rd->have_dev = spool__main_device(rd->links, rd->nsegs, rd->dev);
	}
	*out = rd;
	return 0;
}

static void
drop_segment(struct spool_reader *rd)
{
	spool__dec_stop(&rd->dec);
	if (rd->file != NULL) {
		sodium_memzero(rd->file, rd->file_len);
		free(rd->file);
	}
	rd->file = NULL;
	rd->file_len = 0;
	rd->seg_loaded = false;
	rd->seg_err = 0;
}

/* Says in rd->err what the segment s is or what is wrong with it. */
static void __attribute__((format(printf, 3, 4)))
say(struct spool_reader *rd, const struct segname *s, const char *fmt, ...)
{
	int n = snprintf(rd->err, sizeof(rd->err), "%s: ", s->name);
	va_list ap;

	if (n < 0 || (size_t)n >= sizeof(rd->err))
		return;
	va_start(ap, fmt);
	vsnprintf(rd->err + n, sizeof(rd->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Why a closed or open segment's tail is bad; NULL for a torn tail. */
static const char *
tail_why(const struct segname *s, const struct seg_scan *sc)
{
	if (sc->has_trailer && sc->tail_err != 0)
		return "bytes after its trailer";
	if (!s->open && !sc->has_trailer && !sc->tail_corrupt)
		return "closed segment cut short (no trailer)";
	if (sc->tail_corrupt)
		return "corrupt after its verified part";
	return NULL;
}

/* The first verdict on a verified header: device, number, recipient. */
static int
header_verdict(struct spool_reader *rd, const struct segname *s, int r)
{
	char key[UT_PUBKEY_TEXT_MAX];

	if (r == UT_EDENIED) {
		keys_pubkey_format(rd->links[rd->cur - 1].device, key, sizeof(key));
		say(rd, s, "segment signed by another device: %s", key);
	} else if (r == UT_EVERSION) {
		say(rd, s, "%s", "unsupported format version");
	} else if (r < 0) {
		say(rd, s, "%s", "header does not verify (corrupt or not a segment)");
	}
	return r;
}

/* Loads and verifies the next segment; 0 (possibly empty) or an error. */
static int
load_segment(struct spool_reader *rd)
{
	char path[4096], key_txt[UT_PUBKEY_TEXT_MAX];
	size_t idx = rd->cur;
	const struct segname *s = &rd->segs[rd->cur++];
	struct seg_link *l = &rd->links[idx];
	const char *why;
	uint8_t *key = NULL;
	int r, link;

	rd->stats.segments++;
	if (s->open)
		rd->stats.open_segments++;
	snprintf(path, sizeof(path), "%s/%s", rd->dir, s->name);
	if ((r = fsio_read_file(path, SPOOL_FILE_CAP, &rd->file, &rd->file_len)) < 0) {
		say(rd, s, "cannot read: %s", ut_strerror(r));
		goto bad;
	}
	r = spool__scan(rd->file, rd->file_len, rd->have_dev ? rd->dev : NULL,
	    &rd->sc);
	if (r < 0) {
		/* An open segment torn inside its header holds nothing. */
		if (s->open && r == UT_ECORRUPT &&
		    spool__header_cut(rd->file, rd->file_len)) {
			rd->stats.torn_tails++;
			drop_segment(rd);
			return 0;
		}
		(void)header_verdict(rd, s, r);
		goto bad;
	}
	if (!rd->have_dev) {
		memcpy(rd->dev, rd->sc.device, 32);
		rd->have_dev = true;
	}
	if (rd->sc.segno != s->index) {
		r = UT_ECORRUPT; /* renamed, swapped or copied segment */
		say(rd, s, "%s", "its signed number is not its file name's "
		    "(renamed or swapped)");
		goto bad;
	}
	if ((why = tail_why(s, &rd->sc)) != NULL) {
		rd->seg_err = rd->sc.tail_err ? rd->sc.tail_err : UT_ECORRUPT;
		snprintf(rd->seg_why, sizeof(rd->seg_why), "%s", why);
	} else if (s->open && (rd->sc.tail_err != 0 ||
	    rd->sc.covered_end != rd->file_len)) {
		rd->stats.torn_tails++;
	}
	if (rd->sc.has_trailer && (rd->sc.trailer_flags & SPOOL_TRAILER_RECOVERED))
		rd->stats.recovered_segments++;
	/* The link to the last closed segment before this one. */
	link = spool__link_check(rd->last_closed >= 0 ?
	    &rd->links[rd->last_closed] : NULL, l, rd->links, rd->nsegs);
	spool__link_close(l, &rd->sc);
	if (l->closed)
		rd->last_closed = (ssize_t)idx;
	if (sodium_memcmp(rd->sc.recipient, rd->key->pk, 32) != 0) {
		r = UT_EDENIED; /* sealed to another recipient */
		keys_pubkey_format(rd->sc.recipient, key_txt, sizeof(key_txt));
		say(rd, s, "segment sealed to another recipient key: %s", key_txt);
		goto bad;
	}
	if ((key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL) {
		r = -ENOMEM;
		goto bad;
	}
	if (crypto_box_seal_open(key, rd->file + SH_SEALED, SPOOL_SEALED_LEN,
	    rd->key->pk, rd->key->sk) != 0) {
		r = UT_EDENIED;
		say(rd, s, "%s", "the segment key does not open with your key");
		goto bad;
	}
	if ((r = spool__dec_start(&rd->dec, rd->file, &rd->sc, key)) < 0) {
		say(rd, s, "%s", "cannot decrypt");
		goto bad;
	}
	sodium_free(key);
	rd->seg_loaded = true;
	if (link != SPOOL_LINK_OK) {
		rd->stats.broken_links++;
		say(rd, s, "broken chain of segments: %s", spool_link_name(link));
		return UT_ECORRUPT;
	}
	return 0;
bad:
	if (key != NULL)
		sodium_free(key);
	rd->stats.bad_segments++;
	drop_segment(rd);
	return r;
}

int
spool_reader_next(struct spool_reader *rd, struct ut_event *ev)
{
	int r;

	for (;;) {
		if (rd->seg_loaded) {
			r = spool__dec_next(&rd->dec, ev);
			if (r == 1) {
				rd->stats.records++;
				return 1;
			}
			if (r == 0) {
				r = rd->seg_err;
				if (r < 0)
					say(rd, &rd->segs[rd->cur - 1], "%s",
					    rd->seg_why);
			} else if (r < 0) {
				say(rd, &rd->segs[rd->cur - 1], "%s",
				    "a covered frame does not decrypt or decode");
			}
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

const char *
spool_reader_error(const struct spool_reader *rd)
{
	return rd->err[0] != '\0' ? rd->err : "no error";
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
	rd->last_closed = -1;
	memset(&rd->stats, 0, sizeof(rd->stats));
	return 0;
}

void
spool_reader_close(struct spool_reader *rd)
{
	if (rd == NULL)
		return;
	drop_segment(rd);
	spool__dec_finish(&rd->dec);
	free(rd->links);
	free(rd->segs);
	free(rd->dir);
	free(rd);
}
