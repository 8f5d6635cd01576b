/*
 * frameidx.c - a stored segment's frame index (issue 13): the replay's
 * frame list and each frame answered without decrypting and decoding the
 * whole segment.
 *
 * The index lists, for every frame the reassembly completes (the ids that
 * walking every FRAME record through frame_canvas_apply() lists, in the
 * same order), its id, the wall time of its first region, the bytes of its
 * regions, and the frame records to decode to draw it: from the record
 * holding the first region of its key frame (deltas build on the frame
 * before, back to a key frame) to the record holding its last region.
 * Records are sealed in one secretstream, so a record alone decrypts only
 * with the stream state before it; the index keeps each frame record's
 * offset, length, number and that state's nonce (public: a counter and
 * MACs), which makes every record a resumable point (spool.h "Reading one
 * frame record").
 *
 * Where it lives: sealed under the subject's day key (AD "fidx" || segment
 * id, apart from the summary's), in a side file next to the segment's blob
 * (blob_aux_put).  Frame ids and times come from content, so the index is
 * never stored in the clear and an erasure (the day key destroyed) makes it
 * unreadable with the segment; blob_delete() removes it.  Built at ingest
 * (srv_fidx_ingest, after the blob is stored) and, for a segment stored
 * before the index existed or whose index does not open, at its first
 * frames read from the whole verified blob, then kept.
 *
 * Integrity of a frame read (docs/WEB.md "Frames from the index"):
 *  - the blob is re-hashed whole, streaming in 64 KiB, against its content
 *    address (blob_range_open), as blob_get() did before: the stored bytes
 *    are the ones ingest verified (signatures, chain, trailer), so the
 *    chain and signatures need not be walked again;
 *  - each record read is authenticated by its own AEAD tag under the
 *    segment key, with the header hash as additional data and its position
 *    in the stream bound by the nonce: a changed or moved record, or a
 *    forged index entry, fails to decrypt;
 *  - the index itself is authenticated by its seal.
 * The frame list does not touch the blob: it is what ingest verified and
 * indexed; a blob damaged since is refused at its first frame read.
 *
 * The index is built from the records' structure (ids, bases, parts,
 * sizes) without decoding the WebP images; a region whose WebP does not
 * decode (a writer bug ingest does not look for) would be listed here but
 * refused when read, where a full walk left it out of the list.
 *
 * Memory of a frame read: one record's ciphertext and batch (each capped
 * by the format), the canvas and the PNG; never the segment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/blob.h"
#include "usetrace/err.h"
#include "usetrace/frameview.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/testhooks.h"
#include "usetrace/util.h"
#include "server_int.h"

#define FIDX_MAGIC "UTFIDX1"          /* 8 bytes with the NUL */
#define FIDX_HEAD 16u                 /* magic, u32 nrec, u32 nframes */
#define FIDX_REC 28u                  /* u64 off, u32 len, u32 no, nonce[12] */
#define FIDX_FRAME 28u                /* u64 id, i64 wall, u32 size, lo, hi */
#define FIDX_MAX_ENTRIES (1u << 20)
#define FIDX_CAP (FIDX_HEAD + (size_t)FIDX_MAX_ENTRIES * (FIDX_REC + FIDX_FRAME) + \
	KEYSTORE_SEAL_OVERHEAD)
#define CANVAS_MAX 16384u             /* frameview.c's limit */

struct fidx_frame {
	uint64_t id;
	int64_t wall_ns;
	uint32_t size, lo, hi;            /* lo..hi: indexes into recs */
};

struct srv_fidx {
	struct spool_rec_pos *recs;       /* frame records holding regions */
	struct fidx_frame *frames;
	uint32_t nrec, nframes, rec_cap, frame_cap;
	/* Building: the reassembly's state, without pixels (frameview.c). */
	uint64_t cur_id, done_id, cur_size;
	int64_t cur_wall;
	uint32_t parts, nparts, w, h, key_rec;
	bool broken, have_done, too_many;
};

