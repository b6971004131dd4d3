/*
 * Unit tests for the admin (worker/admin.c, admin_stats.c, admin_page.c):
 * the escapers and the bounded buffer; /stats parsed by a strict JSON
 * reader and compared with the tables it was rendered from; /metrics
 * line by line against the text exposition grammar; the HTML page; the
 * page-size bound with the worst names and numbers; and the server itself
 * over loopback (methods, paths, malformed and oversized heads, slow
 * readers, the connection cap, stopping).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <check.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/net.h"
#include "worker/admin.h"
#include "worker/worker.h"

#include "tests/unit/admin_check.h"

/* A configuration and shared tables made by hand. */
struct fixture {
	struct conf	*conf;
	struct shm	*shm;
};

static struct fixture	fx;

static void
fixture_make(unsigned npools, unsigned per_pool, unsigned nslots)
{
	unsigned p, i, id = 0, slot;
	struct conf_server *s;
	struct conf_pool *pool;

	fx.conf = calloc(1, sizeof(*fx.conf));
	fx.conf->servers = calloc(npools * per_pool, sizeof(*fx.conf->servers));
	fx.conf->npools = npools;
	fx.conf->nservers = npools * per_pool;
	fx.conf->workers = nslots;
	for (p = 0; p < npools; p++) {
		pool = &fx.conf->pools[p];
		snprintf(pool->name, sizeof(pool->name), p == 0 ? "web" :
		    "pool%u", p);
		pool->id = p;
		pool->algorithm = p == 0 ? ALG_ROUND_ROBIN : ALG_LEAST_CONN;
		pool->health_check = HEALTH_HTTP;
		strcpy(pool->health_path, "/heartbeat");
		pool->servers = &fx.conf->servers[id];
		pool->nservers = per_pool;
		for (i = 0; i < per_pool; i++, id++) {
			s = &fx.conf->servers[id];
			snprintf(s->name, sizeof(s->name), "app%u", id + 1);
			snprintf(s->addr.text, sizeof(s->addr.text),
			    "127.0.0.1:%u", 9001 + id);
			s->weight = i + 1;
			s->id = id;
			s->pool = pool;
		}
	}
	fx.shm = shm_create(7, nslots, fx.conf->nservers, npools);
	ck_assert_ptr_nonnull(fx.shm);
	fx.shm->hdr->supervisor_pid = 4242;
	fx.shm->hdr->restarts = 3;
	fx.shm->hdr->health_pid = 4243;
	fx.shm->hdr->started_ms = 1795309323000LL;
	for (slot = 0; slot < nslots; slot++) {
		fx.shm->slots[slot].pid = (int32_t)(5000 + slot);
		fx.shm->slots[slot].restarts = slot;
		fx.shm->slots[slot].requests = 100 * (slot + 1);
		fx.shm->slots[slot].active_connections = slot;
	}
}

static void
fixture_free(void)
{
	unsigned i;

	for (i = 0; i < fx.conf->nservers; i++)
		free(fx.conf->servers[i].run);
	shm_destroy(fx.shm);
	free(fx.conf->servers);
	free(fx.conf);
	memset(&fx, 0, sizeof(fx));
}

/* Puts traffic in the tables: every slot adds to every server. */
static void
fixture_traffic(void)
{
	struct server_counters *c;
	struct pool_counters *pc;
	unsigned slot, i, k;

	for (slot = 0; slot < fx.shm->hdr->nslots; slot++) {
		for (i = 0; i < fx.conf->nservers; i++) {
			c = shm_server_counters(fx.shm, slot, i);
			c->requests = 10 * (i + 1);
			c->failures = i;
			c->active = 1;
			c->bytes_in = 1000;
			c->bytes_out = 100;
			c->responses[1] = 9 * (i + 1);
			c->responses[4] = i + 1;
		}
		for (i = 0; i < fx.conf->npools; i++) {
			pc = shm_pool_counters(fx.shm, slot, i);
			pc->requests = 40;
			pc->responses[1] = 40;
			for (k = 0; k < SHM_DURATION_BUCKETS; k++)
				pc->duration_buckets[k] = k;
			pc->duration_sum_us = 1500000;
		}
	}
}

