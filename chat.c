/*
 * chat.c - strict turn-taking two-party chat over TCP.
 *
 * One side listens and speaks first, the other connects; they alternate
 * one message each until either sends QUIT. Everything runs in one poll
 * loop over stdin, the peer and the listening socket, driven by an
 * explicit turn state. The README specifies the protocol, the output
 * lines and the exit codes.
 */
#define _GNU_SOURCE	/* ppoll(), accept4(): both also in POSIX.1-2024 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
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

#include "chat.h"

/* After we send QUIT or ERR, wait this long for the peer to close. */
#define LINGER_MS	2000
/* Writes up to this long are gathered into one buffer (io_write_all). */
#define GATHER_MAX	1024
/* The most net_drain() reads before a close: a frame and a bit. */
#define DRAIN_MAX	((size_t)2 * CHAT_FRAME_MAX)
/* A numeric host (IPv6 with a scope id fits) and a port, as shown. */
#define HOST_NUM_MAX	64
#define PEER_NAME_MAX	(HOST_NUM_MAX + sizeof("[]:65535"))
/* Status and error lines longer than this are cut. */
#define SAY_MAX		512
/* Room for status lines held back while the user types at the prompt. */
#define HELD_MAX	1024
/* A peer message that needs escaping is shown in pieces of at most this
 * many bytes: escaped, the longest message may be 4 x 65532 bytes, and a
 * buffer for all of it would be most of chat's memory. */
#define SHOWN_MAX	4096
/* Of an ERR reason from the peer, quote at most this many bytes. */
#define REASON_MAX	120
#define LISTEN_BACKLOG	16
#define TIMEOUT_MAX_SECS 86400
#define PROMPT		"Your message: "

/* What say() writes. */
enum say_flags {
	SAY_STATUS = 0,		/* a status line */
	SAY_ERROR = 1,		/* an error: "chat: " first */
	SAY_HOLD = 2		/* may wait until the user's line is typed */
};

enum turn {
	TURN_NONE,	/* no peer */
	TURN_HELLO,	/* waiting for the peer's HELLO */
	TURN_OURS,	/* we type, the peer listens */
	TURN_THEIRS	/* the peer types, we listen */
};

/* How a conversation's socket is let go. */
enum ending {
	END_CLOSE,	/* the peer is gone or told us to go: close now */
	END_LINGER	/* we sent QUIT or ERR: let it reach the peer first */
};

/* Code points first to last, for display escaping. */
struct cp_range {
	unsigned long first, last;
};

/* The poll slots, in the order of struct pollfd fds[]. */
enum { POLL_LISTEN, POLL_PEER, POLL_STDIN, POLL_LINGER, POLL_SLOTS };

struct chat {
	/* what the command line asked for */
	int listening;			/* --listen, else --connect */
	int once;			/* --once */
	long long timeout_ms;		/* --timeout, or -1 for none */
	const char *where;		/* HOST:PORT as given, for errors */

	/* local side */
	int in_fd, out_fd;		/* stdin, stdout */
	int in_tty;			/* stdin is a terminal */
	int in_eof;			/* stdin has ended */
	unsigned long in_lineno;	/* lines taken from stdin so far */
	struct linebuf in;		/* stdin, cut into lines */

	/* network */
	int listen_fd;			/* -1 for a connector */
	int peer_fd;			/* -1 between conversations */
	enum turn turn;
	long long deadline;		/* for the peer's turn, -1 for none */
	long long frame_deadline;	/* for the frame begun, -1 for none */
	char peer_name[PEER_NAME_MAX];	/* ADDR:PORT of the peer */
	struct linebuf net;		/* the peer's bytes, cut into frames */
	int linger_fd;			/* a finished socket, drained to EOF */
	long long linger_deadline;
	int accept_paused;		/* out of fds: accept when one closes */

	int status;			/* exit status of the last conversation */
	int finished;			/* exit once the sockets are let go */
};

static void	 chat_accept(struct chat *);
static void	 chat_end(struct chat *, int, enum ending);
static void	 chat_init(struct chat *, int, int);
static void	 chat_linger_close(struct chat *);
static int	 chat_loop(struct chat *);
static int	 chat_our_line(struct chat *);
static void	 chat_our_turn(struct chat *);
static void	 chat_peer_frame(struct chat *, const char *, size_t);
static void	 chat_peer_gone(struct chat *, int);
static void	 chat_peer_input(struct chat *);
static void	 chat_prompt(void);
static void	 chat_protocol_error(struct chat *, const char *);
static void	 chat_quit(struct chat *, int);
static void	 chat_show(struct chat *, const char *, size_t);
static void	 chat_start(struct chat *, int);
static void	 chat_stdin_input(struct chat *);
static void	 chat_stop(struct chat *);
static void	 chat_their_turn(struct chat *);
static void	 chat_timeout(struct chat *);
static int	 emoji_code_point(unsigned long);
static size_t	 escape_hex(char *, char, unsigned long, int);
static size_t	 escape_unit(char *, const unsigned char *, size_t, size_t,
		    size_t *);
