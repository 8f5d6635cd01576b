/*
 * test_filter_pixels.c - typed secrets in pixels (PRIV-P4-3): the privacy
 * filter holds FRAME records with a typing burst, blacks the burst's
 * window out of them when a secret was typed, puts the window on the
 * capture board, and blacks later frames grabbed at an older board
 * generation.  Frames are real WebP regions; pixels are decoded and
 * checked.
 */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/encode.h>

#include "usetrace/err.h"
#include "usetrace/privacy.h"
#include "t.h"

#define MAXOUT 4096
#define MS 1000000ull
#define WIN 7u
#define OTHER 9u

static struct ut_event OUT[MAXOUT];
static size_t NOUT;
static uint64_t SEQ, NOW;
static uint32_t MASKED[16], NMASKED, GEN;

static int
collect(void *arg, const struct ut_event *ev)
{
	(void)arg;
	T_ASSERT(NOUT < MAXOUT);
	OUT[NOUT++] = *ev; /* FRAME data now ours: freed by done() */
	return 0;
}

static char MTEXT[16][64];

static uint32_t
on_mask(void *arg, uint32_t window, const char *text, size_t len)
{
	(void)arg;
	T_ASSERT(len < 64);
	T_ASSERT(NMASKED < 16);
	if (text != NULL)
		memcpy(MTEXT[NMASKED], text, len);
	MTEXT[NMASKED][text != NULL ? len : 0] = '\0';
	T_ASSERT(NMASKED < 16);
	MASKED[NMASKED++] = window;
	return ++GEN;
}

static void
done(struct privacy_filter *pf)
{
	size_t i;

	privacy_filter_destroy(pf);
	for (i = 0; i < NOUT; i++)
		event_dispose(&OUT[i]);
	NOUT = 0;
}

static struct privacy_filter *
mk(struct privacy_filter_opts *o, bool board)
{
	struct privacy_filter *pf;

	NOUT = 0;
	SEQ = 1;
	NOW = 1000 * MS;
	NMASKED = 0;
	GEN = 10;
	if (board) {
		o->mask_window = on_mask;
		o->mask_arg = NULL;
	}
	pf = privacy_filter_create(o, collect, NULL);
	T_ASSERT(pf != NULL);
	return pf;
}

static void
push(struct privacy_filter *pf, struct ut_event *ev)
{
	ev->seq = SEQ++;
	ev->mono_ns = NOW;
	NOW += 30 * MS;
	T_ASSERT_EQ(privacy_filter_push(pf, ev), 0);
}

static void
focus(struct privacy_filter *pf, uint32_t win)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FOCUS;
	ev.u.focus.window = win;
	ev.u.focus.x = 0;
	ev.u.focus.y = 0;
	ev.u.focus.w = 64;
	ev.u.focus.h = 64;
	snprintf(ev.u.focus.app, sizeof(ev.u.focus.app), "Mousepad");
	snprintf(ev.u.focus.title, sizeof(ev.u.focus.title), "notes.txt");
	push(pf, &ev);
}

static void
type_str(struct privacy_filter *pf, const char *s)
{
	struct ut_event ev;

	for (; *s; s++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_KEY;
		ev.u.key.keysym = (unsigned char)*s;
		ev.u.key.keycode = (uint8_t)((unsigned char)*s & 0x7f) + 8;
		ev.u.key.down = 1;
		ev.u.key.text[0] = *s;
		push(pf, &ev);
		ev.u.key.down = 0;
		ev.u.key.text[0] = '\0';
		push(pf, &ev);
	}
}

/*
 * A 128 x 64 white region at (0, 0) (a whole 128 x 64 screen); the active
 * window fwin's top-level is the left half.  data is malloc'd.
 */
static void
frame(struct privacy_filter *pf, uint8_t format, uint32_t fwin, uint32_t gen)
{
	struct ut_event ev;
	struct ut_frame_data *fd;
	uint8_t *px = malloc(128 * 64 * 4), *enc = NULL;
	size_t n;

	T_ASSERT(px != NULL);
	memset(px, 0xff, 128 * 64 * 4);
	n = format == UT_FRAME_WEBP_LOSSLESS ?
	    WebPEncodeLosslessBGRA(px, 128, 64, 128 * 4, &enc) :
	    WebPEncodeBGRA(px, 128, 64, 128 * 4, 90, &enc);
	free(px);
	T_ASSERT(n > 0);
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FRAME;
	ev.u.frame.frame_id = SEQ;
	ev.u.frame.w = ev.u.frame.rw = 128;
	ev.u.frame.h = ev.u.frame.rh = 64;
	ev.u.frame.nparts = 1;
	ev.u.frame.format = format;
	fd = ut_frame_data_new(n);
	memcpy(fd->bytes, enc, n);
	event_frame_attach(&ev, fd);
	WebPFree(enc);
	ev.u.frame.masks_gen = gen;
	ev.u.frame.fwin = fwin;
	ev.u.frame.fw = 64;
	ev.u.frame.fh = 64;
	push(pf, &ev);
}

