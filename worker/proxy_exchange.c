/*
 * One exchange of a client connection with a server: the balancer's
 * choice, an idle pooled connection or a new connect, retries on another
 * server, the request body streamed out, the response read, framed and
 * relayed to the client, and the upstream connection given back to its
 * pool when it can serve again.  The client side is in proxy.c; see there
 * for the event and buffer model.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "worker/proxy_int.h"

static void	on_up_io(struct ev_loop *, struct ev_io *, uint32_t);
static void	on_up_timer(struct ev_loop *, struct ev_timer *);

static bool
idempotent(enum http_method m)
{
	return m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD ||
	    m == HTTP_METHOD_PUT || m == HTTP_METHOD_DELETE ||
	    m == HTTP_METHOD_OPTIONS || m == HTTP_METHOD_TRACE;
}

void
proxy_drop_upstream(struct client *c, bool reuse)
{
	struct upstream *u = c->up;

	count_sub(&server_row(c->x.server)->active, 1);
	c->up = NULL;
	proxy_splice_upstream_gone(c);
	if (reuse)
		upstream_put(u);
	else
		upstream_close(u);
}

/* ---- choosing and connecting --------------------------------------------- */

static void
exclude(struct exchange *x, int id)
{
	if (x->ntried < LB_MAX_TRIED)
		x->tried[x->ntried++] = (unsigned)id;
}

/* Errors of this process, not of the server it tried to reach. */
static bool
local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM || err == EADDRNOTAVAIL;
}

/* No attempt left: 503 if no server could even be reached, else 502. */
static enum step
give_up(struct client *c)
{
	if (c->x.reached)
		return proxy_reply_error(c, 502, "no server answered");
	return proxy_reply_error(c, 503, "no server available");
}

/* Asks the balancer for a server not tried yet; -1 if none is left. */
static int
choose(struct client *c)
{
	struct exchange *x = &c->x;
	struct lb_request lr;

	memset(&lr, 0, sizeof(lr));
	lr.client = &c->peer.sa;
	if (x->has_key) {
		lr.key = c->in->data + c->in->off + x->key_off;
		lr.key_len = x->key_len;
	}
	lr.tried = x->tried;
	lr.ntried = x->ntried;
	return lb_choose(c->listener->pool, proxy.shm, &lr);
}

/*
 * Picks a server and gives the exchange a connection to it: an idle one
 * from the pool, or a new connect.  A connect that fails at once counts as
 * a failure and the next server is tried, `retries` times at most.
 */
static enum step
exchange_connect(struct client *c)
{
	const struct conf_pool *pool = c->listener->pool;
	struct exchange *x = &c->x;
	const struct conf_server *s;
	struct upstream *u;
	char err[128];
	int id;

	for (;;) {
		if (x->nfail > pool->retries || (id = choose(c)) == -1)
			return give_up(c);
		s = &proxy.conf->servers[id];
		x->server = id;		/* the last tried, for the log */
		if (x->logging) {
			x->t_attempt = now_us();
			x->t_connect = 0;
		}
		u = x->fresh ? NULL :
		    upstream_take(s, c, on_up_io, on_up_timer);
		if (u != NULL) {
			x->reached = true;
			x->t_connect = x->t_attempt;
			count_add(&server_row(id)->requests, 1);
		} else if ((u = upstream_connect(s, c, on_up_io, on_up_timer,
		    err, sizeof(err))) != NULL)
			upstream_deadline(u, pool->connect_timeout_ms);
		else if (local_shortage(errno)) {
			/* Not the server's fault: it is not charged. */
			log_warn("connect to %s: %s", s->addr.text, err);
			return proxy_reply_error(c, 503, err);
		} else {
			proxy_server_failed(s, err);
			exclude(x, id);
			x->nfail++;
			continue;
		}
		c->up = u;
		u->uses++;
		/* In flight from now, connecting included, so that
		   least_conn sees the load coming; a request only once
		   a connection carries it. */
		count_add(&server_row(id)->active, 1);
		return STEP_MORE;
	}
}

