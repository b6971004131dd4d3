/*
 * HTTP/1.1 message framing (RFC 9112): request and response heads and the
 * chunked transfer coding.  Pure functions over the caller's bytes: no I/O,
 * no allocation, no copy.  Every result that names text is a span, an offset
 * and a length into the buffer that was parsed, so it stays valid when the
 * caller moves the buffer as long as the bytes stay the same.
 *
 * Return convention shared by http_parse_request(), http_parse_response()
 * and http_chunked_feed():
 *   > 0			success (a head's length, or HTTP_CHUNKED_DONE);
 *   HTTP_INCOMPLETE (0)	more bytes are needed;
 *   < 0			the negated HTTP status the proxy must answer
 *				(-400, -431, -501, -505 for requests; -502 for
 *				every fault of a response), with a short reason
 *				in the struct's `error` field.  The connection
 *				cannot be reused after an error.
 *
 * Strictness, where RFC 9112 lets a recipient choose (smuggling defences):
 *  - Lines end in CRLF.  A bare LF anywhere in a head is an error (400), as
 *    is a CR not followed by LF.  Requests and responses alike.
 *  - NUL and every other control character (DEL included) is an error in
 *    the start line, field names and values (400); HTAB is allowed in field
 *    values and reason phrases only.
 *  - Whitespace before a field's colon, an empty field name, a name with a
 *    non-token character, and obsolete line folding (a line starting with SP
 *    or HTAB, including right after the start line) are errors (400).
 *  - Request line: exactly METHOD SP TARGET SP HTTP/1.x CRLF, else 400.  The
 *    method is a case-sensitive token; the target is visible ASCII or
 *    obs-text, in origin-form, absolute-form (scheme ":" ...), "*" (OPTIONS
 *    only) or authority-form host:port (CONNECT, which requires it).  Empty
 *    lines before the request line are skipped (RFC 9112 section 2.2) and
 *    count in the returned head length.
 *  - Versions: HTTP/1.0 and HTTP/1.1 only.  A well-formed "HTTP/d.d" of
 *    another version (0.9, 1.2, 2.0, ...) is 505 (1.2 too, rather than
 *    being read as 1.1: no such version exists to be forwarded); anything
 *    else ("HTTP/1.10", "http/1.1", "HTTP/3") is 400.
 *  - Host: HTTP/1.1 requires a Host (400 when missing); more than one Host
 *    line is 400 in any version; the value must be made of URI host and
 *    port characters (no SP, "/", "@", ...), and may be empty.
 *  - Content-Length: 1*DIGIT fitting an int64_t, else 400.  Repeats are
 *    accepted only when every value, in separate lines or in a "5, 5" list,
 *    is the same number (RFC 9110 section 8.6); differing values are 400.
 *    Both ends then agree on the length, so forwarding the lines is safe.
 *  - Transfer-Encoding in requests (RFC 9112 sections 6.1 and 6.3): only
 *    "chunked" alone (any case) is accepted.  Chunked absent or not final
 *    ("identity", "gzip", "chunked, gzip"), named twice (on one line or
 *    two), or a malformed list (an empty element included: a peer might
 *    read ", chunked" differently; chunked with parameters) is 400.  Chunked
 *    final after other codings ("gzip, chunked", also over several lines) is
 *    501.  With Content-Length, 400; in an HTTP/1.0 request, 400.
 *  - Responses: every fault is 502, the status the proxy answers.  The same
 *    field rules apply.  Transfer-Encoding with Content-Length, chunked
 *    twice, or chunked not final is 502; a final chunked means chunked
 *    framing; other codings without chunked, or any Transfer-Encoding in an
 *    HTTP/1.0 response, mean the body runs until the server closes.  Status
 *    codes outside 100..599 are 502.  A missing SP after the status code
 *    ("HTTP/1.1 200" CRLF) is tolerated.
 *  - Limits: more than max_headers field lines is 431.  A head longer than
 *    max_head bytes is 431, reported as soon as max_head bytes are held
 *    without a complete head, so the proxy need not wait for the rest and a
 *    buffer of max_head bytes never fills with an incomplete head.  A fault
 *    within the first max_head bytes is reported instead.
 *  - Connection options: close, keep-alive and upgrade are flags; every
 *    other option names a field to drop, which gets hop = 1.  More than
 *    HTTP_CONN_OPTIONS_MAX such options is 400 (bounds the marking work).
 *    Options naming Host, Content-Length or Transfer-Encoding are ignored:
 *    dropping those would change the framing or the routing.
 *  - Expect: only "100-continue" (any case) is recognised, in HTTP/1.1
 *    (RFC 9110 section 10.1.1); other expectations are left to the proxy.
 *
 * Hop-by-hop fields (hop = 1, the proxy drops them): Connection, Keep-Alive,
 * Proxy-Connection, TE, Upgrade, Trailer, and any field named by a
 * Connection option.  Trailer is one, as RFC 2616 section 13.5.1 listed it;
 * the trailer fields themselves pass verbatim inside a chunked body.
 * Transfer-Encoding is not: the proxy forwards chunked bodies verbatim
 * with their "Transfer-Encoding: chunked".
 */