static void
fidx_free(struct srv_fidx *x)
{
	if (x == NULL)
		return;
	free(x->recs);
	if (x->frames != NULL)
		sodium_memzero(x->frames, (size_t)x->frame_cap * sizeof(*x->frames));
	free(x->frames);
	free(x);
}

/* The index of pos in x->recs, appended when new; -1 when full. */
static int64_t
rec_of(struct srv_fidx *x, const struct spool_rec_pos *pos)
{
	if (x->nrec > 0 && x->recs[x->nrec - 1].no == pos->no)
		return x->nrec - 1;
	if (x->nrec == FIDX_MAX_ENTRIES)
		return -1;
	if (x->nrec == x->rec_cap) {
		x->rec_cap = x->rec_cap ? 2 * x->rec_cap : 64;
		x->recs = xreallocarray(x->recs, x->rec_cap, sizeof(*x->recs));
	}
	x->recs[x->nrec] = *pos;
	return x->nrec++;
}

/*
 * One FRAME record at pos, through the checks of frame_canvas_apply() in
 * its order (the WebP decode aside): a complete frame is appended.
 */
static void
fidx_push(struct srv_fidx *x, const struct ut_event *ev,
    const struct spool_rec_pos *pos)
{
	const __typeof__(ev->u.frame) *f = &ev->u.frame;
	int64_t ri;

	if (f->w == 0 || f->h == 0 || f->w > CANVAS_MAX || f->h > CANVAS_MAX ||
	    f->rw == 0 || f->rh == 0 || f->rx < 0 || f->ry < 0 ||
	    (uint64_t)f->rx + f->rw > f->w || (uint64_t)f->ry + f->rh > f->h)
		return;
	if ((ri = rec_of(x, pos)) < 0) {
		x->too_many = true;
		return;
	}
	if (f->frame_id != x->cur_id) {
		x->cur_id = f->frame_id;
		x->parts = 0;
		x->nparts = f->nparts;
		x->cur_size = 0;
		x->cur_wall = ev->wall_ns;
		if (f->base_id == 0) {
			x->w = f->w;
			x->h = f->h;
			x->broken = false;
			x->key_rec = (uint32_t)ri;
		} else if (x->broken || !x->have_done || f->base_id != x->done_id ||
		    f->w != x->w || f->h != x->h) {
			x->broken = true;
		}
	}
	if (x->broken)
		return;
	x->cur_size += f->len;
	if (++x->parts < x->nparts)
		return;
	x->done_id = f->frame_id;
	x->have_done = true;
	if (x->nframes == FIDX_MAX_ENTRIES) {
		x->too_many = true;
		return;
	}
	if (x->nframes == x->frame_cap) {
		x->frame_cap = x->frame_cap ? 2 * x->frame_cap : 64;
		x->frames = xreallocarray(x->frames, x->frame_cap, sizeof(*x->frames));
	}
	x->frames[x->nframes++] = (struct fidx_frame){ f->frame_id, x->cur_wall,
	    x->cur_size > UINT32_MAX ? UINT32_MAX : (uint32_t)x->cur_size,
	    x->key_rec, (uint32_t)ri };
}

/* Indexes every record of an open memory reader. */
static int
fidx_build(struct spool_mem_reader *rd, struct srv_fidx **out)
{
	struct srv_fidx *x = xcalloc(1, sizeof(*x));
	struct spool_rec_pos pos;
	struct ut_event ev;
	int r;

	while ((r = spool_mem_reader_next(rd, &ev)) > 0) {
		if (ev.type != UT_EV_FRAME)
			continue;
		if ((r = spool_mem_reader_pos(rd, &pos)) < 0)
			break;
		fidx_push(x, &ev, &pos);
	}
	sodium_memzero(&ev, sizeof(ev));
	if (r == 0 && x->too_many)
		r = UT_ETOOBIG;
	if (r < 0) {
		fidx_free(x);
		return r;
	}
	*out = x;
	return 0;
}

