/*
 * cmd_admin_ctl.c - `usetrace admin pause|resume|pause-status|policy`: the
 * organisation-wide pause and the published policies (issue 15), purpose
 * administration.  The server keeps every pause and every policy version;
 * agents learn both by their long poll (docs/API.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

#define PURPOSE "administration"
#define POLICY_FILE_MAX (256u << 10)

static const char pause_usage[] =
    "usage: usetrace admin pause [DURATION] [connection]\n\n"
    "Pauses recording on every device of the organisation now, for DURATION\n"
    "(like 90s, 30m, 1h; default and longest: the server's org_pause_max_s,\n"
    "1h unless configured); it resumes by itself then.  Agents learn it\n"
    "within seconds and stop capture; the server discards any segment begun\n"
    "during the pause.  Pausing while paused changes when it ends.  Prints\n"
    "'paused until TIME (pause ID)'.\n\n"
    "options:\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static const char resume_usage[] =
    "usage: usetrace admin resume [connection]\n\n"
    "Ends the organisation pause now.  Prints 'resumed' or 'not paused'.\n\n"
    "options:\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static const char status_usage[] =
    "usage: usetrace admin pause-status [--json] [connection]\n\n"
    "Prints 'paused yes|no' (with until when), and 'acks K/M': how many of\n"
    "the M active devices acknowledged the current control state.\n\n"
    "options:\n"
    "  --json    the server's JSON answer\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static const char policy_usage[] =
    "usage: usetrace admin policy publish FILE [connection]\n"
    "       usetrace admin policy list [--json] [connection]\n"
    "       usetrace admin policy show N [connection]\n\n"
    "'publish' sends a policy YAML file; the server parses it with the\n"
    "agent's strict parser (an error names the line) and stores it as the\n"
    "next version: prints 'policy version N'.  Agents stop recording until\n"
    "the person consents to it.  'list' prints every version; 'show'\n"
    "prints one version's YAML.\n\n"
    "options:\n"
    "  --json    (list) the server's JSON answer\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

/* "90s", "30m", "1h", "2d" or bare seconds -> seconds; -1 when bad. */
static long long
parse_duration(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v <= 0 || s[0] == '-' || s[0] == '+')
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return v;
	if (strcmp(end, "m") == 0 && v <= 1000000)
		return v * 60;
	if (strcmp(end, "h") == 0 && v <= 100000)
		return v * 3600;
	if (strcmp(end, "d") == 0 && v <= 10000)
		return v * 86400;
	return -1;
}

