/*
 * filter.c - the on-device privacy filter (privacy.h): typing bursts,
 * key-log redaction, title placeholders, sensitivity levels.
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
 *
 * States:  IDLE -> OPEN [printable key press]
 *          OPEN -> IDLE [release_burst: gap, button press, focus, cap,
 *                        flush, password flag change]
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/privacy.h"
#include "usetrace/util.h"

#define PF_GAP_MS_DEFAULT 1000
#define PF_MAX_RECORDS_DEFAULT 4096
#define PF_MAX_TEXT_DEFAULT 8192
#define PF_NONE UINT32_MAX

#define KS_BACKSPACE 0xff08u
#define KS_TAB 0xff09u
#define KS_RETURN 0xff0du
#define KS_KP_ENTER 0xff8du
#define MOD_HOTKEY (0x04u | 0x08u | 0x40u) /* Control, Mod1 (Alt), Mod4 */

struct pf_char {
	uint32_t press, release;	/* queue indices, PF_NONE if none */
	uint32_t off, len;		/* bytes in raw[] */
	uint8_t keycode;
};

struct pf_group {
	enum detect_type type;
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
	pf->nq = pf->rlen = pf->nchars = pf->nstack = 0;
	pf->open = false;
	pf->edited = false;
	memset(pf->pend, 0xff, sizeof(pf->pend));
}

