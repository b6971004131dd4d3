/*
 * Request and response heads of HTTP/1.1 (RFC 9112 sections 2 to 6, with
 * the field semantics of RFC 9110).  One left-to-right pass over the
 * caller's bytes, resumed where the last call stopped (struct http_scan),
 * so a head costs linear time however it arrives.  Every decision
 * depends only on the bytes before it: a prefix of a head parses as
 * "incomplete" or as the same error as the whole.  The contracts and the
 * strictness choices are in http_parse.h.
 */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "worker/http_parse.h"

/* Character classes, one bit each in cclass[]. */
#define C_TCHAR		0x01	/* token (RFC 9110 section 5.6.2) */
#define C_FVAL		0x02	/* field value: SP, HTAB, VCHAR, obs-text */
#define C_VCHAR		0x04	/* VCHAR and obs-text: request-target bytes */
#define C_HOST		0x08	/* uri-host and port (RFC 3986) */
#define C_SCHEME	0x10	/* URI scheme after its first letter */

/* The combinations that occur, named for the table below. */
#define NO	0
#define WS	C_FVAL					/* SP, HTAB */
#define VC	(C_FVAL | C_VCHAR)			/* other visible */
#define TK	(VC | C_TCHAR)				/* token only */
#define HD	(VC | C_HOST)				/* host delimiter */
#define TH	(TK | C_HOST)				/* token and host */
#define AN	(TH | C_SCHEME)				/* alnum + - . */

/* One row per 16 byte values, from 0x00 to 0xff. */
/* clang-format off */
static const uint8_t cclass[256] = {
	NO, NO, NO, NO, NO, NO, NO, NO, NO, WS, NO, NO, NO, NO, NO, NO,
	NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
	WS, TH, VC, TK, TH, TH, TH, TH, HD, HD, TH, AN, HD, AN, AN, VC,
	AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, HD, HD, VC, HD, VC, VC,
	VC, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN,
	AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, HD, VC, HD, TK, TH,
	TK, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN,
	AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, AN, VC, TK, VC, TH, NO,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
	VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC, VC,
};
/* clang-format on */

/* Spans are 32-bit and the head length is returned as an int. */
#define HEAD_MAX	INT32_MAX

#define SPAN(off, len)	\
	((struct http_span){ (uint32_t)(off), (uint32_t)(len) })
#define IS(c, m)	((cclass[(unsigned char)(c)] & (m)) != 0)
#define IS_DIGIT(c)	((unsigned char)((c) - '0') < 10)
#define IS_OWS(c)	((c) == ' ' || (c) == '\t')
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, as two arguments. */
#define LIT(s)		s, sizeof(s) - 1

struct name {
	const char	*name;
	size_t		 len;
	uint8_t		 kind;
};

/*
 * Field names the proxy acts on, in lower case, by length for a quick
 * lookup (no length has three).
 */
#define FIELD_NAME_MAX	17
static const struct name fields_by_len[FIELD_NAME_MAX + 1][2] = {
	[2] = { { LIT("te"), HTTP_FIELD_TE } },
	[4] = { { LIT("host"), HTTP_FIELD_HOST } },
	[6] = { { LIT("expect"), HTTP_FIELD_EXPECT } },
	[7] = { { LIT("upgrade"), HTTP_FIELD_UPGRADE },
	    { LIT("trailer"), HTTP_FIELD_TRAILER } },
	[10] = { { LIT("connection"), HTTP_FIELD_CONNECTION },
	    { LIT("keep-alive"), HTTP_FIELD_KEEP_ALIVE } },
	[14] = { { LIT("content-length"), HTTP_FIELD_CONTENT_LENGTH } },
	[15] = { { LIT("x-forwarded-for"), HTTP_FIELD_X_FORWARDED_FOR } },
	[16] = { { LIT("proxy-connection"), HTTP_FIELD_PROXY_CONNECTION },
	    { LIT("x-forwarded-host"), HTTP_FIELD_X_FORWARDED_HOST } },
	[17] = { { LIT("transfer-encoding"), HTTP_FIELD_TRANSFER_ENCODING },
	    { LIT("x-forwarded-proto"), HTTP_FIELD_X_FORWARDED_PROTO } },
};

