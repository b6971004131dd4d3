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
 * and the other servers carry on.
 *
 * A managed server asks the kernel for SIGTERM when the supervisor dies, so
 * no exit path of the supervisor leaves one behind.
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

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define STABLE_MS	10000	/* a run this long resets the backoff */
#define OUTPUT_LINE_MAX	1024	/* longer output lines are cut */

struct managed {
	bool		 used;
	char		 label[2 * CONF_NAME_MAX];	/* "pool/server" */
	char		 line[sizeof(((struct conf_run *)0)->line_text)];
	const struct conf_server *server;	/* in the newest conf */
	const struct conf *conf;
	struct shm	*shm;
	pid_t		 pid;
	struct ev_io	 out;
	char		 buf[OUTPUT_LINE_MAX];
	size_t		 len;
	struct ev_timer	 start_timer;
	struct ev_timer	 kill_timer;
	uint64_t	 started;
	unsigned	 backoff_ms;
	uint64_t	 window_start;	/* restart intensity window */
	unsigned	 window_restarts;
	unsigned	 restarts;
	unsigned	 grace_ms;	/* SIGTERM to SIGKILL */
	bool		 retiring;	/* not to be restarted */
	bool		 given_up;
	struct managed	*successor;	/* starts once this one has exited */
};

static struct managed	 table[CONF_MAX_SERVERS];
static struct ev_loop	*loop;

#define CONTAINER(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

static struct managed_row *
row(const struct managed *m)
{
	return &m->shm->managed[m->server->id];
}

/* Logs complete lines of output; with `all`, the rest too. */
static void
log_output(struct managed *m, bool all)
{
	char *nl;
	size_t n;

	while ((nl = memchr(m->buf, '\n', m->len)) != NULL ||
	    (all && m->len > 0) || m->len == sizeof(m->buf)) {
		n = nl != NULL ? (size_t)(nl - m->buf) : m->len;
		log_info("server %s: %.*s", m->label, (int)n, m->buf);
		if (nl != NULL)
			n++;
		memmove(m->buf, m->buf + n, m->len - n);
		m->len -= n;
	}
}

static void
close_output(struct managed *m)
{
	if (m->out.fd == -1)
		return;
	log_output(m, true);
	ev_io_stop(loop, &m->out);
	close(m->out.fd);
	m->out.fd = -1;
}

