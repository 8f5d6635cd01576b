/*
 * spool_int.h - segment format v1/v2 constants and the structural verifier
 * shared by the writer (recovery), the reader and spool_check().  Private
 * to src/spool/; docs/FORMAT.md section 2 is the normative description.
 */
#ifndef USETRACE_SPOOL_INT_H
#define USETRACE_SPOOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "usetrace/buf.h"
#include "usetrace/event.h"

#define SPOOL_MAGIC "USETRACE"
#define SPOOL_VERSION 2u        /* written; v1 is still read */
#define SPOOL_VERSION_V1 1u
#define SPOOL_SEGID_LEN 16u
#define SPOOL_HASH_LEN 32u

/* Header field offsets (all integers little-endian). */
#define SH_MAGIC 0u
#define SH_VERSION 8u
#define SH_FLAGS 10u
#define SH_HLEN 12u
#define SH_DEVICE 16u      /* Ed25519 public key, 32 */
#define SH_SUBJECT 48u     /* 16 */
#define SH_SEGID 64u       /* 16 */
#define SH_SEGNO 80u       /* u64 */
#define SH_START 88u       /* i64 wall ns */
#define SH_POLICY 96u      /* 32 */
#define SH_CONSENT 128u    /* 16 */
#define SH_RECIPIENT 144u  /* X25519 public key, 32 */
#define SH_SEALED 176u     /* crypto_box_seal(segment key), 80 */
#define SH_SSHDR 256u      /* secretstream header, 24 */
#define SH_SIG 280u        /* v1: Ed25519 signature, 64 */
#define SPOOL_HDR_LEN 344u /* v1 header */
/* v2: the link to the previous segment, then the signature. */
#define SH_PREV_ID 280u    /* previous segment's id, 16 (zero: none) */
#define SH_PREV_TH 296u    /* BLAKE2b-256 of its trailer record, 32 */
#define SH_SIG_V2 328u
#define SPOOL_HDR_LEN_V2 392u
#define SPOOL_HDR_MAX SPOOL_HDR_LEN_V2
#define SPOOL_SEALED_LEN (crypto_secretstream_xchacha20poly1305_KEYBYTES + \
	crypto_box_SEALBYTES)

/* Records after the header; each starts with a type byte. */
#define SPOOL_REC_FRAME 1u     /* u8 type, u32 len, ciphertext[len] */
#define SPOOL_REC_CKPT 2u      /* u8 type, u64 count, head[32], sig[64] */
#define SPOOL_REC_TRAILER 3u   /* u8, u32 flags, i64 end, u64 count, head, sig */
#define SPOOL_FRAME_HDR 5u
#define SF_LEN 1u          /* frame: u32 ciphertext length */
/* Checkpoint record offsets. */
#define SC_COUNT 1u        /* u64 frames covered */
#define SC_HEAD 9u         /* chain head, 32 */
#define SC_SIG 41u         /* Ed25519 signature, 64 */
#define SPOOL_CKPT_LEN 105u
/* Trailer record offsets. */
#define ST_FLAGS 1u        /* u32 */
#define ST_END 5u          /* i64 wall ns */
#define ST_COUNT 13u       /* u64 frames covered */
#define ST_HEAD 21u        /* chain head, 32 */
#define ST_SIG 53u         /* Ed25519 signature, 64 */
#define SPOOL_TRAILER_LEN 117u
/* The signed messages: context (8), header hash (32), then the fields. */
#define SM_CTX 0u
#define SM_HH 8u
#define SCM_COUNT 40u      /* checkpoint: u64 count, head */
#define SCM_HEAD 48u
#define SPOOL_CKPT_MSG_LEN 80u
#define STM_FLAGS 40u      /* trailer: u32 flags, i64 end, u64 count, head */
#define STM_END 44u
#define STM_COUNT 52u
#define STM_HEAD 60u
#define SPOOL_TRAILER_MSG_LEN 92u
#define SPOOL_TRAILER_RECOVERED 1u

#define SPOOL_FRAME_MAX (8u << 20)       /* ciphertext cap */
#define SPOOL_BATCH_MAX (16u << 20)      /* decompressed batch cap */
#define SPOOL_BATCH_FLUSH (256u << 10)   /* seal a frame past this size */
#define SPOOL_SEGMENT_BYTES (4u << 20)
#define SPOOL_SEGMENT_MS (5u * 60u * 1000u)
#define SPOOL_FILE_CAP (256u << 20)      /* largest segment a reader loads */
#define SPOOL_ZSTD_LEVEL 1
#define SPOOL_SEG_SUFFIX ".uts"
#define SPOOL_OPEN_SUFFIX ".uts.open"

_Static_assert(SPOOL_CKPT_LEN == SC_SIG + 64u, "checkpoint layout");
_Static_assert(SPOOL_TRAILER_LEN == ST_SIG + 64u, "trailer layout");
_Static_assert(SPOOL_CKPT_MSG_LEN == SCM_HEAD + 32u, "checkpoint message");
_Static_assert(SPOOL_TRAILER_MSG_LEN == STM_HEAD + 32u, "trailer message");

