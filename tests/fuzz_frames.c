/*
 * fuzz_frames.c - libFuzzer harness for what chat does with a peer's
 * bytes: line framing (linebuf_*), frame parsing (frame_parse,
 * hello_version) and display escaping (display_escape, display_escape_some,
 * display_plain).
 * Built against chat.c itself (its main renamed) by `make fuzz`; uses
 * only chat.h.
 *
 * The first HEADER bytes of an input choose how it is fed; the rest are
 * the bytes a peer sends:
 *
 *   byte 0   the line limit: bits 0-1 are 0 for CHAT_FRAME_MAX, 1 for
 *            CHAT_TEXT_MAX (stdin's limit), 2 or 3 for byte 1 (0-255), so
 *            that short inputs reach the over-limit paths too; bits 2-7
 *            (0-63) plus CHAT_ESCAPE_UNIT are the size of the pieces for
 *            display_escape_some()
 *   byte 1   that small limit
 *   bytes 2-5  chunk sizes, used in turn: N < 0xf0 feeds N + 1 bytes,
 *            N >= 0xf0 as many as fit (read() filling all the room)
 *
 * The bytes go through a linebuf three ways: in those chunks, in chunks as
 * large as fit ("one-shot"), and through a model of the README's framing
 * rules written here from scratch. All three must give the same frames and
 * the same over-limit reports, and a full buffer must never hold no line
 * (a reader would stall). Each frame is parsed and escaped; the escaped
 * text must be strictly valid UTF-8 with nothing a terminal would act on
 * or that would not show (a ZWJ only between two emoji), no longer than
 * CHAT_ESCAPED_MAX, the same as a model of the README's escaping written
 * here, and the same when escaped in pieces; display_plain() must stop at
 * the first byte that is not printable ASCII. Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

#define HEADER	6
#define CHUNKS	4

/* A violated invariant: say which, then crash for libFuzzer. */
#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_frames.c:%d: violated: %s\n",	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * What a way of feeding saw, as a byte log: "L", the length as 4 bytes,
 * the line, for each LINE_OK; "!" for each LINE_TOOLONG.
 */
struct events {
	unsigned char *log;
	size_t len, size;
};

/* Two line buffers of 64 KiB each: not on the stack. */
static struct linebuf lb_chunked, lb_oneshot;
static char lb_chunked_data[LINEBUF_SIZE], lb_oneshot_data[LINEBUF_SIZE];

static void
events_init(struct events *ev, size_t input_len)
{
	/* every line costs at most 5 bytes plus its own bytes; at most one
	 * event per input byte, plus the one at the end */
	ev->size = 6 * (input_len + 1);
	ev->log = malloc(ev->size);
	REQUIRE(ev->log != NULL);
	ev->len = 0;
}

static void
events_put(struct events *ev, enum line_result r, const char *line,
    size_t len)
{
	size_t i;

	if (r == LINE_TOOLONG) {
		REQUIRE(ev->len + 1 <= ev->size);
		ev->log[ev->len++] = '!';
		return;
	}
	REQUIRE(ev->len + 5 + len <= ev->size);
	ev->log[ev->len++] = 'L';
	for (i = 0; i < 4; i++)
		ev->log[ev->len++] = (unsigned char)(len >> (8 * i));
	memcpy(ev->log + ev->len, line, len);
	ev->len += len;
}

static int
events_same(const struct events *a, const struct events *b)
{
	return a->len == b->len && memcmp(a->log, b->log, a->len) == 0;
}

/* === Strict UTF-8 with nothing a terminal acts on ======================== */

/* In a decoded text: a byte that does not begin valid UTF-8. */
#define NOT_UTF8	0xffffffffUL

/*
 * The code point that s (n > 0 bytes) begins with, if it is valid UTF-8
 * (shortest form, no surrogate, nothing above U+10FFFF), and its length
 * in *len; else NOT_UTF8 with *len = 1.
 */
