/*
 * privacy.h - the on-device privacy filter between capture and the spool.
 *
 * The filter takes raw records in seq order and emits redacted records,
 * each with its sensitivity level (DESIGN.md "Event model", promise P5):
 *
 *  - While a typing burst is open (KEY presses that produce printable
 *    text), every record is held, in order, in a bounded queue.  A burst
 *    ends on a gap longer than the burst gap since its last key, a button
 *    press, a FOCUS record, the size cap, privacy_filter_flush(), or a
 *    change of the password flag.
 *  - At the end of a burst the detectors (detect.h) run on the text the
 *    burst typed (BackSpace removes the last character) and, separately, on
 *    every printable character pressed in order (so text typed and then
 *    deleted is caught too).  For each span, every KEY record (press and
 *    release) of its characters is replaced by ONE UT_EV_REDACTED record
 *    (what "keys", why the type name, count the number of characters) at
 *    the place and seq of the first of them: the key log never keeps a key
 *    of redacted text (PRIV-P5-1).  A release that arrives after its burst
 *    was released is dropped if its press was redacted.
 *  - FOCUS titles are scanned; spans become typed placeholders ("[EMAIL]").
 *  - Sensitivity: unredacted KEY records 2; REDACTED records 3 for personal
 *    data (EMAIL, PHONE, IP_ADDRESS, IBAN) and 4 for secrets; FOCUS 1, or
 *    3 / 4 when the title held personal data / a secret (the record is kept,
 *    with the placeholder, so the timeline stays readable; docs/DETECTORS.md);
 *    other records keep their level, at least 1 (FRAME, TEXT at least 2).
 *    A level set upstream is never lowered.
 *  - Everything held is wiped (sodium_memzero) once released.
 *  - If the detectors fail (size limits), the filter fails closed: every
 *    key record holding text in that burst is redacted as GENERIC_SECRET.
 *
 * Not thread-safe: one filter per capture thread.
 */
#ifndef USETRACE_PRIVACY_H
#define USETRACE_PRIVACY_H

#include <stdbool.h>
#include <stdint.h>

#include "usetrace/detect.h"
#include "usetrace/event.h"

struct privacy_filter_opts {
	uint32_t burst_gap_ms;	/* 0: 1000 */
	uint32_t max_records;	/* held records before a forced release; 0: 4096 */
	uint32_t max_text;	/* bytes of burst text before a forced release; 0: 8192 */
	/* Shared compiled detectors (must outlive the filter); NULL: own set. */
	const struct detect_set *detectors;
};

struct privacy_filter;

/*
 * Creates a filter.  o may be NULL (defaults).  emit is called with each
 * output record, in order; the record is only valid during the call.  A
 * negative return from emit stops the current release and is returned by
 * the push/tick/flush call that triggered it (records not yet emitted are
 * wiped and lost: the caller treats it as a failed recording).
 * Returns NULL if the detectors cannot be built.
 */
struct privacy_filter *privacy_filter_create(const struct privacy_filter_opts *o,
    int (*emit)(void *arg, const struct ut_event *ev), void *arg);

/*
 * Takes one raw record (seq order).  Returns 0 or a negative UT_E* / emit
 * error.  ev is only read.
 */
int privacy_filter_push(struct privacy_filter *pf, const struct ut_event *ev)
	__attribute__((warn_unused_result));

/* Releases the open burst if its last key is older than the burst gap. */
int privacy_filter_tick(struct privacy_filter *pf, uint64_t now_mono_ns)
	__attribute__((warn_unused_result));

/* Releases everything held (end of recording, before a pause). */
int privacy_filter_flush(struct privacy_filter *pf)
	__attribute__((warn_unused_result));

/*
 * Secure input: while on, every burst is a password (DETECT_F_PASSWORD),
 * so all its text keys are redacted as PASSWORD.  Changing the flag first
 * releases the open burst under the old setting.
 */
int privacy_filter_set_password(struct privacy_filter *pf, bool on)
	__attribute__((warn_unused_result));

/* Wipes whatever is still held (without emitting it) and frees; NULL ok. */
void privacy_filter_destroy(struct privacy_filter *pf);

#endif
