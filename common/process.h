/*
 * What every child of the supervisor does on its way in: title, signals,
 * noticing a vanished supervisor, dropping privileges.
 */
#ifndef FORKLIFT_PROCESS_H
#define FORKLIFT_PROCESS_H

#include <sys/types.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Exit status of a child that cannot start for a reason a restart will not
 * fix (it cannot drop privileges, say).  The supervisor does not restart
 * it; it logs why and stops.
 */
#define EXIT_NO_RESTART	78

/*
 * The signals every forklift process takes through a signalfd.  The
 * supervisor blocks them before it forks, so children start with them
 * blocked too and nothing is lost between fork() and signalfd().
 */
void	process_signal_set(sigset_t *);

/*
 * In a newly forked child: titles the process ("forklift: " + title),
 * asks the kernel for SIGQUIT when the supervisor dies and checks it is
 * still there, and returns a non-blocking signalfd for process_signal_set().
 * Exits the child (status 1) if it cannot.
 */
int	process_child_start(pid_t supervisor, const char *title);

/*
 * Switches to `user` and its groups: setgroups, setgid, setuid, in that
 * order, each checked, then proves there is no way back.  An empty user is
 * a no-op.  Returns 0, or -1 with a message in err.
 */
int	process_drop_privileges(const char *user, char *err, size_t errlen);

/* Reads one signal from a signalfd: its number, 0 if none, -1 on error. */
int	process_read_signal(int sigfd);

/* Wall-clock milliseconds since the epoch, for tables people read. */
long long process_wall_ms(void);

#endif
