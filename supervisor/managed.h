/*
 * Managed servers: local backend processes named by a `run=` on their
 * server line, started, restarted (one_for_one, with backoff and their own
 * restart intensity) and stopped by the supervisor.
 */
#ifndef FORKLIFT_MANAGED_H
#define FORKLIFT_MANAGED_H

#include <sys/types.h>

#include <stdbool.h>

#include "common/config.h"
#include "common/event.h"
#include "common/shm.h"

/*
 * Brings the managed servers in line with `conf` (whose generation's
 * tables are `shm`): an unchanged server keeps running, a new one starts,
 * a changed one is stopped and started again, and one the configuration
 * no longer names is stopped (SIGTERM, SIGKILL after shutdown_timeout).
 * A server taking over the name or address of one being stopped starts
 * once that one has exited.  Every process it starts is marked down in
 * `shm`, so no traffic reaches it before its health checks pass; one
 * given up on gets a new start.  Call it before the generation's workers
 * are forked, and only once `conf` is sure to be used: the servers keep
 * pointers into it until the next call.
 */
void	managed_apply(struct ev_loop *, const struct conf *, struct shm *);

/* Handles the exit of `pid` if it is a managed server; returns whether it
   was one. */
bool	managed_reap(pid_t pid, int status);

/*
 * Stops every managed server: SIGTERM now, SIGKILL after `grace_ms`.  A
 * server already stopping keeps its SIGKILL deadline if that is sooner, so
 * calling it again is harmless.
 */
void	managed_stop_all(unsigned grace_ms);

/* Managed server processes still running. */
unsigned managed_running(void);

/* In a newly forked worker or checker: closes the output pipes. */
void	managed_close_fds(void);

#endif
