# tests/lib.sh - what the shell suites (blackbox.sh, soak.sh, valgrind.sh)
# share: failing a test with a reason, waiting for a line with a deadline,
# raw chat/1 peers on fd 3, assertions on output, waiting for a chat and
# finding its pid, reading /proc, and running the tests, each in a
# subshell in its own directory. A suite sets SUITE (its name), CHAT and WAIT, sources
# this file, defines test_* functions and ends with: suite_main "$@".
#
# A test runs with T set to its directory (also its working directory),
# may write a PID per line to $T/pids for the runner to stop afterwards,
# and may note measurements (note TEXT) to print under its PASS line.
# SUITE_KEEP=1 (BLACKBOX_KEEP=1, SOAK_KEEP=1...) keeps the work directory.
#
# Portable: bash 4 or later, timeout(1) (GNU coreutils' timeout or gtimeout,
# FreeBSD's), pgrep, perl, and tests/probe (built by make test with the
# C library of the chat under test; PROBE=path names another). On Linux the
# helpers read /proc; elsewhere a test that needs what only /proc tells
# (where a process sleeps, its peak RSS, its descriptors, TCP queues) says
# SKIPPED with the reason. CHAT_TESTS_PORTABLE=1 takes the other systems'
# way on Linux too, to test it. CHAT_EMULATOR="qemu-arm -L DIR" runs CHAT,
# a binary for another machine, under that emulator.

declare -A PID	# role -> pid of the timeout(1) that runs the role's chat
WORK=		# the suite's temporary directory
T=		# the current test's directory in WORK

# === The platform ============================================================

# LINUX: 1 where the helpers may read /proc.
LINUX=
[[ $(uname -s) == Linux && ${CHAT_TESTS_PORTABLE:-} != 1 ]] && LINUX=1
TIMEOUT=timeout		# GNU's or FreeBSD's; Homebrew's coreutils: gtimeout
command -v timeout > /dev/null 2>&1 || TIMEOUT=gtimeout
PROBE=${PROBE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/probe}

# linux_only WHAT: end the current test as skipped where WHAT, which only
# Linux's /proc tells, cannot be read.
linux_only() {
	[[ $LINUX ]] && return
	printf 'needs %s (Linux only)\n' "$1" > "$T/skipped"
	exit 0
}

# needs_command COMMAND: end the current test as skipped where COMMAND is
# not installed (.ci/run installs what the suites need).
needs_command() {
	command -v "$1" > /dev/null 2>&1 && return
	printf 'needs %s, which is not installed\n' "$1" > "$T/skipped"
	exit 0
}

# errno_text NAME: print the C library's text for the errno NAME: that of
# tests/probe (the C library of the chat under test) if it knows NAME,
# else perl's (glibc and musl agree on ENOENT, EBADF, EISDIR).
errno_text() {
	"$PROBE" strerror "$1" 2>/dev/null ||
	    perl -MPOSIX -e 'no strict "refs";
		$! = &{"POSIX::$ARGV[0]"}(); print "$!\n"' "$1"
}

# now_us: set NOW to the time in microseconds (bash 5's EPOCHREALTIME;
# perl's for bash 4).
now_us() {
	if [[ ${EPOCHREALTIME:-} ]]; then
		NOW=${EPOCHREALTIME/./}
	else
		NOW=$(perl -MTime::HiRes=time -e 'printf "%.0f", time * 1e6')
	fi
}

# quoted TEXT: TEXT quoted as the shell would read it, for messages
# (bash 4.4's ${x@Q} elsewhere).
quoted() {
	printf '%q' "$1"
}

# === Reporting ===============================================================

# fail WHY: end the current test (it runs in a subshell) as failed.
fail() {
	printf '%s\n' "$*" > "$T/why"
	exit 1
}

