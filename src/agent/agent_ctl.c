/*
 * agent_ctl.c - the control socket's requests (control.h, docs/AGENT.md):
 * ping, status, pause [MS], resume, consent, clock OFFSET, task ..., and
 * the control thread's "org ..." (sync.c).  A request that needs capture
 * stopped returns STOP_FOR_* with the requester parked in a->ack_fd; it
 * is answered after the stop (invariant (3) of agent.c).  Replies are
 * encoded by ctlproto.c.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent_int.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

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

/*
 * The status reply (control.h), encoded by ctlproto.c, with the
 * uploader's "upload" object (status_extra) when there is an uploader.
 */
static void
reply_status(struct agent *a, int cfd)
{
	char pol[17];
	json_t *j, *up;

	snprintf(pol, sizeof(pol), "%.16s", a->pol->hash_hex);
	j = json_pack("{s:b, s:s, s:o*, s:I, s:I, s:s, s:o*, s:I, s:s, s:I, "
	    "s:b, s:o*, s:b}", "ok", 1, "state", state_name(a->st),
	    "why", control_json_str(a->st == ST_RECORDING ? "" : a->why),
	    "until_wall_ns", (json_int_t)(a->st == ST_PAUSED ?
	    a->pause_until_wall : 0), "policy_version",
	    (json_int_t)a->pol->version, "policy", pol, "collecting",
	    collecting(a), "pause_max_ms", (json_int_t)a->pol->pause_max_ms,
	    "paused_by", a->st != ST_PAUSED ? "" : agent__paused_by(a),
	    "org_pause_until_wall_ns",
	    (json_int_t)(agent__org_paused(a) ? a->org_until_wall : 0),
	    "revoked", a->revoked ? 1 : 0, "control",
	    control_json_str(a->ctl_note), "spool_full", a->spool_full ? 1 : 0);
	if (j != NULL && a->o->status_extra != NULL &&
	    (up = a->o->status_extra(a->o->upload_arg)) != NULL)
		(void)json_object_set_new(j, "upload", up);
	control_reply_obj(cfd, j);
}

static void
reply_err(int cfd, const char *msg)
{
	control_reply_err(cfd, msg);
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
	agent__fill_event(a, &ev, UT_EV_MARK);
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
 *   org pause UNTIL_WALL_NS [you]
 *                            the organisation's pause, or with "you" the
 *                            person's own from their page; acknowledged
 *                            once capture stopped (like a local pause)
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
	bool by_you;

	if (strncmp(arg, "note ", 5) == 0 || strcmp(arg, "note") == 0) {
		snprintf(a->ctl_note, sizeof(a->ctl_note), "%s",
		    arg[4] ? arg + 5 : "");
		control_reply_ok(cfd);
		return 0;
	}
	if (strcmp(arg, "revoked") == 0) {
		a->revoked = true;
		(void)agent__recheck(a); /* sets why */
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
		a->org_by_you = false;
		if (a->st == ST_PAUSED) {
			agent__pause_span(a); /* 0 unless the person's own pause holds */
			agent__paused_why(a);
		}
		control_reply_recording(cfd, a->st == ST_RECORDING);
		return 0;
	}
	if (strncmp(arg, "pause ", 6) != 0) {
		reply_err(cfd, "unknown request");
		return 0;
	}
	until = strtoll(arg + 6, &end, 10);
	by_you = strcmp(end, " you") == 0;
	if ((*end != '\0' && !by_you) || end == arg + 6) {
		reply_err(cfd, "bad pause end");
		return 0;
	}
	if (until <= now)
		return handle_org(a, "resume", cfd);
	a->org_until_wall = until;
	a->org_until_mono = ut_now_mono_ns() + (uint64_t)(until - now);
	a->org_by_you = by_you;
	if (a->st == ST_RECORDING) {
		agent__pause_span(a);
		a->cutoff = ut_now_mono_ns();
		a->ack_fd = cfd;
		a->org_stopping = true;
		return STOP_FOR_PAUSE;
	}
	if (a->st == ST_PAUSED) {
		agent__pause_span(a);
		agent__paused_why(a);
	}
	/* WAITING stays WAITING; agent__go_recording() will honour the pause. */
	control_reply_recording(cfd, false);
	return 0;
}

