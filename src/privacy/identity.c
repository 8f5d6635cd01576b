/*
 * identity.c - the person's own identifiers (login name, full name, host
 * name, home path) and where they occur in captured text (privacy.h,
 * PRIV-P5-2).
 *
 * Matching is plain and predictable: ASCII case-insensitive comparison on
 * word boundaries, longest term first at each position.  Word boundaries
 * keep a login name such as "ann" from eating "annual"; a match inside a
 * word is the price of a short login name we accept not to pay.
 *
 * Invariants:
 *  (1) Spans returned are sorted, non-overlapping and inside the text.
 *  (2) Nothing here logs or keeps text: the terms are the caller's copy.
 */
#include <pwd.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "usetrace/err.h"
#include "usetrace/privacy.h"
#include "privacy_int.h"

static void
copy_field(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
privacy_identity_default(struct privacy_identity *id)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	const char *comma;
	int r = 0;

	memset(id, 0, sizeof(*id));
	if (gethostname(id->host, sizeof(id->host) - 1) != 0)
		id->host[0] = '\0';
	id->host[sizeof(id->host) - 1] = '\0';
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		r = UT_ENOTFOUND;
		goto out;
	}
	if (pw.pw_name != NULL)
		copy_field(id->user, sizeof(id->user), pw.pw_name, strlen(pw.pw_name));
	if (pw.pw_gecos != NULL) {
		comma = strchr(pw.pw_gecos, ',');
		copy_field(id->name, sizeof(id->name), pw.pw_gecos,
		    comma ? (size_t)(comma - pw.pw_gecos) : strlen(pw.pw_gecos));
	}
	if (pw.pw_dir != NULL)
		copy_field(id->home, sizeof(id->home), pw.pw_dir, strlen(pw.pw_dir));
out:
	sodium_memzero(buf, sizeof(buf));
	return r;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
same_ci(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static bool
word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static void
add_term(struct identity_terms *t, const char *s, size_t len, const char *name)
{
	size_t i;

	/* Too short to identify anyone; "/" as a home; "localhost". */
	if (len < 2 || t->n >= IDENTITY_TERMS_MAX)
		return;
	if (len == 9 && same_ci(s, "localhost", 9))
		return;
	for (i = 0; i < t->n; i++)
		if (t->t[i].len == len && same_ci(t->t[i].s, s, len))
			return; /* the GECOS name is often the login name */
	copy_field(t->t[t->n].s, sizeof(t->t[t->n].s), s, len);
	t->t[t->n].len = strlen(t->t[t->n].s);
	t->t[t->n].name = name;
	t->n++;
}

void
privacy__identity_terms(const struct privacy_identity *id,
    struct identity_terms *out)
{
	size_t hl, short_len;
	const char *dot;

	memset(out, 0, sizeof(*out));
	if (id == NULL)
		return;
	hl = strnlen(id->home, sizeof(id->home));
	while (hl > 1 && id->home[hl - 1] == '/')
		hl--;
	add_term(out, id->home, hl, "HOME");
	add_term(out, id->user, strnlen(id->user, sizeof(id->user)), "USER");
	add_term(out, id->name, strnlen(id->name, sizeof(id->name)), "NAME");
	add_term(out, id->host, strnlen(id->host, sizeof(id->host)), "HOST");
	dot = memchr(id->host, '.', strnlen(id->host, sizeof(id->host)));
	if (dot != NULL) {
		short_len = (size_t)(dot - id->host);
		add_term(out, id->host, short_len, "HOST");
	}
}

size_t
privacy__identity_scan(const struct identity_terms *t, const char *text,
    size_t len, struct identity_span *out, size_t max)
{
	size_t pos = 0, n = 0, i, best, best_len;
	const unsigned char *u = (const unsigned char *)text;

	if (t == NULL || t->n == 0)
		return 0;
	while (pos < len && n < max) {
		best = IDENTITY_TERMS_MAX;
		best_len = 0;
		/* A term starts on a word boundary ("/x/root" holds no home). */
		for (i = 0; (pos == 0 || !word_byte(u[pos - 1])) && i < t->n; i++) {
			size_t tl = t->t[i].len;

			if (tl <= best_len || tl > len - pos ||
			    !same_ci(text + pos, t->t[i].s, tl))
				continue;
			/* ... and ends on one ("/home/al/x" but not "/home/alx"). */
			if (pos + tl < len && word_byte(u[pos + tl]))
				continue;
			best = i;
			best_len = tl;
		}
		if (best == IDENTITY_TERMS_MAX) {
			pos++;
			continue;
		}
		out[n].start = pos;
		out[n].end = pos + best_len;
		out[n].name = t->t[best].name;
		n++;
		pos += best_len;
	}
	return n;
}
