/*
 * grant_jwt_bearer.c: the JWT bearer grant (RFC 7523 section 2.1 and 3,
 * RFC 7521 section 4.1). A workload holds a JWT its platform gave it (a
 * Kubernetes service-account token, a CI job's OIDC token) and trades it
 * for a Latchkey access token, through a client registered for the grant
 * `jwt-bearer`. The JWT's issuer must be one the operator trusts
 * (`latchkey issuer add`), with its keys registered or at a jwks_uri.
 *
 * The rules, in docs/service-auth.md: iss an issuer trusted for this
 * client (each issuer is registered for one client: a CI system's JWTs
 * cannot be traded through the cluster's client); alg RS256, PS256 or
 * ES256, fitting the key, no "crit"; aud the issuer's registered
 * audience, else this server's issuer or token endpoint; exp required,
 * not past and at most JWT_BEARER_MAX_LIFETIME ahead, nbf and iat not
 * ahead (30 s leeway for those); sub required, at most 255 bytes, and
 * never the form of our users' ids (u_...), a user's id nor a registered
 * client's id, so that another trust domain's subject cannot pass for a
 * person or a client of ours (a client's own client_credentials tokens,
 * admin ones included).
 * The jti is not spent: such tokens are meant to be presented many times
 * while they live (section 3 makes single use optional). The token's sub
 * is the JWT's, its client the authenticated client, and it expires no
 * later than the JWT; no refresh token (the workload asks again with its
 * JWT).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grants_int.h"
#include "jws.h"
#include "log.h"
#include "metrics.h"
#include "strutil.h"

/* A Kubernetes token with a few claims is about 1 KiB; room for more. */
#define JWT_BEARER_MAX_LEN 16384
#define SUB_MAX 255
#define LEEWAY 30
/* A platform token good for longer than this (a legacy Kubernetes token
 * of a year) is refused: it would be a lasting credential, as its jti is
 * not spent. Projected tokens live an hour by default. */
#define JWT_BEARER_MAX_LIFETIME 86400

static struct oauth_result refused(const struct store_client *cl,
                                   const char *iss, const char *why)
{
	log_security("jwt-bearer assertion refused for client %s (issuer "
	             "%.128s): %s", cl->client_id, iss ? iss : "(none)", why);
	return OAUTH_FAIL(OAUTH_INVALID_GRANT, why);
}

/* The claims' rules; NULL when they hold, else why not. */
static const char *bearer_claims_check(const struct grants *g,
                                       const struct store_issuer *is,
                                       json_t *p, int64_t now)
{
	const char *sub = json_string_value(json_object_get(p, "sub"));
	json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
	json_t *iat = json_object_get(p, "iat");
	json_t *aud = json_object_get(p, "aud");
	if (is->audience != NULL ? !jwt_aud_names(aud, is->audience, NULL)
	                         : !jwt_aud_names(aud, g->issuer,
	                                          g->token_endpoint))
		return is->audience != NULL
		           ? "the assertion's aud is not the audience registered "
		             "for its issuer"
		           : "the assertion's aud must be the issuer or the token "
		             "endpoint";
	if (!json_is_integer(exp))
		return "the assertion needs an exp";
	/* No leeway here: the token may live only as long as the JWT. */
	if (json_integer_value(exp) <= now)
		return "the assertion has expired";
	if (json_integer_value(exp) > now + JWT_BEARER_MAX_LIFETIME + LEEWAY)
		return "the assertion's exp is too far ahead (at most 86400 "
		       "seconds)";
	if ((nbf != NULL && (!json_is_integer(nbf) ||
	                     json_integer_value(nbf) > now + LEEWAY)) ||
	    (iat != NULL && (!json_is_integer(iat) ||
	                     json_integer_value(iat) > now + LEEWAY)))
		return "the assertion is not valid yet (nbf or iat)";
	if (sub == NULL || sub[0] == '\0' || strlen(sub) > SUB_MAX ||
	    !param_value_ok(sub, SUB_MAX))
		return "the assertion needs a sub of 1 to 255 bytes without "
		       "control characters";
	if (strncmp(sub, "u_", 2) == 0)
		return "the assertion's sub has the form of this server's user "
		       "ids (u_...), which no other issuer may assert";
	return NULL;
}

/* Whether sub names one of ours: a client (its tokens would pass for
 * the client's own), or a user, whatever the form of its id (the test
 * double's fixtures may give users any). OK when it names none; else
 * invalid_grant with why, or a store failure (never taken for "none"). */
