/*
 * ut_pollers.c - `ut-pollers`: many simulated agents long-polling one
 * server's control endpoint (issue 15 tests and bench/orgpause.sh).
 *
 *   ut-pollers --url URL --pin PIN --token PERSON_TOKEN --agents N
 *              [--wait S] [--timeout S] [--pause-timeout S]
 *
 * It enrolls N devices for the person whose token it is (an enrollment
 * code each, POST /v1/my/enroll-codes, then POST /v1/enroll with a fresh
 * Ed25519 key signing code, pin and key, as `usetrace enroll` does), then
 * runs every agent in one libcurl multi loop: GET /v1/device/control (no
 * since), then forever GET ...?since=V&wait=S; each new state_version is
 * acknowledged (POST /v1/device/ack, recording = !paused) before the next
 * poll.  It prints "ready N" once every agent has acked its first state
 * and has its long poll out; then, once every agent has acked a paused
 * state, "acked N/N", "ack_ms p50 P p99 Q max M min m" (from the pause's
 * since_ns, server time, to the ack's answer, on this machine's clock)
 * and "seen_ms ..." (the same, to the paused state's answer)
 * and exits 0.  At --timeout (default 120 s) it prints how many acked and
 * exits 1; with --pause-timeout, also when the pause has not been acked
 * by every agent S seconds after "ready" (a test with --wait above S thus
 * fails if a pause does not wake the parked polls).  Errors (a non-2xx
 * answer) exit 1 at once; a transfer that failed without any answer (the
 * connection dropped: "Server returned nothing", "Failed sending data")
 * is sent again, as an agent would, up to one per 20 agents in all, and
 * counted ("retries N" on stdout at the end); beyond that, exit 1.
 * Raises its own RLIMIT_NOFILE to fit N connections.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#define BODY_MAX (1u << 20)

struct agent {
	CURL *h;
	struct curl_slist *hdrs;
	char token[128];
	char *body;                 /* response bytes */
	size_t len;
	char post[1024];
	uint64_t version;           /* last state seen; 0: none */
	bool paused;
	int64_t policy;
	int64_t pause_since;
	bool acking;
	bool ready;                 /* acked a first state, polling */
	bool done;                  /* acked a paused state */
	double ack_ms;
	double seen_ms;             /* the paused state's answer arrived */
};

static const char *url, *pin, *ptoken;
static unsigned wait_s = 50, timeout_s = 120, pause_timeout_s;

static void
die(const char *what)
{
	fprintf(stderr, "ut-pollers: %s\n", what);
	exit(1);
}

static int64_t
now_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	struct agent *a = arg;
	size_t k = sz * n;

	if (a->len + k > BODY_MAX)
		return 0;
	a->body = realloc(a->body, a->len + k + 1);
	if (a->body == NULL)
		die("out of memory");
	memcpy(a->body + a->len, p, k);
	a->len += k;
	a->body[a->len] = '\0';
	return k;
}

