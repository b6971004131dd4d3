/*
 * The backend's own HTTP/1.1 request parser and body decoder: pure functions
 * over bytes, no I/O.  They are strict on purpose (RFC 9112): the backend
 * sits behind the proxy under test, and a head or body the proxy forwards
 * badly should fail loudly here rather than be repaired.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "tests/backend/backend.h"

/* Longest chunk-ext on one chunk-size line. */
#define CHUNK_EXT_MAX	4096
/* Hex digits of a chunk size: 15 keeps it below 2^60, no overflow. */
#define CHUNK_DIGITS_MAX 15
/* Digits of a Content-Length: 18 keeps it below 10^18, no overflow. */
#define LENGTH_DIGITS_MAX 18

enum chunk_state {
	CH_SIZE,	/* hex digits of the chunk size */
	CH_SIZE_WS,	/* whitespace after the size */
	CH_EXT,		/* chunk-ext, ignored */
	CH_SIZE_LF,	/* LF closing the size line */
	CH_DATA,	/* chunk data */
	CH_DATA_CR,	/* CR after chunk data */
	CH_DATA_LF,	/* LF after chunk data */
	CH_TRAILER_START, /* start of a trailer line or the final CRLF */
	CH_TRAILER,	/* inside a trailer field line, ignored */
	CH_TRAILER_LF,	/* LF closing a trailer line */
	CH_END_LF,	/* LF of the final empty line */
};

/* What the header fields said, checked once the head is complete. */
struct fields {
	int		 hosts;
	int		 lengths;
	int		 chunked;
	int		 close;
	int		 keepalive;
};

static int
is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

uint64_t
bk_fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= BK_FNV_PRIME;
	}
	return h;
}

/*
 * Finds the end of the head from *scan on, resuming where the last call
 * stopped.  Returns the head length, 0 when incomplete, -1 on a bare LF.
 */
static ssize_t
head_end(const char *buf, size_t len, size_t *scan)
{
	const char	*lf;
	size_t		 pos = *scan, i;

	while ((lf = memchr(buf + pos, '\n', len - pos)) != NULL) {
		i = lf - buf;
		if (i == 0 || buf[i - 1] != '\r')
			return -1;
		if (i - 1 == pos)
			return (ssize_t)(i + 1);
		pos = i + 1;
	}
	*scan = pos;
	return 0;
}

/* Compares a token of a comma list, ignoring case. */
static int
token_is(const char *p, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

/*
 * Walks the comma-separated tokens of a Connection or Transfer-Encoding
 * value.  Returns 0, or the status to answer.
 */
static int
list_tokens(const char *v, size_t len, int te, struct fields *f)
{
	size_t	 i = 0, start, end;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (te) {
			if (!token_is(v + start, end - start, "chunked"))
				return 501;
			if (f->chunked++)
				return 400;
		} else if (token_is(v + start, end - start, "close"))
			f->close = 1;
		else if (token_is(v + start, end - start, "keep-alive"))
			f->keepalive = 1;
	}
	return 0;
}

/* Parses a Content-Length value: digits only, equal when repeated. */
static int
content_length(const char *v, size_t len, struct bk_request *req,
    struct fields *f)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (len == 0 || len > LENGTH_DIGITS_MAX)
		return 400;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return 400;
		n = n * 10 + (v[i] - '0');
	}
	if (f->lengths++ && n != req->length)
		return 400;
	req->length = n;
	return 0;
}

/* Acts on one header field.  Returns 0, or the status to answer. */
static int
field(const char *name, size_t nlen, const char *v, size_t vlen,
    struct bk_request *req, struct fields *f)
{
	if (token_is(name, nlen, "host")) {
		if (f->hosts++)
			return 400;
	} else if (token_is(name, nlen, "content-length"))
		return content_length(v, vlen, req, f);
	else if (token_is(name, nlen, "transfer-encoding"))
		return list_tokens(v, vlen, 1, f);
	else if (token_is(name, nlen, "connection"))
		return list_tokens(v, vlen, 0, f);
	else if (token_is(name, nlen, "expect")) {
		if (!token_is(v, vlen, "100-continue"))
			return 417;
		req->expect = 1;
	}
	return 0;
}

