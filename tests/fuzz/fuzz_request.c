/*
 * Fuzz harness of the request head parser (http_parse_request).  Each input
 * is a request head as a client would send it, parsed three ways, and the
 * promises of worker/http_parse.h are checked on each:
 *  - whole, with a generous limit: the result is a head length, a status
 *    the proxy may answer, or "incomplete" only while under the limit, and
 *    every span of a parsed head lies inside it;
 *  - incrementally, over prefixes of growing length (now and then a
 *    shorter one, which makes the parse start over), each in a fresh heap
 *    block of its exact size (so the buffer moves between calls and a read
 *    past its end trips ASan): the first result that is not "incomplete"
 *    is the whole parse's result, field for field;
 *  - with a small limit derived from the input: a head is never longer
 *    than the limit, and holding more bytes past the limit changes nothing.
 */
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/http_parse.h"

/* The limits of the whole parse: small enough that fuzzed inputs reach
   them (the header array in particular). */
#define FUZZ_MAX_HEAD		8192
#define FUZZ_MAX_HEADERS	24

struct parsed {
	struct http_request	req;
	struct http_header	headers[FUZZ_MAX_HEADERS];
	int			rc;
};

static bool
span_in(struct http_span s, size_t end)
{
	return (size_t)s.off + s.len <= end;
}

/* The promises about a head parsed into p from buf (rc > 0). */
static void
check_head(const char *buf, size_t len, size_t max_head,
    const struct parsed *p)
{
	const struct http_request *r = &p->req;
	size_t i, head = (size_t)p->rc;
	int h;

	FUZZ_CHECK(head <= len && head <= max_head && head >= 4);
	FUZZ_CHECK(memcmp(buf + head - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(span_in(r->method_name, head) && r->method_name.len > 0);
	FUZZ_CHECK(span_in(r->target, head) && r->target.len > 0);
	FUZZ_CHECK(r->minor == 0 || r->minor == 1);
	FUZZ_CHECK(r->nheaders <= FUZZ_MAX_HEADERS);
	FUZZ_CHECK(r->content_length >= -1);
	FUZZ_CHECK(!(r->chunked && r->content_length != -1));
	FUZZ_CHECK(!(r->chunked && r->minor == 0));
	FUZZ_CHECK(r->minor == 0 || r->has_host);
	FUZZ_CHECK(!r->has_host || span_in(r->host, head));
	for (i = 0; i < r->nheaders; i++) {
		FUZZ_CHECK(r->headers[i].name.len > 0);
		FUZZ_CHECK(span_in(r->headers[i].name, head));
		FUZZ_CHECK(span_in(r->headers[i].value, head));
		FUZZ_CHECK(memchr(buf + r->headers[i].value.off, '\n',
		    r->headers[i].value.len) == NULL);
		FUZZ_CHECK(memchr(buf + r->headers[i].value.off, '\r',
		    r->headers[i].value.len) == NULL);
		FUZZ_CHECK(i == 0 ||
		    r->headers[i].name.off > r->headers[i - 1].name.off);
	}
	h = http_header_find(buf, r->headers, r->nheaders, "host", 4);
	FUZZ_CHECK((h >= 0) == r->has_host);
	if (h >= 0)
		FUZZ_CHECK(r->headers[h].kind == HTTP_FIELD_HOST);
	switch (http_request_body(r)) {
	case HTTP_BODY_NONE:
		FUZZ_CHECK(!r->chunked && r->content_length <= 0);
		break;
	case HTTP_BODY_LENGTH:
		FUZZ_CHECK(r->content_length > 0);
		break;
	case HTTP_BODY_CHUNKED:
		FUZZ_CHECK(r->chunked);
		break;
	default:
		FUZZ_CHECK(!"request body framing out of range");
	}
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
		FUZZ_CHECK(p->rc == -400 || p->rc == -431 || p->rc == -501 ||
		    p->rc == -505);
		FUZZ_CHECK(p->req.error != NULL && p->req.error[0] != '\0');
	}
}

static bool
span_eq(struct http_span a, struct http_span b)
{
	return a.off == b.off && a.len == b.len;
}

/* Whether two parses of the same bytes gave the same result. */
static void
check_same(const struct parsed *a, const struct parsed *b)
{
	const struct http_request *x = &a->req, *y = &b->req;
	size_t i;

	FUZZ_CHECK(a->rc == b->rc);
	if (a->rc <= 0)
		return;
	FUZZ_CHECK(x->method == y->method);
	FUZZ_CHECK(span_eq(x->method_name, y->method_name));
	FUZZ_CHECK(span_eq(x->target, y->target));
	FUZZ_CHECK(x->minor == y->minor && x->nheaders == y->nheaders);
	FUZZ_CHECK(x->content_length == y->content_length);
	FUZZ_CHECK(x->chunked == y->chunked && x->keep_alive == y->keep_alive);
	FUZZ_CHECK(x->expect_continue == y->expect_continue);
	FUZZ_CHECK(x->upgrade == y->upgrade && x->has_host == y->has_host);
	FUZZ_CHECK(!x->has_host || span_eq(x->host, y->host));
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

	http_request_init(&p->req, p->headers, FUZZ_MAX_HEADERS);
	p->rc = http_parse_request(buf, size, max_head, &p->req);
	check_result(buf, size, max_head, p);
	free(buf);
}

/* One piece of parse_pieces: returns whether the head is incomplete. */
static bool
parse_piece(void *arg, const char *buf, size_t len)
{
	struct parsed *p = arg;

	p->rc = http_parse_request(buf, len, FUZZ_MAX_HEAD, &p->req);
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
	http_request_init(&p->req, p->headers, FUZZ_MAX_HEADERS);
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

	/* A limit inside the input: the bytes past it must not matter. */
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
