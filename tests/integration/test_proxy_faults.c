/*
 * Integration tests of the proxy when things go wrong: malformed requests
 * (answered, closed, never forwarded), every timeout, retries on dead or
 * unreachable servers, the connection limit.  The real forklift binary,
 * real backends (tests/backend), raw sockets.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define INI_MAX		4096
#define RAW_MAX		(64 * 1024)
#define RAW_MS		5000

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The count after `key` ("requests=") in a backend's /stats answer. */
static unsigned long long
stat_of(const char *body, const char *key)
{
	const char *p = strstr(body, key);
	unsigned long long v;
	char *end;

	ck_assert_msg(p != NULL, "no %s in: %s", key, body);
	p += strlen(key);
	errno = 0;
	v = strtoull(p, &end, 10);
	ck_assert_msg(errno == 0 && end != p, "bad %s in: %s", key, body);
	return v;
}

static unsigned long long
backend_requests(const struct hbackend *b)
{
	struct hresponse r;
	unsigned long long req;

	h_get(b->port, "/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	req = stat_of(r.body, "requests=");
	h_response_free(&r);
	return req;
}

/* ---- malformed requests ----------------------------------------------- */

static const struct {
	const char	*req;
	size_t		 len;		/* 0: strlen */
	int		 status;
} bad[] = {
	{ "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\nhello!", 0, 400 },
	{ "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	  "\r\nzz\r\nhello\r\n0\r\n\r\n", 0, 400 },
	{ "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n", 0, 400 },
	{ "GET / HTTP/1.1\nHost: t\r\n\r\n", 0, 400 },
	{ "GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 0, 400 },
	{ "GET / HTTP/1.1\r\nHo\001st: t\r\n\r\n", 0, 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\0c\r\n\r\n", 36, 400 },
	{ "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 0, 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n", 0, 400 },
	{ "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 0, 505 },
	{ "GET /\r\n\r\n", 0, 400 },
	{ "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n"
	  "\r\n", 0, 501 },
	{ "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n"
	  "\r\n", 0, 400 },
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  0, 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 0, 400 },
	{ "GET / HTTP/1.1\r\n\r\n", 0, 400 },
	{ "CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", 0, 501 },
};

START_TEST(test_proxy_malformed)
{
	static char big[20000 + 64];
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], buf[RAW_MAX], want[32];
	unsigned long long before, after;
	size_t i, len;
	bool eof;
	int fd;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", &b, 1);
	h_forklift_start(&f, ini);
	before = backend_requests(&b);
	for (i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		const char *req;
		int status;

		if (i < sizeof(bad) / sizeof(bad[0])) {
			req = bad[i].req;
			len = bad[i].len ? bad[i].len : strlen(req);
			status = bad[i].status;
		} else {
			/* A head past max_header_size (16k by default). */
			len = (size_t)snprintf(big, sizeof(big),
			    "GET / HTTP/1.1\r\nHost: t\r\nX-Big: %020000d"
			    "\r\n\r\n", 0);
			req = big;
			status = 431;
		}
		fd = h_connect(f.port);
		h_send(fd, req, len);
		h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
		close(fd);
		snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
		ck_assert_msg(strncmp(buf, want, strlen(want)) == 0,
		    "case %zu: want %d, got: %.200s", i, status, buf);
		ck_assert_msg(strstr(buf, "Connection: close\r\n") != NULL,
		    "case %zu: %s", i, buf);
		ck_assert_msg(eof, "case %zu: not closed", i);
	}
	/* The backend answered nothing but the two direct /stats. */
	after = backend_requests(&b);
	ck_assert_uint_eq(after - before, 1);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/* ---- timeouts ---------------------------------------------------------- */

START_TEST(test_proxy_client_timeouts)
{
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], buf[RAW_MAX];
	long long t0;
	size_t n;
	bool eof;
	int fd;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "client_timeout = 300ms\n", "",
	    &b, 1);
	h_forklift_start(&f, ini);

	/* Part of a head, then nothing: 408 and closed. */
	fd = h_connect(f.port);
	t0 = now_ms();
	h_send(fd, "GET /home HTTP/1.1\r\nHost: t\r\n", 29);
	h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	close(fd);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0 && eof, "%s",
	    buf);
	ck_assert_int_ge(now_ms() - t0, 250);

	/* A body that stops coming: 408 as well. */
	fd = h_connect(f.port);
	h_send(fd, "POST /upload HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 10\r\n\r\nabc", 57);
	h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	close(fd);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0 && eof, "%s",
	    buf);

	/* Idle keep-alive, before and after a request: closed silently. */
	fd = h_connect(f.port);
	n = h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert(eof && n == 0);
	close(fd);
	fd = h_connect(f.port);
	h_send(fd, "GET /home HTTP/1.1\r\nHost: t\r\n\r\n", 31);
	n = h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof && n > 13 && strncmp(buf, "HTTP/1.1 200 ", 13) == 0 &&
	    strstr(buf, "Connection:") == NULL, "%s", buf);
	close(fd);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_proxy_server_timeout)
{
	const char *const hang[] = { "-H", NULL };
	struct hbackend b, h;
	struct hforklift f;
	struct hresponse r;
	char ini[INI_MAX];
	long long t0;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "server_timeout = 300ms\n",
	    &b, 1);
	h_forklift_start(&f, ini);
	t0 = now_ms();
	h_get(f.port, "/home?delay=3000", NULL, &r);
	ck_assert_int_eq(r.status, 504);
	ck_assert_int_lt(now_ms() - t0, 2500);
	h_response_free(&r);
	/* A fast one still passes. */
	h_get(f.port, "/home?delay=50", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	h_forklift_stop(&f);

	/* A server that reads and never answers. */
	h_backend_start(&h, "hung", hang);
	h_pool_ini(ini, sizeof(ini), "", "", "server_timeout = 300ms\n",
	    &h, 1);
	h_forklift_start(&f, ini);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 504);
	h_response_free(&r);
	h_forklift_stop(&f);
	h_backend_stop(&h);
	h_backend_stop(&b);
}
END_TEST

