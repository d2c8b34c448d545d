/*
 * introspect.c: RFC 7662 token introspection. The signature proves a token
 * is ours; the token record decides whether it is still active (revoked
 * and expired tokens are inactive). Whatever is not active is answered
 * with exactly {"active": false}, so callers learn nothing about why.
 * Who may ask: confidential clients, and with introspection_requires_flag
 * only those with the introspect flag.
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
	free(i->username);
	free(i->jkt);
	free(i->x5t);
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

/* A live refresh token: not retired, revoked or expired. */
static bool refresh_live(const struct store_refresh *rt)
{
	return rt->retired_at == 0 && rt->revoked_at == 0 &&
	       rt->expires_at > clock_now();
}

/* Not found is an inactive token; any other failure (the database down
 * or busy) is the caller's 503: a live token must never read as inactive
 * because the database could not be asked, or a resource server would
 * drop a session that is still good. */
static struct oauth_result lookup_failed(enum store_rc rc)
{
	return oauth_from_store(rc, "token lookup", OAUTH_RESULT_OK);
}

/* A token of a disabled client is inactive while the client is: a
 * resource server that introspects stops accepting it at once, and again
 * when the client is enabled (read through the client cache: at most 1 s
 * old, shared/DECISIONS.md). STORE_NOT_FOUND for disabled or gone. */
static enum store_rc client_enabled(struct grants *g, const char *client_id)
{
	struct store_client cl = {0};
	bool cached;
	enum store_rc rc = client_cache_get(g, client_id, &cl, &cached);
	if (rc == STORE_OK && cl.disabled_at != 0)
		rc = STORE_NOT_FOUND;
	store_client_clear(&cl);
	return rc;
}

static struct oauth_result introspect_refresh(struct grants *g,
                                              const char *token,
                                              struct introspection *out)
{
	char hash[2 * SHA256_LEN + 1];
	struct store_refresh rt = {0};
	token_hash(token, hash);
	enum store_rc rc = store_refresh_get(g->store, hash, &rt);
	if (rc == STORE_OK && refresh_live(&rt) &&
	    (rc = client_enabled(g, rt.client_id)) == STORE_OK) {
		out->active = true;
		out->client_id = rt.client_id;
		out->sub = rt.subject;
		out->scope = rt.scope;
		out->username = rt.username;
		out->exp = rt.expires_at;
		out->iat = rt.issued_at;
		out->iss = xstrdup(g->issuer);
		out->token_type = "refresh_token";
		rt.client_id = rt.subject = rt.scope = rt.username = NULL;
	}
	store_refresh_clear(&rt);
	return lookup_failed(rc);
}

enum store_rc access_token_live(struct grants *g, const char *jti,
                                struct store_token *rec)
{
	enum store_rc rc = store_token_get(g->store, jti, rec);
	if (rc == STORE_OK &&
	    (rec->revoked_at != 0 || rec->expires_at <= clock_now()))
		rc = STORE_NOT_FOUND;
	if (rc == STORE_OK)
		rc = client_enabled(g, rec->client_id);
	if (rc != STORE_OK)
		store_token_clear(rec);
	return rc;
}

