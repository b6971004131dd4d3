/*
 * Integration tests of the access log, written by the real binary's
 * worker for real exchanges: one line per request in the combined format
 * with the upstream's fields, for answers of the servers and of the proxy
 * itself; request ids forwarded to the server, kept from the client or
 * made anew; the file reopened after logrotate's rename (SIGUSR1); nothing
 * added with the log off; and a log that cannot be opened stopping
 * forklift with the reason said.
 */
#include <check.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define INI_MAX		4096
#define RAW_MAX		8192
#define RAW_MS		5000
#define LOG_MAX		(256 * 1024)
/* The worker writes held lines out every second: they must be in the
   file this long after the request (a second, and room for a slow run). */
#define FLUSH_MS	2000
/* Longest wait for forklift to give up on a worker that cannot start. */
#define GIVE_UP_MS	20000

/* Parts of a line, as extended regular expressions: seconds with
   milliseconds, the date of the combined format, a request id we made. */
#define TIME		"[0-9]+\\.[0-9]{3}"
#define DATE		"\\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}" \
			":[0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000\\]"
#define HEX_ID		"[0-9a-f]{16}"
/* At least 0.300 s: a server_timeout of 300 ms passed. */
#define SLOW_TIME	"(0\\.[3-9][0-9]{2}|[1-9][0-9]*\\.[0-9]{3})"

static struct hbackend	 app, sleepy;
static struct hforklift	 fk;
static int		 dead_port, slow_port, gone_port;
static char		 alog[512];

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Three listeners: `web` over a working backend, `dead` over a port
 * nothing listens on (503), `slow` over a backend that never answers
 * (504 after server_timeout).
 */
static void
setup_log(void)
{
	char ini[INI_MAX];
	int n;

	h_backend_start(&app, "app1", NULL);
	h_backend_start(&sleepy, "sleepy", (const char *const[]){ "-H",
	    NULL });
	dead_port = h_free_port();
	do
		slow_port = h_free_port();
	while (slow_port == dead_port);
	gone_port = h_free_port();	/* closed again: refuses */
	n = snprintf(ini, sizeof(ini),
	    "[global]\nworkers = 1\ndaemon = no\n"
	    "pidfile = @DIR@/forklift.pid\nerror_log = stderr\n"
	    "access_log = @DIR@/access.log\n"
	    "[listen]\nbind = 127.0.0.1:@PORT@\npool = web\n"
	    "client_timeout = 1s\n"
	    "[listen dead]\nbind = 127.0.0.1:%d\npool = dead\n"
	    "[listen slow]\nbind = 127.0.0.1:%d\npool = slow\n"
	    "[pool web]\nhealth_check = off\nserver = app1 127.0.0.1:%d\n"
	    "[pool dead]\nhealth_check = off\nretries = 0\n"
	    "server = gone 127.0.0.1:%d\n"
	    "[pool slow]\nhealth_check = off\nserver_timeout = 300ms\n"
	    "server = sleepy 127.0.0.1:%d\n",
	    dead_port, slow_port, app.port, gone_port, sleepy.port);
	ck_assert_int_lt(n, (int)sizeof(ini));
	h_forklift_start(&fk, ini);
	ck_assert(h_wait_port(dead_port, 5000));
	ck_assert(h_wait_port(slow_port, 5000));
	snprintf(alog, sizeof(alog), "%s/access.log", fk.dir);
}

static void
teardown_log(void)
{
	h_forklift_stop(&fk);
	h_backend_stop(&app);
	h_backend_stop(&sleepy);
}

/* A request over a raw socket; returns the answer's first line. */
static void
raw(int port, const char *req, char *buf, size_t len)
{
	char *eol;

	h_raw(port, req, strlen(req), buf, len, RAW_MS);
	if ((eol = strstr(buf, "\r\n")) != NULL)
		*eol = '\0';
}

/* A GET through libcurl with extra header lines; returns the status. */
static long
get(int port, const char *path, const char *const *headers, char *body,
    size_t len)
{
	struct hresponse r;
	long status;

	h_get(port, path, headers, &r);
	status = r.status;
	if (body != NULL)
		snprintf(body, len, "%s", r.body);
	h_response_free(&r);
	return status;
}

struct wait_lines {
	const char	*path;
	const char	*needle;
	int		 count;
};

static bool
has_lines(void *arg)
{
	struct wait_lines *w = arg;

	return h_file_count(w->path, w->needle) >= w->count;
}

/*
 * Waits until `path` holds `count` lines (newlines) and returns its text
 * in buf; fails the test if they are not there within ms.
 */
