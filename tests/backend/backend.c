/*
 * backend: the HTTP/1.1 server behind forklift in its integration tests, in
 * `make run`'s demo and for anyone trying the load balancer.  It shares no
 * code with forklift, so it can judge what the proxy sends it.  This file
 * owns the process: command line, listening socket, signals and the epoll
 * loop; backend_conn.c owns the connections.
 *
 * usage: backend [-Hhqv] [-a addr] [-i idle_ms] [-n name] [-p port]
 *                [-P portfile]
 *   -n NAME      server name, sent as X-Server and by /home (default backend)
 *   -a ADDR      address to listen on, IPv4 or IPv6 (default 127.0.0.1)
 *   -p PORT      port (default 0: the kernel picks one)
 *   -P PORTFILE  also write the port to PORTFILE (temporary file + rename)
 *   -H           hang mode: accept connections, read requests, never answer
 *   -i IDLE_MS   close a connection idle that long (default 300000)
 *   -q           quiet: log errors only (not start, stop, toggles)
 *   -v           log one line per request to stderr
 *
 * Once listening it prints one line to stdout, "listening on ADDR:PORT"
 * (IPv6 as [ADDR]:PORT).  SIGTERM and SIGINT end it with status 0; SIGUSR1
 * toggles a failing /heartbeat; SIGUSR2 toggles hang mode, which affects
 * connections accepted and request heads read from then on.
 *
 * Endpoints (any method; HEAD gets the same head without the body; a
 * request body is always read to its end before the answer):
 *   /home                   200 "Hello from server: NAME\n"
 *   /heartbeat              200 "ok\n", or 500 "failing\n"
 *   /control/heartbeat?fail=1|0   make /heartbeat fail or pass again
 *   /echo                   200, body = the request head exactly as read,
 *                           request line to the blank line included
 *   /bytes/N                N bytes (N <= 64 GiB), byte i = (i*31 + 7) % 251;
 *                           ?chunked=1 chunked (close-delimited to
 *                           HTTP/1.0), ?close=1 close-delimited
 *   /upload                 200 "bytes=N fnv1a64=HEX\n": FNV-1a 64 of the
 *                           body, 16 lowercase hex digits
 *   /status/CODE            that status (200-599), body "CODE REASON\n";
 *                           204 and 304 without a body
 *   /stats                  200 "accepted=A requests=R active=K\n":
 *                           connections accepted, responses begun (this
 *                           one included), connections open
 *   anything else           404
 * On any path ?delay=MS (<= 3600000) waits MS ms before answering, and
 * ?close=1 ends the connection after the response.  Expect: 100-continue is
 * answered with 100 Continue.  Malformed requests get 400 (or 417, 431, 501,
 * 505) and Connection: close.  Responses carry X-Server: NAME.
 *
 * Parsing is strict (RFC 9112): CRLF line ends, Host required in HTTP/1.1,
 * origin-form targets only, no Content-Length with Transfer-Encoding, only
 * the chunked coding.  HTTP/1.1 is keep-alive unless Connection: close;
 * HTTP/1.0 only with Connection: keep-alive.  Pipelined requests are
 * answered in order.  Bodies stream through bounded buffers both ways.
 * A connection idle for -i milliseconds is closed; after its last response
 * it is half-closed and read until EOF (2 s at most) so the response is not
 * lost to a reset.  Exit status: 0 on a signal, 1 if it cannot start, 2 on
 * a bad command line.
 *
 * By hand:
 *   backend -n app1 -p 9001 &
 *   curl -s 127.0.0.1:9001/bytes/1073741824 | wc -c
 *   curl -s -X POST -T FILE 127.0.0.1:9001/upload    (compare FNV-1a 64)
 *   wrk -c100 -d5s http://127.0.0.1:9001/home
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "tests/backend/backend.h"

/* listen(2) backlog. */
#define LISTEN_BACKLOG	4096
/* Events taken per epoll_wait, connections accepted per wake-up. */
#define EVENTS_MAX	256
#define ACCEPT_BATCH	256
/* Default and largest -i: a connection idle that long is closed. */
#define IDLE_DEFAULT_MS	300000
#define IDLE_MAX_MS	86400000
/* Pause of accept(2) after it ran out of descriptors or memory. */
#define ACCEPT_PAUSE_MS	100

