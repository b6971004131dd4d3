/*
 * The integration test harness, its network side: free ports, connect
 * probes, raw TCP exchanges and HTTP through libcurl, all to 127.0.0.1 and
 * all under a deadline.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

/* Longest wait of one connect probe. */
#define PROBE_MS	1000
/* Longest HTTP exchange through libcurl. */
#define HTTP_MS		10000L
/* Most bytes of a response body and of its head(s) kept. */
#define BODY_MAX	((size_t)256 << 20)
#define HEAD_MAX	((size_t)1 << 20)
/* Longest URL built. */
#define URL_MAX		2048
/* Backlog of h_hold_port's socket: connections nobody accepts. */
#define HOLD_BACKLOG	64

/* A growing buffer with a ceiling; always NUL-terminated once written. */
struct gbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

static pid_t	curl_owner;	/* the process that initialised libcurl */

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
h_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	loopback(&sin, 0);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind 127.0.0.1:0: %s", strerror(errno));
	ck_assert_msg(getsockname(fd, (struct sockaddr *)&sin, &len) == 0,
	    "getsockname: %s", strerror(errno));
	ck_assert_msg(close(fd) == 0, "close: %s", strerror(errno));
	return ntohs(sin.sin_port);
}

int
h_connect(int port)
{
	struct sockaddr_in sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	loopback(&sin, port);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

void
h_send(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
}

int
h_hold_port(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	loopback(&sin, 0);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind 127.0.0.1:0: %s", strerror(errno));
	ck_assert_msg(listen(fd, HOLD_BACKLOG) == 0, "listen: %s",
	    strerror(errno));
	ck_assert_msg(getsockname(fd, (struct sockaddr *)&sin, &len) == 0,
	    "getsockname: %s", strerror(errno));
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A non-blocking socket connected to 127.0.0.1:port by the deadline, or
   -1.  The caller closes it. */
static int
connect_until(int port, long long deadline)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	long long left;
	int fd, r, soerr = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	loopback(&sin, port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		(void)close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		left = deadline - hi_now_ms();
		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
	} while (r == -1 && errno == EINTR);
	ck_assert_msg(r != -1, "poll: %s", strerror(errno));
	if (r == 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) ==
	    -1 || soerr != 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

bool
h_port_open(int port)
{
	int fd;

	if ((fd = connect_until(port, hi_now_ms() + PROBE_MS)) == -1)
		return false;
	ck_assert_msg(close(fd) == 0, "close: %s", strerror(errno));
	return true;
}

static bool
port_open_cond(void *arg)
{
	return h_port_open(*(int *)arg);
}

bool
h_wait_port(int port, int ms)
{
	return h_wait_until(port_open_cond, &port, ms);
}

/* Waits for `events` on fd until the deadline: true if they came. */
static bool
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int r;

	for (;;) {
		if ((left = deadline - hi_now_ms()) <= 0)
			return false;
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		ck_assert_msg(r != -1, "poll: %s", strerror(errno));
		return r > 0;
	}
}

size_t
h_recv(int fd, char *buf, size_t cap, size_t have, const char *until,
    int ms, bool *eof)
{
	long long deadline = hi_now_ms() + ms;
	ssize_t n;

	ck_assert_msg(have < cap, "h_recv: %zu bytes held in %zu", have, cap);
	*eof = false;
	buf[have] = '\0';
	while (have < cap - 1 && (until == NULL ||
	    strstr(buf, until) == NULL) && wait_fd(fd, POLLIN, deadline)) {
		n = recv(fd, buf + have, cap - 1 - have, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*eof = true;	/* closed, or reset */
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
	}
	return have;
}

/* Sends all of buf unless the peer stops reading or the deadline passes. */
static void
raw_send(int fd, const char *buf, size_t len, long long deadline)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN &&
		    wait_fd(fd, POLLOUT, deadline))
			continue;
		return;		/* closed or reset early: read what came */
	}
}

