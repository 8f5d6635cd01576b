/*
 * ut_synth.c - `ut-synth`: synthetic segments of an enrolled device for
 * tests and benchmarks, written by the real spool writer (synth.h), with
 * the actions `usetrace my show ID --json` must print for each.
 *
 * It reads the key home as `usetrace record` and `usetrace upload` do: the
 * device key (device.key), device.json (device_cfg.c, the one owner: the
 * subject id and the server's ingest key of each UTC day) and consent.json
 * (the consent id and policy hash).  Each segment is sealed to the ingest
 * key of the UTC day it starts on.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "usetrace/action.h"
#include "usetrace/consent.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/synth.h"
#include "usetrace/util.h"
#include "cli_int.h"

#define NS_PER_S 1000000000LL

static const char usage_text[] =
    "usage: ut-synth --home HOME --out DIR [--segments N] [--bytes B]\n"
    "                [--seed S] [--marker TEXT] [--frames-per-burst F]\n"
    "                [--start YYYY-MM-DDTHH:MM:SSZ | --start-ns NS]\n"
    "                [--expect EXPDIR] [--recipient B64]\n"
    "                [--consent-id HEX] [--policy-hash HEX]\n\n"
    "Writes N closed synthetic segments into DIR (created 0700), in the\n"
    "agent's format, from the enrolled device whose key home is HOME: signed\n"
    "by HOME/device.key, sealed to the server's ingest key (device.json) of\n"
    "the UTC day each segment starts on, with the enrolled subject id and\n"
    "the consent id and policy hash of HOME/consent.json.  `usetrace upload\n"
    "DIR` uploads them.  The records (windows, titles, typing, pointer,\n"
    "clicks, scrolls, frames) depend only on the options; segment ids are\n"
    "random.  Prints one line per segment:\n"
    "    segment ID day YYYY-MM-DD bytes N\n"
    "(ID as `usetrace my list` names it).\n\n"
    "options:\n"
    "  --home HOME       the device's key home (like $USETRACE_HOME)\n"
    "  --out DIR         the recording directory\n"
    "  --segments N      segments to write (default 1, at most 100000)\n"
    "  --bytes B         close each segment at about B bytes (default\n"
    "                    262144, at most 33554432); segments of 65536 bytes\n"
    "                    or more carry WebP key frames, smaller ones only\n"
    "                    input records\n"
    "  --seed S          the generator's seed (default 1)\n"
    "  --marker TEXT     typed once in every segment and part of the title\n"
    "                    of its first window (printable, <= 200 bytes)\n"
    "  --frames-per-burst F  F frames in every burst of activity, key\n"
    "                    frames and deltas as the agent stores them (default\n"
    "                    0: a key frame every third burst; at most 16)\n"
    "  --start T         the first record's time, UTC (default: one hour\n"
    "                    ago); later segments follow in simulated time\n"
    "  --start-ns NS     the same in ns since the epoch\n"
    "  --expect EXPDIR   writes EXPDIR/ID.json per segment: exactly what\n"
    "                    `usetrace my show ID --json` must print\n"
    "  --recipient B64   seal every segment to this X25519 key instead\n"
    "  --consent-id HEX  this consent id (32 hex digits) instead\n"
    "  --policy-hash HEX this policy hash (64 hex digits) instead\n"
    "  -h, --help        this help\n\n"
    "UT_FSIO_FAULT=op:N:kind (fsio.h) injects an I/O fault into the spool\n"
    "writer, e.g. fsync:8:crash leaves an open segment as a crash would;\n"
    "the next run over DIR recovers it (closed, marked recovered).\n";

struct ctx {
	struct device_cfg *d;
	const char *expect;
	bool have_rcpt;
	uint8_t rcpt[32];
	struct action_reducer *ar;
	FILE *f;               /* the segment's expected actions */
	char *text;
	size_t len;
	int err;
};

static void
day_of(int64_t ns, char out[11])
{
	struct tm tm;
	time_t t = (time_t)(ns / NS_PER_S);

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 11, "1970-01-01");
}

static int
recipient(int64_t start_ns, uint8_t pk[32], void *arg)
{
	struct ctx *c = arg;
	const uint8_t *k;
	char day[11];

	if (c->have_rcpt) {
		memcpy(pk, c->rcpt, 32);
		return 0;
	}
	day_of(start_ns, day);
	if ((k = device_cfg_ingest_key(c->d, day)) == NULL) {
		fprintf(stderr, "ut-synth: device.json has no ingest key for %s "
		    "(the server hands out keys from yesterday to 7 days ahead)\n",
		    day);
		return UT_ENOTFOUND;
	}
	memcpy(pk, k, 32);
	return 0;
}

