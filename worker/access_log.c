/*
 * The access log of a worker: formatting a request's line, holding lines in
 * a fixed buffer, writing them out, reopening the file after a rotation,
 * and making request ids.  One log per process; nothing is allocated.
 */
#include <sys/random.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "common/config.h"
#include "common/event.h"
#include "common/log.h"
#include "worker/access_log.h"

/* Bounds of the escaped fields, so that a line fits ACCESS_LOG_LINE_MAX. */
#define FIELD_CLIENT	64
#define FIELD_METHOD	32
#define FIELD_TARGET	4096
#define FIELD_REFERER	1024
#define FIELD_AGENT	1024
#define FIELD_UPSTREAM	256
#define FIELD_RID	(ACCESS_LOG_RID_MAX * 4)
/* Everything else of a line: date, numbers, names of the key=value pairs. */
#define LINE_FIXED	512

_Static_assert(FIELD_CLIENT + FIELD_METHOD + FIELD_TARGET + FIELD_REFERER +
    FIELD_AGENT + FIELD_UPSTREAM + FIELD_RID + LINE_FIXED <=
    ACCESS_LOG_LINE_MAX, "an access log line may not fit its bound");
_Static_assert(ACCESS_LOG_RID_LEN % 2 == 0,
    "request ids are written a byte (two hex digits) at a time");
_Static_assert(ACCESS_LOG_BUFFER >= 2 * ACCESS_LOG_LINE_MAX,
    "the access log buffer must hold several lines");

static struct {
	int		 fd;		/* -1: off */
	char		 path[CONF_PATH_MAX];
	char		 buf[ACCESS_LOG_BUFFER];
	size_t		 used;
	bool		 failing;	/* the last write failed: said once */
	pid_t		 owner;		/* the process that opened the file */
	bool		 atexit_set;
	struct ev_timer	 timer;
	time_t		 date_sec;	/* the second `date` was made for */
	char		 date[128];	/* room for any int the format takes */
	size_t		 date_len;
	bool		 rid_seeded;	/* in this process */
	bool		 rid_atfork_set;
	uint64_t	 rid_seed;
	uint64_t	 rid_count;
	char		 hex_pairs[256][2];	/* "00" to "ff" */
} alog = { .fd = -1, .date_sec = -1 };

static const char hexdigits[] = "0123456789abcdef";

/*
 * Bytes that may appear in a field as they are: printable ASCII but '"'
 * (0x22) and '\\' (0x5c).  The others are written \xHH.
 */
static const bool plain[256] = {
	[0x20 ... 0x21] = true,
	[0x23 ... 0x5b] = true,
	[0x5d ... 0x7e] = true,
};

/* Appends a string literal; the line's bounds leave room for them. */
#define PUT(dst, n, lit)	do {					\
		memcpy((dst) + (n), (lit), sizeof(lit) - 1);		\
		(n) += sizeof(lit) - 1;					\
	} while (0)

/* Bytes t takes escaped, counting no further than past `limit`. */
static size_t
escaped_len(const struct access_text *t, size_t limit)
{
	size_t i, need = 0;

	for (i = 0; i < t->len && need <= limit; i++)
		need += plain[(unsigned char)t->ptr[i]] ? 1 : 4;
	return need;
}

/* One byte, escaped if it must be; returns the bytes written (1 or 4). */
static inline size_t
put_byte(char *dst, unsigned char c)
{
	if (plain[c]) {
		dst[0] = (char)c;
		return 1;
	}
	dst[0] = '\\';
	dst[1] = 'x';
	dst[2] = hexdigits[c >> 4];
	dst[3] = hexdigits[c & 15];
	return 4;
}

/*
 * Writes t into dst escaped, at most `limit` bytes (limit >= 4); a text
 * that does not fit is cut and ends in "...".  Absent text is "-".
 * Returns the bytes written.
 */
static size_t
put_field(char *dst, const struct access_text *t, size_t limit)
{
	const unsigned char *p = (const unsigned char *)t->ptr;
	size_t i, run, n = 0, room = limit;

	if (p == NULL || t->len == 0) {
		dst[0] = '-';
		return 1;
	}
	if (t->len <= limit / 4) {
		/* Fits however escaped: runs of plain bytes are copied
		   whole, with no bound to check. */
		for (i = 0; i < t->len;) {
			for (run = i; i < t->len && plain[p[i]]; i++)
				;
			memcpy(dst + n, p + run, i - run);
			n += i - run;
			if (i < t->len)
				n += put_byte(dst + n, p[i++]);
		}
		return n;
	}
	if (escaped_len(t, limit) > limit)
		room = limit - 3;
	for (i = 0; i < t->len; i++) {
		if (n + (plain[p[i]] ? 1 : 4) > room)
			break;
		n += put_byte(dst + n, p[i]);
	}
	if (i < t->len)
		PUT(dst, n, "...");
	return n;
}

