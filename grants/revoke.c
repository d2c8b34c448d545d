/*
 * revoke.c: RFC 7009 token revocation. A client may revoke only tokens
 * issued to it (section 2.1). Anything we cannot read as one of our
 * tokens is answered with success, since there is nothing left to revoke
 * and the client's goal, an unusable token, holds (section 2.2).
 */
#include <string.h>

#include "clock.h"
#include "grants_int.h"
#include "log.h"

static struct oauth_result revoke_access(struct grants *g,
                                         const struct store_client *cl,
                                         const char *jti)
{
	struct store_token rec = {0};
	struct oauth_result r = OAUTH_RESULT_OK;
	enum store_rc rc = store_token_get(g->store, jti, &rec);
	if (rc == STORE_OK && strcmp(rec.client_id, cl->client_id) != 0)
		r = OAUTH_FAIL(OAUTH_UNAUTHORIZED_CLIENT,
		               "the token was not issued to this client");
	else if (rc == STORE_OK)
		rc = store_token_revoke(g->store, jti, clock_now(), NULL);
	/* RFC 7009 section 2.2: an unknown token is no error. */
	if (rc != STORE_OK)
		r = oauth_from_store(rc, "revocation", OAUTH_RESULT_OK);
	store_token_clear(&rec);
	return r;
}

static struct oauth_result revoke_refresh(struct grants *g,
                                          const struct store_client *cl,
                                          const char *token)
{
	char hash[2 * SHA256_LEN + 1];
	struct store_refresh rt = {0};
	struct oauth_result r = OAUTH_RESULT_OK;
	token_hash(token, hash);
	enum store_rc rc = store_refresh_get(g->store, hash, &rt);
	if (rc == STORE_OK && strcmp(rt.client_id, cl->client_id) != 0)
		r = OAUTH_FAIL(OAUTH_UNAUTHORIZED_CLIENT,
		               "the token was not issued to this client");
	else if (rc == STORE_OK)
		rc = store_family_revoke(g->store, rt.family_id, clock_now(), NULL);
	/* RFC 7009 section 2.2: an unknown token is no error. */
	if (rc != STORE_OK)
		r = oauth_from_store(rc, "revocation", OAUTH_RESULT_OK);
	store_refresh_clear(&rt);
	return r;
}

struct oauth_result grants_revoke(struct grants *g,
                                  const struct token_ref_request *rq,
                                  char **client_id)
{
	struct store_client cl;
	struct at_claims_read claims;

	struct oauth_result r = token_ref_auth(g, rq, &cl, client_id);
	if (r.err != OAUTH_OK)
		return r;
	if (token_verify(g, rq->token, &claims) == 0) {
		r = revoke_access(g, &cl, claims.jti);
		at_claims_read_clear(&claims);
	} else if (strchr(rq->token, '.') == NULL) {
		r = revoke_refresh(g, &cl, rq->token);
	}
	store_client_clear(&cl);
	return r;
}
