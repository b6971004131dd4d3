/*
 * Unit tests for worker/access_log.c: the line format field by field,
 * escaping and cutting of what clients send, the buffer and its flushes
 * (when full, on the timer, at close), reopening after a rename, and
 * request ids.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "worker/access_log.h"

#define T(s)	((struct access_text){ (s), sizeof(s) - 1 })

/* 2026-11-22T01:02:03.456Z */
#define WALL_MS	1795309323456LL

static char	tmpdir[64];
static char	path[128];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/forklift-alog-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/access.log", tmpdir);
}

static void
teardown(void)
{
	char p[160];

	access_log_close();
	/* Either file is absent when a test did not make it. */
	(void)unlink(path);
	snprintf(p, sizeof(p), "%s.1", path);
	(void)unlink(p);
	rmdir(tmpdir);
}

static struct access_entry
sample_entry(void)
{
	struct access_entry e = {
		.wall_ms = WALL_MS,
		.client = T("127.0.0.1"),
		.method = T("GET"),
		.target = T("/home"),
		.minor = 1,
		.status = 200,
		.body_bytes = 23,
		.user_agent = T("curl/7.88.1"),
		.upstream = T("127.0.0.1:9001"),
		.upstream_status = 200,
		.request_us = 3200,
		.connect_us = 0,
		.response_us = 2499,
		.request_id = T("5f0c2e9a1b7d4c31"),
	};

	return e;
}

/* Formats e into a NUL-terminated static string. */
static const char *
line_of(const struct access_entry *e)
{
	static char buf[ACCESS_LOG_LINE_MAX + 1];
	size_t n;

	n = access_log_format(buf, sizeof(buf), e);
	ck_assert_uint_le(n, ACCESS_LOG_LINE_MAX);
	buf[n] = '\0';
	return buf;
}

/* Reads a whole small file into a static buffer. */
static const char *
slurp(const char *p)
{
	static char buf[1 << 20];
	FILE *f;
	size_t n;

	if ((f = fopen(p, "r")) == NULL)
		return "";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);	/* read only: nothing is lost */
	buf[n] = '\0';
	return buf;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(line_has_the_combined_format_and_upstream_fields)
{
	struct access_entry e = sample_entry();

	ck_assert_str_eq(line_of(&e),
	    "127.0.0.1 - - [22/Nov/2026:01:02:03 +0000] \"GET /home HTTP/1.1\" "
	    "200 23 \"-\" \"curl/7.88.1\" upstream=127.0.0.1:9001 ustatus=200 "
	    "rt=0.003 uct=0.000 urt=0.002 rid=5f0c2e9a1b7d4c31\n");
}
END_TEST

START_TEST(absent_values_are_dashes)
{
	struct access_entry e = {
		.wall_ms = 0,
		.minor = -1,
		.status = 400,
		.request_us = 1500,
		.connect_us = -1,
		.response_us = -1,
	};

	ck_assert_str_eq(line_of(&e),
	    "- - - [01/Jan/1970:00:00:00 +0000] \"-\" 400 0 \"-\" \"-\" "
	    "upstream=- ustatus=- rt=0.002 uct=- urt=- rid=-\n");
	/* A method without a version: HTTP/1.x is left out. */
	e.method = T("GET");
	e.target = T("/");
	e.referer = T("http://example.com/a");
	ck_assert_str_eq(line_of(&e),
	    "- - - [01/Jan/1970:00:00:00 +0000] \"GET /\" 400 0 "
	    "\"http://example.com/a\" \"-\" upstream=- ustatus=- rt=0.002 "
	    "uct=- urt=- rid=-\n");
}
END_TEST

START_TEST(client_text_is_escaped)
{
	struct access_entry e = sample_entry();

	e.minor = 0;
	e.target = T("/a\"b\\c\x01\x7f\n");
	e.user_agent = T("caf\xc3\xa9 \"x\"");
	e.referer = T("\t");
	e.request_id = T("a\"b");
	ck_assert_str_eq(line_of(&e),
	    "127.0.0.1 - - [22/Nov/2026:01:02:03 +0000] "
	    "\"GET /a\\x22b\\x5cc\\x01\\x7f\\x0a HTTP/1.0\" 200 23 \"\\x09\" "
	    "\"caf\\xc3\\xa9 \\x22x\\x22\" upstream=127.0.0.1:9001 ustatus=200 "
	    "rt=0.003 uct=0.000 urt=0.002 rid=a\\x22b\n");
}
END_TEST

