/*
 * recording.c - opening a recording for reading, shared by `show` and
 * `frames`: finds whether the directory holds segments, unlocks the
 * person's recipient key with their passphrase, and opens the reader,
 * which trusts this device's own key when the recording holds segments
 * signed by it.
 */
#include <stdio.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/spool.h"
#include "cli_int.h"

static int
first_segment(const struct spool_seg_info *si, void *arg)
{
	(void)si;
	(void)arg;
	return 1;
}

/* Unlocks the person's recipient key; logs why not. */
static int
unlock(const char *cmd, const char *passfile, struct ut_recipient_key **out)
{
	char *pass = NULL;
	size_t plen = 0;
	int r;

	r = keys_passphrase_get(passfile, "usetrace: passphrase: ", false, &pass,
	    &plen);
	if (r == UT_ENOTFOUND) {
		log_error("%s: the recording is encrypted: give "
		    "--passphrase-file F (or set USETRACE_PASSPHRASE_FILE), or "
		    "run on a terminal", cmd);
		return r;
	}
	if (r < 0) {
		log_error("%s: cannot read the passphrase: %s", cmd, ut_strerror(r));
		return r;
	}
	r = keys_recipient_unlock(NULL, pass, plen, out);
	keys_passphrase_free(pass);
	if (r == UT_EDENIED)
		log_error("%s: wrong passphrase", cmd);
	else if (r == UT_ENOTFOUND)
		log_error("%s: no recipient key on this device (a recording "
		    "sealed with --recipient is read by that key's holder)", cmd);
	else if (r < 0)
		log_error("%s: cannot unlock your recipient key: %s", cmd,
		    ut_strerror(r));
	return r;
}

int
cli_open_recording(const char *cmd, const char *dir, const char *passfile,
    struct spool_reader **rd, struct ut_recipient_key **rk)
{
	struct spool_read_opts ro;
	struct ut_device_key *dk = NULL;
	int r;

	*rk = NULL;
	r = spool_check(dir, NULL, first_segment, NULL, NULL);
	if (r >= 0 && unlock(cmd, passfile, rk) < 0)
		return -1;
	memset(&ro, 0, sizeof(ro));
	ro.key = *rk;
	/* The reader trusts this device's own key (docs/FORMAT.md). */
	if (r >= 0 && keys_device_load(NULL, false, &dk) == 0)
		ro.own_device_pk = dk->pk;
	if (r >= 0)
		r = spool_reader_open(dir, &ro, rd);
	keys_device_free(dk);
	if (r < 0) {
		keys_recipient_free(*rk);
		*rk = NULL;
		if (r == UT_ENOTFOUND)
			log_error("%s: %s holds no recording", cmd, dir);
		else
			log_error("%s: cannot read %s: %s", cmd, dir, ut_strerror(r));
		return r;
	}
	return 0;
}
