/*
 * device_cfg.c - device.json, the one owner of that file: what `usetrace
 * enroll` received from the server (device token, device id, subject
 * pseudonym, ingest keys by day, receipt and audit keys) and the server's
 * url and pin.  Written by enroll; read by upload and record.
 *
 * Invariants:
 *  (1) A device_cfg is in sodium_malloc'd memory (it holds the device
 *      token) and wiped when freed; the file's bytes read from disk and the
 *      document written to it are wiped before they are freed.
 *  (2) device.json is written 0600 to a temporary name, fsync'd, renamed
 *      and the directory fsync'd: a crash leaves the old file or the new.
 *  (3) A file with any field missing or malformed is UT_ECORRUPT as a
 *      whole; nothing is half-loaded.  The token is never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "cli_int.h"

#define DEVICE_FILE "device.json"
#define DEVICE_FILE_MAX (64u << 10)

static int
day_ok(const char *s)
{
	int i;

	if (s == NULL || strlen(s) != 10)
		return 0;
	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
	}
	return 1;
}

static int
copy_str(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (src == NULL || (n = strlen(src)) == 0 || n >= dstsz)
		return UT_ECORRUPT;
	memcpy(dst, src, n + 1);
	return 0;
}

static int
parse_keys(const json_t *arr, struct device_cfg *d)
{
	const json_t *k;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) > DEVICE_KEYS_MAX)
		return UT_ECORRUPT;
	json_array_foreach(arr, i, k) {
		const char *day = cli_jstr(k, "day");

		if (!day_ok(day) ||
		    keys_pubkey_parse(cli_jstr(k, "pk"), d->keys[i].pk) < 0)
			return UT_ECORRUPT;
		memcpy(d->keys[i].day, day, 11);
	}
	d->nkeys = json_array_size(arr);
	return 0;
}

int
device_cfg_set_keys(struct device_cfg *d, const json_t *arr)
{
	struct device_cfg *t;
	int r;

	if ((t = sodium_malloc(sizeof(*t))) == NULL)
		ut_fatal("out of memory");
	memset(t, 0, sizeof(*t));
	if ((r = parse_keys(arr, t)) == 0) {
		memcpy(d->keys, t->keys, sizeof(d->keys));
		d->nkeys = t->nkeys;
	}
	sodium_free(t);
	return r;
}

int
device_cfg_from_json(const json_t *o, const char *url, const char *pin,
    struct device_cfg **out)
{
	struct device_cfg *d;
	int r = UT_ECORRUPT;

	if (sodium_init() < 0)
		ut_fatal("libsodium failed to initialise");
	if ((d = sodium_malloc(sizeof(*d))) == NULL)
		ut_fatal("out of memory");
	memset(d, 0, sizeof(*d));
	if (!json_is_object(o))
		goto out;
	if (copy_str(d->url, sizeof(d->url), url ? url : cli_jstr(o, "url")) < 0 ||
	    copy_str(d->pin, sizeof(d->pin), pin ? pin : cli_jstr(o, "pin")) < 0 ||
	    copy_str(d->token, sizeof(d->token), cli_jstr(o, "device_token")) < 0)
		goto out;
	if (cli_jint(o, "device_id", &d->device_id) < 0 ||
	    cli_hex_parse(cli_jstr(o, "subject_id"), d->subject_id, 16) < 0 ||
	    keys_pubkey_parse(cli_jstr(o, "receipt_pk"), d->receipt_pk) < 0 ||
	    keys_pubkey_parse(cli_jstr(o, "audit_pk"), d->audit_pk) < 0)
		goto out;
	r = parse_keys(json_object_get(o, "ingest_keys"), d);
out:
	if (r < 0) {
		device_cfg_free(d);
		return r;
	}
	*out = d;
	return 0;
}

int
device_cfg_load(const char *home, struct device_cfg **out)
{
	char path[4096];
	unsigned char *buf = NULL;
	size_t len = 0;
	json_error_t je;
	json_t *j = NULL;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", home, DEVICE_FILE) >=
	    sizeof(path))
		return UT_ETOOBIG;
	r = fsio_read_file(path, DEVICE_FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return UT_ENOTFOUND;
	if (r < 0)
		return r;
	j = json_loadb((const char *)buf, len, 0, &je);
	sodium_memzero(buf, len);
	free(buf);
	if (j == NULL)
		return UT_ECORRUPT;
	r = device_cfg_from_json(j, NULL, NULL, out);
	json_decref(j);
	return r;
}

/* The document for d; the caller wipes and frees *doc with sodium_free. */
static int
format_doc(const struct device_cfg *d, char **doc, size_t *len)
{
	char txt[UT_PUBKEY_TEXT_MAX], sub[33];
	json_t *o, *keys;
	size_t i, n;
	int r = UT_EINVAL;

	sodium_bin2hex(sub, sizeof(sub), d->subject_id, 16);
	keys = json_array();
	for (i = 0; keys != NULL && i < d->nkeys; i++) {
		keys_pubkey_format(d->keys[i].pk, txt, sizeof(txt));
		if (json_array_append_new(keys, json_pack("{s:s, s:s}", "day",
		    d->keys[i].day, "pk", txt)) < 0)
			goto out0;
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "url", d->url, "pin",
	    d->pin, "device_token", d->token, "device_id",
	    (json_int_t)d->device_id, "subject_id", sub, "ingest_keys", keys);
	keys = NULL;
	if (o == NULL)
		goto out0;
	keys_pubkey_format(d->receipt_pk, txt, sizeof(txt));
	json_object_set_new(o, "receipt_pk", json_string(txt));
	keys_pubkey_format(d->audit_pk, txt, sizeof(txt));
	json_object_set_new(o, "audit_pk", json_string(txt));
	n = json_dumpb(o, NULL, 0, JSON_INDENT(2));
	if (n > 0 && (*doc = sodium_malloc(n + 1)) != NULL) {
		*len = json_dumpb(o, *doc, n, JSON_INDENT(2));
		(*doc)[(*len)++] = '\n';
		r = 0;
	}
	json_decref(o);
out0:
	json_decref(keys);
	return r;
}

int
device_cfg_save(const char *home, const struct device_cfg *d)
{
	char path[4096], tmp[4200];
	char *doc = NULL;
	size_t len = 0;
	int fd = -1, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", home, DEVICE_FILE) >=
	    sizeof(path))
		return UT_ETOOBIG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((r = format_doc(d, &doc, &len)) < 0)
		return r;
	(void)unlink(tmp);
	fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if ((r = fsio_write_all(fd, doc, len)) < 0 || (r = fsio_fsync(fd)) < 0)
		goto out;
	r = fsio_close(fd);
	fd = -1;
	if (r < 0 || (r = fsio_rename(tmp, path)) < 0)
		goto out;
	r = fsio_fsync_dir(home);
out:
	if (fd >= 0) {
		fsio_close(fd);
		unlink(tmp);
	} else if (r < 0) {
		unlink(tmp);
	}
	sodium_free(doc);
	return r;
}

void
device_cfg_free(struct device_cfg *d)
{
	if (d != NULL)
		sodium_free(d);	/* wipes */
}

const uint8_t *
device_cfg_ingest_key(const struct device_cfg *d, const char *day)
{
	size_t i;

	for (i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].day, day) == 0)
			return d->keys[i].pk;
	return NULL;
}
