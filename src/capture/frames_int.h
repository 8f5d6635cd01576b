/*
 * frames_int.h - state shared by the files of the frame thread (frames.c
 * the thread, its requests and output queue; frames_grab.c grabbing and
 * tile hashes; frames_blackout.c the windows blacked out of each grab and
 * the window cache; frames_encode.c changed regions and WebP encoding).
 * Private to src/capture/.  Everything here runs in the frame thread,
 * except what frames.c says is guarded by f->mu.
 */
#ifndef USETRACE_FRAMES_INT_H
#define USETRACE_FRAMES_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <X11/Xlib.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>

#include "usetrace/util.h"
#include "capture_int.h"

#define TILE 64
#define FRAME_MIN_GRAB_MS 50
#define FRAME_KEY_EVERY 300
#define FRAME_REQ_MAX 256
#define FRAME_OUT_MAX 4096
#define BLACKOUT_MAX 256
#define CLIENT_CACHE 256
#define CLIENT_CACHE_MS 2000

enum { PREV = 0, LATEST = 1, SPARE = 2, NBUF = 3 };

struct grab {
	XImage *img;
	XShmSegmentInfo shm;
	uint64_t *hash;      /* per tile */
	uint32_t done;       /* server time the grab completed */
	uint64_t id;         /* grab number, 0: empty */
	uint32_t masks_gen;  /* capture_masks generation honoured */
	uint32_t fwin;       /* active window at the grab, 0: unknown */
	int fx, fy, fw, fh;  /* its top-level rectangle */
};

struct frames {
	pthread_t th;
	int started;
	char *dpyname;
	uint32_t fps, quality;
	int lossless;
	atomic_int *key_req;     /* owner's request for a key frame */
	struct policy *policy;   /* own copy: denied windows */
	struct capture_masks *masks; /* shared: windows with typed secrets */
	struct mask_set *ms;         /* frame thread: the board at a grab */

	pthread_mutex_t mu;
	uint32_t req[FRAME_REQ_MAX];
	size_t nreq;
	int stop;
	int wake_fd, ready_fd;
	struct ut_event *out;
	size_t nout, capout;
	int failed;          /* thread could not run: UT_E* */

	/* Frame thread only. */
	Display *d;
	Window root, probe;
	Atom probe_atom, a_net_name, a_utf8, a_pid, a_active;
	uint64_t masks_checked_ms; /* last look for vanished masked windows */
	int have_xres;
	struct ccache *cache;    /* CLIENT_CACHE entries */
	unsigned cache_next;
	Damage damage;
	int damage_ev;
	int w, h, tx, ty;
	struct grab *bufs[NBUF]; /* pointers: XImage keeps &shm inside */
	uint64_t *stored_hash;
	uint64_t stored_grab;     /* grab id of the last stored frame */
	uint64_t grabs, next_id, stored, since_key, skipped;
	uint64_t last_store_ms, last_grab_ms;
	uint64_t grab_ns, encode_ns, attempts, skipped_total;
	uint64_t blackout_ns;     /* finding and blacking windows (in grab_ns) */
	int dirty;
	atomic_int lost;         /* the display's IO failed */
};

struct winfo {
	char cls[128], inst[128], title[512];
	unsigned long pid;
	Window client, transient_for;
	/*
	 * Window-manager decorations (frames_blackout.c): deco when the
	 * client was reparented into the top-level (a WM frame); the
	 * client's inset from the frame's outer edges (ml, mt, mr, mb),
	 * measured when the frame was fw x fh.
	 */
	int deco, fw, fh, ml, mt, mr, mb;
};

struct ccache {
	Window top;
	uint64_t ms;
	int has;
	struct winfo wi;
};

/*
 * PRIV-P4: the indicator, denied applications and windows with denied
 * titles - with their window-manager frame, and the popups, menus and
 * dialogs they own (same pid, or transient for them) - are black in the
 * grab before it is hashed or encoded.  A denied window's whole rectangle
 * is blacked even where another window covers it: black too much, never
 * too little.  Every other window's window-manager decorations (title
 * bar, borders: its frame outside the client) are black too, where no
 * window above covers them: the title bar shows the unredacted title.
 */
struct rect {
	int x, y, w, h;
};

/*
 * What a grab blacks out besides denied windows (capture_masks).  Where
 * the application shows its text through AT-SPI, only the box around a
 * window's secrets is black - every box found for that window in the last
 * HIST_MS, so a text that moved (typing, scrolling) while the screen still
 * shows it where it was stays covered; otherwise the whole window is.
 */
#define HIST_MAX 256
#define HIST_MS 1000
#define HIST_MARGIN 4

struct mask_hist {
	uint32_t win;
	struct rect r;
	uint64_t ms;
};

struct mask_set {
	struct capture_mask e[BLACKOUT_MAX];
	size_t n;
	uint32_t gen;
	int overflow;
	int seen[BLACKOUT_MAX];   /* viewable in the last blackout_rects() */
	Window active;            /* _NET_ACTIVE_WINDOW, None if unknown */
	struct rect active_rect;  /* its top-level, w 0 if not found */
	struct mask_hist hist[HIST_MAX]; /* ring: text boxes found */
	unsigned hist_next;
	int phase;                /* 0: before the grab, 1: after */
	struct cap_rect pre[BLACKOUT_MAX]; /* box found before the grab */
	int pre_ok[BLACKOUT_MAX];
};

/* Monotonic milliseconds. */
static inline uint64_t
frames__now_ms(void)
{
	return ut_now_mono_ns() / 1000000ull;
}

/* frames_grab.c */
int frames__grab_alloc(struct frames *f, struct grab *g);
void frames__grab_free(struct frames *f, struct grab *g);
/* Grabs into SPARE, blacked out and hashed; if the screen changed, it becomes LATEST. */
void frames__grab(struct frames *f);

/* frames_blackout.c */
unsigned long frames__card_prop(struct frames *f, Window w, Atom prop,
    Atom type);
/*
 * Finds the rectangles to black out now; returns how many (at most max).
 * Called before and after each grab, and both sets are blacked, so a
 * window mapped or unmapped around the grab is covered either way.
 */
unsigned frames__blackout_rects(struct frames *f, struct rect *out,
    unsigned max, struct mask_set *ms);
/* Blacks out a rectangle of the grab (clipped to the screen). */
void frames__black_rect(struct frames *f, struct grab *g, int x, int y, int w,
    int h);
void frames__forget_vanished(struct frames *f, const struct mask_set *ms);

/*
 * frames_encode.c: encodes grab g as the next stored frame: its FRAME
 * records, each owning its frame data, in *out (malloc'd; the caller
 * queues them and frees the array), and returns how many; 0 (*out NULL)
 * when g shows nothing new since the stored frame.
 */
size_t frames__store(struct frames *f, struct grab *g, struct ut_event **out);

#endif
