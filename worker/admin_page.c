/*
 * The HTML status page served at /: every pool with its servers (state in
 * colour and in words, weight, traffic, last health check), the workers,
 * the generation, uptime and request rates.  Plain HTML and CSS: it works
 * without JavaScript, refreshes itself every 2 seconds, and on a narrow
 * screen its tables scroll sideways instead of squeezing.  Every name that
 * comes from the configuration or a peer is escaped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "worker/admin.h"

static const char page_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\">\n"
    "<meta http-equiv=\"refresh\" content=\"2\">\n"
    "<title>forklift status</title>\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,-apple-system,\"Segoe UI\",sans-serif;"
    "margin:0;padding:8px 12px;color:#1d1d1f;"
    "background:#f6f6f8}\n"
    "h1{font-size:1.5em;margin:.2em 0}\n"
    "h2{font-size:1.15em;margin:1.4em 0 .4em}\n"
    "h2 small{font-weight:normal;color:#555;margin-left:.5em}\n"
    ".summary{display:flex;flex-wrap:wrap;gap:.3em 1.5em;margin:.3em 0}\n"
    ".summary b{font-weight:600}\n"
    ".scroll{display:inline-block;max-width:100%;overflow-x:auto;"
    "-webkit-overflow-scrolling:touch;border:1px solid #ccc;"
    "background:#fff;vertical-align:top}\n"
    "table{border-collapse:collapse}\n"
    "th,td{padding:4px 6px;border-bottom:1px solid #e2e2e6;"
    "text-align:right;white-space:nowrap}\n"
    "th{background:#e8e8f0;font-weight:600}\n"
    ".l{text-align:left}\n"
    /* The free-text cells wrap, so the table fits a 1200 px window. */
    ".w{text-align:left;white-space:normal;min-width:9em}\n"
    "td.st{font-weight:700;text-align:center;color:#fff;"
    "letter-spacing:.05em}\n"
    "td.st.up{background:#2e8b3e}\n"
    "td.st.down{background:#c62828}\n"
    "tr.down td{background:#fdecea}\n"
    "tr.down td.st{background:#c62828}\n"
    ".err{color:#b00020}\n"
    ".me{font-weight:700}\n"
    "footer{margin:1.5em 0 .5em;color:#666;font-size:.9em}\n"
    "@media (max-width:600px){body{font-size:13px;padding:4px 6px}"
    "th,td{padding:3px 5px}}\n"
    "</style></head>\n<body>\n";

/* "123.4", or "-" before the first rates are known. */
static void
put_rate(struct admin_buf *b, const struct admin_view *v, size_t k)
{
	if (v->rates == NULL)
		admin_buf_put(b, "-", 1);
	else
		admin_buf_printf(b, "%.1f", v->rates[k]);
}

static void
put_bytes(struct admin_buf *b, uint64_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	double x = (double)n / 1024;
	int u = 0;

	if (n < 1024) {
		admin_buf_printf(b, "%" PRIu64 " B", n);
		return;
	}
	while (x >= 1024 && u < 5) {
		x /= 1024;
		u++;
	}
	admin_buf_printf(b, "%.1f %s", x, units[u]);
}

/* A time span for people: "0.4 s", "12 s", "5 min", "3 h 20 min", "2 d". */
static void
put_age(struct admin_buf *b, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 10000)
		admin_buf_printf(b, "%.1f s", (double)ms / 1000.0);
	else if (s < 120)
		admin_buf_printf(b, "%" PRId64 " s", s);
	else if (s < 3600)
		admin_buf_printf(b, "%" PRId64 " min", s / 60);
	else if (s < 86400)
		admin_buf_printf(b, "%" PRId64 " h %" PRId64 " min", s / 3600,
		    s % 3600 / 60);
	else
		admin_buf_printf(b, "%" PRId64 " d %" PRId64 " h", s / 86400,
		    s % 86400 / 3600);
}

/* Milliseconds from `then` to the page's time; 0 if unknown or ahead. */
static int64_t
age_ms(const struct admin_view *v, int64_t then)
{
	return then > 0 && then < v->now_ms ? v->now_ms - then : 0;
}

static void
put_uptime(struct admin_buf *b, int64_t ms)
{
	int64_t s = ms / 1000;

	if (s >= 86400)
		admin_buf_printf(b, "%" PRId64 "d ", s / 86400);
	admin_buf_printf(b, "%02d:%02d:%02d", (int)(s % 86400 / 3600),
	    (int)(s % 3600 / 60), (int)(s % 60));
}