/* Sets up a->h for METHOD path (body: POST JSON or NULL), token, purpose. */
static void
prepare(struct agent *a, const char *path, const char *body, const char *tok,
    const char *purpose)
{
	char full[1024], auth[200], pur[64];

	if (a->h == NULL && (a->h = curl_easy_init()) == NULL)
		die("curl_easy_init");
	curl_easy_reset(a->h);
	curl_slist_free_all(a->hdrs);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	snprintf(pur, sizeof(pur), "Usetrace-Purpose: %s", purpose);
	a->hdrs = curl_slist_append(NULL, auth);
	a->hdrs = curl_slist_append(a->hdrs, pur);
	a->hdrs = curl_slist_append(a->hdrs, "Content-Type: application/json");
	snprintf(full, sizeof(full), "%s%s", url, path);
	curl_easy_setopt(a->h, CURLOPT_URL, full);
	curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, a->hdrs);
	curl_easy_setopt(a->h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(a->h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(a->h, CURLOPT_PINNEDPUBLICKEY, pin);
	curl_easy_setopt(a->h, CURLOPT_CAINFO, (char *)NULL);
	curl_easy_setopt(a->h, CURLOPT_CAPATH, (char *)NULL);
	curl_easy_setopt(a->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(a->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->h, CURLOPT_TIMEOUT, (long)wait_s + 30L);
	/*
	 * The agents share the multi's connection cache: never reuse one idle
	 * near the server's idle timeout (30 s), which it may close just as
	 * the request goes out ("Failed sending data to the peer").
	 */
	curl_easy_setopt(a->h, CURLOPT_MAXAGE_CONN, 15L);
	curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(a->h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
	if (body != NULL) {
		if (strlen(body) >= sizeof(a->post))
			die("a request body is too long");
		snprintf(a->post, sizeof(a->post), "%s", body);
		curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, a->post);
	}
	free(a->body);
	a->body = NULL;
	a->len = 0;
}

/* A blocking request on a->h; the parsed JSON answer (2xx) or exit. */
static json_t *
call(struct agent *a, const char *path, const char *body, const char *tok,
    const char *purpose)
{
	json_error_t je;
	json_t *j;
	long st = 0;

	prepare(a, path, body, tok, purpose);
	if (curl_easy_perform(a->h) != CURLE_OK)
		die("request failed");
	curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &st);
	if (st < 200 || st > 299) {
		fprintf(stderr, "ut-pollers: %s: %ld %s\n", path, st,
		    a->body ? a->body : "");
		exit(1);
	}
	j = json_loads(a->body ? a->body : "", 0, &je);
	if (j == NULL)
		die("an answer is not JSON");
	return j;
}

/* Enrolls one device; its token into a->token. */
static void
enroll(struct agent *a, struct agent *person)
{
	uint8_t pk[32], sk[64], sig[64], *m;
	char pkb[64], sigb[128], body[512];
	const char *code, *tok;
	json_t *j, *k;
	size_t cl, pl, n;

	j = call(person, "/v1/my/enroll-codes", "{}", ptoken, "self-access");
	code = json_string_value(json_object_get(j, "code"));
	if (code == NULL)
		die("no enrollment code");
	crypto_sign_keypair(pk, sk);
	cl = strlen(code);
	pl = strlen(pin);
	n = 10 + cl + 1 + pl + 1 + 32;
	m = malloc(n);
	memcpy(m, "UT-ENROLL1", 10);
	memcpy(m + 10, code, cl);
	m[10 + cl] = 0;
	memcpy(m + 11 + cl, pin, pl);
	m[11 + cl + pl] = 0;
	memcpy(m + n - 32, pk, 32);
	crypto_sign_detached(sig, NULL, m, n, sk);
	free(m);
	sodium_bin2base64(pkb, sizeof(pkb), pk, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sigb, sizeof(sigb), sig, 64, sodium_base64_VARIANT_ORIGINAL);
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"pin\":\"%s\","
	    "\"device_pk\":\"%s\",\"sig\":\"%s\"}", code, pin, pkb, sigb);
	json_decref(j);
	k = call(person, "/v1/enroll", body, "-", "-");
	tok = json_string_value(json_object_get(k, "device_token"));
	if (tok == NULL || strlen(tok) >= sizeof(a->token))
		die("no device token");
	snprintf(a->token, sizeof(a->token), "%s", tok);
	json_decref(k);
}

static void
start_poll(CURLM *mh, struct agent *a)
{
	char path[128];

	if (a->version == 0)
		snprintf(path, sizeof(path), "/v1/device/control");
	else
		snprintf(path, sizeof(path), "/v1/device/control?since=%llu&wait=%u",
		    (unsigned long long)a->version, wait_s);
	prepare(a, path, NULL, a->token, "ingest");
	a->acking = false;
	curl_multi_add_handle(mh, a->h);
}

static void
start_ack(CURLM *mh, struct agent *a)
{
	char body[256], pol[32];

	if (a->policy > 0)
		snprintf(pol, sizeof(pol), "%lld", (long long)a->policy);
	else
		snprintf(pol, sizeof(pol), "null");
	snprintf(body, sizeof(body), "{\"state_version\":%llu,\"paused\":%s,"
	    "\"policy_version\":%s,\"recording\":%s}",
	    (unsigned long long)a->version, a->paused ? "true" : "false", pol,
	    a->paused ? "false" : "true");
	prepare(a, "/v1/device/ack", body, a->token, "ingest");
	a->acking = true;
	curl_multi_add_handle(mh, a->h);
}

/* A poll's answer: a new state is acked, the same one polled again. */
static void
on_poll(CURLM *mh, struct agent *a)
{
	json_error_t je;
	json_t *j = json_loads(a->body ? a->body : "", 0, &je), *op, *pol;
	uint64_t v;

	if (j == NULL)
		die("a control answer is not JSON");
	v = (uint64_t)json_integer_value(json_object_get(j, "state_version"));
	if (v == 0)
		die("a control answer has no state_version");
	if (v == a->version) {
		json_decref(j);
		start_poll(mh, a);
		return;
	}
	op = json_object_get(j, "org_pause");
	pol = json_object_get(j, "policy");
	a->version = v;
	a->paused = json_is_true(json_object_get(op, "paused"));
	a->pause_since = json_integer_value(json_object_get(op, "since_ns"));
	if (a->paused)
		a->seen_ms = (double)(now_wall_ns() - a->pause_since) / 1e6;
	a->policy = json_is_object(pol) ?
	    json_integer_value(json_object_get(pol, "version")) : 0;
	json_decref(j);
	start_ack(mh, a);
}

