/*
 * link.c - the format v2 link between neighbouring segments of a spool
 * (docs/FORMAT.md section 2.2).  Each v2 header names the previous
 * segment's id and the BLAKE2b-256 of its trailer record, under the header
 * signature; this file holds the header pre-pass that the reader and
 * spool_check() share and the one rule that judges a link.
 *
 * The rule compares a segment with the nearest segment before it in the
 * directory that is closed with a valid trailer (the writer links to the
 * newest such segment when it creates one).  Nothing before it: fine (the
 * predecessors were uploaded and deleted, or there are none).  Deleting
 * the newest segments, or all segments before some point, is not visible
 * here; the server sees the rest (ingest.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/fsio.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

static bool
is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

bool
spool__header_cut(const uint8_t *p, size_t len)
{
	size_t hl = 0;

	if (len >= SH_FLAGS)
		hl = spool__hdr_len((unsigned)(p[SH_VERSION] |
		    (p[SH_VERSION + 1] << 8)));
	return len < (hl ? hl : SPOOL_HDR_MAX);
}

static int
read_one(const char *path, struct seg_link *l)
{
	uint8_t hdr[SPOOL_HDR_MAX], msg[SPOOL_HDR_MAX];
	unsigned ver;
	size_t hl, mlen;
	ssize_t got;

	memset(l, 0, sizeof(*l));
	got = fsio_read_head(path, hdr, sizeof(hdr));
	if (got < 0)
		return got == -ENOENT ? 0 : (int)got;
	if (got < (ssize_t)SPOOL_HDR_LEN || memcmp(hdr, SPOOL_MAGIC, 8) != 0)
		return 0;
	ver = (unsigned)(hdr[SH_VERSION] | (hdr[SH_VERSION + 1] << 8));
	if ((hl = spool__hdr_len(ver)) == 0 || (size_t)got < hl ||
	    get_u32le(hdr + SH_HLEN) != hl)
		return 0;
	mlen = spool__header_msg(hdr, msg);
	if (crypto_sign_verify_detached(hdr + hl - 64, msg, mlen,
	    hdr + SH_DEVICE) != 0)
		return 0;
	l->ok = true;
	l->version = ver;
	memcpy(l->device, hdr + SH_DEVICE, 32);
	l->segno = get_u64le(hdr + SH_SEGNO);
	memcpy(l->segid, hdr + SH_SEGID, SPOOL_SEGID_LEN);
	if (ver >= 2u) {
		memcpy(l->prev_id, hdr + SH_PREV_ID, SPOOL_SEGID_LEN);
		memcpy(l->prev_th, hdr + SH_PREV_TH, SPOOL_HASH_LEN);
	}
	return 0;
}

int
spool__read_headers(const char *dir, const struct segname *segs, size_t n,
    struct seg_link **out)
{
	struct seg_link *v = xcalloc(n ? n : 1, sizeof(*v));
	char path[4096];
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, segs[i].name);
		r = read_one(path, &v[i]);
	}
	*out = v;
	return r;
}

bool
spool__main_device(const struct seg_link *all, size_t n, uint8_t dev[32])
{
	size_t i, j, votes, best = 0;

	/* Most segments win; on a tie the earliest such device. */
	for (i = 0; i < n; i++) {
		if (!all[i].ok)
			continue;
		for (votes = 0, j = 0; j < n; j++)
			votes += all[j].ok && memcmp(all[j].device, all[i].device,
			    32) == 0;
		if (votes > best) {
			best = votes;
			memcpy(dev, all[i].device, 32);
		}
	}
	return best > 0;
}

void
spool__link_close(struct seg_link *l, const struct seg_scan *sc)
{
	l->closed = sc->has_trailer && sc->tail_err == 0;
	if (l->closed)
		memcpy(l->trailer_hash, sc->trailer_hash, SPOOL_HASH_LEN);
}

int
spool__link_check(const struct seg_link *prev, const struct seg_link *cur,
    const struct seg_link *all, size_t n)
{
	size_t i;

	if (!cur->ok || cur->version < 2u || prev == NULL)
		return SPOOL_LINK_OK;
	if (is_zero(cur->prev_id, SPOOL_SEGID_LEN))
		return SPOOL_LINK_UNLINKED;
	if (sodium_memcmp(prev->segid, cur->prev_id, SPOOL_SEGID_LEN) == 0)
		return sodium_memcmp(prev->trailer_hash, cur->prev_th,
		    SPOOL_HASH_LEN) == 0 ? SPOOL_LINK_OK : SPOOL_LINK_SUBSTITUTED;
	for (i = 0; i < n; i++)
		if (all[i].ok && &all[i] != cur &&
		    sodium_memcmp(all[i].segid, cur->prev_id, SPOOL_SEGID_LEN) == 0)
			return SPOOL_LINK_REORDERED;
	if (prev->segno + 1 == cur->segno)
		return SPOOL_LINK_SUBSTITUTED;
	return SPOOL_LINK_MISSING;
}

const char *
spool_link_name(int link)
{
	switch (link) {
	case SPOOL_LINK_MISSING:
		return "the segment before it is missing";
	case SPOOL_LINK_REORDERED:
		return "segments are out of order";
	case SPOOL_LINK_SUBSTITUTED:
		return "the segment before it was substituted";
	case SPOOL_LINK_UNLINKED:
		return "it names no previous segment although one precedes it";
	}
	return "linked";
}
