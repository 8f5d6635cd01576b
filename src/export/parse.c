/*
 * parse.c - an action back from its JSON form (docs/FORMAT.md section 5),
 * for exports built from a server's answers, and its target element.
 */
#include <string.h>

#include <jansson.h>

#include "usetrace/err.h"
#include "usetrace/export.h"

static const char *const kinds[] = {
	"click", "double_click", "triple_click", "drag", "scroll", "type",
	"hotkey", "key", "move",
};

static int32_t
geti(const json_t *o, const char *k)
{
	return (int32_t)json_integer_value(json_object_get(o, k));
}

int
export_action_from_json(const json_t *o, struct ut_action *a,
    struct ut_point *path, size_t npath)
{
	const char *kind = json_string_value(json_object_get(o, "action"));
	const char *text = json_string_value(json_object_get(o, "text"));
	const char *keys = json_string_value(json_object_get(o, "keys"));
	const json_t *p, *pt, *fr;
	size_t i;

	memset(a, 0, sizeof(*a));
	a->frame = -1;
	if (!json_is_object(o) || kind == NULL)
		return UT_EPARSE;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return UT_EPARSE;
	a->kind = (enum ut_action_kind)i;
	a->t_ms = (uint64_t)json_integer_value(json_object_get(o, "t_ms"));
	a->duration_ms = (uint64_t)json_integer_value(json_object_get(o, "duration_ms"));
	if (json_is_integer(json_object_get(o, "x"))) {
		a->has_pos = 1;
		a->x = geti(o, "x");
		a->y = geti(o, "y");
	}
	a->end_x = geti(o, "end_x");
	a->end_y = geti(o, "end_y");
	a->button = (uint8_t)geti(o, "button");
	a->dx = geti(o, "dx");
	a->dy = geti(o, "dy");
	a->repeat = (uint32_t)geti(o, "repeat");
	if (text != NULL && strlen(text) >= sizeof(a->text))
		return UT_EPARSE;
	if (keys != NULL && strlen(keys) >= sizeof(a->keys))
		return UT_EPARSE;
	if (text != NULL)
		memcpy(a->text, text, strlen(text) + 1);
	if (keys != NULL)
		memcpy(a->keys, keys, strlen(keys) + 1);
	if ((fr = json_object_get(o, "frame")) != NULL && json_is_integer(fr))
		a->frame = json_integer_value(fr);
	p = json_object_get(o, "path");
	json_array_foreach(p, i, pt) {
		if (i >= npath)
			break;
		path[i].x = (int32_t)json_integer_value(json_array_get(pt, 0));
		path[i].y = (int32_t)json_integer_value(json_array_get(pt, 1));
		path[i].dt_ms = (uint32_t)json_integer_value(json_array_get(pt, 2));
		a->npath = i + 1;
	}
	a->path = path;
	return 0;
}

int
export_target_from_json(const json_t *o, struct ut_event *t)
{
	const json_t *j = json_object_get(o, "target"), *bb, *r;
	const char *role, *name, *s;
	size_t i, w = 0;

	memset(t, 0, sizeof(*t));
	if (j == NULL || json_is_null(j))
		return 0;
	role = json_string_value(json_object_get(j, "role"));
	name = json_string_value(json_object_get(j, "name"));
	bb = json_object_get(j, "bbox");
	if (!json_is_object(j) || role == NULL || name == NULL ||
	    json_array_size(bb) != 4 || strlen(role) >= sizeof(t->u.target.role) ||
	    strlen(name) >= sizeof(t->u.target.name))
		return UT_EPARSE;
	t->type = UT_EV_TARGET;
	memcpy(t->u.target.role, role, strlen(role) + 1);
	memcpy(t->u.target.name, name, strlen(name) + 1);
	t->u.target.x = (int32_t)json_integer_value(json_array_get(bb, 0));
	t->u.target.y = (int32_t)json_integer_value(json_array_get(bb, 1));
	t->u.target.w = (uint32_t)json_integer_value(json_array_get(bb, 2));
	t->u.target.h = (uint32_t)json_integer_value(json_array_get(bb, 3));
	json_array_foreach(json_object_get(j, "path"), i, r) {
		if ((s = json_string_value(r)) == NULL ||
		    w + strlen(s) + 2 > sizeof(t->u.target.path))
			return UT_EPARSE;
		w += (size_t)snprintf(t->u.target.path + w,
		    sizeof(t->u.target.path) - w, "%s%s", w ? "/" : "", s);
	}
	return 1;
}
