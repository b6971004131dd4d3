/*
 * The backend's endpoints: maps a request-target to a route, then writes the
 * response into the connection's output buffer.  Fixed bodies are written
 * whole (BK_OUT_RESERVE guarantees the room); /bytes bodies are generated a
 * buffer at a time by bk_stream_fill() as the socket drains.
 *
 * /bytes/N body: byte i is (i * 31 + 7) mod 251.  The sequence repeats every
 * 251 bytes, so one table of 251 + PATTERN_SPAN bytes holds every window.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "tests/backend/backend.h"

/* Longest run of pattern bytes copied at once. */
#define PATTERN_SPAN	16384
/* Period of the /bytes pattern: (i * 31 + 7) mod 251. */
#define PATTERN_PERIOD	251
/* Room a /bytes step wants before it writes, so writes are not tiny. */
#define STREAM_MIN_ROOM	4096
/* Room kept for a chunk's size line and CRLF. */
#define CHUNK_OVERHEAD	32
/* Longest number in a path or query, in digits. */
#define NUM_DIGITS_MAX	20

static unsigned char	 pattern[PATTERN_PERIOD + PATTERN_SPAN];

/*
 * Chunk sizes of a chunked /bytes body, used in turn: tiny and odd sizes
 * mixed with large ones, so a proxy's chunk parsing meets split boundaries.
 */
static const size_t	 chunk_sizes[] = {
	16384, 1, 8191, 16384, 17, 4097, 16384, 333,
};
#define NCHUNK_SIZES	(sizeof(chunk_sizes) / sizeof(chunk_sizes[0]))

