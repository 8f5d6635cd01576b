/*
 * print.c - the two renderings of an action: one JSON object per action
 * (docs/FORMAT.md, "Actions") and one line of the human timeline.
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
