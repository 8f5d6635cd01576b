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
};

/*
 * Fills c from the options (each may be NULL), the environment and the
 * saved login, as above.  need_token: fail without one.  Errors:
 * UT_ENOTFOUND naming nothing found (*what is set to "server", "pin" or
 * "token"), UT_EPARSE for a URL that is not https:// or a malformed pin.
 * Free with client_cfg_finish().
 */
int client_cfg_resolve(struct client_cfg *c, const char *url, const char *token,
    const char *pin, bool need_token, const char **what)
	__attribute__((warn_unused_result));
void client_cfg_finish(struct client_cfg *c);
/* Sets c->token to a copy of token (replacing and wiping any old one). */
void client_cfg_set_token(struct client_cfg *c, const char *token);

/* Saves url, pin and token as the login of this user (0600, atomic). */
int client_login_save(const struct client_cfg *c) __attribute__((warn_unused_result));

struct client_resp {
	long status;           /* HTTP status; 0 when no response */
	uint8_t *body;         /* malloc'd, NUL-terminated, may be NULL */
	size_t len;
	char content_type[64];
};

/*
 * One request.  purpose goes in the Usetrace-Purpose header (NULL: none),
 * the token (if any) in Authorization: Bearer.  body may be NULL.  The
 * response body is capped at resp_cap bytes (UT_ETOOBIG beyond).  Returns 0
 * whenever an HTTP response arrived (whatever its status; check
 * r->status); UT_ECRYPTO when the pin does not match or TLS fails,
 * -ECONNREFUSED / -ETIMEDOUT / UT_EPARSE for transport failures.  Free
 * the response with client_resp_free() (wipes the body).
 */
int client_request(const struct client_cfg *c, const char *method,
    const char *path, const char *purpose, const char *content_type,
    const void *body, size_t len, size_t resp_cap, struct client_resp *r)
	__attribute__((warn_unused_result));
void client_resp_free(struct client_resp *r);

/*
 * For a non-2xx response: the "error" and "message" fields of its JSON
 * body copied into code/msg (empty when absent).
 */
void client_resp_error(const struct client_resp *r, char *code, size_t codesz,
    char *msg, size_t msgsz);

#endif
