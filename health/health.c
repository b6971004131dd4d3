/*
 * The health checker's life: set up, loop, exit.  One process checks every
 * server of every pool on one epoll loop and publishes what it finds in the
 * generation's health table, whose single writer it is.
 *
 * Active checks.  Every server of a pool with health_check = PATH or tcp is
 * checked every health_interval, each check bounded by health_timeout and
 * run concurrently with all the others (health/probe.c), so a server that
 * hangs delays nobody.  Server N's first check comes N * interval /
 * nservers after start, which spreads the checks over the interval; after
 * that each check starts one interval after the previous one started.
 *
 * Rise and fall (health/judge.c).  A down server goes up after health_rise
 * passes in a row, an up server down after health_fall failures in a row.
 * Each change is logged once, with its reason.  A server between the two
 * (a pass while down, a failure while up) and a managed server's new
 * process are checked every HEALTH_FAST_MS instead, when that is shorter
 * than health_interval, as HAProxy's fastinter does.
 *
 * Passive health: how live traffic and active checks combine.  Workers
 * count each connect error, reset and timeout of a request to a server.
 * Every 100 ms (HEALTH_PASSIVE_MS) the checker sums those counts; each
 * failure it has not seen before counts as one failed check in the
 * server's streak, and for an up server it brings the next active check
 * forward (to no sooner than 250 ms, HEALTH_RECHECK_MIN_MS, after the
 * previous one started).  Passive failures never take a server down by
 * themselves: the active check that follows decides.  If it fails, the
 * failures in a row, passive and active, are judged against health_fall
 * as usual, so a server that refuses live traffic is down within a few
 * hundred milliseconds rather than health_fall intervals.  If it passes,
 * the streak is over and the server stays up: an answer to the health
 * check outweighs failed or timed-out requests, which may be the fault of
 * one slow URL rather than of the server.  Pools with health_check = off
 * are never checked and their servers stay up: passive failures are
 * ignored for them too, since without an active check nothing could bring
 * a server back.
 *
 * What a row says.  state, and passes and fails in a row (fails counts
 * passive failures too); checks, latency_us, last_status (0 for tcp or
 * when no status line came) and last_error ("" after a pass, else a short
 * reason such as "HTTP 500", "connection refused", "timeout") describe the
 * last active check; checked_ms and changed_ms are wall-clock times of the
 * last check and the last change; passive_seen is the workers' failure
 * count already judged.
 *
 * Managed servers (a run= on the server line).  The supervisor marks a
 * managed server down when it starts its process; the checker marks it
 * down as soon as it sees the process gone or replaced (the pid in the
 * managed row changed), so traffic reaches only a process that has passed
 * health_rise checks.  In a pool with health_check = off this rule does
 * not apply either.
 *
 * The table is the truth at start.  The supervisor sets every row up when
 * the configuration is first loaded and carries rows across a reload; a
 * checker, whether new or restarted after a crash, resumes from the rows
 * as they stand (state, streaks, checks, passive failures already seen),
 * so a restart never revives a server that is down.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "common/event.h"
#include "common/log.h"
#include "common/process.h"
#include "health/health.h"
#include "health/judge.h"
#include "health/probe.h"

/* How often the workers' failure counts are summed (one load per server
   and worker slot each time). */
#define HEALTH_PASSIVE_MS	100
/* Least time between the starts of two checks of one server when passive
   failures ask for an early one. */
#define HEALTH_RECHECK_MIN_MS	250
/* HAProxy's fastinter: the interval, when shorter than health_interval,
   for a server between states or a managed server's new process, so a
   new process gets traffic well within a second of being ready. */
#define HEALTH_FAST_MS		250

/* One server as the checker sees it. */
struct checked_server {
	struct health_probe	 probe;
	struct ev_timer		 tick;		/* the next check */
	const struct conf_server *server;
	struct health_row	*row;
	struct health_snapshot	 snap;		/* as last published */
	struct health_tally	 tally;
	uint64_t		 last_start;	/* monotonic ms; 0 = never */
	int32_t			 managed_pid;	/* managed servers: as last seen */
	bool			 starting;	/* a new process, not yet up */
};

static struct ev_loop		*loop;
static struct shm		*table;
static struct checked_server	*servers;	/* [nservers], by server id */
static unsigned			 nservers;
static struct ev_timer		 passive_timer;
static struct ev_io		 sigio;

static void
publish(struct checked_server *c)
{
	c->snap.state = c->tally.state;
	c->snap.passes = c->tally.passes;
	c->snap.fails = c->tally.fails;
	shm_health_write(c->row, &c->snap);
}