static unsigned long
decode(const unsigned char *s, size_t n, size_t *len)
{
	static const unsigned long least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned long cp;
	size_t k;

	*len = 1;
	if (s[0] < 0x80)
		return s[0];
	if ((s[0] & 0xe0) == 0xc0)
		k = 2, cp = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		k = 3, cp = s[0] & 0x0fu;
	else if ((s[0] & 0xf8) == 0xf0)
		k = 4, cp = s[0] & 0x07u;
	else
		return NOT_UTF8;	/* a continuation byte, or 0xf8-0xff */
	if (k > n)
		return NOT_UTF8;	/* cut short */
	for (*len = 1; *len < k; (*len)++) {
		if ((s[*len] & 0xc0) != 0x80) {
			*len = 1;
			return NOT_UTF8;
		}
		cp = cp << 6 | (s[*len] & 0x3fu);
	}
	if (cp < least[k] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
		*len = 1;
		return NOT_UTF8;	/* overlong, surrogate, too large */
	}
	return cp;
}

/* Decode all of s (n bytes) into cps[] (room for n); returns how many. */
static size_t
decode_all(const unsigned char *s, size_t n, unsigned long *cps)
{
	size_t i = 0, count = 0, len;

	while (i < n) {
		cps[count++] = decode(s + i, n - i, &len);
		i += len;
	}
	return count;
}

/*
 * Whether the README has code point cp shown escaped: C0 but TAB, DEL,
 * C1, bidi controls, separators, invisible and blank code points, tags.
 * A ZWJ (U+200D) is in the list; zwj_joins() says when it is kept.
 */
