/*
 * cmd_audit_read.c - the auditor's questions to a running server:
 * `usetrace audit exposure --principal P | --subject S [--since T]
 * [--until T] [--json]` (whose data P read; who read S's data) and
 * `usetrace audit alerts [--json]`.  They need an auditor's token (purpose
 * `audit`) and read only the audit log; `audit verify` (cmd_audit.c)
 * works offline on the data directory instead.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/audit.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

static const char exposure_usage[] =
    "usage: usetrace audit exposure --principal NAME | --subject NAME\n"
    "                               [--since T] [--until T] [--json] [connection]\n\n"
    "From the server's audit log: with --principal, whose data NAME read\n"
    "(subject, segment, purpose, time); with --subject, who read NAME's\n"
    "data.  A read is an allowed request that returned recorded content or\n"
    "what was derived from it; denied attempts are not reads.  T is\n"
    "YYYY-MM-DDTHH:MM:SSZ (UTC) or ns since the epoch.  Needs an auditor's\n"
    "token.  One line per read:\n"
    "    TIME  PRINCIPAL (ROLE)  PURPOSE  ACTION  SUBJECT  SEGMENT\n\n"
    "options:\n"
    "  --principal NAME, --subject NAME   exactly one\n"
    "  --since T, --until T\n"
    "  --json    the server's JSON answer\n" CONN_HELP;

static const char canary_usage[] =
    "usage: usetrace audit canary add NAME [--flow none|review] [--segments N]\n"
    "                                 [connection]\n\n"
    "Makes a canary: a synthetic person NAME (choose a plausible name) with\n"
    "an enrolled device, a consent and N (default 3, at most 20) generated\n"
    "recordings, indistinguishable to everyone but auditors from a real\n"
    "person.  --flow review lets it be reviewed and exported like real data;\n"
    "none (the default) allows no read at all.  Any read outside its flow is\n"
    "an alert ('usetrace audit alerts', the server's output, its\n"
    "alert_command).  Prints 'canary NAME marker MARKER segments N': the\n"
    "marker is typed in every recording, so a leaked export can be\n"
    "recognised.  Needs an auditor's token.\n\n"
    "options:\n"
    "  --flow none|review\n"
    "  --segments N\n" CONN_HELP;

static const char log_usage[] =
    "usage: usetrace audit log [--since-seq N] [--json] [connection]\n\n"
    "The server's audit log, every entry from seq N (default 1), a line\n"
    "each: SEQ TIME PRINCIPAL (ROLE) PURPOSE ACTION SUBJECT OBJECT OUTCOME.\n"
    "Each entry's hash is recomputed here and its link to the entry before\n"
    "checked; the last line says 'chain ok: ...' or names the first bad\n"
    "entry (exit 1).  The signed checkpoints are checked by 'usetrace audit\n"
    "verify --data DIR' on the data directory (or a copy).  Needs an\n"
    "auditor's token.\n\n"
    "options:\n"
    "  --since-seq N\n"
    "  --json    one JSON object per entry\n" CONN_HELP;

static const char alerts_usage[] =
    "usage: usetrace audit alerts [--json] [connection]\n\n"
    "The alerts in the server's audit log (e.g. other bytes uploaded under a\n"
    "stored segment id).  Needs an auditor's token.  One line per alert:\n"
    "    SEQ  TIME  PRINCIPAL  ACTION  OBJECT  DETAIL\n\n"
    "options:\n"
    "  --json    the server's JSON answer\n" CONN_HELP;

/* Appends "&name=value" (value percent-encoded) to path; -1 if too long. */
static int
add_arg(char *path, size_t sz, const char *name, const char *value)
{
	size_t n = strlen(path);
	const char *p;
	int w;

	if (value == NULL)
		return 0;
	w = snprintf(path + n, sz - n, "%c%s=", strchr(path, '?') ? '&' : '?', name);
	if (w < 0 || (size_t)w >= sz - n)
		return -1;
	n += (size_t)w;
	for (p = value; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~')
			w = snprintf(path + n, sz - n, "%c", c);
		else
			w = snprintf(path + n, sz - n, "%%%02X", c);
		if (w < 0 || (size_t)w >= sz - n)
			return -1;
		n += (size_t)w;
	}
	return 0;
}

/* The string member key of e, or "-" when absent or empty. */
static const char *
str_or(const json_t *e, const char *key)
{
	const char *v = cli_jstr(e, key);

	return v != NULL && v[0] != '\0' ? v : "-";
}

