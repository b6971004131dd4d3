/*
 * Unit tests for worker/balance.c and worker/maglev.c: each algorithm's
 * distribution against a real shared-memory region (health rows, per-slot
 * active counts, pool cursors), skipping of down, capped and tried
 * servers, several worker processes sharing one cursor, the Maglev
 * figures (balance, keys moved, weights) and Cookie header parsing.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "common/config.h"
#include "common/shm.h"
#include "worker/balance.h"
#include "worker/maglev.h"

#define NSLOTS		4	/* worker slots of the test region */
#define MAXSERVERS	16	/* servers in a test pool */
#define NKEYS		100000	/* keys of the consistent hash figures */

static const enum conf_algorithm all_algorithms[] = {
	ALG_ROUND_ROBIN, ALG_WEIGHTED_ROUND_ROBIN, ALG_LEAST_CONN,
	ALG_RANDOM, ALG_POWER_OF_TWO, ALG_IP_HASH, ALG_CONSISTENT_HASH,
};
static const char *const algorithm_names[] = {
	"round_robin", "weighted_round_robin", "least_conn", "random",
	"power_of_two", "ip_hash", "consistent_hash",
};
#define NALGORITHMS	(sizeof(all_algorithms) / sizeof(all_algorithms[0]))

/*
 * A configuration of one pool "web" of n servers named by `names` (or
 * s0, s1, ...), with the given weights (or 1), built by hand.
 */
static struct conf *
make_conf(enum conf_algorithm alg, unsigned n, const unsigned *weights,
    const char *const *names)
{
	struct conf *c;
	struct conf_pool *p;
	unsigned i;

	ck_assert_uint_le(n, MAXSERVERS);
	ck_assert_ptr_nonnull(c = calloc(1, sizeof(*c)));
	ck_assert_ptr_nonnull(c->servers = calloc(n, sizeof(*c->servers)));
	c->workers = NSLOTS;
	c->nservers = n;
	c->npools = 1;
	p = &c->pools[0];
	snprintf(p->name, sizeof(p->name), "web");
	p->algorithm = alg;
	p->hash_key = HASH_URI;
	p->servers = c->servers;
	p->nservers = n;
	p->id = 0;
	for (i = 0; i < n; i++) {
		struct conf_server *s = &c->servers[i];

		if (names != NULL)
			snprintf(s->name, sizeof(s->name), "%s", names[i]);
		else
			snprintf(s->name, sizeof(s->name), "s%u", i);
		s->weight = weights != NULL ? weights[i] : 1;
		s->id = i;
		s->pool = p;
	}
	return c;
}

static void
free_conf(struct conf *c)
{
	free(c->servers);
	free(c);
}

static struct shm *
shm_for(const struct conf *c)
{
	struct shm *s = shm_create(1, NSLOTS, c->nservers, c->npools);

	ck_assert_ptr_nonnull(s);
	return s;
}

static void
set_down(struct shm *s, unsigned id)
{
	atomic_store(&s->health[id].state, SERVER_DOWN);
}

static void
set_active(struct shm *s, unsigned slot, unsigned id, uint64_t n)
{
	atomic_store(&shm_server_counters(s, slot, id)->active, n);
}

static struct sockaddr_in
v4(const char *text)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6
v6(const char *text)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	return sin6;
}

static int
choose_key(const struct conf *c, const struct shm *s, const char *key)
{
	struct lb_request req = { .key = key, .key_len = strlen(key) };

	return lb_choose(&c->pools[0], s, &req);
}

static int
choose_client(const struct conf *c, const struct shm *s,
    const void *sa)
{
	struct lb_request req = { .client = sa };

	return lb_choose(&c->pools[0], s, &req);
}

/* ---- round robin --------------------------------------------------------- */

