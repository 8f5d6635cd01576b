/*
 * policy.c - strict YAML policy parser (libyaml document API) and the
 * matching rules for applications and titles.
 *
 * The whole file is loaded as one YAML document; every field is checked
 * for its type and range, unknown or duplicate fields are errors, and each
 * error names the line (1-based) and field.  The parsed policy owns copies
 * of all strings.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <yaml.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"

#define POLICY_FILE_MAX (1u << 20)
/*
 * Deepest nesting of mappings and sequences accepted.  A policy needs 3;
 * libyaml's loader takes quadratic time in the depth (100,000 levels: a
 * minute), so depth is checked on the event stream first, which stops at
 * the first level past the cap.
 */
#define POLICY_DEPTH_MAX 32

static const struct {
	uint32_t bit;
	const char *name, *desc;
} cats[] = {
	{ UT_CAT_KEYS, "keys", "Keystrokes: which keys you press, including shortcuts such as Ctrl+C" },
	{ UT_CAT_TEXT, "text", "Typed text: the characters your typing produces, after secrets and personal data are replaced by placeholders" },
	{ UT_CAT_POINTER, "pointer", "Pointer: mouse moves, clicks, drags and scrolling, with screen positions" },
	{ UT_CAT_APPS, "apps", "Applications: the name of the application you are using" },
	{ UT_CAT_TITLES, "titles", "Window titles: the title of the focused window, after secrets and personal data are replaced" },
	{ UT_CAT_FRAMES, "frames", "Screen images: what is on your screen, with denied windows and secure input blacked out" },
	{ UT_CAT_TARGETS, "targets", "Target elements: the role and name of the button, field or item you clicked or typed into, after secrets and personal data are replaced, and its position" },
};

const char *
policy_category_name(uint32_t bit)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_LEN(cats); i++)
		if (cats[i].bit == bit)
			return cats[i].name;
	return NULL;
}

const char *
policy_category_desc(uint32_t bit)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_LEN(cats); i++)
		if (cats[i].bit == bit)
			return cats[i].desc;
	return NULL;
}

struct pctx {
	yaml_document_t *doc;
	char *err;
	size_t errsz;
};

static int
perr(struct pctx *c, const yaml_node_t *n, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
perr(struct pctx *c, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errsz, "line %lu: %s: %s",
	    n ? (unsigned long)n->start_mark.line + 1 : 0ul, field, msg);
	return UT_EPARSE;
}

static const char *
scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int
get_u64(struct pctx *c, const yaml_node_t *n, const char *field, uint64_t min,
    uint64_t max, uint64_t *out)
{
	const char *s = scalar(n);
	uint64_t v;

	if (s == NULL || ut_parse_u64(s, &v) < 0)
		return perr(c, n, field, "expected a whole number");
	if (v < min || v > max)
		return perr(c, n, field, "%llu is out of range %llu..%llu",
		    (unsigned long long)v, (unsigned long long)min,
		    (unsigned long long)max);
	*out = v;
	return 0;
}

static int
get_str(struct pctx *c, const yaml_node_t *n, const char *field, char **out)
{
	const char *s = scalar(n);

	if (s == NULL)
		return perr(c, n, field, "expected text");
	if (strlen(s) > 1024)
		return perr(c, n, field, "longer than 1024 bytes");
	free(*out);
	*out = xstrdup(s);
	return 0;
}

static int
get_list(struct pctx *c, const yaml_node_t *n, const char *field,
    struct policy_list *l)
{
	yaml_node_item_t *it;
	const yaml_node_t *e;
	const char *s;

	if (n->type != YAML_SEQUENCE_NODE)
		return perr(c, n, field, "expected a list");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		e = yaml_document_get_node(c->doc, *it);
		if ((s = scalar(e)) == NULL || *s == '\0')
			return perr(c, e, field, "expected a non-empty text item");
		if (strlen(s) > 256)
			return perr(c, e, field, "item longer than 256 bytes");
		if (l->n == POLICY_LIST_MAX)
			return perr(c, e, field, "more than %d items", POLICY_LIST_MAX);
		l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = xstrdup(s);
	}
	return 0;
}

