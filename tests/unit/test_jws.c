/*
 * test_jws.c: core/jws.c: a JWS split and refused when malformed; public
 * JWKs made into keys that verify what OpenSSL signed here with the
 * private halves (ES256 as R||S with either s, RS256, PS256); a signature
 * checked with the wrong algorithm or key type refused; JWKS documents
 * accepted and refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "crypto.h"
#include "jws.h"

static char *b64(const void *p, size_t n)
{
	char *s = b64_encode(p, n, true);
	assert_non_null(s);
	return s;
}

static char *bn_member(EVP_PKEY *pk, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
	int len = pad ? pad : BN_num_bytes(bn);
	unsigned char *buf = malloc((size_t)len);
	assert_int_equal(BN_bn2binpad(bn, buf, len), len);
	char *s = b64(buf, (size_t)len);
	free(buf);
	BN_free(bn);
	return s;
}

/* The public JWK of pk, as a client would register it. */
static json_t *jwk_of(EVP_PKEY *pk)
{
	if (EVP_PKEY_is_a(pk, "EC")) {
		char *x = bn_member(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		char *y = bn_member(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv",
		                      "P-256", "x", x, "y", y);
		free(x);
		free(y);
		return j;
	}
	char *n = bn_member(pk, OSSL_PKEY_PARAM_RSA_N, 0);
	char *e = bn_member(pk, OSSL_PKEY_PARAM_RSA_E, 0);
	json_t *j = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", n, "e", e);
	free(n);
	free(e);
	return j;
}

/* A signature of input by pk with alg, base64url; high_s: ES256 with
 * n - s instead of s (the other valid spelling). */
static char *sign(EVP_PKEY *pk, const char *alg, const char *input,
                  bool high_s)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t len = 0;
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, pk),
	                 1);
	if (strcmp(alg, "PS256") == 0) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(
		                     pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(
		                     pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(ctx, NULL, &len,
	                                (const unsigned char *)input,
	                                strlen(input)), 1);
	unsigned char *sig = malloc(len);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len,
	                                (const unsigned char *)input,
	                                strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	char *out;
	if (strcmp(alg, "ES256") == 0) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		unsigned char rs[64];
		BIGNUM *s = BN_dup(ECDSA_SIG_get0_s(es)), *n = NULL;
		assert_true(BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFF"
		                          "BCE6FAADA7179E84F3B9CAC2FC632551") > 0);
		BIGNUM *half = BN_new();
		assert_int_equal(BN_rshift1(half, n), 1);
		/* s as asked: low (<= n/2) or high */
		if ((BN_cmp(s, half) > 0) != high_s)
			assert_int_equal(BN_sub(s, n, s), 1);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32), 32);
		assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
		BN_free(s);
		BN_free(n);
		BN_free(half);
		ECDSA_SIG_free(es);
		out = b64(rs, 64);
	} else {
		out = b64(sig, len);
	}
	free(sig);
	return out;
}

static bool never(const unsigned char s[32])
{
	(void)s;
	return false;
}

static void check_alg(EVP_PKEY *priv, const char *alg)
{
	json_t *j = jwk_of(priv);
	const char *why = NULL;
	EVP_PKEY *pub = jwk_public_key(j, &why);
	assert_non_null(pub);
	assert_true(jwk_fits_alg(j, alg));
	const char *input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJzdmMifQ";
	char *sig = sign(priv, alg, input, false);
	assert_true(jws_signature_ok(pub, alg, input, strlen(input), sig, NULL));
	/* Another input, or the signature under another algorithm: no. */
	assert_false(jws_signature_ok(pub, alg, input, strlen(input) - 1, sig,
	                              NULL));
	const char *other = strcmp(alg, "ES256") == 0 ? "RS256" : "ES256";
	assert_false(jws_signature_ok(pub, other, input, strlen(input), sig,
	                              NULL));
	assert_false(jwk_fits_alg(j, other));
	/* '=' padding is a second spelling of the signature: refused. */
	char padded[1024];
	snprintf(padded, sizeof(padded), "%s=", sig);
	assert_false(jws_signature_ok(pub, alg, input, strlen(input), padded,
	                              NULL));
	free(sig);
	if (strcmp(alg, "ES256") == 0) {
		/* Others' signatures count with either s; ours must pass s_ok. */
		char *high = sign(priv, alg, input, true);
		assert_true(jws_signature_ok(pub, alg, input, strlen(input), high,
		                             NULL));
		assert_false(jws_signature_ok(pub, alg, input, strlen(input),
		                              high, never));
		free(high);
	}
	EVP_PKEY_free(pub);
	json_decref(j);
}