static long long frame_ms(const struct chat *);
static int	 io_write_all(int, int, struct iovec *, int, long long);
static int	 io_write_local(int, struct iovec *, int);
static int	 net_connect(struct chat *, const struct endpoint *);
static void	 net_drain(int);
static int	 net_listen(const struct endpoint *, const char *);
static void	 net_name(const struct sockaddr *, socklen_t, char *, size_t);
static int	 net_send(struct chat *, const char *, const char *, size_t);
static void	 net_tune(int);
static long long now_ms(void);
static void	 on_signal(int);
static int	 parse_seconds(const char *, long long *);
static void	 prompt_end(int);
static int	 range_holds(const struct cp_range *, size_t, unsigned long);
static void	 say(int, const char *, ...);
static int	 show_escaped(int, const char *, size_t);
static void	 signals_init(void);
static void	 stdfds_init(void);
static void	 term_cooked(void);
static void	 term_init(int);
static void	 term_quiet(void);
static void	 term_restore(void);
static int	 unsafe_code_point(unsigned long);
static void	 usage(FILE *);
static size_t	 utf8_decode(const unsigned char *, size_t, unsigned long *);
static size_t	 utf8_decode_before(const unsigned char *, size_t,
		    unsigned long *);
static struct timespec	 *wait_until(long long, struct timespec *);
static int	 zwj_joins_emoji(const unsigned char *, size_t, size_t);

/* Set by on_signal() to the stop signal that arrived; the loop acts on it. */
static volatile sig_atomic_t stop_signal;
/* Stop signals so far: a write sees from it that one came meanwhile. */
static volatile sig_atomic_t stop_count;
/* Set on SIGCONT: after Ctrl-Z and fg the shell may have reset the terminal. */
static volatile sig_atomic_t resumed;
/* The signal mask ppoll() waits with: our stop signals unblocked. */
static sigset_t wait_mask;
/* stdin, stdout, stderr: a regular file, which never holds a write. */
static int never_blocks[3];
/* The terminal's settings when we started, restored on every way out. */
static struct termios term_saved;
static int term_fd = -1;	/* stdin when it is a terminal and saved */
/* The prompt is on screen with no newline yet: put status lines below. */
static int prompt_open;
/* SAY_HOLD lines that came while the prompt was open, and those lost. */
static char held[HELD_MAX];
static size_t held_len;
static unsigned held_lost;
/* A peer message as shown ("They say: ", the escaped text, LF), or the
 * next piece of it. */
static char shown[SHOWN_MAX];

/* === Time ================================================================ */

/* Milliseconds on a clock that never jumps. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The time left until deadline as a ppoll() timeout; NULL for none. */
static struct timespec *
wait_until(long long deadline, struct timespec *ts)
{
	long long left;

	if (deadline < 0)
		return NULL;
	left = deadline - now_ms();
	if (left < 0)
		left = 0;
	ts->tv_sec = left / 1000;
	ts->tv_nsec = (left % 1000) * 1000000;
	return ts;
}

/* === Messages on stderr =================================================== */

/*
 * Write one status line in one write. A SAY_HOLD line that comes while the
 * user types at the prompt waits for the end of that line: printed now,
 * it would push what they typed out of sight, though it is still sent.
 * stderr failing is not worth dying over, so its errors are ignored.
 */
static void
say(int flags, const char *fmt, ...)
{
	char line[SAY_MAX];
	struct iovec iov;
	va_list ap;
	int n = 0, m;

	if (flags & SAY_ERROR)
		n += snprintf(line, sizeof(line), "chat: ");
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)	/* cut: still end the line */
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if ((flags & SAY_HOLD) && prompt_open) {
		if (held_len + n <= sizeof(held)) {
			memcpy(held + held_len, line, n);
			held_len += n;
		} else
			held_lost++;
		return;
	}
	prompt_end(0);
	iov.iov_base = line;
	iov.iov_len = n;
	io_write_local(STDERR_FILENO, &iov, 1);
}

/*
 * The prompt's line is over: the user ended it (entered), or we must end
 * it to write below. Then show the lines held back meanwhile.
 */
static void
prompt_end(int entered)
{
	struct iovec iov;
	unsigned lost = held_lost;

	if (!prompt_open)
		return;
	prompt_open = 0;
	if (!entered) {
		iov.iov_base = "\n";
		iov.iov_len = 1;
		io_write_local(STDERR_FILENO, &iov, 1);
	}
	if (held_len > 0) {
		iov.iov_base = held;
		iov.iov_len = held_len;
		io_write_local(STDERR_FILENO, &iov, 1);
	}
	held_len = 0;
	held_lost = 0;
	if (lost > 0)	/* only "Turned away" lines are held */
		say(SAY_STATUS, "Turned away %u more: busy", lost);
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: chat --listen [ADDR:]PORT [--once] [--timeout SECS]\n"
	    "       chat --connect HOST:PORT [--timeout SECS]\n"
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
	    "      --once                listener: one conversation, then exit\n"
	    "  -t, --timeout SECS        longest wait for the peer (1-%d)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             version and protocol\n"
	    "\n"
	    "Exit: 0 ended normally, 1 local I/O error, 2 usage, 3 network,\n"
	    "4 peer vanished or broke the protocol, 5 busy, 6 timeout,\n"
	    "7 interrupted.\n", TIMEOUT_MAX_SECS);
}

/* === Writing everything =================================================== */

/*
 * Write all of iov to fd, a socket if is_socket, across partial writes
 * and EINTR. A non-blocking fd that is full is waited for until deadline
 * (-1: no limit). A stop signal arriving meanwhile ends the wait.
 * Returns 0, or -1 with errno (ETIMEDOUT at the deadline, EINTR on a
 * stop signal).
 */
