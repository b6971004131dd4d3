/*
 * Balancing: the seven algorithms that choose a pool's server for one
 * request, and the per-process tables they read (smooth weighted round
 * robin sequences, Maglev tables, cumulative weights).
 *
 * A choice reads only shared state that every worker sees the same way:
 * the health table, the active counts summed over the worker slots, and
 * each pool's cursor, which every worker advances with one atomic add.  So
 * N workers balance as one: round robin over three servers gives each a
 * third of the requests whatever the workers' share of the connections.
 * The per-process tables are computed from the configuration alone, hence
 * identical in every worker.
 *
 * lb_choose() is on the request path: no allocation, no lock, no system
 * call.  While the servers it lands on are usable, round robin, weighted
 * round robin and consistent_hash read one server's rows, ip_hash, random
 * and power_of_two O(log n) (a binary search of the weights), least_conn
 * every server's active count in every slot.  Landing on an unusable
 * server costs one pass over the pool.  A server with a max_conns cap has
 * its active count summed over the slots whenever it is considered.
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "common/log.h"
#include "worker/balance.h"
#include "worker/maglev.h"

/*
 * ip_hash: rehashes tried when the chosen server is unavailable, before
 * the pool is walked in order from the last choice (nginx tries 20 times,
 * then falls back to round robin; the walk keeps the fallback stable).
 */
#define LB_REHASH_MAX	16
/*
 * consistent_hash: Maglev entries probed after the key's own when its
 * server is unavailable.  Neighbouring entries belong to servers in
 * proportion to their shares, so a down server's keys spread out by
 * weight; past the probes, the key picks among the available servers.
 */
#define LB_PROBE_MAX	32

/*
 * random, power_of_two, and weighted_round_robin's fallback: draws over the
 * whole pool before the usable servers are listed.  A draw that lands on
 * an unusable server is simply repeated, which keeps the odds exactly
 * weight / (sum over the usable), in O(log n) while most servers are up.
 */
#define LB_DRAW_TRIES	8

/* Seeds that keep the hashes of different uses independent. */
#define SEED_CLIENT	0x636c69656e74ULL	/* "client" */
#define SEED_KEY	0x6b6579ULL		/* "key" */
#define SEED_REHASH	0x726568617368ULL	/* "rehash" */

/* What one pool's algorithm needs besides the shared tables. */
struct lb_table {
	const struct conf_pool *pool;	/* the pool it was built for */
	uint32_t	*cum;		/* cum[i]: weights of servers 0..i */
	uint16_t	*seq;		/* weighted_round_robin: the smooth
					   order, [seqlen] server indexes */
	struct maglev	 maglev;	/* consistent_hash */
	uint32_t	 wsum;		/* sum of the weights */
	uint32_t	 seqlen;
};

/* Indexed by pool id; only the pools of the conf given to lb_init. */
static struct lb_table	lb_tables[CONF_MAX_POOLS];
/* xorshift64* state: this process's own, never 0. */
static uint64_t		lb_rng;

static unsigned
weight_of(const struct conf_server *s)
{
	if (s->weight == 0)
		return 1;
	return s->weight > CONF_MAX_WEIGHT ? CONF_MAX_WEIGHT : s->weight;
}

/* ---- the random source ------------------------------------------------ */

static uint64_t
rng_next(void)
{
	uint64_t x = lb_rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	lb_rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, bound) for bound > 0: the high word scaled, no division. */
static uint32_t
rng_below(uint32_t bound)
{
	return (uint32_t)(((rng_next() >> 32) * bound) >> 32);
}

/*
 * Seeds from the kernel, or, if it has no entropy to give yet, from the
 * pid, the clock and the slot, which differ between workers anyway.
 */
