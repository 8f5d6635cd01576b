/*
 * spool.h - where records go: a directory of encrypted segment files.
 *
 * Writers append privacy-filtered records and commit them; a record is
 * "acknowledged" once a spool_commit() that covers it has returned 0: its
 * frame and a checkpoint signed by the device key are written and fsync'd.
 * Segments (format v2, docs/FORMAT.md section 2; v1 is still read) are
 * linked: each signed header names the previous segment's id and trailer
 * hash, so a deleted, reordered or substituted segment shows.  They are
 * encrypted with a
 * random per-segment key sealed to a recipient public key; the writer
 * cannot read back what it wrote.  Signatures, checkpoints and the BLAKE2b
 * frame chain can be verified without any decryption key (spool_check()).
 *
 * spool_open() first recovers the segments a crash left open: each is
 * truncated to its last valid checkpoint and closed with a trailer marked
 * "recovered".  Readers return only records covered by a valid checkpoint
 * or trailer, so a recording cut by a crash, a dead display or a full disk
 * stays readable up to the last acknowledged record and nothing torn or
 * tampered with is ever returned.
 *
 * Error behaviour: a failed write or fsync puts the writer in a sticky
 * FAILED state; every later append/commit returns the same error, and
 * spool_close() still releases everything.  What was acknowledged before the
 * failure stays readable, and the next spool_open() recovers the segment.
 * A full spool (budget_bytes reached) is not a failure: spool_append()
 * returns UT_EFULL and buffers nothing, earlier records still commit, and
 * the caller pauses capture (spool_is_full()).
 *
 * One writer per directory: spool_open() takes an exclusive flock on the
 * empty file DIR/.lock for the spool's life (spool_close() removes it); a
 * second spool_open() of the same directory fails with -EBUSY and logs the
 * holder's pid.
 *
 * States:  OPEN -> OPEN [spool_append, spool_commit, spool_rotate]
 *          OPEN -> FULL [spool_append at the budget]
 *          OPEN, FULL -> FAILED [I/O error];  any -> freed [spool_close]
 */
#ifndef USETRACE_SPOOL_H
#define USETRACE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/event.h"
#include "usetrace/keys.h"

struct spool;
struct spool_reader;

struct spool_opts {
	const char *dir;           /* created (0700) if missing */
	size_t segment_max_bytes;  /* 0: 4 MiB */
	uint64_t segment_max_ms;   /* 0: 5 minutes */
	/*
	 * Disk budget for the whole directory (existing segments included);
	 * 0: none.  The spool never grows past it: an append that could pass it
	 * returns UT_EFULL.
	 */
	size_t budget_bytes;
	/* Signs headers, checkpoints and trailers; copied, required. */
	const struct ut_device_key *device;
	/* X25519 public key every segment key is sealed to; required. */
	const uint8_t *recipient_pk;
	/* Header fields; all-zero when unknown.  subject_id zero: derived. */
	uint8_t subject_id[16];   /* pseudonymous subject */
	uint8_t policy_hash[32];  /* BLAKE2b-256 of the policy in force */
	uint8_t consent_id[16];
	/*
	 * The wall clock (ns since the epoch) read for a segment's header
	 * start time and its trailer end time; NULL: the system clock.  Only
	 * synthetic recordings (synth.h), which must carry a chosen start
	 * time, set it; the agent and every other writer leave it NULL.
	 * Segment age for segment_max_ms is still measured on the real
	 * monotonic clock.
	 */
	int64_t (*wall_clock)(void *arg);
	void *wall_clock_arg;
	/*
	 * Segment format written: 0 the current (2, linked); 1 the retired
	 * unlinked v1, only for tests that keep v1 spools readable.
	 */
	unsigned format_version;
};

