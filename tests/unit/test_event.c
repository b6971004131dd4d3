/*
 * Unit tests for common/event.c: timer order and bounds, re-arming and
 * stopping, fd dispatch, and a source freed while its events are pending.
 */
#include <check.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/event.h"

#define NTIMERS	200

static int		fired[NTIMERS];
static int		nfired;
static struct ev_timer	timers[NTIMERS];

static void
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
