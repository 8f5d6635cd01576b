/*
 * fuzz_scan.c - `usetrace scan` input: arbitrary bytes split into lines,
 * each parsed as a JSON line and its text run through the detectors.  Also
 * scans the raw bytes directly, so the detectors see non-JSON, invalid
 * UTF-8 and NUL bytes too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/detect.h"
#include "usetrace/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct detect_set *set;
static struct detect *det;
static FILE *sink;

static void
fini(void)
{
	detect_destroy(det);
	detect_set_destroy(set);
	if (sink != NULL)
		fclose(sink);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct detect_span *sp;
	const char *p = (const char *)data, *nl;
	size_t left = size, n;
	int i, ns;

	if (det == NULL) {
		if (detect_set_create(&set) < 0 || detect_create(set, &det) < 0)
			abort();
		sink = fopen("/dev/null", "w");
		if (sink == NULL)
			abort();
		atexit(fini);
	}
	ns = detect_scan(det, p, size, 0, &sp);
	for (i = 0; i < ns; i++) {
		if (sp[i].start >= sp[i].end || sp[i].end > size ||
		    (i > 0 && sp[i - 1].end > sp[i].start))
			abort(); /* spans must be sorted, disjoint, in range */
	}
	while (left > 0) {
		nl = memchr(p, '\n', left);
		n = nl != NULL ? (size_t)(nl - p) : left;
		if (detect_scan_json_line(det, p, n, sink) == UT_EINVAL)
			abort();
		if (nl == NULL)
			break;
		p += n + 1;
		left -= n + 1;
	}
	return 0;
}