/* The plaintext form (malloc'd, *n bytes). */
static uint8_t *
fidx_encode(const struct srv_fidx *x, size_t *n)
{
	size_t len = FIDX_HEAD + (size_t)x->nrec * FIDX_REC +
	    (size_t)x->nframes * FIDX_FRAME;
	uint8_t *p = xcalloc(1, len), *q = p;
	uint32_t i;

	memcpy(q, FIDX_MAGIC, 8);
	put_u32le(q + 8, x->nrec);
	put_u32le(q + 12, x->nframes);
	q += FIDX_HEAD;
	for (i = 0; i < x->nrec; i++, q += FIDX_REC) {
		put_u64le(q, x->recs[i].off);
		put_u32le(q + 8, x->recs[i].len);
		put_u32le(q + 12, x->recs[i].no);
		memcpy(q + 16, x->recs[i].nonce, 12);
	}
	for (i = 0; i < x->nframes; i++, q += FIDX_FRAME) {
		put_u64le(q, x->frames[i].id);
		put_u64le(q + 8, (uint64_t)x->frames[i].wall_ns);
		put_u32le(q + 16, x->frames[i].size);
		put_u32le(q + 20, x->frames[i].lo);
		put_u32le(q + 24, x->frames[i].hi);
	}
	*n = len;
	return p;
}

static int
fidx_decode(const uint8_t *p, size_t n, struct srv_fidx **out)
{
	struct srv_fidx *x;
	uint32_t nrec, nfr, i;

	if (n < FIDX_HEAD || memcmp(p, FIDX_MAGIC, 8) != 0)
		return UT_ECORRUPT;
	nrec = get_u32le(p + 8);
	nfr = get_u32le(p + 12);
	if (nrec > FIDX_MAX_ENTRIES || nfr > FIDX_MAX_ENTRIES ||
	    n != FIDX_HEAD + (size_t)nrec * FIDX_REC + (size_t)nfr * FIDX_FRAME)
		return UT_ECORRUPT;
	x = xcalloc(1, sizeof(*x));
	x->recs = xcalloc(nrec ? nrec : 1, sizeof(*x->recs));
	x->frames = xcalloc(nfr ? nfr : 1, sizeof(*x->frames));
	x->rec_cap = nrec ? nrec : 1;
	x->frame_cap = nfr ? nfr : 1;
	p += FIDX_HEAD;
	for (i = 0; i < nrec; i++, p += FIDX_REC) {
		x->recs[i].off = get_u64le(p);
		x->recs[i].len = get_u32le(p + 8);
		x->recs[i].no = get_u32le(p + 12);
		memcpy(x->recs[i].nonce, p + 16, 12);
	}
	for (i = 0; i < nfr; i++, p += FIDX_FRAME) {
		x->frames[i].id = get_u64le(p);
		x->frames[i].wall_ns = (int64_t)get_u64le(p + 8);
		x->frames[i].size = get_u32le(p + 16);
		x->frames[i].lo = get_u32le(p + 20);
		x->frames[i].hi = get_u32le(p + 24);
		if (x->frames[i].lo > x->frames[i].hi || x->frames[i].hi >= nrec) {
			fidx_free(x);
			return UT_ECORRUPT;
		}
	}
	x->nrec = nrec;
	x->nframes = nfr;
	*out = x;
	return 0;
}

/* Additional data of the seal: apart from the summary's (the bare id). */
static void
fidx_ad(const uint8_t segid[16], uint8_t ad[20])
{
	memcpy(ad, "fidx", 4);
	memcpy(ad + 4, segid, 16);
}

/* Seals x under the day key into the blob's side file. */
static int
fidx_save(struct server *s, const uint8_t subject[16], int32_t day,
    const uint8_t segid[16], const uint8_t blob_hash[32],
    const struct srv_fidx *x)
{
	uint8_t ad[20], *pt, *ct;
	size_t n;
	int r;

	fidx_ad(segid, ad);
	pt = fidx_encode(x, &n);
	ct = xmalloc(n + KEYSTORE_SEAL_OVERHEAD);
	r = keystore_day_seal(s->ks, subject, day, ad, sizeof(ad), pt, n, ct);
	if (r == 0)
		r = blob_aux_put(s->blobs, blob_hash, ct, n + KEYSTORE_SEAL_OVERHEAD);
	sodium_memzero(pt, n);
	free(pt);
	free(ct);
	return r;
}

