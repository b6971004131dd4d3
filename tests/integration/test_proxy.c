/*
 * Integration tests of the proxy's forwarding: the real forklift binary in
 * front of real backends (tests/backend), driven by libcurl and by raw
 * sockets where the bytes on the wire matter (pipelining, framing, header
 * rewriting).  Failures, limits and timeouts are in test_proxy_faults.c.
 *
 * Every forklift here runs one worker with health checks off, so the
 * backend's own counters (GET /stats, asked directly) show exactly what the
 * proxy did to it.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define INI_MAX		4096
/* Bytes a raw exchange may read, and its longest wait for an answer. */
#define RAW_MAX		(256 * 1024)
#define RAW_MS		5000
/* The large bodies, and how long libcurl may take over one (ASan). */
#define BIG		((uint64_t)64 << 20)
#define CURL_MS		120000L
#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

/* ---- helpers --------------------------------------------------------- */

/* Sends req on a new connection and reads until the proxy closes it. */
static size_t
raw_exchange(int port, const char *req, char *buf, size_t cap)
{
	bool eof;
	size_t n;
	int fd = h_connect(port);

	h_send(fd, req, strlen(req));
	n = h_recv(fd, buf, cap, 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof, "the proxy did not close; got: %.300s", buf);
	close(fd);
	return n;
}

/* Positions of needles in order, each after the previous; false if not. */
static bool
in_order(const char *s, const char *const *needles)
{
	for (; *needles != NULL; needles++) {
		if ((s = strstr(s, *needles)) == NULL)
			return false;
		s += strlen(*needles);
	}
	return true;
}

static int
count_of(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
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

/* The backend's "accepted=A requests=R active=K", asked directly. */
static void
backend_stats(const struct hbackend *b, unsigned long long *accepted,
    unsigned long long *requests)
{
	struct hresponse r;

	h_get(b->port, "/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	*accepted = stat_of(r.body, "accepted=");
	*requests = stat_of(r.body, "requests=");
	h_response_free(&r);
}

/* ---- streaming bodies through libcurl --------------------------------- */

/* A download checked against the /bytes pattern as it arrives. */
struct sink {
	uint64_t	 pos;
	uint64_t	 bad_at;	/* first wrong byte + 1; 0 none */
};

static size_t
/* NOLINTNEXTLINE(readability-non-const-parameter): libcurl's type */
sink_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t i, n = size * nmemb;

	for (i = 0; i < n; i++, s->pos++)
		if ((unsigned char)p[i] != (s->pos * 31 + 7) % 251 &&
		    s->bad_at == 0)
			s->bad_at = s->pos + 1;
	return n;
}

/* An upload of pseudo-random bytes, hashed as it is produced. */
struct source {
	uint64_t	 left;
	uint64_t	 state;
	uint64_t	 hash;
};

static size_t
source_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct source *s = arg;
	size_t i, n = size * nmemb;

	if (n > s->left)
		n = (size_t)s->left;
	for (i = 0; i < n; i++) {
		s->state ^= s->state << 13;
		s->state ^= s->state >> 7;
		s->state ^= s->state << 17;
		p[i] = (char)(s->state >> 24);
		s->hash = (s->hash ^ (unsigned char)p[i]) * FNV_PRIME;
	}
	s->left -= n;
	return n;
}

struct text {
	char	 buf[4096];
	size_t	 len;
};

static size_t
text_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct text *t = arg;
	size_t n = size * nmemb, room = sizeof(t->buf) - 1 - t->len;

	memcpy(t->buf + t->len, p, n < room ? n : room);
	t->len += n < room ? n : room;
	t->buf[t->len] = '\0';
	return n;
}