#ifndef FORKLIFT_HTTP_PARSE_H
#define FORKLIFT_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_INCOMPLETE		0
#define HTTP_CHUNKED_DONE	1

/* Connection options other than close/keep-alive/upgrade, per head. */
#define HTTP_CONN_OPTIONS_MAX	16

/* Bytes of one chunk-size line, extensions included, CRLF not (400). */
#define HTTP_CHUNK_LINE_MAX	4096
/* Bytes of the trailer section, final CRLF included (431 beyond). */
#define HTTP_CHUNK_TRAILER_MAX	16384

/* Offset and length into the parsed buffer.  Heads are capped below 2 GiB. */
struct http_span {
	uint32_t	off;
	uint32_t	len;
};

enum http_method {
	HTTP_METHOD_OTHER,	/* any other token: see method_name */
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_PATCH,
	HTTP_METHOD_TRACE,
	HTTP_METHOD_CONNECT,
};

/* What a field is to the proxy, from its (case-insensitive) name. */
enum http_field {
	HTTP_FIELD_OTHER,
	HTTP_FIELD_HOST,
	HTTP_FIELD_CONTENT_LENGTH,
	HTTP_FIELD_TRANSFER_ENCODING,
	HTTP_FIELD_CONNECTION,		/* hop-by-hop, from here ... */
	HTTP_FIELD_KEEP_ALIVE,
	HTTP_FIELD_PROXY_CONNECTION,
	HTTP_FIELD_TE,
	HTTP_FIELD_UPGRADE,
	HTTP_FIELD_TRAILER,		/* ... to here */
	HTTP_FIELD_EXPECT,
	HTTP_FIELD_X_FORWARDED_FOR,	/* the proxy appends to it */
	HTTP_FIELD_X_FORWARDED_PROTO,	/* the proxy replaces it */
	HTTP_FIELD_X_FORWARDED_HOST,	/* the proxy replaces it */
	HTTP_FIELD_USER_AGENT,		/* logged */
	HTTP_FIELD_REFERER,		/* logged */
	HTTP_FIELD_X_REQUEST_ID,	/* logged, passed on or replaced */
};

/*
 * One field line.  The value excludes surrounding SP/HTAB.  The whole line
 * runs from name.off to the next header's name.off (or to head length - 2
 * for the last one), CRLF included, so runs of kept lines can be copied in
 * one piece.
 */
struct http_header {
	struct http_span	name;
	struct http_span	value;
	uint8_t			kind;	/* enum http_field */
	uint8_t			hop;	/* 1: drop it when forwarding */
};

