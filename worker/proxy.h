/*
 * The proxy engine of a worker: client connections, each driving at most
 * one upstream connection at a time, HTTP/1.1 in and out.  worker.c owns
 * the listeners and the process; it hands every accepted socket to
 * proxy_accept().
 */
#ifndef FORKLIFT_PROXY_H
#define FORKLIFT_PROXY_H

#include <sys/socket.h>

#include <stdint.h>

#include "common/config.h"
#include "common/event.h"
#include "common/shm.h"

/*
 * Timers the proxy may hold at once for `conf`: give the loop at least
 * this many (ev_create) on top of the worker's own.
 */
uint32_t	proxy_timers_needed(const struct conf *conf);

/*
 * Descriptors the proxy may hold at once for `conf`: a client and a server
 * socket per connection, the idle server connections it keeps and the
 * pipes of spliced bodies.
 */
uint64_t	proxy_descriptors_needed(const struct conf *conf);

/*
 * Sets the proxy up for `conf` in worker `slot`, on `loop`.  on_release is
 * called after every client connection closes (so the worker can resume
 * accepting, or exit once drained).  Returns 0, or -1 with a message in
 * err (out of memory).
 */
int		proxy_init(const struct conf *conf, struct shm *shm,
		    unsigned slot, struct ev_loop *loop,
		    void (*on_release)(void), char *err, size_t errlen);

/*
 * Takes over `fd`, a non-blocking client socket accepted on listener `l`
 * from the peer `sa`.  The caller keeps proxy_clients() under
 * conf->max_connections; the proxy closes fd in every case.
 */
void		proxy_accept(int fd, const struct conf_listener *l,
		    const struct sockaddr *sa, socklen_t salen);

/* Client connections open now. */
unsigned	proxy_clients(void);

/*
 * Starts a graceful stop: every response from now on carries
 * "Connection: close", and connections idle past a short grace are
 * closed.  on_release reports each close; the worker exits at zero.
 */
void		proxy_drain(void);

#endif
