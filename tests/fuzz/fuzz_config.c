/*
 * Fuzz harness of the configuration loader (conf_load, conf_free).  Each
 * input is a whole forklift.ini, written to a memfd that conf_load reads
 * through /proc/self/fd, so nothing touches the disk.  A load must either
 * fail with "FILE:LINE: message" (or "FILE: message") naming a line the
 * file has, or return a struct conf whose cross-references hold and whose
 * values are inside the ranges forklift.ini(5) gives; a line longer than
 * libinih's limit must never load.  Leaks are LeakSanitizer's to find.
 */
#include <sys/mman.h>

#include <ini.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "tests/fuzz/fuzz.h"

#define ERR_MAX	1024

static bool
str_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

static void
check_pool(const struct conf *c, const struct conf_pool *p)
{
	unsigned i;

	FUZZ_CHECK(conf_valid_name(p->name));
	FUZZ_CHECK(p->nservers >= 1);
	FUZZ_CHECK(p->servers >= c->servers &&
	    p->servers + p->nservers <= c->servers + c->nservers);
	FUZZ_CHECK(p->retries <= 10 && p->keepalive <= 1024);
	FUZZ_CHECK(p->connect_timeout_ms > 0 && p->server_timeout_ms > 0);
	FUZZ_CHECK(p->health_timeout_ms <= p->health_interval_ms);
	FUZZ_CHECK(p->health_rise >= 1 && p->health_rise <= 100);
	FUZZ_CHECK(p->health_fall >= 1 && p->health_fall <= 100);
	FUZZ_CHECK(p->health_expect_lo >= 100 &&
	    p->health_expect_lo <= p->health_expect_hi &&
	    p->health_expect_hi <= 599);
	FUZZ_CHECK(str_ok(p->health_path, sizeof(p->health_path)));
	FUZZ_CHECK(str_ok(p->hash_key_name, sizeof(p->hash_key_name)));
	FUZZ_CHECK(conf_algorithm_name(p->algorithm) != NULL);
	for (i = 0; i < p->nservers; i++)
		FUZZ_CHECK(p->servers[i].pool == p);
}

static void
check_server(const struct conf *c, const struct conf_server *s, unsigned id)
{
	int i;

	FUZZ_CHECK(s->id == id);
	FUZZ_CHECK(conf_valid_name(s->name));
	FUZZ_CHECK(str_ok(s->addr.text, sizeof(s->addr.text)));
	FUZZ_CHECK(s->addr.len > 0 && s->addr.len <= sizeof(s->addr.ss));
	FUZZ_CHECK(s->weight >= 1 && s->weight <= CONF_MAX_WEIGHT);
	FUZZ_CHECK(s->pool >= c->pools && s->pool < c->pools + c->npools);
	FUZZ_CHECK(conf_find_server(c, s->pool->name, s->name) == s);
	if (s->run == NULL)
		return;
	FUZZ_CHECK(s->run->argc >= 1 && s->run->argc <= CONF_MAX_ARGS);
	FUZZ_CHECK(s->run->argv[s->run->argc] == NULL);
	FUZZ_CHECK(s->run->nenv >= 0 && s->run->nenv <= CONF_MAX_ARGS);
	for (i = 0; i < s->run->argc; i++)
		FUZZ_CHECK(s->run->argv[i] != NULL);
}

static void
check_conf(const struct conf *c)
{
	unsigned i;

	FUZZ_CHECK(c->workers >= 1 && c->workers <= CONF_MAX_WORKERS);
	FUZZ_CHECK(c->max_connections >= 1 &&
	    c->max_connections <= 1000000);
	FUZZ_CHECK(c->nlisteners >= 1 && c->nlisteners <= CONF_MAX_LISTENERS);
	FUZZ_CHECK(c->npools >= 1 && c->npools <= CONF_MAX_POOLS);
	FUZZ_CHECK(c->nservers >= 1 && c->nservers <= CONF_MAX_SERVERS);
	FUZZ_CHECK(str_ok(c->pidfile, sizeof(c->pidfile)));
	FUZZ_CHECK(str_ok(c->user, sizeof(c->user)));
	FUZZ_CHECK(c->user[0] == '\0' || conf_valid_name(c->user));
	FUZZ_CHECK(str_ok(c->error_log, sizeof(c->error_log)));
	FUZZ_CHECK(str_ok(c->access_log, sizeof(c->access_log)));
	for (i = 0; i < c->nlisteners; i++) {
		FUZZ_CHECK(c->listeners[i].pool >= c->pools &&
		    c->listeners[i].pool < c->pools + c->npools);
		FUZZ_CHECK(c->listeners[i].max_header_size >= 1024 &&
		    c->listeners[i].max_header_size <= 1024 * 1024);
		FUZZ_CHECK(c->listeners[i].client_timeout_ms > 0);
	}
	for (i = 0; i < c->npools; i++)
		check_pool(c, &c->pools[i]);
	for (i = 0; i < c->nservers; i++)
		check_server(c, &c->servers[i], i);
}

/* Lines in data (a last line without '\n' counts), and the longest. */
static size_t
count_lines(const uint8_t *data, size_t size, size_t *longest)
{
	size_t i, lines = 0, start = 0;

	*longest = 0;
	for (i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		if (i - start > *longest)
			*longest = i - start;
		if (i < size || i > start)
			lines++;
		start = i + 1;
	}
	return lines;
}

/* The line an error names: after "PATH:", 0 for "PATH: message". */
static int
error_line(const char *err, const char *path)
{
	size_t n = strlen(path);
	const char *p;
	int line = 0;

	FUZZ_CHECK(strncmp(err, path, n) == 0 && err[n] == ':');
	for (p = err + n + 1; *p >= '0' && *p <= '9'; p++) {
		FUZZ_CHECK(line < 100000000);
		line = line * 10 + (*p - '0');
	}
	FUZZ_CHECK(p > err + n + 1 ? *p == ':' : *p == ' ');
	return line;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	char err[ERR_MAX];
	struct conf *c;
	size_t lines, longest;

	if (fd == -1) {
		if ((fd = memfd_create("forklift.ini", MFD_CLOEXEC)) == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	lines = count_lines(data, size, &longest);

	memset(err, 'x', sizeof(err));
	c = conf_load(path, err, sizeof(err));
	FUZZ_CHECK(str_ok(err, sizeof(err)));
	if (c == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK((size_t)error_line(err, path) <= lines + 1);
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0');
	/* A line libinih would cut short must be refused, never read. */
	FUZZ_CHECK(longest <= INI_MAX_LINE);
	check_conf(c);
	conf_free(c);
	return 0;
}
