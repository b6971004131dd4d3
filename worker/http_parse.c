/*
 * Request and response heads of HTTP/1.1 (RFC 9112 sections 2 to 6, with
 * the field semantics of RFC 9110).  One left-to-right pass over the
 * caller's bytes, resumed where the last call stopped (struct http_scan),
 * so a head costs linear time however it arrives.  Every decision
 * depends only on the bytes before it: a prefix of a head parses as
 * "incomplete" or as the same error as the whole.  This file scans: the
 * start line, the field lines and the limits; what the fields mean is
 * http_fields.c's.  The contracts and the strictness choices are in
 * http_parse.h.
 */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "worker/http_parse_int.h"

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
const uint8_t http_cclass[256] = {
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

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct name {
	const char	*name;
	size_t		 len;
	uint8_t		 kind;
};

/*
 * Field names the proxy acts on, in lower case, by length for a quick
 * lookup (no length has four).
 */
#define FIELD_NAME_MAX	17
static const struct name fields_by_len[FIELD_NAME_MAX + 1][3] = {
	[2] = { { LIT("te"), HTTP_FIELD_TE } },
	[4] = { { LIT("host"), HTTP_FIELD_HOST } },
	[6] = { { LIT("expect"), HTTP_FIELD_EXPECT } },
	[7] = { { LIT("upgrade"), HTTP_FIELD_UPGRADE },
	    { LIT("trailer"), HTTP_FIELD_TRAILER },
	    { LIT("referer"), HTTP_FIELD_REFERER } },
	[10] = { { LIT("connection"), HTTP_FIELD_CONNECTION },
	    { LIT("keep-alive"), HTTP_FIELD_KEEP_ALIVE },
	    { LIT("user-agent"), HTTP_FIELD_USER_AGENT } },
	[12] = { { LIT("x-request-id"), HTTP_FIELD_X_REQUEST_ID } },
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

#ifdef __SSE2__
/*
 * Bit i set when byte i of v may end a run of the class `mask`, a superset
 * of the bytes out of it that the class table then decides on: for names
 * (C_TCHAR) every byte but letters, digits and '-'; for values and reasons
 * (C_FVAL) control characters and DEL; for targets (C_VCHAR) those and SP.
 * OR-ing 0x20 turns exactly the upper case letters into lower case ones,
 * and the signed compares leave bytes over 0x7f out of every range.
 */
static inline __attribute__((always_inline)) unsigned
stop_bits(__m128i v, uint8_t mask)
{
	__m128i low, ok;

	if (mask == C_TCHAR) {
		low = _mm_or_si128(v, _mm_set1_epi8(0x20));
		ok = _mm_or_si128(_mm_or_si128(
		    _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)),
		    _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1))),
		    _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
		    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)))),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
		return ~(unsigned)_mm_movemask_epi8(ok) & 0xffff;
	}
	low = _mm_set1_epi8(mask == C_FVAL ? 0x1f : 0x20);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(
	    _mm_cmpeq_epi8(_mm_min_epu8(v, low), v),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
}
#endif

/*
 * skip_class() for the runs of a head: names (C_TCHAR), values and
 * reasons (C_FVAL), targets (C_VCHAR).  With SSE2, 16 bytes at a time are
 * checked for a byte that may end the run (stop_bits); the class table
 * decides on each byte so found (an HTAB in a value, a '_' in a name go
 * on).  The last bytes before `end` are checked in the 16 that end there,
 * those before p masked off, so that a run near the end of the bytes held
 * costs no byte-by-byte loop either.  Reads nothing outside b[0..end).
 * Always inlined, so that each caller's class folds to its own code.
 */
static inline __attribute__((always_inline)) size_t
skip_run(const char *b, size_t p, size_t end, uint8_t mask)
{
#ifdef __SSE2__
	unsigned m;
	size_t q;

	while (end - p >= 16) {
		m = stop_bits(_mm_loadu_si128((const __m128i *)(b + p)), mask);
		if (m == 0) {
			p += 16;
			continue;
		}
		p += (unsigned)__builtin_ctz(m);
		if (!IS(b[p], mask))
			return p;
		p++;
	}
	if (p < end && end >= 16) {
		m = stop_bits(_mm_loadu_si128((const __m128i *)(b + end - 16)),
		    mask) >> (16 - (end - p));
		for (; m != 0; m &= m - 1) {
			q = p + (unsigned)__builtin_ctz(m);
			if (!IS(b[q], mask))
				return q;
		}
		return end;
	}
#endif
	return skip_class(b, p, end, mask);
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
	uint64_t		 w, v1, v0;
	size_t			 i;
	char			 c;

	if (*p + 8 <= h->end) {
		/* The common case, in a compare or two of eight bytes. */
		memcpy(&w, b + *p, 8);
		memcpy(&v1, "HTTP/1.1", 8);
		memcpy(&v0, "HTTP/1.0", 8);
		if (w == v1 || w == v0) {
			h->s.minor = w == v1;
			*p += 8;
			return 1;
		}
	}
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

	p = skip_run(b, h->s.pos, h->end, C_TCHAR);
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

	p = skip_run(b, h->s.pos, h->end, C_VCHAR);
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

	p = skip_run(h->buf, h->s.pos, h->end, C_FVAL);
	h->s.pos = (uint32_t)p;
	h->resp->reason = SPAN(h->s.mark, p - h->s.mark);
	if ((rc = crlf(h, &p, "bad status line")) <= 0)
		return rc;
	h->s.pos = h->s.fields = (uint32_t)p;
	h->s.step = ST_FIELD;
	return 1;
}