struct bk_server	 bk_srv;

static int		 listen_fd = -1;
static int		 signal_fd = -1;
static int		 stop_signal;		/* SIGTERM or SIGINT seen */
static uint64_t		 idle_ms = IDLE_DEFAULT_MS;
static uint64_t		 accept_paused_until;	/* 0: accepting */
static int		 accept_failing;	/* logged, not yet recovered */

void
bk_log(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "backend %s: ", bk_srv.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);	/* nowhere to report a failure */
}

void
bk_fatal(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "backend %s: fatal: ", bk_srv.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);	/* nowhere to report a failure */
	exit(1);
}

static uint64_t
clock_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		bk_fatal("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: backend [-Hhqv] [-a addr] [-i idle_ms] [-n name] "
	    "[-p port] [-P portfile]\n"
	    "  -n NAME      server name for X-Server and /home "
	    "(default backend)\n"
	    "  -a ADDR      listen address, IPv4 or IPv6 (default 127.0.0.1)\n"
	    "  -p PORT      listen port (default 0: any free port)\n"
	    "  -P PORTFILE  also write the port to PORTFILE\n"
	    "  -H           hang: accept, read, never answer (SIGUSR2 "
	    "toggles)\n"
	    "  -i IDLE_MS   close connections idle that long "
	    "(default 300000)\n"
	    "  -q           log errors only\n"
	    "  -v           log every request\n"
	    "Prints \"listening on ADDR:PORT\" once listening.  "
	    "SIGTERM/SIGINT: exit 0;\n"
	    "SIGUSR1: toggle a failing /heartbeat.\n"
	    "Endpoints (HEAD: same head, no body):\n"
	    "  /home                  \"Hello from server: NAME\"\n"
	    "  /heartbeat             200 ok, or 500 when failing\n"
	    "  /control/heartbeat?fail=1|0\n"
	    "  /echo                  the request head as received\n"
	    "  /bytes/N               N bytes, byte i = (i*31 + 7) %% 251;\n"
	    "                         ?chunked=1 chunked, ?close=1 "
	    "close-delimited\n"
	    "  /upload                \"bytes=N fnv1a64=HEX\" of the body "
	    "(FNV-1a 64)\n"
	    "  /status/CODE           that status (200-599)\n"
	    "  /stats                 \"accepted=A requests=R active=K\"\n"
	    "Any path: ?delay=MS waits before answering, ?close=1 closes "
	    "after.\n");
	exit(status);
}

