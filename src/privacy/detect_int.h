/*
 * detect_int.h - the detector rule table and its validators.  Private to
 * src/privacy/.
 *
 * A rule is one PCRE2 pattern (the truth), an optional Vectorscan pattern
 * (the prefilter; NULL means "the PCRE2 pattern in HS_FLAG_PREFILTER mode",
 * which Vectorscan guarantees to be a superset), the window around a
 * Vectorscan hit inside which the PCRE2 match must lie, and a validator.
 *
 * Invariant (R1): every PCRE2 match [s, e) of a rule has a Vectorscan hit
 * end h of the same rule with h - back <= s <= h and e <= h + fwd.  The
 * engine only looks for matches inside that window, so a rule that broke
 * R1 would silently miss matches; tests/unit/test_detect.c checks each type.
 */
#ifndef USETRACE_DETECT_INT_H
#define USETRACE_DETECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/detect.h"

/*
 * Validator: may narrow [*s, *e) (never widen it) and returns true to
 * keep the candidate.  text is the whole scanned text (len bytes).
 */
typedef bool (*detect_valid_fn)(const char *text, size_t len, size_t *s,
    size_t *e);

struct detect_rule {
	enum detect_type type;
	const char *re;		/* PCRE2; capture group 1, when set, is the span */
	const char *hs;		/* Vectorscan prefilter, or NULL */
	uint32_t back;		/* match start >= hit end - back */
	uint32_t fwd;		/* match end <= hit end + fwd */
	detect_valid_fn valid;	/* NULL: no validation */
};

/*
 * The rule tables: core formats (detect_rules.c), vendor tokens
 * (detect_vendors.c), secrets introduced by context (detect_context.c) and
 * international personal data (detect_pii.c), then the digit rules of
 * detect_rules.c and detect_pii.c.  detect.c concatenates them; a rule's id
 * is its index in that order.
 */
extern const struct detect_rule detect__rules[];
extern const size_t detect__nrules;
extern const struct detect_rule detect__vendor_rules[];
extern const size_t detect__nvendor_rules;
extern const struct detect_rule detect__context_rules[];
extern const size_t detect__ncontext_rules;
extern const struct detect_rule detect__pii_rules[];
extern const size_t detect__npii_rules;
/*
 * Digit rules (detect_rules.c, detect_pii.c): Vectorscan runs them only on
 * the windows of the digit pass (detect_digits.c, invariant D1).
 */
extern const struct detect_rule detect__digit_rules[];
extern const size_t detect__ndigit_rules;
extern const struct detect_rule detect__pii_digit_rules[];
extern const size_t detect__npii_digit_rules;

/* Overlap priority of a type: higher wins. */
int detect__priority(enum detect_type t);

/* Validators, exported for the unit tests. */
bool detect__luhn(const char *digits, size_t n);
bool detect__iban_ok(const char *s, size_t n);
uint32_t detect__crc32(const void *p, size_t n);
double detect__entropy(const char *s, size_t n);
bool detect__is_placeholder(const char *s, size_t n);
size_t detect__class_switches(const char *s, size_t n);
size_t detect__distinct(const char *s, size_t n);
/* A random-looking token (entropy, not a placeholder): vendor tokens. */
bool detect__v_token(const char *text, size_t len, size_t *s, size_t *e);
/* A value after a secret keyword: long, random-looking (GENERIC_SECRET). */
bool detect__v_generic(const char *text, size_t len, size_t *s, size_t *e);
/* Social security number rules (area, group, serial). */
bool detect__v_ssn(const char *text, size_t len, size_t *s, size_t *e);

/*
 * Standalone high-entropy strings (no keyword): calls add(ctx, s, e) for
 * each run of token characters that passes the entropy and character-class
 * tests (detect_entropy.c).  Returns 0 or the first negative add() result.
 */
int detect__standalone(const char *t, size_t len,
    int (*add)(void *ctx, size_t s, size_t e), void *ctx);

/*
 * The digit pass: calls win(ctx, s, e) for each window of the text in which
 * a digit rule may match (detect_digits.c, D1), in increasing order, not
 * overlapping.  Returns 0 or the first negative win() result.
 */
int detect__digit_windows(const char *t, size_t len,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx);

/*
 * Whether a rule's Vectorscan pattern is one the gate pass covers
 * (detect_gates.c, G1): such a rule is scanned only on the windows.  A rule
 * whose pattern changes stops being gated (and is scanned over the whole
 * text) until detect_gates.c learns the new pattern.
 */
bool detect__gated(const struct detect_rule *ru);

/*
 * The gate pass: calls win(ctx, s, e) for each window of the text in which
 * a gated rule's Vectorscan pattern may match (detect_gates.c, G1), in no
 * particular order, possibly overlapping.  Returns 0 or the first negative
 * win() result.
 */
int detect__gate_windows(const char *t, size_t len,
    int (*win)(void *ctx, size_t s, size_t e), void *ctx);

static inline bool
dt_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
dt_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static inline bool
dt_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

#endif
