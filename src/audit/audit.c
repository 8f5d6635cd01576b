/*
 * audit.c - the audit log writer: hash chain, group commit, signed
 * checkpoints, aggregated unauthenticated failures (see audit.h).
 *
 * Callers queue rows under `mu`; one committer thread takes the whole queue,
 * chains the hashes and stores the batch with one meta_audit_append()
 * transaction, then wakes the callers whose rows it made durable.  Rows
 * queued while a commit runs go into the next one: that is the group
 * commit, and it needs no timer.
 *
 * Invariants (tests/audit/test_audit.c):
 *  (1) A row's seq is fixed when it is queued, under `mu`, in queue order;
 *      queue order is commit order, so seqs are stored 1, 2, ... without
 *      gaps, and row seq's prev is the hash of row seq-1 (zeros for row 1).
 *  (2) audit_append() returns 0 only once durable_seq >= its seq, i.e. once
 *      meta_audit_append() returned 0 for the batch holding it.
 *  (3) After any error of meta_audit_append(), of signing, of the store's
 *      checkpoint table or of the checkpoint file, `failed` is set and never
 *      cleared: nothing more is written (no fsync is retried), queued rows
 *      are dropped and their callers get the error, later calls UT_ESTATE.
 *      The in-memory head may then disagree with the store; only a restart
 *      (audit_open re-reads and checks the tail) continues the chain.
 *  (4) Every checkpoint is signed, checked against audit_pk, stored with
 *      meta_audit_ckpt_add() and appended and fsync'd to the checkpoint file
 *      before anyone is given it.  Checkpoints are written by one thread at
 *      a time (`ckmu`), so the file's seqs never decrease.
 *  (5) While rows become durable, a checkpoint follows within interval_ns
 *      of the first row it does not cover.
 *  (6) The queue holds at most QUEUE_MAX caller rows (callers block) plus
 *      at most one row per auth-failure bucket; at most AUDIT_AUTH_SOURCES
 *      + 1 buckets exist, so unauthenticated clients add at most that many
 *      rows per minute.
 *
 * Lock order: ckmu before mu.  States: OPEN -> FAILED [invariant 3].
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <sodium.h>

#include "usetrace/audit.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "audit_int.h"

#define QUEUE_MAX 4096u
#define NBUCKETS (AUDIT_AUTH_SOURCES + 1u)
#define WINDOW_NS (60ull * 1000000000ull)

/* Unauthenticated failures of one source in one window. */
struct bucket {
	char source[sizeof(((struct meta_audit_row *)0)->source)];
	char what[48];
	int64_t first_wall;
	uint64_t start_mono;
	uint64_t count;
};

struct audit {
	struct meta *meta;
	int (*sign)(void *arg, const uint8_t *m, size_t n, uint8_t sig[64]);
	void *sign_arg;
	uint8_t pk[32];
	uint8_t (*old_pks)[32];     /* earlier audit keys (rotation) */
	size_t n_old_pks;
	char *ckpt_path;
	int ckpt_fd;
	uint64_t interval_ns;

	pthread_mutex_t mu;
	pthread_cond_t work;        /* committer: rows queued, stop */
	pthread_cond_t done;        /* callers: durable_seq moved, failed, room */
	struct meta_audit_row *q, *batch;
	size_t qn, qalloc, balloc;
	size_t callers_queued;      /* rows in q that a caller waits for */
	uint64_t next_seq;          /* seq of the next queued row */
	uint64_t durable_seq;
	uint8_t head[32];           /* hash of row durable_seq */
	int failed;                 /* sticky error, 0 while OPEN */
	atomic_bool failed_flag;    /* failed != 0, readable without mu */
	bool stop;
	struct bucket *buckets;
	size_t nbuckets;            /* the overflow bucket "*" is one of them */
	uint64_t ck_seq_mirror;     /* ck.seq, readable under mu */
	uint64_t ck_mono;           /* when ck was written */

	pthread_mutex_t ckmu;
	struct meta_audit_ckpt ck;  /* newest checkpoint; seq 0: none yet */

