# forklift: the one build entry.
#
#   make            build build/forklift (and the demo backend)
#   make run        build, start the demo (three backends + forklift)
#   make check      install what is missing, build, run every test, then
#                   run them all again built with ASan and UBSan
#   make bench      forklift against nginx and HAProxy, side by side
#   make install    PREFIX=/usr/local DESTDIR=
#   make lint       cppcheck and clang-tidy;  make format  clang-format

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	?= $(PREFIX)/lib/systemd/system
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
# The shipped unit and logrotate snippet name /usr/local/sbin and /etc;
# installed, they name the binary and the configuration where they went.
INSTALL_PATHS = -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
	-e 's|/etc/forklift/|$(SYSCONFDIR)/forklift/|g'

CC	?= cc
BUILD	?= build
OPT	?= -O2
CFLAGS	?= $(OPT) -g
WARN	:= -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS += -std=gnu11 -D_GNU_SOURCE -I.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined

# Debian packages: what the build and the tests need.
DEB_PKGS := build-essential pkg-config libbsd-dev libinih-dev check \
	    libcurl4-openssl-dev mandoc man-db chromium fonts-dejavu-core \
	    valgrind clang curl
PKGS	:= libbsd inih
TEST_PKGS := check libcurl

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

ALL_CFLAGS = $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS	= $(PKG_LIBS) -lm

