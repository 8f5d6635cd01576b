/*
 * cmd_control.c - `usetrace status`, `pause` and `resume`: clients of the
 * running agent's control socket (control.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "usetrace/agent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

/* Sends req to the agent; on success *out holds the decoded reply. */
static int
ask(const char *req, json_t **out)
{
	char path[256];
	int r;

	*out = NULL;
	if ((r = control_socket_path(path, sizeof(path), 0)) < 0)
		return r;
	return control_ask(path, req, 5000, out);
}

static void
fmt_time(char *out, size_t n, int64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / 1000000000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, "%H:%M:%S", &tm);
}

#define NO_AGENT "no usetrace agent is running for this user"

static int
no_agent(int r)
{
	if (r == -ENOENT || r == -ECONNREFUSED) {
		printf("not recording: " NO_AGENT "\n");
		return 1;
	}
	log_error("cannot reach the agent: %s", ut_strerror(r));
	return 1;
}

/*
 * The background uploader's part of the status (an enrolled recorder):
 * what waits, the last upload, the last error, the last final non-stored
 * outcome.
 */
static void
print_upload(const json_t *j)
{
	const json_t *u = json_object_get(j, "upload"), *f;
	json_int_t n = 0, bytes = 0, last = 0, fails = 0, next = 0, at = 0;
	const char *err = NULL, *oc = "", *reason = "", *seg = "";
	char when[32];

	if (!json_is_object(u))
		return;
	(void)json_unpack((json_t *)u, "{s?I, s?I, s?I, s?I, s?s, s?I}",
	    "segments", &n, "bytes", &bytes, "last_upload_ns", &last,
	    "failures", &fails, "last_error", &err, "next_try_ns", &next);
	printf("upload: %" JSON_INTEGER_FORMAT " segment%s (%" JSON_INTEGER_FORMAT
	    " bytes) waiting", n, n == 1 ? "" : "s", bytes);
	if (last > 0) {
		fmt_time(when, sizeof(when), last);
		printf("; last upload %s", when);
	}
	printf("\n");
	if (err != NULL) {
		printf("last upload error: %s", err);
		if (fails > 0 && next > 0) {
			fmt_time(when, sizeof(when), next);
			printf(" (%" JSON_INTEGER_FORMAT " in a row; next try %s)",
			    fails, when);
		}
		printf("\n");
	}
	f = json_object_get(u, "last_final");
	if (json_is_object(f)) {
		(void)json_unpack((json_t *)f, "{s?s, s?s, s?s, s?I}", "outcome",
		    &oc, "reason", &reason, "segment", &seg, "at_ns", &at);
		fmt_time(when, sizeof(when), at);
		printf("last not stored: %s %s at %s: %s\n", seg, oc, when, reason);
	}
}

/* `status --json` without an answer from an agent: still JSON. */
static int
no_agent_json(int r)
{
	json_t *j;
	char *s;

	j = json_pack("{s:s, s:s, s:b}", "state", "not-recording", "why",
	    r == -ENOENT || r == -ECONNREFUSED ? NO_AGENT :
	    "cannot reach the agent", "agent", 0);
	if (r != -ENOENT && r != -ECONNREFUSED)
		log_error("cannot reach the agent: %s", ut_strerror(r));
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	printf("%s\n", s != NULL ? s : "{\"state\":\"not-recording\"}");
	free(s);
	json_decref(j);
	return 1;
}

int
cmd_status(int argc, char **argv)
{
	json_t *j = NULL, *cats;
	const char *state = "", *why = "", *pol = "";
	json_int_t until = 0, ver = 0;
	char when[32];
	size_t i;
	int r, as_json = argc > 1 && strcmp(argv[1], "--json") == 0;

	if (cli_wants_help(argc, argv)) {
		printf("usage: usetrace status [--json]\n\n"
		    "Shows whether usetrace is recording, paused (until when) or not\n"
		    "recording (and why), and what is being collected.\n"
		    "Exit status: 0 recording or paused, 1 not recording.\n");
		return 0;
	}
	if (argc > 2 || (argc == 2 && !as_json)) {
		log_error("status: %s '%s'", argv[argc - 1][0] == '-' ?
		    "unknown option" : "unexpected argument", argv[argc - 1]);
		return EXIT_USAGE;
	}
	if ((r = ask("status", &j)) < 0)
		return as_json ? no_agent_json(r) : no_agent(r);
	if (as_json) {
		char *s = json_dumps(j, JSON_COMPACT);

		printf("%s\n", s ? s : "{}");
		free(s);
	}
	(void)json_unpack(j, "{s?s, s?s, s?I, s?I, s?s}", "state", &state,
	    "why", &why, "until_wall_ns", &until, "policy_version", &ver,
	    "policy", &pol);
	if (!as_json) {
		const char *by = cli_jstr(j, "paused_by"), *note = cli_jstr(j, "control");

		if (strcmp(state, "recording") == 0)
			printf("recording\n");
		else if (strcmp(state, "paused") == 0 && by != NULL &&
		    strcmp(by, "organisation") == 0) {
			fmt_time(when, sizeof(when), until);
			printf("paused by organisation until %s (recording resumes "
			    "when the organisation ends its pause)\n", when);
		} else if (strcmp(state, "paused") == 0 && by != NULL &&
		    strcmp(by, "you") == 0) {
			fmt_time(when, sizeof(when), until);
			printf("paused by you until %s (on your web page; resume "
			    "it there)\n", when);
		} else if (strcmp(state, "paused") == 0) {
			fmt_time(when, sizeof(when), until);
			printf("paused until %s (resumes by itself; 'usetrace resume' "
			    "to resume now)\n", when);
		} else if (json_is_true(json_object_get(j, "spool_full")))
			printf("%s\n", why); /* "spool full, not recording: ..." */
		else
			printf("not recording: %s\n", why);
		if (note != NULL && note[0] != '\0')
			printf("server control: %s\n", note);
		printf("policy: version %" JSON_INTEGER_FORMAT " (%s)\ncollecting:",
		    ver, pol);
		cats = json_object_get(j, "collecting");
		for (i = 0; i < json_array_size(cats); i++)
			printf(" %s", json_string_value(json_array_get(cats, i)));
		printf("\n");
		print_upload(j);
	}
	r = strcmp(state, "not-recording") == 0 ? 1 : 0;
	json_decref(j);
	return r;
}

