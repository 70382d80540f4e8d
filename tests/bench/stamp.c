/*
 * stamp.c - time the lines of a transcript as they arrive (make bench).
 *
 *   stamp OUT TIMES       copy stdin to the file OUT unchanged, and write
 *                         to TIMES the CLOCK_MONOTONIC time (ns) at which
 *                         each LF arrived, one number a line
 *   stamp --turns A B     A, B: TIMES files of the two sides, A the one
 *                         that receives first (the connector). Merged
 *                         A1 B1 A2 B2 ..., each gap is one turn: from
 *                         one side showing a message to the other side
 *                         showing the reply. Prints
 *                         "turns N max_us M at K p50_us P p99_us Q"
 *                         (K: the message that ended the slowest turn;
 *                         the first message has no turn before it)
 *
 * stdin is read with read(2) and each read is stamped once, right after
 * it returns: lines that come together share a time, as they should.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
die(const char *what)
{
	fprintf(stderr, "stamp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long *
load(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	long long *v = NULL, t;
	size_t cap = 0;
	char line[64], *end;

	if (f == NULL)
		die(path);
	*n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		errno = 0;
		t = strtoll(line, &end, 10);
		if (errno != 0 || end == line || *end != '\n') {
			fprintf(stderr, "stamp: %s: not a time: %s", path, line);
			exit(1);
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 4096;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				die("realloc");
		}
		v[(*n)++] = t;
	}
	fclose(f);
	return v;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int
turns(const char *a_path, const char *b_path)
{
	size_t na, nb, n, i, at = 0, p50, p99;
	long long *a = load(a_path, &na), *b = load(b_path, &nb);
	long long *ev, *gap, max = -1;

	n = na + nb;
	if (n < 2 || nb > na || na > nb + 1) {
		fprintf(stderr, "stamp: %zu and %zu lines do not alternate\n",
		    na, nb);
		free(a);
		free(b);
		return 1;
	}
	ev = malloc(n * sizeof(*ev));
	gap = malloc(n * sizeof(*gap));
	if (ev == NULL || gap == NULL)
		die("malloc");
	for (i = 0; i < n; i++)
		ev[i] = i % 2 ? b[i / 2] : a[i / 2];
	for (i = 1; i < n; i++) {
		gap[i - 1] = ev[i] - ev[i - 1];
		if (gap[i - 1] > max) {
			max = gap[i - 1];
			at = i + 1;
		}
	}
	qsort(gap, n - 1, sizeof(*gap), cmp_ll);
	p50 = (n - 1) / 2;		/* indexes: integer division meant */
	p99 = (n - 1) * 99 / 100;
	printf("turns %zu max_us %.1f at %zu p50_us %.1f p99_us %.1f\n", n - 1,
	    (double)max / 1e3, at, (double)gap[p50] / 1e3,
	    (double)gap[p99] / 1e3);
	free(a);
	free(b);
	free(ev);
	free(gap);
	return 0;
}

int
main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct timespec ts;
	long long *t = NULL, now;
	size_t n_t = 0, cap = 0, i;
	ssize_t n;
	FILE *times;
	int out;

	if (argc == 4 && strcmp(argv[1], "--turns") == 0)
		return turns(argv[2], argv[3]);
	if (argc != 3) {
		fprintf(stderr, "usage: stamp OUT TIMES\n"
		    "       stamp --turns A_TIMES B_TIMES\n");
		return 2;
	}
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (out < 0)
		die(argv[1]);
	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n')
				continue;
			if (n_t == cap) {
				cap = cap ? 2 * cap : 4096;
				t = realloc(t, cap * sizeof(*t));
				if (t == NULL)
					die("realloc");
			}
			t[n_t++] = now;
		}
		if (write(out, buf, n) != n)
			die(argv[1]);
	}
	if (close(out) < 0)
		die(argv[1]);
	times = fopen(argv[2], "w");
	if (times == NULL)
		die(argv[2]);
	for (i = 0; i < n_t; i++)
		fprintf(times, "%lld\n", t[i]);
	if (fclose(times) != 0)
		die(argv[2]);
	free(t);
	return 0;
}
