/*
 * Integration tests of the limits that bound what one client or one server
 * can make a worker hold: the request head's size (max_header_size), its
 * field count and its request line, the digits of a chunk size, the client
 * connections of a worker (max_connections) and the idle connections kept
 * to a server (keepalive).  Each test goes exactly to the limit, where the
 * request must be served, and one byte or one connection past it.  The
 * real forklift binary, a real backend (tests/backend), raw sockets.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define INI_MAX		4096
#define RESP_MAX	(64 * 1024)
#define REQ_MAX		(32 * 1024)
#define WAIT_MS		5000

/* The parser's field-line limit in the proxy (worker/proxy.c MAX_HEADERS). */
#define PROXY_MAX_HEADERS	100
/* Hex digits of a chunk size the parser takes (worker/http_chunked.c). */
#define CHUNK_DIGITS		16

/* The end of the backend's answer to GET /home: read to it, it is whole. */
static const char home_end[] = "Hello from server: solo\n";

/*
 * Sends req on a new connection and reads the answer into buf, up to
 * `until` (NULL: until the proxy closes, for up to WAIT_MS); *eof says
 * whether the proxy closed the connection.
 */
static size_t
exchange(int port, const char *req, size_t len, char *buf, size_t cap,
    const char *until, bool *eof)
{
	size_t n;
	int fd;

	fd = h_connect(port);
	h_send(fd, req, len);
	n = h_recv(fd, buf, cap, 0, until, WAIT_MS, eof);
	close(fd);
	return n;
}

/* The number after `name` (e.g. "requests=") in a /stats body. */
static unsigned long long
stat_field(const char *body, const char *name)
{
	const char *p = strstr(body, name);
	unsigned long long v;
	char *end;

	ck_assert_msg(p != NULL, "no %s in %s", name, body);
	errno = 0;
	v = strtoull(p + strlen(name), &end, 10);
	ck_assert_msg(errno == 0 && end != p + strlen(name), "%s", body);
	return v;
}

/* The backend's counters: requests answered, connections open now. */
static void
backend_stats(const struct hbackend *b, unsigned long long *requests,
    unsigned long long *active)
{
	unsigned long long req, act;
	struct hresponse r;

	h_get(b->port, "/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	req = stat_field(r.body, " requests=");
	act = stat_field(r.body, " active=");
	h_response_free(&r);
	if (requests != NULL)
		*requests = req;
	if (active != NULL)
		*active = act - 1;	/* not counting the /stats connection */
}

/*
 * Asserts a response of the proxy's own, all that came before the close
 * (buf was read until then): status, closed, not forwarded, and nothing
 * after its body, which is one line.
 */
static void
assert_refused(const char *what, const char *buf, bool eof, int status)
{
	const char *body;
	char want[32];

	snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0,
	    "%s: want %d, got: %.200s", what, status, buf);
	ck_assert_msg(strstr(buf, "X-Server:") == NULL,
	    "%s: the backend answered: %.200s", what, buf);
	ck_assert_msg(strstr(buf, "Connection: close\r\n") != NULL, "%s: %s",
	    what, buf);
	ck_assert_msg(eof, "%s: not closed", what);
	body = strstr(buf, "\r\n\r\n");
	ck_assert_msg(body != NULL && strchr(body + 4, '\n') ==
	    buf + strlen(buf) - 1, "%s: not one response: %s", what, buf);
}

static void
assert_served(const char *what, const char *buf)
{
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0,
	    "%s: want 200, got: %.200s", what, buf);
	ck_assert_msg(strstr(buf, "X-Server: solo\r\n") != NULL, "%s: %.200s",
	    what, buf);
}

/* A GET of exactly `total` head bytes, padded in a field X-Pad. */
static size_t
padded_head(char *req, size_t cap, size_t total)
{
	static const char start[] = "GET /home HTTP/1.1\r\nHost: t\r\nX-Pad: ";
	static const char end[] = "\r\n\r\n";
	size_t pad = total - (sizeof(start) - 1) - (sizeof(end) - 1);

	ck_assert_uint_lt(total, cap);
	memcpy(req, start, sizeof(start) - 1);
	memset(req + sizeof(start) - 1, 'p', pad);
	memcpy(req + total - (sizeof(end) - 1), end, sizeof(end) - 1);
	req[total] = '\0';
	return total;
}

