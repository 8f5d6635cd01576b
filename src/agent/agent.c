/*
 * agent.c - `usetrace record`: consent, pause and policy enforcement
 * around capture -> privacy filter -> spool (see agent.h).
 *
 * States (transition function in brackets):
 *   WAITING   --[consent valid]-->            RECORDING
 *   RECORDING --[pause request]-->            PAUSED      (capture stopped first)
 *   RECORDING --[consent invalid / full]-->   WAITING     (capture stopped first)
 *   PAUSED    --[time up | resume]-->         RECORDING
 *   any       --[stop_fd]-->                  done
 * The organisation's pause (sync.c, "org pause UNTIL") takes the same
 * RECORDING -> PAUSED path; PAUSED lasts until both the person's and the
 * organisation's pause ended, and a WAITING agent that gains consent
 * during an organisation pause goes to PAUSED, not RECORDING.
 *
 * Invariants:
 *  (1) capture_run() runs only in RECORDING, so no X input is read while
 *      waiting for consent or paused.
 *  (2) When capture stops for a pause or a consent change, every record
 *      captured after the request (mono_ns > cutoff) is dropped on its way
 *      to the spool, and the filter's held records are released (up to the
 *      cutoff) before the PAUSE / END record is written.
 *  (3) A pause is acknowledged only after (2), a commit and the segment's
 *      close.
 *  (4) Sequence numbers continue across capture restarts (one counter).
 *  (6) The policy file is watched (stat once a second, recording or not):
 *      a change or its disappearance stops capture before the new policy
 *      is loaded (capture holds the old one), and recording resumes only
 *      when consent matches the policy then in force.
 *  (5) No segment holds records of two UTC days: at 00:00 UTC the segment
 *      is rotated (at the next key frame when frames are recorded, within
 *      a second) and the next one is sealed to the new day's recipient; a
 *      day without one stops recording, saying so.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "usetrace/agent.h"
#include "usetrace/capture.h"
#include "usetrace/consent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/privacy.h"
#include "usetrace/util.h"

#define STOP_FOR_PAUSE 1
#define STOP_FOR_CONSENT 2
#define STOP_FOR_KEY 3     /* no recipient for the new UTC day */
#define STOP_FOR_CLOCK 4   /* this device's clock is too far off the server's */
#define CLOCK_MAX_OFF_S 120
#define NS_PER_DAY (86400LL * 1000000000LL)

/* Segment rotation at a key frame (the spool's own limits are higher). */
#define ROTATE_BYTES (4ull << 20)
#define ROTATE_MS (5ull * 60 * 1000)

enum astate { ST_WAITING, ST_RECORDING, ST_PAUSED };

struct agent {
	const struct agent_opts *o;
	struct policy *pol;
	enum astate st;
	char why[512];
	uint64_t pause_until_mono;
	int64_t pause_until_wall;
	/* The two pauses behind PAUSED; pause_until_* is the later of them. */
	uint64_t local_until_mono;
	int64_t local_until_wall;
	uint64_t org_until_mono;   /* 0: no organisation pause */
	int64_t org_until_wall;
	bool org_stopping;         /* the STOP_FOR_PAUSE under way is the org's */
	bool revoked;              /* the server revoked this device */
	char ctl_note[256];        /* sync.c: where the control state came from */
	bool capturing;            /* capture_run() holds a->pol */
	struct stat pol_st;        /* the policy file as last seen (6) */
	bool pol_exists;
	uint64_t pol_checked_mono;
	struct consent consent;
	struct spool_opts so;
	struct spool *sp;
	struct privacy_filter *pf;
	uint64_t cutoff;        /* 0: none; else drop records after it */
	uint64_t seq;
	uint64_t frame_id;
	volatile int key_req;   /* asked capture for a key frame */
	int rotate_pending;     /* rotate the segment at that key frame */
	uint64_t rotate_bytes;
	int lfd;
	char sock[256];
	int ack_fd;             /* requester waiting for capture to stop */
	char ack_msg[256];
	int err;                /* first spool error */
	int32_t day;            /* UTC day of the segments being written */
	long long clock_off_s;  /* device minus server, as last told ("clock") */
	bool clock_bad;         /* |clock_off_s| > CLOCK_MAX_OFF_S: not recording */
	uint8_t rcpt[32];       /* that day's recipient (recipient_for_day) */
	struct capture_stats total;
	/* Background upload and the spool budget (agent.h). */
	bool spool_full;        /* stopped at the budget; see room_again() */
	uint64_t seg_bytes;     /* the open segment's size at the last tick */
	/* Windows with typed secrets, blacked in frames across capture runs. */
	struct capture_masks *masks;
};

