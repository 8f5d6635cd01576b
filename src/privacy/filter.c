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
 *      (runs.key_dropped[]), whatever the focus is by then.
 *  (7) A run (runs.open) and a burst (burst.open) are never open at once; a
 *      run is emitted before any record that arrived after it.
 *  (8) PRIV-P5-2: identity terms are matched in the same texts as the
 *      detectors (titles, typed and raw burst text) and redacted the same
 *      way; a detector span wins over an identity span it overlaps.
 *  (9) PRIV-P4-3: no FRAME record is emitted while a burst is open; when
 *      its scan found a detector span, every held frame is blacked over
 *      the burst's window before it is emitted, and that window is in
 *      pix.masks[] with the board generation from which capture blacks it, so
 *      every later frame with an older masks_gen is blacked here.  The
 *      queue owns the data of held frames (pix.bytes counts them).
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
#include "usetrace/policy.h"
#include "usetrace/privacy.h"
#include "usetrace/util.h"
#include "filter_int.h"

void
privacy_filter_destroy(struct privacy_filter *pf)
{
	if (pf == NULL)
		return;
	pf__free_frames(pf, 0);
	pf__burst_wipe(pf);
	if (pf->burst.text != NULL)
		sodium_memzero(pf->burst.text, (size_t)pf->max_text + UT_EV_TEXT_MAX +
		    PF_CTX_MAX);
	free(pf->burst.q);
	free(pf->burst.mark);
	free(pf->burst.textkey);
	free(pf->burst.raw);
	free(pf->burst.text);
	free(pf->burst.toff);
	free(pf->burst.chars);
	free(pf->burst.stack);
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
	pf->burst.hold_ns = o != NULL && o->hold_ms == UINT32_MAX ? 0 :
	    (uint64_t)(o != NULL && o->hold_ms ? o->hold_ms : PF_HOLD_MS_DEFAULT) *
	    1000000u;
	pf->policy = o != NULL ? o->policy : NULL;
	pf->pix.max_bytes = o != NULL && o->max_frame_bytes ?
	    o->max_frame_bytes : PF_FRAME_BYTES_DEFAULT;
	pf->pix.quality = o != NULL && o->frame_quality ?
	    (int)UT_MIN(o->frame_quality, 100) : 80;
	pf->pix.mask_window = o != NULL ? o->mask_window : NULL;
	pf->pix.mask_arg = o != NULL ? o->mask_arg : NULL;
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
	pf->burst.q = xreallocarray(NULL, pf->max_records, sizeof(*pf->burst.q));
	pf->burst.mark = xreallocarray(NULL, pf->max_records, sizeof(*pf->burst.mark));
	pf->burst.textkey = xcalloc(pf->max_records, sizeof(*pf->burst.textkey));
	pf->burst.raw = xmalloc(tmax);
	pf->burst.text = xmalloc(tmax + PF_CTX_MAX);
	/* A character is at least one byte and one record. */
	pf->burst.chars = xreallocarray(NULL, tmax, sizeof(*pf->burst.chars));
	pf->burst.stack = xreallocarray(NULL, tmax, sizeof(*pf->burst.stack));
	pf->burst.toff = xreallocarray(NULL, tmax, sizeof(*pf->burst.toff));
	pf__burst_wipe(pf);
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
uint8_t
pf__floor_level(const struct privacy_filter *pf, uint8_t type, uint8_t lvl)
{
	if (!pf->focus.sensitive || lvl >= UT_SENS_PERSONAL)
		return lvl;
	switch (type) {
	case UT_EV_KEY:
	case UT_EV_TEXT:
	case UT_EV_FRAME:
	case UT_EV_REDACTED:
	case UT_EV_FOCUS:
	case UT_EV_TARGET:
		return UT_SENS_PERSONAL;
	default:
		return lvl;
	}
}

/* Emits a copy of ev with its level set; the copy is wiped. */
int
pf__emit_level(struct privacy_filter *pf, const struct ut_event *ev, uint8_t lvl)
{
	struct ut_event out = *ev;
	int r;

	out.sensitivity = at_least(ev, pf__floor_level(pf, ev->type, lvl));
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
int
pf__find_spans(struct privacy_filter *pf, const char *text, size_t len,
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

	if (pf->focus.denied_shown &&
	    pf->focus.denied_last.u.focus.window == ev->u.focus.window &&
	    pf->focus.denied_last.u.focus.x == ev->u.focus.x &&
	    pf->focus.denied_last.u.focus.y == ev->u.focus.y &&
	    pf->focus.denied_last.u.focus.w == ev->u.focus.w &&
	    pf->focus.denied_last.u.focus.h == ev->u.focus.h)
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
	pf->focus.denied_last = out;
	pf->focus.denied_shown = true;
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

	n = pf__find_spans(pf, t, len, 0);
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

	if (pf->focus.denied)
		return emit_denied_focus(pf, ev);
	pf->focus.denied_shown = false;
	out = *ev;
	redact_into(pf, ev->u.focus.title, strnlen(ev->u.focus.title,
	    sizeof(ev->u.focus.title)), out.u.focus.title,
	    sizeof(out.u.focus.title), &lvl);
	out.sensitivity = at_least(ev, pf__floor_level(pf, UT_EV_FOCUS, lvl));
	r = pf->emit(pf->arg, &out);
	sodium_memzero(&out, sizeof(out));
	return r < 0 ? r : 0;
}

/*
 * TARGET: the element's name is redacted like a title (same detectors and
 * identities, "[TYPE]" placeholders) and sets the level the same way; the
 * role and the path are AT-SPI role names, the box numbers.
 */
static int
emit_target(struct privacy_filter *pf, const struct ut_event *ev)
{
	struct ut_event out = *ev;
	uint8_t lvl = UT_SENS_NONE;
	int r;

	redact_into(pf, ev->u.target.name, strnlen(ev->u.target.name,
	    sizeof(ev->u.target.name)), out.u.target.name,
	    sizeof(out.u.target.name), &lvl);
	out.sensitivity = at_least(ev, pf__floor_level(pf, UT_EV_TARGET, lvl));
	r = pf->emit(pf->arg, &out);
	sodium_memzero(&out, sizeof(out));
	return r < 0 ? r : 0;
}

/* Default level of a record passed through unchanged. */
uint8_t
pf__pass_level(const struct ut_event *ev)
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

int
pf__emit_pass(struct privacy_filter *pf, const struct ut_event *ev)
{
	if (ev->type == UT_EV_FOCUS)
		return emit_focus(pf, ev);
	if (ev->type == UT_EV_FRAME)
		return pf__emit_frame(pf, ev);
	if (ev->type == UT_EV_TARGET)
		return emit_target(pf, ev);
	return pf__emit_level(pf, ev, pf__pass_level(ev));
}

/* The focused window is denied or sensitive by the policy (FOCUS record). */
static void
focus_state(struct privacy_filter *pf, const struct ut_event *ev)
{
	const struct policy *p = pf->policy;

	/* Capture sets denied itself when apps or titles are not collected. */
	pf->focus.denied = ev->u.focus.denied || policy_window_denied(p,
	    ev->u.focus.app, ev->u.focus.instance, ev->u.focus.title);
	pf->focus.sensitive = p != NULL && !pf->focus.denied &&
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
	if (pf->burst.open && ev->mono_ns > pf->burst.last_key_ns + pf->gap_ns &&
	    (r = pf__release_burst(pf, false)) < 0)
		return drop_frame(ev, r);
	if ((r = pf__route_dropped(pf, ev)) != 0)
		return r < 0 ? drop_frame(ev, r) : 0;
	if ((r = pf__run_flush(pf)) < 0)
		return drop_frame(ev, r);
	switch (ev->type) {
	case UT_EV_KEY:
		return pf__push_key(pf, ev);
	case UT_EV_FOCUS:
		/*
		 * A new title of the same window ("*" when an editor's
		 * document is modified) does not split what is being typed,
		 * unless it makes the window denied or sensitive.
		 */
		was_denied = pf->focus.denied;
		was_sensitive = pf->focus.sensitive;
		focus_state(pf, ev);
		if (pf->burst.open && ev->u.focus.window == pf->focus.window &&
		    pf->focus.denied == was_denied && pf->focus.sensitive == was_sensitive)
			break;
		pf->focus.denied = was_denied;
		pf->focus.sensitive = was_sensitive;
		if ((r = pf__release_burst(pf, false)) < 0)
			return r;
		focus_state(pf, ev);
		break;
	case UT_EV_BUTTON:
	case UT_EV_PAUSE:
	case UT_EV_END:
		if (ev->type != UT_EV_BUTTON || ev->u.button.down) {
			if ((r = pf__release_burst(pf, false)) < 0)
				return r;
		}
		break;
	default:
		break;
	}
	if (ev->type == UT_EV_FOCUS) {
		pf->focus.window = ev->u.focus.window;
		pf->focus.x = ev->u.focus.x;
		pf->focus.y = ev->u.focus.y;
		pf->focus.w = ev->u.focus.w;
		pf->focus.h = ev->u.focus.h;
	}
	if (!pf->burst.open)
		return pf__emit_pass(pf, ev);
	pf->burst.textkey[pf__enqueue(pf, ev)] = 0;
	if (ev->type == UT_EV_FRAME)
		pf->pix.bytes += ev->u.frame.len;
	if (pf->burst.nq >= pf->max_records || pf->pix.bytes >= pf->pix.max_bytes)
		return pf__release_burst(pf, true);
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
	return pf__hold_check(pf, ev->mono_ns);
}

int
privacy_filter_tick(struct privacy_filter *pf, uint64_t now_mono_ns)
{
	if (pf == NULL)
		return UT_EINVAL;
	if (pf->burst.open && now_mono_ns > pf->burst.last_key_ns + pf->gap_ns)
		return pf__release_burst(pf, false);
	if (pf->runs.open && now_mono_ns > pf->runs.last_ns + pf->gap_ns)
		return pf__run_flush(pf);
	return pf__hold_check(pf, now_mono_ns);
}

int
privacy_filter_flush(struct privacy_filter *pf)
{
	int r;

	if (pf == NULL)
		return UT_EINVAL;
	r = pf__release_burst(pf, false);
	if (r == 0)
		r = pf__run_flush(pf);
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
	r = pf__release_burst(pf, false);
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