/* "30m", "90s", "1h"; max_ms bounds it. */
static int
get_duration(struct pctx *c, const yaml_node_t *n, const char *field,
    uint64_t max_ms, uint64_t *out)
{
	const char *s = scalar(n);
	uint64_t v;

	if (s == NULL || ut_parse_duration_ms(s, &v) < 0 || v == 0)
		return perr(c, n, field, "expected a duration such as 90s, 10m or 1h");
	if (v > max_ms)
		return perr(c, n, field, "longer than allowed");
	*out = v;
	return 0;
}

static int
get_days(struct pctx *c, const yaml_node_t *n, const char *field, uint32_t *out)
{
	const char *s = scalar(n);
	char num[16];
	size_t k;
	uint64_t v;

	if (s == NULL || (k = strlen(s)) < 2 || k >= sizeof(num) || s[k - 1] != 'd')
		return perr(c, n, field, "expected a number of days such as 90d");
	memcpy(num, s, k - 1);
	num[k - 1] = '\0';
	if (ut_parse_u64(num, &v) < 0 || v == 0 || v > 3650)
		return perr(c, n, field, "expected 1d .. 3650d");
	*out = (uint32_t)v;
	return 0;
}

static int
get_size(struct pctx *c, const yaml_node_t *n, const char *field, uint64_t *out)
{
	static const struct { const char *u; uint64_t m; } units[] = {
		{ "B", 1 }, { "KB", 1000 }, { "MB", 1000000 }, { "GB", 1000000000 },
		{ "KiB", 1024 }, { "MiB", 1048576 }, { "GiB", 1073741824 },
	};
	const char *s = scalar(n);
	char num[24];
	size_t i = 0, u;
	uint64_t v;

	if (s == NULL)
		return perr(c, n, field, "expected a size such as 512MB");
	while (isdigit((unsigned char)s[i]) && i < sizeof(num) - 1) {
		num[i] = s[i];
		i++;
	}
	num[i] = '\0';
	if (ut_parse_u64(num, &v) < 0)
		return perr(c, n, field, "expected a size such as 512MB");
	for (u = 0; u < UT_ARRAY_LEN(units); u++) {
		if (strcmp(s + i, units[u].u) == 0) {
			if (v > UINT64_MAX / units[u].m || v * units[u].m < (1u << 20))
				return perr(c, n, field, "must be between 1 MiB and 16 EiB");
			*out = v * units[u].m;
			return 0;
		}
	}
	return perr(c, n, field, "unknown unit '%s' (B, KB, MB, GB, KiB, MiB, GiB)", s + i);
}

/* Iterates a mapping's pairs; rejects non-scalar and duplicate keys. */
typedef int (*field_fn)(struct pctx *c, struct policy *p, const char *key,
    const yaml_node_t *k, const yaml_node_t *v);

static int
each_pair(struct pctx *c, struct policy *p, const yaml_node_t *map,
    const char *what, field_fn fn)
{
	yaml_node_pair_t *pr, *q;
	const yaml_node_t *k, *v;
	const char *ks;
	int r;

	if (map->type != YAML_MAPPING_NODE)
		return perr(c, map, what, "expected a mapping of fields");
	for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		k = yaml_document_get_node(c->doc, pr->key);
		v = yaml_document_get_node(c->doc, pr->value);
		if ((ks = scalar(k)) == NULL)
			return perr(c, k, what, "field names must be text");
		for (q = map->data.mapping.pairs.start; q < pr; q++) {
			const char *o = scalar(yaml_document_get_node(c->doc, q->key));

			if (o != NULL && strcmp(o, ks) == 0)
				return perr(c, k, ks, "given twice");
		}
		if ((r = fn(c, p, ks, k, v)) < 0)
			return r;
	}
	return 0;
}

