/*
 * privacy.h - the on-device privacy filter between capture and the spool.
 *
 * The filter takes raw records in seq order and emits redacted records,
 * each with its sensitivity level (DESIGN.md "Event model", promise P5):
 *
 *  - While a typing burst is open (KEY presses that produce printable
 *    text), every record is held, in order, in a bounded queue.  A burst
 *    ends on a gap longer than the burst gap since its last key, a button
 *    press, a FOCUS record of another window (a new title of the same
 *    window is held with the burst, unless it makes the window denied or
 *    sensitive), the size cap, privacy_filter_flush(), a change of the
 *    password flag, or a secure-input REDACTED record.
 *  - At the end of a burst the detectors (detect.h) run on the text the
 *    burst typed (BackSpace removes the last character) and, separately, on
 *    every printable character pressed in order (so text typed and then
 *    deleted is caught too).  For each span, every KEY record (press and
 *    release) of its characters is replaced by ONE UT_EV_REDACTED record
 *    (what "keys", why the type name, count the number of characters) at
 *    the place and seq of the first of them: the key log never keeps a key
 *    of redacted text (PRIV-P5-1).  A release that arrives after its burst
 *    was released is dropped if its press was redacted.
 *  - Bounded hold: once a burst's oldest record is older than the hold
 *    time (1 s), the part of the burst that no detector or identity match
 *    can still reach (detect_reach(): bytes no partial match covers, and
 *    no span straddles) is released, scanned as above; the rest stays
 *    held.  The last bytes released stay as scan context (lookbehinds,
 *    BackSpace into them), so a crash loses about the hold time of typing.
 *  - FOCUS titles are scanned; spans become typed placeholders ("[EMAIL]").
 *  - Sensitivity: unredacted KEY records 2; REDACTED records 3 for personal
 *    data (EMAIL, PHONE, IP_ADDRESS, IBAN) and 4 for secrets; FOCUS 1, or
 *    3 / 4 when the title held personal data / a secret (the record is kept,
 *    with the placeholder, so the timeline stays readable; docs/DETECTORS.md);
 *    other records keep their level, at least 1 (FRAME, TEXT at least 2).
 *    A level set upstream is never lowered.
 *  - Denied windows (denied = 1 on the FOCUS record, which capture sets
 *    from the policy even when app names and titles are not collected, or
 *    policy_app_denied / policy_title_denied on its fields): the FOCUS record keeps only the window id, the geometry and
 *    denied = 1 (app, instance, title and pid cleared); until the next
 *    FOCUS record every KEY and TEXT record is dropped, and each run of
 *    them becomes ONE REDACTED record (what "keys" / "text", why
 *    "denied-app", count = key presses / records), level 4 (PRIV-P4-1).
 *    The release of a key whose press was dropped is dropped too, even
 *    after the focus moved on.
 *  - Secure input found by capture (keyboard grabs, password fields)
 *    arrives as REDACTED records (what "keys") in place of the keys;
 *    consecutive ones with the same why are merged into one run with the
 *    summed count (PRIV-P4-2).
 *  - Sensitive applications (policy_app_sensitive): while one is focused,
 *    content records (KEY, TEXT, FRAME, REDACTED) and its FOCUS records
 *    are at least level 3.
 *  - Identities (struct privacy_identity): the login name, full name, host
 *    name and home path become "[USER]", "[NAME]", "[HOST]", "[HOME]" in
 *    titles ("alice@laptop:~/src" -> "[USER]@[HOST]:~/src",
 *    "/home/alice/x" -> "[HOME]/x"), level 3; in typed text their keys are
 *    redacted like a detector span (why "USER", ...), level 3 (PRIV-P5-2).
 *    Where a detector span and an identity overlap, the detector wins.
 *  - Typed secrets in pixels (PRIV-P4-3): FRAME records are held with
 *    the burst (bounded: max_frame_bytes of encoded data releases it), so
 *    none is emitted before the burst was scanned.  When a detector span
 *    (not an identity) was typed, the focused window is blacked out of
 *    every held frame - the top-level rectangle the frame carries for it
 *    (frame.fwin / fx ...), else the FOCUS geometry - by re-encoding the
 *    regions that meet it; mask_window() puts the window and each secret
 *    on the capture board so later grabs are blacked before encoding (at
 *    the secrets' AT-SPI text extents where capture can find them), and every later
 *    frame grabbed at an older board generation (frame.masks_gen) is
 *    blacked here too.  Without mask_window every later frame is blacked
 *    here, at the window's last known rectangle.  The frame data of a
 *    FRAME record (u.frame.owned, event.h) passes to the filter with the
 *    push, on every return, success or error; the filter may replace it
 *    (re-encoded), and hands it on to emit with the record.
 *  - Everything held is wiped (sodium_memzero) once released.
 *  - If the detectors fail (size limits), the filter fails closed: every
 *    key record holding text in that burst is redacted as GENERIC_SECRET.
 *
 * Not thread-safe: one filter per capture thread.
 */
