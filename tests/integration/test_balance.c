/*
 * Integration tests of balancing: the real forklift binary with two
 * workers in front of three real backends (app1, app2, app3), one test
 * per algorithm, each judging where ~300 requests went by the backend's
 * answer to /home ("Hello from server: NAME").
 *
 * The counts are exact where the algorithm is (one cursor shared by both
 * workers), and bounded by several standard deviations where it draws at
 * random.  least_conn and power_of_two are judged against a backend in
 * hang mode: it takes requests and never answers, so they stay active,
 * and a balancer that reads the active counts must stop sending it any.
 */
#include <curl/curl.h>

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define NBACKENDS	3
#define NREQ		300	/* requests judged per test */
#define INI_MAX		4096
#define BODY_MAX	256	/* bytes of a /home answer kept */
#define CONCURRENCY	12	/* transfers at once against a hung backend */
#define RUN_MS		30000	/* bound on one concurrent run */
#define DRAIN_MS	1000	/* fast transfers finish well within this */
#define HTTP_MS		5000	/* one request through the proxy */
#define NCLIENTS	20	/* ip_hash: 127.0.0.2 .. 127.0.0.21 */
#define PER_CLIENT	15

static const char *const names[NBACKENDS] = { "app1", "app2", "app3" };

struct world {
	struct hbackend	 b[NBACKENDS];
	struct hforklift f;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Starts app1..app3 (app3 with the arguments `app3_args`, may be NULL)
 * and forklift with 2 workers over them: pool "web" with `algorithm`,
 * the weights (NULL: 1 each) and extra pool lines `pool_extra`.  Health
 * checks are off: the tests decide which servers are usable.
 */
static void
world_start(struct world *w, const char *algorithm, const unsigned *weights,
    const char *pool_extra, const char *const *app3_args)
{
	char ini[INI_MAX];
	size_t n;
	int i;

	for (i = 0; i < NBACKENDS; i++)
		h_backend_start(&w->b[i], names[i],
		    i == 2 ? app3_args : NULL);
	n = (size_t)snprintf(ini, sizeof(ini),
	    "[global]\n"
	    "workers = 2\n"
	    "daemon = no\n"
	    "pidfile = @DIR@/forklift.pid\n"
	    "error_log = stderr\n"
	    "[listen]\n"
	    "bind = 127.0.0.1:@PORT@\n"
	    "pool = web\n"
	    "[pool web]\n"
	    "algorithm = %s\n"
	    "health_check = off\n"
	    "connect_timeout = 1s\n"
	    "server_timeout = 60s\n"
	    "%s",
	    algorithm, pool_extra != NULL ? pool_extra : "");
	for (i = 0; i < NBACKENDS && n < sizeof(ini); i++)
		n += (size_t)snprintf(ini + n, sizeof(ini) - n,
		    "server = %s 127.0.0.1:%d weight=%u\n", w->b[i].name,
		    w->b[i].port, weights != NULL ? weights[i] : 1);
	ck_assert_uint_lt(n, sizeof(ini));
	h_forklift_start(&w->f, ini);
}

static void
world_stop(struct world *w)
{
	int i;

	h_forklift_stop(&w->f);
	for (i = 0; i < NBACKENDS; i++)
		h_backend_stop(&w->b[i]);
}

/* The backend that wrote `body`, 0..2; fails the test on anything else. */
static int
server_of(const char *body)
{
	static const char prefix[] = "Hello from server: ";
	size_t len;
	int i;

	ck_assert_ptr_nonnull(body);
	ck_assert_msg(strncmp(body, prefix, sizeof(prefix) - 1) == 0,
	    "unexpected body: %s", body);
	body += sizeof(prefix) - 1;
	len = strcspn(body, "\r\n");
	for (i = 0; i < NBACKENDS; i++)
		if (strlen(names[i]) == len &&
		    strncmp(body, names[i], len) == 0)
			return i;
	ck_abort_msg("unknown server in: %s", body);
	return -1;
}

/* GET /home through forklift; returns which backend answered. */
static int
get_home(const struct world *w, const char *const *headers)
{
	struct hresponse r;
	int who;

	h_get(w->f.port, "/home", headers, &r);
	ck_assert_msg(r.status == 200, "status %ld, curl error %d", r.status,
	    r.curl_error);
	who = server_of(r.body);
	h_response_free(&r);
	return who;
}

static void
assert_between(unsigned got, unsigned lo, unsigned hi, const char *what)
{
	ck_assert_msg(got >= lo && got <= hi, "%s: %u, expected %u..%u",
	    what, got, lo, hi);
}

/* ---- libcurl, for what h_get does not do -------------------------------- */

struct body {
	char	 text[BODY_MAX];
	size_t	 len;
};

static size_t
body_add(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb, room = sizeof(b->text) - 1 - b->len;

	memcpy(b->text + b->len, data, n < room ? n : room);
	b->len += n < room ? n : room;
	b->text[b->len] = '\0';
	return n;
}

static void
curl_once(void)
{
	static pid_t owner;

	if (owner == getpid())
		return;
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	owner = getpid();
}

/*
 * An easy handle for GET /home on port, from source address `from` (NULL:
 * any), ending in an error after ms (0: never).
 */
static CURL *
home_handle(int port, const char *from, long ms, struct body *b)
{
	char url[64];
	CURL *c;

	curl_once();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/home", port);
	ck_assert_ptr_nonnull(c = curl_easy_init());
	memset(b, 0, sizeof(*b));
	ck_assert(curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_add) ==
	    CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, b) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) == CURLE_OK);
	if (from != NULL)
		ck_assert(curl_easy_setopt(c, CURLOPT_INTERFACE, from) ==
		    CURLE_OK);
	return c;
}

