/*
 * writer.c - the export writer: one output directory in one format, its
 * frames, MANIFEST.sha256 and the datacard.
 *
 * Layout by format (KEY is eNNNNNN_sNNNNNN, episode and step from 1):
 *   jsonl       steps.jsonl + frames/KEY.png (or .webp)
 *   webdataset  shard-NNNNNN.tar of KEY.png|webp + KEY.json (the jsonl step)
 *   pyautogui, osworld, anthropic
 *               episodes.jsonl (one episode a line) + images/KEY.png
 * Every step also keeps usetrace's own form of the action ("usetrace"), so
 * a step a target cannot express is still there, with the target's field
 * null and a count in DATACARD ("not_expressible").
 *
 * Invariants:
 *   - w->ep is NULL outside an episode and holds the current episode's
 *     object (episode formats) or just its header fields (step formats);
 *   - every file written is listed in w->files (relative names) exactly
 *     once, and only closed files are hashed, at close;
 *   - nothing written holds a wall-clock time or a name of the person.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/fsio.h"
#include "usetrace/util.h"
#include "export_int.h"

#define FILES_MAX 4000000u
#define APPS_MAX 256u
#define REDACT_TYPES_MAX 64u
#define LINE_MAX_BYTES (256u * 1024 * 1024)

static const char *const fmt_names[EXPORT_FORMATS] = {
	"jsonl", "webdataset", "pyautogui", "osworld", "anthropic",
};

struct count {
	char name[64];
	uint64_t n;
};

struct export_writer {
	char *dir;
	enum export_format fmt;
	enum export_image img;
	int quality;
	char export_id[64];
	FILE *lines;               /* steps.jsonl or episodes.jsonl */
	struct tar shard;
	unsigned shard_no;
	json_t *ep;                /* the current episode, NULL between */
	json_t *ep_steps;          /* its step array (episode formats) */
	unsigned episode_no, step_no;
	uint32_t ep_w, ep_h;
	char **files;
	size_t nfiles, files_alloc;
	/* datacard counts */
	uint64_t steps, frames, frame_bytes, not_expressible, span_ms;
	uint64_t by_kind[UT_ACT_MOVE + 1], by_sens[5];
	struct count apps[APPS_MAX + 1]; /* the last one: "other" */
	size_t napps;
	struct count redact[REDACT_TYPES_MAX];
	size_t nredact;
	uint64_t ep_last_ms;
	int outcomes[3];           /* failure, success, unknown */
	char policies[8][65];
	size_t npolicies;
	char expires[11];          /* YYYY-MM-DD (UTC), "": not known */
};

static int episode_end(struct export_writer *w);

void
export_writer_set_image(struct export_writer *w, enum export_image f, int quality)
{
	w->img = f;
	w->quality = quality;
}

void
export_writer_set_expires(struct export_writer *w, const char *day)
{
	snprintf(w->expires, sizeof(w->expires), "%s",
	    day != NULL && export_day_ok(day) ? day : "");
}

enum export_image
export_writer_image(const struct export_writer *w, int *quality)
{
	if (quality != NULL)
		*quality = w->quality;
	return w->img;
}

int
export_format_parse(const char *s, enum export_format *f)
{
	int i;

	for (i = 0; s != NULL && i < EXPORT_FORMATS; i++)
		if (strcmp(s, fmt_names[i]) == 0) {
			*f = (enum export_format)i;
			return 0;
		}
	return UT_EINVAL;
}

const char *
export_format_name(enum export_format f)
{
	return (unsigned)f < EXPORT_FORMATS ? fmt_names[f] : "?";
}

static int
file_add(struct export_writer *w, const char *rel)
{
	char **nf;

	if (w->nfiles == FILES_MAX)
		return UT_ETOOBIG;
	if (w->nfiles == w->files_alloc) {
		w->files_alloc = w->files_alloc ? w->files_alloc * 2 : 64;
		nf = realloc(w->files, w->files_alloc * sizeof(*nf));
		if (nf == NULL)
			return -ENOMEM;
		w->files = nf;
	}
	w->files[w->nfiles] = strdup(rel);
	if (w->files[w->nfiles] == NULL)
		return -ENOMEM;
	w->nfiles++;
	return 0;
}

