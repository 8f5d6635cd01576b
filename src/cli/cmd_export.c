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
#include "usetrace/policy.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace export --local RECORDING --out DIR --format F [--image png|webp]\n"
	    "                       [--quality Q|lossless] [--idle-split SECONDS]\n"
	    "                       [--passphrase-file F] [--quiet]\n"
	    "       usetrace export --export NAME --out DIR --format F [--image png|webp]\n"
	    "                       [--quality Q|lossless] [--idle-split S] [--quiet]\n"
	    "                       [connection]                    (trainers)\n"
	    "       usetrace export revoke-check DIR [--prune] [connection]\n\n"
	    "With --local: writes the actions of your own recording, with the frame you saw\n"
	    "before each one, as a training dataset in DIR (created; must not\n"
	    "exist or be empty), with MANIFEST.sha256 and DATACARD.md/.json.\n"
	    "Frames are PNG (lossless), or WebP with --image webp at --quality Q\n"
	    "(1-100, default 80) or lossless.\n"
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
	    "\nWith --export NAME (a trainer, through the server): the segments\n"
	    "reviewers approved, pseudonymised for NAME (the same person has one\n"
	    "id within an export, unrelated ids across exports), each read in the\n"
	    "audit log.  revoke-check asks the server which episodes of the\n"
	    "export DIR their people have since erased or withdrawn, prints\n"
	    "\"revoked episode N\" for each, and with --prune removes them and\n"
	    "rewrites MANIFEST.sha256.\n" CONN_HELP);
}

/*
 * The expiry day of a local export: the policy consented to
 * (HOME/consented-policy.yaml, else the built-in one) sets export.expire.
 * out is "" when no policy can be read.
 */
static void
local_expiry(const char *home, char out[11])
{
	struct policy *p = NULL;
	char path[4200], err[256];

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/consented-policy.yaml", home);
	if (home[0] == '\0' || policy_load(path, &p, err, sizeof(err)) < 0)
		if (policy_load(NULL, &p, err, sizeof(err)) < 0)
			return;
	export_expiry_day(ut_now_wall_ns(), p->export_expire_days, out);
	policy_destroy(p);
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
		{ "export", required_argument, NULL, 'x' },
		{ "image", required_argument, NULL, 'm' },
		{ "quality", required_argument, NULL, 'Q' },
		{ "prune", no_argument, NULL, 'p' },
		{ "server", required_argument, NULL, 'S' },
		{ "token", required_argument, NULL, 'T' },
		{ "pin", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_local_opts eo;
	struct spool_reader *rd = NULL;
	struct ut_recipient_key *rk = NULL;
	struct consent cs;
	const char *fmt = NULL, *passfile = NULL, *name = NULL;
	struct cli_args ca;
	bool prune = false, revoke = false;
	char home[4096] = "", expires[11] = "";
	uint64_t idle = 0, q;
	int ch, r;

	memset(&eo, 0, sizeof(eo));
	memset(&ca, 0, sizeof(ca));
	if (argc >= 2 && strcmp(argv[1], "revoke-check") == 0) {
		revoke = true;
		argc--;
		argv++;
	}
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
		case 'x':
			name = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "png") == 0)
				eo.image = EXPORT_IMG_PNG;
			else if (strcmp(optarg, "webp") == 0)
				eo.image = EXPORT_IMG_WEBP;
			else {
				log_error("export: --image png or webp");
				return EXIT_USAGE;
			}
			break;
		case 'Q':
			if (strcmp(optarg, "lossless") == 0) {
				eo.quality = 101;
				break;
			}
			if (ut_parse_u64(optarg, &q) < 0 || q < 1 || q > 100) {
				log_error("export: --quality wants 1-100 or 'lossless'");
				return EXIT_USAGE;
			}
			eo.quality = (int)q;
			break;
		case 'p':
			prune = true;
			break;
		case 'S':
			ca.server = optarg;
			break;
		case 'T':
			ca.token = optarg;
			break;
		case 'I':
			ca.pin = optarg;
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
	if (revoke) {
		if (argc - optind != 1 || eo.recording != NULL || name != NULL ||
		    fmt != NULL || eo.outdir != NULL) {
			log_error("export revoke-check: expected an export directory "
			    "[--prune] [connection]");
			return EXIT_USAGE;
		}
		return cli_export_revoke_check(argv[optind], prune, &ca);
	}
	if (optind != argc) {
		log_error("export: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (prune) {
		log_error("export: --prune goes with revoke-check");
		return EXIT_USAGE;
	}
	if (eo.quality != 0 && eo.image != EXPORT_IMG_WEBP) {
		log_error("export: --quality goes with --image webp");
		return EXIT_USAGE;
	}
	if ((eo.recording == NULL) == (name == NULL) || eo.outdir == NULL ||
	    fmt == NULL) {
		log_error("export: expected --local RECORDING or --export NAME, with "
		    "--out DIR and --format F");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (name != NULL && (strlen(name) == 0 || strlen(name) > 48 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != strlen(name))) {
		log_error("export: --export NAME: 1-48 characters of A-Z a-z 0-9 . _ -");
		return EXIT_USAGE;
	}
	if (export_format_parse(fmt, &eo.format) != 0) {
		log_error("export: unknown format '%s' (jsonl, webdataset, pyautogui, "
		    "osworld, anthropic)", fmt);
		return EXIT_USAGE;
	}
	if (name != NULL) {
		if (export_format_parse(fmt, &eo.format) != 0) {
			log_error("export: unknown format '%s' (jsonl, webdataset, "
			    "pyautogui, osworld, anthropic)", fmt);
			return EXIT_USAGE;
		}
		return cli_export_server(name, eo.outdir, (int)eo.format,
		    (int)eo.image, eo.quality, eo.idle_split_s,
		    eo.quiet, &ca);
	}
	if (cli_open_recording("export", eo.recording, passfile, &rd, &rk) < 0)
		return 1;
	spool_reader_close(rd); /* the export opens its own reader */
	if (keys_home(home, sizeof(home), false) == 0 && consent_load(home, &cs) == 0) {
		eo.consent_id = cs.id;
		eo.policy_hash = cs.policy_hash;
	}
	local_expiry(home, expires);
	eo.expires = expires[0] ? expires : NULL;
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
