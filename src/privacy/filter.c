/*
 * filter.c - the on-device privacy filter (privacy.h): typing bursts,
 * key-log redaction, title placeholders, denied windows, secure-input
 * runs, identities, sensitivity levels.
 *
 * A burst is the run of records from the first printable key press until
 * the burst ends (privacy.h).  While it is open every record goes into the
 * queue q[] in arrival order.  Each printable press adds a character to
 * chars[] (its bytes in raw[], its press and, later, release record index);
 * stack[] lists the characters still in the typed text (BackSpace pops).
 *
 * Invariants:
 *  (1) Records leave the filter in the order they arrived (seq order), and
 *      a released burst leaves completely before any later record.
 *  (2) PRIV-P5-1: for every detected span, no KEY record (press or release)
 *      of its characters is emitted; one REDACTED record stands in for them.
 *  (3) The queue never holds more than max_records records nor raw[] more
 *      than max_text + UT_EV_TEXT_MAX bytes: reaching a cap releases.
 *  (4) Released or destroyed content is wiped: q[], raw[], the scan text.
 *  (5) A detector failure redacts every text key of the burst (fail closed).
 *  (6) PRIV-P4-1: while the focused window is denied (set by each FOCUS
 *      record), no KEY or TEXT record is emitted; a run of them becomes one
 *      REDACTED record.  The release of a dropped press is always dropped
 *      (key_dropped[]), whatever the focus is by then.
 *  (7) A run (run_open) and a burst (open) are never open at once, and a
 *      run is emitted before any record that arrived after it.
 *  (8) PRIV-P5-2: identity terms are matched in the same texts as the
 *      detectors (titles, typed and raw burst text) and redacted the same
 *      way; a detector span wins over an identity span it overlaps.
 *  (9) PRIV-P4-3: no FRAME record is emitted while a burst is open; when
 *      its scan found a detector span, every held frame is blacked over
 *      the burst's window before it is emitted, and that window is in
 *      masks[] with the board generation from which capture blacks it, so
 *      every later frame with an older masks_gen is blacked here.  The
 *      queue owns the data of held frames (frame_bytes counts them).
 * (10) Bounded hold (release_part): only a prefix q[0..qcut) of an open
 *      burst is released early, and only when no match can still reach a
 *      character in it (detect_reach, identity term length), no span
 *      straddles qcut and no press in it has its release queued after it;
 *      frames in it were grabbed before any held character was typed, and
 *      are blacked by (9) for the spans in it.  The released typed text
 *      stays in ctx[] (at most PF_CTX_MAX bytes) and is scanned before
 *      the held text; ctx is wiped with the burst.
 *
 * States:  IDLE -> OPEN [printable key press]
 *          OPEN -> IDLE [release_burst: gap, button press, focus (another
 *                        window, or now denied / sensitive), cap, flush,
 *                        password flag change, secure-input record]
 *          OPEN -> OPEN [release_part: q[0] older than the hold time]
 *          IDLE -> RUN  [dropped record: denied key/text, secure input]
 *          RUN  -> IDLE [run_flush: any other record, gap, flush]
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/privacy.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"
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

struct privacy_filter {
	struct detect_set *own;
	struct detect *det;
	int (*emit)(void *, const struct ut_event *);
	void *arg;
	uint64_t gap_ns;
	uint32_t max_records, max_text;
	bool password;

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

	/* Policy and identities (privacy.h). */
	const struct policy *policy;
	struct identity_terms ids;
	struct identity_span *idsp;	/* identity scan output */
	size_t idcap;
	struct pf_span *spans;		/* merged spans of the last scan */
	size_t spcap;

	/* The focused window (set by FOCUS records). */
	uint32_t focus_window;
	bool denied, sensitive;
	bool denied_shown;		/* the last FOCUS emitted was denied ... */
	struct ut_event denied_last;	/* ... with this window and geometry */

	/* The run of dropped records (invariants 6, 7). */
	struct ut_event run;
	bool run_open;
	uint64_t run_last_ns;
	bool key_dropped[256];		/* keycode -> its press was dropped */

	/* Typed secrets in pixels (invariant 9). */
	uint32_t (*mask_window)(void *, uint32_t, const char *, size_t);
	void *mask_arg;
	int frame_quality;
	uint64_t max_frame_bytes, frame_bytes;
	int32_t focus_x, focus_y;	/* geometry of the last FOCUS record */
	uint32_t focus_w, focus_h;
	struct pf_mask {
		uint32_t window, gen;	/* frames with masks_gen < gen */
		int32_t x, y;		/* the window's last known rectangle */
		uint32_t w, h;
	} masks[PF_MASKS_MAX];
	size_t nmasks, mask_next;
};

static void
burst_wipe(struct privacy_filter *pf)
{
	if (pf->q != NULL)
		sodium_memzero(pf->q, (size_t)pf->nq * sizeof(*pf->q));
	if (pf->raw != NULL)
		sodium_memzero(pf->raw, pf->rlen);
	if (pf->chars != NULL)
		sodium_memzero(pf->chars, (size_t)pf->nchars * sizeof(*pf->chars));
	sodium_memzero(pf->ctx, sizeof(pf->ctx));
	pf->nq = pf->rlen = pf->nchars = pf->nstack = 0;
	pf->nctx = pf->ctxlen = 0;
	pf->frame_bytes = 0;
	pf->open = false;
	pf->edited = false;
	memset(pf->pend, 0xff, sizeof(pf->pend));
}

/* Wipes and frees the data of held frames q[from..nq) (not emitted). */
static void
free_frames(struct privacy_filter *pf, uint32_t from)
{
	uint32_t i;

	for (i = from; pf->q != NULL && i < pf->nq; i++)
		if (pf->q[i].type == UT_EV_FRAME) {
			event_dispose(&pf->q[i]);
			event_frame_attach(&pf->q[i], NULL);
		}
}

