/*
 * atspi_int.h - the state of the AT-SPI service, shared by its two files:
 * atspi.c (the thread, focus events, role questions) and atspi_text.c
 * (where a window's text shows typed secrets, PRIV-P4-3).  Private to
 * src/capture/; the invariants are atspi.c's.
 */
#ifndef USETRACE_ATSPI_INT_H
#define USETRACE_ATSPI_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "capture_int.h"

#if defined(__has_include)
#if __has_include(<atspi/atspi.h>)
#define HAVE_ATSPI 1
#endif
#endif

#ifdef HAVE_ATSPI
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <atspi/atspi.h>
#pragma GCC diagnostic pop
#endif

#define AT_RECENT 16		/* accessibles focused lately, remembered */
#define AT_NODISC 8		/* failed discoveries, remembered */
#define AT_TEXT_MAX (1 << 20)	/* characters: more, and the window goes black */
#define AT_TEXT_WAIT_MS 100
#define AT_OCCURRENCES_MAX 16
#define AT_DISCOVER_RETRY_MS 2000

/* A role question (invariant 3). */
struct at_rq {
	unsigned pid;
	int result;		/* CAP_AT_* once done */
	int done, abandoned;
};

/* A text-box question from the frame thread (invariant 2). */
struct at_req {
	unsigned pid;
	int wx, wy, ww, wh;	/* the X top-level's rectangle */
	struct capture_mask m;	/* a copy: secrets, wiped with the request */
	struct cap_rect box;
	int result, done, abandoned;
};

/* All the state of the service (atspi.c invariants), one struct. */
struct atspi_state {
	/* Published by the AT-SPI thread (invariant 1). */
	atomic_int live;		/* listening for focus events */
	atomic_int password;		/* focused accessible is a password field */
	atomic_uint pid;		/* its process, 0 unknown */
	atomic_ullong gen;		/* focus events seen */
	atomic_int loop;		/* the main loop runs: questions are answered */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* broadcast on every gen change */
	/* Role questions (invariant 3). */
	pthread_mutex_t rq_mu;
	pthread_cond_t rq_cv;
	/* Text-box questions (invariant 2). */
	pthread_mutex_t req_mu;
	pthread_cond_t req_cv;
	int req_pending;		/* a request not yet answered (req_mu) */
	int test_delay_ms;		/* USETRACE_TEST_ATSPI_DELAY_MS */
#ifdef HAVE_ATSPI
	/* The AT-SPI thread's alone (invariant 1). */
	AtspiAccessible *last;		/* the focused accessible */
	struct {
		AtspiAccessible *acc;
		unsigned pid;
	} recent[AT_RECENT];		/* newest last */
#endif
	struct {
		unsigned pid;
		uint64_t ms;
	} nodisc[AT_NODISC];		/* discoveries that failed */
};

extern struct atspi_state cap__at;

#ifdef HAVE_ATSPI
/*
 * AT-SPI thread: finds the focused accessible of process pid by walking
 * its application's tree and remembers it; 1 if found.
 */
int cap__at_discover(unsigned pid);
/* AT-SPI thread: the desktop's application of process pid (a reference). */
AtspiAccessible *cap__at_app_of(unsigned pid);
/* AT-SPI thread: the focused accessible of app (a reference), or NULL. */
AtspiAccessible *cap__at_focused_in(AtspiAccessible *app, unsigned pid);
#endif

#endif
