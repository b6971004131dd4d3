/*
 * The event loop: epoll for file descriptors, a binary min-heap for timers.
 *
 * A callback may stop or free any event source, including ones whose events
 * are still pending in the current batch: ev_io_stop() blanks those pending
 * entries, so a freed source is never dispatched.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"

#define EV_BATCH	256	/* events taken per epoll_wait */

struct ev_loop {
	int			 epfd;
	bool			 stopped;
	uint64_t		 now;
	struct ev_timer		**heap;	/* [max_timers + 1] */
	uint32_t		 nheap;
	uint32_t		 max_timers;
	struct epoll_event	 batch[EV_BATCH];
	int			 nbatch;	/* events in this batch */
	int			 cursor;	/* next one to dispatch */
};

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev_loop *
ev_create(uint32_t max_timers)
{
	struct ev_loop *loop;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	/* An array of pointers: one per timer, and slot 0 unused. */
	if ((loop->heap = calloc(max_timers + 1,
	    sizeof(struct ev_timer *))) == NULL) {
		free(loop);
		return NULL;
	}
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(loop->heap);
		free(loop);
		return NULL;
	}
	loop->max_timers = max_timers;
	loop->now = monotonic_ms();
	return loop;
}

void
ev_destroy(struct ev_loop *loop)
{
	if (loop == NULL)
		return;
	close(loop->epfd);
	free(loop->heap);
	free(loop);
}

uint64_t
ev_now(const struct ev_loop *loop)
{
	return loop->now;
}

void
ev_now_update(struct ev_loop *loop)
{
	loop->now = monotonic_ms();
}

void
ev_stop(struct ev_loop *loop)
{
	loop->stopped = true;
}

void
ev_io_init(struct ev_io *io, int fd, ev_io_fn *fn)
{
	io->fd = fd;
	io->events = 0;
	io->fn = fn;
}

/* Blanks the pending events of `io` so this turn does not dispatch them. */
static void
forget_pending(struct ev_loop *loop, const struct ev_io *io)
{
	int i;

	for (i = loop->cursor; i < loop->nbatch; i++)
		if (loop->batch[i].data.ptr == io)
			loop->batch[i].data.ptr = NULL;
}

int
ev_io_set(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev;
	int op;

	if (events == io->events)
		return 0;
	if (events == 0) {
		ev_io_stop(loop, io);
		return 0;
	}
	op = io->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = io;
	if (epoll_ctl(loop->epfd, op, io->fd, &ev) == -1)
		return -1;
	io->events = events;
	return 0;
}

void
ev_io_stop(struct ev_loop *loop, struct ev_io *io)
{
	if (io->events != 0) {
		/* Fails only if the fd is already closed: nothing to undo. */
		(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
		io->events = 0;
	}
	forget_pending(loop, io);
}

void
ev_io_forget(struct ev_loop *loop, struct ev_io *io)
{
	io->events = 0;
	forget_pending(loop, io);
}

void
ev_timer_init(struct ev_timer *t, ev_timer_fn *fn)
{
	t->when = 0;
	t->deadline = 0;
	t->index = 0;
	t->fn = fn;
}

/* The heap is 1-based: heap[i]'s children are heap[2i] and heap[2i+1]. */
static void
heap_place(struct ev_loop *loop, struct ev_timer *t, uint32_t i)
{
	loop->heap[i] = t;
	t->index = i;
}

static void
heap_up(struct ev_loop *loop, uint32_t i)
{
	struct ev_timer *t = loop->heap[i];

	while (i > 1 && loop->heap[i / 2]->when > t->when) {
		heap_place(loop, loop->heap[i / 2], i);
		i /= 2;
	}
	heap_place(loop, t, i);
}

static void
heap_down(struct ev_loop *loop, uint32_t i)
{
	struct ev_timer *t = loop->heap[i];
	uint32_t child;

	while ((child = 2 * i) <= loop->nheap) {
		if (child < loop->nheap &&
		    loop->heap[child + 1]->when < loop->heap[child]->when)
			child++;
		if (loop->heap[child]->when >= t->when)
			break;
		heap_place(loop, loop->heap[child], i);
		i = child;
	}
	heap_place(loop, t, i);
}

/* Takes t out of the heap, leaving its deadline as it is. */
static void
heap_remove(struct ev_loop *loop, struct ev_timer *t)
{
	uint32_t i = t->index;
	struct ev_timer *last;

	if (i == 0)
		return;
	t->index = 0;
	last = loop->heap[loop->nheap--];
	if (last == t)
		return;
	heap_place(loop, last, i);
	if (i > 1 && loop->heap[i / 2]->when > last->when)
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

void
ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	heap_remove(loop, t);
	t->deadline = 0;
}

int
ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t after_ms)
{
	uint64_t when = loop->now + after_ms;

	if (t->index != 0) {
		/* Re-arming later is the common case (an idle timeout). */
		t->when = when;
		heap_up(loop, t->index);
		heap_down(loop, t->index);
		return 0;
	}
	if (loop->nheap == loop->max_timers) {
		errno = ENOSPC;
		return -1;
	}
	t->when = when;
	loop->heap[++loop->nheap] = t;
	heap_up(loop, loop->nheap);
	return 0;
}

int
ev_deadline_set(struct ev_loop *loop, struct ev_timer *t, uint64_t ms)
{
	if (ms == 0) {
		t->deadline = 0;
		return 0;
	}
	t->deadline = loop->now + ms;
	if (t->index != 0 && t->when <= t->deadline)
		return 0;	/* it fires in time; due() does the rest */
	return ev_timer_start(loop, t, ms);
}

bool
ev_deadline_due(struct ev_loop *loop, struct ev_timer *t)
{
	if (t->deadline == 0)
		return false;
	if (loop->now < t->deadline) {
		/* The timer just fired and left its room in the heap, so
		   this cannot fail; were it to, an early timeout beats a
		   lost one. */
		if (ev_timer_start(loop, t, t->deadline - loop->now) == 0)
			return false;
	}
	t->deadline = 0;
	return true;
}

/* Milliseconds epoll may sleep: until the earliest timer, or forever. */
static int
next_timeout(const struct ev_loop *loop)
{
	uint64_t when;

	if (loop->nheap == 0)
		return -1;
	when = loop->heap[1]->when;
	if (when <= loop->now)
		return 0;
	if (when - loop->now > 60000)
		return 60000;
	return (int)(when - loop->now);
}

static void
run_timers(struct ev_loop *loop)
{
	struct ev_timer *t;

	while (loop->nheap > 0 && loop->heap[1]->when <= loop->now &&
	    !loop->stopped) {
		t = loop->heap[1];
		heap_remove(loop, t);	/* its deadline is due()'s */
		t->fn(loop, t);
	}
}

int
ev_run(struct ev_loop *loop)
{
	struct ev_io *io;

	loop->stopped = false;
	while (!loop->stopped) {
		loop->nbatch = epoll_wait(loop->epfd, loop->batch, EV_BATCH,
		    next_timeout(loop));
		if (loop->nbatch == -1) {
			loop->nbatch = 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		loop->now = monotonic_ms();
		for (loop->cursor = 0; loop->cursor < loop->nbatch;) {
			struct epoll_event *e = &loop->batch[loop->cursor++];

			if ((io = e->data.ptr) != NULL)
				io->fn(loop, io, e->events);
		}
		loop->nbatch = loop->cursor = 0;
		run_timers(loop);
	}
	return 0;
}