/*
 * Parses the header field line p[0..len) (no CRLF): a token, a colon, and
 * a value of visible characters, spaces, tabs and obs-text.
 */
static int
field_line(const char *p, size_t len, struct bk_request *req,
    struct fields *f)
{
	size_t	 i = 0, vs, ve;

	while (i < len && is_tchar(p[i]))
		i++;
	if (i == 0 || i == len || p[i] != ':')
		return 400;	/* also a space before the colon, obs-fold */
	for (vs = i + 1; vs < len; vs++) {
		unsigned char ch = p[vs];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 400;
	}
	vs = i + 1;
	ve = len;
	while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
		vs++;
	while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
		ve--;
	return field(p, i, p + vs, ve - vs, req, f);
}

/* Parses "METHOD SP target SP HTTP/D.D".  Returns 0 or a status. */
static int
request_line(const char *p, size_t len, struct bk_request *req)
{
	size_t	 i = 0, t;

	while (i < len && is_tchar(p[i]))
		i++;
	if (i == 0 || i == len || p[i] != ' ')
		return 400;
	req->head = (i == 4 && memcmp(p, "HEAD", 4) == 0);
	t = ++i;
	while (i < len && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	if (i == t || i == len || p[i] != ' ' || p[t] != '/')
		return 400;
	req->target_off = t;
	req->target_len = i - t;
	p += i + 1;
	len -= i + 1;
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)p[5]) || p[6] != '.' ||
	    !isdigit((unsigned char)p[7]))
		return 400;
	if (p[5] != '1')
		return 505;
	req->minor = p[7] - '0';
	return 0;
}

/*
 * Parses one request head at buf[0..len).  *scan holds where the search for
 * its end resumes; the caller zeroes it for each new head.  Returns 1 with
 * *headlen set when the head is complete and valid, 0 when more bytes are
 * needed, -1 with req->status set (400, 417, 501, 505) when it is malformed.
 * req->target_off points into buf, valid while buf holds the head.
 */
int
bk_parse_head(const char *buf, size_t len, size_t *scan,
    struct bk_request *req, size_t *headlen)
{
	struct fields	 f;
	const char	*eol;
	ssize_t		 end;
	size_t		 pos;
	int		 status;

	memset(req, 0, sizeof(*req));
	memset(&f, 0, sizeof(f));
	if ((end = head_end(buf, len, scan)) == 0)
		return 0;
	req->status = 400;
	if (end == -1)
		return -1;
	eol = memchr(buf, '\r', end);	/* a request line ends in CRLF */
	req->line_len = eol - buf;
	if (eol[1] != '\n') {
		status = 400;
		goto bad;
	}
	if ((status = request_line(buf, req->line_len, req)) != 0)
		goto bad;
	for (pos = req->line_len + 2; pos < (size_t)end - 2; pos = eol -
	    buf + 2) {
		eol = memchr(buf + pos, '\r', end - pos);
		if (eol[1] != '\n') {		/* a bare CR in a field */
			status = 400;
			goto bad;
		}
		if ((status = field_line(buf + pos, eol - buf - pos, req,
		    &f)) != 0)
			goto bad;
	}
	status = 400;
	if (f.chunked && f.lengths)
		goto bad;
	if (req->minor >= 1 && f.hosts != 1)
		goto bad;
	req->body_kind = f.chunked ? BODY_CHUNKED :
	    (f.lengths && req->length > 0) ? BODY_LENGTH : BODY_NONE;
	if (req->minor >= 1)
		req->keepalive = !f.close;
	else
		req->keepalive = f.keepalive && !f.close;
	req->status = 0;
	*headlen = end;
	return 1;
bad:
	req->status = status;
	return -1;
}

/* Prepares b for the body req announced; hash it when `hashing`. */
void
bk_body_init(struct bk_body *b, const struct bk_request *req, int hashing)
{
	memset(b, 0, sizeof(*b));
	b->kind = req->body_kind;
	b->hashing = hashing;
	b->hash = BK_FNV_OFFSET;
	b->state = CH_SIZE;
	if (b->kind == BODY_LENGTH)
		b->left = req->length;
	b->done = (b->kind == BODY_NONE);
}