static void
html_summary(struct admin_buf *b, const struct admin_view *v)
{
	const struct shm_header *h = v->shm->hdr;

	admin_buf_printf(b, "<header><h1>forklift</h1>\n"
	    "<div class=\"summary\">"
	    "<span>generation <b>%" PRIu64 "</b></span>"
	    "<span>uptime <b>", h->generation);
	put_uptime(b, admin_uptime_ms(v));
	admin_buf_printf(b, "</b></span><span><b>");
	put_rate(b, v, 0);
	admin_buf_printf(b, "</b> requests/s</span>"
	    "<span>supervisor pid <b>%d</b></span>"
	    "<span>restarts <b>%" PRIu64 "</b></span>"
	    "<span>health checker pid <b>%d</b></span></div>\n"
	    "</header>\n<main>\n", (int)atomic_load(&h->supervisor_pid),
	    atomic_load(&h->restarts), (int)atomic_load(&h->health_pid));
}

static void
html_footer(struct admin_buf *b, const struct admin_view *v)
{
	time_t now = (time_t)(v->now_ms / 1000);
	char when[64] = "";
	struct tm tm;
	int pid = 0;

	/* strftime leaves `when` undefined on failure: show no time. */
	if (gmtime_r(&now, &tm) != NULL &&
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		when[0] = '\0';
	if (v->slot < v->shm->hdr->nslots)
		pid = (int)atomic_load(&v->shm->slots[v->slot].pid);
	admin_buf_printf(b, "</main>\n<footer>Answered by worker %u (pid %d) "
	    "at %s; this page refreshes every 2 seconds.</footer>\n"
	    "</body></html>\n", v->slot, pid, when);
}

/* The "last check" cell: outcome, latency and age. */
static void
html_check(struct admin_buf *b, const struct admin_view *v,
    const struct conf_pool *p, const struct health_snapshot *h)
{
	admin_buf_printf(b, "<td class=\"w\">");
	if (p->health_check == HEALTH_OFF)
		admin_buf_printf(b, "off");
	else if (h->checks == 0)
		admin_buf_printf(b, "not yet");
	else {
		if (h->last_error[0] != '\0') {
			admin_buf_printf(b, "<span class=\"err\">");
			admin_buf_html(b, h->last_error);
			admin_buf_printf(b, "</span>");
		} else if (h->last_status != 0)
			admin_buf_printf(b, "HTTP %u", h->last_status);
		else
			admin_buf_printf(b, "ok");
		admin_buf_printf(b, h->last_error[0] != '\0' ?
		    " after %.1f ms, " : " in %.1f ms, ",
		    h->latency_us / 1000.0);
		put_age(b, age_ms(v, h->checked_ms));
		admin_buf_printf(b, " ago");
	}
	admin_buf_printf(b, "</td>");
}

static void
html_managed(struct admin_buf *b, const struct conf_server *s,
    const struct admin_server_figures *f)
{
	char exit[64];

	admin_buf_printf(b, "<td class=\"w\">");
	if (s->run != NULL) {
		if (f->pid > 0)
			admin_buf_printf(b, "pid %d", f->pid);
		else
			admin_buf_printf(b, "<span class=\"err\">%s</span>",
			    f->given_up ? "given up" : "not running");
		admin_buf_printf(b, ", %u restarts", f->restarts);
		admin_exit_text(exit, sizeof(exit), f->last_exit);
		if (exit[0] != '\0') {
			admin_buf_printf(b, ", last ");
			admin_buf_html(b, exit);
		}
	}
	admin_buf_printf(b, "</td>");
}

static void
html_server(struct admin_buf *b, const struct admin_view *v,
    const struct conf_server *s, bool managed)
{
	struct admin_server_figures f;
	const char *state;
	size_t k;

	admin_read_server(v, s, &f);
	state = admin_state_name(f.health.state);
	admin_buf_printf(b, "<tr class=\"%s\"><td class=\"l\">", state);
	admin_buf_html(b, s->name);
	admin_buf_printf(b, "</td><td class=\"l\">");
	admin_buf_html(b, s->addr.text);
	admin_buf_printf(b, "</td><td class=\"st %s\">%s</td><td>%u</td>"
	    "<td>%" PRIu64 "</td><td>", state, f.health.state == SERVER_UP ?
	    "UP" : "DOWN", s->weight, f.active);
	put_rate(b, v, 1 + v->conf->npools + s->id);
	admin_buf_printf(b, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td>",
	    f.requests, f.failures);
	for (k = 1; k < SHM_STATUS_CLASSES; k++)
		admin_buf_printf(b, "<td>%" PRIu64 "</td>", f.responses[k]);
	admin_buf_printf(b, "<td>");
	put_bytes(b, f.bytes_in);
	admin_buf_printf(b, "</td><td>");
	put_bytes(b, f.bytes_out);
	admin_buf_printf(b, "</td>");
	html_check(b, v, s->pool, &f.health);
	/* A server never changed has been in its state since the start. */
	admin_buf_printf(b, "<td>");
	put_age(b, age_ms(v, f.health.changed_ms > 0 ? f.health.changed_ms :
	    atomic_load(&v->shm->hdr->started_ms)));
	admin_buf_printf(b, "</td>");
	if (managed)
		html_managed(b, s, &f);
	admin_buf_printf(b, "</tr>\n");
}

static void
html_pool(struct admin_buf *b, const struct admin_view *v,
    const struct conf_pool *p)
{
	struct admin_pool_figures f;
	bool managed = false;
	unsigned i, up = 0;
	size_t k;

	admin_read_pool(v, p, &f);
	for (i = 0; i < p->nservers; i++) {
		up += shm_server_is_up(v->shm, p->servers[i].id);
		managed |= p->servers[i].run != NULL;
	}
	admin_buf_printf(b, "<section class=\"pool\"><h2>Pool ");
	admin_buf_html(b, p->name);
	admin_buf_printf(b, " <small>%s &middot; %u/%u up &middot; ",
	    conf_algorithm_name(p->algorithm), up, p->nservers);
	put_rate(b, v, 1 + p->id);
	admin_buf_printf(b, "&nbsp;requests/s &middot; %" PRIu64
	    "&nbsp;requests", f.requests);
	for (k = 1; k < SHM_STATUS_CLASSES; k++)
		admin_buf_printf(b, " &middot; %s %" PRIu64, admin_classes[k],
		    f.responses[k]);
	admin_buf_printf(b, "</small></h2>\n<div class=\"scroll\"><table>\n"
	    "<thead><tr><th class=\"l\">Server</th><th class=\"l\">Address"
	    "</th><th>State</th><th>Weight</th><th>Active</th><th>Req/s</th>"
	    "<th>Requests</th><th>Failures</th><th>2xx</th><th>3xx</th>"
	    "<th>4xx</th><th>5xx</th><th>In</th><th>Out</th>"
	    "<th class=\"l\">Last check (");
	admin_buf_html(b, admin_check_name(p));
	admin_buf_printf(b, ")</th><th>In state for</th>%s</tr></thead>\n"
	    "<tbody>\n", managed ? "<th class=\"l\">Process</th>" : "");
	for (i = 0; i < p->nservers; i++)
		html_server(b, v, &p->servers[i], managed);
	admin_buf_printf(b, "</tbody></table></div></section>\n");
}

static void
html_workers(struct admin_buf *b, const struct admin_view *v)
{
	const struct slot_row *w;
	unsigned slot;
	int pid;

	admin_buf_printf(b, "<section><h2>Workers</h2>\n"
	    "<div class=\"scroll\"><table>\n<thead><tr><th>Slot</th>"
	    "<th>PID</th><th>Restarts</th><th>Active connections</th>"
	    "<th>Requests</th><th>Accepted</th><th>Rejected</th></tr>"
	    "</thead>\n<tbody>\n");
	for (slot = 0; slot < v->shm->hdr->nslots; slot++) {
		w = &v->shm->slots[slot];
		pid = (int)atomic_load(&w->pid);
		admin_buf_printf(b, "<tr%s><td>%u</td><td>", slot == v->slot ?
		    " class=\"me\" title=\"this worker answered\"" : "", slot);
		if (pid > 0)
			admin_buf_printf(b, "%d", pid);
		else
			admin_buf_printf(b, "<span class=\"err\">none</span>");
		admin_buf_printf(b, "</td><td>%u</td><td>%" PRIu64 "</td>"
		    "<td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
		    "</td></tr>\n", (unsigned)atomic_load(&w->restarts),
		    atomic_load(&w->active_connections),
		    atomic_load(&w->requests), atomic_load(&w->accepted),
		    atomic_load(&w->rejected));
	}
	admin_buf_printf(b, "</tbody></table></div></section>\n");
}

void
admin_render_html(struct admin_buf *b, const struct admin_view *v)
{
	unsigned i;

	admin_buf_put(b, page_head, sizeof(page_head) - 1);
	html_summary(b, v);
	for (i = 0; i < v->conf->npools; i++)
		html_pool(b, v, &v->conf->pools[i]);
	html_workers(b, v);
	html_footer(b, v);
}
