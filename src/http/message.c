/*
 * message.c - what a handler sees of a request and fills in a response:
 * header and query lookups, extra response headers, JSON error bodies.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "usetrace/err.h"
#include "usetrace/http.h"
#include "usetrace/util.h"
#include "http_int.h"

const char *
http_request_header(const struct http_request *rq, const char *name)
{
	if (rq == NULL || rq->conn == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
http_request_arg(const struct http_request *rq, const char *name)
{
	if (rq == NULL || rq->conn == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

/* No control characters: a header can never split the response. */
static bool
header_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int
http_response_header(struct http_response *rs, const char *name,
    const char *value)
{
	size_t nl, vl;

	if (rs == NULL || name == NULL || value == NULL || name[0] == '\0' ||
	    strchr(name, ':') != NULL || strchr(name, ' ') != NULL ||
	    !header_text_ok(name) || !header_text_ok(value))
		return UT_EINVAL;
	nl = strlen(name);
	vl = strlen(value);
	if (rs->nheaders >= HTTP_RESPONSE_HEADERS ||
	    nl >= sizeof(rs->hname[0]) || vl >= sizeof(rs->hvalue[0]))
		return UT_ETOOBIG;
	memcpy(rs->hname[rs->nheaders], name, nl + 1);
	memcpy(rs->hvalue[rs->nheaders], value, vl + 1);
	rs->nheaders++;
	return 0;
}

void
http_response_error(struct http_response *rs, unsigned status,
    const char *code, const char *message)
{
	json_t *j;
	char *s = NULL;

	rs->status = status;
	snprintf(rs->content_type, sizeof(rs->content_type), "%s",
	    "application/json");
	buf_reset(&rs->body);
	j = json_pack("{s:s,s:s}", "error", code != NULL ? code : "error",
	    "message", message != NULL ? message : "");
	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	/* The body cap is far above any error text; on failure it stays empty. */
	if (s != NULL && buf_append(&rs->body, s, strlen(s)) < 0)
		buf_reset(&rs->body);
	free(s);
}
