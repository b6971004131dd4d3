/*
 * What the fields of a head mean to the proxy (RFC 9110 with RFC 9112's
 * framing rules): Content-Length, Transfer-Encoding, Connection and its
 * options, Host, Expect, each weighed as its line completes; then the
 * verdict on the whole head (framing, keep-alive, hop-by-hop options).
 * The scan that finds the lines is http_parse.c; the contracts and the
 * strictness choices are in http_parse.h.
 */
#include <string.h>

#include "worker/http_parse_int.h"

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

	/* The common case, one number of at most 18 digits: no list to
	   split and no overflow to fear. */
	for (k = 0, val = 0; k < n && k < 18 && IS_DIGIT(v[k]); k++)
		val = val * 10 + (v[k] - '0');
	if (k == n && n > 0) {
		if (h->s.clen >= 0 && h->s.clen != val)
			return fail(h, 400, "conflicting Content-Length");
		h->s.clen = val;
		return 1;
	}
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

/*
 * What the fields the proxy cares about say; called per complete line of
 * a kind other than HTTP_FIELD_OTHER (most lines are not, and skip it).
 */
int
http_field_semantics(struct head *h, struct http_header *f)
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

int
http_finish_request(struct head *h, struct http_request *req)
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

int
http_finish_response(struct head *h, struct http_response *resp)
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
