/*
 * record_upload.c - `usetrace record` on an enrolled device uploads in the
 * background: this file wires the uploader (upload.h, its own thread) to
 * the agent's hooks (agent.h) with device.json's credentials, and runs
 * device_sync.c's session (keys, clock, consent) in the uploader thread
 * before the first upload and after every failure.
 *
 * Invariants:
 *  (1) The agent's hooks only take note (upload_agent_notify) or copy the
 *      status under the uploader's mutex: capture never waits for the
 *      network.
 *  (2) The connection is device.json's: the pinned key, TLS 1.3, never
 *      without the pin (client.h).
 *  (3) At most one uploader per process (the recorder's).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/agent.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/testhooks.h"
#include "usetrace/upload.h"
#include "usetrace/util.h"
#include "cli_int.h"

/* Each request of the uploader ends after this long at most. */
#define UPLOAD_TIMEOUT_S 30

static struct {
	struct cli_device dv;
	struct upload_agent *ua;
	bool on;
	atomic_int cancel;  /* set by upload_agent_stop(): ends a request */
} ru;

static int
session(void *arg, bool *erased_all, char *err, size_t errsz)
{
	(void)arg;
	ru.dv.erased_all = false;
	if (cli_device_sync_control(&ru.dv) < 0) {
		snprintf(err, errsz, "control: the server's keys and clock could "
		    "not be fetched (the recorder's log says why)");
		return -1;
	}
	if (cli_device_post_consent(&ru.dv) < 0) {
		snprintf(err, errsz, "consent: the consent could not be posted "
		    "(the recorder's log says why)");
		return -1;
	}
	*erased_all = ru.dv.erased_all;
	return 0;
}

static void
closed(void *arg)
{
	(void)arg;
	upload_agent_notify(ru.ua);
}

static struct json_t *
status(void *arg)
{
	struct upload_status st;

	(void)arg;
	upload_agent_status(ru.ua, &st);
	return upload_status_json(&st);
}

/*
 * UT_UPLOAD_BACKOFF_MS=BASE[,CAP] (tests only: shorter retries than the
 * 1 s doubling to 5 min).
 */
static void
backoff_from_env(struct upload_agent_opts *o)
{
	const char *e = ut_test_env("UT_UPLOAD_BACKOFF_MS");
	char *end;
	unsigned long long b, c = 0;

	if (e == NULL || *e == '\0')
		return;
	b = strtoull(e, &end, 10);
	if (*end == ',')
		c = strtoull(end + 1, &end, 10);
	if (*end != '\0' || b == 0) {
		log_warn("record: ignoring a malformed UT_UPLOAD_BACKOFF_MS");
		return;
	}
	o->backoff_base_ms = b;
	o->backoff_cap_ms = c ? c : b * 8;
	o->rescan_ms = b < 5000 ? b : 5000;
}

int
record_upload_start(const char *dir, struct agent_opts *ao)
{
	struct upload_agent_opts o;
	int r;

	if (ru.on)
		return -1;
	memset(&ru.dv, 0, sizeof(ru.dv));
	if (cli_device_open(&ru.dv) < 0) {
		cli_device_close(&ru.dv);
		log_warn("record: not uploading in the background; 'usetrace "
		    "upload %s' sends the segments", dir);
		return -1;
	}
	ru.dv.c.timeout_s = UPLOAD_TIMEOUT_S;
	atomic_store(&ru.cancel, 0);
	ru.dv.c.cancel = &ru.cancel;
	memset(&o, 0, sizeof(o));
	o.cancel = &ru.cancel;
	o.dir = dir;
	cli_device_upload_dev(&ru.dv, &o.dev);
	o.session = session;
	backoff_from_env(&o);
	if ((r = upload_agent_start(&o, &ru.ua)) < 0) {
		log_error("record: cannot start the uploader: %s", ut_strerror(r));
		cli_device_close(&ru.dv);
		return -1;
	}
	ru.on = true;
	ao->segment_closed = closed;
	ao->status_extra = status;
	ao->upload_arg = NULL;
	log_info("uploading closed segments to %s in the background",
	    ru.dv.c.url);
	return 0;
}

void
record_upload_stop(void)
{
	if (!ru.on)
		return;
	upload_agent_stop(ru.ua);
	ru.ua = NULL;
	cli_device_close(&ru.dv);
	ru.on = false;
}
