/*
 * The configuration loader: reads one INI file with inih into a struct conf,
 * checks every value and every cross-reference, and reports the first error
 * as "FILE:LINE: message" ("FILE: message" when no line is to blame).  It
 * owns the defaults, the section and key grammar, and the syntax of
 * durations, sizes and addresses; the `server =` line is parsed in
 * config_server.c.  It binds nothing, resolves no name and opens no file but
 * the one it reads, so `forklift -t` and a reload are safe beside a live
 * daemon.
 *
 * Defaults (a key that is absent keeps these):
 *
 *	[global]
 *	workers = auto			online CPUs (sysconf), at most 64
 *	daemon = yes			yes | no (or on | off)
 *	pidfile = /run/forklift.pid	absolute path
 *	user =				"" = stay as started
 *	error_log = syslog		syslog | stderr | absolute path
 *	access_log = off		off ("" in the struct) | absolute path
 *	restart_intensity = 10		0..10000
 *	restart_period = 60s		1ms..1440m
 *	shutdown_timeout = 30s		0..1440m (0 = close at once)
 *	max_connections = 4096		1..1000000
 *	max_draining_generations = 2	1..16, old generations draining at once
 *
 *	[listen] or [listen NAME]	at least one, at most CONF_MAX_LISTENERS
 *	bind =				required
 *	pool =				required, names a [pool NAME]
 *	client_timeout = 30s		1ms..1440m
 *	max_header_size = 16k		1k..1m
 *
 *	[admin]				optional; has_admin when present
 *	bind = 127.0.0.1:8081
 *
 *	[pool NAME]			at least one, at most CONF_MAX_POOLS
 *	algorithm = round_robin
 *	hash_key = client_ip		client_ip | uri | header:X | cookie:X
 *	connect_timeout = 2s		1ms..1440m
 *	server_timeout = 30s		1ms..1440m
 *	retries = 2			0..10
 *	keepalive = 32			0..1024 idle conns per server per worker
 *	keepalive_timeout = 60s		1ms..1440m
 *	health_check = tcp		/path | tcp | off
 *	health_interval = 2s		1ms..1440m
 *	health_timeout = 1s		1ms..health_interval
 *	health_rise = 2			1..100
 *	health_fall = 3			1..100
 *	health_expect = 200-399		NNN or NNN-NNN within 100..599
 *	server = NAME ADDR [weight=1] [max_conns=0] [run=...] ...
 *					at least one; see config_server.c
 *
 * A key set twice in a section is an error, except `server`; so is a section
 * that appears twice, which also keeps each pool's servers contiguous in
 * conf->servers.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

#if INI_HANDLER_LINENO
#error "the handler below takes no line number; lines are counted by the reader"
#endif

/* The longest duration any key takes: a day, well inside an int of ms. */
#define DURATION_MAX_MS		(24u * 60 * 60 * 1000)
/* The longest section header we look at ("[pool NAME]" is far shorter). */
#define SECTION_TEXT_MAX	128
/* Room for the keys of keys[] below, checked at compile time. */
#define KEYS_MAX		32

enum section {
	SEC_NONE,
	SEC_GLOBAL,
	SEC_LISTEN,
	SEC_ADMIN,
	SEC_POOL,
};

/* What the loader knows about a listener beyond struct conf_listener. */
struct parse_listener {
	char		 pool[CONF_NAME_MAX];	/* resolved once all is read */
	int		 pool_line;
	int		 bind_line;
};

/* The state of one conf_load() call. */
struct parser {
	struct conf	*conf;
	FILE		*fp;
	const char	*path;
	char		*err;
	size_t		 errlen;
	bool		 failed;
	int		 errline;	/* line of the error; 0 if none */
	int		 lineno;	/* lines handed to inih so far */

	enum section	 sec;		/* the section being read */
	int		 sec_line;
	char		 sec_label[SECTION_TEXT_MAX + 4];	/* "[pool a]" */
	int		 key_line[KEYS_MAX];	/* by keys[] index: where
						   it was set, 0 = not yet */

	bool		 seen_global;
	int		 admin_line;	/* 0 = no [admin] */
	int		 admin_bind_line;
	bool		 admin_done;	/* [admin] closed: its bind is final */
	struct parse_listener lis[CONF_MAX_LISTENERS];
	unsigned	 first_server[CONF_MAX_POOLS];
	size_t		 servers_cap;
};

enum key_type {
	KT_UINT,		/* unsigned, min..max */
	KT_MSEC,		/* unsigned ms from a duration, min..max */
	KT_SIZE,		/* size_t from a size, min..max */
	KT_BOOL,		/* bool from yes/no */
	KT_FUNC,		/* its own setter */
};

struct key_def {
	const char	*name;
	int		(*set)(struct parser *, const char *, const char *);
	size_t		 off;		/* into the section's struct */
	unsigned long long min, max;
	enum section	 sec;
	enum key_type	 type;
};