/* GET /home from source address `from`; returns which backend answered. */
static int
get_home_from(const struct world *w, const char *from)
{
	struct body b;
	long code = 0;
	CURL *c = home_handle(w->f.port, from, HTTP_MS, &b);
	CURLcode rc;

	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "from %s: %s", from,
	    curl_easy_strerror(rc));
	ck_assert(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) ==
	    CURLE_OK);
	curl_easy_cleanup(c);
	ck_assert_msg(code == 200, "from %s: status %ld", from, code);
	return server_of(b.text);
}

/*
 * Keeps CONCURRENCY transfers of GET /home going until NREQ have been
 * answered, then lets the fast ones finish.  counts[] gets the answers
 * per backend; returns how many transfers were still unanswered at the
 * end (those the hung backend holds).
 */
static unsigned
run_concurrent(const struct world *w, unsigned *counts)
{
	static struct body bodies[CONCURRENCY];
	CURL *handles[CONCURRENCY];
	CURLM *m;
	CURLMsg *msg;
	unsigned started = 0, answered = 0, i;
	long long deadline = now_ms() + RUN_MS, drain_end = 0;
	long code;
	int running = 0, left;

	ck_assert_ptr_nonnull(m = curl_multi_init());
	for (i = 0; i < CONCURRENCY; i++) {
		handles[i] = home_handle(w->f.port, NULL, 0, &bodies[i]);
		ck_assert_int_eq(curl_easy_setopt(handles[i], CURLOPT_PRIVATE,
		    (void *)&bodies[i]), CURLE_OK);
		ck_assert_int_eq(curl_multi_add_handle(m, handles[i]),
		    CURLM_OK);
		started++;
	}
	for (;;) {
		ck_assert_int_eq(curl_multi_perform(m, &running), CURLM_OK);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct body *b;
			char *priv;

			if (msg->msg != CURLMSG_DONE)
				continue;
			ck_assert_msg(msg->data.result == CURLE_OK, "%s",
			    curl_easy_strerror(msg->data.result));
			ck_assert(curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &code) == CURLE_OK);
			ck_assert_msg(code == 200, "status %ld", code);
			ck_assert(curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_PRIVATE, &priv) == CURLE_OK);
			b = (struct body *)(void *)priv;
			counts[server_of(b->text)]++;
			answered++;
			curl_multi_remove_handle(m, msg->easy_handle);
			if (answered < NREQ) {
				memset(b, 0, sizeof(*b));
				ck_assert_int_eq(curl_multi_add_handle(m,
				    msg->easy_handle), CURLM_OK);
				started++;
			}
		}
		if (answered >= NREQ && drain_end == 0)
			drain_end = now_ms() + DRAIN_MS;
		if (drain_end != 0 && (now_ms() >= drain_end ||
		    started == answered))
			break;
		ck_assert_msg(now_ms() < deadline, "%u of %u answered in %d ms",
		    answered, NREQ, RUN_MS);
		ck_assert_int_eq(curl_multi_poll(m, NULL, 0, 20, NULL),
		    CURLM_OK);
	}
	for (i = 0; i < CONCURRENCY; i++) {
		curl_multi_remove_handle(m, handles[i]);
		curl_easy_cleanup(handles[i]);
	}
	curl_multi_cleanup(m);
	return started - answered;
}