/* Connection options seen (bits of `connection`). */
#define HTTP_CONN_CLOSE		0x01
#define HTTP_CONN_KEEP_ALIVE	0x02
#define HTTP_CONN_UPGRADE	0x04
#define HTTP_CONN_OTHER		0x08	/* some field named: its hop is set */

/*
 * Where a parse stopped and what the lines before told, kept between calls
 * so that a head arriving in pieces costs linear time, not a fresh parse
 * per piece.  The parser's own: set by the init functions, never by the
 * caller.
 */
struct http_scan {
	uint32_t		pos;		/* next byte to examine */
	uint32_t		line;		/* start of the current line */
	uint32_t		mark;		/* start of the current part */
	uint32_t		fields;		/* first field line */
	uint32_t		nhdr;
	uint32_t		nhost;
	uint32_t		te_lines;
	uint32_t		te_codings;
	uint32_t		te_chunked;
	uint32_t		conn_options;
	int64_t			clen;
	struct http_span	host;
	uint8_t			step;
	uint8_t			minor;
	uint8_t			conn;
	bool			te_chunked_last;
	bool			expect_continue;
	bool			upgrade;
};

struct http_request {
	/* Set by http_request_init() and kept by the parser. */
	struct http_header	*headers;	/* caller's array */
	size_t			 max_headers;	/* its length; more is 431 */
	struct http_scan	 scan;

	/* Valid once http_parse_request() returned > 0. */
	enum http_method	 method;
	struct http_span	 method_name;
	struct http_span	 target;
	int			 minor;		/* HTTP/1.minor: 0 or 1 */
	size_t			 nheaders;
	int64_t			 content_length; /* -1: absent */
	bool			 chunked;	/* Transfer-Encoding: chunked */
	bool			 keep_alive;	/* version and Connection */
	bool			 expect_continue; /* 1.1, 100-continue */
	bool			 upgrade;	/* an Upgrade field is here */
	bool			 has_host;
	struct http_span	 host;		/* if has_host; may be empty */
	unsigned		 connection;	/* HTTP_CONN_* */

	/* Set when http_parse_request() returned < 0: a static string. */
	const char		*error;
};

struct http_response {
	/* Set by http_response_init() and kept by the parser. */
	struct http_header	*headers;
	size_t			 max_headers;
	struct http_scan	 scan;

	/* Valid once http_parse_response() returned > 0. */
	int			 minor;
	int			 status;	/* 100..599 */
	struct http_span	 reason;	/* may be empty */
	size_t			 nheaders;
	int64_t			 content_length; /* -1: absent */
	bool			 transfer_encoding; /* present */
	bool			 chunked;	/* framing is chunked */
	bool			 keep_alive;	/* version and Connection */
	unsigned		 connection;	/* HTTP_CONN_* */

	const char		*error;
};

/* How a message body is delimited (RFC 9112 section 6.3). */
enum http_body {
	HTTP_BODY_NONE,		/* no body (also Content-Length: 0) */
	HTTP_BODY_LENGTH,	/* content_length bytes */
	HTTP_BODY_CHUNKED,	/* chunked: walk it with http_chunked_feed() */
	HTTP_BODY_CLOSE,	/* until the server closes; no reuse */
	HTTP_BODY_TUNNEL,	/* 101, or 2xx to CONNECT: bytes both ways */
};

/*
 * Chunked body tracker.  The caller owns it; the fields are the tracker's
 * own and must not be changed between calls.
 *
 * `remaining` may be read: the data bytes left in the current chunk.  Right
 * after the LF of a chunk-size line (a call that consumed up to it), it is
 * the size of the chunk whose data comes next, and the next byte is data
 * exactly when it is > 0; after the LF of the last-chunk, of the CRLF that
 * ends chunk data, or of a trailer line, it is 0 and a line comes next.
 * The proxy relies on this to tell data from lines without walking data.
 */
struct http_chunked {
	uint64_t	 remaining;	/* data bytes left in this chunk */
	uint32_t	 count;		/* size-line or trailer bytes so far */
	uint8_t		 state;
	uint8_t		 digits;	/* chunk-size digits so far */
	int		 status;	/* negated status once failed */
	const char	*error;		/* reason once failed */
};

