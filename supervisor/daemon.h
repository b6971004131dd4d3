/*
 * The supervisor's own process, apart from its children: the file
 * descriptor limit, the pidfile, detaching from the launching shell and
 * telling it how the start went.
 */
#ifndef FORKLIFT_DAEMON_H
#define FORKLIFT_DAEMON_H

#include <stddef.h>

#include "common/config.h"

/*
 * Raises RLIMIT_NOFILE to what a worker of `conf` needs, before the
 * children drop privileges.  Returns 0, or -1 with why in err.
 */
int	daemon_raise_nofile(const struct conf *, char *err, size_t errlen);

/*
 * Opens and locks conf->pidfile, refusing a second supervisor.  Returns 0,
 * or -1 with why on stderr.
 */
int	daemon_open_pidfile(const struct conf *);

/* Writes this process's pid into the pidfile.  Returns 0 or -1. */
int	daemon_write_pidfile(void);

/* Removes the pidfile and lets go of its lock. */
void	daemon_remove_pidfile(void);

/*
 * Forks the daemon, which returns 0 in a new session; the launcher stays
 * to wait for daemon_tell_launcher() and exits with the outcome.  Returns
 * -1 (said on stderr) if it cannot fork.
 */
int	daemon_detach(void);

/*
 * With a launcher waiting (daemon_detach()): tells it `word`, "ok" or why
 * the start failed, closes the pipe, and points stdin, stdout and (unless
 * it is the error log) stderr at /dev/null.  Without one, does nothing.
 */
void	daemon_tell_launcher(const char *word);

/*
 * Logs `what` and errno's text, tells the launcher, and returns the
 * supervisor's exit status for a failed start (1).
 */
int	daemon_startup_failed(const char *what);

/* In a newly forked worker or checker: closes the pidfile and the pipe
   to the launcher. */
void	daemon_close_fds(void);

#endif