static struct oauth_result introspect_access(struct grants *g,
                                             const struct at_claims_read *c,
                                             struct introspection *out)
{
	struct store_token rec = {0};
	struct store_user u = {0};
	enum store_rc rc = access_token_live(g, c->jti, &rec);
	if (rc != STORE_OK)
		return lookup_failed(rc);
	out->active = true;
	out->client_id = rec.client_id;
	out->sub = rec.subject;
	out->scope = rec.scope;
	out->jti = rec.jti;
	out->exp = rec.expires_at;
	out->iat = rec.issued_at;
	/* RFC 9449 section 6.2: a bound token's key, and its type. */
	out->token_type = c->jkt != NULL ? "DPoP" : "Bearer";
	out->jkt = c->jkt != NULL ? xstrdup(c->jkt) : NULL;
	/* RFC 8705 section 3.2: a certificate-bound token's thumbprint. */
	out->x5t = c->x5t != NULL ? xstrdup(c->x5t) : NULL;
	out->iss = xstrdup(c->iss);
	out->aud = xstrdup(c->aud);
	/* A subject that is a user id names a user (RFC 7662 "username"). */
	rc = strcmp(rec.subject, rec.client_id) != 0
	         ? store_user_get_by_id(g->store, rec.subject, &u)
	         : STORE_NOT_FOUND;
	if (rc == STORE_OK) {
		out->username = u.username;
		u.username = NULL;
	}
	store_user_clear(&u);
	rec.client_id = rec.subject = rec.scope = rec.jti = NULL;
	store_token_clear(&rec);
	struct oauth_result r = lookup_failed(rc);
	if (r.err != OAUTH_OK)
		introspection_clear(out); /* not half an answer */
	return r;
}

struct oauth_result grants_introspect(struct grants *g,
                                      const struct token_ref_request *rq,
                                      struct introspection *out,
                                      char **client_id)
{
	struct store_client cl;

	memset(out, 0, sizeof(*out));
	struct oauth_result r = token_ref_auth(g, rq, &cl, client_id);
	if (r.err != OAUTH_OK)
		return r;
	bool is_public = cl.is_public, flagged = cl.introspect;
	store_client_clear(&cl);
	if (is_public)
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT,
		                  "introspection requires a confidential client");
	/* RFC 7662 section 4: the endpoint SHOULD be limited to authorized
	 * resource servers. Off by default in this release, so existing
	 * callers keep working; docs call it the production setting. */
	if (g->introspection_requires_flag && !flagged)
		return OAUTH_FAIL(OAUTH_ENDPOINT_FORBIDDEN,
		                  "this client may not introspect tokens (it "
		                  "lacks the introspect flag)");
	/* A JWT (it has dots) is one of our access tokens or nothing; a
	 * refresh token is base64url, without dots. The hint is not needed to
	 * tell them apart. */
	if (strchr(rq->token, '.') != NULL)
		return grants_check_bearer(g, rq->token, out);
	return introspect_refresh(g, rq->token, out);
}

struct oauth_result grants_check_bearer(struct grants *g, const char *token,
                                        struct introspection *out)
{
	struct at_claims_read claims;
	struct oauth_result r = OAUTH_RESULT_OK;
	memset(out, 0, sizeof(*out));
	if (token_verify(g, token, &claims) == 0) {
		r = introspect_access(g, &claims, out);
		at_claims_read_clear(&claims);
	}
	return r;
}

struct oauth_result binding_check(struct grants *g,
                                  const struct presented_token *p,
                                  const char *jkt, const char *x5t)
{
	struct oauth_result r = dpop_binding_check(g, p, jkt);
	/* RFC 8705 section 3: a certificate-bound token only over a TLS
	 * connection that presented the certificate; else invalid_token. */
	if (r.err == OAUTH_OK && x5t != NULL &&
	    (p->tls_x5t == NULL || strcmp(p->tls_x5t, x5t) != 0))
		r = OAUTH_FAIL(p->dpop ? OAUTH_DPOP_INVALID_TOKEN
		                       : OAUTH_INVALID_TOKEN,
		               p->tls_x5t == NULL
		                   ? "the access token is bound to a TLS client "
		                     "certificate, and the connection presented "
		                     "none"
		                   : "the access token is bound to another TLS "
		                     "client certificate than the connection's");
	return r;
}

struct oauth_result grants_check_presented(struct grants *g,
                                           const struct presented_token *p,
                                           struct introspection *out)
{
	struct oauth_result r = grants_check_bearer(g, p->token, out);
	if (r.err != OAUTH_OK || !out->active)
		return r;
	r = binding_check(g, p, out->jkt, out->x5t);
	if (r.err != OAUTH_OK)
		introspection_clear(out);
	return r;
}
