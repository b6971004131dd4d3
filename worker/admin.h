/*
 * The admin endpoints, served by every worker on its own SO_REUSEPORT
 * socket of `[admin] bind`, so they answer while any one worker is being
 * replaced.  Everything shown is read from the generation's shared tables
 * and the immutable configuration; the admin changes nothing.
 *
 *   GET /         an HTML status page (refreshes itself every 2 s)
 *   GET /stats    JSON
 *   GET /metrics  Prometheus text exposition format 0.0.4
 *
 * HEAD is answered like GET without the body; another method on one of
 * these paths is 405, any other path 404.  Every response closes its
 * connection.
 */
#ifndef FORKLIFT_ADMIN_H
#define FORKLIFT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/shm.h"

struct ev_loop;
struct worker_args;

/* Admin connections open at once per worker; more wait in the backlog. */
#define ADMIN_MAX_CONNS		64
/* Timers the admin may hold on the worker's loop: one per connection and
   the request-rate sampler. */
#define ADMIN_TIMERS		(ADMIN_MAX_CONNS + 1)

/*
 * Starts serving on args->admin_fd (non-blocking; the admin owns and
 * closes it from now on) in `loop`.  The conf and shared tables named by
 * args must outlive the loop; args itself is copied.  Returns 0, or -1
 * with the reason logged.
 */
int	admin_start(struct ev_loop *loop, const struct worker_args *args);

/*
 * For a draining worker: closes the admin socket, stops the sampler and
 * closes connections that have not sent a byte yet; responses already
 * begun are finished (each connection ends within its timeouts).
 */
void	admin_stop(struct ev_loop *loop);

/* Admin connections still open: the worker may wait for 0 to exit. */
unsigned admin_connections(void);

/*
 * The renderers, pure functions of a view, exposed for the unit tests.
 */

/* What a page is made from. */
struct admin_view {
	const struct conf	*conf;
	const struct shm	*shm;
	unsigned		 slot;		/* of the worker answering */
	int64_t			 now_ms;	/* wall clock */
	/* Requests per second over the last few seconds: [0] all pools,
	   [1 + pool id] each pool, [1 + npools + server id] each server.
	   NULL when not measured yet. */
	const double		*rates;
};

/*
 * An output buffer of fixed capacity.  Appending past it sets `overflow`
 * and keeps what fit; a page that overflowed is not sent (500 instead).
 */
struct admin_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	bool	 overflow;
};

/*
 * The room any page of this configuration needs: a bound made of fixed
 * parts and a per-worker, per-pool and per-server row bound.
 */
size_t	admin_page_bound(const struct conf *conf, unsigned nslots);

void	admin_render_stats(struct admin_buf *, const struct admin_view *);
void	admin_render_metrics(struct admin_buf *, const struct admin_view *);
void	admin_render_html(struct admin_buf *, const struct admin_view *);

/*
 * What the renderers share (admin_stats.c, admin_page.c, admin.c).
 */

/* One server's figures, read once for a page. */
struct admin_server_figures {
	struct health_snapshot	 health;	/* last_error NUL-terminated */
	uint64_t		 active;
	uint64_t		 requests;
	uint64_t		 failures;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 responses[SHM_STATUS_CLASSES];
	int32_t			 pid;		/* managed servers only */
	uint32_t		 restarts;
	int32_t			 last_exit;	/* wait status, -1: none */
	bool			 given_up;
};

/* One pool's figures, summed over the slots. */
struct admin_pool_figures {
	uint64_t	 requests;
	uint64_t	 responses[SHM_STATUS_CLASSES];
	uint64_t	 buckets[SHM_DURATION_BUCKETS];	/* one per request */
	uint64_t	 sum_us;
};

/* "1xx" .. "5xx" */
extern const char *const admin_classes[SHM_STATUS_CLASSES];

void	admin_read_server(const struct admin_view *,
	    const struct conf_server *, struct admin_server_figures *);
void	admin_read_pool(const struct admin_view *, const struct conf_pool *,
	    struct admin_pool_figures *);
/* "up" or "down". */
const char *admin_state_name(uint32_t state);
/* "exit status 1", "killed by signal 9"; "" for -1 (never exited). */
void	admin_exit_text(char *buf, size_t len, int32_t wait_status);
/* The pool's health check: its path, "tcp" or "off". */
const char *admin_check_name(const struct conf_pool *);
/* Milliseconds since the supervisor began (0 if unknown). */
int64_t	admin_uptime_ms(const struct admin_view *);

/* Appenders. */
void	admin_buf_put(struct admin_buf *, const char *s, size_t len);
void	admin_buf_printf(struct admin_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* s as the inside of a JSON string (RFC 8259): valid UTF-8 passes as it
   is, a byte that is not becomes \ufffd. */
void	admin_buf_json(struct admin_buf *, const char *s);
/* s as HTML text or attribute value: & < > " ' escaped. */
void	admin_buf_html(struct admin_buf *, const char *s);
/* s as a Prometheus label value: \ " and newline escaped. */
void	admin_buf_label(struct admin_buf *, const char *s);

#endif
