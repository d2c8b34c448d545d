/*
 * admin_auth.c: whether a Bearer access token may use the admin HTTP API
 * (docs/admin-api.md): one of ours, live (not expired, not revoked),
 * carrying the scope latchkey:admin, and issued to a client that is,
 * now, enabled and marked admin, for itself. The client is read at every
 * request, so `latchkey client update ID --no-admin` or `client disable
 * ID` takes effect on the next call, not when the token expires.
 *
 * Only the client's own tokens count (client_credentials: its subject is
 * the client itself): a token a user got through an admin client (the
 * password or authorization_code grant) carries the user's authority, not
 * the operator's, and is refused even with the scope. Admin clients are
 * confidential (client_spec_finish), so the token came with the secret.
 *
 * Refusals, through the error table (RFC 6750 section 3.1):
 *   not ours, altered, expired, revoked, client gone or disabled
 *                                             401 invalid_token
 *   without latchkey:admin, its client no longer admin, or issued to
 *   a user                                    403 insufficient_scope
 *   the database unavailable                  503 (oauth_from_store)
 */
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "strutil.h"

static struct oauth_result invalid(const char *why)
{
	return OAUTH_FAIL(OAUTH_INVALID_TOKEN, why);
}

static struct oauth_result lacks_admin(const char *why)
{
	struct oauth_result r = OAUTH_FAIL(OAUTH_INSUFFICIENT_SCOPE, why);
	r.scope = CLIENT_ADMIN_SCOPE;
	return r;
}

struct oauth_result grants_admin_token(struct grants *g, const char *token,
                                       char **client_id)
{
	struct at_claims_read c;
	struct store_token rec = {0};
	struct store_client cl = {0};
	*client_id = NULL;
	if (token_verify(g, token, &c) != 0)
		return invalid(NULL);
	/* The admin API takes Bearer tokens only: a DPoP-bound one would
	 * pass here without its proof (docs/service-auth.md). */
	bool bound = c.jkt != NULL || c.x5t != NULL;
	enum store_rc rc = bound ? STORE_NOT_FOUND
	                         : access_token_live(g, c.jti, &rec);
	at_claims_read_clear(&c);
	if (bound)
		return invalid("the admin API does not take DPoP-bound or "
		               "certificate-bound tokens");
	struct oauth_result r = oauth_from_store(rc, "token lookup",
	                                         invalid(NULL));
	if (r.err != OAUTH_OK)
		return r;
	rc = store_client_get(g->store, rec.client_id, &cl);
	r = oauth_from_store(rc, "client lookup",
	                     invalid("the client the access token was issued "
	                             "to no longer exists"));
	if (r.err == OAUTH_OK && cl.disabled_at != 0)
		r = invalid("the client the access token was issued to is "
		            "disabled");
	else if (r.err == OAUTH_OK &&
	         !words_contains(rec.scope, CLIENT_ADMIN_SCOPE,
	                         strlen(CLIENT_ADMIN_SCOPE)))
		r = lacks_admin("the access token lacks the scope "
		                CLIENT_ADMIN_SCOPE);
	else if (r.err == OAUTH_OK && !cl.is_admin)
		r = lacks_admin("the client the access token was issued to is "
		                "no longer an admin client");
	else if (r.err == OAUTH_OK && strcmp(rec.subject, rec.client_id) != 0)
		r = lacks_admin("the access token was issued to a user; the "
		                "admin API takes the admin client's own tokens "
		                "(client_credentials)");
	if (r.err == OAUTH_OK) {
		*client_id = rec.client_id;
		rec.client_id = NULL;
	}
	store_client_clear(&cl);
	store_token_clear(&rec);
	return r;
}
