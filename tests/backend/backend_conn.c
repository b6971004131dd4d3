/*
 * The backend's connections: the state machine that reads a request, reads
 * its body, waits out a ?delay=, writes the response and then either reads
 * the next request or half-closes.  Also the per-connection timers (a
 * min-heap, one timer per connection), the ready list of connections that
 * can progress without an I/O event, and the idle sweep.  A connection's
 * fd and memory belong to this file from bk_conn_new() to conn_close().
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "tests/backend/backend.h"

/* Steps one connection may take per wake-up before the others' turn. */
#define STEP_BUDGET	64
/* How long a half-closed connection waits for the peer's EOF. */
#define LINGER_MS	2000
/* Room the 100 Continue line needs besides BK_OUT_RESERVE. */
#define CONTINUE_ROOM	64
#define NO_TIMER	SIZE_MAX

enum {
	STEP_AGAIN,	/* progress made, take another step */
	STEP_WAIT,	/* blocked on input, output room or a timer */
	STEP_CLOSED,	/* the connection was closed and freed */
};

static LIST_HEAD(conn_list, bk_conn) conns = LIST_HEAD_INITIALIZER(conns);
static TAILQ_HEAD(ready_list, bk_conn) ready_q =
    TAILQ_HEAD_INITIALIZER(ready_q);
static size_t		 ready_len;
/* Timer min-heap by deadline: one slot per connection at most. */
static struct bk_conn	*heap[BK_MAX_CONNS];
static size_t		 heap_len;

/* Timers: a binary min-heap of connections ordered by deadline. */
static void
heap_swap(size_t a, size_t b)
{
	struct bk_conn	*t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->heap_idx = a;
	heap[b]->heap_idx = b;
}

/*
 * i is a filled slot, below heap_len <= BK_MAX_CONNS (timer_set checks):
 * cppcheck reads "i > 0" as a hint that i may be the array's size.
 */
