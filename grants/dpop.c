/*
 * dpop.c: DPoP proofs (RFC 9449). A client that holds a key sends, with
 * each request, a short JWT signed by it naming the method and URL
 * (htm, htu), a fresh jti and the time; the token endpoint binds the
 * tokens it issues to that key's thumbprint (cnf.jkt), and a resource
 * accepts a bound token only with a proof by the same key that also
 * names the token (ath). A stolen bound token is useless without the key.
 *
 * The rules, in docs/service-auth.md "DPoP": typ dpop+jwt; alg RS256,
 * PS256 or ES256 fitting the public jwk in the header (never a private
 * one); htm the request's method; htu the endpoint's URL derived from
 * the issuer (shared/DECISIONS.md: never the Host header), compared
 * without query and fragment; iat at most DPOP_MAX_AGE old and
 * CLIENT_ASSERTION_LEEWAY ahead; jti used once per key, in the database
 * like assertions' (store_jti_use), so every instance refuses a replay.
 *
 * With dpop_nonce (section 8), a proof must also carry a nonce this
 * server gave: a small JWS signed with our ES256 key (typ
 * dpop-nonce+jwt, its exp), so that every instance sharing the database
 * (and its keys) takes the nonces of the others, and none is stored.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "jws.h"
#include "log.h"
#include "metrics.h"
#include "strutil.h"

/* A proof holds a public key: an RSA-4096 jwk and the claims are under
 * 2 KiB; 8 KiB bounds the work. */
#define DPOP_MAX_LEN 8192
#define DPOP_JTI_MAX_LEN 256

/* The length of htu's scheme and authority ("https://host:port"), which
 * compare case-insensitively (RFC 3986 section 6.2.2.1); the path does
 * not. */
static size_t origin_len(const char *url, size_t len)
{
	const char *p = memmem(url, len, "://", 3);
	if (p == NULL)
		return 0;
	p += 3;
	while (p < url + len && *p != '/')
		p++;
	return (size_t)(p - url);
}

/* The length of the origin without a default port (RFC 3986 section
 * 6.2.3: ":443" of https and ":80" of http say nothing), which URL
 * libraries drop and an issuer may spell. */
static size_t origin_canon_len(const char *url, size_t olen)
{
	if (olen > 12 && strncasecmp(url, "https://", 8) == 0 &&
	    memcmp(url + olen - 4, ":443", 4) == 0)
		return olen - 4;
	if (olen > 10 && strncasecmp(url, "http://", 7) == 0 &&
	    memcmp(url + olen - 3, ":80", 3) == 0)
		return olen - 3;
	return olen;
}

/* Section 4.3, item 9: htu is the endpoint's URL, without its query and
 * fragment; scheme and host in any case, a default port or none. */
static bool htu_matches(const char *htu, const char *want)
{
	size_t hlen = strcspn(htu, "?#"), wlen = strlen(want);
	size_t ho = origin_len(htu, hlen), wo = origin_len(want, wlen);
	if (ho == 0 || wo == 0)
		return false;
	size_t hc = origin_canon_len(htu, ho), wc = origin_canon_len(want, wo);
	return hc == wc && strncasecmp(htu, want, hc) == 0 &&
	       hlen - ho == wlen - wo &&
	       memcmp(htu + ho, want + wo, hlen - ho) == 0;
}

/* base64url(SHA-256(token)): the ath claim (section 4.2). */
static char *token_ath(const char *token)
{
	unsigned char d[SHA256_LEN];
	sha256(token, strlen(token), d);
	return b64_encode(d, sizeof(d), true);
}

/* The header's rules and the signature; NULL when they hold (then *jkt
 * is the key's thumbprint, caller frees), else why not. */
static const char *proof_key(const char *proof, const struct jws *j,
                             char **jkt)
{
	const char *typ = json_string_value(json_object_get(j->header, "typ"));
	const char *alg = json_string_value(json_object_get(j->header, "alg"));
	json_t *jwk = json_object_get(j->header, "jwk");
	const char *why;
	if (typ == NULL || strcmp(typ, "dpop+jwt") != 0)
		return "the proof's typ must be dpop+jwt";
	if (alg == NULL || !jws_foreign_alg(alg))
		return "the proof's alg must be RS256, PS256 or ES256";
	if (json_object_get(j->header, "crit") != NULL)
		return "the proof names extensions (crit) this server does not "
		       "know";
	EVP_PKEY *pk = jwk_public_key(jwk, &why);
	if (pk == NULL)
		return "the proof's jwk is not a usable public key";
	bool ok = jwk_fits_alg(jwk, alg) &&
	          jws_signature_ok(pk, alg, proof, j->signed_len, j->sig_b64,
	                           NULL);
	EVP_PKEY_free(pk);
	if (!ok)
		return "the proof's signature does not verify with its jwk";
	*jkt = jwk_thumbprint(jwk);
	return *jkt == NULL ? "the proof's jwk is not a usable public key"
	                    : NULL;
}

