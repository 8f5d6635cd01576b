/*
 * cmd_keys.c - `usetrace keys`: the person's own keys in the key home.
 * `keys passwd` changes the passphrase that wraps the recipient secret
 * (keys_recipient_rewrap: same key pair, new wrapping, one atomic rename),
 * so recordings already sealed to the key stay readable.  `keys show`
 * prints the public keys.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace keys passwd [--passphrase-file OLD] [--new-passphrase-file NEW]\n"
	    "       usetrace keys show\n\n"
	    "passwd changes the passphrase of your recipient key (the key your\n"
	    "recordings are sealed to; it stays the same, so every recording\n"
	    "stays readable).  The old passphrase is read from OLD (else\n"
	    "$USETRACE_PASSPHRASE_FILE, else the terminal), the new one from\n"
	    "NEW (else the terminal, asked twice).  The key file is replaced\n"
	    "atomically: a crash leaves the old passphrase or the new one.\n\n"
	    "show prints this device's public key and your recipient public key.\n");
}

int
cli_passphrase_error(const char *cmd, const char *passfile, int r)
{
	const char *f = passfile != NULL && *passfile ? passfile :
	    getenv("USETRACE_PASSPHRASE_FILE");

	if (r == UT_EINVAL && f != NULL && *f != '\0')
		log_error("%s: the passphrase file %s is empty (or holds a NUL "
		    "byte)", cmd, f);
	else if (r == UT_EINVAL)
		log_error("%s: the passphrase was empty, or the two entries "
		    "differed", cmd);
	else if (r == UT_ETOOBIG)
		log_error("%s: the passphrase file %s is longer than %u bytes",
		    cmd, f ? f : "", UT_PASSPHRASE_MAX);
	else
		log_error("%s: cannot read the passphrase%s%s: %s", cmd,
		    f ? " from " : "", f ? f : "", ut_strerror(r));
	return r;
}

static int
keys_passwd(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "new-passphrase-file", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *oldf = NULL, *newf = NULL;
	char *oldp = NULL, *newp = NULL;
	size_t oldn = 0, newn = 0;
	uint8_t pk[UT_BOX_PK_LEN];
	int ch, r, status = 1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'P':
			oldf = optarg;
			break;
		case 'N':
			newf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("keys passwd: option '%s' needs a value",
			    argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("keys passwd: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("keys passwd: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (fsio_fault_from_env() < 0) { /* tests: UT_FSIO_FAULT */
		log_error("keys passwd: malformed UT_FSIO_FAULT");
		return EXIT_USAGE;
	}
	if ((r = keys_recipient_pub(NULL, pk)) == UT_ENOTFOUND) {
		log_error("keys passwd: no recipient key on this device yet "
		    "(`usetrace record` creates it)");
		return 1;
	}
	r = keys_passphrase_get(oldf, "usetrace: current passphrase: ", false,
	    &oldp, &oldn);
	if (r < 0) {
		if (r == UT_ENOTFOUND)
			log_error("keys passwd: no terminal: give --passphrase-file "
			    "OLD and --new-passphrase-file NEW");
		else
			cli_passphrase_error("keys passwd", oldf, r);
		goto out;
	}
	/* The new one never comes from $USETRACE_PASSPHRASE_FILE (the old). */
	if (newf == NULL)
		unsetenv("USETRACE_PASSPHRASE_FILE");
	r = keys_passphrase_get(newf, "usetrace: new passphrase: ", true, &newp,
	    &newn);
	if (r < 0) {
		if (r == UT_ENOTFOUND)
			log_error("keys passwd: no terminal: give "
			    "--new-passphrase-file NEW");
		else
			cli_passphrase_error("keys passwd", newf, r);
		goto out;
	}
	r = keys_recipient_rewrap(NULL, oldp, oldn, newp, newn);
	if (r == UT_EDENIED) {
		log_error("keys passwd: the current passphrase is wrong; nothing "
		    "changed");
		goto out;
	}
	if (r < 0) {
		log_error("keys passwd: cannot change the passphrase: %s "
		    "(the old one still works)", ut_strerror(r));
		goto out;
	}
	printf("passphrase changed; your recordings are read with the new one\n");
	status = 0;
out:
	keys_passphrase_free(oldp);
	keys_passphrase_free(newp);
	return status;
}

static int
keys_show(int argc, char **argv)
{
	struct ut_device_key *dev = NULL;
	uint8_t pk[UT_BOX_PK_LEN];
	char txt[UT_PUBKEY_TEXT_MAX];
	int r;

	if (argc > 1) {
		log_error("keys show: unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	if ((r = keys_device_load(NULL, false, &dev)) == 0) {
		keys_pubkey_format(dev->pk, txt, sizeof(txt));
		printf("device    %s\n", txt);
		keys_device_free(dev);
	} else if (r != UT_ENOTFOUND) {
		log_error("keys show: device key: %s", ut_strerror(r));
		return 1;
	} else
		printf("device    (none yet)\n");
	if ((r = keys_recipient_pub(NULL, pk)) == 0) {
		keys_pubkey_format(pk, txt, sizeof(txt));
		printf("recipient %s\n", txt);
	} else if (r != UT_ENOTFOUND) {
		log_error("keys show: recipient key: %s", ut_strerror(r));
		return 1;
	} else
		printf("recipient (none yet)\n");
	return 0;
}

int
cmd_keys(int argc, char **argv)
{
	if (argc < 2) {
		if (cli_wants_help(argc, argv)) {
			usage(stdout);
			return 0;
		}
		log_error("keys: which? passwd or show");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "passwd") == 0)
		return keys_passwd(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0) {
		if (cli_wants_help(argc, argv)) {
			usage(stdout);
			return 0;
		}
		return keys_show(argc - 1, argv + 1);
	}
	if (cli_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	log_error("keys: unknown subcommand '%s' (passwd, show)", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