void
privacy_filter_destroy(struct privacy_filter *pf)
{
	if (pf == NULL)
		return;
	free_frames(pf, 0);
	burst_wipe(pf);
	if (pf->text != NULL)
		sodium_memzero(pf->text, (size_t)pf->max_text + UT_EV_TEXT_MAX +
		    PF_CTX_MAX);
	free(pf->q);
	free(pf->mark);
	free(pf->textkey);
	free(pf->raw);
	free(pf->text);
	free(pf->toff);
	free(pf->chars);
	free(pf->stack);
	free(pf->idsp);
	free(pf->spans);
	detect_destroy(pf->det);
	detect_set_destroy(pf->own);
	sodium_memzero(pf, sizeof(*pf));
	free(pf);
}

struct privacy_filter *
privacy_filter_create(const struct privacy_filter_opts *o,
    int (*emit)(void *arg, const struct ut_event *ev), void *arg)
{
	struct privacy_filter *pf;
	const struct detect_set *set;
	size_t tmax;

	if (emit == NULL)
		return NULL;
	pf = xcalloc(1, sizeof(*pf));
	pf->emit = emit;
	pf->arg = arg;
	pf->gap_ns = (uint64_t)(o != NULL && o->burst_gap_ms ? o->burst_gap_ms :
	    PF_GAP_MS_DEFAULT) * 1000000u;
	pf->max_records = o != NULL && o->max_records ? o->max_records :
	    PF_MAX_RECORDS_DEFAULT;
	pf->max_text = o != NULL && o->max_text ? o->max_text : PF_MAX_TEXT_DEFAULT;
	pf->hold_ns = o != NULL && o->hold_ms == UINT32_MAX ? 0 :
	    (uint64_t)(o != NULL && o->hold_ms ? o->hold_ms : PF_HOLD_MS_DEFAULT) *
	    1000000u;
	pf->policy = o != NULL ? o->policy : NULL;
	pf->max_frame_bytes = o != NULL && o->max_frame_bytes ?
	    o->max_frame_bytes : PF_FRAME_BYTES_DEFAULT;
	pf->frame_quality = o != NULL && o->frame_quality ?
	    (int)UT_MIN(o->frame_quality, 100) : 80;
	pf->mask_window = o != NULL ? o->mask_window : NULL;
	pf->mask_arg = o != NULL ? o->mask_arg : NULL;
	privacy__identity_terms(o != NULL ? o->identity : NULL, &pf->ids);
	set = o != NULL ? o->detectors : NULL;
	if (set == NULL) {
		if (detect_set_create(&pf->own) < 0)
			goto fail;
		set = pf->own;
	}
	if (detect_create(set, &pf->det) < 0)
		goto fail;
	tmax = (size_t)pf->max_text + UT_EV_TEXT_MAX;
	pf->q = xreallocarray(NULL, pf->max_records, sizeof(*pf->q));
	pf->mark = xreallocarray(NULL, pf->max_records, sizeof(*pf->mark));
	pf->textkey = xcalloc(pf->max_records, sizeof(*pf->textkey));
	pf->raw = xmalloc(tmax);
	pf->text = xmalloc(tmax + PF_CTX_MAX);
	/* A character is at least one byte and one record. */
	pf->chars = xreallocarray(NULL, tmax, sizeof(*pf->chars));
	pf->stack = xreallocarray(NULL, tmax, sizeof(*pf->stack));
	pf->toff = xreallocarray(NULL, tmax, sizeof(*pf->toff));
	burst_wipe(pf);
	return pf;
fail:
	privacy_filter_destroy(pf);
	return NULL;
}

static uint8_t
at_least(const struct ut_event *ev, uint8_t lvl)
{
	return ev->sensitivity > lvl && ev->sensitivity <= UT_SENS_SECRET ?
	    ev->sensitivity : lvl;
}

static uint8_t
span_level(enum detect_type t)
{
	return detect_type_is_secret(t) ? UT_SENS_SECRET : UT_SENS_PERSONAL;
}

/* Content from a sensitive application is at least level 3. */
static uint8_t
floor_level(const struct privacy_filter *pf, uint8_t type, uint8_t lvl)
{
	if (!pf->sensitive || lvl >= UT_SENS_PERSONAL)
		return lvl;
	switch (type) {
	case UT_EV_KEY:
	case UT_EV_TEXT:
	case UT_EV_FRAME:
	case UT_EV_REDACTED:
	case UT_EV_FOCUS:
		return UT_SENS_PERSONAL;
	default:
		return lvl;
	}
}

/* Emits a copy of ev with its level set; the copy is wiped. */
static int
emit_level(struct privacy_filter *pf, const struct ut_event *ev, uint8_t lvl)
{
	struct ut_event out = *ev;
	int r;

	out.sensitivity = at_least(ev, floor_level(pf, ev->type, lvl));
	r = pf->emit(pf->arg, &out);
	sodium_memzero(&out, sizeof(out));
	return r < 0 ? r : 0;
}

static int
span_cmp(const void *a, const void *b)
{
	const struct pf_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The spans to replace in text[0..len): the detectors' (flags as for
 * detect_scan) and the identities' that overlap none of them, sorted by
 * start, in pf->spans.  Returns their number or a detect_scan() error.
 */
static int
find_spans(struct privacy_filter *pf, const char *text, size_t len,
    unsigned flags)
{
	const struct detect_span *dsp;
	size_t ni = 0, n = 0, i, j, need;
	int nd;

	nd = detect_scan(pf->det, text, len, flags, &dsp);
	if (nd < 0)
		return nd;
	if (pf->ids.n > 0) {
		need = len / 2 + 1; /* a term is at least 2 bytes */
		if (need > pf->idcap) {
			pf->idsp = xreallocarray(pf->idsp, need, sizeof(*pf->idsp));
			pf->idcap = need;
		}
		ni = privacy__identity_scan(&pf->ids, text, len, pf->idsp, pf->idcap);
	}
	need = (size_t)nd + ni + 1;
	if (need > pf->spcap) {
		pf->spans = xreallocarray(pf->spans, need, sizeof(*pf->spans));
		pf->spcap = need;
	}
	for (i = 0; i < (size_t)nd; i++) {
		pf->spans[n].start = dsp[i].start;
		pf->spans[n].end = dsp[i].end;
		pf->spans[n].why = detect_type_name(dsp[i].type);
		pf->spans[n].level = span_level(dsp[i].type);
		pf->spans[n].pixels = true;
		n++;
	}
	for (j = 0, i = 0; j < ni; j++) {
		/* Detector spans are sorted: skip those ending before this one. */
		while (i < (size_t)nd && dsp[i].end <= pf->idsp[j].start)
			i++;
		if (i < (size_t)nd && dsp[i].start < pf->idsp[j].end)
			continue; /* overlaps a detector span, which wins */
		pf->spans[n].start = pf->idsp[j].start;
		pf->spans[n].end = pf->idsp[j].end;
		pf->spans[n].why = pf->idsp[j].name;
		pf->spans[n].level = UT_SENS_PERSONAL;
		pf->spans[n].pixels = false;
		n++;
	}
	if (ni > 0 && nd > 0)
		qsort(pf->spans, n, sizeof(*pf->spans), span_cmp);
	return (int)n;
}

