/*
 * scope.c: which scopes a token gets (RFC 6749 section 3.3). The client's
 * registered scopes are the ceiling; the request may narrow them.
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