static void
rng_seed(unsigned slot)
{
	struct timespec ts;
	uint64_t seed = 0;
	ssize_t n;

	do {
		n = getrandom(&seed, sizeof(seed), GRND_NONBLOCK);
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(seed)) {
		if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
			fatal("%s: clock_gettime", __func__);
		seed = (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)ts.tv_sec << 20 ^ slot;
	}
	lb_rng = maglev_hash(&seed, sizeof(seed), slot);
	if (lb_rng == 0)
		lb_rng = 0x9e3779b97f4a7c15ULL;
}

/* ---- tables ------------------------------------------------------------ */

static uint32_t
gcd(uint32_t a, uint32_t b)
{
	while (b != 0) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Servers of one weight, while a smooth sequence is computed. */
struct wrr_group {
	uint32_t	 weight;	/* divided by the gcd of all weights */
	uint32_t	 size;
	uint32_t	 picks;		/* members chosen so far */
	const uint16_t	*member;	/* [size], ascending indexes */
};

/*
 * The group whose candidate nginx's rule chooses at step `step` (from 1)
 * of a period of `len`.  A server's "current weight" before that step is
 * step * weight - len * (times chosen); members of a group share the
 * weight, so the group's best is the member chosen least often, the
 * lowest index among those: member[picks % size], chosen picks / size
 * times.  The highest current wins, then the lowest index, as in nginx.
 */
static unsigned
wrr_best(const struct wrr_group *g, unsigned ngroups, uint32_t step,
    uint32_t len)
{
	int64_t v, best_v = 0;
	unsigned k, best = 0, j, best_j = 0;

	for (k = 0; k < ngroups; k++) {
		v = (int64_t)step * g[k].weight -
		    (int64_t)len * (g[k].picks / g[k].size);
		j = g[k].member[g[k].picks % g[k].size];
		if (k == 0 || v > best_v || (v == best_v && j < best_j)) {
			best = k;
			best_v = v;
			best_j = j;
		}
	}
	return best;
}

/*
 * nginx's smooth weighted round robin, run for one period: each step every
 * server gains its weight, the one with the most (the first on a tie) is
 * chosen and pays back the total.  After sum(weights) steps every server
 * has been chosen `weight` times and all are back at zero, so the period
 * repeats; weights divided by their gcd give the same order, shorter.
 * Length: at most 256 * servers of the pool, 2 bytes an entry, so 512 KiB
 * for all pools of a maximal configuration (CONF_MAX_SERVERS over all
 * pools).  Time: length * distinct weights (at most 256), by grouping the
 * servers of equal weight, once per worker start.
 */
static int
wrr_build(struct lb_table *t, const struct conf_pool *pool)
{
	struct wrr_group *groups;
	uint16_t *members;
	uint32_t g = 0, w, step, count[CONF_MAX_WEIGHT + 1] = { 0 };
	unsigned n = pool->nservers, i, ngroups = 0, used = 0, k;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		g = gcd(weight_of(&pool->servers[i]), g);
		count[weight_of(&pool->servers[i])]++;
	}
	t->seqlen = t->wsum / g;
	t->seq = reallocarray(NULL, t->seqlen, sizeof(*t->seq));
	groups = reallocarray(NULL, n, sizeof(*groups));
	members = reallocarray(NULL, n, sizeof(*members));
	if (t->seq == NULL || groups == NULL || members == NULL) {
		free(groups);
		free(members);
		return -1;
	}
	for (w = 1; w <= CONF_MAX_WEIGHT; w++) {
		if (count[w] == 0)
			continue;
		groups[ngroups].weight = w / g;
		groups[ngroups].size = 0;
		groups[ngroups].picks = 0;
		groups[ngroups].member = &members[used];
		for (i = 0; i < n; i++)
			if (weight_of(&pool->servers[i]) == w)
				members[used + groups[ngroups].size++] =
				    (uint16_t)i;
		used += count[w];
		ngroups++;
	}
	for (step = 0; step < t->seqlen; step++) {
		k = wrr_best(groups, ngroups, step + 1, t->seqlen);
		t->seq[step] = groups[k].member[groups[k].picks %
		    groups[k].size];
		groups[k].picks++;
	}
	free(groups);
	free(members);
	return 0;
}