/*
 * Opens dir for appending, after recovering every segment a crash left
 * open (see above); new segments are numbered after any already there.
 * A spool belongs to one device: opening a directory whose newest closed
 * segment another device signed fails with UT_EDENIED (logged as "signed
 * by another device: KEY").  A directory another live writer holds fails
 * with -EBUSY (logged with that writer's pid).  On success *out owns the
 * spool; free it with spool_close().  Errors: -errno (dir cannot be
 * created, written, locked or recovered), UT_EINVAL (missing key or
 * format), UT_EDENIED.
 */
int spool_open(const struct spool_opts *opts, struct spool **out)
	__attribute__((warn_unused_result));

/*
 * Buffers ev (copied); may write but never fsyncs.  UT_EFULL when the disk
 * budget is reached (ev not buffered, spool otherwise unchanged).  See the
 * top of this file for the sticky errors.
 */
int spool_append(struct spool *sp, const struct ut_event *ev)
	__attribute__((warn_unused_result));

/*
 * Group commit: writes pending records as a frame, then a signed
 * checkpoint, and fsyncs the file (and the directory after a create or
 * rename).  On 0 every appended record is acknowledged.  0 or -errno.
 */
int spool_commit(struct spool *sp) __attribute__((warn_unused_result));

/*
 * Commits and closes the open segment now (pause, consent withdrawal): its
 * trailer is written, the segment key wiped; the next append starts a new
 * segment.  A no-op when no segment is open.  0 or -errno (sticky).
 */
int spool_rotate(struct spool *sp) __attribute__((warn_unused_result));

/* True once an append met the disk budget ("spool full"). */
bool spool_is_full(const struct spool *sp);

/*
 * Seals every segment created from now on to pk (32 bytes, copied); the
 * open segment keeps the recipient it was created with.  The agent calls
 * it at 00:00 UTC, before rotating, with the new day's ingest key.
 */
void spool_set_recipient(struct spool *sp, const uint8_t *pk);

/* Sequence number of the last acknowledged record (0 if none). */
uint64_t spool_acked_seq(const struct spool *sp);
/*
 * The open segment's bytes (pending included) and age in ms; 0, 0 when
 * no segment is open.  The agent rotates at key frames with these.
 */
void spool_segment_size(const struct spool *sp, uint64_t *bytes, uint64_t *age_ms);

/* Total bytes written to segment files so far. */
uint64_t spool_bytes_written(const struct spool *sp);

/*
 * Commits, finalises the open segment and frees sp (NULL is a no-op).
 * Returns the first error met, including a sticky earlier one.
 */
int spool_close(struct spool *sp);

struct spool_read_opts {
	/*
	 * The unlocked recipient key pair (keys_recipient_unlock()); the
	 * caller keeps it alive until spool_reader_close().  Required to read
	 * records; segments sealed to another key give UT_EDENIED.
	 */
	const struct ut_recipient_key *key;
	/*
	 * Ed25519 public key of the device that must have written every
	 * segment; NULL: the device that signed most segments (on a tie,
	 * the earliest), so a segment copied in from another device is
	 * refused but does not make the others refused.  Readers that know
	 * their own device key pass it.
	 */
	const uint8_t *device_pk;
	/*
	 * This device's Ed25519 public key, or NULL.  When device_pk is NULL
	 * and some segment's header is signed by it, it is the device every
	 * segment must carry (the reader trusts its own device key; others'
	 * segments are reported as signed by another device).
	 */
	const uint8_t *own_device_pk;
};

/* How a v2 segment relates to the closed segment before it (FORMAT 2.2). */
enum spool_link {
	SPOOL_LINK_OK = 0,        /* linked, first present, or v1 */
	SPOOL_LINK_MISSING,       /* the segment it names is not there */
	SPOOL_LINK_REORDERED,     /* it is there, but not just before it */
	SPOOL_LINK_SUBSTITUTED,   /* another segment, or another trailer, in its place */
	SPOOL_LINK_UNLINKED,      /* names none although a closed one precedes it */
};