static const struct name method_names[] = {
	{ LIT("GET"), HTTP_METHOD_GET },
	{ LIT("HEAD"), HTTP_METHOD_HEAD },
	{ LIT("POST"), HTTP_METHOD_POST },
	{ LIT("PUT"), HTTP_METHOD_PUT },
	{ LIT("DELETE"), HTTP_METHOD_DELETE },
	{ LIT("OPTIONS"), HTTP_METHOD_OPTIONS },
	{ LIT("PATCH"), HTTP_METHOD_PATCH },
	{ LIT("TRACE"), HTTP_METHOD_TRACE },
	{ LIT("CONNECT"), HTTP_METHOD_CONNECT },
};

/* Where a parse is, within a head's lines (struct http_scan's step). */
enum {
	ST_START,	/* before the request line: empty lines allowed */
	ST_METHOD,
	ST_TARGET,
	ST_VERSION,	/* "HTTP/1.x" CRLF after the target */
	ST_STATUS,	/* "HTTP/1.x ddd" and the SP or CR after it */
	ST_REASON,	/* the reason and its CRLF */
	ST_FIELD,	/* start of a field line or of the blank line */
	ST_NAME,
	ST_VALUE,	/* a value and its CRLF */
	ST_DONE,
};

/* One call's view of a head; the lasting state is in `s`. */
struct head {
	const char		*buf;
	size_t			 len;		/* bytes the caller holds */
	size_t			 max_head;
	size_t			 end;		/* min(len, max_head) */
	struct http_header	*hdr;
	size_t			 max_hdr;
	struct http_request	*req;		/* one of req and resp is set */
	struct http_response	*resp;
	struct http_scan	 s;
	const char		*error;
};

static inline unsigned char
lower(unsigned char c)
{
	return (unsigned char)(c - 'A') < 26 ? c | 0x20 : c;
}

/* Case-insensitive equality of a[0..an) and b[0..bn). */
static bool
ieq(const char *a, size_t an, const char *b, size_t bn)
{
	size_t	i;

	if (an != bn)
		return false;
	for (i = 0; i < an; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

static size_t
skip_class(const char *b, size_t p, size_t end, uint8_t mask)
{
	while (p < end && IS(b[p], mask))
		p++;
	return p;
}

/*
 * skip_class() for the long runs, field values and reasons (C_FVAL) and
 * targets (C_VCHAR): with SSE2, 16 bytes at a time are checked for a
 * control character, DEL or (targets) SP, a superset of the bytes out of
 * the class; the class table decides on each byte so found.
 */
static size_t
skip_text(const char *b, size_t p, size_t end, uint8_t mask)
{
#ifdef __SSE2__
	const __m128i	lim = _mm_set1_epi8(mask == C_FVAL ? 0x1f : 0x20);
	const __m128i	del = _mm_set1_epi8(0x7f);
	__m128i		v;
	unsigned	m;

	while (end - p >= 16) {
		v = _mm_loadu_si128((const __m128i *)(b + p));
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmpeq_epi8(_mm_min_epu8(v, lim), v),
		    _mm_cmpeq_epi8(v, del)));
		if (m == 0) {
			p += 16;
			continue;
		}
		p += (unsigned)__builtin_ctz(m);
		if (!IS(b[p], mask))
			return p;
		p++;		/* HTAB in a value */
	}
#endif
	return skip_class(b, p, end, mask);
}

static int
fail(struct head *h, int status, const char *why)
{
	h->error = why;
	return h->resp != NULL ? -502 : -status;
}

