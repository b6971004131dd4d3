/*
 * Unit tests of worker/http_parse.c and worker/http_chunked.c.  Tables of
 * valid and invalid requests, responses and chunked bodies; each entry is
 * also parsed from every prefix and every two-piece split, in buffers of
 * the exact length so that a read past the end trips the sanitizer.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http_parse.h"

#define MAX_HEAD	4096	/* max_head used by the tables */
#define MAX_HEADERS	32	/* header array length used by the tables */

#define RAW(s)		.raw = (s), .rawlen = sizeof(s) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A copy of raw[0..len) in a heap block of exactly len bytes. */
static char *
dup_exact(const char *raw, size_t len)
{
	char	*p;

	p = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, raw, len);
	return p;
}

static int
span_eq(const char *buf, struct http_span s, const char *want)
{
	return s.len == strlen(want) && memcmp(buf + s.off, want, s.len) == 0;
}

/* Whether `name` is in the '|'-separated list (NULL: empty list). */
static int
in_list(const char *list, const char *name, size_t len)
{
	const char	*p = list, *e;

	while (p != NULL && *p != '\0') {
		e = strchr(p, '|');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == len && memcmp(p, name, len) == 0)
			return 1;
		p = *e != '\0' ? e + 1 : e;
	}
	return 0;
}

