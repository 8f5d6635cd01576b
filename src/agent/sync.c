/*
 * sync.c - the control thread of an enrolled recorder (agent.h,
 * docs/AGENT.md "Server control", contract in docs/API.md).
 *
 * It owns the device's view of the server's control state: the
 * organisation's pause, the published policy, this person's withdrawal
 * and erasure, the device's revocation.  One long-poll
 * (GET /v1/device/control?since=V&wait=50) is open at a time; each new
 * state is applied to the running agent over its local control socket
 * ("org pause UNTIL [you]", "org resume", "org revoked", "consent";
 * "you": the pause is the person's own, from their page) -- the same
 * paths as the person's own pause and consent, so capture stops the same
 * way -- and only then acknowledged (POST /v1/device/ack).
 *
 * Invariants:
 *  (1) A state is acknowledged only after every part of it was applied
 *      (the agent's reply to a pause comes after capture stopped).
 *  (2) A policy from the server is saved only when its bytes hash to the
 *      announced sha256 and the strict parser accepts them; it replaces
 *      the policy file atomically (temp, fsync, rename, fsync dir).
 *  (3) HOME/control.json holds the last state the server sent; it is
 *      used only when the server does not answer at start.
 *  (4) Failures retry with exponential backoff (1 s .. 60 s, jitter); the
 *      thread never polls faster than once a second.
 *  (5) The only state shared with the caller's thread is the stop flag
 *      and pipe; the device token stays in the client_cfg copy (wiped).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/agent.h"
#include "usetrace/client.h"
#include "usetrace/consent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"

#define CTL_FILE "control.json"
#define POLL_WAIT_S 50
#define POLL_TIMEOUT_S 70
#define START_TIMEOUT_S 5
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define RESP_CAP (1u << 20)
#define POLICY_CAP (1u << 20)
#define AGENT_REQ_MS 20000

struct ctl {
	bool have;
	int64_t version;
	bool paused;
	int64_t until_ns;
	bool by_you;            /* the pause is the person's own, no org pause */
	bool has_policy;
	uint32_t pol_version;
	char pol_sha[65];
	int64_t withdrawn_ns, erased_ns;
	bool revoked;
};

struct agent_sync {
	struct client_cfg c;
	char home[4096];
	char policy_path[4200];
	char spool_dir[4096];
	char note[256];
	char start_note[256];   /* ao->control_note: never changes */
	char sock[256];
	struct ctl cur;
	int64_t acked;          /* state_version acknowledged; -1: none */
	int64_t purged_ns;      /* erased_all_ns already purged */
	bool down;              /* the last request got no answer */
	bool note_dirty;        /* note not yet told to the agent */
	atomic_int stop;
	int pipe[2];
	pthread_t th;
	bool started;
};