/* Out of bytes: wait for more unless the limit is already reached. */
static int
more(struct head *h)
{
	if (h->len >= h->max_head)
		return fail(h, 431, "head too large");
	return HTTP_INCOMPLETE;
}

/* Names the fault of an unexpected byte, the line ends first. */
static int
bad_byte(struct head *h, char c, const char *what)
{
	if (c == '\n')
		return fail(h, 400, "bare LF");
	return fail(h, 400, what);
}

/* Expects CRLF at *p and steps over it: 1, HTTP_INCOMPLETE or an error. */
static int
crlf(struct head *h, size_t *p, const char *what)
{
	const char	*b = h->buf;

	if (*p >= h->end)
		return more(h);
	if (b[*p] != '\r')
		return bad_byte(h, b[*p], what);
	if (*p + 1 >= h->end)
		return more(h);
	if (b[*p + 1] != '\n')
		return fail(h, 400, "bare CR");
	*p += 2;
	return 1;
}

/* "HTTP/1.0" or "HTTP/1.1" at *p: 1 (minor set), incomplete, or error. */
static int
version(struct head *h, size_t *p)
{
	static const char	 name[] = "HTTP/d.d";
	const char		*b = h->buf;
	size_t			 i;
	char			 c;

	for (i = 0; i < 8; i++) {
		if (*p + i >= h->end)
			return more(h);
		c = b[*p + i];
		if (name[i] == 'd' ? !IS_DIGIT(c) : c != name[i])
			return bad_byte(h, c, "bad HTTP version");
	}
	if (b[*p + 5] != '1' || b[*p + 7] > '1')
		return fail(h, 505, "HTTP version not supported");
	h->s.minor = b[*p + 7] - '0';
	*p += 8;
	return 1;
}

static enum http_method
method_kind(const char *m, size_t n)
{
	size_t	i;

	for (i = 0; i < NELEM(method_names); i++)
		if (method_names[i].len == n &&
		    memcmp(method_names[i].name, m, n) == 0)
			return (enum http_method)method_names[i].kind;
	return HTTP_METHOD_OTHER;
}

/* The four forms of request-target (RFC 9112 section 3.2). */
static int
check_target(struct head *h, enum http_method m, const char *t, size_t n)
{
	size_t	i;

	if (m == HTTP_METHOD_CONNECT) {
		/* authority-form only: uri-host ":" port */
		for (i = n; i > 0 && IS_DIGIT(t[i - 1]); i--)
			;
		if (i == n || i < 2 || t[i - 1] != ':' ||
		    skip_class(t, 0, i - 1, C_HOST) != i - 1)
			return fail(h, 400, "bad request target");
		return 1;
	}
	if (t[0] == '/' || (t[0] == '*' && n == 1 &&
	    m == HTTP_METHOD_OPTIONS))
		return 1;
	/* absolute-form: scheme ":" ... */
	for (i = 1; i < n && IS(t[i], C_SCHEME); i++)
		;
	if ((unsigned char)(lower((unsigned char)t[0]) - 'a') >= 26 ||
	    i == n || t[i] != ':')
		return fail(h, 400, "bad request target");
	return 1;
}

/* Empty lines before the request line (RFC 9112 section 2.2). */
static int
step_start(struct head *h)
{
	size_t	p = h->s.pos;
	int	rc;

	while (p < h->end && h->buf[p] == '\r') {
		if ((rc = crlf(h, &p, "bad request line")) <= 0)
			return rc;
		h->s.pos = (uint32_t)p;
	}
	if (p >= h->end)
		return more(h);
	h->s.line = (uint32_t)p;
	h->s.step = ST_METHOD;
	return 1;
}