void
privacy_filter_destroy(struct privacy_filter *pf)
{
	if (pf == NULL)
		return;
	burst_wipe(pf);
	if (pf->text != NULL)
		sodium_memzero(pf->text, (size_t)pf->max_text + UT_EV_TEXT_MAX);
	free(pf->q);
	free(pf->mark);
	free(pf->textkey);
	free(pf->raw);
	free(pf->text);
	free(pf->toff);
	free(pf->chars);
	free(pf->stack);
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
	pf->text = xmalloc(tmax);
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

/* Emits a copy of ev with its level set; the copy is wiped. */
static int
emit_level(struct privacy_filter *pf, const struct ut_event *ev, uint8_t lvl)
{
	struct ut_event out = *ev;
	int r;

	out.sensitivity = at_least(ev, lvl);
	r = pf->emit(pf->arg, &out);
	sodium_memzero(&out, sizeof(out));
	return r < 0 ? r : 0;
}

/*
 * FOCUS: detected spans in the title become "[TYPE]".  Level 1 without
 * findings, 3 with personal data only, 4 with a secret (the record is
 * still written, with the placeholder).
 */
static int
emit_focus(struct privacy_filter *pf, const struct ut_event *ev)
{
	const struct detect_span *sp;
	struct ut_event out = *ev;
	const char *t = ev->u.focus.title;
	char *dst = out.u.focus.title;
	size_t len = strnlen(t, sizeof(ev->u.focus.title)), pos = 0, w = 0, room;
	uint8_t lvl = UT_SENS_NONE;
	char ph[40];
	int i, n, r;

	n = detect_scan(pf->det, t, len, 0, &sp);
	if (n < 0) {
		/* Fail closed. */
		snprintf(dst, sizeof(out.u.focus.title), "[REDACTED]");
		lvl = UT_SENS_SECRET;
		goto out;
	}
	if (n == 0)
		goto out;
	memset(dst, 0, sizeof(out.u.focus.title));
	for (i = 0; i < n; i++) {
		room = sizeof(out.u.focus.title) - 1 - w;
		w += ut_strlcpy_utf8(dst + w, t + pos, UT_MIN(sp[i].start - pos, room),
		    room + 1);
		snprintf(ph, sizeof(ph), "[%s]", detect_type_name(sp[i].type));
		room = sizeof(out.u.focus.title) - 1 - w;
		if (strlen(ph) <= room) {
			memcpy(dst + w, ph, strlen(ph));
			w += strlen(ph);
		}
		pos = sp[i].end;
		lvl = UT_MAX(lvl, span_level(sp[i].type));
	}
	room = sizeof(out.u.focus.title) - 1 - w;
	w += ut_strlcpy_utf8(dst + w, t + pos, UT_MIN(len - pos, room), room + 1);
	dst[w] = '\0';
out:
	out.sensitivity = at_least(ev, lvl);
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

static int
emit_pass(struct privacy_filter *pf, const struct ut_event *ev)
{
	if (ev->type == UT_EV_FOCUS)
		return emit_focus(pf, ev);
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
	const struct detect_span *sp;
	size_t k = 0, first;
	int i, n;

	n = detect_scan(pf->det, text, len, pf->password ? DETECT_F_PASSWORD : 0,
	    &sp);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		/* First character ending after the span start. */
		while (k < nidx && off[k] + pf->chars[idx[k]].len <= sp[i].start)
			k++;
		first = k;
		while (k < nidx && off[k] < sp[i].end)
			k++;
		if (k == first)
			continue;
		grp[*ngrp].type = sp[i].type;
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

/* Ends the open burst: detect, replace, emit, wipe. */
static int
release_burst(struct privacy_filter *pf)
{
	struct pf_group *grp = NULL;
	struct ut_event red;
	uint32_t i, *rawidx = NULL, *rawoff = NULL;
	int32_t ngrp = 0, g;
	size_t tlen = 0;
	int r = 0;

	if (!pf->open || pf->nq == 0)
		goto out;
	for (i = 0; i < pf->nq; i++)
		pf->mark[i] = -1;
	/* Up to one group per character per scan. */
	grp = xcalloc((size_t)pf->nchars * 2 + 1, sizeof(*grp));
	for (i = 0; i < pf->nstack; i++) {
		struct pf_char *c = &pf->chars[pf->stack[i]];

		pf->toff[i] = (uint32_t)tlen;
		memcpy(pf->text + tlen, pf->raw + c->off, c->len);
		tlen += c->len;
	}
	r = scan_and_mark(pf, pf->text, tlen, pf->stack, pf->toff, pf->nstack, grp,
	    &ngrp);
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
	if (r < 0) {
		/* PRIV-P5-1, fail closed: every text key of the burst. */
		log_warn("privacy: detectors failed (%s); redacting the burst",
		    ut_strerror(r));
		ngrp = 1;
		grp[0].type = DETECT_GENERIC_SECRET;
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
	r = 0;
	for (i = 0; i < pf->nq && r == 0; i++) {
		const struct ut_event *ev = &pf->q[i];

		if ((g = pf->mark[i]) < 0) {
			r = emit_pass(pf, ev);
			continue;
		}
		if (grp[g].emitted)
			continue;
		grp[g].emitted = true;
		memset(&red, 0, sizeof(red));
		red.seq = ev->seq;
		red.mono_ns = ev->mono_ns;
		red.wall_ns = ev->wall_ns;
		red.xtime = ev->xtime;
		red.type = UT_EV_REDACTED;
		red.sensitivity = span_level(grp[g].type);
		snprintf(red.u.redacted.what, sizeof(red.u.redacted.what), "keys");
		snprintf(red.u.redacted.why, sizeof(red.u.redacted.why), "%s",
		    detect_type_name(grp[g].type));
		red.u.redacted.count = grp[g].count;
		r = pf->emit(pf->arg, &red);
		r = r < 0 ? r : 0;
	}
	/* Releases still to come of redacted presses are dropped on arrival. */
	for (i = 0; i < pf->nchars; i++) {
		struct pf_char *c = &pf->chars[i];

		if (c->release == PF_NONE && pf->mark[c->press] >= 0)
			pf->drop_release[c->keycode] = true;
	}
out:
	if (tlen > 0)
		sodium_memzero(pf->text, tlen);
	free(grp);
	free(rawidx);
	free(rawoff);
	burst_wipe(pf);
	return r;
}

static bool
is_printable_press(const struct ut_event *ev)
{
	const unsigned char *t = (const unsigned char *)ev->u.key.text;

	if (!ev->u.key.down || (ev->u.key.state & MOD_HOTKEY))
		return false;
	if (ev->u.key.keysym == KS_RETURN || ev->u.key.keysym == KS_KP_ENTER ||
	    ev->u.key.keysym == KS_TAB)
		return true;
	return t[0] >= 0x20 && t[0] != 0x7f;
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
	if (!pf->open && !is_printable_press(ev))
		return emit_pass(pf, ev);
	pf->open = true;
	qi = enqueue(pf, ev);
	pf->textkey[qi] = 0;
	if (is_printable_press(ev)) {
		pf->textkey[qi] = 1;
		if (ev->u.key.keysym == KS_RETURN || ev->u.key.keysym == KS_KP_ENTER)
			t = "\n";
		else if (ev->u.key.keysym == KS_TAB)
			t = "\t";
		else
			t = ev->u.key.text;
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
	} else if (ev->u.key.down && ev->u.key.keysym == KS_BACKSPACE) {
		pf->textkey[qi] = 1;
		if (pf->nstack > 0)
			pf->nstack--;
		/* The raw sequence gets a break, so deleted text stands alone. */
		if (pf->rlen > 0 && pf->raw[pf->rlen - 1] != '\n')
			pf->raw[pf->rlen++] = '\n';
		pf->edited = true;
		pf->last_key_ns = ev->mono_ns;
	} else if (!ev->u.key.down && ev->u.key.keysym == KS_BACKSPACE) {
		pf->textkey[qi] = 1;
	} else if (!ev->u.key.down && pf->pend[kc] != PF_NONE) {
		pf->textkey[qi] = 1;
		pf->chars[pf->pend[kc]].release = qi;
		pf->pend[kc] = PF_NONE;
	}
	if (pf->nq >= pf->max_records || pf->rlen >= pf->max_text)
		return release_burst(pf);
	return 0;
}

int
privacy_filter_push(struct privacy_filter *pf, const struct ut_event *ev)
{
	int r;

	if (pf == NULL || ev == NULL)
		return UT_EINVAL;
	/* A gap since the last key ends the burst before this record. */
	if (pf->open && ev->mono_ns > pf->last_key_ns + pf->gap_ns &&
	    (r = release_burst(pf)) < 0)
		return r;
	switch (ev->type) {
	case UT_EV_KEY:
		return push_key(pf, ev);
	case UT_EV_BUTTON:
	case UT_EV_FOCUS:
	case UT_EV_PAUSE:
	case UT_EV_END:
		if (ev->type != UT_EV_BUTTON || ev->u.button.down) {
			if ((r = release_burst(pf)) < 0)
				return r;
		}
		break;
	default:
		break;
	}
	if (!pf->open)
		return emit_pass(pf, ev);
	pf->textkey[enqueue(pf, ev)] = 0;
	if (pf->nq >= pf->max_records)
		return release_burst(pf);
	return 0;
}

int
privacy_filter_tick(struct privacy_filter *pf, uint64_t now_mono_ns)
{
	if (pf == NULL)
		return UT_EINVAL;
	if (pf->open && now_mono_ns > pf->last_key_ns + pf->gap_ns)
		return release_burst(pf);
	return 0;
}

int
privacy_filter_flush(struct privacy_filter *pf)
{
	if (pf == NULL)
		return UT_EINVAL;
	return release_burst(pf);
}

int
privacy_filter_set_password(struct privacy_filter *pf, bool on)
{
	int r;

	if (pf == NULL)
		return UT_EINVAL;
	if (pf->password == on)
		return 0;
	r = release_burst(pf);
	pf->password = on;
	return r;
}