static const char *const algorithm_names[] = {
	[ALG_ROUND_ROBIN] = "round_robin",
	[ALG_WEIGHTED_ROUND_ROBIN] = "weighted_round_robin",
	[ALG_LEAST_CONN] = "least_conn",
	[ALG_RANDOM] = "random",
	[ALG_POWER_OF_TWO] = "power_of_two",
	[ALG_IP_HASH] = "ip_hash",
	[ALG_CONSISTENT_HASH] = "consistent_hash",
};

#define NALGORITHMS	(sizeof(algorithm_names) / sizeof(algorithm_names[0]))

/*
 * Records the first error only: "FILE:LINE: msg", or "FILE: msg" when line
 * is 0.  Later calls are ignored so that the first error wins.
 */
static void __attribute__((format(printf, 3, 4)))
conf_error(struct parser *p, int line, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (p->failed)
		return;
	p->failed = true;
	p->errline = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errlen == 0)
		return;
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->path, line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
}

/* Reports "KEY = VALUE: expected ..." on the current line; returns -1. */
static int __attribute__((format(printf, 4, 5)))
bad_value(struct parser *p, const char *key, const char *value,
    const char *fmt, ...)
{
	char	 expect[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(expect, sizeof(expect), fmt, ap);
	va_end(ap);
	conf_error(p, p->lineno, "%s = %s: expected %s", key, value, expect);
	return -1;
}

/*
 * Parses a run of decimal digits (nothing else: no sign, no space) of at
 * most 19 digits at the start of s into *v.  Returns the number of digits,
 * or 0 (and leaves *v alone) if there is none or too many.
 */
static size_t
parse_digits(const char *s, unsigned long long *v)
{
	char		 buf[20];
	const char	*errstr;
	long long	 n;
	size_t		 len;

	len = strspn(s, "0123456789");
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	n = strtonum(buf, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return 0;
	*v = (unsigned long long)n;
	return len;
}

/* Parses a whole string of decimal digits into *v; returns 0 or -1. */
static int
parse_uint(const char *s, unsigned long long *v)
{
	size_t	 n;

	if ((n = parse_digits(s, v)) == 0 || s[n] != '\0')
		return -1;
	return 0;
}

int
conf_parse_duration(const char *s, unsigned *ms)
{
	unsigned long long	 v, mult;
	size_t			 n;

	if ((n = parse_digits(s, &v)) == 0)
		return -1;
	if (strcmp(s + n, "") == 0 || strcmp(s + n, "ms") == 0)
		mult = 1;
	else if (strcmp(s + n, "s") == 0)
		mult = 1000;
	else if (strcmp(s + n, "m") == 0)
		mult = 60 * 1000;
	else
		return -1;
	if (v > UINT_MAX / mult)
		return -1;
	*ms = (unsigned)(v * mult);
	return 0;
}

int
conf_parse_size(const char *s, size_t *bytes)
{
	unsigned long long	 v, mult;
	size_t			 n;

	if ((n = parse_digits(s, &v)) == 0)
		return -1;
	if (strcmp(s + n, "") == 0)
		mult = 1;
	else if (strcmp(s + n, "k") == 0 || strcmp(s + n, "K") == 0)
		mult = 1024;
	else if (strcmp(s + n, "m") == 0 || strcmp(s + n, "M") == 0)
		mult = 1024 * 1024;
	else
		return -1;
	if (v > SIZE_MAX / mult)
		return -1;
	*bytes = (size_t)(v * mult);
	return 0;
}

/* Whether two binds would take the same port: equal, or one a wildcard. */
static bool
addr_overlap(const struct conf_addr *a, const struct conf_addr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)&a->ss;
		b4 = (const struct sockaddr_in *)&b->ss;
		return a4->sin_port == b4->sin_port &&
		    (a4->sin_addr.s_addr == b4->sin_addr.s_addr ||
		    a4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    b4->sin_addr.s_addr == htonl(INADDR_ANY));
	}
	a6 = (const struct sockaddr_in6 *)&a->ss;
	b6 = (const struct sockaddr_in6 *)&b->ss;
	return a6->sin6_port == b6->sin6_port &&
	    (IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr) ||
	    IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
	    IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr));
}

const char *
conf_algorithm_name(enum conf_algorithm alg)
{
	if ((unsigned)alg >= NALGORITHMS)
		return "unknown";
	return algorithm_names[alg];
}

/* Online CPUs, at least 1 and at most CONF_MAX_WORKERS. */
static unsigned
online_cpus(void)
{
	long	 n;

	if ((n = sysconf(_SC_NPROCESSORS_ONLN)) == -1 || n < 1)
		return 1;
	return n > CONF_MAX_WORKERS ? CONF_MAX_WORKERS : (unsigned)n;
}

/* Writes "1440m", "30s" or "250ms" for a duration bound. */
static const char *
fmt_ms(unsigned long long ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%llum", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llus", ms / 1000);
	else
		snprintf(buf, len, "%llums", ms);
	return buf;
}