static int
step_method(struct head *h)
{
	struct http_request	*req = h->req;
	const char		*b = h->buf;
	size_t			 p;

	p = skip_class(b, h->s.pos, h->end, C_TCHAR);
	h->s.pos = (uint32_t)p;
	if (p >= h->end)
		return more(h);
	if (b[p] != ' ' || p == h->s.line)
		return bad_byte(h, b[p], "bad method");
	req->method_name = SPAN(h->s.line, p - h->s.line);
	req->method = method_kind(b + h->s.line, p - h->s.line);
	h->s.pos = h->s.mark = (uint32_t)p + 1;
	h->s.step = ST_TARGET;
	return 1;
}

static int
step_target(struct head *h)
{
	struct http_request	*req = h->req;
	const char		*b = h->buf;
	size_t			 p;
	int			 rc;

	p = skip_text(b, h->s.pos, h->end, C_VCHAR);
	h->s.pos = (uint32_t)p;
	if (p >= h->end)
		return more(h);
	if (b[p] != ' ' || p == h->s.mark)
		return bad_byte(h, b[p], "bad request line");
	req->target = SPAN(h->s.mark, p - h->s.mark);
	rc = check_target(h, req->method, b + h->s.mark, p - h->s.mark);
	if (rc < 0)
		return rc;
	h->s.pos = (uint32_t)p + 1;
	h->s.step = ST_VERSION;
	return 1;
}

/* The version is short: it is looked at whole, with its CRLF. */
static int
step_version(struct head *h)
{
	size_t	p = h->s.pos;
	int	rc;

	if ((rc = version(h, &p)) <= 0 ||
	    (rc = crlf(h, &p, "bad request line")) <= 0)
		return rc;
	h->s.pos = h->s.fields = (uint32_t)p;
	h->s.step = ST_FIELD;
	return 1;
}

/* "HTTP/1.x ddd" then SP or CR; short too, so looked at whole. */
static int
step_status(struct head *h)
{
	struct http_response	*resp = h->resp;
	const char		*b = h->buf;
	size_t			 p = 0, i;
	int			 rc;

	if ((rc = version(h, &p)) <= 0)
		return rc;
	if (p >= h->end)
		return more(h);
	if (b[p++] != ' ')
		return bad_byte(h, b[p - 1], "bad status line");
	resp->status = 0;
	for (i = 0; i < 3; i++, p++) {
		if (p >= h->end)
			return more(h);
		if (!IS_DIGIT(b[p]))
			return bad_byte(h, b[p], "bad status code");
		resp->status = resp->status * 10 + (b[p] - '0');
	}
	if (resp->status < 100 || resp->status > 599)
		return fail(h, 502, "bad status code");
	if (p >= h->end)
		return more(h);
	/* Tolerate "HTTP/1.1 200" without the SP before an empty reason. */
	if (b[p] == ' ')
		p++;
	else if (b[p] != '\r')
		return bad_byte(h, b[p], "bad status line");
	h->s.pos = h->s.mark = (uint32_t)p;
	h->s.step = ST_REASON;
	return 1;
}

static int
step_reason(struct head *h)
{
	size_t	p;
	int	rc;

	p = skip_text(h->buf, h->s.pos, h->end, C_FVAL);
	h->s.pos = (uint32_t)p;
	h->resp->reason = SPAN(h->s.mark, p - h->s.mark);
	if ((rc = crlf(h, &p, "bad status line")) <= 0)
		return rc;
	h->s.pos = h->s.fields = (uint32_t)p;
	h->s.step = ST_FIELD;
	return 1;
}

/*
 * Next element of a comma-separated list v[0..n) from *i, OWS trimmed
 * (RFC 9110 section 5.6.1).  An element may be empty.  False at the end.
 */
static bool
list_next(const char *v, size_t n, size_t *i, size_t *es, size_t *el)
{
	size_t	s, e;

	if (*i > n)
		return false;
	s = *i;
	e = s;
	while (e < n && v[e] != ',')
		e++;
	*i = e + 1;
	while (s < e && IS_OWS(v[s]))
		s++;
	while (e > s && IS_OWS(v[e - 1]))
		e--;
	*es = s;
	*el = e - s;
	return true;
}

