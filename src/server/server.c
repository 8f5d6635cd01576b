/*
 * server.c - `usetrace serve`: opens (on first start, creates) the data
 * directory behind the three storage interfaces, the audit log and the
 * TLS key, then serves until SIGTERM/SIGINT and drains.
 *
 * Start-up order, each step a clear error and no start:
 *   config -> data directory (first start: created 0700) -> process
 *   hardening (no core dumps, not dumpable) -> key store (with the master
 *   key outside the data directory) -> metadata -> blobs -> audit log ->
 *   tombstones reapplied, retention run -> TLS key and pin -> listen ->
 *   print "url", "pin" (and "admin-token-file" on first start).
 *
 * Invariants:
 *  (1) Signals are blocked in every thread; the main thread alone waits for
 *      them (sigwait), so a SIGTERM drains instead of interrupting.
 *  (2) Nothing listens before every tombstone has been reapplied: a restored
 *      backup never serves a day that was erased after it was taken.
 *  (3) The master key file is never inside the data directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/keys.h"
#include "usetrace/log.h"
#include "usetrace/policy.h"
#include "usetrace/server.h"
#include "usetrace/util.h"
#include "server_int.h"
#include "server_test.h"

#define NS_PER_S 1000000000LL

/* jansson's strings may hold recorded content: wipe them on free. */
static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

static int
path_join(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= outsz ? UT_ETOOBIG : 0;
}

static void
config_defaults(struct srv_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8443");
	c->retention_days = 90;
	c->threads = 8;
	c->rate_per_s = 200;
	c->rate_burst = 400;
	c->token_days = 90;
	c->device_token_days = 365;
	c->max_connections = 4096;
	c->max_connections_per_ip = 64;
	c->longpoll_max = 4000;
	c->org_pause_max_s = 3600;
	c->session_idle_s = 900;
}

static int
copy_str(json_t *v, char *dst, size_t dstsz, const char *key, char *err, size_t errsz)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) >= dstsz || s[0] == '\0') {
		snprintf(err, errsz, "\"%s\" must be a non-empty string", key);
		return UT_EPARSE;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
copy_uint(json_t *v, unsigned *dst, unsigned lo, unsigned hi, const char *key,
    char *err, size_t errsz)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		snprintf(err, errsz, "\"%s\" must be an integer from %u to %u", key, lo, hi);
		return UT_EPARSE;
	}
	*dst = (unsigned)json_integer_value(v);
	return 0;
}

/*
 * The config file: a JSON object; every key optional, unknown keys are an
 * error (a typo must not silently fall back to a default).
 */
