/*
 * cmd_scan.c - `usetrace scan`: run the detectors over JSON lines, so their
 * quality can be measured from outside the code (tests/data/detect/eval.py).
 *
 * Input: one JSON object per line, {"id": <any>, "text": "<UTF-8>"}; other
 * members are ignored.  Output: one line per input line,
 * {"id": <id as given>, "spans": [{"start": B, "end": B, "type": "T"}]}
 * with byte offsets into the UTF-8 text.  A bad line (not JSON, no "text",
 * longer than SCAN_LINE_MAX) gets one error on stderr naming its line
 * number, never its content, and the next lines are still processed.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/detect.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

#define SCAN_LINE_MAX (1u << 20)

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace scan [FILE]\n\n"
	    "Finds secrets and personal data in JSON lines read from FILE (or\n"
	    "standard input).  Each input line is {\"id\": ..., \"text\": \"...\"};\n"
	    "each output line is {\"id\": ..., \"spans\": [{\"start\": B, \"end\": B,\n"
	    "\"type\": \"T\"}]} with byte offsets into the UTF-8 text and T one of\n"
	    "EMAIL PHONE CREDIT_CARD SSN IBAN IP_ADDRESS AWS_ACCESS_KEY\n"
	    "AWS_SECRET_KEY GITHUB_TOKEN SLACK_TOKEN STRIPE_KEY JWT PRIVATE_KEY\n"
	    "API_KEY GENERIC_SECRET PASSWORD (docs/DETECTORS.md).\n\n"
	    "A line that is not a JSON object with a string \"text\", or that is\n"
	    "longer than 1 MiB, gets an error on standard error (its line number,\n"
	    "never its content); the other lines are still processed.\n\n"
	    "exit status: 0 every line processed, 1 some line was bad or the\n"
	    "input could not be read, 2 usage error.\n\n"
	    "options:\n"
	    "  -h, --help\n");
}

/* Scans one line; returns 0 or -1 for a bad line (reported by number). */
static int
scan_line(struct detect *d, const char *line, size_t n, unsigned long lineno)
{
	int r = detect_scan_json_line(d, line, n, stdout);

	if (r == UT_EPARSE)
		log_error("scan: line %lu: not a JSON object with a string \"text\"",
		    lineno);
	else if (r < 0)
		log_error("scan: line %lu: %s", lineno, ut_strerror(r));
	return r < 0 ? -1 : 0;
}

static bool
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int
cmd_scan(int argc, char **argv)
{
	struct detect_set *set = NULL;
	struct detect *d = NULL;
	unsigned long lineno = 0;
	FILE *in = stdin;
	char *line = NULL;
	size_t n;
	int c, bad = 0, rc = 1, r;
	bool toolong;

	if (cli_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] != '\0')) {
		if (argc == 2 || argv[1][0] == '-')
			log_error("scan: unknown option '%s'", argv[1]);
		else
			log_error("scan: unexpected argument '%s' (one FILE)",
			    argv[2]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc == 2 && strcmp(argv[1], "-") != 0 &&
	    (in = fopen(argv[1], "r")) == NULL) {
		log_error("scan: %s: %s", argv[1], strerror(errno));
		return 1;
	}
	if ((r = detect_set_create(&set)) < 0 || (r = detect_create(set, &d)) < 0) {
		log_error("scan: cannot build the detectors: %s", ut_strerror(r));
		goto out;
	}
	line = xmalloc(SCAN_LINE_MAX + 1);
	for (;;) {
		n = 0;
		toolong = false;
		while ((c = getc(in)) != EOF && c != '\n') {
			if (n < SCAN_LINE_MAX)
				line[n++] = (char)c;
			else
				toolong = true;
		}
		if (c == EOF && n == 0 && !toolong)
			break;
		lineno++;
		if (toolong) {
			log_error("scan: line %lu: longer than %u bytes", lineno,
			    SCAN_LINE_MAX);
			bad = 1;
		} else if (!blank(line, n) && scan_line(d, line, n, lineno) < 0)
			bad = 1;
		sodium_memzero(line, n);
		if (c == EOF)
			break;
	}
	if (ferror(in)) {
		log_error("scan: read error");
		bad = 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("scan: write error");
		bad = 1;
	}
	rc = bad;
out:
	free(line);
	detect_destroy(d);
	detect_set_destroy(set);
	if (in != stdin)
		fclose(in);
	return rc;
}
