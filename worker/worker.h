/*
 * A worker process: one epoll loop that accepts on its slot's inherited
 * listening sockets and proxies HTTP/1.1 to the pools' servers.
 */
#ifndef FORKLIFT_WORKER_H
#define FORKLIFT_WORKER_H

#include <sys/types.h>

#include <stdint.h>

#include "common/config.h"
#include "common/shm.h"

struct worker_args {
	const struct conf *conf;
	struct shm	*shm;
	uint64_t	 generation;
	unsigned	 slot;
	pid_t		 supervisor;
	/* This slot's listening sockets, [conf->nlisteners], in the order
	   of conf->listeners; the worker owns them. */
	const int	*listen_fds;
	int		 admin_fd;	/* -1 without [admin] */
};

/*
 * Runs the worker until it has drained (SIGQUIT), been told to stop
 * (SIGTERM) or lost its supervisor; then exits the process.
 */
void	worker_main(const struct worker_args *) __attribute__((noreturn));

#endif
