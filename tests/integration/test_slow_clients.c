/*
 * Integration tests of slow clients: one that sends its request head a
 * byte a second (slowloris), and one that asks for a gigabyte and never
 * reads it.  Each must be cut off by client_timeout, and neither may hold
 * the worker: on another connection, requests keep their latency (p99 of
 * 200 quick requests made while the slow client is there), and the
 * worker's memory does not grow with what the client refuses to read.
 * One worker, so the slow client and the quick ones share it.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define INI_MAX		4096
#define RESP_MAX	(64 * 1024)
#define WAIT_MS		5000
/* The admin listener, for the worker's count of connections. */
#define ADMIN		"[admin]\nbind = 127.0.0.1:@ADMIN@\n"

/* Quick requests measured while a slow client is connected: at least
   QUICK_N, at most QUICK_MAX. */
#define QUICK_N		200
#define QUICK_MAX	4096
/* Their 99th percentile must stay under this (a worker held by the slow
   client would show its whole timeout here). */
#define QUICK_P99_US	(50 * 1000)

static const char get_home[] = "GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
/* The end of the backend's answer to it: read to it, it is whole. */
static const char home_end[] = "Hello from server: solo\n";

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * A connection to 127.0.0.1:port with a receive buffer of rcvbuf bytes,
 * set before the handshake so that the window the proxy sees is small.
 */
static int
connect_rcvbuf(int port, int rcvbuf)
{
	struct sockaddr_in sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect: %s", strerror(errno));
	return fd;
}

/* Quick requests on a keep-alive connection, their round trips timed. */
struct quick {
	int		 fd;
	long long	 us[QUICK_MAX];
	int		 n;
};

static void
quick_one(struct quick *q)
{
	static char buf[RESP_MAX];
	long long t0 = now_us();
	bool eof;

	h_send(q->fd, get_home, sizeof(get_home) - 1);
	h_recv(q->fd, buf, sizeof(buf), 0, home_end, WAIT_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0,
	    "quick request %d: %.200s", q->n, buf);
	if (q->n < QUICK_MAX)
		q->us[q->n++] = now_us() - t0;
}

static int
by_value(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void
assert_p99(struct quick *q, const char *what)
{
	long long p99;

	ck_assert_msg(q->n >= QUICK_N, "%s: only %d quick requests", what,
	    q->n);
	qsort(q->us, (size_t)q->n, sizeof(q->us[0]), by_value);
	p99 = q->us[(q->n * 99 + 99) / 100 - 1];
	fprintf(stderr, "%s: %d quick requests, median %lld us, p99 %lld us, "
	    "max %lld us\n", what, q->n, q->us[q->n / 2], p99,
	    q->us[q->n - 1]);
	ck_assert_msg(p99 < QUICK_P99_US, "%s: p99 %lld us (max %lld us)",
	    what, p99, q->us[q->n - 1]);
}

/*
 * Whether the slow connection was cut: waits up to ms for it to become
 * readable, then reads what came.  A response, if any, must be a 408.
 */
static bool
slow_cut(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[1024];
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0,
		    "slow client answered: %.200s", buf);
	}
	return true;
}

/* ---- a head a byte a second -------------------------------------------- */

#define SLOW_TIMEOUT_MS	3000
#define QUICK_PER_BYTE	70

START_TEST(test_slow_head)
{
	static const char slow_req[] = "GET /home HTTP/1.1\r\nHost: t\r\n"
	    "X-Slow: this head takes a minute to send\r\n\r\n";
	char ini[INI_MAX];
	struct hbackend b;
	struct hforklift f;
	struct quick q;
	long long t0, cut_ms = -1, next;
	size_t i;
	int slow, k;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "client_timeout = 3s\n" ADMIN, "",
	    &b, 1);
	h_forklift_start(&f, ini);
	memset(&q, 0, sizeof(q));
	q.fd = h_connect(f.port);
	quick_one(&q);		/* warm: the measure starts connected */
	q.n = 0;

	/*
	 * A byte a second; in each second, quick requests on the other
	 * connection, then a wait for the next second that also watches
	 * for the proxy cutting the slow one.
	 */
	slow = h_connect(f.port);
	t0 = now_us();
	for (i = 0; i < sizeof(slow_req) - 1 && cut_ms < 0; i++) {
		next = t0 + (long long)(i + 1) * 1000000;
		if (send(slow, slow_req + i, 1, MSG_NOSIGNAL) != 1) {
			cut_ms = (now_us() - t0) / 1000;	/* reset */
			break;
		}
		for (k = 0; k < QUICK_PER_BYTE; k++)
			quick_one(&q);
		ck_assert_msg(now_us() < next, "quick requests took over 1 s");
		if (slow_cut(slow, (int)((next - now_us()) / 1000)))
			cut_ms = (now_us() - t0) / 1000;
	}
	close(slow);
	fprintf(stderr, "slow head: cut after %lld ms\n", cut_ms);
	ck_assert_msg(cut_ms >= 0, "a slow head was never cut");
	/* The clock starts with the first byte, and no byte re-arms it. */
	ck_assert_msg(cut_ms >= SLOW_TIMEOUT_MS - 100 &&
	    cut_ms <= SLOW_TIMEOUT_MS + 1500, "cut after %lld ms", cut_ms);
	assert_p99(&q, "during a slow head");
	close(q.fd);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/* ---- a response never read --------------------------------------------- */

