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
#include "usetrace/jsonw.h"
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

static void
print_raw(FILE *f, const struct ut_event *ev, uint64_t start_mono)
{
	uint32_t i;

	fprintf(f, "{\"seq\":%" PRIu64 ",\"type\":\"%s\",\"t_ms\":%" PRIu64
	    ",\"mono_ns\":%" PRIu64 ",\"wall_ns\":%" PRId64 ",\"xtime\":%" PRIu32
	    ",\"sensitivity\":%u", ev->seq, event_type_name(ev->type),
	    ev->mono_ns >= start_mono ? (ev->mono_ns - start_mono) / 1000000 : 0,
	    ev->mono_ns, ev->wall_ns, ev->xtime, ev->sensitivity);
	switch (ev->type) {
	case UT_EV_SESSION:
		fputs(",\"display\":", f);
		jsonw_str(f, ev->u.session.display);
		fprintf(f, ",\"screen_w\":%u,\"screen_h\":%u,\"double_click_ms\":%u,"
		    "\"double_click_px\":%u,\"layout\":", ev->u.session.screen_w,
		    ev->u.session.screen_h, ev->u.session.double_click_ms,
		    ev->u.session.double_click_px);
		jsonw_str(f, ev->u.session.layout);
		break;
	case UT_EV_KEY:
		fprintf(f, ",\"down\":%s,\"repeat\":%s,\"keycode\":%u,\"keysym\":%u,"
		    "\"state\":%u,\"group\":%u,\"name\":",
		    ev->u.key.down ? "true" : "false",
		    ev->u.key.repeat ? "true" : "false", ev->u.key.keycode,
		    ev->u.key.keysym, ev->u.key.state, ev->u.key.group);
		jsonw_str(f, ev->u.key.name);
		fputs(",\"text\":", f);
		jsonw_str(f, ev->u.key.text);
		break;
	case UT_EV_BUTTON:
		fprintf(f, ",\"down\":%s,\"button\":%u,\"x\":%d,\"y\":%d,\"state\":%u",
		    ev->u.button.down ? "true" : "false", ev->u.button.button,
		    ev->u.button.x, ev->u.button.y, ev->u.button.state);
		break;
	case UT_EV_MOTION:
		fprintf(f, ",\"x\":%d,\"y\":%d", ev->u.motion.x, ev->u.motion.y);
		break;
	case UT_EV_SCROLL:
		fprintf(f, ",\"dx\":%d,\"dy\":%d,\"x\":%d,\"y\":%d", ev->u.scroll.dx,
		    ev->u.scroll.dy, ev->u.scroll.x, ev->u.scroll.y);
		break;
	case UT_EV_FOCUS:
		fprintf(f, ",\"window\":%u,\"pid\":%u,\"x\":%d,\"y\":%d,\"w\":%u,"
		    "\"h\":%u,\"denied\":%s,\"app\":", ev->u.focus.window,
		    ev->u.focus.pid, ev->u.focus.x, ev->u.focus.y, ev->u.focus.w,
		    ev->u.focus.h, ev->u.focus.denied ? "true" : "false");
		jsonw_str(f, ev->u.focus.app);
		fputs(",\"instance\":", f);
		jsonw_str(f, ev->u.focus.instance);
		fputs(",\"title\":", f);
		jsonw_str(f, ev->u.focus.title);
		break;
	case UT_EV_MONITORS:
		fputs(",\"monitors\":[", f);
		for (i = 0; i < ev->u.monitors.n; i++) {
			const struct ut_monitor *m = &ev->u.monitors.m[i];

			fprintf(f, "%s{\"x\":%d,\"y\":%d,\"w\":%u,\"h\":%u,"
			    "\"primary\":%s,\"name\":", i ? "," : "", m->x, m->y,
			    m->w, m->h, m->primary ? "true" : "false");
			jsonw_str(f, m->name);
			fputc('}', f);
		}
		fputc(']', f);
		break;
	case UT_EV_PAUSE:
	case UT_EV_RESUME:
		fprintf(f, ",\"until_wall_ns\":%" PRIu64 ",\"reason\":",
		    ev->u.pause.until_wall_ns);
		jsonw_str(f, ev->u.pause.reason);
		break;
	case UT_EV_REDACTED:
		fputs(",\"what\":", f);
		jsonw_str(f, ev->u.redacted.what);
		fputs(",\"why\":", f);
		jsonw_str(f, ev->u.redacted.why);
		fprintf(f, ",\"count\":%u", ev->u.redacted.count);
		break;
	case UT_EV_FRAME:
		fprintf(f, ",\"frame_id\":%" PRIu64 ",\"base_id\":%" PRIu64
		    ",\"w\":%u,\"h\":%u,\"xtime_done\":%u,\"rx\":%d,\"ry\":%d,"
		    "\"rw\":%u,\"rh\":%u,\"part\":%u,\"nparts\":%u,\"format\":%u,"
		    "\"skipped\":%u,\"bytes\":%u", ev->u.frame.frame_id,
		    ev->u.frame.base_id, ev->u.frame.w, ev->u.frame.h,
		    ev->u.frame.xtime_done, ev->u.frame.rx, ev->u.frame.ry,
		    ev->u.frame.rw, ev->u.frame.rh, ev->u.frame.part,
		    ev->u.frame.nparts, ev->u.frame.format, ev->u.frame.skipped,
		    ev->u.frame.len);
		break;
	case UT_EV_MARK:
	case UT_EV_END:
		fputs(",\"text\":", f);
		jsonw_str(f, ev->u.mark.text);
		break;
	default:
		break;
	}
	fputs("}\n", f);
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
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
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
		default:
			log_error("show: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
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
			log_warn("show: skipping an unreadable segment of %s: %s",
			    dir, ut_strerror(r));
			bad++;
			continue;
		}
		if (!have_start && ev.type == UT_EV_SESSION) {
			start_mono = ev.mono_ns;
			have_start = 1;
		}
		if (raw)
			print_raw(stdout, &ev, start_mono);
		else if ((r = action_reducer_push(ar, &ev)) != 0)
			goto out;
	}
	if (ar != NULL && (r = action_reducer_finish(ar)) != 0)
		goto out;
	spool_reader_stats(rd, &rs);
	if (rs.open_segments > 0 || rs.torn_tails > 0)
		log_warn("show: %s was not closed cleanly (%u open segment(s), "
		    "%u torn tail(s)); showing every intact record", dir,
		    rs.open_segments, rs.torn_tails);
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
