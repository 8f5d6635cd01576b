/*
 * summary.c - the content summary of one segment, computed at ingest from
 * its decrypted records: applications and window titles seen, counts of
 * records, actions, redactions and stored screen frames, and the highest
 * sensitivity.  It is derived from content, so it is stored only sealed
 * under the day key (DESIGN: the database holds no content) and decrypted
 * for its owner when listed.
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

struct srv_summary_acc {
	char apps[SUM_APPS][SUM_STR];
	char titles[SUM_TITLES][SUM_STR];
	unsigned napps, ntitles;
	uint64_t records, actions, redactions, frames, last_frame;
	unsigned sens_max;
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
	return a;
}

static void
add_str(char (*v)[SUM_STR], unsigned *n, unsigned cap, const char *s)
{
	unsigned i;
	char cut[SUM_STR];

	if (s[0] == '\0')
		return;
	ut_strlcpy_utf8(cut, s, SUM_STR - 1, sizeof(cut));
	for (i = 0; i < *n; i++)
		if (strcmp(v[i], cut) == 0)
			return;
	if (*n < cap)
		memcpy(v[(*n)++], cut, SUM_STR);
	sodium_memzero(cut, sizeof(cut));
}

void
srv_summary_push(struct srv_summary_acc *a, const struct ut_event *ev)
{
	a->records++;
	if (ev->sensitivity > a->sens_max && ev->sensitivity <= 4)
		a->sens_max = ev->sensitivity;
	switch (ev->type) {
	case UT_EV_FOCUS:
		add_str(a->apps, &a->napps, SUM_APPS,
		    ev->u.focus.denied ? "denied" : ev->u.focus.app);
		if (!ev->u.focus.denied)
			add_str(a->titles, &a->ntitles, SUM_TITLES, ev->u.focus.title);
		break;
	case UT_EV_REDACTED:
		a->redactions++;
		break;
	case UT_EV_FRAME:
		if (ev->u.frame.frame_id != a->last_frame) {
			a->frames++;
			a->last_frame = ev->u.frame.frame_id;
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
	char *text;
	unsigned i;

	for (i = 0; i < a->napps; i++)
		json_array_append_new(apps, json_string(a->apps[i]));
	for (i = 0; i < a->ntitles; i++)
		json_array_append_new(titles, json_string(a->titles[i]));
	o = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I}", "apps", apps, "titles",
	    titles, "records", (json_int_t)a->records, "actions",
	    (json_int_t)a->actions, "redactions", (json_int_t)a->redactions,
	    "frames", (json_int_t)a->frames);
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
	    (a->ntitles > 0 || a->napps > 0)) {
		sodium_memzero(text, strlen(text));
		free(text);
		if (a->ntitles > 0)
			a->ntitles--;
		else
			a->napps--;
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
