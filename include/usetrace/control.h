/*
 * control.h - the agent's local control socket.
 *
 * The agent (`usetrace record`) listens on a Unix stream socket in a
 * directory only its user can enter (0700): $XDG_RUNTIME_DIR/usetrace, else
 * $TMPDIR/usetrace-UID (/tmp when TMPDIR is unset).  When that directory
 * belongs to another user (pre-created to block or spoof the agent), a
 * warning names it and run/ in the key home is used instead.  Every connection is checked with SO_PEERCRED: a peer
 * with another uid is refused (and gets no answer).  The protocol is one
 * request line and one reply line per connection, both short text:
 *
 *     status              -> {"state":"recording"|"paused"|"not-recording", ...}
 *     pause MILLISECONDS  -> {"ok":true,"until_wall_ns":...} once capture stopped
 *     resume              -> {"ok":true}
 *     consent             -> {"ok":true,...}  (re-read consent and policy)
 *
 * Replies are JSON objects; errors are {"ok":false,"error":"..."}.  One
 * module (src/agent/ctlproto.c) encodes and decodes them, with jansson:
 * the agent answers through control_reply_*(), every client reads the
 * answer through control_ask() / control_decode() and the accessors.
 */
#ifndef USETRACE_CONTROL_H
#define USETRACE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_t; /* jansson's json_t */

#define CONTROL_LINE_MAX 4096

/* Path of the socket (creating its 0700 directory when create is set). */
int control_socket_path(char *out, size_t outsz, int create)
	__attribute__((warn_unused_result));

/*
 * Binds and listens (non-blocking, close-on-exec); replaces a stale socket
 * left by a dead agent, but fails with -EADDRINUSE when an agent answers.
 */
int control_listen(const char *path, int *out_fd) __attribute__((warn_unused_result));

/*
 * Accepts one connection on lfd: checks the peer's uid, reads one request
 * line (with a short timeout) into req.  Returns the connected fd (>= 0),
 * UT_EDENIED for another user (connection closed), or a negative error.
 */
int control_accept(int lfd, char *req, size_t reqsz) __attribute__((warn_unused_result));

/* Writes reply + "\n" and closes cfd. */
void control_reply(int cfd, const char *reply);

/*
 * Client: sends req, waits up to timeout_ms for the reply line.  -ENOENT /
 * -ECONNREFUSED when no agent runs.
 */
int control_request(const char *path, const char *req, char *reply,
    size_t replysz, int timeout_ms) __attribute__((warn_unused_result));

/*
 * Replies, encoded (the agent).  Each writes one line and closes cfd.
 * control_reply_obj takes obj (a JSON object; NULL answers an internal
 * error); strings are escaped by the JSON library, text that is not UTF-8
 * has its other bytes replaced by '?' (control_json_str).
 */
void control_reply_obj(int cfd, struct json_t *obj);
void control_reply_ok(int cfd);					/* {"ok":true} */
void control_reply_recording(int cfd, bool recording);	/* + "recording" */
void control_reply_err(int cfd, const char *msg);		/* {"ok":false,"error":msg} */

/* A JSON string of s (never NULL but on OOM): bytes of invalid UTF-8 -> '?'. */
struct json_t *control_json_str(const char *s);

/*
 * One reply line as a malloc'd compact JSON text without a newline, or
 * NULL (not an object, OOM).
 */
char *control_encode(const struct json_t *obj);

/*
 * Decodes a reply line: 0 and *out a JSON object (json_decref it), or
 * UT_EPARSE (malformed, or not an object; *out NULL).
 */
int control_decode(const char *line, struct json_t **out)
	__attribute__((warn_unused_result));

/* control_request() + control_decode(). */
int control_ask(const char *path, const char *req, int timeout_ms,
    struct json_t **out) __attribute__((warn_unused_result));

/* Accessors of a decoded reply (NULL j allowed): absent or mistyped -> default. */
bool control_reply_is_ok(const struct json_t *j);		/* "ok" is true */
const char *control_reply_str(const struct json_t *j, const char *key); /* "" */
int64_t control_reply_int(const struct json_t *j, const char *key);	/* 0 */
int control_reply_bool(const struct json_t *j, const char *key);	/* -1 absent */

#endif
