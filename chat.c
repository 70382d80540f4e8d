/*
 * chat.c - strict turn-taking two-party chat over TCP.
 *
 * One side listens and speaks first, the other connects; they alternate
 * one message each until either sends QUIT. Everything runs in one poll
 * loop over stdin, the listening socket and a small fixed pool of
 * connections, each driven by an explicit state (see "The conversation").
 * The README specifies the protocol, the output lines and the exit codes.
 */
/* Linux's ppoll() and accept4() (both also in POSIX.1-2024); other
 * systems show all they have without it. */
#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <locale.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#ifdef __APPLE__
#include <sys/random.h>		/* getentropy(), in unistd.h elsewhere */
#endif

#include "chat.h"

/* After we send QUIT or ERR, wait this long for the peer to close. */
#define LINGER_MS	2000
/* Lines about strangers (turned away, dropped before HELLO): at most one
 * in this many milliseconds; the rest are counted into the next one. */
#define STRANGER_MS	1000
/* Connections that have not completed their HELLO, at once and from one
 * source: enough for a classroom, too few to cost more than kilobytes. */
#define CANDIDATES_MAX	16
#define CANDIDATES_PER_SOURCE 4
/* Every socket but the listening one: the candidates (and connections
 * lingering after their last frame, which count as candidates) plus the
 * conversation. */
#define CONN_MAX	(CANDIDATES_MAX + 1)
/* Writes up to this long are gathered into one buffer (io_write_all). */
#define GATHER_MAX	1024
/* The most net_drain() reads before a close: a frame and a bit. */
#define DRAIN_MAX	((size_t)2 * CHAT_FRAME_MAX)
/* A peer message that needs escaping is escaped and written in pieces of
 * this size: a 64 KiB message of control bytes escapes to 256 KiB, which
 * would cost as much memory as all the rest of chat. */
#define SHOW_PIECE	4096
/* Room for a terminal's name, and for /proc/self/fd/N: not PATH_MAX,
 * whose 4 KiB of stack would stay in memory for good. */
#define TTY_PATH_MAX	128
/* A numeric host (IPv6 with a scope id fits) and a port, as shown. */
#define HOST_NUM_MAX	64
/* A socket's path holds this many bytes at most, and its NUL. */
#define SUN_PATH_SIZE	sizeof(((struct sockaddr_un *)NULL)->sun_path)
/* A peer's name: "[ADDR]:PORT", or "unix:PATH". */
#define PEER_NAME_MAX	(sizeof("unix:") + SUN_PATH_SIZE)
/* Status and error lines longer than this are cut. */
#define SAY_MAX		512
/* Of an ERR reason from the peer, quote at most this many bytes; escaped,
 * with a NUL, they take at most REASON_SHOWN. */
#define REASON_MAX	120
#define REASON_SHOWN	(CHAT_ESCAPED_MAX(REASON_MAX) + 1)
#define LISTEN_BACKLOG	16
/* Listening sockets: one, or IPv6 and IPv4 where they cannot share one. */
#define LISTEN_MAX	2
#define TIMEOUT_MAX_SECS 86400
/* The longest shared secret, and --block's default. */
#define SECRET_MAX	1024
#define BLOCK_SECS	60
#define PROMPT		"Your message: "
/* The editor's other prompts (see "Line editor"). */
#define PROMPT_THEIRS	"Their turn: "
#define PROMPT_THEIRS_QUEUED "Their turn (%u queued): "
#define PROMPT_IDLE	"Waiting for a peer: "
#define PROMPT_NAMED	"%s's turn: "	/* chat/2, the peer's name */
#define PROMPT_NAMED_QUEUED "%s's turn (%u queued): "
/* Room for any of them: a 32-byte name and a count of 10 digits fit. */
#define PROMPT_MAX	96
#define PASTE_ON	"\x1b[?2004h"	/* bracketed paste mode */
#define PASTE_OFF	"\x1b[?2004l"
#define ED_CLEAR	"\r\x1b[0K"	/* to column 0, erase the row */
/* The input line as drawn: a row of up to 2000 columns, 4 bytes each. */
#define ED_DRAW_MAX	8192
/* Our own earlier messages that Up recalls: this many, in this much. */
#define HISTORY_MAX	100
#define HISTORY_BYTES	((size_t)256 * 1024)
/* The editor holds a line up to twice what a message may be, so that a
 * paste a little too long can be cut down to size, not lost. */
#define ED_LINE_MAX	((size_t)2 * CHAT_TEXT_MAX)
/* Continuation rows of a peer's message start under its text. */
#define SHOW_INDENT	10	/* strlen("They say: ") */
/* The addresses the "Reach it as" line names, at most. */
#define REACH_MAX	4
/* Longer words are never a typo of an option. */
#define TYPO_MAX	32
/* The longest --port-file path, with the temporary name's suffix. */
#define PORT_FILE_MAX	4096
/* A line of the log: "2026-12-01T20:31:05.123Z > NAME: " and the text
 * escaped, or an event line. */
#define LOG_HEAD_MAX	(sizeof("2026-12-01T20:31:05.123Z > : ") + CHAT_NAME_MAX)
#define LOG_LINE_MAX	(LOG_HEAD_MAX + CHAT_ESCAPED_MAX(CHAT_TEXT_MAX) + 1)

/* The reasons of the ERR frames we send, named once; the README lists them. */
#define ERR_BAD_HELLO	"bad hello"
#define ERR_VERSION	"unsupported version"
#define ERR_OUT_OF_TURN	"out of turn"
#define ERR_TOO_LONG	"frame too long"
#define ERR_UNKNOWN	"unknown verb"
#define ERR_NO_HELLO	"no hello"
#define ERR_TOO_SLOW	"frame too slow"
#define ERR_FULL	"listener full"
#define ERR_SOURCE	"too many from your address"
#define ERR_HANDSHAKE	"bad handshake"
#define ERR_BAD_NAME	"bad name"
#define ERR_SLOW	"handshake too slow"
/* A connector that gets one of these four exits 8 (CHAT_EXIT_AUTH). */
#define ERR_NEED_SECRET	"a secret is required"
#define ERR_NO_SECRET	"this listener has no secret"
#define ERR_WRONG	"wrong secret"
#define ERR_BLOCKED	"blocked for"	/* " N seconds after 3 wrong secrets" */

/* What say() writes. */
enum say_flags {
	SAY_STATUS = 0,		/* a status line */
	SAY_ERROR = 1		/* an error: "chat: " first */
};

/* How a local output (stdout, stderr) is written; see local_init(). */
enum local_kind {
	LOCAL_FILE,	/* a regular file: a write never waits */
	LOCAL_OWN,	/* our own non-blocking open of it: wait in the poll */
	LOCAL_SOCKET,	/* a socket: send() without waiting, wait in the poll */
	LOCAL_PIPE,	/* a pipe we could not reopen (no /proc): poll for
			 * room, then write what fits (io_write_pipe()) */
	LOCAL_SHARED	/* another device, only the shared, blocking
			 * descriptor (io_write_shared()) */
};

/* The states of a connection; "The conversation" has the transitions. */
enum conn_state {
	CONN_FREE,	/* the slot is unused */
	CONN_HELLO,	/* waiting for the peer's HELLO line */
	CONN_INTRO,	/* chat/2: waiting for its NONCE (if any) and NAME */
	CONN_PROOF,	/* chat/2 with a secret: waiting for its PROOF */
	CONN_OURS,	/* in the conversation: we send the next MSG */
	CONN_THEIRS,	/* in the conversation: the peer sends it */
	CONN_LINGER	/* we sent our last frame: reading to the peer's close */
};

/* What a connection's one deadline is for. */
enum deadline_kind {
	DL_NONE,
	DL_HELLO,	/* the HELLO, then the rest of the handshake:
			 * CHAT_HELLO_SECS or --timeout each */
	DL_TURN,	/* the peer's turn: --timeout */
	DL_FRAME,	/* a begun frame: CHAT_FRAME_SECS or --timeout */
	DL_LINGER	/* the peer's close after our last frame: LINGER_MS */
};

/* How a connection is let go. */
enum ending {
	END_CLOSE,	/* the peer is gone or told us to go: close now */
	END_LINGER	/* we sent QUIT or ERR: let it reach the peer first */
};

/* What became of a connection that never was a conversation. */
enum stranger {
	STRANGER_BUSY,		/* BUSY: a conversation was (or got) under way */
	STRANGER_FULL,		/* ERR: too many candidates, or from its source */
	STRANGER_DROPPED,	/* no valid HELLO: silent, bad, gone */
	STRANGER_AUTH,		/* chat/2: no secret, a wrong one, or blocked */
	STRANGER_BLOCKED,	/* its wrong secret got its source blocked:
				 * one a second of its own (see report()) */
	STRANGER_KINDS
};

/* Code points first to last, for display escaping. */
struct cp_range {
	unsigned long first, last;
};

struct local {
	int fd;
	enum local_kind kind;
};

/* One socket to a peer: a candidate, the conversation, or lingering. */
struct conn {
	int fd;
	enum conn_state state;
	enum deadline_kind dl;
	long long deadline;		/* -1 with DL_NONE */
	char name[PEER_NAME_MAX];	/* ADDR:PORT, for messages */
	unsigned char source[CHAT_SOURCE_LEN];	/* for CANDIDATES_PER_SOURCE
						 * and the lockout */
	int version;			/* 1 or 2 once the HELLOs agree */
	char their_name[CHAT_NAME_MAX + 1];	/* chat/2: its NAME, or "" */
	char nonce[CHAT_HEX_LEN + 1];	/* chat/2: the NONCE we sent */
	char their_nonce[CHAT_HEX_LEN + 1];	/* and the one it sent */
	struct linebuf in;		/* the peer's bytes, cut into frames */
	char hello[CHAT_HELLO_MAX + 2];	/* in's storage until the HELLO */
};

/* The line editor's state (a terminal's chat only; see "Line editor"). */
struct editor {
	char line[ED_LINE_MAX];		/* what is being typed */
	size_t len, pos;		/* its bytes; the cursor, in bytes */
	char draft[ED_LINE_MAX];	/* the typed line, while browsing */
	size_t draft_len;
	char key[16];			/* an escape sequence so far */
	size_t keylen;
	int discarding;			/* the rest of one too long for it */
	int ended;			/* QUIT or Ctrl-D: no more keys now */
	int pasting;			/* inside a bracketed paste */
	int after_cr;			/* a LF now ends no second line */
	int refused;			/* said this line is at its limit */
	int shown;			/* the input line is on screen */
	int dirty;			/* and must be drawn again */
	int paste_on;			/* bracketed paste is switched on */
	int cols;			/* the terminal's width, or 0 */
	char *history[HISTORY_MAX];	/* sent lines, oldest first */
	size_t hist_n, hist_bytes;
	size_t browse;			/* Up/Down's place: hist_n is the
					 * line being typed */
	char drawn[PROMPT_MAX];		/* the prompt last drawn */
};

struct chat {
	/* what the command line asked for */
	int listening;			/* --listen, else --connect */
	int once;			/* --once */
	long long timeout_ms;		/* --timeout, or -1 for none */
	const char *where;		/* HOST:PORT as given, for errors */
	const char *name;		/* --name, or "" */
	int show_names;			/* --show-names */
	const unsigned char *secret;	/* the shared secret, or NULL */
	size_t secret_len;
	long long block_ms;		/* --block */
	long long (*clock)(void);	/* milliseconds, never jumping */

	/* the log (--log), or log_fd -1 */
	const char *log_path;
	int log_fd;
	char *log_buf;			/* LOG_LINE_MAX bytes */

	/* local side */
	int in_fd;			/* stdin */
	int in_tty;			/* stdin is a terminal */
	int in_eof;			/* stdin has ended */
	unsigned long in_lineno;	/* lines taken from stdin so far */
	struct linebuf in;		/* stdin, cut into lines */
	struct local out, err;		/* stdout, stderr */
	int out_tty;			/* stdout is a terminal */
	int out_cols;			/* its width, for wrapping, or 0 */
	struct editor *ed;		/* the line editor, or NULL */
	int local_gone;			/* stdin or stdout failed: no more */
	int prompt_open;		/* the prompt is up, no newline yet */

	/* lines about strangers: one now, the others counted for later */
	long long stranger_quiet;	/* none printed before this, or -1 */
	long long blocked_quiet;	/* the same for STRANGER_BLOCKED */
	char stranger_held[SAY_MAX];	/* one that waits for the prompt */
	size_t stranger_held_len;
	enum stranger stranger_held_kind;
	unsigned stranger_count[STRANGER_KINDS];

	/* network */
	int listen_fd[LISTEN_MAX];	/* -1 where unused; a connector's all */
	int accept_paused;		/* out of fds: accept when one closes */
	int accept_failing;		/* said so: not again until one works */
	struct conn conns[CONN_MAX];
	struct conn *conns_end;		/* after the last slot in use: the
					 * loop of every turn looks at the
					 * slots in use, not at all 17 */
	struct conn *peer;		/* the conversation, or NULL */
	unsigned long conversations;	/* ended so far */
	int status;			/* exit status of the last one */
	const char *waiting;		/* --wait: why the last try was not
					 * served (quietly), or NULL */
	int wait_quiet;			/* --wait has time left: a busy, full
					 * or absent listener is not an error */
	struct lockout *lockout;	/* sources that failed to prove: a
					 * listener with a secret's only */

	char in_data[LINEBUF_SIZE];	/* storage of in */
	char frame[LINEBUF_SIZE];	/* storage of peer->in */
	char piece[SHOW_PIECE];		/* an escaped message, piece by piece */
};
static void	 chat_accept(struct chat *, int);
static int	 chat_blocked(struct chat *, const unsigned char *, const char *, int, struct conn *);
static void	 chat_busy(struct chat *, struct conn *);
static int	 chat_connect(struct chat *, const struct endpoint *, long long);
static void	 chat_converse(struct chat *, struct conn *);
static int	 chat_done(const struct chat *);
static void	 chat_ended(struct chat *, struct conn *, const char *, size_t);
static void	 chat_frame(struct chat *, struct conn *, const char *, size_t);
static void	 chat_handshake(struct chat *, struct conn *, enum verb, const char *, size_t);
static void	 chat_hello(struct chat *, struct conn *, enum verb, const char *, size_t);
static void	 chat_input(struct chat *, struct conn *);
static void	 chat_intro(struct chat *, struct conn *, enum verb, const char *, size_t);
static int	 chat_introduce(struct chat *, struct conn *);
static int	 chat_our_line(struct chat *);
static void	 chat_our_lines(struct chat *);
static void	 chat_our_turn(struct chat *);
static void	 chat_prompt(struct chat *);
static int	 chat_prove(struct chat *, struct conn *);
static void	 chat_proved(struct chat *, struct conn *, enum verb, const char *, size_t);
static void	 chat_quit(struct chat *, int, const char *);
static void	 chat_refused(struct chat *, struct conn *, const char *, size_t);
static void	 chat_show(struct chat *, const char *, size_t);
static int	 chat_show_wrapped(struct chat *, const char *, size_t, size_t *);
static void	 chat_stdin_input(struct chat *);
static void	 chat_stop(struct chat *);
static void	 chat_their_turn(struct chat *);
static void	 chat_turn_away(struct chat *, int, const char *, enum verb, const char *, enum stranger, const char *);
static void	 chat_turn_away_candidate(struct chat *, struct conn *);
static void	 chat_unproved(struct chat *, struct conn *);
static void	 chat_welcome(struct chat *, struct conn *);
static long long	 clock_monotonic_ms(void);
static int	 compat_accept(int, struct sockaddr *, socklen_t *);
static int	 compat_dual_stack(int);
static void	 compat_let_in(const sigset_t *);
static long	 compat_peer_uid(int);
static int	 compat_reopen(int, int);
static int	 compat_socket(int, int, int);
static int	 compat_wait(struct pollfd *, int, const struct timespec *,
    const sigset_t *);
static void	 conn_close(struct chat *, struct conn *);
static void	 conn_end(struct chat *, struct conn *, int, enum ending);
static void	 conn_frame_begun(struct chat *, struct conn *);
static void	 conn_gone(struct chat *, struct conn *, int);
static void	 conn_handshake(struct chat *, struct conn *, enum conn_state);
static int	 conn_in_handshake(const struct conn *);
static int	 conn_is_stranger(const struct chat *, const struct conn *);
static void	 conn_last(struct chat *, struct conn *, int, enum verb, const char *);
static struct conn	*conn_open(struct chat *, int, const char *, const unsigned char *);
static void	 conn_proof(const struct chat *, const struct conn *, const char *, char *);
static void	 conn_say(struct chat *, struct conn *, const char *, ...);
static int	 conn_send(struct chat *, struct conn *, enum verb, const char *, size_t);
static void	 conn_timeout(struct chat *, struct conn *);
static void	 conn_violation(struct chat *, struct conn *, const char *);
static long long	 deadline_min(long long, long long);
static size_t	 ed_after(const char *, size_t, size_t);
static size_t	 ed_before(const char *, size_t);
static void	 ed_browse(struct editor *, int);
static void	 ed_byte(struct chat *, unsigned char);
static size_t	 ed_char(const char *, size_t, int *);
static void	 ed_close(struct chat *);
static int	 ed_cp_width(unsigned long);
static void	 ed_delete(struct editor *, size_t, size_t);
static void	 ed_drop_queue(struct chat *);
static void	 ed_end(struct chat *, int);
static void	 ed_enter(struct chat *, int);
static void	 ed_escape(struct chat *, const char *, size_t);
static void	 ed_hide(struct chat *, int);
static void	 ed_input(struct chat *, const char *, size_t);
static void	 ed_insert(struct chat *, const char *, size_t);
static void	 ed_open(struct chat *);
static void	 ed_over(struct chat *);
static const char	*ed_prompt(const struct chat *, char *, size_t);
static unsigned	 ed_queued(const struct chat *);
static void	 ed_refresh(struct chat *);
static void	 ed_remember(struct editor *, const char *, size_t);
static void	 ed_sent(struct chat *, const char *, size_t);
static void	 ed_size(struct chat *);
static void	 ed_suspend(struct chat *);
static void	 ed_update(struct chat *);
static int	 ed_wanted(const struct chat *);
static size_t	 ed_width(const char *, size_t, size_t);
static int	 emoji_code_point(unsigned long);
static int	 err_write(struct chat *, const char *, size_t, int);
static size_t	 escape_hex(char *, char, unsigned long, int);
static size_t	 escape_unit(char *, const unsigned char *, size_t, size_t, size_t *);
static void	 file_remove(const char *, const struct stat *);
static long long	 frame_ms(const struct chat *);
static void	 hex_encode(char *, const unsigned char *, size_t);
static int	 hex_valid(const char *, size_t);
static int	 io_write_all(struct chat *, int, enum local_kind, struct iovec *, int, long long);
static ssize_t	 io_write_pipe(int, const struct iovec *);
static ssize_t	 io_write_shared(int, const struct iovec *, int);
static size_t	 line_format(char *, size_t, int, const char *, va_list);
static void	 linebuf_move(struct linebuf *, struct linebuf *);
static void	 local_close(struct local *);
static void	 local_init(struct local *, int);
static struct lockout_entry	*lockout_find(const struct lockout *, const unsigned char *);
static void	 log_failed(struct chat *, const char *, ...);
static void	 log_line(struct chat *, char, const char *, const char *, size_t);
static int	 net_bind(const struct addrinfo *, in_port_t, int *);
static int	 net_connect(struct chat *, const struct endpoint *, char *, size_t);
static void	 net_drain(int);
static int	 net_listen(struct chat *, const struct endpoint *, const char *,
    int *);
static int	 net_listen_any(const struct addrinfo *, int *);
static void	 net_name(const struct sockaddr *, socklen_t, char *, size_t);
static int	 net_port(int, char *);
static void	 net_reach(struct chat *, int);
static int	 net_send(struct chat *, int, enum verb, const char *, size_t, long long);
static void	 net_source(const struct sockaddr_storage *, int, unsigned char *);
static void	 net_source_name(const unsigned char *, char *, size_t);
static void	 net_tune(int, int);
static void	 net_unix_addr(const struct endpoint *, struct addrinfo *, struct sockaddr_un *);
static int	 net_unix_stale(const struct sockaddr_un *);
static void	 on_signal(int);
static int	 parse_seconds(const char *, long long *);
static int	 port_file_listening(const char *, int, const struct endpoint *, int *, struct stat *);
static int	 port_file_write(const char *, const char *, int *, struct stat *);
static void	 prompt_end(struct chat *, int);
static int	 range_holds(const struct cp_range *, size_t, unsigned long);
static int	 reason_is_auth(const char *, size_t);
static void	 reason_show(char *, const char *, size_t);
static void	 report(struct chat *, int, int, const char *, va_list);
static int	 report_write(struct chat *, int, const char *, size_t);
static uint32_t	 rotr32(uint32_t, unsigned);
static void	 say(struct chat *, int, const char *, ...);
static ssize_t	 secret_load(const char *, unsigned char *, size_t);
static void	 sha256_block(uint32_t *, const unsigned char *);
static size_t	 show_char(const char *, size_t, int *);
static void	 signal_catch(int, int);
static void	 signal_stop_self(void);
static int	 signals_let_in(void);
static void	 stdfds_init(void);
static void	 stranger(struct chat *, enum stranger, int, const char *, ...);
static int	 stranger_counted(const struct chat *);
static long long	 stranger_due(const struct chat *);
static void	 stranger_summary(struct chat *);
static void	 term_cooked(struct chat *);
static void	 term_init(int);
static void	 term_quiet(void);
static void	 term_raw(void);
static void	 term_restore(void);
static int	 typo_arguments(int, const char *, int, char **, int, char *, size_t);
static int	 typo_distance(const char *, size_t, const char *, size_t);
static int	 typo_endpoint(char *, size_t, const char *, const char *, long);
static int	 typo_is_option(const struct option *, const char *);
static const char	*typo_one_dash(const struct option *, const char *, int, char **);
static int	 typo_option(const struct option *, const char *, char *, size_t);
static int	 typo_port(const char *, long);
static const char	*typo_prefix(const struct option *, char **, int, const char *);
static int	 typo_url(char *, size_t, const char *);
static int	 unsafe_code_point(unsigned long);
static void	 usage(FILE *);
static size_t	 utf8_decode(const unsigned char *, size_t, unsigned long *);
static size_t	 utf8_decode_before(const unsigned char *, size_t, unsigned long *);
static struct timespec	*wait_until(const struct chat *, long long, struct timespec *);
static void	 warn_usage(const char *, ...);
static int	 zwj_joins_emoji(const unsigned char *, size_t, size_t);

/*
 * Where signals are let in (one rule for every wait). The stop signals
 * (SIGINT, SIGTERM, SIGHUP, SIGQUIT) and SIGCONT (with the line editor
 * also SIGWINCH and SIGTSTP) are blocked all the time except inside a
 * wait: compat_wait() with wait_mask, which unblocks them atomically for
 * as long as it waits, the blocking writes of io_write_shared() and
 * io_write_pipe(), and signals_let_in(). Before such a call, with the
 * signals still blocked, look at stop_signal: a signal that comes after
 * the look stays pending until the call lets it in, and then ends the
 * wait at once. After the first stop signal nothing waits again: writes
 * are tried without waiting and dropped if they cannot go at once, and
 * chat ends. (Ctrl-Z with the editor is the one other place:
 * signal_stop_self() lets SIGTSTP itself in to stop.)
 */

