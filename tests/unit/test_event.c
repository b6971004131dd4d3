/*
 * Unit tests for common/event.c: timer order and bounds, re-arming and
 * stopping, fd dispatch, a source freed while its events are pending (by
 * ev_io_stop or ev_io_forget), and lazy deadlines.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"

#define NTIMERS	200

static int		fired[NTIMERS];
static int		nfired;
static struct ev_timer	timers[NTIMERS];

/* The loop's timer callback type: t stays non-const. */
static void
/* cppcheck-suppress constParameter */
on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	fired[nfired++] = (int)(t - timers);
	if (nfired == NTIMERS)
		ev_stop(loop);
}

START_TEST(timers_fire_in_deadline_order)
{
	struct ev_loop *loop = ev_create(NTIMERS);
	int i;

	ck_assert_ptr_nonnull(loop);
	nfired = 0;
	/* Deadlines 0..19 ms in a scrambled order, ten timers each. */
	for (i = 0; i < NTIMERS; i++) {
		ev_timer_init(&timers[i], on_timer);
		ck_assert_int_eq(ev_timer_start(loop, &timers[i],
		    (uint64_t)((i * 7) % 20)), 0);
	}
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(nfired, NTIMERS);
	for (i = 1; i < NTIMERS; i++)
		ck_assert_uint_le(timers[fired[i - 1]].when,
		    timers[fired[i]].when);
	ev_destroy(loop);
}
END_TEST

START_TEST(timer_heap_is_bounded)
{
	struct ev_loop *loop = ev_create(2);
	struct ev_timer a, b, c;

	ev_timer_init(&a, on_timer);
	ev_timer_init(&b, on_timer);
	ev_timer_init(&c, on_timer);
	ck_assert_int_eq(ev_timer_start(loop, &a, 10), 0);
	ck_assert_int_eq(ev_timer_start(loop, &b, 10), 0);
	ck_assert_int_eq(ev_timer_start(loop, &c, 10), -1);
	/* Re-arming a running timer takes no new room. */
	ck_assert_int_eq(ev_timer_start(loop, &a, 20), 0);
	ev_timer_stop(loop, &b);
	ck_assert(!ev_timer_active(&b));
	ck_assert_int_eq(ev_timer_start(loop, &c, 10), 0);
	ev_destroy(loop);
}
END_TEST

static int stopped_fired;

static void
on_stopped(struct ev_loop *loop, struct ev_timer *t)
{
	stopped_fired++;
}

static void
on_last(struct ev_loop *loop, struct ev_timer *t)
{
	ev_stop(loop);
}

START_TEST(stopped_and_rearmed_timers)
{
	struct ev_loop *loop = ev_create(16);
	struct ev_timer gone, later, last;

	stopped_fired = 0;
	ev_timer_init(&gone, on_stopped);
	ev_timer_init(&later, on_stopped);
	ev_timer_init(&last, on_last);
	ev_timer_start(loop, &gone, 1);
	ev_timer_start(loop, &later, 1);
	ev_timer_start(loop, &last, 30);
	ev_timer_stop(loop, &gone);
	/* Moved past `last`: must not fire before the loop stops. */
	ev_timer_start(loop, &later, 5000);
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(stopped_fired, 0);
	ck_assert(ev_timer_active(&later));
	ev_destroy(loop);
}
END_TEST

struct pipe_source {
	struct ev_io	 io;
	int		 other;		/* the write end */
	int		 reads;
	struct pipe_source *victim;	/* stopped by this one's callback */
};

static int dispatched;

static void
on_readable(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct pipe_source *p = (struct pipe_source *)io;
	char c;

	dispatched++;
	ck_assert(events & EPOLLIN);
	ck_assert_int_eq(read(io->fd, &c, 1), 1);
	p->reads++;
	if (p->victim != NULL) {
		ev_io_stop(loop, &p->victim->io);
		p->victim->io.fn = NULL;	/* would crash if dispatched */
	}
	ev_stop(loop);
}

START_TEST(stopped_source_is_not_dispatched)
{
	struct ev_loop *loop = ev_create(4);
	struct pipe_source a = { 0 }, b = { 0 };
	int pa[2], pb[2];

	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	ev_io_init(&a.io, pa[0], on_readable);
	ev_io_init(&b.io, pb[0], on_readable);
	a.victim = &b;
	b.victim = &a;
	ck_assert_int_eq(ev_io_set(loop, &a.io, EPOLLIN), 0);
	ck_assert_int_eq(ev_io_set(loop, &b.io, EPOLLIN), 0);
	/* Both readable: one batch holds both; the first stops the other. */
	ck_assert_int_eq(write(pa[1], "x", 1), 1);
	ck_assert_int_eq(write(pb[1], "x", 1), 1);
	dispatched = 0;
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(dispatched, 1);
	ck_assert_int_eq(a.reads + b.reads, 1);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	ev_destroy(loop);
}
END_TEST

