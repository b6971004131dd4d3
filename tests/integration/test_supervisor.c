/*
 * The supervisor against the real binary and real backends: daemon start
 * and pidfile, -t, -s, -V, bind failures, one_for_one restarts of workers
 * and of the health checker, the restart intensity, the stop signals and
 * log reopening.  Every process a test sees is found through /proc by its
 * parent and its title, as an operator would find it with ps.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "tests/integration/harness.h"

/* Each test's limit: generous, but a hang still ends. */
#define TEST_TIMEOUT_S	30
/* Longest run of a forklift command (-t, -s, a daemon's launcher). */
#define RUN_MS		10000
/* The contract: a killed child has a successor within a second. */
#define REPLACE_MS	1000
/* Longest wait for the children of a new supervisor, or of a reload. */
#define FAMILY_MS	5000
/* Longest wait for a supervisor to stop, and for a log line to appear. */
#define STOP_MS		10000
#define LOG_MS		2000
/* How long a process that must not be signalled is watched. */
#define CALM_MS		500
/* Room for a configuration and for a command's output. */
#define CONF_MAX	2048
#define OUT_MAX		4096

/* What a test's configuration varies. */
struct opts {
	int		 workers;
	bool		 daemon;
	const char	*error_log;
	int		 intensity;
	const char	*period;
	int		 listen_port;	/* 0: the harness's @PORT@ */
	int		 backend_port;
	const char	*pid_dir;	/* the pidfile's dir; NULL: @DIR@ */
};

static void
opts_default(struct opts *o, int backend_port)
{
	memset(o, 0, sizeof(*o));
	o->workers = 2;
	o->error_log = "stderr";
	o->intensity = 100;
	o->period = "60s";
	o->backend_port = backend_port;
}

static void
conf_text(char *buf, size_t len, const struct opts *o)
{
	char bind[16];
	int n;

	if (o->listen_port != 0)
		snprintf(bind, sizeof(bind), "%d", o->listen_port);
	else
		strlcpy(bind, "@PORT@", sizeof(bind));
	n = snprintf(buf, len,
	    "[global]\n"
	    "workers = %d\n"
	    "daemon = %s\n"
	    "pidfile = %s/forklift.pid\n"
	    "error_log = %s\n"
	    "restart_intensity = %d\n"
	    "restart_period = %s\n"
	    "shutdown_timeout = 5s\n"
	    "\n"
	    "[listen]\n"
	    "bind = 127.0.0.1:%s\n"
	    "pool = web\n"
	    "\n"
	    "[pool web]\n"
	    "health_check = /heartbeat\n"
	    "health_interval = 500ms\n"
	    "health_timeout = 500ms\n"
	    "server = app1 127.0.0.1:%d\n",
	    o->workers, o->daemon ? "yes" : "no",
	    o->pid_dir != NULL ? o->pid_dir : "@DIR@", o->error_log,
	    o->intensity, o->period, bind, o->backend_port);
	ck_assert(n > 0 && (size_t)n < len);
}

static bool
family_gone(void *arg)
{
	return h_family_gone(arg);
}

static void
log_wait(const char *path, const char *text)
{
	ck_assert_msg(h_wait_file(path, text, LOG_MS),
	    "%s: no \"%s\" after %d ms", path, text, LOG_MS);
}

