/*
 * http.h - the HTTPS transport of the server: libmicrohttpd over GnuTLS,
 * TLS 1.3 only, a thread pool, body caps, per-source rate limits, and a
 * draining stop.  It knows nothing of the API: every request whose body was
 * read within its cap goes to one handler function (src/server routes it).
 *
 * Also here: the TLS key and certificate generated on first start (ECDSA
 * P-256, self-signed, which browsers accept) and its public-key pin in the
 * form libcurl's CURLOPT_PINNEDPUBLICKEY takes ("sha256//BASE64" of the
 * DER SubjectPublicKeyInfo).
 *
 * Errors: 0 or a negative UT_E* / -errno.  Responses produced by the
 * transport itself are JSON {"error": CODE, "message": TEXT} like the API's,
 * and close the connection:
 *     400 bad_request          malformed Content-Length
 *     405 method_not_allowed   a method other than GET, POST, PUT, DELETE
 *     413 too_large            body over its cap (see http_body_cap_fn)
 *     414 uri_too_long         request URI over 8 KiB
 *     429 rate_limited         with Retry-After (seconds)
 *     503 unavailable          the server is draining (Retry-After: 1)
 * Every response carries X-Content-Type-Options: nosniff,
 * Content-Security-Policy: HTTP_CSP, Referrer-Policy: no-referrer,
 * X-Frame-Options: DENY, and Cache-Control: no-store unless the handler
 * set a Cache-Control.
 * Broken HTTP framing (a Content-Length that is not a number, a bad chunk
 * size, an unparsable request line, headers beyond the connection's
 * memory) is refused by libmicrohttpd itself before this transport sees
 * the request: a 4xx (505 for an HTTP version other than 1.0 and 1.1) with
 * libmicrohttpd's own short HTML body, connection closed, nothing echoed.
 * So the 400 above is rarely reached.
 *
 * Slow clients: a connection idle for timeout_s is closed (also one that
 * never finishes its TLS handshake), and a body arriving slower than
 * 1 KiB/s on average once timeout_s has passed is cut.  A client that
 * sends a header byte now and then is not idle: what bounds such clients
 * is the connection limits, conn_limit in all and per_ip_conn_limit from
 * one address (a connection over either is closed at once), so one
 * address cannot starve the others (tests/server/bad_input.sh).
 * http_server_start() sets SIGPIPE to SIG_IGN for the whole process.
 */
#ifndef USETRACE_HTTP_H
#define USETRACE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/buf.h"

#define HTTP_PIN_MAX 128u        /* "sha256//" + base64(32) + NUL fits */
#define HTTP_HEADER_VALUE_MAX 1024u
/* The web page's Content-Security-Policy (docs/WEB.md), on every response. */
#define HTTP_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'"

/* One request, valid only during the handler call. */
struct http_request {
	const char *method;      /* "GET", "POST", "PUT", "DELETE" */
	const char *path;        /* URL path as received (not percent-decoded),
	                            without the query */
	const char *query;       /* raw query string without '?', or "" */
	const char *client_ip;   /* textual source address */
	const uint8_t *body;     /* NULL when empty */
	size_t body_len;
	/*
	 * The same bytes, writable, when the caller lends its own buffer (the
	 * transport does; it wipes it after the call): a handler may change
	 * them in place instead of copying them.  NULL otherwise.
	 */
	uint8_t *body_rw;
	void *conn;              /* transport internals (header lookup) */
	/*
	 * Parking (long polls, see http_response.park_until_ns): NULL on a
	 * request's first handler call; on a later call, the park context the
	 * handler parked it with (the request was woken or its time came).
	 * can_park: whether the handler may park it now (under the server's
	 * park_max, not draining).
	 */
	void *resume;
	bool can_park;
	/*
	 * Holding (http_response.hold_ticket): this call is the one after the
	 * release of a held answer; rs is that answer, as the handler left
	 * it, and resume its context.  The handler keeps it (it leaves) or
	 * replaces it; it cannot hold again.  can_hold: the caller can hold
	 * an answer (the transport sets it; a caller without one, such as a
	 * fuzzer calling the handler directly, leaves it false).
	 */
	bool held;
	bool can_hold;
	uint64_t wake_gen;       /* transport internal: wakes seen so far */
};

