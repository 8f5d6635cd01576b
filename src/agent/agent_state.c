/*
 * agent_state.c - the recorder's decisions (agent_int.h): which policy is
 * in force and whether the policy file changed (invariant (6) of
 * agent.c), whether consent holds for it, the UTC day and its recipient
 * (5), and whose pause holds until when.  No I/O besides reading the
 * policy and consent files; the caller acts on the answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_int.h"
#include "usetrace/err.h"
#include "usetrace/util.h"

int32_t
agent__utc_day(int64_t wall_ns)
{
	return (int32_t)(wall_ns >= 0 ? wall_ns / NS_PER_DAY :
	    -((-wall_ns + NS_PER_DAY - 1) / NS_PER_DAY));
}

/* Loads day's recipient into a->rcpt; 0, or sets why and fails. */
int
agent__day_recipient(struct agent *a, int32_t day)
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
int
agent__load_policy(const struct agent_opts *o, struct policy **out, char *err,
    size_t errsz)
{
	if (o->policy_path != NULL && o->policy_default_if_missing &&
	    access(o->policy_path, F_OK) != 0 && errno == ENOENT)
		return policy_load(NULL, out, err, errsz);
	return policy_load(o->policy_path, out, err, errsz);
}

/* Notes the policy file's identity; true when it changed since last (6). */
bool
agent__policy_file_changed(struct agent *a)
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
int
agent__recheck(struct agent *a)
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
		(void)agent__policy_file_changed(a);
		if (agent__load_policy(a->o, &np, err, sizeof(err)) < 0) {
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
		r = agent__day_recipient(a, agent__utc_day(ut_now_wall_ns()));
	return r;
}

bool
agent__org_paused(const struct agent *a)
{
	return a->org_until_mono != 0 && ut_now_mono_ns() < a->org_until_mono;
}

/*
 * Whose pause holds (status "paused_by"): "organisation" (an admin's
 * pause), "you" (the person's own, from their web page, through
 * the server) or "local" (`usetrace pause`, the
 * indicator).  A server-side pause outranks a local one: `usetrace
 * resume` does not lift it.
 */
const char *
agent__paused_by(const struct agent *a)
{
	if (!agent__org_paused(a))
		return "local";
	return a->org_by_you ? "you" : "organisation";
}

/* Sets why for PAUSED: whose pause, until when. */
void
agent__paused_why(struct agent *a)
{
	const char *by = agent__paused_by(a);
	char when[40];
	time_t t;
	struct tm tm;

	if (strcmp(by, "local") == 0) {
		snprintf(a->why, sizeof(a->why), "paused");
		return;
	}
	t = (time_t)(a->org_until_wall / 1000000000LL);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(a->why, sizeof(a->why), "paused by %s until %s", by, when);
}

/* pause_until_* := the later of the person's and the organisation's. */
void
agent__pause_span(struct agent *a)
{
	bool org = agent__org_paused(a);

	a->pause_until_mono = a->local_until_mono;
	a->pause_until_wall = a->local_until_wall;
	if (org && a->org_until_mono > a->pause_until_mono) {
		a->pause_until_mono = a->org_until_mono;
		a->pause_until_wall = a->org_until_wall;
	}
}

/* Consent is valid: record, unless the organisation's pause holds. */
void
agent__go_recording(struct agent *a)
{
	if (agent__org_paused(a)) {
		a->st = ST_PAUSED;
		agent__pause_span(a);
		agent__paused_why(a);
		return;
	}
	a->st = ST_RECORDING;
}