static int
f_frames(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	uint64_t x;
	int r;

	if (strcmp(key, "fps") == 0) {
		if ((r = get_u64(c, v, "frames.fps", 1, 30, &x)) < 0)
			return r;
		p->frame_fps = (uint32_t)x;
		return 0;
	}
	if (strcmp(key, "quality") == 0) {
		if ((r = get_u64(c, v, "frames.quality", 1, 100, &x)) < 0)
			return r;
		p->frame_quality = (uint32_t)x;
		return 0;
	}
	if (strcmp(key, "lossless") == 0) {
		const char *s = scalar(v);

		if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
			p->frame_lossless = strcmp(s, "true") == 0;
			return 0;
		}
		return perr(c, v, "frames.lossless", "expected true or false");
	}
	return perr(c, k, "frames", "unknown field '%s'", key);
}

static int
f_apps(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	if (strcmp(key, "allow") == 0)
		return get_list(c, v, "applications.allow", &p->allow_apps);
	if (strcmp(key, "deny") == 0)
		return get_list(c, v, "applications.deny", &p->deny_apps);
	if (strcmp(key, "sensitive") == 0)
		return get_list(c, v, "applications.sensitive", &p->sensitive_apps);
	return perr(c, k, "applications", "unknown field '%s'", key);
}

static int
f_titles(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	if (strcmp(key, "deny") == 0)
		return get_list(c, v, "titles.deny", &p->deny_titles);
	return perr(c, k, "titles", "unknown field '%s'", key);
}

static int
f_pause(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	if (strcmp(key, "max") == 0)
		return get_duration(c, v, "pause.max", 24ull * 3600 * 1000, &p->pause_max_ms);
	return perr(c, k, "pause", "unknown field '%s'", key);
}

static int
f_export(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	uint64_t x;
	int r;

	if (strcmp(key, "max_sensitivity") == 0) {
		if ((r = get_u64(c, v, "export.max_sensitivity", 1, 3, &x)) < 0)
			return r;
		p->export_max_sensitivity = (uint8_t)x;
		return 0;
	}
	if (strcmp(key, "expire") == 0)
		return get_days(c, v, "export.expire", &p->export_expire_days);
	return perr(c, k, "export", "unknown field '%s'", key);
}

static int
f_spool(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	if (strcmp(key, "budget") == 0)
		return get_size(c, v, "spool.budget", &p->spool_budget_bytes);
	return perr(c, k, "spool", "unknown field '%s'", key);
}

static int
f_collect(struct pctx *c, struct policy *p, const yaml_node_t *v)
{
	struct policy_list l = { NULL, 0 };
	size_t i, j;
	int r = 0;
	yaml_node_item_t *it;

	if ((r = get_list(c, v, "collect", &l)) < 0)
		goto out;
	if (l.n == 0) {
		r = perr(c, v, "collect", "empty (list the data categories collected)");
		goto out;
	}
	it = v->data.sequence.items.start;
	for (i = 0; i < l.n; i++, it++) {
		for (j = 0; j < UT_ARRAY_LEN(cats); j++)
			if (strcmp(l.v[i], cats[j].name) == 0)
				break;
		if (j == UT_ARRAY_LEN(cats)) {
			r = perr(c, yaml_document_get_node(c->doc, *it), "collect",
			    "unknown category '%s' (known: keys, text, pointer, "
			    "apps, titles, frames, targets)", l.v[i]);
			goto out;
		}
		p->categories |= cats[j].bit;
	}
	if ((p->categories & UT_CAT_TEXT) && !(p->categories & UT_CAT_KEYS))
		r = perr(c, v, "collect", "'text' needs 'keys' (text is derived from key presses)");
	else if ((p->categories & UT_CAT_TARGETS) &&
	    !(p->categories & (UT_CAT_KEYS | UT_CAT_POINTER)))
		r = perr(c, v, "collect", "'targets' needs 'pointer' or 'keys' (a "
		    "target is the element of a click or of typing)");
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r;
}

