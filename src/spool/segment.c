/*
 * segment.c - format v1/v2 structure: the signed header message, the
 * BLAKE2b frame chain, checkpoint and trailer messages, and the verifier
 * used by recovery, the reader, spool_check() and the server's view of an
 * uploaded or stored segment (docs/FORMAT.md sections 2, 2.1 and 2.2).
 *
 * Nothing here needs or sees a decryption key: integrity without the key
 * comes from the device's Ed25519 signatures over the header and over
 * (count, chain head) at every checkpoint and at the trailer.
 *
 * Invariants:
 *  (1) spool__scan() never reads outside [p, p+len): every length is
 *      checked against the bytes left before it is used.
 *  (2) s->covered / s->covered_end only ever describe a prefix whose every
 *      frame is hashed into a head that a valid device signature covers;
 *      the first record that fails a check ends the scan (tail_err).
 *  (3) A trailer must be the last record of the file.
 *  (4) tail_corrupt is set only for damage a crash cannot leave.  A crash
 *      (or power cut) damages only the end of the file: the bytes of its
 *      last, unsynced commit, cut short, zeroed or garbled to the end.  So
 *      the tail after the last valid checkpoint is torn unless an
 *      authentic record follows the first bad byte: a checkpoint or
 *      trailer whose device signature verifies over what it states, yet
 *      does not match what precedes it; or any byte after a valid trailer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/buf.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

size_t
spool__hdr_len(unsigned version)
{
	return version == SPOOL_VERSION_V1 ? SPOOL_HDR_LEN :
	    version == 2u ? SPOOL_HDR_LEN_V2 : 0;
}

static unsigned
hdr_version(const uint8_t *hdr)
{
	return (unsigned)(hdr[SH_VERSION] | (hdr[SH_VERSION + 1] << 8));
}

size_t
spool__header_msg_form(const uint8_t *hdr, bool stored, uint8_t *msg)
{
	size_t sig = spool__hdr_len(hdr_version(hdr)) - 64u;

	if (sig + 64u == 0)
		sig = SH_SIG;
	/*
	 * The sealed key is signed through its hash, so a server may drop it:
	 * in stored form the hash itself sits at SH_SEALED (section 2.1).
	 */
	memcpy(msg, hdr, SH_SEALED);
	if (stored)
		memcpy(msg + SH_SEALED, hdr + SH_SEALED, SPOOL_HASH_LEN);
	else
		crypto_generichash(msg + SH_SEALED, SPOOL_HASH_LEN,
		    hdr + SH_SEALED, SPOOL_SEALED_LEN, NULL, 0);
	memcpy(msg + SH_SEALED + SPOOL_HASH_LEN, hdr + SH_SSHDR, sig - SH_SSHDR);
	return SH_SEALED + SPOOL_HASH_LEN + (sig - SH_SSHDR);
}

size_t
spool__header_msg(const uint8_t *hdr, uint8_t *msg)
{
	return spool__header_msg_form(hdr, false, msg);
}

void
spool__header_hash(const uint8_t *hdr, uint8_t hh[SPOOL_HASH_LEN])
{
	uint8_t msg[SPOOL_HDR_MAX];
	size_t n = spool__header_msg(hdr, msg);

	crypto_generichash(hh, SPOOL_HASH_LEN, msg, n, NULL, 0);
}

void
spool__chain_init(const uint8_t hh[SPOOL_HASH_LEN], uint8_t head[SPOOL_HASH_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, SPOOL_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)SPOOL_CTX_CHAIN, 8);
	crypto_generichash_update(&st, hh, SPOOL_HASH_LEN);
	crypto_generichash_final(&st, head, SPOOL_HASH_LEN);
}

void
spool__chain_step(uint8_t head[SPOOL_HASH_LEN], const uint8_t *ct, uint32_t len)
{
	crypto_generichash_state st;
	uint8_t lb[4];

	put_u32le(lb, len);
	crypto_generichash_init(&st, NULL, 0, SPOOL_HASH_LEN);
	crypto_generichash_update(&st, head, SPOOL_HASH_LEN);
	crypto_generichash_update(&st, lb, sizeof(lb));
	crypto_generichash_update(&st, ct, len);
	crypto_generichash_final(&st, head, SPOOL_HASH_LEN);
}

