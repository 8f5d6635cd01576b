/*
 * cmd_review.c - review on the server: `usetrace review queue | show ID |
 * approve ID | reject ID --reason TEXT` for reviewers (purpose review), and
 * the administrator's side, `usetrace admin segments` (metadata only) and
 * `usetrace admin assign SEGMENT REVIEWER | --share F REVIEWER`.
 * A reviewer sees only what was assigned to them, in the reviewer's view
 * (no name, no device, no wall-clock time; titles scanned again).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/log.h"
#include "cli_int.h"

static const char review_usage[] =
    "usage: usetrace review queue [--json]\n"
    "       usetrace review show ID [--json]\n"
    "       usetrace review frames ID --out D\n"
    "       usetrace review approve ID\n"
    "       usetrace review reject ID --reason TEXT\n\n"
    "For reviewers: the segments an administrator assigned to you.  'queue'\n"
    "lists the pending ones (ID, pseudonym, duration, sensitivity); 'show'\n"
    "prints one as actions, in the reviewer's view: no name, no device, no\n"
    "wall-clock time, window titles and application names scanned again\n"
    "(each finding shown as [TYPE]); 'approve' and 'reject' decide it for\n"
    "training.  Every read and decision is in the audit log, and the person\n"
    "recorded sees it.\n\n"
    "options:\n"
    "  --json           the server's answer as it is\n"
    "  --reason TEXT    why it is rejected (1-90 characters)\n"
    "  -o, --out D      where 'frames' writes D/frame-NNNNNN.png (the\n"
    "                   frames as the device stored them: denied windows\n"
    "                   and typed secrets black)\n" CONN_HELP;

static const char assign_usage[] =
    "usage: usetrace admin assign SEGMENT REVIEWER [connection]\n"
    "       usetrace admin assign --share FRACTION REVIEWER [connection]\n\n"
    "Assigns a segment (its id from 'usetrace admin segments'), or a share\n"
    "of every subject's segments (0 < FRACTION <= 1, drawn at random), to a\n"
    "reviewer.  Each person sees the assignment of their segment in\n"
    "'usetrace my audit'.  Prints 'assigned ID' per assignment.\n\n"
    "options:\n"
    "  --share FRACTION\n" CONN_HELP;

static const char segments_usage[] =
    "usage: usetrace admin segments [--json] [connection]\n\n"
    "Lists segment metadata for assigning review: id, subject pseudonym,\n"
    "day, size, duration, sensitivity.  No content, no names.\n\n"
    "options:\n"
    "  --json    the server's JSON answer\n" CONN_HELP;

static int
hex_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 32;
}

static void
dump(const json_t *ans)
{
	json_dumpf(ans, stdout, JSON_COMPACT);
	putchar('\n');
}

static int
queue(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	json_t *ans = NULL;
	const json_t *e;
	int64_t d, s;
	size_t i;

	if (cli_call_json(cmd, c, "GET", "/v1/review/queue", "review", NULL, &ans) < 0)
		return 1;
	if (a->json) {
		dump(ans);
	} else {
		json_array_foreach(json_object_get(ans, "assignments"), i, e) {
			d = s = 0;
			(void)cli_jint(e, "duration_ms", &d);
			(void)cli_jint(e, "sensitivity", &s);
			printf("%s  %s  %6.1fs  s%" PRId64 "\n", cli_jstr(e, "id"),
			    cli_jstr(e, "pseudonym"), (double)d / 1000.0, s);
		}
	}
	json_decref(ans);
	return 0;
}

static int
show(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	struct client_resp rr;
	char path[96];
	int r;

	snprintf(path, sizeof(path), "/v1/review/%s", a->pos[0]);
	if (cli_call(cmd, c, "GET", path, "review", NULL, 64u << 20, &rr) < 0)
		return 1;
	r = cli_print_actions(cmd, rr.body, rr.len, a->json);
	client_resp_free(&rr);
	return r < 0;
}

static int
decide(const char *cmd, const char *what, const struct cli_args *a,
    const struct client_cfg *c)
{
	json_t *req = NULL, *ans = NULL;
	char path[96];
	int r;

	snprintf(path, sizeof(path), "/v1/review/%s/%s", a->pos[0], what);
	if (a->reason != NULL)
		req = json_pack("{s:s}", "reason", a->reason);
	r = cli_call_json(cmd, c, "POST", path, "review", req, &ans);
	json_decref(req);
	if (r == 0)
		printf("%s %s\n", a->pos[0], cli_jstr(ans, "state") ? cli_jstr(ans,
		    "state") : what);
	json_decref(ans);
	return r < 0;
}

int
cmd_review(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct client_cfg c;
	struct cli_args a;
	char cmd[32];
	unsigned allowed = CLI_O_CONN;
	int npos = 1, r;

	if (sub == NULL || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		if (sub == NULL)
			log_error("review: which? queue, show, frames, approve or reject");
		fputs(review_usage, sub ? stdout : stderr);
		return sub ? 0 : EXIT_USAGE;
	}
	if (strcmp(sub, "queue") == 0) {
		allowed |= CLI_O_JSON;
		npos = 0;
	} else if (strcmp(sub, "show") == 0) {
		allowed |= CLI_O_JSON;
	} else if (strcmp(sub, "reject") == 0) {
		allowed |= CLI_O_REASON;
	} else if (strcmp(sub, "frames") == 0) {
		allowed |= CLI_O_OUT;
	} else if (strcmp(sub, "approve") != 0) {
		log_error("review: unknown subcommand '%s'", sub);
		fputs(review_usage, stderr);
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "review %s", sub);
	r = cli_args_parse(cmd, argc - 1, argv + 1, allowed, npos, npos,
	    review_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (npos == 1 && !hex_ok(a.pos[0])) {
		log_error("%s: an assignment id is 32 hex digits (from 'usetrace "
		    "review queue')", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "frames") == 0 && a.out == NULL) {
		log_error("%s: --out D is required", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "reject") == 0 && (a.reason == NULL || a.reason[0] == '\0')) {
		log_error("%s: --reason TEXT is required", cmd);
		return EXIT_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	if (strcmp(sub, "queue") == 0)
		r = queue(cmd, &a, &c);
	else if (strcmp(sub, "show") == 0)
		r = show(cmd, &a, &c);
	else if (strcmp(sub, "frames") == 0) {
		char base[64];

		snprintf(base, sizeof(base), "/v1/review/%s", a.pos[0]);
		r = cli_fetch_frames(cmd, &c, base, "review", a.out) < 0;
	}
	else
		r = decide(cmd, sub, &a, &c);
	client_cfg_finish(&c);
	return r;
}

int
cmd_admin_assign(int argc, char **argv)
{
	const char *cmd = "admin assign";
	json_t *req = NULL, *ans = NULL;
	const json_t *e;
	struct client_cfg c;
	struct cli_args a;
	char *end;
	double share = 0;
	size_t i;
	int r, status = 1;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN | CLI_O_SHARE, 1, 2,
	    assign_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (a.share != NULL) {
		share = strtod(a.share, &end);
		if (a.npos != 1 || *end != '\0' || !(share > 0 && share <= 1)) {
			log_error("%s: --share FRACTION REVIEWER (0 < FRACTION <= 1)", cmd);
			return EXIT_USAGE;
		}
		req = json_pack("{s:s, s:f}", "reviewer", a.pos[0], "share", share);
	} else {
		if (a.npos != 2 || !hex_ok(a.pos[0])) {
			log_error("%s: SEGMENT (32 hex digits) REVIEWER", cmd);
			return EXIT_USAGE;
		}
		req = json_pack("{s:s, s:s}", "reviewer", a.pos[1], "segment", a.pos[0]);
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		goto out;
	if (cli_call_json(cmd, &c, "POST", "/v1/admin/assignments",
	    "administration", req, &ans) < 0)
		goto out;
	json_array_foreach(json_object_get(ans, "assignments"), i, e)
		printf("assigned %s\n", json_string_value(e));
	status = 0;
out:
	json_decref(req);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

int
cmd_admin_segments(int argc, char **argv)
{
	const char *cmd = "admin segments";
	json_t *ans = NULL;
	const json_t *e;
	struct client_cfg c;
	struct cli_args a;
	int64_t size, d, s;
	size_t i;
	int r, status = 1;

	r = cli_args_parse(cmd, argc, argv, CLI_O_CONN | CLI_O_JSON, 0, 0,
	    segments_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	if (cli_call_json(cmd, &c, "GET", "/v1/admin/segments", "administration",
	    NULL, &ans) < 0)
		goto out;
	if (a.json) {
		dump(ans);
	} else {
		json_array_foreach(json_object_get(ans, "segments"), i, e) {
			size = d = s = 0;
			(void)cli_jint(e, "size", &size);
			(void)cli_jint(e, "duration_ms", &d);
			(void)cli_jint(e, "sensitivity", &s);
			printf("%s  %s  %s  %10" PRId64 "  %6.1fs  s%" PRId64 "\n",
			    cli_jstr(e, "id"), cli_jstr(e, "subject"), cli_jstr(e, "day"),
			    size, (double)d / 1000.0, s);
		}
	}
	status = 0;
out:
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

static const char training_usage[] =
    "usage: usetrace training steps --export NAME [connection]\n\n"
    "For trainers: the approved segments' actions, one episode a JSON line\n"
    "({\"episode\", \"subject\", \"sensitivity\", \"actions\": [...]}),\n"
    "pseudonymised for the export NAME: the same person has one id within\n"
    "an export and unrelated ids in another.  Only segments a reviewer\n"
    "approved, that their person has not withdrawn, at or below the\n"
    "policy's export sensitivity.  Every episode read is in the audit log.\n\n"
    "options:\n"
    "  --export NAME   1-48 characters of A-Z a-z 0-9 . _ -\n" CONN_HELP;

int
cmd_training(int argc, char **argv)
{
	const char *cmd = "training steps";
	struct client_resp rr;
	struct client_cfg c;
	struct cli_args a;
	char path[160];
	int r;

	if (argc < 2 || strcmp(argv[1], "steps") != 0) {
		if (cli_wants_help(argc, argv)) {
			fputs(training_usage, stdout);
			return 0;
		}
		log_error("training: expected 'steps'");
		fputs(training_usage, stderr);
		return EXIT_USAGE;
	}
	r = cli_args_parse(cmd, argc - 1, argv + 1, CLI_O_CONN | CLI_O_EXPORT, 0, 0,
	    training_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (a.export_name == NULL || a.export_name[0] == '\0' ||
	    strlen(a.export_name) > 48 ||
	    strspn(a.export_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != strlen(a.export_name)) {
		log_error("%s: --export NAME (1-48 characters of A-Z a-z 0-9 . _ -) "
		    "is required", cmd);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/training/steps?export=%s", a.export_name);
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	r = cli_call(cmd, &c, "GET", path, "training", NULL, 256u << 20, &rr);
	if (r == 0) {
		if (rr.len > 0)
			fwrite(rr.body, 1, rr.len, stdout);
		client_resp_free(&rr);
	}
	client_cfg_finish(&c);
	return r < 0;
}
