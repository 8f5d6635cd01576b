/*
 * cmd_my.c - `usetrace my ...`: a person's own data on the server (role
 * subject): enrollment codes for their devices, their segments (list,
 * show, frames), erasure, who read their data, and their devices.
 * Every request names its purpose: self-access, or erasure for erase.
 *
 * What is printed is the person's own recorded content, on their own
 * terminal; none of it goes into a log line or an error message.  Frames
 * are written 0600 into a 0700 directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/jsonw.h"
#include "usetrace/log.h"
#include "cli_int.h"

#define SELF "self-access"
#define NDJSON_MAX (512u << 20)
#define PNG_MAX (64u << 20)
#define CONN "  --server URL --token TOKEN --pin PIN  (default: $USETRACE_SERVER,\n" \
	"            $USETRACE_TOKEN, $USETRACE_PIN, else your saved login)\n" \
	"  -h, --help\n"

struct my_sub {
	const char *name;
	unsigned allowed;
	int npos;
	const char *usage;
	int (*fn)(const char *cmd, const struct cli_args *a,
	    const struct client_cfg *c);
};

static int
seg_id_ok(const char *s)
{
	uint8_t b[16];

	return cli_hex_parse(s, b, sizeof(b)) == 0;
}

static int
my_enroll_code(const char *cmd, const struct cli_args *a,
    const struct client_cfg *c)
{
	json_t *ans = NULL;
	const char *code;

	(void)a;
	if (cli_call_json(cmd, c, "POST", "/v1/my/enroll-codes", SELF, NULL,
	    &ans) < 0)
		return 1;
	if ((code = cli_jstr(ans, "code")) == NULL) {
		log_error("%s: the server's answer holds no code", cmd);
		json_decref(ans);
		return 1;
	}
	printf("code %s\n", code);
	json_decref(ans);
	return 0;
}

static void
print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
}

static void
print_segment(const json_t *s)
{
	const json_t *apps = json_object_get(json_object_get(s, "summary"),
	    "apps"), *app;
	char t0[32], t1[32];
	int64_t st, en, size, sens;
	const char *id = cli_jstr(s, "id"), *day = cli_jstr(s, "day");
	size_t i;

	if (cli_jint(s, "start_ns", &st) < 0)
		st = 0;
	if (cli_jint(s, "end_ns", &en) < 0)
		en = 0;
	if (cli_jint(s, "size", &size) < 0)
		size = 0;
	if (cli_jint(s, "sensitivity_max", &sens) < 0)
		sens = 0;
	cli_fmt_time(st, t0, sizeof(t0));
	cli_fmt_time(en, t1, sizeof(t1));
	/* Only the times of day: the day is its own column. */
	printf("%s  %s  %s-%s  %9" PRId64 "  s%" PRId64 "  ", id ? id : "?",
	    day ? day : "?", strlen(t0) > 11 ? t0 + 11 : t0,
	    strlen(t1) > 11 ? t1 + 11 : t1, size, sens);
	json_array_foreach(apps, i, app) {
		if (json_is_string(app))
			printf("%s%s", i ? "," : "", json_string_value(app));
	}
	putchar('\n');
}

static int
my_list(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	json_t *ans = NULL, *s;
	size_t i;

	if (cli_call_json(cmd, c, "GET", "/v1/my/segments", SELF, NULL, &ans) < 0)
		return 1;
	if (a->json) {
		print_json(ans);
	} else {
		json_array_foreach(json_object_get(ans, "segments"), i, s)
			print_segment(s);
	}
	json_decref(ans);
	return 0;
}

/* One line of the human timeline from one action object. */
static void
print_action(const json_t *o)
{
	int64_t t = 0, x, y;
	const char *act = cli_jstr(o, "action"), *text = cli_jstr(o, "text");
	const char *keys = cli_jstr(o, "keys"), *app = cli_jstr(o, "app");
	const char *title = cli_jstr(o, "title");

	(void)cli_jint(o, "t_ms", &t);
	printf("%8" PRId64 ".%03" PRId64 "  %-12s ", t / 1000, t % 1000,
	    act ? act : "?");
	if (text != NULL)
		jsonw_str(stdout, text);
	else if (keys != NULL)
		fputs(keys, stdout);
	else if (cli_jint(o, "x", &x) == 0 && cli_jint(o, "y", &y) == 0)
		printf("at (%" PRId64 ",%" PRId64 ")", x, y);
	if (app != NULL) {
		printf("    [%s", app[0] ? app : "?");
		if (title != NULL && title[0] != '\0') {
			fputs(": ", stdout);
			jsonw_str(stdout, title);
		}
		putchar(']');
	}
	putchar('\n');
}