/*
 * A listening socket whose accept queue is full: the kernel drops SYNs to
 * it, so a connect hangs (what a firewalled address does), on loopback.
 */
static int
stuck_listener(int *port, int *filler)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(fd, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 0), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	*filler = h_connect(*port);	/* the one place in the queue */
	return fd;
}

START_TEST(test_proxy_connect_timeout_retried)
{
	struct hbackend b, srv[2] = { { .name = "s0" }, { .name = "s1" } };
	struct hforklift f;
	struct hresponse r;
	char ini[INI_MAX];
	int lfd, filler, i;

	h_backend_start(&b, "solo", NULL);
	lfd = stuck_listener(&srv[0].port, &filler);
	srv[1].port = b.port;
	h_pool_ini(ini, sizeof(ini), "", "", "connect_timeout = 200ms\n"
	    "retries = 1\n", srv, 2);
	h_forklift_start(&f, ini);
	for (i = 0; i < 6; i++) {
		h_get(f.port, "/home", NULL, &r);
		ck_assert_msg(r.status == 200, "request %d: %ld", i, r.status);
		ck_assert(strstr(r.body, "solo") != NULL);
		h_response_free(&r);
	}
	h_forklift_stop(&f);
	close(filler);
	close(lfd);

	/* Nothing else to try: 503 naming the pool. */
	lfd = stuck_listener(&srv[0].port, &filler);
	h_pool_ini(ini, sizeof(ini), "", "", "connect_timeout = 200ms\n",
	    srv, 1);
	h_forklift_start(&f, ini);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 503);
	h_response_free(&r);
	h_forklift_stop(&f);
	close(filler);
	close(lfd);
	h_backend_stop(&b);
}
END_TEST

/* ---- retries ----------------------------------------------------------- */

