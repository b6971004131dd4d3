/*
 * What the harness's files share with each other and not with tests:
 * starting, reaping and killing processes, and the record of temp dirs.
 */
#ifndef FORKLIFT_HARNESS_INT_H
#define FORKLIFT_HARNESS_INT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/* Most bytes of a file the harness reads whole (logs, configs). */
#define HI_FILE_MAX	(16 << 20)
/* Longest wait for a SIGKILLed process to be reaped. */
#define HI_KILL_MS	5000

/* Makes this process's harness state if it has none (once per test). */
void	 hi_init(void);
/* Monotonic clock in milliseconds. */
long long hi_now_ms(void);
/* One poll period of every wait (10 ms). */
void	 hi_tick(void);

/*
 * Forks and execs argv[0] with `envp` (NULL: this environment), stdin from
 * /dev/null and stdout/stderr on `out` and `err`; records the child.  The
 * caller keeps its descriptors.  Fails the test if it cannot fork.
 */
pid_t	 hi_spawn(const char *const *argv, char *const *envp, int out, int err);
/* h_run with an environment. */
int	 hi_run(const char *const *argv, char *const *envp, char *out,
	    size_t outlen, int ms);

/* Reaps pid if it exited: 1 (status set), 0 still running, -1 not ours. */
int	 hi_reap(pid_t, int *status);
/* Polls hi_reap up to ms: 1 (status set), 0 still running, -1 not ours. */
int	 hi_wait_exit(pid_t, int ms, int *status);
/* SIGKILLs pid and its descendants, and reaps what is ours. */
void	 hi_kill(pid_t);

/* Records a temp dir: kept and named on stderr unless hi_dir_done(). */
void	 hi_dir_add(const char *);
void	 hi_dir_done(const char *);

/* Reads a file whole (NUL added), at most HI_FILE_MAX bytes; NULL if it
   cannot.  The caller frees it. */
char	*hi_read_file(const char *path, size_t *len);

#endif
