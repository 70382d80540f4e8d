/*
 * chat.h - what chat's tests need: the limits, the exit codes, the
 * protocol verbs, and the pure parts (line framing, frame parsing,
 * endpoint parsing, display escaping). Everything else in chat.c is static.
 */
#ifndef CHAT_H
#define CHAT_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_VERSION	"1.1.0"
/* The protocol versions chat speaks, as its HELLO lists them. */
#define CHAT_PROTOCOLS	"chat/1 chat/2"
/* The highest of them. */
#define CHAT_PROTOCOL_MAX	2

/* The longest frame, not counting its LF and a CR before it. */
#define CHAT_FRAME_MAX	65536
/* The longest message text: a frame minus "MSG ". */
#define CHAT_TEXT_MAX	(CHAT_FRAME_MAX - 4)
/* A peer must complete its HELLO line within this many seconds. */
#define CHAT_HELLO_SECS	5
/* The longest HELLO line, not counting its LF and a CR before it: a
 * candidate's buffer is this small (longer: ERR bad hello). */
#define CHAT_HELLO_MAX	256
/* A frame whose first byte has arrived must end (LF) within this many
 * seconds, however its bytes trickle in: a started frame holds memory and
 * the listener, so it gets a deadline, not an idle timer. */
#define CHAT_FRAME_SECS	10
/* A chat/2 name: 1 to this many bytes of printable UTF-8, no spaces. */
#define CHAT_NAME_MAX	32
/* A chat/2 nonce and proof: 32 bytes, sent as 64 lowercase hex digits. */
#define CHAT_NONCE_SIZE	32
#define CHAT_HEX_LEN	64
/* Failed proofs from one source: this many within CHAT_LOCKOUT_SECS block
 * it; a table of CHAT_LOCKOUT_MAX sources remembers them. */
#define CHAT_LOCKOUT_TRIES	3
#define CHAT_LOCKOUT_SECS	600
#define CHAT_LOCKOUT_MAX	256
/* The source a connection counts against: a family byte, then an IPv4
 * address or an IPv6 /64. */
#define CHAT_SOURCE_LEN	9
/* The longest host name or address an endpoint may hold. */
#define CHAT_HOST_MAX	255
/* display_escape() writes at most this many bytes for n input bytes: no
 * escape is over four times what it stands for ("\x1b" for one byte;
 * "\U000e0001" for four is 2.5 times). */
#define CHAT_ESCAPED_MAX(n)	(4 * (size_t)(n))
/* The longest that one byte or code point is shown as: "\U000e0001". */
#define CHAT_ESCAPE_UNIT	10

/* Exit statuses; the README has the table. */
enum chat_exit {
	CHAT_EXIT_OK = 0,	/* conversation ended normally */
	CHAT_EXIT_IO = 1,	/* local I/O error, over-long script line */
	CHAT_EXIT_USAGE = 2,	/* bad command line */
	CHAT_EXIT_NET = 3,	/* cannot resolve, connect, bind or listen */
	CHAT_EXIT_PEER = 4,	/* peer vanished, broke the protocol, sent ERR */
	CHAT_EXIT_BUSY = 5,	/* the listener is busy, or refused us */
	CHAT_EXIT_TIMEOUT = 6,	/* no answer within --timeout, or no HELLO */
	CHAT_EXIT_SIGNAL = 7,	/* SIGINT, SIGTERM, SIGHUP or SIGQUIT */
	CHAT_EXIT_AUTH = 8	/* the secret was not proved, or blocked */
};

/* === Line framing: bytes in, LF-terminated lines out ==================== */

/* Room for the longest frame plus its CR and LF. */
#define LINEBUF_SIZE	(CHAT_FRAME_MAX + 2)

enum line_result {
	LINE_TOOLONG = -1,	/* a line over the limit was dropped */
	LINE_NONE = 0,		/* no complete line yet */
	LINE_OK = 1		/* *line, *len hold the next line */
};

struct linebuf {
	char *data;		/* the caller's storage, size bytes */
	size_t size;
	size_t max;		/* longest line accepted, without CR LF */
	size_t start;		/* first byte not yet returned */
	size_t scanned;		/* bytes before this hold no LF after start */
	size_t len;		/* bytes held */
	int skipping;		/* dropping an over-long line up to its LF */
};

