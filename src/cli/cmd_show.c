/*
 * cmd_show.c - `usetrace show`: a recording as the action timeline (text
 * or JSON lines), or as raw records (--raw).  Actions come from the one
 * library reduction (action.h) so every reader sees the same thing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/action.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace show DIR [--json | --raw] [--passphrase-file F]\n\n"
	    "Prints what was recorded in DIR: the timeline of actions (click,\n"
	    "double_click, triple_click, drag, scroll, type, hotkey, key, move)\n"
	    "with the focused application and window title.  The recording is\n"
	    "decrypted with your recipient key, unlocked by your passphrase.\n\n"
	    "options:\n"
	    "  --json    one JSON object per action (docs/FORMAT.md)\n"
	    "  --raw     one JSON object per raw record\n"
	    "  --passphrase-file F  read the passphrase from F (default:\n"
	    "            $USETRACE_PASSPHRASE_FILE, else ask on the terminal)\n"
	    "  -h, --help\n");
}

struct show_ctx {
	int json;
	uint64_t n;
};

static int
on_action(const struct ut_action *a, void *arg)
{
	struct show_ctx *sc = arg;

	sc->n++;
	if (sc->json) {
		action_print_json(stdout, a);
		fputc('\n', stdout);
	} else
		action_print_text(stdout, a);
	return 0;
}

int
cmd_show(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "raw", no_argument, NULL, 'r' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct spool_reader *rd = NULL;
	struct ut_recipient_key *rk = NULL;
	const char *passfile = NULL;
	struct action_reducer *ar = NULL;
	struct spool_read_stats rs;
	struct show_ctx sc = { 0, 0 };
	struct ut_event ev;
	uint64_t start_mono = 0;
	int ch, raw = 0, r, status = 1, have_start = 0, bad = 0;
	const char *dir;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'j':
			sc.json = 1;
			break;
		case 'r':
			raw = 1;
			break;
		case 'P':
			passfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("show: option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("show: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (sc.json && raw) {
		log_error("show: --json and --raw: give one, not both");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc - optind != 1) {
		log_error("show: expected one recording directory");
		usage(stderr);
		return EXIT_USAGE;
	}
	dir = argv[optind];
	if (cli_open_recording("show", dir, passfile, &rd, &rk) < 0)
		return 1;
	if (!raw)
		ar = action_reducer_create(NULL, on_action, &sc);
	for (;;) {
		r = spool_reader_next(rd, &ev);
		if (r == 0)
			break;
		if (r < 0) {
			/* Once per problem, naming the segment and what it is. */
			log_error("show: %s/%s", dir, spool_reader_error(rd));
			bad++;
			continue;
		}
		if (!have_start && ev.type == UT_EV_SESSION) {
			start_mono = ev.mono_ns;
			have_start = 1;
		}
		if (raw)
			event_print_json(stdout, &ev, start_mono);
		else if ((r = action_reducer_push(ar, &ev)) != 0)
			goto out;
	}
	if (ar != NULL && (r = action_reducer_finish(ar)) != 0)
		goto out;
	spool_reader_stats(rd, &rs);
	if (rs.open_segments > 0 || rs.torn_tails > 0)
		log_warn("show: %s was not closed cleanly (%u open segment(s), "
		    "%u torn tail(s) of a crash); showing every intact record",
		    dir, rs.open_segments, rs.torn_tails);
	if (bad > 0)
		log_error("show: %s: %d problem(s) above; every verified record "
		    "was shown, nothing unverified", dir, bad);
	if (!raw && !sc.json)
		printf("-- %llu actions from %llu records in %u segment(s)\n",
		    (unsigned long long)sc.n, (unsigned long long)rs.records,
		    rs.segments);
	status = bad ? 1 : 0;
out:
	fflush(stdout);
	action_reducer_destroy(ar);
	spool_reader_close(rd);
	keys_recipient_free(rk);
	return status;
}
