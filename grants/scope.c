/*
 * scope.c: which scopes a token gets (RFC 6749 section 3.3). The client's
 * registered scopes are the ceiling; the request may narrow them. A grant
 * used again later (a refresh, a code exchange) stays under the ceiling
 * as it is then, not as it was when the grant was made.
 */
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "strutil.h"

struct oauth_result scope_grant(const char *requested, const char *allowed,
                                char **granted)
{
	*granted = NULL;
	if (requested == NULL) {
		/* Section 3.3 lets the server apply a default; ours is every
		 * scope the client is registered for. */
		*granted = xstrdup(allowed ? allowed : "");
		return OAUTH_RESULT_OK;
	}
	if (!scope_list_valid(requested))
		return OAUTH_FAIL(OAUTH_INVALID_SCOPE,
		                  "scope must be space-separated scope tokens");

	char *out = NULL;
	size_t len;
	for (const char *w = words_next(requested, &len); w;
	     w = words_next(w + len, &len)) {
		if (!words_contains(allowed, w, len)) {
			free(out);
			return OAUTH_FAIL(OAUTH_INVALID_SCOPE,
			                  "a requested scope is not allowed for this "
			                  "client");
		}
		if (!words_contains(out, w, len))
			words_append(&out, w, len);
	}
	*granted = out;
	return OAUTH_RESULT_OK;
}

/* The words of list that are also in allowed, in list's order; NULL when
 * there are none. */
static char *intersect(const char *list, const char *allowed)
{
	char *out = NULL;
	size_t len;
	for (const char *w = words_next(list, &len); w;
	     w = words_next(w + len, &len))
		if (words_contains(allowed, w, len))
			words_append(&out, w, len);
	return out;
}

struct oauth_result scope_regrant(const char *requested, const char *held,
                                  const char *allowed, char **granted)
{
	char *base = NULL;
	*granted = NULL;
	struct oauth_result r = scope_grant(requested, held, &base);
	if (r.err != OAUTH_OK) {
		/* Section 6: only a syntax error keeps scope_grant's words; a
		 * well-formed scope outside the grant is a widening. */
		return requested != NULL && scope_list_valid(requested)
		           ? OAUTH_FAIL(OAUTH_INVALID_SCOPE, "a requested scope "
		                        "was not granted originally")
		           : r;
	}
	char *out = intersect(base, allowed);
	bool had_some = words_count(base) > 0;
	free(base);
	if (out == NULL && had_some) {
		/* Nothing the grant holds is still allowed: an empty token
		 * would authorize nothing, and the client is better told to
		 * start over (invalid_grant) or to ask for less. */
		return requested != NULL
		           ? OAUTH_FAIL(OAUTH_INVALID_SCOPE, "the requested scopes "
		                        "are no longer allowed for this client")
		           : OAUTH_FAIL(OAUTH_INVALID_GRANT, SCOPE_GRANT_GONE);
	}
	*granted = out ? out : xstrdup("");
	return OAUTH_RESULT_OK;
}
