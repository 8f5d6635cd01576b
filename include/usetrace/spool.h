/*
 * spool.h - where records go: a directory of segment files.
 *
 * Writers append privacy-filtered records and commit them; a record is
 * "acknowledged" once a spool_commit() that covers it has returned 0 (its
 * frame is written and fsync'd).  Readers iterate every record of every
 * segment in order, stopping each segment at its last intact frame, so a
 * recording cut by a crash, a dead display or a full disk stays readable up
 * to the last acknowledged record.
 *
 * The on-disk layout is versioned and documented in docs/FORMAT.md.  The
 * interface is deliberately narrow (open/append/commit/close, reader
 * open/next/close) so that encryption and signed checkpoints (format v1)
 * change only this part, never its callers.
 *
 * Error behaviour: a failed write or fsync puts the writer in a sticky
 * FAILED state; every later append/commit returns the same error, and
 * spool_close() still releases everything.  What was acknowledged before the
 * failure stays readable.
 */
#ifndef USETRACE_SPOOL_H
#define USETRACE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "usetrace/event.h"

struct spool;
struct spool_reader;

struct spool_opts {
	const char *dir;           /* created (0700) if missing */
	size_t segment_max_bytes;  /* 0: 4 MiB */
	uint64_t segment_max_ms;   /* 0: 5 minutes */
};

/*
 * Opens dir for appending; new segments are numbered after any already
 * there.  On success *out owns the spool; free it with spool_close().
 * Errors: -errno (dir cannot be created or written), UT_EINVAL.
 */
int spool_open(const struct spool_opts *opts, struct spool **out)
	__attribute__((warn_unused_result));

/* Buffers ev (copied); may write but never fsyncs.  See header for errors. */
int spool_append(struct spool *sp, const struct ut_event *ev)
	__attribute__((warn_unused_result));

/* Makes every appended record durable (acknowledged).  0 or -errno. */
int spool_commit(struct spool *sp) __attribute__((warn_unused_result));

/* Sequence number of the last acknowledged record (0 if none). */
uint64_t spool_acked_seq(const struct spool *sp);
/* Total bytes written to segment files so far. */
uint64_t spool_bytes_written(const struct spool *sp);

/*
 * Commits, finalises the open segment and frees sp (NULL is a no-op).
 * Returns the first error met, including a sticky earlier one.
 */
int spool_close(struct spool *sp);

/*
 * Opens every segment of dir for reading.  Returns UT_ENOTFOUND when dir
 * holds no segment, -errno when it cannot be read.
 */
int spool_reader_open(const char *dir, struct spool_reader **out)
	__attribute__((warn_unused_result));

/*
 * Reads the next record into ev.  Returns 1 for a record, 0 at the end,
 * or a negative code for a segment whose header is unreadable (the reader
 * then moves on to the next segment on the following call).
 */
int spool_reader_next(struct spool_reader *rd, struct ut_event *ev)
	__attribute__((warn_unused_result));

struct spool_read_stats {
	unsigned segments;        /* segment files seen */
	unsigned open_segments;   /* not closed by their writer */
	unsigned torn_tails;      /* segments ending in a partial/corrupt frame */
	uint64_t records;
};

void spool_reader_stats(const struct spool_reader *rd, struct spool_read_stats *st);
/* Rewinds to the first record of the first segment. */
int spool_reader_rewind(struct spool_reader *rd);
void spool_reader_close(struct spool_reader *rd);

#endif