/* Writes dir/rel (0600) whole and durably, and lists it. */
static int
write_file(struct export_writer *w, const char *rel, const void *p, size_t n)
{
	char path[4096];
	int fd, r = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", w->dir, rel) >= sizeof(path))
		return UT_ETOOBIG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((r = fsio_write_all(fd, p, n)) == 0 && fsync(fd) != 0)
		r = errno != 0 ? -errno : -EIO;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r == 0)
		r = file_add(w, rel);
	return r;
}

static FILE *
open_lines(struct export_writer *w, const char *rel, int *err)
{
	char path[4096];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	if ((*err = file_add(w, rel)) != 0) {
		fclose(f);
		return NULL;
	}
	return f;
}

/* outdir must not exist, or be an empty directory; made 0700. */
static int
make_outdir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return UT_ESTATE;
	if (rmdir(dir) != 0) /* succeeds only when empty */
		return UT_ESTATE;
	return mkdir(dir, 0700) == 0 ? 0 : -errno;
}

static int
make_subdir(struct export_writer *w, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	return mkdir(path, 0700) == 0 ? 0 : -errno;
}

int
export_writer_open(const char *outdir, enum export_format f,
    const char *export_id, struct export_writer **out)
{
	struct export_writer *w;
	int r;

	*out = NULL;
	if (outdir == NULL || (unsigned)f >= EXPORT_FORMATS || export_id == NULL ||
	    strlen(export_id) >= sizeof(w->export_id) || strlen(outdir) > 3000)
		return UT_EINVAL;
	if ((r = make_outdir(outdir)) != 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->dir = strdup(outdir)) == NULL) {
		free(w);
		return -ENOMEM;
	}
	w->fmt = f;
	snprintf(w->export_id, sizeof(w->export_id), "%s", export_id);
	switch (f) {
	case EXPORT_JSONL:
		r = make_subdir(w, "frames");
		if (r == 0 && (w->lines = open_lines(w, "steps.jsonl", &r)) == NULL)
			break;
		break;
	case EXPORT_WEBDATASET:
		break; /* shards open with their first member */
	default:
		r = make_subdir(w, "images");
		if (r == 0 && (w->lines = open_lines(w, "episodes.jsonl", &r)) == NULL)
			break;
		break;
	}
	if (r != 0) {
		export_writer_abort(w);
		return r;
	}
	*out = w;
	return 0;
}

static json_t *str_or_null(const char *s);

/* The usetrace form of an action, times relative to the episode. */
static json_t *
action_json(const struct ut_action *a, uint32_t sw, uint32_t sh)
{
	json_t *o = json_object(), *path;
	size_t i;

	json_object_set_new(o, "type", json_string(action_kind_name(a->kind)));
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)a->duration_ms));
	if (a->has_pos) {
		json_object_set_new(o, "x", json_integer(a->x));
		json_object_set_new(o, "y", json_integer(a->y));
		json_object_set_new(o, "x_norm", json_real(sw > 1 ?
		    (double)a->x / (sw - 1) : 0.0));
		json_object_set_new(o, "y_norm", json_real(sh > 1 ?
		    (double)a->y / (sh - 1) : 0.0));
	}
	if (a->kind == UT_ACT_DRAG || a->kind == UT_ACT_MOVE) {
		json_object_set_new(o, "end_x", json_integer(a->end_x));
		json_object_set_new(o, "end_y", json_integer(a->end_y));
		json_object_set_new(o, "end_x_norm", json_real(sw > 1 ?
		    (double)a->end_x / (sw - 1) : 0.0));
		json_object_set_new(o, "end_y_norm", json_real(sh > 1 ?
		    (double)a->end_y / (sh - 1) : 0.0));
		path = json_array();
		for (i = 0; i < a->npath; i++)
			json_array_append_new(path, json_pack("[iiI]", a->path[i].x,
			    a->path[i].y, (json_int_t)a->path[i].dt_ms));
		json_object_set_new(o, "path", path);
	}
	if (a->kind <= UT_ACT_DRAG)
		json_object_set_new(o, "button", json_integer(a->button));
	if (a->kind == UT_ACT_SCROLL) {
		json_object_set_new(o, "dx", json_integer(a->dx));
		json_object_set_new(o, "dy", json_integer(a->dy));
	}
	if (a->kind == UT_ACT_TYPE)
		json_object_set_new(o, "text", str_or_null(a->text));
	if (a->kind == UT_ACT_HOTKEY || a->kind == UT_ACT_KEY)
		json_object_set_new(o, "keys", json_string(a->keys));
	if (a->repeat > 0)
		json_object_set_new(o, "repeat", json_integer(a->repeat));
	return o;
}

