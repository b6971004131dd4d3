/*
 * The shared tables of a generation: layout, creation, and the few readers
 * that every process needs (sums over slots, health snapshots).
 */
#include <sys/mman.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "common/shm.h"

/* How long a seqlock may stay odd before its writer is taken for dead. */
#define STUCK_MS	100

const uint64_t shm_duration_bounds_us[SHM_DURATION_BUCKETS - 1] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000,
};

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Rounds n up to a cache line, so rows written by different processes
   never share one. */
static size_t
line_up(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

struct shm *
shm_create(uint64_t generation, unsigned nslots, unsigned nservers,
    unsigned npools)
{
	size_t off_health, off_managed, off_pools, off_slots, off_servers;
	size_t off_pool_counters, size;
	struct shm *s;
	char *base;
	unsigned i;

	off_health = line_up(sizeof(struct shm_header));
	off_managed = off_health +
	    line_up(nservers * sizeof(struct health_row));
	off_pools = off_managed +
	    line_up(nservers * sizeof(struct managed_row));
	off_slots = off_pools + line_up(npools * sizeof(struct pool_state));
	off_servers = off_slots + line_up(nslots * sizeof(struct slot_row));
	off_pool_counters = off_servers +
	    line_up((size_t)nslots * nservers * sizeof(struct server_counters));
	size = off_pool_counters +
	    line_up((size_t)nslots * npools * sizeof(struct pool_counters));

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->base = base;
	s->size = size;
	s->hdr = (struct shm_header *)base;
	s->health = (struct health_row *)(base + off_health);
	s->managed = (struct managed_row *)(base + off_managed);
	s->pools = (struct pool_state *)(base + off_pools);
	s->slots = (struct slot_row *)(base + off_slots);
	s->servers = (struct server_counters *)(base + off_servers);
	s->pool_counters = (struct pool_counters *)(base + off_pool_counters);

	s->hdr->generation = generation;
	s->hdr->nslots = nslots;
	s->hdr->nservers = nservers;
	s->hdr->npools = npools;
	for (i = 0; i < nservers; i++) {
		s->health[i].state = SERVER_UP;
		s->managed[i].last_status = -1;
	}
	return s;
}

void
shm_destroy(struct shm *s)
{
	if (s == NULL)
		return;
	munmap(s->base, s->size);
	free(s);
}

uint64_t
shm_server_sum(const struct shm *s, unsigned server, size_t field_offset)
{
	uint64_t sum = 0;
	unsigned slot;

	for (slot = 0; slot < s->hdr->nslots; slot++) {
		const char *row = (const char *)shm_server_counters(s, slot,
		    server);

		sum += atomic_load_explicit(
		    (const _Atomic uint64_t *)(row + field_offset),
		    memory_order_relaxed);
	}
	return sum;
}

uint64_t
shm_server_active(const struct shm *s, unsigned server)
{
	return shm_server_sum(s, server,
	    offsetof(struct server_counters, active));
}

void
shm_slot_clear_active(struct shm *s, unsigned slot)
{
	unsigned i;

	atomic_store(&s->slots[slot].active_connections, 0);
	for (i = 0; i < s->hdr->nservers; i++)
		atomic_store(&shm_server_counters(s, slot, i)->active, 0);
}

/*
 * The seqlock.  The writer makes seq odd, writes the fields, makes it even;
 * a reader retries while seq is odd or changed under it.  The fences order
 * the plain field accesses against the sequence number.
 */
void
shm_health_read(const struct health_row *row, struct health_snapshot *out)
{
	struct health_row *r = (struct health_row *)row;
	uint32_t before, after, stuck = 0;
	unsigned spins = 0;
	uint64_t stuck_since = 0;

	for (;;) {
		before = atomic_load_explicit(&r->seq, memory_order_acquire);
		out->state = atomic_load_explicit(&r->state,
		    memory_order_relaxed);
		out->passes = r->passes;
		out->fails = r->fails;
		out->latency_us = r->latency_us;
		out->last_status = r->last_status;
		out->changed_ms = r->changed_ms;
		out->checked_ms = r->checked_ms;
		out->checks = r->checks;
		out->passive_seen = r->passive_seen;
		memcpy(out->last_error, r->last_error, sizeof(out->last_error));
		atomic_thread_fence(memory_order_acquire);
		after = atomic_load_explicit(&r->seq, memory_order_relaxed);
		if (before == after && (before & 1) == 0)
			break;
		/*
		 * A writer mid-row: try again, yielding now and then.  A
		 * sequence that stays odd for STUCK_MS means the writer died
		 * mid-row; the copy is the best there is.
		 */
		if (++spins % 1024 == 0) {
			sched_yield();
			if (after != stuck) {
				stuck = after;
				stuck_since = monotonic_ms();
			} else if (monotonic_ms() - stuck_since > STUCK_MS)
				break;
		}
	}
	out->last_error[sizeof(out->last_error) - 1] = '\0';
}

void
shm_health_write(struct health_row *r, const struct health_snapshot *in)
{
	uint32_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed);

	/* A checker killed mid-write left seq odd: start from even. */
	seq += (seq & 1) ? 1 : 2;
	atomic_store_explicit(&r->seq, seq - 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r->passes = in->passes;
	r->fails = in->fails;
	r->latency_us = in->latency_us;
	r->last_status = in->last_status;
	r->changed_ms = in->changed_ms;
	r->checked_ms = in->checked_ms;
	r->checks = in->checks;
	r->passive_seen = in->passive_seen;
	memcpy(r->last_error, in->last_error, sizeof(r->last_error));
	r->last_error[sizeof(r->last_error) - 1] = '\0';
	atomic_store_explicit(&r->state, in->state, memory_order_relaxed);
	atomic_store_explicit(&r->seq, seq, memory_order_release);
}
