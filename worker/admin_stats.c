/*
 * The admin's machine-readable documents, /stats (JSON) and /metrics
 * (Prometheus text format 0.0.4), the figures every page reads from the
 * shared tables, and the bound on a page's size.  No I/O and no
 * allocation, so the unit tests render from tables they fill by hand.
 */
#include <sys/wait.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "worker/admin.h"

/*
 * Bounds of each part of a page, in bytes: the most any of the three
 * pages writes for it with names, addresses and errors at their longest
 * and every character escaped, and every counter at UINT64_MAX (the unit
 * tests render such tables and check that they fit).
 */
#define PAGE_FIXED		16384	/* heads, CSS, metric families */
#define PAGE_PER_SLOT		1024
#define PAGE_PER_POOL		8192
#define PAGE_PER_SERVER		6144

const char *const admin_classes[SHM_STATUS_CLASSES] = {
	"1xx", "2xx", "3xx", "4xx", "5xx",
};

size_t
admin_page_bound(const struct conf *conf, unsigned nslots)
{
	return PAGE_FIXED + (size_t)nslots * PAGE_PER_SLOT +
	    (size_t)conf->npools * PAGE_PER_POOL +
	    (size_t)conf->nservers * PAGE_PER_SERVER;
}

static uint64_t
load(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

void
admin_read_server(const struct admin_view *v, const struct conf_server *s,
    struct admin_server_figures *f)
{
	const struct shm *shm = v->shm;
	const struct managed_row *m = &shm->managed[s->id];
	size_t k;

	shm_health_read(&shm->health[s->id], &f->health);
	f->health.last_error[SHM_ERROR_MAX - 1] = '\0';
#define SUM(field)	shm_server_sum(shm, s->id, \
			    offsetof(struct server_counters, field))
	f->active = SUM(active);
	f->requests = SUM(requests);
	f->failures = SUM(failures);
	f->bytes_in = SUM(bytes_in);
	f->bytes_out = SUM(bytes_out);
	for (k = 0; k < SHM_STATUS_CLASSES; k++)
		f->responses[k] = shm_server_sum(shm, s->id,
		    offsetof(struct server_counters, responses) +
		    k * sizeof(f->responses[0]));
#undef SUM
	f->pid = atomic_load_explicit(&m->pid, memory_order_relaxed);
	f->restarts = atomic_load_explicit(&m->restarts, memory_order_relaxed);
	f->last_exit = atomic_load_explicit(&m->last_status,
	    memory_order_relaxed);
	f->given_up = atomic_load_explicit(&m->given_up,
	    memory_order_relaxed) != 0;
}

void
admin_read_pool(const struct admin_view *v, const struct conf_pool *p,
    struct admin_pool_figures *f)
{
	const struct pool_counters *c;
	unsigned slot;
	size_t k;

	memset(f, 0, sizeof(*f));
	for (slot = 0; slot < v->shm->hdr->nslots; slot++) {
		c = shm_pool_counters(v->shm, slot, p->id);
		f->requests += load(&c->requests);
		for (k = 0; k < SHM_STATUS_CLASSES; k++)
			f->responses[k] += load(&c->responses[k]);
		for (k = 0; k < SHM_DURATION_BUCKETS; k++)
			f->buckets[k] += load(&c->duration_buckets[k]);
		f->sum_us += load(&c->duration_sum_us);
	}
}

const char *
admin_state_name(uint32_t state)
{
	return state == SERVER_UP ? "up" : "down";
}

/* "exit status 1", "killed by signal 9"; "" if it never exited. */
void
admin_exit_text(char *buf, size_t len, int32_t status)
{
	if (status == -1)
		buf[0] = '\0';
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %d", (int)status);
}

const char *
admin_check_name(const struct conf_pool *p)
{
	if (p->health_check == HEALTH_TCP)
		return "tcp";
	if (p->health_check == HEALTH_OFF)
		return "off";
	return p->health_path;
}

int64_t
admin_uptime_ms(const struct admin_view *v)
{
	int64_t started = atomic_load_explicit(&v->shm->hdr->started_ms,
	    memory_order_relaxed);

	return started > 0 && v->now_ms > started ? v->now_ms - started : 0;
}

