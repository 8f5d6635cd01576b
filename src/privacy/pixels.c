/*
 * pixels.c - blacking out part of a frame region that is already encoded
 * (PRIV-P4-3): the privacy filter holds the FRAME records of a typing
 * burst until the burst is scanned; when a secret was typed, the window
 * that shows it is blacked out of those frames here, by decoding the
 * region, painting the rectangle black and encoding it again in the same
 * format.
 *
 * Fails closed: a region that does not decode becomes wholly black; one
 * that cannot be encoded again loses its data (len 0, which readers report
 * as a damaged region) rather than keep the secret.  Decoded pixels and
 * the replaced encoding are wiped before they are freed.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/encode.h>

#include "usetrace/err.h"
#include "usetrace/util.h"
#include "privacy_int.h"

int
privacy__frame_black(struct ut_event *ev, int32_t x, int32_t y, uint32_t w,
    uint32_t h, int quality)
{
	int64_t rx = ev->u.frame.rx, ry = ev->u.frame.ry;
	int64_t rw = ev->u.frame.rw, rh = ev->u.frame.rh;
	int64_t x0 = UT_MAX(rx, (int64_t)x), y0 = UT_MAX(ry, (int64_t)y);
	int64_t x1 = UT_MIN(rx + rw, (int64_t)x + w), y1 = UT_MIN(ry + rh, (int64_t)y + h);
	const uint8_t *old = ev->u.frame.data;
	uint8_t *px, *enc = NULL;
	struct ut_frame_data *fd;
	size_t stride, elen, npx;
	int dw = 0, dh = 0, decoded = 1;
	int64_t r, c;

	if (ev->type != UT_EV_FRAME || x0 >= x1 || y0 >= y1)
		return 0;
	if (rw <= 0 || rh <= 0 || rw > 16384 || rh > 16384)
		return UT_ECORRUPT;
	stride = (size_t)rw * 4;
	npx = stride * (size_t)rh;
	px = old != NULL ? WebPDecodeBGRA(old, ev->u.frame.len, &dw, &dh) : NULL;
	if (px == NULL || dw != rw || dh != rh) {
		if (px != NULL) {
			sodium_memzero(px, (size_t)dw * (size_t)dh * 4);
			WebPFree(px);
		}
		decoded = 0;
		px = xcalloc(1, npx);   /* all black */
		x0 = rx;
		y0 = ry;
		x1 = rx + rw;
		y1 = ry + rh;
	}
	for (r = y0 - ry; r < y1 - ry; r++)
		for (c = x0 - rx; c < x1 - rx; c++) {
			uint8_t *p = px + (size_t)r * stride + (size_t)c * 4;

			p[0] = p[1] = p[2] = 0;
			p[3] = 0xff;
		}
	if (ev->u.frame.format == UT_FRAME_WEBP_LOSSLESS)
		elen = WebPEncodeLosslessBGRA(px, (int)rw, (int)rh, (int)stride, &enc);
	else
		elen = WebPEncodeBGRA(px, (int)rw, (int)rh, (int)stride,
		    (float)(quality > 0 && quality <= 100 ? quality : 80), &enc);
	sodium_memzero(px, npx);
	if (decoded)
		WebPFree(px);
	else
		free(px);
	event_dispose(ev);
	event_frame_attach(ev, NULL);
	if (elen == 0 || enc == NULL || elen > UT_FRAME_DATA_MAX) {
		if (enc != NULL)
			sodium_memzero(enc, elen);
		WebPFree(enc);
		return UT_ETOOBIG;
	}
	fd = ut_frame_data_new(elen);
	memcpy(fd->bytes, enc, elen);
	event_frame_attach(ev, fd);
	sodium_memzero(enc, elen);
	WebPFree(enc);
	return 1;
}
