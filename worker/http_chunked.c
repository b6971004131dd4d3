/*
 * Message body framing (RFC 9112 sections 6.3 and 7.1): which framing a
 * parsed head implies, and a walker over the chunked transfer coding that
 * lets the proxy forward a chunked body verbatim while knowing where it
 * ends.  The walker keeps its place in struct http_chunked, so the body may
 * arrive split anywhere.  Contracts are in http_parse.h.
 */
#include "worker/http_parse.h"

/* Character classes, one bit each in cclass[]. */
#define C_TCHAR		0x01	/* token (RFC 9110 section 5.6.2) */
#define C_FVAL		0x02	/* field value: SP, HTAB, VCHAR, obs-text */
#define C_QDTEXT	0x04	/* quoted-string text (RFC 9110 5.6.4) */
#define C_HEX		0x08	/* HEXDIG */

/* The combinations that occur, named for the table below. */
#define NO	0
#define VC	C_FVAL				/* DQUOTE, backslash */
#define QD	(C_FVAL | C_QDTEXT)		/* other text */
#define TK	(QD | C_TCHAR)			/* token */
#define HX	(TK | C_HEX)			/* hex digit */

/* One row per 16 byte values, from 0x00 to 0xff. */
/* clang-format off */
static const uint8_t cclass[256] = {
	NO, NO, NO, NO, NO, NO, NO, NO, NO, QD, NO, NO, NO, NO, NO, NO,
	NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
	QD, TK, VC, TK, TK, TK, TK, TK, QD, QD, TK, TK, QD, TK, TK, QD,
	HX, HX, HX, HX, HX, HX, HX, HX, HX, HX, QD, QD, QD, QD, QD, QD,
	QD, HX, HX, HX, HX, HX, HX, TK, TK, TK, TK, TK, TK, TK, TK, TK,
	TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, QD, VC, QD, TK, TK,
	TK, HX, HX, HX, HX, HX, HX, TK, TK, TK, TK, TK, TK, TK, TK, TK,
	TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, QD, TK, QD, TK, NO,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
	QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD, QD,
};
/* clang-format on */

#define IS(c, m)	((cclass[(unsigned char)(c)] & (m)) != 0)
#define IS_OWS(c)	((c) == ' ' || (c) == '\t')

/* A chunk size has at most this many hex digits (and fits an int64_t). */
#define CHUNK_DIGITS_MAX	16

/*
 * Where the walker is.  The states up to CH_EXT_QEND are on the
 * chunk-size line, where a bare LF is caught before the switch.
 */
