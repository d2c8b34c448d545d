/*
 * client_assertion.c: clients that authenticate with a key they never
 * share (private_key_jwt: RFC 7523 section 2.2 and 3, RFC 7521 section
 * 4.2, OpenID Connect Core section 9). The client signs a short-lived JWT
 * about itself with a private key; we check it with the public keys the
 * operator registered (the client's jwks, or those published at its
 * jwks_uri: jwks_fetch.c) and accept each one once.
 *
 * The rules, in docs/service-auth.md: iss and sub are the client's id;
 * aud names the issuer or the token endpoint; exp is required and at most
 * CLIENT_ASSERTION_MAX_LIFETIME ahead; jti is required and used once, in
 * the database (store_jti_use), so a replay is refused by every instance
 * sharing it; alg is RS256, PS256 or ES256 and must fit the key (its type
 * and its own "alg"); no "none", no HMAC, no "crit" extensions.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "jws.h"
#include "log.h"
#include "metrics.h"
#include "strutil.h"

/* An assertion signed with a 4096-bit RSA key is under 1 KiB without
 * extra claims; 16 KiB leaves room and bounds the work. */
#define ASSERTION_MAX_LEN 16384
#define JTI_MAX_LEN 256

static struct oauth_result refused(const char *id, const char *why)
{
	metrics_inc(MET_CLIENT_AUTH_FAILURES);
	log_security("client assertion refused for client %.128s: %s",
	             id != NULL ? id : "(none)", why);
	return OAUTH_FAIL(OAUTH_INVALID_CLIENT, why);
}

char *client_assertion_subject(const char *assertion)
{
	struct jws j;
	if (jws_parse(assertion, ASSERTION_MAX_LEN, &j) != 0)
		return NULL;
	const char *sub = json_string_value(json_object_get(j.payload, "sub"));
	char *out = sub != NULL ? xstrdup(sub) : NULL;
	jws_clear(&j);
	return out;
}

/* Whether keys (a JWKS document) has a key named kid. */
static bool has_kid(json_t *keys, const char *kid)
{
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const char *k = json_string_value(
		    json_object_get(json_array_get(keys, i), "kid"));
		if (k != NULL && strcmp(k, kid) == 0)
			return true;
	}
	return false;
}

/* The signer's keys: registered (jwks), or fetched from its jwks_uri
 * (again when the kid the JWT names is not among the cached ones: a key
 * just added). NULL with *why when there are none to use. */
static json_t *signer_keys(struct grants *g, const char *jwks,
                           const char *jwks_uri, const char *kid,
                           const char **why)
{
	*why = "the client has no keys";
	if (jwks != NULL)
		return json_loads(jwks, 0, NULL);
	if (jwks_uri == NULL)
		return NULL;
	char *text = jwks_fetch(g->jwks_fetcher, jwks_uri, false, why);
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (doc != NULL && kid != NULL &&
	    !has_kid(json_object_get(doc, "keys"), kid)) {
		text = jwks_fetch(g->jwks_fetcher, jwks_uri, true, why);
		json_t *again = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
		if (again != NULL) {
			json_decref(doc);
			doc = again;
		}
	}
	return doc;
}

bool jws_signed_by_keys(struct grants *g, const char *jwks,
                        const char *jwks_uri, const struct jws *j,
                        const char *text, const char *alg, const char **why)
{
	const char *kid = json_string_value(json_object_get(j->header, "kid"));
	json_t *doc = signer_keys(g, jwks, jwks_uri, kid, why);
	json_t *keys = json_object_get(doc, "keys");
	bool ok = false;
	if (doc != NULL)
		*why = NULL;
	for (size_t i = 0; !ok && i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);
		const char *kkid = json_string_value(json_object_get(k, "kid"));
		const char *unusable;
		if ((kid != NULL && (kkid == NULL || strcmp(kid, kkid) != 0)) ||
		    !jwk_fits_alg(k, alg))
			continue;
		EVP_PKEY *pk = jwk_public_key(k, &unusable);
		ok = pk != NULL && jws_signature_ok(pk, alg, text, j->signed_len,
		                                    j->sig_b64, NULL);
		EVP_PKEY_free(pk);
	}
	json_decref(doc);
	return ok;
}

bool jwt_aud_names(const json_t *aud, const char *a, const char *b)
{
	size_t i;
	json_t *v;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), a) == 0 ||
		       (b != NULL && strcmp(json_string_value(aud), b) == 0);
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && jwt_aud_names(v, a, b))
			return true;
	return false;
}

