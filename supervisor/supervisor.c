/*
 * The life of the supervisor, top to bottom:
 *
 *   start   pidfile, listening sockets, detach, the first generation's
 *           shared memory and children (workers and the health checker);
 *   loop    signals through a signalfd: SIGCHLD reaps and restarts one
 *           child (one_for_one, with restart intensity), SIGHUP reloads,
 *           SIGQUIT drains, SIGTERM/SIGINT stop, SIGUSR1 reopens logs;
 *   stop    every child gone, the pidfile removed.
 *
 * A generation is one loaded configuration with its shared memory and its
 * children.  A reload starts a new generation on the same sockets, then
 * tells the old one to drain; old generations end when their last child
 * has exited, or are killed at their deadline.
 */
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <bsd/unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "common/process.h"
#include "common/shm.h"
#include "health/health.h"
#include "supervisor/daemon.h"
#include "supervisor/listeners.h"
#include "supervisor/managed.h"
#include "supervisor/notify.h"
#include "supervisor/supervisor.h"
#include "worker/worker.h"

#define MAX_GENERATIONS	18	/* the current one + max_draining (<= 16) + 1 */
#define MAX_CHILDREN	(MAX_GENERATIONS * (CONF_MAX_WORKERS + 1))
#define MAX_RESTARTS	4096	/* restart times remembered */
#define RESPAWN_RETRY_MS 1000	/* after a fork failed on restart */
#define TERM_GRACE_MS	5000	/* SIGTERM to SIGKILL on a fast stop */
/* On a stop, SIGKILL comes this long after the children's own grace. */
#define KILL_GRACE_MS	1000
/* Timers of the supervisor's loop: one drain deadline per generation, the
   stop deadline, the respawn retry and the managed servers' tick, with
   room to spare. */
#define MAX_TIMERS	(MAX_GENERATIONS + 4)

enum role {
	ROLE_WORKER,
	ROLE_HEALTH,
};

enum mode {
	RUNNING,
	QUITTING,	/* SIGQUIT: children drain */
	TERMINATING,	/* SIGTERM: children stop now */
};

struct generation {
	uint64_t	 number;
	struct conf	*conf;
	struct shm	*shm;
	bool		 draining;
	bool		 killed;	/* SIGKILLed before it drained */
	unsigned	 nchildren;
	struct ev_timer	 deadline;	/* drain deadline */
};

struct child {
	pid_t		 pid;
	enum role	 role;
	unsigned	 slot;
	struct generation *gen;
};

static struct {
	struct ev_loop	*loop;
	struct ev_io	 sigio;
	bool		 foreground;	/* -f: the error log is stderr */
	enum mode	 mode;
	int		 status;	/* exit status */
	struct ev_timer	 stop_timer;
	struct ev_timer	 respawn;	/* retries a failed restart */
	unsigned	 stop_grace_ms;
	bool		 managed_stopping;
	struct generation *gens[MAX_GENERATIONS];	/* oldest first */
	unsigned	 ngens;
	uint64_t	 last_number;	/* of the newest generation made */
	struct child	 children[MAX_CHILDREN];
	unsigned	 nchildren;
	uint64_t	 restarts[MAX_RESTARTS];	/* ring of times */
	unsigned	 nrestarts;
	uint64_t	 total_restarts;
	long long	 started_ms;
} sup;

static struct generation *
current(void)
{
	return sup.gens[sup.ngens - 1];
}

static const char *
role_name(enum role role)
{
	return role == ROLE_WORKER ? "worker" : "health checker";
}

/* "worker 2" or "health checker", for log lines. */
static const char *
child_name(const struct child *c, char *buf, size_t len)
{
	if (c->role == ROLE_WORKER)
		snprintf(buf, len, "worker %u", c->slot);
	else
		strlcpy(buf, role_name(c->role), len);
	return buf;
}

/* "killed by signal 9" or "exited with status 1". */
static const char *
wait_text(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	return buf;
}

/*
 * In the new child: let go of the supervisor's descriptors, keep only the
 * sockets this role needs, drop privileges, and run the role.
 */
