/*
 * client_cfg.c - where the client's server URL, pin and token come from,
 * the saved login (login.json in keys_home()), and the error body of a
 * failed response (see client.h).
 *
 * Invariants:
 *  (1) A configuration that client_cfg_resolve() returns has an https://
 *      URL without a trailing '/', a well-formed pin list, and a token (if
 *      any) of printable ASCII; every value is checked by the one rule in
 *      client__url_check(), client__pin_check(), client__token_ok().
 *  (2) The token lives in sodium_malloc'd memory (c->token) and every copy
 *      this file makes of it (the file read from disk, the document written
 *      to it) is wiped before it is freed.  jansson's own transient copy
 *      while parsing login.json is the one copy not wiped here (jansson's
 *      allocator is process-wide and not ours to replace).
 *  (3) login.json is written 0600 to a temporary name, fsync'd, renamed and
 *      the directory fsync'd, so a crash leaves the old login or the new
 *      one, never a torn file.
 *  (4) Nothing here logs or returns the token, and no error message names
 *      it; *what names only the field ("server", "pin", "token", "login").
 *  (5) A token from the saved login goes only to the server saved with it:
 *      when the URL comes from an option or $USETRACE_SERVER and differs,
 *      the saved token is not used (a token from an option or the
 *      environment is the caller's explicit choice and is used as given).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/jsonw.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "client_int.h"

#define LOGIN_NAME "login.json"
#define LOGIN_FILE_MAX 4096u
#define PIN_PREFIX "sha256//"
#define PIN_PREFIX_LEN 8u
#define PIN_B64_LEN 44u
#define PIN_MAX_COUNT 2u

static void
sodium_ready(void)
{
	if (sodium_init() < 0)
		ut_fatal("libsodium failed to initialise");
}

int
client__pin_check(const char *pin)
{
	unsigned char raw[32];
	const char *p = pin, *semi, *b64end;
	size_t n, rawlen, count = 0;

	if (pin == NULL || *pin == '\0' || strlen(pin) >= CLIENT_PIN_MAX)
		return UT_EPARSE;
	for (;;) {
		if (strncmp(p, PIN_PREFIX, PIN_PREFIX_LEN) != 0)
			return UT_EPARSE;
		p += PIN_PREFIX_LEN;
		semi = strchr(p, ';');
		n = semi != NULL ? (size_t)(semi - p) : strlen(p);
		if (n != PIN_B64_LEN)
			return UT_EPARSE;
		if (sodium_base642bin(raw, sizeof(raw), p, n, NULL, &rawlen,
		    &b64end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    rawlen != sizeof(raw) || b64end != p + n)
			return UT_EPARSE;
		if (++count > PIN_MAX_COUNT)
			return UT_EPARSE;
		if (semi == NULL)
			return 0;
		p = semi + 1;
	}
}

int
client__url_check(const char *url)
{
	const unsigned char *s;

	if (url == NULL || strncasecmp(url, "https://", 8) != 0)
		return UT_EPARSE;
	if (url[8] == '\0' || url[8] == '/' || strlen(url) >= CLIENT_URL_MAX)
		return UT_EPARSE;
	for (s = (const unsigned char *)url; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return UT_EPARSE;
	return 0;
}

bool
client__token_ok(const char *token)
{
	const unsigned char *s;
	size_t n;

	if (token == NULL)
		return false;
	n = strlen(token);
	if (n == 0 || n >= CLIENT_TOKEN_MAX)
		return false;
	for (s = (const unsigned char *)token; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/* The option if given, else the environment variable, else NULL. */
static const char *
pick(const char *opt, const char *env)
{
	const char *v;

	if (opt != NULL && *opt != '\0')
		return opt;
	v = getenv(env);
	if (v != NULL && *v != '\0')
		return v;
	return NULL;
}

static int
login_path(char *out, size_t outsz, bool create)
{
	char home[PATH_MAX];
	int n, r;

	if ((r = keys_home(home, sizeof(home), create)) < 0)
		return r;
	n = snprintf(out, outsz, "%s/%s", home, LOGIN_NAME);
	if (n < 0 || (size_t)n >= outsz)
		return UT_ETOOBIG;
	return 0;
}