static long
vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "re"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	(void)fclose(fp);
	ck_assert_int_gt(kib, 0);
	return kib;
}

/* The worker's open client connections, from the admin /stats. */
static long
worker_active(int admin_port)
{
	struct hresponse r;
	const char *p;
	long n;

	h_get(admin_port, "/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	p = strstr(r.body, "\"workers\"");
	ck_assert_ptr_nonnull(p);
	p = strstr(p, "\"active_connections\":");
	ck_assert_ptr_nonnull(p);
	n = strtol(p + 21, NULL, 10);
	h_response_free(&r);
	return n;
}

#define READER_TIMEOUT_MS	1000
#define READER_DEADLINE_MS	15000

START_TEST(test_never_reads)
{
	static const char big[] =
	    "GET /bytes/1073741824 HTTP/1.1\r\nHost: t\r\n\r\n";
	static char buf[RESP_MAX];
	char ini[INI_MAX];
	struct hbackend b;
	struct hforklift f;
	struct hfamily fam;
	struct quick q;
	static const char warm[] = "GET /bytes/4000000 HTTP/1.1\r\n"
	    "Host: t\r\nConnection: close\r\n\r\n";
	long idle_rss, rss, max_rss = 0, base, active;
	long long t0, cut_ms = -1;
	bool seen = false, eof;
	int slow, fd, k;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "client_timeout = 1s\n" ADMIN, "",
	    &b, 1);
	h_forklift_start(&f, ini);
	h_family_wait(&fam, f.pid, 1, WAIT_MS);

	/* Warm the worker's buffers with a large response read whole. */
	fd = h_connect(f.port);
	h_send(fd, warm, sizeof(warm) - 1);
	while (h_recv(fd, buf, sizeof(buf), 0, NULL, WAIT_MS, &eof) > 0)
		;
	close(fd);
	memset(&q, 0, sizeof(q));
	q.fd = h_connect(f.port);
	quick_one(&q);
	q.n = 0;
	idle_rss = vm_rss_kib(fam.workers[0]);
	base = worker_active(f.admin_port);

	/*
	 * A small receive window, so the proxy meets a full socket soon.
	 * Then quick requests, the worker's RSS, and whether the slow one is
	 * still open (once it was seen open), until it is cut.
	 */
	slow = connect_rcvbuf(f.port, 4096);
	h_send(slow, big, sizeof(big) - 1);
	t0 = now_us();
	while (cut_ms < 0 && (now_us() - t0) / 1000 < READER_DEADLINE_MS) {
		for (k = 0; k < 5; k++)
			quick_one(&q);
		rss = vm_rss_kib(fam.workers[0]);
		if (rss > max_rss)
			max_rss = rss;
		active = worker_active(f.admin_port);
		if (active > base)
			seen = true;
		else if (seen)
			cut_ms = (now_us() - t0) / 1000;
	}
	fprintf(stderr, "never reads: cut after %lld ms; worker RSS %ld KiB "
	    "idle, %ld KiB at most\n", cut_ms, idle_rss, max_rss);
	ck_assert_msg(seen, "the slow connection was never accepted");
	ck_assert_msg(cut_ms >= 0, "a client that never reads was not cut "
	    "within %d ms", READER_DEADLINE_MS);
	ck_assert_msg(cut_ms >= READER_TIMEOUT_MS - 100,
	    "cut after %lld ms, before client_timeout", cut_ms);
	ck_assert_msg(max_rss < 2 * idle_rss + 5 * 1024,
	    "worker RSS grew from %ld KiB to %ld KiB", idle_rss, max_rss);
	assert_p99(&q, "while a client does not read");
	close(slow);
	close(q.fd);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("slow clients (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	(void)signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("slow");
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_slow_head);
	tcase_add_test(tc, test_never_reads);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
