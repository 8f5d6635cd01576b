/*
 * privacy_int.h - internals shared by the files of the privacy filter.
 * Private to src/privacy/.
 */
#ifndef USETRACE_PRIVACY_INT_H
#define USETRACE_PRIVACY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "usetrace/privacy.h"

/* Terms per identity: home, name, user, host, short host. */
#define IDENTITY_TERMS_MAX 5

/*
 * The identity terms the filter looks for, derived once from a
 * struct privacy_identity (privacy__identity_terms): the home path, the
 * full name, the login name, the host name and the host name's first
 * label.  Terms too short to mean anything (under 2 bytes), "/" and
 * "localhost" are left out.  The strings are copies: wipe with
 * sodium_memzero.
 */
struct identity_terms {
	struct {
		char s[PRIVACY_ID_STR_MAX];
		size_t len;
		const char *name;	/* "HOME", "NAME", "USER", "HOST" */
	} t[IDENTITY_TERMS_MAX];
	size_t n;
};

struct identity_span {
	size_t start, end;
	const char *name;
};

void privacy__identity_terms(const struct privacy_identity *id,
    struct identity_terms *out);

/*
 * Finds the identity terms in text[0..len): ASCII case-insensitive, on
 * word boundaries (the bytes around a match are not letters, digits, '_'
 * or UTF-8 bytes).  At each position the longest term wins; spans do not
 * overlap and are sorted.  Writes at most max spans to out and returns
 * how many.
 */
size_t privacy__identity_scan(const struct identity_terms *t, const char *text,
    size_t len, struct identity_span *out, size_t max);

/*
 * Paints the part of FRAME record ev's region inside the rectangle (x, y,
 * w, h) (screen coordinates) black, re-encoding the region in its format
 * (lossy at quality 1..100).  The frame data ev owns (u.frame.owned) is
 * released (wiped) and replaced by new frame data with the new encoding.  Returns 1 if
 * the region changed, 0 if it does not meet the rectangle, UT_ECORRUPT for
 * an impossible region size (data untouched), UT_ETOOBIG if the region
 * could not be encoded again (data is then NULL, len 0: the pixels are
 * gone, not kept).  A region that does not decode becomes wholly black.
 */
int privacy__frame_black(struct ut_event *ev, int32_t x, int32_t y, uint32_t w,
    uint32_t h, int quality);

#endif
