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

	n = pf__find_spans(pf, text, len, pf->password ? DETECT_F_PASSWORD : 0);
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
int
pf__release_burst(struct privacy_filter *pf, bool forced)
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
		pf__mask_burst_window(pf, grp, ngrp + 1, ntyped);
	} else {
		pf__mask_burst_window(pf, grp, ngrp, ntyped);
	}
	r = emit_held(pf, grp, pf->nq, &done);
	pf__free_frames(pf, done); /* not emitted after an error */
	drop_releases(pf, pf->nchars);
out:
	if (tlen > 0)
		sodium_memzero(pf->text, tlen);
	free(grp);
	pf__burst_wipe(pf);
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
		sodium_memzero(pf->text, tlen);
	free(grp);
	return r;
}

/* Tries release_part() once q[0] is hold_ns old, every hold_ns / 4. */
int
pf__hold_check(struct privacy_filter *pf, uint64_t now)
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
uint32_t
pf__enqueue(struct privacy_filter *pf, const struct ut_event *ev)
{
	pf->q[pf->nq] = *ev;
	return pf->nq++;
}

int
pf__push_key(struct privacy_filter *pf, const struct ut_event *ev)
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
		return pf__emit_pass(pf, ev);
	pf->open = true;
	qi = pf__enqueue(pf, ev);
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
		return pf__release_burst(pf, true);
	return 0;
}
