# chat - strict turn-taking two-party chat over TCP
#
# Targets:
#   make            build ./chat and its manual page, chat.1
#   make chat.1     the manual page, made from the README by tests/man.awk
#   make demo       build, then play a scripted conversation on loopback
#   make test       unit tests, black-box tests, expect and tmux tests,
#                   the manual page and make install, soak
#   make bench      time chat against a bare C floor (reports, never fails
#                   on time; fails if a transcript is wrong)
#   make lint       cppcheck and clang-tidy over chat.c (both of its
#                   platform paths), chat.h, tests/*.c, tests/bench/*.c
#   make check-asan the tests of make test on an ASan+UBSan build
#   make check-valgrind
#                   a listener's long life under valgrind: no error, no
#                   leak, no descriptor left open
#   make check-portable
#                   make test on the portable path (pselect, fcntl, two
#                   listening sockets as on OpenBSD), forced on Linux
#   make check-musl make test's unit, black-box and expect suites on a
#                   static musl build (musl-gcc)
#   make check-armhf
#                   the black-box suite on an armhf build, under qemu-arm
#   make cross      compile and link for macOS (x86_64, aarch64) and musl
#                   (x86_64, armhf, i386) with zig cc, warnings as errors
#   make check-i686 the black-box suite on the i386 musl build (zig cc)
#   make fuzz       replay tests/fuzz, then fuzz framing and escaping for
#                   FUZZ_SECS seconds (default 60); crashes are kept
#   make install    install into $(DESTDIR)$(PREFIX): bin/chat, the
#                   manual page share/man/man1/chat.1 and the README as
#                   share/doc/chat/README (PREFIX=/usr/local; DESTDIR= for
#                   staging)
#   make uninstall  remove them again
#   make clean      remove what the build made
#   make help       this list
#
# Portable make: GNU make 3.81 and later, and BSD make (bmake), for every
# target; nothing here is a GNU make function.

PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
DOCDIR = $(PREFIX)/share/doc/chat
AWK = awk
CFLAGS ?= -g
# Ours come first so that the user's CFLAGS can override them. -O2 is
# ours, not CFLAGS's default: BSD make has a CFLAGS of its own (-O0).
CHAT_CFLAGS = -std=c11 -O2 -Wall -Wextra -pedantic $(CFLAGS)

all: chat chat.1

chat: chat.c chat.h
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ chat.c $(LDFLAGS)

# The manual page is the README, converted (see tests/man.awk). Its version
# is chat.h's CHAT_VERSION; its date, that of the last commit that changed
# the README (the file's own time is that of the checkout), or today's
# where there is no git history, as in a tarball. Written aside first, so
# that a failed run leaves no half page. LC_ALL=C: the converter decodes
# UTF-8 by byte.
chat.1: README chat.h tests/man.awk
	@version=$$(sed -n 's/^#define CHAT_VERSION[^"]*"\([^"]*\)".*/\1/p' \
	    chat.h); \
	date=$$(git log -1 --format=%cd --date=short -- README 2>/dev/null); \
	[ -n "$$date" ] || date=$$(date +%Y-%m-%d); \
	echo "LC_ALL=C $(AWK) -v version=$$version -v date=$$date" \
	    "-f tests/man.awk README > $@"; \
	LC_ALL=C $(AWK) -v version="$$version" -v date="$$date" \
	    -f tests/man.awk README > $@.tmp || { rm -f $@.tmp; exit 1; }; \
	mv $@.tmp $@

# The unit tests link chat.c itself, its main renamed out of the way.
tests/chat-lib.o: chat.c chat.h
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -Dmain=chat_main -c -o $@ chat.c

tests/unit: tests/unit.c tests/chat-lib.o chat.h
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -I. -o $@ tests/unit.c \
	    tests/chat-lib.o $(LDFLAGS)

# What the shell suites ask the system, the same way everywhere.
tests/probe: tests/probe.c
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ tests/probe.c $(LDFLAGS)

demo: chat
	@sh tests/demo.sh

# tests/man.sh installs with the make that runs it (bmake test, bmake),
# named through a variable of ours: GNU make runs a line that says $(MAKE)
# even under make -n.
TEST_MAKE = $(MAKE)

