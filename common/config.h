/*
 * The configuration: an INI file (see forklift.ini(5)) parsed with inih into
 * one struct conf.  A struct conf is immutable once conf_load() returns it;
 * children inherit it across fork() and never change it.  A reload builds a
 * new struct conf beside the old one.
 */
#ifndef FORKLIFT_CONFIG_H
#define FORKLIFT_CONFIG_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_DEFAULT_PATH	"/etc/forklift/forklift.ini"

#define CONF_NAME_MAX		64	/* pool, server, listener names */
#define CONF_ADDR_MAX		64	/* "[ffff:...:ffff]:65535" as written */
#define CONF_PATH_MAX		256	/* file paths and the health path */
#define CONF_MAX_WORKERS	64
#define CONF_MAX_LISTENERS	16
#define CONF_MAX_POOLS		64
#define CONF_MAX_SERVERS	1024	/* over all pools */
#define CONF_MAX_WEIGHT		256
#define CONF_MAX_ARGS		32	/* words of a managed server's run= */

enum conf_algorithm {
	ALG_ROUND_ROBIN,
	ALG_WEIGHTED_ROUND_ROBIN,
	ALG_LEAST_CONN,
	ALG_RANDOM,
	ALG_POWER_OF_TWO,
	ALG_IP_HASH,
	ALG_CONSISTENT_HASH,
};

enum conf_hash_key {
	HASH_CLIENT_IP,
	HASH_URI,
	HASH_HEADER,		/* header:NAME, NAME in hash_key_name */
	HASH_COOKIE,		/* cookie:NAME, NAME in hash_key_name */
};

enum conf_health_check {
	HEALTH_HTTP,		/* GET health_path */
	HEALTH_TCP,		/* connect only */
	HEALTH_OFF,
};

/* A socket address as written in the file, and resolved. */
struct conf_addr {
	char			 text[CONF_ADDR_MAX];	/* "127.0.0.1:9001" */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/*
 * A managed server: a local process the supervisor starts and restarts.
 * argv[] is run= split into words (no shell); argv[argc] is NULL.
 */
struct conf_run {
	char	*argv[CONF_MAX_ARGS + 1];
	int	 argc;
	char	 cwd[CONF_PATH_MAX];		/* "" = the supervisor's */
	char	*env[CONF_MAX_ARGS + 1];	/* "NAME=VALUE" added */
	int	 nenv;
	char	 user[CONF_NAME_MAX];		/* "" = global user */
	char	 line_text[512];		/* the whole server line, to
						   tell whether it changed */
};

struct conf_server {
	char		 name[CONF_NAME_MAX];
	struct conf_addr addr;
	unsigned	 weight;	/* 1..CONF_MAX_WEIGHT, default 1 */
	unsigned	 max_conns;	/* 0 = no cap */
	unsigned	 id;		/* index over all pools: the row of this
					   server in the shared tables */
	struct conf_pool *pool;
	struct conf_run	*run;		/* NULL unless managed */
	int		 line;
};

struct conf_pool {
	char		 name[CONF_NAME_MAX];
	enum conf_algorithm algorithm;
	enum conf_hash_key hash_key;
	char		 hash_key_name[CONF_NAME_MAX];
	unsigned	 connect_timeout_ms;
	unsigned	 server_timeout_ms;
	unsigned	 retries;
	unsigned	 keepalive;		/* idle upstream conns kept per
						   server per worker */
	unsigned	 keepalive_timeout_ms;	/* idle upstream lifetime */
	enum conf_health_check health_check;
	char		 health_path[CONF_PATH_MAX];
	unsigned	 health_interval_ms;
	unsigned	 health_timeout_ms;
	unsigned	 health_rise;
	unsigned	 health_fall;
	unsigned	 health_expect_lo;	/* status range, inclusive */
	unsigned	 health_expect_hi;
	struct conf_server *servers;	/* points into conf->servers */
	unsigned	 nservers;
	unsigned	 id;
	int		 line;
};

struct conf_listener {
	char		 name[CONF_NAME_MAX];	/* "" for a bare [listen] */
	struct conf_addr bind;
	struct conf_pool *pool;
	unsigned	 client_timeout_ms;
	size_t		 max_header_size;
	int		 line;
};

struct conf {
	char		 path[CONF_PATH_MAX];

	/* [global] */
	unsigned	 workers;		/* resolved: auto = online CPUs */
	bool		 daemon;
	char		 pidfile[CONF_PATH_MAX];
	char		 user[CONF_NAME_MAX];	/* "" = stay as started */
	char		 error_log[CONF_PATH_MAX];	/* syslog|stderr|path */
	char		 access_log[CONF_PATH_MAX];	/* "" = off */
	unsigned	 restart_intensity;
	unsigned	 restart_period_ms;
	unsigned	 shutdown_timeout_ms;
	unsigned	 max_connections;	/* client conns per worker */
	unsigned	 max_draining;		/* old generations at once */

	/* [admin]: has_admin false when the section is absent */
	bool		 has_admin;
	struct conf_addr admin_bind;

	struct conf_listener listeners[CONF_MAX_LISTENERS];
	unsigned	 nlisteners;
	struct conf_pool pools[CONF_MAX_POOLS];
	unsigned	 npools;
	struct conf_server *servers;	/* all pools' servers, by id */
	unsigned	 nservers;
};

/*
 * Reads and validates `path`.  On success returns a new struct conf that the
 * caller frees with conf_free().  On failure returns NULL and writes
 * "FILE:LINE: message" (or "FILE: message" when no line is to blame) to err.
 * Binds nothing and resolves only numeric addresses, so it is safe to run
 * beside a live daemon.
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
void		 conf_free(struct conf *);

/* Parses "250ms", "2s", "1m" or a bare number of milliseconds. */
int		 conf_parse_duration(const char *, unsigned *ms);
/* Parses "16k", "1m" or a bare number of bytes. */
int		 conf_parse_size(const char *, size_t *bytes);
/* Parses "127.0.0.1:80" or "[::1]:80" (numeric only). */
int		 conf_parse_addr(const char *, struct conf_addr *);

const char	*conf_algorithm_name(enum conf_algorithm);

/* Finds a server of `c` by pool and server name, or NULL. */
const struct conf_server *conf_find_server(const struct conf *c,
		    const char *pool, const char *server);

/*
 * Whether s is a name as pools, servers, listeners and users take:
 * 1 to CONF_NAME_MAX - 1 of A-Z a-z 0-9 - _ .
 */
bool		 conf_valid_name(const char *s);

/*
 * Parses the value of a `server =` line ("NAME ADDR [weight=N] ...", see
 * forklift.ini(5)) into s: name, addr, weight, max_conns and, with run=, a
 * calloc'd s->run that the caller frees with conf_run_free().  Leaves id,
 * pool and line alone.  On failure returns -1 with a message (no FILE:LINE
 * prefix) in err, and s->run is NULL.
 */
int		 conf_parse_server(const char *value, struct conf_server *s,
		    char *err, size_t errlen);
/* Frees a managed server's strings and the conf_run itself; NULL is fine. */
void		 conf_run_free(struct conf_run *);

#endif