/*
 * The step's target element (docs/export.schema.json "target"): null, or
 * {role, name, bbox: [x, y, w, h] screen pixels, bbox_norm: the same in
 * 0..1 (x, y like x_norm; w, h as fractions of the screen), path: the
 * roles from the window down to it}.
 */
static json_t *
target_json(const struct ut_action *a, uint32_t sw, uint32_t sh)
{
	const struct ut_event *t = a->target;
	json_t *o, *path;
	char role[UT_EV_PATH_MAX];
	const char *p, *e;
	size_t n;

	if (t == NULL || t->type != UT_EV_TARGET)
		return json_null();
	o = json_object();
	json_object_set_new(o, "role", str_or_null(t->u.target.role));
	json_object_set_new(o, "name", str_or_null(t->u.target.name));
	json_object_set_new(o, "bbox", json_pack("[iiII]", (int)t->u.target.x,
	    (int)t->u.target.y, (json_int_t)t->u.target.w, (json_int_t)t->u.target.h));
	json_object_set_new(o, "bbox_norm", json_pack("[ffff]",
	    sw > 1 ? (double)t->u.target.x / (sw - 1) : 0.0,
	    sh > 1 ? (double)t->u.target.y / (sh - 1) : 0.0,
	    sw > 0 ? (double)t->u.target.w / sw : 0.0,
	    sh > 0 ? (double)t->u.target.h / sh : 0.0));
	path = json_array();
	for (p = t->u.target.path; *p != '\0';) {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > 0 && n < sizeof(role)) {
			memcpy(role, p, n);
			role[n] = '\0';
			json_array_append_new(path, str_or_null(role));
		}
		p += n + (p[n] == '/');
	}
	json_object_set_new(o, "path", path);
	return o;
}

static json_t *
str_or_null(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j != NULL ? j : json_string("\xef\xbf\xbd");
}

static void
count_add(struct count *c, size_t *n, size_t max, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(c[i].name, name) == 0) {
			c[i].n++;
			return;
		}
	if (*n < max) {
		snprintf(c[*n].name, sizeof(c[*n].name), "%s", name);
		c[(*n)++].n = 1;
		return;
	}
	/* Full: the last slot is "other". */
	snprintf(c[max - 1].name, sizeof(c[max - 1].name), "%s", "other");
	c[max - 1].n++;
}

/* Counts the [TYPE] placeholders the privacy filter left in s. */
static void
count_redactions(struct export_writer *w, const char *s)
{
	const char *p, *q;
	char name[64];

	for (p = s; s != NULL && (p = strchr(p, '[')) != NULL; p++) {
		for (q = p + 1; (*q >= 'A' && *q <= 'Z') || *q == '_' ||
		    (*q >= '0' && *q <= '9'); q++)
			;
		if (*q != ']' || q - p < 3 || (size_t)(q - p) >= sizeof(name))
			continue;
		memcpy(name, p + 1, (size_t)(q - p - 1));
		name[q - p - 1] = '\0';
		count_add(w->redact, &w->nredact, REDACT_TYPES_MAX, name);
	}
}

static json_t *
provenance(const struct export_writer *w)
{
	json_t *p = json_object_get(w->ep, "provenance");

	return json_deep_copy(p);
}

