/*
 * unit.c - unit tests through chat.h: the pure parts (line framing, frame
 * parsing, endpoint parsing, display escaping), then the conversation core
 * driven in-process over sockets and pipes with a clock of the test's own.
 * Built against chat.c itself (its main renamed); ends with "N passed, N
 * failed".
 */
#define _GNU_SOURCE	/* pipe2(), and POSIX for the sockets */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"

static int passed, failed;
/* The storage of the line buffers under test. */
static char lb_data[LINEBUF_SIZE];

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void
check(int ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s:%d: %s\n", file, line, what);
}

/* Whether a (len) equals the C string b exactly. */
static int
same(const char *a, size_t len, const char *b)
{
	return len == strlen(b) && memcmp(a, b, len) == 0;
}

/* === Line framing ======================================================== */

/* Feed bytes into lb in chunks of at most chunk bytes, collecting every
 * result of linebuf_next into out as "line|" or "!|" (too long). */
static void
feed(struct linebuf *lb, const char *in, size_t len, size_t chunk,
    char *out, size_t outsize)
{
	const char *line;
	size_t room, n, used = 0, ll;
	enum line_result r;
	char *space;

	out[0] = '\0';
	while (len > 0) {
		space = linebuf_space(lb, &room);
		n = len < chunk ? len : chunk;
		n = n < room ? n : room;
		memcpy(space, in, n);
		linebuf_fill(lb, n);
		in += n;
		len -= n;
		while ((r = linebuf_next(lb, &line, &ll)) != LINE_NONE) {
			if (r == LINE_TOOLONG)
				used += snprintf(out + used, outsize - used,
				    "!|");
			else
				used += snprintf(out + used, outsize - used,
				    "%.*s|", (int)ll, line);
		}
	}
}

static void
test_lines_split_on_lf_in_any_chunking(void)
{
	static const char in[] = "MSG one\nMSG two\r\n\nQUIT\n";
	struct linebuf lb;
	char out[256];
	size_t chunk;

	for (chunk = 1; chunk <= sizeof(in); chunk++) {
		linebuf_init(&lb, lb_data, sizeof(lb_data), CHAT_FRAME_MAX);
		feed(&lb, in, sizeof(in) - 1, chunk, out, sizeof(out));
		CHECK(strcmp(out, "MSG one|MSG two||QUIT|") == 0);
	}
}

static void
test_lines_only_the_cr_before_lf_is_dropped(void)
{
	struct linebuf lb;
	char out[64];

	linebuf_init(&lb, lb_data, sizeof(lb_data), CHAT_FRAME_MAX);
	feed(&lb, "a\rb\r\r\n\r\n", 8, 100, out, sizeof(out));
	CHECK(strcmp(out, "a\rb\r||") == 0);
}

static void
test_lines_keep_nul_bytes(void)
{
	struct linebuf lb;
	const char *line;
	size_t len;
	char *space;
	size_t room;

	linebuf_init(&lb, lb_data, sizeof(lb_data), CHAT_FRAME_MAX);
	space = linebuf_space(&lb, &room);
	memcpy(space, "a\0b\n", 4);
	linebuf_fill(&lb, 4);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_OK);
	CHECK(len == 3 && memcmp(line, "a\0b", 3) == 0);
}

/* linebuf_room() tells what linebuf_space() would offer, and moves
 * nothing: a line already returned stays where it was. */
static void
test_lines_room_is_counted_without_moving(void)
{
	struct linebuf lb;
	const char *line;
	size_t len, room;
	char *space;

	linebuf_init(&lb, lb_data, sizeof(lb_data), CHAT_FRAME_MAX);
	CHECK(linebuf_room(&lb) == lb.size);
	space = linebuf_space(&lb, &room);
	memcpy(space, "MSG one\nMSG t", 13);
	linebuf_fill(&lb, 13);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_OK);
	CHECK(linebuf_room(&lb) == lb.size - 5);	/* "MSG t" */
	CHECK(same(line, len, "MSG one"));	/* not moved by the count */
	linebuf_space(&lb, &room);
	CHECK(room == lb.size - 5);
}

/* A line of exactly max bytes passes; max + 1 is dropped, the next line
 * is still found, whichever way the bytes arrive. */
static void
test_lines_limit_is_exact(void)
{
	const size_t max = CHAT_FRAME_MAX;
	size_t total = 2 * max + 16, chunk, i;
	char *in = malloc(total);
	char out[128];
	struct linebuf lb;
	const char *line;
	size_t len;
	char *space;
	size_t room;

	if (in == NULL)
		abort();
	/* max bytes + CRLF: accepted */
	memset(in, 'a', max);
	memcpy(in + max, "\r\n", 2);
	linebuf_init(&lb, lb_data, sizeof(lb_data), max);
	space = linebuf_space(&lb, &room);
	CHECK(room >= max + 2);
	memcpy(space, in, max + 2);
	linebuf_fill(&lb, max + 2);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_OK);
	CHECK(len == max && line[0] == 'a' && line[max - 1] == 'a');

	/* max + 1 bytes, LF, then "ok": one drop, then "ok" */
	for (chunk = 1000; chunk <= total; chunk *= 7) {
		i = max + 1;
		memset(in, 'b', i);
		memcpy(in + i, "\nok\n", 4);
		linebuf_init(&lb, lb_data, sizeof(lb_data), max);
		feed(&lb, in, i + 4, chunk, out, sizeof(out));
		CHECK(strcmp(out, "!|ok|") == 0);
	}

	/* max + 1 bytes and no LF yet: too long already, unless the last
	 * is a CR that may come before the LF */
	memset(in, 'c', max + 1);
	linebuf_init(&lb, lb_data, sizeof(lb_data), max);
	space = linebuf_space(&lb, &room);
	memcpy(space, in, max + 1);
	linebuf_fill(&lb, max + 1);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_TOOLONG);
	in[max] = '\r';
	linebuf_init(&lb, lb_data, sizeof(lb_data), max);
	space = linebuf_space(&lb, &room);
	memcpy(space, in, max + 1);
	linebuf_fill(&lb, max + 1);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_NONE);
	free(in);
}

/* A line that never ends is reported once and costs no more than the
 * buffer, however much of it comes. */
static void
test_lines_endless_line_is_dropped_once(void)
{
	static char block[8192];
	struct linebuf lb;
	const char *line;
	size_t len, room, toolong = 0, i;
	enum line_result r;
	char *space;

	memset(block, 'x', sizeof(block));
	linebuf_init(&lb, lb_data, sizeof(lb_data), CHAT_FRAME_MAX);
	for (i = 0; i < 100; i++) {
		space = linebuf_space(&lb, &room);
		CHECK(room > 0);
		memcpy(space, block, room < sizeof(block) ? room :
		    sizeof(block));
		linebuf_fill(&lb, room < sizeof(block) ? room : sizeof(block));
		while ((r = linebuf_next(&lb, &line, &len)) != LINE_NONE)
			toolong += r == LINE_TOOLONG;
	}
	CHECK(toolong == 1);
	space = linebuf_space(&lb, &room);
	memcpy(space, "tail\nnext\n", 10);
	linebuf_fill(&lb, 10);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_OK);
	CHECK(same(line, len, "next"));
}

static void
test_lines_rest_returns_the_unterminated_last_line(void)
{
	struct linebuf lb;
	const char *line;
	size_t len, room;
	char *space;

	linebuf_init(&lb, lb_data, sizeof(lb_data), CHAT_TEXT_MAX);
	space = linebuf_space(&lb, &room);
	memcpy(space, "one\ntwo\r", 8);
	linebuf_fill(&lb, 8);
	CHECK(linebuf_rest(&lb, &line, &len) == LINE_OK);
	CHECK(same(line, len, "one"));
	CHECK(linebuf_rest(&lb, &line, &len) == LINE_OK);
	CHECK(same(line, len, "two\r"));	/* only a CR before LF goes */
	CHECK(linebuf_rest(&lb, &line, &len) == LINE_NONE);
	CHECK(!linebuf_pending(&lb));
}

/* === Frames ============================================================== */

static void
test_frame_parse_splits_verb_and_payload(void)
{
	const char *p;
	size_t n;

	CHECK(frame_parse("MSG hi there", 12, &p, &n) == VERB_MSG);
	CHECK(same(p, n, "hi there"));
	CHECK(frame_parse("MSG", 3, &p, &n) == VERB_MSG && n == 0);
	CHECK(frame_parse("MSG ", 4, &p, &n) == VERB_MSG && n == 0);
	CHECK(frame_parse("MSG  x", 6, &p, &n) == VERB_MSG);
	CHECK(same(p, n, " x"));
	CHECK(frame_parse("HELLO chat/1", 12, &p, &n) == VERB_HELLO);
	CHECK(same(p, n, "chat/1"));
	CHECK(frame_parse("QUIT", 4, &p, &n) == VERB_QUIT);
	CHECK(frame_parse("BUSY", 4, &p, &n) == VERB_BUSY);
	CHECK(frame_parse("ERR out of turn", 15, &p, &n) == VERB_ERR);
	CHECK(same(p, n, "out of turn"));
}

static void
test_frame_parse_verbs_are_exact(void)
{
	const char *p;
	size_t n;

	CHECK(frame_parse("msg hi", 6, &p, &n) == VERB_UNKNOWN);
	CHECK(frame_parse("MSGX hi", 7, &p, &n) == VERB_UNKNOWN);
	CHECK(frame_parse("MS", 2, &p, &n) == VERB_UNKNOWN);
	CHECK(frame_parse("", 0, &p, &n) == VERB_UNKNOWN);
	CHECK(frame_parse(" MSG", 4, &p, &n) == VERB_UNKNOWN);
	CHECK(frame_parse("MSG\0", 4, &p, &n) == VERB_UNKNOWN);
	CHECK(frame_parse("GET / HTTP/1.1", 14, &p, &n) == VERB_UNKNOWN);
}

static void
test_hello_version_is_the_highest_both_speak(void)
{
	CHECK(hello_version("chat/1", 6) == 1);
	CHECK(hello_version("chat/2", 6) == 2);
	CHECK(hello_version("chat/1 chat/2", 13) == 2);
	CHECK(hello_version("chat/2 chat/1", 13) == 2);
	CHECK(hello_version("chat/9 chat/1", 13) == 1);	/* unknown: passed */
	CHECK(hello_version("chat/1  chat/2", 14) == 2);	/* doubled space */
	CHECK(hello_version(" chat/1 ", 8) == 1);
	CHECK(hello_version("chat/1\tchat/2", 13) == 0);	/* tab: one word */
	CHECK(hello_version("CHAT/1", 6) == 0);		/* exact case */
	CHECK(hello_version("chat/10", 7) == 0);
	CHECK(hello_version("chat/0", 6) == 0);
	CHECK(hello_version("chat/", 5) == 0);
	CHECK(hello_version("", 0) == 0);
	CHECK(hello_version("xchat/1", 7) == 0);
	CHECK(hello_version("chat/1x", 7) == 0);
}

static void
test_names_are_one_printable_word_of_1_to_32_bytes(void)
{
	CHECK(name_valid("alice", 5));
	CHECK(name_valid("Jos\xc3\xa9", 5));		/* UTF-8 */
	CHECK(name_valid("\xe6\x9d\x8e", 3));		/* CJK */
	CHECK(name_valid("a", 1));
	CHECK(name_valid("abcdefghijklmnopqrstuvwxyz012345", 32));
	CHECK(!name_valid("abcdefghijklmnopqrstuvwxyz0123456", 33));
	CHECK(!name_valid("", 0));
	CHECK(!name_valid("al ice", 6));
	CHECK(!name_valid("al\tice", 6));
	CHECK(!name_valid("ev\x1bil", 5));		/* ESC */
	CHECK(!name_valid("a\x7f", 2));			/* DEL */
	CHECK(!name_valid("a\0b", 3));			/* NUL */
	CHECK(!name_valid("\xc3", 1));			/* cut UTF-8 */
	CHECK(!name_valid("\xc2\x9b", 2));		/* C1 CSI */
	CHECK(!name_valid("a\xe2\x80\xae" "b", 5));	/* RLO */
	CHECK(!name_valid("a\xe2\x80\x8b", 4));		/* zero width */
}