/* ---- the algorithms ------------------------------------------------------ */

START_TEST(test_balance_round_robin_even)
{
	struct world w;
	unsigned counts[NBACKENDS] = { 0 }, i;

	world_start(&w, "round_robin", NULL, NULL, NULL);
	for (i = 0; i < NREQ; i++)
		counts[get_home(&w, NULL)]++;
	/* One cursor over both workers: 100 each, +-1 per worker. */
	for (i = 0; i < NBACKENDS; i++)
		assert_between(counts[i], NREQ / 3 - 2, NREQ / 3 + 2,
		    names[i]);
	world_stop(&w);
}
END_TEST

START_TEST(test_balance_weighted_round_robin_proportional)
{
	static const unsigned weights[NBACKENDS] = { 3, 2, 1 };
	struct world w;
	unsigned counts[NBACKENDS] = { 0 }, i;
	int first[6];

	world_start(&w, "weighted_round_robin", weights, NULL, NULL);
	/* Smooth: the first period (weights 3,2,1) is a b a c b a. */
	for (i = 0; i < 6; i++)
		first[i] = get_home(&w, NULL);
	ck_assert_msg(first[0] == 0 && first[1] == 1 && first[2] == 0 &&
	    first[3] == 2 && first[4] == 1 && first[5] == 0,
	    "order %d %d %d %d %d %d", first[0], first[1], first[2],
	    first[3], first[4], first[5]);
	for (i = 0; i < NREQ; i++)
		counts[get_home(&w, NULL)]++;
	for (i = 0; i < NBACKENDS; i++)
		assert_between(counts[i], NREQ * weights[i] / 6 - 2,
		    NREQ * weights[i] / 6 + 2, names[i]);
	world_stop(&w);
}
END_TEST

/*
 * app3 hangs: each request sent to it stays active, and round robin would
 * end with all CONCURRENCY transfers stuck there.  A balancer that reads
 * the active counts sends it only `bound` requests at most (see below).
 */
static void
hung_backend_gets_few(const char *algorithm, unsigned bound)
{
	static const char *const hang[] = { "-H", NULL };
	struct world w;
	unsigned counts[NBACKENDS] = { 0 }, stuck;

	world_start(&w, algorithm, NULL, NULL, hang);
	stuck = run_concurrent(&w, counts);
	printf("%s: app1 %u, app2 %u, hung app3 held %u\n", algorithm,
	    counts[0], counts[1], stuck);
	ck_assert_uint_eq(counts[2], 0);
	ck_assert_msg(stuck <= bound, "%u requests sent to the hung server, "
	    "at most %u expected", stuck, bound);
	assert_between(counts[0], NREQ / 10, NREQ, names[0]);
	assert_between(counts[1], NREQ / 10, NREQ, names[1]);
	world_stop(&w);
}

/*
 * With S requests stuck on app3, the fast servers hold at most C - S of
 * the C transfers, so one of them at most (C - S) / 2, and least_conn
 * gives app3 another only while S <= (C - S) / 2: S stops at C / 3 + 1.
 * The other worker may choose on the same count at the same instant: + 1.
 */
START_TEST(test_balance_least_conn_shuns_slow_server)
{
	hung_backend_gets_few("least_conn", CONCURRENCY / 3 + 2);
}
END_TEST

/*
 * power_of_two gives app3 another only when the server it is drawn with
 * holds at least S, so S <= C - S: S stops at C / 2 + 1, + 1 for the
 * other worker.
 */
START_TEST(test_balance_power_of_two_shuns_slow_server)
{
	hung_backend_gets_few("power_of_two", CONCURRENCY / 2 + 2);
}
END_TEST

