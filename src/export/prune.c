/*
 * prune.c - reading an export directory back by episode, and removing
 * episodes from it (`usetrace export revoke-check DIR --prune`).
 *
 * The format comes from DATACARD.json.  Steps files and shards are
 * rewritten to a temporary name and renamed over the old one, so a crash
 * leaves either the old or the new file; MANIFEST.sha256 is rewritten
 * last, from the files then present, so until it is, a reader checking the
 * manifest sees the prune as unfinished.
 */
#include <dirent.h>
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
#include "export_int.h"

#define NAMES_MAX 4000000u

static int
format_of(const char *dir, enum export_format *f)
{
	char path[4096];
	json_t *dc;
	int r;

	snprintf(path, sizeof(path), "%s/DATACARD.json", dir);
	if ((dc = json_load_file(path, 0, NULL)) == NULL)
		return UT_ENOTFOUND;
	r = export_format_parse(json_string_value(json_object_get(dc, "format")), f);
	json_decref(dc);
	return r == 0 ? 0 : UT_EPARSE;
}

static const char *
ref_of(const json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "provenance"),
	    "episode_ref"));
}

/* Reads one ustar member header; 1 with name/size, 0 at the end, < 0 bad. */
static int
tar_next(FILE *f, char name[101], uint64_t *size)
{
	uint8_t h[512];
	size_t i;
	int zero = 1;

	if (fread(h, 1, sizeof(h), f) != sizeof(h))
		return UT_ECORRUPT;
	for (i = 0; i < sizeof(h) && zero; i++)
		zero = h[i] == 0;
	if (zero)
		return 0;
	memcpy(name, h, 100);
	name[100] = '\0';
	*size = 0;
	for (i = 124; i < 135 && h[i] >= '0' && h[i] <= '7'; i++)
		*size = *size * 8 + (uint64_t)(h[i] - '0');
	if (*size > EXPORT_SHARD_MAX)
		return UT_ECORRUPT;
	return 1;
}

static int
read_exact(FILE *f, uint64_t n, char **out)
{
	char *p = malloc((size_t)n + 1);
	uint64_t pad = (512 - n % 512) % 512;

	if (p == NULL)
		return -ENOMEM;
	if (fread(p, 1, (size_t)n, f) != n || fseek(f, (long)pad, SEEK_CUR) != 0) {
		free(p);
		return UT_ECORRUPT;
	}
	p[n] = '\0';
	*out = p;
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted shard names in dir (malloc'd array of malloc'd strings). */
static int
shards(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t k = 0;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL && k < NAMES_MAX) {
		if (strncmp(e->d_name, "shard-", 6) != 0 ||
		    strcmp(e->d_name + strlen(e->d_name) - 4, ".tar") != 0)
			continue;
		v = realloc(v, (k + 1) * sizeof(*v));
		if (v == NULL || (v[k] = strdup(e->d_name)) == NULL)
			abort();
		k++;
	}
	closedir(d);
	if (k > 0)
		qsort(v, k, sizeof(*v), cmp_name);
	*out = v;
	*n = k;
	return 0;
}

static void
names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* One step or episode object: fn once per new episode number. */
static int
visit(const char *text, unsigned *last,
    int (*fn)(unsigned episode, const char *ref, void *arg), void *arg)
{
	json_t *o = json_loads(text, 0, NULL);
	unsigned ep;
	int r = 0;

	if (o == NULL)
		return UT_EPARSE;
	ep = (unsigned)json_integer_value(json_object_get(o, "episode"));
	if (ep != *last)
		r = fn(ep, ref_of(o), arg);
	*last = ep;
	json_decref(o);
	return r;
}

