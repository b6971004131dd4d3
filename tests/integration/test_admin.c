/*
 * Integration tests of the admin endpoints: the real forklift binary in
 * front of real backends, its admin port asked with libcurl and raw
 * sockets.  /stats must parse and match what the processes and the
 * traffic are (worker pids are the supervisor's real children; a stopped
 * backend shows "down" once the health checker marks it), /metrics must
 * parse line by line, / must render, and the admin must keep answering
 * while a worker is being replaced, and answer a connection that was
 * accepted but silent when a reload drained its worker.
 */
#include <sys/types.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/unit/admin_check.h"

#define NWORKERS	2
#define NBACKENDS	3
#define INI_MAX		4096
#define TRAFFIC		30	/* requests sent through the proxy */
#define MARK_MS		5000	/* bound on the checker marking a change */
#define RESTART_MS	5000	/* bound on a worker being replaced */
#define SERVE_MS	10000	/* bound on a new generation serving */
#define ANSWER_MS	5000	/* bound on a raw exchange */
#define DRAIN_MS	5000	/* bound on an idle old generation ending */

struct setup {
	struct hforklift	f;
	struct hbackend		b[NBACKENDS];
	struct hfamily		fam;
};

static void
start(struct setup *s)
{
	static const char *const names[NBACKENDS] = { "app1", "app2", "app3" };
	char ini[INI_MAX];
	size_t n;
	int i;

	for (i = 0; i < NBACKENDS; i++)
		h_backend_start(&s->b[i], names[i], NULL);
	n = (size_t)snprintf(ini, sizeof(ini),
	    "[global]\n"
	    "workers = %d\n"
	    "daemon = no\n"
	    "pidfile = @DIR@/forklift.pid\n"
	    "error_log = stderr\n"
	    "[listen]\n"
	    "bind = 127.0.0.1:@PORT@\n"
	    "pool = web\n"
	    "[admin]\n"
	    "bind = 127.0.0.1:@ADMIN@\n"
	    "[pool web]\n"
	    "algorithm = round_robin\n"
	    "health_check = /heartbeat\n"
	    "health_interval = 200ms\n"
	    "health_timeout = 150ms\n"
	    "health_rise = 2\n"
	    "health_fall = 2\n", NWORKERS);
	for (i = 0; i < NBACKENDS; i++)
		n += (size_t)snprintf(ini + n, sizeof(ini) - n,
		    "server = %s 127.0.0.1:%d weight=%d\n", s->b[i].name,
		    s->b[i].port, i + 1);
	ck_assert_uint_lt(n, sizeof(ini));
	h_forklift_start(&s->f, ini);
	ck_assert_int_gt(s->f.admin_port, 0);
	h_family_wait(&s->fam, s->f.pid, NWORKERS, RESTART_MS);
}

static void
stop(struct setup *s)
{
	int i;

	h_forklift_stop(&s->f);
	for (i = 0; i < NBACKENDS; i++)
		if (s->b[i].pid > 0)
			h_backend_stop(&s->b[i]);
}

/* GET path on the admin port: 200, the Content-Type, and the body. */
static char *
admin_get(const struct setup *s, const char *path, const char *type)
{
	struct hresponse r;
	char *body;

	h_get(s->f.admin_port, path, NULL, &r);
	ck_assert_msg(r.status == 200, "GET %s: %ld (curl %d)", path,
	    r.status, r.curl_error);
	ck_assert_msg(strstr(r.headers, type) != NULL, "GET %s: %s", path,
	    r.headers);
	body = r.body;
	r.body = NULL;
	h_response_free(&r);
	return body;
}

/* A request on a raw admin connection; the admin closes after it. */
static void
raw_exchange(const struct setup *s, const char *req, char *out, size_t len)
{
	ck_assert_uint_gt(h_raw(s->f.admin_port, req, strlen(req), out, len,
	    5000), 0);
}

/* /stats, checked to be valid JSON. */
static char *
stats(const struct setup *s)
{
	char *doc = admin_get(s, "/stats", "Content-Type: application/json");

	ck_assert_msg(json_valid(doc), "invalid JSON:\n%s", doc);
	return doc;
}

static void
assert_str_at(const char *doc, const char *path, const char *want)
{
	char got[256];

	ck_assert_msg(json_get_str(doc, path, got, sizeof(got)),
	    "no string at %s", path);
	ck_assert_msg(strcmp(got, want) == 0, "%s: \"%s\", want \"%s\"",
	    path, got, want);
}

static long long
total_requests(const char *doc)
{
	char path[64];
	long long sum = 0;
	int i;

	for (i = 0; i < NBACKENDS; i++) {
		snprintf(path, sizeof(path), "pools.0.servers.%d.requests", i);
		sum += json_get_int(doc, path);
	}
	return sum;
}

