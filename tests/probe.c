/*
 * tests/probe.c - what the shell suites ask the system, the same way on
 * every platform (tests/lib.sh runs it; it is built with the C library
 * of the chat under test, so that their texts agree):
 *
 *   probe port FD          the local port of the socket open on FD
 *   probe strerror NAME    the C library's text for the errno NAME
 *                          (ECONNRESET, ECONNREFUSED, EADDRINUSE, ENOSPC,
 *                          EMFILE)
 *
 * Prints one line; exits 0, or 1 with a message on stderr.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "ECONNRESET", ECONNRESET },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "EADDRINUSE", EADDRINUSE },
	{ "ENOSPC", ENOSPC },
	{ "EMFILE", EMFILE },
};

static int
port(const char *arg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char *end;
	long fd = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || fd < 0 ||
	    getsockname((int)fd, (struct sockaddr *)&ss, &len) < 0) {
		fprintf(stderr, "probe: port %s: %s\n", arg, strerror(errno));
		return 1;
	}
	if (ss.ss_family == AF_INET)
		printf("%u\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	else if (ss.ss_family == AF_INET6)
		printf("%u\n", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	else {
		fprintf(stderr, "probe: port %s: not an IP socket\n", arg);
		return 1;
	}
	return 0;
}

static int
error_text(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(errnos[i].name, name) == 0) {
			printf("%s\n", strerror(errnos[i].value));
			return 0;
		}
	fprintf(stderr, "probe: strerror: unknown name %s\n", name);
	return 1;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "port") == 0)
		return port(argv[2]);
	if (argc == 3 && strcmp(argv[1], "strerror") == 0)
		return error_text(argv[2]);
	fprintf(stderr, "usage: probe port FD | probe strerror NAME\n");
	return 2;
}
