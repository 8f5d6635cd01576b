/*
 * detect.c - the detector engine: Vectorscan prefilter, PCRE2 confirmation,
 * validators, overlap resolution.  The rules themselves are in
 * detect_rules.c.
 *
 * One detect_scan() call:
 *  1. Vectorscan scans the text once for every rule and reports, per rule,
 *     the offsets where a candidate may end (it does not report starts).
 *     The digit rules (phones, cards, national ids) and the gated rules
 *     (IBAN, IPv6, two national ids, user:pass@ in URLs) are in a second
 *     database that is scanned only on the windows of the digit pass
 *     (detect_digits.c) and the gate pass (detect_gates.c): literal-free
 *     patterns over every byte were most of the scanning cost.
 *  2. For each hit the rule's PCRE2 code is run in a window around it
 *     (detect_int.h, R1) to confirm the match and find its start; its
 *     capture group 1, when present, narrows the span to the value.
 *  3. The rule's validator (Luhn, mod-97, CRC32, entropy, placeholders...)
 *     accepts, narrows or rejects the span.
 *  4. Overlapping candidates are resolved by type priority, then length.
 *
 * Invariants:
 *  (1) Per rule, hits at or before the end of the last confirmed match are
 *      skipped, so a long match costs one PCRE2 call, not one per hit.
 *  (2) A hit never makes PCRE2 look before `next[rule]` or further than the
 *      rule's window after the hit, so the work per hit is bounded.
 *  (3) Output spans are sorted and disjoint.
 *  (4) Nothing from the text is logged or kept after the call except the
 *      span offsets.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "detect_int.h"

#define DETECT_RULES_MAX 256
#define DETECT_CAND_MAX (1u << 22)
#define DETECT_LOOKAROUND 16	/* bytes beyond a window for lookaheads */
#define DETECT_MATCH_LIMIT 200000

struct detect_set {
	hs_database_t *db;	/* every rule but the digit rules */
	hs_database_t *ddb;	/* the digit and gated rules, for the windows */
	pcre2_code *re[DETECT_RULES_MAX];
	bool jit[DETECT_RULES_MAX];	/* re[i] is JIT-compiled */
	const struct detect_rule *rule[DETECT_RULES_MAX]; /* all tables, in order */
	size_t nrules;
};

struct cand {
	size_t s, e;
	int prio;
	enum detect_type type;
};

struct detect {
	const struct detect_set *set;
	hs_scratch_t *scratch;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	struct cand *c;
	size_t nc, allocc;
	struct detect_span *out;
	size_t nout, allocout;
	size_t next[DETECT_RULES_MAX];
	/* Per call. */
	const char *text;
	size_t len;
	int err;
	/*
	 * The windows of this call (digit and gate passes, sorted and merged),
	 * copied one after another with a '\n' between them (no anchor of a
	 * digit or gated rule matches a '\n', so no match spans two windows)
	 * and scanned in one hs_scan call instead of one per window (1.5 %
	 * fewer instructions on secret-dense text).  win[k] = { offset in
	 * dbuf, offset in the text, length }.  Wiped after each call
	 * (invariant 4).
	 */
	char *dbuf;
	size_t ndbuf, allocdbuf;
	struct dwin {
		size_t at, from, n;
	} *win;
	size_t nwin, allocwin;
};

static const char *const type_names[] = {
#define DETECT_TYPE_STR(name) #name,
	DETECT_TYPE_MAP(DETECT_TYPE_STR)
#undef DETECT_TYPE_STR
};

const char *
detect_type_name(enum detect_type t)
{
	if ((unsigned)t >= DETECT_TYPE_COUNT)
		return "UNKNOWN";
	return type_names[t];
}

int
detect_type_from_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < DETECT_TYPE_COUNT; i++)
		if (strcmp(name, type_names[i]) == 0)
			return (int)i;
	return -1;
}

bool
detect_type_is_secret(enum detect_type t)
{
	switch (t) {
	case DETECT_EMAIL:
	case DETECT_PHONE:
	case DETECT_IP_ADDRESS:
	case DETECT_IBAN:
		return false;
	default:
		return true;
	}
}

void
detect_set_destroy(struct detect_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	hs_free_database(set->db);
	hs_free_database(set->ddb);
	for (i = 0; i < set->nrules; i++)
		pcre2_code_free(set->re[i]);
	free(set);
}

