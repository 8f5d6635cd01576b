/*
 * test_client.c - the HTTPS client against a real TLS 1.3 server.
 *
 * The test makes a self-signed ECDSA certificate with GnuTLS, computes its
 * public-key pin itself (SHA-256 of the DER SubjectPublicKeyInfo, GnuTLS,
 * not curl), and runs tls_server.py (beside this file: python3
 * http.server + ssl on 127.0.0.1, TLS 1.3 only) as a child.  The server
 * appends one line per request that reached a handler to hits.log, so a
 * case can show that a refused handshake never reached one.  Settings cases use a private
 * $USETRACE_HOME under the test's temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include "t.h"
#include "usetrace/client.h"
#include "usetrace/err.h"
#include "usetrace/fsio.h"
#include "usetrace/log.h"

static char tdir[256];
static char good_pin[80];
static char wrong_pin[80];
static char server_url[64];
static pid_t server_pid = -1;
static pid_t server12_pid = -1;


static void
path_in(char *out, size_t outsz, const char *name)
{
	T_ASSERT((size_t)snprintf(out, outsz, "%s/%s", tdir, name) < outsz);
}

static void
write_file(const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	path_in(path, sizeof(path), name);
	T_ASSERT((f = fopen(path, "w")) != NULL);
	T_ASSERT(fwrite(p, 1, n, f) == n);
	T_ASSERT(fclose(f) == 0);
}

/* Self-signed ECDSA P-256 certificate; pin = sha256 of its SPKI. */
static void
make_cert(void)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub;
	gnutls_datum_t d;
	unsigned char serial[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, h[32], rnd[32];
	char b64[48];
	time_t now = time(NULL);

	T_ASSERT(gnutls_x509_privkey_init(&key) == 0);
	T_ASSERT(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) == 0);
	T_ASSERT(gnutls_x509_crt_init(&crt) == 0);
	T_ASSERT(gnutls_x509_crt_set_version(crt, 3) == 0);
	T_ASSERT(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) == 0);
	T_ASSERT(gnutls_x509_crt_set_activation_time(crt, now - 3600) == 0);
	T_ASSERT(gnutls_x509_crt_set_expiration_time(crt, now + 86400) == 0);
	T_ASSERT(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, "usetrace test", 13) == 0);
	T_ASSERT(gnutls_x509_crt_set_key(crt, key) == 0);
	T_ASSERT(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) == 0);

	T_ASSERT(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) == 0);
	write_file("key.pem", d.data, d.size);
	gnutls_free(d.data);
	T_ASSERT(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) == 0);
	write_file("cert.pem", d.data, d.size);
	gnutls_free(d.data);

	T_ASSERT(gnutls_pubkey_init(&pub) == 0);
	T_ASSERT(gnutls_pubkey_import_x509(pub, crt, 0) == 0);
	T_ASSERT(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d) == 0);
	T_ASSERT(gnutls_hash_fast(GNUTLS_DIG_SHA256, d.data, d.size, h) == 0);
	gnutls_free(d.data);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(good_pin, sizeof(good_pin), "sha256//%s", b64);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2base64(b64, sizeof(b64), rnd, sizeof(rnd),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(wrong_pin, sizeof(wrong_pin), "sha256//%s", b64);

	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
teardown(void)
{
	if (server_pid > 0) {
		(void)kill(server_pid, SIGTERM);
		(void)waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	if (server12_pid > 0) {
		(void)kill(server12_pid, SIGTERM);
		(void)waitpid(server12_pid, NULL, 0);
		server12_pid = -1;
	}
	if (tdir[0] != '\0')
		(void)nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Starts server.py in mode ("tls13" or "tls12"); waits for the port it
 * writes to port_name and sets *pid and url.
 */
static void
start_server(const char *mode, const char *port_name, pid_t *pid, char *url,
    size_t urlsz)
{
	char script[512], port_path[512], logp[512], logn[32], buf[16];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	FILE *f = NULL;
	int i, fd;

	(void)snprintf(script, sizeof(script), "%s", TLS_SERVER_PY);
	path_in(port_path, sizeof(port_path), port_name);
	(void)snprintf(logn, sizeof(logn), "%s.log", mode);
	path_in(logp, sizeof(logp), logn);
	*pid = fork();
	T_ASSERT(*pid >= 0);
	if (*pid == 0) {
		fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
		}
		execlp("python3", "python3", script, tdir, mode, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if ((f = fopen(port_path, "r")) != NULL)
			break;
		T_ASSERT(waitpid(*pid, NULL, WNOHANG) == 0);
		nanosleep(&ts, NULL);
	}
	T_ASSERT(f != NULL);
	T_ASSERT(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	(void)snprintf(url, urlsz, "https://127.0.0.1:%d", atoi(buf));
}

/* Once per process: temp dir, certificate, server, a clean environment. */
static void
env_up(void)
{
	const char *base = getenv("TMPDIR");
	static const char *unset[] = { "USETRACE_SERVER", "USETRACE_TOKEN",
		"USETRACE_PIN", "https_proxy", "HTTPS_PROXY", "all_proxy",
		"ALL_PROXY" };
	char home[512];
	size_t i;

	if (server_pid > 0)
		return;
	T_ASSERT(sodium_init() >= 0);
	if (getenv("UT_TEST_DEBUG") != NULL)
		ut_log_set_level(UT_LOG_DEBUG);
	for (i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		unsetenv(unset[i]);
	(void)snprintf(tdir, sizeof(tdir), "%s/ut-client-XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	T_ASSERT(mkdtemp(tdir) != NULL);
	atexit(teardown);
	path_in(home, sizeof(home), "home");
	T_ASSERT(setenv("USETRACE_HOME", home, 1) == 0);
	make_cert();
	start_server("tls13", "port", &server_pid, server_url,
	    sizeof(server_url));
}

static void
cfg_make(struct client_cfg *c, const char *url, const char *pin,
    const char *token)
{
	memset(c, 0, sizeof(*c));
	(void)snprintf(c->url, sizeof(c->url), "%s", url);
	(void)snprintf(c->pin, sizeof(c->pin), "%s", pin);
	client_cfg_set_token(c, token);
	c->timeout_s = 10;
}

static long
hits(void)
{
	char path[512];
	long n = 0;
	FILE *f;
	int ch;

	path_in(path, sizeof(path), "hits.log");
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* A listening TCP socket on 127.0.0.1 that never accepts; *port set. */
static int
listener(int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_ASSERT((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
	T_ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	T_ASSERT(listen(fd, 4) == 0);
	T_ASSERT(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void
test_client_right_pin_gets_body(void)
{
	struct client_cfg c;
	struct client_resp r;

	env_up();
	cfg_make(&c, server_url, good_pin, "tok-right");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", "self-access", NULL,
	    NULL, 0, 4096, &r), 0);
	T_ASSERT_EQ(r.status, 200);
	T_ASSERT(r.body != NULL);
	T_ASSERT_EQ(r.len, strlen("{\"hello\":\"world\"}"));
	T_ASSERT_STREQ((const char *)r.body, "{\"hello\":\"world\"}");
	T_ASSERT_STREQ(r.content_type, "application/json");
	client_resp_free(&r);
	T_ASSERT(r.body == NULL);
	client_cfg_finish(&c);
	client_cfg_finish(NULL);
	client_resp_free(NULL);
}

static void
test_client_headers_arrive(void)
{
	struct client_cfg c;
	struct client_resp r;

	env_up();
	cfg_make(&c, server_url, good_pin, "tok-ABC_123.xyz");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/headers", "self-access",
	    NULL, NULL, 0, 4096, &r), 0);
	T_ASSERT_EQ(r.status, 200);
	T_ASSERT(strstr((const char *)r.body,
	    "\"Authorization\": \"Bearer tok-ABC_123.xyz\"") != NULL);
	T_ASSERT(strstr((const char *)r.body,
	    "\"Usetrace-Purpose\": \"self-access\"") != NULL);
	client_resp_free(&r);

	/* No token, no purpose: neither header is sent. */
	client_cfg_set_token(&c, NULL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/headers", NULL, NULL, NULL,
	    0, 4096, &r), 0);
	T_ASSERT(strstr((const char *)r.body, "\"Authorization\": \"\"") != NULL);
	T_ASSERT(strstr((const char *)r.body,
	    "\"Usetrace-Purpose\": \"\"") != NULL);
	client_resp_free(&r);
	client_cfg_finish(&c);
}

static void
test_client_post_body_and_type(void)
{
	static const char doc[] = "{\"a\":1}";
	struct client_cfg c;
	struct client_resp r;

	env_up();
	cfg_make(&c, server_url, good_pin, "tok");
	T_ASSERT_EQ(client_request(&c, "POST", "/v1/echo", "ingest",
	    "application/json", doc, strlen(doc), 4096, &r), 0);
	T_ASSERT_EQ(r.status, 201);
	T_ASSERT_EQ(r.len, strlen(doc));
	T_ASSERT(memcmp(r.body, doc, r.len) == 0);
	T_ASSERT_STREQ(r.content_type, "application/json");
	client_resp_free(&r);

	/* Without a type curl must not invent a form type. */
	T_ASSERT_EQ(client_request(&c, "PUT", "/v1/echo", "ingest", NULL,
	    doc, strlen(doc), 4096, &r), 0);
	T_ASSERT_EQ(r.status, 201);
	T_ASSERT_STREQ(r.content_type, "none");
	client_resp_free(&r);
	client_cfg_finish(&c);
}

static void
test_client_wrong_pin_refused(void)
{
	struct client_cfg c;
	struct client_resp r;
	long before;

	env_up();
	before = hits();
	cfg_make(&c, server_url, wrong_pin, "tok-wrong");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", "self-access", NULL,
	    NULL, 0, 4096, &r), UT_ECRYPTO);
	T_ASSERT_EQ(r.status, 0);
	T_ASSERT(r.body == NULL);
	client_resp_free(&r);
	/* Let a handler that would run get there, then count. */
	usleep(200 * 1000);
	T_ASSERT_EQ(hits(), before);
	client_cfg_finish(&c);
}

static void
test_client_empty_pin_never_connects(void)
{
	struct client_cfg c;
	struct client_resp r;
	char url[64];
	int lfd, port, fd;

	env_up();
	lfd = listener(&port);
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	cfg_make(&c, url, "", "tok");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_EINVAL);
	/* A malformed pin is no pin either. */
	(void)snprintf(c.pin, sizeof(c.pin), "sha256//short");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_EINVAL);
	usleep(100 * 1000);
	fd = accept(lfd, NULL, NULL);
	T_ASSERT(fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	close(lfd);
	client_cfg_finish(&c);
}

static void
test_client_second_pin_matches(void)
{
	struct client_cfg c;
	struct client_resp r;
	char pins[CLIENT_PIN_MAX];

	env_up();
	(void)snprintf(pins, sizeof(pins), "%s;%s", wrong_pin, good_pin);
	cfg_make(&c, server_url, pins, NULL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), 0);
	T_ASSERT_EQ(r.status, 200);
	client_resp_free(&r);

	/* Two wrong pins: refused. */
	(void)snprintf(pins, sizeof(pins), "%s;%s", wrong_pin, wrong_pin);
	(void)snprintf(c.pin, sizeof(c.pin), "%s", pins);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_ECRYPTO);
	client_cfg_finish(&c);
}

static void
test_client_body_over_cap(void)
{
	struct client_cfg c;
	struct client_resp r;

	env_up();
	cfg_make(&c, server_url, good_pin, NULL);
	/* With a Content-Length. */
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/big/1000", NULL, NULL, NULL,
	    0, 999, &r), UT_ETOOBIG);
	T_ASSERT(r.body == NULL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/big/1000", NULL, NULL, NULL,
	    0, 1000, &r), 0);
	T_ASSERT_EQ(r.len, 1000);
	T_ASSERT_EQ(r.body[999], 'x');
	T_ASSERT_EQ(r.body[1000], '\0');
	client_resp_free(&r);
	/* Without one: the write callback stops it. */
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/stream/100000", NULL, NULL,
	    NULL, 0, 99999, &r), UT_ETOOBIG);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/stream/100000", NULL, NULL,
	    NULL, 0, 100000, &r), 0);
	T_ASSERT_EQ(r.len, 100000);
	client_resp_free(&r);
	client_cfg_finish(&c);
}

