/*
 * The proxy engine: one state machine per client connection, which drives
 * at most one upstream connection (whose own state is in struct upstream:
 * connecting, busy, idle).  One request is in flight per client connection;
 * pipelined requests wait in the client's input buffer and are answered in
 * order.
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
 * deadline kept lazily (see deadline_set), so a request moves no timer in
 * the common case.  What a deadline means follows from the state when it
 * passes: idle keep-alive, request head (408), client inactivity, server
 * connect or response (504), lingering.
 *
 * Versions: the request line passes as the client sent it.  HTTP/1.1 keeps
 * the server connection alive by default; HTTP/1.0 requests get
 * "Connection: keep-alive" instead of being raised to 1.1, which would let
 * the server answer chunked to a client that cannot read it.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "worker/balance.h"
#include "worker/buffer.h"
#include "worker/http_parse.h"
#include "worker/proxy.h"
#include "worker/upstream.h"

/* Bytes a buffer holds per direction, unless max_header_size is larger. */
#define PROXY_BUF_SIZE	16384
/* Room kept before a response head so it can be rewritten in place: more
   than the longest line the proxy adds ("Connection: keep-alive"). */
#define HEADROOM	64
/* Compact a buffer when less than this is free at its end. */
#define LOW_WATER	4096
/* Free buffers kept for reuse; the rest go back to malloc. */
#define BUF_CACHE	256
/* Field lines in one head; more is 431 (or 502 from a server). */
#define MAX_HEADERS	100
/* Steps one connection takes per wakeup before the others get a turn. */
#define RUN_STEPS	32
/* After the last response of a closing connection: how long, and how many
   bytes, the client's late input is read and dropped, so that closing
   does not reset the connection under the response (lingering close). */
#define LINGER_MS	2000
#define LINGER_BYTES	(256 * 1024)
/* When draining, keep-alive connections idle this long are closed; a
   connection idle for less may have a request on its way to us. */
#define DRAIN_GRACE_MS	1000
/* At most one warning a second per server about its failures. */
#define WARN_EVERY_MS	1000

/* A client socket is watched for output only once a write came up short:
   most never fill their send buffer, and a new socket, being writable,
   would cost a wakeup for nothing. */
#define CLIENT_EVENTS	(EPOLLIN | EPOLLRDHUP | EPOLLET)

#define FROM(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

enum client_state {
	CS_IDLE,	/* keep-alive: no byte of the next request yet */
	CS_HEAD,	/* reading a request head */
	CS_FORWARD,	/* an exchange with a server */
	CS_REPLY,	/* writing a response of the proxy's own, then close */
	CS_LINGER,	/* all sent, write side shut: dropping input */
};

enum resp_state {
	RS_HEAD,	/* waiting for a (final or interim) response head */
	RS_BODY,	/* relaying the final response's body */
	RS_DONE,	/* the whole response is in `out` */
};

/* What a step did: nothing to do until an event, progress, or freed. */
enum step {
	STEP_WAIT,
	STEP_MORE,
	STEP_CLOSED,
};

/* Where a message body ends. */
struct framing {
	enum http_body		 kind;
	bool			 done;
	bool			 hold_lines;	/* chunked: see chunked_feed */
	uint64_t		 left;		/* length, or chunk data */
	uint32_t		 held;		/* chunked: walked, held back */
	struct http_chunked	 chunked;	/* HTTP_BODY_CHUNKED */
};

/* One request and its response: reset for every request. */
struct exchange {
	/* The request.  Its head stays at in->off until a body byte is sent,
	   so that a retry can still read the balancing key from it. */
	struct http_request	 req;
	uint32_t		 req_next;	/* first body byte not sent */
	uint32_t		 req_end;	/* end of framed body bytes */
	struct framing		 reqf;
	uint64_t		 body_sent;
	bool			 req_abandoned;	/* rest not forwarded */
	bool			 close_after;	/* the connection's last */
	bool			 has_key;
	uint32_t		 key_off;	/* balancing key in head */
	uint32_t		 key_len;

	/* Attempts at a server. */
	int			 server;	/* id, -1 none yet */
	unsigned		 tried[LB_MAX_TRIED];
	unsigned		 ntried;
	unsigned		 nfail;		/* failures, to `retries` */
	bool			 stale_retried;	/* free retry spent */
	bool			 fresh;		/* no idle connection */
	bool			 reached;	/* a connect succeeded */
	bool			 head_sent;
	bool			 head_dropped;	/* no resend possible */

	/* The response, in `out`. */
	struct http_response	 resp;
	enum resp_state		 rstate;
	struct framing		 respf;
	uint32_t		 resp_head;	/* next head to parse */
	uint32_t		 resp_end;	/* end of what may be sent */
	bool			 resp_any;	/* a byte came (attempt) */
	bool			 resp_started;	/* final head parsed */
	bool			 up_dirty;	/* bytes past response */
	int			 status;	/* final, to the client */

