/*
 * The listening sockets: one SO_REUSEPORT socket per bind address per
 * worker slot, opened and held by the supervisor for its whole life, so a
 * replacement worker (or the next generation's) inherits the same socket
 * and the connections queued on it are served, not reset.
 */
#ifndef FORKLIFT_LISTENERS_H
#define FORKLIFT_LISTENERS_H

#include <stddef.h>

#include "common/config.h"

/*
 * Makes sure a socket exists for every [listen] bind and the [admin] bind
 * of `conf`, in every slot below conf->workers; opens only what is
 * missing.  On failure closes what this call opened and returns -1 with a
 * message in err: the sockets that were there stay.
 */
int	listeners_open(const struct conf *, char *err, size_t errlen);

/*
 * Closes the sockets `conf` does not use: addresses no longer bound and
 * slots at or above conf->workers; returns how many it closed.  Their
 * queued connections are reset, the price of changing `bind` or lowering
 * `workers`, unless net.ipv4.tcp_migrate_req = 1 moves those of a retired
 * slot to the sockets of the same address that stay.
 */
unsigned listeners_retire(const struct conf *);

/*
 * Slot `slot`'s sockets for `conf`: fds[i] for conf->listeners[i], and
 * *admin_fd (-1 without [admin]).
 */
void	listeners_slot(const struct conf *, unsigned slot, int *fds,
	    int *admin_fd);

/* In a child: closes every socket except those in keep[0..nkeep). */
void	listeners_close_except(const int *keep, unsigned nkeep);

void	listeners_close_all(void);

#endif
