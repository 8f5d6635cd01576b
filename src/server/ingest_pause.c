/*
 * ingest_pause.c - ingest's rule for a person's own pause (issue 13,
 * POST /v1/my/pause, api_web_my.c): a segment of that person begun during
 * their pause, or begun before it and whose signed end is more than
 * SRV_PAUSE_GRACE_NS into it (an agent offline when the pause came
 * recorded through it), is discarded, by server time, exactly as for the
 * organisation's pause (ingest.c check_rules, orgctl.c
 * srv_ctl_paused_segment): srv_pause_covers() states the rule that
 * meta_org_pause_covering() applies to the organisation's pauses in SQL.
 *
 * The person's pause is one setting, the latest (api_web_my.c): a segment
 * of an earlier pause that a later pause replaced is not recognised.
 */
#include <stdio.h>

#include "server_int.h"

bool
srv_pause_covers(int64_t start_ns, int64_t end_ns, int64_t since_ns,
    int64_t stop_ns, int64_t grace_ns)
{
	int64_t end = end_ns > start_ns ? end_ns : start_ns;

	if (since_ns > end)
		return false;
	return (start_ns >= since_ns && start_ns < stop_ns) ||
	    (start_ns < since_ns && end - grace_ns > since_ns);
}

int
srv_my_paused_segment(struct srv_req *q, const uint8_t subject[16],
    int64_t start_ns, int64_t end_ns, const char **why)
{
	struct srv_my_pause p;

	srv_my_pause_get(q->srv, subject, q->now_ns, &p);
	if (p.since_ns == 0 || !srv_pause_covers(start_ns, end_ns, p.since_ns,
	    p.ended_ns != 0 ? p.ended_ns : p.until_ns, SRV_PAUSE_GRACE_NS))
		return 0;
	snprintf(q->a_object, sizeof(q->a_object), "segment:%.60s my_pause:%lld",
	    q->param[0], (long long)p.since_ns);
	*why = "my_pause";
	return 1;
}