/*
 * FOCUS of a denied window (PRIV-P4-1): only the window id, the geometry
 * and "denied" are kept.  A repeat of the same denied window (its title
 * changed) is not written again.
 */
static int
emit_denied_focus(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct ut_event out;
	int r;

	if (pf->denied_shown &&
	    pf->denied_last.u.focus.window == ev->u.focus.window &&
	    pf->denied_last.u.focus.x == ev->u.focus.x &&
	    pf->denied_last.u.focus.y == ev->u.focus.y &&
	    pf->denied_last.u.focus.w == ev->u.focus.w &&
	    pf->denied_last.u.focus.h == ev->u.focus.h)
		return 0;
	memset(&out, 0, sizeof(out));
	out.seq = ev->seq;
	out.mono_ns = ev->mono_ns;
	out.wall_ns = ev->wall_ns;
	out.xtime = ev->xtime;
	out.type = UT_EV_FOCUS;
	out.u.focus.window = ev->u.focus.window;
	out.u.focus.x = ev->u.focus.x;
	out.u.focus.y = ev->u.focus.y;
	out.u.focus.w = ev->u.focus.w;
	out.u.focus.h = ev->u.focus.h;
	out.u.focus.denied = 1;
	out.sensitivity = at_least(ev, UT_SENS_NONE);
	pf->denied_last = out;
	pf->denied_shown = true;
	r = pf->emit(pf->arg, &out);
	return r < 0 ? r : 0;
}

/*
 * Copies t (len bytes) into dst (dstsz, NUL-terminated) with detected
 * spans and identities replaced by "[TYPE]"; *lvl becomes the highest
 * level found (unchanged without findings).  A detector failure fails
 * closed: dst is "[REDACTED]" and *lvl secret.
 */
static void
redact_into(struct privacy_filter *pf, const char *t, size_t len, char *dst,
    size_t dstsz, uint8_t *lvl)
{
	const struct pf_span *sp;
	size_t pos = 0, w = 0, room;
	char ph[40];
	int i, n;

	n = find_spans(pf, t, len, 0);
	if (n < 0) {
		snprintf(dst, dstsz, "[REDACTED]");
		*lvl = UT_SENS_SECRET;
		return;
	}
	memset(dst, 0, dstsz);
	sp = pf->spans;
	for (i = 0; i < n; i++) {
		room = dstsz - 1 - w;
		w += ut_strlcpy_utf8(dst + w, t + pos, UT_MIN(sp[i].start - pos, room),
		    room + 1);
		snprintf(ph, sizeof(ph), "[%s]", sp[i].why);
		room = dstsz - 1 - w;
		if (strlen(ph) <= room) {
			memcpy(dst + w, ph, strlen(ph));
			w += strlen(ph);
		}
		pos = sp[i].end;
		*lvl = UT_MAX(*lvl, sp[i].level);
	}
	room = dstsz - 1 - w;
	w += ut_strlcpy_utf8(dst + w, t + pos, UT_MIN(len - pos, room), room + 1);
	dst[w] = '\0';
}

/*
 * FOCUS: detected spans and identities in the title become "[TYPE]".
 * Level 1 without findings, 3 with personal data only, 4 with a secret
 * (the record is still written, with the placeholder); at least 3 for a
 * sensitive application.
 */
static int
emit_focus(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct ut_event out;
	uint8_t lvl = UT_SENS_NONE;
	int r;

	if (pf->denied)
		return emit_denied_focus(pf, ev);
	pf->denied_shown = false;
	out = *ev;
	redact_into(pf, ev->u.focus.title, strnlen(ev->u.focus.title,
	    sizeof(ev->u.focus.title)), out.u.focus.title,
	    sizeof(out.u.focus.title), &lvl);
	out.sensitivity = at_least(ev, floor_level(pf, UT_EV_FOCUS, lvl));
	r = pf->emit(pf->arg, &out);
	sodium_memzero(&out, sizeof(out));
	return r < 0 ? r : 0;
}

/* Default level of a record passed through unchanged. */
static uint8_t
pass_level(const struct ut_event *ev)
{
	switch (ev->type) {
	case UT_EV_KEY:
	case UT_EV_TEXT:
	case UT_EV_FRAME:
		return UT_SENS_CONTENT;
	case UT_EV_REDACTED:
		return UT_SENS_PERSONAL;
	default:
		return UT_SENS_NONE;
	}
}

static int emit_frame(struct privacy_filter *pf, const struct ut_event *ev);

static int
emit_pass(struct privacy_filter *pf, const struct ut_event *ev)
{
	if (ev->type == UT_EV_FOCUS)
		return emit_focus(pf, ev);
	if (ev->type == UT_EV_FRAME)
		return emit_frame(pf, ev);
	return emit_level(pf, ev, pass_level(ev));
}

/* Marks the records of chars[first..last] with group g. */
static void
mark_chars(struct privacy_filter *pf, const uint32_t *idx, size_t nidx,
    size_t first, size_t last, struct pf_group *grp, int32_t g)
{
	size_t k;

	for (k = first; k <= last && k < nidx; k++) {
		struct pf_char *c = &pf->chars[idx[k]];

		grp[g].count++;
		if (pf->mark[c->press] < 0)
			pf->mark[c->press] = g;
		if (c->release != PF_NONE && pf->mark[c->release] < 0)
			pf->mark[c->release] = g;
	}
}