static void
print_json(const json_t *ans)
{
	char *t = json_dumps(ans, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (t != NULL) {
		puts(t);
		free(t);
	}
}

static int
exposure(const struct cli_args *a, const struct client_cfg *c)
{
	char path[1024] = "/v1/audit/exposure", when[40];
	const json_t *e;
	json_t *ans = NULL;
	size_t i;
	int64_t t;

	if (add_arg(path, sizeof(path), "principal", a->principal) < 0 ||
	    add_arg(path, sizeof(path), "subject", a->subject) < 0 ||
	    add_arg(path, sizeof(path), "since", a->since) < 0 ||
	    add_arg(path, sizeof(path), "until", a->until) < 0) {
		log_error("audit exposure: arguments too long");
		return 1;
	}
	if (cli_call_json("audit exposure", c, "GET", path, "audit", NULL, &ans) < 0)
		return 1;
	if (a->json) {
		print_json(ans);
	} else {
		json_array_foreach(json_object_get(ans, "reads"), i, e) {
			t = 0;
			(void)cli_jint(e, "time_ns", &t);
			cli_fmt_time(t, when, sizeof(when));
			printf("%s  %s (%s)  %s  %s  %s  %s\n", when,
			    str_or(e, "principal"), str_or(e, "role"),
			    str_or(e, "purpose"), str_or(e, "action"),
			    *str_or(e, "subject_name") != '-' ?
			    str_or(e, "subject_name") : str_or(e, "subject"),
			    str_or(e, "segment"));
		}
		if (json_is_true(json_object_get(ans, "truncated")))
			log_warn("audit exposure: more reads than one answer holds; "
			    "narrow it with --since / --until");
	}
	json_decref(ans);
	return 0;
}

static int
alerts(const struct cli_args *a, const struct client_cfg *c)
{
	json_t *ans = NULL;
	const json_t *e;
	char when[40];
	int64_t t, seq;
	size_t i;

	if (cli_call_json("audit alerts", c, "GET", "/v1/audit/alerts", "audit",
	    NULL, &ans) < 0)
		return 1;
	if (a->json) {
		print_json(ans);
	} else {
		json_array_foreach(json_object_get(ans, "alerts"), i, e) {
			t = seq = 0;
			(void)cli_jint(e, "time_ns", &t);
			(void)cli_jint(e, "seq", &seq);
			cli_fmt_time(t, when, sizeof(when));
			printf("%" PRId64 "  %s  %s  %s  %s  %s\n", seq, when,
			    str_or(e, "principal"), str_or(e, "action"),
			    str_or(e, "object"), str_or(e, "detail"));
		}
	}
	json_decref(ans);
	return 0;
}

/* A JSON entry back into a row; -1 when malformed. */
static int
row_from(const json_t *e, struct meta_audit_row *r, uint8_t hash[32])
{
	static const struct { const char *k; size_t off, sz; } f[] = {
#define F(x) { #x, offsetof(struct meta_audit_row, x), sizeof(((struct meta_audit_row *)0)->x) }
		F(principal), F(role), F(purpose), F(action), F(subject), F(object),
		F(outcome), F(source), F(detail),
#undef F
	};
	int64_t seq, t;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (cli_jint(e, "seq", &seq) < 0 || seq < 1 || cli_jint(e, "time_ns", &t) < 0 ||
	    cli_hex_parse(cli_jstr(e, "prev"), r->prev, 32) < 0 ||
	    cli_hex_parse(cli_jstr(e, "hash"), hash, 32) < 0)
		return -1;
	r->seq = (uint64_t)seq;
	r->time_ns = t;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *v = cli_jstr(e, f[i].k);

		if (v == NULL || strlen(v) >= f[i].sz)
			return -1;
		memcpy((char *)r + f[i].off, v, strlen(v) + 1);
	}
	return 0;
}

