#!/bin/sh
# The daemon under valgrind's memcheck, every process of it (supervisor,
# worker, health checker), through a short load with errors mixed in:
# requests served, 404s from the server, malformed requests (400), a dead
# server (503: never reached), a server the checker marks down (503), one
# that never answers (504), POST bodies, and clients that give up halfway
# (while the server delays, and in the middle of a large body).  Passes when no process reports a memory error or a
# definite leak, no log holds an [alert], and the worker holds as many
# descriptors after 10,000 such requests as after the warm-up.
#
# usage: tests/valgrind/test_valgrind.sh BUILD_DIR   (from the repo root)
# Ends with "N passed, N failed"; exits non-zero on any failure.  The temp
# dir is kept (and named) when something failed.
build=${1:?usage: test_valgrind.sh BUILD_DIR}
forklift=$build/forklift
backend=$build/backend
passed=0
failed=0
pids=""
dir=""

# Requests of the measured load, by kind; 10,000 in all.
N_OK=5500
N_404=1500
N_DEAD=1000	# a server that refuses connections: 503, never reached
N_DOWN=500	# the only server is down for the checker: 503
N_504=100	# a server that never answers (server_timeout)
N_400=500
N_POST=800
N_ABORT=100	# half while the server delays, half inside a body

pass() {
	printf 'ok: %s\n' "$1"
	passed=$((passed + 1))
}

fail() {
	printf 'FAIL: %s\n' "$1"
	failed=$((failed + 1))
}

finish() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -z "$dir" ]; then
		:
	elif [ "$failed" -eq 0 ]; then
		rm -rf "$dir"
	else
		printf 'kept %s\n' "$dir"
	fi
	printf '%d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ]
	exit
}

command -v valgrind >/dev/null 2>&1 || {
	echo "valgrind is not installed"; fail "valgrind found"; finish; }
command -v curl >/dev/null 2>&1 || {
	echo "curl is not installed"; fail "curl found"; finish; }
dir=$(mktemp -d /tmp/forklift-valgrind-XXXXXX) || exit 1

