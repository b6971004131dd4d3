/*
 * The `server =` line of a [pool NAME] section, and what it is made of:
 * names, numeric addresses (and whether two of them would clash) and words.
 *
 *	server = NAME ADDR [weight=N] [max_conns=N] [run="CMD ARGS"]
 *	    [cwd=DIR] [env=NAME=VALUE]... [user=NAME]
 *
 * The line is split into words without a shell: blanks separate words,
 * double or single quotes group, and a backslash outside quotes or inside
 * double quotes takes the next character literally (single quotes take
 * everything literally).  The value of run= is unquoted by that first split
 * and then split again the same way into argv, so
 *	run="./app --name 'two words'"
 * runs ./app with the arguments --name and "two words".  Note that inih ends
 * a value at " ;", so a run= command cannot hold a blank followed by ';'.
 */

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/config_int.h"

/* The longest server line value we split (inih's lines are far shorter). */
#define SERVER_TEXT_MAX		512
/* Words of a server line: NAME, ADDR and one per option. */
#define SERVER_WORDS_MAX	(2 + 5 + CONF_MAX_ARGS)

/* Options of a server line, as bits of a set of those seen. */
enum server_opt {
	OPT_WEIGHT = 1 << 0,
	OPT_MAX_CONNS = 1 << 1,
	OPT_RUN = 1 << 2,
	OPT_CWD = 1 << 3,
	OPT_USER = 1 << 4,
	OPT_ENV = 1 << 5,
};

/* split_words()'s complaint when there are more than max words. */
static const char too_many_words[] = "too many words";

/*
 * Splits s into at most max words, unquoted, NUL-terminated in buf (which
 * must hold strlen(s) + 1 bytes: a word never outgrows its source).
 * Returns the number of words, or -1 with *why set.
 */
static int
split_words(const char *s, char *buf, char **words, int max, const char **why)
{
	char	*o = buf, quote;
	int	 n = 0;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return n;
		if (n == max) {
			*why = too_many_words;
			return -1;
		}
		words[n++] = o;
		for (quote = '\0'; *s != '\0'; s++) {
			if (quote == '\0' && isspace((unsigned char)*s))
				break;
			if (quote == '\'') {
				if (*s == '\'')
					quote = '\0';
				else
					*o++ = *s;
			} else if (*s == '\\') {
				if (*++s == '\0') {
					*why = "backslash at the end";
					return -1;
				}
				*o++ = *s;
			} else if (quote == '"' && *s == '"')
				quote = '\0';
			else if (quote == '\0' && (*s == '"' || *s == '\''))
				quote = *s;
			else
				*o++ = *s;
		}
		if (quote != '\0') {
			*why = "unterminated quote";
			return -1;
		}
		*o++ = '\0';
	}
}

void
conf_run_free(struct conf_run *run)
{
	int	 i;

	if (run == NULL)
		return;
	for (i = 0; i < run->argc; i++)
		free(run->argv[i]);
	for (i = 0; i < run->nenv; i++)
		free(run->env[i]);
	free(run);
}

/* Splits the value of run= into run->argv.  Returns 0, or -1 and why not. */
static int
set_run(struct conf_run *run, const char *value, char *why, size_t whylen)
{
	char		 buf[SERVER_TEXT_MAX], *words[CONF_MAX_ARGS];
	const char	*what;
	int		 i, n;

	if ((n = split_words(value, buf, words, CONF_MAX_ARGS, &what)) == -1) {
		if (what == too_many_words)
			snprintf(why, whylen, "more than %d words",
			    CONF_MAX_ARGS);
		else
			snprintf(why, whylen, "%s", what);
		return -1;
	}
	if (n == 0) {
		snprintf(why, whylen, "no command");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((run->argv[i] = strdup(words[i])) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		run->argc++;
	}
	run->argv[n] = NULL;
	return 0;
}

/* An environment variable NAME: [A-Za-z_][A-Za-z0-9_]*. */
static bool
valid_env(const char *s)
{
	const char	*eq = strchr(s, '=');
	size_t		 n;

	if (eq == NULL || eq == s || isdigit((unsigned char)s[0]))
		return false;
	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_");
	return s + n == eq;
}

/* Parses a whole string of digits within lo..hi; returns it or -1. */
static long long
option_number(const char *v, long long lo, long long hi)
{
	const char	*errstr;
	long long	 n;

	if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v))
		return -1;
	n = strtonum(v, lo, hi, &errstr);
	return errstr == NULL ? n : -1;
}