static int
on_action(const struct ut_action *a, void *arg)
{
	FILE *f = arg;

	action_print_json(f, a);
	fputc('\n', f);
	return 0;
}

static int
on_record(unsigned seg, const struct ut_event *ev, void *arg)
{
	struct ctx *c = arg;

	if (c->expect == NULL)
		return 0;
	if (c->ar == NULL) {
		if ((c->f = open_memstream(&c->text, &c->len)) == NULL)
			return -errno;
		c->ar = action_reducer_create(NULL, on_action, c->f);
	}
	return action_reducer_push(c->ar, ev);
}

static int
write_expect(struct ctx *c, const char *id)
{
	char path[4200];
	FILE *out;
	int r;

	if ((r = action_reducer_finish(c->ar)) != 0)
		return r;
	action_reducer_destroy(c->ar);
	c->ar = NULL;
	if (fclose(c->f) != 0)
		return -errno;
	c->f = NULL;
	snprintf(path, sizeof(path), "%s/%s.json", c->expect, id);
	if ((out = fopen(path, "w")) == NULL) {
		fprintf(stderr, "ut-synth: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (c->len > 0)
		fwrite(c->text, 1, c->len, out);
	r = fclose(out) != 0 ? -errno : 0;
	free(c->text);
	c->text = NULL;
	c->len = 0;
	return r;
}

static int
on_segment(const struct synth_segment *s, void *arg)
{
	struct ctx *c = arg;
	char id[33], day[11];
	int r;

	sodium_bin2hex(id, sizeof(id), s->segment_id, 16);
	day_of(s->start_wall_ns, day);
	if (c->expect != NULL && (r = write_expect(c, id)) < 0)
		return r;
	printf("segment %s day %s bytes %" PRIu64 "\n", id, day, s->bytes);
	fflush(stdout);
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" -> ns since the epoch. */
static int
parse_time(const char *s, int64_t *ns)
{
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	if ((t = timegm(&tm)) <= 0)
		return -1;
	*ns = (int64_t)t * NS_PER_S;
	return 0;
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ut-synth: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(ut-synth --help for usage)\n");
	return 2;
}

struct args {
	const char *home, *out, *marker, *expect, *recipient;
	const char *consent_id, *policy_hash;
	uint64_t segments, bytes, seed, frames;
	int64_t start;
};

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		{ "segments", required_argument, NULL, 'n' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 's' },
		{ "marker", required_argument, NULL, 'm' },
		{ "start", required_argument, NULL, 't' },
		{ "start-ns", required_argument, NULL, 'T' },
		{ "expect", required_argument, NULL, 'e' },
		{ "recipient", required_argument, NULL, 'R' },
		{ "consent-id", required_argument, NULL, 'C' },
		{ "policy-hash", required_argument, NULL, 'P' },
		{ "frames-per-burst", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	memset(a, 0, sizeof(*a));
	a->segments = 1;
	a->bytes = SYNTH_BYTES_DEFAULT;
	a->seed = 1;
	a->start = ut_now_wall_ns() - 3600 * NS_PER_S;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': a->home = optarg; break;
		case 'o': a->out = optarg; break;
		case 'm': a->marker = optarg; break;
		case 'e': a->expect = optarg; break;
		case 'R': a->recipient = optarg; break;
		case 'C': a->consent_id = optarg; break;
		case 'P': a->policy_hash = optarg; break;
		case 'n':
			if (ut_parse_u64(optarg, &a->segments) < 0 ||
			    a->segments == 0 || a->segments > SYNTH_SEGMENTS_MAX)
				return usage_error("--segments wants 1 .. 100000, "
				    "not '%s'", optarg);
			break;
		case 'b':
			if (ut_parse_u64(optarg, &a->bytes) < 0 || a->bytes == 0 ||
			    a->bytes > SYNTH_BYTES_MAX)
				return usage_error("--bytes wants 1 .. 33554432, "
				    "not '%s'", optarg);
			break;
		case 's':
			if (ut_parse_u64(optarg, &a->seed) < 0)
				return usage_error("--seed wants a number, not '%s'",
				    optarg);
			break;
		case 'F':
			if (ut_parse_u64(optarg, &a->frames) < 0 || a->frames > 16)
				return usage_error("--frames-per-burst wants 0 .. 16, "
				    "not '%s'", optarg);
			break;
		case 't':
			if (parse_time(optarg, &a->start) < 0)
				return usage_error("--start wants "
				    "YYYY-MM-DDTHH:MM:SSZ, not '%s'", optarg);
			break;
		case 'T':
			if (ut_parse_u64(optarg, &v) < 0 || v == 0 ||
			    v > (uint64_t)INT64_MAX / 2)
				return usage_error("--start-ns wants ns since the "
				    "epoch, not '%s'", optarg);
			a->start = (int64_t)v;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case ':':
			return usage_error("option '%s' needs a value",
			    argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (a->home == NULL || a->out == NULL)
		return usage_error("%s", "--home HOME and --out DIR are required");
	return 0;
}

/* Device key, device.json and consent.json of home into o and c. */
static int
load_home(const struct args *a, struct synth_opts *o, struct ctx *c,
    struct ut_device_key **dk)
{
	struct consent cs;
	int r;

	if ((r = device_cfg_load(a->home, &c->d)) < 0) {
		fprintf(stderr, "ut-synth: %s/device.json: %s%s\n", a->home,
		    ut_strerror(r), r == UT_ENOTFOUND ?
		    " (not enrolled: run usetrace enroll)" : "");
		return r;
	}
	if ((r = keys_device_load(a->home, false, dk)) < 0) {
		fprintf(stderr, "ut-synth: no device key in %s: %s\n", a->home,
		    ut_strerror(r));
		return r;
	}
	memcpy(o->subject_id, c->d->subject_id, 16);
	if (a->consent_id == NULL || a->policy_hash == NULL) {
		if ((r = consent_load(a->home, &cs)) < 0) {
			fprintf(stderr, "ut-synth: %s/consent.json: %s%s\n",
			    a->home, ut_strerror(r), r == UT_ENOTFOUND ?
			    " (run usetrace consent --yes)" : "");
			return r;
		}
		if (cli_hex_parse(cs.id, o->consent_id, 16) < 0 ||
		    cli_hex_parse(cs.policy_hash, o->policy_hash, 32) < 0) {
			fprintf(stderr, "ut-synth: %s/consent.json is damaged\n",
			    a->home);
			return UT_ECORRUPT;
		}
	}
	if (a->consent_id != NULL &&
	    cli_hex_parse(a->consent_id, o->consent_id, 16) < 0) {
		fprintf(stderr, "ut-synth: --consent-id wants 32 hex digits\n");
		return UT_EPARSE;
	}
	if (a->policy_hash != NULL &&
	    cli_hex_parse(a->policy_hash, o->policy_hash, 32) < 0) {
		fprintf(stderr, "ut-synth: --policy-hash wants 64 hex digits\n");
		return UT_EPARSE;
	}
	if (a->recipient != NULL) {
		if (keys_pubkey_parse(a->recipient, c->rcpt) < 0) {
			fprintf(stderr, "ut-synth: --recipient: not a public key\n");
			return UT_EPARSE;
		}
		c->have_rcpt = true;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ut_device_key *dk = NULL;
	struct synth_opts o;
	struct ctx c;
	struct args a;
	int r, status = 1;

	if ((r = parse_args(argc, argv, &a)) != 0)
		return r == 1 ? 0 : r;
	if (fsio_fault_from_env() < 0) {
		fprintf(stderr, "ut-synth: malformed UT_FSIO_FAULT\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	if (load_home(&a, &o, &c, &dk) < 0)
		goto out;
	if (a.expect != NULL && mkdir(a.expect, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "ut-synth: %s: %s\n", a.expect, strerror(errno));
		goto out;
	}
	c.expect = a.expect;
	o.dir = a.out;
	o.device = dk;
	o.recipient = recipient;
	o.segments = (unsigned)a.segments;
	o.segment_bytes = a.bytes;
	o.seed = a.seed;
	o.marker = a.marker;
	o.start_wall_ns = a.start;
	o.frames_per_episode = (unsigned)a.frames;
	o.on_record = on_record;
	o.on_segment = on_segment;
	o.arg = &c;
	r = synth_write(&o);
	if (r == UT_EINVAL)
		fprintf(stderr, "ut-synth: bad options (a --marker must be "
		    "printable and at most 200 bytes)\n");
	else if (r == UT_EDENIED)
		fprintf(stderr, "ut-synth: %s holds another device's segments\n",
		    a.out);
	else if (r < 0 && r != UT_ENOTFOUND)
		fprintf(stderr, "ut-synth: writing %s: %s\n", a.out,
		    ut_strerror(r));
	status = r == 0 ? 0 : 1;
out:
	if (c.ar != NULL)
		action_reducer_destroy(c.ar);
	if (c.f != NULL)
		fclose(c.f);
	free(c.text);
	device_cfg_free(c.d);
	keys_device_free(dk);
	return status;
}