static void
test_endpoint_accepts_the_documented_forms(void)
{
	struct endpoint ep;

	CHECK(endpoint_parse("5000", ENDPOINT_LISTEN, &ep) == NULL);
	CHECK(strcmp(ep.host, "") == 0 && strcmp(ep.port, "5000") == 0);
	CHECK(endpoint_parse("0", ENDPOINT_LISTEN, &ep) == NULL);
	CHECK(strcmp(ep.port, "0") == 0);
	CHECK(endpoint_parse("127.0.0.1:0", ENDPOINT_LISTEN, &ep) == NULL);
	CHECK(strcmp(ep.host, "127.0.0.1") == 0);
	CHECK(endpoint_parse("localhost:5000", ENDPOINT_CONNECT, &ep) == NULL);
	CHECK(strcmp(ep.host, "localhost") == 0);
	CHECK(strcmp(ep.port, "5000") == 0);
	CHECK(endpoint_parse("[::1]:65535", ENDPOINT_CONNECT, &ep) == NULL);
	CHECK(strcmp(ep.host, "::1") == 0 && strcmp(ep.port, "65535") == 0);
	CHECK(endpoint_parse("[fe80::1%lo]:7", ENDPOINT_CONNECT, &ep) == NULL);
	CHECK(strcmp(ep.host, "fe80::1%lo") == 0);
	CHECK(endpoint_parse("host:007", ENDPOINT_CONNECT, &ep) == NULL);
	CHECK(strcmp(ep.port, "7") == 0 && !ep.local);
}

/* unix:PATH, for both uses: any path the system's sockets can hold,
 * relative or not, colons and all; nothing is a port. */
static void
test_endpoint_takes_unix_paths(void)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 8], want[64];
	struct endpoint ep;

	CHECK(endpoint_parse("unix:/tmp/chat.sock", ENDPOINT_LISTEN, &ep) ==
	    NULL);
	CHECK(ep.local && strcmp(ep.host, "/tmp/chat.sock") == 0);
	CHECK(endpoint_parse("unix:rel:5000", ENDPOINT_CONNECT, &ep) == NULL);
	CHECK(ep.local && strcmp(ep.host, "rel:5000") == 0);
	CHECK(strcmp(endpoint_parse("unix:", ENDPOINT_CONNECT, &ep),
	    "missing path") == 0);
	/* The longest path that fits sun_path with its NUL, and one more. */
	memcpy(path, "unix:", 5);
	memset(path + 5, 'p', sizeof(sa.sun_path) - 1);
	path[5 + sizeof(sa.sun_path) - 1] = '\0';
	CHECK(endpoint_parse(path, ENDPOINT_LISTEN, &ep) == NULL);
	CHECK(strlen(ep.host) == sizeof(sa.sun_path) - 1);
	strcat(path, "p");
	snprintf(want, sizeof(want), "path longer than %d bytes",
	    (int)sizeof(sa.sun_path) - 1);
	CHECK(strcmp(endpoint_parse(path, ENDPOINT_CONNECT, &ep), want) == 0);
}

static void
test_endpoint_rejects_bad_ports_and_hosts(void)
{
	static const char *bad_connect[] = {
		"5000", "host", "host:", ":5000", "host:0", "host:65536",
		"host:-1", "host:abc", "host:50x", "host:+5", "host: 5",
		"host:99999999999999999999", "[::1", "[::1]", "[::1]5000",
		"::1:5000", "[]:5000", "",
	};
	static const char *bad_listen[] = {
		"65536", "-1", "abc", "", ":", "[::1", "::1:5000", "5000x",
	};
	struct endpoint ep;
	char longhost[CHAT_HOST_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(bad_connect) / sizeof(bad_connect[0]); i++)
		if (endpoint_parse(bad_connect[i], ENDPOINT_CONNECT, &ep)
		    == NULL)
			CHECK(!"connect endpoint accepted" || !bad_connect[i]);
	for (i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++)
		if (endpoint_parse(bad_listen[i], ENDPOINT_LISTEN, &ep) == NULL)
			CHECK(!"listen endpoint accepted" || !bad_listen[i]);
	memset(longhost, 'h', CHAT_HOST_MAX + 1);
	strcpy(longhost + CHAT_HOST_MAX + 1, ":80");
	CHECK(endpoint_parse(longhost, ENDPOINT_CONNECT, &ep) != NULL);
	CHECK(strcmp(endpoint_parse("[::1", ENDPOINT_CONNECT, &ep),
	    "missing ']' after an IPv6 address") == 0);
	CHECK(strcmp(endpoint_parse("::1:80", ENDPOINT_CONNECT, &ep),
	    "IPv6 addresses go in brackets, as in [::1]:5000") == 0);
}

/* === Display escaping ==================================================== */

/* Escape in (len bytes) and compare with the C string want. */
static int
escapes_to(const char *in, size_t len, const char *want)
{
	char out[CHAT_ESCAPED_MAX(64)];
	size_t n;

	if (len > 64)
		return 0;
	n = display_escape(out, in, len);
	if (!same(out, n, want))
		printf("     got \"%.*s\", want \"%s\"\n", (int)n, out, want);
	return same(out, n, want);
}

#define ESCAPES(lit, want) escapes_to(lit, sizeof(lit) - 1, want)

static void
test_escape_keeps_plain_text_and_valid_utf8(void)
{
	CHECK(ESCAPES("Hello, client!", "Hello, client!"));
	CHECK(ESCAPES("tab\there", "tab\there"));
	CHECK(ESCAPES("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"));
	CHECK(ESCAPES("\xc2\xa0\xdf\xbf\xef\xbf\xbd\xf4\x8f\xbf\xbf",
	    "\xc2\xa0\xdf\xbf\xef\xbf\xbd\xf4\x8f\xbf\xbf"));
	CHECK(ESCAPES("back\\slash", "back\\slash"));
	CHECK(ESCAPES("", ""));
}

static void
test_escape_shows_controls_as_hex(void)
{
	CHECK(ESCAPES("\x1b[2J", "\\x1b[2J"));
	CHECK(ESCAPES("\x1b]0;title\x07", "\\x1b]0;title\\x07"));
	CHECK(ESCAPES("a\rb\bc", "a\\x0db\\x08c"));
	CHECK(ESCAPES("nul\0here", "nul\\x00here"));
	CHECK(ESCAPES("\x7f\x01\x1f", "\\x7f\\x01\\x1f"));
	CHECK(ESCAPES("\x9b" "31m", "\\x9b31m"));
}

static void
test_escape_shows_c1_and_bidi_code_points(void)
{
	CHECK(ESCAPES("\xc2\x9b" "31m", "\\u009b31m"));
	CHECK(ESCAPES("\xc2\x80\xc2\x9f", "\\u0080\\u009f"));
	CHECK(ESCAPES("\xe2\x80\xae" "evil", "\\u202eevil"));
	CHECK(ESCAPES("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9",
	    "\\u202a\\u2066\\u2069"));
	CHECK(ESCAPES("\xe2\x80\xaf\xe2\x81\xa5", "\xe2\x80\xaf\xe2\x81\xa5"));
}

static void
test_escape_shows_invalid_utf8_bytewise_and_keeps_the_rest(void)
{
	CHECK(ESCAPES("\xff ok", "\\xff ok"));
	CHECK(ESCAPES("\xc0\xaf", "\\xc0\\xaf"));		/* overlong / */
	CHECK(ESCAPES("\xe0\x80\xaf", "\\xe0\\x80\\xaf"));	/* overlong */
	CHECK(ESCAPES("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"));
	CHECK(ESCAPES("\xed\xa0\x80", "\\xed\\xa0\\x80"));	/* surrogate */
	CHECK(ESCAPES("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"));
	CHECK(ESCAPES("\xc3", "\\xc3"));			/* truncated */
	CHECK(ESCAPES("\xe4\xb8", "\\xe4\\xb8"));
	CHECK(ESCAPES("\xe4\xb8" "a", "\\xe4\\xb8a"));
	CHECK(ESCAPES("\x80z", "\\x80z"));
}

/* display_plain() stops at the first byte outside 0x20-0x7e, wherever
 * it falls in its eight-byte words, for every byte value; and escaping
 * around such a byte keeps the plain text on both sides. */
static void
test_plain_run_ends_at_the_first_byte_to_escape(void)
{
	char in[40], out[CHAT_ESCAPED_MAX(40)], want[CHAT_ESCAPED_MAX(40)];
	size_t at, n;
	int b, plain, ok_run = 1, ok_escape = 1;

	memset(in, 'a', sizeof(in));
	CHECK(display_plain(in, sizeof(in)) == sizeof(in));
	CHECK(display_plain(in, 0) == 0);
	for (b = 0; b < 256; b++) {
		plain = b >= 0x20 && b < 0x7f;
		for (at = 0; at < 24; at++) {
			memset(in, '~', sizeof(in));
			in[0] = ' ';
			in[at] = (char)b;
			if (display_plain(in, sizeof(in)) !=
			    (plain ? sizeof(in) : at))
				ok_run = 0;
			if (b >= 0x80 || b == '\t' || plain)
				continue;
			/* a control byte: "\xNN" there, the rest as is */
			n = display_escape(out, in, sizeof(in));
			memcpy(want, in, at);
			snprintf(want + at, 5, "\\x%02x", b);
			memcpy(want + at + 4, in + at + 1, sizeof(in) - at - 1);
			if (n != sizeof(in) + 3 || memcmp(out, want, n) != 0)
				ok_escape = 0;
		}
	}
	CHECK(ok_run);
	CHECK(ok_escape);
}

/* The worst case fills CHAT_ESCAPED_MAX exactly, never more. */
static void
test_escape_worst_case_fits_the_documented_bound(void)
{
	char in[64], out[CHAT_ESCAPED_MAX(64)];

	memset(in, 0x01, sizeof(in));
	CHECK(display_escape(out, in, sizeof(in)) == CHAT_ESCAPED_MAX(64));
}

/* --- Line breaks, invisible code points and emoji ------------------------ */

/* Code points the tests below are built from, as UTF-8. */
#define ZWJ		"\xe2\x80\x8d"		/* U+200D zero width joiner */
#define VS15		"\xef\xb8\x8e"		/* U+FE0E text form */
#define VS16		"\xef\xb8\x8f"		/* U+FE0F emoji form */
#define TONE3		"\xf0\x9f\x8f\xbd"	/* U+1F3FD skin tone 4 */
#define MAN		"\xf0\x9f\x91\xa8"	/* U+1F468 */
#define WOMAN		"\xf0\x9f\x91\xa9"	/* U+1F469 */
#define GIRL		"\xf0\x9f\x91\xa7"	/* U+1F467 */
#define HEART		"\xe2\x9d\xa4"		/* U+2764 */
#define WHITE_FLAG	"\xf0\x9f\x8f\xb3"	/* U+1F3F3 */
#define RAINBOW		"\xf0\x9f\x8c\x88"	/* U+1F308 */
#define LAPTOP		"\xf0\x9f\x92\xbb"	/* U+1F4BB */
#define FAMILY		MAN ZWJ WOMAN ZWJ GIRL

static void
test_escape_shows_line_and_paragraph_separators_as_u_escapes(void)
{
	CHECK(ESCAPES("one\xe2\x80\xa8two", "one\\u2028two"));
	CHECK(ESCAPES("one\xe2\x80\xa9two", "one\\u2029two"));
}

