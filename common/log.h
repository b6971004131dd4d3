/*
 * The error log: one line per event, "2026-11-21T23:59:59.123Z [warn] text",
 * written to stderr, syslog or a file.  Every process of forklift logs through
 * these calls; the target is chosen once by log_open() and survives fork().
 */
#ifndef FORKLIFT_LOG_H
#define FORKLIFT_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_ALERT,
};

/*
 * Sends the log to `target`: "stderr", "syslog" or a file path (opened with
 * O_APPEND, created 0640).  Returns 0, or -1 with a message in err.
 */
int	log_open(const char *target, char *err, size_t errlen);

/* Reopens a file target (SIGUSR1 after logrotate); a no-op for the others. */
int	log_reopen(void);

/* True when the log goes to stderr. */
bool	log_is_stderr(void);

/* Lines below this level are dropped (default: info). */
void	log_set_level(enum log_level);

/*
 * A short name for this process put after the level when set, e.g.
 * "worker 2": "... [warn] worker 2: upstream 127.0.0.1:9001 refused".
 */
void	log_set_role(const char *role);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_alert(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_vmsg(enum log_level, const char *, va_list);

/* Logs at alert with strerror(errno) appended, then exits with status 1. */
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* Logs at alert, then exits with status 1. */
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
