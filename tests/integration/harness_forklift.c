/*
 * The integration test harness, forklift's side: the one-pool forklift.ini
 * most tests run, a temp dir per instance holding its forklift.ini and
 * logs, starting the binary in the foreground or for one command, stopping
 * it, judging its logs, and finding (or killing) its children by title.
 * As in nginx's test suite, an [alert] or a sanitizer report in a log
 * fails the test even when every request got the right answer: a hidden
 * crash is a failure.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

/* Longest forklift.ini once the placeholders are replaced. */
#define INI_MAX		(64 * 1024)
/* Longest wait for a started forklift to accept, and for it to stop. */
#define START_MS	10000
#define STOP_MS		10000
/* Longest wait for a supervisor's children to go once it has gone. */
#define ORPHAN_MS	5000
/* Children of a supervisor watched while it stops. */
#define MAX_KIDS	128
/* Arguments of h_forklift_run. */
#define RUN_MAX_ARGS	16
/* Bytes of a log quoted in a failure message. */
#define TAIL_MAX	1500
/* Tries to draw an admin port that differs from the listener's. */
#define PORT_TRIES	16
/* Open descriptors nftw may use while removing a temp dir. */
#define RM_FDS		8

/* Reports that mean a sanitizer caught something. */
static const char *const sanitizer_marks[] = {
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"runtime error:",
};

/* The environment of a forklift process: sanitizer reports into DIR. */
struct fenv {
	char	*vars[2];
	char	**envp;
};

const char *
h_forklift_bin(void)
{
	const char *s = getenv("FORKLIFT_BIN");

	return s != NULL && *s != '\0' ? s : "./build/forklift";
}

static void
env_make(const struct hforklift *hf, struct fenv *fe)
{
	static const char *const names[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };
	const char *old;
	size_t i, j, n, k = 0, nlen;
	bool ours;

	n = 0;
	while (environ[n] != NULL)
		n++;
	if ((fe->envp = calloc(n + 3, sizeof(*fe->envp))) == NULL)
		ck_abort_msg("calloc: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		old = getenv(names[i]);
		if (asprintf(&fe->vars[i], "%s=%s%slog_path=%s/sanitizer",
		    names[i], old != NULL ? old : "",
		    old != NULL && *old != '\0' ? ":" : "", hf->dir) == -1)
			ck_abort_msg("asprintf: %s", strerror(errno));
	}
	for (i = 0; i < n; i++) {
		ours = false;
		for (j = 0; j < 2; j++) {
			nlen = strlen(names[j]);
			if (strncmp(environ[i], names[j], nlen) == 0 &&
			    environ[i][nlen] == '=')
				ours = true;
		}
		if (!ours)
			fe->envp[k++] = environ[i];
	}
	fe->envp[k++] = fe->vars[0];
	fe->envp[k++] = fe->vars[1];
	fe->envp[k] = NULL;
}

static void
env_free(struct fenv *fe)
{
	free(fe->vars[0]);
	free(fe->vars[1]);
	free(fe->envp);
}

/* The ini text with @PORT@, @ADMIN@ and @DIR@ replaced; caller frees. */
static char *
ini_expand(const struct hforklift *hf, const char *ini)
{
	char num[16], *out;
	const char *p, *rep;
	size_t len = 0, rlen, skip;

	if ((out = malloc(INI_MAX)) == NULL)
		ck_abort_msg("malloc: %s", strerror(errno));
	for (p = ini; *p != '\0'; p += skip) {
		rep = NULL;
		skip = 1;
		if (strncmp(p, "@PORT@", 6) == 0) {
			snprintf(num, sizeof(num), "%d", hf->port);
			rep = num;
			skip = 6;
		} else if (strncmp(p, "@ADMIN@", 7) == 0) {
			snprintf(num, sizeof(num), "%d", hf->admin_port);
			rep = num;
			skip = 7;
		} else if (strncmp(p, "@DIR@", 5) == 0) {
			rep = hf->dir;
			skip = 5;
		}
		rlen = rep != NULL ? strlen(rep) : 1;
		if (len + rlen >= INI_MAX) {
			free(out);
			ck_abort_msg("forklift.ini longer than %d bytes",
			    INI_MAX);
		}
		memcpy(out + len, rep != NULL ? rep : p, rlen);
		len += rlen;
	}
	out[len] = '\0';
	return out;
}