/*
 * Whether the field name at f, made of tchars, is `lc` (lower case letters
 * and '-', as long) in any case.  OR-ing 0x20 turns the upper case letters
 * into lower case ones and changes no other tchar into a letter or '-'
 * (only CR would become '-'), so whole words compare at once.
 */
static bool
name_is(const char *f, const char *lc, size_t n)
{
	uint64_t a, b;
	uint32_t c, d;
	size_t i;

	if (n < 4) {
		for (i = 0; i < n; i++)
			if (((unsigned char)f[i] | 0x20) !=
			    (unsigned char)lc[i])
				return false;
		return true;
	}
	if (n < 8) {
		/* Two words of four, overlapping when n < 8. */
		memcpy(&c, f, 4);
		memcpy(&d, lc, 4);
		if ((c | 0x20202020U) != d)
			return false;
		memcpy(&c, f + n - 4, 4);
		memcpy(&d, lc + n - 4, 4);
		return (c | 0x20202020U) == d;
	}
	/* Words of eight, the last one ending at n (overlapping). */
	for (i = 0;; i += 8) {
		if (i + 8 > n)
			i = n - 8;
		memcpy(&a, f + i, 8);
		memcpy(&b, lc + i, 8);
		if ((a | 0x2020202020202020ULL) != b)
			return false;
		if (i + 8 == n)
			return true;
	}
}

/*
 * The kind of a field; the hop-by-hop kinds are Connection to Trailer.
 * A name is compared only with the known names of its length and first
 * letter: most fields are told apart without a string compare.
 */
static void
classify(struct head *h, struct http_header *f)
{
	const struct name	*k;
	const char		*name = h->buf + f->name.off;
	size_t			 n = f->name.len, i;
	unsigned char		 first = (unsigned char)name[0] | 0x20;

	f->kind = HTTP_FIELD_OTHER;
	for (i = 0; n <= FIELD_NAME_MAX && i < 3; i++) {
		k = &fields_by_len[n][i];
		if (k->name == NULL)
			break;
		if ((unsigned char)k->name[0] == first &&
		    name_is(name, k->name, n)) {
			f->kind = k->kind;
			break;
		}
	}
	f->hop = f->kind >= HTTP_FIELD_CONNECTION &&
	    f->kind <= HTTP_FIELD_TRAILER;
}

static int
step_name(struct head *h)
{
	const char	*b = h->buf;
	size_t		 p;

	p = skip_run(b, h->s.pos, h->end, C_TCHAR);
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

	p = skip_run(h->buf, h->s.pos, h->end, C_FVAL);
	h->s.pos = (uint32_t)p;
	if ((rc = crlf(h, &p, "bad header value")) <= 0)
		return rc;
	set_field(h, f, h->s.line, h->s.mark, h->s.pos);
	if (f->kind != HTTP_FIELD_OTHER &&
	    (rc = http_field_semantics(h, f)) < 0)
		return rc;
	h->s.nhdr++;
	h->s.pos = (uint32_t)p;
	h->s.step = ST_FIELD;
	return 1;
}

/*
 * A whole field line at p, the common case, taken at once: a name of
 * tchars, the colon, a value of field-value bytes, CRLF, all within the
 * bytes held (and the head's limit).  Stores it as step_value does and
 * returns the position after it; 0 when the line is not whole or not
 * plain, for the steps to take it byte by byte (and say what is wrong).
 * Each line is looked at here once, at its start, so a head arriving in
 * pieces still costs linear time.
 */
static size_t
whole_line(struct head *h, size_t p, int *rc)
{
	const char		*b = h->buf;
	struct http_header	*f;
	size_t			 colon, cr;

	if (!IS(b[p], C_TCHAR) || h->s.nhdr >= h->max_hdr)
		return 0;
	colon = skip_run(b, p + 1, h->end, C_TCHAR);
	if (colon >= h->end || b[colon] != ':')
		return 0;
	cr = skip_run(b, colon + 1, h->end, C_FVAL);
	if (cr + 1 >= h->end || b[cr] != '\r' || b[cr + 1] != '\n')
		return 0;
	f = &h->hdr[h->s.nhdr];
	set_field(h, f, p, colon, cr);
	if (f->kind != HTTP_FIELD_OTHER &&
	    (*rc = http_field_semantics(h, f)) < 0)
		return 0;
	h->s.nhdr++;
	return cr + 2;
}

/* Field lines, and the blank line that ends the head. */
static int
step_field(struct head *h)
{
	const char	*b = h->buf;
	size_t		 p = h->s.pos, next;
	int		 rc = 1;

	while (p < h->end && (next = whole_line(h, p, &rc)) != 0)
		h->s.pos = (uint32_t)(p = next);
	if (rc < 0)
		return rc;
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
		colon = skip_run(h->buf, line, h->end, C_TCHAR);
		cr = skip_run(h->buf, colon + 1, h->end, C_FVAL);
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
		rc = http_finish_request(&h, req);
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
		rc = http_finish_response(&h, resp);
	return head_end(&h, rc, &resp->scan, &resp->error);
}