static void
log_change(const struct checked_server *c, enum health_change change,
    const char *reason)
{
	const struct conf_server *s = c->server;
	char line[512];

	health_change_text(line, sizeof(line), s->pool->name, s->name,
	    s->addr.text, change, &c->tally, reason);
	if (change == HEALTH_WENT_DOWN)
		log_warn("%s", line);
	else
		log_notice("%s", line);
}

/* Arms the next check `ms` from now, unless it is already due sooner. */
static void
schedule(struct checked_server *c, uint64_t ms)
{
	if (ev_timer_active(&c->tick) && c->tick.when <= ev_now(loop) + ms)
		return;
	/* Two timers per server were reserved: the heap cannot be full. */
	if (ev_timer_start(loop, &c->tick, ms) == -1)
		fatalx("%s: timer heap full", __func__);
}

static void
on_tick(struct ev_loop *l, struct ev_timer *t)
{
	struct checked_server *c = (struct checked_server *)((char *)t -
	    offsetof(struct checked_server, tick));

	c->last_start = ev_now(l);
	health_probe_start(&c->probe);
}

/* The time from one check's start to the next's. */
static unsigned
next_interval(struct checked_server *c)
{
	unsigned interval = c->server->pool->health_interval_ms;
	bool moving;

	if (c->tally.state == SERVER_UP)
		c->starting = false;
	moving = c->starting || (c->tally.state == SERVER_DOWN ?
	    c->tally.passes > 0 : c->tally.fails > 0);
	return moving && interval > HEALTH_FAST_MS ? HEALTH_FAST_MS : interval;
}

/* An active check ended: count it, publish, and plan the next one. */
static void
on_result(struct health_probe *p, const struct health_result *r)
{
	struct checked_server *c = p->arg;
	const struct conf_pool *pool = c->server->pool;
	enum health_change change;
	uint64_t next, now;

	change = health_judge(&c->tally, r->passed ? HEALTH_PASS :
	    HEALTH_FAIL, 1, pool->health_rise, pool->health_fall);
	c->snap.checks++;
	c->snap.latency_us = r->latency_us;
	c->snap.last_status = r->status;
	strlcpy(c->snap.last_error, r->error, sizeof(c->snap.last_error));
	c->snap.checked_ms = process_wall_ms();
	if (change != HEALTH_SAME) {
		c->snap.changed_ms = c->snap.checked_ms;
		log_change(c, change, r->error);
	}
	publish(c);

	/* The loop's clock: a check that failed at once ends in the same
	   turn as it started. */
	now = ev_now(loop);
	next = c->last_start + next_interval(c);
	ev_timer_stop(loop, &c->tick);
	schedule(c, next > now ? next - now : 0);
}

/* Counts the failures workers saw since the last look at one server. */
static void
passive_one(struct checked_server *c)
{
	const struct conf_pool *pool = c->server->pool;
	uint64_t sum, fresh, due;

	sum = shm_server_sum(table, c->server->id,
	    offsetof(struct server_counters, failures));
	if (sum == c->snap.passive_seen)
		return;
	if (sum < c->snap.passive_seen) {
		/* Counters of another generation: start from these. */
		c->snap.passive_seen = sum;
		publish(c);
		return;
	}
	fresh = sum - c->snap.passive_seen;
	c->snap.passive_seen = sum;
	health_judge(&c->tally, HEALTH_PASSIVE_FAIL,
	    fresh > UINT32_MAX ? UINT32_MAX : (uint32_t)fresh,
	    pool->health_rise, pool->health_fall);
	publish(c);
	if (c->tally.state != SERVER_UP || health_probe_running(&c->probe))
		return;
	due = c->last_start + HEALTH_RECHECK_MIN_MS;
	schedule(c, due > ev_now(loop) ? due - ev_now(loop) : 0);
}

/*
 * A managed server whose process exited, or was replaced, is down at once:
 * the new process must pass health_rise checks before it gets traffic.
 */
static void
managed_one(struct checked_server *c)
{
	const struct conf_server *s = c->server;
	int32_t pid;

	pid = atomic_load(&table->managed[s->id].pid);
	if (pid == c->managed_pid)
		return;
	c->managed_pid = pid;
	c->starting = pid != 0;
	if (c->starting && !health_probe_running(&c->probe))
		schedule(c, HEALTH_FAST_MS);
	if (c->tally.state != SERVER_UP)
		return;
	c->tally.state = SERVER_DOWN;
	c->tally.passes = c->tally.fails = 0;
	c->snap.changed_ms = process_wall_ms();
	strlcpy(c->snap.last_error, pid == 0 ? "process exited" :
	    "process restarted", sizeof(c->snap.last_error));
	publish(c);
	log_warn("server %s/%s %s is DOWN: %s", s->pool->name, s->name,
	    s->addr.text, c->snap.last_error);
}

