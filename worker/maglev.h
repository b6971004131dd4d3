/*
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016) and the 64-bit hash the
 * balancing module builds on.  Private to worker/balance.c.
 */
#ifndef FORKLIFT_MAGLEV_H
#define FORKLIFT_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/*
 * The smallest table.  The paper's 65537 keeps every server's share within
 * a fraction of a percent of its weight and the keys moved by a change of
 * the server set close to the ideal.
 */
#define MAGLEV_MIN_SIZE		65537
/* Entries per server at least: larger pools get a larger prime. */
#define MAGLEV_PER_SERVER	100
/* The largest table: the first prime over 100 * CONF_MAX_SERVERS. */
#define MAGLEV_MAX_SIZE		102407

/*
 * A lookup table: entry[k] is the index in its pool of the server that owns
 * the keys hashing to k.  size is prime, so that every server's
 * permutation (offset + j * skip mod size) visits every entry.
 */
struct maglev {
	uint16_t	*entry;		/* [size] */
	uint32_t	 size;		/* 0 for a pool without servers */
};

/*
 * Fills m for `pool`: each server's permutation comes from the hash of its
 * name, so the table is the same in every process, and a server keeps its
 * keys across an address change but not a rename.  Servers take turns in
 * proportion to their weights.  Returns 0, or -1 (out of memory) leaving m
 * empty.  Memory: 2 bytes per entry, at most MAGLEV_MAX_SIZE entries.
 */
int		 maglev_build(struct maglev *m, const struct conf_pool *pool);
void		 maglev_free(struct maglev *m);

/*
 * A 64-bit hash of len bytes, different for each seed: word at a time,
 * then a full avalanche, so that every input bit moves every output bit.
 * Not for use against an adversary who picks keys to collide.
 */
uint64_t	 maglev_hash(const void *, size_t len, uint64_t seed);

/* The entry owning hash h. */
static inline uint32_t
maglev_slot(const struct maglev *m, uint64_t h)
{
	return (uint32_t)(h % m->size);
}

#endif
