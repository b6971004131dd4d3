/*
 * The configuration loader: reads one INI file with inih into a struct conf,
 * checks every value and every cross-reference, and reports the first error
 * as "FILE:LINE: message" ("FILE: message" when no line is to blame).  This
 * file owns the reading of lines, the sections and the checks across them;
 * the keys, their defaults and the syntax of their values are in
 * config_keys.c, and the `server =` line and addresses in config_server.c.
 * It binds nothing, resolves no name and opens no file but the one it reads,
 * so `forklift -t` and a reload are safe beside a live daemon.
 *
 * A section that appears twice is an error, which also keeps each pool's
 * servers contiguous in conf->servers.
 */

#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/config_int.h"

#if INI_HANDLER_LINENO
#error "the handler below takes no line number; lines are counted by the reader"
#endif

void
conf_error(struct parser *p, int line, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (p->failed)
		return;
	p->failed = true;
	p->errline = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errlen == 0)
		return;
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->path, line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
}

const char *
conf_listener_label(const struct conf_listener *l, char *buf, size_t len)
{
	snprintf(buf, len, "[listen%s%s]", l->name[0] != '\0' ? " " : "",
	    l->name);
	return buf;
}

/* The inih handler: one call per "key = value" line. */
static int
conf_handler(void *arg, const char *section, const char *key,
    const char *value)
{
	struct parser	*p = arg;

	(void)section;		/* inih cuts long names: ours is p->sec */
	if (p->failed)
		return 0;
	if (value == NULL) {	/* only if inih allows keys without '=' */
		conf_error(p, p->lineno, "syntax error: expected key = value");
		return 0;
	}
	if (p->sec == SEC_NONE) {
		conf_error(p, p->lineno, "%s is outside any section", key);
		return 0;
	}
	return conf_key_set(p, key, value) == 0;
}

/* Checks what a section needs once all its lines are read. */
static void
section_close(struct parser *p)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool;
	unsigned		 i;
	int			 line;
	char			 label[SECTION_TEXT_MAX];

	switch (p->sec) {
	case SEC_LISTEN:
		if (conf_key_line(p, SEC_LISTEN, "bind") == 0)
			conf_error(p, p->sec_line, "%s has no bind",
			    p->sec_label);
		else if (conf_key_line(p, SEC_LISTEN, "pool") == 0)
			conf_error(p, p->sec_line, "%s has no pool",
			    p->sec_label);
		break;
	case SEC_POOL:
		pool = conf_cur_pool(p);
		if (pool->nservers == 0) {
			conf_error(p, p->sec_line, "%s has no server",
			    p->sec_label);
			break;
		}
		if (pool->health_timeout_ms <= pool->health_interval_ms)
			break;
		if ((line = conf_key_line(p, SEC_POOL, "health_timeout")) == 0)
			line = conf_key_line(p, SEC_POOL, "health_interval");
		conf_error(p, line, "health_timeout (%ums) is greater than "
		    "health_interval (%ums)", pool->health_timeout_ms,
		    pool->health_interval_ms);
		break;
	case SEC_ADMIN:
		p->admin_done = true;
		line = p->admin_bind_line != 0 ? p->admin_bind_line :
		    p->admin_line;
		for (i = 0; i < c->nlisteners; i++) {
			if (!conf_addr_overlap(&c->admin_bind,
			    &c->listeners[i].bind))
				continue;
			conf_error(p, line, "[admin] bind %s conflicts with "
			    "%s bind %s on line %d", c->admin_bind.text,
			    conf_listener_label(&c->listeners[i], label,
			    sizeof(label)), c->listeners[i].bind.text,
			    p->lis[i].bind_line);
			break;
		}
		break;
	case SEC_NONE:
	case SEC_GLOBAL:
		break;
	}
}

/* Opens [listen] or [listen NAME]; name is "" for the former. */
static int
open_listen(struct parser *p, const char *name)
{
	struct conf		*c = p->conf;
	struct conf_listener	*l;
	unsigned		 i;

	for (i = 0; i < c->nlisteners; i++) {
		if (strcmp(c->listeners[i].name, name) == 0) {
			conf_error(p, p->lineno, "duplicate section %s",
			    p->sec_label);
			return -1;
		}
	}
	if (c->nlisteners == CONF_MAX_LISTENERS) {
		conf_error(p, p->lineno, "too many [listen] sections (max %d)",
		    CONF_MAX_LISTENERS);
		return -1;
	}
	l = &c->listeners[c->nlisteners++];
	conf_defaults_listener(l);
	strlcpy(l->name, name, sizeof(l->name));
	l->line = p->lineno;
	return 0;
}

