# shellcheck shell=bash
# bench/servers.sh, sourced by bench/run.sh: the machine's description, the
# backends, the proxies under test, their correctness check and their
# memory at rest.  Each target has a port (t_port) and, for a proxy, the
# pid at the root of its process tree (t_root: forklift's supervisor,
# nginx's master, HAProxy's one process; 0 for direct), and the CPU it is
# pinned to (t_core, "-" if none).

declare -A t_port t_root t_core

meta() {
	printf '%s\t%s\n' "$1" "$2" >>"$run/meta"
}

record_meta() {
	meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
	meta command "$bench_command"
	meta kernel "$(uname -r)"
	meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
	    head -1) ($(nproc) CPUs online)"
	meta memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
	    /proc/meminfo)"
	meta forklift "$("$build/forklift" -V 2>&1 | head -1)$(cd "$top" &&
	    git rev-parse --short HEAD 2>/dev/null | sed 's/^/, commit /')$(
	    cd "$top" && git status --porcelain 2>/dev/null | grep -q . &&
	    echo ' with local changes')"
	meta nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
	meta haproxy "$(haproxy -v 2>&1 | head -1 |
	    sed 's/^HAProxy version //; s/ - http.*//')"
	meta wrk "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
	meta rounds "$rounds"
	meta seconds "$secs"
	meta warmup "$warmup"
	meta kills "$kills"
	meta pinning "$([ "$cpu_proxy" = - ] && echo none ||
	    echo "1-worker proxies on CPU $cpu_proxy; wrk, backends," \
	    "clients on CPU $cpu_load; 2-worker proxies unpinned")"
}

# Three backends in one nginx (port be1..be3), and a lone "victim" nginx
# for the backend-failure figure, all on the load's CPU.
start_backends() {
	local p listen
	set -- $(free_ports 11)
	be1=$1 be2=$2 be3=$3 victim_port=$4
	t_port[forklift]=$5 t_port[nginx]=$6 t_port[haproxy]=$7
	t_port[forklift-2w]=$8 t_port[nginx-2w]=$9 t_port[haproxy-2w]=${10}
	sup_port=${11}
	t_port[direct]=$be1
	t_root[direct]=0
	t_core[direct]=-

	mkdir -p "$run/www" || die "cannot create $run/www"
	head -c 65536 /dev/urandom >"$run/www/64k"
	# A file for the static handler to find, so that POST gets its 405.
	echo ok >"$run/www/upload"
	for p in backend victim; do
		mkdir -p "$run/$p.tmp"
	done
	listen="listen 127.0.0.1:$be1; listen 127.0.0.1:$be2;"
	listen="$listen listen 127.0.0.1:$be3;"
	render "$bench/conf/backend.conf.in" "$run/backend.conf" RUN="$run" \
	    NAME=backend LISTEN="$listen"
	render "$bench/conf/backend.conf.in" "$run/victim.conf" RUN="$run" \
	    NAME=victim LISTEN="listen 127.0.0.1:$victim_port;"
	start backend "$cpu_load" nginx -p "$run" -c "$run/backend.conf" \
	    -e "$run/backend.err"
	backend_pid=$pid
	start victim "$cpu_load" nginx -p "$run" -c "$run/victim.conf" \
	    -e "$run/victim.err"
	victim_pid=$pid
	for p in $be1 $be2 $be3 $victim_port; do
		wait_port "$p" || die "backend on port $p did not start" \
		    "(see $run/backend.log, $run/victim.log)"
	done
}

# start_proxy TARGET KIND WORKERS CPU
start_proxy() {
	local t=$1 kind=$2 workers=$3 cpu=$4 f
	local vars=(RUN="$run" NAME="$t" WORKERS="$workers" \
	    PORT="${t_port[$t]}" BE1="127.0.0.1:$be1" BE2="127.0.0.1:$be2" \
	    BE3="127.0.0.1:$be3")
	mkdir -p "$run/$t.tmp"
	case $kind in
	forklift)
		f=$run/$t.ini
		render "$bench/conf/forklift.ini.in" "$f" "${vars[@]}"
		"$build/forklift" -t -c "$f" >"$run/$t.conftest" 2>&1 ||
		    die "forklift -t -c $f: $(cat "$run/$t.conftest")"
		start "$t" "$cpu" "$build/forklift" -f -c "$f" ;;
	nginx)
		f=$run/$t.conf
		render "$bench/conf/nginx-proxy.conf.in" "$f" "${vars[@]}"
		start "$t" "$cpu" nginx -p "$run" -c "$f" -e "$run/$t.err" ;;
	haproxy)
		f=$run/$t.cfg
		render "$bench/conf/haproxy.cfg.in" "$f" "${vars[@]}"
		start "$t" "$cpu" haproxy -f "$f" -db ;;
	esac
	t_root[$t]=$pid
	t_core[$t]=$cpu
	wait_port "${t_port[$t]}" ||
	    die "$t did not start listening (see $run/$t.log)"
}

