/*
 * bench_server.c - server benchmarks of issue 11 (results: docs/BENCHMARKS.md,
 * "Server: reads, audit appends, shred"): a subject's reads and the audit
 * log's durable appends.  Not pass/fail.
 *
 *   bench_server reads [-n N] [-c C] [--conn client|fresh|keep] SEGMENT
 *       N requests per thread (default 500) by C threads (default 1) of
 *       GET /v1/my/segments/SEGMENT/actions as the subject; every response
 *       must be 200 with the body size of the first (else the run fails);
 *       prints p50/p90/p99/max of the per-request wall time.
 *   bench_server audit [-c C] [-s SECONDS] [--meta FILE] [--conn MODE]
 *       C threads (default 32) loop the audited GET /v1/my/segments for
 *       SECONDS (default 10); requests/s, and with --meta (the server's
 *       meta.db, opened read-only) the audit rows written meanwhile, which
 *       must number the requests made (segment_list rows of this subject).
 *   bench_server audit-direct [-c C] [-s SECONDS] [DIR]
 *       C threads (default 32) calling audit_append() in-process on a fresh
 *       store (removed afterwards) in DIR (default /tmp): the audit log
 *       alone, no HTTP.
 * The key store's shred is measured by bench_shred.c.
 *
 * Server settings come from --server/--token/--pin or USETRACE_SERVER,
 * USETRACE_TOKEN, USETRACE_PIN (client.h).  --conn says how requests connect:
 *   client  (default) client_request(): a new TCP and TLS 1.3 connection
 *           per request, exactly as the CLI makes them;
 *   fresh   also a new connection per request, through a libcurl handle set
 *           up like client.c's but loading no CA certificates (client.c's
 *           handles load the whole system CA folder each time, though the
 *           pin is the only check): what the CLI would cost without that;
 *   keep    one libcurl handle per thread whose connection is reused: the
 *           server's cost per request without a handshake (an agent, a web
 *           page).
 * In reads, the first request of each "keep" thread, which connects, is not
 * timed; in audit every request counts (32 connections among thousands).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "usetrace/audit.h"
#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/meta.h"
#include "usetrace/util.h"

#define RESP_CAP (64u << 20)
#define MAX_THREADS 256

static double
ms_of(uint64_t ns)
{
	return (double)ns / 1e6;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of sorted v (nearest rank). */
static uint64_t
quantile(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n + 0.999999);

	if (i == 0)
		i = 1;
	return v[(i > n ? n : i) - 1];
}

/* This process's CPU time (user + system), ns. */
static uint64_t
cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/*
 * The last lines of every run: how many requests reached the server in
 * all (timed or not, so that the server's CPU can be divided by it), and
 * this client's CPU per timed request.
 */
static void
print_made(uint64_t made, uint64_t timed, uint64_t cpu)
{
	printf("made: %llu requests\n", (unsigned long long)made);
	printf("client CPU: %.2f ms per request\n",
	    timed > 0 ? ms_of(cpu) / (double)timed : 0.0);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_server reads [-n N] [-c C] [--conn client|fresh|keep] SEGMENT\n"
	    "       bench_server audit [-c C] [-s SECONDS] [--meta FILE] [--conn MODE]\n"
	    "       bench_server audit-direct [-c C] [-s SECONDS] [DIR]\n"
	    "  server options: --server URL --token TOKEN --pin PIN (or USETRACE_*)\n");
	exit(2);
}

/* ---- one request: the client library's, or libcurl's fresh or kept ---- */

/* How a thread connects (see the top of the file). */
enum conn_mode { CONN_CLIENT, CONN_FRESH, CONN_KEEP };

static const char *const conn_desc[] = {
	[CONN_CLIENT] = "client_request(): a new TLS 1.3 connection per request, as the CLI",
	[CONN_FRESH] = "a new TLS 1.3 connection per request, libcurl without CA loading",
	[CONN_KEEP] = "one kept TLS 1.3 connection per thread",
};


