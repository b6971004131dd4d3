/*
 * The proxy's byte buffers: all of one size, taken from and given back to
 * a bounded cache of free ones, so that a warm worker allocates nothing per
 * request and an idle connection holds no buffer at all.
 *
 * A buffer holds the bytes [off, len) of data[0..cap); what lies before off
 * has been consumed.  The owner decides what the offsets mean beyond that.
 */
#ifndef FORKLIFT_BUFFER_H
#define FORKLIFT_BUFFER_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	struct buf	*next;		/* in the free cache */
	uint32_t	 off;		/* first byte not yet consumed */
	uint32_t	 len;		/* end of the bytes held */
	uint32_t	 cap;
	char		 data[];
};

/*
 * Sets the capacity of every buffer (bytes, below 2 GiB) and how many free
 * ones are kept for reuse; the rest go back to malloc.  Call once, before
 * the first buf_get().
 */
void		 buf_init(size_t cap, unsigned cache_max);

/* An empty buffer (off = len = 0), or NULL when out of memory. */
struct buf	*buf_get(void);

/* Gives `b` back; NULL is fine. */
void		 buf_put(struct buf *b);

/*
 * Moves the bytes [off, len) down to offset `to` (at most off) and returns
 * by how much they moved, so the caller can shift offsets of its own.
 */
uint32_t	 buf_compact(struct buf *b, uint32_t to);

static inline uint32_t
buf_room(const struct buf *b)
{
	return b->cap - b->len;
}

#endif
