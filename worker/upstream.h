/*
 * Connections from a worker to the servers, and the per-server pools of idle
 * keep-alive ones.  An upstream connection is either busy (owned by the
 * client connection it serves, whose callbacks its events go to) or idle
 * (in its server's pool, watched only for the server closing it).
 */
#ifndef FORKLIFT_UPSTREAM_H
#define FORKLIFT_UPSTREAM_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/event.h"

struct upstream {
	struct ev_io		 io;
	struct ev_timer		 timer;
	TAILQ_ENTRY(upstream)	 entry;		/* idle pool or free */
	const struct conf_server *server;
	void			*owner;		/* its client; NULL idle */
	uint32_t		 uses;		/* requests sent on it */
	bool			 connecting;	/* connect(2) going on */
	bool			 can_read;	/* edge, no EAGAIN yet */
	bool			 can_write;
	bool			 rdhup;		/* server shut its side */
};

/*
 * Sets up the pools for `conf` on `loop`: room for `max_busy` busy
 * connections plus every server's keep-alive cap.  Returns 0 or -1.
 */
int		 upstream_init(const struct conf *conf, struct ev_loop *loop,
		    unsigned max_busy);

/*
 * The most recently idled connection to `server` (LIFO: the warmest, the
 * least likely to have been closed by the server), now busy for `owner`
 * with its events going to io_fn and its timer to timer_fn, with no
 * deadline; or NULL when the pool is empty.
 */
struct upstream	*upstream_take(const struct conf_server *server,
		    void *owner, ev_io_fn *io_fn, ev_timer_fn *timer_fn);

/*
 * Starts a non-blocking connect to `server` for `owner`, registered
 * edge-triggered for both directions; wait for io_fn with EPOLLOUT (done)
 * or EPOLLERR (failed).  The timer is the owner's to arm.  Returns NULL
 * with a message in err and errno set when the connect fails at once or
 * no connection slot is free (ENOBUFS).
 */
struct upstream	*upstream_connect(const struct conf_server *server,
		    void *owner, ev_io_fn *io_fn, ev_timer_fn *timer_fn,
		    char *err, size_t errlen);

/*
 * Gives a busy connection back to its server's pool.  The caller vouches
 * that it is reusable: a whole response read, nothing more pending.  The
 * oldest idle connection is closed when the pool is at its cap.
 */
void		 upstream_put(struct upstream *u);

/* Closes the socket and frees the connection, busy or idle. */
void		 upstream_close(struct upstream *u);

/*
 * Sets the connection's deadline `ms` from now, 0 for none: a lazy one
 * (ev_deadline_set), so the timer callback the owner gave first asks
 * ev_deadline_due(loop, &u->timer).  The heap has room for every
 * connection's timer; if it had not, the process ends (fatalx).
 */
void		 upstream_deadline(struct upstream *u, uint64_t ms);

#endif