static int
my_show(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	struct client_resp rr;
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/v1/my/segments/%s/%s", a->pos[0],
	    a->raw ? "records" : "actions");
	if (cli_call(cmd, c, "GET", path, SELF, NULL, NDJSON_MAX, &rr) < 0)
		return 1;
	r = cli_print_actions(cmd, rr.body, rr.len, a->json || a->raw);
	client_resp_free(&rr);
	return r < 0;
}

int
cli_print_actions(const char *cmd, const uint8_t *body, size_t len, bool as_is)
{
	const char *p, *end, *nl;
	json_t *o;
	int bad = 0;

	if (as_is) {
		if (len > 0)
			fwrite(body, 1, len, stdout);
		return 0;
	}
	p = (const char *)body;
	end = p + len;
	for (; p != NULL && p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl > p) {
			o = json_loadb(p, (size_t)(nl - p), 0, NULL);
			if (json_is_object(o))
				print_action(o);
			else
				bad++;
			json_decref(o);
		}
	}
	if (bad > 0) {
		log_error("%s: %d lines of the server's answer are not JSON", cmd,
		    bad);
		return -1;
	}
	return 0;
}

static int
write_frame(const char *cmd, const char *d, int64_t id,
    const struct client_resp *rr)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/frame-%06" PRId64 ".png", d, id);
	return cli_write_private(cmd, path, rr->body, rr->len);
}

static int
my_frames(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	char base[96];

	snprintf(base, sizeof(base), "/v1/my/segments/%s", a->pos[0]);
	return cli_fetch_frames(cmd, c, base, SELF, a->out) < 0;
}

int
cli_fetch_frames(const char *cmd, const struct client_cfg *c, const char *base,
    const char *purpose, const char *dir)
{
	struct client_resp rr;
	json_t *ans = NULL, *f;
	char path[256];
	size_t i, n = 0;
	int status = -1;

	snprintf(path, sizeof(path), "%s/frames", base);
	if (cli_call_json(cmd, c, "GET", path, purpose, NULL, &ans) < 0)
		return -1;
	if (cli_private_dir(cmd, dir) < 0)
		goto out;
	json_array_foreach(json_object_get(ans, "frames"), i, f) {
		if (!json_is_integer(f) || json_integer_value(f) < 0) {
			log_error("%s: the server's frame list is malformed", cmd);
			goto out;
		}
		snprintf(path, sizeof(path), "%s/frames/%" PRId64, base,
		    (int64_t)json_integer_value(f));
		if (cli_call(cmd, c, "GET", path, purpose, NULL, PNG_MAX, &rr) < 0)
			goto out;
		if (write_frame(cmd, dir, (int64_t)json_integer_value(f),
		    &rr) < 0) {
			client_resp_free(&rr);
			goto out;
		}
		client_resp_free(&rr);
		n++;
	}
	printf("wrote %zu frames to %s\n", n, dir);
	status = 0;
out:
	json_decref(ans);
	return status;
}

/* "type ERASE to confirm" on a terminal; refuses without one. */
static int
confirm_erase(const char *cmd, const char *what)
{
	char line[64];
	FILE *tty = fopen("/dev/tty", "r+");

	if (tty == NULL || !isatty(fileno(tty))) {
		if (tty != NULL)
			fclose(tty);
		log_error("%s: no terminal to confirm on: add --yes to erase %s",
		    cmd, what);
		return -1;
	}
	fprintf(tty, "This destroys %s on the server, for good.\n"
	    "type ERASE to confirm: ", what);
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL ||
	    strcmp(line, "ERASE\n") != 0) {
		fclose(tty);
		log_error("%s: not confirmed; nothing erased", cmd);
		return -1;
	}
	fclose(tty);
	return 0;
}

