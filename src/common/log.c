/*
 * log.c - metadata-only diagnostics to stderr (see log.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "usetrace/log.h"

static const char *progname = "usetrace";
static enum ut_log_level max_level = UT_LOG_INFO;

void
ut_log_set_progname(const char *name)
{
	progname = name;
}

void
ut_log_set_level(enum ut_log_level level)
{
	max_level = level;
}

void
ut_log(enum ut_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level > max_level)
		return;
	fprintf(stderr, "%s: ", progname);
	if (level != UT_LOG_INFO)
		fprintf(stderr, "%s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
ut_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: fatal: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