test: chat tests/unit tests/probe
	./tests/unit
	bash tests/blackbox.sh
	@sh tests/expect.sh tests/interactive.exp
	@sh tests/expect.sh tests/editor.exp
	bash tests/screen.sh
	MAKE=$(TEST_MAKE) bash tests/man.sh
	bash tests/soak.sh

tests/bench/floor: tests/bench/floor.c
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ tests/bench/floor.c $(LDFLAGS)

tests/bench/stamp: tests/bench/stamp.c
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ tests/bench/stamp.c $(LDFLAGS)

tests/bench/rusage: tests/bench/rusage.c
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ tests/bench/rusage.c $(LDFLAGS)

bench: chat tests/bench/floor tests/bench/stamp tests/bench/rusage
	bash tests/bench/bench.sh

# === Checks: sanitizers, valgrind, fuzzing, lint ============================
# Their builds go under tests/out (never over ./chat), made by clang with
# fixed flags: CLANG= picks another clang.
CLANG ?= clang
SAN_FLAGS = -std=c11 -Wall -Wextra -pedantic -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_OUT = tests/out/asan

$(ASAN_OUT)/chat: chat.c chat.h
	@mkdir -p $(ASAN_OUT)
	$(CLANG) $(CPPFLAGS) $(SAN_FLAGS) -o $@ chat.c

$(ASAN_OUT)/chat-lib.o: chat.c chat.h
	@mkdir -p $(ASAN_OUT)
	$(CLANG) $(CPPFLAGS) $(SAN_FLAGS) -Dmain=chat_main -c -o $@ chat.c

$(ASAN_OUT)/unit: tests/unit.c $(ASAN_OUT)/chat-lib.o chat.h
	$(CLANG) $(CPPFLAGS) $(SAN_FLAGS) -I. -o $@ tests/unit.c \
	    $(ASAN_OUT)/chat-lib.o

# tests/asan.sh runs the suites of make test on this build and collects
# the sanitizers' reports (see there for their options).
check-asan: $(ASAN_OUT)/chat $(ASAN_OUT)/unit tests/probe
	bash tests/asan.sh $(ASAN_OUT)

check-valgrind: chat tests/probe
	bash tests/valgrind.sh

# === Other builds: the portable path, musl, armhf, cross-compiles ==========
# Each under tests/out/NAME, run by the suites of make test (CHAT=path).

# The path every system but Linux takes (see chat.c's Platform), forced on
# Linux, and the listener in two sockets as OpenBSD needs (CHAT_V6ONLY).
PORTABLE_OUT = tests/out/portable
PORTABLE_FLAGS = -DCHAT_PORTABLE -DCHAT_V6ONLY

$(PORTABLE_OUT)/chat: chat.c chat.h
	@mkdir -p $(PORTABLE_OUT)
	$(CC) $(CPPFLAGS) $(PORTABLE_FLAGS) $(CHAT_CFLAGS) -o $@ chat.c \
	    $(LDFLAGS)

$(PORTABLE_OUT)/unit: tests/unit.c chat.c chat.h
	@mkdir -p $(PORTABLE_OUT)
	$(CC) $(CPPFLAGS) $(PORTABLE_FLAGS) $(CHAT_CFLAGS) -Dmain=chat_main \
	    -c -o $(PORTABLE_OUT)/chat-lib.o chat.c
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -I. -o $@ tests/unit.c \
	    $(PORTABLE_OUT)/chat-lib.o $(LDFLAGS)

check-portable: $(PORTABLE_OUT)/chat $(PORTABLE_OUT)/unit tests/probe
	./$(PORTABLE_OUT)/unit
	CHAT=$$PWD/$(PORTABLE_OUT)/chat bash tests/blackbox.sh
	@CHAT=$$PWD/$(PORTABLE_OUT)/chat sh tests/expect.sh \
	    tests/interactive.exp
	@CHAT=$$PWD/$(PORTABLE_OUT)/chat sh tests/expect.sh tests/editor.exp
	CHAT=$$PWD/$(PORTABLE_OUT)/chat bash tests/screen.sh
	CHAT=$$PWD/$(PORTABLE_OUT)/chat bash tests/soak.sh

