/*
 * cmd_login.c - `usetrace login`: turns an administrator's single-use claim
 * code into this person's own token and saves it (client_login_save).
 *
 * Also what every server command shares (cli_int.h): the option parser
 * with --server/--token/--pin, resolving those settings, one request with
 * its error message, and small JSON and time helpers.
 *
 * Tokens and codes are secrets: they go to the server and (login's token)
 * to stdout as the command's answer, never into a log line or an error.
 * jansson's transient copies of them while a request body is built or an
 * answer parsed are freed unwiped (its allocator is process-wide and other
 * parts free its output with free()); the request bodies and answers
 * themselves are wiped.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "cli_int.h"

#define JSON_RESP_MAX (16u << 20)
#define BODY_MAX (64u << 10)

static const struct {
	struct option o;
	unsigned flag;
} opts[] = {
	{ { "server", required_argument, NULL, 'S' }, CLI_O_CONN },
	{ { "token", required_argument, NULL, 'T' }, CLI_O_CONN },
	{ { "pin", required_argument, NULL, 'P' }, CLI_O_CONN | CLI_O_PIN },
	{ { "json", no_argument, NULL, 'j' }, CLI_O_JSON },
	{ { "raw", no_argument, NULL, 'r' }, CLI_O_RAW },
	{ { "out", required_argument, NULL, 'o' }, CLI_O_OUT },
	{ { "day", required_argument, NULL, 'd' }, CLI_O_DAY },
	{ { "all", no_argument, NULL, 'a' }, CLI_O_ALL },
	{ { "yes", no_argument, NULL, 'y' }, CLI_O_YES },
	{ { "role", required_argument, NULL, 'R' }, CLI_O_ROLE },
	{ { "claim", required_argument, NULL, 'C' }, CLI_O_CLAIM },
	{ { "code", required_argument, NULL, 'c' }, CLI_O_CODE },
	{ { "principal", required_argument, NULL, 'p' }, CLI_O_WHO },
	{ { "subject", required_argument, NULL, 's' }, CLI_O_WHO },
	{ { "since", required_argument, NULL, 'b' }, CLI_O_SPAN },
	{ { "until", required_argument, NULL, 'e' }, CLI_O_SPAN },
	{ { "reason", required_argument, NULL, 'W' }, CLI_O_REASON },
	{ { "share", required_argument, NULL, 'H' }, CLI_O_SHARE },
	{ { "export", required_argument, NULL, 'X' }, CLI_O_EXPORT },
	{ { "flow", required_argument, NULL, 'F' }, CLI_O_CANARY },
	{ { "segments", required_argument, NULL, 'N' }, CLI_O_CANARY },
	{ { "since-seq", required_argument, NULL, 'Q' }, CLI_O_SINCESEQ },
};

static void
args_usage(FILE *f, const char *usage)
{
	fputs(usage, f);
}

/* Only the options in `allowed` (and --help) are known to getopt. */
int
cli_args_parse(const char *cmd, int argc, char **argv, unsigned allowed,
    int minpos, int maxpos, const char *usage, struct cli_args *a)
{
	struct option lo[UT_ARRAY_LEN(opts) + 2];
	const char *shortopts = (allowed & CLI_O_OUT) ? ":ho:" : ":h";
	size_t i, n = 0;
	int ch;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < UT_ARRAY_LEN(opts); i++)
		if (opts[i].flag & allowed)
			lo[n++] = opts[i].o;
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		switch (ch) {
		case 'S': a->server = optarg; break;
		case 'T': a->token = optarg; break;
		case 'P': a->pin = optarg; break;
		case 'j': a->json = true; break;
		case 'r': a->raw = true; break;
		case 'o': a->out = optarg; break;
		case 'd': a->day = optarg; break;
		case 'a': a->all = true; break;
		case 'y': a->yes = true; break;
		case 'R': a->role = optarg; break;
		case 'C': a->claim = optarg; break;
		case 'c': a->code = optarg; break;
		case 'p': a->principal = optarg; break;
		case 's': a->subject = optarg; break;
		case 'b': a->since = optarg; break;
		case 'e': a->until = optarg; break;
		case 'W': a->reason = optarg; break;
		case 'H': a->share = optarg; break;
		case 'X': a->export_name = optarg; break;
		case 'F': a->flow = optarg; break;
		case 'N': a->segments = optarg; break;
		case 'Q': a->since_seq = optarg; break;
		case 'h':
			args_usage(stdout, usage);
			return 1;
		case ':':
			log_error("%s: option '%s' needs a value", cmd,
			    argv[optind - 1]);
			args_usage(stderr, usage);
			return -1;
		default:
			log_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
			args_usage(stderr, usage);
			return -1;
		}
	}
	a->npos = argc - optind;
	a->pos = argv + optind;
	if (a->npos < minpos || a->npos > maxpos) {
		if (a->npos > maxpos)
			log_error("%s: unexpected argument '%s'", cmd,
			    a->pos[maxpos]);
		else
			log_error("%s: missing argument", cmd);
		args_usage(stderr, usage);
		return -1;
	}
	return 0;
}