/*
 * Reads and parses the saved login.  *out is NULL (and 0 returned) when
 * there is none; else a JSON object the caller json_decref()s.  UT_EPARSE
 * for a file that is not a JSON object.
 */
static int
login_load(json_t **out)
{
	char path[PATH_MAX];
	unsigned char *text = NULL;
	size_t len = 0;
	struct stat st;
	json_t *root = NULL;
	int r;

	*out = NULL;
	if ((r = login_path(path, sizeof(path), false)) < 0)
		return r == UT_ENOTFOUND ? 0 : r;
	if ((r = fsio_read_file(path, LOGIN_FILE_MAX, &text, &len)) < 0) {
		if (r == -ENOENT)
			r = 0;
		goto out;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		log_warn("%s is readable by others; it holds a token", path);
	root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		r = UT_EPARSE;
		goto out;
	}
	*out = root;
	r = 0;
out:
	if (text != NULL) {
		sodium_memzero(text, len);
		free(text);
	}
	return r;
}

/*
 * The string member key of the saved login: *v is NULL when absent.
 * UT_EPARSE when present and not a string.
 */
static int
login_get(json_t *root, const char *key, const char **v)
{
	json_t *j;

	*v = NULL;
	if (root == NULL || (j = json_object_get(root, key)) == NULL ||
	    json_is_null(j))
		return 0;
	if (!json_is_string(j))
		return UT_EPARSE;
	*v = json_string_value(j);
	return 0;
}

/* Length of url without trailing '/'. */
static size_t
url_len(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return n;
}

/*
 * Picks each setting from the options, the environment, then the saved
 * login (read only when some setting is still missing).  A saved token is
 * taken only together with the saved server (invariant 5): pointing
 * $USETRACE_SERVER or --server elsewhere must not send it there.
 */
static int
cfg_pick(const char *url, const char *token, const char *pin,
    const char **u, const char **t, const char **p, json_t **login,
    const char **what)
{
	const char *su = NULL, *st = NULL;
	json_t *root = NULL;
	int r;

	*u = pick(url, "USETRACE_SERVER");
	*t = pick(token, "USETRACE_TOKEN");
	*p = pick(pin, "USETRACE_PIN");
	*login = NULL;
	if (*u != NULL && *t != NULL && *p != NULL)
		return 0;
	if ((r = login_load(&root)) < 0) {
		*what = "login";
		return r;
	}
	if ((r = login_get(root, "url", &su)) < 0 ||
	    (r = login_get(root, "token", &st)) < 0 ||
	    (*p == NULL && (r = login_get(root, "pin", p)) < 0)) {
		*what = "login";
		json_decref(root);
		return r;
	}
	if (*u == NULL)
		*u = su;
	if (*t == NULL && st != NULL) {
		if (su != NULL && url_len(su) == url_len(*u) &&
		    strncmp(su, *u, url_len(su)) == 0)
			*t = st;
		else
			log_warn("the saved token is for another server; "
			    "not sending it to this one");
	}
	*login = root;
	return 0;
}

int
client_cfg_resolve(struct client_cfg *c, const char *url, const char *token,
    const char *pin, bool need_token, const char **what)
{
	const char *u, *t, *p, *w = NULL;
	json_t *login = NULL;
	size_t n;
	int r;

	sodium_ready();
	memset(c, 0, sizeof(*c));
	if ((r = cfg_pick(url, token, pin, &u, &t, &p, &login, &w)) < 0)
		goto out;
	r = UT_ENOTFOUND;
	w = u == NULL ? "server" : p == NULL ? "pin" :
	    t == NULL && need_token ? "token" : NULL;
	if (w != NULL)
		goto out;
	r = UT_EPARSE;
	n = url_len(u);
	w = "server";
	if (n >= sizeof(c->url))
		goto out;
	memcpy(c->url, u, n);
	c->url[n] = '\0';
	if (client__url_check(c->url) < 0)
		goto out;
	w = "pin";
	if (client__pin_check(p) < 0)
		goto out;
	memcpy(c->pin, p, strlen(p) + 1);
	w = "token";
	if (t != NULL && !client__token_ok(t))
		goto out;
	client_cfg_set_token(c, t);
	r = 0;
out:
	json_decref(login);
	if (r < 0) {
		client_cfg_finish(c);
		if (what != NULL)
			*what = w;
	}
	return r;
}

