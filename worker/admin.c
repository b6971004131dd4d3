/*
 * The admin server of a worker: accepting on the admin socket, reading and
 * parsing one request head per connection, answering it from a page
 * rendered into a scratch buffer, and closing.  Also the request-rate
 * sampler, and the appenders and escapers the renderers (admin_stats.c,
 * admin_page.c) use.
 *
 * A connection lives through three states: HEAD (reading the request head,
 * ADMIN_HEAD_MAX bytes at most, within TIMEOUT_MS), SEND (writing the
 * response; the timer restarts on every progress) and LINGER (our side
 * shut down, reading and dropping what the client still sends until it
 * closes, so that unread input does not make the kernel reset the
 * connection before the client has read the response).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "common/net.h"
#include "common/process.h"
#include "worker/admin.h"
#include "worker/http_parse.h"
#include "worker/worker.h"

#define ADMIN_HEAD_MAX		8192	/* request head bytes */
#define ADMIN_MAX_HEADERS	64	/* header lines of a request */
#define TIMEOUT_MS		5000	/* head, and each step of a send */
#define LINGER_MS		1000	/* waiting for the client's close */
#define STOP_GRACE_MS		1000	/* for a silent connection at stop */
#define HEAD_RESERVE		512	/* room before a body for its head */
#define SAMPLE_MS		1000	/* request-rate sampling period */
#define RATE_SAMPLES		4	/* rates span the last 3 periods */

enum conn_state {
	CONN_FREE,
	CONN_HEAD,
	CONN_SEND,
	CONN_LINGER,
};

struct admin_conn {
	struct ev_io		 io;
	struct ev_timer		 timer;
	enum conn_state		 state;
	char			 in[ADMIN_HEAD_MAX];
	size_t			 in_len;
	struct http_request	 req;
	struct http_header	 headers[ADMIN_MAX_HEADERS];
	const char		*out;		/* the scratch, or `own` */
	char			*own;		/* a copy of an unsent rest */
	size_t			 out_off;
	size_t			 out_len;
};

static struct {
	struct ev_loop		*loop;
	struct worker_args	 args;
	struct ev_io		 listener;	/* fd -1 once stopped */
	bool			 paused;	/* not accepting for now */
	struct admin_conn	 conns[ADMIN_MAX_CONNS];
	unsigned		 nconns;
	char			*scratch;	/* a response is made here */
	size_t			 scratch_cap;
	/* The sampler: ring[i * nrates + k] is value k of sample i. */
	struct ev_timer		 sampler;
	uint64_t		*ring;
	uint64_t		 ring_ms[RATE_SAMPLES];
	unsigned		 nsamples;	/* taken, all time */
	double			*rates;		/* [nrates] */
	size_t			 nrates;
} adm = { .listener = { .fd = -1 } };

/*
 * The appenders.
 */

void
admin_buf_put(struct admin_buf *b, const char *s, size_t len)
{
	size_t room = b->cap - b->len;

	if (len > room) {
		len = room;
		b->overflow = true;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

void
admin_buf_printf(struct admin_buf *b, const char *fmt, ...)
{
	size_t room = b->cap - b->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("admin_buf_printf: bad format \"%s\"", fmt);
	if ((size_t)n >= room) {
		/* vsnprintf kept room - 1 bytes and a NUL. */
		b->len += room > 0 ? room - 1 : 0;
		b->overflow = true;
		return;
	}
	b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * JSON strings must be valid Unicode: a byte that does not start a valid
 * UTF-8 sequence becomes U+FFFD, so a peer's garbage in an error message
 * cannot break the document.
 */
void
admin_buf_json(struct admin_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			admin_buf_put(b, "\\", 1);
			admin_buf_put(b, (const char *)p++, 1);
		} else if (*p == '\n')
			admin_buf_put(b, "\\n", 2), p++;
		else if (*p == '\r')
			admin_buf_put(b, "\\r", 2), p++;
		else if (*p == '\t')
			admin_buf_put(b, "\\t", 2), p++;
		else if (*p < 0x20 || *p == 0x7f)
			admin_buf_printf(b, "\\u%04x", *p++);
		else if ((n = utf8_len(p)) == 0)
			admin_buf_put(b, "\\ufffd", 6), p++;
		else {
			admin_buf_put(b, (const char *)p, n);
			p += n;
		}
	}
}

void
admin_buf_html(struct admin_buf *b, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc;

		switch (*s) {
		case '&': esc = "&amp;"; break;
		case '<': esc = "&lt;"; break;
		case '>': esc = "&gt;"; break;
		case '"': esc = "&quot;"; break;
		case '\'': esc = "&#39;"; break;
		default: continue;
		}
		admin_buf_put(b, run, (size_t)(s - run));
		admin_buf_put(b, esc, strlen(esc));
		run = s + 1;
	}
	admin_buf_put(b, run, (size_t)(s - run));
}