static int
do_pause(int argc, char **argv)
{
	const char *cmd = "admin pause";
	struct client_cfg c;
	struct cli_args a;
	json_t *req = NULL, *ans = NULL;
	char when[40];
	long long dur = 0;
	int64_t until = 0, id = 0;
	int r, status = 1;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN, 0, 1, pause_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (a.npos == 1 && (dur = parse_duration(a.pos[0])) < 0) {
		log_error("%s: DURATION is like 90s, 30m or 1h", cmd);
		fputs(pause_usage, stderr);
		return EXIT_USAGE;
	}
	req = dur > 0 ? json_pack("{s:I}", "duration_s", (json_int_t)dur) :
	    json_object();
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		goto out;
	if (cli_call_json(cmd, &c, "POST", "/v1/admin/pause", PURPOSE, req, &ans) < 0)
		goto out;
	(void)cli_jint(ans, "until_ns", &until);
	(void)cli_jint(ans, "id", &id);
	cli_fmt_time(until, when, sizeof(when));
	printf("paused until %s (pause %lld)\n", when, (long long)id);
	status = 0;
out:
	json_decref(req);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

static int
do_resume(int argc, char **argv)
{
	const char *cmd = "admin resume";
	struct client_cfg c;
	struct cli_args a;
	json_t *ans = NULL;
	int r, status = 1;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN, 0, 0, resume_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		goto out;
	if (cli_call_json(cmd, &c, "POST", "/v1/admin/resume", PURPOSE, NULL, &ans) < 0)
		goto out;
	printf("%s\n", json_is_true(json_object_get(ans, "resumed")) ? "resumed" :
	    "not paused");
	status = 0;
out:
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

static int
do_status(int argc, char **argv)
{
	const char *cmd = "admin pause-status";
	struct client_cfg c;
	struct cli_args a;
	json_t *ans = NULL;
	char when[40];
	int64_t acks = 0, devs = 0, until = 0;
	int r, status = 1;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN | CLI_O_JSON, 0, 0,
	    status_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		goto out;
	if (cli_call_json(cmd, &c, "GET", "/v1/admin/pause", PURPOSE, NULL, &ans) < 0)
		goto out;
	if (a.json) {
		json_dumpf(ans, stdout, JSON_COMPACT);
		putchar('\n');
	} else {
		(void)cli_jint(ans, "acks", &acks);
		(void)cli_jint(ans, "devices", &devs);
		if (json_is_true(json_object_get(ans, "paused"))) {
			(void)cli_jint(ans, "until_ns", &until);
			cli_fmt_time(until, when, sizeof(when));
			printf("paused yes until %s\n", when);
		} else
			printf("paused no\n");
		printf("acks %lld/%lld\n", (long long)acks, (long long)devs);
	}
	status = 0;
out:
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

/* Reads FILE (at most POLICY_FILE_MAX bytes) into a NUL-terminated string. */
static char *
read_policy(const char *cmd, const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		log_error("%s: %s: %s", cmd, path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(POLICY_FILE_MAX + 1);
	n = fread(buf, 1, POLICY_FILE_MAX + 1, f);
	if (ferror(f) || n > POLICY_FILE_MAX) {
		log_error("%s: %s: %s", cmd, path, ferror(f) ? "read error" :
		    "larger than 256 KiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
print_policies(const json_t *ans)
{
	const json_t *p;
	char when[40];
	int64_t v, t;
	size_t i;

	json_array_foreach(json_object_get(ans, "policies"), i, p) {
		if (cli_jint(p, "version", &v) < 0)
			v = 0;
		if (cli_jint(p, "published_ns", &t) < 0)
			t = 0;
		cli_fmt_time(t, when, sizeof(when));
		printf("version %lld  published %s  sha256 %s\n", (long long)v, when,
		    cli_jstr(p, "sha256") ? cli_jstr(p, "sha256") : "?");
	}
}

static int
do_policy(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct client_cfg c;
	struct cli_args a;
	json_t *req = NULL, *ans = NULL;
	char cmd[48], path[64], *text = NULL;
	const char *y;
	unsigned allowed = CLI_O_CONN;
	int64_t v = 0;
	size_t len = 0;
	int npos = 1, r, status = 1;
	uint64_t n = 0;

	if (sub == NULL || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(policy_usage, sub ? stdout : stderr);
		return sub ? 0 : EXIT_USAGE;
	}
	if (strcmp(sub, "list") == 0) {
		allowed |= CLI_O_JSON;
		npos = 0;
	} else if (strcmp(sub, "publish") != 0 && strcmp(sub, "show") != 0) {
		log_error("admin policy: unknown subcommand '%s'", sub);
		fputs(policy_usage, stderr);
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "admin policy %s", sub);
	r = cli_args_parse(cmd, argc - 1, argv + 1, allowed, npos, npos,
	    policy_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (strcmp(sub, "show") == 0 &&
	    (ut_parse_u64(a.pos[0], &n) < 0 || n == 0 || n > INT64_MAX)) {
		log_error("%s: N is a policy version (1, 2, ...)", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "publish") == 0) {
		if ((text = read_policy(cmd, a.pos[0], &len)) == NULL)
			return 1;
		req = json_pack("{s:s%}", "yaml", text, len);
		if (req == NULL) {
			log_error("%s: %s is not UTF-8 text", cmd, a.pos[0]);
			free(text);
			return 1;
		}
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		goto out;
	if (strcmp(sub, "publish") == 0) {
		if (cli_call_json(cmd, &c, "POST", "/v1/admin/policies", PURPOSE, req,
		    &ans) < 0)
			goto out;
		(void)cli_jint(ans, "version", &v);
		printf("policy version %lld\nsha256 %s\n", (long long)v,
		    cli_jstr(ans, "sha256") ? cli_jstr(ans, "sha256") : "?");
	} else if (strcmp(sub, "list") == 0) {
		if (cli_call_json(cmd, &c, "GET", "/v1/admin/policies", PURPOSE, NULL,
		    &ans) < 0)
			goto out;
		if (a.json) {
			json_dumpf(ans, stdout, JSON_COMPACT);
			putchar('\n');
		} else
			print_policies(ans);
	} else {
		snprintf(path, sizeof(path), "/v1/admin/policies/%llu",
		    (unsigned long long)n);
		if (cli_call_json(cmd, &c, "GET", path, PURPOSE, NULL, &ans) < 0)
			goto out;
		y = cli_jstr(ans, "yaml");
		fputs(y != NULL ? y : "", stdout);
	}
	status = 0;
out:
	free(text);
	json_decref(req);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

/* argv[0] is the subcommand: pause, resume, pause-status or policy. */
int
cmd_admin_ctl(int argc, char **argv)
{
	if (strcmp(argv[0], "pause") == 0)
		return do_pause(argc, argv);
	if (strcmp(argv[0], "resume") == 0)
		return do_resume(argc, argv);
	if (strcmp(argv[0], "pause-status") == 0)
		return do_status(argc, argv);
	return do_policy(argc, argv);
}
