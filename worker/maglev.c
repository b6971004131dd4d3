/*
 * Maglev lookup tables for consistent_hash, and the hash they are built on.
 *
 * Each server owns a permutation of the table's entries, derived from its
 * name; servers take turns claiming the next free entry of their own
 * permutation until the table is full.  The table is then balanced to one
 * entry per server (per weight unit), and a change of the server set
 * moves few entries, because every other server's permutation is the same
 * as before.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "common/log.h"
#include "worker/maglev.h"

/* Odd constants with well spread bits (from the golden ratio and primes). */
#define HASH_K1		0x9e3779b97f4a7c15ULL
#define HASH_K2		0xc2b2ae3d27d4eb4fULL
#define HASH_K3		0x27d4eb2f165667c5ULL

/* Seeds of the two hashes of a server name. */
#define SEED_OFFSET	0x6f6666736574ULL	/* "offset" */
#define SEED_SKIP	0x736b6970ULL		/* "skip" */

/* An entry no server has claimed yet. */
#define ENTRY_FREE	UINT16_MAX

/* One server's progress through its permutation while the table fills. */
struct turn {
	uint32_t	 next;		/* the next entry of its permutation */
	uint32_t	 skip;		/* 1 .. size-1 */
	uint32_t	 weight;
	uint32_t	 credit;	/* turns earned, in weight units */
};

/* The splitmix64 finaliser: two multiply-xorshift rounds. */
static uint64_t
avalanche(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t
rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

/* Folds one 64-bit word into the state. */
static uint64_t
absorb(uint64_t h, uint64_t w)
{
	return rotl64(h ^ (w * HASH_K2), 31) * HASH_K1 + HASH_K3;
}

uint64_t
maglev_hash(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h, w;

	/* The length goes in first: "a" and "a\0" must differ. */
	h = avalanche(seed + HASH_K3) ^ ((uint64_t)len * HASH_K1);
	while (len >= sizeof(w)) {
		memcpy(&w, p, sizeof(w));
		h = absorb(h, w);
		p += sizeof(w);
		len -= sizeof(w);
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, p, len);
		h = absorb(h, w);
	}
	return avalanche(h);
}

static bool
is_prime(uint32_t n)
{
	uint32_t d;

	if (n < 2)
		return false;
	for (d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

/* The table size for n servers: a prime, at least MAGLEV_PER_SERVER * n. */
static uint32_t
table_size(unsigned n)
{
	uint32_t size = (uint32_t)n * MAGLEV_PER_SERVER;

	if (size < MAGLEV_MIN_SIZE)
		size = MAGLEV_MIN_SIZE;
	while (!is_prime(size))
		size++;
	return size;
}

static unsigned
weight_of(const struct conf_server *s)
{
	if (s->weight == 0)
		return 1;
	return s->weight > CONF_MAX_WEIGHT ? CONF_MAX_WEIGHT : s->weight;
}

/*
 * Claims the next free entry of server i's permutation.  The walk ends:
 * size is prime and skip is not a multiple of it, so the permutation
 * reaches every entry, and the caller only asks while one is free.
 */
static void
claim(struct maglev *m, struct turn *t, uint16_t i)
{
	while (m->entry[t->next] != ENTRY_FREE) {
		t->next += t->skip;
		if (t->next >= m->size)
			t->next -= m->size;
	}
	m->entry[t->next] = i;
	t->next += t->skip;
	if (t->next >= m->size)
		t->next -= m->size;
}

/*
 * The paper's population loop with weights: every round each server earns
 * its weight in credit and claims one entry per `wmax` of credit, so the
 * heaviest server claims one entry a round and the others claim in
 * proportion, spread evenly over the rounds.
 */
static void
populate(struct maglev *m, struct turn *turns, unsigned n, uint32_t wmax)
{
	uint32_t filled = 0;
	unsigned i;

	while (filled < m->size) {
		for (i = 0; i < n && filled < m->size; i++) {
			turns[i].credit += turns[i].weight;
			while (turns[i].credit >= wmax && filled < m->size) {
				turns[i].credit -= wmax;
				claim(m, &turns[i], (uint16_t)i);
				filled++;
			}
		}
	}
}

int
maglev_build(struct maglev *m, const struct conf_pool *pool)
{
	struct turn *turns;
	uint32_t wmax = 0, size;
	unsigned i, n = pool->nservers;
	size_t len;

	m->entry = NULL;
	m->size = 0;
	if (n == 0)
		return 0;
	/*
	 * Kept in a local that the stores below cannot change: a prime of
	 * at least MAGLEV_MIN_SIZE, so both moduli below are non-zero.
	 */
	size = table_size(n);
	if (size < MAGLEV_MIN_SIZE)
		fatalx("maglev_build: table size %u for %u servers", size, n);
	m->size = size;
	m->entry = reallocarray(NULL, size, sizeof(*m->entry));
	turns = reallocarray(NULL, n, sizeof(*turns));
	if (m->entry == NULL || turns == NULL) {
		free(turns);
		maglev_free(m);
		return -1;
	}
	for (i = 0; i < size; i++)
		m->entry[i] = ENTRY_FREE;
	for (i = 0; i < n; i++) {
		const struct conf_server *s = &pool->servers[i];

		len = strnlen(s->name, sizeof(s->name));
		turns[i].next = (uint32_t)(maglev_hash(s->name, len,
		    SEED_OFFSET) % size);
		turns[i].skip = (uint32_t)(maglev_hash(s->name, len,
		    SEED_SKIP) % (size - 1)) + 1;
		turns[i].weight = weight_of(s);
		turns[i].credit = 0;
		if (turns[i].weight > wmax)
			wmax = turns[i].weight;
	}
	populate(m, turns, n, wmax);
	free(turns);
	return 0;
}

void
maglev_free(struct maglev *m)
{
	free(m->entry);
	m->entry = NULL;
	m->size = 0;
}
