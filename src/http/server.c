/*
 * server.c - the HTTPS transport: libmicrohttpd (internal thread pool,
 * epoll) over GnuTLS with TLS 1.3 only.  It reads each request's body
 * within its cap, applies the per-source rate limit, and hands complete
 * requests to the one handler; it knows nothing of the API.
 *
 * A request's life: MHD calls uri_begin() with the raw URI (a struct req is
 * made and counted in flight), then on_request() once with the headers
 * (draining, method, rate limit and body-cap checks, which may answer at
 * once), then once per body chunk, then once at the end (the handler
 * runs), and request_done() when the response is sent or the connection
 * died (the struct req is wiped and freed).
 *
 * Invariants:
 *  (1) The handler is never called for a request refused by the rate
 *      limit, the body cap, the method check or a draining server, and
 *      never with a body longer than the cap body_cap() gave.
 *  (2) Request and response bodies are wiped when freed: requests in
 *      buf_finish(), responses in the free callback of the MHD response
 *      (MHD takes our buffer, no unwiped copy is made).
 *  (3) inflight counts the requests between uri_begin() and
 *      request_done(); http_server_stop() stops MHD only once it is zero
 *      or timeout_s has passed, so a handler's response already queued is
 *      still sent.
 *  (4) A body trickling in below HTTP_MIN_BODY_RATE on average, once
 *      timeout_s has passed, is cut, as is a connection idle timeout_s.
 *  (5) Parking (long polls): a request is parked iff it is on the parked
 *      list, and then its connection is suspended (MHD suspend/resume, no
 *      thread held).  Suspending and linking, unlinking and resuming each
 *      happen under s->mu, so a resume always follows its suspend and a
 *      request is resumed once per park.  wake_gen counts
 *      http_server_wake() calls: a handler that saw generation G is parked
 *      only if it is still G, so a wake between its look at the state and
 *      its park is never lost.  At most park_max are parked; the timer
 *      thread resumes each at its park_until (it sleeps until the
 *      earliest one or a new earlier one: no polling).  The parking
 *      functions and the descriptor limit are in park.c.
 *  (6) Holding (an answer made but not yet allowed out, e.g. until its
 *      audit entry is durable): a request is held iff it is on the held
 *      list, and then its connection is suspended and its response kept
 *      in held_rs.  Suspending and linking, unlinking and resuming happen
 *      under s->mu, like parking; released_upto only grows, and a request
 *      whose ticket is <= released_upto is never suspended, so a release
 *      between the handler's call and the hold is not lost.  A released
 *      request's handler is called again with rq->held and the kept
 *      response; it cannot hold again.  Neither the timer nor
 *      http_server_wake() resumes a held request; draining does (the
 *      handler then waits for its event itself).  A held request's
 *      response is freed in request_done() if the connection dies.
 *  (7) Connections: libmicrohttpd splits its connection limit evenly over
 *      the pool's threads, and accepts land unevenly (whichever thread
 *      is idle takes them: with no thread waiting on a commit, a few take
 *      most), so a thread at its share would drop new connections while
 *      the server is far below conn_limit.  Each thread is therefore given
 *      the whole conn_limit, and the total is held by http__accept_ok()
 *      (park.c): a new connection is refused once nconn (connections
 *      open, counted by http__on_connection()) reaches conn_limit; accepts racing on several
 *      threads may pass it by at most one per thread, which the
 *      descriptor margin covers (park.c).
 *
 * States of a server:  RUNNING -> DRAINING [http_server_stop]
 *          DRAINING -> freed [in flight 0 or timeout]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/http.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "http_int.h"
#include "server_int.h"

#define BODY_CAP_DEFAULT (64u << 10)
#define HTTP_MIN_BODY_RATE 1024u        /* bytes/s, averaged; see (4) */
#define URI_MAX 8192u
#define PEM_MAX (256u << 10)
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define ERROR_BODY_MAX 1024u
/*
 * libmicrohttpd queues a response only before the body or after all of it:
 * a body that passes its cap (chunked, or lying about its length) is read
 * and dropped up to this much more so the client gets its 413; beyond it
 * the connection is cut without an answer.
 */
#define DISCARD_MAX (1u << 20)

/* Options with their defaults applied. */
static void
opts_defaults(struct http_server_opts *o)
{
	if (o->threads == 0)
		o->threads = 8;
	if (o->conn_limit == 0)
		o->conn_limit = 1024;
	if (o->per_ip_conn_limit == 0)
		o->per_ip_conn_limit = 64;
	if (o->timeout_s == 0)
		o->timeout_s = 30;
	if (o->rate_per_s == 0)
		o->rate_per_s = 200;
	if (o->rate_burst == 0)
		o->rate_burst = 400;
	if (o->park_max == 0)
		o->park_max = 4000;
}

