/*
 * filter_masks.c - typed secrets in pixels (filter_int.h; invariant 9 in
 * filter.c): held frames are blacked over the window a secret was typed
 * into, that window goes on the mask list with the capture board
 * generation from which capture blacks it, and later frames grabbed at an
 * older generation are blacked here.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/privacy.h"
#include "usetrace/util.h"
#include "filter_int.h"

/* Wipes and frees the data of held frames q[from..nq) (not emitted). */
void
pf__free_frames(struct privacy_filter *pf, uint32_t from)
{
	uint32_t i;

	for (i = from; pf->burst.q != NULL && i < pf->burst.nq; i++)
		if (pf->burst.q[i].type == UT_EV_FRAME) {
			event_dispose(&pf->burst.q[i]);
			event_frame_attach(&pf->burst.q[i], NULL);
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
		    f->u.frame.fw, f->u.frame.fh, pf->pix.quality);
	else
		r = privacy__frame_black(ev, m->x, m->y, m->w, m->h,
		    pf->pix.quality);
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
 * pf->burst.text) so capture can find it through AT-SPI; a secret found only in
 * the raw key sequence (the typed-text model does not follow cursor moves)
 * or by failing closed asks for the whole window.  It also goes into
 * masks[] (the oldest entry makes room: with frames, entries are only
 * needed for frames grabbed before the board had the window, moments
 * after).  The held frames were all grabbed before the board had it, so
 * pf__emit_frame() blacks every one of them, whole window.
 */
void
pf__mask_burst_window(struct privacy_filter *pf, const struct pf_group *grp,
    int32_t ngrp, int32_t ntyped)
{
	struct pf_mask m;
	uint32_t i, gen;
	int32_t g;
	bool any = false, framed = false;

	memset(&m, 0, sizeof(m));
	m.window = pf->focus.window;
	m.x = pf->focus.x;
	m.y = pf->focus.y;
	m.w = pf->focus.w;
	m.h = pf->focus.h;
	for (i = 0; i < pf->burst.nq; i++) {
		const struct ut_event *f = &pf->burst.q[i];

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
		if (pf->pix.mask_window == NULL)
			continue;
		if (g < ntyped)
			gen = pf->pix.mask_window(pf->pix.mask_arg, m.window,
			    pf->burst.text + grp[g].start, grp[g].end - grp[g].start);
		else
			gen = pf->pix.mask_window(pf->pix.mask_arg, m.window, NULL, 0);
		m.gen = UT_MAX(m.gen, gen);
	}
	if (!any)
		return;
	if (pf->pix.mask_window == NULL)
		m.gen = UINT32_MAX;
	for (i = 0; i < pf->pix.nmasks && pf->pix.masks[i].window != m.window; i++)
		;
	if (i == pf->pix.nmasks) {
		if (pf->pix.nmasks < PF_MASKS_MAX)
			i = (uint32_t)pf->pix.nmasks++;
		else
			i = (uint32_t)(pf->pix.next++ % PF_MASKS_MAX);
	}
	pf->pix.masks[i] = m;
}

/* Every frame leaves here: black the windows its grab did not black yet. */
int
pf__emit_frame(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct ut_event out = *ev;
	size_t i;
	int r;

	for (i = 0; i < pf->pix.nmasks; i++)
		if (out.u.frame.masks_gen < pf->pix.masks[i].gen)
			black_frame(pf, &out, &pf->pix.masks[i]);
	r = pf__emit_level(pf, &out, pf__pass_level(&out));
	sodium_memzero(&out, sizeof(out));
	return r;
}
