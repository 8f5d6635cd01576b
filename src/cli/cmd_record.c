/*
 * cmd_record.c - `usetrace record`: parses options, loads (or creates) the
 * device key and the recipient key, and runs the agent (agent.h), which
 * enforces consent, the policy and pause around capture -> privacy filter
 * -> encrypted spool.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ut_config.h"
#include "usetrace/agent.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/spool.h"
#include "usetrace/util.h"
#include "cli_int.h"

static int stop_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (stop_pipe[1] >= 0)
		(void)!write(stop_pipe[1], "x", 1);
	errno = saved;
}

/*
 * An enrolled device (device.json) seals to the server's ingest key of the
 * current UTC day and names its subject in the segment headers, so the
 * server accepts the segments.  UT_ENOTFOUND when not enrolled.
 */
static int
enrolled_recipient(uint8_t rpk[UT_BOX_PK_LEN], uint8_t subject_id[16])
{
	struct device_cfg *d = NULL;
	const uint8_t *pk;
	char home[4096], day[11];
	int r;

	if ((r = keys_home(home, sizeof(home), false)) < 0)
		return UT_ENOTFOUND;
	r = device_cfg_load(home, &d);
	if (r == UT_ENOTFOUND)
		return r;
	if (r < 0) {
		log_error("record: cannot read %s/device.json: %s", home,
		    ut_strerror(r));
		return r;
	}
	cli_today(day);
	if ((pk = device_cfg_ingest_key(d, day)) == NULL) {
		log_error("record: enrolled, but no ingest key for today: run "
		    "usetrace enroll again or check the clock");
		r = UT_EINVAL;
	} else {
		memcpy(rpk, pk, UT_BOX_PK_LEN);
		memcpy(subject_id, d->subject_id, 16);
		log_info("enrolled: sealing to the server's ingest key of %s", day);
	}
	device_cfg_free(d);
	return r;
}

/* True when this device is enrolled (home/device.json exists). */
static bool
access_device_cfg(const char *home)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/device.json", home);
	return access(p, F_OK) == 0;
}

/*
 * agent_opts.recipient_for_day of an enrolled device: the server's ingest
 * key of that UTC day, from device.json read afresh each time (`usetrace
 * upload` refreshes the coming days' keys).  0 or UT_ENOTFOUND.
 */
static int
enrolled_day_key(void *arg, int32_t day, uint8_t pk[32])
{
	struct device_cfg *d = NULL;
	const uint8_t *k;
	time_t t = (time_t)day * 86400;
	struct tm tm;
	char date[16];

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	if (device_cfg_load(arg, &d) < 0)
		return UT_ENOTFOUND;
	if ((k = device_cfg_ingest_key(d, date)) != NULL)
		memcpy(pk, k, 32);
	device_cfg_free(d);
	return k != NULL ? 0 : UT_ENOTFOUND;
}

/*
 * --passphrase-file given while the recipient key exists: it is not used
 * to make a key, but a passphrase that does not open the existing key is
 * a mistake to report now, not when the recording is read.
 */
static int
check_passfile(const char *passfile)
{
	struct ut_recipient_key *k = NULL;
	char *pass = NULL;
	size_t plen = 0;
	int r;

	if ((r = keys_passphrase_get(passfile, "", false, &pass, &plen)) < 0) {
		cli_passphrase_error("record", passfile, r);
		return UT_EDENIED;
	}
	r = keys_recipient_unlock(NULL, pass, plen, &k);
	keys_passphrase_free(pass);
	keys_recipient_free(k);
	if (r == UT_EDENIED)
		log_error("record: the passphrase in %s does not open your "
		    "existing recipient key (it was made with another one; "
		    "`usetrace keys passwd` changes it)", passfile);
	else if (r < 0)
		log_error("record: cannot unlock your recipient key: %s",
		    ut_strerror(r));
	return r < 0 ? UT_EDENIED : 0; /* never UT_ENOTFOUND: no new key */
}

