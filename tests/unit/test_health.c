/*
 * Unit tests of the health checker: the health table's seqlock raced by a
 * writer and a reader, the rise/fall rule, the log text, one check against
 * a fake server on 127.0.0.1, and the checker process itself (forked, with
 * a hand-made configuration) marking fake servers down and up.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "common/process.h"
#include "common/shm.h"
#include "health/health.h"
#include "health/judge.h"
#include "health/probe.h"

#define RACE_WRITES	300000	/* rows the writer publishes */
#define FAKE_CONNS	64	/* connections a fake server holds at once */
#define FAKE_BUF	2048	/* bytes of a request a fake server keeps */
#define LOG_READ_MAX	65536	/* bytes of a checker's log searched */
/* Scheduling allowance on top of a bound, for a loaded test machine. */
#define SLACK_MS	150

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the seqlock ---- */

static void
derived_row(uint64_t k, struct health_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->state = (uint32_t)(k & 1);
	s->passes = s->fails = s->latency_us = s->last_status = (uint32_t)k;
	s->changed_ms = s->checked_ms = (int64_t)k;
	s->checks = s->passive_seen = k;
	snprintf(s->last_error, sizeof(s->last_error), "%llu",
	    (unsigned long long)k);
}

static bool
row_consistent(const struct health_snapshot *s)
{
	struct health_snapshot want;

	/* Field by field: the padding after last_status is not copied. */
	derived_row(s->checks, &want);
	return s->state == want.state && s->passes == want.passes &&
	    s->fails == want.fails && s->latency_us == want.latency_us &&
	    s->last_status == want.last_status &&
	    s->changed_ms == want.changed_ms &&
	    s->checked_ms == want.checked_ms && s->checks == want.checks &&
	    s->passive_seen == want.passive_seen &&
	    memcmp(s->last_error, want.last_error,
	    sizeof(want.last_error)) == 0;
}

struct race {
	struct health_row	*row;
	_Atomic int		 done;
};

static void *
race_writer(void *arg)
{
	struct race *r = arg;
	struct health_snapshot s;
	uint64_t k;

	for (k = 1; k <= RACE_WRITES; k++) {
		derived_row(k, &s);
		shm_health_write(r->row, &s);
	}
	atomic_store(&r->done, 1);
	return NULL;
}

START_TEST(seqlock_race)
{
	struct shm *shm = shm_create(1, 1, 1, 1);
	struct health_snapshot s;
	struct race r;
	pthread_t writer;
	uint64_t reads = 0, bad = 0, backwards = 0, distinct = 0, last = 0;

	ck_assert_ptr_nonnull(shm);
	r.row = &shm->health[0];
	atomic_store(&r.done, 0);
	derived_row(0, &s);
	shm_health_write(r.row, &s);
	ck_assert_int_eq(pthread_create(&writer, NULL, race_writer, &r), 0);
	while (!atomic_load(&r.done)) {
		shm_health_read(r.row, &s);
		reads++;
		if (!row_consistent(&s))
			bad++;
		if (s.checks < last)
			backwards++;
		if (s.checks != last)
			distinct++;
		last = s.checks;
	}
	ck_assert_int_eq(pthread_join(writer, NULL), 0);
	shm_health_read(r.row, &s);
	ck_assert_uint_eq(s.checks, RACE_WRITES);
	ck_assert_msg(bad == 0, "%llu of %llu snapshots torn",
	    (unsigned long long)bad, (unsigned long long)reads);
	ck_assert_uint_eq(backwards, 0);
	/* The reader really ran alongside the writer. */
	ck_assert_uint_gt(distinct, 1);
	shm_destroy(shm);
}
END_TEST

/* ---- the rise/fall rule ---- */

struct judge_step {
	enum health_result_kind	 kind;
	uint32_t		 n;
	enum health_change	 change;
	uint32_t		 state, passes, fails, passive;
};

#define P(n)	HEALTH_PASS, n
#define F(n)	HEALTH_FAIL, n
#define PF(n)	HEALTH_PASSIVE_FAIL, n
#define SAME	HEALTH_SAME
#define WUP	HEALTH_WENT_UP
#define WDOWN	HEALTH_WENT_DOWN
#define UP	SERVER_UP
#define DOWN	SERVER_DOWN

