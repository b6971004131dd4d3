#!/bin/sh
# `make run`: three demo backends and forklift in the foreground with
# etc/forklift.ini.  Ctrl-C stops everything this script started.
# Usage: tests/demo.sh BUILD_DIR
build=${1:-build}
pids=""

stop() {
	trap - INT TERM EXIT
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	echo
	echo "demo stopped"
	exit 0
}
trap stop INT TERM EXIT

for n in 1 2 3; do
	"$build/backend" -n "app$n" -p "900$n" >/dev/null || exit 1 &
	pids="$pids $!"
done

cat <<'TXT'

forklift is starting on 127.0.0.1:8080 (admin on 127.0.0.1:8081),
in front of app1, app2 and app3 on 127.0.0.1:9001-9003.  Try, in another
terminal:

  curl http://127.0.0.1:8080/home            # answered by app1, app2 or app3
  for i in 1 2 3 4 5 6; do curl -s http://127.0.0.1:8080/home; done
  curl http://127.0.0.1:8081/stats           # JSON: pools, servers, workers
  curl http://127.0.0.1:8081/metrics         # Prometheus
  open http://127.0.0.1:8081/                # the status page
  ps -eo pid,args | grep 'forklift: [w]orker'   # then kill -9 one of
                                             # those pids: it comes back
  kill -HUP $(cat /tmp/forklift-demo.pid)    # reload etc/forklift.ini

Ctrl-C stops the demo.

TXT
"$build/forklift" -f -c etc/forklift.ini &
pids="$pids $!"
wait
