/*
 * One active check: connect, send the request, read the status line, all
 * non-blocking on the checker's loop and bounded by a deadline timer, so a
 * server that hangs costs its own check health_timeout and nothing else.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "common/log.h"
#include "common/net.h"
#include "health/probe.h"

#define probe_of(ptr, member) \
	((struct health_probe *)((char *)(ptr) - \
	    offsetof(struct health_probe, member)))

static uint64_t
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The short text a failed socket call leaves in a health row. */
static const char *
errno_text(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "connection refused";
	case ECONNRESET:
	case EPIPE:
		return "connection reset";
	case ETIMEDOUT:
		return "timeout";
	case EHOSTUNREACH:
		return "host unreachable";
	case ENETUNREACH:
		return "network unreachable";
	case EADDRNOTAVAIL:
		return "no local address";
	default:
		return strerror(e);
	}
}

int
health_probe_init(struct health_probe *p, struct ev_loop *loop,
    const struct conf_server *server, health_probe_fn *done, void *arg)
{
	const struct conf_pool *pool = server->pool;
	int n;

	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->server = server;
	p->done = done;
	p->arg = arg;
	p->phase = PROBE_IDLE;
	ev_io_init(&p->io, -1, NULL);
	ev_timer_init(&p->deadline, NULL);
	if (pool->health_check != HEALTH_HTTP)
		return 0;
	n = snprintf(p->request, sizeof(p->request),
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Connection: close\r\n"
	    "User-Agent: forklift-health\r\n"
	    "Accept: */*\r\n"
	    "\r\n", pool->health_path, server->addr.text);
	if (n < 0 || (size_t)n >= sizeof(p->request))
		return -1;
	p->reqlen = (size_t)n;
	return 0;
}

/* Ends the running check: releases its socket and timer, then reports. */
static void
finish(struct health_probe *p, bool passed, unsigned status,
    const char *error)
{
	struct health_result r;
	uint64_t us = monotonic_us() - p->started_us;

	if (p->io.fd != -1) {
		ev_io_stop(p->loop, &p->io);
		close(p->io.fd);
		p->io.fd = -1;
	}
	ev_timer_stop(p->loop, &p->deadline);
	p->phase = PROBE_IDLE;

	memset(&r, 0, sizeof(r));
	r.passed = passed;
	r.status = status;
	r.latency_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	strlcpy(r.error, passed ? "" : error, sizeof(r.error));
	p->done(p, &r);
}

int
health_parse_status(const char *line, size_t len, unsigned *status)
{
	static const char prefix[] = "HTTP/1.";
	size_t plen = sizeof(prefix) - 1;
	unsigned v = 0;
	size_t i;

	/* "HTTP/1.x SSS" then the end, or a space and a reason phrase. */
	if (len < plen + 5 || memcmp(line, prefix, plen) != 0 ||
	    line[plen] < '0' || line[plen] > '9' || line[plen + 1] != ' ')
		return -1;
	for (i = plen + 2; i < plen + 5; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(line[i] - '0');
	}
	if (len > plen + 5 && line[plen + 5] != ' ')
		return -1;
	if (v < 100 || v > 599)
		return -1;
	*status = v;
	return 0;
}

/*
 * Looks for the end of the status line in what was read.  Returns 1 when
 * the check is decided (and finished), 0 to read more.
 */
static int
judge_response(struct health_probe *p, bool eof)
{
	const struct conf_pool *pool = p->server->pool;
	const char *nl;
	char error[SHM_ERROR_MAX];
	unsigned status;
	size_t len;

	nl = memchr(p->response, '\n', p->got);
	if (nl == NULL) {
		if (eof && p->got == 0)
			finish(p, false, 0, "connection closed");
		else if (eof || p->got == sizeof(p->response))
			finish(p, false, 0, "bad response");
		else
			return 0;
		return 1;
	}
	len = (size_t)(nl - p->response);
	if (len > 0 && p->response[len - 1] == '\r')
		len--;
	if (health_parse_status(p->response, len, &status) == -1) {
		finish(p, false, 0, "bad response");
		return 1;
	}
	if (status < pool->health_expect_lo || status > pool->health_expect_hi) {
		snprintf(error, sizeof(error), "HTTP %u", status);
		finish(p, false, status, error);
	} else
		finish(p, true, status, "");
	return 1;
}

static void
do_send(struct health_probe *p)
{
	ssize_t n;

	while (p->sent < p->reqlen) {
		n = send(p->io.fd, p->request + p->sent, p->reqlen - p->sent,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			finish(p, false, 0, errno_text(errno));
			return;
		}
		p->sent += (size_t)n;
	}
	p->phase = PROBE_READING;
	if (ev_io_set(p->loop, &p->io, EPOLLIN) == -1)
		finish(p, false, 0, errno_text(errno));
}

static void
do_read(struct health_probe *p)
{
	ssize_t n;

	for (;;) {
		n = read(p->io.fd, p->response + p->got,
		    sizeof(p->response) - p->got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			finish(p, false, 0, errno_text(errno));
			return;
		}
		p->got += (size_t)n;
		if (judge_response(p, n == 0))
			return;
	}
}

static void
on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct health_probe *p = probe_of(io, io);
	int e;

	switch (p->phase) {
	case PROBE_CONNECTING:
		if ((e = net_connect_result(io->fd)) != 0) {
			finish(p, false, 0, errno_text(e));
			return;
		}
		if (p->server->pool->health_check != HEALTH_HTTP) {
			finish(p, true, 0, "");
			return;
		}
		p->phase = PROBE_SENDING;
		do_send(p);
		break;
	case PROBE_SENDING:
		do_send(p);
		break;
	case PROBE_READING:
		do_read(p);
		break;
	case PROBE_IDLE:
		fatalx("%s: event on an idle probe", __func__);
	}
}

static void
on_deadline(struct ev_loop *loop, struct ev_timer *t)
{
	finish(probe_of(t, deadline), false, 0, "timeout");
}

void
health_probe_start(struct health_probe *p)
{
	const struct conf_server *s = p->server;
	char err[128];
	int fd;

	if (p->phase != PROBE_IDLE)
		return;
	p->started_us = monotonic_us();
	p->sent = p->got = 0;
	p->phase = PROBE_CONNECTING;
	ev_io_init(&p->io, -1, on_io);
	ev_timer_init(&p->deadline, on_deadline);
	if ((fd = net_connect(&s->addr.ss, s->addr.len, err,
	    sizeof(err))) == -1) {
		/* net_connect() leaves connect's errno in place. */
		finish(p, false, 0, errno_text(errno));
		return;
	}
	p->io.fd = fd;
	if (ev_io_set(p->loop, &p->io, EPOLLOUT) == -1) {
		finish(p, false, 0, errno_text(errno));
		return;
	}
	/* The loop was sized for two timers per server: cannot be full. */
	if (ev_timer_start(p->loop, &p->deadline,
	    s->pool->health_timeout_ms) == -1)
		fatalx("%s: timer heap full", __func__);
}

void
health_probe_stop(struct health_probe *p)
{
	if (p->phase == PROBE_IDLE)
		return;
	if (p->io.fd != -1) {
		ev_io_stop(p->loop, &p->io);
		close(p->io.fd);
		p->io.fd = -1;
	}
	ev_timer_stop(p->loop, &p->deadline);
	p->phase = PROBE_IDLE;
}