void
srv_fidx_ingest(struct server *s, const struct spool_upload_info *info,
    int32_t day, const uint8_t *img, size_t len, const uint8_t key[32])
{
	struct spool_mem_reader *rd = NULL;
	struct srv_fidx *x = NULL;
	uint8_t h[32];
	int r;

	/* The stored form was verified by the upload; img is that form now. */
	crypto_generichash(h, sizeof(h), img, len, NULL, 0);
	if ((r = spool_upload_reader_open(img, len, true, info, key, &rd)) == 0 &&
	    (r = fidx_build(rd, &x)) == 0)
		r = fidx_save(s, info->subject_id, day, info->segment_id, h, x);
	if (r < 0)
		log_warn("serve: no frame index at ingest (built at the first "
		    "frames read): %s", ut_strerror(r));
	spool_mem_reader_close(rd);
	fidx_free(x);
}

/* Builds the index of g from its whole verified blob, and keeps it. */
static int
fidx_build_lazily(struct server *s, const struct srv_segment *g,
    struct srv_fidx **out)
{
	struct spool_mem_reader *rd = NULL;
	uint8_t *blob = NULL;
	size_t len = 0;
	int r, w;

	if ((r = blob_get(s->blobs, g->m.blob_hash, 256u << 20, &blob, &len)) < 0)
		return r;
	if ((r = spool_mem_reader_open(blob, len, true, g->key, &rd)) == 0 &&
	    (r = fidx_build(rd, out)) == 0 &&
	    (w = fidx_save(s, g->m.subject_id, g->m.day, g->m.segment_id,
	    g->m.blob_hash, *out)) < 0)
		log_warn("serve: cannot keep a frame index: %s", ut_strerror(w));
	spool_mem_reader_close(rd);
	sodium_memzero(blob, len);
	free(blob);
	return r;
}

/* The index of g: its kept one, else built now. */
static int
fidx_load(struct server *s, const struct srv_segment *g, struct srv_fidx **out)
{
	uint8_t ad[20], *ct = NULL, *pt = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	r = blob_aux_get(s->blobs, g->m.blob_hash, FIDX_CAP, &ct, &n);
	if (r == UT_ENOTFOUND)
		return fidx_build_lazily(s, g, out);
	if (r < 0)
		return r;
	fidx_ad(g->m.segment_id, ad);
	if (n > KEYSTORE_SEAL_OVERHEAD) {
		pt = xmalloc(n - KEYSTORE_SEAL_OVERHEAD);
		r = keystore_day_open(s->ks, g->m.subject_id, g->m.day, ad,
		    sizeof(ad), ct, n, pt);
		if (r == 0)
			r = fidx_decode(pt, n - KEYSTORE_SEAL_OVERHEAD, out);
		sodium_memzero(pt, n - KEYSTORE_SEAL_OVERHEAD);
		free(pt);
	} else {
		r = UT_ECORRUPT;
	}
	free(ct);
	if (r == UT_ECRYPTO || r == UT_ECORRUPT) {
		/* A damaged or foreign side file: the blob is the truth. */
		log_warn("serve: a frame index does not open (%s); rebuilt",
		    ut_strerror(r));
		return fidx_build_lazily(s, g, out);
	}
	return r;
}

/*
 * The reference (tests only, USETRACE_TEST_FRAMES_FULLWALK=1): the index of
 * g as the routes answered before it existed, from every record of the
 * whole blob through the pixel reassembly; tests/server/frame_index.sh
 * compares its answers with the index's, byte for byte.
 */
