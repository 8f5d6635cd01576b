/*
 * notice.c - the notice for the people recorded, generated from the parsed
 * policy, as plain text and as HTML.  Each collected category is one line
 * "  [name] description" in the WHAT IS COLLECTED section, so tests (and
 * people) can check the notice against the policy.
 */
#include <inttypes.h>
#include <string.h>

#include "usetrace/policy.h"
#include "usetrace/util.h"

static const uint32_t all_cats[] = { UT_CAT_KEYS, UT_CAT_TEXT, UT_CAT_POINTER,
	UT_CAT_APPS, UT_CAT_TITLES, UT_CAT_FRAMES, UT_CAT_TARGETS };

static void
join(FILE *f, const struct policy_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		fprintf(f, "%s%s", i ? ", " : "", l->v[i]);
}

static void
fmt_duration(char *out, size_t n, uint64_t ms)
{
	if (ms % 3600000 == 0)
		snprintf(out, n, "%" PRIu64 " hour%s", ms / 3600000, ms == 3600000 ? "" : "s");
	else if (ms % 60000 == 0)
		snprintf(out, n, "%" PRIu64 " minutes", ms / 60000);
	else
		snprintf(out, n, "%" PRIu64 " seconds", ms / 1000);
}

void
policy_notice_text(const struct policy *p, FILE *f)
{
	char pause[32];
	size_t i;

	fmt_duration(pause, sizeof(pause), p->pause_max_ms);
	fprintf(f, "USETRACE RECORDING NOTICE\n\n"
	    "Organisation:   %s\n"
	    "Contact:        %s\n"
	    "Policy version: %" PRIu32 " (fingerprint %.16s)\n\n"
	    "usetrace records how you use this computer so that AI agents can\n"
	    "learn to operate software. It records only with your consent to this\n"
	    "version of the policy, it is never hidden (a visible indicator shows\n"
	    "whether it is recording), and you can pause it at any time.\n\n",
	    p->organisation, p->contact, p->version, p->hash_hex);

	fprintf(f, "WHAT IS COLLECTED\n");
	for (i = 0; i < UT_ARRAY_LEN(all_cats); i++)
		if (p->categories & all_cats[i])
			fprintf(f, "  [%s] %s\n", policy_category_name(all_cats[i]),
			    policy_category_desc(all_cats[i]));
	if (p->categories & UT_CAT_FRAMES)
		fprintf(f, "  Screen images are taken at most %" PRIu32
		    " per second while the screen changes, and before each action.\n",
		    p->frame_fps);

	fprintf(f, "\nWHAT IS NEVER COLLECTED\n");
	for (i = 0; i < UT_ARRAY_LEN(all_cats); i++)
		if (!(p->categories & all_cats[i]))
			fprintf(f, "  (not collected) %s\n",
			    policy_category_desc(all_cats[i]));
	if (p->deny_apps.n > 0) {
		fprintf(f, "  - Anything from these applications: ");
		join(f, &p->deny_apps);
		fprintf(f, ".\n");
	}
	if (p->allow_apps.n > 0) {
		fprintf(f, "  - Anything from applications other than: ");
		join(f, &p->allow_apps);
		fprintf(f, ".\n");
	}
	if (p->deny_titles.n > 0) {
		fprintf(f, "  - Anything from windows whose title matches: ");
		join(f, &p->deny_titles);
		fprintf(f, ".\n");
	}
	fprintf(f, "  - What you type into password fields and other secure input.\n"
	    "  - Secrets and personal data found in typed text and titles (");
	if (p->detectors_all)
		fprintf(f, "all detectors");
	else
		join(f, &p->detectors);
	fprintf(f, "): they are replaced by placeholders on this computer, before\n"
	    "    anything is written.\n"
	    "  - Anything while recording is paused, or without your consent.\n");

	fprintf(f, "\nWHO CAN SEE IT\n"
	    "  - You: everything recorded about you.\n"
	    "  - Reviewers: only redacted recordings assigned to them for review.\n"
	    "  - Trainers: only approved, pseudonymised data of sensitivity %u or\n"
	    "    lower (1 no content, 2 content, 3 personal data, 4 secret).\n"
	    "  - Administrators and auditors: no recorded content.\n"
	    "  Every read of recorded data is written to a tamper-evident audit log.\n",
	    p->export_max_sensitivity);
	if (p->sensitive_apps.n > 0) {
		fprintf(f, "  Content from these applications is marked sensitive (level 3): ");
		join(f, &p->sensitive_apps);
		fprintf(f, ".\n");
	}

	fprintf(f, "\nHOW LONG IT IS KEPT\n"
	    "  %" PRIu32 " days. Then its keys are destroyed and it becomes unreadable,\n"
	    "  including in backups. Everything is stored encrypted.\n",
	    p->retention_days);
	fprintf(f, "  Exports made from your data for training are copies outside those\n"
	    "  keys: your erasure cannot recall or reach them. They expire after\n"
	    "  %" PRIu32 " days; until then trainers must check them against\n"
	    "  erasures before each use.\n",
	    p->export_expire_days);

	fprintf(f, "\nHOW TO PAUSE, SEE AND ERASE\n"
	    "  - Pause:    usetrace pause [DURATION]   (default and maximum %s;\n"
	    "              recording resumes by itself), or click the indicator.\n"
	    "  - Resume:   usetrace resume\n"
	    "  - Status:   usetrace status\n"
	    "  - See:      usetrace show RECORDING\n"
	    "  - Erase:    ask for erasure on the usetrace server page, or contact %s.\n"
	    "  - Withdraw: usetrace consent --withdraw   (stops recording at once)\n",
	    pause, p->contact);
}

