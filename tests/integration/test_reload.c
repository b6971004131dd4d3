/*
 * Reload on SIGHUP against the real binary: a client sending over new and
 * keep-alive connections through ten reloads sees no failure and each new
 * configuration serving; an invalid file changes nothing; old generations
 * drain (in-flight requests finish, keep-alives close) and are gone by
 * shutdown_timeout; a reload whose children cannot all start keeps the old
 * generation; bind, workers, and the settings a reload cannot change; the
 * restart intensity; the generation in titles, /stats and sd_notify.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "tests/integration/harness.h"

#define TEST_TIMEOUT_S	40
#define NBACKENDS	4	/* app1 .. app4 */
#define CONF_MAX	4096
#define OUT_MAX		4096
/* Longest wait for a new generation to serve, and for a log line. */
#define SERVE_MS	5000
/* Longest wait for an old generation with nothing slow in flight to
   drain: its keep-alive clients get Connection: close at once, so it
   takes milliseconds; the bound is for a machine under heavy load. */
#define DRAIN_MS	10000
/* Client threads of the load: the even ones open a connection per
   request, the odd ones keep theirs alive. */
#define LOAD_CLIENTS	4
/* Requests the load makes before a test starts reloading under it. */
#define LOAD_WARMUP	40
/* Fresh requests that sample which servers a configuration uses. */
#define SAMPLE		30
/* Longest request of any client (the slow ones take 2 to 5 s). */
#define REQUEST_MS	10000
/* A worker with nothing left in flight exits within this. */
#define EXIT_MS		1000
/* The drain grace of idle keep-alive connections (worker/proxy.c), and
   the slack allowed on any deadline. */
#define GRACE_MS	1000
#define SLACK_MS	700
/* Bytes kept of a response, and of its head. */
#define BODY_KEEP	256
#define HEAD_KEEP	2048

/* What a test's configuration varies; zero fields take the defaults. */
struct cfg {
	int		 workers;		/* 2 */
	const char	*algorithm;		/* round_robin */
	const char	*servers;		/* "app1 app2=3" */
	const char	*shutdown;		/* 10s */
	int		 max_draining;		/* 2 */
	int		 intensity;		/* 100 */
	int		 port;			/* @PORT@ */
	const char	*pidfile;		/* @DIR@/forklift.pid */
	const char	*user;			/* "" */
	bool		 daemon;
	const char	*error_log;		/* stderr; @DIR@/error.log for a
						   daemon */
	const char	*extra;			/* appended: a bad line */
};

/* What /stats says. */
struct stats {
	long		 generation;
	long		 restarts;
	int		 nworkers;
	pid_t		 workers[H_MAX_WORKERS];
	long		 active;		/* over all workers */
	pid_t		 checker;
};

/* A request made in a thread while the test goes on. */
struct bg {
	pthread_t	 thread;
	char		 url[128];
	long		 status;
	int		 curl_error;
	char		 body[BODY_KEEP];
	char		 head[HEAD_KEEP];
	size_t		 blen, hlen;
	atomic_bool	 done;
	long long	 done_ms;
};

/* The continuous client. */
struct load {
	int		 port;
	atomic_bool	 stop;
	atomic_long	 requests;
	atomic_long	 failures;
	atomic_long	 retries;	/* resent by libcurl */
	pthread_mutex_t	 lock;
	char		 first_error[256];
	int		 index[LOAD_CLIENTS];
	pthread_t	 threads[LOAD_CLIENTS];
};

/* A response body kept in a fixed buffer. */
struct sink {
	char		*p;
	size_t		 cap, *len;
};

static struct hbackend	backends[NBACKENDS];
static struct load	load;

static long long
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		abort();
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
backends_start(int n)
{
	char name[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "app%d", i + 1);
		h_backend_start(&backends[i], name, NULL);
	}
}

static void
backends_stop(int n)
{
	int i;

	for (i = 0; i < n; i++)
		h_backend_stop(&backends[i]);
}

/*
 * If *p starts with lit followed by a number in base `base`, stores the
 * number, moves *p past it and returns true; otherwise false.
 */
static bool
num_after(const char **p, const char *lit, int base, long *v)
{
	size_t n = strlen(lit);
	char *e;

	if (strncmp(*p, lit, n) != 0)
		return false;
	errno = 0;
	*v = strtol(*p + n, &e, base);
	if (errno != 0 || e == *p + n)
		return false;
	*p = e;
	return true;
}

/* One "appN" or "appN=W" word of a server list: N, and W or 1. */
static bool
list_word(const char *p, int *app, int *weight)
{
	long a, w = 1;

	if (!num_after(&p, "app", 10, &a) || a < 0 || a > INT_MAX ||
	    (*p == '=' && !num_after(&p, "=", 10, &w)) || w < 0 ||
	    w > INT_MAX)
		return false;
	*app = (int)a;
	*weight = (int)w;
	return true;
}

/* Marks in `in` the backends a "app1 app2=3" list names; appends their
   "server =" lines to buf if buf is not NULL. */
static void
server_list(const char *list, bool in[NBACKENDS], char *buf, size_t len)
{
	const char *p = list;
	size_t off = buf != NULL ? strlen(buf) : 0;
	int app, weight, n;

	memset(in, 0, NBACKENDS * sizeof(*in));
	while (*p != '\0') {
		weight = 1;
		ck_assert_msg(list_word(p, &app, &weight) &&
		    app >= 1 && app <= NBACKENDS, "bad server list %s", list);
		in[app - 1] = true;
		p += strcspn(p, " ");
		p += strspn(p, " ");
		if (buf == NULL)
			continue;
		n = snprintf(buf + off, len - off,
		    "server = app%d 127.0.0.1:%d weight=%d\n", app,
		    backends[app - 1].port, weight);
		ck_assert(n > 0 && (size_t)n < len - off);
		off += (size_t)n;
	}
}