static int
io_write_all(int fd, int is_socket, struct iovec *iov, int iovcnt,
    long long deadline)
{
	sig_atomic_t stops = stop_count;
	char gather[GATHER_MAX];
	struct iovec whole;
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
		if (iovcnt > 1)
			n = writev(fd, iov, iovcnt);
		else if (is_socket)
			n = send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
		else
			n = write(fd, iov->iov_base, iov->iov_len);
		for (; n >= 0 && iovcnt > 0 && (size_t)n >= iov->iov_len;
		    iov++, iovcnt--)
			n -= (ssize_t)iov->iov_len;
		if (iovcnt == 0)
			break;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
		/* Only what is still unsent can be interrupted: a signal
		 * after the last byte went out changes nothing here. */
		if (stop_count != stops) {
			errno = EINTR;
			return -1;
		}
		if (n >= 0 || errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (deadline >= 0 && now_ms() >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (ppoll(&pfd, 1, wait_until(deadline, &ts),
			    &wait_mask) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/*
 * Write all of iov to stdout or stderr. These block, and may block for
 * good (a reader that stopped, a terminal paused with Ctrl-S), so the stop
 * signals are let in meanwhile: Ctrl-C must still work. A file never
 * holds a write, so there the two mask swaps, a third of the system
 * calls of a turn, are skipped. Returns as io_write_all().
 */
static int
io_write_local(int fd, struct iovec *iov, int iovcnt)
{
	sigset_t blocked;
	int r;

	if (fd <= 2 && never_blocks[fd])	/* no mask to swap: cheaper */
		return io_write_all(fd, 0, iov, iovcnt, -1);
	sigprocmask(SIG_SETMASK, &wait_mask, &blocked);
	r = io_write_all(fd, 0, iov, iovcnt, -1);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	return r;
}

/* === Line framing ========================================================= */

void
linebuf_init(struct linebuf *lb, size_t max)
{
	lb->max = max < CHAT_FRAME_MAX ? max : CHAT_FRAME_MAX;
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
	*room = sizeof(lb->data) - lb->len;
	return lb->data + lb->len;
}

size_t
linebuf_room(const struct linebuf *lb)
{
	return sizeof(lb->data) - (lb->len - lb->start);
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

/* === Frames =============================================================== */

enum verb
frame_parse(const char *line, size_t len, const char **payload, size_t *plen)
{
	static const struct {
		const char *name;
		enum verb verb;
	} verbs[] = {
		{ "MSG", VERB_MSG }, { "HELLO", VERB_HELLO },
		{ "QUIT", VERB_QUIT }, { "BUSY", VERB_BUSY }, { "ERR", VERB_ERR },
	};
	const char *space = memchr(line, ' ', len);
	size_t vlen = space ? (size_t)(space - line) : len;
	size_t i;

	*payload = space ? space + 1 : line + len;
	*plen = len - (*payload - line);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == vlen &&
		    memcmp(verbs[i].name, line, vlen) == 0)
			return verbs[i].verb;
	return VERB_UNKNOWN;
}

int
hello_speaks(const char *payload, size_t plen)
{
	const size_t want = sizeof(CHAT_PROTOCOL) - 1;
	const char *word = payload, *end = payload + plen, *space;

	for (;;) {
		space = memchr(word, ' ', end - word);
		if (space == NULL)
			space = end;
		if ((size_t)(space - word) == want &&
		    memcmp(word, CHAT_PROTOCOL, want) == 0)
			return 1;
		if (space == end)
			return 0;
		word = space + 1;
	}
}

/* === Endpoints ============================================================ */

const char *
endpoint_parse(const char *spec, enum endpoint_use use, struct endpoint *ep)
{
	const char *host, *host_end, *port, *p;
	size_t hlen;
	long value = 0;

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

	if (term_fd < 0)
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
term_cooked(void)
{
	int pending = 0;

	if (term_fd < 0)
		return;
	if (ioctl(term_fd, FIONREAD, &pending) < 0)
		pending = 0;
	tcsetattr(term_fd, TCSAFLUSH, &term_saved);
	if (pending > 0)
		say(SAY_STATUS, "Ignored input typed during their turn.");
}

static void
term_restore(void)
{
	if (term_fd >= 0)
		tcsetattr(term_fd, TCSANOW, &term_saved);
}

/* === Signals and start-up ================================================ */

static void
on_signal(int sig)
{
	if (sig == SIGCONT) {
		resumed = 1;
		return;
	}
	stop_signal = sig;
	stop_count++;
}

/*
 * SIGPIPE is ignored: a vanished peer or reader is an error to report,
 * not a death. The caught signals stay blocked except inside ppoll(), so
 * one arriving between a check of its flag and the wait cannot be missed
 * (a blocked SIGCONT still continues the process).
 */
static void
signals_init(void)
{
	static const int caught[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
		SIGCONT };
	struct sigaction sa;
	sigset_t block;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake ppoll() */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++) {
		sigaction(caught[i], &sa, NULL);
		sigaddset(&block, caught[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigdelset(&wait_mask, caught[i]);
}

/*
 * Open /dev/null on a closed fd 0, 1 or 2, so that a socket can never
 * become "stdout" and a closed stdin (<&-) reads as end of input. Note
 * which of them can never hold a write (see io_write_local()).
 */
static void
stdfds_init(void)
{
	struct stat st;
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			exit(CHAT_EXIT_IO);
		/* A regular file takes a write at once (or the process is
		 * beyond signals anyway: a hung NFS mount); a pipe, a socket,
		 * a terminal or another device may hold it for good. */
		never_blocks[fd] = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	}
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
 * No Nagle: every message goes at once. (Sockets are made non-blocking
 * and close-on-exec where they are created, with no extra system call.)
 */
static void
net_tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Bind and listen on ep; with no host, on the IPv6 wildcard with IPv4
 * mapped in (or IPv4 alone where there is no IPv6). Prints the
 * "Listening on" line. Returns the socket, or -1 after saying why.
 */
static int
net_listen(const struct endpoint *ep, const char *spec)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char name[PEER_NAME_MAX];
	int fd = -1, one = 1, zero = 0, gai, err = EAFNOSUPPORT, pass;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(ep->host[0] ? ep->host : NULL, ep->port, &hints,
	    &res);
	if (gai != 0) {
		say(SAY_ERROR, "resolve %s: %s", ep->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	/* Pass 0 tries the IPv6 wildcard alone: it serves IPv4 too. */
	for (pass = ep->host[0] ? 1 : 0; pass < 2 && fd < 0; pass++) {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (pass == 0 && ai->ai_family != AF_INET6)
				continue;
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd < 0) {
				err = errno;
				continue;
			}
			/* A restarted listener must not wait out TIME_WAIT. */
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof(one));
			if (ai->ai_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				    ep->host[0] ? &one : &zero, sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    listen(fd, LISTEN_BACKLOG) == 0)
				break;
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		say(SAY_ERROR, "bind %s: %s", spec, strerror(err));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		net_name((struct sockaddr *)&ss, sslen, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "%s", spec);
	say(SAY_STATUS, "Listening on %s", name);
	return fd;
}

/*
 * Connect to every address of ep in turn until one answers, within the
 * --timeout. Returns the socket, or -1 after saying why (c->status set).
 */
static int
net_connect(struct chat *c, const struct endpoint *ep)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	struct pollfd pfd;
	struct timespec ts;
	long long deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
	socklen_t errlen, sslen;
	int fd = -1, gai, err = 0, n, timed_out = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	gai = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (gai != 0) {
		say(SAY_ERROR, "resolve %s: %s", ep->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		c->status = CHAT_EXIT_NET;
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0 && !stop_signal; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		net_tune(fd);
		err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
		while (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			n = ppoll(&pfd, 1, wait_until(deadline, &ts),
			    &wait_mask);
			if (n < 0 && errno == EINTR && !stop_signal)
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
			if (getpeername(fd, (struct sockaddr *)&ss,
			    &sslen) == 0)
				net_name((struct sockaddr *)&ss, sslen,
				    c->peer_name, sizeof(c->peer_name));
			else
				net_name(ai->ai_addr, ai->ai_addrlen,
				    c->peer_name, sizeof(c->peer_name));
			break;
		}
		close(fd);
		fd = -1;
		if (timed_out)
			break;
	}
	freeaddrinfo(res);
	if (stop_signal) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd < 0) {
		say(SAY_ERROR, "connect %s: %s", c->where, strerror(err));
		c->status = timed_out ? CHAT_EXIT_TIMEOUT : CHAT_EXIT_NET;
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
 * Send one frame, head then text then LF, in one write: a message is
 * one segment, never a header waiting on Nagle for its body.
 */
static int
net_send(struct chat *c, const char *head, const char *text, size_t len)
{
	struct iovec iov[3];
	int n = 0;

	iov[n].iov_base = (void *)head;
	iov[n++].iov_len = strlen(head);
	if (len > 0) {
		iov[n].iov_base = (void *)text;
		iov[n++].iov_len = len;
	}
	iov[n].iov_base = "\n";
	iov[n++].iov_len = 1;
	return io_write_all(c->peer_fd, 1, iov, n,
	    c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms);
}

/* === The conversation ===================================================== */

static void
chat_init(struct chat *c, int in_fd, int out_fd)
{
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->in_tty = isatty(in_fd);
	c->in_eof = 0;
	c->in_lineno = 0;
	linebuf_init(&c->in, CHAT_TEXT_MAX);
	c->listen_fd = c->peer_fd = c->linger_fd = -1;
	c->accept_paused = 0;
	c->turn = TURN_NONE;
	c->deadline = c->frame_deadline = -1;
	c->status = CHAT_EXIT_OK;
	c->finished = 0;
}

/*
 * A new peer on fd, c->peer_name already set: send our HELLO if we
 * listen, and wait for theirs.
 */
static void
chat_start(struct chat *c, int fd)
{
	long long hello_ms = CHAT_HELLO_SECS * 1000LL;

	c->peer_fd = fd;
	linebuf_init(&c->net, CHAT_FRAME_MAX);
	c->turn = TURN_HELLO;
	if (c->timeout_ms >= 0 && c->timeout_ms < hello_ms)
		hello_ms = c->timeout_ms;
	c->deadline = now_ms() + hello_ms;
	c->frame_deadline = -1;
	if (c->listening && net_send(c, "HELLO " CHAT_PROTOCOL, "", 0) < 0)
		chat_peer_gone(c, errno);
}

/*
 * The conversation is over with this status. A listener goes back to
 * accepting unless it serves --once or its input has ended.
 */
static void
chat_end(struct chat *c, int status, enum ending how)
{
	int was_conversation = c->turn != TURN_HELLO;

	if (how == END_LINGER) {
		/* FIN after our last frame, then read until the peer's FIN:
		 * closing with unread input would send an RST that can
		 * destroy what we sent last. */
		shutdown(c->peer_fd, SHUT_WR);
		chat_linger_close(c);
		c->linger_fd = c->peer_fd;
		c->linger_deadline = now_ms() + LINGER_MS;
	} else {
		net_drain(c->peer_fd);
		close(c->peer_fd);
		c->accept_paused = 0;	/* an fd is free again */
	}
	c->peer_fd = -1;
	c->turn = TURN_NONE;
	c->deadline = c->frame_deadline = -1;
	/* A listener's failed HELLO is a stranger, not a conversation. */
	if (was_conversation || !c->listening)
		c->status = status;
	if (!c->listening || (c->once && was_conversation))
		c->finished = 1;
	if (c->in_eof && !linebuf_pending(&c->in))
		c->finished = 1;
	term_quiet();
}

/* Close the lingering socket, if any: its drain is done or cut short. */
static void
chat_linger_close(struct chat *c)
{
	if (c->linger_fd < 0)
		return;
	close(c->linger_fd);
	c->linger_fd = -1;
	c->accept_paused = 0;
}

/* End the conversation from our side: QUIT to the peer, if it listens. */
static void
chat_quit(struct chat *c, int status)
{
	if (c->peer_fd < 0)
		return;
	chat_end(c, status, net_send(c, "QUIT", "", 0) == 0 ? END_LINGER :
	    END_CLOSE);
}

/* The peer closed (err 0) or the connection failed (err): say so, end. */
static void
chat_peer_gone(struct chat *c, int err)
{
	if (err == EINTR && stop_signal) {
		/* Not the peer's doing: the loop reports the signal. A frame
		 * may be half sent, so no QUIT can follow it. */
		chat_end(c, CHAT_EXIT_SIGNAL, END_CLOSE);
		return;
	}
	if (err == ETIMEDOUT) {		/* from a send: it stopped reading */
		say(SAY_ERROR, "peer %s: not reading: no room to send within %lld "
		    "second%s", c->peer_name, c->timeout_ms / 1000,
		    c->timeout_ms == 1000 ? "" : "s");
		chat_end(c, CHAT_EXIT_TIMEOUT, END_CLOSE);
		return;
	}
	if (err == 0 || err == EPIPE)
		say(SAY_ERROR, "peer %s closed the connection", c->peer_name);
	else
		say(SAY_ERROR, "peer %s: %s", c->peer_name, strerror(err));
	chat_end(c, CHAT_EXIT_PEER, END_CLOSE);
}

/* The peer broke the protocol: tell it why, report it, end. */
static void
chat_protocol_error(struct chat *c, const char *reason)
{
	say(SAY_ERROR, "peer %s: protocol error: %s", c->peer_name, reason);
	chat_end(c, CHAT_EXIT_PEER, net_send(c, "ERR ", reason,
	    strlen(reason)) == 0 ? END_LINGER : END_CLOSE);
}

/* How long a begun frame may take: CHAT_FRAME_SECS, or --timeout if less. */
static long long
frame_ms(const struct chat *c)
{
	long long ms = CHAT_FRAME_SECS * 1000LL;

	return c->timeout_ms >= 0 && c->timeout_ms < ms ? c->timeout_ms : ms;
}

/* A deadline passed: HELLO, their turn or a begun frame took too long. */
static void
chat_timeout(struct chat *c)
{
	long long secs = c->timeout_ms / 1000;

	if (c->deadline < 0 || now_ms() < c->deadline) {
		secs = frame_ms(c) / 1000;
		say(SAY_ERROR, "peer %s: frame not finished within %lld second%s",
		    c->peer_name, secs, secs == 1 ? "" : "s");
		/* ERR only once we have said HELLO, as for a missing HELLO. */
		chat_end(c, CHAT_EXIT_TIMEOUT, (c->listening ||
		    c->turn != TURN_HELLO) && net_send(c, "ERR frame too slow",
		    "", 0) == 0 ? END_LINGER : END_CLOSE);
		return;
	}
	if (c->turn == TURN_HELLO) {
		if (c->timeout_ms < 0 || secs > CHAT_HELLO_SECS)
			secs = CHAT_HELLO_SECS;
		say(SAY_ERROR, "peer %s: no HELLO within %lld second%s", c->peer_name,
		    secs, secs == 1 ? "" : "s");
		/* Only the listener has said HELLO, so only it may say ERR. */
		chat_end(c, CHAT_EXIT_TIMEOUT, c->listening &&
		    net_send(c, "ERR no hello", "", 0) == 0 ? END_LINGER :
		    END_CLOSE);
		return;
	}
	say(SAY_ERROR, "peer %s: no answer within %lld second%s", c->peer_name, secs,
	    secs == 1 ? "" : "s");
	chat_quit(c, CHAT_EXIT_TIMEOUT);
}

/* Our turn begins: the terminal listens to us again, and prompts. */
static void
chat_our_turn(struct chat *c)
{
	c->turn = TURN_OURS;
	c->deadline = -1;
	if (!c->in_tty)
		return;
	term_cooked();
	if (!c->in_eof)		/* else this turn is a QUIT already */
		chat_prompt();
}

/* "Your message: " on stderr; the user's Enter ends its line. */
static void
chat_prompt(void)
{
	struct iovec iov = { PROMPT, sizeof(PROMPT) - 1 };

	if (io_write_local(STDERR_FILENO, &iov, 1) == 0)
		prompt_open = 1;
}

/* Their turn begins: the terminal goes quiet, the --timeout runs. */
static void
chat_their_turn(struct chat *c)
{
	c->turn = TURN_THEIRS;
	c->deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
}

/*
 * Write "They say: ", text escaped and LF to fd, in writes of at most
 * SHOWN_MAX bytes: one for most messages. A stop signal that came during
 * a piece stops before the next, so that no write blocks after it.
 * Returns as io_write_local().
 */
static int
show_escaped(int fd, const char *text, size_t len)
{
	static const char head[] = "They say: ";
	sig_atomic_t stops = stop_count;
	struct iovec iov = { shown, sizeof(head) - 1 };
	size_t pos = 0;

	memcpy(shown, head, sizeof(head) - 1);
	for (;;) {
		/* SHOWN_MAX - 1 leaves room for the LF, and is well above
		 * CHAT_ESCAPE_UNIT: every call makes progress. */
		iov.iov_len += display_escape_some(shown + iov.iov_len,
		    sizeof(shown) - 1 - iov.iov_len, text, len, &pos);
		if (pos == len)
			shown[iov.iov_len++] = '\n';
		if (io_write_local(fd, &iov, 1) < 0)
			return -1;
		if (pos == len)
			return 0;
		if (stop_count != stops) {
			errno = EINTR;
			return -1;
		}
		iov.iov_len = 0;
	}
}

/* Show a message from the peer on stdout: one line, escaped. */
static void
chat_show(struct chat *c, const char *text, size_t len)
{
	static const char head[] = "They say: ";
	struct iovec iov[3] = {
		{ (void *)head, sizeof(head) - 1 },
		{ (void *)text, len },
		{ "\n", 1 }
	};
	int r;

	/* Plain text, the usual case, goes out from where it arrived. */
	if (display_plain(text, len) == len)
		r = io_write_local(c->out_fd, iov, 3);
	else
		r = show_escaped(c->out_fd, text, len);
	if (r == 0)
		return;
	if (errno == EINTR)		/* a stop signal: the loop handles it */
		return;
	/* Nobody reads our output any more: end as if QUIT was typed. */
	c->finished = 1;
	if (errno == EPIPE) {
		chat_quit(c, CHAT_EXIT_OK);
		return;
	}
	say(SAY_ERROR, "write stdout: %s", strerror(errno));
	chat_quit(c, CHAT_EXIT_IO);
}

/* Act on one frame from the peer, according to whose turn it is. */
static void
chat_peer_frame(struct chat *c, const char *line, size_t len)
{
	char reason[CHAT_ESCAPED_MAX(REASON_MAX) + 1];
	const char *payload;
	size_t plen, n;
	enum verb verb = frame_parse(line, len, &payload, &plen);

	if (verb == VERB_ERR) {
		n = display_escape(reason, payload,
		    plen < REASON_MAX ? plen : REASON_MAX);
		reason[n] = '\0';
		say(SAY_ERROR, "peer %s: peer reported: %s", c->peer_name, reason);
		chat_end(c, CHAT_EXIT_PEER, END_CLOSE);
		return;
	}
	if (c->turn == TURN_HELLO) {
		if (verb == VERB_BUSY && !c->listening) {
			say(SAY_ERROR, "connect %s: busy: the listener is in another "
			    "conversation", c->where);
			chat_end(c, CHAT_EXIT_BUSY, END_CLOSE);
		} else if (verb != VERB_HELLO)
			chat_protocol_error(c, "bad hello");
		else if (!hello_speaks(payload, plen))
			chat_protocol_error(c, "unsupported version");
		else if (c->listening) {
			say(SAY_STATUS, "Connection from %s", c->peer_name);
			chat_our_turn(c);
		} else if (net_send(c, "HELLO " CHAT_PROTOCOL, "", 0) < 0)
			chat_peer_gone(c, errno);
		else {
			say(SAY_STATUS, "Connected to %s", c->peer_name);
			chat_their_turn(c);
		}
		return;
	}
	switch (verb) {
	case VERB_QUIT:
		say(SAY_STATUS, "They ended the conversation.");
		chat_end(c, CHAT_EXIT_OK, END_CLOSE);
		break;
	case VERB_MSG:
		if (c->turn != TURN_THEIRS) {
			chat_protocol_error(c, "out of turn");
			break;
		}
		chat_show(c, payload, plen);
		if (c->peer_fd >= 0)
			chat_our_turn(c);
		break;
	case VERB_HELLO:
	case VERB_BUSY:
		chat_protocol_error(c, "out of turn");
		break;
	default:
		chat_protocol_error(c, "unknown verb");
		break;
	}
}

/* The peer's socket is readable: take in bytes, act on whole frames. */
static void
chat_peer_input(struct chat *c)
{
	const char *line;
	size_t room, len;
	ssize_t n;
	char *space = linebuf_space(&c->net, &room);

	n = recv(c->peer_fd, space, room, 0);	/* no file layer: cheaper */
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		chat_peer_gone(c, n == 0 ? 0 : errno);
		return;
	}
	linebuf_fill(&c->net, n);
	while (c->peer_fd >= 0) {
		switch (linebuf_next(&c->net, &line, &len)) {
		case LINE_OK:
			c->frame_deadline = -1;
			chat_peer_frame(c, line, len);
			break;
		case LINE_TOOLONG:
			chat_protocol_error(c, "frame too long");
			return;
		case LINE_NONE:
			/* The clock of a frame starts at its first byte. */
			if (c->peer_fd >= 0 && c->frame_deadline < 0 &&
			    linebuf_pending(&c->net))
				c->frame_deadline = now_ms() + frame_ms(c);
			return;
		}
	}
}

/* stdin is readable: take in what is there; lines wait for our turn. */
static void
chat_stdin_input(struct chat *c)
{
	size_t room;
	ssize_t n;
	char *space = linebuf_space(&c->in, &room);

	n = read(c->in_fd, space, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		say(SAY_ERROR, "read stdin: %s", strerror(errno));
		c->in_eof = c->finished = 1;
		c->status = CHAT_EXIT_IO;
		chat_quit(c, CHAT_EXIT_IO);
		return;
	}
	if (n == 0)
		c->in_eof = 1;
	linebuf_fill(&c->in, n);
}

/*
 * Our turn: send the next local line, or QUIT at end of input. Returns
 * 1 if it took a line (or the end), 0 if it must wait for more input.
 */
static int
chat_our_line(struct chat *c)
{
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
		say(SAY_ERROR, "line too long (more than %d bytes): not sent",
		    CHAT_TEXT_MAX);
		chat_prompt();		/* still our turn */
		return 1;
	}
	if (r == LINE_TOOLONG) {
		/* A script that lost a line is out of step with its peer. */
		say(SAY_ERROR, "stdin line %lu too long (more than %d bytes): not sent",
		    c->in_lineno, CHAT_TEXT_MAX);
		c->in_eof = c->finished = 1;
		linebuf_init(&c->in, CHAT_TEXT_MAX);
		chat_quit(c, CHAT_EXIT_IO);
		return 1;
	}
	if (r == LINE_OK)	/* Enter ended it, or Ctrl-D after text */
		prompt_end(!c->in_eof);
	if (r == LINE_NONE || (len == 4 && memcmp(line, "QUIT", 4) == 0)) {
		say(SAY_STATUS, "You ended the conversation.");
		chat_quit(c, CHAT_EXIT_OK);
		return 1;
	}
	/* Quiet first: keys typed once the peer has our line are theirs. */
	term_quiet();
	if (net_send(c, "MSG ", line, len) < 0)
		chat_peer_gone(c, errno);
	else
		chat_their_turn(c);
	return 1;
}

/* The listening socket is readable: a new peer, or one to turn away. */
static void
chat_accept(struct chat *c)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char name[PEER_NAME_MAX];
	int fd;

	fd = accept4(c->listen_fd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
		/* The connection stays queued and the socket readable: wait
		 * for one of ours to close rather than spin on it. */
		say(SAY_ERROR, "accept: %s", strerror(errno));
		c->accept_paused = 1;
		return;
	}
	if (fd < 0)
		return;		/* gone again (ECONNABORTED) or EAGAIN */
	if (c->peer_fd < 0 && !c->finished) {
		net_tune(fd);
		net_name((struct sockaddr *)&ss, sslen, c->peer_name,
		    sizeof(c->peer_name));
		chat_start(c, fd);
		return;
	}
	/* BUSY at once, then close: never keep a stranger waiting, and
	 * never let one disturb the conversation in progress. */
	net_name((struct sockaddr *)&ss, sslen, name, sizeof(name));
	if (write(fd, "BUSY\n", 5) != 5) {
		/* it left already: nothing to tell it */
	}
	net_drain(fd);
	close(fd);
	/* cppcheck-suppress badBitmaskCheck ; SAY_STATUS is 0, named for the reader */
	say(SAY_STATUS | SAY_HOLD, "Turned away %s: busy", name);
}

/* A stop signal arrived: tell the peer QUIT, report, finish. */
static void
chat_stop(struct chat *c)
{
	const char *name = stop_signal == SIGINT ? "SIGINT" :
	    stop_signal == SIGTERM ? "SIGTERM" :
	    stop_signal == SIGQUIT ? "SIGQUIT" : "SIGHUP";

	say(SAY_ERROR, "interrupted by %s", name);
	if (c->peer_fd >= 0) {
		/* QUIT only after our HELLO; non-blocking and best effort,
		 * as we are leaving. */
		if ((c->listening || c->turn != TURN_HELLO) &&
		    write(c->peer_fd, "QUIT\n", 5) == 5)
			shutdown(c->peer_fd, SHUT_WR);
		net_drain(c->peer_fd);
		close(c->peer_fd);
		c->peer_fd = -1;
	}
	chat_linger_close(c);
	c->status = CHAT_EXIT_SIGNAL;
}

/*
 * The poll loop: one wait over the listening socket, the peer, stdin and
 * a lingering socket, until the conversation(s) are over. Returns the
 * exit status.
 */
static int
chat_loop(struct chat *c)
{
	struct pollfd fds[POLL_SLOTS];
	struct timespec ts;
	long long deadline, now;
	size_t room;
	char sink[4096];
	ssize_t n;
	int want_stdin;

	for (;;) {
		if (resumed) {		/* back from Ctrl-Z: our mode again */
			resumed = 0;
			if (c->turn == TURN_OURS && c->in_tty) {
				term_restore();
				chat_prompt();
			} else
				term_quiet();
		}
		/* Lines read ahead wait for our turn; take them now. */
		while (c->turn == TURN_OURS && !stop_signal &&
		    chat_our_line(c))
			continue;
		if (stop_signal) {
			chat_stop(c);
			return c->status;
		}
		if (c->finished && c->peer_fd < 0 && c->linger_fd < 0)
			return c->status;

		room = linebuf_room(&c->in);	/* no move: only to decide */
		/* A terminal is read only on our turn (its keys are ours
		 * then); other input may be read ahead, so that a listener
		 * sees its input end before it accepts another peer. */
		want_stdin = !c->in_eof && room > 0 &&
		    (c->turn == TURN_OURS || (!c->in_tty && c->listening &&
		    c->peer_fd < 0 && !linebuf_pending(&c->in)));
		fds[POLL_LISTEN].fd = c->finished || c->accept_paused ? -1 :
		    c->listen_fd;
		fds[POLL_PEER].fd = c->peer_fd;
		fds[POLL_STDIN].fd = want_stdin ? c->in_fd : -1;
		fds[POLL_LINGER].fd = c->linger_fd;
		for (int i = 0; i < POLL_SLOTS; i++) {
			fds[i].events = POLLIN;
			fds[i].revents = 0;
		}
		deadline = c->deadline;
		if (c->frame_deadline >= 0 &&
		    (deadline < 0 || c->frame_deadline < deadline))
			deadline = c->frame_deadline;
		if (c->linger_fd >= 0 &&
		    (deadline < 0 || c->linger_deadline < deadline))
			deadline = c->linger_deadline;

		if (ppoll(fds, POLL_SLOTS, wait_until(deadline, &ts),
		    &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			say(SAY_ERROR, "poll: %s", strerror(errno));
			return CHAT_EXIT_IO;
		}
		if (stop_signal)
			continue;

		if (fds[POLL_PEER].revents && c->peer_fd >= 0)
			chat_peer_input(c);
		if (fds[POLL_STDIN].revents)
			chat_stdin_input(c);
		if (fds[POLL_LINGER].revents && c->linger_fd >= 0) {
			n = read(c->linger_fd, sink, sizeof(sink));
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR))
				chat_linger_close(c);
		}
		if (fds[POLL_LISTEN].revents)
			chat_accept(c);

		/* Only a deadline set before the wait can have passed (one
		 * set since is in the future): with none, skip the clock. */
		now = deadline >= 0 ? now_ms() : -1;
		if (now >= 0 && c->peer_fd >= 0 && ((c->deadline >= 0 &&
		    now >= c->deadline) || (c->frame_deadline >= 0 &&
		    now >= c->frame_deadline)))
			chat_timeout(c);
		if (now >= 0 && c->linger_fd >= 0 &&
		    now >= c->linger_deadline)
			chat_linger_close(c);
		/* An idle listener whose input has ended takes no one. */
		if (c->listening && c->peer_fd < 0 && c->in_eof &&
		    !linebuf_pending(&c->in))
			c->finished = 1;
	}
}

/* === main ================================================================= */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct chat chat;	/* two frame buffers: not on the stack */
	struct chat *c = &chat;
	struct endpoint ep;
	const char *spec = NULL, *why;
	int ch, mode = 0, once = 0, help = 0, version = 0, fd, status;

	c->timeout_ms = -1;
	opterr = 0;		/* our own messages, with our own name */
	while ((ch = getopt_long(argc, argv, ":l:c:t:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'l':
		case 'c':
			if (mode != 0) {
				say(SAY_ERROR, "--listen and --connect go alone, "
				    "and once each");
				goto bad_usage;
			}
			mode = ch;
			spec = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 't':
			if (parse_seconds(optarg, &c->timeout_ms) < 0) {
				say(SAY_ERROR, "bad --timeout '%s': expected seconds "
				    "from 1 to %d", optarg, TIMEOUT_MAX_SECS);
				goto bad_usage;
			}
			break;
		case 'h':
			help = 1;
			break;
		case 'V':
			version = 1;
			break;
		case ':':
			say(SAY_ERROR, "option '%s' needs an argument",
			    argv[optind - 1]);
			goto bad_usage;
		default:
			say(SAY_ERROR, "unknown option '%s'", argv[optind - 1]);
			goto bad_usage;
		}
	}
	if (optind < argc) {
		say(SAY_ERROR, "unexpected argument '%s'", argv[optind]);
		goto bad_usage;
	}
	why = spec == NULL ? NULL : endpoint_parse(spec, mode == 'l' ?
	    ENDPOINT_LISTEN : ENDPOINT_CONNECT, &ep);
	if (why != NULL) {
		say(SAY_ERROR, "bad endpoint '%s': %s", spec, why);
		goto bad_usage;
	}
	/* Only a command line that parses gets help: a typo next to
	 * --help should not pass unnoticed. */
	if (help) {
		usage(stdout);
		return CHAT_EXIT_OK;
	}
	if (version) {
		printf("chat %s\nprotocol %s\n", CHAT_VERSION, CHAT_PROTOCOL);
		return CHAT_EXIT_OK;
	}
	if (mode == 0 || spec == NULL) {
		say(SAY_ERROR, "missing --listen [ADDR:]PORT or --connect HOST:PORT");
		goto bad_usage;
	}
	if (once && mode != 'l') {
		say(SAY_ERROR, "--once needs --listen");
		goto bad_usage;
	}

	stdfds_init();
	signals_init();
	chat_init(c, STDIN_FILENO, STDOUT_FILENO);
	c->listening = mode == 'l';
	c->once = once;
	c->where = spec;
	if (c->in_tty)
		term_init(c->in_fd);

	if (c->listening) {
		c->listen_fd = net_listen(&ep, spec);
		if (c->listen_fd < 0)
			return CHAT_EXIT_NET;
	} else {
		fd = net_connect(c, &ep);
		if (fd < 0 && stop_signal)
			chat_stop(c);
		if (fd < 0)
			return c->status;
		chat_start(c, fd);
	}
	term_quiet();
	status = chat_loop(c);
	term_restore();
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	return status;

bad_usage:
	usage(stderr);
	return CHAT_EXIT_USAGE;
}
