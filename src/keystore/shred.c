/*
 * shred.c - cryptographic erasure (invariant (2) in keystore.c).
 *
 * One shred, for erasing a subject or a range of a subject's days:
 *
 *   1. (days only) write subjects/<id>-<v+1>.ks under a NEW subject key,
 *      holding the surviving day and ingest keys;
 *   2. write gen-<N+1>.ks under a NEW master key: the table with that row
 *      re-keyed (or removed), every other subject key re-wrapped;
 *   3. write the new master key file to <master>.tmp, fdatasync;
 *   4. THE SWITCH: rename <master>.tmp over the master key file, fsync its
 *      folder;
 *   5. unlink gen-<N>.ks and the subject's old file (invariant (5): no
 *      overwrite), and drop the old keys from memory.
 *
 * A crash before 4 leaves the old generation whole (recovery deletes the
 * new files); after it the new one (recovery deletes the old files).  The
 * cost is one subject file and one generation file: O(people).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keystore.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "keystore_int.h"

/* What a shred changes, built before anything is written. */
struct plan {
	size_t idx;               /* table row of the subject */
	bool whole;               /* erase the subject, not days */
	struct ks_gen ng;         /* the next generation's table */
	struct ks_subfile *nsf;   /* the subject's surviving keys (days) */
	uint8_t *nm;              /* the next master key (sodium_malloc'd) */
	char spath[PATH_MAX];     /* new subject file */
	char old_spath[PATH_MAX];
	char gpath[PATH_MAX];     /* gen-<N+1>.ks */
	char old_gpath[PATH_MAX];
	char mtmp[PATH_MAX];      /* <master>.tmp */
	char mdir[PATH_MAX];
};

static void
plan_free(struct plan *p)
{
	ks__gen_free(&p->ng);
	ks__subfile_free(p->nsf);
	sodium_free(p->nm);
}

/* The surviving keys of sf: every day and ingest key outside [lo, hi]. */
static struct ks_subfile *
survivors(const struct ks_subfile *sf, int32_t lo, int32_t hi, size_t *gone)
{
	struct ks_subfile *n = ks__subfile_new();
	size_t i;

	*gone = 0;
	ks__subfile_reserve(n, sf->ndays, sf->ning);
	for (i = 0; i < sf->ndays; i++) {
		if (sf->days[i].day >= lo && sf->days[i].day <= hi)
			(*gone)++;
		else
			n->days[n->ndays++] = sf->days[i];
	}
	for (i = 0; i < sf->ning; i++) {
		if (sf->ing[i].day >= lo && sf->ing[i].day <= hi)
			(*gone)++;
		else
			n->ing[n->ning++] = sf->ing[i];
	}
	return n;
}

/* Fills p; returns 1 when there is nothing to erase, 0 to go on. */
static int
plan_make(struct keystore *ks, const uint8_t subject[16], bool whole,
    int32_t lo, int32_t hi, struct plan *p)
{
	struct ks_subfile *sf;
	struct ks_subj *row;
	size_t gone = 0;
	char *slash;
	int r;

	if (!ks__find(ks, subject, &p->idx))
		return 1;
	p->whole = whole;
	if (!whole) {
		if ((r = ks__load(ks, p->idx, &sf)) < 0)
			return r;
		p->nsf = survivors(sf, lo, hi, &gone);
		if (gone == 0)
			return 1;
	}
	if (ks->g.gen == UINT64_MAX)
		return UT_ETOOBIG;
	row = &ks->g.subj[p->idx];
	if ((r = ks__subj_path(ks, row->id, row->version, p->old_spath,
	    sizeof(p->old_spath))) < 0 ||
	    (r = ks__gen_path(ks, ks->g.gen, p->old_gpath,
	    sizeof(p->old_gpath))) < 0 ||
	    (r = ks__gen_path(ks, ks->g.gen + 1, p->gpath, sizeof(p->gpath))) < 0)
		return r;
	if (snprintf(p->mtmp, sizeof(p->mtmp), "%s.tmp", ks->master_path) >=
	    (int)sizeof(p->mtmp))
		return UT_ETOOBIG;
	snprintf(p->mdir, sizeof(p->mdir), "%s", ks->master_path);
	slash = strrchr(p->mdir, '/');
	if (slash == NULL)
		snprintf(p->mdir, sizeof(p->mdir), ".");
	else
		slash[slash == p->mdir ? 1 : 0] = '\0';

	ks__gen_copy(&p->ng, &ks->g);
	p->ng.gen = ks->g.gen + 1;
	row = &p->ng.subj[p->idx];
	if (whole) {
		p->ng.nsubj--;
		memmove(row, row + 1, (p->ng.nsubj - p->idx) * sizeof(*row));
		sodium_memzero(&p->ng.subj[p->ng.nsubj], sizeof(*row));
	} else {
		if (row->version == UINT32_MAX)
			return UT_ETOOBIG;
		row->version++;
		randombytes_buf(row->key, KS_KEY_LEN);
		if ((r = ks__subj_path(ks, row->id, row->version, p->spath,
		    sizeof(p->spath))) < 0)
			return r;
	}
	if ((p->nm = sodium_malloc(KS_KEY_LEN)) == NULL)
		ut_fatal("sodium_malloc failed");
	randombytes_buf(p->nm, KS_KEY_LEN);
	return 0;
}

