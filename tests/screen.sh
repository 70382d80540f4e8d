#!/usr/bin/env bash
#
# tests/screen.sh - what chat's line editor (issue 11) leaves on the
# screen: the rows of a real terminal emulator, tmux, at a known width.
#
# Each test_* function runs one chat in a detached tmux window of its own
# size (no status line), on a tmux server of its own (tmux -L, killed when
# the test ends), types into it with send-keys and reads the screen with
# capture-pane: one row per line, trailing blanks cut, long lines as the
# terminal wrapped them. The peer is a raw chat/1 connector on fd 3 (bash's
# /dev/tcp, lib.sh's raw_send and raw_expect), so the test also knows the
# exact bytes chat sent. The port is read from the "Listening on" row. Every
# wait has a deadline (WAIT seconds); nothing sleeps for a fixed time.
#
# Usage: bash tests/screen.sh [test_name ...]
# CHAT=path tests another build (default ./chat). Needs tmux; without it
# each test says SKIPPED (and CI, where nothing may be skipped, fails).
# Prints PASS, FAIL or SKIPPED for each test, then "N passed, N failed";
# exits 1 if a test failed. SCREEN_KEEP=1 keeps the work directory.

set -u
export LC_ALL=C		# "." in EPOCHREALTIME

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=screen
. "$ROOT/tests/lib.sh"
CHAT=${CHAT:-./chat}	# CHAT=path tests another build
[[ $CHAT == /* ]] || CHAT=$PWD/$CHAT	# (the window starts in $T)
LIMIT=${LIMIT:-10}	# seconds a second chat may run before timeout(1)
WAIT=${WAIT:-5}		# seconds to wait for what the screen should show
IP=127.0.0.1

# === tmux ====================================================================

TMUX_NAME=	# this test's tmux server (tmux -L)
TMUX_PATH=	# and its socket

# tmx ARG...: tmux, on this test's own server.
tmx() {
	tmux -L "$TMUX_NAME" "$@"
}

# needs_tmux: end the current test as skipped where tmux is missing.
needs_tmux() {
	command -v tmux > /dev/null 2>&1 && return
	printf 'tmux is not installed (apt-get install tmux)\n' > "$T/skipped"
	exit 0
}

# screen_chat COLS ROWS ARG...: run chat with ARGs, in editor mode (tmux
# sets TERM), in a tmux window COLS wide and ROWS high that stays when
# chat exits; the server goes when the test ends.
screen_chat() {
	local cols=$1 rows=$2 cmd

	shift 2
	needs_tmux
	TMUX_NAME=chat-screen-$BASHPID
	unset TMUX
	printf 'set -g status off\nset -g remain-on-exit on\n' > tmux.conf
	printf 'set -g default-terminal screen\n' >> tmux.conf
	printf -v cmd '%q ' "$CHAT" "$@"
	trap screen_end EXIT
	tmx -f tmux.conf new-session -d -s chat -x "$cols" -y "$rows" \
	    -c "$T" "exec $cmd" || fail "tmux cannot start a session"
	TMUX_PATH=$(tmx display-message -p '#{socket_path}')
}

# screen_end: stop the test's tmux server (and its chat); tmux leaves its
# socket behind.
screen_end() {
	tmx kill-server > /dev/null 2>&1
	[[ $TMUX_PATH ]] && rm -f -- "$TMUX_PATH"
}

# keys KEY...: press keys (tmux names: Enter, Left, C-a...).
keys() {
	tmx send-keys -t chat "$@" || fail "tmux send-keys $* failed"
}

# typed TEXT: type TEXT, as it is.
typed() {
	tmx send-keys -t chat -l -- "$1" || fail "tmux send-keys failed"
}

# grab: the screen as it is now, in $T/screen, one row a line.
grab() {
	tmx capture-pane -p -t chat > screen ||
	    fail "tmux capture-pane failed"
}

# rows: the screen last grabbed, for a failure message: its rows quoted,
# up to the last that is not empty.
rows() {
	local row out= n=0 last=0

	while IFS= read -r row; do
		(( ++n ))
		out+=" $n:\"$row\""
		[[ $row ]] && last=${#out}
	done < screen
	printf '%s' "${out:0:last}"
}

# screen_has ERE: whether a row of the screen now matches ERE as a whole
# (MATCH is set to the first such row).
screen_has() {
	grab
	has_line_re screen "$1"
}

# wait_screen ERE WHAT: wait until a row of the screen matches ERE.
wait_screen() {
	until_deadline "$WAIT" screen_has "$1" ||
	    fail "no row $2 (/$1/) within $WAIT s; the screen:$(rows)"
}

# row_of ERE: set ROW to the number of the first row of the screen last
# grabbed that matches ERE as a whole, or 0.
row_of() {
	local row re="^($1)\$" n=0

	ROW=0
	while IFS= read -r row; do
		(( ++n ))
		if [[ $row =~ $re ]]; then
			ROW=$n
			return
		fi
	done < screen
}

# last_row: set LAST to the number of the last row of the screen last
# grabbed that is not empty.
last_row() {
	local row n=0

	LAST=0
	while IFS= read -r row; do
		(( ++n ))
		[[ $row ]] && LAST=$n
	done < screen
}

# cursor_at X: whether the cursor is in column X (from 0).
cursor_at() {
	[[ $(tmx display-message -p -t chat '#{cursor_x}') == "$1" ]]
}

# resize COLS ROWS: resize the window, and wait until its terminal has the
# new size (then chat has been sent its SIGWINCH).
resize() {
	local tty

	tmx resize-window -t chat -x "$1" -y "$2" ||
	    fail "tmux resize-window failed"
	tty=$(tmx display-message -p -t chat '#{pane_tty}')
	until_deadline "$WAIT" size_is "$tty" "$2 $1" ||
	    fail "$tty is $(stty size < "$tty"), not $2 rows $1 columns"
}

# size_is TTY "ROWS COLS": whether terminal TTY has that size.
size_is() {
	[[ $(stty size < "$1") == "$2" ]]
}

# === chat and its raw peer ===================================================

# listening: wait for chat's "Listening on" row; set PORT.
listening() {
	wait_screen "Listening on ${IP//./\\.}:[0-9]+" "\"Listening on $IP:PORT\""
	PORT=${MATCH##*:}
}

# connect_raw: a raw peer on fd 3 connects to PORT and says HELLO; chat
# answers and shows its prompt.
connect_raw() {
	exec 3<> "/dev/tcp/$IP/$PORT" || fail "cannot connect to $IP:$PORT"
	raw_send 'HELLO chat/1\n'
	raw_expect 'HELLO chat/1 chat/2'
	wait_screen 'Your message: ?' "with the prompt"
}

# conversation COLS ROWS: a listener in a window COLS x ROWS, its raw peer
# connected; the listener has sent "hi": it is the peer's turn.
conversation() {
	screen_chat "$1" "$2" --listen "$IP:0"
	listening
	connect_raw
	typed hi
	keys Enter
	raw_expect 'MSG hi'
}

# wrapped_as CHAR N COLS [HEAD]: the screen shows the peer's message of N
# times CHAR wrapped to COLS columns: HEAD ("They say: ") and as many as
# fit on the first row, then rows of 10 spaces and as many as fit; every row but the
# last filled to the width (or one short of it).
wrapped_as() {
	local row n=0 got=0 head=${4:-"They say: "} indent='          ' text

	row_of "$head$1+"
	(( ROW )) || fail "no row starts \"$head$1\"; the screen:$(rows)"
	while IFS= read -r row; do
		(( ++n < ROW )) && continue
		if (( n == ROW )); then
			text=${row#"$head"}
		elif [[ $row == "$indent"* ]]; then
			text=${row#"$indent"}
		else
			fail "row $n (\"$row\") continues the message without" \
			    "an indent of 10 spaces; the screen:$(rows)"
		fi
		[[ $text =~ ^$1+$ ]] ||
		    fail "row $n is \"$row\"; the screen:$(rows)"
		(( ${#row} <= $3 )) ||
		    fail "row $n is wider than $3 columns; the screen:$(rows)"
		(( got += ${#text} ))
		(( got < $2 )) || break
		(( ${#row} >= $3 - 1 )) ||
		    fail "row $n is ${#row} columns, wrapped short of $3;" \
		    "the screen:$(rows)"
	done < screen
	(( got == $2 )) ||
	    fail "the screen shows $got of the $2 characters:$(rows)"
}

# === Tests ===================================================================

# A message padded with spaces up to the edge of a 40-column terminal
# cannot make its rest look like a status line of chat's: its second row
# is indented under the text, so no row starts with the fake.
test_peer_text_cannot_pass_for_a_status_line() {
	local pad

	conversation 40 20
	printf -v pad '%23s' ''		# "They say: see you" + 23 = 40
	raw_send 'MSG see you%s%s\n' "$pad" 'They ended the conversation.'
	wait_screen ' {10,}They ended the conversation\.' \
	    "with the rest of the message, indented"
	row_of 'They say: see you'
	(( ROW )) || fail "no row \"They say: see you\"; the screen:$(rows)"
	row_of 'They ended the conversation\..*'
	(( ROW == 0 )) ||
	    fail "row $ROW starts with the peer's fake status line;" \
	    "the screen:$(rows)"
	# The real status line does start a row.
	raw_send 'QUIT\n'
	wait_screen 'They ended the conversation\.' "\"They ended the conversation.\""
}

# Messages wrap to the terminal's width as it is when they come: wider
# after the window grows, narrower after it shrinks.
# The same with what a terminal draws wider than a naive count: tabs
# (to the next multiple of 8) and, in the C locale (these tests run in
# it), characters the C library cannot measure (CJK, two columns on the
# screen), which chat counts as two: neither makes a fake line start a
# row.
test_tabs_and_unmeasured_characters_cannot_start_a_row() {
	local tabs wide

	conversation 80 20
	printf -v tabs '%10s' ''
	tabs=${tabs// /$'\t'}
	raw_send 'MSG %sXYou ended the conversation.\n' "$tabs"
	wait_screen ' {10,}.*You ended the conversation\.' \
	    "the tabbed message, indented"
	row_of 'You ended the conversation\..*'
	(( ROW == 0 )) ||
	    fail "row $ROW starts with the peer's fake status line (tabs);" \
	    "the screen:$(rows)"
	typed again
	keys Enter
	raw_expect 'MSG again'
	printf -v wide '%35s' ''
	wide=${wide// /中}
	raw_send 'MSG %sConnection from 10.0.0.9:4000\n' "$wide"
	wait_screen '.*Connection from 10\.0\.0\.9:4000' \
	    "the message of wide characters"
	row_of 'Connection from 10\.0\.0\.9:4000.*'
	(( ROW == 0 )) ||
	    fail "row $ROW starts with the peer's fake status line (wide" \
	    "characters); the screen:$(rows)"
}

test_messages_wrap_to_the_new_width_after_a_resize() {
	local x y

	conversation 40 20
	resize 60 20
	printf -v x '%100s' ''
	raw_send 'MSG %s\n' "${x// /x}"
	wait_screen 'They say: x+' "with the message"
	wrapped_as x 100 60
	typed ok
	keys Enter
	raw_expect 'MSG ok'
	resize 30 20
	printf -v y '%60s' ''
	raw_send 'MSG %s\n' "${y// /y}"
	wait_screen 'They say: y+' "with the second message"
	wrapped_as y 60 30
}

# Editing redraws the input line in place: one prompt row, the edited
# text, the cursor where the editing left it.
test_edited_line_is_redrawn_in_place() {
	local n

	screen_chat 40 20 --listen "$IP:0"
	listening
	connect_raw
	typed helo
	keys Left
	typed l
	wait_screen 'Your message: hello' "with the edited line"
	# "Your message: hell" is 18 columns; the cursor is on the "o".
	until_deadline "$WAIT" cursor_at 18 ||
	    fail "cursor in column $(tmx display-message -p -t chat \
	    '#{cursor_x}'), not 18"
	n=$(grep -c 'Your message:' screen)
	(( n == 1 )) || fail "$n rows with a prompt; the screen:$(rows)"
	keys Enter
	raw_expect 'MSG hello'
}

# A message that comes while we type in their turn is shown above the
# line being typed; the line is drawn again below it, now with our prompt.
test_peer_message_shows_above_the_line_being_typed() {
	local said

	conversation 40 20
	typed draft
	wait_screen 'Their turn: draft' "with what we type in their turn"
	raw_send 'MSG hello there\n'
	wait_screen 'Your message: draft' "with the line drawn again"
	row_of 'They say: hello there'
	said=$ROW
	row_of 'Your message: draft'
	last_row
	(( said && said < ROW && ROW == LAST )) ||
	    fail "the message is not above the line being typed, the last" \
	    "row; the screen:$(rows)"
	row_of 'Their turn:.*'
	(( ROW == 0 )) ||
	    fail "the old input line is still on row $ROW; the screen:$(rows)"
	typed ' more'
	keys Enter
	raw_expect 'MSG draft more'
}

# A status line that comes while we type (a newcomer turned away busy) is
# shown at once above the line being typed, which is drawn again below.
test_status_line_shows_above_the_line_being_typed() {
	local turned

	screen_chat 40 20 --listen "$IP:0"
	listening
	connect_raw
	typed abc
	wait_screen 'Your message: abc' "with what we type"
	"$TIMEOUT" "$LIMIT" "$CHAT" --connect "$IP:$PORT" < /dev/null \
	    > B.out 2> B.err &
	PID[B]=$!
	echo "${PID[B]}" >> pids
	chat_finish B 5
	wait_screen "Turned away ${IP//./\\.}:[0-9]+: busy" \
	    "\"Turned away $IP:PORT: busy\" before Enter"
	row_of "Turned away ${IP//./\\.}:[0-9]+: busy"
	turned=$ROW
	row_of 'Your message: abc'
	last_row
	(( turned < ROW && ROW == LAST )) ||
	    fail "the status line is not above the line being typed, the" \
	    "last row; the screen:$(rows)"
	typed def
	keys Enter
	raw_expect 'MSG abcdef'
}

# named_peer_heard NAME: a raw chat/2 peer named NAME (printf escapes
# allowed) on fd 3 to the listener on the screen, which has typed and
# sent its first turn, "hi".
named_peer_heard() {
	listening
	exec 3<> "/dev/tcp/$IP/$PORT" || fail "cannot connect to $IP:$PORT"
	raw_send "HELLO chat/2\\nNAME $1\\n"
	raw_expect 'HELLO chat/1 chat/2'
	raw_expect 'NAME'
	wait_screen 'Your message: ?' "with the prompt"
	typed hi
	keys Enter
	raw_expect 'MSG hi'
}

# A peer's name in the prompt is measured in columns, not bytes: with
# "Zo\xc3\xab" (3 columns, 4 bytes) the cursor after "Zoë's turn: abc"
# is in column 15.
test_named_prompt_puts_the_cursor_by_columns() {
	screen_chat 40 20 --listen "$IP:0"
	named_peer_heard 'Zo\xc3\xab'
	typed abc
	wait_screen "Zo.*'s turn: abc" "with the named prompt and abc"
	until_deadline "$WAIT" cursor_at 15 ||
	    fail "cursor in column $(tmx display-message -p -t chat \
	    '#{cursor_x}'), not 15"
}

# With --show-names the first row of a message starts "alice says: ",
# two columns more than "They say: ": it holds two characters fewer, and
# the rows after it keep their indent of 10.
test_named_message_wraps_after_the_name() {
	screen_chat 30 20 --listen "$IP:0" --show-names
	named_peer_heard alice
	local long_y=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy
	raw_send 'MSG %s\n' "$long_y"
	wait_screen 'alice says: y+' "with alice's message"
	wrapped_as y 50 30 'alice says: '
}

suite_main "$@"
