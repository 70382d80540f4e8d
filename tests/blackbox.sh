#!/usr/bin/env bash
#
# tests/blackbox.sh - black-box tests of chat, as its user sees it.
#
# Each test_* function checks one behaviour the README promises, with real
# ./chat processes on loopback: listeners on 127.0.0.1 port 0 (the real port
# is read from their "Listening on" line) or on socket files (unix:PATH) in
# the test's directory, scripts on stdin, and raw chat/1 peers written with
# bash's /dev/tcp. A test asserts what the user sees: the bytes on stdout,
# the status lines on stderr, the exit status, the files chat writes (port
# files, logs, sockets). It waits for a condition with a deadline, never for
# a fixed time, and every chat runs under timeout(1), so a hang is a failure
# rather than a stuck suite. A few tests read an strace of chat (Linux;
# skipped without strace(1)).
#
# Usage: bash tests/blackbox.sh [test_name ...]
# Prints PASS or FAIL for each test, then "N passed, N failed"; exits 1 if a
# test failed. BLACKBOX_KEEP=1 keeps the work directory to look at;
# STRACE=1 also leaves an strace of each chat there (ROLE.trace).

set -u
export LC_ALL=C		# "." in EPOCHREALTIME

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=blackbox
. "$ROOT/tests/lib.sh"
CHAT=${CHAT:-$ROOT/chat}	# CHAT=path tests another build (make check-asan)
LIMIT=${LIMIT:-10}	# seconds a chat may run before timeout(1) stops it
WAIT=${WAIT:-5}		# seconds to wait for an expected line or event
TEXT_MAX=65532	# CHAT_TEXT_MAX: the longest message text

USAGE=0		# usage_error calls so far, to name their files

# === Assertions on what the user sees ========================================

# expect_no_line_re FILE ERE: no line of FILE matches ERE.
expect_no_line_re() {
	if has_line_re "$1" "$2"; then
		fail "unexpected line \"$MATCH\" in $1"
	fi
}

# expect_count FILE TEXT N: FILE holds the line TEXT exactly N times.
expect_count() {
	local line count=0

	while IFS= read -r line; do
		[[ $line == "$2" ]] && (( ++count ))
	done < "$1"
	(( count == $3 )) ||
	    fail "$count lines \"$2\" in $1, expected $3; it holds $(show "$1")"
}

# usage_in FILE: whether FILE holds chat's usage, as the README shows it.
usage_in() {
	grep -Fq -- 'chat --listen [ADDR:]PORT|unix:PATH [--once]' "$1" &&
	    grep -Fq -- 'chat --connect HOST:PORT|unix:PATH [--timeout SECS]' "$1"
}

# === chat processes ==========================================================

# chat_start ROLE ARG...: run chat ARG... in the background under
# timeout(1), stdin ROLE.in, stdout ROLE.out, stderr ROLE.err. It inherits
# none of the test's own descriptors (FIFO holders, raw sockets), and
# SIGPIPE is back to its default, as a user's shell would start it.
chat_start() {
	local role=$1

	shift
	(
		trap - PIPE
		exec "$TIMEOUT" -k 2 "$LIMIT" ${STRACE:+strace -f -o "$role.trace"} "$CHAT" "$@" <"$role.in" \
		    >"$role.out" 2>"$role.err" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	) &
	PID[$role]=$!
	echo "$!" >> "$T/pids"
}