/* "22/Nov/2026:01:02:03 +0000" for a wall time in ms, made once a second. */
static const char *
format_date(int64_t wall_ms, size_t *lenp)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t sec = (time_t)(wall_ms / 1000);
	struct tm tm;

	int n;

	if (sec != alog.date_sec) {
		if (gmtime_r(&sec, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		n = snprintf(alog.date, sizeof(alog.date),
		    "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
		    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		alog.date_len = n > 0 ? (size_t)n : 0;
		alog.date_sec = sec;
	}
	*lenp = alog.date_len;
	return alog.date;
}


/* Decimal digits of v (no printf: a line costs a few of these). */
static size_t
put_uint(char *dst, uint64_t v)
{
	uint64_t rest = v;
	size_t n = 1, i;

	while ((rest /= 10) != 0)
		n++;
	for (i = n; i-- > 0; v /= 10)
		dst[i] = (char)('0' + v % 10);
	return n;
}

/* A status or other count: "-" when negative or absent (0). */
static size_t
put_status(char *dst, int status)
{
	if (status <= 0) {
		dst[0] = '-';
		return 1;
	}
	return put_uint(dst, (uint64_t)status);
}

/* Seconds with millisecond resolution ("0.003"), or "-" when negative. */
static size_t
put_seconds(char *dst, int64_t us)
{
	uint64_t ms;
	unsigned frac;
	size_t n;

	if (us < 0) {
		dst[0] = '-';
		return 1;
	}
	ms = ((uint64_t)us + 500) / 1000;
	frac = (unsigned)(ms % 1000);
	n = put_uint(dst, ms / 1000);
	dst[n] = '.';
	dst[n + 1] = (char)('0' + frac / 100);
	dst[n + 2] = (char)('0' + frac / 10 % 10);
	dst[n + 3] = (char)('0' + frac % 10);
	return n + 4;
}

/* The request line: "GET /home HTTP/1.1", or "-" when nothing parsed. */
static size_t
put_request(char *dst, const struct access_entry *e)
{
	static const struct access_text none = { NULL, 0 };
	size_t n;

	if ((e->method.ptr == NULL || e->method.len == 0) &&
	    (e->target.ptr == NULL || e->target.len == 0))
		return put_field(dst, &none, FIELD_METHOD);
	n = put_field(dst, &e->method, FIELD_METHOD);
	dst[n++] = ' ';
	n += put_field(dst + n, &e->target, FIELD_TARGET);
	if (e->minor >= 0 && e->minor <= 9) {
		PUT(dst, n, " HTTP/1.");
		dst[n++] = (char)('0' + e->minor);
	}
	return n;
}

size_t
access_log_format(char *line, size_t len, const struct access_entry *e)
{
	const char *date;
	size_t n, datelen;

	if (len < ACCESS_LOG_LINE_MAX)
		fatalx("access_log_format: %zu bytes of room for a line", len);
	date = format_date(e->wall_ms, &datelen);
	n = put_field(line, &e->client, FIELD_CLIENT);
	PUT(line, n, " - - [");
	memcpy(line + n, date, datelen);
	n += datelen;
	PUT(line, n, "] \"");
	n += put_request(line + n, e);
	PUT(line, n, "\" ");
	n += put_status(line + n, e->status);
	line[n++] = ' ';
	n += put_uint(line + n, e->body_bytes);
	PUT(line, n, " \"");
	n += put_field(line + n, &e->referer, FIELD_REFERER);
	PUT(line, n, "\" \"");
	n += put_field(line + n, &e->user_agent, FIELD_AGENT);
	PUT(line, n, "\" upstream=");
	n += put_field(line + n, &e->upstream, FIELD_UPSTREAM);
	PUT(line, n, " ustatus=");
	n += put_status(line + n, e->upstream_status);
	PUT(line, n, " rt=");
	n += put_seconds(line + n, e->request_us);
	PUT(line, n, " uct=");
	n += put_seconds(line + n, e->connect_us);
	PUT(line, n, " urt=");
	n += put_seconds(line + n, e->response_us);
	PUT(line, n, " rid=");
	n += put_field(line + n, &e->request_id, FIELD_RID);
	line[n++] = '\n';
	return n;
}

int
access_log_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (off < alog.used) {
		n = write(alog.fd, alog.buf + off, alog.used - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (!alog.failing)
				log_error("access log %s: %s; dropping lines "
				    "until it can be written", alog.path,
				    strerror(errno));
			alog.failing = true;
			alog.used = 0;
			return -1;
		}
		off += (size_t)n;
	}
	if (alog.failing && alog.used > 0) {
		log_notice("access log %s: writing again", alog.path);
		alog.failing = false;
	}
	alog.used = 0;
	return 0;
}

static int
open_path(const char *path, char *err, size_t errlen)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		snprintf(err, errlen, "access log %s: %s", path,
		    strerror(errno));
	return fd;
}

/*
 * Lines still held when the process exits are written out, however it
 * exits (a worker ends with exit()).  Only by the process that opened the
 * file: a child forked while lines were held must not write them twice.
 */
static void
flush_at_exit(void)
{
	if (alog.fd != -1 && alog.owner == getpid())
		(void)access_log_flush();
}