/* Writes "1m", "16k" or "100" for a size bound. */
static const char *
fmt_size(unsigned long long n, char *buf, size_t len)
{
	if (n != 0 && n % (1024 * 1024) == 0)
		snprintf(buf, len, "%llum", n / (1024 * 1024));
	else if (n != 0 && n % 1024 == 0)
		snprintf(buf, len, "%lluk", n / 1024);
	else
		snprintf(buf, len, "%llu", n);
	return buf;
}

static struct conf_listener *
cur_listener(struct parser *p)
{
	return &p->conf->listeners[p->conf->nlisteners - 1];
}

static struct conf_pool *
cur_pool(struct parser *p)
{
	return &p->conf->pools[p->conf->npools - 1];
}

/* Sets a key of a generic type in the current section's struct. */
static int
set_typed(struct parser *p, const struct key_def *k, const char *value)
{
	unsigned long long	 v;
	unsigned		 ms;
	size_t			 sz;
	char			*base, lo[32], hi[32];

	if (p->sec == SEC_LISTEN)
		base = (char *)cur_listener(p);
	else if (p->sec == SEC_POOL)
		base = (char *)cur_pool(p);
	else
		base = (char *)p->conf;

	switch (k->type) {
	case KT_UINT:
		if (parse_uint(value, &v) == -1 || v < k->min || v > k->max)
			return bad_value(p, k->name, value,
			    "an integer from %llu to %llu", k->min, k->max);
		*(unsigned *)(void *)(base + k->off) = (unsigned)v;
		return 0;
	case KT_MSEC:
		if (conf_parse_duration(value, &ms) == -1 ||
		    ms < k->min || ms > k->max)
			return bad_value(p, k->name, value,
			    "a duration like 250ms, 2s or 1m, from %s to %s",
			    fmt_ms(k->min, lo, sizeof(lo)),
			    fmt_ms(k->max, hi, sizeof(hi)));
		*(unsigned *)(void *)(base + k->off) = ms;
		return 0;
	case KT_SIZE:
		if (conf_parse_size(value, &sz) == -1 ||
		    sz < k->min || sz > k->max)
			return bad_value(p, k->name, value,
			    "a size like 16k or 1m, from %s to %s",
			    fmt_size(k->min, lo, sizeof(lo)),
			    fmt_size(k->max, hi, sizeof(hi)));
		*(size_t *)(void *)(base + k->off) = sz;
		return 0;
	case KT_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "on") == 0)
			*(bool *)(void *)(base + k->off) = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "off") == 0)
			*(bool *)(void *)(base + k->off) = false;
		else
			return bad_value(p, k->name, value, "yes or no");
		return 0;
	case KT_FUNC:
		return k->set(p, k->name, value);
	}
	return -1;
}

static int
set_workers(struct parser *p, const char *key, const char *value)
{
	unsigned long long	 v;

	if (strcmp(value, "auto") == 0) {
		p->conf->workers = online_cpus();
		return 0;
	}
	if (parse_uint(value, &v) == -1 || v < 1 || v > CONF_MAX_WORKERS)
		return bad_value(p, key, value,
		    "auto or an integer from 1 to %d", CONF_MAX_WORKERS);
	p->conf->workers = (unsigned)v;
	return 0;
}

/* Copies an absolute path of fewer than CONF_PATH_MAX bytes to dst. */
static int
set_path(struct parser *p, const char *key, const char *value, char *dst,
    const char *others)
{
	if (value[0] != '/' || strlen(value) >= CONF_PATH_MAX)
		return bad_value(p, key, value,
		    "%san absolute path shorter than %d bytes", others,
		    CONF_PATH_MAX);
	strlcpy(dst, value, CONF_PATH_MAX);
	return 0;
}

static int
set_pidfile(struct parser *p, const char *key, const char *value)
{
	return set_path(p, key, value, p->conf->pidfile, "");
}

static int
set_user(struct parser *p, const char *key, const char *value)
{
	if (value[0] != '\0' && !conf_valid_name(value))
		return bad_value(p, key, value,
		    "a user name (letters, digits, - _ .) or nothing");
	strlcpy(p->conf->user, value, sizeof(p->conf->user));
	return 0;
}

static int
set_error_log(struct parser *p, const char *key, const char *value)
{
	if (strcmp(value, "syslog") == 0 || strcmp(value, "stderr") == 0) {
		strlcpy(p->conf->error_log, value, sizeof(p->conf->error_log));
		return 0;
	}
	return set_path(p, key, value, p->conf->error_log,
	    "syslog, stderr or ");
}

static int
set_access_log(struct parser *p, const char *key, const char *value)
{
	if (strcmp(value, "off") == 0) {
		p->conf->access_log[0] = '\0';
		return 0;
	}
	return set_path(p, key, value, p->conf->access_log, "off or ");
}

