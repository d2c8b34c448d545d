/*
 * grant_password.c: RFC 6749 section 4.3, the resource owner password
 * grant, for clients registered for it. The token's subject is the user's
 * stable id; the password check and its throttling are login.c's. With
 * openid in the granted scope it issues an ID token too (legacy: OpenID
 * Connect defines no password grant, but libraries ask for one).
 */
#include <stdlib.h>

#include "clock.h"
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
		/* OpenID Connect with this legacy grant (docs/openid-connect.md):
		 * the password was checked just now, so that is the login: no
		 * session, hence no sid. The family keeps auth_time and amr
		 * for refreshed ID tokens. */
		int64_t now = clock_now();
		struct id_token_in idt = {
			.user = &u, .scope = scope, .nonce = NULL,
			.auth_time = now, .sid = NULL, .amr = "pwd",
		};
		bool oidc = scope_has_openid(scope);
		struct issue_opts o = {
			.subject = u.user_id, .username = u.username, .scope = scope,
			.with_refresh = refresh_enabled(g, cl),
			.auth_time = oidc ? now : 0, .amr = oidc ? "pwd" : NULL,
			.id_token = oidc ? &idt : NULL, .may_pend = rq->may_pend,
			.dpop_jkt = rq->dpop_jkt, .tls_x5t = rq->tls_x5t,
		};
		r = token_issue(g, cl, &o, out);
	}
	store_user_clear(&u);
	free(scope);
	return r;
}
