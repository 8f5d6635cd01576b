/*
 * spool.c - segment writer: buffered records -> compressed, checksummed
 * frames in numbered segment files (format v0, docs/FORMAT.md).
 *
 * Invariants:
 *  (1) Only records handed to spool_append() are written; the spool never
 *      sees raw, unfiltered input.
 *  (2) A record is acknowledged only after the frame holding it has been
 *      written and fdatasync'd, and, for a new segment, the directory entry
 *      fsync'd (spool_commit()).
 *  (3) Bytes are only ever appended to the open segment; nothing written is
 *      rewritten, so a crash can tear only the unacknowledged tail.
 *  (4) After any write or fsync failure the spool is FAILED (sticky): no
 *      further bytes are written to any segment.
 *
 * States:  OPEN -> OPEN [spool_append, spool_commit]
 *          OPEN -> FAILED [I/O error];  any -> freed [spool_close]
 * A segment is named seg-NNNNNNNN.uts.open while written and renamed to
 * seg-NNNNNNNN.uts when closed (rollover or spool_close()).
 */
#include <dirent.h>
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
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

struct spool {
	char *dir;
	int fd;                 /* open segment, -1 when none */
	unsigned seg_index;     /* index of the open / next segment */
	char seg_path[PATH_MAX];
	uint8_t segid[SPOOL_SEGID_LEN];
	uint64_t seg_bytes;
	uint64_t seg_start_mono;
	uint64_t frame_index;   /* frames written to the open segment */
	bool dir_dirty;         /* a create/rename not yet fsync'd */
	bool file_dirty;        /* frame bytes not yet fsync'd */
	size_t max_bytes;
	uint64_t max_ns;

	struct buf batch;       /* encoded records of the pending frame */
	struct event_codec codec;
	uint32_t batch_n;
	uint64_t batch_last_seq;
	uint64_t written_seq;   /* last seq in a written frame */
	uint64_t acked_seq;
	uint64_t total_bytes;
	int failed;             /* sticky error, 0 when healthy */
};

void
spool__frame_tag(const uint8_t segid[SPOOL_SEGID_LEN], uint64_t index,
    const uint8_t *payload, uint32_t len, uint8_t tag[SPOOL_TAG_LEN])
{
	crypto_generichash_state st;
	uint8_t ib[8];

	put_u64le(ib, index);
	crypto_generichash_init(&st, NULL, 0, SPOOL_TAG_LEN);
	crypto_generichash_update(&st, segid, SPOOL_SEGID_LEN);
	crypto_generichash_update(&st, ib, sizeof(ib));
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, tag, SPOOL_TAG_LEN);
}

/* Highest existing segment index in dir, or 0. */
static int
scan_max_index(const char *dir, unsigned *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned max = 0, v;

	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (sscanf(de->d_name, "seg-%8u.uts", &v) == 1 && v > max)
			max = v;
	}
	closedir(d);
	*out = max;
	return 0;
}

