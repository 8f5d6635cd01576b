/*
 * test_ctlproto.c - the control socket's one encoder and decoder
 * (src/agent/ctlproto.c): replies written by the agent read back the same,
 * whatever their text holds (quotes, backslashes, newlines, control
 * characters, bytes that are not UTF-8); malformed lines are refused.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "usetrace/control.h"
#include "usetrace/err.h"
#include "t.h"

/* What control_reply_err(msg) puts on the wire, as one line. */
static void
wire_err(const char *msg, char *line, size_t n)
{
	int sv[2];
	ssize_t k;
	size_t got = 0;

	T_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	control_reply_err(sv[0], msg); /* closes sv[0] */
	while (got < n - 1 && (k = read(sv[1], line + got, n - 1 - got)) > 0)
		got += (size_t)k;
	close(sv[1]);
	line[got] = '\0';
}

static void
test_ctlproto_error_escaped(void)
{
	static const char *msgs[] = {
		"plain", "a \"quoted\" word", "back\\slash", "two\nlines",
		"tab\tand\rcr", "\x01\x1f ctl", "{\"ok\":true}", "",
	};
	char line[1024];
	json_t *j = NULL;
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		wire_err(msgs[i], line, sizeof(line));
		/* One line: the only newline ends it. */
		T_ASSERT(strlen(line) > 0 && line[strlen(line) - 1] == '\n');
		T_ASSERT(strchr(line, '\n') == line + strlen(line) - 1);
		line[strlen(line) - 1] = '\0';
		T_ASSERT_EQ(control_decode(line, &j), 0);
		T_ASSERT(!control_reply_is_ok(j));
		T_ASSERT_STREQ(control_reply_str(j, "error"), msgs[i]);
		json_decref(j);
		j = NULL;
	}
}

static void
test_ctlproto_not_utf8(void)
{
	char line[256];
	json_t *j = NULL;

	wire_err("/home/\xff\xfe/x", line, sizeof(line));
	line[strcspn(line, "\n")] = '\0';
	T_ASSERT_EQ(control_decode(line, &j), 0);
	T_ASSERT_STREQ(control_reply_str(j, "error"), "/home/?" "?/x");
	json_decref(j);
}

static void
test_ctlproto_encode_roundtrip(void)
{
	json_t *o = json_pack("{s:b, s:s, s:I, s:b, s:[s, s]}", "ok", 1,
	    "state", "paused", "until_wall_ns", (json_int_t)1733000000123456789LL,
	    "recording", 0, "collecting", "keys", "text"), *back = NULL;
	char *s;

	T_ASSERT(o != NULL);
	s = control_encode(o);
	T_ASSERT(s != NULL && strchr(s, '\n') == NULL);
	T_ASSERT_STREQ(s, "{\"ok\":true,\"state\":\"paused\",\"until_wall_ns\":"
	    "1733000000123456789,\"recording\":false,\"collecting\":"
	    "[\"keys\",\"text\"]}");
	T_ASSERT_EQ(control_decode(s, &back), 0);
	T_ASSERT(json_equal(o, back));
	T_ASSERT(control_reply_is_ok(back));
	T_ASSERT_STREQ(control_reply_str(back, "state"), "paused");
	T_ASSERT_EQ(control_reply_int(back, "until_wall_ns"), 1733000000123456789LL);
	T_ASSERT_EQ(control_reply_bool(back, "recording"), 0);
	/* Absent or mistyped: the defaults. */
	T_ASSERT_STREQ(control_reply_str(back, "until_wall_ns"), "");
	T_ASSERT_EQ(control_reply_int(back, "state"), 0);
	T_ASSERT_EQ(control_reply_bool(back, "nothing"), -1);
	T_ASSERT(control_encode(json_object_get(back, "collecting")) == NULL);
	free(s);
	json_decref(o);
	json_decref(back);
	T_ASSERT(!control_reply_is_ok(NULL));
	T_ASSERT_STREQ(control_reply_str(NULL, "state"), "");
}

static void
test_ctlproto_malformed_refused(void)
{
	static const char *bad[] = {
		"", " ", "{", "}", "[1,2]", "null", "true", "42", "\"ok\"",
		"{\"ok\":true", "{\"ok\":tru}", "{'ok':true}", "{\"ok\":true}x",
		"{\"a\":1,\"a\":2}", "{\"s\":\"\xff\"}", "\"state\":\"recording\"",
	};
	json_t *j = (json_t *)1;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_ASSERT_EQ(control_decode(bad[i], &j), UT_EPARSE);
		T_ASSERT(j == NULL);
		j = (json_t *)1;
	}
	T_ASSERT_EQ(control_decode(NULL, &j), UT_EPARSE);
}

static void
test_ctlproto_ok_replies(void)
{
	int sv[2];
	char line[128];
	ssize_t k;
	json_t *j = NULL;

	T_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	control_reply_recording(sv[0], false);
	k = read(sv[1], line, sizeof(line) - 1);
	close(sv[1]);
	T_ASSERT(k > 0);
	line[k] = '\0';
	T_ASSERT_STREQ(line, "{\"ok\":true,\"recording\":false}\n");
	line[k - 1] = '\0';
	T_ASSERT_EQ(control_decode(line, &j), 0);
	T_ASSERT_EQ(control_reply_bool(j, "recording"), 0);
	json_decref(j);
}

T_LIST(T_CASE(test_ctlproto_error_escaped), T_CASE(test_ctlproto_not_utf8),
    T_CASE(test_ctlproto_encode_roundtrip),
    T_CASE(test_ctlproto_malformed_refused), T_CASE(test_ctlproto_ok_replies))