START_TEST(round_robin_exact)
{
	struct conf *c = make_conf(ALG_ROUND_ROBIN, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	unsigned count[3] = { 0 }, i;
	int id;

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 300; i++) {
		id = lb_choose(&c->pools[0], s, NULL);
		ck_assert_int_eq(id, (int)(i % 3));
		count[id]++;
	}
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(count[i], 100);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(round_robin_down_share_even)
{
	struct conf *c = make_conf(ALG_ROUND_ROBIN, 4, NULL, NULL);
	struct shm *s = shm_for(c);
	unsigned count[4] = { 0 }, i;

	ck_assert_int_eq(lb_init(c, 0), 0);
	/* Two down, not neighbours: their turns must not all land on one. */
	set_down(s, 1);
	set_down(s, 3);
	for (i = 0; i < 400; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	ck_assert_uint_eq(count[1], 0);
	ck_assert_uint_eq(count[3], 0);
	ck_assert_uint_eq(count[0], 200);
	ck_assert_uint_eq(count[2], 200);

	/* One down of three: the other two still alternate evenly. */
	atomic_store(&s->health[1].state, SERVER_UP);
	atomic_store(&s->health[3].state, SERVER_UP);
	c->pools[0].nservers = 3;
	c->nservers = 3;
	ck_assert_int_eq(lb_init(c, 0), 0);
	memset(count, 0, sizeof(count));
	set_down(s, 2);
	for (i = 0; i < 300; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	ck_assert_uint_eq(count[2], 0);
	ck_assert_uint_le(count[0] > count[1] ? count[0] - count[1] :
	    count[1] - count[0], 1);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/*
 * Runs `workers` processes, each making `per_worker` choices from its own
 * slot and counting them in its slot's rows, all released at once; returns
 * the per-server totals summed over the slots.
 */
static void
run_workers(const struct conf *c, struct shm *s, unsigned workers,
    unsigned per_worker, uint64_t *totals)
{
	int go[2], status;
	pid_t pids[NSLOTS];
	unsigned w, i;
	char byte;

	ck_assert_uint_le(workers, NSLOTS);
	ck_assert_int_eq(pipe(go), 0);
	for (w = 0; w < workers; w++) {
		ck_assert_int_ne(pids[w] = fork(), -1);
		if (pids[w] != 0)
			continue;
		close(go[1]);
		if (read(go[0], &byte, 1) == -1 || lb_init(c, w) == -1)
			_exit(2);
		for (i = 0; i < per_worker; i++) {
			int id = lb_choose(&c->pools[0], s, NULL);

			if (id < 0)
				_exit(3);
			shm_count(&shm_server_counters(s, w, (unsigned)id)->
			    requests, 1);
		}
		_exit(0);
	}
	close(go[0]);
	close(go[1]);		/* EOF releases every worker together */
	for (w = 0; w < workers; w++) {
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (i = 0; i < c->nservers; i++)
		totals[i] = shm_server_sum(s, i,
		    offsetof(struct server_counters, requests));
}

START_TEST(round_robin_global_across_workers)
{
	struct conf *c = make_conf(ALG_ROUND_ROBIN, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	uint64_t totals[3] = { 0 };
	unsigned i;

	run_workers(c, s, 3, 100, totals);
	/* One cursor: the 300 turns are dealt exactly, however the three
	   processes interleave. */
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(totals[i], 100);
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* ---- weighted round robin ----------------------------------------------- */

START_TEST(weighted_smooth_sequence)
{
	static const unsigned w[] = { 5, 1, 1 };
	static const char *const names[] = { "a", "b", "c" };
	static const char expect[] = "aabacaa";
	struct conf *c = make_conf(ALG_WEIGHTED_ROUND_ROBIN, 3, w, names);
	struct shm *s = shm_for(c);
	unsigned count[3] = { 0 }, i;
	char got[8];

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 7; i++)
		got[i] = c->servers[lb_choose(&c->pools[0], s, NULL)].name[0];
	got[7] = '\0';
	ck_assert_str_eq(got, expect);
	for (i = 0; i < 700; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	ck_assert_uint_eq(count[0], 500);
	ck_assert_uint_eq(count[1], 100);
	ck_assert_uint_eq(count[2], 100);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* nginx's rule step by step, as the reference for the precomputed order. */
static void
reference_swrr(const unsigned *w, unsigned n, unsigned steps, int *out)
{
	long current[MAXSERVERS] = { 0 }, total = 0;
	unsigned i, step, best;

	for (i = 0; i < n; i++)
		total += w[i];
	for (step = 0; step < steps; step++) {
		best = 0;
		for (i = 0; i < n; i++) {
			current[i] += w[i];
			if (current[i] > current[best])
				best = i;
		}
		current[best] -= total;
		out[step] = (int)best;
	}
}

START_TEST(weighted_matches_nginx_rule)
{
	static const unsigned sets[][MAXSERVERS] = {
		{ 5, 1, 1 },
		{ 3, 3, 2, 2, 1, 1, 3 },
		{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
		{ 256, 1, 255, 2, 254, 3, 7, 7, 7, 100, 100, 1, 1, 1, 1, 1 },
		{ 4, 4, 4, 4 },
	};
	static const unsigned sizes[] = { 3, 7, 16, 16, 4 };
	unsigned k, i, sum;
	int *expect;

	ck_assert_ptr_nonnull(expect = calloc(2 * 16 * 256, sizeof(int)));
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct conf *c = make_conf(ALG_WEIGHTED_ROUND_ROBIN, sizes[k],
		    sets[k], NULL);
		struct shm *s = shm_for(c);

		for (sum = 0, i = 0; i < sizes[k]; i++)
			sum += sets[k][i];
		/* Two periods: the order must also wrap correctly. */
		reference_swrr(sets[k], sizes[k], 2 * sum, expect);
		ck_assert_int_eq(lb_init(c, 0), 0);
		for (i = 0; i < 2 * sum; i++)
			ck_assert_msg(lb_choose(&c->pools[0], s, NULL) ==
			    expect[i], "set %u, step %u", k, i);
		lb_free();
		shm_destroy(s);
		free_conf(c);
	}
	free(expect);
}
END_TEST

START_TEST(weighted_gcd_same_order)
{
	static const unsigned w1[] = { 4, 2, 2, 6 }, w2[] = { 2, 1, 1, 3 };
	struct conf *c1 = make_conf(ALG_WEIGHTED_ROUND_ROBIN, 4, w1, NULL);
	struct conf *c2 = make_conf(ALG_WEIGHTED_ROUND_ROBIN, 4, w2, NULL);
	struct shm *s1 = shm_for(c1), *s2 = shm_for(c2);
	int seq1[56];
	unsigned i;

	ck_assert_int_eq(lb_init(c1, 0), 0);
	for (i = 0; i < 56; i++)
		seq1[i] = lb_choose(&c1->pools[0], s1, NULL);
	ck_assert_int_eq(lb_init(c2, 0), 0);
	for (i = 0; i < 56; i++)
		ck_assert_int_eq(lb_choose(&c2->pools[0], s2, NULL), seq1[i]);
	lb_free();
	shm_destroy(s1);
	shm_destroy(s2);
	free_conf(c1);
	free_conf(c2);
}
END_TEST

START_TEST(weighted_global_across_workers)
{
	static const unsigned w[] = { 5, 1, 1 };
	struct conf *c = make_conf(ALG_WEIGHTED_ROUND_ROBIN, 3, w, NULL);
	struct shm *s = shm_for(c);
	uint64_t totals[3] = { 0 };

	run_workers(c, s, 3, 70, totals);
	ck_assert_uint_eq(totals[0], 150);
	ck_assert_uint_eq(totals[1], 30);
	ck_assert_uint_eq(totals[2], 30);
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(weighted_down_keeps_proportion)
{
	static const unsigned w[] = { 5, 1, 3 };
	struct conf *c = make_conf(ALG_WEIGHTED_ROUND_ROBIN, 3, w, NULL);
	struct shm *s = shm_for(c);
	unsigned count[3] = { 0 }, i;

	ck_assert_int_eq(lb_init(c, 0), 0);
	set_down(s, 0);
	/* 9000 turns: b and c keep their 1:3, with a's turns by weight. */
	for (i = 0; i < 9000; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	ck_assert_uint_eq(count[0], 0);
	ck_assert_uint_ge(count[1], 2250 - 250);
	ck_assert_uint_le(count[1], 2250 + 250);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* ---- least connections --------------------------------------------------- */

START_TEST(least_conn_sums_slots)
{
	struct conf *c = make_conf(ALG_LEAST_CONN, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	unsigned i;

	ck_assert_int_eq(lb_init(c, 0), 0);
	/* Server 0: 1 + 1 + 1 = 3 over three slots; 1: 2 on slot 3 alone;
	   2: 4 on slot 0.  Slot by slot, 0 would look least loaded. */
	set_active(s, 0, 0, 1);
	set_active(s, 1, 0, 1);
	set_active(s, 2, 0, 1);
	set_active(s, 3, 1, 2);
	set_active(s, 0, 2, 4);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(lb_choose(&c->pools[0], s, NULL), 1);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(least_conn_ties_go_round)
{
	struct conf *c = make_conf(ALG_LEAST_CONN, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	unsigned count[3] = { 0 }, i;

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 300; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(count[i], 100);
	/* A busy server's turns are shared by the two that tie, not all
	   given to the one after it. */
	memset(count, 0, sizeof(count));
	set_active(s, 2, 2, 7);
	for (i = 0; i < 300; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	ck_assert_uint_eq(count[0], 150);
	ck_assert_uint_eq(count[1], 150);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(least_conn_weighted)
{
	static const unsigned w[] = { 5, 1, 1 };
	struct conf *c = make_conf(ALG_LEAST_CONN, 3, w, NULL);
	struct shm *s = shm_for(c);
	unsigned i, id;

	ck_assert_int_eq(lb_init(c, 0), 0);
	/* active / weight: 5/5 = 1 beats 2/1 and 3/1. */
	set_active(s, 1, 0, 5);
	set_active(s, 2, 1, 2);
	set_active(s, 3, 2, 3);
	ck_assert_int_eq(lb_choose(&c->pools[0], s, NULL), 0);
	/* Requests that stay open fill the servers 5:1:1. */
	for (i = 0; i < 3; i++)
		set_active(s, i + 1, i, 0);
	for (i = 0; i < 70; i++) {
		id = (unsigned)lb_choose(&c->pools[0], s, NULL);
		set_active(s, i % NSLOTS, id,
		    atomic_load(&shm_server_counters(s, i % NSLOTS,
		    id)->active) + 1);
	}
	ck_assert_uint_eq(shm_server_active(s, 0), 50);
	ck_assert_uint_eq(shm_server_active(s, 1), 10);
	ck_assert_uint_eq(shm_server_active(s, 2), 10);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* ---- random and power of two -------------------------------------------- */

START_TEST(random_by_weight)
{
	static const unsigned w[] = { 1, 2, 3, 4 };
	struct conf *c = make_conf(ALG_RANDOM, 4, w, NULL);
	struct shm *s = shm_for(c);
	unsigned count[4] = { 0 }, i;

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 100000; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	/* Expected 10k, 20k, 30k, 40k; the bound is over 10 sigma. */
	for (i = 0; i < 4; i++) {
		ck_assert_uint_ge(count[i], 10000 * w[i] - 1500);
		ck_assert_uint_le(count[i], 10000 * w[i] + 1500);
	}
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(random_workers_differ)
{
	struct conf *c = make_conf(ALG_RANDOM, 8, NULL, NULL);
	struct shm *s = shm_for(c);
	int a[32];
	unsigned i, same = 0;

	/* Two workers seeded apart must not draw the same sequence. */
	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 32; i++)
		a[i] = lb_choose(&c->pools[0], s, NULL);
	ck_assert_int_eq(lb_init(c, 1), 0);
	for (i = 0; i < 32; i++)
		same += lb_choose(&c->pools[0], s, NULL) == a[i];
	ck_assert_uint_lt(same, 20);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(power_of_two_avoids_most_loaded)
{
	struct conf *c = make_conf(ALG_POWER_OF_TWO, 5, NULL, NULL);
	struct shm *s = shm_for(c);
	unsigned count[5] = { 0 }, i;

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 5; i++)
		set_active(s, i % NSLOTS, i, i);
	for (i = 0; i < 20000; i++)
		count[lb_choose(&c->pools[0], s, NULL)]++;
	ck_assert_uint_eq(count[4], 0);
	/* The idle one wins every draw it is in: 2/5 of them. */
	ck_assert_uint_ge(count[0], 8000 - 800);
	ck_assert_uint_le(count[0], 8000 + 800);
	ck_assert_uint_gt(count[3], 0);

	/* Two servers: always the less loaded, per unit of weight. */
	c->servers[0].weight = 4;
	c->pools[0].nservers = 2;
	ck_assert_int_eq(lb_init(c, 0), 0);
	set_active(s, 0, 0, 6);		/* 6/4 */
	set_active(s, 1, 1, 2);		/* 2/1 */
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(lb_choose(&c->pools[0], s, NULL), 0);
	set_active(s, 2, 0, 3);		/* 9/4 */
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(lb_choose(&c->pools[0], s, NULL), 1);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* ---- ip_hash ------------------------------------------------------------- */

START_TEST(ip_hash_stable_v4_v6)
{
	struct conf *c = make_conf(ALG_IP_HASH, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	struct sockaddr_in a4;
	struct sockaddr_in6 a6, m6;
	unsigned count[3] = { 0 }, i, k;
	int first[64], id;
	char text[64];

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 64; i++) {
		snprintf(text, sizeof(text), "127.0.%u.%u", i / 8, 2 + i);
		a4 = v4(text);
		first[i] = choose_client(c, s, &a4);
		ck_assert_int_ge(first[i], 0);
	}
	/* Stable across calls, and across workers (another seed). */
	ck_assert_int_eq(lb_init(c, 3), 0);
	for (k = 0; k < 5; k++)
		for (i = 0; i < 64; i++) {
			snprintf(text, sizeof(text), "127.0.%u.%u", i / 8,
			    2 + i);
			a4 = v4(text);
			ck_assert_int_eq(choose_client(c, s, &a4), first[i]);
		}
	/* An IPv4-mapped IPv6 client is the IPv4 client. */
	a4 = v4("192.0.2.77");
	m6 = v6("::ffff:192.0.2.77");
	ck_assert_int_eq(choose_client(c, s, &m6), choose_client(c, s, &a4));
	/* IPv6: all 16 bytes count, and the choice is stable. */
	for (i = 0; i < 3000; i++) {
		snprintf(text, sizeof(text), "2001:db8::%x:%x", i >> 8,
		    i & 0xff);
		a6 = v6(text);
		id = choose_client(c, s, &a6);
		ck_assert_int_eq(choose_client(c, s, &a6), id);
		count[id]++;
	}
	for (i = 0; i < 3; i++) {
		ck_assert_uint_ge(count[i], 1000 - 200);
		ck_assert_uint_le(count[i], 1000 + 200);
	}
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(ip_hash_whole_v4_address)
{
	struct conf *c = make_conf(ALG_IP_HASH, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	struct sockaddr_in a4;
	unsigned count[3] = { 0 }, i;
	char text[32];

	ck_assert_int_eq(lb_init(c, 0), 0);
	/* One /24 spreads over the pool (nginx would pin it to one). */
	for (i = 0; i < 256; i++) {
		snprintf(text, sizeof(text), "10.1.2.%u", i);
		a4 = v4(text);
		count[choose_client(c, s, &a4)]++;
	}
	for (i = 0; i < 3; i++)
		ck_assert_uint_ge(count[i], 40);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(ip_hash_down_moves_only_its_clients)
{
	static const unsigned w[] = { 1, 1, 1, 1 };
	struct conf *c = make_conf(ALG_IP_HASH, 4, w, NULL);
	struct shm *s = shm_for(c);
	struct sockaddr_in a4;
	int before[1000], id;
	unsigned i, moved = 0;
	char text[32];

	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "10.9.%u.%u", i / 250, i % 250);
		a4 = v4(text);
		before[i] = choose_client(c, s, &a4);
	}
	set_down(s, 2);
	for (i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "10.9.%u.%u", i / 250, i % 250);
		a4 = v4(text);
		id = choose_client(c, s, &a4);
		ck_assert_int_ne(id, 2);
		if (before[i] != 2)
			ck_assert_int_eq(id, before[i]);
		else
			moved++;
		/* The new home is deterministic. */
		ck_assert_int_eq(choose_client(c, s, &a4), id);
	}
	ck_assert_uint_gt(moved, 150);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* ---- consistent hash: the figures --------------------------------------- */

/* Maps NKEYS keys "user-K" to server names' indexes in `names`. */
static void
map_keys(const struct conf *c, const struct shm *s, uint8_t *home)
{
	const char *errstr;
	char key[32];
	long long n;
	unsigned k;
	int id;

	for (k = 0; k < NKEYS; k++) {
		snprintf(key, sizeof(key), "user-%u", k);
		id = choose_key(c, s, key);
		ck_assert_int_ge(id, 0);
		/* Names are "sN": keep N, so maps of two pools compare. */
		n = strtonum(c->servers[id].name + 1, 0, UINT8_MAX, &errstr);
		ck_assert_msg(errstr == NULL, "server name %s",
		    c->servers[id].name);
		home[k] = (uint8_t)n;
	}
}

START_TEST(consistent_hash_balance)
{
	struct conf *c = make_conf(ALG_CONSISTENT_HASH, 10, NULL, NULL);
	struct shm *s = shm_for(c);
	unsigned count[10] = { 0 }, i, max = 0;
	uint8_t *home = malloc(NKEYS);

	ck_assert_ptr_nonnull(home);
	ck_assert_int_eq(lb_init(c, 0), 0);
	map_keys(c, s, home);
	for (i = 0; i < NKEYS; i++)
		count[home[i]]++;
	for (i = 0; i < 10; i++)
		if (count[i] > max)
			max = count[i];
	printf("consistent_hash: most loaded / mean = %.4f\n",
	    max / (NKEYS / 10.0));
	ck_assert_uint_le(max * 100, NKEYS / 10 * 105);
	free(home);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(consistent_hash_removal_moves_few)
{
	static const char *const nine[] = { "s0", "s1", "s2", "s3", "s4",
	    "s5", "s7", "s8", "s9" };
	struct conf *c10 = make_conf(ALG_CONSISTENT_HASH, 10, NULL, NULL);
	struct conf *c9 = make_conf(ALG_CONSISTENT_HASH, 9, NULL, nine);
	struct shm *s10 = shm_for(c10), *s9 = shm_for(c9);
	uint8_t *before = malloc(NKEYS), *after = malloc(NKEYS);
	unsigned k, moved = 0, wrongly = 0;

	ck_assert_ptr_nonnull(before);
	ck_assert_ptr_nonnull(after);
	ck_assert_int_eq(lb_init(c10, 0), 0);
	map_keys(c10, s10, before);
	ck_assert_int_eq(lb_init(c9, 0), 0);
	map_keys(c9, s9, after);
	for (k = 0; k < NKEYS; k++) {
		if (before[k] == after[k])
			continue;
		moved++;
		wrongly += before[k] != 6;
	}
	printf("consistent_hash: removing 1 of 10 servers moves %.2f%% "
	    "of keys (%.2f%% not its own)\n", moved * 100.0 / NKEYS,
	    wrongly * 100.0 / NKEYS);
	ck_assert_uint_le(moved * 100, NKEYS * 12);
	/* Every key of the removed server had to move. */
	ck_assert_uint_ge(moved * 100, NKEYS * 9);
	free(before);
	free(after);
	lb_free();
	shm_destroy(s10);
	shm_destroy(s9);
	free_conf(c10);
	free_conf(c9);
}
END_TEST

START_TEST(consistent_hash_down_moves_only_its_keys)
{
	struct conf *c = make_conf(ALG_CONSISTENT_HASH, 10, NULL, NULL);
	struct shm *s = shm_for(c);
	uint8_t *before = malloc(NKEYS), *after = malloc(NKEYS);
	unsigned k, moved = 0, count[10] = { 0 };

	ck_assert_ptr_nonnull(before);
	ck_assert_ptr_nonnull(after);
	ck_assert_int_eq(lb_init(c, 0), 0);
	map_keys(c, s, before);
	set_down(s, 4);
	map_keys(c, s, after);
	for (k = 0; k < NKEYS; k++) {
		ck_assert_uint_ne(after[k], 4);
		if (before[k] != 4)
			ck_assert_uint_eq(after[k], before[k]);
		else {
			moved++;
			count[after[k]]++;
		}
	}
	/* The down server's keys spread over the nine others. */
	for (k = 0; k < 10; k++)
		if (k != 4)
			ck_assert_uint_ge(count[k] * 9 * 2, moved);
	free(before);
	free(after);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(consistent_hash_weights)
{
	static const unsigned w[] = { 1, 2, 3, 4, 5, 1, 2, 3, 4, 5 };
	struct conf *c = make_conf(ALG_CONSISTENT_HASH, 10, w, NULL);
	struct shm *s = shm_for(c);
	uint8_t *home = malloc(NKEYS);
	unsigned count[10] = { 0 }, i;
	double expect, worst = 0, dev;

	ck_assert_ptr_nonnull(home);
	ck_assert_int_eq(lb_init(c, 0), 0);
	map_keys(c, s, home);
	for (i = 0; i < NKEYS; i++)
		count[home[i]]++;
	for (i = 0; i < 10; i++) {
		expect = NKEYS * w[i] / 30.0;
		dev = count[i] / expect - 1;
		if (dev < 0)
			dev = -dev;
		if (dev > worst)
			worst = dev;
		ck_assert_msg(dev <= 0.05, "server %u: %u keys, expected %.0f",
		    i, count[i], expect);
	}
	printf("consistent_hash: weights 1..5: worst share off by %.2f%%\n",
	    worst * 100);
	free(home);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(consistent_hash_keys_and_fallback)
{
	struct conf *c = make_conf(ALG_CONSISTENT_HASH, 3, NULL, NULL);
	struct shm *s = shm_for(c);
	struct lb_request req = { 0 };
	struct sockaddr_in a4 = v4("127.0.0.9");
	unsigned count[3] = { 0 }, i;
	int id;

	ck_assert_int_eq(lb_init(c, 0), 0);
	id = choose_key(c, s, "session-abc");
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(choose_key(c, s, "session-abc"), id);
	/* No key (header absent): round robin. */
	for (i = 0; i < 300; i++)
		count[lb_choose(&c->pools[0], s, &req)]++;
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(count[i], 100);
	/* hash_key = client_ip reads the address, not the key. */
	c->pools[0].hash_key = HASH_CLIENT_IP;
	req.client = (const struct sockaddr *)&a4;
	id = lb_choose(&c->pools[0], s, &req);
	req.key = "anything";
	req.key_len = 8;
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(lb_choose(&c->pools[0], s, &req), id);
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

START_TEST(maglev_table_balanced)
{
	static const unsigned w[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct conf *c = make_conf(ALG_CONSISTENT_HASH, 10, w, NULL);
	struct maglev m;
	unsigned count[10] = { 0 }, i;

	ck_assert_int_eq(maglev_build(&m, &c->pools[0]), 0);
	ck_assert_uint_eq(m.size, MAGLEV_MIN_SIZE);
	for (i = 0; i < m.size; i++) {
		ck_assert_uint_lt(m.entry[i], 10);
		count[m.entry[i]]++;
	}
	for (i = 0; i < 10; i++) {
		ck_assert_uint_ge(count[i], m.size / 10);
		ck_assert_uint_le(count[i], m.size / 10 + 1);
	}
	/* The same names give the same table. */
	ck_assert_uint_eq(maglev_hash("s1", 2, 7), maglev_hash("s1", 2, 7));
	ck_assert_uint_ne(maglev_hash("s1", 2, 7), maglev_hash("s1", 2, 8));
	ck_assert_uint_ne(maglev_hash("a", 1, 0), maglev_hash("a\0", 2, 0));
	maglev_free(&m);
	free_conf(c);
}
END_TEST

/* ---- every algorithm: skipping and none left ----------------------------- */

START_TEST(every_algorithm_skips_down_capped_tried)
{
	struct conf *c;
	struct shm *s;
	struct sockaddr_in a4;
	struct lb_request req;
	unsigned tried[] = { 2 }, k, i;
	char text[32], key[32];

	for (k = 0; k < NALGORITHMS; k++) {
		c = make_conf(all_algorithms[k], 4, NULL, NULL);
		s = shm_for(c);
		ck_assert_int_eq(lb_init(c, 0), 0);
		set_down(s, 0);
		c->servers[1].max_conns = 3;
		set_active(s, 1, 1, 2);
		set_active(s, 2, 1, 1);		/* 3 over two slots: full */
		for (i = 0; i < 200; i++) {
			snprintf(text, sizeof(text), "10.0.%u.%u", i / 100,
			    i % 100);
			snprintf(key, sizeof(key), "k%u", i);
			a4 = v4(text);
			memset(&req, 0, sizeof(req));
			req.client = (const struct sockaddr *)&a4;
			req.key = key;
			req.key_len = strlen(key);
			req.tried = tried;
			req.ntried = 1;
			ck_assert_msg(lb_choose(&c->pools[0], s, &req) == 3,
			    "algorithm %s, request %u",
			    algorithm_names[k], i);
		}
		/* Under its cap again: server 1 comes back. */
		set_active(s, 2, 1, 0);
		for (i = 0; i < 50; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			req.key = key;
			req.key_len = strlen(key);
			ck_assert_int_ne(lb_choose(&c->pools[0], s, &req), 0);
		}
		lb_free();
		shm_destroy(s);
		free_conf(c);
	}
}
END_TEST

START_TEST(every_algorithm_none_left)
{
	struct conf *c;
	struct shm *s;
	struct sockaddr_in6 a6 = v6("2001:db8::1");
	struct lb_request req = { .client = (const struct sockaddr *)&a6,
	    .key = "/index.html", .key_len = 11 };
	unsigned tried[] = { 1 }, k, i;

	for (k = 0; k < NALGORITHMS; k++) {
		c = make_conf(all_algorithms[k], 3, NULL, NULL);
		s = shm_for(c);
		ck_assert_int_eq(lb_init(c, 0), 0);
		/* 0 down, 1 tried, 2 at its cap. */
		set_down(s, 0);
		c->servers[2].max_conns = 1;
		set_active(s, 3, 2, 1);
		req.tried = tried;
		req.ntried = 1;
		for (i = 0; i < 20; i++)
			ck_assert_int_eq(lb_choose(&c->pools[0], s, &req), -1);
		/* Every server down. */
		req.ntried = 0;
		set_down(s, 1);
		set_down(s, 2);
		ck_assert_int_eq(lb_choose(&c->pools[0], s, &req), -1);
		lb_free();
		shm_destroy(s);
		free_conf(c);
	}
}
END_TEST

START_TEST(pools_have_their_own_cursor)
{
	struct conf *c = make_conf(ALG_ROUND_ROBIN, 6, NULL, NULL);
	struct shm *s;
	struct conf_pool *p0 = &c->pools[0], *p1 = &c->pools[1];
	unsigned i;

	/* Pool "web" gets servers 0..2, pool "api" servers 3..5. */
	p0->nservers = 3;
	*p1 = *p0;
	snprintf(p1->name, sizeof(p1->name), "api");
	p1->id = 1;
	p1->algorithm = ALG_WEIGHTED_ROUND_ROBIN;
	p1->servers = &c->servers[3];
	for (i = 3; i < 6; i++)
		c->servers[i].pool = p1;
	c->npools = 2;
	s = shm_for(c);
	ck_assert_int_eq(lb_init(c, 0), 0);
	for (i = 0; i < 30; i++) {
		ck_assert_int_eq(lb_choose(p0, s, NULL), (int)(i % 3));
		ck_assert_int_eq(lb_choose(p1, s, NULL), (int)(3 + i % 3));
	}
	lb_free();
	shm_destroy(s);
	free_conf(c);
}
END_TEST

/* ---- cookies ------------------------------------------------------------- */

static const char *
cookie(const char *header, const char *name, char *out, size_t outlen)
{
	const char *v;
	size_t len;

	if ((v = lb_cookie_value(header, strlen(header), name, &len)) == NULL)
		return NULL;
	ck_assert_uint_lt(len, outlen);
	memcpy(out, v, len);
	out[len] = '\0';
	return out;
}

START_TEST(cookie_values)
{
	char buf[64];

	ck_assert_str_eq(cookie("a=1; b=2", "a", buf, sizeof(buf)), "1");
	ck_assert_str_eq(cookie("a=1; b=2", "b", buf, sizeof(buf)), "2");
	ck_assert_ptr_null(cookie("a=1; b=2", "c", buf, sizeof(buf)));
	/* Names match whole and case-sensitively. */
	ck_assert_ptr_null(cookie("ab=1; B=2", "b", buf, sizeof(buf)));
	ck_assert_ptr_null(cookie("sid=1", "si", buf, sizeof(buf)));
	ck_assert_str_eq(cookie("xsid=1; sid=2", "sid", buf, sizeof(buf)),
	    "2");
	/* Lenient spacing, quotes stripped, '=' inside a value kept. */
	ck_assert_str_eq(cookie("  a = 1 ;b=\"q v\";c=x=y", "a", buf,
	    sizeof(buf)), "1");
	ck_assert_str_eq(cookie("a=1;b=\"q v\"", "b", buf, sizeof(buf)),
	    "q v");
	ck_assert_str_eq(cookie("a=1;c=x=y", "c", buf, sizeof(buf)), "x=y");
	/* Empty value, first of duplicates, pairs without '=' ignored. */
	ck_assert_str_eq(cookie("e=; f=2", "e", buf, sizeof(buf)), "");
	ck_assert_str_eq(cookie("d=1; d=2", "d", buf, sizeof(buf)), "1");
	ck_assert_str_eq(cookie("junk; g=7;", "g", buf, sizeof(buf)), "7");
	ck_assert_ptr_null(cookie("junk", "junk", buf, sizeof(buf)));
	ck_assert_ptr_null(cookie("", "a", buf, sizeof(buf)));
	ck_assert_ptr_null(cookie("=5", "", buf, sizeof(buf)));
	/* The value ends at the length given, not at a NUL. */
	{
		const char *v;
		size_t len;

		v = lb_cookie_value("k=abcdef; z=1", 5, "k", &len);
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(len, 3);
		ck_assert_int_eq(memcmp(v, "abc", 3), 0);
	}
}
END_TEST

static Suite *
balance_suite(void)
{
	Suite *s = suite_create("balance");
	TCase *tc;

	tc = tcase_create("round_robin");
	tcase_add_test(tc, round_robin_exact);
	tcase_add_test(tc, round_robin_down_share_even);
	tcase_add_test(tc, round_robin_global_across_workers);
	tcase_add_test(tc, pools_have_their_own_cursor);
	suite_add_tcase(s, tc);

	tc = tcase_create("weighted_round_robin");
	tcase_add_test(tc, weighted_smooth_sequence);
	tcase_add_test(tc, weighted_matches_nginx_rule);
	tcase_add_test(tc, weighted_gcd_same_order);
	tcase_add_test(tc, weighted_global_across_workers);
	tcase_add_test(tc, weighted_down_keeps_proportion);
	suite_add_tcase(s, tc);

	tc = tcase_create("least_conn");
	tcase_add_test(tc, least_conn_sums_slots);
	tcase_add_test(tc, least_conn_ties_go_round);
	tcase_add_test(tc, least_conn_weighted);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_test(tc, random_by_weight);
	tcase_add_test(tc, random_workers_differ);
	tcase_add_test(tc, power_of_two_avoids_most_loaded);
	suite_add_tcase(s, tc);

	tc = tcase_create("ip_hash");
	tcase_add_test(tc, ip_hash_stable_v4_v6);
	tcase_add_test(tc, ip_hash_whole_v4_address);
	tcase_add_test(tc, ip_hash_down_moves_only_its_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("consistent_hash");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, consistent_hash_balance);
	tcase_add_test(tc, consistent_hash_removal_moves_few);
	tcase_add_test(tc, consistent_hash_down_moves_only_its_keys);
	tcase_add_test(tc, consistent_hash_weights);
	tcase_add_test(tc, consistent_hash_keys_and_fallback);
	tcase_add_test(tc, maglev_table_balanced);
	suite_add_tcase(s, tc);

	tc = tcase_create("availability");
	tcase_add_test(tc, every_algorithm_skips_down_capped_tried);
	tcase_add_test(tc, every_algorithm_none_left);
	suite_add_tcase(s, tc);

	tc = tcase_create("cookie");
	tcase_add_test(tc, cookie_values);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(balance_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
