/*
 * The integration test harness: starts the real forklift binary and real
 * backends on 127.0.0.1 with ports chosen at run time, talks to them with
 * libcurl and raw sockets, and stops only the processes it started.
 *
 * FORKLIFT_BIN and BACKEND_BIN (set by the Makefile) name the binaries;
 * unset, they are ./build/forklift and ./build/backend.
 * Every wait is a poll with a deadline; nothing sleeps to synchronise.
 *
 * State is per process, so each test Check forks has its own.  Every
 * process the harness starts is recorded; when the test process exits, by
 * any path (a failed assertion _exits, a Check timeout SIGKILLs), the ones
 * still alive are killed by pid, with their children, and the temp dirs of
 * forklifts never stopped are kept and named on stderr.  The test process
 * is made a child subreaper, so a daemon that outlives its launcher, or a
 * child that outlives its supervisor, becomes its child: h_strays() sees
 * them.  With CK_FORK=no, register h_teardown as a checked fixture.
 */
#ifndef FORKLIFT_HARNESS_H
#define FORKLIFT_HARNESS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/* A backend process (tests/backend). */
struct hbackend {
	pid_t	 pid;
	int	 port;
	char	 name[32];
};

/* A forklift process started by the harness. */
struct hforklift {
	pid_t	 pid;		/* the supervisor h_forklift_start started;
				   0 after h_forklift_prepare.  A test may
				   set a daemon's pid (from its pidfile)
				   for h_forklift_wait and _stop. */
	int	 port;		/* the first listener */
	int	 admin_port;	/* 0 without [admin] */
	char	 dir[256];	/* temp dir: forklift.ini, error.log, pid */
	char	 conf[300];
	char	 log[300];
	char	 pidfile[300];
	/*
	 * NULL: any [alert] line in the logs fails h_forklift_stop.  Else an
	 * [alert] line containing this text is expected (e.g. "giving up");
	 * other [alert] lines still fail.  Set it after h_forklift_start or
	 * h_forklift_prepare, which zero the struct.
	 */
	const char *alert_ok;
};

/* A free TCP port on 127.0.0.1 (bound, read, closed). */
int	h_free_port(void);

/*
 * Starts a backend named `name` on 127.0.0.1 (ephemeral port) with extra
 * arguments `extra` (NULL-terminated, may be NULL) after `-n NAME -p 0 -q`;
 * waits for its "listening on" line.  Fails the test if it does not come
 * up in 5 s.  Its stderr is the test's.
 */
void	h_backend_start(struct hbackend *, const char *name,
	    const char *const *extra);
/* SIGTERM, reap; fails the test unless it exits 0 within 5 s. */
void	h_backend_stop(struct hbackend *);
void	h_backend_kill(struct hbackend *);	/* SIGKILL, reap */

/*
 * Writes into ini (len bytes) the whole forklift.ini most proxy tests run:
 * one worker in the foreground, its pidfile in @DIR@ and its log on
 * stderr, a listener on @PORT@ for pool "web", health checks off, and a
 * server line per entry of `servers` (its name and port; nothing need run
 * there).  `global`, `listen` and `pool` are lines added to those sections
 * ("" for none); `listen` may end with a section of its own, such as
 * [admin].  Fails the test if it does not fit.
 */
void	h_pool_ini(char *ini, size_t len, const char *global,
	    const char *listen, const char *pool,
	    const struct hbackend *servers, int nservers);

/*
 * Makes a temp dir, writes `ini` into forklift.ini there, and starts
 * `forklift -f -c FILE` with its stdout and stderr appended to error.log.
 * In `ini`, the placeholders @PORT@, @ADMIN@, @DIR@ are replaced by a free
 * port, a free admin port and the temp dir.  Waits until the listener
 * accepts (and the admin one, if any): fails the test after 10 s.
 *
 * The harness adds nothing to `ini`: a test writes the whole file, with
 * `pidfile = @DIR@/forklift.pid` (the path in hf->pidfile) and
 * `error_log = stderr` (or a file under @DIR@), so nothing lands outside
 * the temp dir.  Sanitizer reports of every forklift process go to
 * DIR/sanitizer.PID (ASAN_OPTIONS/UBSAN_OPTIONS log_path).
 */
void	h_forklift_start(struct hforklift *, const char *ini);
/* The first half of h_forklift_start: temp dir, ports, forklift.ini; starts
   nothing (hf->pid is 0).  For -t, daemon starts and other h_forklift_run. */
void	h_forklift_prepare(struct hforklift *, const char *ini);
/*
 * Runs FORKLIFT_BIN with `args` (argv[1] on, NULL-terminated) the way
 * h_run does, with the sanitizer logs of h_forklift_start; `hf` comes from
 * h_forklift_prepare or h_forklift_start.  A daemon it leaves behind is
 * recorded like any process the harness started.
 */
int	h_forklift_run(struct hforklift *, const char *const *args, char *out,
	    size_t outlen, int ms);
/* Writes forklift.ini again (same placeholders, same ports). */
void	h_forklift_rewrite(struct hforklift *, const char *ini);
/* Sends `sig` to the supervisor; h_forklift_wait reaps it. */
void	h_forklift_signal(struct hforklift *, int sig);
/* Waits up to ms for it to exit; returns its wait status, -1 if alive. */
int	h_forklift_wait(struct hforklift *, int ms);
/*
 * SIGTERM, waits 10 s for exit status 0 (else SIGKILL and fail), waits 5 s
 * for the children it had to go (else kill them and fail); skipped when the
 * supervisor was already reaped or never started.  Then fails the test if
 * a log in the dir (error.log, *.log*, sanitizer.*) holds an [alert] (see
 * alert_ok) or a sanitizer report, keeping the dir; else removes it.
 */
