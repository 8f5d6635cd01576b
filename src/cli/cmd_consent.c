/*
 * cmd_consent.c - `usetrace notice` (the notice generated from a policy)
 * and `usetrace consent` (show the notice, record or withdraw consent,
 * and tell a running agent).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "usetrace/consent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "cli_int.h"

static int
load(const char *path, struct policy **p)
{
	char err[256];

	if (policy_load(path, p, err, sizeof(err)) < 0) {
		log_error("policy %s: %s", path ? path : "(built-in default)", err);
		return -1;
	}
	return 0;
}

static int
write_file(const char *dir, const char *name, const struct policy *p, int html)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		log_error("notice: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (html)
		policy_notice_html(p, f);
	else
		policy_notice_text(p, f);
	if (fclose(f) != 0) {
		log_error("notice: writing %s failed: %s", path, strerror(errno));
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

int
cmd_notice(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "html", no_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy *p = NULL;
	const char *out = NULL;
	int ch, html = 0, r = 0;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (ch) {
		case 'H':
			html = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("usage: usetrace notice [POLICY] [--html | --out DIR]\n\n"
			    "Writes the notice for the people recorded, generated from\n"
			    "the policy (default: the built-in policy): text on stdout,\n"
			    "HTML with --html, or notice.txt and notice.html in DIR.\n");
			return 0;
		default:
			log_error("notice: unknown option '%s'", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		log_error("notice: expected at most one policy file");
		return EXIT_USAGE;
	}
	if (load(optind < argc ? argv[optind] : NULL, &p) < 0)
		return 1;
	if (out != NULL) {
		if (write_file(out, "notice.txt", p, 0) < 0 ||
		    write_file(out, "notice.html", p, 1) < 0)
			r = 1;
	} else if (html)
		policy_notice_html(p, stdout);
	else
		policy_notice_text(p, stdout);
	policy_destroy(p);
	return r;
}

/* Tells a running agent to re-read consent; silent when none runs. */
static void
tell_agent(void)
{
	char path[256], reply[CONTROL_LINE_MAX];

	if (control_socket_path(path, sizeof(path), 0) < 0)
		return;
	if (control_request(path, "consent", reply, sizeof(reply), 5000) == 0)
		printf("the running agent was told%s\n",
		    strstr(reply, "\"recording\":true") ? " and is recording" :
		    " and is not recording");
}

static int
ask_yes(void)
{
	char line[64];
	FILE *tty = fopen("/dev/tty", "r+");

	if (tty == NULL)
		return -1;
	fprintf(tty, "\nType 'yes' to consent to recording under this policy: ");
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL) {
		fclose(tty);
		return 0;
	}
	fclose(tty);
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "yes") == 0;
}

int
cmd_consent(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "yes", no_argument, NULL, 'y' },
		{ "withdraw", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy *p = NULL;
	struct consent c;
	const char *policy = NULL;
	char home[4096];
	int ch, yes = 0, withdraw = 0, r, status = 1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":hp:", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			policy = optarg;
			break;
		case 'y':
			yes = 1;
			break;
		case 'w':
			withdraw = 1;
			break;
		case 'h':
			printf("usage: usetrace consent [--policy FILE] [--yes | --withdraw]\n\n"
			    "Shows the notice generated from the policy and records your\n"
			    "consent to exactly this policy (asked on the terminal, or\n"
			    "--yes after the notice is printed). Nothing is recorded\n"
			    "without it, and a changed policy needs new consent.\n"
			    "--withdraw withdraws consent: a running agent stops at once.\n");
			return 0;
		case ':':
			log_error("consent: option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("consent: unknown option '%s'", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (yes && withdraw)) {
		log_error("consent: use either --yes or --withdraw, and no other arguments");
		return EXIT_USAGE;
	}
	if ((r = keys_home(home, sizeof(home), true)) < 0) {
		log_error("consent: no place to keep it: %s", ut_strerror(r));
		return 1;
	}
	if (withdraw) {
		r = consent_withdraw(home);
		if (r < 0 && r != UT_ENOTFOUND) {
			log_error("consent: %s", ut_strerror(r));
			return 1;
		}
		printf("consent withdrawn: nothing more will be recorded\n");
		tell_agent();
		return 0;
	}
	if (load(policy, &p) < 0)
		return 1;
	policy_notice_text(p, stdout);
	fflush(stdout);
	if (!yes) {
		r = ask_yes();
		if (r < 0) {
			log_error("consent: no terminal to ask on; read the notice "
			    "above and run 'usetrace consent --yes'");
			goto out;
		}
		if (r == 0) {
			printf("no consent given: nothing will be recorded\n");
			goto out;
		}
	}
	if ((r = consent_give(home, p, &c)) < 0) {
		log_error("consent: cannot store it in %s: %s", home, ut_strerror(r));
		goto out;
	}
	printf("\nconsent recorded for policy version %" PRIu32 " (%.16s)\n",
	    p->version, p->hash_hex);
	tell_agent();
	status = 0;
out:
	policy_destroy(p);
	return status;
}