static int
config_load(const char *path, struct srv_config *c, char *err, size_t errsz)
{
	json_error_t je;
	json_t *j, *v;
	const char *k;
	int r = 0;

	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(err, errsz, "line %d: %s", je.line, je.text);
		return UT_EPARSE;
	}
	if (!json_is_object(j)) {
		snprintf(err, errsz, "the config must be a JSON object");
		r = UT_EPARSE;
		goto out;
	}
	json_object_foreach(j, k, v) {
		if (strcmp(k, "listen") == 0)
			r = copy_str(v, c->listen, sizeof(c->listen), k, err, errsz);
		else if (strcmp(k, "tls_cert") == 0)
			r = copy_str(v, c->tls_cert, sizeof(c->tls_cert), k, err, errsz);
		else if (strcmp(k, "tls_key") == 0)
			r = copy_str(v, c->tls_key, sizeof(c->tls_key), k, err, errsz);
		else if (strcmp(k, "metadata") == 0)
			r = copy_str(v, c->meta_url, sizeof(c->meta_url), k, err, errsz);
		else if (strcmp(k, "blobs") == 0)
			r = copy_str(v, c->blob_url, sizeof(c->blob_url), k, err, errsz);
		else if (strcmp(k, "retention_days") == 0)
			r = copy_uint(v, &c->retention_days, 1, 36500, k, err, errsz);
		else if (strcmp(k, "threads") == 0)
			r = copy_uint(v, &c->threads, 1, 256, k, err, errsz);
		else if (strcmp(k, "rate_per_s") == 0)
			r = copy_uint(v, &c->rate_per_s, 1, 1000000, k, err, errsz);
		else if (strcmp(k, "rate_burst") == 0)
			r = copy_uint(v, &c->rate_burst, 1, 1000000, k, err, errsz);
		else if (strcmp(k, "token_days") == 0)
			r = copy_uint(v, &c->token_days, 1, 3650, k, err, errsz);
		else if (strcmp(k, "device_token_days") == 0)
			r = copy_uint(v, &c->device_token_days, 1, 3650, k, err, errsz);
		else if (strcmp(k, "max_connections") == 0)
			r = copy_uint(v, &c->max_connections, 16, 1000000, k, err, errsz);
		else if (strcmp(k, "max_connections_per_ip") == 0)
			r = copy_uint(v, &c->max_connections_per_ip, 1, 1000000, k, err,
			    errsz);
		else if (strcmp(k, "longpoll_max") == 0)
			r = copy_uint(v, &c->longpoll_max, 1, 1000000, k, err, errsz);
		else if (strcmp(k, "org_pause_max_s") == 0)
			r = copy_uint(v, &c->org_pause_max_s, 1, 31 * 86400, k, err, errsz);
		else if (strcmp(k, "session_idle_s") == 0)
			r = copy_uint(v, &c->session_idle_s, 1, SRV_SESSION_LIFETIME_S, k,
			    err, errsz);
		else if (strcmp(k, "alert_command") == 0)
			r = copy_str(v, c->alert_command, sizeof(c->alert_command), k,
			    err, errsz);
		else {
			snprintf(err, errsz, "unknown key \"%.64s\"", k);
			r = UT_EPARSE;
		}
		if (r < 0)
			break;
	}
	if (r == 0 && c->alert_command[0] != '\0' &&
	    (c->alert_command[0] != '/' || access(c->alert_command, X_OK) != 0)) {
		snprintf(err, errsz, "\"alert_command\" must be an absolute path to "
		    "an executable");
		r = UT_EPARSE;
	}
	if (r == 0 && (c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		snprintf(err, errsz, "\"tls_cert\" and \"tls_key\" go together");
		r = UT_EPARSE;
	}
out:
	json_decref(j);
	return r;
}

/* 1 when dir exists and holds anything, 0 when missing or empty, or -errno. */
static int
dir_state(const char *dir)
{
	struct stat st;
	char p[SRV_PATH_MAX];

	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (path_join(p, sizeof(p), dir, "meta.db") < 0)
		return UT_ETOOBIG;
	if (access(p, F_OK) == 0)
		return 1;
	if (path_join(p, sizeof(p), dir, "keys") < 0)
		return UT_ETOOBIG;
	return access(p, F_OK) == 0 ? 1 : 0;
}

static int
keystore_sign_cb(void *arg, const uint8_t *m, size_t n, uint8_t sig[64])
{
	return keystore_sign(arg, KS_AUDIT_KEY, m, n, sig);
}

static int
http_handler(void *app, const struct http_request *rq, struct http_response *rs)
{
	srv_dispatch(app, rq, rs);
	return 0;
}

static size_t
http_body_cap(void *app, const char *method, const char *path)
{
	return srv_body_cap(app, method, path);
}

