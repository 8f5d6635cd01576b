/*
 * spool.c - encrypted, append-only, crash-safe segment writer and crash
 * recovery (format v2, docs/FORMAT.md section 2; v1 on request for tests).
 *
 * A spool is a directory of segments.  Each segment is a signed header
 * holding the segment's random key sealed to the recipient, then frames
 * (zstd batch -> secretstream ciphertext, header hash as additional data),
 * a signed checkpoint (frame count, BLAKE2b chain head) at every group
 * commit, and a signed trailer when it closes.
 *
 * Invariants (tests/unit/test_spool*.c check each one by number):
 *  (1) Only records handed to spool_append() are written; the spool never
 *      sees raw, unfiltered input.
 *  (2) A record is acknowledged only after the frame holding it and a
 *      checkpoint covering that frame are written and fdatasync'd, and, for
 *      a new segment, the directory entry fsync'd (spool_commit()).
 *  (3) Bytes are only ever appended to the open segment; nothing written is
 *      rewritten, so a crash or power loss can tear only the bytes after the
 *      last durable checkpoint.  Recovery truncates exactly those.
 *  (4) After any write or fsync failure the spool is FAILED (sticky): no
 *      further bytes are written to any segment.
 *  (5) The segment key exists in plaintext only in sodium_malloc'd memory:
 *      generated, sealed to the recipient, handed to secretstream, wiped at
 *      once; the stream state is wiped when the segment closes.  The writer
 *      cannot decrypt what it wrote.
 *  (6) The directory never grows past budget_bytes: appends that could
 *      pass it (worst case: frame, checkpoint, trailer, next header) return
 *      UT_EFULL; nothing acknowledged is overwritten or dropped.
 *  (7) One writer per directory: the flock on DIR/.lock is taken before
 *      recovery and held until spool_close() (which removes the file
 *      first), so no second writer ever recovers (truncates, closes) a
 *      live writer's open segment.
 *  (8) Each v2 header links to the newest segment that was closed with a
 *      valid trailer (this device's) when it was created: its id and the
 *      BLAKE2b-256 of its trailer record; zero when there is none.
 *
 * States:  OPEN -> OPEN [spool_append, spool_commit, spool_rotate]
 *          OPEN -> FULL [spool_append at the budget]
 *          OPEN, FULL -> FAILED [I/O error];  any -> freed [spool_close]
 * Segment files: seg-NNNNNNNN.uts.open while written (and after a crash,
 * until the next spool_open() recovers it), seg-NNNNNNNN.uts once closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

#define ENC_MAX (sizeof(struct ut_event) + 256u)
#define OUT_CAP (SPOOL_FRAME_MAX + SPOOL_BATCH_FLUSH + 4096u)

/* Everything secret the writer holds, in guarded, locked memory. */
struct seg_secrets {
	uint8_t dev_sk[UT_SIGN_SK_LEN];
	crypto_secretstream_xchacha20poly1305_state st;
};

struct spool {
	char *dir;
	int fd;                 /* open segment, -1 when none */
	unsigned seg_index;     /* index of the open / next segment */
	char seg_path[PATH_MAX];
	struct seg_secrets *k;
	uint8_t dev_pk[32], rcpt_pk[32];
	uint8_t subject[16], policy[32], consent[16];
	int64_t (*wall_clock)(void *arg); /* NULL: ut_now_wall_ns() */
	void *wall_clock_arg;
	int lock_fd;            /* DIR/.lock, flock'd; -1 when not held */
	unsigned version;       /* format written: 1 or 2 */
	uint8_t prev_id[SPOOL_SEGID_LEN]; /* link for the next header */
	uint8_t prev_th[SPOOL_HASH_LEN];
	uint8_t segid[SPOOL_SEGID_LEN];   /* of the open segment */
	uint8_t hh[SPOOL_HASH_LEN];   /* header hash of the open segment */
	uint8_t head[SPOOL_HASH_LEN]; /* chain head */
	uint64_t seg_frames, ckpt_frames;
	uint64_t seg_bytes;     /* open segment, pending bytes included */
	uint64_t seg_start_mono;
	bool dir_dirty;         /* a create/rename not yet fsync'd */
	bool file_dirty;        /* bytes written but not yet fsync'd */
	size_t max_bytes;
	uint64_t max_ns;
	size_t budget;
	uint64_t dir_bytes;     /* all segment bytes, pending included */
	bool full;

