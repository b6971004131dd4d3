#!/bin/sh
# The HTML status page (GET / on the admin listener) as a real browser
# renders it.  Three backends and forklift with two workers; some traffic;
# one backend stopped until the health checker calls it down; then Debian's
# headless Chromium dumps the rendered DOM and takes two screenshots, a
# desktop one and a phone one.  The DOM must name every server with its
# state in words (UP, DOWN), count the traffic sent, list the supervisor's
# real worker processes by pid, and carry a viewport meta; the screenshots
# must be PNGs of the window's size and of some substance.  They are left
# in BUILD_DIR/tests/ for a person to look at.
#
# Usage: tests/browser/test_status_page.sh [BUILD_DIR]   (from the top of
# the repo; BUILD_DIR defaults to build and must hold forklift and backend)
# CHROMIUM names another browser binary (default: chromium).  Without
# Chromium the test installs it when run as root, and fails otherwise.
build=${1:-build}
chromium=${CHROMIUM:-chromium}
out=$build/tests
shot=$out/status-page.png
phone=$out/status-page-phone.png
nreq=30			# requests sent through forklift
min_png=20000		# bytes; a blank 1200x900 page is a few kB
passed=0
failed=0
pids=""			# what this script started, stopped on exit

work=$(mktemp -d) || exit 1

pass() {
	passed=$((passed + 1))
	printf 'ok: %s\n' "$1"
}

# fail NAME [FILE]: FILE, if given and not empty, says why.
fail() {
	failed=$((failed + 1))
	printf 'FAIL: %s\n' "$1"
	if [ -n "$2" ] && [ -s "$2" ]; then
		sed 's/^/    /' "$2" | tail -n 20
	fi
}

summary() {
	printf '%d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ]
}

