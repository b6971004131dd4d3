/*
 * The keys of the configuration: their table, their defaults and bounds,
 * the syntax of their values (integers, durations, sizes, yes/no, names,
 * paths) and a setter for each that needs more than a number.  The reader
 * (config.c) hands each "key = value" line to conf_key_set().
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
 * A key set twice in a section is an error, except `server`.
 */

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_int.h"

/* The longest duration any key takes: a day, well inside an int of ms. */
#define DURATION_MAX_MS		(24u * 60 * 60 * 1000)

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

void
conf_defaults_global(struct conf *c)
{
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
}

void
conf_defaults_listener(struct conf_listener *l)
{
	l->client_timeout_ms = 30 * 1000;
	l->max_header_size = 16 * 1024;
}

void
conf_defaults_pool(struct conf_pool *pool)
{
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
		base = (char *)conf_cur_listener(p);
	else if (p->sec == SEC_POOL)
		base = (char *)conf_cur_pool(p);
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

static int
set_listen_bind(struct parser *p, const char *key, const char *value)
{
	struct conf		*c = p->conf;
	struct conf_listener	*l = conf_cur_listener(p);
	unsigned		 i, me = c->nlisteners - 1;
	char			 label[SECTION_TEXT_MAX];

	if (conf_parse_addr(value, &l->bind) == -1)
		return bad_value(p, key, value,
		    "a numeric address like 0.0.0.0:8080 or [::]:8080");
	p->lis[me].bind_line = p->lineno;
	for (i = 0; i < me; i++) {
		if (p->lis[i].bind_line == 0 ||
		    !conf_addr_overlap(&l->bind, &c->listeners[i].bind))
			continue;
		conf_error(p, p->lineno, "bind %s conflicts with %s bind %s "
		    "on line %d", value, conf_listener_label(&c->listeners[i],
		    label, sizeof(label)), c->listeners[i].bind.text,
		    p->lis[i].bind_line);
		return -1;
	}
	if (p->admin_done && conf_addr_overlap(&l->bind, &c->admin_bind)) {
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
			conf_cur_pool(p)->algorithm = (enum conf_algorithm)i;
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
	struct conf_pool	*pool = conf_cur_pool(p);
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
	struct conf_pool	*pool = conf_cur_pool(p);
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
	struct conf_pool	*pool = conf_cur_pool(p);
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
	struct conf_pool	*pool = conf_cur_pool(p);
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

int
conf_key_line(const struct parser *p, enum section sec, const char *key)
{
	const struct key_def	*k;

	if ((k = key_find(sec, key)) == NULL)
		return 0;
	return p->key_line[k - keys];
}

int
conf_key_set(struct parser *p, const char *key, const char *value)
{
	const struct key_def	*k;
	int			*seen;

	if ((k = key_find(p->sec, key)) == NULL) {
		conf_error(p, p->lineno, "unknown key %s in %s", key,
		    p->sec_label);
		return -1;
	}
	seen = &p->key_line[k - keys];
	if (*seen != 0 && k->set != set_server) {
		conf_error(p, p->lineno, "%s is duplicate in %s (first on "
		    "line %d)", key, p->sec_label, *seen);
		return -1;
	}
	*seen = p->lineno;
	return set_typed(p, k, value);
}