static void
set_health(unsigned id, uint32_t state, const char *error)
{
	struct health_snapshot h;

	shm_health_read(&fx.shm->health[id], &h);
	h.state = state;
	h.latency_us = 1234;
	h.last_status = state == SERVER_UP ? 200 : 0;
	h.checks = 17;
	h.checked_ms = 1795309399000LL;
	h.changed_ms = 1795309390000LL;
	memset(h.last_error, 0, sizeof(h.last_error));
	strncpy(h.last_error, error, sizeof(h.last_error) - 1);
	shm_health_write(&fx.shm->health[id], &h);
}

static struct admin_view
view(const double *rates)
{
	struct admin_view v = {
		.conf = fx.conf, .shm = fx.shm, .slot = 1,
		.now_ms = 1795309400000LL, .rates = rates,
	};

	return v;
}

/* Renders with `fn` into a buffer of the computed bound. */
static char *
render(void (*fn)(struct admin_buf *, const struct admin_view *),
    const struct admin_view *v, size_t *lenp)
{
	struct admin_buf b;

	b.cap = admin_page_bound(fx.conf, fx.shm->hdr->nslots);
	b.data = malloc(b.cap + 1);
	b.len = 0;
	b.overflow = false;
	fn(&b, v);
	ck_assert_msg(!b.overflow, "page of %zu bytes overflowed", b.cap);
	b.data[b.len] = '\0';
	if (lenp != NULL)
		*lenp = b.len;
	return b.data;
}

/*
 * The escapers and the buffer.
 */

static char *
escaped(void (*fn)(struct admin_buf *, const char *), const char *s)
{
	static char out[1024];
	struct admin_buf b = { out, 0, sizeof(out) - 1, false };

	fn(&b, s);
	ck_assert(!b.overflow);
	out[b.len] = '\0';
	return out;
}