struct conn {
	const struct client_cfg *cfg;
	enum conn_mode mode;
	CURL *h;                      /* CONN_KEEP: the kept handle */
	struct curl_slist *hdrs;
	char *auth;                   /* "Authorization: Bearer ..." */
	uint8_t *body;
	size_t len, cap;
	bool toobig;
	const char *err;              /* libcurl's word for the last failure */
};

static size_t
on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct conn *k = arg;
	size_t n = sz * nm;

	if (k->len + n > RESP_CAP) {
		k->toobig = true;
		return 0;
	}
	if (k->len + n > k->cap) {
		k->cap = (k->len + n) * 2;
		k->body = xreallocarray(k->body, k->cap, 1);
	}
	memcpy(k->body + k->len, p, n);
	k->len += n;
	return n;
}

static enum conn_mode
conn_mode_parse(const char *s)
{
	if (strcmp(s, "client") == 0)
		return CONN_CLIENT;
	if (strcmp(s, "fresh") == 0)
		return CONN_FRESH;
	if (strcmp(s, "keep") == 0)
		return CONN_KEEP;
	usage();
	return CONN_CLIENT;
}

/* A libcurl handle as client.c sets one up (pin, TLS 1.3, no CA check),
 * except that no CA file or folder is loaded: with a pin it checks nothing. */
static CURL *
handle_new(struct conn *k)
{
	CURL *h;

	if ((h = curl_easy_init()) == NULL)
		ut_fatal("curl_easy_init");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, k->cfg->pin);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, k->hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	return h;
}

static void
conn_init(struct conn *k, const struct client_cfg *cfg, enum conn_mode mode,
    const char *purpose)
{
	char line[64];
	size_t n;

	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	k->mode = mode;
	if (mode == CONN_CLIENT)
		return;
	n = strlen(cfg->token) + 32;
	k->auth = xmalloc(n);
	snprintf(k->auth, n, "Authorization: Bearer %s", cfg->token);
	snprintf(line, sizeof(line), "Usetrace-Purpose: %s", purpose);
	k->hdrs = curl_slist_append(k->hdrs, k->auth);
	k->hdrs = curl_slist_append(k->hdrs, line);
	if (k->hdrs == NULL)
		ut_fatal("curl_slist_append");
	if (mode == CONN_KEEP)
		k->h = handle_new(k);
}

static void
conn_finish(struct conn *k)
{
	if (k->h != NULL)
		curl_easy_cleanup(k->h);
	curl_slist_free_all(k->hdrs);
	if (k->auth != NULL) {
		sodium_memzero(k->auth, strlen(k->auth));
		free(k->auth);
	}
	free(k->body);
	memset(k, 0, sizeof(*k));
}

/*
 * GET path as purpose; *status and *len of the response.  The body stays in
 * k->body.  0, or a negative code when no
 * response came.
 */
static int
conn_get(struct conn *k, const char *path, const char *purpose, long *status,
    size_t *len)
{
	struct client_resp r;
	char url[CLIENT_URL_MAX + 256];
	CURLcode cc;
	int ret;

	if (k->mode == CONN_CLIENT) {
		if ((ret = client_request(k->cfg, "GET", path, purpose, NULL, NULL,
		    0, RESP_CAP, &r)) < 0)
			return ret;
		*status = r.status;
		*len = r.len;
		k->len = 0;
		if (r.len > 0)
			(void)on_body((char *)r.body, 1, r.len, k);
		client_resp_free(&r);
		return 0;
	}
	if (k->mode == CONN_FRESH)
		k->h = handle_new(k);
	snprintf(url, sizeof(url), "%s%s", k->cfg->url, path);
	curl_easy_setopt(k->h, CURLOPT_URL, url);
	k->len = 0;
	k->toobig = false;
	cc = curl_easy_perform(k->h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, status);
	if (k->mode == CONN_FRESH) {
		curl_easy_cleanup(k->h);
		k->h = NULL;
	}
	if (cc != CURLE_OK) {
		k->err = curl_easy_strerror(cc);
		return -EIO;
	}
	*len = k->len;
	return 0;
}

/* ---- reads ---- */

