/*
 * err.c - ut_strerror() over the UT_ERR_MAP table and errno.
 */
#include <string.h>

#include "usetrace/err.h"

const char *
ut_strerror(int err)
{
	switch (err) {
#define UT_ERR_CASE(name, val, msg) \
	case (val):                 \
		return (msg);
		UT_ERR_MAP(UT_ERR_CASE)
#undef UT_ERR_CASE
	default:
		break;
	}
	if (err < 0 && err > -1000)
		return strerror(-err);
	if (err == 0)
		return "success";
	return "unknown error";
}
