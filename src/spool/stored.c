/*
 * stored.c - the server's view of a segment image: verify an upload, strip
 * the sealed key (stored form), read the records of one image in memory
 * (docs/FORMAT.md section 2.1).
 *
 * Stored form replaces header bytes 176..256 (the sealed segment key) by
 * BLAKE2b-256 of them followed by 48 zero bytes.  The header signature
 * covers M = header[0..176) || BLAKE2b-256(sealed) || header[256..S), S
 * the signature's offset (328; v1: 280), so the verifier of a stored
 * image takes the hash from bytes 176..208 and every signature, the header hash HH, the chain and the secretstream
 * additional data are exactly those of the original.
 *
 * Invariants:
 *  (1) Nothing here writes anywhere but into the caller's image
 *      (spool_to_stored_form) or into memory it owns; the sealed key is
 *      never copied out of an image except into spool_upload_info.
 *  (2) Verification is spool__scan_form(), the one verifier of the format;
 *      decoding is struct seg_dec (reader.c), the one frame decoder.
 *  (3) The memory reader decrypts only frames covered by a valid
 *      checkpoint or trailer, and an error is sticky: no record follows it.
 *  (4) spool_upload_reader_open() trusts the chain walk and signature
 *      checks of the spool_upload_verify() call whose info it is given (the
 *      server verifies once per upload); it re-checks only what binds that
 *      info to the image: the header hash and the trailer.
 *
 * Memory reader states:  READING -> END [last record]
 *                        READING -> FAILED [an error, sticky]
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

struct spool_mem_reader {
	struct seg_scan sc;
	struct seg_dec dec;
	int err;                /* sticky; 0 while READING or at END */
};

/* Verifies an image as an upload; 0 or a UT_E* code, s filled on 0. */
static int
verify_closed(const uint8_t *p, size_t len, bool stored,
    const uint8_t *expect_device, struct seg_scan *s)
{
	int r;

	if ((r = spool__scan_form(p, len, stored, expect_device, s)) < 0)
		return r;
	if (s->has_trailer && s->tail_err == 0)
		return 0;
	/* A clean end at a checkpoint is a segment still being written. */
	if (!s->has_trailer && s->tail_err == 0)
		return UT_ESTATE;
	return UT_ECORRUPT;
}

int
spool_upload_verify(const uint8_t *p, size_t len, bool stored,
    const uint8_t *expect_device, struct spool_upload_info *info)
{
	struct seg_scan s;
	int r;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if ((r = verify_closed(p, len, stored, expect_device, &s)) < 0)
		return r;
	memset(info, 0, sizeof(*info));
	memcpy(info->device_pk, s.device, sizeof(info->device_pk));
	memcpy(info->subject_id, p + SH_SUBJECT, sizeof(info->subject_id));
	memcpy(info->segment_id, s.segid, sizeof(info->segment_id));
	info->segment_no = s.segno;
	info->start_wall_ns = s.start_ns;
	info->end_wall_ns = s.end_ns;
	memcpy(info->policy_hash, p + SH_POLICY, sizeof(info->policy_hash));
	memcpy(info->consent_id, p + SH_CONSENT, sizeof(info->consent_id));
	memcpy(info->recipient_pk, s.recipient, sizeof(info->recipient_pk));
	if (stored) {
		memcpy(info->sealed_key_hash, p + SH_SEALED, SPOOL_HASH_LEN);
	} else {
		memcpy(info->sealed_key, p + SH_SEALED, SPOOL_SEALED_LEN);
		crypto_generichash(info->sealed_key_hash, SPOOL_HASH_LEN,
		    p + SH_SEALED, SPOOL_SEALED_LEN, NULL, 0);
	}
	memcpy(info->header_hash, s.hh, SPOOL_HASH_LEN);
	memcpy(info->chain_head, s.covered_head, SPOOL_HASH_LEN);
	info->frames = s.covered;
	info->recovered = (s.trailer_flags & SPOOL_TRAILER_RECOVERED) != 0;
	info->version = s.version;
	memcpy(info->prev_segment_id, s.prev_id, SPOOL_SEGID_LEN);
	memcpy(info->prev_trailer_hash, s.prev_th, SPOOL_HASH_LEN);
	memcpy(info->trailer_hash, s.trailer_hash, SPOOL_HASH_LEN);
	return 0;
}

void
spool_to_stored_form(uint8_t *p, size_t len)
{
	uint8_t h[SPOOL_HASH_LEN];

	if (len < SPOOL_HDR_LEN)
		return;
	crypto_generichash(h, sizeof(h), p + SH_SEALED, SPOOL_SEALED_LEN,
	    NULL, 0);
	sodium_memzero(p + SH_SEALED, SPOOL_SEALED_LEN);
	memcpy(p + SH_SEALED, h, sizeof(h));
}

/*
 * Sets up rd's decryption from key once rd->sc is filled; the key is copied
 * so that the stream is set up from guarded memory, which is freed (wiped)
 * before the return.  0 or a UT_E* / -errno code.
 */
