/*
 * atspi_text.c - PRIV-P4-3, answered on the AT-SPI thread for the frame
 * thread: where on screen the text of a window's process shows the secrets
 * typed into it (cap__atspi_text_box).  The accessibles of that process
 * focused lately are searched for every occurrence of every secret, their
 * extents joined into one box; the window the accessible lies in must be
 * where X has the top-level.  The frame thread waits AT_TEXT_WAIT_MS at
 * most, else blacks the whole window.  Text read is wiped; nothing of it
 * is logged or kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/util.h"
#include "atspi_int.h"

#ifdef HAVE_ATSPI
/*
 * Does acc's window (its nearest frame, window or dialog ancestor) lie
 * where X has the top-level, at the same scale?  Catches toolkits that
 * report window-relative or logical (HiDPI) coordinates as screen ones.
 */
static int
at_same_place(AtspiAccessible *acc, const struct at_req *q)
{
	AtspiAccessible *a = g_object_ref(acc), *p;
	AtspiComponent *c;
	AtspiRect *r = NULL;
	GError *err = NULL;
	AtspiRole role;
	int depth, ok = 0;

	for (depth = 0; depth < 64 && a != NULL; depth++) {
		role = atspi_accessible_get_role(a, &err);
		if (err != NULL)
			break;
		if (role == ATSPI_ROLE_FRAME || role == ATSPI_ROLE_WINDOW ||
		    role == ATSPI_ROLE_DIALOG)
			break;
		p = atspi_accessible_get_parent(a, &err);
		g_object_unref(a);
		a = p;
		if (err != NULL)
			break;
	}
	if (a != NULL && err == NULL &&
	    (c = atspi_accessible_get_component_iface(a)) != NULL) {
		r = atspi_component_get_extents(c, ATSPI_COORD_TYPE_SCREEN, &err);
		g_object_unref(c);
	}
	if (r != NULL && err == NULL)
		/* Inside the top-level (decorations aside), at least half of it. */
		ok = r->x >= q->wx - 8 && r->y >= q->wy - 8 &&
		    r->x + r->width <= q->wx + q->ww + 8 &&
		    r->y + r->height <= q->wy + q->wh + 8 &&
		    (int64_t)r->width * r->height * 2 >= (int64_t)q->ww * q->wh;
	g_free(r);
	g_clear_error(&err);
	if (a != NULL)
		g_object_unref(a);
	return ok;
}