static void
test_escape_shows_zero_width_and_format_code_points_as_u_escapes(void)
{
	CHECK(ESCAPES("a\xe2\x80\x8b" "b", "a\\u200bb"));	/* ZW space */
	CHECK(ESCAPES("a" ZWJ "b", "a\\u200db"));
	CHECK(ESCAPES("a\xe2\x80\x8f" "b", "a\\u200fb"));	/* RLM */
	CHECK(ESCAPES("a\xe2\x81\xa0" "b", "a\\u2060b"));	/* WJ */
	CHECK(ESCAPES("a\xe2\x81\xa4" "b", "a\\u2064b"));	/* inv. + */
	CHECK(ESCAPES("a\xe2\x81\xaa" "b", "a\\u206ab"));
	CHECK(ESCAPES("a\xe2\x81\xaf" "b", "a\\u206fb"));
	CHECK(ESCAPES("a\xd8\x9c" "b", "a\\u061cb"));		/* ALM */
	CHECK(ESCAPES("\xef\xbb\xbf" "bom", "\\ufeffbom"));
	CHECK(ESCAPES("a\xe1\xa0\x8e" "b", "a\\u180eb"));	/* Mongolian */
	CHECK(ESCAPES("a\xef\xbf\xb9" "b", "a\\ufff9b"));	/* annotation */
	CHECK(ESCAPES("a\xef\xbf\xbb" "b", "a\\ufffbb"));
}

/* Hangul fillers are blank and may stand where a letter is expected. */
static void
test_escape_shows_hangul_fillers_as_u_escapes(void)
{
	CHECK(ESCAPES("\xe1\x85\x9f\xe1\x85\xa0", "\\u115f\\u1160"));
	CHECK(ESCAPES("a\xe3\x85\xa4" "b", "a\\u3164b"));
	CHECK(ESCAPES("a\xef\xbe\xa0" "b", "a\\uffa0b"));
}

/* Tags (U+E0000-U+E007F) lie above U+FFFF: \U and eight hex digits. A
 * subdivision flag is U+1F3F4 and tags, so it shows as the black flag. */
static void
test_escape_shows_tag_characters_as_long_u_escapes(void)
{
	CHECK(ESCAPES("a\xf3\xa0\x80\x80" "b", "a\\U000e0000b"));
	CHECK(ESCAPES("a\xf3\xa0\x80\x81" "b", "a\\U000e0001b"));
	CHECK(ESCAPES("a\xf3\xa0\x81\xbf" "b", "a\\U000e007fb"));
	CHECK(ESCAPES("\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2"
	    "\xf3\xa0\x81\xb3\xf3\xa0\x81\xa3\xf3\xa0\x81\xb4\xf3\xa0\x81\xbf",
	    "\xf0\x9f\x8f\xb4\\U000e0067\\U000e0062\\U000e0073\\U000e0063"
	    "\\U000e0074\\U000e007f"));
}

/* The code points next to each escaped range are shown as they are. */
static void
test_escape_keeps_the_neighbours_of_each_escaped_range(void)
{
	CHECK(ESCAPES("\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xb0",
	    "\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xb0"));
	CHECK(ESCAPES("\xe2\x80\x8a\xe2\x80\x90\xe2\x81\x9f",
	    "\xe2\x80\x8a\xe2\x80\x90\xe2\x81\x9f"));
	CHECK(ESCAPES("\xd8\x9b\xd8\x9d\xe1\xa0\x8d\xe1\xa0\x8f",
	    "\xd8\x9b\xd8\x9d\xe1\xa0\x8d\xe1\xa0\x8f"));
	CHECK(ESCAPES("\xe1\x85\x9e\xe1\x85\xa1\xe3\x85\xa3\xe3\x85\xa5",
	    "\xe1\x85\x9e\xe1\x85\xa1\xe3\x85\xa3\xe3\x85\xa5"));
	CHECK(ESCAPES("\xef\xbb\xbe\xef\xbe\x9f\xef\xbe\xa1\xef\xbf\xb8"
	    "\xef\xbf\xbc", "\xef\xbb\xbe\xef\xbe\x9f\xef\xbe\xa1\xef\xbf\xb8"
	    "\xef\xbf\xbc"));
	CHECK(ESCAPES("\xf3\x9f\xbf\xbf\xf3\xa0\x82\x80",
	    "\xf3\x9f\xbf\xbf\xf3\xa0\x82\x80"));
}

static void
test_escape_keeps_emoji_zwj_sequences_whole(void)
{
	CHECK(ESCAPES(FAMILY, FAMILY));
	CHECK(ESCAPES("we " FAMILY "!", "we " FAMILY "!"));
	CHECK(ESCAPES(WHITE_FLAG VS16 ZWJ RAINBOW,
	    WHITE_FLAG VS16 ZWJ RAINBOW));
	CHECK(ESCAPES(WOMAN TONE3 ZWJ LAPTOP, WOMAN TONE3 ZWJ LAPTOP));
	CHECK(ESCAPES(WOMAN TONE3 VS16 ZWJ LAPTOP,
	    WOMAN TONE3 VS16 ZWJ LAPTOP));
	/* black cat (U+2B1B), face shaking (U+2194), heart on fire, a
	 * health worker (U+2695), a person with a ball (U+26F9 U+2642) */
	CHECK(ESCAPES("\xf0\x9f\x90\x88" ZWJ "\xe2\xac\x9b",
	    "\xf0\x9f\x90\x88" ZWJ "\xe2\xac\x9b"));
	CHECK(ESCAPES("\xf0\x9f\x99\x82" ZWJ "\xe2\x86\x94" VS16,
	    "\xf0\x9f\x99\x82" ZWJ "\xe2\x86\x94" VS16));
	CHECK(ESCAPES(HEART VS16 ZWJ "\xf0\x9f\x94\xa5",
	    HEART VS16 ZWJ "\xf0\x9f\x94\xa5"));
	CHECK(ESCAPES(MAN ZWJ "\xe2\x9a\x95" VS16,
	    MAN ZWJ "\xe2\x9a\x95" VS16));
	CHECK(ESCAPES("\xe2\x9b\xb9" TONE3 ZWJ "\xe2\x99\x82" VS16,
	    "\xe2\x9b\xb9" TONE3 ZWJ "\xe2\x99\x82" VS16));
}

/* U+FE0E and U+FE0F are never escaped, wherever they stand. */
static void
test_escape_keeps_variation_selectors(void)
{
	CHECK(ESCAPES(HEART VS16, HEART VS16));
	CHECK(ESCAPES(HEART VS15, HEART VS15));
	CHECK(ESCAPES("\xe2\x98\xba" VS15 " ok", "\xe2\x98\xba" VS15 " ok"));
	CHECK(ESCAPES(VS16 "a" VS15 VS15, VS16 "a" VS15 VS15));
}

/* The emoji a ZWJ may join: both ends of each range count, the code
 * points just outside do not. */
static void
test_escape_keeps_zwj_between_the_ends_of_each_emoji_range(void)
{
	static const char *const ends[][2] = {
		{ "\xe2\x86\x90", "\xe2\x87\xbf" },	/* U+2190-U+21FF */
		{ "\xe2\x8c\x80", "\xe2\x8f\xbf" },	/* U+2300-U+23FF */
		{ "\xe2\x98\x80", "\xe2\x9e\xbf" },	/* U+2600-U+27BF */
		{ "\xe2\xac\x80", "\xe2\xaf\xbf" },	/* U+2B00-U+2BFF */
		{ "\xf0\x9f\x80\x80", "\xf0\x9f\x8f\xba" }, /* U+1F000-1F3FA */
		{ "\xf0\x9f\x90\x80", "\xf0\x9f\xab\xbf" }, /* U+1F400-1FAFF */
	};
	static const char *const outside[] = {
		"\xe2\x86\x8f", "\xe2\x88\x80", "\xe2\x8b\xbf", "\xe2\x90\x80",
		"\xe2\x97\xbf", "\xe2\x9f\x80", "\xe2\xab\xbf", "\xe2\xb0\x80",
		"\xf0\x9e\xbf\xbf", "\xf0\x9f\xac\x80", "\xf0\x9f\x8f\xbb",
		"\xf0\x9f\x8f\xbf",
	};
	char in[32], want[48];
	size_t i;

	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		snprintf(in, sizeof(in), "%s" ZWJ "%s", ends[i][0], ends[i][1]);
		CHECK(escapes_to(in, strlen(in), in));
		snprintf(in, sizeof(in), "%s" ZWJ "%s", ends[i][1], ends[i][0]);
		CHECK(escapes_to(in, strlen(in), in));
	}
	for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		snprintf(in, sizeof(in), "%s" ZWJ MAN, outside[i]);
		snprintf(want, sizeof(want), "%s\\u200d" MAN, outside[i]);
		CHECK(escapes_to(in, strlen(in), want));
		snprintf(in, sizeof(in), MAN ZWJ "%s", outside[i]);
		snprintf(want, sizeof(want), MAN "\\u200d%s", outside[i]);
		CHECK(escapes_to(in, strlen(in), want));
	}
}

/* A ZWJ that does not stand between two emoji is invisible: escaped. */
static void
test_escape_shows_zwj_not_between_two_emoji_as_u_escape(void)
{
	CHECK(ESCAPES(ZWJ, "\\u200d"));
	CHECK(ESCAPES(ZWJ MAN, "\\u200d" MAN));			/* first */
	CHECK(ESCAPES(MAN ZWJ, MAN "\\u200d"));			/* last */
	CHECK(ESCAPES("a" ZWJ MAN, "a\\u200d" MAN));		/* letters */
	CHECK(ESCAPES(MAN ZWJ "a", MAN "\\u200da"));
	CHECK(ESCAPES("a" ZWJ "b", "a\\u200db"));
	CHECK(ESCAPES(MAN " " ZWJ WOMAN, MAN " \\u200d" WOMAN));
	CHECK(ESCAPES("\xe4\xb8\xad" ZWJ MAN, "\xe4\xb8\xad\\u200d" MAN));
	CHECK(ESCAPES(MAN ZWJ ZWJ WOMAN, MAN "\\u200d\\u200d" WOMAN));
	CHECK(ESCAPES(MAN ZWJ VS16 WOMAN, MAN "\\u200d" VS16 WOMAN));
	CHECK(ESCAPES(MAN VS16 VS16 ZWJ WOMAN,
	    MAN VS16 VS16 "\\u200d" WOMAN));
	/* a skin tone or U+FE0F with no emoji before it */
	CHECK(ESCAPES(TONE3 ZWJ WOMAN, TONE3 "\\u200d" WOMAN));
	CHECK(ESCAPES("a" TONE3 ZWJ WOMAN, "a" TONE3 "\\u200d" WOMAN));
	CHECK(ESCAPES(VS16 ZWJ WOMAN, VS16 "\\u200d" WOMAN));
	CHECK(ESCAPES("a" VS16 ZWJ WOMAN, "a" VS16 "\\u200d" WOMAN));
	CHECK(ESCAPES(MAN ZWJ TONE3, MAN "\\u200d" TONE3));
	/* next to an escape: a cut emoji, a tag, a control byte */
	CHECK(ESCAPES("\xf0\x9f\x91" ZWJ WOMAN,
	    "\\xf0\\x9f\\x91\\u200d" WOMAN));
	CHECK(ESCAPES(MAN ZWJ "\xf0\x9f\x91", MAN "\\u200d\\xf0\\x9f\\x91"));
	CHECK(ESCAPES(MAN "\xf3\xa0\x80\x81" ZWJ WOMAN,
	    MAN "\\U000e0001\\u200d" WOMAN));
	CHECK(ESCAPES(MAN ZWJ "\x1b" WOMAN, MAN "\\u200d\\x1b" WOMAN));
}

/* \U escapes (4 bytes in, 10 out) stay within CHAT_ESCAPED_MAX, and the
 * longest escape of one code point is CHAT_ESCAPE_UNIT bytes. */