int
cli_conn(const char *cmd, const struct cli_args *a, bool need_token,
    struct client_cfg *c)
{
	const char *what = NULL;
	int r;

	r = client_cfg_resolve(c, a->server, a->token, a->pin, need_token, &what);
	if (r == UT_ENOTFOUND) {
		if (what != NULL && strcmp(what, "token") == 0)
			log_error("%s: no token: give --token TOKEN, set "
			    "USETRACE_TOKEN, or run 'usetrace login'", cmd);
		else if (what != NULL && strcmp(what, "pin") == 0)
			log_error("%s: no pin for the server's key: give --pin "
			    "PIN, set USETRACE_PIN, or run 'usetrace login'", cmd);
		else
			log_error("%s: no server: give --server URL, set "
			    "USETRACE_SERVER, or run 'usetrace login'", cmd);
		return -1;
	}
	if (r < 0) {
		log_error("%s: bad %s: %s (the server is https://HOST:PORT, the "
		    "pin sha256//BASE64)", cmd, what != NULL ? what : "setting",
		    ut_strerror(r));
		return -1;
	}
	return 0;
}

void
cli_report(const char *cmd, const struct client_cfg *c, int r,
    const struct client_resp *rr)
{
	char code[64], msg[256];

	if (r == UT_ECRYPTO) {
		log_error("%s: the server's key did not match the pin (or TLS "
		    "failed): refusing to talk to %s", cmd, c->url);
	} else if (r == UT_ETOOBIG) {
		log_error("%s: the server's answer is too large", cmd);
	} else if (r < 0) {
		log_error("%s: cannot reach %s: %s", cmd, c->url, ut_strerror(r));
	} else {
		client_resp_error(rr, code, sizeof(code), msg, sizeof(msg));
		if (code[0] == '\0')
			snprintf(code, sizeof(code), "HTTP %ld", rr->status);
		log_error("%s: %s (%s)", cmd, msg[0] ? msg : "request failed",
		    code);
	}
}

int
cli_call(const char *cmd, const struct client_cfg *c, const char *method,
    const char *path, const char *purpose, json_t *body, size_t cap,
    struct client_resp *resp)
{
	struct client_resp rr;
	char *text = NULL;
	size_t tlen = 0, tcap = 0;
	int r, ret = -1;

	memset(&rr, 0, sizeof(rr));
	if (body != NULL) {
		tcap = json_dumpb(body, NULL, 0, JSON_COMPACT);
		if (tcap == 0 || tcap > BODY_MAX)
			ut_fatal("%s: request body of %zu bytes", cmd, tcap);
		text = sodium_malloc(tcap);
		if (text == NULL)
			ut_fatal("out of memory");
		tlen = json_dumpb(body, text, tcap, JSON_COMPACT);
		UT_ASSERT(tlen == tcap);
	}
	r = client_request(c, method, path, purpose,
	    body != NULL ? "application/json" : NULL, text, tlen, cap, &rr);
	if (r < 0 || rr.status < 200 || rr.status > 299) {
		cli_report(cmd, c, r, &rr);
		goto out;
	}
	*resp = rr;
	memset(&rr, 0, sizeof(rr));
	ret = 0;
out:
	client_resp_free(&rr);
	if (text != NULL)
		sodium_free(text);
	return ret;
}