void
admin_buf_label(struct admin_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			admin_buf_put(b, "\\\\", 2);
		else if (*s == '"')
			admin_buf_put(b, "\\\"", 2);
		else if (*s == '\n')
			admin_buf_put(b, "\\n", 2);
		else
			admin_buf_put(b, s, 1);
	}
}

/*
 * The request-rate sampler: every SAMPLE_MS it reads the request totals
 * (all pools, each pool, each server) and derives per-second rates over
 * the samples it holds.
 */

static void
sample_take(uint64_t *v)
{
	const struct shm *shm = adm.args.shm;
	const struct conf *conf = adm.args.conf;
	unsigned slot, i;

	memset(v, 0, adm.nrates * sizeof(*v));
	for (slot = 0; slot < shm->hdr->nslots; slot++) {
		v[0] += atomic_load_explicit(&shm->slots[slot].requests,
		    memory_order_relaxed);
		for (i = 0; i < conf->npools; i++)
			v[1 + i] += atomic_load_explicit(&shm_pool_counters(shm,
			    slot, i)->requests, memory_order_relaxed);
	}
	for (i = 0; i < conf->nservers; i++)
		v[1 + conf->npools + i] = shm_server_sum(shm, i,
		    offsetof(struct server_counters, requests));
}

static void
on_sample(struct ev_loop *loop, struct ev_timer *t)
{
	unsigned newest = adm.nsamples % RATE_SAMPLES, oldest;
	const uint64_t *a, *z;
	double secs;
	size_t k;

	sample_take(adm.ring + newest * adm.nrates);
	adm.ring_ms[newest] = ev_now(loop);
	adm.nsamples++;
	if (adm.nsamples >= 2) {
		oldest = adm.nsamples < RATE_SAMPLES ? 0 :
		    adm.nsamples % RATE_SAMPLES;
		a = adm.ring + oldest * adm.nrates;
		z = adm.ring + newest * adm.nrates;
		secs = (double)(adm.ring_ms[newest] - adm.ring_ms[oldest]) /
		    1000.0;
		for (k = 0; k < adm.nrates; k++)
			adm.rates[k] = secs <= 0 || z[k] < a[k] ? 0 :
			    (double)(z[k] - a[k]) / secs;
	}
	if (adm.paused && adm.listener.fd != -1 &&
	    adm.nconns < ADMIN_MAX_CONNS &&
	    ev_io_set(loop, &adm.listener, EPOLLIN) == 0)
		adm.paused = false;
	if (ev_timer_start(loop, t, SAMPLE_MS) == -1)
		log_warn("admin: no timer left for the rate sampler");
}

/*
 * The connections.
 */

static const char *
reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static void
pause_accepting(void)
{
	ev_io_stop(adm.loop, &adm.listener);
	adm.paused = true;
}

static void
resume_accepting(void)
{
	if (!adm.paused || adm.listener.fd == -1)
		return;
	if (ev_io_set(adm.loop, &adm.listener, EPOLLIN) == -1) {
		log_warn("admin: epoll: %s", strerror(errno));
		return;		/* the sampler tries again */
	}
	adm.paused = false;
}

static void
conn_close(struct admin_conn *c)
{
	ev_io_stop(adm.loop, &c->io);
	ev_timer_stop(adm.loop, &c->timer);
	if (close(c->io.fd) == -1)
		log_debug("admin: close: %s", strerror(errno));
	free(c->own);
	c->own = NULL;
	c->state = CONN_FREE;
	adm.nconns--;
	resume_accepting();
}

/* Switches c to `events` with a fresh timeout, or closes it. */
static void
conn_wait(struct admin_conn *c, uint32_t events, uint64_t ms)
{
	if (ev_io_set(adm.loop, &c->io, events) == -1) {
		log_warn("admin: epoll: %s", strerror(errno));
		conn_close(c);
		return;
	}
	if (ev_timer_start(adm.loop, &c->timer, ms) == -1) {
		log_warn("admin: no timer left; closing a connection");
		conn_close(c);
	}
}

/* The response is out: half-close and wait for the client to close. */
static void
conn_linger(struct admin_conn *c)
{
	free(c->own);
	c->own = NULL;
	if (shutdown(c->io.fd, SHUT_WR) == -1) {
		conn_close(c);
		return;
	}
	c->state = CONN_LINGER;
	conn_wait(c, EPOLLIN, LINGER_MS);
}

/*
 * Writes what it can of the response.  A rest still in the scratch (which
 * the next response overwrites) is first copied into c->own.
 */
