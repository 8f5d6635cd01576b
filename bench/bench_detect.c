/*
 * bench_detect.c - detector throughput and latency on one core.
 *
 *     bench_detect [MiB] [runs] [ordinary|dense|both]
 *
 * Builds two deterministic texts (ordinary prose/code/log lines, and
 * secret-dense lines where about every third line holds a secret or
 * personal datum), scans each in 4 KiB chunks with exact spans
 * (detect_scan), and prints MB/s (median over runs) and the p50/p99
 * latency of one 4 KiB chunk, and MB/s over the thread's CPU time (less
 * sensitive to a loaded machine: time spent descheduled is not counted,
 * cache pollution by other processes still is).  The third argument scans only one of the
 * texts (for callgrind: `valgrind --tool=callgrind
 * --toggle-collect=detect_scan bench_detect 2 1 ordinary` counts the
 * instructions of the scans alone).  Results: docs/BENCHMARKS.md
 * "Detectors".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "usetrace/detect.h"

#define CHUNK 4096

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static const char *const words[] = { "the", "build", "failed", "again", "on",
	"main", "after", "merge", "we", "need", "to", "check", "logs", "for",
	"worker", "pool", "timeouts", "and", "retry", "policy", "meeting", "at",
	"10:30", "room", "4B", "version", "3.11.7", "shipped", "1,234", "units",
	"in", "Q3", "2024", "key", "token", "password", "review", "please",
	"int", "i", "=", "0;", "return", "NULL;", "http://localhost:8080/api",
	"/usr/lib/x86_64-linux-gnu", "Grüße", "München", "ok", "(42)" };

static const char *const secrets[] = {
	"mail jane.roe@example.com",
	"call +44 20 7946 0958",
	"card 4111 1111 1111 1111",
	"ssn 078-05-1120",
	"IBAN DE89 3704 0044 0532 0130 00",
	"host 203.0.113.77",
	"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
	"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"GH_TOKEN=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",
	"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
	"sk_live_4eC39HqLyjWDarjtT1zdp7dc",
	"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
	"api_key = \"9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c\"",
	"[sudo] password for alice: hunter2x",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
};

static size_t
fill(char *buf, size_t size, int dense)
{
	size_t n = 0, w, line = 0;
	const char *s;

	while (n + 256 < size) {
		if (dense && line % 3 == 0) {
			s = secrets[rnd() % (sizeof(secrets) / sizeof(secrets[0]))];
			w = strlen(s);
			memcpy(buf + n, s, w);
			n += w;
			buf[n++] = ' ';
		}
		for (w = 4 + rnd() % 12; w > 0; w--) {
			s = words[rnd() % (sizeof(words) / sizeof(words[0]))];
			memcpy(buf + n, s, strlen(s));
			n += strlen(s);
			buf[n++] = ' ';
		}
		buf[n++] = '\n';
		line++;
	}
	return n;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
run(struct detect *d, const char *name, const char *buf, size_t n, int runs)
{
	const struct detect_span *sp;
	size_t nchunks = n / CHUNK, i, spans = 0;
	uint64_t *lat = calloc(nchunks, sizeof(*lat)), t0, t1, tot, c0;
	double *mbs = calloc((size_t)runs, sizeof(*mbs));
	double *cpu = calloc((size_t)runs, sizeof(*cpu));
	int r, k;

	if (lat == NULL || mbs == NULL || cpu == NULL)
		abort();
	for (r = 0; r < runs; r++) {
		tot = 0;
		spans = 0;
		c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		for (i = 0; i < nchunks; i++) {
			t0 = now_ns();
			k = detect_scan(d, buf + i * CHUNK, CHUNK, 0, &sp);
			t1 = now_ns();
			if (k < 0)
				abort();
			spans += (size_t)k;
			lat[i] = t1 - t0;
			tot += t1 - t0;
		}
		mbs[r] = (double)(nchunks * CHUNK) / ((double)tot / 1e9) / 1e6;
		cpu[r] = (double)(nchunks * CHUNK) /
		    ((double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e9) / 1e6;
	}
	qsort(mbs, (size_t)runs, sizeof(*mbs), cmp_dbl);
	qsort(cpu, (size_t)runs, sizeof(*cpu), cmp_dbl);
	qsort(lat, nchunks, sizeof(*lat), cmp_u64);
	printf("%-14s %8.1f MB/s (median of %d, min %.1f max %.1f)  "
	    "4 KiB latency p50 %.1f us p99 %.1f us  spans/MiB %.0f  "
	    "cpu %.1f MB/s\n", name,
	    mbs[runs / 2], runs, mbs[0], mbs[runs - 1],
	    (double)lat[nchunks / 2] / 1e3, (double)lat[nchunks * 99 / 100] / 1e3,
	    (double)spans / ((double)(nchunks * CHUNK) / (1 << 20)),
	    cpu[runs / 2]);
	free(lat);
	free(mbs);
	free(cpu);
}

int
main(int argc, char **argv)
{
	struct detect_set *set = NULL;
	struct detect *d = NULL;
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16, n;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	const char *which = argc > 3 ? argv[3] : "both";
	uint64_t t0;
	char *buf;

	if (mib == 0 || runs <= 0 || (strcmp(which, "both") != 0 &&
	    strcmp(which, "ordinary") != 0 && strcmp(which, "dense") != 0))
		return 2;
	t0 = now_ns();
	if (detect_set_create(&set) < 0 || detect_create(set, &d) < 0)
		return 1;
	printf("detector set compiled in %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	buf = malloc(mib << 20);
	if (buf == NULL)
		return 1;
	if (strcmp(which, "dense") != 0) {
		n = fill(buf, mib << 20, 0);
		run(d, "ordinary", buf, n, runs);
	}
	if (strcmp(which, "ordinary") != 0) {
		/* The same dense text whether or not ordinary ran first. */
		rng = 0x9e3779b97f4a7c15ull;
		n = fill(buf, mib << 20, 1);
		run(d, "secret-dense", buf, n, runs);
	}
	free(buf);
	detect_destroy(d);
	detect_set_destroy(set);
	return 0;
}