static void
conf_text(char *buf, size_t len, const struct cfg *c)
{
	bool in[NBACKENDS];
	char bind[16];
	int n;

	if (c->port != 0)
		snprintf(bind, sizeof(bind), "%d", c->port);
	else
		strlcpy(bind, "@PORT@", sizeof(bind));
	n = snprintf(buf, len,
	    "[global]\n"
	    "workers = %d\n"
	    "daemon = %s\n"
	    "pidfile = %s\n"
	    "user = %s\n"
	    "error_log = %s\n"
	    "restart_intensity = %d\n"
	    "shutdown_timeout = %s\n"
	    "max_draining_generations = %d\n"
	    "\n[listen]\nbind = 127.0.0.1:%s\npool = web\n"
	    "\n[admin]\nbind = 127.0.0.1:@ADMIN@\n"
	    "\n[pool web]\n"
	    "algorithm = %s\n"
	    "health_check = /heartbeat\n"
	    "health_interval = 1s\n"
	    "health_timeout = 500ms\n",
	    c->workers != 0 ? c->workers : 2, c->daemon ? "yes" : "no",
	    c->pidfile != NULL ? c->pidfile : "@DIR@/forklift.pid",
	    c->user != NULL ? c->user : "",
	    c->error_log != NULL ? c->error_log : c->daemon ?
	    "@DIR@/error.log" : "stderr",
	    c->intensity != 0 ? c->intensity : 100,
	    c->shutdown != NULL ? c->shutdown : "10s",
	    c->max_draining != 0 ? c->max_draining : 2, bind,
	    c->algorithm != NULL ? c->algorithm : "round_robin");
	ck_assert(n > 0 && (size_t)n < len);
	server_list(c->servers != NULL ? c->servers : "app1", in, buf, len);
	if (c->extra != NULL)
		ck_assert(strlcat(buf, c->extra, len) < len);
}

/* Reads /stats; false unless it answered 200 with what we parse. */
static bool
stats_read(int admin_port, struct stats *s, char **body)
{
	struct hresponse r;
	const char *p, *end, *q;
	long slot, pid, restarts, active;
	bool ok = false;

	memset(s, 0, sizeof(*s));
	h_get(admin_port, "/stats", NULL, &r);
	if (r.status != 200 ||
	    (p = strstr(r.body, "\"generation\": ")) == NULL)
		goto out;
	s->generation = strtol(p + 14, NULL, 10);
	if ((p = strstr(r.body, "\"supervisor\": {\"pid\": ")) == NULL ||
	    (p = strstr(p, "\"restarts\": ")) == NULL)
		goto out;
	s->restarts = strtol(p + 12, NULL, 10);
	if ((p = strstr(r.body, "\"health_checker\": {\"pid\": ")) == NULL)
		goto out;
	s->checker = (pid_t)strtol(p + 26, NULL, 10);
	if ((p = strstr(r.body, "\"workers\": [")) == NULL ||
	    (end = strchr(p, ']')) == NULL)
		goto out;
	while ((p = strstr(p, "{\"slot\": ")) != NULL && p < end &&
	    s->nworkers < H_MAX_WORKERS) {
		q = p;
		if (!num_after(&q, "{\"slot\": ", 10, &slot) ||
		    !num_after(&q, ", \"pid\": ", 10, &pid) ||
		    !num_after(&q, ", \"restarts\": ", 10, &restarts) ||
		    !num_after(&q, ", \"active_connections\": ", 10, &active))
			goto out;
		s->workers[s->nworkers++] = (pid_t)pid;
		s->active += active;
		p++;
	}
	ok = s->nworkers > 0;
out:
	if (ok && body != NULL) {
		*body = r.body;
		r.body = NULL;
	}
	h_response_free(&r);
	return ok;
}

static long
stats_generation(int admin_port)
{
	struct stats s;

	return stats_read(admin_port, &s, NULL) ? s.generation : -1;
}

struct serve_wait {
	struct hforklift *f;
	long		 gen;
	int		 nworkers;
	char		 line[64];
	struct stats	 s;
};

/* Generation `gen` says it serves and all its children are alive. */
static bool
gen_serving(void *arg)
{
	struct serve_wait *w = arg;
	int i;

	if (w->gen > 1 && !h_file_contains(w->f->log, w->line))
		return false;
	if (!stats_read(w->f->admin_port, &w->s, NULL) ||
	    w->s.generation != w->gen || w->s.nworkers != w->nworkers ||
	    !h_pid_alive(w->s.checker))
		return false;
	for (i = 0; i < w->s.nworkers; i++)
		if (w->s.workers[i] <= 0 || !h_pid_alive(w->s.workers[i]))
			return false;
	return true;
}

/* Waits until generation `gen` serves with `nworkers`; fills *s. */
static void
wait_serving(struct hforklift *f, long gen, int nworkers, struct stats *s)
{
	struct serve_wait w = { .f = f, .gen = gen, .nworkers = nworkers };

	snprintf(w.line, sizeof(w.line), "generation %ld serving", gen);
	ck_assert_msg(h_wait_until(gen_serving, &w, SERVE_MS),
	    "generation %ld with %d workers not serving after %d ms "
	    "(/stats says generation %ld)", gen, nworkers, SERVE_MS,
	    stats_generation(f->admin_port));
	if (s != NULL)
		*s = w.s;
}

static void
wait_log(struct hforklift *f, const char *line, int ms)
{
	ck_assert_msg(h_wait_file(f->log, line, ms), "no \"%s\" in the log "
	    "after %d ms", line, ms);
}

static void
wait_drained(struct hforklift *f, long gen, int ms)
{
	pid_t pids[4 * H_MAX_WORKERS];
	char line[64], who[512];
	size_t off = 0;
	int i, n;

	snprintf(line, sizeof(line), "generation %ld has drained", gen);
	if (h_wait_file(f->log, line, ms))
		return;
	/* Who is still there, for the failure message. */
	n = h_children(f->pid, "", pids, 4 * H_MAX_WORKERS);
	for (i = 0; i < n && off < sizeof(who); i++)
		off += (size_t)snprintf(who + off, sizeof(who) - off, " %d",
		    (int)pids[i]);
	ck_abort_msg("no \"%s\" in the log after %d ms; children:%s", line,
	    ms, n > 0 ? who : " none");
}

static void
write_conf(struct hforklift *f, const struct cfg *c)
{
	char ini[CONF_MAX];

	conf_text(ini, sizeof(ini), c);
	h_forklift_rewrite(f, ini);
}

/* Writes the configuration and reloads; waits for it to serve. */
static void
reload(struct hforklift *f, const struct cfg *c, long gen, struct stats *s)
{
	write_conf(f, c);
	h_forklift_signal(f, SIGHUP);
	wait_serving(f, gen, c->workers != 0 ? c->workers : 2, s);
}

static void
start(struct hforklift *f, const struct cfg *c, struct stats *s)
{
	char ini[CONF_MAX];

	conf_text(ini, sizeof(ini), c);
	h_forklift_start(f, ini);
	wait_serving(f, 1, c->workers != 0 ? c->workers : 2, s);
}

static bool
pids_gone(void *arg)
{
	const struct stats *s = arg;
	int i;

	for (i = 0; i < s->nworkers; i++)
		if (h_pid_alive(s->workers[i]))
			return false;
	return !h_pid_alive(s->checker);
}

static int
pids_alive(const struct stats *s)
{
	int i, n = 0;

	for (i = 0; i < s->nworkers; i++)
		n += h_pid_alive(s->workers[i]);
	return n;
}

