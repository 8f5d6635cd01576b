/*
 * cmd_task.c - `usetrace task begin "INSTRUCTION"` and `usetrace task end
 * [--success|--fail]`: task marks in the running recording (the episodes of
 * an export).  The agent redacts the instruction like a window title.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "cli_int.h"

#define INSTRUCTION_MAX 200

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace task begin \"INSTRUCTION\"\n"
	    "       usetrace task end [--success|--fail]\n\n"
	    "Marks the start and the end of a task in the running recording.\n"
	    "An export makes each marked task one episode with its instruction\n"
	    "and outcome; the recorder scans the instruction for secrets and\n"
	    "personal data like a window title.  Works only while recording.\n");
}

int
cmd_task(int argc, char **argv)
{
	char path[256], req[CONTROL_LINE_MAX], reply[CONTROL_LINE_MAX];
	json_t *j = NULL;
	const char *outcome = "unknown";
	int r, i;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "begin") == 0) {
		if (argv[2][0] == '\0' || strlen(argv[2]) > INSTRUCTION_MAX ||
		    strchr(argv[2], '\n') != NULL || strchr(argv[2], '\r') != NULL) {
			log_error("task: the instruction must be one line of 1..%d bytes",
			    INSTRUCTION_MAX);
			return EXIT_USAGE;
		}
		snprintf(req, sizeof(req), "task begin %s", argv[2]);
	} else if (argc >= 2 && argc <= 3 && strcmp(argv[1], "end") == 0) {
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--success") == 0)
				outcome = "success";
			else if (strcmp(argv[i], "--fail") == 0)
				outcome = "failure";
			else {
				log_error("task: unknown option '%s'", argv[i]);
				usage(stderr);
				return EXIT_USAGE;
			}
		}
		snprintf(req, sizeof(req), "task end %s", outcome);
	} else {
		log_error("task: expected 'begin \"INSTRUCTION\"' or 'end [--success|--fail]'");
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((r = control_socket_path(path, sizeof(path), 0)) < 0 ||
	    (r = control_request(path, req, reply, sizeof(reply), 5000)) < 0) {
		log_error("task: no recorder answers (%s): start `usetrace record`",
		    ut_strerror(r));
		return 1;
	}
	if (control_decode(reply, &j) < 0 || !control_reply_is_ok(j)) {
		log_error("task: the recorder refused: %s", reply);
		json_decref(j);
		return 1;
	}
	json_decref(j);
	printf("task %s\n", argv[1]);
	return 0;
}