static void __attribute__((noreturn))
child_run(struct generation *g, enum role role, unsigned slot, pid_t parent)
{
	int fds[CONF_MAX_LISTENERS + 1], admin_fd, keep[CONF_MAX_LISTENERS + 1];
	struct worker_args wa;
	struct health_args ha;
	char err[256];
	unsigned i, n = 0;

	close(sup.sigio.fd);
	ev_destroy(sup.loop);
	daemon_close_fds();
	managed_close_fds();
	if (role == ROLE_WORKER) {
		listeners_slot(g->conf, slot, fds, &admin_fd);
		for (i = 0; i < g->conf->nlisteners; i++)
			keep[n++] = fds[i];
		keep[n++] = admin_fd;
		listeners_close_except(keep, n);
	} else
		listeners_close_all();
	if (process_drop_privileges(g->conf->user, err, sizeof(err)) == -1) {
		log_alert("%s: %s", role_name(role), err);
		_exit(EXIT_NO_RESTART);
	}
	if (role == ROLE_WORKER) {
		wa = (struct worker_args){ .conf = g->conf, .shm = g->shm,
		    .generation = g->number, .slot = slot,
		    .supervisor = parent, .listen_fds = fds,
		    .admin_fd = admin_fd };
		worker_main(&wa);
	}
	ha = (struct health_args){ .conf = g->conf, .shm = g->shm,
	    .generation = g->number, .supervisor = parent };
	health_main(&ha);
}

