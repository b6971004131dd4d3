/*
 * Unit tests for the admin server (worker/admin.c) over loopback: the
 * worker's loop runs admin_start() in the test's main thread while a
 * client thread talks to it with blocking sockets.  Covers the three
 * pages, HEAD, 404, 405, malformed and oversized heads, the head timeout,
 * a client that reads slowly, the connection cap and admin_stop().
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/net.h"
#include "worker/admin.h"
#include "worker/worker.h"

#define CLIENT_TIMEOUT_S	10	/* every client read and write */
#define RESPONSE_MAX		(4 << 20)

static struct conf	*conf;
static struct shm	*shm;
static struct ev_loop	*loop;
static int		 port;

/* Between the client thread and the loop's poll timer. */
static atomic_int	 client_done;
static atomic_int	 stop_wanted;	/* 1: call admin_stop(); 2: done */
static atomic_uint	 most_conns;	/* admin_connections() high mark */

/*
 * Tables with `nservers` servers and an admin serving them on a loopback
 * port.  With sndbuf > 0 the accepted sockets inherit that send buffer.
 */
static void
setup_sndbuf(unsigned nservers, int sndbuf)
{
	struct sockaddr_in sin;
	struct worker_args args;
	socklen_t len = sizeof(sin);
	char err[128];
	unsigned i;
	int fd;

	conf = calloc(1, sizeof(*conf));
	conf->servers = calloc(nservers, sizeof(*conf->servers));
	conf->npools = 1;
	conf->nservers = nservers;
	strcpy(conf->pools[0].name, "web");
	conf->pools[0].servers = conf->servers;
	conf->pools[0].nservers = nservers;
	for (i = 0; i < nservers; i++) {
		snprintf(conf->servers[i].name, CONF_NAME_MAX, "app%u", i);
		strcpy(conf->servers[i].addr.text, "127.0.0.1:9");
		conf->servers[i].id = i;
		conf->servers[i].pool = &conf->pools[0];
	}
	shm = shm_create(3, 2, nservers, 1);
	ck_assert_ptr_nonnull(shm);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = net_listen((struct sockaddr_storage *)&sin, sizeof(sin), 1, err,
	    sizeof(err));
	ck_assert_msg(fd != -1, "%s", err);
	if (sndbuf > 0)
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	loop = ev_create(ADMIN_TIMERS + 1);
	ck_assert_ptr_nonnull(loop);
	memset(&args, 0, sizeof(args));
	args.conf = conf;
	args.shm = shm;
	args.generation = 3;
	args.slot = 1;
	args.admin_fd = fd;
	ck_assert_int_eq(admin_start(loop, &args), 0);
}

static void
setup(unsigned nservers)
{
	setup_sndbuf(nservers, 0);
}

static void
on_poll(struct ev_loop *l, struct ev_timer *t)
{
	if (admin_connections() > atomic_load(&most_conns))
		atomic_store(&most_conns, admin_connections());
	if (atomic_load(&stop_wanted) == 1) {
		admin_stop(l);
		atomic_store(&stop_wanted, 2);
	}
	if (atomic_load(&client_done)) {
		ev_stop(l);
		return;
	}
	ck_assert_int_eq(ev_timer_start(l, t, 2), 0);
}

/* Runs the loop until `client` (on its own thread) returns. */
static void
run_client(void *(*client)(void *))
{
	struct ev_timer poll;
	pthread_t th;

	atomic_store(&client_done, 0);
	ev_timer_init(&poll, on_poll);
	ck_assert_int_eq(ev_timer_start(loop, &poll, 2), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, client, NULL), 0);
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
}

static int	idle_polls;

static void
on_idle_poll(struct ev_loop *l, struct ev_timer *t)
{
	if (admin_connections() == 0 || ++idle_polls > 1000)
		ev_stop(l);
	else
		ck_assert_int_eq(ev_timer_start(l, t, 2), 0);
}

