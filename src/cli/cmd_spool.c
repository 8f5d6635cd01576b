/*
 * cmd_spool.c - `usetrace spool check DIR`: lists the segments of a spool
 * with their state (open, closed, recovered, corrupt) and verifies header
 * signatures, checkpoints, the frame chain and trailers, without any
 * decryption key (spool_check()).  Exit status: 0 all verified, 1 some
 * segment corrupt or the directory unreadable, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace spool check DIR [--device PUBKEY]\n\n"
	    "Lists the segments of the spool DIR with their state (open, closed,\n"
	    "recovered, corrupt) and verifies the device's signatures, every\n"
	    "checkpoint against the frame chain, and the trailers.  Needs no\n"
	    "decryption key.  Exits 1 if any segment is corrupt.\n\n"
	    "options:\n"
	    "  --device PUBKEY  the device that must have written DIR (base64 or\n"
	    "                   hex; default: the device of the first segment;\n"
	    "                   a device's key is in its key home, device.pub)\n"
	    "  -h, --help\n");
}

static int
print_seg(const struct spool_seg_info *si, void *arg)
{
	char dev[UT_PUBKEY_TEXT_MAX];

	(void)arg;
	keys_pubkey_format(si->device_pk, dev, sizeof(dev));
	printf("%-24s %-9s frames=%" PRIu64 " checkpoints=%" PRIu64
	    " bytes=%" PRIu64 " verified=%" PRIu64, si->name,
	    spool_seg_state_name(si->state), si->frames, si->checkpoints,
	    si->bytes, si->verified_bytes);
	if (si->state == SPOOL_SEG_CORRUPT)
		printf(" error=\"%s\"", ut_strerror(si->err));
	else if (si->bytes > si->verified_bytes)
		printf(" unverified_tail=%" PRIu64, si->bytes - si->verified_bytes);
	if (si->device_pk[0] | si->device_pk[31])
		printf(" device=%s", dev);
	putchar('\n');
	return 0;
}

int
cmd_spool(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t dev[32];
	const uint8_t *devp = NULL;
	unsigned bad = 0;
	int ch, r;

	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		if (cli_wants_help(argc, argv)) {
			usage(stdout);
			return 0;
		}
		log_error("spool: expected 'check'");
		usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'D':
			if (keys_pubkey_parse(optarg, dev) < 0) {
				log_error("spool check: --device: not a public key");
				return EXIT_USAGE;
			}
			devp = dev;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			log_error("spool check: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_error("spool check: expected one spool directory");
		usage(stderr);
		return EXIT_USAGE;
	}
	r = spool_check(argv[optind], devp, print_seg, NULL, &bad);
	fflush(stdout);
	if (r == UT_ENOTFOUND) {
		log_error("spool check: %s holds no segment", argv[optind]);
		return 1;
	}
	if (r < 0) {
		log_error("spool check: cannot read %s: %s", argv[optind],
		    ut_strerror(r));
		return 1;
	}
	if (bad > 0) {
		log_error("spool check: %u corrupt segment(s) in %s", bad,
		    argv[optind]);
		return 1;
	}
	return 0;
}