void	h_forklift_stop(struct hforklift *);

/* Runs the binary with args (NULL-terminated); captures stdout+stderr
   into out; returns the exit status (or -1). */
int	h_run(const char *const *argv, char *out, size_t outlen, int ms);

const char *h_forklift_bin(void);	/* FORKLIFT_BIN or ./build/forklift */
const char *h_backend_bin(void);	/* BACKEND_BIN or ./build/backend */

/* Records a process the test did not start through the harness (a daemon
   read from its pidfile), so that it is killed if the test ends early. */
void	h_track(pid_t);
/* Kills what the test left running (see the top), forgets it, names the
   dirs it keeps.  Runs at exit; call it yourself only with CK_FORK=no. */
void	h_teardown(void);
/*
 * Live processes that became children of the test process without being
 * started by it: daemons whose launcher exited, children that outlived
 * their supervisor.  Returns how many (at most max stored in pids).
 */
int	h_strays(pid_t *pids, int max);
/* The pid in a pidfile, -1 if it is missing or holds no pid. */
pid_t	h_pidfile_pid(const char *path);

/* Pids of the live (not zombie) processes whose parent is `ppid` and whose
   cmdline (title) starts with `title` ("forklift: worker", "" for any);
   returns how many, at most max. */
int	h_children(pid_t ppid, const char *title, pid_t *pids, int max);
bool	h_pid_alive(pid_t);		/* a zombie is not alive */
/* Descriptors pid holds now (from /proc), -1 if it cannot be read. */
int	h_fd_count(pid_t);
/* The one live child of ppid whose title is exactly `title`; -1 if there
   is none or more than one. */
pid_t	h_child(pid_t ppid, const char *title);

/* A supervisor's children by role, as ps shows them. */
#define H_MAX_WORKERS	16
struct hfamily {
	pid_t	 sup;
	int	 nworkers;
	pid_t	 workers[H_MAX_WORKERS];	/* by slot */
	pid_t	 checker;
};
/*
 * Fills fam with sup's children: true if there is exactly one
 * "forklift: worker N" for each slot N < nworkers, no other worker, and
 * one "forklift: health checker".  h_family_wait polls it and fails the
 * test after ms.
 */
bool	h_family(struct hfamily *, pid_t sup, int nworkers);
void	h_family_wait(struct hfamily *, pid_t sup, int nworkers, int ms);
/* True when no process of fam is alive. */
bool	h_family_gone(const struct hfamily *);
/*
 * SIGKILLs the one child of sup titled `title` (see h_child) and fails the
 * test unless another child with that title comes within ms.  Returns the
 * pid killed.
 */
pid_t	h_kill_and_replace(pid_t sup, const char *title, int ms);

/* Polls `cond(arg)` every 10 ms until true or `ms` passed. */
bool	h_wait_until(bool (*cond)(void *), void *arg, int ms);

/* True if the file contains the string. */
bool	h_file_contains(const char *path, const char *needle);
/* How many times the file contains the string (0 if it is missing). */
int	h_file_count(const char *path, const char *needle);
/* Polls until the file exists and holds `needle` ("" for existing only),
   or ms passed. */
bool	h_wait_file(const char *path, const char *needle, int ms);
/* Writes `text` to `path` whole (temporary file, then rename). */
void	h_file_write(const char *path, const char *text);

/* One connect to 127.0.0.1:port within 1 s: true if it was accepted. */
bool	h_port_open(int port);
/* Polls h_port_open until true or ms passed. */
bool	h_wait_port(int port, int ms);
/* A plain listening socket on 127.0.0.1 (no SO_REUSEPORT) and its port:
   a port taken, a peer that never answers, or a server the test plays.
   The caller closes it. */
int	h_hold_port(int *port);

/* An HTTP response as libcurl saw it. */
struct hresponse {
	long	 status;		/* 0 on transport error */
	char	*body;			/* NUL-terminated, malloc'd */
	size_t	 len;
	char	*headers;		/* raw response head(s) */
	int	 curl_error;		/* CURLcode */
};

/* GET http://127.0.0.1:port/path; `headers` NULL-terminated or NULL. */
void	h_get(int port, const char *path, const char *const *headers,
	    struct hresponse *);
void	h_post(int port, const char *path, const void *body, size_t len,
	    struct hresponse *);
void	h_response_free(struct hresponse *);

/* A blocking TCP connection to 127.0.0.1:port (fails the test if none). */
int	h_connect(int port);
/* Sends all of s, or fails the test. */
void	h_send(int fd, const char *s, size_t len);
/*
 * Reads from fd into buf, after the `have` bytes it holds, until buf holds
 * `until` (NULL: until the peer closes), the peer closes or resets, buf is
 * full (cap - 1 bytes) or ms pass.  Returns the bytes held, NUL-terminated;
 * *eof says whether the peer closed (or reset) the connection.
 */
size_t	h_recv(int fd, char *buf, size_t cap, size_t have, const char *until,
	    int ms, bool *eof);

/* Raw socket: connect to 127.0.0.1:port, send `req`, read until the peer
   closes or ms pass; returns bytes read into out (NUL-terminated). */
size_t	h_raw(int port, const char *req, size_t reqlen, char *out,
	    size_t outlen, int ms);

#endif