	/* Timing for the access log, monotonic microseconds. */
	uint64_t		 t_start;	/* first byte of the request */
	uint64_t		 t_connect;	/* connected, or reused */
	uint64_t		 t_first;	/* first response byte */
};

struct client {
	struct ev_io		 io;
	struct ev_timer		 timer;
	TAILQ_ENTRY(client)	 entry;		/* open or free */
	TAILQ_ENTRY(client)	 ready;		/* ready list */
	const struct conf_listener *listener;
	struct buf		*in;
	struct buf		*out;
	struct upstream		*up;
	enum client_state	 state;
	bool			 can_read;	/* edge, no EAGAIN yet */
	bool			 can_write;
	bool			 rdhup;		/* client shut its side */
	bool			 queued;	/* on the ready list */
	bool			 moved_client;	/* client I/O, this run */
	bool			 moved_up;	/* server I/O, this run */
	uint64_t		 deadline;	/* loop ms; 0: none */
	uint64_t		 idle_since;	/* ms, entering CS_IDLE */
	uint64_t		 t_accept;	/* monotonic microseconds */
	uint32_t		 lingered;	/* dropped in CS_LINGER */
	struct exchange		 x;
	union {
		struct sockaddr		 sa;
		struct sockaddr_in	 sin;
		struct sockaddr_in6	 sin6;
	}			 peer;
	char			 ip[48];	/* peer, X-Forwarded-For */
	uint8_t			 iplen;
};

TAILQ_HEAD(client_list, client);

static struct {
	const struct conf	*conf;
	struct shm		*shm;
	unsigned		 slot;
	struct ev_loop		*loop;
	void			(*on_release)(void);
	struct client		*slab;		/* [max_connections] */
	unsigned		 nslab;		/* structs ever used */
	struct client_list	 free;		/* used, then closed */
	struct client_list	 open;
	struct client_list	 ready;
	unsigned		 nready;
	unsigned		 nopen;
	bool			 draining;
	struct ev_io		 kick;		/* runs the ready list */
	uint64_t		*warned_ms;	/* [nservers] */
	/* The field lines of the head being parsed.  A head is parsed and
	   used within one call, so one array serves every connection. */
	struct http_header	 headers[MAX_HEADERS];
	char			 drop[16384];	/* lingering reads */
} px;

static bool	client_run(struct client *);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Counters: this worker's own rows, so relaxed and uncontended. */
static void
count_add(_Atomic uint64_t *c, uint64_t n)
{
	shm_count(c, n);
}

static void
count_sub(_Atomic uint64_t *c, uint64_t n)
{
	shm_count(c, (uint64_t)0 - n);
}

static struct server_counters *
server_row(int id)
{
	return shm_server_counters(px.shm, px.slot, (unsigned)id);
}

static struct pool_counters *
pool_row(const struct client *c)
{
	return shm_pool_counters(px.shm, px.slot, c->listener->pool->id);
}

/* A response went to the client: its class and how long it took. */
static void
count_response(struct client *c, int status)
{
	struct pool_counters *pc = pool_row(c);
	uint64_t us = now_us() - c->x.t_start;
	unsigned i;

	if (status >= 100 && status <= 599)
		count_add(&pc->responses[status / 100 - 1], 1);
	for (i = 0; i < SHM_DURATION_BUCKETS - 1; i++)
		if (us <= shm_duration_bounds_us[i])
			break;
	count_add(&pc->duration_buckets[i], 1);
	count_add(&pc->duration_sum_us, us);
}

/*
 * The client's deadline, kept lazily as upstream_deadline() keeps an
 * upstream's: `ms` from now, 0 for none; the timer is re-armed only when
 * it would fire too late, and its callback asks deadline_due() first.
 */
static void
deadline_set(struct client *c, uint64_t ms)
{
	if (ms == 0) {
		c->deadline = 0;
		return;
	}
	c->deadline = ev_now(px.loop) + ms;
	if (ev_timer_active(&c->timer) && c->timer.when <= c->deadline)
		return;
	/* The heap is sized for one timer per connection struct. */
	if (ev_timer_start(px.loop, &c->timer, ms) == -1)
		fatalx("proxy: timer heap full");
}

static bool
deadline_due(struct client *c)
{
	uint64_t now = ev_now(px.loop);

	if (c->deadline == 0)
		return false;
	if (now < c->deadline) {
		deadline_set(c, c->deadline - now);
		return false;
	}
	c->deadline = 0;
	return true;
}

static bool
idempotent(enum http_method m)
{
	return m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD ||
	    m == HTTP_METHOD_PUT || m == HTTP_METHOD_DELETE ||
	    m == HTTP_METHOD_OPTIONS || m == HTTP_METHOD_TRACE;
}

/* hold_lines: hold back incomplete chunk-size lines (see chunked_feed). */
static void
framing_init(struct framing *f, enum http_body kind, int64_t length,
    bool hold_lines)
{
	f->kind = kind;
	f->done = kind == HTTP_BODY_NONE;
	f->hold_lines = hold_lines;
	f->held = 0;
	f->left = kind == HTTP_BODY_LENGTH && length > 0 ? (uint64_t)length :
	    0;
	if (kind == HTTP_BODY_LENGTH && f->left == 0)
		f->done = true;
	if (kind == HTTP_BODY_CHUNKED)
		http_chunked_init(&f->chunked);
}

