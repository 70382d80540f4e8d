#!/usr/bin/env bash
#
# tests/valgrind.sh - chat under valgrind's memcheck: no memory error, no
# byte left allocated and no descriptor left open but 0, 1 and 2, after a
# listener's long life: conversations in a row with chat connectors (also
# under valgrind), abusive peers in between (a bad hello, garbage, a
# frame over the limit, a peer gone mid-hello), a connector turned away
# busy while a conversation runs, a peer killed mid-conversation; then the
# listener ends at end of input, or by SIGTERM.
#
# Each chat under valgrind writes ROLE.vg; a test passes only if valgrind
# exits with the status chat should have (99 means valgrind found errors)
# and ROLE.vg shows no error, no leak and no open descriptor above 2. Like
# tests/blackbox.sh: listeners on 127.0.0.1 port 0, waits with deadlines,
# never fixed sleeps, and every chat under timeout(1).
#
# Usage: bash tests/valgrind.sh [test_name ...]
# Prints PASS or FAIL for each test, then "N passed, N failed"; exits 1 if a
# test failed. VALGRIND_KEEP=1 keeps the work directory (the .vg logs).

set -u
export LC_ALL=C		# "." in EPOCHREALTIME

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=valgrind
. "$ROOT/tests/lib.sh"
CHAT=${CHAT:-$ROOT/chat}	# CHAT=path tests another build
LIMIT=${LIMIT:-60}	# seconds a chat may run before timeout(1) stops it
WAIT=${WAIT:-20}	# seconds to wait for a line or event (valgrind is slow)
TEXT_MAX=65532		# CHAT_TEXT_MAX: the longest message text
VALGRIND=(valgrind --leak-check=full --show-leak-kinds=all
    --errors-for-leak-kinds=all --track-fds=yes --error-exitcode=99)


# === Waiting with a deadline =================================================

# has_lines FILE TEXT N: whether FILE holds the line TEXT at least N times.
has_lines() {
	local line count=0

	[[ -f $1 ]] || return 1
	while IFS= read -r line; do
		[[ $line == "$2" ]] && (( ++count ))
	done < "$1"
	(( count >= $3 ))
}

# wait_lines FILE TEXT N: wait until FILE holds the line TEXT N times.
wait_lines() {
	until_deadline "$WAIT" has_lines "$1" "$2" "$3" ||
	    fail "not $3 lines \"$2\" in $1 within $WAIT s;" \
	    "it holds $(show "$1")"
}

# === Assertions on what the user sees ========================================

# === What valgrind saw =======================================================

# vg_clean LOG: LOG, valgrind's log of one chat, shows no error, every heap
# block freed, and no descriptor open at exit but 0, 1 and 2.
vg_clean() {
	local log=$1 line fd what re_fd='^==[0-9]+== Open [^0-9]*([0-9]+):(.*)$'

	[[ -s $log ]] || fail "no valgrind log $log"
	if ! grep -Eq '^==[0-9]+== ERROR SUMMARY: 0 errors from 0 contexts' \
	    "$log"; then
		line=$(grep -Em1 'Invalid |uninitialised|Mismatched|overlap|Syscall param|in loss record' "$log")
		fail "valgrind found errors: ${line#==*== }; $(grep -E \
		    'ERROR SUMMARY' "$log") (see $log)"
	fi
	grep -Eq '^==[0-9]+== All heap blocks were freed -- no leaks are possible' "$log" ||
	    fail "heap blocks left at exit: $(grep -E 'in use at exit' "$log") (see $log)"
	grep -Eq '^==[0-9]+== FILE DESCRIPTORS: [0-9]+ open' "$log" ||
	    fail "no descriptor list in $log: did valgrind finish?"
	while IFS= read -r line; do
		[[ $line =~ $re_fd ]] || continue
		fd=${BASH_REMATCH[1]}
		what=${BASH_REMATCH[2]# }
		(( fd <= 2 )) && continue
		# valgrind 3.19 leaves its own --log-file open in the client
		# (on fd 3): that one is valgrind's, not chat's.
		[[ $what == "$log" ]] && continue
		fail "descriptor $fd left open at exit:$what (see $log)"
	done < "$log"
}

# === chat processes ==========================================================

# chat_run ROLE VG ARG...: run chat ARG... in the background under
# timeout(1), under valgrind if VG is vg (log ROLE.vg), with stdin ROLE.in,
# stdout ROLE.out, stderr ROLE.err. It inherits no other descriptor (not
# the test's FIFO holders and raw sockets, nor whatever the caller of the
# suite left open: valgrind would count them), and SIGPIPE is back to its
# default.
chat_run() {
	local role=$1 vg=$2 fd

	shift 2
	if [[ $vg == vg ]]; then
		set -- "${VALGRIND[@]}" --log-file="$T/$role.vg" "$CHAT" "$@"
	else
		set -- "$CHAT" "$@"
	fi
	(
		trap - PIPE
		for fd in /proc/"$BASHPID"/fd/*; do
			fd=${fd##*/}
			(( fd > 2 )) && eval "exec $fd>&-"
		done
		exec "$TIMEOUT" -k 2 "$LIMIT" "$@" <"$role.in" >"$role.out" \
		    2>"$role.err"
	) &
	PID[$role]=$!
	echo "$!" >> "$T/pids"
}

