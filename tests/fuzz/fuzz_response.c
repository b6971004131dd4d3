/*
 * Fuzz harness of the response head parser (http_parse_response) and of
 * the body framing it implies (http_response_body).  Each input is a
 * response head as a server would send it, parsed whole, incrementally
 * (growing prefixes, now and then a shorter one, each in a fresh heap
 * block of its exact size) and under a small limit derived from the input;
 * the promises of worker/http_parse.h are checked on each, and the
 * incremental and capped parses must agree with the whole one as the
 * header says they do.
 */
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/http_parse.h"

#define FUZZ_MAX_HEAD		8192
#define FUZZ_MAX_HEADERS	24

struct parsed {
	struct http_response	resp;
	struct http_header	headers[FUZZ_MAX_HEADERS];
	int			rc;
};

static bool
span_in(struct http_span s, size_t end)
{
	return (size_t)s.off + s.len <= end;
}

/* The framing rules of RFC 9112 section 6.3, for every request method. */
static void
check_framing(const struct http_response *r)
{
	static const enum http_method methods[] = { HTTP_METHOD_GET,
	    HTTP_METHOD_HEAD, HTTP_METHOD_POST, HTTP_METHOD_CONNECT,
	    HTTP_METHOD_OTHER };
	enum http_body b;
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		b = http_response_body(r, methods[i]);
		if (r->status == 101)
			FUZZ_CHECK(b == HTTP_BODY_TUNNEL);
		else if (methods[i] == HTTP_METHOD_HEAD || r->status < 200 ||
		    r->status == 204 || r->status == 304)
			FUZZ_CHECK(b == HTTP_BODY_NONE);
		else if (methods[i] == HTTP_METHOD_CONNECT && r->status < 300)
			FUZZ_CHECK(b == HTTP_BODY_TUNNEL);
		else if (r->chunked)
			FUZZ_CHECK(b == HTTP_BODY_CHUNKED);
		else if (r->transfer_encoding)
			FUZZ_CHECK(b == HTTP_BODY_CLOSE);
		else if (r->content_length > 0)
			FUZZ_CHECK(b == HTTP_BODY_LENGTH);
		else if (r->content_length == 0)
			FUZZ_CHECK(b == HTTP_BODY_NONE);
		else
			FUZZ_CHECK(b == HTTP_BODY_CLOSE);
	}
}

static void
check_head(const char *buf, size_t len, size_t max_head,
    const struct parsed *p)
{
	const struct http_response *r = &p->resp;
	size_t i, head = (size_t)p->rc;

	FUZZ_CHECK(head <= len && head <= max_head && head >= 4);
	FUZZ_CHECK(memcmp(buf + head - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(r->status >= 100 && r->status <= 599);
	FUZZ_CHECK(r->minor == 0 || r->minor == 1);
	FUZZ_CHECK(span_in(r->reason, head));
	FUZZ_CHECK(r->nheaders <= FUZZ_MAX_HEADERS);
	FUZZ_CHECK(r->content_length >= -1);
	FUZZ_CHECK(!r->chunked || r->transfer_encoding);
	FUZZ_CHECK(!(r->transfer_encoding && r->content_length != -1));
	FUZZ_CHECK(!(r->chunked && r->minor == 0));
	for (i = 0; i < r->nheaders; i++) {
		FUZZ_CHECK(r->headers[i].name.len > 0);
		FUZZ_CHECK(span_in(r->headers[i].name, head));
		FUZZ_CHECK(span_in(r->headers[i].value, head));
		FUZZ_CHECK(memchr(buf + r->headers[i].value.off, '\n',
		    r->headers[i].value.len) == NULL);
		FUZZ_CHECK(memchr(buf + r->headers[i].value.off, '\r',
		    r->headers[i].value.len) == NULL);
	}
	check_framing(r);
}

static void
check_result(const char *buf, size_t len, size_t max_head,
    const struct parsed *p)
{
	if (p->rc > 0)
		check_head(buf, len, max_head, p);
	else if (p->rc == HTTP_INCOMPLETE)
		FUZZ_CHECK(len < max_head);
	else {
		/* Whatever a server got wrong, the client hears 502. */
		FUZZ_CHECK(p->rc == -502);
		FUZZ_CHECK(p->resp.error != NULL && p->resp.error[0] != '\0');
	}
}

static bool
span_eq(struct http_span a, struct http_span b)
{
	return a.off == b.off && a.len == b.len;
}

static void
check_same(const struct parsed *a, const struct parsed *b)
{
	const struct http_response *x = &a->resp, *y = &b->resp;
	size_t i;

	FUZZ_CHECK(a->rc == b->rc);
	if (a->rc <= 0)
		return;
	FUZZ_CHECK(x->minor == y->minor && x->status == y->status);
	FUZZ_CHECK(span_eq(x->reason, y->reason));
	FUZZ_CHECK(x->nheaders == y->nheaders);
	FUZZ_CHECK(x->content_length == y->content_length);
	FUZZ_CHECK(x->transfer_encoding == y->transfer_encoding);
	FUZZ_CHECK(x->chunked == y->chunked && x->keep_alive == y->keep_alive);
	FUZZ_CHECK(x->connection == y->connection);
	for (i = 0; i < x->nheaders; i++) {
		FUZZ_CHECK(span_eq(x->headers[i].name, y->headers[i].name));
		FUZZ_CHECK(span_eq(x->headers[i].value, y->headers[i].value));
		FUZZ_CHECK(x->headers[i].kind == y->headers[i].kind);
		FUZZ_CHECK(x->headers[i].hop == y->headers[i].hop);
	}
}

static void
parse_whole(const uint8_t *data, size_t size, size_t max_head,
    struct parsed *p)
{
	char *buf = fuzz_copy_exact(data, size);

	http_response_init(&p->resp, p->headers, FUZZ_MAX_HEADERS);
	p->rc = http_parse_response(buf, size, max_head, &p->resp);
	check_result(buf, size, max_head, p);
	free(buf);
}

/* One piece of parse_pieces: returns whether the head is incomplete. */
static bool
parse_piece(void *arg, const char *buf, size_t len)
{
	struct parsed *p = arg;

	p->rc = http_parse_response(buf, len, FUZZ_MAX_HEAD, &p->resp);
	if (p->rc == HTTP_INCOMPLETE)
		return true;
	check_result(buf, len, FUZZ_MAX_HEAD, p);
	return false;
}

/* Feeds growing prefixes, the buffer moving each time, as a socket would. */
static void
parse_pieces(const uint8_t *data, size_t size, struct fuzz_rng *rng,
    struct parsed *p)
{
	http_response_init(&p->resp, p->headers, FUZZ_MAX_HEADERS);
	fuzz_walk_pieces(data, size, rng, parse_piece, p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct parsed whole, pieces, capped, cut;
	struct fuzz_rng rng;
	size_t limit;

	fuzz_rng_seed(&rng, data, size);
	parse_whole(data, size, FUZZ_MAX_HEAD, &whole);
	parse_pieces(data, size, &rng, &pieces);
	check_same(&whole, &pieces);

	if (size == 0)
		return 0;
	limit = 1 + fuzz_rng_below(&rng, size);
	parse_whole(data, size, limit, &capped);
	parse_whole(data, limit, limit, &cut);
	check_same(&capped, &cut);
	if (whole.rc > 0 && (size_t)whole.rc <= limit)
		check_same(&whole, &capped);
	return 0;
}