/*
 * A chunked body walked so that no byte of a line (chunk size and
 * extensions, the CRLF after data, trailers) counts as framed before the
 * whole line has been checked: a server then never sees a chunk-size line
 * that turns out malformed, even arriving a byte at a time.  Chunk data
 * counts as it comes.  p[0..held) were walked by an earlier call and held
 * back; *n gets the bytes of p that may go.  Right after a line the
 * tracker's `remaining` is the size of the chunk whose data follows (0 if
 * a line follows).  Size lines are bounded by the walker
 * (HTTP_CHUNK_EXT_MAX) well below a buffer; a trailer line longer than
 * the room left would wait, until client_timeout answers 408.
 */
static int
chunked_feed(struct framing *f, const char *p, size_t avail, size_t *n)
{
	size_t pos = f->held, safe = 0, end, used;
	const char *lf;
	bool line;
	int rc;

	while (pos < avail) {
		if (!(line = f->left == 0))
			end = pos + (avail - pos < f->left ? avail - pos :
			    (size_t)f->left);
		else if ((lf = memchr(p + pos, '\n', avail - pos)) != NULL)
			end = (size_t)(lf - p) + 1;
		else
			end = avail;
		rc = http_chunked_feed(&f->chunked, p + pos, end - pos, &used);
		if (rc < 0)
			return rc;
		pos += used;
		if (rc == HTTP_CHUNKED_DONE) {
			f->done = true;
			safe = pos;
			break;
		}
		if (!line) {
			f->left -= used;
			safe = pos;
		} else if (p[pos - 1] == '\n') {
			f->left = f->chunked.remaining;
			safe = pos;
		}
	}
	f->held = (uint32_t)(pos - safe);
	*n = safe;
	return 0;
}

/*
 * Walks p[0..avail), the next bytes of a body, and sets *n to how many
 * belong to it.  Returns 0, or a negated status for a bad chunked body.
 * A close-delimited body takes everything; its end is the server's EOF.
 */
static int
framing_feed(struct framing *f, const char *p, size_t avail, size_t *n)
{
	int rc;

	*n = 0;
	if (f->done)
		return 0;
	switch (f->kind) {
	case HTTP_BODY_LENGTH:
		*n = avail < f->left ? avail : (size_t)f->left;
		f->left -= *n;
		f->done = f->left == 0;
		return 0;
	case HTTP_BODY_CHUNKED:
		if (f->hold_lines)
			return chunked_feed(f, p, avail, n);
		if ((rc = http_chunked_feed(&f->chunked, p, avail, n)) < 0)
			return rc;
		f->done = rc == HTTP_CHUNKED_DONE;
		return 0;
	case HTTP_BODY_CLOSE:
		*n = avail;
		return 0;
	default:
		f->done = true;
		return 0;
	}
}

/* ---- the ready list ------------------------------------------------------ */

static void
ready_push(struct client *c)
{
	if (c->queued)
		return;
	c->queued = true;
	TAILQ_INSERT_TAIL(&px.ready, c, ready);
	px.nready++;
	if (ev_io_set(px.loop, &px.kick, EPOLLOUT) == -1)
		fatal("proxy: epoll_ctl for the ready list");
}

static void
on_kick(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct client *c;
	unsigned n = px.nready;

	/* Those queued again while this runs wait for the next turn. */
	while (n-- > 0 && (c = TAILQ_FIRST(&px.ready)) != NULL) {
		TAILQ_REMOVE(&px.ready, c, ready);
		px.nready--;
		c->queued = false;
		client_run(c);
	}
	if (TAILQ_EMPTY(&px.ready))
		ev_io_stop(l, &px.kick);
}

/* ---- heads --------------------------------------------------------------- */

/* Field lines not forwarded: hop-by-hop ones, and those the proxy sets. */
static bool
drop_field(const struct http_header *h, bool request)
{
	if (h->hop || h->kind == HTTP_FIELD_TRAILER)
		return true;
	return request && (h->kind == HTTP_FIELD_X_FORWARDED_FOR ||
	    h->kind == HTTP_FIELD_X_FORWARDED_PROTO ||
	    h->kind == HTTP_FIELD_X_FORWARDED_HOST);
}

static bool
is_xff(const struct http_header *h)
{
	return h->kind == HTTP_FIELD_X_FORWARDED_FOR && !h->hop;
}

/* Appends to a bounded span of memory; `full` records an overflow. */
struct writer {
	char	*p;
	char	*end;
	bool	 full;
};