static int
f_top(struct pctx *c, struct policy *p, const char *key, const yaml_node_t *k,
    const yaml_node_t *v)
{
	uint64_t x;
	int r;

	if (strcmp(key, "version") == 0) {
		if ((r = get_u64(c, v, "version", 1, UINT32_MAX, &x)) < 0)
			return r;
		p->version = (uint32_t)x;
		return 0;
	}
	if (strcmp(key, "organisation") == 0)
		return get_str(c, v, "organisation", &p->organisation);
	if (strcmp(key, "contact") == 0)
		return get_str(c, v, "contact", &p->contact);
	if (strcmp(key, "collect") == 0)
		return f_collect(c, p, v);
	if (strcmp(key, "frames") == 0)
		return each_pair(c, p, v, "frames", f_frames);
	if (strcmp(key, "applications") == 0)
		return each_pair(c, p, v, "applications", f_apps);
	if (strcmp(key, "titles") == 0)
		return each_pair(c, p, v, "titles", f_titles);
	if (strcmp(key, "pause") == 0)
		return each_pair(c, p, v, "pause", f_pause);
	if (strcmp(key, "retention") == 0)
		return get_days(c, v, "retention", &p->retention_days);
	if (strcmp(key, "export") == 0)
		return each_pair(c, p, v, "export", f_export);
	if (strcmp(key, "spool") == 0)
		return each_pair(c, p, v, "spool", f_spool);
	if (strcmp(key, "detectors") == 0) {
		if (scalar(v) != NULL && strcmp(scalar(v), "all") == 0) {
			p->detectors_all = true;
			return 0;
		}
		if (v->type != YAML_SEQUENCE_NODE)
			return perr(c, v, "detectors", "expected 'all' or a list of detector types");
		p->detectors_all = false;
		return get_list(c, v, "detectors", &p->detectors);
	}
	return perr(c, k, key, "unknown field");
}

static void
list_free(struct policy_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
list_copy(struct policy_list *d, const struct policy_list *s)
{
	size_t i;

	d->n = s->n;
	d->v = s->n ? xcalloc(s->n, sizeof(*d->v)) : NULL;
	for (i = 0; i < s->n; i++)
		d->v[i] = xstrdup(s->v[i]);
}

struct policy *
policy_copy(const struct policy *p)
{
	struct policy *c = xcalloc(1, sizeof(*c));

	*c = *p;
	c->organisation = xstrdup(p->organisation);
	c->contact = xstrdup(p->contact);
	list_copy(&c->allow_apps, &p->allow_apps);
	list_copy(&c->deny_apps, &p->deny_apps);
	list_copy(&c->sensitive_apps, &p->sensitive_apps);
	list_copy(&c->deny_titles, &p->deny_titles);
	list_copy(&c->detectors, &p->detectors);
	return c;
}

void
policy_destroy(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->organisation);
	free(p->contact);
	list_free(&p->allow_apps);
	list_free(&p->deny_apps);
	list_free(&p->sensitive_apps);
	list_free(&p->deny_titles);
	list_free(&p->detectors);
	free(p);
}

/*
 * First pass over the events: 0 when no collection nests deeper than
 * POLICY_DEPTH_MAX, else UT_EPARSE with the line in err.  Syntax errors
 * are left to the loader (0), which reports them the same way.
 */
static int
check_depth(const char *text, size_t len, char *err, size_t errsz)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, r = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		ut_fatal("out of memory in yaml_parser_initialize");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev))
			break;
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > POLICY_DEPTH_MAX) {
				snprintf(err, errsz, "line %lu: policy: nested "
				    "deeper than %d levels",
				    (unsigned long)ev.start_mark.line + 1,
				    POLICY_DEPTH_MAX);
				r = UT_EPARSE;
				done = 1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return r;
}

/* A second YAML document ("---") would be ignored silently: refuse it. */
static int
only_document(yaml_parser_t *parser, char *err, size_t errsz)
{
	yaml_document_t more;
	int r = 0;

	if (!yaml_parser_load(parser, &more)) {
		snprintf(err, errsz, "line %lu: syntax: %s",
		    (unsigned long)parser->problem_mark.line + 1,
		    parser->problem ? parser->problem : "malformed YAML");
		return UT_EPARSE;
	}
	if (yaml_document_get_root_node(&more) != NULL) {
		snprintf(err, errsz, "line %lu: policy: a second document "
		    "(one policy per file)",
		    (unsigned long)more.start_mark.line + 1);
		r = UT_EPARSE;
	}
	yaml_document_delete(&more);
	return r;
}

