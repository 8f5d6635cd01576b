/*
 * framedata_int.h - the test seam of the frame-data destructor: the wipe
 * with the final release supplied by the caller, so a test can look at
 * the bytes the destructor hands to free() (they must be zero).
 */
#ifndef USETRACE_FRAMEDATA_INT_H
#define USETRACE_FRAMEDATA_INT_H

#include "usetrace/event.h"

/* Wipes fd's bytes, then release(fd); NULL ok.  ut_frame_data_free = this with free. */
void frame_data__free_with(struct ut_frame_data *fd, void (*release)(void *p));

#endif
