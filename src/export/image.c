/*
 * image.c - the export's frame encodings: PNG (lossless, what `usetrace
 * frames` writes) or WebP (lossy at a quality, or lossless), from RGB
 * pixels or transcoded from a PNG (frames a server sends).
 *
 * Every buffer here holds recorded pixels: decoded RGB is wiped before it
 * is freed; encoded output is the caller's to wipe and free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <sodium.h>
#include <webp/encode.h>

#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/frameview.h"
#include "usetrace/util.h"
#include "export_int.h"

#define IMAGE_SIDE_MAX 16384u

int
export_image_encode(enum export_image f, int quality, const uint8_t *rgb,
    uint32_t w, uint32_t h, uint8_t **out, size_t *len)
{
	uint8_t *o = NULL;
	size_t n;

	*out = NULL;
	*len = 0;
	if (w == 0 || h == 0 || w > IMAGE_SIDE_MAX || h > IMAGE_SIDE_MAX)
		return UT_EINVAL;
	if (f == EXPORT_IMG_PNG)
		return frame_png_encode(rgb, w, h, out, len);
	if (quality > 100)
		n = WebPEncodeLosslessRGB(rgb, (int)w, (int)h, (int)(w * 3), &o);
	else
		n = WebPEncodeRGB(rgb, (int)w, (int)h, (int)(w * 3),
		    (float)(quality > 0 ? quality : 80), &o);
	if (n == 0 || o == NULL) {
		WebPFree(o);
		return UT_EINVAL;
	}
	/* Our buffers are malloc'd: copy out of libwebp's allocator. */
	*out = xmalloc(n);
	memcpy(*out, o, n);
	sodium_memzero(o, n);
	WebPFree(o);
	*len = n;
	return 0;
}

int
export_image_from_png(enum export_image f, int quality, const uint8_t *png,
    size_t pnglen, uint8_t **out, size_t *len, uint32_t *w, uint32_t *h)
{
	png_image img;
	uint8_t *rgb;
	size_t n;
	int r;

	*out = NULL;
	*len = 0;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, png, pnglen))
		return UT_ECORRUPT;
	img.format = PNG_FORMAT_RGB;
	if (img.width == 0 || img.height == 0 || img.width > IMAGE_SIDE_MAX ||
	    img.height > IMAGE_SIDE_MAX) {
		png_image_free(&img);
		return UT_ECORRUPT;
	}
	n = (size_t)img.width * img.height * 3;
	rgb = xmalloc(n);
	if (!png_image_finish_read(&img, NULL, rgb, (png_int_32)(img.width * 3), NULL)) {
		png_image_free(&img);
		sodium_memzero(rgb, n);
		free(rgb);
		return UT_ECORRUPT;
	}
	*w = img.width;
	*h = img.height;
	r = export_image_encode(f, quality, rgb, img.width, img.height, out, len);
	sodium_memzero(rgb, n);
	free(rgb);
	png_image_free(&img);
	return r;
}
