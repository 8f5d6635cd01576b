/*
 * cmd_consent.c - `usetrace notice` (the notice generated from a policy)
 * and `usetrace consent` (show the notice, record or withdraw consent,
 * and tell a running agent).
 *
 * On an enrolled device the policy in force is HOME/policy.yaml, the
 * server's (saved by the recorder's control thread), until --policy names
 * another.  The policy consented to is kept as HOME/consented-policy.yaml
 * so that the next consent can show what changed since.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "usetrace/consent.h"
#include "usetrace/control.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/util.h"
#include "cli_int.h"

static int
load(const char *path, struct policy **p)
{
	char err[256];

	if (policy_load(path, p, err, sizeof(err)) < 0) {
		log_error("policy %s: %s", path ? path : "(built-in default)", err);
		return -1;
	}
	return 0;
}

static int
write_file(const char *dir, const char *name, const struct policy *p, int html)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		log_error("notice: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (html)
		policy_notice_html(p, f);
	else
		policy_notice_text(p, f);
	if (fclose(f) != 0) {
		log_error("notice: writing %s failed: %s", path, strerror(errno));
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

int
cmd_notice(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "html", no_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy *p = NULL;
	const char *out = NULL;
	int ch, html = 0, r = 0;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (ch) {
		case 'H':
			html = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("usage: usetrace notice [POLICY] [--html | --out DIR]\n\n"
			    "Writes the notice for the people recorded, generated from\n"
			    "the policy (default: the built-in policy): text on stdout,\n"
			    "HTML with --html, or notice.txt and notice.html in DIR.\n");
			return 0;
		default:
			log_error("notice: unknown option '%s'", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		log_error("notice: expected at most one policy file");
		return EXIT_USAGE;
	}
	if (load(optind < argc ? argv[optind] : NULL, &p) < 0)
		return 1;
	if (out != NULL) {
		if (write_file(out, "notice.txt", p, 0) < 0 ||
		    write_file(out, "notice.html", p, 1) < 0)
			r = 1;
	} else if (html)
		policy_notice_html(p, stdout);
	else
		policy_notice_text(p, stdout);
	policy_destroy(p);
	return r;
}

#define DEVICE_POLICY "policy.yaml"
#define CONSENTED_POLICY "consented-policy.yaml"

/*
 * The policy file in force when --policy is not given: the server's on
 * an enrolled device once it has one, else NULL (the built-in default).
 */
static const char *
default_policy_path(const char *home, char *buf, size_t n)
{
	char dev[4200];

	snprintf(dev, sizeof(dev), "%s/device.json", home);
	snprintf(buf, n, "%s/%s", home, DEVICE_POLICY);
	if (access(dev, F_OK) == 0 && access(buf, F_OK) == 0)
		return buf;
	return NULL;
}

/* The bytes of the policy at path (NULL: the built-in default). */
static int
policy_bytes(const char *path, unsigned char **out, size_t *n)
{
	const char *d;

	if (path != NULL)
		return fsio_read_file(path, 1u << 20, out, n);
	d = policy_default_text();
	*n = strlen(d);
	*out = (unsigned char *)xmalloc(*n + 1);
	memcpy(*out, d, *n + 1);
	return 0;
}

/* Keeps a copy of the policy just consented to (for the next diff). */
static void
keep_consented(const char *home, const char *path)
{
	char dst[4200], tmp[4300];
	unsigned char *d = NULL;
	size_t n = 0;
	int fd, r;

	if (policy_bytes(path, &d, &n) < 0)
		return;
	snprintf(dst, sizeof(dst), "%s/%s", home, CONSENTED_POLICY);
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	fd = fsio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = fd < 0 ? fd : fsio_write_all(fd, d, n);
	if (r == 0)
		r = fsio_fsync(fd);
	if (fd >= 0 && fsio_close(fd) < 0 && r == 0)
		r = -EIO;
	if (r == 0)
		r = fsio_rename(tmp, dst);
	if (r == 0)
		r = fsio_fsync_dir(home);
	if (r < 0)
		log_warn("consent: cannot keep a copy of the policy in %s: %s "
		    "(the next consent cannot show what changed)", dst,
		    ut_strerror(r));
	free(d);
}

/*
 * When the person consented before to another policy: what changed since
 * the version they accepted (from the copy kept then, or the built-in
 * default when that was it).
 */
