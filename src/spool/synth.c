/*
 * synth.c - synthetic recordings through the real spool writer (synth.h).
 *
 * A run is a simulated session: a clock (wall ns, starting at
 * start_wall_ns) that every record and the spool's header and trailer times
 * read, a pointer position, and a seeded generator (splitmix64).  Each
 * segment is one spool_open .. spool_close: SESSION and MONITORS records,
 * a commit (so the header's start time is the SESSION's time), then
 * "episodes" of activity, each followed by a group commit, until the
 * segment reaches its target size.
 *
 * Invariants:
 *  (1) Records reach the file only through spool_append / spool_commit /
 *      spool_close: the format is the agent's by construction.
 *  (2) The clock only moves forward (but for signing the trailer of a
 *      segment cut at midnight, see midnight()), and every record's wall,
 *      monotonic and X server times move with it; a segment's signed start
 *      is the wall time of its SESSION record.
 *  (3) on_record sees each record as a reader returns it: encoded and
 *      decoded once (event_encode / event_decode), in append order.
 *  (4) Only the seed decides the records; randomness of ids and keys stays
 *      the spool's.
 *  (5) A segment holds records of one UTC day: when the clock passes 00:00
 *      UTC the open segment is closed and the next one (sealed for the new
 *      day) begins, as the agent rotates at midnight.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <webp/encode.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/spool.h"
#include "usetrace/synth.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"
#include "spool_int.h"

#define MS 1000000LL
#define SCREEN_W 1280u
#define SCREEN_H 720u
#define TILE_W 320u
#define TILE_H 180u
#define TILES_X (SCREEN_W / TILE_W)
#define TILES_Y (SCREEN_H / TILE_H)
#define NTILES 64u   /* distinct regions: zstd finds few repeats in a batch */
#define MARKER_MAX 200u
#define BOOT_NS (4321LL * 1000 * MS)   /* monotonic clock at the start */

/* X keycodes of the keys we press besides characters (keysyms: typing.h). */
#define KC_SHIFT 50u
#define KC_CONTROL 37u
#define KC_RETURN 36u

struct app {
	const char *cls, *instance, *suffix;
};

static const struct app apps[] = {
	{ "firefox", "Navigator", " - Mozilla Firefox" },
	{ "Gnome-terminal", "gnome-terminal-server", "" },
	{ "libreoffice-writer", "libreoffice", " - LibreOffice Writer" },
	{ "Code", "code", " - Visual Studio Code" },
	{ "thunderbird", "Mail", " - Mozilla Thunderbird" },
	{ "org.gnome.Nautilus", "org.gnome.Nautilus", "" },
	{ "Gedit", "gedit", " - gedit" },
};
#define NAPPS (sizeof(apps) / sizeof(apps[0]))

