/*
 * grant_authorization_code.c: RFC 6749 section 4.1.3 with RFC 7636 PKCE:
 * a code from /authorize (authorize.c) becomes tokens once.
 *
 * Redeeming is a compare-and-set in store_issue, so of concurrent
 * redemptions exactly one wins. A code presented again after it was
 * redeemed means it leaked (section 4.1.2, RFC 9700 section 4.2.4): every
 * token issued from it, access and refresh, is revoked.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

static struct oauth_result replayed(struct grants *g, const char *hash)
{
	struct store_code c = {0};
	int n = 0;
	if (store_code_get(g->store, hash, &c) == STORE_OK && c.used_at == 0) {
		/* Not a replay: it expired between the check and the write. */
		store_code_clear(&c);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "the code expired");
	}
	if (c.family_id != NULL)
		store_family_revoke(g->store, c.family_id, clock_now(), &n);
	log_security("authorization code of client %s redeemed again; %d "
	             "tokens issued from it revoked", c.client_id ? c.client_id
	                                                        : "?", n);
	store_code_clear(&c);
	return OAUTH_FAIL(OAUTH_INVALID_GRANT, "the authorization code was "
	                  "already used; the tokens issued from it are revoked");
}

/* RFC 7636 section 4.6. */
static bool verifier_matches(const struct store_code *c, const char *v)
{
	if (!pkce_value_ok(v))
		return false;
	if (strcmp(c->code_challenge_method, "plain") == 0)
		return crypto_streq(v, c->code_challenge);
	unsigned char d[SHA256_LEN];
	sha256(v, strlen(v), d);
	char *s256 = b64_encode(d, sizeof(d), true);
	bool ok = s256 != NULL && crypto_streq(s256, c->code_challenge);
	free(s256);
	return ok;
}

/* Section 4.1.3: what the code was bound to must all match. */
static struct oauth_result check(const struct store_code *c,
                                 const struct token_request *rq,
                                 const struct store_client *cl)
{
	if (strcmp(c->client_id, cl->client_id) != 0)
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "the code was issued to "
		                  "another client");
	if (c->expires_at <= clock_now())
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "the code expired");
	if (c->redirect_uri != NULL
	        ? rq->redirect_uri == NULL ||
	              strcmp(rq->redirect_uri, c->redirect_uri) != 0
	        : rq->redirect_uri != NULL &&
	              !words_contains(cl->redirect_uris, rq->redirect_uri,
	                              strlen(rq->redirect_uri)))
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "redirect_uri does not "
		                  "match the authorization request");
	if (c->code_challenge != NULL) {
		if (rq->code_verifier == NULL)
			return OAUTH_FAIL(OAUTH_INVALID_GRANT, "code_verifier is "
			                  "required: the request had a "
			                  "code_challenge");
		if (!verifier_matches(c, rq->code_verifier))
			return OAUTH_FAIL(OAUTH_INVALID_GRANT, "code_verifier does "
			                  "not match the code_challenge");
	} else if (rq->code_verifier != NULL) {
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "code_verifier sent, but "
		                  "the request had no code_challenge");
	} else if (cl->is_public) {
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "public clients must use "
		                  "PKCE");
	}
	/* RFC 9449 section 10: a code asked for with dpop_jkt is redeemed
	 * only with a proof by that key. */
	if (c->dpop_jkt != NULL &&
	    (rq->dpop_jkt == NULL || strcmp(rq->dpop_jkt, c->dpop_jkt) != 0))
		return OAUTH_FAIL(OAUTH_INVALID_DPOP_PROOF,
		                  "the code is bound to a DPoP key (dpop_jkt): "
		                  "send a proof signed with that key");
	return OAUTH_RESULT_OK;
}

/* RFC 8707 section 2.2: a code issued for a resource gives tokens for that
 * resource alone. The token request may name it again but not another;
 * a code issued for none takes the request's. It must still be one of
 * the client's audiences (resources_narrow), and *aud is the client as
 * token_issue sees it, narrowed to the resource. */
static struct oauth_result code_resource(const struct grants *g,
                                         const struct store_code *c,
                                         const struct token_request *rq,
                                         struct store_client *aud, bool *cut)
{
	const char *res = c->resource != NULL ? c->resource : rq->resource;
	if (c->resource != NULL && rq->resource != NULL &&
	    strcmp(rq->resource, c->resource) != 0)
		return OAUTH_FAIL(OAUTH_INVALID_TARGET, "the resource is not the "
		                  "one the code was issued for");
	struct oauth_result r = resources_narrow(g, &res, 1, NULL, aud, cut);
	if (r.err == OAUTH_INVALID_TARGET && c->resource != NULL)
		r.description = "the resource the code was issued for is no "
		                "longer an audience of the client";
	return r;
}

struct oauth_result grant_authorization_code(struct grants *g,
                                             const struct token_request *rq,
                                             const struct store_client *cl,
                                             struct token_response *out)
{
	struct store_code c = {0};
	char hash[2 * SHA256_LEN + 1];
	char *scope = NULL;
	struct oauth_result r;

	if (rq->code == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "code is required");
	token_hash(rq->code, hash);
	enum store_rc rc = store_code_get(g->store, hash, &c);
	if (rc != STORE_OK)
		return oauth_from_store(rc, "code lookup",
		                        OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                                   "unknown authorization code"));
	/* A used code is revoked whoever presents it: its holder is not
	 * necessarily the client it was issued to. */
	if (c.used_at != 0)
		r = replayed(g, hash);
	else
		r = check(&c, rq, cl);
	struct store_client aud;
	bool cut = false;
	store_client_copy(&aud, cl);
	if (r.err == OAUTH_OK)
		r = code_resource(g, &c, rq, &aud, &cut);
	/* The client may have lost scopes since /authorize: it gets only
	 * those it still has, and the response's scope says so (5.1); the
	 * resource may take some away too. */
	if (r.err == OAUTH_OK)
		r = resources_scope_result(
		    scope_regrant(NULL, c.scope, aud.scopes, &scope), cut);
	/* OpenID Connect Core 3.1.3.3: openid granted, an ID token too, for
	 * the user as they are now (their claims). */
	struct store_user u = {0};
	bool oidc = r.err == OAUTH_OK && scope_has_openid(scope);
	if (oidc)
		r = oauth_from_store(store_user_get_by_id(g->store, c.subject, &u),
		                     "user lookup",
		                     OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                                "the user no longer exists"));
	if (r.err == OAUTH_OK) {
		struct id_token_in idt = {
			.user = &u, .scope = scope, .nonce = c.nonce,
			.auth_time = c.auth_time, .sid = c.sid, .amr = c.amr,
		};
		struct issue_opts o = {
			.subject = c.subject, .username = c.username,
			.scope = scope, .with_refresh = refresh_enabled(g, cl),
			.consume_code_hash = hash, .auth_time = c.auth_time,
			.sid = c.sid, .amr = c.amr, .id_token = oidc ? &idt : NULL,
			.dpop_jkt = rq->dpop_jkt, .tls_x5t = rq->tls_x5t,
		};
		r = token_issue(g, &aud, &o, out);
		if (r.err == OAUTH_INVALID_GRANT) /* lost the race: a replay */
			r = replayed(g, hash);
	}
	crypto_wipe(hash, sizeof(hash));
	store_code_clear(&c);
	store_user_clear(&u);
	store_client_clear(&aud);
	free(scope);
	return r;
}