/*
 * The upstream connection failed before a response byte came, or while
 * the request went out.  The request is sent again, to the server the
 * balancer picks next, when nothing is lost by it: no response byte came,
 * no body byte was sent (the body is streamed, not kept, so it cannot be
 * replayed), and either the connect itself failed (the server saw
 * nothing) or the method is idempotent.  An idle connection that turns
 * out closed is the usual keep-alive race, not the server's fault: the
 * first such failure is retried on a new connection without counting.
 */
static enum step
upstream_failed(struct client *c, const char *why)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	bool connecting = u->connecting;
	bool stale = !connecting && u->uses > 1 && !x->stale_retried;
	int id = x->server;

	if (!stale)
		proxy_server_failed(u->server, why);
	proxy_drop_upstream(c, false);
	if (x->resp_any || x->head_dropped || x->body_sent > 0 ||
	    x->body_piped > 0 || (!connecting && !idempotent(x->req.method)))
		return proxy_reply_error(c, 502, why);
	if (stale) {
		x->stale_retried = true;
		x->fresh = true;
	} else {
		x->nfail++;
		exclude(x, id);
	}
	c->out->off = HEADROOM;		/* send the same head again */
	x->head_sent = false;
	return exchange_connect(c);
}

/* The server broke the exchange; a retry only if nothing came yet. */
enum step
proxy_upstream_broken(struct client *c, const char *why)
{
	if (!c->x.resp_any)
		return upstream_failed(c, why);
	proxy_server_failed(c->up->server, why);
	return proxy_reply_error(c, 502, why);
}

/* ---- the request out ----------------------------------------------------- */

/* Frames the body bytes read but not yet framed. */
static enum step
frame_request(struct client *c)
{
	struct exchange *x = &c->x;
	size_t n;
	int rc;

	rc = proxy_framing_feed(&x->reqf, c->in->data + x->req_end,
	    c->in->len - x->req_end, &n);
	x->req_end += (uint32_t)n;
	if (rc < 0)
		return proxy_reply_error(c, -rc, x->reqf.chunked.error);
	return STEP_MORE;
}

/*
 * The head is parsed and rendered into `out`: frames the body bytes that
 * came with it, then connects (unless they were bad).
 */
enum step
proxy_exchange_start(struct client *c)
{
	enum step s;

	if ((s = frame_request(c)) == STEP_CLOSED || c->state != CS_FORWARD)
		return s;		/* closed, or answering a bad body */
	return exchange_connect(c);
}

/* Reads more of the request body from the client. */
static enum step
client_read_body(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *in = c->in;
	uint32_t shift;
	size_t room;
	ssize_t n;

	if (x->reqf.done || x->req_abandoned || !c->can_read ||
	    c->pipe != NULL)
		return STEP_WAIT;
	if (buf_room(in) < LOW_WATER && in->off > 0) {
		shift = buf_compact(in, 0);
		x->req_next -= shift;
		x->req_end -= shift;
	}
	if ((room = buf_room(in)) == 0)
		return STEP_WAIT;	/* the server is slower: wait */
	if ((n = read(c->io.fd, in->data + in->len, room)) > 0) {
		if ((size_t)n < room && !c->rdhup)
			c->can_read = false;
		in->len += (uint32_t)n;
		c->moved_client = true;
		return frame_request(c);
	}
	if (n == -1 && errno == EAGAIN) {
		c->can_read = false;
		return STEP_WAIT;
	}
	if (n == -1 && errno == EINTR)
		return STEP_MORE;
	log_debug("client %s: gone in the middle of a request body", c->ip);
	proxy_client_close(c);
	return STEP_CLOSED;
}