/* "[listen]" or "[listen NAME]". */
static const char *
listener_label(const struct conf_listener *l, char *buf, size_t len)
{
	snprintf(buf, len, "[listen%s%s]", l->name[0] != '\0' ? " " : "",
	    l->name);
	return buf;
}

static int
set_listen_bind(struct parser *p, const char *key, const char *value)
{
	struct conf		*c = p->conf;
	struct conf_listener	*l = cur_listener(p);
	unsigned		 i, me = c->nlisteners - 1;
	char			 label[SECTION_TEXT_MAX];

	if (conf_parse_addr(value, &l->bind) == -1)
		return bad_value(p, key, value,
		    "a numeric address like 0.0.0.0:8080 or [::]:8080");
	p->lis[me].bind_line = p->lineno;
	for (i = 0; i < me; i++) {
		if (p->lis[i].bind_line == 0 ||
		    !addr_overlap(&l->bind, &c->listeners[i].bind))
			continue;
		conf_error(p, p->lineno, "bind %s conflicts with %s bind %s "
		    "on line %d", value, listener_label(&c->listeners[i],
		    label, sizeof(label)), c->listeners[i].bind.text,
		    p->lis[i].bind_line);
		return -1;
	}
	if (p->admin_done && addr_overlap(&l->bind, &c->admin_bind)) {
		conf_error(p, p->lineno, "bind %s conflicts with [admin] bind "
		    "%s on line %d", value, c->admin_bind.text,
		    p->admin_bind_line != 0 ? p->admin_bind_line :
		    p->admin_line);
		return -1;
	}
	return 0;
}

static int
set_listen_pool(struct parser *p, const char *key, const char *value)
{
	struct parse_listener	*pl = &p->lis[p->conf->nlisteners - 1];

	if (!conf_valid_name(value))
		return bad_value(p, key, value, "a pool name");
	strlcpy(pl->pool, value, sizeof(pl->pool));
	pl->pool_line = p->lineno;
	return 0;
}

static int
set_admin_bind(struct parser *p, const char *key, const char *value)
{
	if (conf_parse_addr(value, &p->conf->admin_bind) == -1)
		return bad_value(p, key, value,
		    "a numeric address like 127.0.0.1:8081 or [::1]:8081");
	p->admin_bind_line = p->lineno;
	return 0;
}

static int
set_algorithm(struct parser *p, const char *key, const char *value)
{
	unsigned	 i;

	for (i = 0; i < NALGORITHMS; i++) {
		if (strcmp(value, algorithm_names[i]) == 0) {
			cur_pool(p)->algorithm = (enum conf_algorithm)i;
			return 0;
		}
	}
	return bad_value(p, key, value, "round_robin, weighted_round_robin, "
	    "least_conn, random, power_of_two, ip_hash or consistent_hash");
}

/* An HTTP token (RFC 9110 tchar), as header and cookie names are. */
static bool
valid_token(const char *s)
{
	size_t	 n;

	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789!#$%&'*+-.^_`|~");
	return n > 0 && s[n] == '\0' && n < CONF_NAME_MAX;
}

static int
set_hash_key(struct parser *p, const char *key, const char *value)
{
	struct conf_pool	*pool = cur_pool(p);
	const char		*name = NULL;

	if (strcmp(value, "client_ip") == 0)
		pool->hash_key = HASH_CLIENT_IP;
	else if (strcmp(value, "uri") == 0)
		pool->hash_key = HASH_URI;
	else if (strncmp(value, "header:", 7) == 0) {
		pool->hash_key = HASH_HEADER;
		name = value + 7;
	} else if (strncmp(value, "cookie:", 7) == 0) {
		pool->hash_key = HASH_COOKIE;
		name = value + 7;
	} else
		name = "";
	if (name != NULL && !valid_token(name))
		return bad_value(p, key, value,
		    "client_ip, uri, header:NAME or cookie:NAME");
	strlcpy(pool->hash_key_name, name != NULL ? name : "",
	    sizeof(pool->hash_key_name));
	return 0;
}

static int
set_health_check(struct parser *p, const char *key, const char *value)
{
	struct conf_pool	*pool = cur_pool(p);
	const char		*c;

	pool->health_path[0] = '\0';
	if (strcmp(value, "tcp") == 0) {
		pool->health_check = HEALTH_TCP;
		return 0;
	}
	if (strcmp(value, "off") == 0) {
		pool->health_check = HEALTH_OFF;
		return 0;
	}
	for (c = value; *c > ' ' && *c < 0x7f; c++)
		;
	if (value[0] != '/' || *c != '\0' || strlen(value) >= CONF_PATH_MAX)
		return bad_value(p, key, value,
		    "a path like /health (no spaces), tcp or off");
	pool->health_check = HEALTH_HTTP;
	strlcpy(pool->health_path, value, sizeof(pool->health_path));
	return 0;
}