/* dir and its missing parents, made 0700. */
static int
out_dir(const char *dir)
{
	char p[4096];
	size_t i, n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof(p)) {
		log_error("record: --out: bad directory name");
		return UT_EINVAL;
	}
	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			log_error("record: cannot write to %s: cannot create %s: %s",
			    dir, p, strerror(e));
			return -e;
		}
		p[i] = i == n ? '\0' : '/';
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("record: --out %s is not a directory", dir);
		return UT_EINVAL;
	}
	return 0;
}

/*
 * The device key (created on first use), and the recipient public key:
 * --recipient, or the server's ingest key of today when this device is
 * enrolled, or the person's own, created on first use with a passphrase
 * from --passphrase-file, $USETRACE_PASSPHRASE_FILE or the terminal.
 */
static int
record_keys(const char *recipient, const char *passfile,
    struct ut_device_key **dev, uint8_t rpk[UT_BOX_PK_LEN],
    uint8_t subject_id[16])
{
	char *pass = NULL;
	size_t plen = 0;
	int r;

	if ((r = keys_device_load(NULL, true, dev)) < 0) {
		log_error("record: cannot load or create the device key: %s",
		    ut_strerror(r));
		return r;
	}
	if (recipient != NULL) {
		if ((r = keys_pubkey_parse(recipient, rpk)) < 0)
			log_error("record: --recipient: not a public key (base64 "
			    "or 64 hex digits)");
		goto out;
	}
	if ((r = enrolled_recipient(rpk, subject_id)) != UT_ENOTFOUND) {
		if (r == 0 && passfile != NULL)
			log_warn("record: --passphrase-file is not used: this "
			    "device is enrolled, and its recordings are sealed "
			    "to the server's ingest key");
		goto out;
	}
	r = keys_recipient_pub(NULL, rpk);
	if (r == 0 && passfile != NULL)
		r = check_passfile(passfile);
	if (r != UT_ENOTFOUND) {
		if (r < 0 && r != UT_EDENIED)
			log_error("record: cannot read your recipient key: %s",
			    ut_strerror(r));
		goto out;
	}
	r = keys_passphrase_get(passfile,
	    "usetrace: passphrase to protect your recordings: ", true, &pass,
	    &plen);
	if (r == UT_ENOTFOUND) {
		log_error("record: no recipient key yet and no terminal to ask "
		    "for a passphrase: pass --recipient PUBKEY, or "
		    "--passphrase-file F (or set USETRACE_PASSPHRASE_FILE) to "
		    "create your own key pair");
		goto out;
	}
	if (r < 0) {
		cli_passphrase_error("record", passfile, r);
		goto out;
	}
	if ((r = keys_recipient_create(NULL, pass, plen, rpk)) < 0)
		log_error("record: cannot create your recipient key: %s",
		    ut_strerror(r));
	else
		log_info("created your recipient key pair; recordings are "
		    "sealed to it and read with your passphrase");
out:
	keys_passphrase_free(pass);
	if (r < 0) {
		keys_device_free(*dev);
		*dev = NULL;
	}
	return r;
}

/*
 * An enrolled device's control thread (sync.c): the server's state is
 * fetched once before capture starts (into ao), then long-polled.  The
 * device's policy file is HOME/policy.yaml (the server's policy) unless
 * --policy names one.  NULL when not enrolled or on failure (logged; the
 * recorder then runs on its local state alone).
 */
