/*
 * jws.c: JWS compact serialization read and verified, and public JWKs
 * made into OpenSSL keys (jws.h). OpenSSL verifies, jansson parses;
 * libjwt is not used (Debian 12's refuses any "typ" but "JWT").
 */
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jws.h"

bool jws_foreign_alg(const char *alg)
{
	static const char *const algs[] = {JWS_FOREIGN_ALGS};
	for (size_t i = 0; alg != NULL && i < sizeof(algs) / sizeof(algs[0]);
	     i++)
		if (strcmp(alg, algs[i]) == 0)
			return true;
	return false;
}

/* ---- parsing ------------------------------------------------------------ */

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

int jws_parse(const char *text, size_t max_len, struct jws *out)
{
	memset(out, 0, sizeof(*out));
	size_t len = strnlen(text, max_len + 1);
	const char *d1 = memchr(text, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - text))
	                    : NULL;
	if (len > max_len || d1 == NULL || d2 == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - text)) != NULL ||
	    d2[1] == '\0')
		return -1;
	out->header = b64_json_object(text, (size_t)(d1 - text));
	out->payload = b64_json_object(d1 + 1, (size_t)(d2 - d1 - 1));
	out->signed_len = (size_t)(d2 - text);
	out->sig_b64 = d2 + 1;
	if (out->header == NULL || out->payload == NULL) {
		jws_clear(out);
		return -1;
	}
	return 0;
}

void jws_clear(struct jws *j)
{
	json_decref(j->header);
	json_decref(j->payload);
	memset(j, 0, sizeof(*j));
}

/* ---- signatures --------------------------------------------------------- */