static void test_signatures(void **state)
{
	(void)state;
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	assert_non_null(ec);
	assert_non_null(rsa);
	check_alg(ec, "ES256");
	check_alg(rsa, "RS256");
	check_alg(rsa, "PS256");
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void test_parse(void **state)
{
	(void)state;
	struct jws j;
	/* {"alg":"ES256"} . {"a":1} . sig */
	const char *ok = "eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln";
	assert_int_equal(jws_parse(ok, 1024, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j.header, "alg")),
	                    "ES256");
	assert_int_equal(json_integer_value(json_object_get(j.payload, "a")), 1);
	assert_int_equal(j.signed_len, strlen(ok) - strlen(".c2ln"));
	assert_string_equal(j.sig_b64, "c2ln");
	jws_clear(&j);
	const char *bad[] = {
		"eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.",          /* no signature */
		"eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln.c2ln", /* four parts */
		"eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ",           /* two parts */
		"WzFd.eyJhIjoxfQ.c2ln",                      /* header [1] */
		"eyJhIjoxLCJhIjoyfQ.eyJhIjoxfQ.c2ln",        /* a twice */
		"!!!.eyJhIjoxfQ.c2ln",                       /* not base64url */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(jws_parse(bad[i], 1024, &j), -1);
	assert_int_equal(jws_parse(ok, strlen(ok) - 1, &j), -1); /* too long */
}

static void test_jwks(void **state)
{
	(void)state;
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	json_t *k = jwk_of(ec);
	json_t *doc = json_pack("{s:[O]}", "keys", k);
	char *text = json_dumps(doc, 0);
	assert_null(jwks_check(text));
	free(text);
	/* A private member: refused, whatever else is right. */
	json_object_set_new(k, "d", json_string("AAAA"));
	text = json_dumps(doc, 0);
	assert_string_equal(jwks_check(text), "a key holds a private member: "
	                                      "register the public key only");
	free(text);
	json_decref(doc);
	json_decref(k);
	EVP_PKEY_free(ec);
	assert_non_null(jwks_check("[]"));
	assert_non_null(jwks_check("{\"keys\": [{\"kty\": \"oct\", "
	                           "\"k\": \"AAAA\"}]}"));
	assert_non_null(jwks_check("{\"keys\": [{\"kty\": \"EC\"}]}"));
	assert_false(jws_foreign_alg("none"));
	assert_false(jws_foreign_alg("HS256"));
	assert_false(jws_foreign_alg(NULL));
	assert_true(jws_foreign_alg("PS256"));
}

/* RFC 7638 section 3.1's example, and members beyond the required ones
 * (kid, alg, use) left out of the thumbprint. */
static void test_thumbprint(void **state)
{
	(void)state;
	json_t *k = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n",
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86z"
	    "wu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5Js"
	    "GY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
	    "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
	    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
	    "Cur-kEgU8awapJzKnqDKgw",
	    "e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
	char *t = jwk_thumbprint(k);
	assert_string_equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	free(t);
	json_object_del(k, "e");
	assert_null(jwk_thumbprint(k)); /* a required member missing */
	json_decref(k);
	json_t *oct = json_pack("{s:s, s:s}", "kty", "oct", "k", "AAAA");
	assert_null(jwk_thumbprint(oct));
	json_decref(oct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_jwks),
		cmocka_unit_test(test_thumbprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