/*
 * Parses "A.B.C.D:PORT" or "[IPV6]:PORT" (numeric addresses only).
 * Returns 0 or UT_EINVAL.
 */
static int
parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs, *he;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (s == NULL)
		return UT_EINVAL;
	if (s[0] == '[') {
		hs = s + 1;
		he = strchr(hs, ']');
		if (he == NULL || he[1] != ':')
			return UT_EINVAL;
		colon = he + 1;
	} else {
		hs = s;
		colon = strrchr(s, ':');
		if (colon == NULL)
			return UT_EINVAL;
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs)
		return UT_EINVAL;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (ut_parse_u64(colon + 1, &port) < 0 || port > 65535)
		return UT_EINVAL;
	if (s[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return UT_EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return UT_EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	}
	return 0;
}

/* Checks that the key and certificate load and match, as MHD will. */
static int
check_credentials(const struct http_server *s)
{
	gnutls_certificate_credentials_t cr;
	gnutls_datum_t c = { (unsigned char *)s->cert_pem, (unsigned)s->cert_len };
	gnutls_datum_t k = { (unsigned char *)s->key_pem, (unsigned)s->key_len };
	gnutls_x509_crt_t *list = NULL;
	unsigned i, n = 0;
	int g;

	/*
	 * The chain alone first: gnutls 3.7 leaks when set_x509_key_mem()
	 * meets a certificate that does not parse.
	 */
	g = gnutls_x509_crt_list_import2(&list, &n, &c, GNUTLS_X509_FMT_PEM,
	    GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (g < 0)
		return UT_ECRYPTO;
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	if (n == 0 || gnutls_certificate_allocate_credentials(&cr) < 0)
		return UT_ECRYPTO;
	g = gnutls_certificate_set_x509_key_mem(cr, &c, &k, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cr);
	return g < 0 ? UT_ECRYPTO : 0;
}

/* Why MHD would not start: the bind error, tried on a probe socket. */
static int
bind_error(const struct sockaddr_storage *ss)
{
	socklen_t len = ss->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, one = 1, r = -EIO;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* MHD's own diagnostics go to the debug log: metadata only. */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("http: %s", line);
}

/*
 * A body of a known length (at most its cap) gets its buffer at once:
 * growing by doubling copies and wipes it some 15 times on the way to
 * a few MiB, and leaves up to twice its size to wipe at the end.  Only
 * virtual memory until the bytes arrive.
 */
static void
body_prealloc(struct buf *b, uint64_t len)
{
	if (len == 0 || len > b->cap || b->data != NULL)
		return;
	b->data = xmalloc((size_t)len);
	b->alloc = (size_t)len;
}

/*
 * Wipes and frees a request body.  Only its first len bytes were ever
 * written (appends are sequential, and a grown buffer was copied and wiped
 * whole), so only those are wiped: a client that announces 64 MiB and sends
 * little costs no 64 MiB of page faults and zeroing.
 */
static void
body_finish(struct buf *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->alloc = 0;
}

static void
free_body(void *cls)
{
	struct buf *b = cls;

	buf_finish(b);
	free(b);
}

/*
 * Queues rs on c; its body moves into the MHD response, whose free
 * callback wipes it (2).  rs->body is left empty.
 */
static enum MHD_Result
send_response(struct req *r, struct MHD_Connection *c, struct http_response *rs,
    bool close_conn)
{
	struct MHD_Response *resp;
	struct buf *b = xmalloc(sizeof(*b));
	enum MHD_Result ret;
	bool have_cc = false;
	unsigned i, status = rs->status;

	*b = rs->body;
	buf_init(&rs->body, 0);
	resp = MHD_create_response_from_buffer_with_free_callback_cls(b->len,
	    b->data, free_body, b);
	if (resp == NULL) {
		free_body(b);
		return MHD_NO;
	}
	if (status < 100 || status > 599)
		status = 500;
	if (rs->content_type[0] != '\0' &&
	    strpbrk(rs->content_type, "\r\n") == NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    rs->content_type);
	(void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* Issue 13: the web page's headers, on every response (docs/WEB.md). */
	(void)MHD_add_response_header(resp, "Content-Security-Policy", HTTP_CSP);
	(void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	(void)MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	for (i = 0; i < rs->nheaders && i < HTTP_RESPONSE_HEADERS; i++) {
		if (strcasecmp(rs->hname[i], "Cache-Control") == 0)
			have_cc = true;
		(void)MHD_add_response_header(resp, rs->hname[i], rs->hvalue[i]);
	}
	/* Responses may carry recorded content: no cache keeps a copy. */
	if (!have_cc)
		(void)MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (close_conn)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES && r != NULL)
		r->answered = true;
	return ret;
}

/* A response of the transport itself, closing the connection. */
static enum MHD_Result
send_error(struct req *r, struct MHD_Connection *c, unsigned status,
    const char *code, const char *message, unsigned retry_after)
{
	struct http_response rs;
	char ra[16];
	enum MHD_Result ret;

	memset(&rs, 0, sizeof(rs));
	buf_init(&rs.body, ERROR_BODY_MAX);
	http_response_error(&rs, status, code, message);
	if (retry_after > 0) {
		snprintf(ra, sizeof(ra), "%u", retry_after);
		(void)http_response_header(&rs, "Retry-After", ra);
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)http_response_header(&rs, "Allow", "GET, POST, PUT, DELETE");
	ret = send_response(r, c, &rs, true);
	buf_finish(&rs.body);
	return ret;
}

static void response_free(struct http_response *rs);

static void *
uri_begin(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *s = cls;
	struct req *r = xcalloc(1, sizeof(*r));

	(void)c;
	r->s = s;
	if (uri == NULL)
		uri = "";
	/* A longer URI is answered 414 in on_headers(), never cut. */
	r->uri_too_long = strnlen(uri, URI_MAX + 1) > URI_MAX;
	r->uri = r->uri_too_long ? xstrdup("") : xstrdup(uri);
	buf_init(&r->body, 0);
	r->start_ns = ut_now_mono_ns();
	pthread_mutex_lock(&s->mu);
	s->inflight++;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void
request_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct req *r = *con_cls;

	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	*con_cls = NULL;
	pthread_mutex_lock(&s->mu);
	if (r->parked)
		http__park_unlink(s, r);
	if (r->held)
		http__hold_unlink(s, r);
	pthread_mutex_unlock(&s->mu);
	if (r->held_rs != NULL)
		response_free(r->held_rs);
	if (r->park != NULL && r->park_free != NULL)
		r->park_free(r->park);
	body_finish(&r->body);
	free(r->uri);
	free(r);
	pthread_mutex_lock(&s->mu);
	UT_ASSERT(s->inflight > 0);
	if (--s->inflight == 0)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static bool
method_ok(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0 ||
	    strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

/* The first call, headers read: everything decided before the body. */
static enum MHD_Result
on_headers(struct req *r, struct MHD_Connection *c, const char *method)
{
	struct http_server *s = r->s;
	const union MHD_ConnectionInfo *ci;
	const char *cl, *te;
	char *q;
	uint64_t len = 0;
	size_t cap;
	unsigned wait;
	bool draining;

	r->started = true;
	pthread_mutex_lock(&s->mu);
	draining = s->draining;
	pthread_mutex_unlock(&s->mu);
	if (draining)
		return send_error(r, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "unavailable", "the server is shutting down", 1);
	if (r->uri_too_long)
		return send_error(r, c, MHD_HTTP_URI_TOO_LONG, "uri_too_long",
		    "request URI too long", 0);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	wait = http_rl_take(s->rl, ci != NULL ? ci->client_addr : NULL,
	    ut_now_mono_ns());
	if (wait > 0)
		return send_error(r, c, MHD_HTTP_TOO_MANY_REQUESTS,
		    "rate_limited", "too many requests", wait);
	if (!method_ok(method))
		return send_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method_not_allowed", "method not allowed", 0);
	q = strchr(r->uri, '?');
	if (q != NULL)
		*q = '\0';      /* r->uri is the path now; the query follows */
	cap = s->o.body_cap != NULL ?
	    s->o.body_cap(s->o.app, method, r->uri) : BODY_CAP_DEFAULT;
	if (q != NULL)
		*q = '?';
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (cl != NULL && ut_parse_u64(cl, &len) < 0)
		return send_error(r, c, MHD_HTTP_BAD_REQUEST, "bad_request",
		    "malformed Content-Length", 0);
	if (len > cap || (cap == 0 && te != NULL))
		return send_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
		    "request body too large", 0);
	buf_init(&r->body, cap);
	body_prealloc(&r->body, len);
	return MHD_YES;
}

/* One chunk of the body. */
static enum MHD_Result
on_body(struct req *r, struct MHD_Connection *c, const char *data,
    size_t *size)
{
	uint64_t el_ns, el_s;
	size_t n = *size;

	*size = 0;
	el_ns = ut_now_mono_ns() - r->start_ns;
	el_s = el_ns / 1000000000u;
	if (el_s > r->s->o.timeout_s &&
	    (uint64_t)r->body.len + r->skipped + n <
	    (uint64_t)HTTP_MIN_BODY_RATE * el_s) {
		log_debug("http: cutting a body trickling below %u B/s",
		    HTTP_MIN_BODY_RATE);
		return MHD_NO;
	}
	if (r->too_big) {
		/* MHD answers only once the body is read: skip the rest. */
		r->skipped += n;
		return r->skipped > DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (buf_append(&r->body, data, n) < 0) {
		body_finish(&r->body);
		r->too_big = true;
		r->skipped = n;
	}
	return MHD_YES;
}

static void
client_ip(struct MHD_Connection *c, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, outsz, "%s", "unknown");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		(void)inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)sa)->sin_addr, out,
		    (socklen_t)outsz);
	else if (sa->sa_family == AF_INET6)
		(void)inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)outsz);
}