/* Characters (not bytes) before byte offset off of UTF-8 s. */
static gint
char_offset(const char *s, size_t off)
{
	gint n = 0;
	size_t i;

	for (i = 0; i < off; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/*
 * Every place acc's text shows one of q's secrets, as one bounding box in
 * q->box.  1: found them all; -1: cannot tell (no text, too long, a secret
 * not found, extents unknown).  The text read is wiped.
 */
static int
at_text_box(AtspiAccessible *acc, struct at_req *q)
{
	AtspiText *t = atspi_accessible_get_text_iface(acc);
	GError *err = NULL;
	AtspiRect *r;
	gchar *all = NULL;
	gint count, cs, ce;
	size_t i, alen = 0;
	unsigned nocc = 0;
	int x0 = INT32_MAX, y0 = INT32_MAX, x1 = INT32_MIN, y1 = INT32_MIN, ok = 1;
	const char *p;

	if (t == NULL)
		return -1;
	if (!at_same_place(acc, q)) {
		g_object_unref(t);
		return -1;
	}
	count = atspi_text_get_character_count(t, &err);
	if (err != NULL || count <= 0 || count > AT_TEXT_MAX)
		ok = 0;
	if (ok) {
		all = atspi_text_get_text(t, 0, count, &err);
		if (err != NULL || all == NULL)
			ok = 0;
		else
			alen = strlen(all);
	}
	for (i = 0; ok && i < q->m.ntexts; i++) {
		int found = 0;

		for (p = all; ok && (p = memmem(p, alen - (size_t)(p - all),
		    q->m.text[i], q->m.len[i])) != NULL; p++) {
			gchar *again;

			if (++nocc > AT_OCCURRENCES_MAX) {
				ok = 0;
				break;
			}
			cs = char_offset(all, (size_t)(p - all));
			ce = cs + char_offset(p, q->m.len[i]);
			r = atspi_text_get_range_extents(t, cs, ce,
			    ATSPI_COORD_TYPE_SCREEN, &err);
			/* The text may have changed since it was read. */
			again = err == NULL ? atspi_text_get_text(t, cs, ce, &err) : NULL;
			if (err != NULL || r == NULL || r->width <= 0 ||
			    r->height <= 0 || again == NULL ||
			    strlen(again) != q->m.len[i] ||
			    memcmp(again, q->m.text[i], q->m.len[i]) != 0) {
				ok = 0;
			} else {
				x0 = UT_MIN(x0, r->x);
				y0 = UT_MIN(y0, r->y);
				x1 = UT_MAX(x1, r->x + r->width);
				y1 = UT_MAX(y1, r->y + r->height);
				found = 1;
			}
			if (again != NULL) {
				sodium_memzero(again, strlen(again));
				g_free(again);
			}
			g_free(r);
		}
		if (!found)
			ok = 0; /* edited, or not this text: fail closed */
	}
	if (err != NULL)
		g_clear_error(&err);
	if (all != NULL) {
		sodium_memzero(all, alen);
		g_free(all);
	}
	g_object_unref(t);
	if (!ok)
		return -1;
	q->box.x = x0;
	q->box.y = y0;
	q->box.w = x1 - x0;
	q->box.h = y1 - y0;
	return 1;
}

static gboolean
at_text_job(gpointer data)
{
	struct at_req *q = data;
	int i;

	q->result = -1;
	for (i = 0; i < AT_RECENT && !(cap__at.recent[i].acc != NULL &&
	    cap__at.recent[i].pid == q->pid); i++)
		;
	if (i == AT_RECENT) {
		uint64_t now = ut_now_mono_ns() / 1000000u;
		int k, slot = 0;

		/* A failed walk is not repeated for a while (it is costly). */
		for (k = 0; k < AT_NODISC; k++) {
			if (cap__at.nodisc[k].pid == q->pid &&
			    now - cap__at.nodisc[k].ms < AT_DISCOVER_RETRY_MS)
				break;
			if (cap__at.nodisc[k].ms < cap__at.nodisc[slot].ms)
				slot = k;
		}
		if (k == AT_NODISC && !cap__at_discover(q->pid)) {
			cap__at.nodisc[slot].pid = q->pid;
			cap__at.nodisc[slot].ms = now;
		}
	}
	for (i = AT_RECENT - 1; i >= 0 && q->result < 0; i--)
		if (cap__at.recent[i].acc != NULL && cap__at.recent[i].pid == q->pid)
			q->result = at_text_box(cap__at.recent[i].acc, q);
	pthread_mutex_lock(&cap__at.req_mu);
	cap__at.req_pending = 0;
	if (q->abandoned) {
		pthread_mutex_unlock(&cap__at.req_mu);
		sodium_memzero(q, sizeof(*q));
		free(q);
		return G_SOURCE_REMOVE;
	}
	q->done = 1;
	pthread_cond_broadcast(&cap__at.req_cv);
	pthread_mutex_unlock(&cap__at.req_mu);
	return G_SOURCE_REMOVE;
}

int
cap__atspi_text_box(uint32_t pid, const struct capture_mask *m, int wx,
    int wy, int ww, int wh, struct cap_rect *box)
{
	struct at_req *q;
	struct timespec ts;
	GSource *src;
	int r;

	if (!atomic_load(&cap__at.live) || !atomic_load(&cap__at.loop) || pid == 0 ||
	    m->whole || m->ntexts == 0)
		return -1;
	pthread_mutex_lock(&cap__at.req_mu);
	if (cap__at.req_pending) {
		/* The last one is still unanswered: do not pile up. */
		pthread_mutex_unlock(&cap__at.req_mu);
		return -1;
	}
	cap__at.req_pending = 1;
	pthread_mutex_unlock(&cap__at.req_mu);
	q = xcalloc(1, sizeof(*q));
	q->pid = pid;
	q->wx = wx;
	q->wy = wy;
	q->ww = ww;
	q->wh = wh;
	q->m = *m;
	/* Always on the AT-SPI thread's loop, never run here. */
	src = g_idle_source_new();
	g_source_set_callback(src, at_text_job, q, NULL);
	g_source_attach(src, NULL);
	g_source_unref(src);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += AT_TEXT_WAIT_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&cap__at.req_mu);
	while (!q->done &&
	    pthread_cond_timedwait(&cap__at.req_cv, &cap__at.req_mu, &ts) == 0)
		;
	if (!q->done) {
		q->abandoned = 1; /* the AT-SPI thread frees it */
		pthread_mutex_unlock(&cap__at.req_mu);
		return -1;
	}
	pthread_mutex_unlock(&cap__at.req_mu);
	r = q->result;
	if (r > 0)
		*box = q->box;
	sodium_memzero(q, sizeof(*q));
	free(q);
	return r;
}
#else
int
cap__atspi_text_box(uint32_t pid, const struct capture_mask *m, int wx,
    int wy, int ww, int wh, struct cap_rect *box)
{
	(void)pid;
	(void)m;
	(void)wx;
	(void)wy;
	(void)ww;
	(void)wh;
	(void)box;
	return -1;
}
#endif
