/*
 * client_int.h - what the files of src/client share; never included from
 * another folder.  The checks live in client_cfg.c so that a setting is
 * judged by one rule whether it was resolved or filled in by hand.
 */
#ifndef USETRACE_CLIENT_INT_H
#define USETRACE_CLIENT_INT_H

#include <stdbool.h>

/*
 * A pin list: "sha256//" followed by the standard base64 of 32 bytes
 * (44 characters), one or two of them joined by ';'.  0 or UT_EPARSE.
 */
int client__pin_check(const char *pin) __attribute__((warn_unused_result));

/*
 * A server URL: "https://" (any case), a non-empty rest, no whitespace or
 * control characters.  0 or UT_EPARSE.
 */
int client__url_check(const char *url) __attribute__((warn_unused_result));

/* A bearer token: 1..CLIENT_TOKEN_MAX-1 printable ASCII bytes, no space. */
bool client__token_ok(const char *token);

#endif
