/*
 * fuzz_upload_verify.c - the server's view of an uploaded or stored
 * segment: spool_upload_verify() on arbitrary bytes, as an original and as
 * a stored-form image, then the memory reader of both forms.
 *
 * Properties checked (abort on violation):
 *  - an image that verifies as original verifies, after
 *    spool_to_stored_form(), as stored with the same info (sealed key
 *    aside), and the stored form never verifies as original;
 *  - the memory reader never returns more records from an image than
 *    from the same image in the other form;
 *  - on a verified image, spool_upload_reader_open() with the info of the
 *    verification reads exactly what spool_mem_reader_open() reads.
 *
 * The keys are fixed (seeded, as in fuzz_segment_read.c), so the corpus
 * (fuzz/corpus/upload_verify/, written by
 * `test_spool_stored --write-corpus DIR`) holds valid segments whose
 * sealed key this target can open, and decryption is reached too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RECIPIENT_SEED 0x22

/* info NULL: spool_mem_reader_open(); else spool_upload_reader_open(). */
static long
read_all(const uint8_t *p, size_t len, bool stored, const uint8_t key[32],
    const struct spool_upload_info *info)
{
	struct spool_mem_reader *rd;
	struct ut_event ev;
	long n = 0;
	int r;

	r = info == NULL ? spool_mem_reader_open(p, len, stored, key, &rd) :
	    spool_upload_reader_open(p, len, stored, info, key, &rd);
	if (r < 0)
		return -1;
	while ((r = spool_mem_reader_next(rd, &ev)) == 1 && n < 10000000)
		n++;
	spool_mem_reader_close(rd);
	return r < 0 ? -1 : n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rpk[32], rsk[32];
	struct spool_upload_info a, b;
	uint8_t key[32], seed[32], *img;
	long n1, n2;
	int r;

	if (rpk[0] == 0 && rpk[1] == 0) {
		if (sodium_init() < 0)
			abort();
		memset(seed, FUZZ_RECIPIENT_SEED, sizeof(seed));
		crypto_box_seed_keypair(rpk, rsk, seed);
	}
	(void)!spool_upload_verify(data, size, true, NULL, &b);
	r = spool_upload_verify(data, size, false, NULL, &a);
	/* A copy, so that the stored form can be made and read. */
	if ((img = malloc(size + 1)) == NULL)
		abort();
	memcpy(img, data, size);
	memset(key, 0, sizeof(key));
	if (size >= 344 && crypto_box_seal_open(key, data + 176, 80, rpk,
	    rsk) != 0)
		randombytes_buf(key, sizeof(key));
	n1 = read_all(img, size, false, key, NULL);
	/* Verified once: the reader given its info reads exactly the same. */
	if (r == 0 && read_all(img, size, false, key, &a) != n1)
		abort();
	spool_to_stored_form(img, size);
	if (r == 0) {
		if (spool_upload_verify(img, size, false, NULL, &b) == 0 ||
		    spool_upload_verify(img, size, true, NULL, &b) != 0)
			abort();
		memcpy(b.sealed_key, a.sealed_key, sizeof(b.sealed_key));
		if (memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	}
	n2 = read_all(img, size, true, key, NULL);
	if (n1 >= 0 && n2 >= 0 && n1 != n2)
		abort();
	sodium_memzero(key, sizeof(key));
	free(img);
	return 0;
}
