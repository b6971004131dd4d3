/*
 * The command line: parse the options, then check the configuration (-t),
 * signal a running supervisor (-s), or become the supervisor.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/unistd.h>

#include "common/config.h"
#include "supervisor/supervisor.h"

#ifndef FORKLIFT_VERSION
#define FORKLIFT_VERSION	"0.1.0"
#endif

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: forklift [-c FILE] [-f] [-t] [-s reload|stop|quit|reopen] "
	    "[-V] [-h]\n"
	    "  -c FILE   configuration file (default: %s)\n"
	    "  -f        stay in the foreground, log to stderr\n"
	    "  -t        check the configuration and exit\n"
	    "  -s SIG    signal the running supervisor: reload, stop, quit, "
	    "reopen\n"
	    "  -V        print the version\n", CONF_DEFAULT_PATH);
	exit(status);
}

static int
signal_named(const char *name)
{
	if (strcmp(name, "reload") == 0)
		return SIGHUP;
	if (strcmp(name, "stop") == 0)
		return SIGTERM;
	if (strcmp(name, "quit") == 0)
		return SIGQUIT;
	if (strcmp(name, "reopen") == 0)
		return SIGUSR1;
	return 0;
}

/*
 * The pid of the supervisor holding `path`, or 0 (said on stderr) when no
 * process holds the pidfile's lock: a stale file names a pid that may now
 * be anybody's, and must not be signalled.
 */
static pid_t
running_supervisor(const char *path)
{
	struct pidfh *pfh;
	pid_t pid = 0;

	if ((pfh = pidfile_open(path, 0644, &pid)) != NULL) {
		pidfile_remove(pfh);
		fprintf(stderr, "forklift: not running (no process holds %s)\n",
		    path);
		return 0;
	}
	if (errno != EEXIST) {
		fprintf(stderr, "forklift: %s: %s\n", path, strerror(errno));
		return 0;
	}
	if (pid <= 0)
		fprintf(stderr, "forklift: %s: no pid in it\n", path);
	return pid > 0 ? pid : 0;
}

static int
send_signal(const struct conf *conf, const char *name)
{
	pid_t pid;
	int sig;

	if ((sig = signal_named(name)) == 0) {
		fprintf(stderr, "forklift: unknown signal %s "
		    "(reload, stop, quit, reopen)\n", name);
		return 1;
	}
	if ((pid = running_supervisor(conf->pidfile)) == 0)
		return 1;
	if (kill(pid, sig) == -1) {
		fprintf(stderr, "forklift: signal %s to pid %ld: %s\n", name,
		    (long)pid, strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *path = CONF_DEFAULT_PATH, *sig = NULL;
	char err[1024];
	bool foreground = false, test = false;
	struct conf *conf;
	int ch;

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "c:fts:Vh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			test = true;
			break;
		case 's':
			sig = optarg;
			break;
		case 'V':
			printf("forklift %s\n", FORKLIFT_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);

	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (test) {
		printf("%s: ok\n", path);
		conf_free(conf);
		return 0;
	}
	if (sig != NULL) {
		ch = send_signal(conf, sig);
		conf_free(conf);
		return ch;
	}
	return supervisor_main(conf, foreground);
}