/* Runs the loop until the admin has no connection left (2 s at most). */
static void
run_until_idle(void)
{
	struct ev_timer poll;

	idle_polls = 0;
	ev_timer_init(&poll, on_idle_poll);
	ck_assert_int_eq(ev_timer_start(loop, &poll, 0), 0);
	ck_assert_int_eq(ev_run(loop), 0);
	ev_timer_stop(loop, &poll);
}

static int
client_connect(int rcvbuf)
{
	struct timeval tv = { CLIENT_TIMEOUT_S, 0 };
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if ((rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == -1) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		close(fd);
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
send_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	for (; len > 0; s += n, len -= (size_t)n)
		if ((n = send(fd, s, len, MSG_NOSIGNAL)) <= 0)
			return false;
	return true;
}

/* Reads until EOF (or an error or timeout); returns the bytes read. */
static size_t
read_all(int fd, char *out, size_t cap, size_t step)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap - 1) {
		n = recv(fd, out + len, cap - 1 - len < step ? cap - 1 - len :
		    step, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	return len;
}

/* One exchange on a new connection; the response is malloc'd. */
static char *
exchange(const char *req, size_t reqlen, int rcvbuf, size_t step)
{
	char *out = malloc(RESPONSE_MAX);
	int fd;

	out[0] = '\0';
	if ((fd = client_connect(rcvbuf)) == -1)
		return out;
	if (send_all(fd, req, reqlen))
		read_all(fd, out, RESPONSE_MAX, step);
	close(fd);
	return out;
}

#define NREQ	12
static const char *const requests[NREQ] = {
	"GET /stats HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /metrics HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /stats HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /stats HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /stats?pretty=1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"BLAH\r\n\r\n",
	"GET http://a/metrics HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /stats HTTP/1.0\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET /stats HTTP/1.1\r\n\r\n",
};
static char	*responses[NREQ];

static void *
client_requests(void *arg)
{
	int i;

	for (i = 0; i < NREQ; i++)
		responses[i] = exchange(requests[i], strlen(requests[i]), 0,
		    65536);
	atomic_store(&client_done, 1);
	return NULL;
}

/* The body of a response, after checking its Content-Length. */
static const char *
body_of(const char *resp, bool head)
{
	const char *cl = strstr(resp, "\r\nContent-Length: ");
	const char *body = strstr(resp, "\r\n\r\n");

	ck_assert_ptr_nonnull(cl);
	ck_assert_ptr_nonnull(body);
	body += 4;
	if (!head)
		ck_assert_uint_eq(strtoul(cl + 18, NULL, 10), strlen(body));
	else
		ck_assert_str_eq(body, "");
	ck_assert_ptr_nonnull(strstr(resp, "\r\nConnection: close\r\n"));
	return body;
}

START_TEST(methods_paths_and_errors)
{
	setup(3);
	run_client(client_requests);
	ck_assert_int_eq(strncmp(responses[0], "HTTP/1.1 200 OK\r\n", 17), 0);
	ck_assert_ptr_nonnull(strstr(responses[0],
	    "Content-Type: application/json\r\n"));
	ck_assert_int_eq(strncmp(body_of(responses[0], false),
	    "{\"generation\": 3,", 17), 0);
	ck_assert_ptr_nonnull(strstr(responses[0],
	    "\"answered_by\": {\"slot\": 1,"));
	ck_assert_ptr_nonnull(strstr(responses[1],
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(body_of(responses[1], false),
	    "\nforklift_generation 3\n"));
	ck_assert_ptr_nonnull(strstr(responses[2],
	    "Content-Type: text/html; charset=utf-8\r\n"));
	ck_assert_int_eq(strncmp(body_of(responses[2], false),
	    "<!DOCTYPE html>", 15), 0);
	ck_assert_int_eq(strncmp(responses[3], "HTTP/1.1 200 OK\r\n", 17), 0);
	ck_assert_uint_gt(strtoul(strstr(responses[3], "Content-Length: ") +
	    16, NULL, 10), 100);
	body_of(responses[3], true);
	ck_assert_int_eq(strncmp(responses[4], "HTTP/1.1 405 ", 13), 0);
	ck_assert_ptr_nonnull(strstr(responses[4], "\r\nAllow: GET, HEAD\r\n"));
	ck_assert_int_eq(strncmp(responses[5], "HTTP/1.1 404 ", 13), 0);
	body_of(responses[5], false);
	ck_assert_int_eq(strncmp(responses[6], "HTTP/1.1 200 OK\r\n", 17), 0);
	ck_assert_int_eq(strncmp(responses[7], "HTTP/1.1 400 ", 13), 0);
	ck_assert_ptr_nonnull(strstr(responses[8], "forklift_generation 3\n"));
	ck_assert_int_eq(strncmp(responses[9], "HTTP/1.1 200 OK\r\n", 17), 0);
	ck_assert_int_eq(strncmp(responses[10], "HTTP/1.1 505 ", 13), 0);
	ck_assert_int_eq(strncmp(responses[11], "HTTP/1.1 400 ", 13), 0);
}
END_TEST

static char	*big_response;

static void *
client_oversized(void *arg)
{
	static char req[10000];

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(req + strlen(req), 'a', sizeof(req) - strlen(req) - 1);
	big_response = exchange(req, strlen(req), 0, 65536);
	atomic_store(&client_done, 1);
	return NULL;
}

START_TEST(an_oversized_head_is_431)
{
	setup(1);
	run_client(client_oversized);
	ck_assert_int_eq(strncmp(big_response, "HTTP/1.1 431 ", 13), 0);
}
END_TEST

/* Small socket buffers both ways and a client reading 512 bytes at a
   time: the server meets a full socket many times over. */
static void *
client_slow(void *arg)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";

	big_response = exchange(req, sizeof(req) - 1, 4096, 512);
	atomic_store(&client_done, 1);
	return NULL;
}

START_TEST(a_slow_reader_gets_the_whole_page)
{
	const char *body;

	setup_sndbuf(400, 4096);	/* some 200 KB of metrics */
	run_client(client_slow);
	ck_assert_int_eq(strncmp(big_response, "HTTP/1.1 200 OK\r\n", 17), 0);
	body = body_of(big_response, false);
	ck_assert_uint_gt(strlen(body), 150000);
	ck_assert_ptr_nonnull(strstr(body, "forklift_server_checks_total{"
	    "pool=\"web\",server=\"app399\"} 0\n"));
}
END_TEST

/* Nothing, then half a head: both wait TIMEOUT_MS (5 s). */
static char	*idle_response, *partial_response;

static void *
client_timeouts(void *arg)
{
	static const char half[] = "GET /stats HTTP/1.1\r\nHo";
	int idle, partial;

	idle = client_connect(0);
	partial = client_connect(0);
	idle_response = malloc(256);
	partial_response = malloc(256);
	idle_response[0] = partial_response[0] = '\0';
	if (idle != -1 && partial != -1 &&
	    send_all(partial, half, sizeof(half) - 1)) {
		read_all(idle, idle_response, 256, 256);
		read_all(partial, partial_response, 256, 256);
	}
	close(idle);
	close(partial);
	atomic_store(&client_done, 1);
	return NULL;
}

START_TEST(silent_clients_time_out)
{
	uint64_t t0;

	setup(1);
	t0 = ev_now(loop);
	run_client(client_timeouts);
	ck_assert_str_eq(idle_response, "");
	ck_assert_int_eq(strncmp(partial_response, "HTTP/1.1 408 ", 13), 0);
	ck_assert_uint_ge(ev_now(loop) - t0, 4900);
	run_until_idle();
	ck_assert_uint_eq(admin_connections(), 0);
}
END_TEST

/* ADMIN_MAX_CONNS idle connections, then one more with a request: it is
   served once one of the idle ones goes away. */
static char	*capped_response;

static void *
client_cap(void *arg)
{
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: a\r\n\r\n";
	int idle[ADMIN_MAX_CONNS], i, fd;
	struct timespec ts = { 0, 2000000 };

	capped_response = calloc(1, 65536);
	for (i = 0; i < ADMIN_MAX_CONNS; i++)
		idle[i] = client_connect(0);
	/* Until the server holds them all (bounded: 2 s). */
	for (i = 0; i < 1000 && atomic_load(&most_conns) < ADMIN_MAX_CONNS;
	    i++)
		nanosleep(&ts, NULL);
	if ((fd = client_connect(0)) != -1 && send_all(fd, req,
	    sizeof(req) - 1)) {
		close(idle[0]);
		read_all(fd, capped_response, 65536, 65536);
		close(fd);
	}
	for (i = 1; i < ADMIN_MAX_CONNS; i++)
		close(idle[i]);
	atomic_store(&client_done, 1);
	return NULL;
}

START_TEST(connections_are_capped)
{
	setup(1);
	atomic_store(&most_conns, 0);
	run_client(client_cap);
	ck_assert_uint_eq(atomic_load(&most_conns), ADMIN_MAX_CONNS);
	ck_assert_int_eq(strncmp(capped_response, "HTTP/1.1 200 OK\r\n", 17),
	    0);
}
END_TEST

/* admin_stop(): idle connections close, a request under way is
   answered, and the socket is gone. */
static char	*stop_idle, *stop_partial;
static int	 stop_connect_errno;

static void *
client_stop(void *arg)
{
	static const char head[] = "GET /stats HTTP/1.1\r\n",
	    rest[] = "Host: a\r\n\r\n";
	struct timespec ts = { 0, 2000000 };
	int idle, partial, fd, i;

	stop_idle = calloc(1, 256);
	stop_partial = calloc(1, 65536);
	idle = client_connect(0);
	partial = client_connect(0);
	send_all(partial, head, sizeof(head) - 1);
	for (i = 0; i < 1000 && atomic_load(&most_conns) < 2; i++)
		nanosleep(&ts, NULL);
	atomic_store(&stop_wanted, 1);
	for (i = 0; i < 1000 && atomic_load(&stop_wanted) != 2; i++)
		nanosleep(&ts, NULL);
	read_all(idle, stop_idle, 256, 256);
	send_all(partial, rest, sizeof(rest) - 1);
	read_all(partial, stop_partial, 65536, 65536);
	errno = 0;
	fd = client_connect(0);
	stop_connect_errno = fd == -1 ? errno : 0;
	if (fd != -1)
		close(fd);
	close(idle);
	close(partial);
	atomic_store(&client_done, 1);
	return NULL;
}

START_TEST(stopping_finishes_what_began)
{
	setup(1);
	atomic_store(&most_conns, 0);
	run_client(client_stop);
	ck_assert_int_eq(atomic_load(&stop_wanted), 2);
	ck_assert_str_eq(stop_idle, "");
	ck_assert_int_eq(strncmp(stop_partial, "HTTP/1.1 200 OK\r\n", 17), 0);
	ck_assert_int_eq(stop_connect_errno, ECONNREFUSED);
	run_until_idle();
	ck_assert_uint_eq(admin_connections(), 0);
}
END_TEST

static Suite *
admin_server_suite(void)
{
	Suite *s = suite_create("admin_server");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, methods_paths_and_errors);
	tcase_add_test(tc, an_oversized_head_is_431);
	tcase_add_test(tc, a_slow_reader_gets_the_whole_page);
	tcase_add_test(tc, silent_clients_time_out);
	tcase_add_test(tc, connections_are_capped);
	tcase_add_test(tc, stopping_finishes_what_began);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(admin_server_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