/* Writes the bootstrap admin's token to DIR/admin.token (0600). */
static int
bootstrap_admin(struct server *s, char *path, size_t pathsz)
{
	struct meta_principal p;
	struct meta_token t;
	struct audit_event e;
	char token[SRV_TOKEN_TEXT_MAX];
	int64_t id, now = ut_now_wall_ns();
	int fd = -1, r;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "admin");
	p.role = UT_ROLE_ADMIN;
	p.created_ns = now;
	if ((r = meta_principal_add(s->meta, &p, &id)) < 0)
		return r;
	memset(&t, 0, sizeof(t));
	srv_token_new(false, token, t.hash);
	t.principal_id = id;
	t.expires_ns = now + (int64_t)s->cfg.token_days * 86400 * NS_PER_S;
	if ((r = meta_token_add(s->meta, &t)) < 0)
		goto out;
	if ((r = path_join(path, pathsz, s->data_dir, "admin.token")) < 0)
		goto out;
	if ((fd = fsio_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		r = fd;
		goto out;
	}
	if ((r = fsio_write_all(fd, token, strlen(token))) < 0 ||
	    (r = fsio_write_all(fd, "\n", 1)) < 0 || (r = fsio_fsync(fd)) < 0)
		goto out;
	memset(&e, 0, sizeof(e));
	e.principal = "admin";
	e.role = "admin";
	e.purpose = "administration";
	e.action = "bootstrap_admin";
	e.object = "principal:admin";
	e.outcome = "ok";
	e.source = "local";
	e.detail = "first start: the bootstrap admin's token was written to admin.token";
	r = audit_append(s->audit, &e, NULL);
out:
	if (fd >= 0)
		(void)fsio_close(fd);
	sodium_memzero(token, sizeof(token));
	return r;
}

static int
tls_setup(struct server *s, bool first, const char *listen_host)
{
	char dir[SRV_PATH_MAX];
	const char *names[4];
	size_t n = 0;
	int r;

	if (s->cfg.tls_cert[0] == '\0') {
		if ((r = path_join(dir, sizeof(dir), s->data_dir, "tls")) < 0 ||
		    (r = path_join(s->cfg.tls_cert, sizeof(s->cfg.tls_cert), dir,
		    "cert.pem")) < 0 ||
		    (r = path_join(s->cfg.tls_key, sizeof(s->cfg.tls_key), dir,
		    "key.pem")) < 0)
			return r;
		if (access(s->cfg.tls_cert, F_OK) != 0) {
			if (!first)
				log_warn("serve: %s is missing: generating a new TLS key; "
				    "clients need the new pin", s->cfg.tls_cert);
			if (mkdir(dir, 0700) < 0 && errno != EEXIST)
				return -errno;
			names[n++] = "localhost";
			names[n++] = "127.0.0.1";
			names[n++] = "::1";
			if (listen_host[0] != '\0' && strcmp(listen_host, "127.0.0.1") != 0 &&
			    strcmp(listen_host, "0.0.0.0") != 0 && strcmp(listen_host, "::") != 0)
				names[n++] = listen_host;
			if ((r = http_tls_generate(s->cfg.tls_key, s->cfg.tls_cert, names, n)) < 0)
				return r;
		}
	}
	return http_tls_pin(s->cfg.tls_cert, s->pin, sizeof(s->pin));
}

static void *
retention_main(void *arg)
{
	struct server *s = arg;
	struct timespec ts;
	int r;

	pthread_mutex_lock(&s->stop_lock);
	while (!s->stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 86400;
		r = pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts);
		if (s->stopping || r != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&s->stop_lock);
		r = srv_retention_run(s, ut_now_wall_ns());
		if (r < 0)
			log_error("serve: retention: %s", ut_strerror(r));
		pthread_mutex_lock(&s->stop_lock);
	}
	pthread_mutex_unlock(&s->stop_lock);
	return NULL;
}

