/*
 * Unit tests of the configuration loader (common/config.c, config_keys.c
 * and config_server.c): every key and its default, the syntax of
 * durations, sizes, addresses and server lines, and the exact
 * "FILE:LINE: message" of every error.  Most files are written from strings
 * below into a temporary directory; tests/unit/conf/ holds the larger ones,
 * found under $FORKLIFT_SRCDIR (else the current directory).
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <bsd/string.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

#define ERR_MAX		1024

/* A listener and a pool that make a file complete: 3 and 2 lines. */
#define L1	"[listen]\nbind = 127.0.0.1:8080\npool = web\n"
#define P1	"[pool web]\nserver = a 127.0.0.1:9001\n"

static char	 tmpdir[64];
static char	 conf_path[128];

static void
tmp_setup(void)
{
	strlcpy(tmpdir, "/tmp/forklift-conf-XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(conf_path, sizeof(conf_path), "%s/forklift.ini", tmpdir);
}

static void
tmp_teardown(void)
{
	if (unlink(conf_path) == -1)
		ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(rmdir(tmpdir), 0);
}

/* Writes len bytes of text to conf_path. */
static void
write_bytes(const char *text, size_t len)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(conf_path, "w"));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static struct conf *
load_text(const char *text, char *err)
{
	write_bytes(text, strlen(text));
	return conf_load(conf_path, err, ERR_MAX);
}

/* Asserts that text fails with "conf_path:line: msg" ("conf_path: msg"). */
static void
expect_error(const char *text, int line, const char *msg)
{
	char	 err[ERR_MAX], want[ERR_MAX];

	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", conf_path, msg);
	ck_assert_ptr_null(load_text(text, err));
	ck_assert_str_eq(err, want);
}

static void
fixture_path(const char *name, char *buf, size_t len)
{
	const char	*src = getenv("FORKLIFT_SRCDIR");

	snprintf(buf, len, "%s/tests/unit/conf/%s",
	    src != NULL && src[0] != '\0' ? src : ".", name);
}

static unsigned
expected_workers(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > CONF_MAX_WORKERS ? CONF_MAX_WORKERS : (unsigned)n;
}

