/*
 * test_upload.c - the background uploader's pure parts (upload.h): the
 * retry schedule, the queue, the status text, the directory listing, and
 * the thread against a server that is never reachable (no network: the
 * session hook fails or says "erased").  No timing assertions: the thread
 * tests wait for a state, with a generous bound only against hanging.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "usetrace/err.h"
#include "usetrace/upload.h"
#include "usetrace/util.h"
#include "t.h"

static void
test_upload_backoff_doubles_to_cap(void)
{
	static const uint32_t rnds[] = { 0, 1, 7, 12345, 0x7fffffffu, 0xffffffffu };
	uint64_t hi, d;
	unsigned f;
	size_t i;

	for (f = 1; f <= 40; f++) {
		/* The undithered delay: 1000 * 2^(f-1), at most 300000. */
		hi = f < 20 ? 1000ull << (f - 1) : 300000;
		if (hi > 300000)
			hi = 300000;
		for (i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			d = upload_backoff_ms(f, 1000, 300000, rnds[i]);
			if (d < hi / 2 || d > hi)
				T_FAIL("failure %u rnd %u: %llu not in [%llu, %llu]",
				    f, rnds[i], (unsigned long long)d,
				    (unsigned long long)hi / 2, (unsigned long long)hi);
		}
	}
	/* The jitter spans its range: the lowest and the highest are reached. */
	T_ASSERT_EQ(upload_backoff_ms(3, 1000, 300000, 0), 2000);
	T_ASSERT_EQ(upload_backoff_ms(3, 1000, 300000, 2000), 4000);
	/* Huge failure counts do not overflow; odd inputs stay sane. */
	T_ASSERT(upload_backoff_ms(4000000000u, 1000, 300000, 99) <= 300000);
	T_ASSERT(upload_backoff_ms(1, 5000, 300, 0) <= 300);
	T_ASSERT(upload_backoff_ms(1, 0, 0, 0) >= 1);
	T_ASSERT(upload_backoff_ms(0, 1000, 300000, 0) >= 500);
}

static void
test_upload_queue_sorted_no_duplicates(void)
{
	struct upload_queue q;
	unsigned idx = 0;
	unsigned segs[] = { 9, 3, 7 };
	uint64_t bytes[] = { 90, 30, 70 };

	upload_queue_init(&q);
	T_ASSERT(!upload_queue_first(&q, &idx));
	T_ASSERT_EQ(upload_queue_add(&q, 5, 50), 0);
	T_ASSERT_EQ(upload_queue_add(&q, 2, 20), 0);
	T_ASSERT_EQ(upload_queue_add(&q, 8, 80), 0);
	T_ASSERT_EQ(upload_queue_add(&q, 5, 999), 0); /* already there */
	T_ASSERT_EQ(q.n, 3);
	T_ASSERT_EQ(q.total_bytes, 150);
	T_ASSERT(upload_queue_first(&q, &idx));
	T_ASSERT_EQ(idx, 2);
	T_ASSERT(upload_queue_remove(&q, 2));
	T_ASSERT(!upload_queue_remove(&q, 2));
	T_ASSERT(upload_queue_first(&q, &idx));
	T_ASSERT_EQ(idx, 5);
	T_ASSERT_EQ(q.total_bytes, 130);
	/* A rescan replaces the set: gone ones leave, new ones come in. */
	T_ASSERT_EQ(upload_queue_replace(&q, segs, bytes, 3), 0);
	T_ASSERT_EQ(q.n, 3);
	T_ASSERT_EQ(q.total_bytes, 190);
	T_ASSERT(upload_queue_first(&q, &idx));
	T_ASSERT_EQ(idx, 3);
	T_ASSERT_EQ(q.idx[1], 7);
	T_ASSERT_EQ(q.idx[2], 9);
	upload_queue_finish(&q);
	upload_queue_finish(&q);
}

static void
test_upload_queue_full_is_unchanged(void)
{
	struct upload_queue q;
	unsigned i;

	upload_queue_init(&q);
	/*
	 * In ascending order (each add appends): descending, every add moved
	 * the whole array, O(n^2), past the test timeout under ASan.
	 */
	for (i = 0; i < UPLOAD_QUEUE_MAX; i++)
		T_ASSERT_EQ(upload_queue_add(&q, i + 1, 1), 0);
	T_ASSERT_EQ(upload_queue_add(&q, 0, 1), UT_ETOOBIG);
	T_ASSERT_EQ(q.n, UPLOAD_QUEUE_MAX);
	T_ASSERT_EQ(q.total_bytes, UPLOAD_QUEUE_MAX);
	T_ASSERT_EQ(q.idx[0], 1);
	upload_queue_finish(&q);
}