struct rd_thread {
	pthread_t t;
	const struct client_cfg *cfg;
	enum conn_mode mode;
	const char *path;
	size_t n;
	uint64_t *lat;
	size_t want_len;         /* 0: any; set by the warm-up request */
	int err;
};

static void *
rd_run(void *arg)
{
	struct rd_thread *t = arg;
	struct conn k;
	uint64_t t0;
	size_t i, len = 0;
	long st = 0;
	int r;

	conn_init(&k, t->cfg, t->mode, "self-access");
	if (t->mode == CONN_KEEP && conn_get(&k, t->path, "self-access", &st, &len) < 0) {
		t->err = -EIO;         /* the connection is opened outside the timing */
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		t0 = ut_now_mono_ns();
		r = conn_get(&k, t->path, "self-access", &st, &len);
		t->lat[i] = ut_now_mono_ns() - t0;
		if (r < 0 || st != 200 || len != t->want_len) {
			fprintf(stderr, "bench_server: request %zu: %s, status %ld, "
			    "%zu bytes (want 200, %zu)\n", i, r >= 0 ? "ok" :
			    k.err != NULL ? k.err : ut_strerror(r), st, len,
			    t->want_len);
			t->err = r < 0 ? r : UT_ECORRUPT;
			break;
		}
	}
out:
	conn_finish(&k);
	return NULL;
}

static void
print_lat(const char *what, uint64_t *lat, size_t n, uint64_t wall_ns)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("%s: %zu requests in %.2f s (%.0f/s): p50 %.2f ms, p90 %.2f ms, "
	    "p99 %.2f ms, max %.2f ms\n", what, n, (double)wall_ns / 1e9,
	    (double)n / ((double)wall_ns / 1e9), ms_of(quantile(lat, n, 0.50)),
	    ms_of(quantile(lat, n, 0.90)), ms_of(quantile(lat, n, 0.99)),
	    ms_of(lat[n - 1]));
}

static size_t
count_lines(const uint8_t *p, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

static int
cmd_reads(const struct client_cfg *cfg, int argc, char **argv)
{
	struct rd_thread th[MAX_THREADS];
	char path[256];
	const char *seg = NULL;
	size_t n = 500, c = 1, i, len = 0;
	enum conn_mode mode = CONN_CLIENT;
	struct conn k;
	uint64_t *all, t0, c0, wall;
	long st = 0;
	int r, ret = 1;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < (size_t)argc)
			n = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < (size_t)argc)
			c = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--conn") == 0 && i + 1 < (size_t)argc)
			mode = conn_mode_parse(argv[++i]);
		else if (argv[i][0] != '-' && seg == NULL)
			seg = argv[i];
		else
			usage();
	}
	if (seg == NULL || n == 0 || c == 0 || c > MAX_THREADS)
		usage();
	snprintf(path, sizeof(path), "/v1/my/segments/%s/actions", seg);

	/* Warm-up: the expected response, and what it holds. */
	conn_init(&k, cfg, CONN_CLIENT, "self-access");
	r = conn_get(&k, path, "self-access", &st, &len);
	if (r < 0 || st != 200 || len == 0) {
		fprintf(stderr, "bench_server: first read: %s, status %ld\n",
		    r < 0 ? ut_strerror(r) : "ok", st);
		conn_finish(&k);
		return 1;
	}
	printf("segment %s: %zu actions, %zu bytes of NDJSON per response\n",
	    seg, count_lines(k.body, k.len), len);
	conn_finish(&k);

	all = xcalloc(n * c, sizeof(*all));
	memset(th, 0, sizeof(th));
	c0 = cpu_ns();
	t0 = ut_now_mono_ns();
	for (i = 0; i < c; i++) {
		th[i] = (struct rd_thread){ .cfg = cfg, .mode = mode,
		    .path = path, .n = n, .lat = all + i * n, .want_len = len };
		if (pthread_create(&th[i].t, NULL, rd_run, &th[i]) != 0)
			ut_fatal("pthread_create");
	}
	for (i = 0; i < c; i++)
		pthread_join(th[i].t, NULL);
	wall = ut_now_mono_ns() - t0;
	for (i = 0; i < c; i++)
		if (th[i].err != 0)
			goto out;
	printf("connections: %s\n", conn_desc[mode]);
	{
		char what[64];

		snprintf(what, sizeof(what), "reads, %zu thread%s", c, c == 1 ? "" : "s");
		print_lat(what, all, n * c, wall);
	}
	print_made(1 + n * c + (mode == CONN_KEEP ? c : 0), n * c, cpu_ns() - c0);
	ret = 0;
