/*
 * local.c - exporting a person's own recording, offline
 * (`usetrace export --local RECORDING`).
 *
 * Two passes over the recording.  The first reduces the records to actions
 * (action.h, the one reduction every reader uses) and keeps each action in
 * a compact copy with the focused app, its redacted title and sensitivity,
 * then splits them into episodes: a new episode at a new session, after an
 * idle gap, and when the focused application changes.  The second pass
 * replays the stored frames on a canvas (frameview.h); because an action's
 * frame is the newest one completed before it, the frames the actions need
 * come in the actions' order, so each step is written as soon as its frame
 * is on the canvas and only one encoded frame is held at a time.
 *
 * Contributor and consent references are keyed BLAKE2b hashes under a key
 * made for this export alone and then wiped, so two exports of the same
 * recording share no id.  No wall-clock time is exported.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/action.h"
#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/frameview.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"

#define ACTIONS_MAX 2000000u

/* One action kept between the passes (strings owned). */
struct xact {
	struct ut_action a;        /* text/keys unused here: see below */
	char *text, *keys, *app, *title;
	struct ut_point *path;
	struct ut_event *target;   /* its target element (a copy), or NULL */
	uint32_t session, episode;
	int32_t task;              /* index into collect.tasks, -1: none */
	uint64_t first_seq;        /* of its first raw record */
	uint8_t sensitivity;
	uint32_t screen_w, screen_h;
};

/* A marked task: records after begin_seq up to end_seq (0: open). */
struct task {
	uint64_t begin_seq, end_seq;
	char *instruction;
	int outcome;               /* 1, 0, -1 unknown */
};

#define TASKS_MAX 100000u

struct collect {
	struct xact *v;
	size_t n, alloc;
	struct task *tasks;
	size_t ntasks;
	int err;
	uint32_t session;          /* count of session records seen */
	uint32_t screen_w, screen_h;
};

static char *
dup_or_null(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		abort();
	return d;
}

/* Does s hold a [TYPE] placeholder of the privacy filter? */
static bool
has_placeholder(const char *s)
{
	const char *p, *q;

	for (p = s; s != NULL && (p = strchr(p, '[')) != NULL; p++) {
		for (q = p + 1; (*q >= 'A' && *q <= 'Z') || *q == '_'; q++)
			;
		if (*q == ']' && q - p >= 3)
			return true;
	}
	return false;
}

static int
on_action(const struct ut_action *a, void *arg)
{
	struct collect *c = arg;
	struct xact *x;
	const struct ut_event *f = a->focus;
	uint8_t sens = a->kind == UT_ACT_TYPE ? 2 : 1;

	if (c->n == ACTIONS_MAX) {
		c->err = UT_ETOOBIG;
		return 1;
	}
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 256;
		c->v = realloc(c->v, c->alloc * sizeof(*c->v));
		if (c->v == NULL)
			abort();
	}
	x = &c->v[c->n++];
	memset(x, 0, sizeof(*x));
	memcpy(&x->a, a, sizeof(*a));
	x->a.text[0] = x->a.keys[0] = '\0';
	x->a.focus = NULL;
	x->a.seqs = NULL;
	x->a.nseqs = 0;
	x->text = a->kind == UT_ACT_TYPE ? dup_or_null(a->text) : NULL;
	x->keys = a->keys[0] != '\0' ? dup_or_null(a->keys) : NULL;
	if (a->npath > 0) {
		x->path = calloc(a->npath, sizeof(*x->path));
		if (x->path == NULL)
			abort();
		memcpy(x->path, a->path, a->npath * sizeof(*x->path));
	}
	x->a.path = NULL;
	x->a.target = NULL;
	if (a->target != NULL) {
		if ((x->target = malloc(sizeof(*x->target))) == NULL)
			abort();
		*x->target = *a->target;
		if (a->target->sensitivity > sens)
			sens = a->target->sensitivity; /* a redacted name */
	}
	if (f != NULL) {
		x->app = dup_or_null(f->u.focus.denied ? "denied" : f->u.focus.app);
		x->title = f->u.focus.denied ? NULL : dup_or_null(f->u.focus.title);
		if (f->sensitivity > sens)
			sens = f->sensitivity;
		if (has_placeholder(x->title) && sens < 3)
			sens = 3;
	}
	if (has_placeholder(x->text) && sens < 3)
		sens = 3;
	x->sensitivity = sens > 4 ? 4 : sens;
	x->session = c->session;
	x->first_seq = a->nseqs > 0 ? a->seqs[0].first : 0;
	x->task = -1;
	x->screen_w = c->screen_w;
	x->screen_h = c->screen_h;
	return 0;
}