START_TEST(setting_same_events_is_free_and_zero_removes)
{
	struct ev_loop *loop = ev_create(4);
	struct pipe_source a = { 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ev_io_init(&a.io, p[0], on_readable);
	ck_assert_int_eq(ev_io_set(loop, &a.io, EPOLLIN), 0);
	ck_assert_int_eq(ev_io_set(loop, &a.io, EPOLLIN), 0);
	ck_assert_uint_eq(a.io.events, EPOLLIN);
	ck_assert_int_eq(ev_io_set(loop, &a.io, 0), 0);
	ck_assert_uint_eq(a.io.events, 0);
	/* Registered again after removal: ADD, not MOD. */
	ck_assert_int_eq(ev_io_set(loop, &a.io, EPOLLIN), 0);
	close(p[0]);
	close(p[1]);
	ev_destroy(loop);
}
END_TEST

static void
on_forgetting(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct pipe_source *p = (struct pipe_source *)io;

	dispatched++;
	p->reads++;
	if (p->victim != NULL) {
		ev_io_forget(loop, &p->victim->io);
		p->victim->io.fn = NULL;	/* would crash if dispatched */
	}
	ev_stop(loop);
}

/*
 * ev_io_forget drops pending events as ev_io_stop does, but leaves the fd
 * in epoll for close(2) to remove: registering it again says EEXIST.
 */
START_TEST(forgotten_source_is_not_dispatched)
{
	struct ev_loop *loop = ev_create(4);
	struct pipe_source a = { 0 }, b = { 0 };
	int pa[2], pb[2];

	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	ev_io_init(&a.io, pa[0], on_forgetting);
	ev_io_init(&b.io, pb[0], on_forgetting);
	a.victim = &b;
	b.victim = &a;
	ck_assert_int_eq(ev_io_set(loop, &a.io, EPOLLIN), 0);
	ck_assert_int_eq(ev_io_set(loop, &b.io, EPOLLIN), 0);
	ck_assert_int_eq(write(pa[1], "x", 1), 1);
	ck_assert_int_eq(write(pb[1], "x", 1), 1);
	dispatched = 0;
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(dispatched, 1);
	ck_assert_int_eq(a.reads + b.reads, 1);
	/* The forgotten one: unregistered as far as the loop knows, still
	   registered in epoll. */
	if (a.reads == 0) {
		ck_assert_uint_eq(a.io.events, 0);
		a.io.fn = on_forgetting;
		ck_assert_int_eq(ev_io_set(loop, &a.io, EPOLLIN), -1);
	} else {
		ck_assert_uint_eq(b.io.events, 0);
		b.io.fn = on_forgetting;
		ck_assert_int_eq(ev_io_set(loop, &b.io, EPOLLIN), -1);
	}
	ck_assert_int_eq(errno, EEXIST);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	ev_destroy(loop);
}
END_TEST

/* A connection's deadline, as the proxy drives one. */
struct lazy {
	struct ev_timer	 timer;
	int		 fired;		/* callbacks */
	int		 due;		/* of which due */
	uint64_t	 due_at;	/* ev_now() when due */
};

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_lazy(struct ev_loop *loop, struct ev_timer *t)
{
	struct lazy *z = (struct lazy *)t;

	z->fired++;
	if (!ev_deadline_due(loop, t))
		return;
	z->due++;
	z->due_at = ev_now(loop);
	ck_assert(!ev_deadline_active(t));
	ev_stop(loop);
}

static struct lazy *pushed;

/* Moves the deadline later, as I/O on a connection does. */
static void
on_push(struct ev_loop *loop, struct ev_timer *t)
{
	uint64_t when = pushed->timer.when;

	ck_assert_int_eq(ev_deadline_set(loop, &pushed->timer, 60), 0);
	/* No heap operation: the timer still fires at the old time. */
	ck_assert_uint_eq(pushed->timer.when, when);
}

START_TEST(lazy_deadline_moved_later)
{
	struct ev_loop *loop = ev_create(4);
	struct lazy z = { 0 };
	struct ev_timer push;
	uint64_t start, pushed_at;

	ck_assert_ptr_nonnull(loop);
	ev_timer_init(&z.timer, on_lazy);
	ev_timer_init(&push, on_push);
	pushed = &z;
	start = ev_now(loop);
	ck_assert_int_eq(ev_deadline_set(loop, &z.timer, 30), 0);
	ck_assert(ev_deadline_active(&z.timer));
	ck_assert(ev_timer_active(&z.timer));
	/* Earlier: re-armed at once. */
	ck_assert_int_eq(ev_deadline_set(loop, &z.timer, 20), 0);
	ck_assert_uint_eq(z.timer.when, start + 20);
	ck_assert_int_eq(ev_timer_start(loop, &push, 10), 0);
	ck_assert_int_eq(ev_run(loop), 0);
	pushed_at = push.when;
	/* Fired early once (at 20), re-armed for the rest, then due. */
	ck_assert_int_eq(z.fired, 2);
	ck_assert_int_eq(z.due, 1);
	ck_assert_uint_ge(z.due_at, pushed_at + 60);
	ck_assert(!ev_timer_active(&z.timer));
	ev_destroy(loop);
}
END_TEST

static void
on_clear(struct ev_loop *loop, struct ev_timer *t)
{
	ck_assert_int_eq(ev_deadline_set(loop, &pushed->timer, 0), 0);
	ck_assert(!ev_deadline_active(&pushed->timer));
}

static void
on_end(struct ev_loop *loop, struct ev_timer *t)
{
	ev_stop(loop);
}

START_TEST(lazy_deadline_cleared_lapses)
{
	struct ev_loop *loop = ev_create(4);
	struct lazy z = { 0 };
	struct ev_timer clear, end;

	ev_timer_init(&z.timer, on_lazy);
	ev_timer_init(&clear, on_clear);
	ev_timer_init(&end, on_end);
	pushed = &z;
	ck_assert_int_eq(ev_deadline_set(loop, &z.timer, 20), 0);
	ck_assert_int_eq(ev_timer_start(loop, &clear, 5), 0);
	ck_assert_int_eq(ev_timer_start(loop, &end, 60), 0);
	ck_assert_int_eq(ev_run(loop), 0);
	/* It fired with no deadline: not due, and not armed again. */
	ck_assert_int_eq(z.fired, 1);
	ck_assert_int_eq(z.due, 0);
	ck_assert(!ev_timer_active(&z.timer));
	/* Stopping a timer clears its deadline. */
	ck_assert_int_eq(ev_deadline_set(loop, &z.timer, 20), 0);
	ev_timer_stop(loop, &z.timer);
	ck_assert(!ev_deadline_active(&z.timer));
	ck_assert(!ev_timer_active(&z.timer));
	ev_destroy(loop);
}
END_TEST

/* A deadline that is never moved fires once, on time. */
START_TEST(lazy_deadline_on_time)
{
	struct ev_loop *loop = ev_create(2);
	struct lazy z = { 0 };
	struct ev_timer a, b, c;
	uint64_t t0 = clock_ms();

	ev_timer_init(&z.timer, on_lazy);
	ev_now_update(loop);
	ck_assert_int_eq(ev_deadline_set(loop, &z.timer, 25), 0);
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(z.fired, 1);
	ck_assert_int_eq(z.due, 1);
	ck_assert_uint_ge(clock_ms() - t0, 25);
	/* A full heap refuses a new deadline, as it refuses a timer. */
	ev_timer_init(&a, on_end);
	ev_timer_init(&b, on_end);
	ev_timer_init(&c, on_lazy);
	ck_assert_int_eq(ev_timer_start(loop, &a, 10), 0);
	ck_assert_int_eq(ev_timer_start(loop, &b, 10), 0);
	ck_assert_int_eq(ev_deadline_set(loop, &c, 10), -1);
	ev_destroy(loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("loop");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, timers_fire_in_deadline_order);
	tcase_add_test(tc, timer_heap_is_bounded);
	tcase_add_test(tc, stopped_and_rearmed_timers);
	tcase_add_test(tc, stopped_source_is_not_dispatched);
	tcase_add_test(tc, setting_same_events_is_free_and_zero_removes);
	tcase_add_test(tc, forgotten_source_is_not_dispatched);
	tcase_add_test(tc, lazy_deadline_moved_later);
	tcase_add_test(tc, lazy_deadline_cleared_lapses);
	tcase_add_test(tc, lazy_deadline_on_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
