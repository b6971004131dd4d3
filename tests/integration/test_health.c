/*
 * Integration tests of health checking: the real forklift binary in front
 * of real backends (tests/backend).  Marking is read from the error log
 * ("is DOWN:" / "is UP:" lines), so those tests need no proxying; the
 * tests that send traffic through forklift prove what a client sees.
 *
 * Bounds: with interval I, rise R and fall F, a failing server must be
 * marked down within F * I + I and a healthy one up within R * I + I.
 * SLACK_MS is added for polling and for process scheduling on a loaded
 * machine (sanitizer builds included); it is less than one interval.
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

#define INTERVAL_MS	200
#define TIMEOUT_MS	150
#define RISE		2
#define FALL		3
#define SLACK_MS	150
#define DOWN_BOUND_MS	(FALL * INTERVAL_MS + INTERVAL_MS + SLACK_MS)
#define UP_BOUND_MS	(RISE * INTERVAL_MS + INTERVAL_MS + SLACK_MS)
#define INI_MAX		4096
#define LOG_MAX		(1 << 20)	/* bytes of the error log searched */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A configuration of one pool "web" over the backends, checked with
 * `check` every `interval_ms`.
 */
static void
make_ini(char *ini, size_t len, const struct hbackend *b, int nb,
    const char *check, unsigned interval_ms)
{
	size_t n;
	int i;

	n = (size_t)snprintf(ini, len,
	    "[global]\n"
	    "workers = 2\n"
	    "daemon = no\n"
	    "pidfile = @DIR@/forklift.pid\n"
	    "error_log = stderr\n"
	    "[listen]\n"
	    "bind = 127.0.0.1:@PORT@\n"
	    "pool = web\n"
	    "[pool web]\n"
	    "retries = 2\n"
	    "connect_timeout = 1s\n"
	    "health_check = %s\n"
	    "health_interval = %ums\n"
	    "health_timeout = %dms\n"
	    "health_rise = %d\n"
	    "health_fall = %d\n",
	    check, interval_ms, TIMEOUT_MS, RISE, FALL);
	for (i = 0; i < nb && n < len; i++)
		n += (size_t)snprintf(ini + n, len - n,
		    "server = %s 127.0.0.1:%d\n", b[i].name, b[i].port);
	ck_assert_uint_lt(n, len);
}

static void
heartbeat(const struct hbackend *b, int fail)
{
	struct hresponse r;

	h_get(b->port, fail ? "/control/heartbeat?fail=1" :
	    "/control/heartbeat?fail=0", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
}

/* "server web/NAME 127.0.0.1:PORT is WHAT" */
static void
change_line(char *buf, size_t len, const struct hbackend *b,
    const char *what)
{
	snprintf(buf, len, "server web/%s 127.0.0.1:%d is %s", b->name,
	    b->port, what);
}

/* How many times `needle` is in the file at `path`. */
static int
count_in_file(const char *path, const char *needle)
{
	static char buf[LOG_MAX];
	const char *p;
	size_t n;
	FILE *f;
	int count = 0;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);	/* read only: nothing is lost */
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

struct in_log {
	const char	*path;
	const char	*needle;
	int		 times;
};

static bool
log_has(void *arg)
{
	struct in_log *l = arg;

	return count_in_file(l->path, l->needle) >= l->times;
}

/* Waits up to ms for `needle` to be in the log `times` times; returns the
   time taken, or fails the test. */
static uint64_t
wait_log(const struct hforklift *f, const char *needle, int times, int ms)
{
	struct in_log l = { f->log, needle, times };
	uint64_t start = now_ms();

	ck_assert_msg(h_wait_until(log_has, &l, ms),
	    "not in the log within %d ms: %s", ms, needle);
	return now_ms() - start;
}

/* A failing heartbeat is marked down in time, and back up in time. */
START_TEST(test_health_heartbeat_down_and_up)
{
	struct hbackend b[2];
	struct hforklift f;
	char ini[INI_MAX], line[256];

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);

	heartbeat(&b[1], 1);
	change_line(line, sizeof(line), &b[1],
	    "DOWN: 3 checks failed (HTTP 500)");
	ck_assert_uint_le(wait_log(&f, line, 1, 5000), DOWN_BOUND_MS);
	heartbeat(&b[1], 0);
	change_line(line, sizeof(line), &b[1], "UP: 2 checks passed");
	ck_assert_uint_le(wait_log(&f, line, 1, 5000), UP_BOUND_MS);
	change_line(line, sizeof(line), &b[0], "DOWN");
	ck_assert_int_eq(count_in_file(f.log, line), 0);

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
	h_backend_stop(&b[1]);
}
END_TEST

/*
 * Three hung backends (they accept and never answer) time out their checks
 * while a failing one is marked down within its bound: the checks run
 * concurrently.  Checked one after another, each round would take at
 * least 3 * TIMEOUT_MS and the failing one would miss its bound.
 */
