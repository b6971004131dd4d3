/*
 * The proxy engine's client side: one state machine per client
 * connection, which drives at most one exchange with a server at a time
 * (proxy_exchange.c).  One request is in flight per client connection;
 * pipelined requests wait in the client's input buffer and are answered
 * in order.  This file accepts connections, reads and parses request
 * heads, answers the proxy's own errors, keeps connections alive between
 * requests, closes them (lingering when needed) and drains them.
 *
 * Edge-triggered epoll.  Every client and upstream socket is registered
 * once with EPOLLET, for input and output (a client socket for output only
 * from its first short write on), and never modified otherwise: an event
 * sets can_read / can_write, and a read or write that comes up short (TCP:
 * the socket is drained or full) or says EAGAIN clears them.  Back-pressure
 * -- not reading the side whose peer cannot take more -- is then just not
 * calling read(2), at no system call cost, where level-triggered epoll
 * would need an epoll_ctl to mute the side and another to unmute it (or
 * would spin).  A small request costs one read and one write per side.
 * The price is a rule: a connection may not stop while a flag says there is
 * work, since no new edge would come.  A connection that used up its
 * RUN_STEPS goes on the ready list, served from an always-writable eventfd
 * registered only while the list is not empty.
 *
 * Buffers (struct buf, all one size) per client connection:
 *   in   the client's bytes: the request head, body bytes, pipelined
 *        requests.  Held while it holds unconsumed bytes.
 *   out  the request head rewritten for the server (at HEADROOM), then
 *        what the server answers, rewritten in place and relayed.  Held
 *        for the length of one exchange.
 * Request bodies go from `in` to the server and responses from `out` to
 * the client without another copy (writev joins the head and the body).
 *
 * Timeouts: one timer per connection struct in the loop's heap, with a
 * deadline kept lazily (see proxy_deadline_set), so a request moves no
 * timer in the common case.  What a deadline means follows from the state
 * when it passes: idle keep-alive, request head (408), client inactivity,
 * server connect or response (504), lingering.
 *
 * Versions: the request line passes as the client sent it.  HTTP/1.1 keeps
 * the server connection alive by default; HTTP/1.0 requests get
 * "Connection: keep-alive" instead of being raised to 1.1, which would let
 * the server answer chunked to a client that cannot read it.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "worker/proxy.h"
#include "worker/proxy_int.h"

/* Bytes a buffer holds per direction, unless max_header_size is larger. */
#define PROXY_BUF_SIZE	16384
/* Free buffers kept for reuse; the rest go back to malloc. */
#define BUF_CACHE	256
/* Steps one connection takes per wakeup before the others get a turn. */
#define RUN_STEPS	32
/* After the last response of a closing connection: how long, and how many
   bytes, the client's late input is read and dropped, so that closing
   does not reset the connection under the response (lingering close). */
#define LINGER_MS	2000
#define LINGER_BYTES	(256 * 1024)

/* A client socket is watched for output only once a write came up short:
   most never fill their send buffer, and a new socket, being writable,
   would cost a wakeup for nothing. */
#define CLIENT_EVENTS	(EPOLLIN | EPOLLRDHUP | EPOLLET)

struct proxy_engine	proxy;

/*
 * Sets the client's deadline `ms` from now, 0 for none: a lazy one
 * (ev_deadline_set), so that a request moves no timer in the common case.
 * The heap is sized for one timer per connection struct.
 */
void
proxy_deadline_set(struct client *c, uint64_t ms)
{
	if (ev_deadline_set(proxy.loop, &c->timer, ms) == -1)
		fatalx("proxy: timer heap full");
}

/* ---- the ready list ------------------------------------------------------ */

static void
ready_push(struct client *c)
{
	if (c->queued)
		return;
	c->queued = true;
	TAILQ_INSERT_TAIL(&proxy.ready, c, ready);
	proxy.nready++;
	if (ev_io_set(proxy.loop, &proxy.kick, EPOLLOUT) == -1)
		fatal("proxy: epoll_ctl for the ready list");
}