static void
test_escape_long_u_escapes_fit_the_documented_bounds(void)
{
	char in[64], out[CHAT_ESCAPED_MAX(64)];
	size_t i;

	for (i = 0; i < sizeof(in); i += 4)
		memcpy(in + i, "\xf3\xa0\x81\xbf", 4);
	CHECK(display_escape(out, in, sizeof(in)) == 10 * sizeof(in) / 4);
	CHECK(display_escape(out, in, 4) == CHAT_ESCAPE_UNIT);
	CHECK(CHAT_ESCAPE_UNIT == 10);
}

/* display_escape_some() stops before a byte or code point whose escape
 * does not fit, never inside one, and goes on from there. */
static void
test_escape_some_stops_before_what_does_not_fit(void)
{
	static const char in[] = "abcdefgh\x1b" MAN "\xf3\xa0\x80\x81";
	char out[CHAT_ESCAPE_UNIT];
	size_t pos = 0, n;

	n = display_escape_some(out, sizeof(out), in, sizeof(in) - 1, &pos);
	CHECK(same(out, n, "abcdefgh") && pos == 8);
	n = display_escape_some(out, sizeof(out), in, sizeof(in) - 1, &pos);
	CHECK(same(out, n, "\\x1b" MAN) && pos == 13);
	n = display_escape_some(out, sizeof(out), in, sizeof(in) - 1, &pos);
	CHECK(same(out, n, "\\U000e0001") && pos == 17);
	n = display_escape_some(out, sizeof(out), in, sizeof(in) - 1, &pos);
	CHECK(n == 0 && pos == 17);
}

/*
 * Whether escaping in (len bytes) piece by piece, with every outsize from
 * CHAT_ESCAPE_UNIT to one more than the whole needs, joins to what
 * display_escape() makes of the whole; each piece must fit its outsize
 * and move on.
 */
static int
pieces_join_to_whole(const char *in, size_t len)
{
	char whole[CHAT_ESCAPED_MAX(128)], joined[CHAT_ESCAPED_MAX(128)];
	char piece[CHAT_ESCAPED_MAX(128) + 1];
	size_t wlen, jlen, outsize, pos, n;

	if (len > 128)
		return 0;
	wlen = display_escape(whole, in, len);
	for (outsize = CHAT_ESCAPE_UNIT; outsize <= wlen + 1; outsize++) {
		for (pos = 0, jlen = 0; pos < len; jlen += n) {
			n = display_escape_some(piece, outsize, in, len, &pos);
			if (n == 0 || n > outsize)
				return 0;
			memcpy(joined + jlen, piece, n);
		}
		if (jlen != wlen || memcmp(joined, whole, wlen) != 0) {
			printf("     outsize %zu: got \"%.*s\", "
			    "want \"%.*s\"\n", outsize, (int)jlen, joined,
			    (int)wlen, whole);
			return 0;
		}
	}
	return 1;
}

/* Pieces joined equal the whole: the inputs above, and mixes of their
 * parts (emoji, ZWJ, selectors, tags, bad bytes) chosen by a fixed LCG. */
static void
test_escape_in_pieces_joins_to_the_whole_for_every_outsize(void)
{
	static const char *const parts[] = {
		"a", "ok ", "\t", "\x1b", "\xff", "\xf0\x9f\x91", ZWJ, VS15,
		VS16, TONE3, MAN, WOMAN, HEART, WHITE_FLAG, RAINBOW,
		"\xe2\x80\xa8", "\xef\xbb\xbf", "\xf3\xa0\x80\x81", "\xc2\x9b",
		"\xe2\x80\xae", "\xe4\xb8\xad", "\xe2\xac\x9b",
	};
	const size_t nparts = sizeof(parts) / sizeof(parts[0]);
	unsigned long seed = 1;
	char in[128];
	size_t len, k, i;
	int ok = 1;

	CHECK(pieces_join_to_whole(FAMILY, sizeof(FAMILY) - 1));
	CHECK(pieces_join_to_whole(ZWJ MAN ZWJ ZWJ WOMAN TONE3 VS16 ZWJ
	    LAPTOP ZWJ, sizeof(ZWJ MAN ZWJ ZWJ WOMAN TONE3 VS16 ZWJ LAPTOP
	    ZWJ) - 1));
	CHECK(pieces_join_to_whole("plain text, longer than one piece is",
	    36));
	CHECK(pieces_join_to_whole("", 0));
	for (i = 0; i < 400 && ok; i++) {
		for (len = 0; len < sizeof(in) - 8; len += strlen(parts[k])) {
			seed = seed * 1103515245 + 12345;
			k = (seed >> 16) % (nparts + 2);
			if (k >= nparts)
				break;		/* ends the input early */
			memcpy(in + len, parts[k], strlen(parts[k]));
		}
		ok = pieces_join_to_whole(in, len);
	}
	CHECK(ok);
}

/* === Hashing ============================================================== */

/* digest as lowercase hex, in hex (2 * n + 1 bytes). */
static void
to_hex(const unsigned char *digest, size_t n, char *hex)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* Whether SHA-256 of len bytes of data, fed in chunks of at most chunk
 * bytes, is want (hex). */
static int
sha256_is(const void *data, size_t len, size_t chunk, const char *want)
{
	const unsigned char *p = data;
	unsigned char digest[SHA256_SIZE];
	char hex[2 * SHA256_SIZE + 1];
	struct sha256 s;
	size_t piece;

	sha256_init(&s);
	while (len > 0) {
		piece = len < chunk ? len : chunk;
		sha256_update(&s, p, piece);
		p += piece;
		len -= piece;
	}
	sha256_final(&s, digest);
	to_hex(digest, sizeof(digest), hex);
	if (strcmp(hex, want) != 0)
		fprintf(stderr, "    sha256: %s, expected %s\n", hex, want);
	return strcmp(hex, want) == 0;
}

/* FIPS 180-4's examples (the NIST "SHA256.pdf" and "SHA2_Additional"
 * values), whole and in awkward chunks, and the lengths around the
 * padding's edge (55, 56 and 64 bytes: one block or two). */
static void
test_sha256_matches_the_fips_180_4_examples(void)
{
	static const char two_blocks[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static char million[1000000];
	static const size_t chunks[] = { 1, 3, 63, 64, 65, 1000000 };
	size_t i;

	memset(million, 'a', sizeof(million));
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		CHECK(sha256_is("", 0, chunks[i],
		    "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855"));
		CHECK(sha256_is("abc", 3, chunks[i],
		    "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad"));
		CHECK(sha256_is(two_blocks, 56, chunks[i],
		    "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1"));
		CHECK(sha256_is(million, sizeof(million), chunks[i],
		    "cdc76e5c9914fb9281a1c7e284d73e67"
		    "f1809a48a497200e046d39ccc7112cd0"));
	}
	/* 55 bytes fit one block with the padding, 56 do not. */
	CHECK(sha256_is(million, 55, 7, "9f4390f8d30c2dd92ec9f095b65e2b9a"
	    "e9b0a925a5258e241c9f1e910f734318"));
	CHECK(sha256_is(million, 56, 7, "b35439a4ac6f0948b6d6f9e3c6af0f5f"
	    "590ce20f1bde7090ef7970686ec6738a"));
	CHECK(sha256_is(million, 64, 7, "ffe054fe7ae0cb6dc65c3af9b61d5209"
	    "f439851db43d0ba5997337df154668eb"));
}

/* Whether HMAC-SHA256 of msg under key, cut to the first cut bytes, is
 * want (hex). */
static int
hmac_is(const void *key, size_t keylen, const void *msg, size_t len,
    size_t cut, const char *want)
{
	unsigned char mac[SHA256_SIZE];
	char hex[2 * SHA256_SIZE + 1];

	hmac_sha256(key, keylen, msg, len, mac);
	to_hex(mac, cut, hex);
	if (strcmp(hex, want) != 0)
		fprintf(stderr, "    hmac: %s, expected %s\n", hex, want);
	return strcmp(hex, want) == 0;
}

/* RFC 4231's test cases 1 to 7 for HMAC-SHA-256 (case 5 is cut to 128
 * bits, as the RFC gives it). */
static void
test_hmac_sha256_matches_rfc_4231(void)
{
	unsigned char k20[20], k131[131], aa[20], cd[50], k25[25];
	size_t i;

	memset(k20, 0x0b, sizeof(k20));
	memset(aa, 0xaa, sizeof(aa));
	memset(cd, 0xdd, sizeof(cd));
	memset(k131, 0xaa, sizeof(k131));
	for (i = 0; i < sizeof(k25); i++)
		k25[i] = (unsigned char)(i + 1);
	CHECK(hmac_is(k20, 20, "Hi There", 8, 32,
	    "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7"));
	CHECK(hmac_is("Jefe", 4, "what do ya want for nothing?", 28, 32,
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843"));
	CHECK(hmac_is(aa, 20, cd, 50, 32,
	    "773ea91e36800e46854db8ebd09181a7"
	    "2959098b3ef8c122d9635514ced565fe"));
	memset(cd, 0xcd, sizeof(cd));
	CHECK(hmac_is(k25, 25, cd, 50, 32,
	    "82558a389a443c0ea4cc819899f2083a"
	    "85f0faa3e578f8077a2e3ff46729665b"));
	memset(k20, 0x0c, sizeof(k20));
	CHECK(hmac_is(k20, 20, "Test With Truncation", 20, 16,
	    "a3b6167473100ee06e0c796c2955552b"));
	CHECK(hmac_is(k131, 131, "Test Using Larger Than Block-Size Key - "
	    "Hash Key First", 54, 32,
	    "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54"));
	CHECK(hmac_is(k131, 131, "This is a test using a larger than "
	    "block-size key and a larger than block-size data. The key needs "
	    "to be hashed before being used by the HMAC algorithm.", 152, 32,
	    "9b09ffa71b942fcb27635fbcd5b0e944"
	    "bfdc63644f0713938a7f51535c3a35e2"));
}

/* Equal digests compare equal; one differing in any byte, or only in
 * its last bit, does not. */
static void
test_equal_in_constant_time_finds_any_difference(void)
{
	unsigned char a[SHA256_SIZE], b[SHA256_SIZE];
	size_t i;
	int all = 1;

	for (i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 7);
	CHECK(equal_in_constant_time(a, b, sizeof(a)));
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 1;
		all &= !equal_in_constant_time(a, b, sizeof(a));
		b[i] ^= 1;
	}
	CHECK(all);
	CHECK(equal_in_constant_time(a, b, 0));
}

/* === The conversation core, in-process =================================== */

/*
 * A chat driven step by step: its stdin, stdout and stderr are pipes whose
 * other ends the test holds, its peers are sockets the test holds, and its
 * clock is the test's, so that a deadline is passed by moving the clock,
 * not by waiting. A step waits only for what the test has already made
 * ready (or for a deadline already passed), so each takes microseconds;
 * alarm() ends a test run that would hang instead.
 */

static long long fake_now = 1000000;	/* the chat's clock, in ms */

static long long
fake_clock(void)
{
	return fake_now;
}

struct rig {
	struct chat *c;
	int in, out, err;	/* our ends of its stdin, stdout, stderr */
	int chat_fds[3];	/* its ends, closed with it */
	unsigned short port;	/* a listener's port on 127.0.0.1 */
	int status;		/* what the last step returned */
	char text[200000];	/* what rig_take() read */
	size_t len;
};

static struct rig rig;
/* What the next rig_open() gives the chat: --name, and a secret. */
static const char *rig_name;
static const char *rig_secret;

/* A chat over pipes: listening on 127.0.0.1:0, or not yet connected. */
static void
rig_open(int listening, int once, long long timeout_ms)
{
	struct chat_config cfg;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int in[2], out[2], err[2], fd;

	memset(&cfg, 0, sizeof(cfg));
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("pipe");
		exit(2);
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	cfg.listening = listening;
	cfg.once = once;
	cfg.timeout_ms = timeout_ms;
	cfg.where = "test:1";
	cfg.name = rig_name;
	cfg.secret = (const unsigned char *)rig_secret;
	cfg.secret_len = rig_secret ? strlen(rig_secret) : 0;
	cfg.block_ms = 60000;
	cfg.in_fd = in[0];
	cfg.out_fd = out[1];
	cfg.err_fd = err[1];
	cfg.clock = fake_clock;
	rig.c = chat_new(&cfg);
	rig.in = in[1];
	rig.out = out[0];
	rig.err = err[0];
	rig.chat_fds[0] = in[0];
	rig.chat_fds[1] = out[1];
	rig.chat_fds[2] = err[1];
	rig.status = -1;
	if (!listening)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("listen");
		exit(2);
	}
	rig.port = ntohs(sin.sin_port);
	chat_serve(rig.c, fd);
}

