#!/bin/bash
# bench/run.sh: `make bench`.  forklift against nginx and HAProxy, side by
# side, in one run, over the same three nginx backends; then forklift's
# supervision under load.  Prints the tables and writes them to
# bench/results/latest.md (raw figures: bench/results/latest.tsv).
#
# Usage: bench/run.sh BUILD_DIR        (from the repo root; make bench)
#
# Settings (environment):
#   BENCH_ROUNDS=5     interleaved rounds per scenario (A B C D, A B C D ...)
#   BENCH_SECONDS=3    length of one wrk run
#   BENCH_WARMUP=1     seconds of unrecorded warm-up per target and scenario
#   BENCH_KILLS=20     worker kills for the replacement figure
#   BENCH_QUICK=1      a smoke run: 1 round of 1 s, 5 kills, no warm-up
#   BENCH_SCENARIOS    a subset of: get 64k close c1000 post
#   BENCH_TARGETS      a subset of: forklift nginx haproxy direct
#                      forklift-2w nginx-2w haproxy-2w
#   BENCH_PROXY_CPU=0  the core of the 1-worker proxies
#   BENCH_LOAD_CPU=1   the core of wrk, the backends and the clients
#   BENCH_KEEP=1       keep the run directory (kept anyway on failure)
#
# The single-worker proxies run on one core (0), wrk, the backends and the
# bench clients on another (1), so every proxy gets one core and the same
# load; the 2-worker variants are not pinned.  Every process is started here, in a
# run directory under /tmp, on 127.0.0.1 ports probed at run time, and is
# stopped by pid at exit.  Any wrk socket error or non-2xx answer, any
# failed check and any failed request in the supervision figures fails the
# run (exit status 1) after everything has been measured.

set -u
export LC_ALL=C

bench=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$bench/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac

# The command as given, for the results.
bench_command=""
for v in BENCH_QUICK BENCH_ROUNDS BENCH_SECONDS BENCH_WARMUP BENCH_KILLS \
    BENCH_SCENARIOS BENCH_TARGETS BENCH_PROXY_CPU BENCH_LOAD_CPU; do
	[ -n "${!v:-}" ] && bench_command="$bench_command$v='${!v}' "
done
bench_command="${bench_command}make bench"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	: "${BENCH_ROUNDS:=1}" "${BENCH_SECONDS:=1}" "${BENCH_KILLS:=5}"
	: "${BENCH_WARMUP:=0}"
fi
rounds=${BENCH_ROUNDS:-5}
secs=${BENCH_SECONDS:-3}
warmup=${BENCH_WARMUP:-1}
kills=${BENCH_KILLS:-20}
scenarios=${BENCH_SCENARIOS:-get 64k close c1000 post}
targets=${BENCH_TARGETS:-forklift nginx haproxy direct \
    forklift-2w nginx-2w haproxy-2w}

# Longest a wrk run may overrun its -d before it counts as a stall.
WRK_GRACE=30
# Connections of the idle-memory figure.
IDLE_CONNS=1000
# What in a log means trouble: an alert, a crash, a sanitizer report.
LOG_TROUBLE='\[(alert|emerg|crit)\]|AddressSanitizer|runtime error:'
LOG_TROUBLE="$LOG_TROUBLE|Segmentation fault|core dumped"

die() {
	echo "bench: $*" >&2
	exit 1
}

# Installs what is missing (as root), or says what to install.
deps() {
	local missing="" pair
	for pair in wrk:wrk nginx:nginx haproxy:haproxy python3:python3 \
	    taskset:util-linux cc:build-essential timeout:coreutils; do
		command -v "${pair%%:*}" >/dev/null 2>&1 ||
		    missing="$missing ${pair#*:}"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" = 0 ]; then
		echo "installing:$missing"
		apt-get update -qq &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    $missing >/dev/null || die "apt-get install$missing failed"
	else
		echo "missing packages; run as root:"
		echo "  apt-get install$missing"
		exit 1
	fi
}

deps
[ -x "$build/forklift" ] || die "$build/forklift is missing: run make"
for n in $rounds $secs $warmup $kills; do
	case $n in
	'' | *[!0-9]*) die "BENCH_* settings take whole numbers" ;;
	esac
done
[ "$rounds" -ge 1 ] && [ "$secs" -ge 1 ] || die "need 1 round of 1 s at least"

# wrk, the proxies and the idle-memory client hold thousands of sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 16384 ] ||
    die "need 16384 open files (ulimit -n), have $(ulimit -n)"