int
access_log_open(const char *path, char *err, size_t errlen)
{
	int fd = -1;

	if (path != NULL && path[0] != '\0') {
		if (strlen(path) >= sizeof(alog.path)) {
			snprintf(err, errlen, "access log %s: path too long",
			    path);
			access_log_close();
			return -1;
		}
		if ((fd = open_path(path, err, errlen)) == -1) {
			access_log_close();
			return -1;
		}
	}
	access_log_close();
	alog.fd = fd;
	alog.owner = getpid();
	strlcpy(alog.path, path != NULL ? path : "", sizeof(alog.path));
	alog.failing = false;
	if (fd != -1 && !alog.atexit_set && atexit(flush_at_exit) == 0)
		alog.atexit_set = true;
	return 0;
}

bool
access_log_enabled(void)
{
	return alog.fd != -1;
}

void
access_log_request(const struct access_entry *e)
{
	if (alog.fd == -1)
		return;
	if (sizeof(alog.buf) - alog.used < ACCESS_LOG_LINE_MAX)
		(void)access_log_flush();
	alog.used += access_log_format(alog.buf + alog.used,
	    sizeof(alog.buf) - alog.used, e);
}

int
access_log_reopen(void)
{
	char err[CONF_PATH_MAX + 64];
	int fd;

	if (alog.fd == -1)
		return 0;
	(void)access_log_flush();
	if ((fd = open_path(alog.path, err, sizeof(err))) == -1) {
		log_error("%s; still writing to the old file", err);
		return -1;
	}
	if (close(alog.fd) == -1)
		log_warn("access log %s: close: %s", alog.path,
		    strerror(errno));
	alog.fd = fd;
	return 0;
}

void
access_log_close(void)
{
	if (alog.fd == -1)
		return;
	(void)access_log_flush();
	if (close(alog.fd) == -1)
		log_warn("access log %s: close: %s", alog.path,
		    strerror(errno));
	alog.fd = -1;
	alog.used = 0;
}

static void
on_flush_timer(struct ev_loop *loop, struct ev_timer *t)
{
	if (alog.used > 0)
		(void)access_log_flush();
	if (ev_timer_start(loop, t, ACCESS_LOG_FLUSH_MS) == -1)
		log_warn("access log: no timer left; lines are written "
		    "when the buffer fills");
}

int
access_log_timer_start(struct ev_loop *loop)
{
	ev_timer_init(&alog.timer, on_flush_timer);
	return ev_timer_start(loop, &alog.timer, ACCESS_LOG_FLUSH_MS);
}

void
access_log_timer_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &alog.timer);
}

bool
access_log_request_id_valid(const char *id, size_t len)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_.:+/=";
	size_t n;

	if (len == 0 || len > ACCESS_LOG_RID_MAX)
		return false;
	for (n = 0; n < len; n++)
		if (id[n] == '\0' || strchr(allowed, id[n]) == NULL)
			return false;
	return true;
}

/* SplitMix64's finaliser: a bijection on 64 bits that spreads the bits. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A forked child must not repeat its parent's ids: it seeds anew. */
static void
forget_seed(void)
{
	alog.rid_seeded = false;
}

/* Seeds the ids of this process once, from getrandom(2). */
static void
seed_ids(void)
{
	struct timespec ts;
	ssize_t n;
	int i;

	if (alog.rid_seeded)
		return;
	for (i = 0; i < 256; i++) {
		alog.hex_pairs[i][0] = hexdigits[i >> 4];
		alog.hex_pairs[i][1] = hexdigits[i & 15];
	}
	if (!alog.rid_atfork_set && pthread_atfork(NULL, NULL,
	    forget_seed) == 0)
		alog.rid_atfork_set = true;
	do
		n = getrandom(&alog.rid_seed, sizeof(alog.rid_seed),
		    GRND_NONBLOCK);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(alog.rid_seed)) {
		/* No entropy yet (early boot): pid and time still differ
		   between the workers. */
		clock_gettime(CLOCK_REALTIME, &ts);
		alog.rid_seed = mix64(((uint64_t)getpid() << 32) ^
		    (uint64_t)ts.tv_sec * 1000000000ULL ^ (uint64_t)ts.tv_nsec);
	}
	alog.rid_count = 0;
	/* Without the fork handler, a fork would repeat ids: seed on every
	   call rather than risk it. */
	alog.rid_seeded = alog.rid_atfork_set;
}

size_t
access_log_request_id(char *buf, size_t len)
{
	uint64_t id;
	int i;

	if (len <= ACCESS_LOG_RID_LEN)
		return 0;
	seed_ids();
	/* Distinct counters give distinct ids: the golden-ratio step is odd
	   and mix64() is one to one. */
	id = mix64(alog.rid_seed + ++alog.rid_count * 0x9e3779b97f4a7c15ULL);
	for (i = ACCESS_LOG_RID_LEN - 2; i >= 0; i -= 2, id >>= 8)
		memcpy(buf + i, alog.hex_pairs[id & 0xff], 2);
	buf[ACCESS_LOG_RID_LEN] = '\0';
	return ACCESS_LOG_RID_LEN;
}
