/*
 * The rise/fall rule of the health checker as pure functions: no I/O, no
 * clock, no shared memory, so any sequence of results can be table-tested.
 * Private to health/.
 */
#ifndef FORKLIFT_HEALTH_JUDGE_H
#define FORKLIFT_HEALTH_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kind of a result counted against a server. */
enum health_result_kind {
	HEALTH_PASS,		/* an active check passed */
	HEALTH_FAIL,		/* an active check failed */
	HEALTH_PASSIVE_FAIL,	/* a worker saw a request to it fail */
};

enum health_change {
	HEALTH_SAME,
	HEALTH_WENT_UP,
	HEALTH_WENT_DOWN,
};

/* What the rule remembers of one server between results. */
struct health_tally {
	uint32_t	 state;		/* SERVER_UP or SERVER_DOWN */
	uint32_t	 passes;	/* consecutive passes */
	uint32_t	 fails;		/* consecutive failures, both kinds */
	uint32_t	 passive;	/* how many of `fails` were passive */
};

/*
 * Counts `n` results of one kind, in a row, into `t` and returns the change
 * they cause.  A pass ends a failure streak and a failure ends a pass
 * streak.  A down server goes up once `rise` passes are in a row; an up
 * server goes down on an active failure that makes `fall` failures in a
 * row.  Passive failures lengthen the streak but never change the state on
 * their own.  Counts saturate at UINT32_MAX.
 */
enum health_change health_judge(struct health_tally *t,
		    enum health_result_kind kind, uint32_t n, unsigned rise,
		    unsigned fall);

/*
 * Writes the log line of a change into buf (always NUL-terminated):
 *   server web/app2 127.0.0.1:9002 is DOWN: 3 checks failed (HTTP 500)
 *   server web/app2 127.0.0.1:9002 is UP: 2 checks passed
 * `reason` is the last active check's error; when some of the failures
 * were passive, "; N from live traffic" follows it.
 */
void		 health_change_text(char *buf, size_t len, const char *pool,
		    const char *server, const char *addr, enum health_change,
		    const struct health_tally *t, const char *reason);

#endif
