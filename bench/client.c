/*
 * bench/client.c: the precise HTTP/1.1 client of `make bench`, for what wrk
 * cannot tell: which request failed, when, and why.  One thread, one epoll
 * loop, nonblocking sockets, GET requests with a Content-Length answer.
 *
 *   client -p PORT [-k N] [-n N] [-d SEC] [-u PATH] [-e BODY]
 *	load: N keep-alive connections and N connections opened for one
 *	request each, for SEC seconds; prints the counts.
 *   client -p PORT -k N -n N -K PID [-r KILLS] [-g MS]
 *	the same load, and KILLS times: SIGKILL the child of PID titled
 *	"forklift: worker 0", then time how long until a request sent after
 *	the worker is dead gets its answer (the replacement accepts).
 *   client -p PORT -I N [-d SEC]
 *	idle: open N keep-alive connections, one request each, print
 *	"ready", then hold them open (until SIGTERM or SEC seconds).
 *
 * Failures are counted, never retried, except one case any HTTP client
 * retries (RFC 9110, 9.2.2): a GET on a reused keep-alive connection that
 * the server closed before a byte of the answer.  That retry is counted
 * apart ("retried"), and a retry that fails again is a failure.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Connections of one run: -k + -n, or -I. */
#define MAX_CONNS	20000
/* One answer's head and body; the bench answers are a few bytes. */
#define RESP_MAX	16384
/* Kills of one run. */
#define MAX_KILLS	1000
/* How long a kill may wait for its replacement before it is a stall. */
#define STALL_MS	5000.0
/* How long the idle mode waits for its N answers. */
#define IDLE_SETUP_MS	30000.0

enum kind { KEEPALIVE, FRESH, IDLE };
enum state { FREE, CONNECTING, SENDING, READING, HELD };

enum failure {
	F_CONNECT,	/* connect(2) refused or failed */
	F_RESET,	/* closed or reset before a byte of the answer */
	F_TRUNCATED,	/* closed in the middle of the answer */
	F_STATUS,	/* an answer other than 200 */
	F_BODY,		/* 200 with another body, or unparseable */
	F_COUNT
};

static const char *failure_names[F_COUNT] = {
	"connect", "reset", "truncated", "status", "body"
};

struct conn {
	int		 fd;
	enum kind	 kind;
	enum state	 state;
	bool		 reused;	/* not the first request on fd */
	bool		 retry;		/* this request is a retry */
	bool		 refused;	/* connect(2) failed at once */
	double		 t_start;	/* when this request began */
	size_t		 sent;
	size_t		 got;
	char		 buf[RESP_MAX];
};

struct kill_rec {
	pid_t		 old_pid;
	pid_t		 new_pid;
	double		 forked_ms;	/* kill to new worker 0 in /proc */
	double		 replaced_ms;	/* kill to first answer after */
	long		 broken;	/* requests it broke (in flight) */
	long		 lost;		/* begun after it: must be 0 */
};

static struct {
	const char	*path;
	const char	*expect;
	int		 port;
	int		 nkeep, nfresh, nidle;
	double		 seconds;
	pid_t		 sup_pid;
	int		 kills;
	double		 gap_ms;
} opt = { "/", "hello\n", 0, 0, 0, 0, 0, 0, 0, 300 };

static struct conn	*conns;
static int		 nconns;
static int		 epfd;
static char		 request[512];
static size_t		 request_len;
static volatile sig_atomic_t stop_flag;

static long		 n_ok, n_retried, n_fail[F_COUNT];

/* The kill in progress, if any. */
static struct kill_rec	 kills[MAX_KILLS];
static int		 nkills;
static bool		 kill_waiting;	/* replacement not yet seen */
static double		 t_kill, t_dead, t_next_kill;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* The pid of PID's child titled "forklift: worker 0", or 0. */
static pid_t
find_worker0(pid_t sup)
{
	char path[64], list[4096], title[128];
	char *p, *end;
	FILE *fp;
	size_t n;
	pid_t pid, found = 0;
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
	    (int)sup, (int)sup);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(list, 1, sizeof(list) - 1, fp);
	fclose(fp);
	list[n] = '\0';
	for (p = list; found == 0; p = end) {
		pid = (pid_t)strtol(p, &end, 10);
		if (end == p)
			break;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		r = read(fd, title, sizeof(title) - 1);
		close(fd);
		if (r <= 0)
			continue;
		title[r] = '\0';
		if (strncmp(title, "forklift: worker 0", 18) == 0 &&
		    !isdigit((unsigned char)title[18]))
			found = pid;
	}
	return found;
}