static void
rig_close(void)
{
	int i;

	chat_free(rig.c);
	close(rig.in);
	close(rig.out);
	close(rig.err);
	for (i = 0; i < 3; i++)
		close(rig.chat_fds[i]);
}

/* One step of the chat: one wait, and what it brought. */
static int
step(void)
{
	rig.status = chat_step(rig.c);
	return rig.status;
}

/* A connector's chat, talking to the socket it returns (the peer). */
static int
rig_connector(long long timeout_ms)
{
	int sv[2];

	rig_open(0, 0, timeout_ms);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(2);
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	chat_begin(rig.c, sv[0], "peer:1");
	return sv[1];
}

/* A TCP connection to the rig's listener, from source (NULL: any), in
 * its accept queue. */
static int
connect_to_rig(const char *source)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (source != NULL) {
		inet_pton(AF_INET, source, &sin.sin_addr);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			perror("bind");
			exit(2);
		}
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(rig.port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("connect");
		exit(2);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* A connection to the rig's listener, and the step that accepts it. */
static int
dial(const char *source)
{
	int fd = connect_to_rig(source);

	step();
	return fd;
}

/* Write a C string to fd. */
static void
put(int fd, const char *text)
{
	size_t len = strlen(text);

	if (write(fd, text, len) != (ssize_t)len) {
		perror("write");
		exit(2);
	}
}

/* What fd holds now (up to the size of rig.text), as rig.text; "<EOF>"
 * appended if it is closed. */
static const char *
take(int fd)
{
	ssize_t n;

	rig.len = 0;
	while (rig.len < sizeof(rig.text) - 8 && (n = read(fd, rig.text +
	    rig.len, sizeof(rig.text) - 8 - rig.len)) > 0)
		rig.len += (size_t)n;
	if (n == 0) {
		memcpy(rig.text + rig.len, "<EOF>", 5);
		rig.len += 5;
	}
	rig.text[rig.len] = '\0';
	return rig.text;
}

/* Whether fd holds exactly want now. */
static int
holds(int fd, const char *want)
{
	int ok = strcmp(take(fd), want) == 0;

	if (!ok)
		printf("  read \"%.200s\", expected \"%s\"\n", rig.text, want);
	return ok;
}

/* "127.0.0.1:PORT" of the local end of fd, as the listener names it. */
static const char *
name_of(int fd)
{
	static char name[64];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char addr[INET_ADDRSTRLEN];

	memset(&sin, 0, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));
	snprintf(name, sizeof(name), "%s:%u", addr, ntohs(sin.sin_port));
	return name;
}

/* A listener (once: with --once) in conversation with the peer it
 * returns, in our turn. */
static int
rig_conversation(int once, long long timeout_ms)
{
	char line[128];
	int peer;

	rig_open(1, once, timeout_ms);
	peer = dial(NULL);
	take(peer);
	put(peer, "HELLO chat/1\n");
	step();
	snprintf(line, sizeof(line), "Connection from %s\n", name_of(peer));
	CHECK(holds(rig.err, line));
	return peer;
}

static void
test_core_listener_handshake_turns_and_their_quit(void)
{
	int peer;

	rig_open(1, 0, -1);
	peer = dial(NULL);
	CHECK(holds(peer, "HELLO chat/1 chat/2\n"));
	CHECK(rig.status == -1);
	put(peer, "HELLO chat/1\n");
	step();				/* the HELLO: our turn */
	put(rig.in, "Hello, client!\n");
	step();				/* our line */
	CHECK(holds(peer, "MSG Hello, client!\n"));
	put(peer, "MSG Hi back\n");
	step();
	CHECK(holds(rig.out, "They say: Hi back\n"));
	put(peer, "QUIT\n");
	step();
	CHECK(holds(peer, "<EOF>"));
	CHECK(rig.status == -1);	/* a listener serves the next one */
	take(rig.err);
	CHECK(strncmp(rig.text, "Connection from 127.0.0.1:", 26) == 0);
	CHECK(strstr(rig.text, "\nThey ended the conversation.\n") != NULL);
	close(peer);
	rig_close();
}

static void
test_core_connector_handshake_our_quit_and_linger(void)
{
	int peer = rig_connector(-1);

	put(peer, "HELLO chat/1\nMSG Hello, client!\n");
	step();
	CHECK(holds(peer, "HELLO chat/1 chat/2\n"));
	CHECK(holds(rig.out, "They say: Hello, client!\n"));
	CHECK(holds(rig.err, "Connected to peer:1\n"));
	put(rig.in, "QUIT\n");
	step();
	CHECK(holds(peer, "QUIT\n<EOF>"));	/* QUIT, then our FIN */
	CHECK(holds(rig.err, "You ended the conversation.\n"));
	CHECK(rig.status == -1);	/* lingering: waits for the close */
	fake_now += 1999;
	step();
	CHECK(rig.status == -1);
	close(peer);
	step();				/* the peer's close ends the linger */
	CHECK(step() == CHAT_EXIT_OK);
	rig_close();
}

static void
test_core_linger_ends_after_2_seconds_without_the_peers_close(void)
{
	int peer = rig_connector(-1);

	put(peer, "HELLO chat/1\nMSG hi\n");
	step();
	put(rig.in, "QUIT\n");
	step();
	fake_now += 1999;
	CHECK(step() == -1);
	fake_now += 1;
	step();
	CHECK(step() == CHAT_EXIT_OK);
	close(peer);
	rig_close();
}

static void
test_core_connector_sending_its_hello_first_is_understood(void)
{
	int peer;

	rig_open(1, 0, -1);
	peer = dial(NULL);
	put(peer, "HELLO chat/1\nQUIT\n");	/* before reading ours */
	step();
	CHECK(holds(peer, "HELLO chat/1 chat/2\n<EOF>"));
	take(rig.err);
	CHECK(strncmp(rig.text, "Connection from 127.0.0.1:", 26) == 0);
	CHECK(strstr(rig.text, "\nThey ended the conversation.\n") != NULL);
	close(peer);
	rig_close();
}

static void
test_core_first_candidate_to_complete_hello_wins_others_get_busy(void)
{
	char want[256];
	int a, b, c;

	rig_open(1, 0, -1);
	a = dial(NULL);
	b = dial(NULL);
	c = dial(NULL);
	CHECK(holds(a, "HELLO chat/1 chat/2\n"));
	CHECK(holds(b, "HELLO chat/1 chat/2\n"));
	CHECK(holds(c, "HELLO chat/1 chat/2\n"));
	put(b, "HELLO chat/1\n");
	step();
	CHECK(holds(a, "BUSY\n<EOF>"));
	CHECK(holds(c, "BUSY\n<EOF>"));
	snprintf(want, sizeof(want), "Connection from %s\n", name_of(b));
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "Turned away %s: busy\n", name_of(a));
	CHECK(holds(rig.err, want));
	fake_now += 1000;		/* the second is counted, then told */
	step();
	CHECK(holds(rig.err, "Turned away 1 more: 1 busy\n"));
	put(rig.in, "to b\n");
	step();
	CHECK(holds(b, "MSG to b\n"));
	close(a);
	close(b);
	close(c);
	rig_close();
}

static void
test_core_candidates_are_bounded_per_source_and_in_all(void)
{
	static const char *const sources[] = {
		"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
	};
	char want[128];
	int fds[16], extra, i, n = 0;

	rig_open(1, 0, -1);
	for (i = 0; i < 16; i++) {
		fds[n] = dial(sources[i / 4]);
		CHECK(holds(fds[n++], "HELLO chat/1 chat/2\n"));
	}
	CHECK(holds(rig.err, ""));	/* candidates are not reported */
	extra = dial("127.0.0.2");	/* a fifth from one address */
	CHECK(holds(extra, "ERR too many from your address\n<EOF>"));
	snprintf(want, sizeof(want),
	    "Turned away %s: too many from this address\n", name_of(extra));
	CHECK(holds(rig.err, want));
	close(extra);
	extra = dial("127.0.0.6");	/* a seventeenth */
	CHECK(holds(extra, "ERR listener full\n<EOF>"));
	close(extra);
	fake_now += 1000;
	step();
	CHECK(holds(rig.err, "Turned away 1 more: 1 full\n"));
	put(fds[5], "HELLO chat/1\n");	/* any of them may still win */
	step();
	CHECK(holds(fds[5], "") && rig.status == -1);
	for (i = 0; i < 16; i++) {
		CHECK(i == 5 || strcmp(take(fds[i]), "BUSY\n<EOF>") == 0);
		close(fds[i]);
	}
	rig_close();
}

static void
test_core_a_full_pool_refuses_with_err_listener_full(void)
{
	char want[128];
	int fds[16], extra, i;

	rig_open(1, 0, -1);
	for (i = 0; i < 16; i++) {
		char source[16];

		snprintf(source, sizeof(source), "127.0.1.%d", i + 1);
		fds[i] = dial(source);
	}
	extra = dial("127.0.2.1");
	CHECK(holds(extra, "ERR listener full\n<EOF>"));
	snprintf(want, sizeof(want), "Turned away %s: full\n",
	    name_of(extra));
	CHECK(holds(rig.err, want));
	close(extra);
	close(fds[0]);			/* one leaves: a place is free */
	step();
	take(rig.err);
	extra = dial("127.0.2.1");
	CHECK(holds(extra, "HELLO chat/1 chat/2\n"));
	close(extra);
	for (i = 1; i < 16; i++)
		close(fds[i]);
	rig_close();
}

static void
test_core_hello_deadline_is_5_seconds_then_err_no_hello(void)
{
	char want[256];
	int peer;

	rig_open(1, 0, -1);
	peer = dial(NULL);
	take(peer);
	fake_now += 4999;
	step();
	CHECK(holds(peer, ""));
	fake_now += 1;
	step();
	CHECK(holds(peer, "ERR no hello\n<EOF>"));
	snprintf(want, sizeof(want), "chat: peer %s: no HELLO within 5 "
	    "seconds\n", name_of(peer));
	CHECK(holds(rig.err, want));
	close(peer);
	rig_close();
}

static void
test_core_hello_deadline_is_the_timeout_if_shorter(void)
{
	int peer = rig_connector(2000);

	fake_now += 2000;
	step();				/* the connector has said nothing */
	CHECK(holds(peer, "<EOF>"));
	CHECK(holds(rig.err, "chat: peer peer:1: no HELLO within 2 "
	    "seconds\n"));
	CHECK(step() == CHAT_EXIT_TIMEOUT);
	close(peer);
	rig_close();
}

static void
test_core_begun_frame_must_end_within_10_seconds(void)
{
	int peer = rig_conversation(0, -1);

	put(rig.in, "go\n");
	step();
	CHECK(holds(peer, "MSG go\n"));
	put(peer, "MSG dri");		/* their turn, no --timeout */
	step();
	fake_now += 5000;
	put(peer, "p");			/* more bytes do not move it */
	step();
	fake_now += 4999;
	step();
	CHECK(holds(peer, ""));
	fake_now += 1;
	step();
	CHECK(holds(peer, "ERR frame too slow\n<EOF>"));
	CHECK(strstr(take(rig.err), "frame not finished within 10 seconds")
	    != NULL);
	close(peer);
	rig_close();
}

