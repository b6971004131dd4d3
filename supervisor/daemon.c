/*
 * Becoming a daemon: what the supervisor does to its own process rather
 * than to its children.  The pidfile is libbsd's, locked for as long as
 * the supervisor lives, so a second start and -s can tell it is running;
 * detaching is a fork and a pipe the launcher waits on.  See daemon.h for
 * the contracts.
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bsd/libutil.h>

#include "common/log.h"
#include "supervisor/daemon.h"
#include "worker/proxy.h"

#define FD_SLACK	256	/* descriptors a worker needs beyond its
				   connections */

static struct pidfh	*pidfh;
static int		 ready_fd = -1;	/* pipe to the launcher, or -1 */

/*
 * Raises RLIMIT_NOFILE to what a worker needs: what its proxy may hold
 * (proxy_descriptors_needed) and FD_SLACK for listeners, the loop, logs
 * and admin connections.  Root may
 * raise the hard limit too; it must happen here, before the children drop
 * privileges and no longer can.  Returns 0, or -1 with why in err.
 */
int
daemon_raise_nofile(const struct conf *conf, char *err, size_t errlen)
{
	rlim_t need = proxy_descriptors_needed(conf) + FD_SLACK;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(err, errlen, "getrlimit: %s", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return 0;
	rl.rlim_cur = need;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(err, errlen, "max_connections = %u needs %llu file "
		    "descriptors per worker, more than RLIMIT_NOFILE allows "
		    "(%s): raise the limit (ulimit -n, LimitNOFILE=) or lower "
		    "max_connections", conf->max_connections,
		    (unsigned long long)need, strerror(errno));
		return -1;
	}
	return 0;
}

int
daemon_open_pidfile(const struct conf *conf)
{
	pid_t other = 0;

	pidfh = pidfile_open(conf->pidfile, 0644, &other);
	if (pidfh != NULL)
		return 0;
	if (errno == EEXIST)
		fprintf(stderr, "forklift: already running as pid %ld "
		    "(pidfile %s)\n", (long)other, conf->pidfile);
	else
		fprintf(stderr, "forklift: pidfile %s: %s\n", conf->pidfile,
		    strerror(errno));
	return -1;
}

int
daemon_write_pidfile(void)
{
	return pidfile_write(pidfh);
}

void
daemon_remove_pidfile(void)
{
	pidfile_remove(pidfh);
}

/*
 * Daemon start: the launcher forks the daemon and waits on a pipe until
 * the daemon says "ok" (its listeners are bound and its children forked)
 * or why it could not start, so the shell sees the real outcome.
 */
int
daemon_detach(void)
{
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		fprintf(stderr, "forklift: detach: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		ready_fd = p[1];
		if (setsid() == -1)
			fatal("setsid");
		return 0;
	}
	close(p[1]);
	while (len < sizeof(buf) - 1 &&
	    ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	buf[len] = '\0';
	if (strcmp(buf, "ok") == 0)
		_exit(0);
	fprintf(stderr, "forklift: %s\n", len > 0 ? buf :
	    "the daemon exited before it was ready");
	_exit(1);
}

/* Tells the launcher (if any) how the start went, then lets go of it. */
void
daemon_tell_launcher(const char *word)
{
	int fd;

	if (ready_fd == -1)
		return;
	if (write(ready_fd, word, strlen(word)) == -1)
		log_warn("telling the launcher: %s", strerror(errno));
	close(ready_fd);
	ready_fd = -1;
	if ((fd = open("/dev/null", O_RDWR)) == -1) {
		log_warn("open /dev/null: %s", strerror(errno));
		return;
	}
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    (!log_is_stderr() && dup2(fd, STDERR_FILENO) == -1))
		log_warn("dup2 /dev/null: %s", strerror(errno));
	if (fd > STDERR_FILENO)
		close(fd);
}

int
daemon_startup_failed(const char *what)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	log_alert("%s", msg);
	daemon_tell_launcher(msg);
	return 1;
}

void
daemon_close_fds(void)
{
	if (pidfh != NULL)
		pidfile_close(pidfh);
	if (ready_fd != -1)
		close(ready_fd);
}
