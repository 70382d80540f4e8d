/*
 * floor.c - the bare floor that chat is timed against (make bench).
 *
 * Two processes on loopback taking strict turns, with nothing chat has
 * beyond that: no poll, no escaping, no timeouts, no terminal, minimal
 * error handling. Per message: one send() of the whole frame, recv()
 * until the peer's frame is complete, one write() of the "They say:"
 * line; stdin is read with read(2) into a buffer, as chat does. It
 * speaks chat's protocol (HELLO, "MSG text", QUIT), so a floor can even
 * talk to a chat, and for plain ASCII scripts with LF line ends its
 * stdout is byte for byte chat's.
 *
 *   floor --listen [127.0.0.1:]PORT [--once] [--poll]
 *                      PORT 0 picks one; prints "Listening on
 *                      127.0.0.1:PORT" on stderr
 *   floor --connect ADDR:PORT [--poll]         ADDR an IPv4 address
 *
 * --poll waits for the peer's frame the way chat must: in ppoll(), with
 * the stop signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) blocked except
 * while it waits, then a recv() that finds the bytes there. chat against
 * this floor shows what chat costs beyond its wait.
 *
 * The listener speaks first; end of input (or a line "QUIT") sends QUIT.
 * A connector, and a listener with --once, have one conversation; else
 * the listener takes peers one after another until its input ends. Exit
 * 0, or 1 on any error.
 */
#define _GNU_SOURCE	/* ppoll() */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXT_MAX	65532		/* as chat: a frame is at most 64 KiB */
#define FRAME_MAX	(TEXT_MAX + 4)
#define HEAD		"They say: "

static char in[FRAME_MAX + 2];		/* stdin, cut into lines */
static size_t in_start, in_len;
static int in_eof;
static char net[FRAME_MAX + 2];		/* the peer's bytes, cut into frames */
static size_t net_start, net_len;
static char frame[FRAME_MAX + 1];	/* one frame to send */
static char out[sizeof(HEAD) + TEXT_MAX + 1];	/* one line to show */
static int poll_first;			/* --poll */
static sigset_t wait_mask;		/* the mask ppoll() waits with */

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The next line of stdin, without its LF; NULL at end of input. */
static char *
next_line(size_t *len)
{
	char *line, *lf;
	ssize_t n;

	for (;;) {
		line = in + in_start;
		lf = memchr(line, '\n', in_len - in_start);
		if (lf != NULL) {
			*len = lf - line;
			in_start += *len + 1;
			return line;
		}
		if (in_eof) {		/* a last line without LF still counts */
			*len = in_len - in_start;
			in_start = in_len;
			return *len > 0 ? line : NULL;
		}
		memmove(in, line, in_len - in_start);
		in_len -= in_start;
		in_start = 0;
		if (in_len == sizeof(in)) {
			errno = EMSGSIZE;
			die("read stdin");
		}
		n = read(STDIN_FILENO, in + in_len, sizeof(in) - in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read stdin");
		if (n == 0)
			in_eof = 1;
		in_len += n;
	}
}

/* The peer's next frame, without its LF; NULL if it closed. */
static char *
next_frame(int fd, size_t *len)
{
	char *line, *lf;
	size_t scanned = 0;
	ssize_t n;

	for (;;) {
		line = net + net_start;
		lf = memchr(line + scanned, '\n', net_len - net_start - scanned);
		if (lf != NULL) {
			*len = lf - line;
			net_start += *len + 1;
			return line;
		}
		scanned = net_len - net_start;
		if (net_start > 0) {
			memmove(net, line, scanned);
			net_len = scanned;
			net_start = 0;
		}
		if (net_len == sizeof(net)) {
			errno = EMSGSIZE;
			die("recv");
		}
		if (poll_first) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (ppoll(&pfd, 1, NULL, &wait_mask) < 0 &&
			    errno != EINTR)
				die("ppoll");
		}
		n = recv(fd, net + net_len, sizeof(net) - net_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recv");
		if (n == 0)
			return NULL;
		net_len += n;
	}
}

static void
send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("send");
		buf += n;
		len -= n;
	}
}

static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write stdout");
		buf += n;
		len -= n;
	}
}