int
detect_set_create(struct detect_set **out)
{
	const char *hsre[2][DETECT_RULES_MAX];
	unsigned flags[2][DETECT_RULES_MAX], ids[2][DETECT_RULES_MAX], nhs[2] = { 0 };
	bool digit[DETECT_RULES_MAX];
	struct detect_set *set;
	hs_compile_error_t *cerr = NULL;
	PCRE2_SIZE eoff;
	size_t i;
	uint32_t lb;
	int r = UT_EINVAL, ec;

	const struct {
		const struct detect_rule *r;
		size_t n;
		bool digit;
	} tabs[] = {
		{ detect__rules, detect__nrules, false },
		{ detect__vendor_rules, detect__nvendor_rules, false },
		{ detect__context_rules, detect__ncontext_rules, false },
		{ detect__pii_rules, detect__npii_rules, false },
		{ detect__digit_rules, detect__ndigit_rules, true },
		{ detect__pii_digit_rules, detect__npii_digit_rules, true },
	};
	size_t total = 0, k, j;
	hs_database_t **dbs[2];

	set = xcalloc(1, sizeof(*set));
	for (k = 0; k < UT_ARRAY_LEN(tabs); k++) {
		for (j = 0; j < tabs[k].n; j++) {
			UT_ASSERT(total < DETECT_RULES_MAX);
			digit[total] = tabs[k].digit;
			set->rule[total++] = &tabs[k].r[j];
		}
	}
	for (i = 0; i < total; i++) {
		const struct detect_rule *ru = set->rule[i];

		set->re[i] = pcre2_compile((PCRE2_SPTR)ru->re, PCRE2_ZERO_TERMINATED,
		    PCRE2_USE_OFFSET_LIMIT, &ec, &eoff, NULL);
		set->nrules = i + 1;
		if (set->re[i] == NULL) {
			log_error("detect: rule %zu: PCRE2 error %d at %zu", i, ec,
			    (size_t)eoff);
			goto out;
		}
		/* JIT is an optimisation; the interpreter is the fallback. */
		set->jit[i] = pcre2_jit_compile(set->re[i], PCRE2_JIT_COMPLETE) == 0;
		k = digit[i] || detect__gated(ru);
		hsre[k][nhs[k]] = ru->hs != NULL ? ru->hs : ru->re;
		flags[k][nhs[k]] = ru->hs != NULL ? 0 : HS_FLAG_PREFILTER;
		ids[k][nhs[k]++] = (unsigned)i;
		if (pcre2_pattern_info(set->re[i], PCRE2_INFO_MAXLOOKBEHIND, &lb) != 0 ||
		    lb > DETECT_LOOKBEHIND_MAX) {
			log_error("detect: rule %zu looks behind too far", i);
			goto out;
		}
	}
	dbs[0] = &set->db;
	dbs[1] = &set->ddb;
	for (k = 0; k < 2; k++) {
		if (hs_compile_multi(hsre[k], flags[k], ids[k], nhs[k],
		    HS_MODE_BLOCK, NULL, dbs[k], &cerr) != HS_SUCCESS) {
			log_error("detect: rule %d: Vectorscan: %s",
			    cerr != NULL && cerr->expression >= 0 ?
			    (int)ids[k][cerr->expression] : -1,
			    cerr != NULL ? cerr->message : "?");
			hs_free_compile_error(cerr);
			goto out;
		}
	}
	*out = set;
	set = NULL;
	r = 0;
out:
	detect_set_destroy(set);
	return r;
}

void
detect_destroy(struct detect *d)
{
	if (d == NULL)
		return;
	hs_free_scratch(d->scratch);
	pcre2_match_data_free(d->md);
	pcre2_match_context_free(d->mctx);
	if (d->c != NULL)
		sodium_memzero(d->c, d->allocc * sizeof(*d->c));
	free(d->c);
	if (d->out != NULL)
		sodium_memzero(d->out, d->allocout * sizeof(*d->out));
	free(d->out);
	if (d->dbuf != NULL)
		sodium_memzero(d->dbuf, d->allocdbuf);
	free(d->dbuf);
	free(d->win);
	sodium_memzero(d, sizeof(*d));
	free(d);
}

int
detect_create(const struct detect_set *set, struct detect **out)
{
	struct detect *d;
	int r = UT_EINVAL;

	if (set == NULL || out == NULL)
		return UT_EINVAL;
	d = xcalloc(1, sizeof(*d));
	d->set = set;
	/* One scratch serves both databases (it is grown for the larger). */
	if (hs_alloc_scratch(set->db, &d->scratch) != HS_SUCCESS ||
	    hs_alloc_scratch(set->ddb, &d->scratch) != HS_SUCCESS)
		goto out;
	d->md = pcre2_match_data_create(4, NULL);
	d->mctx = pcre2_match_context_create(NULL);
	if (d->md == NULL || d->mctx == NULL) {
		r = -ENOMEM;
		goto out;
	}
	pcre2_set_match_limit(d->mctx, DETECT_MATCH_LIMIT);
	*out = d;
	d = NULL;
	r = 0;
out:
	detect_destroy(d);
	return r;
}