static int64_t
jint(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* The control reply's issue-15 fields into *c (absent ones stay 0). */
static void
ctl_parse(const json_t *j, struct ctl *c)
{
	const json_t *op = json_object_get(j, "org_pause");
	const json_t *po = json_object_get(j, "policy");
	const json_t *cs = json_object_get(j, "consent");
	const json_t *dv = json_object_get(j, "device");
	const char *sha;

	memset(c, 0, sizeof(*c));
	c->have = true;
	c->version = jint(j, "state_version");
	c->paused = json_is_true(json_object_get(op, "paused"));
	c->until_ns = jint(op, "until_ns");
	/* Only in control.json: the server's org_pause has no "by_you". */
	c->by_you = c->paused && json_is_true(json_object_get(op, "by_you"));
	/*
	 * Issue 13: the person's own pause (from their web page) is applied
	 * exactly as the organisation's; with both, until the later end.  It
	 * is "paused by you" (status) while no organisation pause holds.
	 */
	if (json_is_true(json_object_get(json_object_get(j, "my_pause"), "paused"))) {
		int64_t mu = jint(json_object_get(j, "my_pause"), "until_ns");

		if (!c->paused || mu > c->until_ns)
			c->until_ns = mu;
		c->by_you = !c->paused;
		c->paused = true;
	}
	if (json_is_object(po) && (sha = json_string_value(json_object_get(po,
	    "sha256"))) != NULL && strlen(sha) == 64 && jint(po, "version") > 0 &&
	    jint(po, "version") <= UINT32_MAX) {
		c->has_policy = true;
		c->pol_version = (uint32_t)jint(po, "version");
		memcpy(c->pol_sha, sha, 65);
	}
	c->withdrawn_ns = jint(cs, "withdrawn_ns");
	c->erased_ns = jint(cs, "erased_all_ns");
	c->revoked = json_is_true(json_object_get(dv, "revoked"));
}

static json_t *
ctl_json(const struct ctl *c, int64_t purged_ns)
{
	json_t *j = json_pack("{s:I, s:{s:b, s:I, s:b}, s:{s:I, s:I}, s:{s:b}, "
	    "s:I, s:I}", "state_version", (json_int_t)c->version,
	    "org_pause", "paused", c->paused, "until_ns", (json_int_t)c->until_ns,
	    "by_you", c->by_you,
	    "consent", "withdrawn_ns", (json_int_t)c->withdrawn_ns,
	    "erased_all_ns", (json_int_t)c->erased_ns,
	    "device", "revoked", c->revoked,
	    "saved_ns", (json_int_t)ut_now_wall_ns(),
	    "purged_ns", (json_int_t)purged_ns);

	if (j == NULL)
		ut_fatal("out of memory");
	if (c->has_policy)
		json_object_set_new(j, "policy", json_pack("{s:I, s:s}", "version",
		    (json_int_t)c->pol_version, "sha256", c->pol_sha));
	return j;
}

/* Writes data to path atomically (2), mode 0600. */
static int
save_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4300], dir[4300], *slash;
	int fd, r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return fd;
	r = fsio_write_all(fd, data, len);
	if (r == 0)
		r = fsio_fsync(fd);
	if (fsio_close(fd) < 0 && r == 0)
		r = -EIO;
	if (r == 0)
		r = fsio_rename(tmp, path);
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		r = fsio_fsync_dir(dir[0] ? dir : "/");
	}
	return r;
}

