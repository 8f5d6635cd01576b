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
 *
 * Files: this one holds the lifecycle (agent_run, the wait loop, one
 * capture run and what follows its stop); see agent_int.h for the others.
 */
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
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agent_int.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"

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
	a->day = agent__utc_day(ut_now_wall_ns());
	if (a->o->recipient_for_day != NULL) {
		if ((r = agent__day_recipient(a, a->day)) < 0) {
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
			if (a->sp == NULL && agent__recheck(a) != 0) {
				/* An org pause began while waiting for consent. */
				a->st = ST_WAITING;
				continue;
			}
			a->st = ST_RECORDING;
			return agent__write_marker(a, UT_EV_RESUME, "resumed");
		}
		/* (6): a changed policy file may make consent match again. */
		if (agent__policy_file_changed(a) && a->st == ST_WAITING &&
		    agent__recheck(a) == 0) {
			agent__go_recording(a);
			continue;
		}
		if (a->st == ST_WAITING && a->spool_full && agent__room_again(a)) {
			a->spool_full = false;
			if (agent__recheck(a) == 0) {
				log_info("the uploads freed room in the spool: "
				    "recording again");
				agent__go_recording(a);
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
			(void)agent__handle_request(a);
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

/*
 * glibc raises its mmap threshold each time a mapped chunk is freed (up
 * to 32 MB); after the first few frames the frame thread's encoding
 * buffers (MBs at 1080p, one set per stored frame) then come from its
 * arena, whose freed pages stay resident: ~3 MB of the agent's steady
 * RSS (docs/BENCHMARKS.md, "Device reshaping").  Pinning the threshold
 * at glibc's default start value keeps large buffers mapped and returned
 * on free (a global setting, safe with threads running).
 */
static void
heap_limits(void)
{
#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/*
 * P4/P5: the filter enforces denied and sensitive applications and
 * replaces the person's own identifiers.  Secure input needs no wiring:
 * capture replaces those keys itself (docs/SECURE-INPUT.md).
 */
static int
make_filter(struct agent *a)
{
	struct privacy_filter_opts po;
	struct privacy_identity id;

	memset(&po, 0, sizeof(po));
	po.policy = a->pol;
	(void)privacy_identity_default(&id); /* what it cannot find stays empty */
	po.identity = &id;
	po.frame_quality = a->pol->frame_quality;
	if (a->pol->categories & UT_CAT_FRAMES) {
		po.mask_window = mask_window;
		po.mask_arg = a;
	}
	a->pf = privacy_filter_create(&po, agent__to_spool, a);
	sodium_memzero(&id, sizeof(id)); /* the filter keeps its own copy */
	if (a->pf == NULL) {
		log_error("cannot build the privacy filter's detectors");
		return UT_EINVAL;
	}
	heap_give_back();
	return 0;
}

static void
capture_options(struct agent *a, struct capture_opts *co)
{
	memset(co, 0, sizeof(*co));
	co->display = a->o->display;
	co->tick_ms = 200;
	co->stop_fd = a->o->stop_fd;
	co->extra_fd = a->lfd;
	co->categories = a->pol->categories;
	co->seq = &a->seq;
	co->frame_counter = &a->frame_id;
	co->frame_fps = a->pol->frame_fps;
	co->frame_lossless = a->pol->frame_lossless;
	co->frame_quality = a->pol->frame_quality;
	co->key_frame_request = &a->key_req;
	co->policy = a->pol;
	co->masks = a->masks;
}

static void
add_stats(struct capture_stats *t, const struct capture_stats *st)
{
	t->records += st->records;
	t->keys += st->keys;
	t->buttons += st->buttons;
	t->motions += st->motions;
	t->focus += st->focus;
	t->frames += st->frames;
	t->grabs += st->grabs;
	t->grab_ns += st->grab_ns;
	t->encode_ns += st->encode_ns;
	t->blackout_ns += st->blackout_ns;
	t->frames_skipped += st->frames_skipped;
}

/*
 * What follows capture's stop for reason r (STOP_FOR_*, UT_EFULL, 0 for
 * stop_fd, an error): the marker, the segment, the parked requester.
 * Returns like record_once().
 */
static int
after_stop(struct agent *a, int r)
{
	switch (r) {
	case 0:
		r = spool_commit(a->sp);
		return r < 0 ? r : 1;
	case STOP_FOR_PAUSE:
		a->st = ST_PAUSED;
		agent__paused_why(a);
		r = agent__write_marker(a, UT_EV_PAUSE, a->org_stopping &&
		    !a->org_by_you ? "paused by the organisation" :
		    "paused by the person recorded");
		a->org_stopping = false;
		if (r == 0)
			r = spool_rotate(a->sp);
		agent__segment_closed(a);
		control_reply_obj(a->ack_fd, json_pack("{s:b, s:I}", "ok",
		    r == 0, "until_wall_ns", (json_int_t)a->pause_until_wall));
		a->ack_fd = -1;
		log_info("paused");
		return r;
	case STOP_FOR_CONSENT:
	case STOP_FOR_KEY:
	case STOP_FOR_CLOCK:
		a->st = ST_WAITING;
		r = agent__write_marker(a, UT_EV_END, r == STOP_FOR_KEY ? "no ingest key "
		    "for the new day" : r == STOP_FOR_CLOCK ? "the device's clock "
		    "is off the server's" : "consent withdrawn or policy changed");
		if (r == 0)
			r = spool_close(a->sp);
		a->sp = NULL;
		agent__segment_closed(a);
		if (a->ack_fd >= 0)
			control_reply_recording(a->ack_fd, false);
		a->ack_fd = -1;
		/* Capture let go of the policy: load the one now in force (6). */
		if (r == 0 && agent__recheck(a) == 0) {
			agent__go_recording(a);
			log_info("the policy changed; consent matches it: recording");
			return 0;
		}
		log_info("not recording: %s", a->why);
		return r;
	case UT_EFULL:
		/*
		 * Stop at the budget, drop nothing written: close the segment
		 * (its trailer fits the reserve) so it can upload, and wait in
		 * wait_loop() until agent__room_again().
		 */
		a->st = ST_WAITING;
		a->spool_full = true;
		log_error("%s", a->why);
		r = spool_close(a->sp);
		a->sp = NULL;
		a->seg_bytes = 0;
		agent__segment_closed(a);
		return r == UT_EFULL ? 0 : r;
	default:
		if (a->err < 0)
			log_error("writing to %s failed: %s; records acknowledged "
			    "before the failure are kept", a->so.dir,
			    ut_strerror(a->err));
		return r;
	}
}

/* One capture run; returns 1 to stop the agent, 0 to go on, < 0 error. */
static int
record_once(struct agent *a)
{
	struct capture_opts co;
	struct capture_sink sink;
	struct capture_stats st;
	int r, rf;

	if ((r = open_spool(a)) < 0 || (r = make_filter(a)) < 0)
		return r;
	capture_options(a, &co);
	a->rotate_pending = 0; /* a new run starts with a key frame anyway */
	agent__sink_init(a, &sink);
	sink.on_fd = agent__on_control; /* requests while capturing */
	memset(&st, 0, sizeof(st));
	a->cutoff = 0;
	a->capturing = true;
	r = capture_run(&co, &sink, &st);
	a->capturing = false;
	add_stats(&a->total, &st);

	/* (2): release what the filter holds, up to the cutoff. */
	rf = privacy_filter_flush(a->pf);
	privacy_filter_destroy(a->pf);
	a->pf = NULL;
	if (r == 0 && rf < 0)
		r = rf;
	return after_stop(a, r);
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

/* The run's totals, logged when the agent stops. */
static void
log_totals(const struct capture_stats *t)
{
	log_info("%llu records captured (%llu keys, %llu buttons, %llu motions, "
	    "%llu focus changes)", (unsigned long long)t->records,
	    (unsigned long long)t->keys, (unsigned long long)t->buttons,
	    (unsigned long long)t->motions, (unsigned long long)t->focus);
	if (t->grabs > 0)
		log_info("frames: %llu stored, %llu grabs (%.2f ms each, grab + "
		    "hashes, of which %.2f ms blackout), %.2f ms encoding per "
		    "stored frame, %llu changed grabs replaced before a store",
		    (unsigned long long)t->frames,
		    (unsigned long long)t->grabs,
		    (double)t->grab_ns / 1e6 / (double)t->grabs,
		    (double)t->blackout_ns / 1e6 / (double)t->grabs,
		    t->frames ? (double)t->encode_ns / 1e6 /
		    (double)t->frames : 0.0,
		    (unsigned long long)t->frames_skipped);
}

int
agent_run(const struct agent_opts *o)
{
	pid_t ind = -1;
	struct agent a;
	char err[256];
	int r, rc;

	heap_limits();
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
		a.org_by_you = o->org_pause_by_you;
		a.org_until_mono = ut_now_mono_ns() +
		    (uint64_t)(o->org_pause_until_wall_ns - ut_now_wall_ns());
	}
	(void)agent__policy_file_changed(&a);
	if ((r = agent__load_policy(o, &a.pol, err, sizeof(err))) < 0) {
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
	if (agent__recheck(&a) == 0)
		agent__go_recording(&a);
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
	log_totals(&a.total);
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
