/*
 * origin.c: web origins and origin lists (see origin.h). Owns only their
 * syntax and comparison: which endpoints answer cross-origin requests is
 * server/cors.c's business, and the form guard's own-origin check is
 * server/authorize.c's.
 */
#include "origin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

struct origin_list {
	char **v; /* serialized origins */
	size_t n;
	bool any; /* "*" */
};

static bool scheme_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

/* A host as browsers serialize it: an ASCII name (an IDN in its punycode
 * form), a dotted IPv4 address, or an IPv6 address in brackets. */
static bool host_ok(const char *h, size_t n)
{
	if (n == 0)
		return false;
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' &&
			    h[i] != '.')
				return false;
		return true;
	}
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.' &&
		    h[i] != '_')
			return false;
	return true;
}

/* NULL when o (n bytes) is an origin, written serialized to out; else
 * why it is not, for the setting's error. */
static const char *origin_check(const char *o, size_t n, char *out,
                                size_t cap)
{
	const char *sep = n > 3 ? memmem(o, n, "://", 3) : NULL;
	if (sep == NULL || sep == o || !isalpha((unsigned char)o[0]))
		return "it is not scheme://host[:port]";
	size_t slen = (size_t)(sep - o);
	for (size_t i = 0; i < slen; i++)
		if (!scheme_char(o[i]))
			return "its scheme is not a URL scheme";
	const char *h = sep + 3, *end = o + n;
	size_t rest = (size_t)(end - h);
	if (memchr(h, '/', rest) != NULL || memchr(h, '?', rest) != NULL ||
	    memchr(h, '#', rest) != NULL)
		return "it has a path, query or fragment (even a trailing '/'): "
		       "an origin is scheme://host[:port]";
	if (memchr(h, '@', rest) != NULL)
		return "it has user information: an origin is "
		       "scheme://host[:port]";
	/* The port follows the last ':' outside an IPv6 literal. */
	const char *close = memchr(h, ']', rest);
	const char *colon = NULL;
	for (const char *p = close ? close : h; p < end; p++)
		if (*p == ':')
			colon = p;
	size_t hlen = colon ? (size_t)(colon - h) : rest;
	if (!host_ok(h, hlen))
		return "its host is not a host name or an IP address";
	long port = -1;
	if (colon != NULL) {
		size_t plen = (size_t)(end - colon - 1);
		if (plen == 0 || plen > 5)
			return "its port is not a number from 1 to 65535";
		port = 0;
		for (size_t i = 1; i <= plen; i++) {
			if (!isdigit((unsigned char)colon[i]))
				return "its port is not a number from 1 to 65535";
			port = port * 10 + (colon[i] - '0');
		}
		if (port < 1 || port > 65535 || colon[1] == '0')
			return "its port is not a number from 1 to 65535";
	}
	if (slen + 3 + hlen + 7 > cap)
		return "it is too long";
	for (size_t i = 0; i < slen + 3 + hlen; i++)
		out[i] = (char)tolower((unsigned char)o[i]);
	out[slen + 3 + hlen] = '\0';
	/* RFC 6454 section 6.2: the default port is not serialized. */
	bool dflt = (port == 80 && strncmp(out, "http://", 7) == 0) ||
	            (port == 443 && strncmp(out, "https://", 8) == 0);
	if (port >= 0 && !dflt)
		snprintf(out + slen + 3 + hlen, 7, ":%ld", port);
	return NULL;
}

bool origin_norm(const char *o, size_t n, char *out, size_t cap)
{
	return origin_check(o, n, out, cap) == NULL;
}

size_t origin_prefix_len(const char *url)
{
	const char *p = strstr(url, "://");
	if (p == NULL)
		return strlen(url);
	return (size_t)(p + 3 - url) + strcspn(p + 3, "/");
}

int origin_list_parse(const char *spec, struct origin_list **out, char *err,
                      size_t errlen)
{
	struct origin_list *l = xcalloc(1, sizeof(*l));
	const char *p = spec;
	*out = NULL;
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		size_t n = strcspn(p, ", \t");
		char o[ORIGIN_MAX];
		const char *why = NULL;
		if (n == 1 && p[0] == '*')
			l->any = true;
		else if (n == 4 && strncasecmp(p, "null", 4) == 0)
			why = "every sandboxed page and local file sends the "
			      "origin null: name the origins themselves";
		else
			why = origin_check(p, n, o, sizeof(o));
		if (why == NULL && l->any && (l->n > 0 || !(n == 1 && *p == '*')))
			why = "'*' (any origin) must be the only entry";
		if (why != NULL) {
			snprintf(err, errlen, "'%.*s' is not an origin: %s",
			         (int)(n > 100 ? 100 : n), p, why);
			origin_list_free(l);
			return -1;
		}
		if (!l->any) {
			char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
			if (v == NULL)
				abort();
			l->v = v;
			l->v[l->n++] = xstrdup(o);
		}
		p += n;
	}
	*out = l;
	return 0;
}

bool origin_list_empty(const struct origin_list *l)
{
	return l == NULL || (l->n == 0 && !l->any);
}

bool origin_list_any(const struct origin_list *l)
{
	return l != NULL && l->any;
}

bool origin_list_allows(const struct origin_list *l, const char *origin)
{
	char o[ORIGIN_MAX];
	if (origin_list_empty(l) || origin == NULL ||
	    !origin_norm(origin, strlen(origin), o, sizeof(o)))
		return false;
	if (l->any)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], o) == 0)
			return true;
	return false;
}

void origin_list_free(struct origin_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l);
}