# musl, linked statically (Debian's musl-tools).
MUSL_CC = musl-gcc
MUSL_OUT = tests/out/musl

$(MUSL_OUT)/chat: chat.c chat.h
	@mkdir -p $(MUSL_OUT)
	$(MUSL_CC) -static $(CHAT_CFLAGS) -o $@ chat.c

$(MUSL_OUT)/probe: tests/probe.c
	@mkdir -p $(MUSL_OUT)
	$(MUSL_CC) -static $(CHAT_CFLAGS) -o $@ tests/probe.c

$(MUSL_OUT)/unit: tests/unit.c chat.c chat.h
	@mkdir -p $(MUSL_OUT)
	$(MUSL_CC) $(CHAT_CFLAGS) -Dmain=chat_main -c \
	    -o $(MUSL_OUT)/chat-lib.o chat.c
	$(MUSL_CC) -static $(CHAT_CFLAGS) -I. -o $@ tests/unit.c \
	    $(MUSL_OUT)/chat-lib.o

check-musl: $(MUSL_OUT)/chat $(MUSL_OUT)/unit $(MUSL_OUT)/probe
	./$(MUSL_OUT)/unit
	CHAT=$$PWD/$(MUSL_OUT)/chat PROBE=$$PWD/$(MUSL_OUT)/probe \
	    bash tests/blackbox.sh
	@CHAT=$$PWD/$(MUSL_OUT)/chat sh tests/expect.sh tests/interactive.exp
	@CHAT=$$PWD/$(MUSL_OUT)/chat sh tests/expect.sh tests/editor.exp

# armhf (32-bit ARM, hard float), run by qemu-arm with the ARM C library
# of Debian's cross compiler (gcc-arm-linux-gnueabihf, qemu-user). Its
# glibc has the host's words for errors: the host's tests/probe serves.
ARMHF_CC = arm-linux-gnueabihf-gcc
ARMHF_LIBC = /usr/arm-linux-gnueabihf
ARMHF_OUT = tests/out/armhf

$(ARMHF_OUT)/chat: chat.c chat.h
	@mkdir -p $(ARMHF_OUT)
	$(ARMHF_CC) $(CHAT_CFLAGS) -o $@ chat.c

check-armhf: $(ARMHF_OUT)/chat tests/probe
	CHAT=$$PWD/$(ARMHF_OUT)/chat CHAT_EMULATOR="qemu-arm -L $(ARMHF_LIBC)" \
	    bash tests/blackbox.sh

# Compiled and linked, never run: macOS (zig cc ships its libc headers)
# and musl on three architectures. ZIG= names the compiler.
ZIG = zig
CROSS_OUT = tests/out/cross
CROSS_TARGETS = x86_64-macos aarch64-macos x86_64-linux-musl \
	arm-linux-musleabihf x86-linux-musl
CROSS_FLAGS = -std=c11 -Wall -Wextra -pedantic -Werror -O2

# Each output is checked to be what its target runs: Mach-O for the
# target's CPU, or ELF of the target's class and machine (e_machine, at
# byte 18: 3e00 x86-64, 0300 i386, 2800 ARM).
cross:
	@mkdir -p $(CROSS_OUT)
	@for t in $(CROSS_TARGETS); do \
		out=$(CROSS_OUT)/chat-$$t; \
		echo "$(ZIG) cc -target $$t $(CROSS_FLAGS) -o $$out chat.c"; \
		$(ZIG) cc -target $$t $(CROSS_FLAGS) -o $$out chat.c || exit 1; \
		head=$$(od -An -tx1 -N20 $$out | tr -d ' \n'); \
		machine=$$(echo "$$head" | cut -c37-40); \
		head=$$(echo "$$head" | cut -c1-16); \
		case $$t:$$head:$$machine in \
		x86_64-macos:cffaedfe07000001:*) kind="Mach-O x86_64" ;; \
		aarch64-macos:cffaedfe0c000001:*) kind="Mach-O arm64" ;; \
		x86_64-linux-*:7f454c4602*:3e00) kind="ELF 64-bit x86-64" ;; \
		x86-linux-*:7f454c4601*:0300) kind="ELF 32-bit i386" ;; \
		arm-linux-*:7f454c4601*:2800) kind="ELF 32-bit ARM" ;; \
		*) echo "cross: $$out is not for $$t: $$head $$machine" >&2; \
		    exit 1 ;; \
		esac; \
		echo "cross: $$out: $$kind"; \
	done

