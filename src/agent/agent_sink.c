/*
 * agent_sink.c - capture -> privacy filter -> spool (agent_int.h).
 *
 * Capture's sink (emit, tick, ready) feeds the filter while RECORDING and
 * drops (wiping) what arrives otherwise; the filter's output goes to the
 * spool, less what came after a stop request's cutoff (invariant (2) of
 * agent.c).  The tick rotates segments at key frames, at 00:00 UTC (5)
 * and near the size and age limits, watches the policy file (6) and tells
 * the uploader when a segment closed.  The agent's own content-free
 * markers (PAUSE, RESUME, END) are written here too.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_int.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

void
agent__fill_event(struct agent *a, struct ut_event *ev, uint8_t type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->seq = ++a->seq;
	ev->mono_ns = ut_now_mono_ns();
	ev->wall_ns = ut_now_wall_ns();
	ev->sensitivity = UT_SENS_NONE;
}

/* Writes an agent record (content-free) straight to the spool and commits. */
int
agent__write_marker(struct agent *a, uint8_t type, const char *reason)
{
	struct ut_event ev;
	int r;

	if (a->sp == NULL)
		return 0;
	agent__fill_event(a, &ev, type);
	if (type == UT_EV_PAUSE)
		ev.u.pause.until_wall_ns = (uint64_t)a->pause_until_wall;
	if (type == UT_EV_END)
		snprintf(ev.u.mark.text, sizeof(ev.u.mark.text), "%s", reason);
	else
		snprintf(ev.u.pause.reason, sizeof(ev.u.pause.reason), "%s", reason);
	if ((r = spool_append(a->sp, &ev)) < 0 || (r = spool_commit(a->sp)) < 0)
		return r;
	return 0;
}

/* Notes a spool error: "full" becomes the reason for not recording. */
int
agent__spool_result(struct agent *a, int r)
{
	if (r == UT_EFULL)
		snprintf(a->why, sizeof(a->why), "spool full, not recording: the "
		    "segments waiting in %s fill its disk budget; recording "
		    "resumes when uploads free room (nothing was dropped)",
		    a->so.dir);
	else if (r < 0 && a->err == 0)
		a->err = r;
	return r;
}

/* A segment closed: the uploader (if any) takes note; never blocks. */
void
agent__segment_closed(struct agent *a)
{
	if (a->o->segment_closed != NULL)
		a->o->segment_closed(a->o->upload_arg);
}

/* Bytes of the spool directory's segments (closed and open). */
static uint64_t
spool_used(const char *dir)
{
	char path[4200];
	struct dirent *de;
	struct stat sb;
	uint64_t sum = 0;
	DIR *dp;

	if ((dp = fsio_opendir(dir)) == NULL)
		return 0;
	while (fsio_readdir(dp, &de) > 0) {
		if (strncmp(de->d_name, "seg-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (fsio_stat(path, &sb) == 0)
			sum += (uint64_t)sb.st_size;
	}
	closedir(dp);
	return sum;
}

/*
 * After a full spool: true once the segments left (uploads) free a
 * quarter of the budget, so recording does not stop and start at the edge.
 */
bool
agent__room_again(struct agent *a)
{
	size_t b = a->so.budget_bytes;

	/* Without an uploader nothing frees room: stay stopped, saying so. */
	if (a->o->segment_closed == NULL)
		return false;
	return b == 0 || spool_used(a->so.dir) <= b - b / 4;
}

/*
 * Filter output -> spool, dropping what came after a stop request (2).
 * Takes ownership of a FRAME's data on every return, success or error.
 */
int
agent__to_spool(void *arg, const struct ut_event *ev)
{
	struct agent *a = arg;

	int r;

	if (a->cutoff != 0 && ev->mono_ns > a->cutoff) {
		event_dispose(ev);
		return 0;
	}
	if (ev->type == UT_EV_FRAME) {
		/*
		 * Segments end just before a key frame, so every segment's
		 * frames decode on their own.
		 */
		if (a->rotate_pending && ev->u.frame.base_id == 0 &&
		    ev->u.frame.part == 0) {
			a->rotate_pending = 0;
			r = spool_rotate(a->sp);
			if (r < 0) {
				event_dispose(ev);
				return agent__spool_result(a, r);
			}
		}
		/* The spool copies the bytes; the frame's data was ours. */
		r = agent__spool_result(a, spool_append(a->sp, ev));
		event_dispose(ev);
		return r;
	}
	return agent__spool_result(a, spool_append(a->sp, ev));
}

/* Capture -> filter; takes a FRAME's data on every return (capture.h). */
static int
sink_emit(void *arg, const struct ut_event *ev)
{
	struct agent *a = arg;

	if (a->st != ST_RECORDING) {
		event_dispose(ev); /* raw pixels: wiped, not just freed */
		return 0;
	}
	return privacy_filter_push(a->pf, ev);
}

/*
 * At 00:00 UTC (5): the next segment goes to the new day's recipient, and
 * the current one closes now, or at the next key frame with frames.
 */
static int
day_change(struct agent *a)
{
	int32_t today = agent__utc_day(ut_now_wall_ns());

	if (today == a->day)
		return 0;
	a->day = today;
	if (agent__day_recipient(a, today) < 0) {
		a->cutoff = ut_now_mono_ns();
		return STOP_FOR_KEY;
	}
	if (a->o->recipient_for_day != NULL)
		spool_set_recipient(a->sp, a->rcpt);
	if (a->pol->categories & UT_CAT_FRAMES) {
		a->rotate_pending = 1;
		atomic_store(&a->key_req, 1);
		return 0;
	}
	return agent__spool_result(a, spool_rotate(a->sp));
}

static int
sink_tick(void *arg)
{
	struct agent *a = arg;
	int r;

	if ((r = privacy_filter_tick(a->pf, ut_now_mono_ns())) != 0)
		return r;
	if ((r = day_change(a)) != 0)
		return r;
	/* (6): once a second, a changed policy file stops capture first. */
	if (a->o->policy_path != NULL &&
	    ut_now_mono_ns() - a->pol_checked_mono >= 1000000000ull) {
		a->pol_checked_mono = ut_now_mono_ns();
		if (agent__policy_file_changed(a)) {
			a->cutoff = ut_now_mono_ns();
			snprintf(a->why, sizeof(a->why), "the policy file changed");
			return STOP_FOR_CONSENT;
		}
	}
	if (a->pol->categories & UT_CAT_FRAMES) {
		uint64_t bytes, age;

		/* Close to the limits: ask for a key frame to rotate at. */
		spool_segment_size(a->sp, &bytes, &age);
		if (!a->rotate_pending && (bytes >= a->rotate_bytes || age >= ROTATE_MS)) {
			a->rotate_pending = 1;
			atomic_store(&a->key_req, 1);
		}
	}
	r = agent__spool_result(a, spool_commit(a->sp));
	{
		uint64_t bytes, age;

		/* The open segment shrank: the last one closed (upload). */
		spool_segment_size(a->sp, &bytes, &age);
		if (bytes < a->seg_bytes)
			agent__segment_closed(a);
		a->seg_bytes = bytes;
	}
	return r;
}

static void
sink_ready(void *arg, const char *display)
{
	struct agent *a = arg;

	log_info("recording display %s into %s (policy version %" PRIu32
	    "; Ctrl-C to stop, 'usetrace pause' to pause)", display,
	    a->so.dir, a->pol->version);
}

void
agent__sink_init(struct agent *a, struct capture_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	sink->emit = sink_emit;
	sink->tick = sink_tick;
	sink->ready = sink_ready;
	sink->arg = a;
}