# chat_listen ROLE ARG...: start a listener on 127.0.0.1, port 0, and set
# PORT from its "Listening on" line.
chat_listen() {
	local role=$1

	shift
	chat_start "$role" --listen 127.0.0.1:0 "$@"
	wait_line_re "$role.err" 'Listening on 127\.0\.0\.1:[0-9]+'
	PORT=${MATCH##*:}
}

# chat_connect ROLE ARG...: start a connector to the listener on PORT.
chat_connect() {
	local role=$1

	shift
	chat_start "$role" --connect "127.0.0.1:$PORT" "$@"
}

# chat_reap ROLE: wait for ROLE's chat to exit, whatever its status.
chat_reap() {
	wait "${PID[$1]}"
}

# peer_port ROLE: set CPORT from the listener ROLE's "Connection from" line.
peer_port() {
	expect_line_re "$1.err" 'Connection from 127\.0\.0\.1:[0-9]+'
	CPORT=${MATCH##*:}
}

# long_text N CHARS: set TEXT to N bytes repeating CHARS.
long_text() {
	TEXT=$2
	while (( ${#TEXT} < $1 )); do
		TEXT=$TEXT$TEXT
	done
	TEXT=${TEXT:0:$1}
}

# === Raw chat/1 peers on fd 3 ================================================

# sock_port FD: print the local port of the TCP socket open on FD.
sock_port() {
	"$PROBE" port "$1"
}

# busy_newcomer WHO: connect to 127.0.0.1:PORT on fd 4 (left open) and
# read BUSY, the only line a newcomer to a busy listener gets.
busy_newcomer() {
	local line=

	exec 4<>"/dev/tcp/127.0.0.1/$PORT" ||
	    fail "$1: cannot connect to 127.0.0.1:$PORT"
	IFS= read -r -t "$WAIT" line <&4
	[[ $line == BUSY ]] || fail "$1 read $(quoted "$line"), expected BUSY"
}

# raw_connect [FORMAT [ARG...]]: connect a raw peer to 127.0.0.1:PORT on
# fd 3, at once send what printf FORMAT ARG... writes, if given; RAWPORT is
# the peer's own port, the one the listener reports.
raw_connect() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" ||
	    fail "raw peer: cannot connect to 127.0.0.1:$PORT"
	(( $# )) && raw_send "$@"
	RAWPORT=$(sock_port 3) || fail "raw peer: cannot find its local port"
}

# raw_drain: read until chat closes the connection, whatever it sends.
raw_drain() {
	local line status

	while :; do
		IFS= read -r -t "$WAIT" line <&3
		status=$?
		(( status == 0 )) && continue
		(( status > 128 )) &&
		    fail "raw peer: connection still open $WAIT s on"
		return 0
	done
}

# raw_hello: the raw peer reads the listener's HELLO and answers it.
raw_hello() {
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/1\n'
}

# raw_breaks_protocol ERR FORMAT [ARG...]: the raw peer sends what printf
# writes, is answered ERR, and the connection is closed.
raw_breaks_protocol() {
	local err=$1

	shift
	raw_send "$@"
	raw_expect "$err"
	raw_expect_close
	raw_close
}

# raw_tells_listener FORMAT...: a raw peer sends each printf FORMAT as the
# text of one MSG to a --once listener, which then sends QUIT and exits 0.
raw_tells_listener() {
	local i format

	: > l.in
	for (( i = 1; i <= $#; i++ )); do
		printf 'turn %d\n' "$i" >> l.in
	done
	printf 'QUIT\n' >> l.in
	chat_listen l --once
	raw_connect
	raw_hello
	i=0
	for format; do
		raw_expect "MSG turn $(( ++i ))"
		raw_send "MSG $format\n"
	done
	raw_expect QUIT
	raw_expect_close
	raw_close
	chat_finish l 0
}

# listener_serves_next: the listener l (no --once, stdin held on fd 7) serves
# a well-behaved chat connector next, and exits 0 when its input ends.
listener_serves_next() {
	printf 'ok\n' > next.in
	chat_connect next
	wait_line next.err "Connected to 127.0.0.1:$PORT"
	printf 'after\nQUIT\n' >&7
	exec 7>&-
	chat_finish next 0
	chat_finish l 0
	expect_bytes next.out 'They say: after\n'
	expect_bytes l.out 'They say: ok\n'
}

# === Conversations between two chats =========================================

test_seed_conversation_scripted_on_both_sides() {
	printf '%s\n' 'Hello, client!' "I'm well, thank you. How are you?" \
	    'Good to hear. Bye!' > l.in
	printf '%s\n' 'Hi back to you server! How are you doing?' \
	    'Fine, thanks.' QUIT > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' 'Hello, client!' \
	    "I'm well, thank you. How are you?" 'Good to hear. Bye!'
	expect_bytes l.out 'They say: %s\n' \
	    'Hi back to you server! How are you doing?' 'Fine, thanks.'
	peer_port l
	expect_bytes l.err '%s\n' "Listening on 127.0.0.1:$PORT" \
	    "Connection from 127.0.0.1:$CPORT" 'They ended the conversation.'
	expect_bytes c.err '%s\n' "Connected to 127.0.0.1:$PORT" \
	    'You ended the conversation.'
}

test_ipv6_literals_in_brackets_listen_and_connect() {
	printf 'over IPv6\n' > l.in
	printf 'QUIT\n' > c.in
	chat_start l --listen '[::1]:0' --once
	wait_line_re l.err 'Listening on \[::1\]:[0-9]+'
	PORT=${MATCH##*:}
	chat_start c --connect "[::1]:$PORT"
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: over IPv6\n'
	expect_line c.err "Connected to [::1]:$PORT"
	expect_line_re l.err 'Connection from \[::1\]:[0-9]+'
}

# "Connected to" names the address reached, not the one typed: on Linux
# the unspecified address 0.0.0.0 reaches this host, 127.0.0.1.
test_connect_to_unspecified_address_names_the_address_reached() {
	printf 'hi\n' > l.in
	printf 'QUIT\n' > c.in
	chat_listen l --once
	chat_start c --connect "0.0.0.0:$PORT"
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_bytes c.err '%s\n' "Connected to 127.0.0.1:$PORT" \
	    'You ended the conversation.'
}

# --listen PORT alone takes IPv4 and IPv6 peers; IPv4 ones are shown plain.
test_port_alone_listens_on_ipv4_and_ipv6() {
	printf 'to four\nto six\n' > l.in
	printf 'QUIT\n' > c4.in
	printf 'QUIT\n' > c6.in
	chat_start l --listen 0
	wait_line_re l.err 'Listening on \[::\]:[0-9]+'
	PORT=${MATCH##*:}
	chat_start c4 --connect "127.0.0.1:$PORT"
	chat_finish c4 0
	chat_start c6 --connect "[::1]:$PORT"
	chat_finish c6 0
	chat_finish l 0		# its input ended after the second
	expect_bytes c4.out 'They say: to four\n'
	expect_bytes c6.out 'They say: to six\n'
	expect_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'
	expect_line_re l.err 'Connection from \[::1\]:[0-9]+'
}

test_quit_typed_by_listener_ends_conversation_on_both_sides() {
	printf 'hi\nQUIT\nnever sent\n' > l.in
	printf 'hello\nnever sent either\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_bytes l.out 'They say: hello\n'
	expect_line l.err 'You ended the conversation.'
	expect_line c.err 'They ended the conversation.'
	expect_no_line_re l.err 'They ended the conversation\.'
	expect_no_line_re c.err 'You ended the conversation\.'
}

test_quit_typed_by_connector_ends_conversation_on_both_sides() {
	printf 'hi\nnever sent\n' > l.in
	printf 'QUIT\nnever sent either\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_bytes l.out ''
	expect_line l.err 'They ended the conversation.'
	expect_line c.err 'You ended the conversation.'
	expect_no_line_re l.err 'You ended the conversation\.'
	expect_no_line_re c.err 'They ended the conversation\.'
}

test_listener_without_once_serves_next_peer_after_its_own_quit() {
	printf 'hi\nQUIT\nagain\nQUIT\n' > l.in
	printf 'hello\n' > c1.in
	printf 'yo\n' > c2.in
	chat_listen l
	chat_connect c1
	chat_finish c1 0
	kill -0 "${PID[l]}" 2>/dev/null ||
	    fail "the listener exited after its first conversation"
	chat_connect c2
	chat_finish c2 0
	chat_finish l 0
	expect_bytes c1.out 'They say: hi\n'
	expect_bytes c2.out 'They say: again\n'
	expect_bytes l.out 'They say: %s\n' hello yo
	expect_count l.err 'You ended the conversation.' 2
	expect_line c1.err 'They ended the conversation.'
	expect_line c2.err 'They ended the conversation.'
}

test_listener_without_once_serves_next_peer_after_peer_quits() {
	printf 'hi\nsecond\nQUIT\n' > l.in
	printf 'QUIT\n' > c1.in
	printf 'bye\n' > c2.in
	chat_listen l
	chat_connect c1
	chat_finish c1 0
	kill -0 "${PID[l]}" 2>/dev/null ||
	    fail "the listener exited after its first conversation"
	chat_connect c2
	chat_finish c2 0
	chat_finish l 0
	expect_bytes c1.out 'They say: hi\n'
	expect_bytes c2.out 'They say: second\n'
	expect_bytes l.out 'They say: bye\n'
	expect_line l.err 'They ended the conversation.'
	expect_line l.err 'You ended the conversation.'
	expect_line c1.err 'You ended the conversation.'
}

test_listener_script_spans_conversations_and_exits_when_input_ends() {
	printf 'a1\na2\na3\na4\n' > l.in
	printf 'QUIT\n' > c1.in
	printf 'b2\nQUIT\n' > c2.in
	printf 'b3\n' > c3.in
	chat_listen l
	chat_connect c1
	chat_finish c1 0
	chat_connect c2
	chat_finish c2 0
	chat_connect c3
	chat_finish c3 0
	chat_finish l 0
	expect_bytes c1.out 'They say: a1\n'
	expect_bytes c2.out 'They say: %s\n' a2 a3
	expect_bytes c3.out 'They say: a4\n'
	expect_bytes l.out 'They say: %s\n' b2 b3
	expect_count l.err 'They ended the conversation.' 2
	expect_count l.err 'You ended the conversation.' 1
	expect_line c3.err 'They ended the conversation.'
}

test_listener_with_empty_input_exits_0_without_a_peer() {
	: > l.in
	chat_start l --listen 127.0.0.1:0
	chat_finish l 0
	expect_bytes l.out ''
}

test_short_options_in_any_order() {
	printf 'hi\nQUIT\n' > l.in
	printf 'hello\n' > c.in
	chat_start l -t 5 --once -l 127.0.0.1:0
	wait_line_re l.err 'Listening on 127\.0\.0\.1:[0-9]+'
	PORT=${MATCH##*:}
	chat_start c -c "127.0.0.1:$PORT" -t 5
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_bytes l.out 'They say: hello\n'
}

# === Scripts: end of input, last lines, CRLF, long lines =====================

test_end_of_listener_input_acts_as_quit() {
	printf 'one\n' > l.in
	printf 'two\nnever sent\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: one\n'
	expect_bytes l.out 'They say: two\n'
	expect_line l.err 'You ended the conversation.'
	expect_line c.err 'They ended the conversation.'
}

test_end_of_connector_input_acts_as_quit() {
	printf 'one\ntwo\nnever sent\n' > l.in
	printf 'x\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' one two
	expect_bytes l.out 'They say: x\n'
	expect_line c.err 'You ended the conversation.'
	expect_line l.err 'They ended the conversation.'
}

test_closed_stdin_is_end_of_input() {
	printf 'hi\nnever sent\n' > l.in
	chat_listen l --once
	(
		trap - PIPE
		exec "$TIMEOUT" -k 2 "$LIMIT" "$CHAT" --connect "127.0.0.1:$PORT" \
		    <&- >c.out 2>c.err 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	) &
	PID[c]=$!
	echo "$!" >> "$T/pids"
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_line c.err 'You ended the conversation.'
	expect_line l.err 'They ended the conversation.'
}

test_closed_stdout_and_stderr_do_not_reach_the_peer() {
	printf 'hi\nQUIT\n' > l.in
	chat_listen l --once
	(
		trap - PIPE
		exec "$TIMEOUT" -k 2 "$LIMIT" "$CHAT" --connect "127.0.0.1:$PORT" \
		    <<< 'x' >&- 2>&- 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	) &
	PID[c]=$!
	echo "$!" >> "$T/pids"
	chat_finish c 0
	chat_finish l 0
	expect_bytes l.out 'They say: x\n'
	expect_line l.err 'You ended the conversation.'
}

test_last_line_without_newline_is_still_sent() {
	printf 'one\nlast' > l.in
	printf 'first\nfinal' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' one last
	expect_bytes l.out 'They say: %s\n' first final
}

test_crlf_script_lines_have_their_cr_dropped() {
	printf 'one\r\nmid\rline\r\nQUIT\r\n' > l.in
	printf 'x\r\ny\r\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' one 'mid\x0dline'
	expect_bytes l.out 'They say: %s\n' x y
	expect_line l.err 'You ended the conversation.'
}

test_longest_script_lines_are_sent_intact() {
	local from_listener

	long_text "$TEXT_MAX" L
	from_listener=$TEXT
	long_text "$TEXT_MAX" '0123456789abcdef'
	printf '%s\nQUIT\n' "$from_listener" > l.in
	printf '%s\n' "$TEXT" > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' "$from_listener"
	expect_bytes l.out 'They say: %s\n' "$TEXT"
}

test_script_line_over_limit_is_not_sent_and_exits_1() {
	long_text $(( TEXT_MAX + 1 )) x
	printf 'hi\nagain\nnever sent\n' > l.in
	printf 'first\n%s\nnever sent\n' "$TEXT" > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 1
	chat_finish l 0
	expect_line c.err \
	    'chat: stdin line 2 too long (more than 65532 bytes): not sent'
	expect_bytes c.out 'They say: %s\n' hi again
	expect_bytes l.out 'They say: first\n'
	# chat/2: the peer is told why
	expect_line l.err 'They ended the conversation: stdin line 2 too long (more than 65532 bytes).'
}

test_script_lines_with_nul_bytes_are_sent_and_shown_escaped() {
	printf 'nul\000byte\nQUIT\n' > l.in
	printf 'x\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' 'nul\x00byte'
}

# === Peers that vanish, signals ==============================================

test_connector_killed_in_its_turn_is_reported_and_once_listener_exits_4() {
	local start

	printf 'hello\nnever sent\n' > l.in
	fifo_hold c 8
	chat_listen l --once
	chat_connect c
	wait_line c.out 'They say: hello'	# now it is the connector's turn
	chat_pid c
	kill -KILL "$CPID"
	now_us
	start=$NOW
	chat_reap c
	chat_finish l 4
	now_us
	(( $NOW - start < 2000000 )) ||
	    fail "the listener took 2 s or more to notice"
	peer_port l
	expect_line_re l.err "chat: peer 127\\.0\\.0\\.1:$CPORT( closed the connection|: $E_CONNRESET)"
	expect_no_line_re l.err '(You|They) ended the conversation\.'
	expect_bytes l.out ''
}

test_listener_serves_next_peer_after_connector_is_killed() {
	printf 'hello\nnext one\nQUIT\n' > l.in
	fifo_hold c1 8
	printf 'reply\n' > c2.in
	chat_listen l
	chat_connect c1
	wait_line c1.out 'They say: hello'
	chat_pid c1
	kill -KILL "$CPID"
	chat_reap c1
	peer_port l
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:$CPORT( closed the connection|: $E_CONNRESET)"
	chat_connect c2
	chat_finish c2 0
	chat_finish l 0
	expect_bytes c2.out 'They say: next one\n'
	expect_bytes l.out 'They say: reply\n'
}

test_listener_without_once_exits_with_status_of_last_conversation() {
	printf 'hello\n' > l.in
	fifo_hold c 8
	chat_listen l
	chat_connect c
	wait_line c.out 'They say: hello'
	chat_pid c
	kill -KILL "$CPID"
	chat_reap c
	chat_finish l 4		# its input has ended: it exits, status 4
}

test_listener_killed_in_its_turn_is_reported_by_connector_exit_4() {
	fifo_hold l 7
	printf 'never sent\n' > c.in
	chat_listen l --once
	chat_connect c
	wait_line c.err "Connected to 127.0.0.1:$PORT"
	wait_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'
	chat_pid l
	kill -KILL "$CPID"
	chat_reap l
	chat_finish c 4
	expect_line_re c.err "chat: peer 127\\.0\\.0\\.1:$PORT( closed the connection|: $E_CONNRESET)"
	expect_bytes c.out ''
}

test_listener_killed_in_connectors_turn_is_noticed_at_once_exit_4() {
	local start

	printf 'hello\nnever sent\n' > l.in
	fifo_hold c 8
	chat_listen l --once
	chat_connect c
	wait_line c.out 'They say: hello'	# the connector waits for its user
	chat_pid l
	kill -KILL "$CPID"
	now_us
	start=$NOW
	chat_reap l
	chat_finish c 4
	now_us
	(( $NOW - start < 2000000 )) ||
	    fail "the connector took 2 s or more to notice"
	expect_line_re c.err "chat: peer 127\\.0\\.0\\.1:$PORT( closed the connection|: $E_CONNRESET)"
	expect_bytes c.out 'They say: hello\n'
}

test_sigterm_ends_conversation_exit_7_and_peer_is_sent_quit() {
	printf 'hi\nnever sent\n' > l.in
	fifo_hold c 8
	chat_listen l --once
	chat_connect c
	wait_line c.out 'They say: hi'
	chat_pid c
	kill -TERM "$CPID"
	chat_finish c 7
	chat_finish l 0
	expect_line c.err 'chat: interrupted by SIGTERM'
	expect_line l.err 'They ended the conversation: interrupted by SIGTERM.'
	expect_bytes l.out ''
}

test_idle_listener_stopped_by_sigterm_exits_7() {
	fifo_hold l 7
	chat_listen l
	chat_pid l
	kill -TERM "$CPID"
	chat_finish l 7
	expect_line l.err 'chat: interrupted by SIGTERM'
}

# A stop signal that is ignored when chat starts (nohup, a script's
# background job) stays ignored: SIGHUP and SIGINT do nothing, SIGTERM
# still ends it. (Both are sent before SIGTERM; had either been caught,
# it would name the signal that ended it.) Not under timeout(1), which
# catches these signals itself.
test_signals_ignored_at_start_stay_ignored() {
	fifo_hold l 7
	(
		trap - PIPE
		trap '' HUP INT
		exec "$CHAT" --listen 127.0.0.1:0 <l.in >l.out 2>l.err \
		    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	) &
	PID[l]=$!
	echo "$!" >> "$T/pids"
	wait_line_re l.err 'Listening on 127\.0\.0\.1:[0-9]+'
	kill -HUP "${PID[l]}"
	kill -INT "${PID[l]}"
	kill -TERM "${PID[l]}"
	chat_finish l 7
	expect_bytes l.err '%s\n' "$MATCH" 'chat: interrupted by SIGTERM'
}

# first_goes_on: the --once listener l and c1 (their stdin held on fds 7
# and 8), whose conversation others tried to disturb, still take one turn
# each, then end it as usual: both exit 0.
first_goes_on() {
	printf 'Hello, first!\n' >&7
	wait_line c1.out 'They say: Hello, first!'
	printf 'Hi!\n' >&8
	wait_line l.out 'They say: Hi!'
	printf 'QUIT\n' >&7
	chat_finish c1 0
	chat_finish l 0
	exec 7>&- 8>&-
	expect_bytes c1.out 'They say: Hello, first!\n'
	expect_bytes l.out 'They say: Hi!\n'
}

# === BUSY ====================================================================

test_second_connector_is_turned_away_busy_while_first_talks() {
	fifo_hold l 7
	fifo_hold c1 8
	chat_listen l --once
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	wait_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'

	printf 'never sent\n' > c2.in
	chat_connect c2
	chat_finish c2 5
	expect_bytes c2.out ''
	expect_line c2.err "chat: connect 127.0.0.1:$PORT: busy: the listener is in another conversation"
	expect_no_line_re c2.err 'Connected to .*'
	wait_line_re l.err 'Turned away 127\.0\.0\.1:[0-9]+: busy'

	raw_connect
	raw_expect BUSY
	raw_expect_close
	raw_close
	# Counted into a summary line: at most one such line a second.
	until_deadline "$WAIT" turned_away_is l.err 2 ||
	    fail "the second newcomer is not reported: $(show l.err)"

	first_goes_on	# turn-aways are not its one conversation
	expect_line c1.err 'They ended the conversation.'
	until_deadline "$WAIT" turned_away_is l.err 2 ||
	    fail "expected 2 connections turned away in l.err: $(show l.err)"
}

# === Raw peers that break the protocol =======================================

# cpu_ticks PID: set TICKS to the process's utime + stime, in clock ticks.
cpu_ticks() {
	local stat fields

	linux_only "a process's CPU ticks"
	stat=$(< "/proc/$1/stat") || fail "cannot read /proc/$1/stat"
	read -r -a fields <<< "${stat##*) }"
	TICKS=$(( fields[11] + fields[12] ))
}

test_listener_out_of_fds_waits_without_spinning_then_serves_next() {
	# Room for stdin, stdout, stderr, the listening socket and one peer:
	# a second connector cannot be accepted until the first has gone.
	# An emulated chat is run by its emulator itself, not through the
	# script that runs it elsewhere: a shell reading a script needs more
	# than 5 descriptors.
	printf '#!/bin/sh\nulimit -n 5 && exec %s %q "$@"\n' \
	    "${CHAT_EMULATOR:-}" "${CHAT_BINARY:-$CHAT}" > few-fds
	chmod +x few-fds
	fifo_hold l 7
	fifo_hold c1 8
	CHAT=$T/few-fds chat_listen l
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	printf 'Hi, I am second\n' > c2.in
	chat_connect c2
	wait_line l.err "chat: accept: $E_MFILE"

	# Over a second of waiting, a spinning loop would burn ~100 ticks.
	chat_pid l
	cpu_ticks "$CPID"
	local before=$TICKS
	sleep 1
	cpu_ticks "$CPID"
	(( TICKS - before <= 2 )) ||
	    fail "listener used $(( TICKS - before )) CPU ticks while out of fds"

	printf 'QUIT\n' >&7
	chat_finish c1 0
	wait_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'
	printf 'Hello, second!\n' >&7
	wait_line l.out 'They say: Hi, I am second'
	exec 7>&- 8>&-
	chat_finish c2 0
	chat_finish l 0
	expect_line c2.err 'They ended the conversation.'
	expect_bytes c2.out 'They say: Hello, second!\n'
	expect_bytes l.out 'They say: Hi, I am second\n'
	expect_count l.err "chat: accept: $E_MFILE" 1
}

test_frame_over_limit_gets_err_frame_too_long_and_listener_serves_next() {
	fifo_hold l 7
	chat_listen l
	printf 'first\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	long_text 70000 x		# well over the limit, no LF
	raw_breaks_protocol 'ERR frame too long' 'MSG %s' "$TEXT"
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:$RAWPORT: .+"
	listener_serves_next
}

test_frame_one_byte_over_limit_gets_err_frame_too_long() {
	fifo_hold l 7
	chat_listen l --once
	printf 'first\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	# "MSG " and 65533 x: 65537 bytes, none of them LF or CR, so more
	# than CHAT_FRAME_MAX bytes without LF whatever comes next.
	long_text $(( TEXT_MAX + 1 )) x
	raw_send 'MSG %s' "$TEXT"
	raw_expect 'ERR frame too long' 2
	raw_expect_close
	raw_close
	chat_finish l 4
	exec 7>&-
	expect_bytes l.out ''
}

test_once_listener_is_not_used_up_by_a_bad_hello() {
	printf 'hi\nQUIT\n' > l.in
	printf 'hello\n' > c.in
	chat_listen l --once
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_breaks_protocol 'ERR unsupported version' 'HELLO chat/9\n'
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:$RAWPORT: .+"
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_bytes l.out 'They say: hello\n'
}

test_connections_without_hello_do_not_change_listener_status() {
	fifo_hold l 7
	chat_listen l
	# A conversation that ends with status 4: the peer breaks the protocol.
	raw_connect
	raw_hello
	raw_breaks_protocol 'ERR out of turn' 'MSG out of turn\n'
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:$RAWPORT: .+"
	# Then a connection that never completes the HELLO exchange.
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_breaks_protocol 'ERR bad hello' 'GET / HTTP/1.0\r\n\r\n'
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:$RAWPORT: .+"
	exec 7>&-
	chat_finish l 4
}

test_err_from_peer_is_reported_escaped_and_not_answered_exit_4() {
	printf 'hi\nnever sent\n' > l.in
	chat_listen l --once
	raw_connect
	raw_hello
	raw_expect 'MSG hi'
	raw_send 'ERR cannot \033[31mcope\n'
	raw_expect_close
	raw_close
	chat_finish l 4
	expect_line l.err "chat: peer 127.0.0.1:$RAWPORT: peer reported: cannot \\x1b[31mcope"
	expect_bytes l.out ''
}

# A status line too long for its 512 bytes is cut between characters:
# it stays valid UTF-8. (An ERR reason of 120 bytes, 116 control bytes
# and two 2-byte letters, is 468 bytes escaped; the line around it
# makes 511, one over, with the cut inside the last letter.)
test_status_line_cut_to_fit_stays_valid_utf8() {
	local reason

	fifo_hold l 7
	chat_listen l
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	printf -v reason '%*s' 116 ''
	raw_send 'ERR %s\303\251\303\251\n' "${reason// /$'\001'}"
	raw_expect_close
	raw_close
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:$RAWPORT: peer reported: .*"
	(( ${#RAWPORT} == 5 )) || fail "port $RAWPORT: the line would fit"
	LC_ALL=C.UTF-8 iconv -f UTF-8 -t UTF-8 l.err > /dev/null 2>&1 ||
	    fail "l.err is not valid UTF-8: $(tail -c 20 l.err | od -An -tx1)"
	[[ $MATCH == *'\x01\x01'$'\303\251' ]] ||
	    fail "the line does not end with the first letter whole:" \
	    "$(printf '%s' "$MATCH" | tail -c 12 | od -An -tx1)"
	exec 7>&-
	chat_finish l 0
}

# === Raw peers speaking chat/1 by hand =======================================

test_raw_peer_speaking_chat1_by_hand_is_understood() {
	local from_listener

	long_text "$TEXT_MAX" L
	from_listener=$TEXT
	long_text "$TEXT_MAX" '0123456789abcdef'
	printf 'Hello, raw peer!\n%s\nThat was big.\nQUIT\n' \
	    "$from_listener" > l.in
	chat_listen l --once
	raw_connect
	raw_hello
	raw_expect 'MSG Hello, raw peer!'
	raw_send 'MSG %s\n' "$TEXT"
	raw_expect "MSG $from_listener"
	raw_send 'MSG\n'
	raw_expect 'MSG That was big.'
	raw_send 'MSG \n'
	raw_expect QUIT
	raw_expect_close
	raw_close
	chat_finish l 0
	expect_bytes l.out 'They say: %s\n' "$TEXT" '' ''
	expect_bytes l.err '%s\n' "Listening on 127.0.0.1:$PORT" \
	    "Connection from 127.0.0.1:$RAWPORT" 'You ended the conversation.'
}

test_longest_frame_ending_in_crlf_is_accepted() {
	long_text "$TEXT_MAX" 'xyz'
	printf 'hi\nQUIT\n' > l.in
	chat_listen l --once
	raw_connect
	raw_hello
	raw_expect 'MSG hi'
	raw_send 'MSG %s\r\n' "$TEXT"
	raw_expect QUIT
	raw_expect_close
	raw_close
	chat_finish l 0
	expect_bytes l.out 'They say: %s\n' "$TEXT"
}

test_hello_listing_several_versions_is_accepted() {
	printf 'hi\nQUIT\n' > l.in
	chat_listen l --once
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/0 chat/1 chat/9\n'
	raw_expect 'MSG hi'
	raw_send 'MSG hey\n'
	raw_expect QUIT
	raw_expect_close
	raw_close
	chat_finish l 0
	expect_bytes l.out 'They say: hey\n'
	expect_line l.err "Connection from 127.0.0.1:$RAWPORT"
}

test_crlf_frames_from_peer_have_one_cr_dropped() {
	printf 'hi\nsecond\nthird\nnever sent\n' > l.in
	chat_listen l --once
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/1\r\n'
	raw_expect 'MSG hi'
	raw_send 'MSG crlf\r\n'
	raw_expect 'MSG second'
	raw_send 'MSG two crs\r\r\n'
	raw_expect 'MSG third'
	raw_send 'QUIT\r\n'
	raw_expect_close
	raw_close
	chat_finish l 0
	expect_bytes l.out 'They say: %s\n' crlf 'two crs\x0d'
	expect_line l.err 'They ended the conversation.'
}

# === What the peer's text looks like ========================================

test_control_bytes_from_peer_are_shown_as_hex_escapes() {
	raw_tells_listener 'clear\033[2Jscreen\007' 'carriage\rreturn' \
	    'nul\000byte' 'tab\tkept' 'del\177 bs\b' '\001\037'
	expect_bytes l.out 'They say: %s\n' 'clear\x1b[2Jscreen\x07' \
	    'carriage\x0dreturn' 'nul\x00byte' $'tab\tkept' \
	    'del\x7f bs\x08' '\x01\x1f'
}

test_invalid_utf8_from_peer_is_shown_as_hex_escapes() {
	raw_tells_listener 'raw c1 \233!' 'overlong \300\257!' \
	    'surrogate \355\240\200!' 'too big \364\220\200\200!' \
	    'cut \344\270z' 'lone \200!' 'latin1 caf\351!'
	expect_bytes l.out 'They say: %s\n' 'raw c1 \x9b!' \
	    'overlong \xc0\xaf!' 'surrogate \xed\xa0\x80!' \
	    'too big \xf4\x90\x80\x80!' 'cut \xe4\xb8z' 'lone \x80!' \
	    'latin1 caf\xe9!'
}

test_c1_controls_and_bidi_overrides_from_peer_are_shown_as_u_escapes() {
	raw_tells_listener 'csi \302\233!' 'first c1 \302\200 last \302\237' \
	    'rlo \342\200\256x' 'lre \342\200\252 pdf \342\200\254' \
	    'lri \342\201\246 pdi \342\201\251'
	expect_bytes l.out 'They say: %s\n' 'csi \u009b!' \
	    'first c1 \u0080 last \u009f' 'rlo \u202ex' \
	    'lre \u202a pdf \u202c' 'lri \u2066 pdi \u2069'
}

test_printable_text_and_utf8_from_peer_are_shown_as_sent() {
	local formats=('café é' '中文' 'emoji 😀' 'nbsp \302\240'
	    'near escapes \342\200\247 \342\200\257 \342\201\245 \342\201\260'
	    'max \364\217\277\277' 'back\\x1b\\slash' '~!@#$^&*()_+{}|:"<>?')
	local format

	raw_tells_listener "${formats[@]}"
	: > l.out.want
	for format in "${formats[@]}"; do
		printf "They say: $format\n" >> l.out.want
	done
	cmp -s l.out l.out.want ||
	    fail "l.out is $(show l.out), expected $(show l.out.want)"
}

test_listener_text_is_shown_escaped_by_connector() {
	printf 'bell\a esc\033[2J csi \302\233 rlo \342\200\256 ok é\nQUIT\n' \
	    > l.in
	printf 'x\n' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' \
	    'bell\x07 esc\x1b[2J csi \u009b rlo \u202e ok é'
}

# === Network errors ==========================================================

# port_closed: PORT is a port that nobody listens on any more: a --once
# listener served one conversation on it and exited.
port_closed() {
	printf 'QUIT\n' > l.in
	: > first.in
	chat_listen l --once
	chat_connect first
	chat_finish first 0
	chat_finish l 0
}

test_connect_to_a_closed_port_is_refused_exit_3() {
	port_closed
	printf 'never sent\n' > c.in
	chat_connect c
	chat_finish c 3
	expect_bytes c.err 'chat: connect 127.0.0.1:%s: %s\n' "$PORT" \
	    "$E_CONNREFUSED"
	expect_bytes c.out ''
}

test_unresolvable_host_exits_3() {
	printf 'never sent\n' > c.in
	chat_start c --connect nosuch.invalid:5000
	chat_finish c 3
	expect_line_re c.err 'chat: resolve nosuch\.invalid: .+'
	[[ $(wc -l < c.err) == 1 ]] || fail "more than one line: $(show c.err)"
	expect_bytes c.out ''
}

test_second_listener_on_a_port_in_use_exits_3() {
	fifo_hold l 7
	chat_listen l
	: > l2.in
	chat_start l2 --listen "127.0.0.1:$PORT"
	chat_finish l2 3
	expect_bytes l2.err 'chat: bind 127.0.0.1:%s: %s\n' "$PORT" \
	    "$E_ADDRINUSE"
	expect_bytes l2.out ''
	exec 7>&-
	chat_finish l 0		# no conversation: status 0
}

# === --timeout ===============================================================

# A listener that accepts (the kernel does it for a stopped one) but never
# says HELLO: the connector gives up after --timeout, not 5 s.
test_connector_gives_up_on_a_listener_that_sends_no_hello() {
	printf 'never sent\n' > l.in
	printf 'never sent\n' > c.in
	chat_listen l
	chat_pid l
	kill -STOP "$CPID"
	chat_connect c --timeout 1
	chat_finish c 6
	kill -CONT "$CPID"
	expect_bytes c.err 'chat: peer 127.0.0.1:%s: no HELLO within 1 second\n' \
	    "$PORT"
	expect_bytes c.out ''
	kill -TERM "$CPID"
	chat_finish l 7
}

test_connector_timeout_when_listener_does_not_answer_exits_6() {
	local start took

	fifo_hold l 7
	printf 'never sent\n' > c.in
	chat_listen l --once
	now_us
	start=$NOW
	chat_connect c --timeout 1
	wait_line c.err "Connected to 127.0.0.1:$PORT"
	chat_finish c 6
	now_us
	took=$(( ($NOW - start) / 1000 ))
	(( took >= 950 && took <= 3000 )) ||
	    fail "the connector gave up after $took ms, expected about 1000"
	expect_line_re c.err "chat: peer 127\\.0\\.0\\.1:$PORT: no answer within 1 seconds?"
	expect_bytes c.out ''
	exec 7>&-
	chat_reap l
}

test_listener_timeout_when_peer_does_not_answer_exits_6() {
	local start took

	printf 'Are you there?\nnever sent\n' > l.in
	chat_listen l --once --timeout 1
	now_us
	start=$NOW
	# HELLO first (rule 1), so that the HELLO wait, however --timeout
	# bounds it, cannot get in the way of the test.
	raw_connect 'HELLO chat/1\n'
	raw_expect 'HELLO chat/1 chat/2'
	raw_expect 'MSG Are you there?'
	raw_drain
	raw_close
	chat_finish l 6
	now_us
	took=$(( ($NOW - start) / 1000 ))
	(( took >= 950 && took <= 3000 )) ||
	    fail "the listener gave up after $took ms, expected about 1000"
	expect_line_re l.err "chat: peer 127\\.0\\.0\\.1:$RAWPORT: no answer within 1 seconds?"
}

# === Local output ============================================================

test_stdout_closed_by_its_reader_ends_quietly_exit_0() {
	fifo_hold l 7
	fifo_hold c 8
	chat_listen l --once
	(
		exec 7>&- 8>&-
		trap - PIPE
		"$TIMEOUT" -k 2 "$LIMIT" "$CHAT" --connect "127.0.0.1:$PORT" \
		    <c.in 2>c.err |
		    { head -n 1 > c.out; exec 0<&-; : > head.done; }
		echo "${PIPESTATUS[0]}" > c.status
	) &
	echo "$!" >> "$T/pids"
	printf 'one\n' >&7
	until_deadline "$WAIT" test -e head.done ||
	    fail "head -n 1 got nothing within $WAIT s"
	expect_bytes c.out 'They say: one\n'
	printf 'a\n' >&8
	wait_line l.out 'They say: a'
	printf 'two\n' >&7	# the connector's stdout is closed now
	until_deadline "$WAIT" test -s c.status ||
	    fail "chat still running $WAIT s after its stdout was closed"
	[[ $(< c.status) == 0 ]] ||
	    fail "exit status $(< c.status), expected 0; stderr $(show c.err)"
	expect_no_line_re c.err 'chat: .*'
	exec 7>&- 8>&-
	chat_finish l 0		# it learned QUIT from the connector
	expect_line l.err 'They ended the conversation: stdout closed.'
}

# stdout_is_full PID: whether chat PID sleeps waiting (in poll, for
# room) after writing most of the 64 KiB a pipe holds: at least 60 KiB
# (the portable path writes a shared pipe in pieces of PIPE_BUF bytes,
# which leave some of its pages part empty).
stdout_is_full() {
	sleeps_in "$1" '*poll*' || return 1
	proc_field "$1" io wchar
	(( FIELD >= 60 * 1024 ))
}

# A stop signal while stdout is blocked ends the conversation with QUIT
# at once: the next scripted line, whose turn has come, is not sent first.
test_sigterm_while_stdout_is_blocked_sends_quit_and_no_more_lines() {
	printf 'l1\nl2\nl3\n' > l.in
	# stdout is a pipe whose reader (fd 4, here) never reads.
	mkfifo l.out || fail "mkfifo l.out failed"
	exec 4<>l.out
	chat_listen l --once
	chat_pid l
	raw_connect
	raw_hello
	raw_expect 'MSG l1'
	long_text "$TEXT_MAX" 'a pipe holds 64 KiB; this, shown, holds more. '
	raw_send 'MSG %s\n' "$TEXT"
	# Waiting for room in a full pipe: in poll, 64 KiB written.
	until_deadline "$WAIT" stdout_is_full "$CPID" ||
	    fail "chat is not blocked writing its stdout"
	kill -TERM "$CPID"
	raw_expect 'QUIT'
	raw_expect_close
	chat_finish l 7
	expect_line l.err 'chat: interrupted by SIGTERM'
}

test_stdout_write_error_exits_1() {
	printf 'hello\nnever sent\n' > l.in
	printf 'never sent\n' > c.in
	[[ -c /dev/full ]] || linux_only "/dev/full"
	ln -s /dev/full c.out
	chat_listen l --once
	chat_connect c
	chat_finish c 1
	expect_line c.err "chat: write stdout: $E_NOSPC"
	chat_reap l
}

# === Command line ============================================================

# usage_error ARG...: chat ARG... exits 2, with the usage on stderr and
# nothing on stdout.
usage_error() {
	local role=u$(( ++USAGE )) status

	: > "$role.in"
	chat_start "$role" "$@"
	wait "${PID[$role]}"
	status=$?
	(( status == 2 )) || fail "chat $(quoted "$*"): exit status $status," \
	    "expected 2; stderr $(show "$role.err")"
	[[ -s $role.out ]] &&
	    fail "chat $(quoted "$*"): wrote $(show "$role.out") to stdout"
	usage_in "$role.err" ||
	    fail "chat $(quoted "$*"): no usage on stderr, only $(show "$role.err")"
}

test_no_arguments_is_a_usage_error() {
	usage_error
}

test_unknown_option_is_a_usage_error() {
	usage_error --bogus
	usage_error -x --listen 127.0.0.1:0
	usage_error --listen 127.0.0.1:0 stray
}

test_help_next_to_a_bad_option_is_a_usage_error() {
	usage_error --help --bogus
	usage_error --version --listen 65536
	usage_error -h stray
}

test_listen_with_connect_is_a_usage_error() {
	usage_error --listen 127.0.0.1:0 --connect 127.0.0.1:1
	usage_error --connect 127.0.0.1:1 --listen 127.0.0.1:0
}

test_once_without_listen_is_a_usage_error() {
	usage_error --once --connect 127.0.0.1:1
	usage_error --connect 127.0.0.1:1 --once
	usage_error --once
}

test_bad_port_is_a_usage_error() {
	usage_error --listen 127.0.0.1:65536
	usage_error --listen -1
	usage_error --listen 127.0.0.1:-1
	usage_error --listen abc
	usage_error --listen 127.0.0.1:abc
	usage_error --listen 127.0.0.1:12x
	usage_error --connect 127.0.0.1:0
	usage_error --connect 127.0.0.1:65536
}

test_malformed_endpoint_is_a_usage_error() {
	usage_error --connect '[::1:5000'
	usage_error --connect '[::1]'
	usage_error --connect 127.0.0.1
	usage_error --connect 127.0.0.1:
	usage_error --listen 127.0.0.1:
	usage_error --listen
	usage_error --connect
}

test_bad_timeout_is_a_usage_error() {
	usage_error --listen 127.0.0.1:0 --timeout 0
	usage_error --listen 127.0.0.1:0 --timeout abc
	usage_error --listen 127.0.0.1:0 --timeout 86401
	usage_error --listen 127.0.0.1:0 --timeout -1
	usage_error --listen 127.0.0.1:0 --timeout ''
	usage_error --listen 127.0.0.1:0 --timeout
}

test_help_prints_usage_on_stdout_exit_0() {
	: > help.in
	: > h.in
	chat_start help --help
	chat_finish help 0
	chat_start h -h
	chat_finish h 0
	usage_in help.out || fail "no usage on stdout: $(show help.out)"
	cmp -s help.out h.out || fail "-h and --help differ"
	expect_bytes help.err ''
}

test_version_prints_chat_1_1_0_and_protocols_exit_0() {
	local first

	: > version.in
	: > v.in
	chat_start version --version
	chat_finish version 0
	chat_start v -V
	chat_finish v 0
	IFS= read -r first < version.out
	[[ $first == 'chat 1.1.0' ]] ||
	    fail "first line \"$first\", expected \"chat 1.1.0\""
	expect_line version.out 'protocols chat/1 chat/2'
	cmp -s version.out v.out || fail "-V and --version differ"
	expect_bytes version.err ''
}

# === Faults and bad input ====================================================

# These go through the fault suite of the issue: hostile bytes, frames at
# and past the limit, floods, slow and silent peers, peers that vanish,
# scripts that end, busy listeners, restarts and bad endpoints.

# reported_at_once FILE ERE: within 2 s a line of FILE matches ERE: a peer
# that vanishes is noticed at once, not at the next write or deadline.
reported_at_once() {
	until_deadline 2 has_line_re "$1" "$2" ||
	    fail "no line matching /$2/ in $1 within 2 s; it holds $(show "$1")"
}

# raw_reset: the raw peer aborts its connection: an RST, not a FIN. bash
# cannot set SO_LINGER, so perl sets it on the socket behind fd 3 (an
# option of the socket, shared by every descriptor of it), and the close
# of bash's own fd 3, the last one, is then the abortive one.
raw_reset() {
	perl -MSocket -e 'open(my $s, "+<&=", 3) or die "fd 3: $!\n";
	    setsockopt($s, SOL_SOCKET, SO_LINGER, pack("ii", 1, 0)) or
	    die "SO_LINGER: $!\n"' || fail "raw peer: cannot set SO_LINGER"
	raw_close
}

# raw_drip TEXT: in the background, the raw peer sends TEXT one byte a
# second and no LF, as a peer on a very slow link would; DRIP is its pid.
# It stops when the connection is gone.
raw_drip() {
	(
		local i

		for (( i = 0; i < ${#1}; i++ )); do
			printf '%s' "${1:i:1}" >&3 || exit 0
			sleep 1		# the peer's own pace, not a wait
		done
	) &
	DRIP=$!
	echo "$DRIP" >> "$T/pids"
}

# raw_drip_stop: the dripping peer stops and lets go of the connection.
raw_drip_stop() {
	kill "$DRIP" 2>/dev/null
	wait "$DRIP" 2>/dev/null
	raw_close
}

# ms_since START: set TOOK to the milliseconds since START (a NOW of now_us).
ms_since() {
	now_us
	TOOK=$(( ($NOW - $1) / 1000 ))
}

# time_wait_on PORT: whether a TCP socket on 127.0.0.1:PORT is in
# TIME_WAIT (state 06 in /proc/net/tcp).
time_wait_on() {
	local hex

	linux_only "TCP states (/proc/net/tcp)"
	printf -v hex '0100007F:%04X' "$1"
	awk -v local="$hex" '$2 == local && $4 == "06" { found = 1 }
	    END { exit !found }' /proc/net/tcp
}

# accept_queue_is PORT N: whether N connections wait to be accepted on the
# listening socket 127.0.0.1:PORT (the rx_queue of a LISTEN socket, state
# 0A in /proc/net/tcp).
accept_queue_is() {
	local hex queue

	linux_only "TCP queues (/proc/net/tcp)"
	printf -v hex '0100007F:%04X' "$1"
	queue=$(awk -v local="$hex" '$2 == local && $4 == "0A" {
	    sub(/.*:/, "", $5); print $5; exit }' /proc/net/tcp)
	[[ $queue ]] && (( 16#$queue == $2 ))
}

# rx_queue_is LPORT RPORT N: whether the socket on 127.0.0.1:LPORT that is
# connected to 127.0.0.1:RPORT holds N bytes not yet read (rx_queue in
# /proc/net/tcp).
rx_queue_is() {
	local here there queue

	linux_only "TCP queues (/proc/net/tcp)"
	printf -v here '0100007F:%04X' "$1"
	printf -v there '0100007F:%04X' "$2"
	queue=$(awk -v here="$here" -v there="$there" '$2 == here &&
	    $3 == there { sub(/.*:/, "", $5); print $5; exit }' /proc/net/tcp)
	[[ $queue ]] && (( 16#$queue == $3 ))
}

# assorted_lines TAG N: set SCRIPT to N script lines of assorted lengths,
# from empty to the longest a message may be, none of them QUIT. The
# lengths straddle the 64 KiB reads and buffers of both sides.
assorted_lines() {
	local lengths=(0 1 "$TEXT_MAX" 17 40000 $(( TEXT_MAX - 1 )) 3 8191
	    8192 4096 250)
	local i

	SCRIPT=()
	for (( i = 0; i < $2; i++ )); do
		long_text "${lengths[i % ${#lengths[@]}]}" \
		    "$1 $i: the quick brown fox	jumps over \\x1b; "
		SCRIPT+=("$TEXT")
	done
}

# --- What the peer sends: escaped on the way to the screen

test_osc_title_and_clipboard_sequences_from_peer_are_shown_escaped() {
	raw_tells_listener 'title \033]0;pwned\007!' \
	    'clipboard \033]52;c;cm0gLXJmIH4=\007!' \
	    'clipboard st \033]52;c;aGk=\033\\!' \
	    'bs mid\bline, cr mid\rline' 'csi \2332J, csi \302\2332J'
	expect_bytes l.out 'They say: %s\n' 'title \x1b]0;pwned\x07!' \
	    'clipboard \x1b]52;c;cm0gLXJmIH4=\x07!' \
	    'clipboard st \x1b]52;c;aGk=\x1b\!' \
	    'bs mid\x08line, cr mid\x0dline' 'csi \x9b2J, csi \u009b2J'
}

# Each of the nine bidi controls in its own message, so that a failure
# names the one that got through.
test_each_bidi_control_from_peer_is_shown_as_a_u_escape() {
	raw_tells_listener 'lre \342\200\252.' 'rle \342\200\253.' \
	    'pdf \342\200\254.' 'lro \342\200\255.' 'rlo \342\200\256.' \
	    'lri \342\201\246.' 'rli \342\201\247.' 'fsi \342\201\250.' \
	    'pdi \342\201\251.' 'all \342\200\256\342\201\247\342\200\255!'
	expect_bytes l.out 'They say: %s\n' 'lre \u202a.' 'rle \u202b.' \
	    'pdf \u202c.' 'lro \u202d.' 'rlo \u202e.' 'lri \u2066.' \
	    'rli \u2067.' 'fsi \u2068.' 'pdi \u2069.' \
	    'all \u202e\u2067\u202d!'
}

# U+2028 (line separator), U+FEFF, a tag and a stray ZWJ become \u or
# \U escapes; the family (man, ZWJ, woman, ZWJ, girl) is kept whole.
test_separators_invisibles_and_tags_from_peer_are_escaped_and_emoji_kept() {
	local ls=$'\342\200\250' bom=$'\357\273\277' tag=$'\363\240\200\201'
	local zwj=$'\342\200\215' family

	family=$'\360\237\221\250'$zwj$'\360\237\221\251'$zwj$'\360\237\221\247'
	raw_tells_listener "ls $ls bom $bom tag $tag zwj x${zwj}y $family!"
	expect_bytes l.out 'They say: %s\n' \
	    "ls \\u2028 bom \\ufeff tag \\U000e0001 zwj x\\u200dy $family!"
}

test_nul_and_bad_utf8_mid_message_are_escaped_and_the_rest_kept() {
	raw_tells_listener 'a\000\000b\000' \
	    '3-byte overlong \340\200\257 kept' \
	    '4-byte overlong \360\200\200\257 kept' \
	    '2-byte overlong \301\277 kept' 'never utf8 \376\377 kept' \
	    'cut short \342\202 then \303\251 kept' \
	    '\000 nul first, utf8 after: \346\227\245 \360\237\230\200'
	expect_bytes l.out 'They say: %s\n' 'a\x00\x00b\x00' \
	    '3-byte overlong \xe0\x80\xaf kept' \
	    '4-byte overlong \xf0\x80\x80\xaf kept' \
	    '2-byte overlong \xc1\xbf kept' 'never utf8 \xfe\xff kept' \
	    'cut short \xe2\x82 then é kept' \
	    '\x00 nul first, utf8 after: 日 😀'
}

# --- The frame limit

test_frame_at_limit_is_delivered_and_one_byte_over_ends_conversation() {
	local at_limit

	fifo_hold l 7
	chat_listen l
	printf 'first\nsecond\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	long_text "$TEXT_MAX" 'at the limit '	# "MSG " + this: 65536 bytes
	at_limit=$TEXT
	raw_send 'MSG %s\n' "$at_limit"
	raw_expect 'MSG second'
	long_text $(( TEXT_MAX + 1 )) 'one over '	# 65537, then its LF
	raw_breaks_protocol 'ERR frame too long' 'MSG %s\n' "$TEXT"
	wait_line l.err \
	    "chat: peer 127.0.0.1:$RAWPORT: protocol error: frame too long"
	# The listener serves the next peer.
	printf 'ok\n' > next.in
	chat_connect next
	wait_line next.err "Connected to 127.0.0.1:$PORT"
	printf 'after\nQUIT\n' >&7
	exec 7>&-
	chat_finish next 0
	chat_finish l 0
	expect_bytes next.out 'They say: after\n'
	expect_bytes l.out 'They say: %s\n' "$at_limit" ok
}

# A gigabyte without LF: chat holds at most one frame, refuses the peer
# after CHAT_FRAME_MAX bytes, and the flood ends on a reset (chat drains
# at most 2 s after its ERR), not after a gigabyte.
test_gigabyte_without_newline_keeps_memory_flat_and_next_is_served() {
	local before

	fifo_hold l 7
	chat_listen l
	printf 'first\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	chat_pid l
	proc_kb "$CPID" VmHWM
	before=$KB
	(
		printf 'MSG ' >&3 && head -c 1073741824 /dev/zero | tr '\0' x >&3
		: > flood.done
	) 2> flood.err &
	echo "$!" >> "$T/pids"
	raw_expect 'ERR frame too long'
	raw_expect_close
	raw_close
	wait_line l.err \
	    "chat: peer 127.0.0.1:$RAWPORT: protocol error: frame too long"
	# The next peer is served while the flood still runs.
	printf 'ok\n' > next.in
	chat_connect next
	wait_line next.err "Connected to 127.0.0.1:$PORT"
	until_deadline 8 test -e flood.done ||
	    fail "the flood still runs 8 s after ERR: the listener reads it all"
	proc_kb "$CPID" VmHWM
	(( KB - before < 1024 )) ||
	    fail "listener's peak memory grew by $(( KB - before )) kB" \
	    "($before kB to $KB kB), expected under 1024 kB"
	rss_within_ceiling "$CPID" listener
	printf 'after\nQUIT\n' >&7
	exec 7>&-
	chat_finish next 0
	chat_finish l 0
	expect_bytes next.out 'They say: after\n'
	expect_bytes l.out 'They say: ok\n'
}

# A newcomer turned away with BUSY is read at most 128 KiB (what is left
# of a frame and a bit) before the close, however much it sends: a flood
# must not keep the listener from its conversation. Each flood fills the
# socket buffers before the listener sees it, and goes on as it reads.
# (Five of them: without the bound, whether the flood keeps ahead of the
# reads, and the listener reads on, varies from run to run.)
test_busy_turn_away_reads_at_most_128_kib_of_a_flood() {
	local flooder before round

	fifo_hold l 7
	chat_listen l
	printf 'first\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'		# their turn: a newcomer gets BUSY
	chat_pid l
	for round in 1 2 3 4 5; do
		kill -STOP "$CPID"
		head -c 67108864 /dev/zero 2> flood.err \
		    > "/dev/tcp/127.0.0.1/$PORT" &
		flooder=$!
		echo "$flooder" >> "$T/pids"
		until_deadline "$WAIT" sleeps_in "$flooder" \
		    sk_stream_wait_memory wait_woken ||
		    fail "flood $round does not fill the socket buffers"
		# rchar: what it took in with read(2), as from stdin and a
		# turned-away socket; its peer it reads with recv(), not
		# counted there.
		proc_field "$CPID" io rchar
		before=$FIELD
		kill -CONT "$CPID"
		until_deadline "$WAIT" turned_away_is l.err "$round" ||
		    fail "flood $round not turned away: $(show l.err)"
		# Its connection reset, the flood ends.
		until_deadline "$WAIT" eval "! kill -0 $flooder 2>/dev/null" ||
		    fail "flood $round still runs $WAIT s after BUSY"
		proc_field "$CPID" io rchar
		note "flood $round: read $(( FIELD - before )) bytes"
		(( FIELD - before <= 131072 )) ||
		    fail "the listener read $(( FIELD - before )) bytes of" \
		    "turned-away flood $round, expected at most 131072"
	done
	# The conversation goes on.
	raw_send 'MSG still here\n'
	wait_line l.out 'They say: still here'
	raw_send 'QUIT\n'
	raw_expect_close
	raw_close
	exec 7>&-
	chat_finish l 0
}

# --- Slow and silent peers

# With --timeout 2 in the peer's turn, the turn's deadline comes first: it
# counts from the start of the turn, and a dripping peer cannot stretch it.
test_drip_fed_frame_does_not_stretch_the_turn_timeout_exit_6() {
	local start

	printf 'Are you there?\nnever sent\n' > l.in
	chat_listen l --once --timeout 2
	raw_connect 'HELLO chat/1\n'
	raw_expect 'HELLO chat/1 chat/2'
	raw_expect 'MSG Are you there?'
	now_us
	start=$NOW
	raw_drip 'MSG yes, but I type very slowly'
	raw_expect QUIT 6
	ms_since "$start"
	(( TOOK >= 1500 && TOOK <= 3500 )) ||
	    fail "QUIT came after $TOOK ms, expected about 2000"
	raw_expect_close
	raw_drip_stop
	chat_finish l 6
	expect_line l.err "chat: peer 127.0.0.1:$RAWPORT: no answer within 2 seconds"
	expect_no_line_re l.err '.*frame not finished.*'
	expect_bytes l.out ''
}

# The frame deadline holds in every state: here a frame begun in our
# turn, out of turn, that never ends. --timeout 2 shortens it.
test_drip_fed_frame_in_our_turn_ends_at_shorter_timeout_exit_6() {
	local start

	fifo_hold l 7
	chat_listen l --once --timeout 2
	raw_connect 'HELLO chat/1\n'
	raw_expect 'HELLO chat/1 chat/2'
	wait_line l.err "Connection from 127.0.0.1:$RAWPORT"	# our turn
	now_us
	start=$NOW
	raw_drip 'MSG not my turn, and slow too'
	raw_expect 'ERR frame too slow' 6
	ms_since "$start"
	(( TOOK >= 1500 && TOOK <= 3500 )) ||
	    fail "ERR frame too slow came after $TOOK ms, expected about 2000"
	raw_expect_close
	raw_drip_stop
	chat_finish l 6
	exec 7>&-
	expect_line l.err \
	    "chat: peer 127.0.0.1:$RAWPORT: frame not finished within 2 seconds"
	expect_bytes l.out ''
}

# A chat peer stopped (SIGSTOP) in its turn holds its connection open
# and says nothing: --timeout ends the conversation, and the peer, once
# continued, learns that it was ended.
test_stopped_peer_is_given_up_after_timeout_exit_6() {
	local start

	printf 'hi\nnever sent\n' > l.in
	fifo_hold c 8
	chat_listen l --once --timeout 1
	now_us
	start=$NOW
	chat_connect c
	wait_line c.out 'They say: hi'		# the connector's turn
	chat_pid c
	kill -STOP "$CPID"
	wait_line_re l.err "chat: peer 127\\.0\\.0\\.1:[0-9]+: no answer within 1 second"
	ms_since "$start"
	(( TOOK <= 3000 )) ||
	    fail "the listener gave up after $TOOK ms, expected about 1000"
	kill -CONT "$CPID"
	chat_finish c 0
	chat_finish l 6
	peer_port l
	expect_line l.err "chat: peer 127.0.0.1:$CPORT: no answer within 1 second"
	expect_line c.err 'They ended the conversation: no answer within 1 second.'
	expect_bytes c.out 'They say: hi\n'
	expect_bytes l.out ''
}

# --timeout shortens the 5 s HELLO deadline too; a stranger that never
# said HELLO does not use up a --once listener's one conversation.
test_silent_peer_gets_err_no_hello_within_shorter_timeout() {
	local start

	printf 'hi\nQUIT\n' > l.in
	printf 'hello\n' > c.in
	chat_listen l --once --timeout 1
	now_us
	start=$NOW
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_expect 'ERR no hello' 4
	ms_since "$start"
	(( TOOK >= 900 && TOOK <= 2500 )) ||
	    fail "ERR no hello came after $TOOK ms, expected about 1000"
	raw_expect_close
	raw_close
	wait_line l.err "chat: peer 127.0.0.1:$RAWPORT: no HELLO within 1 second"
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: hi\n'
	expect_bytes l.out 'They say: hello\n'
}

# --- Peers that vanish, in their turn and in ours

test_peer_closing_mid_frame_in_their_turn_is_reported_at_once() {
	fifo_hold l 7
	chat_listen l
	printf 'first\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	raw_send 'MSG half a li'
	raw_close
	reported_at_once l.err \
	    "chat: peer 127\\.0\\.0\\.1:$RAWPORT closed the connection"
	expect_bytes l.out ''
	listener_serves_next
}

test_peer_closing_mid_frame_in_our_turn_is_reported_at_once() {
	fifo_hold l 7
	chat_listen l
	raw_connect
	raw_hello
	wait_line l.err "Connection from 127.0.0.1:$RAWPORT"	# our turn
	raw_send 'MSG half a li'
	raw_close
	reported_at_once l.err \
	    "chat: peer 127\\.0\\.0\\.1:$RAWPORT closed the connection"
	expect_bytes l.out ''
	listener_serves_next
}

test_peer_reset_mid_frame_in_their_turn_is_reported_at_once() {
	fifo_hold l 7
	chat_listen l
	printf 'first\n' >&7
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	raw_send 'MSG half a li'
	raw_reset
	reported_at_once l.err \
	    "chat: peer 127\\.0\\.0\\.1:$RAWPORT: $E_CONNRESET"
	expect_bytes l.out ''
	listener_serves_next
}

test_peer_reset_mid_frame_in_our_turn_is_reported_at_once() {
	fifo_hold l 7
	chat_listen l
	raw_connect
	raw_hello
	wait_line l.err "Connection from 127.0.0.1:$RAWPORT"	# our turn
	raw_send 'MSG half a li'
	raw_reset
	reported_at_once l.err \
	    "chat: peer 127\\.0\\.0\\.1:$RAWPORT: $E_CONNRESET"
	expect_bytes l.out ''
	listener_serves_next
}

test_connector_killed_in_listeners_turn_is_reported_at_once() {
	fifo_hold l 7
	fifo_hold c1 8
	chat_listen l
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	# The listener's turn: it waits for its own input, not the peer.
	wait_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'
	peer_port l
	chat_pid c1
	kill -KILL "$CPID"
	chat_reap c1
	exec 8>&-
	reported_at_once l.err "chat: peer 127\\.0\\.0\\.1:$CPORT( closed the connection|: $E_CONNRESET)"
	expect_bytes l.out ''
	listener_serves_next
}

# --- Local QUIT and end of input

test_every_line_before_quit_reaches_the_peer_byte_for_byte() {
	local from_listener

	assorted_lines L 30
	from_listener=("${SCRIPT[@]}")
	assorted_lines C 30
	printf '%s\n' "${from_listener[@]}" QUIT 'never sent' > l.in
	printf '%s\n' "${SCRIPT[@]}" 'never sent either' > c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' "${from_listener[@]}"
	expect_bytes l.out 'They say: %s\n' "${SCRIPT[@]}"
	expect_line l.err 'You ended the conversation.'
	expect_line c.err 'They ended the conversation.'
}

test_every_line_before_end_of_input_reaches_the_peer_byte_for_byte() {
	local from_listener

	assorted_lines L 31
	from_listener=("${SCRIPT[@]}")
	assorted_lines C 30
	printf '%s\n' "${from_listener[@]}" 'never sent' > l.in
	# The connector's script ends without a newline after its last line.
	printf '%s\n' "${SCRIPT[@]:0:29}" > c.in
	printf '%s' "${SCRIPT[29]}" >> c.in
	chat_listen l --once
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' "${from_listener[@]}"
	expect_bytes l.out 'They say: %s\n' "${SCRIPT[@]}"
	expect_line c.err 'You ended the conversation.'
	expect_line l.err 'They ended the conversation.'
}

# --- Busy, and a restart on the same port

# Two more connectors wait in the listener's accept queue at the same time
# (the listener is stopped meanwhile), while the first peer has the turn:
# once the listener runs, both are turned away at once, and the
# conversation goes on as if they had never come.
test_second_and_third_connectors_get_busy_at_once_and_nothing_is_lost() {
	local start lpid

	fifo_hold l 7
	fifo_hold c1 8
	chat_listen l --once
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	printf 'one\n' >&7
	wait_line c1.out 'They say: one'	# the first peer's turn
	chat_pid l
	lpid=$CPID
	kill -STOP "$lpid"
	printf 'never sent\n' > c2.in
	printf 'never sent\n' > c3.in
	chat_connect c2
	chat_connect c3
	until_deadline "$WAIT" accept_queue_is "$PORT" 2 ||
	    fail "the two connectors are not both waiting to be accepted"
	now_us
	start=$NOW
	kill -CONT "$lpid"
	chat_finish c2 5
	chat_finish c3 5
	ms_since "$start"
	(( TOOK < 1000 )) ||
	    fail "the connectors were turned away after $TOOK ms, not at once"
	expect_bytes c2.err \
	    'chat: connect 127.0.0.1:%s: busy: the listener is in another conversation\n' \
	    "$PORT"
	expect_bytes c3.err \
	    'chat: connect 127.0.0.1:%s: busy: the listener is in another conversation\n' \
	    "$PORT"
	expect_bytes c2.out ''
	expect_bytes c3.out ''
	printf 'two\n' >&8
	wait_line l.out 'They say: two'
	printf 'three\n' >&7
	wait_line c1.out 'They say: three'
	printf 'four\n' >&8
	wait_line l.out 'They say: four'
	printf 'QUIT\n' >&7
	chat_finish c1 0
	chat_finish l 0
	exec 7>&- 8>&-
	expect_bytes c1.out 'They say: %s\n' one three
	expect_bytes l.out 'They say: %s\n' two four
	expect_bytes c1.err '%s\n' "Connected to 127.0.0.1:$PORT" \
	    'They ended the conversation.'
	until_deadline "$WAIT" turned_away_is l.err 2 ||
	    fail "expected 2 connections turned away in l.err: $(show l.err)"
}

# The listener sent QUIT, so it closed first and its end of the
# connection waits in TIME_WAIT on PORT: a listener started at once on the
# same port must still bind it (SO_REUSEADDR).
test_restarted_listener_binds_same_port_at_once_despite_time_wait() {
	printf 'hi\nQUIT\n' > l.in
	chat_listen l --once
	# A raw peer that closes only after the listener's FIN, so that the
	# listener closes first and its end of the connection, on PORT, is
	# the one left in TIME_WAIT. (A chat peer may close as soon as QUIT
	# arrives, before the FIN behind it: then TIME_WAIT is on its side.)
	raw_connect
	raw_hello
	raw_expect 'MSG hi'
	raw_send 'MSG hello\n'
	raw_expect 'QUIT'
	raw_expect_close
	raw_close
	chat_finish l 0
	expect_bytes l.out 'They say: hello\n'
	until_deadline "$WAIT" time_wait_on "$PORT" ||
	    fail "no TIME_WAIT socket on port $PORT: the test would prove nothing"
	printf 'again\nQUIT\n' > l2.in
	printf 'back\n' > c2.in
	chat_start l2 --listen "127.0.0.1:$PORT" --once
	wait_line l2.err "Listening on 127.0.0.1:$PORT"
	chat_connect c2
	chat_finish c2 0
	chat_finish l2 0
	expect_bytes c2.out 'They say: again\n'
	expect_bytes l2.out 'They say: back\n'
}

# --- Bad endpoints

# bad_endpoint OPTION SPEC: chat OPTION SPEC is a usage error (exit 2,
# usage on stderr), and an error line names SPEC.
bad_endpoint() {
	local line

	usage_error "$1" "$2"
	while IFS= read -r line; do
		[[ $line == 'chat: '*"$2"* ]] && return 0
	done < "u$USAGE.err"
	fail "chat $1 $(quoted "$2"): no \"chat: \" line naming $(quoted "$2");" \
	    "stderr $(show "u$USAGE.err")"
}

test_bad_endpoints_are_usage_errors_that_name_them() {
	local spec

	for spec in 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:-1 127.0.0.1:abc \
	    localhost:0x50 abc -1 '[::1' '[::1]' '[::1]:' '[::1]5000' \
	    ::1:5000 localhost: :5000; do
		bad_endpoint --connect "$spec"
	done
	for spec in 65536 -1 abc 127.0.0.1:99999 '[::1' '[::1]' ::1:5000 \
	    127.0.0.1: :5000; do
		bad_endpoint --listen "$spec"
	done
}

test_port_range_in_the_error_is_the_one_of_the_option() {
	usage_error --connect 127.0.0.1:65536
	expect_line "u$USAGE.err" \
	    "chat: bad endpoint '127.0.0.1:65536': port must be a number from 1 to 65535"
	usage_error --connect 127.0.0.1:00
	expect_line "u$USAGE.err" \
	    "chat: bad endpoint '127.0.0.1:00': port must be a number from 1 to 65535"
	usage_error --listen 127.0.0.1:65536
	expect_line "u$USAGE.err" \
	    "chat: bad endpoint '127.0.0.1:65536': port must be a number from 0 to 65535"
}

test_listen_on_unresolvable_address_exits_3() {
	: > l.in
	chat_start l --listen nosuch.invalid:0
	chat_finish l 3
	expect_line_re l.err 'chat: resolve nosuch\.invalid: .+'
	expect_bytes l.out ''
}

# === The listener core: candidates, refusals, reports, stop signals ========
#
# A listener that is not in a conversation holds up to 16 candidates, at
# most 4 from one source address, each sent HELLO at once; the first to
# complete its HELLO gets the conversation, and the others are then sent
# BUSY and closed. Newcomers beyond those limits are refused at once with
# ERR. Reports about connections that never became a conversation come at
# most one line a second, on a terminal or not. The first stop signal
# ends chat whatever it is blocked on. Peak RSS stays within RSS_MAX_KB
# in each of these cases.
#
# Source addresses other than 127.0.0.1 (127.0.0.2 and on) reach a
# listener on 127.0.0.1 through Linux's loopback, which takes all of
# 127/8; perl binds them, as bash's /dev/tcp cannot.

# silent_clients ROLE SRC:N...: in the background, a perl client opens N
# connections from each source address SRC to 127.0.0.1:PORT, one after
# another, each once the one before has read its first line or ended. It
# never sends a byte, and keeps each connection until chat ends it.
# ROLE.log gets "SRC#I port P" as connection I from SRC is made, each
# line it then reads ("SRC#I HELLO chat/1") and how it ended ("SRC#I
# closed", "SRC#I reset"); and "all connected" once all are made.
silent_clients() {
	local role=$1

	shift
	cat > silent.pl <<'EOF'
use strict;
use warnings;
use IO::Select;
use Socket;

$| = 1;
my $port = shift;
my $open = IO::Select->new;
my (%name, %buf, %lines);

# Read what connection $s has; log its complete lines, or its end.
sub take {
	my ($s) = @_;
	my $n = sysread($s, my $data, 65536);

	if (!$n) {
		print "$name{$s} ", defined $n ? "closed" : "reset", "\n";
		$open->remove($s);
		$lines{$s} = -1;
		close $s;
		return;
	}
	$buf{$s} .= $data;
	while ($buf{$s} =~ s/^([^\n]*)\n//) {
		print "$name{$s} $1\n";
		$lines{$s}++;
	}
}

for my $spec (@ARGV) {
	my ($src, $count) = split /:/, $spec;
	for my $i (1 .. $count) {
		socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
		bind($s, pack_sockaddr_in(0, inet_aton($src)))
		    or die "bind $src: $!\n";
		connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1")))
		    or die "connect from $src: $!\n";
		$name{$s} = "$src#$i";
		$lines{$s} = 0;
		printf "%s port %d\n", $name{$s},
		    (unpack_sockaddr_in(getsockname($s)))[0];
		$open->add($s);
		my $this = IO::Select->new($s);
		take($s) while $lines{$s} == 0 && $this->can_read(10);
	}
}
print "all connected\n";
while ($open->count) {
	take($_) for $open->can_read;
}
EOF
	"$TIMEOUT" -k 2 $(( 2 * LIMIT )) perl silent.pl "$PORT" "$@" \
	    > "$role.log" 2> "$role.perl.err" \
	    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo "$!" >> "$T/pids"
}

# log_count ROLE TEXT: set COUNT to how many lines of ROLE.log are TEXT
# after the connection's name.
log_count() {
	COUNT=$(awk -v text="$2" '{ sub(/^[^ ]* /, "") } $0 == text { n++ }
	    END { print n + 0 }' "$1.log")
}

# log_has ROLE TEXT N: whether N lines of ROLE.log are TEXT.
log_has() {
	log_count "$1" "$2"
	(( COUNT == $3 ))
}

# log_summary ROLE: what the connections of ROLE.log read, counted, for
# failure messages.
log_summary() {
	awk '$2 != "port" && $0 != "all connected" { sub(/^[^ ]* /, "");
	    n[$0]++ } END { for (t in n) printf "%d \"%s\"; ", n[t], t }' \
	    "$1.log"
	[[ -s $1.perl.err ]] && printf 'perl: %s' "$(show "$1.perl.err")"
}

# log_port ROLE NAME: set LPORT to the local port of connection NAME
# (SRC#I) of ROLE.log.
log_port() {
	LPORT=$(awk -v name="$2" '$1 == name && $2 == "port" { print $3 }' \
	    "$1.log")
	[[ $LPORT ]] || fail "no connection $2 in $1.log: $(show "$1.log")"
}

# pool_fill: a full pool: 16 silent connections (ROLE s), 4 from each of
# 127.0.0.2 to 127.0.0.5, each of them a candidate (it read HELLO).
pool_fill() {
	silent_clients s 127.0.0.2:4 127.0.0.3:4 127.0.0.4:4 127.0.0.5:4
	wait_line s.log 'all connected'
	log_has s 'HELLO chat/1 chat/2' 16 ||
	    fail "of 16 silent connections, 4 from each of 127.0.0.2-5," \
	    "$COUNT read HELLO chat/1, expected 16: $(log_summary s)"
}

# first_turned_away: wait for l.err's first "Turned away" line; set
# FIRST to it.
first_turned_away() {
	wait_line_re l.err 'Turned away .*'
	FIRST=$(grep -m 1 '^Turned away ' l.err)
}

# squatter_start: in the background, a client that holds one silent
# connection to 127.0.0.1:PORT at a time: it reads until chat closes it,
# then connects again at once, until the listener is gone. squat.log
# gets every line it reads. It holds none of the test's descriptors (a
# listener's input would not end while it held it).
squatter_start() {
	(
		exec 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
		while exec 3<>"/dev/tcp/127.0.0.1/$PORT"; do
			while IFS= read -r line <&3; do
				printf '%s\n' "$line" >> squat.log
			done
			exec 3<&-
		done 2> /dev/null
	) &
	echo "$!" >> "$T/pids"
}

# squatter_hellos_over N: whether the squatter has read more than N
# HELLOs, that is, been taken on more than N times.
squatter_hellos_over() {
	[[ -f squat.log ]] && (( $(grep -c '^HELLO chat/1 chat/2$' squat.log) > $1 ))
}

# fake_listener LINE: in the background, perl listens on 127.0.0.1, port
# 0, and sends each connection LINE and a LF at once, then closes it
# (after reading what came, so that the close is no reset). Sets PORT.
fake_listener() {
	"$TIMEOUT" -k 2 "$LIMIT" perl -MSocket -e '
	    $| = 1;
	    socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
	    bind($l, pack_sockaddr_in(0, inet_aton("127.0.0.1")))
		or die "bind: $!\n";
	    listen($l, 5) or die "listen: $!\n";
	    printf "port %d\n", (unpack_sockaddr_in(getsockname($l)))[0];
	    while (accept(my $c, $l)) {
		syswrite($c, "$ARGV[0]\n");
		shutdown($c, 1);
		my $in = "";
		vec($in, fileno($c), 1) = 1;
		1 while select(my $r = $in, undef, undef, 5) > 0 &&
		    sysread($c, my $x, 65536);
		close $c;
	    }' "$1" > fake.log 2> fake.err 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo "$!" >> "$T/pids"
	wait_line_re fake.log 'port [0-9]+'
	PORT=${MATCH#port }
}

# gone PID: whether process PID has exited (and been reaped).
gone() {
	! kill -0 "$1" 2>/dev/null
}

# exits_after_one_signal ROLE: ROLE's chat (CPID), sent one SIGTERM,
# exits within WAIT seconds.
exits_after_one_signal() {
	local wchan

	kill -TERM "$CPID"
	until_deadline "$WAIT" gone "$CPID" && return
	[[ $LINUX ]] && wchan=$(cat "/proc/$CPID/wchan" 2>/dev/null)
	fail "$1: still running $WAIT s after one SIGTERM (asleep in $wchan)"
}

# pipe_fill FIFO: fill the pipe FIFO, which the test holds open, until a
# write would block: whoever writes to it next waits.
pipe_fill() {
	perl -MFcntl -e '
	    sysopen(my $p, $ARGV[0], O_WRONLY | O_NONBLOCK) or die "$!\n";
	    for my $size (4096, 1) {
		1 while defined syswrite($p, "x" x $size);
		$!{EAGAIN} or die "write: $!\n";
	    }' "$1" || fail "cannot fill the pipe $1"
}

# fifo_expect_re FD ERE: the next line read from FD (a FIFO the test
# holds open) matches ERE; set MATCH to it.
fifo_expect_re() {
	local line= status re="^($2)\$"

	IFS= read -r -t "$WAIT" line <&"$1"
	status=$?
	(( status == 0 )) ||
	    fail "no line /$2/ on fd $1 within $WAIT s (read status" \
	    "$status, $(quoted "$line") so far)"
	[[ $line =~ $re ]] || fail "read $(quoted "$line") on fd $1, expected /$2/"
	MATCH=$line
}

# lines_in FILE N: whether FILE holds N lines or more.
lines_in() {
	[[ -f $1 ]] && (( $(wc -l < "$1") >= $2 ))
}

# turned_away_tally FILE: count FILE's "Turned away" lines (TA_LINES), the
# connections they report (TA_TOTAL: one for a line that names one, N
# for "Turned away N more: N busy"); set TA_FIRST to the first of them,
# and TA_BAD to one of another kind, if any: only busy turn-aways are
# expected.
turned_away_tally() {
	local line one='^Turned away 127\.0\.0\.1:[0-9]+: busy$'
	local more='^Turned away ([0-9]+) more: ([0-9]+) busy$'

	TA_LINES=0 TA_TOTAL=0 TA_FIRST= TA_BAD=
	[[ -f $1 ]] || return 0
	while IFS= read -r line; do
		[[ $line == 'Turned away '* ]] || continue
		(( TA_LINES++ )) || TA_FIRST=$line
		if [[ $line =~ $one ]]; then
			(( TA_TOTAL += 1 ))
		elif [[ $line =~ $more ]] &&
		    (( BASH_REMATCH[1] == BASH_REMATCH[2] )); then
			(( TA_TOTAL += BASH_REMATCH[1] ))
		else
			TA_BAD=$line
		fi
	done < "$1"
}

# tallied REFRESH N: whether l.err, once REFRESH has brought it up to
# date, reports N turned-away connections or more.
tallied() {
	"$1"
	turned_away_tally l.err
	(( TA_TOTAL >= $2 ))
}

# busy_flood_is_coalesced REFRESH: l is in a conversation on PORT, its peer
# has the turn. 300 connections, one after another, are each sent BUSY;
# l.err (brought up to date by REFRESH) then reports all 300 in at most
# one line a second (one more for slack): the first in full, the rest as
# "Turned away N more: N busy".
busy_flood_is_coalesced() {
	local refresh=$1 i line first= start most

	now_us
	start=$NOW
	for (( i = 1; i <= 300; i++ )); do
		busy_newcomer "connection $i"
		if (( i == 1 )); then
			first=$(sock_port 4) ||
			    fail "cannot find connection 1's port"
		fi
		exec 4<&-
	done
	until_deadline "$WAIT" tallied "$refresh" 300 ||
	    fail "the \"Turned away\" lines report $TA_TOTAL of the 300" \
	    "connections $WAIT s after the last: $(show l.err)"
	ms_since "$start"
	most=$(( (TOOK + 999) / 1000 + 2 ))
	note "300 turned away in $TOOK ms: $TA_LINES \"Turned away\" lines"
	(( TA_LINES <= most )) ||
	    fail "$TA_LINES \"Turned away\" lines for 300 connections turned" \
	    "away in $TOOK ms, expected at most $most (one a second);" \
	    "l.err: $(show l.err)"
	[[ $TA_FIRST == "Turned away 127.0.0.1:$first: busy" ]] ||
	    fail "first \"Turned away\" line $(quoted "$TA_FIRST"), expected" \
	    "'Turned away 127.0.0.1:$first: busy'"
	[[ ! $TA_BAD ]] || fail "unexpected line $(quoted "$TA_BAD") in l.err"
	(( TA_TOTAL == 300 )) ||
	    fail "the \"Turned away\" lines report $TA_TOTAL connections," \
	    "expected 300: $(show l.err)"
}

# term_to_err: l.err is what l.term, the copy of l's terminal, shows, in
# lines without their CR.
term_to_err() {
	tr -d '\r' < l.term > l.err
}

# --- Candidates: the first to complete its HELLO gets the conversation

# Silent connections made before a real peer do not keep it out: each is
# sent HELLO at once, the chat that comes after them completes its HELLO
# first and is served, and the silent ones are then sent BUSY and closed.
test_silent_candidates_get_busy_when_a_later_peer_completes_hello() {
	fifo_hold l 7
	printf 'hello\nQUIT\n' >&7
	chat_listen l
	silent_clients s 127.0.0.1:3
	wait_line s.log 'all connected'
	log_has s 'HELLO chat/1 chat/2' 3 ||
	    fail "of 3 silent connections, $COUNT read HELLO chat/1," \
	    "expected 3: $(log_summary s)"
	printf 'reply\n' > c.in
	chat_connect c
	chat_finish c 0
	expect_bytes c.out 'They say: hello\n'
	until_deadline "$WAIT" log_has s closed 3 ||
	    fail "the silent connections are not all closed: $(log_summary s)"
	log_has s BUSY 3 ||
	    fail "$COUNT of 3 silent connections read BUSY: $(log_summary s)"
	exec 7>&-
	chat_finish l 0
	expect_bytes l.out 'They say: reply\n'
	expect_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'
}

# A client that holds one silent connection at a time and connects again
# the moment it is dropped (--timeout 1 drops it after a second) cannot
# keep peers out: three conversations in a row are all served.
test_squatter_reconnecting_at_once_does_not_keep_peers_out() {
	local i taken=0

	fifo_hold l 7
	for i in 1 2 3; do
		printf 'to %d a\nto %d b\n' "$i" "$i"
	done >&7
	chat_listen l --timeout 1
	squatter_start
	for i in 1 2 3; do
		# The squatter has been taken on again before each peer comes.
		until_deadline "$WAIT" squatter_hellos_over "$taken" ||
		    fail "the squatter is not taken on before peer $i:" \
		    "$(show squat.log)"
		printf 'from %d\n' "$i" > "c$i.in"
		chat_connect "c$i"
		chat_finish "c$i" 0
		expect_bytes "c$i.out" 'They say: %s\n' "to $i a" "to $i b"
		taken=$(grep -c '^HELLO chat/1 chat/2$' squat.log)
	done
	exec 7>&-
	chat_finish l 0
	expect_bytes l.out 'They say: %s\n' 'from 1' 'from 2' 'from 3'
	[[ $(grep -cE '^Connection from 127\.0\.0\.1:[0-9]+$' l.err) == 3 ]] ||
	    fail "expected 3 \"Connection from\" lines in l.err: $(show l.err)"
}

# --- Refusals: 4 candidates from one address, 16 in all

# Twenty silent connections from one address: four become candidates, the
# other sixteen are refused at once with ERR; a chat from another address
# is served meanwhile, and the four are then sent BUSY and closed.
test_fifth_candidate_from_one_address_gets_err_too_many() {
	local refused want

	fifo_hold l 7
	printf 'hello\nQUIT\n' >&7
	chat_listen l
	silent_clients s 127.0.0.3:20
	wait_line s.log 'all connected'
	log_count s 'HELLO chat/1 chat/2'
	local hellos=$COUNT
	log_count s 'ERR too many from your address'
	(( hellos == 4 && COUNT == 16 )) ||
	    fail "of 20 silent connections from 127.0.0.3, $hellos read" \
	    "HELLO chat/1 and $COUNT ERR too many from your address," \
	    "expected 4 and 16: $(log_summary s)"
	until_deadline "$WAIT" log_has s closed 16 ||
	    fail "the 16 refused are not all closed: $(log_summary s)"
	refused=$(awk '$2 == "ERR" { print $1; exit }' s.log)
	log_port s "$refused"
	first_turned_away
	want="Turned away 127.0.0.3:$LPORT: too many from this address"
	[[ $FIRST == "$want" ]] ||
	    fail "first \"Turned away\" line $(quoted "$FIRST"), expected $(quoted "$want")"

	printf 'reply\n' > c.in
	chat_connect c
	chat_finish c 0
	expect_bytes c.out 'They say: hello\n'
	until_deadline "$WAIT" log_has s closed 20 ||
	    fail "the 4 candidates are not closed: $(log_summary s)"
	log_has s BUSY 4 ||
	    fail "$COUNT of the 4 candidates read BUSY: $(log_summary s)"
	exec 7>&-
	chat_finish l 0
	expect_bytes l.out 'They say: reply\n'
}

# 16 candidates from four addresses fill the pool: a 17th connection, from
# a fifth address, is sent ERR listener full and closed, and a chat that
# comes then says it was refused, exit 5. The candidates are kept.
test_seventeenth_candidate_gets_err_listener_full_and_chat_is_refused() {
	fifo_hold l 7
	chat_listen l
	pool_fill
	silent_clients t 127.0.0.6:1
	until_deadline "$WAIT" log_has t closed 1 ||
	    fail "the 17th connection is still open: $(log_summary t)"
	log_has t 'ERR listener full' 1 ||
	    fail "the 17th connection did not read ERR listener full:" \
	    "$(log_summary t)"
	log_port t 127.0.0.6#1
	first_turned_away
	[[ $FIRST == "Turned away 127.0.0.6:$LPORT: full" ]] ||
	    fail "first \"Turned away\" line $(quoted "$FIRST"), expected" \
	    "'Turned away 127.0.0.6:$LPORT: full'"
	printf 'never sent\n' > c.in
	chat_connect c
	chat_finish c 5
	expect_bytes c.err 'chat: connect 127.0.0.1:%s: refused: %s\n' "$PORT" \
	    'listener full'
	expect_bytes c.out ''
	# All that happened within the candidates' 5 s: none was dropped.
	log_has s closed 0 ||
	    fail "$COUNT candidates were closed meanwhile: $(log_summary s)"
}

# ERR before the listener's HELLO is a refusal: the reason, escaped, is
# shown as the listener sent it, and chat exits 5, as for BUSY.
test_err_before_listeners_hello_is_a_refusal_shown_escaped_exit_5() {
	fake_listener $'ERR go \e[31maway'
	printf 'never sent\n' > c.in
	chat_connect c
	chat_finish c 5
	expect_bytes c.err 'chat: connect 127.0.0.1:%s: refused: %s\n' \
	    "$PORT" 'go \x1b[31maway'
	expect_bytes c.out ''
}

# --- Reports of connections that never became a conversation

# 300 connections turned away during one conversation make a handful of
# lines on stderr, not 300; their numbers add up to 300.
test_turned_away_reports_are_coalesced_to_one_line_a_second() {
	fifo_hold l 7
	printf 'first\n' >&7
	chat_listen l --once
	raw_connect
	raw_hello
	raw_expect 'MSG first'		# their turn: newcomers get BUSY
	busy_flood_is_coalesced :
	conversation_goes_on_then_ends
}

# conversation_goes_on_then_ends: after the flood, the raw peer's next
# message is shown, the listener's QUIT (from fd 7) ends the conversation,
# and the listener exits 0 having shown that message alone.
conversation_goes_on_then_ends() {
	raw_send 'MSG still here\n'
	wait_line l.out 'They say: still here'
	printf 'QUIT\n' >&7
	raw_expect QUIT
	raw_expect_close
	raw_close
	chat_finish l 0
	exec 7>&-
	expect_bytes l.out 'They say: still here\n'
}

# The same with stderr a terminal (script(1) gives it one, and copies
# what it shows to l.term).
test_turned_away_reports_are_coalesced_on_a_terminal_too() {
	local command="exec $TIMEOUT -k 2 $LIMIT $(quoted "$CHAT") --listen 127.0.0.1:0"

	linux_only "util-linux's script(1)"
	fifo_hold l 7
	printf 'first\n' >&7
	(
		trap - PIPE
		exec script -qfec "$command --once <l.in >l.out" /dev/null \
		    </dev/null >l.term 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	) &
	PID[l]=$!
	echo "$!" >> "$T/pids"
	until_deadline "$WAIT" eval 'term_to_err &&
	    has_line_re l.err "Listening on 127\\.0\\.0\\.1:[0-9]+"' ||
	    fail "no \"Listening on\" line on l's terminal: $(show l.term)"
	PORT=${MATCH##*:}
	raw_connect
	raw_hello
	raw_expect 'MSG first'
	busy_flood_is_coalesced term_to_err
	conversation_goes_on_then_ends
}

# stderr is a pipe with room, as in `chat ... 2>&1 | tee log`: the line
# that says why chat ended goes out after the stop signal, as the status
# lines before it did.
test_sigterm_line_reaches_a_stderr_pipe_exit_7() {
	mkfifo l.err || fail "mkfifo l.err failed"
	exec 4<>l.err
	fifo_hold l 7
	chat_start l --listen 127.0.0.1:0
	fifo_expect_re 4 'Listening on 127\.0\.0\.1:[0-9]+'
	chat_pid l
	kill -TERM "$CPID"
	chat_finish l 7
	fifo_expect_re 4 'chat: interrupted by SIGTERM'
}

# --- One stop signal ends chat, whatever it is blocked on

# stderr is a pipe that is full and that nobody reads: the listener
# blocks writing its "Listening on" line. One SIGTERM ends it, exit 7
# (the "interrupted" line, which could not be written, is dropped).
test_one_sigterm_ends_listener_blocked_on_a_full_stderr_pipe_exit_7() {
	mkfifo l.err || fail "mkfifo l.err failed"
	exec 4<>l.err
	pipe_fill l.err
	fifo_hold l 7
	chat_start l --listen 127.0.0.1:0
	chat_pid l
	# Blocked in the write itself, or (chat's own non-blocking
	# descriptor) in the poll that waits for room: nothing else comes
	# before the "Listening on" line.
	until_deadline "$WAIT" sleeps_in "$CPID" '*pipe_write*' '*poll*' ||
	    fail "chat is not blocked writing its stderr"
	exits_after_one_signal l
	chat_finish l 7
	expect_bytes l.out ''
}

# In a conversation, stdout and stderr both full pipes that nobody reads:
# the peer's message cannot be shown, nor anything said. One SIGTERM ends
# chat, exit 7, and the peer is sent QUIT.
test_one_sigterm_ends_conversation_with_stdout_and_stderr_full_exit_7() {
	mkfifo l.out l.err || fail "mkfifo failed"
	exec 4<>l.err 5<>l.out
	pipe_fill l.out
	printf 'hi\nnever sent\n' > l.in
	chat_start l --listen 127.0.0.1:0 --once
	fifo_expect_re 4 'Listening on 127\.0\.0\.1:[0-9]+'
	PORT=${MATCH##*:}
	chat_pid l
	raw_connect
	raw_hello
	raw_expect 'MSG hi'
	fifo_expect_re 4 "Connection from 127\\.0\\.0\\.1:$RAWPORT"
	pipe_fill l.err
	raw_send 'MSG shown to nobody\n'
	# Once it has taken the message in, chat's next act is to show it:
	# asleep then, it is blocked on stdout (in the write, or in the poll
	# that waits for room).
	until_deadline "$WAIT" eval 'rx_queue_is "$PORT" "$RAWPORT" 0 &&
	    sleeps_in "$CPID" "*pipe_write*" "*poll*"' ||
	    fail "chat is not blocked writing its stdout"
	exits_after_one_signal l
	raw_expect QUIT
	raw_expect_close
	raw_close
	chat_finish l 7
}

# --- Memory: peak RSS within RSS_MAX_KB

# Messages of 65,532 control bytes are shown four times longer (\x01 for
# each): 20 each way, chat to chat, and neither side's peak RSS passes
# the ceiling. Both inputs are FIFOs held open, so that both sides are
# still there to be measured after the last message.
test_messages_of_65532_control_bytes_keep_peak_rss_within_ceiling() {
	local i shown lcat ccat

	fifo_hold l 7
	fifo_hold c 8
	long_text "$TEXT_MAX" $'\001'
	for (( i = 0; i < 20; i++ )); do
		printf '%s\n' "$TEXT"
	done > script
	cat script >&7 8>&- &
	lcat=$!
	echo "$lcat" >> "$T/pids"
	cat script >&8 7>&- &
	ccat=$!
	echo "$ccat" >> "$T/pids"
	chat_listen l --once
	chat_connect c
	until_deadline "$WAIT" lines_in c.out 20 ||
	    fail "the connector showed $(wc -l < c.out) of 20 messages"
	until_deadline "$WAIT" lines_in l.out 20 ||
	    fail "the listener showed $(wc -l < l.out) of 20 messages"
	chat_pid l
	rss_within_ceiling "$CPID" listener
	chat_pid c
	rss_within_ceiling "$CPID" connector
	wait "$lcat" "$ccat"
	printf 'QUIT\n' >&7
	chat_finish c 0
	chat_finish l 0
	exec 7>&- 8>&-
	long_text $(( 4 * TEXT_MAX )) '\x01'
	shown=("$TEXT" "$TEXT" "$TEXT" "$TEXT" "$TEXT")
	shown+=("${shown[@]}" "${shown[@]}" "${shown[@]}")
	expect_bytes c.out 'They say: %s\n' "${shown[@]}"
	expect_bytes l.out 'They say: %s\n' "${shown[@]}"
}

# A full pool, 16 silent candidates, does not take the listener's peak
# RSS past the ceiling.
test_listener_holding_16_silent_candidates_stays_within_rss_ceiling() {
	fifo_hold l 7
	chat_listen l
	pool_fill
	chat_pid l
	rss_within_ceiling "$CPID" listener
	log_has s closed 0 ||
	    fail "$COUNT candidates were closed meanwhile: $(log_summary s)"
}

# === chat/2: names, secrets, lockout, reasons, waiting ===
#
# chat/2, spoken when both sides list it in their HELLO: after its HELLO
# the connector introduces itself (NONCE if it has a secret, then NAME),
# the listener answers with its own, and with a secret the connector,
# then the listener, send PROOF, the HMAC-SHA256 of their nonces. Three
# wrong proofs from one address within 10 minutes block it for --block
# seconds. Raw chat/2 peers compute their proofs with perl's Digest::SHA.

# Secrets come from the options a test gives, never from the environment
# the suite happens to run in.
unset CHAT_SECRET

# secret_file FILE TEXT...: FILE holds the lines TEXT..., mode 600.
secret_file() {
	local file=$1

	shift
	( umask 077 && printf '%s\n' "$@" > "$file" ) ||
	    fail "cannot write $file"
	chmod 600 "$file" || fail "cannot chmod $file"
}

# perl_listening NAME ARG...: run NAME.pl ARG... under timeout(1), output
# to NAME.log and NAME.err, until it says "port N" (a listening socket of
# its own); set PORT to N.
perl_listening() {
	local name=$1

	shift
	"$TIMEOUT" -k 2 "$LIMIT" perl "$name.pl" "$@" > "$name.log" \
	    2> "$name.err" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo "$!" >> "$T/pids"
	wait_line_re "$name.log" 'port [0-9]+'
	PORT=${MATCH#port }
}

# hmac_hex KEY DATA: print HMAC-SHA256(KEY, DATA) in lowercase hex.
hmac_hex() {
	perl -MDigest::SHA=hmac_sha256_hex -e \
	    'print hmac_sha256_hex($ARGV[1], $ARGV[0])' "$1" "$2" ||
	    fail "perl cannot compute an HMAC (Digest::SHA)"
}

# raw_expect_re ERE: the next line the raw peer reads matches ERE as a
# whole; set MATCH to it.
raw_expect_re() {
	local line status re="^($1)\$"

	IFS= read -r -t "$WAIT" line <&3
	status=$?
	(( status > 128 )) &&
	    fail "raw peer: nothing within $WAIT s, expected /$1/"
	(( status == 0 )) ||
	    fail "raw peer: connection closed after $(quoted "${line:0:80}"), expected /$1/"
	[[ $line =~ $re ]] ||
	    fail "raw peer read $(quoted "${line:0:80}"), expected /$1/"
	MATCH=$line
}

# usage_error_says LINE ARG...: chat ARG... is a usage error (see
# usage_error) whose stderr holds LINE, the reason, before the usage.
usage_error_says() {
	local line=$1

	shift
	usage_error "$@"
	expect_line "u$USAGE.err" "$line"
}

# recording_proxy TO: in the background, perl listens on 127.0.0.1, port
# 0 (PORT is set to it), takes one connection and relays it to
# 127.0.0.1:TO, both ways, byte for byte; proxy.log gets each line that
# passes, "C LINE" from the connector, "L LINE" from the listener, and
# "done" when both sides have closed.
recording_proxy() {
	cat > proxy.pl <<'EOF'
use strict;
use warnings;
use IO::Select;
use Socket;

$| = 1;
my $to = shift;
socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
bind($l, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!\n";
listen($l, 1) or die "listen: $!\n";
printf "port %d\n", (unpack_sockaddr_in(getsockname($l)))[0];
accept(my $c, $l) or die "accept: $!\n";
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
connect($s, pack_sockaddr_in($to, inet_aton("127.0.0.1")))
    or die "connect: $!\n";
my %other = ($c => $s, $s => $c);
my %tag = ($c => "C", $s => "L");
my %buf = ($c => "", $s => "");
my $open = IO::Select->new($c, $s);
while ($open->count) {
	for my $h ($open->can_read) {
		my $n = sysread($h, my $data, 65536);
		if (!$n) {
			shutdown($other{$h}, 1);
			$open->remove($h);
			next;
		}
		my $off = 0;
		while ($off < $n) {
			my $w = syswrite($other{$h}, $data, $n - $off, $off);
			defined $w or last;
			$off += $w;
		}
		$buf{$h} .= $data;
		print "$tag{$h} $1\n" while $buf{$h} =~ s/^([^\n]*)\n//;
	}
}
print "done\n";
EOF
	perl_listening proxy "$1"
}

# recorded TAG VERB: set REC to the payload of the frame VERB that the
# side TAG (C or L) sent through the recording proxy; fail if there is
# not exactly one.
recorded() {
	local lines

	lines=$(awk -v tag="$1" -v verb="$2" '$1 == tag && $2 == verb' proxy.log)
	[[ $lines && $lines != *$'\n'* ]] ||
	    fail "expected one $2 from $1 in proxy.log: $(show proxy.log)"
	REC=${lines#"$1 $2 "}
}

# script_listener STEP...: in the background, perl listens on 127.0.0.1,
# port 0 (PORT is set to it), takes one connection and plays STEP... in
# order: "<N" reads N lines, anything else is sent as a line. Then it
# reads until the connector closes. script.log gets each line read
# ("got LINE") and "closed" at the end.
script_listener() {
	cat > script.pl <<'EOF'
use strict;
use warnings;
use Socket;

$| = 1;
socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
bind($l, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!\n";
listen($l, 1) or die "listen: $!\n";
printf "port %d\n", (unpack_sockaddr_in(getsockname($l)))[0];
accept(my $c, $l) or die "accept: $!\n";
my $buf = "";
sub line {
	while ($buf !~ /\n/) {
		my $n = sysread($c, my $data, 65536);
		return undef if !$n;
		$buf .= $data;
	}
	$buf =~ s/^([^\n]*)\n//;
	return $1;
}
for my $step (@ARGV) {
	if ($step =~ /^<(\d+)$/) {
		for (1 .. $1) {
			my $line = line();
			if (!defined $line) {
				print "closed\n";
				exit 0;
			}
			print "got $line\n";
		}
	} else {
		syswrite($c, "$step\n");
	}
}
while (defined(my $line = line())) {
	print "got $line\n";
}
print "closed\n";
EOF
	perl_listening script "$@"
}

# wrong_proofs SECRET SRC...: perl makes one chat/2 connection to
# 127.0.0.1:PORT from each source address SRC in turn, each one after the
# one before has ended. Each says HELLO, NONCE and NAME, reads the
# listener's NONCE and NAME, and sends a well-formed PROOF made with
# SECRET (a wrong one). proofs.log gets "SRC LPORT WHAT" for each, WHAT
# the line it read after its PROOF ("ERR wrong secret"), or "at once:
# LINE" when the listener sent LINE instead of HELLO; then "all done".
# PROOFS is its pid.
wrong_proofs() {
	cat > proofs.pl <<'EOF'
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Select;
use IO::Socket::INET;

$| = 1;
my ($port, $secret, @sources) = @ARGV;
my $nc = 0;

for my $src (@sources) {
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
	    PeerPort => $port, LocalAddr => $src, Proto => "tcp")
	    or die "connect from $src: $@\n";
	my $buf = "";
	my $line = sub {
		my $sel = IO::Select->new($s);
		while ($buf !~ /\n/) {
			$sel->can_read(10) or die "$src: nothing in 10 s\n";
			my $n = sysread($s, my $data, 65536);
			return "(closed)" if !$n;
			$buf .= $data;
		}
		$buf =~ s/^([^\n]*)\n//;
		return $1;
	};
	my $what;
	my $hello = $line->();
	if ($hello ne "HELLO chat/1 chat/2") {
		$what = "at once: $hello";
	} else {
		my $mine = sprintf "%064x", ++$nc;
		syswrite($s, "HELLO chat/1 chat/2\nNONCE $mine\nNAME\n");
		my $nonce = $line->();
		my $name = $line->();
		my ($theirs) = $nonce =~ /^NONCE ([0-9a-f]{64})$/;
		if (!defined $theirs || $name ne "NAME") {
			$what = "handshake: $nonce / $name";
		} else {
			syswrite($s, "PROOF " . hmac_sha256_hex(
			    "chat/2 connector $theirs $mine", $secret) . "\n");
			$what = $line->();
		}
	}
	# To the listener's FIN after its ERR (not after another HELLO).
	1 while $what =~ /ERR/ && $line->() ne "(closed)";
	printf "%s %d %s\n", $src, $s->sockport, $what;
	close $s;
}
print "all done\n";
EOF
	"$TIMEOUT" -k 2 $(( 2 * LIMIT )) perl proofs.pl "$PORT" "$@" \
	    > proofs.log 2> proofs.err 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	PROOFS=$!
	echo "$!" >> "$T/pids"
}

# proofs_over: whether wrong_proofs has ended, done or not.
proofs_over() {
	has_line proofs.log 'all done' || gone "$PROOFS"
}

# --- Names

test_names_in_status_lines_and_show_names_on_one_side() {
	printf 'Hi, bob!\nQUIT\n' > l.in
	printf 'Hello, alice!\n' > c.in
	chat_listen l --once --name alice
	chat_connect c --name bob --show-names
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'alice says: Hi, bob!\n'
	expect_bytes l.out 'They say: Hello, alice!\n'
	expect_line_re l.err 'Connection from bob at 127\.0\.0\.1:[0-9]+'
	expect_bytes l.err '%s\n' "Listening on 127.0.0.1:$PORT" "$MATCH" \
	    'You ended the conversation.'
	expect_bytes c.err '%s\n' "Connected to alice at 127.0.0.1:$PORT" \
	    'They ended the conversation.'
}

# --- Secrets

# The same secret, from CHAT_SECRET on one side and the first line of a
# mode 600 file on the other: the conversation goes on as without one.
# (Here the listener shows names and has none; the connector has one.)
test_same_secret_from_env_and_file_converses_exit_0() {
	secret_file c.secret 'correct horse battery staple' 'not this line'
	printf 'Welcome.\nQUIT\n' > l.in
	printf 'Thanks!\n' > c.in
	CHAT_SECRET='correct horse battery staple' chat_listen l --once \
	    --show-names
	chat_connect c --secret-file c.secret --name bob
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: Welcome.\n'
	expect_bytes l.out 'bob says: Thanks!\n'
	expect_line_re l.err 'Connection from bob at 127\.0\.0\.1:[0-9]+'
	expect_bytes c.err '%s\n' "Connected to 127.0.0.1:$PORT" \
	    'They ended the conversation.'
	expect_no_line_re l.err 'Turned away .*'
}

test_wrong_secret_is_refused_exit_8_and_listener_serves_a_right_one() {
	secret_file l.secret 'the right one'
	fifo_hold l 7
	chat_listen l --secret-file l.secret
	printf 'never sent\n' > c.in
	CHAT_SECRET='a wrong one' chat_connect c
	chat_finish c 8
	expect_bytes c.err 'chat: connect 127.0.0.1:%s: refused: wrong secret\n' \
	    "$PORT"
	expect_bytes c.out ''
	wait_line_re l.err 'Turned away 127\.0\.0\.1:[0-9]+: wrong secret'
	expect_no_line_re l.err 'Connection from .*'
	CHAT_SECRET='the right one' listener_serves_next
	expect_line_re l.err 'Connection from 127\.0\.0\.1:[0-9]+'
}

# A secret on one side only is refused either way, exit 8; so is a
# secret for a listener that speaks chat/1 only.
test_secret_on_one_side_only_is_refused_exit_8() {
	fifo_hold l 7
	CHAT_SECRET=only-here chat_listen l
	printf 'never sent\n' > c.in
	chat_connect c
	chat_finish c 8
	expect_bytes c.err 'chat: connect 127.0.0.1:%s: refused: %s\n' "$PORT" \
	    'a secret is required'
	wait_line_re l.err 'Turned away 127\.0\.0\.1:[0-9]+: no secret'
	exec 7>&-
	chat_finish l 0		# turn-aways are no conversation

	fifo_hold l2 8
	chat_listen l2
	printf 'never sent\n' > c2.in
	CHAT_SECRET=only-there chat_connect c2
	chat_finish c2 8
	expect_bytes c2.err 'chat: connect 127.0.0.1:%s: refused: %s\n' \
	    "$PORT" 'this listener has no secret'
	wait_line_re l2.err \
	    'Turned away 127\.0\.0\.1:[0-9]+: it has a secret, this listener none'
	exec 8>&-
	chat_finish l2 0

	fake_listener 'HELLO chat/1'
	printf 'never sent\n' > c3.in
	CHAT_SECRET=only-there chat_connect c3
	chat_finish c3 8
	expect_bytes c3.err 'chat: connect 127.0.0.1:%s: %s\n' "$PORT" \
	    'the listener speaks chat/1 only, which has no secret'
	expect_bytes c.out ''
	expect_bytes c2.out ''
	expect_bytes c3.out ''
}

# A raw chat/1 peer, and a raw chat/2 peer without NONCE, are told a
# secret is required; the listener then serves a chat with the secret.
test_raw_peers_without_nonce_get_err_a_secret_is_required() {
	fifo_hold l 7
	CHAT_SECRET=sesame chat_listen l
	raw_connect
	raw_hello
	raw_expect 'ERR a secret is required'
	raw_expect_close
	raw_close
	wait_line l.err "Turned away 127.0.0.1:$RAWPORT: no secret"
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/2\nNAME bob\n'
	raw_expect 'ERR a secret is required'
	raw_expect_close
	raw_close
	CHAT_SECRET=sesame listener_serves_next
}

# --- chat/2 by hand

test_raw_peer_speaking_chat2_by_hand_is_understood() {
	printf 'Hi, bob!\nSee you.\nnever sent\n' > l.in
	chat_listen l --once --name alice --show-names
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/2\nNAME bob\n'
	raw_expect 'NAME alice'
	raw_expect 'MSG Hi, bob!'
	raw_send 'MSG Hello, alice.\n'
	raw_expect 'MSG See you.'
	raw_send 'QUIT off to lunch\n'
	raw_expect_close
	raw_close
	chat_finish l 0
	expect_bytes l.out 'bob says: Hello, alice.\n'
	expect_bytes l.err '%s\n' "Listening on 127.0.0.1:$PORT" \
	    "Connection from bob at 127.0.0.1:$RAWPORT" \
	    'They ended the conversation: off to lunch.'
}

# A frame other than NONCE or NAME after a chat/2 HELLO breaks the
# handshake; a NAME without a name is no name, on both sides.
test_chat2_handshake_out_of_order_gets_err_bad_handshake() {
	fifo_hold l 7
	chat_listen l
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/2\nMSG too soon\n'
	raw_expect 'ERR bad handshake'
	raw_expect_close
	raw_close
	wait_line l.err "chat: peer 127.0.0.1:$RAWPORT: protocol error: bad handshake"
	printf 'first\nQUIT\n' >&7
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/1 chat/2\nNAME\n'
	raw_expect 'NAME'
	raw_expect 'MSG first'
	raw_send 'MSG nameless\n'
	raw_expect 'QUIT'
	raw_expect_close
	raw_close
	exec 7>&-
	chat_finish l 0
	expect_bytes l.out 'They say: nameless\n'
	expect_line l.err "Connection from 127.0.0.1:$RAWPORT"
}

test_bad_names_from_a_peer_get_err_and_on_the_command_line_exit_2() {
	fifo_hold l 7
	chat_listen l
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/2\nNAME ev\033il\n'
	raw_expect 'ERR bad name'
	raw_expect_close
	raw_close
	wait_line l.err \
	    "chat: peer 127.0.0.1:$RAWPORT: protocol error: bad name 'ev\\x1bil'"
	expect_no_line_re l.err 'Connection from .*'
	exec 7>&-
	chat_finish l 0

	local long
	printf -v long '%033d' 0
	usage_error --listen 127.0.0.1:0 --name 'a b'
	expect_line_re "u$USAGE.err" "chat: bad --name 'a b'.*"
	usage_error --connect 127.0.0.1:1 --name $'tab\there'
	expect_line_re "u$USAGE.err" "chat: bad --name 'tab.*"
	usage_error --connect 127.0.0.1:1 --name $'ev\033il'
	expect_line_re "u$USAGE.err" "chat: bad --name 'ev\\\\x1bil'.*"
	usage_error --connect 127.0.0.1:1 --name "$long"
	expect_line_re "u$USAGE.err" "chat: bad --name '0{32}.*"
	usage_error --connect 127.0.0.1:1 --name ''
	expect_line_re "u$USAGE.err" "chat: bad --name ''.*"
}

# --- Replayed frames prove nothing

# A conversation with a secret is recorded through a proxy. The
# listener's recorded frames, played to a new connector, and the
# connector's recorded PROOF, played to a new listener, are both refused:
# each side's nonce is new each time.
test_replayed_frames_of_a_recorded_conversation_do_not_prove_the_secret() {
	local secret='open sesame' nl nc pl pc rport

	printf 'recorded\nQUIT\n' > l.in
	printf 'QUIT\n' > c.in
	CHAT_SECRET=$secret chat_listen l --once --name alice
	rport=$PORT
	recording_proxy "$rport"
	CHAT_SECRET=$secret chat_connect c --name bob
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: recorded\n'
	wait_line proxy.log 'done'
	recorded L NONCE; nl=$REC
	recorded C NONCE; nc=$REC
	recorded L PROOF; pl=$REC
	recorded C PROOF; pc=$REC
	[[ $pc == "$(hmac_hex "$secret" "chat/2 connector $nl $nc")" ]] ||
	    fail "the connector's PROOF is not HMAC-SHA256 of" \
	    "'chat/2 connector NL NC': $(show proxy.log)"
	[[ $pl == "$(hmac_hex "$secret" "chat/2 listener $nl $nc")" ]] ||
	    fail "the listener's PROOF is not HMAC-SHA256 of" \
	    "'chat/2 listener NL NC': $(show proxy.log)"

	# The listener's frames to a new connector with the secret.
	script_listener 'HELLO chat/1 chat/2' '<3' "NONCE $nl" 'NAME alice' \
	    '<1' "PROOF $pl"
	printf 'never sent\n' > c2.in
	CHAT_SECRET=$secret chat_connect c2 --name bob
	chat_finish c2 8
	expect_bytes c2.err \
	    'chat: connect 127.0.0.1:%s: the listener does not know the secret\n' \
	    "$PORT"
	expect_bytes c2.out ''
	wait_line script.log closed
	expect_line_re script.log 'got NONCE [0-9a-f]{64}'
	[[ $MATCH != "got NONCE $nc" ]] ||
	    fail "the new connector sent the recorded nonce again"
	expect_line script.log 'got ERR wrong secret'

	# The connector's frames to a new listener with the secret.
	fifo_hold l2 7
	CHAT_SECRET=$secret chat_listen l2 --name alice
	raw_connect
	raw_expect 'HELLO chat/1 chat/2'
	raw_send 'HELLO chat/1 chat/2\nNONCE %s\nNAME bob\n' "$nc"
	raw_expect_re 'NONCE [0-9a-f]{64}'
	[[ $MATCH != "NONCE $nl" ]] ||
	    fail "the new listener sent the recorded nonce again"
	raw_expect 'NAME alice'
	raw_send 'PROOF %s\n' "$pc"
	raw_expect 'ERR wrong secret'
	raw_expect_close
	raw_close
	wait_line l2.err "Turned away 127.0.0.1:$RAWPORT: wrong secret"
	expect_no_line_re l2.err 'Connection from .*'
	exec 7>&-
	chat_finish l2 0
}

# --- Lockout

# right_connector_served: a chat with the right secret, ROLE rN, either
# is served (Connected to) or refused as blocked, exit 8; true if served.
right_connector_served() {
	local role=r$(( ++TRIES ))

	printf 'QUIT\n' > "$role.in"
	CHAT_SECRET=right chat_connect "$role"
	until_deadline "$WAIT" has_line_re "$role.err" \
	    "Connected to .*|chat: connect .*" ||
	    fail "$role: neither served nor refused within $WAIT s:" \
	    "$(show "$role.err")"
	[[ $MATCH == 'Connected to '* ]] && return 0
	chat_finish "$role" 8
	expect_line_re "$role.err" "chat: connect 127\\.0\\.0\\.1:$PORT: refused: blocked for (1 second|2 seconds) after 3 wrong secrets"
	return 1
}

# Three wrong secrets from 127.0.0.1 block it for --block 2 seconds: the
# fourth chat, with the right secret, is refused at once; after the block
# a chat with the right secret is served.
test_three_wrong_secrets_block_the_address_for_block_seconds() {
	local i start

	fifo_hold l 7
	printf 'after the block\n' >&7
	CHAT_SECRET=right chat_listen l --once --block 2
	for i in 1 2 3; do
		printf 'never sent\n' > "w$i.in"
		CHAT_SECRET=wrong chat_connect "w$i"
		chat_finish "w$i" 8
		expect_bytes "w$i.err" \
		    'chat: connect 127.0.0.1:%s: refused: wrong secret\n' "$PORT"
	done
	wait_line_re l.err 'Turned away 127\.0\.0\.1:[0-9]+: wrong secret, 3 in 10 minutes: 127\.0\.0\.1 is blocked for 2 seconds'
	now_us
	start=$NOW
	TRIES=0
	right_connector_served &&
	    fail "a chat was served at once after the third wrong secret"
	expect_bytes r1.out ''
	until_deadline 6 right_connector_served ||
	    fail "no chat with the right secret served within 6 s of the block"
	ms_since "$start"
	note "served $TOOK ms after the block began, at try $TRIES"
	chat_finish "r$TRIES" 0
	chat_finish l 0
	exec 7>&-
	expect_bytes "r$TRIES.out" 'They say: after the block\n'
	expect_count l.err 'They ended the conversation.' 1
}

# 300 addresses (127.0.1.1 on) each send one wrong proof, after 127.0.0.2
# sent two: the listener, whose lockout table keeps 256 addresses, forgets
# 127.0.0.2, whose third wrong proof then does not block it; the last of
# the 300, 127.0.2.50, sends two more and is blocked by its third. The
# listener stays up, within its RSS ceiling, and serves a right chat.
test_lockout_table_forgets_the_quietest_of_300_addresses() {
	local i srcs=() flood=() last want total

	linux_only "127.0.0.0/8 on loopback and peak RSS"
	for (( i = 0; i < 300; i++ )); do
		flood+=("127.0.$(( 1 + i / 250 )).$(( 1 + i % 250 ))")
	done
	last=${flood[299]}
	srcs=(127.0.0.2 127.0.0.2 "${flood[@]}" "$last" 127.0.0.2 127.0.0.2
	    "$last" "$last")
	fifo_hold l 7
	CHAT_SECRET=right chat_listen l
	wrong_proofs wrong "${srcs[@]}"
	until_deadline 15 proofs_over ||
	    fail "the 307 connections are not done within 15 s:" \
	    "$(wc -l < proofs.log) done"
	has_line proofs.log 'all done' ||
	    fail "perl ended after $(wc -l < proofs.log) connections:" \
	    "$(show proofs.err)"
	# What each connection read, in order.
	for (( i = 0; i < ${#srcs[@]} - 1; i++ )); do
		printf '%s ERR wrong secret\n' "${srcs[i]}"
	done > proofs.want
	printf '%s at once: ERR blocked for 60 seconds after 3 wrong secrets\n' \
	    "$last" >> proofs.want
	awk '$0 != "all done" { $2 = ""; sub(/  /, " "); print }' proofs.log \
	    > proofs.got
	cmp -s proofs.got proofs.want ||
	    fail "connection $(paste -d '|' proofs.want proofs.got | awk -F '|' \
	    '$1 != $2 { printf "%d, %s, expected \"%s\"", NR, $2, $1; exit }')"
	chat_pid l
	rss_within_ceiling "$CPID" listener
	# The listener says which address it blocks: the last one only.
	want=$(awk -v src="$last" '$1 == src { p = $2 } END { print p }' \
	    <(head -n 306 proofs.log))
	wait_line l.err "Turned away $last:$want: wrong secret, 3 in 10 minutes: $last is blocked for 60 seconds"
	[[ $(grep -c 'is blocked for' l.err) == 1 ]] ||
	    fail "more than one address blocked: $(grep 'is blocked' l.err | head -n 3)"
	# Each of the 307 connections is reported, in lines or summaries.
	total=${#srcs[@]}
	until_deadline "$WAIT" turned_away_is l.err "$total" ||
	    fail "the \"Turned away\" lines do not add up to $total: $(tail -n 5 l.err | tr '\n' '|')"
	CHAT_SECRET=right listener_serves_next
}

# --- Reasons

test_connector_timeout_is_the_reason_the_listener_shows() {
	fifo_hold l 7
	printf 'never sent\n' > c.in
	chat_listen l --once
	chat_connect c --timeout 1
	chat_finish c 6
	chat_finish l 0
	exec 7>&-
	expect_line c.err "chat: peer 127.0.0.1:$PORT: no answer within 1 second"
	expect_line l.err 'They ended the conversation: no answer within 1 second.'
	expect_bytes l.out ''
}

# --- --wait

# served_after_waiting WHERE: l talks with c1 (their stdin held on fds 7
# and 8); c2 connects to WHERE with --wait, says once that it waits, and
# is served when c1's conversation ends. Then l has ended too.
served_after_waiting() {
	printf 'QUIT\n' > c2.in
	chat_start c2 --connect "$1" --wait 10
	wait_line c2.err "Waiting for $1 (busy), up to 10 seconds."
	expect_no_line_re c2.err 'Connected to .*'
	printf 'QUIT\nhello, second\n' >&7
	chat_finish c1 0
	chat_finish c2 0
	exec 7>&- 8>&-
	chat_finish l 0
	expect_bytes c2.out 'They say: hello, second\n'
	expect_bytes c2.err '%s\n' "Waiting for $1 (busy), up to 10 seconds." \
	    "Connected to $1" 'You ended the conversation.'
}

# A connector with --wait finds the listener busy, says so once, and is
# served when the conversation in progress ends.
test_wait_is_served_when_the_busy_listener_is_free() {
	fifo_hold l 7
	fifo_hold c1 8
	chat_listen l
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	served_after_waiting "127.0.0.1:$PORT"
	expect_bytes c1.out ''
	expect_line c1.err 'They ended the conversation.'
}

# A connector with --wait tries a port nobody listens on until a listener
# comes. The port is one that a listener of this test had a moment ago
# (port 0 picked it) and let go: nothing in the test binds it meanwhile,
# and the race left, another program on the host taking that very port in
# the second between, is negligible.
test_wait_is_served_by_a_listener_that_starts_late() {
	local free

	: > l0.in
	chat_listen l0
	chat_finish l0 0
	free=$PORT
	printf 'QUIT\n' > c.in
	chat_connect c --wait 10
	wait_line c.err "Waiting for 127.0.0.1:$free (not listening yet), up to 10 seconds."
	printf 'late, but here\n' > l.in
	chat_start l --listen "127.0.0.1:$free" --once
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: late, but here\n'
	expect_bytes c.err '%s\n' \
	    "Waiting for 127.0.0.1:$free (not listening yet), up to 10 seconds." \
	    "Connected to 127.0.0.1:$free" 'You ended the conversation.'
}

# After --wait SECS, one last try reports as without --wait: busy, exit
# 5. A stop signal while waiting ends the wait: exit 7.
test_wait_expires_busy_exit_5_and_sigint_ends_it_exit_7() {
	local start

	fifo_hold l 7
	fifo_hold c1 8
	chat_listen l --once
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	printf 'never sent\n' > c2.in
	now_us
	start=$NOW
	chat_connect c2 --wait 1
	chat_finish c2 5
	ms_since "$start"
	(( TOOK >= 1000 )) || fail "--wait 1 gave up after $TOOK ms"
	expect_line_re c2.err "Waiting for 127\\.0\\.0\\.1:$PORT \\(busy\\), up to 1 seconds?\\."
	expect_bytes c2.err '%s\n' "$MATCH" \
	    "chat: connect 127.0.0.1:$PORT: busy: the listener is in another conversation"
	expect_bytes c2.out ''

	printf 'never sent\n' > c3.in
	chat_connect c3 --wait 10
	wait_line c3.err "Waiting for 127.0.0.1:$PORT (busy), up to 10 seconds."
	chat_pid c3
	kill -INT "$CPID"
	chat_finish c3 7
	expect_bytes c3.err '%s\n' \
	    "Waiting for 127.0.0.1:$PORT (busy), up to 10 seconds." \
	    'chat: interrupted by SIGINT'
	expect_bytes c3.out ''
	printf 'QUIT\n' >&7
	chat_finish c1 0
	chat_finish l 0
	exec 7>&- 8>&-
}

# --- Command line

test_secret_file_open_to_others_missing_or_empty_exits_2() {
	local missing i

	missing=$(perl -MPOSIX -e '$! = ENOENT; print "$!"')
	printf 'shared\n' > open.secret
	chmod 644 open.secret
	: > u1.in
	chat_start u1 --listen 127.0.0.1:0 --secret-file open.secret
	chat_finish u1 2
	expect_bytes u1.err '%s\n' 'chat: secret file open.secret: group or others may read or write it (mode 0644): chmod 600 it'
	chmod 640 open.secret
	: > u2.in
	chat_start u2 --connect 127.0.0.1:1 --secret-file open.secret
	chat_finish u2 2
	expect_bytes u2.err '%s\n' 'chat: secret file open.secret: group or others may read or write it (mode 0640): chmod 600 it'
	: > u3.in
	chat_start u3 --listen 127.0.0.1:0 --secret-file no.such.secret
	chat_finish u3 2
	expect_bytes u3.err 'chat: secret file no.such.secret: %s\n' "$missing"
	secret_file empty.secret '' 'the second line does not count'
	: > u4.in
	chat_start u4 --connect 127.0.0.1:1 --secret-file empty.secret
	chat_finish u4 2
	expect_bytes u4.err '%s\n' 'chat: secret file empty.secret: its first line is empty'
	: > u5.in
	CHAT_SECRET='' chat_start u5 --listen 127.0.0.1:0
	chat_finish u5 2
	expect_bytes u5.err '%s\n' 'chat: CHAT_SECRET: empty'
	for i in 1 2 3 4 5; do
		expect_bytes "u$i.out" ''
	done
}

test_block_and_wait_on_the_wrong_side_are_usage_errors() {
	usage_error_says \
	    'chat: --block needs a secret (--secret-file FILE or CHAT_SECRET)' \
	    --listen 127.0.0.1:0 --block 5
	CHAT_SECRET=s usage_error_says 'chat: --block needs --listen' \
	    --connect 127.0.0.1:1 --block 5
	usage_error_says 'chat: --wait needs --connect' \
	    --listen 127.0.0.1:0 --wait 5
	usage_error_says "chat: bad --wait '0': expected seconds from 1 to 86400" \
	    --connect 127.0.0.1:1 --wait 0
	CHAT_SECRET=s usage_error_says \
	    "chat: bad --block 'x': expected seconds from 1 to 86400" \
	    --listen 127.0.0.1:0 --block x
}

# === Issue 13: friendly mistakes =============================================
#
# A usage error's first line says what was wrong, and where the mistake is
# a common one, what was meant; the usage follows, exit 2.

# usage_error_first LINE ARG...: chat ARG... is a usage error (see
# usage_error) whose first line on stderr is LINE.
usage_error_first() {
	local line=$1 first=

	shift
	usage_error "$@"
	IFS= read -r first < "u$USAGE.err"
	[[ $first == "$line" ]] || fail "chat $(quoted "$*"): first line" \
	    "$(quoted "$first"), expected $(quoted "$line")"
}

# usage_error_no_suggestion ARG...: chat ARG... is a usage error whose
# stderr suggests nothing ("did you mean").
usage_error_no_suggestion() {
	usage_error "$@"
	if grep -q 'did you mean' "u$USAGE.err"; then
		fail "chat $(quoted "$*"): a suggestion: $(show "u$USAGE.err")"
	fi
}

test_usage_port_as_a_separate_argument_gets_the_endpoint_suggested() {
	local mean="did you mean --connect 127.0.0.1:5000?"

	usage_error_first "chat: unexpected argument '5000': $mean" \
	    --connect 127.0.0.1 5000
	usage_error_first "chat: unexpected argument '5000': $mean" \
	    -c 127.0.0.1 5000
	usage_error_first "chat: unexpected argument '5000': did you mean --listen 127.0.0.1:5000?" \
	    --listen 127.0.0.1 5000
	usage_error_first "chat: unexpected argument '5000': did you mean --listen 127.0.0.1:5000?" \
	    -l 127.0.0.1 5000
	usage_error_first "chat: unexpected argument '5000': did you mean --connect [::1]:5000?" \
	    --connect ::1 5000
	usage_error_first "chat: unexpected argument '127.0.0.1': $mean" \
	    127.0.0.1 5000
}

# An IPv6 address already in brackets, without its port, is an endpoint
# without a port too.
test_usage_port_after_a_bracketed_address_gets_the_endpoint_suggested() {
	usage_error_first "chat: unexpected argument '5000': did you mean --connect [::1]:5000?" \
	    --connect '[::1]' 5000
	usage_error_first "chat: unexpected argument '5000': did you mean --listen [::1]:5000?" \
	    --listen '[::1]' 5000
}

# Only one extra argument that is a port (1-65535), next to an endpoint
# without one, is taken for a port that lost its colon.
test_usage_extra_argument_not_a_lone_port_gets_no_suggestion() {
	usage_error_first "chat: unexpected argument 'extra'" \
	    --connect localhost:5000 extra
	usage_error_first "chat: unexpected argument '6000'" --listen 5000 6000
	usage_error_no_suggestion --connect 127.0.0.1 65536
	usage_error_no_suggestion --connect 127.0.0.1 5x
	usage_error_no_suggestion --connect 127.0.0.1 5000 6000
}

test_usage_url_as_endpoint_gets_host_port_suggested() {
	local url='that is a URL; give HOST:PORT, as in'

	usage_error_first "chat: bad endpoint 'http://localhost:5000/': $url localhost:5000" \
	    --connect http://localhost:5000/
	usage_error_first "chat: bad endpoint 'https://example.com': $url example.com:PORT" \
	    --connect https://example.com
	usage_error_first "chat: bad endpoint 'http://[::1]:8080': $url [::1]:8080" \
	    --connect 'http://[::1]:8080'
	usage_error_first "chat: bad endpoint 'http://localhost:5000/': $url localhost:5000" \
	    --listen http://localhost:5000/
}

# Within 2 edits (insert, delete, change, swap of neighbours) of a long
# option, the nearest is suggested.
test_usage_misspelt_long_option_gets_the_nearest_suggested() {
	usage_error_first "chat: unknown option '--conect'; did you mean --connect?" \
	    --conect localhost:5000
	usage_error_first "chat: unknown option '--conect=x:1'; did you mean --connect?" \
	    --conect=x:1
	usage_error_first "chat: unknown option '--lsiten'; did you mean --listen?" \
	    --lsiten		# a swap
	usage_error_first "chat: unknown option '--lsitne'; did you mean --listen?" \
	    --lsitne		# two swaps (4 edits without them)
	usage_error_first "chat: unknown option '--connectt'; did you mean --connect?" \
	    --connectt		# an insert
	usage_error_first "chat: unknown option '--tineout'; did you mean --timeout?" \
	    --tineout		# a change
	usage_error_first "chat: unknown option '--xonnekt'; did you mean --connect?" \
	    --xonnekt		# two changes
	usage_error_first "chat: unknown option '--cnnct'; did you mean --connect?" \
	    --cnnct		# two deletes
	# 1 edit from --block, 2 from --log; and the other way round
	usage_error_first "chat: unknown option '--lock'; did you mean --block?" \
	    --lock
	usage_error_first "chat: unknown option '--loc'; did you mean --log?" \
	    --loc
	usage_error_first "chat: unknown option '--porf-file'; did you mean --port-file?" \
	    --porf-file
}

# getopt_long() would take any unambiguous prefix; chat takes none, so
# that --port is not quietly --port-file (a file named 5000).
test_usage_abbreviated_long_option_is_refused() {
	usage_error_first "chat: unknown option '--port'; did you mean --port-file?" \
	    --listen 0 --port 5000
	usage_error_first "chat: unknown option '--lis'; did you mean --listen?" \
	    --lis 0
	usage_error_first "chat: unknown option '--time=5'; did you mean --timeout?" \
	    --time=5 --connect localhost:5000
	usage_error_first "chat: unknown option '--l'; did you mean --listen or --log?" \
	    --l 5000
}

# An option that wants a file gets none: empty, or the next option.
test_usage_option_is_not_taken_for_a_file_name() {
	usage_error_first "chat: option '--log' needs an argument" \
	    --log --listen 0
	usage_error_first "chat: option '--port-file' needs an argument" \
	    --port-file= --listen 0
	usage_error_first "chat: option '--secret-file' needs an argument" \
	    --connect localhost:5000 --secret-file --once
}

# nc's flags where chat takes the port (-lp 5000, -l -p 5000), an
# endpoint with no option, and a path that is a socket's.
test_usage_nc_habits_get_chat_s_words() {
	usage_error_first "chat: unexpected argument '5000': did you mean --listen 5000?" \
	    -lp 5000
	usage_error_first "chat: unexpected argument '5000': did you mean --listen 5000?" \
	    -lvp 5000
	usage_error_first "chat: unexpected argument '5000': did you mean --listen 5000?" \
	    -l -p 5000
	usage_error_first "chat: unexpected argument 'localhost:5000': did you mean --connect localhost:5000?" \
	    localhost:5000
	usage_error_first "chat: unexpected argument '5000': did you mean --listen 5000?" \
	    5000
	usage_error_first "chat: bad endpoint '/tmp/x.sock': a path? a Unix-domain socket is unix:PATH" \
	    --connect /tmp/x.sock
}

test_usage_long_option_far_from_every_option_gets_no_suggestion() {
	usage_error_first "chat: unknown option '--frobnicate'" --frobnicate
	usage_error_first "chat: unknown option '--xyzten'" --xyzten
	usage_error_first "chat: unknown option '--timeoutxyz'" --timeoutxyz
}

test_usage_long_option_with_one_dash_gets_two_suggested() {
	usage_error_first "chat: unknown option '-listen'; did you mean --listen?" \
	    -listen 0
	usage_error_first "chat: unknown option '-connect'; did you mean --connect?" \
	    -connect localhost:5000
	usage_error_first "chat: unknown option '-once'; did you mean --once?" \
	    -once
	usage_error_first "chat: unknown option '-help'; did you mean --help?" \
	    -help
}

# connects_to_none ROLE ARG...: chat ARG... --connect unix:$T/none is no
# usage error: it tries to connect, and exits 3 for the missing socket.
connects_to_none() {
	local role=$1

	shift
	: > "$role.in"
	chat_start "$role" "$@" --connect "unix:$T/none"
	chat_finish "$role" 3
	expect_bytes "$role.err" 'chat: connect unix:%s/none: %s\n' "$T" \
	    "$(errno_text ENOENT)"
	expect_bytes "$role.out" ''
}

# A word that is an option's argument is no slip, however it looks: after
# --name, -n, or -n ending a cluster (-Vn -listen is -V, the version, and
# -n -listen). An argument that came with its option (--name=x, -t5)
# leaves the next word a slip. After a prefix of --name (--na), the slip
# said is the prefix, which chat does not take.
test_usage_one_dash_check_passes_over_option_arguments() {
	local first

	usage_error_first "chat: unknown option '--na'; did you mean --name?" \
	    --na -listen
	connects_to_none n -n -listen
	connects_to_none name --name -once
	: > v.in
	chat_start v -Vn -listen
	chat_finish v 0
	IFS= read -r first < v.out
	[[ $first == 'chat 1.1.0' ]] ||
	    fail "chat -Vn -listen: first line $(quoted "$first"), expected" \
	    "'chat 1.1.0'; stderr $(show v.err)"
	usage_error_first "chat: unknown option '-listen'; did you mean --listen?" \
	    --name=x -listen
	usage_error_first "chat: unknown option '-listen'; did you mean --listen?" \
	    -t5 -listen
}

# An unknown letter in a cluster of short options is named alone.
test_usage_unknown_short_option_in_a_cluster_is_named() {
	usage_error_first "chat: unknown option '-x'" -xyz
	usage_error_first "chat: unknown option '-x'" -hx
}

# unix:PATH is a path, whatever it looks like: never taken for a URL.
# A URL without a host gets the general form suggested.
test_usage_unix_url_form_is_a_path_not_a_url() {
	: > c.in
	chat_start c --connect unix:///nonexistent-dir/s
	chat_finish c 3
	expect_bytes c.err 'chat: connect unix:///nonexistent-dir/s: %s\n' \
	    "$(errno_text ENOENT)"
	usage_error_first "chat: bad endpoint 'http://': that is a URL; give HOST:PORT, as in HOST:PORT" \
	    --connect http://
}

# Port 0 is a port for --listen (any free one), not for --connect.
test_usage_listen_port_0_as_separate_argument_is_suggested() {
	usage_error_first "chat: unexpected argument '0': did you mean --listen 127.0.0.1:0?" \
	    --listen 127.0.0.1 0
	usage_error_first "chat: unexpected argument '0': did you mean --listen 127.0.0.1:0?" \
	    -l 127.0.0.1 0
	usage_error_first "chat: unexpected argument '0'" --connect 127.0.0.1 0
}

# chat_start_stdout ROLE OUT ARG...: as chat_start, with stdout OUT, a
# file (/dev/full), - for a closed stdout, or | for a pipe whose reader
# has closed it (perl makes it, then runs chat).
chat_start_stdout() {
	local role=$1 out=$2 pipe=()

	shift 2
	(
		trap - PIPE
		if [[ $out == - ]]; then
			exec >&-
		elif [[ $out == '|' ]]; then
			pipe=(perl -e 'pipe(my $r, my $w) or die "pipe: $!\n";
			    close $r; open(STDOUT, ">&", $w) or die "dup: $!\n";
			    close $w; exec { $ARGV[0] } @ARGV or die "exec: $!\n"')
		else
			exec > "$out"
		fi
		exec "$TIMEOUT" -k 2 "$LIMIT" ${pipe[@]+"${pipe[@]}"} "$CHAT" \
		    "$@" <"$role.in" 2>"$role.err" 3>&- 4>&- 5>&- 6>&- 7>&- \
		    8>&- 9>&-
	) &
	PID[$role]=$!
	echo "$!" >> "$T/pids"
}

# help_cannot_be_written STDOUT WORDS OPT...: chat with each OPT alone and
# stdout STDOUT (as chat_start_stdout takes it) exits 1, and says that
# stdout could not be written, in the C library's WORDS.
help_cannot_be_written() {
	local out=$1 words=$2 opt i=0

	shift 2
	for opt; do
		: > "o$(( ++i )).in"
		chat_start_stdout "o$i" "$out" "$opt"
		chat_finish "o$i" 1
		expect_bytes "o$i.err" 'chat: write stdout: %s\n' "$words"
	done
}

test_usage_help_and_version_to_a_full_stdout_exit_1() {
	[[ -c /dev/full ]] || linux_only "/dev/full"
	help_cannot_be_written /dev/full "$E_NOSPC" --help --version -h -V
}

test_usage_help_and_version_to_a_closed_stdout_exit_1() {
	help_cannot_be_written - "$(errno_text EBADF)" --help --version
}

# A pipe whose reader has gone: an error said (EPIPE), not death by
# SIGPIPE, whose default the shell gave chat.
test_usage_help_to_a_closed_pipe_exits_1() {
	help_cannot_be_written '|' "$(errno_text EPIPE)" --help --version
}

# === Issue 13: --port-file ===================================================
#
# A listener writes the port it listens on to FILE, once listening: a
# regular file under a temporary name, renamed into place, removed at
# exit; into a FIFO, held open until exit.

# file_is FILE TEXT: whether FILE holds exactly the bytes TEXT.
file_is() {
	local text=

	[[ -f $1 ]] || return 1
	IFS= read -r -d '' text < "$1"
	[[ $text == "$2" ]]
}

# file_mode FILE: print FILE's permission bits, in octal (0640).
file_mode() {
	perl -e 'printf "%04o\n", (lstat $ARGV[0])[2] & 07777' "$1"
}

# no_leftovers NAME: no temporary NAME.XXXXXX is left in the directory.
no_leftovers() {
	local left

	left=$(find . -maxdepth 1 -name "$1.??????" | head -n 3)
	[[ -z $left ]] || fail "temporary files left: $left"
}

# port_file_appears FILE: wait until FILE (a regular file) holds a port and
# a line break, and nothing else; set FILE_PORT to it.
port_file_appears() {
	local re='^[0-9]+$'

	until_deadline "$WAIT" test -f "$1" ||
	    fail "no port file $1 within $WAIT s"
	IFS= read -r FILE_PORT < "$1"
	[[ $FILE_PORT =~ $re ]] && file_is "$1" "$FILE_PORT"$'\n' ||
	    fail "port file $1 holds $(show "$1"), expected a port and LF"
}

test_port_file_holds_the_port_a_peer_reaches_and_goes_at_exit() {
	printf 'through the port file\n' > l.in
	printf 'QUIT\n' > c.in
	chat_start l --listen 127.0.0.1:0 --once --port-file port
	port_file_appears port
	# Written once listening: the Listening line came first.
	expect_line l.err "Listening on 127.0.0.1:$FILE_PORT"
	PORT=$FILE_PORT
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: through the port file\n'
	expect_bytes c.err '%s\n' "Connected to 127.0.0.1:$PORT" \
	    'You ended the conversation.'
	[[ -e port ]] && fail "the port file is still there after exit"
	no_leftovers port
}

# port_file_reader FILE: until the file stop exists (or LIMIT seconds),
# read FILE whole as fast as possible, whenever it can be opened; append
# each content that differs from the one read before to FILE.seen, quoted
# (%q) one a line; write the number of reads to FILE.reads at the end.
port_file_reader() {
	local text last=$'\1' reads=0 end

	now_us
	end=$(( NOW + LIMIT * 1000000 ))
	until [[ -e stop ]]; do
		text=$'\1'
		{ IFS= read -r -d '' text; } 2>/dev/null < "$1"
		if [[ $text != $'\1' ]]; then
			(( ++reads ))
			if [[ $text != "$last" ]]; then
				printf '%q\n' "$text" >> "$1.seen"
				last=$text
			fi
		fi
		if (( (reads & 255) == 0 )); then
			now_us
			(( NOW < end )) || break
		fi
	done
	echo "$reads" > "$1.reads"
}

# An existing FILE is replaced by another file (a rename), never written
# in place: a second name (a hard link) for the old file keeps the old
# text, and a reader reading as fast as it can sees the old text or the
# whole new line, never an empty or partial file.
test_port_file_replaces_an_existing_file_whole_never_in_place() {
	local reader line

	printf 'old\n' > port
	ln port old-name || fail "cannot make a hard link"
	port_file_reader port &
	reader=$!
	echo "$reader" >> "$T/pids"
	until_deadline "$WAIT" test -s port.seen ||
	    fail "the reader read nothing"
	fifo_hold l 7
	chat_listen l --port-file port
	until_deadline "$WAIT" file_is port "$PORT"$'\n' ||
	    fail "the port file holds $(show port), expected $PORT and LF"
	file_is old-name $'old\n' ||
	    fail "the old file was written in place: it holds $(show old-name)"
	exec 7>&-
	chat_finish l 0
	[[ -e port ]] && fail "the port file is still there after exit"
	file_is old-name $'old\n' ||
	    fail "the old file was changed: it holds $(show old-name)"
	: > stop
	wait "$reader"
	while IFS= read -r line; do
		[[ $line == "$(quoted $'old\n')" ||
		    $line == "$(quoted "$PORT"$'\n')" ]] ||
		    fail "a reader saw the port file hold $line"
	done < port.seen
	grep -qxF -- "$(quoted "$PORT"$'\n')" port.seen ||
	    fail "the reader never saw the port: $(show port.seen)"
	note "$(< port.reads) reads of the port file, all whole"
	no_leftovers port
}

# strace_usable: end the test as skipped without strace(1) (Linux only;
# .ci/run installs it); return 1, noted, when chat runs under an emulator,
# whose own calls strace would see. Under ASan (make check-asan), no leak
# check: LeakSanitizer cannot run under ptrace.
strace_usable() {
	needs_command strace
	if [[ ${CHAT_EMULATOR:-} ]]; then
		note "under ${CHAT_EMULATOR%% *}: strace would see the" \
		    "emulator's calls; not checked"
		return 1
	fi
	if [[ ${ASAN_OPTIONS:-} ]]; then
		export ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0
	fi
}

# With strace (Linux): FILE is never opened for writing; a temporary
# FILE.XXXXXX in its directory is renamed onto it. A file that did not
# exist is the case a hard link cannot show (see above).
test_port_file_is_renamed_from_a_temporary_name() {
	local opened renamed re at='((AT_FDCWD|[0-9]+)[^,]*, )?'

	strace_usable || return 0
	mkdir d
	fifo_hold l 7
	STRACE=1 chat_start l --listen 127.0.0.1:0 --port-file d/port
	port_file_appears d/port
	exec 7>&-
	chat_finish l 0
	re="(open|openat|creat)\\($at\"([^\"]*/)?d/port\",.*O_(WRONLY|RDWR|CREAT|TRUNC)"
	opened=$(grep -E "$re" l.trace)
	[[ -z $opened ]] || fail "d/port was opened to be written: $opened"
	re="rename(at2?)?\\($at\"([^\"]*/)?d/port\\.[A-Za-z0-9]{6}\", $at\"([^\"]*/)?d/port\"(, [^)]*)?\\) += 0"
	renamed=$(grep -E "$re" l.trace) ||
	    fail "no rename of d/port.XXXXXX onto d/port:" \
	    "$(grep -E 'rename|port' l.trace | head -n 5)"
	note "${renamed#* }"
	cd d && no_leftovers port
}

# mode_is FILE MODE: FILE's permission bits are MODE (octal, 0640).
mode_is() {
	local mode

	mode=$(file_mode "$1")
	[[ $mode == "$2" ]] || fail "$1 has mode $mode, expected $2"
}

test_port_file_mode_follows_the_umask() {
	umask 027
	fifo_hold l 7
	chat_start l --listen 127.0.0.1:0 --port-file port
	port_file_appears port
	mode_is port 0640
	exec 7>&-
	chat_finish l 0
}

# A FIFO: a script's read returns the port, no polling, whichever of the
# two opens the FIFO first.
test_port_file_fifo_gives_the_port_to_a_script_that_reads_it() {
	local port

	mkfifo pf || fail "mkfifo failed"
	printf 'over the FIFO port\n' > l.in
	printf 'QUIT\n' > c.in
	chat_start l --listen 127.0.0.1:0 --once --port-file pf
	port=$("$TIMEOUT" "$WAIT" bash -c 'IFS= read -r p < "$1" && printf %s "$p"' \
	    _ pf) || fail "read port < pf did not return within $WAIT s;" \
	    "stderr $(show l.err)"
	expect_line l.err "Listening on 127.0.0.1:$port"
	PORT=$port
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: over the FIFO port\n'
	[[ -p pf ]] || fail "the FIFO is gone"
}

# The FIFO holds the one line, and chat keeps it open until it exits: a
# reader reads to its end only then.
test_port_file_fifo_holds_one_line_and_is_kept_open_until_exit() {
	local reader

	mkfifo pf || fail "mkfifo failed"
	fifo_hold l 7
	chat_listen l --port-file pf
	"$TIMEOUT" -k 2 "$LIMIT" cat pf > got 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	reader=$!
	echo "$reader" >> "$T/pids"
	wait_line got "$PORT"
	printf 'QUIT\n' > c.in
	printf 'hello\n' >&7
	chat_connect c
	chat_finish c 0
	wait_line l.err 'They ended the conversation.'
	kill -0 "$reader" 2>/dev/null ||
	    fail "the FIFO's reader ended while chat ran: chat closed it"
	exec 7>&-
	chat_finish l 0
	wait "$reader" || fail "cat pf failed or was stopped at its time limit"
	expect_bytes got '%s\n' "$PORT"
	[[ -p pf ]] || fail "the FIFO is gone"
}

test_port_file_is_removed_at_every_exit_but_sigkill() {
	local sig

	# end of input
	fifo_hold l1 7
	chat_start l1 --listen 127.0.0.1:0 --port-file p1
	port_file_appears p1
	exec 7>&-
	chat_finish l1 0
	[[ -e p1 ]] && fail "the port file is still there after end of input"
	# SIGTERM, SIGINT
	for sig in TERM INT; do
		fifo_hold "$sig" 7
		chat_start "$sig" --listen 127.0.0.1:0 --port-file "p$sig"
		port_file_appears "p$sig"
		chat_pid "$sig"
		kill "-$sig" "$CPID"
		chat_finish "$sig" 7
		exec 7>&-
		[[ -e p$sig ]] && fail "the port file is still there after SIG$sig"
	done
	# --timeout, exit 6
	printf 'anyone?\n' > l2.in
	chat_start l2 --listen 127.0.0.1:0 --once --timeout 1 --port-file p2
	port_file_appears p2
	PORT=$FILE_PORT
	raw_connect 'HELLO chat/1\n'
	raw_expect 'HELLO chat/1 chat/2'
	raw_expect 'MSG anyone?'
	chat_finish l2 6
	raw_close
	[[ -e p2 ]] && fail "the port file is still there after exit 6"
	# SIGKILL leaves it
	fifo_hold l3 7
	chat_start l3 --listen 127.0.0.1:0 --port-file p3
	port_file_appears p3
	chat_pid l3
	kill -KILL "$CPID"
	chat_reap l3
	[[ -e p3 ]] || fail "the port file went at SIGKILL: what removed it?"
	no_leftovers p1
}

# A port file is removed only while it is still the listener's own: one
# that replaced it since (another listener's) is left, with its port.
test_port_file_that_replaced_ours_is_not_removed_at_exit() {
	local first

	fifo_hold a 7
	chat_start a --listen 127.0.0.1:0 --port-file pf
	port_file_appears pf
	chat_pid a
	first=$CPID
	fifo_hold b 8
	chat_listen b --port-file pf
	(( PORT != FILE_PORT )) || fail "both listeners on port $PORT"
	until_deadline "$WAIT" file_is pf "$PORT"$'\n' ||
	    fail "the second listener's port file holds $(show pf)," \
	    "expected $PORT and LF"
	kill -TERM "$first"
	chat_finish a 7
	exec 7>&-
	file_is pf "$PORT"$'\n' || fail "the first listener, exiting, took" \
	    "the second's port file: it holds $(show pf), expected $PORT and LF"
	exec 8>&-
	chat_finish b 0
	[[ -e pf ]] && fail "the port file is still there after both exited"
	no_leftovers pf
}

test_port_file_in_a_missing_directory_exits_1() {
	fifo_hold l 7
	chat_start l --listen 127.0.0.1:0 --port-file no/such/port
	chat_finish l 1
	expect_line l.err "chat: write port file no/such/port: $(errno_text ENOENT)"
	usage_in l.err && fail "a usage on stderr: $(show l.err)"
	expect_bytes l.out ''
}

test_port_file_not_written_when_bind_fails_exit_3() {
	fifo_hold l 7
	chat_listen l
	: > l2.in
	chat_start l2 --listen "127.0.0.1:$PORT" --port-file port
	chat_finish l2 3
	expect_bytes l2.err 'chat: bind 127.0.0.1:%s: %s\n' "$PORT" \
	    "$E_ADDRINUSE"
	[[ -e port ]] && fail "a port file $(show port) from a listener that failed"
	exec 7>&-
	chat_finish l 0
}

test_port_file_without_listen_is_a_usage_error() {
	usage_error_says 'chat: --port-file needs --listen' \
	    --connect 127.0.0.1:1 --port-file port
	usage_error_says 'chat: --port-file needs --listen' \
	    --port-file port --connect 127.0.0.1:1
	[[ -e port ]] && fail "a connector wrote a port file: $(show port)"
	return 0
}

# === Issue 13: --log =========================================================
#
# Each side may log its conversation to a file of its own: one line per
# event or message, "TIMESTAMP KIND TEXT", the time in UTC to the
# millisecond; events ("*") are the lines stderr shows, messages are
# "> WHO: TEXT" (sent) and "< WHO: TEXT" (received), escaped as the screen
# shows the peer's text.

# utc_now: set UTC to the time now, to the millisecond, cut as chat cuts
# it: 2026-12-01T20:31:05.123Z (perl: date(1) has no milliseconds on
# macOS and the BSDs). To the millisecond, so that a log whose
# milliseconds were wrong (always 000) falls outside the test's window.
utc_now() {
	UTC=$(perl -MPOSIX=strftime -MTime::HiRes=time -e '
		my $t = time;
		printf "%s.%03dZ", strftime("%Y-%m-%dT%H:%M:%S", gmtime($t)),
		    int(($t - int($t)) * 1000)') || fail "cannot read the time"
}

# log_read FILE FROM TO: each line of FILE (which ends in LF) is
# TIMESTAMP KIND TEXT, the timestamps never going back, none before FROM
# or after TO (utc_now's form: the fixed form compares as text). Set LOG
# to the lines without their timestamps ("KIND TEXT"), in order.
log_read() {
	local line n=0 last=$2 stamp
	local re='^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z) ([*<>] .*)$'

	LOG=()
	[[ -f $1 ]] || fail "no log $1"
	[[ ! -s $1 || -z $(tail -c 1 "$1") ]] ||
	    fail "$1 does not end in a line break: $(show "$1")"
	while IFS= read -r line; do
		(( ++n ))
		[[ $line =~ $re ]] ||
		    fail "$1 line $n is not TIMESTAMP KIND TEXT: $(quoted "$line")"
		stamp=${BASH_REMATCH[1]}
		[[ $stamp < $last ]] &&
		    fail "$1 line $n: time $stamp is before $last"
		last=$stamp
		LOG+=("${BASH_REMATCH[2]}")
	done < "$1"
	[[ $last > $3 ]] &&
	    fail "$1: time $last is after the test's end, $3"
	return 0
}

# logged_pair [ARG... --] [ARG...]: a --once listener (l) and a connector
# (c), each with its log (l.log, c.log) and the ARGs before and after --,
# run to their end (exit 0 both); FROM and TO: the UTC times around them,
# for expect_log.
logged_pair() {
	local largs=()

	while (( $# > 0 )) && [[ $1 != -- ]]; do
		largs+=("$1")
		shift
	done
	(( $# > 0 )) && shift
	utc_now
	FROM=$UTC
	chat_listen l --once --log l.log ${largs[@]+"${largs[@]}"}
	chat_connect c --log c.log "$@"
	chat_finish c 0
	chat_finish l 0
	utc_now
	TO=$UTC
}

# expect_log FILE FROM TO LINE...: FILE is a log (see log_read) whose lines,
# without their timestamps, are exactly LINE...
expect_log() {
	local file=$1 from=$2 to=$3 i

	shift 3
	log_read "$file" "$from" "$to"
	for (( i = 0; i < $# || i < ${#LOG[@]}; i++ )); do
		(( i + 1 <= $# )) || fail "$file line $(( i + 1 )):" \
		    "$(quoted "${LOG[i]}"), expected no more lines"
		(( i < ${#LOG[@]} )) || fail "$file ends after $i lines," \
		    "expected $(quoted "${@:i+1:1}") next"
		[[ ${LOG[i]} == "${@:i+1:1}" ]] || fail "$file line $(( i + 1 )):" \
		    "$(quoted "${LOG[i]}"), expected $(quoted "${@:i+1:1}")"
	done
}

# log_events_are_stderr LOG ERR: the events of LOG (its "*" lines, read by
# log_read) are exactly the lines of ERR, in order.
log_events_are_stderr() {
	local entry events=()

	for entry in "${LOG[@]}"; do
		[[ $entry == '* '* ]] && events+=("${entry#\* }")
	done
	printf '%s\n' "${events[@]}" > "$1.events"
	cmp -s "$1.events" "$2" ||
	    fail "the events of $1 are $(show "$1.events"), stderr $(show "$2")"
}

test_log_records_a_whole_conversation_on_both_sides() {
	# Far from UTC: a log in local time is 9 hours off.
	export TZ=JST-9
	# control bytes (0x01, ESC), an empty message; QUIT is no message
	printf 'hi\na\001b\033[31mc\n\nlast\n' > l.in
	printf 'hello\nx\001y\033z\nfine\nQUIT\n' > c.in
	logged_pair
	peer_port l
	expect_bytes l.out 'They say: %s\n' hello 'x\x01y\x1bz' fine
	expect_bytes c.out 'They say: %s\n' hi 'a\x01b\x1b[31mc' '' last
	expect_log l.log "$FROM" "$TO" \
	    "* Listening on 127.0.0.1:$PORT" \
	    "* Connection from 127.0.0.1:$CPORT" \
	    '> you: hi' \
	    '< them: hello' \
	    '> you: a\x01b\x1b[31mc' \
	    '< them: x\x01y\x1bz' \
	    '> you: ' \
	    '< them: fine' \
	    '> you: last' \
	    '* They ended the conversation.'
	log_events_are_stderr l.log l.err
	expect_log c.log "$FROM" "$TO" \
	    "* Connected to 127.0.0.1:$PORT" \
	    '< them: hi' \
	    '> you: hello' \
	    '< them: a\x01b\x1b[31mc' \
	    '> you: x\x01y\x1bz' \
	    '< them: ' \
	    '> you: fine' \
	    '< them: last' \
	    '* You ended the conversation.'
	log_events_are_stderr c.log c.err
}

test_log_names_who_spoke() {
	printf 'hi bob\nQUIT\n' > l.in
	printf 'hi alice\n' > c.in
	logged_pair --name alice -- --name bob
	expect_line_re l.err 'Connection from bob at 127\.0\.0\.1:[0-9]+'
	expect_log l.log "$FROM" "$TO" \
	    "* Listening on 127.0.0.1:$PORT" "* $MATCH" \
	    '> alice: hi bob' '< bob: hi alice' '* You ended the conversation.'
	log_events_are_stderr l.log l.err
	expect_log c.log "$FROM" "$TO" \
	    "* Connected to alice at 127.0.0.1:$PORT" \
	    '< alice: hi bob' '> bob: hi alice' '* They ended the conversation.'
	log_events_are_stderr c.log c.err
}

# Error lines are events too, with their "chat: " prefix.
test_log_records_error_lines() {
	local from to

	port_closed
	printf 'never sent\n' > c.in
	utc_now
	from=$UTC
	chat_connect c --log c.log
	chat_finish c 3
	utc_now
	to=$UTC
	expect_log c.log "$from" "$to" \
	    "* chat: connect 127.0.0.1:$PORT: $E_CONNREFUSED"
	log_events_are_stderr c.log c.err
	fifo_hold l2 7
	chat_listen l2 --log l2.log
	chat_pid l2
	kill -TERM "$CPID"
	chat_finish l2 7
	utc_now
	expect_log l2.log "$from" "$UTC" "* Listening on 127.0.0.1:$PORT" \
	    '* chat: interrupted by SIGTERM'
	log_events_are_stderr l2.log l2.err
}

# The lines about strangers are logged as stderr shows them: at most one
# a second, the others counted into a summary line.
test_log_records_newcomers_turned_away_as_stderr_shows_them() {
	local from to i line

	fifo_hold l 7
	fifo_hold c1 8
	utc_now
	from=$UTC
	chat_listen l --once --log l.log
	chat_connect c1
	wait_line c1.err "Connected to 127.0.0.1:$PORT"
	printf 'never sent\n' > c2.in
	chat_connect c2
	chat_finish c2 5
	wait_line_re l.err 'Turned away 127\.0\.0\.1:[0-9]+: busy'
	for (( i = 1; i <= 30; i++ )); do
		busy_newcomer "newcomer $i"
		exec 4<&-
	done
	until_deadline "$WAIT" turned_away_is l.err 31 ||
	    fail "the \"Turned away\" lines do not count 31: $(show l.err)"
	wait_line_re l.err 'Turned away 127\.0\.0\.1:[0-9]+: busy'
	printf 'first\n' >&7
	wait_line c1.out 'They say: first'
	printf 'QUIT\n' >&8
	chat_finish c1 0
	chat_finish l 0
	exec 7>&- 8>&-
	utc_now
	to=$UTC
	log_read l.log "$from" "$to"
	log_events_are_stderr l.log l.err
	expect_line l.log.events "$MATCH"
	printf '%s\n' "${LOG[@]}" > l.log.all
	expect_line l.log.all '> you: first'
}

# pipe_capacity FD: set CAPACITY to the bytes the pipe open on FD holds
# (Linux: F_GETPIPE_SZ).
pipe_capacity() {
	CAPACITY=$(perl -e 'my $n = fcntl(STDIN, 1032, 0) or die "$!\n";
	    print $n + 0' <&"$1") || fail "F_GETPIPE_SZ of fd $1 failed"
}

# pipe_fill_exactly FIFO N: fill the empty pipe FIFO, which the test holds
# open, with exactly N bytes "x", never waiting: after them not one more
# byte fits.
pipe_fill_exactly() {
	perl -MFcntl -e '
	    sysopen(my $p, $ARGV[0], O_WRONLY | O_NONBLOCK) or die "$!\n";
	    for (my $left = $ARGV[1]; $left > 0; ) {
		my $n = syswrite($p, "x" x $left);
		defined $n or die "write with $left bytes to go: $!\n";
		$left -= $n;
	    }
	    defined syswrite($p, "x") and die "room for more than $ARGV[1]\n";
	    $!{EAGAIN} or die "write: $!\n";' "$1" "$2" ||
	    fail "cannot fill the pipe $1 with $2 bytes"
}

# pipe_drain FD N: read the N bytes "x" that pipe_fill_exactly wrote from
# the pipe open on FD, and nothing more.
pipe_drain() {
	"$TIMEOUT" "$WAIT" perl -e '
	    for (my $left = $ARGV[0]; $left > 0; ) {
		my $n = sysread(STDIN, my $got, $left);
		$n or die "read: ", defined $n ? "end of file" : $!, "\n";
		$got =~ /^x+$/ or die "read something else than the x bytes\n";
		$left -= $n;
	    }' "$2" <&"$1" || fail "cannot read $2 bytes back from fd $1"
}

# A newcomer turned away while stderr is a full pipe is counted, and its
# line is written later in the summary: the log holds the summary only,
# as stderr shows it, and counts the newcomer once.
test_log_counts_a_stranger_once_when_stderr_is_full() {
	local from line

	linux_only "a pipe's capacity (F_GETPIPE_SZ)"
	mkfifo l.err || fail "mkfifo l.err failed"
	exec 9<>l.err
	fifo_hold l 7
	fifo_hold c 8
	utc_now
	from=$UTC
	chat_start l --listen 127.0.0.1:0 --once --log l.log
	fifo_expect_re 9 'Listening on 127\.0\.0\.1:[0-9]+'
	printf '%s\n' "$MATCH" > l.shown
	PORT=${MATCH##*:}
	chat_connect c
	fifo_expect_re 9 'Connection from 127\.0\.0\.1:[0-9]+'
	printf '%s\n' "$MATCH" >> l.shown
	pipe_capacity 9
	pipe_fill_exactly l.err "$CAPACITY"
	busy_newcomer newcomer
	exec 4<&-
	# chat reports a newcomer as it closes it, before it reads its
	# input again: once the next line is sent, the report was tried.
	printf 'first\n' >&7
	wait_line c.out 'They say: first'
	pipe_drain 9 "$CAPACITY"
	fifo_expect_re 9 'Turned away 1 more: 1 busy'
	printf '%s\n' "$MATCH" >> l.shown
	printf 'QUIT\n' >&8
	chat_finish c 0
	chat_finish l 0
	fifo_expect_re 9 'They ended the conversation\.'
	printf '%s\n' "$MATCH" >> l.shown
	if IFS= read -r -t 0 <&9; then
		IFS= read -r -t "$WAIT" line <&9
		fail "more on stderr: $(quoted "$line")"
	fi
	exec 7>&- 8>&- 9>&-
	utc_now
	note "a pipe of $CAPACITY bytes"
	log_read l.log "$from" "$UTC"
	printf '%s\n' "${LOG[@]}" > l.log.all
	if has_line_re l.log.all '\* Turned away 127\.0\.0\.1:[0-9]+: busy'; then
		fail "the newcomer's own line, which stderr never showed," \
		    "is logged: \"$MATCH\""
	fi
	log_events_are_stderr l.log l.shown
	expect_line l.log.all '> you: first'
}

# The user's own words in an event (here a socket path with LF and ESC)
# are escaped in the log as a peer's text is: each event stays one line.
test_log_events_with_control_bytes_stay_one_line() {
	local sock=$'a\nb\033c' escaped='a\x0ab\x1bc'

	printf 'hi\n' > l.in
	printf 'QUIT\n' > c.in
	utc_now
	FROM=$UTC
	chat_start l --listen "unix:$sock" --once --log l.log
	# (listening once the log has its first line)
	until_deadline "$WAIT" test -s l.log ||
	    fail "the listener logged nothing within $WAIT s; stderr $(show l.err)"
	chat_start c --connect "unix:$sock" --log c.log
	chat_finish c 0
	chat_finish l 0
	utc_now
	TO=$UTC
	expect_log l.log "$FROM" "$TO" \
	    "* Listening on unix:$escaped" \
	    "* Connection from unix:$escaped" \
	    '> you: hi' \
	    '* They ended the conversation.'
	expect_log c.log "$FROM" "$TO" \
	    "* Connected to unix:$escaped" \
	    '< them: hi' \
	    '* You ended the conversation.'
	expect_bytes c.out 'They say: hi\n'
}

# log_texts LOG KIND: print the texts of LOG's messages of KIND (> or <),
# without "WHO: ", one a line (LOG as log_read sets it).
log_texts() {
	local entry

	for entry in "${LOG[@]}"; do
		[[ $entry == "$2 "* ]] || continue
		entry=${entry#"$2 "}
		printf '%s\n' "${entry#*: }"
	done
}

# screen_texts FILE: print the texts of FILE's "They say: TEXT" lines.
screen_texts() {
	sed -n 's/^They say: //p' "$1"
}

# Messages are logged escaped exactly as the screen shows the peer's
# text, sent and received alike: each side's log holds, for what it sent
# and what it got, what the other's stdout and its own show.
test_log_escapes_messages_as_the_screen_shows_them() {
	local pair

	# NUL, DEL, CR, C1 (raw and UTF-8), bad UTF-8, bidi, zero width, a
	# tag, ZWJ between emoji (kept) and not, tab, a backslash; then
	# the longest message, all ESC
	printf '%b\n' 'nul\0x' 'del\177 cr\rx' 'c1 \x9b and \xc2\x9b' \
	    'bad \xff\xfe \xe2\x82' 'bidi \xe2\x80\xaeevil' \
	    'zw\xe2\x80\x8bsp tag\xf3\xa0\x80\x81' \
	    'family \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 a\xe2\x80\x8db' \
	    'tab\there back\\x1b' > lines
	long_text "$TEXT_MAX" $'\033'
	printf '%s\n' "$TEXT" >> lines
	cp lines l.in
	{ cat lines; printf 'QUIT\n'; } > c.in
	logged_pair
	screen_texts l.out > l.screen
	screen_texts c.out > c.screen
	[[ $(wc -l < l.screen) == 9 && $(wc -l < c.screen) == 9 ]] ||
	    fail "expected 9 messages each way: $(show l.out), $(show c.out)"
	log_read l.log "$FROM" "$TO"
	log_texts l.log '>' > l.sent
	log_texts l.log '<' > l.got
	log_read c.log "$FROM" "$TO"
	log_texts c.log '>' > c.sent
	log_texts c.log '<' > c.got
	# Each log, both ways, as the screens show the messages.
	for pair in l.got:l.screen c.got:c.screen l.sent:c.screen \
	    c.sent:l.screen; do
		cmp -s "${pair%:*}" "${pair#*:}" ||
		    fail "${pair%:*}: $(show "${pair%:*}"), not as the screen" \
		    "shows them: $(show "${pair#*:}")"
	done
	grep -qF 'bidi \u202eevil' l.got ||
	    fail "no \"bidi \\u202eevil\" in $(show l.got)"
}

# One write per line, so that lines of two writers never mix (strace,
# Linux): as many writes to the log as it has lines.
test_log_writes_each_line_at_once() {
	local fd writes lines

	strace_usable || return 0
	printf 'one\ntwo\n' > l.in
	printf 'uno\nQUIT\n' > c.in
	STRACE=1 chat_listen l --once --log l.log
	chat_connect c
	chat_finish c 0
	chat_finish l 0
	fd=$(sed -nE 's/.*open(at)?\(.*"l\.log", [^)]*\) += ([0-9]+)$/\2/p' l.trace |
	    head -n 1)
	[[ $fd ]] || fail "no open of l.log in the trace"
	writes=$(grep -cE "(write|writev|pwrite64|pwritev)\($fd," l.trace)
	lines=$(wc -l < l.log)
	note "$lines lines, $writes writes"
	(( writes == lines )) ||
	    fail "$writes writes for $lines lines: $(grep -E "\($fd," l.trace | head -n 4)"
}

# An existing log is appended to; a new one gets mode 0666 less the umask.
test_log_appends_to_an_existing_file() {
	local first

	printf '2026-01-01T00:00:00.000Z * an earlier line\n' > l.log
	chmod 600 l.log
	printf 'again\n' > l.in
	printf 'QUIT\n' > c.in
	logged_pair
	IFS= read -r first < l.log
	[[ $first == '2026-01-01T00:00:00.000Z * an earlier line' ]] ||
	    fail "the log's first line is now $(quoted "$first")"
	mode_is l.log 0600
	tail -n +2 l.log > l.log.new
	peer_port l
	expect_log l.log.new "$FROM" "$TO" \
	    "* Listening on 127.0.0.1:$PORT" \
	    "* Connection from 127.0.0.1:$CPORT" \
	    '> you: again' '* They ended the conversation.'
}

test_log_file_is_created_with_the_umask_mode() {
	umask 027
	fifo_hold l 7
	chat_listen l --log l.log
	mode_is l.log 0640
	umask 002
	: > c.in
	chat_connect c --log c.log
	wait_line c.err "Connected to 127.0.0.1:$PORT"
	mode_is c.log 0664
	exec 7>&-
	chat_finish c 0
	chat_finish l 0
}

# A log that cannot be written: said once on stderr, then no more
# logging; the conversation is as without --log.
test_log_write_error_is_said_once_and_the_conversation_goes_on() {
	[[ -c /dev/full ]] || linux_only "/dev/full"
	printf 'one\ntwo\nthree\n' > l.in
	printf 'uno\ndos\nQUIT\n' > c.in
	chat_listen l --once --log /dev/full
	chat_connect c --log /dev/full
	chat_finish c 0
	chat_finish l 0
	expect_bytes l.out 'They say: %s\n' uno dos
	expect_bytes c.out 'They say: %s\n' one two three
	expect_count l.err "chat: write log /dev/full: $E_NOSPC" 1
	expect_count c.err "chat: write log /dev/full: $E_NOSPC" 1
	expect_line l.err 'They ended the conversation.'
	expect_line c.err "Connected to 127.0.0.1:$PORT"
	expect_line c.err 'You ended the conversation.'
}

# The log is opened before anything else: one that cannot be is exit 2,
# and nothing is done.
test_log_that_cannot_be_opened_exits_2() {
	local first enoent eisdir

	enoent=$(errno_text ENOENT)
	eisdir=$(errno_text EISDIR)
	mkdir adir
	: > l.in
	chat_start l --listen 127.0.0.1:0 --log no/such/l.log
	chat_finish l 2
	IFS= read -r first < l.err
	[[ $first == "chat: open log no/such/l.log: $enoent" ]] ||
	    fail "first line $(quoted "$first"); stderr $(show l.err)"
	expect_no_line_re l.err 'Listening on .*'
	: > c.in
	chat_start c --connect 127.0.0.1:1 --log adir
	chat_finish c 2
	IFS= read -r first < c.err
	[[ $first == "chat: open log adir: $eisdir" ]] ||
	    fail "first line $(quoted "$first"); stderr $(show c.err)"
	expect_no_line_re c.err 'chat: connect .*'
	expect_bytes l.out ''
	expect_bytes c.out ''
}

# === Issue 13: Unix-domain sockets ===========================================
#
# --listen unix:PATH and --connect unix:PATH: everything TCP does, with
# unix:PATH (PATH as given) where the status lines say ADDR:PORT. The
# socket file is chat's: a stale one is replaced, a live one or any other
# file is left alone, and it goes when the listener exits (but at SIGKILL).
# Most tests use a path relative to the test's directory; the first an
# absolute one.

# SUN_PATH_MAX: the longest socket path the system takes, in bytes
# (sockaddr_un's sun_path, less its NUL: 108 on Linux, 104 elsewhere).
case $(uname -s) in
Linux) SUN_PATH_MAX=107 ;;
*) SUN_PATH_MAX=103 ;;
esac

# unix_listen ROLE PATH ARG...: start a listener on unix:PATH and wait for
# its Listening line.
unix_listen() {
	local role=$1 path=$2

	shift 2
	chat_start "$role" --listen "unix:$path" "$@"
	wait_line "$role.err" "Listening on unix:$path"
}

# socket_gone PATH: PATH no longer exists.
socket_gone() {
	[[ ! -e $1 && ! -L $1 ]] ||
	    fail "$1 is still there: $(file_mode "$1") $(ls -l "$1")"
}

test_unix_conversation_scripted_on_both_sides() {
	local path=$T/chat.sock

	printf '%s\n' 'Hello, client!' 'How are you?' 'Good to hear. Bye!' > l.in
	printf '%s\n' 'Hi back to you server!' 'Fine.' QUIT > c.in
	unix_listen l "$path" --once
	[[ -S $path ]] || fail "no socket at $path"
	chat_start c --connect "unix:$path"
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: %s\n' 'Hello, client!' 'How are you?' \
	    'Good to hear. Bye!'
	expect_bytes l.out 'They say: %s\n' 'Hi back to you server!' 'Fine.'
	expect_bytes l.err '%s\n' "Listening on unix:$path" \
	    "Connection from unix:$path" 'They ended the conversation.'
	expect_bytes c.err '%s\n' "Connected to unix:$path" \
	    'You ended the conversation.'
	socket_gone "$path"
}

test_unix_names_and_a_secret_work_as_over_tcp() {
	secret_file class.secret 'over a socket file'
	printf 'hi bob\nbye bob\n' > l.in
	printf 'hi alice\nQUIT\n' > c.in
	unix_listen l s --once --name alice --secret-file class.secret
	chat_start c --connect unix:s --name bob --secret-file class.secret \
	    --show-names
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'alice says: %s\n' 'hi bob' 'bye bob'
	expect_bytes l.out 'They say: hi alice\n'
	expect_bytes l.err '%s\n' 'Listening on unix:s' \
	    'Connection from bob at unix:s' 'They ended the conversation.'
	expect_bytes c.err '%s\n' 'Connected to alice at unix:s' \
	    'You ended the conversation.'
}

test_unix_second_connector_is_turned_away_busy_exit_5() {
	fifo_hold l 7
	fifo_hold c1 8
	unix_listen l s --once
	chat_start c1 --connect unix:s
	wait_line c1.err 'Connected to unix:s'
	wait_line l.err 'Connection from unix:s'
	printf 'never sent\n' > c2.in
	chat_start c2 --connect unix:s
	chat_finish c2 5
	expect_bytes c2.err '%s\n' \
	    'chat: connect unix:s: busy: the listener is in another conversation'
	expect_bytes c2.out ''
	wait_line l.err 'Turned away unix:s: busy'
	first_goes_on
	socket_gone s
}

test_unix_connector_timeout_when_listener_does_not_answer_exits_6() {
	local start took

	fifo_hold l 7
	unix_listen l s --once
	printf 'never sent\n' > c.in
	now_us
	start=$NOW
	chat_start c --connect unix:s --timeout 1
	wait_line c.err 'Connected to unix:s'
	chat_finish c 6
	now_us
	took=$(( (NOW - start) / 1000 ))
	(( took >= 950 && took <= 3000 )) ||
	    fail "the connector gave up after $took ms, expected about 1000"
	expect_line_re c.err 'chat: peer unix:s: no answer within 1 seconds?'
	expect_bytes c.out ''
	exec 7>&-
	chat_reap l
	socket_gone s
}

# A socket file whose listener was killed (SIGKILL: nothing removed it)
# is replaced by the next listener on PATH.
test_unix_stale_socket_of_a_killed_listener_is_replaced() {
	fifo_hold l1 7
	unix_listen l1 s
	chat_pid l1
	kill -KILL "$CPID"
	chat_reap l1
	exec 7>&-
	[[ -S s ]] || fail "the socket file went with its listener at SIGKILL"
	printf 'a new listener\n' > l2.in
	printf 'QUIT\n' > c.in
	unix_listen l2 s --once
	chat_start c --connect unix:s
	chat_finish c 0
	chat_finish l2 0
	expect_bytes c.out 'They say: a new listener\n'
	expect_bytes l2.err '%s\n' 'Listening on unix:s' \
	    'Connection from unix:s' 'They ended the conversation.'
	socket_gone s
}

# A live socket file is not taken over: the second listener exits 3, and
# the first serves its next peer as if nothing happened.
test_unix_live_socket_is_not_taken_second_listener_exits_3() {
	fifo_hold l 7
	unix_listen l s
	: > l2.in
	chat_start l2 --listen unix:s
	chat_finish l2 3
	expect_bytes l2.err 'chat: bind unix:s: %s\n' "$E_ADDRINUSE"
	expect_bytes l2.out ''
	[[ -S s ]] || fail "the first listener's socket file is gone"
	printf 'still here\n' >&7
	printf 'QUIT\n' > c.in
	chat_start c --connect unix:s
	chat_finish c 0
	expect_bytes c.out 'They say: still here\n'
	expect_bytes c.err '%s\n' 'Connected to unix:s' \
	    'You ended the conversation.'
	exec 7>&-
	chat_finish l 0
	socket_gone s
}

test_unix_regular_file_at_path_is_left_alone_exit_3() {
	printf 'not a socket\n' > f
	: > l.in
	chat_start l --listen unix:f
	chat_finish l 3
	expect_bytes l.err 'chat: bind unix:f: %s\n' "$E_ADDRINUSE"
	[[ -f f ]] && file_is f $'not a socket\n' ||
	    fail "the regular file f was changed: $(show f)"
}

test_unix_socket_file_is_removed_at_every_exit_but_sigkill() {
	local sig

	# --once, after its conversation
	printf 'hi\n' > l1.in
	printf 'QUIT\n' > c.in
	unix_listen l1 s1 --once
	chat_start c --connect unix:s1
	chat_finish c 0
	chat_finish l1 0
	socket_gone s1
	# end of input, no conversation
	fifo_hold l2 7
	unix_listen l2 s2
	[[ -S s2 ]] || fail "no socket file s2"
	exec 7>&-
	chat_finish l2 0
	socket_gone s2
	# SIGTERM, SIGINT
	for sig in TERM INT; do
		fifo_hold "$sig" 7
		unix_listen "$sig" "s$sig"
		[[ -S s$sig ]] || fail "no socket file s$sig"
		chat_pid "$sig"
		kill "-$sig" "$CPID"
		chat_finish "$sig" 7
		exec 7>&-
		expect_line "$sig.err" "chat: interrupted by SIG$sig"
		socket_gone "s$sig"
	done
}

# The socket file is removed only while it is still the listener's own: one
# that took its place (another listener's, after someone removed the
# first) is left to serve.
test_unix_socket_that_replaced_ours_is_not_removed_at_exit() {
	local first

	fifo_hold a 7
	unix_listen a s
	chat_pid a
	first=$CPID
	rm s || fail "cannot remove the first listener's socket file"
	printf 'from the second\n' > b.in
	unix_listen b s --once
	kill -TERM "$first"
	chat_finish a 7
	exec 7>&-
	[[ -S s ]] || fail "the first listener, exiting, removed the second's" \
	    "socket file"
	printf 'QUIT\n' > c.in
	chat_start c --connect unix:s
	chat_finish c 0
	chat_finish b 0
	expect_bytes c.out 'They say: from the second\n'
	expect_bytes c.err '%s\n' 'Connected to unix:s' \
	    'You ended the conversation.'
	socket_gone s
}

test_unix_socket_mode_follows_the_umask() {
	umask 077
	fifo_hold l 7
	unix_listen l s
	[[ -S s ]] || fail "s is not a socket"
	mode_is s 0700		# srwx------
	exec 7>&-
	chat_finish l 0
	# and the common umask: others may connect too
	umask 022
	fifo_hold l2 7
	unix_listen l2 s2
	[[ -S s2 ]] || fail "s2 is not a socket"
	mode_is s2 0755		# srwxr-xr-x
	exec 7>&-
	chat_finish l2 0
}

test_unix_connect_to_a_missing_path_exits_3() {
	printf 'never sent\n' > c.in
	chat_start c --connect "unix:$T/no.sock"
	chat_finish c 3
	expect_bytes c.err 'chat: connect unix:%s/no.sock: %s\n' "$T" \
	    "$(errno_text ENOENT)"
	expect_bytes c.out ''
}

test_unix_empty_or_too_long_path_is_a_usage_error() {
	local longest

	usage_error_first "chat: bad endpoint 'unix:': missing path" \
	    --listen unix:
	usage_error_first "chat: bad endpoint 'unix:': missing path" \
	    --connect unix:
	long_text $(( SUN_PATH_MAX + 1 )) abcdefgh
	usage_error_first "chat: bad endpoint 'unix:$TEXT': path longer than $SUN_PATH_MAX bytes" \
	    --listen "unix:$TEXT"
	usage_error_first "chat: bad endpoint 'unix:$TEXT': path longer than $SUN_PATH_MAX bytes" \
	    --connect "unix:$TEXT"
	# the longest path that fits is taken
	long_text "$SUN_PATH_MAX" abcdefgh
	longest=$TEXT
	fifo_hold l 7
	unix_listen l "$longest"
	[[ -S $longest ]] || fail "no socket file of $SUN_PATH_MAX bytes"
	exec 7>&-
	chat_finish l 0
}

# --wait takes a missing socket file for a listener not there yet.
test_unix_wait_is_served_by_a_listener_that_starts_late() {
	printf 'QUIT\n' > c.in
	chat_start c --connect unix:s --wait 10
	wait_line c.err 'Waiting for unix:s (not listening yet), up to 10 seconds.'
	printf 'late, but here\n' > l.in
	unix_listen l s --once
	chat_finish c 0
	chat_finish l 0
	expect_bytes c.out 'They say: late, but here\n'
	expect_bytes c.err '%s\n' \
	    'Waiting for unix:s (not listening yet), up to 10 seconds.' \
	    'Connected to unix:s' 'You ended the conversation.'
}

# --wait over a socket file: busy, then served once the conversation in
# progress ends.
test_unix_wait_is_served_when_the_busy_listener_is_free() {
	fifo_hold l 7
	fifo_hold c1 8
	unix_listen l s
	chat_start c1 --connect unix:s
	wait_line c1.err 'Connected to unix:s'
	served_after_waiting unix:s
	socket_gone s
}

# unix_full_listener PATH: in the background, perl listens on unix:PATH
# with a backlog of 0, never accepts, and connects to itself (without
# waiting) until the queue is full: a connect fails with EAGAIN. Then
# full.log says "full after N" (N connections queued), and it holds them
# until stopped.
unix_full_listener() {
	cat > full.pl <<'EOF'
use strict;
use warnings;
use Fcntl;
use Socket;

$| = 1;
my $addr = pack_sockaddr_un($ARGV[0]);
socket(my $l, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
bind($l, $addr) or die "bind: $!\n";
listen($l, 0) or die "listen: $!\n";
my @held;
for (1 .. 16) {
	socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
	my $flags = fcntl($s, F_GETFL, 0) or die "F_GETFL: $!\n";
	fcntl($s, F_SETFL, $flags | O_NONBLOCK) or die "F_SETFL: $!\n";
	if (connect($s, $addr)) {
		push @held, $s;
		next;
	}
	$!{EAGAIN} or die "connect: $!\n";
	print "full after ", scalar @held, "\n";
	sleep 60;
	exit 0;
}
die "16 connections queued, and still not full\n";
EOF
	"$TIMEOUT" -k 2 "$LIMIT" perl full.pl "$1" > full.log 2> full.err \
	    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo "$!" >> "$T/pids"
	until_deadline "$WAIT" has_line_re full.log 'full after [0-9]+' ||
	    fail "the queue of unix:$1 is not full: $(show full.log)," \
	    "$(show full.err)"
}

# --wait takes a Unix socket whose queue is full (EAGAIN: Linux says so
# where TCP would make the connector wait) for a listener that is full:
# it waits, says so once, and after SECS reports the last try, exit 3.
test_unix_wait_on_a_full_queue() {
	local start

	linux_only "EAGAIN from a Unix socket's full queue"
	unix_full_listener s
	note "$(< full.log) connection(s)"
	printf 'never sent\n' > c.in
	now_us
	start=$NOW
	chat_start c --connect unix:s --wait 2
	chat_finish c 3
	ms_since "$start"
	expect_bytes c.err '%s\n' \
	    'Waiting for unix:s (full), up to 2 seconds.' \
	    "chat: connect unix:s: $(errno_text EAGAIN)"
	(( TOOK >= 2000 )) || fail "--wait 2 gave up after $TOOK ms"
	expect_bytes c.out ''
}

# The port file of a listener on unix:PATH holds PATH.
test_unix_port_file_holds_the_path() {
	fifo_hold l 7
	unix_listen l s --port-file pf
	until_deadline "$WAIT" test -f pf || fail "no port file within $WAIT s"
	file_is pf $'s\n' || fail "the port file holds $(show pf), expected s and LF"
	exec 7>&-
	chat_finish l 0
	[[ -e pf ]] && fail "the port file is still there after exit"
	socket_gone s
}

suite_main "$@"
