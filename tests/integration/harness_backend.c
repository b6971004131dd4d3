/*
 * The integration test harness, the backends' side: starting
 * tests/backend/backend on an ephemeral port, learning the port from its
 * "listening on" line, stopping it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

/* Longest wait for the backend's "listening on" line, and for its exit. */
#define BACKEND_START_MS 5000
#define BACKEND_STOP_MS	5000
/* Extra arguments to the backend after -n NAME -p 0 -q. */
#define BACKEND_MAX_ARGS 24
/* Longest "listening on ..." line read from the backend. */
#define BACKEND_LINE_MAX 256

const char *
h_backend_bin(void)
{
	const char *s = getenv("BACKEND_BIN");

	return s != NULL && *s != '\0' ? s : "./build/backend";
}

/* Reads the backend's first line: true if it came before the deadline. */
static bool
backend_line(int fd, char *line, size_t linelen)
{
	long long deadline = hi_now_ms() + BACKEND_START_MS, left;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	int r;

	line[0] = '\0';
	while (strchr(line, '\n') == NULL && len < linelen - 1 &&
	    (left = deadline - hi_now_ms()) > 0) {
		if ((r = poll(&pfd, 1, (int)left)) == -1 && errno != EINTR)
			ck_abort_msg("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		n = read(fd, line + len, linelen - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
	}
	return strchr(line, '\n') != NULL;
}

void
h_backend_start(struct hbackend *b, const char *name,
    const char *const *extra)
{
	const char *argv[BACKEND_MAX_ARGS + 8], *errstr, *colon;
	char line[BACKEND_LINE_MAX];
	pid_t pid;
	int i, n = 0, p[2];

	hi_init();
	memset(b, 0, sizeof(*b));
	argv[n++] = h_backend_bin();
	argv[n++] = "-n";
	argv[n++] = name;
	argv[n++] = "-p";
	argv[n++] = "0";
	argv[n++] = "-q";	/* errors only: tests read their output */
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		ck_assert_msg(i < BACKEND_MAX_ARGS, "too many backend args");
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1)
		ck_abort_msg("pipe2: %s", strerror(errno));
	/* Its stdout carries that one line only; its stderr is ours. */
	pid = hi_spawn(argv, NULL, p[1], 2);
	if (close(p[1]) == -1)
		ck_abort_msg("close: %s", strerror(errno));
	if (!backend_line(p[0], line, sizeof(line))) {
		hi_kill(pid);
		ck_abort_msg("backend %s: no \"listening on\" line in %d ms "
		    "(read \"%s\")", name, BACKEND_START_MS, line);
	}
	(void)close(p[0]);
	*strchr(line, '\n') = '\0';
	ck_assert_msg(strncmp(line, "listening on ", 13) == 0 &&
	    (colon = strrchr(line, ':')) != NULL,
	    "backend %s said \"%s\"", name, line);
	b->port = (int)strtonum(colon + 1, 1, 65535, &errstr);
	ck_assert_msg(errstr == NULL, "backend %s said \"%s\"", name, line);
	b->pid = pid;
	strlcpy(b->name, name, sizeof(b->name));
}

void
h_backend_stop(struct hbackend *b)
{
	int r, st;

	if (!h_pid_alive(b->pid))
		return;
	ck_assert_msg(kill(b->pid, SIGTERM) == 0, "kill backend %s: %s",
	    b->name, strerror(errno));
	r = hi_wait_exit(b->pid, BACKEND_STOP_MS, &st);
	if (r == 0) {
		hi_kill(b->pid);
		ck_abort_msg("backend %s (pid %d) still running %d ms after "
		    "SIGTERM", b->name, (int)b->pid, BACKEND_STOP_MS);
	}
	ck_assert_msg(r == -1 || (WIFEXITED(st) && WEXITSTATUS(st) == 0),
	    "backend %s exited with status 0x%x after SIGTERM", b->name, st);
}

void
h_backend_kill(struct hbackend *b)
{
	int st;

	if (!h_pid_alive(b->pid))
		return;
	ck_assert_msg(kill(b->pid, SIGKILL) == 0, "kill backend %s: %s",
	    b->name, strerror(errno));
	ck_assert_msg(hi_wait_exit(b->pid, HI_KILL_MS, &st) != 0,
	    "backend %s survived SIGKILL", b->name);
}