int
cli_call_json(const char *cmd, const struct client_cfg *c, const char *method,
    const char *path, const char *purpose, json_t *body, json_t **out)
{
	struct client_resp rr;
	json_error_t je;
	json_t *j;

	if (cli_call(cmd, c, method, path, purpose, body, JSON_RESP_MAX, &rr) < 0)
		return -1;
	j = json_loadb((const char *)rr.body, rr.body ? rr.len : 0, 0, &je);
	client_resp_free(&rr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		log_error("%s: the server's answer is not a JSON object", cmd);
		return -1;
	}
	*out = j;
	return 0;
}

void
cli_fmt_time(int64_t ns, char *out, size_t outsz)
{
	struct tm tm;
	time_t t;

	if (ns <= 0) {
		snprintf(out, outsz, "-");
		return;
	}
	t = (time_t)(ns / 1000000000);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outsz, "%" PRId64, ns);
}

void
cli_today(char out[11])
{
	struct tm tm;
	time_t t = (time_t)(ut_now_wall_ns() / 1000000000);

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 11, "1970-01-01");
}

const char *
cli_jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
cli_jint(const json_t *o, const char *key, int64_t *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x))
		return -1;
	*v = (int64_t)json_integer_value(x);
	return 0;
}

int
cli_hex_parse(const char *hex, uint8_t *bin, size_t n)
{
	size_t i;

	if (hex == NULL || strlen(hex) != 2 * n)
		return UT_EPARSE;
	for (i = 0; i < 2 * n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f') ||
		    (hex[i] >= 'A' && hex[i] <= 'F')))
			return UT_EPARSE;
	if (sodium_hex2bin(bin, n, hex, 2 * n, NULL, NULL, NULL) != 0)
		return UT_EPARSE;
	return 0;
}

static const char login_usage[] =
    "usage: usetrace login [URL] --claim CODE --pin PIN\n\n"
    "Turns the single-use claim code an administrator gave you into your\n"
    "own token (which no administrator sees), prints it as 'token TOKEN'\n"
    "and saves the server, pin and token in $USETRACE_HOME/login.json\n"
    "(0600) for the other commands.  The server is verified by its key's\n"
    "pin (printed by 'usetrace serve' as 'pin ...'); nothing is sent to a\n"
    "server whose key does not match.\n\n"
    "options:\n"
    "  URL             the server, https://HOST:PORT (default:\n"
    "                  $USETRACE_SERVER)\n"
    "  --claim CODE    the claim code (ID.SECRET)\n"
    "  --pin PIN       sha256//BASE64 (two joined by ';' during a key\n"
    "                  rotation; default: $USETRACE_PIN)\n"
    "  -h, --help\n";

int
cmd_login(int argc, char **argv)
{
	struct client_cfg c;
	struct cli_args a;
	json_t *req = NULL, *ans = NULL;
	const char *tok, *name, *role;
	int r, status = 1;

	memset(&c, 0, sizeof(c));
	r = cli_args_parse("login", argc, argv, CLI_O_PIN | CLI_O_CLAIM, 0, 1,
	    login_usage, &a);
	if (r != 0)
		return r > 0 ? 0 : EXIT_USAGE;
	if (a.claim == NULL) {
		log_error("login: --claim CODE is required");
		fputs(login_usage, stderr);
		return EXIT_USAGE;
	}
	a.server = a.npos > 0 ? a.pos[0] : NULL;
	if (cli_conn("login", &a, false, &c) < 0)
		return 1;
	req = json_pack("{s:s}", "claim", a.claim);
	if (req == NULL)
		ut_fatal("out of memory");
	if (cli_call_json("login", &c, "POST", "/v1/login", NULL, req, &ans) < 0)
		goto out;
	tok = cli_jstr(ans, "token");
	name = cli_jstr(ans, "name");
	role = cli_jstr(ans, "role");
	if (tok == NULL || tok[0] == '\0' || strlen(tok) >= CLIENT_TOKEN_MAX) {
		log_error("login: the server's answer holds no token");
		goto out;
	}
	client_cfg_set_token(&c, tok);
	if ((r = client_login_save(&c)) < 0) {
		log_error("login: cannot save the login: %s", ut_strerror(r));
		goto out;
	}
	printf("token %s\n", tok);
	if (name != NULL && role != NULL)
		log_info("logged in as %s (%s)", name, role);
	status = 0;
out:
	json_decref(req);
	json_decref(ans);
	client_cfg_finish(&c);
	return status;
}