	struct buf out;         /* bytes of the open segment not yet written */
	struct buf batch;       /* encoded records of the pending frame */
	struct event_codec codec;
	uint32_t batch_n;
	uint64_t batch_last_seq;
	uint8_t *zbuf, *cbuf;   /* compression / ciphertext scratch */
	size_t zcap;
	ZSTD_CCtx *zc;

	uint64_t written_seq;   /* last seq in a sealed frame */
	uint64_t acked_seq;
	uint64_t total_bytes;
	int failed;             /* sticky error, 0 when healthy */
};

static void
seg_path(const char *dir, unsigned index, bool open, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/seg-%08u%s", dir, index,
	    open ? SPOOL_OPEN_SUFFIX : SPOOL_SEG_SUFFIX);
}

/* The wall time for headers and trailers (spool_opts.wall_clock). */
static int64_t
wall_now(const struct spool *sp)
{
	return sp->wall_clock != NULL ? sp->wall_clock(sp->wall_clock_arg) :
	    ut_now_wall_ns();
}

static int
sign(const struct seg_secrets *k, const uint8_t *msg, size_t n, uint8_t sig[64])
{
	return crypto_sign_detached(sig, NULL, msg, n, k->dev_sk) == 0 ? 0 :
	    UT_ECRYPTO;
}

/* Builds a trailer record into rec (SPOOL_TRAILER_LEN bytes). */
static int
make_trailer(const struct seg_secrets *k, const uint8_t hh[SPOOL_HASH_LEN],
    uint32_t flags, int64_t end, uint64_t count,
    const uint8_t head[SPOOL_HASH_LEN], uint8_t *rec)
{
	uint8_t msg[SPOOL_MSG_MAX];
	size_t n;

	rec[0] = SPOOL_REC_TRAILER;
	put_u32le(rec + ST_FLAGS, flags);
	put_u64le(rec + ST_END, (uint64_t)end);
	put_u64le(rec + ST_COUNT, count);
	memcpy(rec + ST_HEAD, head, SPOOL_HASH_LEN);
	n = spool__trailer_msg(hh, flags, end, count, head, msg);
	return sign(k, msg, n, rec + ST_SIG);
}

/*
 * Recovery of one open segment (invariant 3): truncate to the last valid
 * checkpoint, close it with a trailer marked recovered, rename, fsync.
 * A file torn inside its header holds nothing acknowledged (the header is
 * durable before the first checkpoint) and is removed.  A segment whose
 * header does not verify is left in place for spool_check to report.
 */
static int
recover_one(struct spool *sp, const struct segname *s)
{
	char path[PATH_MAX], final[PATH_MAX];
	unsigned char *file = NULL;
	uint8_t rec[SPOOL_TRAILER_LEN];
	struct seg_scan sc;
	size_t len = 0;
	int fd = -1, r;

	seg_path(sp->dir, s->index, true, path, sizeof(path));
	seg_path(sp->dir, s->index, false, final, sizeof(final));
	if ((r = fsio_read_file(path, SPOOL_FILE_CAP, &file, &len)) < 0)
		goto out;
	if (spool__header_cut(file, len)) {
		if ((r = fsio_unlink(path)) < 0)
			goto out;
		r = fsio_fsync_dir(sp->dir);
		goto out;
	}
	if (spool__scan(file, len, sp->dev_pk, &sc) < 0 || sc.segno != s->index) {
		log_warn("spool: %s: unverifiable open segment left as is", path);
		r = 0;
		goto out;
	}
	if (sc.tail_corrupt) {
		/* Not a crash's torn tail: keep the evidence for spool check. */
		log_warn("spool: %s: corrupt after %zu verified bytes (not a torn "
		    "tail); left as is", path, sc.covered_end);
		r = 0;
		goto out;
	}
	if ((fd = fsio_open(path, O_WRONLY, 0600)) < 0) {
		r = fd;
		goto out;
	}
	if ((r = fsio_ftruncate(fd, (off_t)sc.covered_end)) < 0)
		goto out;
	if (!sc.has_trailer) {
		if (lseek(fd, (off_t)sc.covered_end, SEEK_SET) < 0) {
			r = -errno;
			goto out;
		}
		if ((r = make_trailer(sp->k, sc.hh, SPOOL_TRAILER_RECOVERED,
		    wall_now(sp), sc.covered, sc.covered_head, rec)) < 0 ||
		    (r = fsio_write_all(fd, rec, sizeof(rec))) < 0)
			goto out;
	}
	if ((r = fsio_fsync(fd)) < 0)
		goto out;
	r = fsio_close(fd);
	fd = -1;
	if (r < 0 || (r = fsio_rename(path, final)) < 0)
		goto out;
	r = fsio_fsync_dir(sp->dir);
	if (r == 0)
		log_info("spool: recovered %s (%llu frames kept)", final,
		    (unsigned long long)sc.covered);
out:
	if (fd >= 0)
		(void)fsio_close(fd);
	free(file);
	return r;
}