/* Numbers of every width: the largest count, seconds past ten, zero. */
START_TEST(numbers_are_written_whole)
{
	struct access_entry e = sample_entry();

	e.body_bytes = UINT64_MAX;
	e.status = 599;
	e.upstream_status = 100;
	e.request_us = 12345678901;	/* rounds up to 12345.679 s */
	e.connect_us = 999499;		/* rounds down to 0.999 s */
	e.response_us = 9999500;	/* rounds up to 10.000 s */
	ck_assert_str_eq(line_of(&e),
	    "127.0.0.1 - - [22/Nov/2026:01:02:03 +0000] \"GET /home HTTP/1.1\" "
	    "599 18446744073709551615 \"-\" \"curl/7.88.1\" "
	    "upstream=127.0.0.1:9001 ustatus=100 rt=12345.679 uct=0.999 "
	    "urt=10.000 rid=5f0c2e9a1b7d4c31\n");
	e.body_bytes = 0;
	e.request_us = 0;
	ck_assert_ptr_nonnull(strstr(line_of(&e), "\" 599 0 \""));
	ck_assert_ptr_nonnull(strstr(line_of(&e), " rt=0.000 "));
}
END_TEST

START_TEST(long_fields_are_cut_and_the_line_stays_bounded)
{
	static char big[100000];
	struct access_entry e = sample_entry();
	const char *line, *q;

	memset(big, '"', sizeof(big));
	e.target = (struct access_text){ big, sizeof(big) };
	e.referer = (struct access_text){ big, sizeof(big) };
	e.user_agent = (struct access_text){ big, sizeof(big) };
	e.request_id = (struct access_text){ big, sizeof(big) };
	e.upstream = (struct access_text){ big, sizeof(big) };
	e.client = (struct access_text){ big, sizeof(big) };
	e.method = (struct access_text){ big, sizeof(big) };
	line = line_of(&e);
	ck_assert_uint_le(strlen(line), ACCESS_LOG_LINE_MAX);
	ck_assert_int_eq(count_lines(line), 1);
	ck_assert_ptr_nonnull(strstr(line, "\\x22... HTTP/1.1\" 200 23 \""));
	/* Every quote of the input came out escaped: the only bare quotes
	   are the six that delimit the three quoted fields. */
	int quotes = 0;
	for (q = line; *q != '\0'; q++)
		quotes += *q == '"';
	ck_assert_int_eq(quotes, 6);
	/* A cut never splits an escape. */
	ck_assert_ptr_null(strstr(line, "\\x2..."));
	ck_assert_ptr_null(strstr(line, "\\x..."));
}
END_TEST

START_TEST(text_that_fits_exactly_is_not_cut)
{
	static char target[4096];
	struct access_entry e = sample_entry();
	const char *line;

	memset(target, 'a', sizeof(target));
	target[0] = '/';
	e.target = (struct access_text){ target, sizeof(target) };
	line = line_of(&e);
	ck_assert_ptr_null(strstr(line, "..."));
	e.target.len = sizeof(target);
	target[sizeof(target) - 1] = '"';	/* now 4099 bytes escaped */
	line = line_of(&e);
	ck_assert_ptr_nonnull(strstr(line, "aaa... HTTP/1.1\""));
}
END_TEST

START_TEST(lines_are_held_until_flushed)
{
	struct access_entry e = sample_entry();
	char err[256];

	ck_assert_int_eq(access_log_open(path, err, sizeof(err)), 0);
	ck_assert(access_log_enabled());
	access_log_request(&e);
	access_log_request(&e);
	ck_assert_str_eq(slurp(path), "");
	ck_assert_int_eq(access_log_flush(), 0);
	ck_assert_int_eq(count_lines(slurp(path)), 2);
	ck_assert_str_eq(slurp(path) + strlen(line_of(&e)), line_of(&e));
	access_log_request(&e);
	access_log_close();
	ck_assert_int_eq(count_lines(slurp(path)), 3);
	ck_assert(!access_log_enabled());
}
END_TEST

