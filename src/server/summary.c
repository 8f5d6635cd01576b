/*
 * summary.c - the content summary of one segment, computed at ingest from
 * its decrypted records: applications and window titles seen, counts of
 * records, actions, redactions and stored screen frames, and the highest
 * sensitivity.  It is derived from content, so it is stored only sealed
 * under the day key (DESIGN: the database holds no content) and decrypted
 * for its owner when listed.
 *
 * Issue 13 (the page's day view) adds, from the same records at ingest:
 *  - active_ms: time with input (key, button, motion, scroll), summed over
 *    the gaps between consecutive input records no longer than
 *    SUM_ACTIVE_GAP_NS; app_active_ms: that time per application, in the
 *    order of "apps" (the application focused at the later record; a
 *    denied application counts as "denied").
 *  - redaction_types: {why: count} of the REDACTED records ("password-field",
 *    "CREDIT_CARD", "denied-app", ...; at most SUM_TYPES, the rest "other").
 *  - blacked_frames: stored frames the records say were blacked out: those
 *    grabbed while a denied application had the focus (its window is
 *    blacked out of every frame), plus REDACTED records of what "frame".
 *    The agent does not mark every frame it blacks (a window a secret was
 *    typed into is blacked without a record), so this is a lower bound.
 * Summaries stored before these fields were added lack them (read as 0).
 *
 * Bounded: at most SUM_APPS applications and SUM_TITLES titles, each cut
 * at SUM_STR bytes, so the JSON always fits META_SUMMARY_MAX with the seal.
 */
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/action.h"
#include "usetrace/keystore.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"
#include "server_int.h"

#define SUM_APPS 16
#define SUM_TITLES 16
#define SUM_STR 96
#define SUM_TYPES 12
#define SUM_TYPE_STR 64  /* ut_event redacted.why fits */
#define SUM_ACTIVE_GAP_NS (30ULL * 1000000000ULL)

struct srv_summary_acc {
	char apps[SUM_APPS][SUM_STR];
	char titles[SUM_TITLES][SUM_STR];
	unsigned napps, ntitles;
	uint64_t records, actions, redactions, frames, last_frame;
	unsigned sens_max;
	/* Issue 13. */
	uint64_t app_ns[SUM_APPS], active_ns, last_input_ns, blacked;
	int cur_app;                      /* index in apps, -1: none */
	bool have_input, cur_denied;
	char types[SUM_TYPES][SUM_TYPE_STR];
	uint64_t type_n[SUM_TYPES];
	unsigned ntypes;
	struct action_reducer *ar;
};

static int
count_action(const struct ut_action *a, void *arg)
{
	struct srv_summary_acc *acc = arg;

	(void)a;
	acc->actions++;
	return 0;
}

struct srv_summary_acc *
srv_summary_create(void)
{
	struct srv_summary_acc *a = xcalloc(1, sizeof(*a));

	a->ar = action_reducer_create(NULL, count_action, a);
	a->sens_max = 1;
	a->cur_app = -1;
	return a;
}

/* Adds s to v once; its index, or -1 (empty, or v full). */
static int
add_str(char (*v)[SUM_STR], unsigned *n, unsigned cap, const char *s)
{
	unsigned i;
	char cut[SUM_STR];
	int at = -1;

	if (s[0] == '\0')
		return -1;
	ut_strlcpy_utf8(cut, s, SUM_STR - 1, sizeof(cut));
	for (i = 0; i < *n; i++)
		if (strcmp(v[i], cut) == 0) {
			at = (int)i;
			goto out;
		}
	if (*n < cap) {
		memcpy(v[*n], cut, SUM_STR);
		at = (int)(*n)++;
	}
out:
	sodium_memzero(cut, sizeof(cut));
	return at;
}

/* Input at mono_ns: the gap since the last input is active time if short. */
static void
add_input(struct srv_summary_acc *a, uint64_t mono_ns)
{
	uint64_t d;

	if (a->have_input && mono_ns > a->last_input_ns &&
	    (d = mono_ns - a->last_input_ns) <= SUM_ACTIVE_GAP_NS) {
		a->active_ns += d;
		if (a->cur_app >= 0)
			a->app_ns[a->cur_app] += d;
	}
	a->have_input = true;
	a->last_input_ns = mono_ns;
}

