/*
 * Large bodies moved between the two sockets with splice(2) through a
 * pipe, so that their bytes never cross into this process: the kernel
 * hands the socket's pages to the pipe and the pipe's pages to the other
 * socket.  For a large body this saves the two copies and most of the
 * system calls of the buffered path (one splice moves up to a pipe's
 * 64 KiB, one read or write a buffer's 16 KiB).  Request bodies go client
 * to server, response bodies server to client; a client has one pipe at a
 * time, so while one direction holds it the other is buffered.
 *
 * Only a body of known length is spliced, and only once everything the
 * buffered path held of it has gone out: the length says where the body
 * ends, so no byte of a pipelined request (or of whatever a server sends
 * past its response) is ever taken, and nothing of a chunked body needs
 * checking on the way.  Bytes in a pipe cannot be sent again, so a request
 * whose body reached a pipe is never retried.
 *
 * The pipes are kept in a pool of PIPES_MAX per worker; when none is free
 * (or the process is out of descriptors) a body takes the buffered path,
 * which works for any body.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/proxy_int.h"

/* Below this much body left, the buffered path is as cheap. */
#define SPLICE_MIN	(16 * 1024)

static struct {
	struct body_pipe	 pipes[PIPES_MAX];
	unsigned		 nopen;		/* pipes[0..nopen) exist */
	struct body_pipe	*free[PIPES_MAX];
	unsigned		 nfree;
	bool			 warned;
} pool;

static struct body_pipe *
pipe_take(bool response)
{
	struct body_pipe *p;
	int fds[2];

	if (pool.nfree > 0) {
		p = pool.free[--pool.nfree];
		p->response = response;
		return p;
	}
	if (pool.nopen == PIPES_MAX)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		if (!pool.warned)
			log_warn("pipe2: %s; bodies are copied instead",
			    strerror(errno));
		pool.warned = true;
		return NULL;
	}
	p = &pool.pipes[pool.nopen++];
	p->rd = fds[0];
	p->wr = fds[1];
	p->held = 0;
	p->response = response;
	return p;
}

/*
 * Gives c's pipe back.  One still holding bytes (the exchange ended before
 * they went out) is emptied by closing it and opening a new one later.
 */
void
proxy_splice_release(struct client *c)
{
	struct body_pipe *p = c->pipe;
	int fds[2];

	if (p == NULL)
		return;
	c->pipe = NULL;
	if (p->held > 0) {
		if (close(p->rd) == -1)
			log_debug("close pipe: %s", strerror(errno));
		if (close(p->wr) == -1)
			log_debug("close pipe: %s", strerror(errno));
		p->held = 0;
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
			/* The slot stays unusable; the pool is smaller. */
			p->rd = p->wr = -1;
			return;
		}
		p->rd = fds[0];
		p->wr = fds[1];
	}
	pool.free[pool.nfree++] = p;
}

/* The server connection is going: a request body's pipe goes with it. */
void
proxy_splice_upstream_gone(struct client *c)
{
	if (c->pipe != NULL && !c->pipe->response)
		proxy_splice_release(c);
}

/* ---- request bodies ------------------------------------------------------ */

/* Client to pipe: as much of the body as the pipe takes. */
static enum step
request_in(struct client *c)
{
	struct exchange *x = &c->x;
	struct body_pipe *p = c->pipe;
	size_t want;
	ssize_t n;

	if (!c->can_read || x->reqf.done || p->held >= PIPE_BYTES)
		return STEP_WAIT;
	want = PIPE_BYTES - p->held;
	if (x->reqf.left < want)
		want = (size_t)x->reqf.left;
	n = splice(c->io.fd, NULL, p->wr, NULL, want,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		if (x->body_piped == 0)		/* no retry from here on */
			c->in->off = x->req_next;
		p->held += (uint32_t)n;
		x->reqf.left -= (uint64_t)n;
		x->body_piped += (uint64_t)n;
		if (x->reqf.left == 0)
			x->reqf.done = true;
		c->moved_client = true;
		return STEP_MORE;
	}
	if (n == -1 && errno == EAGAIN) {
		/* The pipe may be what is full (it counts pages, not
		   bytes): only an empty one proves the socket dry. */
		if (p->held == 0)
			c->can_read = false;
		return STEP_WAIT;
	}
	if (n == -1 && errno == EINTR)
		return STEP_MORE;
	log_debug("client %s: gone in the middle of a request body", c->ip);
	proxy_client_close(c);
	return STEP_CLOSED;
}

/* Pipe to server. */
static enum step
request_out(struct client *c)
{
	struct exchange *x = &c->x;
	struct body_pipe *p = c->pipe;
	struct upstream *u = c->up;
	ssize_t n;

	if (p->held == 0 || !u->can_write)
		return STEP_WAIT;
	n = splice(p->rd, NULL, u->io.fd, NULL, p->held,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK |
	    (x->reqf.done ? 0 : SPLICE_F_MORE));
	if (n > 0) {
		p->held -= (uint32_t)n;
		x->body_sent += (uint64_t)n;
		count_add(&server_row(x->server)->bytes_out, (uint64_t)n);
		c->moved_up = true;
		return STEP_MORE;
	}
	if (n == -1 && errno == EAGAIN) {
		u->can_write = false;
		return STEP_WAIT;
	}
	if (n == -1 && errno == EINTR)
		return STEP_MORE;
	/* The server stopped reading: it may have answered. */
	x->req_abandoned = true;
	proxy_splice_release(c);
	return STEP_MORE;
}

