/*
 * Integration tests of large bodies, which a worker moves between client
 * and server through a pipe with splice(2) (worker/proxy_splice.c) once
 * they are past what it buffers.  Requests: the body ends exactly at its
 * length (a pipelined request after it is served), more uploads at once
 * than the worker has pipes all arrive whole, a pipe left holding bytes is
 * emptied and not leaked, and a body that reached a pipe is never sent
 * twice.  Responses: exactly the length is relayed (a pipelined request's
 * answer follows it; bytes a server sends past it are not, and its
 * connection is not reused), and a download abandoned with bytes in the
 * pipe leaks nothing.  The real
 * forklift binary, a real backend (tests/backend), raw sockets; the
 * backend's /upload answers with the length and FNV-1a 64 of what it got.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define INI_MAX		4096
#define WAIT_MS		10000
#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL
/* Uploads at once: more than the worker's pipes (PIPES_MAX, 16). */
#define NCONCURRENT	24
/* Large enough to be spliced (proxy_splice.c: SPLICE_MIN is 64 KiB). */
#define BODY_LEN	(640 * 1024)
#define PIECE		(32 * 1024)
/* Body bytes sent with a pipelined request behind them. */
#define TAIL		1000
/* Uploads left stuck one after another. */
#define NSTUCK		20
/* The length a stuck upload announces, and the most it may send before
   the socket buffers on its way (they grow to megabytes) are full. */
#define STUCK_LEN	((uint64_t)1 << 30)
#define STUCK_SEND_MAX	((uint64_t)128 << 20)
/* No byte sent for this long: the proxy holds all it can. */
#define STALL_MS	200

/* Byte i of every test body: not a multiple of a page, not all equal. */
static unsigned char
body_byte(uint64_t i)
{
	return (unsigned char)((i * 131 + 17) % 253);
}

static uint64_t
body_hash(uint64_t len)
{
	uint64_t h = FNV_OFFSET, i;

	for (i = 0; i < len; i++)
		h = (h ^ body_byte(i)) * FNV_PRIME;
	return h;
}

/* Bytes [from, from + n) of the body into buf. */
static void
body_fill(unsigned char *buf, uint64_t from, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = body_byte(from + i);
}

/* Sends the head of a POST /upload of len bytes. */
static void
send_upload_head(int fd, uint64_t len)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "POST /upload HTTP/1.1\r\n"
	    "Host: t\r\nContent-Length: %" PRIu64 "\r\n\r\n", len);
	h_send(fd, head, (size_t)n);
}

/* Sends body bytes [from, from + n) in pieces. */
static void
send_body(int fd, uint64_t from, uint64_t n)
{
	unsigned char piece[PIECE];
	size_t k;

	while (n > 0) {
		k = n < sizeof(piece) ? (size_t)n : sizeof(piece);
		body_fill(piece, from, k);
		h_send(fd, (const char *)piece, k);
		from += k;
		n -= k;
	}
}

/* What /upload answers for a test body of len bytes. */
static void
upload_answer(char *want, size_t cap, uint64_t len)
{
	snprintf(want, cap, "bytes=%" PRIu64 " fnv1a64=%016" PRIx64 "\n",
	    len, body_hash(len));
}

static void
want_upload_answer(const char *got, uint64_t len)
{
	char want[96];

	upload_answer(want, sizeof(want), len);
	ck_assert_msg(strstr(got, want) != NULL, "want \"%s\" in: %.300s",
	    want, got);
}

static void
start_proxy(struct hforklift *fk, struct hbackend *b)
{
	char ini[INI_MAX];

	h_backend_start(b, "solo", NULL);
	h_pool_ini(ini, sizeof(ini), "", "", "", b, 1);
	h_forklift_start(fk, ini);
}

/* ---- the body ends at its length ----------------------------------------- */

/*
 * A large POST and a GET right behind it on one connection: the worker
 * must take exactly Content-Length bytes of body and answer the GET too.
 */