/* Writes the rewritten head, then body bytes, to the server. */
static enum step
upstream_send(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	struct iovec iov[2];
	size_t head_left = 0, body_left, hn, bn;
	ssize_t n;
	int iovcnt = 0;

	if (u == NULL || u->connecting || !u->can_write || x->req_abandoned)
		return STEP_WAIT;
	if (!x->head_sent) {
		head_left = c->out->len - c->out->off;
		iov[iovcnt].iov_base = c->out->data + c->out->off;
		iov[iovcnt++].iov_len = head_left;
	}
	if ((body_left = x->req_end - x->req_next) > 0) {
		iov[iovcnt].iov_base = c->in->data + x->req_next;
		iov[iovcnt++].iov_len = body_left;
	}
	if (iovcnt == 0)
		return STEP_WAIT;
	if ((n = writev(u->io.fd, iov, iovcnt)) == -1) {
		if (errno == EAGAIN) {
			u->can_write = false;
			return STEP_WAIT;
		}
		if (errno == EINTR)
			return STEP_MORE;
		if (!x->head_sent)
			return upstream_failed(c, strerror(errno));
		/* The server stopped reading: it may have answered. */
		x->req_abandoned = true;
		return STEP_MORE;
	}
	if ((size_t)n < head_left + body_left)
		u->can_write = false;
	count_add(&server_row(x->server)->bytes_out, (uint64_t)n);
	c->moved_up = true;
	hn = (size_t)n < head_left ? (size_t)n : head_left;
	bn = (size_t)n - hn;
	c->out->off += (uint32_t)hn;
	if (!x->head_sent && c->out->off == c->out->len) {
		x->head_sent = true;
		x->resp_head = x->resp_end = c->out->len;
	}
	if (bn > 0) {
		x->req_next += (uint32_t)bn;
		x->body_sent += bn;
		c->in->off = x->req_next;	/* the head is done with */
	}
	return STEP_MORE;
}

/* ---- the response in ----------------------------------------------------- */

/* Frames response body bytes read but not yet framed. */
static enum step
frame_response(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *out = c->out;
	size_t n;
	int rc;

	rc = proxy_framing_feed(&x->respf, out->data + x->resp_end,
	    out->len - x->resp_end, &n);
	x->resp_end += (uint32_t)n;
	if (rc < 0)
		return proxy_upstream_broken(c, x->respf.chunked.error);
	if (x->respf.done) {
		x->rstate = RS_DONE;
		if (out->len > x->resp_end) {
			/* More than the response: never relayed, and the
			   connection is not reused. */
			x->up_dirty = true;
			out->len = x->resp_end;
		}
	}
	return STEP_MORE;
}

/* A whole response head is at out[resp_head]: interim or final. */
static enum step
response_head(struct client *c, uint32_t hlen)
{
	struct exchange *x = &c->x;
	int status = x->resp.status;
	enum http_body kind = http_response_body(&x->resp, x->req.method);
	const char *extra = "";

	if (status < 200 && status != 101) {
		/* 100 Continue, 103 Early Hints: relayed as they come,
		   but never to an HTTP/1.0 client (RFC 9110 15.2). */
		if (x->req.minor == 0)
			c->out->off = x->resp_head + hlen;
		else
			c->out->off = proxy_rewrite_response(c, x->resp_head,
			    hlen, "", 0);
		x->resp_head += hlen;
		x->resp_end = x->resp_head;
		x->head_bytes += x->resp_head - c->out->off;
		http_response_init(&x->resp, proxy.headers, MAX_HEADERS);
		return STEP_MORE;
	}
	if (kind == HTTP_BODY_TUNNEL)
		return proxy_upstream_broken(c, "protocol switch not supported");
	count_add(&server_row(x->server)->responses[status / 100 - 1], 1);
	x->resp_started = true;
	x->status = x->ustatus = status;
	if (!x->req.keep_alive || proxy.draining || kind == HTTP_BODY_CLOSE ||
	    !x->reqf.done || x->req_abandoned)
		x->close_after = true;
	if (x->close_after)
		extra = "Connection: close\r\n";
	else if (x->req.minor == 0)
		extra = "Connection: keep-alive\r\n";
	c->out->off = proxy_rewrite_response(c, x->resp_head, hlen, extra,
	    strlen(extra));
	x->resp_end = x->resp_head + hlen;
	x->head_bytes += x->resp_end - c->out->off;
	proxy_framing_init(&x->respf, kind, x->resp.content_length, false);
	x->rstate = RS_BODY;
	return frame_response(c);
}