static size_t
sink_add(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, room = s->cap - 1 - *s->len;

	memcpy(s->p + *s->len, data, n < room ? n : room);
	*s->len += n < room ? n : room;
	s->p[*s->len] = '\0';
	return n;
}

static int
on_curl_debug(CURL *c, curl_infotype type, char *data, size_t size,
    void *arg)
{
	atomic_long *retries = arg;

	if (type == CURLINFO_TEXT &&
	    memmem(data, size, "retrying a fresh connect", 24) != NULL)
		atomic_fetch_add(retries, 1);
	return 0;
}

static CURL *
curl_for(const char *url, struct sink *body, struct sink *head)
{
	CURL *c;

	if ((c = curl_easy_init()) == NULL ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)REQUEST_MS) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_add) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, body) != CURLE_OK ||
	    (head != NULL && (curl_easy_setopt(c, CURLOPT_HEADERFUNCTION,
	    sink_add) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, head) != CURLE_OK)))
		abort();	/* not a test thread: no ck_assert */
	return c;
}

/*
 * One load client: GET /home in a loop, over a new connection each time
 * (even index) or one kept alive (odd); index 2 and 3 ask the backend to
 * wait 20 ms, so that requests are in flight whenever a drain begins.
 */
static void *
load_client(void *arg)
{
	int index = *(int *)arg;
	char url[96], body[BODY_KEEP];
	size_t blen;
	struct sink sb = { body, sizeof(body), &blen };
	long code;
	CURLcode rc;
	CURL *c;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/home%s", load.port,
	    index >= 2 ? "?delay=20" : "");
	c = curl_for(url, &sb, NULL);
	if (curl_easy_setopt(c, CURLOPT_FORBID_REUSE, index % 2 == 0 ? 1L :
	    0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_curl_debug) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &load.retries) != CURLE_OK)
		abort();
	while (!atomic_load(&load.stop)) {
		blen = 0;
		body[0] = '\0';
		code = 0;
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE,
			    &code);
		atomic_fetch_add(&load.requests, 1);
		if (rc == CURLE_OK && code == 200 &&
		    strncmp(body, "Hello from server: app", 22) == 0)
			continue;
		if (atomic_fetch_add(&load.failures, 1) == 0) {
			pthread_mutex_lock(&load.lock);
			snprintf(load.first_error, sizeof(load.first_error),
			    "client %d (%s): curl %d (%s), status %ld, "
			    "body \"%.40s\"", index, index % 2 ? "keep-alive" :
			    "new connections", (int)rc, curl_easy_strerror(rc),
			    code, body);
			pthread_mutex_unlock(&load.lock);
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

static bool
load_warm(void *arg)
{
	return atomic_load(&load.requests) >= LOAD_WARMUP;
}

static void
load_start(int port)
{
	int i;

	memset(&load, 0, sizeof(load));
	load.port = port;
	ck_assert(pthread_mutex_init(&load.lock, NULL) == 0);
	for (i = 0; i < LOAD_CLIENTS; i++) {
		load.index[i] = i;
		ck_assert(pthread_create(&load.threads[i], NULL, load_client,
		    &load.index[i]) == 0);
	}
	ck_assert_msg(h_wait_until(load_warm, NULL, SERVE_MS),
	    "the load made %ld requests in %d ms", atomic_load(&load.requests),
	    SERVE_MS);
}

/* Stops the load; fails the test on any failed or resent request. */
static void
load_stop(const char *what)
{
	int i;

	atomic_store(&load.stop, true);
	for (i = 0; i < LOAD_CLIENTS; i++)
		ck_assert(pthread_join(load.threads[i], NULL) == 0);
	fprintf(stderr, "%s: %ld requests, %ld failed, %ld resent\n", what,
	    atomic_load(&load.requests), atomic_load(&load.failures),
	    atomic_load(&load.retries));
	ck_assert_msg(atomic_load(&load.failures) == 0,
	    "%s: %ld of %ld requests failed; first: %s", what,
	    atomic_load(&load.failures), atomic_load(&load.requests),
	    load.first_error);
	ck_assert_msg(atomic_load(&load.retries) == 0,
	    "%s: libcurl resent %ld requests on connections that died",
	    what, atomic_load(&load.retries));
}

static void *
bg_run(void *arg)
{
	struct bg *b = arg;
	struct sink sb = { b->body, sizeof(b->body), &b->blen };
	struct sink sh = { b->head, sizeof(b->head), &b->hlen };
	CURLcode rc;
	CURL *c;

	c = curl_for(b->url, &sb, &sh);
	rc = curl_easy_perform(c);
	b->curl_error = (int)rc;
	if (rc == CURLE_OK)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &b->status);
	curl_easy_cleanup(c);
	b->done_ms = now_ms();
	atomic_store(&b->done, true);
	return NULL;
}

static void
bg_start(struct bg *b, int port, const char *path)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->url, sizeof(b->url), "http://127.0.0.1:%d%s", port, path);
	ck_assert(pthread_create(&b->thread, NULL, bg_run, b) == 0);
}

static void
bg_join(struct bg *b)
{
	ck_assert(pthread_join(b->thread, NULL) == 0);
}

struct active_wait {
	int		 admin_port;
	long		 gen;
};

static bool
request_in_flight(void *arg)
{
	struct active_wait *w = arg;
	struct stats s;

	return stats_read(w->admin_port, &s, NULL) && s.generation == w->gen &&
	    s.active >= 1;
}

/* Waits until a worker of generation `gen` has a client connection. */
static void
wait_in_flight(struct hforklift *f, long gen)
{
	struct active_wait w = { f->admin_port, gen };

	ck_assert_msg(h_wait_until(request_in_flight, &w, SERVE_MS),
	    "no request in flight in generation %ld after %d ms", gen,
	    SERVE_MS);
}

/* Fresh-connection GETs of /home: how many each backend answered. */
static void
sample(int port, int n, int counts[NBACKENDS])
{
	struct hresponse r;
	const char *q;
	long app;
	int i;

	memset(counts, 0, NBACKENDS * sizeof(*counts));
	for (i = 0; i < n; i++) {
		h_get(port, "/home", NULL, &r);
		q = r.body;
		ck_assert_msg(r.status == 200 && num_after(&q,
		    "Hello from server: app", 10, &app) && app >= 1 &&
		    app <= NBACKENDS, "GET /home: status %ld, curl %d, "
		    "\"%s\"", r.status, r.curl_error, r.body);
		counts[app - 1]++;
		h_response_free(&r);
	}
}

/* Asserts /stats shows the pool as configured: algorithm, servers and
   their weights, and no other server. */
