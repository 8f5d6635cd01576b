/*
 * export.h - training datasets: reduced actions with the frame the person
 * saw, written in the shapes training code already reads.
 *
 * The flow: a driver (export_local_recording() for a person's own
 * recording; the server's training API later) reduces records to actions
 * (action.h), groups them into episodes, finds the frame before each action
 * and hands each step to an export writer.  The writer owns the output
 * directory: the step files of one format, the frames, MANIFEST.sha256
 * over every file and DATACARD.md / DATACARD.json.
 *
 * Formats (docs/EXPORT.md):
 *   jsonl       usetrace's own: steps.jsonl, one object a step (schema in
 *               docs/export.schema.json), frames/KEY.png
 *   webdataset  tar shards (at most 1 GiB) of KEY.png + KEY.json
 *   pyautogui   AgentNet/OpenCUA-style episodes.jsonl: each step's action as
 *               pyautogui code with coordinates normalised to 0..1
 *   osworld     episodes.jsonl with OSWorld `computer_13` action dicts
 *   anthropic   episodes.jsonl with Anthropic `computer_20250124` tool calls
 * A conversion is lossless where the target can express the action; where
 * it cannot, the step keeps its usetrace form, the target field is null,
 * and DATACARD counts it (never a silent drop).
 *
 * Nothing in an export names the person: contributor and consent ids are
 * keyed hashes under the export's own random key, no wall-clock date is
 * written (times count from each episode's start), and tar members carry
 * zero mtime, uid and gid and no owner names.
 */
#ifndef USETRACE_EXPORT_H
#define USETRACE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usetrace/action.h"

enum export_format {
	EXPORT_JSONL = 0,
	EXPORT_WEBDATASET,
	EXPORT_PYAUTOGUI,
	EXPORT_OSWORLD,
	EXPORT_ANTHROPIC,
	EXPORT_FORMATS
};

/* "jsonl" ... -> format; 0 or UT_EINVAL. */
int export_format_parse(const char *s, enum export_format *f);
const char *export_format_name(enum export_format f);

/* How frames are stored in an export. */
enum export_image {
	EXPORT_IMG_PNG = 0,        /* lossless, as `usetrace frames` */
	EXPORT_IMG_WEBP,           /* lossy at a quality 1..100, or lossless (101) */
};

/*
 * Encodes RGB pixels (3 bytes a pixel) as f at quality (WebP: 1..100, 0 the
 * default 80, 101 lossless; PNG ignores it) into a malloc'd buffer the
 * caller wipes and frees.  0 or UT_EINVAL.
 */
int export_image_encode(enum export_image f, int quality, const uint8_t *rgb,
    uint32_t w, uint32_t h, uint8_t **out, size_t *len)
	__attribute__((warn_unused_result));
/* The same from a PNG (its size in *w, *h).  0, UT_ECORRUPT, UT_EINVAL. */
int export_image_from_png(enum export_image f, int quality, const uint8_t *png,
    size_t pnglen, uint8_t **out, size_t *len, uint32_t *w, uint32_t *h)
	__attribute__((warn_unused_result));

/* One step handed to the writer; everything is borrowed for the call. */
struct export_step {
	const struct ut_action *a;
	uint64_t t_ms;             /* since the episode's start */
	const char *app;           /* NULL: none known */
	const char *title;         /* redacted title, NULL: none / denied */
	uint8_t sensitivity;       /* 1..4 */
	uint32_t screen_w, screen_h;
	const uint8_t *img;        /* the frame before the action, or NULL: */
	size_t img_len;            /* in the writer's image format, or */
	bool img_is_png;           /* a PNG the writer transcodes if needed */
};

/* One episode's description (borrowed for the call). */
struct export_episode {
	const char *instruction;   /* task text, NULL: an unmarked episode */
	int outcome;               /* 1 success, 0 failure, -1 unknown */
	const char *contributor;   /* keyed hash (hex) of the person */
	const char *consent_ref;   /* keyed hash (hex) of the consent */
	const char *policy_hash;   /* hex, NULL: unknown */
	const char *ref;           /* the server's episode id (revoke-check), or NULL */
};

struct export_writer;

/*
 * Creates outdir (0700; it must not exist or be empty) and opens a writer.
 * export_id names the export in the datacard.  On success *out owns the
 * writer.  Errors: UT_EINVAL, UT_ESTATE (outdir not empty), -errno.
 */
int export_writer_open(const char *outdir, enum export_format f,
    const char *export_id, struct export_writer **out)
	__attribute__((warn_unused_result));

/* Frames as f at quality (see export_image_encode); default PNG. */
void export_writer_set_image(struct export_writer *w, enum export_image f,
    int quality);
enum export_image export_writer_image(const struct export_writer *w, int *quality);

/*
 * The export's expiry day, YYYY-MM-DD (UTC), for the datacard's `expires`
 * (NULL or malformed: not known).
 */
void export_writer_set_expires(struct export_writer *w, const char *day);

/*
 * Expiry (expiry.c).  An export made at made_ns under a policy whose
 * export.expire is days expires at 00:00 UTC of the day made_ns + days
 * falls on, so it lives at most `days` days.  export_expiry_day() writes
 * that day (YYYY-MM-DD) into out[11]; export_expired() is true when now_ns
 * is on or after day 00:00 UTC (false for a malformed day: it also returns
 * false, so callers check export_day_ok() first).  export_now_ns() is the
 * wall clock, shifted in test builds by USETRACE_TEST_EXPORT_SKEW_DAYS.
 */