/*
 * Prepares `req` for a new head, with the caller's header array of
 * max_headers entries.  The array holds the head's fields from the call
 * that returns its length until the next parse that uses the array; in
 * between calls it is scratch space, so one array may serve the heads of
 * many connections in turn (each result used before the next parse).
 */
void	http_request_init(struct http_request *req,
	    struct http_header *headers, size_t max_headers);
void	http_response_init(struct http_response *resp,
	    struct http_header *headers, size_t max_headers);

/*
 * Parses the request head at the start of buf[0..len).  Returns its length
 * (through the blank line; bytes after it are the body or the next request
 * and are not looked at), HTTP_INCOMPLETE, or a negated status with
 * req->error set.  max_head bounds the head (see the limits above; values
 * over INT32_MAX count as INT32_MAX).
 *
 * Incremental: after HTTP_INCOMPLETE, call again with the same bytes
 * followed by more (the buffer may have moved); the parse goes on where it
 * stopped, so a head costs linear time however it is split, and the result
 * is the one a single call on the whole gives.  A prefix of a head yields
 * HTTP_INCOMPLETE or already the error the whole would.  Call
 * http_request_init() again before each new head, and after a result other
 * than HTTP_INCOMPLETE before parsing anything more with the same struct.
 * Given fewer bytes than the last call, it starts over.
 */
int	http_parse_request(const char *buf, size_t len, size_t max_head,
	    struct http_request *req);

/* As http_parse_request(), for a response head; every error is -502. */
int	http_parse_response(const char *buf, size_t len, size_t max_head,
	    struct http_response *resp);

/* The framing of a parsed request's body: NONE, LENGTH or CHUNKED. */
enum http_body	http_request_body(const struct http_request *req);

/*
 * The framing of a parsed response's body, given the method of the request
 * it answers: HEAD, 1xx (but 101), 204 and 304 have none; 101 and a 2xx to
 * CONNECT become a tunnel; then chunked, Content-Length, or until close.
 */
enum http_body	http_response_body(const struct http_response *resp,
		    enum http_method method);

/*
 * Index of the first header named `name` (namelen bytes, any case) among
 * headers[0..n) of the head in buf, or -1.
 */
int	http_header_find(const char *buf, const struct http_header *headers,
	    size_t n, const char *name, size_t namelen);

/* Prepares `c` for a new chunked body. */
void	http_chunked_init(struct http_chunked *c);

/*
 * Walks buf[0..len), the next bytes of a chunked body (RFC 9112 section 7.1:
 * chunk-size lines with optional extensions, data, last-chunk, trailer
 * section, final CRLF), and sets *consumed to the bytes that belong to the
 * body.  Returns HTTP_CHUNKED_DONE when the body ended inside buf (bytes
 * after *consumed are the next message), HTTP_INCOMPLETE when all len bytes
 * were consumed and the body goes on, or a negated status with c->error set
 * and *consumed the bytes before the fault: -400, or -431 when the trailers
 * pass HTTP_CHUNK_TRAILER_MAX (in a response body the proxy can only close).
 * Works on any split of the input, down to one byte at a time; data bytes
 * are skipped, not looked at.  Once done or failed, it returns the same
 * again, consuming nothing.
 *
 * Strictness: a chunk size is 1 to 16 hex digits and at most INT64_MAX.
 * Lines end in CRLF (a bare LF or CR is 400), and chunk data must be
 * followed by CRLF.  Extensions follow the grammar exactly: ";" name
 * [ "=" token or quoted-string ], with SP/HTAB allowed only around ";" and
 * "=" (so "5 " CRLF is 400), no control characters.  Trailer fields follow
 * the rules of header fields (no folding, no SP before the colon) and are
 * passed through, not interpreted.
 */
int	http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
	    size_t *consumed);

#endif