/* A fresh response for a handler call. */
static struct http_response *
response_new(void)
{
	struct http_response *rs = xcalloc(1, sizeof(*rs));

	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "%s",
	    "application/json");
	buf_init(&rs->body, HTTP_RESPONSE_MAX);
	return rs;
}

static void
response_free(struct http_response *rs)
{
	buf_finish(&rs->body);
	sodium_memzero(rs, sizeof(*rs));
	free(rs);
}

/*
 * The whole body is in (or a parked request woke): run the handler and
 * queue its response, or park the request (invariant 5).
 */
static enum MHD_Result
on_complete(struct req *r, struct MHD_Connection *c, const char *method)
{
	struct http_server *s = r->s;
	struct http_request rq;
	struct http_response *rs;
	char ip[INET6_ADDRSTRLEN + 1];
	enum MHD_Result ret;
	int hr;

	client_ip(c, ip, sizeof(ip));
	if (!r->split) {
		r->split = true;
		r->query = strchr(r->uri, '?');
		if (r->query != NULL)
			*r->query++ = '\0';
	}
	r->conn = c;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = r->uri;
	rq.query = r->query != NULL ? r->query : "";
	rq.client_ip = ip;
	rq.body = r->body.len > 0 ? r->body.data : NULL;
	rq.body_len = r->body.len;
	rq.body_rw = r->body.len > 0 ? r->body.data : NULL;
	rq.conn = c;
	for (;;) {
		rq.resume = r->park;
		pthread_mutex_lock(&s->mu);
		rq.wake_gen = s->wake_gen;
		rq.can_park = !s->draining && s->nparked < s->o.park_max;
		pthread_mutex_unlock(&s->mu);
		rq.held = r->held_rs != NULL;
		rq.can_hold = !rq.held;
		if (rq.held) {
			/* Invariant (6): the kept answer, released. */
			rs = r->held_rs;
			r->held_rs = NULL;
			rs->hold_ticket = 0;
			rs->park = NULL;
			rs->park_free = NULL;
			rs->park_until_ns = 0;
		} else
			rs = response_new();
		hr = s->o.handler(s->o.app, &rq, rs);
		if (rs->hold_ticket != 0 && rs->park != NULL && !rq.held) {
			if (r->park != NULL && r->park != rs->park &&
			    r->park_free != NULL)
				r->park_free(r->park);
			r->park = rs->park;
			r->park_free = rs->park_free;
			rs->park_until_ns = 0;
			if (http__hold_now(r, c, rs))
				return MHD_YES;
			continue;       /* released already: r->held_rs is rs */
		}
		rs->hold_ticket = 0;
		if (rs->park == NULL || rs->park_until_ns == 0) {
			if (rs->park != NULL && rs->park != r->park &&
			    rs->park_free != NULL)
				rs->park_free(rs->park);
			break;
		}
		if (r->park != NULL && r->park != rs->park && r->park_free != NULL)
			r->park_free(r->park);
		r->park = rs->park;
		r->park_free = rs->park_free;
		if (http__park_now(r, c, rs->park_until_ns, rq.wake_gen)) {
			response_free(rs);
			return MHD_YES;
		}
		response_free(rs);
	}
	if (r->park != NULL && r->park_free != NULL)
		r->park_free(r->park);
	r->park = NULL;
	if (r->long_timeout) {
		(void)MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
		    s->o.timeout_s);
		r->long_timeout = false;
	}
	if (hr < 0 && rs->status == 200) {
		rs->nheaders = 0;
		http_response_error(rs, 500, "internal", "internal error");
	}
	ret = send_response(r, c, rs, false);
	response_free(rs);
	/* The request body is no longer needed: wipe it now. */
	body_finish(&r->body);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)url;
	(void)version;
	if (r == NULL)
		return MHD_NO;  /* uri_begin() always sets one */
	if (!r->started)
		return on_headers(r, c, method);
	if (r->answered) {
		*upload_data_size = 0;  /* refused already */
		return MHD_YES;
	}
	if (*upload_data_size > 0)
		return on_body(r, c, upload_data, upload_data_size);
	if (r->too_big)
		return send_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
		    "request body too large", 0);
	return on_complete(r, c, method);
}

