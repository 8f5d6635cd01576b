/*
 * cmd_serve.c - `usetrace serve`: runs the server (server.h) in the
 * foreground until SIGTERM or SIGINT.
 *
 * Test seam (environment only, for the crash and fault tests in
 * tests/server/; no request, option or config key reaches it):
 *
 *     UT_FSIO_FAULT=OP:N:KIND          armed at process start, as for
 *                                      `usetrace record` (fsio.h)
 *     UT_FSIO_FAULT_SERVING=OP:N:KIND  the same fault, but armed (and the
 *                                      counts reset) at the moment serve
 *                                      prints its "url" line, i.e. once it
 *                                      accepts connections: N counts only
 *                                      the calls that requests and the
 *                                      server's own threads make from then
 *
 * With either set, serve prints on stderr when it exits after SIGTERM
 *     fsio-calls open=N write=N fsync=N rename=N
 * the calls counted since the fault was armed, so a test can measure the
 * range of N an operation spans (arm a fault that never fires, e.g.
 * write:4294967295:EIO, run the operation, stop the server) and then put
 * a fault at each call of it.  Setting both variables is a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/testhooks.h"
#include "usetrace/log.h"
#include "usetrace/server.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace serve --data DIR [--listen ADDR:PORT] [--config FILE]\n"
	    "                      [--master-key FILE] [--rotate-key receipt|audit]...\n"
	    "       usetrace serve --print-routes | --print-openapi\n\n"
	    "Runs the usetrace server: HTTPS (TLS 1.3) API for devices and people,\n"
	    "over a metadata store, a blob store and a key store in DIR, with every\n"
	    "read of recorded content written to the audit log first.\n\n"
	    "The first start creates DIR (0700): the SQLite metadata, the blob\n"
	    "directory, the key store, a TLS key and certificate (ECDSA P-256), the\n"
	    "audit and receipt keys, and the bootstrap admin's token; and the master\n"
	    "key, by default in DIR.master-key beside DIR (never inside it: DIR is\n"
	    "what gets backed up).  Once it accepts connections it prints\n"
	    "    url https://ADDR:PORT\n"
	    "    pin sha256//BASE64          (give it to clients: --pin / USETRACE_PIN)\n"
	    "    admin-token-file PATH       (first start only)\n\n"
	    "options:\n"
	    "  --data DIR          the data directory (required)\n"
	    "  --listen ADDR:PORT  default 127.0.0.1:8443; port 0 picks a free one\n"
	    "  --config FILE       JSON: listen, tls_cert, tls_key, metadata, blobs,\n"
	    "                      retention_days, threads, rate_per_s, rate_burst,\n"
	    "                      token_days, device_token_days, alert_command\n"
	    "                      (docs/OPERATIONS.md)\n"
	    "  --master-key FILE   where the master key is (default DIR.master-key)\n"
	    "  --rotate-key KEY    replace the receipt or audit signing key at this\n"
	    "                      start (repeatable); the old public key is kept in\n"
	    "                      DIR/KEY.pub.old so old receipts and audit\n"
	    "                      checkpoints still verify; devices get the new one\n"
	    "                      at their next contact (docs/OPERATIONS.md)\n"
	    "  --print-routes      print the access table (docs/API.md) and exit\n"
	    "  --print-openapi     print the OpenAPI document and exit\n"
	    "  -h, --help\n");
}

/*
 * The stdout that server_run() prints its "url" line to: the first write
 * arms the UT_FSIO_FAULT_SERVING fault before the line reaches the test
 * that waits for it, so no request can come before the fault is armed.
 */
struct serving_out {
	FILE *real;
	bool armed;
};

static ssize_t
serving_write(void *cookie, const char *buf, size_t n)
{
	struct serving_out *so = cookie;

	if (!so->armed) {
		/* UT_FSIO_FAULT holds the serving fault (see fault_setup()). */
		(void)fsio_fault_from_env();
		so->armed = true;
	}
	if (fwrite(buf, 1, n, so->real) != n || fflush(so->real) != 0)
		return -1;
	return (ssize_t)n;
}