/*
 * A body that ends with the connection but without TLS close_notify may
 * have been cut short by someone on the path: it is not a response.
 */
static void
test_client_truncated_body_refused(void)
{
	struct client_cfg c;
	struct client_resp r;

	env_up();
	cfg_make(&c, server_url, good_pin, NULL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/cut/1000", NULL, NULL, NULL,
	    0, 4096, &r), -EIO);
	T_ASSERT(r.body == NULL);
	client_cfg_finish(&c);
}

/* TLS 1.3 only: a server that offers at most 1.2 is refused. */
static void
test_client_tls12_server_refused(void)
{
	struct client_cfg c;
	struct client_resp r;
	char url[64];
	long before;

	env_up();
	start_server("tls12", "port12", &server12_pid, url, sizeof(url));
	before = hits();
	cfg_make(&c, url, good_pin, "tok");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_ECRYPTO);
	usleep(200 * 1000);
	T_ASSERT_EQ(hits(), before);
	client_cfg_finish(&c);
}

static void
test_client_connection_refused(void)
{
	struct client_cfg c;
	struct client_resp r;
	char url[64];
	int lfd, port;

	env_up();
	lfd = listener(&port);
	close(lfd);	/* nothing listens there now */
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	cfg_make(&c, url, good_pin, NULL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), -ECONNREFUSED);
	client_cfg_finish(&c);
}

