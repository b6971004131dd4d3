/*
 * The shared tables of one configuration generation: one anonymous shared
 * mapping made by the supervisor before it forks that generation's children.
 *
 * Who writes what (there is never a lock a dying process could hold):
 *  - the header's supervisor fields, the slot rows' pid/restarts and the
 *    managed-server rows: the supervisor only;
 *  - the health rows: the health checker only, under a per-row seqlock;
 *  - everything else in a slot's rows: the worker of that slot only, with
 *    relaxed atomics; readers sum over the slots.
 *  - the pool cursors: every worker, with atomic fetch-and-add.
 * When a worker dies the supervisor calls shm_slot_clear_active() before the
 * replacement starts, so a crash never leaks "active" counts.
 */
#ifndef FORKLIFT_SHM_H
#define FORKLIFT_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SHM_ERROR_MAX		64	/* bytes of a health row's last error */
#define SHM_STATUS_CLASSES	5	/* 1xx .. 5xx */
/* Request duration histogram upper bounds, in microseconds; +Inf last. */
#define SHM_DURATION_BUCKETS	12
extern const uint64_t shm_duration_bounds_us[SHM_DURATION_BUCKETS - 1];

enum shm_server_state {
	SERVER_DOWN = 0,
	SERVER_UP = 1,
};

/*
 * A server's health, as last published by the health checker.  Workers
 * read `state` alone with one relaxed load on every choice; readers that
 * need the whole row take a snapshot with shm_health_read().
 */
struct health_row {
	_Atomic uint32_t seq;		/* odd while being written */
	_Atomic uint32_t state;		/* enum shm_server_state */
	uint32_t	 passes;	/* consecutive, since last change */
	uint32_t	 fails;
	uint32_t	 latency_us;	/* of the last check */
	uint32_t	 last_status;	/* HTTP status of the last check */
	int64_t		 changed_ms;	/* wall clock of the last change */
	int64_t		 checked_ms;	/* wall clock of the last check */
	uint64_t	 checks;
	uint64_t	 passive_seen;	/* failures already counted */
	char		 last_error[SHM_ERROR_MAX];
} __attribute__((aligned(64)));

/* A plain copy of a health row, taken consistently. */
struct health_snapshot {
	uint32_t	 state;
	uint32_t	 passes;
	uint32_t	 fails;
	uint32_t	 latency_us;
	uint32_t	 last_status;
	int64_t		 changed_ms;
	int64_t		 checked_ms;
	uint64_t	 checks;
	uint64_t	 passive_seen;
	char		 last_error[SHM_ERROR_MAX];
};

/* One worker's counters for one server. */
struct server_counters {
	_Atomic uint64_t active;	/* requests in flight to it now */
	_Atomic uint64_t requests;
	_Atomic uint64_t failures;	/* connect errors, resets, timeouts */
	_Atomic uint64_t bytes_in;	/* from the server */
	_Atomic uint64_t bytes_out;	/* to the server */
	_Atomic uint64_t responses[SHM_STATUS_CLASSES];
} __attribute__((aligned(64)));

/* One worker's counters for one pool. */
struct pool_counters {
	_Atomic uint64_t requests;
	_Atomic uint64_t responses[SHM_STATUS_CLASSES];
	_Atomic uint64_t duration_buckets[SHM_DURATION_BUCKETS];
	_Atomic uint64_t duration_sum_us;
} __attribute__((aligned(64)));

/* One worker slot: its process and its totals. */
struct slot_row {
	_Atomic int32_t	 pid;		/* supervisor writes; 0 = none */
	_Atomic uint32_t restarts;	/* supervisor writes */
	_Atomic uint64_t active_connections;	/* client connections */
	_Atomic uint64_t requests;
	_Atomic uint64_t accepted;
	_Atomic uint64_t rejected;	/* refused at max_connections */
} __attribute__((aligned(64)));

/* Balancing state a pool shares across workers. */
struct pool_state {
	_Atomic uint64_t cursor;	/* round robin, smooth wrr index */
} __attribute__((aligned(64)));

/* A managed server's process, written by the supervisor. */
struct managed_row {
	_Atomic int32_t	 pid;		/* 0 while not running */
	_Atomic uint32_t restarts;
	_Atomic int32_t	 last_status;	/* wait status of the last exit,
					   -1 if it never exited */
	_Atomic uint32_t given_up;	/* past its restart intensity */
};

/* The header at the start of the mapping. */
struct shm_header {
	uint64_t	 generation;
	uint32_t	 nslots;
	uint32_t	 nservers;
	uint32_t	 npools;
	_Atomic int32_t	 supervisor_pid;
	_Atomic uint64_t restarts;	/* children restarted, all time */
	_Atomic int64_t	 started_ms;	/* wall clock the supervisor began */
	_Atomic int32_t	 health_pid;
};

/*
 * A process's view of one generation's mapping: the pointers are computed
 * once by shm_create() and stay valid in every child after fork().
 */
struct shm {
	struct shm_header	*hdr;
	struct health_row	*health;	/* [nservers] */
	struct managed_row	*managed;	/* [nservers] */
	struct pool_state	*pools;		/* [npools] */
	struct slot_row		*slots;		/* [nslots] */
	struct server_counters	*servers;	/* [nslots][nservers] */
	struct pool_counters	*pool_counters;	/* [nslots][npools] */
	void			*base;
	size_t			 size;
};

/*
 * Maps a zeroed region for `generation` with room for the given counts.
 * Every server starts UP.  Returns NULL with errno set on failure.
 */
struct shm	*shm_create(uint64_t generation, unsigned nslots,
		    unsigned nservers, unsigned npools);
/* Unmaps the region and frees `s`. */
void		 shm_destroy(struct shm *s);

static inline struct server_counters *
shm_server_counters(const struct shm *s, unsigned slot, unsigned server)
{
	return &s->servers[(size_t)slot * s->hdr->nservers + server];
}

static inline struct pool_counters *
shm_pool_counters(const struct shm *s, unsigned slot, unsigned pool)
{
	return &s->pool_counters[(size_t)slot * s->hdr->npools + pool];
}

static inline bool
shm_server_is_up(const struct shm *s, unsigned server)
{
	return atomic_load_explicit(&s->health[server].state,
	    memory_order_relaxed) == SERVER_UP;
}

/* Requests in flight to `server`, summed over every slot. */
uint64_t	 shm_server_active(const struct shm *s, unsigned server);
/* Sums one field of struct server_counters over every slot. */
uint64_t	 shm_server_sum(const struct shm *s, unsigned server,
		    size_t field_offset);

/* Zeroes the active counts of a dead worker's slot (supervisor only). */
void		 shm_slot_clear_active(struct shm *s, unsigned slot);

/* Copies a health row consistently (any process). */
void		 shm_health_read(const struct health_row *,
		    struct health_snapshot *);
/* Publishes a whole row (health checker only). */
void		 shm_health_write(struct health_row *,
		    const struct health_snapshot *);

/* Adds one to a relaxed counter that only the caller's process writes. */
static inline void
shm_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

#endif
