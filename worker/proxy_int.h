/*
 * What the proxy engine's files share, and nothing outside them sees:
 * the connection and exchange types, the engine's one state, and the
 * functions one file offers the others.  proxy.h is the engine's face to
 * the worker.
 *
 *   proxy.c           client connections: accept, request heads, the
 *                     proxy's own error replies, keep-alive, lingering
 *                     close, drain, the ready list and client events
 *   proxy_exchange.c  one exchange with a server: choice, connect, retry,
 *                     request body out, response in and relayed
 *   proxy_head.c      header rewriting, both directions, and the
 *                     balancing key
 *   proxy_body.c      where a message body ends (framing)
 *   proxy_splice.c    large bodies moved by splice(2), both ways
 *   proxy_log.c       what a request leaves behind: counters, warnings
 *                     about servers, the access log line
 */
#ifndef FORKLIFT_PROXY_INT_H
#define FORKLIFT_PROXY_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "common/event.h"
#include "common/shm.h"
#include "worker/balance.h"
#include "worker/buffer.h"
#include "worker/http_parse.h"
#include "worker/upstream.h"

/* Room kept before a response head so it can be rewritten in place: more
   than the longest line the proxy adds ("Connection: keep-alive"). */
#define HEADROOM	64
/* Compact a buffer when less than this is free at its end. */
#define LOW_WATER	4096
/* Field lines in one head; more is 431 (or 502 from a server). */
#define MAX_HEADERS	100
/* Pipes for spliced request bodies, per worker, and what one holds (the
   kernel's default of 16 pages). */
#define PIPES_MAX	16
#define PIPE_BYTES	(64 * 1024)
/* When draining, keep-alive connections idle this long are closed; a
   connection idle for less may have a request on its way to us. */
#define DRAIN_GRACE_MS	1000

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
	bool			 hold_lines;	/* chunked: see proxy_body.c */
	uint64_t		 left;		/* length, or chunk data */
	uint32_t		 held;		/* chunked: walked, held back */
	struct http_chunked	 chunked;	/* HTTP_BODY_CHUNKED */
};

/* A pipe splicing one body (proxy_splice.c). */
struct body_pipe {
	int			 rd;
	int			 wr;
	uint32_t		 held;		/* bytes in the pipe */
	bool			 response;	/* server to client */
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
	uint64_t		 body_piped;	/* into a pipe: no retry */
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
	int			 ustatus;	/* final, from the server */
	uint64_t		 sent;		/* bytes to the client */
	uint64_t		 head_bytes;	/* of them, in heads */

	/* The access log's, while it is on (see proxy_log.c). */
	bool			 logging;	/* a line is owed */
	bool			 rid_add;	/* X-Request-Id is ours */

	/* Timing, monotonic microseconds; the others only while logging. */
	uint64_t		 t_start;	/* first byte of the request */
	uint64_t		 t_attempt;	/* the last server chosen */
	uint64_t		 t_connect;	/* connected, or reused */
	uint64_t		 t_done;	/* response read whole */
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
	struct body_pipe	*pipe;		/* splicing the body */
	enum client_state	 state;
	bool			 can_read;	/* edge, no EAGAIN yet */
	bool			 can_write;
	bool			 rdhup;		/* client shut its side */
	bool			 queued;	/* on the ready list */
	bool			 moved_client;	/* client I/O, this run */
	bool			 moved_up;	/* server I/O, this run */
	uint64_t		 idle_since;	/* ms, entering CS_IDLE */
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

/* The engine of this process: one per worker. */
struct proxy_engine {
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
};

extern struct proxy_engine	proxy;

static inline uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Counters: this worker's own rows, so relaxed and uncontended. */
static inline void
count_add(_Atomic uint64_t *c, uint64_t n)
{
	shm_count(c, n);
}

static inline void
count_sub(_Atomic uint64_t *c, uint64_t n)
{
	shm_count(c, (uint64_t)0 - n);
}

static inline struct server_counters *
server_row(int id)
{
	return shm_server_counters(proxy.shm, proxy.slot, (unsigned)id);
}

/* proxy.c */
bool		proxy_client_run(struct client *);
void		proxy_client_close(struct client *);
enum step	proxy_client_send(struct client *, uint32_t end);
int		proxy_client_blocked(struct client *);
enum step	proxy_client_finish(struct client *);
void		proxy_next_request(struct client *);
enum step	proxy_reply_error(struct client *, int status, const char *);
void		proxy_deadline_set(struct client *, uint64_t ms);

/* proxy_exchange.c */
enum step	proxy_exchange_start(struct client *);
enum step	proxy_step_forward(struct client *);
void		proxy_forward_timers(struct client *);
void		proxy_drop_upstream(struct client *, bool reuse);
enum step	proxy_upstream_broken(struct client *, const char *why);
enum step	proxy_upstream_eof(struct client *);

/* proxy_head.c */
int		proxy_render_request(struct client *, const char *head,
		    uint32_t hlen);
uint32_t	proxy_rewrite_response(struct client *, uint32_t off,
		    uint32_t hlen, const char *extra, size_t elen);
void		proxy_request_key(struct client *, const char *head);

/* proxy_body.c */
void		proxy_framing_init(struct framing *, enum http_body,
		    int64_t length, bool hold_lines);
int		proxy_framing_feed(struct framing *, const char *p,
		    size_t avail, size_t *n);

/* proxy_splice.c */
enum step	proxy_splice_request(struct client *);
enum step	proxy_splice_response(struct client *);
void		proxy_splice_release(struct client *);
void		proxy_splice_upstream_gone(struct client *);

/* Bytes c's pipe holds for the client (response) or the server. */
static inline uint32_t
proxy_piped(const struct client *c, bool response)
{
	return c->pipe != NULL && c->pipe->response == response ?
	    c->pipe->held : 0;
}

/* proxy_log.c */
int		proxy_log_init(const struct conf *);
void		proxy_request_begin(struct client *, const char *head,
		    bool parsed);
void		proxy_request_end(struct client *);
const char	*proxy_request_id(const struct client *, size_t *len);
void		proxy_count_response(struct client *, int status);
void		proxy_server_failed(const struct conf_server *,
		    const char *why);

#endif
