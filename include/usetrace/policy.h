/*
 * policy.h - the recording policy, which is also the notice.
 *
 * A policy is a YAML file (policy/default.yaml is the shipped default and is
 * compiled in).  It declares the data categories collected, the frame rate,
 * allowed / denied / sensitive applications (by WM_CLASS), denied title
 * patterns, the maximum pause, retention, the export sensitivity
 * threshold, the detectors in force and the spool's disk budget.  The
 * notice for the people recorded is generated from the same parsed policy
 * (policy_notice_text / _html), and consent is bound to the policy's hash.
 *
 * Parsing is strict: an unknown field, an unknown category, a wrong type
 * or an out-of-range value is an error naming the line and the field.
 */
#ifndef USETRACE_POLICY_H
#define USETRACE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ut_category {
	UT_CAT_KEYS = 1u << 0,
	UT_CAT_TEXT = 1u << 1,
	UT_CAT_POINTER = 1u << 2,
	UT_CAT_APPS = 1u << 3,
	UT_CAT_TITLES = 1u << 4,
	UT_CAT_FRAMES = 1u << 5,
	UT_CAT_TARGETS = 1u << 6,	/* the element acted on (AT-SPI) */
	UT_CAT_ALL = (1u << 7) - 1,
};

#define POLICY_HASH_LEN 32
#define POLICY_LIST_MAX 256

struct policy_list {
	char **v;
	size_t n;
};

struct policy {
	uint32_t version;
	char *organisation;
	char *contact;
	uint32_t categories;        /* enum ut_category bits */
	uint32_t frame_fps;         /* 1..30 */
	bool frame_lossless;        /* WebP lossless frames */
	uint32_t frame_quality;     /* lossy quality 1..100 */
	struct policy_list allow_apps, deny_apps, sensitive_apps;
	struct policy_list deny_titles;
	uint64_t pause_max_ms;
	uint32_t retention_days;
	uint8_t export_max_sensitivity;
	uint32_t export_expire_days; /* an export expires this long after it is made */
	bool detectors_all;
	struct policy_list detectors;
	uint64_t spool_budget_bytes;
	uint8_t hash[POLICY_HASH_LEN]; /* BLAKE2b-256 of the file's bytes */
	char hash_hex[2 * POLICY_HASH_LEN + 1];
};

/*
 * Parses a policy.  On success *out owns a new policy (policy_destroy).
 * On failure returns UT_EPARSE (or UT_ETOOBIG) and writes a message such
 * as "line 12: collect: unknown category 'mouse'" into err.
 */
int policy_parse(const char *text, size_t len, struct policy **out, char *err,
    size_t errsz) __attribute__((warn_unused_result));

/* As policy_parse on a file's contents; path NULL means the built-in default. */
int policy_load(const char *path, struct policy **out, char *err, size_t errsz)
	__attribute__((warn_unused_result));

void policy_destroy(struct policy *p);

/* A deep copy (for another thread); never fails (aborts on OOM). */
struct policy *policy_copy(const struct policy *p);

/* The shipped default policy (policy/default.yaml), NUL-terminated. */
const char *policy_default_text(void);

/* Category name ("keys") / description; NULL for an unknown bit. */
const char *policy_category_name(uint32_t bit);
const char *policy_category_desc(uint32_t bit);

/* Denied: the application matches deny (or is outside a non-empty allow). */
bool policy_app_denied(const struct policy *p, const char *app, const char *instance);
bool policy_app_sensitive(const struct policy *p, const char *app, const char *instance);
bool policy_title_denied(const struct policy *p, const char *title);
/*
 * "Is this window denied?" - the one rule every reader uses (capture's
 * FOCUS records, the frame blackout, the privacy filter): its application
 * (WM_CLASS class / instance) is denied, or its title is.  p NULL: no
 * window is denied.  Empty or NULL strings match nothing (an empty class
 * is still outside a non-empty allow list).
 */
bool policy_window_denied(const struct policy *p, const char *app,
    const char *instance, const char *title);

/*
 * What changed from a to b for the person asked to consent (diff.c):
 * categories added ("  + collected: ...") and removed, and each setting
 * that differs ("  ~ retention: 30 days -> 90 days"), one line each.
 * Returns the number of lines written (0: nothing the notice shows).
 */
unsigned policy_diff_text(const struct policy *a, const struct policy *b, FILE *f);

/* The notice for the people recorded. */
void policy_notice_text(const struct policy *p, FILE *f);
void policy_notice_html(const struct policy *p, FILE *f);

#endif