/*
 * Returns the value of request header name (case-insensitive), or NULL.
 * The pointer is valid during the handler call only.
 */
const char *http_request_header(const struct http_request *rq, const char *name);

/*
 * Returns the value of query parameter name (URL-decoded), or NULL.  Valid
 * during the handler call only.
 */
const char *http_request_arg(const struct http_request *rq, const char *name);

/*
 * What a handler fills in.  body is initialised by the transport with a
 * cap (HTTP_RESPONSE_MAX) and wiped after sending, since it may carry
 * recorded content.  Headers: up to HTTP_RESPONSE_HEADERS extra ones.
 */
#define HTTP_RESPONSE_MAX (256u << 20)
#define HTTP_RESPONSE_HEADERS 8
struct http_response {
	unsigned status;              /* default 200 */
	char content_type[64];        /* default "application/json" */
	struct buf body;
	unsigned nheaders;
	char hname[HTTP_RESPONSE_HEADERS][64];
	char hvalue[HTTP_RESPONSE_HEADERS][HTTP_HEADER_VALUE_MAX];
	/*
	 * Parking: a handler that sets park_until_ns (monotonic, ut_now_mono_ns)
	 * and park (its context, non-NULL) instead of answering has its request
	 * suspended (libmicrohttpd suspend/resume: no thread is held) until
	 * http_server_wake() or park_until_ns, whichever comes first; then the
	 * handler is called again with rq->resume = park and answers or parks
	 * again.  park_free frees the context once the request is answered or
	 * its connection dies.  A wake between the handler's call and the park
	 * is not lost: the handler is called again at once.  Ignored (the
	 * handler is called again at once) when rq->can_park was false.
	 */
	uint64_t park_until_ns;
	void *park;
	void (*park_free)(void *park);
	/*
	 * Holding an answer: a handler that has filled in its answer but must
	 * not let it leave before an event (its audit entry durable) sets
	 * hold_ticket (non-zero) and park/park_free (its context).  The
	 * request is suspended with this response kept (no thread is held)
	 * until http_server_release() of a ticket >= hold_ticket, or until the
	 * server drains; then the handler is called again with rq->held, the
	 * same rs and rq->resume = park.  A release before the hold is not
	 * lost (the handler is called again at once).  Tickets come from one
	 * increasing sequence per server (the audit log's seqs).  Held
	 * requests do not count against park_max and no timer resumes them.
	 */
	uint64_t hold_ticket;
};

/*
 * Adds a response header; UT_ETOOBIG when full or too long, UT_EINVAL for a
 * name or value with control characters (no response splitting) or a name
 * with ':' or a space.
 */
int http_response_header(struct http_response *rs, const char *name,
    const char *value);

/*
 * Sets a JSON error body {"error": code, "message": message} and the
 * status.  message must never carry recorded content or secrets.
 */
void http_response_error(struct http_response *rs, unsigned status,
    const char *code, const char *message);

/*
 * The application's entry point, called on a pool thread once the whole
 * body is read; several calls may run at once (one per pool thread), and a
 * slow call delays the other connections of its thread.  It fills rs; its
 * return value is ignored except that a negative one with rs->status still
 * 200 becomes a 500 JSON error (extra headers and body dropped).  A status
 * outside 100..599 is sent as 500.
 */
typedef int (*http_handler_fn)(void *app, const struct http_request *rq,
    struct http_response *rs);

/*
 * Body cap for a request, asked before the body is read (path as in struct
 * http_request): 0 refuses a body with 413 at once.  NULL in the options:
 * 64 KiB everywhere.  A Content-Length over the cap is refused before any
 * byte is read; a chunked body that passes the cap is read and dropped up
 * to 1 MiB more so that the client gets its 413, beyond that the
 * connection is cut.  Called on pool threads, like the handler.
 */
typedef size_t (*http_body_cap_fn)(void *app, const char *method, const char *path);

