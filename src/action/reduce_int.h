/*
 * reduce_int.h - the action reducer's state and the functions its files
 * share (action.h; the invariants are in reduce.c).  Private to
 * src/action/:
 *
 *     reduce.c          pacts, their FIFO and delivery, focus and frame
 *                       rings, push / finish (the record dispatch)
 *     reduce_keys.c     key presses and releases: typing runs (the one
 *                       typing rule, typing.h), hotkeys, held modifiers
 *     reduce_pointer.c  buttons, wheel and motion: clicks, multi-clicks,
 *                       drags, scrolls, moves
 */
#ifndef USETRACE_REDUCE_INT_H
#define USETRACE_REDUCE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "usetrace/action.h"
#include "usetrace/event.h"

#define QUEUE_MAX 512
#define FOCUS_RING 64
#define FRAME_RING 256
#define FRAME_WAIT_NS (1500ull * 1000000ull) /* frames arrive after input */
#define FORCE_AFTER_NS (5000ull * 1000000ull)
#define MS(ns) ((ns) / 1000000ull)

enum modbit { MB_CTRL = 1, MB_ALT = 2, MB_SHIFT = 4, MB_SUPER = 8,
	MB_ALTGR = 16, MB_HYPER = 32, MB_LOCK = 64 };

struct pact {
	struct ut_action a;
	uint64_t id;
	struct ut_point *path;
	size_t npath;
	struct ut_seq_range *seqs;
	size_t nseqs, seqcap;
	uint64_t mono_first, mono_last, last_press_mono;
	size_t textlen;
	int open;
	int pending;
	struct ut_event target;	/* type 0: none (a.target) */
};

struct held {
	uint64_t id;        /* owning pact, 0 if none */
	uint64_t press_seq;
	uint64_t press_mono;
	uint32_t press_xtime;
	int down;
	int modbits;        /* non-zero: a modifier key */
	int used;           /* modifier used by a chord / typing */
	char name[UT_EV_KEYNAME_MAX];
};

struct action_reducer {
	struct action_opts o;
	int opt_dc_ms, opt_dc_px;
	action_cb cb;
	void *arg;
	int stop;

	struct pact *q[QUEUE_MAX];
	size_t qn;
	uint64_t next_id;

	struct held held[256];
	/* Pointer */
	uint64_t press_id;      /* pact of the held button, 0 if none */
	uint8_t press_button;
	int32_t press_x, press_y;
	uint32_t press_maxdist;
	uint64_t last_click_id;
	int32_t px, py;
	uint64_t type_id, scroll_id, move_id;

	/* Time base */
	uint64_t now_mono;
	int have_session;
	uint64_t session_mono;
	int64_t session_wall, first_wall;

	struct ut_event *focus_ring;
	size_t focus_n, focus_head; /* ring of the last FOCUS_RING records */
	struct {
		uint64_t id;
		uint32_t done;
	} frames[FRAME_RING];          /* stored frames, newest last */
	size_t frame_n, frame_head;
};

/* reduce.c */
uint32_t red__drag_px(const struct action_reducer *ar);
void red__pact_free(struct pact *p);
struct pact *red__find(struct action_reducer *ar, uint64_t id);
void red__add_seq(struct pact *p, uint64_t seq);
void red__add_point(struct pact *p, int32_t x, int32_t y, uint64_t mono);
void red__close_id(struct action_reducer *ar, uint64_t *idp);
struct pact *red__pact_new(struct action_reducer *ar,
    enum ut_action_kind kind, const struct ut_event *ev);
void red__touch(struct pact *p, const struct ut_event *ev);

/* reduce_keys.c */
void red__use_mods(struct action_reducer *ar, struct pact *p, int mask);
void red__key_press(struct action_reducer *ar, const struct ut_event *ev);
void red__key_release(struct action_reducer *ar, const struct ut_event *ev);

/* reduce_pointer.c */
void red__wheel(struct action_reducer *ar, const struct ut_event *ev);
void red__button_press(struct action_reducer *ar, const struct ut_event *ev);
void red__button_release(struct action_reducer *ar, const struct ut_event *ev);
void red__motion(struct action_reducer *ar, const struct ut_event *ev);

#endif