static int
fidx_fullwalk(struct server *s, const struct srv_segment *g, struct srv_fidx **out)
{
	struct spool_mem_reader *rd = NULL;
	struct frame_canvas *fc = frame_canvas_create();
	struct srv_fidx *x = xcalloc(1, sizeof(*x));
	struct ut_event ev;
	uint8_t *blob = NULL;
	size_t len = 0;
	uint32_t w, h;
	uint64_t id;
	int r;

	memset(&ev, 0, sizeof(ev));
	if ((r = blob_get(s->blobs, g->m.blob_hash, 256u << 20, &blob, &len)) < 0 ||
	    (r = spool_mem_reader_open(blob, len, true, g->key, &rd)) < 0)
		goto out;
	while ((r = spool_mem_reader_next(rd, &ev)) > 0) {
		if (ev.type != UT_EV_FRAME || frame_canvas_apply(fc, &ev) != 1 ||
		    frame_canvas_rgb(fc, &w, &h, &id) == NULL)
			continue;
		if (x->nframes == x->frame_cap) {
			x->frame_cap = x->frame_cap ? 2 * x->frame_cap : 64;
			x->frames = xreallocarray(x->frames, x->frame_cap, sizeof(*x->frames));
		}
		x->frames[x->nframes++] = (struct fidx_frame){ .id = id };
	}
out:
	sodium_memzero(&ev, sizeof(ev));
	spool_mem_reader_close(rd);
	frame_canvas_destroy(fc);
	if (blob != NULL) {
		sodium_memzero(blob, len);
		free(blob);
	}
	if (r < 0) {
		fidx_free(x);
		return r;
	}
	*out = x;
	return 0;
}

/* The reference's frame: the whole segment walked up to it. */
static int
draw_fullwalk(struct server *s, const struct srv_segment *g, uint64_t want,
    struct frame_canvas *fc)
{
	struct spool_mem_reader *rd = NULL;
	struct ut_event ev;
	uint8_t *blob = NULL;
	size_t len = 0;
	uint32_t w, h;
	uint64_t id;
	int r, found = 0;

	memset(&ev, 0, sizeof(ev));
	if ((r = blob_get(s->blobs, g->m.blob_hash, 256u << 20, &blob, &len)) < 0 ||
	    (r = spool_mem_reader_open(blob, len, true, g->key, &rd)) < 0)
		goto out;
	while (!found && (r = spool_mem_reader_next(rd, &ev)) > 0)
		found = ev.type == UT_EV_FRAME && frame_canvas_apply(fc, &ev) == 1 &&
		    frame_canvas_rgb(fc, &w, &h, &id) != NULL && id == want;
out:
	sodium_memzero(&ev, sizeof(ev));
	spool_mem_reader_close(rd);
	if (blob != NULL) {
		sodium_memzero(blob, len);
		free(blob);
	}
	return r < 0 ? r : found ? 1 : UT_ECORRUPT;
}

static bool
fullwalk(void)
{
	const char *v = ut_test_env("USETRACE_TEST_FRAMES_FULLWALK");

	return v != NULL && strcmp(v, "1") == 0;
}

void
srv_reply_frame_list(struct srv_req *q, struct srv_segment *g)
{
	struct srv_fidx *x = NULL;
	json_t *ids;
	uint32_t i;
	int r;

	r = fullwalk() ? fidx_fullwalk(q->srv, g, &x) : fidx_load(q->srv, g, &x);
	if (r < 0) {
		log_error("serve: frames of %s: %s", q->a_object, ut_strerror(r));
		srv_reply_error(q, 500, "internal", "the segment cannot be read");
		return;
	}
	ids = json_array();
	for (i = 0; i < x->nframes; i++)
		json_array_append_new(ids, json_integer((json_int_t)x->frames[i].id));
	fidx_free(x);
	srv_no_store(q);
	srv_reply_json(q, 200, json_pack("{s:o}", "frames", ids));
}

/*
 * Draws frame e on fc from its records only: 1 when drawn, or an error
 * (UT_ECORRUPT: the blob no longer hashes to its name; UT_ECRYPTO: a
 * record does not authenticate).
 */
