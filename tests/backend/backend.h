/*
 * The test/demo backend's private types, shared by its files: backend.c
 * (command line, listening socket, signals, the event loop), backend_conn.c
 * (the connection state machine and timers), backend_http.c (the request
 * parser and body decoder, no I/O) and backend_resp.c (the endpoints and the
 * responses they write).  Nothing of forklift is used here: the
 * backend judges the proxy, so it must not share the proxy's parser.
 */
#ifndef FORKLIFT_BACKEND_H
#define FORKLIFT_BACKEND_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Most connections open at once; more are accepted and closed at once. */
#define BK_MAX_CONNS	16384
/* Longest request head (request line, headers, blank line) accepted: 431. */
#define BK_HEAD_MAX	16384
/* Per-connection output buffer; responses are written into it, then sent. */
#define BK_OUT_MAX	65536
/*
 * Room a response with a fixed body needs: the longest body is /echo's copy
 * of a head, plus the response head.  A request is parsed only when the
 * output buffer has this much room, so pipelined requests cannot grow it.
 */
#define BK_OUT_RESERVE	(BK_HEAD_MAX + 1024)
/* Longest ?delay= in milliseconds (one hour). */
#define BK_DELAY_MAX	3600000
/* Largest /bytes/N: 64 GiB. */
#define BK_BYTES_MAX	(64LL << 30)
/* Longest server name (-n), also sent as X-Server. */
#define BK_NAME_MAX	64
/* Request line kept for the -v log, truncated to this. */
#define BK_LOGLINE_MAX	128

/* Connection states, in the order a request moves through them. */
enum bk_state {
	ST_HEAD,	/* waiting for (more of) a request head */
	ST_BODY,	/* consuming the request body */
	ST_DELAY,	/* body consumed, ?delay= timer running */
	ST_READY,	/* response may be written once the buffer has room */
	ST_SEND,	/* streaming a /bytes body */
	ST_CLOSING,	/* last response queued: flush, then half-close */
	ST_LINGER,	/* half-closed: discard input until EOF or timeout */
	ST_HUNG,	/* hang mode: read and discard, never answer */
};

enum bk_body_kind {
	BODY_NONE,
	BODY_LENGTH,
	BODY_CHUNKED,
};

/* What the parser learned from one request head. */
struct bk_request {
	int		 status;	/* error status when parsing failed */
	int		 head;		/* method is HEAD: no response body */
	int		 minor;		/* HTTP/1.minor */
	int		 keepalive;	/* connection persists after this one */
	int		 expect;	/* Expect: 100-continue */
	int		 body_kind;	/* enum bk_body_kind */
	uint64_t	 length;	/* Content-Length when BODY_LENGTH */
	size_t		 target_off;	/* request-target, offset into head */
	size_t		 target_len;
	size_t		 line_len;	/* request line without CRLF */
};

/* Decoder state of one request body (Content-Length or chunked). */
struct bk_body {
	int		 kind;		/* enum bk_body_kind */
	int		 state;		/* chunked framing state */
	int		 done;
	int		 hashing;	/* keep the FNV-1a hash (/upload) */
	int		 digits;	/* hex digits of the chunk size */
	uint64_t	 left;		/* bytes left in the body or chunk */
	uint64_t	 total;		/* body bytes so far */
	uint64_t	 hash;		/* FNV-1a 64 of the body bytes */
	size_t		 line;		/* bytes of the current chunk-ext */
	size_t		 trailer;	/* trailer bytes so far */
};

enum bk_route_kind {
	ROUTE_HOME,
	ROUTE_HEARTBEAT,
	ROUTE_CONTROL,
	ROUTE_ECHO,
	ROUTE_BYTES,
	ROUTE_UPLOAD,
	ROUTE_STATUS,
	ROUTE_STATS,
	ROUTE_NOTFOUND,
	ROUTE_BADQUERY,
};