/* Green value of pixel (x, y) of emitted frame ev. */
static int
green(const struct ut_event *ev, int x, int y)
{
	int w, h, v;
	uint8_t *px;

	T_ASSERT(ev->type == UT_EV_FRAME && ev->u.frame.data != NULL);
	px = WebPDecodeRGB(ev->u.frame.data, ev->u.frame.len, &w, &h);
	T_ASSERT(px != NULL);
	T_ASSERT(w == 128 && h == 64);
	v = px[(y * w + x) * 3 + 1];
	WebPFree(px);
	return v;
}

static size_t
frames_out(size_t *idx, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < NOUT; i++)
		if (OUT[i].type == UT_EV_FRAME && n < max)
			idx[n++] = i;
	return n;
}

static void
test_pixels_secret_blacks_window(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	size_t fi[8], n;

	memset(&o, 0, sizeof(o));
	o.hold_ms = UINT32_MAX; /* whole bursts: every frame is held */
	pf = mk(&o, true);
	focus(pf, WIN);
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0); /* before: as it was */
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 10, 10), 255);

	type_str(pf, "card 4111 1111");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	type_str(pf, " 1111 1111 ok");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	/* Held with the burst: nothing written before the scan. */
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(privacy_filter_tick(pf, NOW + 2000 * MS), 0);
	T_ASSERT_EQ(NMASKED, 1);
	T_ASSERT_EQ(MASKED[0], WIN);
	T_ASSERT_STREQ(MTEXT[0], "4111 1111 1111 1111"); /* to find on screen */
	n = frames_out(fi, 8);
	T_ASSERT_EQ(n, 3);
	/* The held frames: the window's half is black, the rest untouched. */
	T_ASSERT_EQ(green(&OUT[fi[1]], 10, 10), 0);
	T_ASSERT_EQ(green(&OUT[fi[1]], 63, 63), 0);
	T_ASSERT_EQ(green(&OUT[fi[1]], 64, 10), 255);
	T_ASSERT_EQ(green(&OUT[fi[2]], 30, 40), 0);
	T_ASSERT_EQ(green(&OUT[fi[2]], 100, 40), 255);
	T_ASSERT_EQ(OUT[fi[2]].sensitivity, UT_SENS_CONTENT);

	/*
	 * Grabbed before the board had the window (older generation), with
	 * another window active: blacked at the window's last rectangle.
	 */
	frame(pf, UT_FRAME_WEBP_LOSSLESS, OTHER, GEN - 1);
	/* Grabbed after: capture blacked it already, left alone. */
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, GEN);
	n = frames_out(fi, 8);
	T_ASSERT_EQ(n, 5);
	T_ASSERT_EQ(green(&OUT[fi[3]], 5, 5), 0);
	T_ASSERT_EQ(green(&OUT[fi[3]], 70, 5), 255);
	T_ASSERT_EQ(green(&OUT[fi[4]], 5, 5), 255);
	done(pf);
}

static void
test_pixels_plain_text_untouched(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	size_t fi[8], i, n;

	memset(&o, 0, sizeof(o));
	pf = mk(&o, true);
	focus(pf, WIN);
	type_str(pf, "quarterly report draft");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	T_ASSERT_EQ(frames_out(fi, 8), 0);
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	n = frames_out(fi, 8);
	T_ASSERT_EQ(n, 2);
	for (i = 0; i < n; i++)
		T_ASSERT_EQ(green(&OUT[fi[i]], 10, 10), 255);
	T_ASSERT_EQ(NMASKED, 0);
	done(pf);
}

/* An identity typed is redacted from the keys but does not black pixels. */
static void
test_pixels_identity_no_mask(void)
{
	struct privacy_identity id;
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	size_t fi[8];

	memset(&id, 0, sizeof(id));
	snprintf(id.user, sizeof(id.user), "alice");
	memset(&o, 0, sizeof(o));
	o.identity = &id;
	pf = mk(&o, true);
	focus(pf, WIN);
	type_str(pf, "ssh alice@box");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 10, 10), 255);
	T_ASSERT_EQ(NMASKED, 0);
	done(pf);
}