static int
model_escaped(unsigned long cp)
{
	if (cp < 0x80)		/* ASCII, most of any text: C0 but TAB, DEL */
		return (cp < 0x20 && cp != '\t') || cp == 0x7f;
	return cp <= 0x9f /* C1 */ || cp == 0x061c || cp == 0x115f ||
	    cp == 0x1160 || cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
	    cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206f) ||
	    cp == 0x3164 || cp == 0xfeff || cp == 0xffa0 ||
	    (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

/* Whether cp is an emoji for the ZWJ rule, as the README lists them. */
static int
model_emoji(unsigned long cp)
{
	if (cp >= 0x1f3fb && cp <= 0x1f3ff)
		return 0;	/* skin tones: they only modify an emoji */
	return (cp >= 0x2190 && cp <= 0x21ff) ||
	    (cp >= 0x2300 && cp <= 0x23ff) || (cp >= 0x2600 && cp <= 0x27bf) ||
	    (cp >= 0x2b00 && cp <= 0x2bff) || (cp >= 0x1f000 && cp <= 0x1faff);
}

/*
 * Whether the ZWJ at cps[k] (of n) stands where the README keeps it:
 * EMOJI [SKIN TONE] [U+FE0F] ZWJ EMOJI.
 */
static int
zwj_joins(const unsigned long *cps, size_t n, size_t k)
{
	if (k + 1 >= n || !model_emoji(cps[k + 1]))
		return 0;
	if (k > 0 && cps[k - 1] == 0xfe0f)
		k--;
	if (k > 0 && cps[k - 1] >= 0x1f3fb && cps[k - 1] <= 0x1f3ff)
		k--;
	return k > 0 && model_emoji(cps[k - 1]);
}

/*
 * Whether s (n bytes) is valid UTF-8 holding nothing the README escapes:
 * no control but TAB, no C1, no bidi control, separator, invisible or
 * blank code point, no tag; a ZWJ only between two emoji.
 */
static int
terminal_safe(const unsigned char *s, size_t n)
{
	unsigned long *cps = malloc((n > 0 ? n : 1) * sizeof(*cps));
	size_t count, k;
	int safe = 1;

	REQUIRE(cps != NULL);
	count = decode_all(s, n, cps);
	for (k = 0; k < count && safe; k++)
		safe = cps[k] != NOT_UTF8 && (!model_escaped(cps[k]) ||
		    (cps[k] == 0x200d && zwj_joins(cps, count, k)));
	free(cps);
	return safe;
}

/*
 * The README's escaping of in (len bytes), written here from scratch, into
 * out (size bytes, at least CHAT_ESCAPED_MAX(len) + 1 for snprintf's NUL);
 * returns its length.
 */
static size_t
model_escape(const char *in, size_t len, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned long *cps = malloc((len > 0 ? len : 1) * sizeof(*cps));
	size_t count, k, i = 0, o = 0, n;
	unsigned long cp;

	REQUIRE(cps != NULL);
	count = decode_all(s, len, cps);
	for (k = 0; k < count; k++, i += n) {
		cp = decode(s + i, len - i, &n);
		REQUIRE(cp == cps[k]);
		if (cp == NOT_UTF8 || (cp < 0x80 && model_escaped(cp)))
			o += (size_t)snprintf(out + o, size - o, "\\x%02x",
			    s[i]);
		else if (model_escaped(cp) &&
		    !(cp == 0x200d && zwj_joins(cps, count, k)))
			o += (size_t)snprintf(out + o, size - o, cp > 0xffff ?
			    "\\U%08lx" : "\\u%04lx", cp);
		else {
			REQUIRE(o + n < size);
			memcpy(out + o, in + i, n);
			o += n;
		}
	}
	free(cps);
	return o;
}

/* Whether byte c is printable ASCII, which is shown as it is. */
static int
plain(char c)
{
	return c >= 0x20 && c < 0x7f;
}

/*
 * display_plain() is the leading run of printable ASCII, from every
 * starting offset in the first eight (it reads a word at a time, so the
 * tails and the alignments differ): what chat shows without escaping.
 */
static void
check_plain(const char *in, size_t len)
{
	size_t k, p, i;

	for (k = 0; k < 8 && k <= len; k++) {
		p = display_plain(in + k, len - k);
		REQUIRE(p <= len - k);
		for (i = 0; i < p; i++)
			REQUIRE(plain(in[k + i]));
		REQUIRE(p == len - k || !plain(in[k + p]));
	}
}

/*
 * Escape in (len bytes) again with display_escape_some(), in pieces of at
 * most piece bytes, each into a heap block of exactly that size: every
 * call must make progress, and the pieces joined must be whole (wlen
 * bytes), what display_escape() made of it at once.
 */
static void
check_pieces(const char *in, size_t len, size_t piece, const char *whole,
    size_t wlen)
{
	char *out = malloc(piece);
	size_t pos = 0, last, n, done = 0;

	REQUIRE(out != NULL);
	while (pos < len) {
		last = pos;
		n = display_escape_some(out, piece, in, len, &pos);
		REQUIRE(n > 0 && n <= piece);
		REQUIRE(pos > last && pos <= len);
		REQUIRE(done + n <= wlen && memcmp(out, whole + done, n) == 0);
		done += n;
	}
	REQUIRE(done == wlen);
	REQUIRE(display_escape_some(out, piece, in, len, &pos) == 0);
	REQUIRE(pos == len);
	free(out);
}

/*
 * Escape len bytes into a buffer of exactly CHAT_ESCAPED_MAX(len) bytes on
 * the heap (so that ASan sees a byte written past it); check the result,
 * against the model too, and escape it again in pieces of piece bytes.
 */
static void
check_escape(const char *in, size_t len, size_t piece)
{
	size_t size = CHAT_ESCAPED_MAX(len), n, i;
	char *out = malloc(size > 0 ? size : 1);
	char *want = malloc(size + 1);
	int printable = 1;

	REQUIRE(out != NULL && want != NULL);
	n = display_escape(out, in, len);
	REQUIRE(n <= size);
	REQUIRE(n >= len);	/* nothing is dropped, only escaped */
	REQUIRE(terminal_safe((const unsigned char *)out, n));
	REQUIRE(model_escape(in, len, want, size + 1) == n);
	REQUIRE(memcmp(out, want, n) == 0);
	/* Printable ASCII and TAB reach the screen as they are. */
	for (i = 0; i < len && printable; i++)
		printable = plain(in[i]) || in[i] == '\t';
	if (printable)
		REQUIRE(n == len && memcmp(out, in, len) == 0);
	check_pieces(in, len, piece, out, n);
	free(want);
	free(out);
	check_plain(in, len);
}

/* === Frames ============================================================== */

/* The highest version chat speaks among the HELLO payload's words (split
 * at each space; a word is "chat/" and one digit from 1 to
 * CHAT_PROTOCOL_MAX, exactly), or 0. */
static int
model_hello_version(const char *p, size_t n)
{
	size_t start = 0, i;
	int best = 0, v;

	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != ' ')
			continue;
		v = i - start == 6 && memcmp(p + start, "chat/", 5) == 0 ?
		    p[start + 5] - '0' : 0;
		if (v >= 1 && v <= CHAT_PROTOCOL_MAX && v > best)
			best = v;
		start = i + 1;
	}
	return best;
}