/* rise 2, fall 3, starting up with clean counts. */
static const struct judge_step judge_table[] = {
	{ F(1),  SAME,  UP,   0, 1, 0 },
	{ F(1),  SAME,  UP,   0, 2, 0 },
	{ P(1),  SAME,  UP,   1, 0, 0 },	/* a pass ends the streak */
	{ F(1),  SAME,  UP,   0, 1, 0 },
	{ F(1),  SAME,  UP,   0, 2, 0 },
	{ F(1),  WDOWN, DOWN, 0, 3, 0 },
	{ F(1),  SAME,  DOWN, 0, 4, 0 },	/* changes once */
	{ P(1),  SAME,  DOWN, 1, 0, 0 },
	{ F(1),  SAME,  DOWN, 0, 1, 0 },	/* a failure ends the rise */
	{ P(1),  SAME,  DOWN, 1, 0, 0 },
	{ P(1),  WUP,   UP,   2, 0, 0 },
	{ P(1),  SAME,  UP,   3, 0, 0 },
	{ PF(5), SAME,  UP,   0, 5, 5 },	/* passive alone: stays up */
	{ P(1),  SAME,  UP,   1, 0, 0 },	/* a passing check clears it */
	{ PF(2), SAME,  UP,   0, 2, 2 },
	{ F(1),  WDOWN, DOWN, 0, 3, 2 },	/* the check confirms */
	{ PF(1), SAME,  DOWN, 0, 4, 3 },
	{ P(1),  SAME,  DOWN, 1, 0, 0 },
	{ PF(1), SAME,  DOWN, 0, 1, 1 },	/* resets a rise too */
	{ P(2),  WUP,   UP,   2, 0, 0 },
	{ PF(0), SAME,  UP,   2, 0, 0 },	/* nothing new: nothing */
};

START_TEST(judge_sequences)
{
	struct health_tally t = { SERVER_UP, 0, 0, 0 };
	size_t i;

	for (i = 0; i < sizeof(judge_table) / sizeof(judge_table[0]); i++) {
		const struct judge_step *s = &judge_table[i];
		enum health_change c;

		c = health_judge(&t, s->kind, s->n, 2, 3);
		ck_assert_msg(c == s->change, "step %zu: change %d", i, c);
		ck_assert_msg(t.state == s->state && t.passes == s->passes &&
		    t.fails == s->fails && t.passive == s->passive,
		    "step %zu: state %u passes %u fails %u passive %u", i,
		    t.state, t.passes, t.fails, t.passive);
	}
}
END_TEST

START_TEST(change_text)
{
	struct health_tally t = { SERVER_DOWN, 0, 3, 0 };
	char buf[256];

	health_change_text(buf, sizeof(buf), "web", "app2", "127.0.0.1:9002",
	    WDOWN, &t, "HTTP 500");
	ck_assert_str_eq(buf,
	    "server web/app2 127.0.0.1:9002 is DOWN: 3 checks failed "
	    "(HTTP 500)");
	t.fails = 1;
	health_change_text(buf, sizeof(buf), "web", "app2", "127.0.0.1:9002",
	    WDOWN, &t, "connection refused");
	ck_assert_str_eq(buf, "server web/app2 127.0.0.1:9002 is DOWN: "
	    "1 check failed (connection refused)");
	t.fails = 4;
	t.passive = 3;
	health_change_text(buf, sizeof(buf), "web", "app2", "127.0.0.1:9002",
	    WDOWN, &t, "timeout");
	ck_assert_str_eq(buf, "server web/app2 127.0.0.1:9002 is DOWN: "
	    "4 checks failed (timeout; 3 from live traffic)");
	health_change_text(buf, 12, "web", "app2", "127.0.0.1:9002", WUP, &t,
	    "");
	ck_assert_str_eq(buf, "server web/");
}
END_TEST

START_TEST(status_line)
{
	/* The status, or 0 where the line is not a status line. */
	static const struct {
		const char	*line;
		unsigned	 status;
	} cases[] = {
		{ "HTTP/1.1 200 OK", 200 }, { "HTTP/1.1 204", 204 },
		{ "HTTP/1.0 503 Service Unavailable", 503 },
		{ "HTTP/1.1 404 ", 404 }, { "HTTP/2 200 OK", 0 },
		{ "HTTP/1.1 20 OK", 0 }, { "HTTP/1.1 2000 OK", 0 },
		{ "HTTP/1.1 099 Odd", 0 }, { "HTTP/1.1 600 Odd", 0 },
		{ "HTTP/1.1  200 OK", 0 }, { "http/1.1 200 OK", 0 },
		{ "SSH-2.0-OpenSSH", 0 }, { "", 0 },
	};
	unsigned status;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		status = 0;
		ck_assert_msg(health_parse_status(cases[i].line,
		    strlen(cases[i].line), &status) ==
		    (cases[i].status ? 0 : -1), "%s", cases[i].line);
		ck_assert_uint_eq(status, cases[i].status);
	}
}
END_TEST