size_t
spool__ckpt_msg(const uint8_t hh[SPOOL_HASH_LEN], uint64_t count,
    const uint8_t head[SPOOL_HASH_LEN], uint8_t *msg)
{
	memcpy(msg + SM_CTX, SPOOL_CTX_CKPT, 8);
	memcpy(msg + SM_HH, hh, SPOOL_HASH_LEN);
	put_u64le(msg + SCM_COUNT, count);
	memcpy(msg + SCM_HEAD, head, SPOOL_HASH_LEN);
	return SPOOL_CKPT_MSG_LEN;
}

size_t
spool__trailer_msg(const uint8_t hh[SPOOL_HASH_LEN], uint32_t flags,
    int64_t end_ns, uint64_t count, const uint8_t head[SPOOL_HASH_LEN],
    uint8_t *msg)
{
	memcpy(msg + SM_CTX, SPOOL_CTX_TRAILER, 8);
	memcpy(msg + SM_HH, hh, SPOOL_HASH_LEN);
	put_u32le(msg + STM_FLAGS, flags);
	put_u64le(msg + STM_END, (uint64_t)end_ns);
	put_u64le(msg + STM_COUNT, count);
	memcpy(msg + STM_HEAD, head, SPOOL_HASH_LEN);
	return SPOOL_TRAILER_MSG_LEN;
}

int
spool__seg_name(const char *name, unsigned *index, bool *open)
{
	unsigned idx;
	int consumed = 0;

	if (strncmp(name, "seg-", 4) != 0 ||
	    sscanf(name, "seg-%8u%n", &idx, &consumed) != 1 || consumed != 12)
		return 0;
	if (strcmp(name + 12, SPOOL_SEG_SUFFIX) == 0)
		*open = false;
	else if (strcmp(name + 12, SPOOL_OPEN_SUFFIX) == 0)
		*open = true;
	else
		return 0;
	*index = idx;
	return 1;
}

/* True when the stored-form padding after the sealed-key hash is zero. */
bool
spool__stored_pad_ok(const uint8_t *hdr)
{
	uint8_t acc = 0;
	size_t i;

	for (i = SH_SEALED + SPOOL_HASH_LEN; i < SH_SSHDR; i++)
		acc |= hdr[i];
	return acc == 0;
}

static int
check_header(const uint8_t *p, size_t len, bool stored,
    const uint8_t *expect_dev, struct seg_scan *s)
{
	uint8_t msg[SPOOL_HDR_MAX];
	size_t n, hl;

	if (len < 16 || memcmp(p, SPOOL_MAGIC, 8) != 0)
		return UT_ECORRUPT;
	s->version = hdr_version(p);
	if ((hl = spool__hdr_len(s->version)) == 0)
		return UT_EVERSION;
	if (len < hl || get_u32le(p + SH_HLEN) != hl)
		return UT_ECORRUPT;
	if (stored && !spool__stored_pad_ok(p))
		return UT_ECORRUPT;
	n = spool__header_msg_form(p, stored, msg);
	if (crypto_sign_verify_detached(p + hl - 64, msg, n, p + SH_DEVICE) != 0)
		return UT_ECORRUPT;
	s->hdr_len = hl;
	if (s->version >= 2u) {
		memcpy(s->prev_id, p + SH_PREV_ID, SPOOL_SEGID_LEN);
		memcpy(s->prev_th, p + SH_PREV_TH, SPOOL_HASH_LEN);
	}
	if (expect_dev != NULL && sodium_memcmp(expect_dev, p + SH_DEVICE, 32) != 0)
		return UT_EDENIED;
	crypto_generichash(s->hh, SPOOL_HASH_LEN, msg, n, NULL, 0);
	memcpy(s->device, p + SH_DEVICE, 32);
	memcpy(s->recipient, p + SH_RECIPIENT, 32);
	memcpy(s->segid, p + SH_SEGID, SPOOL_SEGID_LEN);
	s->segno = get_u64le(p + SH_SEGNO);
	s->start_ns = (int64_t)get_u64le(p + SH_START);
	return 0;
}

/*
 * True when a checkpoint or trailer at or after off (where scanning
 * stopped) carries a valid device signature over what it states
 * (invariant 4).  Only offsets whose type byte and count are plausible
 * are tried, so garbage costs about one signature check per 64 KiB.
 */
