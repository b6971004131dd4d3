#!/bin/sh
# `make install` and `make uninstall` into a temporary DESTDIR: the binary
# runs, the manual pages and the sample configuration are where man(1) and
# forklift look for them, a second install keeps an edited configuration,
# and uninstall removes what install put there except the configuration
# (kept, as Debian keeps a conffile).  If the Makefile also installs the
# systemd unit and the logrotate snippet, they are checked too.
#
# Usage: tests/install/test_install.sh [BUILD_DIR]   (from the top of the
# repo; BUILD_DIR defaults to build)
build=${1:-build}
prefix=/usr/local
passed=0
failed=0

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
dest=$work/root		# the DESTDIR under test
dest2=$work/root-usr	# another, for PREFIX=/usr
log=$work/log		# what a failed check said
: >"$log"

bin=$dest$prefix/sbin/forklift
man8=$dest$prefix/share/man/man8/forklift.8
man5=$dest$prefix/share/man/man5/forklift.ini.5
conf=$dest/etc/forklift/forklift.ini
unit=$dest$prefix/lib/systemd/system/forklift.service
rotate=$dest/etc/logrotate.d/forklift

# The systemd unit and logrotate snippet are checked once the install
# target installs them.
extras=no
if sed -n '/^install:/,/^$/p' Makefile | grep -q 'forklift\.service'; then
	extras=yes
fi

pass() {
	passed=$((passed + 1))
	printf 'ok: %s\n' "$1"
}

fail() {
	failed=$((failed + 1))
	printf 'FAIL: %s\n' "$1"
	[ -s "$log" ] && sed 's/^/    /' "$log"
	: >"$log"
}

# check NAME COMMAND...: passes when COMMAND succeeds; its output is shown
# only on failure.
check() {
	name=$1
	shift
	if "$@" >"$log" 2>&1; then
		: >"$log"
		pass "$name"
	else
		fail "$name"
	fi
}

# A make of our own: the caller's make flags (a jobserver, -j) do not
# belong to it.
run_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make --no-print-directory BUILD="$build" "$@"
}

# has_mode FILE MODE: FILE is a regular file with permissions MODE (755).
has_mode() {
	if [ -f "$1" ] && [ "$(stat -c %a "$1")" = "$2" ]; then
		return 0
	fi
	ls -l "$1"
	return 1
}

# The installed pages are the sources.
same_pages() {
	cmp man/forklift.8 "$man8" && cmp man/forklift.ini.5 "$man5"
}

# man(1) given the installed tree finds both pages there.
man_finds_pages() {
	mp=$dest$prefix/share/man
	[ "$(man -M "$mp" -w 8 forklift)" = "$man8" ] &&
	    [ "$(man -M "$mp" -w 5 forklift.ini)" = "$man5" ]
}

# gone FILE...: none of the files exists.
gone() {
	for f in "$@"; do
		if [ -e "$f" ]; then
			echo "$f is still there"
			return 1
		fi
	done
}

# The files under a directory, relative to it, sorted.
files_under() {
	(cd "$1" && find . -type f | sed 's|^\./||' | sort)
}

# 1: install builds and installs.
check "make install DESTDIR=... PREFIX=$prefix" \
    run_make install DESTDIR="$dest" PREFIX="$prefix"

# 2: the binary is in sbin, executable by all, and runs.
check "binary installed as $prefix/sbin/forklift, mode 755" \
    has_mode "$bin" 755
if out=$("$bin" -V 2>&1) && echo "$out" | grep -q '^forklift [0-9]'; then
	pass "forklift -V prints the version ($out)"
else
	echo "$out" >"$log"
	fail "forklift -V prints the version"
fi

# 3: the manual pages are the sources, readable by all, and man(1) finds
# them in the installed tree.
check "forklift.8 installed in man8, mode 644" has_mode "$man8" 644
check "forklift.ini.5 installed in man5, mode 644" has_mode "$man5" 644
check "installed pages are the sources" same_pages
if command -v man >/dev/null 2>&1; then
	check "man -M finds forklift(8) and forklift.ini(5)" man_finds_pages