/* The pid of the worker answering, as the supervisor recorded it. */
static int
own_pid(const struct admin_view *v)
{
	if (v->slot >= v->shm->hdr->nslots)
		return 0;
	return (int)atomic_load(&v->shm->slots[v->slot].pid);
}

/*
 * /stats
 */

static void
json_str(struct admin_buf *b, const char *key, const char *value)
{
	admin_buf_printf(b, "\"%s\": \"", key);
	admin_buf_json(b, value);
	admin_buf_put(b, "\"", 1);
}

static void
json_rate(struct admin_buf *b, const struct admin_view *v, size_t k)
{
	if (v->rates == NULL)
		admin_buf_printf(b, "\"requests_per_second\": null");
	else
		admin_buf_printf(b, "\"requests_per_second\": %.3f",
		    v->rates[k]);
}

static void
json_classes(struct admin_buf *b, const uint64_t *counts)
{
	size_t k;

	admin_buf_printf(b, "\"responses\": {");
	for (k = 0; k < SHM_STATUS_CLASSES; k++)
		admin_buf_printf(b, "%s\"%s\": %" PRIu64, k > 0 ? ", " : "",
		    admin_classes[k], counts[k]);
	admin_buf_put(b, "}", 1);
}

static void
json_server(struct admin_buf *b, const struct admin_view *v,
    const struct conf_server *s)
{
	struct admin_server_figures f;
	char exit[64];

	admin_read_server(v, s, &f);
	admin_buf_printf(b, "{");
	json_str(b, "name", s->name);
	admin_buf_printf(b, ", ");
	json_str(b, "address", s->addr.text);
	admin_buf_printf(b, ", \"state\": \"%s\", \"weight\": %u, "
	    "\"active_connections\": %" PRIu64 ", \"requests\": %" PRIu64
	    ", \"failures\": %" PRIu64 ", \"max_connections\": %u, "
	    "\"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 ", ",
	    admin_state_name(f.health.state), s->weight, f.active, f.requests,
	    f.failures, s->max_conns, f.bytes_in, f.bytes_out);
	json_rate(b, v, 1 + v->conf->npools + s->id);
	admin_buf_printf(b, ", ");
	json_classes(b, f.responses);
	admin_buf_printf(b, ",\n      \"health\": {\"last_check_ms\": %.3f, "
	    "\"last_status\": %u, ", f.health.latency_us / 1000.0,
	    f.health.last_status);
	json_str(b, "last_error", f.health.last_error);
	admin_buf_printf(b, ", \"checks\": %" PRIu64 ", \"passes\": %u, "
	    "\"fails\": %u, \"checked_at_ms\": %" PRId64 ", "
	    "\"changed_at_ms\": %" PRId64 "}", f.health.checks,
	    f.health.passes, f.health.fails, f.health.checked_ms,
	    f.health.changed_ms);
	if (s->run != NULL) {
		admin_exit_text(exit, sizeof(exit), f.last_exit);
		admin_buf_printf(b, ",\n      \"managed\": {\"pid\": %d, "
		    "\"restarts\": %u, \"given_up\": %s, \"last_exit\": ",
		    f.pid, f.restarts, f.given_up ? "true" : "false");
		if (exit[0] == '\0')
			admin_buf_printf(b, "null}");
		else {
			admin_buf_put(b, "\"", 1);
			admin_buf_json(b, exit);
			admin_buf_put(b, "\"}", 2);
		}
	}
	admin_buf_put(b, "}", 1);
}

static void
json_pool(struct admin_buf *b, const struct admin_view *v,
    const struct conf_pool *p)
{
	struct admin_pool_figures f;
	unsigned i;

	admin_read_pool(v, p, &f);
	admin_buf_printf(b, "{");
	json_str(b, "name", p->name);
	admin_buf_printf(b, ", \"algorithm\": \"%s\", ",
	    conf_algorithm_name(p->algorithm));
	json_str(b, "health_check", admin_check_name(p));
	admin_buf_printf(b, ", \"requests\": %" PRIu64 ", ", f.requests);
	json_rate(b, v, 1 + p->id);
	admin_buf_printf(b, ", ");
	json_classes(b, f.responses);
	admin_buf_printf(b, ",\n    \"servers\": [");
	for (i = 0; i < p->nservers; i++) {
		admin_buf_printf(b, "%s\n     ", i > 0 ? "," : "");
		json_server(b, v, &p->servers[i]);
	}
	admin_buf_printf(b, "]}");
}

