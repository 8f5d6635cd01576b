/*
 * cmd_export_server.c - the trainer's side of an export through the
 * server: `usetrace export --export NAME --out DIR --format F` builds the
 * dataset from /v1/training/steps and /v1/training/frames, and `usetrace
 * export revoke-check DIR [--prune]` asks /v1/training/revoked which of its
 * episodes' people have since erased or withdrawn.
 *
 * The server's episodes are reviewed segments; a segment's actions are
 * split into episodes here like a local export's: a marked task (the
 * segment's "tasks", matched to actions by their records' sequence
 * numbers) is one episode with its instruction and outcome, and unmarked
 * time is split at idle gaps and application switches.  Each keeps the
 * server's episode id as its "episode_ref", which is what revoke-check
 * matches.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/log.h"
#include "cli_int.h"

#define STEPS_CAP (1024u << 20)
#define FRAME_CAP (64u << 20)

struct srv_export {
	const char *cmd;
	const struct client_cfg *c;
	const char *name;
	struct export_writer *w;
	uint32_t idle_ms;
	uint32_t sw, sh;           /* from the last frame's PNG header */
	int64_t png_id;
	struct client_resp png;
	char png_ep[33];
	unsigned episodes, steps;
	bool quiet;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The frame of one step (cached while steps share it); 0 or -1 (logged). */
static int
frame_for(struct srv_export *x, const char *ep, int64_t frame)
{
	char path[256];

	if (frame == x->png_id && strcmp(ep, x->png_ep) == 0)
		return 0;
	client_resp_free(&x->png);
	x->png_id = -1;
	snprintf(path, sizeof(path), "/v1/training/frames?export=%s&episode=%s"
	    "&frame=%" PRId64, x->name, ep, frame);
	if (cli_call(x->cmd, x->c, "GET", path, "training", NULL, FRAME_CAP, &x->png) < 0)
		return -1;
	if (x->png.len >= 24 && memcmp(x->png.body + 12, "IHDR", 4) == 0) {
		x->sw = be32(x->png.body + 16);
		x->sh = be32(x->png.body + 20);
	}
	x->png_id = frame;
	snprintf(x->png_ep, sizeof(x->png_ep), "%s", ep);
	return 0;
}

/*
 * The index of the task of tasks (the server's, in begin order) holding
 * the action o (by its first record's seq), or -1: unmarked.
 */
static int
task_of(const json_t *tasks, const json_t *o)
{
	const json_t *seq = json_array_get(json_array_get(json_object_get(o, "seq"), 0), 0);
	json_int_t first, b, e;
	int k = -1;
	size_t i;
	const json_t *t;

	if (!json_is_integer(seq))
		return -1;
	first = json_integer_value(seq);
	json_array_foreach(tasks, i, t) {
		b = json_integer_value(json_object_get(t, "begin"));
		if (b >= first)
			break;
		k = (int)i;
	}
	if (k < 0)
		return -1;
	t = json_array_get(tasks, (size_t)k);
	e = json_is_integer(json_object_get(t, "end")) ?
	    json_integer_value(json_object_get(t, "end")) : 0;
	return e != 0 && first > e ? -1 : k;
}

