/*
 * Unit tests for supervisor/notify.c: the datagram reaches a socket named
 * by NOTIFY_SOCKET, by path and by abstract name; no variable, no send.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/notify.h"

/* Binds a datagram socket at `name` (a path, or "@..." abstract). */
static int
listen_at(const char *name)
{
	struct sockaddr_un sun;
	size_t len = strlen(name);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

static void
expect(int fd, const char *want)
{
	char buf[128];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(sends_to_a_path)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/forklift-notify-%ld",
	    (long)getpid());
	(void)unlink(path);	/* a stale one from an earlier run, if any */
	fd = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	ck_assert_int_eq(notify_send("READY=1"), 0);
	expect(fd, "READY=1");
	ck_assert_int_eq(notify_send("STOPPING=1"), 0);
	expect(fd, "STOPPING=1");
	close(fd);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(sends_to_an_abstract_name)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@forklift-notify-%ld", (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert_int_eq(notify_send("RELOADING=1"), 0);
	expect(fd, "RELOADING=1");
	close(fd);
}
END_TEST

START_TEST(without_the_variable_nothing_is_sent)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(notify_send("READY=1"), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("datagram");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, sends_to_a_path);
	tcase_add_test(tc, sends_to_an_abstract_name);
	tcase_add_test(tc, without_the_variable_nothing_is_sent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
