/*
 * origin.h: web origins (RFC 6454) and the list of them the
 * cors_allowed_origins setting holds.
 *
 * An origin is scheme://host[:port] as browsers serialize it in the
 * Origin header (RFC 6454 section 6.1): lower case, no path, and no port
 * when it is the scheme's default (80 for http, 443 for https).
 */
#ifndef LK_ORIGIN_H
#define LK_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

/* The longest origin accepted, with its NUL. */
#define ORIGIN_MAX 256

/* The n bytes at o as a serialized origin into out (cap bytes, at most
 * ORIGIN_MAX needed): scheme and host in lower case, http's :80 and
 * https's :443 left out. false if they are not scheme://host[:port]
 * (a path, even "/", user info, a query, "null", or an empty host). */
bool origin_norm(const char *o, size_t n, char *out, size_t cap);

/* The length of the scheme://authority part of a URL: what follows is
 * its path (the issuer's path, for instance). */
size_t origin_prefix_len(const char *url);

/* The origins of cors_allowed_origins. */
struct origin_list;
/* Parses entries separated by commas and/or spaces. "*" (alone: any
 * origin) is allowed; "null" is not (every sandboxed page and local file
 * sends it). An empty spec gives an empty list. 0 and *out (free with
 * origin_list_free), or -1 with a message in err naming the entry. */
int origin_list_parse(const char *spec, struct origin_list **out, char *err,
                      size_t errlen);
/* Whether the list holds no origin (CORS is then off). */
bool origin_list_empty(const struct origin_list *l);
/* Whether the list is "*". */
bool origin_list_any(const struct origin_list *l);
/* Whether an Origin header's value (NULL: none) names an origin of the
 * list, compared as browsers serialize origins. */
bool origin_list_allows(const struct origin_list *l, const char *origin);
void origin_list_free(struct origin_list *l);

#endif
