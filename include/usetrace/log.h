/*
 * log.h - diagnostics for people and operators.
 *
 * Log lines carry metadata only: function names, error strings, counts,
 * file paths chosen by the user.  They never carry recorded content (typed
 * text, titles, pixels) or secrets; callers must not pass such data.
 */
#ifndef USETRACE_LOG_H
#define USETRACE_LOG_H

#include <stdarg.h>

enum ut_log_level { UT_LOG_ERROR = 0, UT_LOG_WARN, UT_LOG_INFO, UT_LOG_DEBUG };

/* Program name used as the message prefix ("usetrace"). */
void ut_log_set_progname(const char *name);
void ut_log_set_level(enum ut_log_level level);

void ut_log(enum ut_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "prog: fatal: ..." and abort().  For broken invariants only. */
void ut_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define log_error(...) ut_log(UT_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) ut_log(UT_LOG_WARN, __VA_ARGS__)
#define log_info(...) ut_log(UT_LOG_INFO, __VA_ARGS__)
#define log_debug(...) ut_log(UT_LOG_DEBUG, __VA_ARGS__)

#define UT_ASSERT(cond)                                                   \
	do {                                                              \
		if (!(cond))                                              \
			ut_fatal("%s:%d: %s: assertion failed: %s", __FILE__, \
			    __LINE__, __func__, #cond);                   \
	} while (0)

#endif
