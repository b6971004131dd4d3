/*
 * The integration test harness, its process side: the record of what a test
 * started, the guard that kills what is left when the test process dies,
 * /proc scans and running programs.  harness_forklift.c drives forklift,
 * harness_backend.c the backends, harness_net.c talks TCP and HTTP, and
 * harness_file.c reads and writes files.
 *
 * Check runs each test in a forked child and ends a failed one with _exit(),
 * so no atexit() handler of the test process can be trusted to clean up.
 * The guard can: a process forked once per test, out of the test's process
 * group (Check SIGKILLs that group after each test), told over a pipe what
 * the test starts.  When the test process is gone, by any path, the pipe
 * reaches EOF and the guard kills whatever of that is still alive, checking
 * each pid's start time so that a reused pid is left alone.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

/* Processes and temp dirs one test may record. */
#define HI_MAX_PROCS	64
#define HI_MAX_DIRS	16
/* Levels of a process tree killed below a recorded process. */
#define HI_TREE_DEPTH	4
/* Children of one process looked at when killing a tree. */
#define HI_MAX_CHILDREN	256
/* Poll period of every wait. */
#define HI_TICK_MS	10

struct hproc {
	pid_t			 pid;
	unsigned long long	 start;		/* /proc start time */
	bool			 forked;		/* not adopted */
	bool			 reaped;
	int			 status;
};

/* What the guard is told.  Fixed size, below PIPE_BUF: atomic writes. */
enum grec_kind {
	GREC_PID,
	GREC_DIR,
	GREC_DIR_DONE,
	GREC_CLEAR,
};

struct grec {
	int			 kind;
	pid_t			 pid;
	unsigned long long	 start;
	char			 path[256];
};

/* What /proc/PID/stat says that the harness uses. */
struct pstat {
	pid_t			 ppid;
	char			 state;
	unsigned long long	 start;
};

static struct {
	pid_t		 owner;		/* the process this state belongs to */
	struct hproc	 procs[HI_MAX_PROCS];
	int		 nprocs;
	char		 dirs[HI_MAX_DIRS][256];
	int		 ndirs;
	pid_t		 guard;
	int		 guard_fd;
} hs;

static void	at_exit(void);

long long
hi_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		abort();
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
hi_tick(void)
{
	if (poll(NULL, 0, HI_TICK_MS) == -1 && errno != EINTR)
		ck_abort_msg("poll: %s", strerror(errno));
}

/*
 * Parses what follows the command name in /proc/PID/stat: " S PPID", 17
 * fields not needed, then the start time (field 22).  0, or -1.
 */
static int
stat_fields(const char *p, struct pstat *ps)
{
	char *end;
	long ppid;
	int i;

	if (p[0] != ' ' || p[1] == '\0' || p[2] != ' ')
		return -1;
	ps->state = p[1];
	errno = 0;
	ppid = strtol(p + 3, &end, 10);
	if (errno != 0 || end == p + 3 || ppid < 0 || ppid > INT_MAX)
		return -1;
	ps->ppid = (pid_t)ppid;
	for (p = end, i = 5; i < 22; i++) {
		p += strspn(p, " ");
		p += strcspn(p, " ");
	}
	errno = 0;
	ps->start = strtoull(p, &end, 10);
	if (errno != 0 || end == p || (*end != ' ' && *end != '\0'))
		return -1;
	return 0;
}

/* Reads /proc/PID/stat: 0, or -1 if there is no such process. */
static int
proc_stat(pid_t pid, struct pstat *ps)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past it. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	return stat_fields(p + 1, ps);
}

static bool
title_matches(pid_t pid, const char *title, size_t tlen)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	if (tlen == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strncmp(buf, title, tlen) == 0;
}