/* Set by on_signal() to the stop signal that arrived; the loop acts on it. */
static volatile sig_atomic_t stop_signal;
/* Set on SIGCONT: after Ctrl-Z and fg the shell may have reset the terminal. */
static volatile sig_atomic_t resumed;
/* The signal mask compat_wait() waits with: our stop signals unblocked. */
static sigset_t wait_mask;
/* The terminal's settings when we started, restored on every way out. */
static struct termios term_saved;
static int term_fd = -1;	/* stdin when it is a terminal and saved */
/* The line editor has the terminal in raw mode for the whole run. */
static int term_editing;
/* Set on SIGWINCH: the terminal's width may have changed. */
static volatile sig_atomic_t resized;
/* Set on SIGTSTP (Ctrl-Z), which the line editor catches. */
static volatile sig_atomic_t suspended;

/* === Time ================================================================ */

/* Milliseconds on a clock that never jumps: chat's clock, unless a test
 * gives it another. */
static long long
clock_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The time left until deadline as compat_wait()'s timeout; NULL for none. */
static struct timespec *
wait_until(const struct chat *c, long long deadline, struct timespec *ts)
{
	long long left;

	if (deadline < 0)
		return NULL;
	left = deadline - c->clock();
	if (left < 0)
		left = 0;
	ts->tv_sec = left / 1000;
	ts->tv_nsec = (left % 1000) * 1000000;
	return ts;
}

/* The earlier of two deadlines, -1 meaning none. */
static long long
deadline_min(long long a, long long b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

/*
 * Let in the stop signals that came while they were blocked outside a
 * wait (during a name lookup, which cannot wait in compat_wait()), without
 * waiting. Returns whether a stop signal has come.
 */
static int
signals_let_in(void)
{
	compat_let_in(&wait_mask);
	return stop_signal != 0;
}

/* === Platform ============================================================= */

/*
 * What differs between systems, all here. Linux waits in ppoll() and
 * makes sockets non-blocking and close-on-exec as it creates them, and
 * reopens pipes through /proc. Every other system waits in pselect(),
 * which swaps the signal mask as atomically where it is a system call
 * (macOS, the BSDs; poll() cannot even watch a terminal on macOS), and
 * sets the flags with fcntl(). Chosen by platform, not by probing macros:
 * glibc's SOCK_NONBLOCK is an enum, invisible to #if. -DCHAT_PORTABLE
 * takes the second path on Linux too, so that it is tested here.
 */
#if defined(__linux__) && !defined(CHAT_PORTABLE)
#define COMPAT_LINUX	1
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* SIGPIPE is ignored anyway */
#endif

/* Wait as ppoll() does (POLLIN and POLLOUT are all chat asks for), the
 * signal mask set to mask for the wait only. */
static int
compat_wait(struct pollfd *fds, int nfds, const struct timespec *ts,
    const sigset_t *mask)
{
#ifdef COMPAT_LINUX
	return ppoll(fds, (nfds_t)nfds, ts, mask);
#else
	fd_set rd, wr;
	int i, n, maxfd = -1;

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	for (i = 0; i < nfds; i++) {
		if (fds[i].fd < 0 || fds[i].fd >= FD_SETSIZE) {
			errno = EBADF;	/* compat_fd() keeps ours below */
			return -1;
		}
		if (fds[i].events & POLLIN)
			FD_SET(fds[i].fd, &rd);
		if (fds[i].events & POLLOUT)
			FD_SET(fds[i].fd, &wr);
		if (fds[i].fd > maxfd)
			maxfd = fds[i].fd;
	}
	if (pselect(maxfd + 1, &rd, &wr, NULL, ts, mask) < 0)
		return -1;
	for (n = 0, i = 0; i < nfds; i++) {
		fds[i].revents = 0;
		if ((fds[i].events & POLLIN) && FD_ISSET(fds[i].fd, &rd))
			fds[i].revents |= POLLIN;
		if ((fds[i].events & POLLOUT) && FD_ISSET(fds[i].fd, &wr))
			fds[i].revents |= POLLOUT;
		n += fds[i].revents != 0;
	}
	return n;
#endif
}

#ifndef COMPAT_LINUX
/*
 * (Defined before its callers: whether it exists is decided here.)
 * Make a new socket non-blocking and close-on-exec. One that select()
 * could not watch (at FD_SETSIZE or above) is closed, as if the process
 * were out of descriptors. Returns fd, or -1.
 */
static int
compat_fd(int fd)
{
	int flags;

	if (fd < 0)
		return -1;
	if (fd >= FD_SETSIZE) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    (flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}
#endif

/* A non-blocking, close-on-exec socket. */
static int
compat_socket(int family, int type, int protocol)
{
#ifdef COMPAT_LINUX
	return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
#else
	return compat_fd(socket(family, type, protocol));
#endif
}

/* Accept a connection as a non-blocking, close-on-exec socket. */
static int
compat_accept(int fd, struct sockaddr *sa, socklen_t *salen)
{
#ifdef COMPAT_LINUX
	return accept4(fd, sa, salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
	return compat_fd(accept(fd, sa, salen));
#endif
}

/*
 * Let in the stop signals that are pending, without waiting. A zero
 * timeout pselect() may return before it lets them in (macOS), and
 * unblocking does deliver them before sigprocmask() returns (POSIX).
 */
static void
compat_let_in(const sigset_t *mask)
{
#ifdef COMPAT_LINUX
	struct timespec zero = { 0, 0 };

	ppoll(NULL, 0, &zero, mask);
#else
	sigset_t blocked;

	sigprocmask(SIG_SETMASK, mask, &blocked);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
#endif
}

/*
 * Let an IPv6 socket take IPv4 peers too, as mapped addresses. Returns
 * -1 where it cannot: OpenBSD, whose IPV6_V6ONLY is always on (and any
 * system built with -DCHAT_V6ONLY, which acts so, for the tests).
 */
static int
compat_dual_stack(int fd)
{
#ifdef CHAT_V6ONLY
	int one = 1;

	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	errno = ENOPROTOOPT;
	return -1;
#else
	int zero = 0;

	return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
	    sizeof(zero));
#endif
}

/* The user at the other end of a Unix-domain socket, or -1. Linux has
 * SO_PEERCRED and no getpeereid(), on the portable path too. */
static long
compat_peer_uid(int fd)
{
#ifdef __linux__
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ?
	    (long)cred.uid : -1;
#else
	uid_t uid;
	gid_t gid;

	return getpeereid(fd, &uid, &gid) == 0 ? (long)uid : -1;
#endif
}

/*
 * A non-blocking descriptor of our own for the pipe or FIFO (is_fifo) or
 * terminal open on fd, so that a write that must wait for room waits in
 * compat_wait(), where a stop signal gets in without a race, and never
 * blocks the whole process. (O_NONBLOCK on fd itself would change the
 * description the shell and others share.) Returns it, or -1 where there
 * is none to be had: other devices, a pipe where there is no /proc, and
 * the master side of a pseudo-terminal, whose every open makes a new one.
 */
static int
compat_reopen(int fd, int is_fifo)
{
	const int flags = O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	char path[TTY_PATH_MAX] = "";	/* "/proc/self/fd/N", "/dev/pts/N" */
	struct stat was, now;
	int tty = !is_fifo && isatty(fd), own;

	/* Never a master: ptsname() names the other side of one (and
	 * FreeBSD's ttyname() of a master even names that side). */
	if (tty && ptsname(fd) != NULL)
		return -1;
#ifdef COMPAT_LINUX
	/* The file itself, whatever it is: pipe, FIFO or terminal. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((is_fifo || tty) && (own = open(path, flags)) >= 0)
		return own;
#endif
	/* Elsewhere a terminal can be opened anew by its name (a pipe
	 * cannot): never a cloning device such as /dev/ptmx, and only if
	 * the name opens the very same terminal. */
	if (!tty || ttyname_r(fd, path, sizeof(path)) != 0 ||
	    strcmp(path, "/dev/ptmx") == 0 || fstat(fd, &was) < 0 ||
	    (own = open(path, flags)) < 0)
		return -1;
	if (fstat(own, &now) < 0 || now.st_rdev != was.st_rdev ||
	    !isatty(own)) {
		close(own);
		return -1;
	}
#ifndef COMPAT_LINUX
	if (own >= FD_SETSIZE) {	/* beyond what select() watches */
		close(own);
		return -1;
	}
#endif
	return own;
}

/* === Local output ========================================================= */

/* How to write fd (stdout or stderr) so that no write blocks for good. */
static void
local_init(struct local *l, int fd)
{
	struct stat st;

	l->fd = fd;
	l->kind = LOCAL_SHARED;
	if (fstat(fd, &st) < 0)
		return;
	/* A regular file takes a write at once (or the process is beyond
	 * signals anyway: a hung NFS mount). */
	if (S_ISREG(st.st_mode))
		l->kind = LOCAL_FILE;
	else if (S_ISSOCK(st.st_mode))
		l->kind = LOCAL_SOCKET;
	else if ((l->fd = compat_reopen(fd, S_ISFIFO(st.st_mode))) >= 0)
		l->kind = LOCAL_OWN;
	else {
		l->fd = fd;
		if (S_ISFIFO(st.st_mode))
			l->kind = LOCAL_PIPE;
	}
}

/* Close what local_init() opened. */
static void
local_close(struct local *l)
{
	if (l->kind == LOCAL_OWN && l->fd > 2)
		close(l->fd);
}

/* Format one line, "chat: " first for SAY_ERROR, cut to fit, with its LF.
 * Returns its length. */
static size_t
line_format(char *line, size_t size, int flags, const char *fmt, va_list ap)
{
	int n = 0, m, i;
	unsigned char b;

	if (flags & SAY_ERROR)
		n = snprintf(line, size, "chat: ");
	m = vsnprintf(line + n, size - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)size - 2) {	/* cut: still end the line */
		n = (int)size - 2;
		/* Not inside a character (the text is valid UTF-8): a lead
		 * byte among the last three whose character does not fit
		 * goes, with what follows it. */
		for (i = n - 1; i >= 0 && i >= n - 3; i--) {
			b = (unsigned char)line[i];
			if ((b & 0xc0) == 0x80)
				continue;
			if (b >= 0xc0 && n - i < (b >= 0xf0 ? 4 : b >= 0xe0 ?
			    3 : 2))
				n = i;
			break;
		}
	}
	line[n++] = '\n';
	return (size_t)n;
}

/* Write len bytes to stderr, waiting for room if wait. Returns as
 * io_write_all(). stderr failing is not worth dying over: callers go on. */
static int
err_write(struct chat *c, const char *text, size_t len, int wait)
{
	struct iovec iov;

	iov.iov_base = (void *)text;
	iov.iov_len = len;
	return io_write_all(c, c->err.fd, c->err.kind, &iov, 1, wait ? -1 : 0);
}

/*
 * Write one status or error line to stderr, in one write, below the
 * prompt if it is up. A line about a stranger (kind >= 0: a connection
 * turned away, or dropped before its HELLO) is rate-limited: at most one
 * every STRANGER_MS, so that a flood can neither push the conversation off
 * the screen nor fill a pipe that nobody reads. The first is written (held
 * until Enter while the user types), the rest only counted, for
 * stranger_summary(). A source blocked has its own second: who was
 * blocked is worth a line even amid a flood of others, but a flood of
 * blocks from many sources gets one a second too.
 */
static void
report(struct chat *c, int kind, int flags, const char *fmt, va_list ap)
{
	long long now, *quiet = kind == STRANGER_BLOCKED ? &c->blocked_quiet :
	    &c->stranger_quiet;
	char line[SAY_MAX];
	size_t n;

	if (kind >= 0) {
		now = c->clock();
		if (c->stranger_held_len > 0 || now < *quiet) {
			c->stranger_count[kind]++;
			return;
		}
		*quiet = now + STRANGER_MS;
	}
	n = line_format(line, sizeof(line), flags, fmt, ap);
	/* The log holds the lines stderr shows: a stranger's line that is
	 * counted instead is logged in the summary that counts it. */
	if (report_write(c, kind, line, n) == 0)
		log_line(c, '*', NULL, line, n - 1);
}

/*
 * Write report()'s line (n bytes with its LF) to stderr, below the prompt,
 * or hold a stranger's while the user types. Returns -1 if it was counted
 * instead, else 0.
 */
static int
report_write(struct chat *c, int kind, const char *line, size_t n)
{
	if (kind >= 0 && c->prompt_open) {
		memcpy(c->stranger_held, line, n);
		c->stranger_held_len = n;
		c->stranger_held_kind = kind;
		return 0;
	}
	prompt_end(c, 0);
	ed_hide(c, kind < 0);	/* (a stranger's line never waits) */
	/* A stranger's line never waits for room: nobody reading stderr
	 * must not stop the conversation. What cannot go now is counted. */
	if (err_write(c, line, n, kind < 0) < 0 && kind >= 0) {
		c->stranger_count[kind]++;
		return -1;
	}
	return 0;
}

/* A status (SAY_STATUS) or error (SAY_ERROR) line on stderr. */
static void
say(struct chat *c, int flags, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, -1, flags, fmt, ap);
	va_end(ap);
}

/* A line about a stranger: rate-limited, see report(). */
static void
stranger(struct chat *c, enum stranger kind, int flags, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, (int)kind, flags, fmt, ap);
	va_end(ap);
}

/* A usage error before chat has started: why, then the usage. */
static void
warn_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("chat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
}

/* Whether any stranger is counted and not yet summarised. */
static int
stranger_counted(const struct chat *c)
{
	int i;

	for (i = 0; i < STRANGER_KINDS; i++)
		if (c->stranger_count[i] > 0)
			return 1;
	return 0;
}

/* When the next stranger_summary() is due: -1 if nothing is counted, or
 * the user is typing. */
static long long
stranger_due(const struct chat *c)
{
	return !c->prompt_open && stranger_counted(c) ? c->stranger_quiet : -1;
}

/* The counted strangers in one line: "Turned away N more: ...". */
static void
stranger_summary(struct chat *c)
{
	static const char *const what[STRANGER_KINDS] = {
		"busy", "full", "without HELLO", "without the secret",
		"blocked"
	};
	char line[SAY_MAX];
	unsigned total = 0;
	int i, n = 0;

	prompt_end(c, 0);	/* on a way out: below the user's text */
	for (i = 0; i < STRANGER_KINDS; i++)
		total += c->stranger_count[i];
	n = snprintf(line, sizeof(line), "Turned away %u more:", total);
	for (i = 0; i < STRANGER_KINDS; i++)
		if (c->stranger_count[i] > 0)
			n += snprintf(line + n, sizeof(line) - n, "%s %u %s",
			    line[n - 1] == ':' ? "" : ",",
			    c->stranger_count[i], what[i]);
	line[n++] = '\n';
	c->stranger_quiet = c->clock() + STRANGER_MS;
	/* Without waiting (see report()); if it cannot go, the counts stay
	 * for the next try, a second later. */
	if (err_write(c, line, n, 0) == 0) {
		memset(c->stranger_count, 0, sizeof(c->stranger_count));
		log_line(c, '*', NULL, line, n - 1);
	}
}

/*
 * The prompt's line is over: the user ended it (entered), or we must end
 * it to write below. Then the stranger line held meanwhile, if any.
 */
static void
prompt_end(struct chat *c, int entered)
{
	if (!c->prompt_open)
		return;
	c->prompt_open = 0;
	if (!entered)
		err_write(c, "\n", 1, 1);
	if (c->stranger_held_len > 0) {
		if (err_write(c, c->stranger_held, c->stranger_held_len,
		    0) < 0)
			c->stranger_count[c->stranger_held_kind]++;
		c->stranger_held_len = 0;
		c->stranger_quiet = c->clock() + STRANGER_MS;
	}
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: chat --listen [ADDR:]PORT|unix:PATH [--once] "
	    "[--timeout SECS]\n"
	    "            [--block SECS] [--port-file FILE] [--name NAME] "
	    "[--show-names]\n"
	    "            [--secret-file FILE] [--log FILE]\n"
	    "       chat --connect HOST:PORT|unix:PATH [--timeout SECS] "
	    "[--wait SECS]\n"
	    "            [--name NAME] [--show-names] [--secret-file FILE] "
	    "[--log FILE]\n"
	    "       chat --help | --version\n");
	if (out != stdout)
		return;
	fprintf(out,
	    "\n"
	    "Strict turn-taking two-party chat over TCP: the listener speaks\n"
	    "first, then the sides alternate until either types QUIT.\n"
	    "\n"
	    "  -l, --listen [ADDR:]PORT  wait for peers; PORT 0 picks one\n"
	    "  -c, --connect HOST:PORT   connect; IPv6 as [::1]:5000\n"
	    "      ... unix:PATH         either, on a Unix-domain socket\n"
	    "      --once                listener: one conversation, then exit\n"
	    "  -t, --timeout SECS        longest wait for the peer (1-%d)\n"
	    "  -n, --name NAME           your name, for the peer\n"
	    "      --show-names          \"NAME says:\" for a named peer\n"
	    "      --secret-file FILE    shared secret: FILE's first line\n"
	    "                            (else $CHAT_SECRET); mode 600\n"
	    "      --block SECS          listener: block a source for SECS\n"
	    "                            after 3 wrong secrets (60)\n"
	    "      --wait SECS           connector: keep trying while the\n"
	    "                            listener is busy or not there\n"
	    "      --port-file FILE      listener: the port (or PATH) in FILE\n"
	    "                            once listening (a FIFO: no polling)\n"
	    "      --log FILE            append a timestamped transcript\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             version and protocols\n"
	    "\n"
	    "Exit: 0 ended normally, 1 local I/O error, 2 usage, 3 network,\n"
	    "4 peer vanished or broke the protocol, 5 busy or refused,\n"
	    "6 timeout, 7 interrupted, 8 secret not proved or blocked.\n",
	    TIMEOUT_MAX_SECS);
}

/* === The log (--log) ====================================================== */

/*
 * One line of the log: the time (UTC, to the millisecond), the kind ('*'
 * an event, '>' a message we sent, '<' one we received), then for a
 * message who said it; then the text escaped as the screen shows the
 * peer's (an event's too: the user's own arguments are in some, and the
 * log is one line each). One write a line, so that the file is whole line
 * by line. The first write that fails is said on stderr and ends the log,
 * never the conversation.
 */
