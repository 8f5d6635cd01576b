/*
 * diff.c - what changed between two policies, for the person asked to
 * consent to a new version (`usetrace consent`): data categories added
 * and removed, and every setting whose value differs, one line each.
 * It reads both parsed policies and owns no state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/policy.h"

static bool
list_has(const struct policy_list *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Entries of a list added and removed; the number of lines printed. */
static unsigned
list_diff(const char *what, const struct policy_list *a,
    const struct policy_list *b, FILE *f)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < b->n; i++)
		if (!list_has(a, b->v[i])) {
			fprintf(f, "  + %s: %s\n", what, b->v[i]);
			n++;
		}
	for (i = 0; i < a->n; i++)
		if (!list_has(b, a->v[i])) {
			fprintf(f, "  - %s: %s\n", what, a->v[i]);
			n++;
		}
	return n;
}

static unsigned
num(const char *what, uint64_t a, uint64_t b, const char *unit, FILE *f)
{
	if (a == b)
		return 0;
	fprintf(f, "  ~ %s: %" PRIu64 "%s -> %" PRIu64 "%s\n", what, a, unit, b,
	    unit);
	return 1;
}

static unsigned
str(const char *what, const char *a, const char *b, FILE *f)
{
	a = a ? a : "";
	b = b ? b : "";
	if (strcmp(a, b) == 0)
		return 0;
	fprintf(f, "  ~ %s: \"%s\" -> \"%s\"\n", what, a, b);
	return 1;
}

unsigned
policy_diff_text(const struct policy *a, const struct policy *b, FILE *f)
{
	unsigned n = 0;
	uint32_t bit;

	for (bit = 1; bit < UT_CAT_ALL; bit <<= 1) {
		if ((b->categories & bit) && !(a->categories & bit)) {
			fprintf(f, "  + collected: %s (%s)\n",
			    policy_category_name(bit), policy_category_desc(bit));
			n++;
		} else if ((a->categories & bit) && !(b->categories & bit)) {
			fprintf(f, "  - no longer collected: %s\n",
			    policy_category_name(bit));
			n++;
		}
	}
	n += str("organisation", a->organisation, b->organisation, f);
	n += str("contact", a->contact, b->contact, f);
	if (b->categories & UT_CAT_FRAMES) {
		n += num("frames per second", a->frame_fps, b->frame_fps, "", f);
		n += num("frame quality", a->frame_quality, b->frame_quality, "", f);
		if (a->frame_lossless != b->frame_lossless) {
			fprintf(f, "  ~ frames: %s -> %s\n", a->frame_lossless ?
			    "lossless" : "lossy", b->frame_lossless ?
			    "lossless" : "lossy");
			n++;
		}
	}
	n += list_diff("recorded only in", &a->allow_apps, &b->allow_apps, f);
	n += list_diff("never recorded in", &a->deny_apps, &b->deny_apps, f);
	n += list_diff("sensitive application", &a->sensitive_apps,
	    &b->sensitive_apps, f);
	n += list_diff("windows never recorded, titled", &a->deny_titles,
	    &b->deny_titles, f);
	n += num("longest pause", a->pause_max_ms / 60000, b->pause_max_ms / 60000,
	    " min", f);
	n += num("retention", a->retention_days, b->retention_days, " days", f);
	n += num("highest sensitivity exported", a->export_max_sensitivity,
	    b->export_max_sensitivity, "", f);
	n += num("exports expire after", a->export_expire_days,
	    b->export_expire_days, " days", f);
	if (a->detectors_all != b->detectors_all) {
		fprintf(f, "  ~ detectors: %s -> %s\n", a->detectors_all ? "all" :
		    "a list", b->detectors_all ? "all" : "a list");
		n++;
	}
	n += list_diff("detector", &a->detectors, &b->detectors, f);
	n += num("disk budget on this device", a->spool_budget_bytes >> 20,
	    b->spool_budget_bytes >> 20, " MiB", f);
	return n;
}
