/*
 * expiry.c - when an export expires (docs/EXPORT.md "Expiry").  The policy
 * the data was recorded under sets export.expire (days); an export made at
 * time T expires at 00:00 UTC of the day T + days falls on, so it never
 * lives longer than the policy says.  Days are written YYYY-MM-DD (UTC):
 * the only date an export holds, and it is the export's, not a recording's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "usetrace/export.h"
#include "usetrace/testhooks.h"
#include "usetrace/util.h"

#define DAY_NS 86400000000000ll

void
export_expiry_day(int64_t made_ns, uint32_t days, char out[11])
{
	time_t t = (time_t)((made_ns + (int64_t)days * DAY_NS) / 1000000000ll);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		out[0] = '\0';
}

/* day -> seconds of its 00:00 UTC; -1 when malformed. */
static int64_t
day_start(const char *day)
{
	struct tm tm;
	int y, m, d;
	char tail;

	if (day == NULL || strlen(day) != 10 ||
	    sscanf(day, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
	    y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return (int64_t)timegm(&tm);
}

bool
export_day_ok(const char *day)
{
	return day_start(day) >= 0;
}

bool
export_expired(const char *day, int64_t now_ns)
{
	int64_t s = day_start(day);

	return s >= 0 && now_ns / 1000000000ll >= s;
}

int64_t
export_now_ns(void)
{
	const char *e = ut_test_env("USETRACE_TEST_EXPORT_SKEW_DAYS");
	int64_t now = ut_now_wall_ns();
	uint64_t d;

	if (e != NULL && ut_parse_u64(e, &d) == 0 && d <= 36500)
		now += (int64_t)d * DAY_NS;
	return now;
}