/* Domain separation for the signed and hashed messages. */
#define SPOOL_CTX_CKPT "UT-CKPT1"
#define SPOOL_CTX_TRAILER "UT-TRLR1"
#define SPOOL_CTX_CHAIN "UT-CHAIN"

/* Result of verifying a segment's structure (no decryption key needed). */
struct seg_scan {
	uint8_t hh[SPOOL_HASH_LEN];     /* header hash: AD and chain seed */
	uint8_t device[32];
	uint8_t recipient[32];
	uint8_t segid[SPOOL_SEGID_LEN];
	uint64_t segno;
	int64_t start_ns, end_ns;
	uint64_t frames_seen;           /* frames parsed, covered or not */
	uint64_t covered;               /* frames covered by last ckpt/trailer */
	uint64_t checkpoints;
	size_t covered_end;             /* offset just past that ckpt/trailer */
	uint8_t covered_head[SPOOL_HASH_LEN];
	bool has_trailer;
	uint32_t trailer_flags;
	uint8_t trailer_hash[SPOOL_HASH_LEN]; /* BLAKE2b-256 of the trailer record */
	int tail_err;                   /* 0: clean end; else why scanning stopped */
	/*
	 * Why scanning stopped, when it did: true for a record that is
	 * complete but fails a check, or bytes no writer writes (corruption);
	 * false for a record cut by the end of the file, uncovered whole
	 * frames at the end, or a zero-filled end (the torn tail of a crash).
	 */
	bool tail_corrupt;
	unsigned version;               /* 1 or 2 */
	size_t hdr_len;                 /* 344 (v1) or 392 (v2) */
	uint8_t prev_id[SPOOL_SEGID_LEN]; /* v2 link; zero for v1 / none */
	uint8_t prev_th[SPOOL_HASH_LEN];
};

/* Header length and signature offset of a v1 or v2 header (0: neither). */
size_t spool__hdr_len(unsigned version);
/* Header hash over the signed header message. */
void spool__header_hash(const uint8_t *hdr, uint8_t hh[SPOOL_HASH_LEN]);
/* Builds the message that the header signature covers; returns its length. */
size_t spool__header_msg(const uint8_t *hdr, uint8_t *msg);
/*
 * The same for a header in original (stored false) or stored form (the
 * sealed-key field holds its BLAKE2b-256 hash then zeros; section 2.1).
 */
size_t spool__header_msg_form(const uint8_t *hdr, bool stored, uint8_t *msg);
void spool__chain_init(const uint8_t hh[SPOOL_HASH_LEN], uint8_t head[SPOOL_HASH_LEN]);
void spool__chain_step(uint8_t head[SPOOL_HASH_LEN], const uint8_t *ct, uint32_t len);
/* Message signed by a checkpoint (kind CKPT) or trailer. */
size_t spool__ckpt_msg(const uint8_t hh[SPOOL_HASH_LEN], uint64_t count,
    const uint8_t head[SPOOL_HASH_LEN], uint8_t *msg);
size_t spool__trailer_msg(const uint8_t hh[SPOOL_HASH_LEN], uint32_t flags,
    int64_t end_ns, uint64_t count, const uint8_t head[SPOOL_HASH_LEN],
    uint8_t *msg);
#define SPOOL_MSG_MAX 128u

/*
 * Verifies header and records of a segment image p (len bytes).  expect_dev
 * (may be NULL) is the device that must have signed it.  Returns 0 when
 * the header is valid (s->tail_err then says whether the rest was clean),
 * UT_ECORRUPT / UT_EVERSION / UT_EDENIED (foreign device) otherwise.
 */
int spool__scan(const uint8_t *p, size_t len, const uint8_t *expect_dev,
    struct seg_scan *s) __attribute__((warn_unused_result));
/*
 * spool__scan() of an image in original (stored false) or stored form; a
 * stored-form header whose padding after the hash is not zero is
 * UT_ECORRUPT.
 */
/* True when a stored-form header's padding after the hash is all zero. */
bool spool__stored_pad_ok(const uint8_t *hdr);
int spool__scan_form(const uint8_t *p, size_t len, bool stored,
    const uint8_t *expect_dev, struct seg_scan *s)
    __attribute__((warn_unused_result));

/*
 * Decoder of the covered frames of one verified segment image (reader.c),
 * the one implementation of "decrypt + decompress + decode" that the spool
 * reader and the memory reader (stored.c) share.  It borrows the image;
 * the stream state is sodium_malloc'd and every plaintext buffer is wiped
 * when the segment is stopped.
 *
 * States:  IDLE -> DECODING [spool__dec_start] -> IDLE [spool__dec_stop]
 */