static int
dec_start_guarded(struct spool_mem_reader *rd, const uint8_t *p,
    const uint8_t key[32])
{
	uint8_t *k;
	int r;

	if ((k = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL)
		return -ENOMEM;
	memcpy(k, key, crypto_secretstream_xchacha20poly1305_KEYBYTES);
	r = spool__dec_start(&rd->dec, p, &rd->sc, k);
	sodium_free(k);
	return r;
}

int
spool_mem_reader_open(const uint8_t *p, size_t len, bool stored,
    const uint8_t key[32], struct spool_mem_reader **out)
{
	struct spool_mem_reader *rd;
	int r;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	rd = xcalloc(1, sizeof(*rd));
	if ((r = spool__dec_init(&rd->dec)) < 0)
		goto out;
	if ((r = spool__scan_form(p, len, stored, NULL, &rd->sc)) < 0)
		goto out;
	/* Without a trailer (open) the tail after the last checkpoint is ignored. */
	if (rd->sc.has_trailer && rd->sc.tail_err != 0) {
		r = UT_ECORRUPT;
		goto out;
	}
	r = dec_start_guarded(rd, p, key);
out:
	if (r < 0) {
		spool_mem_reader_close(rd);
		return r;
	}
	*out = rd;
	return 0;
}

/*
 * The scan of a closed image that spool_upload_verify() has verified, from
 * its info, without walking the chain or verifying a signature again.  The
 * header hash and the trailer record are checked against the image (two
 * small hashes), so an info of another image, or an image changed in its
 * header or trailer since, is UT_ECORRUPT; a frame changed since fails its
 * decryption (the header hash is every frame's additional data).
 */
static int
scan_from_info(const uint8_t *p, size_t len, bool stored,
    const struct spool_upload_info *info, struct seg_scan *s)
{
	uint8_t msg[SPOOL_HDR_MAX], h[SPOOL_HASH_LEN];
	size_t hl, n, t;

	memset(s, 0, sizeof(*s));
	if (info->version != 1 && info->version != 2)
		return UT_ECORRUPT;
	hl = spool__hdr_len(info->version);
	if (hl == 0 || len < hl + SPOOL_TRAILER_LEN ||
	    memcmp(p, SPOOL_MAGIC, 8) != 0 || get_u32le(p + SH_HLEN) != hl)
		return UT_ECORRUPT;
	if (stored && !spool__stored_pad_ok(p))
		return UT_ECORRUPT;
	n = spool__header_msg_form(p, stored, msg);
	crypto_generichash(h, sizeof(h), msg, n, NULL, 0);
	sodium_memzero(msg, sizeof(msg));
	if (sodium_memcmp(h, info->header_hash, SPOOL_HASH_LEN) != 0)
		return UT_ECORRUPT;
	t = len - SPOOL_TRAILER_LEN;
	crypto_generichash(h, sizeof(h), p + t, SPOOL_TRAILER_LEN, NULL, 0);
	if (p[t] != SPOOL_REC_TRAILER ||
	    sodium_memcmp(h, info->trailer_hash, SPOOL_HASH_LEN) != 0 ||
	    get_u64le(p + t + ST_COUNT) != info->frames)
		return UT_ECORRUPT;
	memcpy(s->hh, info->header_hash, SPOOL_HASH_LEN);
	s->version = info->version;
	s->hdr_len = hl;
	s->covered = info->frames;
	s->covered_end = len;
	s->has_trailer = true;
	return 0;
}

int
spool_upload_reader_open(const uint8_t *p, size_t len, bool stored,
    const struct spool_upload_info *info, const uint8_t key[32],
    struct spool_mem_reader **out)
{
	struct spool_mem_reader *rd;
	int r;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	rd = xcalloc(1, sizeof(*rd));
	if ((r = spool__dec_init(&rd->dec)) < 0)
		goto out;
	if ((r = scan_from_info(p, len, stored, info, &rd->sc)) < 0)
		goto out;
	r = dec_start_guarded(rd, p, key);
out:
	if (r < 0) {
		spool_mem_reader_close(rd);
		return r;
	}
	*out = rd;
	return 0;
}

int
spool_mem_reader_next(struct spool_mem_reader *rd, struct ut_event *ev)
{
	int r;

	if (rd->err < 0)
		return rd->err;
	r = spool__dec_next(&rd->dec, ev);
	if (r < 0) {
		rd->err = r;
		spool__dec_stop(&rd->dec);
	}
	return r;
}

void
spool_mem_reader_close(struct spool_mem_reader *rd)
{
	if (rd == NULL)
		return;
	spool__dec_finish(&rd->dec);
	sodium_memzero(rd, sizeof(*rd));
	free(rd);
}

int
spool_mem_reader_pos(const struct spool_mem_reader *rd, struct spool_rec_pos *pos)
{
	if (rd->dec.frame_no == 0)
		return UT_ESTATE;
	pos->off = rd->dec.rec_off;
	pos->len = rd->dec.rec_len;
	pos->no = (uint32_t)(rd->dec.frame_no - 1);
	memcpy(pos->nonce, rd->dec.rec_nonce, sizeof(pos->nonce));
	return 0;
}