static void
test_core_their_turn_ends_at_the_timeout_with_quit(void)
{
	int peer = rig_connector(3000);

	put(peer, "HELLO chat/1\nMSG hi\n");
	step();
	take(peer);
	put(rig.in, "answer\n");
	step();
	CHECK(holds(peer, "MSG answer\n"));
	fake_now += 2999;
	step();
	CHECK(holds(peer, ""));
	fake_now += 1;
	step();
	CHECK(holds(peer, "QUIT\n<EOF>"));
	CHECK(strstr(take(rig.err), "chat: peer peer:1: no answer within 3 "
	    "seconds\n") != NULL);
	close(peer);
	step();
	CHECK(step() == CHAT_EXIT_TIMEOUT);
	rig_close();
}

/* Each violation gets its ERR and a line on stderr, and the listener
 * serves the next peer. (These were raw-peer black-box tests.) */
static void
test_core_every_violation_gets_its_err(void)
{
	static const struct {
		int in_hello;		/* sent instead of the HELLO */
		const char *send, *err;
	} cases[] = {
		{ 1, "HI\n", "ERR bad hello\n<EOF>" },
		{ 1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ERR bad hello\n<EOF>" },
		{ 1, "QUIT\n", "ERR bad hello\n<EOF>" },
		{ 1, "HELLO chat/3 chat/0\n", "ERR unsupported version\n<EOF>" },
		{ 1, "HELLO  chat/1x\n", "ERR unsupported version\n<EOF>" },
		{ 0, "MSG not yours\n", "ERR out of turn\n<EOF>" },
		{ 0, "HELLO chat/1\n", "ERR out of turn\n<EOF>" },
		{ 0, "BUSY\n", "ERR out of turn\n<EOF>" },
		{ 0, "msg lower case\n", "ERR unknown verb\n<EOF>" },
	};
	char want[256];
	size_t i;
	int peer;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].in_hello) {
			rig_open(1, 0, -1);
			peer = dial(NULL);
			take(peer);
		} else
			peer = rig_conversation(0, -1);
		put(peer, cases[i].send);
		step();
		CHECK(holds(peer, cases[i].err));
		snprintf(want, sizeof(want), "chat: peer %s: protocol error: "
		    "%.*s\n", name_of(peer), (int)(strlen(cases[i].err) - 10),
		    cases[i].err + 4);
		CHECK(holds(rig.err, want));
		CHECK(rig.status == -1);
		close(peer);
		peer = dial(NULL);		/* the next is served */
		CHECK(holds(peer, "HELLO chat/1 chat/2\n"));
		close(peer);
		rig_close();
	}
}

static void
test_core_hello_over_256_bytes_is_a_bad_hello(void)
{
	char hello[300];
	int peer;

	rig_open(1, 0, -1);
	peer = dial(NULL);
	take(peer);
	/* 256 bytes exactly is a HELLO still */
	memset(hello, ' ', sizeof(hello));
	memcpy(hello, "HELLO chat/1", 12);
	memcpy(hello + 256, "\n", 2);
	put(peer, hello);
	step();
	CHECK(holds(peer, ""));
	CHECK(strstr(take(rig.err), "Connection from") != NULL);
	close(peer);
	rig_close();

	rig_open(1, 0, -1);
	peer = dial(NULL);
	take(peer);
	hello[256] = ' ';
	memcpy(hello + 257, "\n", 2);	/* 257 */
	put(peer, hello);
	step();
	CHECK(holds(peer, "ERR bad hello\n<EOF>"));
	close(peer);
	rig_close();
}

static void
test_core_frame_over_the_limit_is_err_frame_too_long(void)
{
	static char frame[CHAT_FRAME_MAX + 8];
	int peer = rig_connector(-1);
	size_t off = 0;
	ssize_t n;

	put(peer, "HELLO chat/1\n");
	step();
	take(peer);
	memset(frame, 'x', sizeof(frame));
	memcpy(frame, "MSG ", 4);
	while (off < CHAT_FRAME_MAX + 2) {	/* one over, and a byte */
		n = write(peer, frame + off, CHAT_FRAME_MAX + 2 - off);
		if (n > 0)
			off += (size_t)n;
		step();
	}
	CHECK(holds(peer, "ERR frame too long\n<EOF>"));
	close(peer);
	step();
	CHECK(step() == CHAT_EXIT_PEER);
	rig_close();
}

static void
test_core_quit_in_our_turn_ends_the_conversation(void)
{
	int peer = rig_conversation(0, -1);

	put(peer, "QUIT see you\n");	/* out of turn: allowed; payload
					 * ignored */
	step();
	CHECK(holds(peer, "<EOF>"));
	CHECK(holds(rig.err, "They ended the conversation.\n"));
	close(peer);
	peer = dial(NULL);		/* and the next is served */
	CHECK(holds(peer, "HELLO chat/1 chat/2\n"));
	close(peer);
	rig_close();
}

static void
test_core_err_from_the_peer_is_reported_escaped_and_not_answered(void)
{
	int peer = rig_conversation(0, -1);

	put(peer, "ERR bad \x1b[2Jthing\n");
	step();
	CHECK(holds(peer, "<EOF>"));
	CHECK(strstr(take(rig.err), ": peer reported: bad \\x1b[2Jthing\n")
	    != NULL);
	close(peer);
	rig_close();
}

static void
test_core_connector_refused_before_hello_exits_5(void)
{
	int peer = rig_connector(-1);

	put(peer, "ERR listener full\n");
	step();
	CHECK(holds(rig.err, "chat: connect test:1: refused: listener full\n"));
	CHECK(step() == CHAT_EXIT_BUSY);
	close(peer);
	rig_close();

	peer = rig_connector(-1);
	put(peer, "BUSY\n");
	step();
	CHECK(holds(rig.err, "chat: connect test:1: busy: the listener is in "
	    "another conversation\n"));
	CHECK(step() == CHAT_EXIT_BUSY);
	close(peer);
	rig_close();
}

static void
test_core_newcomer_during_a_conversation_gets_busy(void)
{
	char want[128];
	int peer = rig_conversation(0, -1), late[3], i;

	for (i = 0; i < 3; i++)
		late[i] = dial(NULL);
	for (i = 0; i < 3; i++)
		CHECK(holds(late[i], "BUSY\n<EOF>"));
	snprintf(want, sizeof(want), "Turned away %s: busy\n",
	    name_of(late[0]));
	CHECK(holds(rig.err, want));
	fake_now += 999;
	step();
	CHECK(holds(rig.err, ""));	/* not before the second is over */
	fake_now += 1;
	step();
	CHECK(holds(rig.err, "Turned away 2 more: 2 busy\n"));
	fake_now += 5000;		/* nothing more to say: no line */
	close(late[0]);
	late[0] = dial(NULL);		/* and a quiet second later... */
	snprintf(want, sizeof(want), "Turned away %s: busy\n",
	    name_of(late[0]));
	CHECK(holds(rig.err, want));	/* ...a line of its own */
	put(rig.in, "still here\n");
	step();
	CHECK(holds(peer, "MSG still here\n"));
	for (i = 0; i < 3; i++)
		close(late[i]);
	close(peer);
	rig_close();
}

static void
test_core_connector_told_busy_after_the_hellos_exits_5(void)
{
	int peer = rig_connector(-1);

	put(peer, "HELLO chat/1\n");
	step();
	CHECK(holds(peer, "HELLO chat/1 chat/2\n"));
	/* another candidate completed its HELLO first */
	put(peer, "BUSY\n");
	step();
	CHECK(holds(rig.err, "Connected to peer:1\nchat: connect test:1: busy: "
	    "the listener is in another conversation\n"));
	CHECK(step() == CHAT_EXIT_BUSY);
	CHECK(holds(peer, "<EOF>"));	/* no ERR out of turn */
	close(peer);
	rig_close();
}

/* Lines about strangers never wait for room on stderr: with nobody
 * reading it, turned-away newcomers are counted and the conversation
 * goes on; the count comes out once there is room. */
static void
test_core_stranger_lines_do_not_wait_for_a_full_stderr(void)
{
	static char fill[1 << 20];
	int peer = rig_conversation(0, -1), late[3], i;

	memset(fill, 'f', sizeof(fill));
	CHECK(write(rig.chat_fds[2], fill, (size_t)fcntl(rig.chat_fds[2],
	    F_GETPIPE_SZ)) > 0);		/* stderr full */
	for (i = 0; i < 3; i++)
		late[i] = dial(NULL);	/* would hang, if a line waited */
	for (i = 0; i < 3; i++)
		CHECK(holds(late[i], "BUSY\n<EOF>"));
	put(rig.in, "still talking\n");
	step();
	CHECK(holds(peer, "MSG still talking\n"));
	take(rig.err);			/* someone reads stderr again */
	fake_now += 1000;
	step();
	CHECK(holds(rig.err, "Turned away 3 more: 3 busy\n"));
	for (i = 0; i < 3; i++)
		close(late[i]);
	close(peer);
	rig_close();
}

/* The conversation of a --once listener ends in the same step that a
 * newcomer arrives: the newcomer is not made a candidate (it would wait
 * for a conversation that will never be). */
static void
test_core_once_listener_takes_no_candidate_after_its_conversation(void)
{
	int peer = rig_conversation(1, -1), late;

	late = connect_to_rig(NULL);
	put(peer, "QUIT\n");
	step();
	CHECK(holds(late, ""));		/* no HELLO */
	CHECK(step() == CHAT_EXIT_OK);
	close(late);
	close(peer);
	rig_close();
}

/* An idle listener whose input ends says QUIT to the candidates that
 * wait: it has sent them its HELLO, and will talk to no one. */
static void
test_core_listener_whose_input_ends_sends_candidates_quit(void)
{
	int cand;

	rig_open(1, 0, -1);
	cand = dial(NULL);
	CHECK(holds(cand, "HELLO chat/1 chat/2\n"));
	close(rig.in);
	rig.in = -1;
	step();				/* the end of input */
	step();
	CHECK(holds(cand, "QUIT\n<EOF>"));
	close(cand);
	step();
	CHECK(step() == CHAT_EXIT_OK);
	rig_close();
}

/*
 * The window between a wait and a write: a stop signal that arrives once
 * ppoll() has returned, and before the write it led to, is pending (the
 * signals are blocked outside the waits). Construction: the signal is
 * raised while blocked, with the peer's message already readable, so the
 * wait returns the message with the signal still pending (ppoll() does so
 * when a descriptor is ready); stdout is a full pipe. The write must not
 * block: chat ends with status 7 and the peer gets QUIT. Run in a child,
 * as a stop signal is for good.
 */