/* Checks headers against "Name=value|Name=value" (when fields != NULL). */
static void
check_fields(const char *what, const char *buf, const struct http_header *h,
    size_t n, const char *fields, const char *hop)
{
	char	 want[512], got[512];
	size_t	 i, w = 0;

	for (i = 0; i < n; i++) {
		ck_assert_msg(h[i].hop == in_list(hop, buf + h[i].name.off,
		    h[i].name.len), "%s: hop of header %zu", what, i);
		if (fields == NULL)
			continue;
		w += (size_t)snprintf(got + w, sizeof(got) - w, "%s%.*s=%.*s",
		    i ? "|" : "", (int)h[i].name.len, buf + h[i].name.off,
		    (int)h[i].value.len, buf + h[i].value.off);
		ck_assert_uint_lt(w, sizeof(got));
	}
	if (fields != NULL) {
		got[w] = '\0';
		snprintf(want, sizeof(want), "%s", fields);
		ck_assert_msg(strcmp(want, got) == 0, "%s: fields [%s] != [%s]",
		    what, got, want);
	}
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

struct req_ok {
	const char		*name;
	const char		*raw;
	size_t			 rawlen;
	size_t			 head;		/* 0: the whole raw */
	enum http_method	 method;
	const char		*method_name;
	const char		*target;
	int			 minor;
	size_t			 nheaders;
	const char		*cl;		/* NULL: absent (-1) */
	bool			 chunked;
	bool			 keep_alive;
	bool			 expect_continue;
	bool			 upgrade;
	const char		*host;		/* NULL: no Host */
	unsigned		 connection;
	const char		*hop;		/* names with hop set */
	const char		*fields;	/* NULL: not compared */
	enum http_body		 body;
};

static const struct req_ok req_ok[] = {
	{ "simple GET", RAW("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true,
	  .host = "example.com", .fields = "Host=example.com" },
	{ "HTTP/1.0 without Host", RAW("GET /index.html HTTP/1.0\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET",
	  .target = "/index.html", .minor = 0 },
	{ "HTTP/1.0 keep-alive",
	  RAW("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .nheaders = 1, .keep_alive = true,
	  .connection = HTTP_CONN_KEEP_ALIVE, .hop = "Connection" },
	{ "HTTP/1.1 close",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 2, .host = "a",
	  .connection = HTTP_CONN_CLOSE, .hop = "Connection" },
	{ "close beats keep-alive",
	  RAW("GET / HTTP/1.0\r\nConnection: keep-alive, CLOSE\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .nheaders = 1,
	  .connection = HTTP_CONN_CLOSE | HTTP_CONN_KEEP_ALIVE,
	  .hop = "Connection" },
	{ "POST with Content-Length and body",
	  RAW("POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "\r\nhello"), .head = 53,
	  .method = HTTP_METHOD_POST, .method_name = "POST",
	  .target = "/submit", .minor = 1, .nheaders = 2, .cl = "5",
	  .keep_alive = true, .host = "a", .body = HTTP_BODY_LENGTH },
	{ "chunked POST",
	  RAW("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n5\r\nhello\r\n0\r\n\r\n"), .head = 58,
	  .method = HTTP_METHOD_POST, .method_name = "POST", .target = "/up",
	  .minor = 1, .nheaders = 2, .chunked = true, .keep_alive = true,
	  .host = "a", .body = HTTP_BODY_CHUNKED },
	{ "chunked in capitals",
	  RAW("PUT /x HTTP/1.1\r\nTransfer-Encoding:CHUNKED \r\nHost: a\r\n"
	  "\r\n"),
	  .method = HTTP_METHOD_PUT, .method_name = "PUT", .target = "/x",
	  .minor = 1, .nheaders = 2, .chunked = true, .keep_alive = true,
	  .host = "a", .body = HTTP_BODY_CHUNKED,
	  .fields = "Transfer-Encoding=CHUNKED|Host=a" },
	{ "identical Content-Length lines",
	  RAW("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	  "Content-Length: 3\r\n\r\n"),
	  .method = HTTP_METHOD_POST, .method_name = "POST", .target = "/",
	  .minor = 1, .nheaders = 3, .cl = "3", .keep_alive = true,
	  .host = "a", .body = HTTP_BODY_LENGTH },
	{ "identical Content-Length list",
	  RAW("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 ,3,  3\r\n"
	  "\r\n"),
	  .method = HTTP_METHOD_POST, .method_name = "POST", .target = "/",
	  .minor = 1, .nheaders = 2, .cl = "3", .keep_alive = true,
	  .host = "a", .body = HTTP_BODY_LENGTH },
	{ "Content-Length with leading zeros",
	  RAW("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n"),
	  .method = HTTP_METHOD_POST, .method_name = "POST", .target = "/",
	  .minor = 1, .nheaders = 2, .cl = "7", .keep_alive = true,
	  .host = "a", .body = HTTP_BODY_LENGTH },
	{ "Content-Length zero",
	  RAW("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
	  .method = HTTP_METHOD_POST, .method_name = "POST", .target = "/",
	  .minor = 1, .nheaders = 2, .cl = "0", .keep_alive = true,
	  .host = "a", .body = HTTP_BODY_NONE },
	{ "largest Content-Length",
	  RAW("PUT / HTTP/1.1\r\nHost: a\r\n"
	  "Content-Length: 9223372036854775807\r\n\r\n"),
	  .method = HTTP_METHOD_PUT, .method_name = "PUT", .target = "/",
	  .minor = 1, .nheaders = 2, .cl = "9223372036854775807",
	  .keep_alive = true, .host = "a", .body = HTTP_BODY_LENGTH },
	{ "Expect 100-continue",
	  RAW("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	  "Content-Length: 10\r\n\r\n"),
	  .method = HTTP_METHOD_PUT, .method_name = "PUT", .target = "/f",
	  .minor = 1, .nheaders = 3, .cl = "10", .keep_alive = true,
	  .expect_continue = true, .host = "a", .body = HTTP_BODY_LENGTH },
	{ "Expect ignored in HTTP/1.0",
	  RAW("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n"
	  "Content-Length: 1\r\n\r\n"),
	  .method = HTTP_METHOD_PUT, .method_name = "PUT", .target = "/f",
	  .nheaders = 2, .cl = "1", .body = HTTP_BODY_LENGTH },
	{ "Upgrade",
	  RAW("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	  "Upgrade: websocket\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/ws",
	  .minor = 1, .nheaders = 3, .keep_alive = true, .upgrade = true,
	  .host = "a", .connection = HTTP_CONN_UPGRADE,
	  .hop = "Connection|Upgrade" },
	{ "hop-by-hop fields and Connection options",
	  RAW("GET / HTTP/1.1\r\nX-Bar: 2\r\nconnection: close, x-foo\r\n"
	  "Host: a\r\nX-Foo: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
	  "Trailer: X-Sum\r\nProxy-Connection: keep-alive\r\n"
	  "X-FOO: again\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 9, .host = "a",
	  .connection = HTTP_CONN_CLOSE | HTTP_CONN_OTHER,
	  .hop = "connection|X-Foo|Keep-Alive|TE|Trailer|Proxy-Connection|"
	  "X-FOO" },
	{ "Connection cannot drop framing or routing",
	  RAW("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
	  "Connection: content-length, Host, transfer-encoding\r\n\r\n"),
	  .method = HTTP_METHOD_POST, .method_name = "POST", .target = "/",
	  .minor = 1, .nheaders = 3, .cl = "2", .keep_alive = true,
	  .host = "a", .connection = HTTP_CONN_OTHER, .hop = "Connection",
	  .body = HTTP_BODY_LENGTH },
	{ "16 Connection options",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\nConnection: a,b,c,d,e,f,g,h,"
	  "i,j,k,l,m,n,o,p\r\nP: 1\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 3, .keep_alive = true, .host = "a",
	  .connection = HTTP_CONN_OTHER, .hop = "Connection|P" },
	{ "empty Connection elements",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\nConnection: , close ,\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 2, .host = "a",
	  .connection = HTTP_CONN_CLOSE, .hop = "Connection" },
	{ "HEAD", RAW("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_HEAD, .method_name = "HEAD", .target = "/h",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "DELETE", RAW("DELETE /d/1 HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_DELETE, .method_name = "DELETE",
	  .target = "/d/1", .minor = 1, .nheaders = 1, .keep_alive = true,
	  .host = "a" },
	{ "OPTIONS *", RAW("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_OPTIONS, .method_name = "OPTIONS",
	  .target = "*", .minor = 1, .nheaders = 1, .keep_alive = true,
	  .host = "a" },
	{ "PATCH", RAW("PATCH /p HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_PATCH, .method_name = "PATCH", .target = "/p",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "TRACE", RAW("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_TRACE, .method_name = "TRACE", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "CONNECT authority-form",
	  RAW("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
	  "\r\n"),
	  .method = HTTP_METHOD_CONNECT, .method_name = "CONNECT",
	  .target = "example.com:443", .minor = 1, .nheaders = 1,
	  .keep_alive = true, .host = "example.com:443" },
	{ "CONNECT to an IPv6 literal",
	  RAW("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"),
	  .method = HTTP_METHOD_CONNECT, .method_name = "CONNECT",
	  .target = "[::1]:8443", .minor = 1, .nheaders = 1,
	  .keep_alive = true, .host = "[::1]:8443" },
	{ "extension method", RAW("PURGE /c HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_OTHER, .method_name = "PURGE", .target = "/c",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "methods are case-sensitive",
	  RAW("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_OTHER, .method_name = "get", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "absolute-form",
	  RAW("GET http://example.com/x?y=1 HTTP/1.1\r\nHost: example.com\r\n"
	  "\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET",
	  .target = "http://example.com/x?y=1", .minor = 1, .nheaders = 1,
	  .keep_alive = true, .host = "example.com" },
	{ "empty lines before the request line",
	  RAW("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "values trimmed, HTAB and obs-text kept",
	  RAW("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v\ta\xe9l \t \r\nX-E:\r\n"
	  "X-S:   \r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 4, .keep_alive = true, .host = "a",
	  .fields = "Host=a|X-A=v\ta\xe9l|X-E=|X-S=" },
	{ "every token character in a name",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n"
	  "\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 2, .keep_alive = true, .host = "a",
	  .fields = "Host=a|!#$%&'*+-.^_`|~09azAZ=x" },
	{ "Host with IPv6 and port",
	  RAW("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true,
	  .host = "[2001:db8::1]:8080" },
	{ "empty Host",
	  RAW("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "" },
	{ "pipelined requests",
	  RAW("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n"
	  "Host: a\r\n\r\n"), .head = 28,
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/1",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "bytes after the head are not looked at",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\n\r\n\0\n\r\x01 \n\n"), .head = 27,
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "target with query and obs-text",
	  RAW("GET /caf\xc3\xa9?q=a%20b&r=[1]#f HTTP/1.1\r\nHost: a\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET",
	  .target = "/caf\xc3\xa9?q=a%20b&r=[1]#f", .minor = 1,
	  .nheaders = 1, .keep_alive = true, .host = "a" },
	{ "X-Forwarded fields",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n"
	  "x-forwarded-proto: http\r\nX-Forwarded-Host: b\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 4, .keep_alive = true, .host = "a" },
	{ "32 headers, the table's limit",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\n"
	  "A:1\r\nB:1\r\nC:1\r\nD:1\r\nE:1\r\nF:1\r\nG:1\r\nH:1\r\n"
	  "I:1\r\nJ:1\r\nK:1\r\nL:1\r\nM:1\r\nN:1\r\nO:1\r\nP:1\r\n"
	  "Q:1\r\nR:1\r\nS:1\r\nT:1\r\nU:1\r\nV:1\r\nW:1\r\nX:1\r\n"
	  "Y:1\r\nZ:1\r\nAA:1\r\nBB:1\r\nCC:1\r\nDD:1\r\nEE:1\r\n\r\n"),
	  .method = HTTP_METHOD_GET, .method_name = "GET", .target = "/",
	  .minor = 1, .nheaders = 32, .keep_alive = true, .host = "a" },
};

struct req_bad {
	const char	*name;
	const char	*raw;
	size_t		 rawlen;
	int		 status;
	const char	*reason;
};

#define H11	"GET / HTTP/1.1\r\nHost: a\r\n"
#define P11	"POST / HTTP/1.1\r\nHost: a\r\n"

static const struct req_bad req_bad[] = {
	/* Line ends, CR and LF. */
	{ "bare LF everywhere", RAW("GET / HTTP/1.1\nHost: a\n\n"),
	  400, "bare LF" },
	{ "bare LF after a field", RAW(H11 "X: a\n\r\n"), 400, "bare LF" },
	{ "bare LF ends the head", RAW(H11 "\n"), 400, "bare LF" },
	{ "bare LF before the request line", RAW("\nGET / HTTP/1.1\r\n"),
	  400, "bare LF" },
	{ "bare CR in a value", RAW(H11 "X: a\rb\r\n\r\n"), 400, "bare CR" },
	{ "CR CR LF", RAW(H11 "X: a\r\r\n\r\n"), 400, "bare CR" },
	{ "bare CR ends the head", RAW(H11 "\rX"), 400, "bare CR" },
	{ "bare CR before the request line", RAW("\rGET / HTTP/1.1\r\n"),
	  400, "bare CR" },
	{ "CR in the request target", RAW("GET /\r HTTP/1.1\r\n\r\n"),
	  400, "bad request line" },
	/* Control characters. */
	{ "NUL in the method", RAW("G\0T / HTTP/1.1\r\n"), 400, "bad method" },
	{ "NUL in the target", RAW("GET /a\0b HTTP/1.1\r\n"),
	  400, "bad request line" },
	{ "NUL in a name", RAW(H11 "X\0Y: a\r\n\r\n"), 400,
	  "bad header name" },
	{ "NUL in a value", RAW(H11 "X: a\0b\r\n\r\n"), 400,
	  "bad header value" },
	{ "control character in a value", RAW(H11 "X: a\x01\r\n\r\n"), 400,
	  "bad header value" },
	{ "DEL in a value", RAW(H11 "X: a\x7f\r\n\r\n"), 400,
	  "bad header value" },
	{ "ESC in the target", RAW("GET /\x1b HTTP/1.1\r\n"), 400,
	  "bad request line" },
	{ "HTAB in the request line", RAW("GET\t/ HTTP/1.1\r\n"), 400,
	  "bad method" },
	/* Field syntax. */
	{ "SP before the colon", RAW(H11 "X-A : a\r\n\r\n"), 400,
	  "whitespace before colon" },
	{ "HTAB before the colon", RAW(H11 "X-A\t: a\r\n\r\n"), 400,
	  "whitespace before colon" },
	{ "obsolete line folding", RAW(H11 "X: a\r\n b\r\n\r\n"), 400,
	  "obsolete line folding" },
	{ "folding with HTAB", RAW(H11 "X: a\r\n\tb\r\n\r\n"), 400,
	  "obsolete line folding" },
	{ "SP before the first field",
	  RAW("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400,
	  "obsolete line folding" },
	{ "empty field name", RAW(H11 ": a\r\n\r\n"), 400,
	  "empty header name" },
	{ "separator in a name", RAW(H11 "X(y): a\r\n\r\n"), 400,
	  "bad header name" },
	{ "'@' in a name", RAW(H11 "X@: a\r\n\r\n"), 400, "bad header name" },
	{ "obs-text in a name", RAW(H11 "X\xe9: a\r\n\r\n"), 400,
	  "bad header name" },
	{ "no colon", RAW(H11 "Xy\r\n\r\n"), 400, "bad header name" },
	/* Request line. */
	{ "separator in the method", RAW("GE(T / HTTP/1.1\r\n"), 400,
	  "bad method" },
	{ "empty method", RAW(" / HTTP/1.1\r\n"), 400, "bad method" },
	{ "TLS handshake", RAW("\x16\x03\x01\x02\x00\x01\x00\x01\xfc"), 400,
	  "bad method" },
	{ "two SP after the method", RAW("GET  / HTTP/1.1\r\n"), 400,
	  "bad request line" },
	{ "two SP after the target", RAW("GET /  HTTP/1.1\r\n"), 400,
	  "bad HTTP version" },
	{ "SP after the version", RAW("GET / HTTP/1.1 \r\n"), 400,
	  "bad request line" },
	{ "no version", RAW("GET /\r\nHost: a\r\n\r\n"), 400,
	  "bad request line" },
	{ "no target", RAW("GET HTTP/1.1\r\nHost: a\r\n\r\n"), 400,
	  "bad request line" },
	{ "SP in the target", RAW("GET /a b HTTP/1.1\r\n"), 400,
	  "bad HTTP version" },
	/* Versions. */
	{ "HTTP/2.0", RAW("GET / HTTP/2.0\r\n"), 505,
	  "HTTP version not supported" },
	{ "HTTP/0.9", RAW("GET / HTTP/0.9\r\n"), 505,
	  "HTTP version not supported" },
	{ "HTTP/1.2", RAW("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505,
	  "HTTP version not supported" },
	{ "HTTP/3", RAW("GET / HTTP/3\r\n"), 400, "bad HTTP version" },
	{ "lower-case http", RAW("GET / http/1.1\r\n"), 400,
	  "bad HTTP version" },
	{ "HTTP/1.10", RAW("GET / HTTP/1.10\r\n"), 400, "bad request line" },
	{ "HTTP/11.1", RAW("GET / HTTP/11.1\r\n"), 400, "bad HTTP version" },
	{ "not HTTP", RAW("GET / FOO/1.1\r\n"), 400, "bad HTTP version" },
	/* Targets. */
	{ "asterisk with GET", RAW("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400,
	  "bad request target" },
	{ "CONNECT with a path", RAW("CONNECT / HTTP/1.1\r\n"), 400,
	  "bad request target" },
	{ "CONNECT without a port", RAW("CONNECT example.com HTTP/1.1\r\n"),
	  400, "bad request target" },
	{ "CONNECT with userinfo", RAW("CONNECT u@h:1 HTTP/1.1\r\n"), 400,
	  "bad request target" },
	{ "no scheme", RAW("GET example.com/x HTTP/1.1\r\n"), 400,
	  "bad request target" },
	{ "scheme with a digit first", RAW("GET 1http://x/ HTTP/1.1\r\n"), 400,
	  "bad request target" },
	/* Host. */
	{ "missing Host", RAW("GET / HTTP/1.1\r\nX: a\r\n\r\n"), 400,
	  "missing Host" },
	{ "two Host fields", RAW(H11 "Host: a\r\n\r\n"), 400,
	  "duplicate Host" },
	{ "two Host fields in 1.0",
	  RAW("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400,
	  "duplicate Host" },
	{ "SP in Host", RAW("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400,
	  "bad Host" },
	{ "path in Host", RAW("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400,
	  "bad Host" },
	{ "userinfo in Host", RAW("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400,
	  "bad Host" },
	/* Content-Length. */
	{ "letters in Content-Length", RAW(P11 "Content-Length: abc\r\n\r\n"),
	  400, "bad Content-Length" },
	{ "negative Content-Length", RAW(P11 "Content-Length: -1\r\n\r\n"),
	  400, "bad Content-Length" },
	{ "signed Content-Length", RAW(P11 "Content-Length: +5\r\n\r\n"),
	  400, "bad Content-Length" },
	{ "hex Content-Length", RAW(P11 "Content-Length: 0x10\r\n\r\n"),
	  400, "bad Content-Length" },
	{ "SP inside Content-Length", RAW(P11 "Content-Length: 5 5\r\n\r\n"),
	  400, "bad Content-Length" },
	{ "empty Content-Length", RAW(P11 "Content-Length:\r\n\r\n"),
	  400, "bad Content-Length" },
	{ "empty Content-Length element",
	  RAW(P11 "Content-Length: 5,\r\n\r\n"), 400, "bad Content-Length" },
	{ "differing Content-Length list",
	  RAW(P11 "Content-Length: 5, 6\r\n\r\n"), 400,
	  "conflicting Content-Length" },
	{ "differing Content-Length lines",
	  RAW(P11 "Content-Length: 5\r\nContent-Length: 50\r\n\r\n"), 400,
	  "conflicting Content-Length" },
	{ "Content-Length over int64",
	  RAW(P11 "Content-Length: 9223372036854775808\r\n\r\n"), 400,
	  "Content-Length too large" },
	{ "Content-Length of 20 digits",
	  RAW(P11 "Content-Length: 99999999999999999999\r\n\r\n"), 400,
	  "Content-Length too large" },
	/* Transfer-Encoding. */
	{ "Content-Length and chunked",
	  RAW(P11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  400, "Content-Length with Transfer-Encoding" },
	{ "chunked and Content-Length",
	  RAW(P11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"),
	  400, "Content-Length with Transfer-Encoding" },
	{ "gzip, chunked", RAW(P11 "Transfer-Encoding: gzip, chunked\r\n\r\n"),
	  501, "unsupported Transfer-Encoding" },
	{ "unknown coding before chunked",
	  RAW(P11 "Transfer-Encoding: x-custom;p=1, chunked\r\n\r\n"),
	  501, "unsupported Transfer-Encoding" },
	{ "gzip then chunked on two lines",
	  RAW(P11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n"), 501, "unsupported Transfer-Encoding" },
	{ "chunked, gzip", RAW(P11 "Transfer-Encoding: chunked, gzip\r\n\r\n"),
	  400, "chunked is not the final coding" },
	{ "identity", RAW(P11 "Transfer-Encoding: identity\r\n\r\n"),
	  400, "chunked is not the final coding" },
	{ "gzip alone", RAW(P11 "Transfer-Encoding: gzip\r\n\r\n"),
	  400, "chunked is not the final coding" },
	{ "chunked twice", RAW(P11 "Transfer-Encoding: chunked, chunked\r\n"
	  "\r\n"), 400, "chunked is not the final coding" },
	{ "chunked on two lines",
	  RAW(P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n"), 400, "chunked is not the final coding" },
	{ "chunked with a parameter",
	  RAW(P11 "Transfer-Encoding: chunked;q=1\r\n\r\n"), 400,
	  "bad Transfer-Encoding" },
	{ "empty element before chunked",
	  RAW(P11 "Transfer-Encoding: , chunked\r\n\r\n"), 400,
	  "bad Transfer-Encoding" },
	{ "empty element after chunked",
	  RAW(P11 "Transfer-Encoding: chunked,\r\n\r\n"), 400,
	  "bad Transfer-Encoding" },
	{ "empty Transfer-Encoding", RAW(P11 "Transfer-Encoding:\r\n\r\n"),
	  400, "bad Transfer-Encoding" },
	{ "SP inside a coding", RAW(P11 "Transfer-Encoding: chun ked\r\n\r\n"),
	  400, "bad Transfer-Encoding" },
	{ "chunked in HTTP/1.0",
	  RAW("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
	  "Transfer-Encoding in HTTP/1.0" },
	/* Connection. */
	{ "SP inside a Connection option",
	  RAW(H11 "Connection: close foo\r\n\r\n"), 400, "bad Connection" },
	{ "17 Connection options",
	  RAW(H11 "Connection: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\r\n\r\n"),
	  400, "too many Connection options" },
	/* Limits of the tables: 32 headers. */
	{ "33 headers",
	  RAW("GET / HTTP/1.1\r\nHost: a\r\n"
	  "A:1\r\nB:1\r\nC:1\r\nD:1\r\nE:1\r\nF:1\r\nG:1\r\nH:1\r\n"
	  "I:1\r\nJ:1\r\nK:1\r\nL:1\r\nM:1\r\nN:1\r\nO:1\r\nP:1\r\n"
	  "Q:1\r\nR:1\r\nS:1\r\nT:1\r\nU:1\r\nV:1\r\nW:1\r\nX:1\r\n"
	  "Y:1\r\nZ:1\r\nAA:1\r\nBB:1\r\nCC:1\r\nDD:1\r\nEE:1\r\nFF:1\r\n"
	  "\r\n"), 431, "too many headers" },
};

static void
check_req(const struct req_ok *e, const char *buf, int rc,
    const struct http_request *r)
{
	size_t	head = e->head ? e->head : e->rawlen;

	ck_assert_msg(rc == (int)head, "%s: rc %d, want %zu (%s)", e->name,
	    rc, head, rc < 0 ? r->error : "");
	ck_assert_msg(r->method == e->method, "%s: method", e->name);
	ck_assert_msg(span_eq(buf, r->method_name, e->method_name),
	    "%s: method name", e->name);
	ck_assert_msg(span_eq(buf, r->target, e->target), "%s: target",
	    e->name);
	ck_assert_msg(r->minor == e->minor, "%s: minor", e->name);
	ck_assert_msg(r->nheaders == e->nheaders, "%s: nheaders %zu",
	    e->name, r->nheaders);
	ck_assert_msg(r->content_length == (e->cl ? strtoll(e->cl, NULL, 10) :
	    -1), "%s: content_length", e->name);
	ck_assert_msg(r->chunked == e->chunked, "%s: chunked", e->name);
	ck_assert_msg(r->keep_alive == e->keep_alive, "%s: keep_alive",
	    e->name);
	ck_assert_msg(r->expect_continue == e->expect_continue,
	    "%s: expect_continue", e->name);
	ck_assert_msg(r->upgrade == e->upgrade, "%s: upgrade", e->name);
	ck_assert_msg(r->has_host == (e->host != NULL), "%s: has_host",
	    e->name);
	if (e->host != NULL)
		ck_assert_msg(span_eq(buf, r->host, e->host), "%s: host",
		    e->name);
	ck_assert_msg(r->connection == e->connection, "%s: connection %#x",
	    e->name, r->connection);
	ck_assert_msg(http_request_body(r) == e->body, "%s: body framing",
	    e->name);
	check_fields(e->name, buf, r->headers, r->nheaders, e->fields, e->hop);
}

static int
parse_req(const char *raw, size_t len, size_t max_head,
    struct http_request *r, struct http_header *h, size_t max_headers)
{
	char	*buf;
	int	 rc;

	http_request_init(r, h, max_headers);
	buf = dup_exact(raw, len);
	rc = http_parse_request(buf, len, max_head, r);
	free(buf);
	return rc;
}

START_TEST(test_request_valid)
{
	const struct req_ok	*e = &req_ok[_i];
	struct http_header	 h[MAX_HEADERS];
	struct http_request	 r;
	size_t			 head = e->head ? e->head : e->rawlen, k;
	char			*buf;
	int			 rc;

	/* Whole, then each prefix on its own, with the exact length. */
	for (k = 0; k <= e->rawlen; k++) {
		http_request_init(&r, h, MAX_HEADERS);
		buf = dup_exact(e->raw, k);
		rc = http_parse_request(buf, k, MAX_HEAD, &r);
		if (k < head)
			ck_assert_msg(rc == HTTP_INCOMPLETE,
			    "%s: prefix %zu gave %d (%s)", e->name, k, rc,
			    rc < 0 ? r.error : "");
		else
			check_req(e, buf, rc, &r);
		free(buf);
	}
	/*
	 * Growing one byte at a time, resuming each time; the header array
	 * is scratch space between calls, so scribble on it.
	 */
	http_request_init(&r, h, MAX_HEADERS);
	for (k = 0; k <= e->rawlen; k++) {
		memset(h, 0xa5, sizeof(h));
		rc = http_parse_request(e->raw, k, MAX_HEAD, &r);
		if (k < head)
			ck_assert_msg(rc == HTTP_INCOMPLETE,
			    "%s: growing to %zu gave %d", e->name, k, rc);
		else {
			check_req(e, e->raw, rc, &r);
			break;
		}
	}
	/* Every two-piece split. */
	for (k = 0; k < head; k++) {
		http_request_init(&r, h, MAX_HEADERS);
		ck_assert_int_eq(http_parse_request(e->raw, k, MAX_HEAD, &r),
		    HTTP_INCOMPLETE);
		memset(h, 0x5a, sizeof(h));
		rc = http_parse_request(e->raw, e->rawlen, MAX_HEAD, &r);
		check_req(e, e->raw, rc, &r);
	}
}
END_TEST

static void
check_req_error(const struct req_bad *e, int rc, const struct http_request *r,
    const char *how, size_t k)
{
	ck_assert_msg(rc == -e->status, "%s: %s %zu: rc %d, want %d (%s)",
	    e->name, how, k, rc, -e->status, rc < 0 ? r->error : "");
	ck_assert_msg(r->error != NULL && strcmp(r->error, e->reason) == 0,
	    "%s: %s %zu: reason \"%s\", want \"%s\"", e->name, how, k,
	    r->error ? r->error : "(null)", e->reason);
}

START_TEST(test_request_invalid)
{
	const struct req_bad	*e = &req_bad[_i];
	struct http_header	 h[MAX_HEADERS];
	struct http_request	 r;
	size_t			 k, first = SIZE_MAX;
	int			 rc;

	rc = parse_req(e->raw, e->rawlen, MAX_HEAD, &r, h, MAX_HEADERS);
	check_req_error(e, rc, &r, "whole", e->rawlen);
	/* Each prefix: incomplete, or already the same error (and from
	 * then on). */
	for (k = 0; k <= e->rawlen; k++) {
		rc = parse_req(e->raw, k, MAX_HEAD, &r, h, MAX_HEADERS);
		if (rc == HTTP_INCOMPLETE) {
			ck_assert_msg(first == SIZE_MAX,
			    "%s: prefix %zu incomplete after an error",
			    e->name, k);
			continue;
		}
		if (first == SIZE_MAX)
			first = k;
		check_req_error(e, rc, &r, "prefix", k);
	}
	ck_assert_uint_ne(first, SIZE_MAX);
	/* Growing, with the hint: incomplete until some point, then the
	 * error. */
	http_request_init(&r, h, MAX_HEADERS);
	for (k = 0; k <= e->rawlen; k++) {
		rc = http_parse_request(e->raw, k, MAX_HEAD, &r);
		if (rc != HTTP_INCOMPLETE) {
			check_req_error(e, rc, &r, "growing", k);
			break;
		}
	}
	ck_assert_msg(k <= e->rawlen, "%s: growing never failed", e->name);
	/* Two pieces. */
	for (k = 0; k < first; k++) {
		http_request_init(&r, h, MAX_HEADERS);
		ck_assert_int_eq(http_parse_request(e->raw, k, MAX_HEAD, &r),
		    HTTP_INCOMPLETE);
		rc = http_parse_request(e->raw, e->rawlen, MAX_HEAD, &r);
		check_req_error(e, rc, &r, "split", k);
	}
}
END_TEST

/* Known names, in any case, and their kind and hop flag. */
START_TEST(test_field_kinds)
{
	static const struct {
		const char	*name;
		int		 kind;
		int		 hop;
	} k[] = {
		{ "hOST", HTTP_FIELD_HOST, 0 },
		{ "CONTENT-length", HTTP_FIELD_CONTENT_LENGTH, 0 },
		{ "Transfer-Encoding", HTTP_FIELD_TRANSFER_ENCODING, 0 },
		{ "Connection", HTTP_FIELD_CONNECTION, 1 },
		{ "keep-alive", HTTP_FIELD_KEEP_ALIVE, 1 },
		{ "Proxy-Connection", HTTP_FIELD_PROXY_CONNECTION, 1 },
		{ "te", HTTP_FIELD_TE, 1 },
		{ "UPGRADE", HTTP_FIELD_UPGRADE, 1 },
		{ "Trailer", HTTP_FIELD_TRAILER, 1 },
		{ "Expect", HTTP_FIELD_EXPECT, 0 },
		{ "X-Forwarded-For", HTTP_FIELD_X_FORWARDED_FOR, 0 },
		{ "X-FORWARDED-PROTO", HTTP_FIELD_X_FORWARDED_PROTO, 0 },
		{ "x-forwarded-host", HTTP_FIELD_X_FORWARDED_HOST, 0 },
		{ "User-Agent", HTTP_FIELD_USER_AGENT, 0 },
		{ "REFERER", HTTP_FIELD_REFERER, 0 },
		{ "x-request-ID", HTTP_FIELD_X_REQUEST_ID, 0 },
		{ "Hosts", HTTP_FIELD_OTHER, 0 },
		{ "Content-Lengths", HTTP_FIELD_OTHER, 0 },
		{ "T", HTTP_FIELD_OTHER, 0 },
	};
	struct http_header	 h[MAX_HEADERS];
	struct http_request	 r;
	char			 buf[1024];
	size_t			 i;
	int			 len, rc;

	len = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	for (i = 0; i < NELEM(k); i++) {
		/* Values valid for each field's own syntax. */
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
		    "%s: %s\r\n", k[i].name, i == 1 ? "0" : i == 2 ?
		    "chunked" : "x");
	}
	len += snprintf(buf + len, sizeof(buf) - (size_t)len, "\r\n");
	/* Content-Length with Transfer-Encoding is refused; drop it. */
	http_request_init(&r, h, MAX_HEADERS);
	rc = http_parse_request(buf, (size_t)len, MAX_HEAD, &r);
	ck_assert_int_eq(rc, -400);
	ck_assert_str_eq(r.error, "Content-Length with Transfer-Encoding");
	memcpy(strstr(buf, "CONTENT-length"), "X", 1);
	http_request_init(&r, h, MAX_HEADERS);
	rc = http_parse_request(buf, (size_t)len, MAX_HEAD, &r);
	ck_assert_int_eq(rc, len);
	ck_assert_uint_eq(r.nheaders, NELEM(k));
	for (i = 0; i < NELEM(k); i++) {
		ck_assert_int_eq(h[i].kind, i == 1 ? HTTP_FIELD_OTHER :
		    k[i].kind);
		ck_assert_int_eq(h[i].hop, k[i].hop);
	}
	ck_assert_int_eq(http_header_find(buf, h, r.nheaders, "expect", 6), 9);
	ck_assert_int_eq(http_header_find(buf, h, r.nheaders, "HOST", 4), 0);
	ck_assert_int_eq(http_header_find(buf, h, r.nheaders, "Via", 3), -1);
}
END_TEST

/*
 * Kind of the one field line `name: 0` of a response, parsed whole (a
 * response: no Host needed, and "0" suits every known field there).
 */
static int
kind_of(const char *name)
{
	struct http_header	 h[MAX_HEADERS];
	struct http_response	 r;
	char			 buf[256];
	int			 len;

	len = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n%s: 0\r\n\r\n",
	    name);
	http_response_init(&r, h, MAX_HEADERS);
	ck_assert_int_eq(http_parse_response(buf, (size_t)len, MAX_HEAD, &r),
	    len);
	ck_assert_uint_eq(r.nheaders, 1);
	return h[0].kind;
}

/*
 * Names are told apart by length and first letter, then compared a word
 * at a time: every known name in upper and in lower case is known, and
 * every one with a single byte changed (to a letter, a digit or another
 * tchar, case-folded or not), or one byte shorter or longer, is not.
 */
START_TEST(test_field_kind_near_misses)
{
	static const char *const known[] = { "te", "host", "expect",
	    "upgrade", "trailer", "referer", "connection", "keep-alive",
	    "user-agent", "x-request-id", "content-length",
	    "x-forwarded-for", "proxy-connection", "x-forwarded-host",
	    "transfer-encoding", "x-forwarded-proto" };
	static const char subst[] = "qz0_.~^`!-A";
	char name[32];
	size_t i, j, k, n;
	int kind;

	for (i = 0; i < NELEM(known); i++) {
		n = strlen(known[i]);
		kind = kind_of(known[i]);
		ck_assert_int_ne(kind, HTTP_FIELD_OTHER);
		for (j = 0; j <= n; j++)
			name[j] = (char)(known[i][j] & ~0x20 & 0xff);
		for (j = 0; j < n; j++)
			if (known[i][j] == '-')
				name[j] = '-';
		ck_assert_int_eq(kind_of(name), kind);
		for (j = 0; j < n; j++) {
			for (k = 0; k < sizeof(subst) - 1; k++) {
				memcpy(name, known[i], n + 1);
				if ((subst[k] | 0x20) == known[i][j])
					continue;	/* the same letter */
				name[j] = subst[k];
				ck_assert_msg(kind_of(name) == HTTP_FIELD_OTHER,
				    "%s taken for %s", name, known[i]);
			}
		}
		snprintf(name, sizeof(name), "%ss", known[i]);
		ck_assert_int_eq(kind_of(name), HTTP_FIELD_OTHER);
		snprintf(name, sizeof(name), "%.*s", (int)n - 1, known[i]);
		ck_assert_int_eq(kind_of(name), HTTP_FIELD_OTHER);
	}
}
END_TEST

/* The head-size and header-count limits, exactly at and one past. */
START_TEST(test_request_limits)
{
	static const char	 req[] = "GET /limits HTTP/1.1\r\nHost: a\r\n"
	    "X-1: a\r\nX-2: b\r\nX-3: c\r\n\r\nBODY";
	size_t			 head = sizeof(req) - 1 - 4, k;
	struct http_header	 h[4];
	struct http_request	 r;
	int			 rc;

	ck_assert_int_eq(parse_req(req, sizeof(req) - 1, head, &r, h, 4),
	    (int)head);
	ck_assert_int_eq(parse_req(req, head, head, &r, h, 4), (int)head);
	ck_assert_int_eq(parse_req(req, sizeof(req) - 1, head - 1, &r, h, 4),
	    -431);
	ck_assert_str_eq(r.error, "head too large");
	/* Over the limit and incomplete: answered without waiting. */
	for (k = 0; k <= head; k++) {
		rc = parse_req(req, k, head - 1, &r, h, 4);
		ck_assert_int_eq(rc, k < head - 1 ? HTTP_INCOMPLETE : -431);
	}
	/* A tiny limit inside the request line. */
	ck_assert_int_eq(parse_req(req, 10, 10, &r, h, 4), -431);
	ck_assert_int_eq(parse_req(req, 9, 10, &r, h, 4), HTTP_INCOMPLETE);
	/* An error within the limit is reported before the limit. */
	ck_assert_int_eq(parse_req("GET / HTTP/1.1\r\nX : a", 21, 20, &r, h,
	    4), -400);
	/* Header count. */
	ck_assert_int_eq(parse_req(req, sizeof(req) - 1, 1024, &r, h, 4),
	    (int)head);
	ck_assert_int_eq(parse_req(req, sizeof(req) - 1, 1024, &r, h, 3),
	    -431);
	ck_assert_str_eq(r.error, "too many headers");
	ck_assert_int_eq(parse_req(req, sizeof(req) - 1, 1024, &r, h, 0),
	    -431);
	/* Growing with the hint hits the size limit too. */
	http_request_init(&r, h, 4);
	for (k = 0; k < head - 1; k++)
		ck_assert_int_eq(http_parse_request(req, k, head - 1, &r),
		    HTTP_INCOMPLETE);
	ck_assert_int_eq(http_parse_request(req, head - 1, head - 1, &r),
	    -431);
}
END_TEST

/*
 * Long values and targets are checked 16 bytes at a time: every byte
 * value at every position of a 40-byte value, reason or target must get
 * the verdict of the class table.
 */
START_TEST(test_long_text)
{
	struct http_header	 h[4];
	struct http_request	 r;
	struct http_response	 s;
	char			 buf[128];
	size_t			 i, n;
	int			 c, rc, want;

	for (i = 0; i < 40; i++) {
		for (c = 0; c < 256; c++) {
			/* A field value. */
			n = (size_t)snprintf(buf, sizeof(buf),
			    "GET / HTTP/1.1\r\nHost: a\r\nX: %040d\r\n\r\n", 0);
			buf[28 + i] = (char)c;
			rc = parse_req(buf, n, MAX_HEAD, &r, h, 4);
			want = (c >= 0x20 && c != 0x7f) || c == '\t' ?
			    (int)n : -400;
			ck_assert_msg(rc == want, "value byte %#x at %zu: %d",
			    c, i, rc);
			/* SP or HTAB at either end is trimmed. */
			if (rc > 0)
				ck_assert_uint_eq(h[1].value.len,
				    (i == 0 || i == 39) &&
				    (c == ' ' || c == '\t') ? 39 : 40);
			/* A request target. */
			n = (size_t)snprintf(buf, sizeof(buf),
			    "GET /%040d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
			buf[5 + i] = (char)c;
			rc = parse_req(buf, n, MAX_HEAD, &r, h, 4);
			ck_assert_msg((rc > 0) == (c > 0x20 && c != 0x7f),
			    "target byte %#x at %zu: %d", c, i, rc);
			/* A reason phrase. */
			n = (size_t)snprintf(buf, sizeof(buf),
			    "HTTP/1.1 200 %040d\r\n\r\n", 0);
			buf[13 + i] = (char)c;
			http_response_init(&s, h, 4);
			rc = http_parse_response(buf, n, MAX_HEAD, &s);
			want = (c >= 0x20 && c != 0x7f) || c == '\t' ?
			    (int)n : -502;
			ck_assert_msg(rc == want, "reason byte %#x at %zu: %d",
			    c, i, rc);
		}
	}
}
END_TEST

/*
 * Resuming: a head given back with fewer bytes starts over; heads of two
 * connections may take turns on one header array; and a huge head fed one
 * byte at a time finishes in linear time (a parser that rescanned from
 * the start would take minutes here and time out).
 */
START_TEST(test_request_resume)
{
	static const char	 req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char	 put[] = "PUT /p HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char	 req2[] = "GET / HTTP/1.1\r\n"
	    "X-Long-Name:  first value \r\nConnection: x-long-name\r\n"
	    "Host: b\r\n\r\n";
	struct http_header	 h[4];
	struct http_request	 r, r2;
	char			*big;
	size_t			 n = 1 << 20, k;

	http_request_init(&r, h, 4);
	ck_assert_int_eq(http_parse_request(req, 20, 100, &r),
	    HTTP_INCOMPLETE);
	/* Fewer bytes: another head, parsed from its start. */
	ck_assert_int_eq(http_parse_request(put, 5, 100, &r),
	    HTTP_INCOMPLETE);
	ck_assert_int_eq(http_parse_request(put, sizeof(put) - 1, 100, &r),
	    (int)sizeof(put) - 1);
	ck_assert_int_eq(r.method, HTTP_METHOD_PUT);
	ck_assert(span_eq(put, r.target, "/p"));

	/* Two connections' heads in turn on one header array. */
	http_request_init(&r, h, 4);
	http_request_init(&r2, h, 4);
	ck_assert_int_eq(http_parse_request(req2, 40, 100, &r),
	    HTTP_INCOMPLETE);
	ck_assert_int_eq(http_parse_request(put, sizeof(put) - 1, 100, &r2),
	    (int)sizeof(put) - 1);
	ck_assert_int_eq(http_parse_request(req2, sizeof(req2) - 1, 100, &r),
	    (int)sizeof(req2) - 1);
	ck_assert_uint_eq(r.nheaders, 3);
	ck_assert(span_eq(req2, h[0].name, "X-Long-Name"));
	ck_assert(span_eq(req2, h[0].value, "first value"));
	ck_assert(span_eq(req2, h[1].name, "Connection"));
	ck_assert_int_eq(h[1].kind, HTTP_FIELD_CONNECTION);
	ck_assert(span_eq(req2, h[2].name, "Host"));
	ck_assert_int_eq(h[0].hop, 1);
	ck_assert(span_eq(req2, r.host, "b"));

	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
	memset(big + 28, 'v', n - 28);
	memcpy(big + n - 4, "\r\n\r\n", 4);
	http_request_init(&r, h, 4);
	for (k = 0; k < n; k++)
		if (http_parse_request(big, k, n, &r) != HTTP_INCOMPLETE)
			break;
	ck_assert_uint_eq(k, n);
	ck_assert_int_eq(http_parse_request(big, n, n, &r), (int)n);
	ck_assert_uint_eq(h[1].value.len, n - 32);
	free(big);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Responses                                                           */

struct resp_ok {
	const char		*name;
	const char		*raw;
	size_t			 rawlen;
	size_t			 head;		/* 0: the whole raw */
	int			 status;
	const char		*reason;
	int			 minor;
	size_t			 nheaders;
	const char		*cl;
	bool			 te;
	bool			 chunked;
	bool			 keep_alive;
	enum http_method	 method;	/* of the request */
	enum http_body		 body;
	const char		*hop;
};

static const struct resp_ok resp_ok[] = {
	{ "200 with Content-Length",
	  RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), .head = 38,
	  .status = 200, .reason = "OK", .minor = 1, .nheaders = 1,
	  .cl = "5", .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_LENGTH },
	{ "HTTP/1.0 until close", RAW("HTTP/1.0 200 OK\r\nServer: x\r\n\r\n"),
	  .status = 200, .reason = "OK", .nheaders = 1,
	  .method = HTTP_METHOD_GET, .body = HTTP_BODY_CLOSE },
	{ "HTTP/1.0 keep-alive",
	  RAW("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	  "Content-Length: 0\r\n\r\n"),
	  .status = 200, .reason = "OK", .nheaders = 2, .cl = "0",
	  .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_NONE, .hop = "Connection" },
	{ "chunked", RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n"), .status = 200, .reason = "OK", .minor = 1, .nheaders = 1,
	  .te = true, .chunked = true, .keep_alive = true,
	  .method = HTTP_METHOD_POST, .body = HTTP_BODY_CHUNKED },
	{ "gzip, chunked", RAW("HTTP/1.1 200 OK\r\n"
	  "Transfer-Encoding: gzip, chunked\r\n\r\n"), .status = 200,
	  .reason = "OK", .minor = 1, .nheaders = 1, .te = true,
	  .chunked = true, .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_CHUNKED },
	{ "gzip alone reads until close", RAW("HTTP/1.1 200 OK\r\n"
	  "Transfer-Encoding: gzip\r\n\r\n"), .status = 200, .reason = "OK",
	  .minor = 1, .nheaders = 1, .te = true, .keep_alive = true,
	  .method = HTTP_METHOD_GET, .body = HTTP_BODY_CLOSE },
	{ "chunked in HTTP/1.0 reads until close", RAW("HTTP/1.0 200 OK\r\n"
	  "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"),
	  .status = 200, .reason = "OK", .nheaders = 2, .te = true,
	  .method = HTTP_METHOD_GET, .body = HTTP_BODY_CLOSE,
	  .hop = "Connection" },
	{ "204", RAW("HTTP/1.1 204 No Content\r\n\r\n"), .status = 204,
	  .reason = "No Content", .minor = 1, .keep_alive = true,
	  .method = HTTP_METHOD_DELETE, .body = HTTP_BODY_NONE },
	{ "304 with Content-Length", RAW("HTTP/1.1 304 Not Modified\r\n"
	  "Content-Length: 100\r\n\r\n"), .status = 304,
	  .reason = "Not Modified", .minor = 1, .nheaders = 1, .cl = "100",
	  .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_NONE },
	{ "HEAD with Content-Length", RAW("HTTP/1.1 200 OK\r\n"
	  "Content-Length: 100\r\n\r\n"), .status = 200, .reason = "OK",
	  .minor = 1, .nheaders = 1, .cl = "100", .keep_alive = true,
	  .method = HTTP_METHOD_HEAD, .body = HTTP_BODY_NONE },
	{ "HEAD with chunked", RAW("HTTP/1.1 200 OK\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n"), .status = 200, .reason = "OK",
	  .minor = 1, .nheaders = 1, .te = true, .chunked = true,
	  .keep_alive = true, .method = HTTP_METHOD_HEAD,
	  .body = HTTP_BODY_NONE },
	{ "100 Continue", RAW("HTTP/1.1 100 Continue\r\n\r\n"),
	  .status = 100, .reason = "Continue", .minor = 1, .keep_alive = true,
	  .method = HTTP_METHOD_PUT, .body = HTTP_BODY_NONE },
	{ "101 Switching Protocols", RAW("HTTP/1.1 101 Switching Protocols\r\n"
	  "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"),
	  .status = 101, .reason = "Switching Protocols", .minor = 1,
	  .nheaders = 2, .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_TUNNEL, .hop = "Upgrade|Connection" },
	{ "200 to CONNECT", RAW("HTTP/1.1 200 Connection established\r\n\r\n"),
	  .status = 200, .reason = "Connection established", .minor = 1,
	  .keep_alive = true, .method = HTTP_METHOD_CONNECT,
	  .body = HTTP_BODY_TUNNEL },
	{ "407 to CONNECT", RAW("HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n"
	  "\r\n"), .status = 407, .reason = "Auth", .minor = 1, .nheaders = 1,
	  .cl = "2", .keep_alive = true, .method = HTTP_METHOD_CONNECT,
	  .body = HTTP_BODY_LENGTH },
	{ "no reason, no SP", RAW("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
	  .status = 200, .reason = "", .minor = 1, .nheaders = 1, .cl = "0",
	  .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_NONE },
	{ "empty reason", RAW("HTTP/1.1 404 \r\n\r\n"), .status = 404,
	  .reason = "", .minor = 1, .keep_alive = true,
	  .method = HTTP_METHOD_GET, .body = HTTP_BODY_CLOSE },
	{ "reason with HTAB and obs-text",
	  RAW("HTTP/1.1 599 Tr\xe8s\tbad  \r\nConnection: close\r\n\r\n"),
	  .status = 599, .reason = "Tr\xe8s\tbad  ", .minor = 1,
	  .nheaders = 1, .method = HTTP_METHOD_GET, .body = HTTP_BODY_CLOSE,
	  .hop = "Connection" },
	{ "Connection option in a response", RAW("HTTP/1.1 200 OK\r\n"
	  "Connection: X-Internal\r\nX-Internal: 1\r\nContent-Length: 1\r\n"
	  "\r\n"), .status = 200, .reason = "OK", .minor = 1, .nheaders = 3,
	  .cl = "1", .keep_alive = true, .method = HTTP_METHOD_GET,
	  .body = HTTP_BODY_LENGTH, .hop = "Connection|X-Internal" },
	{ "identical Content-Length", RAW("HTTP/1.1 200 OK\r\n"
	  "Content-Length: 4, 4\r\n\r\n"), .status = 200, .reason = "OK",
	  .minor = 1, .nheaders = 1, .cl = "4", .keep_alive = true,
	  .method = HTTP_METHOD_GET, .body = HTTP_BODY_LENGTH },
};

struct resp_bad {
	const char	*name;
	const char	*raw;
	size_t		 rawlen;
	const char	*reason;
};

#define R200	"HTTP/1.1 200 OK\r\n"

static const struct resp_bad resp_bad[] = {
	{ "two-digit status", RAW("HTTP/1.1 20 OK\r\n\r\n"),
	  "bad status code" },
	{ "four-digit status", RAW("HTTP/1.1 2000 OK\r\n\r\n"),
	  "bad status line" },
	{ "status 099", RAW("HTTP/1.1 099 X\r\n\r\n"), "bad status code" },
	{ "status 600", RAW("HTTP/1.1 600 X\r\n\r\n"), "bad status code" },
	{ "letters in status", RAW("HTTP/1.1 2x0 OK\r\n\r\n"),
	  "bad status code" },
	{ "HTTP/2.0", RAW("HTTP/2.0 200 OK\r\n\r\n"),
	  "HTTP version not supported" },
	{ "HTTP/1.2", RAW("HTTP/1.2 200 OK\r\n\r\n"),
	  "HTTP version not supported" },
	{ "ICY", RAW("ICY 200 OK\r\n\r\n"), "bad HTTP version" },
	{ "two SP before the status", RAW("HTTP/1.1  200 OK\r\n\r\n"),
	  "bad status code" },
	{ "no SP before the status", RAW("HTTP/1.1200 OK\r\n\r\n"),
	  "bad status line" },
	{ "bare LF", RAW("HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
	  "bare LF" },
	{ "bare LF ends the head", RAW(R200 "Server: x\r\n\n"), "bare LF" },
	{ "bare CR", RAW(R200 "Server: x\ry\r\n\r\n"), "bare CR" },
	{ "NUL in the reason", RAW("HTTP/1.1 200 O\0K\r\n\r\n"),
	  "bad status line" },
	{ "control in the reason", RAW("HTTP/1.1 200 O\x01K\r\n\r\n"),
	  "bad status line" },
	{ "NUL in a value", RAW(R200 "Server: a\0\r\n\r\n"),
	  "bad header value" },
	{ "obsolete line folding", RAW(R200 "Server: a\r\n b\r\n\r\n"),
	  "obsolete line folding" },
	{ "SP before the colon", RAW(R200 "Server : a\r\n\r\n"),
	  "whitespace before colon" },
	{ "empty field name", RAW(R200 ": a\r\n\r\n"), "empty header name" },
	{ "Content-Length and chunked", RAW(R200 "Content-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n"),
	  "Content-Length with Transfer-Encoding" },
	{ "differing Content-Length", RAW(R200 "Content-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n"), "conflicting Content-Length" },
	{ "bad Content-Length", RAW(R200 "Content-Length: 5a\r\n\r\n"),
	  "bad Content-Length" },
	{ "chunked, gzip", RAW(R200 "Transfer-Encoding: chunked, gzip\r\n"
	  "\r\n"), "chunked is not the final coding" },
	{ "chunked twice", RAW(R200 "Transfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n"), "chunked applied twice" },
	{ "empty coding", RAW(R200 "Transfer-Encoding: chunked, \r\n\r\n"),
	  "bad Transfer-Encoding" },
	{ "too many headers", RAW(R200
	  "A:1\r\nB:1\r\nC:1\r\nD:1\r\nE:1\r\nF:1\r\nG:1\r\nH:1\r\n"
	  "I:1\r\nJ:1\r\nK:1\r\nL:1\r\nM:1\r\nN:1\r\nO:1\r\nP:1\r\n"
	  "Q:1\r\nR:1\r\nS:1\r\nT:1\r\nU:1\r\nV:1\r\nW:1\r\nX:1\r\n"
	  "Y:1\r\nZ:1\r\nAA:1\r\nBB:1\r\nCC:1\r\nDD:1\r\nEE:1\r\nFF:1\r\n"
	  "GG:1\r\n\r\n"), "too many headers" },
};

static void
check_resp(const struct resp_ok *e, const char *buf, int rc,
    const struct http_response *r)
{
	size_t	head = e->head ? e->head : e->rawlen;

	ck_assert_msg(rc == (int)head, "%s: rc %d, want %zu (%s)", e->name,
	    rc, head, rc < 0 ? r->error : "");
	ck_assert_msg(r->status == e->status, "%s: status", e->name);
	ck_assert_msg(span_eq(buf, r->reason, e->reason), "%s: reason",
	    e->name);
	ck_assert_msg(r->minor == e->minor, "%s: minor", e->name);
	ck_assert_msg(r->nheaders == e->nheaders, "%s: nheaders", e->name);
	ck_assert_msg(r->content_length == (e->cl ? strtoll(e->cl, NULL, 10) :
	    -1), "%s: content_length", e->name);
	ck_assert_msg(r->transfer_encoding == e->te, "%s: te", e->name);
	ck_assert_msg(r->chunked == e->chunked, "%s: chunked", e->name);
	ck_assert_msg(r->keep_alive == e->keep_alive, "%s: keep_alive",
	    e->name);
	ck_assert_msg(http_response_body(r, e->method) == e->body,
	    "%s: body framing %d", e->name, http_response_body(r, e->method));
	check_fields(e->name, buf, r->headers, r->nheaders, NULL, e->hop);
}

START_TEST(test_response_valid)
{
	const struct resp_ok	*e = &resp_ok[_i];
	struct http_header	 h[MAX_HEADERS];
	struct http_response	 r;
	size_t			 head = e->head ? e->head : e->rawlen, k;
	char			*buf;
	int			 rc;

	for (k = 0; k <= e->rawlen; k++) {
		http_response_init(&r, h, MAX_HEADERS);
		buf = dup_exact(e->raw, k);
		rc = http_parse_response(buf, k, MAX_HEAD, &r);
		if (k < head)
			ck_assert_msg(rc == HTTP_INCOMPLETE,
			    "%s: prefix %zu gave %d", e->name, k, rc);
		else
			check_resp(e, buf, rc, &r);
		free(buf);
	}
	http_response_init(&r, h, MAX_HEADERS);
	for (k = 0; k <= head; k++) {
		memset(h, 0xa5, sizeof(h));
		rc = http_parse_response(e->raw, k, MAX_HEAD, &r);
		if (k < head)
			ck_assert_int_eq(rc, HTTP_INCOMPLETE);
		else
			check_resp(e, e->raw, rc, &r);
	}
	for (k = 0; k < head; k++) {
		http_response_init(&r, h, MAX_HEADERS);
		ck_assert_int_eq(http_parse_response(e->raw, k, MAX_HEAD, &r),
		    HTTP_INCOMPLETE);
		memset(h, 0x5a, sizeof(h));
		rc = http_parse_response(e->raw, e->rawlen, MAX_HEAD, &r);
		check_resp(e, e->raw, rc, &r);
	}
}
END_TEST

static void
check_resp_error(const struct resp_bad *e, int rc,
    const struct http_response *r, const char *how, size_t k)
{
	ck_assert_msg(rc == -502, "%s: %s %zu: rc %d (%s)", e->name, how, k,
	    rc, rc < 0 ? r->error : "");
	ck_assert_msg(strcmp(r->error, e->reason) == 0,
	    "%s: %s %zu: reason \"%s\", want \"%s\"", e->name, how, k,
	    r->error, e->reason);
}

START_TEST(test_response_invalid)
{
	const struct resp_bad	*e = &resp_bad[_i];
	struct http_header	 h[MAX_HEADERS];
	struct http_response	 r;
	size_t			 k, first = SIZE_MAX;
	char			*buf;
	int			 rc;

	for (k = 0; k <= e->rawlen; k++) {
		http_response_init(&r, h, MAX_HEADERS);
		buf = dup_exact(e->raw, k);
		rc = http_parse_response(buf, k, MAX_HEAD, &r);
		free(buf);
		if (rc == HTTP_INCOMPLETE) {
			ck_assert_msg(first == SIZE_MAX,
			    "%s: prefix %zu incomplete after an error",
			    e->name, k);
			continue;
		}
		if (first == SIZE_MAX)
			first = k;
		check_resp_error(e, rc, &r, "prefix", k);
	}
	ck_assert_msg(first != SIZE_MAX, "%s: never failed", e->name);
	http_response_init(&r, h, MAX_HEADERS);
	for (k = 0; k <= e->rawlen; k++) {
		rc = http_parse_response(e->raw, k, MAX_HEAD, &r);
		if (rc != HTTP_INCOMPLETE) {
			check_resp_error(e, rc, &r, "growing", k);
			break;
		}
	}
	ck_assert_uint_le(k, e->rawlen);
	for (k = 0; k < first; k++) {
		http_response_init(&r, h, MAX_HEADERS);
		ck_assert_int_eq(http_parse_response(e->raw, k, MAX_HEAD, &r),
		    HTTP_INCOMPLETE);
		rc = http_parse_response(e->raw, e->rawlen, MAX_HEAD, &r);
		check_resp_error(e, rc, &r, "split", k);
	}
}
END_TEST

START_TEST(test_response_limits)
{
	static const char	 resp[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n"
	    "\r\n";
	size_t			 len = sizeof(resp) - 1;
	struct http_header	 h[2];
	struct http_response	 r;

	http_response_init(&r, h, 2);
	ck_assert_int_eq(http_parse_response(resp, len, len, &r), (int)len);
	http_response_init(&r, h, 2);
	ck_assert_int_eq(http_parse_response(resp, len, len - 1, &r), -502);
	ck_assert_str_eq(r.error, "head too large");
	http_response_init(&r, h, 1);
	ck_assert_int_eq(http_parse_response(resp, len, len, &r), -502);
	ck_assert_str_eq(r.error, "too many headers");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Chunked bodies                                                      */

struct chunk_ok {
	const char	*name;
	const char	*raw;
	size_t		 rawlen;
	size_t		 body;		/* 0: the whole raw */
};

static const struct chunk_ok chunk_ok[] = {
	{ "empty body", RAW("0\r\n\r\n") },
	{ "one chunk", RAW("5\r\nhello\r\n0\r\n\r\n") },
	{ "many chunks", RAW("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n10\r\n"
	  "0123456789abcdef\r\n0\r\n\r\n") },
	{ "hex digits in both cases", RAW("A\r\n0123456789\r\na\r\n"
	  "0123456789\r\nFf\r\n"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
	  "\r\n0\r\n\r\n") },
	{ "leading zeros", RAW("0005\r\nhello\r\n000\r\n\r\n") },
	{ "16 digits", RAW("000000000000000f\r\n0123456789abcde\r\n"
	  "0000000000000000\r\n\r\n") },
	{ "data that looks like framing",
	  RAW("7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n") },
	{ "binary data", RAW("4\r\n\0\n\r\xff\r\n0\r\n\r\n") },
	{ "extensions", RAW("5;name=val\r\nhello\r\n0;last\r\n\r\n") },
	{ "quoted extension", RAW("5;a=\"x y\\\"z\\\\\t\"\r\nhello\r\n"
	  "0;q=\"\"\r\n\r\n") },
	{ "extension with BWS", RAW("5 ;\ta = b ; c\t=\t\"d\" ;e\r\nhello\r\n"
	  "0\t;f\r\n\r\n") },
	{ "many extensions", RAW("5;a;b=c;d=\"\";!#$%&'*+-.^_`|~=x\r\nhello"
	  "\r\n0\r\n\r\n") },
	{ "extension name then BWS then value",
	  RAW("1;a =b\r\nx\r\n0\r\n\r\n") },
	{ "trailers", RAW("3\r\nabc\r\n0\r\nX-Sum: abc\r\nY:\r\n"
	  "Z: \tv a\xe9\t\r\n\r\n") },
	{ "next message follows",
	  RAW("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), .body = 13 },
	{ "zero-length chunk data and extension on last chunk",
	  RAW("0;ext=\"v\"\r\nT: 1\r\n\r\n") },
};

struct chunk_bad {
	const char	*name;
	const char	*raw;
	size_t		 rawlen;
	size_t		 at;		/* offset of the offending byte */
	int		 status;
	const char	*reason;
};

static const struct chunk_bad chunk_bad[] = {
	{ "bad hex digit", RAW("g\r\n"), 0, 400, "bad chunk size" },
	{ "empty size", RAW("\r\n"), 0, 400, "bad chunk size" },
	{ "SP before the size", RAW(" 5\r\n"), 0, 400, "bad chunk size" },
	{ "negative size", RAW("-5\r\n"), 0, 400, "bad chunk size" },
	{ "0x prefix", RAW("0x5\r\n"), 1, 400, "bad chunk size" },
	{ "hex then garbage", RAW("5g\r\n"), 1, 400, "bad chunk size" },
	{ "17 digits", RAW("00000000000000001\r\n"), 16, 400,
	  "chunk size too long" },
	{ "over INT64_MAX", RAW("8000000000000000\r\n"), 15, 400,
	  "chunk size too large" },
	{ "bare LF after the size", RAW("5\nhello\r\n"), 1, 400, "bare LF" },
	{ "bare CR after the size", RAW("5\rhello\r\n"), 2, 400, "bare CR" },
	{ "CR CR LF after the size", RAW("5\r\r\n"), 2, 400, "bare CR" },
	{ "data too long", RAW("5\r\nhelloX\r\n0\r\n\r\n"), 8, 400,
	  "missing CRLF after chunk data" },
	{ "data too short", RAW("5\r\nhel\r\n0\r\n\r\n"), 8, 400,
	  "missing CRLF after chunk data" },
	{ "bare LF after data", RAW("5\r\nhello\n0\r\n\r\n"), 8, 400,
	  "bare LF" },
	{ "bare CR after data", RAW("5\r\nhello\rX"), 9, 400, "bare CR" },
	{ "BWS before CRLF", RAW("5 \r\nhello\r\n"), 2, 400,
	  "bad chunk extension" },
	{ "empty extension name", RAW("5;\r\n"), 2, 400,
	  "bad chunk extension" },
	{ "empty extension value", RAW("5;a=\r\n"), 4, 400,
	  "bad chunk extension" },
	{ "BWS after a name without '='", RAW("5;a \r\n"), 4, 400,
	  "bad chunk extension" },
	{ "two names", RAW("5;a b\r\n"), 4, 400, "bad chunk extension" },
	{ "unterminated quote", RAW("5;a=\"x\r\n"), 6, 400,
	  "bad chunk extension" },
	{ "control character in an extension", RAW("5;a=b\x01\r\n"), 5, 400,
	  "bad chunk extension" },
	{ "NUL in an extension name", RAW("5;a\0\r\n"), 3, 400,
	  "bad chunk extension" },
	{ "DEL in a quoted value", RAW("5;a=\"\x7f\"\r\n"), 5, 400,
	  "bad chunk extension" },
	{ "control after backslash", RAW("5;a=\"\\\x01\"\r\n"), 6, 400,
	  "bad chunk extension" },
	{ "separator in a value", RAW("5;a=b/c\r\n"), 5, 400,
	  "bad chunk extension" },
	{ "text after a quoted value", RAW("5;a=\"b\"c\r\n"), 7, 400,
	  "bad chunk extension" },
	{ "bare LF in an extension", RAW("5;a=b\n"), 5, 400, "bare LF" },
	{ "bare LF ends the body", RAW("0\r\n\n"), 3, 400, "bare LF" },
	{ "bare CR ends the body", RAW("0\r\n\rX"), 4, 400, "bare CR" },
	{ "trailer: SP before the colon", RAW("0\r\nX : a\r\n\r\n"), 4, 400,
	  "whitespace before colon" },
	{ "trailer: folding", RAW("0\r\nX: a\r\n b\r\n\r\n"), 9, 400,
	  "obsolete line folding" },
	{ "trailer: empty name", RAW("0\r\n: a\r\n\r\n"), 3, 400,
	  "empty trailer name" },
	{ "trailer: no colon", RAW("0\r\nX\r\n\r\n"), 4, 400,
	  "bad trailer name" },
	{ "trailer: bare LF", RAW("0\r\nX: a\nY: b\r\n\r\n"), 7, 400,
	  "bare LF" },
	{ "trailer: control in a value", RAW("0\r\nX: \x01\r\n\r\n"), 6, 400,
	  "bad trailer value" },
	{ "trailer: bare CR", RAW("0\r\nX: a\r\r\n\r\n"), 8, 400, "bare CR" },
	{ "trailer: obs-text in a name", RAW("0\r\nX\xe9: a\r\n\r\n"), 4, 400,
	  "bad trailer name" },
};

/*
 * Feeds raw[0..len) in two pieces, cut at `cut`, each in a block of its
 * exact length; *total is what was consumed in all.
 */
static int
feed_split(struct http_chunked *c, const char *raw, size_t len, size_t cut,
    size_t *total)
{
	size_t	 bounds[3] = { 0, cut, len }, used, i;
	char	*piece;
	int	 rc = HTTP_INCOMPLETE;

	*total = 0;
	for (i = 0; i < 2; i++) {
		piece = dup_exact(raw + bounds[i], bounds[i + 1] - bounds[i]);
		rc = http_chunked_feed(c, piece, bounds[i + 1] - bounds[i],
		    &used);
		free(piece);
		*total += used;
		if (rc != HTTP_INCOMPLETE)
			return rc;
		ck_assert_uint_eq(used, bounds[i + 1] - bounds[i]);
	}
	return rc;
}

START_TEST(test_chunked_valid)
{
	const struct chunk_ok	*e = &chunk_ok[_i];
	size_t			 body = e->body ? e->body : e->rawlen;
	size_t			 k, total, used;
	struct http_chunked	 c;
	int			 rc;

	/* Whole. */
	http_chunked_init(&c);
	rc = feed_split(&c, e->raw, e->rawlen, 0, &total);
	ck_assert_msg(rc == HTTP_CHUNKED_DONE, "%s: rc %d (%s)", e->name, rc,
	    c.error ? c.error : "");
	ck_assert_uint_eq(total, body);
	/* Done is sticky and consumes nothing. */
	ck_assert_int_eq(http_chunked_feed(&c, "5\r\n", 3, &used),
	    HTTP_CHUNKED_DONE);
	ck_assert_uint_eq(used, 0);
	/* One byte at a time. */
	http_chunked_init(&c);
	for (k = 0; k < body; k++) {
		rc = http_chunked_feed(&c, e->raw + k, 1, &used);
		ck_assert_uint_eq(used, 1);
		ck_assert_msg(rc == (k + 1 < body ? HTTP_INCOMPLETE :
		    HTTP_CHUNKED_DONE), "%s: byte %zu gave %d (%s)", e->name,
		    k, rc, c.error ? c.error : "");
	}
	/* Every two-piece split, and every prefix alone. */
	for (k = 0; k <= e->rawlen; k++) {
		http_chunked_init(&c);
		rc = feed_split(&c, e->raw, e->rawlen, k, &total);
		ck_assert_msg(rc == HTTP_CHUNKED_DONE && total == body,
		    "%s: split at %zu", e->name, k);
		http_chunked_init(&c);
		rc = feed_split(&c, e->raw, k, 0, &total);
		ck_assert_int_eq(rc, k < body ? HTTP_INCOMPLETE :
		    HTTP_CHUNKED_DONE);
		ck_assert_uint_eq(total, k < body ? k : body);
	}
}
END_TEST

static void
check_chunk_error(const struct chunk_bad *e, int rc,
    const struct http_chunked *c, size_t total, const char *how, size_t k)
{
	ck_assert_msg(rc == -e->status, "%s: %s %zu: rc %d", e->name, how, k,
	    rc);
	ck_assert_msg(strcmp(c->error, e->reason) == 0,
	    "%s: %s %zu: reason \"%s\"", e->name, how, k, c->error);
	ck_assert_msg(total == e->at, "%s: %s %zu: fault at %zu, want %zu",
	    e->name, how, k, total, e->at);
}

START_TEST(test_chunked_invalid)
{
	const struct chunk_bad	*e = &chunk_bad[_i];
	size_t			 k, total, used;
	struct http_chunked	 c;
	int			 rc;

	http_chunked_init(&c);
	rc = feed_split(&c, e->raw, e->rawlen, 0, &total);
	check_chunk_error(e, rc, &c, total, "whole", 0);
	/* Failed is sticky. */
	ck_assert_int_eq(http_chunked_feed(&c, "0\r\n\r\n", 5, &used),
	    -e->status);
	ck_assert_uint_eq(used, 0);
	/* One byte at a time. */
	http_chunked_init(&c);
	for (k = 0; k < e->rawlen; k++) {
		rc = http_chunked_feed(&c, e->raw + k, 1, &used);
		if (rc != HTTP_INCOMPLETE)
			break;
		ck_assert_uint_eq(used, 1);
	}
	check_chunk_error(e, rc, &c, k + used, "bytewise", k);
	/* Every two-piece split. */
	for (k = 0; k <= e->rawlen; k++) {
		http_chunked_init(&c);
		rc = feed_split(&c, e->raw, e->rawlen, k, &total);
		check_chunk_error(e, rc, &c, total, "split", k);
	}
}
END_TEST

/*
 * What the proxy relies on (see struct http_chunked): right after the LF
 * of a line, `remaining` is the size of the chunk whose data follows, and
 * 0 when a line follows.  Fed a byte at a time, then a line at a time.
 */
START_TEST(test_chunked_remaining_after_lines)
{
	static const char body[] = "5;a=b\r\nhello\r\n1A\r\n"
	    "abcdefghijklmnopqrstuvwxyz\r\n0\r\nX: y\r\n\r\n";
	/* After each LF but the last: a size line's chunk size, else 0. */
	static const uint64_t after_lf[] = { 5, 0, 26, 0, 0, 0 };
	struct http_chunked c;
	size_t i, k, used, start;
	int rc = 0;

	http_chunked_init(&c);
	for (i = k = 0; i < sizeof(body) - 1; i++) {
		rc = http_chunked_feed(&c, body + i, 1, &used);
		ck_assert_uint_eq(used, 1);
		if (body[i] != '\n' || rc == HTTP_CHUNKED_DONE)
			continue;
		ck_assert_uint_lt(k, NELEM(after_lf));
		ck_assert_msg(c.remaining == after_lf[k], "after LF %zu: %llu",
		    k, (unsigned long long)c.remaining);
		k++;
	}
	ck_assert_int_eq(rc, HTTP_CHUNKED_DONE);
	ck_assert_uint_eq(k, NELEM(after_lf));

	http_chunked_init(&c);
	for (start = 0, k = 0; k < NELEM(after_lf); k++) {
		i = (size_t)(strchr(body + start, '\n') - body) + 1;
		rc = http_chunked_feed(&c, body + start, i - start, &used);
		ck_assert_int_eq(rc, HTTP_INCOMPLETE);
		ck_assert_uint_eq(used, i - start);
		ck_assert_uint_eq(c.remaining, after_lf[k]);
		start = i;
		if (after_lf[k] > 0) {
			/* The data and the CRLF after it come with the next
			   line: skip over the data here. */
			rc = http_chunked_feed(&c, body + start,
			    (size_t)after_lf[k], &used);
			ck_assert_int_eq(rc, HTTP_INCOMPLETE);
			ck_assert_uint_eq(used, after_lf[k]);
			ck_assert_uint_eq(c.remaining, 0);
			start += used;
		}
	}
	rc = http_chunked_feed(&c, body + start, sizeof(body) - 1 - start,
	    &used);
	ck_assert_int_eq(rc, HTTP_CHUNKED_DONE);
}
END_TEST

START_TEST(test_chunked_limits)
{
	struct http_chunked	 c;
	char			*buf;
	size_t			 n, used;
	int			 rc;

	/* A size line of exactly HTTP_CHUNK_LINE_MAX bytes, then one more. */
	n = HTTP_CHUNK_LINE_MAX + 2;
	buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'x', n);
	memcpy(buf, "1;a=", 4);
	memcpy(buf + n - 2, "\r\n", 2);
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_feed(&c, buf, n, &used),
	    HTTP_INCOMPLETE);
	ck_assert_uint_eq(used, n);
	memcpy(buf + n - 2, "x\r", 2);
	buf[n] = '\n';
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_feed(&c, buf, n + 1, &used), -400);
	ck_assert_str_eq(c.error, "chunk line too long");
	ck_assert_uint_eq(used, HTTP_CHUNK_LINE_MAX);
	free(buf);

	/* Trailers of exactly HTTP_CHUNK_TRAILER_MAX bytes, then one more. */
	n = 3 + HTTP_CHUNK_TRAILER_MAX;
	buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'v', n + 1);
	memcpy(buf, "0\r\nT: ", 6);
	memcpy(buf + n - 4, "\r\n\r\n", 4);
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_feed(&c, buf, n, &used),
	    HTTP_CHUNKED_DONE);
	ck_assert_uint_eq(used, n);
	memcpy(buf + n - 4, "v\r\n\r\n", 5);
	http_chunked_init(&c);
	rc = http_chunked_feed(&c, buf, n + 1, &used);
	ck_assert_int_eq(rc, -431);
	ck_assert_str_eq(c.error, "trailers too large");
	ck_assert_uint_eq(used, n);
	free(buf);

	/* The largest size is accepted; its data is skipped in bulk. */
	http_chunked_init(&c);
	ck_assert_int_eq(http_chunked_feed(&c, "7fffffffffffffff\r\nabc", 21,
	    &used), HTTP_INCOMPLETE);
	ck_assert_uint_eq(used, 21);
	ck_assert_uint_eq(c.remaining, (uint64_t)INT64_MAX - 3);
}
END_TEST

static Suite *
http_parse_suite(void)
{
	Suite	*s = suite_create("http_parse");
	TCase	*tc;

	tc = tcase_create("request");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_request_valid, 0, NELEM(req_ok));
	tcase_add_loop_test(tc, test_request_invalid, 0, NELEM(req_bad));
	tcase_add_test(tc, test_field_kinds);
	tcase_add_test(tc, test_field_kind_near_misses);
	tcase_add_test(tc, test_request_limits);
	tcase_add_test(tc, test_request_resume);
	tcase_add_test(tc, test_long_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_response_valid, 0, NELEM(resp_ok));
	tcase_add_loop_test(tc, test_response_invalid, 0, NELEM(resp_bad));
	tcase_add_test(tc, test_response_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("chunked");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_chunked_valid, 0, NELEM(chunk_ok));
	tcase_add_loop_test(tc, test_chunked_invalid, 0, NELEM(chunk_bad));
	tcase_add_test(tc, test_chunked_limits);
	tcase_add_test(tc, test_chunked_remaining_after_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(http_parse_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