static struct oauth_result sub_is_ours(struct grants *g, const char *sub,
                                       const char **why)
{
	struct store_client other;
	struct store_user u;
	*why = NULL;
	enum store_rc rc = store_client_get(g->store, sub, &other);
	if (rc == STORE_OK) {
		store_client_clear(&other);
		*why = "the assertion's sub is a client id of this server, "
		       "which no other issuer may assert";
		return OAUTH_RESULT_OK;
	}
	if (rc == STORE_NOT_FOUND &&
	    (rc = store_user_get_by_id(g->store, sub, &u)) == STORE_OK) {
		store_user_clear(&u);
		*why = "the assertion's sub is a user id of this server, "
		       "which no other issuer may assert";
		return OAUTH_RESULT_OK;
	}
	return rc == STORE_NOT_FOUND
	           ? OAUTH_RESULT_OK
	           : oauth_from_store(rc, "subject lookup", OAUTH_RESULT_OK);
}

/* The assertion checked against its issuer: OK with *sub (caller frees)
 * the subject and *exp its expiry, or invalid_grant with why, or a store
 * failure. */
static struct oauth_result assertion_check(struct grants *g,
                                           const struct store_client *cl,
                                           const char *assertion,
                                           char **sub, int64_t *exp)
{
	struct jws j;
	struct store_issuer is = {0};
	*sub = NULL;
	if (assertion == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "assertion is required");
	if (jws_parse(assertion, JWT_BEARER_MAX_LEN, &j) != 0)
		return refused(cl, NULL, "the assertion is not a signed JWT");
	const char *iss = json_string_value(json_object_get(j.payload, "iss"));
	const char *alg = json_string_value(json_object_get(j.header, "alg"));
	const char *why = NULL, *keys_why = NULL;
	struct oauth_result r = OAUTH_RESULT_OK;
	enum store_rc rc = iss != NULL ? store_issuer_get(g->store, iss, &is)
	                               : STORE_NOT_FOUND;
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		r = oauth_from_store(rc, "issuer lookup", OAUTH_RESULT_OK);
	else if (rc == STORE_NOT_FOUND)
		why = "the assertion's issuer (iss) is not a trusted issuer";
	else if (strcmp(is.client_id, cl->client_id) != 0)
		why = "the assertion's issuer (iss) is not trusted for this "
		      "client";
	else if (!jws_foreign_alg(alg))
		why = "the assertion's alg must be RS256, PS256 or ES256";
	else if (json_object_get(j.header, "crit") != NULL)
		why = "the assertion's header has crit extensions, which are "
		      "not understood";
	else if (!jws_signed_by_keys(g, is.jwks, is.jwks_uri, &j, assertion,
	                             alg, &keys_why))
		why = keys_why != NULL ? keys_why
		                       : "the assertion's signature matches none "
		                         "of its issuer's keys";
	else if ((why = bearer_claims_check(g, &is, j.payload,
	                                    clock_now())) == NULL)
		r = sub_is_ours(g, json_string_value(json_object_get(j.payload,
		                                                     "sub")),
		                &why);
	if (why != NULL)
		r = refused(cl, iss, why);
	else if (r.err == OAUTH_OK) {
		*sub = xstrdup(json_string_value(json_object_get(j.payload,
		                                                 "sub")));
		*exp = json_integer_value(json_object_get(j.payload, "exp"));
	}
	store_issuer_clear(&is);
	jws_clear(&j);
	return r;
}

struct oauth_result grant_jwt_bearer(struct grants *g,
                                     const struct token_request *rq,
                                     const struct store_client *cl,
                                     struct token_response *out)
{
	char *sub = NULL, *scope = NULL;
	int64_t exp = 0;
	struct oauth_result r = assertion_check(g, cl, rq->assertion, &sub,
	                                        &exp);
	if (r.err == OAUTH_OK)
		r = scope_grant(rq->scope, cl->scopes, &scope);
	if (r.err == OAUTH_OK) {
		struct issue_opts o = {
			.subject = sub, .scope = scope, .with_refresh = false,
			.dpop_jkt = rq->dpop_jkt, .tls_x5t = rq->tls_x5t, .expires_max = exp,
			.may_pend = rq->may_pend,
		};
		r = token_issue(g, cl, &o, out);
		/* The JWT expired between the check and the issue. */
		if (r.err == OAUTH_INVALID_REQUEST && exp <= clock_now())
			r = OAUTH_FAIL(OAUTH_INVALID_GRANT, "the assertion has "
			               "expired");
	}
	free(sub);
	free(scope);
	return r;
}
