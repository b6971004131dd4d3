/*
 * One active check of one server, run on the checker's event loop: a
 * non-blocking connect, then (HTTP checks) one request and the status line
 * of the answer, all bounded by the pool's health_timeout.  Private to
 * health/.
 */
#ifndef FORKLIFT_HEALTH_PROBE_H
#define FORKLIFT_HEALTH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/event.h"
#include "common/shm.h"

/* The request: "GET " path " HTTP/1.1", Host, Connection, User-Agent. */
#define HEALTH_REQUEST_MAX	(CONF_PATH_MAX + CONF_ADDR_MAX + 128)
/*
 * Bytes of the answer read while looking for the end of its status line;
 * a status line longer than this fails the check ("bad response").
 */
#define HEALTH_RESPONSE_MAX	512

/* What one check found. */
struct health_result {
	bool		 passed;
	uint32_t	 status;	/* HTTP status, 0 if none was read */
	uint32_t	 latency_us;	/* from connect() to the verdict */
	char		 error[SHM_ERROR_MAX];	/* "" when passed */
};

struct health_probe;
typedef void	health_probe_fn(struct health_probe *,
		    const struct health_result *);

enum health_probe_phase {
	PROBE_IDLE,
	PROBE_CONNECTING,
	PROBE_SENDING,
	PROBE_READING,
};

struct health_probe {
	struct ev_io		 io;
	struct ev_timer		 deadline;
	struct ev_loop		*loop;
	const struct conf_server *server;
	health_probe_fn		*done;
	void			*arg;		/* the caller's, untouched */
	enum health_probe_phase	 phase;
	uint64_t		 started_us;
	size_t			 reqlen;
	size_t			 sent;
	size_t			 got;
	char			 request[HEALTH_REQUEST_MAX];
	char			 response[HEALTH_RESPONSE_MAX];
};

/*
 * Prepares `p` to check `server` (its pool says how) on `loop`.  `done` is
 * called with `p` once per health_probe_start().  Returns 0, or -1 if the
 * request does not fit HEALTH_REQUEST_MAX.
 */
int	health_probe_init(struct health_probe *p, struct ev_loop *loop,
	    const struct conf_server *server, health_probe_fn *done,
	    void *arg);

/*
 * Starts a check unless one is running.  The probe owns its socket and
 * closes it before calling done(), which may come before this returns
 * (a refused connect to a local address fails at once).  done() may start
 * the probe again.
 */
void	health_probe_start(struct health_probe *p);

/* Abandons a running check without calling done(); closes its socket. */
void	health_probe_stop(struct health_probe *p);

static inline bool
health_probe_running(const struct health_probe *p)
{
	return p->phase != PROBE_IDLE;
}

/*
 * Parses an HTTP/1.x status line ("HTTP/1.1 200 OK"), `len` bytes without
 * the line end.  Returns 0 and the status, or -1 if it is not one.
 */
int	health_parse_status(const char *line, size_t len, unsigned *status);

#endif