# alive PID: PID exists and is not a zombie waiting to be reaped.
alive() {
	[ -r "/proc/$1/stat" ] &&
	    [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# stop PID...: SIGTERM, up to 5 s to go, then SIGKILL.
stop() {
	for p in "$@"; do
		kill "$p" 2>/dev/null
	done
	_s=0
	for p in "$@"; do
		while alive "$p" && [ "$_s" -lt 50 ]; do
			sleep 0.1
			_s=$((_s + 1))
		done
		if alive "$p"; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
}

# shellcheck disable=SC2317	# the EXIT trap calls it
cleanup() {
	# The supervisor first: its children go with it.  Then whichever of
	# them (recorded in $kids) outlived it, then the backends.
	for p in $fpid $kids $pids; do
		stop "$p"
	done
	wait 2>/dev/null
	rm -rf "$work"
}
fpid=""
kids=""
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# curl to 127.0.0.1 only, never through a proxy from the environment.
get() {
	curl --noproxy '*' -s -m 5 "$@"
}

# wait_file FILE: FILE exists and is not empty within 5 s.
wait_file() {
	_w=0
	while [ ! -s "$1" ] && [ "$_w" -lt 50 ]; do
		sleep 0.1
		_w=$((_w + 1))
	done
	[ -s "$1" ]
}

# A port free now: a backend binds port 0 and is stopped again.  Another
# process may take it before forklift binds it; start_forklift retries.
free_port() {
	rm -f "$work/free"
	"$build/backend" -q -p 0 -P "$work/free" >/dev/null 2>&1 &
	fp=$!
	wait_file "$work/free"
	stop "$fp"
	wait "$fp" 2>/dev/null
	cat "$work/free"
}

# The chromium that runs, or install it (root only).
find_chromium() {
	command -v "$chromium" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "$chromium is not installed; as root: apt-get install" \
		    "chromium" >"$work/why"
		return 1
	fi
	echo "installing chromium"
	{ apt-get update -qq &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium; } >"$work/why" 2>&1 || return 1
	command -v "$chromium" >/dev/null 2>&1
}

# browse SIZE ARG... URL: headless Chromium at window SIZE (W,H), in a
# profile and home of its own, bounded to 60 s; the output goes to
# stdout, its diagnostics to $work/chromium.log.  Shared memory goes to
# /tmp: a container's /dev/shm (64 MB by default) is too small for it.
browse() {
	size=$1
	shift
	prof=$(mktemp -d "$work/profile.XXXXXX") || return 1
	HOME=$prof XDG_CONFIG_HOME=$prof XDG_CACHE_HOME=$prof \
	    timeout -k 5 60 "$chromium" --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync --no-proxy-server \
	    --disable-dev-shm-usage \
	    --user-data-dir="$prof/data" --window-size="$size" \
	    "$@" 2>>"$work/chromium.log"
}

# png_ok FILE W H: FILE is a PNG of W x H pixels and at least $min_png
# bytes.
png_ok() {
	if [ ! -s "$1" ]; then
		echo "no $1"
		return 1
	fi
	magic=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
	if [ "$magic" != 89504e470d0a1a0a ]; then
		echo "$1 is not a PNG (starts $magic)"
		return 1
	fi
	# The IHDR chunk: width and height, 4 bytes each, big-endian.
	dims=$(od -An -tu1 -j16 -N8 "$1" | awk '{
	    printf "%d %d", (($1 * 256 + $2) * 256 + $3) * 256 + $4,
	    (($5 * 256 + $6) * 256 + $7) * 256 + $8 }')
	size=$(wc -c <"$1")
	echo "$1: ${dims% *}x${dims#* }, $size bytes"
	[ "$dims" = "$2 $3" ] && [ "$size" -ge "$min_png" ]
}

# The state of server $1 in /stats: up or down.  The first level of each
# server's object (name, address, state) comes before its nested ones.
server_state() {
	get "http://127.0.0.1:$admin/stats" | tr -d ' \n' | tr '{' '\n' |
	    grep "\"name\":\"$1\"" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4
}

# The tables of the rendered page, one line a row, from the DOM on stdin:
# "server NAME STATE REQUESTS" for each server, "worker SLOT PID RESTARTS"
# for each worker.  Columns are found by their headers.
page_rows() {
	awk 'BEGIN { RS = "</tr>" }
	function cells(s, c) {
		gsub(/\n/, "", s)
		sub(/.*<tr[ >]/, "<", s)
		gsub(/<\/t[dh]>/, "\t", s)
		gsub(/<[^>]*>/, "", s)
		sub(/\t$/, "", s)
		return split(s, c, "\t")
	}
	{
		n = cells($0, c)
		if ($0 ~ /<th/) {
			delete col
			for (i = 1; i <= n; i++)
				col[c[i]] = i
			kind = ("Server" in col) ? "server" : \
			    ("Slot" in col) ? "worker" : ""
		} else if (kind == "server" && n > 1)
			print "server", c[col["Server"]], c[col["State"]],
			    c[col["Requests"]]
		else if (kind == "worker" && n > 1)
			print "worker", c[col["Slot"]], c[col["PID"]],
			    c[col["Restarts"]]
	}'
}

# children PID: the pids of PID's children, as /proc tells.
children() {
	for f in /proc/[0-9]*/stat; do
		p=${f#/proc/}
		p=${p%/stat}
		ppid=$(sed 's/.*) //' "$f" 2>/dev/null | cut -d' ' -f2)
		[ "$ppid" = "$1" ] && echo "$p"
	done
}

# The pids, among those given, of processes titled "forklift: worker N".
workers_among() {
	for p in "$@"; do
		case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
		"forklift: worker"*) echo "$p" ;;
		esac
	done
}

# start_forklift: forklift with a fresh config on fresh ports, its admin
# answering within 5 s.  Sets fpid, port, admin.
start_forklift() {
	port=$(free_port)
	admin=$(free_port)
	[ -n "$port" ] && [ -n "$admin" ] || return 1
	cat >"$work/forklift.ini" <<-EOF
	[global]
	workers = 2
	daemon = no
	pidfile = $work/forklift.pid
	error_log = stderr

	[listen]
	bind = 127.0.0.1:$port
	pool = web

	[admin]
	bind = 127.0.0.1:$admin

	[pool web]
	health_check = /heartbeat
	health_interval = 200ms
	health_timeout = 100ms
	server = app1 127.0.0.1:$port1
	server = app2 127.0.0.1:$port2
	server = app3 127.0.0.1:$port3
	EOF
	"$build/forklift" -f -c "$work/forklift.ini" 2>>"$work/forklift.log" &
	fpid=$!
	i=0
	while [ "$i" -lt 50 ]; do
		get -o /dev/null "http://127.0.0.1:$admin/stats" && return 0
		alive "$fpid" || break
		sleep 0.1
		i=$((i + 1))
	done
	stop "$fpid"
	wait "$fpid" 2>/dev/null
	fpid=""
	return 1
}

# Old screenshots must not pass for new ones.
if ! mkdir -p "$out" || ! rm -f "$shot" "$phone"; then
	fail "$out is writable"
	summary
	exit
fi

if find_chromium; then
	pass "chromium is installed ($("$chromium" --version 2>/dev/null))"
else
	fail "chromium is not available" "$work/why"
	summary
	exit
fi

# The backends.
for n in 1 2 3; do
	"$build/backend" -q -n "app$n" -p 0 -P "$work/port$n" \
	    >/dev/null 2>>"$work/backend.log" &
	pids="$pids $!"
	bpid=$!		# app3's, stopped on purpose below
done
if wait_file "$work/port1" && wait_file "$work/port2" &&
    wait_file "$work/port3"; then
	port1=$(cat "$work/port1")
	port2=$(cat "$work/port2")
	port3=$(cat "$work/port3")
	pass "three backends listen on $port1, $port2, $port3"
else
	fail "three backends listen" "$work/backend.log"
	summary
	exit
fi

# forklift; a port taken between our probe and its bind gets new ports.
tries=0
until start_forklift; do
	tries=$((tries + 1))
	if [ "$tries" -ge 3 ]; then
		fail "forklift starts and its admin listener answers" \
		    "$work/forklift.log"
		summary
		exit
	fi
done
pass "forklift (pid $fpid) serves on $port, admin on $admin"

# Traffic, answered by every server.
: >"$work/answers"
i=0
while [ "$i" -lt "$nreq" ]; do
	get -w ' %{http_code}\n' "http://127.0.0.1:$port/home" \
	    >>"$work/answers"
	i=$((i + 1))
done
ok=$(grep -c ' 200$' "$work/answers")
if [ "$ok" -eq "$nreq" ] &&
    grep -qx 'Hello from server: app1' "$work/answers" &&
    grep -qx 'Hello from server: app2' "$work/answers" &&
    grep -qx 'Hello from server: app3' "$work/answers"; then
	pass "$nreq requests answered by app1, app2 and app3"
else
	echo "$ok of $nreq answered 200" >>"$work/answers"
	fail "$nreq requests answered by app1, app2 and app3" \
	    "$work/answers"
fi

# app3 stops; the health checker must call it down.
stop "$bpid"
t0=$(date +%s%N)
i=0
state=$(server_state app3)
while [ "$state" != down ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
	state=$(server_state app3)
done
if [ "$state" = down ]; then
	pass "app3 stopped, and down in /stats $((($(date +%s%N) - t0) / \
	    1000000)) ms later"
else
	echo "app3 state: '$state'" >"$work/why"
	fail "app3 stopped, and down in /stats within 10 s" "$work/why"
fi

url="http://127.0.0.1:$admin/"

# One page load gives the rendered DOM and the desktop screenshot; the
# workers as /proc sees them right after.
browse 1200,900 --dump-dom --screenshot="$shot" "$url" >"$work/dom.html"
kids=$(children "$fpid" | paste -sd " " -)
# shellcheck disable=SC2086	# a list of pids
workers=$(workers_among $kids | paste -sd " " -)
if grep -q '<title>forklift status</title>' "$work/dom.html"; then
	pass "chromium rendered the status page"
else
	fail "chromium rendered the status page" "$work/chromium.log"
fi
if grep -Eq '<meta name="viewport" content="width=device-width[,"]' \
    "$work/dom.html"; then
	pass "the page has a viewport meta for phones"
else
	fail "the page has a viewport meta for phones"
fi

page_rows <"$work/dom.html" >"$work/rows"
for want in "app1 UP" "app2 UP" "app3 DOWN"; do
	if grep -q "^server $want " "$work/rows"; then
		pass "the page shows ${want% *} as ${want#* }"
	else
		fail "the page shows ${want% *} as ${want#* }" "$work/rows"
	fi
done
sum=$(awk '$1 == "server" { n += $4 } END { print n + 0 }' "$work/rows")
if [ "$sum" -eq "$nreq" ]; then
	pass "the servers' requests on the page add up to $nreq"
else
	fail "the servers' requests on the page add up to $nreq, not $sum" \
	    "$work/rows"
fi

nworkers=$(echo "$workers" | wc -w)
if [ "$nworkers" -eq 2 ]; then
	pass "the supervisor has 2 workers: $workers"
else
	echo "children titled 'forklift: worker': $workers" >"$work/why"
	fail "the supervisor has 2 workers" "$work/why"
fi
for p in $workers; do
	if awk -v p="$p" '$1 == "worker" && $3 == p { f = 1 }
	    END { exit !f }' "$work/rows"; then
		pass "the page lists worker pid $p"
	else
		fail "the page lists worker pid $p" "$work/rows"
	fi
done
rows=$(grep -c '^worker ' "$work/rows")
if [ "$rows" -eq 2 ]; then
	pass "the page lists 2 workers"
else
	fail "the page lists 2 workers, not $rows" "$work/rows"
fi

if png_ok "$shot" 1200 900 >"$work/why"; then
	pass "$(cat "$work/why")"
else
	cat "$work/chromium.log" >>"$work/why"
	fail "a 1200x900 screenshot" "$work/why"
fi

browse 390,844 --screenshot="$phone" "$url" >/dev/null
if png_ok "$phone" 390 844 >"$work/why"; then
	pass "$(cat "$work/why")"
else
	cat "$work/chromium.log" >>"$work/why"
	fail "a 390x844 phone screenshot" "$work/why"
fi

# A clean stop, and (in a sanitizer build) nothing reported.
stop "$fpid"
wait "$fpid"
status=$?
fpid=""
if [ "$status" -eq 0 ] &&
    ! grep -Eq 'Sanitizer|runtime error' "$work/forklift.log"; then
	pass "forklift stops on SIGTERM with status 0, nothing reported"
else
	echo "exit status $status" >>"$work/forklift.log"
	fail "forklift stops on SIGTERM with status 0, nothing reported" \
	    "$work/forklift.log"
fi

summary
exit $?