static void
json_workers(struct admin_buf *b, const struct admin_view *v)
{
	const struct slot_row *w;
	unsigned slot;

	admin_buf_printf(b, "  \"workers\": [");
	for (slot = 0; slot < v->shm->hdr->nslots; slot++) {
		w = &v->shm->slots[slot];
		admin_buf_printf(b, "%s\n    {\"slot\": %u, \"pid\": %d, "
		    "\"restarts\": %u, \"active_connections\": %" PRIu64 ", "
		    "\"requests\": %" PRIu64 ", \"accepted\": %" PRIu64 ", "
		    "\"rejected\": %" PRIu64 "}", slot > 0 ? "," : "", slot,
		    (int)atomic_load(&w->pid), (unsigned)atomic_load(
		    &w->restarts), load(&w->active_connections),
		    load(&w->requests), load(&w->accepted), load(&w->rejected));
	}
	admin_buf_printf(b, "],\n");
}

void
admin_render_stats(struct admin_buf *b, const struct admin_view *v)
{
	const struct shm_header *h = v->shm->hdr;
	unsigned i;

	admin_buf_printf(b, "{\"generation\": %" PRIu64 ",\n  \"now_ms\": %"
	    PRId64 ", \"started_ms\": %" PRId64 ", \"uptime_seconds\": %"
	    PRId64 ",\n  \"answered_by\": {\"slot\": %u, \"pid\": %d},\n  ",
	    h->generation, v->now_ms, (int64_t)atomic_load(&h->started_ms),
	    admin_uptime_ms(v) / 1000, v->slot, own_pid(v));
	json_rate(b, v, 0);
	admin_buf_printf(b, ",\n  \"supervisor\": {\"pid\": %d, "
	    "\"restarts\": %" PRIu64 "},\n  \"health_checker\": {\"pid\": %d},"
	    "\n", (int)atomic_load(&h->supervisor_pid), load(&h->restarts),
	    (int)atomic_load(&h->health_pid));
	json_workers(b, v);
	admin_buf_printf(b, "  \"pools\": [");
	for (i = 0; i < v->conf->npools; i++) {
		admin_buf_printf(b, "%s\n   ", i > 0 ? "," : "");
		json_pool(b, v, &v->conf->pools[i]);
	}
	admin_buf_printf(b, "]}\n");
}

/*
 * /metrics
 */

static void
family(struct admin_buf *b, const char *name, const char *type,
    const char *help)
{
	admin_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* `name{pool="P",server="S"`: the caller closes the label set. */
static void
series(struct admin_buf *b, const char *name, const struct conf_server *s)
{
	admin_buf_printf(b, "%s{pool=\"", name);
	admin_buf_label(b, s->pool->name);
	admin_buf_put(b, "\",server=\"", 10);
	admin_buf_label(b, s->name);
	admin_buf_put(b, "\"", 1);
}

/* Per-server counters that are one field of struct server_counters. */
static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 offset;
} server_fields[] = {
	{ "forklift_requests_total", "counter",
	  "Requests sent to the server, retries included.",
	  offsetof(struct server_counters, requests) },
	{ "forklift_server_active_connections", "gauge",
	  "Requests in flight to the server now.",
	  offsetof(struct server_counters, active) },
	{ "forklift_server_failures_total", "counter",
	  "Connect errors, resets and timeouts talking to the server.",
	  offsetof(struct server_counters, failures) },
	{ "forklift_server_bytes_in_total", "counter",
	  "Bytes received from the server.",
	  offsetof(struct server_counters, bytes_in) },
	{ "forklift_server_bytes_out_total", "counter",
	  "Bytes sent to the server.",
	  offsetof(struct server_counters, bytes_out) },
};