static void
add_redaction(struct srv_summary_acc *a, const char *why, uint32_t count)
{
	unsigned i;
	const char *k = why[0] != '\0' ? why : "unknown";

	for (i = 0; i < a->ntypes; i++)
		if (strncmp(a->types[i], k, SUM_TYPE_STR - 1) == 0)
			break;
	if (i == a->ntypes) {
		if (a->ntypes == SUM_TYPES)
			i = SUM_TYPES - 1, k = "other";
		else
			a->ntypes++;
		ut_strlcpy_utf8(a->types[i], k, SUM_TYPE_STR - 1, SUM_TYPE_STR);
	}
	a->type_n[i] += count > 0 ? count : 1;
}

void
srv_summary_push(struct srv_summary_acc *a, const struct ut_event *ev)
{
	a->records++;
	if (ev->sensitivity > a->sens_max && ev->sensitivity <= 4)
		a->sens_max = ev->sensitivity;
	switch (ev->type) {
	case UT_EV_FOCUS:
		a->cur_app = add_str(a->apps, &a->napps, SUM_APPS,
		    ev->u.focus.denied ? "denied" : ev->u.focus.app);
		a->cur_denied = ev->u.focus.denied != 0;
		if (!ev->u.focus.denied)
			(void)add_str(a->titles, &a->ntitles, SUM_TITLES, ev->u.focus.title);
		break;
	case UT_EV_KEY:
	case UT_EV_TEXT:
	case UT_EV_BUTTON:
	case UT_EV_MOTION:
	case UT_EV_SCROLL:
		add_input(a, ev->mono_ns);
		break;
	case UT_EV_REDACTED:
		a->redactions++;
		add_redaction(a, ev->u.redacted.why, ev->u.redacted.count);
		if (strcmp(ev->u.redacted.what, "frame") == 0)
			a->blacked += ev->u.redacted.count > 0 ? ev->u.redacted.count : 1;
		break;
	case UT_EV_FRAME:
		if (ev->u.frame.frame_id != a->last_frame) {
			a->frames++;
			a->last_frame = ev->u.frame.frame_id;
			if (a->cur_denied)
				a->blacked++;
		}
		break;
	default:
		break;
	}
	(void)action_reducer_push(a->ar, ev);
}

static char *
render(const struct srv_summary_acc *a)
{
	json_t *o, *apps = json_array(), *titles = json_array();
	json_t *app_ms = json_array(), *types = json_object();
	char *text;
	unsigned i;

	for (i = 0; i < a->napps; i++) {
		json_array_append_new(apps, json_string(a->apps[i]));
		json_array_append_new(app_ms, json_integer((json_int_t)(a->app_ns[i] /
		    1000000)));
	}
	for (i = 0; i < a->ntypes; i++)
		json_object_set_new(types, a->types[i], json_integer((json_int_t)
		    a->type_n[i]));
	for (i = 0; i < a->ntitles; i++)
		json_array_append_new(titles, json_string(a->titles[i]));
	o = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I}", "apps", apps, "titles",
	    titles, "records", (json_int_t)a->records, "actions",
	    (json_int_t)a->actions, "redactions", (json_int_t)a->redactions,
	    "frames", (json_int_t)a->frames);
	json_object_set_new(o, "active_ms", json_integer((json_int_t)(a->active_ns /
	    1000000)));
	json_object_set_new(o, "app_active_ms", app_ms);
	json_object_set_new(o, "redaction_types", types);
	json_object_set_new(o, "blacked_frames", json_integer((json_int_t)a->blacked));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text != NULL ? text : xstrdup("{}");
}

char *
srv_summary_finish(struct srv_summary_acc *a, unsigned *sens_max)
{
	char *text;

	(void)action_reducer_finish(a->ar);
	/* Escaping can grow strings six-fold: drop names until it fits. */
	while (strlen(text = render(a)) > META_SUMMARY_MAX - KEYSTORE_SEAL_OVERHEAD - 1 &&
	    (a->ntitles > 0 || a->napps > 0 || a->ntypes > 0)) {
		sodium_memzero(text, strlen(text));
		free(text);
		if (a->ntitles > 0)
			a->ntitles--;
		else if (a->napps > 0)
			a->napps--;
		else
			a->ntypes--;
	}
	*sens_max = a->sens_max;
	return text;
}

void
srv_summary_destroy(struct srv_summary_acc *a)
{
	if (a == NULL)
		return;
	action_reducer_destroy(a->ar);
	sodium_memzero(a, sizeof(*a));
	free(a);
}
