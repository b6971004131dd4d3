/*
 * Balancing: which server of a pool serves a request.  Pure functions over
 * the configuration and the shared tables (health, counters, cursors), so
 * that a choice made in one worker accounts for every other worker.
 */
#ifndef FORKLIFT_BALANCE_H
#define FORKLIFT_BALANCE_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/shm.h"

#define LB_MAX_TRIED	16	/* servers excluded from one choice */

/* What a choice may look at; fields a pool's algorithm ignores may be 0. */
struct lb_request {
	const struct sockaddr *client;	/* ip_hash, consistent_hash client_ip */
	const char	*key;		/* consistent_hash: the uri, header or
					   cookie value; NULL if absent */
	size_t		 key_len;
	const unsigned	*tried;		/* server ids already tried */
	unsigned	 ntried;
};

/*
 * Builds this process's per-pool tables (smooth weighted round robin
 * sequences, consistent hash tables) and seeds its random source.
 * Call once in each worker after fork; a second call replaces the tables
 * of the first.  The tables depend on the configuration only, so they are
 * the same in every worker.  Returns 0 or -1 (out of memory).
 */
int	lb_init(const struct conf *, unsigned slot);
void	lb_free(void);

/*
 * Chooses an up server of `pool` that is not in req->tried and not at its
 * max_conns cap (active requests summed over all workers).  Returns its
 * server id (index in conf->servers), or -1 when none is left (the caller
 * answers 503).  req may be NULL: no client, no key, nothing tried.
 * No allocation, lock or system call; `pool` must come from the conf given
 * to lb_init() (else fatalx).  A request without what its pool hashes
 * goes round robin: for consistent_hash a NULL or empty key (header or
 * cookie absent), for ip_hash and client_ip a client that is neither IPv4
 * nor IPv6.
 */
int	lb_choose(const struct conf_pool *, const struct shm *,
	    const struct lb_request *);

/*
 * The value of cookie `name` in a Cookie header value, or NULL.  *len gets
 * its length.  Used to fill lb_request.key for hash_key = cookie:NAME.
 */
const char *lb_cookie_value(const char *cookie, size_t cookie_len,
	    const char *name, size_t *len);

#endif