/* "pause [MS]": the person's own pause, or its extension. */
static int
req_pause(struct agent *a, const char *arg, int cfd)
{
	uint64_t ms;

	if (a->st == ST_WAITING) {
		reply_err(cfd, "not recording");
		return 0;
	}
	if (parse_pause(a, arg, cfd, &ms) < 0)
		return 0;
	a->local_until_mono = ut_now_mono_ns() + ms * 1000000ull;
	a->local_until_wall = ut_now_wall_ns() + (int64_t)ms * 1000000;
	agent__pause_span(a);
	if (a->st == ST_PAUSED) {
		reply_status(a, cfd); /* extends the pause */
		return 0;
	}
	a->cutoff = ut_now_mono_ns();
	a->ack_fd = cfd;
	a->org_stopping = false;
	return STOP_FOR_PAUSE;
}

static void
req_resume(struct agent *a, int cfd)
{
	a->local_until_mono = 0;
	a->local_until_wall = 0;
	if (a->st == ST_PAUSED && agent__org_paused(a)) {
		agent__pause_span(a);
		reply_err(cfd, a->org_by_you ? "paused by you on your web "
		    "page: resume it there" : "paused by your organisation: "
		    "recording resumes when the organisation ends its pause");
		return;
	}
	if (a->st == ST_PAUSED)
		a->pause_until_mono = 0; /* the wait loop resumes */
	control_reply_ok(cfd);
}

/*
 * After "consent" or "clock": record when the checks pass, else stop
 * capture (returning stop, the requester answered after it) or wait.
 */
static int
recheck_or_stop(struct agent *a, int cfd, int stop)
{
	if (agent__recheck(a) == 0) {
		if (a->st == ST_WAITING)
			agent__go_recording(a);
		control_reply_recording(cfd, a->st == ST_RECORDING);
		return 0;
	}
	if (a->st == ST_RECORDING) {
		a->cutoff = ut_now_mono_ns();
		a->ack_fd = cfd;
		return stop;
	}
	a->st = ST_WAITING;
	control_reply_recording(cfd, false);
	return 0;
}

/*
 * "clock OFFSET": `usetrace upload` compared this device's clock with the
 * server's (OFFSET seconds, device minus server).  More than
 * CLOCK_MAX_OFF_S off: stop recording, saying so; back within it: recheck
 * and record again.
 */
static int
req_clock(struct agent *a, const char *arg, int cfd)
{
	char *end;
	long long off = strtoll(arg, &end, 10);

	if (*end != '\0' || end == arg) {
		reply_err(cfd, "bad clock offset");
		return 0;
	}
	a->clock_off_s = off;
	a->clock_bad = off > CLOCK_MAX_OFF_S || off < -CLOCK_MAX_OFF_S;
	return recheck_or_stop(a, cfd, a->clock_bad ? STOP_FOR_CLOCK :
	    STOP_FOR_CONSENT);
}

/*
 * Handles one control request.  While recording, returns STOP_FOR_* to
 * make capture stop; the requester is then answered after the stop (3).
 */
int
agent__handle_request(struct agent *a)
{
	char req[CONTROL_LINE_MAX];
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
	if (strncmp(req, "pause", 5) == 0 && (req[5] == '\0' || req[5] == ' '))
		return req_pause(a, req[5] ? req + 6 : "", cfd);
	if (strcmp(req, "resume") == 0) {
		req_resume(a, cfd);
		return 0;
	}
	if (strncmp(req, "org ", 4) == 0)
		return handle_org(a, req + 4, cfd);
	if (strncmp(req, "clock ", 6) == 0)
		return req_clock(a, req + 6, cfd);
	if (strncmp(req, "task ", 5) == 0) {
		task_mark(a, req + 5, cfd);
		return 0;
	}
	if (strcmp(req, "consent") == 0)
		return recheck_or_stop(a, cfd, STOP_FOR_CONSENT);
	reply_err(cfd, "unknown request");
	return 0;
}

int
agent__on_control(void *arg)
{
	return agent__handle_request(arg);
}