static int
open_pool(struct parser *p, const char *name)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool;
	unsigned		 i;

	for (i = 0; i < c->npools; i++) {
		if (strcmp(c->pools[i].name, name) == 0) {
			conf_error(p, p->lineno, "duplicate section %s",
			    p->sec_label);
			return -1;
		}
	}
	if (c->npools == CONF_MAX_POOLS) {
		conf_error(p, p->lineno, "too many [pool] sections (max %d)",
		    CONF_MAX_POOLS);
		return -1;
	}
	pool = &c->pools[c->npools];
	conf_defaults_pool(pool);
	strlcpy(pool->name, name, sizeof(pool->name));
	pool->id = c->npools;
	pool->line = p->lineno;
	p->first_server[pool->id] = c->nservers;
	c->npools++;
	return 0;
}

/* Opens the section named inside the brackets: "pool web", "global"... */
static int
open_section(struct parser *p, char *inner)
{
	char		*kind = inner, *name;
	size_t		 n;

	n = strcspn(kind, " \t");
	name = kind + n + strspn(kind + n, " \t");
	kind[n] = '\0';
	snprintf(p->sec_label, sizeof(p->sec_label), "[%s%s%s]", kind,
	    name[0] != '\0' ? " " : "", name);
	if (strcmp(kind, "pool") == 0 && name[0] == '\0') {
		conf_error(p, p->lineno, "[pool] needs a name: [pool NAME]");
		return -1;
	}
	if ((strcmp(kind, "global") == 0 || strcmp(kind, "admin") == 0) &&
	    name[0] != '\0') {
		conf_error(p, p->lineno, "[%s] takes no name", kind);
		return -1;
	}
	if (name[0] != '\0' && !conf_valid_name(name)) {
		conf_error(p, p->lineno, "bad name in %s: expected 1 to %d of "
		    "A-Z a-z 0-9 - _ .", p->sec_label, CONF_NAME_MAX - 1);
		return -1;
	}
	p->sec_line = p->lineno;
	memset(p->key_line, 0, sizeof(p->key_line));
	if (strcmp(kind, "global") == 0) {
		p->sec = SEC_GLOBAL;
		if (p->seen_global) {
			conf_error(p, p->lineno, "duplicate section [global]");
			return -1;
		}
		p->seen_global = true;
		return 0;
	}
	if (strcmp(kind, "admin") == 0) {
		p->sec = SEC_ADMIN;
		if (p->conf->has_admin) {
			conf_error(p, p->lineno, "duplicate section [admin]");
			return -1;
		}
		p->conf->has_admin = true;
		p->admin_line = p->lineno;
		return 0;
	}
	if (strcmp(kind, "listen") == 0) {
		p->sec = SEC_LISTEN;
		return open_listen(p, name);
	}
	if (strcmp(kind, "pool") == 0) {
		p->sec = SEC_POOL;
		return open_pool(p, name);
	}
	p->sec = SEC_NONE;
	conf_error(p, p->lineno, "unknown section %s", p->sec_label);
	return -1;
}

/*
 * Called by the reader for a line that starts with '[', before inih sees
 * it: closes the section being read and opens the new one.  A header
 * without ']' is left to inih, which reports it as a syntax error.
 */
static int
section_line(struct parser *p, const char *line)
{
	char		 inner[SECTION_TEXT_MAX];
	const char	*close, *rest;
	size_t		 len;

	if ((close = strchr(line, ']')) == NULL)
		return 0;
	rest = close + 1 + strspn(close + 1, " \t");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		conf_error(p, p->lineno, "junk after the section header: %s",
		    rest);
		return -1;
	}
	section_close(p);
	if (p->failed)
		return -1;
	line++;
	line += strspn(line, " \t");
	len = (size_t)(close - line);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len >= sizeof(inner)) {
		conf_error(p, p->lineno, "section header too long");
		return -1;
	}
	memcpy(inner, line, len);
	inner[len] = '\0';
	return open_section(p, inner);
}