/* Takes body data: counts it and, for /upload, hashes it. */
static size_t
body_data(struct bk_body *b, const char *p, size_t n)
{
	if (n > b->left)
		n = b->left;
	if (b->hashing)
		b->hash = bk_fnv1a(b->hash, p, n);
	b->total += n;
	b->left -= n;
	return n;
}

/* One framing byte of a chunk-size line.  Returns 0, or -1 if invalid. */
static int
chunk_size_byte(struct bk_body *b, char ch)
{
	int	 x;

	switch (b->state) {
	case CH_SIZE:
		if (isxdigit((unsigned char)ch)) {
			if (++b->digits > CHUNK_DIGITS_MAX)
				return -1;
			x = isdigit((unsigned char)ch) ? ch - '0' :
			    tolower((unsigned char)ch) - 'a' + 10;
			b->left = b->left * 16 + x;
			return 0;
		}
		if (b->digits == 0)
			return -1;
		/* FALLTHROUGH */
	case CH_SIZE_WS:
		if (ch == ' ' || ch == '\t')
			b->state = CH_SIZE_WS;
		else if (ch == ';') {
			b->state = CH_EXT;
			b->line = 0;
		} else if (ch == '\r')
			b->state = CH_SIZE_LF;
		else
			return -1;
		return 0;
	case CH_EXT:
		if (ch == '\r')
			b->state = CH_SIZE_LF;
		else if (((unsigned char)ch < 0x20 && ch != '\t') ||
		    ++b->line > CHUNK_EXT_MAX)
			return -1;
		return 0;
	default:		/* CH_SIZE_LF */
		if (ch != '\n')
			return -1;
		b->state = b->left ? CH_DATA : CH_TRAILER_START;
		return 0;
	}
}

/* One byte after the data: CRLF, trailer fields, the last CRLF. */
static int
chunk_tail_byte(struct bk_body *b, char ch)
{
	switch (b->state) {
	case CH_DATA_CR:
		b->state = CH_DATA_LF;
		return ch == '\r' ? 0 : -1;
	case CH_DATA_LF:
		b->state = CH_SIZE;
		b->digits = 0;
		return ch == '\n' ? 0 : -1;
	case CH_TRAILER_START:
		if (ch == '\r') {
			b->state = CH_END_LF;
			return 0;
		}
		b->state = CH_TRAILER;
		/* FALLTHROUGH */
	case CH_TRAILER:
		if (++b->trailer > BK_HEAD_MAX || ch == '\n')
			return -1;
		if (ch == '\r')
			b->state = CH_TRAILER_LF;
		return 0;
	case CH_TRAILER_LF:
		b->state = CH_TRAILER_START;
		return ch == '\n' ? 0 : -1;
	default:		/* CH_END_LF */
		if (ch != '\n')
			return -1;
		b->done = 1;
		return 0;
	}
}

/*
 * Feeds n body bytes at p to the decoder.  Returns how many it took (fewer
 * than n only when the body ended: the rest is the next request), or -1
 * when the chunked framing is invalid.  b->done is set at the body's end.
 */
ssize_t
bk_body_feed(struct bk_body *b, const char *p, size_t n)
{
	size_t	 i = 0;
	int	 r;

	if (b->kind == BODY_LENGTH) {
		i = body_data(b, p, n);
		b->done = (b->left == 0);
		return (ssize_t)i;
	}
	while (i < n && !b->done) {
		if (b->state == CH_DATA) {
			i += body_data(b, p + i, n - i);
			if (b->left == 0)
				b->state = CH_DATA_CR;
			continue;
		}
		if (b->state <= CH_SIZE_LF)
			r = chunk_size_byte(b, p[i]);
		else
			r = chunk_tail_byte(b, p[i]);
		if (r == -1)
			return -1;
		i++;
	}
	return (ssize_t)i;
}