static void
log_line(struct chat *c, char kind, const char *who, const char *text,
    size_t len)
{
	struct timespec ts;
	struct iovec iov;
	struct tm tm;
	size_t n;
	int err;

	if (c->log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (size_t)snprintf(c->log_buf, LOG_HEAD_MAX,
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %c ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000, kind);
	if (who != NULL)
		n += (size_t)snprintf(c->log_buf + n, LOG_HEAD_MAX - n, "%s: ",
		    who);
	n += display_escape(c->log_buf + n, text, len);
	c->log_buf[n++] = '\n';
	iov.iov_base = c->log_buf;
	iov.iov_len = n;
	/* Never waiting: a FIFO that is full fails. */
	if (io_write_all(c, c->log_fd, LOCAL_FILE, &iov, 1, 0) == 0)
		return;
	err = errno == ETIMEDOUT ? EAGAIN : errno;
	close(c->log_fd);
	c->log_fd = -1;
	log_failed(c, "write log %s: %s", c->log_path, strerror(err));
}

/* The log's own error: on stderr, like say(), but never into the log. */
static void
log_failed(struct chat *c, const char *fmt, ...)
{
	char line[SAY_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = line_format(line, sizeof(line), SAY_ERROR, fmt, ap);
	va_end(ap);
	report_write(c, -1, line, n);
}

/* === Writing everything =================================================== */

/*
 * A blocking write to a device we share and could not reopen (see
 * compat_reopen()). The stop signals are let in around it, so that
 * Ctrl-C still ends a write that waits; by the rule above, stop_signal is
 * looked at once they are in. A signal in the instant between that look
 * and the write itself is noticed only when the write ends: one window.
 * Once a stop signal has come, nothing is written: it could wait.
 */
static ssize_t
io_write_shared(int fd, const struct iovec *iov, int iovcnt)
{
	sigset_t blocked;
	ssize_t n = -1;

	if (stop_signal) {
		errno = EINTR;
		return -1;
	}
	sigprocmask(SIG_SETMASK, &wait_mask, &blocked);
	if (stop_signal)
		errno = EINTR;
	else
		n = writev(fd, iov, iovcnt);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	return n;
}

/*
 * A write to a pipe we share and could not reopen (a system without
 * /proc) that does not wait: only once a poll finds room, and at most
 * PIPE_BUF bytes, which a pipe with room takes whole (Linux and the BSDs
 * report room only when PIPE_BUF bytes fit). Without room, -1 with
 * EAGAIN, so that the caller waits in compat_wait() as for a descriptor
 * of its own. Another writer of the same pipe could take the room first:
 * unless a stop signal has come already, the signals are let in around
 * the write for that, with the window of io_write_shared().
 */
static ssize_t
io_write_pipe(int fd, const struct iovec *iov)
{
	struct timespec zero = { 0, 0 };
	struct pollfd pfd;
	struct iovec fits = *iov;
	int ready;

	if (fits.iov_len > PIPE_BUF)
		fits.iov_len = PIPE_BUF;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if ((ready = compat_wait(&pfd, 1, &zero, NULL)) <= 0) {
		if (ready == 0)
			errno = EAGAIN;
		return -1;
	}
	if (stop_signal)	/* what fits still goes, at once */
		return write(fd, fits.iov_base, fits.iov_len);
	return io_write_shared(fd, &fits, 1);
}

/*
 * Write all of iov to fd, which is written as how says (a peer's socket is
 * LOCAL_SOCKET), across partial writes and EINTR. Where a write would
 * wait, wait in compat_wait() with the stop signals let in, until deadline (-1:
 * no limit). Returns 0, or -1 with errno: ETIMEDOUT at the deadline,
 * EINTR once a stop signal has come, or the write's own error.
 */
static int
io_write_all(struct chat *c, int fd, enum local_kind how, struct iovec *iov,
    int iovcnt, long long deadline)
{
	char gather[GATHER_MAX];
	struct iovec whole;
	struct msghdr msg;
	struct pollfd pfd;
	struct timespec ts;
	size_t total = 0;
	ssize_t n;
	int i;

	/* Pieces of a short message are copied together: one plain write
	 * costs the kernel less than a writev() of three pieces, and the
	 * copy costs less than the difference. send() on a socket skips
	 * the file layer that write() goes through. */
	for (i = 0; i < iovcnt && total <= sizeof(gather); i++)
		total += iov[i].iov_len;
	if (iovcnt > 1 && total <= sizeof(gather)) {
		total = 0;
		for (i = 0; i < iovcnt; i++) {
			memcpy(gather + total, iov[i].iov_base, iov[i].iov_len);
			total += iov[i].iov_len;
		}
		whole.iov_base = gather;
		whole.iov_len = total;
		iov = &whole;
		iovcnt = 1;
	}
	while (iovcnt > 0) {
		if (how == LOCAL_SHARED)
			n = io_write_shared(fd, iov, iovcnt);
		else if (how == LOCAL_PIPE)
			n = io_write_pipe(fd, iov);
		else if (how == LOCAL_SOCKET && iovcnt == 1)
			n = send(fd, iov->iov_base, iov->iov_len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		else if (how == LOCAL_SOCKET) {
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = iov;
			msg.msg_iovlen = iovcnt;
			n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else if (iovcnt == 1)
			n = write(fd, iov->iov_base, iov->iov_len);
		else
			n = writev(fd, iov, iovcnt);
		for (; n >= 0 && iovcnt > 0 && (size_t)n >= iov->iov_len;
		    iov++, iovcnt--)
			n -= (ssize_t)iov->iov_len;
		if (iovcnt == 0)
			break;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
		if (n >= 0)
			continue;
		/* Only what is still unsent can be interrupted: a signal
		 * after the last byte went out changes nothing here. */
		if (errno == EINTR && stop_signal)
			return -1;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (stop_signal) {	/* no more waiting */
			errno = EINTR;
			return -1;
		}
		if (deadline >= 0 && c->clock() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (compat_wait(&pfd, 1, wait_until(c, deadline, &ts),
		    &wait_mask) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}
/* === Line framing ========================================================= */

void
linebuf_init(struct linebuf *lb, char *data, size_t size, size_t max)
{
	lb->data = data;
	lb->size = size;
	lb->max = max < size - 2 ? max : size - 2;
	lb->start = lb->scanned = lb->len = 0;
	lb->skipping = 0;
}

char *
linebuf_space(struct linebuf *lb, size_t *room)
{
	if (lb->start > 0) {	/* move the unfinished line to the front */
		memmove(lb->data, lb->data + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->scanned -= lb->start;
		lb->start = 0;
	}
	*room = lb->size - lb->len;
	return lb->data + lb->len;
}

size_t
linebuf_room(const struct linebuf *lb)
{
	return lb->size - (lb->len - lb->start);
}

void
linebuf_fill(struct linebuf *lb, size_t n)
{
	lb->len += n;
}

int
linebuf_pending(const struct linebuf *lb)
{
	return lb->start < lb->len && !lb->skipping;
}

enum line_result
linebuf_next(struct linebuf *lb, const char **line, size_t *len)
{
	const char *lf;
	size_t begin, end, n;

	for (;;) {
		lf = memchr(lb->data + lb->scanned, '\n',
		    lb->len - lb->scanned);
		if (lf == NULL) {
			lb->scanned = lb->len;
			if (lb->skipping || lb->start == lb->len) {
				lb->start = lb->scanned = lb->len = 0;
				return LINE_NONE;
			}
			/* max + 1 bytes may still be max and the CR before LF */
			n = lb->len - lb->start;
			if (n <= lb->max || (n == lb->max + 1 &&
			    lb->data[lb->len - 1] == '\r'))
				return LINE_NONE;
			/* Over-long: drop it now, and the rest up to its LF. */
			lb->start = lb->scanned = lb->len = 0;
			lb->skipping = 1;
			return LINE_TOOLONG;
		}
		begin = lb->start;
		end = lf - lb->data;
		lb->start = lb->scanned = end + 1;
		if (lb->skipping) {
			lb->skipping = 0;
			continue;
		}
		n = end - begin;
		/* CRLF peers (telnet, Windows scripts) must not see a \x0d. */
		if (n > 0 && lb->data[end - 1] == '\r')
			n--;
		if (n > lb->max)
			return LINE_TOOLONG;
		*line = lb->data + begin;
		*len = n;
		return LINE_OK;
	}
}

enum line_result
linebuf_rest(struct linebuf *lb, const char **line, size_t *len)
{
	enum line_result r;
	size_t n;

	r = linebuf_next(lb, line, len);
	if (r != LINE_NONE)
		return r;
	if (!linebuf_pending(lb))
		return LINE_NONE;
	n = lb->len - lb->start;
	*line = lb->data + lb->start;
	*len = n;
	lb->start = lb->scanned = lb->len;
	return n > lb->max ? LINE_TOOLONG : LINE_OK;
}

/* Move the bytes from holds and has not returned yet to the end of to,
 * which must have room for them. */
static void
linebuf_move(struct linebuf *to, struct linebuf *from)
{
	size_t room, n = from->len - from->start;
	char *space = linebuf_space(to, &room);

	memcpy(space, from->data + from->start, n < room ? n : room);
	linebuf_fill(to, n < room ? n : room);
	from->start = from->scanned = from->len = 0;
}

/* === Frames =============================================================== */

/* The verbs as they are spelt on the wire, named once: each with the
 * space that comes before a payload, so a frame's head is one piece. */
#define WIRE(name)	{ name " ", sizeof(name) - 1 }
static const struct {
	const char *head;	/* the verb, then a space */
	size_t len;		/* of the verb alone */
} wire[] = {
	[VERB_HELLO] = WIRE("HELLO"), [VERB_MSG] = WIRE("MSG"),
	[VERB_QUIT] = WIRE("QUIT"), [VERB_BUSY] = WIRE("BUSY"),
	[VERB_ERR] = WIRE("ERR"), [VERB_NAME] = WIRE("NAME"),
	[VERB_NONCE] = WIRE("NONCE"), [VERB_PROOF] = WIRE("PROOF")
};

enum verb
frame_parse(const char *line, size_t len, const char **payload, size_t *plen)
{
	/* MSG first: nearly every frame is one. */
	static const enum verb order[] = { VERB_MSG, VERB_QUIT, VERB_HELLO,
		VERB_BUSY, VERB_ERR, VERB_NAME, VERB_NONCE, VERB_PROOF };
	const char *space = memchr(line, ' ', len);
	size_t vlen = space ? (size_t)(space - line) : len;
	size_t i;

	*payload = space ? space + 1 : line + len;
	*plen = len - (*payload - line);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (wire[order[i]].len == vlen &&
		    memcmp(wire[order[i]].head, line, vlen) == 0)
			return order[i];
	return VERB_UNKNOWN;
}

/* The versions are words between spaces (one or more), exact in case;
 * words chat does not know are passed over. */
int
hello_version(const char *payload, size_t plen)
{
	const char *word = payload, *end = payload + plen, *space;
	int best = 0;

	while (word < end) {
		space = memchr(word, ' ', (size_t)(end - word));
		if (space == NULL)
			space = end;
		if (space - word == 6 && memcmp(word, "chat/", 5) == 0 &&
		    word[5] >= '1' && word[5] <= '0' + CHAT_PROTOCOL_MAX &&
		    word[5] - '0' > best)
			best = word[5] - '0';
		word = space + 1;
	}
	return best;
}

/* A name is shown as it is, after "Connection from" and in the prompt:
 * so it must be text that escaping would not change, and one word. */
int
name_valid(const char *name, size_t len)
{
	char shown[CHAT_ESCAPED_MAX(CHAT_NAME_MAX)];

	if (len == 0 || len > CHAT_NAME_MAX || memchr(name, ' ', len) != NULL ||
	    memchr(name, '\t', len) != NULL)
		return 0;
	return display_escape(shown, name, len) == len &&
	    memcmp(shown, name, len) == 0;
}

/* === Endpoints ============================================================ */

const char *
endpoint_parse(const char *spec, enum endpoint_use use, struct endpoint *ep)
{
	static char too_long[sizeof("path longer than 999 bytes")];
	const char *host, *host_end, *port, *p;
	size_t hlen;
	long value = 0;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(spec, "unix:", 5) == 0) {
		hlen = strlen(spec + 5);
		if (hlen == 0)
			return "missing path";
		if (hlen >= SUN_PATH_SIZE) {
			snprintf(too_long, sizeof(too_long), "path longer than "
			    "%d bytes", (int)SUN_PATH_SIZE - 1);
			return too_long;
		}
		memcpy(ep->host, spec + 5, hlen + 1);
		ep->local = 1;
		return NULL;
	}
	if (strchr(spec, '/') != NULL)
		return "a path? a Unix-domain socket is unix:PATH";
	if (spec[0] == '[') {
		host = spec + 1;
		host_end = strchr(host, ']');
		if (host_end == NULL)
			return "missing ']' after an IPv6 address";
		if (host_end[1] != ':')
			return "expected ':PORT' after ']'";
		port = host_end + 2;
	} else {
		host = spec;
		host_end = strrchr(spec, ':');
		if (host_end == NULL) {
			if (use == ENDPOINT_CONNECT)
				return "expected HOST:PORT";
			host_end = host;	/* PORT alone */
			port = spec;
		} else {
			if (memchr(host, ':', host_end - host) != NULL)
				return "IPv6 addresses go in brackets, "
				    "as in [::1]:5000";
			port = host_end + 1;
		}
	}
	hlen = host_end - host;
	if (hlen == 0 && port != spec)
		return "missing host before ':'";
	if (hlen > CHAT_HOST_MAX)
		return "host name too long";
	if (*port == '\0')
		return "missing port";
	for (p = port; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			value = value * 10 + (*p - '0');
		if (*p < '0' || *p > '9' || value > 65535 ||
		    (value == 0 && p[1] == '\0' && use == ENDPOINT_CONNECT))
			return use == ENDPOINT_CONNECT ?
			    "port must be a number from 1 to 65535" :
			    "port must be a number from 0 to 65535";
	}
	memcpy(ep->host, host, hlen);
	ep->host[hlen] = '\0';
	while (port[0] == '0' && port[1] != '\0')
		port++;		/* at most 5 digits remain: value <= 65535 */
	memcpy(ep->port, port, strlen(port) + 1);
	return NULL;
}

/* === Display escaping ===================================================== */

/*
 * Valid code points that must not reach the terminal as they are (the
 * README's list): they move the cursor, end the line, reorder the text
 * or show nothing at all, so the peer could use them to pass off text
 * as other than it is. Sorted, for range_holds().
 */
static const struct cp_range unsafe_ranges[] = {
	{ 0x0080, 0x009f },	/* C1 controls: CSI, OSC, NEL... */
	{ 0x061c, 0x061c },	/* Arabic letter mark (bidi) */
	{ 0x115f, 0x1160 },	/* Hangul fillers: blank */
	{ 0x180e, 0x180e },	/* Mongolian vowel separator: invisible */
	{ 0x200b, 0x200f },	/* zero width space, ZWNJ, ZWJ, LRM, RLM */
	{ 0x2028, 0x2029 },	/* line and paragraph separators */
	{ 0x202a, 0x202e },	/* bidi embeddings and overrides */
	{ 0x2060, 0x2064 },	/* word joiner, invisible operators */
	{ 0x2066, 0x2069 },	/* bidi isolates */
	{ 0x206a, 0x206f },	/* deprecated format controls */
	{ 0x3164, 0x3164 },	/* Hangul filler: blank */
	{ 0xfeff, 0xfeff },	/* zero width no-break space (BOM) */
	{ 0xffa0, 0xffa0 },	/* halfwidth Hangul filler: blank */
	{ 0xfff9, 0xfffb },	/* interlinear annotation controls */
	{ 0xe0000, 0xe007f }	/* tags: invisible text */
};

/*
 * The emoji a ZWJ may join (see zwj_joins_emoji()): a few whole blocks,
 * all visible, which hold every code point that stands next to a ZWJ in
 * Unicode's ZWJ sequences (Unicode 17). The skin-tone modifiers
 * U+1F3FB-U+1F3FF are left out: they only modify the emoji before them.
 * Sorted, for range_holds().
 */
static const struct cp_range emoji_ranges[] = {
	{ 0x2190, 0x21ff },	/* arrows: face shaking = 1F642 ZWJ 2194 */
	{ 0x2300, 0x23ff },	/* miscellaneous technical: watch, hourglass */
	{ 0x2600, 0x27bf },	/* symbols, dingbats: heart, gender signs */
	{ 0x2b00, 0x2bff },	/* more symbols: black cat = 1F408 ZWJ 2B1B */
	{ 0x1f000, 0x1f3fa },	/* cards, regional indicators (flags)... */
	{ 0x1f400, 0x1faff }	/* people, animals, objects, faces */
};

/*
 * The length of the valid, shortest-form UTF-8 sequence at s (at most n
 * bytes), storing its code point; 0 if s does not start one.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;	/* bounds of the 2nd byte */
	size_t need, i;
	unsigned long c;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		if (s[0] == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return need + 1;
}

/* Whether cp lies in one of the n ranges r[], sorted by first. */
static int
range_holds(const struct cp_range *r, size_t n, unsigned long cp)
{
	size_t i;

	for (i = 0; i < n && r[i].first <= cp; i++)
		if (cp <= r[i].last)
			return 1;
	return 0;
}

/* Whether a valid code point still must not reach the terminal as is. */
static int
unsafe_code_point(unsigned long cp)
{
	return range_holds(unsafe_ranges,
	    sizeof(unsafe_ranges) / sizeof(unsafe_ranges[0]), cp);
}

/* Whether cp is an emoji that a ZWJ may join (see zwj_joins_emoji()). */
static int
emoji_code_point(unsigned long cp)
{
	return range_holds(emoji_ranges,
	    sizeof(emoji_ranges) / sizeof(emoji_ranges[0]), cp);
}

/*
 * The length of the valid UTF-8 sequence that ends just before s[i],
 * storing its code point; 0 if there is none. It is the code point that
 * display_escape() took there, walking forward: a valid sequence begins
 * with a lead byte, which no sequence before it can have swallowed.
 */
static size_t
utf8_decode_before(const unsigned char *s, size_t i, unsigned long *cp)
{
	size_t k;

	if (i > 0 && s[i - 1] < 0x80) {
		*cp = s[i - 1];
		return 1;
	}
	for (k = 2; k <= 4 && k <= i; k++)
		if (utf8_decode(s + i - k, k, cp) == k)
			return k;
	return 0;
}

/*
 * Whether the ZWJ (U+200D) at s[i] joins two emoji, and so is kept. The
 * family, the rainbow flag and the people at work are emoji joined by
 * ZWJs; with the ZWJs escaped they would fall apart into pieces and
 * backslashes. Anywhere else a ZWJ shows nothing, and could make two
 * different names look the same, so it is escaped. The rule looks at
 * the code points around the ZWJ only:
 *
 *	EMOJI [SKIN TONE] [U+FE0F] ZWJ EMOJI
 *
 * EMOJI is in emoji_ranges[], SKIN TONE is U+1F3FB-U+1F3FF (woman, tone,
 * ZWJ, laptop), and U+FE0F asks for the emoji form (white flag, FE0F,
 * ZWJ, rainbow). Whether Unicode names the whole as a sequence does not
 * matter: every EMOJI is visible, so a ZWJ kept between two hides
 * nothing, and a font without the sequence shows the emoji side by side.
 */
static int
zwj_joins_emoji(const unsigned char *s, size_t len, size_t i)
{
	unsigned long cp = 0;
	size_t n;

	if (len - i <= 3 || utf8_decode(s + i + 3, len - i - 3, &cp) == 0 ||
	    !emoji_code_point(cp))
		return 0;
	n = utf8_decode_before(s, i, &cp);
	if (n > 0 && cp == 0xfe0f) {
		i -= n;
		n = utf8_decode_before(s, i, &cp);
	}
	if (n > 0 && cp >= 0x1f3fb && cp <= 0x1f3ff) {
		i -= n;
		n = utf8_decode_before(s, i, &cp);
	}
	return n > 0 && emoji_code_point(cp);
}

/* Write a backslash, letter, and v in digits lowercase hex digits; returns
 * the bytes written. */
static size_t
escape_hex(char *out, char letter, unsigned long v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	int k;

	out[0] = '\\';
	out[1] = letter;
	for (k = 0; k < digits; k++)
		out[2 + k] = hex[v >> 4 * (digits - 1 - k) & 0xf];
	return 2 + (size_t)digits;
}

/*
 * Show the byte or code point at s[i], which is not printable ASCII, in
 * out (room for CHAT_ESCAPE_UNIT bytes). Sets *used to the bytes of s
 * it stands for; returns the bytes written.
 */
static size_t
escape_unit(char *out, const unsigned char *s, size_t len, size_t i,
    size_t *used)
{
	unsigned long cp = 0;
	size_t n = s[i] < 0x80 ? 0 : utf8_decode(s + i, len - i, &cp);

	*used = n > 0 ? n : 1;
	if (s[i] == '\t') {
		out[0] = '\t';
		return 1;
	}
	if (n == 0)		/* a control byte, or not UTF-8 */
		return escape_hex(out, 'x', s[i], 2);
	if (!unsafe_code_point(cp) ||
	    (cp == 0x200d && zwj_joins_emoji(s, len, i))) {
		memcpy(out, s + i, n);
		return n;
	}
	return cp > 0xffff ? escape_hex(out, 'U', cp, 8) :
	    escape_hex(out, 'u', cp, 4);
}

size_t
display_plain(const char *text, size_t len)
{
	/* Eight bytes at a time: a byte outside 0x20-0x7e sets its high
	 * bit in x itself (0x80 and up), in x - 0x20 (below 0x20: borrow)
	 * or in x + 1 (0x7f). A borrow or carry that spills into the next
	 * byte can only flag a word that holds a bad byte anyway. */
	const uint64_t ones = 0x0101010101010101u, high = ones << 7;
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	uint64_t x;

	for (; len - i >= 8; i += 8) {
		memcpy(&x, s + i, 8);
		if ((x | (x - 0x20 * ones) | (x + ones)) & high)
			break;
	}
	while (i < len && s[i] >= 0x20 && s[i] < 0x7f)
		i++;
	return i;
}

/* Plain ASCII is copied a run at a time, anything else one byte or code
 * point at a time, until the next does not fit. */
size_t
display_escape_some(char *out, size_t outsize, const char *text, size_t len,
    size_t *pos)
{
	const unsigned char *s = (const unsigned char *)text;
	char unit[CHAT_ESCAPE_UNIT], *to;
	size_t i = *pos, o = 0, n, used;

	while (i < len && o < outsize) {
		n = len - i < outsize - o ? len - i : outsize - o;
		n = display_plain(text + i, n);
		memcpy(out + o, text + i, n);
		o += n;
		i += n;
		if (i == len || o == outsize)
			break;
		/* Straight into out when it surely fits, else try it aside. */
		to = outsize - o >= CHAT_ESCAPE_UNIT ? out + o : unit;
		n = escape_unit(to, s, len, i, &used);
		if (n > outsize - o)
			break;
		if (to == unit)
			memcpy(out + o, unit, n);
		o += n;
		i += used;
	}
	*pos = i;
	return o;
}

/* Every byte or code point's escape fits in four bytes per input byte
 * (see CHAT_ESCAPED_MAX), so one call takes all of in. */
size_t
display_escape(char *out, const char *in, size_t len)
{
	size_t pos = 0;

	return display_escape_some(out, CHAT_ESCAPED_MAX(len), in, len, &pos);
}


/* === Hashing: SHA-256 and HMAC-SHA256 ==================================== */

/*
 * For chat/2's proof of a shared secret: SHA-256
 * as FIPS 180-4 specifies it, HMAC as RFC 2104 does, and a comparison
 * whose time does not depend on where two digests differ.
 */

/* The first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes (FIPS 180-4, 4.2.2). */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static uint32_t
rotr32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* One 64-byte block into the state (FIPS 180-4, 6.2.2). */
static void
sha256_block(uint32_t *h, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++, p += 4)
		w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	for (i = 16; i < 64; i++)
		w[i] = (rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^
		    (w[i - 2] >> 10)) + w[i - 7] + (rotr32(w[i - 15], 7) ^
		    rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) +
		    ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void
sha256_init(struct sha256 *s)
{
	/* The fractional parts of the square roots of the first 8 primes. */
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372,
		0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, h0, sizeof(h0));
	s->bytes = 0;
	s->n = 0;
}

void
sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t take;

	s->bytes += len;
	while (len > 0) {
		take = sizeof(s->buf) - s->n < len ? sizeof(s->buf) - s->n : len;
		memcpy(s->buf + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n == sizeof(s->buf)) {
			sha256_block(s->h, s->buf);
			s->n = 0;
		}
	}
}

/* Pad (a 1 bit, zeros, the length in bits, big-endian) and give the
 * digest. */
void
sha256_final(struct sha256 *s, unsigned char *digest)
{
	uint64_t bits = s->bytes * 8;
	int i;

	s->buf[s->n++] = 0x80;
	if (s->n > 56) {
		memset(s->buf + s->n, 0, sizeof(s->buf) - s->n);
		sha256_block(s->h, s->buf);
		s->n = 0;
	}
	memset(s->buf + s->n, 0, 56 - s->n);
	for (i = 0; i < 8; i++)
		s->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_block(s->h, s->buf);
	for (i = 0; i < 32; i++)
		digest[i] = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
	memset(s, 0, sizeof(*s));	/* no trace of the secret left */
}

/* HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || msg)), a key
 * longer than a block hashed first. */
void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    unsigned char *mac)
{
	unsigned char k[SHA256_BLOCK], pad[SHA256_BLOCK];
	unsigned char inner[SHA256_SIZE];
	struct sha256 s;
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k)) {
		sha256_init(&s);
		sha256_update(&s, key, keylen);
		sha256_final(&s, k);
	} else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < sizeof(k); i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, msg, len);
	sha256_final(&s, inner);
	for (i = 0; i < sizeof(k); i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, inner, sizeof(inner));
	sha256_final(&s, mac);
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}

/* Whether a and b (n bytes each) are equal, in a time that depends on n
 * only: a wrong proof must not tell how much of it was right. */
int
equal_in_constant_time(const unsigned char *a, const unsigned char *b,
    size_t n)
{
	unsigned char diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* === chat/2's proofs and lockout ========================================= */

/* n bytes as 2n lowercase hex digits and a NUL. */
static void
hex_encode(char *hex, const unsigned char *b, size_t n)
{
	static const char digit[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digit[b[i] >> 4];
		hex[2 * i + 1] = digit[b[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* Whether len bytes are a nonce or proof: CHAT_HEX_LEN lowercase hex. */
static int
hex_valid(const char *s, size_t len)
{
	size_t i;

	if (len != CHAT_HEX_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

/* Both nonces and the role are in what is signed: a proof answers this
 * connection's challenge only (not a replay), and the listener's proof
 * cannot pass for the connector's (not a reflection). */
void
chat_proof(const unsigned char *secret, size_t secretlen, const char *role,
    const char *nonce_l, const char *nonce_c, char *hex)
{
	char msg[sizeof("chat/2 connector ") + (size_t)2 * (CHAT_HEX_LEN + 1)];
	unsigned char mac[SHA256_SIZE];
	int n;

	n = snprintf(msg, sizeof(msg), "chat/2 %s %s %s", role, nonce_l,
	    nonce_c);
	if (n < 0 || (size_t)n >= sizeof(msg))	/* not a role and two nonces */
		n = 0;
	hmac_sha256(secret, secretlen, msg, (size_t)n, mac);
	hex_encode(hex, mac, sizeof(mac));
}

/* source's entry in lo, or NULL. */
static struct lockout_entry *
lockout_find(const struct lockout *lo, const unsigned char *source)
{
	size_t i;

	for (i = 0; i < lo->n; i++)
		if (memcmp(lo->e[i].source, source, CHAT_SOURCE_LEN) == 0)
			return (struct lockout_entry *)&lo->e[i];
	return NULL;
}

long long
lockout_fail(struct lockout *lo, const unsigned char *source, long long now,
    long long block_ms)
{
	struct lockout_entry *e = lockout_find(lo, source);
	size_t i;

	if (e == NULL) {
		if (lo->n < CHAT_LOCKOUT_MAX)
			e = &lo->e[lo->n++];
		else {	/* full: forget the source quiet the longest */
			e = &lo->e[0];
			for (i = 1; i < lo->n; i++)
				if (lo->e[i].last < e->last)
					e = &lo->e[i];
		}
		memcpy(e->source, source, CHAT_SOURCE_LEN);
		for (i = 0; i < CHAT_LOCKOUT_TRIES; i++)
			e->fails[i] = -1;
		e->until = -1;
	}
	memmove(e->fails + 1, e->fails, sizeof(e->fails) - sizeof(e->fails[0]));
	e->fails[0] = e->last = now;
	if (e->fails[CHAT_LOCKOUT_TRIES - 1] < 0 ||
	    now - e->fails[CHAT_LOCKOUT_TRIES - 1] >= CHAT_LOCKOUT_SECS * 1000LL)
		return -1;
	/* Blocked: its failures so far are spent. */
	for (i = 0; i < CHAT_LOCKOUT_TRIES; i++)
		e->fails[i] = -1;
	e->until = now + block_ms;
	return e->until;
}

long long
lockout_left(const struct lockout *lo, const unsigned char *source,
    long long now)
{
	const struct lockout_entry *e = lockout_find(lo, source);

	return e == NULL || e->until <= now ? 0 : e->until - now;
}

/* === Terminal ============================================================= */

/* Remember the terminal's settings, if stdin is one, to restore later. */
static void
term_init(int fd)
{
	if (isatty(fd) && tcgetattr(fd, &term_saved) == 0)
		term_fd = fd;
}

/*
 * While it is not our turn: no echo, so typing cannot garble the peer's
 * lines, and no line editing, so that FIONREAD counts every key typed.
 * Ctrl-C still interrupts.
 */
static void
term_quiet(void)
{
	struct termios t;

	if (term_fd < 0 || term_editing)
		return;
	t = term_saved;
	t.c_lflag &= ~(ECHO | ICANON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(term_fd, TCSANOW, &t);
}

/* Our turn: the user's own settings back, and what was typed meanwhile
 * thrown away (and said so). */
static void
term_cooked(struct chat *c)
{
	int pending = 0;

	if (term_fd < 0 || term_editing)
		return;
	if (ioctl(term_fd, FIONREAD, &pending) < 0)
		pending = 0;
	tcsetattr(term_fd, TCSAFLUSH, &term_saved);
	if (pending > 0)
		say(c, SAY_STATUS, "Ignored input typed during their turn.");
}

/*
 * The line editor's mode, for the whole run: no echo, no line editing of
 * the terminal's own, CR as it comes (a pasted CR LF is one line break);
 * keys still send signals (Ctrl-C, Ctrl-Z), and output is as before.
 */
static void
term_raw(void)
{
	struct termios t;

	if (term_fd < 0)
		return;
	t = term_saved;
	t.c_iflag &= ~(ICRNL | INLCR | IGNCR);
	t.c_lflag &= ~(ECHO | ICANON | IEXTEN);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(term_fd, TCSANOW, &t);
}

static void
term_restore(void)
{
	if (term_fd >= 0)
		tcsetattr(term_fd, TCSANOW, &term_saved);
}

/* === Line editor ========================================================== */

/*
 * On a terminal (stdin and stderr) with a TERM other than "dumb", chat
 * reads keys itself, in raw mode for its whole run, and keeps one input
 * line at the bottom: a prompt that says whose turn it is, then what is
 * being typed, scrolled sideways when it is wider than the terminal.
 * Whatever else is written (a message, a status line) first clears that
 * line and then draws it again below. A finished line (Enter, or a line
 * break in a paste) goes into c->in, the same queue a script's lines go
 * into, and is sent when our turn comes; a typed QUIT or Ctrl-D on an
 * empty line ends the conversation at once. Only a handful of VT100
 * sequences are used: CR, erase to end of line, cursor right.
 */

/* Whether the editor is for this chat: stdin and stderr are one user's
 * terminal, and TERM names one that knows VT100's few sequences. */
static int
ed_wanted(const struct chat *c)
{
	const char *term = getenv("TERM");

	return c->in_tty && term != NULL && term[0] != '\0' &&
	    strcmp(term, "dumb") != 0 && isatty(c->err.fd);
}

/* Columns of the code point cp on the terminal: wcwidth(), 0 for a
 * control or combining character, -1 where the C library does not know
 * (every non-ASCII code point in the C locale). */
static int
ed_cp_width(unsigned long cp)
{
	if (cp < 0x80)
		return cp >= 0x20 && cp != 0x7f ? 1 : 0;
	return wcwidth((wchar_t)cp);
}

/* The length of the character at s (n bytes left), and its columns in
 * the input line: one for what the C library does not know. */
static size_t
ed_char(const char *s, size_t n, int *width)
{
	unsigned long cp;
	size_t len = utf8_decode((const unsigned char *)s, n, &cp);

	if (len == 0) {		/* ASCII, or a stray byte: one column */
		*width = (unsigned char)s[0] >= 0x80 ||
		    ed_cp_width((unsigned char)s[0]) || s[0] == '\t' ? 1 : 0;
		return 1;
	}
	*width = ed_cp_width(cp);
	if (*width < 0)
		*width = 1;
	return len;
}

/*
 * The same for a peer's text, where the count decides what begins a row:
 * too many is safe and too few is not. So 2 for what the C library does
 * not know, and 1 for U+FE0F, which can make the emoji before it wide.
 */
static size_t
show_char(const char *s, size_t n, int *width)
{
	unsigned long cp;
	size_t len = utf8_decode((const unsigned char *)s, n, &cp);

	if (len == 0)
		return ed_char(s, n, width);
	*width = cp == 0xfe0f ? 1 : ed_cp_width(cp);
	if (*width < 0)
		*width = 2;
	return len;
}

/* The columns that bytes [from, to) of the line take. */
static size_t
ed_width(const char *s, size_t from, size_t to)
{
	size_t w = 0;
	int cw;

	while (from < to) {
		from += ed_char(s + from, to - from, &cw);
		w += (size_t)cw;
	}
	return w;
}

/* The byte offset of the character before pos: a UTF-8 sequence that
 * ends there, or else the one byte (a stray byte is a character too). */
static size_t
ed_before(const char *s, size_t pos)
{
	size_t p = pos;
	int cw;

	if (pos == 0)
		return 0;
	while (p > 0 && pos - p < 4 && ((unsigned char)s[--p] & 0xc0) ==
	    0x80)
		continue;
	return ed_char(s + p, pos - p, &cw) == pos - p ? p : pos - 1;
}

/* The byte offset of the character after pos (len: the line's end). */
static size_t
ed_after(const char *s, size_t len, size_t pos)
{
	int cw;

	return pos < len ? pos + ed_char(s + pos, len - pos, &cw) : len;
}

/* How many finished lines wait in c->in for our turn. */
static unsigned
ed_queued(const struct chat *c)
{
	const char *p = c->in.data + c->in.start;
	const char *end = c->in.data + c->in.len;
	unsigned n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* The prompt: whose turn it is, and how many lines wait. */
static const char *
ed_prompt(const struct chat *c, char *buf, size_t size)
{
	unsigned queued = ed_queued(c);

	if (c->peer == NULL)
		return PROMPT_IDLE;
	if (c->peer->state == CONN_OURS)
		return PROMPT;
	if (c->peer->their_name[0] == '\0' && queued == 0)
		return PROMPT_THEIRS;
	if (c->peer->their_name[0] == '\0')
		snprintf(buf, size, PROMPT_THEIRS_QUEUED, queued);
	else if (queued == 0)
		snprintf(buf, size, PROMPT_NAMED, c->peer->their_name);
	else
		snprintf(buf, size, PROMPT_NAMED_QUEUED, c->peer->their_name,
		    queued);
	return buf;
}

/* Terminal width, from stderr (where the editor draws) and stdout. */
static void
ed_size(struct chat *c)
{
	struct winsize ws;

	c->ed->cols = ioctl(c->err.fd, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
	c->out_cols = c->out_tty && ioctl(c->out.fd, TIOCGWINSZ, &ws) == 0 ?
	    ws.ws_col : 0;
}

/*
 * Draw the input line: CR, the prompt, as much of the line around the
 * cursor as fits, erase the rest of the row, CR, and move the cursor
 * right to its place. One write.
 */
static void
ed_refresh(struct chat *c)
{
	struct editor *e = c->ed;
	char out[ED_DRAW_MAX], pbuf[PROMPT_MAX];
	const char *prompt = ed_prompt(c, pbuf, sizeof(pbuf));
	size_t plen, pw, start = 0, end, n = 0, w, room;
	int cw;

	if (stop_signal || c->local_gone)
		return;
	/* Room for the text: the row less the prompt and the cursor's
	 * own column; a terminal that reports no width gets 80. A row
	 * narrower than the prompt cuts it, between two characters (a
	 * peer's name may be wide ones). */
	room = (e->cols > 0 ? (size_t)e->cols : 80);
	for (plen = 0, pw = 0; prompt[plen] != '\0'; plen += n) {
		n = ed_char(prompt + plen, strlen(prompt + plen), &cw);
		if (pw + (size_t)cw + 2 > room)
			break;
		pw += (size_t)cw;
	}
	room = room > pw + 1 ? room - pw - 1 : 1;
	/* Back from the cursor while the characters fit, then on. */
	for (start = e->pos, w = 0; start > 0; start = n) {
		n = ed_before(e->line, start);
		ed_char(e->line + n, start - n, &cw);
		if (w + (size_t)cw > room)
			break;
		w += (size_t)cw;
	}
	for (end = start, w = 0; end < e->len; end += n) {
		n = ed_char(e->line + end, e->len - end, &cw);
		if (w + (size_t)cw > room)
			break;
		w += (size_t)cw;
	}
	n = 0;
	if (!e->paste_on) {	/* (after the first status line) */
		memcpy(out, PASTE_ON, sizeof(PASTE_ON) - 1);
		n = sizeof(PASTE_ON) - 1;
		e->paste_on = 1;
	}
	n += (size_t)snprintf(out + n, sizeof(out) - n, "\r%.*s", (int)plen,
	    prompt);
	if (end - start > sizeof(out) - n - 32) {	/* very wide rows */
		end = start + sizeof(out) - n - 32;
		while (end > start && ((unsigned char)e->line[end] & 0xc0) ==
		    0x80)
			end--;	/* not inside a character */
	}
	memcpy(out + n, e->line + start, end - start);
	for (w = n; w < n + (end - start); w++)
		if (out[w] == '\t')
			out[w] = ' ';	/* one column, as counted */
	n += end - start;
	n += (size_t)snprintf(out + n, sizeof(out) - n, "\x1b[0K\r");
	w = pw + ed_width(e->line, start, e->pos);
	if (w > 0)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "\x1b[%zuC",
		    w);
	err_write(c, out, n, 1);
	snprintf(e->drawn, sizeof(e->drawn), "%s", prompt);
	e->shown = 1;
	e->dirty = 0;
}

/* Clear the input line, so that other output takes its row; wait: as
 * err_write(). */
static void
ed_hide(struct chat *c, int wait)
{
	if (c->ed == NULL || !c->ed->shown)
		return;
	c->ed->shown = 0;
	err_write(c, ED_CLEAR, sizeof(ED_CLEAR) - 1, wait);
}

/* Before a wait: draw the input line if it is hidden, was edited, or its
 * prompt is out of date (the turn changed, a line was queued). */
static void
ed_update(struct chat *c)
{
	char pbuf[PROMPT_MAX];

	if (c->ed == NULL)
		return;
	if (!c->ed->shown || c->ed->dirty || strcmp(c->ed->drawn,
	    ed_prompt(c, pbuf, sizeof(pbuf))) != 0)
		ed_refresh(c);
}

/* A line of ours goes out: it stays on screen after the prompt of our
 * turn, as a terminal's own echo would have left it. */
static void
ed_sent(struct chat *c, const char *line, size_t len)
{
	struct iovec iov[3] = {
		{ PROMPT, sizeof(PROMPT) - 1 },
		{ (void *)line, len },
		{ "\n", 1 }
	};

	if (c->ed == NULL)
		return;
	ed_hide(c, 1);
	io_write_all(c, c->err.fd, c->err.kind, iov, 3, -1);
}

/* Remember a line we sent, for Up and Down; the oldest go first. */
static void
ed_remember(struct editor *e, const char *line, size_t len)
{
	char *copy;

	if (len == 0 || (e->hist_n > 0 &&
	    strlen(e->history[e->hist_n - 1]) == len &&
	    memcmp(e->history[e->hist_n - 1], line, len) == 0))
		return;
	while (e->hist_n > 0 && (e->hist_n == HISTORY_MAX ||
	    e->hist_bytes + len > HISTORY_BYTES)) {
		e->hist_bytes -= strlen(e->history[0]);
		free(e->history[0]);
		memmove(e->history, e->history + 1,
		    --e->hist_n * sizeof(e->history[0]));
	}
	if (len > HISTORY_BYTES || (copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, line, len);
	copy[len] = '\0';
	e->history[e->hist_n++] = copy;
	e->hist_bytes += len;
	e->browse = e->hist_n;
}

/* Up (-1) or Down (+1) through the history; below the newest is the
 * line that was being typed, kept in draft. */
static void
ed_browse(struct editor *e, int dir)
{
	const char *text;
	size_t next;

	if ((dir < 0 && e->browse == 0) || (dir > 0 &&
	    e->browse >= e->hist_n))
		return;
	if (e->browse == e->hist_n) {	/* leaving the line being typed */
		memcpy(e->draft, e->line, e->len);
		e->draft_len = e->len;
	}
	next = dir < 0 ? e->browse - 1 : e->browse + 1;
	if (next == e->hist_n) {
		memcpy(e->line, e->draft, e->draft_len);
		e->len = e->draft_len;
	} else {
		text = e->history[next];
		e->len = strlen(text);
		memcpy(e->line, text, e->len);
	}
	e->browse = next;
	e->pos = e->len;
}

/* Insert n bytes at the cursor; beyond what the editor holds, say so
 * (once a line) and keep the line as it is. */
static void
ed_insert(struct chat *c, const char *s, size_t n)
{
	struct editor *e = c->ed;

	if (e->len + n > ED_LINE_MAX) {
		if (!e->refused) {
			ed_hide(c, 1);
			say(c, SAY_STATUS, "The line is full (%zu bytes): the "
			    "rest is not taken.", ED_LINE_MAX);
		}
		e->refused = 1;
		return;
	}
	memmove(e->line + e->pos + n, e->line + e->pos, e->len - e->pos);
	memcpy(e->line + e->pos, s, n);
	e->pos += n;
	e->len += n;
}

/* Delete bytes [from, to) of the line. */
static void
ed_delete(struct editor *e, size_t from, size_t to)
{
	memmove(e->line + from, e->line + to, e->len - to);
	e->len -= to - from;
	if (e->pos > to)
		e->pos -= to - from;
	else if (e->pos > from)
		e->pos = from;
}

/* Drop the lines queued for our turns (Ctrl-G, or their conversation
 * is over), and say so: they were shown, counted in the prompt. */
static void
ed_drop_queue(struct chat *c)
{
	unsigned queued = ed_queued(c);

	if (queued == 0)
		return;
	say(c, SAY_STATUS, "Dropped %u queued message%s.", queued,
	    queued == 1 ? "" : "s");
	linebuf_init(&c->in, c->in_data, sizeof(c->in_data), CHAT_TEXT_MAX);
}

/* What typing QUIT, or Ctrl-D on an empty line (eof), does: end the
 * conversation at once, and with Ctrl-D the input too; an idle
 * listener stops. */
static void
ed_end(struct chat *c, int eof)
{
	ed_drop_queue(c);
	c->ed->ended = 1;	/* the keys after it are not taken */
	if (eof || c->peer == NULL)
		c->in_eof = 1;
	if (c->peer == NULL)
		return;
	say(c, SAY_STATUS, "You ended the conversation.");
	if (c->peer->state != CONN_HELLO)
		chat_quit(c, CHAT_EXIT_OK, NULL);
	else	/* a connector before the HELLOs: it said nothing yet */
		conn_end(c, c->peer, CHAT_EXIT_OK, END_CLOSE);
}

/* A line is finished (Enter, or a line break in a paste): queue it for
 * our turn, unless it is a typed QUIT, which ends the conversation now. */
static void
ed_enter(struct chat *c, int pasted)
{
	struct editor *e = c->ed;
	size_t room;
	char *space;

	e->refused = 0;
	if (!pasted && e->len == 4 && memcmp(e->line, "QUIT", 4) == 0) {
		e->len = e->pos = 0;
		ed_end(c, 0);
		return;
	}
	if (e->len > CHAT_TEXT_MAX) {	/* kept, to be cut down */
		ed_hide(c, 1);
		say(c, SAY_STATUS, "Not sent: %zu bytes is too long (a message "
		    "holds %d at most).", e->len, CHAT_TEXT_MAX);
		return;
	}
	space = linebuf_space(&c->in, &room);
	if (room < e->len + 1) {
		ed_hide(c, 1);
		say(c, SAY_STATUS, "Too much is waiting to be sent: this "
		    "line is kept.");
		return;
	}
	memcpy(space, e->line, e->len);
	space[e->len] = '\n';
	linebuf_fill(&c->in, e->len + 1);
	ed_remember(e, e->line, e->len);
	e->len = e->pos = 0;
	e->browse = e->hist_n;
}

/* The end of an escape sequence: CSI (ESC [ params final) or SS3
 * (ESC O final). */
static void
ed_escape(struct chat *c, const char *seq, size_t n)
{
	struct editor *e = c->ed;
	char fin = seq[n - 1];

	if (e->pasting) {	/* pasted text holds no keys: only its end */
		e->pasting = !(n == 6 && memcmp(seq, "\x1b[201~", 6) == 0);
		return;
	}
	if (seq[2] == '[')	/* F1-F5 of the Linux console */
		return;
	if (n == 3 || (seq[1] == '[' && (fin == 'H' || fin == 'F' ||
	    fin == 'A' || fin == 'B' || fin == 'C' || fin == 'D'))) {
		switch (fin) {
		case 'A': ed_browse(e, -1); break;
		case 'B': ed_browse(e, 1); break;
		case 'C':
			e->pos = ed_after(e->line, e->len, e->pos);
			break;
		case 'D': e->pos = ed_before(e->line, e->pos); break;
		case 'H': e->pos = 0; break;
		case 'F': e->pos = e->len; break;
		}
		return;
	}
	if (fin != '~')
		return;
	if (n == 6 && memcmp(seq, "\x1b[200~", 6) == 0)
		e->pasting = 1;
	else if (n == 6 && memcmp(seq, "\x1b[201~", 6) == 0)
		e->pasting = 0;
	else if (n == 4 && (seq[2] == '1' || seq[2] == '7'))
		e->pos = 0;
	else if (n == 4 && (seq[2] == '4' || seq[2] == '8'))
		e->pos = e->len;
	else if (n == 4 && seq[2] == '3')
		ed_delete(e, e->pos, ed_after(e->line, e->len, e->pos));
}

/* One byte from the terminal. */
static void
ed_byte(struct chat *c, unsigned char b)
{
	struct editor *e = c->ed;
	size_t from;

	if (e->discarding) {	/* a sequence too long for key[] */
		e->discarding = b < 0x40 || b > 0x7e;
		return;
	}
	if (e->keylen == 1 && b == 0x1b)
		return;		/* ESC ESC ...: Alt and a key, as the key */
	if (e->keylen > 0 || b == 0x1b) {	/* an escape sequence */
		e->key[e->keylen++] = (char)b;
		if (e->keylen == 3 && e->key[1] == '[' && b == '[')
			return;	/* the Linux console's ESC [ [ A (F1) */
		if (e->keylen >= 3 && (e->key[1] == 'O' ||
		    (b >= 0x40 && b <= 0x7e))) {
			ed_escape(c, e->key, e->keylen);
			e->keylen = 0;
		} else if (e->keylen == 2 && b != '[' && b != 'O')
			e->keylen = 0;	/* an Alt-key: not ours */
		else if (e->keylen == sizeof(e->key)) {
			e->keylen = 0;	/* no key of ours is this long */
			e->discarding = 1;
		}
		return;
	}
	if (b == '\n' && e->after_cr) {	/* CR LF: one line break */
		e->after_cr = 0;
		return;
	}
	e->after_cr = b == '\r';
	if (b == '\r' || b == '\n') {
		ed_enter(c, e->pasting);
		return;
	}
	if (e->pasting) {	/* text, as it comes: no key is a command */
		if ((b >= 0x20 && b != 0x7f) || b == '\t')
			ed_insert(c, (const char *)&b, 1);
		return;
	}
	switch (b) {
	case 0x01: e->pos = 0; break;				/* Ctrl-A */
	case 0x02: e->pos = ed_before(e->line, e->pos); break;	/* Ctrl-B */
	case 0x04:						/* Ctrl-D */
		if (e->len == 0)
			ed_end(c, 1);
		else
			ed_delete(e, e->pos, ed_after(e->line, e->len,
			    e->pos));
		break;
	case 0x05: e->pos = e->len; break;			/* Ctrl-E */
	case 0x06:						/* Ctrl-F */
		e->pos = ed_after(e->line, e->len, e->pos);
		break;
	case 0x07: ed_drop_queue(c); break;			/* Ctrl-G */
	case 0x08: case 0x7f:					/* Backspace */
		if (e->pos > 0)
			ed_delete(e, ed_before(e->line, e->pos), e->pos);
		break;
	case 0x0b: e->len = e->pos; break;			/* Ctrl-K */
	case 0x0c: ed_hide(c, 1); break;	/* Ctrl-L: drawn again below */
	case 0x0e: ed_browse(e, 1); break;			/* Ctrl-N */
	case 0x10: ed_browse(e, -1); break;			/* Ctrl-P */
	case 0x15: ed_delete(e, 0, e->pos); break;		/* Ctrl-U */
	case 0x17:						/* Ctrl-W */
		from = e->pos;
		while (from > 0 && e->line[from - 1] == ' ')
			from--;
		while (from > 0 && e->line[from - 1] != ' ')
			from--;
		ed_delete(e, from, e->pos);
		break;
	default:
		if (b >= 0x20 || b == '\t')
			ed_insert(c, (const char *)&b, 1);
		break;
	}
}

/* Keys arrived: take them all, then draw the line once. */
static void
ed_input(struct chat *c, const char *keys, size_t n)
{
	size_t i;

	c->ed->ended = 0;
	for (i = 0; i < n && !c->ed->ended; i++)
		ed_byte(c, (unsigned char)keys[i]);
	c->ed->dirty = 1;
}

/* The editor for this chat, if it wants one: raw mode on the terminal
 * (signals still from the keys), bracketed paste on, the line drawn. */
static void
ed_open(struct chat *c)
{
	if (!ed_wanted(c) ||
	    (c->ed = calloc(1, sizeof(*c->ed))) == NULL)
		return;
	setlocale(LC_CTYPE, "");
	c->out_tty = isatty(c->out.fd);
	term_editing = 1;
	term_raw();
	ed_size(c);
	signal_catch(SIGWINCH, 1);
	signal_catch(SIGTSTP, 0);
}

/* Ctrl-Z: the terminal as it was, until fg; then raw again, redrawn. */
static void
ed_suspend(struct chat *c)
{
	ed_hide(c, 1);
	if (c->ed->paste_on)
		err_write(c, PASTE_OFF, sizeof(PASTE_OFF) - 1, 1);
	c->ed->paste_on = 0;
	term_restore();
	signal_stop_self();
	term_raw();
	ed_size(c);
	c->ed->dirty = 1;
}

/*
 * A conversation is over: lines still queued for it are dropped, and
 * said so, since they were written for that peer; a listener that goes
 * on says it waits for the next.
 */
static void
ed_over(struct chat *c)
{
	ed_drop_queue(c);
	if (c->listening && !chat_done(c))
		say(c, SAY_STATUS, "Waiting for the next peer.");
}

/* Leave the terminal as it was: the input line cleared, bracketed paste
 * off (the caller restores the settings). Written without waiting. */
static void
ed_close(struct chat *c)
{
	size_t i;

	if (c->ed == NULL)
		return;
	if (c->ed->shown)
		err_write(c, ED_CLEAR, sizeof(ED_CLEAR) - 1, 0);
	if (c->ed->paste_on)
		err_write(c, PASTE_OFF, sizeof(PASTE_OFF) - 1, 0);
	for (i = 0; i < c->ed->hist_n; i++)
		free(c->ed->history[i]);
	free(c->ed);
	c->ed = NULL;
}

/* === Signals and start-up ================================================ */

/* Only note the signal: the loop acts on it (see the rule at the top). */
static void
on_signal(int sig)
{
	if (sig == SIGCONT)
		resumed = 1;
	else if (sig == SIGWINCH)
		resized = 1;
	else if (sig == SIGTSTP)
		suspended = 1;
	else if (stop_signal == 0)
		stop_signal = sig;
}

/*
 * SIGPIPE is ignored: a vanished peer or reader is an error to report,
 * not a death. The caught signals stay blocked except where the rule at
 * the top lets them in (a blocked SIGCONT still continues the process).
 */
/*
 * Catch sig with on_signal(), blocked but where chat waits (the rule at
 * the top). One ignored when we start stays so, as nohup and a shell
 * starting a background job mean it (unless always is set).
 */
static void
signal_catch(int sig, int always)
{
	struct sigaction sa, old;
	sigset_t block;

	if (!always && sigaction(sig, NULL, &old) == 0 &&
	    old.sa_handler == SIG_IGN)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: end the wait */
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, sig);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigdelset(&wait_mask, sig);
}

/*
 * Ctrl-Z with the line editor (SIGTSTP is caught then): leave the
 * terminal as the shell wants it, stop as SIGTSTP would, and take the
 * terminal back on SIGCONT. (Without the editor SIGTSTP stops chat
 * itself, and SIGCONT sets the terminal up again.)
 */
static void
signal_stop_self(void)
{
	struct sigaction sa, old;
	sigset_t tstp;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTSTP, &sa, &old);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	kill(getpid(), SIGTSTP);	/* pending while blocked; */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);	/* here it stops us */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	sigaction(SIGTSTP, &old, NULL);
}

void
chat_signals_init(void)
{
	static const int caught[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigprocmask(SIG_BLOCK, NULL, &wait_mask);
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		signal_catch(caught[i], 0);
	signal_catch(SIGCONT, 1);
}

/*
 * Open /dev/null on a closed fd 0, 1 or 2, so that a socket can never
 * become "stdout" and a closed stdin (<&-) reads as end of input.
 */
static void
stdfds_init(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			exit(CHAT_EXIT_IO);
}

/* A positive number of seconds up to TIMEOUT_MAX_SECS, as milliseconds. */
static int
parse_seconds(const char *arg, long long *ms)
{
	char *end;
	long secs;

	errno = 0;
	secs = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || secs < 1 ||
	    secs > TIMEOUT_MAX_SECS)
		return -1;
	*ms = secs * 1000LL;
	return 0;
}

/*
 * The shared secret into buf (size bytes at most; buf holds one more):
 * the first line of path (its CR LF or LF not included), or else
 * CHAT_SECRET. A file that
 * group or others may use is refused, as ssh refuses such a key: the
 * secret is only as secret as the file. Returns its length, 0 for none,
 * or -1 after an error line.
 */
static ssize_t
secret_load(const char *path, unsigned char *buf, size_t size)
{
	const char *env = getenv("CHAT_SECRET");
	struct stat st;
	ssize_t n, len = 0;
	unsigned char *lf;
	int fd;

	if (path == NULL && env == NULL)
		return 0;
	if (path == NULL) {
		len = (ssize_t)strlen(env);
		if (len == 0 || (size_t)len > size) {
			fprintf(stderr, "chat: CHAT_SECRET: %s\n", len == 0 ?
			    "empty" : "too long (1024 bytes at most)");
			return -1;
		}
		memcpy(buf, env, (size_t)len);
		return len;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0) {
		fprintf(stderr, "chat: secret file %s: %s\n", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		fprintf(stderr, "chat: secret file %s: group or others may "
		    "read or write it (mode %04o): chmod 600 it\n", path,
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	/* Up to the first LF, or one byte past the limit (buf holds it),
	 * or the end. */
	while ((size_t)len <= size && memchr(buf, '\n', (size_t)len) == NULL &&
	    (n = read(fd, buf + len, size + 1 - (size_t)len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "chat: secret file %s: %s\n", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		len += n;
	}
	close(fd);
	if ((lf = memchr(buf, '\n', (size_t)len)) != NULL)
		len = lf - buf;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || (size_t)len > size) {
		fprintf(stderr, "chat: secret file %s: its first line is %s\n",
		    path, len == 0 ? "empty" : "too long (1024 bytes at most)");
		return -1;
	}
	return len;
}

/*
 * --port-file: text (the port, or a socket's path, and LF) in path, for a
 * script waiting on it. A FIFO is written as it is and left open in *fifo
 * (a reader that has not opened it yet still finds the line: no polling).
 * Anything else is written under a temporary name and renamed into place,
 * so that nobody reads it half-written, with a mode that follows the
 * umask; *st says which file it is, for file_remove(). Returns 0, or -1
 * with errno.
 */
static int
port_file_write(const char *path, const char *text, int *fifo,
    struct stat *st)
{
	char tmp[PORT_FILE_MAX];
	size_t len = strlen(text);
	mode_t mask;
	int fd, err, ok;

	if (stat(path, st) == 0 && S_ISFIFO(st->st_mode)) {
		if ((*fifo = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
			return -1;
		return write(*fifo, text, len) == (ssize_t)len ? 0 : -1;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0)
		return -1;
	mask = umask(0);
	umask(mask);
	ok = fchmod(fd, 0666 & ~mask) == 0 &&
	    write(fd, text, len) == (ssize_t)len && fstat(fd, st) == 0;
	err = errno;
	if (close(fd) < 0 && ok) {	/* (NFS reports some errors here) */
		ok = 0;
		err = errno;
	}
	if (ok && rename(tmp, path) == 0)
		return 0;
	if (ok)
		err = errno;
	unlink(tmp);
	errno = err;
	return -1;
}

/* --port-file path once listening on fd: its port, or ep's socket path,
 * and LF; as port_file_write(). */
static int
port_file_listening(const char *path, int fd, const struct endpoint *ep,
    int *fifo, struct stat *st)
{
	char text[CHAT_HOST_MAX + 2], port[sizeof("65535")];

	if (ep->local)
		snprintf(text, sizeof(text), "%s\n", ep->host);
	else if (net_port(fd, port) == 0)
		snprintf(text, sizeof(text), "%s\n", port);
	else
		return -1;
	return port_file_write(path, text, fifo, st);
}

/* Remove path if it is still the file st describes: not one that took its
 * place since (another listener's). */
static void
file_remove(const char *path, const struct stat *st)
{
	struct stat now;

	if (stat(path, &now) == 0 && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino)
		unlink(path);
}

/* === Network ============================================================== */

/* "ADDR:PORT" of a socket address, IPv6 in brackets, mapped IPv4 plain. */
static void
net_name(const struct sockaddr *sa, socklen_t salen, char *name, size_t size)
{
	char host[HOST_NUM_MAX], port[sizeof("65535")];
	const char *h = host;

	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(name, size, "?");
		return;
	}
	if (strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, ':') == NULL)
		h = host + 7;	/* an IPv4 peer of a dual-stack listener */
	if (strchr(h, ':') != NULL)
		snprintf(name, size, "[%s]:%s", h, port);
	else
		snprintf(name, size, "%s:%s", h, port);
}

/*
 * The source a peer's connection on fd counts against: its IPv4 address,
 * or its IPv6 /64 (one host commonly holds a whole /64); an IPv4 peer of
 * a dual-stack listener counts as IPv4. On a Unix-domain socket, its user.
 */
static void
net_source(const struct sockaddr_storage *ss, int fd, unsigned char *key)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	uint32_t uid;

	memset(key, 0, CHAT_SOURCE_LEN);
	if (ss->ss_family == AF_UNIX) {
		key[0] = 1;
		uid = (uint32_t)compat_peer_uid(fd);	/* -1: all unknown */
		memcpy(key + 1, &uid, sizeof(uid));
	} else if (ss->ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, sin6->sin6_addr.s6_addr + 12, 4);
	} else if (ss->ss_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
	}
}

/* A source key as shown: an IPv4 address, an IPv6 /64, or "uid N". */
static void
net_source_name(const unsigned char *key, char *name, size_t size)
{
	unsigned char a[16];
	char host[INET6_ADDRSTRLEN];
	uint32_t uid;

	if (key[0] == 1) {
		memcpy(&uid, key + 1, sizeof(uid));
		if (uid == UINT32_MAX)
			snprintf(name, size, "an unknown user");
		else
			snprintf(name, size, "uid %lu", (unsigned long)uid);
		return;
	}
	memset(a, 0, sizeof(a));
	memcpy(a, key + 1, key[0] == 4 ? 4 : 8);
	if (inet_ntop(key[0] == 4 ? AF_INET : AF_INET6, a, host,
	    sizeof(host)) == NULL)
		snprintf(name, size, "?");
	else
		snprintf(name, size, "%s%s", host, key[0] == 4 ? "" : "/64");
}

/*
 * No Nagle on TCP: every message goes at once. (Sockets are made
 * non-blocking and close-on-exec where they are created, with no extra
 * system call.)
 */
static void
net_tune(int fd, int family)
{
	int one = 1;

	if (family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ep, a Unix-domain socket's path, as getaddrinfo() would give it. */
static void
net_unix_addr(const struct endpoint *ep, struct addrinfo *ai,
    struct sockaddr_un *sa)
{
	memset(ai, 0, sizeof(*ai));
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, ep->host, strlen(ep->host) + 1);
	ai->ai_family = AF_UNIX;
	ai->ai_socktype = SOCK_STREAM;
	ai->ai_addr = (struct sockaddr *)sa;
	ai->ai_addrlen = sizeof(*sa);
}

/*
 * Whether the file at sa's path is a socket left by a listener that is
 * gone: nobody accepts on it. Anything else there (a live listener's
 * socket, a file that is no socket) is never taken. Keeps errno.
 */
static int
net_unix_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, stale, err = errno;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    (fd = compat_socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		errno = err;
		return 0;
	}
	stale = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 &&
	    errno == ECONNREFUSED;
	close(fd);
	errno = err;
	return stale;
}

/*
 * A listening socket for ai, port (network order) in place of ai's when
 * not 0. An IPv6 socket takes IPv4 peers too where dual (*dual is set to
 * whether it does), else IPv6 alone. Returns it, or -1 with errno.
 */
static int
net_bind(const struct addrinfo *ai, in_port_t port, int *dual)
{
	struct sockaddr_storage ss;
	int fd, one = 1, err;

	if ((fd = compat_socket(ai->ai_family, ai->ai_socktype,
	    ai->ai_protocol)) < 0)
		return -1;
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (port != 0 && ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = port;
	else if (port != 0)
		((struct sockaddr_in *)&ss)->sin_port = port;
	/* A restarted listener must not wait out TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6 && dual != NULL)
		*dual = compat_dual_stack(fd) == 0;
	else if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == 0 &&
	    listen(fd, LISTEN_BACKLOG) == 0)
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/*
 * Listen on every address: the IPv6 wildcard with IPv4 mapped in, in one
 * socket; where IPv6 cannot map IPv4 (OpenBSD), the IPv4 wildcard in a
 * second socket on the same port. Returns how many sockets (fds[0],
 * fds[1]), or 0 with errno.
 */
static int
net_listen_any(const struct addrinfo *res, int *fds)
{
	const struct addrinfo *v6 = res, *v4 = res;
	struct sockaddr_in6 sin6;
	socklen_t len;
	int dual = 0, tries, err;

	while (v6 != NULL && v6->ai_family != AF_INET6)
		v6 = v6->ai_next;
	while (v4 != NULL && v4->ai_family != AF_INET)
		v4 = v4->ai_next;
	if (v6 == NULL) {
		errno = EAFNOSUPPORT;
		return 0;
	}
	/* An ephemeral port of IPv6's may be taken on IPv4: try others. */
	for (tries = 0; tries < 8; tries++) {
		if ((fds[0] = net_bind(v6, 0, &dual)) < 0)
			return 0;
		if (dual || v4 == NULL)
			return 1;
		memset(&sin6, 0, sizeof(sin6));
		len = sizeof(sin6);
		if (getsockname(fds[0], (struct sockaddr *)&sin6, &len) == 0 &&
		    (fds[1] = net_bind(v4, sin6.sin6_port, NULL)) >= 0)
			return 2;
		err = errno;
		close(fds[0]);
		errno = err;
		if (err != EADDRINUSE ||
		    ((const struct sockaddr_in6 *)v6->ai_addr)->sin6_port != 0)
			return 0;
	}
	return 0;
}

/*
 * Bind and listen on ep into fds (at most LISTEN_MAX); with no host, on
 * every address (net_listen_any()), or IPv4 alone where there is no IPv6.
 * Prints the "Listening on" line. Returns how many sockets, or 0 after
 * saying why.
 */
static int
net_listen(struct chat *c, const struct endpoint *ep, const char *spec,
    int *fds)
{
	struct addrinfo hints, *res, *ai, local;
	struct sockaddr_storage ss;
	struct sockaddr_un sa;
	socklen_t sslen = sizeof(ss);
	char name[PEER_NAME_MAX];
	int n = 0, gai, err = EAFNOSUPPORT;

	if (ep->local) {
		/* A socket file left by a listener that died is replaced. */
		net_unix_addr(ep, &local, &sa);
		if ((fds[0] = net_bind(&local, 0, NULL)) < 0 &&
		    errno == EADDRINUSE && net_unix_stale(&sa)) {
			if (unlink(sa.sun_path) < 0) {
				say(c, SAY_ERROR, "remove stale socket %s: %s",
				    spec, strerror(errno));
				return 0;
			}
			fds[0] = net_bind(&local, 0, NULL);
		}
		if (fds[0] < 0) {
			say(c, SAY_ERROR, "bind %s: %s", spec, strerror(errno));
			return 0;
		}
		say(c, SAY_STATUS, "Listening on %s", spec);
		return 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(ep->host[0] ? ep->host : NULL, ep->port, &hints,
	    &res);
	if (signals_let_in()) {		/* the caller reports it */
		if (gai == 0)
			freeaddrinfo(res);
		return 0;
	}
	if (gai != 0) {
		say(c, SAY_ERROR, "resolve %s: %s", ep->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return 0;
	}
	if (!ep->host[0] && (n = net_listen_any(res, fds)) == 0)
		err = errno;
	/* With no host, IPv4 alone only where there is no IPv6 at all: a
	 * port in use is an error, not a reason to serve half. */
	if (n == 0 && (ep->host[0] || err == EAFNOSUPPORT ||
	    err == EPROTONOSUPPORT || err == EADDRNOTAVAIL)) {
		for (ai = res; n == 0 && ai != NULL; ai = ai->ai_next) {
			if (!ep->host[0] && ai->ai_family == AF_INET6)
				continue;	/* tried above */
			if ((fds[0] = net_bind(ai, 0, NULL)) >= 0)
				n = 1;
			else
				err = errno;
		}
	}
	freeaddrinfo(res);
	if (n == 0) {
		say(c, SAY_ERROR, "bind %s: %s", spec, strerror(err));
		return 0;
	}
	/* Two sockets listen on the same port of every address: the
	 * IPv6 one's name says so as well as one socket's would. */
	if (getsockname(fds[0], (struct sockaddr *)&ss, &sslen) == 0)
		net_name((struct sockaddr *)&ss, sslen, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "%s", spec);
	say(c, SAY_STATUS, "Listening on %s", name);
	return n;
}

/* The port a listening socket has, in decimal, in port (6 bytes).
 * Returns 0, or -1 with errno. */
static int
net_port(int fd, char *port)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		return -1;
	if (getnameinfo((struct sockaddr *)&ss, sslen, NULL, 0, port,
	    sizeof("65535"), NI_NUMERICSERV) != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * For people at a terminal, after "Listening on" for every address: the
 * machine's own IPv4 addresses (not loopback, at most REACH_MAX) and its
 * host name, with the port, as others would type them.
 */
static void
net_reach(struct chat *c, int fd)
{
	struct ifaddrs *ifs, *ifa;
	char line[SAY_MAX], host[HOST_NUM_MAX], port[sizeof("65535")];
	size_t n = 0;
	int shown = 0;

	if (net_port(fd, port) < 0)
		return;
	if (getifaddrs(&ifs) == 0) {
		for (ifa = ifs; ifa != NULL && shown < REACH_MAX;
		    ifa = ifa->ifa_next) {
			if (ifa->ifa_addr == NULL ||
			    ifa->ifa_addr->sa_family != AF_INET ||
			    (ifa->ifa_flags & IFF_LOOPBACK) ||
			    !(ifa->ifa_flags & IFF_UP) ||
			    getnameinfo(ifa->ifa_addr,
			    sizeof(struct sockaddr_in), host, sizeof(host),
			    NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "%s%s:%s", shown++ ? ", " : "", host, port);
		}
		freeifaddrs(ifs);
	}
	if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0') {
		host[sizeof(host) - 1] = '\0';
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s:%s",
		    shown++ ? " or " : "", host, port);
	}
	if (shown > 0 && n < sizeof(line))
		say(c, SAY_STATUS, "Reach it as %s", line);
}

/*
 * Connect to every address of ep in turn until one answers, within the
 * --timeout, naming the peer in name. Returns the socket, or -1 after
 * saying why (c->status set) or on a stop signal.
 */
static int
net_connect(struct chat *c, const struct endpoint *ep, char *name,
    size_t size)
{
	struct addrinfo hints, *res, *ai, local;
	struct sockaddr_storage ss;
	struct sockaddr_un sa;
	struct pollfd pfd;
	struct timespec ts;
	long long deadline = c->timeout_ms < 0 ? -1 :
	    c->clock() + c->timeout_ms;
	socklen_t errlen, sslen;
	int fd = -1, gai = 0, err = 0, n, timed_out = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (ep->local) {
		net_unix_addr(ep, &local, &sa);
		res = &local;
	} else
		gai = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (signals_let_in()) {		/* the caller reports it */
		if (gai == 0 && !ep->local)
			freeaddrinfo(res);
		return -1;
	}
	if (gai != 0) {
		say(c, SAY_ERROR, "resolve %s: %s", ep->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		c->status = CHAT_EXIT_NET;
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0 && !stop_signal; ai = ai->ai_next) {
		fd = compat_socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		net_tune(fd, ai->ai_family);
		err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
		while (err == EINPROGRESS && !stop_signal) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			n = compat_wait(&pfd, 1, wait_until(c, deadline,
			    &ts), &wait_mask);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = errno;
				break;
			}
			if (n == 0) {
				err = ETIMEDOUT;
				timed_out = 1;
				break;
			}
			errlen = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &errlen) < 0)
				err = errno;
		}
		if (err == 0) {
			/* Named by the address reached, which is not always
			 * the one dialled: 0.0.0.0 reaches 127.0.0.1. */
			sslen = sizeof(ss);
			if (ep->local)
				snprintf(name, size, "%s", c->where);
			else if (getpeername(fd, (struct sockaddr *)&ss,
			    &sslen) == 0)
				net_name((struct sockaddr *)&ss, sslen, name,
				    size);
			else
				net_name(ai->ai_addr, ai->ai_addrlen, name,
				    size);
			break;
		}
		close(fd);
		fd = -1;
		if (timed_out)
			break;
	}
	if (!ep->local)
		freeaddrinfo(res);
	if (stop_signal) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd < 0) {
		c->status = timed_out ? CHAT_EXIT_TIMEOUT : CHAT_EXIT_NET;
		/* A Unix-domain socket may not be there yet, or have its
		 * queue full (EAGAIN: no connection waits in it). */
		if (c->wait_quiet && (err == ECONNREFUSED || err == ENOENT))
			c->waiting = "not listening yet";
		else if (c->wait_quiet && err == EAGAIN)
			c->waiting = "full";
		else
			say(c, SAY_ERROR, "connect %s: %s", c->where,
			    strerror(err));
	}
	return fd;
}

/*
 * Read and discard what has arrived, so that close() sends no RST. At
 * most DRAIN_MAX bytes: a peer that keeps sending must not hold us here.
 */
static void
net_drain(int fd)
{
	char sink[4096];
	size_t total = 0;
	ssize_t n;

	while (total < DRAIN_MAX && (n = read(fd, sink, DRAIN_MAX - total <
	    sizeof(sink) ? DRAIN_MAX - total : sizeof(sink))) > 0)
		total += (size_t)n;
}

/*
 * Send one frame on fd: its verb, then a space and the payload if there
 * is one (payload not NULL), then LF, in one write: a message is one
 * segment, never a header waiting on Nagle for its body. Every frame
 * chat sends goes through here. Waits for room until deadline (-1: no
 * limit, 0: not at all). Returns as io_write_all().
 */
static int
net_send(struct chat *c, int fd, enum verb verb, const char *payload,
    size_t len, long long deadline)
{
	struct iovec iov[3];
	int n = 0;

	iov[n].iov_base = (void *)wire[verb].head;
	iov[n++].iov_len = wire[verb].len + (payload != NULL);
	if (payload != NULL) {
		iov[n].iov_base = (void *)payload;
		iov[n++].iov_len = len;
	}
	iov[n].iov_base = "\n";
	iov[n++].iov_len = 1;
	return io_write_all(c, fd, LOCAL_SOCKET, iov, n, deadline);
}

/* === Connections ========================================================== */

/* Whether cn is a listener's candidate: a stranger until its HELLO. */
static int
conn_is_stranger(const struct chat *c, const struct conn *cn)
{
	return c->listening && cn != c->peer;
}

/* An error line about cn: a stranger's is rate-limited (see stranger()). */
static void
conn_say(struct chat *c, struct conn *cn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, conn_is_stranger(c, cn) ? STRANGER_DROPPED : -1,
	    SAY_ERROR, fmt, ap);
	va_end(ap);
}

/* Send a frame to cn (payload: len bytes, or NULL): in the conversation
 * it may wait for room up to the --timeout; anyone else gets what fits at
 * once, or nothing. A QUIT's reason goes to a chat/2 peer only: chat/1
 * peers were promised a bare QUIT. Returns as io_write_all(). */
static int
conn_send(struct chat *c, struct conn *cn, enum verb verb,
    const char *payload, size_t len)
{
	long long deadline = 0;

	if (verb == VERB_QUIT && cn->version < 2)
		payload = NULL;
	if (cn == c->peer && c->timeout_ms >= 0)
		deadline = c->clock() + c->timeout_ms;
	else if (cn == c->peer)
		deadline = -1;
	return net_send(c, cn->fd, verb, payload, len, deadline);
}

/* cn's handshake begins (HELLO) or goes on after its HELLO (INTRO): each
 * of the two has CHAT_HELLO_SECS, or the --timeout if less. So a stranger
 * holds a candidate's place for two of them at most, however it spreads
 * its lines. */
static void
conn_handshake(struct chat *c, struct conn *cn, enum conn_state state)
{
	long long ms = CHAT_HELLO_SECS * 1000LL;

	if (c->timeout_ms >= 0 && c->timeout_ms < ms)
		ms = c->timeout_ms;
	cn->state = state;
	cn->dl = DL_HELLO;
	cn->deadline = c->clock() + ms;
}

/* Whether cn is in the handshake, not yet in a conversation. */
static int
conn_in_handshake(const struct conn *cn)
{
	return cn->state == CONN_HELLO || cn->state == CONN_INTRO ||
	    cn->state == CONN_PROOF;
}

/* A new connection on fd in a free slot, waiting for the peer's HELLO;
 * NULL if the pool is full. */
static struct conn *
conn_open(struct chat *c, int fd, const char *name, const unsigned char *source)
{
	struct conn *cn;

	for (cn = c->conns; cn < c->conns + CONN_MAX; cn++)
		if (cn->state == CONN_FREE)
			break;
	if (cn == c->conns + CONN_MAX)
		return NULL;
	if (cn >= c->conns_end)
		c->conns_end = cn + 1;
	cn->fd = fd;
	conn_handshake(c, cn, CONN_HELLO);
	cn->version = 0;
	cn->their_name[0] = cn->nonce[0] = cn->their_nonce[0] = '\0';
	snprintf(cn->name, sizeof(cn->name), "%s", name);
	memcpy(cn->source, source, CHAT_SOURCE_LEN);
	linebuf_init(&cn->in, cn->hello, sizeof(cn->hello), CHAT_HELLO_MAX);
	return cn;
}

/* Close cn now, reading first what it sent (no RST), and free its slot. */
static void
conn_close(struct chat *c, struct conn *cn)
{
	net_drain(cn->fd);
	close(cn->fd);
	cn->fd = -1;
	cn->state = CONN_FREE;
	cn->dl = DL_NONE;
	cn->deadline = -1;
	while (c->conns_end > c->conns && c->conns_end[-1].state == CONN_FREE)
		c->conns_end--;
	c->accept_paused = 0;	/* an fd is free again */
}

/*
 * cn is over. The conversation's end sets the status (a stranger's does
 * not). how: END_CLOSE at once (the peer is gone, or told us to go), or
 * END_LINGER: we sent our last frame, so FIN after it and read until the
 * peer's FIN: closing with unread input would send an RST that can
 * destroy what we sent last.
 */
static void
conn_end(struct chat *c, struct conn *cn, int status, enum ending how)
{
	if (cn == c->peer) {
		c->peer = NULL;
		c->status = status;
		c->conversations++;
		term_quiet();
		/* (A connector turned away before the handshake's end had
		 * no conversation: lines typed meanwhile wait for the next
		 * try of --wait.) */
		if (c->ed != NULL && !conn_in_handshake(cn))
			ed_over(c);
	}
	if (how == END_CLOSE) {
		conn_close(c, cn);
		return;
	}
	shutdown(cn->fd, SHUT_WR);
	cn->state = CONN_LINGER;
	cn->dl = DL_LINGER;
	cn->deadline = c->clock() + LINGER_MS;
}

/* End cn with a frame of ours (QUIT, ERR): linger if it went out. */
static void
conn_last(struct chat *c, struct conn *cn, int status, enum verb verb,
    const char *reason)
{
	conn_end(c, cn, status, conn_send(c, cn, verb, reason,
	    reason ? strlen(reason) : 0) == 0 ?
	    END_LINGER : END_CLOSE);
}

/* The peer closed (err 0) or the connection failed (err): say so, end. */
static void
conn_gone(struct chat *c, struct conn *cn, int err)
{
	long long secs = c->timeout_ms / 1000;

	if (err == EINTR && stop_signal) {
		/* Not the peer's doing: the loop reports the signal. A frame
		 * may be half sent, so no QUIT can follow it. */
		conn_end(c, cn, CHAT_EXIT_SIGNAL, END_CLOSE);
		return;
	}
	if (err == ETIMEDOUT) {		/* from a send: it stopped reading */
		conn_say(c, cn, "peer %s: not reading: no room to send within "
		    "%lld second%s", cn->name, secs, secs == 1 ? "" : "s");
		conn_end(c, cn, CHAT_EXIT_TIMEOUT, END_CLOSE);
		return;
	}
	if (err == 0 || err == EPIPE)
		conn_say(c, cn, "peer %s closed the connection", cn->name);
	else
		conn_say(c, cn, "peer %s: %s", cn->name, strerror(err));
	conn_end(c, cn, CHAT_EXIT_PEER, END_CLOSE);
}

/* The peer broke the protocol: tell it why, report it, end. */
static void
conn_violation(struct chat *c, struct conn *cn, const char *reason)
{
	conn_say(c, cn, "peer %s: protocol error: %s", cn->name, reason);
	conn_last(c, cn, CHAT_EXIT_PEER, VERB_ERR, reason);
}

/* How long a begun frame may take: CHAT_FRAME_SECS, or --timeout if less. */
static long long
frame_ms(const struct chat *c)
{
	long long ms = CHAT_FRAME_SECS * 1000LL;

	return c->timeout_ms >= 0 && c->timeout_ms < ms ? c->timeout_ms : ms;
}

/* A frame has begun (its first bytes are in): its clock starts now,
 * unless an earlier deadline already holds. More bytes do not move it. */
static void
conn_frame_begun(struct chat *c, struct conn *cn)
{
	long long due;

	if (cn->dl == DL_FRAME || cn->dl == DL_HELLO)
		return;		/* the HELLO deadline is never the later */
	due = c->clock() + frame_ms(c);
	if (cn->deadline < 0 || due < cn->deadline) {
		cn->dl = DL_FRAME;
		cn->deadline = due;
	}
}

/* cn's deadline passed: say which, and act on it. */
static void
conn_timeout(struct chat *c, struct conn *cn)
{
	long long secs = c->timeout_ms / 1000;
	char reason[64];

	switch (cn->dl) {
	case DL_HELLO:
		if (c->timeout_ms < 0 || secs > CHAT_HELLO_SECS)
			secs = CHAT_HELLO_SECS;
		if (cn->state != CONN_HELLO) {	/* both have said HELLO */
			conn_say(c, cn, "peer %s: handshake not finished "
			    "within %lld second%s", cn->name, secs,
			    secs == 1 ? "" : "s");
			conn_last(c, cn, CHAT_EXIT_TIMEOUT, VERB_ERR, ERR_SLOW);
			break;
		}
		conn_say(c, cn, "peer %s: no HELLO within %lld second%s",
		    cn->name, secs, secs == 1 ? "" : "s");
		/* Only the listener has said HELLO, so only it may say ERR. */
		if (c->listening)
			conn_last(c, cn, CHAT_EXIT_TIMEOUT, VERB_ERR,
			    ERR_NO_HELLO);
		else
			conn_end(c, cn, CHAT_EXIT_TIMEOUT, END_CLOSE);
		break;
	case DL_TURN:
		snprintf(reason, sizeof(reason), "no answer within %lld "
		    "second%s", secs, secs == 1 ? "" : "s");
		conn_say(c, cn, "peer %s: %s", cn->name, reason);
		conn_last(c, cn, CHAT_EXIT_TIMEOUT, VERB_QUIT, reason);
		break;
	case DL_FRAME:
		secs = frame_ms(c) / 1000;
		conn_say(c, cn, "peer %s: frame not finished within %lld "
		    "second%s", cn->name, secs, secs == 1 ? "" : "s");
		conn_last(c, cn, CHAT_EXIT_TIMEOUT, VERB_ERR, ERR_TOO_SLOW);
		break;
	case DL_LINGER:
		conn_close(c, cn);
		break;
	case DL_NONE:
		break;
	}
}

/* === The conversation ===================================================== */

/*
 * Each socket to a peer is a struct conn in one of these states. What
 * moves it on, and what it sends (the README's protocol section has the
 * same table):
 *
 * HELLO   A listener's candidate (it was sent our HELLO on accept), or a
 *         connector's connection before the listener's HELLO. Deadline:
 *         DL_HELLO. Buffer: one HELLO line, CHAT_HELLO_MAX bytes.
 *           HELLO with a common version (the highest): chat/1:
 *             listener:  -> OURS; every other candidate: BUSY, closed
 *             connector: sends HELLO -> THEIRS
 *           chat/2: listener -> INTRO; connector sends HELLO, [NONCE],
 *             NAME -> INTRO. With a secret, a chat/1 peer: ERR a secret
 *             is required -> LINGER
 *           BUSY (connector): closed, exit 5 (busy)
 *           ERR: connector: closed, exit 5 (refused); listener: closed
 *           another line, or a line too long: ERR bad hello (or
 *             unsupported version for a HELLO without chat/1) -> LINGER
 *           DL_HELLO: listener: ERR no hello -> LINGER; connector
 *             (which has said nothing yet): closed
 * INTRO   chat/2: their [NONCE] and NAME, then (PROOF) their PROOF, all
 *         within one DL_HELLO set anew at their HELLO.
 *           NONCE: kept (a listener without a secret: ERR this listener
 *             has no secret -> LINGER)
 *           NAME, no secrets: listener sends NAME -> OURS, others BUSY;
 *             connector -> THEIRS
 *           NAME, secrets: listener sends NONCE, NAME -> PROOF;
 *             connector sends PROOF -> PROOF
 *           NAME, we have a secret and it sent no NONCE: ERR a secret is
 *             required; a bad NAME: ERR bad name; another frame: ERR bad
 *             handshake; DL_HELLO: ERR handshake too slow; -> LINGER
 * PROOF   chat/2 with secrets: their PROOF (chat_proved()).
 *           right: listener sends PROOF -> OURS, others BUSY; connector
 *             -> THEIRS
 *           wrong: ERR wrong secret (counted by the listener) -> LINGER;
 *             its source blocked meanwhile: ERR blocked ... -> LINGER
 * INTRO and PROOF: ERR: closed; BUSY (connector): closed, exit 5; QUIT:
 *           closed.
 * OURS    The conversation, our turn: no deadline, until a frame from
 *         the peer begins (DL_FRAME).
 *           our line: MSG -> THEIRS; QUIT or end of input: QUIT -> LINGER
 * THEIRS  The conversation, their turn. Deadline: DL_TURN (--timeout) or
 *         DL_FRAME once a frame has begun, whichever comes first.
 *           MSG: shown -> OURS
 *           DL_TURN: QUIT -> LINGER; DL_FRAME: ERR frame too slow -> LINGER
 *           BUSY before the listener's first MSG (connector): closed,
 *             exit 5 (another candidate's HELLO came first)
 * OURS and THEIRS alike:
 *           QUIT: closed; ERR: reported, closed
 *           MSG in OURS, HELLO, BUSY: ERR out of turn -> LINGER
 *           another verb: ERR unknown verb -> LINGER
 *           a line over CHAT_FRAME_MAX: ERR frame too long -> LINGER
 * LINGER  We sent our last frame and shut down our side; what the peer
 *         still sends is read and dropped until it closes, or LINGER_MS
 *         (DL_LINGER) -> closed.
 * Any state: the peer closes or resets -> closed (reported unless LINGER).
 *
 * The listener holds a fixed pool of CONN_MAX of them: the conversation
 * (c->peer, when there is one) and up to CANDIDATES_MAX others, which are
 * candidates or lingering. During a conversation every newcomer is sent
 * BUSY at once; otherwise it becomes a candidate, unless CANDIDATES_MAX
 * are held (ERR listener full) or CANDIDATES_PER_SOURCE from its source
 * (ERR too many from your address). The first candidate to complete its
 * HELLO gets the conversation. A listener that is done (chat_done())
 * takes no newcomer and sends the waiting candidates QUIT. A connector
 * has one conn, c->peer from the start.
 */

/* Our turn begins: the terminal listens to us again, and prompts. */
static void
chat_our_turn(struct chat *c)
{
	c->peer->state = CONN_OURS;
	c->peer->dl = DL_NONE;
	c->peer->deadline = -1;
	if (!c->in_tty || c->ed != NULL)	/* (the editor prompts itself) */
		return;
	term_cooked(c);
	if (!c->in_eof)		/* else this turn is a QUIT already */
		chat_prompt(c);
}

/* "Your message: " on stderr; the user's Enter ends its line. */
static void
chat_prompt(struct chat *c)
{
	err_write(c, PROMPT, sizeof(PROMPT) - 1, 1);
	if (!stop_signal)
		c->prompt_open = 1;
}

/* Their turn begins: the --timeout runs (a begun frame's own deadline
 * stays if it is the earlier). */
static void
chat_their_turn(struct chat *c)
{
	struct conn *cn = c->peer;
	long long due = c->timeout_ms < 0 ? -1 : c->clock() + c->timeout_ms;

	cn->state = CONN_THEIRS;
	if (cn->dl == DL_FRAME && (due < 0 || cn->deadline <= due))
		return;
	cn->dl = due < 0 ? DL_NONE : DL_TURN;
	cn->deadline = due;
}

/*
 * Write shown text (escaped: valid UTF-8, no control character but the
 * tab) to stdout, a terminal c->out_cols wide, from column *col: a row
 * that is full goes on in a new one, indented under the text, so that
 * nothing a peer sends can begin a row of the screen. A tab is written
 * as the spaces to the next multiple of 8, so that its width is ours to
 * count, not the terminal's.
 */
static int
chat_show_wrapped(struct chat *c, const char *s, size_t n, size_t *col)
{
	char buf[SHOW_PIECE + 32];	/* a piece, and what one character adds */
	struct iovec iov;
	size_t i = 0, o = 0, len;
	int w;

	iov.iov_base = buf;
	while (i < n) {
		len = show_char(s + i, n - i, &w);
		if (s[i] == '\t')
			w = (int)(8 - *col % 8);
		if (*col + (size_t)w > (size_t)c->out_cols) {
			buf[o++] = '\n';
			memset(buf + o, ' ', SHOW_INDENT);
			o += SHOW_INDENT;
			*col = SHOW_INDENT;
			if (s[i] == '\t')
				w = (int)(8 - *col % 8);
		}
		if (s[i] == '\t')
			memset(buf + o, ' ', (size_t)w);
		else
			memcpy(buf + o, s + i, len);
		o += s[i] == '\t' ? (size_t)w : len;
		*col += (size_t)w;
		i += len;
		if (o > SHOW_PIECE || i == n) {
			iov.iov_len = o;
			if (io_write_all(c, c->out.fd, c->out.kind, &iov, 1,
			    -1) < 0)
				return -1;
			o = 0;
		}
	}
	return 0;
}

/*
 * Show a message from the peer on stdout: one line, escaped. Plain text,
 * the usual case, goes out in one write from where it arrived; text that
 * needs escaping is escaped and written piece by piece. On a terminal
 * with the editor, the rows are wrapped to its width (and the input line
 * makes way).
 */
static void
chat_show(struct chat *c, const char *text, size_t len)
{
	static const char they[] = "They say: ";
	char named[CHAT_NAME_MAX + sizeof(" says: ")], reason[REASON_MAX];
	const char *head = they;
	struct iovec iov[3];
	size_t pos = 0, n = sizeof(they) - 1, col = SHOW_INDENT, piece;
	int r = 0, wrap = c->ed != NULL && c->out_cols > 2 * SHOW_INDENT;

	log_line(c, '<', c->peer->their_name[0] != '\0' ?
	    c->peer->their_name : "them", text, len);
	if (c->show_names && c->peer->their_name[0] != '\0') {
		n = (size_t)snprintf(named, sizeof(named), "%s says: ",
		    c->peer->their_name);
		head = named;
		if (wrap)
			col = ed_width(named, 0, n);
	}
	iov[0].iov_base = (void *)head;
	iov[0].iov_len = n;
	iov[1].iov_base = (void *)text;
	iov[1].iov_len = len;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	ed_hide(c, 1);
	if (display_plain(text, len) == len && !wrap)
		r = io_write_all(c, c->out.fd, c->out.kind, iov, 3, -1);
	else if (wrap) {
		r = io_write_all(c, c->out.fd, c->out.kind, iov, 1, -1);
		while (r == 0 && pos < len) {
			piece = display_escape_some(c->piece,
			    sizeof(c->piece), text, len, &pos);
			r = chat_show_wrapped(c, c->piece, piece, &col);
		}
		if (r == 0)
			r = io_write_all(c, c->out.fd, c->out.kind, iov + 2, 1,
			    -1);
	} else {
		memcpy(c->piece, head, n);
		do {	/* room is kept for the LF */
			n += display_escape_some(c->piece + n,
			    sizeof(c->piece) - n - 1, text, len, &pos);
			if (pos == len)
				c->piece[n++] = '\n';
			iov[0].iov_base = c->piece;
			iov[0].iov_len = n;
			r = io_write_all(c, c->out.fd, c->out.kind, iov, 1,
			    -1);
			n = 0;
		} while (r == 0 && pos < len);
	}
	if (r == 0 || errno == EINTR)	/* a stop signal: the loop acts */
		return;
	/* Nobody reads our output any more: end as if QUIT was typed. */
	c->local_gone = 1;
	if (errno == EPIPE) {
		chat_quit(c, CHAT_EXIT_OK, "stdout closed");
		return;
	}
	snprintf(reason, sizeof(reason), "write stdout: %s", strerror(errno));
	say(c, SAY_ERROR, "%s", reason);
	chat_quit(c, CHAT_EXIT_IO, reason);
}

/* End the conversation from our side, if there is one: QUIT to the peer,
 * with the reason (chat/2), if there is one. */
static void
chat_quit(struct chat *c, int status, const char *reason)
{
	if (c->peer != NULL)
		conn_last(c, c->peer, status, VERB_QUIT, reason);
}

/* cn's HELLO is done: from now on its frames go to the frame buffer,
 * the bytes after the HELLO line with them. */
static void
chat_converse(struct chat *c, struct conn *cn)
{
	struct linebuf hello = cn->in;

	c->peer = cn;
	linebuf_init(&cn->in, c->frame, sizeof(c->frame), CHAT_FRAME_MAX);
	linebuf_move(&cn->in, &hello);
}

/* An ERR reason from the peer, as quoted: its first REASON_MAX bytes,
 * escaped, as a C string in shown (REASON_SHOWN bytes). */
static void
reason_show(char *shown, const char *payload, size_t plen)
{
	shown[display_escape(shown, payload, plen < REASON_MAX ? plen :
	    REASON_MAX)] = '\0';
}

/* The listener sent a connector BUSY: it talks with someone else. */
static void
chat_busy(struct chat *c, struct conn *cn)
{
	if (c->wait_quiet)
		c->waiting = "busy";
	else
		say(c, SAY_ERROR, "connect %s: busy: the listener is in "
		    "another conversation", c->where);
	conn_end(c, cn, CHAT_EXIT_BUSY, END_CLOSE);
}

/* Whether an ERR reason is one about the secret, which a connector
 * exits 8 for. */
static int
reason_is_auth(const char *reason, size_t len)
{
	static const char *const auth[] = { ERR_NEED_SECRET, ERR_NO_SECRET,
		ERR_WRONG };
	size_t i;

	for (i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		if (len == strlen(auth[i]) && memcmp(reason, auth[i], len) == 0)
			return 1;
	return len > sizeof(ERR_BLOCKED) && memcmp(reason, ERR_BLOCKED " ",
	    sizeof(ERR_BLOCKED)) == 0;
}

/* ERR during the handshake. A listener drops that candidate (a stranger's
 * line); a connector was refused: exit 8 if over the secret, else 5
 * before the HELLOs (the listener is full), 4 after. */
static void
chat_refused(struct chat *c, struct conn *cn, const char *payload,
    size_t plen)
{
	char reason[REASON_SHOWN];
	int status = reason_is_auth(payload, plen) ? CHAT_EXIT_AUTH :
	    cn->state == CONN_HELLO ? CHAT_EXIT_BUSY : CHAT_EXIT_PEER;

	reason_show(reason, payload, plen);
	if (c->listening)
		conn_say(c, cn, "peer %s: peer reported: %s", cn->name, reason);
	else if (c->wait_quiet && status == CHAT_EXIT_BUSY)
		c->waiting = "full";
	else
		say(c, SAY_ERROR, "connect %s: refused: %s", c->where, reason);
	conn_end(c, cn, status, END_CLOSE);
}

/* QUIT from the peer: it ended the conversation, for a reason if it gave
 * one (chat/2; chat/1 ignores a QUIT's payload). */
static void
chat_ended(struct chat *c, struct conn *cn, const char *payload, size_t plen)
{
	char reason[REASON_SHOWN];

	if (cn->version >= 2 && plen > 0) {
		reason_show(reason, payload, plen);
		say(c, SAY_STATUS, "They ended the conversation: %s.", reason);
	} else
		say(c, SAY_STATUS, "They ended the conversation.");
	conn_end(c, cn, CHAT_EXIT_OK, END_CLOSE);
}

/* The handshake is done: cn is the conversation, and the listener speaks
 * first. Every other candidate is told BUSY. */
static void
chat_welcome(struct chat *c, struct conn *cn)
{
	const char *at = cn->their_name[0] != '\0' ? " at " : "";
	struct conn *other;

	chat_converse(c, cn);
	if (!c->listening) {
		say(c, SAY_STATUS, "Connected to %s%s%s", cn->their_name, at,
		    cn->name);
		chat_their_turn(c);
		return;
	}
	say(c, SAY_STATUS, "Connection from %s%s%s", cn->their_name, at,
	    cn->name);
	for (other = c->conns; other < c->conns_end; other++)
		if (conn_in_handshake(other) && other != cn)
			chat_turn_away_candidate(c, other);
	chat_our_turn(c);
}

/* We have a secret and cn cannot prove it has one: it speaks chat/1, or
 * sent no NONCE. */
static void
chat_unproved(struct chat *c, struct conn *cn)
{
	if (c->listening)
		stranger(c, STRANGER_AUTH, SAY_STATUS, "Turned away %s: no "
		    "secret", cn->name);
	else
		say(c, SAY_ERROR, "connect %s: the listener %s", c->where,
		    cn->version < 2 ? "speaks chat/1 only, which has no "
		    "secret" : "has no secret");
	conn_last(c, cn, CHAT_EXIT_AUTH, VERB_ERR, ERR_NEED_SECRET);
}

/* Our introduction to cn, which speaks chat/2: a NONCE if we have a
 * secret, then our NAME (none: "NAME"). Returns 0, or -1 if cn ended. */
static int
chat_introduce(struct chat *c, struct conn *cn)
{
	unsigned char nonce[CHAT_NONCE_SIZE];

	if (c->secret != NULL && getentropy(nonce, sizeof(nonce)) < 0) {
		say(c, SAY_ERROR, "getentropy: %s", strerror(errno));
		conn_end(c, cn, CHAT_EXIT_IO, END_CLOSE);
		return -1;
	}
	if (c->secret != NULL) {
		hex_encode(cn->nonce, nonce, sizeof(nonce));
		if (conn_send(c, cn, VERB_NONCE, cn->nonce, CHAT_HEX_LEN) < 0) {
			conn_gone(c, cn, errno);
			return -1;
		}
	}
	if (conn_send(c, cn, VERB_NAME, c->name[0] != '\0' ? c->name : NULL,
	    strlen(c->name)) < 0) {
		conn_gone(c, cn, errno);
		return -1;
	}
	return 0;
}

/* role's proof for cn's two nonces, into proof (CHAT_HEX_LEN + 1). */
static void
conn_proof(const struct chat *c, const struct conn *cn, const char *role,
    char *proof)
{
	chat_proof(c->secret, c->secret_len, role,
	    c->listening ? cn->nonce : cn->their_nonce,
	    c->listening ? cn->their_nonce : cn->nonce, proof);
}

/* Send cn our PROOF. Returns 0, or -1 if cn ended. */
static int
chat_prove(struct chat *c, struct conn *cn)
{
	char proof[CHAT_HEX_LEN + 1];

	conn_proof(c, cn, c->listening ? "listener" : "connector", proof);
	if (conn_send(c, cn, VERB_PROOF, proof, CHAT_HEX_LEN) == 0)
		return 0;
	conn_gone(c, cn, errno);
	return -1;
}

/* HELLO from cn: the versions agree on the highest both speak. A
 * connector answers with its HELLO (and in chat/2 introduces itself). */
static void
chat_hello(struct chat *c, struct conn *cn, enum verb verb,
    const char *payload, size_t plen)
{
	if (verb != VERB_HELLO)
		conn_violation(c, cn, ERR_BAD_HELLO);
	else if ((cn->version = hello_version(payload, plen)) == 0)
		conn_violation(c, cn, ERR_VERSION);
	else if (cn->version < 2 && c->secret != NULL)
		chat_unproved(c, cn);
	else if (!c->listening && conn_send(c, cn, VERB_HELLO, CHAT_PROTOCOLS,
	    sizeof(CHAT_PROTOCOLS) - 1) < 0)
		conn_gone(c, cn, errno);
	else if (cn->version < 2)
		chat_welcome(c, cn);
	else if (c->listening || chat_introduce(c, cn) == 0)
		conn_handshake(c, cn, CONN_INTRO);
}

/* chat/2: cn introduces itself: a NONCE if it has a secret, then its
 * NAME. The listener answers with its own; with a secret, the connector
 * then proves first (see chat_proved()). */
static void
chat_intro(struct chat *c, struct conn *cn, enum verb verb,
    const char *payload, size_t plen)
{
	char shown[REASON_SHOWN];

	if (verb == VERB_NONCE && cn->their_nonce[0] == '\0' &&
	    hex_valid(payload, plen) && (c->secret != NULL || c->listening)) {
		if (c->secret == NULL) {
			stranger(c, STRANGER_AUTH, SAY_STATUS, "Turned away "
			    "%s: it has a secret, this listener none",
			    cn->name);
			conn_last(c, cn, CHAT_EXIT_AUTH, VERB_ERR,
			    ERR_NO_SECRET);
			return;
		}
		memcpy(cn->their_nonce, payload, CHAT_HEX_LEN);
		cn->their_nonce[CHAT_HEX_LEN] = '\0';
		return;
	}
	if (verb != VERB_NAME) {
		conn_violation(c, cn, ERR_HANDSHAKE);
		return;
	}
	if (plen > 0 && !name_valid(payload, plen)) {
		reason_show(shown, payload, plen);
		conn_say(c, cn, "peer %s: protocol error: bad name '%s'",
		    cn->name, shown);
		conn_last(c, cn, CHAT_EXIT_PEER, VERB_ERR, ERR_BAD_NAME);
		return;
	}
	memcpy(cn->their_name, payload, plen);
	cn->their_name[plen] = '\0';
	if (c->secret != NULL && cn->their_nonce[0] == '\0')
		chat_unproved(c, cn);
	else if (c->listening && chat_introduce(c, cn) < 0)
		return;
	else if (c->secret == NULL)
		chat_welcome(c, cn);
	else if (c->listening || chat_prove(c, cn) == 0)
		cn->state = CONN_PROOF;		/* (the same deadline) */
}

/*
 * chat/2 with a secret: cn's PROOF. The connector proves first, so a
 * stranger learns nothing from the listener (no proof of it to attack
 * offline) until it has proved it knows the secret. A wrong proof counts
 * against its source; CHAT_LOCKOUT_TRIES of them within
 * CHAT_LOCKOUT_SECS block the source for --block.
 */
static void
chat_proved(struct chat *c, struct conn *cn, enum verb verb,
    const char *payload, size_t plen)
{
	char want[CHAT_HEX_LEN + 1], who[HOST_NUM_MAX + 4];

	if (verb != VERB_PROOF) {
		conn_violation(c, cn, ERR_HANDSHAKE);
		return;
	}
	/* Its source was blocked while it waited: no more guesses. */
	if (c->listening && chat_blocked(c, cn->source, cn->name, -1, cn))
		return;
	conn_proof(c, cn, c->listening ? "connector" : "listener", want);
	if (plen == CHAT_HEX_LEN && equal_in_constant_time(
	    (const unsigned char *)payload, (const unsigned char *)want,
	    CHAT_HEX_LEN)) {
		if (!c->listening || chat_prove(c, cn) == 0)
			chat_welcome(c, cn);
		return;
	}
	if (!c->listening)
		say(c, SAY_ERROR, "connect %s: the listener does not know the "
		    "secret", c->where);
	else if (lockout_fail(c->lockout, cn->source, c->clock(),
	    c->block_ms) < 0)
		stranger(c, STRANGER_AUTH, SAY_STATUS, "Turned away %s: wrong "
		    "secret", cn->name);
	else {
		net_source_name(cn->source, who, sizeof(who));
		stranger(c, STRANGER_BLOCKED, SAY_STATUS, "Turned away %s: "
		    "wrong secret, %d in %d minutes: %s is blocked for %lld "
		    "seconds", cn->name, CHAT_LOCKOUT_TRIES,
		    CHAT_LOCKOUT_SECS / 60, who, c->block_ms / 1000);
	}
	conn_last(c, cn, CHAT_EXIT_AUTH, VERB_ERR, ERR_WRONG);
}

/* A frame from cn before the conversation: the handshake. */
static void
chat_handshake(struct chat *c, struct conn *cn, enum verb verb,
    const char *payload, size_t plen)
{
	if (verb == VERB_ERR)
		chat_refused(c, cn, payload, plen);
	else if (verb == VERB_BUSY && !c->listening)
		chat_busy(c, cn);
	else if (cn->state == CONN_HELLO)
		chat_hello(c, cn, verb, payload, plen);
	else if (verb == VERB_QUIT && c->listening)
		conn_end(c, cn, CHAT_EXIT_OK, END_CLOSE);  /* a candidate left */
	else if (verb == VERB_QUIT)	/* the listener is done */
		chat_ended(c, cn, payload, plen);
	else if (cn->state == CONN_INTRO)
		chat_intro(c, cn, verb, payload, plen);
	else
		chat_proved(c, cn, verb, payload, plen);
}

/* Act on one frame from cn, according to its state. */
static void
chat_frame(struct chat *c, struct conn *cn, const char *line, size_t len)
{
	char reason[REASON_SHOWN];
	const char *payload;
	size_t plen;
	enum verb verb = frame_parse(line, len, &payload, &plen);

	if (conn_in_handshake(cn)) {
		chat_handshake(c, cn, verb, payload, plen);
		return;
	}
	switch (verb) {
	case VERB_QUIT:
		chat_ended(c, cn, payload, plen);
		break;
	case VERB_ERR:
		reason_show(reason, payload, plen);
		say(c, SAY_ERROR, "peer %s: peer reported: %s", cn->name,
		    reason);
		conn_end(c, cn, CHAT_EXIT_PEER, END_CLOSE);
		break;
	case VERB_MSG:
		if (cn->state != CONN_THEIRS) {
			conn_violation(c, cn, ERR_OUT_OF_TURN);
			break;
		}
		chat_show(c, payload, plen);
		if (c->peer == cn)
			chat_our_turn(c);
		break;
	case VERB_BUSY:
		/* A connector's HELLO may cross another candidate's: the
		 * listener's BUSY then comes after the HELLOs, before its
		 * first MSG. (A connector has one conversation and sends
		 * its first line only after that MSG.) */
		if (!c->listening && cn->state == CONN_THEIRS &&
		    c->in_lineno == 0) {
			chat_busy(c, cn);
			break;
		}
		conn_violation(c, cn, ERR_OUT_OF_TURN);
		break;
	case VERB_HELLO:
		conn_violation(c, cn, ERR_OUT_OF_TURN);
		break;
	case VERB_NAME:
	case VERB_NONCE:
	case VERB_PROOF:	/* chat/2's handshake; chat/1 has no such */
		conn_violation(c, cn, cn->version >= 2 ? ERR_OUT_OF_TURN :
		    ERR_UNKNOWN);
		break;
	default:
		conn_violation(c, cn, ERR_UNKNOWN);
		break;
	}
}

/* cn's socket is readable: take in bytes, act on each whole frame; a
 * lingering one's bytes are dropped. */
static void
chat_input(struct chat *c, struct conn *cn)
{
	char sink[4096];
	const char *line;
	size_t room, len;
	ssize_t n;
	char *space;

	if (cn->state == CONN_LINGER) {
		n = read(cn->fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c, cn);
		return;
	}
	space = linebuf_space(&cn->in, &room);
	n = recv(cn->fd, space, room, 0);	/* no file layer: cheaper */
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		conn_gone(c, cn, n == 0 ? 0 : errno);
		return;
	}
	linebuf_fill(&cn->in, n);
	while (conn_in_handshake(cn) || cn->state == CONN_OURS ||
	    cn->state == CONN_THEIRS) {
		switch (linebuf_next(&cn->in, &line, &len)) {
		case LINE_OK:
			chat_frame(c, cn, line, len);
			break;
		case LINE_TOOLONG:
			conn_violation(c, cn, cn->state == CONN_HELLO ?
			    ERR_BAD_HELLO : conn_in_handshake(cn) ?
			    ERR_HANDSHAKE : ERR_TOO_LONG);
			return;
		case LINE_NONE:
			if (linebuf_pending(&cn->in))
				conn_frame_begun(c, cn);
			return;
		}
	}
}

/* stdin is readable: take in what is there; lines wait for our turn. */
static void
chat_stdin_input(struct chat *c)
{
	char keys[4096], reason[REASON_MAX];
	size_t room;
	ssize_t n;
	char *space = linebuf_space(&c->in, &room);

	if (c->ed != NULL) {	/* keys, for the editor */
		space = keys;
		room = sizeof(keys);
	}
	n = read(c->in_fd, space, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		snprintf(reason, sizeof(reason), "read stdin: %s",
		    strerror(errno));
		say(c, SAY_ERROR, "%s", reason);
		c->in_eof = c->local_gone = 1;
		c->status = CHAT_EXIT_IO;
		chat_quit(c, CHAT_EXIT_IO, reason);
		return;
	}
	if (n == 0)
		c->in_eof = 1;
	else if (c->ed != NULL)
		ed_input(c, keys, (size_t)n);
	else
		linebuf_fill(&c->in, n);
}

/*
 * Our turn: send the next local line, or QUIT at end of input. Returns
 * 1 if it took a line (or the end), 0 if it must wait for more input.
 */
static int
chat_our_line(struct chat *c)
{
	char reason[REASON_MAX];
	const char *line;
	size_t len;
	enum line_result r;

	r = c->in_eof ? linebuf_rest(&c->in, &line, &len)
	    : linebuf_next(&c->in, &line, &len);
	if (r == LINE_NONE && !c->in_eof)
		return 0;
	if (r != LINE_NONE)
		c->in_lineno++;
	if (r == LINE_TOOLONG && c->in_tty) {
		say(c, SAY_ERROR, "line too long (more than %d bytes): not "
		    "sent", CHAT_TEXT_MAX);
		chat_prompt(c);		/* still our turn */
		return 1;
	}
	if (r == LINE_TOOLONG) {
		/* A script that lost a line is out of step with its peer. */
		snprintf(reason, sizeof(reason), "stdin line %lu too long "
		    "(more than %d bytes)", c->in_lineno, CHAT_TEXT_MAX);
		say(c, SAY_ERROR, "%s: not sent", reason);
		c->in_eof = c->local_gone = 1;
		linebuf_init(&c->in, c->in_data, sizeof(c->in_data),
		    CHAT_TEXT_MAX);
		chat_quit(c, CHAT_EXIT_IO, reason);
		return 1;
	}
	if (r == LINE_OK)	/* Enter ended it, or Ctrl-D after text */
		prompt_end(c, !c->in_eof);
	if (r == LINE_NONE || (len == 4 && memcmp(line, "QUIT", 4) == 0)) {
		say(c, SAY_STATUS, "You ended the conversation.");
		chat_quit(c, CHAT_EXIT_OK, NULL);
		return 1;
	}
	/* Quiet first: keys typed once the peer has our line are theirs. */
	term_quiet();
	if (conn_send(c, c->peer, VERB_MSG, line, len) < 0) {
		conn_gone(c, c->peer, errno);
		return 1;
	}
	chat_their_turn(c);
	/* After: the peer never waits on our screen or log. */
	ed_sent(c, line, len);
	log_line(c, '>', c->name[0] != '\0' ? c->name : "you", line, len);
	return 1;
}

/* In our turn, send the next line stdin holds, if any: one MSG makes it
 * their turn, so this sends at most one (a line too long to send, on a
 * terminal, is dropped and the next one taken). */
static void
chat_our_lines(struct chat *c)
{
	while (c->peer != NULL && c->peer->state == CONN_OURS &&
	    !stop_signal && chat_our_line(c))
		continue;
}

/* === The listener ========================================================= */

/* Turn a newcomer away at once: BUSY or ERR, then close; report it. */
static void
chat_turn_away(struct chat *c, int fd, const char *name, enum verb verb,
    const char *reason, enum stranger kind, const char *why)
{
	net_send(c, fd, verb, reason, reason ? strlen(reason) : 0, 0);
	net_drain(fd);
	close(fd);
	stranger(c, kind, SAY_STATUS, "Turned away %s: %s", name, why);
}

/* If source is blocked, refuse its newcomer on fd named name, or (fd -1)
 * its candidate cn, with an ERR that says for how long. Returns whether
 * it was. */
static int
chat_blocked(struct chat *c, const unsigned char *source, const char *name,
    int fd, struct conn *cn)
{
	long long left = lockout_left(c->lockout, source, c->clock());
	long long secs = (left + 999) / 1000;
	char reason[64], why[64];

	if (left <= 0)
		return 0;
	snprintf(reason, sizeof(reason), ERR_BLOCKED " %lld second%s after %d "
	    "wrong secrets", secs, secs == 1 ? "" : "s", CHAT_LOCKOUT_TRIES);
	snprintf(why, sizeof(why), "blocked for %lld more second%s", secs,
	    secs == 1 ? "" : "s");
	if (fd >= 0) {
		chat_turn_away(c, fd, name, VERB_ERR, reason, STRANGER_AUTH,
		    why);
		return 1;
	}
	stranger(c, STRANGER_AUTH, SAY_STATUS, "Turned away %s: %s", name,
	    why);
	conn_last(c, cn, CHAT_EXIT_AUTH, VERB_ERR, reason);
	return 1;
}

/* A candidate lost: another completed its HELLO first. */
static void
chat_turn_away_candidate(struct chat *c, struct conn *cn)
{
	conn_send(c, cn, VERB_BUSY, NULL, 0);
	conn_close(c, cn);
	stranger(c, STRANGER_BUSY, SAY_STATUS, "Turned away %s: busy",
	    cn->name);
}

/*
 * Whether this chat takes no more conversations (and so ends once its
 * sockets are let go): its local side failed, it was a connector or
 * --once and its conversation is over, or it is an idle listener whose
 * input has ended.
 */
static int
chat_done(const struct chat *c)
{
	if (c->local_gone)
		return 1;
	if (c->conversations > 0 && (!c->listening || c->once))
		return 1;
	return c->peer == NULL && c->in_eof && !linebuf_pending(&c->in);
}

/* A listening socket is readable: a new candidate, or a newcomer to turn
 * away (busy, or over the pool's limits). */
static void
chat_accept(struct chat *c, int listen_fd)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	unsigned char source[CHAT_SOURCE_LEN];
	char name[PEER_NAME_MAX];
	struct conn *cn;
	int fd, held = 0, same = 0;

	memset(&ss, 0, sizeof(ss));
	fd = compat_accept(listen_fd, (struct sockaddr *)&ss, &sslen);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
		/* The connection stays queued and the socket readable: wait
		 * for one of ours to close rather than spin on it. */
		if (!c->accept_failing)
			say(c, SAY_ERROR, "accept: %s", strerror(errno));
		c->accept_paused = c->accept_failing = 1;
		return;
	}
	if (fd < 0)
		return;		/* gone again (ECONNABORTED) or EAGAIN */
	c->accept_failing = 0;
	if (ss.ss_family == AF_UNIX)	/* the peer's own end has no name */
		snprintf(name, sizeof(name), "%s", c->where);
	else
		net_name((struct sockaddr *)&ss, sslen, name, sizeof(name));
	net_source(&ss, fd, source);
	/* A blocked source learns for how long, busy or not. */
	if (c->secret != NULL && chat_blocked(c, source, name, fd, NULL))
		return;
	/* BUSY at once, then close: never keep a stranger waiting, and
	 * never let one disturb the conversation in progress. */
	if (c->peer != NULL) {
		chat_turn_away(c, fd, name, VERB_BUSY, NULL, STRANGER_BUSY,
		    "busy");
		return;
	}
	for (cn = c->conns; cn < c->conns_end; cn++) {
		if (cn->state == CONN_FREE)
			continue;
		held++;
		same += memcmp(cn->source, source, CHAT_SOURCE_LEN) == 0;
	}
	if (same >= CANDIDATES_PER_SOURCE)
		chat_turn_away(c, fd, name, VERB_ERR, ERR_SOURCE,
		    STRANGER_FULL, "too many from this address");
	else if (held >= CANDIDATES_MAX ||
	    (cn = conn_open(c, fd, name, source)) == NULL)
		chat_turn_away(c, fd, name, VERB_ERR, ERR_FULL, STRANGER_FULL,
		    "full");
	else {
		net_tune(fd, ss.ss_family);
		if (conn_send(c, cn, VERB_HELLO, CHAT_PROTOCOLS,
		    sizeof(CHAT_PROTOCOLS) - 1) < 0)
			conn_gone(c, cn, errno);
	}
}

/* A stop signal arrived: tell the peer QUIT, report, let every socket go.
 * Nothing here waits (see the rule at the top). */
static void
chat_stop(struct chat *c)
{
	const char *name = stop_signal == SIGINT ? "SIGINT" :
	    stop_signal == SIGTERM ? "SIGTERM" :
	    stop_signal == SIGQUIT ? "SIGQUIT" : "SIGHUP";
	char reason[32];
	struct conn *cn;

	if (stranger_counted(c))
		stranger_summary(c);
	snprintf(reason, sizeof(reason), "interrupted by %s", name);
	say(c, SAY_ERROR, "%s", reason);
	/* QUIT only in the conversation: after our HELLO, and never
	 * after half a frame (conn_gone() closed that one). */
	if (c->peer != NULL && c->peer->state != CONN_HELLO &&
	    conn_send(c, c->peer, VERB_QUIT, reason, strlen(reason)) == 0)
		shutdown(c->peer->fd, SHUT_WR);
	c->peer = NULL;
	for (cn = c->conns; cn < c->conns_end; cn++)
		if (cn->state != CONN_FREE)
			conn_close(c, cn);
	c->status = CHAT_EXIT_SIGNAL;
}

/* === The loop ============================================================= */

struct chat *
chat_new(const struct chat_config *cfg)
{
	struct chat *c = calloc(1, sizeof(*c));
	struct conn *cn;
	int i;

	if (c == NULL)
		return NULL;
	c->listening = cfg->listening;
	c->once = cfg->once;
	c->timeout_ms = cfg->timeout_ms;
	c->where = cfg->where;
	c->name = cfg->name != NULL ? cfg->name : "";
	c->show_names = cfg->show_names;
	c->secret = cfg->secret;
	c->secret_len = cfg->secret_len;
	c->block_ms = cfg->block_ms;
	if (c->secret != NULL && c->listening &&
	    (c->lockout = calloc(1, sizeof(*c->lockout))) == NULL) {
		free(c);
		return NULL;
	}
	c->log_fd = -1;
	if (cfg->log_path != NULL) {
		if ((c->log_buf = malloc(LOG_LINE_MAX)) == NULL) {
			free(c->lockout);
			free(c);
			return NULL;
		}
		c->log_path = cfg->log_path;
		c->log_fd = cfg->log_fd;
	}
	c->clock = cfg->clock ? cfg->clock : clock_monotonic_ms;
	c->in_fd = cfg->in_fd;
	c->in_tty = isatty(cfg->in_fd);
	linebuf_init(&c->in, c->in_data, sizeof(c->in_data), CHAT_TEXT_MAX);
	local_init(&c->out, cfg->out_fd);
	local_init(&c->err, cfg->err_fd);
	c->stranger_quiet = c->blocked_quiet = -1;
	for (i = 0; i < LISTEN_MAX; i++)
		c->listen_fd[i] = -1;
	c->conns_end = c->conns;
	for (cn = c->conns; cn < c->conns + CONN_MAX; cn++) {
		cn->fd = -1;
		cn->deadline = -1;
	}
	return c;
}

void
chat_free(struct chat *c)
{
	struct conn *cn;
	int i;

	for (cn = c->conns; cn < c->conns_end; cn++)
		if (cn->state != CONN_FREE)
			close(cn->fd);
	for (i = 0; i < LISTEN_MAX; i++)
		if (c->listen_fd[i] >= 0)
			close(c->listen_fd[i]);
	local_close(&c->out);
	local_close(&c->err);
	if (c->log_fd >= 0)
		close(c->log_fd);
	free(c->log_buf);
	free(c->lockout);
	free(c);
}

int
chat_serve(struct chat *c, int listen_fd)
{
	int i;

	for (i = 0; i < LISTEN_MAX && c->listen_fd[i] >= 0; i++)
		continue;
	if (i == LISTEN_MAX)
		return -1;
	c->listen_fd[i] = listen_fd;
	term_quiet();
	return 0;
}

int
chat_begin(struct chat *c, int fd, const char *name)
{
	static const unsigned char none[CHAT_SOURCE_LEN];

	c->peer = conn_open(c, fd, name, none);
	term_quiet();
	return c->peer != NULL ? 0 : -1;
}

/*
 * One turn of the loop: one wait over the listening socket, stdin and
 * every connection, until the first deadline; then what it brought.
 * Returns -1 while chat goes on, else its exit status.
 */
int
chat_step(struct chat *c)
{
	struct pollfd fds[1 + LISTEN_MAX + CONN_MAX];
	struct conn *polled[1 + LISTEN_MAX + CONN_MAX], *cn;
	struct timespec ts;
	long long deadline, now;
	int nfds = 0, i, done, in_slot = -1, listen_slot = -1, in_use = 0;
	int listen_n = 0;

	if (suspended && c->ed != NULL) {	/* Ctrl-Z */
		suspended = 0;
		ed_suspend(c);
	}
	if (resized && c->ed != NULL) {	/* a new width: draw anew */
		resized = 0;
		ed_size(c);
		c->ed->dirty = 1;
	}
	if (resumed && c->ed != NULL) {	/* back from Ctrl-Z: raw again */
		resumed = 0;
		term_raw();
		c->ed->paste_on = 0;
		ed_size(c);
		c->ed->shown = 0;
		c->ed->dirty = 1;
	}
	if (resumed) {		/* back from Ctrl-Z: our mode again */
		resumed = 0;
		if (c->peer != NULL && c->peer->state == CONN_OURS &&
		    c->in_tty) {
			term_restore();
			chat_prompt(c);
		} else
			term_quiet();
	}
	chat_our_lines(c);
	if (stop_signal) {
		chat_stop(c);
		return c->status;
	}
	done = chat_done(c);
	deadline = stranger_due(c);
	for (cn = c->conns; cn < c->conns_end; cn++) {
		if (cn->state == CONN_FREE)
			continue;
		/* Done: a candidate waits for a conversation that will
		 * never be. It has our HELLO, so QUIT is the goodbye. */
		if (done && conn_in_handshake(cn) && cn != c->peer)
			conn_last(c, cn, CHAT_EXIT_OK, VERB_QUIT, NULL);
		if (cn->state == CONN_FREE)
			continue;
		in_use = 1;
		polled[nfds] = cn;
		fds[nfds].fd = cn->fd;
		fds[nfds++].events = POLLIN;
		deadline = deadline_min(deadline, cn->deadline);
	}
	if (done && !in_use) {
		if (stranger_counted(c))	/* the last count, early */
			stranger_summary(c);
		return c->status;
	}
	/* A terminal is read only on our turn (its keys are ours then),
	 * unless the editor reads it, always; other input may be read
	 * ahead, so that a listener sees its input end before it accepts
	 * another peer. */
	if (!c->in_eof && (c->ed != NULL || (linebuf_room(&c->in) > 0 &&
	    ((c->peer != NULL && c->peer->state == CONN_OURS) ||
	    (!c->in_tty && c->listening && c->peer == NULL &&
	    !linebuf_pending(&c->in)))))) {
		in_slot = nfds;
		fds[nfds].fd = c->in_fd;
		fds[nfds++].events = POLLIN;
	}
	if (!done && !c->accept_paused) {
		listen_slot = nfds;
		for (i = 0; i < LISTEN_MAX && c->listen_fd[i] >= 0; i++) {
			fds[nfds].fd = c->listen_fd[i];
			fds[nfds++].events = POLLIN;
			listen_n++;
		}
	}

	ed_update(c);		/* the input line as things now stand */
	if (compat_wait(fds, nfds, wait_until(c, deadline, &ts),
	    &wait_mask) < 0) {
		if (errno == EINTR)
			return -1;
		say(c, SAY_ERROR, "poll: %s", strerror(errno));
		return CHAT_EXIT_IO;
	}
	if (stop_signal)
		return -1;

	for (i = 0; i < nfds; i++) {
		if (fds[i].revents == 0 || i == in_slot || (i >= listen_slot &&
		    i < listen_slot + listen_n))
			continue;
		cn = polled[i];	/* closed meanwhile by another's HELLO? */
		if (cn->state != CONN_FREE && cn->fd == fds[i].fd)
			chat_input(c, cn);
	}
	if (in_slot >= 0 && fds[in_slot].revents)
		chat_stdin_input(c);
	/* (The last conversation may have ended in this very step.) */
	for (i = listen_slot; i < listen_slot + listen_n; i++)
		if (fds[i].revents && !chat_done(c))
			chat_accept(c, fds[i].fd);
	chat_our_lines(c);	/* what came in may be ours to send */

	/* Only a deadline set before the wait can have passed (one set
	 * since is in the future): with none, skip the clock. */
	if (deadline < 0)
		return -1;
	now = c->clock();
	for (cn = c->conns; cn < c->conns_end; cn++)
		if (cn->state != CONN_FREE && cn->deadline >= 0 &&
		    now >= cn->deadline)
			conn_timeout(c, cn);
	if (stranger_due(c) >= 0 && now >= stranger_due(c))
		stranger_summary(c);
	return -1;
}

/* === Command-line mistakes ================================================ */

/*
 * The edits between a and b (inserted, deleted or changed bytes, and two
 * neighbours swapped), counted to 3 at most: only 1 and 2 matter.
 */
static int
typo_distance(const char *a, size_t an, const char *b, size_t bn)
{
	int d[TYPO_MAX + 1][TYPO_MAX + 1], v;
	size_t i, j;

	if (an > TYPO_MAX || bn > TYPO_MAX)
		return 3;
	for (i = 0; i <= an; i++)
		for (j = 0; j <= bn; j++) {
			if (i == 0 || j == 0) {
				d[i][j] = (int)(i + j);
				continue;
			}
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[an][bn] < 3 ? d[an][bn] : 3;
}

/*
 * The long options word ("--conect", "--port=x") may have meant, as
 * "--connect" or "--listen or --log" in out: those it begins (chat takes
 * no abbreviation, see typo_prefix()), else the nearest within two edits.
 * Returns 0 if none.
 */
static int
typo_option(const struct option *opts, const char *word, char *out,
    size_t size)
{
	const struct option *o, *best = NULL;
	size_t n, len = 0;
	int d, least = 3, found = 0;

	if (strncmp(word, "--", 2) != 0)
		return 0;
	word += 2;
	n = strcspn(word, "=");
	for (o = opts; n > 0 && o->name != NULL; o++)
		if (strncmp(o->name, word, n) == 0 && len < size)
			len += (size_t)snprintf(out + len, size - len, "%s--%s",
			    found++ == 0 ? "" : " or ", o->name);
	if (found > 0)
		return 1;
	for (o = opts; o->name != NULL; o++) {
		d = typo_distance(word, n, o->name, strlen(o->name));
		if (d < least) {
			least = d;
			best = o;
		}
	}
	if (best != NULL)
		snprintf(out, size, "--%s", best->name);
	return best != NULL;
}

/* Whether word is one of opts, whole: "--listen", "--log=x". */
static int
typo_is_option(const struct option *opts, const char *word)
{
	size_t n = strcspn(word, "=");

	for (; strncmp(word, "--", 2) == 0 && opts->name != NULL; opts++)
		if (n == strlen(opts->name) + 2 &&
		    strncmp(word + 2, opts->name, n - 2) == 0)
			return 1;
	return 0;
}

/*
 * The word that gave long option o (next: optind after it; arg: its
 * argument, or NULL), if it is only a prefix of o's name: getopt_long()
 * takes any unambiguous prefix, chat does not, so that --port is not
 * quietly --port-file, nor an option added later an error. Else NULL.
 */
static const char *
typo_prefix(const struct option *o, char **argv, int next, const char *arg)
{
	const char *w = argv[next - 1];
	size_t n = strlen(o->name);

	if (arg != NULL && arg == w)	/* "--name NAME": NAME is next - 1 */
		w = argv[next - 2];
	return strncmp(w + 2, o->name, n) == 0 && (w[n + 2] == '\0' ||
	    w[n + 2] == '=') ? NULL : w;
}

/*
 * A long option written with one dash ("-listen", which getopt would
 * read as -l isten): its name, or NULL. Words that are an option's
 * argument ("--name -once") are passed over.
 */
static const char *
typo_one_dash(const struct option *opts, const char *shorts, int argc,
    char **argv)
{
	const struct option *o;
	const char *w, *p, *s;
	int i, arg = 0;

	for (i = 1; i < argc; i++) {
		w = argv[i];
		if (arg) {		/* the argument of the option before */
			arg = 0;
			continue;
		}
		if (strcmp(w, "--") == 0)
			break;
		if (w[0] != '-' || w[1] == '\0')
			continue;
		/* --name, or --na as getopt_long() takes it: the next word
		 * is its argument unless it came with '='. */
		if (w[1] == '-') {
			for (o = opts; strchr(w, '=') == NULL && o->name != NULL;
			    o++)
				if (strstr(o->name, w + 2) == o->name)
					arg |= o->has_arg == required_argument;
			continue;
		}
		for (o = opts; w[2] != '\0' && o->name != NULL; o++)
			if (strcmp(w + 1, o->name) == 0)
				return o->name;
		/* -Vn: the first short option that takes an argument takes
		 * the rest of the word, or the next word. */
		for (p = w + 1; *p != '\0' && *p != ':' &&
		    (s = strchr(shorts, *p)) != NULL; p++)
			if (s[1] == ':') {
				arg = p[1] == '\0';
				break;
			}
	}
	return NULL;
}

/* Whether s is a port number, from min to 65535. */
static int
typo_port(const char *s, long min)
{
	size_t n = strspn(s, "0123456789");
	long value = n > 0 && n <= 5 ? strtol(s, NULL, 10) : -1;

	return s[n] == '\0' && value >= min && value <= 65535;
}

/*
 * "HOST PORT" the way nc takes them: HOST:PORT (IPv6 in brackets) in
 * out, or 0 if port is no port (from min to 65535) or host already has
 * one (or is a port).
 */
static int
typo_endpoint(char *out, size_t size, const char *host, const char *port,
    long min)
{
	size_t hlen = strlen(host);
	int bracketed = host[0] == '[' && hlen > 2 && host[hlen - 1] == ']' &&
	    strchr(host, ']') == host + hlen - 1;

	if (!typo_port(port, min) ||
	    host[0] == '\0' || (host[0] == '[' && !bracketed) ||
	    host[strspn(host, "0123456789")] == '\0' ||
	    strncmp(host, "unix:", 5) == 0 || (!bracketed &&
	    strchr(host, ':') != NULL && strchr(host, ':') ==
	    strrchr(host, ':')))	/* one ':' is HOST:PORT already */
		return 0;
	return snprintf(out, size, !bracketed && strchr(host, ':') != NULL ?
	    "[%s]:%s" : "%s:%s", host, port) < (int)size;
}

/*
 * The n words left after the options (rest), as nc's habits leave them:
 * "HOST PORT" (HOST the --listen or --connect argument, or none); "-lp
 * PORT", "-l -p PORT" (nc's flags where chat takes its port, in spec,
 * joined to -l or not); an endpoint with no option. The option meant,
 * 'l' or 'c', with its argument in out; or 0.
 */
static int
typo_arguments(int mode, const char *spec, int joined, char **rest, int n,
    char *out, size_t size)
{
	struct endpoint ep;

	if (mode == 'l' && n == 1 && (spec[0] == '-' || (joined &&
	    spec[strspn(spec, "46bdknpuvz")] == '\0')) && typo_port(rest[0], 0))
		return snprintf(out, size, "%s", rest[0]) < (int)size ? 'l' : 0;
	if (spec != NULL && n == 1 && typo_endpoint(out, size, spec, rest[0],
	    mode == 'l' ? 0 : 1))
		return mode;
	if (spec == NULL && n == 2 && typo_endpoint(out, size, rest[0],
	    rest[1], 1))
		return 'c';
	if (spec == NULL && n == 1 && (endpoint_parse(rest[0],
	    ENDPOINT_CONNECT, &ep) == NULL || endpoint_parse(rest[0],
	    ENDPOINT_LISTEN, &ep) == NULL)) {
		snprintf(out, size, "%s", rest[0]);
		return strchr(rest[0], ':') != NULL ? 'c' : 'l';
	}
	return 0;
}

/*
 * A URL where HOST:PORT was expected ("http://localhost:5000/"): its
 * HOST:PORT, or HOST:PORT with the word PORT where it has none, in out.
 * Returns 0 if spec is no URL.
 */
static int
typo_url(char *out, size_t size, const char *spec)
{
	const char *host = strstr(spec, "://"), *at, *end, *colon;
	size_t n;

	if (host == NULL)
		return 0;
	host += 3;
	n = strcspn(host, "/?#");
	if ((at = memchr(host, '@', n)) != NULL) {	/* user@ */
		n -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	if (n == 0) {
		snprintf(out, size, "HOST:PORT");
		return 1;
	}
	end = host + n;
	colon = NULL;
	for (at = host; at < end; at++)
		if (*at == ':')
			colon = at;
		else if (*at == ']')
			colon = NULL;
	snprintf(out, size, "%.*s%s", (int)n, host, colon != NULL &&
	    colon + 1 < end ? "" : colon != NULL ? "PORT" : ":PORT");
	return 1;
}

/* === main ================================================================= */

/*
 * --connect: connect, then converse. With --wait (wait_ms >= 0), a
 * listener that is busy, full or not listening yet is tried again, after
 * 0.1 s, then twice as long each time up to 1 s, until it serves us or
 * wait_ms have passed; then one last try reports as without --wait.
 * Returns the exit status.
 */
static int
chat_connect(struct chat *c, const struct endpoint *ep, long long wait_ms)
{
	char name[PEER_NAME_MAX];
	long long deadline = c->clock() + wait_ms, pause = 100, left;
	struct timespec ts;
	int fd, status, said = 0;

	for (;;) {
		c->wait_quiet = wait_ms >= 0 && c->clock() < deadline;
		c->waiting = NULL;
		c->status = CHAT_EXIT_OK;
		c->conversations = 0;
		if ((fd = net_connect(c, ep, name, sizeof(name))) >= 0)
			chat_begin(c, fd, name);
		if (c->peer != NULL)
			while ((status = chat_step(c)) < 0)
				continue;
		else
			status = c->status;
		if (c->waiting == NULL || stop_signal)
			break;
		if (!said++)
			say(c, SAY_STATUS, "Waiting for %s (%s), up to %lld "
			    "second%s.", c->where, c->waiting, wait_ms / 1000,
			    wait_ms == 1000 ? "" : "s");
		left = deadline - c->clock();
		wait_until(c, c->clock() + (left < pause ? left : pause), &ts);
		compat_wait(NULL, 0, &ts, &wait_mask);	/* Ctrl-C ends it */
		if (stop_signal)
			break;
		pause = pause * 2 > 1000 ? 1000 : pause * 2;
	}
	if (stop_signal && status != CHAT_EXIT_SIGNAL) {
		chat_stop(c);
		status = c->status;
	}
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "show-names", no_argument, NULL, 's' },
		{ "secret-file", required_argument, NULL, 'S' },
		{ "block", required_argument, NULL, 'b' },
		{ "wait", required_argument, NULL, 'w' },
		{ "log", required_argument, NULL, 'L' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct chat_config cfg;
	struct chat *c;
	struct endpoint ep;
	static unsigned char secret[SECRET_MAX + 1];
	static const char shorts[] = ":l:c:t:n:hV";
	char shown[CHAT_ESCAPED_MAX(CHAT_NAME_MAX) + 1];
	char hint[CHAT_HOST_MAX + sizeof(":65535")];
	const char *spec = NULL, *why, *secret_file = NULL, *port_file = NULL;
	int ch, mode = 0, help = 0, version = 0, status, n, block = 0, idx;
	int spec_joined = 0, hinted;
	int fds[LISTEN_MAX], port_fifo = -1, port_written = 0, sock_made = 0;
	struct stat sock, port_st;
	long long wait_ms = -1;
	ssize_t secret_len;

	memset(&cfg, 0, sizeof(cfg));
	cfg.timeout_ms = -1;
	cfg.block_ms = BLOCK_SECS * 1000LL;
	cfg.in_fd = STDIN_FILENO;
	cfg.out_fd = STDOUT_FILENO;
	cfg.err_fd = STDERR_FILENO;
	opterr = 0;		/* our own messages, with our own name */
	if ((why = typo_one_dash(longopts, shorts, argc, argv)) != NULL) {
		warn_usage("unknown option '-%s'; did you mean --%s?", why,
		    why);
		return CHAT_EXIT_USAGE;
	}
	for (idx = -1; (ch = getopt_long(argc, argv, shorts, longopts,
	    &idx)) != -1; idx = -1) {
		if (idx >= 0 && (why = typo_prefix(longopts + idx, argv, optind,
		    optarg)) != NULL) {
			typo_option(longopts, why, hint, sizeof(hint));
			warn_usage("unknown option '%s'; did you mean %s?", why,
			    hint);
			return CHAT_EXIT_USAGE;
		}
		/* "--log=" (a FILE's option), or "--log --listen 5000": no
		 * argument. */
		if (idx >= 0 && optarg != NULL && ((optarg[0] == '\0' &&
		    strchr("LPS", ch) != NULL) || (optarg == argv[optind - 1] &&
		    typo_is_option(longopts, optarg)))) {
			warn_usage("option '--%s' needs an argument",
			    longopts[idx].name);
			return CHAT_EXIT_USAGE;
		}
		switch (ch) {
		case 'l':
		case 'c':
			if (mode != 0) {
				warn_usage("--listen and --connect go alone, "
				    "and once each");
				return CHAT_EXIT_USAGE;
			}
			mode = ch;
			spec = optarg;
			spec_joined = optarg != argv[optind - 1];	/* -lp */
			break;
		case 'o':
			cfg.once = 1;
			break;
		case 't':
			if (parse_seconds(optarg, &cfg.timeout_ms) < 0) {
				warn_usage("bad --timeout '%s': expected "
				    "seconds from 1 to %d", optarg,
				    TIMEOUT_MAX_SECS);
				return CHAT_EXIT_USAGE;
			}
			break;
		case 'n':
			if (!name_valid(optarg, strlen(optarg))) {
				n = strlen(optarg) > CHAT_NAME_MAX ?
				    CHAT_NAME_MAX : (int)strlen(optarg);
				shown[display_escape(shown, optarg, n)] = '\0';
				warn_usage("bad --name '%s%s': 1 to %d bytes "
				    "of printable UTF-8, no spaces", shown,
				    strlen(optarg) > CHAT_NAME_MAX ? "..." : "",
				    CHAT_NAME_MAX);
				return CHAT_EXIT_USAGE;
			}
			cfg.name = optarg;
			break;
		case 's':
			cfg.show_names = 1;
			break;
		case 'S':
			secret_file = optarg;
			break;
		case 'L':
			cfg.log_path = optarg;
			break;
		case 'P':
			port_file = optarg;
			break;
		case 'b':
		case 'w':
			if (parse_seconds(optarg, ch == 'b' ? &cfg.block_ms :
			    &wait_ms) < 0) {
				warn_usage("bad --%s '%s': expected seconds "
				    "from 1 to %d", ch == 'b' ? "block" :
				    "wait", optarg, TIMEOUT_MAX_SECS);
				return CHAT_EXIT_USAGE;
			}
			block |= ch == 'b';
			break;
		case 'h':
			help = 1;
			break;
		case 'V':
			version = 1;
			break;
		case ':':
			warn_usage("option '%s' needs an argument",
			    argv[optind - 1]);
			return CHAT_EXIT_USAGE;
		default:
			if (optopt != 0)	/* maybe amid a cluster */
				warn_usage("unknown option '-%c'", optopt);
			else if (typo_option(longopts, argv[optind - 1], hint,
			    sizeof(hint)))
				warn_usage("unknown option '%s'; did you mean "
				    "%s?", argv[optind - 1], hint);
			else
				warn_usage("unknown option '%s'",
				    argv[optind - 1]);
			return CHAT_EXIT_USAGE;
		}
	}
	if (optind < argc && (hinted = typo_arguments(mode, spec, spec_joined,
	    argv + optind, argc - optind, hint, sizeof(hint))) != 0) {
		warn_usage("unexpected argument '%s': did you mean --%s %s?",
		    argv[optind], hinted == 'l' ? "listen" : "connect", hint);
		return CHAT_EXIT_USAGE;
	}
	if (optind < argc) {
		warn_usage("unexpected argument '%s'", argv[optind]);
		return CHAT_EXIT_USAGE;
	}
	if (spec != NULL && strncmp(spec, "unix:", 5) != 0 &&
	    typo_url(hint, sizeof(hint), spec)) {
		warn_usage("bad endpoint '%s': that is a URL; give HOST:PORT, "
		    "as in %s", spec, hint);
		return CHAT_EXIT_USAGE;
	}
	why = spec == NULL ? NULL : endpoint_parse(spec, mode == 'l' ?
	    ENDPOINT_LISTEN : ENDPOINT_CONNECT, &ep);
	if (why != NULL) {
		warn_usage("bad endpoint '%s': %s", spec, why);
		return CHAT_EXIT_USAGE;
	}
	/* Only a command line that parses gets help: a typo next to
	 * --help should not pass unnoticed. And help that could not be
	 * written is an error, as any output is. */
	if (help || version)	/* a closed pipe too is an error, said */
		signal(SIGPIPE, SIG_IGN);
	if (help)
		usage(stdout);
	else if (version)
		printf("chat %s\nprotocols %s\n", CHAT_VERSION, CHAT_PROTOCOLS);
	/* (A write that failed while printing leaves the error flag set
	 * and the buffer empty: musl's is smaller than the help.) */
	if ((help || version) && (fflush(stdout) == EOF || ferror(stdout))) {
		fprintf(stderr, "chat: write stdout: %s\n", strerror(errno));
		return CHAT_EXIT_IO;
	}
	if (help || version)
		return CHAT_EXIT_OK;
	if (mode == 0 || spec == NULL) {
		warn_usage("missing --listen [ADDR:]PORT or --connect "
		    "HOST:PORT");
		return CHAT_EXIT_USAGE;
	}
	if ((cfg.once || block || port_file != NULL) && mode != 'l') {
		warn_usage("--%s needs --listen", cfg.once ? "once" : block ?
		    "block" : "port-file");
		return CHAT_EXIT_USAGE;
	}
	if (wait_ms >= 0 && mode != 'c') {
		warn_usage("--wait needs --connect");
		return CHAT_EXIT_USAGE;
	}
	if ((secret_len = secret_load(secret_file, secret, SECRET_MAX)) < 0)
		return CHAT_EXIT_USAGE;
	if (secret_len > 0) {
		cfg.secret = secret;
		cfg.secret_len = (size_t)secret_len;
	} else if (block) {
		warn_usage("--block needs a secret (--secret-file FILE or "
		    "CHAT_SECRET)");
		return CHAT_EXIT_USAGE;
	}

	stdfds_init();	/* first: the log must not become fd 1 */
	if (cfg.log_path != NULL && (cfg.log_fd = open(cfg.log_path,
	    O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC,
	    0666)) < 0) {
		fprintf(stderr, "chat: open log %s: %s\n", cfg.log_path,
		    strerror(errno));
		return CHAT_EXIT_USAGE;
	}
	chat_signals_init();
	cfg.listening = mode == 'l';
	cfg.where = spec;
	if ((c = chat_new(&cfg)) == NULL) {
		fprintf(stderr, "chat: %s\n", strerror(errno));
		return CHAT_EXIT_IO;
	}
	if (c->in_tty)
		term_init(c->in_fd);
	ed_open(c);
	if (cfg.listening && (n = net_listen(c, &ep, spec, fds)) > 0) {
		if (c->ed != NULL && (ep.host[0] == '\0' ||
		    strcmp(ep.host, "0.0.0.0") == 0 ||
		    strcmp(ep.host, "::") == 0))
			net_reach(c, fds[0]);
		while (n-- > 0)
			chat_serve(c, fds[n]);
		if (ep.local)
			sock_made = stat(ep.host, &sock) == 0;
		if (port_file != NULL && port_file_listening(port_file, fds[0],
		    &ep, &port_fifo, &port_st) < 0) {
			say(c, SAY_ERROR, "write port file %s: %s", port_file,
			    strerror(errno));
			c->status = CHAT_EXIT_IO;
		} else
			port_written = port_file != NULL;
	}
	else if (cfg.listening)
		c->status = CHAT_EXIT_NET;
	if (stop_signal)	/* while resolving or binding */
		chat_stop(c);
	status = c->status;
	if (!cfg.listening)
		status = chat_connect(c, &ep, wait_ms);
	else if (c->listen_fd[0] >= 0 && (port_file == NULL || port_written))
		while ((status = chat_step(c)) < 0)
			continue;
	ed_close(c);
	term_restore();
	chat_free(c);
	if (port_fifo >= 0)
		close(port_fifo);
	else if (port_written)
		file_remove(port_file, &port_st);
	if (sock_made)
		file_remove(ep.host, &sock);
	return status;
}