void export_expiry_day(int64_t made_ns, uint32_t days, char out[11]);
bool export_day_ok(const char *day);
bool export_expired(const char *day, int64_t now_ns);
int64_t export_now_ns(void);

/* Starts an episode; steps follow; the next begin ends it. */
int export_writer_episode(struct export_writer *w, const struct export_episode *e)
	__attribute__((warn_unused_result));

/* Writes one step of the current episode.  0, UT_ESTATE (no episode), -errno. */
int export_writer_step(struct export_writer *w, const struct export_step *s)
	__attribute__((warn_unused_result));

/*
 * Ends the last episode, writes DATACARD.md, DATACARD.json and
 * MANIFEST.sha256, and frees the writer (also on error).  0 or -errno.
 */
int export_writer_close(struct export_writer *w) __attribute__((warn_unused_result));

/* Frees a writer without finishing (the directory is left partial). */
void export_writer_abort(struct export_writer *w);

/*
 * The conversions, one action at a time (pure; unit-tested).  Each appends
 * to out (a NUL-terminated string within outsz) and returns 0, or
 * UT_EINVAL when the target cannot express the action (out is then "").
 * pyautogui: code with x, y normalised by the screen size;
 * osworld: a JSON array of computer_13 action dicts in screen pixels;
 * anthropic: a JSON array of computer_20250124 tool inputs in pixels.
 */
int export_to_pyautogui(const struct ut_action *a, uint32_t w, uint32_t h,
    char *out, size_t outsz);
int export_to_osworld(const struct ut_action *a, char *out, size_t outsz);
int export_to_anthropic(const struct ut_action *a, char *out, size_t outsz);

struct ut_recipient_key;
struct export_local_opts {
	const char *recording;     /* the recording directory */
	const struct ut_recipient_key *key; /* unlocks it */
	const char *outdir;
	enum export_format format;
	enum export_image image;   /* default PNG */
	int quality;               /* WebP quality (export_image_encode) */
	uint32_t idle_split_s;     /* 0: 300; an idle gap this long ends an episode */
	const char *consent_id;    /* the person's consent id, NULL: unknown */
	const char *policy_hash;   /* hex, NULL: unknown */
	const char *expires;       /* YYYY-MM-DD (export_expiry_day), NULL: unknown */
	bool quiet;                /* no progress on stderr */
};

/*
 * Exports a person's own recording (offline).  Prints a progress line per
 * episode on stderr unless quiet.  0, or a negative code (the output
 * directory is then left partial, with no manifest).
 */
int export_local_recording(const struct export_local_opts *o)
	__attribute__((warn_unused_result));

struct json_t;
/*
 * Reads one action as `usetrace show --json` (and the server) prints it
 * into *a; its drag/move path goes into path (at most npath points).
 * *frame gets its frame id (-1: none).  0 or UT_EPARSE.
 */
int export_action_from_json(const struct json_t *o, struct ut_action *a,
    struct ut_point *path, size_t npath);

/*
 * The "target" of an action's JSON form into *t (a TARGET record: role,
 * name, box, path): 1 when it has one (set a->target = t), 0 when none,
 * UT_EPARSE when malformed.
 */
int export_target_from_json(const struct json_t *o, struct ut_event *t);

/*
 * The episodes of an export directory (any format) and their server
 * episode ids: calls fn(episode number, ref or NULL, arg) once per
 * episode, in order.  0, UT_ENOTFOUND (not an export), UT_EPARSE.
 */
int export_episodes(const char *dir,
    int (*fn)(unsigned episode, const char *ref, void *arg), void *arg)
	__attribute__((warn_unused_result));

/*
 * Removes the given episodes (numbers, sorted or not) from an export
 * directory: their steps, frames and shard members; then rewrites
 * MANIFEST.sha256 and records them in DATACARD.json ("pruned_episodes").
 * Every rewritten file is replaced atomically.  0 or a negative code.
 */
int export_prune(const char *dir, const unsigned *episodes, size_t n)
	__attribute__((warn_unused_result));

struct replay_opts {
	const char *dir;           /* an export directory (any format but webdataset) */
	unsigned episode;          /* from 1 */
	const char *display;       /* NULL: $DISPLAY */
	const char *stop_key;      /* keysym name; NULL: "Pause" */
	double speed;              /* > 0; 1.0 the recorded pace */
	uint32_t max_gap_ms;       /* longest wait between steps */
	uint32_t key_delay_ms;     /* between typed characters */
	bool dry_run;              /* print the steps, touch no display */
	bool quiet;
};

/*
 * Performs one exported episode on an X display through XTEST (replay.c).
 * The stop key (grabbed for the replay's life) ends it at once.  0;
 * UT_ENOTFOUND (no such episode or no steps file), UT_EPARSE, UT_EX11,
 * UT_ENOEXT (no XTEST), UT_EINVAL (unknown stop key), UT_ESTATE (stopped
 * by the stop key).
 */
int export_replay(const struct replay_opts *o) __attribute__((warn_unused_result));

#endif
