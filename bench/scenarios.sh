# shellcheck shell=bash
# bench/scenarios.sh, sourced by bench/run.sh: the wrk scenarios, run in
# interleaved rounds (every target once per round, in the same order), so
# that drift on a shared machine reaches every target alike.  One line per
# run goes to $run/results.tsv.

# Connections (wrk -c) and path of each scenario; wrk runs one thread.
declare -A sc_conns=([get]=64 [64k]=64 [close]=64 [c1000]=1000 [post]=16)
declare -A sc_path=([get]=/ [64k]=/64k [close]=/ [c1000]=/ [post]=/upload)

cat "$bench/wrk/post.lua" "$bench/wrk/summary.lua" >"$run/post.lua"
mkdir -p "$run/raw"
printf 'scenario\ttarget\tround\tfigures\n' >"$run/results.tsv"

# wrk_command S D P: sets cmd to the wrk command line of scenario S
# lasting D seconds against port P (under timeout(1), in case it stalls).
wrk_command() {
	local s=$1 d=$2 p=$3 script=$bench/wrk/summary.lua hdr=()
	[ "$s" = post ] && script=$run/post.lua
	[ "$s" = close ] && hdr=(-H "Connection: close")
	cmd=(timeout -k 5 $((d + WRK_GRACE)) wrk -t1 -c"${sc_conns[$s]}"
	    -d"${d}s" --timeout 10s -s "$script" "${hdr[@]}"
	    "http://127.0.0.1:$p${sc_path[$s]}")
}

# The wrk command of scenario S as a reader would type it.
wrk_shown() {
	local a out=""
	wrk_command "$1" "$secs" PORT
	for a in "${cmd[@]:4}"; do
		case $a in
		*' '*)	out="$out '$a'" ;;
		"$run"/*) out="$out bench/wrk/${a##*/}" ;;
		"$bench"/*) out="$out bench/${a#"$bench"/}" ;;
		*)	out="$out $a" ;;
		esac
	done
	echo "${out# }"
}

# field NAME LINE: the value of NAME=... in a key=value line.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# run_one SCENARIO TARGET ROUND SECONDS (ROUND "w" = warm-up, not kept)
run_one() {
	local s=$1 t=$2 r=$3 d=$4 raw line core=() root=${t_root[$2]}
	[ -f "$run/meta" ] || die "$run was removed while the bench ran"
	raw=$run/raw/$s-$t-$r.txt
	[ "${t_core[$t]}" = - ] || core=(--core "${t_core[$t]}")
	wrk_command "$s" "$d" "${t_port[$t]}"
	line=$(on "$cpu_load" python3 "$bench/measure.py" run --tree "$root" \
	    "${core[@]}" --raw "$raw" -- "${cmd[@]}")
	if [ "$(field status "$line")" != ok ]; then
		fail "$s $t round $r: wrk gave no result: $line"
		line="status=failed"
	elif [ "$(field socket_errors "$line")" != 0 ] ||
	    [ "$(field non2xx "$line")" != 0 ]; then
		fail "$s $t round $r: $(field socket_errors "$line") socket" \
		    "errors ($(field errdetail "$line")) and" \
		    "$(field non2xx "$line") non-2xx answers in" \
		    "$(field requests "$line") requests; wrk output: $raw"
	fi
	if [ "$root" != 0 ] && ! alive "$root"; then
		fail "$s $t round $r: $t (pid $root) is gone; its log:" \
		    "$run/$t.log"
	fi
	[ "$r" = w ] && return
	printf '%s\t%s\t%s\t%s\n' "$s" "$t" "$r" "$line" >>"$run/results.tsv"
	printf '%-6s round %s %-12s %9s req/s  p50 %7s ms  p99 %8s ms' \
	    "$s" "$r" "$t" "$(field rps "$line")" "$(field p50_ms "$line")" \
	    "$(field p99_ms "$line")"
	printf '  cpu %6s us/req %5s%%\n' "$(field cpu_us "$line")" \
	    "$(field cpu_pct "$line")"
}

run_scenario() {
	local s=$1 t r
	[ -n "${sc_conns[$s]:-}" ] || die "unknown scenario $s"
	meta "wrk_$s" "$(wrk_shown "$s")"
	echo
	echo "== $s: $(wrk_shown "$s")"
	if [ "$warmup" -gt 0 ]; then
		for t in $targets; do
			run_one "$s" "$t" w "$warmup"
		done
	fi
	for r in $(seq "$rounds"); do
		for t in $targets; do
			run_one "$s" "$t" "$r" "$secs"
			sleep 0.2
		done
	done
}
