/*
 * userinfo.c: OpenID Connect Core section 5.3, the UserInfo endpoint's
 * logic: which user a Bearer access token was issued to, and which of
 * that user's claims the token's client and scopes may see (claims.c's
 * rule, CLAIMS_USERINFO). The server reads the token off the request
 * (RFC 6750) and renders the answer (server/userinfo.c).
 *
 * Refusals (RFC 6750 section 3.1, through the error table):
 *   not ours, altered, expired, revoked       401 invalid_token
 *   issued to a client (client_credentials)   401 invalid_token: no user
 *                                             is behind it, and no scope
 *                                             would change that
 *   without the openid scope                  403 insufficient_scope
 *   its user or client removed since          401 invalid_token
 *   the database unavailable                  503 (oauth_from_store)
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "grants_int.h"
#include "strutil.h"

static struct oauth_result invalid(const char *why)
{
	return OAUTH_FAIL(OAUTH_INVALID_TOKEN, why);
}

/* The live record of the token, presented as its binding asks (RFC
 * 9449 section 7.1); not found reads as invalid_token (with a DPoP
 * challenge for the DPoP scheme). */
static struct oauth_result live_record(struct grants *g,
                                       const struct presented_token *p,
                                       struct store_token *rec)
{
	struct at_claims_read c;
	struct oauth_result dead = OAUTH_FAIL(
	    p->dpop ? OAUTH_DPOP_INVALID_TOKEN : OAUTH_INVALID_TOKEN, NULL);
	if (token_verify(g, p->token, &c) != 0)
		return dead;
	enum store_rc rc = access_token_live(g, c.jti, rec);
	struct oauth_result r = oauth_from_store(rc, "token lookup", dead);
	if (r.err == OAUTH_OK)
		r = binding_check(g, p, c.jkt, c.x5t);
	if (r.err != OAUTH_OK)
		store_token_clear(rec);
	at_claims_read_clear(&c);
	return r;
}

/* The token's user and client, as they are now. */
static struct oauth_result owners(struct grants *g,
                                  const struct store_token *rec,
                                  struct store_user *u,
                                  struct store_client *cl)
{
	enum store_rc rc = store_user_get_by_id(g->store, rec->subject, u);
	if (rc != STORE_OK)
		return oauth_from_store(rc, "user lookup",
		                        invalid("the user the access token was "
		                                "issued to no longer exists"));
	rc = store_client_get(g->store, rec->client_id, cl);
	if (rc != STORE_OK)
		return oauth_from_store(rc, "client lookup",
		                        invalid("the client the access token "
		                                "was issued to no longer "
		                                "exists"));
	if (cl->disabled_at != 0)
		return invalid("the client the access token was issued to is "
		               "disabled");
	return OAUTH_RESULT_OK;
}

struct oauth_result grants_userinfo(struct grants *g,
                                    const struct presented_token *p,
                                    struct json_t **claims, char **client_id)
{
	struct store_token rec = {0};
	struct store_user u = {0};
	struct store_client cl = {0};
	*claims = NULL;
	*client_id = NULL;
	struct oauth_result r = live_record(g, p, &rec);
	if (r.err == OAUTH_OK)
		*client_id = xstrdup(rec.client_id);
	/* client_credentials: the subject is the client itself. */
	if (r.err == OAUTH_OK && strcmp(rec.subject, rec.client_id) == 0)
		r = invalid("the access token was issued to a client, not to a "
		            "user (client_credentials): userinfo has no user "
		            "to describe");
	if (r.err == OAUTH_OK &&
	    !words_contains(rec.scope ? rec.scope : "", "openid", 6))
		r = (struct oauth_result){.err = OAUTH_INSUFFICIENT_SCOPE,
		                          .description = "the access token lacks "
		                                         "the openid scope",
		                          .scope = "openid"};
	if (r.err == OAUTH_OK)
		r = owners(g, &rec, &u, &cl);
	if (r.err == OAUTH_OK) {
		*claims = claims_release(&cl, &u, rec.scope, CLAIMS_USERINFO);
		if (*claims == NULL) /* the stored claims are no object */
			r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
	}
	/* Core 5.3.2: sub always, and always the token's. */
	if (r.err == OAUTH_OK)
		json_object_set_new(*claims, "sub", json_string(rec.subject));
	store_token_clear(&rec);
	store_user_clear(&u);
	store_client_clear(&cl);
	return r;
}