int
export_writer_episode(struct export_writer *w, const struct export_episode *e)
{
	json_t *prov;
	size_t i;
	int r;

	if ((r = episode_end(w)) != 0)  /* the previous one */
		return r;
	w->episode_no++;
	w->step_no = 0;
	w->ep_last_ms = 0;
	w->ep = json_object();
	json_object_set_new(w->ep, "episode", json_integer(w->episode_no));
	json_object_set_new(w->ep, "instruction", str_or_null(e->instruction));
	json_object_set_new(w->ep, "outcome", e->outcome < 0 ? json_null() :
	    json_string(e->outcome ? "success" : "failure"));
	prov = json_object();
	json_object_set_new(prov, "contributor", str_or_null(e->contributor));
	json_object_set_new(prov, "consent", str_or_null(e->consent_ref));
	json_object_set_new(prov, "policy", str_or_null(e->policy_hash));
	json_object_set_new(prov, "export", json_string(w->export_id));
	json_object_set_new(prov, "episode_ref", str_or_null(e->ref));
	json_object_set_new(w->ep, "provenance", prov);
	w->outcomes[e->outcome < 0 ? 2 : e->outcome ? 1 : 0]++;
	if (e->policy_hash != NULL) {
		for (i = 0; i < w->npolicies; i++)
			if (strcmp(w->policies[i], e->policy_hash) == 0)
				break;
		if (i == w->npolicies && w->npolicies < 8)
			snprintf(w->policies[w->npolicies++], 65, "%s", e->policy_hash);
	}
	if (w->fmt >= EXPORT_PYAUTOGUI) {
		w->ep_steps = json_array();
		json_object_set_new(w->ep, w->fmt == EXPORT_PYAUTOGUI ? "traj" : "steps",
		    w->ep_steps);
	}
	return 0;
}

static int
shard_member(struct export_writer *w, const char *name, const void *p, size_t n)
{
	char rel[64];
	int r;

	if (w->shard.f != NULL && w->shard.size + n + 4096 > EXPORT_SHARD_MAX &&
	    (r = tar_close(&w->shard)) != 0)
		return r;
	if (w->shard.f == NULL) {
		char path[4096];

		snprintf(rel, sizeof(rel), "shard-%06u.tar", w->shard_no++);
		snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
		if ((r = tar_open(&w->shard, path)) != 0 || (r = file_add(w, rel)) != 0)
			return r;
	}
	return tar_add(&w->shard, name, p, n);
}

/* The target form of one step, or NULL when it cannot express it. */
static json_t *
target_form(struct export_writer *w, const struct export_step *s)
{
	char buf[UT_ACTION_TEXT_MAX * 6 + 4096];
	json_t *j;
	int r;

	switch (w->fmt) {
	case EXPORT_PYAUTOGUI:
		r = export_to_pyautogui(s->a, s->screen_w, s->screen_h, buf, sizeof(buf));
		return r == 0 ? json_string(buf) : NULL;
	case EXPORT_OSWORLD:
		r = export_to_osworld(s->a, buf, sizeof(buf));
		break;
	case EXPORT_ANTHROPIC:
		r = export_to_anthropic(s->a, buf, sizeof(buf));
		break;
	default:
		return NULL;
	}
	if (r != 0 || (j = json_loads(buf, 0, NULL)) == NULL)
		return NULL;
	if (w->fmt == EXPORT_ANTHROPIC) {
		size_t i;
		json_t *in, *calls = json_array();

		json_array_foreach(j, i, in)
			json_array_append_new(calls, json_pack("{s:s,s:s,s:O}", "type",
			    "tool_use", "name", "computer", "input", in));
		json_decref(j);
		j = calls;
	}
	return j;
}