START_TEST(the_json_reader_is_strict)
{
	static const char *const good[] = {
		"{}", "[]", "0", "-1.5e+3", "\"\"",
		("{\"a\": [1, 2.0, null, true, false, "
		 "{\"b\": \"\\u00e9\\ud83d\\ude9c\"}]}"),
	};
	static const char *const bad[] = {
		"", "{", "{\"a\":}", "{\"a\": 01}", "[1,]", "{\"a\" 1}",
		"\"\x01\"", "\"\x80\"", "\"\\udc00\"", "\"\\ud800x\"",
		"\"\\x41\"", "[1] [2]", "NaN", "1.", "{\"a\": tru}",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(json_valid(good[i]), "rejected: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!json_valid(bad[i]), "accepted: %s", bad[i]);
}
END_TEST

START_TEST(json_strings_are_escaped)
{
	ck_assert_str_eq(escaped(admin_buf_json, "a\"b\\c/d"),
	    "a\\\"b\\\\c/d");
	ck_assert_str_eq(escaped(admin_buf_json, "\n\r\t\x01\x1f\x7f"),
	    "\\n\\r\\t\\u0001\\u001f\\u007f");
	/* Valid UTF-8 passes as it is: 2, 3 and 4 byte forms. */
	ck_assert_str_eq(escaped(admin_buf_json, "caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x9a\x9c"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x9c");
	/* Invalid UTF-8 cannot reach the document: a stray continuation,
	   a truncated sequence, an overlong '/', a surrogate, past U+10FFFF. */
	ck_assert_str_eq(escaped(admin_buf_json, "\x80x"), "\\ufffdx");
	ck_assert_str_eq(escaped(admin_buf_json, "\xe2\x82"), "\\ufffd\\ufffd");
	ck_assert_str_eq(escaped(admin_buf_json, "\xc0\xaf"), "\\ufffd\\ufffd");
	ck_assert_str_eq(escaped(admin_buf_json, "\xed\xa0\x80"),
	    "\\ufffd\\ufffd\\ufffd");
	ck_assert_str_eq(escaped(admin_buf_json, "\xf4\x90\x80\x80"),
	    "\\ufffd\\ufffd\\ufffd\\ufffd");
	ck_assert_str_eq(escaped(admin_buf_json, ""), "");
}
END_TEST

START_TEST(escaped_json_reads_back_as_the_original)
{
	static const char *const samples[] = {
		"plain", "quote\" back\\slash", "ctl\x01\x02\x1b\n\t",
		"\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x9c", "</script>",
	};
	char doc[1200], back[512];
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"s\": \"%s\"}",
		    escaped(admin_buf_json, samples[i]));
		ck_assert_msg(json_valid(doc), "invalid: %s", doc);
		ck_assert(json_get_str(doc, "s", back, sizeof(back)));
		ck_assert_str_eq(back, samples[i]);
	}
}
END_TEST

START_TEST(html_and_label_escapers)
{
	ck_assert_str_eq(escaped(admin_buf_html, "<a href=\"x\">&'</a>"),
	    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
	ck_assert_str_eq(escaped(admin_buf_html, "plain"), "plain");
	ck_assert_str_eq(escaped(admin_buf_label, "a\\b\"c\nd"),
	    "a\\\\b\\\"c\\nd");
}
END_TEST

START_TEST(the_buffer_never_writes_past_its_capacity)
{
	char mem[16];
	struct admin_buf b = { mem, 0, 8, false };

	memset(mem, 'z', sizeof(mem));
	admin_buf_put(&b, "abcd", 4);
	ck_assert(!b.overflow);
	admin_buf_printf(&b, "%s", "0123456789");
	ck_assert(b.overflow);
	ck_assert_uint_eq(b.len, 7);	/* room - 1: snprintf's NUL */
	admin_buf_put(&b, "xyz", 3);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(memcmp(mem, "abcd012x", 8), 0);
	ck_assert_int_eq(mem[8], 'z');
	admin_buf_json(&b, "more");
	admin_buf_html(&b, "<more>");
	admin_buf_label(&b, "\"more\"");
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(mem[8], 'z');
}
END_TEST

/*
 * /stats
 */

START_TEST(stats_is_json_holding_the_tables)
{
	double rates[1 + 2 + 6] = { 12.5, 7.25, 5.25, 1, 2, 3, 4, 5, 6 };
	struct admin_view v;
	char *doc, str[256];

	fixture_make(2, 3, 4);
	fixture_traffic();
	set_health(0, SERVER_UP, "");
	set_health(1, SERVER_DOWN, "connect: Connection refused");
	v = view(rates);
	doc = render(admin_render_stats, &v, NULL);
	ck_assert_msg(json_valid(doc), "invalid JSON:\n%s", doc);
	ck_assert_int_eq(json_get_int(doc, "generation"), 7);
	ck_assert_int_eq(json_get_int(doc, "supervisor.pid"), 4242);
	ck_assert_int_eq(json_get_int(doc, "supervisor.restarts"), 3);
	ck_assert_int_eq(json_get_int(doc, "uptime_seconds"), 77);
	ck_assert_int_eq(json_get_int(doc, "answered_by.pid"), 5001);
	ck_assert_double_eq(json_get_double(doc, "requests_per_second"), 12.5);
	ck_assert_int_eq(json_len(doc, "workers"), 4);
	ck_assert_int_eq(json_get_int(doc, "workers.2.slot"), 2);
	ck_assert_int_eq(json_get_int(doc, "workers.2.pid"), 5002);
	ck_assert_int_eq(json_get_int(doc, "workers.2.restarts"), 2);
	ck_assert_int_eq(json_get_int(doc, "workers.2.requests"), 300);
	ck_assert_int_eq(json_get_int(doc, "workers.2.active_connections"), 2);
	ck_assert_int_eq(json_len(doc, "pools"), 2);
	ck_assert(json_get_str(doc, "pools.0.name", str, sizeof(str)));
	ck_assert_str_eq(str, "web");
	ck_assert(json_get_str(doc, "pools.1.algorithm", str, sizeof(str)));
	ck_assert_str_eq(str, "least_conn");
	ck_assert_int_eq(json_get_int(doc, "pools.0.responses.2xx"), 160);
	ck_assert_double_eq(json_get_double(doc,
	    "pools.1.requests_per_second"), 5.25);
	ck_assert_int_eq(json_len(doc, "pools.0.servers"), 3);
	ck_assert(json_get_str(doc, "pools.0.servers.1.address", str,
	    sizeof(str)));
	ck_assert_str_eq(str, "127.0.0.1:9002");
	ck_assert(json_get_str(doc, "pools.0.servers.1.state", str,
	    sizeof(str)));
	ck_assert_str_eq(str, "down");
	ck_assert(json_get_str(doc, "pools.0.servers.0.state", str,
	    sizeof(str)));
	ck_assert_str_eq(str, "up");
	ck_assert_int_eq(json_get_int(doc, "pools.0.servers.1.weight"), 2);
	ck_assert_int_eq(json_get_int(doc, "pools.0.servers.1.requests"), 80);
	ck_assert_int_eq(json_get_int(doc, "pools.0.servers.1.failures"), 4);
	ck_assert_int_eq(json_get_int(doc,
	    "pools.0.servers.1.active_connections"), 4);
	ck_assert_int_eq(json_get_int(doc, "pools.1.servers.2.requests"), 240);
	ck_assert(json_get_str(doc, "pools.0.servers.1.health.last_error",
	    str, sizeof(str)));
	ck_assert_str_eq(str, "connect: Connection refused");
	ck_assert_double_eq(json_get_double(doc,
	    "pools.0.servers.1.health.last_check_ms"), 1.234);
	ck_assert_ptr_null(json_at(doc, "pools.0.servers.1.managed"));
	free(doc);
	fixture_free();
}
END_TEST

START_TEST(stats_shows_managed_servers_and_unknown_rates)
{
	struct admin_view v;
	char *doc, str[64];

	fixture_make(1, 2, 1);
	fx.conf->servers[1].run = calloc(1, sizeof(struct conf_run));
	fx.shm->managed[1].pid = 777;
	fx.shm->managed[1].restarts = 2;
	fx.shm->managed[1].last_status = 9;	/* killed by SIGKILL */
	v = view(NULL);
	doc = render(admin_render_stats, &v, NULL);
	ck_assert_msg(json_valid(doc), "invalid JSON:\n%s", doc);
	ck_assert_ptr_null(json_at(doc, "pools.0.servers.0.managed"));
	ck_assert_int_eq(json_get_int(doc, "pools.0.servers.1.managed.pid"),
	    777);
	ck_assert_int_eq(json_get_int(doc,
	    "pools.0.servers.1.managed.restarts"), 2);
	ck_assert(json_get_str(doc, "pools.0.servers.1.managed.last_exit",
	    str, sizeof(str)));
	ck_assert_str_eq(str, "killed by signal 9");
	ck_assert_int_eq(strncmp(json_at(doc, "requests_per_second"), "null",
	    4), 0);
	free(doc);
	fixture_free();
}
END_TEST

START_TEST(stats_escapes_names_and_errors)
{
	static const char name[] = "a\"b\\c\x01\xc3\xa9";
	struct admin_view v;
	char *doc, str[256];

	fixture_make(1, 1, 1);
	strlcpy(fx.conf->pools[0].name, "we\"b",
	    sizeof(fx.conf->pools[0].name));
	strlcpy(fx.conf->servers[0].name, name,
	    sizeof(fx.conf->servers[0].name));
	set_health(0, SERVER_DOWN, "bad \xff byte\n\"quoted\"");
	v = view(NULL);
	doc = render(admin_render_stats, &v, NULL);
	ck_assert_msg(json_valid(doc), "invalid JSON:\n%s", doc);
	ck_assert(json_get_str(doc, "pools.0.name", str, sizeof(str)));
	ck_assert_str_eq(str, "we\"b");
	ck_assert(json_get_str(doc, "pools.0.servers.0.name", str,
	    sizeof(str)));
	ck_assert_str_eq(str, name);
	ck_assert(json_get_str(doc, "pools.0.servers.0.health.last_error",
	    str, sizeof(str)));
	ck_assert_str_eq(str, "bad \xef\xbf\xbd byte\n\"quoted\"");
	free(doc);
	fixture_free();
}
END_TEST

/*
 * /metrics
 */

START_TEST(metrics_follow_the_exposition_format)
{
	double rates[1 + 2 + 6] = { 0 };
	struct admin_view v;
	char *text;

	fixture_make(2, 3, 4);
	fixture_traffic();
	set_health(1, SERVER_DOWN, "timeout");
	fx.conf->servers[2].run = calloc(1, sizeof(struct conf_run));
	v = view(rates);
	text = render(admin_render_metrics, &v, NULL);
	ck_assert_int_gt(check_exposition(text), 100);
	ck_assert_double_eq(sample_value(text, "forklift_generation"), 7);
	ck_assert_double_eq(sample_value(text, "forklift_restarts_total"), 3);
	ck_assert_double_eq(sample_value(text,
	    "forklift_worker_restarts_total{slot=\"3\"}"), 3);
	ck_assert_double_eq(sample_value(text,
	    "forklift_worker_active_connections{slot=\"2\"}"), 2);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_up{pool=\"web\",server=\"app2\"}"), 0);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_up{pool=\"web\",server=\"app1\"}"), 1);
	ck_assert_double_eq(sample_value(text,
	    "forklift_requests_total{pool=\"pool1\",server=\"app4\"}"), 160);
	ck_assert_double_eq(sample_value(text, "forklift_responses_total{"
	    "pool=\"web\",server=\"app1\",code=\"2xx\"}"), 36);
	ck_assert_double_eq(sample_value(text, "forklift_responses_total{"
	    "pool=\"web\",server=\"app1\",code=\"5xx\"}"), 4);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_failures_total{pool=\"web\",server=\"app3\"}"), 8);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_bytes_in_total{pool=\"web\",server=\"app3\"}"),
	    4000);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_check_latency_seconds{pool=\"web\","
	    "server=\"app2\"}"), 0.001234);
	ck_assert_double_eq(sample_value(text,
	    "forklift_managed_server_restarts_total{pool=\"web\","
	    "server=\"app3\"}"), 0);
	ck_assert_ptr_null(strstr(text,
	    "forklift_managed_server_running{pool=\"web\",server=\"app1\"}"));
	free(text);
	fixture_free();
}
END_TEST