/*
 * Scans text (whose character k starts at byte off[k] and is chars[idx[k]])
 * and marks the records of every span.  Returns 0 or a negative code.
 */
static int
scan_and_mark(struct privacy_filter *pf, const char *text, size_t len,
    const uint32_t *idx, const uint32_t *off, size_t nidx, struct pf_group *grp,
    int32_t *ngrp)
{
	const struct pf_span *sp;
	size_t k = 0, first;
	int i, n;

	n = find_spans(pf, text, len, pf->password ? DETECT_F_PASSWORD : 0);
	if (n < 0)
		return n;
	sp = pf->spans;
	for (i = 0; i < n; i++) {
		/* First character ending after the span start. */
		while (k < nidx && off[k] + pf->chars[idx[k]].len <= sp[i].start)
			k++;
		first = k;
		while (k < nidx && off[k] < sp[i].end)
			k++;
		if (k == first)
			continue;
		grp[*ngrp].why = sp[i].why;
		grp[*ngrp].level = sp[i].level;
		grp[*ngrp].pixels = sp[i].pixels;
		grp[*ngrp].start = sp[i].start;
		grp[*ngrp].end = sp[i].end;
		grp[*ngrp].count = 0;
		grp[*ngrp].emitted = false;
		mark_chars(pf, idx, nidx, first, k - 1, grp, *ngrp);
		(*ngrp)++;
	}
	return 0;
}

/*
 * Editing inside a secret is part of typing it: text and BackSpace keys
 * between the first and last record of a group join the group, so a
 * mistyped and corrected digit does not stay in the key log.
 */
static void
extend_groups(struct privacy_filter *pf, int32_t ngrp)
{
	uint32_t i, lo, hi;
	int32_t g;

	for (g = 0; g < ngrp; g++) {
		lo = PF_NONE;
		hi = 0;
		for (i = 0; i < pf->nq; i++) {
			if (pf->mark[i] == g) {
				lo = lo == PF_NONE ? i : lo;
				hi = i;
			}
		}
		for (i = lo; lo != PF_NONE && i <= hi; i++)
			if (pf->mark[i] < 0 && pf->textkey[i])
				pf->mark[i] = g;
	}
}

/*
 * Blacks window m out of frame ev: at the rectangle the frame carries for
 * it when it was the active window at the grab, else at its last known
 * rectangle.  A failure is logged (without content) and leaves the
 * region black or empty (privacy__frame_black fails closed).
 */
static void
black_frame(struct privacy_filter *pf, struct ut_event *ev,
    const struct pf_mask *m)
{
	const struct ut_event *f = ev;
	int r;

	if (m->window != 0 && f->u.frame.fwin == m->window && f->u.frame.fw > 0 &&
	    f->u.frame.fh > 0)
		r = privacy__frame_black(ev, f->u.frame.fx, f->u.frame.fy,
		    f->u.frame.fw, f->u.frame.fh, pf->frame_quality);
	else
		r = privacy__frame_black(ev, m->x, m->y, m->w, m->h,
		    pf->frame_quality);
	if (r < 0) {
		log_warn("privacy: a frame region could not be re-encoded (%s); "
		    "it is left out", ut_strerror(r));
		event_dispose(ev);
		event_frame_attach(ev, NULL);
	}
}

/*
 * PRIV-P4-3: a secret was typed into the burst's window (groups with
 * pixels).  Its rectangle is the newest one a held frame carries for it
 * (the top-level, with the window-manager frame), else the FOCUS geometry,
 * else (no window known) the whole screen.  The window goes on the capture
 * board, with each secret as typed (groups 0..ntyped-1 are spans of
 * pf->text) so capture can find it through AT-SPI; a secret found only in
 * the raw key sequence (the typed-text model does not follow cursor moves)
 * or by failing closed asks for the whole window.  It also goes into
 * masks[] (the oldest entry makes room: with frames, entries are only
 * needed for frames grabbed before the board had the window, moments
 * after).  The held frames were all grabbed before the board had it, so
 * emit_frame() blacks every one of them, whole window.
 */
static void
mask_burst_window(struct privacy_filter *pf, const struct pf_group *grp,
    int32_t ngrp, int32_t ntyped)
{
	struct pf_mask m;
	uint32_t i, gen;
	int32_t g;
	bool any = false, framed = false;

	memset(&m, 0, sizeof(m));
	m.window = pf->focus_window;
	m.x = pf->focus_x;
	m.y = pf->focus_y;
	m.w = pf->focus_w;
	m.h = pf->focus_h;
	for (i = 0; i < pf->nq; i++) {
		const struct ut_event *f = &pf->q[i];

		if (f->type == UT_EV_FRAME && m.window != 0 &&
		    f->u.frame.fwin == m.window && f->u.frame.fw > 0 &&
		    f->u.frame.fh > 0) {
			m.x = f->u.frame.fx;
			m.y = f->u.frame.fy;
			m.w = f->u.frame.fw;
			m.h = f->u.frame.fh;
			framed = true;
		}
	}
	if (m.window == 0 || m.w == 0 || m.h == 0 || !framed) {
		/*
		 * No focused window known, or no grab saw its top-level (no
		 * EWMH: the FOCUS geometry is the client area only, and may be
		 * stale): the whole screen, for the frames blacked here.
		 */
		m.x = m.y = 0;
		m.w = m.h = UINT32_MAX / 2;
	}
	m.gen = 0;
	for (g = 0; g < ngrp; g++) {
		if (!grp[g].pixels)
			continue;
		any = true;
		if (pf->mask_window == NULL)
			continue;
		if (g < ntyped)
			gen = pf->mask_window(pf->mask_arg, m.window,
			    pf->text + grp[g].start, grp[g].end - grp[g].start);
		else
			gen = pf->mask_window(pf->mask_arg, m.window, NULL, 0);
		m.gen = UT_MAX(m.gen, gen);
	}
	if (!any)
		return;
	if (pf->mask_window == NULL)
		m.gen = UINT32_MAX;
	for (i = 0; i < pf->nmasks && pf->masks[i].window != m.window; i++)
		;
	if (i == pf->nmasks) {
		if (pf->nmasks < PF_MASKS_MAX)
			i = (uint32_t)pf->nmasks++;
		else
			i = (uint32_t)(pf->mask_next++ % PF_MASKS_MAX);
	}
	pf->masks[i] = m;
}