int
export_writer_step(struct export_writer *w, const struct export_step *s)
{
	char key[32], rel[64], *line = NULL;
	uint8_t *conv = NULL;
	size_t conv_len = 0;
	json_t *st, *tf;
	const char *img_dir = w->fmt == EXPORT_JSONL ? "frames" : "images";
	int r = 0;

	if (w->ep == NULL)
		return UT_ESTATE;
	w->step_no++;
	snprintf(key, sizeof(key), "e%06u_s%06u", w->episode_no, w->step_no);
	if (w->step_no == 1) {
		w->ep_w = s->screen_w;
		w->ep_h = s->screen_h;
	}
	st = json_object();
	json_object_set_new(st, "key", json_string(key));
	json_object_set_new(st, "episode", json_integer(w->episode_no));
	json_object_set_new(st, "step", json_integer(w->step_no));
	json_object_set_new(st, "t_ms", json_integer((json_int_t)s->t_ms));
	json_object_set_new(st, "screen", json_pack("{s:i,s:i}", "w", (int)s->screen_w,
	    "h", (int)s->screen_h));
	json_object_set_new(st, "app", str_or_null(s->app));
	json_object_set_new(st, "title", str_or_null(s->title));
	json_object_set_new(st, "sensitivity", json_integer(s->sensitivity));
	json_object_set_new(st, "target", target_json(s->a, s->screen_w, s->screen_h));
	json_object_set_new(st, "usetrace", action_json(s->a, s->screen_w, s->screen_h));
	if (s->img != NULL) {
		const uint8_t *img = s->img;
		size_t n = s->img_len;
		const char *ext = w->img == EXPORT_IMG_WEBP ? "webp" : "png";

		if (s->img_is_png && w->img != EXPORT_IMG_PNG) {
			uint32_t iw, ih;

			if ((r = export_image_from_png(w->img, w->quality, s->img,
			    s->img_len, &conv, &conv_len, &iw, &ih)) != 0)
				goto done;
			img = conv;
			n = conv_len;
		}
		snprintf(rel, sizeof(rel), "%s/%s.%s", img_dir, key, ext);
		json_object_set_new(st, "image", json_string(w->fmt == EXPORT_WEBDATASET ?
		    rel + strlen(img_dir) + 1 : rel));
		w->frames++;
		w->frame_bytes += n;
		if (w->fmt == EXPORT_WEBDATASET) {
			char name[48];

			snprintf(name, sizeof(name), "%s.%s", key, ext);
			r = shard_member(w, name, img, n);
		} else {
			r = write_file(w, rel, img, n);
		}
	} else {
		json_object_set_new(st, "image", json_null());
	}
	if (r != 0)
		goto done;
	if (w->fmt >= EXPORT_PYAUTOGUI) {
		tf = target_form(w, s);
		if (tf == NULL)
			w->not_expressible++;
		json_object_set_new(st, w->fmt == EXPORT_PYAUTOGUI ? "code" :
		    w->fmt == EXPORT_OSWORLD ? "actions" : "tool_use",
		    tf != NULL ? tf : json_null());
		json_array_append(w->ep_steps, st);
	} else {
		json_object_set_new(st, "task", json_deep_copy(json_object_get(w->ep,
		    "instruction")));
		json_object_set_new(st, "provenance", provenance(w));
		line = json_dumps(st, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (line == NULL) {
			r = -ENOMEM;
			goto done;
		}
		if (w->fmt == EXPORT_WEBDATASET) {
			char name[48];

			snprintf(name, sizeof(name), "%s.json", key);
			r = shard_member(w, name, line, strlen(line));
		} else if (fprintf(w->lines, "%s\n", line) < 0) {
			r = -EIO;
		}
	}
	if (r != 0)
		goto done;
	w->steps++;
	w->by_kind[s->a->kind]++;
	w->by_sens[s->sensitivity <= 4 ? s->sensitivity : 4]++;
	count_add(w->apps, &w->napps, APPS_MAX, s->app != NULL ? s->app : "(none)");
	if (s->a->kind == UT_ACT_TYPE)
		count_redactions(w, s->a->text);
	count_redactions(w, s->title);
	w->ep_last_ms = s->t_ms + s->a->duration_ms;
done:
	if (line != NULL) {
		sodium_memzero(line, strlen(line));
		free(line);
	}
	if (conv != NULL) {
		sodium_memzero(conv, conv_len);
		free(conv);
	}
	json_decref(st);
	return r;
}

static int
episode_end(struct export_writer *w)
{
	char *line;
	int r = 0;

	if (w->ep == NULL)
		return 0;
	w->span_ms += w->ep_last_ms;
	if (w->fmt >= EXPORT_PYAUTOGUI) {
		json_object_set_new(w->ep, "steps_count", json_integer(w->step_no));
		if (w->fmt == EXPORT_ANTHROPIC)
			json_object_set_new(w->ep, "tool", json_pack("{s:s,s:s,s:i,s:i}",
			    "type", "computer_20250124", "name", "computer",
			    "display_width_px", (int)w->ep_w, "display_height_px", (int)w->ep_h));
		if (w->fmt == EXPORT_OSWORLD) {
			json_t *o = json_object_get(w->ep, "outcome");

			json_object_set_new(w->ep, "final_action", !json_is_string(o) ?
			    json_null() : json_pack("{s:s}", "action_type",
			    strcmp(json_string_value(o), "success") == 0 ? "DONE" : "FAIL"));
		}
		line = json_dumps(w->ep, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (line == NULL)
			r = -ENOMEM;
		else if (strlen(line) > LINE_MAX_BYTES)
			r = UT_ETOOBIG;
		else if (fprintf(w->lines, "%s\n", line) < 0)
			r = -EIO;
		if (line != NULL) {
			sodium_memzero(line, strlen(line));
			free(line);
		}
	}
	json_decref(w->ep);
	w->ep = NULL;
	w->ep_steps = NULL;
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
sha256_file(const char *path, char hex[65])
{
	crypto_hash_sha256_state st;
	uint8_t buf[65536], h[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		crypto_hash_sha256_update(&st, buf, (size_t)n);
	}
	close(fd);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	return r;
}

static json_t *
counts_json(const struct count *c, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, c[i].name, json_integer((json_int_t)c[i].n));
	return o;
}

static json_t *
datacard_json(const struct export_writer *w)
{
	json_t *o = json_object(), *k = json_object(), *s = json_object(), *p;
	size_t i;

	json_object_set_new(o, "export_id", json_string(w->export_id));
	json_object_set_new(o, "format", json_string(fmt_names[w->fmt]));
	json_object_set_new(o, "episodes", json_integer(w->episode_no));
	json_object_set_new(o, "steps", json_integer((json_int_t)w->steps));
	json_object_set_new(o, "frames", json_integer((json_int_t)w->frames));
	json_object_set_new(o, "image_format", json_string(w->img == EXPORT_IMG_WEBP ?
	    (w->quality > 100 ? "webp-lossless" : "webp") : "png"));
	if (w->img == EXPORT_IMG_WEBP && w->quality <= 100)
		json_object_set_new(o, "webp_quality", json_integer(w->quality > 0 ?
		    w->quality : 80));
	json_object_set_new(o, "frame_bytes", json_integer((json_int_t)w->frame_bytes));
	for (i = 0; i <= UT_ACT_MOVE; i++)
		json_object_set_new(k, action_kind_name((enum ut_action_kind)i),
		    json_integer((json_int_t)w->by_kind[i]));
	json_object_set_new(o, "actions", k);
	json_object_set_new(o, "apps", counts_json(w->apps, w->napps));
	json_object_set_new(o, "redactions", counts_json(w->redact, w->nredact));
	for (i = 1; i <= 4; i++) {
		char n[2] = { (char)('0' + i), 0 };

		json_object_set_new(s, n, json_integer((json_int_t)w->by_sens[i]));
	}
	json_object_set_new(o, "sensitivity", s);
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)w->span_ms));
	json_object_set_new(o, "outcomes", json_pack("{s:i,s:i,s:i}", "success",
	    w->outcomes[1], "failure", w->outcomes[0], "unknown", w->outcomes[2]));
	json_object_set_new(o, "not_expressible", json_integer((json_int_t)w->not_expressible));
	p = json_array();
	for (i = 0; i < w->npolicies; i++)
		json_array_append_new(p, json_string(w->policies[i]));
	json_object_set_new(o, "policies", p);
	json_object_set_new(o, "expires", str_or_null(w->expires[0] ? w->expires : NULL));
	json_object_set_new(o, "erasure", json_string(
	    "An export is a copy outside the server's key tree: erasing a person "
	    "on the server cannot make it unreadable. Run `usetrace export "
	    "revoke-check DIR` before each use and delete what it names. The "
	    "export expires on the date in `expires` (UTC), set by the policy the "
	    "data was recorded under: delete it then (revoke-check says so)."));
	return o;
}

