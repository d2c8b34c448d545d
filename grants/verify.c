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
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "grants_int.h"
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
	memset(c, 0, sizeof(*c));
}

static json_t *b64_json_object(const char *s, size_t len)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	if (b64_decode(s, len, true, &raw, &rawlen) != 0)
		return NULL;
	json_t *o = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	                       NULL);
	free(raw);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ES256 signatures on the wire are R||S; OpenSSL verifies DER. A high s
 * is the second spelling of a signature (r, n - s) and is refused, as
 * padding is below: one token, one text (see es256_s_is_low). */
static unsigned char *es256_to_der(const unsigned char *rs, size_t len,
                                   size_t *derlen)
{
	if (len != 64 || !es256_s_is_low(rs + 32))
		return NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
	unsigned char *der = NULL;
	if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	int n = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return NULL;
	*derlen = (size_t)n;
	return der;
}

/* pk is the keyring's, already checked to be of alg. */
static bool signature_ok(EVP_PKEY *pk, const char *alg, const char *input,
                         size_t inlen, const char *sig_b64)
{
	unsigned char *sig = NULL, *der = NULL;
	size_t siglen = 0, derlen = 0;
	bool ok = false;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL ||
	    b64_decode(sig_b64, strlen(sig_b64), true, &sig, &siglen) != 0)
		goto out;
	/* One token, one spelling: the decoder forgives '=' padding and
	 * stray pad bits, which RFC 7515 section 2 does not allow, and which
	 * would let the same token travel under several texts. */
	char *canon = b64_encode(sig, siglen, true);
	bool canonical = canon != NULL && strcmp(canon, sig_b64) == 0;
	free(canon);
	if (!canonical)
		goto out;
	if (strcmp(alg, "ES256") == 0) {
		der = es256_to_der(sig, siglen, &derlen);
		if (der == NULL)
			goto out;
	}
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
	     EVP_DigestVerify(ctx, der ? der : sig, der ? derlen : siglen,
	                      (const unsigned char *)input, inlen) == 1;
out:
	OPENSSL_free(der);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static char *claim_str(json_t *o, const char *name)
{
	const char *v = json_string_value(json_object_get(o, name));
	return v ? xstrdup(v) : NULL;
}

int jws_read(struct grants *g, const char *token, const char *want_typ,
             json_t **claims)
{
	*claims = NULL;
	size_t len = strlen(token);
	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))
	                    : NULL;
	if (len > MAX_TOKEN_LEN || d1 == NULL || d2 == NULL ||
	    strchr(d2 + 1, '.') != NULL)
		return -1;

	json_t *hdr = b64_json_object(token, (size_t)(d1 - token));
	EVP_PKEY *pk = NULL;
	int rc = -1;
	const char *typ = json_string_value(json_object_get(hdr, "typ"));
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	if (typ == NULL || strcmp(typ, want_typ) != 0 || alg == NULL ||
	    kid == NULL)
		goto out;
	/* The key is looked up by kid among our own keys only, and its own
	 * algorithm must match the header's: no "alg" confusion. */
	pk = keyring_public_key(g->keyring, kid, alg);
	if (pk == NULL ||
	    !signature_ok(pk, alg, token, (size_t)(d2 - token), d2 + 1))
		goto out;
	*claims = b64_json_object(d1 + 1, (size_t)(d2 - d1 - 1));
	rc = *claims != NULL ? 0 : -1;
out:
	EVP_PKEY_free(pk);
	json_decref(hdr);
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
	json_decref(body);
	if (out->jti == NULL) {
		at_claims_read_clear(out);
		return -1;
	}
	return 0;
}