int
export_episodes(const char *dir,
    int (*fn)(unsigned episode, const char *ref, void *arg), void *arg)
{
	enum export_format f;
	char path[4096], *line = NULL, name[101], **sh = NULL, *data;
	size_t cap = 0, nsh = 0, i;
	unsigned last = 0;
	uint64_t size;
	FILE *fp;
	int r;

	if ((r = format_of(dir, &f)) != 0)
		return r;
	if (f == EXPORT_WEBDATASET) {
		if ((r = shards(dir, &sh, &nsh)) != 0)
			return r;
		for (i = 0; i < nsh && r == 0; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, sh[i]);
			if ((fp = fopen(path, "rb")) == NULL) {
				r = -errno;
				break;
			}
			while (r == 0 && (r = tar_next(fp, name, &size)) == 1) {
				r = 0;
				if (strlen(name) < 5 || strcmp(name + strlen(name) - 5, ".json") != 0) {
					r = fseek(fp, (long)(size + (512 - size % 512) % 512),
					    SEEK_CUR) == 0 ? 0 : UT_ECORRUPT;
					continue;
				}
				if ((r = read_exact(fp, size, &data)) != 0)
					break;
				r = visit(data, &last, fn, arg);
				free(data);
			}
			fclose(fp);
		}
		names_free(sh, nsh);
		return r < 0 ? r : 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, f == EXPORT_JSONL ? "steps.jsonl" :
	    "episodes.jsonl");
	if ((fp = fopen(path, "r")) == NULL)
		return UT_ENOTFOUND;
	while (r == 0 && getline(&line, &cap, fp) > 0)
		r = visit(line, &last, fn, arg);
	free(line);
	fclose(fp);
	return r < 0 ? r : 0;
}

static bool
pruned(const unsigned *eps, size_t n, unsigned ep)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (eps[i] == ep)
			return true;
	return false;
}

/* "eNNNNNN_..." -> NNNNNN, 0 when not such a name. */
static unsigned
episode_of_name(const char *name)
{
	unsigned v = 0;
	int i;

	if (name[0] != 'e')
		return 0;
	for (i = 1; i <= 6; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(name[i] - '0');
	}
	return name[7] == '_' ? v : 0;
}

/* Writes tmp then renames it over path, durably. */
static int
replace_file(const char *dir, const char *path, const char *tmp)
{
	if (fsio_rename(tmp, path) != 0)
		return -errno;
	return fsio_fsync_dir(dir);
}

static int
finish_tmp(FILE *f)
{
	int r = 0;

	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

static int
prune_lines(const char *dir, const char *file, const unsigned *eps, size_t n)
{
	char path[4096], tmp[4200], *line = NULL;
	size_t cap = 0;
	FILE *in, *out;
	json_t *o;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((in = fopen(path, "r")) == NULL)
		return -errno;
	if ((out = fopen(tmp, "w")) == NULL) {
		r = -errno;
		fclose(in);
		return r;
	}
	while (r == 0 && getline(&line, &cap, in) > 0) {
		if ((o = json_loads(line, 0, NULL)) == NULL) {
			r = UT_EPARSE;
			break;
		}
		if (!pruned(eps, n, (unsigned)json_integer_value(json_object_get(o,
		    "episode"))) && fputs(line, out) < 0)
			r = -EIO;
		json_decref(o);
	}
	if (line != NULL)
		sodium_memzero(line, cap);
	free(line);
	fclose(in);
	if (finish_tmp(out) != 0 && r == 0)
		r = -EIO;
	if (r == 0)
		r = replace_file(dir, path, tmp);
	else
		unlink(tmp);
	return r;
}

/* Deletes sub/eNNNNNN_* of the pruned episodes. */
static int
prune_images(const char *dir, const char *sub, const unsigned *eps, size_t n)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		unsigned ep = episode_of_name(e->d_name);

		if (ep == 0 || !pruned(eps, n, ep))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, e->d_name);
		if (unlink(path) != 0 && r == 0)
			r = -errno;
	}
	closedir(d);
	return r;
}

static int
prune_shards(const char *dir, const unsigned *eps, size_t n)
{
	char **sh = NULL, path[4096], tmp[4200], name[101], *data;
	size_t nsh = 0, i;
	uint64_t size;
	struct tar t;
	FILE *in;
	int r;

	if ((r = shards(dir, &sh, &nsh)) != 0)
		return r;
	for (i = 0; i < nsh && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sh[i]);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		if ((in = fopen(path, "rb")) == NULL) {
			r = -errno;
			break;
		}
		unlink(tmp);
		if ((r = tar_open(&t, tmp)) != 0) {
			fclose(in);
			break;
		}
		while ((r = tar_next(in, name, &size)) == 1) {
			if ((r = read_exact(in, size, &data)) != 0)
				break;
			if (!pruned(eps, n, episode_of_name(name)))
				r = tar_add(&t, name, data, (size_t)size);
			sodium_memzero(data, (size_t)size);
			free(data);
			if (r != 0)
				break;
		}
		fclose(in);
		if (tar_close(&t) != 0 && r == 0)
			r = -EIO;
		if (r == 0)
			r = replace_file(dir, path, tmp);
		else
			unlink(tmp);
	}
	names_free(sh, nsh);
	return r;
}

