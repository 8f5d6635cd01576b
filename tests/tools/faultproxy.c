/*
 * faultproxy.c - `ut-faultproxy`: a TCP proxy that breaks connections on
 * purpose, for tests of what clients and the server do when the network
 * fails.  It forwards bytes (TLS stays end to end, so the pin still holds)
 * and, per accepted connection, applies the next fault of a list:
 *
 *   reset@N   after N bytes (counted in --direction) have been forwarded,
 *             both sockets are closed with SO_LINGER 0: a real RST
 *   pass      no fault
 *
 * Connections past the end of the list pass, unless --reset-random gives
 * each one a reset at a random offset below --random-max.  --stall-ms and
 * --slow-read apply to every connection.  To add a fault kind (issue 15: a
 * 5xx answer, a server restart), add an enum fault_kind value, parse it in
 * parse_fault() and act on it in conn_limit() / conn_step().
 *
 * One thread, poll(2).  Invariants:
 *  (1) A direction never reads more than it may forward before its next
 *      fault point, so the byte at offset N is never sent when the fault
 *      is at N.
 *  (2) A reset happens only once every byte before the fault point has
 *      been written to its destination.
 *  (3) A direction whose source reached EOF shuts down the write side of
 *      its destination once its buffer is drained (half-close).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 64
#define FAULTS_MAX 256
#define BUF_LEN 16384
#define NONE UINT64_MAX

enum fault_kind { F_PASS = 0, F_RESET };

struct fault {
	enum fault_kind kind;
	uint64_t at;              /* bytes (per --direction) */
};

enum { DIR_UP = 1, DIR_DOWN = 2, DIR_BOTH = 3 };

/* One direction: bytes from src to dst through buf. */
struct pipe_ {
	int src, dst;
	uint8_t buf[BUF_LEN];
	size_t len, off;
	bool eof, shut;
	uint64_t moved;           /* bytes written to dst */
	uint64_t read_;           /* bytes read from src */
	int64_t next_ok_ns;       /* --slow-read: no read before this */
};

struct conn {
	bool used;
	unsigned no;              /* 1-based accept order */
	struct fault f;
	struct pipe_ p[2];        /* [0] up: client->server, [1] down */
	bool stalled_done;
	int64_t stall_until_ns;
};

static struct {
	struct fault list[FAULTS_MAX];
	unsigned nlist;
	bool random;
	uint64_t rng, random_max;
	uint64_t stall_ms, stall_at;
	bool stall;
	uint64_t slow_bps;
	int dir;
	const char *to_host, *to_port;
} cfg = { .random_max = 65536, .stall_at = NONE, .dir = DIR_BOTH };

static struct conn conns[CONNS_MAX];
static unsigned accepted;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
rnd(void)
{
	uint64_t z = (cfg.rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ut-faultproxy --listen HOST:PORT --to HOST:PORT\n"
	    "           [--reset-after N[,N|pass...] | --reset-random SEED]\n"
	    "           [--random-max BYTES] [--stall-ms MS@BYTES]\n"
	    "           [--slow-read BPS] [--direction up|down|both]\n\n"
	    "Forwards TCP connections from --listen to --to (TLS passes through\n"
	    "untouched) and breaks them on purpose.  Prints 'listen HOST:PORT'\n"
	    "when ready (--listen 127.0.0.1:0 picks a free port) and one line\n"
	    "per connection on stderr: 'conn N pass|reset up=U down=D'.\n\n"
	    "options:\n"
	    "  --reset-after LIST  connection i gets item i: N = reset (RST,\n"
	    "                      SO_LINGER 0) once N bytes have been forwarded,\n"
	    "                      'pass' = no fault; later connections pass\n"
	    "  --reset-random SEED every connection is reset at a random offset\n"
	    "                      in 0 .. --random-max - 1 (default 65536)\n"
	    "  --stall-ms MS@BYTES every connection stops forwarding for MS ms\n"
	    "                      once BYTES have been forwarded\n"
	    "  --slow-read BPS     read from each source at most BPS bytes/s\n"
	    "  --direction D       which bytes count for offsets and slow\n"
	    "                      reads: up (client to server), down, or both\n"
	    "                      (default; the sum of both)\n"
	    "  -h, --help\n");
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
parse_fault(const char *s, struct fault *f)
{
	if (strcmp(s, "pass") == 0) {
		f->kind = F_PASS;
		return 0;
	}
	f->kind = F_RESET;
	return parse_u64(s, &f->at);
}

static int
parse_list(char *s)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (cfg.nlist == FAULTS_MAX ||
		    parse_fault(tok, &cfg.list[cfg.nlist]) < 0)
			return -1;
		cfg.nlist++;
	}
	return cfg.nlist > 0 ? 0 : -1;
}

