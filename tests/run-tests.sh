#!/bin/sh
# Runs every test program given, all of them even when one fails, and ends
# with one summary line.  Usage: run-tests.sh BUILD_DIR PROGRAM...
build=$1
shift
passed=0
failed=0
failures=""
mkdir -p "$build/tests/logs"
# Check's per-test timeout; integration tests set their own, longer.
CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
export CK_DEFAULT_TIMEOUT
for t in "$@"; do
	name=$(basename "$t")
	printf '== %s\n' "$name"
	# Scripts take the build directory; programs take nothing.
	arg=
	case $t in
	*.sh) arg=$build ;;
	esac
	if "$t" $arg; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $name"
	fi
done
printf '%s: %d passed, %d failed\n' "$build" "$passed" "$failed"
if [ "$failed" -ne 0 ]; then
	printf 'failed:%s\n' "$failures"
	exit 1
fi