static int
set_health_expect(struct parser *p, const char *key, const char *value)
{
	struct conf_pool	*pool = cur_pool(p);
	unsigned long long	 lo = 0, hi;
	size_t			 n;

	n = parse_digits(value, &lo);
	hi = lo;
	if (n != 0 && value[n] == '-') {
		if (parse_uint(value + n + 1, &hi) == -1)
			n = 0;
	} else if (n != 0 && value[n] != '\0')
		n = 0;
	if (n == 0 || lo < 100 || hi > 599 || lo > hi)
		return bad_value(p, key, value,
		    "a status like 200 or a range like 200-399 within 100-599");
	pool->health_expect_lo = (unsigned)lo;
	pool->health_expect_hi = (unsigned)hi;
	return 0;
}

/*
 * Appends a server to conf->servers, keeping the pool's servers contiguous
 * (a pool's section is read once, so its server lines come together).
 */
static int
set_server(struct parser *p, const char *key, const char *value)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool = cur_pool(p);
	struct conf_server	 s, *grown;
	unsigned		 i;
	size_t			 cap;
	char			 msg[512];

	(void)key;
	memset(&s, 0, sizeof(s));
	if (conf_parse_server(value, &s, msg, sizeof(msg)) == -1) {
		conf_error(p, p->lineno, "%s", msg);
		return -1;
	}
	for (i = p->first_server[pool->id]; i < c->nservers; i++) {
		if (strcmp(c->servers[i].name, s.name) == 0) {
			conf_error(p, p->lineno, "server %s: duplicate name in "
			    "%s (first on line %d)", s.name, p->sec_label,
			    c->servers[i].line);
			goto fail;
		}
	}
	if (c->nservers == CONF_MAX_SERVERS) {
		conf_error(p, p->lineno, "too many servers (max %d)",
		    CONF_MAX_SERVERS);
		goto fail;
	}
	if (c->nservers == p->servers_cap) {
		cap = p->servers_cap == 0 ? 16 : p->servers_cap * 2;
		if ((grown = reallocarray(c->servers, cap,
		    sizeof(*grown))) == NULL) {
			conf_error(p, p->lineno, "%s", strerror(errno));
			goto fail;
		}
		c->servers = grown;
		p->servers_cap = cap;
	}
	s.line = p->lineno;
	s.id = c->nservers;
	c->servers[c->nservers++] = s;
	pool->nservers++;
	return 0;
fail:
	conf_run_free(s.run);
	return -1;
}

#define K_FUNC(s, n, f)			{ n, f, 0, 0, 0, s, KT_FUNC }
#define K_NUM(s, n, t, o, lo, hi)	{ n, NULL, o, lo, hi, s, t }
#define G(f)	offsetof(struct conf, f)
#define L(f)	offsetof(struct conf_listener, f)
#define P(f)	offsetof(struct conf_pool, f)
#define DMAX	DURATION_MAX_MS

static const struct key_def keys[] = {
	K_FUNC(SEC_GLOBAL, "workers", set_workers),
	K_NUM(SEC_GLOBAL, "daemon", KT_BOOL, G(daemon), 0, 1),
	K_FUNC(SEC_GLOBAL, "pidfile", set_pidfile),
	K_FUNC(SEC_GLOBAL, "user", set_user),
	K_FUNC(SEC_GLOBAL, "error_log", set_error_log),
	K_FUNC(SEC_GLOBAL, "access_log", set_access_log),
	K_NUM(SEC_GLOBAL, "restart_intensity", KT_UINT,
	    G(restart_intensity), 0, 10000),
	K_NUM(SEC_GLOBAL, "restart_period", KT_MSEC,
	    G(restart_period_ms), 1, DMAX),
	K_NUM(SEC_GLOBAL, "shutdown_timeout", KT_MSEC,
	    G(shutdown_timeout_ms), 0, DMAX),
	K_NUM(SEC_GLOBAL, "max_connections", KT_UINT,
	    G(max_connections), 1, 1000000),
	K_NUM(SEC_GLOBAL, "max_draining_generations", KT_UINT,
	    G(max_draining), 1, 16),

	K_FUNC(SEC_LISTEN, "bind", set_listen_bind),
	K_FUNC(SEC_LISTEN, "pool", set_listen_pool),
	K_NUM(SEC_LISTEN, "client_timeout", KT_MSEC,
	    L(client_timeout_ms), 1, DMAX),
	K_NUM(SEC_LISTEN, "max_header_size", KT_SIZE,
	    L(max_header_size), 1024, 1024 * 1024),

	K_FUNC(SEC_ADMIN, "bind", set_admin_bind),

	K_FUNC(SEC_POOL, "algorithm", set_algorithm),
	K_FUNC(SEC_POOL, "hash_key", set_hash_key),
	K_NUM(SEC_POOL, "connect_timeout", KT_MSEC,
	    P(connect_timeout_ms), 1, DMAX),
	K_NUM(SEC_POOL, "server_timeout", KT_MSEC,
	    P(server_timeout_ms), 1, DMAX),
	K_NUM(SEC_POOL, "retries", KT_UINT, P(retries), 0, 10),
	K_NUM(SEC_POOL, "keepalive", KT_UINT, P(keepalive), 0, 1024),
	K_NUM(SEC_POOL, "keepalive_timeout", KT_MSEC,
	    P(keepalive_timeout_ms), 1, DMAX),
	K_FUNC(SEC_POOL, "health_check", set_health_check),
	K_NUM(SEC_POOL, "health_interval", KT_MSEC,
	    P(health_interval_ms), 1, DMAX),
	K_NUM(SEC_POOL, "health_timeout", KT_MSEC,
	    P(health_timeout_ms), 1, DMAX),
	K_NUM(SEC_POOL, "health_rise", KT_UINT, P(health_rise), 1, 100),
	K_NUM(SEC_POOL, "health_fall", KT_UINT, P(health_fall), 1, 100),
	K_FUNC(SEC_POOL, "health_expect", set_health_expect),
	K_FUNC(SEC_POOL, "server", set_server),	/* may repeat */
};

