/*
 * The rise/fall rule: how consecutive results turn into state changes, and
 * how a change reads in the log.
 */
#include <stdio.h>

#include "common/shm.h"
#include "health/judge.h"

static uint32_t
add_sat(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

enum health_change
health_judge(struct health_tally *t, enum health_result_kind kind,
    uint32_t n, unsigned rise, unsigned fall)
{
	if (n == 0)
		return HEALTH_SAME;
	switch (kind) {
	case HEALTH_PASS:
		t->fails = 0;
		t->passive = 0;
		t->passes = add_sat(t->passes, n);
		if (t->state == SERVER_DOWN && t->passes >= rise) {
			t->state = SERVER_UP;
			return HEALTH_WENT_UP;
		}
		break;
	case HEALTH_FAIL:
		t->passes = 0;
		t->fails = add_sat(t->fails, n);
		if (t->state == SERVER_UP && t->fails >= fall) {
			t->state = SERVER_DOWN;
			return HEALTH_WENT_DOWN;
		}
		break;
	case HEALTH_PASSIVE_FAIL:
		t->passes = 0;
		t->fails = add_sat(t->fails, n);
		t->passive = add_sat(t->passive, n);
		break;
	}
	return HEALTH_SAME;
}

void
health_change_text(char *buf, size_t len, const char *pool,
    const char *server, const char *addr, enum health_change change,
    const struct health_tally *t, const char *reason)
{
	int n;

	if (len == 0)
		return;
	n = snprintf(buf, len, "server %s/%s %s is ", pool, server, addr);
	if (n < 0 || (size_t)n >= len)
		return;
	buf += n;
	len -= (size_t)n;
	switch (change) {
	case HEALTH_WENT_UP:
		snprintf(buf, len, "UP: %u check%s passed", t->passes,
		    t->passes == 1 ? "" : "s");
		break;
	case HEALTH_WENT_DOWN:
		if (t->passive > 0)
			snprintf(buf, len, "DOWN: %u checks failed "
			    "(%s; %u from live traffic)", t->fails,
			    reason, t->passive);
		else
			snprintf(buf, len, "DOWN: %u check%s failed (%s)",
			    t->fails, t->fails == 1 ? "" : "s", reason);
		break;
	case HEALTH_SAME:
		snprintf(buf, len, "%s", t->state == SERVER_UP ? "up" :
		    "down");
		break;
	}
}