static void
metrics_server_counters(struct admin_buf *b, const struct admin_view *v)
{
	const struct conf *conf = v->conf;
	size_t f, k;
	unsigned i;

	for (f = 0; f < sizeof(server_fields) / sizeof(server_fields[0]);
	    f++) {
		family(b, server_fields[f].name, server_fields[f].type,
		    server_fields[f].help);
		for (i = 0; i < conf->nservers; i++) {
			series(b, server_fields[f].name, &conf->servers[i]);
			admin_buf_printf(b, "} %" PRIu64 "\n",
			    shm_server_sum(v->shm, i,
			    server_fields[f].offset));
		}
	}
	family(b, "forklift_responses_total", "counter",
	    "Responses from the server, by status class.");
	for (i = 0; i < conf->nservers; i++)
		for (k = 0; k < SHM_STATUS_CLASSES; k++) {
			series(b, "forklift_responses_total",
			    &conf->servers[i]);
			admin_buf_printf(b, ",code=\"%s\"} %" PRIu64 "\n",
			    admin_classes[k], shm_server_sum(v->shm, i,
			    offsetof(struct server_counters, responses) +
			    k * sizeof(uint64_t)));
		}
}

static void
metrics_server_health(struct admin_buf *b, const struct admin_view *v)
{
	const struct conf *conf = v->conf;
	struct health_snapshot h;
	unsigned i;

	family(b, "forklift_server_up", "gauge",
	    "1 if the server is up, 0 if it is down.");
	for (i = 0; i < conf->nservers; i++) {
		series(b, "forklift_server_up", &conf->servers[i]);
		admin_buf_printf(b, "} %d\n", shm_server_is_up(v->shm, i));
	}
	family(b, "forklift_server_check_latency_seconds", "gauge",
	    "Duration of the last health check of the server.");
	for (i = 0; i < conf->nservers; i++) {
		shm_health_read(&v->shm->health[i], &h);
		series(b, "forklift_server_check_latency_seconds",
		    &conf->servers[i]);
		admin_buf_printf(b, "} %.6f\n", h.latency_us / 1e6);
	}
	family(b, "forklift_server_checks_total", "counter",
	    "Health checks of the server.");
	for (i = 0; i < conf->nservers; i++) {
		shm_health_read(&v->shm->health[i], &h);
		series(b, "forklift_server_checks_total", &conf->servers[i]);
		admin_buf_printf(b, "} %" PRIu64 "\n", h.checks);
	}
}

static void
metrics_managed(struct admin_buf *b, const struct admin_view *v)
{
	const struct conf *conf = v->conf;
	const struct managed_row *m;
	unsigned i, n = 0;

	for (i = 0; i < conf->nservers; i++)
		n += conf->servers[i].run != NULL;
	if (n == 0)
		return;
	family(b, "forklift_managed_server_running", "gauge",
	    "1 while the process of a managed server runs.");
	for (i = 0; i < conf->nservers; i++) {
		if (conf->servers[i].run == NULL)
			continue;
		m = &v->shm->managed[i];
		series(b, "forklift_managed_server_running", &conf->servers[i]);
		admin_buf_printf(b, "} %d\n", atomic_load(&m->pid) > 0);
	}
	family(b, "forklift_managed_server_restarts_total", "counter",
	    "Restarts of the process of a managed server.");
	for (i = 0; i < conf->nservers; i++) {
		if (conf->servers[i].run == NULL)
			continue;
		m = &v->shm->managed[i];
		series(b, "forklift_managed_server_restarts_total",
		    &conf->servers[i]);
		admin_buf_printf(b, "} %u\n", (unsigned)atomic_load(
		    &m->restarts));
	}
}

static void
pool_label(struct admin_buf *b, const char *name, const struct conf_pool *p)
{
	admin_buf_printf(b, "%s{pool=\"", name);
	admin_buf_label(b, p->name);
	admin_buf_put(b, "\"", 1);
}

static void
metrics_pool_counts(struct admin_buf *b, const struct admin_view *v)
{
	struct admin_pool_figures f;
	unsigned i;
	size_t k;

	family(b, "forklift_pool_requests_total", "counter",
	    "Client requests routed to the pool.");
	for (i = 0; i < v->conf->npools; i++) {
		admin_read_pool(v, &v->conf->pools[i], &f);
		pool_label(b, "forklift_pool_requests_total",
		    &v->conf->pools[i]);
		admin_buf_printf(b, "} %" PRIu64 "\n", f.requests);
	}
	family(b, "forklift_pool_responses_total", "counter",
	    "Responses to the pool's clients, by status class.");
	for (i = 0; i < v->conf->npools; i++) {
		admin_read_pool(v, &v->conf->pools[i], &f);
		for (k = 0; k < SHM_STATUS_CLASSES; k++) {
			pool_label(b, "forklift_pool_responses_total",
			    &v->conf->pools[i]);
			admin_buf_printf(b, ",code=\"%s\"} %" PRIu64 "\n",
			    admin_classes[k], f.responses[k]);
		}
	}
}