struct state_wait {
	const struct setup	*s;
	int			 server;
	const char		*state;
};

static bool
server_in_state(void *arg)
{
	const struct state_wait *w = arg;
	char path[64], got[16];
	char *doc = stats(w->s);
	bool ok;

	snprintf(path, sizeof(path), "pools.0.servers.%d.state", w->server);
	ok = json_get_str(doc, path, got, sizeof(got)) &&
	    strcmp(got, w->state) == 0;
	free(doc);
	return ok;
}

/* The servers of /stats are the configured ones, all up and idle. */
static void
check_servers(const char *doc, const struct setup *s)
{
	char path[64], addr[64];
	int i;

	ck_assert_int_eq(json_len(doc, "pools.0.servers"), NBACKENDS);
	for (i = 0; i < NBACKENDS; i++) {
		snprintf(path, sizeof(path), "pools.0.servers.%d.name", i);
		assert_str_at(doc, path, s->b[i].name);
		snprintf(path, sizeof(path), "pools.0.servers.%d.address", i);
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->b[i].port);
		assert_str_at(doc, path, addr);
		snprintf(path, sizeof(path), "pools.0.servers.%d.weight", i);
		ck_assert_int_eq(json_get_int(doc, path), i + 1);
		snprintf(path, sizeof(path), "pools.0.servers.%d.state", i);
		assert_str_at(doc, path, "up");
		snprintf(path, sizeof(path),
		    "pools.0.servers.%d.active_connections", i);
		ck_assert_int_eq(json_get_int(doc, path), 0);
	}
}

/* The sampler of the worker answering has seen the traffic. */
static bool
rate_seen(void *arg)
{
	char *doc = stats(arg);
	const char *p = json_at(doc, "requests_per_second");
	bool ok = p != NULL && j_number(p) != NULL && strtod(p, NULL) > 0;

	free(doc);
	return ok;
}