void
bk_pattern_init(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (i * 31 + 7) % PATTERN_PERIOD;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

/*
 * Returns room for n more bytes at the end of the output buffer, moving
 * unsent bytes to the front if needed.  Callers check bk_out_room() first:
 * no room is a broken invariant.
 */
static char *
out_space(struct bk_conn *c, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (BK_OUT_MAX - c->out_len < n && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (BK_OUT_MAX - c->out_len < n)
		bk_fatal("out_space: %zu bytes do not fit", n);
	return c->out + c->out_len;
}

static void
out_append(struct bk_conn *c, const void *p, size_t n)
{
	memcpy(out_space(c, n), p, n);
	c->out_len += n;
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct bk_conn *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[1024];	/* longer than any head line written here */
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		bk_fatal("out_printf: line too long");
	out_append(c, buf, n);
}

/*
 * Parses a decimal number of 1 to NUM_DIGITS_MAX digits at p[0..len).
 * Returns 0 with *out set, or -1.
 */
static int
num_arg(const char *p, size_t len, long long max, long long *out)
{
	char		 buf[NUM_DIGITS_MAX + 1];
	const char	*errstr;
	size_t		 i;

	if (len == 0 || len > NUM_DIGITS_MAX)
		return -1;
	for (i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	*out = strtonum(buf, 0, max, &errstr);
	return errstr == NULL ? 0 : -1;
}

/* Reads one known query parameter into r.  Returns 0, or -1 if invalid. */
static int
query_param(struct bk_route *r, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	long long	 n;

	if (klen == 5 && memcmp(k, "delay", 5) == 0) {
		if (num_arg(v, vlen, BK_DELAY_MAX, &n) == -1)
			return -1;
		r->delay_ms = (int)n;
		return 0;
	}
	if (!(klen == 7 && memcmp(k, "chunked", 7) == 0) &&
	    !(klen == 5 && memcmp(k, "close", 5) == 0) &&
	    !(klen == 4 && memcmp(k, "fail", 4) == 0))
		return 0;		/* unknown parameters are ignored */
	if (num_arg(v, vlen, 1, &n) == -1)
		return -1;
	if (klen == 7)
		r->chunked = (int)n;
	else if (klen == 5)
		r->close = (int)n;
	else
		r->fail = (int)n;
	return 0;
}

/* Splits q[0..len) at '&' and '='.  Returns 0, or -1 on a bad value. */
static int
query(struct bk_route *r, const char *q, size_t len)
{
	const char	*end = q + len, *amp, *eq;

	while (q < end) {
		if ((amp = memchr(q, '&', end - q)) == NULL)
			amp = end;
		if ((eq = memchr(q, '=', amp - q)) == NULL)
			eq = amp;
		if (query_param(r, q, eq - q, eq + (eq < amp),
		    amp - eq - (eq < amp)) == -1)
			return -1;
		q = amp + 1;
	}
	return 0;
}

static int
path_is(const char *p, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(p, name, len) == 0;
}

/* Maps the path p[0..len) to a route kind, reading /bytes/N, /status/N. */
static int
route_path(struct bk_route *r, const char *p, size_t len)
{
	long long	 n;

	if (path_is(p, len, "/home"))
		return ROUTE_HOME;
	if (path_is(p, len, "/heartbeat"))
		return ROUTE_HEARTBEAT;
	if (path_is(p, len, "/control/heartbeat"))
		return ROUTE_CONTROL;
	if (path_is(p, len, "/echo"))
		return ROUTE_ECHO;
	if (path_is(p, len, "/upload"))
		return ROUTE_UPLOAD;
	if (path_is(p, len, "/stats"))
		return ROUTE_STATS;
	if (len > 7 && memcmp(p, "/bytes/", 7) == 0) {
		if (num_arg(p + 7, len - 7, BK_BYTES_MAX, &n) == -1)
			return ROUTE_NOTFOUND;
		r->nbytes = n;
		return ROUTE_BYTES;
	}
	if (len > 8 && memcmp(p, "/status/", 8) == 0) {
		if (num_arg(p + 8, len - 8, 599, &n) == -1 || n < 200)
			return ROUTE_NOTFOUND;
		r->status = (int)n;
		return ROUTE_STATUS;
	}
	return ROUTE_NOTFOUND;
}

/*
 * Sets c->route from the request-target in head[0..headlen), which is valid
 * only during this call: /echo keeps its own copy of the head in c->echo,
 * freed once the response is written.
 */
void
bk_route(struct bk_conn *c, const char *head, size_t headlen)
{
	struct bk_route	*r = &c->route;
	const char	*t = head + c->req.target_off, *q;
	size_t		 tlen = c->req.target_len, plen;

	memset(r, 0, sizeof(*r));
	r->fail = -1;
	plen = (q = memchr(t, '?', tlen)) != NULL ? (size_t)(q - t) : tlen;
	r->kind = route_path(r, t, plen);
	if (q != NULL && query(r, q + 1, tlen - plen - 1) == -1)
		r->kind = ROUTE_BADQUERY;
	if (r->kind == ROUTE_ECHO) {
		if ((c->echo = malloc(headlen)) == NULL)
			bk_fatal("bk_route: malloc");
		memcpy(c->echo, head, headlen);
		c->echo_len = headlen;
	}
}

/*
 * Writes a response head.  `framing` is the Content-Length or
 * Transfer-Encoding line, or "" for a close-delimited or empty body.
 */
static void
resp_head(struct bk_conn *c, int status, const char *framing)
{
	const char	*conn = "";

	if (!c->req.keepalive)
		conn = "Connection: close\r\n";
	else if (c->req.minor == 0)
		conn = "Connection: keep-alive\r\n";
	out_printf(c, "HTTP/1.1 %d %s\r\nX-Server: %s\r\n"
	    "Content-Type: text/plain\r\n%s%s\r\n", status, reason(status),
	    bk_srv.name, framing, conn);
	bk_srv.requests++;
	if (bk_srv.verbose)
		bk_log("%s -> %d", c->logline, status);
}

/* Writes a whole response with body p[0..len); the request is done. */
static void
resp_fixed(struct bk_conn *c, int status, const char *p, size_t len)
{
	char	 framing[64];

	if (status == 204 || status == 304) {
		resp_head(c, status, "");
	} else {
		snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n",
		    len);
		resp_head(c, status, framing);
		if (!c->req.head)
			out_append(c, p, len);
	}
	c->state = c->req.keepalive ? ST_HEAD : ST_CLOSING;
}

static void
resp_text(struct bk_conn *c, int status, const char *text)
{
	resp_fixed(c, status, text, strlen(text));
}

/* Starts a /bytes/N response; bk_stream_fill() writes the body. */
static void
resp_bytes(struct bk_conn *c)
{
	struct bk_stream	*s = &c->stream;
	char			 framing[64];

	memset(s, 0, sizeof(*s));
	s->left = c->route.nbytes;
	if (c->route.chunked && c->req.minor >= 1)
		s->mode = STREAM_CHUNKED;
	else if (c->route.chunked || c->route.close)
		s->mode = STREAM_CLOSE;		/* HTTP/1.0 has no chunks */
	else
		s->mode = STREAM_LENGTH;
	if (s->mode == STREAM_CLOSE)
		c->req.keepalive = 0;
	if (s->mode == STREAM_LENGTH)
		snprintf(framing, sizeof(framing), "Content-Length: %" PRIu64
		    "\r\n", s->left);
	else if (s->mode == STREAM_CHUNKED)
		strlcpy(framing, "Transfer-Encoding: chunked\r\n",
		    sizeof(framing));
	else
		framing[0] = '\0';
	resp_head(c, 200, framing);
	if (c->req.head)
		c->state = c->req.keepalive ? ST_HEAD : ST_CLOSING;
	else
		c->state = ST_SEND;
}

/*
 * Writes the generated part of a /bytes body that fits the output buffer.
 * At the end of the body, moves the connection on to ST_HEAD or ST_CLOSING.
 */
void
bk_stream_fill(struct bk_conn *c)
{
	struct bk_stream	*s = &c->stream;
	size_t			 n;

	while (bk_out_room(c) >= STREAM_MIN_ROOM) {
		if (s->left == 0) {
			if (s->mode == STREAM_CHUNKED)
				out_append(c, "0\r\n\r\n", 5);
			c->state = c->req.keepalive ? ST_HEAD : ST_CLOSING;
			return;
		}
		n = bk_out_room(c) - CHUNK_OVERHEAD;
		if (n > PATTERN_SPAN)
			n = PATTERN_SPAN;
		if (s->mode == STREAM_CHUNKED) {
			if (n > chunk_sizes[s->turn])
				n = chunk_sizes[s->turn];
			s->turn = (s->turn + 1) % NCHUNK_SIZES;
		}
		if (n > s->left)
			n = s->left;
		if (s->mode == STREAM_CHUNKED)
			out_printf(c, "%zx\r\n", n);
		out_append(c, pattern + s->pos % PATTERN_PERIOD, n);
		if (s->mode == STREAM_CHUNKED)
			out_append(c, "\r\n", 2);
		s->pos += n;
		s->left -= n;
	}
}

/* The endpoints whose body is a short line of text. */
static void
resp_line(struct bk_conn *c, const struct bk_route *r)
{
	char	 body[256];

	switch (r->kind) {
	case ROUTE_HOME:
		snprintf(body, sizeof(body), "Hello from server: %s\n",
		    bk_srv.name);
		resp_text(c, 200, body);
		break;
	case ROUTE_HEARTBEAT:
		if (bk_srv.failing)
			resp_text(c, 500, "failing\n");
		else
			resp_text(c, 200, "ok\n");
		break;
	case ROUTE_CONTROL:
		if (r->fail == -1) {
			resp_text(c, 400, "fail=0 or fail=1 expected\n");
			break;
		}
		if (bk_srv.failing != r->fail && !bk_srv.quiet)
			bk_log("heartbeat %s", r->fail ? "failing" : "ok");
		bk_srv.failing = r->fail;
		resp_text(c, 200, r->fail ? "heartbeat failing\n" :
		    "heartbeat ok\n");
		break;
	case ROUTE_UPLOAD:
		snprintf(body, sizeof(body), "bytes=%" PRIu64 " fnv1a64=%016"
		    PRIx64 "\n", c->body.total, c->body.hash);
		resp_text(c, 200, body);
		break;
	case ROUTE_STATUS:
		snprintf(body, sizeof(body), "%d %s\n", r->status,
		    reason(r->status));
		resp_text(c, r->status, body);
		break;
	case ROUTE_STATS:
		/* counts this request too: resp_head() has not run yet */
		snprintf(body, sizeof(body), "accepted=%" PRIu64 " requests=%"
		    PRIu64 " active=%" PRIu64 "\n", bk_srv.accepted,
		    bk_srv.requests + 1, bk_srv.active);
		resp_text(c, 200, body);
		break;
	case ROUTE_BADQUERY:
		resp_text(c, 400, "bad query parameter\n");
		break;
	default:
		resp_text(c, 404, "not found\n");
		break;
	}
}

/*
 * Writes the response to the request whose body has been consumed.  The
 * caller ensures bk_out_room() >= BK_OUT_RESERVE.  Sets c->state to what
 * follows: ST_SEND for a /bytes body, else ST_HEAD or ST_CLOSING.
 */
void
bk_respond(struct bk_conn *c)
{
	if (c->route.close)
		c->req.keepalive = 0;
	switch (c->route.kind) {
	case ROUTE_BYTES:
		resp_bytes(c);
		break;
	case ROUTE_ECHO:
		resp_fixed(c, 200, c->echo, c->echo_len);
		free(c->echo);
		c->echo = NULL;
		break;
	default:
		resp_line(c, &c->route);
		break;
	}
}

/* Asks for the body of a request that sent Expect: 100-continue. */
void
bk_respond_continue(struct bk_conn *c)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	out_append(c, cont, sizeof(cont) - 1);
}

/*
 * Answers a request the backend cannot or will not read to the end (400,
 * 417, 431, 501, 505): a short body, Connection: close, then ST_CLOSING.
 */
void
bk_respond_error(struct bk_conn *c, int status)
{
	char	 body[64];

	c->req.keepalive = 0;
	c->req.head = 0;
	snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	resp_text(c, status, body);
}