int
spool_open(const struct spool_opts *opts, struct spool **out)
{
	struct spool *sp;
	struct stat st;
	unsigned max = 0;
	int r;

	if (opts == NULL || opts->dir == NULL || *opts->dir == '\0')
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if (mkdir(opts->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(opts->dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (access(opts->dir, W_OK | X_OK) < 0)
		return -errno;
	if ((r = scan_max_index(opts->dir, &max)) < 0)
		return r;
	if (max >= 99999999u)
		return UT_ETOOBIG;

	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(opts->dir);
	sp->fd = -1;
	sp->seg_index = max + 1;
	sp->max_bytes = opts->segment_max_bytes ? opts->segment_max_bytes :
	    SPOOL_SEGMENT_BYTES;
	sp->max_ns = (opts->segment_max_ms ? opts->segment_max_ms :
	    SPOOL_SEGMENT_MS) * 1000000ull;
	buf_init(&sp->batch, SPOOL_BATCH_MAX);
	*out = sp;
	return 0;
}

static int
segment_create(struct spool *sp)
{
	uint8_t hdr[SPOOL_HEADER_LEN];
	int fd, r;

	snprintf(sp->seg_path, sizeof(sp->seg_path), "%s/seg-%08u%s", sp->dir,
	    sp->seg_index, SPOOL_OPEN_SUFFIX);
	fd = fsio_open(sp->seg_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return fd;
	randombytes_buf(sp->segid, sizeof(sp->segid));
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, SPOOL_MAGIC, 8);
	hdr[8] = SPOOL_VERSION & 0xff;
	hdr[9] = (SPOOL_VERSION >> 8) & 0xff;
	/* hdr[10..11] flags = 0 */
	put_u32le(hdr + 12, SPOOL_HEADER_LEN);
	memcpy(hdr + 16, sp->segid, SPOOL_SEGID_LEN);
	put_u64le(hdr + 32, (uint64_t)ut_now_wall_ns());
	put_u64le(hdr + 40, sp->seg_index);
	if ((r = fsio_write_all(fd, hdr, sizeof(hdr))) < 0) {
		fsio_close(fd);
		unlink(sp->seg_path);
		return r;
	}
	sp->fd = fd;
	sp->seg_bytes = sizeof(hdr);
	sp->total_bytes += sizeof(hdr);
	sp->seg_start_mono = ut_now_mono_ns();
	sp->frame_index = 0;
	sp->dir_dirty = true;
	sp->file_dirty = true;
	return 0;
}

/* Closes the open segment: fsync, rename to its final name. */
static int
segment_finish(struct spool *sp)
{
	char final[PATH_MAX];
	size_t n;
	int r;

	if (sp->fd < 0)
		return 0;
	r = fsio_fsync(sp->fd);
	fsio_close(sp->fd);
	sp->fd = -1;
	if (r < 0)
		return r;
	n = strlen(sp->seg_path) - strlen(".open");
	memcpy(final, sp->seg_path, n);
	final[n] = '\0';
	if ((r = fsio_rename(sp->seg_path, final)) < 0)
		return r;
	sp->seg_index++;
	sp->dir_dirty = true;
	return 0;
}

/* Writes the pending batch as one frame (no fsync). */
static int
flush_frame(struct spool *sp)
{
	struct buf frame;
	size_t bound, clen;
	uint8_t lenb[4], tag[SPOOL_TAG_LEN];
	uint8_t *cbuf = NULL;
	struct buf plain;
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

	buf_init(&plain, SPOOL_BATCH_MAX + 16);
	buf_init(&frame, SPOOL_FRAME_MAX + 64);
	if ((r = buf_put_varint(&plain, sp->batch_n)) < 0 ||
	    (r = buf_append(&plain, sp->batch.data, sp->batch.len)) < 0)
		goto out;
	bound = ZSTD_compressBound(plain.len);
	cbuf = xmalloc(bound);
	clen = ZSTD_compress(cbuf, bound, plain.data, plain.len, 3);
	if (ZSTD_isError(clen)) {
		r = UT_EINVAL;
		goto out;
	}
	if (clen > SPOOL_FRAME_MAX) {
		r = UT_ETOOBIG;
		goto out;
	}
	put_u32le(lenb, (uint32_t)clen);
	spool__frame_tag(sp->segid, sp->frame_index, cbuf, (uint32_t)clen, tag);
	if ((r = buf_append(&frame, lenb, 4)) < 0 ||
	    (r = buf_append(&frame, cbuf, clen)) < 0 ||
	    (r = buf_append(&frame, tag, sizeof(tag))) < 0)
		goto out;
	/* One write per frame: a crash tears at most this frame. */
	if ((r = fsio_write_all(sp->fd, frame.data, frame.len)) < 0)
		goto out;
	sp->seg_bytes += frame.len;
	sp->total_bytes += frame.len;
	sp->frame_index++;
	sp->file_dirty = true;
	sp->written_seq = sp->batch_last_seq;
	buf_reset(&sp->batch);
	event_codec_init(&sp->codec);
	sp->batch_n = 0;
out:
	if (cbuf != NULL) {
		sodium_memzero(cbuf, bound);
		free(cbuf);
	}
	buf_finish(&plain);
	buf_finish(&frame);
	return r;
}

int
spool_append(struct spool *sp, const struct ut_event *ev)
{
	struct event_codec save = sp->codec;
	int r;

	if (sp->failed)
		return sp->failed;
	r = event_encode(&sp->codec, ev, &sp->batch);
	if (r == UT_ETOOBIG) {
		sp->codec = save;
		if ((r = flush_frame(sp)) < 0)
			goto fail;
		r = event_encode(&sp->codec, ev, &sp->batch);
	}
	if (r < 0)
		return r; /* bad record: caller's bug, spool unchanged */
	sp->batch_n++;
	sp->batch_last_seq = ev->seq;
	if (sp->batch.len >= SPOOL_BATCH_FLUSH && (r = flush_frame(sp)) < 0)
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
	if ((r = flush_frame(sp)) < 0)
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
	int r, r2;

	if (sp == NULL)
		return 0;
	r = spool_commit(sp);
	if (r == 0)
		r = segment_finish(sp);
	if (r == 0 && sp->dir_dirty)
		r = fsio_fsync_dir(sp->dir);
	if (sp->fd >= 0) {
		/* Failed: leave the .open file for readers/recovery. */
		r2 = fsio_close(sp->fd);
		if (r == 0)
			r = r2;
	}
	buf_finish(&sp->batch);
	free(sp->dir);
	sodium_memzero(sp, sizeof(*sp));
	free(sp);
	return r;
}
