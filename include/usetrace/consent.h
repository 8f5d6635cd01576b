/*
 * consent.h - the person's consent, bound to one exact policy.
 *
 * Consent is stored in the key home (keys_home(): consent.json, 0600) as
 * the BLAKE2b-256 hash and version of the policy the person agreed to, a
 * random consent id and the time.  A consent is valid only for a policy
 * with the same hash: a changed policy needs new consent.  Withdrawal
 * keeps the file with withdrawn=true, so status can say so.
 */
#ifndef USETRACE_CONSENT_H
#define USETRACE_CONSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/policy.h"

struct consent {
	char id[33];                 /* 16 random bytes, hex */
	char policy_hash[2 * POLICY_HASH_LEN + 1];
	uint32_t policy_version;
	int64_t given_wall_ns;
	bool withdrawn;
};

/* Reads home/consent.json.  UT_ENOTFOUND when none, UT_ECORRUPT if damaged. */
int consent_load(const char *home, struct consent *out)
	__attribute__((warn_unused_result));

/* Records consent to p (new id, now); written atomically, 0600. */
int consent_give(const char *home, const struct policy *p, struct consent *out)
	__attribute__((warn_unused_result));

/* Marks the stored consent withdrawn.  UT_ENOTFOUND when none. */
int consent_withdraw(const char *home) __attribute__((warn_unused_result));

/*
 * A withdrawal made at the server at withdrawn_ns (by the person, from
 * `usetrace my` or the web page, or by an erasure of everything):
 * withdraws the stored consent when it was given before then; a consent
 * given since is newer and stands.  1 when it withdrew, 0 when there was
 * nothing to withdraw, < 0 on a write error.
 */
int consent_server_withdrawn(const char *home, int64_t withdrawn_ns)
	__attribute__((warn_unused_result));

/*
 * 0 when home holds a valid consent to exactly p (and fills *out, may be
 * NULL); otherwise UT_EDENIED and a sentence for the person in why.
 */
int consent_check(const char *home, const struct policy *p, struct consent *out,
    char *why, size_t whysz) __attribute__((warn_unused_result));

#endif
