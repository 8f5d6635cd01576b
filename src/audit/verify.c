/*
 * verify.c - offline verification of the audit log (audit_verify, see
 * audit.h); needs the public audit key only.
 *
 * One pass over the rows in seq order.  The store's checkpoints are read
 * first (signatures checked, sorted by seq); the checkpoint file is read
 * line by line alongside the rows (its seqs never decrease, ckptfile.c).
 * At each row: seq continuity, the prev link, the recomputed hash, then
 * every checkpoint at that seq must carry the row's hash.  Afterwards a
 * checkpoint beyond the last row means rows were cut off.  Problems are
 * reported in seq order, so bad_seq is the first row that is known bad.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usetrace/audit.h"
#include "usetrace/err.h"
#include "usetrace/util.h"
#include "audit_int.h"

#define DBCK_MAX (1u << 26)   /* store checkpoints held in memory */

struct dbck {
	uint64_t seq;
	uint8_t head[32];
	bool sig_ok;
};

struct vstate {
	const uint8_t (*pks)[32];
	size_t npk;
	struct audit_verify_report *r;
	bool bad;
	uint64_t expect;            /* seq of the next row */
	uint8_t prev[32];           /* hash of row expect-1 */

	struct dbck *db;
	size_t ndb, adb, idb;
	int dberr;

	FILE *f;                    /* NULL: no (more) file entries */
	bool fmissing;
	struct meta_audit_ckpt fck; /* the next file entry, when fhave */
	bool fhave;
	uint64_t fentry;            /* its 1-based line number */
	uint64_t flast_seq;
};

static void __attribute__((format(printf, 3, 4)))
fail(struct vstate *st, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (st->bad)
		return;
	st->bad = true;
	st->r->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(st->r->reason, sizeof(st->r->reason), fmt, ap);
	va_end(ap);
}

static int
collect_db(const struct meta_audit_ckpt *c, void *arg)
{
	struct vstate *st = arg;
	struct dbck *d;

	if (st->ndb == DBCK_MAX) {
		st->dberr = UT_ETOOBIG;
		return 1;
	}
	if (st->ndb == st->adb) {
		st->adb = st->adb ? st->adb * 2 : 256;
		st->db = xreallocarray(st->db, st->adb, sizeof(*st->db));
	}
	d = &st->db[st->ndb++];
	d->seq = c->seq;
	memcpy(d->head, c->head, sizeof(d->head));
	d->sig_ok = audit_ckpt_check_keys(c, st->pks, st->npk);
	return 0;
}

static int
cmp_dbck(const void *x, const void *y)
{
	const struct dbck *a = x, *b = y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * Reads the next file entry into st->fck (fhave), skipping torn lines.
 * A problem ends the verification (fail) and the file reading.
 */
static void
file_next(struct vstate *st)
{
	char line[CKPTFILE_LINE_MAX + 2];
	size_t len;
	int ch, r;

	st->fhave = false;
	while (st->f != NULL && !st->bad) {
		if (fgets(line, sizeof(line), st->f) == NULL) {
			if (ferror(st->f))
				fail(st, 0, "checkpoint file: read error");
			break;
		}
		st->fentry++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			len--;
		} else if (len == sizeof(line) - 1) {
			while ((ch = fgetc(st->f)) != EOF && ch != '\n')
				;
			fail(st, 0, "checkpoint file entry %" PRIu64 ": malformed",
			    st->fentry);
			break;
		}
		r = audit__ckpt_parse(line, len, &st->fck);
		if (r == 1)
			continue;       /* torn by a crash */
		if (r < 0) {
			fail(st, 0, "checkpoint file entry %" PRIu64 ": malformed",
			    st->fentry);
			break;
		}
		if (!audit_ckpt_check_keys(&st->fck, st->pks, st->npk)) {
			fail(st, st->fck.seq, "checkpoint file entry %" PRIu64
			    ": bad signature", st->fentry);
			break;
		}
		if (st->fck.seq < st->flast_seq) {
			fail(st, st->fck.seq, "checkpoint file entry %" PRIu64
			    ": out of order (seq %" PRIu64 " after %" PRIu64 ")",
			    st->fentry, st->fck.seq, st->flast_seq);
			break;
		}
		st->flast_seq = st->fck.seq;
		st->fhave = true;
		return;
	}
	if (st->f != NULL) {
		fclose(st->f);
		st->f = NULL;
	}
}

