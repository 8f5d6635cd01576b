/*
 * server_int.h - the transport's server and request state, shared by
 * server.c (the request's life) and park.c (parking long polls, the
 * descriptor limit).  Private to src/http; see server.c's invariants.
 */
#ifndef USETRACE_HTTP_SERVER_INT_H
#define USETRACE_HTTP_SERVER_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "usetrace/buf.h"
#include "usetrace/http.h"

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_opts o;      /* listen is not kept */
	struct http_rl *rl;
	char *key_pem;                  /* sodium_malloc'd */
	char *cert_pem;                 /* sodium_malloc'd */
	size_t key_len, cert_len;
	unsigned port;
	char addr[INET6_ADDRSTRLEN + 16];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned inflight;
	bool draining;
	/* Invariant (5), under mu. */
	struct req *parked;             /* doubly linked */
	unsigned nparked;
	uint64_t wake_gen;
	pthread_t timer;
	bool timer_started, timer_stop;
	pthread_cond_t timer_cv;
	uint64_t timer_next;            /* the timer's wake-up (mono ns) */
	/* Invariant (6), under mu. */
	struct req *held;               /* doubly linked (pnext, pprev) */
	unsigned nheld;
	uint64_t released_upto;         /* the highest ticket released */
	atomic_uint nconn;              /* connections open (invariant 7) */
};

struct req {
	struct http_server *s;
	char *uri;                      /* raw, as received */
	struct buf body;
	uint64_t start_ns;
	bool started;                   /* headers seen */
	bool answered;                  /* a response is queued */
	bool too_big;                   /* the body passed its cap */
	bool uri_too_long;
	uint64_t skipped;               /* bytes read past the cap */
	struct MHD_Connection *conn;
	char *query;                    /* into uri, once split */
	bool split;
	/* Parking (invariant 5). */
	void *park;
	void (*park_free)(void *);
	uint64_t park_until;
	bool parked;
	bool long_timeout;              /* the connection's timeout was raised */
	struct req *pnext, *pprev;     /* parked or held list */
	/* Holding an answer (invariant 6). */
	struct http_response *held_rs;  /* kept while held, then handed back */
	uint64_t hold_ticket;
	bool held;                      /* on the held list */
};

/* park.c: invariant (5) of server.c.  The list functions want s->mu held. */
void http__park_unlink(struct http_server *s, struct req *r);
bool http__park_now(struct req *r, struct MHD_Connection *c, uint64_t until_ns,
    uint64_t gen);
void *http__timer_main(void *arg);
/* Invariant (6): holding answers.  hold_unlink wants s->mu held. */
void http__hold_unlink(struct http_server *s, struct req *r);
bool http__hold_now(struct req *r, struct MHD_Connection *c,
    struct http_response *rs);
void http__hold_release_all(struct http_server *s);
/* Invariant (7): the accept policy and the connection count. */
enum MHD_Result http__accept_ok(void *cls, const struct sockaddr *addr,
    socklen_t addrlen);
void http__on_connection(void *cls, struct MHD_Connection *c,
    void **socket_context, enum MHD_ConnectionNotificationCode toe);
/* Raises RLIMIT_NOFILE for o.conn_limit, or lowers conn_limit to fit. */
void http__fit_fd_limit(struct http_server *s);

#endif
