#!/bin/sh
# The manual pages: both lint clean with mandoc and render without warnings,
# they document every command line option, configuration key, server line
# option and algorithm that the code knows (and nothing it does not), the
# defaults they state are the loader's, and the configuration examples in
# forklift.ini(5) pass `forklift -t`.
#
# Usage: tests/man/test_man.sh [BUILD_DIR]   (from the top of the repo;
# BUILD_DIR defaults to build and must hold the forklift binary)
build=${1:-build}
page8=man/forklift.8
page5=man/forklift.ini.5
passed=0
failed=0

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

pass() {
	passed=$((passed + 1))
	printf 'ok: %s\n' "$1"
}

fail() {
	failed=$((failed + 1))
	printf 'FAIL: %s\n' "$1"
	[ -s "$tmp/why" ] && sed 's/^/    /' "$tmp/why"
	: >"$tmp/why"
}

# check NAME COMMAND...: passes when COMMAND succeeds and prints nothing.
check() {
	name=$1
	shift
	if "$@" >"$tmp/why" 2>&1 && [ ! -s "$tmp/why" ]; then
		pass "$name"
	else
		fail "$name"
	fi
}

# What lies between the lines of a .Sh header and the next one.
section() {
	awk -v want="$2" '
	    /^\.Sh / { on = (substr($0, 5) == want); next }
	    on' "$1"
}

# Words of one column of a list, sorted, one per line.
words() {
	sort -u | sed '/^$/d'
}

# Reports the difference of two word lists ($1: in code, $2: in the page).
same_words() {
	comm -23 "$1" "$2" | sed 's/^/not in the page: /'
	comm -13 "$1" "$2" | sed 's/^/not in the code: /'
	[ -z "$(comm -3 "$1" "$2")" ]
}

if ! command -v mandoc >/dev/null 2>&1; then
	printf 'mandoc is missing: apt-get install -y mandoc\n'
	printf '0 passed, 1 failed\n'
	exit 1
fi

# 1, 2: mandoc finds nothing to say at the warning level.
for p in "$page8" "$page5"; do
	check "mandoc -Tlint -Wwarning $p" mandoc -Tlint -Wwarning "$p"
done

# 3, 4: man(1) renders them (through groff) without a warning.
if command -v man >/dev/null 2>&1; then
	for p in "$page8" "$page5"; do
		if MANWIDTH=80 man --warnings -l "$p" >"$tmp/out" \
		    2>"$tmp/why" && [ ! -s "$tmp/why" ] &&
		    grep -q '^NAME' "$tmp/out"; then
			pass "man -l $p renders without warnings"
		else
			fail "man -l $p renders without warnings"
		fi
	done
fi

# 5: the options of getopt() in main.c are the options of forklift(8).
sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' supervisor/main.c |
    tr -d ':' | fold -w1 | words >"$tmp/code"
section "$page8" OPTIONS | sed -n 's/^\.It Fl \([A-Za-z]\).*/\1/p' |
    words >"$tmp/page"
if [ -s "$tmp/code" ] && same_words "$tmp/code" "$tmp/page" >"$tmp/why"
then
	pass "forklift(8) OPTIONS match main.c's getopt string"
else
	fail "forklift(8) OPTIONS match main.c's getopt string"
fi

# 6: the -s signal names of main.c are those of forklift(8).
sed -n 's/.*strcmp(name, "\([a-z]*\)") == 0.*/\1/p' supervisor/main.c |
    words >"$tmp/code"
section "$page8" OPTIONS | sed -n 's/^\.It Cm \([a-z]*\)$/\1/p' |
    words >"$tmp/page"
if [ -s "$tmp/code" ] && same_words "$tmp/code" "$tmp/page" >"$tmp/why"
then
	pass "forklift(8) -s names match main.c"
else
	fail "forklift(8) -s names match main.c"
fi

# 7: every key of config.c's table has an entry ".It Ic KEY =" and every
# such entry is a key.
sed -n 's/^[[:space:]]*K_[A-Z]*(SEC_[A-Z]*, "\([a-z_]*\)".*/\1/p' \
    common/config_keys.c | words >"$tmp/code"
sed -n 's/^\.It Ic \([a-z_]*\) =.*/\1/p' "$page5" | words >"$tmp/page"
if [ -s "$tmp/code" ] && same_words "$tmp/code" "$tmp/page" >"$tmp/why"
then
	pass "forklift.ini(5) documents exactly the keys of config_keys.c"
else
	fail "forklift.ini(5) documents exactly the keys of config_keys.c"
fi

# 8: the server line options of config_server.c.
sed -n 's/^[[:space:]]*{ "\([a-z_]*\)=", OPT_[A-Z_]* },.*/\1/p' \
    common/config_server.c | words >"$tmp/code"
section "$page5" "SERVER LINES" |
    sed -n 's/^\.It Cm \([a-z_]*\)= Ns .*/\1/p' | words >"$tmp/page"