# show FILE: FILE's first bytes, quoted on one line, for a failure message.
# A FIFO (a test's stderr pipe) is not read: that could wait forever, or
# take the bytes the test reads next.
show() {
	local text

	[[ -e $1 ]] || { printf '(no file %s)' "$1"; return; }
	[[ -p $1 ]] && { printf '(a FIFO, %s)' "$1"; return; }
	text=$(head -c 240 -- "$1" | cat -v)
	text=${text//$'\n'/'\n'}
	printf '"%s" (%s bytes)' "$text" "$(wc -c < "$1")"
}

# note TEXT: a measurement worth reporting, printed under the test's PASS.
note() {
	printf '    %s\n' "$*" >> "$T/notes"
}

# === Waiting with a deadline =================================================

# until_deadline SECS COMMAND...: re-run COMMAND every 20 ms until it
# succeeds (true) or SECS seconds have passed (false).
until_deadline() {
	local end

	now_us
	end=$(( NOW + $1 * 1000000 ))
	shift
	until "$@"; do
		now_us
		(( NOW < end )) || return 1
		sleep 0.02
	done
}

# has_line FILE TEXT: whether FILE holds TEXT as a whole, complete line.
has_line() {
	local line

	[[ -f $1 ]] || return 1
	while IFS= read -r line; do
		[[ $line == "$2" ]] && return 0
	done < "$1"
	return 1
}

# has_line_re FILE ERE: whether a complete line of FILE matches ERE as a
# whole; MATCH is set to the first such line.
has_line_re() {
	local line re="^($2)\$"

	[[ -f $1 ]] || return 1
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			MATCH=$line
			return 0
		fi
	done < "$1"
	return 1
}

# wait_line FILE TEXT: wait until FILE holds the line TEXT.
wait_line() {
	until_deadline "$WAIT" has_line "$1" "$2" ||
	    fail "no line \"$2\" in $1 within $WAIT s; it holds $(show "$1")"
}

# wait_line_re FILE ERE: wait until a line of FILE matches ERE; set MATCH.
wait_line_re() {
	until_deadline "$WAIT" has_line_re "$1" "$2" ||
	    fail "no line matching /$2/ in $1 within $WAIT s;" \
	    "it holds $(show "$1")"
}

# === Raw chat/1 peers on fd 3 and held FIFOs ===============================

# fifo_hold ROLE FD: make ROLE.in a FIFO held open on FD, so that ROLE's chat
# gets input only when the test writes to FD, and end of input only when the
# test closes FD.
fifo_hold() {
	mkfifo "$1.in" || fail "mkfifo $1.in failed"
	eval "exec $2<>\"\$1.in\""
}

# raw_send FORMAT [ARG...]: the raw peer sends what printf writes.
raw_send() {
	printf "$@" >&3 || fail "raw peer: cannot send, the connection is gone"
}

# raw_expect LINE [SECS]: the next line the raw peer reads is LINE.
raw_expect() {
	local line status want=${1:0:80} got

	IFS= read -r -t "${2:-$WAIT}" line <&3
	status=$?
	got=${line:0:80}
	(( status > 128 )) &&
	    fail "raw peer: nothing within ${2:-$WAIT} s, expected $(quoted "$want")"
	(( status == 0 )) ||
	    fail "raw peer: connection closed after $(quoted "$got"), expected $(quoted "$want")"
	[[ $line == "$1" ]] || fail "raw peer read $(quoted "$got"), expected $(quoted "$want")"
}

# raw_expect_close: chat closes the connection; nothing more comes.
raw_expect_close() {
	local line status got

	IFS= read -r -t "$WAIT" line <&3
	status=$?
	got=${line:0:80}
	(( status > 128 )) && fail "raw peer: connection still open $WAIT s on"
	if (( status == 0 )) || [[ $line ]]; then
		fail "raw peer read $(quoted "$got"), expected the connection to close"
	fi
}

# raw_close: the raw peer closes its connection.
raw_close() {
	exec 3<&-
}

# === What the user sees, and chat processes ==================================
# A suite starts its chats in the background into PID[ROLE], with stdout
# ROLE.out and stderr ROLE.err, under timeout(1) (status 124 or 137).

# expect_bytes FILE FORMAT [ARG...]: FILE holds exactly the bytes that
# printf FORMAT ARG... writes.
expect_bytes() {
	local file=$1

	shift
	printf "$@" > "$file.want"
	cmp -s -- "$file" "$file.want" ||
	    fail "$file is $(show "$file"), expected $(show "$file.want")"
}

# expect_line FILE TEXT: FILE holds the line TEXT.
expect_line() {
	has_line "$1" "$2" ||
	    fail "no line \"$2\" in $1; it holds $(show "$1")"
}

# expect_line_re FILE ERE: a line of FILE matches ERE; set MATCH.
expect_line_re() {
	has_line_re "$1" "$2" ||
	    fail "no line matching /$2/ in $1; it holds $(show "$1")"
}

# chat_status ROLE: wait for ROLE's chat to exit; set STATUS. One stopped
# at its time limit fails the test.
chat_status() {
	wait "${PID[$1]}"
	STATUS=$?
	if (( STATUS == 124 || STATUS == 137 )); then
		fail "$1: chat still running at its time limit, stopped;" \
		    "stderr $(show "$1.err")"
	fi
}

# chat_finish ROLE STATUS: wait for ROLE's chat to exit; check its status.
chat_finish() {
	chat_status "$1"
	(( STATUS == $2 )) ||
	    fail "$1: exit status $STATUS, expected $2; stderr $(show "$1.err")"
}

# chat_pid ROLE: set CPID to the pid of ROLE's chat (timeout's child),
# waiting for timeout to have started it.
chat_pid() {
	CPID=
	until_deadline "$WAIT" child_of "${PID[$1]}" ||
	    fail "$1: cannot find its chat process"
}

# child_of PID: set CPID to PID's first child, if it has one yet.
child_of() {
	if [[ $LINUX ]]; then
		read -r CPID _ 2>/dev/null < "/proc/$1/task/$1/children"
	else
		CPID=$(pgrep -P "$1" | head -n 1)
	fi
	[[ $CPID ]]
}

# === Reading /proc ==========================================================

# proc_field PID FILE KEY: set FIELD to the number after "KEY:" in
# /proc/PID/FILE (status, io). The file is read in one pass: read line by
# line, bash seeks back after each line, and each seek makes the kernel
# write the file anew, in which the lines of a running process can move
# ("R (running)" is shorter than "S (sleeping)").
proc_field() {
	local text= re=$'\n'"$3:[[:space:]]*([0-9]+)"

	linux_only "$3 of /proc/PID/$2"
	IFS= read -r -d '' text < "/proc/$1/$2"
	[[ $text ]] || fail "process $1 is gone: no /proc/$1/$2"
	[[ $'\n'$text =~ $re ]] ||
	    fail "no $3 in /proc/$1/$2 (is it a zombie?):" \
	    "$(head -c 300 "/proc/$1/stat")"
	FIELD=${BASH_REMATCH[1]}
}

# proc_kb PID FIELD: set KB to FIELD of /proc/PID/status (VmRSS, VmHWM), kB.
proc_kb() {
	proc_field "$1" status "$2"
	KB=$FIELD
}

# RSS_MAX_KB: the most peak RSS (VmHWM) a chat may reach, either side, in
# any case the suites try: a plain build's ceiling.
RSS_MAX_KB=2048

# sanitized: whether CHAT is built with a sanitizer whose shadow memory
# makes its RSS mean nothing (RSS_MAX_KB is for a plain build).
sanitized() {
	grep -aqE '__(asan|msan|tsan|hwasan)_init' -- "$CHAT"
}

# rss_within_ceiling PID ROLE: ROLE's chat (PID) has peaked at RSS_MAX_KB
# or less; noted. A sanitizer build is noted as not checked, not skipped
# (CI fails a skip, and check-asan runs these suites).
rss_within_ceiling() {
	if [[ ! $LINUX ]]; then
		note "$2: peak RSS not measured (Linux /proc only)"
		return
	fi
	proc_kb "$1" VmHWM
	if [[ ${CHAT_EMULATOR:-} ]]; then
		note "$2: VmHWM $KB kB; under ${CHAT_EMULATOR%% *}, which it" \
		    "measures: ceiling not checked"
		return
	fi
	if sanitized; then
		note "$2: VmHWM $KB kB; sanitizer build: ceiling not checked"
		return
	fi
	note "$2: VmHWM $KB kB (ceiling $RSS_MAX_KB kB)"
	(( KB <= RSS_MAX_KB )) ||
	    fail "$2: VmHWM $KB kB, more than $RSS_MAX_KB kB"
}

# sleeps_in PID GLOB...: whether process PID is asleep in the kernel at a
# place (/proc/PID/wchan) that matches one of the GLOBs. Only a task that
# has switched out has a wchan.
sleeps_in() {
	local wchan glob

	linux_only "where a process sleeps (wchan)"
	# No newline at its end, so read(1) would report its end: take the
	# file whole instead.
	{ wchan=$(< "/proc/$1/wchan"); } 2>/dev/null || return 1
	shift
	for glob; do
		# shellcheck disable=SC2053	# (a glob on purpose)
		[[ $wchan == $glob ]] && return 0
	done
	return 1
}

# turned_away_is FILE N: whether FILE's "Turned away" lines report N
# connections in all: one for each "Turned away ADDR:PORT: WHY", N for
# each summary "Turned away N more: ..." (the listener writes at most one
# such line a second).
turned_away_is() {
	local line total=0 re='^Turned away ([0-9]+) more: '

	[[ -f $1 ]] || return 1
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			(( total += BASH_REMATCH[1] ))
		elif [[ $line == 'Turned away '* ]]; then
			(( total += 1 ))
		fi
	done < "$1"
	(( total == $2 ))
}

# stranger_totals FILE: from FILE's lines about strangers (at most one a
# second), set BUSY (turned away busy), FULL (turned away: full, or too
# many from the address) and DROPPED (dropped before HELLO: the errors
# "chat: peer ..."), counting each single line as one and each summary
# "Turned away N more: ..." as its numbers; LINES to how many lines.
stranger_totals() {
	local line n re='^Turned away [0-9]+ more: (.*)$'
	local part_re='^ ?([0-9]+) (busy|full|without HELLO)$' part

	BUSY=0 FULL=0 DROPPED=0 LINES=0
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			(( LINES += 1 ))
			while IFS= read -r -d , part; do
				[[ $part =~ $part_re ]] ||
				    fail "bad summary part $(quoted "$part")"
				n=${BASH_REMATCH[1]}
				case ${BASH_REMATCH[2]} in
				busy) (( BUSY += n )) ;;
				full) (( FULL += n )) ;;
				'without HELLO') (( DROPPED += n )) ;;
				esac
			done <<< "${BASH_REMATCH[1]},"
		elif [[ $line == 'Turned away '*': busy' ]]; then
			(( BUSY += 1, LINES += 1 ))
		elif [[ $line == 'Turned away '* ]]; then
			(( FULL += 1, LINES += 1 ))
		elif [[ $line == 'chat: peer '* ]]; then
			(( DROPPED += 1, LINES += 1 ))
		fi
	done < "$1"
}

