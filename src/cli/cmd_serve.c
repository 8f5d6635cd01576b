/*
 * cmd_serve.c - `usetrace serve`: runs the server (server.h) in the
 * foreground until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/server.h"
#include "cli_int.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace serve --data DIR [--listen ADDR:PORT] [--config FILE]\n"
	    "                      [--master-key FILE]\n"
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
	    "                      token_days, device_token_days (docs/OPERATIONS.md)\n"
	    "  --master-key FILE   where the master key is (default DIR.master-key)\n"
	    "  --print-routes      print the access table (docs/API.md) and exit\n"
	    "  --print-openapi     print the OpenAPI document and exit\n"
	    "  -h, --help\n");
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "master-key", required_argument, NULL, 'm' },
		{ "print-routes", no_argument, NULL, 'R' },
		{ "print-openapi", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct server_opts o;
	int ch, r;

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
	r = server_run(&o);
	if (r < 0) {
		log_error("serve: not started: %s", ut_strerror(r));
		return 1;
	}
	return 0;
}
