/*
 * grant_password.c: RFC 6749 section 4.3, the resource owner password
 * grant, for clients registered for it. The token's subject is the user's
 * stable id; the password check and its throttling are login.c's.
 */
#include <stdlib.h>

#include "grants_int.h"

struct oauth_result grant_password(struct grants *g,
                                   const struct token_request *rq,
                                   const struct store_client *cl,
                                   struct token_response *out)
{
	struct store_user u = {0};
	char *scope = NULL;

	if (rq->username == NULL || rq->password == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                  "username and password are required");
	struct oauth_result r = scope_grant(rq->scope, cl->scopes, &scope);
	if (r.err == OAUTH_OK)
		r = user_login(g, rq->username, rq->password, rq->remote_addr,
		               cl->client_id, &u);
	if (r.err == OAUTH_OK) {
		struct issue_opts o = {
			.subject = u.user_id, .username = u.username, .scope = scope,
			.with_refresh = refresh_enabled(g, cl),
		};
		r = token_issue(g, cl, &o, out);
	}
	store_user_clear(&u);
	free(scope);
	return r;
}
