/*
 * detect_jsonl.c - one line of the `usetrace scan` format (detect.h):
 * {"id": <any>, "text": "..."} in, {"id": <id>, "spans": [...]} out.
 * Shared by the CLI and the fuzz target, so the fuzzed code is the code
 * that runs.  The text is wiped from jansson's copy before it is freed.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>

#include "usetrace/detect.h"
#include "usetrace/err.h"
#include "usetrace/jsonw.h"

int
detect_scan_json_line(struct detect *d, const char *line, size_t n, FILE *out)
{
	const struct detect_span *sp;
	json_error_t jerr;
	json_t *root, *id, *text = NULL;
	char *idstr = NULL;
	int i, ns, r;

	if (d == NULL || (line == NULL && n > 0) || out == NULL)
		return UT_EINVAL;
	root = json_loadb(line, n, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		r = UT_EPARSE;
		goto out;
	}
	text = json_object_get(root, "text");
	if (!json_is_string(text)) {
		r = UT_EPARSE;
		goto out;
	}
	ns = detect_scan(d, json_string_value(text), json_string_length(text), 0,
	    &sp);
	if (ns < 0) {
		r = ns;
		goto out;
	}
	id = json_object_get(root, "id");
	idstr = id != NULL ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	fputs("{\"id\":", out);
	fputs(idstr != NULL ? idstr : "null", out);
	fputs(",\"spans\":[", out);
	for (i = 0; i < ns; i++) {
		fprintf(out, "%s{\"start\":%zu,\"end\":%zu,\"type\":", i ? "," : "",
		    sp[i].start, sp[i].end);
		jsonw_str(out, detect_type_name(sp[i].type));
		fputc('}', out);
	}
	fputs("]}\n", out);
	r = 0;
out:
	free(idstr);
	if (json_is_string(text))
		sodium_memzero((char *)json_string_value(text), json_string_length(text));
	json_decref(root);
	return r;
}