/*
 * Checks the test seam's variables before any thread exists.  The serving
 * fault is parsed by fsio's own parser: it is copied into UT_FSIO_FAULT
 * (only this process's environment; setenv is safe while single-threaded),
 * checked, and disarmed until serving_write() arms it again.  Returns 1
 * when a seam variable is set, 0 when none is, -1 on a malformed one.
 */
static int
fault_setup(bool *serving)
{
	const char *at_start = ut_test_env("UT_FSIO_FAULT");
	const char *at_serving = ut_test_env("UT_FSIO_FAULT_SERVING");

	*serving = false;
	if (at_serving != NULL && at_serving[0] != '\0') {
		if (at_start != NULL && at_start[0] != '\0') {
			log_error("serve: set UT_FSIO_FAULT or UT_FSIO_FAULT_SERVING, "
			    "not both");
			return -1;
		}
		if (setenv("UT_FSIO_FAULT", at_serving, 1) < 0 ||
		    fsio_fault_from_env() < 0) {
			log_error("serve: malformed UT_FSIO_FAULT_SERVING");
			return -1;
		}
		fsio_fault_clear();
		*serving = true;
		return 1;
	}
	if (fsio_fault_from_env() < 0) {
		log_error("serve: malformed UT_FSIO_FAULT");
		return -1;
	}
	return at_start != NULL && at_start[0] != '\0' ? 1 : 0;
}

static void
print_fsio_calls(void)
{
	fprintf(stderr, "fsio-calls open=%u write=%u fsync=%u rename=%u\n",
	    fsio_calls(FSIO_OPEN), fsio_calls(FSIO_WRITE), fsio_calls(FSIO_FSYNC),
	    fsio_calls(FSIO_RENAME));
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "master-key", required_argument, NULL, 'm' },
		{ "rotate-key", required_argument, NULL, 'K' },
		{ "print-routes", no_argument, NULL, 'R' },
		{ "print-openapi", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const cookie_io_functions_t serving_io = { .write = serving_write };
	struct server_opts o;
	struct serving_out so = { .real = stdout, .armed = false };
	FILE *sout = NULL;
	const char *rot[3] = { NULL, NULL, NULL };
	size_t nrot = 0;
	bool serving;
	int ch, r, seam;

	memset(&o, 0, sizeof(o));
	o.out = stdout;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 'c':
			o.config_path = optarg;
			break;
		case 'm':
			o.master_key_path = optarg;
			break;
		case 'K':
			if (strcmp(optarg, "receipt") != 0 && strcmp(optarg, "audit") != 0) {
				log_error("serve: --rotate-key wants receipt or audit");
				return EXIT_USAGE;
			}
			if (nrot < 2)
				rot[nrot++] = optarg;
			o.rotate_keys = rot;
			break;
		case 'R':
			server_print_routes(stdout);
			return 0;
		case 'O':
			server_print_openapi(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt != 0)
				log_error("serve: option '%s' needs a value", argv[optind - 1]);
			else
				log_error("serve: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("serve: unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.data_dir == NULL) {
		log_error("serve: --data DIR is required");
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((seam = fault_setup(&serving)) < 0)
		return EXIT_USAGE;
	if (serving) {
		if ((sout = fopencookie(&so, "w", serving_io)) == NULL) {
			log_error("serve: cannot wrap stdout for UT_FSIO_FAULT_SERVING");
			return 1;
		}
		setvbuf(sout, NULL, _IOLBF, 0);
		o.out = sout;
	}
	r = server_run(&o);
	if (sout != NULL)
		(void)fclose(sout);
	if (seam > 0)
		print_fsio_calls();
	if (r < 0) {
		log_error("serve: not started: %s", ut_strerror(r));
		return 1;
	}
	return 0;
}