/* Checks every checkpoint at or below row seq `seq` with hash h. */
static void
check_ckpts(struct vstate *st, uint64_t seq, const uint8_t h[32])
{
	struct dbck *d;

	for (; st->idb < st->ndb && st->db[st->idb].seq <= seq && !st->bad;
	    st->idb++) {
		d = &st->db[st->idb];
		if (!d->sig_ok)
			fail(st, d->seq, "checkpoint %" PRIu64 " in the store: bad "
			    "signature", d->seq);
		else if (d->seq == seq && memcmp(d->head, h, 32) != 0)
			fail(st, seq, "row %" PRIu64 ": differs from the signed "
			    "checkpoint in the store", seq);
		else
			st->r->checkpoints++;
	}
	while (st->fhave && st->fck.seq <= seq && !st->bad) {
		if (st->fck.seq == seq && memcmp(st->fck.head, h, 32) != 0) {
			fail(st, seq, "row %" PRIu64 ": differs from checkpoint "
			    "file entry %" PRIu64, seq, st->fentry);
			break;
		}
		st->r->file_checkpoints++;
		file_next(st);
	}
}

static int
check_row(const struct meta_audit_row *row, void *arg)
{
	struct vstate *st = arg;
	uint8_t h[32];

	if (row->seq > st->expect)
		fail(st, st->expect, "row %" PRIu64 " missing (next is %" PRIu64 ")",
		    st->expect, row->seq);
	else if (row->seq < st->expect)
		fail(st, row->seq, "row %" PRIu64 ": out of order or repeated",
		    row->seq);
	if (st->bad)
		return 1;
	audit_row_hash(row, h);
	if (memcmp(h, row->hash, sizeof(h)) != 0)
		fail(st, row->seq, "row %" PRIu64 ": hash mismatch", row->seq);
	else if (memcmp(row->prev, st->prev, sizeof(st->prev)) != 0)
		fail(st, row->seq, "row %" PRIu64 ": link to row %" PRIu64 " broken",
		    row->seq, row->seq - 1);
	else
		check_ckpts(st, row->seq, h);
	if (st->bad)
		return 1;
	st->r->rows++;
	st->expect++;
	memcpy(st->prev, h, sizeof(st->prev));
	return 0;
}

/* After the last row: a checkpoint beyond it means rows were cut off. */
static void
check_tail(struct vstate *st)
{
	uint8_t zero[32] = { 0 };

	/* Checkpoints at seq 0 cover nothing; their signature still counts. */
	check_ckpts(st, 0, zero);
	if (st->bad)
		return;
	if (st->idb < st->ndb && !st->db[st->idb].sig_ok)
		fail(st, st->db[st->idb].seq, "checkpoint %" PRIu64 " in the store: "
		    "bad signature", st->db[st->idb].seq);
	else if (st->idb < st->ndb)
		fail(st, st->expect, "row %" PRIu64 " missing: checkpoint at %"
		    PRIu64 " in the store", st->expect, st->db[st->idb].seq);
	else if (st->fhave)
		fail(st, st->expect, "row %" PRIu64 " missing: checkpoint at %"
		    PRIu64 " in the checkpoint file", st->expect, st->fck.seq);
	else if (st->fmissing && st->r->rows > 0)
		fail(st, 0, "the checkpoint file is missing");
}

int
audit_verify(struct meta *m, const uint8_t audit_pk[32], const char *ckpt_path,
    struct audit_verify_report *r)
{
	return audit_verify_keys(m, (const uint8_t (*)[32])audit_pk, 1, ckpt_path, r);
}

int
audit_verify_keys(struct meta *m, const uint8_t (*pks)[32], size_t npk,
    const char *ckpt_path, struct audit_verify_report *r)
{
	struct vstate st;
	int ret;

	memset(r, 0, sizeof(*r));
	memset(&st, 0, sizeof(st));
	st.pks = pks;
	st.npk = npk;
	st.r = r;
	st.expect = 1;
	if (ckpt_path != NULL) {
		st.f = fopen(ckpt_path, "re");
		if (st.f == NULL && errno != ENOENT) {
			ret = -errno;
			snprintf(r->reason, sizeof(r->reason),
			    "cannot read the checkpoint file: %s", ut_strerror(ret));
			goto out;
		}
		st.fmissing = st.f == NULL;
	}
	ret = meta_audit_ckpt_list(m, collect_db, &st);
	if (ret >= 0 && st.dberr < 0)
		ret = st.dberr;
	if (ret < 0) {
		snprintf(r->reason, sizeof(r->reason),
		    "cannot read the store's checkpoints: %s", ut_strerror(ret));
		goto out;
	}
	if (st.ndb > 0)
		qsort(st.db, st.ndb, sizeof(*st.db), cmp_dbck);
	file_next(&st);
	/* Checkpoints at seq 0 sort first and are checked with row 1. */
	ret = st.bad ? 1 : meta_audit_scan(m, 1, 0, check_row, &st);
	if (ret < 0) {
		snprintf(r->reason, sizeof(r->reason), "cannot read the log: %s",
		    ut_strerror(ret));
		goto out;
	}
	if (!st.bad)
		check_tail(&st);
	ret = st.bad ? UT_ECORRUPT : 0;
out:
	if (st.f != NULL)
		fclose(st.f);
	free(st.db);
	return ret;
}