static int
draw_frame(struct server *s, const struct srv_segment *g,
    const struct srv_fidx *x, const struct fidx_frame *e,
    struct frame_canvas *fc)
{
	struct blob_range *br = NULL;
	struct spool_rec_dec *dec = NULL;
	struct ut_event ev;
	uint8_t hdr[392], *rec = NULL;
	size_t hl, cap = 0, n;
	uint32_t i, w, h;
	uint64_t id;
	int r, found = 0, a;

	memset(&ev, 0, sizeof(ev));
	if ((r = blob_range_open(s->blobs, g->m.blob_hash, &br)) < 0)
		return r;
	hl = blob_range_size(br) < sizeof(hdr) ? (size_t)blob_range_size(br) :
	    sizeof(hdr);
	if ((r = blob_range_read(br, 0, hdr, hl)) < 0 ||
	    (r = spool_rec_dec_open(hdr, hl, g->key, &dec)) < 0)
		goto out;
	for (i = e->lo; i <= e->hi && !found; i++) {
		n = SPOOL_FRAME_REC_HDR + (size_t)x->recs[i].len;
		if (n > cap) {
			if (rec != NULL)
				sodium_memzero(rec, cap);
			free(rec);
			rec = xmalloc(cap = n);
		}
		if ((r = blob_range_read(br, x->recs[i].off, rec, n)) < 0 ||
		    (r = spool_rec_dec_load(dec, &x->recs[i], rec, n)) < 0)
			goto out;
		while ((r = spool_rec_dec_next(dec, &ev)) > 0) {
			if (ev.type != UT_EV_FRAME)
				continue;
			a = frame_canvas_apply(fc, &ev);
			if (a == 1 && frame_canvas_rgb(fc, &w, &h, &id) != NULL &&
			    id == e->id) {
				found = 1;
				break;
			}
		}
		if (r < 0)
			goto out;
	}
	r = found ? 1 : UT_ECORRUPT;
out:
	sodium_memzero(&ev, sizeof(ev));
	if (rec != NULL)
		sodium_memzero(rec, cap);
	free(rec);
	spool_rec_dec_close(dec);
	blob_range_close(br);
	return r;
}

void
srv_reply_frame(struct srv_req *q, struct srv_segment *g, uint64_t want)
{
	struct srv_fidx *x = NULL;
	struct frame_canvas *fc = NULL;
	const uint8_t *rgb;
	uint8_t *png = NULL;
	size_t pnglen = 0;
	uint32_t i, w, h;
	uint64_t id;
	int r;

	snprintf(q->a_detail, sizeof(q->a_detail), "frame %" PRIu64, want);
	r = fullwalk() ? fidx_fullwalk(q->srv, g, &x) : fidx_load(q->srv, g, &x);
	if (r < 0) {
		log_error("serve: frames of %s: %s", q->a_object, ut_strerror(r));
		srv_reply_error(q, 500, "internal", "the frame cannot be rendered");
		return;
	}
	for (i = 0; i < x->nframes && x->frames[i].id != want; i++)
		;
	if (i == x->nframes) {
		srv_deny_not_found(q);
		goto out;
	}
	fc = frame_canvas_create();
	r = fullwalk() ? draw_fullwalk(q->srv, g, want, fc) :
	    draw_frame(q->srv, g, x, &x->frames[i], fc);
	if (r < 0)
		log_error("serve: frame %" PRIu64 " of %s: %s", want, q->a_object,
		    ut_strerror(r));
	if (r < 0 || (rgb = frame_canvas_rgb(fc, &w, &h, &id)) == NULL ||
	    frame_png_encode(rgb, w, h, &png, &pnglen) < 0 ||
	    buf_append(&q->rs->body, png, pnglen) < 0) {
		srv_reply_error(q, 500, "internal", "the frame cannot be rendered");
		goto out;
	}
	q->rs->status = 200;
	snprintf(q->rs->content_type, sizeof(q->rs->content_type), "image/png");
	srv_no_store(q);
out:
	if (png != NULL) {
		sodium_memzero(png, pnglen);
		free(png);
	}
	frame_canvas_destroy(fc);
	fidx_free(x);
}
