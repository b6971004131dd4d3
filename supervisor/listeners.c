/*
 * The table of listening sockets the supervisor owns, keyed by address and
 * slot.  See listeners.h for the contract.
 */
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "common/net.h"
#include "supervisor/listeners.h"

/* Room for a reload that replaces every address at once. */
#define MAX_BOUND	(2 * (CONF_MAX_LISTENERS + 1))

struct bound {
	struct conf_addr addr;
	int		 fds[CONF_MAX_WORKERS];	/* -1 = not open */
	bool		 used;
};

static struct bound	table[MAX_BOUND];
static unsigned		ntable;

static bool
same_addr(const struct conf_addr *a, const struct conf_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static struct bound *
find(const struct conf_addr *addr)
{
	unsigned i;

	for (i = 0; i < ntable; i++)
		if (same_addr(&table[i].addr, addr))
			return &table[i];
	return NULL;
}

static struct bound *
find_or_add(const struct conf_addr *addr)
{
	struct bound *b;
	unsigned i;

	if ((b = find(addr)) != NULL)
		return b;
	if (ntable == MAX_BOUND)
		return NULL;
	b = &table[ntable++];
	b->addr = *addr;
	for (i = 0; i < CONF_MAX_WORKERS; i++)
		b->fds[i] = -1;
	return b;
}

/* Drops entries with no socket left, keeping the table dense. */
static void
compact(void)
{
	unsigned i, j, k;

	for (i = j = 0; i < ntable; i++) {
		for (k = 0; k < CONF_MAX_WORKERS; k++)
			if (table[i].fds[k] != -1)
				break;
		if (k < CONF_MAX_WORKERS)
			table[j++] = table[i];
	}
	ntable = j;
}

/* Opens the missing sockets of one address; records what it opened. */
static int
open_addr(const struct conf_addr *addr, unsigned nslots, int *opened,
    unsigned *nopened, char *err, size_t errlen)
{
	struct bound *b;
	unsigned slot;
	int fd;

	if ((b = find_or_add(addr)) == NULL) {
		strlcpy(err, "too many listening addresses", errlen);
		return -1;
	}
	for (slot = 0; slot < nslots; slot++) {
		if (b->fds[slot] != -1)
			continue;
		fd = net_listen(&addr->ss, addr->len, 1, err, errlen);
		if (fd == -1)
			return -1;
		b->fds[slot] = fd;
		opened[(*nopened)++] = fd;
	}
	return 0;
}

static void
undo(const int *opened, unsigned nopened)
{
	unsigned i, j, k;

	for (i = 0; i < nopened; i++)
		for (j = 0; j < ntable; j++)
			for (k = 0; k < CONF_MAX_WORKERS; k++)
				if (table[j].fds[k] == opened[i]) {
					close(opened[i]);
					table[j].fds[k] = -1;
				}
	compact();
}

int
listeners_open(const struct conf *conf, char *err, size_t errlen)
{
	int opened[(CONF_MAX_LISTENERS + 1) * CONF_MAX_WORKERS];
	unsigned i, nopened = 0;

	for (i = 0; i < conf->nlisteners; i++)
		if (open_addr(&conf->listeners[i].bind, conf->workers, opened,
		    &nopened, err, errlen) == -1)
			goto fail;
	if (conf->has_admin && open_addr(&conf->admin_bind, conf->workers,
	    opened, &nopened, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	undo(opened, nopened);
	return -1;
}

unsigned
listeners_retire(const struct conf *conf)
{
	struct bound *b;
	unsigned i, slot, closed = 0;

	for (i = 0; i < ntable; i++)
		table[i].used = false;
	for (i = 0; i < conf->nlisteners; i++)
		if ((b = find(&conf->listeners[i].bind)) != NULL)
			b->used = true;
	if (conf->has_admin && (b = find(&conf->admin_bind)) != NULL)
		b->used = true;
	for (i = 0; i < ntable; i++)
		for (slot = 0; slot < CONF_MAX_WORKERS; slot++) {
			if (table[i].fds[slot] == -1)
				continue;
			if (table[i].used && slot < conf->workers)
				continue;
			close(table[i].fds[slot]);
			table[i].fds[slot] = -1;
			closed++;
		}
	compact();
	return closed;
}

void
listeners_slot(const struct conf *conf, unsigned slot, int *fds,
    int *admin_fd)
{
	struct bound *b;
	unsigned i;

	for (i = 0; i < conf->nlisteners; i++) {
		b = find(&conf->listeners[i].bind);
		fds[i] = b != NULL ? b->fds[slot] : -1;
	}
	*admin_fd = -1;
	if (conf->has_admin && (b = find(&conf->admin_bind)) != NULL)
		*admin_fd = b->fds[slot];
}

void
listeners_close_except(const int *keep, unsigned nkeep)
{
	unsigned i, slot, k;
	int fd;

	for (i = 0; i < ntable; i++)
		for (slot = 0; slot < CONF_MAX_WORKERS; slot++) {
			if ((fd = table[i].fds[slot]) == -1)
				continue;
			for (k = 0; k < nkeep; k++)
				if (keep[k] == fd)
					break;
			if (k == nkeep)
				close(fd);
			table[i].fds[slot] = -1;
		}
	ntable = 0;
}

void
listeners_close_all(void)
{
	listeners_close_except(NULL, 0);
}