out:
	free(all);
	return ret;
}

/* ---- audit over HTTP ---- */

struct au_thread {
	pthread_t t;
	const struct client_cfg *cfg;
	enum conn_mode mode;
	const atomic_bool *stop;
	uint64_t ok, bad;
	uint64_t *lat;            /* up to LAT_MAX samples */
	size_t nlat;
};
#define LAT_MAX 200000u

static void *
au_run(void *arg)
{
	struct au_thread *t = arg;
	struct conn k;
	uint64_t t0, d;
	size_t len;
	long st;

	conn_init(&k, t->cfg, t->mode, "self-access");
	while (!atomic_load(t->stop)) {
		t0 = ut_now_mono_ns();
		st = 0;
		if (conn_get(&k, "/v1/my/segments", "self-access", &st, &len) == 0 &&
		    st == 200) {
			t->ok++;
			d = ut_now_mono_ns() - t0;
			if (t->nlat < LAT_MAX)
				t->lat[t->nlat++] = d;
		} else if (t->bad++ == 0) {
			fprintf(stderr, "bench_server: a request failed: status %ld%s%s "
			    "(the thread's first failure)\n", st,
			    k.err != NULL ? ", " : "", k.err != NULL ? k.err : "");
		}
	}
	conn_finish(&k);
	return NULL;
}

struct row_count {
	const char *subject;
	uint64_t mine, other;
};

static int
count_row(const struct meta_audit_row *r, void *arg)
{
	struct row_count *rc = arg;

	if (strcmp(r->action, "segment_list") == 0 && strcmp(r->outcome, "ok") == 0 &&
	    (rc->subject == NULL || strcmp(r->subject, rc->subject) == 0))
		rc->mine++;
	else
		rc->other++;
	return 0;
}

static int
audit_last_seq(const char *meta_path, uint64_t *seq)
{
	struct meta *m = NULL;
	struct meta_audit_row row;
	char url[PATH_MAX + 8];
	int r;

	snprintf(url, sizeof(url), "sqlite:%s", meta_path);
	if ((r = meta_open_readonly(url, &m)) < 0)
		return r;
	r = meta_audit_last(m, &row);
	*seq = r == 0 ? row.seq : 0;
	meta_close(m);
	return r == UT_ENOTFOUND ? 0 : r;
}

