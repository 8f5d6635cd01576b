/*
 * frameview.c - stored FRAME records -> full screen images (frameview.h).
 *
 * Invariants:
 *  (1) fc->rgb holds w*h*3 bytes when w > 0.
 *  (2) fc->done_id is the last frame fully applied; fc->cur_id the frame
 *      being applied (parts seen so far: fc->parts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <webp/decode.h>

#include "usetrace/err.h"
#include "usetrace/frameview.h"
#include "usetrace/util.h"

#define CANVAS_MAX 16384u

struct frame_canvas {
	uint8_t *rgb;
	uint32_t w, h;
	uint64_t done_id, cur_id;
	uint32_t parts, nparts;
	int broken;      /* waiting for a key frame */
	int have_done;
};

struct frame_canvas *
frame_canvas_create(void)
{
	return xcalloc(1, sizeof(struct frame_canvas));
}

void
frame_canvas_destroy(struct frame_canvas *fc)
{
	if (fc == NULL)
		return;
	free(fc->rgb);
	free(fc);
}

int
frame_canvas_apply(struct frame_canvas *fc, const struct ut_event *ev)
{
	uint8_t *px = NULL;
	int dw, dh;
	uint32_t row;

	if (ev->u.frame.w == 0 || ev->u.frame.h == 0 || ev->u.frame.w > CANVAS_MAX || ev->u.frame.h > CANVAS_MAX)
		return UT_ETOOBIG;
	if (ev->u.frame.rw == 0 || ev->u.frame.rh == 0 || ev->u.frame.rx < 0 || ev->u.frame.ry < 0 ||
	    (uint64_t)ev->u.frame.rx + ev->u.frame.rw > ev->u.frame.w || (uint64_t)ev->u.frame.ry + ev->u.frame.rh > ev->u.frame.h)
		return UT_ECORRUPT;
	if (ev->u.frame.frame_id != fc->cur_id) {
		/* A new frame starts: it must be a key frame or build on ours. */
		fc->cur_id = ev->u.frame.frame_id;
		fc->parts = 0;
		fc->nparts = ev->u.frame.nparts;
		if (ev->u.frame.base_id == 0) {
			if (fc->w != ev->u.frame.w || fc->h != ev->u.frame.h) {
				free(fc->rgb);
				fc->rgb = xcalloc((size_t)ev->u.frame.w * ev->u.frame.h, 3);
				fc->w = ev->u.frame.w;
				fc->h = ev->u.frame.h;
			}
			fc->broken = 0;
		} else if (fc->broken || !fc->have_done || ev->u.frame.base_id != fc->done_id ||
		    ev->u.frame.w != fc->w || ev->u.frame.h != fc->h) {
			fc->broken = 1;
		}
	}
	if (fc->broken)
		return UT_ENOTFOUND;
	px = WebPDecodeRGB(ev->u.frame.data, ev->u.frame.len, &dw, &dh);
	if (px == NULL || (uint32_t)dw != ev->u.frame.rw || (uint32_t)dh != ev->u.frame.rh) {
		WebPFree(px);
		fc->broken = 1;
		return UT_ECORRUPT;
	}
	for (row = 0; row < ev->u.frame.rh; row++)
		memcpy(fc->rgb + (((size_t)ev->u.frame.ry + row) * fc->w + (size_t)ev->u.frame.rx) * 3,
		    px + (size_t)row * ev->u.frame.rw * 3, (size_t)ev->u.frame.rw * 3);
	WebPFree(px);
	if (++fc->parts < fc->nparts)
		return 0;
	fc->done_id = ev->u.frame.frame_id;
	fc->have_done = 1;
	return 1;
}

const uint8_t *
frame_canvas_rgb(const struct frame_canvas *fc, uint32_t *w, uint32_t *h,
    uint64_t *frame_id)
{
	if (!fc->have_done || fc->broken)
		return NULL;
	*w = fc->w;
	*h = fc->h;
	*frame_id = fc->done_id;
	return fc->rgb;
}

int
frame_write_png(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h)
{
	png_image img;
	int ok;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = w;
	img.height = h;
	img.format = PNG_FORMAT_RGB;
	ok = png_image_write_to_file(&img, path, 0, rgb, (png_int_32)(w * 3), NULL);
	if (!ok) {
		png_image_free(&img);
		return errno ? -errno : UT_EINVAL;
	}
	return 0;
}

int
frame_png_encode(const uint8_t *rgb, uint32_t w, uint32_t h, uint8_t **out,
    size_t *outlen)
{
	png_image img;
	png_alloc_size_t n = 0;
	uint8_t *p;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = w;
	img.height = h;
	img.format = PNG_FORMAT_RGB;
	/*
	 * One encoding into libpng's upper bound (the same bytes as sizing it
	 * first with a NULL buffer, which compressed every frame twice: the
	 * web replay's frame reads spent half their time there).  Only the
	 * first n bytes are written, so the caller's wipe covers the content.
	 */
	n = PNG_IMAGE_PNG_SIZE_MAX(img);
	if (n == 0)
		return UT_EINVAL;
	p = xmalloc(n);
	if (!png_image_write_to_memory(&img, p, &n, 0, rgb, (png_int_32)(w * 3),
	    NULL) || n == 0) {
		png_image_free(&img);
		free(p);
		return UT_EINVAL;
	}
	*out = p;
	*outlen = n;
	return 0;
}