static void
test_core_stop_signal_pending_at_a_blocked_write_ends_chat(void)
{
	static char fill[1 << 20];
	int peer, status = -1, steps = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(5);		/* a hang is a failure */
		chat_signals_init();
		peer = rig_connector(-1);
		put(peer, "HELLO chat/1\nMSG hi\n");
		step();
		put(rig.in, "line\n");
		step();
		take(peer);
		take(rig.out);
		/* stdout full: one blocking write of what the pipe holds
		 * (O_NONBLOCK on the pipe would be chat's too, where it
		 * writes through the descriptor it was given) */
		memset(fill, 'f', sizeof(fill));
		if (write(rig.chat_fds[1], fill, (size_t)fcntl(rig.chat_fds[1],
		    F_GETPIPE_SZ)) <= 0)
			_exit(2);
		put(peer, "MSG the message that cannot be shown\n");
		kill(getpid(), SIGTERM);	/* pending: blocked */
		while (rig.status < 0 && steps++ < 5)
			step();
		if (rig.status == CHAT_EXIT_SIGNAL &&
		    strcmp(take(peer), "QUIT\n<EOF>") == 0)
			_exit(0);
		_exit(1);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* === chat/2 =============================================================== */

static void
test_proof_is_hmac_sha256_of_role_and_both_nonces(void)
{
	char nl[CHAT_HEX_LEN + 1], nc[CHAT_HEX_LEN + 1], hex[CHAT_HEX_LEN + 1];
	int i;

	for (i = 0; i < 4; i++) {
		memcpy(nl + (size_t)16 * i, "0123456789abcdef", 16);
		memcpy(nc + (size_t)16 * i, "fedcba9876543210", 16);
	}
	nl[CHAT_HEX_LEN] = nc[CHAT_HEX_LEN] = '\0';
	/* Python: hmac.new(b"s3cret", b"chat/2 ROLE NL NC", sha256) */
	chat_proof((const unsigned char *)"s3cret", 6, "connector", nl, nc, hex);
	CHECK(strcmp(hex, "1d1a4575627b7637e4c5d36e3f19de48"
	    "8891dc3ada044c62c5822367c2fd682c") == 0);
	chat_proof((const unsigned char *)"s3cret", 6, "listener", nl, nc, hex);
	CHECK(strcmp(hex, "91345369279748d527d1231d6b4b1469"
	    "528df78b70ceee54b297f23c9e97c62c") == 0);
}

static unsigned char *
source_of(unsigned char *key, int a, int b)
{
	memset(key, 0, CHAT_SOURCE_LEN);
	key[0] = 4;
	key[1] = 127;
	key[3] = (unsigned char)a;
	key[4] = (unsigned char)b;
	return key;
}

static void
test_lockout_blocks_the_third_failure_within_10_minutes(void)
{
	static struct lockout lo;
	unsigned char a[CHAT_SOURCE_LEN], b[CHAT_SOURCE_LEN];

	memset(&lo, 0, sizeof(lo));
	source_of(a, 0, 1);
	source_of(b, 0, 2);
	CHECK(lockout_fail(&lo, a, 0, 60000) == -1);
	CHECK(lockout_fail(&lo, b, 1000, 60000) == -1);
	CHECK(lockout_fail(&lo, a, 1000, 60000) == -1);
	CHECK(lockout_left(&lo, a, 1000) == 0);
	CHECK(lockout_fail(&lo, a, 599999, 60000) == 659999);
	CHECK(lockout_left(&lo, a, 600000) == 59999);
	CHECK(lockout_left(&lo, b, 600000) == 0);	/* one source only */
	CHECK(lockout_left(&lo, a, 659999) == 0);	/* served again */
	/* Its three are spent: it starts over. */
	CHECK(lockout_fail(&lo, a, 660000, 60000) == -1);
	CHECK(lockout_fail(&lo, a, 660001, 60000) == -1);
	/* Spread over more than 10 minutes, three do not block. */
	CHECK(lockout_fail(&lo, b, 601000, 60000) == -1);
	CHECK(lockout_fail(&lo, b, 601001, 60000) == -1);
	CHECK(lo.n == 2);
}

static void
test_lockout_table_holds_256_sources_and_forgets_the_quietest(void)
{
	static struct lockout lo;
	unsigned char a[CHAT_SOURCE_LEN], k[CHAT_SOURCE_LEN];
	int i;

	memset(&lo, 0, sizeof(lo));
	source_of(a, 9, 9);
	lockout_fail(&lo, a, 0, 60000);
	lockout_fail(&lo, a, 1, 60000);
	for (i = 0; i < 300; i++)
		lockout_fail(&lo, source_of(k, i / 256 + 1, i % 256),
		    10 + i, 60000);
	CHECK(lo.n == CHAT_LOCKOUT_MAX);
	/* a was the quietest: forgotten, so this is its first again. */
	CHECK(lockout_fail(&lo, a, 400, 60000) == -1);
	CHECK(lo.n == CHAT_LOCKOUT_MAX);
	/* The latest 255 are remembered: two more block the last. */
	source_of(k, 2, 43);	/* i = 299 */
	CHECK(lockout_fail(&lo, k, 401, 60000) == -1);
	CHECK(lockout_fail(&lo, k, 402, 60000) == 60402);
}

/* A connector's chat that speaks chat/2 with the peer it returns: the
 * listener's side is played by the test. */
static int
rig_connector2(const char *name, const char *secret)
{
	int peer;

	rig_name = name;
	rig_secret = secret;
	peer = rig_connector(-1);
	rig_name = rig_secret = NULL;
	return peer;
}

/* The 64 hex digits after "VERB " at the start of a line of text. */
static void
hex_after(const char *text, const char *verb, char *hex)
{
	const char *p = strstr(text, verb);

	memset(hex, 0, CHAT_HEX_LEN + 1);
	if (p != NULL && strlen(p) >= strlen(verb) + CHAT_HEX_LEN)
		memcpy(hex, p + strlen(verb), CHAT_HEX_LEN);
}

static void
test_core_chat2_connector_gives_and_shows_names(void)
{
	int peer = rig_connector2("bob", NULL);

	put(peer, "HELLO chat/1 chat/2\n");
	step();
	CHECK(holds(peer, "HELLO chat/1 chat/2\nNAME bob\n"));
	CHECK(holds(rig.err, ""));		/* not before its NAME */
	put(peer, "NAME alice\nMSG hi\n");
	step();
	CHECK(holds(rig.err, "Connected to alice at peer:1\n"));
	CHECK(holds(rig.out, "They say: hi\n"));
	put(rig.in, "QUIT\n");
	step();
	CHECK(holds(peer, "QUIT\n<EOF>"));
	close(peer);
	rig_close();
}

static void
test_core_chat1_listener_gets_the_chat1_conversation(void)
{
	int peer = rig_connector2("bob", NULL);

	put(peer, "HELLO chat/1\nMSG hi\n");
	step();
	CHECK(holds(peer, "HELLO chat/1 chat/2\n"));	/* no NAME */
	CHECK(holds(rig.err, "Connected to peer:1\n"));
	CHECK(holds(rig.out, "They say: hi\n"));
	put(peer, "QUIT because\n");	/* chat/1: a QUIT's payload is not shown */
	step();
	CHECK(holds(rig.err, "They ended the conversation.\n"));
	close(peer);
	rig_close();
}

/* The nonce of the listener the tests play. */
static const char listener_nonce[] = "00112233445566778899aabbccddeeff"
    "00112233445566778899aabbccddeeff";

/* A connector with the secret "s3cret", after the listener's HELLO: what
 * it answered is in rig.text, its nonce in nc. Returns the peer. */
static int
connector_with_secret(char *nc)
{
	int peer = rig_connector2(NULL, "s3cret");

	put(peer, "HELLO chat/2\n");
	step();
	take(peer);
	hex_after(rig.text, "\nNONCE ", nc);
	return peer;
}

static void
test_core_chat2_connector_proves_then_checks_the_listener(void)
{
	char nc[CHAT_HEX_LEN + 1], want[256], proof[CHAT_HEX_LEN + 1];
	const char *nl = listener_nonce;
	int peer = connector_with_secret(nc);

	CHECK(strlen(nc) == CHAT_HEX_LEN);
	CHECK(strstr(rig.text, "HELLO chat/1 chat/2\nNONCE ") == rig.text);
	CHECK(strcmp(rig.text + 20 + 6 + CHAT_HEX_LEN + 1, "NAME\n") == 0);
	snprintf(want, sizeof(want), "NONCE %s\nNAME alice\n", nl);
	put(peer, want);
	step();
	chat_proof((const unsigned char *)"s3cret", 6, "connector", nl, nc,
	    proof);
	snprintf(want, sizeof(want), "PROOF %s\n", proof);
	CHECK(holds(peer, want));
	CHECK(holds(rig.err, ""));
	chat_proof((const unsigned char *)"s3cret", 6, "listener", nl, nc,
	    proof);
	snprintf(want, sizeof(want), "PROOF %s\nMSG hi\n", proof);
	put(peer, want);
	step();
	CHECK(holds(rig.err, "Connected to alice at peer:1\n"));
	CHECK(holds(rig.out, "They say: hi\n"));
	close(peer);
	rig_close();
}

static void
test_core_chat2_connector_refuses_a_listener_without_the_secret(void)
{
	char nc[CHAT_HEX_LEN + 1], line[256];
	const char *nl = listener_nonce;
	int peer = connector_with_secret(nc);

	snprintf(line, sizeof(line), "NONCE %s\nNAME\n", nl);
	put(peer, line);
	step();
	take(peer);
	/* A proof for another nonce (a recorded one) does not pass. */
	chat_proof((const unsigned char *)"s3cret", 6, "listener", nl, nl,
	    line + 6);
	memcpy(line, "PROOF ", 6);
	strcat(line, "\n");
	put(peer, line);
	step();
	CHECK(holds(peer, "ERR wrong secret\n<EOF>"));
	CHECK(holds(rig.err, "chat: connect test:1: the listener does not "
	    "know the secret\n"));
	close(peer);
	step();
	CHECK(step() == CHAT_EXIT_AUTH);
	rig_close();
	/* One that has no secret (no NONCE) is refused too. */
	peer = rig_connector2(NULL, "s3cret");
	put(peer, "HELLO chat/2\nNAME\n");
	step();
	take(peer);
	CHECK(strstr(rig.text, "\nERR a secret is required\n<EOF>") != NULL);
	CHECK(holds(rig.err, "chat: connect test:1: the listener has no "
	    "secret\n"));
	close(peer);
	rig_close();
}

/* The nonce of the candidates the tests play. */
static const char candidate_nonce[] = "ffeeddccbbaa99887766554433221100"
    "ffeeddccbbaa99887766554433221100";

/* A listener with the secret "s3cret". */
static void
rig_listener_with_secret(void)
{
	rig_secret = "s3cret";
	rig_open(1, 0, -1);
	rig_secret = NULL;
}

/* A listener's candidate from peer: HELLO, NONCE (its nonce: nc), NAME;
 * then what the listener answered (NONCE NL) into nl. */
static void
candidate_introduces(int peer, const char *nc, char *nl)
{
	char line[CHAT_HEX_LEN + 32];

	take(peer);
	snprintf(line, sizeof(line), "HELLO chat/2\nNONCE %s\nNAME bob\n", nc);
	put(peer, line);
	step();
	take(peer);
	hex_after(rig.text, "NONCE ", nl);
}

/* A candidate's PROOF sent with the right secret or a wrong one (0). */
static void
candidate_proves(int peer, const char *nl, const char *nc, int right)
{
	char proof[CHAT_HEX_LEN + 1], line[CHAT_HEX_LEN + 32];

	chat_proof((const unsigned char *)(right ? "s3cret" : "wrong"),
	    right ? 6 : 5, "connector", nl, nc, proof);
	snprintf(line, sizeof(line), "PROOF %s\n", proof);
	put(peer, line);
	step();
}

static void
test_core_chat2_listener_takes_only_a_proved_candidate_and_blocks(void)
{
	const char *nc = candidate_nonce;
	char nl[CHAT_HEX_LEN + 1], proof[CHAT_HEX_LEN + 1];
	char want[256];
	int peer, i;

	rig_listener_with_secret();
	for (i = 1; i <= 3; i++) {
		fake_now += 1001;	/* each in a second of its own */
		peer = dial("127.0.0.7");
		candidate_introduces(peer, nc, nl);
		CHECK(strlen(nl) == CHAT_HEX_LEN);
		CHECK(strcmp(rig.text + 6 + CHAT_HEX_LEN, "\nNAME\n") == 0);
		CHECK(holds(rig.err, ""));
		candidate_proves(peer, nl, nc, 0);
		CHECK(holds(peer, "ERR wrong secret\n<EOF>"));
		if (i < 3)
			snprintf(want, sizeof(want), "Turned away %s: wrong "
			    "secret\n", name_of(peer));
		else
			snprintf(want, sizeof(want), "Turned away %s: wrong "
			    "secret, 3 in 10 minutes: 127.0.0.7 is blocked "
			    "for 60 seconds\n", name_of(peer));
		CHECK(holds(rig.err, want));
		close(peer);
	}
	peer = dial("127.0.0.7");	/* blocked: before any HELLO */
	CHECK(holds(peer, "ERR blocked for 60 seconds after 3 wrong "
	    "secrets\n<EOF>"));
	snprintf(want, sizeof(want), "Turned away %s: blocked for 60 more "
	    "seconds\n", name_of(peer));
	CHECK(holds(rig.err, want));
	close(peer);
	fake_now += 60000;		/* served again */
	peer = dial("127.0.0.7");
	candidate_introduces(peer, nc, nl);
	candidate_proves(peer, nl, nc, 1);
	chat_proof((const unsigned char *)"s3cret", 6, "listener", nl, nc,
	    proof);
	snprintf(want, sizeof(want), "PROOF %s\n", proof);
	CHECK(holds(peer, want));
	snprintf(want, sizeof(want), "Connection from bob at %s\n",
	    name_of(peer));
	CHECK(holds(rig.err, want));
	close(peer);
	rig_close();
}

static void
test_core_chat2_candidate_waiting_when_its_source_is_blocked_is_refused(void)
{
	const char *nc = candidate_nonce;
	char nl[CHAT_HEX_LEN + 1], nl2[CHAT_HEX_LEN + 1];
	int peer, other, i;

	rig_listener_with_secret();
	for (i = 0; i < 2; i++) {
		peer = dial("127.0.0.8");
		candidate_introduces(peer, nc, nl);
		candidate_proves(peer, nl, nc, 0);
		close(peer);
	}
	peer = dial("127.0.0.8");	/* the third and a fourth, together */
	candidate_introduces(peer, nc, nl);
	other = dial("127.0.0.8");
	candidate_introduces(other, nc, nl2);
	candidate_proves(peer, nl, nc, 0);	/* blocked now */
	CHECK(holds(peer, "ERR wrong secret\n<EOF>"));
	candidate_proves(other, nl2, nc, 1);	/* right, but too late */
	CHECK(holds(other, "ERR blocked for 60 seconds after 3 wrong "
	    "secrets\n<EOF>"));
	close(peer);
	close(other);
	rig_close();
}

/* A source blocked is said even in a second that said another line, but
 * only one a second: a second one in it is counted ("1 blocked"). */
static void
test_core_chat2_blocked_sources_are_said_one_a_second(void)
{
	const char *nc = candidate_nonce;
	static const char *const from[] = { "127.0.0.9", "127.0.0.10" };
	char nl[CHAT_HEX_LEN + 1], want[256];
	int peer, i, k, said;

	rig_listener_with_secret();
	for (i = 0; i < 3; i++)
		for (k = 0; k < 2; k++) {
			peer = dial(from[k]);
			candidate_introduces(peer, nc, nl);
			candidate_proves(peer, nl, nc, 0);
			close(peer);
		}
	take(rig.err);
	for (said = 0, i = 0; i < 2; i++) {
		snprintf(want, sizeof(want), "%s is blocked", from[i]);
		said += strstr(rig.text, want) != NULL;
	}
	CHECK(said == 1);
	CHECK(strstr(rig.text, "wrong secret, 3 in 10 minutes: 127.0.0.9 "
	    "is blocked for 60 seconds\n") != NULL);
	fake_now += 1000;
	step();
	CHECK(holds(rig.err, "Turned away 4 more: 3 without the secret, "
	    "1 blocked\n"));
	rig_close();
}

static void
test_core_chat2_listener_refuses_candidates_without_the_secret(void)
{
	char want[256];
	int peer;

	rig_listener_with_secret();
	peer = dial(NULL);
	take(peer);
	put(peer, "HELLO chat/1\n");
	step();
	CHECK(holds(peer, "ERR a secret is required\n<EOF>"));
	snprintf(want, sizeof(want), "Turned away %s: no secret\n",
	    name_of(peer));
	CHECK(holds(rig.err, want));
	close(peer);
	fake_now += 1001;
	peer = dial(NULL);
	take(peer);
	put(peer, "HELLO chat/2\nNAME bob\n");
	step();
	CHECK(holds(peer, "ERR a secret is required\n<EOF>"));
	close(peer);
	rig_close();
	/* And a listener without one refuses a connector that has one. */
	rig_open(1, 0, -1);
	peer = dial(NULL);
	take(peer);
	put(peer, "HELLO chat/2\nNONCE 00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff\nNAME bob\n");
	step();
	CHECK(holds(peer, "ERR this listener has no secret\n<EOF>"));
	close(peer);
	rig_close();
}

static void
test_core_chat2_handshake_errors(void)
{
	static const struct {
		const char *send, *err, *line;
	} cases[] = {
		{ "HELLO chat/2\nMSG hi\n", "ERR bad handshake\n<EOF>",
		  "protocol error: bad handshake" },
		{ "HELLO chat/2\nNONCE ABC\n", "ERR bad handshake\n<EOF>",
		  "protocol error: bad handshake" },
		{ "HELLO chat/2\nNAME ev\x1bil\n", "ERR bad name\n<EOF>",
		  "protocol error: bad name 'ev\\x1bil'" },
		{ "HELLO chat/2\nNAME a b\n", "ERR bad name\n<EOF>",
		  "protocol error: bad name 'a b'" },
		{ "HELLO chat/2\n", "ERR handshake too slow\n<EOF>",
		  "handshake not finished within 5 seconds" },
	};
	char want[256];
	size_t i;
	int peer;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rig_open(1, 0, -1);
		peer = dial(NULL);
		take(peer);
		put(peer, cases[i].send);
		step();
		fake_now += 5000;
		step();
		CHECK(holds(peer, cases[i].err));
		snprintf(want, sizeof(want), "chat: peer %s: %s\n",
		    name_of(peer), cases[i].line);
		CHECK(holds(rig.err, want));
		close(peer);
		rig_close();
		fake_now += 1001;
	}
}