/* h_children without the test framework, for the guard too: -1 on error. */
static int
scan_children(pid_t ppid, const char *title, pid_t *pids, int max)
{
	struct dirent *de;
	struct pstat ps;
	const char *errstr;
	size_t tlen = strlen(title);
	pid_t pid;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (n < max && (de = readdir(d)) != NULL) {
		pid = (pid_t)strtonum(de->d_name, 1, INT_MAX, &errstr);
		if (errstr != NULL)
			continue;
		if (proc_stat(pid, &ps) == -1 || ps.ppid != ppid ||
		    ps.state == 'Z' || ps.state == 'X')
			continue;
		if (title_matches(pid, title, tlen))
			pids[n++] = pid;
	}
	(void)closedir(d);
	return n;
}

int
h_children(pid_t ppid, const char *title, pid_t *pids, int max)
{
	int i, n;

	n = scan_children(ppid, title, pids, max);
	ck_assert_msg(n != -1, "scanning /proc: %s", strerror(errno));
	/* The guard is the harness's own business. */
	for (i = 0; hs.owner == getpid() && i < n; i++) {
		if (pids[i] == hs.guard)
			pids[i--] = pids[--n];
	}
	return n;
}

pid_t
h_child(pid_t ppid, const char *title)
{
	pid_t pids[HI_MAX_CHILDREN], pid = -1;
	char path[64], buf[256];
	int i, n, found = 0;
	ssize_t len;
	int fd;

	n = h_children(ppid, title, pids, HI_MAX_CHILDREN);
	/* h_children matches a prefix: "worker 1" is in "worker 10". */
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pids[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* Exactly the title, or the title and " (generation G)". */
		if (strcmp(buf, title) == 0 ||
		    (strncmp(buf, title, strlen(title)) == 0 &&
		    strncmp(buf + strlen(title), " (", 2) == 0)) {
			pid = pids[i];
			found++;
		}
	}
	return found == 1 ? pid : -1;
}

/*
 * Stops pid so that it forks nothing more, kills its children, then kills
 * it.  Errors are ignored on purpose: any of them may have gone already.
 */
/* NOLINTBEGIN(misc-no-recursion): depth stops at HI_TREE_DEPTH */
static void
kill_tree(pid_t pid, int depth)
{
	pid_t kids[HI_MAX_CHILDREN];
	int i, n;

	if (depth < HI_TREE_DEPTH) {
		(void)kill(pid, SIGSTOP);
		n = scan_children(pid, "", kids, HI_MAX_CHILDREN);
		for (i = 0; i < n; i++)
			kill_tree(kids[i], depth + 1);
	}
	(void)kill(pid, SIGKILL);
}
/* NOLINTEND(misc-no-recursion) */

static void
guard_send(int kind, pid_t pid, unsigned long long start, const char *path)
{
	struct grec r;
	ssize_t n;

	if (hs.guard_fd == -1)
		return;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.pid = pid;
	r.start = start;
	if (path != NULL)
		strlcpy(r.path, path, sizeof(r.path));
	do
		n = write(hs.guard_fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(r))
		fprintf(stderr, "harness: the guard is gone: %s\n",
		    n == -1 ? strerror(errno) : "short write");
}

/* What the guard holds: the processes and dirs of the test it watches. */
struct guard_list {
	struct hproc	 procs[HI_MAX_PROCS];
	int		 nprocs;
	char		 dirs[HI_MAX_DIRS][256];	/* "" once done */
};

static bool
guard_proc_alive(const struct hproc *p)
{
	struct pstat ps;

	return proc_stat(p->pid, &ps) == 0 && ps.start == p->start &&
	    ps.state != 'Z' && ps.state != 'X';
}

static void
guard_add_proc(struct guard_list *g, pid_t pid, unsigned long long start)
{
	int i, n = 0;

	/* When full, forget the processes that are gone already. */
	if (g->nprocs == HI_MAX_PROCS) {
		for (i = 0; i < g->nprocs; i++)
			if (guard_proc_alive(&g->procs[i]))
				g->procs[n++] = g->procs[i];
		g->nprocs = n;
	}
	if (g->nprocs == HI_MAX_PROCS) {
		fprintf(stderr, "harness: guard: more than %d live processes, "
		    "pid %d not watched\n", HI_MAX_PROCS, (int)pid);
		return;
	}
	g->procs[g->nprocs].pid = pid;
	g->procs[g->nprocs++].start = start;
}