static int
content_length(struct head *h, const char *v, size_t n)
{
	size_t	i = 0, s, l, k;
	int64_t	val;

	while (list_next(v, n, &i, &s, &l)) {
		if (l == 0)
			return fail(h, 400, "bad Content-Length");
		val = 0;
		for (k = s; k < s + l; k++) {
			if (!IS_DIGIT(v[k]))
				return fail(h, 400, "bad Content-Length");
			if (val > (INT64_MAX - (v[k] - '0')) / 10)
				return fail(h, 400, "Content-Length too large");
			val = val * 10 + (v[k] - '0');
		}
		if (h->s.clen >= 0 && h->s.clen != val)
			return fail(h, 400, "conflicting Content-Length");
		h->s.clen = val;
	}
	return 1;
}

/*
 * Transfer-Encoding codings are only counted here; the verdict on their
 * order needs the whole head (finish_request, finish_response).
 */
static int
transfer_encoding(struct head *h, const char *v, size_t n)
{
	size_t	i = 0, s, l, k;

	h->s.te_lines++;
	while (list_next(v, n, &i, &s, &l)) {
		if (l == 0)
			return fail(h, 400, "bad Transfer-Encoding");
		h->s.te_codings++;
		if (ieq(v + s, l, LIT("chunked"))) {
			h->s.te_chunked++;
			h->s.te_chunked_last = true;
			continue;
		}
		h->s.te_chunked_last = false;
		/* Another coding: a token, maybe followed by parameters. */
		k = skip_class(v, s, s + l, C_TCHAR);
		while (k < s + l && IS_OWS(v[k]))
			k++;
		if (k == s || (k < s + l && v[k] != ';') ||
		    ieq(v + s, k - s, LIT("chunked")))
			return fail(h, 400, "bad Transfer-Encoding");
	}
	return 1;
}

static int
connection(struct head *h, const char *v, size_t n)
{
	size_t	i = 0, s, l;

	while (list_next(v, n, &i, &s, &l)) {
		if (l == 0)
			continue;
		if (skip_class(v, s, s + l, C_TCHAR) != s + l)
			return fail(h, 400, "bad Connection");
		if (ieq(v + s, l, LIT("close")))
			h->s.conn |= HTTP_CONN_CLOSE;
		else if (ieq(v + s, l, LIT("keep-alive")))
			h->s.conn |= HTTP_CONN_KEEP_ALIVE;
		else if (ieq(v + s, l, LIT("upgrade")))
			h->s.conn |= HTTP_CONN_UPGRADE;
		else {
			h->s.conn |= HTTP_CONN_OTHER;
			if (++h->s.conn_options > HTTP_CONN_OPTIONS_MAX)
				return fail(h, 400,
				    "too many Connection options");
		}
	}
	return 1;
}

/* What the fields the proxy cares about say; called per complete line. */
static int
field_semantics(struct head *h, struct http_header *f)
{
	const char	*v = h->buf + f->value.off;
	size_t		 n = f->value.len;

	switch (f->kind) {
	case HTTP_FIELD_CONTENT_LENGTH:
		return content_length(h, v, n);
	case HTTP_FIELD_TRANSFER_ENCODING:
		return transfer_encoding(h, v, n);
	case HTTP_FIELD_CONNECTION:
		return connection(h, v, n);
	case HTTP_FIELD_UPGRADE:
		h->s.upgrade = true;
		return 1;
	case HTTP_FIELD_HOST:
		if (h->resp != NULL)
			return 1;
		if (++h->s.nhost > 1)
			return fail(h, 400, "duplicate Host");
		if (skip_class(v, 0, n, C_HOST) != n)
			return fail(h, 400, "bad Host");
		h->s.host = f->value;
		return 1;
	case HTTP_FIELD_EXPECT:
		if (ieq(v, n, LIT("100-continue")))
			h->s.expect_continue = true;
		return 1;
	default:
		return 1;
	}
}