START_TEST(test_body_then_pipelined_request)
{
	static const char get[] = "GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
	struct hforklift fk;
	struct hbackend b;
	char *buf;
	size_t n;
	bool eof;
	int fd;

	start_proxy(&fk, &b);
	buf = malloc(65536);
	ck_assert(buf != NULL);
	fd = h_connect(fk.port);
	send_upload_head(fd, BODY_LEN);
	send_body(fd, 0, BODY_LEN - TAIL);
	/* The body's tail and the GET in one segment: a worker that took
	   more than the length from the socket would take the GET too. */
	body_fill((unsigned char *)buf, BODY_LEN - TAIL, TAIL);
	memcpy(buf + TAIL, get, sizeof(get) - 1);
	h_send(fd, buf, TAIL + sizeof(get) - 1);
	n = h_recv(fd, buf, 65536, 0, "Hello from server: solo\n", WAIT_MS,
	    &eof);
	ck_assert_msg(n > 0 && !eof, "the connection closed: %s", buf);
	want_upload_answer(buf, BODY_LEN);
	ck_assert_msg(strstr(buf, "Hello from server: solo") >
	    strstr(buf, "fnv1a64="), "answers out of order: %s", buf);
	close(fd);
	free(buf);
	h_forklift_stop(&fk);
	h_backend_stop(&b);
}
END_TEST

/* ---- more uploads than pipes --------------------------------------------- */

/*
 * NCONCURRENT uploads, their bodies sent a piece to each in turn, so that
 * all are in flight together: those past the worker's pipes take the
 * buffered path, and every one must arrive whole.
 */
START_TEST(test_more_uploads_than_pipes)
{
	struct hforklift fk;
	struct hbackend b;
	int fds[NCONCURRENT];
	char buf[4096], want[96];
	uint64_t off;
	bool eof;
	int i;

	start_proxy(&fk, &b);
	for (i = 0; i < NCONCURRENT; i++) {
		fds[i] = h_connect(fk.port);
		send_upload_head(fds[i], BODY_LEN);
	}
	for (off = 0; off < BODY_LEN; off += PIECE)
		for (i = 0; i < NCONCURRENT; i++)
			send_body(fds[i], off, BODY_LEN - off < PIECE ?
			    BODY_LEN - off : PIECE);
	upload_answer(want, sizeof(want), BODY_LEN);
	for (i = 0; i < NCONCURRENT; i++) {
		h_recv(fds[i], buf, sizeof(buf), 0, want, WAIT_MS, &eof);
		ck_assert_msg(strstr(buf, want) != NULL,
		    "upload %d: want \"%s\", got: %.300s", i, want, buf);
		close(fds[i]);
	}
	h_forklift_stop(&fk);
	h_backend_stop(&b);
}
END_TEST

/* ---- a pipe left holding bytes ------------------------------------------ */

struct fd_count {
	pid_t	 pid;
	int	 want;
	int	 last;
};

static bool
fd_count_is(void *arg)
{
	struct fd_count *f = arg;

	return (f->last = h_fd_count(f->pid)) == f->want;
}

/*
 * Sends body bytes without blocking until none has gone for STALL_MS (the
 * proxy holds all it can) or `len` went; returns how many went.
 */
static uint64_t
send_until_stalled(int fd, uint64_t len)
{
	unsigned char piece[PIECE];
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	uint64_t sent = 0;
	size_t k;
	ssize_t n;

	while (sent < len) {
		k = len - sent < sizeof(piece) ? (size_t)(len - sent) :
		    sizeof(piece);
		body_fill(piece, sent, k);
		n = send(fd, piece, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			sent += (uint64_t)n;
			continue;
		}
		ck_assert_msg(n == -1 && errno == EAGAIN, "send: %s",
		    strerror(errno));
		if (poll(&p, 1, STALL_MS) == 0)
			break;
	}
	return sent;
}

/*
 * One upload to a server that reads nothing (a tiny receive buffer), so
 * that the worker's pipe fills and stays full; then the server resets the
 * connection.  The client gets 502, and the worker must empty the pipe
 * before it serves another body.
 */
static void
stuck_upload(int port, int lfd)
{
	struct linger lg = { 1, 0 };
	char buf[4096];
	uint64_t sent;
	bool eof;
	int fd, sfd;

	fd = h_connect(port);
	send_upload_head(fd, STUCK_LEN);
	sfd = accept(lfd, NULL, NULL);
	ck_assert_msg(sfd != -1, "accept: %s", strerror(errno));
	sent = send_until_stalled(fd, STUCK_SEND_MAX);
	ck_assert_msg(sent >= PIECE && sent < STUCK_SEND_MAX,
	    "%" PRIu64 " bytes went to a server that reads nothing", sent);
	ck_assert(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)) == 0);
	close(sfd);			/* a reset */
	h_recv(fd, buf, sizeof(buf), 0, "\r\n\r\n", WAIT_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 502 ", 13) == 0,
	    "want a 502, got: %s", buf);
	close(fd);
}