static int
table_build(struct lb_table *t, const struct conf_pool *pool)
{
	unsigned i;

	memset(t, 0, sizeof(*t));
	t->pool = pool;
	if (pool->nservers > CONF_MAX_SERVERS)
		fatalx("%s: pool %s has %u servers", __func__, pool->name,
		    pool->nservers);
	if (pool->nservers == 0)
		return 0;
	if ((t->cum = reallocarray(NULL, pool->nservers,
	    sizeof(*t->cum))) == NULL)
		return -1;
	for (i = 0; i < pool->nservers; i++) {
		t->wsum += weight_of(&pool->servers[i]);
		t->cum[i] = t->wsum;
	}
	if (pool->algorithm == ALG_WEIGHTED_ROUND_ROBIN &&
	    wrr_build(t, pool) == -1)
		return -1;
	if (pool->algorithm == ALG_CONSISTENT_HASH &&
	    maglev_build(&t->maglev, pool) == -1)
		return -1;
	return 0;
}

int
lb_init(const struct conf *conf, unsigned slot)
{
	unsigned i;

	lb_free();
	rng_seed(slot);
	for (i = 0; i < conf->npools; i++) {
		const struct conf_pool *pool = &conf->pools[i];

		if (pool->id >= CONF_MAX_POOLS)
			fatalx("%s: pool %s has id %u", __func__, pool->name,
			    pool->id);
		if (table_build(&lb_tables[pool->id], pool) == -1) {
			lb_free();
			return -1;
		}
	}
	return 0;
}

void
lb_free(void)
{
	unsigned i;

	for (i = 0; i < CONF_MAX_POOLS; i++) {
		free(lb_tables[i].cum);
		free(lb_tables[i].seq);
		maglev_free(&lb_tables[i].maglev);
		memset(&lb_tables[i], 0, sizeof(lb_tables[i]));
	}
}

/* ---- availability ------------------------------------------------------ */

static bool
was_tried(const struct lb_request *req, unsigned id)
{
	unsigned k;

	for (k = 0; k < req->ntried; k++)
		if (req->tried[k] == id)
			return true;
	return false;
}

/*
 * Up, not tried, and under its cap.  *active gets the server's active count
 * summed over the slots when the caller asks for it (with NULL it is read
 * only for a server with a cap).
 */
static bool
usable(const struct conf_server *s, const struct shm *shm,
    const struct lb_request *req, uint64_t *active)
{
	uint64_t a = 0;

	if (!shm_server_is_up(shm, s->id) || was_tried(req, s->id))
		return false;
	if (active != NULL || s->max_conns != 0)
		a = shm_server_active(shm, s->id);
	if (active != NULL)
		*active = a;
	return s->max_conns == 0 || a < s->max_conns;
}

/*
 * The indexes of the pool's usable servers, ascending, into avail[]
 * (room for nservers); *wsum gets their total weight.  Returns how many.
 */
static unsigned
collect(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, uint16_t *avail, uint32_t *wsum)
{
	unsigned i, n = 0;

	*wsum = 0;
	for (i = 0; i < pool->nservers; i++) {
		if (!usable(&pool->servers[i], shm, req, NULL))
			continue;
		avail[n++] = (uint16_t)i;
		*wsum += weight_of(&pool->servers[i]);
	}
	return n;
}

/* The position in avail[] that weight offset r (< their sum) falls on. */
static unsigned
pick_weighted(const struct conf_pool *pool, const uint16_t *avail,
    unsigned navail, uint32_t r, int skip)
{
	unsigned k;
	uint32_t w;

	for (k = 0; k < navail; k++) {
		if ((int)k == skip)
			continue;
		w = weight_of(&pool->servers[avail[k]]);
		if (r < w)
			return k;
		r -= w;
	}
	return navail - 1;	/* not reached while r < the sum */
}

