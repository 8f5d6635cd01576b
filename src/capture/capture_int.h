/*
 * capture_int.h - state shared by the files of the X11 capture backend.
 * Private to src/capture/.
 */
#ifndef USETRACE_CAPTURE_INT_H
#define USETRACE_CAPTURE_INT_H

#include <stdbool.h>

#include <X11/Xlib.h>
#include <X11/Xlib-xcb.h>
#include <X11/extensions/record.h>
#include <xcb/xcb.h>
#include <xkbcommon/xkbcommon-compose.h>
#include <xkbcommon/xkbcommon-x11.h>
#include <xkbcommon/xkbcommon.h>

#include "usetrace/capture.h"

/* A keycode remapped by a core ChangeKeyboardMapping seen in the stream. */
struct key_override {
	bool set;
	uint8_t n;
	uint32_t syms[8];
};

struct cap {
	const struct capture_opts *o;
	const struct capture_sink *sink;
	struct capture_stats st;
	int err;            /* sticky sink error */

	Display *ctl;       /* control: focus, keymap, RECORD control */
	Display *data;      /* RECORD data connection */
	xcb_connection_t *xc;
	Window root;
	XRecordContext rc;
	int xkb_major, xkb_event_base, randr_event_base;
	bool ewmh;

	/* Keymap (capture/keymap.c). */
	struct xkb_context *kctx;
	struct xkb_keymap *km;
	struct xkb_state *ks;
	struct xkb_compose_table *ctab;
	struct xkb_compose_state *cst;
	int32_t kbd_id;
	struct key_override ovr[256];
	uint8_t down[256];
	char layout[64];

	/* Focus (capture/focus.c). */
	Window active;
	struct ut_event last_focus;
	bool have_focus;
	Atom a_active, a_wm_name, a_net_wm_name, a_utf8, a_pid, a_class,
	    a_wm_check;

	uint64_t seq;
	struct cap_secure *secure; /* secure input (capture/secure.c) */
	struct cap_target *target; /* target elements (capture/target.c) */
	struct frames *frames;
	uint64_t last_type_ns, last_wheel_ns; /* frame requests: burst starts only */
	uint64_t frame_last_local, frame_last_global, frame_prev_global;
};

/*
 * emit.c: fills seq and clocks and hands ev to the sink; sets c->err on
 * failure.  Takes a FRAME record's data (released once c->err is set).
 */
void cap__emit(struct cap *c, struct ut_event *ev);

int cap__keymap_load(struct cap *c);
void cap__keymap_free(struct cap *c);
/* keymap.c: the KEY record of a key event (translation only; emits nothing). */
void cap__key_translate(struct cap *c, int down, uint8_t keycode,
    uint32_t xtime, uint16_t state, struct ut_event *ev);
void cap__keymap_core_change(struct cap *c, const uint8_t *req, size_t len,
    bool swapped);

/* Screen frames (capture/frames.c): a thread of their own. */
struct frames;
int frames_start(const char *dpyname, uint32_t fps, int lossless,
    uint32_t quality, atomic_int *key_req, const struct policy *policy,
    struct capture_masks *masks, struct frames **out);
/* Store the newest grab completed before server time xtime (never skipped). */
void frames_request(struct frames *f, uint32_t xtime);
/* Readable when encoded FRAME records wait for frames_drain(). */
int frames_ready_fd(const struct frames *f);
/* Hands each waiting FRAME record to emit, which takes ownership of its data. */
void frames_drain(struct frames *f, void (*emit)(void *, struct ut_event *),
    void *arg);
/* Lets pending requests finish and joins the thread (records stay queued). */
void frames_stop(struct frames *f);
/* Adds the frame thread's counters to st (after frames_stop()). */
void frames_stats(const struct frames *f, struct capture_stats *st);
void frames_destroy(struct frames *f);