/* True once pid is gone or a zombie: it accepts nothing any more. */
static bool
is_dead(pid_t pid)
{
	char path[64], st[512], *p;
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return true;
	r = read(fd, st, sizeof(st) - 1);
	close(fd);
	if (r <= 0)
		return true;
	st[r] = '\0';
	if ((p = strrchr(st, ')')) == NULL || p[1] == '\0')
		return true;
	return p[2] == 'Z' || p[2] == 'X';
}

static void
conn_close(struct conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = FREE;
	c->reused = false;
}

static void
conn_watch(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, op, c->fd, &ev) == -1)
		die("epoll_ctl");
}

/* Begins a request on c: connects first if c has no connection. */
static void
conn_begin(struct conn *c, bool retry)
{
	struct sockaddr_in sin;

	c->retry = retry;
	c->sent = c->got = 0;
	if (!retry)
		c->t_start = now_ms();
	if (c->fd != -1) {
		c->state = SENDING;
		conn_watch(c, EPOLLOUT, EPOLL_CTL_MOD);
		return;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(opt.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A failure at once is counted when epoll reports the socket. */
	c->refused = connect(c->fd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 && errno != EINPROGRESS;
	c->reused = false;
	c->state = CONNECTING;
	conn_watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void
record_failure(struct conn *c, enum failure f)
{
	n_fail[f]++;
	if (opt.sup_pid == 0 || nkills == 0)
		return;
	if (c->t_start > t_dead)
		kills[nkills - 1].lost++;
	else
		kills[nkills - 1].broken++;
}

/* Ends c's request with failure f, or retries it once (see the top). */
static void
conn_fail(struct conn *c, enum failure f)
{
	bool may_retry = f == F_RESET && c->reused && !c->retry &&
	    c->kind != IDLE;

	conn_close(c);
	if (may_retry) {
		n_retried++;
		conn_begin(c, true);
		return;
	}
	record_failure(c, f);
	if (c->kind != IDLE && !stop_flag)
		conn_begin(c, false);
}

/* True if the field line at line (ending at eol) is NAME: ...TOKEN... */
static bool
field_has(const char *line, const char *eol, const char *name,
    const char *token)
{
	size_t nlen = strlen(name), tlen = strlen(token);
	const char *p;

	if ((size_t)(eol - line) <= nlen ||
	    strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return false;
	for (p = line + nlen + 1; p + tlen <= eol; p++)
		if (strncasecmp(p, token, tlen) == 0)
			return true;
	return false;
}

/*
 * Parses the answer in c->buf.  Returns 1 when complete (with *status,
 * *ok and *close_after set), 0 when more is needed, -1 when it cannot be
 * an answer this client understands (it needs a Content-Length).
 */
static int
parse_answer(struct conn *c, int *status, bool *ok, bool *close_after)
{
	char *head_end, *line, *eol;
	long clen = -1;
	size_t head_len;

	c->buf[c->got] = '\0';
	if ((head_end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return c->got >= RESP_MAX - 1 ? -1 : 0;
	head_len = (size_t)(head_end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*1[01] %3d", status) != 1)
		return -1;
	*close_after = false;
	for (line = strstr(c->buf, "\r\n") + 2; line < head_end;
	    line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (field_has(line, eol, "Connection", "close"))
			*close_after = true;
	}
	if (clen < 0)
		return -1;
	if (c->got < head_len + (size_t)clen)
		return c->got >= RESP_MAX - 1 ? -1 : 0;
	*ok = *status == 200 && (size_t)clen == strlen(opt.expect) &&
	    memcmp(c->buf + head_len, opt.expect, (size_t)clen) == 0;
	return 1;
}

static void
on_answer(struct conn *c, bool ok, bool close_after, int status)
{
	double t = now_ms();

	if (!ok) {
		conn_close(c);
		record_failure(c, status == 200 ? F_BODY : F_STATUS);
		if (c->kind != IDLE && !stop_flag)
			conn_begin(c, false);
		return;
	}
	n_ok++;
	if (kill_waiting && c->t_start > t_dead) {
		kills[nkills - 1].replaced_ms = t - t_kill;
		kill_waiting = false;
		t_next_kill = t + opt.gap_ms;
	}
	if (c->kind == IDLE) {
		if (close_after)
			conn_close(c);
		else
			c->state = HELD;
		if (c->fd != -1)
			conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	if (c->kind == FRESH || close_after)
		conn_close(c);
	else
		c->reused = true;
	if (!stop_flag)
		conn_begin(c, false);
}

static void
on_event(struct conn *c, uint32_t events)
{
	bool ok = false, close_after = false;
	int err = 0, rc, status = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (c->state == CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			die("getsockopt");
		if (c->refused || err != 0 ||
		    (events & (EPOLLERR | EPOLLHUP))) {
			conn_fail(c, F_CONNECT);
			return;
		}
		c->state = SENDING;
	}
	if (c->state == SENDING) {
		n = write(c->fd, request + c->sent, request_len - c->sent);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			conn_fail(c, F_RESET);
			return;
		}
		if ((c->sent += (size_t)n) < request_len)
			return;
		c->state = READING;
		conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	if (c->state == HELD) {
		/* A held idle connection the server closed (or wrote to). */
		n_fail[F_RESET]++;
		conn_close(c);
		return;
	}
	n = read(c->fd, c->buf + c->got, RESP_MAX - 1 - c->got);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_fail(c, c->got == 0 ? F_RESET : F_TRUNCATED);
		return;
	}
	c->got += (size_t)n;
	if ((rc = parse_answer(c, &status, &ok, &close_after)) == 0)
		return;
	if (rc == -1) {
		conn_close(c);
		record_failure(c, F_BODY);
		if (c->kind != IDLE && !stop_flag)
			conn_begin(c, false);
		return;
	}
	on_answer(c, ok, close_after, status);
}

/* Starts the next kill when it is due, follows the one in progress. */
static void
kill_step(void)
{
	struct kill_rec *k;
	double t = now_ms();
	pid_t pid;

	if (nkills > 0 && kill_waiting) {
		k = &kills[nkills - 1];
		if (k->new_pid == 0 && (pid = find_worker0(opt.sup_pid)) != 0 &&
		    pid != k->old_pid) {
			k->new_pid = pid;
			k->forked_ms = t - t_kill;
		}
		if (t - t_kill > STALL_MS) {
			k->replaced_ms = -1;
			kill_waiting = false;
			t_next_kill = t + opt.gap_ms;
		}
		return;
	}
	if (nkills == opt.kills) {
		if (t >= t_next_kill)
			stop_flag = 1;
		return;
	}
	if (t < t_next_kill)
		return;
	if ((pid = find_worker0(opt.sup_pid)) == 0) {
		fprintf(stderr, "client: no worker 0 under pid %d\n",
		    (int)opt.sup_pid);
		exit(2);
	}
	k = &kills[nkills++];
	memset(k, 0, sizeof(*k));
	k->old_pid = pid;
	t_kill = now_ms();
	if (kill(pid, SIGKILL) == -1)
		die("kill");
	/* Bounded: a SIGKILLed process dies within a scheduler tick. */
	while (!is_dead(pid) && now_ms() - t_kill < STALL_MS)
		;
	t_dead = now_ms();
	kill_waiting = true;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(double elapsed_ms)
{
	double v[MAX_KILLS];
	long fail = 0, broken = 0, lost = 0;
	int i, n = 0, stalls = 0;

	for (i = 0; i < F_COUNT; i++)
		fail += n_fail[i];
	printf("ok=%ld failed=%ld retried=%ld seconds=%.2f",
	    n_ok, fail, n_retried, elapsed_ms / 1e3);
	for (i = 0; i < F_COUNT; i++)
		printf(" %s=%ld", failure_names[i], n_fail[i]);
	printf("\n");
	if (opt.sup_pid == 0)
		return;
	for (i = 0; i < nkills; i++) {
		printf("kill %d: worker %d -> %d forked_ms=%.2f "
		    "replaced_ms=%.2f broken=%ld lost=%ld\n", i + 1,
		    (int)kills[i].old_pid, (int)kills[i].new_pid,
		    kills[i].forked_ms, kills[i].replaced_ms, kills[i].broken,
		    kills[i].lost);
		broken += kills[i].broken;
		lost += kills[i].lost;
		if (kills[i].replaced_ms < 0)
			stalls++;
		else
			v[n++] = kills[i].replaced_ms;
	}
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	printf("kills=%d stalls=%d median_ms=%.2f min_ms=%.2f max_ms=%.2f "
	    "broken=%ld lost=%ld\n", nkills, stalls,
	    n == 0 ? -1 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2),
	    n == 0 ? -1 : v[0], n == 0 ? -1 : v[n - 1], broken, lost);
}

static void
usage(void)
{
	fprintf(stderr, "usage: client -p PORT [-k N] [-n N] [-I N] [-d SEC] "
	    "[-u PATH] [-e BODY] [-K PID [-r KILLS] [-g MS]]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "p:k:n:I:d:u:e:K:r:g:")) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'k': opt.nkeep = atoi(optarg); break;
		case 'n': opt.nfresh = atoi(optarg); break;
		case 'I': opt.nidle = atoi(optarg); break;
		case 'd': opt.seconds = atof(optarg); break;
		case 'u': opt.path = optarg; break;
		case 'e': opt.expect = optarg; break;
		case 'K': opt.sup_pid = (pid_t)atoi(optarg); break;
		case 'r': opt.kills = atoi(optarg); break;
		case 'g': opt.gap_ms = atof(optarg); break;
		default: usage();
		}
	}
	nconns = opt.nidle > 0 ? opt.nidle : opt.nkeep + opt.nfresh;
	if (opt.port <= 0 || opt.port > 65535 || nconns <= 0 ||
	    nconns > MAX_CONNS || opt.kills < 0 || opt.kills > MAX_KILLS ||
	    (opt.sup_pid != 0 && opt.kills == 0) ||
	    (opt.sup_pid == 0 && opt.nidle == 0 && opt.seconds <= 0))
		usage();
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	double t0, t, setup_deadline;
	bool ready = false;
	long held;
	int i, n;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	request_len = (size_t)snprintf(request, sizeof(request),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "User-Agent: forklift-bench\r\n\r\n", opt.path, opt.port);
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		die("calloc");
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].kind = opt.nidle > 0 ? IDLE :
		    i < opt.nkeep ? KEEPALIVE : FRESH;
		conn_begin(&conns[i], false);
	}
	t0 = now_ms();
	setup_deadline = t0 + IDLE_SETUP_MS;
	t_next_kill = t0 + opt.gap_ms;
	while (!stop_flag) {
		n = epoll_wait(epfd, evs, 256, 1);
		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		t = now_ms();
		if (opt.sup_pid != 0)
			kill_step();
		else if (opt.seconds > 0 && (opt.nidle == 0 || ready) &&
		    t - t0 >= opt.seconds * 1e3)
			stop_flag = 1;
		if (opt.nidle > 0 && !ready) {
			for (held = 0, i = 0; i < nconns; i++)
				held += conns[i].state == HELD ||
				    conns[i].state == FREE;
			if (held == nconns) {
				printf("ready %ld\n", n_ok);
				fflush(stdout);
				ready = true;
				t0 = t;
			} else if (t > setup_deadline) {
				fprintf(stderr, "client: %ld of %d idle "
				    "connections answered in time\n", n_ok,
				    nconns);
				break;
			}
		}
	}
	report(now_ms() - t0);
	for (i = 0; i < nconns; i++)
		conn_close(&conns[i]);
	return 0;
}
