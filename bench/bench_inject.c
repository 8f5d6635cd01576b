/*
 * bench_inject.c - input generator for the recorder benchmarks
 * (bench/record_bench.sh).  Injects events through XTEST, as a person's
 * devices would reach the server, and prints what it injected when.
 *
 *   bench_inject latency N      N pointer moves 2 ms apart; prints
 *                               "x y t_inject_mono_ns" per move
 *   bench_inject clicks N       as latency, with a left click after every
 *                               25th move (bench/target_bench.sh)
 *   bench_inject burst N        N pointer moves as fast as possible
 *   bench_inject office SECS    a seeded office-work mix for SECS seconds:
 *                               typing bursts (~6 keys/s), pointer travel
 *                               at 60 Hz, clicks, wheel scrolls, pauses
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

static unsigned long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void
sleep_ms(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	nanosleep(&ts, NULL);
}

static unsigned rng = 12345;

static unsigned
rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

static void
key(Display *d, KeySym s, int shift)
{
	KeyCode kc = XKeysymToKeycode(d, s), sh = XKeysymToKeycode(d, XK_Shift_L);

	if (kc == 0)
		return;
	if (shift)
		XTestFakeKeyEvent(d, sh, True, CurrentTime);
	XTestFakeKeyEvent(d, kc, True, CurrentTime);
	XTestFakeKeyEvent(d, kc, False, CurrentTime);
	if (shift)
		XTestFakeKeyEvent(d, sh, False, CurrentTime);
	XFlush(d);
}

static void
office(Display *d, int secs)
{
	unsigned long long end = now_ns() + (unsigned long long)secs * 1000000000ull;
	int px = 400, py = 300, sw = DisplayWidth(d, 0), sh = DisplayHeight(d, 0);

	while (now_ns() < end) {
		unsigned act = rnd(10), i, n;

		if (act < 5) { /* type a phrase */
			n = 20 + rnd(60);
			for (i = 0; i < n; i++) {
				unsigned c = rnd(30);

				if (c < 26)
					key(d, XK_a + c, rnd(20) == 0);
				else if (c < 29)
					key(d, XK_space, 0);
				else
					key(d, XK_BackSpace, 0);
				sleep_ms(120 + rnd(100));
			}
		} else if (act < 8) { /* move and click */
			int tx = (int)rnd((unsigned)sw), ty = (int)rnd((unsigned)sh);
			int steps = 20 + (int)rnd(40), s;

			for (s = 1; s <= steps; s++) {
				XTestFakeMotionEvent(d, 0, px + (tx - px) * s / steps,
				    py + (ty - py) * s / steps, CurrentTime);
				XFlush(d);
				sleep_ms(16.7);
			}
			px = tx;
			py = ty;
			XTestFakeButtonEvent(d, 1, True, CurrentTime);
			XTestFakeButtonEvent(d, 1, False, CurrentTime);
			XFlush(d);
		} else if (act < 9) { /* scroll a page */
			n = 3 + rnd(6);
			for (i = 0; i < n; i++) {
				XTestFakeButtonEvent(d, 5, True, CurrentTime);
				XTestFakeButtonEvent(d, 5, False, CurrentTime);
				XFlush(d);
				sleep_ms(60);
			}
		} else /* read */
			sleep_ms(1000 + rnd(3000));
	}
}

int
main(int argc, char **argv)
{
	Display *d;
	int n, i, ev, er, maj, min;
	unsigned long long t;

	if (argc != 3 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_inject latency|clicks|burst|office N\n");
		return 2;
	}
	if ((d = XOpenDisplay(NULL)) == NULL ||
	    !XTestQueryExtension(d, &ev, &er, &maj, &min)) {
		fprintf(stderr, "bench_inject: no display with XTEST\n");
		return 1;
	}
	if (strcmp(argv[1], "latency") == 0 || strcmp(argv[1], "clicks") == 0) {
		for (i = 0; i < n; i++) {
			int x = 100 + i % 500, y = 100 + (i / 500) % 400;

			t = now_ns();
			XTestFakeMotionEvent(d, 0, x, y, CurrentTime);
			XFlush(d);
			printf("%d %d %llu\n", x, y, t);
			sleep_ms(2);
			if (argv[1][0] == 'c' && i % 25 == 24) {
				XTestFakeButtonEvent(d, 1, True, CurrentTime);
				XTestFakeButtonEvent(d, 1, False, CurrentTime);
				XFlush(d);
				sleep_ms(2);
			}
		}
	} else if (strcmp(argv[1], "burst") == 0) {
		for (i = 0; i < n; i++)
			XTestFakeMotionEvent(d, 0, 100 + i % 700, 100 + (i / 700) % 2, CurrentTime);
		XSync(d, False);
	} else if (strcmp(argv[1], "office") == 0) {
		office(d, n);
	} else {
		fprintf(stderr, "bench_inject: unknown mode %s\n", argv[1]);
		return 2;
	}
	XCloseDisplay(d);
	return 0;
}