/* "the segment before it is missing", ...; "linked" for SPOOL_LINK_OK. */
const char *spool_link_name(int link);

/*
 * Opens every segment of dir for reading.  Returns UT_ENOTFOUND when dir
 * holds no segment, -errno when it cannot be read, UT_EINVAL without a key.
 */
int spool_reader_open(const char *dir, const struct spool_read_opts *o,
    struct spool_reader **out) __attribute__((warn_unused_result));

/*
 * Reads the next record into ev.  Returns 1 for a record, 0 at the end,
 * or a negative code for a segment that is unreadable (header, signature,
 * foreign device: UT_ECORRUPT / UT_EDENIED; wrong key: UT_EDENIED /
 * UT_ECRYPTO) or corrupt after its verified prefix (a closed segment cut
 * short or with bytes after its trailer; an open segment whose tail is
 * not a crash's torn tail but corruption).  The reader then moves on to
 * the next segment on the following call.  A broken link (a missing,
 * reordered or substituted neighbour) is returned as UT_ECORRUPT once,
 * before the records of the segment, which follow on the next calls.
 * spool_reader_error() says in words what each negative return was.
 */
int spool_reader_next(struct spool_reader *rd, struct ut_event *ev)
	__attribute__((warn_unused_result));

/*
 * After a negative spool_reader_next(): "seg-00000002.uts: segment signed
 * by another device: KEY" and the like, naming the segment and what it
 * is.  Valid until the next call on rd.
 */
const char *spool_reader_error(const struct spool_reader *rd);

struct spool_read_stats {
	unsigned segments;        /* segment files seen */
	unsigned open_segments;   /* not closed by their writer */
	unsigned torn_tails;      /* open segments with bytes past their last checkpoint */
	uint64_t records;
	unsigned recovered_segments; /* closed by recovery after a crash */
	unsigned bad_segments;    /* unreadable or corrupt (a negative return) */
	unsigned broken_links;    /* v2 link problems (reported, records read) */
};

void spool_reader_stats(const struct spool_reader *rd, struct spool_read_stats *st);
/* Rewinds to the first record of the first segment. */
int spool_reader_rewind(struct spool_reader *rd);
void spool_reader_close(struct spool_reader *rd);

/* What spool_check() found in one segment file. */
enum spool_seg_state {
	SPOOL_SEG_OPEN = 1,   /* being written, or cut by a crash (not yet recovered) */
	SPOOL_SEG_CLOSED,     /* closed by its writer with a valid trailer */
	SPOOL_SEG_RECOVERED,  /* closed by recovery after a crash */
	SPOOL_SEG_CORRUPT,    /* fails a signature, chain or structure check */
};

struct spool_seg_info {
	char name[64];            /* file name inside dir */
	enum spool_seg_state state;
	int err;                  /* why CORRUPT (UT_E*), else 0 */
	uint64_t frames;          /* covered by a valid checkpoint or trailer */
	uint64_t checkpoints;     /* valid checkpoints */
	uint64_t bytes;           /* file size */
	uint64_t verified_bytes;  /* prefix covered by signatures */
	uint64_t segment_no;
	int64_t start_wall_ns, end_wall_ns; /* end: 0 unless closed */
	uint8_t device_pk[32];
	uint8_t segment_id[16];
	unsigned version;         /* 1 or 2; 0 when the header is unreadable */
	int link;                 /* enum spool_link (v2) */
	bool torn_tail;           /* OPEN: bytes past the last checkpoint, as a crash leaves */
	char why[160];            /* CORRUPT: what, in words */
};

/*
 * Verifies every segment of dir without any decryption key: header
 * signature, device (device_pk, or else the device that signed most
 * segments), segment number, every checkpoint against the BLAKE2b frame
 * chain, the trailer, and each v2 segment's link to the one before.  An
 * open segment whose tail is corrupt (not a crash's torn tail) is CORRUPT.
 * Calls fn once per segment in number order (fn returning non-zero stops
 * the walk and is returned).  *ncorrupt (may be NULL) counts CORRUPT
 * segments and segments with a broken link.  Returns 0, UT_ENOTFOUND for
 * no segment, or -errno.
 */