static const char *
state_name(enum astate s)
{
	return s == ST_RECORDING ? "recording" : s == ST_PAUSED ? "paused" : "not-recording";
}

/* The collected categories, as a JSON array of names. */
static json_t *
collecting(const struct agent *a)
{
	json_t *arr = json_array();
	uint32_t b;

	for (b = 1; arr != NULL && b < UT_CAT_ALL; b <<= 1) {
		if (a->pol->categories & b)
			(void)json_array_append_new(arr,
			    json_string(policy_category_name(b)));
	}
	return arr;
}

static bool
org_paused(const struct agent *a)
{
	return a->org_until_mono != 0 && ut_now_mono_ns() < a->org_until_mono;
}

/*
 * The status reply (control.h), encoded by ctlproto.c; the uploader's
 * members (status_extra, "\"upload\":{...}") are parsed and merged in.
 */
static void
reply_status(struct agent *a, int cfd)
{
	char up[2002] = "{", pol[17];
	json_t *j, *extra = NULL;

	snprintf(pol, sizeof(pol), "%.16s", a->pol->hash_hex);
	j = json_pack("{s:b, s:s, s:o*, s:I, s:I, s:s, s:o*, s:I, s:s, s:I, "
	    "s:b, s:o*, s:b}", "ok", 1, "state", state_name(a->st),
	    "why", control_json_str(a->st == ST_RECORDING ? "" : a->why),
	    "until_wall_ns", (json_int_t)(a->st == ST_PAUSED ?
	    a->pause_until_wall : 0), "policy_version",
	    (json_int_t)a->pol->version, "policy", pol, "collecting",
	    collecting(a), "pause_max_ms", (json_int_t)a->pol->pause_max_ms,
	    "paused_by", a->st != ST_PAUSED ? "" : org_paused(a) ?
	    "organisation" : "person", "org_pause_until_wall_ns",
	    (json_int_t)(org_paused(a) ? a->org_until_wall : 0),
	    "revoked", a->revoked ? 1 : 0, "control",
	    control_json_str(a->ctl_note), "spool_full", a->spool_full ? 1 : 0);
	if (j != NULL && a->o->status_extra != NULL) {
		a->o->status_extra(a->o->upload_arg, up + 1, sizeof(up) - 2);
		strcat(up, "}");
		if (control_decode(up, &extra) == 0)
			(void)json_object_update(j, extra);
		json_decref(extra);
	}
	control_reply_obj(cfd, j);
}

static void
reply_err(int cfd, const char *msg)
{
	control_reply_err(cfd, msg);
}

static int32_t
utc_day(int64_t wall_ns)
{
	return (int32_t)(wall_ns >= 0 ? wall_ns / NS_PER_DAY :
	    -((-wall_ns + NS_PER_DAY - 1) / NS_PER_DAY));
}

/* Loads day's recipient into a->rcpt; 0, or sets why and fails. */
static int
day_recipient(struct agent *a, int32_t day)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;
	char date[16];

	if (a->o->recipient_for_day == NULL)
		return 0;
	if (a->o->recipient_for_day(a->o->recipient_arg, day, a->rcpt) == 0)
		return 0;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	snprintf(a->why, sizeof(a->why), "no ingest key from the server for "
	    "%s (UTC): run 'usetrace upload' to fetch the coming days' keys", date);
	return UT_ENOTFOUND;
}

/*
 * The policy in force: the file, or the built-in default while a device
 * policy file (policy_default_if_missing) does not exist yet.
 */
static int
load_policy(const struct agent_opts *o, struct policy **out, char *err,
    size_t errsz)
{
	if (o->policy_path != NULL && o->policy_default_if_missing &&
	    access(o->policy_path, F_OK) != 0 && errno == ENOENT)
		return policy_load(NULL, out, err, errsz);
	return policy_load(o->policy_path, out, err, errsz);
}

/* Notes the policy file's identity; true when it changed since last (6). */
static bool
policy_file_changed(struct agent *a)
{
	struct stat st;
	bool exists, changed;

	if (a->o->policy_path == NULL)
		return false;
	exists = stat(a->o->policy_path, &st) == 0;
	changed = exists != a->pol_exists || (exists &&
	    (st.st_dev != a->pol_st.st_dev || st.st_ino != a->pol_st.st_ino ||
	    st.st_size != a->pol_st.st_size ||
	    st.st_mtim.tv_sec != a->pol_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != a->pol_st.st_mtim.tv_nsec ||
	    st.st_ctim.tv_sec != a->pol_st.st_ctim.tv_sec ||
	    st.st_ctim.tv_nsec != a->pol_st.st_ctim.tv_nsec));
	a->pol_exists = exists;
	if (exists)
		a->pol_st = st;
	return changed;
}

