/*
 * reader.c - iterate the records of every segment of a spool directory.
 *
 * Segments are read in index order.  Within a segment, frames are checked
 * (length bound, BLAKE2b tag, zstd, record decoding) and a segment stops at
 * its first bad frame: after a crash that is the torn, unacknowledged tail.
 * Nothing after a bad frame is ever returned, so a corrupt record is never
 * passed on as data.
 *
 * Invariant: rd->batch holds the decompressed batch being iterated, and
 * rd->batch_left counts its records not yet returned.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

#define SPOOL_FILE_CAP (256u << 20)

struct segref {
	unsigned index;
	bool open;
	char name[64];
};

struct spool_reader {
	char *dir;
	struct segref *segs;
	size_t nsegs, cur;      /* cur: next segment to load */
	unsigned char *file;    /* current segment bytes */
	size_t file_len, off;
	uint8_t segid[SPOOL_SEGID_LEN];
	uint64_t frame_index;
	bool seg_loaded;

	uint8_t *batch;
	size_t batch_len;
	struct bufrd brd;
	uint64_t batch_left;
	struct event_codec codec;

	struct spool_read_stats st;
};

static int
cmp_seg(const void *a, const void *b)
{
	const struct segref *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

int
spool_reader_open(const char *dir, struct spool_reader **out)
{
	struct spool_reader *rd;
	DIR *d;
	struct dirent *de;
	size_t cap = 0;
	unsigned idx;
	int consumed;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((d = opendir(dir)) == NULL)
		return -errno;
	rd = xcalloc(1, sizeof(*rd));
	rd->dir = xstrdup(dir);
	while ((de = readdir(d)) != NULL) {
		struct segref s;

		consumed = 0;
		if (sscanf(de->d_name, "seg-%8u%n", &idx, &consumed) != 1 ||
		    consumed != 12)
			continue;
		memset(&s, 0, sizeof(s));
		if (strcmp(de->d_name + 12, SPOOL_SEG_SUFFIX) == 0)
			s.open = false;
		else if (strcmp(de->d_name + 12, SPOOL_OPEN_SUFFIX) == 0)
			s.open = true;
		else
			continue;
		s.index = idx;
		if (strlen(de->d_name) >= sizeof(s.name))
			continue;
		memcpy(s.name, de->d_name, strlen(de->d_name) + 1);
		if (rd->nsegs == cap) {
			cap = cap ? cap * 2 : 16;
			rd->segs = xreallocarray(rd->segs, cap, sizeof(*rd->segs));
		}
		rd->segs[rd->nsegs++] = s;
	}
	closedir(d);
	if (rd->nsegs == 0) {
		spool_reader_close(rd);
		return UT_ENOTFOUND;
	}
	qsort(rd->segs, rd->nsegs, sizeof(*rd->segs), cmp_seg);
	*out = rd;
	return 0;
}

static void
drop_segment(struct spool_reader *rd)
{
	if (rd->file != NULL) {
		sodium_memzero(rd->file, rd->file_len);
		free(rd->file);
	}
	if (rd->batch != NULL) {
		sodium_memzero(rd->batch, rd->batch_len);
		free(rd->batch);
	}
	rd->file = NULL;
	rd->batch = NULL;
	rd->file_len = rd->off = rd->batch_len = 0;
	rd->batch_left = 0;
	rd->seg_loaded = false;
}

static int
load_segment(struct spool_reader *rd)
{
	char path[4096];
	const struct segref *s = &rd->segs[rd->cur++];
	uint32_t hlen;
	int r;

	rd->st.segments++;
	if (s->open)
		rd->st.open_segments++;
	snprintf(path, sizeof(path), "%s/%s", rd->dir, s->name);
	if ((r = fsio_read_file(path, SPOOL_FILE_CAP, &rd->file, &rd->file_len)) < 0)
		return r;
	if (rd->file_len < SPOOL_HEADER_LEN ||
	    memcmp(rd->file, SPOOL_MAGIC, 8) != 0) {
		drop_segment(rd);
		/* An open segment torn before its header was written is empty. */
		return s->open ? 0 : UT_ECORRUPT;
	}
	if ((rd->file[8] | (rd->file[9] << 8)) != SPOOL_VERSION) {
		drop_segment(rd);
		return UT_EVERSION;
	}
	hlen = get_u32le(rd->file + 12);
	if (hlen != SPOOL_HEADER_LEN) {
		drop_segment(rd);
		return UT_ECORRUPT;
	}
	memcpy(rd->segid, rd->file + 16, SPOOL_SEGID_LEN);
	rd->off = hlen;
	rd->frame_index = 0;
	rd->seg_loaded = true;
	return 0;
}

/* Loads the next frame of the current segment; 1 ok, 0 end of segment. */
static int
next_frame(struct spool_reader *rd)
{
	uint8_t tag[SPOOL_TAG_LEN];
	unsigned long long raw;
	uint32_t clen;
	uint64_t n;
	size_t dlen;
	const uint8_t *p;

	if (rd->off == rd->file_len)
		return 0;
	if (rd->file_len - rd->off < 4 + SPOOL_TAG_LEN)
		goto torn;
	p = rd->file + rd->off;
	clen = get_u32le(p);
	if (clen == 0 || clen > SPOOL_FRAME_MAX ||
	    clen > rd->file_len - rd->off - 4 - SPOOL_TAG_LEN)
		goto torn;
	spool__frame_tag(rd->segid, rd->frame_index, p + 4, clen, tag);
	if (sodium_memcmp(tag, p + 4 + clen, SPOOL_TAG_LEN) != 0)
		goto torn;
	raw = ZSTD_getFrameContentSize(p + 4, clen);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN ||
	    raw > SPOOL_BATCH_MAX)
		goto torn;
	if (rd->batch != NULL) {
		sodium_memzero(rd->batch, rd->batch_len);
		free(rd->batch);
	}
	rd->batch = xmalloc(raw ? raw : 1);
	dlen = ZSTD_decompress(rd->batch, raw, p + 4, clen);
	rd->batch_len = raw;
	if (ZSTD_isError(dlen) || dlen != raw)
		goto torn;
	bufrd_init(&rd->brd, rd->batch, dlen);
	if (bufrd_get_varint(&rd->brd, &n) < 0 || n == 0)
		goto torn;
	rd->batch_left = n;
	event_codec_init(&rd->codec);
	rd->off += 4 + clen + SPOOL_TAG_LEN;
	rd->frame_index++;
	return 1;
torn:
	rd->st.torn_tails++;
	return 0;
}

int
spool_reader_next(struct spool_reader *rd, struct ut_event *ev)
{
	int r;

	for (;;) {
		if (rd->batch_left > 0) {
			if (event_decode(&rd->codec, &rd->brd, ev) == 0) {
				rd->batch_left--;
				rd->st.records++;
				return 1;
			}
			/* Tag matched but records do not decode: corrupt. */
			rd->st.torn_tails++;
			drop_segment(rd);
			continue;
		}
		if (rd->seg_loaded) {
			r = next_frame(rd);
			if (r == 1)
				continue;
			drop_segment(rd);
		}
		if (rd->cur >= rd->nsegs)
			return 0;
		if ((r = load_segment(rd)) < 0)
			return r;
	}
}

void
spool_reader_stats(const struct spool_reader *rd, struct spool_read_stats *st)
{
	*st = rd->st;
}

int
spool_reader_rewind(struct spool_reader *rd)
{
	drop_segment(rd);
	rd->cur = 0;
	memset(&rd->st, 0, sizeof(rd->st));
	return 0;
}

void
spool_reader_close(struct spool_reader *rd)
{
	if (rd == NULL)
		return;
	drop_segment(rd);
	free(rd->segs);
	free(rd->dir);
	free(rd);
}