int spool_check(const char *dir, const uint8_t *device_pk,
    int (*fn)(const struct spool_seg_info *si, void *arg), void *arg,
    unsigned *ncorrupt) __attribute__((warn_unused_result));

const char *spool_seg_state_name(enum spool_seg_state s);

/*
 * The server's view of one segment image (docs/FORMAT.md section 2.1).
 * The server receives closed segments by upload, verifies them, opens the
 * sealed segment key and keeps the segment in *stored form*: the 80-byte
 * sealed-key field (header bytes 176..256) replaced by its BLAKE2b-256 hash
 * followed by 48 zero bytes.  Lengths and offsets are unchanged, and every
 * signature still verifies, because the header signature covers the sealed
 * key only through that hash.  These functions read only the bytes given
 * and never touch a file.
 */
struct spool_upload_info {
	uint8_t device_pk[32];
	uint8_t subject_id[16];
	uint8_t segment_id[16];
	uint64_t segment_no;
	int64_t start_wall_ns, end_wall_ns;
	uint8_t policy_hash[32];
	uint8_t consent_id[16];
	uint8_t recipient_pk[32];
	uint8_t sealed_key[80];       /* empty (zero) for a stored-form image */
	uint8_t sealed_key_hash[32];  /* BLAKE2b-256 of the sealed key */
	uint8_t header_hash[32];      /* HH */
	uint8_t chain_head[32];       /* after the last frame */
	uint64_t frames;
	bool recovered;               /* trailer flag bit 0 */
	unsigned version;             /* 1 or 2 */
	/* v2 link (FORMAT 2.2); zero for v1 and for the first segment */
	uint8_t prev_segment_id[16];
	uint8_t prev_trailer_hash[32];
	uint8_t trailer_hash[32];     /* BLAKE2b-256 of this trailer record */
};

/*
 * Verifies a COMPLETE CLOSED segment image p (len bytes, only read): the
 * header (version 1 or 2, signature by the device key in the header; if
 * expect_device is not NULL it must equal it), every frame and checkpoint
 * against the chain, a valid trailer, and nothing after the trailer.
 * stored: the image is in stored form (a stored-form image is refused with
 * stored false and an original one with stored true).  Fills *info (OUT)
 * on success only.  Returns 0, or UT_EVERSION (not version 1 or 2), UT_EDENIED
 * (signed by another device than expect_device), UT_ESTATE (an open
 * segment: it ends cleanly at a checkpoint without a trailer), UT_ECORRUPT
 * (anything else: bad signature, chain, structure, torn tail, bytes after
 * the trailer).
 */
int spool_upload_verify(const uint8_t *p, size_t len, bool stored,
    const uint8_t *expect_device, struct spool_upload_info *info)
	__attribute__((warn_unused_result));

/*
 * Rewrites a verified original image in place into stored form (hash ||
 * zeros); the sealed key is wiped.  An image shorter than a header is left
 * unchanged.  Never call it on an image already in stored form.
 */
void spool_to_stored_form(uint8_t *p, size_t len);

struct spool_mem_reader;

/*
 * Opens a reader over the records of one segment image p (len bytes, in
 * original or stored form per `stored`) with its 32-byte secretstream key
 * (copied into guarded memory while the stream is set up, then wiped).  The
 * image is verified first as by spool_upload_verify() (any device), except
 * that an image without a trailer is read up to its last valid checkpoint,
 * as spool_reader_next() reads an open segment.  The caller keeps p alive
 * and unchanged until spool_mem_reader_close().  On success *out (OUT) owns
 * the reader.  Errors: those of spool_upload_verify() but UT_ESTATE,
 * UT_ECRYPTO, -ENOMEM.
 */
