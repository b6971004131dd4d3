/*
 * Upstream connections and the idle keep-alive pools, one per server in
 * each worker.  Connection structs come from one slab sized at start, so a
 * request never allocates one.  A pool is a LIFO list capped at the pool's
 * `keepalive`: the connection put back last is taken first, and when the
 * cap is reached the oldest is closed.  Idle connections stay registered
 * in epoll (edge-triggered, as when busy), so moving between busy and idle
 * costs no epoll_ctl; only the callbacks change.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "worker/upstream.h"

#define UP_FROM(ptr, member) \
	((struct upstream *)((char *)(ptr) - offsetof(struct upstream, member)))
/* Every upstream socket is watched for both directions, edge-triggered:
   a connect ends with an output edge. */
#define UPSTREAM_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

TAILQ_HEAD(upstream_list, upstream);

struct idle_pool {
	struct upstream_list	 list;		/* newest first */
	unsigned		 count;
	unsigned		 cap;		/* the pool's keepalive */
	unsigned		 timeout_ms;	/* keepalive_timeout */
};

static struct ev_loop		*loop;
static struct upstream		*slab;
static size_t			 nslab;		/* its length */
static size_t			 nused;		/* ever used */
static struct upstream_list	 free_list;	/* used, then closed */
static struct idle_pool		*pools;		/* one per server */
static unsigned			 npools;

int
upstream_init(const struct conf *conf, struct ev_loop *l, unsigned max_busy)
{
	size_t total = max_busy;
	unsigned i;

	loop = l;
	npools = conf->nservers;
	if ((pools = calloc(npools ? npools : 1, sizeof(*pools))) == NULL)
		return -1;
	for (i = 0; i < npools; i++) {
		const struct conf_pool *p = conf->servers[i].pool;

		TAILQ_INIT(&pools[i].list);
		pools[i].cap = p->keepalive;
		pools[i].timeout_ms = p->keepalive_timeout_ms;
		total += p->keepalive;
	}
	/* Taken in order, so the pages of structs never used stay
	   untouched and cost no memory. */
	if ((slab = calloc(total, sizeof(*slab))) == NULL)
		return -1;
	nslab = total;
	TAILQ_INIT(&free_list);
	return 0;
}

void
upstream_close(struct upstream *u)
{
	if (u->owner == NULL) {
		struct idle_pool *p = &pools[u->server->id];

		TAILQ_REMOVE(&p->list, u, entry);
		p->count--;
	}
	/* close(2) takes the socket out of epoll (no other descriptor
	   refers to it), which saves an epoll_ctl per connection. */
	ev_io_forget(loop, &u->io);
	ev_timer_stop(loop, &u->timer);
	if (close(u->io.fd) == -1)
		log_debug("close upstream: %s", strerror(errno));
	u->io.fd = -1;
	u->owner = NULL;
	u->server = NULL;
	TAILQ_INSERT_HEAD(&free_list, u, entry);
}

/*
 * An idle connection has nothing to say: any input, end of file or error
 * means the server is closing it (or broke the protocol), so it goes.  An
 * input edge may also be stale, reported in the same epoll batch that
 * finished the connection's last response: a peek tells.
 */
static void
on_idle_io(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct upstream *u = UP_FROM(io, io);
	char c;

	if ((events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) ||
	    ((events & EPOLLIN) && (recv(io->fd, &c, 1,
	    MSG_PEEK | MSG_DONTWAIT) != -1 || errno != EAGAIN)))
		upstream_close(u);
}

void
upstream_deadline(struct upstream *u, uint64_t ms)
{
	/* The heap has room for one timer per connection struct. */
	if (ev_deadline_set(loop, &u->timer, ms) == -1)
		fatalx("upstream: timer heap full");
}

static void
on_idle_timer(struct ev_loop *l, struct ev_timer *t)
{
	struct upstream *u = UP_FROM(t, timer);

	if (ev_deadline_due(l, t))
		upstream_close(u);
}

/* Hands the connection over; its timer stays in the heap, with no
   deadline (see ev_deadline_set), so this costs no heap operation. */
static void
make_busy(struct upstream *u, void *owner, ev_io_fn *io_fn,
    ev_timer_fn *timer_fn)
{
	u->owner = owner;
	u->io.fn = io_fn;
	u->timer.fn = timer_fn;
	upstream_deadline(u, 0);
}

struct upstream *
upstream_take(const struct conf_server *server, void *owner, ev_io_fn *io_fn,
    ev_timer_fn *timer_fn)
{
	struct idle_pool *p = &pools[server->id];
	struct upstream *u;

	if ((u = TAILQ_FIRST(&p->list)) == NULL)
		return NULL;
	TAILQ_REMOVE(&p->list, u, entry);
	p->count--;
	make_busy(u, owner, io_fn, timer_fn);
	/* Idle means drained: no input is pending and the socket is
	   writable (if not, write(2) says EAGAIN and an edge follows). */
	u->can_read = false;
	u->can_write = true;
	return u;
}

struct upstream *
upstream_connect(const struct conf_server *server, void *owner,
    ev_io_fn *io_fn, ev_timer_fn *timer_fn, char *err, size_t errlen)
{
	struct upstream *u;
	int fd;

	if (TAILQ_EMPTY(&free_list) && nused == nslab) {
		snprintf(err, errlen, "no free upstream connection slot");
		errno = ENOBUFS;
		return NULL;
	}
	fd = net_connect(&server->addr.ss, server->addr.len, err, errlen);
	if (fd == -1)
		return NULL;
	if ((u = TAILQ_FIRST(&free_list)) != NULL)
		TAILQ_REMOVE(&free_list, u, entry);
	else
		u = &slab[nused++];
	/* Requests and responses are written whole: never wait for Nagle. */
	if (net_set_nodelay(fd) == -1)
		log_debug("TCP_NODELAY to %s: %s", server->addr.text,
		    strerror(errno));
	memset(u, 0, sizeof(*u));
	ev_io_init(&u->io, fd, io_fn);
	ev_timer_init(&u->timer, timer_fn);
	u->server = server;
	u->owner = owner;
	u->connecting = true;
	if (ev_io_set(loop, &u->io, UPSTREAM_EVENTS) == -1) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		upstream_close(u);
		errno = ENOMEM;
		return NULL;
	}
	return u;
}

void
upstream_put(struct upstream *u)
{
	struct idle_pool *p = &pools[u->server->id];

	make_busy(u, NULL, on_idle_io, on_idle_timer);
	TAILQ_INSERT_HEAD(&p->list, u, entry);
	p->count++;
	if (p->count > p->cap)
		upstream_close(TAILQ_LAST(&p->list, upstream_list));
	if (p->cap == 0)
		return;		/* that was u itself */
	upstream_deadline(u, p->timeout_ms);
}