int
policy_parse(const char *text, size_t len, struct policy **out, char *err,
    size_t errsz)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct policy *p;
	struct pctx c;
	int r, have_doc = 0;

	if (len > POLICY_FILE_MAX) {
		snprintf(err, errsz, "policy larger than %u bytes", POLICY_FILE_MAX);
		return UT_ETOOBIG;
	}
	if (check_depth(text, len, err, errsz) < 0)
		return UT_EPARSE;
	p = xcalloc(1, sizeof(*p));
	p->frame_fps = 1;
	p->frame_quality = 80;
	p->pause_max_ms = 30ull * 60 * 1000;
	p->retention_days = 90;
	p->export_max_sensitivity = 2;
	p->export_expire_days = 90;
	p->detectors_all = true;
	p->spool_budget_bytes = 2000000000ull;
	c.err = err;
	c.errsz = errsz;
	c.doc = &doc;
	if (!yaml_parser_initialize(&parser))
		ut_fatal("out of memory in yaml_parser_initialize");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errsz, "line %lu: syntax: %s",
		    (unsigned long)parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "malformed YAML");
		r = UT_EPARSE;
		goto out;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		snprintf(err, errsz, "line 1: policy: the file is empty");
		r = UT_EPARSE;
		goto out;
	}
	if ((r = each_pair(&c, p, root, "policy", f_top)) < 0)
		goto out;
	if ((r = only_document(&parser, err, errsz)) < 0)
		goto out;
	if (p->version == 0) {
		snprintf(err, errsz, "line 1: version: missing (a whole number, "
		    "raised on every change)");
		r = UT_EPARSE;
		goto out;
	}
	if (p->categories == 0) {
		snprintf(err, errsz, "line 1: collect: missing or empty "
		    "(list the data categories collected)");
		r = UT_EPARSE;
		goto out;
	}
	if (p->organisation == NULL)
		p->organisation = xstrdup("(organisation not named)");
	if (p->contact == NULL)
		p->contact = xstrdup("(no contact given)");
	crypto_generichash(p->hash, sizeof(p->hash), (const unsigned char *)text,
	    len, NULL, 0);
	sodium_bin2hex(p->hash_hex, sizeof(p->hash_hex), p->hash, POLICY_HASH_LEN);
	*out = p;
	p = NULL;
	r = 0;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	policy_destroy(p);
	return r;
}

int
policy_load(const char *path, struct policy **out, char *err, size_t errsz)
{
	unsigned char *d = NULL;
	size_t n;
	int r;

	if (path == NULL) {
		const char *t = policy_default_text();

		return policy_parse(t, strlen(t), out, err, errsz);
	}
	if ((r = fsio_read_file(path, POLICY_FILE_MAX, &d, &n)) < 0) {
		snprintf(err, errsz, "cannot read %s: %s", path, ut_strerror(r));
		return r;
	}
	r = policy_parse((const char *)d, n, out, err, errsz);
	free(d);
	return r;
}

static bool
list_match(const struct policy_list *l, const char *s, int flags)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return false;
	for (i = 0; i < l->n; i++)
		if (fnmatch(l->v[i], s, flags) == 0)
			return true;
	return false;
}

bool
policy_app_denied(const struct policy *p, const char *app, const char *instance)
{
	if (list_match(&p->deny_apps, app, FNM_CASEFOLD) ||
	    list_match(&p->deny_apps, instance, FNM_CASEFOLD))
		return true;
	if (p->allow_apps.n > 0 && !list_match(&p->allow_apps, app, FNM_CASEFOLD) &&
	    !list_match(&p->allow_apps, instance, FNM_CASEFOLD))
		return true;
	return false;
}

bool
policy_app_sensitive(const struct policy *p, const char *app, const char *instance)
{
	return list_match(&p->sensitive_apps, app, FNM_CASEFOLD) ||
	    list_match(&p->sensitive_apps, instance, FNM_CASEFOLD);
}

bool
policy_title_denied(const struct policy *p, const char *title)
{
	return list_match(&p->deny_titles, title, FNM_CASEFOLD);
}

bool
policy_window_denied(const struct policy *p, const char *app,
    const char *instance, const char *title)
{
	return p != NULL && (policy_app_denied(p, app, instance) ||
	    policy_title_denied(p, title));
}