static uint64_t
cursor_next(const struct conf_pool *pool, const struct shm *shm)
{
	return atomic_fetch_add_explicit(&shm->pools[pool->id].cursor, 1,
	    memory_order_relaxed);
}

/* ---- the algorithms ---------------------------------------------------- */

/*
 * The cursor's value c names server c mod n.  When that one is unusable
 * the request takes one of the usable servers in turn: the misses of a
 * round are numbered (round * misses per round + rank of this miss) and
 * dealt out over the usable servers, so they stay evenly loaded.
 */
static int
choose_round_robin(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req)
{
	uint16_t avail[CONF_MAX_SERVERS];
	uint64_t c, rank;
	unsigned n = pool->nservers, i, navail, below;
	uint32_t wsum;

	c = cursor_next(pool, shm);
	i = (unsigned)(c % n);
	if (usable(&pool->servers[i], shm, req, NULL))
		return (int)pool->servers[i].id;
	if ((navail = collect(pool, shm, req, avail, &wsum)) == 0)
		return -1;
	for (below = 0; below < navail && avail[below] < i; below++)
		;
	rank = (c / n) * (n - navail) + (i - below);
	return (int)pool->servers[avail[rank % navail]].id;
}

/* The server whose weight range holds r (< wsum): binary search. */
static unsigned
by_weight(const struct lb_table *t, unsigned n, uint32_t r)
{
	unsigned lo = 0, hi = n - 1, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * A usable server other than index `except` (-1: none), drawn with
 * probability weight / (sum over those servers).  Returns its index in
 * the pool, or -1 when there is none.
 */
static int
draw_usable(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, const struct lb_table *t, int except)
{
	uint16_t avail[CONF_MAX_SERVERS];
	unsigned i, k, navail;
	uint32_t wsum;
	int skip = -1;

	for (k = 0; k < LB_DRAW_TRIES; k++) {
		i = by_weight(t, pool->nservers, rng_below(t->wsum));
		if ((int)i != except &&
		    usable(&pool->servers[i], shm, req, NULL))
			return (int)i;
	}
	navail = collect(pool, shm, req, avail, &wsum);
	for (k = 0; k < navail; k++)
		if ((int)avail[k] == except) {
			skip = (int)k;
			wsum -= weight_of(&pool->servers[except]);
		}
	if (wsum == 0)
		return -1;
	return avail[pick_weighted(pool, avail, navail, rng_below(wsum),
	    skip)];
}

/*
 * The cursor indexes the pool's smooth sequence.  An unusable server's
 * turn goes to a usable one drawn by weight, which keeps the shares of the
 * others in proportion to their weights.
 */
static int
choose_weighted(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, const struct lb_table *t)
{
	int i;

	i = t->seq[cursor_next(pool, shm) % t->seqlen];
	if (!usable(&pool->servers[i], shm, req, NULL) &&
	    (i = draw_usable(pool, shm, req, t, -1)) == -1)
		return -1;
	return (int)pool->servers[i].id;
}

/*
 * Fewest active requests per unit of weight (a_i / w_i < a_j / w_j, in
 * integers: a_i * w_j < a_j * w_i), counted over all workers.  Ties go
 * round: the pool's cursor, advanced only when there is a tie, picks among
 * the servers that tie.  Advanced on every choice, it would alias with
 * the arrivals (every other choice a tie between two servers would give
 * every tie to the same one); starting the scan at it would give an
 * unusable server's turns to its neighbour.
 */
static int
choose_least_conn(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req)
{
	uint16_t tied[CONF_MAX_SERVERS];
	uint64_t a, best_a = 0, best_w = 1, w;
	unsigned i, ntied = 0;

	for (i = 0; i < pool->nservers; i++) {
		if (!usable(&pool->servers[i], shm, req, &a))
			continue;
		w = weight_of(&pool->servers[i]);
		if (ntied > 0 && a * best_w > best_a * w)
			continue;
		if (ntied == 0 || a * best_w < best_a * w) {
			ntied = 0;
			best_a = a;
			best_w = w;
		}
		tied[ntied++] = (uint16_t)i;
	}
	if (ntied == 0)
		return -1;
	if (ntied == 1)
		return (int)pool->servers[tied[0]].id;
	return (int)pool->servers[tied[cursor_next(pool, shm) % ntied]].id;
}

/* nginx's random: a usable server drawn with probability weight / sum. */
static int
choose_random(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, const struct lb_table *t)
{
	int i;

	if ((i = draw_usable(pool, shm, req, t, -1)) == -1)
		return -1;
	return (int)pool->servers[i].id;
}

/*
 * Two different usable servers drawn by weight; the one with fewer active
 * requests per unit of weight wins (the first drawn on a tie).  As nginx's
 * "random two least_conn": the draws favour the heavy servers when all are
 * idle, the comparison when they are busy.
 */
static int
choose_two(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, const struct lb_table *t)
{
	const struct conf_server *s1, *s2;
	uint64_t a1, a2;
	int i1, i2;

	if ((i1 = draw_usable(pool, shm, req, t, -1)) == -1)
		return -1;
	s1 = &pool->servers[i1];
	if ((i2 = draw_usable(pool, shm, req, t, i1)) == -1)
		return (int)s1->id;
	s2 = &pool->servers[i2];
	a1 = shm_server_active(shm, s1->id);
	a2 = shm_server_active(shm, s2->id);
	if (a2 * weight_of(s1) < a1 * weight_of(s2))
		return (int)s2->id;
	return (int)s1->id;
}

/*
 * The bytes of a client address that the hashes read: the whole address,
 * 4 bytes for IPv4 and 16 for IPv6 (nginx's ip_hash reads only the first
 * three octets of an IPv4 address, which puts a whole /24 on one server).
 * An IPv4-mapped IPv6 address counts as the IPv4 address, so a dual-stack
 * listener hashes a client as an IPv4 one does.  0 when there is none.
 */
static size_t
client_bytes(const struct sockaddr *sa, const void **out)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		*out = &sin->sin_addr;
		return sizeof(sin->sin_addr);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			*out = &sin6->sin6_addr.s6_addr[12];
			return 4;
		}
		*out = &sin6->sin6_addr;
		return sizeof(sin6->sin6_addr);
	default:
		return 0;
	}
}

