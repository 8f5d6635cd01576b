/*
 * print.c - the renderings every reader shares: one JSON object per action
 * (docs/FORMAT.md, "Actions"), one line of the human timeline, and one JSON
 * object per raw record (`show --raw`, the server's records endpoint).
 */
#include <inttypes.h>
#include <string.h>

#include "usetrace/action.h"
#include "usetrace/jsonw.h"

static int
is_pointer(const struct ut_action *a)
{
	return a->kind <= UT_ACT_DRAG;
}

/*
 * ,"target":{"role":..,"name":..,"bbox":[x,y,w,h],"path":[roles]} of a
 * TARGET record (its path split at "/").
 */
static void
target_print_json(FILE *f, const struct ut_event *t)
{
	const char *p = t->u.target.path, *e;
	char role[UT_EV_PATH_MAX];
	size_t n;
	int first = 1;

	fputs(",\"target\":{\"role\":", f);
	jsonw_str(f, t->u.target.role);
	fputs(",\"name\":", f);
	jsonw_str(f, t->u.target.name);
	fprintf(f, ",\"bbox\":[%" PRId32 ",%" PRId32 ",%" PRIu32 ",%" PRIu32
	    "],\"path\":[", t->u.target.x, t->u.target.y, t->u.target.w,
	    t->u.target.h);
	while (*p != '\0') {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > 0 && n < sizeof(role)) {
			memcpy(role, p, n);
			role[n] = '\0';
			if (!first)
				fputc(',', f);
			jsonw_str(f, role);
			first = 0;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	fputs("]}", f);
}

void
action_print_json(FILE *f, const struct ut_action *a)
{
	size_t i;

	fprintf(f, "{\"action\":\"%s\",\"t_ms\":%" PRIu64 ",\"duration_ms\":%" PRIu64,
	    action_kind_name(a->kind), a->t_ms, a->duration_ms);
	if (a->has_pos)
		fprintf(f, ",\"x\":%" PRId32 ",\"y\":%" PRId32, a->x, a->y);
	else
		fputs(",\"x\":null,\"y\":null", f);
	if (is_pointer(a))
		fprintf(f, ",\"button\":%u", a->button);
	else
		fputs(",\"button\":null", f);
	fputs(",\"text\":", f);
	jsonw_str(f, a->kind == UT_ACT_TYPE ? a->text : NULL);
	fputs(",\"keys\":", f);
	jsonw_str(f, (a->kind == UT_ACT_HOTKEY || a->kind == UT_ACT_KEY) ?
	    a->keys : NULL);
	fputs(",\"app\":", f);
	if (a->focus != NULL && a->focus->u.focus.denied)
		jsonw_str(f, "denied");
	else
		jsonw_str(f, a->focus ? a->focus->u.focus.app : NULL);
	fputs(",\"title\":", f);
	jsonw_str(f, a->focus && !a->focus->u.focus.denied ?
	    a->focus->u.focus.title : NULL);
	if (a->focus != NULL)
		fprintf(f, ",\"window\":%" PRIu32, a->focus->u.focus.window);
	else
		fputs(",\"window\":null", f);
	if (a->frame >= 0)
		fprintf(f, ",\"frame\":%" PRId64, a->frame);
	else
		fputs(",\"frame\":null", f);
	if (a->kind == UT_ACT_DRAG || a->kind == UT_ACT_MOVE)
		fprintf(f, ",\"end_x\":%" PRId32 ",\"end_y\":%" PRId32,
		    a->end_x, a->end_y);
	if (a->kind == UT_ACT_SCROLL)
		fprintf(f, ",\"dx\":%" PRId32 ",\"dy\":%" PRId32, a->dx, a->dy);
	if (a->repeat)
		fprintf(f, ",\"repeat\":%" PRIu32, a->repeat);
	if (a->kind == UT_ACT_DRAG || a->kind == UT_ACT_MOVE) {
		fputs(",\"path\":[", f);
		for (i = 0; i < a->npath; i++)
			fprintf(f, "%s[%" PRId32 ",%" PRId32 ",%" PRIu32 "]",
			    i ? "," : "", a->path[i].x, a->path[i].y,
			    a->path[i].dt_ms);
		fputc(']', f);
	}
	if (a->target != NULL)
		target_print_json(f, a->target);
	fputs(",\"seq\":[", f);
	for (i = 0; i < a->nseqs; i++)
		fprintf(f, "%s[%" PRIu64 ",%" PRIu64 "]", i ? "," : "",
		    a->seqs[i].first, a->seqs[i].last);
	fputs("]}", f);
}

static const char *
button_name(unsigned b)
{
	switch (b) {
	case 1: return "left";
	case 2: return "middle";
	case 3: return "right";
	case 8: return "back";
	case 9: return "forward";
	default: return "button";
	}
}

void
action_print_text(FILE *f, const struct ut_action *a)
{
	const char *app = NULL;

	fprintf(f, "%8" PRIu64 ".%03" PRIu64 "  %-12s ", a->t_ms / 1000,
	    a->t_ms % 1000, action_kind_name(a->kind));
	switch (a->kind) {
	case UT_ACT_CLICK:
	case UT_ACT_DOUBLE_CLICK:
	case UT_ACT_TRIPLE_CLICK:
		fprintf(f, "%s at (%d,%d)", button_name(a->button), a->x, a->y);
		break;
	case UT_ACT_DRAG:
		fprintf(f, "%s from (%d,%d) to (%d,%d)", button_name(a->button),
		    a->x, a->y, a->end_x, a->end_y);
		break;
	case UT_ACT_MOVE:
		fprintf(f, "(%d,%d) -> (%d,%d)", a->x, a->y, a->end_x, a->end_y);
		break;
	case UT_ACT_SCROLL:
		fprintf(f, "%s %d at (%d,%d)",
		    a->dy < 0 ? "up" : a->dy > 0 ? "down" : a->dx < 0 ? "left" : "right",
		    a->dy ? (a->dy < 0 ? -a->dy : a->dy) : (a->dx < 0 ? -a->dx : a->dx),
		    a->x, a->y);
		break;
	case UT_ACT_TYPE:
		jsonw_str(f, a->text);
		break;
	case UT_ACT_HOTKEY:
	case UT_ACT_KEY:
		fputs(a->keys, f);
		if (a->repeat)
			fprintf(f, " (x%u)", a->repeat + 1);
		break;
	}
	if (a->focus != NULL && a->focus->u.focus.window == 0) {
		fputs("    [no window]", f);
	} else if (a->focus != NULL) {
		app = a->focus->u.focus.denied ? "denied" : a->focus->u.focus.app;
		fprintf(f, "    [%s", app[0] ? app : "?");
		if (!a->focus->u.focus.denied && a->focus->u.focus.title[0]) {
			fputs(": ", f);
			jsonw_str(f, a->focus->u.focus.title);
		}
		fputc(']', f);
	}
	fputc('\n', f);
}

void
event_print_json(FILE *f, const struct ut_event *ev, uint64_t start_mono)
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
	case UT_EV_TARGET:
		fprintf(f, ",\"action_seq\":%" PRIu64 ",\"x\":%d,\"y\":%d,"
		    "\"w\":%u,\"h\":%u,\"role\":", ev->u.target.action_seq,
		    ev->u.target.x, ev->u.target.y, ev->u.target.w,
		    ev->u.target.h);
		jsonw_str(f, ev->u.target.role);
		fputs(",\"name\":", f);
		jsonw_str(f, ev->u.target.name);
		fputs(",\"path\":", f);
		jsonw_str(f, ev->u.target.path);
		break;
	default:
		break;
	}
	fputs("}\n", f);
}