/* The options of a server line; env= alone may repeat. */
static const struct {
	const char	*prefix;
	unsigned	 bit;
} server_opts[] = {
	{ "weight=", OPT_WEIGHT },
	{ "max_conns=", OPT_MAX_CONNS },
	{ "run=", OPT_RUN },
	{ "cwd=", OPT_CWD },
	{ "user=", OPT_USER },
	{ "env=", OPT_ENV },
};

/*
 * Sets option `bit` of s to v; s->run is allocated.  Returns 0, 1 if v is
 * not of the option's form, or -1 with why set.
 */
static int
option_value(struct conf_server *s, unsigned bit, const char *v, char *why,
    size_t whylen)
{
	struct conf_run	*run = s->run;
	long long	 n;

	switch (bit) {
	case OPT_WEIGHT:
		if ((n = option_number(v, 1, CONF_MAX_WEIGHT)) == -1)
			return 1;
		s->weight = (unsigned)n;
		return 0;
	case OPT_MAX_CONNS:
		if ((n = option_number(v, 0, 1000000)) == -1)
			return 1;
		s->max_conns = (unsigned)n;
		return 0;
	case OPT_RUN:
		return set_run(run, v, why, whylen);
	case OPT_CWD:
		if (v[0] != '/' ||
		    strlcpy(run->cwd, v, sizeof(run->cwd)) >= sizeof(run->cwd))
			return 1;
		return 0;
	case OPT_USER:
		if (!conf_valid_name(v))
			return 1;
		strlcpy(run->user, v, sizeof(run->user));
		return 0;
	}
	if (run->nenv == CONF_MAX_ARGS) {
		snprintf(why, whylen, "more than %d env=", CONF_MAX_ARGS);
		return -1;
	}
	if (!valid_env(v))
		return 1;
	if ((run->env[run->nenv] = strdup(v)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	run->nenv++;
	return 0;
}

/*
 * Applies one "key=value" word to s, whose s->run is allocated.  Returns 0,
 * or -1 with what was wrong in why (the caller names the server and word).
 */
static int
server_option(struct conf_server *s, const char *word, unsigned *seen,
    char *why, size_t whylen)
{
	const char	*v = NULL;
	unsigned	 i, bit = 0;
	int		 r;

	for (i = 0; i < sizeof(server_opts) / sizeof(server_opts[0]); i++) {
		if (strncmp(word, server_opts[i].prefix,
		    strlen(server_opts[i].prefix)) == 0) {
			v = word + strlen(server_opts[i].prefix);
			bit = server_opts[i].bit;
		}
	}
	if (v == NULL) {
		snprintf(why, whylen, "unknown option (expected weight=, "
		    "max_conns=, run=, cwd=, env= or user=)");
		return -1;
	}
	if ((*seen & bit) != 0 && bit != OPT_ENV) {
		snprintf(why, whylen, "given twice");
		return -1;
	}
	*seen |= bit;
	if ((r = option_value(s, bit, v, why, whylen)) != 1)
		return r;
	if (bit == OPT_WEIGHT)
		snprintf(why, whylen, "expected 1..%d", CONF_MAX_WEIGHT);
	else if (bit == OPT_MAX_CONNS)
		snprintf(why, whylen, "expected 0..1000000 (0 = no cap)");
	else if (bit == OPT_CWD)
		snprintf(why, whylen, "expected an absolute path shorter "
		    "than %d bytes", CONF_PATH_MAX);
	else if (bit == OPT_USER)
		snprintf(why, whylen, "expected a user name");
	else
		snprintf(why, whylen, "expected env=NAME=VALUE");
	return -1;
}

/* Reads NAME, ADDR and the options from words[0..n). */
static int
server_words(struct conf_server *s, char **words, int n, char *err,
    size_t errlen)
{
	char		 why[128];
	unsigned	 seen = 0;
	int		 i;

	if (n < 2) {
		snprintf(err, errlen, "server: expected NAME ADDR [options]");
		return -1;
	}
	if (!conf_valid_name(words[0])) {
		snprintf(err, errlen, "server %s: bad name (expected 1 to %d "
		    "of A-Z a-z 0-9 - _ .)", words[0], CONF_NAME_MAX - 1);
		return -1;
	}
	strlcpy(s->name, words[0], sizeof(s->name));
	if (conf_parse_addr(words[1], &s->addr) == -1) {
		snprintf(err, errlen, "server %s: bad address %s (expected "
		    "a.b.c.d:port or [v6]:port)", s->name, words[1]);
		return -1;
	}
	for (i = 2; i < n; i++) {
		if (server_option(s, words[i], &seen, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "server %s: %s: %s", s->name,
			    words[i], why);
			return -1;
		}
	}
	if ((seen & OPT_RUN) == 0 && (seen & (OPT_CWD | OPT_USER | OPT_ENV))) {
		snprintf(err, errlen, "server %s: cwd=, env= and user= need "
		    "run=", s->name);
		return -1;
	}
	return 0;
}

int
conf_parse_server(const char *value, struct conf_server *s, char *err,
    size_t errlen)
{
	char		 buf[SERVER_TEXT_MAX], *words[SERVER_WORDS_MAX];
	const char	*why;
	int		 n;

	s->run = NULL;
	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "server: line too long");
		return -1;
	}
	if ((n = split_words(value, buf, words, SERVER_WORDS_MAX,
	    &why)) == -1) {
		snprintf(err, errlen, "server: %s", why);
		return -1;
	}
	s->weight = 1;
	s->max_conns = 0;
	if ((s->run = calloc(1, sizeof(*s->run))) == NULL) {
		snprintf(err, errlen, "server: out of memory");
		return -1;
	}
	strlcpy(s->run->line_text, value, sizeof(s->run->line_text));
	if (server_words(s, words, n, err, errlen) == -1) {
		conf_run_free(s->run);
		s->run = NULL;
		return -1;
	}
	if (s->run->argc == 0) {	/* not managed */
		conf_run_free(s->run);
		s->run = NULL;
	}
	return 0;
}