/* Parse one frame and check the verb and payload against the README; then
 * its escaping, in pieces of piece bytes too. */
static void
check_frame(const char *line, size_t len, size_t piece)
{
	static const struct {
		const char *name;
		enum verb verb;
	} verbs[] = {
		{ "HELLO", VERB_HELLO }, { "MSG", VERB_MSG },
		{ "QUIT", VERB_QUIT }, { "BUSY", VERB_BUSY }, { "ERR", VERB_ERR },
		{ "NAME", VERB_NAME }, { "NONCE", VERB_NONCE },
		{ "PROOF", VERB_PROOF },
	};
	const char *payload = NULL;
	size_t plen = (size_t)-1, vlen, i;
	enum verb want = VERB_UNKNOWN, got;

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		continue;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == vlen &&
		    memcmp(verbs[i].name, line, vlen) == 0)
			want = verbs[i].verb;
	got = frame_parse(line, len, &payload, &plen);
	REQUIRE(got == want);
	if (vlen < len) {	/* verb, one space, the payload */
		REQUIRE(payload == line + vlen + 1);
		REQUIRE(plen == len - vlen - 1);
	} else {		/* no payload: empty, at the end of the line */
		REQUIRE(payload == line + len);
		REQUIRE(plen == 0);
	}
	if (got == VERB_HELLO)
		REQUIRE(hello_version(payload, plen) ==
		    model_hello_version(payload, plen));
	check_escape(line, len, piece);
}

/* === Three ways to frame the same bytes ================================== */

/* Take every line lb holds now; after the last, there must be room. */
static void
drain(struct linebuf *lb, size_t max, struct events *ev)
{
	const char *line;
	size_t len, room;
	enum line_result r;

	while ((r = linebuf_next(lb, &line, &len)) != LINE_NONE) {
		if (r == LINE_OK) {
			REQUIRE(len <= max);
			REQUIRE(memchr(line, '\n', len) == NULL);
		}
		events_put(ev, r, line, len);
	}
	/* A full buffer with no line in it would stall a reader for good:
	 * read() into no room returns 0, which looks like end of input. */
	REQUIRE(linebuf_room(lb) > 0);
	linebuf_space(lb, &room);
	REQUIRE(room > 0);
}

/* At end of input: the unterminated last line, if any; then lb is empty. */
static void
finish(struct linebuf *lb, size_t max, struct events *ev)
{
	const char *line;
	size_t len;
	enum line_result r;

	while ((r = linebuf_rest(lb, &line, &len)) != LINE_NONE) {
		if (r == LINE_OK)
			REQUIRE(len <= max);
		events_put(ev, r, line, len);
	}
	REQUIRE(!linebuf_pending(lb));
}