static void
guard_set_dir(struct guard_list *g, const char *old, const char *new)
{
	int i;

	for (i = 0; i < HI_MAX_DIRS; i++) {
		if (strcmp(g->dirs[i], old) == 0) {
			strlcpy(g->dirs[i], new, sizeof(g->dirs[i]));
			return;
		}
	}
}

static void
guard_on_eof(struct guard_list *g)
{
	int i;

	for (i = 0; i < g->nprocs; i++)
		if (guard_proc_alive(&g->procs[i]))
			kill_tree(g->procs[i].pid, 0);
	for (i = 0; i < HI_MAX_DIRS; i++)
		if (g->dirs[i][0] != '\0' && access(g->dirs[i], F_OK) == 0)
			fprintf(stderr, "harness: kept %s\n", g->dirs[i]);
}

/* The guard's life: collect records until EOF, then clean up and exit. */
static void __attribute__((noreturn))
guard_run(int fd)
{
	static struct guard_list g;
	struct grec r;
	ssize_t n;

	/* Check kills the test's process group once the test is over. */
	(void)setpgid(0, 0);
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGALRM, SIG_DFL);
	if (fd > 3)
		(void)close_range(3, (unsigned)fd - 1, 0);
	(void)close_range((unsigned)fd + 1, ~0U, 0);
	for (;;) {
		n = read(fd, &r, sizeof(r));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			break;
		if (r.kind == GREC_PID)
			guard_add_proc(&g, r.pid, r.start);
		else if (r.kind == GREC_DIR)
			guard_set_dir(&g, "", r.path);
		else if (r.kind == GREC_DIR_DONE)
			guard_set_dir(&g, r.path, "");
		else if (r.kind == GREC_CLEAR)
			memset(&g, 0, sizeof(g));
	}
	guard_on_eof(&g);
	_exit(0);
}

static void
guard_start(void)
{
	pid_t pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		ck_abort_msg("pipe2: %s", strerror(errno));
	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)close(p[1]);
		guard_run(p[0]);
	}
	if (close(p[0]) == -1)
		ck_abort_msg("close: %s", strerror(errno));
	hs.guard = pid;
	hs.guard_fd = p[1];
}

void
hi_init(void)
{
	if (hs.owner == getpid())
		return;
	/* State inherited from a parent that used the harness is not ours. */
	if (hs.owner != 0 && hs.guard_fd != -1)
		(void)close(hs.guard_fd);
	memset(&hs, 0, sizeof(hs));
	hs.owner = getpid();
	hs.guard_fd = -1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) == -1)
		ck_abort_msg("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	/* A peer that closes first must fail a write, not end the test. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		ck_abort_msg("signal(SIGPIPE): %s", strerror(errno));
	guard_start();
	if (atexit(at_exit) != 0)
		ck_abort_msg("atexit failed");
}

static struct hproc *
proc_find(pid_t pid)
{
	int i;

	for (i = 0; i < hs.nprocs; i++)
		if (hs.procs[i].pid == pid)
			return &hs.procs[i];
	return NULL;
}

