/*
 * Managed servers.  Each is a process started from its server line's run=
 * (argv split by the config loader, no shell), its stdout and stderr read
 * through a pipe into the error log, prefixed with the server's name.
 *
 * one_for_one for servers: an exit restarts that server alone, after a
 * backoff that starts at BACKOFF_MIN_MS and doubles up to BACKOFF_MAX_MS
 * while it keeps failing quickly.  A server restarted more than
 * restart_intensity times within restart_period is given up on: left
 * stopped (its health checks fail, so it is down) and logged; the balancer
 * and the other servers carry on.  A reload gives it a new start.
 *
 * A server being replaced (its line changed) or another taking its address
 * waits for the old process to exit, so the two never fight over a port.
 *
 * All deadlines (restarts after a backoff, SIGKILL after a grace) share one
 * timer of the supervisor's loop, so any number of managed servers costs
 * the loop's timer heap a single entry.
 *
 * A managed server asks the kernel for SIGTERM when the supervisor dies, so
 * no exit path of the supervisor leaves one behind (unless it ignores
 * SIGTERM: nothing is left then to send SIGKILL).
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>
#include <bsd/unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/process.h"
#include "supervisor/managed.h"

/* The newest configuration's servers, and as many still being stopped. */
#define MANAGED_MAX	(2 * CONF_MAX_SERVERS)
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define STABLE_MS	10000	/* a run this long resets the backoff */
#define OUTPUT_LINE_MAX	1024	/* longer output lines are cut */
#define OUTPUT_DRAIN_MAX 65536	/* read after an exit: a pipe's capacity */

struct managed {
	bool		 used;
	char		 pool[CONF_NAME_MAX];
	char		 name[CONF_NAME_MAX];
	char		 label[2 * CONF_NAME_MAX];	/* "pool/server" */
	char		 addr[CONF_ADDR_MAX];
	char		 line[sizeof(((struct conf_run *)0)->line_text)];
	/* In the newest configuration; NULL once retiring. */
	const struct conf_server *server;
	const struct conf *conf;
	struct shm	*shm;
	pid_t		 pid;
	struct ev_io	 out;		/* fd -1 when closed */
	char		 buf[OUTPUT_LINE_MAX];	/* the line being read */
	size_t		 len;
	size_t		 cut;		/* bytes of that line dropped */
	uint64_t	 start_at;	/* monotonic ms; 0 = no start due */
	uint64_t	 kill_at;	/* SIGKILL due; 0 = none */
	uint64_t	 started;
	unsigned	 backoff_ms;
	uint64_t	 window_start;	/* restart intensity window */
	unsigned	 window_restarts;
	unsigned	 restarts;
	unsigned	 grace_ms;	/* SIGTERM to SIGKILL */
	bool		 retiring;	/* stopping, never to be restarted */
	bool		 waiting;	/* starts once its predecessor exits */
	bool		 given_up;
};

static struct managed	 table[MANAGED_MAX];
static struct ev_loop	*loop;
static struct ev_timer	 tick;

#define CONTAINER(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

static struct managed_row *
row(const struct managed *m)
{
	return &m->shm->managed[m->server->id];
}

/* Arms the one timer for the earliest deadline of any server. */
static void
schedule(void)
{
	uint64_t next = UINT64_MAX, now = ev_now(loop);
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++) {
		if (!table[i].used)
			continue;
		if (table[i].start_at != 0 && table[i].start_at < next)
			next = table[i].start_at;
		if (table[i].kill_at != 0 && table[i].kill_at < next)
			next = table[i].kill_at;
	}
	if (next == UINT64_MAX)
		ev_timer_stop(loop, &tick);
	else if (ev_timer_start(loop, &tick, next > now ? next - now : 0) ==
	    -1)
		fatalx("%s: timer heap full", __func__);
}

/* Logs the line in buf, noting how much of it was cut, and empties buf. */
static void
log_line(struct managed *m)
{
	if (m->cut == 0 && m->len > 0 && m->buf[m->len - 1] == '\r')
		m->len--;
	if (m->cut > 0)
		log_info("server %s: %.*s [line cut: %zu more bytes]",
		    m->label, (int)m->len, m->buf, m->cut);
	else
		log_info("server %s: %.*s", m->label, (int)m->len, m->buf);
	m->len = m->cut = 0;
}

