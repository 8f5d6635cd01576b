/*
 * filter_int.h - the privacy filter's state and the functions its files
 * share.  Private to src/privacy/.  The filter is four state machines
 * over one struct privacy_filter, one file each (the invariants are in
 * filter.c):
 *
 *     filter.c        lifecycle, levels, FOCUS records (denied, sensitive,
 *                     titles), span finding, dispatch of each record, the
 *                     public API (privacy.h)
 *     filter_burst.c  the typing burst: queue, characters, scans, release,
 *                     bounded hold (invariants 1-5, 8, 10)
 *     filter_runs.c   runs of dropped records: denied windows, secure
 *                     input (invariants 6, 7)
 *     filter_masks.c  typed secrets in pixels: held frames, masked
 *                     windows (invariant 9)
 */
#ifndef USETRACE_FILTER_INT_H
#define USETRACE_FILTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/detect.h"
#include "usetrace/event.h"
#include "usetrace/privacy.h"
#include "privacy_int.h"

#define PF_GAP_MS_DEFAULT 1000
#define PF_MAX_RECORDS_DEFAULT 4096
#define PF_MAX_TEXT_DEFAULT 8192
#define PF_NONE UINT32_MAX
#define PF_FRAME_BYTES_DEFAULT (64ull << 20)
#define PF_MASKS_MAX 64
#define PF_HOLD_MS_DEFAULT 1000
#define PF_CTX_MAX 256		/* released typed bytes kept as scan context */


struct pf_char {
	uint32_t press, release;	/* queue indices, PF_NONE if none */
	uint32_t off, len;		/* bytes in raw[] */
	uint8_t keycode;
};

/* A span to replace: a detector finding or an identity. */
struct pf_span {
	size_t start, end;
	const char *why;	/* static: detector type or identity name */
	uint8_t level;
	bool pixels;		/* a detector span: black its window (P4-3) */
};

struct pf_group {
	const char *why;
	uint8_t level;
	bool pixels;
	size_t start, end;	/* the span in the scanned text */
	uint32_t count;
	bool emitted;
};

/*
 * The typing burst (filter_burst.c).  While open, every record goes into
 * q[]; each printable press adds a character to chars[] (its bytes in
 * raw[]); stack[] lists the characters still in the typed text.
 */
struct pf_burst {
	bool open;
	uint64_t last_key_ns;
	struct ut_event *q;
	int32_t *mark;		/* per queued record: group, or -1 */
	uint8_t *textkey;	/* per queued record: a text or BackSpace key */
	uint32_t nq;
	char *raw;		/* max_text + UT_EV_TEXT_MAX bytes */
	uint32_t rlen;
	char *text;		/* same size: the typed text at release */
	uint32_t *toff;		/* per stack entry: byte offset in text */
	struct pf_char *chars;
	uint32_t nchars;
	uint32_t *stack;
	uint32_t nstack;
	bool edited;		/* a BackSpace happened: raw != typed text */
	uint32_t pend[256];	/* keycode -> char of its last press */
	bool drop_release[256];	/* keycode -> its redacted press is released */

	/*
	 * Bounded hold (privacy.h): the open burst's part no match can reach
	 * is released once q[0] is hold_ns old (tried every hold_ns / 4).  ctx
	 * holds the last typed bytes released from the open burst (nctx
	 * characters, ctxl[] bytes each), scanned before the held text and
	 * popped by BackSpace when no held character is left.
	 */
	uint64_t hold_ns, hold_try_ns;
	char ctx[PF_CTX_MAX];
	uint8_t ctxl[PF_CTX_MAX];
	uint32_t nctx, ctxlen;
};

/* The focused window, as the FOCUS records say (filter.c). */
struct pf_focus {
	uint32_t window;
	bool denied, sensitive;
	bool denied_shown;		/* the last FOCUS emitted was denied ... */
	struct ut_event denied_last;	/* ... with this window and geometry */
	int32_t x, y;			/* geometry of the last FOCUS record */
	uint32_t w, h;
};

/* The run of dropped records (filter_runs.c; invariants 6, 7). */
struct pf_runs {
	struct ut_event ev;		/* the REDACTED record being counted */
	bool open;
	uint64_t last_ns;
	bool key_dropped[256];		/* keycode -> its press was dropped */
};

/* Typed secrets in pixels (filter_masks.c; invariant 9). */
struct pf_mask {
	uint32_t window, gen;	/* frames with masks_gen < gen */
	int32_t x, y;		/* the window's last known rectangle */
	uint32_t w, h;
};

struct pf_pixels {
	uint32_t (*mask_window)(void *, uint32_t, const char *, size_t);
	void *mask_arg;
	int quality;
	uint64_t max_bytes, bytes;	/* encoded frame bytes held */
	struct pf_mask masks[PF_MASKS_MAX];
	size_t nmasks, next;
};

struct privacy_filter {
	struct detect_set *own;
	struct detect *det;
	int (*emit)(void *, const struct ut_event *);
	void *arg;
	uint64_t gap_ns;
	uint32_t max_records, max_text;
	bool password;

	/* Policy and identities (privacy.h). */
	const struct policy *policy;
	struct identity_terms ids;
	struct identity_span *idsp;	/* identity scan output */
	size_t idcap;
	struct pf_span *spans;		/* merged spans of the last scan */
	size_t spcap;

	/* The four state machines, one file each. */
	struct pf_burst burst;
	struct pf_focus focus;
	struct pf_runs runs;
	struct pf_pixels pix;
};

/* filter.c */
uint8_t pf__floor_level(const struct privacy_filter *pf, uint8_t type,
    uint8_t lvl);
int pf__emit_level(struct privacy_filter *pf, const struct ut_event *ev,
    uint8_t lvl);
int pf__find_spans(struct privacy_filter *pf, const char *text, size_t len,
    unsigned flags);
uint8_t pf__pass_level(const struct ut_event *ev);
int pf__emit_pass(struct privacy_filter *pf, const struct ut_event *ev);

/* filter_burst.c */
void pf__burst_wipe(struct privacy_filter *pf);
int pf__release_burst(struct privacy_filter *pf, bool forced);
int pf__hold_check(struct privacy_filter *pf, uint64_t now);
uint32_t pf__enqueue(struct privacy_filter *pf, const struct ut_event *ev);
int pf__push_key(struct privacy_filter *pf, const struct ut_event *ev);

/* filter_runs.c */
int pf__run_flush(struct privacy_filter *pf);
int pf__route_dropped(struct privacy_filter *pf, const struct ut_event *ev);

/* filter_masks.c */
void pf__free_frames(struct privacy_filter *pf, uint32_t from);
void pf__mask_burst_window(struct privacy_filter *pf,
    const struct pf_group *grp, int32_t ngrp, int32_t ntyped);
int pf__emit_frame(struct privacy_filter *pf, const struct ut_event *ev);

#endif
