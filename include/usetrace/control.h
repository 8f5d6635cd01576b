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
 * Replies are JSON objects; errors are {"ok":false,"error":"..."}.
 */
#ifndef USETRACE_CONTROL_H
#define USETRACE_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

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

#endif