static bool
authentic_after(const uint8_t *p, size_t len, size_t off,
    const struct seg_scan *s)
{
	uint8_t msg[SPOOL_MSG_MAX];
	uint64_t count, most;
	size_t n;

	/* Each frame takes at least 5 + 18 bytes. */
	most = s->covered + (len - s->covered_end) / 23u + 1u;
	for (; off < len; off++) {
		if (p[off] == SPOOL_REC_CKPT && len - off >= SPOOL_CKPT_LEN) {
			count = get_u64le(p + off + SC_COUNT);
			if (count < s->covered || count > most)
				continue;
			n = spool__ckpt_msg(s->hh, count, p + off + SC_HEAD, msg);
			if (crypto_sign_verify_detached(p + off + SC_SIG, msg, n,
			    s->device) == 0)
				return true;
		} else if (p[off] == SPOOL_REC_TRAILER &&
		    len - off >= SPOOL_TRAILER_LEN) {
			count = get_u64le(p + off + ST_COUNT);
			if ((get_u32le(p + off + ST_FLAGS) & ~SPOOL_TRAILER_RECOVERED) != 0 ||
			    count < s->covered || count > most)
				continue;
			n = spool__trailer_msg(s->hh, get_u32le(p + off + ST_FLAGS),
			    (int64_t)get_u64le(p + off + ST_END), count, p + off + ST_HEAD, msg);
			if (crypto_sign_verify_detached(p + off + ST_SIG, msg, n,
			    s->device) == 0)
				return true;
		}
	}
	return false;
}

int
spool__scan(const uint8_t *p, size_t len, const uint8_t *expect_dev,
    struct seg_scan *s)
{
	return spool__scan_form(p, len, false, expect_dev, s);
}

int
spool__scan_form(const uint8_t *p, size_t len, bool stored,
    const uint8_t *expect_dev, struct seg_scan *s)
{
	uint8_t head[SPOOL_HASH_LEN], msg[SPOOL_MSG_MAX];
	size_t off, left, n;
	uint64_t frames = 0, count;
	uint32_t flen, flags;
	int64_t end;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = check_header(p, len, stored, expect_dev, s)) < 0)
		return r;
	off = s->hdr_len;
	spool__chain_init(s->hh, head);
	memcpy(s->covered_head, head, SPOOL_HASH_LEN);
	s->covered_end = off;
	while (off < len) {
		left = len - off;
		switch (p[off]) {
		case SPOOL_REC_FRAME:
			if (left < SPOOL_FRAME_HDR)
				goto torn;
			flen = get_u32le(p + off + SF_LEN);
			if (flen <= crypto_secretstream_xchacha20poly1305_ABYTES ||
			    flen > SPOOL_FRAME_MAX)
				goto torn;
			if (flen > left - SPOOL_FRAME_HDR)
				goto torn;
			spool__chain_step(head, p + off + SPOOL_FRAME_HDR, flen);
			frames++;
			off += SPOOL_FRAME_HDR + flen;
			break;
		case SPOOL_REC_CKPT:
			if (left < SPOOL_CKPT_LEN)
				goto torn;
			/*
			 * Verified even when a valid trailer follows: the chain
			 * is over the frames only (u32 n || ciphertext), so the
			 * trailer's signature binds every frame and this
			 * record's count and head (compared here with the
			 * chain) but not its 64 signature bytes.  Skipping the
			 * check would let whoever uploads swap them (zeros,
			 * another genuine signature of the device) in a segment
			 * the server stores with a `stored` receipt, while the
			 * readers stop at that checkpoint (the device has
			 * deleted its copy by then).  docs/FORMAT.md 2.1.
			 */
			count = get_u64le(p + off + SC_COUNT);
			n = spool__ckpt_msg(s->hh, count, p + off + SC_HEAD, msg);
			if (count != frames ||
			    sodium_memcmp(head, p + off + SC_HEAD, SPOOL_HASH_LEN) != 0 ||
			    crypto_sign_verify_detached(p + off + SC_SIG, msg, n,
			    s->device) != 0) {
				s->tail_err = UT_ECRYPTO;
				goto judge;
			}
			off += SPOOL_CKPT_LEN;
			s->checkpoints++;
			s->covered = frames;
			s->covered_end = off;
			memcpy(s->covered_head, head, SPOOL_HASH_LEN);
			break;
		case SPOOL_REC_TRAILER:
			if (left < SPOOL_TRAILER_LEN)
				goto torn;
			flags = get_u32le(p + off + ST_FLAGS);
			end = (int64_t)get_u64le(p + off + ST_END);
			count = get_u64le(p + off + ST_COUNT);
			n = spool__trailer_msg(s->hh, flags, end, count,
			    p + off + ST_HEAD, msg);
			if (count != frames ||
			    sodium_memcmp(head, p + off + ST_HEAD, SPOOL_HASH_LEN) != 0 ||
			    crypto_sign_verify_detached(p + off + ST_SIG, msg, n,
			    s->device) != 0) {
				s->tail_err = UT_ECRYPTO;
				goto judge;
			}
			crypto_generichash(s->trailer_hash, SPOOL_HASH_LEN, p + off,
			    SPOOL_TRAILER_LEN, NULL, 0);
			off += SPOOL_TRAILER_LEN;
			s->covered = frames;
			s->covered_end = off;
			memcpy(s->covered_head, head, SPOOL_HASH_LEN);
			s->has_trailer = true;
			s->trailer_flags = flags;
			s->end_ns = end;
			if (off != len)
				goto corrupt; /* bytes after the trailer */
			goto out;
		default:
			goto torn;
		}
	}
	/* Clean end of file; frames after the last checkpoint are uncovered. */
	if (frames != s->covered)
		goto torn;
	goto out;
