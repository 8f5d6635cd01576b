/*
 * main.c - `usetrace`: dispatch to the subcommands.  Like curl's src/,
 * the CLI uses only the public headers of libusetrace.
 */
#include <stdio.h>
#include <string.h>

#include "ut_config.h"
#include "usetrace/log.h"
#include "cli_int.h"

struct cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct cmd cmds[] = {
	{ "consent", cmd_consent, "read the notice and give (or withdraw) consent" },
	{ "notice", cmd_notice, "write the notice generated from a policy" },
	{ "record", cmd_record, "run the agent: record the X display into a directory" },
	{ "status", cmd_status, "is usetrace recording, paused, or not (and why)?" },
	{ "pause", cmd_pause, "pause recording now (usetrace pause [DURATION])" },
	{ "resume", cmd_resume, "end a pause now" },
	{ "indicator", cmd_indicator, "the on-screen recording indicator (started by record)" },
	{ "frames", cmd_frames, "write the stored screen frames as PNG files" },
	{ "replay", cmd_replay, "perform an exported episode on a display (XTEST)" },
	{ "task", cmd_task, "mark the start and end of a task in the running recording" },
	{ "export", cmd_export, "write a training dataset (jsonl, webdataset, pyautogui, osworld, anthropic)" },
	{ "show", cmd_show, "print the actions (or raw records) of a recording" },
	{ "scan", cmd_scan, "find secrets and personal data in JSON lines of text" },
	{ "spool", cmd_spool, "check a spool's segments without decrypting (spool check DIR)" },
	{ "serve", cmd_serve, "run the server (serve --data DIR)" },
	{ "audit", cmd_audit, "verify the server's audit log offline (audit verify --data DIR)" },
	{ "login", cmd_login, "log in to a server with a claim code (login URL --claim C --pin P)" },
	{ "my", cmd_my, "your data on the server: list, show, frames, erase, audit, devices" },
	{ "admin", cmd_admin, "manage the server's principals and review assignments" },
	{ "review", cmd_review, "review the segments assigned to you (queue, show, approve, reject)" },
	{ "training", cmd_training, "approved, pseudonymised episodes (training steps --export NAME)" },
	{ "enroll", cmd_enroll, "enroll this device with a server (enroll URL --code C --pin P)" },
	{ "upload", cmd_upload, "upload a recording's closed segments now (upload DIR)" },
	{ "list", cmd_list, "the recordings on this device: time span, size, segments" },
	{ "keys", cmd_keys, "your keys: change the passphrase (keys passwd), show them" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: usetrace <command> [options]\n\n"
	    "usetrace records how a person uses their computer, with their\n"
	    "consent, and turns it into training data.  It is never covert.\n\n"
	    "commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\noptions:\n"
	    "  -h, --help     this list (also: usetrace help)\n"
	    "  -V, --version  the version of usetrace\n"
	    "\nRun 'usetrace help <command>' or 'usetrace <command> --help' for a\n"
	    "command's options.  Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* `usetrace help [COMMAND]`: the command's own --help. */
static int
help(int argc, char **argv)
{
	char *av[3];
	size_t i;

	if (argc < 3) {
		usage(stdout);
		return 0;
	}
	if (argc > 3) {
		log_error("help: one command at a time");
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[2], cmds[i].name) == 0) {
			av[0] = argv[2];
			av[1] = (char *)"--help";
			av[2] = NULL;
			return cmds[i].fn(2, av);
		}
	}
	log_error("help: unknown command '%s'", argv[2]);
	usage(stderr);
	return EXIT_USAGE;
}

int
cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	size_t i;

	ut_log_set_progname("usetrace");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return help(argc, argv);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("usetrace %s\n", UT_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	}
	log_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
