/*
 * client.c - one HTTPS request to the usetrace server over libcurl, with
 * the server's public key pinned (see client.h).
 *
 * Invariants:
 *  (1) No connection is opened without a well-formed pin list
 *      (client__pin_check()); curl checks the server's public key against
 *      it (CURLOPT_PINNEDPUBLICKEY) during the handshake, before any byte
 *      of the request is sent.  CA and host-name checks are off because the
 *      server's certificate is self-signed: the pin is the check, and no
 *      option of this file turns it off.  An option curl refuses (a TLS
 *      backend without pinning, say) fails the request: it fails closed.
 *  (2) https only, TLS 1.3 only, no redirects, no proxy credentials, no
 *      cookies, no .netrc.
 *  (3) The "Authorization: Bearer" line is built in sodium_malloc'd memory
 *      and curl's copy in the header list is wiped before the list is
 *      freed.  (curl's own request buffer is freed by curl unwiped; that is
 *      the residue of using libcurl.)  Nothing here logs the token.
 *  (4) The response body never grows past resp_cap bytes: a Content-Length
 *      above it stops the transfer at once (CURLOPT_MAXFILESIZE_LARGE) and
 *      the write callback refuses the byte past it, for bodies without a
 *      length.  The body is wiped when freed.
 *  (5) curl_global_init() runs once per process (pthread_once); handles
 *      are per request, so client_request() may be called from several
 *      threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "ut_config.h"
#include "usetrace/buf.h"
#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "client_int.h"

#define CONNECT_TIMEOUT_S 10L
#define DEFAULT_TIMEOUT_S 60L
#define PATH_MAX_LEN 2048u
#define METHOD_MAX_LEN 15u
#define PURPOSE_MAX_LEN 32u
#define CTYPE_MAX_LEN 128u
#define AUTH_PREFIX "Authorization: Bearer "

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Where the body goes while it arrives; b has a ceiling of cap + 1. */
struct sink {
	struct buf b;
	size_t cap;
	bool toobig;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > s->cap - s->b.len || buf_append(&s->b, p, n) < 0) {
		s->toobig = true;
		return 0;	/* curl ends the transfer: CURLE_WRITE_ERROR */
	}
	return n;
}

static bool
chars_ok(const char *s, size_t max, unsigned char lo, bool upper_only)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if ((unsigned char)*s < lo || (unsigned char)*s >= 0x7f)
			return false;
		if (upper_only && (*s < 'A' || *s > 'Z'))
			return false;
	}
	return n > 0 && n <= max;
}

/* Everything the caller passed that ends up in the request line or headers. */
static int
check_args(const struct client_cfg *c, const char *method, const char *path,
    const char *purpose, const char *content_type, const void *body)
{
	if (c == NULL || method == NULL || path == NULL)
		return UT_EINVAL;
	if (c->pin[0] == '\0' || client__pin_check(c->pin) < 0)
		return UT_EINVAL;
	if (client__url_check(c->url) < 0)
		return UT_EINVAL;
	if (c->token != NULL && !client__token_ok(c->token))
		return UT_EINVAL;
	if (!chars_ok(method, METHOD_MAX_LEN, 'A', true))
		return UT_EINVAL;
	if (path[0] != '/' || !chars_ok(path, PATH_MAX_LEN, 0x21, false))
		return UT_EINVAL;
	if (purpose != NULL && !chars_ok(purpose, PURPOSE_MAX_LEN, 0x21, false))
		return UT_EINVAL;
	if (content_type != NULL &&
	    !chars_ok(content_type, CTYPE_MAX_LEN, 0x20, false))
		return UT_EINVAL;
	if (body != NULL && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0))
		return UT_EINVAL;
	return 0;
}

/* Wipes every header line (one holds the token), then frees the list. */
static void
headers_free(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i != NULL; i = i->next)
		if (i->data != NULL)
			sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static int
headers_add(struct curl_slist **l, const char *line)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*l, line)) == NULL)
		return -ENOMEM;
	*l = n;
	return 0;
}

static int
headers_build(const struct client_cfg *c, const char *purpose,
    const char *content_type, bool has_body, struct curl_slist **out)
{
	struct curl_slist *l = NULL;
	char line[CTYPE_MAX_LEN + 64];
	char *auth = NULL;
	size_t n;
	int r = 0;

	if (c->token != NULL) {
		n = sizeof(AUTH_PREFIX) + strlen(c->token);
		if ((auth = sodium_malloc(n)) == NULL)
			ut_fatal("%s: out of memory", __func__);
		(void)snprintf(auth, n, "%s%s", AUTH_PREFIX, c->token);
		r = headers_add(&l, auth);
		sodium_free(auth);	/* wipes */
		if (r < 0)
			goto out;
	}
	if (purpose != NULL) {
		(void)snprintf(line, sizeof(line), "Usetrace-Purpose: %s",
		    purpose);
		if ((r = headers_add(&l, line)) < 0)
			goto out;
	}
	if (content_type != NULL) {
		(void)snprintf(line, sizeof(line), "Content-Type: %s",
		    content_type);
		r = headers_add(&l, line);
	} else if (has_body) {
		/* curl would otherwise claim a form was posted */
		r = headers_add(&l, "Content-Type:");
	}
	if (r < 0 || (r = headers_add(&l, "Expect:")) < 0)
		goto out;
	*out = l;
	l = NULL;
out:
	headers_free(l);
	return r;
}