/*
 * The client address hashed onto the weights: stable while the pool's
 * servers and weights are.  An unusable choice rehashes (the same way in
 * every worker), then walks on in pool order.  Without an IP client
 * (a Unix socket) the request goes round robin.
 */
static int
choose_ip_hash(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, const struct lb_table *t)
{
	const void *addr = NULL;
	unsigned n = pool->nservers, i = 0, k;
	uint64_t h;
	size_t len;

	if ((len = client_bytes(req->client, &addr)) == 0)
		return choose_round_robin(pool, shm, req);
	h = maglev_hash(addr, len, SEED_CLIENT);
	for (k = 0; k < LB_REHASH_MAX; k++) {
		i = by_weight(t, n, (uint32_t)(h % t->wsum));
		if (usable(&pool->servers[i], shm, req, NULL))
			return (int)pool->servers[i].id;
		h = maglev_hash(&h, sizeof(h), SEED_REHASH);
	}
	for (k = 1; k < n; k++) {
		i = (i + 1) % n;
		if (usable(&pool->servers[i], shm, req, NULL))
			return (int)pool->servers[i].id;
	}
	return -1;
}

/*
 * Maglev: the key's entry names its server.  When that server is
 * unusable the following entries are tried (see LB_PROBE_MAX), then the
 * key picks among the usable servers by its hash.  Keys of usable servers
 * never move, so a server going down moves only its own keys.  A request
 * without the key (header or cookie absent or empty) goes round robin, as
 * in HAProxy.
 */
