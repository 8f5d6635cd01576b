/*
 * bench_access.c - what the access check and the audit append cost per
 * request (issue 18), without the network: the server's state is built as
 * `usetrace serve` builds it (server_test.h) and synthetic requests go
 * straight to srv_dispatch(), as the transport would hand them over.
 * Headers are answered by wrapping http_request_header (link option
 * -Wl,--wrap=http_request_header), as fuzz/fuzz_request.c does.
 *
 * Kinds, each timed N times (median and p99 in microseconds):
 *   public        GET /v1/health: routing only (no token, no audit)
 *   bad-token     a well-formed unknown token: the token lookup, then 401
 *                 (failures are aggregated per source and minute, no fsync)
 *   denied        the admin's token on a subject's route: token lookup,
 *                 the route table, and one durable audit entry
 *   allowed       the admin listing principals: the same, plus the handler
 * "denied" minus "bad-token" is the audit append; "bad-token" minus
 * "public" is the access check.
 *
 * usage: bench_access [N] [DIR]   (DIR: where to put the data directory)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "usetrace/http.h"
#include "usetrace/util.h"
#include "../src/server/server_test.h"

static int fake_conn;
static const char *h_auth, *h_purpose;

const char *__real_http_request_header(const struct http_request *rq,
    const char *name);
const char *__wrap_http_request_header(const struct http_request *rq,
    const char *name);

const char *
__wrap_http_request_header(const struct http_request *rq, const char *name)
{
	if (rq == NULL || rq->conn != &fake_conn)
		return __real_http_request_header(rq, name);
	if (strcasecmp(name, "Authorization") == 0)
		return h_auth;
	if (strcasecmp(name, "Usetrace-Purpose") == 0)
		return h_purpose;
	return NULL;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned
call(struct server *s, const char *method, const char *path, const char *auth,
    const char *purpose)
{
	struct http_request rq;
	struct http_response rs;
	unsigned st;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.query = "";
	rq.client_ip = "192.0.2.9";
	rq.conn = &fake_conn;
	h_auth = auth;
	h_purpose = purpose;
	memset(&rs, 0, sizeof(rs));
	rs.status = 200;
	buf_init(&rs.body, HTTP_RESPONSE_MAX);
	srv_dispatch(s, &rq, &rs);
	st = rs.status;
	buf_finish(&rs.body);
	return st;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name, *method, *path, *purpose;
		int token;              /* 0 none, 1 unknown, 2 admin */
		unsigned want;
	} kinds[] = {
		{ "public", "GET", "/v1/health", NULL, 0, 200 },
		{ "bad-token", "GET", "/v1/admin/principals", "administration", 1, 401 },
		{ "denied", "GET", "/v1/my/segments", "self-access", 2, 403 },
		{ "allowed", "GET", "/v1/admin/principals", "administration", 2, 200 },
	};
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	char dir[256], path[1200], tok[256], auth[300], unknown[300];
	struct server *s = NULL;
	double *t;
	FILE *f;
	size_t k;
	int i;

	snprintf(dir, sizeof(dir), "%s/bench-access-XXXXXX", argc > 2 ? argv[2] : "/tmp");
	if (n < 10 || mkdtemp(dir) == NULL) {
		perror("bench_access");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/data", dir);
	if (srv_test_open(path, NULL, &s) < 0) {
		fprintf(stderr, "bench_access: cannot open the server state\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/data/admin.token", dir);
	if ((f = fopen(path, "r")) == NULL || fgets(tok, sizeof(tok), f) == NULL)
		return 1;
	fclose(f);
	tok[strcspn(tok, "\n")] = '\0';
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	/* Same shape as a real token, unknown to the server. */
	snprintf(unknown, sizeof(unknown), "Bearer ut1_%s",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	t = xcalloc((size_t)n, sizeof(*t));
	printf("%-10s %10s %10s   (us per request, %d requests each)\n", "kind",
	    "median", "p99", n);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const char *a = kinds[k].token == 0 ? NULL :
		    kinds[k].token == 1 ? unknown : auth;

		for (i = 0; i < n; i++) {
			double t0 = now_us();
			unsigned st = call(s, kinds[k].method, kinds[k].path, a,
			    kinds[k].purpose);

			t[i] = now_us() - t0;
			if (st != kinds[k].want) {
				fprintf(stderr, "bench_access: %s answered %u, want %u\n",
				    kinds[k].name, st, kinds[k].want);
				return 1;
			}
		}
		qsort(t, (size_t)n, sizeof(*t), cmp_d);
		printf("%-10s %10.1f %10.1f\n", kinds[k].name, t[n / 2],
		    t[(size_t)n * 99 / 100]);
	}
	srv_test_close(s);
	free(t);
	snprintf(path, sizeof(path), "rm -rf '%s' '%s/data.master-key'", dir, dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}