/*
 * Feed data into lb in chunks of the sizes in chunk[] (used in turn; 0:
 * as much as fits), taking the lines after each.
 */
static void
feed(struct linebuf *lb, size_t max, const uint8_t *data, size_t size,
    const size_t *chunk, struct events *ev)
{
	size_t done = 0, room, n, turn = 0;
	char *space;

	linebuf_init(lb, lb == &lb_chunked ? lb_chunked_data : lb_oneshot_data,
	    LINEBUF_SIZE, max);
	while (done < size) {
		n = linebuf_room(lb);
		space = linebuf_space(lb, &room);
		REQUIRE(room == n);	/* linebuf_room() foretells it */
		REQUIRE(space != NULL && room > 0 && room <= LINEBUF_SIZE);
		n = chunk[turn++ % CHUNKS];
		if (n == 0 || n > room)
			n = room;
		if (n > size - done)
			n = size - done;
		memcpy(space, data + done, n);
		linebuf_fill(lb, n);
		done += n;
		drain(lb, max, ev);
	}
	finish(lb, max, ev);
}

/*
 * The README's framing, on the whole input at once: a line ends at LF; a
 * CR just before the LF is dropped; a line longer than max is reported
 * once and dropped. At end of input an unterminated last line is taken as
 * it is (a CR at its end stays).
 */
static void
model(size_t max, const uint8_t *data, size_t size, struct events *ev)
{
	const char *s = (const char *)data;
	size_t start = 0, end, len;
	const char *lf;

	while (start < size) {
		lf = memchr(s + start, '\n', size - start);
		end = lf != NULL ? (size_t)(lf - s) : size;
		len = end - start;
		if (lf != NULL && len > 0 && s[end - 1] == '\r')
			len--;
		events_put(ev, len > max ? LINE_TOOLONG : LINE_OK, s + start,
		    len);
		start = end + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t whole[CHUNKS] = { 0, 0, 0, 0 };
	uint8_t head[HEADER] = { 0 };
	struct events chunked, oneshot, modeled;
	size_t chunk[CHUNKS], max, piece, i;

	for (i = 0; i < HEADER && i < size; i++)
		head[i] = data[i];
	data += i;
	size -= i;
	switch (head[0] & 3) {
	case 0:
		max = CHAT_FRAME_MAX;
		break;
	case 1:
		max = CHAT_TEXT_MAX;
		break;
	default:
		max = head[1];
		break;
	}
	for (i = 0; i < CHUNKS; i++)
		chunk[i] = head[2 + i] >= 0xf0 ? 0 : (size_t)head[2 + i] + 1;
	piece = CHAT_ESCAPE_UNIT + (head[0] >> 2);

	events_init(&chunked, size);
	events_init(&oneshot, size);
	events_init(&modeled, size);
	feed(&lb_chunked, max, data, size, chunk, &chunked);
	feed(&lb_oneshot, max, data, size, whole, &oneshot);
	model(max, data, size, &modeled);
	REQUIRE(events_same(&chunked, &oneshot));
	REQUIRE(events_same(&oneshot, &modeled));

	/* Every frame, parsed and escaped, each in a heap block of its own
	 * size so that ASan sees a read past its end; the raw bytes too. */
	for (i = 0; i < modeled.len; ) {
		size_t len;
		char *frame;

		if (modeled.log[i++] == '!')
			continue;
		len = (size_t)modeled.log[i] | (size_t)modeled.log[i + 1] << 8 |
		    (size_t)modeled.log[i + 2] << 16 |
		    (size_t)modeled.log[i + 3] << 24;
		i += 4;
		frame = malloc(len > 0 ? len : 1);
		REQUIRE(frame != NULL);
		memcpy(frame, modeled.log + i, len);
		check_frame(frame, len, piece);
		free(frame);
		i += len;
	}
	check_escape((const char *)data, size, piece);

	free(chunked.log);
	free(oneshot.log);
	free(modeled.log);
	return 0;
}