/* Parses response heads and frames body bytes as far as `out` allows. */
static enum step
response_advance(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *out = c->out;
	enum step s;
	int rc;

	while (x->rstate == RS_HEAD) {
		/* An interim response still going out holds the room the
		   next head's rewrite needs: wait for it. */
		if (out->off != x->resp_head || out->len == x->resp_head)
			return STEP_WAIT;
		rc = http_parse_response(out->data + x->resp_head,
		    out->len - x->resp_head, out->cap - HEADROOM, &x->resp);
		if (rc == HTTP_INCOMPLETE)
			return STEP_WAIT;
		if (rc < 0)
			return proxy_upstream_broken(c, x->resp.error);
		if ((s = response_head(c, (uint32_t)rc)) != STEP_MORE ||
		    c->state != CS_FORWARD)
			return s;
	}
	if (x->rstate == RS_BODY)
		return frame_response(c);
	return STEP_MORE;
}

/* Makes room at the end of `out` for what the server sends next. */
static void
out_make_room(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *out = c->out;
	uint32_t shift;

	if (buf_room(out) >= LOW_WATER)
		return;
	if (!x->resp_any) {
		/* The head kept for a resend crowds the response out:
		   give up the resend. */
		x->head_dropped = true;
		out->off = out->len = HEADROOM;
		x->resp_head = x->resp_end = HEADROOM;
		return;
	}
	if (out->off > HEADROOM) {
		shift = buf_compact(out, HEADROOM);
		x->resp_end -= shift;
		if (x->rstate == RS_HEAD)
			x->resp_head -= shift;
	}
}

enum step
proxy_upstream_eof(struct client *c)
{
	struct exchange *x = &c->x;

	c->up->rdhup = true;
	if (x->rstate == RS_BODY && x->respf.kind == HTTP_BODY_CLOSE) {
		x->respf.done = true;
		x->rstate = RS_DONE;
		return STEP_MORE;
	}
	if (!x->resp_any)
		return upstream_failed(c, "closed before responding");
	return proxy_upstream_broken(c, "closed in the middle of a response");
}

/* Reads what the server sends into `out`. */
static enum step
upstream_recv(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	struct buf *out = c->out;
	size_t room;
	ssize_t n;

	if (u == NULL || u->connecting || !u->can_read || !x->head_sent ||
	    x->rstate == RS_DONE || (c->pipe != NULL && c->pipe->response))
		return STEP_WAIT;
	out_make_room(c);
	if ((room = buf_room(out)) == 0)
		return STEP_WAIT;	/* the client is slower: wait */
	if ((n = read(u->io.fd, out->data + out->len, room)) > 0) {
		if ((size_t)n < room && !u->rdhup)
			u->can_read = false;
		x->resp_any = true;
		out->len += (uint32_t)n;
		count_add(&server_row(x->server)->bytes_in, (uint64_t)n);
		c->moved_up = true;
		if (response_advance(c) == STEP_CLOSED)
			return STEP_CLOSED;
		return STEP_MORE;
	}
	if (n == 0)
		return proxy_upstream_eof(c);
	if (errno == EAGAIN) {
		u->can_read = false;
		return STEP_WAIT;
	}
	if (errno == EINTR)
		return STEP_MORE;
	return proxy_upstream_broken(c, strerror(errno));
}

/* Writes the framed response bytes to the client. */
static enum step
client_relay(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *out = c->out;
	enum step s;

	if (!x->resp_any)
		return STEP_WAIT;	/* `out` still holds the request */
	if ((s = proxy_client_send(c, x->resp_end)) != STEP_MORE)
		return s;
	if (out->off == out->len) {
		out->off = out->len = HEADROOM;
		x->resp_end = x->resp_head = HEADROOM;
	}
	if (x->rstate == RS_HEAD && out->off == x->resp_head &&
	    response_advance(c) == STEP_CLOSED)
		return STEP_CLOSED;
	return STEP_MORE;
}

/*
 * Ends the exchange once the response is in and relayed: the upstream
 * connection goes back to its pool if it can serve another request, and
 * the client connection goes on to its next request or closes.
 */