static void
heap_up(size_t i)
{
	/* cppcheck-suppress arrayIndexOutOfBoundsCond */
	while (i > 0 && heap[(i - 1) / 2]->deadline > heap[i]->deadline) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(size_t i)
{
	size_t	 l, m;

	for (;;) {
		m = i;
		l = 2 * i + 1;
		if (l < heap_len && heap[l]->deadline < heap[m]->deadline)
			m = l;
		if (l + 1 < heap_len && heap[l + 1]->deadline <
		    heap[m]->deadline)
			m = l + 1;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void
timer_cancel(struct bk_conn *c)
{
	size_t	 i = c->heap_idx;

	if (i == NO_TIMER)
		return;
	c->heap_idx = NO_TIMER;
	if (i != --heap_len) {
		heap[i] = heap[heap_len];
		heap[i]->heap_idx = i;
		heap_down(i);
		heap_up(i);
	}
}

/* Arms c's one timer ms from now, replacing any it had. */
static void
timer_set(struct bk_conn *c, uint64_t ms)
{
	timer_cancel(c);
	if (heap_len == BK_MAX_CONNS)
		bk_fatal("timer_set: heap full");
	c->deadline = bk_srv.now + ms;
	c->heap_idx = heap_len;
	heap[heap_len++] = c;
	heap_up(c->heap_idx);
}

/*
 * Closes and frees c: its fd, buffers, timer and list entries.  Callers
 * must not touch c afterwards.
 */
static void
conn_close(struct bk_conn *c)
{
	timer_cancel(c);
	if (c->queued) {
		TAILQ_REMOVE(&ready_q, c, ready);
		ready_len--;
	}
	LIST_REMOVE(c, entry);
	if (close(c->fd) == -1)
		bk_log("close: %s", strerror(errno));
	free(c->in);
	free(c->out);
	free(c->echo);
	free(c);
	bk_srv.active--;
}

/* Puts c on the ready list: it can progress without an I/O event. */
static void
conn_queue(struct bk_conn *c)
{
	if (c->queued)
		return;
	c->queued = 1;
	TAILQ_INSERT_TAIL(&ready_q, c, ready);
	ready_len++;
}

/* Registers what c waits for: input while it has room, output if queued. */
static void
conn_events(struct bk_conn *c)
{
	struct epoll_event	 ev;
	uint32_t		 want = 0;

	if (!c->rd_eof && c->in_len - c->in_off < BK_HEAD_MAX)
		want |= EPOLLIN;
	if (c->out_off != c->out_len)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(bk_srv.ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		bk_fatal("epoll_ctl: %s", strerror(errno));
	c->events = want;
}

/* Reads what fits the input buffer.  Returns 0, or -1 on a reset. */
static int
conn_read(struct bk_conn *c)
{
	ssize_t	 n;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == BK_HEAD_MAX || c->rd_eof)
		return 0;
	n = read(c->fd, c->in + c->in_len, BK_HEAD_MAX - c->in_len);
	if (n == -1)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (n == 0)
		c->rd_eof = 1;
	c->in_len += n;
	c->last_active = bk_srv.now;
	return 0;
}

/* Sends queued output.  Returns the bytes sent, or -1 on a dead peer. */
static ssize_t
conn_flush(struct bk_conn *c)
{
	ssize_t	 n, sent = 0;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->out_off += n;
		sent += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (sent > 0)
		c->last_active = bk_srv.now;
	return sent;
}

/*
 * Input exhausted: wait for more, or once the peer has sent its last byte
 * and every response has gone out, close.
 */
static int
need_input(struct bk_conn *c)
{
	if (!c->rd_eof || c->out_off != c->out_len)
		return STEP_WAIT;
	conn_close(c);
	return STEP_CLOSED;
}

/* ST_HEAD: parses the next request head and picks its route. */
static int
step_head(struct bk_conn *c)
{
	const char	*p = c->in + c->in_off;
	size_t		 avail = c->in_len - c->in_off, headlen;
	int		 r;

	if (bk_out_room(c) < BK_OUT_RESERVE + CONTINUE_ROOM)
		return STEP_WAIT;
	if (avail == 0)
		return need_input(c);
	r = bk_parse_head(p, avail, &c->scan, &c->req, &headlen);
	if (r == 0 && avail < BK_HEAD_MAX)
		return need_input(c);
	c->scan = 0;
	if (r != 1) {
		strlcpy(c->logline, "(malformed)", sizeof(c->logline));
		bk_respond_error(c, r == 0 ? 431 : c->req.status);
		return STEP_AGAIN;
	}
	if (bk_srv.hang) {
		c->state = ST_HUNG;
		return STEP_AGAIN;
	}
	if (bk_srv.verbose)
		strlcpy(c->logline, p, c->req.line_len < sizeof(c->logline) ?
		    c->req.line_len + 1 : sizeof(c->logline));
	bk_route(c, p, headlen);
	c->in_off += headlen;
	bk_body_init(&c->body, &c->req, c->route.kind == ROUTE_UPLOAD);
	if (c->req.expect && c->req.minor >= 1 && !c->body.done)
		bk_respond_continue(c);
	c->state = ST_BODY;
	return STEP_AGAIN;
}

/* ST_BODY: consumes the body, then waits out ?delay= if any. */
static int
step_body(struct bk_conn *c)
{
	ssize_t	 n;

	if (!c->body.done) {
		if (c->in_off == c->in_len)
			return need_input(c);
		n = bk_body_feed(&c->body, c->in + c->in_off,
		    c->in_len - c->in_off);
		if (n == -1) {
			bk_respond_error(c, 400);
			return STEP_AGAIN;
		}
		c->in_off += n;
		return STEP_AGAIN;
	}
	if (c->route.delay_ms > 0) {
		timer_set(c, c->route.delay_ms);
		c->state = ST_DELAY;
		return STEP_WAIT;
	}
	c->state = ST_READY;
	return STEP_AGAIN;
}

/* ST_CLOSING: once the last response is sent, half-close and linger. */
static int
step_closing(struct bk_conn *c)
{
	if (c->out_off != c->out_len)
		return STEP_WAIT;
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(c);
		return STEP_CLOSED;
	}
	timer_set(c, LINGER_MS);
	c->state = ST_LINGER;
	return STEP_AGAIN;
}

/* Takes the step c's state allows.  Returns a STEP_* value. */
static int
conn_step(struct bk_conn *c)
{
	switch (c->state) {
	case ST_HEAD:
		return step_head(c);
	case ST_BODY:
		return step_body(c);
	case ST_DELAY:
		return STEP_WAIT;
	case ST_READY:
		if (bk_out_room(c) < BK_OUT_RESERVE)
			return STEP_WAIT;
		bk_respond(c);
		return STEP_AGAIN;
	case ST_SEND:
		/* refill only when half the buffer is free: fewer, larger
		 * writes */
		if (bk_out_room(c) < BK_OUT_MAX / 2)
			return STEP_WAIT;
		bk_stream_fill(c);
		return STEP_AGAIN;
	case ST_CLOSING:
		return step_closing(c);
	default:		/* ST_LINGER, ST_HUNG: discard input */
		c->in_off = c->in_len = 0;
		return need_input(c);
	}
}

/*
 * Moves c as far as it can go without blocking: steps through its states,
 * sending output whenever a step waits.  At most STEP_BUDGET steps, then c
 * goes on the ready list so other connections get their turn.  May close c.
 */
static void
conn_advance(struct bk_conn *c)
{
	ssize_t	 w;
	int	 i, r;

	for (i = 0; i < STEP_BUDGET; i++) {
		if ((r = conn_step(c)) == STEP_CLOSED)
			return;
		if (r == STEP_AGAIN)
			continue;
		if (c->out_off == c->out_len)
			break;
		if ((w = conn_flush(c)) == -1) {
			conn_close(c);
			return;
		}
		if (w == 0)
			break;
	}
	if (i == STEP_BUDGET)
		conn_queue(c);
	conn_events(c);
}

void
bk_conn_event(struct bk_conn *c, uint32_t events)
{
	/* the peer is gone: nothing written can arrive */
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	if ((events & EPOLLIN) && conn_read(c) == -1) {
		conn_close(c);
		return;
	}
	conn_advance(c);
}

/* A timer expired: the end of a ?delay= or of lingering. */
static void
conn_timeout(struct bk_conn *c)
{
	if (c->state == ST_DELAY) {
		c->state = ST_READY;
		conn_advance(c);
	} else
		conn_close(c);
}

/* Takes over an accepted socket.  On failure closes fd. */
void
bk_conn_new(int fd)
{
	struct epoll_event	 ev;
	struct bk_conn		*c;
	int			 one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->in = malloc(BK_HEAD_MAX)) == NULL ||
	    (c->out = malloc(BK_OUT_MAX)) == NULL) {
		bk_log("conn_new: out of memory");
		if (c != NULL)
			free(c->in);
		free(c);
		close(fd);
		return;
	}
	/* responses go out whole: no reason to wait for more */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		bk_log("setsockopt TCP_NODELAY: %s", strerror(errno));
	c->fd = fd;
	c->state = bk_srv.hang ? ST_HUNG : ST_HEAD;
	c->heap_idx = NO_TIMER;
	c->last_active = bk_srv.now;
	c->events = EPOLLIN;
	memset(&ev, 0, sizeof(ev));
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(bk_srv.ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		bk_fatal("epoll_ctl: %s", strerror(errno));
	LIST_INSERT_HEAD(&conns, c, entry);
	bk_srv.accepted++;
	bk_srv.active++;
}

/* Turns the listening socket's events on or off (an accept pause). */
void
bk_conn_ready_run(void)
{
	struct bk_conn	*c;
	size_t		 n;

	for (n = ready_len; n > 0 && (c = TAILQ_FIRST(&ready_q)) != NULL;
	    n--) {
		TAILQ_REMOVE(&ready_q, c, ready);
		ready_len--;
		c->queued = 0;
		conn_advance(c);
	}
}

void
bk_conn_timers_run(void)
{
	struct bk_conn	*c;

	while (heap_len > 0 && heap[0]->deadline <= bk_srv.now) {
		c = heap[0];
		timer_cancel(c);
		conn_timeout(c);
	}
}

/* Closes connections idle for idle_ms; a ?delay= does not count. */
void
bk_conn_sweep(uint64_t idle_ms)
{
	struct bk_conn	*c, *next;

	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->state != ST_DELAY &&
		    bk_srv.now - c->last_active >= idle_ms)
			conn_close(c);
	}
}

/* Milliseconds epoll_wait may sleep: until the next timer or sweep. */

/* Whether some connection can progress without waiting for an event. */
int
bk_conn_pending(void)
{
	return ready_len > 0;
}

/* The earliest timer deadline, or UINT64_MAX when none is armed. */
uint64_t
bk_conn_next_deadline(void)
{
	return heap_len > 0 ? heap[0]->deadline : UINT64_MAX;
}

/* Closes every connection, answered or not (the process is stopping). */
void
bk_conn_close_all(void)
{
	struct bk_conn	*c, *next;

	/* next is read first: conn_close frees c and nothing else. */
	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		conn_close(c);
	}
}
