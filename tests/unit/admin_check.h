/*
 * Readers the admin tests share (unit and integration): a strict JSON
 * reader (RFC 8259) that checks a document and pulls values out of it by
 * a dotted path ("pools.0.servers.1.state"), and a checker of the
 * Prometheus text exposition format, line by line, with <regex.h>.
 * Everything is static: include it in one test program only once.
 */
#ifndef FORKLIFT_TEST_ADMIN_CHECK_H
#define FORKLIFT_TEST_ADMIN_CHECK_H

#include <check.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#define UNUSED	__attribute__((unused))

/*
 * A strict JSON reader (RFC 8259), enough to check a document and pull
 * values out of it by a dotted path ("pools.0.servers.1.state").
 */
#define JSON_DEPTH_MAX	32

static const char	*j_value(const char *, int);

UNUSED static const char *
j_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Length of the valid UTF-8 sequence at s, 0 if none. */
UNUSED static size_t
j_utf8(const unsigned char *s)
{
	unsigned cp, n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || s[0] > 0xf4)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

UNUSED static int
j_hex4(const char *p)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			v |= p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			v |= p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			v |= p[i] - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Appends code point cp as UTF-8 to out[*n] (if out). */
UNUSED static void
j_emit_cp(char *out, size_t *n, unsigned cp)
{
	char u[4];
	size_t k;

	if (cp < 0x80)
		u[0] = (char)cp, k = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)),
		k = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | cp >> 12),
		u[1] = (char)(0x80 | (cp >> 6 & 63)),
		u[2] = (char)(0x80 | (cp & 63)), k = 3;
	else
		u[0] = (char)(0xf0 | cp >> 18),
		u[1] = (char)(0x80 | (cp >> 12 & 63)),
		u[2] = (char)(0x80 | (cp >> 6 & 63)),
		u[3] = (char)(0x80 | (cp & 63)), k = 4;
	if (out != NULL)
		memcpy(out + *n, u, k);
	*n += k;
}

/* A string at p, decoded into out (outlen > its length) when out is set;
   returns the end, or NULL. */
UNUSED static const char *
j_string(const char *p, char *out, size_t outlen)
{
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	size_t n = 0, k;
	int cp, lo;

	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if (out != NULL && n + 4 >= outlen)
			return NULL;
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\') {
			if ((k = j_utf8((const unsigned char *)p)) == 0)
				return NULL;
			if (out != NULL)
				memcpy(out + n, p, k);
			n += k, p += k;
			continue;
		}
		p++;
		if (*p != 'u') {
			if (*p == '\0' || strchr(esc, *p) == NULL)
				return NULL;
			if (out != NULL)
				out[n] = val[strchr(esc, *p) - esc];
			n++, p++;
			continue;
		}
		if ((cp = j_hex4(p + 1)) == -1 || (cp >= 0xdc00 && cp < 0xe000))
			return NULL;
		p += 5;
		if (cp >= 0xd800 && cp < 0xdc00) {
			if (p[0] != '\\' || p[1] != 'u' ||
			    (lo = j_hex4(p + 2)) < 0xdc00 || lo >= 0xe000)
				return NULL;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		j_emit_cp(out, &n, (unsigned)cp);
	}
	if (out != NULL)
		out[n] = '\0';
	return p + 1;
}

UNUSED static const char *
j_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* Members or elements of a container opened at p, up to `close`. */
/* NOLINTBEGIN(misc-no-recursion): j_value caps depth at JSON_DEPTH_MAX */
UNUSED static const char *
j_container(const char *p, char close, int depth)
{
	p = j_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if ((p = j_string(p, NULL, 0)) == NULL)
				return NULL;
			if (*(p = j_ws(p)) != ':')
				return NULL;
			p = j_ws(p + 1);
		}
		if ((p = j_value(p, depth + 1)) == NULL)
			return NULL;
		p = j_ws(p);
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = j_ws(p + 1);
	}
}

UNUSED static const char *
j_value(const char *p, int depth)
{
	if (depth > JSON_DEPTH_MAX)
		return NULL;
	switch (*p) {
	case '{':
		return j_container(p, '}', depth);
	case '[':
		return j_container(p, ']', depth);
	case '"':
		return j_string(p, NULL, 0);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return j_number(p);
	}
}
/* NOLINTEND(misc-no-recursion) */

UNUSED static bool
json_valid(const char *doc)
{
	const char *end = j_value(j_ws(doc), 0);

	return end != NULL && *j_ws(end) == '\0';
}

/* Past the value at p and a following comma. */
UNUSED static const char *
j_next(const char *p)
{
	if ((p = j_value(p, 0)) == NULL)
		return NULL;
	p = j_ws(p);
	return *p == ',' ? j_ws(p + 1) : p;
}

/* One step down: member `seg` of an object or element `seg` of an array. */
UNUSED static const char *
j_step(const char *p, const char *seg)
{
	char key[256];
	long i, idx;

	if (*p == '{') {
		for (p = j_ws(p + 1); p != NULL && *p == '"'; p = j_next(p)) {
			if ((p = j_string(p, key, sizeof(key))) == NULL)
				return NULL;
			p = j_ws(j_ws(p) + 1);
			if (strcmp(key, seg) == 0)
				return p;
		}
		return NULL;
	}
	if (*p != '[')
		return NULL;
	idx = strtol(seg, NULL, 10);
	for (p = j_ws(p + 1), i = 0; p != NULL && *p != ']'; p = j_next(p))
		if (i++ == idx)
			return p;
	return NULL;
}