/* ---- a fake server on the test's own loop ---- */

enum fake_mode {
	FAKE_STATUS,	/* answer each request with `status`, then close */
	FAKE_HANG,	/* accept and read, never answer */
	FAKE_CLOSE,	/* read the request, close without a word */
	FAKE_GARBAGE,	/* answer something that is not HTTP */
	FAKE_REFUSED,	/* not listening: connects are refused */
};

struct fake;

struct fake_conn {
	struct ev_io	 io;		/* first: the callback casts */
	struct fake	*f;
	size_t		 len;
	char		 buf[FAKE_BUF];
};

struct fake {
	struct ev_io	 listen;	/* first: the callback casts */
	struct ev_loop	*loop;
	int		 port;
	enum fake_mode	 mode;
	int		 status;
	unsigned	 requests;
	char		 last[FAKE_BUF];
	struct fake_conn conns[FAKE_CONNS];
};

static void
fake_drop(struct fake_conn *c)
{
	ev_io_stop(c->f->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
}

static void
fake_on_conn(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct fake_conn *c = (struct fake_conn *)io;
	struct fake *f = c->f;
	char out[256];
	ssize_t n;

	n = read(io->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fake_drop(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (f->mode == FAKE_HANG)
		c->len = 0;
	if (f->mode == FAKE_HANG || (strstr(c->buf, "\r\n\r\n") == NULL &&
	    c->len < sizeof(c->buf) - 1))
		return;
	memcpy(f->last, c->buf, c->len + 1);
	f->requests++;
	if (f->mode == FAKE_GARBAGE)
		n = snprintf(out, sizeof(out), "HELLO THERE\r\n");
	else
		n = snprintf(out, sizeof(out), "HTTP/1.1 %d Test\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n",
		    f->status);
	/* A checker that gave up has closed: nothing to tell it. */
	if (f->mode != FAKE_CLOSE)
		(void)send(io->fd, out, (size_t)n, MSG_NOSIGNAL);
	fake_drop(c);
}

static void
fake_on_accept(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct fake *f = (struct fake *)io;
	int fd, i;

	while ((fd = accept4(io->fd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		for (i = 0; i < FAKE_CONNS && f->conns[i].io.fd != -1; i++)
			;
		if (i == FAKE_CONNS) {
			close(fd);
			continue;
		}
		f->conns[i].f = f;
		f->conns[i].len = 0;
		ev_io_init(&f->conns[i].io, fd, fake_on_conn);
		ck_assert_int_eq(ev_io_set(l, &f->conns[i].io, EPOLLIN), 0);
	}
}

/* Stops listening: connecting to its port is refused from now on. */
static void
fake_refuse(struct fake *f)
{
	int i;

	if (f->listen.fd != -1) {
		ev_io_stop(f->loop, &f->listen);
		close(f->listen.fd);
		f->listen.fd = -1;
	}
	for (i = 0; i < FAKE_CONNS; i++)
		if (f->conns[i].io.fd != -1)
			fake_drop(&f->conns[i]);
}

static void
fake_start(struct fake *f, struct ev_loop *loop, enum fake_mode mode,
    int status)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, i;

	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->mode = mode;
	f->status = status;
	for (i = 0; i < FAKE_CONNS; i++)
		f->conns[i].io.fd = -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(fd, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	ev_io_init(&f->listen, fd, fake_on_accept);
	ck_assert_int_eq(ev_io_set(loop, &f->listen, EPOLLIN), 0);
	if (mode == FAKE_REFUSED)
		fake_refuse(f);
}

/* Runs the loop until cond(arg) holds (checked every 5 ms) or ms pass. */
struct until {
	struct ev_timer	 poll;		/* first: the callback casts */
	struct ev_timer	 deadline;
	bool		(*cond)(void *);
	void		*arg;
	bool		 met;
};

static void
until_poll(struct ev_loop *l, struct ev_timer *t)
{
	struct until *u = (struct until *)t;

	if ((u->met = u->cond(u->arg)))
		ev_stop(l);
	else
		ck_assert_int_eq(ev_timer_start(l, t, 5), 0);
}

static void
until_deadline(struct ev_loop *l, struct ev_timer *t)
{
	ev_stop(l);
}

static bool
run_until(struct ev_loop *loop, bool (*cond)(void *), void *arg, unsigned ms)
{
	struct until u;

	ev_now_update(loop);
	if (cond(arg))
		return true;
	memset(&u, 0, sizeof(u));
	u.cond = cond;
	u.arg = arg;
	ev_timer_init(&u.poll, until_poll);
	ev_timer_init(&u.deadline, until_deadline);
	ck_assert_int_eq(ev_timer_start(loop, &u.poll, 5), 0);
	ck_assert_int_eq(ev_timer_start(loop, &u.deadline, ms), 0);
	ck_assert_int_eq(ev_run(loop), 0);
	ev_timer_stop(loop, &u.poll);
	ev_timer_stop(loop, &u.deadline);
	return u.met || cond(arg);
}

static void
set_pool(struct conf_pool *p, enum conf_health_check check,
    unsigned interval_ms, unsigned timeout_ms)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "web");
	snprintf(p->health_path, sizeof(p->health_path), "/heartbeat");
	p->health_check = check;
	p->health_interval_ms = interval_ms;
	p->health_timeout_ms = timeout_ms;
	p->health_rise = 2;
	p->health_fall = 3;
	p->health_expect_lo = 200;
	p->health_expect_hi = 399;
}

static void
set_server(struct conf_server *s, struct conf_pool *pool, unsigned id,
    int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr.ss;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "app%u", id + 1);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->addr.len = sizeof(*sin);
	snprintf(s->addr.text, sizeof(s->addr.text), "127.0.0.1:%d", port);
	s->weight = 1;
	s->id = id;
	s->pool = pool;
}

/* ---- one check against a fake server ---- */

static const struct {
	enum fake_mode		 mode;
	int			 status;
	enum conf_health_check	 check;
	bool			 passed;
	const char		*error;
} probe_cases[] = {
	{ FAKE_STATUS,	200, HEALTH_HTTP, true,  "" },
	{ FAKE_STATUS,	399, HEALTH_HTTP, true,  "" },
	{ FAKE_STATUS,	199, HEALTH_HTTP, false, "HTTP 199" },
	{ FAKE_STATUS,	400, HEALTH_HTTP, false, "HTTP 400" },
	{ FAKE_STATUS,	500, HEALTH_HTTP, false, "HTTP 500" },
	{ FAKE_CLOSE,	0,   HEALTH_HTTP, false, "connection closed" },
	{ FAKE_GARBAGE,	0,   HEALTH_HTTP, false, "bad response" },
	{ FAKE_HANG,	0,   HEALTH_HTTP, false, "timeout" },
	{ FAKE_REFUSED,	0,   HEALTH_HTTP, false, "connection refused" },
	{ FAKE_HANG,	0,   HEALTH_TCP,  true,  "" },
	{ FAKE_REFUSED,	0,   HEALTH_TCP,  false, "connection refused" },
};
#define PROBE_TIMEOUT_MS	150

struct probe_run {
	struct health_result	 result;
	int			 results;
};

static void
on_probe_done(struct health_probe *p, const struct health_result *r)
{
	struct probe_run *run = p->arg;

	run->result = *r;
	run->results++;
}

static bool
probe_finished(void *arg)
{
	return ((struct probe_run *)arg)->results > 0;
}

START_TEST(probe_case)
{
	struct ev_loop *loop = ev_create(16);
	struct conf_pool pool;
	struct conf_server server;
	struct health_probe probe;
	struct probe_run run = { .results = 0 };
	struct fake f;
	char host[64];

	ck_assert_ptr_nonnull(loop);
	fake_start(&f, loop, probe_cases[_i].mode, probe_cases[_i].status);
	set_pool(&pool, probe_cases[_i].check, 1000, PROBE_TIMEOUT_MS);
	set_server(&server, &pool, 0, f.port);
	ck_assert_int_eq(health_probe_init(&probe, loop, &server,
	    on_probe_done, &run), 0);
	ev_now_update(loop);
	health_probe_start(&probe);
	ck_assert(run_until(loop, probe_finished, &run, 3000));
	ck_assert_int_eq(run.results, 1);
	ck_assert(!health_probe_running(&probe));
	ck_assert_int_eq(run.result.passed, probe_cases[_i].passed);
	ck_assert_str_eq(run.result.error, probe_cases[_i].error);
	ck_assert_uint_eq(run.result.status,
	    probe_cases[_i].mode == FAKE_STATUS ? probe_cases[_i].status : 0);
	if (probe_cases[_i].mode == FAKE_HANG && !probe_cases[_i].passed)
		ck_assert_uint_ge(run.result.latency_us,
		    (PROBE_TIMEOUT_MS - 10) * 1000);
	else
		ck_assert_uint_lt(run.result.latency_us,
		    PROBE_TIMEOUT_MS * 1000);
	if (probe_cases[_i].check == HEALTH_TCP)
		ck_assert_uint_eq(f.requests, 0);
	if (probe_cases[_i].mode == FAKE_STATUS) {
		ck_assert_uint_eq(f.requests, 1);
		snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n",
		    f.port);
		ck_assert_msg(strncmp(f.last, "GET /heartbeat HTTP/1.1\r\n",
		    25) == 0, "%s", f.last);
		ck_assert_ptr_nonnull(strstr(f.last, host));
		ck_assert_ptr_nonnull(strstr(f.last,
		    "\r\nConnection: close\r\n"));
		ck_assert_ptr_nonnull(strstr(f.last,
		    "\r\nUser-Agent: forklift-health\r\n"));
	}
	fake_refuse(&f);
	ev_destroy(loop);
}
END_TEST

/* ---- the checker process, forked, against fake servers ---- */

#define WORLD_SERVERS	2

struct world {
	struct ev_loop	*loop;
	struct conf	*conf;
	struct shm	*shm;
	struct fake	 fakes[WORLD_SERVERS];
	char		 log[64];
	pid_t		 pid;
	unsigned	 id;		/* the server a condition looks at, */
	uint32_t	 state;		/* the state it waits for, */
	uint64_t	 checks;	/* or the checks it waits for */
	bool		 saw_up;	/* server id was seen up meanwhile */
};

static void
world_init(struct world *w, enum conf_health_check check,
    unsigned interval_ms, unsigned timeout_ms, unsigned nservers)
{
	struct conf_pool *pool;
	unsigned i;
	int fd;

	memset(w, 0, sizeof(*w));
	ck_assert_ptr_nonnull(w->loop = ev_create(64));
	ck_assert_ptr_nonnull(w->conf = calloc(1, sizeof(*w->conf)));
	ck_assert_ptr_nonnull(w->conf->servers = calloc(nservers,
	    sizeof(struct conf_server)));
	pool = &w->conf->pools[0];
	set_pool(pool, check, interval_ms, timeout_ms);
	pool->servers = w->conf->servers;
	pool->nservers = w->conf->nservers = nservers;
	w->conf->npools = 1;
	for (i = 0; i < nservers; i++) {
		fake_start(&w->fakes[i], w->loop, FAKE_STATUS, 200);
		set_server(&w->conf->servers[i], pool, i, w->fakes[i].port);
	}
	ck_assert_ptr_nonnull(w->shm = shm_create(1, 2, nservers, 1));
	snprintf(w->log, sizeof(w->log), "/tmp/forklift-health.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(w->log), -1);
	close(fd);
}

/* Forks the checker as the supervisor would: signals blocked, none of
   the parent's descriptors, logging to w->log. */
static void
world_start(struct world *w)
{
	struct health_args args = { w->conf, w->shm, 1, getpid() };
	char err[256];
	sigset_t set;

	ck_assert_int_eq(fflush(NULL), 0);
	ck_assert_int_ne(w->pid = fork(), -1);
	if (w->pid != 0)
		return;
	closefrom(STDERR_FILENO + 1);
	process_signal_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		_exit(2);
	if (log_open(w->log, err, sizeof(err)) == -1)
		_exit(2);
	health_main(&args);
}

/* Stops the checker with `sig`; SIGTERM must end it cleanly.  (Check's
   test timeout bounds the wait.) */
static void
world_stop(struct world *w, int sig)
{
	int status;

	ck_assert_int_eq(kill(w->pid, sig), 0);
	ck_assert_int_eq(waitpid(w->pid, &status, 0), w->pid);
	if (sig == SIGTERM)
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "checker status %d", status);
}

static void
world_free(struct world *w)
{
	unsigned i;

	for (i = 0; i < w->conf->nservers; i++)
		fake_refuse(&w->fakes[i]);
	ck_assert_int_eq(unlink(w->log), 0);
	shm_destroy(w->shm);
	free(w->conf->servers);
	free(w->conf);
	ev_destroy(w->loop);
}

static struct health_snapshot
row(struct world *w, unsigned id)
{
	struct health_snapshot s;

	shm_health_read(&w->shm->health[id], &s);
	return s;
}

static bool
in_state(void *arg)
{
	struct world *w = arg;

	return row(w, w->id).state == w->state;
}

static bool
checked_enough(void *arg)
{
	struct world *w = arg;
	struct health_snapshot s = row(w, w->id);

	w->saw_up |= s.state == SERVER_UP;
	return s.checks >= w->checks;
}

/* Serves the fakes until server `id` is in w->state (checks == 0) or has
   had `checks` checks; returns the time it took, or fails after ms. */
static uint64_t
wait_for(struct world *w, unsigned id, uint64_t checks, unsigned ms)
{
	uint64_t start = now_ms();

	w->id = id;
	w->checks = checks;
	w->saw_up = false;
	ck_assert_msg(run_until(w->loop, checks ? checked_enough : in_state,
	    w, ms), "server %u: no change within %u ms", id, ms);
	return now_ms() - start;
}

static uint64_t
wait_state(struct world *w, unsigned id, uint32_t state, unsigned ms)
{
	w->state = state;
	return wait_for(w, id, 0, ms);
}

/* How many times "server web/appN 127.0.0.1:PORT is `what`" is logged. */
static int
log_count(const struct world *w, unsigned id, const char *what)
{
	static char buf[LOG_READ_MAX];
	char needle[256];
	const char *p;
	ssize_t n;
	int fd, count = 0;

	snprintf(needle, sizeof(needle), "server web/app%u 127.0.0.1:%d is %s",
	    id + 1, w->fakes[id].port, what);
	ck_assert_int_ne(fd = open(w->log, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_ne(n = read(fd, buf, sizeof(buf) - 1), -1);
	close(fd);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

/* interval 200 ms, rise 2, fall 3: down within 800 ms, up within 600. */
START_TEST(checker_down_and_up)
{
	struct world w;
	struct health_snapshot s;

	world_init(&w, HEALTH_HTTP, 200, 100, 2);
	world_start(&w);
	w.fakes[1].status = 500;
	ck_assert_uint_le(wait_state(&w, 1, DOWN, 3000), 800 + SLACK_MS);
	ck_assert_int_eq(log_count(&w, 1, "DOWN: 3 checks failed (HTTP 500)"),
	    1);
	s = row(&w, 1);
	ck_assert_uint_ge(s.checks, 3);
	ck_assert_uint_eq(s.last_status, 500);
	ck_assert_str_eq(s.last_error, "HTTP 500");
	ck_assert_int_ge(s.changed_ms, process_wall_ms() - 5000);
	ck_assert_int_ge(s.checked_ms, s.changed_ms);
	s = row(&w, 0);
	ck_assert_uint_eq(s.state, SERVER_UP);
	ck_assert_uint_eq(s.last_status, 200);

	w.fakes[1].status = 200;
	ck_assert_uint_le(wait_state(&w, 1, UP, 3000), 600 + SLACK_MS);
	ck_assert_int_eq(log_count(&w, 1, "UP: 2 checks passed"), 1);
	ck_assert_str_eq(row(&w, 1).last_error, "");
	world_stop(&w, SIGTERM);
	world_free(&w);
}
END_TEST

/* A server that never answers costs its own checks the timeout and
   delays nobody else's.  Checked in turn, each round would take 400 ms
   and app2 would be marked down after 1 s, past its bound. */
START_TEST(checker_hung_server_delays_nobody)
{
	struct world w;

	world_init(&w, HEALTH_HTTP, 200, 200, 2);
	w.fakes[0].mode = FAKE_HANG;
	w.fakes[1].status = 500;
	world_start(&w);
	ck_assert_uint_le(wait_state(&w, 1, DOWN, 3000), 800 + SLACK_MS);
	ck_assert_uint_le(wait_state(&w, 0, DOWN, 3000), 800 + SLACK_MS);
	ck_assert_int_eq(log_count(&w, 0, "DOWN: 3 checks failed (timeout)"),
	    1);
	world_stop(&w, SIGTERM);
	world_free(&w);
}
END_TEST

/* A checker killed and started again resumes from the table. */
START_TEST(checker_restart_resumes)
{
	struct world w;
	uint32_t fails;

	world_init(&w, HEALTH_HTTP, 100, 100, 1);
	w.fakes[0].status = 503;
	world_start(&w);
	wait_state(&w, 0, DOWN, 3000);
	world_stop(&w, SIGKILL);
	fails = row(&w, 0).fails;
	world_start(&w);
	wait_for(&w, 0, row(&w, 0).checks + 3, 3000);
	ck_assert(!w.saw_up);
	ck_assert_uint_ge(row(&w, 0).fails, fails + 3);
	ck_assert_int_eq(log_count(&w, 0, "DOWN"), 1);
	w.fakes[0].status = 200;
	wait_state(&w, 0, UP, 3000);
	ck_assert_int_eq(log_count(&w, 0, "UP: 2 checks passed"), 1);
	world_stop(&w, SIGTERM);
	world_free(&w);
}
END_TEST

/* Failures in live traffic bring a check forward; the check decides. */
START_TEST(checker_passive)
{
	struct world w;

	world_init(&w, HEALTH_HTTP, 10000, 200, 1);
	world_start(&w);
	wait_for(&w, 0, 1, 3000);
	/* A passing check outvotes five failed requests. */
	shm_count(&shm_server_counters(w.shm, 0, 0)->failures, 5);
	ck_assert_uint_le(wait_for(&w, 0, 2, 3000), 1000);
	ck_assert_uint_eq(row(&w, 0).state, SERVER_UP);
	ck_assert_uint_eq(row(&w, 0).passive_seen, 5);
	ck_assert_uint_eq(row(&w, 0).fails, 0);
	/* A refusing server goes down at once, not in 3 intervals. */
	fake_refuse(&w.fakes[0]);
	shm_count(&shm_server_counters(w.shm, 0, 0)->failures, 3);
	shm_count(&shm_server_counters(w.shm, 1, 0)->failures, 1);
	ck_assert_uint_le(wait_state(&w, 0, DOWN, 3000), 1000);
	ck_assert_int_eq(log_count(&w, 0, "DOWN: 5 checks failed "
	    "(connection refused; 4 from live traffic)"), 1);
	ck_assert_uint_eq(row(&w, 0).passive_seen, 9);
	world_stop(&w, SIGTERM);
	world_free(&w);
}
END_TEST

/* health_check = off: never checked, failures ignored, kept up. */
START_TEST(checker_off)
{
	struct world w;
	struct health_snapshot s;

	world_init(&w, HEALTH_OFF, 100, 100, 1);
	memset(&s, 0, sizeof(s));
	s.state = SERVER_DOWN;
	shm_health_write(&w.shm->health[0], &s);
	world_start(&w);
	wait_state(&w, 0, UP, 3000);
	ck_assert_int_eq(log_count(&w, 0, "UP: health checks are off"), 1);
	shm_count(&shm_server_counters(w.shm, 0, 0)->failures, 10);
	/* Wait, in vain, for a change that must not come. */
	w.state = SERVER_DOWN;
	ck_assert(!run_until(w.loop, in_state, &w, 500));
	s = row(&w, 0);
	ck_assert_uint_eq(s.checks, 0);
	ck_assert_uint_eq(s.passive_seen, 0);
	ck_assert_uint_eq(w.fakes[0].requests, 0);
	world_stop(&w, SIGTERM);
	world_free(&w);
}
END_TEST

int
main(int argc, char *argv[])
{
	Suite *s = suite_create("health");
	TCase *tc;
	SRunner *sr;
	int failed;

	setproctitle_init(argc, argv, environ);
	tc = tcase_create("seqlock");
	tcase_add_test(tc, seqlock_race);
	suite_add_tcase(s, tc);
	tc = tcase_create("judge");
	tcase_add_test(tc, judge_sequences);
	tcase_add_test(tc, change_text);
	tcase_add_test(tc, status_line);
	suite_add_tcase(s, tc);
	tc = tcase_create("probe");
	tcase_add_loop_test(tc, probe_case, 0,
	    sizeof(probe_cases) / sizeof(probe_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("checker");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, checker_down_and_up);
	tcase_add_test(tc, checker_hung_server_delays_nobody);
	tcase_add_test(tc, checker_restart_resumes);
	tcase_add_test(tc, checker_passive);
	tcase_add_test(tc, checker_off);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