int spool_mem_reader_open(const uint8_t *p, size_t len, bool stored,
    const uint8_t key[32], struct spool_mem_reader **out)
	__attribute__((warn_unused_result));

/*
 * The same reader over a closed image that spool_upload_verify() verified
 * just before, with the info it filled: p, len and stored as given to that
 * call, the image unchanged since.  The chain and the signatures are not
 * walked again; the header hash and the trailer are checked against info
 * (UT_ECORRUPT when they differ), and a frame changed since fails to
 * decrypt (UT_ECRYPTO from spool_mem_reader_next()).  Errors as
 * spool_mem_reader_open().
 */
int spool_upload_reader_open(const uint8_t *p, size_t len, bool stored,
    const struct spool_upload_info *info, const uint8_t key[32],
    struct spool_mem_reader **out) __attribute__((warn_unused_result));

/*
 * Reads the next record into ev: 1, 0 at the end, or a negative code
 * (UT_ECRYPTO: wrong key or forged frame; UT_ECORRUPT: undecodable).  An
 * error is sticky: every later call returns it, and no record follows it.
 */
int spool_mem_reader_next(struct spool_mem_reader *rd, struct ut_event *ev)
	__attribute__((warn_unused_result));

/* Wipes and frees rd (NULL is a no-op); p may be freed afterwards. */
void spool_mem_reader_close(struct spool_mem_reader *rd);

/*
 * Reading one frame record of a stored segment alone (issue 13: the
 * server's frame index).  Frame records are sealed in one secretstream, so
 * record i decrypts only with the stream state after records 0..i-1; that
 * state is the fixed subkey (from the segment key and the secretstream
 * header) and a 12-byte nonce (a counter and the MACs of the records
 * before, both public).  The index keeps that nonce per record, so any
 * record is a resumable point: it is decrypted and authenticated (AD: the
 * header hash; its position through the nonce) on its own.
 */
struct spool_rec_pos {
	uint64_t off;           /* offset of the record's type byte */
	uint32_t len;           /* ciphertext length */
	uint32_t no;            /* 0-based frame record number */
	uint8_t nonce[12];      /* stream nonce just before it */
};
/* Bytes before a frame record's ciphertext (type, length). */
#define SPOOL_FRAME_REC_HDR 5u

/*
 * The frame record that the event last returned by spool_mem_reader_next()
 * came from.  0, or UT_ESTATE before the first event.
 */
int spool_mem_reader_pos(const struct spool_mem_reader *rd,
    struct spool_rec_pos *pos);

struct spool_rec_dec;
/*
 * A decoder of single records of one stored-form image whose first
 * hdr_len bytes are hdr (at least its header), with the 32-byte segment
 * key (copied into guarded memory).  0, UT_ECORRUPT (not a stored-form
 * header), UT_ECRYPTO, -ENOMEM.
 */
int spool_rec_dec_open(const uint8_t *hdr, size_t hdr_len,
    const uint8_t key[32], struct spool_rec_dec **out)
    __attribute__((warn_unused_result));
/* The header length of the image (392, or 344 for v1). */
size_t spool_rec_dec_hdr_len(const struct spool_rec_dec *d);
/*
 * Loads record pos: rec is its SPOOL_FRAME_REC_HDR + pos->len bytes, read
 * from pos->off; borrowed until the next load or close.  0 or UT_ECORRUPT.
 */
int spool_rec_dec_load(struct spool_rec_dec *d, const struct spool_rec_pos *pos,
    const uint8_t *rec, size_t n) __attribute__((warn_unused_result));
/* The loaded record's events: 1, 0 after its last, UT_ECRYPTO / UT_ECORRUPT. */
int spool_rec_dec_next(struct spool_rec_dec *d, struct ut_event *ev)
    __attribute__((warn_unused_result));
/* Wipes and frees d (NULL is a no-op). */
void spool_rec_dec_close(struct spool_rec_dec *d);

#endif