struct http_server_opts {
	const char *listen;        /* "ADDR:PORT"; port 0 picks a free one */
	const char *cert_path;     /* PEM certificate (chain) */
	const char *key_path;      /* PEM private key */
	unsigned threads;          /* pool size; 0: 8 */
	unsigned conn_limit;       /* 0: 1024 */
	unsigned per_ip_conn_limit;/* 0: 64 */
	unsigned timeout_s;        /* idle connection timeout; 0: 30 */
	/*
	 * Token bucket per source address (IPv4 address or IPv6 /64), applied
	 * before the handler; 4096 sources tracked, the least recently seen
	 * evicted first.
	 */
	unsigned rate_per_s;       /* 0: 200 */
	unsigned rate_burst;       /* 0: 400 */
	/*
	 * Parked requests at most (beyond it rq->can_park is false); 0: 4000.
	 * A parked connection's timeout is its park time plus timeout_s.
	 * At start RLIMIT_NOFILE is raised (up to its hard limit) to hold
	 * conn_limit connections plus a margin; when the hard limit is lower,
	 * conn_limit is lowered to fit and a warning logged.
	 */
	unsigned park_max;
	http_handler_fn handler;
	http_body_cap_fn body_cap;
	void *app;
};

struct http_server;

/*
 * Binds, loads the certificate and key, and starts serving.  listen is a
 * numeric "A.B.C.D:PORT" or "[IPV6]:PORT"; o is copied (listen is not
 * kept; app must outlive the server).  The key is held in sodium_malloc'd
 * memory while the server runs.  On success *out owns the server; stop it
 * with http_server_stop().  Errors: UT_EINVAL (bad listen address, no
 * handler), UT_ECRYPTO (certificate or key unusable or not a pair), -errno
 * (reading the files, bind), -EIO (libmicrohttpd would not start for
 * another reason).
 */
int http_server_start(const struct http_server_opts *o, struct http_server **out)
	__attribute__((warn_unused_result));

/* The bound port (useful with port 0) and address text "ADDR:PORT". */
unsigned http_server_port(const struct http_server *s);
void http_server_addr(const struct http_server *s, char *out, size_t outsz);

/*
 * Wakes every parked request (each re-enters the handler with rq->resume):
 * O(parked), from any thread but the handler's own parking call.  NULL is
 * a no-op.
 */
void http_server_wake(struct http_server *s);
/*
 * Releases every held answer whose hold_ticket <= upto, and every one held
 * later with such a ticket (see http_response.hold_ticket): O(held), from
 * any thread but a handler's own holding call.  NULL is a no-op.
 */
void http_server_release(struct http_server *s, uint64_t upto);
/* Answers held now. */
unsigned http_server_held(struct http_server *s);
/* Requests parked now. */
unsigned http_server_parked(struct http_server *s);
/* The connection limit in force (after the RLIMIT_NOFILE fit). */
unsigned http_server_conn_limit(const struct http_server *s);

/*
 * Stops accepting, wakes parked requests (they may not park again) and
 * releases held answers (their handler is called with rq->held; its event
 * may not have come: it must wait for it itself), lets
 * requests in flight finish (up to timeout_s), then
 * frees everything.  Requests arriving meanwhile on open keep-alive
 * connections get 503.  Must not be called from the handler.  NULL is a
 * no-op.
 */
void http_server_stop(struct http_server *s);

/*
 * Generates an ECDSA P-256 key and a self-signed certificate for the names
 * (DNS names or IP addresses, e.g. "localhost", "127.0.0.1"), valid for
 * ten years, and writes them as PEM (key PKCS#8 0600, certificate 0644),
 * each atomically (temporary file, fsync, rename), the key first.
 * Errors: UT_EINVAL (no names, an empty one), UT_ECRYPTO, -errno (write).
 */
int http_tls_generate(const char *key_path, const char *cert_path,
    const char *const *names, size_t nnames) __attribute__((warn_unused_result));

/*
 * The pin of the public key of the file's first certificate:
 * "sha256//" + base64 (standard alphabet, padded) of the SHA-256 of its DER
 * SubjectPublicKeyInfo, as CURLOPT_PINNEDPUBLICKEY takes it; out gets at
 * most HTTP_PIN_MAX bytes.  Errors: -errno (read), UT_ECRYPTO (not a
 * certificate), UT_ETOOBIG (outsz too small).
 */
int http_tls_pin(const char *cert_path, char *out, size_t outsz)
	__attribute__((warn_unused_result));

#endif