static void
on_passive(struct ev_loop *l, struct ev_timer *t)
{
	unsigned i;

	for (i = 0; i < nservers; i++) {
		if (servers[i].server->pool->health_check == HEALTH_OFF)
			continue;
		if (servers[i].server->run != NULL)
			managed_one(&servers[i]);
		passive_one(&servers[i]);
	}
	if (ev_timer_start(l, t, HEALTH_PASSIVE_MS) == -1)
		fatalx("%s: timer heap full", __func__);
}

static void
on_signal(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	int sig;

	while ((sig = process_read_signal(io->fd)) > 0)
		if (sig == SIGQUIT || sig == SIGTERM || sig == SIGINT)
			ev_stop(l);
		else if (sig == SIGUSR1)
			log_reopen();
}

/*
 * Loads one server's row into the checker's memory and plans its first
 * check.  A server of a pool without checks is set up if a row carried
 * over from another configuration says down: nothing else would raise it.
 */
static void
setup_one(struct checked_server *c, const struct conf_server *s)
{
	const struct conf_pool *pool = s->pool;

	c->server = s;
	c->row = &table->health[s->id];
	shm_health_read(c->row, &c->snap);
	c->tally.state = c->snap.state == SERVER_DOWN ? SERVER_DOWN :
	    SERVER_UP;
	c->tally.passes = c->snap.passes;
	c->tally.fails = c->snap.fails;
	c->tally.passive = 0;
	c->managed_pid = atomic_load(&table->managed[s->id].pid);
	ev_timer_init(&c->tick, on_tick);
	if (pool->health_check == HEALTH_OFF) {
		if (c->tally.state == SERVER_DOWN) {
			c->tally.state = SERVER_UP;
			c->tally.passes = c->tally.fails = 0;
			c->snap.changed_ms = process_wall_ms();
			publish(c);
			log_notice("server %s/%s %s is UP: health checks are "
			    "off", pool->name, s->name, s->addr.text);
		}
		return;
	}
	if (health_probe_init(&c->probe, loop, s, on_result, c) == -1)
		fatalx("%s: health request for %s/%s too long", __func__,
		    pool->name, s->name);
	/* A managed server's new process (the supervisor marked it down,
	   "starting") is checked at once and then quickly until it is up. */
	c->starting = c->tally.state == SERVER_DOWN &&
	    strcmp(c->snap.last_error, "starting") == 0;
	if (c->starting)
		schedule(c, 0);
	else
		schedule(c, (uint64_t)s->id * pool->health_interval_ms /
		    nservers);
}

static void
setup(const struct health_args *args)
{
	const struct conf *conf = args->conf;
	unsigned i;

	table = args->shm;
	if (conf->nservers > table->hdr->nservers)
		fatalx("%s: %u servers but %u health rows", __func__,
		    conf->nservers, table->hdr->nservers);
	/* Two timers per server (next check, deadline) and the passive
	   timer. */
	if ((loop = ev_create(2 * conf->nservers + 1)) == NULL)
		fatal("ev_create");
	nservers = conf->nservers;
	if (nservers > 0 &&
	    (servers = calloc(nservers, sizeof(*servers))) == NULL)
		fatal("calloc");
	for (i = 0; i < nservers; i++)
		setup_one(&servers[i], &conf->servers[i]);
	ev_timer_init(&passive_timer, on_passive);
	if (ev_timer_start(loop, &passive_timer, HEALTH_PASSIVE_MS) == -1)
		fatalx("%s: timer heap full", __func__);
	log_info("checking %u servers in %u pools", nservers, conf->npools);
}

void
health_main(const struct health_args *args)
{
	char title[64];
	unsigned i;
	int sigfd;

	snprintf(title, sizeof(title), "health checker (generation %llu)",
	    (unsigned long long)args->generation);
	sigfd = process_child_start(args->supervisor, title);
	setup(args);
	ev_io_init(&sigio, sigfd, on_signal);
	if (ev_io_set(loop, &sigio, EPOLLIN) == -1)
		fatal("epoll signalfd");
	if (ev_run(loop) == -1)
		fatal("epoll_wait");

	for (i = 0; i < nservers; i++)
		if (servers[i].server->pool->health_check != HEALTH_OFF)
			health_probe_stop(&servers[i].probe);
	free(servers);
	ev_destroy(loop);
	close(sigfd);
	exit(0);
}
