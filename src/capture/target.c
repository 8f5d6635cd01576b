/*
 * target.c - target elements (category "targets", docs/FORMAT.md record
 * type 15): for each button press that can start a click, double click or
 * drag, and for the first key press of a typing run, the accessible
 * element under the pointer (press) or with the focus (key) is asked of
 * the AT-SPI thread (atspi.c), and its role, name, bounding box and path
 * of roles become a TARGET record naming the press by seq.
 *
 * Off the input path: the capture thread only posts a request to the
 * AT-SPI thread's loop (g_idle source, like a role question) and goes on;
 * the AT-SPI thread answers into a done list and writes a byte to a pipe
 * the capture loop polls (cap__target_fd), and the capture loop emits the
 * answers (cap__target_drain).  Nothing ever waits for AT-SPI.
 *
 * State: one process-wide struct (tg), like the AT-SPI service's.
 * Invariants:
 *  (1) A request is owned by the AT-SPI thread from post until it is put
 *      on the done list, then by the capture thread, which frees it in
 *      drain; requests of an earlier capture run (run) are dropped there.
 *  (2) At most TG_INFLIGHT requests are posted and not yet drained: a
 *      press beyond that gets no target (never a wait).
 *  (3) An answer later than TG_BUDGET_MS after the press is discarded by
 *      the AT-SPI thread (and not asked at all when the deadline passed
 *      before the thread got to it): the press then has no target.
 *  (4) Nothing is asked while the focused window is denied or the key is
 *      not passed by secure input; an element that is a password field is
 *      never kept (its name is not read).  The name is wiped wherever it
 *      is dropped; the privacy filter redacts what is emitted.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/typing.h"
#include "usetrace/util.h"
#include "atspi_int.h"

#define TG_INFLIGHT 8
#define TG_BUDGET_MS 200
#define TG_PATH_DEPTH 24
#define TG_SCAN_MAX 64		/* children looked at per level */
#define TG_TYPE_GAP_NS 2000000000ull

struct tg_req {
	struct tg_req *next;
	uint64_t run;
	uint64_t action_seq;
	uint32_t xtime;
	unsigned pid;
	int at_point;		/* 1: element under (x, y); 0: the focus */
	int32_t x, y;
	uint64_t deadline;	/* monotonic ns */
	int found;
	int32_t bx, by;
	uint32_t bw, bh;
	char role[UT_EV_ROLE_MAX];
	char name[UT_EV_STR_MAX];
	char path[UT_EV_PATH_MAX];
};

static struct {
	pthread_mutex_t mu;
	struct tg_req *done, **done_tail;	/* answered, in answer order */
	int pipe[2];				/* AT-SPI thread -> capture loop */
	int inflight;				/* posted, not drained (mu) */
	uint64_t run;				/* capture runs started */
} tg = { .mu = PTHREAD_MUTEX_INITIALIZER, .pipe = { -1, -1 } };

/* Per capture run, the capture thread's alone. */
struct cap_target {
	uint64_t run;
	uint64_t last_type_ns;	/* previous typing key press */
	bool run_open;		/* a typing run is open */
	uint32_t run_window;	/* in this window */
	uint64_t asked, answered, late;
};

static void
tg_free(struct tg_req *q)
{
	sodium_memzero(q, sizeof(*q));
	free(q);
}

#ifdef HAVE_ATSPI
/* Copies a GLib string into dst (cut on a UTF-8 boundary), wipes, frees. */
static void
take_str(char *dst, size_t n, gchar *s)
{
	if (s == NULL)
		return;
	ut_strlcpy_utf8(dst, s, strlen(s), n);
	sodium_memzero(s, strlen(s));
	g_free(s);
}

/* Roles from the window (below the application) down to acc, "/"-joined. */
static void
role_path(AtspiAccessible *acc, char *out, size_t n)
{
	AtspiAccessible *chain[TG_PATH_DEPTH], *p;
	GError *err = NULL;
	char role[UT_EV_ROLE_MAX];
	size_t k = 0, w = 0;

	chain[k++] = g_object_ref(acc);
	while (k < TG_PATH_DEPTH) {
		p = atspi_accessible_get_parent(chain[k - 1], &err);
		if (p == NULL || err != NULL ||
		    atspi_accessible_get_role(p, NULL) == ATSPI_ROLE_APPLICATION ||
		    atspi_accessible_get_role(p, NULL) == ATSPI_ROLE_DESKTOP_FRAME) {
			if (p != NULL)
				g_object_unref(p);
			g_clear_error(&err);
			break;
		}
		chain[k++] = p;
	}
	out[0] = '\0';
	while (k > 0) {
		role[0] = '\0';
		take_str(role, sizeof(role),
		    atspi_accessible_get_role_name(chain[--k], NULL));
		if (w + strlen(role) + 2 < n)
			w += (size_t)snprintf(out + w, n - w, "%s%s", w ? "/" : "", role);
		g_object_unref(chain[k]);
	}
}