static void
test_client_silent_server_times_out(void)
{
	struct client_cfg c;
	struct client_resp r;
	char url[64];
	int lfd, port;

	env_up();
	lfd = listener(&port);	/* accepts in the kernel, never answers */
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	cfg_make(&c, url, good_pin, NULL);
	c.timeout_s = 1;
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), -ETIMEDOUT);
	close(lfd);
	client_cfg_finish(&c);
}

static void
test_client_bad_request_args(void)
{
	struct client_cfg c;
	struct client_resp r;

	env_up();
	cfg_make(&c, server_url, good_pin, "tok");
	T_ASSERT_EQ(client_request(&c, "GET", "v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_EINVAL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/x\r\nX-Evil: 1", NULL, NULL,
	    NULL, 0, 4096, &r), UT_EINVAL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", "a\r\nX: y", NULL,
	    NULL, 0, 4096, &r), UT_EINVAL);
	T_ASSERT_EQ(client_request(&c, "get", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_EINVAL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, "b", 1,
	    4096, &r), UT_EINVAL);
	client_cfg_set_token(&c, "tok\r\nX-Evil: 1");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_EINVAL);
	/* A plain-http URL filled in by hand is refused too. */
	client_cfg_set_token(&c, "tok");
	(void)snprintf(c.url, sizeof(c.url), "http://127.0.0.1:1");
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/hello", NULL, NULL, NULL, 0,
	    4096, &r), UT_EINVAL);
	client_cfg_finish(&c);
}

