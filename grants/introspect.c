/*
 * introspect.c: RFC 7662 token introspection. The signature proves a token
 * is ours; the token record decides whether it is still active (revoked
 * and expired tokens are inactive). Whatever is not active is answered
 * with exactly {"active": false}, so callers learn nothing about why.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

void introspection_clear(struct introspection *i)
{
	free(i->client_id);
	free(i->scope);
	free(i->sub);
	free(i->iss);
	free(i->jti);
	free(i->aud);
	memset(i, 0, sizeof(*i));
}

/* Authenticates the caller of /introspect or /revoke; *client_id is the
 * claimed id for the log. */
struct oauth_result token_ref_auth(struct grants *g,
                                   const struct token_ref_request *rq,
                                   struct store_client *cl, char **client_id)
{
	*client_id = xstrdup(rq->creds.basic ? rq->creds.basic_id
	                                     : rq->creds.form_id);
	struct oauth_result r = client_authenticate(g, &rq->creds, cl);
	if (r.err != OAUTH_OK)
		return r;
	if (rq->token == NULL) {
		store_client_clear(cl);
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "token is required");
	}
	return OAUTH_RESULT_OK;
}

struct oauth_result grants_introspect(struct grants *g,
                                      const struct token_ref_request *rq,
                                      struct introspection *out,
                                      char **client_id)
{
	struct store_client cl;
	struct at_claims_read claims;
	struct store_token rec = {0};

	memset(out, 0, sizeof(*out));
	struct oauth_result r = token_ref_auth(g, rq, &cl, client_id);
	if (r.err != OAUTH_OK)
		return r;
	bool is_public = cl.is_public;
	store_client_clear(&cl);
	if (is_public)
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT,
		                  "introspection requires a confidential client");

	if (token_verify(g, rq->token, &claims) != 0)
		return OAUTH_RESULT_OK; /* not ours: inactive */
	enum store_rc rc = store_token_get(g->store, claims.jti, &rec);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		at_claims_read_clear(&claims);
		log_errx("introspection lookup: %s", store_rc_str(rc));
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	if (rc == STORE_OK && rec.revoked_at == 0 && rec.expires_at > clock_now()) {
		out->active = true;
		out->client_id = rec.client_id;
		out->sub = rec.subject;
		out->scope = rec.scope;
		out->jti = rec.jti;
		out->exp = rec.expires_at;
		out->iat = rec.issued_at;
		out->token_type = "Bearer";
		out->iss = claims.iss;
		out->aud = claims.aud;
		rec.client_id = rec.subject = rec.scope = rec.jti = NULL;
		claims.iss = claims.aud = NULL;
	}
	store_token_clear(&rec);
	at_claims_read_clear(&claims);
	return OAUTH_RESULT_OK;
}