	pthread_t thr;
	bool thr_started;

	pthread_mutex_t nmu;        /* invariant (7) */
	void (*notify)(void *arg, uint64_t durable_upto);
	void *notify_arg;
};

/* Invariant (7): mu must not be held. */
static void
notify(struct audit *a, uint64_t upto)
{
	pthread_mutex_lock(&a->nmu);
	if (a->notify != NULL)
		a->notify(a->notify_arg, upto);
	pthread_mutex_unlock(&a->nmu);
}

static void
set_failed(struct audit *a, int err)
{
	if (a->failed == 0) {
		a->failed = err < 0 ? err : UT_ESTATE;
		atomic_store(&a->failed_flag, true);
		log_error("audit: log FAILED, refusing audited requests: %s",
		    ut_strerror(a->failed));
	}
	a->qn = 0;
	a->callers_queued = 0;
	pthread_cond_broadcast(&a->done);
}

static void
copy_field(char *dst, size_t dstsz, const char *src)
{
	if (src == NULL)
		src = "";
	ut_strlcpy_utf8(dst, src, strlen(src), dstsz);
}

/* Queues one row (mu held); fills seq and time. */
static struct meta_audit_row *
enqueue(struct audit *a)
{
	struct meta_audit_row *row;

	if (a->qn == a->qalloc) {
		a->qalloc = a->qalloc ? a->qalloc * 2 : 64;
		a->q = xreallocarray(a->q, a->qalloc, sizeof(*a->q));
	}
	row = &a->q[a->qn++];
	memset(row, 0, sizeof(*row));
	row->seq = a->next_seq++;
	row->time_ns = ut_now_wall_ns();
	return row;
}

/* Turns bucket i into a row and removes it (mu held). */
static void
bucket_flush(struct audit *a, size_t i)
{
	struct bucket *b = &a->buckets[i];
	struct meta_audit_row *row = enqueue(a);

	copy_field(row->principal, sizeof(row->principal), "-");
	copy_field(row->action, sizeof(row->action), "auth_failure");
	copy_field(row->outcome, sizeof(row->outcome), "denied");
	copy_field(row->source, sizeof(row->source), b->source);
	snprintf(row->detail, sizeof(row->detail), "count=%llu since_ns=%lld what=",
	    (unsigned long long)b->count, (long long)b->first_wall);
	copy_field(row->detail + strlen(row->detail),
	    sizeof(row->detail) - strlen(row->detail), b->what);
	a->buckets[i] = a->buckets[--a->nbuckets];
	pthread_cond_signal(&a->work);
}

/* Flushes the buckets whose window ended (all when `all`); mu held. */
static void
buckets_flush(struct audit *a, uint64_t now, bool all)
{
	size_t i = 0;

	while (i < a->nbuckets) {
		if (all || now - a->buckets[i].start_mono >= WINDOW_NS)
			bucket_flush(a, i);
		else
			i++;
	}
}

static int
find_ckpt(const struct meta_audit_ckpt *c, void *arg)
{
	struct meta_audit_ckpt *want = arg;

	if (c->seq != want->seq)
		return 0;
	*want = *c;
	return 1;
}

/*
 * The store holds a checkpoint at c->seq already (written before a restart
 * that added no row): use it, after checking that it is signed by the audit
 * key and covers the same head, and append it to the file again (a crash
 * may have come between the store and the file).  Walks the store's
 * checkpoints, which happens at most once per audit_open().
 */
static int
adopt_stored(struct audit *a, struct meta_audit_ckpt *c)
{
	struct meta_audit_ckpt s;
	int r;

	memset(&s, 0, sizeof(s));
	s.seq = c->seq;
	r = meta_audit_ckpt_list(a->meta, find_ckpt, &s);
	if (r < 0)
		return r;
	if (r != 1 || (!audit_ckpt_check(&s, a->pk) &&
	    !audit_ckpt_check_keys(&s, (const uint8_t (*)[32])a->old_pks,
	    a->n_old_pks)) ||
	    memcmp(s.head, c->head, sizeof(s.head)) != 0)
		return UT_ECORRUPT;
	*c = s;
	return 0;
}

