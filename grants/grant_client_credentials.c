/*
 * grant_client_credentials.c: RFC 6749 section 4.4. The client acts on its
 * own behalf, so the token's subject is the client itself, and no refresh
 * token is issued (section 4.4.3).
 */
#include <stdlib.h>

#include "grants_int.h"

struct oauth_result grant_client_credentials(struct grants *g,
                                             const struct token_request *rq,
                                             const struct store_client *cl,
                                             struct token_response *out)
{
	char *scope = NULL;
	struct oauth_result r = scope_grant(rq->scope, cl->scopes, &scope);
	if (r.err == OAUTH_OK)
		r = token_issue(g, cl, cl->client_id, scope, out);
	free(scope);
	return r;
}