/* A GET whose request line alone is `line` bytes, CRLF included. */
static size_t
long_line(char *req, size_t cap, size_t line)
{
	static const char start[] = "GET /home?q=";
	static const char end[] = " HTTP/1.1\r\n";
	size_t pad = line - (sizeof(start) - 1) - (sizeof(end) - 1);
	int n;

	ck_assert_uint_lt(line + 16, cap);
	memcpy(req, start, sizeof(start) - 1);
	memset(req + sizeof(start) - 1, 'q', pad);
	n = snprintf(req + line - (sizeof(end) - 1), cap - line + 11,
	    "%sHost: t\r\n\r\n", end);
	return line - (sizeof(end) - 1) + (size_t)n;
}

/* ---- the request head ------------------------------------------------- */

START_TEST(test_header_block_size)
{
	static char req[REQ_MAX], buf[RESP_MAX];
	unsigned long long before, after;
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX];
	size_t len;
	bool eof;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "max_header_size = 4k\n", "", &b, 1);
	h_forklift_start(&f, ini);

	/* Exactly max_header_size bytes, blank line included: served. */
	len = padded_head(req, sizeof(req), 4096);
	exchange(f.port, req, len, buf, sizeof(buf), home_end, &eof);
	assert_served("a 4096-byte head", buf);

	/* One byte more: 431, closed, never forwarded. */
	backend_stats(&b, &before, NULL);
	len = padded_head(req, sizeof(req), 4097);
	exchange(f.port, req, len, buf, sizeof(buf), NULL, &eof);
	assert_refused("a 4097-byte head", buf, eof, 431);

	/* Sent in pieces, without its end: 431 once 4097 bytes are in. */
	padded_head(req, sizeof(req), 8000);
	exchange(f.port, req, 4097, buf, sizeof(buf), NULL, &eof);
	assert_refused("4097 bytes of a longer head", buf, eof, 431);
	backend_stats(&b, &after, NULL);
	ck_assert_uint_eq(after - before, 1);	/* the /stats before */

	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/* A GET with `fields` field lines, Host the first. */
static size_t
many_fields(char *req, size_t cap, int fields)
{
	size_t n;
	int i;

	n = (size_t)snprintf(req, cap, "GET /home HTTP/1.1\r\nHost: t\r\n");
	for (i = 1; i < fields; i++)
		n += (size_t)snprintf(req + n, cap - n, "X-F%d: %d\r\n", i, i);
	n += (size_t)snprintf(req + n, cap - n, "\r\n");
	ck_assert_uint_lt(n, cap);
	return n;
}

START_TEST(test_header_count)
{
	static char req[REQ_MAX], buf[RESP_MAX];
	unsigned long long before, after;
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX];
	size_t len;
	bool eof;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", &b, 1);
	h_forklift_start(&f, ini);

	len = many_fields(req, sizeof(req), PROXY_MAX_HEADERS);
	exchange(f.port, req, len, buf, sizeof(buf), home_end, &eof);
	assert_served("100 fields", buf);

	backend_stats(&b, &before, NULL);
	len = many_fields(req, sizeof(req), PROXY_MAX_HEADERS + 1);
	exchange(f.port, req, len, buf, sizeof(buf), NULL, &eof);
	assert_refused("101 fields", buf, eof, 431);
	backend_stats(&b, &after, NULL);
	ck_assert_uint_eq(after - before, 1);

	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/*
 * The request line has no limit of its own: it counts in the head's
 * max_header_size, so a line too long is 431 (not 414, which would need
 * the target to be parsed as such first).
 */