/* After the switch: the new generation is the one in memory. */
static void
adopt(struct keystore *ks, struct plan *p)
{
	struct ks_gen old = ks->g;

	ks->g = p->ng;
	memset(&p->ng, 0, sizeof(p->ng));
	ks__gen_free(&old);     /* wipes the old subject keys */
	memcpy(ks->master, p->nm, KS_KEY_LEN);
	if (p->whole) {
		ks__cache_remove(ks, p->idx);
	} else {
		if (ks->cache[p->idx] != NULL)
			ks__subfile_free(ks->cache[p->idx]);
		else
			ks->ncached++;
		ks->cache[p->idx] = p->nsf;
		p->nsf = NULL;
	}
}

/* Whether the master key file names generation gen (a rename that failed
 * may still have happened). */
static bool
master_names(const char *path, uint64_t gen)
{
	uint8_t *k = sodium_malloc(KS_KEY_LEN);
	uint64_t g = 0;
	bool yes;

	if (k == NULL)
		ut_fatal("sodium_malloc failed");
	yes = ks__master_read(path, &g, k) == 0 && g == gen;
	sodium_free(k);
	return yes;
}

static int
shred(struct keystore *ks, const uint8_t subject[16], bool whole, int32_t lo,
    int32_t hi)
{
	struct plan p;
	bool switched = false;
	int r;

	memset(&p, 0, sizeof(p));
	pthread_mutex_lock(&ks->mu);
	if (ks->readonly) {
		r = UT_ESTATE;
		goto out;
	}
	if ((r = plan_make(ks, subject, whole, lo, hi, &p)) != 0) {
		r = r > 0 ? 0 : r;
		goto out;
	}
	if (!whole && (r = ks__subfile_write(p.spath, &p.ng.subj[p.idx], p.nsf,
	    NULL)) < 0)
		goto out;
	if ((r = ks__gen_write(p.gpath, &p.ng, p.nm, NULL)) < 0 ||
	    (r = ks__master_write_tmp(p.mtmp, p.ng.gen, p.nm)) < 0)
		goto out;
	/* The switch. */
	if ((r = fsio_rename(p.mtmp, ks->master_path)) < 0 &&
	    !master_names(ks->master_path, p.ng.gen))
		goto out;
	switched = true;
	if (r == 0)
		r = fsio_fsync_dir(p.mdir);
	adopt(ks, &p);
	if (r < 0) {
		/* Either generation may be on disk; keep both until reopened. */
		ks->readonly = true;
		log_error("keystore: erasure switched generation but could not "
		    "make it durable (%s); read-only until reopened",
		    ut_strerror(r));
		goto out;
	}
	(void)unlink(p.old_gpath);
	(void)unlink(p.old_spath);
	(void)fsio_fsync_dir(ks->dir);
	(void)fsio_fsync_dir(ks->subdir);
	log_info("keystore: erasure done, generation %llu",
	    (unsigned long long)ks->g.gen);
out:
	if (r < 0 && !switched && p.nm != NULL) {
		/* Nothing switched: remove what this shred wrote. */
		(void)unlink(p.mtmp);
		(void)unlink(p.gpath);
		if (!whole)
			(void)unlink(p.spath);
		log_error("keystore: erasure failed before its switch: %s",
		    ut_strerror(r));
	}
	plan_free(&p);
	pthread_mutex_unlock(&ks->mu);
	return r;
}

int
keystore_erase_day(struct keystore *ks, const uint8_t subject[16], int32_t day)
{
	return shred(ks, subject, false, day, day);
}

int
keystore_erase_days_before(struct keystore *ks, const uint8_t subject[16],
    int32_t before_day)
{
	if (before_day == INT32_MIN)
		return 0;
	return shred(ks, subject, false, INT32_MIN, before_day - 1);
}

int
keystore_erase_subject(struct keystore *ks, const uint8_t subject[16])
{
	return shred(ks, subject, true, 0, 0);
}