/*
 * Writes a checkpoint covering every durable row, unless the newest one
 * covers at least `want` already; *out (may be NULL) receives the newest.
 * Takes ckmu then mu.  Errors make the log FAILED (invariant 3).
 */
static int
write_ckpt(struct audit *a, uint64_t want, struct meta_audit_ckpt *out)
{
	struct meta_audit_ckpt c;
	uint8_t msg[AUDIT_CKPT_MSG_LEN];
	char line[CKPTFILE_LINE_MAX];
	size_t n;
	int r;

	pthread_mutex_lock(&a->ckmu);
	pthread_mutex_lock(&a->mu);
	r = a->failed ? UT_ESTATE : 0;
	memset(&c, 0, sizeof(c));
	c.seq = a->durable_seq;
	memcpy(c.head, a->head, sizeof(c.head));
	pthread_mutex_unlock(&a->mu);
	if (r < 0)
		goto out;
	if (a->ck.seq > 0 && (a->ck.seq >= want || a->ck.seq == c.seq))
		goto done;
	if (c.seq == 0) {
		r = UT_ENOTFOUND;
		goto out;
	}
	c.time_ns = ut_now_wall_ns();
	audit_ckpt_msg(&c, msg);
	if ((r = a->sign(a->sign_arg, msg, sizeof(msg), c.sig)) < 0)
		goto fail;
	if (!audit_ckpt_check(&c, a->pk)) {
		r = UT_ECRYPTO;
		goto fail;
	}
	r = meta_audit_ckpt_add(a->meta, &c);
	if (r == -EEXIST)
		r = adopt_stored(a, &c);
	if (r < 0)
		goto fail;
	n = audit__ckpt_format(&c, line);
	if ((r = fsio_write_all(a->ckpt_fd, line, n)) < 0 ||
	    (r = fsio_fsync(a->ckpt_fd)) < 0)
		goto fail;
	a->ck = c;
	pthread_mutex_lock(&a->mu);
	a->ck_seq_mirror = c.seq;
	a->ck_mono = ut_now_mono_ns();
	pthread_mutex_unlock(&a->mu);
done:
	if (out != NULL)
		*out = a->ck;
	r = 0;
	goto out;
fail:
	log_error("audit: checkpoint at %llu: %s", (unsigned long long)c.seq,
	    ut_strerror(r));
	pthread_mutex_lock(&a->mu);
	set_failed(a, r);
	pthread_mutex_unlock(&a->mu);
	notify(a, UINT64_MAX);
out:
	pthread_mutex_unlock(&a->ckmu);
	return r;
}

/* Commits the queue as one transaction (mu held; released meanwhile). */
static void
commit_batch(struct audit *a)
{
	struct meta_audit_row *b;
	uint8_t prev[32];
	size_t i, n;
	int r;

	b = a->q;
	n = a->qn;
	a->q = a->batch;
	a->batch = b;
	i = a->qalloc;
	a->qalloc = a->balloc;
	a->balloc = i;
	a->qn = 0;
	a->callers_queued = 0;
	pthread_cond_broadcast(&a->done);   /* room in the queue */
	memcpy(prev, a->head, sizeof(prev));
	pthread_mutex_unlock(&a->mu);

	for (i = 0; i < n; i++) {
		memcpy(b[i].prev, prev, sizeof(prev));
		audit_row_hash(&b[i], b[i].hash);
		memcpy(prev, b[i].hash, sizeof(prev));
	}
	r = meta_audit_append(a->meta, b, n);

	pthread_mutex_lock(&a->mu);
	if (r < 0) {
		log_error("audit: append of %zu rows: %s", n, ut_strerror(r));
		set_failed(a, r);
		return;
	}
	if (a->failed)
		return;
	a->durable_seq = b[n - 1].seq;
	memcpy(a->head, prev, sizeof(a->head));
	pthread_cond_broadcast(&a->done);
}

