/*
 * agent_int.h - the recorder's state, shared by its files (src/agent/):
 *   agent.c        lifecycle: agent_run, the wait loop, one capture run
 *                  and what follows its stop, the indicator child
 *   agent_state.c  the decisions: policy in force, consent, UTC day and
 *                  its recipient, whose pause and until when
 *   agent_sink.c   capture -> privacy filter -> spool: the sinks, the
 *                  markers, segment rotation, the spool budget
 *   agent_ctl.c    the control socket's requests (pause, resume, status,
 *                  consent, clock, task, "org ...")
 * Everything here runs on the agent's one thread (capture's callbacks
 * included); key_req is the only member another thread reads.
 */
#ifndef USETRACE_AGENT_INT_H
#define USETRACE_AGENT_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "usetrace/agent.h"
#include "usetrace/capture.h"
#include "usetrace/consent.h"
#include "usetrace/event.h"
#include "usetrace/policy.h"
#include "usetrace/privacy.h"
#include "usetrace/spool.h"

/* Why capture_run() returned (besides 0, errors and UT_EFULL). */
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
	bool org_by_you;           /* org_until_* is the person's own pause,
	                              set from their page, not the org's */
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
	atomic_int key_req;     /* asked capture for a key frame (the frame
	                           thread clears it) */
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

/* agent_state.c: the decisions. */
int32_t agent__utc_day(int64_t wall_ns);
int agent__day_recipient(struct agent *a, int32_t day);
int agent__load_policy(const struct agent_opts *o, struct policy **out,
    char *err, size_t errsz);
bool agent__policy_file_changed(struct agent *a);
int agent__recheck(struct agent *a);
bool agent__org_paused(const struct agent *a);
void agent__paused_why(struct agent *a);
const char *agent__paused_by(const struct agent *a);
void agent__pause_span(struct agent *a);
void agent__go_recording(struct agent *a);

/* agent_sink.c: capture -> filter -> spool. */
void agent__fill_event(struct agent *a, struct ut_event *ev, uint8_t type);
int agent__write_marker(struct agent *a, uint8_t type, const char *reason);
int agent__spool_result(struct agent *a, int r);
void agent__segment_closed(struct agent *a);
bool agent__room_again(struct agent *a);
int agent__to_spool(void *arg, const struct ut_event *ev);
/* The capture sink of a run: emit, tick and ready (on_fd is the caller's). */
void agent__sink_init(struct agent *a, struct capture_sink *sink);

/* agent_ctl.c: the control socket. */
int agent__handle_request(struct agent *a);
int agent__on_control(void *arg);

#endif
