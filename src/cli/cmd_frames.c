/*
 * cmd_frames.c - `usetrace frames`: write stored screen frames as PNG
 * files, reassembled from their regions (frameview.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "usetrace/err.h"
#include "usetrace/frameview.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace frames DIR --out OUTDIR [--at SEQ] [--passphrase-file F]\n\n"
	    "Writes the screen frames stored in recording DIR as PNG files\n"
	    "OUTDIR/frame-NNNNNN.png (NNNNNN: the frame id that `show --json`\n"
	    "gives each action). With --at SEQ, writes only the frame the person\n"
	    "saw at raw record SEQ: the newest one completed before it.\n"
	    "The files are written 0600 in OUTDIR (created, or set, 0700).\n");
}

/* The id of the newest frame completed before record `at` (0: none). */
static uint64_t
frame_at(struct spool_reader *rd, uint64_t at)
{
	struct ut_event ev;
	uint32_t xt = 0;
	uint64_t best = 0;
	uint32_t best_t = 0;
	int found = 0, r;

	/* First the server time of record `at`. */
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r > 0 && ev.seq == at) {
			xt = ev.xtime;
			found = 1;
			break;
		}
	}
	if (!found || spool_reader_rewind(rd) < 0)
		return 0;
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0 || ev.type != UT_EV_FRAME || ev.u.frame.part != 0)
			continue;
		if ((int32_t)(ev.u.frame.xtime_done - xt) < 0 &&
		    (best == 0 || (int32_t)(ev.u.frame.xtime_done - best_t) > 0)) {
			best = ev.u.frame.frame_id;
			best_t = ev.u.frame.xtime_done;
		}
	}
	(void)spool_reader_rewind(rd);
	return best;
}

int
cmd_frames(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "at", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct spool_reader *rd = NULL;
	struct ut_recipient_key *rk = NULL;
	struct frame_canvas *fc = NULL;
	struct ut_event ev;
	const char *out = NULL, *passfile = NULL;
	char path[4096];
	const uint8_t *rgb;
	uint64_t at = 0, want = 0, id, written = 0, bad = 0;
	uint32_t w, h;
	uint8_t *png = NULL;
	size_t pnglen = 0;
	int ch, r, status = 1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":ho:", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'a':
			if (ut_parse_u64(optarg, &at) < 0 || at == 0) {
				log_error("frames: --at wants a record sequence number");
				return EXIT_USAGE;
			}
			break;
		case 'P':
			passfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("frames: option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("frames: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || out == NULL) {
		log_error("frames: expected a recording directory and --out OUTDIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	/* The input is opened (and --at resolved) before OUTDIR is made. */
	if (cli_open_recording("frames", argv[optind], passfile, &rd, &rk) < 0)
		return 1;
	if (at != 0 && (want = frame_at(rd, at)) == 0) {
		log_error("frames: no frame was stored before record %" PRIu64, at);
		goto out;
	}
	if (cli_private_dir("frames", out) < 0)
		goto out;
	fc = frame_canvas_create();
	while ((r = spool_reader_next(rd, &ev)) != 0) {
		if (r < 0 || ev.type != UT_EV_FRAME)
			continue;
		r = frame_canvas_apply(fc, &ev);
		if (r < 0) {
			bad++;
			continue;
		}
		if (r == 0 || (rgb = frame_canvas_rgb(fc, &w, &h, &id)) == NULL)
			continue;
		if (want != 0 && id != want)
			continue;
		snprintf(path, sizeof(path), "%s/frame-%06" PRIu64 ".png", out, id);
		if ((r = frame_png_encode(rgb, w, h, &png, &pnglen)) < 0) {
			log_error("frames: encoding %s failed: %s", path, ut_strerror(r));
			goto out;
		}
		r = cli_write_private("frames", path, png, pnglen);
		free(png);
		png = NULL;
		if (r < 0)
			goto out;
		printf("%s\n", path);
		written++;
		if (want != 0)
			break;
	}
	if (bad)
		log_warn("frames: %" PRIu64 " frame regions could not be used "
		    "(damaged, or their base frame is missing)", bad);
	if (written == 0) {
		log_error("frames: no frame in %s", argv[optind]);
		goto out;
	}
	status = 0;
out:
	frame_canvas_destroy(fc);
	spool_reader_close(rd);
	keys_recipient_free(rk);
	return status;
}