/*
 * Empty lb, which keeps its bytes in data (size bytes), and set the
 * longest line it accepts: max, or size - 2 if less (room for CR LF).
 */
void linebuf_init(struct linebuf *lb, char *data, size_t size, size_t max);
/* Where the next bytes go; *room is how many fit (0 only when full). */
char *linebuf_space(struct linebuf *lb, size_t *room);
/* How many bytes linebuf_space() would offer, without moving anything. */
size_t linebuf_room(const struct linebuf *lb);
/* Record that n bytes were written at linebuf_space(). */
void linebuf_fill(struct linebuf *lb, size_t n);
/*
 * The next complete line, without its LF and a CR before it; it stays
 * valid until the next linebuf_space(). A line longer than max is
 * dropped (also the part of it still to come) and reported once as
 * LINE_TOOLONG.
 */
enum line_result linebuf_next(struct linebuf *lb, const char **line,
    size_t *len);
/* At end of input: the unterminated last line, if any, then empties lb. */
enum line_result linebuf_rest(struct linebuf *lb, const char **line,
    size_t *len);
/* Whether lb holds any bytes not yet returned. */
int linebuf_pending(const struct linebuf *lb);

/* === Frames: verb, then optionally one space and the payload ============ */

enum verb { VERB_UNKNOWN, VERB_HELLO, VERB_MSG, VERB_QUIT, VERB_BUSY,
	VERB_ERR, VERB_NAME, VERB_NONCE, VERB_PROOF };

/* Split a line into its verb and payload (empty when absent). */
enum verb frame_parse(const char *line, size_t len, const char **payload,
    size_t *plen);
/* The highest protocol version that a HELLO payload lists and chat
 * speaks (1 for chat/1, 2 for chat/2), or 0 if none. */
int hello_version(const char *payload, size_t plen);
/* Whether len bytes are a chat/2 name: 1 to CHAT_NAME_MAX bytes of UTF-8
 * that display_escape() leaves as it is, with no space or tab. */
int name_valid(const char *name, size_t len);

/* === Endpoints: [HOST:]PORT, [V6ADDR]:PORT, unix:PATH =================== */

enum endpoint_use { ENDPOINT_LISTEN, ENDPOINT_CONNECT };

struct endpoint {
	char host[CHAT_HOST_MAX + 1];	/* empty: any address (listen only);
					 * with local, the socket's path */
	char port[6];			/* decimal, no leading zeros */
	int local;			/* unix:PATH, a Unix-domain socket */
};

/*
 * Parse a --listen or --connect argument. Returns NULL, or why spec is
 * not an endpoint for that use.
 */
const char *endpoint_parse(const char *spec, enum endpoint_use use,
    struct endpoint *ep);

/* === Display escaping of untrusted text ================================= */

/*
 * Copy len bytes of peer text to out, escaping what could act on a
 * terminal or pass for other text (see the README). out must hold
 * CHAT_ESCAPED_MAX(len) bytes. Returns the bytes written; the result is
 * valid UTF-8.
 */
size_t display_escape(char *out, const char *in, size_t len);
/*
 * The same in pieces: escape text[*pos..len) into out, at most outsize
 * bytes, stopping only between two bytes or code points that are escaped
 * or kept whole; advance *pos past what was taken. Returns the bytes
 * written: 0 only when *pos is len, if outsize is at least
 * CHAT_ESCAPE_UNIT. *pos must be 0 or where the last call left it; text
 * before *pos and after what is taken may be looked at (a ZWJ is kept
 * between two emoji), so the pieces joined are display_escape() of the
 * whole text.
 */
size_t display_escape_some(char *out, size_t outsize, const char *text,
    size_t len, size_t *pos);
/*
 * The length of the leading run of printable ASCII (0x20-0x7e) in text:
 * bytes that display_escape() copies as they are. A message that is all
 * such bytes can be shown without a copy.
 */
size_t display_plain(const char *text, size_t len);

/* === Hashing: SHA-256 and HMAC-SHA256 ================================== */