START_TEST(a_full_buffer_is_written_in_whole_lines)
{
	struct access_entry e = sample_entry();
	size_t linelen = strlen(line_of(&e)), i, n;
	struct stat st;
	char err[256];

	ck_assert_int_eq(access_log_open(path, err, sizeof(err)), 0);
	n = 2 * ACCESS_LOG_BUFFER / linelen;
	for (i = 0; i < n; i++)
		access_log_request(&e);
	/* Without a flush, some lines went out, and only whole ones. */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	ck_assert_int_eq(st.st_size % (off_t)linelen, 0);
	ck_assert_int_lt(st.st_size, (off_t)(n * linelen));
	ck_assert_int_ge(st.st_size, (off_t)(n * linelen) - ACCESS_LOG_BUFFER);
	access_log_close();
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)(n * linelen));
}
END_TEST

START_TEST(reopen_follows_a_rename)
{
	struct access_entry e = sample_entry();
	char err[256], rotated[160];

	snprintf(rotated, sizeof(rotated), "%s.1", path);
	ck_assert_int_eq(access_log_open(path, err, sizeof(err)), 0);
	access_log_request(&e);
	ck_assert_int_eq(access_log_flush(), 0);
	ck_assert_int_eq(rename(path, rotated), 0);
	/* Held at the rename: belongs to the old file. */
	access_log_request(&e);
	ck_assert_int_eq(access_log_reopen(), 0);
	e.status = 404;
	access_log_request(&e);
	access_log_close();
	ck_assert_int_eq(count_lines(slurp(rotated)), 2);
	ck_assert_ptr_null(strstr(slurp(rotated), "\" 404 "));
	ck_assert_int_eq(count_lines(slurp(path)), 1);
	ck_assert_ptr_nonnull(strstr(slurp(path), "\" 404 23 "));
}
END_TEST

START_TEST(a_failed_reopen_keeps_the_old_file)
{
	struct access_entry e = sample_entry();
	char err[256], sub[128], file[160];

	snprintf(sub, sizeof(sub), "%s/d", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(file, sizeof(file), "%s/access.log", sub);
	ck_assert_int_eq(access_log_open(file, err, sizeof(err)), 0);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(sub), 0);
	log_set_level(LOG_LEVEL_ALERT);		/* the error is expected */
	ck_assert_int_eq(access_log_reopen(), -1);
	ck_assert(access_log_enabled());
	access_log_request(&e);
	ck_assert_int_eq(access_log_flush(), 0);
}
END_TEST