/*
 * The inih reader: hands out one line per call, counting lines, so that
 * errors carry a line number whatever INI_HANDLER_LINENO was at inih's build.
 * inih's buffer holds `num` bytes; fgets() would split a longer line and
 * inih would act on the pieces, so a line of more than num - 2 bytes
 * (besides its "\n" or "\r\n") is an error and nothing of it is handed out.
 * Leading blanks are dropped, so an indented line is never taken for a
 * continuation of the previous value.  Returns NULL at the end of the file
 * and after any error, which stops inih.
 */
static char *
conf_reader(char *line, int num, void *arg)
{
	struct parser	*p = arg;
	size_t		 len = 0, limit, skip;
	int		 ch;

	if (p->failed || num < 3)
		return NULL;
	limit = (size_t)num - 2;
	if ((ch = getc(p->fp)) == EOF) {
		if (ferror(p->fp))
			conf_error(p, 0, "read error: %s", strerror(errno));
		return NULL;
	}
	p->lineno++;
	for (; ch != EOF && ch != '\n'; ch = getc(p->fp)) {
		if (ch == '\0') {
			conf_error(p, p->lineno, "NUL byte in line");
			return NULL;
		}
		if (len > limit)	/* room for one '\r' more */
			break;
		line[len++] = (char)ch;
	}
	if (ch == EOF && ferror(p->fp)) {
		conf_error(p, p->lineno, "read error: %s", strerror(errno));
		return NULL;
	}
	if (len > 0 && line[len - 1] == '\r' && (ch == '\n' || ch == EOF))
		len--;
	if (len > limit || (ch != '\n' && ch != EOF)) {
		conf_error(p, p->lineno, "line too long (max %zu bytes)",
		    limit);
		return NULL;
	}
	line[len] = '\0';
	skip = 0;
	if (p->lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
		skip = 3;			/* UTF-8 byte order mark */
	while (isspace((unsigned char)line[skip]))
		skip++;
	memmove(line, line + skip, len - skip + 1);
	if (line[0] == '[' && section_line(p, line) == -1)
		return NULL;
	return line;
}

/* Resolves listeners' pools and points pools and servers at each other. */
static void
conf_finish(struct parser *p)
{
	struct conf		*c = p->conf;
	struct conf_pool	*pool;
	unsigned		 i, j;

	if (c->nlisteners == 0) {
		conf_error(p, 0, "no [listen] section");
		return;
	}
	if (c->npools == 0) {
		conf_error(p, 0, "no [pool NAME] section");
		return;
	}
	for (i = 0; i < c->nlisteners; i++) {
		for (j = 0; j < c->npools; j++)
			if (strcmp(c->pools[j].name, p->lis[i].pool) == 0)
				c->listeners[i].pool = &c->pools[j];
		if (c->listeners[i].pool == NULL) {
			conf_error(p, p->lis[i].pool_line, "no pool named %s",
			    p->lis[i].pool);
			return;
		}
	}
	for (i = 0; i < c->npools; i++) {
		pool = &c->pools[i];
		pool->servers = &c->servers[p->first_server[i]];
		for (j = 0; j < pool->nservers; j++)
			pool->servers[j].pool = pool;
	}
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct parser	 p;
	struct conf	*c;
	int		 r;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conf_error(&p, 0, "%s", strerror(errno));
		return NULL;
	}
	p.conf = c;
	conf_defaults_global(c);

	if (strlcpy(c->path, path, sizeof(c->path)) >= sizeof(c->path))
		conf_error(&p, 0, "path too long (max %d bytes)",
		    CONF_PATH_MAX - 1);
	else if ((p.fp = fopen(path, "re")) == NULL)
		conf_error(&p, 0, "cannot open: %s", strerror(errno));
	if (p.failed)
		goto fail;

	r = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	(void)fclose(p.fp);	/* read only: nothing to lose */
	if (r > 0 && (!p.failed || r < p.errline)) {
		/* inih's own complaint: neither [section] nor key = value */
		p.failed = false;
		conf_error(&p, r, "syntax error: expected [section] or "
		    "key = value");
	} else if (r < 0)
		conf_error(&p, 0, "cannot parse (inih error %d)", r);
	if (!p.failed)
		section_close(&p);
	if (!p.failed)
		conf_finish(&p);
	if (p.failed)
		goto fail;
	return c;
fail:
	conf_free(c);
	return NULL;
}

void
conf_free(struct conf *c)
{
	unsigned	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nservers; i++)
		conf_run_free(c->servers[i].run);
	free(c->servers);
	free(c);
}