static void
proc_add(pid_t pid, bool forked)
{
	struct hproc *p;
	struct pstat ps;
	int i;

	if (proc_find(pid) != NULL)
		return;
	if (hs.nprocs == HI_MAX_PROCS) {
		/* Make room by forgetting the oldest process already reaped. */
		i = 0;
		while (i < hs.nprocs && !hs.procs[i].reaped)
			i++;
		ck_assert_msg(i < hs.nprocs, "more than %d live processes",
		    HI_MAX_PROCS);
		memmove(&hs.procs[i], &hs.procs[i + 1],
		    (size_t)(hs.nprocs - i - 1) * sizeof(hs.procs[0]));
		hs.nprocs--;
	}
	p = &hs.procs[hs.nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->forked = forked;
	if (proc_stat(pid, &ps) == 0)
		p->start = ps.start;
	guard_send(GREC_PID, pid, p->start, NULL);
}

void
h_track(pid_t pid)
{
	hi_init();
	ck_assert_msg(pid > 0, "h_track(%d)", (int)pid);
	proc_add(pid, false);
}

int
hi_reap(pid_t pid, int *status)
{
	struct hproc *p;
	pid_t r;
	int st;

	hi_init();
	p = proc_find(pid);
	if (p != NULL && p->reaped) {
		*status = p->status;
		return 1;
	}
	do
		r = waitpid(pid, &st, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r == -1) {
		ck_assert_msg(errno == ECHILD, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (p != NULL) {
		p->reaped = true;
		p->status = st;
	}
	*status = st;
	return 1;
}

int
h_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

bool
h_pid_alive(pid_t pid)
{
	struct hproc *p;
	struct pstat ps;
	int st;

	hi_init();
	if (pid <= 0)
		return false;
	p = proc_find(pid);
	if (p != NULL && p->reaped)
		return false;
	if (proc_stat(pid, &ps) == -1)
		return false;
	if (p != NULL && p->start != 0 && ps.start != p->start)
		return false;		/* the pid was reused */
	if (ps.state == 'Z' || ps.state == 'X') {
		if (ps.ppid == getpid())
			(void)hi_reap(pid, &st);
		return false;
	}
	return true;
}

int
hi_wait_exit(pid_t pid, int ms, int *status)
{
	long long deadline = hi_now_ms() + ms;
	int r;

	for (;;) {
		if ((r = hi_reap(pid, status)) == 1)
			return 1;
		if (r == -1 && !h_pid_alive(pid))
			return -1;
		if (hi_now_ms() >= deadline)
			return 0;
		hi_tick();
	}
}

void
hi_kill(pid_t pid)
{
	int st;

	if (!h_pid_alive(pid))
		return;
	kill_tree(pid, 0);
	if (hi_wait_exit(pid, HI_KILL_MS, &st) == 0)
		fprintf(stderr, "harness: pid %d survived SIGKILL\n", (int)pid);
}

/* Records the processes that became our children without our forking. */
static void
adopt_strays(void)
{
	pid_t kids[HI_MAX_CHILDREN];
	int i, n;

	n = h_children(getpid(), "", kids, HI_MAX_CHILDREN);
	for (i = 0; i < n; i++)
		if (kids[i] != hs.guard && proc_find(kids[i]) == NULL)
			proc_add(kids[i], false);
}

/* Reaps the zombies among our children, so none is left to pid 1. */
static void
reap_zombies(void)
{
	pid_t pid;
	int st;

	do
		pid = waitpid(-1, &st, WNOHANG);
	while (pid > 0);
}

int
h_strays(pid_t *pids, int max)
{
	int i, n = 0;

	hi_init();
	adopt_strays();
	for (i = 0; i < hs.nprocs && n < max; i++) {
		if (!hs.procs[i].forked && h_pid_alive(hs.procs[i].pid))
			pids[n++] = hs.procs[i].pid;
	}
	return n;
}

void
hi_dir_add(const char *dir)
{
	hi_init();
	ck_assert_msg(hs.ndirs < HI_MAX_DIRS, "more than %d temp dirs",
	    HI_MAX_DIRS);
	strlcpy(hs.dirs[hs.ndirs++], dir, sizeof(hs.dirs[0]));
	guard_send(GREC_DIR, 0, 0, dir);
}

void
hi_dir_done(const char *dir)
{
	int i;

	hi_init();
	for (i = 0; i < hs.ndirs; i++) {
		if (strcmp(hs.dirs[i], dir) == 0) {
			memmove(&hs.dirs[i], &hs.dirs[i + 1],
			    (size_t)(hs.ndirs - i - 1) * sizeof(hs.dirs[0]));
			hs.ndirs--;
			break;
		}
	}
	guard_send(GREC_DIR_DONE, 0, 0, dir);
}

void
h_teardown(void)
{
	int i;

	if (hs.owner != getpid())
		return;
	adopt_strays();
	for (i = 0; i < hs.nprocs; i++)
		hi_kill(hs.procs[i].pid);
	/* Workers of a killed supervisor were handed to us: reap them. */
	reap_zombies();
	for (i = 0; i < hs.ndirs; i++)
		fprintf(stderr, "harness: kept %s\n", hs.dirs[i]);
	hs.nprocs = hs.ndirs = 0;
	guard_send(GREC_CLEAR, 0, 0, NULL);
}

/* A passing test ends with exit(): clean up in order, no guard needed. */
static void
at_exit(void)
{
	h_teardown();
}

/* In a forked child: the descriptors in place, then exec; never returns. */
static void __attribute__((noreturn))
child_exec(const char *const *argv, char *const *envp, int in, int out,
    int err)
{
	sigset_t none;

	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(127);
	/* Exec keeps an ignored SIGPIPE and the mask: give back defaults. */
	(void)signal(SIGPIPE, SIG_DFL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(argv[0], (char *const *)argv, envp != NULL ? envp : environ);
	dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

pid_t
hi_spawn(const char *const *argv, char *const *envp, int out, int err)
{
	pid_t pid;
	int null;

	hi_init();
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		ck_abort_msg("/dev/null: %s", strerror(errno));
	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0)
		child_exec(argv, envp, null, out, err);
	if (close(null) == -1)
		ck_abort_msg("close: %s", strerror(errno));
	proc_add(pid, true);
	return pid;
}

/* Reads what is ready on fd into out (dropping what does not fit). */
static bool
run_read(int fd, char *out, size_t outlen, size_t *len)
{
	char buf[4096];
	size_t room;
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	if (n == -1)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	room = outlen - 1 - *len;
	if ((size_t)n < room)
		room = (size_t)n;
	memcpy(out + *len, buf, room);
	*len += room;
	return true;
}

int
hi_run(const char *const *argv, char *const *envp, char *out, size_t outlen,
    int ms)
{
	long long deadline = hi_now_ms() + ms, left;
	struct pollfd pfd;
	size_t len = 0;
	bool eof = false, exited = false;
	pid_t pid;
	int p[2], r, status = 0;

	ck_assert_msg(outlen > 0, "h_run: no room for output");
	if (pipe2(p, O_CLOEXEC) == -1)
		ck_abort_msg("pipe2: %s", strerror(errno));
	pid = hi_spawn(argv, envp, p[1], p[1]);
	if (close(p[1]) == -1)
		ck_abort_msg("close: %s", strerror(errno));
	pfd.fd = p[0];
	/* Until it exits and its output ends; a daemon may keep the pipe. */
	while (!eof && (left = deadline - hi_now_ms()) > 0) {
		pfd.events = POLLIN;
		r = poll(&pfd, 1, exited ? 0 : (int)(left < HI_TICK_MS ?
		    left : HI_TICK_MS));
		if (r == -1 && errno != EINTR)
			ck_abort_msg("poll: %s", strerror(errno));
		if (r > 0)
			eof = !run_read(p[0], out, outlen, &len);
		else if (r == 0 && exited)
			break;
		if (!exited && hi_reap(pid, &status) == 1)
			exited = true;
	}
	if (close(p[0]) == -1)
		ck_abort_msg("close: %s", strerror(errno));
	out[len] = '\0';
	left = deadline - hi_now_ms();
	if (!exited && hi_wait_exit(pid, left > 0 ? (int)left : 0,
	    &status) != 1) {
		fprintf(stderr, "harness: %s still running after %d ms, "
		    "killed\n", argv[0], ms);
		hi_kill(pid);
		return -1;
	}
	adopt_strays();
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
h_run(const char *const *argv, char *out, size_t outlen, int ms)
{
	return hi_run(argv, NULL, out, outlen, ms);
}