static void
on_kick(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct client *c;
	unsigned n = proxy.nready;

	/* Those queued again while this runs wait for the next turn. */
	while (n-- > 0 && (c = TAILQ_FIRST(&proxy.ready)) != NULL) {
		TAILQ_REMOVE(&proxy.ready, c, ready);
		proxy.nready--;
		c->queued = false;
		proxy_client_run(c);
	}
	if (TAILQ_EMPTY(&proxy.ready))
		ev_io_stop(l, &proxy.kick);
}

/* ---- connections --------------------------------------------------------- */

void
proxy_client_close(struct client *c)
{
	proxy_request_end(c);		/* cut short: if a line is owed */
	if (c->up != NULL)
		proxy_drop_upstream(c, false);
	proxy_splice_release(c);
	if (c->queued) {
		TAILQ_REMOVE(&proxy.ready, c, ready);
		proxy.nready--;
		c->queued = false;
	}
	/* close(2) takes the socket out of epoll (no other descriptor
	   refers to it), which saves an epoll_ctl per connection. */
	ev_io_forget(proxy.loop, &c->io);
	ev_timer_stop(proxy.loop, &c->timer);
	if (close(c->io.fd) == -1)
		log_debug("close client: %s", strerror(errno));
	buf_put(c->in);
	buf_put(c->out);
	c->in = c->out = NULL;
	TAILQ_REMOVE(&proxy.open, c, entry);
	TAILQ_INSERT_HEAD(&proxy.free, c, entry);
	proxy.nopen--;
	count_sub(&proxy.shm->slots[proxy.slot].active_connections, 1);
	if (proxy.on_release != NULL)
		proxy.on_release();
}

static void
exchange_reset(struct client *c)
{
	memset(&c->x, 0, sizeof(c->x));
	c->x.server = -1;
	http_request_init(&c->x.req, proxy.headers, MAX_HEADERS);
	http_response_init(&c->x.resp, proxy.headers, MAX_HEADERS);
}

static void
enter_idle(struct client *c)
{
	c->state = CS_IDLE;
	c->idle_since = ev_now(proxy.loop);
	proxy_deadline_set(c, proxy.draining ? DRAIN_GRACE_MS :
	    c->listener->client_timeout_ms);
}

/*
 * The exchange is over and the connection stays: on to the pipelined
 * request already read, or idle until the next one.
 */
void
proxy_next_request(struct client *c)
{
	struct buf *in = c->in;

	buf_put(c->out);
	c->out = NULL;
	in->off = c->x.req_end;
	exchange_reset(c);
	if (in->off < in->len) {
		c->state = CS_HEAD;	/* a pipelined request is waiting */
		c->x.t_start = now_us();
		proxy_deadline_set(c, c->listener->client_timeout_ms);
	} else {
		buf_put(in);
		c->in = NULL;
		enter_idle(c);
	}
}

static const char *
status_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/*
 * Answers the request with an error of the proxy's own and closes the
 * connection after it; any upstream connection is closed.  If part of a
 * response already went out, the close is all the client can be told.
 */
