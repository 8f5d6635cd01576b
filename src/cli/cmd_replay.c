/*
 * cmd_replay.c - `usetrace replay EXPORT --episode N`: performs an exported
 * episode on a display through XTEST (export.h: export_replay).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace replay EXPORT --episode N [--dry-run] [--display DPY]\n"
	    "                       [--speed X] [--max-gap MS] [--stop-key KEYSYM]\n\n"
	    "Performs the actions of episode N of an export (jsonl, pyautogui,\n"
	    "osworld or anthropic) on the display through XTEST, at the recorded\n"
	    "pace times X (default 1), waiting at most MS between steps (default\n"
	    "2000).  Press the stop key (default Pause) to stop at once.\n"
	    "--dry-run prints the steps instead.  The actions go to whatever\n"
	    "window has focus: use a display you can spare.\n");
}

int
cmd_replay(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "episode", required_argument, NULL, 'e' },
		{ "display", required_argument, NULL, 'd' },
		{ "speed", required_argument, NULL, 's' },
		{ "max-gap", required_argument, NULL, 'g' },
		{ "stop-key", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct replay_opts o;
	uint64_t v;
	char *end;
	int ch, r;

	memset(&o, 0, sizeof(o));
	o.speed = 1.0;
	o.max_gap_ms = 2000;
	o.key_delay_ms = 12;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'e':
			if (ut_parse_u64(optarg, &v) < 0 || v == 0 || v > 100000000) {
				log_error("replay: --episode wants a number from 1");
				return EXIT_USAGE;
			}
			o.episode = (unsigned)v;
			break;
		case 'd':
			o.display = optarg;
			break;
		case 's':
			o.speed = strtod(optarg, &end);
			if (*end != '\0' || !(o.speed >= 0.05 && o.speed <= 100)) {
				log_error("replay: --speed wants a factor from 0.05 to 100");
				return EXIT_USAGE;
			}
			break;
		case 'g':
			if (ut_parse_u64(optarg, &v) < 0 || v > 600000) {
				log_error("replay: --max-gap wants milliseconds (0..600000)");
				return EXIT_USAGE;
			}
			o.max_gap_ms = (uint32_t)v;
			break;
		case 'k':
			o.stop_key = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("replay: option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("replay: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || o.episode == 0) {
		log_error("replay: expected an export directory and --episode N");
		usage(stderr);
		return EXIT_USAGE;
	}
	o.dir = argv[optind];
	r = export_replay(&o);
	if (r == UT_ENOTFOUND)
		log_error("replay: %s has no episode %u (or no steps.jsonl / "
		    "episodes.jsonl)", o.dir, o.episode);
	else if (r == UT_EINVAL)
		log_error("replay: unknown stop key '%s'", o.stop_key);
	else if (r == UT_ESTATE)
		log_error("replay: stopped by the stop key");
	else if (r != 0)
		log_error("replay: %s", ut_strerror(r));
	return r == 0 ? 0 : 1;
}
