/*
 * cmd_upload.c - `usetrace upload DIR`: sends the closed segments of a
 * recording to the server this device enrolled with, now, by hand.  The
 * upload of each segment and its receipt are upload.h's (the recorder's
 * background uploader uses the same); the talk before it (keys, clock,
 * consent) is device_sync.c's.
 *
 * Invariants:
 *  (1) Only closed segments are sent and a segment is deleted only after
 *      a verified receipt (upload_segment(), upload.h).
 *  (2) The first failure (no answer, an error status, an invalid receipt)
 *      stops the run: nothing later is sent, the exit status is 1.
 *  (3) Before any segment, the control reply refreshes device.json's
 *      ingest keys and checks the clock, and the current consent is
 *      posted; if that fails nothing is uploaded.
 *  (4) After the person erased everything at the server the closed
 *      segments are deleted unsent (the server would discard them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/upload.h"
#include "cli_int.h"

#define SEGS_MAX 100000u

static const char upload_usage[] =
    "usage: usetrace upload DIR\n\n"
    "Uploads the closed segments of the recording in DIR now, oldest first,\n"
    "to the server this device enrolled with ('usetrace enroll'), after\n"
    "sending your current consent.  Each segment is deleted here only\n"
    "after the server's signed receipt for exactly the bytes sent has been\n"
    "verified; the audit checkpoint in each receipt is kept as a witness in\n"
    "$USETRACE_HOME/witness.jsonl.  The segment being recorded (*.uts.open)\n"
    "is left alone.  Prints one line per segment (stored, duplicate,\n"
    "discarded: REASON or rejected: REASON) and 'uploaded N, kept M'.\n"
    "Exits 1 if any segment could not be sent or its receipt was invalid\n"
    "(it is kept for the next try).  An enrolled 'usetrace record' uploads\n"
    "by itself in the background; this command is for the rest.\n\n"
    "Before uploading it fetches the server's ingest keys for the coming\n"
    "days into device.json and checks this device's clock.  A consent\n"
    "you withdrew at the server is withdrawn here too (a running recorder\n"
    "stops); after you erased everything at the server, the segments\n"
    "here are deleted without being sent.\n\n"
    "options:\n"
    "  -h, --help\n";

/* After the person erased everything at the server: delete unsent. */
static int
purge(const char *dir, const unsigned *segs, size_t n)
{
	char path[4200];
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/seg-%08u.uts", dir, segs[i]);
		if (unlink(path) < 0 && errno != ENOENT) {
			log_error("upload: cannot delete %s: %s", path, strerror(errno));
			return -1;
		}
	}
	if (n > 0 && (r = fsio_fsync_dir(dir)) < 0) {
		log_error("upload: %s: %s", dir, ut_strerror(r));
		return -1;
	}
	printf("you erased everything at the server: %zu segment%s deleted here "
	    "without being sent\n", n, n == 1 ? "" : "s");
	return 0;
}

/* One segment, said as before: a line on stdout, or why on stderr. */
static int
upload_one(const struct upload_dev *ud, const char *dir, unsigned idx)
{
	struct upload_result res;
	char name[32];
	int r;

	snprintf(name, sizeof(name), "seg-%08u.uts", idx);
	r = upload_segment(ud, dir, idx, &res);
	if (r < 0) {
		log_error("upload: %s: %s", name, res.error);
		log_error("upload: %s: not uploaded; kept", name);
		return -1;
	}
	if ((res.outcome == UPLOAD_DISCARDED || res.outcome == UPLOAD_REJECTED) &&
	    res.reason[0] != '\0')
		printf("%s %s: %s\n", name, upload_outcome_name(res.outcome),
		    res.reason);
	else
		printf("%s %s\n", name, upload_outcome_name(res.outcome));
	fflush(stdout);
	return 0;
}

int
cmd_upload(int argc, char **argv)
{
	struct cli_args a;
	struct cli_device dv;
	struct upload_dev ud;
	const char *dir;
	unsigned *segs = NULL, uploaded = 0, kept = 0;
	size_t i, n = 0;
	int r, status = 1;

	r = cli_args_parse("upload", argc, argv, 0, 1, 1, upload_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	memset(&dv, 0, sizeof(dv));
	dir = a.pos[0];
	if (sodium_init() < 0)
		ut_fatal("libsodium failed to initialise");
	if ((r = upload_list_segments(dir, SEGS_MAX, &segs, &n)) < 0) {
		log_error("upload: cannot read %s: %s", dir, ut_strerror(r));
		return 1;
	}
	if (cli_device_open(&dv) < 0 || cli_device_sync_control(&dv) < 0 ||
	    cli_device_post_consent(&dv) < 0) {
		kept = (unsigned)n;
		goto out;
	}
	if (dv.erased_all) {
		status = purge(dir, segs, n) < 0;
		kept = status ? (unsigned)n : 0;
		goto out;
	}
	cli_device_upload_dev(&dv, &ud);
	for (i = 0; i < n; i++) {
		if (upload_one(&ud, dir, segs[i]) < 0)
			break;
		uploaded++;
	}
	kept = (unsigned)(n - uploaded);
	status = i == n ? 0 : 1;
out:
	printf("uploaded %u, kept %u\n", uploaded, kept);
	free(segs);
	cli_device_close(&dv);
	return status;
}