/* acc is showing and its box holds (x, y). */
static bool
holds(AtspiAccessible *acc, int x, int y)
{
	AtspiComponent *comp = atspi_accessible_get_component_iface(acc);
	AtspiStateSet *st = atspi_accessible_get_state_set(acc);
	bool r = comp != NULL && st != NULL &&
	    atspi_state_set_contains(st, ATSPI_STATE_SHOWING) &&
	    atspi_component_contains(comp, x, y, ATSPI_COORD_TYPE_SCREEN, NULL);

	if (st != NULL)
		g_object_unref(st);
	if (comp != NULL)
		g_object_unref(comp);
	return r;
}

/*
 * The child of cur at (x, y) when its toolkit does not say (GTK's notebook
 * answers nothing, and a page tab's box is its label, not its page): the
 * first showing child holding the point, else such a grandchild; the
 * scan stops at the request's deadline (the AT-SPI thread also answers
 * password-field questions).
 */
static AtspiAccessible *
child_at(AtspiAccessible *cur, int x, int y, int grand, uint64_t deadline)
{
	AtspiAccessible *ch, *g = NULL;
	GError *err = NULL;
	gint n, i;

	n = atspi_accessible_get_child_count(cur, &err);
	g_clear_error(&err);
	for (i = 0; i < n && i < TG_SCAN_MAX && ut_now_mono_ns() < deadline; i++) {
		ch = atspi_accessible_get_child_at_index(cur, i, &err);
		g_clear_error(&err);
		if (ch == NULL)
			continue;
		if (holds(ch, x, y))
			return ch;
		if (grand && g == NULL)
			g = child_at(ch, x, y, 0, deadline);
		g_object_unref(ch);
		if (g != NULL)
			return g;
	}
	return NULL;
}

/* The deepest accessible at screen point (x, y) in a window of app. */
static AtspiAccessible *
at_point(AtspiAccessible *app, int x, int y, uint64_t deadline)
{
	AtspiAccessible *win = NULL, *a, *cur, *ch;
	AtspiComponent *comp;
	AtspiStateSet *st;
	GError *err = NULL;
	gint n, i, depth;
	int active;

	n = atspi_accessible_get_child_count(app, &err);
	for (i = 0; err == NULL && i < n; i++) {
		a = atspi_accessible_get_child_at_index(app, i, &err);
		if (a == NULL)
			continue;
		comp = atspi_accessible_get_component_iface(a);
		st = atspi_accessible_get_state_set(a);
		active = st != NULL && atspi_state_set_contains(st, ATSPI_STATE_ACTIVE);
		if (st != NULL)
			g_object_unref(st);
		if (comp != NULL && atspi_component_contains(comp, x, y,
		    ATSPI_COORD_TYPE_SCREEN, NULL) && (win == NULL || active)) {
			if (win != NULL)
				g_object_unref(win);
			win = g_object_ref(a);
		}
		if (comp != NULL)
			g_object_unref(comp);
		g_object_unref(a);
	}
	g_clear_error(&err);
	for (cur = win, depth = 0; cur != NULL && depth < TG_PATH_DEPTH; depth++) {
		comp = atspi_accessible_get_component_iface(cur);
		if (comp == NULL)
			break;
		ch = atspi_component_get_accessible_at_point(comp, x, y,
		    ATSPI_COORD_TYPE_SCREEN, &err);
		g_object_unref(comp);
		g_clear_error(&err);
		if (ch == NULL)
			ch = child_at(cur, x, y, 1, deadline);
		if (ch == NULL || ch == cur) {
			if (ch != NULL)
				g_object_unref(ch);
			break;
		}
		g_object_unref(cur);
		cur = ch;
	}
	return cur;
}