START_TEST(test_admin_stats_match_live_state)
{
	struct setup s;
	struct hresponse r;
	char path[64], *doc;
	struct state_wait w;
	int i;

	memset(&s, 0, sizeof(s));
	start(&s);
	for (i = 0; i < TRAFFIC; i++) {
		h_get(s.f.port, "/home", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	doc = stats(&s);
	ck_assert_int_ge(json_get_int(doc, "generation"), 1);
	ck_assert_int_eq(json_get_int(doc, "supervisor.pid"), s.f.pid);
	ck_assert_int_eq(json_get_int(doc, "supervisor.restarts"), 0);
	ck_assert_int_eq(json_len(doc, "workers"), NWORKERS);
	for (i = 0; i < NWORKERS; i++) {
		snprintf(path, sizeof(path), "workers.%d.pid", i);
		ck_assert_int_eq(json_get_int(doc, path), s.fam.workers[i]);
		snprintf(path, sizeof(path), "workers.%d.restarts", i);
		ck_assert_int_eq(json_get_int(doc, path), 0);
	}
	ck_assert_int_eq(json_get_int(doc, "workers.0.requests") +
	    json_get_int(doc, "workers.1.requests"), TRAFFIC);
	assert_str_at(doc, "pools.0.name", "web");
	assert_str_at(doc, "pools.0.algorithm", "round_robin");
	check_servers(doc, &s);
	/* Round robin over three servers, no retries: an even spread. */
	ck_assert_int_eq(total_requests(doc), TRAFFIC);
	ck_assert_int_eq(json_get_int(doc, "pools.0.servers.1.requests"),
	    TRAFFIC / NBACKENDS);
	free(doc);
	/* Rates come from one-second samples: within a few seconds. */
	ck_assert_msg(h_wait_until(rate_seen, &s, 3000),
	    "no request rate in /stats");

	h_backend_stop(&s.b[1]);
	w.s = &s;
	w.server = 1;
	w.state = "down";
	ck_assert_msg(h_wait_until(server_in_state, &w, MARK_MS),
	    "app2 not down in /stats");
	doc = stats(&s);
	assert_str_at(doc, "pools.0.servers.0.state", "up");
	assert_str_at(doc, "pools.0.servers.2.state", "up");
	ck_assert(json_get_str(doc, "pools.0.servers.1.health.last_error",
	    path, sizeof(path)));
	ck_assert_msg(path[0] != '\0', "a down server with no last_error");
	free(doc);
	stop(&s);
}
END_TEST

START_TEST(test_admin_metrics_parse_and_show_state)
{
	struct setup s;
	struct hresponse r;
	char series[128], *text;
	struct state_wait w;
	int i;

	memset(&s, 0, sizeof(s));
	start(&s);
	for (i = 0; i < TRAFFIC; i++) {
		h_get(s.f.port, "/home", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	h_backend_stop(&s.b[2]);
	w.s = &s;
	w.server = 2;
	w.state = "down";
	ck_assert(h_wait_until(server_in_state, &w, MARK_MS));
	regex_setup();
	text = admin_get(&s, "/metrics", "Content-Type: text/plain; "
	    "version=0.0.4");
	ck_assert_int_gt(check_exposition(text), 50);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_up{pool=\"web\",server=\"app3\"}"), 0);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_up{pool=\"web\",server=\"app1\"}"), 1);
	ck_assert_double_eq(sample_value(text,
	    "forklift_requests_total{pool=\"web\",server=\"app1\"}"),
	    (double)TRAFFIC / NBACKENDS);
	ck_assert_double_eq(sample_value(text, "forklift_responses_total{"
	    "pool=\"web\",server=\"app1\",code=\"2xx\"}"),
	    (double)TRAFFIC / NBACKENDS);
	ck_assert_double_eq(sample_value(text,
	    "forklift_pool_requests_total{pool=\"web\"}"), TRAFFIC);
	ck_assert_double_eq(sample_value(text,
	    "forklift_request_duration_seconds_count{pool=\"web\"}"), TRAFFIC);
	ck_assert_double_eq(sample_value(text, "forklift_restarts_total"), 0);
	for (i = 0; i < NWORKERS; i++) {
		snprintf(series, sizeof(series),
		    "forklift_worker_restarts_total{slot=\"%d\"}", i);
		ck_assert_double_eq(sample_value(text, series), 0);
	}
	free(text);
	stop(&s);
}
END_TEST

START_TEST(test_admin_page_renders)
{
	struct setup s;
	char raw[65536], *html, want[64];
	struct state_wait w;
	int i;

	memset(&s, 0, sizeof(s));
	start(&s);
	h_backend_stop(&s.b[0]);
	w.s = &s;
	w.server = 0;
	w.state = "down";
	ck_assert(h_wait_until(server_in_state, &w, MARK_MS));
	html = admin_get(&s, "/", "Content-Type: text/html");
	ck_assert_int_eq(strncmp(html, "<!DOCTYPE html>", 15), 0);
	ck_assert_ptr_nonnull(strstr(html, "http-equiv=\"refresh\""));
	for (i = 0; i < NBACKENDS; i++) {
		snprintf(want, sizeof(want), "<td class=\"l\">%s</td>",
		    s.b[i].name);
		ck_assert_msg(strstr(html, want) != NULL, "no %s", want);
	}
	ck_assert_ptr_nonnull(strstr(html, "<td class=\"st down\">DOWN</td>"));
	ck_assert_ptr_nonnull(strstr(html, "<td class=\"st up\">UP</td>"));
	for (i = 0; i < NWORKERS; i++) {
		snprintf(want, sizeof(want), "<td>%d</td>", s.fam.workers[i]);
		ck_assert_msg(strstr(html, want) != NULL, "no worker %s", want);
	}
	ck_assert_str_eq(html + strlen(html) - 15, "</body></html>\n");
	free(html);

	/* HEAD, an unknown path and a method the admin does not take. */
	raw_exchange(&s, "HEAD /stats HTTP/1.1\r\nHost: a\r\n\r\n", raw,
	    sizeof(raw));
	ck_assert_int_eq(strncmp(raw, "HTTP/1.1 200 OK\r\n", 17), 0);
	ck_assert_str_eq(strstr(raw, "\r\n\r\n"), "\r\n\r\n");
	raw_exchange(&s, "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", raw,
	    sizeof(raw));
	ck_assert_int_eq(strncmp(raw, "HTTP/1.1 404 ", 13), 0);
	raw_exchange(&s, "DELETE /stats HTTP/1.1\r\nHost: a\r\n\r\n", raw,
	    sizeof(raw));
	ck_assert_int_eq(strncmp(raw, "HTTP/1.1 405 ", 13), 0);
	ck_assert_ptr_nonnull(strstr(raw, "\r\nAllow: GET, HEAD\r\n"));
	stop(&s);
}
END_TEST

struct worker_wait {
	const struct setup	*s;
	pid_t			 old;
};

/* /stats shows slot 0 run by a new process after one restart. */
static bool
worker_replaced(void *arg)
{
	const struct worker_wait *w = arg;
	char *doc = stats(w->s);
	long long pid = json_get_int(doc, "workers.0.pid");
	bool ok;

	ok = pid > 0 && pid != w->old && h_pid_alive((pid_t)pid) &&
	    json_get_int(doc, "workers.0.restarts") == 1 &&
	    json_get_int(doc, "supervisor.restarts") >= 1;
	free(doc);
	return ok;
}

START_TEST(test_admin_answers_while_a_worker_is_replaced)
{
	struct setup s;
	struct worker_wait w;
	struct hfamily fam;
	char *doc;
	int i;

	memset(&s, 0, sizeof(s));
	start(&s);
	ck_assert_int_eq(kill(s.fam.workers[0], SIGKILL), 0);
	/* Every request is answered, by the live worker or, once queued
	   on the dead one's socket, by its replacement. */
	for (i = 0; i < 40; i++)
		free(stats(&s));
	w.s = &s;
	w.old = s.fam.workers[0];
	ck_assert_msg(h_wait_until(worker_replaced, &w, RESTART_MS),
	    "slot 0 not replaced in /stats");
	h_family_wait(&fam, s.f.pid, NWORKERS, RESTART_MS);
	doc = stats(&s);
	ck_assert_int_eq(json_get_int(doc, "workers.0.pid"), fam.workers[0]);
	ck_assert_int_eq(json_get_int(doc, "workers.1.pid"), s.fam.workers[1]);
	ck_assert_int_eq(json_get_int(doc, "workers.1.restarts"), 0);
	free(doc);
	stop(&s);
}
END_TEST

struct generation_wait {
	int		 admin_port;
	long long	 generation;
};

/* /stats on a new connection is answered by the generation awaited. */
static bool
generation_serving(void *arg)
{
	const struct generation_wait *w = arg;
	struct hresponse r;
	bool ok;

	h_get(w->admin_port, "/stats", NULL, &r);
	ok = r.status == 200 && json_valid(r.body) &&
	    json_get_int(r.body, "generation") == w->generation;
	h_response_free(&r);
	return ok;
}

static long long
now_ms(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A client whose connection the old worker accepted, but whose request
 * had not arrived when the reload drained that worker, is answered by
 * the old worker: not closed, which the client would see as a reset.
 */
START_TEST(test_admin_answers_silent_connection_across_reload)
{
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n";
	struct setup s;
	struct generation_wait w;
	char ini[INI_MAX], out[65536], *doc;
	long long hup_ms, sent_ms;
	pid_t old;
	size_t n;
	bool eof;
	int fd;

	memset(&s, 0, sizeof(s));
	h_backend_start(&s.b[0], "app1", NULL);
	h_pool_ini(ini, sizeof(ini), "", "[admin]\nbind = 127.0.0.1:@ADMIN@\n",
	    "", s.b, 1);
	h_forklift_start(&s.f, ini);
	ck_assert_int_gt(s.f.admin_port, 0);
	h_family_wait(&s.fam, s.f.pid, 1, RESTART_MS);
	old = s.fam.workers[0];

	fd = h_connect(s.f.admin_port);
	/*
	 * One worker, one admin socket, whose queue the worker accepts in
	 * order until it is empty: once a later connection is answered by
	 * that worker, it holds the silent one.
	 */
	doc = stats(&s);
	ck_assert_int_eq(json_get_int(doc, "generation"), 1);
	ck_assert_int_eq(json_get_int(doc, "answered_by.pid"), old);
	free(doc);

	h_forklift_signal(&s.f, SIGHUP);
	hup_ms = now_ms();
	w.admin_port = s.f.admin_port;
	w.generation = 2;
	ck_assert_msg(h_wait_until(generation_serving, &w, SERVE_MS),
	    "generation 2 not answering /stats after %d ms", SERVE_MS);

	h_send(fd, req, sizeof(req) - 1);
	sent_ms = now_ms();
	n = h_recv(fd, out, sizeof(out), 0, NULL, ANSWER_MS, &eof);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0,
	    "the silent connection, its request sent %lld ms after SIGHUP, "
	    "got %zu bytes%s: \"%.80s\"", sent_ms - hup_ms, n,
	    eof ? " and a close" : "", out);
	ck_assert_msg(eof, "the admin kept the connection after its answer");
	doc = strstr(out, "\r\n\r\n");
	ck_assert_ptr_nonnull(doc);
	doc += 4;
	ck_assert_msg(json_valid(doc), "invalid JSON:\n%s", doc);
	/* Answered by the draining worker, not by the new generation. */
	ck_assert_int_eq(json_get_int(doc, "generation"), 1);
	ck_assert_int_eq(json_get_int(doc, "answered_by.pid"), old);
	ck_assert_int_eq(close(fd), 0);

	/* Answered, the connection no longer holds the old worker. */
	ck_assert_msg(h_wait_file(s.f.log, "generation 1 has drained",
	    DRAIN_MS), "generation 1 not drained %d ms after its last "
	    "connection", DRAIN_MS);
	stop(&s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("admin (integration)");
	TCase *tc = tcase_create("admin");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_admin_stats_match_live_state);
	tcase_add_test(tc, test_admin_metrics_parse_and_show_state);
	tcase_add_test(tc, test_admin_page_renders);
	tcase_add_test(tc, test_admin_answers_while_a_worker_is_replaced);
	tcase_add_test(tc, test_admin_answers_silent_connection_across_reload);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