torn:
	s->tail_err = UT_ECORRUPT;
judge:
	s->tail_corrupt = authentic_after(p, len, off, s);
	goto out;
corrupt:
	s->tail_err = UT_ECORRUPT;
	s->tail_corrupt = true;
out:
	s->frames_seen = frames;
	return 0;
}

const char *
spool_seg_state_name(enum spool_seg_state st)
{
	switch (st) {
	case SPOOL_SEG_OPEN:
		return "open";
	case SPOOL_SEG_CLOSED:
		return "closed";
	case SPOOL_SEG_RECOVERED:
		return "recovered";
	case SPOOL_SEG_CORRUPT:
		return "corrupt";
	}
	return "unknown";
}

static int
cmp_segname(const void *a, const void *b)
{
	const struct segname *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return (int)x->open - (int)y->open;
}

int
spool__list_segments(const char *dir, struct segname **out)
{
	struct segname *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int r;

	if ((d = fsio_opendir(dir)) == NULL)
		return -errno;
	while ((r = fsio_readdir(d, &de)) > 0) {
		struct segname s;

		memset(&s, 0, sizeof(s));
		if (!spool__seg_name(de->d_name, &s.index, &s.open) ||
		    strlen(de->d_name) >= sizeof(s.name))
			continue;
		memcpy(s.name, de->d_name, strlen(de->d_name) + 1);
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (cap > (1u << 24))
				break;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = s;
	}
	closedir(d);
	if (r < 0) { /* a listing cut short is an error, not fewer segments */
		free(v);
		return r;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_segname);
	*out = v;
	return (int)n;
}

/* Fills si->why for a CORRUPT segment. */
static void
check_why(struct spool_seg_info *si, const char *what, const uint8_t *dev)
{
	char key[UT_PUBKEY_TEXT_MAX];

	if (dev != NULL) {
		keys_pubkey_format(dev, key, sizeof(key));
		snprintf(si->why, sizeof(si->why), "%s: %s", what, key);
	} else {
		snprintf(si->why, sizeof(si->why), "%s", what);
	}
}