/* "HOST:PORT" split in place at the last colon. */
static int
split_hostport(char *s, const char **host, const char **port)
{
	char *c = strrchr(s, ':');

	if (c == NULL || c == s || c[1] == '\0')
		return -1;
	*c = '\0';
	*host = s;
	*port = c + 1;
	return 0;
}

static int
tcp_socket(const char *host, const char *port, bool listen_, char *bound,
    size_t boundsz)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = listen_ ? AI_PASSIVE : 0;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (listen_) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    listen(fd, 64) == 0)
				break;
		} else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			break;
		}
		close(fd);
		fd = -1;
	}
	if (fd >= 0 && listen_) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char h[NI_MAXHOST], p[NI_MAXSERV];

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p,
		    sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			close(fd);
			fd = -1;
		} else {
			snprintf(bound, boundsz, "%s:%s", h, p);
		}
	}
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	freeaddrinfo(res);
	return fd;
}

/* The bytes that count for offsets: up, down or both. */
static uint64_t
counted(const struct conn *c, bool moved)
{
	uint64_t up = moved ? c->p[0].moved : c->p[0].read_;
	uint64_t down = moved ? c->p[1].moved : c->p[1].read_;

	return (cfg.dir & DIR_UP ? up : 0) + (cfg.dir & DIR_DOWN ? down : 0);
}

/* The next point (counted bytes) where something happens, or NONE. */
static uint64_t
next_point(const struct conn *c)
{
	uint64_t n = NONE, done = counted(c, false);

	if (c->f.kind == F_RESET && c->f.at >= done)
		n = c->f.at;
	if (cfg.stall && !c->stalled_done && cfg.stall_at >= done &&
	    cfg.stall_at < n)
		n = cfg.stall_at;
	return n;
}

/* How many bytes direction d may read now (invariant 1). */
static size_t
conn_limit(const struct conn *c, int d)
{
	uint64_t pt = next_point(c), done = counted(c, false);
	size_t room = BUF_LEN - c->p[d].len;

	if (!(cfg.dir & (d == 0 ? DIR_UP : DIR_DOWN)))
		return room;
	if (pt != NONE && pt - done < room)
		room = (size_t)(pt - done);
	if (cfg.slow_bps > 0 && room > cfg.slow_bps / 10 + 1)
		room = (size_t)(cfg.slow_bps / 10 + 1);
	return room;
}