static struct agent_sync *
record_sync(const char *home, const char *out, struct agent_opts *ao,
    char *policy_buf, size_t policy_bufsz)
{
	struct agent_sync_opts so;
	struct agent_sync *s = NULL;
	struct device_cfg *d = NULL;
	struct client_cfg c;
	const char *what = NULL;
	int r;

	memset(&c, 0, sizeof(c));
	if (device_cfg_load(home, &d) < 0)
		return NULL;
	if (client_cfg_resolve(&c, d->url, d->token, d->pin, true, &what) < 0) {
		log_error("record: device.json: bad %s; no server control",
		    what ? what : "entry");
		goto out;
	}
	if (ao->policy_path == NULL) {
		snprintf(policy_buf, policy_bufsz, "%s/policy.yaml", home);
		ao->policy_path = policy_buf;
		ao->policy_default_if_missing = true;
	}
	memset(&so, 0, sizeof(so));
	so.c = &c;
	so.home = home;
	so.policy_path = ao->policy_default_if_missing ? ao->policy_path : NULL;
	so.spool_dir = out;
	if ((r = agent_sync_create(&so, ao, &s)) < 0 ||
	    (r = agent_sync_start(s)) < 0) {
		log_error("record: cannot start the server control thread: %s",
		    ut_strerror(r));
		agent_sync_destroy(s);
		s = NULL;
	}
out:
	client_cfg_finish(&c);
	device_cfg_free(d);
	return s;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: usetrace record --out DIR [--policy FILE] [--display DPY]\n"
	    "                       [--recipient PUBKEY] [--passphrase-file F]\n"
	    "                       [--spool-budget BYTES]\n\n"
	    "Runs the agent: records the X display into DIR until interrupted\n"
	    "(SIGINT/SIGTERM/SIGHUP), but only while you have consented to the policy in\n"
	    "force ('usetrace consent'), only the data categories it declares, and\n"
	    "never while paused ('usetrace pause'). A visible indicator shows its\n"
	    "state; 'usetrace status' says what it is doing and why.\n"
	    "Everything written is encrypted: each segment is sealed to PUBKEY\n"
	    "(base64 or 64 hex digits); else, on a device enrolled with a server\n"
	    "('usetrace enroll', device.json), to the server's ingest key of the\n"
	    "current UTC day, with your subject id in the segment headers, so that\n"
	    "'usetrace upload DIR' can send them; else to your own recipient key\n"
	    "pair, created on first use with its secret wrapped by a passphrase\n"
	    "(docs/KEYS.md).\n"
	    "Enrolled, it uploads each closed segment in the background and deletes\n"
	    "it after the server's verified receipt; 'usetrace status' shows what\n"
	    "waits and the last upload error (docs/AGENT.md).\n\n"
	    "options:\n"
	    "  -o, --out DIR       recording directory (created 0700 with its parents)\n"
	    "  -p, --policy FILE   policy (default: the built-in policy)\n"
	    "  -d, --display DPY   X display (default: $DISPLAY)\n"
	    "  --recipient PUBKEY  seal to this X25519 public key (base64 or hex)\n"
	    "  --passphrase-file F passphrase for a new recipient key pair (default:\n"
	    "                      $USETRACE_PASSPHRASE_FILE, else ask on the terminal)\n"
	    "  --segment-bytes N   close segments at about N bytes (default 4 MiB;\n"
	    "                      with frames, at the next key frame)\n"
	    "  --spool-budget BYTES  disk budget of DIR (default: the policy's);\n"
	    "                      recording stops when it is reached ('spool full,\n"
	    "                      not recording') and resumes when uploads free room\n"
	    "  --no-upload         enrolled: do not upload in the background\n"
	    "  -h, --help          this help\n");
}

