/*
 * synth.h - synthetic recordings written by the real spool writer.
 *
 * synth_write() makes closed segments that are byte-for-byte in the format
 * the agent writes (spool_open / spool_append / spool_commit / spool_close,
 * the same header, group commits with signed checkpoints, trailers), from
 * invented but realistic activity: focus changes to application windows
 * with titles, typed text as key presses and releases, pointer moves,
 * clicks, wheel scrolls, a hotkey now and then, and (for segments of
 * SYNTH_FRAMES_MIN bytes or more) WebP key frames of a 1280x720 screen, so
 * that a segment of several MiB compresses like a real one.  Tests use it
 * instead of recording on Xvfb; the server can make canary recordings
 * with it.
 *
 * Deterministic from the seed: the records (types, times, text, titles,
 * pixels) depend only on the options.  The segment ids and keys are random,
 * as in every segment, so the files differ from run to run.
 *
 * Times are honest: every record carries a simulated wall time counted from
 * start_wall_ns, and the spool's wall clock is that simulated clock
 * (spool_opts.wall_clock), so a segment's signed start time is its first
 * record's time and its day is that UTC date.  As the agent does, a
 * segment is closed when the clock passes 00:00 UTC and the next one, sealed
 * for the new day, begins (it counts as one of the segments asked for).
 * Each segment starts with a SESSION and a MONITORS record (a reader's t_ms
 * counts from the SESSION), so every segment reads on its own.
 */
#ifndef USETRACE_SYNTH_H
#define USETRACE_SYNTH_H

#include <stdint.h>

#include "usetrace/event.h"
#include "usetrace/keys.h"

/* Segments targeted at fewer bytes than this carry no frames. */
#define SYNTH_FRAMES_MIN (64u << 10)
#define SYNTH_BYTES_DEFAULT (256u << 10)
#define SYNTH_BYTES_MAX (32u << 20)
#define SYNTH_SEGMENTS_MAX 100000u

/* One closed segment, as synth_write() reports it. */
struct synth_segment {
	unsigned index;            /* 0-based, in the order written */
	char name[64];             /* file name inside dir */
	uint8_t segment_id[16];
	int64_t start_wall_ns, end_wall_ns;  /* as signed in the segment */
	uint64_t bytes;            /* file size */
	uint64_t records;
};

struct synth_opts {
	const char *dir;           /* the spool directory (created 0700) */
	const struct ut_device_key *device;  /* signs; required */
	/*
	 * The X25519 key a segment starting at start_ns is sealed to (e.g.
	 * the server's ingest key of that UTC day); 0 or a negative code,
	 * which stops the run.  Required.
	 */
	int (*recipient)(int64_t start_ns, uint8_t pk[32], void *arg);
	uint8_t subject_id[16];    /* header fields, as in spool_opts */
	uint8_t policy_hash[32];
	uint8_t consent_id[16];
	unsigned segments;         /* 0: 1; at most SYNTH_SEGMENTS_MAX */
	uint64_t segment_bytes;    /* target size; 0: SYNTH_BYTES_DEFAULT */
	uint64_t seed;
	/*
	 * Typed once in every segment and part of the title of its first
	 * window (NULL: none); at most 200 bytes of UTF-8, no control
	 * characters.
	 */
	const char *marker;
	int64_t start_wall_ns;     /* the first record's time; 0: now */
	/*
	 * 0: a key frame every third burst of activity.  N: N frames every
	 * burst, as the agent stores them: a key frame first in a segment and
	 * every 300th, else a delta of 1 to 4 tiles on the frame before (the
	 * web page's benchmark day: 300 frames to 500 actions).
	 */
	unsigned frames_per_episode;
	/*
	 * Called with every record of segment seg in stored order, as a
	 * reader returns it (encoded and decoded once), before the segment
	 * is closed; may be NULL.  Non-zero stops the run and is returned.
	 */
	int (*on_record)(unsigned seg, const struct ut_event *ev, void *arg);
	/* Called once each segment is closed; may be NULL.  As on_record. */
	int (*on_segment)(const struct synth_segment *s, void *arg);
	void *arg;                 /* for the three callbacks */
};

/*
 * Writes o->segments closed segments into o->dir, each closed once it
 * reaches about o->segment_bytes (it may pass the target by one burst of
 * activity).  A directory holding another device's segments is refused
 * (as by spool_open).  Returns 0, UT_EINVAL (bad options), a callback's
 * non-zero value, or the spool's error (-errno, UT_EDENIED, ...); segments
 * closed before an error stay.
 */
int synth_write(const struct synth_opts *o) __attribute__((warn_unused_result));

#endif
