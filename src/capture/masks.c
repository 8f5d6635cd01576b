/*
 * masks.c - the board of windows whose pixels must be black because a
 * secret was typed into them (PRIV-P4-3, capture.h).
 *
 * The privacy filter (through the agent) adds windows from the capture
 * thread; the frame thread reads the board before every grab and removes
 * windows that no longer exist.  A mutex guards everything.  The board
 * holds the secrets themselves (to find them through AT-SPI): they are
 * wiped when a window leaves and when the board is destroyed.
 *
 * Invariants:
 *  (1) gen grows by one with every add (it never returns to 0 in practice:
 *      2^32 adds).  A grab blacked with the board at generation g covers
 *      every window added at a generation <= g.
 *  (2) A window is on the board at most once.  When the board is full,
 *      overflow is set and stays set: the frame thread then blacks out the
 *      whole screen (black too much, never too little).
 *  (3) An entry's texts are exactly the secrets added for it, unless whole
 *      is set (a text did not fit), which never clears.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/capture.h"
#include "usetrace/util.h"

#define MASKS_MAX 256

struct capture_masks {
	pthread_mutex_t mu;
	struct capture_mask e[MASKS_MAX];
	size_t n;
	uint32_t gen;
	int overflow;
};

struct capture_masks *
capture_masks_create(void)
{
	struct capture_masks *m = xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void
add_text(struct capture_mask *e, const char *text, size_t len)
{
	size_t i;

	if (text == NULL || len == 0 || len >= CAPTURE_MASK_TEXT_MAX) {
		e->whole = 1;
		return;
	}
	for (i = 0; i < e->ntexts; i++)
		if (e->len[i] == len && sodium_memcmp(e->text[i], text, len) == 0)
			return;
	if (e->ntexts == CAPTURE_MASK_TEXTS) {
		e->whole = 1;
		return;
	}
	memcpy(e->text[e->ntexts], text, len);
	e->len[e->ntexts++] = len;
}

uint32_t
capture_masks_add(struct capture_masks *m, uint32_t window, const char *text,
    size_t len)
{
	size_t i;
	uint32_t g;

	if (m == NULL)
		return 0;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->n && m->e[i].window != window; i++)
		;
	if (i == m->n) {
		if (m->n < MASKS_MAX) {
			memset(&m->e[i], 0, sizeof(m->e[i]));
			m->e[i].window = window;
			m->n++;
		} else {
			m->overflow = 1;
		}
	}
	if (i < m->n)
		add_text(&m->e[i], text, len);
	g = ++m->gen;
	pthread_mutex_unlock(&m->mu);
	return g;
}

size_t
capture_masks_get(struct capture_masks *m, struct capture_mask *out,
    size_t max, uint32_t *gen, int *overflow)
{
	size_t n;

	*gen = 0;
	*overflow = 0;
	if (m == NULL)
		return 0;
	pthread_mutex_lock(&m->mu);
	n = m->n < max ? m->n : max;
	memcpy(out, m->e, n * sizeof(*out));
	*gen = m->gen;
	*overflow = m->overflow || m->n > max;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void
capture_masks_remove(struct capture_masks *m, uint32_t window)
{
	size_t i;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->n; i++)
		if (m->e[i].window == window) {
			m->e[i] = m->e[--m->n];
			sodium_memzero(&m->e[m->n], sizeof(m->e[m->n]));
			break;
		}
	pthread_mutex_unlock(&m->mu);
}

void
capture_masks_destroy(struct capture_masks *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	sodium_memzero(m->e, sizeof(m->e));
	free(m);
}