start_proxies() {
	local t
	for t in $targets; do
		case $t in
		forklift | nginx | haproxy)
			start_proxy "$t" "$t" 1 "$cpu_proxy" ;;
		*-2w)
			start_proxy "$t" "${t%-2w}" 2 - ;;
		direct) ;;
		*)	die "unknown target $t" ;;
		esac
	done
	# Let the children finish starting before anything is read.
	sleep 0.5
}

stop_proxies() {
	local t
	for t in $targets; do
		[ "${t_root[$t]}" = 0 ] || stop_pid "${t_root[$t]}"
	done
}

# Every target must answer correctly before it is measured.
check_targets() {
	local t p out
	for p in $be1 $be2 $be3 $victim_port; do
		out=$(python3 "$bench/check.py" "$p" "$run/www/64k" \
		    --backend 2>&1) ||
		    die "backend check: $out"
	done
	for t in $targets; do
		out=$(python3 "$bench/check.py" "${t_port[$t]}" \
		    "$run/www/64k" 2>&1) || die "$t answers wrongly: $out"
		echo "checked: $t (port ${t_port[$t]}) answers correctly"
	done
}

# snap_fields ROOT: "rss_kb pss_kb procs" of the tree under ROOT.
snap_fields() {
	local line
	line=$(python3 "$bench/measure.py" snap "$1")
	echo "$(field rss_kb "$line") $(field pss_kb "$line")" \
	    "$(field procs "$line")"
}

# RSS and PSS of each proxy at rest, then holding IDLE_CONNS idle
# keep-alive connections (each has had one request answered).
measure_memory() {
	local t idle held cpid ready i
	echo "target rss_idle_kb pss_idle_kb procs rss_conns_kb pss_conns_kb" \
	    "conns" | tr ' ' '\t' >"$run/memory.tsv"
	for t in $targets; do
		[ "${t_root[$t]}" = 0 ] && continue
		idle=$(snap_fields "${t_root[$t]}")
		start "idle-$t" "$cpu_load" "$client" -p "${t_port[$t]}" \
		    -I "$IDLE_CONNS" -d 60
		cpid=$pid
		ready=""
		for i in $(seq 400); do
			ready=$(sed -n 's/^ready //p' "$run/idle-$t.log")
			[ -n "$ready" ] && break
			kill -0 "$cpid" 2>/dev/null || break
			sleep 0.1
		done
		# Let the proxy settle after the burst of connections.
		sleep 0.5
		held=$(snap_fields "${t_root[$t]}")
		stop_pid "$cpid"
		if [ "${ready:-0}" != "$IDLE_CONNS" ]; then
			fail "$t: ${ready:-0} of $IDLE_CONNS idle connections" \
			    "answered ($(tail -1 "$run/idle-$t.log"))"
		fi
		set -- $idle $held
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$1" "$2" "$3" \
		    "$4" "$5" "${ready:-0}" >>"$run/memory.tsv"
		echo "memory: $t: RSS idle $1 kB, with ${ready:-0} idle" \
		    "connections $4 kB"
		sleep 0.5
	done
}

# The logs of the proxies and backends must hold no alert, crash or
# sanitizer report.
check_logs() {
	local f bad
	for f in "$run"/*.log "$run"/*.err; do
		[ -e "$f" ] || continue
		case $f in */idle-*.log) continue ;; esac
		bad=$(grep -Ei "$LOG_TROUBLE" "$f" | head -3)
		[ -n "$bad" ] && fail "$(basename "$f"): $bad"
	done
	meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
}