/* Every frame leaves here: black the windows its grab did not black yet. */
static int
emit_frame(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct ut_event out = *ev;
	size_t i;
	int r;

	for (i = 0; i < pf->nmasks; i++)
		if (out.u.frame.masks_gen < pf->masks[i].gen)
			black_frame(pf, &out, &pf->masks[i]);
	r = emit_level(pf, &out, pass_level(&out));
	sodium_memzero(&out, sizeof(out));
	return r;
}

/*
 * Scans the open burst: the typed text (after the released context ctx)
 * and, when edited, the raw key sequence; marks the records of each span
 * with its group, or on a detector error every text key (PRIV-P5-1, fail
 * closed), and extends the groups over edits.  grp has room for
 * nchars * 2 + 1 groups; groups 0..*ntyped-1 are spans of pf->text, whose
 * first *tlen bytes the caller wipes.  Returns the number of groups.
 */
static int32_t
burst_scan(struct privacy_filter *pf, struct pf_group *grp, int32_t *ntyped,
    size_t *tlen)
{
	uint32_t i, *rawidx = NULL, *rawoff = NULL;
	int32_t ngrp = 0;
	size_t len = pf->ctxlen;
	int r;

	for (i = 0; i < pf->nq; i++)
		pf->mark[i] = -1;
	memcpy(pf->text, pf->ctx, pf->ctxlen);
	for (i = 0; i < pf->nstack; i++) {
		struct pf_char *c = &pf->chars[pf->stack[i]];

		pf->toff[i] = (uint32_t)len;
		memcpy(pf->text + len, pf->raw + c->off, c->len);
		len += c->len;
	}
	*tlen = len;
	r = scan_and_mark(pf, pf->text, len, pf->stack, pf->toff, pf->nstack, grp,
	    &ngrp);
	*ntyped = ngrp;
	if (r == 0 && pf->edited) {
		rawidx = xreallocarray(NULL, pf->nchars + 1, sizeof(*rawidx));
		rawoff = xreallocarray(NULL, pf->nchars + 1, sizeof(*rawoff));
		for (i = 0; i < pf->nchars; i++) {
			rawidx[i] = i;
			rawoff[i] = pf->chars[i].off;
		}
		r = scan_and_mark(pf, pf->raw, pf->rlen, rawidx, rawoff, pf->nchars,
		    grp, &ngrp);
	}
	free(rawidx);
	free(rawoff);
	if (r < 0) {
		log_warn("privacy: detectors failed (%s); redacting the burst",
		    ut_strerror(r));
		ngrp = 1;
		*ntyped = 0;
		grp[0].why = detect_type_name(DETECT_GENERIC_SECRET);
		grp[0].level = UT_SENS_SECRET;
		grp[0].pixels = true;
		grp[0].count = 0;
		grp[0].emitted = false;
		for (i = 0; i < pf->nq; i++)
			pf->mark[i] = -1;
		for (i = 0; i < pf->nchars; i++) {
			struct pf_char *c = &pf->chars[i];

			grp[0].count++;
			pf->mark[c->press] = 0;
			if (c->release != PF_NONE)
				pf->mark[c->release] = 0;
		}
	}
	extend_groups(pf, ngrp);
	return ngrp;
}

/*
 * Emits q[0..upto): unmarked records as they are, each group as one
 * REDACTED record in place of its first record.  *done: records handled
 * (their frames are no longer the queue's).  Returns 0 or an emit error.
 */
static int
emit_held(struct privacy_filter *pf, struct pf_group *grp, uint32_t upto,
    uint32_t *done)
{
	struct ut_event red;
	uint32_t i;
	int32_t g;
	int r = 0;

	for (i = 0; i < upto && r == 0; i++) {
		const struct ut_event *ev = &pf->q[i];

		if ((g = pf->mark[i]) < 0) {
			r = emit_pass(pf, ev);
			continue;
		}
		if (grp[g].emitted)
			continue;
		grp[g].emitted = true;
		event_redacted(&red, ev, "keys", grp[g].why, grp[g].count,
		    floor_level(pf, UT_EV_REDACTED, grp[g].level));
		r = pf->emit(pf->arg, &red);
		r = r < 0 ? r : 0;
	}
	*done = i;
	return r;
}

/* Releases still to come of redacted presses of chars[0..n) are dropped. */
static void
drop_releases(struct privacy_filter *pf, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct pf_char *c = &pf->chars[i];

		if (c->release == PF_NONE && pf->mark[c->press] >= 0)
			pf->drop_release[c->keycode] = true;
		if (c->release == PF_NONE && pf->pend[c->keycode] == i)
			pf->pend[c->keycode] = PF_NONE;
	}
}

/*
 * Ends the open burst: detect, replace, emit, wipe.  forced: a size cap
 * ended it, so a secret may straddle the cut and be missed by both halves:
 * its window is blacked whole (P4-3, fail closed).
 */
static int
release_burst(struct privacy_filter *pf, bool forced)
{
	struct pf_group *grp = NULL;
	uint32_t done = 0;
	int32_t ngrp, ntyped;
	size_t tlen = 0;
	int r = 0;

	if (!pf->open || pf->nq == 0)
		goto out;
	/* Up to one group per character per scan, and the cap's. */
	grp = xcalloc((size_t)pf->nchars * 2 + 2, sizeof(*grp));
	ngrp = burst_scan(pf, grp, &ntyped, &tlen);
	if (forced) {
		/* An extra group that redacts nothing: it only blacks. */
		grp[ngrp].why = "cap";
		grp[ngrp].pixels = true;
		mask_burst_window(pf, grp, ngrp + 1, ntyped);
	} else {
		mask_burst_window(pf, grp, ngrp, ntyped);
	}
	r = emit_held(pf, grp, pf->nq, &done);
	free_frames(pf, done); /* not emitted after an error */
	drop_releases(pf, pf->nchars);
out:
	if (tlen > 0)
		sodium_memzero(pf->text, tlen);
	free(grp);
	burst_wipe(pf);
	return r;
}