int
cmd_pause(int argc, char **argv)
{
	json_t *j = NULL;
	char req[64], when[32];
	uint64_t ms = 0;
	const char *err = NULL;
	json_int_t until = 0;
	int ok = 0, r;

	if (cli_wants_help(argc, argv)) {
		printf("usage: usetrace pause [DURATION]\n\n"
		    "Pauses recording at once: capture stops before this command\n"
		    "returns, and nothing from the pause is kept. DURATION is like\n"
		    "90s, 10m or 1h; the default and the maximum are set by the\n"
		    "policy (usually 30m). Recording resumes by itself afterwards.\n");
		return 0;
	}
	if (argc > 2) {
		log_error("pause: too many arguments");
		return EXIT_USAGE;
	}
	if (argc == 2 && (ut_parse_duration_ms(argv[1], &ms) < 0 || ms == 0)) {
		log_error("pause: '%s' is not a duration (examples: 90s, 10m, 1h)",
		    argv[1]);
		return EXIT_USAGE;
	}
	if (ms)
		snprintf(req, sizeof(req), "pause %" PRIu64, ms);
	else
		snprintf(req, sizeof(req), "pause");
	if ((r = ask(req, &j)) < 0)
		return no_agent(r);
	(void)json_unpack(j, "{s:b, s?s, s?I}", "ok", &ok, "error", &err,
	    "until_wall_ns", &until);
	if (!ok) {
		log_error("pause: %s", err ? err : "refused");
		json_decref(j);
		return 1;
	}
	fmt_time(when, sizeof(when), until);
	printf("paused until %s\n", when);
	json_decref(j);
	return 0;
}

int
cmd_resume(int argc, char **argv)
{
	json_t *j = NULL;
	const char *state = "";
	int r;

	if (cli_wants_help(argc, argv)) {
		printf("usage: usetrace resume\n\nEnds a pause now.\n");
		return 0;
	}
	if (argc > 1) {
		log_error("resume: unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	/* Only a pause can be ended: say so instead of "resumed". */
	if ((r = ask("status", &j)) < 0)
		return no_agent(r);
	if (json_unpack(j, "{s:s}", "state", &state) < 0 ||
	    strcmp(state, "paused") != 0) {
		log_error("resume: not paused (%s)", *state ? state : "state unknown");
		json_decref(j);
		return 1;
	}
	json_decref(j);
	j = NULL;
	if ((r = ask("resume", &j)) < 0)
		return no_agent(r);
	/* A pause set by the organisation or on the web page stays. */
	if (!control_reply_is_ok(j)) {
		log_error("resume: %s", *control_reply_str(j, "error") ?
		    control_reply_str(j, "error") : "refused");
		json_decref(j);
		return 1;
	}
	printf("resumed\n");
	json_decref(j);
	return 0;
}

int
cmd_indicator(int argc, char **argv)
{
	int r;

	if (cli_wants_help(argc, argv)) {
		printf("usage: usetrace indicator [--display DPY]\n\n"
		    "The on-screen recording indicator; `usetrace record` starts it.\n"
		    "Shows REC / PAUSED / NOT RECORDING; a click pauses or resumes.\n");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--display") == 0) {
		log_error("indicator: option '--display' needs a value");
		return EXIT_USAGE;
	}
	if (argc != 1 && (argc != 3 || strcmp(argv[1], "--display") != 0)) {
		log_error("indicator: %s '%s' (usage: usetrace indicator "
		    "[--display DPY])", argv[1][0] == '-' && strcmp(argv[1],
		    "--display") != 0 ? "unknown option" : "unexpected argument",
		    argv[1][0] == '-' && strcmp(argv[1], "--display") != 0 ?
		    argv[1] : argv[argc - 1]);
		return EXIT_USAGE;
	}
	r = indicator_run(argc == 3 ? argv[2] : NULL);
	if (r < 0) {
		log_error("indicator: %s", ut_strerror(r));
		return 1;
	}
	return 0;
}
