#!/bin/sh
# `make run`: forklift in the foreground with etc/forklift.ini.  Its three
# demo backends are managed servers (run= in the file): forklift starts,
# restarts and stops them itself, so this script starts one process and
# the demo is one process tree.  Ctrl-C stops forklift, which stops all of
# it.  Run from the top of the repository, where run= finds build/backend.
# Usage: tests/demo.sh BUILD_DIR
build=${1:-build}
conf=etc/forklift.ini
ports="8080 8081 9001 9002 9003"

# Another build dir: the managed servers run its backend, not build/'s.
if [ "$build" != build ]; then
	conf=$(mktemp /tmp/forklift-demo.XXXXXX) || exit 1
	trap 'rm -f "$conf"' EXIT
	sed "s|run=\"build/backend|run=\"$build/backend|" etc/forklift.ini \
	    >"$conf" || exit 1
fi

cat <<'TXT'

forklift is starting on 127.0.0.1:8080 (admin on 127.0.0.1:8081), and it
runs app1, app2 and app3 (build/backend) on 127.0.0.1:9001-9003 itself.
Try, in another terminal:

  curl http://127.0.0.1:8080/home            # answered by app1, app2 or app3
  for i in 1 2 3 4 5 6; do curl -s http://127.0.0.1:8080/home; done
  curl http://127.0.0.1:8081/stats           # JSON: pools, servers, workers
  curl http://127.0.0.1:8081/metrics         # Prometheus
  open http://127.0.0.1:8081/                # the status page

  # kill -9 a backend: forklift starts a new one at once, and health
  # checks bring it back up; its new pid and "restarts" are in /stats
  ps -eo pid,args | grep '[b]ackend -n app'
  kill -9 PID
  curl -s http://127.0.0.1:8081/stats | grep -o '"managed": {[^}]*}'

  # the same for a worker (the supervisor forks a new one)
  ps -eo pid,args | grep 'forklift: [w]orker'
  kill -HUP $(cat /tmp/forklift-demo.pid)    # reload etc/forklift.ini

Ctrl-C stops the demo: forklift, its workers and the backends.

TXT

# Ctrl-C reaches forklift, which stops everything; the script waits for it.
trap ':' INT
"$build/forklift" -f -c "$conf"
status=$?

# Whatever still answers on the demo's ports outlived forklift.
left=""
if command -v curl >/dev/null; then
	for p in $ports; do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/" &&
		    left="$left $p"
	done
fi
echo
if [ -n "$left" ]; then
	echo "demo stopped, but something still answers on port(s):$left"
	exit 1
fi
echo "demo stopped: nothing left on ports $ports"
[ "$status" -eq 0 ] || [ "$status" -eq 130 ]