void
client_cfg_finish(struct client_cfg *c)
{
	if (c == NULL)
		return;
	sodium_free(c->token);
	sodium_memzero(c, sizeof(*c));
}

void
client_cfg_set_token(struct client_cfg *c, const char *token)
{
	char *t = NULL;
	size_t n;

	sodium_ready();
	if (token != NULL) {
		n = strlen(token);
		if ((t = sodium_malloc(n + 1)) == NULL)
			ut_fatal("%s: out of memory", __func__);
		memcpy(t, token, n + 1);
	}
	sodium_free(c->token);
	c->token = t;
}

/* Writes p to path atomically (temp, fsync, rename, fsync dir). */
static int
write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	const char *slash;
	int fd = -1, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return UT_ETOOBIG;
	(void)unlink(tmp);
	if ((fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) < 0)
		return fd;
	if ((r = fsio_write_all(fd, p, n)) < 0 || (r = fsio_fsync(fd)) < 0)
		goto out;
	r = fsio_close(fd);
	fd = -1;
	if (r < 0 || (r = fsio_rename(tmp, path)) < 0)
		goto out;
	slash = strrchr(path, '/');
	if (slash == NULL) {
		r = fsio_fsync_dir(".");
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		r = fsio_fsync_dir(slash == path ? "/" : dir);
	}
out:
	if (fd >= 0)
		(void)fsio_close(fd);
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

/*
 * Formats the login document into doc (sodium memory, docsz bytes) through
 * an unbuffered memory stream, so that no stdio buffer holds the token.
 */
static int
login_format(const struct client_cfg *c, char *doc, size_t docsz,
    size_t *len)
{
	FILE *f;
	long n;
	int first = 1, r = 0;

	if ((f = fmemopen(doc, docsz, "w")) == NULL)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0);
	fputc('{', f);
	jsonw_key(f, &first, "url");
	jsonw_str(f, c->url);
	jsonw_key(f, &first, "pin");
	jsonw_str(f, c->pin);
	if (c->token != NULL) {
		jsonw_key(f, &first, "token");
		jsonw_str(f, c->token);
	}
	fputs("}\n", f);
	n = ftell(f);
	if (ferror(f) || n <= 0 || (size_t)n >= docsz)
		r = UT_ETOOBIG;
	if (fclose(f) != 0 && r == 0)
		r = UT_ETOOBIG;
	if (r == 0)
		*len = (size_t)n;
	return r;
}

int
client_login_save(const struct client_cfg *c)
{
	char path[PATH_MAX];
	char *doc = NULL;
	size_t len = 0;
	int r;

	sodium_ready();
	if (client__url_check(c->url) < 0 || client__pin_check(c->pin) < 0 ||
	    (c->token != NULL && !client__token_ok(c->token)))
		return UT_EINVAL;
	if ((r = login_path(path, sizeof(path), true)) < 0)
		return r;
	if ((doc = sodium_malloc(LOGIN_FILE_MAX)) == NULL)
		ut_fatal("%s: out of memory", __func__);
	if ((r = login_format(c, doc, LOGIN_FILE_MAX, &len)) < 0)
		goto out;
	r = write_atomic(path, doc, len, 0600);
out:
	sodium_free(doc);	/* wipes */
	return r;
}

/* Copies a server-supplied string with control characters made '?'. */
static void
copy_clean(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	if (dstsz == 0)
		return;
	if (src == NULL)
		src = "";
	(void)ut_strlcpy_utf8(dst, src, strlen(src), dstsz);
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

void
client_resp_error(const struct client_resp *r, char *code, size_t codesz,
    char *msg, size_t msgsz)
{
	json_t *root = NULL, *j;
	const char *cv = NULL, *mv = NULL;

	if (r != NULL && r->body != NULL && r->len > 0)
		root = json_loadb((const char *)r->body, r->len, 0, NULL);
	if (json_is_object(root)) {
		if ((j = json_object_get(root, "error")) != NULL &&
		    json_is_string(j))
			cv = json_string_value(j);
		if ((j = json_object_get(root, "message")) != NULL &&
		    json_is_string(j))
			mv = json_string_value(j);
	}
	if (code != NULL)
		copy_clean(code, codesz, cv);
	if (msg != NULL)
		copy_clean(msg, msgsz, mv);
	json_decref(root);
}