START_TEST(test_balance_power_of_two_spreads)
{
	struct world w;
	unsigned counts[NBACKENDS] = { 0 }, i;

	world_start(&w, "power_of_two", NULL, NULL, NULL);
	for (i = 0; i < NREQ; i++)
		counts[get_home(&w, NULL)]++;
	/* Idle servers: the first draw wins, uniformly: 100 +- 5 sigma. */
	for (i = 0; i < NBACKENDS; i++)
		assert_between(counts[i], 60, 140, names[i]);
	world_stop(&w);
}
END_TEST

START_TEST(test_balance_random_weighted)
{
	static const unsigned weights[NBACKENDS] = { 1, 1, 2 };
	struct world w;
	unsigned counts[NBACKENDS] = { 0 }, i, n = 400;

	world_start(&w, "random", weights, NULL, NULL);
	for (i = 0; i < n; i++)
		counts[get_home(&w, NULL)]++;
	/* Expected 100, 100, 200; sigma is 8.7 and 10. */
	assert_between(counts[0], 55, 145, names[0]);
	assert_between(counts[1], 55, 145, names[1]);
	assert_between(counts[2], 150, 250, names[2]);
	world_stop(&w);
}
END_TEST

START_TEST(test_balance_ip_hash_sticks_per_address)
{
	struct world w;
	unsigned used[NBACKENDS] = { 0 }, i, k, nused = 0;
	char from[32];
	int home, who;

	world_start(&w, "ip_hash", NULL, NULL, NULL);
	for (i = 0; i < NCLIENTS; i++) {
		snprintf(from, sizeof(from), "127.0.0.%u", 2 + i);
		home = get_home_from(&w, from);
		for (k = 1; k < PER_CLIENT; k++) {
			who = get_home_from(&w, from);
			ck_assert_msg(who == home, "%s went to %s, then %s",
			    from, names[home], names[who]);
		}
		used[home]++;
	}
	/* 20 addresses all on one server: odds 3^-19. */
	for (i = 0; i < NBACKENDS; i++)
		nused += used[i] > 0;
	ck_assert_uint_ge(nused, 2);
	world_stop(&w);
}
END_TEST

/* Same key value, same server; the values spread; no key, round robin. */
static void
key_sticks(const struct world *w, const char *header_fmt)
{
	unsigned used[NBACKENDS] = { 0 }, counts[NBACKENDS] = { 0 }, i, k;
	unsigned nused = 0;
	char header[64];
	const char *hl[2] = { header, NULL };
	int home, who;

	for (i = 0; i < NCLIENTS; i++) {
		snprintf(header, sizeof(header), header_fmt, i);
		home = get_home(w, hl);
		for (k = 1; k < PER_CLIENT; k++) {
			who = get_home(w, hl);
			ck_assert_msg(who == home, "%s went to %s, then %s",
			    header, names[home], names[who]);
		}
		used[home]++;
	}
	for (i = 0; i < NBACKENDS; i++)
		nused += used[i] > 0;
	ck_assert_uint_ge(nused, 2);
	for (i = 0; i < 30; i++)
		counts[get_home(w, NULL)]++;
	for (i = 0; i < NBACKENDS; i++)
		assert_between(counts[i], 8, 12, names[i]);
}

START_TEST(test_balance_consistent_hash_header)
{
	struct world w;

	world_start(&w, "consistent_hash", NULL, "hash_key = header:X-User\n",
	    NULL);
	key_sticks(&w, "X-User: user-%u");
	world_stop(&w);
}
END_TEST

START_TEST(test_balance_consistent_hash_cookie)
{
	struct world w;

	world_start(&w, "consistent_hash", NULL, "hash_key = cookie:sid\n",
	    NULL);
	key_sticks(&w, "Cookie: theme=dark; sid=s%u; lang=en");
	world_stop(&w);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("balance (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("algorithms");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_balance_round_robin_even);
	tcase_add_test(tc, test_balance_weighted_round_robin_proportional);
	tcase_add_test(tc, test_balance_least_conn_shuns_slow_server);
	tcase_add_test(tc, test_balance_power_of_two_shuns_slow_server);
	tcase_add_test(tc, test_balance_power_of_two_spreads);
	tcase_add_test(tc, test_balance_random_weighted);
	tcase_add_test(tc, test_balance_ip_hash_sticks_per_address);
	tcase_add_test(tc, test_balance_consistent_hash_header);
	tcase_add_test(tc, test_balance_consistent_hash_cookie);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