#undef K_FUNC
#undef K_NUM
#undef G
#undef L
#undef P
#undef DMAX

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= KEYS_MAX, "raise KEYS_MAX");

static const struct key_def *
key_find(enum section sec, const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Where a key was set in the current section, or 0. */
static int
key_line(struct parser *p, enum section sec, const char *name)
{
	return p->key_line[key_find(sec, name) - keys];
}

/* The inih handler: one call per "key = value" line. */
static int
conf_handler(void *arg, const char *section, const char *key,
    const char *value)
{
	struct parser		*p = arg;
	const struct key_def	*k;
	int			*seen;

	(void)section;		/* inih cuts long names: ours is p->sec */
	if (p->failed)
		return 0;
	if (value == NULL) {	/* only if inih allows keys without '=' */
		conf_error(p, p->lineno, "syntax error: expected key = value");
		return 0;
	}
	if (p->sec == SEC_NONE) {
		conf_error(p, p->lineno, "%s is outside any section", key);
		return 0;
	}
	if ((k = key_find(p->sec, key)) == NULL) {
		conf_error(p, p->lineno, "unknown key %s in %s", key,
		    p->sec_label);
		return 0;
	}
	seen = &p->key_line[k - keys];
	if (*seen != 0 && k->set != set_server) {
		conf_error(p, p->lineno, "%s is duplicate in %s (first on "
		    "line %d)", key, p->sec_label, *seen);
		return 0;
	}
	*seen = p->lineno;
	return set_typed(p, k, value) == 0;
}

/* Checks what a section needs once all its lines are read. */
static void
section_close(struct parser *p)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool;
	unsigned		 i;
	int			 line;
	char			 label[SECTION_TEXT_MAX];

	switch (p->sec) {
	case SEC_LISTEN:
		if (key_line(p, SEC_LISTEN, "bind") == 0)
			conf_error(p, p->sec_line, "%s has no bind",
			    p->sec_label);
		else if (key_line(p, SEC_LISTEN, "pool") == 0)
			conf_error(p, p->sec_line, "%s has no pool",
			    p->sec_label);
		break;
	case SEC_POOL:
		pool = cur_pool(p);
		if (pool->nservers == 0) {
			conf_error(p, p->sec_line, "%s has no server",
			    p->sec_label);
			break;
		}
		if (pool->health_timeout_ms <= pool->health_interval_ms)
			break;
		if ((line = key_line(p, SEC_POOL, "health_timeout")) == 0)
			line = key_line(p, SEC_POOL, "health_interval");
		conf_error(p, line, "health_timeout (%ums) is greater than "
		    "health_interval (%ums)", pool->health_timeout_ms,
		    pool->health_interval_ms);
		break;
	case SEC_ADMIN:
		p->admin_done = true;
		line = p->admin_bind_line != 0 ? p->admin_bind_line :
		    p->admin_line;
		for (i = 0; i < c->nlisteners; i++) {
			if (!addr_overlap(&c->admin_bind,
			    &c->listeners[i].bind))
				continue;
			conf_error(p, line, "[admin] bind %s conflicts with "
			    "%s bind %s on line %d", c->admin_bind.text,
			    listener_label(&c->listeners[i], label,
			    sizeof(label)), c->listeners[i].bind.text,
			    p->lis[i].bind_line);
			break;
		}
		break;
	case SEC_NONE:
	case SEC_GLOBAL:
		break;
	}
}

/* Opens [listen] or [listen NAME]; name is "" for the former. */
static int
open_listen(struct parser *p, const char *name)
{
	struct conf		*c = p->conf;
	struct conf_listener	*l;
	unsigned		 i;

	for (i = 0; i < c->nlisteners; i++) {
		if (strcmp(c->listeners[i].name, name) == 0) {
			conf_error(p, p->lineno, "duplicate section %s",
			    p->sec_label);
			return -1;
		}
	}
	if (c->nlisteners == CONF_MAX_LISTENERS) {
		conf_error(p, p->lineno, "too many [listen] sections (max %d)",
		    CONF_MAX_LISTENERS);
		return -1;
	}
	l = &c->listeners[c->nlisteners++];
	strlcpy(l->name, name, sizeof(l->name));
	l->client_timeout_ms = 30 * 1000;
	l->max_header_size = 16 * 1024;
	l->line = p->lineno;
	return 0;
}