/* Fills q from acc unless it is a password field (invariant 4). */
static void
describe(struct tg_req *q, AtspiAccessible *acc)
{
	AtspiComponent *comp;
	AtspiRect *r;
	AtspiRole role = atspi_accessible_get_role(acc, NULL);

	if (role == ATSPI_ROLE_PASSWORD_TEXT || role == ATSPI_ROLE_INVALID)
		return;
	take_str(q->role, sizeof(q->role), atspi_accessible_get_role_name(acc, NULL));
	take_str(q->name, sizeof(q->name), atspi_accessible_get_name(acc, NULL));
	if ((comp = atspi_accessible_get_component_iface(acc)) != NULL) {
		r = atspi_component_get_extents(comp, ATSPI_COORD_TYPE_SCREEN, NULL);
		if (r != NULL) {
			q->bx = r->x;
			q->by = r->y;
			q->bw = r->width > 0 ? (uint32_t)r->width : 0;
			q->bh = r->height > 0 ? (uint32_t)r->height : 0;
			g_free(r);
		}
		g_object_unref(comp);
	}
	role_path(acc, q->path, sizeof(q->path));
	/* An element without a box on screen is going away: none. */
	q->found = q->role[0] != '\0' && q->bw > 0 && q->bh > 0;
}

static void
tg_done(struct tg_req *q)
{
	char b = 1;

	if (q->found && ut_now_mono_ns() > q->deadline)
		q->found = 0; /* invariant 3: too late */
	if (!q->found)
		sodium_memzero(q->name, sizeof(q->name));
	pthread_mutex_lock(&tg.mu);
	q->next = NULL;
	*tg.done_tail = q;
	tg.done_tail = &q->next;
	pthread_mutex_unlock(&tg.mu);
	if (write(tg.pipe[1], &b, 1) < 0) {
		/* full: the loop has bytes to read and will drain */
	}
}

/* AT-SPI thread: answers one request. */
static gboolean
tg_job(gpointer data)
{
	struct tg_req *q = data;
	AtspiAccessible *app, *acc = NULL;
	int k;

	if (cap__at.test_delay_ms > 0)
		g_usleep((gulong)cap__at.test_delay_ms * 1000);
	if (ut_now_mono_ns() > q->deadline)
		goto out;
	if (!q->at_point && cap__at.last != NULL &&
	    atomic_load(&cap__at.pid) == q->pid)
		acc = g_object_ref(cap__at.last);
	if (acc == NULL && (app = cap__at_app_of(q->pid)) != NULL) {
		acc = q->at_point ? at_point(app, q->x, q->y, q->deadline) :
		    cap__at_focused_in(app, q->pid);
		g_object_unref(app);
	}
	if (acc == NULL && !q->at_point)
		for (k = AT_RECENT - 1; k >= 0 && acc == NULL; k--)
			if (cap__at.recent[k].acc != NULL &&
			    cap__at.recent[k].pid == q->pid)
				acc = g_object_ref(cap__at.recent[k].acc);
	if (acc != NULL) {
		describe(q, acc);
		g_object_unref(acc);
	}
out:
	tg_done(q);
	return G_SOURCE_REMOVE;
}

static int
tg_post(struct tg_req *q)
{
	GSource *src;

	if (!atomic_load(&cap__at.loop))
		return -1;
	src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, tg_job, q, NULL);
	g_source_attach(src, NULL);
	g_source_unref(src);
	return 0;
}
#else
static int
tg_post(struct tg_req *q)
{
	(void)q;
	return -1;
}
#endif

static void
pipe_once(void)
{
	if (pipe2(tg.pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		tg.pipe[0] = tg.pipe[1] = -1;
		log_warn("targets: no pipe; target elements are not recorded");
	}
	tg.done_tail = &tg.done;
}

void
cap__target_init(struct cap *c)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (!(c->o->categories & UT_CAT_TARGETS))
		return;
	pthread_once(&once, pipe_once);
	if (tg.pipe[0] < 0)
		return;
	cap__atspi_start();
	c->target = xcalloc(1, sizeof(*c->target));
	pthread_mutex_lock(&tg.mu);
	c->target->run = ++tg.run;
	pthread_mutex_unlock(&tg.mu);
	log_info("targets: recording the elements acted on (AT-SPI)");
}

int
cap__target_fd(const struct cap *c)
{
	return c->target != NULL ? tg.pipe[0] : -1;
}