/* ES256 signatures on the wire are R||S; OpenSSL verifies DER. */
static unsigned char *es256_to_der(const unsigned char *rs, size_t len,
                                   size_t *derlen)
{
	if (len != 64)
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

/* Whether pk is of the type alg signs with (no "alg" confusion: an RSA
 * key never checks an ES256 signature, nor the reverse). */
static bool key_fits(EVP_PKEY *pk, const char *alg)
{
	if (strcmp(alg, "ES256") == 0)
		return EVP_PKEY_is_a(pk, "EC");
	return (strcmp(alg, "RS256") == 0 || strcmp(alg, "PS256") == 0) &&
	       EVP_PKEY_is_a(pk, "RSA");
}

bool jws_signature_ok(EVP_PKEY *pk, const char *alg, const char *input,
                      size_t inlen, const char *sig_b64,
                      bool (*s_ok)(const unsigned char s[32]))
{
	unsigned char *sig = NULL, *der = NULL;
	size_t siglen = 0, derlen = 0;
	bool ok = false;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	if (ctx == NULL || pk == NULL || alg == NULL || !key_fits(pk, alg) ||
	    b64_decode(sig_b64, strlen(sig_b64), true, &sig, &siglen) != 0)
		goto out;
	/* One signature, one spelling: the decoder forgives '=' padding and
	 * stray pad bits, which RFC 7515 section 2 does not allow. */
	char *canon = b64_encode(sig, siglen, true);
	bool canonical = canon != NULL && strcmp(canon, sig_b64) == 0;
	free(canon);
	if (!canonical)
		goto out;
	if (strcmp(alg, "ES256") == 0) {
		if (siglen != 64 || (s_ok != NULL && !s_ok(sig + 32)))
			goto out;
		der = es256_to_der(sig, siglen, &derlen);
		if (der == NULL)
			goto out;
	}
	if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pk) != 1)
		goto out;
	if (strcmp(alg, "PS256") == 0 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	ok = EVP_DigestVerify(ctx, der ? der : sig, der ? derlen : siglen,
	                      (const unsigned char *)input, inlen) == 1;
out:
	OPENSSL_free(der);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* ---- JWK ---------------------------------------------------------------- */

/* A base64url member as bytes; NULL when absent or malformed. */
static unsigned char *member_bytes(const json_t *jwk, const char *name,
                                   size_t *len)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	unsigned char *raw = NULL;
	if (s == NULL || *s == '\0' ||
	    b64_decode(s, strlen(s), true, &raw, len) != 0)
		return NULL;
	return raw;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pk = NULL;
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

static EVP_PKEY *rsa_key(const json_t *jwk, const char **why)
{
	size_t nlen = 0, elen = 0;
	unsigned char *n = member_bytes(jwk, "n", &nlen);
	unsigned char *e = member_bytes(jwk, "e", &elen);
	BIGNUM *bn = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL;
	BIGNUM *be = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pk = NULL;
	*why = "an RSA key needs its n and e";
	if (bn == NULL || be == NULL || bld == NULL)
		goto out;
	/* RFC 7518 section 3.3: 2048 bits or larger; an odd exponent of
	 * more than one (OpenSSL checks no public key by itself). */
	*why = "an RSA key must have 2048 bits or more (RFC 7518 section 3.3)";
	if (BN_num_bits(bn) < 2048)
		goto out;
	/* Above 4096 bits a verification costs tens of milliseconds: an
	 * unauthenticated request must not buy that many times over. */
	*why = "an RSA key may have at most 4096 bits";
	if (BN_num_bits(bn) > 4096)
		goto out;
	*why = "an RSA key's exponent must be odd and greater than one";
	if (!BN_is_odd(be) || BN_is_one(be) || BN_num_bits(be) > 64)
		goto out;
	*why = "the RSA key is unusable";
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pk = from_params("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return pk;
}

static EVP_PKEY *ec_key(const json_t *jwk, const char **why)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	size_t xlen = 0, ylen = 0;
	unsigned char *x = member_bytes(jwk, "x", &xlen);
	unsigned char *y = member_bytes(jwk, "y", &ylen);
	unsigned char point[65];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pk = NULL;
	*why = "an EC key must be on P-256 (crv \"P-256\")";
	if (crv == NULL || strcmp(crv, "P-256") != 0)
		goto out;
	/* RFC 7518 section 6.2.1.2 wants 32 bytes each; some libraries
	 * (PyJWT before 2.8) drop leading zero bytes, so shorter ones are
	 * padded back rather than refused. */
	*why = "an EC key needs x and y of 32 bytes each";
	if (x == NULL || y == NULL || xlen == 0 || xlen > 32 || ylen == 0 ||
	    ylen > 32 || bld == NULL)
		goto out;
	memset(point, 0, sizeof(point));
	point[0] = 0x04; /* uncompressed (SEC 1 section 2.3.3) */
	memcpy(point + 1 + 32 - xlen, x, xlen);
	memcpy(point + 33 + 32 - ylen, y, ylen);
	*why = "the EC key is not a point on P-256";
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	                                    "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	                                     point, sizeof(point)))
		pk = from_params("EC", bld);
	/* fromdata takes any 65 bytes; the point must be on the curve. */
	if (pk != NULL) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		if (c == NULL || EVP_PKEY_public_check(c) != 1) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
		EVP_PKEY_CTX_free(c);
	}
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pk;
}

EVP_PKEY *jwk_public_key(const json_t *jwk, const char **why)
{
	static const char *const private_members[] = {"d", "p", "q", "dp", "dq",
	                                              "qi", "oth", "k"};
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const json_t *use = json_object_get(jwk, "use");
	*why = "a key must be a JSON object";
	if (!json_is_object(jwk))
		return NULL;
	for (size_t i = 0;
	     i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_get(jwk, private_members[i]) != NULL) {
			*why = "a key holds a private member: register the "
			       "public key only";
			return NULL;
		}
	*why = "a key's \"use\" must be \"sig\"";
	if (use != NULL && !(json_is_string(use) &&
	                     strcmp(json_string_value(use), "sig") == 0))
		return NULL;
	*why = "a key's \"kid\" must be a string";
	if (json_object_get(jwk, "kid") != NULL &&
	    !json_is_string(json_object_get(jwk, "kid")))
		return NULL;
	*why = "a key's \"alg\" must be RS256, PS256 or ES256";
	const json_t *alg = json_object_get(jwk, "alg");
	if (alg != NULL && !jws_foreign_alg(json_string_value(alg)))
		return NULL;
	if (kty != NULL && strcmp(kty, "RSA") == 0)
		return rsa_key(jwk, why);
	if (kty != NULL && strcmp(kty, "EC") == 0)
		return ec_key(jwk, why);
	*why = "a key's \"kty\" must be RSA or EC";
	return NULL;
}