SRC	:= $(wildcard common/*.c worker/*.c health/*.c supervisor/*.c)
LIB_SRC	:= $(filter-out supervisor/main.c,$(SRC))
LIB_OBJ	:= $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
BACKEND_SRC := $(wildcard tests/backend/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
HARNESS_SRC := $(wildcard tests/integration/harness*.c)
# The fuzz harnesses: replayed over their corpora by every test run, and
# run under libFuzzer by `make fuzz`.
FUZZ_NAMES := request response chunked config
REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/tests/replay_%)
# Tests written as scripts; each takes the build directory as $$1.
SCRIPT_TESTS := tests/man/test_man.sh tests/install/test_install.sh \
		tests/browser/test_status_page.sh

.PHONY: all deps run check test unit integration sanitize bench install \
	uninstall lint format format-check clean fuzz

all: $(BUILD)/forklift $(BUILD)/backend

# Installs the Debian packages that are missing (as root), or says how.
deps:
	@missing=""; \
	command -v cc >/dev/null 2>&1 || missing="$$missing build-essential"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	command -v mandoc >/dev/null 2>&1 || missing="$$missing mandoc"; \
	command -v man >/dev/null 2>&1 || missing="$$missing man-db"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v valgrind >/dev/null 2>&1 || missing="$$missing valgrind"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v clang >/dev/null 2>&1 || missing="$$missing clang"; \
	for p in libbsd:libbsd-dev inih:libinih-dev check:check \
	    libcurl:libcurl4-openssl-dev; do \
		pkg-config --exists $${p%%:*} 2>/dev/null || \
		    missing="$$missing $${p#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y \
			    -qq $(DEB_PKGS) >/dev/null || exit 1; \
		else \
			echo "missing packages; run as root:"; \
			echo "  apt-get install$$missing"; exit 1; \
		fi; \
	fi

$(BUILD)/obj/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libforklift.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/forklift: $(BUILD)/obj/supervisor/main.o $(BUILD)/libforklift.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/backend: $(BACKEND_SRC) $(wildcard tests/backend/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $(BACKEND_SRC) $(LDLIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(BUILD)/libforklift.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libforklift.a \
	    $(TEST_LIBS) $(LDLIBS) -pthread

$(BUILD)/tests/integration/test_%: tests/integration/test_%.c $(HARNESS_SRC) \
    $(wildcard tests/integration/*.h) $(BUILD)/libforklift.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(HARNESS_SRC) \
	    $(BUILD)/libforklift.a $(TEST_LIBS) $(LDLIBS) -pthread

$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
    tests/fuzz/fuzz.h $(BUILD)/libforklift.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ tests/fuzz/replay.c $< \
	    $(BUILD)/libforklift.a $(LDLIBS)

# libFuzzer wants clang and its own build of every object.
FUZZ_BUILD := build/fuzzer
FUZZ_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=undefined

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
	    EXTRA_CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" \
	    $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%)
	tests/fuzz/run.sh $(FUZZ_BUILD)

$(FUZZ_BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h \
    $(FUZZ_BUILD)/libforklift.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_BUILD)/libforklift.a $(LDLIBS)

run: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh $(BUILD)

# The tests of one build: every unit test, then every integration test.
# All run even when one fails; the summary names the failures.
# The daemon runs once under valgrind, in the build without sanitizers.
test: $(BUILD)/forklift $(BUILD)/backend $(UNIT_BIN) $(INTEG_BIN) $(REPLAY_BIN)
	@FORKLIFT_BIN=$(CURDIR)/$(BUILD)/forklift \
	 BACKEND_BIN=$(CURDIR)/$(BUILD)/backend \
	 FORKLIFT_SRCDIR=$(CURDIR) \
	 tests/run-tests.sh $(BUILD) $(UNIT_BIN) $(REPLAY_BIN) $(INTEG_BIN) \
	    $(SCRIPT_TESTS) \
	    $(if $(EXTRA_CFLAGS),,tests/valgrind/test_valgrind.sh)

check: deps
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory test BUILD=build/asan OPT=-O1 \
	    EXTRA_CFLAGS="$(SAN_FLAGS)"

bench: deps all
	bench/run.sh $(BUILD)

# etc/forklift.ini is the demo; an installed system gets etc/production.ini.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/forklift \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(LOGROTATEDIR)
	install -m 755 $(BUILD)/forklift $(DESTDIR)$(SBINDIR)/forklift
	install -m 644 man/forklift.8 $(DESTDIR)$(MANDIR)/man8/forklift.8
	install -m 644 man/forklift.ini.5 $(DESTDIR)$(MANDIR)/man5/forklift.ini.5
	sed $(INSTALL_PATHS) etc/forklift.service >$(BUILD)/forklift.service
	install -m 644 $(BUILD)/forklift.service \
	    $(DESTDIR)$(UNITDIR)/forklift.service
	test -e $(DESTDIR)$(SYSCONFDIR)/forklift/forklift.ini || \
	    install -m 644 etc/production.ini \
	    $(DESTDIR)$(SYSCONFDIR)/forklift/forklift.ini
	sed $(INSTALL_PATHS) etc/forklift.logrotate >$(BUILD)/forklift.logrotate
	test -e $(DESTDIR)$(LOGROTATEDIR)/forklift || \
	    install -m 644 $(BUILD)/forklift.logrotate \
	    $(DESTDIR)$(LOGROTATEDIR)/forklift

# The configuration files (forklift.ini, the logrotate snippet) stay, as
# Debian keeps conffiles until a purge.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/forklift \
	    $(DESTDIR)$(MANDIR)/man8/forklift.8 \
	    $(DESTDIR)$(MANDIR)/man5/forklift.ini.5 \
	    $(DESTDIR)$(UNITDIR)/forklift.service

# cppcheck, then clang-tidy (checks and reasons in .clang-tidy), over the
# daemon's and the tests' sources with the build's defines and include
# path; both always run, and any finding fails.  cppcheck's variableScope
# is off because style(9) declares at the top of a function, and its
# unusedStructMember in tests/, whose tables are read inside Check's
# START_TEST, a macro cppcheck cannot expand (it reads no system header).
# clang-tidy's stderr holds only its count of warnings in system headers.
lint: LINT_TESTS = $(UNIT_SRC) $(INTEG_SRC) $(HARNESS_SRC) $(BACKEND_SRC) \
	$(wildcard tests/fuzz/*.c)
lint:
	@st=0; \
	echo "cppcheck: $(words $(SRC) $(LINT_TESTS)) files"; \
	cppcheck --quiet --error-exitcode=1 --inline-suppr \
	    --enable=warning,style,performance,portability \
	    --suppress=variableScope --suppress='unusedStructMember:tests/*' \
	    --std=c11 $(filter -D% -I%,$(CPPFLAGS) $(PKG_CFLAGS)) \
	    $(SRC) $(LINT_TESTS) || st=1; \
	echo "clang-tidy: $(words $(SRC) $(LINT_TESTS)) files"; \
	printf '%s\n' $(SRC) | xargs -P "$$(nproc)" -I{} \
	    clang-tidy --quiet {} -- $(CPPFLAGS) $(PKG_CFLAGS) \
	    2>/dev/null || st=1; \
	printf '%s\n' $(LINT_TESTS) | xargs -P "$$(nproc)" -I{} \
	    clang-tidy --quiet {} -- $(CPPFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) \
	    2>/dev/null || st=1; \
	if [ $$st -ne 0 ]; then echo "lint: findings above"; fi; \
	exit $$st

# clang-format cannot write all of style(9) (.clang-format says what it
# misses), so nothing reformats the tree: name the files to reformat in
# place, e.g. a new module written in its style.
format:
	@if [ -z "$(FILES)" ]; then \
		echo "usage: make format FILES='worker/new.c worker/new.h'"; \
		exit 2; \
	fi
	clang-format --style=file:.clang-format -i $(FILES)

# Advisory over the tree: the lines of each file that clang-format would
# change (about 11% of them, nearly all tab-aligned names and trailing
# comments that it cannot write).  Strict with FILES: make format-check
# FILES='...' fails if clang-format would change any of them.
format-check:
	@if [ -n "$(FILES)" ]; then \
		clang-format --style=file:.clang-format --dry-run --Werror \
		    $(FILES) || exit 1; \
		exit 0; \
	fi; \
	total=0; lines=0; \
	for f in $(SRC) $(wildcard */*.h); do \
		n=$$(clang-format --style=file:.clang-format "$$f" | \
		    diff "$$f" - | grep -c '^<'); \
		total=$$((total + n)); lines=$$((lines + $$(wc -l <"$$f"))); \
		[ "$$n" -eq 0 ] || printf '%6d  %s\n' "$$n" "$$f"; \
	done; \
	echo "clang-format would change $$total of $$lines lines" \
	    "(advisory: see .clang-format)"

clean:
	rm -rf build