static int
datacard_md(struct export_writer *w, const json_t *dc)
{
	char *md = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&md, &len);
	const char *k;
	json_t *v;
	int r;

	if (f == NULL)
		return -ENOMEM;
	fprintf(f, "# Datacard: export %s\n\n", w->export_id);
	fprintf(f, "- format: `%s`\n- episodes: %u\n- steps: %llu\n- frames: %llu "
	    "(%llu bytes)\n- active time: %.1f s\n- steps the format cannot "
	    "express (kept in usetrace form): %llu\n\n", fmt_names[w->fmt],
	    w->episode_no, (unsigned long long)w->steps, (unsigned long long)w->frames,
	    (unsigned long long)w->frame_bytes, (double)w->span_ms / 1000.0,
	    (unsigned long long)w->not_expressible);
	fprintf(f, "## Actions\n\n| action | steps |\n|---|---|\n");
	json_object_foreach(json_object_get(dc, "actions"), k, v)
		fprintf(f, "| %s | %lld |\n", k, (long long)json_integer_value(v));
	fprintf(f, "\n## Applications\n\n| app | steps |\n|---|---|\n");
	for (i = 0; i < w->napps; i++)
		fprintf(f, "| %s | %llu |\n", w->apps[i].name,
		    (unsigned long long)w->apps[i].n);
	fprintf(f, "\n## Redactions left as placeholders\n\n| type | count |\n|---|---|\n");
	for (i = 0; i < w->nredact; i++)
		fprintf(f, "| %s | %llu |\n", w->redact[i].name,
		    (unsigned long long)w->redact[i].n);
	fprintf(f, "\n## Sensitivity\n\n| level | steps |\n|---|---|\n");
	for (i = 1; i <= 4; i++)
		fprintf(f, "| %zu | %llu |\n", i, (unsigned long long)w->by_sens[i]);
	fprintf(f, "\n## Policies\n\n");
	for (i = 0; i < w->npolicies; i++)
		fprintf(f, "- `%s`\n", w->policies[i]);
	if (w->npolicies == 0)
		fprintf(f, "- (unknown)\n");
	fprintf(f, "\n## Expiry\n\n%s\n", w->expires[0] ? w->expires :
	    "(not known)");
	fprintf(f, "\n## Erasure\n\n%s\n", json_string_value(json_object_get(dc, "erasure")));
	if (fclose(f) != 0) {
		free(md);
		return -ENOMEM;
	}
	r = write_file(w, "DATACARD.md", md, len);
	free(md);
	return r;
}

