/*
 * The worker's life: set up, loop, drain, exit.  The worker owns its
 * slot's listening sockets and its signals; every accepted connection
 * goes to the proxy engine (proxy.c).
 *
 * Signals (through the signalfd of process_child_start()):
 *   SIGQUIT  drain: close the listeners, finish what is in flight, close
 *            idle keep-alives, exit when no connection is left or soon
 *            after shutdown_timeout.  The supervisor's death arrives as
 *            SIGQUIT too (PR_SET_PDEATHSIG), so an orphaned worker drains.
 *   SIGTERM, SIGINT  exit at once.
 *   SIGUSR1  reopen the error log and the access log.
 *
 * The access log (access_log = PATH) is opened by each worker at start,
 * after the change of user, so the file must be writable by `user`.  A
 * worker that cannot open it exits with status 1 and says why: the
 * supervisor restarts it, and once the failures pass restart_intensity it
 * stops forklift with the reason in the error log, rather than serving
 * requests nobody can account for.  Lines still held are written out at
 * any exit (access_log.c).
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "common/net.h"
#include "common/process.h"
#include "worker/access_log.h"
#include "worker/balance.h"
#include "worker/proxy.h"
#include "worker/worker.h"

#if defined(__has_include)
#if __has_include("worker/admin.h")
#include "worker/admin.h"
#define HAVE_ADMIN	1
#endif
#endif
#ifndef HAVE_ADMIN
#define ADMIN_TIMERS	0
#endif

/* Connections taken per listener wakeup, so one busy listener cannot
   starve the connections already open. */
#define ACCEPT_BATCH	64
/* Pause in accepting after the process ran out of descriptors. */
#define ACCEPT_PAUSE_MS	100
/* Timers of the worker itself: accept pause, shutdown deadline, drain
   poll, the access log's flush, and one spare. */
#define WORKER_TIMERS	5
/* While draining with admin responses still going out, look this often
   whether the worker may exit. */
#define DRAIN_POLL_MS	50
/*
 * A draining worker cuts what is left this long after shutdown_timeout.
 * The supervisor stops its children at shutdown_timeout itself (and says
 * so); the worker's own deadline is the backstop for a worker whose
 * supervisor is gone, and must not race the supervisor's.
 */
#define SHUTDOWN_SLACK_MS	500
/* Descriptors beyond what the proxy holds (proxy_descriptors_needed). */
#define SPARE_FDS	64

struct listener {
	struct ev_io			 io;
	const struct conf_listener	*conf;
};

static struct {
	const struct worker_args	*args;
	struct ev_loop			*loop;
	struct listener			 listeners[CONF_MAX_LISTENERS];
	unsigned			 nlisteners;
	bool				 accepting;	/* in epoll */
	bool				 paused;	/* no descriptors */
	bool				 draining;
	struct ev_io			 sigio;
	struct ev_timer			 pause_timer;
	struct ev_timer			 shutdown_timer;
	struct ev_timer			 drain_timer;
} w;

/*
 * Puts the listeners in epoll or takes them out, as the connection count,
 * a descriptor shortage and draining allow.  At max_connections the
 * worker just stops accepting: connections wait in the kernel's queue (or
 * go to another worker) instead of being accepted and reset.
 */
static void
update_accepting(void)
{
	bool want = !w.draining && !w.paused &&
	    proxy_clients() < w.args->conf->max_connections;
	unsigned i;

	if (want == w.accepting)
		return;
	for (i = 0; i < w.nlisteners; i++)
		if (ev_io_set(w.loop, &w.listeners[i].io,
		    want ? EPOLLIN : 0) == -1)
			fatal("epoll_ctl listener");
	w.accepting = want;
}

static void
on_pause_end(struct ev_loop *l, struct ev_timer *t)
{
	w.paused = false;
	update_accepting();
}

/* Listeners are level-triggered: what is left after a batch wakes us
   again on the next turn. */
static void
on_accept(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct listener *lis = (struct listener *)io;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, n;

	for (n = 0; n < ACCEPT_BATCH && w.accepting; n++) {
		len = sizeof(ss);
		fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			log_warn("accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				w.paused = true;
				update_accepting();
				if (ev_timer_start(l, &w.pause_timer,
				    ACCEPT_PAUSE_MS) == -1)
					fatalx("worker: timer heap full");
			}
			return;
		}
		proxy_accept(fd, lis->conf, (struct sockaddr *)&ss, len);
		update_accepting();
	}
}

/* Connections of any kind still open. */
static unsigned
connections(void)
{
#ifdef HAVE_ADMIN
	return proxy_clients() + admin_connections();
#else
	return proxy_clients();
#endif
}

/* While draining: exits the loop once nothing is left. */
static void
check_drained(void)
{
	if (connections() == 0)
		ev_stop(w.loop);
	else if (proxy_clients() == 0 && !ev_timer_active(&w.drain_timer) &&
	    ev_timer_start(w.loop, &w.drain_timer, DRAIN_POLL_MS) == -1)
		fatalx("worker: timer heap full");
}