static int
one_episode(struct srv_export *x, const json_t *e)
{
	const char *ep = cli_jstr(e, "episode");
	const json_t *acts = json_object_get(e, "actions"), *o, *tk;
	const json_t *tasks = json_object_get(e, "tasks");
	struct export_episode meta;
	struct export_step s;
	struct ut_action *a = NULL;
	struct ut_point *path = NULL;
	struct ut_event tgt;		/* the action's target element */
	const char *prev_app = NULL, *app;
	uint64_t start = 0, last_end = 0;
	size_t i;
	int r = 0, open = 0, task, prev_task = -1;

	if (ep == NULL || strlen(ep) != 32 || !json_is_array(acts))
		return UT_EPARSE;
	memset(&meta, 0, sizeof(meta));
	meta.outcome = -1;
	meta.contributor = cli_jstr(e, "subject");
	meta.consent_ref = cli_jstr(e, "consent");
	meta.policy_hash = cli_jstr(e, "policy");
	meta.ref = ep;
	if (cli_jstr(e, "expires") != NULL)
		export_writer_set_expires(x->w, cli_jstr(e, "expires"));
	a = malloc(sizeof(*a));
	path = calloc(UT_ACTION_PATH_MAX, sizeof(*path));
	if (a == NULL || path == NULL) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(acts, i, o) {
		if ((r = export_action_from_json(o, a, path, UT_ACTION_PATH_MAX)) != 0)
			break;
		if ((r = export_target_from_json(o, &tgt)) < 0)
			break;
		a->target = r == 1 ? &tgt : NULL; /* issue 12: target elements */
		r = 0;
		app = json_string_value(json_object_get(o, "app"));
		task = task_of(tasks, o);
		if (!open || task != prev_task || (task < 0 &&
		    (a->t_ms > last_end + x->idle_ms || (app != NULL &&
		    prev_app != NULL && strcmp(app, prev_app) != 0)))) {
			tk = task >= 0 ? json_array_get(tasks, (size_t)task) : NULL;
			meta.instruction = tk != NULL ? cli_jstr(tk, "instruction") : NULL;
			meta.outcome = -1;
			if (tk != NULL && cli_jstr(tk, "outcome") != NULL)
				meta.outcome = strcmp(cli_jstr(tk, "outcome"), "success") == 0;
			if ((r = export_writer_episode(x->w, &meta)) != 0)
				break;
			x->episodes++;
			open = 1;
			start = a->t_ms;
			if (!x->quiet)
				fprintf(stderr, "export: episode %u (server episode %.8s...)\n",
				    x->episodes, ep);
		}
		prev_app = app;
		prev_task = task;
		if (a->t_ms + a->duration_ms > last_end)
			last_end = a->t_ms + a->duration_ms;
		memset(&s, 0, sizeof(s));
		if (a->frame >= 0) {
			if (frame_for(x, ep, a->frame) < 0) {
				r = -1;
				break;
			}
			s.img = x->png.body;
			s.img_len = x->png.len;
			s.img_is_png = true;
		}
		s.a = a;
		s.t_ms = a->t_ms - start;
		s.app = app;
		s.title = json_string_value(json_object_get(o, "title"));
		s.sensitivity = (uint8_t)json_integer_value(json_object_get(e, "sensitivity"));
		if (s.sensitivity < 1 || s.sensitivity > 4)
			s.sensitivity = 2;
		s.screen_w = x->sw;
		s.screen_h = x->sh;
		if ((r = export_writer_step(x->w, &s)) != 0)
			break;
		x->steps++;
	}
out:
	sodium_memzero(&tgt, sizeof(tgt));
	if (a != NULL)
		sodium_memzero(a, sizeof(*a));
	free(a);
	free(path);
	return r;
}

int
cli_export_server(const char *name, const char *outdir, int format,
    int image, int quality, uint32_t idle_s, bool quiet, const struct cli_args *args)
{
	const char *cmd = "export";
	enum export_format f = (enum export_format)format;
	struct client_cfg c;
	struct client_resp rr;
	struct srv_export x;
	char path[160], *p, *end, *nl;
	json_t *e;
	int r = -1;

	memset(&c, 0, sizeof(c));
	memset(&rr, 0, sizeof(rr));
	memset(&x, 0, sizeof(x));
	if (cli_conn(cmd, args, true, &c) < 0)
		return 1;
	snprintf(path, sizeof(path), "/v1/training/steps?export=%s", name);
	if (cli_call(cmd, &c, "GET", path, "training", NULL, STEPS_CAP, &rr) < 0)
		goto out;
	x.cmd = cmd;
	x.c = &c;
	x.name = name;
	x.idle_ms = (idle_s ? idle_s : 300) * 1000u;
	x.png_id = -1;
	x.quiet = quiet;
	if ((r = export_writer_open(outdir, f, name, &x.w)) != 0) {
		log_error("export: %s: %s", outdir, r == UT_ESTATE ?
		    "exists and is not an empty directory" : ut_strerror(r));
		r = -1;
		goto out;
	}
	export_writer_set_image(x.w, (enum export_image)image, quality);
	p = (char *)rr.body;
	end = p + rr.len;
	for (r = 0; p != NULL && p < end && r == 0; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		if (nl == p)
			continue;
		if ((e = json_loads(p, 0, NULL)) == NULL) {
			log_error("export: the server's answer is not NDJSON");
			r = -1;
			break;
		}
		r = one_episode(&x, e);
		json_decref(e);
		if (r > 0 || r < -1)
			log_error("export: %s", ut_strerror(r));
	}
	if (r == 0) {
		r = export_writer_close(x.w);
		x.w = NULL;
		if (r != 0)
			log_error("export: %s", ut_strerror(r));
		else if (!quiet)
			fprintf(stderr, "export: %u episodes, %u steps in %s (%s)\n",
			    x.episodes, x.steps, outdir, export_format_name(f));
	}
out:
	export_writer_abort(x.w);
	client_resp_free(&x.png);
	client_resp_free(&rr);
	client_cfg_finish(&c);
	return r == 0 ? 0 : 1;
}