#ifndef USETRACE_PRIVACY_H
#define USETRACE_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/detect.h"
#include "usetrace/event.h"

struct policy;

#define PRIVACY_ID_STR_MAX 256

/*
 * Who is being recorded, as it shows in titles and typed text.  Empty
 * strings are not looked for.  privacy_identity_default() fills it for the
 * current user; tests fill it by hand.  It is personal data: wipe it
 * (sodium_memzero) when done.
 */
struct privacy_identity {
	char user[PRIVACY_ID_STR_MAX];	/* login name */
	char name[PRIVACY_ID_STR_MAX];	/* full name: first GECOS field */
	char host[PRIVACY_ID_STR_MAX];	/* host name; its first label is also looked for */
	char home[PRIVACY_ID_STR_MAX];	/* home directory */
};

struct privacy_filter_opts {
	uint32_t burst_gap_ms;	/* 0: 1000 */
	uint32_t max_records;	/* held records before a forced release; 0: 4096 */
	uint32_t max_text;	/* bytes of burst text before a forced release; 0: 8192 */
	/* Shared compiled detectors (must outlive the filter); NULL: own set. */
	const struct detect_set *detectors;
	/*
	 * Denied and sensitive applications and titles; NULL: none.  Only
	 * read, must outlive the filter.
	 */
	const struct policy *policy;
	/* Identities to replace; NULL: none.  Copied by create. */
	const struct privacy_identity *identity;
	/* Encoded frame bytes held with a burst before a forced release; 0: 64 MiB. */
	uint64_t max_frame_bytes;
	/* Lossy quality for re-encoded frame regions; 0: 80. */
	uint32_t frame_quality;
	/*
	 * Called (from push/tick/flush) for each secret typed into a window:
	 * text (len bytes, not NUL-terminated, valid during the call) is the
	 * secret as typed, or NULL when only the whole window will do.
	 * Returns the capture_masks generation from which every grab blacks
	 * it out (capture.h).  NULL: the filter blacks every later frame
	 * itself, whole window.
	 */
	uint32_t (*mask_window)(void *arg, uint32_t window, const char *text,
	    size_t len);
	void *mask_arg;
	/*
	 * How long a burst's oldest record is held before the part of the
	 * burst no detector match can still reach is released (the rest of
	 * the burst stays held); 0: 1000; UINT32_MAX: hold whole bursts.
	 */
	uint32_t hold_ms;
};

/*
 * Fills id for the real user: login name and GECOS full name and home
 * directory (getpwuid; $HOME when it differs is not used) and the host
 * name (gethostname).  Fields that cannot be found stay empty.  Returns 0,
 * or UT_ENOTFOUND when the user has no passwd entry (the host name is
 * still filled).
 */
int privacy_identity_default(struct privacy_identity *id);

struct privacy_filter;

/*
 * Creates a filter.  o may be NULL (defaults).  emit is called with each
 * output record, in order; the record is only valid during the call, and
 * emit takes ownership of a FRAME record's frame data (u.frame.owned) on
 * every return, success or error: it must release it (event_dispose) or
 * keep it.  A
 * negative return from emit stops the current release and is returned by
 * the push/tick/flush call that triggered it (records not yet emitted are
 * wiped and lost: the caller treats it as a failed recording).
 * Returns NULL if the detectors cannot be built.
 */
struct privacy_filter *privacy_filter_create(const struct privacy_filter_opts *o,
    int (*emit)(void *arg, const struct ut_event *ev), void *arg);

/*
 * Takes one raw record (seq order).  Returns 0 or a negative UT_E* / emit
 * error.  ev itself is only read, but the filter takes ownership of a
 * FRAME record's frame data (u.frame.owned) on every return, success or
 * error (pf NULL included): the caller must not touch it again.
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
 * releases the open burst under the old setting.  (The agent does not use
 * it: capture itself replaces keys typed into secure input by REDACTED
 * records; see docs/SECURE-INPUT.md.)
 */
int privacy_filter_set_password(struct privacy_filter *pf, bool on)
	__attribute__((warn_unused_result));

/*
 * Replaces the policy (NULL: none); the same rules as
 * privacy_filter_opts.policy.  The focused window's state is recomputed
 * at the next FOCUS record.  For an agent that re-read an identical
 * policy file and freed the old one.
 */
void privacy_filter_set_policy(struct privacy_filter *pf, const struct policy *p);

/*
 * Redacts a text the person gave the recorder (a task instruction) as the
 * filter redacts titles: detected secrets and personal data become
 * "[TYPE]" in out (outsz bytes, NUL-terminated, cut at a UTF-8 boundary).
 * Returns the sensitivity level of the result (2 content, 3 personal data,
 * 4 a secret was found; a detector failure gives "[REDACTED]" and 4).
 */
uint8_t privacy_filter_redact_text(struct privacy_filter *pf, const char *in,
    char *out, size_t outsz);

/* Wipes whatever is still held (without emitting it) and frees; NULL ok. */
void privacy_filter_destroy(struct privacy_filter *pf);

#endif
