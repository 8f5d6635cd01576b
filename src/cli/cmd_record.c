/*
 * cmd_record.c - `usetrace record`: the agent's capture loop wired to the
 * spool.  Records flow capture -> (privacy filter) -> spool; a group commit
 * runs on every capture tick, so at most one tick of records is
 * unacknowledged at any time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ut_config.h"
#include "usetrace/capture.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "cli_int.h"

static int stop_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (stop_pipe[1] >= 0)
		(void)!write(stop_pipe[1], "x", 1);
	errno = saved;
}

struct rec_ctx {
	struct spool *sp;
	const char *dir;
	int spool_err;
};

static int
sink_emit(void *arg, const struct ut_event *ev)
{
	struct rec_ctx *rc = arg;
	int r = spool_append(rc->sp, ev);

	if (r < 0)
		rc->spool_err = r;
	return r;
}

static int
sink_tick(void *arg)
{
	struct rec_ctx *rc = arg;
	int r = spool_commit(rc->sp);

	if (r < 0)
		rc->spool_err = r;
	return r;
}

static void
sink_ready(void *arg, const char *display)
{
	struct rec_ctx *rc = arg;

	log_info("recording display %s into %s (Ctrl-C to stop)", display, rc->dir);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace record --out DIR [--display DPY]\n\n"
	    "Records keys, pointer, scrolling and the focused window of an X\n"
	    "display into DIR until interrupted (SIGINT/SIGTERM), then closes\n"
	    "the recording cleanly.\n\n"
	    "options:\n"
	    "  -o, --out DIR       recording directory (created 0700 if missing)\n"
	    "  -d, --display DPY   X display (default: $DISPLAY)\n"
	    "  -h, --help          this help\n");
}

int
cmd_record(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "display", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct capture_opts co;
	struct capture_sink sink;
	struct capture_stats st;
	struct spool_opts so;
	struct rec_ctx rc;
	struct sigaction sa;
	const char *out = NULL, *display = NULL;
	int ch, r, rclose, status = 1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":o:d:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'd':
			display = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("record: option '%s' needs a value", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			log_error("record: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("record: unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (out == NULL) {
		log_error("record: --out DIR is required");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (fsio_fault_from_env() < 0) {
		log_error("record: malformed UT_FSIO_FAULT");
		return EXIT_USAGE;
	}

	memset(&st, 0, sizeof(st));
	memset(&rc, 0, sizeof(rc));
	rc.dir = out;
	memset(&so, 0, sizeof(so));
	so.dir = out;
	if ((r = spool_open(&so, &rc.sp)) < 0) {
		log_error("record: cannot write to %s: %s", out, ut_strerror(r));
		return 1;
	}
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("record: pipe: %s", strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&co, 0, sizeof(co));
	co.display = display;
	co.tick_ms = 200;
	co.stop_fd = stop_pipe[0];
	memset(&sink, 0, sizeof(sink));
	sink.emit = sink_emit;
	sink.tick = sink_tick;
	sink.ready = sink_ready;
	sink.arg = &rc;
	r = capture_run(&co, &sink, &st);

	if (rc.spool_err < 0)
		log_error("record: writing to %s failed: %s; records acknowledged "
		    "before the failure are kept", out, ut_strerror(rc.spool_err));
	else if (r < 0 && r != UT_EX11 && r != UT_ENOEXT)
		log_error("record: %s", ut_strerror(r));
	status = r == 0 ? 0 : 1;
out:
	rclose = spool_close(rc.sp);
	if (rclose < 0 && rc.spool_err == 0) {
		log_error("record: closing %s failed: %s", out, ut_strerror(rclose));
		status = 1;
	}
	if (st.records > 0 || status == 0)
		log_info("%llu records (%llu keys, %llu buttons, %llu motions, "
		    "%llu focus changes) in %s",
		    (unsigned long long)st.records, (unsigned long long)st.keys,
		    (unsigned long long)st.buttons, (unsigned long long)st.motions,
		    (unsigned long long)st.focus, out);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (stop_pipe[0] >= 0) {
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		stop_pipe[0] = stop_pipe[1] = -1;
	}
	return status;
}