# The i386 musl build runs here as it is (x86_64 Linux runs 32-bit code):
# the black-box suite on it, with a probe of the same C library.
I686_OUT = tests/out/i686

check-i686:
	@mkdir -p $(I686_OUT)
	$(ZIG) cc -target x86-linux-musl $(CROSS_FLAGS) -o $(I686_OUT)/chat \
	    chat.c
	$(ZIG) cc -target x86-linux-musl $(CROSS_FLAGS) \
	    -o $(I686_OUT)/probe tests/probe.c
	CHAT=$$PWD/$(I686_OUT)/chat PROBE=$$PWD/$(I686_OUT)/probe \
	    bash tests/blackbox.sh

# libFuzzer: the harness and a copy of chat.c built with coverage.
FUZZ_SECS ?= 60
FUZZ_OUT = tests/out/fuzz
FUZZ_FLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
# Longest generated input: the line limit comes from the input (see the
# harness), so short inputs reach the over-limit paths; the corpus holds
# the long ones.
FUZZ_MAXLEN ?= 4096

$(FUZZ_OUT)/chat-lib.o: chat.c chat.h
	@mkdir -p $(FUZZ_OUT)
	$(CLANG) $(CPPFLAGS) $(FUZZ_FLAGS) \
	    -fsanitize=fuzzer-no-link,address,undefined -Dmain=chat_main \
	    -c -o $@ chat.c

$(FUZZ_OUT)/fuzz_frames: tests/fuzz_frames.c $(FUZZ_OUT)/chat-lib.o chat.h
	$(CLANG) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined \
	    -I. -o $@ tests/fuzz_frames.c $(FUZZ_OUT)/chat-lib.o

# First every saved input once (the seeds, and the crashes found before),
# then FUZZ_SECS seconds of fuzzing. A crash found is kept in
# tests/fuzz/regressions, so that every later run replays it.
fuzz: $(FUZZ_OUT)/fuzz_frames
	@rm -rf $(FUZZ_OUT)/crashes
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/crashes tests/fuzz/regressions
	@set -- tests/fuzz/corpus/* tests/fuzz/regressions/*; \
	for f; do [ -e "$$f" ] && set -- "$$@" "$$f"; shift; done; \
	if [ $$# -gt 0 ]; then ./$(FUZZ_OUT)/fuzz_frames "$$@"; fi
	@status=0; ./$(FUZZ_OUT)/fuzz_frames -max_total_time=$(FUZZ_SECS) \
	    -max_len=$(FUZZ_MAXLEN) -timeout=10 -print_final_stats=1 \
	    -dict=tests/fuzz/frames.dict \
	    -artifact_prefix=$(FUZZ_OUT)/crashes/ \
	    $(FUZZ_OUT)/corpus tests/fuzz/corpus || status=$$?; \
	for f in $(FUZZ_OUT)/crashes/*; do \
		[ -e "$$f" ] || continue; \
		cp "$$f" tests/fuzz/regressions/; \
		echo "fuzz: saved tests/fuzz/regressions/$${f##*/}" >&2; \
		status=1; \
	done; \
	if [ $$status -ne 0 ]; then echo "fuzz: FAILED" >&2; exit 1; fi

# Static checks. cppcheck: KNF declares a function's locals at its top
# (variableScope) and writes an empty loop body as "continue;"
# (redundantContinue); those are the style, not defects.
CPPCHECK_FLAGS = --enable=warning,style,performance,portability \
	--error-exitcode=1 --inline-suppr --std=c11 --library=posix -q \
	--suppress=variableScope --suppress=redundantContinue
