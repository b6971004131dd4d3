/*
 * Managed servers (run= on a server line) against the real binary: a
 * server killed under load comes back and is health-checked up while
 * clients see no failure; a command that exits at once is restarted with
 * backoff, then given up on without disturbing the rest; a reload keeps,
 * replaces, stops and starts servers line by line; no stop of the
 * supervisor leaves a process behind, and SIGQUIT lets a request in flight
 * at a managed server finish first; output, env=, cwd= and user= reach the
 * process, and no other fd does.
 *
 * Every managed process a test starts carries FLMTAG=<test pid> in its
 * environment (env=), and the backends their port in their argv: that is
 * how the test finds them in /proc, never by name.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "tests/integration/harness.h"

/* Each test's limit: generous, but a hang still ends. */
#define TEST_TIMEOUT_S	40
/* A managed server started (or restarted) and health-checked up. */
#define UP_MS		5000
/* A line in the log, a process gone, a supervisor stopped. */
#define LOG_MS		5000
#define GONE_MS		5000
#define STOP_MS		10000
/* Past the last backoff of a crash loop: no start may come in this time. */
#define CALM_MS		1200
/* Room for a configuration, /proc files, log files. */
#define INI_MAX		4096
#define PROC_MAX	65536
#define LOG_MAX		(1 << 20)
/* Managed servers in one test; processes that can be ours at once. */
#define MAX_PORTS	8
#define MAX_OURS	64
/* The supervisor's children: two workers and the health checker. */
#define KIDS		3
/* Crash-looping servers at once: more than the supervisor's timers. */
#define MANY_SERVERS	30
/* Concurrent clients of the load, and requests each sends at most. */
#define LOADERS		4
#define LOAD_MAX_REQ	100000
/* Requests a server must answer after its restart under load. */
#define SERVED_AFTER	30
/* A request to the proxy, answered or not. */
#define REQUEST_MS	5000

/* One test's managed servers and the text of its configuration. */
struct mtest {
	struct hforklift f;
	char		 tag[32];	/* "FLMTAG=<pid>" */
	char		 backend[PATH_MAX];
	int		 ports[MAX_PORTS];
	int		 nports;
	char		 ini[INI_MAX];
	size_t		 len;
};

/* A managed server as /stats shows it. */
struct mstat {
	char		 state[16];
	long		 pid;
	long		 restarts;
	long		 requests;
	long		 active;
	bool		 given_up;
	char		 last_exit[64];	/* "" for null */
};

/* What the load's clients saw. */
struct load_result {
	long		 ok;
	long		 failed;
	char		 first[128];	/* the first failure */
};

struct load {
	pid_t		 pids[LOADERS];
	int		 ctl;		/* closed to stop the clients */
	int		 results;
};

static void
mt_init(struct mtest *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->tag, sizeof(t->tag), "FLMTAG=%ld", (long)getpid());
	ck_assert_msg(realpath(h_backend_bin(), t->backend) != NULL,
	    "backend %s: %s", h_backend_bin(), strerror(errno));
}

static void __attribute__((format(printf, 2, 3)))
ini_add(struct mtest *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->ini + t->len, sizeof(t->ini) - t->len, fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof(t->ini) - t->len);
	t->len += (size_t)n;
}

/* The configuration's head: everything but the server lines. */
static void
ini_head(struct mtest *t, int intensity, const char *shutdown)
{
	t->len = 0;
	ini_add(t,
	    "[global]\n"
	    "workers = 2\n"
	    "daemon = no\n"
	    "pidfile = @DIR@/forklift.pid\n"
	    "error_log = stderr\n"
	    "restart_intensity = %d\n"
	    "restart_period = 60s\n"
	    "shutdown_timeout = %s\n"
	    "\n"
	    "[listen]\n"
	    "bind = 127.0.0.1:@PORT@\n"
	    "pool = web\n"
	    "\n"
	    "[admin]\n"
	    "bind = 127.0.0.1:@ADMIN@\n"
	    "\n"
	    "[pool web]\n"
	    "connect_timeout = 1s\n"
	    "retries = 2\n"
	    "health_check = /heartbeat\n"
	    "health_interval = 100ms\n"
	    "health_timeout = 100ms\n"
	    "health_rise = 2\n"
	    "health_fall = 2\n", intensity, shutdown);
}

/* A port for server i, picked once per test. */
static int
port_of(struct mtest *t, int i)
{
	ck_assert_int_lt(i, MAX_PORTS);
	while (t->nports <= i)
		t->ports[t->nports++] = h_free_port();
	return t->ports[i];
}

/* A managed backend named `name` on port i, `extra` added to its argv. */
static void
ini_backend(struct mtest *t, const char *name, int i, const char *extra)
{
	int port = port_of(t, i);

	ini_add(t, "server = %s 127.0.0.1:%d run=\"%s -n %s -p %d%s%s\" "
	    "env=%s\n", name, port, t->backend, name, port,
	    extra != NULL ? " " : "", extra != NULL ? extra : "", t->tag);
}

