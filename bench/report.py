#!/usr/bin/env python3
"""Turns a bench run directory into the results tables (markdown).

  report.py RUN_DIR OUT.md

Reads RUN_DIR/meta, results.tsv, memory.tsv, sup-*.log and failures
(written by bench/run.sh); prints the tables and writes them to OUT.md.
Figures are medians over the rounds; "spread" is the lowest and highest
round.  Ratios compare medians of the same run, a 2-worker target with
the 2-worker variants of the others.
"""

import os
import statistics
import sys

SCENARIOS = {
    "get": "Small GET over keep-alive (6-byte answer)",
    "64k": "64 KiB responses over keep-alive",
    "close": "A new connection per request (Connection: close)",
    "c1000": "1,000 concurrent keep-alive connections (small GET)",
    "post": "1 MiB POST bodies over keep-alive",
}
LABELS = {
    "forklift": "forklift",
    "nginx": "nginx",
    "haproxy": "HAProxy",
    "direct": "direct (one backend)",
    "forklift-2w": "forklift, 2 workers",
    "nginx-2w": "nginx, 2 workers",
    "haproxy-2w": "HAProxy, 2 threads",
}


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def keyvals(line):
    return dict(f.split("=", 1) for f in line.split() if "=" in f)


def load(run):
    meta = {}
    for line in read_lines(os.path.join(run, "meta")):
        k, _, v = line.partition("\t")
        meta[k] = v
    runs = {}
    for line in read_lines(os.path.join(run, "results.tsv"))[1:]:
        s, t, r, figs = line.split("\t", 3)
        runs.setdefault(s, {}).setdefault(t, []).append(keyvals(figs))
    memory = {}
    lines = read_lines(os.path.join(run, "memory.tsv"))
    if lines:
        head = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(head, line.split("\t")))
            memory[row["target"]] = row
    return meta, runs, memory


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def median_of(rounds, key):
    vals = [num(r.get(key)) for r in rounds if r.get("status") == "ok"]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def spread_of(rounds, key):
    vals = [num(r.get(key)) for r in rounds if r.get("status") == "ok"]
    vals = [v for v in vals if v is not None]
    return (min(vals), max(vals)) if vals else None


def f_rps(v):
    return "—" if v is None else f"{v:,.0f}"


def f_ms(v):
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def f_ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}"


def f_mib(kb):
    kb = num(kb)
    return "—" if kb is None else f"{kb / 1024:.1f}"


def peers(t):
    """The HAProxy and nginx targets a target compares with."""
    suffix = "-2w" if t.endswith("-2w") else ""
    return "haproxy" + suffix, "nginx" + suffix


def errors_of(rounds):
    failed = sum(1 for r in rounds if r.get("status") != "ok")
    errs = sum(int(r.get("socket_errors", 0)) + int(r.get("non2xx", 0))
               for r in rounds if r.get("status") == "ok")
    return f"{errs}" + (f", {failed} runs failed" if failed else "")


def scenario_table(s, by_target, memory, meta, out):
    med = {t: median_of(rs, "rps") for t, rs in by_target.items()}
    out.append(f"### {SCENARIOS[s]}")
    out.append("")
    out.append(f"`{meta.get('wrk_' + s, '')}`")
    out.append("")
    out.append("| target | req/s | spread | p50 ms | p99 ms | ×HAProxy "
               "| ×nginx | ×direct | proxy CPU µs/req (% of a core) "
               "| RSS idle / load MiB | errors |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in LABELS:
        if t not in by_target:
            continue
        rs = by_target[t]
        lo_hi = spread_of(rs, "rps")
        ha, ng = peers(t)
        direct = t == "direct"
        cpu = median_of(rs, "cpu_us")
        pct = median_of(rs, "cpu_pct")
        rss_idle = memory.get(t, {}).get("rss_idle_kb")
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |"
                   .format(
                       LABELS[t], f_rps(med[t]),
                       "—" if lo_hi is None else
                       f"{lo_hi[0]:,.0f}–{lo_hi[1]:,.0f}",
                       f_ms(median_of(rs, "p50_ms")),
                       f_ms(median_of(rs, "p99_ms")),
                       "—" if direct else f_ratio(med[t], med.get(ha)),
                       "—" if direct else f_ratio(med[t], med.get(ng)),
                       f_ratio(med[t], med.get("direct")),
                       "—" if cpu is None else f"{cpu:.1f}" + (
                           "" if pct is None else f" ({pct:.0f} %)"),
                       "—" if direct else
                       f"{f_mib(rss_idle)} / "
                       f"{f_mib(median_of(rs, 'rss_kb'))}",
                       errors_of(rs)))
    out.append("")
    other = [num(r.get("core_other_pct")) for t, rs in by_target.items()
             for r in rs if r.get("status") == "ok"]
    other = sorted(v for v in other if v is not None)
    if other:
        out.append(f"Share of the 1-worker proxies' core taken by other "
                   f"processes of the machine during their runs: median "
                   f"{statistics.median(other):.0f} % (from {other[0]:.0f} "
                   f"to {other[-1]:.0f} %).")
        out.append("")