/* ADDR:PORT or PORT (listen only) into sa; 0 if it does not parse. */
static int
parse_endpoint(const char *spec, struct sockaddr_in *sa)
{
	const char *colon = strrchr(spec, ':');
	char host[INET_ADDRSTRLEN] = "127.0.0.1";
	char *end;
	long port;

	if (colon != NULL) {
		if ((size_t)(colon - spec) >= sizeof(host))
			return 0;
		memcpy(host, spec, colon - spec);
		host[colon - spec] = '\0';
		spec = colon + 1;
	}
	port = strtol(spec, &end, 10);
	if (*spec == '\0' || *end != '\0' || port < 0 || port > 65535)
		return 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static int
listen_on(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) < 0)
		die("listen");
	fprintf(stderr, "Listening on 127.0.0.1:%u\n", ntohs(sa->sin_port));
	fflush(stderr);
	return fd;
}

/* Whether stdin still has a line to say, reading ahead if need be. */
static int
input_left(void)
{
	ssize_t n;

	while (in_start == in_len && !in_eof) {
		in_start = in_len = 0;
		n = read(STDIN_FILENO, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read stdin");
		if (n == 0)
			in_eof = 1;
		in_len = n;
	}
	return in_start < in_len;
}

/* One conversation on fd, in turns, until either side ends it. */
static void
converse(int fd, int listening)
{
	static const char hello[] = "HELLO chat/1\n";
	char *line;
	size_t len;
	int one = 1, ours;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	net_start = net_len = 0;
	/* HELLO both ways: the listener's first, as chat does. */
	if (listening)
		send_all(fd, hello, sizeof(hello) - 1);
	line = next_frame(fd, &len);
	if (line == NULL || len < 6 || memcmp(line, "HELLO ", 6) != 0) {
		fprintf(stderr, "floor: no HELLO from the peer\n");
		exit(1);
	}
	if (!listening)
		send_all(fd, hello, sizeof(hello) - 1);

	for (ours = listening;; ours = !ours) {
		if (ours) {
			line = next_line(&len);
			if (line == NULL || (len == 4 &&
			    memcmp(line, "QUIT", 4) == 0))
				break;
			if (len > TEXT_MAX) {
				fprintf(stderr, "floor: line too long\n");
				exit(1);
			}
			memcpy(frame + 4, line, len);
			frame[4 + len] = '\n';
			send_all(fd, frame, 4 + len + 1);
			continue;
		}
		line = next_frame(fd, &len);
		if (line == NULL || len < 4 || memcmp(line, "MSG ", 4) != 0)
			return;		/* closed, QUIT, or anything else */
		memcpy(out + sizeof(HEAD) - 1, line + 4, len - 4);
		out[sizeof(HEAD) - 1 + len - 4] = '\n';
		write_all(STDOUT_FILENO, out, sizeof(HEAD) - 1 + len - 4 + 1);
	}
	/* QUIT, then wait for the peer's close, so that ours sends no RST
	 * over what it has not read yet. */
	send_all(fd, "QUIT\n", 5);
	shutdown(fd, SHUT_WR);
	while (recv(fd, net, sizeof(net), 0) > 0)
		continue;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	sigset_t stops;
	int fd, lfd = -1, listening, once = 0, i, bad;

	bad = argc < 3 || (strcmp(argv[1], "--listen") != 0 &&
	    strcmp(argv[1], "--connect") != 0) || !parse_endpoint(argv[2], &sa);
	listening = !bad && argv[1][2] == 'l';
	for (i = 3; !bad && i < argc; i++) {
		if (listening && strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--poll") == 0)
			poll_first = 1;
		else
			bad = 1;
	}
	if (bad) {
		fprintf(stderr, "usage: floor --listen [127.0.0.1:]PORT [--once]"
		    " [--poll]\n       floor --connect ADDR:PORT [--poll]\n");
		return 2;
	}
	once = once || !listening;
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGHUP);
	sigaddset(&stops, SIGQUIT);
	if (poll_first)		/* as chat: blocked but while waiting */
		sigprocmask(SIG_BLOCK, &stops, &wait_mask);
	signal(SIGPIPE, SIG_IGN);
	memcpy(frame, "MSG ", 4);
	memcpy(out, HEAD, sizeof(HEAD) - 1);
	if (listening)
		lfd = listen_on(&sa);
	do {
		if (listening) {
			fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				die("accept");
		} else {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
			    sizeof(sa)) < 0)
				die("connect");
		}
		converse(fd, listening);
		close(fd);
		/* A listener goes on while it has something left to say. */
	} while (!once && input_left());
	return 0;
}
