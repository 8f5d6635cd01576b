/*
 * client.h - the HTTPS client every usetrace command uses to reach the
 * server (libcurl).  No code path connects without a pin: the server's
 * certificate is self-signed, so verification against a CA is off and the
 * public-key pin (CURLOPT_PINNEDPUBLICKEY, "sha256//BASE64", several joined
 * with ';' so a rotation can be announced) is the verification.  There is
 * no option to skip it.  TLS 1.3 only.
 *
 * Where the settings come from, first match wins:
 *   url:   --server URL, $USETRACE_SERVER, the saved login
 *   token: --token TOKEN, $USETRACE_TOKEN, the saved login
 *   pin:   --pin PIN, $USETRACE_PIN, the saved login
 * A saved token is used only with the saved server: when the URL comes
 * from --server or $USETRACE_SERVER and is not the saved one, the saved
 * token stays home (the token is then missing).
 * The saved login is $USETRACE_HOME/login.json (keys_home(); mode 0600),
 * written by `usetrace login`.  A device's own credentials (device token,
 * pins, ingest and receipt keys) are in device.json beside it, written by
 * `usetrace enroll` (src/cli owns that file's content).
 *
 * Tokens are secrets: kept in sodium_malloc'd memory, wiped, never logged
 * or printed in errors.
 */
#ifndef USETRACE_CLIENT_H
#define USETRACE_CLIENT_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_URL_MAX 256u
#define CLIENT_TOKEN_MAX 128u
#define CLIENT_PIN_MAX 300u      /* up to two pins joined by ';' */

struct client_cfg {
	char url[CLIENT_URL_MAX];     /* "https://127.0.0.1:8443", no trailing / */
	char pin[CLIENT_PIN_MAX];     /* required */
	char *token;                  /* sodium_malloc'd, NUL-terminated; may be NULL */
	long timeout_s;               /* whole-request timeout; 0: 60 */
	/*
	 * NULL, or a flag another thread may set: a request in progress then
	 * ends within about a second with -ECANCELED (the agent's long-poll
	 * thread stops this way).  Set it after client_cfg_resolve().
	 */
	const atomic_int *cancel;
};

/*
 * Fills c from the options (each may be NULL), the environment and the
 * saved login, as above; an empty option or variable counts as absent,
 * and the saved login is read only when something is still missing.
 * need_token: fail without one.  Errors: UT_ENOTFOUND naming nothing found
 * (*what is set to "server", "pin" or "token"), UT_EPARSE for a URL that
 * is not https:// (or too long), a malformed pin or token (*what names
 * it, as above) or an unreadable saved login (*what = "login").  what may
 * be NULL.  c need not be initialised; on success c->timeout_s is 0 (set
 * it afterwards), and on failure c is zeroed, so client_cfg_finish() is
 * always safe.  Free with client_cfg_finish().
 */
int client_cfg_resolve(struct client_cfg *c, const char *url, const char *token,
    const char *pin, bool need_token, const char **what)
	__attribute__((warn_unused_result));
/* Frees and wipes the token and zeroes c.  Accepts NULL. */
void client_cfg_finish(struct client_cfg *c);
/*
 * Sets c->token to a sodium_malloc'd copy of token (replacing and wiping
 * any old one); token NULL clears it.  c->token must be NULL or a token
 * set by this file.  Aborts only when out of memory.
 */
void client_cfg_set_token(struct client_cfg *c, const char *token);

/*
 * Saves url, pin and token (omitted when NULL) as the login of this user:
 * keys_home(create)/login.json, mode 0600, written to a temporary name,
 * fsync'd and renamed.  UT_EINVAL when c holds a value resolve would
 * refuse; -errno for I/O failures (the old login is then untouched).
 */
int client_login_save(const struct client_cfg *c) __attribute__((warn_unused_result));

struct client_resp {
	long status;           /* HTTP status; 0 when no response */
	uint8_t *body;         /* malloc'd, NUL-terminated, may be NULL */
	size_t len;
	char content_type[64];
};

/*
 * One request.  purpose goes in the Usetrace-Purpose header (NULL: none),
 * the token (if any) in Authorization: Bearer.  body may be NULL (not
 * allowed with GET or HEAD); content_type NULL sends none.  The response
 * body is capped at resp_cap bytes (UT_ETOOBIG beyond).  Returns 0
 * whenever an HTTP response arrived (whatever its status; check
 * r->status); UT_EINVAL without connecting when c->pin is empty or
 * malformed, the URL is not https://, or method (upper-case letters),
 * path ("/..." printable, no space), purpose, content_type or the token
 * hold characters that do not belong in a request line or header;
 * UT_ECRYPTO when the pin does not match or TLS fails; -ECONNREFUSED,
 * -ETIMEDOUT (c->timeout_s, connect 10 s), -EHOSTUNREACH (name not
 * resolved), UT_EPARSE (malformed HTTP), -EIO (anything else, including a
 * body cut off without TLS close_notify) for transport failures.  r need
 * not be initialised: it is filled on success and zeroed on failure, so
 * client_resp_free() is always safe.  Free the response with
 * client_resp_free() (wipes the body).  Thread-safe for distinct r.
 */
int client_request(const struct client_cfg *c, const char *method,
    const char *path, const char *purpose, const char *content_type,
    const void *body, size_t len, size_t resp_cap, struct client_resp *r)
	__attribute__((warn_unused_result));
/* Wipes and frees the body and zeroes r.  Accepts NULL. */
void client_resp_free(struct client_resp *r);

/*
 * For a non-2xx response: the "error" and "message" fields of its JSON
 * body copied into code/msg (sizes codesz/msgsz, always NUL-terminated,
 * cut at a UTF-8 boundary, control characters replaced by '?' so a
 * server cannot drive the terminal); empty when absent or when the body
 * is not JSON.  r, code and msg may be NULL.
 */
void client_resp_error(const struct client_resp *r, char *code, size_t codesz,
    char *msg, size_t msgsz);

#endif