/* Adds n bytes of output, logging each line as its end arrives. */
static void
take_output(struct managed *m, const char *p, size_t n)
{
	const char *nl;
	size_t k, copy;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		copy = sizeof(m->buf) - m->len;
		if (copy > k)
			copy = k;
		memcpy(m->buf + m->len, p, copy);
		m->len += copy;
		m->cut += k - copy;
		if (nl == NULL)
			return;
		log_line(m);
		p += k + 1;
		n -= k + 1;
	}
}

/* Reads once from the output pipe: bytes read, 0 at EOF, -1 (errno). */
static ssize_t
read_output(struct managed *m)
{
	char chunk[OUTPUT_LINE_MAX];
	ssize_t n;

	if ((n = read(m->out.fd, chunk, sizeof(chunk))) > 0)
		take_output(m, chunk, (size_t)n);
	return n;
}

/*
 * Reads what the pipe still holds (a process's last words arrive after
 * its exit is reaped, as often as not), logs it, and closes the pipe.
 */
static void
close_output(struct managed *m)
{
	size_t total = 0;
	ssize_t n;

	if (m->out.fd == -1)
		return;
	while (total < OUTPUT_DRAIN_MAX &&
	    ((n = read_output(m)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			total += (size_t)n;
	if (m->len > 0 || m->cut > 0)
		log_line(m);
	ev_io_stop(loop, &m->out);
	close(m->out.fd);
	m->out.fd = -1;
}

static void
on_output(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct managed *m = CONTAINER(io, struct managed, out);
	ssize_t n;

	n = read_output(m);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1)
		log_warn("server %s: output: %s", m->label, strerror(errno));
	if (n <= 0)
		close_output(m);
}

/* In the child: becomes the server's program, or exits 127 saying why. */
static void __attribute__((noreturn))
exec_server(const struct managed *m, int out, pid_t parent)
{
	const struct conf_run *run = m->server->run;
	const char *user = run->user[0] != '\0' ? run->user : m->conf->user;
	char err[256];
	sigset_t none;
	int i, null;

	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
	    signal(SIGPIPE, SIG_DFL) == SIG_ERR)
		_exit(127);
	if ((null = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(null, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(out, STDERR_FILENO) == -1)
		_exit(127);
	closefrom(STDERR_FILENO + 1);
	/* Out of the supervisor's process group: a Ctrl-C at the terminal
	   reaches the supervisor, which then stops its servers in order. */
	if (setpgid(0, 0) == -1)
		_exit(127);
	if (run->cwd[0] != '\0' && chdir(run->cwd) == -1) {
		fprintf(stderr, "cwd %s: %s\n", run->cwd, strerror(errno));
		_exit(127);
	}
	/* systemd's conversation is the supervisor's, not the server's. */
	unsetenv("NOTIFY_SOCKET");
	for (i = 0; i < run->nenv; i++)
		putenv(run->env[i]);
	if (process_drop_privileges(user, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		_exit(127);
	}
	/* After the change of user, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(127);
	execvp(run->argv[0], run->argv);
	fprintf(stderr, "exec %s: %s\n", run->argv[0], strerror(errno));
	_exit(127);
}

/* Forks and runs the server's process.  Returns 0, or -1 and why. */
static int
spawn(struct managed *m, char *why, size_t whylen)
{
	pid_t parent = getpid(), pid;
	int p[2];

	close_output(m);
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		exec_server(m, p[1], parent);
	close(p[1]);
	/* Unread, the pipe would fill and block the server: close it. */
	ev_io_init(&m->out, p[0], on_output);
	if (net_set_nonblock(p[0]) == -1 ||
	    ev_io_set(loop, &m->out, EPOLLIN) == -1) {
		log_error("server %s: output pipe: %s", m->label,
		    strerror(errno));
		close(p[0]);
		m->out.fd = -1;
	}
	m->pid = pid;
	m->started = ev_now(loop);
	atomic_store(&row(m)->pid, pid);
	log_notice("server %s started: pid %ld", m->label, (long)pid);
	return 0;
}

/* Past its restart intensity, a server is left stopped. */
static bool
restart_allowed(struct managed *m)
{
	uint64_t now = ev_now(loop);

	if (m->window_restarts == 0 ||
	    now - m->window_start > m->conf->restart_period_ms) {
		m->window_start = now;
		m->window_restarts = 0;
	}
	return ++m->window_restarts <= m->conf->restart_intensity;
}

/*
 * A server that stopped by itself (`how` says why) starts again after its
 * backoff, or is given up on past its restart intensity.
 */
static void
restart_later(struct managed *m, const char *how)
{
	if (!restart_allowed(m)) {
		log_error("server %s %s: more than %u restarts in %ums, "
		    "giving up: it stays stopped", m->label, how,
		    m->conf->restart_intensity, m->conf->restart_period_ms);
		m->given_up = true;
		atomic_store(&row(m)->given_up, 1);
		return;
	}
	if (ev_now(loop) - m->started >= STABLE_MS || m->backoff_ms == 0)
		m->backoff_ms = BACKOFF_MIN_MS;
	else if ((m->backoff_ms *= 2) > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
	log_warn("server %s %s, restarting in %ums", m->label, how,
	    m->backoff_ms);
	m->restarts++;
	atomic_store(&row(m)->restarts, m->restarts);
	m->start_at = ev_now(loop) + m->backoff_ms;
	schedule();
}

/* Starts the server now; a failure to fork counts as an exit. */
static void
start(struct managed *m)
{
	char why[128], how[160];

	m->waiting = false;
	if (spawn(m, why, sizeof(why)) == 0)
		return;
	snprintf(how, sizeof(how), "could not start (%s)", why);
	restart_later(m, how);
}

/* Whether a retiring process still runs at the label or address. */
static bool
predecessor_running(const struct managed *m)
{
	const struct managed *o;
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++) {
		o = &table[i];
		if (o->used && o->retiring && o->pid != 0 &&
		    (strcmp(o->label, m->label) == 0 ||
		    strcmp(o->addr, m->addr) == 0))
			return true;
	}
	return false;
}

/* Starts the servers that were waiting for a process that has exited. */
static void
start_waiting(void)
{
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++)
		if (table[i].used && table[i].waiting &&
		    !predecessor_running(&table[i]))
			start(&table[i]);
}

static void
exited(struct managed *m, int status)
{
	char what[48], how[80];

	if (WIFSIGNALED(status))
		snprintf(what, sizeof(what), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(what, sizeof(what), "exited with status %d",
		    WEXITSTATUS(status));
	snprintf(how, sizeof(how), "(pid %ld) %s", (long)m->pid, what);
	close_output(m);
	if (m->retiring) {
		log_notice("server %s (pid %ld) stopped: %s", m->label,
		    (long)m->pid, what);
		m->pid = 0;
		m->used = false;
		m->kill_at = 0;
		start_waiting();
		schedule();
		return;
	}
	m->pid = 0;
	atomic_store(&row(m)->pid, 0);
	atomic_store(&row(m)->last_status, status);
	restart_later(m, how);
}

bool
managed_reap(pid_t pid, int status)
{
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++)
		if (table[i].used && table[i].pid == pid) {
			exited(&table[i], status);
			return true;
		}
	return false;
}

static void
on_tick(struct ev_loop *l, struct ev_timer *t)
{
	uint64_t now = ev_now(l);
	struct managed *m;
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++) {
		m = &table[i];
		if (m->used && m->kill_at != 0 && m->kill_at <= now) {
			m->kill_at = 0;
			log_warn("server %s (pid %ld) still running %ums after "
			    "SIGTERM, killed", m->label, (long)m->pid,
			    m->grace_ms);
			if (kill(m->pid, SIGKILL) == -1 && errno != ESRCH)
				log_warn("server %s: kill: %s", m->label,
				    strerror(errno));
		}
		if (m->used && m->start_at != 0 && m->start_at <= now) {
			m->start_at = 0;
			start(m);
		}
	}
	schedule();
}

/* SIGTERM now, SIGKILL after grace_ms; never restarted. */
static void
stop(struct managed *m)
{
	m->retiring = true;
	m->waiting = false;
	m->start_at = 0;
	m->server = NULL;
	m->conf = NULL;
	m->shm = NULL;
	if (m->pid == 0) {
		m->used = false;
		return;
	}
	if (kill(m->pid, SIGTERM) == -1 && errno != ESRCH)
		log_warn("server %s: kill: %s", m->label, strerror(errno));
	m->kill_at = ev_now(loop) + m->grace_ms;
	schedule();
}

static struct managed *
find(const char *label)
{
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++)
		if (table[i].used && !table[i].retiring &&
		    strcmp(table[i].label, label) == 0)
			return &table[i];
	return NULL;
}

/* Points a server at the newest configuration and its tables. */
static void
adopt(struct managed *m, const struct conf *conf,
    const struct conf_server *s, struct shm *shm)
{
	struct managed_row *old = m->shm != NULL ? row(m) : NULL;

	m->conf = conf;
	m->server = s;
	m->shm = shm;
	m->grace_ms = conf->shutdown_timeout_ms;
	if (old == NULL || old == row(m))
		return;
	atomic_store(&row(m)->pid, atomic_load(&old->pid));
	atomic_store(&row(m)->restarts, m->restarts);
	atomic_store(&row(m)->last_status, atomic_load(&old->last_status));
	atomic_store(&row(m)->given_up, m->given_up);
}

static struct managed *
add(const struct conf *conf, const struct conf_server *s, struct shm *shm)
{
	struct managed *m;
	unsigned i;

	for (i = 0; i < MANAGED_MAX && table[i].used; i++)
		;
	if (i == MANAGED_MAX)
		return NULL;
	m = &table[i];
	memset(m, 0, sizeof(*m));
	m->used = true;
	m->out.fd = -1;
	strlcpy(m->pool, s->pool->name, sizeof(m->pool));
	strlcpy(m->name, s->name, sizeof(m->name));
	snprintf(m->label, sizeof(m->label), "%s/%s", s->pool->name,
	    s->name);
	strlcpy(m->addr, s->addr.text, sizeof(m->addr));
	strlcpy(m->line, s->run->line_text, sizeof(m->line));
	adopt(m, conf, s, shm);
	return m;
}

/* A new process is down until its health checks pass. */
static void
mark_down(struct shm *shm, unsigned id)
{
	struct health_snapshot snap;

	shm_health_read(&shm->health[id], &snap);
	snap.state = SERVER_DOWN;
	snap.passes = snap.fails = 0;
	snap.changed_ms = process_wall_ms();
	strlcpy(snap.last_error, "starting", sizeof(snap.last_error));
	shm_health_write(&shm->health[id], &snap);
}

/* A reload gives a server that was given up on a new start. */
static void
retry(struct managed *m)
{
	m->given_up = false;
	m->window_restarts = 0;
	m->backoff_ms = 0;
	atomic_store(&row(m)->given_up, 0);
	mark_down(m->shm, m->server->id);
	start(m);
}

/* Stops the servers `conf` no longer names as managed. */
static void
stop_removed(const struct conf *conf)
{
	const struct conf_server *s;
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++) {
		if (!table[i].used || table[i].retiring)
			continue;
		s = conf_find_server(conf, table[i].pool, table[i].name);
		if (s == NULL || s->run == NULL)
			stop(&table[i]);
	}
}

void
managed_apply(struct ev_loop *l, const struct conf *conf, struct shm *shm)
{
	const struct conf_server *s;
	struct managed *m;
	char label[2 * CONF_NAME_MAX];
	unsigned i;

	if (loop == NULL)
		ev_timer_init(&tick, on_tick);
	loop = l;
	/* First, so that a server taking over an address waits for it. */
	stop_removed(conf);
	for (i = 0; i < conf->nservers; i++) {
		s = &conf->servers[i];
		if (s->run == NULL)
			continue;
		snprintf(label, sizeof(label), "%s/%s", s->pool->name,
		    s->name);
		if ((m = find(label)) != NULL &&
		    strcmp(m->line, s->run->line_text) == 0) {
			adopt(m, conf, s, shm);
			if (m->given_up)
				retry(m);
			continue;
		}
		if (m != NULL)
			stop(m);
		if ((m = add(conf, s, shm)) == NULL) {
			log_error("server %s: more than %d managed servers "
			    "running or stopping", label, MANAGED_MAX);
			continue;
		}
		mark_down(shm, s->id);
		if (predecessor_running(m))
			m->waiting = true;
		else
			start(m);
	}
}

void
managed_stop_all(unsigned grace_ms)
{
	uint64_t deadline;
	struct managed *m;
	unsigned i;

	if (loop == NULL)
		return;
	deadline = ev_now(loop) + grace_ms;
	for (i = 0; i < MANAGED_MAX; i++) {
		m = &table[i];
		if (!m->used)
			continue;
		if (!m->retiring) {
			m->grace_ms = grace_ms;
			stop(m);
		} else if (m->kill_at > deadline) {
			/* Stopping since a reload: no longer than the rest. */
			m->grace_ms = grace_ms;
			m->kill_at = deadline;
		}
	}
	schedule();
}

unsigned
managed_running(void)
{
	unsigned i, n = 0;

	for (i = 0; i < MANAGED_MAX; i++)
		if (table[i].used && table[i].pid != 0)
			n++;
	return n;
}

void
managed_close_fds(void)
{
	unsigned i;

	for (i = 0; i < MANAGED_MAX; i++)
		if (table[i].used && table[i].out.fd != -1)
			close(table[i].out.fd);
}
