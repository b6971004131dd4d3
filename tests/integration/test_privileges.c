/*
 * Integration tests of what a forklift process may do: with `user =`,
 * workers and the health checker run as that user and its group only,
 * with no capability and no saved root id to go back to, while the
 * supervisor stays root to bind the ports a reload asks for; the
 * descriptor limit fits max_connections (raised, or a clear error at
 * start); and the admin endpoints listen on loopback unless told
 * otherwise.  What a process is, is read from /proc/PID/status and
 * /proc/PID/limits.  The tests of `user =` need root and say so when
 * skipped.
 */
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <bsd/string.h>
#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "tests/integration/harness.h"

#define INI_MAX		4096
#define OUT_MAX		8192
#define WAIT_MS		10000

/* Descriptors a worker needs per client connection (the client and its
   upstream), as worker/worker.c counts them. */
#define FDS_PER_CONN	2

static char	 ini[INI_MAX];

static bool
is_root(void)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "%s: skipped, needs root\n", __FILE__);
	return false;
}

/*
 * Whether this process may raise its hard RLIMIT_NOFILE (root with
 * CAP_SYS_RESOURCE; a container may take that capability away).  Tried
 * in a child, so the test's own limits stay as they are.
 */
static bool
can_raise_hard_nofile(void)
{
	struct rlimit rl;
	pid_t pid;
	int st;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_max == RLIM_INFINITY)
		return true;
	if ((pid = fork()) == -1)
		return false;
	if (pid == 0) {
		rl.rlim_max++;
		_exit(setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s: skipped, root may not raise the hard "
		    "descriptor limit here (no CAP_SYS_RESOURCE)\n", __FILE__);
		return false;
	}
	return true;
}

/* One listener, one backend, the [global] lines given. */
static const char *
make_ini(const char *global, int port)
{
	int n;

	n = snprintf(ini, sizeof(ini),
	    "[global]\ndaemon = no\n"
	    "pidfile = @DIR@/forklift.pid\nerror_log = stderr\n%s"
	    "[listen]\nbind = 127.0.0.1:@PORT@\npool = web\n"
	    "[pool web]\nhealth_check = tcp\nhealth_interval = 200ms\n"
	    "health_timeout = 100ms\n"
	    "server = solo 127.0.0.1:%d\n", global, port);
	ck_assert(n > 0 && (size_t)n < sizeof(ini));
	return ini;
}

/* The value of a /proc/PID/status line ("Uid:"), copied into buf. */
static void
status_line(pid_t pid, const char *key, char *buf, size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "re");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	buf[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, klen) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line + klen);
			break;
		}
	(void)fclose(fp);
	ck_assert_msg(buf[0] != '\0' || strcmp(key, "Groups:") == 0,
	    "pid %d: no %s line", (int)pid, key);
}

/* Asserts every id of the line (real, effective, saved, fs) is `id`. */
static void
assert_ids(pid_t pid, const char *key, unsigned id, const char *who)
{
	char buf[256], *p, *end;
	unsigned long v;
	int n = 0;

	status_line(pid, key, buf, sizeof(buf));
	for (p = buf; *p != '\0'; p = end, n++) {
		v = strtoul(p, &end, 10);
		if (end == p)
			break;
		ck_assert_msg(v == id, "%s (pid %d): %s%s, want %u everywhere",
		    who, (int)pid, key, buf, id);
	}
	ck_assert_msg(n == 4, "%s: %s%s", who, key, buf);
}

/* Asserts the supplementary groups are exactly { gid }. */
static void
assert_groups(pid_t pid, unsigned gid, const char *who)
{
	char buf[1024], *p, *end;
	unsigned long v;
	int n = 0;

	status_line(pid, "Groups:", buf, sizeof(buf));
	for (p = buf; *p != '\0'; p = end) {
		v = strtoul(p, &end, 10);
		if (end == p)
			break;
		ck_assert_msg(v == gid, "%s (pid %d): Groups:%s, want only %u",
		    who, (int)pid, buf, gid);
		n++;
	}
	ck_assert_msg(n <= 1, "%s: Groups:%s", who, buf);
}

