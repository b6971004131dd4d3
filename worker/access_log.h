/*
 * The access log: one line per request, written by each worker to the file
 * named by `access_log` (O_APPEND, so the workers' lines never overwrite one
 * another).  Lines gather in a fixed buffer that is written out when it
 * fills, on a one-second timer and at exit, so a request costs a format
 * into memory and no system call.  Each write(2) carries whole lines only.
 *
 * A line is the combined format followed by the upstream's part:
 *
 *   127.0.0.1 - - [22/Nov/2026:01:02:03 +0000] "GET /home HTTP/1.1" 200 23
 *   "-" "curl/7.88.1" upstream=127.0.0.1:9001 ustatus=200 rt=0.003
 *   uct=0.000 urt=0.002 rid=5f0c2e9a1b7d4c31
 *
 * (on one line).  Times are seconds with millisecond resolution; "-"
 * stands for a value the request does not have (no upstream was tried, no
 * Referer).  Inside quoted fields '"', '\' and every byte outside printable
 * ASCII is written as \xHH, as nginx does, so a line cannot be forged or
 * broken by what a client sends.
 */
#ifndef FORKLIFT_ACCESS_LOG_H
#define FORKLIFT_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* Bytes of lines held before they are written out. */
#define ACCESS_LOG_BUFFER	65536
/* Longest line; longer fields are cut (see access_log_format()). */
#define ACCESS_LOG_LINE_MAX	8192
/* How often the held lines are written out at the latest, in ms. */
#define ACCESS_LOG_FLUSH_MS	1000
/* Longest request id, taken or generated, without the NUL. */
#define ACCESS_LOG_RID_MAX	64
/* Length of a generated request id: 16 lowercase hex digits. */
#define ACCESS_LOG_RID_LEN	16

/* Some bytes of the caller's; ptr NULL or len 0 is written as "-". */
struct access_text {
	const char	*ptr;
	size_t		 len;
};

/*
 * What one request did, filled by the proxy when the response has been
 * sent (or the connection given up).  Nothing is kept after the call: the
 * texts may point into buffers that are reused right after.
 */
struct access_entry {
	int64_t			 wall_ms;	/* when the request began, ms
						   since the epoch */
	struct access_text	 client;	/* host part of the client's
						   address: "127.0.0.1" */
	struct access_text	 method;	/* "GET"; "-" request line when
						   both method and target are
						   absent (a head that did not
						   parse) */
	struct access_text	 target;	/* as received: "/home?x=1" */
	int			 minor;		/* HTTP/1.minor; -1 unknown */
	int			 status;	/* sent to the client */
	uint64_t		 body_bytes;	/* of the response body sent */
	struct access_text	 referer;
	struct access_text	 user_agent;
	struct access_text	 upstream;	/* server address text;
						   absent: no server tried */
	int			 upstream_status; /* 0: no response */
	int64_t			 request_us;	/* first byte in to last out */
	int64_t			 connect_us;	/* to the server; -1: none */
	int64_t			 response_us;	/* connect start to the end of
						   the response; -1: none */
	struct access_text	 request_id;
};

/*
 * Opens `path` for appending (created 0640), or turns the log off when path
 * is "" or NULL.  Lines held for a previous file are written to it first.
 * Lines still held when the process exits are written out then (atexit).
 * Returns 0, or -1 with a message in err (the log is then off).
 */
int	access_log_open(const char *path, char *err, size_t errlen);

/* True while a file is open: the proxy may skip gathering an entry. */
bool	access_log_enabled(void);

/*
 * Formats one line for `e` into the buffer (writing the held lines out
 * first if it has no room).  Never fails to the caller: a write error is
 * logged once and the lines are dropped until writing works again.
 */
void	access_log_request(const struct access_entry *e);

/*
 * Writes the held lines out now.  Returns 0, or -1 if write(2) failed (the
 * lines are dropped, and the error logged).
 */
int	access_log_flush(void);

/*
 * For SIGUSR1 after logrotate: writes the held lines to the old file, then
 * opens the path again.  If the new open fails, the old file stays in use
 * and -1 is returned (the error is logged).
 */
int	access_log_reopen(void);

/* Writes the held lines out and closes the file (at exit). */
void	access_log_close(void);

/*
 * Arms a timer on `loop` that writes the held lines out every
 * ACCESS_LOG_FLUSH_MS; it takes one timer of the loop.  Returns 0, or -1
 * if the loop has no room for another timer.
 */
int	access_log_timer_start(struct ev_loop *loop);
void	access_log_timer_stop(struct ev_loop *loop);

/*
 * Formats the line for `e` into `line` (len, at least ACCESS_LOG_LINE_MAX
 * bytes), newline included, no NUL; returns its length.  Quoted fields
 * are cut to a bound each (target 4096 bytes, referer and user agent 1024,
 * as escaped) and end in "..." when cut.  Exposed for the unit tests.
 */
size_t	access_log_format(char *line, size_t len,
	    const struct access_entry *e);

/*
 * Whether a client's X-Request-Id value can be passed on and logged as it
 * is: 1 to ACCESS_LOG_RID_MAX bytes of A-Z a-z 0-9 and - _ . : + / =.
 */
bool	access_log_request_id_valid(const char *id, size_t len);

/*
 * Makes a new request id into buf: ACCESS_LOG_RID_LEN lowercase hex digits
 * and a NUL (len must be more than ACCESS_LOG_RID_LEN).  Ids are distinct
 * within a process and, being seeded from getrandom(2) in each process,
 * across workers.  Returns the id's length, or 0 if len is too small.
 */
size_t	access_log_request_id(char *buf, size_t len);

#endif