/* Posts a request for the press recorded as ev (emitted: its seq set). */
static void
ask(struct cap *c, const struct ut_event *ev, int at_point, int32_t x, int32_t y)
{
	struct tg_req *q;

	if (!c->have_focus || c->last_focus.u.focus.denied ||
	    c->last_focus.u.focus.pid == 0 || c->err)
		return; /* invariant 4: nothing asked about a denied window */
	pthread_mutex_lock(&tg.mu);
	if (tg.inflight >= TG_INFLIGHT) {
		pthread_mutex_unlock(&tg.mu);
		return; /* invariant 2 */
	}
	tg.inflight++;
	pthread_mutex_unlock(&tg.mu);
	q = xcalloc(1, sizeof(*q));
	q->run = c->target->run;
	q->action_seq = ev->seq;
	q->xtime = ev->xtime;
	q->pid = c->last_focus.u.focus.pid;
	q->at_point = at_point;
	q->x = x;
	q->y = y;
	q->deadline = ut_now_mono_ns() + TG_BUDGET_MS * 1000000ull;
	if (tg_post(q) < 0) {
		pthread_mutex_lock(&tg.mu);
		tg.inflight--;
		pthread_mutex_unlock(&tg.mu);
		tg_free(q);
		return;
	}
	c->target->asked++;
}

void
cap__target_button(struct cap *c, const struct ut_event *ev)
{
	if (c->target == NULL || ev->type != UT_EV_BUTTON || !ev->u.button.down)
		return;
	c->target->run_open = false; /* a press ends a typing run */
	if (ev->u.button.button >= 4 && ev->u.button.button <= 7)
		return; /* the wheel: a scroll has no target */
	ask(c, ev, 1, ev->u.button.x, ev->u.button.y);
}

void
cap__target_key(struct cap *c, const struct ut_event *ev, bool passed)
{
	struct cap_target *t = c->target;
	const char *s;
	uint64_t now;
	bool typing, first;

	if (t == NULL || ev->type != UT_EV_KEY || !ev->u.key.down || ev->u.key.repeat)
		return;
	s = ut_key_typed(ev);
	typing = s != NULL;
	if (!typing) {
		/* Shift and AltGr (ISO_Level3_Shift) belong to the run. */
		if ((ev->u.key.keysym >= 0xffe1u && ev->u.key.keysym <= 0xffeeu) ||
		    ev->u.key.keysym == 0xfe03u)
			return;
		t->run_open = false;
		return;
	}
	now = ut_now_mono_ns();
	first = !t->run_open || now - t->last_type_ns > TG_TYPE_GAP_NS ||
	    t->run_window != c->last_focus.u.focus.window;
	t->run_open = true;
	t->last_type_ns = now;
	t->run_window = c->last_focus.u.focus.window;
	if (first && passed)
		ask(c, ev, 0, 0, 0);
}

void
cap__target_drain(struct cap *c)
{
	struct tg_req *q, *list;
	struct ut_event ev;
	char b[64];

	if (c->target == NULL)
		return;
	while (read(tg.pipe[0], b, sizeof(b)) > 0)
		;
	pthread_mutex_lock(&tg.mu);
	list = tg.done;
	tg.done = NULL;
	tg.done_tail = &tg.done;
	pthread_mutex_unlock(&tg.mu);
	while ((q = list) != NULL) {
		list = q->next;
		pthread_mutex_lock(&tg.mu);
		tg.inflight--;
		pthread_mutex_unlock(&tg.mu);
		if (q->run == c->target->run && q->found) {
			memset(&ev, 0, sizeof(ev));
			ev.type = UT_EV_TARGET;
			ev.xtime = q->xtime;
			ev.sensitivity = UT_SENS_NONE;
			ev.u.target.action_seq = q->action_seq;
			ev.u.target.x = q->bx;
			ev.u.target.y = q->by;
			ev.u.target.w = q->bw;
			ev.u.target.h = q->bh;
			memcpy(ev.u.target.role, q->role, sizeof(q->role));
			memcpy(ev.u.target.name, q->name, sizeof(q->name));
			memcpy(ev.u.target.path, q->path, sizeof(q->path));
			c->target->answered++;
			cap__emit(c, &ev);
			sodium_memzero(&ev, sizeof(ev));
		} else if (q->run == c->target->run) {
			c->target->late++;
		}
		tg_free(q);
	}
}

void
cap__target_free(struct cap *c)
{
	if (c->target == NULL)
		return;
	log_info("targets: %llu asked, %llu answered, %llu without an answer "
	    "in time", (unsigned long long)c->target->asked,
	    (unsigned long long)c->target->answered,
	    (unsigned long long)c->target->late);
	free(c->target);
	c->target = NULL;
}