static int
cmd_audit(const struct client_cfg *cfg, int argc, char **argv)
{
	struct au_thread *th;
	atomic_bool stop = false;
	const char *meta_path = NULL;
	size_t c = 32, i, nlat = 0;
	unsigned secs = 10;
	enum conn_mode mode = CONN_CLIENT;
	uint64_t ok = 0, bad = 0, s0 = 0, s1 = 0, t0, c0, c1, wall, *lat;
	int r, ret = 1;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < (size_t)argc)
			c = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < (size_t)argc)
			secs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--meta") == 0 && i + 1 < (size_t)argc)
			meta_path = argv[++i];
		else if (strcmp(argv[i], "--conn") == 0 && i + 1 < (size_t)argc)
			mode = conn_mode_parse(argv[++i]);
		else
			usage();
	}
	if (c == 0 || c > MAX_THREADS || secs == 0)
		usage();
	if (meta_path != NULL && (r = audit_last_seq(meta_path, &s0)) < 0) {
		fprintf(stderr, "bench_server: %s: %s\n", meta_path, ut_strerror(r));
		return 1;
	}
	th = xcalloc(c, sizeof(*th));
	c0 = cpu_ns();
	t0 = ut_now_mono_ns();
	for (i = 0; i < c; i++) {
		th[i].cfg = cfg;
		th[i].mode = mode;
		th[i].stop = &stop;
		th[i].lat = xcalloc(LAT_MAX, sizeof(uint64_t));
		if (pthread_create(&th[i].t, NULL, au_run, &th[i]) != 0)
			ut_fatal("pthread_create");
	}
	sleep(secs);
	atomic_store(&stop, true);
	for (i = 0; i < c; i++)
		pthread_join(th[i].t, NULL);
	wall = ut_now_mono_ns() - t0;
	c1 = cpu_ns() - c0;
	lat = xcalloc(c * LAT_MAX, sizeof(uint64_t));
	for (i = 0; i < c; i++) {
		ok += th[i].ok;
		bad += th[i].bad;
		memcpy(lat + nlat, th[i].lat, th[i].nlat * sizeof(uint64_t));
		nlat += th[i].nlat;
		free(th[i].lat);
	}
	printf("connections: %s\n", conn_desc[mode]);
	printf("audit: %zu threads x GET /v1/my/segments for %.2f s: %llu ok "
	    "(%.0f requests/s), %llu failed\n", c, (double)wall / 1e9,
	    (unsigned long long)ok, (double)ok / ((double)wall / 1e9),
	    (unsigned long long)bad);
	if (nlat > 0) {
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		printf("audit: request latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		    ms_of(quantile(lat, nlat, 0.5)), ms_of(quantile(lat, nlat, 0.99)),
		    ms_of(lat[nlat - 1]));
	}
	free(lat);
	free(th);
	if (meta_path != NULL) {
		struct row_count rc = { NULL, 0, 0 };
		struct meta *m = NULL;
		char url[PATH_MAX + 8];

		if ((r = audit_last_seq(meta_path, &s1)) < 0)
			goto meta_fail;
		snprintf(url, sizeof(url), "sqlite:%s", meta_path);
		if ((r = meta_open_readonly(url, &m)) < 0)
			goto meta_fail;
		r = s1 > s0 ? meta_audit_scan(m, s0 + 1, s1, count_row, &rc) : 0;
		meta_close(m);
		if (r < 0)
			goto meta_fail;
		printf("audit: seq %llu -> %llu: %llu entries (%.0f durable appends/s), "
		    "%llu segment_list ok, %llu other\n", (unsigned long long)s0,
		    (unsigned long long)s1, (unsigned long long)(s1 - s0),
		    (double)(s1 - s0) / ((double)wall / 1e9),
		    (unsigned long long)rc.mine, (unsigned long long)rc.other);
		if (rc.mine != ok) {
			fprintf(stderr, "bench_server: %llu ok requests but %llu "
			    "segment_list entries\n", (unsigned long long)ok,
			    (unsigned long long)rc.mine);
			return 1;
		}
		printf("audit: entries match the ok requests\n");
	}
	print_made(ok + bad, ok + bad, c1);
	ret = bad == 0 ? 0 : 1;
	return ret;
meta_fail:
	fprintf(stderr, "bench_server: %s: %s\n", meta_path, ut_strerror(r));
	return 1;
}

/* ---- files ---- */

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p) < 0 ? -errno : 0;
}

static void
rm_tree(const char *dir)
{
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_server: could not remove %s\n", dir);
}

/* ---- audit in-process ---- */

struct ad_ctx {
	struct audit *a;
	const atomic_bool *stop;
	uint64_t n;
	int err;
	pthread_t t;
};

static int
ad_sign(void *arg, const uint8_t *m, size_t n, uint8_t sig[64])
{
	return crypto_sign_detached(sig, NULL, m, n, arg) == 0 ? 0 : UT_ECRYPTO;
}

static void *
ad_run(void *arg)
{
	struct ad_ctx *t = arg;
	struct audit_event e = { "bench-person", "subject", "self-access",
	    "segment_list", "00112233445566778899aabbccddeeff", "", "ok",
	    "127.0.0.1", "" };
	int r;

	while (!atomic_load(t->stop)) {
		if ((r = audit_append(t->a, &e, NULL)) < 0) {
			t->err = r;
			break;
		}
		t->n++;
	}
	return NULL;
}

