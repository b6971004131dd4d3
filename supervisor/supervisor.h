/*
 * The supervisor: the one process that binds the sockets, owns the shared
 * memory, forks the children and restarts them, and reloads.
 */
#ifndef FORKLIFT_SUPERVISOR_H
#define FORKLIFT_SUPERVISOR_H

#include <stdbool.h>

#include "common/config.h"

/*
 * Runs forklift with `conf` (the supervisor takes ownership) until it is
 * stopped; returns the process exit status.  Unless `foreground` or
 * daemon = no, it detaches, and the launching process exits 0 once the
 * listeners are bound, or 1 with the reason on stderr.
 */
int	supervisor_main(struct conf *conf, bool foreground);

#endif
