/*
 * event.h - the record that flows capture -> privacy filter -> spool.
 *
 * Every record has a sequence number, a monotonic timestamp (ns), the X
 * server time where there is one (0 otherwise), a wall-clock time (ns since
 * the Unix epoch), a type and a sensitivity level (DESIGN.md "Event model").
 * Records are fixed-size values: strings are bounded arrays, so a record can
 * be copied, queued and wiped without ownership questions - apart from an
 * in-memory FRAME record's encoded pixels (struct ut_frame_data), which
 * have one owner and one destructor that wipes them.
 *
 * The focused window of a record is not repeated in every record: a FOCUS
 * record is written on every change of the active window or its title, and
 * readers attach the focus in force (by X server time) to each record.
 *
 * Serialisation (event_encode / event_decode) is a compact, versioned binary
 * form documented in docs/FORMAT.md; consecutive records in a batch are
 * delta-encoded against the previous one.
 */
#ifndef USETRACE_EVENT_H
#define USETRACE_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "usetrace/buf.h"

enum ut_event_type {
	UT_EV_SESSION = 1, /* recording started: display, screen, settings */
	UT_EV_KEY = 2,
	UT_EV_TEXT = 3,    /* reserved: text committed by an input method */
	UT_EV_BUTTON = 4,  /* buttons 1-3, 8, 9; wheel as buttons 4-7 */
	UT_EV_MOTION = 5,
	UT_EV_SCROLL = 6,  /* reserved: smooth-scroll valuators (XInput2) */
	UT_EV_FOCUS = 7,
	UT_EV_FRAME = 8,
	UT_EV_PAUSE = 9,
	UT_EV_RESUME = 10,
	UT_EV_REDACTED = 11,
	UT_EV_MARK = 12,     /* task mark */
	UT_EV_MONITORS = 13, /* monitor layout (XRandR) */
	UT_EV_END = 14,      /* recording closed: reason */
	UT_EV_TARGET = 15,   /* the element an action was aimed at (AT-SPI) */
	UT_EV_TYPE_MAX = 15,
};

/* Sensitivity levels (DESIGN.md). */
enum ut_sensitivity {
	UT_SENS_NONE = 1,      /* no content */
	UT_SENS_CONTENT = 2,   /* content from allowed applications */
	UT_SENS_PERSONAL = 3,  /* personal-data placeholder or sensitive app */
	UT_SENS_SECRET = 4,    /* secret / denied: only a REDACTED record */
};

#define UT_EV_TEXT_MAX 16     /* UTF-8 produced by one key press */
#define UT_EV_KEYNAME_MAX 32
#define UT_EV_APP_MAX 128
#define UT_EV_TITLE_MAX 512
#define UT_EV_STR_MAX 256
#define UT_EV_MONITORS_MAX 8
#define UT_EV_ROLE_MAX 32
#define UT_EV_PATH_MAX 256
#define UT_FRAME_DATA_MAX (8u << 20)
#define UT_FRAME_WEBP_LOSSY 1
#define UT_FRAME_WEBP_LOSSLESS 2

struct ut_frame_data;

struct ut_monitor {
	int32_t x, y;
	uint32_t w, h;
	char name[32];
	bool primary;
};

