/*
 * frames_grab.c - one grab of the root window (XShm) into the spare
 * buffer: the windows that must not show are blacked out before and after
 * the grab (frames_blackout.c), the 64x64 tiles are hashed (XXH3), and a
 * grab that changed a pixel becomes the newest (bufs[LATEST], the one
 * before it bufs[PREV]: frames.c invariant 2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <sodium.h>
#include <xxhash.h>

#include "usetrace/err.h"
#include "usetrace/util.h"
#include "frames_int.h"

int
frames__grab_alloc(struct frames *f, struct grab *g)
{
	Visual *vis = DefaultVisual(f->d, DefaultScreen(f->d));
	int depth = DefaultDepth(f->d, DefaultScreen(f->d));

	memset(g, 0, sizeof(*g));
	g->img = XShmCreateImage(f->d, vis, (unsigned)depth, ZPixmap, NULL,
	    &g->shm, (unsigned)f->w, (unsigned)f->h);
	if (g->img == NULL || g->img->bits_per_pixel != 32)
		return UT_ENOEXT;
	g->shm.shmid = shmget(IPC_PRIVATE, (size_t)g->img->bytes_per_line *
	    (size_t)g->img->height, IPC_CREAT | 0600);
	if (g->shm.shmid < 0)
		return -errno;
	g->shm.shmaddr = g->img->data = shmat(g->shm.shmid, NULL, 0);
	shmctl(g->shm.shmid, IPC_RMID, NULL); /* freed when detached */
	if (g->shm.shmaddr == (char *)-1) {
		g->img->data = NULL;
		return -errno;
	}
	g->shm.readOnly = False;
	if (!XShmAttach(f->d, &g->shm))
		return UT_ENOEXT;
	g->hash = xcalloc((size_t)f->tx * (size_t)f->ty, sizeof(uint64_t));
	return 0;
}

void
frames__grab_free(struct frames *f, struct grab *g)
{
	if (g->img != NULL) {
		if (g->img->data != NULL) {
			if (!atomic_load(&f->lost))
				XShmDetach(f->d, &g->shm);
			shmdt(g->shm.shmaddr);
			g->img->data = NULL;
		}
		XDestroyImage(g->img);
	}
	free(g->hash);
	memset(g, 0, sizeof(*g));
}

static void
hash_tiles(struct frames *f, struct grab *g)
{
	XXH3_state_t *st = XXH3_createState();
	int tx, ty, row, y1, x0, w;

	for (ty = 0; ty < f->ty; ty++) {
		y1 = UT_MIN((ty + 1) * TILE, f->h);
		for (tx = 0; tx < f->tx; tx++) {
			x0 = tx * TILE;
			w = UT_MIN(TILE, f->w - x0);
			XXH3_64bits_reset(st);
			for (row = ty * TILE; row < y1; row++)
				XXH3_64bits_update(st, g->img->data +
				    (size_t)row * (size_t)g->img->bytes_per_line +
				    (size_t)x0 * 4, (size_t)w * 4);
			g->hash[ty * f->tx + tx] = XXH3_64bits_digest(st);
		}
	}
	XXH3_freeState(st);
}

/* Server time now, after every earlier request (one round trip). */
static uint32_t
server_time(struct frames *f)
{
	XEvent e;

	XChangeProperty(f->d, f->probe, f->probe_atom, XA_INTEGER, 8,
	    PropModeReplace, (const unsigned char *)"", 0);
	XSync(f->d, False); /* the event precedes the reply: it is queued now */
	if (!XCheckWindowEvent(f->d, f->probe, PropertyChangeMask, &e))
		return 0;
	return (uint32_t)e.xproperty.time;
}

void
frames__grab(struct frames *f)
{
	struct grab *g = f->bufs[SPARE], *t;
	uint64_t t0 = ut_now_mono_ns(), t1;
	struct rect rs[2 * BLACKOUT_MAX + 2];
	struct mask_set *ms = f->ms;
	size_t prev_n;
	unsigned nr, i;

	/* The board as it is before the grab: the generation it honours. */
	prev_n = ms->n;
	ms->n = capture_masks_get(f->masks, ms->e, BLACKOUT_MAX, &ms->gen,
	    &ms->overflow);
	if (ms->n < prev_n) /* secrets of windows that left the board */
		sodium_memzero(&ms->e[ms->n], (prev_n - ms->n) * sizeof(ms->e[0]));
	memset(ms->seen, 0, sizeof(ms->seen));
	ms->active = (Window)frames__card_prop(f, f->root, f->a_active, XA_WINDOW);
	ms->active_rect.w = 0;
	ms->phase = 0;
	nr = frames__blackout_rects(f, rs, BLACKOUT_MAX + 1, ms);
	f->blackout_ns += ut_now_mono_ns() - t0;
	if (!XShmGetImage(f->d, f->root, g->img, 0, 0, AllPlanes))
		return;
	g->done = server_time(f);
	f->last_grab_ms = frames__now_ms();
	t1 = ut_now_mono_ns();
	ms->phase = 1;
	nr += frames__blackout_rects(f, rs + nr, BLACKOUT_MAX + 1, ms);
	g->masks_gen = ms->gen;
	g->fwin = ms->active_rect.w > 0 ? (uint32_t)ms->active : 0;
	g->fx = ms->active_rect.x;
	g->fy = ms->active_rect.y;
	g->fw = ms->active_rect.w;
	g->fh = ms->active_rect.h;
	frames__forget_vanished(f, ms);
	for (i = 0; i < nr; i++)
		frames__black_rect(f, g, rs[i].x, rs[i].y, rs[i].w, rs[i].h);
	f->blackout_ns += ut_now_mono_ns() - t1;
	hash_tiles(f, g);
	f->grab_ns += ut_now_mono_ns() - t0;
	f->attempts++;
	if (f->bufs[LATEST]->id != 0 &&
	    memcmp(g->hash, f->bufs[LATEST]->hash,
	    sizeof(uint64_t) * (size_t)f->tx * (size_t)f->ty) == 0)
		return; /* damage, but no pixel changed */
	g->id = ++f->grabs;
	if (f->bufs[PREV]->id != 0 && f->bufs[PREV]->id > f->stored_grab) {
		f->skipped++; /* replaced without being stored */
		f->skipped_total++;
	}
	t = f->bufs[PREV];
	f->bufs[PREV] = f->bufs[LATEST];
	f->bufs[LATEST] = g;
	f->bufs[SPARE] = t;
	t->id = 0;
}