/* A nonce is handed out for DPOP_NONCE_TURN seconds and accepted for
 * DPOP_NONCE_LIFE, so a client that just got one has a minute or more. */
#define DPOP_NONCE_TURN 60
#define DPOP_NONCE_LIFE 180
#define NONCE_TYP "dpop-nonce+jwt"

/* A copy of the cached nonce if it was minted in [now - max_age, now];
 * else NULL. Under nonce_mu. */
static char *nonce_if_younger(struct grants *g, int64_t now, int64_t max_age)
{
	char *out = NULL;
	pthread_mutex_lock(&g->nonce_mu);
	if (g->nonce != NULL && now >= g->nonce_at &&
	    now - g->nonce_at < max_age)
		out = xstrdup(g->nonce);
	pthread_mutex_unlock(&g->nonce_mu);
	return out;
}

char *grants_dpop_nonce(struct grants *g)
{
	if (!g->dpop_nonce)
		return NULL;
	int64_t now = clock_now();
	char *out = nonce_if_younger(g, now, DPOP_NONCE_TURN);
	if (out != NULL)
		return out;
	/* Signed outside the lock: the signer may read the database. Two
	 * requests may both sign; either nonce is good. */
	char *token = NULL, *kid = NULL;
	json_t *claims = json_pack("{s:I}", "exp",
	                           (json_int_t)(now + DPOP_NONCE_LIFE));
	if (claims != NULL &&
	    signer_sign(g->signer, KEY_ALG_ES256, NONCE_TYP, claims, &token,
	                &kid) == 0) {
		pthread_mutex_lock(&g->nonce_mu);
		if (g->nonce == NULL || now >= g->nonce_at) {
			free(g->nonce);
			g->nonce = token;
			g->nonce_at = now;
			token = NULL;
		}
		pthread_mutex_unlock(&g->nonce_mu);
	}
	free(token);
	free(kid);
	/* Never one the server itself would refuse: a nonce older than its
	 * life (signing failed since) is not handed out. */
	return nonce_if_younger(g, now, DPOP_NONCE_LIFE - 1);
}

/* Whether nonce is one this server (or another instance on its
 * database) gave, and not expired. */
static bool nonce_ok(struct grants *g, const char *nonce, int64_t now)
{
	json_t *claims = NULL;
	if (nonce == NULL || jws_read(g, nonce, NONCE_TYP, &claims) != 0)
		return false;
	json_t *exp = json_object_get(claims, "exp");
	bool ok = json_is_integer(exp) && json_integer_value(exp) > now;
	json_decref(claims);
	return ok;
}

/* The claims' rules; NULL when they hold, else why not. *iat is the
 * proof's time. */
static const char *proof_claims(const struct dpop_check *c, json_t *p,
                                int64_t now, int64_t *iat)
{
	const char *htm = json_string_value(json_object_get(p, "htm"));
	const char *htu = json_string_value(json_object_get(p, "htu"));
	const char *jti = json_string_value(json_object_get(p, "jti"));
	json_t *t = json_object_get(p, "iat");
	if (jti == NULL || jti[0] == '\0' || strlen(jti) > DPOP_JTI_MAX_LEN)
		return "the proof needs a jti of 1 to 256 characters";
	if (htm == NULL || strcmp(htm, c->htm) != 0)
		return "the proof's htm is not this request's method";
	if (htu == NULL || !htu_matches(htu, c->htu))
		return "the proof's htu is not this endpoint's URL";
	if (!json_is_integer(t))
		return "the proof needs an iat";
	*iat = json_integer_value(t);
	/* now is a real time, far from the int64 limits; iat may not be */
	if (*iat > now + CLIENT_ASSERTION_LEEWAY)
		return "the proof's iat is in the future";
	if (*iat < now - DPOP_MAX_AGE - CLIENT_ASSERTION_LEEWAY)
		return "the proof is too old (iat more than 60 seconds ago)";
	if (c->access_token != NULL) {
		const char *ath = json_string_value(json_object_get(p, "ath"));
		char *want = token_ath(c->access_token);
		bool same = ath != NULL && crypto_streq(ath, want);
		free(want);
		if (!same)
			return "the proof's ath is not the hash of this access "
			       "token";
	}
	return NULL;
}

/* What recording the proof's one use takes: its jti hashed with its key,
 * kept while the proof could still pass for fresh. */