struct ut_event {
	uint64_t seq;
	uint64_t mono_ns;
	int64_t wall_ns;
	uint32_t xtime; /* X server time in ms, 0 when none */
	uint8_t type;   /* enum ut_event_type */
	uint8_t sensitivity;
	union {
		struct {
			char display[64];
			uint32_t screen_w, screen_h;
			uint32_t double_click_ms;  /* XSETTINGS, 0 = unknown */
			uint32_t double_click_px;  /* XSETTINGS, 0 = unknown */
			char layout[64];           /* XKB layout names, "us,de" */
			char host_tag[32];         /* reserved, empty */
		} session;
		struct {
			uint32_t keysym;
			uint16_t state;   /* core modifier state before the event */
			uint8_t keycode;
			uint8_t down;     /* 1 press, 0 release */
			uint8_t group;    /* XKB layout index */
			uint8_t repeat;   /* autorepeat press */
			char name[UT_EV_KEYNAME_MAX]; /* keysym name */
			char text[UT_EV_TEXT_MAX];    /* UTF-8, "" when none */
		} key;
		struct {
			int32_t x, y;     /* root coordinates */
			uint16_t state;
			uint8_t button;
			uint8_t down;
		} button;
		struct {
			int32_t x, y;
		} motion;
		struct {
			int32_t dx, dy; /* 1/120 notches, like XI2 valuators */
			int32_t x, y;
		} scroll;
		struct {
			uint32_t window;
			uint32_t pid;
			int32_t x, y;
			uint32_t w, h;
			uint8_t denied; /* 1: only "denied" is known */
			char app[UT_EV_APP_MAX];      /* WM_CLASS class */
			char instance[UT_EV_APP_MAX]; /* WM_CLASS instance */
			char title[UT_EV_TITLE_MAX];  /* _NET_WM_NAME, UTF-8 */
		} focus;
		struct {
			uint32_t n;
			struct ut_monitor m[UT_EV_MONITORS_MAX];
		} monitors;
		struct {
			uint64_t until_wall_ns; /* 0: until resumed */
			char reason[UT_EV_STR_MAX];
		} pause;
		struct {
			char what[64];  /* "keys", "text", "title", "frame" ... */
			char why[64];   /* "password-field", "CREDIT_CARD" ... */
			uint32_t count; /* how much was removed */
		} redacted;
		struct {
			char text[UT_EV_STR_MAX]; /* mark label, or END reason */
		} mark;
		/*
		 * The accessible element (AT-SPI) under the pointer of a
		 * button press, or with the focus at the first key of a
		 * typing run (docs/FORMAT.md "target").  action_seq: the
		 * seq of that press's record (always <= this record's).
		 * name: as the privacy filter left it (like a title).
		 */
		struct {
			uint64_t action_seq;
			int32_t x, y;             /* bounding box, screen px */
			uint32_t w, h;
			char role[UT_EV_ROLE_MAX];  /* AT-SPI role name */
			char name[UT_EV_STR_MAX];   /* accessible name */
			char path[UT_EV_PATH_MAX];  /* roles from the window, "/" */
		} target;
		/*
		 * One region of a stored screen frame (docs/FORMAT.md).  A
		 * frame is nparts region records with the same frame_id; a
		 * key frame (base_id 0) covers the whole screen, a delta
		 * frame only the tiles changed since frame base_id.
		 * data/len: the encoded region (WebP), read-only for every
		 * reader.  owned: in memory only (capture -> privacy filter
		 * -> agent), the frame data that holds those bytes; whoever
		 * holds the record owns it and disposes of it with
		 * event_dispose() / ut_frame_data_free() (set it with
		 * event_frame_attach(), which keeps data/len on its bytes).
		 * Records from event_decode() own nothing (owned NULL): data
		 * points into the reader's buffer, valid until its next call.
		 */
		struct {
			uint64_t frame_id;
			uint64_t base_id;
			uint32_t w, h;         /* the whole screen */
			uint32_t xtime_done;   /* server time the grab completed */
			int32_t rx, ry;        /* this region */
			uint32_t rw, rh;
			uint16_t part, nparts;
			uint8_t format;        /* UT_FRAME_WEBP_LOSSY / _LOSSLESS */
			uint32_t skipped;      /* grabs skipped: encoder behind */
			uint32_t len;
			const uint8_t *data;
			struct ut_frame_data *owned;
			/*
			 * In memory only (capture -> privacy filter), never
			 * stored: the capture_masks generation the grab was
			 * blacked with, and the active window at the grab
			 * (0: unknown) with its top-level rectangle.
			 */
			uint32_t masks_gen;
			uint32_t fwin;
			int32_t fx, fy;
			uint32_t fw, fh;
		} frame;
	} u;
};

/*
 * Encoded frame bytes in memory: recorded pixels on their way from capture
 * through the privacy filter to the spool.  One owner at a time (the
 * holder of the FRAME record that carries them, see u.frame.owned);
 * ut_frame_data_free() is the only way they are released, and it wipes
 * them (sodium_memzero) before freeing.  Every function that receives a
 * FRAME record carrying frame data takes ownership of it on every return,
 * success or error, unless its contract says otherwise.
 */
struct ut_frame_data {
	uint32_t len;
	uint8_t bytes[];
};

/* len bytes (not initialised), len <= UT_FRAME_DATA_MAX; aborts on OOM. */
struct ut_frame_data *ut_frame_data_new(size_t len)
	__attribute__((malloc, returns_nonnull));
/* Wipes and frees fd; NULL ok. */
void ut_frame_data_free(struct ut_frame_data *fd);
/*
 * FRAME record ev takes fd (NULL: no data): owned = fd and data/len its
 * bytes.  Whatever ev owned before is not released: the caller has.
 */
void event_frame_attach(struct ut_event *ev, struct ut_frame_data *fd);
/*
 * Releases what record ev owns (a FRAME's frame data: wiped, freed); the
 * record itself is left as it was, so the caller drops it.  Other records
 * and decoded FRAME records own nothing: nothing happens.  NULL ok.
 */
void event_dispose(const struct ut_event *ev);

/* Human name of a type ("key", "button", ...); "unknown" if out of range. */
const char *event_type_name(unsigned type);

/*
 * The one builder of a REDACTED record: fills *out (zeroed first) with
 * what ("keys", "text" ...), why (a detector type, "password-field" ...),
 * count and sensitivity level, standing in for the record `at`: its seq,
 * clocks and X time (at NULL: all zero, the caller's to set).  what and
 * why are cut to their fields.
 */
void event_redacted(struct ut_event *out, const struct ut_event *at,
    const char *what, const char *why, uint32_t count, uint8_t level);

/*
 * Batch codec state: records in a batch are delta-encoded against the
 * previous record and the last pointer position.  Initialise one codec per
 * batch, for writing and for reading alike.
 */
struct event_codec {
	uint64_t seq, mono_ns;
	int64_t wall_ns;
	uint32_t xtime;
	int32_t px, py;
};

void event_codec_init(struct event_codec *c);

/*
 * Appends the encoding of ev to out and advances the codec.  On error
 * (UT_ETOOBIG, UT_EINVAL for an out-of-range type) out and the codec are
 * unchanged.
 */
int event_encode(struct event_codec *c, const struct ut_event *ev,
    struct buf *out) __attribute__((warn_unused_result));

/*
 * Decodes one record from r into ev (zeroed first) and advances the codec.
 * Returns 0 or UT_ECORRUPT.  key.name is filled from the keysym.
 */
int event_decode(struct event_codec *c, struct bufrd *r, struct ut_event *ev)
	__attribute__((warn_unused_result));

#endif