/* Fails the test with `what` and the end of `log` (error.log if NULL). */
static void __attribute__((noreturn))
fail_with_log(const struct hforklift *hf, const char *what, const char *log)
{
	const char *path = log != NULL ? log : hf->log, *tail;
	size_t len;
	char *text;

	text = hi_read_file(path, &len);
	/* A sanitizer report says what went wrong at its top. */
	if (text != NULL && strstr(path, "/sanitizer.") != NULL &&
	    len > TAIL_MAX)
		text[len = TAIL_MAX] = '\0';
	tail = text == NULL ? "(none)" :
	    len > TAIL_MAX ? text + len - TAIL_MAX : text;
	ck_abort_msg("%s (kept %s); %s:\n%s", what, hf->dir, path, tail);
}

void
h_pool_ini(char *ini, size_t len, const char *global, const char *listen,
    const char *pool, const struct hbackend *servers, int nservers)
{
	size_t n;
	int i;

	n = (size_t)snprintf(ini, len,
	    "[global]\nworkers = 1\ndaemon = no\n"
	    "pidfile = @DIR@/forklift.pid\nerror_log = stderr\n%s"
	    "[listen]\nbind = 127.0.0.1:@PORT@\npool = web\n%s"
	    "[pool web]\nhealth_check = off\n%s", global, listen, pool);
	for (i = 0; i < nservers && n < len; i++)
		n += (size_t)snprintf(ini + n, len - n,
		    "server = %s 127.0.0.1:%d\n", servers[i].name,
		    servers[i].port);
	ck_assert_msg(n < len, "h_pool_ini: more than %zu bytes", len);
}

void
h_forklift_prepare(struct hforklift *hf, const char *ini)
{
	char *text;
	int tries = 0;

	hi_init();
	memset(hf, 0, sizeof(*hf));
	strlcpy(hf->dir, "/tmp/forklift-XXXXXX", sizeof(hf->dir));
	ck_assert_msg(mkdtemp(hf->dir) != NULL, "mkdtemp: %s",
	    strerror(errno));
	hi_dir_add(hf->dir);
	snprintf(hf->conf, sizeof(hf->conf), "%s/forklift.ini", hf->dir);
	snprintf(hf->log, sizeof(hf->log), "%s/error.log", hf->dir);
	snprintf(hf->pidfile, sizeof(hf->pidfile), "%s/forklift.pid", hf->dir);
	if (strstr(ini, "@PORT@") != NULL)
		hf->port = h_free_port();
	if (strstr(ini, "@ADMIN@") != NULL) {
		do
			hf->admin_port = h_free_port();
		while (hf->admin_port == hf->port && ++tries < PORT_TRIES);
		ck_assert_msg(hf->admin_port != hf->port, "no second port");
	}
	text = ini_expand(hf, ini);
	h_file_write(hf->conf, text);
	free(text);
}

void
h_forklift_rewrite(struct hforklift *hf, const char *ini)
{
	char *text;

	text = ini_expand(hf, ini);
	h_file_write(hf->conf, text);
	free(text);
}

/* Waits until the ports accept; fails the test if forklift exits first. */
static void
forklift_wait_up(struct hforklift *hf)
{
	long long deadline = hi_now_ms() + START_MS;
	char what[128];
	int st;

	for (;;) {
		if (hi_reap(hf->pid, &st) == 1) {
			snprintf(what, sizeof(what), "forklift exited (status "
			    "0x%x) before accepting on port %d", st, hf->port);
			fail_with_log(hf, what, NULL);
		}
		if ((hf->port == 0 || h_port_open(hf->port)) &&
		    (hf->admin_port == 0 || h_port_open(hf->admin_port)))
			return;
		if (hi_now_ms() >= deadline)
			break;
		hi_tick();
	}
	hi_kill(hf->pid);
	snprintf(what, sizeof(what), "forklift not accepting on port %d "
	    "(admin %d) after %d ms", hf->port, hf->admin_port, START_MS);
	fail_with_log(hf, what, NULL);
}