static void
conn_send(struct admin_conn *c)
{
	bool progress = false;
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->io.fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			conn_close(c);	/* the client went away */
			return;
		}
		c->out_off += (size_t)n;
		progress = true;
	}
	if (c->out_off == c->out_len) {
		conn_linger(c);
		return;
	}
	if (c->own == NULL) {
		if ((c->own = malloc(c->out_len - c->out_off)) == NULL) {
			log_warn("admin: out of memory for a response");
			conn_close(c);
			return;
		}
		memcpy(c->own, c->out + c->out_off, c->out_len - c->out_off);
		c->out = c->own;
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (progress || c->io.events != EPOLLOUT)
		conn_wait(c, EPOLLOUT, TIMEOUT_MS);
}

/*
 * Sends the `body_len` bytes at scratch + HEAD_RESERVE (only the head for
 * HEAD requests) after a head made here.  `extra` holds more header lines,
 * each ending in CRLF.
 */
static void
respond(struct admin_conn *c, int status, const char *type, size_t body_len,
    bool head_only, const char *extra)
{
	char head[HEAD_RESERVE];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Server: forklift\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	    status, reason_of(status), type, body_len, extra);
	if (n < 0 || (size_t)n >= sizeof(head))
		fatalx("admin: respond: head of %d bytes", n);
	memcpy(adm.scratch + HEAD_RESERVE - n, head, (size_t)n);
	c->out = adm.scratch + HEAD_RESERVE - n;
	c->out_off = 0;
	c->out_len = (size_t)n + (head_only ? 0 : body_len);
	c->state = CONN_SEND;
	conn_send(c);
}

static void
respond_text(struct admin_conn *c, int status, bool head_only,
    const char *extra)
{
	struct admin_buf b = { adm.scratch + HEAD_RESERVE, 0,
	    adm.scratch_cap - HEAD_RESERVE, false };

	admin_buf_printf(&b, "%d %s\n", status, reason_of(status));
	respond(c, status, "text/plain; charset=utf-8", b.len, head_only,
	    extra);
}

enum admin_page {
	PAGE_NONE,
	PAGE_HTML,
	PAGE_STATS,
	PAGE_METRICS,
};

/* The page a request target names; the query is ignored. */
static enum admin_page
page_of(const char *t, size_t len)
{
	const char *p;
	size_t n;

	/* absolute-form: skip "scheme://authority". */
	if (len > 0 && t[0] != '/' && (p = memmem(t, len, "://", 3)) != NULL) {
		p += 3;
		n = len - (size_t)(p - t);
		t = memchr(p, '/', n);
		if (t == NULL)
			return PAGE_HTML;
		len = n - (size_t)(t - p);
	}
	if ((p = memchr(t, '?', len)) != NULL)
		len = (size_t)(p - t);
	if (len == 1 && t[0] == '/')
		return PAGE_HTML;
	if (len == 6 && memcmp(t, "/stats", 6) == 0)
		return PAGE_STATS;
	if (len == 8 && memcmp(t, "/metrics", 8) == 0)
		return PAGE_METRICS;
	return PAGE_NONE;
}

static void
conn_serve(struct admin_conn *c)
{
	struct admin_buf b = { adm.scratch + HEAD_RESERVE, 0,
	    adm.scratch_cap - HEAD_RESERVE, false };
	struct admin_view v;
	enum admin_page page;
	bool head_only = c->req.method == HTTP_METHOD_HEAD;
	const char *type;

	page = page_of(c->in + c->req.target.off, c->req.target.len);
	if (page == PAGE_NONE) {
		respond_text(c, 404, head_only, "");
		return;
	}
	if (c->req.method != HTTP_METHOD_GET && !head_only) {
		respond_text(c, 405, false, "Allow: GET, HEAD\r\n");
		return;
	}
	v.conf = adm.args.conf;
	v.shm = adm.args.shm;
	v.slot = adm.args.slot;
	v.now_ms = process_wall_ms();
	v.rates = adm.nsamples >= 2 ? adm.rates : NULL;
	if (page == PAGE_HTML) {
		admin_render_html(&b, &v);
		type = "text/html; charset=utf-8";
	} else if (page == PAGE_STATS) {
		admin_render_stats(&b, &v);
		type = "application/json";
	} else {
		admin_render_metrics(&b, &v);
		type = "text/plain; version=0.0.4; charset=utf-8";
	}
	if (b.overflow) {
		log_warn("admin: a page outgrew its %zu bytes", b.cap);
		respond_text(c, 500, head_only, "");
		return;
	}
	respond(c, 200, type, b.len, head_only, "");
}