/* After its HELLO the rest of a candidate's handshake has one deadline,
 * however it spreads its lines: a stranger holds a place 10 s at most. */
static void
test_core_chat2_handshake_after_the_hello_has_one_deadline(void)
{
	int peer;

	rig_listener_with_secret();
	peer = dial(NULL);
	take(peer);
	fake_now += 4000;
	put(peer, "HELLO chat/2\n");
	step();
	fake_now += 4000;
	put(peer, "NONCE 00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff\n");
	step();
	CHECK(holds(peer, ""));
	fake_now += 1000;		/* 5 s after its HELLO */
	step();
	CHECK(holds(peer, "ERR handshake too slow\n<EOF>"));
	close(peer);
	rig_close();
}

static void
test_core_chat2_quit_carries_the_reason(void)
{
	int peer;

	rig_open(1, 1, 2000);
	peer = dial(NULL);
	take(peer);
	put(peer, "HELLO chat/2\nNAME\n");
	step();
	CHECK(holds(peer, "NAME\n"));
	take(rig.err);
	put(rig.in, "hi\n");
	step();
	CHECK(holds(peer, "MSG hi\n"));
	fake_now += 2000;
	step();
	CHECK(holds(peer, "QUIT no answer within 2 seconds\n<EOF>"));
	close(peer);
	rig_close();
	/* And the other way: shown, escaped. */
	peer = rig_connector2(NULL, NULL);
	put(peer, "HELLO chat/2\nNAME\nQUIT out of \x1b[2Jtime\n");
	step();
	take(rig.err);
	CHECK(strstr(rig.text, "They ended the conversation: out of "
	    "\\x1b[2Jtime.\n") != NULL);
	close(peer);
	rig_close();
}

int
main(void)
{
	test_lines_split_on_lf_in_any_chunking();
	test_lines_only_the_cr_before_lf_is_dropped();
	test_lines_keep_nul_bytes();
	test_lines_room_is_counted_without_moving();
	test_lines_limit_is_exact();
	test_lines_endless_line_is_dropped_once();
	test_lines_rest_returns_the_unterminated_last_line();
	test_frame_parse_splits_verb_and_payload();
	test_frame_parse_verbs_are_exact();
	test_hello_version_is_the_highest_both_speak();
	test_names_are_one_printable_word_of_1_to_32_bytes();
	test_endpoint_accepts_the_documented_forms();
	test_endpoint_rejects_bad_ports_and_hosts();
	test_endpoint_takes_unix_paths();
	test_escape_keeps_plain_text_and_valid_utf8();
	test_escape_shows_controls_as_hex();
	test_escape_shows_c1_and_bidi_code_points();
	test_escape_shows_invalid_utf8_bytewise_and_keeps_the_rest();
	test_plain_run_ends_at_the_first_byte_to_escape();
	test_escape_worst_case_fits_the_documented_bound();
	test_escape_shows_line_and_paragraph_separators_as_u_escapes();
	test_escape_shows_zero_width_and_format_code_points_as_u_escapes();
	test_escape_shows_hangul_fillers_as_u_escapes();
	test_escape_shows_tag_characters_as_long_u_escapes();
	test_escape_keeps_the_neighbours_of_each_escaped_range();
	test_escape_keeps_emoji_zwj_sequences_whole();
	test_escape_keeps_variation_selectors();
	test_escape_keeps_zwj_between_the_ends_of_each_emoji_range();
	test_escape_shows_zwj_not_between_two_emoji_as_u_escape();
	test_escape_long_u_escapes_fit_the_documented_bounds();
	test_escape_some_stops_before_what_does_not_fit();
	test_escape_in_pieces_joins_to_the_whole_for_every_outsize();
	test_sha256_matches_the_fips_180_4_examples();
	test_hmac_sha256_matches_rfc_4231();
	test_equal_in_constant_time_finds_any_difference();
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(60);	/* a core test that hangs fails the run */
	test_core_listener_handshake_turns_and_their_quit();
	test_core_connector_handshake_our_quit_and_linger();
	test_core_linger_ends_after_2_seconds_without_the_peers_close();
	test_core_connector_sending_its_hello_first_is_understood();
	test_core_first_candidate_to_complete_hello_wins_others_get_busy();
	test_core_candidates_are_bounded_per_source_and_in_all();
	test_core_a_full_pool_refuses_with_err_listener_full();
	test_core_hello_deadline_is_5_seconds_then_err_no_hello();
	test_core_hello_deadline_is_the_timeout_if_shorter();
	test_core_begun_frame_must_end_within_10_seconds();
	test_core_their_turn_ends_at_the_timeout_with_quit();
	test_core_every_violation_gets_its_err();
	test_core_hello_over_256_bytes_is_a_bad_hello();
	test_core_frame_over_the_limit_is_err_frame_too_long();
	test_core_quit_in_our_turn_ends_the_conversation();
	test_core_err_from_the_peer_is_reported_escaped_and_not_answered();
	test_core_connector_refused_before_hello_exits_5();
	test_core_newcomer_during_a_conversation_gets_busy();
	test_core_connector_told_busy_after_the_hellos_exits_5();
	test_core_stranger_lines_do_not_wait_for_a_full_stderr();
	test_core_once_listener_takes_no_candidate_after_its_conversation();
	test_core_listener_whose_input_ends_sends_candidates_quit();
	test_core_stop_signal_pending_at_a_blocked_write_ends_chat();
	test_proof_is_hmac_sha256_of_role_and_both_nonces();
	test_lockout_blocks_the_third_failure_within_10_minutes();
	test_lockout_table_holds_256_sources_and_forgets_the_quietest();
	test_core_chat2_connector_gives_and_shows_names();
	test_core_chat1_listener_gets_the_chat1_conversation();
	test_core_chat2_connector_proves_then_checks_the_listener();
	test_core_chat2_connector_refuses_a_listener_without_the_secret();
	test_core_chat2_listener_takes_only_a_proved_candidate_and_blocks();
	test_core_chat2_listener_refuses_candidates_without_the_secret();
	test_core_chat2_blocked_sources_are_said_one_a_second();
	test_core_chat2_candidate_waiting_when_its_source_is_blocked_is_refused();
	test_core_chat2_handshake_errors();
	test_core_chat2_handshake_after_the_hello_has_one_deadline();
	test_core_chat2_quit_carries_the_reason();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