/* Episodes whose ref is in the revoked list (episode numbers). */
struct affected {
	const json_t *revoked;
	unsigned *v;
	size_t n, total;
};

static int
affected_one(unsigned episode, const char *ref, void *arg)
{
	struct affected *af = arg;
	size_t i;
	json_t *e;

	af->total++;
	if (ref == NULL)
		return 0;
	json_array_foreach(af->revoked, i, e) {
		if (json_is_string(e) && strcmp(json_string_value(e), ref) == 0) {
			af->v = realloc(af->v, (af->n + 1) * sizeof(*af->v));
			if (af->v == NULL)
				abort();
			af->v[af->n++] = episode;
			printf("revoked episode %u\n", episode);
			break;
		}
	}
	return 0;
}

/*
 * An expired export (its datacard's `expires`, or the server's answer) is
 * reported and must be deleted whole: revoke-check exits 1 and --prune
 * refuses, since a pruned expired export would still be expired.  True
 * when it is expired (and reported).
 */
static bool
report_expired(const char *cmd, const char *dir, const char *day, bool prune)
{
	if (day == NULL || !export_day_ok(day) || !export_expired(day, export_now_ns()))
		return false;
	printf("expired %s\n", day);
	log_error("%s: the export in %s expired on %s (the policy it was made "
	    "under): delete it%s", cmd, dir, day, prune ? "; --prune removes "
	    "episodes, not whole exports, so it changed nothing" : "");
	return true;
}

int
cli_export_revoke_check(const char *dir, bool prune, const struct cli_args *args)
{
	const char *cmd = "export revoke-check";
	struct client_cfg c;
	struct affected af;
	char path[4200], *name = NULL;
	json_t *dc = NULL, *ans = NULL;
	int r, status = 1;

	memset(&c, 0, sizeof(c));
	memset(&af, 0, sizeof(af));
	snprintf(path, sizeof(path), "%s/DATACARD.json", dir);
	if ((dc = json_load_file(path, 0, NULL)) == NULL ||
	    cli_jstr(dc, "export_id") == NULL) {
		log_error("%s: %s is not an export (no DATACARD.json)", cmd, dir);
		goto out;
	}
	name = strdup(cli_jstr(dc, "export_id"));
	if (report_expired(cmd, dir, cli_jstr(dc, "expires"), prune))
		goto out;
	if (cli_conn(cmd, args, true, &c) < 0)
		goto out;
	snprintf(path, sizeof(path), "/v1/training/revoked?export=%s", name);
	if (cli_call_json(cmd, &c, "GET", path, "training", NULL, &ans) < 0)
		goto out;
	if (json_is_true(json_object_get(ans, "expired"))) {
		printf("expired %s\n", cli_jstr(ans, "expires") ? cli_jstr(ans, "expires") : "?");
		log_error("%s: the server says export %s expired on %s: delete %s",
		    cmd, name, cli_jstr(ans, "expires") ? cli_jstr(ans, "expires") : "?", dir);
		goto out;
	}
	af.revoked = json_object_get(ans, "revoked");
	if ((r = export_episodes(dir, affected_one, &af)) != 0) {
		log_error("%s: cannot read %s: %s", cmd, dir, ut_strerror(r));
		goto out;
	}
	printf("%zu of %zu episodes revoked\n", af.n, af.total);
	if (prune && af.n > 0) {
		if ((r = export_prune(dir, af.v, af.n)) != 0) {
			log_error("%s: pruning failed: %s", cmd, ut_strerror(r));
			goto out;
		}
		printf("pruned %zu episodes; MANIFEST.sha256 rewritten\n", af.n);
	}
	status = 0;
out:
	free(af.v);
	free(name);
	json_decref(dc);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}