void
h_forklift_start(struct hforklift *hf, const char *ini)
{
	const char *argv[] = { h_forklift_bin(), "-f", "-c", NULL, NULL };
	struct fenv fe;
	int fd;

	h_forklift_prepare(hf, ini);
	argv[3] = hf->conf;
	fd = open(hf->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(fd != -1, "%s: %s", hf->log, strerror(errno));
	env_make(hf, &fe);
	hf->pid = hi_spawn(argv, fe.envp, fd, fd);
	env_free(&fe);
	ck_assert_msg(close(fd) == 0, "close: %s", strerror(errno));
	forklift_wait_up(hf);
}

int
h_forklift_run(struct hforklift *hf, const char *const *args, char *out,
    size_t outlen, int ms)
{
	const char *argv[RUN_MAX_ARGS + 2];
	struct fenv fe;
	int i, r;

	argv[0] = h_forklift_bin();
	for (i = 0; args[i] != NULL; i++) {
		ck_assert_msg(i < RUN_MAX_ARGS, "too many forklift args");
		argv[i + 1] = args[i];
	}
	argv[i + 1] = NULL;
	env_make(hf, &fe);
	r = hi_run(argv, fe.envp, out, outlen, ms);
	env_free(&fe);
	return r;
}

void
h_forklift_signal(struct hforklift *hf, int sig)
{
	ck_assert_msg(hf->pid > 0 && kill(hf->pid, sig) == 0,
	    "kill(%d, %d): %s", (int)hf->pid, sig, strerror(errno));
}

int
h_forklift_wait(struct hforklift *hf, int ms)
{
	int st;

	if (hf->pid <= 0)
		return -1;
	return hi_wait_exit(hf->pid, ms, &st) == 1 ? st : -1;
}

struct kids {
	pid_t	pids[MAX_KIDS];
	int	n;
};

static bool
kids_gone(void *arg)
{
	struct kids *k = arg;
	int i;

	for (i = 0; i < k->n; i++)
		if (h_pid_alive(k->pids[i]))
			return false;
	return true;
}

/* SIGTERM, then the exit status and the children's exit. */
static void
forklift_terminate(struct hforklift *hf)
{
	struct kids k;
	char what[160];
	int i, st;

	if (hi_reap(hf->pid, &st) == 1)
		return;			/* the test has seen to it */
	k.n = h_children(hf->pid, "", k.pids, MAX_KIDS);
	h_forklift_signal(hf, SIGTERM);
	if (hi_wait_exit(hf->pid, STOP_MS, &st) == 0) {
		hi_kill(hf->pid);
		snprintf(what, sizeof(what), "forklift (pid %d) still running "
		    "%d ms after SIGTERM", (int)hf->pid, STOP_MS);
		fail_with_log(hf, what, NULL);
	}
	if (!h_wait_until(kids_gone, &k, ORPHAN_MS)) {
		snprintf(what, sizeof(what), "children of forklift outlived "
		    "it by %d ms", ORPHAN_MS);
		for (i = 0; i < k.n; i++)
			if (h_pid_alive(k.pids[i])) {
				snprintf(what, sizeof(what), "child %d of "
				    "forklift outlived it by %d ms",
				    (int)k.pids[i], ORPHAN_MS);
				hi_kill(k.pids[i]);
			}
		fail_with_log(hf, what, NULL);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(what, sizeof(what), "forklift ended with wait status "
		    "0x%x after SIGTERM, not exit 0", st);
		fail_with_log(hf, what, NULL);
	}
}

/* What is wrong with one log's text, in why; false if nothing is. */
static bool
log_problem(const struct hforklift *hf, const char *text, bool sanitizer,
    char *why, size_t whylen)
{
	const char *line, *end;
	size_t i;

	if (sanitizer && *text != '\0') {
		strlcpy(why, "a sanitizer report", whylen);
		return true;
	}
	for (i = 0; i < sizeof(sanitizer_marks) / sizeof(*sanitizer_marks);
	    i++) {
		if (strstr(text, sanitizer_marks[i]) != NULL) {
			snprintf(why, whylen, "a sanitizer report (\"%s\")",
			    sanitizer_marks[i]);
			return true;
		}
	}
	for (line = text; (line = strstr(line, "[alert]")) != NULL;
	    line = end) {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		if (hf->alert_ok != NULL && memmem(line, (size_t)(end - line),
		    hf->alert_ok, strlen(hf->alert_ok)) != NULL)
			continue;
		while (line > text && line[-1] != '\n')
			line--;
		snprintf(why, whylen, "an unexpected line: %.*s",
		    (int)(end - line), line);
		return true;
	}
	return false;
}

/* Fails the test if a log in the dir holds an [alert] or a report. */
static void
forklift_judge_logs(const struct hforklift *hf)
{
	char path[PATH_MAX], why[512], what[PATH_MAX + 600];
	struct dirent *de;
	bool sanitizer, bad = false;
	char *text;
	DIR *d;

	ck_assert_msg((d = opendir(hf->dir)) != NULL, "%s: %s", hf->dir,
	    strerror(errno));
	while (!bad && (de = readdir(d)) != NULL) {
		sanitizer = strncmp(de->d_name, "sanitizer.", 10) == 0;
		if (!sanitizer && strstr(de->d_name, ".log") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", hf->dir, de->d_name);
		if ((text = hi_read_file(path, NULL)) == NULL)
			continue;
		bad = log_problem(hf, text, sanitizer, why, sizeof(why));
		free(text);
	}
	(void)closedir(d);
	if (bad) {
		snprintf(what, sizeof(what), "%s holds %s", path, why);
		fail_with_log(hf, what, path);
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
h_forklift_stop(struct hforklift *hf)
{
	if (hf->pid > 0)
		forklift_terminate(hf);
	forklift_judge_logs(hf);
	ck_assert_msg(nftw(hf->dir, rm_entry, RM_FDS, FTW_DEPTH | FTW_PHYS) ==
	    0, "removing %s: %s", hf->dir, strerror(errno));
	hi_dir_done(hf->dir);
}

bool
h_family(struct hfamily *fam, pid_t sup, int nworkers)
{
	pid_t extra[H_MAX_WORKERS + 1];
	char title[64];
	int i;

	ck_assert_msg(nworkers <= H_MAX_WORKERS, "more than %d workers",
	    H_MAX_WORKERS);
	memset(fam, 0, sizeof(*fam));
	fam->sup = sup;
	fam->nworkers = nworkers;
	fam->checker = h_child(sup, "forklift: health checker");
	for (i = 0; i < nworkers; i++) {
		snprintf(title, sizeof(title), "forklift: worker %d", i);
		fam->workers[i] = h_child(sup, title);
	}
	for (i = 0; i < nworkers; i++)
		if (fam->workers[i] == -1)
			return false;
	return fam->checker != -1 && h_children(sup, "forklift: worker",
	    extra, H_MAX_WORKERS + 1) == nworkers;
}

struct family_want {
	struct hfamily	*fam;
	pid_t		 sup;
	int		 nworkers;
};

static bool
family_complete(void *arg)
{
	struct family_want *w = arg;

	return h_family(w->fam, w->sup, w->nworkers);
}

void
h_family_wait(struct hfamily *fam, pid_t sup, int nworkers, int ms)
{
	struct family_want w;

	memset(fam, 0, sizeof(*fam));
	w.fam = fam;
	w.sup = sup;
	w.nworkers = nworkers;
	ck_assert_msg(h_wait_until(family_complete, &w, ms), "supervisor %d: "
	    "not %d workers and a health checker after %d ms", (int)sup,
	    nworkers, ms);
}

bool
h_family_gone(const struct hfamily *fam)
{
	int i;

	for (i = 0; i < fam->nworkers; i++)
		if (h_pid_alive(fam->workers[i]))
			return false;
	return !h_pid_alive(fam->checker);
}

struct replace_want {
	pid_t		 sup;
	const char	*title;
	pid_t		 old;
};

static bool
child_replaced(void *arg)
{
	const struct replace_want *w = arg;
	pid_t now = h_child(w->sup, w->title);

	return now != -1 && now != w->old;
}

pid_t
h_kill_and_replace(pid_t sup, const char *title, int ms)
{
	struct replace_want w = { .sup = sup, .title = title };

	w.old = h_child(sup, title);
	ck_assert_msg(w.old > 0, "no \"%s\" under %d", title, (int)sup);
	ck_assert_msg(kill(w.old, SIGKILL) == 0, "kill %d: %s", (int)w.old,
	    strerror(errno));
	ck_assert_msg(h_wait_until(child_replaced, &w, ms),
	    "no new \"%s\" under %d within %d ms of SIGKILL to %d", title,
	    (int)sup, ms, (int)w.old);
	return w.old;
}