fi

# 4: the production sample is in /etc/forklift and checks ok.
check "config installed as /etc/forklift/forklift.ini" \
    cmp etc/production.ini "$conf"
if out=$("$bin" -t -c "$conf" 2>&1) && [ "$out" = "$conf: ok" ]; then
	pass "installed forklift -t -c on the installed config says ok"
else
	echo "$out" >"$log"
	fail "installed forklift -t -c on the installed config says ok"
fi

# 5: the systemd unit and the logrotate snippet, if installed.
if [ "$extras" = yes ]; then
	check "unit installed in $prefix/lib/systemd/system, mode 644" \
	    has_mode "$unit" 644
	check "logrotate snippet installed as /etc/logrotate.d/forklift" \
	    has_mode "$rotate" 644
	check "unit runs $prefix/sbin/forklift" \
	    grep -q "^ExecStart=$prefix/sbin/forklift " "$unit"
	# With another prefix, the unit and the snippet name that binary.
	if run_make install DESTDIR="$dest2" PREFIX=/usr >"$log" 2>&1 &&
	    grep -q '^ExecStart=/usr/sbin/forklift ' \
	    "$dest2/usr/lib/systemd/system/forklift.service" >>"$log" &&
	    ! grep -q /usr/local "$dest2/usr/lib/systemd/system/forklift.service" \
	    "$dest2/etc/logrotate.d/forklift" >>"$log" 2>&1; then
		: >"$log"
		pass "PREFIX=/usr: unit and logrotate snippet name /usr/sbin"
	else
		fail "PREFIX=/usr: unit and logrotate snippet name /usr/sbin"
	fi
else
	printf 'skip: the install target installs no systemd unit yet\n'
fi

# 6: install puts nothing else under DESTDIR.
{
	echo "${prefix#/}/sbin/forklift"
	echo "${prefix#/}/share/man/man8/forklift.8"
	echo "${prefix#/}/share/man/man5/forklift.ini.5"
	echo "etc/forklift/forklift.ini"
	if [ "$extras" = yes ]; then
		echo "${prefix#/}/lib/systemd/system/forklift.service"
		echo "etc/logrotate.d/forklift"
	fi
} | sort >"$work/want"
files_under "$dest" >"$work/got"
if diff "$work/want" "$work/got" >"$log"; then
	pass "install writes exactly the expected files"
else
	fail "install writes exactly the expected files"
fi

# 7: a second install puts back what is missing and keeps a configuration
# the administrator edited.
marker="; edited by the administrator $$"
echo "$marker" >>"$conf"
rm -f "$bin" "$man8"
check "second make install succeeds" \
    run_make install DESTDIR="$dest" PREFIX="$prefix"
check "second install keeps the edited config" \
    grep -qxF "$marker" "$conf"
check "second install puts back the binary" test -x "$bin"
check "second install puts back the page" test -f "$man8"

# 8: uninstall removes the binary and the pages, keeps the config.
check "make uninstall DESTDIR=... PREFIX=$prefix" \
    run_make uninstall DESTDIR="$dest" PREFIX="$prefix"
check "uninstall removes the binary" gone "$bin"
check "uninstall removes both pages" gone "$man8" "$man5"
check "uninstall keeps the edited config" grep -qxF "$marker" "$conf"
if [ "$extras" = yes ]; then
	check "uninstall removes the unit" gone "$unit"
	check "uninstall keeps the logrotate snippet" test -f "$rotate"
fi
{
	echo "etc/forklift/forklift.ini"
	[ "$extras" = yes ] && echo "etc/logrotate.d/forklift"
} | sort >"$work/want"
files_under "$dest" >"$work/got"
if diff "$work/want" "$work/got" >"$log"; then
	pass "uninstall leaves only the configuration files"
else
	fail "uninstall leaves only the configuration files"
fi

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
