/*
 * framedata.c - the one owner type of encoded frame bytes in memory
 * (event.h, struct ut_frame_data): allocation, the wiping destructor, and
 * attaching the bytes to a FRAME record.
 *
 * Invariant: a FRAME record with owned != NULL has data == owned->bytes
 * and len == owned->len (event_frame_attach is the only place that sets
 * owned).  The bytes are recorded pixels: every release goes through
 * frame_data__free_with(), which wipes them first.
 */
#include <sodium.h>
#include <stdlib.h>

#include "usetrace/event.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "framedata_int.h"

struct ut_frame_data *
ut_frame_data_new(size_t len)
{
	struct ut_frame_data *fd;

	if (len > UT_FRAME_DATA_MAX) {
		log_error("frame data of %zu bytes is over the cap", len);
		abort();
	}
	fd = xmalloc(sizeof(*fd) + (len > 0 ? len : 1));
	fd->len = (uint32_t)len;
	return fd;
}

void
frame_data__free_with(struct ut_frame_data *fd, void (*release)(void *p))
{
	if (fd == NULL)
		return;
	sodium_memzero(fd->bytes, fd->len);
	fd->len = 0;
	release(fd);
}

void
ut_frame_data_free(struct ut_frame_data *fd)
{
	frame_data__free_with(fd, free);
}

void
event_frame_attach(struct ut_event *ev, struct ut_frame_data *fd)
{
	ev->u.frame.owned = fd;
	ev->u.frame.data = fd != NULL ? fd->bytes : NULL;
	ev->u.frame.len = fd != NULL ? fd->len : 0;
}

void
event_dispose(const struct ut_event *ev)
{
	if (ev != NULL && ev->type == UT_EV_FRAME)
		ut_frame_data_free(ev->u.frame.owned);
}
