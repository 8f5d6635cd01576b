/*
 * filter_burst.c - the privacy filter's typing burst (filter_int.h; the
 * invariants 1-5, 8 and 10 are in filter.c): records queue while a burst
 * is open, printable presses become characters, the burst's typed and raw
 * text are scanned at release, detected spans are redacted, and the
 * bounded hold releases the part no match can still reach.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/privacy.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"
#include "filter_int.h"

void
pf__burst_wipe(struct privacy_filter *pf)
{
	struct pf_burst *b = &pf->burst;

	if (b->q != NULL)
		sodium_memzero(b->q, (size_t)b->nq * sizeof(*b->q));
	if (b->raw != NULL)
		sodium_memzero(b->raw, b->rlen);
	if (b->chars != NULL)
		sodium_memzero(b->chars, (size_t)b->nchars * sizeof(*b->chars));
	sodium_memzero(b->ctx, sizeof(b->ctx));
	b->nq = b->rlen = b->nchars = b->nstack = 0;
	b->nctx = b->ctxlen = 0;
	pf->pix.bytes = 0;
	b->open = false;
	b->edited = false;
	memset(b->pend, 0xff, sizeof(b->pend));
}

/* Marks the records of chars[first..last] with group g. */
static void
mark_chars(struct privacy_filter *pf, const uint32_t *idx, size_t nidx,
    size_t first, size_t last, struct pf_group *grp, int32_t g)
{
	struct pf_burst *b = &pf->burst;
	size_t k;

	for (k = first; k <= last && k < nidx; k++) {
		struct pf_char *c = &b->chars[idx[k]];

		grp[g].count++;
		if (b->mark[c->press] < 0)
			b->mark[c->press] = g;
		if (c->release != PF_NONE && b->mark[c->release] < 0)
			b->mark[c->release] = g;
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
	struct pf_burst *b = &pf->burst;
	const struct pf_span *sp;
	size_t k = 0, first;
	int i, n;

	n = pf__find_spans(pf, text, len, pf->password ? DETECT_F_PASSWORD : 0);
	if (n < 0)
		return n;
	sp = pf->spans;
	for (i = 0; i < n; i++) {
		/* First character ending after the span start. */
		while (k < nidx && off[k] + b->chars[idx[k]].len <= sp[i].start)
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
	struct pf_burst *b = &pf->burst;
	uint32_t i, lo, hi;
	int32_t g;

	for (g = 0; g < ngrp; g++) {
		lo = PF_NONE;
		hi = 0;
		for (i = 0; i < b->nq; i++) {
			if (b->mark[i] == g) {
				lo = lo == PF_NONE ? i : lo;
				hi = i;
			}
		}
		for (i = lo; lo != PF_NONE && i <= hi; i++)
			if (b->mark[i] < 0 && b->textkey[i])
				b->mark[i] = g;
	}
}

/*
 * Scans the open burst: the typed text (after the released context ctx)
 * and, when edited, the raw key sequence; marks the records of each span
 * with its group, or on a detector error every text key (PRIV-P5-1, fail
 * closed), and extends the groups over edits.  grp has room for
 * nchars * 2 + 1 groups; groups 0..*ntyped-1 are spans of b->text, whose
 * first *tlen bytes the caller wipes.  Returns the number of groups.
 */
static int32_t
burst_scan(struct privacy_filter *pf, struct pf_group *grp, int32_t *ntyped,
    size_t *tlen)
{
	struct pf_burst *b = &pf->burst;
	uint32_t i, *rawidx = NULL, *rawoff = NULL;
	int32_t ngrp = 0;
	size_t len = b->ctxlen;
	int r;

	for (i = 0; i < b->nq; i++)
		b->mark[i] = -1;
	memcpy(b->text, b->ctx, b->ctxlen);
	for (i = 0; i < b->nstack; i++) {
		struct pf_char *c = &b->chars[b->stack[i]];

		b->toff[i] = (uint32_t)len;
		memcpy(b->text + len, b->raw + c->off, c->len);
		len += c->len;
	}
	*tlen = len;
	r = scan_and_mark(pf, b->text, len, b->stack, b->toff, b->nstack, grp,
	    &ngrp);
	*ntyped = ngrp;
	if (r == 0 && b->edited) {
		rawidx = xreallocarray(NULL, b->nchars + 1, sizeof(*rawidx));
		rawoff = xreallocarray(NULL, b->nchars + 1, sizeof(*rawoff));
		for (i = 0; i < b->nchars; i++) {
			rawidx[i] = i;
			rawoff[i] = b->chars[i].off;
		}
		r = scan_and_mark(pf, b->raw, b->rlen, rawidx, rawoff, b->nchars,
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
		for (i = 0; i < b->nq; i++)
			b->mark[i] = -1;
		for (i = 0; i < b->nchars; i++) {
			struct pf_char *c = &b->chars[i];

			grp[0].count++;
			b->mark[c->press] = 0;
			if (c->release != PF_NONE)
				b->mark[c->release] = 0;
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
	struct pf_burst *b = &pf->burst;
	struct ut_event red;
	uint32_t i;
	int32_t g;
	int r = 0;

	for (i = 0; i < upto && r == 0; i++) {
		const struct ut_event *ev = &b->q[i];

		if ((g = b->mark[i]) < 0) {
			r = pf__emit_pass(pf, ev);
			continue;
		}
		if (grp[g].emitted)
			continue;
		grp[g].emitted = true;
		event_redacted(&red, ev, "keys", grp[g].why, grp[g].count,
		    pf__floor_level(pf, UT_EV_REDACTED, grp[g].level));
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
	struct pf_burst *b = &pf->burst;
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct pf_char *c = &b->chars[i];

		if (c->release == PF_NONE && b->mark[c->press] >= 0)
			b->drop_release[c->keycode] = true;
		if (c->release == PF_NONE && b->pend[c->keycode] == i)
			b->pend[c->keycode] = PF_NONE;
	}
}

/*
 * Ends the open burst: detect, replace, emit, wipe.  forced: a size cap
 * ended it, so a secret may straddle the cut and be missed by both halves:
 * its window is blacked whole (P4-3, fail closed).
 */
int
pf__release_burst(struct privacy_filter *pf, bool forced)
{
	struct pf_burst *b = &pf->burst;
	struct pf_group *grp = NULL;
	uint32_t done = 0;
	int32_t ngrp, ntyped;
	size_t tlen = 0;
	int r = 0;

	if (!b->open || b->nq == 0)
		goto out;
	/* Up to one group per character per scan, and the cap's. */
	grp = xcalloc((size_t)b->nchars * 2 + 2, sizeof(*grp));
	ngrp = burst_scan(pf, grp, &ntyped, &tlen);
	if (forced) {
		/* An extra group that redacts nothing: it only blacks. */
		grp[ngrp].why = "cap";
		grp[ngrp].pixels = true;
		pf__mask_burst_window(pf, grp, ngrp + 1, ntyped);
	} else {
		pf__mask_burst_window(pf, grp, ngrp, ntyped);
	}
	r = emit_held(pf, grp, b->nq, &done);
	pf__free_frames(pf, done); /* not emitted after an error */
	drop_releases(pf, b->nchars);
out:
	if (tlen > 0)
		sodium_memzero(b->text, tlen);
	free(grp);
	pf__burst_wipe(pf);
	return r;
}

/* Appends one released character (n bytes) to the scan context. */
static void
ctx_push(struct privacy_filter *pf, const char *p, uint32_t n)
{
	struct pf_burst *b = &pf->burst;
	uint32_t drop = 0, k = 0;

	if (n == 0 || n > PF_CTX_MAX / 2)
		return;
	while (b->ctxlen - drop + n > PF_CTX_MAX)
		drop += b->ctxl[k++];
	if (k > 0) {
		memmove(b->ctx, b->ctx + drop, b->ctxlen - drop);
		memmove(b->ctxl, b->ctxl + k, b->nctx - k);
		b->ctxlen -= drop;
		b->nctx -= k;
	}
	memcpy(b->ctx + b->ctxlen, p, n);
	b->ctxl[b->nctx++] = (uint8_t)n;
	b->ctxlen += n;
	sodium_memzero(b->ctx + b->ctxlen, PF_CTX_MAX - b->ctxlen);
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
	struct pf_burst *b = &pf->burst;
	uint32_t i, lo, hi, qcut;
	int32_t g;
	bool moved;

	qcut = k0 < b->nchars ? b->chars[k0].press : b->nq;
	do {
		moved = false;
		for (g = 0; g < ngrp; g++) {
			lo = PF_NONE;
			hi = 0;
			for (i = 0; i < b->nq; i++) {
				if (b->mark[i] == g) {
					lo = lo == PF_NONE ? i : lo;
					hi = i;
				}
			}
			if (lo != PF_NONE && lo < qcut && hi >= qcut) {
				qcut = lo;
				moved = true;
			}
		}
		for (i = 0; i < b->nchars && b->chars[i].press < qcut; i++) {
			const struct pf_char *c = &b->chars[i];

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
	struct pf_burst *b = &pf->burst;
	uint32_t i, j, ns = 0, roff;

	for (ns = 0; ns < b->nstack && b->stack[ns] < k0; ns++) {
		const struct pf_char *c = &b->chars[b->stack[ns]];

		ctx_push(pf, b->raw + c->off, c->len);
	}
	roff = k0 < b->nchars ? b->chars[k0].off : b->rlen;
	memmove(b->q, b->q + qcut, (size_t)(b->nq - qcut) * sizeof(*b->q));
	memmove(b->mark, b->mark + qcut,
	    (size_t)(b->nq - qcut) * sizeof(*b->mark));
	memmove(b->textkey, b->textkey + qcut, b->nq - qcut);
	b->nq -= qcut;
	sodium_memzero(b->q + b->nq, (size_t)qcut * sizeof(*b->q));
	memmove(b->raw, b->raw + roff, b->rlen - roff);
	sodium_memzero(b->raw + b->rlen - roff, roff);
	b->rlen -= roff;
	for (i = k0; i < b->nchars; i++) {
		struct pf_char c = b->chars[i];

		c.press -= qcut;
		if (c.release != PF_NONE)
			c.release -= qcut;
		c.off -= roff;
		b->chars[i - k0] = c;
	}
	b->nchars -= k0;
	sodium_memzero(b->chars + b->nchars, (size_t)k0 * sizeof(*b->chars));
	for (j = ns; j < b->nstack; j++)
		b->stack[j - ns] = b->stack[j] - k0;
	b->nstack -= ns;
	for (i = 0; i < 256; i++)
		if (b->pend[i] != PF_NONE)
			b->pend[i] -= k0;
	pf->pix.bytes = 0;
	for (i = 0; i < b->nq; i++)
		if (b->q[i].type == UT_EV_FRAME)
			pf->pix.bytes += b->q[i].u.frame.len;
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
	struct pf_burst *b = &pf->burst;
	struct pf_group *grp;
	uint32_t i, k0, qcut, done = 0;
	int32_t ngrp, ntyped, g;
	size_t tlen = 0, reach, idmax = 0;
	int r = 0;

	grp = xcalloc((size_t)b->nchars * 2 + 2, sizeof(*grp));
	ngrp = burst_scan(pf, grp, &ntyped, &tlen);
	for (i = 0; i < pf->ids.n; i++)
		idmax = UT_MAX(idmax, pf->ids.t[i].len);
	reach = detect_reach(pf->det, b->text, tlen);
	reach = UT_MIN(reach, tlen > idmax ? tlen - idmax : 0);
	for (i = 0; i < b->nstack &&
	    b->toff[i] + b->chars[b->stack[i]].len <= reach; i++)
		;
	k0 = i < b->nstack ? b->stack[i] : b->nchars;
	if (b->edited) {
		reach = detect_reach(pf->det, b->raw, b->rlen);
		reach = UT_MIN(reach, b->rlen > idmax ? b->rlen - idmax : 0);
		for (i = 0; i < k0 && b->chars[i].off + b->chars[i].len <= reach;
		    i++)
			;
		k0 = i;
	}
	qcut = hold_cut(pf, k0, ngrp);
	if (qcut == 0)
		goto out;
	for (k0 = 0; k0 < b->nchars && b->chars[k0].press < qcut; k0++)
		;
	/* Groups of held records are scanned again later: no pixels yet. */
	for (g = 0; g < ngrp; g++) {
		for (i = 0; i < qcut && b->mark[i] != g; i++)
			;
		if (i == qcut)
			grp[g].pixels = false;
	}
	pf__mask_burst_window(pf, grp, ngrp, ntyped);
	r = emit_held(pf, grp, qcut, &done);
	if (r < 0) {
		pf__free_frames(pf, done);
		pf__burst_wipe(pf);
		goto out;
	}
	drop_releases(pf, k0);
	hold_rebase(pf, qcut, k0);
out:
	if (tlen > 0)
		sodium_memzero(b->text, tlen);
	free(grp);
	return r;
}

/* Tries release_part() once q[0] is hold_ns old, every hold_ns / 4. */
int
pf__hold_check(struct privacy_filter *pf, uint64_t now)
{
	struct pf_burst *b = &pf->burst;

	if (!b->open || b->nq == 0 || pf->password || b->hold_ns == 0)
		return 0;
	if (now < b->q[0].mono_ns + b->hold_ns ||
	    now < b->hold_try_ns + b->hold_ns / 4)
		return 0;
	b->hold_try_ns = now;
	return release_part(pf);
}

/* Appends ev to the queue (the caller checked the room). */
uint32_t
pf__enqueue(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct pf_burst *b = &pf->burst;

	b->q[b->nq] = *ev;
	return b->nq++;
}

int
pf__push_key(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct pf_burst *b = &pf->burst;
	uint8_t kc = ev->u.key.keycode;
	uint32_t qi, ci;
	size_t n;
	const char *t;

	if (!ev->u.key.down && b->drop_release[kc] &&
	    !(b->open && b->pend[kc] != PF_NONE)) {
		b->drop_release[kc] = false; /* PRIV-P5-1 */
		return 0;
	}
	if (ev->u.key.down)
		b->drop_release[kc] = false;
	t = ut_key_typed(ev); /* the one typing rule (typing.h) */
	if (!b->open && t == NULL)
		return pf__emit_pass(pf, ev);
	b->open = true;
	qi = pf__enqueue(pf, ev);
	b->textkey[qi] = 0;
	if (t != NULL) {
		b->textkey[qi] = 1;
		n = strnlen(t, UT_EV_TEXT_MAX);
		ci = b->nchars++;
		b->chars[ci].press = qi;
		b->chars[ci].release = PF_NONE;
		b->chars[ci].off = b->rlen;
		b->chars[ci].len = (uint32_t)n;
		b->chars[ci].keycode = kc;
		memcpy(b->raw + b->rlen, t, n);
		b->rlen += (uint32_t)n;
		b->stack[b->nstack++] = ci;
		b->pend[kc] = ci;
		b->last_key_ns = ev->mono_ns;
	} else if (ev->u.key.down && ev->u.key.keysym == UT_KS_BACKSPACE) {
		b->textkey[qi] = 1;
		if (b->nstack > 0) {
			b->nstack--;
		} else if (b->nctx > 0) {
			/* Deletes released text: it leaves the context. */
			n = b->ctxl[--b->nctx];
			b->ctxlen -= (uint32_t)n;
			sodium_memzero(b->ctx + b->ctxlen, n);
		}
		/* The raw sequence gets a break, so deleted text stands alone. */
		if (b->rlen > 0 && b->raw[b->rlen - 1] != '\n')
			b->raw[b->rlen++] = '\n';
		b->edited = true;
		b->last_key_ns = ev->mono_ns;
	} else if (!ev->u.key.down && ev->u.key.keysym == UT_KS_BACKSPACE) {
		b->textkey[qi] = 1;
	} else if (!ev->u.key.down && b->pend[kc] != PF_NONE) {
		b->textkey[qi] = 1;
		b->chars[b->pend[kc]].release = qi;
		b->pend[kc] = PF_NONE;
	}
	if (b->nq >= pf->max_records || b->rlen >= pf->max_text)
		return pf__release_burst(pf, true);
	return 0;
}