bool jwk_fits_alg(const json_t *jwk, const char *alg)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *kalg = json_string_value(json_object_get(jwk, "alg"));
	if (kty == NULL || !jws_foreign_alg(alg) ||
	    (kalg != NULL && strcmp(kalg, alg) != 0))
		return false;
	if (strcmp(alg, "ES256") == 0)
		return strcmp(kty, "EC") == 0;
	return strcmp(kty, "RSA") == 0;
}

char *jwk_thumbprint(const json_t *jwk)
{
	/* Section 3.2: the required members only, in lexicographic order,
	 * no whitespace; jansson's compact, sorted output is exactly that
	 * for base64url strings (nothing to escape). */
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	json_t *req = NULL;
	if (kty != NULL && strcmp(kty, "RSA") == 0)
		req = json_pack("{s:O, s:s, s:O}", "e", json_object_get(jwk, "e"),
		                "kty", "RSA", "n", json_object_get(jwk, "n"));
	else if (kty != NULL && strcmp(kty, "EC") == 0)
		req = json_pack("{s:O, s:s, s:O, s:O}", "crv",
		                json_object_get(jwk, "crv"), "kty", "EC", "x",
		                json_object_get(jwk, "x"), "y",
		                json_object_get(jwk, "y"));
	char *text = req != NULL ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS)
	                         : NULL;
	json_decref(req);
	if (text == NULL)
		return NULL;
	unsigned char digest[SHA256_LEN];
	sha256(text, strlen(text), digest);
	free(text);
	return b64_encode(digest, sizeof(digest), true);
}

/* The x5t#S256 of a JWK's first x5c certificate (standard base64 of
 * the DER, RFC 7517 section 4.7), or NULL. Caller frees. */
static char *x5c_thumbprint(const json_t *jwk)
{
	const char *b64 = json_string_value(
	    json_array_get(json_object_get(jwk, "x5c"), 0));
	unsigned char *der = NULL;
	size_t len = 0;
	if (b64 == NULL || b64_decode(b64, strlen(b64), false, &der, &len) != 0)
		return NULL;
	unsigned char digest[SHA256_LEN];
	sha256(der, len, digest);
	free(der);
	return b64_encode(digest, sizeof(digest), true);
}

bool jwks_has_cert(const char *text, const char *x5t)
{
	json_t *doc = json_loads(text, 0, NULL);
	const json_t *keys = json_object_get(doc, "keys");
	bool found = false;
	for (size_t i = 0; !found && i < json_array_size(keys); i++) {
		char *t = x5c_thumbprint(json_array_get(keys, i));
		found = t != NULL && (x5t == NULL || strcmp(t, x5t) == 0);
		free(t);
	}
	json_decref(doc);
	return found;
}

const char *jwks_check(const char *text)
{
	if (strlen(text) > JWKS_MAX_LEN)
		return "a JWKS document may have at most 65536 bytes";
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	json_t *keys = json_object_get(doc, "keys");
	const char *why = NULL;
	if (!json_is_object(doc) || !json_is_array(keys))
		why = "a JWKS document is a JSON object with a \"keys\" array";
	else if (json_array_size(keys) == 0 ||
	         json_array_size(keys) > JWKS_MAX_KEYS)
		why = "a JWKS document must hold 1 to 16 keys";
	for (size_t i = 0; why == NULL && i < json_array_size(keys); i++) {
		EVP_PKEY *pk = jwk_public_key(json_array_get(keys, i), &why);
		if (pk != NULL)
			why = NULL;
		EVP_PKEY_free(pk);
		const char *kid = json_string_value(
		    json_object_get(json_array_get(keys, i), "kid"));
		for (size_t j = 0; why == NULL && kid != NULL && j < i; j++) {
			const char *other = json_string_value(json_object_get(
			    json_array_get(keys, j), "kid"));
			if (other != NULL && strcmp(kid, other) == 0)
				why = "two keys have the same \"kid\"";
		}
	}
	json_decref(doc);
	return why;
}
