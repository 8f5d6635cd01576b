/*
 * cli_int.h - the subcommands of the `usetrace` program.  Private to
 * src/cli/.  Each cmd_* takes the arguments after the subcommand name
 * (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 usage error.
 */
#ifndef USETRACE_CLI_INT_H
#define USETRACE_CLI_INT_H

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
int cmd_audit(int argc, char **argv);

/* True if argv holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

#endif