START_TEST(test_proxy_dead_server_retried)
{
	struct hbackend b, srv[3] = { { .name = "s0" }, { .name = "s1" },
	    { .name = "s2" } };
	struct hforklift f;
	struct hresponse r;
	char ini[INI_MAX];
	int i;

	h_backend_start(&b, "live", NULL);
	srv[0].port = h_free_port();	/* nothing listens: refused */
	srv[1].port = b.port;
	srv[2].port = h_free_port();
	h_pool_ini(ini, sizeof(ini), "", "", "retries = 2\n", srv, 3);
	h_forklift_start(&f, ini);
	for (i = 0; i < 30; i++) {
		h_get(f.port, "/home", NULL, &r);
		ck_assert_msg(r.status == 200, "request %d: %ld", i, r.status);
		h_response_free(&r);
	}
	h_forklift_stop(&f);

	/* All dead: 503, the pool named. */
	srv[1].port = h_free_port();
	h_pool_ini(ini, sizeof(ini), "", "", "retries = 2\n", srv, 3);
	h_forklift_start(&f, ini);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_msg(strstr(r.body, "web") != NULL, "%s", r.body);
	h_response_free(&r);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

struct idle_arg {
	const struct hbackend	*b;
};

/* True once the backend holds no connection but the one asking. */
static bool
backend_alone(void *arg)
{
	struct idle_arg *a = arg;
	struct hresponse r;
	unsigned long long act = 99;

	h_get(a->b->port, "/stats", NULL, &r);
	if (r.status == 200)
		act = stat_of(r.body, "active=");
	h_response_free(&r);
	return act == 1;
}

/*
 * The server closes idle keep-alive connections after 200 ms: the proxy
 * notices, drops them from its pool, and the next request goes out on a
 * new connection.
 */
START_TEST(test_proxy_stale_keepalive_retried)
{
	const char *const quick[] = { "-i", "200", NULL };
	struct hbackend b;
	struct hforklift f;
	struct hresponse r;
	struct idle_arg ia;
	char ini[INI_MAX];
	int i;

	h_backend_start(&b, "quick", quick);
	h_pool_ini(ini, sizeof(ini), "", "", "retries = 0\n", &b, 1);
	h_forklift_start(&f, ini);
	ia.b = &b;
	for (i = 0; i < 3; i++) {
		h_get(f.port, "/home", NULL, &r);
		ck_assert_msg(r.status == 200, "round %d: %ld", i, r.status);
		h_response_free(&r);
		ck_assert(h_wait_until(backend_alone, &ia, 5000));
	}
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

static int
fake_accept(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int fd;

	ck_assert_msg(poll(&pfd, 1, RAW_MS) == 1, "the proxy did not connect");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	return fd;
}

/* Reads one request head (and a short body after it) from the proxy. */
static void
fake_read_request(int fd, char *buf, size_t cap, const char *end)
{
	bool eof;

	h_recv(fd, buf, cap, 0, end, RAW_MS, &eof);
	ck_assert_msg(strstr(buf, end) != NULL, "no request%s: %s",
	    eof ? " (closed)" : "", buf);
}

static const char fake_ok[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

/*
 * The keep-alive race, played out: the server closes a connection the
 * proxy reuses, after the request reached it and before any answer.  A
 * GET is sent again on a new connection (free of `retries`, here 0); a
 * POST, whose body is gone, gets 502.
 */
START_TEST(test_proxy_reused_connection_race)
{
	struct hforklift f;
	struct hbackend fake = { .name = "fake" };
	char ini[INI_MAX], buf[RAW_MAX];
	int lfd, s1, s2, c;
	bool eof;

	lfd = h_hold_port(&fake.port);
	h_pool_ini(ini, sizeof(ini), "", "", "retries = 0\n", &fake, 1);
	h_forklift_start(&f, ini);

	c = h_connect(f.port);
	h_send(c, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n", 28);
	s1 = fake_accept(lfd);
	fake_read_request(s1, buf, sizeof(buf), "\r\n\r\n");
	h_send(s1, fake_ok, sizeof(fake_ok) - 1);
	h_recv(c, buf, sizeof(buf), 0, NULL, 300, &eof);
	ck_assert_msg(strstr(buf, "ok\n") != NULL, "%s", buf);

	/* Reused, and closed under the request. */
	h_send(c, "GET /b HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", 47);
	fake_read_request(s1, buf, sizeof(buf), "\r\n\r\n");
	ck_assert(strncmp(buf, "GET /b ", 7) == 0);
	close(s1);
	s2 = fake_accept(lfd);
	fake_read_request(s2, buf, sizeof(buf), "\r\n\r\n");
	ck_assert(strncmp(buf, "GET /b ", 7) == 0);
	h_send(s2, fake_ok, sizeof(fake_ok) - 1);
	h_recv(c, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && eof, "%s",
	    buf);
	close(c);

	/* The same for a POST: not sent twice. */
	c = h_connect(f.port);
	h_send(c, "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
	    "Connection: close\r\n\r\nbody", 72);
	fake_read_request(s2, buf, sizeof(buf), "body");
	close(s2);
	h_recv(c, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 502 ", 13) == 0 && eof, "%s",
	    buf);
	close(c);
	h_forklift_stop(&f);
	close(lfd);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_proxy_max_connections)
{
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], buf[RAW_MAX];
	int c1, c2, c3;
	size_t n;
	bool eof;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "max_connections = 2\n", "", "", &b,
	    1);
	h_forklift_start(&f, ini);
	c1 = h_connect(f.port);
	c2 = h_connect(f.port);
	h_send(c1, "GET /home HTTP/1.1\r\nHost: t\r\n\r\n", 31);
	h_send(c2, "GET /home HTTP/1.1\r\nHost: t\r\n\r\n", 31);
	/* Both answered and kept open: the worker is at its limit. */
	n = h_recv(c1, buf, sizeof(buf), 0, NULL, 1000, &eof);
	ck_assert(n > 0 && !eof);
	n = h_recv(c2, buf, sizeof(buf), 0, NULL, 1000, &eof);
	ck_assert(n > 0 && !eof);

	/* The third waits in the queue, neither answered nor reset... */
	c3 = h_connect(f.port);
	h_send(c3, "GET /home HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", 50);
	n = h_recv(c3, buf, sizeof(buf), 0, NULL, 500, &eof);
	ck_assert_msg(n == 0 && !eof, "answered at the limit: %s", buf);
	/* ... until a slot frees. */
	close(c1);
	h_recv(c3, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof && strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s",
	    buf);
	close(c2);
	close(c3);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proxy faults (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	(void)signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("requests");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_proxy_malformed);
	suite_add_tcase(s, tc);
	tc = tcase_create("timeouts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_proxy_client_timeouts);
	tcase_add_test(tc, test_proxy_server_timeout);
	tcase_add_test(tc, test_proxy_connect_timeout_retried);
	suite_add_tcase(s, tc);
	tc = tcase_create("retries");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_proxy_dead_server_retried);
	tcase_add_test(tc, test_proxy_stale_keepalive_retried);
	tcase_add_test(tc, test_proxy_reused_connection_race);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_proxy_max_connections);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
