/*
 * keyrot.c - rotating the server's receipt and audit keys (`usetrace serve
 * --rotate-key receipt|audit`, docs/OPERATIONS.md "Rotating keys").
 *
 * A rotation happens at start, after the key store opens and before the
 * public key files are written and the audit log opens: the old public
 * half is appended to DATA/<name>.pub.old (fsync'd), then the key store
 * replaces the key (keystore_server_key_rotate), and the normal start
 * rewrites DATA/<name>.pub.  Receipts and checkpoints signed before keep
 * verifying against the history: `usetrace audit verify` reads both files,
 * and the audit log adopts stored checkpoints signed by an old key.  Once
 * the log is open, each rotation is an audit entry.  Devices learn the new
 * public keys from the control reply (`usetrace upload` writes them into
 * device.json).
 *
 * Invariant: the old public key is in the history before the switch, so a
 * crash between the two leaves an extra key in the history (harmless),
 * never a signature that nothing verifies.
 */
#include <stdio.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "server_int.h"

static const struct {
	unsigned bit;
	enum keystore_server_key k;
	const char *name;
} rot_keys[] = {
	{ SRV_ROTATE_RECEIPT, KS_RECEIPT_KEY, "receipt" },
	{ SRV_ROTATE_AUDIT, KS_AUDIT_KEY, "audit" },
};

int
srv_rotate_parse(const char *name, unsigned *bits)
{
	size_t i;

	for (i = 0; i < sizeof(rot_keys) / sizeof(rot_keys[0]); i++) {
		if (strcmp(name, rot_keys[i].name) == 0) {
			*bits |= rot_keys[i].bit;
			return 0;
		}
	}
	return UT_EINVAL;
}

static int
history_path(const struct server *s, const char *name, char *p, size_t n)
{
	if ((size_t)snprintf(p, n, "%s/%s.pub.old", s->data_dir, name) >= n)
		return UT_ETOOBIG;
	return 0;
}

int
srv_keys_rotate(struct server *s, unsigned bits)
{
	char path[SRV_PATH_MAX + 16];
	uint8_t oldpk[32], newpk[32], cur[32];
	size_t i;
	int r;

	for (i = 0; i < sizeof(rot_keys) / sizeof(rot_keys[0]); i++) {
		if (!(bits & rot_keys[i].bit))
			continue;
		if ((r = history_path(s, rot_keys[i].name, path, sizeof(path))) < 0 ||
		    (r = keystore_server_pk(s->ks, rot_keys[i].k, cur)) < 0 ||
		    (r = keys_pubfile_append(path, cur)) < 0 ||
		    (r = keystore_server_key_rotate(s->ks, rot_keys[i].k, oldpk,
		    newpk)) < 0) {
			log_error("serve: rotating the %s key: %s", rot_keys[i].name,
			    ut_strerror(r));
			return r;
		}
		log_info("serve: the %s key was rotated; the old public key is "
		    "kept in %s", rot_keys[i].name, path);
	}
	return 0;
}

int
srv_keys_rotate_audit(struct server *s, unsigned bits)
{
	struct audit_event e;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rot_keys) / sizeof(rot_keys[0]); i++) {
		if (!(bits & rot_keys[i].bit))
			continue;
		memset(&e, 0, sizeof(e));
		e.principal = "operator";
		e.role = "-";
		e.purpose = "administration";
		e.action = "key_rotate";
		e.object = rot_keys[i].name;
		e.outcome = "ok";
		e.source = "local";
		e.detail = "at start (serve --rotate-key); the old public key is in "
		    "the .pub.old history";
		if ((r = audit_append(s->audit, &e, NULL)) < 0)
			return r;
	}
	return 0;
}

int
srv_audit_old_pks(const struct server *s, uint8_t (*pks)[32], size_t max,
    size_t *n)
{
	char path[SRV_PATH_MAX + 16];
	int r;

	if ((r = history_path(s, "audit", path, sizeof(path))) < 0)
		return r;
	if ((r = keys_pubfile_read_all(path, pks, max, n)) < 0)
		log_error("serve: %s: %s", path, ut_strerror(r));
	return r;
}