#
# clang-tidy: whole families, minus the checks below, each for its reason:
TIDY_ON = -*,bugprone-*,cert-*,clang-analyzer-*,misc-*,performance-*
TIDY_OFF1 = -bugprone-easily-swappable-parameters,-cert-err33-c
TIDY_OFF2 = -clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
TIDY_CHECKS = $(TIDY_ON),portability-*,$(TIDY_OFF1),$(TIDY_OFF2),-cert-dcl51-cpp
#   easily-swappable-parameters: (fd, fd) and (int, int) pairs are
#     everywhere in POSIX code; the names say which is which.
#   cert-err33-c: snprintf cuts names and status lines on purpose, and
#     stderr's errors are ignored by design (see err_write()).
#   insecureAPI.DeprecatedOrUnsafeBufferHandling: asks for C11 Annex K
#     (memcpy_s...), which glibc does not have.
#   cert-dcl51-cpp: a C++ rule (alias of bugprone-reserved-identifier).
# Feature-test macros are the C library's names for us to define.
TIDY_FTM = _GNU_SOURCE;_POSIX_C_SOURCE
TIDY_ALLOW = {key: bugprone-reserved-identifier.AllowedIdentifiers, \
	value: "$(TIDY_FTM)"}, {key: cert-dcl37-c.AllowedIdentifiers, \
	value: "$(TIDY_FTM)"}
TIDY_CONFIG = {CheckOptions: [$(TIDY_ALLOW)]}
# The tests also build byte strings with memcpy (they are not C strings),
# feed bidi controls to display_escape on purpose, and strcpy into buffers
# sized for the literal.
TIDY_TEST_OFF = -bugprone-not-null-terminated-result,$(TIDY_TEST_OFF2)
TIDY_TEST_OFF2 = -misc-misleading-bidirectional,$(TIDY_TEST_OFF3)
TIDY_TEST_OFF3 = -clang-analyzer-security.insecureAPI.strcpy
TIDY_TEST_CHECKS = $(TIDY_CHECKS),$(TIDY_TEST_OFF)
TIDY_FLAGS = --quiet --warnings-as-errors='*' --header-filter='chat\.h' \
	--config='$(TIDY_CONFIG)'
TIDY_CC_FLAGS = -std=c11 -Wall -Wextra -pedantic -I. $(CPPFLAGS)
# (Expanded by the shell: make has no portable wildcard.)
LINT_TESTS = tests/*.c tests/bench/*.c

lint:
	cppcheck $(CPPCHECK_FLAGS) -I. chat.c $(LINT_TESTS)
	clang-tidy $(TIDY_FLAGS) --checks='$(TIDY_CHECKS)' chat.c -- \
	    $(TIDY_CC_FLAGS)
	clang-tidy $(TIDY_FLAGS) --checks='$(TIDY_CHECKS)' chat.c -- \
	    $(TIDY_CC_FLAGS) $(PORTABLE_FLAGS)
	clang-tidy $(TIDY_FLAGS) --checks='$(TIDY_TEST_CHECKS)' \
	    $(LINT_TESTS) -- $(TIDY_CC_FLAGS)

install: chat chat.1
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR)
	cp chat $(DESTDIR)$(BINDIR)/chat
	chmod 755 $(DESTDIR)$(BINDIR)/chat
	cp chat.1 $(DESTDIR)$(MANDIR)/man1/chat.1
	chmod 644 $(DESTDIR)$(MANDIR)/man1/chat.1
	cp README $(DESTDIR)$(DOCDIR)/README
	chmod 644 $(DESTDIR)$(DOCDIR)/README

# The doc directory is chat's own: it goes too, if it is empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/chat $(DESTDIR)$(MANDIR)/man1/chat.1 \
	    $(DESTDIR)$(DOCDIR)/README
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -f chat chat.1 chat.1.tmp tests/unit tests/chat-lib.o tests/probe \
	    tests/bench/floor tests/bench/stamp tests/bench/rusage
	rm -rf tests/out

help:
	@sed -n '3,/^$$/s/^# //p' Makefile

.PHONY: all bench demo test install uninstall clean help lint check-asan \
	check-valgrind check-portable check-musl check-armhf cross check-i686 \
	fuzz