static void
stats_show(struct hforklift *f, const char *algorithm, const char *list)
{
	char want[64], *body;
	const char *p, *at;
	struct stats s;
	int app, weight, n = 0;

	ck_assert(stats_read(f->admin_port, &s, &body));
	snprintf(want, sizeof(want), "\"algorithm\": \"%s\"", algorithm);
	ck_assert_msg(strstr(body, want) != NULL, "/stats lacks %s", want);
	for (p = list; *p != '\0'; p += strspn(p, " ")) {
		weight = 1;
		ck_assert(list_word(p, &app, &weight));
		p += strcspn(p, " ");
		snprintf(want, sizeof(want), "\"name\": \"app%d\"", app);
		ck_assert_msg((at = strstr(body, want)) != NULL,
		    "/stats lacks app%d", app);
		snprintf(want, sizeof(want), "\"weight\": %d,", weight);
		ck_assert_msg((at = strstr(at, "\"weight\": ")) != NULL &&
		    strncmp(at, want, strlen(want)) == 0,
		    "/stats: app%d's weight is not %d", app, weight);
		n++;
	}
	for (p = body; (p = strstr(p, "\"address\": ")) != NULL; p++)
		n--;
	ck_assert_msg(n == 0, "/stats shows servers not configured");
	free(body);
}

/* The ten reloads: each adds, removes, or changes algorithm or weights. */
static const struct step {
	const char	*algorithm;
	const char	*servers;
	int		 added;		/* appN must answer; 0: none */
	int		 heavy, light;	/* appN answers more than appM */
} steps[] = {
	{ "round_robin", "app1 app2 app3", 3, 0, 0 },
	{ "round_robin", "app2 app3", 0, 0, 0 },
	{ "least_conn", "app2 app3", 0, 0, 0 },
	{ "weighted_round_robin", "app2=1 app3=5", 0, 3, 2 },
	{ "weighted_round_robin", "app2=1 app3=1 app4=6", 4, 4, 2 },
	{ "random", "app2 app3 app4", 0, 0, 0 },
	{ "power_of_two", "app3 app4", 0, 0, 0 },
	{ "round_robin", "app1 app3 app4", 1, 0, 0 },
	{ "least_conn", "app1 app4", 0, 0, 0 },
	{ "weighted_round_robin", "app1=2 app2=6 app4=1", 2, 2, 4 },
};

START_TEST(test_reload_under_load)
{
	const struct step *st;
	struct hforklift f;
	struct cfg c = { .servers = "app1 app2" };
	bool in[NBACKENDS];
	int counts[NBACKENDS], k;
	size_t i;

	backends_start(NBACKENDS);
	start(&f, &c, NULL);
	load_start(f.port);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		st = &steps[i];
		c.algorithm = st->algorithm;
		c.servers = st->servers;
		reload(&f, &c, (long)i + 2, NULL);
		/* Once the old generation is gone, only the new one
		   answers: what it answers is the new configuration. */
		wait_drained(&f, (long)i + 1, DRAIN_MS);
		stats_show(&f, c.algorithm, c.servers);
		server_list(c.servers, in, NULL, 0);
		sample(f.port, SAMPLE, counts);
		for (k = 0; k < NBACKENDS; k++)
			ck_assert_msg(in[k] || counts[k] == 0, "reload %zu: "
			    "app%d, removed, answered %d of %d", i + 1, k + 1,
			    counts[k], SAMPLE);
		ck_assert_msg(st->added == 0 || counts[st->added - 1] > 0,
		    "reload %zu: app%d, added, did not answer in %d", i + 1,
		    st->added, SAMPLE);
		ck_assert_msg(st->heavy == 0 || counts[st->heavy - 1] >
		    counts[st->light - 1], "reload %zu: app%d (heavier) "
		    "answered %d, app%d %d", i + 1, st->heavy,
		    counts[st->heavy - 1], st->light, counts[st->light - 1]);
		ck_assert_msg(atomic_load(&load.failures) == 0,
		    "reload %zu: %s", i + 1, load.first_error);
	}
	load_stop("ten reloads under load");
	h_forklift_stop(&f);
	backends_stop(NBACKENDS);
}
END_TEST

