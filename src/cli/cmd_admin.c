/*
 * cmd_admin.c - `usetrace admin principal add|list|revoke` (and the
 * dispatch to cmd_review.c's assign/segments and cmd_admin_ctl.c's
 * pause/resume/pause-status/policy): an
 * administrator manages who may use the server (purpose administration).
 * Administrators read no recorded content; these commands see names,
 * roles and times only.  A new principal's claim code is printed once for
 * the administrator to hand over; the token it becomes is never theirs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/log.h"
#include "cli_int.h"

#define PURPOSE "administration"

static const char admin_usage[] =
    "usage: usetrace admin principal add NAME --role ROLE\n"
    "       usetrace admin principal list [--json]\n"
    "       usetrace admin principal revoke NAME\n"
    "       usetrace admin principal reissue NAME\n"
    "       usetrace admin segments [--json]\n"
    "       usetrace admin assign SEGMENT REVIEWER | --share F REVIEWER\n"
    "       usetrace admin pause [DURATION] | resume | pause-status\n"
    "       usetrace admin policy publish FILE | list | show N\n\n"
    "Manages the server's principals (role admin).  'add' prints a\n"
    "single-use claim code, 'claim CODE', valid for 7 days, which the\n"
    "person turns into their own token with 'usetrace login'.  'revoke'\n"
    "stops the principal's tokens, codes and devices at once.\n\n"
    "Every subcommand takes --server URL --token TOKEN --pin PIN (default:\n"
    "$USETRACE_SERVER, $USETRACE_TOKEN, $USETRACE_PIN, else your saved\n"
    "login).  Run 'usetrace admin principal SUBCOMMAND --help' for more.\n";

static const char add_usage[] =
    "usage: usetrace admin principal add NAME --role ROLE [connection]\n\n"
    "Creates a principal and prints 'claim CODE'.  NAME: 1-63 characters of\n"
    "A-Z a-z 0-9 . _ @ -.  ROLE: subject, reviewer, trainer, admin or\n"
    "auditor.\n\n"
    "options:\n"
    "  --role ROLE\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static const char list_usage[] =
    "usage: usetrace admin principal list [--json] [connection]\n\n"
    "Lists the principals: name, role, created, revoked.  No tokens and no\n"
    "subject pseudonyms are shown (the server does not give them).\n\n"
    "options:\n"
    "  --json    the server's JSON answer\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static const char reissue_usage[] =
    "usage: usetrace admin principal reissue NAME [connection]\n\n"
    "Makes a new claim code for an existing principal who lost their token.\n"
    "Prints 'claim CODE'.  The person sees it in 'usetrace my audit'; the\n"
    "code works 24 hours after it was made, or as soon as the person\n"
    "confirms it ('usetrace my confirm-claim ID'), so nobody can silently\n"
    "take over a person's identity.\n\n"
    "options:\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static const char revoke_usage[] =
    "usage: usetrace admin principal revoke NAME [connection]\n\n"
    "Revokes a principal: its tokens, codes and devices stop working now.\n\n"
    "options:\n"
    "  --server URL --token TOKEN --pin PIN\n"
    "  -h, --help\n";

static int
name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._@-", s[i]) != NULL))
			return 0;
	return 1;
}

static int
role_ok(const char *s)
{
	static const char *const roles[] = { "subject", "reviewer", "trainer",
		"admin", "auditor" };
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(s, roles[i]) == 0)
			return 1;
	return 0;
}

static void
print_list(const json_t *ans)
{
	const json_t *p, *arr = json_object_get(ans, "principals");
	char created[32], revoked[32];
	int64_t c, r;
	size_t i;

	json_array_foreach(arr, i, p) {
		const char *name = cli_jstr(p, "name"), *role = cli_jstr(p, "role");

		if (cli_jint(p, "created_ns", &c) < 0)
			c = 0;
		if (cli_jint(p, "revoked_ns", &r) < 0)
			r = 0;
		cli_fmt_time(c, created, sizeof(created));
		cli_fmt_time(r, revoked, sizeof(revoked));
		printf("%-24s %-9s created %s%s%s\n", name ? name : "?",
		    role ? role : "?", created, r > 0 ? "  revoked " : "",
		    r > 0 ? revoked : "");
	}
}

static int
principal(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : NULL;
	struct client_cfg c;
	struct cli_args a;
	json_t *req = NULL, *ans = NULL;
	char path[128], cmd[64];
	const char *usage;
	unsigned allowed = CLI_O_CONN;
	int npos = 1, r, status = 1;

	if (sub == NULL || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(admin_usage, sub ? stdout : stderr);
		return sub ? 0 : EXIT_USAGE;
	}
	if (strcmp(sub, "add") == 0) {
		usage = add_usage;
		allowed |= CLI_O_ROLE;
	} else if (strcmp(sub, "list") == 0) {
		usage = list_usage;
		allowed |= CLI_O_JSON;
		npos = 0;
	} else if (strcmp(sub, "revoke") == 0) {
		usage = revoke_usage;
	} else if (strcmp(sub, "reissue") == 0) {
		usage = reissue_usage;
	} else {
		log_error("admin principal: unknown subcommand '%s'", sub);
		fputs(admin_usage, stderr);
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "admin principal %s", sub);
	r = cli_args_parse(cmd, argc, argv, allowed, npos, npos, usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (npos == 1 && !name_ok(a.pos[0])) {
		log_error("%s: a name is 1-63 characters of A-Z a-z 0-9 . _ @ -",
		    cmd);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "add") == 0 && (a.role == NULL || !role_ok(a.role))) {
		log_error("%s: --role subject|reviewer|trainer|admin|auditor is "
		    "required", cmd);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	if (strcmp(sub, "add") == 0) {
		req = json_pack("{s:s, s:s}", "name", a.pos[0], "role", a.role);
		if (cli_call_json(cmd, &c, "POST", "/v1/admin/principals", PURPOSE,
		    req, &ans) < 0)
			goto out;
		if (cli_jstr(ans, "claim") == NULL) {
			log_error("%s: the server's answer holds no claim code", cmd);
			goto out;
		}
		printf("claim %s\n", cli_jstr(ans, "claim"));
	} else if (strcmp(sub, "list") == 0) {
		if (cli_call_json(cmd, &c, "GET", "/v1/admin/principals", PURPOSE,
		    NULL, &ans) < 0)
			goto out;
		if (a.json) {
			json_dumpf(ans, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			print_list(ans);
		}
	} else if (strcmp(sub, "reissue") == 0) {
		char when[40];
		int64_t t = 0;

		snprintf(path, sizeof(path), "/v1/admin/principals/%s/reissue-claim",
		    a.pos[0]);
		if (cli_call_json(cmd, &c, "POST", path, PURPOSE, NULL, &ans) < 0)
			goto out;
		(void)cli_jint(ans, "works_from_ns", &t);
		cli_fmt_time(t, when, sizeof(when));
		printf("claim %s\nworks from %s, or once %s confirms it (claim id %s)\n",
		    cli_jstr(ans, "claim") ? cli_jstr(ans, "claim") : "?", when,
		    a.pos[0], cli_jstr(ans, "claim_id") ? cli_jstr(ans, "claim_id") : "?");
	} else {
		snprintf(path, sizeof(path), "/v1/admin/principals/%s/revoke",
		    a.pos[0]);
		if (cli_call_json(cmd, &c, "POST", path, PURPOSE, NULL, &ans) < 0)
			goto out;
		printf("revoked %s\n", a.pos[0]);
	}
	status = 0;
out:
	json_decref(req);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}

int
cmd_admin(int argc, char **argv)
{
	if (argc < 2) {
		log_error("admin: which? admin principal add|list|revoke, admin "
		    "segments, admin assign, admin pause|resume|pause-status, "
		    "admin policy");
		fputs(admin_usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(admin_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "assign") == 0)
		return cmd_admin_assign(argc - 1, argv + 1);
	if (strcmp(argv[1], "segments") == 0)
		return cmd_admin_segments(argc - 1, argv + 1);
	if (strcmp(argv[1], "pause") == 0 || strcmp(argv[1], "resume") == 0 ||
	    strcmp(argv[1], "pause-status") == 0 || strcmp(argv[1], "policy") == 0)
		return cmd_admin_ctl(argc - 1, argv + 1);
	if (strcmp(argv[1], "principal") != 0) {
		log_error("admin: unknown subcommand '%s'", argv[1]);
		fputs(admin_usage, stderr);
		return EXIT_USAGE;
	}
	return principal(argc - 2, argv + 2);
}