def memory_table(memory, out):
    out.append("### Memory: at rest, and holding 1,000 idle keep-alive "
               "connections")
    out.append("")
    out.append("Sums over all of a proxy's processes. RSS counts shared "
               "pages once per process; PSS divides them among the "
               "processes that share them.")
    out.append("")
    out.append("| target | processes | RSS idle MiB | RSS 1,000 conns MiB "
               "| PSS idle MiB | PSS 1,000 conns MiB | KiB per conn (RSS) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for t in LABELS:
        row = memory.get(t)
        if row is None:
            continue
        conns = int(row["conns"]) or 1
        per = (int(row["rss_conns_kb"]) - int(row["rss_idle_kb"])) / conns
        out.append(f"| {LABELS[t]} | {row['procs']} | "
                   f"{f_mib(row['rss_idle_kb'])} | "
                   f"{f_mib(row['rss_conns_kb'])} | "
                   f"{f_mib(row['pss_idle_kb'])} | "
                   f"{f_mib(row['pss_conns_kb'])} | {per:.1f} |")
    out.append("")


def client_line(run, name, prefix):
    for line in read_lines(os.path.join(run, name)):
        if line.startswith(prefix):
            return keyvals(line)
    return None


def supervision_table(run, meta, out):
    kill = client_line(run, "sup-kill.log", "kills=")
    kill_load = client_line(run, "sup-kill.log", "ok=")
    reload_ = client_line(run, "sup-reload.log", "ok=")
    backend = client_line(run, "sup-backend.log", "ok=")
    if not (kill or reload_ or backend):
        return {}
    out.append("### Supervision under load (forklift, 1 worker)")
    out.append("")
    out.append("Load: bench/client with 8 keep-alive connections and 8 "
               "connections opened per request, each sending its next "
               "request as soon as the answer is in. A GET on a reused "
               "keep-alive connection that the server closed before a "
               "byte of the answer is sent again once, as HTTP clients "
               "do (\"retried\"); every other error is a failed request.")
    out.append("")
    out.append("| figure | value |")
    out.append("|---|---|")
    if kill:
        forked = [num(keyvals(line).get("forked_ms"))
                  for line in read_lines(os.path.join(run, "sup-kill.log"))
                  if line.startswith("kill ")]
        forked = [v for v in forked if v is not None and v > 0]
        out.append(f"| SIGKILL worker 0 → the replacement answers "
                   f"(median of {kill['kills']}) | {kill['median_ms']} ms "
                   f"(min {kill['min_ms']}, max {kill['max_ms']}; "
                   f"stalls over 5 s: {kill['stalls']}) |")
        if forked:
            out.append(f"| SIGKILL → the new worker process exists "
                       f"(median) | {statistics.median(forked):.2f} ms |")
        out.append(f"| requests in flight on the killed worker, failed "
                   f"| {kill['broken']} in {kill['kills']} kills "
                   f"(keep-alive requests retried: "
                   f"{kill_load['retried'] if kill_load else '?'}) |")
        out.append(f"| requests begun after a kill that failed (queued "
                   f"connections lost; must be 0) | {kill['lost']} |")
    if reload_:
        out.append(f"| {meta.get('reloads', '?')} SIGHUP reloads under load: "
                   f"failed requests (must be 0) | {reload_['failed']} "
                   f"(of {int(reload_['ok']) + int(reload_['failed']):,}; "
                   f"retried {reload_['retried']}) |")
    if backend:
        out.append(f"| a backend SIGKILLed under load (health tcp 1 s, "
                   f"retries 2): failed requests (must be 0) | "
                   f"{backend['failed']} (of "
                   f"{int(backend['ok']) + int(backend['failed']):,}; "
                   f"retried {backend['retried']}) |")
    out.append("")
    return {"kill": kill, "reload": reload_, "backend": backend}


def bar_table(runs, memory, sup, out):
    """The figures the issue asks forklift to reach."""
    def med(s, t, key="rps"):
        return median_of(runs.get(s, {}).get(t, []), key)

    rows = []

    def check(what, value, ok, shown):
        if value is None:
            rows.append((what, "not measured", "—"))
        else:
            rows.append((what, shown, "yes" if ok else "**no**"))

    fk, ha, ng = (med("get", t) for t in ("forklift", "haproxy", "nginx"))
    if fk and ha and ng:
        check("small GET req/s ≥ 1.25 × HAProxy", fk, fk >= 1.25 * ha,
              f"{fk / ha:.2f} ×")
        check("small GET req/s ≥ 1.25 × nginx", fk, fk >= 1.25 * ng,
              f"{fk / ng:.2f} ×")
    p = [med("get", t, "p99_ms") for t in ("forklift", "haproxy", "nginx")]
    if None not in p:
        check("small GET p99 no worse than either", p[0],
              p[0] <= min(p[1:]), f"{f_ms(p[0])} ms vs {f_ms(p[1])} "
              f"(HAProxy), {f_ms(p[2])} (nginx)")
    c = [med("get", t, "cpu_us") for t in ("forklift", "haproxy")]
    if None not in c:
        check("small GET CPU/req ≤ 0.75 × HAProxy", c[0],
              c[0] <= 0.75 * c[1], f"{c[0] / c[1]:.2f} × "
              f"({c[0]:.1f} vs {c[1]:.1f} µs)")
    for s, what in (("64k", "64 KiB"), ("post", "1 MiB POST")):
        fk, ha, ng = (med(s, t) for t in ("forklift", "haproxy", "nginx"))
        if fk and ha and ng:
            best = max(ha, ng)
            check(f"{what} req/s ≥ 1.0 × the better of the two", fk,
                  fk >= best, f"{fk / best:.2f} ×")
    m = [memory.get(t) for t in ("forklift", "haproxy")]
    if None not in m:
        a, b = int(m[0]["rss_conns_kb"]), int(m[1]["rss_conns_kb"])
        check("RSS with 1,000 idle connections ≤ HAProxy's", a, a <= b,
              f"{f_mib(a)} vs {f_mib(b)} MiB")
    kill = sup.get("kill")
    if kill:
        v = num(kill["median_ms"])
        check("worker replacement under load: median < 10 ms", v,
              v is not None and 0 <= v < 10, f"{kill['median_ms']} ms")
        check("no connection queued on the killed worker lost",
              kill["lost"], kill["lost"] == "0", f"{kill['lost']} lost")
    for key, what in (("reload", "SIGHUP reload under load: 0 failed"),
                      ("backend", "backend killed under load: 0 failed")):
        if sup.get(key):
            check(what, 1, sup[key]["failed"] == "0",
                  f"{sup[key]['failed']} failed")
    if not rows:
        return
    out.append("### forklift against the bar")
    out.append("")
    out.append("| criterion | forklift | met |")
    out.append("|---|---|---|")
    for what, shown, ok in rows:
        out.append(f"| {what} | {shown} | {ok} |")
    out.append("")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    run, dest = argv[1], argv[2]
    meta, runs, memory = load(run)
    out = ["# forklift against nginx and HAProxy", ""]
    rounds, warmup = meta.get("rounds", "?"), meta.get("warmup", "0")
    out.append(f"Measured {meta.get('date', '?')} with "
               f"`{meta.get('command')}`: {rounds} interleaved "
               f"round{'' if rounds == '1' else 's'} of "
               f"{meta.get('seconds')} s per scenario, "
               + ("no warm-up." if warmup == "0" else
                  f"after {warmup} s of warm-up per target."))
    out.append("")
    for k, label in (("kernel", "Linux"), ("cpu", "CPU"),
                     ("memory", "memory"), ("forklift", "forklift"),
                     ("nginx", "nginx"), ("haproxy", "HAProxy"),
                     ("wrk", "wrk"), ("pinning", "pinning")):
        out.append(f"- {label}: {meta.get(k, '?')}")
    out.append(f"- load average before / after: {meta.get('load_before')} / "
               f"{meta.get('load_after', '?')}")
    out.append("- backends: one nginx, one worker, three ports; the "
               "proxies balance round-robin over the three with upstream "
               "keep-alive (nginx `keepalive 32`, HAProxy's default "
               "`http-reuse safe`, forklift's default pool)")
    out.append("")
    out.append("Figures are medians over the rounds; spread is the lowest "
               "and the highest round. Ratios are of median req/s in this "
               "run (a 2-worker row against the other 2-worker rows). "
               "Proxy CPU is utime + stime of all the proxy's processes "
               "over the run, divided by the requests; in brackets, that "
               "time over the length of the run. A 1-worker proxy near "
               "100 % was bound by its own CPU cost; well below, it was "
               "waiting for wrk and the backends or for a core shared "
               "with other processes, and its req/s says more about the "
               "machine than about the proxy. Errors are wrk's socket "
               "errors plus answers ≥ 400 over all rounds.")
    out.append("")
    for s in SCENARIOS:
        if s in runs:
            scenario_table(s, runs[s], memory, meta, out)
    if memory:
        memory_table(memory, out)
    sup = supervision_table(run, meta, out)
    bar_table(runs, memory, sup, out)
    failures = read_lines(os.path.join(run, "failures"))
    if failures:
        out.append("### Failures")
        out.append("")
        out.extend(f"- {line}" for line in failures)
        out.append("")
    text = "\n".join(out)
    print(text)
    with open(dest, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