static void
conn_read_head(struct admin_conn *c)
{
	ssize_t n;
	int r;

	for (;;) {
		n = read(c->io.fd, c->in + c->in_len,
		    sizeof(c->in) - c->in_len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->in_len += (size_t)n;
		r = http_parse_request(c->in, c->in_len, sizeof(c->in),
		    &c->req);
		if (r > 0) {
			conn_serve(c);
			return;
		}
		if (r < 0) {
			respond_text(c, -r, false, "");
			return;
		}
		if (c->in_len == sizeof(c->in)) {
			/* The parser reports a full buffer; be sure. */
			respond_text(c, 431, false, "");
			return;
		}
	}
}

/* Drops what the client still sends after the response. */
static void
conn_drain(struct admin_conn *c)
{
	char sink[4096];
	ssize_t n;

	for (;;) {
		n = read(c->io.fd, sink, sizeof(sink));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
	}
}

static void
on_conn_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct admin_conn *c = (struct admin_conn *)((char *)io -
	    offsetof(struct admin_conn, io));

	switch (c->state) {
	case CONN_HEAD:
		conn_read_head(c);
		break;
	case CONN_SEND:
		conn_send(c);
		break;
	case CONN_LINGER:
		conn_drain(c);
		break;
	case CONN_FREE:
		fatalx("admin: event on a free connection");
	}
}

static void
on_conn_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct admin_conn *c = (struct admin_conn *)((char *)t -
	    offsetof(struct admin_conn, timer));

	if (c->state == CONN_HEAD && c->in_len > 0)
		respond_text(c, 408, false, "");
	else
		conn_close(c);
}

static void
conn_open(int fd)
{
	struct admin_conn *c = NULL;
	unsigned i;

	for (i = 0; i < ADMIN_MAX_CONNS && c == NULL; i++)
		if (adm.conns[i].state == CONN_FREE)
			c = &adm.conns[i];
	if (c == NULL)
		fatalx("admin: %u connections and none free", adm.nconns);
	ev_io_init(&c->io, fd, on_conn_io);
	ev_timer_init(&c->timer, on_conn_timer);
	c->state = CONN_HEAD;
	c->in_len = 0;
	c->own = NULL;
	http_request_init(&c->req, c->headers, ADMIN_MAX_HEADERS);
	adm.nconns++;
	conn_wait(c, EPOLLIN, TIMEOUT_MS);
}

static void
on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	unsigned n;
	int fd;

	for (n = 0; n < ADMIN_MAX_CONNS; n++) {
		if (adm.nconns == ADMIN_MAX_CONNS) {
			pause_accepting();	/* conn_close() resumes */
			return;
		}
		fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd == -1 && errno == EAGAIN)
			return;
		if (fd == -1) {
			/* Out of descriptors or memory: the sampler resumes
			   within a second rather than spin here. */
			log_warn("admin: accept: %s", strerror(errno));
			pause_accepting();
			return;
		}
		conn_open(fd);
	}
}

int
admin_start(struct ev_loop *loop, const struct worker_args *args)
{
	const struct conf *conf = args->conf;

	adm.loop = loop;
	adm.args = *args;
	adm.scratch_cap = HEAD_RESERVE +
	    admin_page_bound(conf, args->shm->hdr->nslots);
	adm.nrates = 1 + (size_t)conf->npools + conf->nservers;
	adm.scratch = malloc(adm.scratch_cap);
	adm.ring = calloc(RATE_SAMPLES * adm.nrates, sizeof(*adm.ring));
	adm.rates = calloc(adm.nrates, sizeof(*adm.rates));
	if (adm.scratch == NULL || adm.ring == NULL || adm.rates == NULL) {
		log_error("admin: out of memory");
		return -1;
	}
	/* accept4() is called until EAGAIN: it must never block. */
	if (net_set_nonblock(args->admin_fd) == -1) {
		log_error("admin: non-blocking socket: %s", strerror(errno));
		return -1;
	}
	ev_io_init(&adm.listener, args->admin_fd, on_accept);
	if (ev_io_set(loop, &adm.listener, EPOLLIN) == -1) {
		log_error("admin: epoll: %s", strerror(errno));
		return -1;
	}
	ev_timer_init(&adm.sampler, on_sample);
	on_sample(loop, &adm.sampler);
	return 0;
}

void
admin_stop(struct ev_loop *loop)
{
	unsigned i;

	if (adm.listener.fd == -1)
		return;
	ev_io_stop(loop, &adm.listener);
	if (close(adm.listener.fd) == -1)
		log_warn("admin: close: %s", strerror(errno));
	adm.listener.fd = -1;
	adm.paused = false;
	ev_timer_stop(loop, &adm.sampler);
	/*
	 * A connection accepted but not yet heard from may have its request
	 * on the way: it gets STOP_GRACE_MS, as an idle proxy client does,
	 * rather than a close that the client would see as a reset.
	 */
	for (i = 0; i < ADMIN_MAX_CONNS; i++)
		if (adm.conns[i].state == CONN_HEAD &&
		    adm.conns[i].in_len == 0)
			conn_wait(&adm.conns[i], EPOLLIN, STOP_GRACE_MS);
}

unsigned
admin_connections(void)
{
	return adm.nconns;
}