START_TEST(test_health_hung_backend_delays_nobody)
{
	static const char *const hang[] = { "-H", NULL };
	struct hbackend b[4];
	struct hforklift f;
	char ini[INI_MAX], line[256];
	int i;

	h_backend_start(&b[0], "hung1", hang);
	h_backend_start(&b[1], "hung2", hang);
	h_backend_start(&b[2], "hung3", hang);
	h_backend_start(&b[3], "failing", NULL);
	heartbeat(&b[3], 1);
	make_ini(ini, sizeof(ini), b, 4, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);

	change_line(line, sizeof(line), &b[3],
	    "DOWN: 3 checks failed (HTTP 500)");
	ck_assert_uint_le(wait_log(&f, line, 1, 5000), DOWN_BOUND_MS);
	for (i = 0; i < 3; i++) {
		change_line(line, sizeof(line), &b[i],
		    "DOWN: 3 checks failed (timeout)");
		wait_log(&f, line, 1, DOWN_BOUND_MS + TIMEOUT_MS);
	}

	h_forklift_stop(&f);
	for (i = 0; i < 4; i++)
		h_backend_stop(&b[i]);
}
END_TEST

struct new_checker {
	pid_t	 supervisor;
	pid_t	 old;
	pid_t	 pid;
};

static bool
checker_replaced(void *arg)
{
	struct new_checker *c = arg;
	pid_t pids[4];

	if (h_children(c->supervisor, "forklift: health checker", pids,
	    4) != 1 || pids[0] == c->old)
		return false;
	c->pid = pids[0];
	return true;
}

/*
 * SIGKILL the checker: the supervisor starts another, which resumes from
 * the table.  The server it finds down stays down (no second DOWN line, no
 * UP line) until it passes health_rise checks.
 */
START_TEST(test_health_checker_restart_resumes)
{
	struct hbackend b[2];
	struct hforklift f;
	struct new_checker c;
	char ini[INI_MAX], line[256], up[256];
	struct in_log l;

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	heartbeat(&b[1], 1);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);
	change_line(line, sizeof(line), &b[1], "DOWN");
	wait_log(&f, line, 1, 5000);

	c.supervisor = f.pid;
	ck_assert_int_eq(h_children(f.pid, "forklift: health checker",
	    &c.old, 1), 1);
	ck_assert_int_eq(kill(c.old, SIGKILL), 0);
	ck_assert(h_wait_until(checker_replaced, &c, 5000));

	/* A checker that started from all-up would mark it down again
	   within the bound, or call it up: wait for either, in vain. */
	l = (struct in_log){ f.log, line, 2 };
	ck_assert(!h_wait_until(log_has, &l, DOWN_BOUND_MS));
	change_line(up, sizeof(up), &b[1], "UP");
	ck_assert_int_eq(count_in_file(f.log, up), 0);

	heartbeat(&b[1], 0);
	change_line(up, sizeof(up), &b[1], "UP: 2 checks passed");
	ck_assert_uint_le(wait_log(&f, up, 1, 5000), UP_BOUND_MS);
	ck_assert(h_pid_alive(c.pid));

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
	h_backend_stop(&b[1]);
}
END_TEST

/*
 * A reload carries the state of unchanged servers to the new generation,
 * whose checker carries on from it: a down server stays down (its old
 * checker has nothing more to say, and the new one does not mark it down
 * a second time) until it passes health_rise checks.
 */
START_TEST(test_health_reload_keeps_state)
{
	struct hbackend b[3];
	struct hforklift f;
	char ini[INI_MAX], line[256];
	struct in_log l;

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	h_backend_start(&b[2], "app3", NULL);
	heartbeat(&b[1], 1);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);
	change_line(line, sizeof(line), &b[1], "DOWN");
	wait_log(&f, line, 1, 5000);

	make_ini(ini, sizeof(ini), b, 3, "/heartbeat", INTERVAL_MS);
	h_forklift_rewrite(&f, ini);
	h_forklift_signal(&f, SIGHUP);
	wait_log(&f, "generation 2 serving", 1, 5000);
	l = (struct in_log){ f.log, line, 2 };
	ck_assert(!h_wait_until(log_has, &l, DOWN_BOUND_MS));
	change_line(line, sizeof(line), &b[1], "UP");
	ck_assert_int_eq(count_in_file(f.log, line), 0);

	heartbeat(&b[1], 0);
	change_line(line, sizeof(line), &b[1], "UP: 2 checks passed");
	ck_assert_uint_le(wait_log(&f, line, 1, 5000), UP_BOUND_MS);

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
	h_backend_stop(&b[1]);
	h_backend_stop(&b[2]);
}
END_TEST

/* ---- with traffic through forklift (needs the proxy) ---- */

