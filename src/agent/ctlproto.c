/*
 * ctlproto.c - the control socket's replies, encoded and decoded in one
 * place with jansson (see control.h).  The agent builds every answer here
 * and every client (usetrace status/pause/resume/task, the indicator, the
 * control thread, upload) reads answers through control_decode(), so one
 * escaping rule and one parser cover the protocol.
 *
 * Invariants:
 *  (1) An encoded reply is one line: compact JSON, which escapes every
 *      control character in strings, so it never holds a raw '\n'.
 *  (2) A decoded reply is a JSON object, or the decode fails; no field is
 *      read by string search.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "usetrace/control.h"
#include "usetrace/err.h"

json_t *
control_json_str(const char *s)
{
	json_t *j;
	char *c;
	size_t i, n;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) != NULL)
		return j;
	/* Not UTF-8 (a path, say): keep ASCII, mark the rest. */
	n = strlen(s);
	if ((c = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	c[n] = '\0';
	j = json_string(c);
	free(c);
	return j;
}

char *
control_encode(const struct json_t *obj)
{
	if (!json_is_object(obj))
		return NULL;
	return json_dumps(obj, JSON_COMPACT); /* (1) */
}

void
control_reply_obj(int cfd, struct json_t *obj)
{
	char *s = control_encode(obj);

	control_reply(cfd, s != NULL ? s :
	    "{\"ok\":false,\"error\":\"internal: cannot encode the reply\"}");
	free(s);
	json_decref(obj);
}

void
control_reply_ok(int cfd)
{
	control_reply_obj(cfd, json_pack("{s:b}", "ok", 1));
}

void
control_reply_recording(int cfd, bool recording)
{
	control_reply_obj(cfd, json_pack("{s:b, s:b}", "ok", 1, "recording",
	    recording ? 1 : 0));
}

void
control_reply_err(int cfd, const char *msg)
{
	control_reply_obj(cfd, json_pack("{s:b, s:o*}", "ok", 0, "error",
	    control_json_str(msg)));
}

int
control_decode(const char *line, struct json_t **out)
{
	json_error_t je;
	json_t *j;

	*out = NULL;
	if (line == NULL)
		return UT_EPARSE;
	j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) { /* (2) */
		json_decref(j);
		return UT_EPARSE;
	}
	*out = j;
	return 0;
}

int
control_ask(const char *path, const char *req, int timeout_ms,
    struct json_t **out)
{
	char reply[CONTROL_LINE_MAX];
	int r;

	*out = NULL;
	if ((r = control_request(path, req, reply, sizeof(reply), timeout_ms)) < 0)
		return r;
	return control_decode(reply, out);
}

bool
control_reply_is_ok(const struct json_t *j)
{
	return json_is_true(json_object_get(j, "ok"));
}

const char *
control_reply_str(const struct json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

int64_t
control_reply_int(const struct json_t *j, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(j, key));
}

int
control_reply_bool(const struct json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);

	return json_is_boolean(v) ? json_is_true(v) : -1;
}
