/*
 * chain.c - the audit log's two canonical byte strings: a row's hash
 * (the hash chain) and a checkpoint's signed message.  Both are fixed by
 * docs/API.md ("UT-AUDCP1") and by audit.h; changing either breaks every
 * log and every witness already written.
 */
#include <string.h>

#include <sodium.h>

#include "usetrace/audit.h"
#include "usetrace/buf.h"

static void
hash_field(crypto_generichash_state *st, const char *s, size_t fieldsz)
{
	uint8_t len[4];
	size_t n = strnlen(s, fieldsz);

	put_u32le(len, (uint32_t)n);
	crypto_generichash_update(st, len, sizeof(len));
	crypto_generichash_update(st, (const uint8_t *)s, n);
}

void
audit_row_hash(const struct meta_audit_row *r, uint8_t out[32])
{
	static const char dom[] = "UT-AUDIT1";
	crypto_generichash_state st;
	uint8_t num[8];

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)dom, sizeof(dom) - 1);
	crypto_generichash_update(&st, r->prev, sizeof(r->prev));
	put_u64le(num, r->seq);
	crypto_generichash_update(&st, num, sizeof(num));
	put_u64le(num, (uint64_t)r->time_ns);
	crypto_generichash_update(&st, num, sizeof(num));
	hash_field(&st, r->principal, sizeof(r->principal));
	hash_field(&st, r->role, sizeof(r->role));
	hash_field(&st, r->purpose, sizeof(r->purpose));
	hash_field(&st, r->action, sizeof(r->action));
	hash_field(&st, r->subject, sizeof(r->subject));
	hash_field(&st, r->object, sizeof(r->object));
	hash_field(&st, r->outcome, sizeof(r->outcome));
	hash_field(&st, r->source, sizeof(r->source));
	hash_field(&st, r->detail, sizeof(r->detail));
	crypto_generichash_final(&st, out, 32);
}

void
audit_ckpt_msg(const struct meta_audit_ckpt *c, uint8_t msg[AUDIT_CKPT_MSG_LEN])
{
	memcpy(msg, "UT-AUDCP1", 9);
	put_u64le(msg + 9, c->seq);
	put_u64le(msg + 17, (uint64_t)c->time_ns);
	memcpy(msg + 25, c->head, 32);
}

bool
audit_ckpt_check(const struct meta_audit_ckpt *c, const uint8_t pk[32])
{
	uint8_t msg[AUDIT_CKPT_MSG_LEN];

	audit_ckpt_msg(c, msg);
	return crypto_sign_verify_detached(c->sig, msg, sizeof(msg), pk) == 0;
}

bool
audit_ckpt_check_keys(const struct meta_audit_ckpt *c, const uint8_t (*pks)[32],
    size_t npk)
{
	size_t i;

	for (i = 0; i < npk; i++)
		if (audit_ckpt_check(c, pks[i]))
			return true;
	return false;
}
