/*
 * web.c - serves the web page's files built into the binary (web_int.h):
 * GET / is web/index.html, GET /web/NAME any listed file, anything else
 * 404.  Public and not audited: the files are the same for everyone and
 * carry no data (the page reads everything through the API, with its own
 * checks and audit).  The transport adds the security headers (CSP,
 * nosniff, no-referrer, DENY, no-store) to these as to every response.
 * A request whose If-None-Match holds the file's strong ETag gets 304.
 */
#include <stdio.h>
#include <string.h>

#include "usetrace/buf.h"
#include "server_int.h"
#include "web_int.h"

static const struct srv_asset *
asset_find(const char *name)
{
	size_t i;

	for (i = 0; i < srv_nassets; i++)
		if (strcmp(srv_assets[i].name, name) == 0)
			return &srv_assets[i];
	return NULL;
}

/* True when the If-None-Match list names etag (or is "*"). */
static bool
etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p;

	if (inm == NULL)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	for (p = strstr(inm, etag); p != NULL; p = strstr(p + 1, etag))
		if (p[n] == '\0' || p[n] == ',' || p[n] == ' ')
			return true;
	return false;
}

static void
serve(struct srv_req *q, const char *name)
{
	const struct srv_asset *a = asset_find(name);

	if (a == NULL) {
		srv_reply_error(q, 404, "not_found", "no such file");
		return;
	}
	(void)http_response_header(q->rs, "ETag", a->etag);
	buf_reset(&q->rs->body);
	snprintf(q->rs->content_type, sizeof(q->rs->content_type), "%s",
	    a->content_type);
	if (etag_matches(http_request_header(q->rq, "If-None-Match"), a->etag)) {
		q->rs->status = 304;
		return;
	}
	if (buf_append(&q->rs->body, a->data, a->len) < 0) {
		srv_reply_error(q, 500, "internal", "response too large");
		return;
	}
	q->rs->status = 200;
}

/* GET / */
void
api_web_index(struct srv_req *q)
{
	serve(q, "index.html");
}

/* GET /web/{name} */
void
api_web_asset(struct srv_req *q)
{
	serve(q, q->param[0]);
}
