/*
 * ut-keyagree DIR - checks that the privacy filter and the action reducer
 * agree, on every key press of a recording, whether it is typing (issue
 * 16: two rules that disagree let typed text fall outside the burst the
 * filter scans).  tests/e2e/lib.sh runs it on the recording of every e2e
 * session when the recorder stops.
 *
 * The filter's verdict is read from its behaviour alone: with no burst
 * open (flushed before each press), a press that is not typing is emitted
 * at once, a typing press is held to be scanned.  The reducer's verdict:
 * the press belongs to a "type" action.  Modifier keys (X11 IsModifierKey)
 * are left out: the reducer attaches a Shift press to the text it shifts,
 * and neither counts it as text.  A press the reducer attached to no
 * action (forced out) is left out too.
 *
 * Prints each disagreement (seq, keysym, state, the two verdicts; never
 * the text) and exits 1 if there was one; 0 when they agree or DIR holds
 * no recording; 2 on usage or read errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/action.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/privacy.h"
#include "usetrace/spool.h"
#include "cli_int.h"

struct press {
	uint64_t seq;
	uint32_t keysym;
	uint16_t state;
	int8_t filter_typing;	/* 1 held by the filter, 0 emitted at once */
	int8_t reducer_typing;	/* 1 type action, 0 other, -1 none */
};

struct agree {
	struct press *p;
	size_t n, cap;
	uint64_t emitted_seq;	/* seq the filter emitted during the push */
	int emitted;
};

static int
is_modifier(uint32_t ks)
{
	return (ks >= 0xffe1u && ks <= 0xffeeu) ||	/* Shift_L .. Hyper_R */
	    (ks >= 0xfe01u && ks <= 0xfe13u) ||		/* ISO_Lock .. ISO_Level5_Lock */
	    ks == 0xff7eu || ks == 0xff7fu;		/* Mode_switch, Num_Lock */
}

static int
on_emit(void *arg, const struct ut_event *ev)
{
	struct agree *a = arg;

	if (ev->seq == a->emitted_seq)
		a->emitted = 1;
	return 0;
}

static struct press *
find(struct agree *a, uint64_t seq)
{
	size_t lo = 0, hi = a->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (a->p[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->n && a->p[lo].seq == seq ? &a->p[lo] : NULL;
}

static int
on_action(const struct ut_action *act, void *arg)
{
	struct agree *a = arg;
	struct press *p;
	uint64_t s;
	size_t i;

	for (i = 0; i < act->nseqs; i++) {
		for (s = act->seqs[i].first; s <= act->seqs[i].last; s++) {
			if ((p = find(a, s)) != NULL)
				p->reducer_typing = act->kind == UT_ACT_TYPE;
		}
	}
	return 0;
}

static int
cmp_seq(const void *x, const void *y)
{
	const struct press *a = x, *b = y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int
main(int argc, char **argv)
{
	struct spool_reader *rd = NULL;
	struct ut_recipient_key *rk = NULL;
	struct privacy_filter *pf = NULL;
	struct action_reducer *ar = NULL;
	struct agree a;
	struct ut_event ev;
	size_t i, nbad = 0, ncmp = 0;
	int r, status = 2;

	memset(&a, 0, sizeof(a));
	if (argc != 2) {
		fprintf(stderr, "usage: ut-keyagree DIR\n");
		return 2;
	}
	r = cli_open_recording("ut-keyagree", argv[1], NULL, &rd, &rk);
	if (r == UT_ENOTFOUND)
		return 0;
	if (r < 0)
		return 2;
	pf = privacy_filter_create(NULL, on_emit, &a);
	ar = action_reducer_create(NULL, on_action, &a);
	if (pf == NULL || ar == NULL)
		goto out;
	/*
	 * The reducer sees the whole recording; the filter each key press on
	 * its own (its burst flushed first).  An action is delivered after
	 * its records were pushed, so its presses are in a.p by then, in seq
	 * order.
	 */
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0)
			continue; /* intact records go on (as `usetrace show`) */
		if (ev.type == UT_EV_KEY && ev.u.key.down &&
		    !is_modifier(ev.u.key.keysym)) {
			if (a.n == a.cap) {
				struct press *np;

				a.cap = a.cap ? a.cap * 2 : 1024;
				if ((np = realloc(a.p, a.cap * sizeof(*np))) == NULL)
					goto out;
				a.p = np;
			}
			if (privacy_filter_flush(pf) < 0)
				goto out;
			a.emitted = 0;
			a.emitted_seq = ev.seq;
			if (privacy_filter_push(pf, &ev) < 0)
				goto out;
			a.p[a.n].filter_typing = !a.emitted;
			a.p[a.n].seq = ev.seq;
			a.p[a.n].keysym = ev.u.key.keysym;
			a.p[a.n].state = ev.u.key.state;
			a.p[a.n].reducer_typing = -1;
			a.n++;
		}
		if (action_reducer_push(ar, &ev) != 0)
			goto out;
	}
	if (action_reducer_finish(ar) != 0)
		goto out;
	if (a.n > 0) /* a.p is NULL when no key was pressed */
		qsort(a.p, a.n, sizeof(*a.p), cmp_seq); /* already in order */
	for (i = 0; i < a.n; i++) {
		if (a.p[i].reducer_typing < 0)
			continue;
		ncmp++;
		if (a.p[i].reducer_typing == a.p[i].filter_typing)
			continue;
		nbad++;
		printf("disagree seq %llu keysym 0x%x state 0x%x: filter %s, "
		    "reducer %s\n", (unsigned long long)a.p[i].seq,
		    a.p[i].keysym, a.p[i].state,
		    a.p[i].filter_typing ? "typing" : "not typing",
		    a.p[i].reducer_typing ? "typing" : "not typing");
	}
	printf("ut-keyagree: %zu key presses compared, %zu disagree\n", ncmp,
	    nbad);
	status = nbad > 0 ? 1 : 0;
out:
	privacy_filter_destroy(pf);
	action_reducer_destroy(ar);
	spool_reader_close(rd);
	keys_recipient_free(rk);
	free(a.p);
	return status;
}