/* The value at a dotted path in a valid document, or NULL. */
UNUSED static const char *
json_at(const char *doc, const char *path)
{
	const char *p = j_ws(doc);
	char seg[128];
	size_t n;

	while (p != NULL && *path != '\0') {
		n = strcspn(path, ".");
		ck_assert_uint_lt(n, sizeof(seg));
		memcpy(seg, path, n);
		seg[n] = '\0';
		path += n + (path[n] == '.');
		p = j_step(p, seg);
	}
	return p;
}

UNUSED static bool
json_get_str(const char *doc, const char *path, char *out, size_t len)
{
	const char *p = json_at(doc, path);

	return p != NULL && *p == '"' && j_string(p, out, len) != NULL;
}

UNUSED static long long
json_get_int(const char *doc, const char *path)
{
	const char *p = json_at(doc, path);

	ck_assert_msg(p != NULL && j_number(p) != NULL, "no number at %s",
	    path);
	return strtoll(p, NULL, 10);
}

/* Elements of the array at path, -1 if none. */
UNUSED static int
json_len(const char *doc, const char *path)
{
	const char *p = json_at(doc, path);
	int n = 0;

	if (p == NULL || *p != '[')
		return -1;
	for (p = j_ws(p + 1); p != NULL && *p != ']'; p = j_next(p))
		n++;
	return n;
}

UNUSED static double
json_get_double(const char *doc, const char *path)
{
	const char *p = json_at(doc, path);

	ck_assert_msg(p != NULL && j_number(p) != NULL, "no number at %s",
	    path);
	return strtod(p, NULL);
}

#define M_NAME	"[a-zA-Z_:][a-zA-Z0-9_:]*"
#define M_LABEL	"[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
#define M_VALUE	"(NaN|[+-]Inf|[+-]?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?)"

static regex_t	re_help, re_type, re_sample;

UNUSED static void
regex_setup(void)
{
	ck_assert_int_eq(regcomp(&re_help, "^# HELP " M_NAME " [^\n]*$",
	    REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&re_type, "^# TYPE " M_NAME
	    " (counter|gauge|histogram|summary|untyped)$",
	    REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&re_sample, "^" M_NAME "(\\{(" M_LABEL "(,"
	    M_LABEL ")*)?\\})? " M_VALUE "( -?[0-9]+)?$",
	    REG_EXTENDED | REG_NOSUB), 0);
}

/*
 * Checks an exposition line by line: each line is a HELP, a TYPE or a
 * sample; each family is declared once, HELP then TYPE, before its
 * samples, which come together; histogram samples end in _bucket, _sum
 * or _count.  Returns the number of samples.
 */
UNUSED static int
check_exposition(const char *text)
{
	char line[2048], family[256] = "", type[32] = "", name[300];
	char seen[8192] = " ";
	const char *p = text, *nl;
	size_t n, k;
	int samples = 0;

	ck_assert_msg(*text != '\0' && text[strlen(text) - 1] == '\n',
	    "exposition must end in a newline");
	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		n = (size_t)(nl - p);
		ck_assert_uint_lt(n, sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (regexec(&re_help, line, 0, NULL, 0) == 0) {
			ck_assert_int_eq(sscanf(line, "# HELP %255s", family),
			    1);
			snprintf(name, sizeof(name), " %s ", family);
			ck_assert_msg(strstr(seen, name) == NULL,
			    "family declared twice: %s", family);
			ck_assert_uint_lt(strlen(seen) + strlen(name),
			    sizeof(seen));
			strlcat(seen, name + 1, sizeof(seen));
			type[0] = '\0';
			continue;
		}
		if (regexec(&re_type, line, 0, NULL, 0) == 0) {
			ck_assert_int_eq(sscanf(line, "# TYPE %255s %31s",
			    name, type), 2);
			ck_assert_str_eq(name, family);
			continue;
		}
		ck_assert_msg(regexec(&re_sample, line, 0, NULL, 0) == 0,
		    "not an exposition line: \"%s\"", line);
		ck_assert_msg(type[0] != '\0', "sample before TYPE: %s", line);
		k = strcspn(line, "{ ");
		ck_assert_msg(strncmp(line, family, strlen(family)) == 0,
		    "sample outside its family %s: %s", family, line);
		if (strcmp(type, "histogram") == 0) {
			const char *suffix = line + strlen(family);

			ck_assert_msg(strncmp(suffix, "_bucket{", 8) == 0 ||
			    strncmp(suffix, "_sum", 4) == 0 ||
			    strncmp(suffix, "_count", 6) == 0, "%s", line);
		} else
			ck_assert_uint_eq(k, strlen(family));
		samples++;
	}
	return samples;
}

/* The value of the sample whose name and labels are exactly `series`. */
UNUSED static double
sample_value(const char *text, const char *series)
{
	char needle[512];
	const char *p;

	snprintf(needle, sizeof(needle), "\n%s ", series);
	p = strstr(text, needle);
	ck_assert_msg(p != NULL, "no sample %s", series);
	return strtod(p + strlen(needle), NULL);
}

#undef UNUSED

#endif
