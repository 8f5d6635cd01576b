/*
 * consent.c - consent records (see consent.h), stored as a small JSON
 * object written atomically: temp file, fsync, rename, fsync of the
 * directory, so a crash leaves either the old or the new consent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/consent.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/util.h"

#define CONSENT_FILE "consent.json"

int
consent_load(const char *home, struct consent *out)
{
	char path[4096];
	unsigned char *d = NULL;
	size_t n;
	json_t *j = NULL;
	json_error_t je;
	const char *id, *hash;
	json_int_t ver, when;
	int wd = 0, r;

	snprintf(path, sizeof(path), "%s/%s", home, CONSENT_FILE);
	if ((r = fsio_read_file(path, 65536, &d, &n)) < 0)
		return r == -ENOENT ? UT_ENOTFOUND : r;
	j = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, &je);
	free(d);
	if (j == NULL || json_unpack(j, "{s:s, s:s, s:I, s:I, s:b}", "id", &id,
	    "policy_hash", &hash, "policy_version", &ver, "given_wall_ns", &when,
	    "withdrawn", &wd) != 0 || strlen(id) != 32 ||
	    strlen(hash) != 2 * POLICY_HASH_LEN || ver < 1 || ver > UINT32_MAX) {
		json_decref(j);
		return UT_ECORRUPT;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->id, id, 33);
	memcpy(out->policy_hash, hash, sizeof(out->policy_hash));
	out->policy_version = (uint32_t)ver;
	out->given_wall_ns = (int64_t)when;
	out->withdrawn = wd != 0;
	json_decref(j);
	return 0;
}

static int
save(const char *home, const struct consent *c)
{
	char path[4096], tmp[4200], *s = NULL;
	json_t *j;
	int fd = -1, r;

	snprintf(path, sizeof(path), "%s/%s", home, CONSENT_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = json_pack("{s:s, s:s, s:I, s:I, s:b}", "id", c->id, "policy_hash",
	    c->policy_hash, "policy_version", (json_int_t)c->policy_version,
	    "given_wall_ns", (json_int_t)c->given_wall_ns, "withdrawn",
	    c->withdrawn ? 1 : 0);
	if (j == NULL || (s = json_dumps(j, JSON_INDENT(2))) == NULL) {
		r = UT_EINVAL;
		goto out;
	}
	if ((fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		r = fd;
		goto out;
	}
	if ((r = fsio_write_all(fd, s, strlen(s))) < 0 ||
	    (r = fsio_write_all(fd, "\n", 1)) < 0 || (r = fsio_fsync(fd)) < 0)
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
	}
	free(s);
	json_decref(j);
	return r;
}

int
consent_give(const char *home, const struct policy *p, struct consent *out)
{
	struct consent c;
	uint8_t rnd[16];
	int r;

	memset(&c, 0, sizeof(c));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(c.id, sizeof(c.id), rnd, sizeof(rnd));
	memcpy(c.policy_hash, p->hash_hex, sizeof(c.policy_hash));
	c.policy_version = p->version;
	c.given_wall_ns = ut_now_wall_ns();
	if ((r = save(home, &c)) < 0)
		return r;
	if (out != NULL)
		*out = c;
	return 0;
}

int
consent_withdraw(const char *home)
{
	struct consent c;
	int r;

	if ((r = consent_load(home, &c)) < 0)
		return r;
	c.withdrawn = true;
	return save(home, &c);
}

int
consent_server_withdrawn(const char *home, int64_t withdrawn_ns)
{
	struct consent c;
	int r;

	if (withdrawn_ns <= 0)
		return 0;
	r = consent_load(home, &c);
	if (r == UT_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	if (c.withdrawn || c.given_wall_ns >= withdrawn_ns)
		return 0;
	r = consent_withdraw(home);
	return r < 0 ? r : 1;
}

int
consent_check(const char *home, const struct policy *p, struct consent *out,
    char *why, size_t whysz)
{
	struct consent c;
	int r;

	r = consent_load(home, &c);
	if (r == UT_ENOTFOUND) {
		snprintf(why, whysz, "no consent has been given (run 'usetrace consent')");
		return UT_EDENIED;
	}
	if (r < 0) {
		snprintf(why, whysz, "the stored consent cannot be read (%s); "
		    "run 'usetrace consent' again", ut_strerror(r));
		return UT_EDENIED;
	}
	if (c.withdrawn) {
		snprintf(why, whysz, "consent was withdrawn");
		return UT_EDENIED;
	}
	if (sodium_memcmp(c.policy_hash, p->hash_hex, sizeof(c.policy_hash)) != 0) {
		snprintf(why, whysz, "consent was given to policy version %" PRIu32
		    " (%.16s); the policy is now version %" PRIu32 " (%.16s): "
		    "read the new notice and run 'usetrace consent'",
		    c.policy_version, c.policy_hash, p->version, p->hash_hex);
		return UT_EDENIED;
	}
	if (out != NULL)
		*out = c;
	return 0;
}
