/*
 * filter_runs.c - the privacy filter's runs of dropped records
 * (filter_int.h; invariants 6 and 7 in filter.c): KEY and TEXT records of
 * a denied window, and capture's secure-input REDACTED records, become one
 * REDACTED record per run, emitted before any record that came after it.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/privacy.h"
#include "usetrace/util.h"
#include "filter_int.h"

/* Emits the pending run of dropped records, if any (invariant 7). */
int
pf__run_flush(struct privacy_filter *pf)
{
	int r = 0;

	if (!pf->runs.open)
		return 0;
	pf->runs.open = false;
	/* A run of releases only (their presses were counted) leaves nothing. */
	if (pf->runs.ev.u.redacted.count > 0)
		r = pf__emit_level(pf, &pf->runs.ev, UT_SENS_SECRET);
	sodium_memzero(&pf->runs.ev, sizeof(pf->runs.ev));
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

	if (pf->runs.open && (strcmp(pf->runs.ev.u.redacted.what, what) != 0 ||
	    strcmp(pf->runs.ev.u.redacted.why, why) != 0) && (r = pf__run_flush(pf)) < 0)
		return r;
	if (!pf->runs.open) {
		event_redacted(&pf->runs.ev, ev, what, why, 0, UT_SENS_SECRET);
		pf->runs.open = true;
	}
	pf->runs.ev.u.redacted.count += count;
	pf->runs.last_ns = ev->mono_ns;
	return 0;
}

/*
 * Drops ev into a run if it must not be written: secure input redacted by
 * capture (PRIV-P4-2), keys and text of a denied window, the release of a
 * dropped press (PRIV-P4-1).  Returns 1 if dropped, 0 if ev goes on, or a
 * negative code.
 */
int
pf__route_dropped(struct privacy_filter *pf, const struct ut_event *ev)
{
	uint8_t kc;
	int r;

	switch (ev->type) {
	case UT_EV_REDACTED:
		if (strcmp(ev->u.redacted.what, "keys") != 0)
			return 0;
		/* Secure input began: the burst before it is not part of it. */
		if ((r = pf__release_burst(pf, false)) < 0)
			return r;
		r = run_add(pf, ev, "keys", ev->u.redacted.why, ev->u.redacted.count);
		return r < 0 ? r : 1;
	case UT_EV_KEY:
		kc = ev->u.key.keycode;
		if (pf->focus.denied) {
			r = run_add(pf, ev, "keys", "denied-app", ev->u.key.down ? 1 : 0);
			pf->runs.key_dropped[kc] = ev->u.key.down;
			return r < 0 ? r : 1;
		}
		if (!ev->u.key.down && pf->runs.key_dropped[kc]) {
			pf->runs.key_dropped[kc] = false;
			return 1;
		}
		if (ev->u.key.down)
			pf->runs.key_dropped[kc] = false;
		return 0;
	case UT_EV_TEXT:
		if (!pf->focus.denied)
			return 0;
		r = run_add(pf, ev, "text", "denied-app", 1);
		return r < 0 ? r : 1;
	case UT_EV_TARGET:
		/* Denied windows and secure input give no target element. */
		return pf->focus.denied || pf->password ? 1 : 0;
	default:
		return 0;
	}
}