static bool
pid_gone(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool
fd_is_devnull(pid_t pid, int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	if ((n = readlink(path, target, sizeof(target) - 1)) == -1)
		return false;
	target[n] = '\0';
	return strcmp(target, "/dev/null") == 0;
}

static bool
exited_with(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

/* A foreground forklift, once all its children are up. */
static void
start_basic(struct hforklift *f, struct hfamily *fam, const struct opts *o)
{
	char ini[CONF_MAX];

	conf_text(ini, sizeof(ini), o);
	h_forklift_start(f, ini);
	h_family_wait(fam, f->pid, o->workers, FAMILY_MS);
}

/*
 * Starts forklift with daemon = yes through its launcher; the daemon,
 * adopted by the test process once the launcher exits, becomes f->pid.
 */
static void
start_daemon(struct hforklift *f, const struct opts *o)
{
	const char *args[] = { "-c", NULL, NULL };
	char ini[CONF_MAX], out[OUT_MAX];
	int st;

	conf_text(ini, sizeof(ini), o);
	h_forklift_prepare(f, ini);
	args[1] = f->conf;
	st = h_forklift_run(f, args, out, sizeof(out), RUN_MS);
	ck_assert_msg(st == 0, "launcher: exit %d: %s", st, out);
	f->pid = h_pidfile_pid(f->pidfile);
	ck_assert_msg(f->pid > 0, "launcher exited 0, no pid in %s",
	    f->pidfile);
	h_track(f->pid);
}

START_TEST(test_daemon_start_and_stop)
{
	struct hresponse r;
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam;
	struct opts o;
	pid_t strays[4];
	int st;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	o.daemon = true;
	o.error_log = "@DIR@/error.log";
	start_daemon(&f, &o);
	/* Bound before the launcher returned: no waiting for the port. */
	ck_assert_msg(h_port_open(f.port),
	    "port %d not accepting when the launcher exited", f.port);
	ck_assert_msg(h_pid_alive(f.pid), "pidfile names %d, not alive",
	    (int)f.pid);
	ck_assert_msg(h_strays(strays, 4) == 1 && strays[0] == f.pid,
	    "the launcher left more than the daemon behind");
	ck_assert_msg(getsid(f.pid) != getsid(0), "daemon kept our session");
	ck_assert_msg(fd_is_devnull(f.pid, 0) && fd_is_devnull(f.pid, 1),
	    "daemon's stdin/stdout are not /dev/null");
	ck_assert_int_eq(h_child(getpid(), "forklift: supervisor"), f.pid);
	h_family_wait(&fam, f.pid, o.workers, FAMILY_MS);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_msg(r.status != 0, "no HTTP answer on port %d: curl %d",
	    f.port, r.curl_error);
	h_response_free(&r);

	ck_assert(kill(f.pid, SIGTERM) == 0);
	st = h_forklift_wait(&f, STOP_MS);
	ck_assert_msg(exited_with(st, 0), "daemon: wait status 0x%x", st);
	ck_assert_msg(!exists(f.pidfile), "pidfile left behind");
	ck_assert_msg(h_wait_until(family_gone, &fam, LOG_MS),
	    "children outlived the daemon");
	ck_assert_int_eq(h_strays(strays, 4), 0);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_second_instance_refused)
{
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam;
	struct opts o;
	const char *fg[] = { "-f", "-c", NULL, NULL };
	const char *dm[] = { "-c", NULL, NULL };
	char ini[CONF_MAX], path[PATH_MAX], out[OUT_MAX], pid[16];
	pid_t strays[4];
	int i, st, port;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	start_basic(&f, &fam, &o);
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	/* Same pidfile, another port: only the pidfile stands in the way. */
	o.pid_dir = f.dir;
	for (i = 0; i < 2; i++) {
		port = h_free_port();
		o.listen_port = port;
		o.daemon = i == 1;
		conf_text(ini, sizeof(ini), &o);
		snprintf(path, sizeof(path), "%s/second%d.ini", f.dir, i);
		h_file_write(path, ini);
		fg[2] = dm[1] = path;
		st = h_forklift_run(&f, i == 1 ? dm : fg, out, sizeof(out),
		    RUN_MS);
		ck_assert_msg(st == 1, "second instance (%s): exit %d: %s",
		    i == 0 ? "-f" : "daemon", st, out);
		ck_assert_msg(strstr(out, f.pidfile) != NULL ||
		    strstr(out, pid) != NULL,
		    "refusal names neither the pidfile nor pid %s: \"%s\"",
		    pid, out);
		ck_assert_msg(!h_port_open(port), "second instance bound");
		ck_assert_int_eq(h_pidfile_pid(f.pidfile), f.pid);
		ck_assert(h_pid_alive(f.pid));
		ck_assert_int_eq(h_strays(strays, 4), 0);
	}
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_check_good_file)
{
	struct hforklift f;
	struct opts o;
	const char *args[] = { "-t", "-c", NULL, NULL };
	char ini[CONF_MAX], out[OUT_MAX], want[PATH_MAX + 8];
	int fd, port, st;

	/* The port is taken: a check that tried to bind would fail. */
	fd = h_hold_port(&port);
	opts_default(&o, h_free_port());
	o.listen_port = port;
	conf_text(ini, sizeof(ini), &o);
	h_forklift_prepare(&f, ini);
	args[2] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	snprintf(want, sizeof(want), "%s: ok\n", f.conf);
	ck_assert_msg(st == 0 && strcmp(out, want) == 0,
	    "-t on a good file: exit %d, \"%s\"", st, out);
	ck_assert_msg(!exists(f.pidfile), "-t created the pidfile");
	ck_assert(close(fd) == 0);
	h_forklift_stop(&f);
}
END_TEST

/* Each bad file and the line its error must name. */
static const struct {
	const char	*ini;
	int		 line;
} bad_files[] = {
	{ "[global]\n"
	  "pidfile = @DIR@/forklift.pid\n"
	  "bogus = 1\n"
	  "[listen]\n"
	  "bind = 127.0.0.1:@PORT@\n"
	  "pool = web\n"
	  "[pool web]\n"
	  "server = app1 127.0.0.1:9\n", 3 },
	{ "[global]\n"
	  "pidfile = @DIR@/forklift.pid\n"
	  "error_log = stderr\n"
	  "restart_period = 10x\n"
	  "[listen]\n"
	  "bind = 127.0.0.1:@PORT@\n"
	  "pool = web\n"
	  "[pool web]\n"
	  "server = app1 127.0.0.1:9\n", 4 },
	{ "[global]\n"
	  "pidfile = @DIR@/forklift.pid\n"
	  "error_log = stderr\n"
	  "[listen]\n"
	  "bind = 127.0.0.1:@PORT@\n"
	  "pool = nope\n"
	  "[pool web]\n"
	  "server = app1 127.0.0.1:9\n", 6 },
	{ "[global]\n"
	  "pidfile = @DIR@/forklift.pid\n"
	  "error_log = stderr\n"
	  "[listen]\n"
	  "bind = 127.0.0.1:@PORT@\n"
	  "pool = web\n"
	  "[pool web]\n"
	  "server = app1 127.0.0.1:9\n"
	  "server = app1 127.0.0.1:10\n", 9 },
};

START_TEST(test_check_bad_file)
{
	struct hforklift f;
	const char *args[] = { "-t", "-c", NULL, NULL };
	char out[OUT_MAX], want[PATH_MAX + 16];
	int st;

	h_forklift_prepare(&f, bad_files[_i].ini);
	args[2] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	snprintf(want, sizeof(want), "%s:%d: ", f.conf, bad_files[_i].line);
	ck_assert_msg(st == 1 && strncmp(out, want, strlen(want)) == 0 &&
	    strchr(out, '\n') == out + strlen(out) - 1,
	    "-t on bad file %d: exit %d, \"%s\", want one line \"%s...\"",
	    _i, st, out, want);
	ck_assert_msg(!exists(f.pidfile), "-t created the pidfile");
	ck_assert_msg(!h_port_open(f.port), "-t bound the port");
	h_forklift_stop(&f);
}
END_TEST

START_TEST(test_check_beside_live_instance)
{
	struct hresponse r;
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam, now;
	struct stat before, after;
	struct opts o;
	const char *args[] = { "-t", "-c", NULL, NULL };
	char out[OUT_MAX], want[PATH_MAX + 8];
	int i, st;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	start_basic(&f, &fam, &o);
	ck_assert(stat(f.pidfile, &before) == 0);
	args[2] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	snprintf(want, sizeof(want), "%s: ok\n", f.conf);
	ck_assert_msg(st == 0 && strcmp(out, want) == 0,
	    "-t beside a live instance: exit %d, \"%s\"", st, out);
	/* Nothing of the live instance changed: pidfile, pids, service. */
	ck_assert(stat(f.pidfile, &after) == 0);
	ck_assert_msg(before.st_ino == after.st_ino &&
	    before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec,
	    "-t touched the live pidfile");
	ck_assert_int_eq(h_pidfile_pid(f.pidfile), f.pid);
	h_family_wait(&now, f.pid, o.workers, FAMILY_MS);
	for (i = 0; i < o.workers; i++)
		ck_assert_int_eq(now.workers[i], fam.workers[i]);
	ck_assert_int_eq(now.checker, fam.checker);
	h_get(f.port, "/home", NULL, &r);
	ck_assert_msg(r.status != 0, "no answer after -t: curl %d",
	    r.curl_error);
	h_response_free(&r);
	ck_assert(!h_file_contains(f.log, "reload"));
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_bind_failure)
{
	struct hforklift f;
	struct opts o;
	const char *fg[] = { "-f", "-c", NULL, NULL };
	const char *dm[] = { "-c", NULL, NULL };
	const char **args = _i == 1 ? dm : fg;
	/* The same start with stderr thrown away, to see stdout alone. */
	const char *sh[8] = { "/bin/sh", "-c", "exec \"$@\" 2>/dev/null",
	    "sh", h_forklift_bin() };
	char ini[CONF_MAX], out[OUT_MAX], addr[32];
	pid_t strays[4];
	int i, fd, port, st;

	fd = h_hold_port(&port);
	opts_default(&o, h_free_port());
	o.listen_port = port;
	o.daemon = _i == 1;
	o.error_log = _i == 1 ? "@DIR@/error.log" : "stderr";
	conf_text(ini, sizeof(ini), &o);
	h_forklift_prepare(&f, ini);
	fg[2] = dm[1] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	ck_assert_msg(st == 1, "%s start on a taken port: exit %d: %s",
	    _i == 1 ? "daemon" : "-f", st, out);
	ck_assert_msg(strstr(out, addr) != NULL,
	    "the message does not name %s: \"%s\"", addr, out);
	ck_assert_msg(h_strays(strays, 4) == 0,
	    "process %d left behind", (int)strays[0]);
	ck_assert_msg(h_pidfile_pid(f.pidfile) == -1, "pidfile left behind");
	for (i = 0; args[i] != NULL; i++)
		sh[5 + i] = args[i];
	st = h_run(sh, out, sizeof(out), RUN_MS);
	ck_assert_msg(st != 0 && out[0] == '\0',
	    "stderr thrown away: exit %d, stdout \"%s\"", st, out);
	ck_assert(close(fd) == 0);
	h_forklift_stop(&f);
}
END_TEST

START_TEST(test_worker_killed_is_replaced)
{
	struct hresponse r;
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam, now;
	struct opts o;
	char line[128];
	pid_t old;
	int i;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	start_basic(&f, &fam, &o);
	old = h_kill_and_replace(f.pid, "forklift: worker 0", REPLACE_MS);
	snprintf(line, sizeof(line),
	    "worker 0 (pid %d) killed by signal 9, restarting", (int)old);
	log_wait(f.log, line);
	/* one_for_one: the supervisor and the other children are the same. */
	ck_assert(h_pid_alive(f.pid));
	h_family_wait(&now, f.pid, o.workers, FAMILY_MS);
	ck_assert_int_ne(now.workers[0], fam.workers[0]);
	ck_assert_int_eq(now.workers[1], fam.workers[1]);
	ck_assert_int_eq(now.checker, fam.checker);
	/* Both sockets are served again (the kernel spreads the requests). */
	for (i = 0; i < 8; i++) {
		h_get(f.port, "/home", NULL, &r);
		ck_assert_msg(r.status != 0, "request %d: curl %d", i,
		    r.curl_error);
		h_response_free(&r);
	}
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_health_checker_killed_is_replaced)
{
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam, now;
	struct opts o;
	char line[128];
	pid_t old;
	int i;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	start_basic(&f, &fam, &o);
	old = h_kill_and_replace(f.pid, "forklift: health checker", REPLACE_MS);
	snprintf(line, sizeof(line),
	    "health checker (pid %d) killed by signal 9, restarting",
	    (int)old);
	log_wait(f.log, line);
	ck_assert(h_pid_alive(f.pid));
	h_family_wait(&now, f.pid, o.workers, FAMILY_MS);
	ck_assert_int_ne(now.checker, fam.checker);
	for (i = 0; i < o.workers; i++)
		ck_assert_int_eq(now.workers[i], fam.workers[i]);
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_restart_intensity_exceeded)
{
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam;
	struct opts o;
	pid_t strays[4];
	int i, st;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	o.workers = 1;
	o.intensity = 3;
	start_basic(&f, &fam, &o);
	/* Three restarts are allowed within the period... */
	for (i = 0; i < 3; i++)
		(void)h_kill_and_replace(f.pid, "forklift: worker 0",
		    REPLACE_MS);
	h_family_wait(&fam, f.pid, o.workers, FAMILY_MS);
	/* ...the fourth is more than restart_intensity. */
	ck_assert(kill(fam.workers[0], SIGKILL) == 0);
	st = h_forklift_wait(&f, STOP_MS);
	ck_assert_msg(st != -1, "supervisor still running after 4 restarts "
	    "with restart_intensity = 3");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0,
	    "supervisor gave up with wait status 0x%x, not an exit != 0", st);
	ck_assert_msg(h_file_contains(f.log, "more than 3 restarts in ") &&
	    h_file_contains(f.log, "giving up"),
	    "the log does not say why it gave up");
	ck_assert_msg(!h_pid_alive(fam.checker), "health checker %d left",
	    (int)fam.checker);
	ck_assert_int_eq(h_strays(strays, 4), 0);
	f.alert_ok = "giving up";
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

static const int stop_signals[] = { SIGTERM, SIGINT, SIGQUIT };

START_TEST(test_stop_signal_leaves_nothing)
{
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam;
	struct opts o;
	pid_t strays[4];
	int st;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	start_basic(&f, &fam, &o);
	h_forklift_signal(&f, stop_signals[_i]);
	st = h_forklift_wait(&f, STOP_MS);
	ck_assert_msg(exited_with(st, 0), "%s: wait status 0x%x",
	    strsignal(stop_signals[_i]), st);
	ck_assert_msg(!exists(f.pidfile), "%s: pidfile left behind",
	    strsignal(stop_signals[_i]));
	/* The supervisor reaps its children before it exits. */
	ck_assert_msg(h_family_gone(&fam), "%s: a child outlived the "
	    "supervisor", strsignal(stop_signals[_i]));
	ck_assert_int_eq(h_strays(strays, 4), 0);
	ck_assert_msg(!h_port_open(f.port), "port still accepting");
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

static const char *const signal_commands[] = { "stop", "quit", "reload" };

static bool
generation_replaced(void *arg)
{
	struct hfamily *old = arg, now;
	int i;

	if (!h_family(&now, old->sup, old->nworkers))
		return false;
	for (i = 0; i < old->nworkers; i++)
		if (now.workers[i] == old->workers[i])
			return false;
	return now.checker != old->checker;
}

START_TEST(test_signal_command)
{
	const char *cmd = signal_commands[_i];
	const char *args[] = { "-c", NULL, "-s", cmd, NULL };
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam;
	struct opts o;
	char out[OUT_MAX];
	int st;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	start_basic(&f, &fam, &o);
	args[1] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	ck_assert_msg(st == 0, "-s %s: exit %d: %s", cmd, st, out);
	if (strcmp(cmd, "reload") == 0) {
		ck_assert_msg(h_wait_until(generation_replaced, &fam,
		    FAMILY_MS), "-s reload: no new generation in %d ms",
		    FAMILY_MS);
		ck_assert_msg(h_pid_alive(f.pid), "supervisor gone");
		/* The old generation drains (nothing in flight) and exits. */
		ck_assert_msg(h_wait_until(family_gone, &fam, STOP_MS),
		    "old generation still running after %d ms", STOP_MS);
	} else {
		st = h_forklift_wait(&f, STOP_MS);
		ck_assert_msg(exited_with(st, 0), "-s %s: wait status 0x%x",
		    cmd, st);
		ck_assert_msg(!exists(f.pidfile), "pidfile left behind");
	}
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

START_TEST(test_signal_command_without_supervisor)
{
	struct hforklift f;
	struct hbackend victim;
	struct opts o;
	const char *args[] = { "-c", NULL, "-s", "stop", NULL };
	char ini[CONF_MAX], out[OUT_MAX], pid[16];
	int st;

	opts_default(&o, h_free_port());
	conf_text(ini, sizeof(ini), &o);
	h_forklift_prepare(&f, ini);
	args[1] = f.conf;
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	ck_assert_msg(st == 1 && strstr(out, f.pidfile) != NULL,
	    "-s stop, no pidfile: exit %d, \"%s\"", st, out);

	/*
	 * A stale pidfile (its supervisor was SIGKILLed) naming a pid now
	 * used by another process: no supervisor holds the pidfile's lock,
	 * so -s must refuse rather than signal that process.
	 */
	h_backend_start(&victim, "victim", NULL);
	snprintf(pid, sizeof(pid), "%d\n", (int)victim.pid);
	h_file_write(f.pidfile, pid);
	st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
	ck_assert_msg(!h_wait_until(pid_gone, &victim.pid, CALM_MS),
	    "-s stop with a stale pidfile signalled pid %d (exit %d, "
	    "\"%s\")", (int)victim.pid, st, out);
	ck_assert_msg(st == 1, "-s stop with a stale pidfile: exit %d, "
	    "\"%s\"", st, out);
	h_backend_stop(&victim);
	h_forklift_stop(&f);
}
END_TEST

START_TEST(test_version)
{
	const char *argv[] = { h_forklift_bin(), "-V", NULL };
	char out[OUT_MAX];
	int st;

	st = h_run(argv, out, sizeof(out), RUN_MS);
	ck_assert_msg(st == 0 && strncmp(out, "forklift ", 9) == 0 &&
	    out[9] >= '0' && out[9] <= '9',
	    "-V: exit %d, \"%s\"", st, out);
}
END_TEST

START_TEST(test_reopen_log)
{
	const char *args[] = { "-c", NULL, "-s", "reopen", NULL };
	struct hforklift f;
	struct hbackend b;
	struct hfamily fam;
	struct opts o;
	char log[PATH_MAX], rotated[PATH_MAX], line[128], out[OUT_MAX];
	pid_t old;
	int st;

	h_backend_start(&b, "app1", NULL);
	opts_default(&o, b.port);
	o.workers = 1;
	o.daemon = true;
	o.error_log = "@DIR@/forklift.log";
	start_daemon(&f, &o);
	h_family_wait(&fam, f.pid, o.workers, FAMILY_MS);
	snprintf(log, sizeof(log), "%s/forklift.log", f.dir);
	snprintf(rotated, sizeof(rotated), "%s/forklift.log.1", f.dir);
	ck_assert_msg(exists(log), "no %s", log);
	ck_assert(rename(log, rotated) == 0);
	if (_i == 0) {
		ck_assert(kill(f.pid, SIGUSR1) == 0);
	} else {
		args[1] = f.conf;
		st = h_forklift_run(&f, args, out, sizeof(out), RUN_MS);
		ck_assert_msg(st == 0, "-s reopen: exit %d: %s", st, out);
	}
	/* The new file appears, and the next line goes there. */
	ck_assert_msg(h_wait_file(log, "", LOG_MS),
	    "no new %s %d ms after the reopen", log, LOG_MS);
	old = h_kill_and_replace(f.pid, "forklift: worker 0", REPLACE_MS);
	snprintf(line, sizeof(line),
	    "worker 0 (pid %d) killed by signal 9, restarting", (int)old);
	log_wait(log, line);
	ck_assert_msg(!h_file_contains(rotated, line),
	    "the line went to the rotated file too");
	h_forklift_stop(&f);
	h_backend_stop(&b);
}
END_TEST

static Suite *
supervisor_suite(void)
{
	Suite *s = suite_create("supervisor");
	TCase *tc;

	tc = tcase_create("start");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_daemon_start_and_stop);
	tcase_add_test(tc, test_second_instance_refused);
	tcase_add_loop_test(tc, test_bind_failure, 0, 2);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_check_good_file);
	tcase_add_loop_test(tc, test_check_bad_file, 0,
	    (int)(sizeof(bad_files) / sizeof(bad_files[0])));
	tcase_add_test(tc, test_check_beside_live_instance);
	suite_add_tcase(s, tc);

	tc = tcase_create("restart");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_worker_killed_is_replaced);
	tcase_add_test(tc, test_health_checker_killed_is_replaced);
	tcase_add_test(tc, test_restart_intensity_exceeded);
	suite_add_tcase(s, tc);

	tc = tcase_create("signals");
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stop_signal_leaves_nothing, 0,
	    (int)(sizeof(stop_signals) / sizeof(stop_signals[0])));
	tcase_add_loop_test(tc, test_signal_command, 0,
	    (int)(sizeof(signal_commands) / sizeof(signal_commands[0])));
	tcase_add_test(tc, test_signal_command_without_supervisor);
	tcase_add_loop_test(tc, test_reopen_log, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(supervisor_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
