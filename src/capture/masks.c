/*
 * masks.c - the board of windows whose pixels must be black because a
 * secret was typed into them (PRIV-P4-3, capture.h).
 *
 * The privacy filter (through the agent) adds windows from the capture
 * thread; the frame thread reads the board before every grab and removes
 * windows that no longer exist.  A mutex guards everything.
 *
 * Invariants:
 *  (1) gen grows by one with every add (it never returns to 0 in practice:
 *      2^32 adds).  A grab blacked with the board at generation g covers
 *      every window added at a generation <= g.
 *  (2) A window is on the board at most once.  When the board is full,
 *      overflow is set and stays set: the frame thread then blacks out the
 *      whole screen (black too much, never too little).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/capture.h"
#include "usetrace/util.h"

#define MASKS_MAX 256

struct capture_masks {
	pthread_mutex_t mu;
	uint32_t win[MASKS_MAX];
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

uint32_t
capture_masks_add(struct capture_masks *m, uint32_t window)
{
	size_t i;
	uint32_t g;

	if (m == NULL)
		return 0;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->n && m->win[i] != window; i++)
		;
	if (i == m->n) {
		if (m->n < MASKS_MAX)
			m->win[m->n++] = window;
		else
			m->overflow = 1;
	}
	g = ++m->gen;
	pthread_mutex_unlock(&m->mu);
	return g;
}

size_t
capture_masks_get(struct capture_masks *m, uint32_t *wins, size_t max,
    uint32_t *gen, int *overflow)
{
	size_t n;

	*gen = 0;
	*overflow = 0;
	if (m == NULL)
		return 0;
	pthread_mutex_lock(&m->mu);
	n = m->n < max ? m->n : max;
	memcpy(wins, m->win, n * sizeof(*wins));
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
		if (m->win[i] == window) {
			m->win[i] = m->win[--m->n];
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
	free(m);
}