# vg_listen ROLE ARG...: a listener under valgrind on 127.0.0.1, port 0;
# set PORT from its "Listening on" line.
vg_listen() {
	local role=$1

	shift
	chat_run "$role" vg --listen 127.0.0.1:0 "$@"
	wait_line_re "$role.err" 'Listening on 127\.0\.0\.1:[0-9]+'
	PORT=${MATCH##*:}
}

# vg_connect ROLE: a connector under valgrind to the listener on PORT.
vg_connect() {
	chat_run "$1" vg --connect "127.0.0.1:$PORT"
}

# chat_wait ROLE STATUS: wait for ROLE's chat to exit with STATUS.
chat_wait() {
	chat_status "$1"
	if (( STATUS == 99 )) && [[ -e $1.vg ]]; then
		vg_clean "$T/$1.vg"	# says what valgrind found
		fail "$1: valgrind exit 99 (errors); see $T/$1.vg"
	fi
	(( STATUS == $2 )) ||
	    fail "$1: exit status $STATUS, expected $2; stderr $(show "$1.err")"
}

# vg_finish ROLE STATUS: ROLE's chat (under valgrind) exits with STATUS,
# and valgrind's log is clean.
vg_finish() {
	chat_wait "$1" "$2"
	vg_clean "$T/$1.vg"
}

# === Raw chat/1 peers on fd 3 ================================================

# raw_connect [FORMAT [ARG...]]: connect a raw peer to 127.0.0.1:PORT on
# fd 3 and at once send what printf FORMAT ARG... writes, if given.
raw_connect() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" ||
	    fail "raw peer: cannot connect to 127.0.0.1:$PORT"
	(( $# )) && raw_send "$@"
	return 0
}

# === Conversations ===========================================================

# converse N: a conversation of the listener l (stdin on fd 7) with a chat
# connector cN under valgrind: two messages from l, one from cN, then cN
# says QUIT. l has ended N conversations from the peer's QUIT afterwards.
converse() {
	local n=$1 role=c$1

	printf 'hello %s\nbye %s\n' "$n" "$n" >&7
	printf 'reply %s\nQUIT\n' "$n" > "$role.in"
	vg_connect "$role"
	vg_finish "$role" 0
	expect_bytes "$role.out" 'They say: %s\n' "hello $n" "bye $n"
	wait_lines l.err 'They ended the conversation.' "$((++ENDED))"
	expect_line l.out "They say: reply $n"
}

# === The tests ===============================================================

test_listener_serves_in_a_row_through_abuse_then_input_ends() {
	local long peer

	ENDED=0
	fifo_hold l 7
	vg_listen l
	converse 1

	# Strangers that never finish a HELLO: not conversations.
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HI there\n'
	raw_expect 'ERR bad hello'
	raw_expect_close
	raw_close
	raw_connect '\0\377\376\033[2J\200\300\257 garbage\r\n'
	raw_expect 'HELLO chat/1 chat/2'
	raw_expect 'ERR bad hello'
	raw_expect_close
	raw_close
	raw_connect 'HELLO chat/1 and then gone'	# no LF: half a frame
	raw_expect 'HELLO chat/1 chat/2'
	raw_close
	# Lines about strangers come at most one a second: one, and then
	# a count of the other two.
	until_deadline "$WAIT" eval 'stranger_totals l.err; (( DROPPED == 3 ))' ||
	    fail "not all 3 strangers reported: $(show l.err)"

	# A frame one byte over the limit, after the HELLOs.
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/1\n'
	printf -v long '%*s' $(( TEXT_MAX + 1 )) ''
	raw_send 'MSG %s\n' "${long// /x}"
	raw_expect 'ERR frame too long'
	raw_expect_close
	raw_close

	converse 2

	# A conversation in progress turns a second connector away, busy.
	printf 'hello 3\n' >&7
	printf 'reply 3\nQUIT\n' > c3.in
	vg_connect c3
	wait_line l.out 'They say: reply 3'
	: > busy.in
	vg_connect busy
	vg_finish busy 5
	expect_line busy.err "chat: connect 127.0.0.1:$PORT: busy: the listener is in another conversation"
	until_deadline "$WAIT" eval 'stranger_totals l.err; (( BUSY == 1 ))' ||
	    fail "the busy connector is not reported: $(show l.err)"
	printf 'bye 3\n' >&7
	vg_finish c3 0
	expect_bytes c3.out 'They say: %s\n' 'hello 3' 'bye 3'
	wait_lines l.err 'They ended the conversation.' "$((++ENDED))"

	# A peer killed mid-conversation, while the listener waits for it.
	fifo_hold k 8
	printf 'hello 4\n' >&7
	chat_run k plain --connect "127.0.0.1:$PORT"
	wait_line k.out 'They say: hello 4'
	peer=$(grep '^Connection from ' l.err | tail -n 1)
	peer=${peer#Connection from }
	chat_pid k
	kill -KILL "$CPID"
	wait_line_re l.err "chat: peer ${peer//./\\.}( closed the connection|: $E_CONNRESET)"
	wait "${PID[k]}"
	exec 8>&-

	converse 5

	# End of input: the idle listener exits with its last status, 0.
	exec 7>&-
	vg_finish l 0
}

test_sigterm_ends_the_listener_mid_conversation() {
	fifo_hold l 7
	fifo_hold c 8
	vg_listen l
	printf 'hello\n' >&7
	vg_connect c
	wait_line c.out 'They say: hello'
	printf 'reply\n' >&8
	wait_line l.out 'They say: reply'
	# The listener's turn, waiting on its input: stop it.
	chat_pid l
	kill -TERM "$CPID"
	vg_finish l 7
	expect_line l.err 'chat: interrupted by SIGTERM'
	vg_finish c 0
	expect_line c.err 'They ended the conversation: interrupted by SIGTERM.'
	exec 7>&- 8>&-
}

test_connector_sees_the_listener_killed_mid_conversation() {
	fifo_hold l 7
	chat_run l plain --listen 127.0.0.1:0 --once
	wait_line_re l.err 'Listening on 127\.0\.0\.1:[0-9]+'
	PORT=${MATCH##*:}
	fifo_hold c 8
	printf 'hello\n' >&7
	vg_connect c
	wait_line c.out 'They say: hello'
	printf 'reply\n' >&8
	wait_line l.out 'They say: reply'
	chat_pid l
	kill -KILL "$CPID"
	vg_finish c 4
	wait_line_re c.err "chat: peer 127\\.0\\.0\\.1:$PORT( closed the connection|: $E_CONNRESET)"
	wait "${PID[l]}"
	exec 7>&- 8>&-
}

test_connector_sigterm_while_its_turn() {
	fifo_hold l 7
	fifo_hold c 8
	vg_listen l --once
	printf 'hello\n' >&7
	vg_connect c
	wait_line c.out 'They say: hello'
	chat_pid c
	kill -TERM "$CPID"
	vg_finish c 7
	expect_line c.err 'chat: interrupted by SIGTERM'
	vg_finish l 0
	expect_line l.err 'They ended the conversation: interrupted by SIGTERM.'
	exec 7>&- 8>&-
}

if ! command -v valgrind > /dev/null; then
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
fi
suite_main "$@"