/* The shared table counts each request in one bucket; Prometheus wants
   each bucket to count every request at or under its bound. */
#define DURATION	"forklift_request_duration_seconds"
static void
metrics_durations(struct admin_buf *b, const struct admin_view *v)
{
	const struct conf_pool *p;
	struct admin_pool_figures f;
	uint64_t sum;
	unsigned i;
	size_t k;

	family(b, DURATION, "histogram", "Time from a request's first byte "
	    "to the last byte of its response, per pool.");
	for (i = 0; i < v->conf->npools; i++) {
		p = &v->conf->pools[i];
		admin_read_pool(v, p, &f);
		for (k = 0, sum = 0; k < SHM_DURATION_BUCKETS; k++) {
			sum += f.buckets[k];
			pool_label(b, DURATION "_bucket", p);
			if (k < SHM_DURATION_BUCKETS - 1)
				admin_buf_printf(b, ",le=\"%g\"} %" PRIu64
				    "\n", (double)shm_duration_bounds_us[k] /
				    1e6, sum);
			else
				admin_buf_printf(b, ",le=\"+Inf\"} %" PRIu64
				    "\n", sum);
		}
		pool_label(b, DURATION "_sum", p);
		admin_buf_printf(b, "} %.6f\n", (double)f.sum_us / 1e6);
		pool_label(b, DURATION "_count", p);
		admin_buf_printf(b, "} %" PRIu64 "\n", sum);
	}
}
#undef DURATION

static void
metrics_workers(struct admin_buf *b, const struct admin_view *v)
{
	const struct slot_row *w = v->shm->slots;
	unsigned n = v->shm->hdr->nslots, i;

	family(b, "forklift_worker_restarts_total", "counter",
	    "Times the worker of a slot was restarted.");
	for (i = 0; i < n; i++)
		admin_buf_printf(b, "forklift_worker_restarts_total"
		    "{slot=\"%u\"} %u\n", i, (unsigned)atomic_load(
		    &w[i].restarts));
	family(b, "forklift_worker_active_connections", "gauge",
	    "Client connections open in the worker of a slot.");
	for (i = 0; i < n; i++)
		admin_buf_printf(b, "forklift_worker_active_connections"
		    "{slot=\"%u\"} %" PRIu64 "\n", i,
		    load(&w[i].active_connections));
	family(b, "forklift_worker_requests_total", "counter",
	    "Client requests handled by the worker of a slot.");
	for (i = 0; i < n; i++)
		admin_buf_printf(b, "forklift_worker_requests_total"
		    "{slot=\"%u\"} %" PRIu64 "\n", i, load(&w[i].requests));
}

void
admin_render_metrics(struct admin_buf *b, const struct admin_view *v)
{
	const struct shm_header *h = v->shm->hdr;

	family(b, "forklift_generation", "gauge",
	    "Configuration generation being served.");
	admin_buf_printf(b, "forklift_generation %" PRIu64 "\n",
	    h->generation);
	family(b, "forklift_restarts_total", "counter",
	    "Worker and health checker restarts since the supervisor began.");
	admin_buf_printf(b, "forklift_restarts_total %" PRIu64 "\n",
	    load(&h->restarts));
	family(b, "forklift_start_time_seconds", "gauge",
	    "When the supervisor began, in seconds since the epoch.");
	admin_buf_printf(b, "forklift_start_time_seconds %.3f\n",
	    (double)atomic_load(&h->started_ms) / 1000.0);
	family(b, "forklift_uptime_seconds", "gauge",
	    "Seconds since the supervisor began.");
	admin_buf_printf(b, "forklift_uptime_seconds %.3f\n",
	    (double)admin_uptime_ms(v) / 1000.0);
	metrics_workers(b, v);
	metrics_pool_counts(b, v);
	metrics_durations(b, v);
	metrics_server_counters(b, v);
	metrics_server_health(b, v);
	metrics_managed(b, v);
}
