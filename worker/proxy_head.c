/*
 * Header rewriting, both ways, over the field lines the parser found
 * (proxy.headers): the request head rendered for the server, hop-by-hop
 * fields dropped and X-Forwarded-* set; the response head rewritten in
 * place for the client.  Also finds the consistent_hash key in a request
 * head.  Nothing here does I/O.
 */
#include <string.h>

#include "worker/proxy_int.h"

/*
 * Field lines not forwarded: hop-by-hop ones, and in a request those the
 * proxy sets (X-Request-Id only when it sets its own, see proxy_log.c).
 */
static bool
drop_field(const struct http_header *h, const struct exchange *x)
{
	if (h->hop)
		return true;
	if (x == NULL)
		return false;
	return h->kind == HTTP_FIELD_X_FORWARDED_FOR ||
	    h->kind == HTTP_FIELD_X_FORWARDED_PROTO ||
	    h->kind == HTTP_FIELD_X_FORWARDED_HOST ||
	    (h->kind == HTTP_FIELD_X_REQUEST_ID && x->rid_add);
}

static bool
is_xff(const struct http_header *h)
{
	return h->kind == HTTP_FIELD_X_FORWARDED_FOR && !h->hop;
}

/* Appends to a bounded span of memory; `full` records an overflow. */
struct writer {
	char	*p;
	char	*end;
	bool	 full;
};

static void
put(struct writer *w, const void *s, size_t n)
{
	if (w->full || (size_t)(w->end - w->p) < n) {
		w->full = true;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

#define PUTS(w, lit)	put((w), (lit), sizeof(lit) - 1)

/*
 * Writes the request head for the server into c->out at HEADROOM: the
 * client's head (request line untouched, so the version passes as sent)
 * minus the dropped field lines, copied in runs, then X-Forwarded-For
 * (earlier values joined, the client's address last), -Proto and -Host,
 * the proxy's X-Request-Id if it has one for the server, and
 * "Connection: keep-alive" for HTTP/1.0 (HTTP/1.1 keeps alive by default).
 * Returns 0, or -1 if it does not fit.
 */
int
proxy_render_request(struct client *c, const char *head, uint32_t hlen)
{
	const struct http_request *req = &c->x.req;
	const struct http_header *h = proxy.headers;
	struct buf *out = c->out;
	struct writer w = { out->data + HEADROOM, out->data + out->cap, false };
	size_t i, s, run = req->method_name.off, n = req->nheaders;
	size_t nxff = 0, ridlen;
	const char *rid;

	for (i = 0; i < n; i++) {
		if (!drop_field(&h[i], &c->x))
			continue;
		s = h[i].name.off;
		put(&w, head + run, s - run);
		run = i + 1 < n ? h[i + 1].name.off : hlen - 2;
		nxff += is_xff(&h[i]);
	}
	put(&w, head + run, hlen - 2 - run);
	PUTS(&w, "X-Forwarded-For: ");
	for (i = 0; nxff > 0 && i < n; i++) {
		if (!is_xff(&h[i]) || h[i].value.len == 0)
			continue;
		put(&w, head + h[i].value.off, h[i].value.len);
		PUTS(&w, ", ");
	}
	put(&w, c->ip, c->iplen);
	PUTS(&w, "\r\nX-Forwarded-Proto: http\r\n");
	if (req->has_host && req->host.len > 0) {
		PUTS(&w, "X-Forwarded-Host: ");
		put(&w, head + req->host.off, req->host.len);
		PUTS(&w, "\r\n");
	}
	if (c->x.rid_add) {
		PUTS(&w, "X-Request-Id: ");
		rid = proxy_request_id(c, &ridlen);
		put(&w, rid, ridlen);
		PUTS(&w, "\r\n");
	}
	if (req->minor == 0)
		PUTS(&w, "Connection: keep-alive\r\n");
	PUTS(&w, "\r\n");
	if (w.full)
		return -1;
	out->off = HEADROOM;
	out->len = (uint32_t)(w.p - out->data);
	return 0;
}

/*
 * Rewrites the response head at out[off, off + hlen) in place: drops the
 * hop-by-hop field lines and puts `extra` after the status line.  Kept
 * lines move towards the end (the final CRLF stays put, so the body still
 * follows the head with no gap) and the status line moves back into the
 * room before off, which the caller guarantees is free for at least
 * HEADROOM bytes.  One write(2) then sends head and body.  Returns the
 * head's new start.
 */
uint32_t
proxy_rewrite_response(struct client *c, uint32_t off, uint32_t hlen,
    const char *extra, size_t elen)
{
	const struct http_header *h = proxy.headers;
	size_t i, s, e, n = c->x.resp.nheaders;
	size_t status_len = n > 0 ? h[0].name.off : hlen - 2;
	char *base = c->out->data + off, *dst = base + hlen - 2;

	for (i = n; i-- > 0;) {
		if (drop_field(&h[i], NULL))
			continue;
		s = h[i].name.off;
		e = i + 1 < n ? h[i + 1].name.off : hlen - 2;
		dst -= e - s;
		if (dst != base + s)
			memmove(dst, base + s, e - s);
	}
	dst -= elen + status_len;
	if (dst != base)
		memmove(dst, base, status_len);
	memcpy(dst + status_len, extra, elen);
	return (uint32_t)(dst - c->out->data);
}

static void
set_key(struct exchange *x, size_t off, size_t len)
{
	x->has_key = true;
	x->key_off = (uint32_t)off;
	x->key_len = (uint32_t)len;
}

/* Finds the consistent_hash key in the head just parsed, if the pool
   wants one. */
void
proxy_request_key(struct client *c, const char *head)
{
	const struct conf_pool *p = c->listener->pool;
	struct exchange *x = &c->x;
	const struct http_header *h;
	const char *v;
	size_t len;
	int i;

	if (p->algorithm != ALG_CONSISTENT_HASH)
		return;
	switch (p->hash_key) {
	case HASH_URI:
		set_key(x, x->req.target.off, x->req.target.len);
		break;
	case HASH_HEADER:
		i = http_header_find(head, proxy.headers, x->req.nheaders,
		    p->hash_key_name, strlen(p->hash_key_name));
		if (i >= 0)
			set_key(x, proxy.headers[i].value.off,
			    proxy.headers[i].value.len);
		break;
	case HASH_COOKIE:
		i = http_header_find(head, proxy.headers, x->req.nheaders,
		    "cookie", 6);
		if (i < 0)
			break;
		h = &proxy.headers[i];
		v = lb_cookie_value(head + h->value.off, h->value.len,
		    p->hash_key_name, &len);
		if (v != NULL)
			set_key(x, (size_t)(v - head), len);
		break;
	case HASH_CLIENT_IP:
		break;
	}
}