static void
put(struct writer *w, const void *s, size_t n)
{
	if (w->full || (size_t)(w->end - w->p) < n) {
		w->full = true;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

#define PUTS(w, lit)	put((w), (lit), sizeof(lit) - 1)

/*
 * Writes the request head for the server into c->out at HEADROOM: the
 * client's head (request line untouched, so the version passes as sent)
 * minus the dropped field lines, copied in runs, then X-Forwarded-For
 * (earlier values joined, the client's address last), -Proto and -Host,
 * and "Connection: keep-alive" for HTTP/1.0 (HTTP/1.1 keeps alive by
 * default).  Returns 0, or -1 if it does not fit.
 */
static int
render_request(struct client *c, const char *head, uint32_t hlen)
{
	const struct http_request *req = &c->x.req;
	const struct http_header *h = px.headers;
	struct buf *out = c->out;
	struct writer w = { out->data + HEADROOM, out->data + out->cap, false };
	size_t i, s, run = req->method_name.off, n = req->nheaders;
	size_t nxff = 0;

	for (i = 0; i < n; i++) {
		if (!drop_field(&h[i], true))
			continue;
		s = h[i].name.off;
		put(&w, head + run, s - run);
		run = i + 1 < n ? h[i + 1].name.off : hlen - 2;
		nxff += is_xff(&h[i]);
	}
	put(&w, head + run, hlen - 2 - run);
	PUTS(&w, "X-Forwarded-For: ");
	for (i = 0; nxff > 0 && i < n; i++) {
		if (!is_xff(&h[i]) || h[i].value.len == 0)
			continue;
		put(&w, head + h[i].value.off, h[i].value.len);
		PUTS(&w, ", ");
	}
	put(&w, c->ip, c->iplen);
	PUTS(&w, "\r\nX-Forwarded-Proto: http\r\n");
	if (req->has_host && req->host.len > 0) {
		PUTS(&w, "X-Forwarded-Host: ");
		put(&w, head + req->host.off, req->host.len);
		PUTS(&w, "\r\n");
	}
	if (req->minor == 0)
		PUTS(&w, "Connection: keep-alive\r\n");
	PUTS(&w, "\r\n");
	if (w.full)
		return -1;
	out->off = HEADROOM;
	out->len = (uint32_t)(w.p - out->data);
	return 0;
}

/*
 * Rewrites the response head at out[off, off + hlen) in place: drops the
 * hop-by-hop field lines and puts `extra` after the status line.  Kept
 * lines move towards the end (the final CRLF stays put, so the body still
 * follows the head with no gap) and the status line moves back into the
 * room before off, which the caller guarantees is free for at least
 * HEADROOM bytes.  One write(2) then sends head and body.  Returns the
 * head's new start.
 */
static uint32_t
rewrite_response(struct client *c, uint32_t off, uint32_t hlen,
    const char *extra, size_t elen)
{
	const struct http_header *h = px.headers;
	size_t i, s, e, n = c->x.resp.nheaders;
	size_t status_len = n > 0 ? h[0].name.off : hlen - 2;
	char *base = c->out->data + off, *dst = base + hlen - 2;

	for (i = n; i-- > 0;) {
		if (drop_field(&h[i], false))
			continue;
		s = h[i].name.off;
		e = i + 1 < n ? h[i + 1].name.off : hlen - 2;
		dst -= e - s;
		if (dst != base + s)
			memmove(dst, base + s, e - s);
	}
	dst -= elen + status_len;
	if (dst != base)
		memmove(dst, base, status_len);
	memcpy(dst + status_len, extra, elen);
	return (uint32_t)(dst - c->out->data);
}

static void
set_key(struct exchange *x, size_t off, size_t len)
{
	x->has_key = true;
	x->key_off = (uint32_t)off;
	x->key_len = (uint32_t)len;
}

/* Finds the consistent_hash key in the head just parsed, if the pool
   wants one. */
static void
request_key(struct client *c, const char *head)
{
	const struct conf_pool *p = c->listener->pool;
	struct exchange *x = &c->x;
	const struct http_header *h;
	const char *v;
	size_t len;
	int i;

	if (p->algorithm != ALG_CONSISTENT_HASH)
		return;
	switch (p->hash_key) {
	case HASH_URI:
		set_key(x, x->req.target.off, x->req.target.len);
		break;
	case HASH_HEADER:
		i = http_header_find(head, px.headers, x->req.nheaders,
		    p->hash_key_name, strlen(p->hash_key_name));
		if (i >= 0)
			set_key(x, px.headers[i].value.off,
			    px.headers[i].value.len);
		break;
	case HASH_COOKIE:
		i = http_header_find(head, px.headers, x->req.nheaders,
		    "cookie", 6);
		if (i < 0)
			break;
		h = &px.headers[i];
		v = lb_cookie_value(head + h->value.off, h->value.len,
		    p->hash_key_name, &len);
		if (v != NULL)
			set_key(x, (size_t)(v - head), len);
		break;
	case HASH_CLIENT_IP:
		break;
	}
}

/* ---- connections --------------------------------------------------------- */

static void
drop_upstream(struct client *c, bool reuse)
{
	struct upstream *u = c->up;

	count_sub(&server_row(c->x.server)->active, 1);
	c->up = NULL;
	if (reuse)
		upstream_put(u);
	else
		upstream_close(u);
}

static void
client_close(struct client *c)
{
	if (c->up != NULL)
		drop_upstream(c, false);
	if (c->queued) {
		TAILQ_REMOVE(&px.ready, c, ready);
		px.nready--;
		c->queued = false;
	}
	/* close(2) takes the socket out of epoll (no other descriptor
	   refers to it): only the events pending in this batch are to be
	   forgotten, which saves an epoll_ctl per connection. */
	c->io.events = 0;
	ev_io_stop(px.loop, &c->io);
	ev_timer_stop(px.loop, &c->timer);
	if (close(c->io.fd) == -1)
		log_debug("close client: %s", strerror(errno));
	buf_put(c->in);
	buf_put(c->out);
	c->in = c->out = NULL;
	TAILQ_REMOVE(&px.open, c, entry);
	TAILQ_INSERT_HEAD(&px.free, c, entry);
	px.nopen--;
	count_sub(&px.shm->slots[px.slot].active_connections, 1);
	if (px.on_release != NULL)
		px.on_release();
}

static void
exchange_reset(struct client *c)
{
	memset(&c->x, 0, sizeof(c->x));
	c->x.server = -1;
	http_request_init(&c->x.req, px.headers, MAX_HEADERS);
	http_response_init(&c->x.resp, px.headers, MAX_HEADERS);
}

static void
enter_idle(struct client *c)
{
	c->state = CS_IDLE;
	c->idle_since = ev_now(px.loop);
	deadline_set(c, px.draining ? DRAIN_GRACE_MS :
	    c->listener->client_timeout_ms);
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
static enum step
reply_error(struct client *c, int status, const char *why)
{
	struct exchange *x = &c->x;
	char body[CONF_NAME_MAX + 64];
	struct buf *out;
	int blen, n;

	log_debug("client %s: %d: %s", c->ip, status, why ? why : "");
	if (c->up != NULL)
		drop_upstream(c, false);
	if (x->resp_started || (x->resp_any && c->out->off < x->resp_end) ||
	    (c->out == NULL && (c->out = buf_get()) == NULL)) {
		client_close(c);
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
	x->status = status;
	x->close_after = true;
	c->state = CS_REPLY;
	count_response(c, status);
	deadline_set(c, c->listener->client_timeout_ms);
	return STEP_MORE;
}

/* The client's send buffer is full: wait for the edge that says it is
   not, watching for it from now on.  Returns -1 if epoll fails. */
static int
client_blocked(struct client *c)
{
	c->can_write = false;
	return ev_io_set(px.loop, &c->io, CLIENT_EVENTS | EPOLLOUT);
}

/* Writes out[off, end) to the client. */
static enum step
client_send(struct client *c, uint32_t end)
{
	struct buf *out = c->out;
	size_t len = end - out->off;
	ssize_t n;

	if (len == 0 || !c->can_write)
		return STEP_WAIT;
	if ((n = write(c->io.fd, out->data + out->off, len)) == -1) {
		if (errno == EINTR)
			return STEP_MORE;
		if (errno == EAGAIN && client_blocked(c) == 0)
			return STEP_WAIT;
		log_debug("client %s: write: %s", c->ip, strerror(errno));
		client_close(c);
		return STEP_CLOSED;
	}
	if ((size_t)n < len && client_blocked(c) == -1) {
		log_warn("epoll_ctl client: %s", strerror(errno));
		client_close(c);
		return STEP_CLOSED;
	}
	out->off += (uint32_t)n;
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
static enum step
client_finish(struct client *c)
{
	struct exchange *x = &c->x;

	if (x->resp_started && x->reqf.done && !x->req.keep_alive &&
	    (c->in == NULL || c->in->len == x->req_end)) {
		client_close(c);
		return STEP_CLOSED;
	}
	if (shutdown(c->io.fd, SHUT_WR) == -1) {
		client_close(c);
		return STEP_CLOSED;
	}
	buf_put(c->in);
	buf_put(c->out);
	c->in = c->out = NULL;
	c->state = CS_LINGER;
	c->lingered = 0;
	deadline_set(c, LINGER_MS);
	return STEP_MORE;
}

static enum step
step_linger(struct client *c)
{
	ssize_t n;

	if (!c->can_read)
		return STEP_WAIT;
	n = read(c->io.fd, px.drop, sizeof(px.drop));
	if (n > 0) {
		if ((size_t)n < sizeof(px.drop) && !c->rdhup)
			c->can_read = false;
		c->lingered += (uint32_t)n;
		if (c->lingered < LINGER_BYTES)
			return STEP_MORE;
	} else if (n == -1 && errno == EAGAIN) {
		c->can_read = false;
		return STEP_WAIT;
	} else if (n == -1 && errno == EINTR)
		return STEP_MORE;
	client_close(c);
	return STEP_CLOSED;
}

static enum step
step_reply(struct client *c)
{
	if (c->out->off < c->out->len)
		return client_send(c, c->out->len);
	return client_finish(c);
}

/* ---- servers ------------------------------------------------------------- */

static void	on_up_io(struct ev_loop *, struct ev_io *, uint32_t);
static void	on_up_timer(struct ev_loop *, struct ev_timer *);

/* Counts a failure of `s` (passive health) and says so, once a second. */
static void
server_failed(const struct conf_server *s, const char *why)
{
	uint64_t now = ev_now(px.loop);

	count_add(&server_row((int)s->id)->failures, 1);
	if (px.warned_ms[s->id] == 0 ||
	    now - px.warned_ms[s->id] >= WARN_EVERY_MS) {
		px.warned_ms[s->id] = now;
		log_warn("server %s (%s) of pool %s: %s", s->name,
		    s->addr.text, s->pool->name, why);
	}
}

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
		return reply_error(c, 502, "no server answered");
	return reply_error(c, 503, "no server available");
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
	struct lb_request lr;
	struct upstream *u;
	char err[128];
	int id;

	for (;;) {
		if (x->nfail > pool->retries)
			return give_up(c);
		memset(&lr, 0, sizeof(lr));
		lr.client = &c->peer.sa;
		if (x->has_key) {
			lr.key = c->in->data + c->in->off + x->key_off;
			lr.key_len = x->key_len;
		}
		lr.tried = x->tried;
		lr.ntried = x->ntried;
		if ((id = lb_choose(pool, px.shm, &lr)) == -1)
			return give_up(c);
		s = &px.conf->servers[id];
		u = x->fresh ? NULL :
		    upstream_take(s, c, on_up_io, on_up_timer);
		if (u != NULL) {
			x->reached = true;
			x->t_connect = now_us();
			count_add(&server_row(id)->requests, 1);
		} else if ((u = upstream_connect(s, c, on_up_io, on_up_timer,
		    err, sizeof(err))) != NULL)
			upstream_deadline(u, pool->connect_timeout_ms);
		else if (local_shortage(errno)) {
			/* Not the server's fault: it is not charged. */
			log_warn("connect to %s: %s", s->addr.text, err);
			return reply_error(c, 503, err);
		} else {
			server_failed(s, err);
			exclude(x, id);
			x->nfail++;
			continue;
		}
		c->up = u;
		u->uses++;
		x->server = id;
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
		server_failed(u->server, why);
	drop_upstream(c, false);
	if (x->resp_any || x->head_dropped || x->body_sent > 0 ||
	    (!connecting && !idempotent(x->req.method)))
		return reply_error(c, 502, why);
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
static enum step
upstream_broken(struct client *c, const char *why)
{
	if (!c->x.resp_any)
		return upstream_failed(c, why);
	server_failed(c->up->server, why);
	return reply_error(c, 502, why);
}

/* ---- the request --------------------------------------------------------- */

/* Frames the body bytes read but not yet framed. */
static enum step
frame_request(struct client *c)
{
	struct exchange *x = &c->x;
	size_t n;
	int rc;

	rc = framing_feed(&x->reqf, c->in->data + x->req_end,
	    c->in->len - x->req_end, &n);
	x->req_end += (uint32_t)n;
	if (rc < 0)
		return reply_error(c, -rc, x->reqf.chunked.error);
	return STEP_MORE;
}

static void
count_request(struct client *c)
{
	count_add(&px.shm->slots[px.slot].requests, 1);
	count_add(&pool_row(c)->requests, 1);
}

/* A whole request head is at in->off: rewrite it and pick a server. */
static enum step
request_start(struct client *c, uint32_t hlen)
{
	struct exchange *x = &c->x;
	struct buf *in = c->in;
	const char *head = in->data + in->off;
	enum step s;

	count_request(c);
	deadline_set(c, 0);
	if (x->req.method == HTTP_METHOD_CONNECT)
		return reply_error(c, 501, "CONNECT is not supported");
	x->req_next = x->req_end = in->off + hlen;
	framing_init(&x->reqf, http_request_body(&x->req),
	    x->req.content_length, true);
	request_key(c, head);
	if (c->out == NULL && (c->out = buf_get()) == NULL) {
		log_warn("out of memory for a buffer");
		client_close(c);
		return STEP_CLOSED;
	}
	if (render_request(c, head, hlen) == -1)
		return reply_error(c, 431, "head too large with the added "
		    "fields");
	c->state = CS_FORWARD;
	if ((s = frame_request(c)) == STEP_CLOSED || c->state != CS_FORWARD)
		return s;		/* closed, or answering a bad body */
	return exchange_connect(c);
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
			count_request(c);
			return reply_error(c, -rc, c->x.req.error);
		}
	}
	if (!c->can_read)
		return STEP_WAIT;
	if (in == NULL && (in = c->in = buf_get()) == NULL) {
		log_warn("out of memory for a buffer");
		client_close(c);
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
			deadline_set(c, c->listener->client_timeout_ms);
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
	client_close(c);
	return STEP_CLOSED;
}

/* ---- the exchange -------------------------------------------------------- */

/* Reads more of the request body from the client. */
static enum step
client_read_body(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *in = c->in;
	uint32_t shift;
	size_t room;
	ssize_t n;

	if (x->reqf.done || x->req_abandoned || !c->can_read)
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
	client_close(c);
	return STEP_CLOSED;
}

/* Writes the rewritten head, then body bytes, to the server. */
static enum step
upstream_send(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	struct iovec iov[2];
	size_t head_left = 0, body_left, hn;
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
	c->out->off += (uint32_t)hn;
	if (!x->head_sent && c->out->off == c->out->len) {
		x->head_sent = true;
		x->resp_head = x->resp_end = c->out->len;
	}
	if ((size_t)n > hn) {
		x->req_next += (uint32_t)(n - hn);
		x->body_sent += (uint64_t)(n - hn);
		c->in->off = x->req_next;	/* the head is done with */
	}
	return STEP_MORE;
}

/* Frames response body bytes read but not yet framed. */
static enum step
frame_response(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *out = c->out;
	size_t n;
	int rc;

	rc = framing_feed(&x->respf, out->data + x->resp_end,
	    out->len - x->resp_end, &n);
	x->resp_end += (uint32_t)n;
	if (rc < 0)
		return upstream_broken(c, x->respf.chunked.error);
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
			c->out->off = rewrite_response(c, x->resp_head, hlen,
			    "", 0);
		x->resp_head += hlen;
		x->resp_end = x->resp_head;
		http_response_init(&x->resp, px.headers, MAX_HEADERS);
		return STEP_MORE;
	}
	if (kind == HTTP_BODY_TUNNEL)
		return upstream_broken(c, "protocol switch not supported");
	count_add(&server_row(x->server)->responses[status / 100 - 1], 1);
	x->resp_started = true;
	x->status = status;
	if (!x->req.keep_alive || px.draining || kind == HTTP_BODY_CLOSE ||
	    !x->reqf.done || x->req_abandoned)
		x->close_after = true;
	if (x->close_after)
		extra = "Connection: close\r\n";
	else if (x->req.minor == 0)
		extra = "Connection: keep-alive\r\n";
	c->out->off = rewrite_response(c, x->resp_head, hlen, extra,
	    strlen(extra));
	x->resp_end = x->resp_head + hlen;
	framing_init(&x->respf, kind, x->resp.content_length, false);
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
			return upstream_broken(c, x->resp.error);
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

static enum step
upstream_eof(struct client *c)
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
	return upstream_broken(c, "closed in the middle of a response");
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
	    x->rstate == RS_DONE)
		return STEP_WAIT;
	out_make_room(c);
	if ((room = buf_room(out)) == 0)
		return STEP_WAIT;	/* the client is slower: wait */
	if ((n = read(u->io.fd, out->data + out->len, room)) > 0) {
		if ((size_t)n < room && !u->rdhup)
			u->can_read = false;
		if (!x->resp_any) {
			x->resp_any = true;
			x->t_first = now_us();
		}
		out->len += (uint32_t)n;
		count_add(&server_row(x->server)->bytes_in, (uint64_t)n);
		c->moved_up = true;
		if (response_advance(c) == STEP_CLOSED)
			return STEP_CLOSED;
		return STEP_MORE;
	}
	if (n == 0)
		return upstream_eof(c);
	if (errno == EAGAIN) {
		u->can_read = false;
		return STEP_WAIT;
	}
	if (errno == EINTR)
		return STEP_MORE;
	return upstream_broken(c, strerror(errno));
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
	if ((s = client_send(c, x->resp_end)) != STEP_MORE)
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
	struct buf *in = c->in;
	bool reuse;

	if (x->rstate != RS_DONE)
		return STEP_WAIT;
	if (c->up != NULL) {
		reuse = x->head_sent && x->reqf.done &&
		    x->req_next == x->req_end && !x->req_abandoned &&
		    x->resp.keep_alive && x->respf.kind != HTTP_BODY_CLOSE &&
		    !x->up_dirty && !c->up->rdhup;
		drop_upstream(c, reuse);
		if (!x->reqf.done)
			x->req_abandoned = true;  /* answered early */
		return STEP_MORE;
	}
	if (c->out->off < x->resp_end)
		return STEP_WAIT;
	count_response(c, x->status);
	if (x->close_after)
		return client_finish(c);
	buf_put(c->out);
	c->out = NULL;
	in->off = x->req_end;
	exchange_reset(c);
	if (in->off < in->len) {
		c->state = CS_HEAD;	/* a pipelined request is waiting */
		c->x.t_start = now_us();
		deadline_set(c, c->listener->client_timeout_ms);
	} else {
		buf_put(in);
		c->in = NULL;
		enter_idle(c);
	}
	return STEP_MORE;
}

static enum step
step_forward(struct client *c)
{
	static enum step (*const steps[])(struct client *) = {
		client_read_body, upstream_send, upstream_recv, client_relay,
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
static void
forward_timers(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	bool wait;

	wait = (!x->reqf.done && !x->req_abandoned &&
	    (buf_room(c->in) > 0 || c->in->off > 0)) ||
	    (x->resp_any && c->out->off < x->resp_end);
	if (!wait)
		deadline_set(c, 0);
	else if (c->moved_client || c->deadline == 0)
		deadline_set(c, c->listener->client_timeout_ms);
	if (u != NULL && !u->connecting) {
		wait = x->rstate != RS_DONE && buf_room(c->out) > 0 &&
		    (!x->head_sent || x->req_next < x->req_end ||
		    x->reqf.done || x->req_abandoned);
		if (!wait)
			upstream_deadline(u, 0);
		else if (c->moved_up || u->deadline == 0)
			upstream_deadline(u,
			    c->listener->pool->server_timeout_ms);
	}
	c->moved_client = c->moved_up = false;
}

/* ---- events -------------------------------------------------------------- */

/*
 * Runs the connection's state machine until it waits for an event, closes,
 * or has taken RUN_STEPS steps (then it goes on the ready list: with
 * edge-triggered events nothing else would wake it).  Returns false if the
 * connection was closed.
 */
static bool
client_run(struct client *c)
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
			s = step_forward(c);
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
		forward_timers(c);
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
	client_run(c);
}

static void
on_client_timer(struct ev_loop *l, struct ev_timer *t)
{
	struct client *c = FROM(t, struct client, timer);
	enum step s;

	if (!deadline_due(c))
		return;
	switch (c->state) {
	case CS_HEAD:
		count_request(c);
		s = reply_error(c, 408, "request head timed out");
		break;
	case CS_FORWARD:
		s = reply_error(c, 408, "client timed out");
		break;
	default:
		/* idle keep-alive, a reply or lingering: just close */
		client_close(c);
		return;
	}
	if (s != STEP_CLOSED)
		client_run(c);
}

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
			c->x.t_connect = now_us();
			count_add(&server_row(c->x.server)->requests, 1);
			upstream_deadline(u, 0);
		}
	}
	client_run(c);
}

static void
on_up_timer(struct ev_loop *l, struct ev_timer *t)
{
	struct upstream *u = FROM(t, struct upstream, timer);
	struct client *c = u->owner;
	enum step s;

	if (!upstream_deadline_due(u))
		return;
	if (u->connecting)
		s = upstream_failed(c, "connect timed out");
	else {
		server_failed(u->server, "timed out");
		s = reply_error(c, 504, "server timed out");
	}
	if (s != STEP_CLOSED)
		client_run(c);
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
	px.conf = conf;
	px.shm = shm;
	px.slot = slot;
	px.loop = loop;
	px.on_release = on_release;
	TAILQ_INIT(&px.free);
	TAILQ_INIT(&px.open);
	TAILQ_INIT(&px.ready);
	/* Taken in order, so the pages of structs never used stay
	   untouched and cost no memory. */
	px.slab = calloc(conf->max_connections, sizeof(*px.slab));
	px.warned_ms = calloc(conf->nservers + 1, sizeof(*px.warned_ms));
	if (px.slab == NULL || px.warned_ms == NULL ||
	    upstream_init(conf, loop, conf->max_connections) == -1) {
		snprintf(err, errlen, "proxy: out of memory");
		return -1;
	}
	if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	ev_io_init(&px.kick, fd, on_kick);
	return 0;
}

unsigned
proxy_clients(void)
{
	return px.nopen;
}

void
proxy_accept(int fd, const struct conf_listener *l,
    const struct sockaddr *sa, socklen_t salen)
{
	struct slot_row *row = &px.shm->slots[px.slot];
	struct client *c;

	if ((c = TAILQ_FIRST(&px.free)) != NULL)
		TAILQ_REMOVE(&px.free, c, entry);
	else if (px.nslab < px.conf->max_connections)
		c = &px.slab[px.nslab++];
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
	c->t_accept = now_us();
	exchange_reset(c);
	TAILQ_INSERT_HEAD(&px.open, c, entry);
	px.nopen++;
	count_add(&row->accepted, 1);
	count_add(&row->active_connections, 1);
	enter_idle(c);
	/* The request is often there already: read before registering
	   (an edge that comes in between is reported by the ADD). */
	c->can_read = c->can_write = true;
	if (!client_run(c))
		return;
	if (c->io.events == 0 &&
	    ev_io_set(px.loop, &c->io, CLIENT_EVENTS) == -1) {
		log_warn("epoll_ctl client: %s", strerror(errno));
		client_close(c);
	}
}

void
proxy_drain(void)
{
	struct client *c, *next;
	uint64_t now = ev_now(px.loop), idle;

	px.draining = true;
	for (c = TAILQ_FIRST(&px.open); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CS_IDLE)
			continue;
		idle = now - c->idle_since;
		if (idle >= DRAIN_GRACE_MS)
			client_close(c);
		else
			deadline_set(c, DRAIN_GRACE_MS - idle);
	}
}