/* The kind of a field; the hop-by-hop kinds are Connection to Upgrade. */
static void
classify(struct head *h, struct http_header *f)
{
	const struct name	*k;
	size_t			 n = f->name.len, i;

	f->kind = HTTP_FIELD_OTHER;
	for (i = 0; n <= FIELD_NAME_MAX && i < 2; i++) {
		k = &fields_by_len[n][i];
		if (k->name != NULL &&
		    ieq(h->buf + f->name.off, n, k->name, k->len)) {
			f->kind = k->kind;
			break;
		}
	}
	f->hop = f->kind >= HTTP_FIELD_CONNECTION &&
	    f->kind <= HTTP_FIELD_UPGRADE;
}

/* Start of a field line, or the blank line that ends the head. */
static int
step_field(struct head *h)
{
	const char	*b = h->buf;
	size_t		 p = h->s.pos;
	int		 rc;

	if (p >= h->end)
		return more(h);
	if (b[p] == '\r' || b[p] == '\n') {
		if ((rc = crlf(h, &p, "bad header line")) <= 0)
			return rc;
		h->s.pos = (uint32_t)p;
		h->s.step = ST_DONE;
		return 1;
	}
	if (IS_OWS(b[p]))
		return fail(h, 400, "obsolete line folding");
	if (b[p] == ':')
		return fail(h, 400, "empty header name");
	if (h->s.nhdr >= h->max_hdr)
		return fail(h, 431, "too many headers");
	h->s.line = (uint32_t)p;
	h->s.step = ST_NAME;
	return 1;
}

static int
step_name(struct head *h)
{
	const char	*b = h->buf;
	size_t		 p;

	p = skip_class(b, h->s.pos, h->end, C_TCHAR);
	h->s.pos = (uint32_t)p;
	if (p >= h->end)
		return more(h);
	if (b[p] != ':') {
		if (IS_OWS(b[p]))
			return fail(h, 400, "whitespace before colon");
		return bad_byte(h, b[p], "bad header name");
	}
	h->s.mark = (uint32_t)p;
	h->s.pos = (uint32_t)p + 1;
	h->s.step = ST_VALUE;
	return 1;
}

/*
 * Fills f from a whole field line: the name from `line` to the colon, the
 * value after it up to the CR, without the SP/HTAB around it.
 */
static void
set_field(struct head *h, struct http_header *f, size_t line, size_t colon,
    size_t cr)
{
	size_t	vs = colon + 1, ve = cr;

	while (vs < ve && IS_OWS(h->buf[vs]))
		vs++;
	while (ve > vs && IS_OWS(h->buf[ve - 1]))
		ve--;
	f->name = SPAN(line, colon - line);
	f->value = SPAN(vs, ve - vs);
	classify(h, f);
}

/* A value and its CRLF: the line is whole, store it and weigh it. */
static int
step_value(struct head *h)
{
	struct http_header	*f = &h->hdr[h->s.nhdr];
	size_t			 p;
	int			 rc;

	p = skip_text(h->buf, h->s.pos, h->end, C_FVAL);
	h->s.pos = (uint32_t)p;
	if ((rc = crlf(h, &p, "bad header value")) <= 0)
		return rc;
	set_field(h, f, h->s.line, h->s.mark, h->s.pos);
	if ((rc = field_semantics(h, f)) < 0)
		return rc;
	h->s.nhdr++;
	h->s.pos = (uint32_t)p;
	h->s.step = ST_FIELD;
	return 1;
}

/*
 * The header array is scratch space between calls (one array may serve
 * the heads of many connections in turn): the call that completes a head
 * writes again the entries of the lines that earlier calls parsed.  Those
 * lines were checked: the name runs to the colon, the value to the CR.
 */
