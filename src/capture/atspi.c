/*
 * atspi.c - the AT-SPI service of capture: a thread of its own runs
 * libatspi's GLib main loop for the life of the process and answers
 * secure.c (is the focused accessible a password field?) and the frame
 * thread (where on screen does a window's text show the secrets typed
 * into it?, PRIV-P4-3).  libatspi is not thread-safe: every AT-SPI call
 * runs on that thread; the other threads post questions to its loop and
 * wait a bounded time for the answer.
 *
 * Focus: the thread listens to object:state-changed:focused and publishes
 * the role (password text or not), the process id and a generation
 * counter.  Role questions (struct at_rq) ask for the focused accessible
 * of one process directly: the application by pid among the desktop's
 * children, its focused accessible by Collection, else by a walk.
 * Text boxes (struct at_req, answered in atspi_text.c): the accessibles
 * focused lately, newest last, with their process, are searched for each
 * secret's text; the text read is wiped, nothing of it is logged or kept.
 * Target elements (target.c, category "targets") are answered on the same
 * thread: the element under a press or with the focus, from the helpers
 * cap__at_app_of / cap__at_focused_in shared through atspi_int.h.
 * USETRACE_TEST_ATSPI_DELAY_MS (test builds only, testhooks.h) delays every
 * focus event, role question and target question on the thread;
 * USETRACE_NO_ATSPI turns the service off.
 *
 * All its state is the one struct cap__at (struct atspi_state,
 * atspi_int.h), shared with atspi_text.c.  Invariants:
 *  (1) Only the AT-SPI thread writes the published fields (live,
 *      password, pid, gen, under mu for gen); other threads only read
 *      them.  last, recent[] and nodisc[] are the AT-SPI thread's alone.
 *  (2) A text request is freed by exactly one side: the frame thread once
 *      it saw done, the AT-SPI thread when the frame thread abandoned it
 *      (both under req_mu); at most one is pending (req_pending).
 *  (3) A role question likewise: the asker once it saw done, the AT-SPI
 *      thread when the asker abandoned it (both under rq_mu).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/log.h"
#include "usetrace/testhooks.h"
#include "usetrace/util.h"
#include "atspi_int.h"

struct atspi_state cap__at = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.rq_mu = PTHREAD_MUTEX_INITIALIZER,
	.rq_cv = PTHREAD_COND_INITIALIZER,
	.req_mu = PTHREAD_MUTEX_INITIALIZER,
	.req_cv = PTHREAD_COND_INITIALIZER,
};

#ifdef HAVE_ATSPI
static void
at_publish(int password, unsigned pid)
{
	pthread_mutex_lock(&cap__at.mu);
	atomic_store(&cap__at.password, password);
	atomic_store(&cap__at.pid, pid);
	atomic_fetch_add(&cap__at.gen, 1);
	pthread_cond_broadcast(&cap__at.cv);
	pthread_mutex_unlock(&cap__at.mu);
}

/*
 * PRIV-P4-3: where typed secrets are on screen.  The accessibles that had
 * the focus lately, newest last, with their process (AT-SPI thread only):
 * a secret is looked for in those of the window's process.
 */
static void
at_remember(AtspiAccessible *acc, unsigned pid)
{
	int i;

	for (i = 0; i < AT_RECENT; i++)
		if (cap__at.recent[i].acc == acc)
			break;
	if (i == AT_RECENT) {
		i = 0; /* the oldest leaves */
		if (cap__at.recent[0].acc != NULL)
			g_object_unref(cap__at.recent[0].acc);
		cap__at.recent[0].acc = NULL;
	} else {
		g_object_unref(cap__at.recent[i].acc);
	}
	memmove(&cap__at.recent[i], &cap__at.recent[i + 1],
	    (size_t)(AT_RECENT - 1 - i) * sizeof(cap__at.recent[0]));
	cap__at.recent[AT_RECENT - 1].acc = g_object_ref(acc);
	cap__at.recent[AT_RECENT - 1].pid = pid;
}


#define AT_WALK_MAX 4000

/*
 * The application of process pid has had no focus event since we
 * listen (it was focused before recording began): find its focused
 * accessible by walking its tree (at most AT_WALK_MAX nodes) and remember
 * it.  AT-SPI thread.
 */
