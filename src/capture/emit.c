/*
 * emit.c - the one way out of capture: every record gets its sequence
 * number and clocks here and goes to the sink, in the order emitted.
 *
 * At the bottom of the capture files (it calls none of them), so the
 * dispatcher (capture.c) and the producers of FOCUS and MONITORS records
 * (focus.c) share it without calling back up.  After a sink error nothing
 * more is handed on; a FRAME record's data is then released here, as the
 * sink would have (capture.h: ownership passes on every return).
 */
#include "usetrace/util.h"
#include "capture_int.h"

void
cap__emit(struct cap *c, struct ut_event *ev)
{
	int r;

	if (c->err) {
		event_dispose(ev);
		return;
	}
	ev->seq = c->o->seq != NULL ? ++*c->o->seq : ++c->seq;
	ev->mono_ns = ut_now_mono_ns();
	ev->wall_ns = ut_now_wall_ns();
	if (ev->sensitivity == 0)
		ev->sensitivity = UT_SENS_NONE;
	c->st.records++;
	r = c->sink->emit(c->sink->arg, ev);
	if (r != 0)
		c->err = r;
}
