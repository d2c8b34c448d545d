/*
 * grant_client_credentials.c: RFC 6749 section 4.4. The client acts on its
 * own behalf, so the token's subject is the client itself. A refresh token
 * "SHOULD NOT be included" (section 4.4.3): only a client explicitly set
 * to issue_refresh_token gets one.
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
	if (r.err == OAUTH_OK) {
		struct issue_opts o = {
			.subject = cl->client_id, .scope = scope,
			.with_refresh = cl->issue_refresh_token == STORE_ON &&
			                refresh_enabled(g, cl),
			.may_pend = rq->may_pend,
			.dpop_jkt = rq->dpop_jkt, .tls_x5t = rq->tls_x5t,
		};
		r = token_issue(g, cl, &o, out);
	}
	free(scope);
	return r;
}