static enum step
exchange_check(struct client *c)
{
	struct exchange *x = &c->x;
	bool reuse;

	if (x->rstate != RS_DONE)
		return STEP_WAIT;
	if (c->up != NULL) {
		if (x->logging)
			x->t_done = now_us();
		reuse = x->head_sent && x->reqf.done &&
		    x->req_next == x->req_end && proxy_piped(c, false) == 0 &&
		    !x->req_abandoned && x->resp.keep_alive && x->respf.kind != HTTP_BODY_CLOSE &&
		    !x->up_dirty && !c->up->rdhup;
		proxy_drop_upstream(c, reuse);
		if (!x->reqf.done)
			x->req_abandoned = true;  /* answered early */
		return STEP_MORE;
	}
	if (c->out->off < x->resp_end || c->pipe != NULL)
		return STEP_WAIT;	/* still going to the client */
	proxy_count_response(c, x->status);
	proxy_request_end(c);
	if (x->close_after)
		return proxy_client_finish(c);
	proxy_next_request(c);
	return STEP_MORE;
}

enum step
proxy_step_forward(struct client *c)
{
	static enum step (*const steps[])(struct client *) = {
		/* Splicing first: once the buffered path has sent what
		   it held, a pipe takes the rest before another read. */
		proxy_splice_request, client_read_body, upstream_send,
		proxy_splice_response, upstream_recv, client_relay,
		exchange_check,
	};
	enum step s, any = STEP_WAIT;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((s = steps[i](c)) == STEP_CLOSED)
			return s;
		if (c->state != CS_FORWARD)
			return STEP_MORE;
		if (s == STEP_MORE)
			any = STEP_MORE;
	}
	return any;
}

/*
 * Arms the timers of an exchange for what it waits on: the client
 * (client_timeout, while its body is awaited or it is slow to read) and
 * the server (server_timeout, while the request goes out or the response
 * is awaited).  Both measure inactivity: I/O on a side re-arms its timer.
 */
void
proxy_forward_timers(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	bool wait;

	wait = (!x->reqf.done && !x->req_abandoned &&
	    (buf_room(c->in) > 0 || c->in->off > 0)) ||
	    (x->resp_any && c->out->off < x->resp_end) ||
	    proxy_piped(c, true) > 0;
	if (!wait)
		proxy_deadline_set(c, 0);
	else if (c->moved_client || !ev_deadline_active(&c->timer))
		proxy_deadline_set(c, c->listener->client_timeout_ms);
	if (u != NULL && !u->connecting) {
		wait = x->rstate != RS_DONE && buf_room(c->out) > 0 &&
		    proxy_piped(c, true) == 0 &&
		    (!x->head_sent || x->req_next < x->req_end ||
		    proxy_piped(c, false) > 0 || x->reqf.done ||
		    x->req_abandoned);
		if (!wait)
			upstream_deadline(u, 0);
		else if (c->moved_up || !ev_deadline_active(&u->timer))
			upstream_deadline(u,
			    c->listener->pool->server_timeout_ms);
	}
	c->moved_client = c->moved_up = false;
}

/* ---- upstream events ----------------------------------------------------- */

static void
on_up_io(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct upstream *u = FROM(io, struct upstream, io);
	struct client *c = u->owner;
	int err;

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		u->can_read = true;
	if (events & EPOLLRDHUP)
		u->rdhup = true;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		u->can_write = true;
	if (u->connecting) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			if ((err = net_connect_result(io->fd)) == 0)
				err = ECONNREFUSED;
			if (upstream_failed(c, strerror(err)) == STEP_CLOSED)
				return;
		} else if (events & EPOLLOUT) {
			u->connecting = false;
			c->x.reached = true;
			if (c->x.logging)
				c->x.t_connect = now_us();
			count_add(&server_row(c->x.server)->requests, 1);
			upstream_deadline(u, 0);
		}
	}
	proxy_client_run(c);
}

static void
on_up_timer(struct ev_loop *l, struct ev_timer *t)
{
	struct upstream *u = FROM(t, struct upstream, timer);
	struct client *c = u->owner;
	enum step s;

	if (!ev_deadline_due(l, t))
		return;
	if (u->connecting)
		s = upstream_failed(c, "connect timed out");
	else {
		proxy_server_failed(u->server, "timed out");
		s = proxy_reply_error(c, 504, "server timed out");
	}
	if (s != STEP_CLOSED)
		proxy_client_run(c);
}