static int
day_ok(const char *s)
{
	int i;

	if (strlen(s) != 10)
		return 0;
	for (i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

static int
my_erase(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	json_t *req, *ans = NULL;
	char what[64];
	int64_t segs = 0, gen = 0;
	const char *erased;

	if (a->all)
		snprintf(what, sizeof(what), "ALL your recorded data");
	else
		snprintf(what, sizeof(what), "your data of %s", a->day);
	if (!a->yes && confirm_erase(cmd, what) < 0)
		return 1;
	req = a->all ? json_pack("{s:b}", "all", 1) :
	    json_pack("{s:s}", "day", a->day);
	if (cli_call_json(cmd, c, "POST", "/v1/my/erase", "erasure", req,
	    &ans) < 0) {
		json_decref(req);
		return 1;
	}
	json_decref(req);
	erased = cli_jstr(ans, "erased");
	(void)cli_jint(ans, "segments", &segs);
	(void)cli_jint(ans, "generation", &gen);
	printf("erased %s: %" PRId64 " segments destroyed (their keys are gone; "
	    "key generation %" PRId64 ")\n", erased ? erased : "?", segs, gen);
	json_decref(ans);
	return 0;
}

static int
my_audit(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	json_t *ans = NULL, *e;
	char t[32];
	int64_t seq, tn;
	size_t i;

	if (cli_call_json(cmd, c, "GET", "/v1/my/audit", SELF, NULL, &ans) < 0)
		return 1;
	if (a->json) {
		print_json(ans);
		json_decref(ans);
		return 0;
	}
	json_array_foreach(json_object_get(ans, "entries"), i, e) {
		const char *pr = cli_jstr(e, "principal"), *ro = cli_jstr(e, "role");
		const char *pu = cli_jstr(e, "purpose"), *ac = cli_jstr(e, "action");
		const char *ob = cli_jstr(e, "object"), *ou = cli_jstr(e, "outcome");

		if (cli_jint(e, "seq", &seq) < 0)
			seq = 0;
		if (cli_jint(e, "time_ns", &tn) < 0)
			tn = 0;
		cli_fmt_time(tn, t, sizeof(t));
		printf("%6" PRId64 "  %s  %s (%s)  %s  %s %s  %s\n", seq, t,
		    pr ? pr : "-", ro ? ro : "-", pu ? pu : "-", ac ? ac : "-",
		    ob ? ob : "-", ou ? ou : "-");
	}
	json_decref(ans);
	return 0;
}

static int
my_devices(const char *cmd, const struct cli_args *a, const struct client_cfg *c)
{
	json_t *ans = NULL, *d;
	char t0[32], t1[32];
	int64_t id, en, rv;
	size_t i;

	if (cli_call_json(cmd, c, "GET", "/v1/my/devices", SELF, NULL, &ans) < 0)
		return 1;
	if (a->json) {
		print_json(ans);
		json_decref(ans);
		return 0;
	}
	json_array_foreach(json_object_get(ans, "devices"), i, d) {
		const char *pk = cli_jstr(d, "pk");

		if (cli_jint(d, "id", &id) < 0)
			id = -1;
		if (cli_jint(d, "enrolled_ns", &en) < 0)
			en = 0;
		if (cli_jint(d, "revoked_ns", &rv) < 0)
			rv = 0;
		cli_fmt_time(en, t0, sizeof(t0));
		cli_fmt_time(rv, t1, sizeof(t1));
		printf("%4" PRId64 "  %s  enrolled %s%s%s\n", id, pk ? pk : "?", t0,
		    rv > 0 ? "  revoked " : "", rv > 0 ? t1 : "");
	}
	json_decref(ans);
	return 0;
}

static int
my_device_revoke(const char *cmd, const struct cli_args *a,
    const struct client_cfg *c)
{
	json_t *ans = NULL;
	char path[96];

	snprintf(path, sizeof(path), "/v1/my/devices/%s/revoke", a->pos[0]);
	if (cli_call_json(cmd, c, "POST", path, SELF, NULL, &ans) < 0)
		return 1;
	printf("revoked device %s\n", a->pos[0]);
	json_decref(ans);
	return 0;
}

static int
my_withdraw_review(const char *cmd, const struct cli_args *a,
    const struct client_cfg *c)
{
	json_t *ans = NULL;
	char path[128];
	int64_t n = 0;

	snprintf(path, sizeof(path), "/v1/my/segments/%s/withdraw-review", a->pos[0]);
	if (cli_call_json(cmd, c, "POST", path, SELF, NULL, &ans) < 0)
		return 1;
	(void)cli_jint(ans, "withdrawn", &n);
	printf("withdrawn from review: %s (%lld assignment%s)\n", a->pos[0],
	    (long long)n, n == 1 ? "" : "s");
	json_decref(ans);
	return 0;
}

static int
my_confirm_claim(const char *cmd, const struct cli_args *a,
    const struct client_cfg *c)
{
	json_t *ans = NULL;
	char path[96];

	snprintf(path, sizeof(path), "/v1/my/claims/%s/confirm", a->pos[0]);
	if (cli_call_json(cmd, c, "POST", path, SELF, NULL, &ans) < 0)
		return 1;
	printf("confirmed claim %s: it works now\n", a->pos[0]);
	json_decref(ans);
	return 0;
}

static const struct my_sub subs[] = {
	{ "enroll-code", CLI_O_CONN, 0,
	    "usage: usetrace my enroll-code [connection]\n\n"
	    "Makes a single-use code (valid for one hour) that enrolls one of\n"
	    "your devices: run 'usetrace enroll URL --code CODE --pin PIN' on\n"
	    "it.  Prints 'code CODE'.\n\noptions:\n" CONN, my_enroll_code },
	{ "list", CLI_O_CONN | CLI_O_JSON, 0,
	    "usage: usetrace my list [--json] [connection]\n\n"
	    "Lists your segments on the server: id, day, start-end (UTC), size,\n"
	    "highest sensitivity, applications.\n\noptions:\n"
	    "  --json    the server's JSON answer\n" CONN, my_list },
	{ "show", CLI_O_CONN | CLI_O_JSON | CLI_O_RAW, 1,
	    "usage: usetrace my show SEGMENT [--json | --raw] [connection]\n\n"
	    "Prints what one of your segments holds: the timeline of actions, or\n"
	    "the server's JSON lines as they come (--json: actions, --raw: raw\n"
	    "records, as 'usetrace show' prints them).\n\noptions:\n"
	    "  --json    one JSON object per action\n"
	    "  --raw     one JSON object per raw record\n" CONN, my_show },
	{ "frames", CLI_O_CONN | CLI_O_OUT, 1,
	    "usage: usetrace my frames SEGMENT --out D [connection]\n\n"
	    "Writes every screen frame of a segment as D/frame-NNNNNN.png (files\n"
	    "0600; D is created 0700).\n\noptions:\n"
	    "  -o, --out D  output directory\n" CONN, my_frames },
	{ "erase", CLI_O_CONN | CLI_O_DAY | CLI_O_ALL | CLI_O_YES, 0,
	    "usage: usetrace my erase --day YYYY-MM-DD | --all [--yes] "
	    "[connection]\n\n"
	    "Erases your data of one day (UTC), or all of it (which also\n"
	    "withdraws your consent and tells your agents to purge), by\n"
	    "destroying its keys on the server.  Asks you to type ERASE on the\n"
	    "terminal unless --yes.  Prints what was destroyed.\n\noptions:\n"
	    "  --day YYYY-MM-DD\n  --all\n"
	    "  --yes     do not ask\n" CONN, my_erase },
	{ "audit", CLI_O_CONN | CLI_O_JSON, 0,
	    "usage: usetrace my audit [--json] [connection]\n\n"
	    "Who read or changed your data: time, principal and role, purpose,\n"
	    "action, object, outcome.\n\noptions:\n"
	    "  --json    the server's JSON answer\n" CONN, my_audit },
	{ "devices", CLI_O_CONN | CLI_O_JSON, 0,
	    "usage: usetrace my devices [--json] [connection]\n\n"
	    "Lists your enrolled devices: id, key, enrolled, revoked.\n\n"
	    "options:\n  --json    the server's JSON answer\n" CONN, my_devices },
	{ "withdraw-review", CLI_O_CONN, 1,
	    "usage: usetrace my withdraw-review SEGMENT [connection]\n\n"
	    "Withdraws one of your segments from review and training: every\n"
	    "pending or approved assignment of it is withdrawn, and reviewers\n"
	    "and trainers no longer see it.\n\noptions:\n" CONN,
	    my_withdraw_review },
	{ "confirm-claim", CLI_O_CONN, 1,
	    "usage: usetrace my confirm-claim ID [connection]\n\n"
	    "An administrator re-issued a claim code for you (your 'my audit'\n"
	    "shows claim_reissue with its ID): it works 24 hours after it was made,\n"
	    "or now if you confirm it here.  Confirm only a re-issue you asked for.\n\n"
	    "options:\n" CONN, my_confirm_claim },
	{ "device-revoke", CLI_O_CONN, 1,
	    "usage: usetrace my device-revoke ID [connection]\n\n"
	    "Revokes one of your devices: its token stops working now.\n\n"
	    "options:\n" CONN, my_device_revoke },
};

static void
my_usage(FILE *f)
{
	size_t i;

	fputs("usage: usetrace my SUBCOMMAND [options]\n\n"
	    "Your own data on the server.  Subcommands:\n", f);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		fprintf(f, "  %s\n", subs[i].name);
	fputs("\nEach takes --server URL --token TOKEN --pin PIN (default:\n"
	    "$USETRACE_SERVER, $USETRACE_TOKEN, $USETRACE_PIN, else your saved\n"
	    "login).  Run 'usetrace my SUBCOMMAND --help' for its options.\n", f);
}

/*
 * Checks the options the parser cannot, and the positional argument
 * before it goes into a URL path.
 */
static int
args_ok(const char *cmd, const struct my_sub *s, const struct cli_args *a)
{
	const char *p, *arg = s->npos == 1 ? a->pos[0] : NULL;

	if (a->json && a->raw) {
		log_error("%s: --json or --raw, not both", cmd);
		return 0;
	}
	if (s->fn == my_frames && a->out == NULL) {
		log_error("%s: --out D is required", cmd);
		return 0;
	}
	if (s->fn == my_erase && ((a->day == NULL) == !a->all ||
	    (a->day != NULL && !day_ok(a->day)))) {
		log_error("%s: give --day YYYY-MM-DD or --all", cmd);
		return 0;
	}
	if (arg == NULL)
		return 1;

	if (s->fn == my_confirm_claim) {
		if (strlen(arg) != 16 || strspn(arg, "0123456789abcdef") != 16) {
			log_error("%s: a claim id is 16 hex digits", cmd);
			return 0;
		}
	} else if (s->fn == my_device_revoke) {
		for (p = arg; *p >= '0' && *p <= '9'; p++)
			;
		if (p == arg || *p != '\0' || p - arg > 18) {
			log_error("%s: a device id is a number", cmd);
			return 0;
		}
	} else if (!seg_id_ok(arg)) {
		log_error("%s: a segment id is 32 hex digits", cmd);
		return 0;
	}
	return 1;
}

int
cmd_my(int argc, char **argv)
{
	const struct my_sub *s = NULL;
	struct client_cfg c;
	struct cli_args a;
	char cmd[64];
	size_t i;
	int r;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		if (argc < 2)
			log_error("my: which? see below");
		my_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			s = &subs[i];
	if (s == NULL) {
		log_error("my: unknown subcommand '%s'", argv[1]);
		my_usage(stderr);
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "my %s", s->name);
	r = cli_args_parse(cmd, argc - 1, argv + 1, s->allowed, s->npos, s->npos,
	    s->usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (!args_ok(cmd, s, &a)) {
		fputs(s->usage, stderr);
		return EXIT_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (cli_conn(cmd, &a, true, &c) < 0)
		return 1;
	r = s->fn(cmd, &a, &c);
	client_cfg_finish(&c);
	return r;
}