static void
test_upload_status_json_is_json(void)
{
	struct upload_status st;
	char *out;
	json_t *j, *u;
	json_error_t je;

	memset(&st, 0, sizeof(st));
	st.waiting = 3;
	st.waiting_bytes = 1234;
	snprintf(st.last_error, sizeof(st.last_error), "say \"no\" \\ \x01 here");
	st.last_final_outcome = UPLOAD_DISCARDED;
	snprintf(st.last_final_reason, sizeof(st.last_final_reason), "org_pause");
	snprintf(st.last_final_segment, sizeof(st.last_final_segment),
	    "seg-00000004.uts");
	/* Through the control protocol's encoding, as `usetrace status` reads it. */
	u = upload_status_json(&st);
	T_ASSERT(u != NULL);
	out = json_dumps(u, JSON_COMPACT);
	json_decref(u);
	T_ASSERT(out != NULL && strchr(out, '\x01') == NULL);
	j = json_loads(out, 0, &je);
	free(out);
	T_ASSERT(j != NULL);
	u = j;
	T_ASSERT_EQ(json_integer_value(json_object_get(u, "segments")), 3);
	T_ASSERT_EQ(json_integer_value(json_object_get(u, "bytes")), 1234);
	T_ASSERT_STREQ(json_string_value(json_object_get(u, "last_error")),
	    "say \"no\" \\  here");
	T_ASSERT_STREQ(json_string_value(json_object_get(json_object_get(u,
	    "last_final"), "reason")), "org_pause");
	json_decref(j);
	memset(&st, 0, sizeof(st));
	/* Not UTF-8: still a string, its other bytes marked. */
	snprintf(st.last_error, sizeof(st.last_error), "bad \xff byte");
	j = upload_status_json(&st);
	T_ASSERT(j != NULL);
	T_ASSERT_STREQ(json_string_value(json_object_get(j, "last_error")),
	    "bad ? byte");
	T_ASSERT(json_is_null(json_object_get(j, "last_final")));
	json_decref(j);
	st.last_error[0] = '\0';
	j = upload_status_json(&st);
	T_ASSERT(j != NULL);
	T_ASSERT(json_is_null(json_object_get(j, "last_error")));
	json_decref(j);
}

static char tdir[] = "/tmp/ut-upload-XXXXXX";

static void
put(const char *name, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	f = fopen(path, "wb");
	T_ASSERT(f != NULL);
	while (len-- > 0)
		fputc('x', f);
	fclose(f);
}

static int
exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	return access(path, F_OK) == 0;
}

static void
test_upload_lists_closed_segments_only(void)
{
	unsigned *segs = NULL, idx;
	size_t n = 0;

	T_ASSERT(mkdtemp(tdir) != NULL);
	put("seg-00000002.uts", 10);
	put("seg-00000001.uts", 20);
	put("seg-00000003.uts.open", 30);
	put("seg-0000000x.uts", 1);
	put("witness.jsonl", 1);
	T_ASSERT_EQ(upload_list_segments(tdir, 100, &segs, &n), 0);
	T_ASSERT_EQ(n, 2);
	T_ASSERT_EQ(segs[0], 1);
	T_ASSERT_EQ(segs[1], 2);
	free(segs);
	T_ASSERT(upload_seg_index("seg-00000042.uts", &idx) && idx == 42);
	T_ASSERT(!upload_seg_index("seg-00000042.uts.open", &idx));
	T_ASSERT_EQ(upload_list_segments("/nonexistent/ut", 100, &segs, &n),
	    -ENOENT);
}

struct sess {
	int calls;
	bool erase;
};

static int
fake_session(void *arg, bool *erased_all, char *err, size_t errsz)
{
	struct sess *s = arg;

	s->calls++;
	if (s->erase) {
		*erased_all = true;
		return 0;
	}
	snprintf(err, errsz, "the server cannot be reached (test)");
	return -1;
}

/* Polls the status until pred holds; fails after ~30 s (hang guard only). */
#define WAIT_FOR(ua, st, pred)                                            \
	do {                                                              \
		int w_;                                                   \
		for (w_ = 0; w_ < 3000; w_++) {                           \
			upload_agent_status((ua), &(st));                 \
			if (pred)                                         \
				break;                                    \
			usleep(10000);                                    \
		}                                                         \
		T_ASSERT(pred);                                           \
	} while (0)

