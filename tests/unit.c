/*
 * unit.c - unit tests of chat's pure parts, through chat.h: line framing,
 * frame parsing, endpoint parsing and display escaping. Built against
 * chat.c itself (its main renamed); ends with "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

static int passed, failed;

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
		linebuf_init(&lb, CHAT_FRAME_MAX);
		feed(&lb, in, sizeof(in) - 1, chunk, out, sizeof(out));
		CHECK(strcmp(out, "MSG one|MSG two||QUIT|") == 0);
	}
}

static void
test_lines_only_the_cr_before_lf_is_dropped(void)
{
	struct linebuf lb;
	char out[64];

	linebuf_init(&lb, CHAT_FRAME_MAX);
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

	linebuf_init(&lb, CHAT_FRAME_MAX);
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

	linebuf_init(&lb, CHAT_FRAME_MAX);
	CHECK(linebuf_room(&lb) == sizeof(lb.data));
	space = linebuf_space(&lb, &room);
	memcpy(space, "MSG one\nMSG t", 13);
	linebuf_fill(&lb, 13);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_OK);
	CHECK(linebuf_room(&lb) == sizeof(lb.data) - 5);	/* "MSG t" */
	CHECK(same(line, len, "MSG one"));	/* not moved by the count */
	linebuf_space(&lb, &room);
	CHECK(room == sizeof(lb.data) - 5);
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
	linebuf_init(&lb, max);
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
		linebuf_init(&lb, max);
		feed(&lb, in, i + 4, chunk, out, sizeof(out));
		CHECK(strcmp(out, "!|ok|") == 0);
	}

	/* max + 1 bytes and no LF yet: too long already, unless the last
	 * is a CR that may come before the LF */
	memset(in, 'c', max + 1);
	linebuf_init(&lb, max);
	space = linebuf_space(&lb, &room);
	memcpy(space, in, max + 1);
	linebuf_fill(&lb, max + 1);
	CHECK(linebuf_next(&lb, &line, &len) == LINE_TOOLONG);
	in[max] = '\r';
	linebuf_init(&lb, max);
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
	linebuf_init(&lb, CHAT_FRAME_MAX);
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

	linebuf_init(&lb, CHAT_TEXT_MAX);
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
test_hello_speaks_finds_our_version_in_the_list(void)
{
	CHECK(hello_speaks("chat/1", 6));
	CHECK(hello_speaks("chat/2 chat/1", 13));
	CHECK(!hello_speaks("chat/2", 6));
	CHECK(!hello_speaks("chat/10", 7));
	CHECK(!hello_speaks("chat/", 5));
	CHECK(!hello_speaks("", 0));
	CHECK(!hello_speaks("xchat/1", 7));
}

/* === Endpoints =========================================================== */

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
	CHECK(strcmp(ep.port, "7") == 0);
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
	test_hello_speaks_finds_our_version_in_the_list();
	test_endpoint_accepts_the_documented_forms();
	test_endpoint_rejects_bad_ports_and_hosts();
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
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
