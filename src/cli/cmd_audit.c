/*
 * cmd_audit.c - `usetrace audit verify --data DIR`: offline verification
 * of the server's audit log (audit_verify()): every row's hash and link,
 * sequence continuity, and every signed checkpoint in the database and in
 * the append-only checkpoint file.  Needs only the public audit key.
 *
 * Data directory layout (the server's): DIR/meta.db (SQLite, opened
 * read-only), DIR/audit.pub (the audit public key, base64),
 * DIR/audit.ckpt (the checkpoint file).  Exit status: 0 the log verifies,
 * 1 it does not or cannot be read, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/audit.h"
#include "usetrace/err.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/meta.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace audit verify --data DIR\n"
	    "       usetrace audit exposure --principal NAME | --subject NAME ...\n"
	    "       usetrace audit alerts\n"
	    "       usetrace audit log [--since-seq N]\n"
	    "       usetrace audit canary add NAME [--flow none|review] ...\n\n"
	    "exposure, alerts and canary ask a running server (an auditor's\n"
	    "token; see 'usetrace audit exposure --help').  verify:\n"
	    "Verifies the server's audit log offline: every entry's hash and its\n"
	    "link to the entry before, that no entry is missing, and every signed\n"
	    "checkpoint (in the database and in the append-only checkpoint file)\n"
	    "against the audit public key.  Needs no secret.  Prints\n"
	    "\"audit ok: ...\" and exits 0, or \"audit BAD: ...\" and exits 1.\n\n"
	    "options:\n"
	    "  --data DIR   the server's data directory (meta.db, audit.pub,\n"
	    "               audit.ckpt)\n"
	    "  -h, --help\n");
}

static int
verify(const char *dir)
{
	char url[PATH_MAX + 8], pub[PATH_MAX], old[PATH_MAX + 8], ckpt[PATH_MAX];
	struct audit_verify_report rep;
	struct meta *m = NULL;
	uint8_t pks[1 + KEYS_HISTORY_MAX][32];
	size_t nold = 0;
	int r;

	if ((size_t)snprintf(url, sizeof(url), "sqlite:%s/meta.db", dir) >= sizeof(url) ||
	    (size_t)snprintf(pub, sizeof(pub), "%s/audit.pub", dir) >= sizeof(pub) ||
	    (size_t)snprintf(old, sizeof(old), "%s/audit.pub.old", dir) >= sizeof(old) ||
	    (size_t)snprintf(ckpt, sizeof(ckpt), "%s/audit.ckpt", dir) >= sizeof(ckpt)) {
		log_error("audit verify: --data: path too long");
		return EXIT_USAGE;
	}
	if ((r = keys_pubfile_read(pub, pks[0])) < 0) {
		log_error("audit verify: %s: %s", pub, ut_strerror(r));
		return 1;
	}
	/* The keys before each rotation (serve --rotate-key audit). */
	if ((r = keys_pubfile_read_all(old, pks + 1, KEYS_HISTORY_MAX, &nold)) < 0) {
		log_error("audit verify: %s: %s", old, ut_strerror(r));
		return 1;
	}
	if ((r = meta_open_readonly(url, &m)) < 0) {
		log_error("audit verify: %s/meta.db: %s", dir, ut_strerror(r));
		return 1;
	}
	r = audit_verify_keys(m, (const uint8_t (*)[32])pks, 1 + nold, ckpt, &rep);
	meta_close(m);
	if (r == UT_ECORRUPT) {
		printf("audit BAD: first bad entry %" PRIu64 ": %s\n", rep.bad_seq,
		    rep.reason);
		return 1;
	}
	if (r < 0) {
		log_error("audit verify: %s", rep.reason[0] ? rep.reason :
		    ut_strerror(r));
		return 1;
	}
	printf("audit ok: %" PRIu64 " entries, %" PRIu64 " checkpoints (%" PRIu64
	    " in the checkpoint file)\n", rep.rows, rep.checkpoints, rep.file_checkpoints);
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int ch;

	if (argc >= 2 && (strcmp(argv[1], "exposure") == 0 ||
	    strcmp(argv[1], "alerts") == 0 || strcmp(argv[1], "canary") == 0 ||
	    strcmp(argv[1], "log") == 0))
		return cmd_audit_read(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		if (cli_wants_help(argc, argv)) {
			usage(stdout);
			return 0;
		}
		log_error("audit: expected 'verify', 'exposure', 'alerts' or 'canary'");
		usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			log_error("audit verify: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (dir == NULL || optind != argc) {
		log_error("audit verify: expected --data DIR and nothing else");
		usage(stderr);
		return EXIT_USAGE;
	}
	return verify(dir);
}