static void
on_output(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct managed *m = CONTAINER(io, struct managed, out);
	ssize_t n;

	n = read(io->fd, m->buf + m->len, sizeof(m->buf) - m->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_output(m);
		return;
	}
	m->len += (size_t)n;
	log_output(m, false);
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
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if ((null = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(null, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(out, STDERR_FILENO) == -1)
		_exit(127);
	closefrom(STDERR_FILENO + 1);
	if (run->cwd[0] != '\0' && chdir(run->cwd) == -1) {
		fprintf(stderr, "cwd %s: %s\n", run->cwd, strerror(errno));
		_exit(127);
	}
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

static void
spawn(struct managed *m)
{
	pid_t parent = getpid(), pid;
	int p[2];

	close_output(m);
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_error("server %s: pipe: %s", m->label, strerror(errno));
		return;
	}
	if ((pid = fork()) == -1) {
		log_error("server %s: fork: %s", m->label, strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0)
		exec_server(m, p[1], parent);
	close(p[1]);
	if (net_set_nonblock(p[0]) == -1)
		log_warn("server %s: output pipe: %s", m->label,
		    strerror(errno));
	ev_io_init(&m->out, p[0], on_output);
	if (ev_io_set(loop, &m->out, EPOLLIN) == -1)
		log_warn("server %s: output: %s", m->label, strerror(errno));
	m->pid = pid;
	m->started = ev_now(loop);
	atomic_store(&row(m)->pid, pid);
	log_notice("server %s started: pid %ld", m->label, (long)pid);
}

static void
on_start_timer(struct ev_loop *l, struct ev_timer *t)
{
	spawn(CONTAINER(t, struct managed, start_timer));
}

static void
on_kill_timer(struct ev_loop *l, struct ev_timer *t)
{
	struct managed *m = CONTAINER(t, struct managed, kill_timer);

	if (m->pid == 0)
		return;
	log_warn("server %s (pid %ld) still running %ums after SIGTERM, "
	    "killed", m->label, (long)m->pid, m->grace_ms);
	kill(m->pid, SIGKILL);
}

static void
stop(struct managed *m)
{
	m->retiring = true;
	ev_timer_stop(loop, &m->start_timer);
	if (m->pid == 0) {
		m->used = false;
		return;
	}
	if (kill(m->pid, SIGTERM) == -1 && errno != ESRCH)
		log_warn("server %s: kill: %s", m->label, strerror(errno));
	ev_timer_start(loop, &m->kill_timer, m->grace_ms);
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

static void
exited(struct managed *m, int status)
{
	char how[48];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	close_output(m);
	ev_timer_stop(loop, &m->kill_timer);
	if (m->retiring) {
		log_notice("server %s (pid %ld) stopped: %s", m->label,
		    (long)m->pid, how);
		m->used = false;
		if (m->successor != NULL)
			spawn(m->successor);
		return;
	}
	atomic_store(&row(m)->pid, 0);
	atomic_store(&row(m)->last_status, status);
	if (!restart_allowed(m)) {
		log_error("server %s (pid %ld) %s: more than %u restarts in "
		    "%ums, giving up: it stays stopped", m->label,
		    (long)m->pid, how, m->conf->restart_intensity,
		    m->conf->restart_period_ms);
		m->given_up = true;
		atomic_store(&row(m)->given_up, 1);
		m->pid = 0;
		return;
	}
	if (ev_now(loop) - m->started >= STABLE_MS || m->backoff_ms == 0)
		m->backoff_ms = BACKOFF_MIN_MS;
	else if ((m->backoff_ms *= 2) > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
	log_warn("server %s (pid %ld) %s, restarting in %ums", m->label,
	    (long)m->pid, how, m->backoff_ms);
	m->pid = 0;
	m->restarts++;
	atomic_store(&row(m)->restarts, m->restarts);
	ev_timer_start(loop, &m->start_timer, m->backoff_ms);
}

bool
managed_reap(pid_t pid, int status)
{
	unsigned i;

	for (i = 0; i < CONF_MAX_SERVERS; i++)
		if (table[i].used && table[i].pid == pid) {
			exited(&table[i], status);
			return true;
		}
	return false;
}

static struct managed *
find(const char *label)
{
	unsigned i;

	for (i = 0; i < CONF_MAX_SERVERS; i++)
		if (table[i].used && !table[i].retiring &&
		    strcmp(table[i].label, label) == 0)
			return &table[i];
	return NULL;
}

static struct managed *
add(const struct conf *conf, const struct conf_server *s, struct shm *shm,
    const char *label)
{
	struct managed *m;
	unsigned i;

	for (i = 0; i < CONF_MAX_SERVERS && table[i].used; i++)
		;
	if (i == CONF_MAX_SERVERS)
		return NULL;
	m = &table[i];
	memset(m, 0, sizeof(*m));
	m->used = true;
	m->out.fd = -1;
	strlcpy(m->label, label, sizeof(m->label));
	strlcpy(m->line, s->run->line_text, sizeof(m->line));
	m->conf = conf;
	m->server = s;
	m->shm = shm;
	m->grace_ms = conf->shutdown_timeout_ms;
	ev_timer_init(&m->start_timer, on_start_timer);
	ev_timer_init(&m->kill_timer, on_kill_timer);
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

/* Moves a running server to the new generation's tables. */
static void
adopt(struct managed *m, const struct conf *conf,
    const struct conf_server *s, struct shm *shm)
{
	struct managed_row *old = row(m);

	m->conf = conf;
	m->server = s;
	m->shm = shm;
	m->grace_ms = conf->shutdown_timeout_ms;
	atomic_store(&row(m)->pid, atomic_load(&old->pid));
	atomic_store(&row(m)->restarts, m->restarts);
	atomic_store(&row(m)->last_status, atomic_load(&old->last_status));
	atomic_store(&row(m)->given_up, m->given_up);
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
	spawn(m);
}

void
managed_apply(struct ev_loop *l, const struct conf *conf, struct shm *shm)
{
	const struct conf_server *s;
	struct managed *m, *next;
	char label[2 * CONF_NAME_MAX];
	bool named[CONF_MAX_SERVERS] = { false };
	unsigned i;

	loop = l;
	for (i = 0; i < conf->nservers; i++) {
		s = &conf->servers[i];
		if (s->run == NULL)
			continue;
		snprintf(label, sizeof(label), "%s/%s", s->pool->name,
		    s->name);
		if ((m = find(label)) != NULL &&
		    strcmp(m->line, s->run->line_text) == 0) {
			adopt(m, conf, s, shm);
			named[m - table] = true;
			if (m->given_up)
				retry(m);
			continue;
		}
		if ((next = add(conf, s, shm, label)) == NULL) {
			log_error("server %s: too many managed servers", label);
			continue;
		}
		named[next - table] = true;
		mark_down(shm, s->id);
		if (m != NULL && m->pid != 0) {
			/* Changed: the new one starts once the old is gone. */
			m->successor = next;
			stop(m);
		} else {
			if (m != NULL)
				stop(m);
			spawn(next);
		}
	}
	for (i = 0; i < CONF_MAX_SERVERS; i++)
		if (table[i].used && !table[i].retiring && !named[i])
			stop(&table[i]);
}

void
managed_stop_all(unsigned grace_ms)
{
	unsigned i;

	for (i = 0; i < CONF_MAX_SERVERS; i++)
		if (table[i].used && !table[i].retiring) {
			table[i].grace_ms = grace_ms;
			table[i].successor = NULL;
			stop(&table[i]);
		}
}

unsigned
managed_running(void)
{
	unsigned i, n = 0;

	for (i = 0; i < CONF_MAX_SERVERS; i++)
		if (table[i].used && table[i].pid != 0)
			n++;
	return n;
}

void
managed_close_fds(void)
{
	unsigned i;

	for (i = 0; i < CONF_MAX_SERVERS; i++)
		if (table[i].used && table[i].out.fd != -1)
			close(table[i].out.fd);
}
