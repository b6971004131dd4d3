/*
 * The buffer cache: a LIFO stack of free buffers, so the buffer a request
 * takes is the one the last request warmed.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker/buffer.h"

static struct buf	*free_list;
static unsigned		 nfree;
static unsigned		 cache_limit;
static uint32_t		 buf_cap;

void
buf_init(size_t cap, unsigned cache_max)
{
	if (cap == 0 || cap > INT32_MAX)
		fatalx("buf_init: bad capacity %zu", cap);
	buf_cap = (uint32_t)cap;
	cache_limit = cache_max;
}

struct buf *
buf_get(void)
{
	struct buf *b;

	if ((b = free_list) != NULL) {
		free_list = b->next;
		nfree--;
	} else if ((b = malloc(sizeof(*b) + buf_cap)) == NULL)
		return NULL;
	b->next = NULL;
	b->off = b->len = 0;
	b->cap = buf_cap;
	return b;
}

void
buf_put(struct buf *b)
{
	if (b == NULL)
		return;
	if (nfree >= cache_limit) {
		free(b);
		return;
	}
	b->next = free_list;
	free_list = b;
	nfree++;
}

uint32_t
buf_compact(struct buf *b, uint32_t to)
{
	uint32_t shift;

	if (to > b->off)
		fatalx("buf_compact: %u past offset %u", to, b->off);
	shift = b->off - to;
	if (shift == 0)
		return 0;
	if (b->len > b->off)
		memmove(b->data + to, b->data + b->off, b->len - b->off);
	b->off -= shift;
	b->len -= shift;
	return shift;
}
