/*
 * grant_token_exchange.c: RFC 8693. A service holding a token for a user
 * (the subject token) trades it for a new access token of its own, aimed
 * at another API and never wider than what it holds; with an actor token
 * it says who acts, and the new token's act claim records the chain
 * (section 4.1: the current actor outermost, earlier ones nested).
 *
 * What is taken (docs/service-auth.md): a subject token that is a live
 * access token of this issuer (one bound to a DPoP key only with a proof
 * by that key), or an unexpired ID token issued to the exchanging
 * client; an actor token of either kind; an audience among the client's
 * audiences (DECISIONS "aud"); requested_token_type access_token only. The scope
 * is within the subject token's and the client's; the new token expires
 * no later than the subject (and actor) token. It continues the subject
 * token's refresh family, so revoking that family (reuse, logout, `token
 * revoke --family`) revokes it too. No refresh token is issued.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grants_int.h"
#include "strutil.h"

#define TT_ACCESS "urn:ietf:params:oauth:token-type:access_token"
#define TT_ID "urn:ietf:params:oauth:token-type:id_token"

/* What a subject or actor token says. */
struct held {
	int64_t exp;  /* the exchanged token lives no longer */
	char *sub;
	char *scope;  /* NULL: the token holds no scope (an ID token) */
	char *family; /* NULL: none */
	json_t *act;  /* the token's own act claim; NULL: none */
	bool cert_bound; /* bound to the connection's TLS certificate */
};

static void held_clear(struct held *h)
{
	free(h->sub);
	free(h->scope);
	free(h->family);
	json_decref(h->act);
	memset(h, 0, sizeof(*h));
}

static struct oauth_result unusable(const char *what)
{
	/* Section 2.2.2: an invalid or unacceptable subject or actor token
	 * is invalid_request. */
	return OAUTH_FAIL(OAUTH_INVALID_REQUEST, what);
}

/* A live access token of ours: signed by our keys, its record neither
 * revoked nor expired. One bound to a DPoP key (cnf.jkt) only with the
 * request's proof by that key (rq->dpop_jkt), one bound to a TLS client
 * certificate (cnf.x5t#S256, RFC 8705) only over a connection that
 * presented it: else a stolen bound token would come out of the
 * exchange as a Bearer one. */
static struct oauth_result read_access(struct grants *g, const char *token,
                                       const char *what,
                                       const struct token_request *rq,
                                       struct held *out)
{
	const char *proved = rq->dpop_jkt;
	const char *cert = rq->creds.tls_cert != NULL ? rq->creds.tls_cert->x5t
	                                              : NULL;
	json_t *claims = NULL;
	if (jws_read(g, token, "at+jwt", &claims) != 0)
		return unusable(what);
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	const char *jkt = json_string_value(
	    json_object_get(json_object_get(claims, "cnf"), "jkt"));
	if (jkt != NULL && (proved == NULL || strcmp(jkt, proved) != 0)) {
		json_decref(claims);
		return unusable("a DPoP-bound token is exchanged only with a "
		                "DPoP proof by its key");
	}
	const char *x5t = json_string_value(
	    json_object_get(json_object_get(claims, "cnf"), "x5t#S256"));
	if (x5t != NULL && (cert == NULL || strcmp(x5t, cert) != 0)) {
		json_decref(claims);
		return unusable("a certificate-bound token is exchanged only "
		                "over a connection presenting its certificate");
	}
	out->cert_bound = x5t != NULL;
	struct store_token t = {0};
	enum store_rc rc = jti ? store_token_get(g->store, jti, &t)
	                       : STORE_NOT_FOUND;
	struct oauth_result r = OAUTH_RESULT_OK;
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		r = oauth_from_store(rc, "token lookup", OAUTH_RESULT_OK);
	else if (rc == STORE_NOT_FOUND || t.revoked_at != 0 ||
	         t.expires_at <= clock_now())
		r = unusable(what);
	/* A disabled client's tokens are inactive everywhere (issue 17). */
	struct store_client owner = {0};
	if (r.err == OAUTH_OK) {
		rc = store_client_get(g->store, t.client_id, &owner);
		if (rc != STORE_OK && rc != STORE_NOT_FOUND)
			r = oauth_from_store(rc, "client lookup", OAUTH_RESULT_OK);
		else if (rc == STORE_NOT_FOUND || owner.disabled_at != 0)
			r = unusable(what);
	}
	store_client_clear(&owner);
	if (r.err == OAUTH_OK) {
		out->exp = t.expires_at;
		out->sub = t.subject, t.subject = NULL;
		out->scope = t.scope ? t.scope : xstrdup(""), t.scope = NULL;
		out->family = t.family_id, t.family_id = NULL;
		out->act = json_incref(json_object_get(claims, "act"));
	}
	store_token_clear(&t);
	json_decref(claims);
	return r;
}

/* An unexpired ID token of ours, issued to the client exchanging it
 * (its aud): an ID token is shown to the relying party that asked for it,
 * and travels further (id_token_hint in logout URLs), so no other client
 * may trade it for an access token. */