static int
cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static void
report(struct agent *ag, unsigned n)
{
	double *v = malloc(n * sizeof(*v)), *w = malloc(n * sizeof(*w));
	unsigned i, k = 0;

	for (i = 0; i < n; i++)
		if (ag[i].done) {
			w[k] = ag[i].seen_ms;
			v[k++] = ag[i].ack_ms;
		}
	printf("acked %u/%u\n", k, n);
	if (k > 0) {
		qsort(v, k, sizeof(*v), cmp_d);
		qsort(w, k, sizeof(*w), cmp_d);
		/* min last: bench/orgpause.sh reads the first three by place. */
		printf("ack_ms p50 %.1f p99 %.1f max %.1f min %.1f\n", v[k / 2],
		    v[(size_t)((k - 1) * 0.99)], v[k - 1], v[0]);
		/* The woken poll's answer (the paused state) reached the agent. */
		printf("seen_ms p50 %.1f p99 %.1f max %.1f min %.1f p10 %.1f "
		    "p25 %.1f\n", w[k / 2], w[(size_t)((k - 1) * 0.99)], w[k - 1],
		    w[0], w[(size_t)((k - 1) * 0.10)], w[(size_t)((k - 1) * 0.25)]);
	}
	free(w);
	fflush(stdout);
	free(v);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, NULL, 'u' }, { "pin", 1, NULL, 'p' },
		{ "token", 1, NULL, 't' }, { "agents", 1, NULL, 'n' },
		{ "wait", 1, NULL, 'w' }, { "timeout", 1, NULL, 'T' },
		{ "pause-timeout", 1, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent person, *ag;
	struct rlimit rl;
	CURLM *mh;
	CURLMsg *msg;
	unsigned n = 0, i, nready = 0, ndone = 0, retries = 0;
	int c, running, left;
	int64_t deadline;
	bool said_ready = false;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'p': pin = optarg; break;
		case 't': ptoken = optarg; break;
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': wait_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'T': timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': pause_timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (url == NULL || pin == NULL || ptoken == NULL || n == 0 || n > 100000 ||
	    wait_s == 0 || wait_s > 60) {
		fprintf(stderr, "usage: ut-pollers --url URL --pin PIN --token TOKEN "
		    "--agents N [--wait 1-60] [--timeout S] [--pause-timeout S]\n");
		return 2;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		die("init");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 256) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)n + 256 ?
		    (rlim_t)n + 256 : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&person, 0, sizeof(person));
	ag = calloc(n, sizeof(*ag));
	if (ag == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		enroll(&ag[i], &person);
	curl_easy_cleanup(person.h);
	curl_slist_free_all(person.hdrs);
	free(person.body);

	mh = curl_multi_init();
	curl_multi_setopt(mh, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n + 16);
	for (i = 0; i < n; i++)
		start_poll(mh, &ag[i]);
	deadline = now_wall_ns() + (int64_t)timeout_s * 1000000000LL;
	while (ndone < n) {
		if (now_wall_ns() > deadline) {
			fprintf(stderr, "ut-pollers: timeout (%u ready, %u acked a pause)\n",
			    nready, ndone);
			report(ag, n);
			return 1;
		}
		curl_multi_perform(mh, &running);
		while ((msg = curl_multi_info_read(mh, &left)) != NULL) {
			struct agent *a;
			long st = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&a);
			curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &st);
			curl_multi_remove_handle(mh, a->h);
			if (msg->data.result != CURLE_OK && st == 0 &&
			    retries < n / 20 + 1) {
				/* Dropped without an answer: the same request again. */
				fprintf(stderr, "ut-pollers: agent %u: %s, retrying\n",
				    (unsigned)(a - ag), curl_easy_strerror(msg->data.result));
				retries++;
				if (a->acking)
					start_ack(mh, a);
				else
					start_poll(mh, a);
				continue;
			}
			if (msg->data.result != CURLE_OK || st < 200 || st > 299) {
				fprintf(stderr, "ut-pollers: agent %u: %s %ld %s\n",
				    (unsigned)(a - ag), curl_easy_strerror(msg->data.result),
				    st, a->body ? a->body : "");
				return 1;
			}
			if (!a->acking) {
				on_poll(mh, a);
				continue;
			}
			/* An ack answered. */
			if (!a->ready) {
				a->ready = true;
				nready++;
			} else if (a->paused && !a->done) {
				a->done = true;
				a->ack_ms = (double)(now_wall_ns() - a->pause_since) / 1e6;
				ndone++;
			}
			start_poll(mh, a);
		}
		if (!said_ready && nready == n) {
			/* Every agent's next request is its long poll. */
			printf("ready %u\n", n);
			fflush(stdout);
			said_ready = true;
			if (pause_timeout_s > 0 && now_wall_ns() +
			    (int64_t)pause_timeout_s * 1000000000LL < deadline)
				deadline = now_wall_ns() +
				    (int64_t)pause_timeout_s * 1000000000LL;
		}
		curl_multi_poll(mh, NULL, 0, 200, NULL);
	}
	report(ag, n);
	printf("retries %u\n", retries);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		curl_multi_remove_handle(mh, ag[i].h);
		curl_easy_cleanup(ag[i].h);
		curl_slist_free_all(ag[i].hdrs);
		free(ag[i].body);
	}
	free(ag);
	curl_multi_cleanup(mh);
	curl_global_cleanup();
	return 0;
}