/* Reads the command line into bk_srv and the arguments. */
static void
options(int argc, char **argv, const char **addr, const char **port,
    const char **portfile)
{
	const char	*errstr;
	size_t		 i;
	int		 ch;

	strlcpy(bk_srv.name, "backend", sizeof(bk_srv.name));
	while ((ch = getopt(argc, argv, "a:Hhi:n:P:p:qv")) != -1) {
		switch (ch) {
		case 'a':
			*addr = optarg;
			break;
		case 'H':
			bk_srv.hang = 1;
			break;
		case 'h':
			usage(stdout, 0);
		case 'i':
			idle_ms = strtonum(optarg, 1, IDLE_MAX_MS, &errstr);
			if (errstr != NULL)
				bk_fatal("-i %s: %s", optarg, errstr);
			break;
		case 'n':
			/* a header value: visible ASCII only */
			for (i = 0; optarg[i] != '\0'; i++)
				if (optarg[i] <= ' ' || optarg[i] >= 0x7f)
					bk_fatal("-n: invalid name");
			if (i == 0 || strlcpy(bk_srv.name, optarg,
			    sizeof(bk_srv.name)) >= sizeof(bk_srv.name))
				bk_fatal("-n: 1 to %d characters", BK_NAME_MAX);
			break;
		case 'P':
			*portfile = optarg;
			break;
		case 'p':
			/* Only checked: the port is passed on as text. */
			(void)strtonum(optarg, 0, 65535, &errstr);
			if (errstr != NULL)
				bk_fatal("-p %s: %s", optarg, errstr);
			*port = optarg;
			break;
		case 'q':
			bk_srv.quiet = 1;
			break;
		case 'v':
			bk_srv.verbose = 1;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
}

/* Binds and listens on one of addr's addresses.  Returns the fd or -1. */
static int
listen_try(const struct addrinfo *ai)
{
	int	 fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Opens listen_fd on addr:port ("::1" or "[::1]" for IPv6) and puts the
 * address it got, as ADDR:PORT or [ADDR]:PORT, in name.  Exits on failure.
 */
static void
listen_open(const char *addr, const char *port, char *name, size_t namelen)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];
	size_t			 len = strlen(addr);
	int			 e;

	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		if (strlcpy(host, addr + 1, sizeof(host)) >= sizeof(host))
			bk_fatal("-a %s: too long", addr);
		host[len - 2] = '\0';
		addr = host;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(addr, port, &hints, &res)) != 0)
		bk_fatal("%s: %s", addr, gai_strerror(e));
	/* Zeroed: getsockname fills only the first sslen bytes. */
	memset(&ss, 0, sizeof(ss));
	errno = 0;
	for (ai = res; ai != NULL && listen_fd == -1; ai = ai->ai_next)
		listen_fd = listen_try(ai);
	freeaddrinfo(res);
	if (listen_fd == -1)
		bk_fatal("listen on %s port %s: %s", addr, port,
		    strerror(errno));
	if (getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) == -1)
		bk_fatal("getsockname: %s", strerror(errno));
	if ((e = getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)) != 0)
		bk_fatal("getnameinfo: %s", gai_strerror(e));
	snprintf(name, namelen, ss.ss_family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", host, serv);
}

/* Writes the listening port to path, atomically: a temporary, a rename. */
static void
portfile_write(const char *path, const char *name)
{
	char		 tmp[PATH_MAX], line[16];
	const char	*colon = strrchr(name, ':');
	int		 fd, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path,
	    (int)getpid()) >= sizeof(tmp))
		bk_fatal("-P %s: path too long", path);
	n = snprintf(line, sizeof(line), "%s\n", colon + 1);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		bk_fatal("open %s: %s", tmp, strerror(errno));
	if (write(fd, line, n) != n)
		bk_fatal("write %s: %s", tmp, strerror(errno));
	if (close(fd) == -1)
		bk_fatal("close %s: %s", tmp, strerror(errno));
	if (rename(tmp, path) == -1)
		bk_fatal("rename %s: %s", path, strerror(errno));
}

/*
 * Blocks the signals the loop handles and opens signal_fd for them; a
 * write to a closed connection must fail with EPIPE, not kill the server.
 */