static void
html_esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

static void
html_list(FILE *f, const struct policy_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		fputs(i ? ", <code>" : "<code>", f);
		html_esc(f, l->v[i]);
		fputs("</code>", f);
	}
}

void
policy_notice_html(const struct policy *p, FILE *f)
{
	char pause[32];
	size_t i;

	fmt_duration(pause, sizeof(pause), p->pause_max_ms);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>usetrace recording notice</title></head><body>\n"
	    "<h1>usetrace recording notice</h1>\n<p>Organisation: ", f);
	html_esc(f, p->organisation);
	fputs("<br>Contact: ", f);
	html_esc(f, p->contact);
	fprintf(f, "<br>Policy version %" PRIu32 " (fingerprint <code>%.16s</code>)</p>\n",
	    p->version, p->hash_hex);
	fputs("<p>usetrace records how you use this computer so that AI agents can "
	    "learn to operate software. It records only with your consent to this "
	    "version of the policy, it is never hidden, and you can pause it at any "
	    "time.</p>\n<h2>What is collected</h2>\n<ul>\n", f);
	for (i = 0; i < UT_ARRAY_LEN(all_cats); i++)
		if (p->categories & all_cats[i])
			fprintf(f, "<li data-category=\"%s\">%s</li>\n",
			    policy_category_name(all_cats[i]),
			    policy_category_desc(all_cats[i]));
	fputs("</ul>\n<h2>What is never collected</h2>\n<ul>\n", f);
	for (i = 0; i < UT_ARRAY_LEN(all_cats); i++)
		if (!(p->categories & all_cats[i]))
			fprintf(f, "<li>(not collected) %s</li>\n",
			    policy_category_desc(all_cats[i]));
	if (p->deny_apps.n > 0) {
		fputs("<li>Anything from these applications: ", f);
		html_list(f, &p->deny_apps);
		fputs("</li>\n", f);
	}
	if (p->deny_titles.n > 0) {
		fputs("<li>Anything from windows whose title matches: ", f);
		html_list(f, &p->deny_titles);
		fputs("</li>\n", f);
	}
	fputs("<li>What you type into password fields and other secure input.</li>\n"
	    "<li>Secrets and personal data in typed text and titles: replaced by "
	    "placeholders on this computer before anything is written.</li>\n"
	    "<li>Anything while recording is paused, or without your consent.</li>\n"
	    "</ul>\n<h2>Who can see it</h2>\n<ul>\n"
	    "<li>You: everything recorded about you.</li>\n"
	    "<li>Reviewers: only redacted recordings assigned to them.</li>\n", f);
	fprintf(f, "<li>Trainers: only approved, pseudonymised data of sensitivity "
	    "%u or lower.</li>\n", p->export_max_sensitivity);
	fprintf(f, "<li>Administrators and auditors: no recorded content. Every read "
	    "is written to a tamper-evident audit log.</li>\n</ul>\n"
	    "<h2>How long it is kept</h2>\n<p>%" PRIu32 " days; then its keys are "
	    "destroyed, including in backups.</p>\n<p>Exports made from your data "
	    "for training are copies outside those keys: your erasure cannot recall "
	    "or reach them. They expire after %" PRIu32 " days; until then trainers "
	    "must check them against erasures before each use.</p>\n"
	    "<h2>How to pause, see and erase</h2>\n<ul>\n"
	    "<li>Pause: <code>usetrace pause [DURATION]</code> (at most %s) or click "
	    "the indicator.</li>\n<li>See: <code>usetrace show</code>.</li>\n"
	    "<li>Withdraw consent: <code>usetrace consent --withdraw</code>.</li>\n"
	    "</ul>\n</body></html>\n", p->retention_days, p->export_expire_days,
	    pause);
}