static void
test_upload_agent_keeps_segments_while_unreachable(void)
{
	static const uint8_t k[32];
	struct client_cfg c;
	struct upload_agent_opts o;
	struct upload_agent *ua = NULL;
	struct upload_status st;
	struct sess s = { 0, false };

	/* tdir from the listing test: seg 1 (20 bytes) and 2 (10 bytes). */
	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	o.dir = tdir;
	o.dev.c = &c;
	o.dev.device_pk = o.dev.receipt_pk = o.dev.audit_pk = k;
	o.dev.home = tdir;
	o.backoff_base_ms = 1;
	o.backoff_cap_ms = 4;
	o.rescan_ms = 5;
	o.session = fake_session;
	o.session_arg = &s;
	T_ASSERT_EQ(upload_agent_start(&o, &ua), 0);
	WAIT_FOR(ua, st, st.failures >= 3 && st.waiting == 2);
	T_ASSERT_EQ(st.waiting_bytes, 30);
	T_ASSERT_EQ(st.uploaded, 0);
	T_ASSERT(strstr(st.last_error, "cannot be reached") != NULL);
	T_ASSERT(st.last_error_ns > 0);
	/* A new closed segment joins the queue; failures delete nothing. */
	put("seg-00000005.uts", 5);
	upload_agent_notify(ua);
	WAIT_FOR(ua, st, st.waiting == 3);
	T_ASSERT_EQ(st.waiting_bytes, 35);
	T_ASSERT(exists("seg-00000001.uts") && exists("seg-00000002.uts") &&
	    exists("seg-00000005.uts") && exists("seg-00000003.uts.open"));
	upload_agent_stop(ua);
	T_ASSERT(s.calls >= 3);
	/* Restart: the queue is rebuilt from the directory. */
	s.calls = 0;
	s.erase = true;
	T_ASSERT_EQ(upload_agent_start(&o, &ua), 0);
	/* Erased at the server: the closed ones go unsent, the open one stays. */
	WAIT_FOR(ua, st, st.waiting == 0 && s.calls >= 1);
	T_ASSERT(!exists("seg-00000001.uts") && !exists("seg-00000002.uts") &&
	    !exists("seg-00000005.uts"));
	T_ASSERT(exists("seg-00000003.uts.open"));
	upload_agent_stop(ua);
	upload_agent_stop(NULL);
	upload_agent_notify(NULL);
	upload_agent_status(NULL, &st);
	T_ASSERT_EQ(st.waiting, 0);
}

/*
 * A server that takes the connection and never answers (the TLS handshake
 * stalls): stopping the uploader cuts the request through the client's
 * cancel hook (within about a second) instead of waiting for the client's
 * 10 s connect timeout (or, after a handshake, the request's timeout),
 * and the segment stays for the next start.
 */
static void
test_upload_agent_stop_cancels_stalled_request(void)
{
	static const uint8_t k[32];
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct client_cfg c;
	struct upload_agent_opts o;
	struct upload_agent *ua = NULL;
	struct upload_status st;
	atomic_int cancel = 0;
	struct pollfd pfd;
	uint64_t t0, took_ms;
	int ls, conn = -1;

	T_ASSERT((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_ASSERT_EQ(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_ASSERT_EQ(listen(ls, 4), 0);
	T_ASSERT_EQ(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	memset(&c, 0, sizeof(c));
	snprintf(c.url, sizeof(c.url), "https://127.0.0.1:%u",
	    (unsigned)ntohs(sa.sin_port));
	snprintf(c.pin, sizeof(c.pin), "sha256//%s",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	c.timeout_s = 60;
	c.cancel = &cancel;
	put("seg-00000007.uts", 400);  /* past a segment header's length */
	memset(&o, 0, sizeof(o));
	o.dir = tdir;
	o.dev.c = &c;
	o.dev.device_pk = o.dev.receipt_pk = o.dev.audit_pk = k;
	o.dev.home = tdir;
	o.cancel = &cancel;
	T_ASSERT_EQ(upload_agent_start(&o, &ua), 0);
	/* The upload is in flight once its connection arrives. */
	pfd.fd = ls;
	pfd.events = POLLIN;
	T_ASSERT_EQ(poll(&pfd, 1, 30000), 1);
	T_ASSERT((conn = accept(ls, NULL, NULL)) >= 0);
	usleep(200000);
	upload_agent_status(ua, &st);
	T_ASSERT_EQ(st.uploaded, 0);
	t0 = ut_now_mono_ns();
	upload_agent_stop(ua);
	took_ms = (ut_now_mono_ns() - t0) / 1000000u;
	/*
	 * Without the cancel the stop returns only when the stalled connect
	 * times out (10 s, curl's CONNECTTIMEOUT covers the handshake): the
	 * bound is that, not a speed requirement.
	 */
	T_ASSERT(took_ms < 9000);
	T_ASSERT(exists("seg-00000007.uts"));
	close(conn);
	close(ls);
}

static void
test_upload_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tdir);
	T_ASSERT_EQ(system(cmd), 0);
}

T_LIST(T_CASE(test_upload_backoff_doubles_to_cap),
    T_CASE(test_upload_queue_sorted_no_duplicates),
    T_CASE(test_upload_queue_full_is_unchanged),
    T_CASE(test_upload_status_json_is_json),
    T_CASE(test_upload_lists_closed_segments_only),
    T_CASE(test_upload_agent_keeps_segments_while_unreachable),
    T_CASE(test_upload_agent_stop_cancels_stalled_request),
    T_CASE(test_upload_cleanup))
