/*
 * agent.h - the recording agent behind `usetrace record`.
 *
 * The agent enforces the policy and the person's control over recording:
 *  - It records only while the person has consented to the exact policy in
 *    force (P1); without consent it runs, says why in `usetrace status`,
 *    and waits for `usetrace consent` — no X input is read meanwhile.
 *  - It produces only the data categories the policy declares (P2): capture
 *    is told which, and never creates the others.
 *  - Pause (P3): a pause request stops capture (the X RECORD context is
 *    torn down), drops everything captured after the request, writes a
 *    content-free PAUSE record, closes the segment, and only then
 *    acknowledges.  Recording resumes by itself when the pause ends.
 *  - Records flow capture -> privacy filter -> spool; group commits run on
 *    every capture tick.
 *  - A local control socket (control.h) serves status, pause, resume and
 *    consent changes to the same user only.
 */
#ifndef USETRACE_AGENT_H
#define USETRACE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "usetrace/client.h"
#include "usetrace/spool.h"

struct json_t; /* jansson's json_t */

struct agent_opts {
	const char *display;       /* NULL: $DISPLAY */
	const char *policy_path;   /* NULL: the built-in default policy */
	const char *consent_home;  /* where consent.json lives */
	/*
	 * Spool settings (dir, keys, recipient, budget); the agent fills in
	 * policy_hash and consent_id.  Must outlive agent_run().
	 */
	const struct spool_opts *spool;
	/*
	 * The recipient of a UTC day's segments (day: days since the epoch):
	 * an enrolled device seals each day's segments to the server's ingest
	 * key of that day.  0, or UT_ENOTFOUND when there is none (recording
	 * stops, saying so, until a "consent" request finds one).  NULL:
	 * spool->recipient_pk for every day.  The agent rotates segments at
	 * 00:00 UTC either way.
	 */
	int (*recipient_for_day)(void *arg, int32_t day, uint8_t pk[32]);
	void *recipient_arg;
	/*
	 * Background upload (an enrolled device; NULL when none):
	 * segment_closed is called after a segment closed (it must not block:
	 * the uploader only takes note); status_extra returns the status
	 * reply's "upload" object (a new jansson reference, or NULL).  Both
	 * get upload_arg.
	 * With a disk budget, a full spool stops recording ("spool full, not
	 * recording") and recording resumes once the uploads freed a quarter
	 * of the budget; nothing written is dropped for room.
	 */
	void (*segment_closed)(void *arg);
	struct json_t *(*status_extra)(void *arg);
	void *upload_arg;
	int stop_fd;               /* readable -> stop cleanly */
	int no_control;            /* tests: no control socket */
	/*
	 * Server control (sync.c), known before capture starts: an
	 * organisation pause until then (wall ns; 0: none), a revoked device,
	 * and a note for status (e.g. that the server was unreachable and the
	 * last known state is used).  policy_default_if_missing: policy_path
	 * is the device's policy file, which the server's policy replaces;
	 * the built-in default is in force while it does not exist.
	 * org_pause_by_you: that pause is the person's own (their web page),
	 * not the organisation's.
	 */
	int64_t org_pause_until_wall_ns;
	bool org_pause_by_you;
	bool revoked;
	const char *control_note;
	bool policy_default_if_missing;
};

/*
 * Runs until stop_fd is readable (returns 0) or a failure: UT_EPARSE for a
 * bad policy (message printed, nothing started), UT_EX11 when the display
 * is lost, spool errors (-errno) when writing fails.  Everything
 * acknowledged before a failure stays readable.
 */
int agent_run(const struct agent_opts *o);

/*
 * The control thread of an enrolled recorder (sync.c, docs/AGENT.md
 * "Server control").  It keeps one long-poll open to GET
 * /v1/device/control (wait=50, since=the last state_version), applies each
 * new state to the running agent over its control socket (the same paths
 * as the person's own pause and consent), then acknowledges it (POST
 * /v1/device/ack).  The last state is kept in HOME/control.json so that a
 * recorder started while the server is unreachable uses it.
 */
struct agent_sync_opts {
	const struct client_cfg *c;   /* the device's server; copied */
	const char *home;             /* consent.json, control.json */
	const char *policy_path;      /* where the server's policy is saved */
	const char *spool_dir;        /* closed segments purged on erasure */
};
struct agent_sync;

/*
 * One synchronous fetch (wait=0, a short timeout), applied before capture
 * starts: a new policy saved, a withdrawal made locally, an erasure's
 * purge; the pause and revocation are written into *ao (which must be
 * the agent_opts later given to agent_run).  When the server does not
 * answer, the last known state is used and ao->control_note says so.
 */
int agent_sync_create(const struct agent_sync_opts *o, struct agent_opts *ao,
    struct agent_sync **out) __attribute__((warn_unused_result));
/* Starts the long-poll thread. */
int agent_sync_start(struct agent_sync *s) __attribute__((warn_unused_result));
/* Stops the thread (within about a second) and frees s.  Accepts NULL. */
void agent_sync_destroy(struct agent_sync *s);

/*
 * The on-screen indicator (indicator.c): runs until the agent is gone.
 * The agent starts it as a child process (`usetrace indicator`).
 */
int indicator_run(const char *display);

#endif