/* (3): the last state into HOME/control.json. */
static void
ctl_save(struct agent_sync *s)
{
	char path[4200], *txt;
	json_t *j = ctl_json(&s->cur, s->purged_ns);
	int r;

	snprintf(path, sizeof(path), "%s/%s", s->home, CTL_FILE);
	if ((txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		ut_fatal("out of memory");
	if ((r = save_atomic(path, txt, strlen(txt))) < 0)
		log_warn("control: cannot save %s: %s", path, ut_strerror(r));
	free(txt);
	json_decref(j);
}

/* The saved state; *saved_ns when it was saved.  0 or UT_ENOTFOUND. */
static int
ctl_load(struct agent_sync *s, int64_t *saved_ns)
{
	char path[4200];
	unsigned char *d = NULL;
	size_t n;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", s->home, CTL_FILE);
	if (fsio_read_file(path, 65536, &d, &n) < 0)
		return UT_ENOTFOUND;
	j = json_loadb((const char *)d, n, 0, NULL);
	free(d);
	if (!json_is_object(j)) {
		json_decref(j);
		return UT_ENOTFOUND;
	}
	ctl_parse(j, &s->cur);
	s->purged_ns = jint(j, "purged_ns");
	*saved_ns = jint(j, "saved_ns");
	json_decref(j);
	return 0;
}

/* GET a JSON object; 0, -status for an HTTP error, or a transport error. */
static int
get_json(struct agent_sync *s, const char *path, json_t **out)
{
	struct client_resp rr;
	int r;

	*out = NULL;
	r = client_request(&s->c, "GET", path, "ingest", NULL, NULL, 0, RESP_CAP,
	    &rr);
	if (r < 0)
		return r;
	if (rr.status < 200 || rr.status > 299) {
		char code[64], msg[160];

		client_resp_error(&rr, code, sizeof(code), msg, sizeof(msg));
		log_warn("control: %s: HTTP %ld %s %s", path, rr.status, code, msg);
		r = rr.status == 401 || rr.status == 403 ? UT_EDENIED : -EIO;
		client_resp_free(&rr);
		return r;
	}
	*out = json_loadb((const char *)rr.body, rr.body ? rr.len : 0, 0, NULL);
	client_resp_free(&rr);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return UT_EPARSE;
	}
	return 0;
}

static int
fetch_state(struct agent_sync *s, bool poll)
{
	char path[96];
	json_t *j = NULL;
	int r;

	if (poll && s->cur.have)
		snprintf(path, sizeof(path), "/v1/device/control?since=%" PRId64
		    "&wait=%d", s->cur.version, POLL_WAIT_S);
	else
		snprintf(path, sizeof(path), "/v1/device/control");
	if ((r = get_json(s, path, &j)) < 0)
		return r;
	ctl_parse(j, &s->cur);
	json_decref(j);
	return 0;
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, p, n);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/*
 * (2): the announced policy into the policy file unless it is there
 * already.  1 when the file changed, 0 when not, < 0 on failure.
 */
static int
ensure_policy(struct agent_sync *s)
{
	unsigned char *d = NULL;
	size_t n = 0;
	char have[65] = "", got[65], path[64], err[256];
	const char *yaml;
	struct policy *p = NULL;
	json_t *j = NULL;
	int r;

	if (!s->cur.has_policy || s->policy_path[0] == '\0')
		return 0;
	if (fsio_read_file(s->policy_path, POLICY_CAP, &d, &n) == 0) {
		sha256_hex(d, n, have);
		free(d);
	}
	if (strcmp(have, s->cur.pol_sha) == 0)
		return 0;
	snprintf(path, sizeof(path), "/v1/device/policy?version=%" PRIu32,
	    s->cur.pol_version);
	if ((r = get_json(s, path, &j)) < 0)
		return r;
	yaml = json_string_value(json_object_get(j, "yaml"));
	r = UT_EPARSE;
	if (yaml == NULL) {
		log_warn("control: the server's policy answer has no yaml");
		goto out;
	}
	sha256_hex(yaml, strlen(yaml), got);
	if (strcmp(got, s->cur.pol_sha) != 0) {
		log_warn("control: policy version %" PRIu32 " does not match the "
		    "announced sha256; not saved", s->cur.pol_version);
		r = UT_ECORRUPT;
		goto out;
	}
	if (policy_parse(yaml, strlen(yaml), &p, err, sizeof(err)) < 0) {
		log_warn("control: policy version %" PRIu32 " is refused by this "
		    "device's parser: %s", s->cur.pol_version, err);
		goto out;
	}
	if ((r = save_atomic(s->policy_path, yaml, strlen(yaml))) < 0) {
		log_warn("control: cannot save the policy in %s: %s",
		    s->policy_path, ut_strerror(r));
		goto out;
	}
	log_info("control: policy version %" PRIu32 " from the server saved in "
	    "%s; it needs your consent ('usetrace consent')", s->cur.pol_version,
	    s->policy_path);
	r = 1;
out:
	policy_destroy(p);
	json_decref(j);
	return r;
}

/* After an erasure of everything: the closed segments, deleted unsent. */
static void
purge_closed(struct agent_sync *s)
{
	char path[4400];
	struct dirent *de;
	unsigned n = 0;
	size_t len;
	DIR *dp;

	if (s->cur.erased_ns <= s->purged_ns || s->spool_dir[0] == '\0')
		return;
	if ((dp = opendir(s->spool_dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			len = strlen(de->d_name);
			if (strncmp(de->d_name, "seg-", 4) != 0 || len < 8 ||
			    strcmp(de->d_name + len - 4, ".uts") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", s->spool_dir,
			    de->d_name);
			if (unlink(path) == 0)
				n++;
		}
		closedir(dp);
		(void)fsio_fsync_dir(s->spool_dir);
	}
	s->purged_ns = s->cur.erased_ns;
	log_info("control: you erased everything at the server: %u closed "
	    "segment%s deleted here unsent", n, n == 1 ? "" : "s");
}

/*
 * The withdrawal and the policy file (the agent is told afterwards, or
 * reads them when it starts).  1 when consent or policy changed.
 */
static int
apply_files(struct agent_sync *s)
{
	int r, changed = 0;

	r = consent_server_withdrawn(s->home, s->cur.withdrawn_ns);
	if (r < 0)
		log_warn("control: your consent was withdrawn at the server but "
		    "cannot be withdrawn here: %s", ut_strerror(r));
	if (r > 0) {
		log_info("control: consent withdrawn at the server: nothing is "
		    "recorded until you consent again ('usetrace consent')");
		changed = 1;
	}
	r = ensure_policy(s);
	if (r < 0)
		return r;
	return changed || r > 0;
}

/* Whether a reply line (control.h) says "ok":true. */
static bool
reply_ok(const char *reply)
{
	json_t *j = NULL;
	bool ok = control_decode(reply, &j) == 0 && control_reply_is_ok(j);

	json_decref(j);
	return ok;
}

/* Whether a status reply line says "state":"recording". */
static bool
reply_recording(const char *reply)
{
	json_t *j = NULL;
	bool rec = control_decode(reply, &j) == 0 &&
	    strcmp(control_reply_str(j, "state"), "recording") == 0;

	json_decref(j);
	return rec;
}

/* One request to the running agent; its reply in reply. */
static int
tell(struct agent_sync *s, const char *req, char *reply, size_t n)
{
	int r;

	if (s->sock[0] == '\0' &&
	    (r = control_socket_path(s->sock, sizeof(s->sock), 0)) < 0)
		return r;
	r = control_request(s->sock, req, reply, n, AGENT_REQ_MS);
	if (r == 0 && !reply_ok(reply))
		log_warn("control: the agent refused '%s': %s", req, reply);
	return r;
}

/* Applies the current state to the running agent (1); 0 or < 0 (retry). */
static int
apply_live(struct agent_sync *s, bool *recording)
{
	char req[384], reply[CONTROL_LINE_MAX];
	int r;

	if (s->cur.paused && s->cur.until_ns > ut_now_wall_ns())
		snprintf(req, sizeof(req), "org pause %" PRId64 "%s",
		    s->cur.until_ns, s->cur.by_you ? " you" : "");
	else
		snprintf(req, sizeof(req), "org resume");
	if ((r = tell(s, req, reply, sizeof(reply))) < 0)
		return r;
	if (s->cur.revoked && (r = tell(s, "org revoked", reply,
	    sizeof(reply))) < 0)
		return r;
	if ((r = apply_files(s)) < 0)
		return r;
	if (r > 0 && (r = tell(s, "consent", reply, sizeof(reply))) < 0)
		return r;
	/* After the agent stopped: its last segment is closed by now. */
	purge_closed(s);
	if (s->note_dirty) {
		snprintf(req, sizeof(req), "org note %s", s->note);
		if ((r = tell(s, req, reply, sizeof(reply))) < 0)
			return r;
		s->note_dirty = false;
	}
	if ((r = tell(s, "status", reply, sizeof(reply))) < 0)
		return r;
	*recording = reply_recording(reply);
	return 0;
}

static int
post_ack(struct agent_sync *s, bool recording)
{
	struct client_resp rr;
	json_t *b;
	char *txt;
	int r;

	b = json_pack("{s:I, s:b, s:o, s:b}", "state_version",
	    (json_int_t)s->cur.version, "paused", s->cur.paused &&
	    s->cur.until_ns > ut_now_wall_ns(), "policy_version",
	    s->cur.has_policy ? json_integer(s->cur.pol_version) : json_null(),
	    "recording", recording);
	if (b == NULL || (txt = json_dumps(b, JSON_COMPACT)) == NULL)
		ut_fatal("out of memory");
	json_decref(b);
	r = client_request(&s->c, "POST", "/v1/device/ack", "ingest",
	    "application/json", txt, strlen(txt), RESP_CAP, &rr);
	free(txt);
	if (r == 0 && (rr.status < 200 || rr.status > 299)) {
		log_warn("control: the server refused the acknowledgement "
		    "(HTTP %ld)", rr.status);
		r = -EIO;
	}
	client_resp_free(&rr);
	return r;
}

/* Sleeps ms or until stopped; true when stopped. */
static bool
nap(struct agent_sync *s, int ms)
{
	struct pollfd p = { .fd = s->pipe[0], .events = POLLIN };

	if (!atomic_load(&s->stop))
		(void)poll(&p, 1, ms);
	return atomic_load(&s->stop) != 0;
}

static void
set_note(struct agent_sync *s, const char *note)
{
	if (strcmp(s->note, note) == 0)
		return;
	snprintf(s->note, sizeof(s->note), "%s", note);
	s->note_dirty = true;
}

static void *
run(void *arg)
{
	struct agent_sync *s = arg;
	int backoff = BACKOFF_MIN_MS, r;
	uint64_t t0;
	bool recording = false;
	char when[256];

	while (!atomic_load(&s->stop)) {
		if (s->cur.have && (s->cur.version != s->acked || s->note_dirty)) {
			if (apply_live(s, &recording) < 0) {
				if (nap(s, 500))
					break;
				continue;
			}
			ctl_save(s);
			if (s->cur.version != s->acked &&
			    post_ack(s, recording) == 0)
				s->acked = s->cur.version;
		}
		t0 = ut_now_mono_ns();
		r = fetch_state(s, true);
		if (atomic_load(&s->stop))
			break;
		if (r == UT_EDENIED && !s->cur.revoked) {
			/*
			 * The server refuses this device's token (401/403):
			 * revoked (or expired) while no poll was parked to be
			 * told so.  Nothing it records can reach the server
			 * any more: stop as for a revocation.
			 */
			s->cur.revoked = true;
			s->cur.have = true;
		}
		if (r < 0) {
			if (!s->down)
				log_warn("control: no answer from the server (%s); "
				    "the last known state applies; retrying",
				    ut_strerror(r));
			s->down = true;
			snprintf(when, sizeof(when), "the server does not answer "
			    "(%s): the last known control state applies",
			    r == UT_EDENIED ? "refused this device's token" :
			    ut_strerror(r));
			set_note(s, when);
			if (nap(s, backoff / 2 + (int)randombytes_uniform(
			    (uint32_t)backoff)))
				break;
			backoff = UT_MIN(backoff * 2, BACKOFF_MAX_MS);
			continue;
		}
		s->down = false;
		backoff = BACKOFF_MIN_MS;
		set_note(s, "");
		/* (4): at most one poll a second, even if the server answers at once. */
		if (ut_now_mono_ns() - t0 < 1000000000ull &&
		    nap(s, 1000 - (int)((ut_now_mono_ns() - t0) / 1000000ull)))
			break;
	}
	return NULL;
}

int
agent_sync_create(const struct agent_sync_opts *o, struct agent_opts *ao,
    struct agent_sync **out)
{
	struct agent_sync *s = calloc(1, sizeof(*s));
	int64_t saved = 0;
	char when[40];
	time_t t;
	struct tm tm;
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->c = *o->c;
	s->c.token = NULL;
	client_cfg_set_token(&s->c, o->c->token);
	s->c.cancel = &s->stop;
	s->acked = -1;
	snprintf(s->home, sizeof(s->home), "%s", o->home);
	snprintf(s->policy_path, sizeof(s->policy_path), "%s",
	    o->policy_path ? o->policy_path : "");
	snprintf(s->spool_dir, sizeof(s->spool_dir), "%s",
	    o->spool_dir ? o->spool_dir : "");
	if (pipe2(s->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		client_cfg_finish(&s->c);
		free(s);
		return r;
	}
	s->c.timeout_s = START_TIMEOUT_S;
	r = fetch_state(s, false);
	s->c.timeout_s = POLL_TIMEOUT_S;
	if (r == 0) {
		if (apply_files(s) < 0)
			log_warn("control: the server's policy could not be saved; "
			    "the agent keeps the policy it has");
		purge_closed(s);
		ctl_save(s);
	} else if (ctl_load(s, &saved) == 0) {
		t = (time_t)(saved / 1000000000LL);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		snprintf(s->note, sizeof(s->note), "the server did not answer at "
		    "start: the last known control state (of %s) applies", when);
		log_warn("control: %s", s->note);
	} else {
		snprintf(s->note, sizeof(s->note), "the server did not answer at "
		    "start and no control state is known yet");
		log_warn("control: %s", s->note);
	}
	if (s->cur.paused && s->cur.until_ns > ut_now_wall_ns()) {
		ao->org_pause_until_wall_ns = s->cur.until_ns;
		ao->org_pause_by_you = s->cur.by_you;
	}
	ao->revoked = s->cur.revoked;
	snprintf(s->start_note, sizeof(s->start_note), "%s", s->note);
	ao->control_note = s->start_note[0] ? s->start_note : NULL;
	*out = s;
	return 0;
}

int
agent_sync_start(struct agent_sync *s)
{
	int r = pthread_create(&s->th, NULL, run, s);

	if (r != 0)
		return -r;
	s->started = true;
	return 0;
}

void
agent_sync_destroy(struct agent_sync *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stop, 1);
	(void)!write(s->pipe[1], "x", 1);
	if (s->started)
		pthread_join(s->th, NULL);
	close(s->pipe[0]);
	close(s->pipe[1]);
	client_cfg_finish(&s->c);
	free(s);
}
