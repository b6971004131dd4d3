#!/usr/bin/env python3
"""What `make bench` reads from /proc and from wrk.

  measure.py snap PID
      one line: the process tree under PID (PID and all its descendants):
      procs=N rss_kb=SUM pss_kb=SUM cpu_ticks=SUM (utime + stime)
  measure.py run [--tree PID] [--core N] --raw FILE -- COMMAND...
      runs COMMAND (a wrk with bench/wrk/summary.lua), samples the tree's
      VmRSS every SAMPLE_S while it runs, reads its CPU time before and
      after, and prints one line of key=value figures; wrk's own output
      goes to FILE.  With --core, the tree is pinned to CPU N, and the
      time N spent on other processes is reported too (a shared machine
      shows there).  Exit status 1 if wrk said nothing usable.
"""

import os
import subprocess
import sys
import time

# How often the tree's RSS is sampled during a run.
SAMPLE_S = 0.1
# Descendants deeper than this are not followed (forklift and nginx have 2).
MAX_DEPTH = 4
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def children(pid):
    """Direct children of pid, from each of its threads' children file."""
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        text = read(f"/proc/{pid}/task/{tid}/children")
        if text:
            kids.extend(int(x) for x in text.split())
    return kids


def tree(root):
    """root and its descendants, root first."""
    pids, level = [root], [root]
    for _ in range(MAX_DEPTH):
        level = [k for p in level for k in children(p)]
        if not level:
            break
        pids.extend(level)
    return pids


def cpu_ticks(pid):
    stat = read(f"/proc/{pid}/stat")
    if stat is None:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def status_kb(pid, key, path="status"):
    text = read(f"/proc/{pid}/{path}")
    if text is None:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def snap(root):
    pids = tree(root)
    return {
        "procs": len(pids),
        "rss_kb": sum(status_kb(p, "VmRSS") for p in pids),
        "pss_kb": sum(status_kb(p, "Pss", "smaps_rollup") for p in pids),
        "cpu_ticks": sum(cpu_ticks(p) for p in pids),
    }


def core_ticks(core):
    """(busy, total) ticks of CPU core from /proc/stat."""
    for line in (read("/proc/stat") or "").splitlines():
        f = line.split()
        if f and f[0] == f"cpu{core}":
            t = [int(x) for x in f[1:]]
            idle = t[3] + t[4]  # idle, iowait
            return sum(t) - idle, sum(t)
    return 0, 0


def parse_wrk(text):
    for line in text.splitlines():
        if line.startswith("BENCH "):
            return {k: int(v) for k, v in
                    (f.split("=") for f in line.split()[1:])}
    return None


def tree_ticks(root):
    """CPU ticks of each process in the tree under root, by pid."""
    return {p: cpu_ticks(p) for p in tree(root)} if root else {}


def run(root, core, raw, command):
    cpu0 = tree_ticks(root)
    busy0, total0 = core_ticks(core) if core is not None else (0, 0)
    t0 = time.monotonic()
    rss_max = 0
    with open(raw, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if root:
                rss_max = max(rss_max, sum(status_kb(p, "VmRSS")
                                           for p in tree(root)))
            time.sleep(SAMPLE_S)
    # A process that ended during the run takes its last ticks with it;
    # one that started counts from zero.
    cpu1 = tree_ticks(root)
    ticks = sum(max(0, t - cpu0.get(p, 0)) for p, t in cpu1.items())
    busy1, total1 = core_ticks(core) if core is not None else (0, 0)
    wall = time.monotonic() - t0
    w = parse_wrk(read(raw) or "")
    if w is None or w["requests"] == 0:
        print(f"status=failed rc={proc.returncode} (see {raw})")
        return 1
    errors = w["connect"] + w["read"] + w["write"] + w["timeout"]
    secs = w["duration_us"] / 1e6
    fig = {
        "requests": w["requests"],
        "rps": round(w["requests"] / secs, 1),
        "p50_ms": round(w["p50_us"] / 1e3, 3),
        "p99_ms": round(w["p99_us"] / 1e3, 3),
        "socket_errors": errors,
        "non2xx": w["status"],
        "errdetail": "connect:{connect},read:{read},write:{write},"
                     "timeout:{timeout}".format(**w),
        "cpu_us": (round(ticks * 1e6 / TICKS_PER_S / w["requests"], 2)
                   if root else "-"),
        "cpu_pct": (round(ticks * 100 / TICKS_PER_S / wall, 1)
                    if root else "-"),
        "core_other_pct": (round(max(0, (busy1 - busy0) - ticks) *
                                 100 / (total1 - total0), 1)
                           if core is not None and total1 > total0
                           else "-"),
        "rss_kb": rss_max if root else "-",
    }
    print("status=ok " + " ".join(f"{k}={v}" for k, v in fig.items()))
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "snap":
        print(" ".join(f"{k}={v}" for k, v in snap(int(argv[2])).items()))
        return 0
    if len(argv) > 4 and argv[1] == "run" and "--" in argv:
        opts, command = argv[2:argv.index("--")], argv[argv.index("--") + 1:]
        root, core, raw = 0, None, None
        while len(opts) >= 2:
            if opts[0] == "--tree":
                root = int(opts[1])
            elif opts[0] == "--core":
                core = int(opts[1])
            elif opts[0] == "--raw":
                raw = opts[1]
            else:
                break
            opts = opts[2:]
        if raw and not opts and command:
            return run(root, core, raw, command)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