static void
signals_open(void)
{
	struct sigaction	 sa;
	sigset_t		 set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		bk_fatal("sigaction: %s", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		bk_fatal("sigprocmask: %s", strerror(errno));
	if ((signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1)
		bk_fatal("signalfd: %s", strerror(errno));
}

static void
signals_read(void)
{
	struct signalfd_siginfo	 si;
	ssize_t			 n;

	while ((n = read(signal_fd, &si, sizeof(si))) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			bk_srv.failing = !bk_srv.failing;
			if (!bk_srv.quiet)
				bk_log("heartbeat %s", bk_srv.failing ?
				    "failing" : "ok");
			break;
		case SIGUSR2:
			bk_srv.hang = !bk_srv.hang;
			if (!bk_srv.quiet)
				bk_log("hang mode %s", bk_srv.hang ? "on" :
				    "off");
			break;
		default:
			stop_signal = (int)si.ssi_signo;
			break;
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		bk_fatal("read signalfd: %s", strerror(errno));
}

/* Raises the descriptor limit to what BK_MAX_CONNS needs, if allowed. */
static void
nofile_raise(void)
{
	struct rlimit	 rl;
	rlim_t		 want = BK_MAX_CONNS + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		bk_fatal("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		bk_log("setrlimit: %s", strerror(errno));
}

static void
ep_add(int fd, void *ptr)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = ptr;
	if (epoll_ctl(bk_srv.ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		bk_fatal("epoll_ctl: %s", strerror(errno));
}

/* Turns the listening socket's events on or off (an accept pause). */
static void
listen_events(uint32_t events)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = &listen_fd;
	if (epoll_ctl(bk_srv.ep, EPOLL_CTL_MOD, listen_fd, &ev) == -1)
		bk_fatal("epoll_ctl: %s", strerror(errno));
}

static void
accept_ready(void)
{
	int	 fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* out of fds or memory: pause rather than spin */
			if (!accept_failing)
				bk_log("accept: %s", strerror(errno));
			accept_failing = 1;
			listen_events(0);
			accept_paused_until = bk_srv.now + ACCEPT_PAUSE_MS;
			return;
		}
		accept_failing = 0;
		if (bk_srv.active >= BK_MAX_CONNS) {
			close(fd);
			continue;
		}
		bk_conn_new(fd);
	}
}

/* Milliseconds epoll_wait may sleep: until the next timer or sweep. */
static int
loop_timeout(uint64_t next_sweep)
{
	uint64_t	 until = next_sweep;

	if (bk_conn_pending())
		return 0;
	if (bk_conn_next_deadline() < until)
		until = bk_conn_next_deadline();
	if (accept_paused_until != 0 && accept_paused_until < until)
		until = accept_paused_until;
	return until > bk_srv.now ? (int)(until - bk_srv.now) : 0;
}

/* The event loop, until SIGTERM or SIGINT. */
static void
loop(void)
{
	struct epoll_event	 evs[EVENTS_MAX];
	uint64_t		 sweep_every, next_sweep;
	void			*p;
	int			 i, n;

	/* a quarter of the idle limit, between 10 ms and 1 s */
	sweep_every = idle_ms / 4;
	if (sweep_every > 1000)
		sweep_every = 1000;
	if (sweep_every < 10)
		sweep_every = 10;
	bk_srv.now = clock_ms();
	next_sweep = bk_srv.now + sweep_every;
	while (!stop_signal) {
		n = epoll_wait(bk_srv.ep, evs, EVENTS_MAX,
		    loop_timeout(next_sweep));
		if (n == -1 && errno != EINTR)
			bk_fatal("epoll_wait: %s", strerror(errno));
		bk_srv.now = clock_ms();
		for (i = 0; i < n; i++) {
			p = evs[i].data.ptr;
			if (p == &listen_fd)
				accept_ready();
			else if (p == &signal_fd)
				signals_read();
			else
				bk_conn_event(p, evs[i].events);
		}
		bk_conn_ready_run();
		bk_conn_timers_run();
		if (bk_srv.now >= next_sweep) {
			bk_conn_sweep(idle_ms);
			next_sweep = bk_srv.now + sweep_every;
		}
		if (accept_paused_until != 0 &&
		    bk_srv.now >= accept_paused_until) {
			accept_paused_until = 0;
			listen_events(EPOLLIN);
		}
	}
}

int
main(int argc, char **argv)
{
	const char	*addr = "127.0.0.1", *port = "0", *portfile = NULL;
	char		 name[NI_MAXHOST + 16];

	options(argc, argv, &addr, &port, &portfile);
	bk_pattern_init();
	signals_open();
	nofile_raise();
	listen_open(addr, port, name, sizeof(name));
	if ((bk_srv.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bk_fatal("epoll_create1: %s", strerror(errno));
	ep_add(listen_fd, &listen_fd);
	ep_add(signal_fd, &signal_fd);
	if (portfile != NULL)
		portfile_write(portfile, name);
	printf("listening on %s\n", name);
	if (fflush(stdout) == EOF)
		bk_log("stdout: %s", strerror(errno));
	if (!bk_srv.quiet)
		bk_log("started, pid %d%s", (int)getpid(), bk_srv.hang ?
		    ", hang mode" : "");
	loop();
	bk_conn_close_all();
	close(listen_fd);
	close(signal_fd);
	close(bk_srv.ep);
	if (!bk_srv.quiet)
		bk_log("stopped by %s", strsignal(stop_signal));
	return 0;
}