struct seg_dec {
	const uint8_t *img;             /* borrowed; NULL when IDLE */
	size_t off, covered_end;
	uint64_t covered, frame_no;     /* frame_no <= covered */
	uint8_t hh[SPOOL_HASH_LEN];
	crypto_secretstream_xchacha20poly1305_state *st;
	uint8_t *pt;                    /* decrypted, still compressed */
	size_t pt_cap;
	uint8_t *batch;                 /* decompressed batch */
	size_t batch_cap;
	struct bufrd brd;
	uint64_t batch_left;            /* records of batch not yet returned */
	struct event_codec codec;
	struct ZSTD_DCtx_s *zd;
	/*
	 * Where the frame record the current batch came from (issue 13's frame
	 * index): its offset in the image, ciphertext length, number (0-based)
	 * and the stream state's nonce just before it was pulled.
	 */
	uint64_t rec_off;
	uint32_t rec_len;
	uint8_t rec_nonce[12];
};

/* Allocates the stream state and zstd context; 0 or -ENOMEM. */
int spool__dec_init(struct seg_dec *d) __attribute__((warn_unused_result));
/*
 * Starts decoding img, which sc (spool__scan of img) verified, with the
 * 32-byte segment key (only read).  0 or UT_ECRYPTO.
 */
int spool__dec_start(struct seg_dec *d, const uint8_t *img,
    const struct seg_scan *sc, const uint8_t *key)
    __attribute__((warn_unused_result));
/*
 * Starts decoding one frame record alone: rec (n bytes: type, length,
 * ciphertext) of the image whose header hash is hh and secretstream header
 * sshdr, with the stream state restored from nonce, the state's nonce
 * just before that record was pulled (seg_dec.rec_nonce at ingest).  A
 * wrong nonce, record or key fails to decrypt (UT_ECRYPTO) at
 * spool__dec_next(); a malformed record is UT_ECORRUPT here.
 */
int spool__dec_start_rec(struct seg_dec *d, const uint8_t hh[SPOOL_HASH_LEN],
    const uint8_t *sshdr, const uint8_t *key, const uint8_t nonce[12],
    const uint8_t *rec, size_t n) __attribute__((warn_unused_result));
/*
 * Next record of the covered frames: 1 (ev filled), 0 after the last one,
 * or UT_ECRYPTO (wrong key, forged frame) / UT_ECORRUPT (undecodable).
 */
int spool__dec_next(struct seg_dec *d, struct ut_event *ev)
    __attribute__((warn_unused_result));
/* Wipes the stream state and plaintext, back to IDLE. */
void spool__dec_stop(struct seg_dec *d);
/* Stops and frees everything; a zeroed seg_dec is fine. */
void spool__dec_finish(struct seg_dec *d);

/*
 * The v2 link between neighbouring segments (link.c, docs/FORMAT.md 2.2).
 * One summary per segment file, in number order.
 */
struct segname;

struct seg_link {
	bool ok;                        /* header verified */
	unsigned version;
	uint8_t device[32];
	uint64_t segno;
	uint8_t segid[SPOOL_SEGID_LEN];
	bool closed;                    /* a valid trailer */
	uint8_t trailer_hash[SPOOL_HASH_LEN];
	uint8_t prev_id[SPOOL_SEGID_LEN];
	uint8_t prev_th[SPOOL_HASH_LEN];
};

/*
 * Reads and verifies the header of each of the n segments of dir (any
 * device); *out (malloc'd, free()) gets one summary each, closed false.
 * A header that is not valid is a summary with ok false; one that cannot
 * be read (an I/O error; a file gone since the listing is skipped) fails:
 * -errno, *out still set.
 */
int spool__read_headers(const char *dir, const struct segname *segs,
    size_t n, struct seg_link **out);
/*
 * The device that signed most segments whose header verifies (on a tie,
 * the earliest); false: none verifies.  O(n^2), n is small.
 */
bool spool__main_device(const struct seg_link *all, size_t n,
    uint8_t dev[32]);
/* Marks l closed with sc's trailer hash when sc is a valid closed scan. */
void spool__link_close(struct seg_link *l, const struct seg_scan *sc);
/* True when a file of len bytes is cut inside its header (holds nothing). */
bool spool__header_cut(const uint8_t *p, size_t len);
/*
 * Checks cur's link against prev, the segment before it in the directory
 * (NULL: cur is the first).  all/n (may be NULL/0) are every segment, to
 * tell a reordered predecessor from a missing one.  Returns a SPOOL_LINK_*
 * value (spool.h).
 */
int spool__link_check(const struct seg_link *prev, const struct seg_link *cur,
    const struct seg_link *all, size_t n);

/*
 * Takes the writer's lock on dir (lock.c): *fd (OUT) holds it.  0, -EBUSY
 * (another writer holds it; logged with its pid) or -errno.
 */
int spool__lock_take(const char *dir, int *fd)
	__attribute__((warn_unused_result));
/* Removes DIR/.lock while still holding it, then releases it (fd < 0: no-op). */
void spool__lock_drop(const char *dir, int fd);

/* Parses "seg-NNNNNNNN.uts[.open]"; 1 when it is one, *open set. */
int spool__seg_name(const char *name, unsigned *index, bool *open);

struct segname {
	unsigned index;
	bool open;
	char name[64];
};

/*
 * Lists dir's segment files in number order; *out is malloc'd (free()),
 * NULL when there is none.  Returns the count, or -errno.
 */
int spool__list_segments(const char *dir, struct segname **out)
	__attribute__((warn_unused_result));

#endif