static int
map_curl(CURLcode cc, bool toobig)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		return UT_ECRYPTO;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_FILESIZE_EXCEEDED:
		return UT_ETOOBIG;
	case CURLE_WRITE_ERROR:
		return toobig ? UT_ETOOBIG : -EIO;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_URL_MALFORMAT:
		return UT_EPARSE;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION:
		return -ENOTSUP;
	default:
		return -EIO;
	}
}

static bool
sends_body(const char *method, const void *body)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return false;
	return body != NULL || strcmp(method, "DELETE") != 0;
}

#define SET(opt, val)                                                     \
	do {                                                              \
		if ((cc = curl_easy_setopt(h, opt, val)) != CURLE_OK)     \
			goto out;                                         \
	} while (0)

/*
 * The method and body: GET, HEAD and a DELETE without body send none;
 * anything else sends body (maybe empty) with a Content-Length.
 */
static CURLcode
set_method(CURL *h, const char *method, const void *body, size_t len)
{
	CURLcode cc = CURLE_OK;

	if (strcmp(method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (!sends_body(method, body)) {
		SET(CURLOPT_CUSTOMREQUEST, method);
	} else {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		SET(CURLOPT_POSTFIELDS, body != NULL ? body : (const void *)"");
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	}
out:
	return cc;
}

/* CURLOPT_XFERINFOFUNCTION: ends the transfer once *c->cancel is set. */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	const struct client_cfg *c = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return c->cancel != NULL && atomic_load(c->cancel) != 0;
}

/* Every option of invariants (1), (2) and (4); the first curl refuses ends it. */
static CURLcode
set_options(CURL *h, const struct client_cfg *c, const char *url,
    struct curl_slist *hdrs, struct sink *s, char *errbuf)
{
	CURLcode cc = CURLE_OK;

	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	SET(CURLOPT_SSL_VERIFYPEER, 0L);
	SET(CURLOPT_SSL_VERIFYHOST, 0L);
	SET(CURLOPT_PINNEDPUBLICKEY, c->pin);
	/*
	 * The pin is the only check, so no CA store is needed; without these
	 * curl's GnuTLS backend loads all of /etc/ssl/certs for every handle
	 * (40-55 ms of CPU per request, docs/BENCHMARKS.md).
	 */
	SET(CURLOPT_CAINFO, (char *)NULL);
	SET(CURLOPT_CAPATH, (char *)NULL);
	SET(CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	SET(CURLOPT_TIMEOUT, c->timeout_s > 0 ? c->timeout_s :
	    DEFAULT_TIMEOUT_S);
	SET(CURLOPT_USERAGENT, "usetrace/" UT_VERSION);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, s);
	if (s->cap > 0 && (uint64_t)s->cap < (uint64_t)INT64_MAX)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->cap);
	if (c->cancel != NULL) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, (void *)c);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
out:
	return cc;
}

#undef SET

/* Hands the sink's body to r (NUL-terminated) and reads status and type. */
static void
resp_fill(CURL *h, struct sink *s, struct client_resp *r)
{
	const char *ct = NULL;
	long status = 0;

	if (buf_append(&s->b, "", 1) < 0)
		ut_fatal("%s: no room for the terminator", __func__);
	r->body = s->b.data;
	r->len = s->b.len - 1;
	s->b.data = NULL;
	s->b.len = s->b.alloc = 0;
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		(void)ut_strlcpy_utf8(r->content_type, ct, strlen(ct),
		    sizeof(r->content_type));
}

int
client_request(const struct client_cfg *c, const char *method,
    const char *path, const char *purpose, const char *content_type,
    const void *body, size_t len, size_t resp_cap, struct client_resp *r)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct sink sink;
	CURL *h = NULL;
	char *url = NULL;
	size_t ulen;
	CURLcode cc;
	int ret;

	memset(r, 0, sizeof(*r));
	sink.cap = UT_MIN(resp_cap, SIZE_MAX - 1);
	sink.toobig = false;
	buf_init(&sink.b, sink.cap + 1);
	errbuf[0] = '\0';
	if ((ret = check_args(c, method, path, purpose, content_type, body)) < 0)
		goto out;
	if (pthread_once(&curl_once, curl_init) != 0 ||
	    curl_init_rc != CURLE_OK) {
		ret = -EIO;
		goto out;
	}
	ulen = strlen(c->url) + strlen(path) + 1;
	url = xmalloc(ulen);
	(void)snprintf(url, ulen, "%s%s", c->url, path);
	if ((ret = headers_build(c, purpose, content_type,
	    sends_body(method, body), &hdrs)) < 0)
		goto out;
	if ((h = curl_easy_init()) == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	if ((cc = set_options(h, c, url, hdrs, &sink, errbuf)) != CURLE_OK ||
	    (cc = set_method(h, method, body, len)) != CURLE_OK ||
	    (cc = curl_easy_perform(h)) != CURLE_OK) {
		ret = map_curl(cc, sink.toobig);
		log_debug("client: %s %s: %s (%s)", method, path,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc),
		    ut_strerror(ret));
		goto out;
	}
	resp_fill(h, &sink, r);
	ret = 0;
out:
	curl_easy_cleanup(h);
	headers_free(hdrs);
	buf_finish(&sink.b);
	free(url);
	return ret;
}

void
client_resp_free(struct client_resp *r)
{
	if (r == NULL)
		return;
	if (r->body != NULL) {
		sodium_memzero(r->body, r->len + 1);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}
