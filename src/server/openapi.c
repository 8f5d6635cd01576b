/*
 * openapi.c - the OpenAPI 3.1 document, generated from the route table
 * (routes.c) so that it cannot drift from what the server enforces.
 * Served at /v1/openapi.json; docs/openapi.json is the same bytes
 * (`usetrace serve --print-openapi`, checked by tests/server/).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ut_config.h"
#include "usetrace/server.h"
#include "usetrace/util.h"
#include "server_int.h"

static json_t *
path_params(const char *pattern)
{
	json_t *arr = json_array();
	const char *p = pattern;

	while ((p = strchr(p, '{')) != NULL) {
		const char *e = strchr(p, '}');
		char name[32];

		if (e == NULL || (size_t)(e - p - 1) >= sizeof(name))
			break;
		memcpy(name, p + 1, (size_t)(e - p - 1));
		name[e - p - 1] = '\0';
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:{s:s, s:s}}",
		    "name", name, "in", "path", "required", 1, "schema", "type",
		    "string", "pattern", "^[A-Za-z0-9._@-]{1,95}$"));
		p = e + 1;
	}
	return arr;
}

static json_t *
roles_json(unsigned who)
{
	json_t *arr = json_array();
	unsigned r;

	if (who & SRV_R_PUBLIC)
		json_array_append_new(arr, json_string("anyone"));
	if (who & SRV_R_DEVICE)
		json_array_append_new(arr, json_string("device"));
	for (r = UT_ROLE_SUBJECT; r <= UT_ROLE_AUDITOR; r++)
		if (who & SRV_R(r))
			json_array_append_new(arr, json_string(ut_role_name((enum ut_role)r)));
	return arr;
}

/* The route's query parameters (all optional strings) into params. */
static void
add_query(json_t *params, const char *list)
{
	char name[32];
	const char *p = list, *c;
	size_t k;

	while (p != NULL && *p != '\0') {
		c = strchr(p, ',');
		k = c != NULL ? (size_t)(c - p) : strlen(p);
		if (k > 0 && k < sizeof(name)) {
			memcpy(name, p, k);
			name[k] = '\0';
			json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s}}",
			    "name", name, "in", "query", "required", 0, "schema",
			    "type", "string"));
		}
		p = c != NULL ? c + 1 : NULL;
	}
}

static json_t *
operation(const struct srv_route *rt)
{
	json_t *op, *params = path_params(rt->pattern), *resp;
	char opid[128];
	size_t i, j = 0;

	for (i = 0; rt->pattern[i] != '\0' && j + 2 < sizeof(opid); i++) {
		char c = rt->pattern[i];

		opid[j++] = isalnum((unsigned char)c) ? c : '_';
	}
	opid[j] = '\0';
	resp = json_pack("{s:{s:s}, s:{s:s, s:{s:{s:{s:s}}}}}",
	    "200", "description", "success",
	    "default", "description", "error", "content", "application/json",
	    "schema", "$ref", "#/components/schemas/Error");
	op = json_pack("{s:s, s:s, s:o, s:o, s:o}", "summary", rt->summary,
	    "operationId", opid, "parameters", params, "responses", resp,
	    "x-usetrace-roles", roles_json(rt->who));
	json_object_set_new(op, "operationId", json_sprintf("%s_%s", rt->method, opid));
	if (!(rt->who & SRV_R_PUBLIC)) {
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s, s:[s]}}",
		    "name", "Usetrace-Purpose", "in", "header", "required", 1, "schema",
		    "type", "string", "enum", srv_purpose_name(rt->purpose)));
		json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
		json_object_set_new(op, "x-usetrace-purpose",
		    json_string(srv_purpose_name(rt->purpose)));
	} else
		json_object_set_new(op, "security", json_array());
	if (rt->action != NULL)
		json_object_set_new(op, "x-usetrace-audit", json_string(rt->action));
	add_query(params, rt->query);
	if (strcmp(rt->method, "POST") == 0 || strcmp(rt->method, "PUT") == 0)
		json_object_set_new(op, "requestBody", json_pack("{s:b, s:{s:{}}}",
		    "required", strcmp(rt->method, "PUT") == 0, "content",
		    strcmp(rt->method, "PUT") == 0 ? "application/octet-stream" :
		    "application/json"));
	return op;
}

static json_t *
document(void)
{
	const struct srv_route *rt = NULL;
	json_t *doc, *paths = json_object();
	size_t n, i;

	rt = srv_routes(&n);
	for (i = 0; i < n; i++) {
		json_t *item = json_object_get(paths, rt[i].pattern);
		char m[8];
		size_t k;

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, rt[i].pattern, item);
		}
		for (k = 0; rt[i].method[k] != '\0' && k + 1 < sizeof(m); k++)
			m[k] = (char)tolower((unsigned char)rt[i].method[k]);
		m[k] = '\0';
		json_object_set_new(item, m, operation(&rt[i]));
	}
	doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o}",
	    "openapi", "3.1.0", "info", "title", "usetrace server API", "version",
	    UT_VERSION, "description", "See docs/API.md. Every authenticated "
	    "request carries a bearer token and a Usetrace-Purpose header; "
	    "anything not listed here is denied and audited.", "servers", "url",
	    "/", "paths", paths);
	json_object_set_new(doc, "components", json_pack(
	    "{s:{s:{s:s, s:s}}, s:{s:{s:s, s:[s, s], s:{s:{s:s}, s:{s:s}}}}}",
	    "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
	    "schemas", "Error", "type", "object", "required", "error", "message",
	    "properties", "error", "type", "string", "message", "type", "string"));
	return doc;
}

char *
srv_openapi_text(void)
{
	json_t *doc = document();
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);

	json_decref(doc);
	return text;
}

void
server_print_openapi(FILE *f)
{
	char *t = srv_openapi_text();

	if (t != NULL) {
		fputs(t, f);
		fputc('\n', f);
		free(t);
	}
}

void
api_openapi(struct srv_req *q)
{
	char *t = srv_openapi_text();

	if (t == NULL || buf_append(&q->rs->body, t, strlen(t)) < 0 ||
	    buf_append(&q->rs->body, "\n", 1) < 0) {
		srv_reply_error(q, 500, "internal", "cannot render the document");
	} else {
		q->rs->status = 200;
		snprintf(q->rs->content_type, sizeof(q->rs->content_type),
		    "application/json");
	}
	free(t);
}

void
api_health(struct srv_req *q)
{
	srv_reply_json(q, 200, json_pack("{s:b, s:I}", "ok", 1, "server_time_ns",
	    (json_int_t)q->now_ns));
}