# Polls `cmd` every 0.1 s until it succeeds or $1 seconds pass.
wait_for() {
	secs=$1
	shift
	tries=$((secs * 10))
	while [ "$tries" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# Starts a backend named $1 with its port written to $dir/$1.port.
start_backend() {
	"$backend" -n "$1" -p 0 -q -P "$dir/$1.port" $2 >/dev/null &
	pids="$pids $!"
	wait_for 5 test -s "$dir/$1.port" || {
		fail "backend $1 starts"; finish; }
}

# A port that was free a moment ago: a backend's, once it is gone.
# Prints nothing if the backend did not start.
free_port() {
	"$backend" -n probe -p 0 -q -P "$dir/probe.port" >/dev/null &
	probe=$!
	wait_for 5 test -s "$dir/probe.port" && cat "$dir/probe.port"
	kill "$probe"
	wait "$probe" 2>/dev/null
	rm -f "$dir/probe.port"
}

start_backend app
app_port=$(cat "$dir/app.port")
start_backend hung -H
hung_port=$(cat "$dir/hung.port")
dead_port=$(free_port)
port=$(free_port)
dead_listen=$(free_port)
hung_listen=$(free_port)
down_listen=$(free_port)
admin=$(free_port)
ports="$app_port $hung_port $dead_port $port $dead_listen $hung_listen"
ports="$ports $down_listen $admin"
if [ "$(echo $ports | wc -w)" -ne 8 ] ||
    [ -n "$(printf '%s\n' $ports | sort | uniq -d)" ]; then
	fail "eight distinct free ports: $ports"
	finish
fi

# keepalive_timeout is short so that idle upstream connections are gone
# when the descriptors are counted; client_timeout closes what a client
# abandoned.
cat >"$dir/forklift.ini" <<EOF
[global]
workers = 1
daemon = no
pidfile = $dir/forklift.pid
error_log = $dir/error.log
shutdown_timeout = 5s

[listen]
bind = 127.0.0.1:$port
pool = web
client_timeout = 2s

[listen dead]
bind = 127.0.0.1:$dead_listen
pool = dead

[listen hung]
bind = 127.0.0.1:$hung_listen
pool = hung

[listen down]
bind = 127.0.0.1:$down_listen
pool = down

[admin]
bind = 127.0.0.1:$admin

[pool web]
health_check = off
keepalive = 8
keepalive_timeout = 300ms
server = app 127.0.0.1:$app_port

[pool dead]
health_check = off
retries = 0
server = gone 127.0.0.1:$dead_port

[pool hung]
health_check = off
server_timeout = 100ms
server = hung 127.0.0.1:$hung_port

[pool down]
health_check = tcp
health_interval = 200ms
health_timeout = 100ms
health_fall = 1
server = down 127.0.0.1:$dead_port
EOF

valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --trace-children=yes --num-callers=30 \
    --log-file="$dir/valgrind.%p" \
    "$forklift" -f -c "$dir/forklift.ini" >>"$dir/error.log" 2>&1 &
sup=$!
pids="$pids $sup"

stats() {
	curl -s -m 5 "http://127.0.0.1:$admin/stats" | tr -d '\n'
}
if wait_for 60 curl -sf -m 2 "http://127.0.0.1:$admin/stats"; then
	pass "forklift starts under valgrind"
else
	fail "forklift starts under valgrind"
	finish
fi
worker=$(stats |
    sed -n 's/.*"workers": *\[ *{"slot": 0, "pid": \([0-9]*\).*/\1/p')
checker=$(stats | sed -n 's/.*"health_checker": {"pid": \([0-9]*\)}.*/\1/p')
if [ -n "$worker" ] && [ -d "/proc/$worker/fd" ] && [ -n "$checker" ]; then
	pass "worker $worker and health checker $checker found"
else
	fail "worker and health checker found in /stats"
	finish
fi

# Requests to URL$N for N in 1..$2 (one curl, keep-alive), with the
# curl options after the URL; one line per request appended to $1: the
# status code, and curl's exit status (28: it gave up at its -m).  Each
# curl gets its own file: lines of curls side by side would mix.
codes() {
	out=$1
	n=$2
	url=$3
	shift 3
	curl -s -o /dev/null -w '%{http_code} %{exitcode}\n' -m 10 "$@" \
	    "$url[1-$n]" >>"$out" 2>/dev/null
}

# One round of the mixed load, each kind $1 times its share / 100; curl
# runs several kinds side by side, so the worker juggles them, and the
# codes are gathered in $2.  (Only the curls are waited for: the daemon
# and the backends run on.)
load() {
	scale=$1
	out=$2
	base=http://127.0.0.1
	rm -f "$out" "$out".*
	codes "$out.1" $((N_OK * scale / 100)) "$base:$port/home?n=" &
	w=$!
	codes "$out.2" $((N_404 * scale / 100)) "$base:$port/missing?n=" &
	w="$w $!"
	codes "$out.3" $((N_DEAD * scale / 100)) "$base:$dead_listen/home?n=" &
	w="$w $!"
	codes "$out.4" $((N_504 * scale / 100)) "$base:$hung_listen/home?n=" &
	w="$w $!"
	wait $w
	codes "$out.5" $((N_DOWN * scale / 100)) "$base:$down_listen/home?n=" &
	w=$!
	# A space before the colon: 400, and the proxy closes.
	codes "$out.6" $((N_400 * scale / 100)) "$base:$port/home?n=" \
	    -H 'X-Bad : 1' &
	w="$w $!"
	codes "$out.7" $((N_POST * scale / 100)) "$base:$port/upload?n=" \
	    --data-binary "@$dir/forklift.ini" &
	w="$w $!"
	# Clients that give up: before the answer, and inside a body.
	codes "$out.8" $((N_ABORT * scale / 200)) \
	    "$base:$port/home?delay=2000&n=" -m 0.1 &
	w="$w $!"
	codes "$out.9" $((N_ABORT * scale / 200)) \
	    "$base:$port/bytes/1000000000?n=" -m 0.3 &
	w="$w $!"
	wait $w
	cat "$out".* >"$out"
}

# Each kind answered as it should ($1 the codes file, $2 the scale, $3
# the round's name).  Aborted ones show 000 (nothing yet) or 200 (inside
# the body), with curl's status 28 (timed out).
check_codes() {
	file=$1
	scale=$2
	bad=""
	for want in "200 0 $(((N_OK + N_POST) * scale / 100))" \
	    "404 0 $((N_404 * scale / 100))" "504 0 $((N_504 * scale / 100))" \
	    "503 0 $(((N_DEAD + N_DOWN) * scale / 100))" \
	    "400 0 $((N_400 * scale / 100))" \
	    "000 28 $((N_ABORT * scale / 200))" \
	    "200 28 $((N_ABORT * scale / 200))"; do
		code=${want% *}
		n=${want##* }
		got=$(grep -c "^$code\$" "$file")
		[ "$got" -eq "$n" ] || bad="$bad [$code]:$got/$n"
	done
	if [ -z "$bad" ]; then
		pass "$3: $(wc -l <"$file") requests answered as expected"
	else
		fail "$3: unexpected answers ([code curl-status]:got/want):$bad"
		sort "$file" | uniq -c
	fi
}

fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# The worker's descriptor count once it settled: idle upstream
# connections expired (keepalive_timeout), abandoned clients timed out,
# and the count the same twice a second apart; with $1, until it is $1
# (20 s at most).
settle() {
	sleep 1
	a=$(fds "$worker")
	tries=20
	while [ "$tries" -gt 0 ]; do
		sleep 1
		b=$(fds "$worker")
		if [ "$a" -eq "$b" ] && { [ -z "$1" ] || [ "$b" -eq "$1" ]; }
		then
			break
		fi
		a=$b
		tries=$((tries - 1))
	done
	echo "$b"
}

# The down pool's server must be down before 503 is what it answers.
wait_for 30 sh -c "curl -s -m 2 http://127.0.0.1:$admin/stats |
    tr -d '\n' | grep -q '\"name\": \"down\"[^}]*\"state\": \"down\"'" ||
    fail "the down server is marked down"

# Warm-up with a tenth of the load: every path, every buffer cache.
load 10 "$dir/warmup"
check_codes "$dir/warmup" 10 "warm-up"
fd_before=$(settle)
sup_before=$(fds "$sup")

load 100 "$dir/load"
check_codes "$dir/load" 100 "load"
fd_after=$(settle "$fd_before")
sup_after=$(fds "$sup")
fd_text="$fd_before after warm-up, $fd_after after the load"
if [ "$fd_before" -eq "$fd_after" ]; then
	pass "worker descriptors: $fd_text"
else
	fail "worker descriptors: $fd_text"
	ls -l "/proc/$worker/fd"
fi
if [ "$sup_before" -eq "$sup_after" ]; then
	pass "supervisor descriptors: $sup_before, $sup_after"
else
	fail "supervisor descriptors: $sup_before, then $sup_after"
fi
if kill -0 "$worker" 2>/dev/null && kill -0 "$checker" 2>/dev/null; then
	pass "worker and health checker still the same processes"
else
	fail "a child died under the load (see $dir/error.log)"
fi

# Graceful stop, so every process exits and valgrind writes its summary.
kill -QUIT "$sup"
tries=600
while kill -0 "$sup" 2>/dev/null && [ "$tries" -gt 0 ]; do
	sleep 0.1
	tries=$((tries - 1))
done
if kill -0 "$sup" 2>/dev/null; then
	fail "forklift stops on SIGQUIT within 60 s"
	kill -KILL "$sup"
fi
wait "$sup"
status=$?
if [ "$status" -eq 0 ]; then
	pass "supervisor exit status 0"
else
	fail "supervisor exit status $status"
fi

# One valgrind log per process: the supervisor, the worker, the checker.
nlogs=0
for log in "$dir"/valgrind.*; do
	[ -e "$log" ] || continue
	nlogs=$((nlogs + 1))
	p=${log##*.}
	if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
		fail "valgrind, pid $p: $(grep 'ERROR SUMMARY' "$log" ||
		    echo 'no summary (killed?)')"
		sed -n '/^==[0-9]*== [A-Z].*/,$p' "$log" | head -n 60
	elif grep -q 'definitely lost: [1-9]' "$log"; then
		fail "valgrind, pid $p: $(grep 'definitely lost' "$log")"
	else
		heap=$(sed -n 's/.*\(in use at exit: [0-9,]* bytes\).*/\1/p' \
		    "$log")
		pass "valgrind, pid $p: no error, no definite leak ($heap)"
	fi
done
if [ "$nlogs" -ge 3 ]; then
	pass "$nlogs processes checked"
else
	fail "only $nlogs valgrind logs (want supervisor, worker, checker)"
fi
if grep -q '\[alert\]' "$dir/error.log"; then
	fail "[alert] in the error log"
	grep '\[alert\]' "$dir/error.log"
else
	pass "no [alert] in the error log"
fi
finish