size_t
h_raw(int port, const char *req, size_t reqlen, char *out, size_t outlen,
    int ms)
{
	long long deadline = hi_now_ms() + ms;
	size_t len = 0;
	ssize_t n;
	int fd;

	ck_assert_msg(outlen > 0, "h_raw: no room for the answer");
	out[0] = '\0';
	if ((fd = connect_until(port, deadline)) == -1)
		return 0;
	raw_send(fd, req, reqlen, deadline);
	while (len < outlen - 1 && wait_fd(fd, POLLIN, deadline)) {
		n = read(fd, out + len, outlen - 1 - len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;		/* closed, or reset */
		len += (size_t)n;
	}
	ck_assert_msg(close(fd) == 0, "close: %s", strerror(errno));
	out[len] = '\0';
	return len;
}

static size_t
gbuf_add(char *data, size_t size, size_t nmemb, void *arg)
{
	struct gbuf *g = arg;
	size_t n = size * nmemb, cap;
	char *p;

	if (n > g->max - g->len)
		return 0;	/* over the ceiling: fail the transfer */
	if (g->len + n + 1 > g->cap) {
		for (cap = g->cap ? g->cap : 4096; cap < g->len + n + 1;)
			cap *= 2;
		if ((p = realloc(g->p, cap)) == NULL)
			return 0;
		g->p = p;
		g->cap = cap;
	}
	memcpy(g->p + g->len, data, n);
	g->len += n;
	g->p[g->len] = '\0';
	return n;
}

/* Hands a buffer over as a NUL-terminated string (empty if unused). */
static char *
gbuf_take(struct gbuf *g)
{
	if (g->p == NULL && (g->p = strdup("")) == NULL)
		ck_abort_msg("strdup: %s", strerror(errno));
	return g->p;
}

static void
curl_ready(void)
{
	if (curl_owner == getpid())
		return;
	ck_assert_msg(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK,
	    "curl_global_init failed");
	curl_owner = getpid();
}

static bool
curl_setup(CURL *c, const char *url, struct gbuf *body, struct gbuf *head,
    struct curl_slist *hl)
{
	return curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, HTTP_MS) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gbuf_add) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, body) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, gbuf_add) ==
	    CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, head) == CURLE_OK &&
	    (hl == NULL ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl) == CURLE_OK);
}

static void
http_exchange(int port, const char *path, const char *const *headers,
    const void *post, size_t postlen, struct hresponse *r)
{
	struct gbuf body = { .max = BODY_MAX }, head = { .max = HEAD_MAX };
	struct curl_slist *hl = NULL, *nhl;
	char url[URL_MAX];
	long code = 0;
	CURL *c;
	bool ok;

	curl_ready();
	memset(r, 0, sizeof(*r));
	ck_assert_msg((size_t)snprintf(url, sizeof(url),
	    "http://127.0.0.1:%d%s", port, path) < sizeof(url),
	    "URL too long: %s", path);
	for (; headers != NULL && *headers != NULL; headers++) {
		if ((nhl = curl_slist_append(hl, *headers)) == NULL)
			ck_abort_msg("curl_slist_append failed");
		hl = nhl;
	}
	ck_assert_msg((c = curl_easy_init()) != NULL, "curl_easy_init");
	ok = curl_setup(c, url, &body, &head, hl);
	if (ok && post != NULL)
		ok = curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
		    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)postlen) == CURLE_OK &&
		    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post) == CURLE_OK;
	ck_assert_msg(ok, "curl_easy_setopt failed");
	r->curl_error = (int)curl_easy_perform(c);
	if (r->curl_error == CURLE_OK && curl_easy_getinfo(c,
	    CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		r->status = code;
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	r->len = body.len;
	r->body = gbuf_take(&body);
	r->headers = gbuf_take(&head);
}

void
h_get(int port, const char *path, const char *const *headers,
    struct hresponse *r)
{
	http_exchange(port, path, headers, NULL, 0, r);
}

void
h_post(int port, const char *path, const void *body, size_t len,
    struct hresponse *r)
{
	http_exchange(port, path, NULL, body != NULL ? body : "", len, r);
}

void
h_response_free(struct hresponse *r)
{
	free(r->body);
	free(r->headers);
	r->body = r->headers = NULL;
	r->len = 0;
}