static int
manifest(struct export_writer *w)
{
	char path[4096], hex[65], *m = NULL;
	size_t len = 0, i;
	FILE *f;
	int r = 0;

	qsort(w->files, w->nfiles, sizeof(*w->files), cmp_str);
	if ((f = open_memstream(&m, &len)) == NULL)
		return -ENOMEM;
	for (i = 0; i < w->nfiles && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->dir, w->files[i]);
		if ((r = sha256_file(path, hex)) == 0)
			fprintf(f, "%s  %s\n", hex, w->files[i]);
	}
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		r = write_file(w, "MANIFEST.sha256", m, len);
	free(m);
	return r;
}

int
export_writer_close(struct export_writer *w)
{
	json_t *dc = NULL;
	char *s = NULL;
	int r;

	if (w == NULL)
		return UT_EINVAL;
	r = episode_end(w);
	if (r == 0 && w->shard.f != NULL)
		r = tar_close(&w->shard);
	if (r == 0 && w->lines != NULL) {
		if (fflush(w->lines) != 0 || fsync(fileno(w->lines)) != 0)
			r = -errno;
		if (fclose(w->lines) != 0 && r == 0)
			r = -errno;
		w->lines = NULL;
	}
	if (r == 0) {
		dc = datacard_json(w);
		s = json_dumps(dc, JSON_INDENT(2) | JSON_SORT_KEYS);
		r = s == NULL ? -ENOMEM : write_file(w, "DATACARD.json", s, strlen(s));
	}
	if (r == 0)
		r = datacard_md(w, dc);
	if (r == 0)
		r = manifest(w);
	free(s);
	json_decref(dc);
	export_writer_abort(w);
	return r;
}

void
export_writer_abort(struct export_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->lines != NULL)
		fclose(w->lines);
	if (w->shard.f != NULL)
		fclose(w->shard.f);
	json_decref(w->ep);
	for (i = 0; i < w->nfiles; i++)
		free(w->files[i]);
	free(w->files);
	free(w->dir);
	free(w);
}