START_TEST(off_and_open_errors)
{
	struct access_entry e = sample_entry();
	char err[256] = "";

	ck_assert_int_eq(access_log_open("", err, sizeof(err)), 0);
	ck_assert(!access_log_enabled());
	access_log_request(&e);
	ck_assert_int_eq(access_log_flush(), 0);
	ck_assert_int_eq(access_log_reopen(), 0);
	ck_assert_int_eq(access_log_open("/nonexistent-dir/x/access.log", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x/access.log"));
	ck_assert(!access_log_enabled());
}
END_TEST

START_TEST(held_lines_are_written_at_exit_by_their_owner_only)
{
	struct access_entry e = sample_entry();
	char err[256];
	int status;
	pid_t pid;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if (access_log_open(path, err, sizeof(err)) == -1)
			_exit(2);
		access_log_request(&e);
		/* A child of the owner exits first: it must not write. */
		if (fork() == 0)
			exit(0);
		wait(NULL);
		if (count_lines(slurp(path)) != 0)
			_exit(3);
		access_log_request(&e);
		exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(count_lines(slurp(path)), 2);
}
END_TEST

static int	polls;

static void
on_poll(struct ev_loop *loop, struct ev_timer *t)
{
	struct stat st;

	if ((stat(path, &st) == 0 && st.st_size > 0) || ++polls > 300) {
		ev_stop(loop);
		return;
	}
	ev_timer_start(loop, t, 10);
}

START_TEST(the_timer_writes_held_lines)
{
	struct access_entry e = sample_entry();
	struct ev_loop *loop = ev_create(4);
	struct ev_timer poll;
	char err[256];
	uint64_t t0;

	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(access_log_open(path, err, sizeof(err)), 0);
	ck_assert_int_eq(access_log_timer_start(loop), 0);
	access_log_request(&e);
	ev_timer_init(&poll, on_poll);
	ev_timer_start(loop, &poll, 10);
	t0 = ev_now(loop);
	polls = 0;
	ck_assert_int_eq(ev_run(loop), 0);
	ck_assert_int_eq(count_lines(slurp(path)), 1);
	ck_assert_uint_ge(ev_now(loop) - t0, ACCESS_LOG_FLUSH_MS - 20);
	access_log_timer_stop(loop);
	ev_timer_stop(loop, &poll);
	ev_destroy(loop);
}
END_TEST

START_TEST(request_ids_are_hex_and_distinct)
{
	static char ids[20000][ACCESS_LOG_RID_LEN + 1];
	int i, j, bad = 0;

	ck_assert_uint_eq(access_log_request_id(ids[0], ACCESS_LOG_RID_LEN),
	    0);
	for (i = 0; i < 20000; i++) {
		ck_assert_uint_eq(access_log_request_id(ids[i], sizeof(ids[i])),
		    ACCESS_LOG_RID_LEN);
		ck_assert_uint_eq(strspn(ids[i], "0123456789abcdef"),
		    ACCESS_LOG_RID_LEN);
		ck_assert(access_log_request_id_valid(ids[i],
		    ACCESS_LOG_RID_LEN));
	}
	qsort(ids, 20000, sizeof(ids[0]),
	    (int (*)(const void *, const void *))strcmp);
	for (i = 1, j = 0; i < 20000; i++, j++)
		bad += strcmp(ids[j], ids[i]) == 0;
	ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(a_forked_process_makes_other_ids)
{
	char mine[32], theirs[32] = "";
	int fds[2], status;
	pid_t pid;

	access_log_request_id(mine, sizeof(mine));
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		access_log_request_id(theirs, sizeof(theirs));
		_exit(write(fds[1], theirs, ACCESS_LOG_RID_LEN) ==
		    ACCESS_LOG_RID_LEN ? 0 : 1);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], theirs, ACCESS_LOG_RID_LEN),
	    ACCESS_LOG_RID_LEN);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	access_log_request_id(mine, sizeof(mine));
	ck_assert_str_ne(mine, theirs);
}
END_TEST

START_TEST(client_request_ids_are_checked)
{
	ck_assert(access_log_request_id_valid("abc-123", 7));
	ck_assert(access_log_request_id_valid(
	    "3f2504e0-4f89-11d3-9a0c-0305e82c3301", 36));
	ck_assert(!access_log_request_id_valid("", 0));
	ck_assert(!access_log_request_id_valid("a b", 3));
	ck_assert(!access_log_request_id_valid("a\"b", 3));
	ck_assert(!access_log_request_id_valid("a\0b", 3));
	ck_assert(!access_log_request_id_valid("caf\xc3\xa9", 5));
	ck_assert(!access_log_request_id_valid(
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4", 65));
}
END_TEST

static Suite *
access_log_suite(void)
{
	Suite *s = suite_create("access_log");
	TCase *fmt = tcase_create("format");
	TCase *file = tcase_create("file");
	TCase *rid = tcase_create("request_id");

	tcase_add_test(fmt, line_has_the_combined_format_and_upstream_fields);
	tcase_add_test(fmt, absent_values_are_dashes);
	tcase_add_test(fmt, client_text_is_escaped);
	tcase_add_test(fmt, numbers_are_written_whole);
	tcase_add_test(fmt, long_fields_are_cut_and_the_line_stays_bounded);
	tcase_add_test(fmt, text_that_fits_exactly_is_not_cut);
	suite_add_tcase(s, fmt);

	tcase_add_checked_fixture(file, setup, teardown);
	tcase_add_test(file, lines_are_held_until_flushed);
	tcase_add_test(file, a_full_buffer_is_written_in_whole_lines);
	tcase_add_test(file, reopen_follows_a_rename);
	tcase_add_test(file, a_failed_reopen_keeps_the_old_file);
	tcase_add_test(file, off_and_open_errors);
	tcase_add_test(file,
	    held_lines_are_written_at_exit_by_their_owner_only);
	tcase_add_test(file, the_timer_writes_held_lines);
	suite_add_tcase(s, file);

	tcase_add_test(rid, request_ids_are_hex_and_distinct);
	tcase_add_test(rid, a_forked_process_makes_other_ids);
	tcase_add_test(rid, client_request_ids_are_checked);
	suite_add_tcase(s, rid);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(access_log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