static void
read_log(const char *path, int count, char *buf, size_t len, int ms)
{
	struct wait_lines w = { path, "\n", count };
	FILE *f;
	size_t n;

	ck_assert_msg(h_wait_until(has_lines, &w, ms),
	    "%s: %d lines expected within %d ms, %d there", path, count, ms,
	    h_file_count(path, "\n"));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	(void)fclose(f);	/* read only: nothing is lost */
}

/* The one line of text holding `needle`, copied into line. */
static void
line_with(const char *text, const char *needle, char *line, size_t len)
{
	const char *p = strstr(text, needle), *s, *e;

	ck_assert_msg(p != NULL, "no line with %s in:\n%s", needle, text);
	ck_assert_msg(strstr(p + 1, needle) == NULL, "two lines with %s",
	    needle);
	for (s = p; s > text && s[-1] != '\n'; s--)
		;
	e = strchr(p, '\n');
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_lt((size_t)(e - s), len);
	memcpy(line, s, (size_t)(e - s));
	line[e - s] = '\0';
}

/* Fails the test unless the whole line matches the extended regex. */
static void
assert_line(const char *line, const char *pattern)
{
	regex_t re;
	int rc;

	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, line, 0, NULL, 0);
	regfree(&re);
	ck_assert_msg(rc == 0, "line:\n%s\ndoes not match:\n%s", line,
	    pattern);
}

/* The value of "rid=" in a line. */
static void
line_rid(const char *line, char *rid, size_t len)
{
	const char *p = strstr(line, " rid=");

	ck_assert_ptr_nonnull(p);
	snprintf(rid, len, "%s", p + 5);
}

/*
 * One request of each kind: answered by a server (200 with a referer and
 * an agent that needs escaping, 404, HEAD), by the proxy for a server
 * (503 refused, 504 timed out) and by the proxy alone (400 twice, 408).
 */
