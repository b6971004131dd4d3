/*
 * A small epoll event loop with a timer heap, shared by the worker, the
 * health checker and the supervisor.  One loop per process, one thread.
 *
 * An event source embeds a struct ev_io; epoll hands back a pointer to it,
 * so dispatch costs no lookup.  A timer embeds a struct ev_timer; timers live
 * in a binary min-heap bounded at ev_create() time, so starting, stopping
 * and firing cost O(log n) and nothing scans all connections.  A timeout
 * that moves with every read or write is best kept as a lazy deadline
 * (ev_deadline_set), which moves without touching the heap.
 */
#ifndef FORKLIFT_EVENT_H
#define FORKLIFT_EVENT_H

#include <sys/epoll.h>

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct ev_io;
struct ev_timer;

typedef void	ev_io_fn(struct ev_loop *, struct ev_io *, uint32_t events);
typedef void	ev_timer_fn(struct ev_loop *, struct ev_timer *);

struct ev_io {
	int		 fd;
	uint32_t	 events;	/* as registered; 0 = not in epoll */
	ev_io_fn	*fn;
};

struct ev_timer {
	uint64_t	 when;		/* monotonic ms */
	uint64_t	 deadline;	/* ev_deadline_set(); 0 = none */
	uint32_t	 index;		/* heap position + 1; 0 = stopped */
	ev_timer_fn	*fn;
};

/*
 * Makes a loop that holds at most `max_timers` running timers.  Returns
 * NULL with errno set on failure.
 */
struct ev_loop	*ev_create(uint32_t max_timers);
void		 ev_destroy(struct ev_loop *);

/* Runs until ev_stop() is called; returns 0, or -1 if epoll_wait failed. */
int		 ev_run(struct ev_loop *);
void		 ev_stop(struct ev_loop *);

/*
 * Monotonic milliseconds, read once per loop turn: callbacks of the same
 * turn see the same time.  ev_now_update() reads the clock again.
 */
uint64_t	 ev_now(const struct ev_loop *);
void		 ev_now_update(struct ev_loop *);

/*
 * Watches io->fd for `events` (EPOLLIN, EPOLLOUT, EPOLLET, ...), calling
 * io->fn.  Changing to the events already registered costs no system call;
 * events 0 removes the fd from epoll.  Returns 0 or -1 with errno set.
 * The caller keeps ownership of the fd: close it after ev_io_stop().
 */
int		 ev_io_set(struct ev_loop *, struct ev_io *, uint32_t events);
void		 ev_io_init(struct ev_io *, int fd, ev_io_fn *);
/* Same as ev_io_set(loop, io, 0). */
void		 ev_io_stop(struct ev_loop *, struct ev_io *);
/*
 * For an fd about to be closed: marks io unregistered and drops its events
 * pending in this turn, without the epoll_ctl removal ev_io_stop() makes,
 * since close(2) takes the fd out of epoll by itself -- provided no other
 * descriptor (dup(2), fork(2)) refers to the same open file, or epoll keeps
 * reporting it.  The caller closes the fd before the loop turns again.
 */
void		 ev_io_forget(struct ev_loop *, struct ev_io *);

void		 ev_timer_init(struct ev_timer *, ev_timer_fn *);
/*
 * (Re)arms `t` to fire once, `after_ms` from ev_now().  Returns -1 only when
 * the heap is full (max_timers), which callers treat as an overload.
 */
int		 ev_timer_start(struct ev_loop *, struct ev_timer *,
		    uint64_t after_ms);
/* Takes `t` out of the heap and clears its deadline (if any). */
void		 ev_timer_stop(struct ev_loop *, struct ev_timer *);

/*
 * Lazy deadlines, for a timeout that moves with every read or write of a
 * connection: moving it costs no heap operation in the common case.
 * ev_deadline_set() sets t's deadline `ms` from ev_now() (0 clears it) and
 * arms t only if t would not fire by then; t may thus fire before its
 * deadline, or after the deadline was cleared.  So t's callback first asks
 * ev_deadline_due(): true when the deadline has passed (it is then
 * cleared); false when it re-armed t for the time left, or when there is
 * no deadline (t then stays stopped).  ev_deadline_set() returns -1 only
 * when the heap is full, as ev_timer_start() does.  A timer is driven
 * either by ev_timer_start() or by deadlines, not both.
 */
int		 ev_deadline_set(struct ev_loop *, struct ev_timer *,
		    uint64_t ms);
bool		 ev_deadline_due(struct ev_loop *, struct ev_timer *);

static inline bool
ev_timer_active(const struct ev_timer *t)
{
	return t->index != 0;
}

/* True while t has a deadline (whether or not it has passed). */
static inline bool
ev_deadline_active(const struct ev_timer *t)
{
	return t->deadline != 0;
}

#endif