int
cap__at_discover(unsigned pid)
{
	AtspiAccessible *desk = atspi_get_desktop(0), *app = NULL, *a, *ch;
	AtspiAccessible **queue;
	AtspiStateSet *st;
	GError *err = NULL;
	gint n, i, j;
	size_t head = 0, tail = 0;

	int found = 0;

	if (desk == NULL)
		return 0;
	n = atspi_accessible_get_child_count(desk, &err);
	for (i = 0; err == NULL && i < n && app == NULL; i++) {
		a = atspi_accessible_get_child_at_index(desk, i, &err);
		if (a == NULL)
			continue;
		if (atspi_accessible_get_process_id(a, &err) == pid && err == NULL)
			app = a;
		else
			g_object_unref(a);
		g_clear_error(&err);
	}
	g_clear_error(&err);
	g_object_unref(desk);
	if (app == NULL)
		return 0;
	queue = xcalloc(AT_WALK_MAX, sizeof(*queue));
	queue[tail++] = app;
	while (head < tail) {
		a = queue[head++];
		st = atspi_accessible_get_state_set(a);
		if (st != NULL && atspi_state_set_contains(st, ATSPI_STATE_FOCUSED)) {
			at_remember(a, pid);
			g_object_unref(st);
			found = 1;
			break;
		}
		if (st != NULL)
			g_object_unref(st);
		n = atspi_accessible_get_child_count(a, &err);
		for (j = 0; err == NULL && j < n && tail < AT_WALK_MAX; j++) {
			ch = atspi_accessible_get_child_at_index(a, j, &err);
			if (ch != NULL)
				queue[tail++] = ch;
		}
		g_clear_error(&err);
	}
	for (head = 0; head < tail; head++)
		g_object_unref(queue[head]);
	free(queue);
	return found;
}


/* The desktop's application of process pid (a reference), or NULL. */
AtspiAccessible *
cap__at_app_of(unsigned pid)
{
	AtspiAccessible *desk = atspi_get_desktop(0), *a, *app = NULL;
	GError *err = NULL;
	gint n, i;

	if (desk == NULL)
		return NULL;
	n = atspi_accessible_get_child_count(desk, &err);
	for (i = 0; err == NULL && i < n && app == NULL; i++) {
		a = atspi_accessible_get_child_at_index(desk, i, &err);
		if (a == NULL)
			continue;
		if (atspi_accessible_get_process_id(a, &err) == pid && err == NULL)
			app = a;
		else
			g_object_unref(a);
		g_clear_error(&err);
	}
	g_clear_error(&err);
	g_object_unref(desk);
	return app;
}

/*
 * The focused accessible of app (a reference), or NULL: one Collection
 * question (the application searches its own tree), else a walk.
 */
AtspiAccessible *
cap__at_focused_in(AtspiAccessible *app, unsigned pid)
{
	AtspiCollection *coll = atspi_accessible_get_collection_iface(app);
	AtspiAccessible *a = NULL;
	AtspiStateSet *ss;
	AtspiMatchRule *rule;
	GArray *m;
	GError *err = NULL;
	guint i;
	int k;

	if (coll != NULL) {
		ss = atspi_state_set_new(NULL);
		atspi_state_set_add(ss, ATSPI_STATE_FOCUSED);
		rule = atspi_match_rule_new(ss, ATSPI_Collection_MATCH_ALL, NULL,
		    ATSPI_Collection_MATCH_NONE, NULL, ATSPI_Collection_MATCH_NONE,
		    NULL, ATSPI_Collection_MATCH_NONE, FALSE);
		m = atspi_collection_get_matches(coll, rule,
		    ATSPI_Collection_SORT_ORDER_CANONICAL, 1, TRUE, &err);
		if (m != NULL) {
			if (err == NULL && m->len > 0)
				a = g_object_ref(g_array_index(m, AtspiAccessible *, 0));
			for (i = 0; i < m->len; i++)
				g_object_unref(g_array_index(m, AtspiAccessible *, i));
			g_array_free(m, TRUE);
		}
		g_clear_error(&err);
		g_object_unref(rule);
		g_object_unref(ss);
		g_object_unref(coll);
		if (a != NULL)
			return a;
	}
	if (!cap__at_discover(pid))
		return NULL;
	for (k = AT_RECENT - 1; k >= 0; k--)
		if (cap__at.recent[k].acc != NULL && cap__at.recent[k].pid == pid)
			return g_object_ref(cap__at.recent[k].acc);
	return NULL;
}