static void
server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	http_rl_destroy(s->rl);
	if (s->key_pem != NULL)
		sodium_free(s->key_pem);
	if (s->cert_pem != NULL)
		sodium_free(s->cert_pem);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->timer_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int
server_alloc(const struct http_server_opts *o, struct http_server **out)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int r;

	s->o = *o;
	s->o.listen = NULL;
	opts_defaults(&s->o);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_cond_init(&s->timer_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->timer_next = UINT64_MAX;
	r = http_rl_create(s->o.rate_per_s, s->o.rate_burst, HTTP_RL_SOURCES,
	    &s->rl);
	if (r < 0) {
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int
http_server_start(const struct http_server_opts *o, struct http_server **out)
{
	struct http_server *s = NULL;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	struct sigaction sa;
	unsigned flags;
	int r;

	if (o == NULL || out == NULL || o->handler == NULL ||
	    o->cert_path == NULL || o->key_path == NULL)
		return UT_EINVAL;
	if ((r = parse_listen(o->listen, &ss)) < 0)
		return r;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((r = server_alloc(o, &s)) < 0)
		return r;
	if ((r = http__read_pem(o->key_path, PEM_MAX, &s->key_pem,
	    &s->key_len)) < 0 ||
	    (r = http__read_pem(o->cert_path, PEM_MAX, &s->cert_pem,
	    &s->cert_len)) < 0) {
		r = r == UT_ETOOBIG ? UT_ECRYPTO : r;
		goto out;
	}
	if ((r = check_credentials(s)) < 0)
		goto out;
	/* MHD may write to a socket the peer closed. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);

	http__fit_fd_limit(s);
	/* epoll (MHD_USE_AUTO on Linux): no FD_SETSIZE cap on connections. */
	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* Invariant (7): every thread may hold all; accept_ok() holds the total. */
	s->d = MHD_start_daemon(flags, 0, http__accept_ok, s, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
	    MHD_OPTION_THREAD_POOL_SIZE, s->o.threads,
	    MHD_OPTION_CONNECTION_LIMIT, s->o.conn_limit * s->o.threads,
	    MHD_OPTION_NOTIFY_CONNECTION, http__on_connection, s,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->o.per_ip_conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, s->o.timeout_s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_begin, s,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		r = bind_error(&ss);
		log_error("http: cannot start the server on %s: %s", o->listen,
		    ut_strerror(r));
		goto out;
	}
	if (pthread_create(&s->timer, NULL, http__timer_main, s) != 0) {
		MHD_stop_daemon(s->d);
		r = -EAGAIN;
		goto out;
	}
	s->timer_started = true;
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di != NULL ? di->port : 0;
	{
		char host[INET6_ADDRSTRLEN];
		const void *a = ss.ss_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)&ss)->sin_addr;

		(void)inet_ntop(ss.ss_family, a, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr),
		    ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, s->port);
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	server_free(s);
	return r;
}

unsigned
http_server_port(const struct http_server *s)
{
	return s != NULL ? s->port : 0;
}

void
http_server_addr(const struct http_server *s, char *out, size_t outsz)
{
	if (out == NULL || outsz == 0)
		return;
	snprintf(out, outsz, "%s", s != NULL ? s->addr : "");
}

void
http_server_stop(struct http_server *s)
{
	struct timespec dl;
	MHD_socket lfd;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->draining = true;
	pthread_mutex_unlock(&s->mu);
	/* Parked requests answer now; draining, they cannot park again. */
	http_server_wake(s);
	http__hold_release_all(s);
	lfd = MHD_quiesce_daemon(s->d);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)s->o.timeout_s;
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
	}
	if (s->inflight > 0)
		log_warn("http: stopping with %u requests still in flight",
		    s->inflight);
	s->timer_stop = true;
	pthread_cond_signal(&s->timer_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->timer_started)
		pthread_join(s->timer, NULL);
	MHD_stop_daemon(s->d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	server_free(s);
}