START_TEST(test_invalid_file_changes_nothing)
{
	struct hforklift f;
	struct cfg c = { .servers = "app1 app2" };
	struct stats before, after;
	char ini[CONF_MAX], want[PATH_MAX + 16];
	int counts[NBACKENDS], i, line = 0;

	backends_start(2);
	start(&f, &c, &before);
	load_start(f.port);
	c.servers = "app2";
	c.extra = "bogus = 1\n";
	conf_text(ini, sizeof(ini), &c);
	for (i = 0; ini[i] != '\0'; i++)
		line += ini[i] == '\n';
	h_forklift_rewrite(&f, ini);
	h_forklift_signal(&f, SIGHUP);
	snprintf(want, sizeof(want), "%s:%d: ", f.conf, line);
	wait_log(&f, want, SERVE_MS);
	wait_log(&f, "reload failed: keeping generation 1", SERVE_MS);
	ck_assert(stats_read(f.admin_port, &after, NULL));
	ck_assert_int_eq(after.generation, 1);
	ck_assert_int_eq(after.checker, before.checker);
	for (i = 0; i < before.nworkers; i++)
		ck_assert_int_eq(after.workers[i], before.workers[i]);
	sample(f.port, SAMPLE, counts);
	ck_assert_msg(counts[0] > 0, "app1 stopped serving");
	ck_assert(!h_file_contains(f.log, "generation 2"));
	load_stop("invalid file");
	/* A failed reload takes no generation number. */
	c.extra = NULL;
	reload(&f, &c, 2, NULL);
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

static bool
busy_one_left(void *arg)
{
	const struct stats *s = arg;

	return pids_alive(s) == 1 && !h_pid_alive(s->checker);
}

START_TEST(test_long_request_finishes)
{
	struct hforklift f;
	struct cfg c = { .servers = "app1" };
	struct stats old;
	struct bg b;

	backends_start(2);
	start(&f, &c, &old);
	bg_start(&b, f.port, "/home?delay=2000");
	wait_in_flight(&f, 1);
	c.servers = "app1 app2";
	reload(&f, &c, 2, NULL);
	/* The idle old worker and the old checker go at once. */
	ck_assert_msg(h_wait_until(busy_one_left, &old, EXIT_MS),
	    "old generation: %d workers left, checker %s", pids_alive(&old),
	    h_pid_alive(old.checker) ? "alive" : "gone");
	ck_assert_msg(!atomic_load(&b.done), "the long request ended early: "
	    "curl %d, status %ld", b.curl_error, b.status);
	bg_join(&b);
	ck_assert_msg(b.curl_error == 0 && b.status == 200 &&
	    strcmp(b.body, "Hello from server: app1\n") == 0,
	    "the long request: curl %d, status %ld, \"%s\"", b.curl_error,
	    b.status, b.body);
	ck_assert_msg(strcasestr(b.head, "\nConnection: close\r\n") != NULL,
	    "a draining worker's response lacks Connection: close: %s",
	    b.head);
	ck_assert_msg(h_wait_until(pids_gone, &old, EXIT_MS), "the old "
	    "worker outlived its last response by %d ms", EXIT_MS);
	fprintf(stderr, "long request: 200; old worker gone %lld ms after "
	    "it\n", now_ms() - b.done_ms);
	wait_drained(&f, 1, DRAIN_MS);
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

/* A keep-alive connection to 127.0.0.1:port, blocking; -1 fails. */
static int
ka_open(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd;

	ck_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect %d: %s", port, strerror(errno));
	return fd;
}

/*
 * Reads from fd until `done` says the bytes in buf are complete or ms
 * pass: 0, or -1 (with errno; 0 for EOF, ETIMEDOUT).
 */
static int
ka_read(int fd, char *buf, size_t len, size_t *got, int ms)
{
	long long deadline = now_ms() + ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, (int)(deadline - now_ms() > 0 ?
		    deadline - now_ms() : 0)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((n = read(fd, buf + *got, len - 1 - *got)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		*got += (size_t)n;
		buf[*got] = '\0';
		return 0;
	}
}

/* The status of a response that starts "HTTP/1.1 NNN", or -1. */
static int
status_of(const char *buf)
{
	const char *p = buf;
	long st;

	if (!num_after(&p, "HTTP/1.1 ", 10, &st) || st < 100 || st > 999)
		return -1;
	return (int)st;
}

/* GET /home on a kept-alive connection: the status (-1 on failure) and
   the response in buf. */
static int
ka_get(int fd, char *buf, size_t len)
{
	static const char req[] = "GET /home HTTP/1.1\r\nHost: t\r\n\r\n";
	const char *eoh, *cl;
	size_t got = 0;

	ck_assert(write(fd, req, sizeof(req) - 1) == sizeof(req) - 1);
	while (ka_read(fd, buf, len, &got, REQUEST_MS) == 0) {
		if ((eoh = strstr(buf, "\r\n\r\n")) == NULL ||
		    (cl = strcasestr(buf, "\r\nContent-Length: ")) == NULL ||
		    cl > eoh)
			continue;
		if ((size_t)(eoh + 4 - buf) + strtoul(cl + 18, NULL, 10) <=
		    got)
			return status_of(buf);
	}
	return -1;
}

/* Waits up to ms for the peer to close fd: 0 on a clean EOF, else the
   errno (ECONNRESET, ETIMEDOUT) or EPROTO if bytes came. */
static int
ka_end(int fd, int ms)
{
	char buf[256];
	size_t got = 0;
	int r;

	r = ka_read(fd, buf, sizeof(buf), &got, ms) == 0 ? EPROTO : errno;
	ck_assert(close(fd) == 0);
	return r;
}

START_TEST(test_keepalive_drain)
{
	struct hforklift f;
	struct cfg c = { .workers = 1, .servers = "app1" };
	char buf[BODY_KEEP + HEAD_KEEP];
	long long t0, waited;
	int a, b, r;

	backends_start(2);
	start(&f, &c, NULL);
	a = ka_open(f.port);
	b = ka_open(f.port);
	ck_assert(ka_get(a, buf, sizeof(buf)) == 200 &&
	    strcasestr(buf, "Connection: close") == NULL);
	ck_assert(ka_get(b, buf, sizeof(buf)) == 200);
	t0 = now_ms();
	c.servers = "app1 app2";
	reload(&f, &c, 2, NULL);
	/* In the grace, a request is answered, then the connection closes. */
	ck_assert_msg(ka_get(a, buf, sizeof(buf)) == 200 &&
	    strcasestr(buf, "\r\nConnection: close\r\n") != NULL,
	    "a request on a draining keep-alive connection: %s", buf);
	r = ka_end(a, SLACK_MS);
	ck_assert_msg(r == 0, "after Connection: close: %s", strerror(r));
	/* An idle one is closed, cleanly, once idle for the grace. */
	r = ka_end(b, GRACE_MS + SLACK_MS);
	waited = now_ms() - t0;
	ck_assert_msg(r == 0, "idle keep-alive connection: %s", strerror(r));
	ck_assert_msg(waited <= GRACE_MS + SLACK_MS, "idle keep-alive "
	    "connection closed %lld ms after the reload", waited);
	wait_drained(&f, 1, DRAIN_MS);
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

/*
 * shutdown_timeout = 1s and a 5 s request in flight: the supervisor kills
 * the old worker at 1 s and says so (the worker's own deadline comes a
 * little later, for when its supervisor is gone).
 */
START_TEST(test_shutdown_timeout_kills)
{
	struct hforklift f;
	struct cfg c = { .workers = 1, .shutdown = "1s", .servers = "app1" };
	struct hresponse r;
	struct stats old;
	long long t0, waited;
	struct bg b;

	backends_start(2);
	start(&f, &c, &old);
	bg_start(&b, f.port, "/home?delay=5000");
	wait_in_flight(&f, 1);
	t0 = now_ms();
	c.servers = "app1 app2";
	reload(&f, &c, 2, NULL);
	ck_assert_msg(h_wait_until(pids_gone, &old, 1000 + SLACK_MS),
	    "the old worker alive %d ms after a reload with "
	    "shutdown_timeout = 1s", 1000 + SLACK_MS);
	waited = now_ms() - t0;
	ck_assert_msg(waited >= 950, "the old worker gone after %lld ms, "
	    "before shutdown_timeout", waited);
	wait_log(&f, "generation 1: 1 child still draining after 1000ms: "
	    "killed", SERVE_MS);
	wait_log(&f, "generation 1 has ended", DRAIN_MS);
	bg_join(&b);
	ck_assert_msg(b.status != 200, "a 5 s request finished in a worker "
	    "killed at 1 s");
	fprintf(stderr, "shutdown_timeout 1s: old worker gone %lld ms after "
	    "the reload, its request: curl %d\n", waited, b.curl_error);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

struct listener_wait {
	pid_t		 pid;
	int		 port;
};

/* Field i (from 0) of a line of blank-separated fields, or NULL. */
static const char *
field(const char *line, int i)
{
	const char *p = line + strspn(line, " ");

	for (; i > 0 && *p != '\0'; i--) {
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return *p != '\0' ? p : NULL;
}

/*
 * A line of /proc/net/tcp: "sl local rem st ... uid timeout inode".  The
 * local port and the state are hex, the inode decimal.  False if not one.
 */
static bool
tcp_line(const char *line, unsigned long *lport, unsigned long *st,
    unsigned long *ino)
{
	const char *p;
	char *e;

	if ((p = field(line, 1)) == NULL || (p = strchr(p, ':')) == NULL)
		return false;
	errno = 0;
	*lport = strtoul(p + 1, &e, 16);
	if (errno != 0 || e == p + 1 || (p = field(line, 3)) == NULL)
		return false;
	*st = strtoul(p, &e, 16);
	if (errno != 0 || e == p || (p = field(line, 9)) == NULL)
		return false;
	*ino = strtoul(p, &e, 10);
	return errno == 0 && e != p;
}

/* The inode of a "socket:[INODE]" fd link: true, or false if not one. */
static bool
socket_inode(const char *link, unsigned long *ino)
{
	static const char lit[] = "socket:[";
	char *e;

	if (strncmp(link, lit, sizeof(lit) - 1) != 0)
		return false;
	errno = 0;
	*ino = strtoul(link + sizeof(lit) - 1, &e, 10);
	return errno == 0 && e != link + sizeof(lit) - 1 && *e == ']';
}

/* Whether w->pid no longer holds a socket listening on 127.0.0.1:port:
   the inodes of such sockets from /proc/net/tcp against its fds. */
static bool
listener_closed(void *arg)
{
	const struct listener_wait *w = arg;
	unsigned long inodes[2 * H_MAX_WORKERS], ino;
	unsigned long lport, st;
	char line[512], path[320], link[64];
	struct dirent *de;
	bool held = false;
	int i, n = 0;
	ssize_t len;
	FILE *fp;
	DIR *d;

	ck_assert((fp = fopen("/proc/net/tcp", "r")) != NULL);
	while (fgets(line, sizeof(line), fp) != NULL && n < 2 * H_MAX_WORKERS)
		if (tcp_line(line, &lport, &st, &ino) &&
		    lport == (unsigned long)w->port && st == 0x0A)
			inodes[n++] = ino;
	(void)fclose(fp);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)w->pid);
	if ((d = opendir(path)) == NULL)
		return true;
	while (!held && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)w->pid,
		    de->d_name);
		if ((len = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[len] = '\0';
		for (i = 0; i < n; i++)
			if (socket_inode(link, &ino) && ino == inodes[i])
				held = true;
	}
	(void)closedir(d);
	return !held;
}

/* Two reloads while requests are in flight in generations 1 and 2;
   _i = 1 allows one old generation draining at a time. */
START_TEST(test_two_old_generations)
{
	int max = _i == 0 ? 2 : 1;
	struct hforklift f;
	struct cfg c = { .workers = 1, .servers = "app1",
	    .max_draining = max };
	struct listener_wait lw;
	struct stats s1, s2;
	struct bg b1, b2;

	backends_start(2);
	start(&f, &c, &s1);
	bg_start(&b1, f.port, "/home?delay=3000");
	wait_in_flight(&f, 1);
	c.servers = "app1 app2";
	reload(&f, &c, 2, &s2);
	/* Generation 1's worker has let go of the socket. */
	lw.pid = s1.workers[0];
	lw.port = f.port;
	ck_assert_msg(h_wait_until(listener_closed, &lw, SERVE_MS),
	    "generation 1's worker still listens %d ms after the reload",
	    SERVE_MS);
	bg_start(&b2, f.port, "/home?delay=3000");
	wait_in_flight(&f, 2);
	c.servers = "app2";
	reload(&f, &c, 3, NULL);
	if (max == 2) {
		ck_assert_msg(h_pid_alive(s1.workers[0]) &&
		    h_pid_alive(s2.workers[0]), "generations 1 and 2 are not "
		    "both draining");
		bg_join(&b1);
		bg_join(&b2);
		ck_assert_msg(b1.status == 200 && b2.status == 200,
		    "requests in generations 1 and 2: %ld (curl %d), %ld "
		    "(curl %d)", b1.status, b1.curl_error, b2.status,
		    b2.curl_error);
		wait_drained(&f, 1, DRAIN_MS);
		ck_assert(!h_file_contains(f.log, "killed"));
	} else {
		wait_log(&f, "generation 1 still draining, killed: "
		    "max_draining_generations = 1", SERVE_MS);
		ck_assert_msg(h_wait_until(pids_gone, &s1, EXIT_MS),
		    "generation 1 alive %d ms after it was stopped", EXIT_MS);
		ck_assert(h_pid_alive(s2.workers[0]));
		bg_join(&b1);
		bg_join(&b2);
		ck_assert_msg(b1.status != 200, "the stopped generation's "
		    "request finished");
		ck_assert_msg(b2.status == 200, "generation 2's request: "
		    "%ld (curl %d)", b2.status, b2.curl_error);
	}
	wait_drained(&f, 2, DRAIN_MS);
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

/* SIGHUP again as soon as the new children are forked, under load; room
   for the three old generations to drain at once. */
START_TEST(test_reload_while_starting)
{
	struct hforklift f;
	struct cfg c = { .servers = "app1 app2", .max_draining = 3 };
	struct stats s;
	char line[64];
	long gen;

	backends_start(2);
	start(&f, &c, NULL);
	load_start(f.port);
	for (gen = 2; gen <= 4; gen++) {
		h_forklift_signal(&f, SIGHUP);
		snprintf(line, sizeof(line), "generation %ld serving", gen);
		wait_log(&f, line, SERVE_MS);
	}
	wait_serving(&f, 4, 2, &s);
	for (gen = 1; gen <= 3; gen++)
		wait_drained(&f, gen, DRAIN_MS);
	load_stop("three reloads, each as the last one's children start");
	ck_assert_int_eq(s.restarts, 0);
	ck_assert(!h_file_contains(f.log, "restarting"));
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

static bool
port_closed(void *arg)
{
	return !h_port_open(*(int *)arg);
}

START_TEST(test_bind_change)
{
	struct hforklift f;
	struct cfg c = { .servers = "app1" };
	struct hresponse r;
	int old;

	backends_start(1);
	start(&f, &c, NULL);
	old = f.port;
	c.port = h_free_port();
	reload(&f, &c, 2, NULL);
	h_get(c.port, "/home", NULL, &r);
	ck_assert_msg(r.status == 200, "new port %d: status %ld, curl %d",
	    c.port, r.status, r.curl_error);
	h_response_free(&r);
	wait_drained(&f, 1, DRAIN_MS);
	ck_assert_msg(h_wait_until(port_closed, &old, SERVE_MS),
	    "old port %d still accepts %d ms after the old generation "
	    "drained", old, SERVE_MS);
	ck_assert(h_file_contains(f.log, "reload: closed 2 listening sockets"));
	h_forklift_stop(&f);
	backends_stop(1);
}
END_TEST

struct title_wait {
	pid_t		 sup;
	const struct stats *s;
};

/*
 * Each worker of s has its slot's title, "forklift: worker N" (with or
 * without its generation: h_child), and no other worker is there.  A
 * child just forked has its parent's title (and copies of the sockets it
 * closes on its way in) for a moment: the checker too must be titled.
 */
static bool
slots_titled(void *arg)
{
	const struct title_wait *w = arg;
	pid_t pids[H_MAX_WORKERS + 1];
	char title[32];
	int slot;

	if (h_child(w->sup, "forklift: health checker") != w->s->checker)
		return false;
	for (slot = 0; slot < w->s->nworkers; slot++) {
		snprintf(title, sizeof(title), "forklift: worker %d", slot);
		if (h_child(w->sup, title) != w->s->workers[slot])
			return false;
	}
	return h_children(w->sup, "forklift: worker ", pids,
	    H_MAX_WORKERS + 1) == w->s->nworkers;
}

static const int worker_counts[] = { 3, 1 };

START_TEST(test_workers_change)
{
	struct hforklift f;
	struct cfg c = { .servers = "app1" };
	struct title_wait tw;
	struct stats s;
	int counts[NBACKENDS];
	size_t i;

	backends_start(1);
	start(&f, &c, NULL);
	for (i = 0; i < sizeof(worker_counts) / sizeof(worker_counts[0]);
	    i++) {
		c.workers = worker_counts[i];
		reload(&f, &c, (long)i + 2, &s);
		wait_drained(&f, (long)i + 1, DRAIN_MS);
		tw.sup = f.pid;
		tw.s = &s;
		ck_assert_msg(h_wait_until(slots_titled, &tw, SERVE_MS),
		    "%d workers: not one \"forklift: worker N\" per slot",
		    c.workers);
		/* Only lowering `workers` retires slots (and their sockets). */
		ck_assert(h_file_contains(f.log, "reload: closed ") == (i > 0));
		sample(f.port, 8, counts);
	}
	h_forklift_stop(&f);
	backends_stop(1);
}
END_TEST

/* The real uid of pid, from /proc; -1 if unknown. */
static long
proc_uid(pid_t pid)
{
	char path[64], buf[2048];
	const char *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	return (p = strstr(buf, "\nUid:")) != NULL ? strtol(p + 5, NULL, 10) :
	    -1;
}

START_TEST(test_fixed_settings_kept)
{
	struct hforklift f;
	/* -f logs to stderr whatever the file says: that is no change. */
	struct cfg c = { .servers = "app1", .error_log = "@DIR@/file.log" };
	char other[PATH_MAX], want[PATH_MAX + 80];
	struct stats s;
	int i, st;

	backends_start(2);
	start(&f, &c, NULL);
	c.pidfile = "@DIR@/other.pid";
	c.user = "nobody";
	c.servers = "app1 app2";
	reload(&f, &c, 2, &s);
	snprintf(want, sizeof(want), "pidfile cannot change without a "
	    "restart; keeping \"%s\"", f.pidfile);
	wait_log(&f, want, SERVE_MS);
	wait_log(&f, "user cannot change without a restart; keeping \"\"",
	    SERVE_MS);
	ck_assert(!h_file_contains(f.log, "error_log cannot change"));
	snprintf(other, sizeof(other), "%s/other.pid", f.dir);
	ck_assert_msg(access(other, F_OK) == -1, "%s was created", other);
	ck_assert_int_eq(h_pidfile_pid(f.pidfile), f.pid);
	for (i = 0; i < s.nworkers; i++)
		ck_assert_msg(proc_uid(s.workers[i]) == (long)getuid(),
		    "worker %d runs as uid %ld", i, proc_uid(s.workers[i]));
	/* The pidfile removed at exit is the one kept. */
	h_forklift_signal(&f, SIGTERM);
	st = h_forklift_wait(&f, SERVE_MS);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGTERM: wait status 0x%x", st);
	ck_assert_msg(access(f.pidfile, F_OK) == -1, "pidfile left");
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

START_TEST(test_intensity_counts_crashes)
{
	struct hforklift f;
	struct cfg c = { .workers = 1, .intensity = 3, .servers = "app1" };
	struct stats s;
	long gen;

	backends_start(1);
	start(&f, &c, NULL);
	for (gen = 2; gen <= 16; gen++) {
		reload(&f, &c, gen, &s);
		wait_drained(&f, gen - 1, DRAIN_MS);
	}
	ck_assert_msg(h_pid_alive(f.pid), "15 reloads stopped the "
	    "supervisor with restart_intensity = 3");
	ck_assert_int_eq(s.restarts, 0);
	/* A crash is still one. */
	ck_assert(kill(s.workers[0], SIGKILL) == 0);
	wait_log(&f, "killed by signal 9, restarting", SERVE_MS);
	wait_serving(&f, 16, 1, &s);
	ck_assert_int_eq(s.restarts, 1);
	h_forklift_stop(&f);
	backends_stop(1);
}
END_TEST

/* Titles "forklift: worker N (generation G)" and the checker's. */
static bool
gen_titled(void *arg)
{
	const struct title_wait *w = arg;
	char title[64];
	int i;

	for (i = 0; i < w->s->nworkers; i++) {
		snprintf(title, sizeof(title),
		    "forklift: worker %d (generation %ld)", i,
		    w->s->generation);
		if (h_child(w->sup, title) != w->s->workers[i])
			return false;
	}
	snprintf(title, sizeof(title), "forklift: health checker "
	    "(generation %ld)", w->s->generation);
	return h_child(w->sup, title) == w->s->checker;
}

static void
titles_show(pid_t sup, const struct stats *s)
{
	struct title_wait w = { sup, s };

	ck_assert_msg(h_wait_until(gen_titled, &w, SERVE_MS), "no titles "
	    "\"forklift: worker N (generation %ld)\" and \"forklift: "
	    "health checker (generation %ld)\" after %d ms", s->generation,
	    s->generation, SERVE_MS);
}

START_TEST(test_generation_in_titles)
{
	struct hforklift f;
	struct cfg c = { .servers = "app1" };
	struct stats s;

	backends_start(1);
	start(&f, &c, &s);
	titles_show(f.pid, &s);
	reload(&f, &c, 2, &s);
	wait_drained(&f, 1, DRAIN_MS);
	titles_show(f.pid, &s);
	h_forklift_stop(&f);
	backends_stop(1);
}
END_TEST

/* The next datagram on fd, within SERVE_MS; fails the test if none. */
static void
notify_next(int fd, char *buf, size_t len, const char *want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	ck_assert_msg(poll(&p, 1, SERVE_MS) == 1, "no \"%s\" from "
	    "NOTIFY_SOCKET in %d ms", want, SERVE_MS);
	ck_assert((n = recv(fd, buf, len - 1, 0)) > 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, want) != NULL, "NOTIFY_SOCKET: \"%s\", "
	    "want \"%s\"", buf, want);
}

START_TEST(test_notify_reloading)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct hforklift f;
	struct cfg c = { .servers = "app1" };
	char name[64], buf[512];
	socklen_t len;
	int fd, st;

	backends_start(1);
	/* An abstract socket: nothing to remove afterwards. */
	snprintf(name, sizeof(name), "@forklift-test-notify-%d", (int)getpid());
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(name));
	ck_assert((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1);
	ck_assert(bind(fd, (struct sockaddr *)&sun, len) == 0);
	ck_assert(setenv("NOTIFY_SOCKET", name, 1) == 0);
	start(&f, &c, NULL);
	notify_next(fd, buf, sizeof(buf), "READY=1");
	reload(&f, &c, 2, NULL);
	notify_next(fd, buf, sizeof(buf), "RELOADING=1");
	ck_assert_msg(strstr(buf, "MONOTONIC_USEC=") != NULL, "RELOADING=1 "
	    "without MONOTONIC_USEC (Type=notify-reload needs it): %s", buf);
	notify_next(fd, buf, sizeof(buf), "READY=1");
	/* A failed reload ends in READY=1 too: the old one serves. */
	c.extra = "bogus = 1\n";
	write_conf(&f, &c);
	h_forklift_signal(&f, SIGHUP);
	notify_next(fd, buf, sizeof(buf), "RELOADING=1");
	notify_next(fd, buf, sizeof(buf), "READY=1");
	h_forklift_signal(&f, SIGTERM);
	notify_next(fd, buf, sizeof(buf), "STOPPING=1");
	st = h_forklift_wait(&f, SERVE_MS);
	ck_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(unsetenv("NOTIFY_SOCKET") == 0);
	ck_assert(close(fd) == 0);
	h_forklift_stop(&f);
	backends_stop(1);
}
END_TEST

/*
 * A reload whose children cannot all be forked keeps the old generation.
 * Root ignores RLIMIT_NPROC, so forklift runs as an otherwise unused uid
 * (setpriv) with room for 6 processes: the launcher, the supervisor and
 * three children at start; two forks more on a reload.
 */
START_TEST(test_fork_failure_keeps_old)
{
	const char *args[] = { "-c", NULL, NULL };
	struct hforklift f;
	struct cfg c = { .servers = "app1", .daemon = true };
	char ini[CONF_MAX], wrap[PATH_MAX], text[PATH_MAX + 128], out[OUT_MAX];
	struct stats before, after;
	char *asan;
	int uid = 40000 + (int)(getpid() % 20000), i, st;

	if (geteuid() != 0) {
		fprintf(stderr, "fork failure: skipped, setpriv needs root\n");
		return;
	}
	backends_start(2);
	conf_text(ini, sizeof(ini), &c);
	h_forklift_prepare(&f, ini);
	snprintf(wrap, sizeof(wrap), "%s/as-user", f.dir);
	snprintf(text, sizeof(text), "#!/bin/sh\nexec prlimit --nproc=6:6 "
	    "setpriv --reuid=%d --regid=%d --clear-groups %s \"$@\"\n", uid,
	    uid, h_forklift_bin());
	h_file_write(wrap, text);
	ck_assert(chmod(wrap, 0755) == 0 && chmod(f.dir, 0777) == 0);
	ck_assert(setenv("FORKLIFT_BIN", wrap, 1) == 0);
	/* LeakSanitizer's check at exit needs a process more than that. */
	asan = getenv("ASAN_OPTIONS");
	snprintf(text, sizeof(text), "%s%sdetect_leaks=0", asan != NULL ?
	    asan : "", asan != NULL && *asan != '\0' ? ":" : "");
	asan = asan != NULL ? strdup(asan) : NULL;
	ck_assert(setenv("ASAN_OPTIONS", text, 1) == 0);
	args[1] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), SERVE_MS);
	ck_assert_msg(st == 0, "start as uid %d: exit %d: %s", uid, st, out);
	ck_assert((f.pid = h_pidfile_pid(f.pidfile)) > 0);
	h_track(f.pid);
	wait_serving(&f, 1, 2, &before);
	/* Three workers and a checker: the second worker cannot fork. */
	c.workers = 3;
	c.servers = "app1 app2";
	write_conf(&f, &c);
	h_forklift_signal(&f, SIGHUP);
	wait_log(&f, "keeping generation 1", SERVE_MS);
	wait_drained(&f, 2, DRAIN_MS);
	ck_assert(stats_read(f.admin_port, &after, NULL));
	ck_assert_int_eq(after.generation, 1);
	ck_assert_int_eq(after.nworkers, 2);
	for (i = 0; i < before.nworkers; i++)
		ck_assert_int_eq(after.workers[i], before.workers[i]);
	ck_assert_int_eq(after.restarts, 0);
	stats_show(&f, "round_robin", "app1");
	sample(f.port, 8, (int[NBACKENDS]){ 0 });
	/* One worker and a checker fit. */
	c.workers = 1;
	write_conf(&f, &c);
	h_forklift_signal(&f, SIGHUP);
	wait_serving(&f, 3, 1, NULL);
	wait_drained(&f, 1, DRAIN_MS);
	stats_show(&f, "round_robin", "app1 app2");
	ck_assert(unsetenv("FORKLIFT_BIN") == 0 && (asan != NULL ?
	    setenv("ASAN_OPTIONS", asan, 1) : unsetenv("ASAN_OPTIONS")) == 0);
	free(asan);
	h_forklift_stop(&f);
	backends_stop(2);
}
END_TEST

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc;

	tc = tcase_create("load");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_reload_under_load);
	tcase_add_test(tc, test_invalid_file_changes_nothing);
	tcase_add_test(tc, test_reload_while_starting);
	suite_add_tcase(s, tc);

	tc = tcase_create("drain");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_long_request_finishes);
	tcase_add_test(tc, test_keepalive_drain);
	tcase_add_test(tc, test_shutdown_timeout_kills);
	tcase_add_loop_test(tc, test_two_old_generations, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_bind_change);
	tcase_add_test(tc, test_workers_change);
	tcase_add_test(tc, test_fixed_settings_kept);
	tcase_add_test(tc, test_intensity_counts_crashes);
	tcase_add_test(tc, test_fork_failure_keeps_old);
	suite_add_tcase(s, tc);

	tc = tcase_create("visible");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_notify_reloading);
	tcase_add_test(tc, test_generation_in_titles);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* Before any thread: libcurl's global setup is not thread-safe. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	sr = srunner_create(reload_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
