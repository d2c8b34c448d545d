/*
 * grant_token_exchange.c: RFC 8693. A service holding a token for a user
 * (the subject token) trades it for a new access token of its own, aimed
 * at another API and never wider than what it holds; with an actor token
 * it says who acts, and the new token's act claim records the chain
 * (section 4.1: the current actor outermost, earlier ones nested).
 *
 * What is taken (docs/service-auth.md): a subject token that is a live
 * access token of this issuer, or an unexpired ID token of this issuer;
 * an actor token of either kind; an audience among the client's audiences
 * (DECISIONS "aud"); requested_token_type access_token only. The new
 * token continues the subject token's refresh family, so revoking that
 * family (reuse, logout, `token revoke --family`) revokes it too. No
 * refresh token is issued.
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
	char *sub;
	char *scope;  /* NULL: the token holds no scope (an ID token) */
	char *family; /* NULL: none */
	json_t *act;  /* the token's own act claim; NULL: none */
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
 * revoked nor expired. */
static struct oauth_result read_access(struct grants *g, const char *token,
                                       const char *what, struct held *out)
{
	json_t *claims = NULL;
	if (jws_read(g, token, "at+jwt", &claims) != 0)
		return unusable(what);
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	struct store_token t = {0};
	enum store_rc rc = jti ? store_token_get(g->store, jti, &t)
	                       : STORE_NOT_FOUND;
	struct oauth_result r = OAUTH_RESULT_OK;
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		r = oauth_from_store(rc, "token lookup", OAUTH_RESULT_OK);
	else if (rc == STORE_NOT_FOUND || t.revoked_at != 0 ||
	         t.expires_at <= clock_now())
		r = unusable(what);
	if (r.err == OAUTH_OK) {
		out->sub = t.subject, t.subject = NULL;
		out->scope = t.scope ? t.scope : xstrdup(""), t.scope = NULL;
		out->family = t.family_id, t.family_id = NULL;
		out->act = json_incref(json_object_get(claims, "act"));
	}
	store_token_clear(&t);
	json_decref(claims);
	return r;
}

/* An unexpired ID token of ours. */
static struct oauth_result read_id(struct grants *g, const char *token,
                                   const char *what, struct held *out)
{
	struct id_token_hint h;
	if (id_token_hint_read(g, token, &h) != 0)
		return unusable(what);
	struct oauth_result r = h.exp > clock_now() ? OAUTH_RESULT_OK
	                                            : unusable(what);
	if (r.err == OAUTH_OK)
		out->sub = h.sub, h.sub = NULL;
	id_token_hint_clear(&h);
	return r;
}

static struct oauth_result read_token(struct grants *g, const char *token,
                                      const char *type, bool subject,
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
		return read_access(g, token, what, out);
	if (strcmp(type, TT_ID) == 0)
		return read_id(g, token, what, out);
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
		               true, &subject);
	if (r.err == OAUTH_OK &&
	    (rq->actor_token != NULL || rq->actor_token_type != NULL))
		r = read_token(g, rq->actor_token, rq->actor_token_type, false,
		               &actor);
	/* The audience must be one the client may ask for (its audiences);
	 * resource was narrowed the same way by the token endpoint. */
	if (r.err == OAUTH_OK && rq->audience != NULL) {
		if (!audience_allowed(g, cl, rq->audience))
			r = OAUTH_FAIL(OAUTH_INVALID_TARGET, "audience is not one "
			               "this client may ask for");
		else {
			free(narrowed.audiences);
			narrowed.audiences = xstrdup(rq->audience);
		}
	}
	/* Never wider than the subject token; an ID token holds no scope,
	 * and the client's own scopes bound what it yields. */
	if (r.err == OAUTH_OK)
		r = subject.scope != NULL
		        ? scope_regrant(rq->scope, subject.scope, subject.scope,
		                        &scope)
		        : scope_grant(rq->scope, cl->scopes, &scope);
	if (r.err == OAUTH_OK) {
		act = act_claim(&subject, &actor);
		struct issue_opts o = {
			.subject = subject.sub, .scope = scope,
			.family_id = subject.family, .act = act,
			.issued_token_type = TT_ACCESS, .may_pend = rq->may_pend,
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