START_TEST(the_duration_histogram_is_cumulative)
{
	char series[128], *text;
	struct admin_view v;
	double prev = 0, x;
	size_t k;

	fixture_make(2, 1, 4);
	fixture_traffic();
	v = view(NULL);
	text = render(admin_render_metrics, &v, NULL);
	check_exposition(text);
	/* Each of 4 slots holds k requests in bucket k. */
	for (k = 0; k < SHM_DURATION_BUCKETS; k++) {
		if (k < SHM_DURATION_BUCKETS - 1)
			snprintf(series, sizeof(series),
			    "forklift_request_duration_seconds_bucket{"
			    "pool=\"web\",le=\"%g\"}",
			    (double)shm_duration_bounds_us[k] / 1e6);
		else
			snprintf(series, sizeof(series),
			    "forklift_request_duration_seconds_bucket{"
			    "pool=\"web\",le=\"+Inf\"}");
		x = sample_value(text, series);
		ck_assert_double_eq(x, prev + 4.0 * (double)k);
		prev = x;
	}
	ck_assert_double_eq(prev, 4 * 66);
	ck_assert_double_eq(sample_value(text,
	    "forklift_request_duration_seconds_count{pool=\"web\"}"), prev);
	ck_assert_double_eq(sample_value(text,
	    "forklift_request_duration_seconds_sum{pool=\"web\"}"), 6.0);
	ck_assert_ptr_nonnull(strstr(text, "le=\"0.001\"}"));
	ck_assert_ptr_nonnull(strstr(text, "le=\"2.5\"}"));
	free(text);
	fixture_free();
}
END_TEST