static int
open_pool(struct parser *p, const char *name)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool;
	unsigned		 i;

	for (i = 0; i < c->npools; i++) {
		if (strcmp(c->pools[i].name, name) == 0) {
			conf_error(p, p->lineno, "duplicate section %s",
			    p->sec_label);
			return -1;
		}
	}
	if (c->npools == CONF_MAX_POOLS) {
		conf_error(p, p->lineno, "too many [pool] sections (max %d)",
		    CONF_MAX_POOLS);
		return -1;
	}
	pool = &c->pools[c->npools];
	strlcpy(pool->name, name, sizeof(pool->name));
	pool->algorithm = ALG_ROUND_ROBIN;
	pool->hash_key = HASH_CLIENT_IP;
	pool->connect_timeout_ms = 2 * 1000;
	pool->server_timeout_ms = 30 * 1000;
	pool->retries = 2;
	pool->keepalive = 32;
	pool->keepalive_timeout_ms = 60 * 1000;
	pool->health_check = HEALTH_TCP;
	pool->health_interval_ms = 2 * 1000;
	pool->health_timeout_ms = 1000;
	pool->health_rise = 2;
	pool->health_fall = 3;
	pool->health_expect_lo = 200;
	pool->health_expect_hi = 399;
	pool->id = c->npools;
	pool->line = p->lineno;
	p->first_server[pool->id] = c->nservers;
	c->npools++;
	return 0;
}

/* Opens the section named inside the brackets: "pool web", "global"... */
static int
open_section(struct parser *p, char *inner)
{
	char		*kind = inner, *name;
	size_t		 n;

	n = strcspn(kind, " \t");
	name = kind + n + strspn(kind + n, " \t");
	kind[n] = '\0';
	snprintf(p->sec_label, sizeof(p->sec_label), "[%s%s%s]", kind,
	    name[0] != '\0' ? " " : "", name);
	if (strcmp(kind, "pool") == 0 && name[0] == '\0') {
		conf_error(p, p->lineno, "[pool] needs a name: [pool NAME]");
		return -1;
	}
	if ((strcmp(kind, "global") == 0 || strcmp(kind, "admin") == 0) &&
	    name[0] != '\0') {
		conf_error(p, p->lineno, "[%s] takes no name", kind);
		return -1;
	}
	if (name[0] != '\0' && !conf_valid_name(name)) {
		conf_error(p, p->lineno, "bad name in %s: expected 1 to %d of "
		    "A-Z a-z 0-9 - _ .", p->sec_label, CONF_NAME_MAX - 1);
		return -1;
	}
	p->sec_line = p->lineno;
	memset(p->key_line, 0, sizeof(p->key_line));
	if (strcmp(kind, "global") == 0) {
		p->sec = SEC_GLOBAL;
		if (p->seen_global) {
			conf_error(p, p->lineno, "duplicate section [global]");
			return -1;
		}
		p->seen_global = true;
		return 0;
	}
	if (strcmp(kind, "admin") == 0) {
		p->sec = SEC_ADMIN;
		if (p->conf->has_admin) {
			conf_error(p, p->lineno, "duplicate section [admin]");
			return -1;
		}
		p->conf->has_admin = true;
		p->admin_line = p->lineno;
		return 0;
	}
	if (strcmp(kind, "listen") == 0) {
		p->sec = SEC_LISTEN;
		return open_listen(p, name);
	}
	if (strcmp(kind, "pool") == 0) {
		p->sec = SEC_POOL;
		return open_pool(p, name);
	}
	p->sec = SEC_NONE;
	conf_error(p, p->lineno, "unknown section %s", p->sec_label);
	return -1;
}

/*
 * Called by the reader for a line that starts with '[', before inih sees
 * it: closes the section being read and opens the new one.  A header
 * without ']' is left to inih, which reports it as a syntax error.
 */
static int
section_line(struct parser *p, const char *line)
{
	char		 inner[SECTION_TEXT_MAX];
	const char	*close, *rest;
	size_t		 len;

	if ((close = strchr(line, ']')) == NULL)
		return 0;
	rest = close + 1 + strspn(close + 1, " \t");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		conf_error(p, p->lineno, "junk after the section header: %s",
		    rest);
		return -1;
	}
	section_close(p);
	if (p->failed)
		return -1;
	line++;
	line += strspn(line, " \t");
	len = (size_t)(close - line);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len >= sizeof(inner)) {
		conf_error(p, p->lineno, "section header too long");
		return -1;
	}
	memcpy(inner, line, len);
	inner[len] = '\0';
	return open_section(p, inner);
}