#define SHA256_SIZE	32	/* bytes of a digest */
#define SHA256_BLOCK	64	/* bytes of a block */

/* A SHA-256 computation in progress. */
struct sha256 {
	uint32_t h[8];		/* the state */
	uint64_t bytes;		/* taken so far */
	unsigned char buf[SHA256_BLOCK];	/* a block not yet full */
	size_t n;		/* bytes in buf */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Write the SHA256_SIZE-byte digest to digest; s is wiped. */
void sha256_final(struct sha256 *s, unsigned char *digest);
/* HMAC-SHA256 of msg under key, SHA256_SIZE bytes, to mac. */
void hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t len, unsigned char *mac);
/* Whether n bytes of a and b are equal, in a time that depends on n
 * alone. */
int equal_in_constant_time(const unsigned char *a, const unsigned char *b,
    size_t n);

/* === chat/2's proofs and lockout ======================================== */

/* The proof of role ("listener" or "connector") for the two nonces (hex,
 * as sent): HMAC-SHA256 under the secret of "chat/2 ROLE NONCE_L
 * NONCE_C", as CHAT_HEX_LEN lowercase hex digits and a NUL in hex. */
void chat_proof(const unsigned char *secret, size_t secretlen,
    const char *role, const char *nonce_l, const char *nonce_c, char *hex);

/* One source's failed proofs. */
struct lockout_entry {
	unsigned char source[CHAT_SOURCE_LEN];
	long long fails[CHAT_LOCKOUT_TRIES];	/* ms of the last few,
						 * newest first; -1: none */
	long long last;		/* ms of the last failure */
	long long until;	/* blocked until then (ms), or -1 */
};

/* The sources that failed lately: at most CHAT_LOCKOUT_MAX; a new one
 * takes the place of the one whose last failure is the oldest. */
struct lockout {
	struct lockout_entry e[CHAT_LOCKOUT_MAX];
	size_t n;
};

/* A failed proof from source at now (ms). Returns the ms until which the
 * source is now blocked (for block_ms, from now), or -1 if it is not. */
long long lockout_fail(struct lockout *lo, const unsigned char *source,
    long long now, long long block_ms);
/* How many ms of a block source has left at now: 0 if none. */
long long lockout_left(const struct lockout *lo, const unsigned char *source,
    long long now);

/* === The conversation core, driven by main() and by the tests ========== */

/* What chat_new() needs: the command line's choices and the local fds. */
struct chat_config {
	int listening;		/* --listen, else --connect */
	int once;		/* --once */
	long long timeout_ms;	/* --timeout, or -1 for none */
	const char *where;	/* HOST:PORT as given, for errors */
	const char *name;	/* --name, or NULL */
	int show_names;		/* --show-names */
	const unsigned char *secret;	/* the shared secret, or NULL */
	size_t secret_len;
	long long block_ms;	/* --block, in ms */
	const char *log_path;	/* --log FILE, or NULL for no log */
	int log_fd;		/* FILE, open for appending (chat closes it) */
	int in_fd, out_fd, err_fd;	/* stdin, stdout, stderr */
	long long (*clock)(void);	/* ms, never jumping; NULL: monotonic */
};

struct chat;

/* Catch the stop signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) and SIGCONT,
 * blocked but where chat waits, and ignore SIGPIPE; main() does this. */
void chat_signals_init(void);

/* A chat over these fds, not yet listening or connected; NULL if out of
 * memory. */
struct chat *chat_new(const struct chat_config *cfg);
/* Listen: accept peers on listen_fd (bound, listening, non-blocking);
 * called once for each listening socket (two at most). Returns 0, or -1
 * if chat already has two. */
int chat_serve(struct chat *c, int listen_fd);
/* Connect: talk on fd, a non-blocking socket connected to name. Returns
 * 0, or -1 if chat already holds a connection. */
int chat_begin(struct chat *c, int fd, const char *name);
/* One wait and what it brought: -1 while chat goes on, else the exit
 * status. */
int chat_step(struct chat *c);
/* Close every socket chat holds, and free it. */
void chat_free(struct chat *c);

#endif /* CHAT_H */