/* GETs /home; returns the status and whether `name` answered. */
static long
get_home(const struct hforklift *f, const char *name, bool *from)
{
	struct hresponse r;
	char want[64];
	long status;

	h_get(f->port, "/home", NULL, &r);
	status = r.status;
	snprintf(want, sizeof(want), "Hello from server: %s\n", name);
	*from = r.body != NULL && strcmp(r.body, want) == 0;
	h_response_free(&r);
	return status;
}

/* A server marked down gets no traffic; back up, it gets its share. */
START_TEST(test_health_down_server_gets_no_traffic)
{
	struct hbackend b[2];
	struct hforklift f;
	char ini[INI_MAX], line[256];
	bool from;
	int i, hits = 0;

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);
	heartbeat(&b[1], 1);
	change_line(line, sizeof(line), &b[1], "DOWN");
	wait_log(&f, line, 1, 5000);

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(get_home(&f, "app2", &from), 200);
		ck_assert_msg(!from, "request %d went to a down server", i);
	}
	heartbeat(&b[1], 0);
	change_line(line, sizeof(line), &b[1], "UP");
	wait_log(&f, line, 1, 5000);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(get_home(&f, "app2", &from), 200);
		hits += from;
	}
	ck_assert_int_gt(hits, 0);

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
	h_backend_stop(&b[1]);
}
END_TEST

/*
 * Continuous GETs while one backend is killed outright: every one of them
 * succeeds (a refused connect is retried on the other server until the
 * checker marks the dead one down).
 */
START_TEST(test_health_stopped_backend_costs_no_request)
{
	struct hbackend b[2];
	struct hforklift f;
	char ini[INI_MAX], line[256];
	struct in_log l;
	bool from;
	long status;
	int i, after = 0;

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);
	change_line(line, sizeof(line), &b[1], "DOWN");
	l = (struct in_log){ f.log, line, 1 };

	for (i = 0; i < 2000 && after < 50; i++) {
		if (i == 50)
			h_backend_kill(&b[1]);
		status = get_home(&f, "app1", &from);
		ck_assert_msg(status == 200, "GET %d: status %ld", i, status);
		if (i > 50 && log_has(&l))
			after++;
	}
	ck_assert_int_eq(after, 50);

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
}
END_TEST

/*
 * Passive health: with checks only every 10 s, a backend that refuses
 * live traffic is still marked down at once, on the evidence of failed
 * requests confirmed by one early check.
 */
START_TEST(test_health_refused_traffic_marks_down_early)
{
	struct hbackend b[2];
	struct hforklift f;
	char ini[INI_MAX], line[256];
	struct in_log l;
	uint64_t start;
	bool from;
	int i;

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", 10000);
	h_forklift_start(&f, ini);
	h_backend_kill(&b[1]);
	change_line(line, sizeof(line), &b[1], "DOWN: ");
	l = (struct in_log){ f.log, line, 1 };
	start = now_ms();
	for (i = 0; i < 1000 && !log_has(&l); i++)
		ck_assert_int_eq(get_home(&f, "app1", &from), 200);
	ck_assert(log_has(&l));
	ck_assert_uint_lt(now_ms() - start, 2000);
	ck_assert_int_eq(count_in_file(f.log, "from live traffic)"), 1);

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
}
END_TEST

/* Every server down: 503 at once, naming the pool; then back. */
START_TEST(test_health_all_down_503)
{
	struct hbackend b[2];
	struct hforklift f;
	struct hresponse r;
	char ini[INI_MAX], line[256];

	h_backend_start(&b[0], "app1", NULL);
	h_backend_start(&b[1], "app2", NULL);
	heartbeat(&b[0], 1);
	heartbeat(&b[1], 1);
	make_ini(ini, sizeof(ini), b, 2, "/heartbeat", INTERVAL_MS);
	h_forklift_start(&f, ini);
	change_line(line, sizeof(line), &b[0], "DOWN");
	wait_log(&f, line, 1, 5000);
	change_line(line, sizeof(line), &b[1], "DOWN");
	wait_log(&f, line, 1, 5000);

	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(r.body);
	ck_assert_msg(strstr(r.body, "web") != NULL, "body: %s", r.body);
	h_response_free(&r);

	heartbeat(&b[0], 0);
	change_line(line, sizeof(line), &b[0], "UP");
	wait_log(&f, line, 1, 5000);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);

	h_forklift_stop(&f);
	h_backend_stop(&b[0]);
	h_backend_stop(&b[1]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("health (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("marking");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_health_heartbeat_down_and_up);
	tcase_add_test(tc, test_health_hung_backend_delays_nobody);
	tcase_add_test(tc, test_health_checker_restart_resumes);
	tcase_add_test(tc, test_health_reload_keeps_state);
	suite_add_tcase(s, tc);
	tc = tcase_create("traffic");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_health_down_server_gets_no_traffic);
	tcase_add_test(tc, test_health_stopped_backend_costs_no_request);
	tcase_add_test(tc, test_health_refused_traffic_marks_down_early);
	tcase_add_test(tc, test_health_all_down_503);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
