/*
 * The health checker: one process that checks every server of every pool
 * and publishes the results in the generation's health table.
 */
#ifndef FORKLIFT_HEALTH_H
#define FORKLIFT_HEALTH_H

#include <sys/types.h>

#include <stdint.h>

#include "common/config.h"
#include "common/shm.h"

struct health_args {
	const struct conf *conf;
	struct shm	*shm;
	uint64_t	 generation;
	pid_t		 supervisor;
};

/* Runs the checker until SIGQUIT/SIGTERM or the supervisor is gone. */
void	health_main(const struct health_args *) __attribute__((noreturn));

#endif
