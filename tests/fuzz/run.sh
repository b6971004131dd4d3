#!/bin/sh
# Runs the libFuzzer harnesses built by `make fuzz`, each for a bounded
# time, and ends with one summary line.  Run from the repo root.
#
# usage: tests/fuzz/run.sh BUILD_DIR [NAME...]
#   NAME        request, response, chunked or config (default: all four)
#   FUZZ_SECONDS  time per harness (default 60)
#   FUZZ_RUNS     stop each harness after this many inputs instead
#
# Each harness starts from its seed corpus (tests/fuzz/corpus/NAME, which
# it only reads) and adds what it learns to BUILD_DIR/fuzz/corpus/NAME, so
# that the next run goes on from there.  An input that breaks a harness is
# saved as BUILD_DIR/fuzz/artifacts/NAME-crash-...; turn it into a seed and
# a unit test (tests/unit/test_fuzz_regressions.c) once fixed.
build=${1:?usage: run.sh BUILD_DIR [NAME...]}
shift
[ $# -gt 0 ] || set -- request response chunked config
seconds=${FUZZ_SECONDS:-60}
passed=0
failed=0
failures=""

# The largest input each harness gets: past the limits it must enforce
# (8 KiB heads; 4 KiB chunk lines and 16 KiB of trailers; 200-byte lines).
max_len() {
	case $1 in
	request | response) echo 12288 ;;
	chunked) echo 20480 ;;
	*) echo 4096 ;;
	esac
}

for name in "$@"; do
	bin=$build/fuzz/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	work=$build/fuzz/corpus/$name
	log=$build/fuzz/$name.log
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz $name: $bin or $seeds is missing" >&2
		failed=$((failed + 1))
		failures="$failures $name"
		continue
	fi
	mkdir -p "$work" "$build/fuzz/artifacts"
	dict=
	case $name in
	config) dict=-dict=tests/fuzz/config.dict ;;
	*) dict=-dict=tests/fuzz/http.dict ;;
	esac
	limit=-max_total_time=$seconds
	[ -n "$FUZZ_RUNS" ] && limit=-runs=$FUZZ_RUNS
	printf '== fuzz %s (%s)\n' "$name" "$limit"
	if "$bin" $limit $dict -max_len="$(max_len "$name")" \
	    -print_final_stats=1 \
	    -artifact_prefix="$build/fuzz/artifacts/$name-" \
	    "$work" "$seeds" >"$log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $name"
		tail -n 40 "$log"
	fi
	# The last status line and the totals, for the record.
	grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
	    "$log"
done
printf 'fuzz: %d passed, %d failed\n' "$passed" "$failed"
if [ "$failed" -ne 0 ]; then
	printf 'failed:%s\n' "$failures"
	exit 1
fi
