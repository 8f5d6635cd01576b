/*
 * capture.h - the X11 capture backend of the agent.
 *
 * capture_run() connects to an X display, records every key, button and
 * motion event the server processes (X RECORD: XTEST injection and warps
 * included, with root coordinates and server time), decodes keys with
 * xkbcommon (keymap reloaded when a client changes it, dead keys through
 * xkb_compose), tracks the focused window (EWMH _NET_ACTIVE_WINDOW,
 * WM_CLASS, _NET_WM_NAME, _NET_WM_PID, geometry) and the monitor layout
 * (XRandR), and hands each record to the sink in order.
 *
 * Records handed to the sink are raw: the privacy filter runs in the sink,
 * before anything is written.  The capture code never writes to disk.
 */
#ifndef USETRACE_CAPTURE_H
#define USETRACE_CAPTURE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/event.h"

struct policy;

struct capture_sink {
	/*
	 * Called for every record, with seq, mono_ns, wall_ns set.  ev is
	 * only valid during the call, but emit takes ownership of a FRAME
	 * record's frame data (u.frame.owned, event.h) on every return,
	 * success or error: it releases it (event_dispose) or passes it on.
	 * A non-zero return stops capture and is returned by capture_run().
	 */
	int (*emit)(void *arg, const struct ut_event *ev);
	/* Called about every tick_ms (group commit).  As emit for errors. */
	int (*tick)(void *arg);
	/* Called when opts->extra_fd is readable.  As emit for errors. */
	int (*on_fd)(void *arg);
	/* Called once, when recording has started.  May be NULL. */
	void (*ready)(void *arg, const char *display);
	void *arg;
};

struct capture_opts {
	const char *display; /* NULL: $DISPLAY */
	uint32_t tick_ms;    /* 0: 200 */
	int stop_fd;         /* readable -> stop cleanly; -1: none */
	/*
	 * Data categories to produce (enum ut_category in policy.h).  A
	 * category not set here is never produced: its records are not
	 * created, its fields stay empty.  0 is an error (UT_EINVAL).
	 */
	uint32_t categories;
	int extra_fd;        /* readable -> sink->on_fd(); -1: none */
	/*
	 * Sequence counter shared across capture runs (the agent restarts
	 * capture after a pause): the last number used; NULL: start at 1.
	 */
	uint64_t *seq;
	/* Screen frames (with the "frames" category). */
	uint32_t frame_fps;        /* stored frames per second while changing; 0: 1 */
	int frame_lossless;        /* WebP lossless instead of lossy */
	uint32_t frame_quality;    /* lossy quality 1..100; 0: 80 */
	uint64_t *frame_counter;   /* frame ids continue across runs; NULL: local */
	/*
	 * Set to 1 by the owner to ask for a key frame now (the frame thread
	 * stores the current screen whole, then clears it).  May be NULL.
	 */
	atomic_int *key_frame_request;
	/*
	 * Denied applications and titles are blacked out of every frame
	 * (copied at start; NULL: none denied).
	 */
	const struct policy *policy;
	/*
	 * Windows into which a secret was typed: blacked out of every frame
	 * while they exist (shared with the owner; NULL: none).
	 */
	struct capture_masks *masks;
};

struct capture_stats {
	uint64_t records, keys, buttons, motions, focus, keymap_loads, frames;
	uint64_t grabs, grab_ns, encode_ns, frames_skipped; /* frame thread */
	uint64_t blackout_ns; /* part of grab_ns: denied / masked windows */
	uint64_t x_errors;
};

/*
 * The board of windows whose pixels must be black in every frame because
 * a secret was typed into them (PRIV-P4-3; docs/SECURE-INPUT.md).  The
 * privacy filter's owner adds a window when the filter finds a secret in a
 * typing burst; the frame thread blacks out that window's top-level (with
 * its window-manager frame) in every grab, before hashing and encoding,
 * for as long as the window exists.  Every add returns a new generation;
 * each FRAME record carries the generation its grab was blacked with
 * (frame.masks_gen), so the filter can black out frames grabbed before the
 * add itself.  Thread-safe.  Windows are X window ids as in FOCUS records.
 */
struct capture_masks;
#define CAPTURE_MASK_TEXTS 4
#define CAPTURE_MASK_TEXT_MAX 256

/*
 * One window on the board.  texts: the secrets typed into it, so that
 * where the application exposes its text through AT-SPI only the text's
 * extents need to be black; whole: black the whole window regardless
 * (more secrets than fit, or one too long).  Secret: wipe copies.
 */
struct capture_mask {
	uint32_t window;
	int whole;
	size_t ntexts;
	size_t len[CAPTURE_MASK_TEXTS];
	char text[CAPTURE_MASK_TEXTS][CAPTURE_MASK_TEXT_MAX];
};

struct capture_masks *capture_masks_create(void);
/*
 * Adds window (again: adds text to it) and returns the new generation.
 * text (len bytes, not NUL-terminated) is the secret typed, copied; NULL:
 * the whole window.  Window 0 (no focused window was known) blacks the
 * whole screen from then on.
 */
uint32_t capture_masks_add(struct capture_masks *m, uint32_t window,
    const char *text, size_t len);
/*
 * Copies up to max entries and the generation; *overflow is set when the
 * board holds more than fit (the reader must then black everything).
 */
size_t capture_masks_get(struct capture_masks *m, struct capture_mask *out,
    size_t max, uint32_t *gen, int *overflow);
/* The window is gone: its pixels cannot show any more. */
void capture_masks_remove(struct capture_masks *m, uint32_t window);
void capture_masks_destroy(struct capture_masks *m); /* NULL ok */

/*
 * Records until stop_fd becomes readable (returns 0), the display is lost
 * (returns UT_EX11 after emitting an END record), or the sink fails (its
 * code).  Setup failures: UT_EX11 (cannot open display), UT_ENOEXT (no
 * RECORD or XKB).  st may be NULL.
 */
int capture_run(const struct capture_opts *opts, const struct capture_sink *sink,
    struct capture_stats *st);

/*
 * Parses an XSETTINGS _XSETTINGS_SETTINGS property and finds the integer
 * setting `name` (e.g. "Net/DoubleClickTime").  Returns 0 and sets *out,
 * UT_ENOTFOUND, or UT_ECORRUPT for malformed data.  Pure; fuzzed.
 */
int xsettings_get_int(const uint8_t *p, size_t n, const char *name, int32_t *out)
	__attribute__((warn_unused_result));

#endif