static const char *const words[] = {
	"the", "report", "quarterly", "budget", "meeting", "notes", "draft",
	"review", "customer", "invoice", "schedule", "project", "update",
	"please", "send", "before", "friday", "team", "numbers", "chart",
	"summary", "release", "build", "test", "fix", "issue", "server",
	"config", "deploy", "agenda", "minutes", "plan", "and", "for", "with",
	"to", "of", "a", "in", "on", "check", "final", "version", "table",
	"Monday", "March", "sales", "design", "Berlin", "London", "data",
	"42", "2026", "ok", "thanks", "will", "do", "next", "week", "list",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

struct synth {
	const struct synth_opts *o;
	uint64_t rng;
	int64_t t0, now;       /* simulated wall clock */
	uint64_t seq, frame_id;
	struct spool *sp;
	unsigned seg, nseg;    /* segments closed so far, wanted */
	int64_t seg_day;       /* UTC day of the open segment */
	unsigned ep;           /* episodes begun in the open segment */
	unsigned since_key;    /* frames stored since the segment's last key frame */
	bool done;             /* nothing more is appended */
	int stop;              /* a callback's non-zero return */
	uint64_t records;
	int32_t px, py;
	bool frames;
	uint8_t *tile[NTILES];
	size_t tile_len[NTILES];
	struct buf enc;        /* one record's encoding (invariant 3) */
};

static uint64_t
rnd(struct synth *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in lo..hi (inclusive). */
static int64_t
between(struct synth *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}

static int64_t
clock_cb(void *arg)
{
	return ((struct synth *)arg)->now;
}

static void
wait_ms(struct synth *s, int64_t lo, int64_t hi)
{
	s->now += between(s, lo, hi) * MS;
}

static int64_t
day_of(int64_t ns)
{
	return ns >= 0 ? ns / (86400LL * 1000 * MS) : -1;
}

static int midnight(struct synth *s);

/*
 * Appends ev with the clock's times (invariant 2) and reports it (3).
 * Once the run is done (the last segment closed, or a callback asked to
 * stop) records are dropped and 0 is returned, so an episode unwinds.
 */
static int
emit(struct synth *s, struct ut_event *ev)
{
	struct event_codec c;
	struct ut_event dec;
	struct bufrd rd;
	uint64_t mono = (uint64_t)(s->now - s->t0 + BOOT_NS);
	int r;

	/* The agent rotates at 00:00 UTC; so do we (invariant 5). */
	if (!s->done && s->sp != NULL && day_of(s->now) != s->seg_day &&
	    (r = midnight(s)) < 0)
		return r;
	if (s->done)
		return 0;
	ev->seq = ++s->seq;
	ev->wall_ns = s->now;
	ev->mono_ns = mono;
	ev->xtime = (uint32_t)(mono / (uint64_t)MS);
	if (ev->sensitivity == 0)
		ev->sensitivity = UT_SENS_NONE;
	if ((r = spool_append(s->sp, ev)) < 0)
		return r;
	s->records++;
	if (s->o->on_record == NULL)
		return 0;
	buf_reset(&s->enc);
	event_codec_init(&c);
	if ((r = event_encode(&c, ev, &s->enc)) < 0)
		return r;
	bufrd_init(&rd, s->enc.data, s->enc.len);
	event_codec_init(&c);
	if ((r = event_decode(&c, &rd, &dec)) < 0)
		return r;
	r = s->o->on_record(s->seg, &dec, s->o->arg);
	sodium_memzero(&dec, sizeof(dec));
	if (r > 0) {
		s->stop = r;
		s->done = true;
		r = 0;
	}
	return r;
}

static int
emit_session(struct synth *s)
{
	struct ut_event ev;
	int r;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_SESSION;
	snprintf(ev.u.session.display, sizeof(ev.u.session.display), ":99");
	ev.u.session.screen_w = SCREEN_W;
	ev.u.session.screen_h = SCREEN_H;
	ev.u.session.double_click_ms = 400;
	ev.u.session.double_click_px = 4;
	snprintf(ev.u.session.layout, sizeof(ev.u.session.layout), "us");
	if ((r = emit(s, &ev)) < 0)
		return r;
	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_MONITORS;
	ev.u.monitors.n = 1;
	ev.u.monitors.m[0].w = SCREEN_W;
	ev.u.monitors.m[0].h = SCREEN_H;
	ev.u.monitors.m[0].primary = true;
	snprintf(ev.u.monitors.m[0].name, sizeof(ev.u.monitors.m[0].name),
	    "screen");
	return emit(s, &ev);
}

/* A few words into out (size n), space-separated. */
static void
phrase(struct synth *s, char *out, size_t n, unsigned lo, unsigned hi)
{
	unsigned i, k = (unsigned)between(s, lo, hi);
	size_t len = 0;

	out[0] = '\0';
	for (i = 0; i < k && len + 16 < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "",
		    words[rnd(s) % NWORDS]);
}

static int
emit_focus(struct synth *s, bool with_marker)
{
	const struct app *a = &apps[rnd(s) % NAPPS];
	struct ut_event ev;
	char words_[160];

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_FOCUS;
	ev.u.focus.window = 0x01400000u + (uint32_t)(rnd(s) % 0x10000);
	ev.u.focus.pid = 1000 + (uint32_t)(rnd(s) % 30000);
	ev.u.focus.x = (int32_t)between(s, 0, 200);
	ev.u.focus.y = (int32_t)between(s, 0, 100);
	ev.u.focus.w = SCREEN_W - 200;
	ev.u.focus.h = SCREEN_H - 100;
	snprintf(ev.u.focus.app, sizeof(ev.u.focus.app), "%s", a->cls);
	snprintf(ev.u.focus.instance, sizeof(ev.u.focus.instance), "%s",
	    a->instance);
	phrase(s, words_, sizeof(words_), 2, 5);
	snprintf(ev.u.focus.title, sizeof(ev.u.focus.title), "%s%s%s%s",
	    words_, with_marker ? " " : "", with_marker ? s->o->marker : "",
	    a->suffix);
	wait_ms(s, 50, 400);
	return emit(s, &ev);
}

/*
 * A delta frame (frames_per_episode): 1 to 4 of the screen's tiles changed
 * since the frame before, the base.
 */
static int
emit_delta(struct synth *s)
{
	struct ut_event ev;
	unsigned i, n = (unsigned)between(s, 1, 4), at;
	int r;

	s->frame_id++;
	s->since_key++;
	wait_ms(s, 20, 60);
	at = (unsigned)(rnd(s) % (TILES_X * TILES_Y - 3));
	for (i = 0; i < n; i++) {
		unsigned t = (unsigned)(rnd(s) % NTILES);

		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_FRAME;
		ev.sensitivity = UT_SENS_CONTENT;
		ev.u.frame.frame_id = s->frame_id;
		ev.u.frame.base_id = s->frame_id - 1;
		ev.u.frame.w = SCREEN_W;
		ev.u.frame.h = SCREEN_H;
		ev.u.frame.rx = (int32_t)(((at + i) % TILES_X) * TILE_W);
		ev.u.frame.ry = (int32_t)(((at + i) / TILES_X) * TILE_H);
		ev.u.frame.rw = TILE_W;
		ev.u.frame.rh = TILE_H;
		ev.u.frame.part = (uint16_t)i;
		ev.u.frame.nparts = (uint16_t)n;
		ev.u.frame.format = UT_FRAME_WEBP_LOSSY;
		ev.u.frame.len = (uint32_t)s->tile_len[t];
		ev.u.frame.data = s->tile[t];
		if ((r = emit(s, &ev)) < 0)
			return r;
	}
	return 0;
}

/* A 1280x720 key frame of NTILES-chosen WebP regions. */
static int
emit_frame(struct synth *s)
{
	struct ut_event ev;
	unsigned i;
	int r;

	s->frame_id++;
	s->since_key = 1;
	wait_ms(s, 20, 60);
	for (i = 0; i < TILES_X * TILES_Y; i++) {
		unsigned t = (unsigned)(rnd(s) % NTILES);

		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_FRAME;
		ev.sensitivity = UT_SENS_CONTENT;
		ev.u.frame.frame_id = s->frame_id;
		ev.u.frame.w = SCREEN_W;
		ev.u.frame.h = SCREEN_H;
		ev.u.frame.rx = (int32_t)((i % TILES_X) * TILE_W);
		ev.u.frame.ry = (int32_t)((i / TILES_X) * TILE_H);
		ev.u.frame.rw = TILE_W;
		ev.u.frame.rh = TILE_H;
		ev.u.frame.part = (uint16_t)i;
		ev.u.frame.nparts = TILES_X * TILES_Y;
		ev.u.frame.format = UT_FRAME_WEBP_LOSSY;
		ev.u.frame.len = (uint32_t)s->tile_len[t];
		ev.u.frame.data = s->tile[t];
		if ((r = emit(s, &ev)) < 0)
			return r;
	}
	return 0;
}

/* Pointer moves to (x, y) in a straight line, about 60 Hz. */
static int
move_to(struct synth *s, int32_t x, int32_t y)
{
	struct ut_event ev;
	int steps = (int)between(s, 6, 18), i, r;
	int32_t x0 = s->px, y0 = s->py;

	for (i = 1; i <= steps; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = UT_EV_MOTION;
		ev.u.motion.x = x0 + (x - x0) * i / steps;
		ev.u.motion.y = y0 + (y - y0) * i / steps;
		wait_ms(s, 12, 20);
		if ((r = emit(s, &ev)) < 0)
			return r;
	}
	s->px = x;
	s->py = y;
	return 0;
}

static int
button(struct synth *s, uint8_t b, uint8_t down, uint16_t state)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_BUTTON;
	ev.u.button.x = s->px;
	ev.u.button.y = s->py;
	ev.u.button.button = b;
	ev.u.button.down = down;
	ev.u.button.state = state;
	return emit(s, &ev);
}

static int
click(struct synth *s, uint8_t b)
{
	int r;

	if ((r = button(s, b, 1, 0)) < 0)
		return r;
	wait_ms(s, 60, 120);
	return button(s, b, 0, b == 1 ? 0x100 : 0);
}

static int
key(struct synth *s, uint32_t keysym, uint8_t keycode, uint8_t down,
    uint16_t state, const char *text, size_t textlen)
{
	struct ut_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = UT_EV_KEY;
	ev.sensitivity = textlen > 0 ? UT_SENS_CONTENT : UT_SENS_NONE;
	ev.u.key.keysym = keysym;
	ev.u.key.keycode = keycode;
	ev.u.key.down = down;
	ev.u.key.state = state;
	if (down && textlen > 0)
		memcpy(ev.u.key.text, text, textlen);
	return emit(s, &ev);
}

/* Length of the UTF-8 character at p (1..4) and its code point. */
static size_t
utf8_char(const char *p, uint32_t *cp)
{
	const uint8_t *u = (const uint8_t *)p;
	size_t n, i;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	n = u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : 2;
	*cp = u[0] & (0x3f >> (n - 1));
	for (i = 1; i < n && (u[i] & 0xc0) == 0x80; i++)
		*cp = (*cp << 6) | (u[i] & 0x3f);
	return i;
}

/* Types text key by key (Shift where a US keyboard needs it). */
static int
type_text(struct synth *s, const char *text)
{
	static const char shifted[] = "~!@#$%^&*()_+{}|:\"<>?";
	const char *p = text;
	uint32_t cp, ks;
	uint8_t kc;
	size_t n;
	bool shift;
	int r;

	while (*p != '\0') {
		n = utf8_char(p, &cp);
		ks = cp < 0x80 ? cp : 0x01000000u + cp;
		kc = (uint8_t)(10 + cp % 60);
		shift = (cp >= 'A' && cp <= 'Z') ||
		    (cp < 0x80 && cp != 0 && strchr(shifted, (int)cp) != NULL);
		wait_ms(s, 40, 220);
		if (shift && (r = key(s, UT_KS_SHIFT_L, KC_SHIFT, 1, 0, NULL, 0)) < 0)
			return r;
		if (shift)
			wait_ms(s, 20, 60);
		if ((r = key(s, ks, kc, 1, shift ? UT_MOD_SHIFT : 0, p, n)) < 0)
			return r;
		wait_ms(s, 30, 110);
		if ((r = key(s, ks, kc, 0, shift ? UT_MOD_SHIFT : 0, NULL, 0)) < 0)
			return r;
		if (shift) {
			wait_ms(s, 10, 40);
			if ((r = key(s, UT_KS_SHIFT_L, KC_SHIFT, 0, UT_MOD_SHIFT, NULL,
			    0)) < 0)
				return r;
		}
		p += n;
	}
	return 0;
}

static int
hotkey_save(struct synth *s)
{
	int r;

	wait_ms(s, 300, 900);
	if ((r = key(s, UT_KS_CONTROL_L, KC_CONTROL, 1, 0, NULL, 0)) < 0)
		return r;
	wait_ms(s, 80, 200);
	if ((r = key(s, 's', 39, 1, UT_MOD_CONTROL, NULL, 0)) < 0)
		return r;
	wait_ms(s, 60, 120);
	if ((r = key(s, 's', 39, 0, UT_MOD_CONTROL, NULL, 0)) < 0)
		return r;
	wait_ms(s, 40, 100);
	return key(s, UT_KS_CONTROL_L, KC_CONTROL, 0, UT_MOD_CONTROL, NULL, 0);
}

static int
scroll(struct synth *s)
{
	uint8_t b = rnd(s) % 4 ? 5 : 4;   /* mostly down */
	int i, n = (int)between(s, 2, 8), r;

	for (i = 0; i < n; i++) {
		wait_ms(s, 25, 90);
		if ((r = button(s, b, 1, 0)) < 0 || (r = button(s, b, 0, 0)) < 0)
			return r;
	}
	return 0;
}

/*
 * One burst of activity: a window gets the focus (with a key frame every
 * third time), the pointer moves there and clicks, a phrase is typed (the
 * marker in the first episode of a segment), maybe a scroll and Ctrl+S,
 * then a pause.
 */
static int
episode(struct synth *s)
{
	unsigned n = s->ep++, i;
	bool mark = n == 0 && s->o->marker != NULL;
	char text[600];
	size_t len;
	int r;

	if ((r = emit_focus(s, mark)) < 0)
		return r;
	if (s->frames && s->o->frames_per_episode == 0 && n % 3 == 0 &&
	    (r = emit_frame(s)) < 0)
		return r;
	/* As the agent: a key frame first in a segment and every 300th. */
	for (i = 0; s->frames && i < s->o->frames_per_episode; i++)
		if ((r = s->since_key == 0 || s->since_key >= 300 ? emit_frame(s) :
		    emit_delta(s)) < 0)
			return r;
	if ((r = move_to(s, (int32_t)between(s, 0, SCREEN_W - 1),
	    (int32_t)between(s, 0, SCREEN_H - 1))) < 0)
		return r;
	wait_ms(s, 100, 400);
	if ((r = click(s, rnd(s) % 8 ? 1 : 3)) < 0)
		return r;
	phrase(s, text, 300, 3, 14);
	if (mark) {
		len = strlen(text);
		snprintf(text + len, sizeof(text) - len, " %s", s->o->marker);
	}
	wait_ms(s, 300, 1200);
	if ((r = type_text(s, text)) < 0)
		return r;
	if (rnd(s) % 3 == 0 && (r = scroll(s)) < 0)
		return r;
	if (rnd(s) % 4 == 0 && (r = hotkey_save(s)) < 0)
		return r;
	wait_ms(s, 2500, 6000);   /* longer than the type and click gaps */
	return 0;
}

/* Grey screenshot-like tiles: a bar, text lines of word blocks, noise. */
static int
make_tiles(struct synth *s)
{
	uint8_t *px = xmalloc((size_t)TILE_W * TILE_H * 3);
	unsigned t, x, y, line;
	int r = 0;

	for (t = 0; t < NTILES; t++) {
		uint8_t bg = (uint8_t)between(s, 220, 255);

		memset(px, bg, (size_t)TILE_W * TILE_H * 3);
		for (y = 0; y < 14 && t % 3 == 0; y++)
			for (x = 0; x < TILE_W; x++) {
				px[(y * TILE_W + x) * 3] = 40;
				px[(y * TILE_W + x) * 3 + 1] = 70;
				px[(y * TILE_W + x) * 3 + 2] = 120;
			}
		for (line = 20; line + 10 < TILE_H; line += 16) {
			x = (unsigned)between(s, 4, 20);
			while (x + 40 < TILE_W) {
				unsigned w = (unsigned)between(s, 8, 40), xx, yy;

				for (yy = line; yy < line + 9; yy++)
					for (xx = x; xx < x + w; xx++) {
						uint8_t v = (uint8_t)(rnd(s) % 90);

						memset(px + (yy * TILE_W + xx) * 3, v, 3);
					}
				x += w + (unsigned)between(s, 4, 9);
			}
		}
		s->tile_len[t] = WebPEncodeRGB(px, TILE_W, TILE_H, TILE_W * 3, 75,
		    &s->tile[t]);
		if (s->tile_len[t] == 0) {
			r = -ENOMEM;
			break;
		}
	}
	free(px);
	return r;
}

/* The newest closed segment of dir, verified, as a synth_segment. */
static int
newest(struct synth *s, struct synth_segment *out)
{
	struct segname *segs = NULL;
	struct spool_upload_info info;
	unsigned char *img = NULL;
	char path[4200];
	size_t len = 0;
	int n, i, r = UT_ENOTFOUND;

	if ((n = spool__list_segments(s->o->dir, &segs)) < 0)
		return n;
	for (i = n - 1; i >= 0 && segs[i].open; i--)
		;
	if (i < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", s->o->dir, segs[i].name);
	if ((r = fsio_read_file(path, SPOOL_FILE_CAP, &img, &len)) < 0)
		goto out;
	if ((r = spool_upload_verify(img, len, false, s->o->device->pk,
	    &info)) < 0)
		goto out;
	memset(out, 0, sizeof(*out));
	out->index = s->seg;
	snprintf(out->name, sizeof(out->name), "%s", segs[i].name);
	memcpy(out->segment_id, info.segment_id, 16);
	out->start_wall_ns = info.start_wall_ns;
	out->end_wall_ns = info.end_wall_ns;
	out->bytes = len;
	out->records = s->records;
out:
	free(img);
	free(segs);
	return r;
}

/* Opens the next segment: sealed for today, SESSION first (invariant 2). */
static int
seg_open(struct synth *s)
{
	struct spool_opts so;
	uint8_t rpk[32];
	int r;

	if ((r = s->o->recipient(s->now, rpk, s->o->arg)) < 0)
		return r;
	memset(&so, 0, sizeof(so));
	so.dir = s->o->dir;
	so.device = s->o->device;
	so.recipient_pk = rpk;
	memcpy(so.subject_id, s->o->subject_id, 16);
	memcpy(so.policy_hash, s->o->policy_hash, 32);
	memcpy(so.consent_id, s->o->consent_id, 16);
	/* The segment closes when we say so, never on its own. */
	so.segment_max_bytes = (size_t)(SPOOL_FILE_CAP / 2);
	so.segment_max_ms = 7ull * 24 * 3600 * 1000;
	so.wall_clock = clock_cb;
	so.wall_clock_arg = s;
	if ((r = spool_open(&so, &s->sp)) < 0)
		return r;
	s->records = 0;
	s->ep = 0;
	s->since_key = 0;
	s->seg_day = day_of(s->now);
	if ((r = emit_session(s)) < 0)
		return r;
	return spool_commit(s->sp);
}

/* Closes the open segment and reports it; done after the last one. */
static int
seg_close(struct synth *s)
{
	struct synth_segment info;
	int r;

	r = spool_close(s->sp);
	s->sp = NULL;
	if (r < 0 || (r = newest(s, &info)) < 0)
		return r;
	if (s->o->on_segment != NULL && (r = s->o->on_segment(&info,
	    s->o->arg)) != 0) {
		s->stop = r;
		s->done = true;
		return 0;
	}
	if (++s->seg == s->nseg)
		s->done = true;
	return 0;
}

/* The clock passed 00:00 UTC inside a segment: the next one begins. */
static int
midnight(struct synth *s)
{
	int64_t now = s->now;
	int r;

	/*
	 * The trailer is signed at the last instant of the old day (no
	 * record is later: the record that crossed is not yet appended), as
	 * the agent's rotation at 00:00 UTC would end it.
	 */
	s->now = (s->seg_day + 1) * 86400LL * 1000 * MS - 1;
	r = seg_close(s);
	s->now = now;
	if (r < 0 || s->done)
		return r;
	return seg_open(s);
}

static bool
marker_ok(const char *m)
{
	size_t i, n;

	if (m == NULL)
		return true;
	n = strlen(m);
	if (n == 0 || n > MARKER_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
			return false;
	return true;
}

int
synth_write(const struct synth_opts *o)
{
	struct synth s;
	uint64_t target, bytes, age;
	unsigned i;
	int r = 0;

	if (o == NULL || o->dir == NULL || o->device == NULL ||
	    o->recipient == NULL || o->segments > SYNTH_SEGMENTS_MAX ||
	    o->segment_bytes > SYNTH_BYTES_MAX || !marker_ok(o->marker) ||
	    o->start_wall_ns < 0)
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.rng = o->seed;
	s.t0 = s.now = o->start_wall_ns ? o->start_wall_ns : ut_now_wall_ns();
	s.px = SCREEN_W / 2;
	s.py = SCREEN_H / 2;
	target = o->segment_bytes ? o->segment_bytes : SYNTH_BYTES_DEFAULT;
	s.nseg = o->segments ? o->segments : 1;
	s.frames = target >= SYNTH_FRAMES_MIN;
	buf_init(&s.enc, sizeof(struct ut_event) + UT_FRAME_DATA_MAX);
	if (s.frames && (r = make_tiles(&s)) < 0)
		goto out;
	if ((r = seg_open(&s)) < 0)
		goto out;
	while (!s.done) {
		if ((r = episode(&s)) < 0 ||
		    (s.sp != NULL && (r = spool_commit(s.sp)) < 0))
			goto out;
		if (s.done)
			break;
		spool_segment_size(s.sp, &bytes, &age);
		if (bytes < target)
			continue;
		if ((r = seg_close(&s)) < 0 || s.done)
			goto out;
		wait_ms(&s, 500, 3000);   /* the gap between segments */
		if ((r = seg_open(&s)) < 0)
			goto out;
	}
out:
	if (s.sp != NULL)
		(void)spool_close(s.sp);   /* after an error: keep what is closed */
	for (i = 0; i < NTILES; i++)
		WebPFree(s.tile[i]);
	buf_finish(&s.enc);
	return r < 0 ? r : s.stop;
}