/* The endpoint a request asked for, with its query parameters. */
struct bk_route {
	int		 kind;		/* enum bk_route_kind */
	int		 status;	/* /status/CODE */
	int		 delay_ms;	/* ?delay=MS, 0 if absent */
	int		 chunked;	/* ?chunked=1 */
	int		 close;		/* ?close=1 */
	int		 fail;		/* ?fail=0|1, -1 if absent */
	uint64_t	 nbytes;	/* /bytes/N */
};

enum bk_stream_mode {
	STREAM_LENGTH,
	STREAM_CHUNKED,
	STREAM_CLOSE,
};

/* A /bytes body being generated into the output buffer. */
struct bk_stream {
	int		 mode;		/* enum bk_stream_mode */
	unsigned	 turn;		/* picks the next chunk size */
	uint64_t	 pos;		/* index of the next body byte */
	uint64_t	 left;		/* body bytes still to generate */
};

struct bk_conn {
	int			 fd;
	int			 state;		/* enum bk_state */
	uint32_t		 events;	/* epoll mask now registered */
	int			 rd_eof;	/* peer closed its side */
	int			 queued;	/* on the ready list */
	char			*in;		/* BK_HEAD_MAX bytes */
	size_t			 in_off;	/* first unconsumed byte */
	size_t			 in_len;
	size_t			 scan;		/* head parser resume point */
	char			*out;		/* BK_OUT_MAX bytes */
	size_t			 out_off;	/* first unsent byte */
	size_t			 out_len;
	struct bk_request	 req;
	struct bk_body		 body;
	struct bk_route		 route;
	struct bk_stream	 stream;
	char			*echo;		/* copy of the head for /echo */
	size_t			 echo_len;
	char			 logline[BK_LOGLINE_MAX];
	uint64_t		 deadline;	/* timer, monotonic ms */
	size_t			 heap_idx;	/* slot in the timer heap */
	uint64_t		 last_active;	/* last read or write, ms */
	LIST_ENTRY(bk_conn)	 entry;		/* all connections */
	TAILQ_ENTRY(bk_conn)	 ready;		/* more work without an event */
};

/* The process-wide state: the event loop's, and what endpoints report. */
struct bk_server {
	int		 ep;		/* the epoll instance */
	uint64_t	 now;		/* monotonic ms, once per loop turn */
	char		 name[BK_NAME_MAX + 1];
	int		 failing;	/* /heartbeat answers 500 */
	int		 hang;		/* new requests are never answered */
	int		 quiet;		/* -q */
	int		 verbose;	/* -v: one log line per request */
	uint64_t	 accepted;	/* connections accepted since start */
	uint64_t	 requests;	/* responses started since start */
	uint64_t	 active;	/* connections open now */
};

extern struct bk_server bk_srv;

/* backend.c */
void	bk_log(const char *, ...) __attribute__((format(printf, 1, 2)));
void	bk_fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* backend_conn.c */
void	bk_conn_new(int);
void	bk_conn_event(struct bk_conn *, uint32_t);
void	bk_conn_ready_run(void);
void	bk_conn_timers_run(void);
void	bk_conn_sweep(uint64_t);
int	bk_conn_pending(void);
uint64_t bk_conn_next_deadline(void);
void	bk_conn_close_all(void);

/* backend_http.c */
#define BK_FNV_OFFSET	0xcbf29ce484222325ULL
#define BK_FNV_PRIME	0x100000001b3ULL

int	bk_parse_head(const char *, size_t, size_t *, struct bk_request *,
	    size_t *);
void	bk_body_init(struct bk_body *, const struct bk_request *, int);
ssize_t	bk_body_feed(struct bk_body *, const char *, size_t);
uint64_t bk_fnv1a(uint64_t, const void *, size_t);

/* backend_resp.c */
void	bk_route(struct bk_conn *, const char *, size_t);
void	bk_respond(struct bk_conn *);
void	bk_respond_continue(struct bk_conn *);
void	bk_respond_error(struct bk_conn *, int);
void	bk_stream_fill(struct bk_conn *);
void	bk_pattern_init(void);

static inline size_t
bk_out_room(const struct bk_conn *c)
{
	return BK_OUT_MAX - (c->out_len - c->out_off);
}

#endif