enum {
	CH_SIZE_FIRST,		/* first hex digit of the size */
	CH_SIZE,		/* more digits, or what ends the size */
	CH_SIZE_BWS,		/* BWS after a size or value: ';' must follow */
	CH_EXT_NAME_BWS,	/* after ';' */
	CH_EXT_NAME,
	CH_EXT_NAME_BWS2,	/* BWS after a name: '=' or ';' must follow */
	CH_EXT_VAL_BWS,		/* after '=' */
	CH_EXT_VAL,		/* token value */
	CH_EXT_QVAL,		/* inside a quoted value */
	CH_EXT_QPAIR,		/* after a backslash in a quoted value */
	CH_EXT_QEND,		/* after the closing quote */
	CH_SIZE_LF,		/* CR seen at the end of the size line */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,		/* start of a trailer line or final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_FAILED,
};

static int
chunk_fail(struct http_chunked *c, int status, const char *why)
{
	c->state = CH_FAILED;
	c->status = -status;
	c->error = why;
	return -status;
}

/* What may follow a size or an extension value: CR, ';' or BWS. */
static int
value_end(struct http_chunked *c, unsigned char ch, const char *what)
{
	if (ch == '\r')
		c->state = CH_SIZE_LF;
	else if (ch == ';')
		c->state = CH_EXT_NAME_BWS;
	else if (IS_OWS(ch))
		c->state = CH_SIZE_BWS;
	else
		return chunk_fail(c, 400, what);
	return 0;
}

static int
size_digit(struct http_chunked *c, unsigned char ch)
{
	unsigned	d;

	d = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
	if (++c->digits > CHUNK_DIGITS_MAX)
		return chunk_fail(c, 400, "chunk size too long");
	if (c->remaining > (uint64_t)INT64_MAX >> 4)
		return chunk_fail(c, 400, "chunk size too large");
	c->remaining = c->remaining << 4 | d;
	c->state = CH_SIZE;
	return 0;
}

/* One byte of the chunk extensions (RFC 9112 section 7.1.1). */
static int
ext_byte(struct http_chunked *c, unsigned char ch)
{
	static const char	*bad = "bad chunk extension";

	switch (c->state) {
	case CH_SIZE_BWS:
	case CH_EXT_NAME_BWS2:
		if (ch == ';')
			c->state = CH_EXT_NAME_BWS;
		else if (ch == '=' && c->state == CH_EXT_NAME_BWS2)
			c->state = CH_EXT_VAL_BWS;
		else if (!IS_OWS(ch))
			return chunk_fail(c, 400, bad);
		return 0;
	case CH_EXT_NAME_BWS:
	case CH_EXT_VAL_BWS:
		if (IS(ch, C_TCHAR))
			c->state = c->state == CH_EXT_NAME_BWS ?
			    CH_EXT_NAME : CH_EXT_VAL;
		else if (ch == '"' && c->state == CH_EXT_VAL_BWS)
			c->state = CH_EXT_QVAL;
		else if (!IS_OWS(ch))
			return chunk_fail(c, 400, bad);
		return 0;
	case CH_EXT_NAME:
		if (IS(ch, C_TCHAR))
			return 0;
		if (ch == '=')
			c->state = CH_EXT_VAL_BWS;
		else if (IS_OWS(ch))
			c->state = CH_EXT_NAME_BWS2;
		else
			return value_end(c, ch, bad);
		return 0;
	case CH_EXT_VAL:
		return IS(ch, C_TCHAR) ? 0 : value_end(c, ch, bad);
	case CH_EXT_QVAL:
		if (ch == '"')
			c->state = CH_EXT_QEND;
		else if (ch == '\\')
			c->state = CH_EXT_QPAIR;
		else if (!IS(ch, C_QDTEXT))
			return chunk_fail(c, 400, bad);
		return 0;
	case CH_EXT_QPAIR:
		if (!IS(ch, C_FVAL))
			return chunk_fail(c, 400, bad);
		c->state = CH_EXT_QVAL;
		return 0;
	default:	/* CH_EXT_QEND */
		return value_end(c, ch, bad);
	}
}

/* One byte of a chunk-size line: chunk-size [ chunk-ext ] CR. */
static int
size_line(struct http_chunked *c, unsigned char ch)
{
	if (ch == '\n')
		return chunk_fail(c, 400, "bare LF");
	if (ch != '\r' && ++c->count > HTTP_CHUNK_LINE_MAX)
		return chunk_fail(c, 400, "chunk line too long");
	switch (c->state) {
	case CH_SIZE_FIRST:
		if (!IS(ch, C_HEX))
			return chunk_fail(c, 400, "bad chunk size");
		return size_digit(c, ch);
	case CH_SIZE:
		if (IS(ch, C_HEX))
			return size_digit(c, ch);
		return value_end(c, ch, "bad chunk size");
	default:
		return ext_byte(c, ch);
	}
}

/* One byte of the trailer section and the final CRLF. */
static int
trailer(struct http_chunked *c, unsigned char ch)
{
	if (ch == '\n' && c->state != CH_TRAILER_LF &&
	    c->state != CH_FINAL_LF)
		return chunk_fail(c, 400, "bare LF");
	if (++c->count > HTTP_CHUNK_TRAILER_MAX)
		return chunk_fail(c, 431, "trailers too large");
	switch (c->state) {
	case CH_TRAILER:
		if (ch == '\r')
			c->state = CH_FINAL_LF;
		else if (IS(ch, C_TCHAR))
			c->state = CH_TRAILER_NAME;
		else if (IS_OWS(ch))
			return chunk_fail(c, 400, "obsolete line folding");
		else if (ch == ':')
			return chunk_fail(c, 400, "empty trailer name");
		else
			return chunk_fail(c, 400, "bad trailer name");
		return 0;
	case CH_TRAILER_NAME:
		if (ch == ':')
			c->state = CH_TRAILER_VALUE;
		else if (IS_OWS(ch))
			return chunk_fail(c, 400, "whitespace before colon");
		else if (!IS(ch, C_TCHAR))
			return chunk_fail(c, 400, "bad trailer name");
		return 0;
	case CH_TRAILER_VALUE:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!IS(ch, C_FVAL))
			return chunk_fail(c, 400, "bad trailer value");
		return 0;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return chunk_fail(c, 400, "bare CR");
		c->state = CH_TRAILER;
		return 0;
	default:	/* CH_FINAL_LF */
		if (ch != '\n')
			return chunk_fail(c, 400, "bare CR");
		c->state = CH_DONE;
		return 0;
	}
}