/*
 * Answers a role question (AT-SPI thread): the role of the focused
 * accessible of q->pid's application, published like a focus event so the
 * keys after it see it too.  Frees q if capture abandoned it (inv. 4).
 */
static gboolean
at_role_job(gpointer data)
{
	struct at_rq *q = data;
	AtspiAccessible *app, *acc = NULL;
	GError *err = NULL;
	AtspiRole role;
	int result = CAP_AT_NOBRIDGE;

	if (cap__at.test_delay_ms > 0)
		g_usleep((gulong)cap__at.test_delay_ms * 1000);
	if ((app = cap__at_app_of(q->pid)) != NULL) {
		result = CAP_AT_OTHER;
		acc = cap__at_focused_in(app, q->pid);
		g_object_unref(app);
	}
	if (acc != NULL) {
		role = atspi_accessible_get_role(acc, &err);
		if (err != NULL) {
			g_clear_error(&err);
			role = ATSPI_ROLE_INVALID;
		}
		if (role == ATSPI_ROLE_PASSWORD_TEXT)
			result = CAP_AT_PASSWORD;
		at_remember(acc, q->pid);
		if (cap__at.last != NULL)
			g_object_unref(cap__at.last);
		cap__at.last = acc;
		at_publish(result == CAP_AT_PASSWORD, q->pid);
	}
	pthread_mutex_lock(&cap__at.rq_mu);
	if (q->abandoned) {
		pthread_mutex_unlock(&cap__at.rq_mu);
		free(q);
		return G_SOURCE_REMOVE;
	}
	q->result = result;
	q->done = 1;
	pthread_cond_broadcast(&cap__at.rq_cv);
	pthread_mutex_unlock(&cap__at.rq_mu);
	return G_SOURCE_REMOVE;
}

/* Posts a role question about pid to the AT-SPI thread (capture). */
struct at_rq *
cap__atspi_ask(unsigned pid)
{
	struct at_rq *q;
	GSource *src;

	if (!atomic_load(&cap__at.loop))
		return NULL;
	q = xcalloc(1, sizeof(*q));
	q->pid = pid;
	src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, at_role_job, q, NULL);
	g_source_attach(src, NULL);
	g_source_unref(src);
	return q;
}

/* Runs once the AT-SPI main loop turns: requests may be queued. */
static gboolean
at_loop_started(gpointer data)
{
	(void)data;
	atomic_store(&cap__at.loop, 1);
	return G_SOURCE_REMOVE;
}


static void
on_focus_event(AtspiEvent *ev, void *arg)
{
	GError *err = NULL;
	AtspiRole role;
	unsigned pid;

	(void)arg;
	if (ev == NULL || ev->source == NULL)
		goto out;
	if (cap__at.test_delay_ms > 0)
		g_usleep((gulong)cap__at.test_delay_ms * 1000); /* a late bridge */
	if (ev->detail1 == 0) {
		/*
		 * Focus left our accessible.  Not a new generation: a hold
		 * waits for the accessible that gets the focus.
		 */
		if (ev->source == cap__at.last)
			atomic_store(&cap__at.password, 0);
		goto out;
	}
	role = atspi_accessible_get_role(ev->source, &err);
	if (err != NULL) {
		g_clear_error(&err);
		role = ATSPI_ROLE_INVALID;
	}
	pid = atspi_accessible_get_process_id(ev->source, &err);
	if (err != NULL) {
		g_clear_error(&err);
		pid = 0;
	}
	if (cap__at.last != NULL)
		g_object_unref(cap__at.last);
	cap__at.last = g_object_ref(ev->source);
	at_remember(ev->source, pid);
	/*
	 * PRIV-P4-2: the role is all we read here; never names or text
	 * (target.c reads an element's name, with "targets" only).
	 */
	at_publish(role == ATSPI_ROLE_PASSWORD_TEXT, pid);
out:
	if (ev != NULL)
		g_boxed_free(ATSPI_TYPE_EVENT, ev);
}