/*
 * The request splice step of an exchange: takes a pipe when the body
 * qualifies (see the top of the file), then fills and empties it.
 */
enum step
proxy_splice_request(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	enum step in, out;

	if (u == NULL || u->connecting || x->req_abandoned || !x->head_sent)
		return STEP_WAIT;
	if (c->pipe == NULL) {
		if (x->reqf.kind != HTTP_BODY_LENGTH || x->reqf.done ||
		    x->reqf.left < SPLICE_MIN || x->req_next != x->req_end ||
		    (c->pipe = pipe_take(false)) == NULL)
			return STEP_WAIT;
	} else if (c->pipe->response)
		return STEP_WAIT;
	if ((in = request_in(c)) == STEP_CLOSED)
		return STEP_CLOSED;
	out = request_out(c);
	if (c->pipe != NULL && c->pipe->held == 0 && x->reqf.done)
		proxy_splice_release(c);
	return in == STEP_MORE || out == STEP_MORE ? STEP_MORE : STEP_WAIT;
}

/* ---- response bodies ----------------------------------------------------- */

/* Server to pipe: as much of the body as the pipe takes. */
static enum step
response_in(struct client *c)
{
	struct exchange *x = &c->x;
	struct body_pipe *p = c->pipe;
	struct upstream *u = c->up;
	size_t want;
	ssize_t n;
	char ch;

	if (u == NULL || !u->can_read || x->respf.done ||
	    p->held >= PIPE_BYTES)
		return STEP_WAIT;
	want = PIPE_BYTES - p->held;
	if (x->respf.left < want)
		want = (size_t)x->respf.left;
	n = splice(u->io.fd, NULL, p->wr, NULL, want,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		p->held += (uint32_t)n;
		x->respf.left -= (uint64_t)n;
		if (x->respf.left == 0) {
			x->respf.done = true;
			x->rstate = RS_DONE;
			/* Bytes past the response, as frame_response()
			   finds them: the connection is not reused. */
			if (recv(u->io.fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
				x->up_dirty = true;
		}
		count_add(&server_row(x->server)->bytes_in, (uint64_t)n);
		c->moved_up = true;
		return STEP_MORE;
	}
	if (n == -1 && errno == EAGAIN) {
		if (p->held == 0)	/* see request_in */
			u->can_read = false;
		return STEP_WAIT;
	}
	if (n == -1 && errno == EINTR)
		return STEP_MORE;
	if (n == 0)
		return proxy_upstream_eof(c);
	return proxy_upstream_broken(c, strerror(errno));
}

/* Pipe to client. */
static enum step
response_out(struct client *c)
{
	struct exchange *x = &c->x;
	struct body_pipe *p = c->pipe;
	ssize_t n;

	if (p->held == 0 || !c->can_write)
		return STEP_WAIT;
	n = splice(p->rd, NULL, c->io.fd, NULL, p->held,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK |
	    (x->respf.done ? 0 : SPLICE_F_MORE));
	if (n > 0) {
		p->held -= (uint32_t)n;
		x->sent += (uint64_t)n;
		c->moved_client = true;
		return STEP_MORE;
	}
	if (n == -1 && errno == EINTR)
		return STEP_MORE;
	if (n == -1 && errno == EAGAIN && proxy_client_blocked(c) == 0)
		return STEP_WAIT;
	log_debug("client %s: splice: %s", c->ip, strerror(errno));
	proxy_client_close(c);
	return STEP_CLOSED;
}

/*
 * The response splice step: takes a pipe once the response head and every
 * body byte buffered with it have gone to the client, then fills and
 * empties it.  The pipe stays after the server connection is done with,
 * until its last byte is out.
 */
enum step
proxy_splice_response(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	enum step in, out;

	if (c->pipe == NULL) {
		if (u == NULL || u->connecting || x->rstate != RS_BODY ||
		    x->respf.kind != HTTP_BODY_LENGTH || x->respf.done ||
		    x->respf.left < SPLICE_MIN ||
		    c->out->off != c->out->len ||
		    (c->pipe = pipe_take(true)) == NULL)
			return STEP_WAIT;
	} else if (!c->pipe->response)
		return STEP_WAIT;
	if ((in = response_in(c)) == STEP_CLOSED)
		return STEP_CLOSED;
	if (c->state != CS_FORWARD)
		return STEP_MORE;
	if ((out = response_out(c)) == STEP_CLOSED)
		return STEP_CLOSED;
	if (c->pipe->held == 0 && x->respf.done)
		proxy_splice_release(c);
	return in == STEP_MORE || out == STEP_MORE ? STEP_MORE : STEP_WAIT;
}