/* One byte outside chunk data. */
static int
step(struct http_chunked *c, unsigned char ch)
{
	if (c->state <= CH_EXT_QEND)
		return size_line(c, ch);
	switch (c->state) {
	case CH_SIZE_LF:
		if (ch != '\n')
			return chunk_fail(c, 400, "bare CR");
		c->state = c->remaining > 0 ? CH_DATA : CH_TRAILER;
		c->count = 0;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return chunk_fail(c, 400, ch == '\n' ? "bare LF" :
			    "missing CRLF after chunk data");
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return chunk_fail(c, 400, "bare CR");
		c->state = CH_SIZE_FIRST;
		c->digits = 0;
		c->count = 0;
		return 0;
	default:
		return trailer(c, ch);
	}
}

void
http_chunked_init(struct http_chunked *c)
{
	c->remaining = 0;
	c->count = 0;
	c->state = CH_SIZE_FIRST;
	c->digits = 0;
	c->status = 0;
	c->error = NULL;
}

int
http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
    size_t *consumed)
{
	size_t	p = 0, n;
	int	rc;

	*consumed = 0;
	if (c->state == CH_DONE)
		return HTTP_CHUNKED_DONE;
	if (c->state == CH_FAILED)
		return c->status;
	while (p < len) {
		if (c->state == CH_DATA) {
			/* The bulk of the body: skipped, not looked at. */
			n = len - p;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			p += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if ((rc = step(c, (unsigned char)buf[p])) < 0) {
			*consumed = p;
			return rc;
		}
		p++;
		if (c->state == CH_DONE) {
			*consumed = p;
			return HTTP_CHUNKED_DONE;
		}
	}
	*consumed = p;
	return HTTP_INCOMPLETE;
}

enum http_body
http_request_body(const struct http_request *req)
{
	if (req->chunked)
		return HTTP_BODY_CHUNKED;
	if (req->content_length > 0)
		return HTTP_BODY_LENGTH;
	return HTTP_BODY_NONE;
}

enum http_body
http_response_body(const struct http_response *resp, enum http_method method)
{
	int	s = resp->status;

	if (s == 101)
		return HTTP_BODY_TUNNEL;
	if (method == HTTP_METHOD_HEAD || s < 200 || s == 204 || s == 304)
		return HTTP_BODY_NONE;
	if (method == HTTP_METHOD_CONNECT && s < 300)
		return HTTP_BODY_TUNNEL;
	if (resp->transfer_encoding)
		return resp->chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_CLOSE;
	if (resp->content_length > 0)
		return HTTP_BODY_LENGTH;
	if (resp->content_length == 0)
		return HTTP_BODY_NONE;
	return HTTP_BODY_CLOSE;
}

