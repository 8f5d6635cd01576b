/*
 * action.h - the training view: raw records reduced to actions.
 *
 * One function family derives actions (click, double_click, triple_click,
 * drag, scroll, type, hotkey, key, move) from stored raw records at read
 * time, so every reader (show, review, export) sees the same reduction.
 * Each action keeps the sequence numbers of its raw records (as ranges), so
 * the reduction can be undone, and the focused window at its first record
 * (by X server time).
 *
 * Usage: create a reducer with a callback, push every record of a recording
 * in stored order, then finish.  Actions are delivered in the order of their
 * first raw record; an action is delivered once it can no longer grow (a
 * click waits for a possible second click, a type run for more keys).
 * The action passed to the callback, and everything it points to, is valid
 * only during the call.
 */
#ifndef USETRACE_ACTION_H
#define USETRACE_ACTION_H

#include <stdint.h>
#include <stdio.h>

#include "usetrace/event.h"

enum ut_action_kind {
	UT_ACT_CLICK = 0,
	UT_ACT_DOUBLE_CLICK,
	UT_ACT_TRIPLE_CLICK,
	UT_ACT_DRAG,
	UT_ACT_SCROLL,
	UT_ACT_TYPE,
	UT_ACT_HOTKEY,
	UT_ACT_KEY,
	UT_ACT_MOVE,
};

#define UT_ACTION_TEXT_MAX 4096
#define UT_ACTION_KEYS_MAX 96
#define UT_ACTION_PATH_MAX 256
#define UT_ACTION_RANGES_MAX 65536

struct ut_point {
	int32_t x, y;
	uint32_t dt_ms; /* since the action's first record */
};

struct ut_seq_range {
	uint64_t first, last;
};

struct ut_action {
	enum ut_action_kind kind;
	uint64_t t_ms;        /* since the start of the recording */
	uint64_t duration_ms;
	uint32_t xtime;       /* X server time of the first raw record */
	int has_pos;
	int32_t x, y;         /* where it happened (start for drag/move) */
	int32_t end_x, end_y; /* drag / move end */
	uint8_t button;       /* click / drag button */
	int32_t dx, dy;       /* scroll notches: +dy down, +dx right */
	uint32_t repeat;      /* autorepeats folded into key / hotkey */
	char text[UT_ACTION_TEXT_MAX]; /* type */
	char keys[UT_ACTION_KEYS_MAX]; /* hotkey / key: "ctrl+shift+t" */
	const struct ut_point *path;   /* drag / move, npath points */
	size_t npath;
	const struct ut_seq_range *seqs;
	size_t nseqs;
	const struct ut_event *focus;  /* focus in force, or NULL */
	int64_t frame;        /* frame id, -1 when none */
	/*
	 * The TARGET record naming one of this action's presses (the
	 * first one recorded), or NULL: the element acted on.
	 */
	const struct ut_event *target;
};

struct action_opts {
	uint32_t double_click_ms; /* 0: from the recording, else 400 */
	uint32_t double_click_px; /* 0: from the recording, else 4 */
	uint32_t drag_px;         /* 0: same as double_click_px */
	uint32_t type_gap_ms;     /* 0: 2000; a longer gap splits a type run */
	uint32_t scroll_gap_ms;   /* 0: 500; a longer gap splits a scroll */
};

typedef int (*action_cb)(const struct ut_action *a, void *arg);

struct action_reducer;

/* opts may be NULL (defaults).  Never fails (aborts on OOM). */
struct action_reducer *action_reducer_create(const struct action_opts *opts,
    action_cb cb, void *arg);

/*
 * Feeds one stored record.  Returns 0, or the first non-zero value a
 * callback returned (the reducer then stops delivering).
 */
int action_reducer_push(struct action_reducer *ar, const struct ut_event *ev);

/* Delivers every pending action.  Returns as push. */
int action_reducer_finish(struct action_reducer *ar);

void action_reducer_destroy(struct action_reducer *ar);

const char *action_kind_name(enum ut_action_kind k);

/* One JSON object (no newline) as documented in docs/FORMAT.md. */
void action_print_json(FILE *f, const struct ut_action *a);
/* One line of the human timeline. */
void action_print_text(FILE *f, const struct ut_action *a);
/*
 * One raw record as a JSON object and a newline (docs/FORMAT.md section 4);
 * t_ms counts from start_mono (the first session record's mono_ns).
 */
void event_print_json(FILE *f, const struct ut_event *ev, uint64_t start_mono);

#endif