/* Forks one child of `g` into `slot`.  Returns 0 or -1 (logged). */
static int
spawn(struct generation *g, enum role role, unsigned slot)
{
	pid_t parent = getpid(), pid;
	struct child *c;

	if (sup.nchildren == MAX_CHILDREN) {
		log_error("too many children to start %s", role_name(role));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_error("fork %s: %s", role_name(role), strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_run(g, role, slot, parent);
	c = &sup.children[sup.nchildren++];
	*c = (struct child){ .pid = pid, .role = role, .slot = slot,
	    .gen = g };
	g->nchildren++;
	if (role == ROLE_WORKER)
		atomic_store(&g->shm->slots[slot].pid, pid);
	else
		atomic_store(&g->shm->hdr->health_pid, pid);
	return 0;
}

static void
signal_generation(const struct generation *g, int sig)
{
	unsigned i;

	for (i = 0; i < sup.nchildren; i++)
		if (sup.children[i].gen == g &&
		    kill(sup.children[i].pid, sig) == -1 && errno != ESRCH)
			log_warn("kill %ld: %s", (long)sup.children[i].pid,
			    strerror(errno));
}

static void
signal_all(int sig)
{
	unsigned i;

	for (i = 0; i < sup.ngens; i++)
		signal_generation(sup.gens[i], sig);
}

/* Forks g's checker and workers; stops at the first that fails (-1). */
static int
start_generation(struct generation *g)
{
	unsigned slot;

	if (spawn(g, ROLE_HEALTH, 0) == -1)
		return -1;
	for (slot = 0; slot < g->conf->workers; slot++)
		if (spawn(g, ROLE_WORKER, slot) == -1)
			return -1;
	return 0;
}

/* A generation for `conf` with the next number; NULL with errno set. */
static struct generation *
generation_new(struct conf *conf)
{
	struct generation *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->number = sup.last_number + 1;
	g->conf = conf;
	g->shm = shm_create(g->number, conf->workers, conf->nservers,
	    conf->npools);
	if (g->shm == NULL) {
		free(g);
		return NULL;
	}
	sup.last_number = g->number;
	g->shm->hdr->supervisor_pid = getpid();
	g->shm->hdr->started_ms = sup.started_ms;
	g->shm->hdr->restarts = sup.total_restarts;
	return g;
}

/* Frees an ended generation and drops it from the list. */
static void
generation_end(struct generation *g)
{
	unsigned i, j;

	ev_timer_stop(sup.loop, &g->deadline);
	for (i = j = 0; i < sup.ngens; i++)
		if (sup.gens[i] != g)
			sup.gens[j++] = sup.gens[i];
	sup.ngens = j;
	if (g->killed)
		log_info("generation %llu has ended",
		    (unsigned long long)g->number);
	else if (g->draining)
		log_info("generation %llu has drained",
		    (unsigned long long)g->number);
	shm_destroy(g->shm);
	conf_free(g->conf);
	free(g);
}

static void
on_drain_deadline(struct ev_loop *loop, struct ev_timer *t)
{
	struct generation *g = (struct generation *)((char *)t -
	    offsetof(struct generation, deadline));

	log_warn("generation %llu: %u %s still draining after %ums: killed",
	    (unsigned long long)g->number, g->nchildren,
	    g->nchildren == 1 ? "child" : "children",
	    g->conf->shutdown_timeout_ms);
	g->killed = true;
	signal_generation(g, SIGKILL);
}

/*
 * Tells g's children to drain (SIGQUIT) and kills what is left of them at
 * shutdown_timeout (a worker's own deadline comes a little later: it is
 * for a worker whose supervisor is gone).  A generation with no child
 * left ends here, so g may be freed on return.
 */
static void
drain_generation(struct generation *g)
{
	g->draining = true;
	if (g->nchildren == 0) {
		generation_end(g);
		return;
	}
	signal_generation(g, SIGQUIT);
	ev_timer_init(&g->deadline, on_drain_deadline);
	if (ev_timer_start(sup.loop, &g->deadline,
	    g->conf->shutdown_timeout_ms) == -1)
		fatalx("%s: timer heap full", __func__);
}

/*
 * Past max old generations draining, the oldest are killed at once.  One
 * already killed is only waiting to be reaped: it does not count.
 */
static void
limit_draining(unsigned max)
{
	struct generation *g;
	unsigned i, draining = 0;

	for (i = 0; i < sup.ngens; i++)
		if (sup.gens[i]->draining && !sup.gens[i]->killed)
			draining++;
	for (i = 0; i < sup.ngens && draining > max; i++) {
		g = sup.gens[i];
		if (!g->draining || g->killed)
			continue;
		log_warn("generation %llu still draining, killed: "
		    "max_draining_generations = %u",
		    (unsigned long long)g->number, max);
		ev_timer_stop(sup.loop, &g->deadline);
		g->killed = true;
		signal_generation(g, SIGKILL);
		draining--;
	}
}

/*
 * Servers whose pool, name and address are unchanged keep their health
 * across a reload; new servers start up.
 */
static void
carry_health(const struct generation *from, struct generation *to)
{
	const struct conf_server *old, *s;
	struct health_snapshot snap;
	unsigned i;

	for (i = 0; i < to->conf->nservers; i++) {
		s = &to->conf->servers[i];
		old = conf_find_server(from->conf, s->pool->name, s->name);
		if (old == NULL || old->addr.len != s->addr.len ||
		    memcmp(&old->addr.ss, &s->addr.ss, s->addr.len) != 0)
			continue;
		shm_health_read(&from->shm->health[old->id], &snap);
		/* The new generation's failure counters start from zero. */
		snap.passive_seen = 0;
		shm_health_write(&to->shm->health[s->id], &snap);
	}
	for (i = 0; i < to->conf->workers && i < from->conf->workers; i++)
		to->shm->slots[i].restarts =
		    atomic_load(&from->shm->slots[i].restarts);
}

static void
keep_string(const char *key, const char *old, char *new, size_t len)
{
	if (strcmp(old, new) == 0)
		return;
	log_warn("reload: %s cannot change without a restart; keeping "
	    "\"%s\"", key, old);
	strlcpy(new, old, len);
}

/* Settings a reload cannot change keep their running value. */
static void
keep_fixed_settings(const struct conf *old, struct conf *new)
{
	keep_string("pidfile", old->pidfile, new->pidfile,
	    sizeof(new->pidfile));
	keep_string("user", old->user, new->user, sizeof(new->user));
	keep_string("error_log", old->error_log, new->error_log,
	    sizeof(new->error_log));
	if (old->daemon != new->daemon) {
		log_warn("reload: daemon cannot change without a restart");
		new->daemon = old->daemon;
	}
}

static void reload_generation(struct generation *);

static void
reload(void)
{
	struct generation *old = current();
	struct timespec ts;
	char state[64];

	log_notice("reloading %s", old->conf->path);
	/* systemd's Type=notify-reload wants to know when the reload began. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(state);
	reload_generation(old);
	notify_send("READY=1");
}

/*
 * A new generation that could not fork all its children: `old` stays
 * current, the managed servers and the sockets go back to what it uses,
 * and what the new one started drains away (it may have accepted).
 */
static void
abandon_generation(struct generation *g, struct generation *old)
{
	log_error("reload failed: generation %llu could not start its "
	    "children; keeping generation %llu",
	    (unsigned long long)g->number, (unsigned long long)old->number);
	/* Listed just before `old`, which stays the last, the current. */
	sup.gens[sup.ngens - 1] = g;
	sup.gens[sup.ngens++] = old;
	managed_apply(sup.loop, old->conf, old->shm);
	listeners_retire(old->conf);
	drain_generation(g);
}

/*
 * The body of a reload.  The old generation is told to drain only once
 * every child of the new one is forked; on any failure before that it
 * keeps serving as it was.
 */
static void
reload_generation(struct generation *old)
{
	unsigned long long old_number = old->number;
	struct generation *g;
	char err[1024];
	struct conf *conf;
	unsigned closed;

	if ((conf = conf_load(old->conf->path, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		log_error("reload failed: keeping generation %llu",
		    old_number);
		return;
	}
	if (sup.foreground)
		strlcpy(conf->error_log, "stderr", sizeof(conf->error_log));
	keep_fixed_settings(old->conf, conf);
	if (sup.ngens == MAX_GENERATIONS) {
		log_error("reload refused: %u generations still running",
		    sup.ngens);
		conf_free(conf);
		return;
	}
	if (daemon_raise_nofile(conf, err, sizeof(err)) == -1 ||
	    listeners_open(conf, err, sizeof(err)) == -1) {
		log_error("reload failed: %s; keeping generation %llu", err,
		    old_number);
		conf_free(conf);
		return;
	}
	if ((g = generation_new(conf)) == NULL) {
		log_error("reload failed: shared memory: %s; keeping "
		    "generation %llu", strerror(errno), old_number);
		listeners_retire(old->conf);
		conf_free(conf);
		return;
	}
	carry_health(old, g);
	managed_apply(sup.loop, conf, g->shm);
	if (start_generation(g) == -1) {
		abandon_generation(g, old);
		return;
	}
	sup.gens[sup.ngens++] = g;
	/* old may be freed from here on. */
	drain_generation(old);
	limit_draining(conf->max_draining);
	if ((closed = listeners_retire(conf)) > 0)
		log_notice("reload: closed %u listening sockets no longer "
		    "used", closed);
	log_notice("generation %llu serving %s; generation %llu draining",
	    (unsigned long long)g->number, conf->path, old_number);
}

/*
 * OTP's restart intensity: more than restart_intensity restarts within
 * restart_period and the supervisor gives up.
 */
static bool
restart_allowed(const struct conf *conf)
{
	uint64_t now = ev_now(sup.loop);
	unsigned i, n, recent = 0;

	sup.restarts[sup.nrestarts++ % MAX_RESTARTS] = now;
	n = sup.nrestarts < MAX_RESTARTS ? sup.nrestarts : MAX_RESTARTS;
	/* n >= 1 after the increment; cppcheck loses the ++ and says 0. */
	/* cppcheck-suppress knownConditionTrueFalse */
	for (i = 0; i < n; i++)
		if (now - sup.restarts[i] < conf->restart_period_ms)
			recent++;
	return recent <= conf->restart_intensity;
}

static void begin_stop(enum mode, int status);

/*
 * While stopping: the managed servers are stopped once the workers and
 * checkers are gone (a draining worker may have requests at them), and
 * the loop ends once they are gone too.
 */
static void
stop_progress(void)
{
	if (sup.mode == RUNNING || sup.nchildren > 0)
		return;
	if (!sup.managed_stopping) {
		sup.managed_stopping = true;
		managed_stop_all(sup.stop_grace_ms);
	}
	if (managed_running() == 0)
		ev_stop(sup.loop);
}

static bool
slot_filled(const struct generation *g, enum role role, unsigned slot)
{
	unsigned i;

	for (i = 0; i < sup.nchildren; i++)
		if (sup.children[i].gen == g && sup.children[i].role == role &&
		    (role == ROLE_HEALTH || sup.children[i].slot == slot))
			return true;
	return false;
}

/*
 * A replacement whose fork failed (out of processes or memory) is tried
 * again every RESPAWN_RETRY_MS, so a slot is never left empty for good:
 * its socket would queue connections nobody accepts.
 */
static void
on_respawn(struct ev_loop *loop, struct ev_timer *t)
{
	struct generation *g;
	unsigned slot;
	int failed = 0;

	if (sup.mode != RUNNING || sup.ngens == 0)
		return;
	g = current();
	if (!slot_filled(g, ROLE_HEALTH, 0))
		failed |= spawn(g, ROLE_HEALTH, 0);
	for (slot = 0; slot < g->conf->workers; slot++)
		if (!slot_filled(g, ROLE_WORKER, slot))
			failed |= spawn(g, ROLE_WORKER, slot);
	if (failed)
		ev_timer_start(loop, t, RESPAWN_RETRY_MS);
}

static void
restart(struct generation *g, enum role role, unsigned slot)
{
	if (role == ROLE_WORKER) {
		shm_slot_clear_active(g->shm, slot);
		atomic_fetch_add(&g->shm->slots[slot].restarts, 1);
	}
	sup.total_restarts++;
	atomic_store(&g->shm->hdr->restarts, sup.total_restarts);
	if (spawn(g, role, slot) == -1 && !ev_timer_active(&sup.respawn))
		ev_timer_start(sup.loop, &sup.respawn, RESPAWN_RETRY_MS);
}

/* One child has exited: account for it, and restart it if it should. */
static void
child_exited(struct child *c, int status)
{
	struct child gone = *c;
	struct generation *g = gone.gen;
	char name[32], how[48];

	*c = sup.children[--sup.nchildren];
	g->nchildren--;
	child_name(&gone, name, sizeof(name));
	wait_text(status, how, sizeof(how));
	if (g->draining || sup.mode != RUNNING) {
		log_info("%s of generation %llu (pid %ld) %s", name,
		    (unsigned long long)g->number, (long)gone.pid, how);
		if (g->nchildren == 0 && (g->draining || sup.mode != RUNNING))
			generation_end(g);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NO_RESTART) {
		log_alert("%s (pid %ld) cannot start and a restart will not "
		    "help: stopping", name, (long)gone.pid);
		begin_stop(TERMINATING, 1);
		return;
	}
	if (!restart_allowed(g->conf)) {
		log_warn("%s (pid %ld) %s", name, (long)gone.pid, how);
		log_alert("more than %u restarts in %ums: giving up",
		    g->conf->restart_intensity, g->conf->restart_period_ms);
		begin_stop(TERMINATING, 1);
		return;
	}
	log_warn("%s (pid %ld) %s, restarting", name, (long)gone.pid, how);
	restart(g, gone.role, gone.slot);
}

static void
reap(void)
{
	unsigned i;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sup.nchildren; i++)
			if (sup.children[i].pid == pid)
				break;
		if (i < sup.nchildren)
			child_exited(&sup.children[i], status);
		else
			managed_reap(pid, status);
	}
	if (pid == -1 && errno != ECHILD)
		log_error("waitpid: %s", strerror(errno));
	stop_progress();
}

static void
on_stop_deadline(struct ev_loop *loop, struct ev_timer *t)
{
	log_warn("%u children still running after the stop deadline, killed",
	    sup.nchildren);
	signal_all(SIGKILL);
}

/*
 * Stops every child: SIGQUIT lets them drain within shutdown_timeout,
 * SIGTERM gives them TERM_GRACE_MS; SIGKILL after that.  On SIGQUIT the
 * managed servers are stopped after the workers (stop_progress()).  The
 * supervisor's copies of the sockets close now, so new connections are
 * refused rather than queued where nobody will accept them.
 */
static void
begin_stop(enum mode mode, int status)
{
	unsigned grace;

	if (sup.mode == TERMINATING || sup.mode == mode)
		return;
	sup.mode = mode;
	notify_send("STOPPING=1");
	if (status != 0)
		sup.status = status;
	grace = mode == QUITTING ? current()->conf->shutdown_timeout_ms :
	    TERM_GRACE_MS;
	sup.stop_grace_ms = grace;
	listeners_close_all();
	signal_all(mode == QUITTING ? SIGQUIT : SIGTERM);
	if (mode == TERMINATING) {
		sup.managed_stopping = true;
		managed_stop_all(grace);
	}
	ev_timer_init(&sup.stop_timer, on_stop_deadline);
	ev_timer_start(sup.loop, &sup.stop_timer,
	    (uint64_t)grace + KILL_GRACE_MS);
	stop_progress();
}

static void
on_signal(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	int sig;

	while ((sig = process_read_signal(io->fd)) > 0) {
		switch (sig) {
		case SIGCHLD:
			reap();
			break;
		case SIGHUP:
			if (sup.mode == RUNNING)
				reload();
			break;
		case SIGQUIT:
			log_notice("SIGQUIT: draining and stopping");
			begin_stop(QUITTING, 0);
			break;
		case SIGTERM:
		case SIGINT:
			log_notice("%s: stopping", sig == SIGTERM ? "SIGTERM" :
			    "SIGINT");
			begin_stop(TERMINATING, 0);
			break;
		case SIGUSR1:
			log_reopen();
			signal_all(SIGUSR1);
			break;
		}
	}
	if (sig == -1)
		fatal("reading signals");
}

static int
setup_signals(void)
{
	sigset_t set;
	int fd;

	process_signal_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	ev_io_init(&sup.sigio, fd, on_signal);
	return ev_io_set(sup.loop, &sup.sigio, EPOLLIN);
}

int
supervisor_main(struct conf *conf, bool foreground)
{
	struct generation *g;
	char err[1024];

	sup.started_ms = process_wall_ms();
	sup.foreground = foreground;
	if (foreground)
		strlcpy(conf->error_log, "stderr", sizeof(conf->error_log));
	if (log_open(conf->error_log, err, sizeof(err)) == -1) {
		fprintf(stderr, "forklift: error_log %s\n", err);
		return 1;
	}
	if (daemon_raise_nofile(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "forklift: %s\n", err);
		conf_free(conf);
		return 1;
	}
	if (daemon_open_pidfile(conf) == -1) {
		conf_free(conf);
		return 1;
	}
	if (listeners_open(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "forklift: %s\n", err);
		daemon_remove_pidfile();
		conf_free(conf);
		return 1;
	}
	if (conf->daemon && !foreground && daemon_detach() == -1)
		return 1;
	if (daemon_write_pidfile() == -1)
		return daemon_startup_failed("writing the pidfile");
	setproctitle("supervisor");
	if ((sup.loop = ev_create(MAX_TIMERS)) == NULL ||
	    setup_signals() == -1)
		return daemon_startup_failed("event loop");
	ev_timer_init(&sup.respawn, on_respawn);
	if ((g = generation_new(conf)) == NULL)
		return daemon_startup_failed("shared memory");
	sup.gens[sup.ngens++] = g;
	managed_apply(sup.loop, conf, g->shm);
	if (start_generation(g) == -1)
		return daemon_startup_failed("starting children");
	log_notice("forklift started: %u workers, pid %ld", conf->workers,
	    (long)getpid());
	daemon_tell_launcher("ok");
	notify_send("READY=1");

	if (ev_run(sup.loop) == -1)
		log_alert("epoll_wait: %s", strerror(errno));
	while (sup.ngens > 0)
		generation_end(sup.gens[0]);
	listeners_close_all();
	daemon_remove_pidfile();
	log_notice("stopped");
	return sup.status;
}