/* A managed server on port i (nothing need listen there) running `run`. */
static void
ini_command(struct mtest *t, const char *name, int i, const char *run)
{
	ini_add(t, "server = %s 127.0.0.1:%d run=%s env=%s\n", name,
	    port_of(t, i), run, t->tag);
}

/* Reads a whole file (at most max - 1 bytes, NUL added); -1 if it cannot. */
static ssize_t
read_file(const char *path, char *buf, size_t max)
{
	size_t len = 0;
	ssize_t n;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (len < max - 1 && (n = (ssize_t)fread(buf + len, 1,
	    max - 1 - len, fp)) > 0)
		len += (size_t)n;
	(void)fclose(fp);	/* read only: nothing is lost */
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Whether the NUL-separated /proc/PID/`file` holds the word `word`. */
static bool
proc_has_word(pid_t pid, const char *file, const char *word)
{
	static char buf[PROC_MAX];
	char path[64];
	size_t wlen = strlen(word);
	ssize_t len;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((len = read_file(path, buf, sizeof(buf))) <= 0)
		return false;
	for (p = buf; p < buf + len; p += strlen(p) + 1)
		if (strncmp(p, word, wlen + 1) == 0)
			return true;
	return false;
}

/* Whether a live process is one of this test's managed servers. */
static bool
is_ours(const struct mtest *t, pid_t pid)
{
	char port[16];
	int i;

	if (proc_has_word(pid, "environ", t->tag))
		return true;
	for (i = 0; i < t->nports; i++) {
		snprintf(port, sizeof(port), "%d", t->ports[i]);
		if (proc_has_word(pid, "cmdline", port))
			return true;
	}
	return false;
}

/* Live (not zombie) processes of this test's managed servers. */
static int
ours(const struct mtest *t, pid_t *pids, int max)
{
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int n = 0;

	ck_assert_msg((d = opendir("/proc")) != NULL, "/proc: %s",
	    strerror(errno));
	while ((de = readdir(d)) != NULL && n < max) {
		if ((pid = (pid_t)strtol(de->d_name, NULL, 10)) <= 0 ||
		    pid == getpid())
			continue;
		if (h_pid_alive(pid) && is_ours(t, pid))
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static bool
none_ours(void *arg)
{
	pid_t pids[MAX_OURS];

	return ours(arg, pids, MAX_OURS) == 0;
}

/* Fails the test if a process of its managed servers is left. */
static void
assert_no_orphans(const struct mtest *t, const char *after)
{
	pid_t pids[MAX_OURS];
	int n;

	if (h_wait_until(none_ours, (void *)t, GONE_MS))
		return;
	n = ours(t, pids, MAX_OURS);
	ck_abort_msg("after %s: %d managed process(es) left, first pid %ld",
	    after, n, n > 0 ? (long)pids[0] : 0L);
}

/* Finds `needle` in [p, end); NULL if absent. */
static const char *
find(const char *p, const char *end, const char *needle)
{
	return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

/* How a /stats document starts. */
#define GEN_KEY		"{\"generation\": "

/* The number right after key, searched for in [p, end).  False if none. */
static bool
num_at(const char *p, const char *end, const char *key, long *v)
{
	const char *q;
	char *e;

	if ((q = find(p, end, key)) == NULL)
		return false;
	q += strlen(key);
	errno = 0;
	*v = strtol(q, &e, 10);
	return errno == 0 && e != q;
}

/* Reads server `name` out of a /stats document.  False if absent. */
static bool
stats_parse(const char *doc, const char *name, struct mstat *m)
{
	char key[128], gu[8];
	const char *p, *end, *q;

	memset(m, 0, sizeof(*m));
	snprintf(key, sizeof(key), "{\"name\": \"%s\", \"address\"", name);
	if ((p = strstr(doc, key)) == NULL)
		return false;
	if ((end = strstr(p + 1, "{\"name\": \"")) == NULL)
		end = p + strlen(p);
	if ((q = find(p, end, "\"state\": \"")) == NULL ||
	    sscanf(q, "\"state\": \"%15[a-z]", m->state) != 1 ||
	    !num_at(p, end, "\"active_connections\": ", &m->active) ||
	    !num_at(p, end, "\"requests\": ", &m->requests) ||
	    (q = find(p, end, "\"managed\": {")) == NULL ||
	    !num_at(q, end, "\"managed\": {\"pid\": ", &m->pid) ||
	    !num_at(q, end, ", \"restarts\": ", &m->restarts) ||
	    (q = find(q, end, ", \"given_up\": ")) == NULL ||
	    sscanf(q, ", \"given_up\": %7[a-z]", gu) != 1 ||
	    (q = find(q, end, "\"last_exit\": ")) == NULL)
		ck_abort_msg("/stats: server %s without its fields", name);
	m->given_up = strcmp(gu, "true") == 0;
	q += strlen("\"last_exit\": ");
	/* No match ("") leaves last_exit as memset left it: empty. */
	if (*q == '"')
		(void)sscanf(q + 1, "%63[^\"]", m->last_exit);
	return true;
}

/*
 * GET /stats; the generation, and server `name`: 1 if found, 0 if absent,
 * -1 if /stats did not answer (a reload may reset an admin connection).
 */
static int
stats_try(struct mtest *t, const char *name, struct mstat *m, long *gen)
{
	struct hresponse r;
	int found = -1;

	h_get(t->f.admin_port, "/stats", NULL, &r);
	if (r.status == 200) {
		if (gen != NULL)
			ck_assert(strncmp(r.body, GEN_KEY,
			    strlen(GEN_KEY)) == 0 && num_at(r.body,
			    r.body + strlen(GEN_KEY), GEN_KEY, gen));
		found = stats_parse(r.body, name, m);
	}
	h_response_free(&r);
	return found;
}

/* stats_try, failing the test if /stats does not answer. */
static bool
stats(struct mtest *t, const char *name, struct mstat *m, long *gen)
{
	int found = stats_try(t, name, m, gen);

	ck_assert_msg(found != -1, "/stats did not answer");
	return found == 1;
}

/* What a test waits to see of a server in /stats. */
enum want {
	W_RUNNING,	/* a process, up or not */
	W_UP,		/* up, with a process other than `arg` */
	W_SERVED,	/* `arg` requests answered */
	W_IN_FLIGHT,	/* a connection open to it */
};

struct swait {
	struct mtest	*t;
	const char	*name;
	enum want	 want;
	long		 arg;
	struct mstat	 m;
};

static bool
stat_seen(void *arg)
{
	struct swait *w = arg;
	const struct mstat *m = &w->m;

	if (stats_try(w->t, w->name, &w->m, NULL) != 1)
		return false;
	switch (w->want) {
	case W_RUNNING:
		return m->pid > 0;
	case W_UP:
		return strcmp(m->state, "up") == 0 && m->pid > 0 &&
		    m->pid != w->arg;
	case W_SERVED:
		return m->requests >= w->arg;
	case W_IN_FLIGHT:
		return m->active > 0;
	}
	return false;
}

/* Polls /stats until server `name` shows `want`; fails after UP_MS. */
static struct mstat
wait_stat(struct mtest *t, const char *name, enum want want, long arg)
{
	static const char *const what[] = { "running", "up", "served",
	    "in flight" };
	struct swait w = { .t = t, .name = name, .want = want, .arg = arg };

	ck_assert_msg(h_wait_until(stat_seen, &w, UP_MS), "server %s not "
	    "%s (%ld) after %d ms: %s, pid %ld, %ld requests, %ld active",
	    name, what[want], arg, UP_MS, w.m.state, w.m.pid, w.m.requests,
	    w.m.active);
	return w.m;
}

static void
log_wait(struct mtest *t, const char *text)
{
	ck_assert_msg(h_wait_file(t->f.log, text, LOG_MS),
	    "%s: no \"%s\" after %d ms", t->f.log, text, LOG_MS);
}

struct log_count {
	struct mtest	*t;
	const char	*text;
	int		 n;
};

static bool
log_counted(void *arg)
{
	struct log_count *c = arg;

	return h_file_count(c->t->f.log, c->text) >= c->n;
}

/* Waits until `text` is in the log n times. */
static void
log_count_wait(struct mtest *t, const char *text, int n)
{
	struct log_count c = { .t = t, .text = text, .n = n };

	ck_assert_msg(h_wait_until(log_counted, &c, LOG_MS), "%s: \"%s\" "
	    "%d times, not %d, after %d ms", t->f.log, text,
	    h_file_count(t->f.log, text), n, LOG_MS);
}

static bool
pid_gone(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

static void
wait_gone(pid_t pid, const char *what)
{
	ck_assert_msg(h_wait_until(pid_gone, &pid, GONE_MS),
	    "%s (pid %ld) still alive after %d ms", what, (long)pid, GONE_MS);
}

/* The n digits at p as a number, or -1 if any of them is not a digit. */
static int
digits(const char *p, int n)
{
	int v = 0;

	for (; n > 0; n--, p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/* A log line's "YYYY-MM-DDTHH:MM:SS.mmmZ" stamp: true and its time. */
static bool
log_stamp(const char *line, int *h, int *m, int *s, int *frac)
{
	if (strnlen(line, 24) < 24 || digits(line, 4) == -1 ||
	    line[4] != '-' || digits(line + 5, 2) == -1 || line[7] != '-' ||
	    digits(line + 8, 2) == -1 || line[10] != 'T' ||
	    line[13] != ':' || line[16] != ':' || line[19] != '.' ||
	    line[23] != 'Z')
		return false;
	*h = digits(line + 11, 2);
	*m = digits(line + 14, 2);
	*s = digits(line + 17, 2);
	*frac = digits(line + 20, 3);
	return *h != -1 && *m != -1 && *s != -1 && *frac != -1;
}

/* Milliseconds of the day of the log lines that contain `needle`. */
static int
log_times(const char *path, const char *needle, long *ms, int max)
{
	char line[2048];
	int h, m, s, frac, n = 0;
	FILE *fp;

	ck_assert_msg((fp = fopen(path, "re")) != NULL, "%s: %s", path,
	    strerror(errno));
	while (n < max && fgets(line, sizeof(line), fp) != NULL) {
		if (strstr(line, needle) == NULL || !log_stamp(line, &h, &m, &s,
		    &frac))
			continue;
		ms[n++] = ((h * 60L + m) * 60 + s) * 1000 + frac;
	}
	(void)fclose(fp);	/* read only: nothing is lost */
	return n;
}

/* Where `text` first appears in the log; -1 if it does not. */
static long
log_offset(const struct mtest *t, const char *text)
{
	static char buf[LOG_MAX];
	const char *p;

	ck_assert(read_file(t->f.log, buf, sizeof(buf)) >= 0);
	return (p = strstr(buf, text)) == NULL ? -1 : (long)(p - buf);
}

/* One GET /home through the proxy: whether a backend answered it. */
static bool
request_ok(struct mtest *t, char *server, size_t len)
{
	struct hresponse r;
	bool ok;

	h_get(t->f.port, "/home", NULL, &r);
	ok = r.status == 200 && r.body != NULL &&
	    strncmp(r.body, "Hello from server: ", 19) == 0;
	if (ok && server != NULL)
		strlcpy(server, r.body + 19, len);
	if (ok && server != NULL)
		server[strcspn(server, "\n")] = '\0';
	h_response_free(&r);
	return ok;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* One client of the load: keep-alive GETs until ctl closes. */
static void __attribute__((noreturn))
load_client(int port, int ctl, int results)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	struct load_result r = { 0 };
	char url[64];
	long status, n;
	CURLcode rc;
	CURL *c;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/home", port);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c = curl_easy_init()) == NULL)
		_exit(1);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)REQUEST_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (n = 0; n < LOAD_MAX_REQ && poll(&pfd, 1, 0) == 0; n++) {
		rc = curl_easy_perform(c);
		status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status == 200) {
			r.ok++;
			continue;
		}
		if (r.failed++ == 0)
			snprintf(r.first, sizeof(r.first), "curl %d (%s), "
			    "status %ld", rc, curl_easy_strerror(rc), status);
	}
	curl_easy_cleanup(c);
	_exit(write(results, &r, sizeof(r)) == sizeof(r) ? 0 : 1);
}

static void
load_start(struct load *l, int port)
{
	int ctl[2], res[2], i;

	ck_assert(pipe(ctl) == 0 && pipe(res) == 0);
	for (i = 0; i < LOADERS; i++) {
		ck_assert((l->pids[i] = fork()) != -1);
		if (l->pids[i] == 0) {
			close(ctl[1]);
			close(res[0]);
			load_client(port, ctl[0], res[1]);
		}
		h_track(l->pids[i]);
	}
	close(ctl[0]);
	close(res[1]);
	l->ctl = ctl[1];
	l->results = res[0];
}

/* Stops the clients and sums what they saw. */
static struct load_result
load_stop(struct load *l)
{
	struct load_result sum = { 0 }, r;
	int i, st;

	close(l->ctl);
	for (i = 0; i < LOADERS; i++) {
		ck_assert_msg(read(l->results, &r, sizeof(r)) == sizeof(r),
		    "a load client died");
		sum.ok += r.ok;
		if (sum.failed == 0 && r.failed > 0)
			strlcpy(sum.first, r.first, sizeof(sum.first));
		sum.failed += r.failed;
	}
	for (i = 0; i < LOADERS; i++)
		ck_assert(waitpid(l->pids[i], &st, 0) == l->pids[i] &&
		    WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(l->results);
	return sum;
}

static int
pid_cmp(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

struct kids_want {
	struct mtest	*t;
	pid_t		*pids;
};

static bool
kids_all(void *arg)
{
	struct kids_want *k = arg;
	pid_t pids[KIDS + 1];

	if (h_children(k->t->f.pid, "forklift: ", pids, KIDS + 1) != KIDS)
		return false;
	qsort(pids, KIDS, sizeof(pids[0]), pid_cmp);
	memcpy(k->pids, pids, KIDS * sizeof(pids[0]));
	return true;
}

/* The supervisor's own children (workers and checker), sorted by pid. */
/* NOLINTBEGIN(readability-non-const-parameter): kids_all fills pids */
static void
kids_wait(struct mtest *t, pid_t *pids)
{
	struct kids_want k = { .t = t, .pids = pids };

	ck_assert_msg(h_wait_until(kids_all, &k, UP_MS), "supervisor %ld: "
	    "not %d workers and a checker after %d ms", (long)t->f.pid,
	    KIDS - 1, UP_MS);
}
/* NOLINTEND(readability-non-const-parameter) */

static void
mt_stop(struct mtest *t, const char *after)
{
	h_forklift_stop(&t->f);
	assert_no_orphans(t, after);
}

START_TEST(test_killed_under_load)
{
	struct load_result res;
	struct mstat before, after;
	struct mtest t;
	struct load l;
	char text[160];

	mt_init(&t);
	ini_head(&t, 10, "2s");
	ini_backend(&t, "app1", 0, NULL);
	ini_backend(&t, "app2", 1, NULL);
	h_forklift_start(&t.f, t.ini);
	before = wait_stat(&t, "app1", W_UP, 0);
	(void)wait_stat(&t, "app2", W_UP, 0);
	/* Its output reaches the log under its name. */
	snprintf(text, sizeof(text), "server web/app1: listening on "
	    "127.0.0.1:%d", t.ports[0]);
	log_wait(&t, text);

	load_start(&l, t.f.port);
	(void)wait_stat(&t, "app1", W_SERVED, before.requests + SERVED_AFTER);
	ck_assert(kill((pid_t)before.pid, SIGKILL) == 0);
	after = wait_stat(&t, "app1", W_UP, before.pid);
	snprintf(text, sizeof(text), "server web/app1 127.0.0.1:%d is UP",
	    t.ports[0]);
	log_count_wait(&t, text, 2);
	ck_assert(stats(&t, "app1", &after, NULL));
	(void)wait_stat(&t, "app1", W_SERVED, after.requests + SERVED_AFTER);
	res = load_stop(&l);

	ck_assert_msg(res.failed == 0, "%ld of %ld requests failed during "
	    "the restart; first: %s", res.failed, res.ok + res.failed,
	    res.first);
	ck_assert_int_gt(res.ok, 2 * SERVED_AFTER);
	ck_assert_int_eq(after.restarts, 1);
	ck_assert_str_eq(after.last_exit, "killed by signal 9");
	ck_assert(!after.given_up);
	snprintf(text, sizeof(text), "server web/app1 (pid %ld) killed by "
	    "signal 9, restarting in 100ms", before.pid);
	log_wait(&t, text);
	snprintf(text, sizeof(text), "server web/app1 started: pid %ld",
	    after.pid);
	log_wait(&t, text);
	ck_assert(!h_pid_alive((pid_t)before.pid));
	mt_stop(&t, "SIGTERM");
}
END_TEST

/* Requests through the proxy for ms: each must be answered by app1. */
static long
serve_for(struct mtest *t, int ms)
{
	struct timespec ts;
	long long end;
	char who[32];
	long n = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + ms;
	do {
		ck_assert_msg(request_ok(t, who, sizeof(who)),
		    "request %ld failed while a server crash-loops", n);
		ck_assert_str_eq(who, "app1");
		n++;
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while (ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 < end);
	return n;
}

/* The crash loop's command: 0 exits at once, 1 finds its port taken. */
START_TEST(test_crash_loop_given_up)
{
	pid_t kids[KIDS], now[KIDS];
	struct mstat m, app1;
	struct mtest t;
	pid_t left[MAX_OURS];
	long starts[8];
	char run[PATH_MAX + 64];
	int held = -1, port, i, n;

	mt_init(&t);
	ini_head(&t, 3, "2s");
	ini_backend(&t, "app1", 0, NULL);
	if (_i == 0)
		ini_command(&t, "bad", 1, "/bin/false");
	else {
		held = h_hold_port(&port);
		t.ports[t.nports++] = port;
		snprintf(run, sizeof(run), "\"%s -n bad -p %d\"", t.backend,
		    port);
		ini_command(&t, "bad", 1, run);
	}
	h_forklift_start(&t.f, t.ini);
	app1 = wait_stat(&t, "app1", W_UP, 0);
	kids_wait(&t, kids);
	/* The other server serves throughout, and after the give-up. */
	for (i = 0; i < 50 && !h_file_contains(t.f.log, "giving up"); i++)
		serve_for(&t, 100);
	log_wait(&t, "server web/bad (pid");
	log_wait(&t, "more than 3 restarts in 60000ms, giving up");
	serve_for(&t, CALM_MS);

	n = log_times(t.f.log, "server web/bad started: pid", starts, 8);
	ck_assert_msg(n == 4, "%d starts of bad, not 1 + 3 restarts", n);
	ck_assert(h_file_contains(t.f.log, "restarting in 100ms"));
	ck_assert(h_file_contains(t.f.log, "restarting in 200ms"));
	ck_assert(h_file_contains(t.f.log, "restarting in 400ms"));
	for (i = 1; i < n; i++)
		ck_assert_msg(starts[i] - starts[i - 1] >= (100L << (i - 1)) -
		    5, "start %d came %ld ms after the previous one", i,
		    starts[i] - starts[i - 1]);
	ck_assert(stats(&t, "bad", &m, NULL));
	ck_assert_str_eq(m.state, "down");
	ck_assert_int_eq(m.pid, 0);
	ck_assert_int_eq(m.restarts, 3);
	ck_assert(m.given_up);
	ck_assert_str_eq(m.last_exit, "exit status 1");
	if (_i == 1)
		log_wait(&t, "server web/bad: backend bad: fatal: listen on "
		    "127.0.0.1 port");
	/* The balancer's own children were never disturbed. */
	kids_wait(&t, now);
	ck_assert(memcmp(kids, now, sizeof(kids)) == 0);
	/* Nothing of bad is left: app1 is the one process of the test. */
	ck_assert_int_eq(ours(&t, left, MAX_OURS), 1);
	ck_assert_int_eq(left[0], app1.pid);
	mt_stop(&t, "SIGTERM");
	if (held != -1)
		close(held);
}
END_TEST

/*
 * More crash-looping servers than the supervisor's loop has timers: each
 * still gets its three restarts and its give-up.
 */
START_TEST(test_many_crash_loops)
{
	struct mtest t;
	int i;

	mt_init(&t);
	ini_head(&t, 3, "1s");
	for (i = 0; i < MANY_SERVERS; i++)
		ini_add(&t, "server = bad%d 127.0.0.1:%d run=/bin/false "
		    "env=%s\n", i, 1 + i, t.tag);
	h_forklift_start(&t.f, t.ini);
	log_count_wait(&t, "giving up", MANY_SERVERS);
	ck_assert_int_eq(h_file_count(t.f.log, "started: pid"),
	    4 * MANY_SERVERS);
	mt_stop(&t, "SIGTERM");
}
END_TEST

/* app4 ignores SIGTERM: only the SIGKILL after shutdown_timeout ends it. */
static const char stubborn[] =
    "\"/bin/sh -c 'trap \\\"\\\" TERM; exec sleep 60'\"";

static void
reload_ini(struct mtest *t, bool second)
{
	ini_head(t, 10, "1s");
	ini_backend(t, "app1", 0, NULL);
	ini_backend(t, "app2", 1, second ? "-i 250000" : NULL);
	if (!second) {
		ini_backend(t, "app3", 2, NULL);
		ini_command(t, "app4", 3, stubborn);
	} else {
		ini_backend(t, "app5", 4, NULL);
		/* Takes over app3's port once app3 has gone. */
		ini_backend(t, "app6", 2, NULL);
	}
}

static bool
generation_two(void *arg)
{
	struct mstat m;
	long gen = 0;

	return stats_try(arg, "app1", &m, &gen) != -1 && gen == 2;
}

START_TEST(test_reload_adds_and_removes)
{
	struct mstat m1, m2, m3, now, m;
	struct mtest t;
	struct timespec t0, t1;
	char text[160], who[32];
	pid_t p4;
	long off_stop, off_start, ms;
	int i;

	mt_init(&t);
	reload_ini(&t, false);
	h_forklift_start(&t.f, t.ini);
	m1 = wait_stat(&t, "app1", W_UP, 0);
	m2 = wait_stat(&t, "app2", W_UP, 0);
	m3 = wait_stat(&t, "app3", W_UP, 0);
	p4 = (pid_t)wait_stat(&t, "app4", W_RUNNING, 0).pid;

	reload_ini(&t, true);
	h_forklift_rewrite(&t.f, t.ini);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	h_forklift_signal(&t.f, SIGHUP);
	ck_assert_msg(h_wait_until(generation_two, &t, UP_MS),
	    "no generation 2 after SIGHUP");
	(void)wait_stat(&t, "app5", W_UP, 0);
	now = wait_stat(&t, "app2", W_UP, m2.pid);
	/* Unchanged: the same process. */
	ck_assert(stats(&t, "app1", &m, NULL));
	ck_assert_int_eq(m.pid, m1.pid);
	ck_assert(h_pid_alive((pid_t)m1.pid));
	/* Changed: the old process stopped before the new one started. */
	wait_gone((pid_t)m2.pid, "app2's old process");
	snprintf(text, sizeof(text), "server web/app2 (pid %ld) stopped: "
	    "exited with status 0", m2.pid);
	off_stop = log_offset(&t, text);
	snprintf(text, sizeof(text), "server web/app2 started: pid %ld",
	    now.pid);
	off_start = log_offset(&t, text);
	ck_assert_msg(off_stop >= 0 && off_start > off_stop, "app2: stop at "
	    "%ld, start at %ld in the log", off_stop, off_start);
	/* Removed: SIGTERM, or SIGKILL after shutdown_timeout. */
	wait_gone((pid_t)m3.pid, "removed app3");
	snprintf(text, sizeof(text), "server web/app3 (pid %ld) stopped: "
	    "exited with status 0", m3.pid);
	log_wait(&t, text);
	off_stop = log_offset(&t, text);
	now = wait_stat(&t, "app6", W_UP, 0);
	snprintf(text, sizeof(text), "server web/app6 started: pid %ld",
	    now.pid);
	ck_assert_msg(log_offset(&t, text) > off_stop, "app6 started on "
	    "app3's port before app3 had gone");
	ck_assert(!h_file_contains(t.f.log, "server web/app6 (pid"));
	wait_gone(p4, "removed app4, which ignores SIGTERM");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 900, "app4 gone %ld ms after the reload, before "
	    "its 1s grace", ms);
	snprintf(text, sizeof(text), "server web/app4 (pid %ld) still running "
	    "1000ms after SIGTERM, killed", (long)p4);
	log_wait(&t, text);
	snprintf(text, sizeof(text), "server web/app4 (pid %ld) stopped: "
	    "killed by signal 9", (long)p4);
	log_wait(&t, text);
	ck_assert(!stats(&t, "app3", &m, NULL));
	ck_assert(!stats(&t, "app4", &m, NULL));
	/* The new server gets its share. */
	for (i = 0; i < 20; i++)
		if (request_ok(&t, who, sizeof(who)) &&
		    strcmp(who, "app5") == 0)
			break;
	ck_assert_msg(i < 20, "app5 answered none of 20 requests");
	mt_stop(&t, "a reload, then SIGTERM");
}
END_TEST

static const int stop_signals[] = { SIGTERM, SIGQUIT, SIGINT, SIGKILL };

static bool
no_strays(void *arg)
{
	pid_t pids[8];

	return h_strays(pids, 8) == 0;
}

START_TEST(test_stop_leaves_nothing)
{
	int sig = stop_signals[_i], st;
	bool with_stubborn = sig == SIGTERM || sig == SIGQUIT;
	struct mstat m1, m2;
	struct mtest t;
	char text[160];
	pid_t ps = 0;

	mt_init(&t);
	ini_head(&t, 10, "1s");
	ini_backend(&t, "app1", 0, NULL);
	ini_backend(&t, "app2", 1, NULL);
	if (with_stubborn)
		ini_command(&t, "app3", 2, stubborn);
	h_forklift_start(&t.f, t.ini);
	m1 = wait_stat(&t, "app1", W_UP, 0);
	m2 = wait_stat(&t, "app2", W_UP, 0);
	if (with_stubborn)
		ps = (pid_t)wait_stat(&t, "app3", W_RUNNING, 0).pid;
	h_forklift_signal(&t.f, sig);
	st = h_forklift_wait(&t.f, STOP_MS);
	if (sig == SIGKILL)
		ck_assert(st != -1 && WIFSIGNALED(st) &&
		    WTERMSIG(st) == SIGKILL);
	else
		ck_assert_msg(st != -1 && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0, "%s: wait status 0x%x",
		    strsignal(sig), st);
	assert_no_orphans(&t, strsignal(sig));
	/* Workers and checker of a killed supervisor come to us: gone too. */
	ck_assert_msg(h_wait_until(no_strays, NULL, GONE_MS),
	    "%s: a child outlived the supervisor", strsignal(sig));
	if (sig != SIGKILL) {
		snprintf(text, sizeof(text), "server web/app1 (pid %ld) "
		    "stopped: exited with status 0", m1.pid);
		ck_assert(h_file_contains(t.f.log, text));
		snprintf(text, sizeof(text), "server web/app2 (pid %ld) "
		    "stopped: exited with status 0", m2.pid);
		ck_assert(h_file_contains(t.f.log, text));
	}
	if (with_stubborn) {
		snprintf(text, sizeof(text), "server web/app3 (pid %ld) "
		    "stopped: killed by signal 9", (long)ps);
		ck_assert_msg(h_file_contains(t.f.log, text), "%s: no \"%s\"",
		    strsignal(sig), text);
	}
	h_forklift_stop(&t.f);
}
END_TEST

/*
 * SIGQUIT drains: a request in flight at a managed server is answered
 * before that server is stopped.
 */
START_TEST(test_quit_lets_requests_finish)
{
	static const char req[] = "GET /home?delay=1000 HTTP/1.1\r\n"
	    "Host: t\r\nConnection: close\r\n\r\n";
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct mtest t;
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	int fd, st;

	mt_init(&t);
	ini_head(&t, 10, "5s");
	ini_backend(&t, "app1", 0, NULL);
	h_forklift_start(&t.f, t.ini);
	(void)wait_stat(&t, "app1", W_UP, 0);
	sin.sin_port = htons((uint16_t)t.f.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	ck_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	ck_assert(write(fd, req, sizeof(req) - 1) == sizeof(req) - 1);
	(void)wait_stat(&t, "app1", W_IN_FLIGHT, 0);
	h_forklift_signal(&t.f, SIGQUIT);
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0 &&
	    strstr(buf, "Hello from server: app1") != NULL,
	    "the request in flight got: %s", buf);
	st = h_forklift_wait(&t.f, STOP_MS);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGQUIT: wait status 0x%x", st);
	assert_no_orphans(&t, "SIGQUIT");
	h_forklift_stop(&t.f);
}
END_TEST

/* The target of /proc/PID/`what` (cwd, fd/N). */
static void
proc_link(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	ck_assert_msg((n = readlink(path, buf, len - 1)) != -1, "%s: %s",
	    path, strerror(errno));
	buf[n] = '\0';
}

/* Fails if pid holds a descriptor on `target` ("pipe:[N]"). */
static void
assert_not_holding(pid_t pid, const char *target, const char *who)
{
	char path[300], link[128];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	ck_assert_msg((d = opendir(path)) != NULL, "%s: %s", path,
	    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "fd/%s", de->d_name);
		proc_link(pid, path, link, sizeof(link));
		ck_assert_msg(strcmp(link, target) != 0, "%s (pid %ld) holds "
		    "a managed server's output %s as fd %s", who, (long)pid,
		    target, de->d_name);
	}
	closedir(d);
}

/* A process's descriptors are 0 (/dev/null), 1 and 2 (its pipe) only. */
static void
assert_std_fds(pid_t pid, char *pipe, size_t len)
{
	char link[128];
	int n;

	proc_link(pid, "fd/0", link, sizeof(link));
	ck_assert_str_eq(link, "/dev/null");
	proc_link(pid, "fd/1", pipe, len);
	ck_assert_msg(strncmp(pipe, "pipe:", 5) == 0, "fd 1: %s", pipe);
	proc_link(pid, "fd/2", link, sizeof(link));
	ck_assert_str_eq(link, pipe);
	n = h_fd_count(pid);
	ck_assert_msg(n == 3, "pid %ld has %d descriptors, not 3", (long)pid,
	    n);
}

/* The next decimal id at *p, which moves past it.  Aborts on none. */
static unsigned
id_next(const char **p)
{
	unsigned long v;
	char *e;

	errno = 0;
	v = strtoul(*p, &e, 10);
	ck_assert_msg(errno == 0 && e != *p && v <= UINT_MAX,
	    "/proc status: not an id at \"%.16s\"", *p);
	*p = e;
	return (unsigned)v;
}

/* uid and gid lines of /proc/PID/status: all four ids are `id`. */
static void
assert_ids(pid_t pid, const char *key, unsigned id)
{
	static char buf[PROC_MAX];
	char path[64];
	unsigned a, b, c, d;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	ck_assert(read_file(path, buf, sizeof(buf)) > 0);
	ck_assert((p = strstr(buf, key)) != NULL);
	p += strlen(key);
	a = id_next(&p);
	b = id_next(&p);
	c = id_next(&p);
	d = id_next(&p);
	ck_assert_msg(a == id && b == id && c == id && d == id,
	    "%s%u %u %u %u, want %u", key, a, b, c, d, id);
}

START_TEST(test_output_env_cwd_user)
{
	pid_t kids[KIDS];
	struct passwd *pw = getpwnam("nobody");
	bool as_root = geteuid() == 0 && pw != NULL;
	struct mtest t;
	char text[PATH_MAX + 1100], cwd[PATH_MAX], dir[PATH_MAX], pipe[64];
	pid_t out, usr;
	int i;

	mt_init(&t);
	ini_head(&t, 10, "1s");
	ini_add(&t, "server = out 127.0.0.1:%d run=\"/bin/sh -c 'echo "
	    "var=$FLMVAR cwd=$(pwd); printf %%02000d 0; echo; echo done; "
	    "exec sleep 60'\" cwd=@DIR@ env=FLMVAR=hello env=%s\n",
	    port_of(&t, 0), t.tag);
	if (as_root)
		ini_command(&t, "usr", 1, "\"/bin/sleep 61\" user=nobody");
	h_forklift_start(&t.f, t.ini);
	ck_assert(realpath(t.f.dir, dir) != NULL);
	out = (pid_t)wait_stat(&t, "out", W_RUNNING, 0).pid;
	snprintf(text, sizeof(text), "server web/out: var=hello cwd=%s", dir);
	log_wait(&t, text);
	/* A 2000-byte line: its first 1024 bytes, and what was cut. */
	i = snprintf(text, sizeof(text), "server web/out: ");
	memset(text + i, '0', 1024);
	snprintf(text + i + 1024, sizeof(text) - (size_t)i - 1024,
	    " [line cut: 976 more bytes]\n");
	log_wait(&t, text);
	log_wait(&t, "server web/out: done");
	proc_link(out, "cwd", cwd, sizeof(cwd));
	ck_assert_str_eq(cwd, dir);
	ck_assert(proc_has_word(out, "environ", "FLMVAR=hello"));
	assert_std_fds(out, pipe, sizeof(pipe));
	/* Only the supervisor reads the pipe: no worker or checker holds it. */
	kids_wait(&t, kids);
	for (i = 0; i < KIDS; i++)
		assert_not_holding(kids[i], pipe, "a worker or the checker");
	if (as_root) {
		usr = (pid_t)wait_stat(&t, "usr", W_RUNNING, 0).pid;
		assert_ids(usr, "Uid:", pw->pw_uid);
		assert_ids(usr, "Gid:", pw->pw_gid);
		assert_std_fds(usr, pipe, sizeof(pipe));
	}
	mt_stop(&t, "SIGTERM");
}
END_TEST

static Suite *
managed_suite(void)
{
	Suite *s = suite_create("managed");
	TCase *tc;

	tc = tcase_create("restart");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_killed_under_load);
	tcase_add_loop_test(tc, test_crash_loop_given_up, 0, 2);
	tcase_add_test(tc, test_many_crash_loops);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_reload_adds_and_removes);
	suite_add_tcase(s, tc);

	tc = tcase_create("stop");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stop_leaves_nothing, 0,
	    (int)(sizeof(stop_signals) / sizeof(stop_signals[0])));
	tcase_add_test(tc, test_quit_lets_requests_finish);
	suite_add_tcase(s, tc);

	tc = tcase_create("process");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_output_env_cwd_user);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(managed_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