static void
refill(struct head *h, uint32_t n)
{
	size_t		line = h->s.fields, colon, cr;
	uint32_t	i;

	for (i = 0; i < n; i++) {
		colon = skip_class(h->buf, line, h->end, C_TCHAR);
		cr = skip_text(h->buf, colon + 1, h->end, C_FVAL);
		set_field(h, &h->hdr[i], line, colon, cr);
		line = cr + 2;
	}
}

static int (*const steps[])(struct head *) = {
	[ST_START] = step_start,
	[ST_METHOD] = step_method,
	[ST_TARGET] = step_target,
	[ST_VERSION] = step_version,
	[ST_STATUS] = step_status,
	[ST_REASON] = step_reason,
	[ST_FIELD] = step_field,
	[ST_NAME] = step_name,
	[ST_VALUE] = step_value,
};

/*
 * Runs the steps from where the last call stopped until the head is whole
 * (1), the bytes run out (HTTP_INCOMPLETE) or a fault (< 0).
 */
static int
run(struct head *h)
{
	uint32_t	done = h->s.nhdr;	/* lines of earlier calls */
	int		rc;

	while (h->s.step != ST_DONE)
		if ((rc = steps[h->s.step](h)) <= 0)
			return rc;
	refill(h, done);
	return 1;
}

/*
 * Marks the fields named by Connection options hop-by-hop (RFC 9110
 * section 7.6.1), except the framing and routing fields.  The options
 * were validated and counted (at most HTTP_CONN_OPTIONS_MAX) already.
 */
static void
mark_options(struct head *h)
{
	struct http_header	*c, *f;
	const char		*v;
	size_t			 i, s, l;

	if (!(h->s.conn & HTTP_CONN_OTHER))
		return;
	for (c = h->hdr; c < h->hdr + h->s.nhdr; c++) {
		if (c->kind != HTTP_FIELD_CONNECTION)
			continue;
		v = h->buf + c->value.off;
		i = 0;
		while (list_next(v, c->value.len, &i, &s, &l)) {
			for (f = h->hdr; f < h->hdr + h->s.nhdr; f++) {
				if (f->name.len != l ||
				    f->kind == HTTP_FIELD_HOST ||
				    f->kind == HTTP_FIELD_CONTENT_LENGTH ||
				    f->kind == HTTP_FIELD_TRANSFER_ENCODING)
					continue;
				if (ieq(h->buf + f->name.off, l, v + s, l))
					f->hop = 1;
			}
		}
	}
}

static bool
keep_alive(struct head *h)
{
	if (h->s.conn & HTTP_CONN_CLOSE)
		return false;
	return h->s.minor == 1 || (h->s.conn & HTTP_CONN_KEEP_ALIVE);
}

static int
finish_request(struct head *h, struct http_request *req)
{
	if (h->s.minor == 1 && h->s.nhost == 0)
		return fail(h, 400, "missing Host");
	if (h->s.te_lines > 0) {
		if (h->s.minor == 0)
			return fail(h, 400, "Transfer-Encoding in HTTP/1.0");
		if (h->s.clen >= 0)
			return fail(h, 400,
			    "Content-Length with Transfer-Encoding");
		if (!h->s.te_chunked_last || h->s.te_chunked > 1)
			return fail(h, 400, "chunked is not the final coding");
		if (h->s.te_codings > 1)
			return fail(h, 501, "unsupported Transfer-Encoding");
	}
	mark_options(h);
	req->minor = h->s.minor;
	req->nheaders = h->s.nhdr;
	req->content_length = h->s.clen;
	req->chunked = h->s.te_lines > 0;
	req->keep_alive = keep_alive(h);
	req->expect_continue = h->s.expect_continue && h->s.minor == 1;
	req->upgrade = h->s.upgrade;
	req->has_host = h->s.nhost > 0;
	req->host = h->s.host;
	req->connection = h->s.conn;
	return 1;
}

