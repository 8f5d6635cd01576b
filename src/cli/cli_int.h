/*
 * cli_int.h - the subcommands of the `usetrace` program.  Private to
 * src/cli/.  Each cmd_* takes the arguments after the subcommand name
 * (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 usage error.
 */
#ifndef USETRACE_CLI_INT_H
#define USETRACE_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "usetrace/client.h"

#define EXIT_USAGE 2

int cmd_record(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_spool(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_consent(int argc, char **argv);
int cmd_notice(int argc, char **argv);
int cmd_indicator(int argc, char **argv);
/* `usetrace keys passwd|show` (cmd_keys.c) and `usetrace list` (cmd_list.c). */
int cmd_keys(int argc, char **argv);
int cmd_list(int argc, char **argv);
/*
 * Logs why keys_passphrase_get() failed with r, naming the file (passfile
 * or $USETRACE_PASSPHRASE_FILE) when one was read.  Returns r.
 */
int cli_passphrase_error(const char *cmd, const char *passfile, int r);
/*
 * Remembers dir (made absolute) in the key home's list of recordings,
 * which `usetrace list` reads; a failure is only a warning.
 */
void cli_recording_remember(const char *home, const char *dir);

struct spool_reader;
struct ut_recipient_key;
/*
 * Opens recording dir for reading (unlocking the recipient key with the
 * passphrase from passfile, $USETRACE_PASSPHRASE_FILE or the terminal).
 * Logs why not, prefixed with cmd.  The caller closes *rd and frees *rk.
 */
int cli_open_recording(const char *cmd, const char *dir, const char *passfile,
    struct spool_reader **rd, struct ut_recipient_key **rk);
int cmd_frames(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_audit(int argc, char **argv);
/* `audit exposure` and `audit alerts` (argv[0] names which). */
int cmd_audit_read(int argc, char **argv);
/* `usetrace review ...` (reviewers) and `usetrace admin assign|segments`. */
int cmd_review(int argc, char **argv);
/*
 * Prints NDJSON actions (a server's answer) as `usetrace show` does, or
 * as_is.  0, or -1 (logged) when lines are not JSON.
 */
int cli_print_actions(const char *cmd, const uint8_t *body, size_t len,
    bool as_is);
/*
 * Writes every frame of BASE/frames (BASE: "/v1/my/segments/ID" or
 * "/v1/review/ID") as DIR/frame-NNNNNN.png (0600; DIR made 0700) and prints
 * "wrote N frames to DIR".  0 or -1 (logged).
 */
int cli_fetch_frames(const char *cmd, const struct client_cfg *c, const char *base,
    const char *purpose, const char *dir);
int cmd_admin_assign(int argc, char **argv);
int cmd_admin_segments(int argc, char **argv);
/* cmd_admin_ctl.c: admin pause|resume|pause-status|policy (argv[0]). */
int cmd_admin_ctl(int argc, char **argv);
/* `usetrace training steps --export NAME` (trainers). */
int cmd_training(int argc, char **argv);

/*
 * cli_files.c: D exists as a directory of the user's (created now or
 * before), mode 0700; and a file written 0600 (O_NOFOLLOW, an existing
 * one's mode reset).  0 or -1 (logged, prefixed with cmd).
 */
int cli_private_dir(const char *cmd, const char *d);
int cli_write_private(const char *cmd, const char *path, const void *data,
    size_t len);

/* True if argv holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

/*
 * The server commands (docs/API.md).  cmd_login.c also holds what they
 * share: the --server/--token/--pin options, one request with its error
 * message, and time formatting.
 */
int cmd_login(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_my(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_upload(int argc, char **argv);

/* The usage text of the connection options (CLI_O_CONN). */
#define CONN_HELP \
	"  --server URL --token TOKEN --pin PIN   (default: $USETRACE_SERVER,\n" \
	"            $USETRACE_TOKEN, $USETRACE_PIN, else your saved login)\n"

/* Which options a server (sub)command takes (cli_args_parse). */
enum {
	CLI_O_CONN = 1u << 0,   /* --server URL --token TOKEN --pin PIN */
	CLI_O_JSON = 1u << 1,   /* --json */
	CLI_O_RAW = 1u << 2,    /* --raw */
	CLI_O_OUT = 1u << 3,    /* -o, --out D */
	CLI_O_DAY = 1u << 4,    /* --day YYYY-MM-DD */
	CLI_O_ALL = 1u << 5,    /* --all */
	CLI_O_YES = 1u << 6,    /* --yes */
	CLI_O_ROLE = 1u << 7,   /* --role ROLE */
	CLI_O_CLAIM = 1u << 8,  /* --claim CODE */
	CLI_O_CODE = 1u << 9,   /* --code CODE */
	CLI_O_PIN = 1u << 10,   /* --pin PIN alone (enroll) */
	CLI_O_WHO = 1u << 11,   /* --principal NAME, --subject NAME */
	CLI_O_SPAN = 1u << 12,  /* --since T, --until T */
	CLI_O_REASON = 1u << 13, /* --reason TEXT */
	CLI_O_SHARE = 1u << 14, /* --share FRACTION */
	CLI_O_EXPORT = 1u << 15, /* --export NAME */
	CLI_O_CANARY = 1u << 16, /* --flow F, --segments N */
	CLI_O_SINCESEQ = 1u << 17, /* --since-seq N */
};

struct cli_args {
	const char *server, *token, *pin;
	const char *out, *day, *role, *claim, *code;
	const char *principal, *subject, *since, *until, *reason, *share;
	const char *export_name, *flow, *segments, *since_seq;
	bool json, raw, all, yes;
	int npos;
	char **pos;             /* the positional arguments (into argv) */
};

/*
 * Parses argv (argv[0] is the command's name as the user typed it, e.g.
 * "my list") for the options in `allowed` and minpos..maxpos positional
 * arguments.  Returns 0 when parsed, 1 when --help printed usage to
 * stdout (exit 0), -1 on a usage error (logged, usage on stderr; exit 2).
 */
int cli_args_parse(const char *cmd, int argc, char **argv, unsigned allowed,
    int minpos, int maxpos, const char *usage, struct cli_args *a);

/*
 * Resolves the server, pin and (need_token) token from a's options, the
 * environment and the saved login (client_cfg_resolve); logs what is
 * missing, prefixed with cmd.  0 or -1.  Free c with client_cfg_finish().
 */
int cli_conn(const char *cmd, const struct cli_args *a, bool need_token,
    struct client_cfg *c);

/*
 * One request; body (may be NULL) is sent as application/json.  On a 2xx
 * answer returns 0 and fills *resp (free with client_resp_free()).
 * Otherwise logs "usetrace: CMD: MESSAGE (CODE)" (or why there was no
 * answer: a pin mismatch says the server's key did not match the pin) and
 * returns -1 with *resp empty.
 */
int cli_call(const char *cmd, const struct client_cfg *c, const char *method,
    const char *path, const char *purpose, json_t *body, size_t cap,
    struct client_resp *resp);
/*
 * Logs why a request failed as cli_call does: r is client_request()'s
 * result, rr its (non-2xx) answer when r is 0.
 */
void cli_report(const char *cmd, const struct client_cfg *c, int r,
    const struct client_resp *rr);
/* As cli_call, then parses the answer as a JSON object into *out. */
int cli_call_json(const char *cmd, const struct client_cfg *c,
    const char *method, const char *path, const char *purpose, json_t *body,
    json_t **out);

/*
 * cmd_export_server.c: a trainer's export through the server (format: an
 * enum export_format); `export revoke-check`.  Exit statuses.
 */
int cli_export_server(const char *name, const char *outdir, int format,
    int image, int quality, uint32_t idle_s, bool quiet, const struct cli_args *args);
int cli_export_revoke_check(const char *dir, bool prune, const struct cli_args *args);

/* ns since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC), or "-" when 0. */
void cli_fmt_time(int64_t ns, char *out, size_t outsz);
/* Today's UTC date, "YYYY-MM-DD". */
void cli_today(char out[11]);
/* Strict field readers for server JSON: NULL / -1 when absent or mistyped. */
const char *cli_jstr(const json_t *o, const char *key);
int cli_jint(const json_t *o, const char *key, int64_t *v);
/* Lowercase hex of exactly 2*n digits into bin; 0 or UT_EPARSE. */
int cli_hex_parse(const char *hex, uint8_t *bin, size_t n);

/*
 * device.json (device_cfg.c, the one owner): what `usetrace enroll`
 * received, read by `upload` and `record`.  The whole struct lives in
 * sodium_malloc'd memory (it holds the device token).
 */
#define DEVICE_KEYS_MAX 32u
struct device_ingest_key {
	char day[11];                /* YYYY-MM-DD */
	uint8_t pk[32];              /* X25519 */
};
struct device_cfg {
	char url[CLIENT_URL_MAX];
	char pin[CLIENT_PIN_MAX];
	char token[CLIENT_TOKEN_MAX];
	int64_t device_id;
	uint8_t subject_id[16];
	uint8_t receipt_pk[32];      /* Ed25519: receipts */
	uint8_t audit_pk[32];        /* Ed25519: audit checkpoints */
	size_t nkeys;
	struct device_ingest_key keys[DEVICE_KEYS_MAX];
};

/*
 * Fills a new device_cfg from the enrollment answer (or device.json's
 * object), with url and pin given (NULL: taken from o).  UT_ECORRUPT for
 * a missing or malformed field.  Free *out with device_cfg_free().
 */
int device_cfg_from_json(const json_t *o, const char *url, const char *pin,
    struct device_cfg **out) __attribute__((warn_unused_result));
/*
 * Replaces d's ingest keys with arr (the server's "ingest_keys" list);
 * UT_ECORRUPT leaves d as it was.
 */
int device_cfg_set_keys(struct device_cfg *d, const json_t *arr)
	__attribute__((warn_unused_result));
/* Reads home/device.json.  UT_ENOTFOUND when not enrolled, UT_ECORRUPT. */
int device_cfg_load(const char *home, struct device_cfg **out)
	__attribute__((warn_unused_result));
/* Writes home/device.json (0600; temp file, fsync, rename, fsync dir). */
int device_cfg_save(const char *home, const struct device_cfg *d)
	__attribute__((warn_unused_result));
/* Wipes and frees d; NULL is a no-op. */
void device_cfg_free(struct device_cfg *d);
/* The ingest key for day (YYYY-MM-DD), or NULL when d has none. */
const uint8_t *device_cfg_ingest_key(const struct device_cfg *d,
    const char *day);

/*
 * An enrolled device talking to its server (device_sync.c), for `usetrace
 * upload` and the recorder's background uploader.  Each function logs why
 * it failed (prefix "upload:") and returns 0 or -1.
 */
struct ut_device_key;
struct upload_dev;
struct cli_device {
	char home[4096];             /* keys_home() */
	struct client_cfg c;         /* from device.json */
	struct device_cfg *d;
	struct ut_device_key *dk;
	bool erased_all;             /* the server said: everything erased */
};
/* Loads device.json and the device key into a zeroed u. */
int cli_device_open(struct cli_device *u);
/*
 * GET /v1/device/control: the coming days' ingest keys and the server's
 * receipt and audit keys into device.json, erased_all, and the clock check
 * (a running recorder is told the offset).
 */
int cli_device_sync_control(struct cli_device *u);
/*
 * POST /v1/device/consents for consent.json (none: a warning, 0); a
 * consent withdrawn at the server is withdrawn here (a running recorder
 * is told).
 */
int cli_device_post_consent(struct cli_device *u);
/* Frees what cli_device_open() loaded; NULL is a no-op. */
void cli_device_close(struct cli_device *u);
/* The upload.h view of u (pointers into u). */
void cli_device_upload_dev(struct cli_device *u, struct upload_dev *ud);
/*
 * `usetrace record` on an enrolled device (record_upload.c): starts the
 * background uploader of dir and fills ao's upload hooks; 0, or -1
 * (logged: recording goes on without upload).  Stop it with
 * record_upload_stop() after agent_run().
 */
struct agent_opts;
int record_upload_start(const char *dir, struct agent_opts *ao);
void record_upload_stop(void);

#endif
