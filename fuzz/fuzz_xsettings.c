/*
 * fuzz_xsettings.c - the XSETTINGS property parser on arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>

#include "usetrace/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int32_t v = 0;

	if (xsettings_get_int(data, size, "Net/DoubleClickTime", &v) == 0)
		return v == 0x7fffffff; /* use the value */
	return 0;
}
