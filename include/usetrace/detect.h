/*
 * detect.h - detectors for secrets and personal data in captured text.
 *
 * A detector set (struct detect_set) is compiled once: one Vectorscan
 * (Hyperscan) database that prefilters every pattern in a single pass, the
 * PCRE2 codes that confirm a candidate and find its start (Vectorscan only
 * reports where a match ends), and the validators (Luhn, mod-97, CRC32,
 * entropy, placeholder checks).  The set is immutable after creation and
 * may be shared by threads.  Each thread scans through its own instance
 * (struct detect), which holds the Vectorscan scratch, the PCRE2 match data
 * and the span array.
 *
 * detect_scan() returns non-overlapping spans sorted by start, as byte
 * offsets into the text (which need not be valid UTF-8 or NUL-terminated).
 * The types, their validators and what is deliberately not reported are
 * documented in docs/DETECTORS.md.
 *
 * Detected content is never logged by this part; error codes carry no text.
 */
#ifndef USETRACE_DETECT_H
#define USETRACE_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* X(name): the type names are part of the `usetrace scan` output format. */
#define DETECT_TYPE_MAP(X)                                                \
	X(EMAIL)                                                          \
	X(PHONE)                                                          \
	X(CREDIT_CARD)                                                    \
	X(SSN)                                                            \
	X(IBAN)                                                           \
	X(IP_ADDRESS)                                                     \
	X(AWS_ACCESS_KEY)                                                 \
	X(AWS_SECRET_KEY)                                                 \
	X(GITHUB_TOKEN)                                                   \
	X(SLACK_TOKEN)                                                    \
	X(STRIPE_KEY)                                                     \
	X(JWT)                                                            \
	X(PRIVATE_KEY)                                                    \
	X(API_KEY)                                                        \
	X(GENERIC_SECRET)                                                 \
	X(PASSWORD)                                                       \
	X(NATIONAL_ID) /* appended: enum values stay stable */

enum detect_type {
#define DETECT_TYPE_ENUM(name) DETECT_##name,
	DETECT_TYPE_MAP(DETECT_TYPE_ENUM)
#undef DETECT_TYPE_ENUM
	DETECT_TYPE_COUNT
};

struct detect_span {
	size_t start;	/* byte offset of the first byte */
	size_t end;	/* byte offset one past the last byte */
	enum detect_type type;
};

/* Largest text one detect_scan() call accepts (UT_ETOOBIG beyond). */
#define DETECT_TEXT_MAX (64u << 20)

/* detect_scan() flags. */
#define DETECT_F_PASSWORD 0x1u /* the whole text is a password (secure input) */

struct detect_set;
struct detect;

/*
 * Compiles the detector set.  On success *out owns the set (free it with
 * detect_set_destroy() after every instance made from it).  Returns 0,
 * or UT_EINVAL if a built-in pattern fails to compile (a bug).
 */
int detect_set_create(struct detect_set **out) __attribute__((warn_unused_result));
void detect_set_destroy(struct detect_set *set); /* NULL ok */

/*
 * Makes a scanning instance for set (one per thread; the set must outlive
 * it).  Returns 0 and sets *out, or a negative UT_E* code.
 */
int detect_create(const struct detect_set *set, struct detect **out)
	__attribute__((warn_unused_result));
/* Frees the instance and wipes the spans it held; NULL ok. */
void detect_destroy(struct detect *d);

/*
 * Scans text[0..len).  On success returns the number of spans and points
 * *spans at an array owned by d, valid until the next detect_scan() or
 * detect_destroy() on d.  Spans are sorted by start and never overlap;
 * where candidates overlap, the more specific type wins (a Stripe key over
 * a generic secret), then the longer span.
 * With DETECT_F_PASSWORD the result is one PASSWORD span over the whole
 * text (none for empty text).
 * Returns a negative UT_E* code on failure (UT_ETOOBIG if len exceeds
 * DETECT_TEXT_MAX); *spans is then left unchanged.
 */
int detect_scan(struct detect *d, const char *text, size_t len, unsigned flags,
    const struct detect_span **spans) __attribute__((warn_unused_result));

/*
 * Where a match could still begin if text[0..len) grew at its end (typing):
 * the smallest offset that a match ending past len could cover (PCRE2
 * partial matching of every rule), or len when none could.  Bytes before
 * it are in no later match, but a later scan still needs the
 * DETECT_LOOKBEHIND_MAX bytes before it as context (lookbehinds).
 * Returns 0 (hold everything) on any failure.
 */
size_t detect_reach(struct detect *d, const char *text, size_t len);
#define DETECT_LOOKBEHIND_MAX 16 /* bytes; detect_set_create() checks it */

/* "EMAIL", "CREDIT_CARD", ...; "UNKNOWN" if out of range. */
const char *detect_type_name(enum detect_type t);

/* Parses a type name; returns the type or -1. */
int detect_type_from_name(const char *name);

/*
 * True for types that are secrets (credentials, keys, tokens, passwords,
 * payment and government identifiers: sensitivity 4); false for personal
 * data that is replaced by a typed placeholder (email, phone, IP address:
 * sensitivity 3).  See docs/DETECTORS.md.
 */
bool detect_type_is_secret(enum detect_type t);

/*
 * The `usetrace scan` line format: parses one JSON line (n bytes, no
 * newline) {"id": <any>, "text": "<UTF-8>"} (other members ignored), scans
 * the text and writes {"id": <id as given, null if absent>, "spans":
 * [{"start": B, "end": B, "type": "T"}, ...]} and a newline to out.
 * Returns 0; UT_EPARSE if the line is not an object with a string "text"
 * (nothing written); or a detect_scan() error.  Never logs.
 */
int detect_scan_json_line(struct detect *d, const char *line, size_t n,
    FILE *out) __attribute__((warn_unused_result));

#endif
