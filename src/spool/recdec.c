/*
 * recdec.c - decoding one frame record of a stored segment image on its
 * own (spool.h "Reading one frame record"), for the server's frame index:
 * a replay frame is read from the records that hold it, never from the
 * whole segment.
 *
 * Invariants:
 *  (1) The record is decoded by struct seg_dec (reader.c), the one
 *      decoder of the format, started at the record with the stream state
 *      restored from the index's nonce (spool__dec_start_rec).
 *  (2) Nothing is returned from a record whose AEAD tag does not verify
 *      under the segment key with the header hash as additional data and
 *      the record's own position in the stream (the nonce's counter), so a
 *      changed record, a record moved elsewhere, or a wrong nonce is
 *      UT_ECRYPTO, never a wrong event.
 *  (3) The key lives in guarded memory; plaintext is wiped by seg_dec.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "spool_int.h"

_Static_assert(SPOOL_FRAME_REC_HDR == SPOOL_FRAME_HDR, "frame record header");

struct spool_rec_dec {
	struct seg_dec dec;
	uint8_t hh[SPOOL_HASH_LEN];
	uint8_t sshdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	uint8_t *key;           /* sodium_malloc'd */
	size_t hdr_len;
	bool loaded;
};

int
spool_rec_dec_open(const uint8_t *hdr, size_t hdr_len, const uint8_t key[32],
    struct spool_rec_dec **out)
{
	struct spool_rec_dec *d;
	uint8_t msg[SPOOL_HDR_MAX];
	size_t hl, n;
	int r;

	if (sodium_init() < 0)
		return UT_ECRYPTO;
	if (hdr_len < SPOOL_HDR_LEN || memcmp(hdr, SPOOL_MAGIC, 8) != 0)
		return UT_ECORRUPT;
	hl = spool__hdr_len((unsigned)(hdr[SH_VERSION] | (hdr[SH_VERSION + 1] << 8)));
	if (hl == 0 || hdr_len < hl || get_u32le(hdr + SH_HLEN) != hl ||
	    !spool__stored_pad_ok(hdr))
		return UT_ECORRUPT;
	d = xcalloc(1, sizeof(*d));
	if ((r = spool__dec_init(&d->dec)) < 0 ||
	    (d->key = sodium_malloc(32)) == NULL) {
		r = r < 0 ? r : -ENOMEM;
		spool_rec_dec_close(d);
		return r;
	}
	memcpy(d->key, key, 32);
	n = spool__header_msg_form(hdr, true, msg);
	crypto_generichash(d->hh, sizeof(d->hh), msg, n, NULL, 0);
	sodium_memzero(msg, sizeof(msg));
	memcpy(d->sshdr, hdr + SH_SSHDR, sizeof(d->sshdr));
	d->hdr_len = hl;
	*out = d;
	return 0;
}

size_t
spool_rec_dec_hdr_len(const struct spool_rec_dec *d)
{
	return d->hdr_len;
}

int
spool_rec_dec_load(struct spool_rec_dec *d, const struct spool_rec_pos *pos,
    const uint8_t *rec, size_t n)
{
	int r;

	d->loaded = false;
	if (n != SPOOL_FRAME_HDR + (size_t)pos->len)
		return UT_ECORRUPT;
	r = spool__dec_start_rec(&d->dec, d->hh, d->sshdr, d->key, pos->nonce,
	    rec, n);
	d->loaded = r == 0;
	return r;
}

int
spool_rec_dec_next(struct spool_rec_dec *d, struct ut_event *ev)
{
	int r;

	if (!d->loaded)
		return 0;
	if ((r = spool__dec_next(&d->dec, ev)) <= 0) {
		spool__dec_stop(&d->dec);
		d->loaded = false;
	}
	return r;
}

void
spool_rec_dec_close(struct spool_rec_dec *d)
{
	if (d == NULL)
		return;
	spool__dec_finish(&d->dec);
	sodium_free(d->key);
	sodium_memzero(d, sizeof(*d));
	free(d);
}
