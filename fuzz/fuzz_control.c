/*
 * fuzz_control.c - the control socket's reply decoder (control_decode(),
 * src/agent/ctlproto.c) on arbitrary lines.  Properties checked (abort on
 * violation): a decoded reply is an object; its encoding is one line (no
 * '\n') that decodes to an equal object; the accessors never crash on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "usetrace/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL, *back = NULL;
	char *line, *enc;

	if (size > CONTROL_LINE_MAX)
		return 0;
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (control_decode(line, &j) == 0) {
		if (!json_is_object(j))
			abort();
		(void)control_reply_is_ok(j);
		(void)control_reply_str(j, "state");
		(void)control_reply_int(j, "until_wall_ns");
		(void)control_reply_bool(j, "recording");
		enc = control_encode(j);
		if (enc == NULL || strchr(enc, '\n') != NULL ||
		    control_decode(enc, &back) != 0 || !json_equal(j, back))
			abort();
		free(enc);
	} else if (j != NULL) {
		abort();
	}
	json_decref(back);
	json_decref(j);
	free(line);
	return 0;
}
