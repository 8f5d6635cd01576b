/*
 * park.c - parking long polls in the transport (server.c invariant 5) and
 * the descriptor limit they need: a parked request's connection is
 * suspended (libmicrohttpd suspend/resume) and on a doubly linked list
 * under s->mu; http_server_wake() resumes all of them (O(parked)); the
 * timer thread resumes each at its park_until, sleeping until the earliest
 * one (no polling).  A resumed request re-enters the handler (server.c
 * on_complete) with its park context.
 *
 * Also holding answers (server.c invariant 6): a held request's connection
 * is suspended with its response kept, on a second list (the same links)
 * under s->mu, until http_server_release() of its ticket or the drain.
 * And the connection limit's total (server.c invariant 7).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include <microhttpd.h>

#include "usetrace/http.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "http_int.h"
#include "server_int.h"

/* Invariant (5): takes r off the parked list.  s->mu held. */
void
http__park_unlink(struct http_server *s, struct req *r)
{
	if (r->pprev != NULL)
		r->pprev->pnext = r->pnext;
	else
		s->parked = r->pnext;
	if (r->pnext != NULL)
		r->pnext->pprev = r->pprev;
	r->pnext = r->pprev = NULL;
	r->parked = false;
	UT_ASSERT(s->nparked > 0);
	s->nparked--;
}

/* Unlinks and resumes r.  s->mu held. */
static void
park_resume(struct http_server *s, struct req *r)
{
	http__park_unlink(s, r);
	MHD_resume_connection(r->conn);
}

/*
 * Parks r until until_ns unless a wake came after generation gen, the
 * server drains or park_max are parked: then false (the caller calls the
 * handler again).  Called from the access handler, as MHD requires.
 */
bool
http__park_now(struct req *r, struct MHD_Connection *c, uint64_t until_ns,
    uint64_t gen)
{
	struct http_server *s = r->s;
	uint64_t now = ut_now_mono_ns();
	unsigned secs;

	pthread_mutex_lock(&s->mu);
	if (s->wake_gen != gen || s->draining || s->nparked >= s->o.park_max ||
	    until_ns <= now) {
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	/* The connection's timeout must outlast the park. */
	secs = (unsigned)((until_ns - now) / 1000000000u) + s->o.timeout_s + 1;
	(void)MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, secs);
	r->long_timeout = true;
	r->park_until = until_ns;
	MHD_suspend_connection(c);
	r->parked = true;
	r->pprev = NULL;
	r->pnext = s->parked;
	if (s->parked != NULL)
		s->parked->pprev = r;
	s->parked = r;
	s->nparked++;
	if (until_ns < s->timer_next)
		pthread_cond_signal(&s->timer_cv);
	pthread_mutex_unlock(&s->mu);
	return true;
}

/* Invariant (6): takes r off the held list.  s->mu held. */
void
http__hold_unlink(struct http_server *s, struct req *r)
{
	if (r->pprev != NULL)
		r->pprev->pnext = r->pnext;
	else
		s->held = r->pnext;
	if (r->pnext != NULL)
		r->pnext->pprev = r->pprev;
	r->pnext = r->pprev = NULL;
	r->held = false;
	UT_ASSERT(s->nheld > 0);
	s->nheld--;
}

/*
 * Keeps rs in r and suspends r until its ticket is released, unless it is
 * released already or the server drains: then false (the caller calls the
 * handler again with the kept response).  From the access handler.
 */