run=$(mktemp -d "${TMPDIR:-/tmp}/bench-run.XXXXXX") || die "mktemp failed"
# nginx's workers run as nobody when started as root: let them in.
chmod 755 "$run"
started=""		# pids of every process started here
failures=0
: >"$run/failures"

fail() {
	echo "FAIL: $*" | tee -a "$run/failures" >&2
	failures=$((failures + 1))
}

# The pid and all its descendants.
tree_pids() {
	local level=$1 next p
	while [ -n "$level" ]; do
		echo $level
		next=""
		for p in $level; do
			next="$next $(cat /proc/"$p"/task/*/children \
			    2>/dev/null)"
		done
		level=$(echo $next)
	done
}

# True if one of the pids is running (a zombie is not).
alive() {
	local p st
	for p; do
		st=$(sed 's/.*) \(.\).*/\1/' /proc/"$p"/stat 2>/dev/null) ||
		    continue
		[ -n "$st" ] && [ "$st" != Z ] && return 0
	done
	return 1
}

# Stops one process started here and whatever it forked: SIGTERM, then
# SIGKILL after 5 s for what is left; then forgets the pid.  (stderr off:
# bash would report a killed job there.)
stop_pid() {
	local pid=$1 all p i
	all=$(tree_pids "$pid")
	{
		kill -TERM "$pid"
		for i in $(seq 50); do
			alive $all || break
			sleep 0.1
		done
		for p in $all; do
			alive "$p" && kill -KILL "$p"
		done
		wait "$pid"
	} 2>/dev/null
	forget "$pid"
}

# Drops a pid that has been waited for from the list cleanup() stops.
forget() {
	local p rest=""
	for p in $started; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	started=$rest
}

cleanup() {
	local p
	trap - EXIT INT TERM HUP PIPE
	trap '' PIPE
	for p in $started; do
		stop_pid "$p"
	done
	if [ "$failures" -gt 0 ] || [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: run directory kept: $run"
	else
		rm -rf "$run"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# on CPU COMMAND...: runs COMMAND pinned to CPU unless it is "-".
on() {
	local cpu=$1
	shift
	if [ "$cpu" = - ]; then
		exec "$@"
	else
		exec taskset -c "$cpu" "$@"
	fi
}

# start NAME CPU COMMAND...: runs COMMAND in the background (see on()),
# output to $run/NAME.log; sets $pid.
start() {
	local name=$1
	shift
	(on "$@") >"$run/$name.log" 2>&1 &
	pid=$!
	started="$started $pid"
}

wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# render TEMPLATE OUT KEY=VALUE...: @KEY@ becomes VALUE.
render() {
	local in=$1 out=$2 kv script=""
	shift 2
	for kv in "$@"; do
		script="$script;s|@${kv%%=*}@|${kv#*=}|g"
	done
	sed -e "${script#;}" "$in" >"$out"
}

# Ports free now on 127.0.0.1, bound and released together so they differ.
free_ports() {
	python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# CPUs: the proxies' core and the load's core.
if [ "$(nproc)" -ge 2 ]; then
	cpu_proxy=${BENCH_PROXY_CPU:-0}
	cpu_load=${BENCH_LOAD_CPU:-1}
	[ "$cpu_proxy" != "$cpu_load" ] ||
	    die "BENCH_PROXY_CPU and BENCH_LOAD_CPU must differ"
else
	cpu_proxy=-
	cpu_load=-
	echo "bench: one CPU only: nothing is pinned, figures are rough" >&2
fi

# Builds the precise client (bench/client.c) next to forklift.
mkdir -p "$build/bench" || die "cannot create $build/bench"
cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -o "$build/bench/client" "$bench/client.c" ||
    die "cannot build bench/client.c"
client=$build/bench/client

# shellcheck source=bench/servers.sh
. "$bench/servers.sh"
# shellcheck source=bench/scenarios.sh
. "$bench/scenarios.sh"
# shellcheck source=bench/supervision.sh
. "$bench/supervision.sh"

record_meta
start_backends
start_proxies
check_targets
measure_memory
for s in $scenarios; do
	run_scenario "$s"
done
stop_proxies
measure_supervision
check_logs

mkdir -p "$bench/results"
python3 "$bench/report.py" "$run" "$bench/results/latest.md" ||
    fail "report.py failed"
cp "$run/results.tsv" "$bench/results/latest.tsv"
echo
echo "written: bench/results/latest.md (raw figures: bench/results/latest.tsv)"
if [ "$failures" -gt 0 ]; then
	echo
	echo "bench: $failures failure(s):"
	cat "$run/failures"
	exit 1
fi
exit 0