static void
send_mix(void)
{
	static const char *const agent[] = { "User-Agent: tester \"1\"",
	    "Referer: http://example.test/from", NULL };
	char buf[RAW_MAX];

	ck_assert_int_eq(get(fk.port, "/home?case=ok", agent, NULL, 0), 200);
	ck_assert_int_eq(get(fk.port, "/status/404", NULL, NULL, 0), 404);
	ck_assert_int_eq(get(dead_port, "/nowhere", NULL, NULL, 0), 503);
	ck_assert_int_eq(get(slow_port, "/wait", NULL, NULL, 0), 504);
	raw(fk.port, "HEAD /bytes/100 HTTP/1.1\r\nHost: a\r\n"
	    "Connection: close\r\n\r\n", buf, sizeof(buf));
	ck_assert_str_eq(buf, "HTTP/1.1 200 OK");
	raw(fk.port, "GET /lf HTTP/1.1\nHost: a\n\n", buf, sizeof(buf));
	ck_assert_str_eq(buf, "HTTP/1.1 400 Bad Request");
	raw(fk.port, "\x01GET / HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_str_eq(buf, "HTTP/1.1 400 Bad Request");
	raw(fk.port, "GET /partial HTTP/1.1\r\nHost: a\r\n", buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "HTTP/1.1 408 Request Timeout");
}

/* The lines of requests that reached a server, or tried to. */
static void
check_upstream_lines(const char *text)
{
	char line[4096], re[1024];

	line_with(text, "/home?case=ok", line, sizeof(line));
	snprintf(re, sizeof(re), "^127\\.0\\.0\\.1 - - " DATE " "
	    "\"GET /home\\?case=ok HTTP/1\\.1\" 200 24 "
	    "\"http://example\\.test/from\" \"tester \\\\x221\\\\x22\" "
	    "upstream=127\\.0\\.0\\.1:%d ustatus=200 rt=" TIME " uct=" TIME
	    " urt=" TIME " rid=" HEX_ID "$", app.port);
	assert_line(line, re);
	line_with(text, "/status/404", line, sizeof(line));
	snprintf(re, sizeof(re), "\"GET /status/404 HTTP/1\\.1\" 404 14 "
	    "\"-\" \"-\" upstream=127\\.0\\.0\\.1:%d ustatus=404 rt=" TIME
	    " uct=" TIME " urt=" TIME " rid=" HEX_ID "$", app.port);
	assert_line(line, re);
	/* Refused: the server tried is named, it never connected. */
	line_with(text, "/nowhere", line, sizeof(line));
	snprintf(re, sizeof(re), "\"GET /nowhere HTTP/1\\.1\" 503 [0-9]+ "
	    "\"-\" \"-\" upstream=127\\.0\\.0\\.1:%d ustatus=- rt=" TIME
	    " uct=- urt=" TIME " rid=" HEX_ID "$", gone_port);
	assert_line(line, re);
	/* Connected, no answer within server_timeout (300 ms). */
	line_with(text, "/wait", line, sizeof(line));
	snprintf(re, sizeof(re), "\"GET /wait HTTP/1\\.1\" 504 [0-9]+ "
	    "\"-\" \"-\" upstream=127\\.0\\.0\\.1:%d ustatus=- "
	    "rt=" SLOW_TIME " uct=" TIME " urt=" SLOW_TIME " "
	    "rid=" HEX_ID "$", sleepy.port);
	assert_line(line, re);
	line_with(text, "HEAD /bytes/100", line, sizeof(line));
	assert_line(line, "\"HEAD /bytes/100 HTTP/1\\.1\" 200 0 \"-\" \"-\" "
	    "upstream=127\\.0\\.0\\.1:[0-9]+ ustatus=200 ");
}

/* Refused by the proxy: no upstream, no upstream times. */
static void
check_proxy_lines(const char *text)
{
	char line[4096];

	line_with(text, "GET /lf", line, sizeof(line));
	assert_line(line, "\"GET /lf\" 400 16 \"-\" \"-\" upstream=- "
	    "ustatus=- rt=" TIME " uct=- urt=- rid=" HEX_ID "$");
	line_with(text, "\"-\" 400", line, sizeof(line));
	assert_line(line, "^127\\.0\\.0\\.1 - - " DATE " \"-\" 400 16 \"-\" "
	    "\"-\" upstream=- ustatus=- ");
	line_with(text, "/partial", line, sizeof(line));
	assert_line(line, "\"GET /partial\" 408 20 \"-\" \"-\" upstream=- "
	    "ustatus=- rt=[1-9]\\.[0-9]{3} uct=- urt=- rid=" HEX_ID "$");
}

START_TEST(test_access_log_lines)
{
	char text[LOG_MAX];
	long long t0;

	send_mix();
	t0 = now_ms();
	read_log(alog, 8, text, sizeof(text), FLUSH_MS);
	fprintf(stderr, "access log: 8 lines %lld ms after the last "
	    "request\n", now_ms() - t0);
	check_upstream_lines(text);
	check_proxy_lines(text);
}
END_TEST

START_TEST(test_access_log_request_id)
{
	static const char *const kept[] = { "X-Request-Id: client-id-42",
	    NULL };
	static const char *const bad[] = { "X-Request-Id: two words", NULL };
	static const char *const two[] = { "X-Request-Id: first-of-two",
	    "X-Request-Id: second-of-two", NULL };
	char body[4096], text[LOG_MAX], line[4096], rid[128], want[160];

	/* None sent: one made, forwarded, logged. */
	ck_assert_int_eq(get(fk.port, "/echo?n=1", NULL, body,
	    sizeof(body)), 200);
	read_log(alog, 1, text, sizeof(text), FLUSH_MS);
	line_with(text, "/echo?n=1", line, sizeof(line));
	line_rid(line, rid, sizeof(rid));
	assert_line(rid, "^" HEX_ID "$");
	snprintf(want, sizeof(want), "\r\nX-Request-Id: %s\r\n", rid);
	ck_assert_msg(strstr(body, want) != NULL, "the server got:\n%s",
	    body);

	/* A valid one: kept, and passed on as it came. */
	ck_assert_int_eq(get(fk.port, "/echo?n=2", kept, body,
	    sizeof(body)), 200);
	ck_assert_msg(strstr(body, "\r\nX-Request-Id: client-id-42\r\n") !=
	    NULL, "the server got:\n%s", body);
	ck_assert_ptr_null(strstr(strstr(body, "client-id-42") + 1,
	    "X-Request-Id"));

	/* An invalid one, and two at once: replaced by one of ours. */
	ck_assert_int_eq(get(fk.port, "/echo?n=3", bad, body,
	    sizeof(body)), 200);
	ck_assert_msg(strstr(body, "two words") == NULL, "%s", body);
	ck_assert_int_eq(get(fk.port, "/echo?n=4", two, body,
	    sizeof(body)), 200);
	ck_assert_msg(strstr(body, "of-two") == NULL, "%s", body);

	read_log(alog, 4, text, sizeof(text), FLUSH_MS);
	line_with(text, "/echo?n=2", line, sizeof(line));
	assert_line(line, " rid=client-id-42$");
	line_with(text, "/echo?n=3", line, sizeof(line));
	assert_line(line, " rid=" HEX_ID "$");
	line_with(text, "/echo?n=4", line, sizeof(line));
	line_rid(line, rid, sizeof(rid));
	assert_line(rid, "^" HEX_ID "$");
	snprintf(want, sizeof(want), "\r\nX-Request-Id: %s\r\n", rid);
	ck_assert_msg(strstr(body, want) != NULL, "the server got:\n%s",
	    body);
}
END_TEST

/* logrotate: rename, SIGUSR1; the next lines go to a new file. */
START_TEST(test_access_log_reopen)
{
	char text[LOG_MAX], rotated[600];

	ck_assert_int_eq(get(fk.port, "/home?at=before", NULL, NULL, 0), 200);
	snprintf(rotated, sizeof(rotated), "%s.1", alog);
	/* Renamed with the line maybe still held: it goes to the old file. */
	ck_assert(h_wait_file(alog, "", FLUSH_MS));
	ck_assert_int_eq(rename(alog, rotated), 0);
	h_forklift_signal(&fk, SIGUSR1);
	ck_assert_msg(h_wait_file(alog, "", FLUSH_MS),
	    "SIGUSR1 did not make a new %s", alog);
	ck_assert_int_eq(get(fk.port, "/home?at=after", NULL, NULL, 0), 200);
	ck_assert_int_eq(get(fk.port, "/home?at=after", NULL, NULL, 0), 200);
	read_log(alog, 2, text, sizeof(text), FLUSH_MS);
	ck_assert_int_eq(h_file_count(alog,
	    "\"GET /home?at=after HTTP/1.1\" 200"), 2);
	ck_assert_int_eq(h_file_count(alog, "at=before"), 0);
	read_log(rotated, 1, text, sizeof(text), FLUSH_MS);
	ck_assert_int_eq(h_file_count(rotated,
	    "\"GET /home?at=before HTTP/1.1\" 200"), 1);
	ck_assert_int_eq(h_file_count(rotated, "at=after"), 0);
}
END_TEST

/* With the log off the request passes as it came: no id is added. */
START_TEST(test_access_log_off)
{
	static const char *const bad[] = { "X-Request-Id: two words", NULL };
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], body[4096], path[600];

	h_backend_start(&b, "app1", NULL);
	snprintf(ini, sizeof(ini), "[global]\nworkers = 1\ndaemon = no\n"
	    "pidfile = @DIR@/forklift.pid\nerror_log = stderr\n"
	    "access_log = off\n"
	    "[listen]\nbind = 127.0.0.1:@PORT@\npool = web\n"
	    "[pool web]\nhealth_check = off\nserver = app1 127.0.0.1:%d\n",
	    b.port);
	h_forklift_start(&f, ini);
	ck_assert_int_eq(get(f.port, "/echo", NULL, body, sizeof(body)),
	    200);
	ck_assert_msg(strstr(body, "X-Request-Id") == NULL, "%s", body);
	ck_assert_int_eq(get(f.port, "/echo", bad, body, sizeof(body)), 200);
	ck_assert_msg(strstr(body, "\r\nX-Request-Id: two words\r\n") != NULL,
	    "%s", body);
	snprintf(path, sizeof(path), "%s/access.log", f.dir);
	ck_assert(access(path, F_OK) == -1);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/*
 * A worker that cannot open its access log exits and says why; restarted
 * again and again, it makes the supervisor give up: forklift fails
 * loudly instead of serving requests it cannot account for.
 */
START_TEST(test_access_log_cannot_open)
{
	struct hbackend b;
	struct hforklift f;
	char ini[INI_MAX], out[LOG_MAX], want[700];
	int st;

	h_backend_start(&b, "app1", NULL);
	snprintf(ini, sizeof(ini), "[global]\nworkers = 1\ndaemon = no\n"
	    "pidfile = @DIR@/forklift.pid\nerror_log = stderr\n"
	    "access_log = @DIR@/missing/access.log\n"
	    "restart_intensity = 2\nrestart_period = 60s\n"
	    "[listen]\nbind = 127.0.0.1:@PORT@\npool = web\n"
	    "[pool web]\nhealth_check = off\nserver = app1 127.0.0.1:%d\n",
	    b.port);
	h_forklift_prepare(&f, ini);
	st = h_forklift_run(&f, (const char *const[]){ "-f", "-c", f.conf,
	    NULL }, out, sizeof(out), GIVE_UP_MS);
	ck_assert_msg(st > 0, "forklift exit status %d; output:\n%s", st, out);
	snprintf(want, sizeof(want), "[error] worker 0: access log "
	    "%s/missing/access.log: No such file or directory", f.dir);
	ck_assert_msg(strstr(out, want) != NULL, "want %s in:\n%s", want,
	    out);
	ck_assert_msg(strstr(out, "giving up") != NULL, "%s", out);
	f.alert_ok = "giving up";
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("access log (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	(void)signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("lines");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup_log, teardown_log);
	tcase_add_test(tc, test_access_log_lines);
	tcase_add_test(tc, test_access_log_request_id);
	tcase_add_test(tc, test_access_log_reopen);
	suite_add_tcase(s, tc);
	tc = tcase_create("settings");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_access_log_off);
	tcase_add_test(tc, test_access_log_cannot_open);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