static void
conn_close(struct conn *c, bool reset)
{
	struct linger lg = { 1, 0 };
	int i;

	for (i = 0; i < 2; i++) {
		int fd = c->p[i].src;

		if (fd < 0)
			continue;
		if (reset)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	fprintf(stderr, "conn %u %s up=%" PRIu64 " down=%" PRIu64 "\n", c->no,
	    reset ? "reset" : "pass", c->p[0].moved, c->p[1].moved);
	memset(c, 0, sizeof(*c));
}

static void
conn_accept(int lfd)
{
	struct conn *c = NULL;
	int cfd, sfd, i, one = 1;

	if ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	for (i = 0; i < CONNS_MAX && c == NULL; i++)
		if (!conns[i].used)
			c = &conns[i];
	if (c == NULL || (sfd = tcp_socket(cfg.to_host, cfg.to_port, false,
	    NULL, 0)) < 0) {
		fprintf(stderr, "ut-faultproxy: cannot take or forward a "
		    "connection\n");
		close(cfd);
		return;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->no = ++accepted;
	if (c->no <= cfg.nlist) {
		c->f = cfg.list[c->no - 1];
	} else if (cfg.random) {
		c->f.kind = F_RESET;
		c->f.at = rnd() % cfg.random_max;
	}
	c->p[0].src = cfd;
	c->p[0].dst = sfd;
	c->p[1].src = sfd;
	c->p[1].dst = cfd;
}

/*
 * Acts on c after I/O: a reset or stall due now (once everything before
 * it is written: invariant 2), half-closes (invariant 3), the end.
 */
static void
conn_step(struct conn *c, int64_t now)
{
	uint64_t moved = counted(c, true), done = counted(c, false);
	int d;

	if (moved == done && c->f.kind == F_RESET && moved >= c->f.at) {
		conn_close(c, true);
		return;
	}
	if (cfg.stall && !c->stalled_done && moved == done &&
	    moved >= cfg.stall_at) {
		c->stalled_done = true;
		c->stall_until_ns = now + (int64_t)cfg.stall_ms * 1000000;
	}
	for (d = 0; d < 2; d++) {
		struct pipe_ *p = &c->p[d];

		if (p->eof && p->len == 0 && !p->shut) {
			shutdown(p->dst, SHUT_WR);
			p->shut = true;
		}
	}
	if (c->p[0].shut && c->p[1].shut)
		conn_close(c, false);
}

static void
pipe_io(struct conn *c, int d, short rev_src, short rev_dst, int64_t now)
{
	struct pipe_ *p = &c->p[d];
	size_t lim;
	ssize_t n;

	if ((rev_dst & POLLOUT) && p->len > 0) {
		n = write(p->dst, p->buf + p->off, p->len);
		if (n > 0) {
			p->off += (size_t)n;
			p->len -= (size_t)n;
			p->moved += (uint64_t)n;
			if (p->len == 0)
				p->off = 0;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			p->eof = true;
			p->len = 0;
		}
	}
	if ((rev_src & (POLLIN | POLLHUP | POLLERR)) && !p->eof && p->len == 0 &&
	    now >= p->next_ok_ns && now >= c->stall_until_ns &&
	    (lim = conn_limit(c, d)) > 0) {
		n = read(p->src, p->buf, lim);
		if (n > 0) {
			p->len = (size_t)n;
			p->read_ += (uint64_t)n;
			if (cfg.slow_bps > 0 &&
			    (cfg.dir & (d == 0 ? DIR_UP : DIR_DOWN)))
				p->next_ok_ns = now + (int64_t)((uint64_t)n *
				    1000000000ull / cfg.slow_bps);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			p->eof = true;
		}
	}
}

static int
run(int lfd)
{
	struct pollfd pf[1 + 2 * CONNS_MAX];
	int idx[CONNS_MAX], i, n, timeout;
	int64_t now, wake;

	while (!stop) {
		now = now_ns();
		wake = INT64_MAX;
		pf[0].fd = lfd;
		pf[0].events = POLLIN;
		n = 1;
		for (i = 0; i < CONNS_MAX; i++) {
			struct conn *c = &conns[i];
			int d;

			idx[i] = -1;
			if (!c->used)
				continue;
			idx[i] = n;
			for (d = 0; d < 2; d++) {
				struct pipe_ *p = &c->p[d];
				bool want = !p->eof && p->len == 0 &&
				    conn_limit(c, d) > 0;
				int64_t at = p->next_ok_ns > c->stall_until_ns ?
				    p->next_ok_ns : c->stall_until_ns;

				if (want && at > now) {
					want = false;
					if (at < wake)
						wake = at;
				}
				pf[n + d].fd = p->src;
				pf[n + d].events = (short)(want ? POLLIN : 0) |
				    (short)(c->p[1 - d].len > 0 ? POLLOUT : 0);
				pf[n + d].revents = 0;
			}
			n += 2;
		}
		timeout = wake == INT64_MAX ? 1000 :
		    (int)((wake - now) / 1000000 + 1);
		if (poll(pf, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("ut-faultproxy: poll");
			return 1;
		}
		now = now_ns();
		for (i = 0; i < CONNS_MAX; i++) {
			struct conn *c = &conns[i];
			int k = idx[i];

			if (k < 0 || !c->used)
				continue;
			/* pf[k]: client fd (up src, down dst), pf[k+1]: server. */
			pipe_io(c, 0, pf[k].revents, pf[k + 1].revents, now);
			pipe_io(c, 1, pf[k + 1].revents, pf[k].revents, now);
			conn_step(c, now);
		}
		if (pf[0].revents & POLLIN)
			conn_accept(lfd);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "reset-after", required_argument, NULL, 'r' },
		{ "reset-random", required_argument, NULL, 'R' },
		{ "random-max", required_argument, NULL, 'M' },
		{ "stall-ms", required_argument, NULL, 's' },
		{ "slow-read", required_argument, NULL, 'S' },
		{ "direction", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *lhost = NULL, *lport = NULL;
	char *listen_arg = NULL, *to_arg = NULL, *at;
	char bound[NI_MAXHOST + NI_MAXSERV + 2];
	struct sigaction sa;
	int ch, lfd;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_arg = optarg; break;
		case 't': to_arg = optarg; break;
		case 'r':
			if (parse_list(optarg) < 0)
				goto bad;
			break;
		case 'R':
			if (parse_u64(optarg, &cfg.rng) < 0)
				goto bad;
			cfg.random = true;
			break;
		case 'M':
			if (parse_u64(optarg, &cfg.random_max) < 0 ||
			    cfg.random_max == 0)
				goto bad;
			break;
		case 's':
			if ((at = strchr(optarg, '@')) == NULL)
				goto bad;
			*at = '\0';
			if (parse_u64(optarg, &cfg.stall_ms) < 0 ||
			    parse_u64(at + 1, &cfg.stall_at) < 0)
				goto bad;
			cfg.stall = true;
			break;
		case 'S':
			if (parse_u64(optarg, &cfg.slow_bps) < 0 || cfg.slow_bps == 0)
				goto bad;
			break;
		case 'd':
			if (strcmp(optarg, "up") == 0)
				cfg.dir = DIR_UP;
			else if (strcmp(optarg, "down") == 0)
				cfg.dir = DIR_DOWN;
			else if (strcmp(optarg, "both") == 0)
				cfg.dir = DIR_BOTH;
			else
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || listen_arg == NULL || to_arg == NULL ||
	    split_hostport(listen_arg, &lhost, &lport) < 0 ||
	    split_hostport(to_arg, &cfg.to_host, &cfg.to_port) < 0) {
		fprintf(stderr, "ut-faultproxy: --listen HOST:PORT and --to "
		    "HOST:PORT are required\n");
		usage(stderr);
		return 2;
	}
	if (cfg.random && cfg.nlist > 0) {
		fprintf(stderr, "ut-faultproxy: --reset-after or --reset-random, "
		    "not both\n");
		return 2;
	}
	if ((lfd = tcp_socket(lhost, lport, true, bound, sizeof(bound))) < 0) {
		fprintf(stderr, "ut-faultproxy: cannot listen on %s:%s: %s\n",
		    lhost, lport, strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("listen %s\n", bound);
	fflush(stdout);
	return run(lfd);
bad:
	fprintf(stderr, "ut-faultproxy: bad value for '%s'\n", argv[optind - 1]);
	usage(stderr);
	return 2;
}