# === Running the tests =======================================================

# reap PIDFILE: stop what a test left running (timeouts pass it on to chat).
# A pid file may list pids long gone (the soak lists a thousand), which may
# be reused: a process is ours only if it also works in the test's directory.
reap() {
	local pid comm dir=${1%/*}

	[[ -f $1 ]] || return 0
	while read -r pid; do
		if [[ $LINUX ]]; then
			read -r comm 2>/dev/null < "/proc/$pid/comm" || continue
			[[ /proc/$pid/cwd -ef $dir ]] || continue
		else	# (no portable way to see its directory)
			comm=$(ps -o comm= -p "$pid") || continue
			comm=${comm##*/}
		fi
		case $comm in
		timeout|gtimeout|bash|cat) kill -TERM "$pid" 2>/dev/null ;;
		esac
	done < "$1"
}

cleanup() {
	local pids keep=${SUITE^^}_KEEP

	for pids in "$WORK"/*/pids; do
		reap "$pids"
	done
	if [[ ${!keep:-} ]]; then
		echo "$SUITE.sh: work directory kept: $WORK" >&2
	else
		rm -rf -- "$WORK"
	fi
}

# run_test NAME: run one test in a subshell of its own directory; report it.
run_test() {
	local name=$1 status why start

	now_us
	start=$NOW

	T=$WORK/$name
	mkdir -p "$T"
	(
		cd "$T" || exit 1
		# A raw peer writing to a closed connection gets EPIPE, and
		# the test reports it, instead of dying of SIGPIPE.
		trap '' PIPE
		"$name"
	) > "$T/log" 2>&1
	status=$?
	reap "$T/pids"
	if (( status == 0 )) && [[ -f $T/skipped ]]; then
		echo "SKIPPED $name: $(< "$T/skipped")"
		(( ++SKIPPED ))
		return
	fi
	if (( status == 0 )); then
		now_us
		echo "PASS $name ($(( (NOW - start) / 1000 )) ms)"
		[[ -f $T/notes ]] && cat "$T/notes"
		(( ++PASSED ))
		return
	fi
	if [[ -s $T/why ]]; then
		why=$(< "$T/why")
	else
		why="stopped with status $status: $(tail -n 1 "$T/log")"
	fi
	echo "FAIL $name: $why"
	(( ++FAILED ))
}

# suite_main [TEST...]: run the named tests, or all test_* of the suite;
# print "N passed, N failed"; exit 1 if any failed.
suite_main() {
	local tests name

	if [[ ! -x $CHAT ]]; then
		echo "$SUITE.sh: $CHAT is not built; run make" >&2
		exit 1
	fi
	if ! command -v "$TIMEOUT" > /dev/null 2>&1; then
		echo "$SUITE.sh: no timeout(1): install GNU coreutils" >&2
		exit 1
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/chat-$SUITE.XXXXXX") || exit 1
	trap cleanup EXIT
	# An emulated chat: CHAT becomes a script that runs it so.
	if [[ ${CHAT_EMULATOR:-} ]]; then
		CHAT_BINARY=$CHAT
		CHAT=$WORK/chat
		printf '#!/bin/sh\nexec %s %q "$@"\n' "$CHAT_EMULATOR" \
		    "$CHAT_BINARY" > "$CHAT"
		chmod +x "$CHAT"
	fi
	# The C library's words for the errors the tests provoke.
	E_ADDRINUSE=$("$PROBE" strerror EADDRINUSE) &&
	    E_CONNREFUSED=$("$PROBE" strerror ECONNREFUSED) &&
	    E_CONNRESET=$("$PROBE" strerror ECONNRESET) &&
	    E_MFILE=$("$PROBE" strerror EMFILE) &&
	    E_NOSPC=$("$PROBE" strerror ENOSPC) || {
		echo "$SUITE.sh: $PROBE does not work; run make tests/probe" >&2
		exit 1
	}
	trap 'exit 130' INT TERM HUP
	if (( $# )); then
		tests=("$@")
	else
		mapfile -t tests < <(sed -n 's/^\(test_[a-z0-9_]*\)() {$/\1/p' \
		    "$0")
	fi
	PASSED=0
	FAILED=0
	SKIPPED=0
	for name in "${tests[@]}"; do
		if declare -F "$name" > /dev/null; then
			run_test "$name"
		else
			echo "FAIL $name: no such test"
			(( ++FAILED ))
		fi
	done
	if (( SKIPPED )); then
		echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	else
		echo "$PASSED passed, $FAILED failed"
	fi
	exit $(( FAILED > 0 ))
}