static CURL *
curl_for(int port, const char *path, struct curl_slist *hl)
{
	char url[256];
	CURL *c = curl_easy_init();

	ck_assert_ptr_nonnull(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, CURL_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (hl != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	return c;
}

/* GETs path and checks the body is `len` bytes of the /bytes pattern. */
static void
download_check(int port, const char *path, uint64_t len, struct text *head)
{
	struct sink s = { 0, 0 };
	CURL *c = curl_for(port, path, NULL);
	long status = 0;
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if (head != NULL) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, text_write);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, head);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	ck_assert_msg(rc == CURLE_OK, "%s: %s", path, curl_easy_strerror(rc));
	ck_assert_int_eq(status, 200);
	ck_assert_msg(s.bad_at == 0, "%s: byte %" PRIu64 " is wrong", path,
	    s.bad_at - 1);
	ck_assert_uint_eq(s.pos, len);
}

/* POSTs `len` generated bytes to /upload, chunked or with a length, and
   checks the backend's count and hash of what it got. */
static void
upload_check(int port, uint64_t len, bool chunked)
{
	struct source src = { len, 0x9e3779b97f4a7c15ULL, FNV_OFFSET };
	struct curl_slist *hl = NULL;
	struct text t = { "", 0 };
	char want[128];
	long status = 0;
	CURLcode rc;
	CURL *c;

	if (chunked)
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	c = curl_for(port, "/upload", hl);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, source_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &src);
	if (!chunked)
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, text_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	ck_assert_msg(rc == CURLE_OK, "upload: %s", curl_easy_strerror(rc));
	ck_assert_int_eq(status, 200);
	snprintf(want, sizeof(want), "bytes=%" PRIu64 " fnv1a64=%016" PRIx64,
	    len, src.hash);
	ck_assert_msg(strstr(t.buf, want) != NULL, "want %s, got %s", want,
	    t.buf);
}

/* ---- tests ----------------------------------------------------------- */

static struct hbackend	 be[3];
static struct hforklift	 fk;