static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	/* Keys and recorded content must never land in a core file. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int
default_policy(struct server *s)
{
	struct policy *p = NULL;
	char err[256];
	int r;

	if ((r = policy_load(NULL, &p, err, sizeof(err))) < 0)
		return r;
	memcpy(s->default_policy_hash, p->hash, 32);
	s->default_retention_days = p->retention_days;
	s->default_export_max_sensitivity = p->export_max_sensitivity;
	s->default_export_expire_days = p->export_expire_days;
	policy_destroy(p);
	return 0;
}

/* Everything up to listening.  Logs the one clear error itself. */
static int
open_all(struct server *s, const struct server_opts *o, bool *first)
{
	struct keystore_opts ko;
	struct audit_opts ao;
	char keysdir[SRV_PATH_MAX], master[SRV_PATH_MAX], p[SRV_PATH_MAX];
	char host[128], *colon;
	uint8_t old_pks[KEYS_HISTORY_MAX][32];
	unsigned applied = 0;
	int r, st;

	st = dir_state(s->data_dir);
	if (st < 0) {
		log_error("serve: data directory %s: %s", s->data_dir, ut_strerror(st));
		return st;
	}
	*first = st == 0;
	if (o->master_key_path != NULL)
		snprintf(master, sizeof(master), "%s", o->master_key_path);
	else if (snprintf(master, sizeof(master), "%s.master-key", s->data_dir) >=
	    (int)sizeof(master))
		return UT_ETOOBIG;
	{
		char rd[PATH_MAX], rm[PATH_MAX], *slash;

		/* Invariant (3). */
		if (*first && mkdir(s->data_dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			log_error("serve: cannot create %s: %s", s->data_dir, ut_strerror(r));
			return r;
		}
		snprintf(p, sizeof(p), "%s", master);
		slash = strrchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		if (realpath(s->data_dir, rd) != NULL &&
		    realpath(slash != NULL ? p : ".", rm) != NULL &&
		    strncmp(rm, rd, strlen(rd)) == 0 &&
		    (rm[strlen(rd)] == '\0' || rm[strlen(rd)] == '/')) {
			log_error("serve: the master key %s must not be inside the data "
			    "directory (which is what gets backed up)", master);
			return UT_EINVAL;
		}
	}
	if (!*first && access(master, F_OK) != 0) {
		log_error("serve: %s holds a server but its master key %s is missing "
		    "(give it with --master-key)", s->data_dir, master);
		return UT_ENOTFOUND;
	}
	if ((r = path_join(keysdir, sizeof(keysdir), s->data_dir, "keys")) < 0)
		return r;
	memset(&ko, 0, sizeof(ko));
	ko.dir = keysdir;
	ko.master_path = master;
	ko.create = *first;
	if ((r = keystore_open(&ko, &s->ks)) < 0) {
		log_error("serve: key store %s with master key %s: %s%s", keysdir, master,
		    ut_strerror(r), r == UT_ECRYPTO ? " (is it the right master key?)" : "");
		return r;
	}
	if (s->rotate != 0 && (r = srv_keys_rotate(s, s->rotate)) < 0)
		return r;
	if ((s->cfg.meta_url[0] == '\0' &&
	    snprintf(s->cfg.meta_url, sizeof(s->cfg.meta_url), "sqlite:%s/meta.db",
	    s->data_dir) >= (int)sizeof(s->cfg.meta_url)) ||
	    (s->cfg.blob_url[0] == '\0' &&
	    snprintf(s->cfg.blob_url, sizeof(s->cfg.blob_url), "dir:%s/blobs",
	    s->data_dir) >= (int)sizeof(s->cfg.blob_url))) {
		log_error("serve: the data directory's path is too long");
		return UT_ETOOBIG;
	}
	if ((r = meta_open(s->cfg.meta_url, *first, &s->meta)) < 0) {
		log_error("serve: metadata store %s: %s", s->cfg.meta_url, ut_strerror(r));
		return r;
	}
	if ((r = blob_open(s->cfg.blob_url, true, &s->blobs)) < 0) {
		log_error("serve: blob store %s: %s", s->cfg.blob_url, ut_strerror(r));
		return r;
	}
	if ((r = keystore_server_pk(s->ks, KS_RECEIPT_KEY, s->receipt_pk)) < 0 ||
	    (r = keystore_server_pk(s->ks, KS_AUDIT_KEY, s->audit_pk)) < 0 ||
	    (r = path_join(p, sizeof(p), s->data_dir, "audit.pub")) < 0 ||
	    (r = keys_pubfile_write(p, s->audit_pk)) < 0 ||
	    (r = path_join(p, sizeof(p), s->data_dir, "receipt.pub")) < 0 ||
	    (r = keys_pubfile_write(p, s->receipt_pk)) < 0) {
		log_error("serve: server keys: %s", ut_strerror(r));
		return r;
	}
	if ((r = path_join(p, sizeof(p), s->data_dir, "audit.ckpt")) < 0)
		return r;
	memset(&ao, 0, sizeof(ao));
	ao.meta = s->meta;
	ao.sign = keystore_sign_cb;
	ao.sign_arg = s->ks;
	ao.audit_pk = s->audit_pk;
	ao.ckpt_path = p;
	if ((r = srv_audit_old_pks(s, old_pks, KEYS_HISTORY_MAX, &ao.n_old_pks)) < 0)
		return r;
	ao.old_pks = (const uint8_t (*)[32])old_pks;
	if ((r = audit_open(&ao, &s->audit)) < 0) {
		log_error("serve: audit log: %s (run 'usetrace audit verify --data %s')",
		    ut_strerror(r), s->data_dir);
		return r;
	}
	if (s->rotate != 0 && (r = srv_keys_rotate_audit(s, s->rotate)) < 0) {
		log_error("serve: audit log: %s", ut_strerror(r));
		return r;
	}
	if ((r = default_policy(s)) < 0) {
		log_error("serve: the built-in policy does not parse: %s", ut_strerror(r));
		return r;
	}
	if ((r = srv_ctl_open(s)) < 0) {
		log_error("serve: the control state: %s", ut_strerror(r));
		return r;
	}
	if ((r = srv_sessions_open(s)) < 0) {
		log_error("serve: the page's sessions: %s", ut_strerror(r));
		return r;
	}
	/* Invariant (2). */
	if ((r = srv_erase_reapply(s, &applied)) < 0) {
		log_error("serve: reapplying erasures: %s", ut_strerror(r));
		return r;
	}
	if (applied > 0)
		log_info("serve: reapplied %u erasure(s) before serving", applied);
	if ((r = srv_retention_run(s, ut_now_wall_ns())) < 0) {
		log_error("serve: retention: %s", ut_strerror(r));
		return r;
	}
	snprintf(host, sizeof(host), "%s", s->cfg.listen);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		if ((colon = strchr(host, ']')) != NULL)
			*colon = '\0';
	} else if ((colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	if ((r = tls_setup(s, *first, host)) < 0) {
		log_error("serve: TLS certificate %s / key %s: %s", s->cfg.tls_cert,
		    s->cfg.tls_key, ut_strerror(r));
		return r;
	}
	return 0;
}

static void
close_all(struct server *s)
{
	if (s->retention_started) {
		pthread_mutex_lock(&s->stop_lock);
		s->stopping = true;
		pthread_cond_broadcast(&s->stop_cond);
		pthread_mutex_unlock(&s->stop_lock);
		pthread_join(s->retention_thread, NULL);
	}
	/* No release after the transport is freed: it drains held answers. */
	if (s->audit != NULL)
		audit_set_notify(s->audit, NULL, NULL);
	http_server_stop(s->http);
	srv_sessions_close(s);
	srv_ctl_close(s);
	audit_close(s->audit);
	blob_close(s->blobs);
	meta_close(s->meta);
	keystore_close(s->ks);
}

int
server_run(const struct server_opts *o)
{
	struct server *s;
	struct http_server_opts ho;
	sigset_t set;
	char addr[160], tokpath[SRV_PATH_MAX], err[256];
	bool first = false;
	int r, sig;
	size_t n;

	if (o->data_dir == NULL || o->data_dir[0] == '\0')
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	/* Invariant (1): block before any thread exists. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	harden();
	json_set_alloc_funcs(malloc, wiping_free);

	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->shred_lock, NULL);
	pthread_mutex_init(&s->stop_lock, NULL);
	pthread_cond_init(&s->stop_cond, NULL);
	config_defaults(&s->cfg);
	n = strlen(o->data_dir);
	while (n > 1 && o->data_dir[n - 1] == '/')
		n--;
	if (n >= sizeof(s->data_dir)) {
		r = UT_ETOOBIG;
		goto out;
	}
	memcpy(s->data_dir, o->data_dir, n);
	if (o->config_path != NULL &&
	    (r = config_load(o->config_path, &s->cfg, err, sizeof(err))) < 0) {
		log_error("serve: config %s: %s", o->config_path, err);
		goto out;
	}
	if (o->listen != NULL)
		snprintf(s->cfg.listen, sizeof(s->cfg.listen), "%s", o->listen);
	for (n = 0; o->rotate_keys != NULL && o->rotate_keys[n] != NULL; n++) {
		if ((r = srv_rotate_parse(o->rotate_keys[n], &s->rotate)) < 0) {
			log_error("serve: --rotate-key: unknown key \"%s\" (receipt "
			    "or audit)", o->rotate_keys[n]);
			goto out;
		}
	}
	if ((r = open_all(s, o, &first)) < 0)
		goto out;
	tokpath[0] = '\0';
	if (first && (r = bootstrap_admin(s, tokpath, sizeof(tokpath))) < 0) {
		log_error("serve: creating the bootstrap admin: %s", ut_strerror(r));
		goto out;
	}
	memset(&ho, 0, sizeof(ho));
	ho.listen = s->cfg.listen;
	ho.cert_path = s->cfg.tls_cert;
	ho.key_path = s->cfg.tls_key;
	ho.threads = s->cfg.threads;
	ho.rate_per_s = s->cfg.rate_per_s;
	ho.rate_burst = s->cfg.rate_burst;
	ho.conn_limit = s->cfg.max_connections;
	ho.per_ip_conn_limit = s->cfg.max_connections_per_ip;
	ho.park_max = s->cfg.longpoll_max;
	ho.handler = http_handler;
	ho.body_cap = http_body_cap;
	ho.app = s;
	if ((r = http_server_start(&ho, &s->http)) < 0) {
		log_error("serve: cannot listen on %s: %s", s->cfg.listen, ut_strerror(r));
		goto out;
	}
	audit_set_notify(s->audit, srv_audit_release, s);
	if (pthread_create(&s->retention_thread, NULL, retention_main, s) == 0)
		s->retention_started = true;
	http_server_addr(s->http, addr, sizeof(addr));
	fprintf(o->out, "url https://%s\npin %s\n", addr, s->pin);
	if (first)
		fprintf(o->out, "admin-token-file %s\n", tokpath);
	fflush(o->out);
	log_info("serve: serving %s on https://%s", s->data_dir, addr);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_info("serve: stopping: draining requests in flight");
	r = 0;
out:
	close_all(s);
	pthread_mutex_destroy(&s->shred_lock);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_cond_destroy(&s->stop_cond);
	sodium_memzero(s, sizeof(*s));
	free(s);
	return r;
}

/*
 * For fuzzing and tests (server_test.h): the state server_run() builds,
 * without listening, signals, process hardening or the retention thread.
 */
int
srv_test_open(const char *data_dir, const char *config_path, struct server **out)
{
	struct server_opts o;
	struct server *s;
	char tokpath[SRV_PATH_MAX], err[256];
	bool first = false;
	int r;

	if (data_dir == NULL || strlen(data_dir) >= SRV_PATH_MAX || out == NULL)
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->shred_lock, NULL);
	pthread_mutex_init(&s->stop_lock, NULL);
	pthread_cond_init(&s->stop_cond, NULL);
	config_defaults(&s->cfg);
	snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
	if (config_path != NULL &&
	    (r = config_load(config_path, &s->cfg, err, sizeof(err))) < 0) {
		log_error("serve: config %s: %s", config_path, err);
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	o.data_dir = data_dir;
	if ((r = open_all(s, &o, &first)) < 0 ||
	    (first && (r = bootstrap_admin(s, tokpath, sizeof(tokpath))) < 0))
		goto fail;
	*out = s;
	return 0;
fail:
	srv_test_close(s);
	return r;
}

void
srv_test_close(struct server *s)
{
	if (s == NULL)
		return;
	close_all(s);
	pthread_mutex_destroy(&s->shred_lock);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_cond_destroy(&s->stop_cond);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

int
srv_test_config_load(const char *path, struct srv_config *c, char *err,
    size_t errsz)
{
	config_defaults(c);
	return config_load(path, c, err, errsz);
}