static void
test_client_resp_error(void)
{
	struct client_cfg c;
	struct client_resp r;
	char code[32], msg[64];

	env_up();
	cfg_make(&c, server_url, good_pin, NULL);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/denied", NULL, NULL, NULL,
	    0, 4096, &r), 0);
	T_ASSERT_EQ(r.status, 403);
	client_resp_error(&r, code, sizeof(code), msg, sizeof(msg));
	T_ASSERT_STREQ(code, "denied");
	T_ASSERT_STREQ(msg, "no?[31m access");	/* the ESC is defused */
	client_resp_error(&r, code, 4, msg, 3);
	T_ASSERT_STREQ(code, "den");
	T_ASSERT_STREQ(msg, "no");
	client_resp_free(&r);
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/nothing", NULL, NULL, NULL,
	    0, 4096, &r), 0);
	T_ASSERT_EQ(r.status, 404);
	client_resp_error(&r, code, sizeof(code), msg, sizeof(msg));
	T_ASSERT_STREQ(code, "");
	T_ASSERT_STREQ(msg, "");
	client_resp_free(&r);
	client_resp_error(NULL, code, sizeof(code), msg, sizeof(msg));
	T_ASSERT_STREQ(code, "");
	client_cfg_finish(&c);
}

static void
test_client_resolve_refuses_http(void)
{
	struct client_cfg c;
	const char *what = NULL;

	env_up();
	T_ASSERT_EQ(client_cfg_resolve(&c, "http://127.0.0.1:8443", "t",
	    good_pin, true, &what), UT_EPARSE);
	T_ASSERT_STREQ(what, "server");
	T_ASSERT(c.token == NULL);
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://", "t", good_pin, true,
	    &what), UT_EPARSE);
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://a b", "t", good_pin, true,
	    &what), UT_EPARSE);
	what = NULL;
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://h:1", "t",
	    "sha256//tooshort", true, &what), UT_EPARSE);
	T_ASSERT_STREQ(what, "pin");
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://h:1", "t", "md5//x", true,
	    &what), UT_EPARSE);
	what = NULL;
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://h:1", "t t", good_pin,
	    true, &what), UT_EPARSE);
	T_ASSERT_STREQ(what, "token");

	/* A trailing '/' goes; two pins are fine, three are not. */
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://h:1/", "t", good_pin, true,
	    &what), 0);
	T_ASSERT_STREQ(c.url, "https://h:1");
	T_ASSERT_STREQ(c.token, "t");
	T_ASSERT_EQ(c.timeout_s, 0);
	client_cfg_finish(&c);
	{
		char pins[CLIENT_PIN_MAX];

		(void)snprintf(pins, sizeof(pins), "%s;%s", good_pin,
		    wrong_pin);
		T_ASSERT_EQ(client_cfg_resolve(&c, "https://h:1", NULL, pins,
		    false, &what), 0);
		T_ASSERT(c.token == NULL);
		client_cfg_finish(&c);
		(void)snprintf(pins, sizeof(pins), "%s;%s;%s", good_pin,
		    wrong_pin, good_pin);
		T_ASSERT_EQ(client_cfg_resolve(&c, "https://h:1", NULL, pins,
		    false, &what), UT_EPARSE);
	}
}