/*
 * Re-reads the policy file and the consent; sets why.  While capture runs
 * (it holds a->pol) a different policy is not swapped in: UT_EDENIED
 * makes the caller stop capture first, and the next recheck loads it.
 */
static int
recheck(struct agent *a)
{
	struct policy *np = NULL;
	char err[256];
	int r;

	if (a->revoked) {
		snprintf(a->why, sizeof(a->why), "this device was revoked at the "
		    "server: it records nothing more (enroll it again to record)");
		return UT_EDENIED;
	}
	if (a->o->policy_path != NULL) {
		(void)policy_file_changed(a);
		if (load_policy(a->o, &np, err, sizeof(err)) < 0) {
			snprintf(a->why, sizeof(a->why), "the policy can no longer "
			    "be read (%s)", err);
			return UT_EDENIED;
		}
		if (a->capturing) {
			r = memcmp(np->hash, a->pol->hash, sizeof(np->hash));
			policy_destroy(np);
			if (r != 0) {
				snprintf(a->why, sizeof(a->why), "the policy changed");
				return UT_EDENIED;
			}
		} else {
			policy_destroy(a->pol);
			a->pol = np;
			/* The filter reads the policy (denied / sensitive apps). */
			privacy_filter_set_policy(a->pf, a->pol);
		}
	}
	if (a->clock_bad) {
		snprintf(a->why, sizeof(a->why), "this device's clock is %lld s %s "
		    "the server's: recordings would get the wrong times and days; "
		    "fix the clock (then 'usetrace upload' tells the recorder)",
		    a->clock_off_s < 0 ? -a->clock_off_s : a->clock_off_s,
		    a->clock_off_s < 0 ? "behind" : "ahead of");
		return UT_EDENIED;
	}
	r = consent_check(a->o->consent_home, a->pol, &a->consent, a->why,
	    sizeof(a->why));
	if (r == 0 && a->sp == NULL)
		r = day_recipient(a, utc_day(ut_now_wall_ns()));
	return r;
}

/* Sets why for PAUSED: whose pause, until when. */
static void
paused_why(struct agent *a)
{
	char when[40];
	time_t t;
	struct tm tm;

	if (!org_paused(a)) {
		snprintf(a->why, sizeof(a->why), "paused by you");
		return;
	}
	t = (time_t)(a->org_until_wall / 1000000000LL);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(a->why, sizeof(a->why), "paused by organisation until %s", when);
}

/* pause_until_* := the later of the person's and the organisation's. */
static void
pause_span(struct agent *a)
{
	bool org = org_paused(a);

	a->pause_until_mono = a->local_until_mono;
	a->pause_until_wall = a->local_until_wall;
	if (org && a->org_until_mono > a->pause_until_mono) {
		a->pause_until_mono = a->org_until_mono;
		a->pause_until_wall = a->org_until_wall;
	}
}

/* Consent is valid: record, unless the organisation's pause holds. */
static void
go_recording(struct agent *a)
{
	if (org_paused(a)) {
		a->st = ST_PAUSED;
		pause_span(a);
		paused_why(a);
		return;
	}
	a->st = ST_RECORDING;
}

static void
fill_event(struct agent *a, struct ut_event *ev, uint8_t type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->seq = ++a->seq;
	ev->mono_ns = ut_now_mono_ns();
	ev->wall_ns = ut_now_wall_ns();
	ev->sensitivity = UT_SENS_NONE;
}

