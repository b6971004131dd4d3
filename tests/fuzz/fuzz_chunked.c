/*
 * Fuzz harness of the chunked body walker (http_chunked_feed).  Each input
 * is the body bytes after a "Transfer-Encoding: chunked" head, fed three
 * ways: whole, in random pieces derived from the input, and one byte at a
 * time, every piece in a heap block of its exact size.  The walker promises
 * (worker/http_parse.h) that any split gives the same result and the same
 * count of body bytes, that a finished or failed walk answers the same
 * again consuming nothing, and that the bytes after a body's end are not
 * looked at.
 */
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/http_parse.h"

/* The largest piece of the random split: small, so that the lines and
   trailers are cut in every place. */
#define FUZZ_PIECE_MAX	32

struct walk {
	int	rc;
	size_t	consumed;	/* over all the calls */
};

/*
 * Feeds data[0..len) as one call, in a block of exactly len bytes.  One
 * byte pieces share a block of one byte, kept: a malloc per byte would
 * cost most of the run.
 */
static int
feed(struct http_chunked *c, const uint8_t *data, size_t len,
    size_t *consumed)
{
	static char *one;
	char *buf;
	int rc;

	if (len == 1 && one == NULL && (one = malloc(1)) == NULL)
		abort();
	if (len == 1)
		buf = one;
	else if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(buf, data, len);
	rc = http_chunked_feed(c, buf, len, consumed);
	if (buf != one)
		free(buf);
	FUZZ_CHECK(*consumed <= len);
	if (rc == HTTP_INCOMPLETE)
		FUZZ_CHECK(*consumed == len);
	else if (rc < 0) {
		FUZZ_CHECK(rc == -400 || rc == -431);
		FUZZ_CHECK(c->error != NULL && c->error[0] != '\0');
	} else
		FUZZ_CHECK(rc == HTTP_CHUNKED_DONE);
	return rc;
}

/*
 * Walks data in pieces: piece_max 0 means one piece, else pieces of 1 to
 * piece_max bytes drawn from rng (1 for byte at a time).
 */
static void
walk(const uint8_t *data, size_t size, size_t piece_max,
    struct fuzz_rng *rng, struct walk *w)
{
	struct http_chunked c;
	size_t off = 0, n, used;
	int again;

	http_chunked_init(&c);
	w->consumed = 0;
	w->rc = HTTP_INCOMPLETE;
	do {
		n = piece_max == 0 ? size - off :
		    1 + fuzz_rng_below(rng, piece_max);
		if (n > size - off)
			n = size - off;
		w->rc = feed(&c, data + off, n, &used);
		w->consumed += used;
		off += n;
	} while (w->rc == HTTP_INCOMPLETE && off < size);

	/* Once done or failed, the same answer, nothing consumed. */
	if (w->rc != HTTP_INCOMPLETE && off < size) {
		again = feed(&c, data + off, size - off, &used);
		FUZZ_CHECK(again == w->rc && used == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk whole, pieces, bytes, body;
	struct fuzz_rng rng;

	fuzz_rng_seed(&rng, data, size);
	walk(data, size, 0, &rng, &whole);
	walk(data, size, FUZZ_PIECE_MAX, &rng, &pieces);
	walk(data, size, 1, &rng, &bytes);
	FUZZ_CHECK(pieces.rc == whole.rc && pieces.consumed == whole.consumed);
	FUZZ_CHECK(bytes.rc == whole.rc && bytes.consumed == whole.consumed);

	/* A body that ended is the same body without what followed it. */
	if (whole.rc == HTTP_CHUNKED_DONE) {
		walk(data, whole.consumed, 0, &rng, &body);
		FUZZ_CHECK(body.rc == HTTP_CHUNKED_DONE &&
		    body.consumed == whole.consumed);
	}
	return 0;
}
