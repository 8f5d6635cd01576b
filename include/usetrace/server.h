/*
 * server.h - `usetrace serve`: the HTTPS API over the three storage
 * interfaces (metadata, blobs, keys) with the audit log in front of every
 * read of recorded content (DESIGN "The server in detail", docs/API.md).
 *
 * The data directory (what gets backed up) holds:
 *     meta.db            metadata store (SQLite, WAL), unless the config names another
 *     blobs/             segment ciphertext in stored form, content-addressed
 *     keys/              the key store: generation file and subject files, wrapped
 *     tls/cert.pem, tls/key.pem   generated on first start unless configured
 *     audit.pub, receipt.pub      public keys, for offline verification
 *     audit.pub.old, receipt.pub.old   the keys before each rotation
 *     audit.ckpt         append-only file of signed audit checkpoints
 *     admin.token        first start only: the bootstrap admin's token (0600)
 * The master key is never inside it: by default DIR.master-key beside it.
 */
#ifndef USETRACE_SERVER_H
#define USETRACE_SERVER_H

#include <stdio.h>

struct server_opts {
	const char *data_dir;       /* required */
	const char *listen;         /* NULL: the config's, else 127.0.0.1:8443 */
	const char *config_path;    /* NULL: none */
	const char *master_key_path;/* NULL: DATA_DIR.master-key */
	/*
	 * Server keys to replace at this start ("receipt", "audit"; NULL
	 * ends the list, the whole field may be NULL); the old public keys
	 * go to DATA/receipt.pub.old / audit.pub.old.
	 */
	const char *const *rotate_keys;
	FILE *out;                  /* the "url", "pin", "admin-token-file" lines */
};

/*
 * Opens (creating on first start) the data directory, starts serving and
 * prints, once it accepts connections:
 *     url https://ADDR:PORT
 *     pin sha256//BASE64
 *     admin-token-file PATH        (first start only)
 * then runs until SIGTERM or SIGINT, drains requests in flight and returns
 * 0.  A bad config or data directory returns an error having logged one
 * clear message, before anything listens.
 */
int server_run(const struct server_opts *o) __attribute__((warn_unused_result));

/*
 * Writes the route table (method, path, roles, purpose, audit action) as
 * a Markdown table: docs/API.md embeds exactly this text.
 */
void server_print_routes(FILE *f);

/* Writes the OpenAPI 3.1 document generated from the route table. */
void server_print_openapi(FILE *f);

#endif
