/*
 * cmd_enroll.c - `usetrace enroll URL --code CODE --pin PIN`, run on the
 * device: binds this device's Ed25519 key to the person who minted the
 * enrollment code (`usetrace my enroll-code`), and saves what the server
 * answers in device.json (device_cfg.c), after which `record` seals to the
 * server's ingest keys and `upload` sends closed segments.
 *
 * The device signs "UT-ENROLL1" || code || 0 || pin || 0 || device_pk, so
 * the server learns which pin the device verified it with, and a code
 * intercepted in transit cannot enroll another key without the signature.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

#define ENROLL_TAG "UT-ENROLL1"

static const char enroll_usage[] =
    "usage: usetrace enroll [URL] --code CODE --pin PIN\n\n"
    "Enrolls this device with the server: run it on the computer that\n"
    "records, with a code you made with 'usetrace my enroll-code' (valid\n"
    "for one hour, once).  Loads (or creates) the device key, proves it\n"
    "with a signature, and saves the device's token and the server's keys\n"
    "in $USETRACE_HOME/device.json (0600).  Afterwards 'usetrace record'\n"
    "seals recordings to the server, and 'usetrace upload DIR' sends them.\n\n"
    "options:\n"
    "  URL          the server, https://HOST:PORT (default: $USETRACE_SERVER)\n"
    "  --code CODE  the enrollment code (ID.SECRET)\n"
    "  --pin PIN    the server's key pin, sha256//BASE64; 'PIN1;PIN2' (the\n"
    "               current and the next) during a key rotation (default:\n"
    "               $USETRACE_PIN)\n"
    "  -h, --help\n";

/* sig over "UT-ENROLL1" || code || 0 || pin || 0 || pk. */
static void
enroll_sign(const struct ut_device_key *dk, const char *code, const char *pin,
    uint8_t sig[crypto_sign_BYTES])
{
	size_t cl = strlen(code), pl = strlen(pin), tl = strlen(ENROLL_TAG);
	size_t n = tl + cl + 1 + pl + 1 + UT_SIGN_PK_LEN;
	uint8_t *m = sodium_malloc(n);

	if (m == NULL)
		ut_fatal("out of memory");
	memcpy(m, ENROLL_TAG, tl);
	memcpy(m + tl, code, cl + 1);
	memcpy(m + tl + cl + 1, pin, pl + 1);
	memcpy(m + tl + cl + 1 + pl + 1, dk->pk, UT_SIGN_PK_LEN);
	crypto_sign_detached(sig, NULL, m, n, dk->sk);
	sodium_free(m);
}

static int
enroll_save(const char *home, const struct client_cfg *c, const json_t *ans)
{
	struct device_cfg *d = NULL;
	char sub[33];
	int r;

	if ((r = device_cfg_from_json(ans, c->url, c->pin, &d)) < 0) {
		log_error("enroll: the server's answer is incomplete or malformed");
		return r;
	}
	if ((r = device_cfg_save(home, d)) < 0) {
		log_error("enroll: cannot write %s/device.json: %s", home,
		    ut_strerror(r));
		goto out;
	}
	sodium_bin2hex(sub, sizeof(sub), d->subject_id, 16);
	printf("enrolled device %lld for subject %s\n", (long long)d->device_id,
	    sub);
out:
	device_cfg_free(d);
	return r;
}

int
cmd_enroll(int argc, char **argv)
{
	struct client_cfg c;
	struct cli_args a;
	struct ut_device_key *dk = NULL;
	uint8_t sig[crypto_sign_BYTES];
	char pk64[UT_PUBKEY_TEXT_MAX], sig64[sodium_base64_ENCODED_LEN(
	    crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char home[4096];
	json_t *req = NULL, *ans = NULL;
	int r, status = 1;

	memset(&c, 0, sizeof(c));
	r = cli_args_parse("enroll", argc, argv, CLI_O_PIN | CLI_O_CODE, 0, 1,
	    enroll_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (a.code == NULL) {
		log_error("enroll: --code CODE is required");
		fputs(enroll_usage, stderr);
		return EXIT_USAGE;
	}
	a.server = a.npos > 0 ? a.pos[0] : NULL;
	if (cli_conn("enroll", &a, false, &c) < 0)
		return 1;
	if (sodium_init() < 0)
		ut_fatal("libsodium failed to initialise");
	if ((r = keys_home(home, sizeof(home), true)) < 0) {
		log_error("enroll: no place for the device's keys: %s",
		    ut_strerror(r));
		goto out;
	}
	if ((r = keys_device_load(NULL, true, &dk)) < 0) {
		log_error("enroll: cannot load or create the device key: %s",
		    ut_strerror(r));
		goto out;
	}
	enroll_sign(dk, a.code, c.pin, sig);
	keys_pubkey_format(dk->pk, pk64, sizeof(pk64));
	sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	req = json_pack("{s:s, s:s, s:s, s:s}", "code", a.code, "device_pk",
	    pk64, "pin", c.pin, "sig", sig64);
	if (req == NULL)
		ut_fatal("out of memory");
	if (cli_call_json("enroll", &c, "POST", "/v1/enroll", NULL, req, &ans) < 0)
		goto out;
	if (enroll_save(home, &c, ans) < 0)
		goto out;
	status = 0;
out:
	json_decref(req);
	json_decref(ans);
	keys_device_free(dk);
	client_cfg_finish(&c);
	return status;
}
