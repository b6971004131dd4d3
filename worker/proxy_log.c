/*
 * What a request leaves behind: this worker's counters in the shared
 * tables (requests, responses by class, the duration histogram, server
 * failures), a warning at most once a second per failing server, and,
 * when access_log is on, one access log line (worker/access_log.h).
 *
 * A line is owed from the moment a request is counted (its head parsed,
 * refused, or timed out) and is written once the response to it has gone
 * out, or when the connection closes first: then with the status of the
 * response begun, or 499 (nginx's "client closed request") if none was.
 * What the line needs from the request head is copied when the head is
 * parsed, into a bounded area of the connection (struct capture), since
 * the head's bytes are overwritten once the body flows.  With the log off
 * nothing is copied or formatted and no request id is made.
 *
 * Request ids: the client's X-Request-Id is kept, and passes to the server
 * untouched, when it is the only one and access_log_request_id_valid()
 * accepts it.  Otherwise the proxy makes an id and the server gets it as
 * X-Request-Id, in place of the client's lines.  Only while the log is on:
 * an id is there to join a line of this log to the server's own, and with
 * no line to join, the request passes as it came.  Making and forwarding
 * an id costs about 150 instructions, some 3% of what the proxy spends in
 * user space on a small GET (callgrind), and 32 bytes on the wire; the
 * whole log, about 1,700 instructions a request.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/process.h"
#include "worker/access_log.h"
#include "worker/proxy_int.h"

/* At most one warning a second per server about its failures. */
#define WARN_EVERY_MS	1000
/* Status logged for a request whose client left before any response. */
#define STATUS_CLIENT_GONE	499

/* Bytes kept of each text of a head; a longer one is cut to end in "...". */
#define CAP_METHOD	32
#define CAP_TARGET	1024
#define CAP_REFERER	512
#define CAP_AGENT	512

/* One per connection struct, used only while the access log is on. */
struct capture {
	uint16_t	 method_len;
	uint16_t	 target_len;
	uint16_t	 referer_len;
	uint16_t	 agent_len;
	uint8_t		 rid_len;
	int		 minor;		/* -1: the head did not parse */
	char		 rid[ACCESS_LOG_RID_MAX + 1];
	char		 method[CAP_METHOD];
	char		 target[CAP_TARGET];
	char		 referer[CAP_REFERER];
	char		 agent[CAP_AGENT];
};

/* [max_connections], parallel to proxy.slab; NULL while the log is off.
   Pages of connection structs never used are never touched. */
static struct capture	*captures;

int
proxy_log_init(const struct conf *conf)
{
	if (!access_log_enabled())
		return 0;
	captures = calloc(conf->max_connections, sizeof(*captures));
	return captures == NULL ? -1 : 0;
}

static struct pool_counters *
pool_row(const struct client *c)
{
	return shm_pool_counters(proxy.shm, proxy.slot,
	    c->listener->pool->id);
}

/* A response went to the client: its class and how long it took. */
void
proxy_count_response(struct client *c, int status)
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

/* Counts a failure of `s` (passive health) and says so, once a second. */
void
proxy_server_failed(const struct conf_server *s, const char *why)
{
	uint64_t now = ev_now(proxy.loop);

	count_add(&server_row((int)s->id)->failures, 1);
	if (proxy.warned_ms[s->id] == 0 ||
	    now - proxy.warned_ms[s->id] >= WARN_EVERY_MS) {
		proxy.warned_ms[s->id] = now;
		log_warn("server %s (%s) of pool %s: %s", s->name,
		    s->addr.text, s->pool->name, why);
	}
}

/* ---- the access log ------------------------------------------------------ */

static struct capture *
capture_of(const struct client *c)
{
	return &captures[c - proxy.slab];
}

/* Copies src[0..len) into dst[0..cap), cut to end in "..." if longer. */
static uint16_t
keep(char *dst, size_t cap, const char *src, size_t len)
{
	if (len <= cap) {
		memcpy(dst, src, len);
		return (uint16_t)len;
	}
	memcpy(dst, src, cap - 3);
	memcpy(dst + cap - 3, "...", 3);
	return (uint16_t)cap;
}

/*
 * The texts of a parsed head, and its request id: the client's if it
 * sent exactly one valid X-Request-Id, else a new one for the server.
 */
