/*
 * bench_pixels.c - what blacking a typed secret's window out of frames
 * costs in the privacy filter (PRIV-P4-3; not pass/fail).
 *
 * A filter without a capture board blacks every frame after a secret was
 * typed itself: decode the region, paint the window black, encode again.
 * Measured per FRAME record, through privacy_filter_push(), for a
 * 1920 x 1080 key frame and a 512 x 128 delta region (typing), lossy
 * (quality 80) and lossless, against the same frames passed through
 * untouched.  The "screen" is text-like: dark glyph strokes on white.
 * Prints medians of REPS runs.
 *
 *   build/bench/bench_pixels [REPS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/encode.h>

#include "usetrace/privacy.h"
#include "usetrace/util.h"

#define SW 1920
#define SH 1080
#define WIN 42u

static uint8_t *enc_key[2], *enc_delta[2];
static size_t len_key[2], len_delta[2];

static int
sink(void *arg, const struct ut_event *ev)
{
	(void)arg;
	event_dispose(ev);
	return 0;
}

static uint8_t *
screen(int w, int h)
{
	uint8_t *px = malloc((size_t)w * h * 4);
	uint32_t s = 12345;
	int x, y;

	if (px == NULL)
		exit(1);
	memset(px, 0xff, (size_t)w * h * 4);
	for (y = 0; y < h; y++) {
		if (y % 18 > 12)
			continue; /* line spacing */
		for (x = 0; x < w; x++) {
			s = s * 1103515245u + 12345u;
			if ((x / 7 + y / 18) % 9 != 0 && (s >> 16) % 5 == 0)
				memset(px + ((size_t)y * w + x) * 4, 0x20, 3);
		}
	}
	return px;
}

static size_t
encode(const uint8_t *px, int w, int h, int lossless, uint8_t **out)
{
	return lossless ? WebPEncodeLosslessBGRA(px, w, h, w * 4, out) :
	    WebPEncodeBGRA(px, w, h, w * 4, 80, out);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct privacy_filter *
filter(int secret)
{
	struct privacy_filter *pf = privacy_filter_create(NULL, sink, NULL);
	struct ut_event ev;
	const char *s = "card 4539 1488 0343 6467 ", *p;
	uint64_t t = 1000000000ull;

	if (pf == NULL)
		exit(1);
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FOCUS;
	ev.u.focus.window = WIN;
	ev.u.focus.y = 40;
	ev.u.focus.w = 1900;
	ev.u.focus.h = 1000;
	ev.mono_ns = t;
	if (privacy_filter_push(pf, &ev) < 0)
		exit(1);
	for (p = s; secret && *p; p++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_KEY;
		ev.mono_ns = t += 50000000ull;
		ev.u.key.keysym = (unsigned char)*p;
		ev.u.key.keycode = (uint8_t)(*p & 0x7f);
		ev.u.key.down = 1;
		ev.u.key.text[0] = *p;
		if (privacy_filter_push(pf, &ev) < 0)
			exit(1);
	}
	if (privacy_filter_flush(pf) < 0)
		exit(1);
	return pf;
}

/* Median ns per pushed frame. */
static double
run(int secret, int delta, int lossless, int reps)
{
	struct privacy_filter *pf = filter(secret);
	uint64_t *ns = calloc((size_t)reps, sizeof(*ns)), t0;
	struct ut_event ev;
	struct ut_frame_data *fd;
	int i;
	double med;

	for (i = 0; i < reps; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_FRAME;
		ev.u.frame.w = SW;
		ev.u.frame.h = SH;
		ev.u.frame.rx = delta ? 256 : 0;
		ev.u.frame.ry = delta ? 320 : 0;
		ev.u.frame.rw = delta ? 512 : SW;
		ev.u.frame.rh = delta ? 128 : SH;
		ev.u.frame.nparts = 1;
		ev.u.frame.format = lossless ? UT_FRAME_WEBP_LOSSLESS : UT_FRAME_WEBP_LOSSY;
		fd = ut_frame_data_new(delta ? len_delta[lossless] : len_key[lossless]);
		memcpy(fd->bytes, delta ? enc_delta[lossless] : enc_key[lossless],
		    fd->len);
		event_frame_attach(&ev, fd);
		ev.mono_ns = 9000000000ull + (uint64_t)i;
		t0 = ut_now_mono_ns();
		if (privacy_filter_push(pf, &ev) < 0)
			exit(1);
		ns[i] = ut_now_mono_ns() - t0;
	}
	privacy_filter_destroy(pf);
	qsort(ns, (size_t)reps, sizeof(*ns), cmp_u64);
	med = (double)ns[reps / 2];
	free(ns);
	return med;
}

int
main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 15, l, d;
	uint8_t *full = screen(SW, SH), *part = screen(512, 128);

	if (reps < 1)
		reps = 15;
	for (l = 0; l < 2; l++) {
		len_key[l] = encode(full, SW, SH, l, &enc_key[l]);
		len_delta[l] = encode(part, 512, 128, l, &enc_delta[l]);
		if (len_key[l] == 0 || len_delta[l] == 0)
			return 1;
	}
	printf("privacy filter, per FRAME record, median of %d (ms)\n", reps);
	printf("%-28s %12s %12s\n", "", "passed", "blacked");
	for (l = 0; l < 2; l++)
		for (d = 0; d < 2; d++) {
			char name[64];

			snprintf(name, sizeof(name), "%s %s", d ? "512x128 delta" :
			    "1920x1080 key frame", l ? "lossless" : "lossy q80");
			printf("%-28s %12.3f %12.3f\n", name,
			    run(0, d, l, reps) / 1e6, run(1, d, l, reps) / 1e6);
		}
	for (l = 0; l < 2; l++) {
		WebPFree(enc_key[l]);
		WebPFree(enc_delta[l]);
	}
	free(full);
	free(part);
	return 0;
}
