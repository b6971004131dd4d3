/*
 * What the files of the HTTP head parser share, and nothing outside them
 * sees: the byte classes, one call's view of a head (struct head), and
 * the functions http_fields.c offers http_parse.c.
 *
 *   http_parse.c    the scan of a head: start line, field lines, limits
 *   http_fields.c   what the fields mean: Content-Length, Transfer-Encoding,
 *                   Connection and its options, Host, Expect, and the
 *                   verdict on a whole head
 *   http_chunked.c  body framing and the chunked coding
 */
#ifndef FORKLIFT_HTTP_PARSE_INT_H
#define FORKLIFT_HTTP_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/http_parse.h"

/* Byte classes, one bit each in http_cclass[] (http_parse.c). */
#define C_TCHAR		0x01	/* token (RFC 9110 section 5.6.2) */
#define C_FVAL		0x02	/* field value: SP, HTAB, VCHAR, obs-text */
#define C_VCHAR		0x04	/* VCHAR and obs-text: request-target bytes */
#define C_HOST		0x08	/* uri-host and port (RFC 3986) */
#define C_SCHEME	0x10	/* URI scheme after its first letter */

extern const uint8_t	http_cclass[256];

#define SPAN(off, len)	\
	((struct http_span){ (uint32_t)(off), (uint32_t)(len) })
#define IS(c, m)	((http_cclass[(unsigned char)(c)] & (m)) != 0)
#define IS_DIGIT(c)	((unsigned char)((c) - '0') < 10)
#define IS_OWS(c)	((c) == ' ' || (c) == '\t')
/* A string literal and its length, as two arguments. */
#define LIT(s)		s, sizeof(s) - 1

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

/* The first byte of b[p..end) out of the class `mask`, or end. */
static inline size_t
skip_class(const char *b, size_t p, size_t end, uint8_t mask)
{
	while (p < end && IS(b[p], mask))
		p++;
	return p;
}

/* Records the fault; returns the negated status (-502 for a response). */
static inline int
fail(struct head *h, int status, const char *why)
{
	h->error = why;
	return h->resp != NULL ? -502 : -status;
}

/*
 * What a complete field line of a known kind says (http_fields.c): 1, or
 * a negated status from fail().
 */
int	http_field_semantics(struct head *h, struct http_header *f);

/*
 * The verdict on a whole head, once its blank line is read: the framing
 * and version rules that need every line, the fields named by Connection
 * marked hop-by-hop, and the results copied out.  1 or a negated status.
 */
int	http_finish_request(struct head *h, struct http_request *req);
int	http_finish_response(struct head *h, struct http_response *resp);

#endif