static void spend_prepare(struct dpop_spend *sp, const char *jkt,
                          const char *jti, int64_t iat, int64_t now,
                          enum oauth_err refusal)
{
	char *text = NULL;
	if (asprintf(&text, "dpop\n%s\n%s", jkt, jti) < 0)
		abort();
	sha256_hex(text, sp->hash);
	free(text);
	int64_t until = iat + CLIENT_ASSERTION_LEEWAY;
	if (until < now)
		until = now;
	sp->expires_at = until + DPOP_MAX_AGE + CLIENT_ASSERTION_LEEWAY;
	sp->refusal = refusal;
	sp->done = false;
}

struct oauth_result dpop_spend(struct grants *g, struct dpop_spend *sp)
{
	if (sp->done)
		return sp->result;
	sp->done = true;
	enum store_rc rc = store_jti_use(g->store, sp->hash, sp->expires_at,
	                                 clock_now());
	if (rc == STORE_CONFLICT) {
		metrics_inc(MET_DPOP_PROOF_FAILURES);
		log_security("DPoP proof refused: replayed");
		sp->result = OAUTH_FAIL(sp->refusal,
		                        "the proof was already used (its jti)");
	} else {
		sp->result = oauth_from_store_write(rc, "recording a DPoP proof");
	}
	return sp->result;
}

struct oauth_result dpop_proof_check(struct grants *g,
                                     const struct dpop_check *c,
                                     enum oauth_err refusal, char **jkt,
                                     struct dpop_spend *later)
{
	struct jws j;
	int64_t now = clock_now(), iat = 0;
	const char *why = NULL;
	bool no_nonce = false;
	*jkt = NULL;
	if (c->repeated)
		why = "send one DPoP header, not several";
	else if (c->proof == NULL || c->proof[0] == '\0')
		why = "a DPoP proof is required";
	else if (jws_parse(c->proof, DPOP_MAX_LEN, &j) != 0)
		why = "the DPoP header is not a signed JWT";
	else {
		why = proof_key(c->proof, &j, jkt);
		if (why == NULL)
			why = proof_claims(c, j.payload, now, &iat);
		/* Last: a nonce is asked of a proof that is otherwise good,
		 * and its jti is not spent on being refused for it. */
		if (why == NULL && g->dpop_nonce &&
		    !nonce_ok(g, json_string_value(json_object_get(j.payload,
		                                                   "nonce")),
		              now)) {
			why = "the proof must carry the nonce of the DPoP-Nonce "
			      "header";
			no_nonce = true;
		}
		struct dpop_spend now_sp, *sp = later ? later : &now_sp;
		if (why == NULL)
			spend_prepare(sp, *jkt,
			              json_string_value(
			                  json_object_get(j.payload, "jti")),
			              iat, now, refusal);
		jws_clear(&j);
		if (why == NULL) {
			/* Spent now, or by the caller once it knows the
			 * request is worth a write (dpop_spend). */
			struct oauth_result r = later ? OAUTH_RESULT_OK
			                              : dpop_spend(g, sp);
			if (r.err != OAUTH_OK) {
				free(*jkt);
				*jkt = NULL;
			}
			return r;
		}
	}
	free(*jkt);
	*jkt = NULL;
	if (no_nonce) /* a step of the protocol, not a failure */
		return OAUTH_FAIL(refusal == OAUTH_INVALID_DPOP_PROOF
		                      ? OAUTH_USE_DPOP_NONCE
		                      : OAUTH_DPOP_USE_NONCE,
		                  why);
	metrics_inc(MET_DPOP_PROOF_FAILURES);
	log_security("DPoP proof refused: %s", why);
	return OAUTH_FAIL(refusal, why);
}

struct oauth_result dpop_binding_check(struct grants *g,
                                       const struct presented_token *p,
                                       const char *bound_jkt)
{
	if (bound_jkt == NULL && !p->dpop)
		return OAUTH_RESULT_OK; /* a Bearer token, as Bearer */
	if (bound_jkt == NULL)
		return OAUTH_FAIL(OAUTH_DPOP_INVALID_TOKEN,
		                  "this token is not bound to a key: send it "
		                  "with the Bearer scheme");
	if (!p->dpop)
		return OAUTH_FAIL(OAUTH_DPOP_INVALID_TOKEN,
		                  "this token is bound to a key: send it with "
		                  "the DPoP scheme and a proof");
	struct dpop_check c = {.proof = p->proof, .repeated = p->proof_repeated,
	                       .htm = p->htm, .htu = p->htu,
	                       .access_token = p->token};
	char *jkt;
	struct oauth_result r = dpop_proof_check(g, &c, OAUTH_DPOP_PROOF_REFUSED,
	                                         &jkt, NULL);
	if (r.err == OAUTH_OK && !crypto_streq(jkt, bound_jkt))
		r = OAUTH_FAIL(OAUTH_DPOP_PROOF_REFUSED,
		               "the proof is signed by another key than the one "
		               "the token is bound to");
	free(jkt);
	return r;
}