/*
 * Secure input (capture/secure.c, docs/SECURE-INPUT.md).  init opens a
 * connection of its own and starts the AT-SPI thread once per process;
 * UT_EX11 if the display cannot be opened.  cap__secure_key() decides on
 * every key record just before it would be emitted (it emits nothing):
 * PASS, emit it; REDACT, a press into secure input: emit a REDACTED
 * record (why set) instead and wipe the key; DROP, the release of a
 * replaced press: wipe it.  cap__secure_watching(): its connection is up
 * (the dispatcher then first brings in focus changes made before the key).
 * cap__secure_poll() handles queued events (call it from the loop).
 * cap__secure_free(c, lost): lost = the display is gone; NULL-safe.
 */
struct cap_secure;
enum cap_key_verdict { CAP_KEY_PASS, CAP_KEY_REDACT, CAP_KEY_DROP };
int cap__secure_init(struct cap *c, const char *dpyname);
void cap__secure_poll(struct cap *c);
bool cap__secure_watching(const struct cap *c);
enum cap_key_verdict cap__secure_key(struct cap *c, const struct ut_event *ev,
    const char **why);
/* A button press: the next key asks AT-SPI again (a click may move focus). */
void cap__secure_click(struct cap *c);
void cap__secure_free(struct cap *c, bool lost);

/*
 * The AT-SPI service (capture/atspi.c): a thread of its own, started once
 * per process by cap__atspi_start() (logged and off without a session
 * bus, libatspi or with USETRACE_NO_ATSPI).  live: it listens to focus
 * events.  gen: focus events seen; wait_gen waits until gen differs from
 * gen0 or deadline (monotonic ns) passed.  password(pid): the focused
 * accessible is a password field of pid (or either pid is unknown).
 * ask/wait/abandon: a role question about pid's focused accessible;
 * ask returns NULL when the service does not answer questions; wait
 * returns its CAP_AT_* answer and frees it, or -1 at deadline (0: do not
 * wait; still asked); abandon gives an unanswered one back (NULL ok).
 */
enum { CAP_AT_NOBRIDGE, CAP_AT_OTHER, CAP_AT_PASSWORD };
struct at_rq;
void cap__atspi_start(void);
bool cap__atspi_live(void);
unsigned long long cap__atspi_gen(void);
void cap__atspi_wait_gen(unsigned long long gen0, uint64_t deadline);
bool cap__atspi_password(uint32_t pid);
struct at_rq *cap__atspi_ask(unsigned pid);
int cap__atspi_wait(struct at_rq *q, uint64_t deadline);
void cap__atspi_abandon(struct at_rq *q);

/*
 * PRIV-P4-3 (capture/atspi.c, answered on the AT-SPI thread; called from
 * the frame thread): the bounding box, in screen coordinates, of every place where
 * the text of a recently focused accessible of process pid, in a window at
 * the X top-level rectangle (wx, wy, ww, wh), shows one of m's secrets
 * (each must be found, at most 16 places, the text re-read at each place).
 * 1: *box set; -1: cannot tell (no AT-SPI, no such text, a secret not
 * found, no extents, the accessible's window not where X has it, a request
 * still unanswered, no answer within 100 ms): black the whole window.
 */
struct cap_rect {
	int x, y, w, h;
};
int cap__atspi_text_box(uint32_t pid, const struct capture_mask *m, int wx,
    int wy, int ww, int wh, struct cap_rect *box);

int cap__focus_init(struct cap *c);
void cap__focus_update(struct cap *c, uint32_t xtime);
void cap__focus_event(struct cap *c, XEvent *e);
/* Emits the FOCUS changes the server made before server time xtime. */
void cap__focus_before_key(struct cap *c, uint32_t xtime);

/*
 * Target elements (capture/target.c, category "targets"): init (NULL
 * target without the category), the fd the loop polls and drain, which
 * emits the answers; button / key: after a press was emitted (its seq
 * set), asks for its element without waiting; key's passed: secure input
 * let it through (else it only ends or continues the typing run).
 */
struct cap_target;
void cap__target_init(struct cap *c);
int cap__target_fd(const struct cap *c);
void cap__target_drain(struct cap *c);
void cap__target_button(struct cap *c, const struct ut_event *ev);
void cap__target_key(struct cap *c, const struct ut_event *ev, bool passed);
void cap__target_free(struct cap *c);
void cap__monitors(struct cap *c);

#endif