START_TEST(test_request_line)
{
	static char req[REQ_MAX], buf[RESP_MAX];
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX];
	size_t len;
	bool eof;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "max_header_size = 4k\n", "", &b, 1);
	h_forklift_start(&f, ini);

	/* The longest line that leaves room for Host and the blank line. */
	len = long_line(req, sizeof(req), 4096 - 11);
	ck_assert_uint_eq(len, 4096);
	exchange(f.port, req, len, buf, sizeof(buf), home_end, &eof);
	assert_served("a 4085-byte request line", buf);

	len = long_line(req, sizeof(req), 4096 - 10);
	ck_assert_uint_eq(len, 4097);
	exchange(f.port, req, len, buf, sizeof(buf), NULL, &eof);
	assert_refused("a 4086-byte request line", buf, eof, 431);

	/* A line alone past the limit, no CRLF yet: refused as it comes. */
	long_line(req, sizeof(req), 6000);
	exchange(f.port, req, 4097, buf, sizeof(buf), NULL, &eof);
	assert_refused("4097 bytes of a request line", buf, eof, 431);

	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/* ---- chunk sizes ------------------------------------------------------ */

/* A chunked POST whose first chunk size is 5 written with `digits`. */
static size_t
chunked_post(char *req, size_t cap, int digits)
{
	int n;

	n = snprintf(req, cap, "POST /upload HTTP/1.1\r\nHost: t\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	    "%0*x\r\nhello\r\n0\r\n\r\n", digits, 5);
	ck_assert(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* Sends the head of req[0..len) at once, then its body one byte a time. */
static void
send_body_bytewise(int fd, const char *req, size_t len)
{
	size_t i, head;

	head = (size_t)(strstr(req, "\r\n\r\n") + 4 - req);
	h_send(fd, req, head);
	for (i = head; i < len; i++)
		h_send(fd, req + i, 1);
}

START_TEST(test_chunk_size_digits)
{
	static char req[REQ_MAX], buf[RESP_MAX];
	unsigned long long s0, s1, s2;
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX];
	size_t len;
	bool eof;
	int fd;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", &b, 1);
	h_forklift_start(&f, ini);

	/*
	 * 16 digits: the proxy takes the size and forwards the body, so the
	 * backend answers (it allows only 15 digits itself, so its answer
	 * is its own 400: what matters is who answered).
	 */
	backend_stats(&b, &s0, NULL);
	len = chunked_post(req, sizeof(req), CHUNK_DIGITS);
	exchange(f.port, req, len, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strstr(buf, "X-Server: solo\r\n") != NULL,
	    "16 digits not forwarded: %.200s", buf);
	backend_stats(&b, &s1, NULL);
	ck_assert_uint_eq(s1 - s0, 2);		/* the POST and /stats */

	/*
	 * 17 digits, the body in the same packet as the head: the proxy's
	 * own 400 before a server is chosen; the backend sees nothing.
	 */
	len = chunked_post(req, sizeof(req), CHUNK_DIGITS + 1);
	exchange(f.port, req, len, buf, sizeof(buf), NULL, &eof);
	assert_refused("17 digits", buf, eof, 400);
	backend_stats(&b, &s2, NULL);
	ck_assert_uint_eq(s2 - s1, 1);

	/*
	 * The body one byte at a time, so the head may be on its way to the
	 * server when the 17th digit comes: the client still gets the
	 * proxy's 400, not the body, and the connection ends.
	 */
	fd = h_connect(f.port);
	send_body_bytewise(fd, req, len);
	h_recv(fd, buf, sizeof(buf), 0, NULL, WAIT_MS, &eof);
	close(fd);
	assert_refused("17 digits, one byte at a time", buf, eof, 400);

	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/* ---- connections ------------------------------------------------------ */

#define MAXCONN	4

START_TEST(test_max_connections)
{
	static const char get[] = "GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
	static char buf[RESP_MAX];
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], global[64];
	int fds[MAXCONN], extra[3], i;
	bool eof;
	size_t n;

	h_backend_start(&b, "solo", NULL);
	snprintf(global, sizeof(global), "max_connections = %d\n", MAXCONN);
	h_pool_ini(ini, sizeof(ini), global, "", "", &b, 1);
	h_forklift_start(&f, ini);

	/* At the limit: every connection served and kept open. */
	for (i = 0; i < MAXCONN; i++) {
		fds[i] = h_connect(f.port);
		h_send(fds[i], get, sizeof(get) - 1);
		h_recv(fds[i], buf, sizeof(buf), 0, home_end, WAIT_MS, &eof);
		assert_served("at the limit", buf);
		ck_assert(!eof);
	}

	/*
	 * Past it: the kernel completes the handshakes, but the worker does
	 * not accept them, so their requests wait unanswered, and nothing
	 * resets them.
	 */
	for (i = 0; i < 3; i++) {
		extra[i] = h_connect(f.port);
		h_send(extra[i], get, sizeof(get) - 1);
	}
	n = h_recv(extra[0], buf, sizeof(buf), 0, home_end, 700, &eof);
	ck_assert_msg(n == 0 && !eof, "served past the limit: %s%s", buf,
	    eof ? " (closed or reset)" : "");
	for (i = 1; i < 3; i++) {
		n = h_recv(extra[i], buf, sizeof(buf), 0, home_end, 50, &eof);
		ck_assert_msg(n == 0 && !eof, "served past the limit: %s", buf);
	}

	/* The connections already in keep their service. */
	h_send(fds[0], get, sizeof(get) - 1);
	h_recv(fds[0], buf, sizeof(buf), 0, home_end, WAIT_MS, &eof);
	assert_served("an accepted connection at the limit", buf);

	/* Each slot that frees lets one waiting connection in. */
	for (i = 0; i < 3; i++) {
		close(fds[i]);
		h_recv(extra[i], buf, sizeof(buf), 0, home_end, WAIT_MS, &eof);
		ck_assert_msg(!eof, "waiting connection %d closed or reset", i);
		assert_served("a waiting connection", buf);
	}
	for (i = 0; i < 3; i++)
		close(extra[i]);
	close(fds[3]);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

#define KEEPALIVE	3
#define CONCURRENT	(KEEPALIVE + 5)

struct active_arg {
	const struct hbackend	*b;
	unsigned long long	 active;
};

static bool
all_active(void *arg)
{
	struct active_arg *a = arg;

	backend_stats(a->b, NULL, &a->active);
	return a->active >= CONCURRENT;
}

static bool
few_active(void *arg)
{
	struct active_arg *a = arg;

	backend_stats(a->b, NULL, &a->active);
	return a->active <= KEEPALIVE;
}

START_TEST(test_idle_upstream_per_server)
{
	static const char get[] =
	    "GET /home?delay=400 HTTP/1.1\r\nHost: t\r\n\r\n";
	static char buf[RESP_MAX];
	struct active_arg a;
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], pool[64];
	int fds[CONCURRENT], i;
	bool eof;

	h_backend_start(&b, "solo", NULL);
	snprintf(pool, sizeof(pool), "keepalive = %d\n", KEEPALIVE);
	h_pool_ini(ini, sizeof(ini), "", "", pool, &b, 1);
	h_forklift_start(&f, ini);

	/* N + 5 requests in flight at once: N + 5 upstream connections. */
	for (i = 0; i < CONCURRENT; i++) {
		fds[i] = h_connect(f.port);
		h_send(fds[i], get, sizeof(get) - 1);
	}
	a.b = &b;
	ck_assert_msg(h_wait_until(all_active, &a, WAIT_MS),
	    "%llu of %d upstream connections open", a.active, CONCURRENT);
	for (i = 0; i < CONCURRENT; i++) {
		h_recv(fds[i], buf, sizeof(buf), 0, home_end, WAIT_MS, &eof);
		assert_served("concurrent", buf);
	}

	/* Done: at most N stay open to the server, and some do. */
	ck_assert_msg(h_wait_until(few_active, &a, WAIT_MS),
	    "%llu idle connections kept, keepalive = %d", a.active,
	    KEEPALIVE);
	ck_assert_uint_ge(a.active, 1);

	/* The idle ones are reused: no new connection for the next N. */
	for (i = 0; i < KEEPALIVE; i++) {
		h_send(fds[i], get, sizeof(get) - 1);
		h_recv(fds[i], buf, sizeof(buf), 0, home_end, WAIT_MS, &eof);
		assert_served("after", buf);
	}
	backend_stats(&b, NULL, &a.active);
	ck_assert_uint_le(a.active, KEEPALIVE);
	for (i = 0; i < CONCURRENT; i++)
		close(fds[i]);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("limits (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	(void)signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("head");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_header_block_size);
	tcase_add_test(tc, test_header_count);
	tcase_add_test(tc, test_request_line);
	tcase_add_test(tc, test_chunk_size_digits);
	suite_add_tcase(s, tc);
	tc = tcase_create("connections");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_idle_upstream_per_server);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