/* Judges one scanned segment (header verified); fills si's state. */
static void
check_state(const struct segname *sn, const struct seg_scan *sc,
    struct spool_seg_info *si)
{
	if (sc->segno != sn->index) {
		si->state = SPOOL_SEG_CORRUPT;
		si->err = UT_ECORRUPT;
		check_why(si, "its signed number is not its file name's "
		    "(renamed or swapped)", NULL);
	} else if (sc->tail_corrupt || (!sn->open && sc->tail_err != 0) ||
	    (!sn->open && !sc->has_trailer)) {
		si->state = SPOOL_SEG_CORRUPT;
		si->err = sc->tail_err ? sc->tail_err : UT_ECORRUPT;
		check_why(si, sc->has_trailer ? "bytes after its trailer" :
		    sc->tail_corrupt ? "corrupt after its verified part" :
		    "closed segment cut short (no trailer)", NULL);
	} else if (sn->open) {
		si->state = SPOOL_SEG_OPEN;
		si->torn_tail = sc->tail_err != 0;
	} else {
		si->state = sc->trailer_flags & SPOOL_TRAILER_RECOVERED ?
		    SPOOL_SEG_RECOVERED : SPOOL_SEG_CLOSED;
	}
}

int
spool_check(const char *dir, const uint8_t *device_pk,
    int (*fn)(const struct spool_seg_info *si, void *arg), void *arg,
    unsigned *ncorrupt)
{
	struct segname *segs = NULL;
	struct seg_link *links = NULL;
	struct spool_seg_info si;
	struct seg_scan sc;
	uint8_t pinned[32];
	const uint8_t *dev = device_pk;
	unsigned char *file = NULL;
	size_t flen = 0;
	char path[4096];
	unsigned bad = 0;
	int n, i, r, last_closed = -1;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((n = spool__list_segments(dir, &segs)) < 0)
		return n;
	if (n == 0) {
		r = UT_ENOTFOUND;
		goto out;
	}
	if ((r = spool__read_headers(dir, segs, (size_t)n, &links)) < 0)
		goto out;
	if (dev == NULL && spool__main_device(links, (size_t)n, pinned))
		dev = pinned;
	r = 0;
	for (i = 0; i < n && r == 0; i++) {
		memset(&si, 0, sizeof(si));
		memcpy(si.name, segs[i].name, sizeof(si.name));
		snprintf(path, sizeof(path), "%s/%s", dir, segs[i].name);
		r = fsio_read_file(path, SPOOL_FILE_CAP, &file, &flen);
		if (r < 0) {
			si.state = SPOOL_SEG_CORRUPT;
			si.err = r;
			check_why(&si, ut_strerror(r), NULL);
			r = 0;
			goto report;
		}
		si.bytes = flen;
		r = spool__scan(file, flen, dev, &sc);
		if (r < 0) {
			/* An open segment torn inside its header holds nothing. */
			if (segs[i].open && r == UT_ECORRUPT &&
			    spool__header_cut(file, flen)) {
				si.state = SPOOL_SEG_OPEN;
				si.torn_tail = flen > 0;
			} else {
				si.state = SPOOL_SEG_CORRUPT;
				si.err = r;
				if (r == UT_EDENIED) {
					memcpy(si.device_pk, links[i].device, 32);
					check_why(&si, "segment signed by another "
					    "device", links[i].device);
				} else {
					check_why(&si, r == UT_EVERSION ?
					    "unsupported format version" :
					    "header does not verify", NULL);
				}
			}
			r = 0;
			goto report;
		}
		if (dev == NULL) {
			memcpy(pinned, sc.device, 32);
			dev = pinned;
		}
		memcpy(si.device_pk, sc.device, 32);
		memcpy(si.segment_id, sc.segid, SPOOL_SEGID_LEN);
		si.version = sc.version;
		si.segment_no = sc.segno;
		si.start_wall_ns = sc.start_ns;
		si.end_wall_ns = sc.end_ns;
		si.frames = sc.covered;
		si.checkpoints = sc.checkpoints;
		si.verified_bytes = sc.covered_end;
		check_state(&segs[i], &sc, &si);
		si.link = spool__link_check(last_closed >= 0 ?
		    &links[last_closed] : NULL, &links[i], links, (size_t)n);
		spool__link_close(&links[i], &sc);
		if (links[i].closed && si.state != SPOOL_SEG_CORRUPT)
			last_closed = i;
report:
		if (file != NULL) {
			free(file);
			file = NULL;
		}
		if (si.state == SPOOL_SEG_CORRUPT || si.link != SPOOL_LINK_OK)
			bad++;
		if (fn != NULL)
			r = fn(&si, arg);
	}
out:
	free(links);
	free(segs);
	if (ncorrupt != NULL)
		*ncorrupt = bad;
	return r;
}