static void
save_login(const char *url, const char *pin, const char *token)
{
	struct client_cfg c;

	cfg_make(&c, url, pin, token);
	T_ASSERT_EQ(client_login_save(&c), 0);
	client_cfg_finish(&c);
}

static void
test_client_resolve_precedence(void)
{
	char pins[CLIENT_PIN_MAX], path[600];
	struct client_cfg c;
	const char *what = NULL;
	struct stat st;

	env_up();
	(void)snprintf(pins, sizeof(pins), "%s;%s", wrong_pin, good_pin);

	/* Nothing anywhere. */
	path_in(path, sizeof(path), "home/login.json");
	(void)unlink(path);
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, false, &what),
	    UT_ENOTFOUND);
	T_ASSERT_STREQ(what, "server");

	/* The saved login. */
	save_login("https://saved:1", good_pin, "tok-saved");
	T_ASSERT_EQ(stat(path, &st), 0);
	T_ASSERT_EQ(st.st_mode & 0777, 0600);
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, true, &what), 0);
	T_ASSERT_STREQ(c.url, "https://saved:1");
	T_ASSERT_STREQ(c.pin, good_pin);
	T_ASSERT_STREQ(c.token, "tok-saved");
	client_cfg_finish(&c);

	/* The saved token goes only to the saved server. */
	T_ASSERT_EQ(setenv("USETRACE_SERVER", "https://elsewhere:9", 1), 0);
	what = NULL;
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, true, &what),
	    UT_ENOTFOUND);
	T_ASSERT_STREQ(what, "token");
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://saved:1/", NULL, NULL,
	    true, &what), 0);
	T_ASSERT_STREQ(c.token, "tok-saved");
	client_cfg_finish(&c);

	/* The environment beats it, field by field. */
	T_ASSERT_EQ(setenv("USETRACE_SERVER", "https://env:2/", 1), 0);
	T_ASSERT_EQ(setenv("USETRACE_TOKEN", "tok-env", 1), 0);
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, true, &what), 0);
	T_ASSERT_STREQ(c.url, "https://env:2");
	T_ASSERT_STREQ(c.pin, good_pin);	/* still the saved one */
	T_ASSERT_STREQ(c.token, "tok-env");
	client_cfg_finish(&c);
	T_ASSERT_EQ(setenv("USETRACE_PIN", pins, 1), 0);

	/* Options beat the environment. */
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://flag:3", "tok-flag",
	    wrong_pin, true, &what), 0);
	T_ASSERT_STREQ(c.url, "https://flag:3");
	T_ASSERT_STREQ(c.pin, wrong_pin);
	T_ASSERT_STREQ(c.token, "tok-flag");
	client_cfg_finish(&c);
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://flag:3", NULL, NULL, true,
	    &what), 0);
	T_ASSERT_STREQ(c.pin, pins);
	T_ASSERT_STREQ(c.token, "tok-env");
	client_cfg_finish(&c);
	unsetenv("USETRACE_SERVER");
	unsetenv("USETRACE_TOKEN");
	unsetenv("USETRACE_PIN");

	/* A login without a token: need_token says which is missing. */
	save_login("https://saved:1", good_pin, NULL);
	what = NULL;
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, true, &what),
	    UT_ENOTFOUND);
	T_ASSERT_STREQ(what, "token");
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, false, &what), 0);
	T_ASSERT(c.token == NULL);
	client_cfg_finish(&c);

	/* A damaged login is an error only when it is needed. */
	{
		FILE *f = fopen(path, "w");

		T_ASSERT(f != NULL);
		fputs("{\"url\": 5", f);
		fclose(f);
	}
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, false, &what),
	    UT_EPARSE);
	T_ASSERT_STREQ(what, "login");
	T_ASSERT_EQ(client_cfg_resolve(&c, "https://f:1", "t", good_pin, true,
	    &what), 0);
	client_cfg_finish(&c);
	T_ASSERT_EQ(unlink(path), 0);
}

