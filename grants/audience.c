/*
 * audience.c: the aud claim of access tokens (RFC 9068 section 2.2, where
 * it is REQUIRED): which values a client's tokens carry, which resources
 * (RFC 8707) a client may ask for, and the claim's two JSON spellings.
 *
 * Inside Latchkey a set of aud values is one space-separated list, like
 * scopes and redirect URIs (valid_audience keeps spaces out of a value).
 * On the wire it is a string for one value and an array for several (RFC
 * 7519 section 4.1.3). The order of precedence is shared/DECISIONS.md's:
 * the resource parameter (token_endpoint.c narrows the client to it),
 * else the client's audiences, else the audience setting, else the issuer.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "strutil.h"

const char *client_audiences(const struct grants *g,
                             const struct store_client *cl)
{
	if (cl->audiences != NULL && cl->audiences[0] != '\0')
		return cl->audiences;
	return g->audience != NULL ? g->audience : g->issuer;
}

bool audience_allowed(const struct grants *g, const struct store_client *cl,
                      const char *resource)
{
	/* An exact match: aud values are compared as strings (RFC 7519
	 * section 4.1.3). A resource with a space matches no value. */
	return words_contains(client_audiences(g, cl), resource,
	                      strlen(resource));
}

json_t *aud_to_json(const char *list)
{
	size_t len;
	const char *w = words_next(list, &len);
	if (w == NULL)
		return NULL;
	if (words_next(w + len, &len) == NULL) {
		w = words_next(list, &len);
		return json_stringn(w, len);
	}
	json_t *arr = json_array();
	for (w = words_next(list, &len); w != NULL && arr != NULL;
	     w = words_next(w + len, &len))
		json_array_append_new(arr, json_stringn(w, len));
	return arr;
}

char *aud_from_json(const json_t *claim)
{
	if (json_is_string(claim))
		return xstrdup(json_string_value(claim));
	if (!json_is_array(claim) || json_array_size(claim) == 0)
		return NULL;
	char *list = xstrdup("");
	size_t i;
	const json_t *v;
	json_array_foreach(claim, i, v) {
		if (!json_is_string(v)) {
			free(list);
			return NULL;
		}
		words_append(&list, json_string_value(v),
		             json_string_length(v));
	}
	return list;
}