/*
 * A spool belongs to one device: the newest closed segment must carry this
 * device's key (its header signature is verified too).  UT_EDENIED if not.
 */
static int
check_owner(struct spool *sp, const struct segname *s)
{
	uint8_t hdr[SPOOL_HDR_MAX], msg[SPOOL_HDR_MAX];
	char path[PATH_MAX], key[UT_PUBKEY_TEXT_MAX];
	ssize_t n;
	size_t mlen, hl;

	seg_path(sp->dir, s->index, false, path, sizeof(path));
	if ((n = fsio_read_head(path, hdr, sizeof(hdr))) < 0)
		return (int)n;
	if (n < (ssize_t)SPOOL_HDR_LEN || memcmp(hdr, SPOOL_MAGIC, 8) != 0 ||
	    (hl = spool__hdr_len((unsigned)(hdr[SH_VERSION] |
	    (hdr[SH_VERSION + 1] << 8)))) == 0 || (size_t)n < hl)
		return 0; /* not ours to judge: spool_check reports it */
	mlen = spool__header_msg(hdr, msg);
	if (crypto_sign_verify_detached(hdr + hl - 64, msg, mlen,
	    hdr + SH_DEVICE) != 0)
		return 0;
	if (sodium_memcmp(hdr + SH_DEVICE, sp->dev_pk, 32) == 0)
		return 0;
	keys_pubkey_format(hdr + SH_DEVICE, key, sizeof(key));
	log_error("spool: %s: segment signed by another device: %s (a spool "
	    "belongs to one device; record into another directory)", path, key);
	return UT_EDENIED;
}

/*
 * The link for the next header (invariant 8): the newest closed segment
 * of this device whose trailer verifies, after recovery.
 */
static int
find_link(struct spool *sp, const struct segname *segs, int n)
{
	unsigned char *file = NULL;
	char path[PATH_MAX];
	struct seg_scan sc;
	size_t len = 0;
	int i, r;

	for (i = n - 1; i >= 0; i--) {
		if (segs[i].open)
			continue;
		seg_path(sp->dir, segs[i].index, false, path, sizeof(path));
		/*
		 * A segment gone since the listing (uploaded) is skipped; one
		 * that cannot be read fails the open: linking past it would
		 * write a false "broken link" into the next segment.
		 */
		if ((r = fsio_read_file(path, SPOOL_FILE_CAP, &file, &len)) < 0) {
			if (r == -ENOENT)
				continue;
			return r;
		}
		if (spool__scan(file, len, sp->dev_pk, &sc) == 0 &&
		    sc.has_trailer && sc.tail_err == 0 && sc.segno == segs[i].index) {
			memcpy(sp->prev_id, sc.segid, SPOOL_SEGID_LEN);
			memcpy(sp->prev_th, sc.trailer_hash, SPOOL_HASH_LEN);
			free(file);
			return 0;
		}
		free(file);
		file = NULL;
	}
	return 0;
}

