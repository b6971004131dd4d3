/*
 * The integration test harness, files and waits: reading a log whole,
 * searching it, writing a file in one rename, reading a pidfile, and the
 * poll-until-true loop every wait is made of.
 */
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

bool
h_wait_until(bool (*cond)(void *), void *arg, int ms)
{
	long long deadline = hi_now_ms() + ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (hi_now_ms() >= deadline)
			return false;
		hi_tick();
	}
}

char *
hi_read_file(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf, *nbuf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(cap)) == NULL)
		ck_abort_msg("malloc: %s", strerror(errno));
	for (;;) {
		if (len + 1 == cap) {
			if (cap > HI_FILE_MAX)
				break;
			if ((nbuf = realloc(buf, cap * 2)) == NULL)
				ck_abort_msg("realloc: %s", strerror(errno));
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

int
h_file_count(const char *path, const char *needle)
{
	size_t len, nlen = strlen(needle);
	char *buf, *p, *end;
	int n = 0;

	if ((buf = hi_read_file(path, &len)) == NULL)
		return 0;
	end = buf + len;
	for (p = buf; nlen > 0 && (p = memmem(p, (size_t)(end - p), needle,
	    nlen)) != NULL; p += nlen)
		n++;
	free(buf);
	return n;
}

bool
h_file_contains(const char *path, const char *needle)
{
	return h_file_count(path, needle) > 0;
}

struct file_wait {
	const char	*path;
	const char	*needle;
};

static bool
file_holds(void *arg)
{
	struct file_wait *w = arg;

	if (*w->needle == '\0')
		return access(w->path, F_OK) == 0;
	return h_file_contains(w->path, w->needle);
}

bool
h_wait_file(const char *path, const char *needle, int ms)
{
	struct file_wait w = { path, needle };

	return h_wait_until(file_holds, &w, ms);
}

void
h_file_write(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd;

	ck_assert_msg((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) <
	    sizeof(tmp), "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd != -1, "%s: %s", tmp, strerror(errno));
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "%s: %s", tmp, strerror(errno));
		off += (size_t)n;
	}
	ck_assert_msg(close(fd) == 0, "%s: %s", tmp, strerror(errno));
	ck_assert_msg(rename(tmp, path) == 0, "rename %s: %s", tmp,
	    strerror(errno));
}

pid_t
h_pidfile_pid(const char *path)
{
	const char *errstr;
	char *buf;
	pid_t pid;

	if ((buf = hi_read_file(path, NULL)) == NULL)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	pid = (pid_t)strtonum(buf, 1, INT_MAX, &errstr);
	free(buf);
	return errstr == NULL ? pid : -1;
}