static void
collect_free(struct collect *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (c->v[i].text != NULL)
			sodium_memzero(c->v[i].text, strlen(c->v[i].text));
		free(c->v[i].text);
		free(c->v[i].keys);
		free(c->v[i].app);
		free(c->v[i].title);
		free(c->v[i].path);
		if (c->v[i].target != NULL)
			sodium_memzero(c->v[i].target, sizeof(*c->v[i].target));
		free(c->v[i].target);
	}
	free(c->v);
	for (i = 0; i < c->ntasks; i++)
		free(c->tasks[i].instruction);
	free(c->tasks);
	memset(c, 0, sizeof(*c));
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The task holding record seq, or -1 (tasks are in seq order). */
static int32_t
task_of(const struct collect *c, uint64_t seq)
{
	size_t lo = 0, hi = c->ntasks;

	while (lo < hi) { /* the last task beginning before seq */
		size_t mid = (lo + hi) / 2;

		if (c->tasks[mid].begin_seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	lo--;
	if (c->tasks[lo].end_seq != 0 && seq > c->tasks[lo].end_seq)
		return -1;
	return (int32_t)lo;
}

/*
 * Episode numbers from 1.  A marked task is one episode; unmarked time
 * is split at a new session, an idle gap and an application switch.
 */
static uint32_t
split_episodes(struct collect *c, uint32_t idle_ms)
{
	uint32_t ep = 0;
	uint64_t last_end = 0;
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct xact *x = &c->v[i], *p = i > 0 ? &c->v[i - 1] : NULL;

		x->task = task_of(c, x->first_seq);
		if (p == NULL || x->task != p->task)
			ep++;
		else if (x->task < 0 && (x->session != p->session ||
		    x->a.t_ms > last_end + idle_ms ||
		    (x->app != NULL && p->app != NULL && !same_str(x->app, p->app))))
			ep++;
		x->episode = ep;
		if (x->a.t_ms + x->a.duration_ms > last_end || p == NULL ||
		    x->session != p->session)
			last_end = x->a.t_ms + x->a.duration_ms;
	}
	return ep;
}

/* A task mark record (docs/FORMAT.md): "task-begin TEXT", "task-end OUTCOME". */
static void
on_mark(struct collect *c, const struct ut_event *ev)
{
	const char *t = ev->u.mark.text;
	struct task *k;

	if (strncmp(t, "task-begin ", 11) == 0) {
		if (c->ntasks == TASKS_MAX)
			return;
		if (c->ntasks > 0 && c->tasks[c->ntasks - 1].end_seq == 0)
			c->tasks[c->ntasks - 1].end_seq = ev->seq; /* begin ends the last */
		c->tasks = realloc(c->tasks, (c->ntasks + 1) * sizeof(*c->tasks));
		if (c->tasks == NULL)
			abort();
		k = &c->tasks[c->ntasks++];
		k->begin_seq = ev->seq;
		k->end_seq = 0;
		k->instruction = dup_or_null(t + 11);
		k->outcome = -1;
	} else if (strncmp(t, "task-end ", 9) == 0 && c->ntasks > 0 &&
	    c->tasks[c->ntasks - 1].end_seq == 0) {
		k = &c->tasks[c->ntasks - 1];
		k->end_seq = ev->seq;
		k->outcome = strcmp(t + 9, "success") == 0 ? 1 :
		    strcmp(t + 9, "failure") == 0 ? 0 : -1;
	}
}

/* State of the second pass. */
struct emit {
	struct export_writer *w;
	struct collect *c;
	size_t next;               /* the first action not written yet */
	uint32_t episode;          /* the episode being written */
	uint32_t episodes;
	uint64_t ep_start_ms;
	int64_t png_id;            /* the frame in png (encoded), -1: none */
	uint8_t *png;
	size_t png_len;
	enum export_image image;
	int quality;
	uint32_t fw, fh;
	struct export_episode *meta;
	bool quiet;
};

static void
png_drop(struct emit *e)
{
	if (e->png != NULL) {
		sodium_memzero(e->png, e->png_len);
		free(e->png);
	}
	e->png = NULL;
	e->png_len = 0;
	e->png_id = -1;
}

static int
write_step(struct emit *e, const struct xact *x)
{
	struct ut_action a = x->a;
	struct export_step s;
	int r;

	if (x->episode != e->episode) {
		if (!e->quiet)
			fprintf(stderr, "export: episode %u/%u\n", x->episode, e->episodes);
		e->meta->instruction = x->task >= 0 ?
		    e->c->tasks[x->task].instruction : NULL;
		e->meta->outcome = x->task >= 0 ? e->c->tasks[x->task].outcome : -1;
		if ((r = export_writer_episode(e->w, e->meta)) != 0)
			return r;
		e->episode = x->episode;
		e->ep_start_ms = x->a.t_ms;
	}
	snprintf(a.text, sizeof(a.text), "%s", x->text != NULL ? x->text : "");
	snprintf(a.keys, sizeof(a.keys), "%s", x->keys != NULL ? x->keys : "");
	a.path = x->path;
	a.target = x->target;
	memset(&s, 0, sizeof(s));
	s.a = &a;
	s.t_ms = x->a.t_ms - e->ep_start_ms;
	s.app = x->app;
	s.title = x->title;
	s.sensitivity = x->sensitivity;
	s.screen_w = e->fw != 0 ? e->fw : x->screen_w;
	s.screen_h = e->fh != 0 ? e->fh : x->screen_h;
	if (x->a.frame >= 0 && x->a.frame == e->png_id) {
		s.img = e->png;
		s.img_len = e->png_len;
	}
	r = export_writer_step(e->w, &s);
	sodium_memzero(a.text, sizeof(a.text));
	return r;
}

/* Writes the pending actions whose frame is older than `before` (or none). */
static int
flush_before(struct emit *e, int64_t before)
{
	int r;

	while (e->next < e->c->n) {
		const struct xact *x = &e->c->v[e->next];

		if (before >= 0 && x->a.frame >= before)
			break;
		if ((r = write_step(e, x)) != 0)
			return r;
		e->next++;
	}
	return 0;
}

/* A frame completed on the canvas: write what it settles, keep it if needed. */
static int
frame_done(struct emit *e, struct frame_canvas *fc)
{
	const uint8_t *rgb;
	uint64_t id;
	size_t j;
	int r;

	rgb = frame_canvas_rgb(fc, &e->fw, &e->fh, &id);
	if (rgb == NULL)
		return 0;
	if ((r = flush_before(e, (int64_t)id)) != 0)
		return r;
	for (j = e->next; j < e->c->n && e->c->v[j].a.frame <= (int64_t)id; j++)
		if (e->c->v[j].a.frame == (int64_t)id)
			break;
	if (j == e->c->n || e->c->v[j].a.frame != (int64_t)id)
		return 0;
	png_drop(e);
	if ((r = export_image_encode(e->image, e->quality, rgb, e->fw, e->fh,
	    &e->png, &e->png_len)) != 0)
		return r;
	e->png_id = (int64_t)id;
	return 0;
}

static int
pass_one(struct spool_reader *rd, struct collect *c)
{
	struct action_reducer *ar;
	struct ut_event ev;
	int r, bad = 0;

	ar = action_reducer_create(NULL, on_action, c);
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0) {
			bad++;
			continue;
		}
		if (ev.type == UT_EV_MARK)
			on_mark(c, &ev);
		if (ev.type == UT_EV_SESSION) {
			/* The reducer delivers the old session's actions first. */
			(void)action_reducer_push(ar, &ev);
			c->session++;
			c->screen_w = ev.u.session.screen_w;
			c->screen_h = ev.u.session.screen_h;
			continue;
		}
		if (action_reducer_push(ar, &ev) != 0)
			break;
	}
	(void)action_reducer_finish(ar);
	action_reducer_destroy(ar);
	if (bad > 0)
		log_warn("export: %d unreadable segment(s) skipped", bad);
	return c->err;
}