static void
capture_fields(struct client *c, struct capture *cap, const char *head)
{
	const struct http_header *h = proxy.headers;
	const struct http_span *v;
	int rid = -1;
	size_t i, nrid = 0;

	for (i = 0; i < c->x.req.nheaders; i++) {
		v = &h[i].value;
		if (h[i].kind == HTTP_FIELD_USER_AGENT && cap->agent_len == 0)
			cap->agent_len = keep(cap->agent, CAP_AGENT,
			    head + v->off, v->len);
		else if (h[i].kind == HTTP_FIELD_REFERER &&
		    cap->referer_len == 0)
			cap->referer_len = keep(cap->referer, CAP_REFERER,
			    head + v->off, v->len);
		else if (h[i].kind == HTTP_FIELD_X_REQUEST_ID && nrid++ == 0)
			rid = (int)i;
	}
	if (nrid == 1 && access_log_request_id_valid(head + h[rid].value.off,
	    h[rid].value.len)) {
		cap->rid_len = (uint8_t)h[rid].value.len;
		memcpy(cap->rid, head + h[rid].value.off, cap->rid_len);
		return;
	}
	cap->rid_len = (uint8_t)access_log_request_id(cap->rid,
	    sizeof(cap->rid));
	c->x.rid_add = true;
}

/*
 * A request is counted: its head parsed (`parsed`), or refused or timed
 * out, with what was read of it at `head` (NULL: nothing).  With the
 * access log on, the line's fields are taken from the head now.
 */
void
proxy_request_begin(struct client *c, const char *head, bool parsed)
{
	const struct http_request *req = &c->x.req;
	struct capture *cap;

	count_add(&proxy.shm->slots[proxy.slot].requests, 1);
	count_add(&pool_row(c)->requests, 1);
	if (captures == NULL)
		return;
	c->x.logging = true;
	cap = capture_of(c);
	cap->method_len = cap->target_len = 0;
	cap->referer_len = cap->agent_len = 0;
	cap->minor = parsed ? req->minor : -1;
	/* A head that failed may have its method and target parsed. */
	if (head != NULL && req->method_name.len > 0) {
		cap->method_len = keep(cap->method, CAP_METHOD,
		    head + req->method_name.off, req->method_name.len);
		cap->target_len = keep(cap->target, CAP_TARGET,
		    head + req->target.off, req->target.len);
	}
	if (parsed && head != NULL)
		capture_fields(c, cap, head);
	else
		cap->rid_len = (uint8_t)access_log_request_id(cap->rid,
		    sizeof(cap->rid));
}

/* The request id the server is to get (x->rid_add), and its length. */
const char *
proxy_request_id(const struct client *c, size_t *len)
{
	const struct capture *cap = capture_of(c);

	*len = cap->rid_len;
	return cap->rid;
}

static struct access_text
text(const char *p, size_t len)
{
	return (struct access_text){ p, len };
}

/* Microseconds from `from` to `to`, -1 when `from` never happened. */
static int64_t
span_us(uint64_t from, uint64_t to)
{
	return from == 0 || to < from ? -1 : (int64_t)(to - from);
}

/*
 * Writes the line a request owes, if it owes one: at the end of its
 * response, or when its connection closes first.
 */
void
proxy_request_end(struct client *c)
{
	struct exchange *x = &c->x;
	const struct capture *cap;
	struct access_entry e;
	uint64_t now;

	if (!x->logging)
		return;
	x->logging = false;
	cap = capture_of(c);
	now = now_us();
	memset(&e, 0, sizeof(e));
	e.wall_ms = process_wall_ms() - (int64_t)(now - x->t_start) / 1000;
	e.client = text(c->ip, c->iplen);
	e.method = text(cap->method, cap->method_len);
	e.target = text(cap->target, cap->target_len);
	e.minor = cap->minor;
	e.status = x->status != 0 ? x->status : STATUS_CLIENT_GONE;
	e.body_bytes = x->sent > x->head_bytes ? x->sent - x->head_bytes : 0;
	e.referer = text(cap->referer, cap->referer_len);
	e.user_agent = text(cap->agent, cap->agent_len);
	if (x->server >= 0)
		e.upstream = text(proxy.conf->servers[x->server].addr.text,
		    strlen(proxy.conf->servers[x->server].addr.text));
	e.upstream_status = x->ustatus;
	e.request_us = span_us(x->t_start, now);
	e.connect_us = x->t_connect != 0 ?
	    span_us(x->t_attempt, x->t_connect) : -1;
	e.response_us = span_us(x->t_attempt, x->t_done != 0 ? x->t_done :
	    now);
	e.request_id = text(cap->rid, cap->rid_len);
	access_log_request(&e);
}