if [ -s "$tmp/code" ] && same_words "$tmp/code" "$tmp/page" >"$tmp/why"
then
	pass "forklift.ini(5) documents exactly the server line options"
else
	fail "forklift.ini(5) documents exactly the server line options"
fi

# 9: the algorithms of config_keys.c.
sed -n 's/^[[:space:]]*\[ALG_[A-Z_]*\] = "\([a-z_]*\)",.*/\1/p' \
    common/config_keys.c | words >"$tmp/code"
sed -n 's/^\.It Cm \([a-z_]*\)$/\1/p' "$page5" |
    grep -x -F -f "$tmp/code" | words >"$tmp/page"
# Every algorithm must be an item; the reverse is checked by -t below.
if [ -s "$tmp/code" ] && same_words "$tmp/code" "$tmp/page" >"$tmp/why"
then
	pass "forklift.ini(5) describes every algorithm"
else
	fail "forklift.ini(5) describes every algorithm"
fi

# 10: the defaults in the table at the top of config_keys.c are the page's.
# Table lines read " *<TAB>KEY = VALUE<TAB>..."; keys without a default
# (user, listen's bind, pool, server) are left out.
sed -n 's/^ \*	\([a-z_]*\) = \([^	 ]\{1,\}\)[	 ]*.*/\1 \2/p' \
    common/config_keys.c | grep -v '^server ' | sort -u >"$tmp/code"
awk '
    /^\.Bl/ { depth++ }
    /^\.El/ { if (--depth < kdepth) key = "" }
    /^\.It Ic [a-z_]+ =/ { key = $3; kdepth = depth; want = 0; next }
    /^\.It/ && depth == kdepth { key = "" }
    key != "" && want {
	sub(/^\.[A-Z][a-z] /, "")
	split($0, w, " ")
	v = w[1]; sub(/[.,]$/, "", v)
	print key, v
	key = ""; want = 0
	next
    }
    key != "" && /Default:/ {
	rest = $0; sub(/.*Default:[ ]*/, "", rest)
	if (rest == "") { want = 1; next }
	split(rest, w, " ")
	v = w[1]; sub(/[.,]$/, "", v)
	print key, v
	key = ""
    }' "$page5" | sort -u >"$tmp/page"
: >"$tmp/why"
while read -r key value; do
	if ! grep -q "^$key " "$tmp/page"; then
		echo "$key: no Default: in the page (config_keys.c: $value)" \
		    >>"$tmp/why"
	elif ! grep -qxF "$key $value" "$tmp/page"; then
		echo "$key: page says $(grep "^$key " "$tmp/page" |
		    cut -d' ' -f2 | tr '\n' ' ')but config_keys.c says $value" \
		    >>"$tmp/why"
	fi
done <"$tmp/code"
if [ -s "$tmp/code" ] && [ ! -s "$tmp/why" ]; then
	pass "forklift.ini(5) defaults match config_keys.c"
else
	fail "forklift.ini(5) defaults match config_keys.c"
fi

# 11: the configuration examples of forklift.ini(5), put together in the
# order given, are one valid file.
section "$page5" EXAMPLES | awk '
    /^\.Bd -literal/ { on = 1; next }
    /^\.Ed/ { on = 0; print ""; next }
    on' | sed 's/\\e/\\/g; s/\\&//g' >"$tmp/examples.ini"
if [ ! -x "$build/forklift" ]; then
	echo "$build/forklift is missing: build it first" >"$tmp/why"
	fail "forklift.ini(5) EXAMPLES pass forklift -t"
elif grep -q '^\[pool ' "$tmp/examples.ini" &&
    "$build/forklift" -t -c "$tmp/examples.ini" >"$tmp/why" 2>&1; then
	: >"$tmp/why"
	pass "forklift.ini(5) EXAMPLES pass forklift -t"
else
	fail "forklift.ini(5) EXAMPLES pass forklift -t"
fi

# 12: every algorithm appears in an example.
: >"$tmp/why"
sed -n 's/^[[:space:]]*\[ALG_[A-Z_]*\] = "\([a-z_]*\)",.*/\1/p' \
    common/config_keys.c | while read -r alg; do
	grep -qx "algorithm = $alg" "$tmp/examples.ini" ||
	    echo "no example of $alg" >>"$tmp/why"
done
for key in client_ip uri header: cookie:; do
	grep -q "^hash_key = $key" "$tmp/examples.ini" ||
	    echo "no example of hash_key = $key" >>"$tmp/why"
done
grep -q ' run=' "$tmp/examples.ini" ||
    echo "no example of a managed server" >>"$tmp/why"
if [ ! -s "$tmp/why" ]; then
	pass "forklift.ini(5) EXAMPLES cover every algorithm and hash_key"
else
	fail "forklift.ini(5) EXAMPLES cover every algorithm and hash_key"
fi

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
