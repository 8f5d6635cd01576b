/*
 * cmd_export.c - `usetrace export`: a training dataset from a person's own
 * recording (--local), in one of the formats of export.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/consent.h"
#include "usetrace/err.h"
#include "usetrace/export.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace export --local RECORDING --out DIR --format F\n"
	    "                       [--idle-split SECONDS] [--passphrase-file F] [--quiet]\n\n"
	    "Writes the actions of your own recording, with the frame you saw\n"
	    "before each one, as a training dataset in DIR (created; must not\n"
	    "exist or be empty), with MANIFEST.sha256 and DATACARD.md/.json.\n"
	    "Episodes end at a new recording session, after an idle gap\n"
	    "(default 300 s) and when the focused application changes.\n"
	    "Formats (docs/EXPORT.md):\n"
	    "  jsonl       usetrace's own: steps.jsonl + frames/\n"
	    "  webdataset  tar shards of KEY.png + KEY.json\n"
	    "  pyautogui   AgentNet/OpenCUA-style pyautogui code, 0..1 coordinates\n"
	    "  osworld     OSWorld computer_13 action dicts\n"
	    "  anthropic   Anthropic computer_20250124 tool calls\n"
	    "Contributor and consent ids are keyed hashes made for this export\n"
	    "alone; no wall-clock date is written.  An export is a copy: erasing\n"
	    "the recording later does not reach it.\n"
	    "(Exports of reviewed data from a server are `usetrace training`.)\n");
}

int
cmd_export(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "local", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "idle-split", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_local_opts eo;
	struct spool_reader *rd = NULL;
	struct ut_recipient_key *rk = NULL;
	struct consent cs;
	const char *fmt = NULL, *passfile = NULL;
	char home[4096];
	uint64_t idle = 0;
	int ch, r;

	memset(&eo, 0, sizeof(eo));
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'l':
			eo.recording = optarg;
			break;
		case 'o':
			eo.outdir = optarg;
			break;
		case 'f':
			fmt = optarg;
			break;
		case 'i':
			if (ut_parse_u64(optarg, &idle) < 0 || idle == 0 || idle > 86400) {
				log_error("export: --idle-split wants seconds (1..86400)");
				return EXIT_USAGE;
			}
			eo.idle_split_s = (uint32_t)idle;
			break;
		case 'P':
			passfile = optarg;
			break;
		case 'q':
			eo.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("export: option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("export: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("export: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (eo.recording == NULL || eo.outdir == NULL || fmt == NULL) {
		log_error("export: expected --local RECORDING, --out DIR and --format F");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (export_format_parse(fmt, &eo.format) != 0) {
		log_error("export: unknown format '%s' (jsonl, webdataset, pyautogui, "
		    "osworld, anthropic)", fmt);
		return EXIT_USAGE;
	}
	if (cli_open_recording("export", eo.recording, passfile, &rd, &rk) < 0)
		return 1;
	spool_reader_close(rd); /* the export opens its own reader */
	if (keys_home(home, sizeof(home), false) == 0 && consent_load(home, &cs) == 0) {
		eo.consent_id = cs.id;
		eo.policy_hash = cs.policy_hash;
	}
	eo.key = rk;
	r = export_local_recording(&eo);
	keys_recipient_free(rk);
	if (r == UT_ESTATE) {
		log_error("export: %s exists and is not an empty directory", eo.outdir);
		return 1;
	}
	if (r == UT_EEMPTY) {
		log_error("export: %s holds no actions to export", eo.recording);
		return 1;
	}
	if (r != 0) {
		log_error("export: %s", ut_strerror(r));
		return 1;
	}
	return 0;
}