static void
on_drain_poll(struct ev_loop *l, struct ev_timer *t)
{
	check_drained();
}

/* A client connection closed. */
static void
on_release(void)
{
	if (w.draining)
		check_drained();
	else
		update_accepting();
}

static void
on_shutdown_timeout(struct ev_loop *l, struct ev_timer *t)
{
	log_warn("shutdown timeout: closing %u connections", connections());
	ev_stop(l);
}

/*
 * Starts draining: closes this worker's copies of the listening sockets
 * (the supervisor keeps its own, so queued connections are not reset)
 * and lets the proxy finish what is in flight.
 */
static void
drain(void)
{
	unsigned i;

	if (w.draining)
		return;
	w.draining = true;
	update_accepting();
	for (i = 0; i < w.nlisteners; i++)
		if (close(w.listeners[i].io.fd) == -1)
			log_warn("close listener: %s", strerror(errno));
	w.nlisteners = 0;
	if (ev_timer_start(w.loop, &w.shutdown_timer,
	    (uint64_t)w.args->conf->shutdown_timeout_ms + SHUTDOWN_SLACK_MS)
	    == -1)
		fatalx("worker: timer heap full");
#ifdef HAVE_ADMIN
	admin_stop(w.loop);
#endif
	proxy_drain();
	check_drained();
}

static void
on_signal(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	int sig;

	while ((sig = process_read_signal(io->fd)) > 0) {
		switch (sig) {
		case SIGQUIT:
			log_info("draining %u connections", proxy_clients());
			drain();
			break;
		case SIGTERM:
		case SIGINT:
			exit(0);
		case SIGUSR1:
			if (log_reopen() == -1)
				log_warn("cannot reopen the error log");
			/* Says why itself, and keeps the old file. */
			(void)access_log_reopen();
			break;
		default:
			break;
		}
	}
	if (sig == -1)
		fatal("read signalfd");
}

/* Raises the descriptor limit to what max_connections needs, if allowed. */
static void
raise_nofile(const struct conf *conf)
{
	struct rlimit rl;
	rlim_t need = proxy_descriptors_needed(conf) + SPARE_FDS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit: %s", strerror(errno));
	if (rl.rlim_cur < need)
		log_warn("max_connections %u needs %llu descriptors, the "
		    "limit is %llu", conf->max_connections,
		    (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
}

static void
setup(const struct worker_args *args)
{
	const struct conf *conf = args->conf;
	char title[64], err[256];
	unsigned i;
	int sigfd;

	snprintf(title, sizeof(title), "worker %u (generation %llu)",
	    args->slot, (unsigned long long)args->generation);
	sigfd = process_child_start(args->supervisor, title);
	w.args = args;
	raise_nofile(conf);
	if (lb_init(conf, args->slot) == -1)
		fatalx("lb_init: out of memory");
	if ((w.loop = ev_create(proxy_timers_needed(conf) + WORKER_TIMERS +
	    ADMIN_TIMERS)) == NULL)
		fatal("ev_create");
	/* Before the proxy, which gathers log fields only if it is on.  An
	   error, not an alert: the supervisor's giving up is the alert. */
	if (access_log_open(conf->access_log, err, sizeof(err)) == -1) {
		log_error("%s", err);
		exit(1);
	}
	if (access_log_enabled() && access_log_timer_start(w.loop) == -1)
		fatalx("worker: timer heap full");
	if (proxy_init(conf, args->shm, args->slot, w.loop, on_release, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	ev_io_init(&w.sigio, sigfd, on_signal);
	if (ev_io_set(w.loop, &w.sigio, EPOLLIN) == -1)
		fatal("epoll signalfd");
	ev_timer_init(&w.pause_timer, on_pause_end);
	ev_timer_init(&w.shutdown_timer, on_shutdown_timeout);
	ev_timer_init(&w.drain_timer, on_drain_poll);
	for (i = 0; i < conf->nlisteners; i++) {
		ev_io_init(&w.listeners[i].io, args->listen_fds[i], on_accept);
		w.listeners[i].conf = &conf->listeners[i];
		/* Accepted sockets inherit TCP_NODELAY from the listener
		   (Linux), which saves a setsockopt per connection. */
		if (net_set_nodelay(args->listen_fds[i]) == -1)
			log_warn("TCP_NODELAY on %s: %s",
			    conf->listeners[i].bind.text, strerror(errno));
	}
	w.nlisteners = conf->nlisteners;
	update_accepting();
#ifdef HAVE_ADMIN
	if (args->admin_fd != -1 && admin_start(w.loop, args) == -1)
		log_warn("the admin endpoints are off in this worker");
#endif
}

void
worker_main(const struct worker_args *args)
{
	setup(args);
	if (ev_run(w.loop) == -1)
		fatal("epoll_wait");
	/* Drained, or out of time: what is still open is cut. */
	exit(0);
}