static int
audit_log(int argc, char **argv)
{
	const char *cmd = "audit log";
	struct meta_audit_row row;
	struct client_cfg c;
	struct cli_args a;
	json_t *ans = NULL;
	const json_t *e;
	uint8_t hash[32], h[32], last[32];
	uint64_t from = 1, n = 0, first = 0, expect = 0;
	char path[96], when[40];
	int64_t next;
	size_t i;
	int r, status = 1, bad = 0;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN | CLI_O_JSON | CLI_O_SINCESEQ,
	    0, 0, log_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (a.since_seq != NULL && (ut_parse_u64(a.since_seq, &from) < 0 || from == 0)) {
		log_error("%s: --since-seq wants a number >= 1", cmd);
		return EXIT_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	for (;;) {
		snprintf(path, sizeof(path), "/v1/audit/entries?since_seq=%llu",
		    (unsigned long long)from);
		if (cli_call_json(cmd, &c, "GET", path, "audit", NULL, &ans) < 0)
			goto out;
		json_array_foreach(json_object_get(ans, "entries"), i, e) {
			if (row_from(e, &row, hash) < 0) {
				log_error("%s: the server's answer is malformed", cmd);
				goto out;
			}
			audit_row_hash(&row, h);
			if (!bad && (memcmp(h, hash, 32) != 0 ||
			    (n > 0 && (row.seq != expect || memcmp(row.prev, last, 32) != 0)))) {
				printf("audit BAD: entry %llu does not verify (hash or link)\n",
				    (unsigned long long)row.seq);
				bad = 1;
			}
			if (n == 0)
				first = row.seq;
			memcpy(last, hash, 32);
			expect = row.seq + 1;
			n++;
			if (a.json) {
				json_dumpf(e, stdout, JSON_COMPACT);
				putchar('\n');
			} else {
				cli_fmt_time(row.time_ns, when, sizeof(when));
				printf("%6llu  %s  %s (%s)  %s  %s  %s  %s  %s\n",
				    (unsigned long long)row.seq, when, row.principal,
				    row.role, row.purpose, row.action,
				    row.subject[0] ? row.subject : "-",
				    row.object[0] ? row.object : "-", row.outcome);
			}
		}
		next = 0;
		(void)cli_jint(ans, "next_seq", &next);
		json_decref(ans);
		ans = NULL;
		if (next <= 0)
			break;
		from = (uint64_t)next;
	}
	if (!bad)
		printf("chain ok: %llu entries (seq %llu to %llu)\n",
		    (unsigned long long)n, (unsigned long long)first,
		    (unsigned long long)(n ? expect - 1 : 0));
	status = bad;
out:
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

static int
canary(int argc, char **argv)
{
	const char *cmd = "audit canary add";
	json_t *req = NULL, *ans = NULL;
	struct client_cfg c;
	struct cli_args a;
	const char *flow;
	char *end;
	long n = 3;
	int r, status = 1;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		if (cli_wants_help(argc, argv)) {
			fputs(canary_usage, stdout);
			return 0;
		}
		log_error("audit canary: expected 'add'");
		fputs(canary_usage, stderr);
		return EXIT_USAGE;
	}
	r = cli_args_parse(cmd, argc - 1, argv + 1, CLI_O_CONN | CLI_O_CANARY, 1, 1,
	    canary_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	flow = a.flow != NULL ? a.flow : "none";
	if (a.segments != NULL)
		n = strtol(a.segments, &end, 10);
	if ((strcmp(flow, "none") != 0 && strcmp(flow, "review") != 0) ||
	    (a.segments != NULL && *end != '\0') || n < 1 || n > 20) {
		log_error("%s: --flow none|review, --segments 1-20", cmd);
		return EXIT_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	req = json_pack("{s:s, s:s, s:i}", "name", a.pos[0], "flow", flow,
	    "segments", (int)n);
	if (cli_call_json(cmd, &c, "POST", "/v1/audit/canaries", "audit", req,
	    &ans) < 0)
		goto out;
	printf("canary %s marker %s segments %zu\n", str_or(ans, "name"),
	    str_or(ans, "marker"), json_array_size(json_object_get(ans, "segments")));
	status = 0;
out:
	json_decref(req);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

int
cmd_audit_read(int argc, char **argv)
{
	bool expo = strcmp(argv[0], "exposure") == 0;
	if (strcmp(argv[0], "canary") == 0)
		return canary(argc, argv);
	if (strcmp(argv[0], "log") == 0)
		return audit_log(argc, argv);
	const char *cmd = expo ? "audit exposure" : "audit alerts";
	struct client_cfg c;
	struct cli_args a;
	int r;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN | CLI_O_JSON |
	    (expo ? CLI_O_WHO | CLI_O_SPAN : 0), 0, 0,
	    expo ? exposure_usage : alerts_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (expo && (a.principal == NULL) == (a.subject == NULL)) {
		log_error("audit exposure: give --principal NAME or --subject NAME");
		fputs(exposure_usage, stderr);
		return EXIT_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	r = expo ? exposure(&a, &c) : alerts(&a, &c);
	client_cfg_finish(&c);
	return r;
}