/* Absolute CLOCK_MONOTONIC deadline for the committer's next wake-up. */
static uint64_t
next_deadline(const struct audit *a, uint64_t now)
{
	uint64_t d = now + a->interval_ns;
	size_t i;

	if (a->durable_seq > a->ck_seq_mirror)
		d = UT_MIN(d, a->ck_mono + a->interval_ns);
	for (i = 0; i < a->nbuckets; i++)
		d = UT_MIN(d, a->buckets[i].start_mono + WINDOW_NS);
	return UT_MAX(d, now);
}

static void *
committer(void *arg)
{
	struct audit *a = arg;
	struct timespec ts;
	uint64_t now, dl, want, upto;
	bool due;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		now = ut_now_mono_ns();
		if (a->failed && !a->stop) {
			pthread_cond_wait(&a->work, &a->mu);
			continue;
		}
		if (a->qn == 0 && !a->stop) {
			dl = next_deadline(a, now);
			if (dl > now) {
				ts.tv_sec = (time_t)(dl / 1000000000u);
				ts.tv_nsec = (long)(dl % 1000000000u);
				pthread_cond_timedwait(&a->work, &a->mu, &ts);
				now = ut_now_mono_ns();
			}
		}
		if (!a->failed)
			buckets_flush(a, now, a->stop);
		if (a->qn > 0 && !a->failed) {
			commit_batch(a);
			upto = a->failed ? UINT64_MAX : a->durable_seq;
			pthread_mutex_unlock(&a->mu);
			notify(a, upto);
			pthread_mutex_lock(&a->mu);
		}
		due = !a->failed && a->durable_seq > a->ck_seq_mirror &&
		    (a->stop || ut_now_mono_ns() - a->ck_mono >= a->interval_ns);
		if (due) {
			want = a->durable_seq;
			pthread_mutex_unlock(&a->mu);
			(void)write_ckpt(a, want, NULL);
			pthread_mutex_lock(&a->mu);
		}
		if (a->stop && (a->qn == 0 || a->failed))
			break;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/*
 * Opens the checkpoint file for appending; ends a line a crash cut (see
 * ckptfile.c) and makes the file's creation durable.
 */
static int
ckpt_file_open(const char *path, int *out)
{
	char dir[PATH_MAX];
	struct stat st;
	char last;
	int fd, r;

	fd = fsio_open(path, O_RDWR | O_APPEND | O_CREAT, 0640);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size > 0) {
		if (pread(fd, &last, 1, st.st_size - 1) != 1) {
			r = -EIO;
			goto out;
		}
		if (last != '\n') {
			log_warn("audit: %s: ending a torn last line", path);
			if ((r = fsio_write_all(fd, "\n", 1)) < 0 ||
			    (r = fsio_fsync(fd)) < 0)
				goto out;
		}
	}
	if (strlen(path) >= sizeof(dir)) {
		r = UT_ETOOBIG;
		goto out;
	}
	memcpy(dir, path, strlen(path) + 1);
	if ((r = fsio_fsync_dir(dirname(dir))) < 0)
		goto out;
	*out = fd;
	fd = -1;
	r = 0;
out:
	fsio_close(fd);
	return r;
}

static int
grab_row(const struct meta_audit_row *r, void *arg)
{
	memcpy(arg, r, sizeof(*r));
	return 1;
}

/*
 * Continues the chain from the store's last row after checking its hash
 * and its link to the row before it (invariant 1).
 */
