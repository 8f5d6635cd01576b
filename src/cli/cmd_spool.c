/*
 * cmd_spool.c - `usetrace spool check DIR`: lists the segments of a spool
 * with their state (open, closed, recovered, corrupt) and verifies header
 * signatures, checkpoints, the frame chain and trailers, without any
 * decryption key (spool_check()).  `usetrace spool check --stored FILE...`
 * verifies segment blobs in the server's stored form the same way
 * (spool_upload_verify(), docs/FORMAT.md section 2.1).  Exit status: 0 all
 * verified, 1 some segment corrupt or unreadable, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace spool check DIR [--device PUBKEY]\n"
	    "       usetrace spool check --stored [--device PUBKEY] FILE...\n\n"
	    "Lists the segments of the spool DIR with their state (open, closed,\n"
	    "recovered, corrupt) and verifies the device's signatures, every\n"
	    "checkpoint against the frame chain, the trailers, and each segment's\n"
	    "link to the one before (a missing, reordered or substituted\n"
	    "segment).  The tail a crash leaves in an open segment is reported\n"
	    "as torn_tail; damage a crash cannot cause is corrupt.  Needs no\n"
	    "decryption key.  Exits 1 if any segment is corrupt or not linked.\n\n"
	    "With --stored, verifies each FILE as one segment blob in the\n"
	    "server's stored form (sealed key replaced by its hash): it must be\n"
	    "complete and closed.  One line per FILE; exits 1 if any is bad.\n\n"
	    "options:\n"
	    "  --device PUBKEY  the device that must have written DIR or every\n"
	    "                   FILE (base64 or hex; default for DIR: the device\n"
	    "                   of the first segment, for FILEs: any device;\n"
	    "                   a device's key is in its key home, device.pub)\n"
	    "  --stored         check stored-form segment files, not a spool\n"
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
		printf(" error=\"%s\"", si->why[0] != '\0' ? si->why :
		    ut_strerror(si->err));
	else if (si->bytes > si->verified_bytes)
		printf(" %s=%" PRIu64, si->torn_tail ? "torn_tail" :
		    "unverified_tail", si->bytes - si->verified_bytes);
	if (si->link != SPOOL_LINK_OK)
		printf(" link=\"%s\"", spool_link_name(si->link));
	if (si->device_pk[0] | si->device_pk[31])
		printf(" device=%s", dev);
	putchar('\n');
	return 0;
}

/* Largest stored segment read (a spool reader's cap). */
#define STORED_FILE_MAX (256u << 20)

/* Verifies and prints one stored-form blob; true when it verified. */
static bool
check_stored(const char *path, const uint8_t *devp)
{
	struct spool_upload_info info;
	char dev[UT_PUBKEY_TEXT_MAX];
	unsigned char *img = NULL;
	size_t len = 0;
	int r;

	memset(&info, 0, sizeof(info));
	r = fsio_read_file(path, STORED_FILE_MAX, &img, &len);
	if (r == 0)
		r = spool_upload_verify(img, len, true, devp, &info);
	free(img);
	printf("%-24s %-9s frames=%" PRIu64 " bytes=%zu", path,
	    r == 0 ? (info.recovered ? "recovered" : "closed") :
	    r == UT_ESTATE ? "open" : "corrupt", info.frames, len);
	if (r < 0) {
		printf(" error=\"%s\"\n", ut_strerror(r));
		return false;
	}
	keys_pubkey_format(info.device_pk, dev, sizeof(dev));
	printf(" segment_no=%" PRIu64 " device=%s\n", info.segment_no, dev);
	return true;
}

int
cmd_spool(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "stored", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t dev[32];
	const uint8_t *devp = NULL;
	unsigned bad = 0;
	bool stored = false;
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
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'D':
			if (keys_pubkey_parse(optarg, dev) < 0) {
				log_error("spool check: --device: not a public key");
				return EXIT_USAGE;
			}
			devp = dev;
			break;
		case 'S':
			stored = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("spool check: option '%s' needs a value",
			    argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("spool check: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (stored) {
		if (argc - optind < 1) {
			log_error("spool check: --stored: expected segment files");
			usage(stderr);
			return EXIT_USAGE;
		}
		for (; optind < argc; optind++)
			if (!check_stored(argv[optind], devp))
				bad++;
		fflush(stdout);
		if (bad > 0) {
			log_error("spool check: %u bad stored segment(s)", bad);
			return 1;
		}
		return 0;
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
		log_error("spool check: %u segment(s) of %s corrupt or not linked "
		    "to the one before", bad, argv[optind]);
		return 1;
	}
	return 0;
}