/*
 * The inih reader: hands out one line per call, counting lines, so that
 * errors carry a line number whatever INI_HANDLER_LINENO was at inih's build.
 * inih's buffer holds `num` bytes; fgets() would split a longer line and
 * inih would act on the pieces, so a line of more than num - 2 bytes
 * (besides its "\n" or "\r\n") is an error and nothing of it is handed out.
 * Leading blanks are dropped, so an indented line is never taken for a
 * continuation of the previous value.  Returns NULL at the end of the file
 * and after any error, which stops inih.
 */
static char *
conf_reader(char *line, int num, void *arg)
{
	struct parser	*p = arg;
	size_t		 len = 0, limit, skip;
	int		 ch;

	if (p->failed || num < 3)
		return NULL;
	limit = (size_t)num - 2;
	if ((ch = getc(p->fp)) == EOF) {
		if (ferror(p->fp))
			conf_error(p, 0, "read error: %s", strerror(errno));
		return NULL;
	}
	p->lineno++;
	for (; ch != EOF && ch != '\n'; ch = getc(p->fp)) {
		if (ch == '\0') {
			conf_error(p, p->lineno, "NUL byte in line");
			return NULL;
		}
		if (len > limit)	/* room for one '\r' more */
			break;
		line[len++] = (char)ch;
	}
	if (ch == EOF && ferror(p->fp)) {
		conf_error(p, p->lineno, "read error: %s", strerror(errno));
		return NULL;
	}
	if (len > 0 && line[len - 1] == '\r' && (ch == '\n' || ch == EOF))
		len--;
	if (len > limit || (ch != '\n' && ch != EOF)) {
		conf_error(p, p->lineno, "line too long (max %zu bytes)",
		    limit);
		return NULL;
	}
	line[len] = '\0';
	skip = 0;
	if (p->lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
		skip = 3;			/* UTF-8 byte order mark */
	while (isspace((unsigned char)line[skip]))
		skip++;
	memmove(line, line + skip, len - skip + 1);
	if (line[0] == '[' && section_line(p, line) == -1)
		return NULL;
	return line;
}

/* Resolves listeners' pools and points pools and servers at each other. */
static void
conf_finish(struct parser *p)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool;
	unsigned		 i, j;

	if (c->nlisteners == 0) {
		conf_error(p, 0, "no [listen] section");
		return;
	}
	if (c->npools == 0) {
		conf_error(p, 0, "no [pool NAME] section");
		return;
	}
	for (i = 0; i < c->nlisteners; i++) {
		for (j = 0; j < c->npools; j++)
			if (strcmp(c->pools[j].name, p->lis[i].pool) == 0)
				c->listeners[i].pool = &c->pools[j];
		if (c->listeners[i].pool == NULL) {
			conf_error(p, p->lis[i].pool_line, "no pool named %s",
			    p->lis[i].pool);
			return;
		}
	}
	for (i = 0; i < c->npools; i++) {
		pool = &c->pools[i];
		pool->servers = &c->servers[p->first_server[i]];
		for (j = 0; j < pool->nservers; j++)
			pool->servers[j].pool = pool;
	}
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct parser	 p;
	struct conf	*c;
	int		 r;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conf_error(&p, 0, "%s", strerror(errno));
		return NULL;
	}
	p.conf = c;
	c->workers = online_cpus();
	c->daemon = true;
	strlcpy(c->pidfile, "/run/forklift.pid", sizeof(c->pidfile));
	strlcpy(c->error_log, "syslog", sizeof(c->error_log));
	c->restart_intensity = 10;
	c->restart_period_ms = 60 * 1000;
	c->shutdown_timeout_ms = 30 * 1000;
	c->max_connections = 4096;
	c->max_draining = 2;
	if (conf_parse_addr("127.0.0.1:8081", &c->admin_bind) == -1)
		abort();	/* a constant: cannot fail */

	if (strlcpy(c->path, path, sizeof(c->path)) >= sizeof(c->path))
		conf_error(&p, 0, "path too long (max %d bytes)",
		    CONF_PATH_MAX - 1);
	else if ((p.fp = fopen(path, "re")) == NULL)
		conf_error(&p, 0, "cannot open: %s", strerror(errno));
	if (p.failed)
		goto fail;

	r = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	fclose(p.fp);
	if (r > 0 && (!p.failed || r < p.errline)) {
		/* inih's own complaint: neither [section] nor key = value */
		p.failed = false;
		conf_error(&p, r, "syntax error: expected [section] or "
		    "key = value");
	} else if (r < 0)
		conf_error(&p, 0, "cannot parse (inih error %d)", r);
	if (!p.failed)
		section_close(&p);
	if (!p.failed)
		conf_finish(&p);
	if (p.failed)
		goto fail;
	return c;
fail:
	conf_free(c);
	return NULL;
}

void
conf_free(struct conf *c)
{
	unsigned	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nservers; i++)
		conf_run_free(c->servers[i].run);
	free(c->servers);
	free(c);
}