static int
load_tail(struct audit *a)
{
	struct meta_audit_row last, before;
	uint8_t h[32];
	int r;

	r = meta_audit_last(a->meta, &last);
	if (r == UT_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	audit_row_hash(&last, h);
	r = memcmp(h, last.hash, sizeof(h)) == 0 ? 0 : UT_ECORRUPT;
	if (r == 0 && last.seq > 1) {
		memset(&before, 0, sizeof(before));
		r = meta_audit_scan(a->meta, last.seq - 1, last.seq - 1, grab_row,
		    &before);
		if (r == 1)
			r = before.seq == last.seq - 1 &&
			    memcmp(before.hash, last.prev, sizeof(h)) == 0 ? 0 :
			    UT_ECORRUPT;
		else if (r == 0)
			r = UT_ECORRUPT;        /* row seq-1 is missing */
	}
	if (r == UT_ECORRUPT)
		log_error("audit: the log's last row (%llu) does not verify; run "
		    "'usetrace audit verify'", (unsigned long long)last.seq);
	if (r < 0)
		return r;
	a->durable_seq = last.seq;
	a->next_seq = last.seq + 1;
	memcpy(a->head, last.hash, sizeof(a->head));
	return 0;
}

static int
self_test(struct audit *a)
{
	struct meta_audit_ckpt c;
	uint8_t msg[AUDIT_CKPT_MSG_LEN];
	int r;

	memset(&c, 0, sizeof(c));
	c.time_ns = ut_now_wall_ns();
	audit_ckpt_msg(&c, msg);
	if ((r = a->sign(a->sign_arg, msg, sizeof(msg), c.sig)) < 0)
		return r;
	return audit_ckpt_check(&c, a->pk) ? 0 : UT_ECRYPTO;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->thr_started) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->work);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thr, NULL);
	}
	fsio_close(a->ckpt_fd);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->nmu);
	pthread_mutex_destroy(&a->ckmu);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->done);
	free(a->q);
	free(a->batch);
	free(a->buckets);
	free(a->ckpt_path);
	free(a->old_pks);
	free(a);
}

int
audit_open(const struct audit_opts *o, struct audit **out)
{
	struct audit *a;
	pthread_condattr_t ca;
	int r;

	if (o == NULL || o->meta == NULL || o->sign == NULL || o->audit_pk == NULL ||
	    o->ckpt_path == NULL)
		return UT_EINVAL;
	a = xcalloc(1, sizeof(*a));
	a->meta = o->meta;
	a->sign = o->sign;
	a->sign_arg = o->sign_arg;
	memcpy(a->pk, o->audit_pk, sizeof(a->pk));
	if (o->n_old_pks > 0 && o->old_pks != NULL) {
		a->old_pks = xreallocarray(NULL, o->n_old_pks, sizeof(*a->old_pks));
		memcpy(a->old_pks, o->old_pks, o->n_old_pks * sizeof(*a->old_pks));
		a->n_old_pks = o->n_old_pks;
	}
	a->ckpt_path = xstrdup(o->ckpt_path);
	a->ckpt_fd = -1;
	a->interval_ns = (uint64_t)(o->ckpt_interval_ms ? o->ckpt_interval_ms : 1000u) *
	    1000000u;
	a->next_seq = 1;
	a->buckets = xcalloc(NBUCKETS, sizeof(*a->buckets));
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->ckmu, NULL);
	pthread_mutex_init(&a->nmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&a->done, NULL);

	if ((r = self_test(a)) < 0) {
		log_error("audit: the audit key does not sign for audit_pk: %s",
		    ut_strerror(r));
		goto out;
	}
	if ((r = load_tail(a)) < 0)
		goto out;
	if ((r = ckpt_file_open(a->ckpt_path, &a->ckpt_fd)) < 0) {
		log_error("audit: %s: %s", a->ckpt_path, ut_strerror(r));
		goto out;
	}
	if (a->durable_seq > 0 && (r = write_ckpt(a, a->durable_seq, NULL)) < 0)
		goto out;
	a->ck_mono = ut_now_mono_ns();
	if ((r = pthread_create(&a->thr, NULL, committer, a)) != 0) {
		r = -r;
		goto out;
	}
	a->thr_started = true;
	*out = a;
	a = NULL;
	r = 0;
out:
	audit_close(a);
	return r;
}