/* Recovers open segments, sums segment bytes, finds the next index. */
static int
recover_all(struct spool *sp)
{
	struct segname *segs = NULL;
	char path[PATH_MAX];
	struct stat st;
	unsigned max = 0;
	int n, i, r = 0;

	if ((n = spool__list_segments(sp->dir, &segs)) < 0)
		return n;
	for (i = n - 1; i >= 0; i--) {
		if (!segs[i].open) {
			if ((r = check_owner(sp, &segs[i])) < 0)
				goto out;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		if (segs[i].index > max)
			max = segs[i].index;
		if (segs[i].open && (r = recover_one(sp, &segs[i])) < 0)
			goto out;
	}
	free(segs);
	segs = NULL;
	if ((n = spool__list_segments(sp->dir, &segs)) < 0)
		return n;
	for (i = 0; i < n; i++) {
		seg_path(sp->dir, segs[i].index, segs[i].open, path, sizeof(path));
		if ((r = fsio_stat(path, &st)) < 0 && r != -ENOENT)
			goto out; /* the budget would be counted short */
		if (r == 0)
			sp->dir_bytes += (uint64_t)st.st_size;
		r = 0;
	}
	if ((r = find_link(sp, segs, n)) < 0)
		goto out;
	if (max >= 99999999u) {
		r = UT_ETOOBIG;
		goto out;
	}
	sp->seg_index = max + 1;
out:
	free(segs);
	return r;
}

int
spool_open(const struct spool_opts *opts, struct spool **out)
{
	struct spool *sp = NULL;
	struct stat st;
	static const uint8_t zero16[16];
	int r;

	if (opts == NULL || opts->dir == NULL || *opts->dir == '\0' ||
	    opts->device == NULL || opts->recipient_pk == NULL ||
	    opts->format_version > SPOOL_VERSION)
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((r = fsio_mkdir(opts->dir, 0700)) < 0 && r != -EEXIST)
		return r;
	if ((r = fsio_stat(opts->dir, &st)) < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((r = fsio_access(opts->dir, W_OK | X_OK)) < 0)
		return r;

	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(opts->dir);
	sp->fd = -1;
	sp->lock_fd = -1;
	sp->version = opts->format_version ? opts->format_version : SPOOL_VERSION;
	buf_init(&sp->out, OUT_CAP);
	buf_init(&sp->batch, SPOOL_BATCH_MAX);
	if ((sp->k = sodium_malloc(sizeof(*sp->k))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(sp->k->dev_sk, opts->device->sk, UT_SIGN_SK_LEN);
	memcpy(sp->dev_pk, opts->device->pk, 32);
	memcpy(sp->rcpt_pk, opts->recipient_pk, 32);
	memcpy(sp->policy, opts->policy_hash, 32);
	memcpy(sp->consent, opts->consent_id, 16);
	sp->wall_clock = opts->wall_clock;
	sp->wall_clock_arg = opts->wall_clock_arg;
	if (sodium_memcmp(opts->subject_id, zero16, 16) != 0) {
		memcpy(sp->subject, opts->subject_id, 16);
	} else {
		/* Pseudonymous default: keyed by the recipient, not the device. */
		crypto_generichash(sp->subject, 16, sp->rcpt_pk, 32,
		    (const uint8_t *)"usetrace-subject", 16);
	}
	sp->max_bytes = opts->segment_max_bytes ? opts->segment_max_bytes :
	    SPOOL_SEGMENT_BYTES;
	sp->max_ns = (opts->segment_max_ms ? opts->segment_max_ms :
	    SPOOL_SEGMENT_MS) * 1000000ull;
	sp->budget = opts->budget_bytes;
	if ((sp->zc = ZSTD_createCCtx()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = spool__lock_take(sp->dir, &sp->lock_fd)) < 0 ||
	    (r = recover_all(sp)) < 0)
		goto out;
	*out = sp;
	sp = NULL;
out:
	if (sp != NULL) {
		sp->fd = -1;
		(void)spool_close(sp);
	}
	return r;
}

/* Creates the next segment; its header goes to sp->out (invariant 5). */
static int
segment_create(struct spool *sp)
{
	uint8_t hdr[SPOOL_HDR_MAX], msg[SPOOL_HDR_MAX];
	uint8_t *key = NULL;
	size_t n, hl = spool__hdr_len(sp->version);
	int fd, r;

	seg_path(sp->dir, sp->seg_index, true, sp->seg_path, sizeof(sp->seg_path));
	if ((key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL)
		return -ENOMEM;
	fd = fsio_open(sp->seg_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr + SH_MAGIC, SPOOL_MAGIC, 8);
	hdr[SH_VERSION] = sp->version & 0xff;
	hdr[SH_VERSION + 1] = (sp->version >> 8) & 0xff;
	put_u32le(hdr + SH_HLEN, (uint32_t)hl);
	memcpy(hdr + SH_DEVICE, sp->dev_pk, 32);
	memcpy(hdr + SH_SUBJECT, sp->subject, 16);
	randombytes_buf(hdr + SH_SEGID, SPOOL_SEGID_LEN);
	memcpy(sp->segid, hdr + SH_SEGID, SPOOL_SEGID_LEN);
	if (sp->version >= 2u) {
		memcpy(hdr + SH_PREV_ID, sp->prev_id, SPOOL_SEGID_LEN);
		memcpy(hdr + SH_PREV_TH, sp->prev_th, SPOOL_HASH_LEN);
	}
	put_u64le(hdr + SH_SEGNO, sp->seg_index);
	put_u64le(hdr + SH_START, (uint64_t)wall_now(sp));
	memcpy(hdr + SH_POLICY, sp->policy, 32);
	memcpy(hdr + SH_CONSENT, sp->consent, 16);
	memcpy(hdr + SH_RECIPIENT, sp->rcpt_pk, 32);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	if (crypto_box_seal(hdr + SH_SEALED, key,
	    crypto_secretstream_xchacha20poly1305_KEYBYTES, sp->rcpt_pk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_push(&sp->k->st,
	    hdr + SH_SSHDR, key) != 0) {
		r = UT_ECRYPTO;
		goto fail;
	}
	n = spool__header_msg(hdr, msg);
	if ((r = sign(sp->k, msg, n, hdr + hl - 64)) < 0)
		goto fail;
	crypto_generichash(sp->hh, SPOOL_HASH_LEN, msg, n, NULL, 0);
	spool__chain_init(sp->hh, sp->head);
	buf_reset(&sp->out);
	if ((r = buf_append(&sp->out, hdr, hl)) < 0)
		goto fail;
	sp->fd = fd;
	sp->seg_bytes = hl;
	sp->dir_bytes += hl;
	sp->seg_start_mono = ut_now_mono_ns();
	sp->seg_frames = sp->ckpt_frames = 0;
	sp->dir_dirty = true;
	r = 0;
	goto out;
fail:
	(void)fsio_close(fd);
	(void)fsio_unlink(sp->seg_path);
	sodium_memzero(&sp->k->st, sizeof(sp->k->st));
out:
	sodium_free(key);
	return r;
}

/* Writes sp->out to the open segment (no fsync). */
static int
write_out(struct spool *sp)
{
	int r;

	if (sp->out.len == 0)
		return 0;
	/* One write per group commit: a crash tears at most this tail. */
	if ((r = fsio_write_all(sp->fd, sp->out.data, sp->out.len)) < 0)
		return r;
	sp->total_bytes += sp->out.len;
	sp->file_dirty = true;
	buf_reset(&sp->out);
	return 0;
}

static int
append_checkpoint(struct spool *sp)
{
	uint8_t rec[SPOOL_CKPT_LEN], msg[SPOOL_MSG_MAX];
	size_t n;
	int r;

	rec[0] = SPOOL_REC_CKPT;
	put_u64le(rec + SC_COUNT, sp->seg_frames);
	memcpy(rec + SC_HEAD, sp->head, SPOOL_HASH_LEN);
	n = spool__ckpt_msg(sp->hh, sp->seg_frames, sp->head, msg);
	if ((r = sign(sp->k, msg, n, rec + SC_SIG)) < 0 ||
	    (r = buf_append(&sp->out, rec, sizeof(rec))) < 0)
		return r;
	sp->seg_bytes += sizeof(rec);
	sp->dir_bytes += sizeof(rec);
	sp->ckpt_frames = sp->seg_frames;
	return 0;
}

/* Closes the open segment: trailer, fsync, rename, wipe the stream state. */
static int
segment_finish(struct spool *sp)
{
	uint8_t rec[SPOOL_TRAILER_LEN];
	char final[PATH_MAX];
	int r;

	if (sp->fd < 0)
		return 0;
	if ((r = make_trailer(sp->k, sp->hh, 0, wall_now(sp), sp->seg_frames,
	    sp->head, rec)) < 0 || (r = buf_append(&sp->out, rec, sizeof(rec))) < 0)
		return r;
	sp->dir_bytes += sizeof(rec);
	if ((r = write_out(sp)) < 0 || (r = fsio_fsync(sp->fd)) < 0)
		return r;
	/* The next segment links to this one (invariant 8). */
	memcpy(sp->prev_id, sp->segid, SPOOL_SEGID_LEN);
	crypto_generichash(sp->prev_th, SPOOL_HASH_LEN, rec, sizeof(rec), NULL, 0);
	sp->file_dirty = false;
	sodium_memzero(&sp->k->st, sizeof(sp->k->st));
	(void)fsio_close(sp->fd);
	sp->fd = -1;
	seg_path(sp->dir, sp->seg_index, false, final, sizeof(final));
	if ((r = fsio_rename(sp->seg_path, final)) < 0)
		return r;
	sp->seg_index++;
	sp->dir_dirty = true;
	return 0;
}

static void
scratch_reserve(struct spool *sp, size_t need)
{
	if (need <= sp->zcap)
		return;
	if (sp->zbuf != NULL) {
		sodium_memzero(sp->zbuf, sp->zcap);
		sodium_memzero(sp->cbuf, sp->zcap);
	}
	free(sp->zbuf);
	free(sp->cbuf);
	sp->zcap = need;
	sp->zbuf = xmalloc(need);
	sp->cbuf = xmalloc(need);
}

/* Seals the pending batch as one frame into sp->out (no fsync). */
static int
seal_frame(struct spool *sp)
{
	uint8_t pre[10], fh[SPOOL_FRAME_HDR];
	unsigned long long ctlen;
	size_t bound, clen, prelen;
	struct buf tmp;
	int r;

	if (sp->batch_n == 0)
		return 0;
	if (sp->fd >= 0 && (sp->seg_bytes >= sp->max_bytes ||
	    ut_now_mono_ns() - sp->seg_start_mono >= sp->max_ns)) {
		if ((r = segment_finish(sp)) < 0)
			return r;
	}
	if (sp->fd < 0 && (r = segment_create(sp)) < 0)
		return r;

	/* Plaintext: varint record count, then the records. */
	buf_init(&tmp, sizeof(pre));
	if ((r = buf_put_varint(&tmp, sp->batch_n)) < 0) {
		buf_finish(&tmp);
		return r;
	}
	prelen = tmp.len;
	memcpy(pre, tmp.data, prelen);
	buf_finish(&tmp);
	bound = ZSTD_compressBound(prelen + sp->batch.len) +
	    crypto_secretstream_xchacha20poly1305_ABYTES + prelen;
	scratch_reserve(sp, bound + prelen + sp->batch.len);
	/* Compress from a contiguous copy in cbuf, output to zbuf. */
	memcpy(sp->cbuf, pre, prelen);
	memcpy(sp->cbuf + prelen, sp->batch.data, sp->batch.len);
	clen = ZSTD_compressCCtx(sp->zc, sp->zbuf, sp->zcap, sp->cbuf,
	    prelen + sp->batch.len, SPOOL_ZSTD_LEVEL);
	sodium_memzero(sp->cbuf, prelen + sp->batch.len);
	if (ZSTD_isError(clen))
		return UT_EINVAL;
	if (clen + crypto_secretstream_xchacha20poly1305_ABYTES > SPOOL_FRAME_MAX)
		return UT_ETOOBIG;
	if (crypto_secretstream_xchacha20poly1305_push(&sp->k->st, sp->cbuf,
	    &ctlen, sp->zbuf, clen, sp->hh, SPOOL_HASH_LEN,
	    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) != 0)
		return UT_ECRYPTO;
	sodium_memzero(sp->zbuf, clen);
	fh[0] = SPOOL_REC_FRAME;
	put_u32le(fh + SF_LEN, (uint32_t)ctlen);
	if ((r = buf_append(&sp->out, fh, sizeof(fh))) < 0 ||
	    (r = buf_append(&sp->out, sp->cbuf, (size_t)ctlen)) < 0)
		return r;
	spool__chain_step(sp->head, sp->cbuf, (uint32_t)ctlen);
	sp->seg_frames++;
	sp->seg_bytes += sizeof(fh) + ctlen;
	sp->dir_bytes += sizeof(fh) + ctlen;
	sp->written_seq = sp->batch_last_seq;
	buf_reset(&sp->batch);
	event_codec_init(&sp->codec);
	sp->batch_n = 0;
	if (sp->out.len >= SPOOL_BATCH_FLUSH)
		return write_out(sp);
	return 0;
}

/* Worst-case bytes still needed to make the pending batch durable. */
static uint64_t
reserve_bytes(const struct spool *sp)
{
	return ZSTD_COMPRESSBOUND(sp->batch.len + ENC_MAX + 10) +
	    crypto_secretstream_xchacha20poly1305_ABYTES + SPOOL_FRAME_HDR +
	    SPOOL_CKPT_LEN + SPOOL_TRAILER_LEN + SPOOL_HDR_MAX;
}

int
spool_append(struct spool *sp, const struct ut_event *ev)
{
	struct event_codec save = sp->codec;
	int r;

	if (sp->failed)
		return sp->failed;
	if (sp->budget != 0 && sp->dir_bytes + reserve_bytes(sp) > sp->budget) {
		sp->full = true;
		return UT_EFULL;
	}
	r = event_encode(&sp->codec, ev, &sp->batch);
	if (r == UT_ETOOBIG) {
		sp->codec = save;
		if ((r = seal_frame(sp)) < 0)
			goto fail;
		r = event_encode(&sp->codec, ev, &sp->batch);
	}
	if (r < 0)
		return r; /* bad record: caller's bug, spool unchanged */
	sp->batch_n++;
	sp->batch_last_seq = ev->seq;
	if (sp->batch.len >= SPOOL_BATCH_FLUSH && (r = seal_frame(sp)) < 0)
		goto fail;
	return 0;
fail:
	sp->failed = r;
	return r;
}

int
spool_commit(struct spool *sp)
{
	int r;

	if (sp->failed)
		return sp->failed;
	if ((r = seal_frame(sp)) < 0)
		goto fail;
	if (sp->fd >= 0 && sp->seg_frames != sp->ckpt_frames &&
	    (r = append_checkpoint(sp)) < 0)
		goto fail;
	if (sp->fd >= 0 && (r = write_out(sp)) < 0)
		goto fail;
	if (sp->fd >= 0 && sp->file_dirty) {
		if ((r = fsio_fsync(sp->fd)) < 0)
			goto fail;
		sp->file_dirty = false;
	}
	if (sp->dir_dirty) {
		if ((r = fsio_fsync_dir(sp->dir)) < 0)
			goto fail;
		sp->dir_dirty = false;
	}
	sp->acked_seq = sp->written_seq;
	return 0;
fail:
	sp->failed = r;
	return r;
}

int
spool_rotate(struct spool *sp)
{
	int r;

	if ((r = spool_commit(sp)) < 0)
		return r;
	if ((r = segment_finish(sp)) < 0)
		goto fail;
	if (sp->dir_dirty) {
		if ((r = fsio_fsync_dir(sp->dir)) < 0)
			goto fail;
		sp->dir_dirty = false;
	}
	return 0;
fail:
	sp->failed = r;
	return r;
}

void
spool_set_recipient(struct spool *sp, const uint8_t *pk)
{
	memcpy(sp->rcpt_pk, pk, sizeof(sp->rcpt_pk));
}

bool
spool_is_full(const struct spool *sp)
{
	return sp->full;
}

uint64_t
spool_acked_seq(const struct spool *sp)
{
	return sp->acked_seq;
}

uint64_t
spool_bytes_written(const struct spool *sp)
{
	return sp->total_bytes;
}

int
spool_close(struct spool *sp)
{
	int r = 0, r2;

	if (sp == NULL)
		return 0;
	if (sp->k != NULL) {
		r = spool_rotate(sp);
		if (r == 0)
			sp->acked_seq = sp->written_seq;
	}
	if (sp->fd >= 0) {
		/* Failed: leave the .open file for the next spool_open(). */
		r2 = fsio_close(sp->fd);
		if (r == 0)
			r = r2;
	}
	if (sp->k != NULL)
		sodium_free(sp->k); /* wipes the device key and stream state */
	if (sp->zbuf != NULL) {
		sodium_memzero(sp->zbuf, sp->zcap);
		sodium_memzero(sp->cbuf, sp->zcap);
	}
	free(sp->zbuf);
	free(sp->cbuf);
	ZSTD_freeCCtx(sp->zc);
	buf_finish(&sp->out);
	buf_finish(&sp->batch);
	spool__lock_drop(sp->dir, sp->lock_fd); /* invariant 7 */
	sp->lock_fd = -1;
	free(sp->dir);
	sodium_memzero(sp, sizeof(*sp));
	free(sp);
	return r;
}

void
spool_segment_size(const struct spool *sp, uint64_t *bytes, uint64_t *age_ms)
{
	*bytes = *age_ms = 0;
	if (sp->fd < 0)
		return;
	*bytes = sp->seg_bytes;
	*age_ms = (ut_now_mono_ns() - sp->seg_start_mono) / 1000000ull;
}
