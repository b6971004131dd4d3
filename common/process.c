/*
 * Child start-up shared by the workers and the health checker, and the
 * signal plumbing every process uses.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/unistd.h>

#include "common/log.h"
#include "common/process.h"

void
process_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGCHLD);
}

int
process_child_start(pid_t supervisor, const char *title)
{
	char role[64];
	sigset_t set;
	size_t n;
	int fd;

	setproctitle("%s", title);
	/* Log lines name the role, not the generation: "worker 2: ...". */
	n = strcspn(title, "(");
	while (n > 0 && title[n - 1] == ' ')
		n--;
	snprintf(role, sizeof(role), "%.*s", (int)n, title);
	log_set_role(role);
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1)
		fatal("prctl(PR_SET_PDEATHSIG)");
	/* The supervisor may have gone before prctl took effect. */
	if (getppid() != supervisor)
		fatalx("supervisor %ld is gone", (long)supervisor);
	process_signal_set(&set);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	/* Broken pipes are answered by write(2) errors, not a signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal(SIGPIPE)");
	return fd;
}

int
process_read_signal(int sigfd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	n = read(sigfd, &si, sizeof(si));
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	if (n != (ssize_t)sizeof(si))
		return -1;
	return (int)si.ssi_signo;
}

int
process_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user[0] == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "could regain root after becoming %s",
		    user);
		return -1;
	}
	return 0;
}

long long
process_wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}