/* Asserts a dropped process has no capability and no root id left. */
static void
assert_dropped(pid_t pid, const struct passwd *pw, const char *who)
{
	static const char *const caps[] = { "CapInh:", "CapPrm:", "CapEff:",
	    "CapAmb:" };
	char buf[64];
	size_t i;

	assert_ids(pid, "Uid:", pw->pw_uid, who);
	assert_ids(pid, "Gid:", pw->pw_gid, who);
	assert_groups(pid, pw->pw_gid, who);
	/* Without a saved root id or a permitted capability, setuid(0)
	   and seteuid(0) fail: there is no way back. */
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		status_line(pid, caps[i], buf, sizeof(buf));
		ck_assert_msg(strtoull(buf, NULL, 16) == 0,
		    "%s (pid %d): %s%s", who, (int)pid, caps[i], buf);
	}
}

/* ---- user = ------------------------------------------------------------ */

START_TEST(test_user_drops_children)
{
	struct hbackend b;
	struct hforklift f;
	struct hfamily fam;
	struct passwd *pw;
	struct hresponse r;
	int i;

	if (!is_root())
		return;
	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	ck_assert_uint_ne(pw->pw_uid, 0);
	h_backend_start(&b, "solo", NULL);
	h_forklift_start(&f, make_ini("workers = 2\nuser = nobody\n", b.port));
	/* Sanitizer reports of the children (as nobody) land here. */
	ck_assert_int_eq(chmod(f.dir, 01777), 0);
	h_family_wait(&fam, f.pid, 2, WAIT_MS);

	for (i = 0; i < fam.nworkers; i++)
		assert_dropped(fam.workers[i], pw, "worker");
	assert_dropped(fam.checker, pw, "health checker");
	/* The supervisor stays root: a reload may bind a port below 1024. */
	assert_ids(fam.sup, "Uid:", 0, "supervisor");

	/* And the dropped workers serve. */
	h_get(f.port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/* A port below 1024 that is free now, or 0 (the caller skips). */
static int
privileged_port(void)
{
	struct sockaddr_in sin;
	int fd, port;

	for (port = 1000; port > 600; port--) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ne(fd, -1);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			return port;
		}
		close(fd);
	}
	return 0;
}

struct gen_arg {
	pid_t	 sup;
	pid_t	 old[H_MAX_WORKERS];
	int	 nold;
};

/* True once the only workers left are new ones. */
static bool
new_generation(void *arg)
{
	struct gen_arg *g = arg;
	pid_t now[H_MAX_WORKERS];
	int i, j, n;

	n = h_children(g->sup, "forklift: worker", now, H_MAX_WORKERS);
	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		for (j = 0; j < g->nold; j++)
			if (now[i] == g->old[j])
				return false;
	return true;
}

