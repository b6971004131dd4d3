/*
 * Private to the configuration loader, common/config*.c: the state of one
 * conf_load() call and the calls between its three files.  config.c reads
 * the file and owns the sections and the checks across them; config_keys.c
 * owns the keys (table, defaults, value syntax, setters); config_server.c
 * owns the `server =` line and addresses.  Nothing else includes this.
 */
#ifndef FORKLIFT_CONFIG_INT_H
#define FORKLIFT_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/config.h"

/* The longest section header we look at ("[pool NAME]" is far shorter). */
#define SECTION_TEXT_MAX	128
/* Room for the keys of the key table, checked at compile time. */
#define KEYS_MAX		32

enum section {
	SEC_NONE,
	SEC_GLOBAL,
	SEC_LISTEN,
	SEC_ADMIN,
	SEC_POOL,
};

/* What the loader knows about a listener beyond struct conf_listener. */
struct parse_listener {
	char		 pool[CONF_NAME_MAX];	/* resolved once all is read */
	int		 pool_line;
	int		 bind_line;
};

/* The state of one conf_load() call. */
struct parser {
	struct conf	*conf;
	FILE		*fp;
	const char	*path;
	char		*err;
	size_t		 errlen;
	bool		 failed;
	int		 errline;	/* line of the error; 0 if none */
	int		 lineno;	/* lines handed to inih so far */

	enum section	 sec;		/* the section being read */
	int		 sec_line;
	char		 sec_label[SECTION_TEXT_MAX + 4];	/* "[pool a]" */
	int		 key_line[KEYS_MAX];	/* by key table index: where
						   it was set, 0 = not yet */

	bool		 seen_global;
	int		 admin_line;	/* 0 = no [admin] */
	int		 admin_bind_line;
	bool		 admin_done;	/* [admin] closed: its bind is final */
	struct parse_listener lis[CONF_MAX_LISTENERS];
	unsigned	 first_server[CONF_MAX_POOLS];
	size_t		 servers_cap;
};

/* The section being read, once its header has opened it. */
static inline struct conf_listener *
conf_cur_listener(struct parser *p)
{
	return &p->conf->listeners[p->conf->nlisteners - 1];
}

static inline struct conf_pool *
conf_cur_pool(struct parser *p)
{
	return &p->conf->pools[p->conf->npools - 1];
}

/* config.c */

/*
 * Records the first error only: "FILE:LINE: msg", or "FILE: msg" when line
 * is 0.  Later calls are ignored so that the first error wins.
 */
void		 conf_error(struct parser *, int line, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* Writes "[listen]" or "[listen NAME]" into buf; returns buf. */
const char	*conf_listener_label(const struct conf_listener *, char *buf,
		    size_t len);

/* config_keys.c */

/* Fill a new struct conf, listener or pool with the defaults. */
void		 conf_defaults_global(struct conf *);
void		 conf_defaults_listener(struct conf_listener *);
void		 conf_defaults_pool(struct conf_pool *);
/*
 * Sets key = value in the section being read: an unknown key, a key given
 * twice (but `server`) or a bad value is an error on the current line.
 * Returns 0, or -1 once conf_error() has been called.
 */
int		 conf_key_set(struct parser *, const char *key,
		    const char *value);
/* The line where a key of `sec` was set in the section being read, or 0. */
int		 conf_key_line(const struct parser *, enum section,
		    const char *key);

/* config_server.c */

/* Whether two binds would take the same port: equal, or one a wildcard. */
bool		 conf_addr_overlap(const struct conf_addr *,
		    const struct conf_addr *);

#endif