/* In a child: uploads a whole test body; exits 0 on a 200 answer. */
static void __attribute__((noreturn))
upload_from_child(int port)
{
	char head[256], buf[4096];
	unsigned char piece[PIECE];
	uint64_t off;
	size_t k, got = 0;
	ssize_t n;
	int fd, len;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		_exit(2);
	{
		struct sockaddr_in sin = { .sin_family = AF_INET,
		    .sin_port = htons((uint16_t)port),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			_exit(3);
	}
	len = snprintf(head, sizeof(head), "POST /upload HTTP/1.1\r\n"
	    "Host: t\r\nContent-Length: %d\r\n\r\n", BODY_LEN);
	if (send(fd, head, (size_t)len, MSG_NOSIGNAL) != len)
		_exit(4);
	for (off = 0; off < BODY_LEN; off += k) {
		k = BODY_LEN - off < PIECE ? (size_t)(BODY_LEN - off) : PIECE;
		body_fill(piece, off, k);
		if (send(fd, piece, k, MSG_NOSIGNAL) != (ssize_t)k)
			_exit(5);
	}
	/* The answer has no body: its head is all of it. */
	buf[0] = '\0';
	while (got < sizeof(buf) - 1 && strstr(buf, "\r\n\r\n") == NULL &&
	    (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
	}
	_exit(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 ? 0 : 6);
}

/*
 * Plays the server for one upload: reads the head, then Content-Length
 * body bytes, checks they are the test body, answers 200.
 */
static void
serve_upload(int lfd)
{
	char head[8192], *end;
	size_t have = 0;
	uint64_t h = FNV_OFFSET, i = 0, len;
	ssize_t n;
	bool eof;
	int sfd;

	sfd = accept(lfd, NULL, NULL);
	ck_assert_msg(sfd != -1, "accept: %s", strerror(errno));
	have = h_recv(sfd, head, sizeof(head), 0, "\r\n\r\n", WAIT_MS, &eof);
	ck_assert_msg((end = strstr(head, "\r\n\r\n")) != NULL,
	    "no request head: %s", head);
	ck_assert_msg(strcasestr(head, "\r\nContent-Length: 655360\r\n"),
	    "%s", head);
	end += 4;
	for (len = have - (size_t)(end - head); i < len; i++)
		h = (h ^ (unsigned char)end[i]) * FNV_PRIME;
	while (i < BODY_LEN) {
		n = recv(sfd, head, sizeof(head), 0);
		ck_assert_msg(n > 0, "the body stopped at %" PRIu64, i);
		for (len = 0; len < (uint64_t)n; len++, i++)
			h = (h ^ (unsigned char)head[len]) * FNV_PRIME;
	}
	ck_assert_msg(i == BODY_LEN && h == body_hash(BODY_LEN),
	    "the server got %" PRIu64 " bytes, not the test body", i);
	h_send(sfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
	close(sfd);
}

/*
 * Uploads stuck and reset one after another, each leaving bytes in its
 * pipe: after each, the worker holds what it held at the start and one
 * pipe (emptied by closing it and opening another), and the next body a
 * server gets is the client's, none of an old one.
 */
START_TEST(test_pipe_holding_bytes_emptied)
{
	struct hforklift fk;
	struct hbackend fake = { 0 };
	struct hfamily fam;
	struct fd_count fds;
	char ini[INI_MAX];
	int i, small = 4096, large = 1 << 20, lfd, status;
	pid_t child;

	ck_assert(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	snprintf(fake.name, sizeof(fake.name), "fake");
	lfd = h_hold_port(&fake.port);
	/* Accepted sockets inherit it: the server's window stays tiny. */
	ck_assert(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)) == 0);
	h_pool_ini(ini, sizeof(ini), "", "", "", &fake, 1);
	h_forklift_start(&fk, ini);
	h_family_wait(&fam, fk.pid, 1, WAIT_MS);
	fds.pid = fam.workers[0];
	fds.want = h_fd_count(fds.pid) + 2;	/* and a pipe's two ends */
	ck_assert_int_gt(fds.want, 2);
	for (i = 0; i < NSTUCK; i++) {
		stuck_upload(fk.port, lfd);
		/* The worker closes the client as it goes (CS_LINGER). */
		ck_assert_msg(h_wait_until(fd_count_is, &fds, WAIT_MS),
		    "worker descriptors: %d after %d stuck uploads, not %d",
		    fds.last, i + 1, fds.want);
	}

	/* A window of normal size for the whole upload (capped by
	   net.core.rmem_max): a tiny one would make it take seconds. */
	ck_assert(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &large,
	    sizeof(large)) == 0);
	child = fork();
	ck_assert(child != -1);
	if (child == 0)
		upload_from_child(fk.port);
	serve_upload(lfd);
	ck_assert(waitpid(child, &status, 0) == child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the client's upload failed (status %d)", status);
	close(lfd);
	h_forklift_stop(&fk);
}
END_TEST

/* ---- a body in a pipe is never sent again -------------------------------- */

/* Reads from fd until `want` bytes came or the peer stops sending. */
static size_t
drain(int fd, size_t want)
{
	char sink[16384];
	size_t got = 0;
	ssize_t n;

	while (got < want) {
		n = recv(fd, sink, sizeof(sink), 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* True if a connection waits on the listening socket within ms. */
static bool
connection_waits(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/*
 * The server reads part of a large body and resets the connection: the
 * client gets 502, and the request is not tried again (its body went
 * through a pipe and is gone), though the pool allows retries.
 */
START_TEST(test_body_in_pipe_not_retried)
{
	struct hforklift fk;
	struct hbackend fake = { 0 };
	char ini[INI_MAX], buf[4096];
	struct linger lg = { 1, 0 };
	size_t n;
	bool eof;
	int lfd, sfd, fd;

	ck_assert(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	snprintf(fake.name, sizeof(fake.name), "fake");
	lfd = h_hold_port(&fake.port);
	h_pool_ini(ini, sizeof(ini), "", "", "retries = 2\n", &fake, 1);
	h_forklift_start(&fk, ini);

	fd = h_connect(fk.port);
	send_upload_head(fd, 4 * BODY_LEN);
	send_body(fd, 0, BODY_LEN / 2);
	sfd = accept(lfd, NULL, NULL);
	ck_assert_msg(sfd != -1, "accept: %s", strerror(errno));
	/* Well past what the worker buffers: the rest came by a pipe. */
	ck_assert_uint_ge(drain(sfd, BODY_LEN / 4), BODY_LEN / 4);
	ck_assert(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)) == 0);
	close(sfd);			/* a reset */

	n = h_recv(fd, buf, sizeof(buf), 0, "\r\n\r\n", WAIT_MS, &eof);
	ck_assert_msg(n > 0 && strncmp(buf, "HTTP/1.1 502 ", 13) == 0,
	    "want a 502, got: %s", buf);
	ck_assert_msg(!connection_waits(lfd, 500),
	    "the request was sent to the server again");
	close(fd);
	close(lfd);
	h_forklift_stop(&fk);
}
END_TEST

/* ---- response bodies ----------------------------------------------------- */

/* Byte i of the backend's /bytes/N body. */
static unsigned char
bytes_byte(uint64_t i)
{
	return (unsigned char)((i * 31 + 7) % 251);
}

/*
 * Reads one response with a Content-Length from fd: its head into head
 * (NUL-terminated), then exactly that many body bytes, checked against
 * the /bytes pattern.  Returns the body length.
 */
static uint64_t
read_bytes_response(int fd, char *head, size_t cap)
{
	const char *cl;
	char *end, buf[16384];
	uint64_t len, i;
	size_t have, k;
	ssize_t n;
	bool eof;

	have = h_recv(fd, head, cap, 0, "\r\n\r\n", WAIT_MS, &eof);
	ck_assert_msg((end = strstr(head, "\r\n\r\n")) != NULL,
	    "no response head: %.300s", head);
	ck_assert_msg(strncmp(head, "HTTP/1.1 200 ", 13) == 0, "%.300s", head);
	cl = strcasestr(head, "\r\nContent-Length: ");
	ck_assert_msg(cl != NULL && cl < end, "no length: %.300s", head);
	len = strtoull(cl + 18, NULL, 10);
	/* Body bytes that came with the head. */
	k = have - (size_t)(end + 4 - head);
	ck_assert_uint_le(k, len);
	for (i = 0; i < k; i++)
		ck_assert_msg((unsigned char)end[4 + i] == bytes_byte(i),
		    "body byte %" PRIu64 " is wrong", i);
	while (i < len) {
		k = len - i < sizeof(buf) ? (size_t)(len - i) : sizeof(buf);
		n = recv(fd, buf, k, 0);
		ck_assert_msg(n > 0, "the body stopped at %" PRIu64 " of %"
		    PRIu64, i, len);
		for (k = 0; k < (size_t)n; k++, i++)
			ck_assert_msg((unsigned char)buf[k] == bytes_byte(i),
			    "body byte %" PRIu64 " is wrong", i);
	}
	end[2] = '\0';
	return len;
}

/*
 * A large download and a GET right behind it on one connection: the
 * worker relays exactly the response's length, then answers the GET.
 */
START_TEST(test_download_then_pipelined_request)
{
	static const char reqs[] = "GET /bytes/1000003 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
	struct hforklift fk;
	struct hbackend b;
	char head[4096];
	bool eof;
	int fd;

	start_proxy(&fk, &b);
	fd = h_connect(fk.port);
	h_send(fd, reqs, sizeof(reqs) - 1);
	ck_assert_uint_eq(read_bytes_response(fd, head, sizeof(head)), 1000003);
	h_recv(fd, head, sizeof(head), 0, "Hello from server: solo\n", WAIT_MS,
	    &eof);
	ck_assert_msg(strncmp(head, "HTTP/1.1 200 ", 13) == 0 &&
	    strstr(head, "Hello from server: solo\n") != NULL,
	    "the pipelined GET got: %.300s", head);
	close(fd);
	h_forklift_stop(&fk);
	h_backend_stop(&b);
}
END_TEST

/* True once the client socket holds at least `want` unread bytes. */
struct unread {
	int	 fd;
	int	 want;
};

static bool
unread_reached(void *arg)
{
	struct unread *u = arg;
	int n = 0;

	return ioctl(u->fd, FIONREAD, &n) == 0 && n >= u->want;
}

/*
 * A client that asks for 64 MiB, reads a little, stops reading until its
 * socket is full (the worker's pipe fills behind it), and leaves.
 */
static void
abandoned_download(int port)
{
	static const char req[] = "GET /bytes/67108864 HTTP/1.1\r\n"
	    "Host: t\r\n\r\n";
	struct unread u;
	char buf[16384];
	int rcvbuf = 65536;
	size_t got = 0;
	ssize_t n;

	u.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(u.fd != -1);
	ck_assert(setsockopt(u.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == 0);
	{
		struct sockaddr_in sin = { .sin_family = AF_INET,
		    .sin_port = htons((uint16_t)port),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		ck_assert(connect(u.fd, (struct sockaddr *)&sin,
		    sizeof(sin)) == 0);
	}
	h_send(u.fd, req, sizeof(req) - 1);
	while (got < 256 * 1024) {
		n = recv(u.fd, buf, sizeof(buf), 0);
		ck_assert_msg(n > 0, "the download stopped at %zu", got);
		got += (size_t)n;
	}
	u.want = rcvbuf / 2;
	ck_assert_msg(h_wait_until(unread_reached, &u, WAIT_MS),
	    "the worker stopped sending");
	close(u.fd);
}

/*
 * Downloads abandoned one after another with bytes in the worker's pipe:
 * after each, the worker holds what it held at the start and one pipe,
 * and a whole download after them carries none of their bytes.
 */
START_TEST(test_abandoned_downloads_leak_nothing)
{
	static const char get[] = "GET /bytes/2000000 HTTP/1.1\r\n"
	    "Host: t\r\n\r\n";
	struct hforklift fk;
	struct hbackend b;
	struct hfamily fam;
	struct fd_count fds;
	char head[4096];
	int i, fd;

	start_proxy(&fk, &b);
	h_family_wait(&fam, fk.pid, 1, WAIT_MS);
	fds.pid = fam.workers[0];
	fds.want = h_fd_count(fds.pid) + 2;	/* and a pipe's two ends */
	ck_assert_int_gt(fds.want, 2);
	for (i = 0; i < NSTUCK; i++) {
		abandoned_download(fk.port);
		ck_assert_msg(h_wait_until(fd_count_is, &fds, WAIT_MS),
		    "worker descriptors: %d after %d abandoned downloads, "
		    "not %d", fds.last, i + 1, fds.want);
	}
	fd = h_connect(fk.port);
	h_send(fd, get, sizeof(get) - 1);
	ck_assert_uint_eq(read_bytes_response(fd, head, sizeof(head)), 2000000);
	close(fd);
	h_forklift_stop(&fk);
	h_backend_stop(&b);
}
END_TEST

/*
 * A server that sends bytes past its response's length: the client gets
 * exactly the response, and the connection is not used again (its next
 * request goes on a new one).
 */
START_TEST(test_bytes_past_response_not_reused)
{
	static const char get[] = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
	static const char head200[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 200000\r\n\r\n";
	struct hforklift fk;
	struct hbackend fake = { 0 };
	char ini[INI_MAX], buf[8192], *body;
	size_t n;
	bool eof;
	int lfd, s1, s2, fd;

	snprintf(fake.name, sizeof(fake.name), "fake");
	lfd = h_hold_port(&fake.port);
	h_pool_ini(ini, sizeof(ini), "", "", "", &fake, 1);
	h_forklift_start(&fk, ini);
	fd = h_connect(fk.port);
	h_send(fd, get, sizeof(get) - 1);
	s1 = accept(lfd, NULL, NULL);
	ck_assert_msg(s1 != -1, "accept: %s", strerror(errno));
	h_recv(s1, buf, sizeof(buf), 0, "\r\n\r\n", WAIT_MS, &eof);
	body = malloc(200000 + 4);
	ck_assert(body != NULL);
	body_fill((unsigned char *)body, 0, 200000);
	memcpy(body + 200000, "JUNK", 4);
	h_send(s1, head200, sizeof(head200) - 1);
	h_send(s1, body, 200000 + 4);

	/* The whole response and nothing more: the next request's answer
	   must start right after it. */
	n = h_recv(fd, buf, sizeof(buf), 0, "\r\n\r\n", WAIT_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
	n -= (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf);
	while (n < 200000) {
		ssize_t k = recv(fd, buf, sizeof(buf) <
		    200000 - n ? sizeof(buf) : 200000 - n, 0);

		ck_assert_msg(k > 0, "the body stopped at %zu", n);
		n += (size_t)k;
	}
	ck_assert_uint_eq(n, 200000);
	h_send(fd, get, sizeof(get) - 1);
	ck_assert_msg(connection_waits(lfd, WAIT_MS),
	    "the next request did not come on a new connection");
	s2 = accept(lfd, NULL, NULL);
	ck_assert(s2 != -1);
	h_recv(s2, buf, sizeof(buf), 0, "\r\n\r\n", WAIT_MS, &eof);
	h_send(s2, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
	h_recv(fd, buf, sizeof(buf), 0, "\r\n\r\nok", WAIT_MS, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 &&
	    strstr(buf, "\r\n\r\nok") != NULL, "second answer: %s", buf);
	/* The first connection was closed, never given the request. */
	n = h_recv(s1, buf, sizeof(buf), 0, NULL, WAIT_MS, &eof);
	ck_assert_msg(eof && n == 0, "the dirty connection got: %s", buf);
	free(body);
	close(s1);
	close(s2);
	close(fd);
	close(lfd);
	h_forklift_stop(&fk);
}
END_TEST

static Suite *
bodies_suite(void)
{
	Suite *s = suite_create("bodies (integration)");
	TCase *tc = tcase_create("splice");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_body_then_pipelined_request);
	tcase_add_test(tc, test_more_uploads_than_pipes);
	tcase_add_test(tc, test_pipe_holding_bytes_emptied);
	tcase_add_test(tc, test_body_in_pipe_not_retried);
	tcase_add_test(tc, test_download_then_pipelined_request);
	tcase_add_test(tc, test_abandoned_downloads_leak_nothing);
	tcase_add_test(tc, test_bytes_past_response_not_reused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bodies_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
