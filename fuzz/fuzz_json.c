/*
 * fuzz_json.c - the JSON the server side reads outside a request and the
 * client reads from the server.  The API's request bodies are parsed
 * inline by their handlers (srv_body_json() then json_object_get()), so
 * fuzz_request reaches them through srv_dispatch(); this target covers:
 *
 *   byte 0 = 0 mod 3: the `usetrace serve --config FILE` parser
 *            (srv_test_config_load(), src/server/server_test.h), from a
 *            temporary file holding the rest of the input;
 *   byte 0 = 1 mod 3: device_cfg_from_json() of the CLI (src/cli/device_cfg.c,
 *            compiled into this target): the enrollment answer / device.json;
 *   byte 0 = 2 mod 3: device_cfg_set_keys() on a loaded config: the control
 *            reply's "ingest_keys" list.
 *
 * Not reached: the receipt check of `usetrace upload` (receipt_verify() is
 * static in src/cli/cmd_upload.c).
 *
 * Properties checked (abort on violation): an accepted config has every
 * number in its documented range and tls_cert and tls_key together; a
 * refused one says why; an accepted device config has a token, a url, a
 * pin and at most DEVICE_KEYS_MAX keys; a refused key list leaves the
 * config as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "../src/cli/cli_int.h"
#include "../src/server/server_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char cfg_path[128];

static void
rm_cfg(void)
{
	if (cfg_path[0] != '\0')
		(void)unlink(cfg_path);
}

static void
fuzz_config(const uint8_t *data, size_t size)
{
	struct srv_config c;
	char err[256];
	FILE *f;
	int r;

	if (cfg_path[0] == '\0') {
		snprintf(cfg_path, sizeof(cfg_path), "%s/ut-fuzz-json.%ld.json",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
		    (long)getpid());
		atexit(rm_cfg);
	}
	if ((f = fopen(cfg_path, "wb")) == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	err[0] = '\0';
	r = srv_test_config_load(cfg_path, &c, err, sizeof(err));
	if (r < 0) {
		if (r != UT_EPARSE || err[0] == '\0' || strnlen(err, sizeof(err)) ==
		    sizeof(err))
			abort();
		return;
	}
	if (c.retention_days < 1 || c.retention_days > 36500 ||
	    c.threads < 1 || c.threads > 256 ||
	    c.rate_per_s < 1 || c.rate_per_s > 1000000 ||
	    c.rate_burst < 1 || c.rate_burst > 1000000 ||
	    c.token_days < 1 || c.token_days > 3650 ||
	    c.device_token_days < 1 || c.device_token_days > 3650 ||
	    (c.tls_cert[0] == '\0') != (c.tls_key[0] == '\0') ||
	    c.listen[0] == '\0' ||
	    strnlen(c.listen, sizeof(c.listen)) == sizeof(c.listen) ||
	    strnlen(c.tls_cert, sizeof(c.tls_cert)) == sizeof(c.tls_cert) ||
	    strnlen(c.meta_url, sizeof(c.meta_url)) == sizeof(c.meta_url) ||
	    strnlen(c.blob_url, sizeof(c.blob_url)) == sizeof(c.blob_url))
		abort();
}

static bool
cfg_sane(const struct device_cfg *d)
{
	return d->token[0] != '\0' && d->url[0] != '\0' && d->pin[0] != '\0' &&
	    strnlen(d->token, sizeof(d->token)) < sizeof(d->token) &&
	    strnlen(d->url, sizeof(d->url)) < sizeof(d->url) &&
	    strnlen(d->pin, sizeof(d->pin)) < sizeof(d->pin) &&
	    d->nkeys <= DEVICE_KEYS_MAX;
}

/* A valid enrollment answer, for the key-list case. */
static const char base_cfg[] =
    "{\"device_token\":\"utd1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
    "\"device_id\":1,\"subject_id\":\"00112233445566778899aabbccddeeff\","
    "\"ingest_keys\":[],"
    "\"receipt_pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
    "\"audit_pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
    "\"server_time_ns\":1}";

static void
fuzz_device(const uint8_t *data, size_t size, bool keys_only)
{
	struct device_cfg *d = NULL, *before;
	json_t *j, *b;
	int r;

	j = json_loadb((const char *)data, size, 0, NULL);
	if (!keys_only) {
		r = device_cfg_from_json(j, NULL, NULL, &d);
		if (r == 0 && !cfg_sane(d))
			abort();
		if (r != 0 && (r != UT_ECORRUPT || d != NULL))
			abort();
		device_cfg_free(d);
		json_decref(j);
		return;
	}
	b = json_loads(base_cfg, 0, NULL);
	if (device_cfg_from_json(b, "https://127.0.0.1:1", "sha256//x", &d) != 0)
		abort();    /* the fixed answer must load */
	json_decref(b);
	if ((before = sodium_malloc(sizeof(*before))) == NULL)
		abort();
	memcpy(before, d, sizeof(*d));
	r = device_cfg_set_keys(d, j);
	if (r == 0 && !cfg_sane(d))
		abort();
	if (r != 0 && memcmp(before, d, sizeof(*d)) != 0)
		abort();
	sodium_free(before);
	device_cfg_free(d);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	ut_log_set_level(UT_LOG_ERROR);
	switch (data[0] % 3) {
	case 0:
		fuzz_config(data + 1, size - 1);
		break;
	case 1:
		fuzz_device(data + 1, size - 1, false);
		break;
	default:
		fuzz_device(data + 1, size - 1, true);
		break;
	}
	return 0;
}
