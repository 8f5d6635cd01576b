/*
 * frames_encode.c - a grab becomes a stored frame: the tiles that differ
 * from the last stored frame (frames.c invariant 1) as rectangles, each
 * encoded as a WebP region (lossy, or lossless by policy) into frame data
 * of its own (event.h, struct ut_frame_data) as FRAME records for frames.c
 * to queue;
 * a key frame is the whole screen.  Encoder buffers are wiped: they hold
 * recorded pixels.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <webp/encode.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "frames_int.h"

struct region {
	int x, y, w, h;
};

/* Changed tiles as rectangles: runs per tile row, merged down columns. */
static size_t
regions(struct frames *f, const struct grab *g, int key, struct region **out)
{
	struct region *r = NULL;
	size_t n = 0, cap = 0, i, open_from = 0, row_start;
	int tx, ty, x0;

	if (key) {
		r = xcalloc(1, sizeof(*r));
		r->w = f->w;
		r->h = f->h;
		*out = r;
		return 1;
	}
	for (ty = 0; ty < f->ty; ty++) {
		row_start = n;
		for (tx = 0; tx < f->tx; tx++) {
			if (g->hash[ty * f->tx + tx] == f->stored_hash[ty * f->tx + tx])
				continue;
			x0 = tx;
			while (tx + 1 < f->tx &&
			    g->hash[ty * f->tx + tx + 1] != f->stored_hash[ty * f->tx + tx + 1])
				tx++;
			/* Extend a rectangle of the row above with the same span. */
			for (i = open_from; i < row_start; i++) {
				if (r[i].x == x0 * TILE &&
				    r[i].w == UT_MIN((tx + 1) * TILE, f->w) - x0 * TILE &&
				    r[i].y + r[i].h == ty * TILE)
					break;
			}
			if (i < row_start) {
				r[i].h = UT_MIN((ty + 1) * TILE, f->h) - r[i].y;
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				r = xreallocarray(r, cap, sizeof(*r));
			}
			r[n].x = x0 * TILE;
			r[n].y = ty * TILE;
			r[n].w = UT_MIN((tx + 1) * TILE, f->w) - r[n].x;
			r[n].h = UT_MIN((ty + 1) * TILE, f->h) - r[n].y;
			n++;
		}
		/* Rectangles that did not grow this row are closed. */
		for (i = open_from; i < row_start; i++)
			if (r[i].y + r[i].h < (ty + 1) * TILE && r[i].y + r[i].h < f->h)
				open_from = i + 1;
	}
	*out = r;
	return n;
}

static int
encode(struct frames *f, const struct grab *g, const struct region *rg,
    struct ut_frame_data **out)
{
	WebPConfig cfg;
	WebPPicture pic;
	WebPMemoryWriter wr;
	const uint8_t *src = (const uint8_t *)g->img->data +
	    (size_t)rg->y * (size_t)g->img->bytes_per_line + (size_t)rg->x * 4;
	int ok;

	if (!WebPConfigInit(&cfg) || !WebPPictureInit(&pic))
		return UT_ENOEXT;
	if (f->lossless) {
		cfg.lossless = 1;
		cfg.method = 0;
		cfg.quality = 10;
	} else {
		cfg.quality = (float)f->quality;
		cfg.method = 2;
	}
	pic.use_argb = f->lossless;
	pic.width = rg->w;
	pic.height = rg->h;
	if (!WebPPictureImportBGRX(&pic, src, g->img->bytes_per_line))
		return UT_ENOEXT;
	WebPMemoryWriterInit(&wr);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &wr;
	ok = WebPEncode(&cfg, &pic);
	WebPPictureFree(&pic);
	if (!ok || wr.size > UT_FRAME_DATA_MAX) {
		if (wr.mem != NULL)
			sodium_memzero(wr.mem, wr.size);
		WebPMemoryWriterClear(&wr);
		return UT_ETOOBIG;
	}
	*out = ut_frame_data_new(wr.size);
	memcpy((*out)->bytes, wr.mem, wr.size);
	sodium_memzero(wr.mem, wr.size); /* recorded pixels */
	WebPMemoryWriterClear(&wr);
	return 0;
}

size_t
frames__store(struct frames *f, struct grab *g, struct ut_event **out)
{
	struct region *rg = NULL;
	struct ut_event ev, *evs;
	struct ut_frame_data *data;
	size_t n, i;
	int key = f->stored == 0 || f->since_key >= FRAME_KEY_EVERY ||
	    (f->key_req != NULL && atomic_load(f->key_req));
	uint64_t t0 = ut_now_mono_ns();
	uint64_t id = ++f->next_id, base = key ? 0 : f->next_id - 1;

	n = regions(f, g, key, &rg);
	if (n == 0 || n > UINT16_MAX) { /* (n is 1 for a key frame) */
		free(rg);
		f->next_id--;
		f->stored_grab = g->id;
		*out = NULL;
		return 0; /* identical to the stored frame */
	}
	evs = xcalloc(n, sizeof(*evs));
	for (i = 0; i < n; i++) {
		if (encode(f, g, &rg[i], &data) < 0) {
			log_warn("frames: a region could not be encoded");
			data = NULL;
		}
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_FRAME;
		ev.sensitivity = UT_SENS_CONTENT;
		ev.xtime = g->done;
		ev.u.frame.frame_id = id;
		ev.u.frame.base_id = base;
		ev.u.frame.w = (uint32_t)f->w;
		ev.u.frame.h = (uint32_t)f->h;
		ev.u.frame.xtime_done = g->done;
		ev.u.frame.rx = rg[i].x;
		ev.u.frame.ry = rg[i].y;
		ev.u.frame.rw = (uint32_t)rg[i].w;
		ev.u.frame.rh = (uint32_t)rg[i].h;
		ev.u.frame.part = (uint16_t)i;
		ev.u.frame.nparts = (uint16_t)n;
		ev.u.frame.format = f->lossless ? UT_FRAME_WEBP_LOSSLESS :
		    UT_FRAME_WEBP_LOSSY;
		ev.u.frame.skipped = (uint32_t)UT_MIN(f->skipped, UINT32_MAX);
		event_frame_attach(&ev, data);
		ev.u.frame.masks_gen = g->masks_gen;
		ev.u.frame.fwin = g->fwin;
		ev.u.frame.fx = g->fx;
		ev.u.frame.fy = g->fy;
		ev.u.frame.fw = (uint32_t)UT_MAX(g->fw, 0);
		ev.u.frame.fh = (uint32_t)UT_MAX(g->fh, 0);
		evs[i] = ev;
	}
	free(rg);
	f->encode_ns += ut_now_mono_ns() - t0;
	memcpy(f->stored_hash, g->hash, sizeof(uint64_t) * (size_t)f->tx * (size_t)f->ty);
	f->stored_grab = g->id;
	f->stored++;
	f->since_key = key ? 1 : f->since_key + 1;
	if (key && f->key_req != NULL)
		atomic_store(f->key_req, 0);
	f->last_store_ms = frames__now_ms();
	*out = evs;
	return n;
}