/* A save that fails part-way leaves the previous login as it was. */
static void
test_client_login_save_failure_keeps_old(void)
{
	struct client_cfg c;
	const char *what;
	char path[600];
	static const enum fsio_op ops[] = { FSIO_OPEN, FSIO_WRITE, FSIO_FSYNC,
		FSIO_RENAME };
	size_t i;

	env_up();
	path_in(path, sizeof(path), "home/login.json.tmp");
	save_login("https://old:1", good_pin, "tok-old");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		cfg_make(&c, "https://new:2", wrong_pin, "tok-new");
		fsio_fault_arm(ops[i], 1, FSIO_FAULT_EIO);
		T_ASSERT_EQ(client_login_save(&c), -EIO);
		fsio_fault_clear();
		client_cfg_finish(&c);
		T_ASSERT(access(path, F_OK) != 0);	/* no temp left */
		T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, true,
		    &what), 0);
		T_ASSERT_STREQ(c.url, "https://old:1");
		T_ASSERT_STREQ(c.token, "tok-old");
		client_cfg_finish(&c);
	}
	/* A value resolve would refuse is not saved either. */
	cfg_make(&c, "http://new:2", good_pin, NULL);
	T_ASSERT_EQ(client_login_save(&c), UT_EINVAL);
	client_cfg_finish(&c);
}

static void
test_client_saved_login_works(void)
{
	struct client_cfg c;
	struct client_resp r;
	const char *what;

	env_up();
	save_login(server_url, good_pin, "tok-saved");
	T_ASSERT_EQ(client_cfg_resolve(&c, NULL, NULL, NULL, true, &what), 0);
	c.timeout_s = 10;
	T_ASSERT_EQ(client_request(&c, "GET", "/v1/headers", "audit", NULL,
	    NULL, 0, 4096, &r), 0);
	T_ASSERT(strstr((const char *)r.body, "Bearer tok-saved") != NULL);
	client_resp_free(&r);
	client_cfg_finish(&c);
}

T_LIST(T_CASE(test_client_right_pin_gets_body),
    T_CASE(test_client_headers_arrive),
    T_CASE(test_client_post_body_and_type),
    T_CASE(test_client_wrong_pin_refused),
    T_CASE(test_client_empty_pin_never_connects),
    T_CASE(test_client_second_pin_matches),
    T_CASE(test_client_body_over_cap),
    T_CASE(test_client_truncated_body_refused),
    T_CASE(test_client_tls12_server_refused),
    T_CASE(test_client_connection_refused),
    T_CASE(test_client_silent_server_times_out),
    T_CASE(test_client_bad_request_args),
    T_CASE(test_client_resp_error),
    T_CASE(test_client_resolve_refuses_http),
    T_CASE(test_client_resolve_precedence),
    T_CASE(test_client_login_save_failure_keeps_old),
    T_CASE(test_client_saved_login_works))