static int
add_cand(struct detect *d, size_t s, size_t e, enum detect_type type)
{
	if (d->nc == d->allocc) {
		if (d->allocc >= DETECT_CAND_MAX)
			return UT_ETOOBIG;
		d->allocc = d->allocc ? d->allocc * 2 : 64;
		d->c = xreallocarray(d->c, d->allocc, sizeof(*d->c));
	}
	d->c[d->nc].s = s;
	d->c[d->nc].e = e;
	d->c[d->nc].type = type;
	d->c[d->nc].prio = detect__priority(type);
	d->nc++;
	return 0;
}

/* [A-Za-z0-9_-+/=.~]: a value byte of the keyword rules. */
static const bool value_tab[256] = {
	['_'] = 1, ['-'] = 1, ['+'] = 1, ['/'] = 1, ['='] = 1, ['.'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/*
 * The keyword rules of detect__v_generic (a secret keyword or "bearer",
 * then a value of 16 or more of [A-Za-z0-9_-+/=.~]) can only match if such
 * a run of 16 starts within GENERIC_BEFORE bytes before the hit's end or
 * GENERIC_AFTER after it: the keyword starts at most `back` (24) before the
 * hit, is at least 3 and at most 13 bytes long, and the suffix, quote and
 * separator before the value take at most 33.  "key", "token" and "secret"
 * in prose are followed by ordinary words, so this check saves a PCRE2
 * call on almost every hit there.
 */
#define GENERIC_BEFORE 21
#define GENERIC_AFTER (13 + 33)
#define GENERIC_VALUE_MIN 16

static bool
generic_may_match(const char *t, size_t len, size_t h)
{
	size_t i = h > GENERIC_BEFORE ? h - GENERIC_BEFORE : 0, k;

	/* Does a run of GENERIC_VALUE_MIN value bytes start at i <= h + AFTER? */
	while (i <= h + GENERIC_AFTER && i + GENERIC_VALUE_MIN <= len) {
		/* Look at the run's last byte first, then backwards. */
		for (k = i + GENERIC_VALUE_MIN; k > i &&
		    value_tab[(unsigned char)t[k - 1]]; k--)
			;
		if (k == i)
			return true;
		i = k; /* t[k - 1] is not a value byte: no run starts before k */
	}
	return false;
}

/* Vectorscan match callback: confirm the hit with PCRE2 (see the top). */
static int
on_hit(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	struct detect *d = ctx;
	const struct detect_rule *ru = d->set->rule[id];
	PCRE2_SIZE *ov;
	size_t h = (size_t)to, ws, lim, ms, me, s, e;
	int rc;

	(void)from;
	(void)flags;
	if (h < d->next[id])
		return 0;
	if (ru->valid == detect__v_generic && !generic_may_match(d->text, d->len, h)) {
		d->next[id] = h + 1;
		return 0;
	}
	ws = h > ru->back ? h - ru->back : 0;
	if (ws < d->next[id])
		ws = d->next[id];
	lim = UT_MIN(d->len, h + ru->fwd + DETECT_LOOKAROUND);
	/* Matches starting after h belong to a later hit: do not look for them. */
	pcre2_set_offset_limit(d->mctx, h);
	while (ws <= lim && ws <= h) {
		/*
		 * The JIT entry point skips pcre2_match()'s checks of its
		 * arguments (which hold here: ws <= lim <= len): the same
		 * match, ~170 instructions less per call.
		 */
		if (d->set->jit[id])
			rc = pcre2_jit_match(d->set->re[id], (PCRE2_SPTR)d->text,
			    lim, ws, 0, d->md, d->mctx);
		else
			rc = pcre2_match(d->set->re[id], (PCRE2_SPTR)d->text, lim,
			    ws, 0, d->md, d->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			/* Match limit or similar: fail closed, the caller redacts. */
			d->err = UT_ETOOBIG;
			return 1;
		}
		ov = pcre2_get_ovector_pointer(d->md);
		ms = ov[0];
		me = ov[1];
		if (ms > h)
			break;
		s = ms;
		e = me;
		if (rc >= 2 && ov[2] != PCRE2_UNSET) {
			s = ov[2];
			e = ov[3];
		}
		if (e > s && (ru->valid == NULL || ru->valid(d->text, d->len, &s, &e)) &&
		    e > s) {
			if ((d->err = add_cand(d, s, e, ru->type)) < 0)
				return 1;
		}
		d->next[id] = me > ms ? me : ms + 1;
		ws = d->next[id];
	}
	if (d->next[id] <= h)
		d->next[id] = h + 1;
	return 0;
}

/* A hit in the window buffer: map its end back to the text. */
static int
on_digit_hit(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	struct detect *d = ctx;
	size_t lo = 0, hi = d->nwin, mid, end = (size_t)to;

	(void)from;
	/* The last window starting before the hit's last byte holds it. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (d->win[mid].at < end)
			lo = mid;
		else
			hi = mid;
	}
	if (d->nwin == 0 || end < d->win[lo].at || end > d->win[lo].at + d->win[lo].n)
		return 0; /* cannot happen: no anchor matches the '\n' */
	return on_hit(id, 0, end - d->win[lo].at + d->win[lo].from, flags, ctx);
}

/* Notes the window [s, e) of the text (either pass; merged later). */
static int
note_window(void *ctx, size_t s, size_t e)
{
	struct detect *d = ctx;

	if (d->nwin == d->allocwin) {
		if (d->allocwin >= DETECT_CAND_MAX)
			return UT_ETOOBIG;
		d->allocwin = d->allocwin ? d->allocwin * 2 : 64;
		d->win = xreallocarray(d->win, d->allocwin, sizeof(*d->win));
	}
	d->win[d->nwin].from = s;
	d->win[d->nwin].n = e - s;
	d->nwin++;
	return 0;
}

static int
win_cmp(const void *a, const void *b)
{
	const struct dwin *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

/*
 * Sorts the noted windows by start, merges those that overlap or touch (a
 * match may cross the point where they meet), and copies them into the
 * window buffer.
 */
static void
fill_windows(struct detect *d)
{
	size_t i, n = 0, need = 0, e;

	for (i = 1; i < d->nwin && d->win[i - 1].from <= d->win[i].from; i++)
		;
	if (i < d->nwin)
		qsort(d->win, d->nwin, sizeof(*d->win), win_cmp);
	for (i = 0; i < d->nwin; i++) {
		e = d->win[i].from + d->win[i].n;
		if (n > 0 && d->win[i].from <= d->win[n - 1].from + d->win[n - 1].n) {
			if (e > d->win[n - 1].from + d->win[n - 1].n)
				d->win[n - 1].n = e - d->win[n - 1].from;
			continue;
		}
		d->win[n++] = d->win[i];
	}
	d->nwin = n;
	for (i = 0; i < n; i++)
		need += d->win[i].n + 1;
	if (need > d->allocdbuf) {
		if (d->dbuf != NULL) /* holds nothing: wiped after each call */
			free(d->dbuf);
		d->allocdbuf = UT_MAX(need, d->allocdbuf * 2);
		d->dbuf = xreallocarray(NULL, d->allocdbuf, 1);
	}
	for (i = 0; i < n; i++) {
		if (d->ndbuf > 0)
			d->dbuf[d->ndbuf++] = '\n';
		d->win[i].at = d->ndbuf;
		memcpy(d->dbuf + d->ndbuf, d->text + d->win[i].from, d->win[i].n);
		d->ndbuf += d->win[i].n;
	}
}

/*
 * The digit and gated rules, on the windows of the digit pass
 * (detect_digits.c) and the gate pass (detect_gates.c).
 */
static int
scan_windows(struct detect *d)
{
	int r = 0;

	d->ndbuf = 0;
	d->nwin = 0;
	if ((r = detect__digit_windows(d->text, d->len, note_window, d)) < 0 ||
	    (r = detect__gate_windows(d->text, d->len, note_window, d)) < 0 ||
	    d->nwin == 0)
		goto out;
	fill_windows(d);
	if (hs_scan(d->set->ddb, d->dbuf, (unsigned)d->ndbuf, 0, d->scratch,
	    on_digit_hit, d) != HS_SUCCESS)
		r = d->err < 0 ? d->err : UT_EINVAL;
out:
	if (d->ndbuf > 0)
		sodium_memzero(d->dbuf, d->ndbuf);
	d->ndbuf = 0;
	return r;
}

static int
add_standalone(void *ctx, size_t s, size_t e)
{
	return add_cand(ctx, s, e, DETECT_GENERIC_SECRET);
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->e != y->e)
		return x->e > y->e ? -1 : 1;
	return (int)x->type - (int)y->type;
}

static bool
better(const struct cand *a, const struct cand *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return a->e - a->s >= b->e - b->s;
}

/*
 * Keeps a disjoint subset of the candidates (sorted by start): the stack
 * holds accepted spans; a new candidate displaces the overlapping tail of
 * the stack only if it beats every span in it.
 */
static void
resolve(struct detect *d)
{
	size_t i, k, top = 0;
	struct cand *st = d->c; /* in place: top <= i */

	if (d->nc == 0)
		return; /* d->c may be NULL: qsort wants a valid pointer */
	/*
	 * cand_cmp orders by every field, so any sort gives the same array.
	 * A 4 KiB chunk has a few candidates, nearly in order: insertion sort
	 * there (glibc's qsort is a merge sort that may allocate per call).
	 */
	if (d->nc <= 32) {
		for (i = 1; i < d->nc; i++) {
			struct cand c = d->c[i];

			for (k = i; k > 0 && cand_cmp(&d->c[k - 1], &c) > 0; k--)
				d->c[k] = d->c[k - 1];
			d->c[k] = c;
		}
	} else {
		qsort(d->c, d->nc, sizeof(*d->c), cand_cmp);
	}
	for (i = 0; i < d->nc; i++) {
		struct cand c = d->c[i];

		k = top;
		while (k > 0 && st[k - 1].e > c.s && !better(&st[k - 1], &c))
			k--;
		if (k > 0 && st[k - 1].e > c.s)
			continue; /* loses to an accepted span */
		st[k] = c;
		top = k + 1;
	}
	d->nc = top;
}

int
detect_scan(struct detect *d, const char *text, size_t len, unsigned flags,
    const struct detect_span **spans)
{
	size_t i;
	int r;

	if (d == NULL || spans == NULL || (text == NULL && len > 0))
		return UT_EINVAL;
	if (len > DETECT_TEXT_MAX)
		return UT_ETOOBIG;
	d->nc = 0;
	d->err = 0;
	d->text = text;
	d->len = len;
	memset(d->next, 0, sizeof(d->next));
	if (flags & DETECT_F_PASSWORD) {
		if (len > 0 && (r = add_cand(d, 0, len, DETECT_PASSWORD)) < 0)
			goto out;
	} else if (len > 0) {
		if (hs_scan(d->set->db, text, (unsigned)len, 0, d->scratch, on_hit,
		    d) != HS_SUCCESS && d->err == 0) {
			r = UT_EINVAL;
			goto out;
		}
		if ((r = d->err) < 0)
			goto out;
		if ((r = scan_windows(d)) < 0)
			goto out;
		if ((r = detect__standalone(text, len, add_standalone, d)) < 0)
			goto out;
	}
	resolve(d);
	if (d->nc > d->allocout) {
		if (d->out != NULL)
			sodium_memzero(d->out, d->allocout * sizeof(*d->out));
		free(d->out);
		d->allocout = d->nc;
		d->out = xreallocarray(NULL, d->allocout, sizeof(*d->out));
	}
	for (i = 0; i < d->nc; i++) {
		d->out[i].start = d->c[i].s;
		d->out[i].end = d->c[i].e;
		d->out[i].type = d->c[i].type;
	}
	d->nout = d->nc;
	*spans = d->out;
	r = (int)d->nout;
out:
	d->text = NULL;
	d->len = 0;
	return r;
}

/* The earliest start of a partial match of rule id in text, or len. */
static size_t
reach_rule(struct detect *d, size_t id, const char *text, size_t len)
{
	PCRE2_SIZE *ov;
	size_t off = 0;
	int rc;

	while (off <= len) {
		rc = pcre2_match(d->set->re[id], (PCRE2_SPTR)text, len, off,
		    PCRE2_PARTIAL_HARD, d->md, d->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			return len;
		if (rc != PCRE2_ERROR_PARTIAL && rc < 0)
			return 0; /* match limit: fail closed */
		ov = pcre2_get_ovector_pointer(d->md);
		if (rc == PCRE2_ERROR_PARTIAL)
			return ov[0];
		/* A complete match that ends before len stays as it is. */
		off = ov[0] + 1;
	}
	return len;
}

size_t
detect_reach(struct detect *d, const char *text, size_t len)
{
	size_t i, best = len;

	if (d == NULL || (text == NULL && len > 0) || len > DETECT_TEXT_MAX)
		return 0;
	pcre2_set_offset_limit(d->mctx, PCRE2_UNSET);
	for (i = 0; i < d->set->nrules && best > 0; i++)
		best = UT_MIN(best, reach_rule(d, i, text, len));
	return best;
}