START_TEST(metric_labels_are_escaped)
{
	struct admin_view v;
	char *text;

	fixture_make(1, 1, 1);
	strcpy(fx.conf->pools[0].name, "we\"b\\");
	strcpy(fx.conf->servers[0].name, "a\nb");
	v = view(NULL);
	text = render(admin_render_metrics, &v, NULL);
	check_exposition(text);
	ck_assert_double_eq(sample_value(text,
	    "forklift_server_up{pool=\"we\\\"b\\\\\",server=\"a\\nb\"}"), 1);
	free(text);
	fixture_free();
}
END_TEST

/*
 * The HTML page.
 */

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL)
		n++, hay++;
	return n;
}

START_TEST(the_page_shows_pools_servers_and_workers)
{
	double rates[1 + 1 + 3] = { 42.5, 42.5, 10, 20, 12.5 };
	struct admin_view v;
	char *html;

	fixture_make(1, 3, 2);
	fixture_traffic();
	set_health(0, SERVER_UP, "");
	set_health(2, SERVER_DOWN, "connect: Connection refused");
	v = view(rates);
	html = render(admin_render_html, &v, NULL);
	ck_assert_int_eq(strncmp(html, "<!DOCTYPE html>", 15), 0);
	ck_assert_ptr_nonnull(strstr(html, "<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">"));
	ck_assert_ptr_nonnull(strstr(html,
	    "<meta http-equiv=\"refresh\" content=\"2\">"));
	ck_assert_ptr_nonnull(strstr(html, "<td class=\"l\">app1</td>"));
	ck_assert_ptr_nonnull(strstr(html, "<td class=\"l\">app3</td>"));
	ck_assert_int_eq(count(html, "<td class=\"st up\">UP</td>"), 2);
	ck_assert_int_eq(count(html, "<td class=\"st down\">DOWN</td>"), 1);
	ck_assert_ptr_nonnull(strstr(html, "connect: Connection refused"));
	ck_assert_ptr_nonnull(strstr(html, "HTTP 200 in 1.2 ms, 1.0 s ago"));
	ck_assert_ptr_nonnull(strstr(html, "<b>42.5</b> requests/s"));
	ck_assert_ptr_nonnull(strstr(html, "2/3 up"));
	ck_assert_ptr_nonnull(strstr(html, "<td>5001</td>"));
	ck_assert_ptr_nonnull(strstr(html, "generation <b>7</b>"));
	ck_assert_ptr_nonnull(strstr(html, "uptime <b>00:01:17</b>"));
	ck_assert_int_eq(count(html, "<table"), count(html, "</table>"));
	ck_assert_int_eq(count(html, "<tr"), count(html, "</tr>"));
	ck_assert_int_eq(count(html, "<td"), count(html, "</td>"));
	ck_assert_int_eq(count(html, "<th>") + count(html, "<th "),
	    count(html, "</th>"));
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_str_eq(html + strlen(html) - 15, "</body></html>\n");
	free(html);
	fixture_free();
}
END_TEST

START_TEST(the_page_escapes_every_name)
{
	struct admin_view v;
	char *html;

	fixture_make(1, 1, 1);
	strcpy(fx.conf->pools[0].name, "<b>pool</b>");
	strcpy(fx.conf->servers[0].name, "<script>alert(1)</script>");
	strcpy(fx.conf->servers[0].addr.text, "\"a\"&'b'");
	set_health(0, SERVER_DOWN, "<img src=x onerror=alert(2)>");
	v = view(NULL);
	html = render(admin_render_html, &v, NULL);
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_null(strstr(html, "<img"));
	ck_assert_ptr_null(strstr(html, "<b>pool"));
	ck_assert_ptr_nonnull(strstr(html,
	    "&lt;script&gt;alert(1)&lt;/script&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "&quot;a&quot;&amp;&#39;b&#39;"));
	ck_assert_ptr_nonnull(strstr(html, "Pool &lt;b&gt;pool&lt;/b&gt;"));
	free(html);
	fixture_free();
}
END_TEST

/*
 * The page bound: the longest names, every character needing the longest
 * escape, every number at its widest.  Any page must fit.
 */
static void
fixture_worst(char fill)
{
	struct health_snapshot h;
	unsigned i, k;

	memset(&h, 0, sizeof(h));
	h.state = SERVER_DOWN;
	h.passes = h.fails = h.latency_us = h.last_status = UINT32_MAX;
	h.checks = UINT64_MAX;
	h.changed_ms = h.checked_ms = INT64_MIN;
	memset(h.last_error, fill, sizeof(h.last_error) - 1);
	for (i = 0; i < fx.conf->npools; i++) {
		memset(fx.conf->pools[i].name, fill, CONF_NAME_MAX - 1);
		memset(fx.conf->pools[i].health_path, fill, CONF_PATH_MAX - 1);
	}
	for (i = 0; i < fx.conf->nservers; i++) {
		memset(fx.conf->servers[i].name, fill, CONF_NAME_MAX - 1);
		memset(fx.conf->servers[i].addr.text, fill, CONF_ADDR_MAX - 1);
		fx.conf->servers[i].weight = UINT32_MAX;
		fx.conf->servers[i].max_conns = UINT32_MAX;
		fx.conf->servers[i].run = calloc(1, sizeof(struct conf_run));
		fx.shm->managed[i].pid = INT32_MIN;
		fx.shm->managed[i].restarts = UINT32_MAX;
		fx.shm->managed[i].last_status = 0x7f00;
		shm_health_write(&fx.shm->health[i], &h);
	}
	/* Every counter row at its widest. */
	memset(fx.shm->servers, 0xff, (size_t)fx.shm->hdr->nslots *
	    fx.conf->nservers * sizeof(struct server_counters));
	memset(fx.shm->pool_counters, 0xff, (size_t)fx.shm->hdr->nslots *
	    fx.conf->npools * sizeof(struct pool_counters));
	for (k = 0; k < fx.shm->hdr->nslots; k++) {
		memset(&fx.shm->slots[k], 0xff, sizeof(fx.shm->slots[k]));
		fx.shm->slots[k].pid = INT32_MIN;
	}
	fx.shm->hdr->generation = UINT64_MAX;
	fx.shm->hdr->restarts = UINT64_MAX;
	fx.shm->hdr->supervisor_pid = INT32_MIN;
	fx.shm->hdr->health_pid = INT32_MIN;
	fx.shm->hdr->started_ms = 1;
}

START_TEST(every_page_fits_the_bound)
{
	static const unsigned shapes[][3] = {
		{ 1, 1, 1 }, { 16, 1, 1 }, { 1, 64, 1 }, { 1, 1, 64 },
		{ 4, 16, 8 },
	};
	static const char fills[] = { '"', '\x01', '<', '\\' };
	double *rates;
	struct admin_view v;
	size_t i, f, n, bound;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		for (f = 0; f < sizeof(fills); f++) {
			fixture_make(shapes[i][0], shapes[i][1], shapes[i][2]);
			fixture_worst(fills[f]);
			n = 1 + fx.conf->npools + fx.conf->nservers;
			rates = malloc(n * sizeof(*rates));
			while (n-- > 0)
				rates[n] = 1.8e22;	/* 2^64 per ms */
			v = view(rates);
			v.slot = fx.shm->hdr->nslots - 1;
			v.now_ms = INT64_MAX;
			bound = admin_page_bound(fx.conf, fx.shm->hdr->nslots);
			/* render() fails the test on an overflow. */
			free(render(admin_render_stats, &v, &n));
			ck_assert_uint_le(n, bound);
			free(render(admin_render_metrics, &v, &n));
			free(render(admin_render_html, &v, &n));
			free(rates);
			fixture_free();
		}
}
END_TEST

static Suite *
admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *esc = tcase_create("escaping");
	TCase *stats = tcase_create("stats");
	TCase *metrics = tcase_create("metrics");
	TCase *html = tcase_create("html");

	tcase_add_test(esc, the_json_reader_is_strict);
	tcase_add_test(esc, json_strings_are_escaped);
	tcase_add_test(esc, escaped_json_reads_back_as_the_original);
	tcase_add_test(esc, html_and_label_escapers);
	tcase_add_test(esc, the_buffer_never_writes_past_its_capacity);
	suite_add_tcase(s, esc);

	tcase_add_test(stats, stats_is_json_holding_the_tables);
	tcase_add_test(stats, stats_shows_managed_servers_and_unknown_rates);
	tcase_add_test(stats, stats_escapes_names_and_errors);
	tcase_add_test(stats, every_page_fits_the_bound);
	suite_add_tcase(s, stats);

	tcase_add_unchecked_fixture(metrics, regex_setup, NULL);
	tcase_add_test(metrics, metrics_follow_the_exposition_format);
	tcase_add_test(metrics, the_duration_histogram_is_cumulative);
	tcase_add_test(metrics, metric_labels_are_escaped);
	suite_add_tcase(s, metrics);

	tcase_add_test(html, the_page_shows_pools_servers_and_workers);
	tcase_add_test(html, the_page_escapes_every_name);
	suite_add_tcase(s, html);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(admin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