static int
cmd_audit_direct(int argc, char **argv)
{
	uint8_t pk[32], sk[64];
	char dir[PATH_MAX], p[PATH_MAX + 32], ck[PATH_MAX + 32];
	const char *base = "/tmp";
	struct ad_ctx *th;
	struct meta *m = NULL;
	struct audit *a = NULL;
	struct audit_opts o;
	atomic_bool stop = false;
	size_t c = 32, i;
	unsigned secs = 10;
	uint64_t n = 0, t0, wall;
	int r, ret = 1;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < (size_t)argc)
			c = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < (size_t)argc)
			secs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (argv[i][0] != '-')
			base = argv[i];
		else
			usage();
	}
	if (c == 0 || c > MAX_THREADS || secs == 0)
		usage();
	snprintf(dir, sizeof(dir), "%s/bench-audit.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	crypto_sign_keypair(pk, sk);
	snprintf(p, sizeof(p), "sqlite:%s/meta.db", dir);
	snprintf(ck, sizeof(ck), "%s/audit.ckpt", dir);
	if ((r = meta_open(p, true, &m)) < 0)
		goto fail;
	memset(&o, 0, sizeof(o));
	o.meta = m;
	o.sign = ad_sign;
	o.sign_arg = sk;
	o.audit_pk = pk;
	o.ckpt_path = ck;
	if ((r = audit_open(&o, &a)) < 0)
		goto fail;
	th = xcalloc(c, sizeof(*th));
	t0 = ut_now_mono_ns();
	for (i = 0; i < c; i++) {
		th[i].a = a;
		th[i].stop = &stop;
		if (pthread_create(&th[i].t, NULL, ad_run, &th[i]) != 0)
			ut_fatal("pthread_create");
	}
	sleep(secs);
	atomic_store(&stop, true);
	r = 0;
	for (i = 0; i < c; i++) {
		pthread_join(th[i].t, NULL);
		n += th[i].n;
		if (th[i].err < 0)
			r = th[i].err;
	}
	wall = ut_now_mono_ns() - t0;
	free(th);
	if (r < 0)
		goto fail;
	printf("audit-direct: %zu threads x audit_append() for %.2f s in %s: "
	    "%llu entries, %.0f durable appends/s\n", c, (double)wall / 1e9, base,
	    (unsigned long long)n, (double)n / ((double)wall / 1e9));
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "bench_server: audit-direct: %s\n", ut_strerror(r));
out:
	audit_close(a);
	meta_close(m);
	sodium_memzero(sk, sizeof(sk));
	rm_tree(dir);
	return ret;
}

int
main(int argc, char **argv)
{
	struct client_cfg cfg;
	const char *url = NULL, *token = NULL, *pin = NULL, *what = NULL;
	int i, r, rest;

	if (argc < 2)
		usage();
	if (sodium_init() < 0)
		ut_fatal("sodium_init");
	ut_log_set_progname("bench_server");
	ut_log_set_level(UT_LOG_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "audit-direct") == 0)
		return cmd_audit_direct(argc - 2, argv + 2);
	/* Server options first, then the subcommand's. */
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--server") == 0)
			url = argv[i + 1];
		else if (strcmp(argv[i], "--token") == 0)
			token = argv[i + 1];
		else if (strcmp(argv[i], "--pin") == 0)
			pin = argv[i + 1];
		else
			break;
	}
	rest = i;
	if ((r = client_cfg_resolve(&cfg, url, token, pin, true, &what)) < 0) {
		fprintf(stderr, "bench_server: %s: %s\n", what != NULL ? what : "settings",
		    ut_strerror(r));
		return 2;
	}
	cfg.timeout_s = 60;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ut_fatal("curl_global_init");
	if (strcmp(argv[1], "reads") == 0)
		r = cmd_reads(&cfg, argc - rest, argv + rest);
	else if (strcmp(argv[1], "audit") == 0)
		r = cmd_audit(&cfg, argc - rest, argv + rest);
	else
		usage();
	client_cfg_finish(&cfg);
	curl_global_cleanup();
	return r;
}
