/*
 * What the fuzz harnesses share: the libFuzzer entry point each defines,
 * and the check that stops a run when a parser breaks one of its promises.
 * Each harness is built twice: with clang -fsanitize=fuzzer (make fuzz),
 * and with replay.c and any compiler (make check), which feeds it every
 * file of its seed corpus.
 */
#ifndef FORKLIFT_FUZZ_H
#define FORKLIFT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