static void
show_changes(const char *home, const struct policy *p)
{
	struct consent c;
	struct policy *old = NULL;
	char path[4200], err[256];

	if (consent_load(home, &c) < 0 || strcmp(c.policy_hash, p->hash_hex) == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", home, CONSENTED_POLICY);
	if (policy_load(path, &old, err, sizeof(err)) < 0 ||
	    strcmp(old->hash_hex, c.policy_hash) != 0) {
		policy_destroy(old);
		old = NULL;
		if (policy_load(NULL, &old, err, sizeof(err)) < 0 ||
		    strcmp(old->hash_hex, c.policy_hash) != 0) {
			policy_destroy(old);
			printf("\nThis is a new policy: you accepted version %" PRIu32
			    " (%.16s) before; its text is not kept on this device, "
			    "so read the notice above in full.\n", c.policy_version,
			    c.policy_hash);
			return;
		}
	}
	printf("\nWhat changed since version %" PRIu32 " (%.16s), which you "
	    "accepted%s:\n", c.policy_version, c.policy_hash,
	    c.withdrawn ? " (and later withdrew)" : "");
	if (policy_diff_text(old, p, stdout) == 0)
		printf("  nothing the notice shows (the policy file's text differs)\n");
	policy_destroy(old);
}

/*
 * On an enrolled device: the consent (or withdrawal) just stored goes to
 * the server now, through the same code `usetrace upload` uses
 * (device_sync.c), so that the server knows it before any segment
 * recorded under it arrives.  A failure is reported; the next upload
 * posts it again.
 */
static void
post_to_server(const char *home)
{
	struct cli_device u;
	char dev[4200];

	snprintf(dev, sizeof(dev), "%s/device.json", home);
	if (access(dev, F_OK) != 0)
		return;
	memset(&u, 0, sizeof(u));
	if (cli_device_open(&u) == 0 && cli_device_post_consent(&u) == 0)
		printf("the server was told\n");
	else
		log_warn("consent: the server could not be told now; the next "
		    "upload tells it");
	cli_device_close(&u);
}

/* Tells a running agent to re-read consent; silent when none runs. */
static void
tell_agent(void)
{
	char path[256], reply[CONTROL_LINE_MAX];

	if (control_socket_path(path, sizeof(path), 0) < 0)
		return;
	if (control_request(path, "consent", reply, sizeof(reply), 5000) == 0)
		printf("the running agent was told%s\n",
		    strstr(reply, "\"recording\":true") ? " and is recording" :
		    " and is not recording");
}

static int
ask_yes(void)
{
	char line[64];
	FILE *tty = fopen("/dev/tty", "r+");

	if (tty == NULL)
		return -1;
	fprintf(tty, "\nType 'yes' to consent to recording under this policy: ");
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL) {
		fclose(tty);
		return 0;
	}
	fclose(tty);
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "yes") == 0;
}

int
cmd_consent(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "yes", no_argument, NULL, 'y' },
		{ "withdraw", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy *p = NULL;
	struct consent c;
	const char *policy = NULL;
	char home[4096], devpol[4200];
	int ch, yes = 0, withdraw = 0, r, status = 1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":hp:", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			policy = optarg;
			break;
		case 'y':
			yes = 1;
			break;
		case 'w':
			withdraw = 1;
			break;
		case 'h':
			printf("usage: usetrace consent [--policy FILE] [--yes | --withdraw]\n\n"
			    "Shows the notice generated from the policy and records your\n"
			    "consent to exactly this policy (asked on the terminal, or\n"
			    "--yes after the notice is printed). Nothing is recorded\n"
			    "without it, and a changed policy needs new consent.\n"
			    "--withdraw withdraws consent: a running agent stops at once.\n");
			return 0;
		case ':':
			log_error("consent: option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("consent: unknown option '%s'", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (yes && withdraw)) {
		log_error("consent: use either --yes or --withdraw, and no other arguments");
		return EXIT_USAGE;
	}
	if ((r = keys_home(home, sizeof(home), true)) < 0) {
		log_error("consent: no place to keep it: %s", ut_strerror(r));
		return 1;
	}
	if (withdraw) {
		r = consent_withdraw(home);
		if (r < 0 && r != UT_ENOTFOUND) {
			log_error("consent: %s", ut_strerror(r));
			return 1;
		}
		printf("consent withdrawn: nothing more will be recorded\n");
		tell_agent();
		post_to_server(home);
		return 0;
	}
	if (policy == NULL)
		policy = default_policy_path(home, devpol, sizeof(devpol));
	if (load(policy, &p) < 0)
		return 1;
	policy_notice_text(p, stdout);
	show_changes(home, p);
	fflush(stdout);
	if (!yes) {
		r = ask_yes();
		if (r < 0) {
			log_error("consent: no terminal to ask on; read the notice "
			    "above and run 'usetrace consent --yes'");
			goto out;
		}
		if (r == 0) {
			printf("no consent given: nothing will be recorded\n");
			goto out;
		}
	}
	if ((r = consent_give(home, p, &c)) < 0) {
		log_error("consent: cannot store it in %s: %s", home, ut_strerror(r));
		goto out;
	}
	keep_consented(home, policy);
	printf("\nconsent recorded for policy version %" PRIu32 " (%.16s)\n",
	    p->version, p->hash_hex);
	tell_agent();
	post_to_server(home);
	status = 0;
out:
	policy_destroy(p);
	return status;
}