/* Without a capture board the filter blacks every later frame itself. */
static void
test_pixels_without_board(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	size_t fi[8];

	memset(&o, 0, sizeof(o));
	pf = mk(&o, false);
	focus(pf, WIN);
	type_str(pf, "key AKIAIOSFODNN7EXAMPLE");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0); /* held: the window's rectangle */
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 123456);
	frame(pf, UT_FRAME_WEBP_LOSSY, OTHER, 0);
	T_ASSERT_EQ(frames_out(fi, 8), 3);
	T_ASSERT_EQ(green(&OUT[fi[1]], 20, 20), 0);
	T_ASSERT_EQ(green(&OUT[fi[1]], 90, 20), 255);
	/* Lossy: re-encoded lossy, black stays (near) black. */
	T_ASSERT(green(&OUT[fi[2]], 20, 20) < 16);
	T_ASSERT(green(&OUT[fi[2]], 110, 20) > 240);
	done(pf);

	/* No grab ever showed the window's top-level: the whole screen. */
	pf = mk(&o, false);
	focus(pf, WIN);
	type_str(pf, "key AKIAIOSFODNN7EXAMPLE");
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	frame(pf, UT_FRAME_WEBP_LOSSLESS, OTHER, 0);
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 20, 20), 0);
	T_ASSERT_EQ(green(&OUT[fi[0]], 120, 60), 0);
	done(pf);
}

/* Held frame bytes are bounded: reaching the cap releases the burst. */
static void
test_pixels_frame_bytes_cap(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	size_t fi[8];

	memset(&o, 0, sizeof(o));
	o.max_frame_bytes = 1;
	pf = mk(&o, true);
	focus(pf, WIN);
	type_str(pf, "4111 1111 1111 1111");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	/* Released at once, scanned first: blacked. */
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 10, 10), 0);
	/* The secret, and the whole window: the cut may split another. */
	T_ASSERT_EQ(NMASKED, 2);
	T_ASSERT_STREQ(MTEXT[0], "4111 1111 1111 1111");
	T_ASSERT_STREQ(MTEXT[1], "");
	done(pf);

	/* Plain text cut by the cap: still the whole window (fail closed). */
	pf = mk(&o, true);
	focus(pf, WIN);
	type_str(pf, "the quarterly numbers are");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, WIN, 0);
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 10, 10), 0);
	T_ASSERT_EQ(green(&OUT[fi[0]], 100, 10), 255);
	T_ASSERT_EQ(NMASKED, 1);
	T_ASSERT_STREQ(MTEXT[0], "");
	done(pf);
}

/* A region that does not decode is blacked whole (fail closed). */
static void
test_pixels_undecodable_region(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	struct ut_event ev;
	struct ut_frame_data *fd;
	size_t fi[8];

	memset(&o, 0, sizeof(o));
	pf = mk(&o, true);
	focus(pf, WIN);
	type_str(pf, "mail bob@example.com now");
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FRAME;
	ev.u.frame.w = ev.u.frame.rw = 128;
	ev.u.frame.h = ev.u.frame.rh = 64;
	ev.u.frame.nparts = 1;
	ev.u.frame.format = UT_FRAME_WEBP_LOSSLESS;
	fd = ut_frame_data_new(32);
	memset(fd->bytes, 'x', 32);
	event_frame_attach(&ev, fd);
	ev.u.frame.fwin = WIN;
	ev.u.frame.fw = 8;
	ev.u.frame.fh = 8;
	push(pf, &ev);
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 100, 60), 0);
	done(pf);
}

/* No focused window known: the whole screen is blacked (fail closed). */
static void
test_pixels_no_focus_whole_screen(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;
	size_t fi[8];

	memset(&o, 0, sizeof(o));
	pf = mk(&o, true);
	type_str(pf, "4539 1488 0343 6467");
	frame(pf, UT_FRAME_WEBP_LOSSLESS, 0, 0);
	T_ASSERT_EQ(privacy_filter_flush(pf), 0);
	T_ASSERT_EQ(NMASKED, 1);
	T_ASSERT_EQ(MASKED[0], 0);
	T_ASSERT_EQ(frames_out(fi, 8), 1);
	T_ASSERT_EQ(green(&OUT[fi[0]], 10, 10), 0);
	T_ASSERT_EQ(green(&OUT[fi[0]], 127, 63), 0);
	done(pf);
}

/* Frames still held when the filter is destroyed are freed (ASan). */
static void
test_pixels_destroy_frees_held(void)
{
	struct privacy_filter_opts o;
	struct privacy_filter *pf;

	memset(&o, 0, sizeof(o));
	pf = mk(&o, true);
	focus(pf, WIN);
	type_str(pf, "abc");
	frame(pf, UT_FRAME_WEBP_LOSSY, WIN, 0);
	done(pf);
}

T_LIST(T_CASE(test_pixels_secret_blacks_window),
    T_CASE(test_pixels_plain_text_untouched),
    T_CASE(test_pixels_identity_no_mask), T_CASE(test_pixels_without_board),
    T_CASE(test_pixels_frame_bytes_cap), T_CASE(test_pixels_undecodable_region),
    T_CASE(test_pixels_no_focus_whole_screen),
    T_CASE(test_pixels_destroy_frees_held))