static struct oauth_result read_id(struct grants *g, const char *token,
                                   const char *what, const char *client_id,
                                   struct held *out)
{
	struct id_token_hint h;
	if (id_token_hint_read(g, token, &h) != 0)
		return unusable(what);
	struct oauth_result r = OAUTH_RESULT_OK;
	if (h.exp <= clock_now())
		r = unusable(what);
	else if (h.client_id == NULL || strcmp(h.client_id, client_id) != 0)
		r = unusable("an ID token may be exchanged only by the client it "
		             "was issued to");
	if (r.err == OAUTH_OK)
		out->exp = h.exp, out->sub = h.sub, h.sub = NULL;
	id_token_hint_clear(&h);
	return r;
}

static struct oauth_result read_token(struct grants *g, const char *token,
                                      const char *type, bool subject,
                                      const char *client_id,
                                      const struct token_request *rq,
                                      struct held *out)
{
	const char *what = subject ? "subject_token is not a live token of "
	                             "this issuer"
	                           : "actor_token is not a live token of this "
	                             "issuer";
	memset(out, 0, sizeof(*out));
	if (token == NULL || type == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                  subject ? "subject_token and subject_token_type "
		                            "are required"
		                          : "actor_token_type goes with "
		                            "actor_token");
	if (strcmp(type, TT_ACCESS) == 0)
		return read_access(g, token, what, rq, out);
	if (strcmp(type, TT_ID) == 0)
		return read_id(g, token, what, client_id, out);
	return OAUTH_FAIL(OAUTH_INVALID_REQUEST, subject
	                  ? "subject_token_type must be " TT_ACCESS " or " TT_ID
	                  : "actor_token_type must be " TT_ACCESS " or " TT_ID);
}

/* Section 4.1: the actor outermost, the subject token's chain inside. */
static json_t *act_claim(const struct held *subject, const struct held *actor)
{
	if (actor->sub == NULL)
		return json_incref(subject->act);
	json_t *act = json_pack("{s:s}", "sub", actor->sub);
	if (act != NULL && subject->act != NULL)
		json_object_set(act, "act", subject->act);
	return act;
}

struct oauth_result grant_token_exchange(struct grants *g,
                                         const struct token_request *rq,
                                         const struct store_client *cl,
                                         struct token_response *out)
{
	struct held subject = {0}, actor = {0};
	struct store_client narrowed;
	bool cut = false;
	char *scope = NULL;
	json_t *act = NULL;
	store_client_copy(&narrowed, cl);
	struct oauth_result r = OAUTH_RESULT_OK;
	if (rq->requested_token_type != NULL &&
	    strcmp(rq->requested_token_type, TT_ACCESS) != 0)
		r = OAUTH_FAIL(OAUTH_INVALID_REQUEST, "requested_token_type "
		               "must be " TT_ACCESS);
	if (r.err == OAUTH_OK)
		r = read_token(g, rq->subject_token, rq->subject_token_type,
		               true, cl->client_id, rq, &subject);
	if (r.err == OAUTH_OK &&
	    (rq->actor_token != NULL || rq->actor_token_type != NULL))
		r = read_token(g, rq->actor_token, rq->actor_token_type, false,
		               cl->client_id, rq, &actor);
	/* Section 2.1: audience and resource name where the token is to
	 * be used, and either must be one the client may ask for (its
	 * audiences); the token is for both when both are given. */
	if (r.err == OAUTH_OK) {
		const char *asked[] = {rq->resource, rq->audience};
		if (rq->audience != NULL && !audience_allowed(g, cl, rq->audience))
			r = OAUTH_FAIL(OAUTH_INVALID_TARGET, "audience is not one "
			               "this client may ask for");
		else
			r = resources_narrow(g, asked, 2, rq->scope, &narrowed,
			                     &cut);
	}
	/* Never wider than the subject token, nor than the client's own
	 * scopes (so no exchange yields latchkey:admin to a client that may
	 * not hold it); an ID token holds no scope, so the client's bound
	 * it alone. */
	if (r.err == OAUTH_OK)
		r = resources_scope_result(
		    subject.scope != NULL
		        ? scope_regrant(rq->scope, subject.scope, narrowed.scopes,
		                        &scope)
		        : scope_grant(rq->scope, narrowed.scopes, &scope),
		    cut);
	/* RFC 8705 section 3 as RFC 9449 for DPoP: what was bound to the
	 * connection's certificate stays bound to it (read_access made sure
	 * the connection presented it), whoever exchanges it. */
	const char *x5t = rq->tls_x5t;
	if (x5t == NULL && (subject.cert_bound || actor.cert_bound))
		x5t = rq->creds.tls_cert->x5t;
	if (r.err == OAUTH_OK) {
		act = act_claim(&subject, &actor);
		struct issue_opts o = {
			.subject = subject.sub, .scope = scope,
			.family_id = subject.family, .act = act,
			/* no longer than what it was exchanged from */
			.expires_max = actor.exp > 0 && actor.exp < subject.exp
			                   ? actor.exp : subject.exp,
			.issued_token_type = TT_ACCESS, .may_pend = rq->may_pend,
			.dpop_jkt = rq->dpop_jkt, .tls_x5t = x5t,
		};
		r = token_issue(g, &narrowed, &o, out);
	}
	json_decref(act);
	free(scope);
	held_clear(&subject);
	held_clear(&actor);
	store_client_clear(&narrowed);
	return r;
}