START_TEST(test_user_reload_binds_privileged)
{
	char extra[256], global[512];
	struct hbackend b;
	struct hforklift f;
	struct hfamily fam;
	struct gen_arg g;
	struct passwd *pw;
	struct hresponse r;
	int port, i;

	if (!is_root())
		return;
	if ((port = privileged_port()) == 0) {
		fprintf(stderr, "%s: skipped, no free port below 1024\n",
		    __FILE__);
		return;
	}
	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	h_backend_start(&b, "solo", NULL);
	snprintf(global, sizeof(global), "workers = 1\nuser = nobody\n");
	h_forklift_start(&f, make_ini(global, b.port));
	ck_assert_int_eq(chmod(f.dir, 01777), 0);
	h_family_wait(&fam, f.pid, 1, WAIT_MS);

	/* A reload that adds a listener on a privileged port. */
	g.sup = f.pid;
	g.nold = 1;
	g.old[0] = fam.workers[0];
	snprintf(extra, sizeof(extra), "[listen low]\nbind = 127.0.0.1:%d\n"
	    "pool = web\n", port);
	make_ini(global, b.port);
	strlcat(ini, extra, sizeof(ini));
	h_forklift_rewrite(&f, ini);
	h_forklift_signal(&f, SIGHUP);
	ck_assert_msg(h_wait_port(port, WAIT_MS),
	    "the reload did not bind 127.0.0.1:%d", port);
	ck_assert(h_wait_until(new_generation, &g, WAIT_MS));
	h_get(port, "/home", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);

	/* The new generation dropped as well; the supervisor is root. */
	h_family_wait(&fam, f.pid, 1, WAIT_MS);
	for (i = 0; i < fam.nworkers; i++)
		assert_dropped(fam.workers[i], pw, "new worker");
	assert_dropped(fam.checker, pw, "new health checker");
	assert_ids(f.pid, "Uid:", 0, "supervisor");
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_user_unknown)
{
	const char *args[] = { "-f", "-c", NULL, NULL };
	struct hforklift f;
	char out[OUT_MAX];
	int st;

	if (!is_root())
		return;
	/* An unknown user: refused with a reason, not restarted forever. */
	h_forklift_prepare(&f, make_ini("workers = 1\n"
	    "user = no-such-user-here\n", h_free_port()));
	args[2] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), WAIT_MS);
	ck_assert_msg(st > 0, "exit status %d: %s", st, out);
	ck_assert_msg(strstr(out, "no-such-user-here") != NULL, "%s", out);
	f.alert_ok = "no-such-user-here";
	h_forklift_stop(&f);
}
END_TEST

/* ---- RLIMIT_NOFILE ------------------------------------------------------ */

/* The soft and hard "Max open files" of pid. */
static void
nofile_of(pid_t pid, unsigned long long *soft, unsigned long long *hard)
{
	char path[64], line[256], *p, *end;
	FILE *fp;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "re"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "Max open files", 14) == 0) {
			*soft = strtoull(line + 14, &p, 10);
			*hard = strtoull(p, &end, 10);
			found = p != line + 14 && end != p;
			break;
		}
	(void)fclose(fp);
	ck_assert_msg(found, "%s: no Max open files", path);
}

/* Sets this process's (and so forklift's) limit before it starts. */
static void
set_nofile(rlim_t soft, rlim_t hard)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	ck_assert_msg(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s",
	    strerror(errno));
}

#define MAXCONN		4096
#define LOW_LIMIT	1024

/* A soft limit too low: the worker raises it within the hard one. */
START_TEST(test_nofile_raised_to_hard)
{
	unsigned long long soft, hard;
	struct rlimit rl;
	struct hbackend b;
	struct hforklift f;
	struct hfamily fam;
	char global[128];

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < FDS_PER_CONN * MAXCONN + 256) {
		fprintf(stderr, "%s: skipped, hard limit %llu too low\n",
		    __FILE__, (unsigned long long)rl.rlim_max);
		return;
	}
	h_backend_start(&b, "solo", NULL);
	set_nofile(LOW_LIMIT, rl.rlim_max);
	snprintf(global, sizeof(global), "workers = 1\nmax_connections = %d\n",
	    MAXCONN);
	h_forklift_start(&f, make_ini(global, b.port));
	h_family_wait(&fam, f.pid, 1, WAIT_MS);
	nofile_of(fam.workers[0], &soft, &hard);
	ck_assert_msg(soft >= FDS_PER_CONN * MAXCONN,
	    "worker soft limit %llu for max_connections %d", soft, MAXCONN);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/*
 * A hard limit too low, started as root with `user =`: root may raise the
 * hard limit, so it must be raised before the children drop to the user,
 * who no longer can.
 */
