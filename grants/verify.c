/*
 * verify.c: reads an access token this server issued: checks the JWS
 * signature against our own keys and returns the claims that matter for
 * introspection and revocation.
 *
 * OpenSSL verifies, jansson parses. libjwt is not used: the version in
 * Debian 12 (1.10.2) refuses any "typ" but "JWT", and ours is "at+jwt".
 * The token record in the database stays the authority on revocation and
 * expiry; the signature only proves the token is ours and unaltered.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "grants_int.h"
#include "jws.h"
#include "strutil.h"

/* Ours are about 1 KiB (RS256 ~700 B) without claims; user and client
 * claims (CLAIMS_TEXT_MAX each, 16 KiB of JSON) can make an access or ID
 * token some 45 KiB. */
#define MAX_TOKEN_LEN 65536

void at_claims_read_clear(struct at_claims_read *c)
{
	free(c->jti);
	free(c->iss);
	free(c->aud);
	free(c->jkt);
	free(c->x5t);
	memset(c, 0, sizeof(*c));
}

static char *claim_str(json_t *o, const char *name)
{
	const char *v = json_string_value(json_object_get(o, name));
	return v ? xstrdup(v) : NULL;
}

int jws_read(struct grants *g, const char *token, const char *want_typ,
             json_t **claims)
{
	struct jws j;
	*claims = NULL;
	if (jws_parse(token, MAX_TOKEN_LEN, &j) != 0)
		return -1;
	const char *typ = json_string_value(json_object_get(j.header, "typ"));
	const char *alg = json_string_value(json_object_get(j.header, "alg"));
	const char *kid = json_string_value(json_object_get(j.header, "kid"));
	EVP_PKEY *pk = NULL;
	int rc = -1;
	if (typ == NULL || strcmp(typ, want_typ) != 0 || alg == NULL ||
	    kid == NULL)
		goto out;
	/* The key is looked up by kid among our own keys only, and its own
	 * algorithm must match the header's: no "alg" confusion. Our ES256
	 * signatures have a low s (es256_s_is_low): one token, one text. */
	pk = keyring_public_key(g->keyring, kid, alg);
	if (pk == NULL || !jws_signature_ok(pk, alg, token, j.signed_len,
	                                    j.sig_b64, es256_s_is_low))
		goto out;
	*claims = json_incref(j.payload);
	rc = 0;
out:
	EVP_PKEY_free(pk);
	jws_clear(&j);
	return rc;
}

int token_verify(struct grants *g, const char *token, struct at_claims_read *out)
{
	memset(out, 0, sizeof(*out));
	json_t *body = NULL;
	if (jws_read(g, token, "at+jwt", &body) != 0)
		return -1;
	out->jti = claim_str(body, "jti");
	out->iss = claim_str(body, "iss");
	out->aud = aud_from_json(json_object_get(body, "aud"));
	out->jkt = claim_str(json_object_get(body, "cnf"), "jkt");
	out->x5t = claim_str(json_object_get(body, "cnf"), "x5t#S256");
	json_decref(body);
	if (out->jti == NULL) {
		at_claims_read_clear(out);
		return -1;
	}
	return 0;
}