static int
pass_two(struct spool_reader *rd, struct emit *e)
{
	struct frame_canvas *fc = frame_canvas_create();
	struct ut_event ev;
	int r;

	if ((r = spool_reader_rewind(rd)) != 0)
		goto out;
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0 || ev.type != UT_EV_FRAME)
			continue;
		r = frame_canvas_apply(fc, &ev);
		if (r == 1 && (r = frame_done(e, fc)) != 0)
			goto out;
	}
	r = flush_before(e, -1);
out:
	png_drop(e);
	frame_canvas_destroy(fc);
	return r;
}

/* The first segment's device key: the contributor, as the reader knows it. */
static int
first_device(const struct spool_seg_info *si, void *arg)
{
	memcpy(arg, si->device_pk, 32);
	return 1;
}

static void
keyed_ref(const uint8_t key[32], const char *what, const void *id, size_t idlen,
    char out[33])
{
	crypto_generichash_state st;
	uint8_t h[16];

	crypto_generichash_init(&st, key, 32, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)what, strlen(what) + 1);
	crypto_generichash_update(&st, id, idlen);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 33, h, sizeof(h));
}

int
export_local_recording(const struct export_local_opts *o)
{
	struct spool_read_opts ro = { .key = o->key };
	struct spool_reader *rd = NULL;
	struct collect c;
	struct emit e;
	struct export_episode meta;
	struct export_writer *w = NULL;
	uint8_t key[32], dev[32] = { 0 }, rnd[8];
	char contributor[33], consent[33], export_id[17];
	int r;

	memset(&c, 0, sizeof(c));
	memset(&e, 0, sizeof(e));
	if (o == NULL || o->recording == NULL || o->outdir == NULL || o->key == NULL)
		return UT_EINVAL;
	r = spool_check(o->recording, NULL, first_device, dev, NULL);
	if (r < 0)
		return r;
	if ((r = spool_reader_open(o->recording, &ro, &rd)) != 0)
		return r;
	if ((r = pass_one(rd, &c)) != 0)
		goto out;
	if (c.n == 0) {
		r = UT_EEMPTY;
		goto out;
	}
	e.episodes = split_episodes(&c, (o->idle_split_s ? o->idle_split_s : 300) * 1000u);

	randombytes_buf(key, sizeof(key));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(export_id, sizeof(export_id), rnd, sizeof(rnd));
	keyed_ref(key, "contributor", dev, sizeof(dev), contributor);
	keyed_ref(key, "consent", o->consent_id != NULL ? o->consent_id : "",
	    o->consent_id != NULL ? strlen(o->consent_id) : 0, consent);
	sodium_memzero(key, sizeof(key));
	memset(&meta, 0, sizeof(meta));
	meta.outcome = -1;
	meta.contributor = contributor;
	meta.consent_ref = o->consent_id != NULL ? consent : NULL;
	meta.policy_hash = o->policy_hash;

	if ((r = export_writer_open(o->outdir, o->format, export_id, &w)) != 0)
		goto out;
	export_writer_set_image(w, o->image, o->quality);
	export_writer_set_expires(w, o->expires);
	e.image = o->image;
	e.quality = o->quality;
	e.w = w;
	e.c = &c;
	e.png_id = -1;
	e.meta = &meta;
	e.quiet = o->quiet;
	if ((r = pass_two(rd, &e)) != 0)
		goto out;
	r = export_writer_close(w);
	w = NULL;
	if (r == 0 && !o->quiet)
		fprintf(stderr, "export: %u episodes, %zu steps in %s (%s)\n",
		    e.episodes, c.n, o->outdir, export_format_name(o->format));
out:
	export_writer_abort(w);
	spool_reader_close(rd);
	collect_free(&c);
	return r;
}
