/*
 * Where a message body ends, for the proxy's two directions: a length, the
 * chunked coding (walked with the parser's http_chunked_feed, forwarded
 * verbatim), the server's close, or no body.  The bytes are never copied
 * or changed here; the proxy learns how many of those it holds belong to
 * the body.
 */
#include <string.h>

#include "worker/proxy_int.h"

/* hold_lines: hold back incomplete chunk-size lines (see chunked_feed). */
void
proxy_framing_init(struct framing *f, enum http_body kind, int64_t length,
    bool hold_lines)
{
	f->kind = kind;
	f->done = kind == HTTP_BODY_NONE;
	f->hold_lines = hold_lines;
	f->held = 0;
	f->left = kind == HTTP_BODY_LENGTH && length > 0 ? (uint64_t)length :
	    0;
	if (kind == HTTP_BODY_LENGTH && f->left == 0)
		f->done = true;
	if (kind == HTTP_BODY_CHUNKED)
		http_chunked_init(&f->chunked);
}

/*
 * A chunked body walked so that no byte of a line (chunk size and
 * extensions, the CRLF after data, trailers) counts as framed before the
 * whole line has been checked: a server then never sees a chunk-size line
 * that turns out malformed, even arriving a byte at a time.  Chunk data
 * counts as it comes.  p[0..held) were walked by an earlier call and held
 * back; *n gets the bytes of p that may go.  Right after a line the
 * tracker's `remaining` is the size of the chunk whose data follows (0 if
 * a line follows: see struct http_chunked).  Size lines are bounded by the
 * walker
 * (HTTP_CHUNK_LINE_MAX) well below a buffer; a trailer line longer than
 * the room left would wait, until client_timeout answers 408.
 */
static int
chunked_feed(struct framing *f, const char *p, size_t avail, size_t *n)
{
	size_t pos = f->held, safe = 0, end, used;
	const char *lf;
	bool line;
	int rc;

	while (pos < avail) {
		line = f->left == 0;
		if (!line)
			end = pos + (avail - pos < f->left ? avail - pos :
			    (size_t)f->left);
		else if ((lf = memchr(p + pos, '\n', avail - pos)) != NULL)
			end = (size_t)(lf - p) + 1;
		else
			end = avail;
		rc = http_chunked_feed(&f->chunked, p + pos, end - pos, &used);
		if (rc < 0)
			return rc;
		pos += used;
		if (rc == HTTP_CHUNKED_DONE) {
			f->done = true;
			safe = pos;
			break;
		}
		if (!line) {
			f->left -= used;
			safe = pos;
		} else if (p[pos - 1] == '\n') {
			f->left = f->chunked.remaining;
			safe = pos;
		}
	}
	f->held = (uint32_t)(pos - safe);
	*n = safe;
	return 0;
}

/*
 * Walks p[0..avail), the next bytes of a body, and sets *n to how many
 * belong to it.  Returns 0, or a negated status for a bad chunked body.
 * A close-delimited body takes everything; its end is the server's EOF.
 */
int
proxy_framing_feed(struct framing *f, const char *p, size_t avail, size_t *n)
{
	int rc;

	*n = 0;
	if (f->done)
		return 0;
	switch (f->kind) {
	case HTTP_BODY_LENGTH:
		*n = avail < f->left ? avail : (size_t)f->left;
		f->left -= *n;
		f->done = f->left == 0;
		return 0;
	case HTTP_BODY_CHUNKED:
		if (f->hold_lines)
			return chunked_feed(f, p, avail, n);
		if ((rc = http_chunked_feed(&f->chunked, p, avail, n)) < 0)
			return rc;
		f->done = rc == HTTP_CHUNKED_DONE;
		return 0;
	case HTTP_BODY_CLOSE:
		*n = avail;
		return 0;
	default:
		f->done = true;
		return 0;
	}
}
