# shellcheck shell=bash
# bench/supervision.sh, sourced by bench/run.sh: forklift's supervision
# under load, counted by bench/client (8 keep-alive connections and 8
# connections opened for each request, as fast as they are answered):
#   1. SIGKILL worker 0, BENCH_KILLS times: kill to the first answer to a
#      request sent after the worker died (the replacement accepts);
#      requests begun after the kill that fail were lost (must be 0);
#   2. three SIGHUP reloads: failed requests (must be 0);
#   3. SIGKILL of a backend (health checks tcp every 1 s, retries = 2):
#      failed requests (must be 0).
# Output: $run/sup-*.log, read by report.py.

SUP_LOAD=(-k 8 -n 8)
# Seconds the reload and backend figures run; their events come at 2 s.
RELOAD_SECONDS=8
BACKEND_SECONDS=6

# Pids of the children of $1 titled "forklift: worker ...".
worker_pids() {
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" |
		    grep -q '^forklift: worker' && echo "$p"
	done
}

# Waits for a process started here to end by itself, then forgets it.
reap() {
	wait "$1"
	forget "$1"
}

# The client's summary line in log FILE, checked: failed=0 or a failure.
check_client() {
	local what=$1 log=$2 line
	line=$(grep '^ok=' "$log")
	echo "$what: $line"
	if [ -z "$line" ]; then
		fail "$what: the client said nothing ($log)"
	elif [ "$(field failed "$line")" != 0 ]; then
		fail "$what: $(field failed "$line") requests failed ($line)"
	fi
}

sup_kills() {
	local line
	(on "$cpu_load" timeout 300 "$client" -p "$sup_port" \
	    "${SUP_LOAD[@]}" -K "$sup_pid" -r "$kills" -g 300) \
	    >"$run/sup-kill.log" 2>&1
	line=$(grep '^kills=' "$run/sup-kill.log")
	echo "worker kills: $line"
	if [ -z "$line" ]; then
		fail "worker kills: no result ($(tail -2 "$run/sup-kill.log"))"
		return
	fi
	[ "$(field lost "$line")" = 0 ] || fail "worker kills:" \
	    "$(field lost "$line") requests begun after a kill failed:" \
	    "connections queued for the replacement were lost" \
	    "(details: $run/sup-kill.log)"
	[ "$(field stalls "$line")" = 0 ] || fail "worker kills:" \
	    "$(field stalls "$line") kills not followed by an answer within 5 s"
}

sup_reloads() {
	local cpid i j before now new done=0
	start sup-reload "$cpu_load" "$client" -p "$sup_port" \
	    "${SUP_LOAD[@]}" -d "$RELOAD_SECONDS"
	cpid=$pid
	for i in 1 2 3; do
		sleep 2
		before=$(worker_pids "$sup_pid")
		kill -HUP "$sup_pid"
		new=""
		for j in $(seq 60); do
			now=$(worker_pids "$sup_pid")
			new=$(echo "$now" | grep -vxF "$before" | head -1)
			[ -n "$new" ] && break
			sleep 0.05
		done
		if [ -n "$new" ]; then
			done=$((done + 1))
		else
			fail "reload $i: no new worker within 3 s"
		fi
	done
	reap "$cpid"
	meta reloads "$done"
	check_client "reloads under load ($done of 3 made new workers)" \
	    "$run/sup-reload.log"
}

sup_backend_kill() {
	local cpid all
	start sup-backend "$cpu_load" "$client" -p "$sup_port" \
	    "${SUP_LOAD[@]}" -d "$BACKEND_SECONDS"
	cpid=$pid
	sleep 2
	# Out of the job table first, so bash does not report the kill.
	all=$(tree_pids "$victim_pid")
	disown "$victim_pid"
	kill -KILL $all
	forget "$victim_pid"
	reap "$cpid"
	check_client "backend killed under load" "$run/sup-backend.log"
}

measure_supervision() {
	local f=$run/forklift-sup.ini out
	echo
	echo "== supervision (forklift, 1 worker, health checks tcp 1s," \
	    "retries 2)"
	render "$bench/conf/forklift-supervision.ini.in" "$f" RUN="$run" \
	    NAME=forklift-sup PORT="$sup_port" BE1="127.0.0.1:$be1" \
	    BE2="127.0.0.1:$be2" BE3="127.0.0.1:$be3" \
	    VICTIM="127.0.0.1:$victim_port"
	"$build/forklift" -t -c "$f" >"$run/forklift-sup.conftest" 2>&1 ||
	    die "forklift -t -c $f: $(cat "$run/forklift-sup.conftest")"
	start forklift-sup "$cpu_proxy" "$build/forklift" -f -c "$f"
	sup_pid=$pid
	wait_port "$sup_port" ||
	    die "forklift-sup did not start ($run/forklift-sup.log)"
	sleep 0.5
	out=$(python3 "$bench/check.py" "$sup_port" "$run/www/64k" 2>&1) ||
	    die "forklift-sup answers wrongly: $out"
	sup_kills
	sup_reloads
	sup_backend_kill
	alive "$sup_pid" || fail "forklift-sup (pid $sup_pid) is gone"
	stop_pid "$sup_pid"
}