/* The claims' rules; NULL when they hold, else why not. *exp is the
 * assertion's expiry. */
static const char *assertion_claims_check(const struct grants *g,
                                          const struct store_client *cl,
                                          json_t *p, int64_t now,
                                          int64_t *exp)
{
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *sub = json_string_value(json_object_get(p, "sub"));
	const char *jti = json_string_value(json_object_get(p, "jti"));
	json_t *e = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
	json_t *iat = json_object_get(p, "iat");
	if (iss == NULL || sub == NULL || strcmp(iss, cl->client_id) != 0 ||
	    strcmp(sub, cl->client_id) != 0)
		return "the assertion's iss and sub must both be the client_id";
	/* RFC 7523 section 3, item 3 */
	if (!jwt_aud_names(json_object_get(p, "aud"), g->issuer,
	                   g->token_endpoint))
		return "the assertion's aud must be the issuer or the token "
		       "endpoint";
	if (!json_is_integer(e))
		return "the assertion needs an exp";
	*exp = json_integer_value(e);
	/* now is a real time, far from the int64 limits; exp may not be */
	if (*exp <= now - CLIENT_ASSERTION_LEEWAY)
		return "the assertion has expired";
	if (*exp > now + CLIENT_ASSERTION_MAX_LIFETIME + CLIENT_ASSERTION_LEEWAY)
		return "the assertion's exp is too far ahead (at most 3600 "
		       "seconds)";
	if ((nbf != NULL && (!json_is_integer(nbf) ||
	                     json_integer_value(nbf) >
	                         now + CLIENT_ASSERTION_LEEWAY)) ||
	    (iat != NULL && (!json_is_integer(iat) ||
	                     json_integer_value(iat) >
	                         now + CLIENT_ASSERTION_LEEWAY)))
		return "the assertion is not valid yet (nbf or iat)";
	if (jti == NULL || jti[0] == '\0' || strlen(jti) > JTI_MAX_LEN)
		return "the assertion needs a jti of 1 to 256 characters";
	return NULL;
}

/* The one-time use of the assertion's jti, recorded until it expires.
 * Hashed with the client's id: two clients' jtis never collide, and no
 * jti is stored as sent. */
static struct oauth_result jti_use(struct grants *g,
                                   const struct store_client *cl,
                                   const char *jti, int64_t exp, int64_t now)
{
	char *text = NULL, hex[2 * SHA256_LEN + 1];
	if (asprintf(&text, "assertion\n%s\n%s", cl->client_id, jti) < 0)
		abort();
	sha256_hex(text, hex);
	free(text);
	enum store_rc rc = store_jti_use(g->store, hex,
	                                 exp + CLIENT_ASSERTION_LEEWAY, now);
	if (rc == STORE_CONFLICT)
		return refused(cl->client_id, "the assertion was already used "
		                              "(its jti)");
	return oauth_from_store_write(rc, "recording a client assertion");
}

struct oauth_result client_assertion_check(struct grants *g,
                                           const struct store_client *cl,
                                           const char *assertion)
{
	struct jws j;
	int64_t now = clock_now(), exp = 0;
	if (jws_parse(assertion, ASSERTION_MAX_LEN, &j) != 0)
		return refused(cl->client_id, "client_assertion is not a signed "
		                              "JWT");
	const char *alg = json_string_value(json_object_get(j.header, "alg"));
	const char *why = NULL, *keys_why = NULL;
	if (!jws_foreign_alg(alg))
		why = "the assertion's alg must be RS256, PS256 or ES256";
	else if (json_object_get(j.header, "crit") != NULL)
		why = "the assertion's header has crit extensions, which are "
		      "not understood";
	else if (!jws_signed_by_keys(g, cl->jwks, cl->jwks_uri, &j, assertion,
	                             alg, &keys_why))
		why = keys_why != NULL ? keys_why
		                       : "the assertion's signature matches "
		                         "none of the client's keys";
	else
		why = assertion_claims_check(g, cl, j.payload, now, &exp);
	struct oauth_result r =
	    why != NULL ? refused(cl->client_id, why)
	                : jti_use(g, cl,
	                          json_string_value(json_object_get(j.payload,
	                                                            "jti")),
	                          exp, now);
	jws_clear(&j);
	return r;
}