/* Three backends and forklift over them; the tests share them. */
static void
setup_three(void)
{
	char ini[INI_MAX];

	h_backend_start(&be[0], "app1", NULL);
	h_backend_start(&be[1], "app2", NULL);
	h_backend_start(&be[2], "app3", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", be, 3);
	h_forklift_start(&fk, ini);
}

static void
teardown_three(void)
{
	h_forklift_stop(&fk);
	h_backend_stop(&be[0]);
	h_backend_stop(&be[1]);
	h_backend_stop(&be[2]);
}

START_TEST(test_proxy_get_post_head)
{
	static const char body[] = "hello, upload";
	struct hresponse r;
	char buf[RAW_MAX];
	size_t n;

	h_get(fk.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strncmp(r.body, "Hello from server: app", 22) == 0,
	    "body: %s", r.body);
	h_response_free(&r);

	h_post(fk.port, "/upload", body, sizeof(body) - 1, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strncmp(r.body, "bytes=13 ", 9) == 0, "%s", r.body);
	h_response_free(&r);

	/* HEAD: the head of a 1000-byte answer, then the next response
	   right after it on the same connection. */
	n = raw_exchange(fk.port, "HEAD /bytes/1000 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /status/201 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    buf, sizeof(buf));
	ck_assert_msg(in_order(buf, (const char *const[]){ "HTTP/1.1 200",
	    "Content-Length: 1000", "\r\n\r\nHTTP/1.1 201", NULL }),
	    "got: %s", buf);
	ck_assert_uint_lt(n, 1000);
}
END_TEST

START_TEST(test_proxy_headers_rewritten)
{
	char buf[RAW_MAX], *body;
	const char *const gone[] = { "X-Drop", "Keep-Alive", "TE:",
	    "Trailer", "Upgrade", "Proxy-Connection", "Connection",
	    "https", "spoofed", NULL };
	const char *const *g;

	raw_exchange(fk.port,
	    "GET /echo HTTP/1.1\r\n"
	    "Host: example.test:8080\r\n"
	    "Connection: close, X-Drop\r\n"
	    "X-Drop: 1\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "TE: trailers\r\n"
	    "Trailer: X-T\r\n"
	    "Upgrade: websocket\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "X-Forwarded-For: 10.0.0.1\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Forwarded-Host: spoofed\r\n"
	    "X-Keep: yes\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
	ck_assert_int_eq(count_of(buf, "Connection: close\r\n"), 1);
	body = strstr(buf, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_msg(in_order(body, (const char *const[]){
	    "GET /echo HTTP/1.1\r\n", "Host: example.test:8080\r\n",
	    "X-Keep: yes\r\n", "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n",
	    "X-Forwarded-Proto: http\r\n",
	    "X-Forwarded-Host: example.test:8080\r\n", NULL }),
	    "forwarded head:\n%s", body);
	for (g = gone; *g != NULL; g++)
		ck_assert_msg(strstr(body, *g) == NULL, "%s forwarded:\n%s",
		    *g, body);
}
END_TEST

START_TEST(test_proxy_http10)
{
	char buf[RAW_MAX];
	bool eof;
	size_t n;
	int fd;

	/* 1.0 without keep-alive: the server's "Connection: keep-alive"
	   (it was asked for one) is dropped, "close" said, and closed. */
	raw_exchange(fk.port, "GET /home HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
	ck_assert_int_eq(count_of(buf, "Connection:"), 1);
	ck_assert_int_eq(count_of(buf, "Connection: close\r\n"), 1);

	/* 1.0 with keep-alive: kept, and said so. */
	fd = h_connect(fk.port);
	h_send(fd, "GET /home HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	    46);
	n = h_recv(fd, buf, sizeof(buf), 0, "Hello from server: app", RAW_MS,
	    &eof);
	n = h_recv(fd, buf, sizeof(buf), n, "\n", RAW_MS, &eof);
	ck_assert_msg(n > 0 && !eof &&
	    strstr(buf, "Connection: keep-alive\r\n"), "%s", buf);
	h_send(fd, "GET /status/202 HTTP/1.0\r\n\r\n", 28);
	n = h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof && n > 12 && strncmp(buf, "HTTP/1.1 202", 12) == 0,
	    "%s", buf);
	close(fd);
}
END_TEST

START_TEST(test_proxy_keepalive_reuse)
{
	struct hbackend b;
	struct hforklift f;
	struct hresponse r;
	char ini[INI_MAX];
	unsigned long long acc, req, acc0, req0;
	int i;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", &b, 1);
	h_forklift_start(&f, ini);
	backend_stats(&b, &acc0, &req0);
	/* 20 client connections, one request each. */
	for (i = 0; i < 20; i++) {
		h_get(f.port, "/home", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	h_get(f.port, "/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	acc = stat_of(r.body, "accepted=");
	req = stat_of(r.body, "requests=");
	h_response_free(&r);
	/* One upstream connection served all 21 (plus the direct ask). */
	ck_assert_uint_eq(acc - acc0, 1);
	ck_assert_uint_eq(req - req0, 21);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_proxy_pipelining)
{
	char buf[RAW_MAX];
	int fd;
	bool eof;

	/* Three requests in one write, answered in order. */
	fd = h_connect(fk.port);
	h_send(fd, "GET /status/201 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /home?delay=50 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /status/404 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    37 + 40 + 56);
	h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	close(fd);
	ck_assert(eof);
	ck_assert_msg(in_order(buf, (const char *const[]){ "HTTP/1.1 201",
	    "201 Created\n", "HTTP/1.1 200", "Hello from server",
	    "HTTP/1.1 404", "Connection: close", NULL }), "got: %s", buf);
	ck_assert_int_eq(count_of(buf, "HTTP/1.1 "), 3);

	/* 204 and 304 have no body: the next response follows at once. */
	fd = h_connect(fk.port);
	h_send(fd, "GET /status/204 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /status/304 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /status/203 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    37 + 37 + 56);
	h_recv(fd, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	close(fd);
	ck_assert_msg(eof && in_order(buf, (const char *const[]){
	    "HTTP/1.1 204", "HTTP/1.1 304", "HTTP/1.1 203", NULL }), "%s",
	    buf);
	ck_assert_int_eq(count_of(buf, "HTTP/1.1 "), 3);
}
END_TEST

START_TEST(test_proxy_expect_continue)
{
	char buf[RAW_MAX];
	size_t n;
	bool eof;
	int fd;

	fd = h_connect(fk.port);
	h_send(fd, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
	    "Expect: 100-continue\r\n\r\n", 75);
	/* The server's 100 is relayed before the body is sent. */
	n = h_recv(fd, buf, sizeof(buf), 0, "\r\n\r\n", RAW_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 100 Continue\r\n", 23) == 0,
	    "%s", buf);
	h_send(fd, "hello", 5);
	n = h_recv(fd, buf, sizeof(buf), n, "fnv1a64=", RAW_MS, &eof);
	h_recv(fd, buf, sizeof(buf), n, "\n", RAW_MS, &eof);
	ck_assert_msg(in_order(buf, (const char *const[]){ "HTTP/1.1 100",
	    "HTTP/1.1 200", "bytes=5 ", NULL }), "%s", buf);
	close(fd);
}
END_TEST

START_TEST(test_proxy_big_download)
{
	struct text head = { "", 0 };

	download_check(fk.port, "/bytes/67108864", BIG, NULL);
	download_check(fk.port, "/bytes/5000001?chunked=1", 5000001, &head);
	ck_assert_msg(strstr(head.buf, "Transfer-Encoding: chunked"),
	    "%s", head.buf);
	download_check(fk.port, "/bytes/3000017?close=1", 3000017, NULL);
}
END_TEST

START_TEST(test_proxy_big_upload)
{
	upload_check(fk.port, BIG, false);
	upload_check(fk.port, 5000003, true);
	upload_check(fk.port, 0, false);
}
END_TEST

/*
 * A slow reader: 8 MiB asked for and not read for a while.  The proxy
 * must stop reading the server (bounded buffers), then deliver it all.
 */
START_TEST(test_proxy_backpressure)
{
	static char buf[1 << 16];
	uint64_t pos = 0;
	size_t i;
	bool eof = false, bad = false;
	ssize_t n;
	char *body;
	int fd;

	fd = h_connect(fk.port);
	h_send(fd, "GET /bytes/8388608 HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", 59);
	usleep(300 * 1000);	/* not a synchronisation: a slow client */
	n = (ssize_t)h_recv(fd, buf, sizeof(buf), 0, "\r\n\r\n", RAW_MS,
	    &eof);
	body = strstr(buf, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	for (; body < buf + n; body++, pos++)
		bad |= (unsigned char)*body != (pos * 31 + 7) % 251;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		for (i = 0; i < (size_t)n; i++, pos++)
			bad |= (unsigned char)buf[i] != (pos * 31 + 7) % 251;
	close(fd);
	ck_assert(!bad);
	ck_assert_uint_eq(pos, 8388608);
}
END_TEST

struct count_arg {
	const struct hbackend	*b;
	unsigned long long	 want;
};

/* True when the backend has exactly `want` connections open. */
static bool
backend_active_is(void *arg)
{
	struct count_arg *a = arg;
	struct hresponse r;
	unsigned long long act = ~0ULL;

	h_get(a->b->port, "/stats", NULL, &r);
	if (r.status == 200)
		act = stat_of(r.body, "active=");
	h_response_free(&r);
	return act == a->want;
}

/*
 * The idle pool keeps `keepalive` connections per server, and closes
 * them after keepalive_timeout.
 */
START_TEST(test_proxy_upstream_pool_limits)
{
	static const char slow[] = "GET /home?delay=300 HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n";
	struct hbackend b;
	struct hforklift f;
	struct count_arg ca;
	char ini[INI_MAX], buf[RAW_MAX];
	int fd1, fd2;
	bool eof;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "keepalive = 1\n"
	    "keepalive_timeout = 700ms\n", &b, 1);
	h_forklift_start(&f, ini);
	fd1 = h_connect(f.port);
	fd2 = h_connect(f.port);
	h_send(fd1, slow, sizeof(slow) - 1);
	h_send(fd2, slow, sizeof(slow) - 1);
	h_recv(fd1, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof && strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
	h_recv(fd2, buf, sizeof(buf), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof && strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
	close(fd1);
	close(fd2);
	/* Two were used; one is kept (plus the one asking). */
	ca.b = &b;
	ca.want = 2;
	ck_assert(h_wait_until(backend_active_is, &ca, 2000));
	/* Then it times out. */
	ca.want = 1;
	ck_assert(h_wait_until(backend_active_is, &ca, 3000));
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/*
 * SIGQUIT to a worker: the request in flight is answered (with
 * "Connection: close"), the idle keep-alive connection is closed after
 * the grace, the worker exits, and its replacement serves.
 */
struct up_arg {
	int	 port;
};

static bool
serves(void *arg)
{
	struct up_arg *a = arg;
	struct hresponse r;
	bool ok;

	h_get(a->port, "/home", NULL, &r);
	ok = r.status == 200;
	h_response_free(&r);
	return ok;
}

static bool
pid_gone(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

struct active_arg {
	const struct hbackend	*b;
	unsigned long long	 want;
};

static bool
backend_active(void *arg)
{
	struct active_arg *a = arg;
	struct hresponse r;
	unsigned long long act = 0;

	h_get(a->b->port, "/stats", NULL, &r);
	if (r.status == 200)
		act = stat_of(r.body, "active=");
	h_response_free(&r);
	return act >= a->want;
}

START_TEST(test_proxy_drain)
{
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], slow[RAW_MAX], idle[RAW_MAX];
	struct active_arg aa;
	struct hfamily fam;
	struct up_arg ua;
	pid_t worker;
	size_t n;
	bool eof;
	int fs, fi;

	h_backend_start(&b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", &b, 1);
	h_forklift_start(&f, ini);
	h_family_wait(&fam, f.pid, 1, 5000);
	worker = fam.workers[0];

	fs = h_connect(f.port);
	h_send(fs, "GET /home?delay=1000 HTTP/1.1\r\nHost: t\r\n\r\n", 42);
	aa.b = &b;
	aa.want = 2;		/* the slow request's and this one's */
	ck_assert(h_wait_until(backend_active, &aa, 5000));

	fi = h_connect(f.port);
	h_send(fi, "GET /home HTTP/1.1\r\nHost: t\r\n\r\n", 31);
	n = h_recv(fi, idle, sizeof(idle), 0, "Hello from server: solo\n",
	    RAW_MS, &eof);
	ck_assert_msg(n > 0 && !eof && strstr(idle, "solo\n"), "%s", idle);

	ck_assert_int_eq(kill(worker, SIGQUIT), 0);
	h_recv(fs, slow, sizeof(slow), 0, NULL, RAW_MS, &eof);
	ck_assert_msg(eof && in_order(slow, (const char *const[]){
	    "HTTP/1.1 200", "Connection: close\r\n", "solo\n", NULL }),
	    "%s", slow);
	n = h_recv(fi, idle, sizeof(idle), 0, NULL, 3000, &eof);
	ck_assert_msg(eof && n == 0, "idle connection: %zu bytes, eof %d", n,
	    eof);
	close(fs);
	close(fi);
	ck_assert(h_wait_until(pid_gone, &worker, 5000));
	ua.port = f.port;
	ck_assert(h_wait_until(serves, &ua, 10000));
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proxy (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	(void)signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("forwarding");
	tcase_set_timeout(tc, 240);
	tcase_add_checked_fixture(tc, setup_three, teardown_three);
	tcase_add_test(tc, test_proxy_get_post_head);
	tcase_add_test(tc, test_proxy_headers_rewritten);
	tcase_add_test(tc, test_proxy_http10);
	tcase_add_test(tc, test_proxy_pipelining);
	tcase_add_test(tc, test_proxy_expect_continue);
	tcase_add_test(tc, test_proxy_big_download);
	tcase_add_test(tc, test_proxy_big_upload);
	tcase_add_test(tc, test_proxy_backpressure);
	suite_add_tcase(s, tc);
	tc = tcase_create("connections");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_proxy_keepalive_reuse);
	tcase_add_test(tc, test_proxy_upstream_pool_limits);
	tcase_add_test(tc, test_proxy_drain);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