bool
http__hold_now(struct req *r, struct MHD_Connection *c, struct http_response *rs)
{
	struct http_server *s = r->s;

	pthread_mutex_lock(&s->mu);
	r->held_rs = rs;
	r->hold_ticket = rs->hold_ticket;
	if (s->draining || r->hold_ticket <= s->released_upto) {
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	MHD_suspend_connection(c);
	r->held = true;
	r->pprev = NULL;
	r->pnext = s->held;
	if (s->held != NULL)
		s->held->pprev = r;
	s->held = r;
	s->nheld++;
	pthread_mutex_unlock(&s->mu);
	return true;
}

/* Resumes every held request with a ticket <= upto; s->mu held. */
static void
hold_release_locked(struct http_server *s, uint64_t upto)
{
	struct req *r, *next;

	for (r = s->held; r != NULL; r = next) {
		next = r->pnext;
		if (r->hold_ticket <= upto) {
			http__hold_unlink(s, r);
			MHD_resume_connection(r->conn);
		}
	}
}

void
http_server_release(struct http_server *s, uint64_t upto)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (upto > s->released_upto)
		s->released_upto = upto;
	hold_release_locked(s, upto);
	pthread_mutex_unlock(&s->mu);
}

/* The drain: every held request, whatever its ticket (draining is set). */
void
http__hold_release_all(struct http_server *s)
{
	pthread_mutex_lock(&s->mu);
	hold_release_locked(s, UINT64_MAX);
	pthread_mutex_unlock(&s->mu);
}

unsigned
http_server_held(struct http_server *s)
{
	unsigned n;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	n = s->nheld;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/*
 * The timer thread: resumes each parked request at its park_until (those
 * due within 20 ms together), sleeping until the earliest one; a park
 * with an earlier time signals it.  O(parked) per wake-up.
 */
void *
http__timer_main(void *arg)
{
	struct http_server *s = arg;
	struct req *r, *next;
	struct timespec ts;
	uint64_t now, earliest;

	pthread_mutex_lock(&s->mu);
	while (!s->timer_stop) {
		now = ut_now_mono_ns();
		earliest = UINT64_MAX;
		for (r = s->parked; r != NULL; r = next) {
			next = r->pnext;
			if (r->park_until <= now + 20000000u)
				park_resume(s, r);
			else if (r->park_until < earliest)
				earliest = r->park_until;
		}
		s->timer_next = earliest;
		if (earliest == UINT64_MAX) {
			pthread_cond_wait(&s->timer_cv, &s->mu);
			continue;
		}
		ts.tv_sec = (time_t)(earliest / 1000000000u);
		ts.tv_nsec = (long)(earliest % 1000000000u);
		(void)pthread_cond_timedwait(&s->timer_cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

void
http_server_wake(struct http_server *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->wake_gen++;
	while (s->parked != NULL)
		park_resume(s, s->parked);
	pthread_mutex_unlock(&s->mu);
}

unsigned
http_server_parked(struct http_server *s)
{
	unsigned n;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	n = s->nparked;
	pthread_mutex_unlock(&s->mu);
	return n;
}

unsigned
http_server_conn_limit(const struct http_server *s)
{
	return s != NULL ? s->o.conn_limit : 0;
}

/* Invariant (7): the total connection limit. */
enum MHD_Result
http__accept_ok(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *s = cls;

	(void)addr;
	(void)addrlen;
	return atomic_load(&s->nconn) < s->o.conn_limit ? MHD_YES : MHD_NO;
}

void
http__on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;

	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&s->nconn, 1);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		atomic_fetch_sub(&s->nconn, 1);
}

/*
 * Raises RLIMIT_NOFILE to hold conn_limit connections plus a margin (the
 * listening socket, epoll and wake-up descriptors, the stores' files); a
 * hard limit too low for that lowers conn_limit instead.
 */
#define FD_MARGIN 256u
void
http__fit_fd_limit(struct http_server *s)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)s->o.conn_limit + FD_MARGIN + 4u * s->o.threads;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ?
	    need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < need) {
		unsigned fit = rl.rlim_cur > FD_MARGIN + 4u * s->o.threads + 16u ?
		    (unsigned)(rl.rlim_cur - FD_MARGIN - 4u * s->o.threads) : 16u;

		log_warn("http: RLIMIT_NOFILE %llu holds %u connections, not %u: "
		    "serving at most %u", (unsigned long long)rl.rlim_cur, fit,
		    s->o.conn_limit, fit);
		s->o.conn_limit = fit;
	}
}
