/*
 * frameview.h - reassembling stored screen frames for readers
 * (`usetrace frames`, review, export).
 *
 * Feed every FRAME record of a recording, in stored order, to
 * frame_canvas_apply(): key frames paint the whole screen, delta frames
 * the regions that changed since their base frame.  When the last region
 * of a frame has been applied the canvas shows that frame exactly as it was
 * stored.  A delta whose base is not the frame on the canvas (a damaged or
 * missing record) is refused until the next key frame.
 */
#ifndef USETRACE_FRAMEVIEW_H
#define USETRACE_FRAMEVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "usetrace/event.h"

struct frame_canvas;

struct frame_canvas *frame_canvas_create(void);
void frame_canvas_destroy(struct frame_canvas *fc);

/*
 * Applies one FRAME record.  Returns 1 when its frame is now complete on
 * the canvas, 0 when more regions are expected, UT_ECORRUPT for undecodable
 * data or a region outside the screen, UT_ENOTFOUND for a delta whose base
 * is missing, UT_ETOOBIG for a screen larger than 16384 x 16384.
 */
int frame_canvas_apply(struct frame_canvas *fc, const struct ut_event *ev)
	__attribute__((warn_unused_result));

/* The complete frame on the canvas: RGB, 3 bytes a pixel; NULL if none. */
const uint8_t *frame_canvas_rgb(const struct frame_canvas *fc, uint32_t *w,
    uint32_t *h, uint64_t *frame_id);

/* Writes RGB pixels as a PNG file.  0, -errno or UT_EINVAL. */
int frame_write_png(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h)
	__attribute__((warn_unused_result));

/*
 * Encodes RGB pixels as PNG into a malloc'd buffer (*out, *outlen; the
 * caller wipes and frees it: it is recorded content).  0 or UT_EINVAL.
 */
int frame_png_encode(const uint8_t *rgb, uint32_t w, uint32_t h, uint8_t **out,
    size_t *outlen) __attribute__((warn_unused_result));

#endif
