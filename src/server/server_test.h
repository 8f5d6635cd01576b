/*
 * server_test.h - for fuzzing and tests only (fuzz/fuzz_request.c,
 * fuzz/fuzz_json.c): the server's state without a listening socket, so
 * that synthetic requests can go straight to srv_dispatch(), and the
 * config parser on its own.  Private to src/server and its fuzz targets;
 * `usetrace serve` never calls these.
 */
#ifndef USETRACE_SERVER_TEST_H
#define USETRACE_SERVER_TEST_H

#include "server_int.h"

/*
 * Opens (creating on first use, with the bootstrap admin's token in
 * data_dir/admin.token) everything server_run() opens before it listens:
 * key store (master key data_dir.master-key), metadata, blobs, audit log,
 * TLS key and pin.  No socket, no signal handling, no process hardening,
 * no retention thread.  config_path may be NULL.  Errors as server_run().
 */
int srv_test_open(const char *data_dir, const char *config_path,
    struct server **out) __attribute__((warn_unused_result));
/* Closes what srv_test_open() opened (flushing the audit log); NULL is a no-op. */
void srv_test_close(struct server *s);

/*
 * The --config parser: defaults into *c, then the file's keys.  0, or
 * UT_EPARSE with a one-line reason in err.
 */
int srv_test_config_load(const char *path, struct srv_config *c, char *err,
    size_t errsz) __attribute__((warn_unused_result));

#endif