/* Every regular file under dir (relative), but MANIFEST.sha256 itself. */
static int
walk(const char *dir, const char *rel, char ***v, size_t *n)
{
	char path[8400], sub[4096];
	DIR *d;
	struct dirent *e;
	struct stat st;
	int r = 0;

	snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	if ((d = opendir(path)) == NULL)
		return -errno;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, sub);
		if (lstat(path, &st) != 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			r = walk(dir, sub, v, n);
			continue;
		}
		if (!S_ISREG(st.st_mode) || strcmp(sub, "MANIFEST.sha256") == 0)
			continue;
		if (*n == NAMES_MAX) {
			r = UT_ETOOBIG;
			break;
		}
		*v = realloc(*v, (*n + 1) * sizeof(**v));
		if (*v == NULL || ((*v)[*n] = strdup(sub)) == NULL)
			abort();
		(*n)++;
	}
	closedir(d);
	return r;
}

static int
rewrite_manifest(const char *dir)
{
	char **v = NULL, path[4096], tmp[4200], hex[65];
	uint8_t buf[65536], h[32];
	crypto_hash_sha256_state st;
	size_t n = 0, i;
	ssize_t k;
	FILE *out;
	int fd, r;

	if ((r = walk(dir, "", &v, &n)) != 0)
		goto done;
	qsort(v, n, sizeof(*v), cmp_name);
	snprintf(tmp, sizeof(tmp), "%s/MANIFEST.sha256.tmp", dir);
	if ((out = fopen(tmp, "w")) == NULL) {
		r = -errno;
		goto done;
	}
	for (i = 0; i < n && r == 0; i++) {
		if (strcmp(v[i], "MANIFEST.sha256.tmp") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, v[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			r = -errno;
			break;
		}
		crypto_hash_sha256_init(&st);
		while ((k = read(fd, buf, sizeof(buf))) > 0)
			crypto_hash_sha256_update(&st, buf, (size_t)k);
		if (k < 0)
			r = -errno;
		close(fd);
		crypto_hash_sha256_final(&st, h);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		fprintf(out, "%s  %s\n", hex, v[i]);
	}
	if (finish_tmp(out) != 0 && r == 0)
		r = -EIO;
	snprintf(path, sizeof(path), "%s/MANIFEST.sha256", dir);
	if (r == 0)
		r = replace_file(dir, path, tmp);
	else
		unlink(tmp);
done:
	names_free(v, n);
	return r;
}

static int
note_pruned(const char *dir, const unsigned *eps, size_t n)
{
	char path[4096], tmp[4200];
	json_t *dc, *p;
	size_t i;
	int r;

	snprintf(path, sizeof(path), "%s/DATACARD.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((dc = json_load_file(path, 0, NULL)) == NULL)
		return UT_EPARSE;
	if (!json_is_array(p = json_object_get(dc, "pruned_episodes"))) {
		p = json_array();
		json_object_set_new(dc, "pruned_episodes", p);
	}
	for (i = 0; i < n; i++)
		json_array_append_new(p, json_integer(eps[i]));
	json_object_set_new(dc, "note", json_string("counts are as exported; "
	    "pruned_episodes were removed later by revoke-check --prune"));
	r = json_dump_file(dc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? 0 : -EIO;
	json_decref(dc);
	if (r == 0)
		r = replace_file(dir, path, tmp);
	return r;
}

int
export_prune(const char *dir, const unsigned *eps, size_t n)
{
	enum export_format f;
	int r;

	if ((r = format_of(dir, &f)) != 0)
		return r;
	if (n == 0)
		return 0;
	switch (f) {
	case EXPORT_JSONL:
		if ((r = prune_lines(dir, "steps.jsonl", eps, n)) == 0)
			r = prune_images(dir, "frames", eps, n);
		break;
	case EXPORT_WEBDATASET:
		r = prune_shards(dir, eps, n);
		break;
	default:
		if ((r = prune_lines(dir, "episodes.jsonl", eps, n)) == 0)
			r = prune_images(dir, "images", eps, n);
		break;
	}
	if (r == 0)
		r = note_pruned(dir, eps, n);
	if (r == 0)
		r = rewrite_manifest(dir);
	return r;
}