static void *
at_thread(void *arg)
{
	AtspiEventListener *l;
	GError *err = NULL;

	(void)arg;
	if (atspi_init() > 1) {
		log_warn("secure input: no accessibility bus; password fields are "
		    "not detected (keyboard grabs still are)");
		return NULL;
	}
	l = atspi_event_listener_new(on_focus_event, NULL, NULL);
	if (l == NULL || !atspi_event_listener_register(l,
	    "object:state-changed:focused", &err)) {
		log_warn("secure input: cannot listen to accessibility events; "
		    "password fields are not detected");
		g_clear_error(&err);
		return NULL;
	}
	atomic_store(&cap__at.live, 1);
	{
		GSource *src = g_idle_source_new();

		g_source_set_callback(src, at_loop_started, NULL, NULL);
		g_source_attach(src, NULL);
		g_source_unref(src);
	}
	log_info("secure input: watching password fields (AT-SPI)");
	atspi_event_main(); /* for the life of the process */
	return NULL;
}

static bool
have_session_bus(void)
{
	const char *a = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char path[512];
	struct stat st;

	if (a != NULL && *a != '\0')
		return true;
	/* No autolaunch: it would leave a bus daemon behind. */
	if (rt == NULL || *rt == '\0')
		return false;
	snprintf(path, sizeof(path), "%s/bus", rt);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void
start_once(void)
{
	const char *delay = ut_test_env("USETRACE_TEST_ATSPI_DELAY_MS");
	pthread_t t;
	pthread_attr_t a;

	if (delay != NULL)
		cap__at.test_delay_ms = atoi(delay);
	if (getenv("USETRACE_NO_ATSPI") != NULL) {
		log_info("secure input: AT-SPI turned off (USETRACE_NO_ATSPI)");
		return;
	}
	if (!have_session_bus()) {
		log_warn("secure input: no D-Bus session bus; password fields are "
		    "not detected (keyboard grabs still are)");
		return;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, at_thread, NULL) != 0)
		log_warn("secure input: cannot start the AT-SPI thread");
	pthread_attr_destroy(&a);
}
#else

static void
start_once(void)
{
	log_warn("secure input: built without libatspi; password fields are not "
	    "detected (keyboard grabs still are)");
}

struct at_rq *
cap__atspi_ask(unsigned pid)
{
	(void)pid;
	return NULL;
}
#endif

/*
 * Waits until q is answered or deadline (monotonic ns; 0: do not wait).
 * Returns its CAP_AT_* result, freeing q, or -1 (q still asked).
 */
int
cap__atspi_wait(struct at_rq *q, uint64_t deadline)
{
	struct timespec ts;
	uint64_t now;
	int r;

	pthread_mutex_lock(&cap__at.rq_mu);
	while (!q->done && (now = ut_now_mono_ns()) < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)UT_MIN(deadline - now, 20000000ull);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cap__at.rq_cv, &cap__at.rq_mu, &ts);
	}
	if (!q->done) {
		pthread_mutex_unlock(&cap__at.rq_mu);
		return -1;
	}
	r = q->result;
	pthread_mutex_unlock(&cap__at.rq_mu);
	free(q);
	return r;
}

/* Gives an unanswered question to the AT-SPI thread to free (inv. 4). */
void
cap__atspi_abandon(struct at_rq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&cap__at.rq_mu);
	if (!q->done) {
		q->abandoned = 1;
		pthread_mutex_unlock(&cap__at.rq_mu);
		return;
	}
	pthread_mutex_unlock(&cap__at.rq_mu);
	free(q);
}


void
cap__atspi_start(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, start_once);
}

bool
cap__atspi_live(void)
{
	return atomic_load(&cap__at.live) != 0;
}

unsigned long long
cap__atspi_gen(void)
{
	return atomic_load(&cap__at.gen);
}

void
cap__atspi_wait_gen(unsigned long long gen0, uint64_t deadline)
{
	struct timespec ts;
	uint64_t now;

	pthread_mutex_lock(&cap__at.mu);
	while (atomic_load(&cap__at.gen) == gen0 &&
	    (now = ut_now_mono_ns()) < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)UT_MIN(deadline - now, 20000000ull);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cap__at.cv, &cap__at.mu, &ts);
	}
	pthread_mutex_unlock(&cap__at.mu);
}

bool
cap__atspi_password(uint32_t pid)
{
	unsigned apid = atomic_load(&cap__at.pid);

	return atomic_load(&cap__at.password) && (pid == 0 || apid == 0 || apid == pid);
}