int
conf_parse_addr(const char *s, struct conf_addr *a)
{
	char			 host[INET6_ADDRSTRLEN];
	const char		*colon, *start;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;
	long long		 port;
	size_t			 hlen;
	bool			 v6 = s[0] == '[';

	if (v6) {
		start = s + 1;
		if ((colon = strchr(start, ']')) == NULL || colon[1] != ':')
			return -1;
		hlen = (size_t)(colon - start);
		colon++;
	} else {
		start = s;
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - start);
	}
	if (hlen == 0 || hlen >= sizeof(host) || strlen(s) >= sizeof(a->text))
		return -1;
	if ((port = option_number(colon + 1, 1, 65535)) == -1)
		return -1;
	memcpy(host, start, hlen);
	host[hlen] = '\0';

	memset(&a->ss, 0, sizeof(a->ss));
	if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
	} else {
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
	}
	strlcpy(a->text, s, sizeof(a->text));
	return 0;
}

bool
conf_addr_overlap(const struct conf_addr *a, const struct conf_addr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)&a->ss;
		b4 = (const struct sockaddr_in *)&b->ss;
		return a4->sin_port == b4->sin_port &&
		    (a4->sin_addr.s_addr == b4->sin_addr.s_addr ||
		    a4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    b4->sin_addr.s_addr == htonl(INADDR_ANY));
	}
	a6 = (const struct sockaddr_in6 *)&a->ss;
	b6 = (const struct sockaddr_in6 *)&b->ss;
	return a6->sin6_port == b6->sin6_port &&
	    (IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr) ||
	    IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
	    IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr));
}

bool
conf_valid_name(const char *s)
{
	size_t	 n;

	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.");
	return n > 0 && s[n] == '\0' && n < CONF_NAME_MAX;
}

const struct conf_server *
conf_find_server(const struct conf *c, const char *pool, const char *server)
{
	const struct conf_pool	*p;
	unsigned		 i, j;

	for (i = 0; i < c->npools; i++) {
		p = &c->pools[i];
		if (strcmp(p->name, pool) != 0)
			continue;
		for (j = 0; j < p->nservers; j++)
			if (strcmp(p->servers[j].name, server) == 0)
				return &p->servers[j];
		return NULL;
	}
	return NULL;
}