/* Appends one released character (n bytes) to the scan context. */
static void
ctx_push(struct privacy_filter *pf, const char *p, uint32_t n)
{
	uint32_t drop = 0, k = 0;

	if (n == 0 || n > PF_CTX_MAX / 2)
		return;
	while (pf->ctxlen - drop + n > PF_CTX_MAX)
		drop += pf->ctxl[k++];
	if (k > 0) {
		memmove(pf->ctx, pf->ctx + drop, pf->ctxlen - drop);
		memmove(pf->ctxl, pf->ctxl + k, pf->nctx - k);
		pf->ctxlen -= drop;
		pf->nctx -= k;
	}
	memcpy(pf->ctx + pf->ctxlen, p, n);
	pf->ctxl[pf->nctx++] = (uint8_t)n;
	pf->ctxlen += n;
	sodium_memzero(pf->ctx + pf->ctxlen, PF_CTX_MAX - pf->ctxlen);
}

/*
 * The queue index before which the open burst can be released: before
 * the first character (from k0, arrival order) that a match could still
 * reach, moved back before any group that straddles it and before any
 * press whose release is already held after it (fixpoint).
 */
static uint32_t
hold_cut(struct privacy_filter *pf, uint32_t k0, int32_t ngrp)
{
	uint32_t i, lo, hi, qcut;
	int32_t g;
	bool moved;

	qcut = k0 < pf->nchars ? pf->chars[k0].press : pf->nq;
	do {
		moved = false;
		for (g = 0; g < ngrp; g++) {
			lo = PF_NONE;
			hi = 0;
			for (i = 0; i < pf->nq; i++) {
				if (pf->mark[i] == g) {
					lo = lo == PF_NONE ? i : lo;
					hi = i;
				}
			}
			if (lo != PF_NONE && lo < qcut && hi >= qcut) {
				qcut = lo;
				moved = true;
			}
		}
		for (i = 0; i < pf->nchars && pf->chars[i].press < qcut; i++) {
			const struct pf_char *c = &pf->chars[i];

			if (c->release != PF_NONE && c->release >= qcut) {
				qcut = c->press;
				moved = true;
				break;
			}
		}
	} while (moved);
	return qcut;
}

/* Drops q[0..qcut) and chars[0..k0) (released) and re-bases the rest. */
static void
hold_rebase(struct privacy_filter *pf, uint32_t qcut, uint32_t k0)
{
	uint32_t i, j, ns = 0, roff;

	for (ns = 0; ns < pf->nstack && pf->stack[ns] < k0; ns++) {
		const struct pf_char *c = &pf->chars[pf->stack[ns]];

		ctx_push(pf, pf->raw + c->off, c->len);
	}
	roff = k0 < pf->nchars ? pf->chars[k0].off : pf->rlen;
	memmove(pf->q, pf->q + qcut, (size_t)(pf->nq - qcut) * sizeof(*pf->q));
	memmove(pf->mark, pf->mark + qcut,
	    (size_t)(pf->nq - qcut) * sizeof(*pf->mark));
	memmove(pf->textkey, pf->textkey + qcut, pf->nq - qcut);
	pf->nq -= qcut;
	sodium_memzero(pf->q + pf->nq, (size_t)qcut * sizeof(*pf->q));
	memmove(pf->raw, pf->raw + roff, pf->rlen - roff);
	sodium_memzero(pf->raw + pf->rlen - roff, roff);
	pf->rlen -= roff;
	for (i = k0; i < pf->nchars; i++) {
		struct pf_char c = pf->chars[i];

		c.press -= qcut;
		if (c.release != PF_NONE)
			c.release -= qcut;
		c.off -= roff;
		pf->chars[i - k0] = c;
	}
	pf->nchars -= k0;
	sodium_memzero(pf->chars + pf->nchars, (size_t)k0 * sizeof(*pf->chars));
	for (j = ns; j < pf->nstack; j++)
		pf->stack[j - ns] = pf->stack[j] - k0;
	pf->nstack -= ns;
	for (i = 0; i < 256; i++)
		if (pf->pend[i] != PF_NONE)
			pf->pend[i] -= k0;
	pf->frame_bytes = 0;
	for (i = 0; i < pf->nq; i++)
		if (pf->q[i].type == UT_EV_FRAME)
			pf->frame_bytes += pf->q[i].u.frame.len;
}

/*
 * Bounded hold (privacy.h): releases the records of the open burst before
 * the first character a match can still reach - detect_reach() on the
 * typed text (with its context) and, when edited, on the raw sequence,
 * and the longest identity term before either end - and before any span
 * straddling that point.  The rest stays held; the released typed text
 * becomes context.  A redacted character's release yet to come is
 * dropped, as after a whole burst.
 */
static int
release_part(struct privacy_filter *pf)
{
	struct pf_group *grp;
	uint32_t i, k0, qcut, done = 0;
	int32_t ngrp, ntyped, g;
	size_t tlen = 0, reach, idmax = 0;
	int r = 0;

	grp = xcalloc((size_t)pf->nchars * 2 + 2, sizeof(*grp));
	ngrp = burst_scan(pf, grp, &ntyped, &tlen);
	for (i = 0; i < pf->ids.n; i++)
		idmax = UT_MAX(idmax, pf->ids.t[i].len);
	reach = detect_reach(pf->det, pf->text, tlen);
	reach = UT_MIN(reach, tlen > idmax ? tlen - idmax : 0);
	for (i = 0; i < pf->nstack &&
	    pf->toff[i] + pf->chars[pf->stack[i]].len <= reach; i++)
		;
	k0 = i < pf->nstack ? pf->stack[i] : pf->nchars;
	if (pf->edited) {
		reach = detect_reach(pf->det, pf->raw, pf->rlen);
		reach = UT_MIN(reach, pf->rlen > idmax ? pf->rlen - idmax : 0);
		for (i = 0; i < k0 && pf->chars[i].off + pf->chars[i].len <= reach;
		    i++)
			;
		k0 = i;
	}
	qcut = hold_cut(pf, k0, ngrp);
	if (qcut == 0)
		goto out;
	for (k0 = 0; k0 < pf->nchars && pf->chars[k0].press < qcut; k0++)
		;
	/* Groups of held records are scanned again later: no pixels yet. */
	for (g = 0; g < ngrp; g++) {
		for (i = 0; i < qcut && pf->mark[i] != g; i++)
			;
		if (i == qcut)
			grp[g].pixels = false;
	}
	mask_burst_window(pf, grp, ngrp, ntyped);
	r = emit_held(pf, grp, qcut, &done);
	if (r < 0) {
		free_frames(pf, done);
		burst_wipe(pf);
		goto out;
	}
	drop_releases(pf, k0);
	hold_rebase(pf, qcut, k0);
out:
	if (tlen > 0)
		sodium_memzero(pf->text, tlen);
	free(grp);
	return r;
}