int
audit_enqueue(struct audit *a, const struct audit_event *e, uint64_t *seq)
{
	struct meta_audit_row *row;
	int r = 0;

	pthread_mutex_lock(&a->mu);
	while (!a->failed && a->callers_queued >= QUEUE_MAX)
		pthread_cond_wait(&a->done, &a->mu);
	if (a->failed) {
		r = UT_ESTATE;
		goto out;
	}
	row = enqueue(a);
	a->callers_queued++;
	*seq = row->seq;
	copy_field(row->principal, sizeof(row->principal),
	    e->principal ? e->principal : "-");
	copy_field(row->role, sizeof(row->role), e->role);
	copy_field(row->purpose, sizeof(row->purpose), e->purpose);
	copy_field(row->action, sizeof(row->action), e->action);
	copy_field(row->subject, sizeof(row->subject), e->subject);
	copy_field(row->object, sizeof(row->object), e->object);
	copy_field(row->outcome, sizeof(row->outcome), e->outcome);
	copy_field(row->source, sizeof(row->source), e->source);
	copy_field(row->detail, sizeof(row->detail), e->detail);
	pthread_cond_signal(&a->work);
out:
	pthread_mutex_unlock(&a->mu);
	return r;
}

int
audit_wait(struct audit *a, uint64_t seq)
{
	int r;

	pthread_mutex_lock(&a->mu);
	while (!a->failed && a->durable_seq < seq)
		pthread_cond_wait(&a->done, &a->mu);
	r = a->durable_seq >= seq ? 0 : a->failed;
	pthread_mutex_unlock(&a->mu);
	return r;
}

int
audit_append(struct audit *a, const struct audit_event *e, uint64_t *seq)
{
	uint64_t my;
	int r;

	if ((r = audit_enqueue(a, e, &my)) < 0 || (r = audit_wait(a, my)) < 0)
		return r;
	if (seq != NULL)
		*seq = my;
	return 0;
}

void
audit_set_notify(struct audit *a, void (*fn)(void *arg, uint64_t durable_upto),
    void *arg)
{
	uint64_t upto;

	pthread_mutex_lock(&a->nmu);
	a->notify = fn;
	a->notify_arg = arg;
	pthread_mutex_unlock(&a->nmu);
	/* What was durable before fn was set is told too. */
	pthread_mutex_lock(&a->mu);
	upto = a->failed != 0 ? UINT64_MAX : a->durable_seq;
	pthread_mutex_unlock(&a->mu);
	notify(a, upto);
}

bool
audit_is_failed(const struct audit *a)
{
	return atomic_load(&a->failed_flag);
}

void
audit_note_auth_failure(struct audit *a, const char *source, const char *what)
{
	uint64_t now = ut_now_mono_ns();
	struct bucket *b = NULL;
	char src[sizeof(b->source)];
	size_t i;

	copy_field(src, sizeof(src), source);
	source = src;
	pthread_mutex_lock(&a->mu);
	if (a->failed)
		goto out;
	for (i = 0; i < a->nbuckets; i++) {
		if (strcmp(a->buckets[i].source, source) == 0) {
			b = &a->buckets[i];
			break;
		}
	}
	if (b != NULL && now - b->start_mono >= WINDOW_NS) {
		bucket_flush(a, i);
		b = NULL;
	}
	if (b == NULL && a->nbuckets >= AUDIT_AUTH_SOURCES) {
		source = "*";
		for (i = 0; i < a->nbuckets && b == NULL; i++)
			if (strcmp(a->buckets[i].source, "*") == 0)
				b = &a->buckets[i];
	}
	if (b == NULL) {
		b = &a->buckets[a->nbuckets++];
		memset(b, 0, sizeof(*b));
		copy_field(b->source, sizeof(b->source), source);
		copy_field(b->what, sizeof(b->what), what);
		b->first_wall = ut_now_wall_ns();
		b->start_mono = now;
		pthread_cond_signal(&a->work);  /* a new deadline */
	}
	b->count++;
out:
	pthread_mutex_unlock(&a->mu);
}

int
audit_checkpoint(struct audit *a, struct meta_audit_ckpt *out)
{
	uint64_t want;

	pthread_mutex_lock(&a->mu);
	want = a->durable_seq;
	pthread_mutex_unlock(&a->mu);
	return write_ckpt(a, want, out);
}
