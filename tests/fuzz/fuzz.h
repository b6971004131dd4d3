/*
 * What the fuzz harnesses share: the libFuzzer entry point each defines,
 * the check that stops a run when a parser breaks one of its promises,
 * and the way the head harnesses feed a parser its input in pieces.
 * Each harness is built twice: with clang -fsanitize=fuzzer (make fuzz),
 * and with replay.c and any compiler (make check), which feeds it every
 * file of its seed corpus.
 */
#ifndef FORKLIFT_FUZZ_H
#define FORKLIFT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one input; always returns 0 (libFuzzer's "keep going"). */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A broken promise is a finding: say which and abort, so that libFuzzer
 * saves the input and the replay driver exits non-zero.
 */
#define FUZZ_CHECK(cond)	do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s: check failed: %s\n",	\
		    __FILE__, __LINE__, __func__, #cond);		\
		abort();						\
	}								\
} while (0)

/*
 * A small generator seeded from the input (FNV-1a 64 of its bytes), so
 * that the splits and limits a harness derives are the same on every run
 * of the same input, as libFuzzer and a replay need.
 */
struct fuzz_rng {
	uint64_t	state;
};

static inline void
fuzz_rng_seed(struct fuzz_rng *r, const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	r->state = h | 1;
}

/* xorshift64*: a number in [0, n), n > 0. */
static inline size_t
fuzz_rng_below(struct fuzz_rng *r, size_t n)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return (size_t)((r->state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

/*
 * The first n bytes of data in a heap block of exactly n bytes, so that a
 * read past its end trips ASan; the caller frees it.
 */
static inline char *
fuzz_copy_exact(const uint8_t *data, size_t n)
{
	char *p;

	/* One byte more than asked for n == 0 only: malloc(0) may be NULL. */
	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(p, data, n);
	return p;
}

/* Times an incremental parse is given fewer bytes than the call before. */
#define FUZZ_MAX_BACKS		4

/*
 * Parses buf[0..len) for fuzz_walk_pieces and checks what it may of the
 * result; returns whether the parse wants more bytes (it is incomplete).
 */
typedef bool	(*fuzz_piece_fn)(void *arg, const char *buf, size_t len);

/*
 * Feeds growing prefixes of data to parse, each in a fresh block of its
 * exact size so that the buffer moves between calls, as a socket's would,
 * until parse wants no more bytes or has had them all.  Now and then, at
 * most FUZZ_MAX_BACKS times, a prefix is shorter than the one before.  The
 * lengths come from rng, so one input is always cut the same way.
 */
static inline void
fuzz_walk_pieces(const uint8_t *data, size_t size, struct fuzz_rng *rng,
    fuzz_piece_fn parse, void *arg)
{
	size_t have = 0, step, backs = 0;
	bool more;
	char *buf;

	/* Steps up to 64 bytes, longer in long inputs: each call copies the
	   whole prefix, and 16 pieces of a long head cut it well enough. */
	step = size / 16 > 64 ? size / 16 : 64;
	do {
		/* Now and then fewer bytes than before: the parse starts
		   over, and must still end as the whole one does. */
		if (have > 1 && backs < FUZZ_MAX_BACKS &&
		    fuzz_rng_below(rng, 8) == 0) {
			have = 1 + fuzz_rng_below(rng, have - 1);
			backs++;
		} else if ((have += 1 + fuzz_rng_below(rng, step)) > size)
			have = size;
		buf = fuzz_copy_exact(data, have);
		more = parse(arg, buf, have);
		free(buf);
	} while (more && have < size);
}

#endif