/* Tries release_part() once q[0] is hold_ns old, every hold_ns / 4. */
static int
hold_check(struct privacy_filter *pf, uint64_t now)
{
	if (!pf->open || pf->nq == 0 || pf->password || pf->hold_ns == 0)
		return 0;
	if (now < pf->q[0].mono_ns + pf->hold_ns ||
	    now < pf->hold_try_ns + pf->hold_ns / 4)
		return 0;
	pf->hold_try_ns = now;
	return release_part(pf);
}

/* Appends ev to the queue (the caller checked the room). */
static uint32_t
enqueue(struct privacy_filter *pf, const struct ut_event *ev)
{
	pf->q[pf->nq] = *ev;
	return pf->nq++;
}

static int
push_key(struct privacy_filter *pf, const struct ut_event *ev)
{
	uint8_t kc = ev->u.key.keycode;
	uint32_t qi, ci;
	size_t n;
	const char *t;

	if (!ev->u.key.down && pf->drop_release[kc] &&
	    !(pf->open && pf->pend[kc] != PF_NONE)) {
		pf->drop_release[kc] = false; /* PRIV-P5-1 */
		return 0;
	}
	if (ev->u.key.down)
		pf->drop_release[kc] = false;
	t = ut_key_typed(ev); /* the one typing rule (typing.h) */
	if (!pf->open && t == NULL)
		return emit_pass(pf, ev);
	pf->open = true;
	qi = enqueue(pf, ev);
	pf->textkey[qi] = 0;
	if (t != NULL) {
		pf->textkey[qi] = 1;
		n = strnlen(t, UT_EV_TEXT_MAX);
		ci = pf->nchars++;
		pf->chars[ci].press = qi;
		pf->chars[ci].release = PF_NONE;
		pf->chars[ci].off = pf->rlen;
		pf->chars[ci].len = (uint32_t)n;
		pf->chars[ci].keycode = kc;
		memcpy(pf->raw + pf->rlen, t, n);
		pf->rlen += (uint32_t)n;
		pf->stack[pf->nstack++] = ci;
		pf->pend[kc] = ci;
		pf->last_key_ns = ev->mono_ns;
	} else if (ev->u.key.down && ev->u.key.keysym == UT_KS_BACKSPACE) {
		pf->textkey[qi] = 1;
		if (pf->nstack > 0) {
			pf->nstack--;
		} else if (pf->nctx > 0) {
			/* Deletes released text: it leaves the context. */
			n = pf->ctxl[--pf->nctx];
			pf->ctxlen -= (uint32_t)n;
			sodium_memzero(pf->ctx + pf->ctxlen, n);
		}
		/* The raw sequence gets a break, so deleted text stands alone. */
		if (pf->rlen > 0 && pf->raw[pf->rlen - 1] != '\n')
			pf->raw[pf->rlen++] = '\n';
		pf->edited = true;
		pf->last_key_ns = ev->mono_ns;
	} else if (!ev->u.key.down && ev->u.key.keysym == UT_KS_BACKSPACE) {
		pf->textkey[qi] = 1;
	} else if (!ev->u.key.down && pf->pend[kc] != PF_NONE) {
		pf->textkey[qi] = 1;
		pf->chars[pf->pend[kc]].release = qi;
		pf->pend[kc] = PF_NONE;
	}
	if (pf->nq >= pf->max_records || pf->rlen >= pf->max_text)
		return release_burst(pf, true);
	return 0;
}

/* Emits the pending run of dropped records, if any (invariant 7). */
static int
run_flush(struct privacy_filter *pf)
{
	int r = 0;

	if (!pf->run_open)
		return 0;
	pf->run_open = false;
	/* A run of releases only (their presses were counted) leaves nothing. */
	if (pf->run.u.redacted.count > 0)
		r = emit_level(pf, &pf->run, UT_SENS_SECRET);
	sodium_memzero(&pf->run, sizeof(pf->run));
	return r;
}

/*
 * Counts ev, which is dropped, in the run (what, why); a different run is
 * emitted first, and a new one takes ev's place and seq.
 */
static int
run_add(struct privacy_filter *pf, const struct ut_event *ev, const char *what,
    const char *why, uint32_t count)
{
	int r;

	if (pf->run_open && (strcmp(pf->run.u.redacted.what, what) != 0 ||
	    strcmp(pf->run.u.redacted.why, why) != 0) && (r = run_flush(pf)) < 0)
		return r;
	if (!pf->run_open) {
		event_redacted(&pf->run, ev, what, why, 0, UT_SENS_SECRET);
		pf->run_open = true;
	}
	pf->run.u.redacted.count += count;
	pf->run_last_ns = ev->mono_ns;
	return 0;
}

/*
 * Drops ev into a run if it must not be written: secure input redacted by
 * capture (PRIV-P4-2), keys and text of a denied window, the release of a
 * dropped press (PRIV-P4-1).  Returns 1 if dropped, 0 if ev goes on, or a
 * negative code.
 */