static int
choose_consistent(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req, const struct lb_table *t)
{
	uint16_t avail[CONF_MAX_SERVERS];
	const void *key = req->key;
	unsigned navail, k;
	uint32_t e, wsum;
	uint64_t seed = SEED_KEY, h;
	size_t len = req->key_len;

	if (pool->hash_key == HASH_CLIENT_IP) {
		key = NULL;
		len = client_bytes(req->client, &key);
		seed = SEED_CLIENT;
	}
	if (key == NULL || len == 0)
		return choose_round_robin(pool, shm, req);
	h = maglev_hash(key, len, seed);
	e = maglev_slot(&t->maglev, h);
	for (k = 0; k <= LB_PROBE_MAX; k++) {
		const struct conf_server *s =
		    &pool->servers[t->maglev.entry[e]];

		if (usable(s, shm, req, NULL))
			return (int)s->id;
		if (++e == t->maglev.size)
			e = 0;
	}
	if ((navail = collect(pool, shm, req, avail, &wsum)) == 0)
		return -1;
	return (int)pool->servers[avail[h % navail]].id;
}

int
lb_choose(const struct conf_pool *pool, const struct shm *shm,
    const struct lb_request *req)
{
	static const struct lb_request none;
	const struct lb_table *t;

	if (pool->id >= CONF_MAX_POOLS ||
	    (t = &lb_tables[pool->id])->pool != pool)
		fatalx("%s: pool %s was not given to lb_init", __func__,
		    pool->name);
	if (req == NULL)
		req = &none;
	if (pool->nservers == 0)
		return -1;
	switch (pool->algorithm) {
	case ALG_ROUND_ROBIN:
		return choose_round_robin(pool, shm, req);
	case ALG_WEIGHTED_ROUND_ROBIN:
		return choose_weighted(pool, shm, req, t);
	case ALG_LEAST_CONN:
		return choose_least_conn(pool, shm, req);
	case ALG_RANDOM:
		return choose_random(pool, shm, req, t);
	case ALG_POWER_OF_TWO:
		return choose_two(pool, shm, req, t);
	case ALG_IP_HASH:
		return choose_ip_hash(pool, shm, req, t);
	case ALG_CONSISTENT_HASH:
		return choose_consistent(pool, shm, req, t);
	}
	fatalx("%s: pool %s: algorithm %d", __func__, pool->name,
	    (int)pool->algorithm);
}

/* ---- cookies ----------------------------------------------------------- */

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * RFC 6265 section 4.2: cookie-pair *( ";" SP cookie-pair ), read
 * leniently: any run of spaces and tabs around pairs, names and values is
 * skipped, pairs without '=' are ignored, names compare case-sensitively,
 * the first pair of that name wins, and a value in double quotes is
 * returned without them.
 */
const char *
lb_cookie_value(const char *cookie, size_t cookie_len, const char *name,
    size_t *len)
{
	const char *p = cookie, *end, *pair_end, *eq, *ne, *v, *ve;
	size_t nlen = strlen(name);

	if (cookie == NULL || nlen == 0)
		return NULL;
	end = cookie + cookie_len;
	while (p < end) {
		while (p < end && is_ows(*p))
			p++;
		if ((pair_end = memchr(p, ';', (size_t)(end - p))) == NULL)
			pair_end = end;
		eq = memchr(p, '=', (size_t)(pair_end - p));
		if (eq != NULL) {
			for (ne = eq; ne > p && is_ows(ne[-1]); ne--)
				;
			if ((size_t)(ne - p) == nlen &&
			    memcmp(p, name, nlen) == 0) {
				for (v = eq + 1; v < pair_end && is_ows(*v);
				    v++)
					;
				for (ve = pair_end; ve > v && is_ows(ve[-1]);
				    ve--)
					;
				if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
					v++;
					ve--;
				}
				*len = (size_t)(ve - v);
				return v;
			}
		}
		if (pair_end == end)
			break;
		p = pair_end + 1;
	}
	return NULL;
}