static unsigned
addr_port(const struct conf_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

/* Loads tests/unit/conf/full.ini, which sets every key. */
static struct conf *
load_full(char *path, size_t len)
{
	char		 err[ERR_MAX];
	struct conf	*c;

	fixture_path("full.ini", path, len);
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

START_TEST(test_full_global)
{
	char			 path[CONF_PATH_MAX];
	struct conf		*c = load_full(path, sizeof(path));

	ck_assert_str_eq(c->path, path);
	ck_assert_uint_eq(c->workers, 3);
	ck_assert(!c->daemon);
	ck_assert_str_eq(c->pidfile, "/tmp/forklift-test.pid");
	ck_assert_str_eq(c->user, "nobody");
	ck_assert_str_eq(c->error_log, "/var/log/forklift/error.log");
	ck_assert_str_eq(c->access_log, "/var/log/forklift/access.log");
	ck_assert_uint_eq(c->restart_intensity, 5);
	ck_assert_uint_eq(c->restart_period_ms, 120000);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 1500);
	ck_assert_uint_eq(c->max_connections, 1000);
	ck_assert_uint_eq(c->max_draining, 4);
	ck_assert(c->has_admin);
	ck_assert_str_eq(c->admin_bind.text, "127.0.0.1:9090");
	ck_assert_uint_eq(addr_port(&c->admin_bind), 9090);
	conf_free(c);
}
END_TEST

START_TEST(test_full_listeners)
{
	char			 path[CONF_PATH_MAX];
	struct conf		*c = load_full(path, sizeof(path));
	struct conf_listener	*l;

	ck_assert_uint_eq(c->nlisteners, 2);
	l = &c->listeners[0];
	ck_assert_str_eq(l->name, "public");
	ck_assert_str_eq(l->bind.text, "0.0.0.0:8080");
	ck_assert_int_eq(l->bind.ss.ss_family, AF_INET);
	ck_assert_uint_eq(l->bind.len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(addr_port(&l->bind), 8080);
	ck_assert_ptr_eq(l->pool, &c->pools[0]);
	ck_assert_uint_eq(l->client_timeout_ms, 15000);
	ck_assert_uint_eq(l->max_header_size, 32 * 1024);
	ck_assert_int_eq(l->line, 17);
	l = &c->listeners[1];
	ck_assert_str_eq(l->name, "");
	ck_assert_str_eq(l->bind.text, "[::1]:8443");
	ck_assert_int_eq(l->bind.ss.ss_family, AF_INET6);
	ck_assert_uint_eq(l->bind.len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(addr_port(&l->bind), 8443);
	ck_assert_ptr_eq(l->pool, &c->pools[1]);
	ck_assert_uint_eq(l->client_timeout_ms, 250);
	ck_assert_uint_eq(l->max_header_size, 1024 * 1024);
	ck_assert_int_eq(l->line, 23);
	conf_free(c);
}
END_TEST

START_TEST(test_full_pools)
{
	char			 path[CONF_PATH_MAX];
	struct conf		*c = load_full(path, sizeof(path));
	struct conf_pool	*web = &c->pools[0], *api = &c->pools[1];

	ck_assert_uint_eq(c->npools, 2);
	ck_assert_str_eq(web->name, "web");
	ck_assert_uint_eq(web->id, 0);
	ck_assert_int_eq(web->line, 32);
	ck_assert_int_eq(web->algorithm, ALG_CONSISTENT_HASH);
	ck_assert_int_eq(web->hash_key, HASH_COOKIE);
	ck_assert_str_eq(web->hash_key_name, "session");
	ck_assert_uint_eq(web->connect_timeout_ms, 500);
	ck_assert_uint_eq(web->server_timeout_ms, 60000);
	ck_assert_uint_eq(web->retries, 0);
	ck_assert_uint_eq(web->keepalive, 8);
	ck_assert_uint_eq(web->keepalive_timeout_ms, 90000);
	ck_assert_int_eq(web->health_check, HEALTH_HTTP);
	ck_assert_str_eq(web->health_path, "/heartbeat");
	ck_assert_uint_eq(web->health_interval_ms, 5000);
	ck_assert_uint_eq(web->health_timeout_ms, 5000);
	ck_assert_uint_eq(web->health_rise, 4);
	ck_assert_uint_eq(web->health_fall, 5);
	ck_assert_uint_eq(web->health_expect_lo, 204);
	ck_assert_uint_eq(web->health_expect_hi, 204);
	ck_assert_uint_eq(web->nservers, 3);
	ck_assert_ptr_eq(web->servers, &c->servers[0]);

	ck_assert_str_eq(api->name, "api");
	ck_assert_uint_eq(api->id, 1);
	ck_assert_int_eq(api->algorithm, ALG_LEAST_CONN);
	ck_assert_int_eq(api->hash_key, HASH_HEADER);
	ck_assert_str_eq(api->hash_key_name, "X-User");
	ck_assert_int_eq(api->health_check, HEALTH_OFF);
	ck_assert_str_eq(api->health_path, "");
	ck_assert_uint_eq(api->health_expect_lo, 200);
	ck_assert_uint_eq(api->health_expect_hi, 299);
	ck_assert_uint_eq(api->nservers, 2);
	ck_assert_ptr_eq(api->servers, &c->servers[3]);
	conf_free(c);
}
END_TEST

START_TEST(test_full_servers)
{
	char			 path[CONF_PATH_MAX];
	struct conf		*c = load_full(path, sizeof(path));
	struct conf_server	*s = c->servers;
	struct conf_run		*r;

	ck_assert_uint_eq(c->nservers, 5);
	ck_assert_str_eq(s[0].name, "app1");
	ck_assert_str_eq(s[0].addr.text, "127.0.0.1:9001");
	ck_assert_uint_eq(s[0].weight, 3);
	ck_assert_uint_eq(s[0].max_conns, 0);
	ck_assert_ptr_null(s[0].run);
	ck_assert_int_eq(s[0].line, 46);
	ck_assert_str_eq(s[1].name, "app2");
	ck_assert_uint_eq(s[1].weight, 1);
	ck_assert_uint_eq(s[1].max_conns, 100);
	ck_assert_str_eq(s[2].name, "app3");
	ck_assert_str_eq(s[2].addr.text, "[::1]:9003");
	ck_assert_int_eq(s[2].addr.ss.ss_family, AF_INET6);
	ck_assert_uint_eq(s[2].weight, 256);
	ck_assert_int_eq(s[2].line, 48);

	ck_assert_str_eq(s[3].name, "a1");
	ck_assert_ptr_eq(s[3].pool, &c->pools[1]);
	ck_assert_uint_eq(s[3].id, 3);
	ck_assert_ptr_nonnull(r = s[3].run);
	ck_assert_int_eq(r->argc, 5);
	ck_assert_str_eq(r->argv[0], "/usr/bin/backend");
	ck_assert_str_eq(r->argv[1], "--port");
	ck_assert_str_eq(r->argv[2], "9101");
	ck_assert_str_eq(r->argv[3], "--name");
	ck_assert_str_eq(r->argv[4], "api one");
	ck_assert_ptr_null(r->argv[5]);
	ck_assert_str_eq(r->cwd, "/srv/api");
	ck_assert_int_eq(r->nenv, 2);
	ck_assert_str_eq(r->env[0], "MODE=test");
	ck_assert_str_eq(r->env[1], "GREETING=hello world");
	ck_assert_ptr_null(r->env[2]);
	ck_assert_str_eq(r->user, "www-data");
	ck_assert_str_eq(r->line_text, "a1 127.0.0.2:9101 "
	    "run=\"/usr/bin/backend --port 9101 --name 'api one'\" "
	    "cwd=/srv/api env=MODE=test env=GREETING=\"hello world\" "
	    "user=www-data");
	ck_assert_str_eq(s[4].name, "a2");
	ck_assert_ptr_null(s[4].run);

	ck_assert_ptr_eq(conf_find_server(c, "api", "a2"), &s[4]);
	ck_assert_ptr_eq(conf_find_server(c, "web", "app1"), &s[0]);
	ck_assert_ptr_null(conf_find_server(c, "web", "a2"));
	ck_assert_ptr_null(conf_find_server(c, "nope", "app1"));
	conf_free(c);
}
END_TEST

START_TEST(test_defaults)
{
	char			 err[ERR_MAX];
	struct conf		*c;
	struct conf_pool	*p;
	struct conf_listener	*l;

	c = load_text(L1 P1, err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->workers, expected_workers());
	ck_assert(c->daemon);
	ck_assert_str_eq(c->pidfile, "/run/forklift.pid");
	ck_assert_str_eq(c->user, "");
	ck_assert_str_eq(c->error_log, "syslog");
	ck_assert_str_eq(c->access_log, "");
	ck_assert_uint_eq(c->restart_intensity, 10);
	ck_assert_uint_eq(c->restart_period_ms, 60000);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 30000);
	ck_assert_uint_eq(c->max_connections, 4096);
	ck_assert_uint_eq(c->max_draining, 2);
	ck_assert(!c->has_admin);

	l = &c->listeners[0];
	ck_assert_str_eq(l->name, "");
	ck_assert_uint_eq(l->client_timeout_ms, 30000);
	ck_assert_uint_eq(l->max_header_size, 16384);

	p = &c->pools[0];
	ck_assert_int_eq(p->algorithm, ALG_ROUND_ROBIN);
	ck_assert_int_eq(p->hash_key, HASH_CLIENT_IP);
	ck_assert_str_eq(p->hash_key_name, "");
	ck_assert_uint_eq(p->connect_timeout_ms, 2000);
	ck_assert_uint_eq(p->server_timeout_ms, 30000);
	ck_assert_uint_eq(p->retries, 2);
	ck_assert_uint_eq(p->keepalive, 32);
	ck_assert_uint_eq(p->keepalive_timeout_ms, 60000);
	ck_assert_int_eq(p->health_check, HEALTH_TCP);
	ck_assert_str_eq(p->health_path, "");
	ck_assert_uint_eq(p->health_interval_ms, 2000);
	ck_assert_uint_eq(p->health_timeout_ms, 1000);
	ck_assert_uint_eq(p->health_rise, 2);
	ck_assert_uint_eq(p->health_fall, 3);
	ck_assert_uint_eq(p->health_expect_lo, 200);
	ck_assert_uint_eq(p->health_expect_hi, 399);
	ck_assert_uint_eq(c->servers[0].weight, 1);
	ck_assert_uint_eq(c->servers[0].max_conns, 0);
	ck_assert_ptr_null(c->servers[0].run);
	conf_free(c);

	/* An empty [admin] turns the endpoints on at their default bind. */
	c = load_text(L1 P1 "[admin]\n", err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(c->has_admin);
	ck_assert_str_eq(c->admin_bind.text, "127.0.0.1:8081");
	ck_assert_int_eq(c->admin_bind.ss.ss_family, AF_INET);
	ck_assert_uint_eq(addr_port(&c->admin_bind), 8081);
	conf_free(c);
}
END_TEST

START_TEST(test_workers_auto)
{
	char		 err[ERR_MAX];
	struct conf	*c;

	c = load_text("[global]\nworkers = auto\n" L1 P1, err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->workers, expected_workers());
	ck_assert_uint_ge(c->workers, 1);
	conf_free(c);
}
END_TEST

static const struct {
	const char	*text;
	unsigned	 ms;
} good_durations[] = {
	{ "0", 0 }, { "250", 250 }, { "250ms", 250 }, { "2s", 2000 },
	{ "1m", 60000 }, { "007s", 7000 }, { "4294967295", UINT_MAX },
	{ "4294967295ms", UINT_MAX }, { "4294967s", 4294967000u },
	{ "71582m", 71582u * 60000 },
};

START_TEST(test_duration_good)
{
	unsigned	 ms = 12345;

	ck_assert_int_eq(conf_parse_duration(good_durations[_i].text, &ms), 0);
	ck_assert_uint_eq(ms, good_durations[_i].ms);
}
END_TEST

static const char *const bad_durations[] = {
	"", "-1", "-1s", "+1", " 1", "1 ", "1 s", "1.5s", "1h", "1d", "s",
	"ms", "1S", "1MS", "1sm", "1mss", "0x10", "4294967296", "4294968s",
	"71583m", "99999999999999999999", "18446744073709551616ms", "1e3",
};

START_TEST(test_duration_bad)
{
	unsigned	 ms = 12345;

	ck_assert_int_eq(conf_parse_duration(bad_durations[_i], &ms), -1);
	ck_assert_uint_eq(ms, 12345);
}
END_TEST

static const struct {
	const char	*text;
	size_t		 bytes;
} good_sizes[] = {
	{ "0", 0 }, { "100", 100 }, { "16k", 16384 }, { "16K", 16384 },
	{ "1m", 1048576 }, { "2M", 2097152 },
	{ "9223372036854775807", LLONG_MAX },
	{ "9007199254740992k", 1ull << 63 },
};

START_TEST(test_size_good)
{
	size_t	 n = 12345;

	ck_assert_int_eq(conf_parse_size(good_sizes[_i].text, &n), 0);
	ck_assert_uint_eq(n, good_sizes[_i].bytes);
}
END_TEST

static const char *const bad_sizes[] = {
	"", "-1", "-1k", "+1", " 1", "1 k", "1.5k", "1g", "1kb", "k", "m",
	"16kk", "0x10", "18446744073709551615", "18014398509481984k",
	"17592186044416m",
};

START_TEST(test_size_bad)
{
	size_t	 n = 12345;

	ck_assert_int_eq(conf_parse_size(bad_sizes[_i], &n), -1);
	ck_assert_uint_eq(n, 12345);
}
END_TEST

static const struct {
	const char	*text;
	int		 family;
	unsigned	 port;
	const char	*host;
} good_addrs[] = {
	{ "127.0.0.1:80", AF_INET, 80, "127.0.0.1" },
	{ "0.0.0.0:65535", AF_INET, 65535, "0.0.0.0" },
	{ "10.1.2.3:1", AF_INET, 1, "10.1.2.3" },
	{ "[::1]:8080", AF_INET6, 8080, "::1" },
	{ "[::]:443", AF_INET6, 443, "::" },
	{ "[2001:db8::7]:9001", AF_INET6, 9001, "2001:db8::7" },
	{ "[::ffff:127.0.0.1]:81", AF_INET6, 81, "::ffff:127.0.0.1" },
};

START_TEST(test_addr_good)
{
	struct conf_addr	 a;
	char			 host[INET6_ADDRSTRLEN];
	const void		*raw;

	memset(&a, 0xa5, sizeof(a));
	ck_assert_int_eq(conf_parse_addr(good_addrs[_i].text, &a), 0);
	ck_assert_str_eq(a.text, good_addrs[_i].text);
	ck_assert_int_eq(a.ss.ss_family, good_addrs[_i].family);
	ck_assert_uint_eq(addr_port(&a), good_addrs[_i].port);
	if (a.ss.ss_family == AF_INET) {
		ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
		raw = &((struct sockaddr_in *)&a.ss)->sin_addr;
	} else {
		ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
		raw = &((struct sockaddr_in6 *)&a.ss)->sin6_addr;
	}
	ck_assert_ptr_nonnull(inet_ntop(a.ss.ss_family, raw, host,
	    sizeof(host)));
	ck_assert_str_eq(host, good_addrs[_i].host);
}
END_TEST

static const char *const bad_addrs[] = {
	"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:0",
	"127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:8x",
	"127.0.0.1: 80", " 127.0.0.1:80", "localhost:80", "127.1:80",
	"256.0.0.1:80", "::1:80", "[::1]80", "[::1]:", "[::1]", "[::1:80",
	"[127.0.0.1]:80", "[fe80::1%lo]:80", "[::1]:80x", "*:80",
	"[1111:2222:3333:4444:5555:6666:7777:8888]:65535xxxxxxxxxxxxxxxxxxxx",
};

START_TEST(test_addr_bad)
{
	struct conf_addr	 a;

	ck_assert_int_eq(conf_parse_addr(bad_addrs[_i], &a), -1);
}
END_TEST

/* Each error, the line it must name (0: none) and its message. */
static const struct {
	const char	*text;
	int		 line;
	const char	*msg;
} errors[] = {
	/* sections */
	{ "[bogus]\n" L1 P1, 1, "unknown section [bogus]" },
	{ "[pool]\n", 1, "[pool] needs a name: [pool NAME]" },
	{ "[global x]\n", 1, "[global] takes no name" },
	{ "[admin x]\n", 1, "[admin] takes no name" },
	{ "[pool we/b]\n", 1,
	    "bad name in [pool we/b]: expected 1 to 63 of A-Z a-z 0-9 - _ ." },
	{ "[global] x\n", 1, "junk after the section header: x" },
	{ "[global]\n[global]\n", 2, "duplicate section [global]" },
	{ "[admin]\n[admin]\n", 2, "duplicate section [admin]" },
	{ L1 "[listen]\n", 4, "duplicate section [listen]" },
	{ "[listen a]\nbind = 127.0.0.1:1\npool = web\n[listen a]\n", 4,
	    "duplicate section [listen a]" },
	{ L1 P1 P1, 6, "duplicate section [pool web]" },
	{ "[global\n", 1, "syntax error: expected [section] or key = value" },
	/* keys */
	{ "workers = 2\n" L1 P1, 1, "workers is outside any section" },
	{ "[global]\nworkerz = 2\n" L1 P1, 2,
	    "unknown key workerz in [global]" },
	{ "[admin]\nport = 1\n", 2, "unknown key port in [admin]" },
	{ L1 "bind6 = [::1]:1\n", 4, "unknown key bind6 in [listen]" },
	{ L1 P1 "colour = red\n", 6, "unknown key colour in [pool web]" },
	{ "[global]\nworkers = 2\nworkers = 3\n", 3,
	    "workers is duplicate in [global] (first on line 2)" },
	{ L1 "client_timeout = 1s\nclient_timeout = 2s\n", 5,
	    "client_timeout is duplicate in [listen] (first on line 4)" },
	{ L1 P1 "retries = 1\nretries = 1\n", 7,
	    "retries is duplicate in [pool web] (first on line 6)" },
	{ "[global]\nworkers\n", 2,
	    "syntax error: expected [section] or key = value" },
	{ "[global]\nworkers\nbogus = 1\n", 2,
	    "syntax error: expected [section] or key = value" },
	/* [global] values */
	{ "[global]\nworkers = 0\n", 2,
	    "workers = 0: expected auto or an integer from 1 to 64" },
	{ "[global]\nworkers = 65\n", 2,
	    "workers = 65: expected auto or an integer from 1 to 64" },
	{ "[global]\nworkers = Auto\n", 2,
	    "workers = Auto: expected auto or an integer from 1 to 64" },
	{ "[global]\ndaemon = maybe\n", 2,
	    "daemon = maybe: expected yes or no" },
	{ "[global]\npidfile = run/f.pid\n", 2, "pidfile = run/f.pid: "
	    "expected an absolute path shorter than 256 bytes" },
	{ "[global]\npidfile =\n", 2, "pidfile = : "
	    "expected an absolute path shorter than 256 bytes" },
	{ "[global]\nerror_log = log.txt\n", 2, "error_log = log.txt: "
	    "expected syslog, stderr or an absolute path shorter than 256 "
	    "bytes" },
	{ "[global]\naccess_log = stderr\n", 2, "access_log = stderr: "
	    "expected off or an absolute path shorter than 256 bytes" },
	{ "[global]\nuser = bad user\n", 2, "user = bad user: "
	    "expected a user name (letters, digits, - _ .) or nothing" },
	{ "[global]\nrestart_intensity = 10001\n", 2,
	    "restart_intensity = 10001: expected an integer from 0 to 10000" },
	{ "[global]\nrestart_period = 10x\n", 2, "restart_period = 10x: "
	    "expected a duration like 250ms, 2s or 1m, from 1ms to 1440m" },
	{ "[global]\nrestart_period = 0\n", 2, "restart_period = 0: "
	    "expected a duration like 250ms, 2s or 1m, from 1ms to 1440m" },
	{ "[global]\nshutdown_timeout = -1s\n", 2, "shutdown_timeout = -1s: "
	    "expected a duration like 250ms, 2s or 1m, from 0ms to 1440m" },
	{ "[global]\nshutdown_timeout = 1441m\n", 2, "shutdown_timeout = "
	    "1441m: expected a duration like 250ms, 2s or 1m, from 0ms to "
	    "1440m" },
	{ "[global]\nmax_connections = 0\n", 2,
	    "max_connections = 0: expected an integer from 1 to 1000000" },
	{ "[global]\nmax_draining_generations = 17\n", 2,
	    "max_draining_generations = 17: expected an integer from 1 to 16" },
	{ "[global]\nmax_draining_generations = 0\n", 2,
	    "max_draining_generations = 0: expected an integer from 1 to 16" },
	/* [listen] and [admin] values */
	{ "[listen]\nbind = localhost:8080\n", 2, "bind = localhost:8080: "
	    "expected a numeric address like 0.0.0.0:8080 or [::]:8080" },
	{ "[listen]\nbind = 127.0.0.1:0\n", 2, "bind = 127.0.0.1:0: "
	    "expected a numeric address like 0.0.0.0:8080 or [::]:8080" },
	{ "[listen]\npool = a b\n", 2, "pool = a b: expected a pool name" },
	{ L1 "client_timeout = 0\n", 4, "client_timeout = 0: "
	    "expected a duration like 250ms, 2s or 1m, from 1ms to 1440m" },
	{ L1 "max_header_size = 2m\n", 4, "max_header_size = 2m: "
	    "expected a size like 16k or 1m, from 1k to 1m" },
	{ L1 "max_header_size = 1023\n", 4, "max_header_size = 1023: "
	    "expected a size like 16k or 1m, from 1k to 1m" },
	{ "[admin]\nbind = 127.0.0.1\n", 2, "bind = 127.0.0.1: "
	    "expected a numeric address like 127.0.0.1:8081 or [::1]:8081" },
	{ "[listen]\npool = web\n" P1, 1, "[listen] has no bind" },
	{ "[listen x]\nbind = 127.0.0.1:8080\n" P1, 1,
	    "[listen x] has no pool" },
	{ "[listen]\nbind = 127.0.0.1:8080\npool = nope\n" P1, 3,
	    "no pool named nope" },
	/* binds that clash */
	{ L1 "[listen b]\nbind = 127.0.0.1:8080\npool = web\n" P1, 5,
	    "bind 127.0.0.1:8080 conflicts with [listen] bind 127.0.0.1:8080 "
	    "on line 2" },
	{ "[listen]\nbind = 0.0.0.0:8080\npool = web\n"
	    "[listen b]\nbind = 127.0.0.1:8080\npool = web\n" P1, 5,
	    "bind 127.0.0.1:8080 conflicts with [listen] bind 0.0.0.0:8080 "
	    "on line 2" },
	{ "[listen a]\npool = web\nbind = [::1]:8080\n"
	    "[listen b]\nbind = [::]:8080\npool = web\n" P1, 5,
	    "bind [::]:8080 conflicts with [listen a] bind [::1]:8080 "
	    "on line 3" },
	{ "[admin]\nbind = 127.0.0.1:8080\n" L1 P1, 4,
	    "bind 127.0.0.1:8080 conflicts with [admin] bind 127.0.0.1:8080 "
	    "on line 2" },
	{ L1 P1 "[admin]\nbind = 127.0.0.1:8080\n", 7,
	    "[admin] bind 127.0.0.1:8080 conflicts with [listen] bind "
	    "127.0.0.1:8080 on line 2" },
	{ "[listen]\nbind = 127.0.0.1:8081\npool = web\n" P1 "[admin]\n", 6,
	    "[admin] bind 127.0.0.1:8081 conflicts with [listen] bind "
	    "127.0.0.1:8081 on line 2" },
	/* missing sections */
	{ "", 0, "no [listen] section" },
	{ P1, 0, "no [listen] section" },
	{ L1, 0, "no [pool NAME] section" },
	/* [pool] values */
	{ L1 "[pool web]\nalgorithm = random\n", 4,
	    "[pool web] has no server" },
	{ L1 "[pool web]\n[pool api]\nserver = x 127.0.0.1:1\n", 4,
	    "[pool web] has no server" },
	{ L1 P1 "algorithm = fastest\n", 6, "algorithm = fastest: expected "
	    "round_robin, weighted_round_robin, least_conn, random, "
	    "power_of_two, ip_hash or consistent_hash" },
	{ L1 P1 "hash_key = header:\n", 6, "hash_key = header:: "
	    "expected client_ip, uri, header:NAME or cookie:NAME" },
	{ L1 P1 "hash_key = cookie:a b\n", 6, "hash_key = cookie:a b: "
	    "expected client_ip, uri, header:NAME or cookie:NAME" },
	{ L1 P1 "hash_key = ip\n", 6, "hash_key = ip: "
	    "expected client_ip, uri, header:NAME or cookie:NAME" },
	{ L1 P1 "connect_timeout = 0\n", 6, "connect_timeout = 0: "
	    "expected a duration like 250ms, 2s or 1m, from 1ms to 1440m" },
	{ L1 P1 "retries = 11\n", 6,
	    "retries = 11: expected an integer from 0 to 10" },
	{ L1 P1 "keepalive = 1025\n", 6,
	    "keepalive = 1025: expected an integer from 0 to 1024" },
	{ L1 P1 "health_check = http\n", 6, "health_check = http: "
	    "expected a path like /health (no spaces), tcp or off" },
	{ L1 P1 "health_rise = 0\n", 6,
	    "health_rise = 0: expected an integer from 1 to 100" },
	{ L1 P1 "health_fall = 101\n", 6,
	    "health_fall = 101: expected an integer from 1 to 100" },
	{ L1 P1 "health_expect = 600\n", 6, "health_expect = 600: expected "
	    "a status like 200 or a range like 200-399 within 100-599" },
	{ L1 P1 "health_expect = 399-200\n", 6, "health_expect = 399-200: "
	    "expected a status like 200 or a range like 200-399 within "
	    "100-599" },
	{ L1 P1 "health_expect = 200-\n", 6, "health_expect = 200-: "
	    "expected a status like 200 or a range like 200-399 within "
	    "100-599" },
	{ L1 P1 "health_interval = 1s\nhealth_timeout = 2s\n", 7,
	    "health_timeout (2000ms) is greater than health_interval "
	    "(1000ms)" },
	{ L1 P1 "health_interval = 500ms\n", 6,
	    "health_timeout (1000ms) is greater than health_interval (500ms)" },
	/* server lines */
	{ L1 P1 "server = a 127.0.0.1:9002\n", 6,
	    "server a: duplicate name in [pool web] (first on line 5)" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 weight=0\n", 5,
	    "server a: weight=0: expected 1..256" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 weight=257\n", 5,
	    "server a: weight=257: expected 1..256" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 weight=\n", 5,
	    "server a: weight=: expected 1..256" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 max_conns=1000001\n", 5,
	    "server a: max_conns=1000001: expected 0..1000000 (0 = no cap)" },
	{ L1 "[pool web]\nserver = a\n", 5,
	    "server: expected NAME ADDR [options]" },
	{ L1 "[pool web]\nserver =\n", 5,
	    "server: expected NAME ADDR [options]" },
	{ L1 "[pool web]\nserver = a/b 127.0.0.1:1\n", 5,
	    "server a/b: bad name (expected 1 to 63 of A-Z a-z 0-9 - _ .)" },
	{ L1 "[pool web]\nserver = a localhost:80\n", 5, "server a: bad "
	    "address localhost:80 (expected a.b.c.d:port or [v6]:port)" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 backup\n", 5,
	    "server a: backup: unknown option (expected weight=, max_conns=, "
	    "run=, cwd=, env= or user=)" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 weight=1 weight=2\n", 5,
	    "server a: weight=2: given twice" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=x run=y\n", 5,
	    "server a: run=y: given twice" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=\"./app\n", 5,
	    "server: unterminated quote" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=\"./app 'x\"\n", 5,
	    "server a: run=./app 'x: unterminated quote" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=\"\"\n", 5,
	    "server a: run=: no command" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=x cwd=srv\n", 5,
	    "server a: cwd=srv: expected an absolute path shorter than 256 "
	    "bytes" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=x env=1X=2\n", 5,
	    "server a: env=1X=2: expected env=NAME=VALUE" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=x env=X\n", 5,
	    "server a: env=X: expected env=NAME=VALUE" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 run=x user=a:b\n", 5,
	    "server a: user=a:b: expected a user name" },
	{ L1 "[pool web]\nserver = a 127.0.0.1:1 cwd=/srv\n", 5,
	    "server a: cwd=, env= and user= need run=" },
};

START_TEST(test_error)
{
	expect_error(errors[_i].text, errors[_i].line, errors[_i].msg);
}
END_TEST

START_TEST(test_missing_file)
{
	char	 err[ERR_MAX], want[ERR_MAX];

	ck_assert_ptr_null(conf_load(conf_path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: cannot open: %s", conf_path,
	    strerror(ENOENT));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "[global]\nwork\0ers = 2\n" L1 P1;
	char		 err[ERR_MAX], want[ERR_MAX];

	write_bytes(text, sizeof(text) - 1);
	ck_assert_ptr_null(conf_load(conf_path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", conf_path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* The 420-byte server line of tests/unit/conf/long-line.ini, line 9. */
START_TEST(test_long_line_fixture)
{
	char	 path[CONF_PATH_MAX], err[ERR_MAX], want[ERR_MAX];

	fixture_path("long-line.ini", path, sizeof(path));
	ck_assert_ptr_null(conf_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:9: line too long (max 198 bytes)",
	    path);
	ck_assert_str_eq(err, want);
}
END_TEST

/*
 * inih hands out lines through a 200-byte buffer: 198 bytes of text, the
 * newline and the NUL.  A 198-byte line (with "\n" or "\r\n") must arrive
 * whole; 199 bytes must be rejected on its own line, even when fgets()
 * would have split it into two lines that each look valid.
 */
START_TEST(test_line_limit)
{
	char		 text[1024], line[300], err[ERR_MAX], want[ERR_MAX];
	const char	*eol = _i == 0 ? "\n" : "\r\n";
	struct conf	*c;
	size_t		 pad;

	pad = 198 - strlen("pidfile = /");
	snprintf(line, sizeof(line), "pidfile = /%.*s", (int)pad,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	ck_assert_uint_eq(strlen(line), 198);
	snprintf(text, sizeof(text), "[global]%s%s%s" L1 P1, eol, line, eol);
	c = load_text(text, err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->pidfile, line + strlen("pidfile = "));
	conf_free(c);

	/* One byte more, and a tail that would parse as a key of its own. */
	snprintf(text, sizeof(text), "[global]%s%sworkers = 1%s" L1 P1, eol,
	    line, eol);
	ck_assert_uint_eq(strlen(line) + strlen("workers = 1"), 209);
	ck_assert_ptr_null(load_text(text, err));
	snprintf(want, sizeof(want), "%s:2: line too long (max 198 bytes)",
	    conf_path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* A file with a byte order mark, CRLF ends, indents and comments. */
START_TEST(test_layout)
{
	static const char text[] =
	    "\xef\xbb\xbf[global]\r\n"
	    "; a comment\r\n"
	    "# another\r\n"
	    "  workers = 2   ; inline comment\r\n"
	    "\r\n"
	    "\t[listen]\r\n"
	    "bind=127.0.0.1:8080\r\n"
	    "    pool   =   web\r\n"
	    "[ pool  web ] ; a pool\r\n"
	    "server = a 127.0.0.1:9001\r\n"
	    "  server = b 127.0.0.1:9002\r\n"
	    "\tserver = c 127.0.0.1:9003";	/* no newline at the end */
	char		 err[ERR_MAX];
	struct conf	*c;

	c = load_text(text, err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->workers, 2);
	ck_assert_uint_eq(c->listeners[0].line, 6);
	ck_assert_ptr_eq(c->listeners[0].pool, &c->pools[0]);
	ck_assert_str_eq(c->pools[0].name, "web");
	ck_assert_uint_eq(c->pools[0].nservers, 3);
	ck_assert_str_eq(c->servers[1].name, "b");
	ck_assert_int_eq(c->servers[1].line, 11);
	ck_assert_str_eq(c->servers[2].addr.text, "127.0.0.1:9003");
	ck_assert_int_eq(c->servers[2].line, 12);
	conf_free(c);
}
END_TEST

/* Server lines split into words, and run= split again into argv. */
START_TEST(test_run_words)
{
	struct conf_server	 s;
	char			 err[ERR_MAX];

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(conf_parse_server("a 127.0.0.1:1 "
	    "run=\"./app --port 9001\"", &s, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(s.run);
	ck_assert_int_eq(s.run->argc, 3);
	ck_assert_str_eq(s.run->argv[0], "./app");
	ck_assert_str_eq(s.run->argv[1], "--port");
	ck_assert_str_eq(s.run->argv[2], "9001");
	ck_assert_ptr_null(s.run->argv[3]);
	ck_assert_str_eq(s.run->cwd, "");
	ck_assert_str_eq(s.run->user, "");
	ck_assert_int_eq(s.run->nenv, 0);
	conf_run_free(s.run);

	/* Quotes of both kinds and backslashes, at both levels. */
	ck_assert_int_eq(conf_parse_server("a 127.0.0.1:1 run=\"./app "
	    "'two words' \\\"dq x\\\" back\\\\ slash ''\" w\\ eight=2", &s,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "server a: w eight=2: unknown option "
	    "(expected weight=, max_conns=, run=, cwd=, env= or user=)");
	ck_assert_ptr_null(s.run);

	ck_assert_int_eq(conf_parse_server("a 127.0.0.1:1 run=\"./app "
	    "'two words' \\\"dq x\\\" back\\\\ slash ''\" 'weight=2'", &s,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(s.run->argc, 5);
	ck_assert_str_eq(s.run->argv[1], "two words");
	ck_assert_str_eq(s.run->argv[2], "dq x");
	ck_assert_str_eq(s.run->argv[3], "back slash");
	ck_assert_str_eq(s.run->argv[4], "");
	ck_assert_uint_eq(s.weight, 2);
	conf_run_free(s.run);

	/* Single quotes keep backslashes; outside quotes they escape. */
	ck_assert_int_eq(conf_parse_server("a 127.0.0.1:1 "
	    "run=./app\\ 'a\\\\b' env=X=\"1 2\" cwd=/s user=u", &s, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(s.run->argc, 2);
	ck_assert_str_eq(s.run->argv[0], "./app");
	ck_assert_str_eq(s.run->argv[1], "a\\b");
	ck_assert_str_eq(s.run->env[0], "X=1 2");
	ck_assert_str_eq(s.run->cwd, "/s");
	ck_assert_str_eq(s.run->user, "u");
	ck_assert_str_eq(s.run->line_text, "a 127.0.0.1:1 "
	    "run=./app\\ 'a\\\\b' env=X=\"1 2\" cwd=/s user=u");
	conf_run_free(s.run);

}
END_TEST

START_TEST(test_run_words_bad)
{
	struct conf_server	 s;
	char			 err[ERR_MAX];

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(conf_parse_server("a 127.0.0.1:1 run=x\\", &s, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "server: backslash at the end");
	ck_assert_int_eq(conf_parse_server("a 127.0.0.1:1 run=\"x\\\\\"\"",
	    &s, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "server: unterminated quote");
	ck_assert_ptr_null(s.run);

	/* Not managed: no run= leaves run NULL. */
	ck_assert_int_eq(conf_parse_server("a [::1]:1 max_conns=7", &s, err,
	    sizeof(err)), 0);
	ck_assert_ptr_null(s.run);
	ck_assert_uint_eq(s.max_conns, 7);
	ck_assert_uint_eq(s.weight, 1);
}
END_TEST

/* Builds "a 127.0.0.1:1 run=\"w w w ...\"" with n words, or n env=. */
static char *
many(int n, bool env)
{
	char	*buf;
	size_t	 len;
	FILE	*f;
	int	 i;

	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	fprintf(f, "a 127.0.0.1:1 run=\"%s", env ? "x\"" : "");
	for (i = 0; i < n; i++)
		fprintf(f, env ? " env=V%d=%d" : "w%d ", i, i);
	fprintf(f, "%s", env ? "" : "\"");
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(test_run_limits)
{
	struct conf_server	 s;
	char			 err[ERR_MAX], *line;

	memset(&s, 0, sizeof(s));
	line = many(CONF_MAX_ARGS, false);
	ck_assert_int_eq(conf_parse_server(line, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.run->argc, CONF_MAX_ARGS);
	ck_assert_str_eq(s.run->argv[CONF_MAX_ARGS - 1], "w31");
	ck_assert_ptr_null(s.run->argv[CONF_MAX_ARGS]);
	conf_run_free(s.run);
	free(line);

	line = many(CONF_MAX_ARGS + 1, false);
	ck_assert_int_eq(conf_parse_server(line, &s, err, sizeof(err)), -1);
	ck_assert_ptr_null(s.run);
	ck_assert_msg(strncmp(err, "server a: run=w0 w1 ", 20) == 0, "%s", err);
	ck_assert_msg(strstr(err, "w32 : more than 32 words") != NULL, "%s",
	    err);
	free(line);

	line = many(CONF_MAX_ARGS, true);
	ck_assert_int_eq(conf_parse_server(line, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.run->nenv, CONF_MAX_ARGS);
	ck_assert_str_eq(s.run->env[CONF_MAX_ARGS - 1], "V31=31");
	ck_assert_ptr_null(s.run->env[CONF_MAX_ARGS]);
	conf_run_free(s.run);
	free(line);

	line = many(CONF_MAX_ARGS + 1, true);
	ck_assert_int_eq(conf_parse_server(line, &s, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "server a: env=V32=32: more than 32 env=");
	free(line);
}
END_TEST

/* run= with too many words, through conf_load: the line is named. */
START_TEST(test_run_too_many_words)
{
	char	 text[1024], *line, err[ERR_MAX];

	line = many(CONF_MAX_ARGS + 1, false);
	snprintf(text, sizeof(text), L1 "[pool web]\nserver = %s\n", line);
	free(line);
	ck_assert_ptr_null(load_text(text, err));
	ck_assert_msg(strncmp(err, conf_path, strlen(conf_path)) == 0 &&
	    strncmp(err + strlen(conf_path), ":5: server a: run=", 18) == 0,
	    "%s", err);
	ck_assert_msg(strstr(err, ": more than 32 words") != NULL, "%s", err);
}
END_TEST

/* Servers of several pools: ids in file order, pointers both ways. */
START_TEST(test_server_ids)
{
	static const unsigned	 sizes[] = { 10, 300, 1, 713 };
	char			*text, err[ERR_MAX];
	size_t			 len;
	FILE			*f;
	struct conf		*c;
	struct conf_pool	*p;
	unsigned		 i, j, id = 0;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	fprintf(f, "[listen]\nbind = 127.0.0.1:8080\npool = p3\n");
	for (i = 0; i < 4; i++) {
		fprintf(f, "[pool p%u]\n", i);
		for (j = 0; j < sizes[i]; j++)
			fprintf(f, "server = s%u 127.0.0.1:%u\n", j, 1000 + j);
	}
	ck_assert_int_eq(fclose(f), 0);
	c = load_text(text, err);
	free(text);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->nservers, CONF_MAX_SERVERS);
	ck_assert_ptr_eq(c->listeners[0].pool, &c->pools[3]);
	for (i = 0; i < c->npools; i++) {
		p = &c->pools[i];
		ck_assert_uint_eq(p->id, i);
		ck_assert_uint_eq(p->nservers, sizes[i]);
		ck_assert_ptr_eq(p->servers, &c->servers[id]);
		for (j = 0; j < p->nservers; j++, id++) {
			ck_assert_uint_eq(c->servers[id].id, id);
			ck_assert_ptr_eq(c->servers[id].pool, p);
		}
	}
	ck_assert_ptr_eq(conf_find_server(c, "p3", "s712"),
	    &c->servers[CONF_MAX_SERVERS - 1]);
	ck_assert_ptr_eq(conf_find_server(c, "p1", "s0"), &c->servers[10]);
	ck_assert_ptr_null(conf_find_server(c, "p2", "s1"));
	conf_free(c);
}
END_TEST

/* One more listener, pool or server than the CONF_MAX_* limits allow. */
START_TEST(test_limits)
{
	char	*text, want[ERR_MAX];
	size_t	 len;
	FILE	*f;
	int	 i, line;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	switch (_i) {
	case 0:
		for (i = 0; i <= CONF_MAX_LISTENERS; i++)
			fprintf(f, "[listen l%d]\nbind = 127.0.0.1:%d\n"
			    "pool = web\n", i, 8000 + i);
		line = 3 * CONF_MAX_LISTENERS + 1;
		snprintf(want, sizeof(want), "too many [listen] sections "
		    "(max %d)", CONF_MAX_LISTENERS);
		break;
	case 1:
		fprintf(f, L1);
		for (i = 0; i <= CONF_MAX_POOLS; i++)
			fprintf(f, "[pool p%d]\nserver = a 127.0.0.1:1\n", i);
		line = 3 + 2 * CONF_MAX_POOLS + 1;
		snprintf(want, sizeof(want), "too many [pool] sections "
		    "(max %d)", CONF_MAX_POOLS);
		break;
	default:
		fprintf(f, L1 "[pool web]\n");
		for (i = 0; i <= CONF_MAX_SERVERS; i++)
			fprintf(f, "server = s%d 127.0.0.1:1\n", i);
		line = 4 + CONF_MAX_SERVERS + 1;
		snprintf(want, sizeof(want), "too many servers (max %d)",
		    CONF_MAX_SERVERS);
		break;
	}
	ck_assert_int_eq(fclose(f), 0);
	expect_error(text, line, want);
	free(text);
}
END_TEST

START_TEST(test_algorithms)
{
	static const char *const names[] = {
		"round_robin", "weighted_round_robin", "least_conn", "random",
		"power_of_two", "ip_hash", "consistent_hash",
	};
	char		 text[256], err[ERR_MAX];
	struct conf	*c;
	unsigned	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(text, sizeof(text), L1 P1 "algorithm = %s\n",
		    names[i]);
		c = load_text(text, err);
		ck_assert_msg(c != NULL, "%s", err);
		ck_assert_uint_eq(c->pools[0].algorithm, i);
		ck_assert_str_eq(conf_algorithm_name(c->pools[0].algorithm),
		    names[i]);
		conf_free(c);
	}
	ck_assert_str_eq(conf_algorithm_name((enum conf_algorithm)99),
	    "unknown");
}
END_TEST

/* Values at the edges of their ranges are accepted. */
START_TEST(test_edges)
{
	static const char text[] =
	    "[global]\nworkers = 64\nshutdown_timeout = 0\n"
	    "restart_intensity = 0\nrestart_period = 1440m\n"
	    "error_log = stderr\naccess_log = off\ndaemon = off\nuser =\n"
	    "[listen a]\nbind = 127.0.0.1:8080\npool = web\n"
	    "max_header_size = 1k\n"
	    "[listen b]\nbind = 127.0.0.1:8081\npool = web\n"
	    "[listen c]\nbind = [::1]:8080\npool = web\n"
	    "[admin]\nbind = 127.0.0.2:8080\n"
	    "[pool web]\nretries = 10\nkeepalive = 0\nhealth_check = tcp\n"
	    "hash_key = uri\nhealth_expect = 100-599\n"
	    "health_interval = 1ms\nhealth_timeout = 1ms\n"
	    "server = a 127.0.0.1:1 weight=1 max_conns=1000000\n";
	char		 err[ERR_MAX];
	struct conf	*c;

	c = load_text(text, err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->workers, 64);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 0);
	ck_assert_uint_eq(c->restart_intensity, 0);
	ck_assert_uint_eq(c->restart_period_ms, 24 * 60 * 60 * 1000);
	ck_assert_str_eq(c->error_log, "stderr");
	ck_assert_str_eq(c->access_log, "");
	ck_assert(!c->daemon);
	ck_assert_uint_eq(c->nlisteners, 3);
	ck_assert_uint_eq(c->listeners[0].max_header_size, 1024);
	ck_assert_uint_eq(c->pools[0].retries, 10);
	ck_assert_uint_eq(c->pools[0].keepalive, 0);
	ck_assert_int_eq(c->pools[0].hash_key, HASH_URI);
	ck_assert_uint_eq(c->pools[0].health_expect_lo, 100);
	ck_assert_uint_eq(c->pools[0].health_expect_hi, 599);
	ck_assert_uint_eq(c->servers[0].max_conns, 1000000);
	conf_free(c);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_full_global);
	tcase_add_test(tc, test_full_listeners);
	tcase_add_test(tc, test_full_pools);
	tcase_add_test(tc, test_full_servers);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_workers_auto);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_long_line_fixture);
	tcase_add_loop_test(tc, test_line_limit, 0, 2);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_run_too_many_words);
	tcase_add_test(tc, test_server_ids);
	tcase_add_loop_test(tc, test_limits, 0, 3);
	tcase_add_test(tc, test_algorithms);
	tcase_add_test(tc, test_edges);
	tcase_add_loop_test(tc, test_error, 0,
	    sizeof(errors) / sizeof(errors[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, test_duration_good, 0,
	    sizeof(good_durations) / sizeof(good_durations[0]));
	tcase_add_loop_test(tc, test_duration_bad, 0,
	    sizeof(bad_durations) / sizeof(bad_durations[0]));
	tcase_add_loop_test(tc, test_size_good, 0,
	    sizeof(good_sizes) / sizeof(good_sizes[0]));
	tcase_add_loop_test(tc, test_size_bad, 0,
	    sizeof(bad_sizes) / sizeof(bad_sizes[0]));
	tcase_add_loop_test(tc, test_addr_good, 0,
	    sizeof(good_addrs) / sizeof(good_addrs[0]));
	tcase_add_loop_test(tc, test_addr_bad, 0,
	    sizeof(bad_addrs) / sizeof(bad_addrs[0]));
	tcase_add_test(tc, test_run_words);
	tcase_add_test(tc, test_run_words_bad);
	tcase_add_test(tc, test_run_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
