/*
 * spool_int.h - constants shared by the spool writer and reader.
 * Private to src/spool/.
 */
#ifndef USETRACE_SPOOL_INT_H
#define USETRACE_SPOOL_INT_H

#include <stdint.h>

#define SPOOL_MAGIC "USETRACE"
#define SPOOL_VERSION 0u
#define SPOOL_HEADER_LEN 48u
#define SPOOL_SEGID_LEN 16u
#define SPOOL_TAG_LEN 16u
#define SPOOL_FRAME_MAX (8u << 20)       /* compressed frame payload cap */
#define SPOOL_BATCH_MAX (16u << 20)      /* decompressed batch cap */
#define SPOOL_BATCH_FLUSH (256u << 10)   /* write a frame past this size */
#define SPOOL_SEGMENT_BYTES (4u << 20)
#define SPOOL_SEGMENT_MS (5u * 60u * 1000u)
#define SPOOL_SEG_SUFFIX ".uts"
#define SPOOL_OPEN_SUFFIX ".uts.open"

/* BLAKE2b-128 over segment id, frame index and payload. */
void spool__frame_tag(const uint8_t segid[SPOOL_SEGID_LEN], uint64_t index,
    const uint8_t *payload, uint32_t len, uint8_t tag[SPOOL_TAG_LEN]);

#endif