static int
finish_response(struct head *h, struct http_response *resp)
{
	if (h->s.te_lines > 0) {
		if (h->s.clen >= 0)
			return fail(h, 502,
			    "Content-Length with Transfer-Encoding");
		if (h->s.te_chunked > 1)
			return fail(h, 502, "chunked applied twice");
		if (h->s.te_chunked == 1 && !h->s.te_chunked_last)
			return fail(h, 502, "chunked is not the final coding");
	}
	mark_options(h);
	resp->minor = h->s.minor;
	resp->nheaders = h->s.nhdr;
	resp->content_length = h->s.clen;
	resp->transfer_encoding = h->s.te_lines > 0;
	/* RFC 9112 section 6.1: 1.0 with Transfer-Encoding reads to close. */
	resp->chunked = h->s.te_chunked_last && h->s.minor == 1;
	resp->keep_alive = keep_alive(h) &&
	    !(resp->transfer_encoding && h->s.minor == 0);
	resp->connection = h->s.conn;
	return 1;
}

static void
scan_init(struct http_scan *s, bool response)
{
	memset(s, 0, sizeof(*s));
	s->clen = -1;
	s->step = response ? ST_STATUS : ST_START;
}

/*
 * Picks up the parse of buf[0..len) where the last call left it (state s,
 * header array hdr of max_hdr entries).  The caller then sets req or resp.
 */
static void
head_start(struct head *h, const char *buf, size_t len, size_t max_head,
    struct http_header *hdr, size_t max_hdr, const struct http_scan *s)
{
	if (max_head > HEAD_MAX)
		max_head = HEAD_MAX;
	h->buf = buf;
	h->len = len;
	h->max_head = max_head;
	h->end = len < max_head ? len : max_head;
	h->hdr = hdr;
	h->max_hdr = max_hdr;
	h->req = NULL;
	h->resp = NULL;
	h->s = *s;
	h->error = NULL;
}

/* Ends a call that gave rc: keeps the state, returns the public result. */
static int
head_end(struct head *h, int rc, struct http_scan *s, const char **error)
{
	*s = h->s;
	if (rc < 0)
		*error = h->error;
	return rc > 0 ? (int)h->s.pos : rc;
}

void
http_request_init(struct http_request *req, struct http_header *headers,
    size_t max_headers)
{
	memset(req, 0, sizeof(*req));
	req->headers = headers;
	req->max_headers = max_headers;
	req->content_length = -1;
	scan_init(&req->scan, false);
}

void
http_response_init(struct http_response *resp, struct http_header *headers,
    size_t max_headers)
{
	memset(resp, 0, sizeof(*resp));
	resp->headers = headers;
	resp->max_headers = max_headers;
	resp->content_length = -1;
	scan_init(&resp->scan, true);
}

int
http_parse_request(const char *buf, size_t len, size_t max_head,
    struct http_request *req)
{
	struct head	h;
	int		rc;

	head_start(&h, buf, len, max_head, req->headers, req->max_headers,
	    &req->scan);
	h.req = req;
	/* Fewer bytes than already examined: not the same head; start over. */
	if (h.s.pos > len)
		scan_init(&h.s, false);
	if ((rc = run(&h)) > 0)
		rc = finish_request(&h, req);
	return head_end(&h, rc, &req->scan, &req->error);
}

int
http_parse_response(const char *buf, size_t len, size_t max_head,
    struct http_response *resp)
{
	struct head	h;
	int		rc;

	head_start(&h, buf, len, max_head, resp->headers, resp->max_headers,
	    &resp->scan);
	h.resp = resp;
	if (h.s.pos > len)
		scan_init(&h.s, true);
	if ((rc = run(&h)) > 0)
		rc = finish_response(&h, resp);
	return head_end(&h, rc, &resp->scan, &resp->error);
}

int
http_header_find(const char *buf, const struct http_header *headers,
    size_t n, const char *name, size_t namelen)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (ieq(buf + headers[i].name.off, headers[i].name.len,
		    name, namelen))
			return (int)i;
	return -1;
}
