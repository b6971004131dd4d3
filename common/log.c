/*
 * The error log.  Lines are formatted into one buffer and written with a
 * single write(2), so lines from several processes sharing a file or stderr
 * (O_APPEND) never interleave.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "common/log.h"

#define LOG_LINE_MAX	2048	/* longer messages are cut */

enum log_target {
	TARGET_STDERR,
	TARGET_SYSLOG,
	TARGET_FILE,
};

static enum log_target	sink = TARGET_STDERR;	/* where lines go */
static char		path[256];
static int		fd = STDERR_FILENO;
static enum log_level	min_level = LOG_LEVEL_INFO;
static char		role[64];

static const char *const level_names[] = {
	"debug", "info", "notice", "warn", "error", "alert",
};
static const int syslog_priorities[] = {
	LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR, LOG_ALERT,
};

static int
open_file(const char *file, char *err, size_t errlen)
{
	int nfd;

	nfd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (nfd == -1) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (sink == TARGET_FILE && fd != -1)
		close(fd);
	fd = nfd;
	return 0;
}

int
log_open(const char *target, char *err, size_t errlen)
{
	if (strcmp(target, "stderr") == 0) {
		if (sink == TARGET_FILE)
			close(fd);
		sink = TARGET_STDERR;
		fd = STDERR_FILENO;
		return 0;
	}
	if (strcmp(target, "syslog") == 0) {
		if (sink == TARGET_FILE)
			close(fd);
		openlog("forklift", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		sink = TARGET_SYSLOG;
		fd = -1;
		return 0;
	}
	if (open_file(target, err, errlen) == -1)
		return -1;
	strlcpy(path, target, sizeof(path));
	sink = TARGET_FILE;
	return 0;
}

int
log_reopen(void)
{
	char err[512];

	if (sink != TARGET_FILE)
		return 0;
	if (open_file(path, err, sizeof(err)) == -1) {
		log_error("reopening the error log: %s", err);
		return -1;
	}
	return 0;
}

bool
log_is_stderr(void)
{
	return sink == TARGET_STDERR;
}

void
log_set_level(enum log_level level)
{
	min_level = level;
}

void
log_set_role(const char *r)
{
	strlcpy(role, r, sizeof(role));
}

/* Writes "2026-11-21T23:59:59.123Z " into buf; returns its length. */
static size_t
format_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, len - n, ".%03ldZ ", (long)tv.tv_usec / 1000);
	return n;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int r;

	if (level < min_level)
		return;
	if (sink == TARGET_SYSLOG) {
		if (role[0] != '\0')
			n = snprintf(line, sizeof(line), "%s: ", role);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		syslog(syslog_priorities[level], "%s", line);
		return;
	}
	n = format_time(line, sizeof(line));
	n += snprintf(line + n, sizeof(line) - n, "[%s] %s%s",
	    level_names[level], role, role[0] != '\0' ? ": " : "");
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r < 0)
		return;
	n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* A log line that cannot be written has nowhere else to go. */
	while (write(fd, line, n) == -1 && errno == EINTR)
		;
}

#define LOG_FUNCTION(name, level)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	va_start(ap, fmt);				\
	log_vmsg(level, fmt, ap);			\
	va_end(ap);					\
}

LOG_FUNCTION(log_debug, LOG_LEVEL_DEBUG)
LOG_FUNCTION(log_info, LOG_LEVEL_INFO)
LOG_FUNCTION(log_notice, LOG_LEVEL_NOTICE)
LOG_FUNCTION(log_warn, LOG_LEVEL_WARN)
LOG_FUNCTION(log_error, LOG_LEVEL_ERROR)
LOG_FUNCTION(log_alert, LOG_LEVEL_ALERT)

void
fatal(const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_alert("%s: %s", msg, strerror(saved));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ALERT, fmt, ap);
	va_end(ap);
	exit(1);
}