enum step
proxy_reply_error(struct client *c, int status, const char *why)
{
	struct exchange *x = &c->x;
	char body[CONF_NAME_MAX + 64];
	struct buf *out;
	int blen, n;

	log_debug("client %s: %d: %s", c->ip, status, why ? why : "");
	if (c->up != NULL)
		proxy_drop_upstream(c, false);
	if (x->resp_started || (x->resp_any && c->out->off < x->resp_end) ||
	    (c->out == NULL && (c->out = buf_get()) == NULL)) {
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	out = c->out;
	if (status == 503)
		blen = snprintf(body, sizeof(body),
		    "no server available in pool %s\n",
		    c->listener->pool->name);
	else
		blen = snprintf(body, sizeof(body), "%d %s\n", status,
		    status_reason(status));
	n = snprintf(out->data + HEADROOM, out->cap - HEADROOM,
	    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%s", status,
	    status_reason(status), blen,
	    x->req.method == HTTP_METHOD_HEAD ? "" : body);
	out->off = HEADROOM;
	out->len = HEADROOM + (uint32_t)n;
	x->head_bytes += (uint64_t)n - (x->req.method == HTTP_METHOD_HEAD ?
	    0 : (uint64_t)blen);
	x->status = status;
	x->close_after = true;
	c->state = CS_REPLY;
	proxy_count_response(c, status);
	proxy_deadline_set(c, c->listener->client_timeout_ms);
	return STEP_MORE;
}

/* The client's send buffer is full: wait for the edge that says it is
   not, watching for it from now on.  Returns -1 if epoll fails. */
int
proxy_client_blocked(struct client *c)
{
	c->can_write = false;
	return ev_io_set(proxy.loop, &c->io, CLIENT_EVENTS | EPOLLOUT);
}

/* Writes out[off, end) to the client. */
enum step
proxy_client_send(struct client *c, uint32_t end)
{
	struct buf *out = c->out;
	size_t len = end - out->off;
	ssize_t n;

	if (len == 0 || !c->can_write)
		return STEP_WAIT;
	if ((n = write(c->io.fd, out->data + out->off, len)) == -1) {
		if (errno == EINTR)
			return STEP_MORE;
		if (errno == EAGAIN && proxy_client_blocked(c) == 0)
			return STEP_WAIT;
		log_debug("client %s: write: %s", c->ip, strerror(errno));
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	if ((size_t)n < len && proxy_client_blocked(c) == -1) {
		log_warn("epoll_ctl client: %s", strerror(errno));
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	out->off += (uint32_t)n;
	c->x.sent += (uint64_t)n;
	c->moved_client = true;
	return STEP_MORE;
}

/*
 * The connection's last response is out: close it.  At once when the
 * client asked for the close and sent nothing after its request; else
 * shut the write side and drop what the client still sends for a while
 * (CS_LINGER), so the close does not reset the connection under the
 * response before the client has read it.
 */
enum step
proxy_client_finish(struct client *c)
{
	struct exchange *x = &c->x;

	if (x->resp_started && x->reqf.done && !x->req.keep_alive &&
	    (c->in == NULL || c->in->len == x->req_end)) {
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	if (shutdown(c->io.fd, SHUT_WR) == -1) {
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	buf_put(c->in);
	buf_put(c->out);
	c->in = c->out = NULL;
	c->state = CS_LINGER;
	c->lingered = 0;
	proxy_deadline_set(c, LINGER_MS);
	return STEP_MORE;
}

static enum step
step_linger(struct client *c)
{
	ssize_t n;

	if (!c->can_read)
		return STEP_WAIT;
	n = read(c->io.fd, proxy.drop, sizeof(proxy.drop));
	if (n > 0) {
		if ((size_t)n < sizeof(proxy.drop) && !c->rdhup)
			c->can_read = false;
		c->lingered += (uint32_t)n;
		if (c->lingered < LINGER_BYTES)
			return STEP_MORE;
	} else if (n == -1 && errno == EAGAIN) {
		c->can_read = false;
		return STEP_WAIT;
	} else if (n == -1 && errno == EINTR)
		return STEP_MORE;
	proxy_client_close(c);
	return STEP_CLOSED;
}

static enum step
step_reply(struct client *c)
{
	if (c->out->off < c->out->len)
		return proxy_client_send(c, c->out->len);
	proxy_request_end(c);
	return proxy_client_finish(c);
}

/* ---- the request head ---------------------------------------------------- */

/* A whole request head is at in->off: rewrite it and pick a server. */
static enum step
request_start(struct client *c, uint32_t hlen)
{
	struct exchange *x = &c->x;
	struct buf *in = c->in;
	const char *head = in->data + in->off;

	proxy_request_begin(c, head, true);
	proxy_deadline_set(c, 0);
	if (x->req.method == HTTP_METHOD_CONNECT)
		return proxy_reply_error(c, 501, "CONNECT is not supported");
	x->req_next = x->req_end = in->off + hlen;
	proxy_framing_init(&x->reqf, http_request_body(&x->req),
	    x->req.content_length, true);
	proxy_request_key(c, head);
	if (c->out == NULL && (c->out = buf_get()) == NULL) {
		log_warn("out of memory for a buffer");
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	if (proxy_render_request(c, head, hlen) == -1)
		return proxy_reply_error(c, 431, "head too large with the "
		    "added fields");
	c->state = CS_FORWARD;
	return proxy_exchange_start(c);
}

/* Reads and parses a request head (CS_IDLE, CS_HEAD). */
static enum step
step_head(struct client *c)
{
	struct buf *in = c->in;
	size_t room;
	ssize_t n;
	int rc;

	if (in != NULL && in->len > in->off) {
		rc = http_parse_request(in->data + in->off, in->len - in->off,
		    c->listener->max_header_size, &c->x.req);
		if (rc > 0)
			return request_start(c, (uint32_t)rc);
		if (rc < 0) {
			proxy_request_begin(c, in->data + in->off, false);
			return proxy_reply_error(c, -rc, c->x.req.error);
		}
	}
	if (!c->can_read)
		return STEP_WAIT;
	if (in == NULL && (in = c->in = buf_get()) == NULL) {
		log_warn("out of memory for a buffer");
		proxy_client_close(c);
		return STEP_CLOSED;
	}
	if (in->off > 0)
		buf_compact(in, 0);	/* parser offsets: relative */
	if ((room = buf_room(in)) == 0)	/* cap >= max_header_size: */
		fatalx("step_head: full buffer, incomplete head");
	if ((n = read(c->io.fd, in->data + in->len, room)) > 0) {
		if ((size_t)n < room && !c->rdhup)
			c->can_read = false;
		in->len += (uint32_t)n;
		if (c->state == CS_IDLE) {
			c->state = CS_HEAD;
			c->x.t_start = now_us();
			proxy_deadline_set(c, c->listener->client_timeout_ms);
		}
		return STEP_MORE;
	}
	if (n == -1 && errno == EINTR)
		return STEP_MORE;
	if (n == -1 && errno == EAGAIN) {
		c->can_read = false;
		if (in->len == in->off) {
			buf_put(in);
			c->in = NULL;
		}
		return STEP_WAIT;
	}
	/* End of file or an error, between requests or in a head. */
	proxy_client_close(c);
	return STEP_CLOSED;
}

/* ---- events -------------------------------------------------------------- */

/*
 * Runs the connection's state machine until it waits for an event, closes,
 * or has taken RUN_STEPS steps (then it goes on the ready list: with
 * edge-triggered events nothing else would wake it).  Returns false if the
 * connection was closed.
 */
bool
proxy_client_run(struct client *c)
{
	enum step s = STEP_MORE;
	int i;

	for (i = 0; i < RUN_STEPS && s == STEP_MORE; i++) {
		switch (c->state) {
		case CS_IDLE:
		case CS_HEAD:
			s = step_head(c);
			break;
		case CS_FORWARD:
			s = proxy_step_forward(c);
			break;
		case CS_REPLY:
			s = step_reply(c);
			break;
		case CS_LINGER:
			s = step_linger(c);
			break;
		}
	}
	if (s == STEP_CLOSED)
		return false;
	if (c->state == CS_FORWARD)
		proxy_forward_timers(c);
	if (s == STEP_MORE)
		ready_push(c);
	return true;
}

static void
on_client_io(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct client *c = FROM(io, struct client, io);

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		c->can_read = true;
	if (events & EPOLLRDHUP)
		c->rdhup = true;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		c->can_write = true;
	proxy_client_run(c);
}

static void
on_client_timer(struct ev_loop *l, struct ev_timer *t)
{
	struct client *c = FROM(t, struct client, timer);
	enum step s;

	if (!ev_deadline_due(l, t))
		return;
	switch (c->state) {
	case CS_HEAD:
		proxy_request_begin(c, c->in != NULL ? c->in->data +
		    c->in->off : NULL, false);
		s = proxy_reply_error(c, 408, "request head timed out");
		break;
	case CS_FORWARD:
		s = proxy_reply_error(c, 408, "client timed out");
		break;
	default:
		/* idle keep-alive, a reply or lingering: just close */
		proxy_client_close(c);
		return;
	}
	if (s != STEP_CLOSED)
		proxy_client_run(c);
}

/* ---- the interface ------------------------------------------------------- */

uint32_t
proxy_timers_needed(const struct conf *conf)
{
	uint64_t n = 2 * (uint64_t)conf->max_connections + 16;
	unsigned i;

	/* one per client, one per busy upstream, one per idle upstream */
	for (i = 0; i < conf->nservers; i++)
		n += conf->servers[i].pool->keepalive;
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

uint64_t
proxy_descriptors_needed(const struct conf *conf)
{
	uint64_t n = 2 * (uint64_t)conf->max_connections + 2 * PIPES_MAX;
	unsigned i;

	for (i = 0; i < conf->nservers; i++)
		n += conf->servers[i].pool->keepalive;
	return n;
}

int
proxy_init(const struct conf *conf, struct shm *shm, unsigned slot,
    struct ev_loop *loop, void (*on_release)(void), char *err,
    size_t errlen)
{
	size_t size = PROXY_BUF_SIZE;
	unsigned i;
	int fd;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].max_header_size > size)
			size = conf->listeners[i].max_header_size;
	buf_init(size + HEADROOM, BUF_CACHE);
	proxy.conf = conf;
	proxy.shm = shm;
	proxy.slot = slot;
	proxy.loop = loop;
	proxy.on_release = on_release;
	TAILQ_INIT(&proxy.free);
	TAILQ_INIT(&proxy.open);
	TAILQ_INIT(&proxy.ready);
	/* Taken in order, so the pages of structs never used stay
	   untouched and cost no memory. */
	proxy.slab = calloc(conf->max_connections, sizeof(*proxy.slab));
	proxy.warned_ms = calloc(conf->nservers + 1,
	    sizeof(*proxy.warned_ms));
	if (proxy.slab == NULL || proxy.warned_ms == NULL ||
	    proxy_log_init(conf) == -1 ||
	    upstream_init(conf, loop, conf->max_connections) == -1) {
		snprintf(err, errlen, "proxy: out of memory");
		return -1;
	}
	if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	ev_io_init(&proxy.kick, fd, on_kick);
	return 0;
}

unsigned
proxy_clients(void)
{
	return proxy.nopen;
}

void
proxy_accept(int fd, const struct conf_listener *l,
    const struct sockaddr *sa, socklen_t salen)
{
	struct slot_row *row = &proxy.shm->slots[proxy.slot];
	struct client *c;

	if ((c = TAILQ_FIRST(&proxy.free)) != NULL)
		TAILQ_REMOVE(&proxy.free, c, entry);
	else if (proxy.nslab < proxy.conf->max_connections)
		c = &proxy.slab[proxy.nslab++];
	else {
		/* The worker stops accepting at max_connections. */
		log_warn("proxy_accept: no free connection");
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	ev_io_init(&c->io, fd, on_client_io);
	ev_timer_init(&c->timer, on_client_timer);
	c->listener = l;
	memcpy(&c->peer, sa, salen < sizeof(c->peer) ? salen :
	    sizeof(c->peer));
	net_host_text(&c->peer.sa, c->ip, sizeof(c->ip));
	c->iplen = (uint8_t)strlen(c->ip);
	exchange_reset(c);
	TAILQ_INSERT_HEAD(&proxy.open, c, entry);
	proxy.nopen++;
	count_add(&row->accepted, 1);
	count_add(&row->active_connections, 1);
	enter_idle(c);
	/* The request is often there already: read before registering
	   (an edge that comes in between is reported by the ADD). */
	c->can_read = c->can_write = true;
	if (!proxy_client_run(c))
		return;
	if (c->io.events == 0 &&
	    ev_io_set(proxy.loop, &c->io, CLIENT_EVENTS) == -1) {
		log_warn("epoll_ctl client: %s", strerror(errno));
		proxy_client_close(c);
	}
}

void
proxy_drain(void)
{
	struct client *c, *next;
	uint64_t now = ev_now(proxy.loop), idle;

	proxy.draining = true;
	for (c = TAILQ_FIRST(&proxy.open); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CS_IDLE)
			continue;
		idle = now - c->idle_since;
		if (idle >= DRAIN_GRACE_MS)
			proxy_client_close(c);
		else
			proxy_deadline_set(c, DRAIN_GRACE_MS - idle);
	}
}