/* Writes an agent record (content-free) straight to the spool and commits. */
static int
write_marker(struct agent *a, uint8_t type, const char *reason)
{
	struct ut_event ev;
	int r;

	if (a->sp == NULL)
		return 0;
	fill_event(a, &ev, type);
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

/*
 * "task begin INSTRUCTION" / "task end success|failure|unknown": a task
 * mark (docs/FORMAT.md), pushed through the privacy filter behind the
 * records before it, with the instruction redacted like a title.  Only
 * while recording: a mark in a pause would say when the person worked.
 */
static void
task_mark(struct agent *a, const char *arg, int cfd)
{
	struct ut_event ev;
	char red[UT_EV_STR_MAX - 16];
	const char *outcome;
	uint8_t lvl = UT_SENS_NONE;
	int r;

	if (a->st != ST_RECORDING || a->pf == NULL) {
		reply_err(cfd, "not recording");
		return;
	}
	fill_event(a, &ev, UT_EV_MARK);
	if (strncmp(arg, "begin ", 6) == 0 && arg[6] != '\0') {
		lvl = privacy_filter_redact_text(a->pf, arg + 6, red, sizeof(red));
		snprintf(ev.u.mark.text, sizeof(ev.u.mark.text), "task-begin %s", red);
		sodium_memzero(red, sizeof(red));
	} else if (strncmp(arg, "end ", 4) == 0 &&
	    (strcmp(arg + 4, "success") == 0 || strcmp(arg + 4, "failure") == 0 ||
	    strcmp(arg + 4, "unknown") == 0)) {
		outcome = arg[4] == 's' ? "success" : arg[4] == 'f' ? "failure" : "unknown";
		snprintf(ev.u.mark.text, sizeof(ev.u.mark.text), "task-end %s", outcome);
	} else {
		reply_err(cfd, "task: expected 'begin INSTRUCTION' or 'end success|failure|unknown'");
		return;
	}
	ev.sensitivity = lvl;
	r = privacy_filter_push(a->pf, &ev);
	sodium_memzero(&ev, sizeof(ev));
	if (r < 0) {
		reply_err(cfd, "cannot write the task mark");
		return;
	}
	control_reply_ok(cfd);
}

/* Notes a spool error: "full" becomes the reason for not recording. */
static int
spool_result(struct agent *a, int r)
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
static void
segment_closed(struct agent *a)
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

	if ((dp = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, "seg-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &sb) == 0)
			sum += (uint64_t)sb.st_size;
	}
	closedir(dp);
	return sum;
}

/*
 * After a full spool: true once the segments left (uploads) free a
 * quarter of the budget, so recording does not stop and start at the edge.
 */
static bool
room_again(struct agent *a)
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
static int
to_spool(void *arg, const struct ut_event *ev)
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
				return spool_result(a, r);
			}
		}
		/* The spool copies the bytes; the frame's data was ours. */
		r = spool_result(a, spool_append(a->sp, ev));
		event_dispose(ev);
		return r;
	}
	return spool_result(a, spool_append(a->sp, ev));
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
	int32_t today = utc_day(ut_now_wall_ns());

	if (today == a->day)
		return 0;
	a->day = today;
	if (day_recipient(a, today) < 0) {
		a->cutoff = ut_now_mono_ns();
		return STOP_FOR_KEY;
	}
	if (a->o->recipient_for_day != NULL)
		spool_set_recipient(a->sp, a->rcpt);
	if (a->pol->categories & UT_CAT_FRAMES) {
		a->rotate_pending = 1;
		a->key_req = 1;
		return 0;
	}
	return spool_result(a, spool_rotate(a->sp));
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
		if (policy_file_changed(a)) {
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
			a->key_req = 1;
		}
	}
	r = spool_result(a, spool_commit(a->sp));
	{
		uint64_t bytes, age;

		/* The open segment shrank: the last one closed (upload). */
		spool_segment_size(a->sp, &bytes, &age);
		if (bytes < a->seg_bytes)
			segment_closed(a);
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

static int
parse_pause(struct agent *a, const char *arg, int cfd, uint64_t *ms)
{
	if (*arg == '\0') {
		*ms = a->pol->pause_max_ms;
		return 0;
	}
	if (ut_parse_u64(arg, ms) < 0 || *ms == 0) {
		reply_err(cfd, "bad pause duration");
		return -1;
	}
	if (*ms > a->pol->pause_max_ms) {
		char msg[160];

		snprintf(msg, sizeof(msg), "a pause may last at most %" PRIu64
		    " minutes under this policy", a->pol->pause_max_ms / 60000);
		reply_err(cfd, msg);
		return -1;
	}
	return 0;
}

/*
 * The requests of the control thread (sync.c), "org ..." from this user:
 *   org pause UNTIL_WALL_NS  the organisation's pause, acknowledged once
 *                            capture stopped (like a local pause)
 *   org resume               it ended
 *   org revoked              the server revoked this device: stop
 *   org note TEXT            where the control state came from (status)
 * Replies {"ok":true,"recording":bool}.
 */
static int
handle_org(struct agent *a, const char *arg, int cfd)
{
	char *end;
	long long until;
	int64_t now = ut_now_wall_ns();

	if (strncmp(arg, "note ", 5) == 0 || strcmp(arg, "note") == 0) {
		snprintf(a->ctl_note, sizeof(a->ctl_note), "%s",
		    arg[4] ? arg + 5 : "");
		control_reply_ok(cfd);
		return 0;
	}
	if (strcmp(arg, "revoked") == 0) {
		a->revoked = true;
		(void)recheck(a); /* sets why */
		if (a->st == ST_RECORDING) {
			a->cutoff = ut_now_mono_ns();
			a->ack_fd = cfd;
			return STOP_FOR_CONSENT;
		}
		a->st = ST_WAITING;
		control_reply_recording(cfd, false);
		return 0;
	}
	if (strcmp(arg, "resume") == 0) {
		a->org_until_mono = 0;
		a->org_until_wall = 0;
		if (a->st == ST_PAUSED) {
			pause_span(a); /* 0 unless the person's own pause holds */
			paused_why(a);
		}
		control_reply_recording(cfd, a->st == ST_RECORDING);
		return 0;
	}
	if (strncmp(arg, "pause ", 6) != 0) {
		reply_err(cfd, "unknown request");
		return 0;
	}
	until = strtoll(arg + 6, &end, 10);
	if (*end != '\0' || end == arg + 6) {
		reply_err(cfd, "bad pause end");
		return 0;
	}
	if (until <= now)
		return handle_org(a, "resume", cfd);
	a->org_until_wall = until;
	a->org_until_mono = ut_now_mono_ns() + (uint64_t)(until - now);
	if (a->st == ST_RECORDING) {
		pause_span(a);
		a->cutoff = ut_now_mono_ns();
		a->ack_fd = cfd;
		a->org_stopping = true;
		return STOP_FOR_PAUSE;
	}
	if (a->st == ST_PAUSED) {
		pause_span(a);
		paused_why(a);
	}
	/* WAITING stays WAITING; go_recording() will honour the pause. */
	control_reply_recording(cfd, false);
	return 0;
}

/*
 * Handles one control request.  While recording, returns STOP_FOR_* to
 * make capture stop; the requester is then answered after the stop (3).
 */
static int
handle_request(struct agent *a)
{
	char req[CONTROL_LINE_MAX];
	uint64_t ms;
	int cfd;

	cfd = control_accept(a->lfd, req, sizeof(req));
	if (cfd < 0) {
		if (cfd == UT_EDENIED)
			log_warn("refused a control connection from another user");
		return 0;
	}
	if (strcmp(req, "ping") == 0) {
		control_reply_ok(cfd);
		return 0;
	}
	if (strcmp(req, "status") == 0) {
		reply_status(a, cfd);
		return 0;
	}
	if (strncmp(req, "pause", 5) == 0 && (req[5] == '\0' || req[5] == ' ')) {
		if (a->st == ST_WAITING) {
			reply_err(cfd, "not recording");
			return 0;
		}
		if (parse_pause(a, req[5] ? req + 6 : "", cfd, &ms) < 0)
			return 0;
		a->local_until_mono = ut_now_mono_ns() + ms * 1000000ull;
		a->local_until_wall = ut_now_wall_ns() + (int64_t)ms * 1000000;
		pause_span(a);
		if (a->st == ST_PAUSED) {
			reply_status(a, cfd); /* extends the pause */
			return 0;
		}
		a->cutoff = ut_now_mono_ns();
		a->ack_fd = cfd;
		a->org_stopping = false;
		return STOP_FOR_PAUSE;
	}
	if (strcmp(req, "resume") == 0) {
		a->local_until_mono = 0;
		a->local_until_wall = 0;
		if (a->st == ST_PAUSED && org_paused(a)) {
			pause_span(a);
			reply_err(cfd, "paused by your organisation: recording "
			    "resumes when the organisation ends its pause");
			return 0;
		}
		if (a->st == ST_PAUSED)
			a->pause_until_mono = 0; /* the wait loop resumes */
		control_reply_ok(cfd);
		return 0;
	}
	if (strncmp(req, "org ", 4) == 0)
		return handle_org(a, req + 4, cfd);
	/*
	 * "clock OFFSET": `usetrace upload` compared this device's clock with
	 * the server's (OFFSET seconds, device minus server).  More than
	 * CLOCK_MAX_OFF_S off: stop recording, saying so; back within it:
	 * recheck and record again.
	 */
	if (strncmp(req, "clock ", 6) == 0) {
		char *end;
		long long off = strtoll(req + 6, &end, 10);

		if (*end != '\0' || end == req + 6) {
			reply_err(cfd, "bad clock offset");
			return 0;
		}
		a->clock_off_s = off;
		a->clock_bad = off > CLOCK_MAX_OFF_S || off < -CLOCK_MAX_OFF_S;
		if (recheck(a) == 0) {
			if (a->st == ST_WAITING)
				go_recording(a);
			control_reply_recording(cfd, a->st == ST_RECORDING);
			return 0;
		}
		if (a->st == ST_RECORDING) {
			a->cutoff = ut_now_mono_ns();
			a->ack_fd = cfd;
			return a->clock_bad ? STOP_FOR_CLOCK : STOP_FOR_CONSENT;
		}
		a->st = ST_WAITING;
		control_reply_recording(cfd, false);
		return 0;
	}
	if (strncmp(req, "task ", 5) == 0) {
		task_mark(a, req + 5, cfd);
		return 0;
	}
	if (strcmp(req, "consent") == 0) {
		if (recheck(a) == 0) {
			if (a->st == ST_WAITING)
				go_recording(a);
			control_reply_recording(cfd, a->st == ST_RECORDING);
			return 0;
		}
		if (a->st == ST_RECORDING) {
			a->cutoff = ut_now_mono_ns();
			a->ack_fd = cfd;
			return STOP_FOR_CONSENT;
		}
		a->st = ST_WAITING;
		control_reply_recording(cfd, false);
		return 0;
	}
	reply_err(cfd, "unknown request");
	return 0;
}

static int
on_control(void *arg)
{
	return handle_request(arg);
}

static int
open_spool(struct agent *a)
{
	size_t idlen = 0;
	int r;

	if (a->sp != NULL)
		return 0;
	a->so = *a->o->spool;
	/* With frames the agent rotates at key frames; these are backstops. */
	a->rotate_bytes = a->so.segment_max_bytes ? a->so.segment_max_bytes :
	    ROTATE_BYTES;
	if (a->pol->categories & UT_CAT_FRAMES) {
		a->so.segment_max_bytes = (size_t)UT_MAX(a->rotate_bytes * 16,
		    64ull << 20);
		a->so.segment_max_ms = 30ull * 60 * 1000;
	}
	if (a->so.budget_bytes == 0)
		a->so.budget_bytes = (size_t)a->pol->spool_budget_bytes;
	a->day = utc_day(ut_now_wall_ns());
	if (a->o->recipient_for_day != NULL) {
		if ((r = day_recipient(a, a->day)) < 0) {
			log_error("%s", a->why);
			return r;
		}
		a->so.recipient_pk = a->rcpt;
	}
	memcpy(a->so.policy_hash, a->pol->hash, sizeof(a->so.policy_hash));
	if (sodium_hex2bin(a->so.consent_id, sizeof(a->so.consent_id),
	    a->consent.id, strlen(a->consent.id), NULL, &idlen, NULL) != 0 ||
	    idlen != sizeof(a->so.consent_id))
		return UT_ECORRUPT;
	if ((r = spool_open(&a->so, &a->sp)) < 0)
		log_error("cannot write to %s: %s", a->so.dir, ut_strerror(r));
	return r;
}

/* Waits (not recording) for a state change, a request or stop. */
static int
wait_loop(struct agent *a)
{
	struct pollfd p[2];
	uint64_t now;
	int timeout;

	for (;;) {
		if (a->st == ST_RECORDING)
			return 0;
		now = ut_now_mono_ns();
		if (a->st == ST_PAUSED && now >= a->pause_until_mono) {
			a->org_until_mono = 0;
			if (a->sp == NULL && recheck(a) != 0) {
				/* An org pause began while waiting for consent. */
				a->st = ST_WAITING;
				continue;
			}
			a->st = ST_RECORDING;
			return write_marker(a, UT_EV_RESUME, "resumed");
		}
		/* (6): a changed policy file may make consent match again. */
		if (policy_file_changed(a) && a->st == ST_WAITING &&
		    recheck(a) == 0) {
			go_recording(a);
			continue;
		}
		if (a->st == ST_WAITING && a->spool_full && room_again(a)) {
			a->spool_full = false;
			if (recheck(a) == 0) {
				log_info("the uploads freed room in the spool: "
				    "recording again");
				go_recording(a);
				continue;
			}
			log_info("not recording: %s", a->why);
		}
		timeout = a->st == ST_PAUSED ?
		    (int)((a->pause_until_mono - now) / 1000000ull) + 1 :
		    a->spool_full ? 1000 : -1;
		if (a->o->policy_path != NULL && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		p[0].fd = a->o->stop_fd;
		p[1].fd = a->lfd;
		p[0].events = p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents & (POLLIN | POLLHUP))
			return 1;
		if (p[1].revents & POLLIN)
			(void)handle_request(a);
	}
}

/* The filter found a secret typed into window (PRIV-P4-3). */
static uint32_t
mask_window(void *arg, uint32_t window, const char *text, size_t len)
{
	struct agent *a = arg;

	return capture_masks_add(a->masks, window, text, len);
}

/*
 * Compiling the detectors (privacy_filter_create) allocates and frees far
 * more scratch than the compiled databases keep; the C library holds the
 * freed pages on its heap, about 6 MB resident for the life of the agent
 * (docs/BENCHMARKS.md, "Screen frames").  Give them back to the system.
 */
static void
heap_give_back(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/* One capture run; returns 1 to stop the agent, 0 to go on, < 0 error. */
static int
record_once(struct agent *a)
{
	struct capture_opts co;
	struct capture_sink sink;
	struct capture_stats st;
	struct privacy_filter_opts po;
	struct privacy_identity id;
	int r, rf;

	if ((r = open_spool(a)) < 0)
		return r;
	/*
	 * P4/P5: the filter enforces denied and sensitive applications and
	 * replaces the person's own identifiers.  Secure input needs no
	 * wiring: capture replaces those keys itself (docs/SECURE-INPUT.md).
	 */
	memset(&po, 0, sizeof(po));
	po.policy = a->pol;
	(void)privacy_identity_default(&id); /* what it cannot find stays empty */
	po.identity = &id;
	po.frame_quality = a->pol->frame_quality;
	if (a->pol->categories & UT_CAT_FRAMES) {
		po.mask_window = mask_window;
		po.mask_arg = a;
	}
	a->pf = privacy_filter_create(&po, to_spool, a);
	sodium_memzero(&id, sizeof(id)); /* the filter keeps its own copy */
	if (a->pf == NULL) {
		log_error("cannot build the privacy filter's detectors");
		return UT_EINVAL;
	}
	heap_give_back();
	memset(&co, 0, sizeof(co));
	co.display = a->o->display;
	co.tick_ms = 200;
	co.stop_fd = a->o->stop_fd;
	co.extra_fd = a->lfd;
	co.categories = a->pol->categories;
	co.seq = &a->seq;
	co.frame_counter = &a->frame_id;
	co.frame_fps = a->pol->frame_fps;
	co.frame_lossless = a->pol->frame_lossless;
	co.frame_quality = a->pol->frame_quality;
	co.key_frame_request = &a->key_req;
	co.policy = a->pol;
	co.masks = a->masks;
	a->rotate_pending = 0; /* a new run starts with a key frame anyway */
	memset(&sink, 0, sizeof(sink));
	sink.emit = sink_emit;
	sink.tick = sink_tick;
	sink.on_fd = on_control;
	sink.ready = sink_ready;
	sink.arg = a;
	memset(&st, 0, sizeof(st));
	a->cutoff = 0;
	a->capturing = true;
	r = capture_run(&co, &sink, &st);
	a->capturing = false;
	a->total.records += st.records;
	a->total.keys += st.keys;
	a->total.buttons += st.buttons;
	a->total.motions += st.motions;
	a->total.focus += st.focus;
	a->total.frames += st.frames;
	a->total.grabs += st.grabs;
	a->total.grab_ns += st.grab_ns;
	a->total.encode_ns += st.encode_ns;
	a->total.blackout_ns += st.blackout_ns;
	a->total.frames_skipped += st.frames_skipped;

	/* (2): release what the filter holds, up to the cutoff. */
	rf = privacy_filter_flush(a->pf);
	privacy_filter_destroy(a->pf);
	a->pf = NULL;
	if (r == 0 && rf < 0)
		r = rf;
	switch (r) {
	case 0:
		r = spool_commit(a->sp);
		return r < 0 ? r : 1;
	case STOP_FOR_PAUSE:
		a->st = ST_PAUSED;
		paused_why(a);
		r = write_marker(a, UT_EV_PAUSE, a->org_stopping ? "paused by the "
		    "organisation" : "paused by the person recorded");
		a->org_stopping = false;
		if (r == 0)
			r = spool_rotate(a->sp);
		segment_closed(a);
		control_reply_obj(a->ack_fd, json_pack("{s:b, s:I}", "ok",
		    r == 0, "until_wall_ns", (json_int_t)a->pause_until_wall));
		a->ack_fd = -1;
		log_info("paused");
		return r;
	case STOP_FOR_CONSENT:
	case STOP_FOR_KEY:
	case STOP_FOR_CLOCK:
		a->st = ST_WAITING;
		r = write_marker(a, UT_EV_END, r == STOP_FOR_KEY ? "no ingest key "
		    "for the new day" : r == STOP_FOR_CLOCK ? "the device's clock "
		    "is off the server's" : "consent withdrawn or policy changed");
		if (r == 0)
			r = spool_close(a->sp);
		a->sp = NULL;
		segment_closed(a);
		if (a->ack_fd >= 0)
			control_reply_recording(a->ack_fd, false);
		a->ack_fd = -1;
		/* Capture let go of the policy: load the one now in force (6). */
		if (r == 0 && recheck(a) == 0) {
			go_recording(a);
			log_info("the policy changed; consent matches it: recording");
			return 0;
		}
		log_info("not recording: %s", a->why);
		return r;
	case UT_EFULL:
		/*
		 * Stop at the budget, drop nothing written: close the segment
		 * (its trailer fits the reserve) so it can upload, and wait in
		 * wait_loop() until room_again().
		 */
		a->st = ST_WAITING;
		a->spool_full = true;
		log_error("%s", a->why);
		r = spool_close(a->sp);
		a->sp = NULL;
		a->seg_bytes = 0;
		segment_closed(a);
		return r == UT_EFULL ? 0 : r;
	default:
		if (a->err < 0)
			log_error("writing to %s failed: %s; records acknowledged "
			    "before the failure are kept", a->so.dir,
			    ut_strerror(a->err));
		return r;
	}
}

/*
 * Starts the visible indicator (`usetrace indicator`) as a child; it talks
 * to us over the control socket and exits when we are gone.
 */
static pid_t
spawn_indicator(const char *display)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (display != NULL)
			execl("/proc/self/exe", "usetrace", "indicator", "--display",
			    display, (char *)NULL);
		else
			execl("/proc/self/exe", "usetrace", "indicator", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		log_warn("cannot start the recording indicator: %s", strerror(errno));
	return pid;
}

int
agent_run(const struct agent_opts *o)
{
	pid_t ind = -1;
	struct agent a;
	char err[256];
	int r, rc;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.lfd = -1;
	a.ack_fd = -1;
	a.masks = capture_masks_create();
	a.revoked = o->revoked;
	if (o->control_note != NULL)
		snprintf(a.ctl_note, sizeof(a.ctl_note), "%s", o->control_note);
	if (o->org_pause_until_wall_ns > ut_now_wall_ns()) {
		a.org_until_wall = o->org_pause_until_wall_ns;
		a.org_until_mono = ut_now_mono_ns() +
		    (uint64_t)(o->org_pause_until_wall_ns - ut_now_wall_ns());
	}
	(void)policy_file_changed(&a);
	if ((r = load_policy(o, &a.pol, err, sizeof(err))) < 0) {
		log_error("policy %s: %s", o->policy_path ? o->policy_path :
		    "(built-in default)", err);
		capture_masks_destroy(a.masks);
		return r;
	}
	if (!o->no_control) {
		if ((r = control_socket_path(a.sock, sizeof(a.sock), 1)) < 0 ||
		    (r = control_listen(a.sock, &a.lfd)) < 0) {
			if (r == -EADDRINUSE)
				log_error("another usetrace agent is already running "
				    "for this user");
			else
				log_error("control socket: %s", ut_strerror(r));
			goto out;
		}
	}
	if (!o->no_control)
		ind = spawn_indicator(o->display);
	a.st = ST_WAITING;
	if (recheck(&a) == 0)
		go_recording(&a);
	if (a.st != ST_RECORDING)
		log_info("not recording: %s", a.why);
	for (;;) {
		if ((r = wait_loop(&a)) != 0)
			break;
		if ((r = record_once(&a)) != 0)
			break;
	}
	if (r == 1)
		r = 0;
	log_info("%llu records captured (%llu keys, %llu buttons, %llu motions, "
	    "%llu focus changes)", (unsigned long long)a.total.records,
	    (unsigned long long)a.total.keys, (unsigned long long)a.total.buttons,
	    (unsigned long long)a.total.motions, (unsigned long long)a.total.focus);
	if (a.total.grabs > 0)
		log_info("frames: %llu stored, %llu grabs (%.2f ms each, grab + "
		    "hashes, of which %.2f ms blackout), %.2f ms encoding per "
		    "stored frame, %llu changed grabs replaced before a store",
		    (unsigned long long)a.total.frames,
		    (unsigned long long)a.total.grabs,
		    (double)a.total.grab_ns / 1e6 / (double)a.total.grabs,
		    (double)a.total.blackout_ns / 1e6 / (double)a.total.grabs,
		    a.total.frames ? (double)a.total.encode_ns / 1e6 /
		    (double)a.total.frames : 0.0,
		    (unsigned long long)a.total.frames_skipped);
out:
	if (a.sp != NULL) {
		rc = spool_close(a.sp);
		if (r == 0 && rc < 0) {
			log_error("closing %s failed: %s", a.so.dir, ut_strerror(rc));
			r = rc;
		}
	}
	if (a.lfd >= 0) {
		close(a.lfd);
		unlink(a.sock);
	}
	if (a.ack_fd >= 0)
		control_reply_err(a.ack_fd, "agent stopped");
	if (ind > 0) {
		kill(ind, SIGTERM);
		waitpid(ind, NULL, 0);
	}
	privacy_filter_destroy(a.pf);
	capture_masks_destroy(a.masks);
	policy_destroy(a.pol);
	return r;
}