static int
route_dropped(struct privacy_filter *pf, const struct ut_event *ev)
{
	uint8_t kc;
	int r;

	switch (ev->type) {
	case UT_EV_REDACTED:
		if (strcmp(ev->u.redacted.what, "keys") != 0)
			return 0;
		/* Secure input began: the burst before it is not part of it. */
		if ((r = release_burst(pf, false)) < 0)
			return r;
		r = run_add(pf, ev, "keys", ev->u.redacted.why, ev->u.redacted.count);
		return r < 0 ? r : 1;
	case UT_EV_KEY:
		kc = ev->u.key.keycode;
		if (pf->denied) {
			r = run_add(pf, ev, "keys", "denied-app", ev->u.key.down ? 1 : 0);
			pf->key_dropped[kc] = ev->u.key.down;
			return r < 0 ? r : 1;
		}
		if (!ev->u.key.down && pf->key_dropped[kc]) {
			pf->key_dropped[kc] = false;
			return 1;
		}
		if (ev->u.key.down)
			pf->key_dropped[kc] = false;
		return 0;
	case UT_EV_TEXT:
		if (!pf->denied)
			return 0;
		r = run_add(pf, ev, "text", "denied-app", 1);
		return r < 0 ? r : 1;
	default:
		return 0;
	}
}

/* The focused window is denied or sensitive by the policy (FOCUS record). */
static void
focus_state(struct privacy_filter *pf, const struct ut_event *ev)
{
	const struct policy *p = pf->policy;

	/* Capture sets denied itself when apps or titles are not collected. */
	pf->denied = ev->u.focus.denied || policy_window_denied(p,
	    ev->u.focus.app, ev->u.focus.instance, ev->u.focus.title);
	pf->sensitive = p != NULL && !pf->denied &&
	    policy_app_sensitive(p, ev->u.focus.app, ev->u.focus.instance);
}

/* A FRAME pushed but neither held nor emitted (an error): its data goes. */
static int
drop_frame(const struct ut_event *ev, int r)
{
	event_dispose(ev);
	return r;
}

static int
push_one(struct privacy_filter *pf, const struct ut_event *ev)
{
	bool was_denied, was_sensitive;
	int r;

	/* A gap since the last key ends the burst before this record. */
	if (pf->open && ev->mono_ns > pf->last_key_ns + pf->gap_ns &&
	    (r = release_burst(pf, false)) < 0)
		return drop_frame(ev, r);
	if ((r = route_dropped(pf, ev)) != 0)
		return r < 0 ? drop_frame(ev, r) : 0;
	if ((r = run_flush(pf)) < 0)
		return drop_frame(ev, r);
	switch (ev->type) {
	case UT_EV_KEY:
		return push_key(pf, ev);
	case UT_EV_FOCUS:
		/*
		 * A new title of the same window ("*" when an editor's
		 * document is modified) does not split what is being typed,
		 * unless it makes the window denied or sensitive.
		 */
		was_denied = pf->denied;
		was_sensitive = pf->sensitive;
		focus_state(pf, ev);
		if (pf->open && ev->u.focus.window == pf->focus_window &&
		    pf->denied == was_denied && pf->sensitive == was_sensitive)
			break;
		pf->denied = was_denied;
		pf->sensitive = was_sensitive;
		if ((r = release_burst(pf, false)) < 0)
			return r;
		focus_state(pf, ev);
		break;
	case UT_EV_BUTTON:
	case UT_EV_PAUSE:
	case UT_EV_END:
		if (ev->type != UT_EV_BUTTON || ev->u.button.down) {
			if ((r = release_burst(pf, false)) < 0)
				return r;
		}
		break;
	default:
		break;
	}
	if (ev->type == UT_EV_FOCUS) {
		pf->focus_window = ev->u.focus.window;
		pf->focus_x = ev->u.focus.x;
		pf->focus_y = ev->u.focus.y;
		pf->focus_w = ev->u.focus.w;
		pf->focus_h = ev->u.focus.h;
	}
	if (!pf->open)
		return emit_pass(pf, ev);
	pf->textkey[enqueue(pf, ev)] = 0;
	if (ev->type == UT_EV_FRAME)
		pf->frame_bytes += ev->u.frame.len;
	if (pf->nq >= pf->max_records || pf->frame_bytes >= pf->max_frame_bytes)
		return release_burst(pf, true);
	return 0;
}

int
privacy_filter_push(struct privacy_filter *pf, const struct ut_event *ev)
{
	int r;

	if (pf == NULL || ev == NULL) {
		event_dispose(ev); /* ours on every return */
		return UT_EINVAL;
	}
	if ((r = push_one(pf, ev)) < 0)
		return r;
	return hold_check(pf, ev->mono_ns);
}

int
privacy_filter_tick(struct privacy_filter *pf, uint64_t now_mono_ns)
{
	if (pf == NULL)
		return UT_EINVAL;
	if (pf->open && now_mono_ns > pf->last_key_ns + pf->gap_ns)
		return release_burst(pf, false);
	if (pf->run_open && now_mono_ns > pf->run_last_ns + pf->gap_ns)
		return run_flush(pf);
	return hold_check(pf, now_mono_ns);
}

int
privacy_filter_flush(struct privacy_filter *pf)
{
	int r;

	if (pf == NULL)
		return UT_EINVAL;
	r = release_burst(pf, false);
	if (r == 0)
		r = run_flush(pf);
	return r;
}

void
privacy_filter_set_policy(struct privacy_filter *pf, const struct policy *p)
{
	if (pf != NULL)
		pf->policy = p;
}

int
privacy_filter_set_password(struct privacy_filter *pf, bool on)
{
	int r;

	if (pf == NULL)
		return UT_EINVAL;
	if (pf->password == on)
		return 0;
	r = release_burst(pf, false);
	pf->password = on;
	return r;
}

/*
 * A text the person gave the recorder (a task instruction): scanned like a
 * title, spans replaced by "[TYPE]".  Returns the sensitivity level (1..4).
 */
uint8_t
privacy_filter_redact_text(struct privacy_filter *pf, const char *in,
    char *out, size_t outsz)
{
	uint8_t lvl = UT_SENS_CONTENT;

	redact_into(pf, in, strlen(in), out, outsz, &lvl);
	return lvl;
}