START_TEST(test_nofile_raised_as_root)
{
	unsigned long long soft, hard;
	struct hbackend b;
	struct hforklift f;
	struct hfamily fam;
	char global[128];

	if (!is_root() || !can_raise_hard_nofile())
		return;
	h_backend_start(&b, "solo", NULL);
	set_nofile(LOW_LIMIT, LOW_LIMIT);
	snprintf(global, sizeof(global), "workers = 1\nuser = nobody\n"
	    "max_connections = %d\n", MAXCONN);
	h_forklift_start(&f, make_ini(global, b.port));
	ck_assert_int_eq(chmod(f.dir, 01777), 0);
	h_family_wait(&fam, f.pid, 1, WAIT_MS);
	nofile_of(fam.workers[0], &soft, &hard);
	ck_assert_msg(soft >= FDS_PER_CONN * MAXCONN,
	    "worker (as nobody) soft limit %llu, hard %llu, for "
	    "max_connections %d: the limit was not raised before dropping "
	    "privileges", soft, hard, MAXCONN);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

/*
 * A max_connections no limit can hold (more descriptors than the kernel's
 * fs.nr_open allows any process): a clear error at start, not a worker
 * that runs out of descriptors under load.
 */
START_TEST(test_nofile_impossible)
{
	const char *args[] = { "-f", "-c", NULL, NULL };
	unsigned long long nr_open = 0, maxconn;
	struct hforklift f;
	char out[OUT_MAX], global[128], line[64];
	FILE *fp;
	int st;

	if ((fp = fopen("/proc/sys/fs/nr_open", "re")) != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL)
			nr_open = strtoull(line, NULL, 10);
		(void)fclose(fp);
	}
	if (nr_open == 0 || nr_open >= 1000000ULL * FDS_PER_CONN) {
		fprintf(stderr, "%s: skipped, fs.nr_open %llu\n", __FILE__,
		    nr_open);
		return;
	}
	maxconn = nr_open / FDS_PER_CONN + 1;
	snprintf(global, sizeof(global),
	    "workers = 1\nmax_connections = %llu\n", maxconn);
	h_forklift_prepare(&f, make_ini(global, h_free_port()));
	args[2] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), 5000);
	ck_assert_msg(st > 0, "forklift with max_connections %llu: exit "
	    "status %d (-1: still running after 5 s), output:\n%s",
	    maxconn, st, out);
	ck_assert_msg(strstr(out, "max_connections") != NULL,
	    "the error does not name max_connections:\n%s", out);
	f.alert_ok = "max_connections";
	h_forklift_stop(&f);
}
END_TEST

/* ---- the admin listener ------------------------------------------------ */

static struct conf *
load(const char *text, char *err, size_t errlen)
{
	char dir[] = "/tmp/forklift-priv-XXXXXX", path[64];
	struct conf *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/forklift.ini", dir);
	h_file_write(path, text);
	c = conf_load(path, err, errlen);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	return c;
}

START_TEST(test_admin_default_loopback)
{
	static const char base[] = "[listen]\nbind = 0.0.0.0:8080\n"
	    "pool = web\n[pool web]\nserver = a 127.0.0.1:9001\n";
	const struct sockaddr_in *sin;
	char err[512], text[512];
	struct conf *c;

	/* No [admin]: no admin listener at all. */
	c = load(base, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(!c->has_admin);
	conf_free(c);

	/* [admin] without bind: loopback only, even beside a listener on
	   every address. */
	snprintf(text, sizeof(text), "%s[admin]\n", base);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(c->has_admin);
	ck_assert_str_eq(c->admin_bind.text, "127.0.0.1:8081");
	ck_assert_int_eq(c->admin_bind.ss.ss_family, AF_INET);
	sin = (const struct sockaddr_in *)&c->admin_bind.ss;
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_uint_eq(ntohs(sin->sin_port), 8081);
	conf_free(c);

	/* Exposing it is a choice written in the file. */
	snprintf(text, sizeof(text), "%s[admin]\nbind = 0.0.0.0:9090\n",
	    base);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->admin_bind.text, "0.0.0.0:9090");
	conf_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("privileges (integration)");
	TCase *tc;
	SRunner *sr;
	int failed;

	(void)signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("user");
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_user_drops_children);
	tcase_add_test(tc, test_user_reload_binds_privileged);
	tcase_add_test(tc, test_user_unknown);
	suite_add_tcase(s, tc);
	tc = tcase_create("nofile");
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_nofile_raised_to_hard);
	tcase_add_test(tc, test_nofile_raised_as_root);
	tcase_add_test(tc, test_nofile_impossible);
	suite_add_tcase(s, tc);
	tc = tcase_create("admin");
	tcase_add_test(tc, test_admin_default_loopback);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