int
cmd_record(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "display", required_argument, NULL, 'd' },
		{ "policy", required_argument, NULL, 'p' },
		{ "recipient", required_argument, NULL, 'R' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "spool-budget", required_argument, NULL, 'B' },
		{ "segment-bytes", required_argument, NULL, 'S' },
		{ "no-upload", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_opts ao;
	struct spool_opts so;
	struct sigaction sa;
	const char *out = NULL, *display = NULL, *policy = NULL;
	const char *recipient = NULL, *passfile = NULL;
	struct ut_device_key *dev = NULL;
	struct agent_sync *sync = NULL;
	char dev_policy[4200];
	uint8_t rpk[UT_BOX_PK_LEN], subject_id[16] = { 0 };
	char home[4096];
	uint64_t budget = 0, segbytes = 0;
	bool no_upload = false;
	int ch, r, status = 1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":o:d:p:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'd':
			display = optarg;
			break;
		case 'p':
			policy = optarg;
			break;
		case 'R':
			if (keys_pubkey_parse(optarg, rpk) < 0) {
				log_error("record: --recipient: '%s' is not a public "
				    "key (base64 or 64 hex digits)", optarg);
				return EXIT_USAGE;
			}
			recipient = optarg;
			break;
		case 'P':
			passfile = optarg;
			break;
		case 'B':
			if (ut_parse_u64(optarg, &budget) < 0 || budget > SIZE_MAX) {
				log_error("record: --spool-budget wants a number of bytes");
				return EXIT_USAGE;
			}
			break;
		case 'S':
			if (ut_parse_u64(optarg, &segbytes) < 0 || segbytes < 4096 ||
			    segbytes > (1ull << 30)) {
				log_error("record: --segment-bytes wants 4096 .. 1 GiB");
				return EXIT_USAGE;
			}
			break;
		case 'U':
			no_upload = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			log_error("record: option '%s' needs a value", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			log_error("record: unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("record: unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (out == NULL) {
		log_error("record: --out DIR is required");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (recipient != NULL && passfile != NULL) {
		log_error("record: --recipient and --passphrase-file: give one "
		    "(a passphrase protects your own key, not another's)");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (fsio_fault_from_env() < 0) {
		log_error("record: malformed UT_FSIO_FAULT");
		return EXIT_USAGE;
	}
	if ((r = keys_home(home, sizeof(home), true)) < 0) {
		log_error("record: no place for keys and consent: %s", ut_strerror(r));
		return 1;
	}
	if (record_keys(recipient, passfile, &dev, rpk, subject_id) < 0)
		return 1;
	/* A malformed policy is refused before anything is created. */
	if (policy != NULL && access(policy, F_OK) == 0) {
		struct policy *pp = NULL;
		char perr[256];

		if (policy_load(policy, &pp, perr, sizeof(perr)) < 0) {
			log_error("policy %s: %s", policy, perr);
			keys_device_free(dev);
			return 1;
		}
		policy_destroy(pp);
	}
	if ((r = out_dir(out)) < 0) {
		keys_device_free(dev);
		return 1;
	}
	cli_recording_remember(home, out);
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("record: pipe: %s", strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL); /* the terminal closed: stop the same way */
	signal(SIGPIPE, SIG_IGN);

	memset(&so, 0, sizeof(so));
	so.dir = out;
	so.device = dev;
	so.recipient_pk = rpk;
	memcpy(so.subject_id, subject_id, sizeof(so.subject_id));
	so.budget_bytes = (size_t)budget;
	so.segment_max_bytes = (size_t)segbytes;
	memset(&ao, 0, sizeof(ao));
	ao.display = display;
	ao.policy_path = policy;
	ao.consent_home = home;
	ao.spool = &so;
	if (recipient == NULL && access_device_cfg(home)) {
		/* Enrolled: each UTC day's segments to that day's ingest key. */
		ao.recipient_for_day = enrolled_day_key;
		ao.recipient_arg = home;
		if (!no_upload) /* background upload (record_upload.c) */
			(void)record_upload_start(out, &ao);
		sync = record_sync(home, out, &ao, dev_policy, sizeof(dev_policy));
	}
	ao.stop_fd = stop_pipe[0];
	r = agent_run(&ao);
	agent_sync_destroy(sync);
	record_upload_stop();
	status = r == 0 ? 0 : 1;
out:
	keys_device_free(dev);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (stop_pipe[0] >= 0) {
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		stop_pipe[0] = stop_pipe[1] = -1;
	}
	return status;
}
